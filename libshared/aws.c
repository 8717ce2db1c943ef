/* aws.c - signed AWS requests; see aws.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "aws.h"
#include "awserror.h"
#include "awsconfig.h"
#include "buf.h"
#include "creds.h"
#include "hash.h"
#include "error.h"
#include "http.h"
#include "msg.h"
#include "sigv4.h"

/* ---- URL helpers ---- */

int
bb_aws_uri_encode(struct bb_buf *out, const char *s, size_t n, int keep_slash)
{
	return bb_sigv4_uri_encode(out, s, n, keep_slash);
}

int
bb_aws_uri_decode(struct bb_buf *out, const char *s, size_t n, int plus_space)
{
	size_t i;
	unsigned char byte;

	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (n - i < 3 || bb_hex_decode(s + i + 1, 2, &byte, 1) < 0) {
				errno = EINVAL;
				return -1;
			}
			c = (char)byte;
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (bb_buf_addc(out, c) < 0)
			return -1;
	}
	if (out->data == NULL && bb_buf_grow(out, 0) < 0)
		return -1;
	return 0;
}

void
bb_aws_query_init(struct bb_aws_query *q, struct bb_buf *out)
{
	q->out = out;
	q->n = 0;
}

int
bb_aws_query_add(struct bb_aws_query *q, const char *key, const char *value)
{
	if (value == NULL)
		return 0;
	if ((q->n > 0 && bb_buf_addc(q->out, '&') < 0) ||
	    bb_aws_uri_encode(q->out, key, strlen(key), 0) < 0 ||
	    bb_buf_addc(q->out, '=') < 0 ||
	    bb_aws_uri_encode(q->out, value, strlen(value), 0) < 0)
		return -1;
	q->n++;
	return 0;
}

/* ---- time ---- */

int
bb_aws_time_parse(const char *s, double *epoch)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	double frac = 0, scale = 0.1;
	const char *p;
	time_t t;
	int mo, d;

	/* bb_creds_parse_time checks the form and applies the offset; it lets
	 * timegm() carry a day past the month's end over, which is refused
	 * here. It keeps whole seconds: the fraction is added after. */
	if (bb_creds_parse_time(s, &t) != 0)
		return -1;
	mo = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (d > mdays[mo - 1])
		return -1;
	p = s + 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	*epoch = (double)t + frac;
	return 0;
}

void
bb_aws_time_format(double epoch, char out[21])
{
	time_t t = (time_t)epoch;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- error responses: parsed and classified by awserror.h ---- */

void
bb_aws_error_clear(struct bb_aws_error *ae)
{
	if (ae)
		memset(ae, 0, sizeof(*ae));
}

/* Copy s into dst (cap bytes), cut when longer (awserror.h's fields are
 * larger than struct bb_aws_error's). */
static void
copy_str(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* A status awserror.c has no name for, and its code: see
 * bb_aws_check_response. */
#define NAMELESS_STATUS 599
#define NAMELESS_CODE "599"

int
bb_aws_check_response(const char *service, const char *what,
    const struct bb_http_resp *resp, struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_aws_error local;
	struct bb_awserror e, bare;
	struct bb_buf code = BB_BUF_INIT, msg = BB_BUF_INIT;
	enum bb_error_kind kind;

	if (ae == NULL)
		ae = &local;
	bb_aws_error_clear(ae);
	ae->status = resp->status;
	/* A 2xx is a success, except S3's 200-with-<Error>
	 * (CompleteMultipartUpload, CopyObject). */
	if (resp->status >= 200 && resp->status < 300 &&
	    (service == NULL || strcmp(service, "s3") != 0))
		return 0;
	if (bb_awserror_from_resp(&e, resp) == 0)
		return 0;
	copy_str(ae->request_id, sizeof(ae->request_id), e.request_id);
	copy_str(ae->region, sizeof(ae->region), e.region);
	/*
	 * ae->code is the status as text ("404") when the response named no
	 * code, where awserror.c names the status ("NotFound"). To tell the
	 * two apart, parse again as if the status were one it has no name
	 * for: a code that is still there came from the response.
	 */
	bb_awserror_parse(&bare, NAMELESS_STATUS, &resp->headers, resp->body.data,
	    resp->body.len);
	if (resp->status != 0 && strcmp(bare.code, NAMELESS_CODE) == 0)
		snprintf(ae->code, sizeof(ae->code), "%ld", resp->status);
	else
		copy_str(ae->code, sizeof(ae->code), e.code);

	bb_msg_escape(&code, ae->code, strlen(ae->code));
	bb_msg_escape(&msg, e.message, strlen(e.message));
	if (ae->region[0] && (resp->status == 301 || resp->status == 400 ||
	    strcmp(ae->code, "PermanentRedirect") == 0 ||
	    strcmp(ae->code, "AuthorizationHeaderMalformed") == 0)) {
		bb_buf_reset(&msg);
		bb_msg_escape(&msg, ae->region, strlen(ae->region));
		bb_error_set(err, BB_ERR_USAGE,
		    "%s%s%s: the bucket is in region '%s': use --region %s (HTTP %ld)",
		    what ? what : "", what ? ": " : "", bb_buf_str(&code), bb_buf_str(&msg),
		    bb_buf_str(&msg), resp->status);
	} else {
		kind = e.cls == BB_AWSERR_AUTH ? BB_ERR_AUTH :
		    e.cls == BB_AWSERR_NOTFOUND ? BB_ERR_NOTFOUND : BB_ERR_REMOTE;
		bb_error_set(err, kind, "%s%s%s%s%s (HTTP %ld)", what ? what : "",
		    what ? ": " : "", bb_buf_str(&code), msg.len ? ": " : "", bb_buf_str(&msg),
		    resp->status);
	}
	bb_buf_release(&code);
	bb_buf_release(&msg);
	return -1;
}

int
bb_aws_error_retryable(const struct bb_aws_error *ae)
{
	enum bb_awserror_class cls;

	if (ae == NULL)
		return 0;
	if (ae->status == 0)            /* no response at all */
		return 1;
	cls = bb_awserror_classify(ae->code, ae->status);
	return cls == BB_AWSERR_THROTTLING || cls == BB_AWSERR_TRANSIENT;
}

int
bb_aws_failure_transient(const struct bb_aws_error *ae, const struct bb_error *err)
{
	if (err->kind == BB_ERR_USAGE || err->kind == BB_ERR_AUTH)
		return 0;
	return err->kind == BB_ERR_NETWORK || bb_aws_error_retryable(ae) ||
	    (ae->status >= 500 && ae->status < 600);
}

/* ---- the context ---- */

struct bb_aws {
	struct bb_config cfg;
	struct bb_creds_provider *creds;
	struct bb_http *http;
	char *endpoint_url;
	char *endpoint_url_s3;
	char *endpoint_url_bedrock;
	struct bb_endpoint ep_s3;
	struct bb_endpoint ep_bedrock;
	int have_s3, have_bedrock;
	time_t clock;
};

static int
dup_opt(char **dst, const char *s)
{
	*dst = NULL;
	if (s == NULL)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -1;
}

struct bb_aws *
bb_aws_new(const struct bb_aws_opts *o, struct bb_error *err)
{
	struct bb_aws_opts none;
	struct bb_config_opts co;
	struct bb_creds_opts cro;
	struct bb_http_opts ho;
	struct bb_aws *aws;

	if (o == NULL) {
		memset(&none, 0, sizeof(none));
		o = &none;
	}
	aws = calloc(1, sizeof(*aws));
	if (aws == NULL) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		return NULL;
	}
	bb_endpoint_init(&aws->ep_s3);
	bb_endpoint_init(&aws->ep_bedrock);
	memset(&co, 0, sizeof(co));
	co.profile = o->profile;
	co.region = o->region;
	if (bb_config_load(&aws->cfg, &co, err) < 0) {
		free(aws);
		return NULL;
	}
	if (dup_opt(&aws->endpoint_url, o->endpoint_url) < 0 ||
	    dup_opt(&aws->endpoint_url_s3, o->endpoint_url_s3) < 0 ||
	    dup_opt(&aws->endpoint_url_bedrock, o->endpoint_url_bedrock) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto fail;
	}
	memset(&cro, 0, sizeof(cro));
	cro.ca_bundle = o->ca_bundle;
	aws->creds = bb_creds_provider_new(&aws->cfg, &cro, err);
	if (aws->creds == NULL)
		goto fail;
	memset(&ho, 0, sizeof(ho));
	ho.ca_bundle = o->ca_bundle ? o->ca_bundle : aws->cfg.ca_bundle;
	ho.trace_path = o->trace;
	ho.max_attempts = o->max_attempts > 0 ? o->max_attempts : aws->cfg.max_attempts;
	aws->http = bb_http_new(&ho, err);
	if (aws->http == NULL)
		goto fail;
	return aws;
fail:
	bb_aws_free(aws);
	return NULL;
}

void
bb_aws_free(struct bb_aws *aws)
{
	if (aws == NULL)
		return;
	bb_http_free(aws->http);
	bb_creds_provider_free(aws->creds);
	bb_endpoint_release(&aws->ep_s3);
	bb_endpoint_release(&aws->ep_bedrock);
	free(aws->endpoint_url);
	free(aws->endpoint_url_s3);
	free(aws->endpoint_url_bedrock);
	bb_config_release(&aws->cfg);
	free(aws);
}

struct bb_http *
bb_aws_http(struct bb_aws *aws)
{
	return aws->http;
}

const char *
bb_aws_region(struct bb_aws *aws, struct bb_error *err)
{
	return bb_config_region(&aws->cfg, err);
}

void
bb_aws_set_clock(struct bb_aws *aws, time_t t)
{
	aws->clock = t;
	bb_creds_provider_set_clock(aws->creds, t);
}

int
bb_aws_bearer(const struct bb_aws *aws)
{
	return bb_creds_bearer(aws->creds, "bedrock") != NULL;
}

const struct bb_endpoint *
bb_aws_endpoint(struct bb_aws *aws, const char *service, struct bb_error *err)
{
	struct bb_endpoint *ep;
	const char *explicit_url;
	int *have;

	if (strcmp(service, "s3") == 0) {
		ep = &aws->ep_s3;
		have = &aws->have_s3;
		explicit_url = aws->endpoint_url_s3 ? aws->endpoint_url_s3 : aws->endpoint_url;
	} else if (strcmp(service, "bedrock") == 0) {
		ep = &aws->ep_bedrock;
		have = &aws->have_bedrock;
		explicit_url = aws->endpoint_url_bedrock ? aws->endpoint_url_bedrock :
		    aws->endpoint_url;
	} else {
		bb_error_set(err, BB_ERR_USAGE, "unknown AWS service '%s'", service);
		return NULL;
	}
	if (!*have) {
		if (bb_config_endpoint(&aws->cfg, service, explicit_url, ep, err) < 0)
			return NULL;
		*have = 1;
	}
	return ep;
}

int
bb_aws_ready(struct bb_aws *aws, const char *service, struct bb_error *err)
{
	struct bb_auth auth;
	int rc = -1;

	memset(&auth, 0, sizeof(auth));
	bb_creds_init(&auth.creds);
	if (bb_aws_endpoint(aws, service, err) == NULL)
		goto out;
	if (bb_config_region(&aws->cfg, err) == NULL) {
		if (err)
			err->kind = BB_ERR_USAGE;
		goto out;
	}
	if (bb_creds_auth(aws->creds, service, &auth, err) < 0) {
		if (err && err->kind != BB_ERR_AUTH)
			err->kind = BB_ERR_USAGE;
		goto out;
	}
	rc = 0;
out:
	bb_auth_release(&auth);
	return rc;
}

int
bb_aws_service_url(struct bb_aws *aws, const char *service, struct bb_buf *out,
    struct bb_error *err)
{
	const struct bb_endpoint *ep = bb_aws_endpoint(aws, service, err);

	if (ep == NULL)
		return -1;
	if (bb_buf_adds(out, ep->url) < 0)
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	return 0;
}

/* The http prepare callback: authenticate this attempt. */
static int
aws_prepare(struct bb_http_req *req, int attempt, void *ctx, struct bb_error *err)
{
	struct bb_aws_sign *s = ctx;
	struct bb_aws *aws = s->aws;
	struct bb_auth auth;
	struct bb_sigv4_creds sc;
	struct bb_sigv4_params p;
	struct bb_sigv4_request q;
	struct bb_sigv4_result r;
	struct bb_buf bearer = BB_BUF_INIT;
	const char *region;
	int rc = -1;

	(void)attempt;
	memset(&auth, 0, sizeof(auth));
	bb_creds_init(&auth.creds);
	bb_sigv4_result_init(&r);
	if (bb_creds_auth(aws->creds, s->service, &auth, err) < 0)
		goto out;
	if (auth.kind == BB_AUTH_BEARER) {
		bb_http_headers_del(&req->headers, "X-Amz-Date");
		bb_http_headers_del(&req->headers, "X-Amz-Security-Token");
		if (bb_buf_adds(&bearer, "Bearer ") < 0 || bb_buf_adds(&bearer, auth.bearer) < 0 ||
		    bb_http_headers_set(&req->headers, "Authorization", bearer.data) < 0) {
			bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
			goto out;
		}
		rc = 0;
		goto out;
	}
	region = bb_config_region(&aws->cfg, err);
	if (region == NULL)
		goto out;
	sc.access_key = auth.creds.access_key_id;
	sc.secret_key = auth.creds.secret_access_key;
	sc.token = auth.creds.session_token;
	memset(&p, 0, sizeof(p));
	p.creds = &sc;
	p.region = region;
	p.service = s->service;
	p.now = aws->clock ? aws->clock : time(NULL);
	p.flags = strcmp(s->service, "s3") == 0 ? BB_SIGV4_S3 : 0;
	q.method = req->method;
	q.url = req->url;
	q.headers = &req->headers;
	q.payload_hash = s->payload_hash;
	bb_http_headers_del(&req->headers, "Authorization");
	if (bb_sigv4_sign(&q, &p, &r, err) < 0)
		goto out;
	if (bb_sigv4_apply(&r, &req->headers) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (bearer.data)
		OPENSSL_cleanse(bearer.data, bearer.len);
	bb_buf_release(&bearer);
	bb_sigv4_result_release(&r);
	bb_auth_release(&auth);
	return rc;
}

int
bb_aws_sign_setup(struct bb_aws *aws, const char *service, struct bb_http_req *req,
    enum bb_aws_payload mode, const char *hex, struct bb_aws_sign *sign,
    struct bb_error *err)
{
	memset(sign, 0, sizeof(*sign));
	sign->aws = aws;
	if (strcmp(service, "s3") == 0)
		sign->service = "s3";
	else if (strcmp(service, "bedrock") == 0)
		sign->service = "bedrock";
	else
		return bb_error_set(err, BB_ERR_USAGE, "unknown AWS service '%s'", service);
	switch (mode) {
	case BB_AWS_PAYLOAD_UNSIGNED:
		snprintf(sign->payload_hash, sizeof(sign->payload_hash), "%s",
		    BB_SIGV4_UNSIGNED_PAYLOAD);
		break;
	case BB_AWS_PAYLOAD_HEX:
		if (hex == NULL || strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
			return bb_error_set(err, BB_ERR_USAGE, "bad payload hash");
		memcpy(sign->payload_hash, hex, 65);
		break;
	default:
		if (req->read != NULL)
			return bb_error_set(err, BB_ERR_USAGE,
			    "a streaming body needs a precomputed or unsigned payload hash");
		if (bb_sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0,
		    sign->payload_hash) < 0)
			return bb_error_set(err, BB_ERR_SYSTEM, "hashing failed");
		break;
	}
	req->prepare = aws_prepare;
	req->prepare_ctx = sign;
	return 0;
}

int
bb_aws_request(struct bb_aws *aws, const char *service, struct bb_http_req *req,
    enum bb_aws_payload mode, const char *hex, struct bb_http_resp *resp,
    struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_aws_sign sign;
	int rc;

	bb_aws_error_clear(ae);
	if (bb_aws_sign_setup(aws, service, req, mode, hex, &sign, err) < 0)
		return -1;
	rc = bb_http_do(aws->http, req, resp, err);
	req->prepare = NULL;
	req->prepare_ctx = NULL;
	if (rc < 0)
		return -1;
	return bb_aws_check_response(service, NULL, resp, ae, err);
}
