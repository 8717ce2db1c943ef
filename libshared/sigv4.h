/*
 * sigv4.h - AWS Signature Version 4: signing (Authorization header or
 * presigned query) and verification (for bb-emu), built from the same
 * stages: canonical request -> string to sign -> signature.
 *
 * Two rule sets (STYLE.md "SigV4", BEDROCK.md 1.1 and 4.1):
 *
 *   generic (bedrock, sts, ...)  the path as sent on the wire is
 *       URI-encoded once more: an already percent-encoded path is thus
 *       "double encoded" (a job ARN's %3A becomes %253A in the canonical
 *       request, as botocore does for Bedrock); dot segments and empty
 *       segments are removed only with BB_SIGV4_NORMALIZE_PATH.
 *   S3 (BB_SIGV4_S3)  the path is never normalised and is encoded once:
 *       valid %XX escapes are kept as they are, other bytes outside the
 *       RFC 3986 unreserved set and '/' are escaped; with header signing
 *       an x-amz-content-sha256 header holding the payload hash is added
 *       and signed.
 *
 * Common to both: the query is split on '&', each key and value
 * percent-decoded ('+' stays '+') and re-encoded per RFC 3986, pairs sorted
 * by encoded key then value, a value-less key becomes "key=". Header names
 * are lower-cased, values trimmed with inner whitespace runs (obs-fold line
 * breaks included) collapsed to one space, repeated fields joined with ','
 * in request order. Every header of the list is signed except
 * Authorization and the hop/telemetry fields botocore never signs
 * (User-Agent, Expect, Transfer-Encoding, Connection, X-Amzn-Trace-Id,
 * amz-sdk-invocation-id, amz-sdk-request): a caller that does not want a
 * field signed adds it after signing. Host is signed always (taken from the
 * URL when the list has none, default ports dropped).
 *
 * The clock is the caller's: every function takes the time; nothing here
 * calls time(). Secrets (secret key, the HMAC chain) are wiped with
 * OPENSSL_cleanse as soon as they are used; the derived signing key is kept
 * only where chunk signing needs it (struct bb_sigv4_stream), and wiped by
 * the _release functions.
 *
 * Typical client use, before every attempt of a request (http.h prepare
 * callback; a retry re-signs with a fresh time, replacing the headers the
 * previous attempt added):
 *
 *	struct bb_sigv4_result r;
 *	struct bb_sigv4_params p = { &creds, "us-east-1", "s3", now, BB_SIGV4_S3, 0 };
 *	struct bb_sigv4_request q = { "PUT", url, &req->headers, payload_hex };
 *	bb_sigv4_result_init(&r);
 *	if (bb_sigv4_sign(&q, &p, &r, err) == 0)
 *		for (i = 0; i < r.nadd; i++)
 *			bb_http_headers_set(&req->headers, r.add[i].name, r.add[i].value);
 *	bb_sigv4_result_release(&r);
 *
 * (bb_sigv4_apply() below does that loop.) With BB_SIGV4_QUERY the result
 * is r.url, the presigned URL; r.add then holds only the fields that were
 * signed and must be sent too (Host when absent, X-Amz-Content-SHA256 with
 * BB_SIGV4_CONTENT_SHA256).
 */
#ifndef BB_SIGV4_H
#define BB_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "error.h"
#include "hash.h"
#include "http.h"

#define BB_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define BB_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define BB_SIGV4_STREAMING_PAYLOAD "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define BB_SIGV4_STREAMING_PAYLOAD_TRAILER "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
#define BB_SIGV4_STREAMING_UNSIGNED_TRAILER "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
#define BB_SIGV4_MAX_EXPIRES 604800L      /* presigned URLs: 7 days */
#define BB_SIGV4_MAX_SKEW 900L            /* 15 minutes */

struct bb_sigv4_creds {
	const char *access_key;
	const char *secret_key;
	const char *token;              /* session token, or NULL */
};

enum bb_sigv4_flags {
	BB_SIGV4_S3 = 1 << 0,           /* S3 rules (see above) */
	BB_SIGV4_NORMALIZE_PATH = 1 << 1, /* remove . and .. segments, collapse
					   * '//' (ignored with BB_SIGV4_S3) */
	BB_SIGV4_CONTENT_SHA256 = 1 << 2, /* add and sign x-amz-content-sha256
					   * (implied by S3 header signing) */
	BB_SIGV4_OMIT_TOKEN = 1 << 3,   /* sign without the session token, add
					 * it (unsigned) afterwards */
	BB_SIGV4_QUERY = 1 << 4,        /* presigned URL instead of headers */
	BB_SIGV4_PATH_ENCODE_ALL = 1 << 5, /* force generic path encoding
					    * ('%' -> "%25") even with S3 */
	BB_SIGV4_PATH_ENCODE_ONCE = 1 << 6, /* force S3 path encoding (keep
					     * %XX) for another service */
};

struct bb_sigv4_params {
	const struct bb_sigv4_creds *creds;
	const char *region;
	const char *service;            /* "s3", "bedrock", ... */
	time_t now;                     /* signing time, UTC seconds */
	unsigned flags;                 /* enum bb_sigv4_flags */
	long expires;                   /* BB_SIGV4_QUERY: X-Amz-Expires in
					 * seconds, 1..604800; 0 means 3600 */
};

struct bb_sigv4_request {
	const char *method;             /* "GET", ... (used as given) */
	/* "https://host[:port]/path?query" or origin-form "/path?query"; the
	 * path and query exactly as they go on the wire (already
	 * percent-encoded where the protocol wants it). */
	const char *url;
	/* The request's header fields, read only; may be NULL. Fields the
	 * signer sets itself (X-Amz-Date, Authorization, and the token and
	 * content hash when it adds them) are ignored here, so a request can
	 * be re-signed after a previous attempt added them. */
	const struct bb_http_headers *headers;
	/* Payload hash line: lower-case hex SHA-256 of the body,
	 * UNSIGNED-PAYLOAD or a STREAMING-* value. NULL: the value of an
	 * x-amz-content-sha256 field of the list if there is one (as
	 * botocore), else sha256("") (S3 query signing: UNSIGNED-PAYLOAD). */
	const char *payload_hash;
};

/*
 * What chunk signatures need (awschunked.h): the derived signing key, the
 * request time, the scope and the seed (request) signature. Holds a secret:
 * bb_sigv4_stream_wipe() clears it.
 */
struct bb_sigv4_stream {
	int valid;                      /* 1 when filled */
	unsigned char key[BB_SHA256_LEN];
	char amz_date[17];              /* 20130524T000000Z */
	char scope[160];                /* 20130524/us-east-1/s3/aws4_request */
	char seed[BB_SHA256_HEX];       /* hex signature of the headers */
};
void bb_sigv4_stream_wipe(struct bb_sigv4_stream *s);

struct bb_sigv4_field {
	char *name;
	char *value;
};

#define BB_SIGV4_MAX_ADD 6

struct bb_sigv4_result {
	/* the stages, for tests and for S3-style error messages */
	struct bb_buf canonical_request;
	struct bb_buf string_to_sign;
	struct bb_buf signed_headers;   /* "host;x-amz-date" */
	struct bb_buf scope;            /* "20150830/us-east-1/service/aws4_request" */
	char signature[BB_SHA256_HEX];
	char amz_date[17];
	/* header signing: the fields to set on the request (replacing any of
	 * the same name), in this order: Host (only when the header list had
	 * none), X-Amz-Date, X-Amz-Content-SHA256, X-Amz-Security-Token,
	 * Authorization. */
	struct bb_sigv4_field add[BB_SIGV4_MAX_ADD];
	size_t nadd;
	/* query signing: the presigned URL (the request URL with the X-Amz-*
	 * parameters appended) and those parameters alone, encoded. */
	struct bb_buf url;
	struct bb_buf auth_query;
	/* filled only when the payload hash is STREAMING-AWS4-HMAC-SHA256-*:
	 * the key stays in memory until bb_sigv4_result_release() */
	struct bb_sigv4_stream stream;
};

/* Lifecycle: _init before use, _release frees and wipes (reusable after). */
void bb_sigv4_result_init(struct bb_sigv4_result *r);
void bb_sigv4_result_release(struct bb_sigv4_result *r);

/*
 * Sign a request. Fills every stage of `r` (which must be initialised;
 * previous contents are released first). Returns 0, or -1 with err set
 * (kind BB_ERR_INPUT for a bad URL, missing credentials or region, an
 * out-of-range expiry; BB_ERR_SYSTEM for memory or OpenSSL failures).
 */
int bb_sigv4_sign(const struct bb_sigv4_request *req, const struct bb_sigv4_params *p,
    struct bb_sigv4_result *r, struct bb_error *err);

/*
 * Set the fields of a header-signing result on a header list
 * (bb_http_headers_set for each of r->add). Returns 0 or -1 (ENOMEM).
 */
int bb_sigv4_apply(const struct bb_sigv4_result *r, struct bb_http_headers *h);

/* ---- verification (bb-emu) ---- */

enum bb_sigv4_status {
	BB_SIGV4_OK = 0,
	BB_SIGV4_MISSING_AUTH,          /* no Authorization, no X-Amz-Algorithm:
					 * S3 AccessDenied, Bedrock
					 * MissingAuthenticationTokenException */
	BB_SIGV4_MALFORMED,             /* AuthorizationHeaderMalformed /
					 * AuthorizationQueryParametersError */
	BB_SIGV4_INVALID_ACCESS_KEY,    /* InvalidAccessKeyId */
	BB_SIGV4_SIGNATURE_MISMATCH,    /* SignatureDoesNotMatch */
	BB_SIGV4_TIME_SKEWED,           /* RequestTimeTooSkewed */
	BB_SIGV4_EXPIRED,               /* AccessDenied: Request has expired */
	BB_SIGV4_INVALID_TOKEN,         /* InvalidToken */
};

/* The S3 error code for a status ("SignatureDoesNotMatch", ...);
 * MALFORMED gives AuthorizationQueryParametersError when presigned. */
const char *bb_sigv4_status_code(enum bb_sigv4_status s, int presigned);
/* The HTTP status S3 answers with: 400 for MALFORMED, else 403 (0 for OK). */
int bb_sigv4_status_http(enum bb_sigv4_status s);

/*
 * Secret lookup for an access key: return 0 and point *secret at the
 * secret key and *token at the session token the key requires (NULL: none)
 * - both must stay valid until bb_sigv4_verify returns - or -1 when the
 * key is unknown.
 */
typedef int (*bb_sigv4_lookup_fn)(const char *access_key, void *ctx,
    const char **secret, const char **token);

struct bb_sigv4_verify_req {
	const char *method;
	const char *path;               /* raw path as received ("/b/k%20x") */
	const char *query;              /* raw query without '?', or NULL */
	const struct bb_http_headers *headers;
	/* The payload hash to use in the canonical request. NULL: the
	 * x-amz-content-sha256 header (for S3 it is required with header
	 * auth), else UNSIGNED-PAYLOAD for a presigned URL, else sha256("").
	 * For Bedrock pass the hex SHA-256 of the received body. */
	const char *payload_hash;
	const char *region;             /* expected region; NULL: any */
	const char *service;            /* expected service; NULL: any */
	time_t now;
	long max_skew;                  /* seconds; 0: 900 */
	bb_sigv4_lookup_fn lookup;
	void *lookup_ctx;
};

struct bb_sigv4_verify_result {
	enum bb_sigv4_status status;
	int presigned;                  /* 1: query authentication */
	char message[256];              /* S3-style explanation */
	char access_key[129];
	char region[64];
	char service[64];               /* from the credential scope */
	char payload_hash[80];          /* the hash that was signed */
	struct bb_buf canonical_request; /* what the server computed */
	struct bb_buf string_to_sign;
	struct bb_sigv4_stream stream;  /* key, date, scope, seed signature */
};

/* _init before use; _release frees the buffers, wipes the stream key and
 * zeroes the struct (reusable after _init). */
void bb_sigv4_verify_result_init(struct bb_sigv4_verify_result *v);
void bb_sigv4_verify_result_release(struct bb_sigv4_verify_result *v);

/*
 * Verify a received request. Returns the status (also in v->status), or
 * -1 on a system failure (err set). The service in the scope picks the
 * rules: "s3" gets S3 rules, any other service generic ones with the path
 * normalised and encoded again (Bedrock's double encoding). Checks, in
 * order: presence, syntax, algorithm, credential scope (date = X-Amz-Date
 * date, region, service, "aws4_request"), X-Amz-Date, presigned expiry
 * (X-Amz-Expires 1..604800; expired after date + expires) or clock skew
 * (|now - date| > max_skew), access key, session token, signed headers
 * (host required; x-amz-content-sha256 too for S3 header auth), then the
 * signature (constant-time comparison). On OK v->stream holds what chunk
 * verification needs.
 */
int bb_sigv4_verify(const struct bb_sigv4_verify_req *req, struct bb_sigv4_verify_result *v,
    struct bb_error *err);

/* ---- building blocks (exposed for awschunked and the tests) ---- */

/* "20150830T123600Z" for t. */
void bb_sigv4_format_date(time_t t, char out[17]);
/* Parse "20150830T123600Z" (also "2015-08-30T12:36:00Z"); -1 if invalid. */
int bb_sigv4_parse_date(const char *s, time_t *t);
/* The signing key HMAC chain for (secret, yyyymmdd, region, service). */
int bb_sigv4_signing_key(const char *secret, const char *date8, const char *region,
    const char *service, unsigned char key[BB_SHA256_LEN]);
/* Append s[0..n) percent-encoded per RFC 3986 (upper-case hex); '/' kept
 * when keep_slash. */
int bb_sigv4_uri_encode(struct bb_buf *out, const char *s, size_t n, int keep_slash);
/* hex(HMAC-SHA256(key, msg)) into out. */
int bb_sigv4_hmac_hex(const unsigned char key[BB_SHA256_LEN], const char *msg, size_t n,
    char out[BB_SHA256_HEX]);

#endif
