/*
 * aws.h - a context for signed AWS requests: configuration (profile,
 * region, per-service endpoints), credentials with refresh, the HTTP
 * client, SigV4 signing of every attempt, Bedrock API keys (bearer), and
 * AWS error responses turned into struct bb_error.
 *
 *   struct bb_aws_opts o = { .profile = p, .region = r };
 *   struct bb_aws *aws = bb_aws_new(&o, &err);
 *   ... bb_s3_*(aws, ...), bb_bedrock_*(aws, ...) ...
 *   bb_aws_free(aws);
 *
 * One struct bb_aws per thread (it owns a struct bb_http, which is not
 * thread-safe). Credentials are resolved lazily on the first signed
 * request and refreshed when they are about to expire; secrets are wiped
 * when freed.
 *
 * Services are named by their signing name: "s3" or "bedrock".
 */
#ifndef BB_AWS_H
#define BB_AWS_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "error.h"
#include "http.h"

struct bb_aws;
struct bb_endpoint;

struct bb_aws_opts {
	const char *profile;               /* --profile; NULL: AWS_PROFILE... */
	const char *region;                /* --region; NULL: AWS_REGION... */
	const char *endpoint_url;          /* --endpoint-url: every service */
	const char *endpoint_url_s3;       /* per-service override (wins over */
	const char *endpoint_url_bedrock;  /* endpoint_url) */
	const char *ca_bundle;             /* NULL: config's ca_bundle, AWS_CA_BUNDLE */
	const char *trace;                 /* HTTP trace file, "-" stderr, NULL none */
	int max_attempts;                  /* 0: config's max_attempts, else 5 */
};

/* Create a context; NULL on failure (err: kind BB_ERR_USAGE for a bad
 * configuration, e.g. an unknown profile). A missing region is reported
 * only when a request needs one. */
struct bb_aws *bb_aws_new(const struct bb_aws_opts *opts, struct bb_error *err);
/* Free the context (wipes credentials and the bearer token). NULL is ok. */
void bb_aws_free(struct bb_aws *aws);

/*
 * Resolve now what a request to `service` will need - the region, the
 * endpoint and the credentials (or the Bedrock bearer token) - so that a
 * program can stop with a configuration error before it does anything,
 * rather than fail (or retry) on every item. 0, or -1 with err naming the
 * source that failed (kind BB_ERR_AUTH or BB_ERR_USAGE).
 */
int bb_aws_ready(struct bb_aws *aws, const char *service, struct bb_error *err);

/* The HTTP client (for bb_http_multi_new). */
struct bb_http *bb_aws_http(struct bb_aws *aws);
/* The region, or NULL (err: how to set one). */
const char *bb_aws_region(struct bb_aws *aws, struct bb_error *err);
/* The resolved endpoint of "s3" or "bedrock" (lives as long as aws), or
 * NULL (err). */
const struct bb_endpoint *bb_aws_endpoint(struct bb_aws *aws, const char *service,
    struct bb_error *err);
/* Append the base URL of a service ("https://bedrock.us-east-1.amazonaws.com",
 * no trailing '/') to out. */
int bb_aws_service_url(struct bb_aws *aws, const char *service, struct bb_buf *out,
    struct bb_error *err);
/* 1 when Bedrock calls use a bearer token (AWS_BEARER_TOKEN_BEDROCK). */
int bb_aws_bearer(const struct bb_aws *aws);
/* Tests: sign with this clock instead of time(NULL) (0: real clock). */
void bb_aws_set_clock(struct bb_aws *aws, time_t t);

/* ---- requests ---- */

/* How the payload enters the signature (x-amz-content-sha256 for S3). */
enum bb_aws_payload {
	BB_AWS_PAYLOAD_SHA256 = 0,   /* hash req->body (in memory; none = empty) */
	BB_AWS_PAYLOAD_UNSIGNED,     /* UNSIGNED-PAYLOAD (S3, streaming bodies) */
	BB_AWS_PAYLOAD_HEX,          /* a precomputed lower-case hex SHA-256 */
};

/*
 * Details of an AWS error response, for callers that act on the code.
 * code: the AWS error code ("NoSuchKey", "ThrottlingException", or the
 * status as text when the response named none; "" when there was no
 * response at all). region: the bucket's region when S3 said the request
 * went to the wrong one (x-amz-bucket-region), else "".
 */
struct bb_aws_error {
	long status;
	char code[96];
	char request_id[96];
	char region[48];
};
void bb_aws_error_clear(struct bb_aws_error *ae);

/*
 * The signing state of one request in flight: it is the prepare_ctx of the
 * request and must outlive it (bb_http_do or the multi's done callback).
 * bb_aws_sign_setup() fills it and hooks it into req (prepare/prepare_ctx):
 * every attempt is then signed with a fresh date and current credentials,
 * or given the bearer token (bedrock). It adds "host"-independent headers
 * itself (X-Amz-Date, X-Amz-Security-Token, x-amz-content-sha256 for S3,
 * Authorization); the caller sets method, url, body and other headers.
 */
struct bb_aws_sign {
	struct bb_aws *aws;
	const char *service;           /* "s3" or "bedrock" (static string) */
	char payload_hash[72];         /* hex or "UNSIGNED-PAYLOAD" */
};
int bb_aws_sign_setup(struct bb_aws *aws, const char *service, struct bb_http_req *req,
    enum bb_aws_payload mode, const char *hex, struct bb_aws_sign *sign,
    struct bb_error *err);

/*
 * Send a request (signed as bb_aws_sign_setup does; retries by the HTTP
 * layer). Returns 0 for a 2xx response, -1 otherwise: no response (kind
 * BB_ERR_NETWORK), or an error response turned into err by
 * bb_aws_check_response(). resp is filled in both cases (the caller
 * releases it). ae may be NULL.
 */
int bb_aws_request(struct bb_aws *aws, const char *service, struct bb_http_req *req,
    enum bb_aws_payload mode, const char *hex, struct bb_http_resp *resp,
    struct bb_aws_error *ae, struct bb_error *err);

/*
 * Interpret a response: 0 for 2xx (for "s3", unless the body is an
 * <Error> document); -1 for anything else with err set to
 * "<what>: <Code>: <Message> (HTTP <status>)", the remote text escaped.
 * The response is parsed and classified by awserror.h: kind
 * BB_ERR_NOTFOUND or BB_ERR_AUTH for those classes (404, NoSuchKey,
 * ResourceNotFoundException...; 401, 403 and the credential and signature
 * codes), BB_ERR_REMOTE otherwise. The S3 wrong-region case (301/400 with
 * x-amz-bucket-region or <Region>) names the right region, kind
 * BB_ERR_USAGE. `what` (may be NULL) says what was attempted
 * ("PUT s3://b/k").
 */
int bb_aws_check_response(const char *service, const char *what,
    const struct bb_http_resp *resp, struct bb_aws_error *ae, struct bb_error *err);

/* 1 for errors worth retrying later: no response at all (status 0), or
 * the throttling and transient classes of bb_awserror_classify() (429,
 * 408, 500, 502, 503, 504, SlowDown, ThrottlingException...). */
int bb_aws_error_retryable(const struct bb_aws_error *ae);
/* 1 when a failed call (its ae and err) is worth making again later: the
 * network, throttling, a transient or 5xx answer; never when err says the
 * configuration is at fault (kind BB_ERR_USAGE or BB_ERR_AUTH: a server
 * certificate not trusted, credentials that cannot be had), which no
 * amount of waiting mends. */
int bb_aws_failure_transient(const struct bb_aws_error *ae, const struct bb_error *err);

/* ---- URL helpers ---- */

/* Percent-encode s[0..n) for a URL path or query: unreserved characters
 * (A-Z a-z 0-9 - . _ ~) are kept, '/' too when keep_slash, everything
 * else becomes %XX (upper-case hex). Appends to out. The same encoding as
 * the signer's (bb_sigv4_uri_encode), so URLs and signatures agree. */
int bb_aws_uri_encode(struct bb_buf *out, const char *s, size_t n, int keep_slash);
/* Decode %XX escapes (and '+' as a space when plus_space) into out; -1
 * (errno EINVAL) on a malformed escape. */
int bb_aws_uri_decode(struct bb_buf *out, const char *s, size_t n, int plus_space);

/* Building a query string: pairs "k=v" joined by '&', both encoded. */
struct bb_aws_query {
	struct bb_buf *out;
	int n;
};
/* Start adding to out (which may already hold text: the first pair is
 * preceded by nothing, the next ones by '&'). */
void bb_aws_query_init(struct bb_aws_query *q, struct bb_buf *out);
/* Add key=value; a NULL value adds nothing (and succeeds). */
int bb_aws_query_add(struct bb_aws_query *q, const char *key, const char *value);

/* ---- time ---- */

/* Parse an RFC 3339 / ISO 8601 time ("2024-08-01T12:00:00Z",
 * "2024-08-01T12:00:00.123+02:00") into epoch seconds, the fraction kept;
 * the form is bb_creds_parse_time()'s, and a day past the end of its
 * month is refused. 0 or -1. */
int bb_aws_time_parse(const char *s, double *epoch);
/* Format epoch seconds as "2024-08-01T12:00:00Z" into out (21 bytes). */
void bb_aws_time_format(double epoch, char out[21]);

#endif
