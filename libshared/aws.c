/* aws.c - signed AWS requests; see aws.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "aws.h"
#include "awsconfig.h"
#include "buf.h"
#include "creds.h"
#include "hash.h"
#include "error.h"
#include "http.h"
#include "json.h"
#include "msg.h"
#include "sigv4.h"

/* ---- URL helpers ---- */

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.' || c == '_' || c == '~';
}

int
bb_aws_uri_encode(struct bb_buf *out, const char *s, size_t n, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	char esc[3];

	if (bb_buf_grow(out, n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_unreserved(c) || (keep_slash && c == '/')) {
			if (bb_buf_addc(out, (char)c) < 0)
				return -1;
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		if (bb_buf_add(out, esc, 3) < 0)
			return -1;
	}
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
bb_aws_uri_decode(struct bb_buf *out, const char *s, size_t n, int plus_space)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (n - i < 3) {
				errno = EINVAL;
				return -1;
			}
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0) {
				errno = EINVAL;
				return -1;
			}
			c = (char)(hi << 4 | lo);
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

static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long long
days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
bb_aws_time_parse(const char *s, double *epoch)
{
	int y, mo, d, h, mi, sec, oh, om, sign;
	double frac = 0, scale = 0.1;
	const char *p;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (s == NULL || strlen(s) < 19)
		return -1;
	if (digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &mo) < 0 || s[7] != '-' ||
	    digits(s + 8, 2, &d) < 0 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) < 0 || s[13] != ':' || digits(s + 14, 2, &mi) < 0 ||
	    s[16] != ':' || digits(s + 17, 2, &sec) < 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9') {
			frac += (*p - '0') * scale;
			scale /= 10;
			p++;
		}
	}
	oh = om = 0;
	sign = 1;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh) < 0 || p[3] != ':' || digits(p + 4, 2, &om) < 0 ||
		    oh > 23 || om > 59)
			return -1;
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	*epoch = (double)(days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + sec) +
	    frac - sign * (oh * 3600.0 + om * 60.0);
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

/* ---- error responses ---- */

void
bb_aws_error_clear(struct bb_aws_error *ae)
{
	if (ae)
		memset(ae, 0, sizeof(*ae));
}

static void
copy_str(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* rest-json error type: the part before ':', then after '#'. */
static void
sanitize_type(const char *s, size_t n, char *dst, size_t cap)
{
	const char *c = memchr(s, ':', n), *h;

	if (c)
		n = (size_t)(c - s);
	h = memchr(s, '#', n);
	if (h) {
		n -= (size_t)(h + 1 - s);
		s = h + 1;
	}
	copy_str(dst, cap, s, n);
}

/* Text of the first <tag>...</tag> in an XML body (entities of the five
 * predefined kinds decoded), or -1. Enough for S3 <Error> documents. */
static int
xml_text(const char *body, size_t len, const char *tag, struct bb_buf *out)
{
	char open[64], close[64];
	const char *p, *q, *end = body + len;
	size_t ol, cl;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	ol = strlen(open);
	cl = strlen(close);
	for (p = body; p + ol <= end; p++)
		if (memcmp(p, open, ol) == 0)
			break;
	if (p + ol > end)
		return -1;
	p += ol;
	for (q = p; q + cl <= end; q++)
		if (memcmp(q, close, cl) == 0)
			break;
	if (q + cl > end)
		return -1;
	while (p < q) {
		static const struct { const char *ent; char c; } ents[] = {
			{ "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' },
			{ "&quot;", '"' }, { "&apos;", '\'' },
		};
		size_t i, el = 0;
		char c = *p;
		if (c == '&') {
			for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				el = strlen(ents[i].ent);
				if ((size_t)(q - p) >= el && memcmp(p, ents[i].ent, el) == 0) {
					c = ents[i].c;
					break;
				}
				el = 0;
			}
		}
		if (bb_buf_addc(out, c) < 0)
			return -1;
		p += el ? el : 1;
	}
	if (out->data == NULL && bb_buf_grow(out, 0) < 0)
		return -1;
	return 0;
}

/* 1 when the (S3) body is an XML <Error> document. */
static int
is_xml_error(const char *body, size_t len)
{
	size_t i = 0;
	const char *p;

	while (i < len) {
		while (i < len && isspace((unsigned char)body[i]))
			i++;
		if (i + 5 <= len && memcmp(body + i, "<?xml", 5) == 0) {
			p = memchr(body + i, '>', len - i);
			if (p == NULL)
				return 0;
			i = (size_t)(p - body) + 1;
			continue;
		}
		break;
	}
	return i + 7 <= len && memcmp(body + i, "<Error>", 7) == 0;
}

static enum bb_error_kind
kind_of(long status, const char *code)
{
	static const char *const notfound[] = {
		"NoSuchKey", "NoSuchBucket", "NoSuchUpload", "ResourceNotFoundException", NULL,
	};
	static const char *const auth[] = {
		"AccessDenied", "AccessDeniedException", "SignatureDoesNotMatch",
		"InvalidAccessKeyId", "InvalidSignatureException", "UnrecognizedClientException",
		"InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
		"IncompleteSignature", "MissingAuthenticationToken", "RequestExpired",
		"RequestTimeTooSkewed", "InvalidToken", "TokenRefreshRequired", NULL,
	};
	size_t i;

	for (i = 0; notfound[i]; i++)
		if (strcmp(code, notfound[i]) == 0)
			return BB_ERR_NOTFOUND;
	for (i = 0; auth[i]; i++)
		if (strcmp(code, auth[i]) == 0)
			return BB_ERR_AUTH;
	if (status == 404)
		return BB_ERR_NOTFOUND;
	if (status == 401 || status == 403)
		return BB_ERR_AUTH;
	return BB_ERR_REMOTE;
}

int
bb_aws_check_response(const char *service, const char *what,
    const struct bb_http_resp *resp, struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_aws_error local;
	struct bb_buf msg = BB_BUF_INIT, emsg = BB_BUF_INIT, tmp = BB_BUF_INIT;
	struct bb_json *doc = NULL;
	const struct bb_json *v;
	const char *body = bb_buf_str(&resp->body), *h;
	size_t len = resp->body.len;
	int json_body = 0;

	if (ae == NULL)
		ae = &local;
	bb_aws_error_clear(ae);
	ae->status = resp->status;
	h = bb_http_headers_get(&resp->headers, "x-amzn-requestid");
	if (h == NULL)
		h = bb_http_headers_get(&resp->headers, "x-amz-request-id");
	if (h)
		copy_str(ae->request_id, sizeof(ae->request_id), h, strlen(h));
	h = bb_http_headers_get(&resp->headers, "x-amz-bucket-region");
	if (h)
		copy_str(ae->region, sizeof(ae->region), h, strlen(h));
	if (resp->status >= 200 && resp->status < 300) {
		/* S3's 200-with-<Error> (CompleteMultipartUpload, CopyObject). */
		if (!(service && strcmp(service, "s3") == 0 && is_xml_error(body, len)))
			return 0;
	}

	if (is_xml_error(body, len)) {
		if (xml_text(body, len, "Code", &tmp) == 0)
			copy_str(ae->code, sizeof(ae->code), tmp.data, tmp.len);
		xml_text(body, len, "Message", &msg);
		bb_buf_reset(&tmp);
		if (ae->region[0] == '\0' && xml_text(body, len, "Region", &tmp) == 0)
			copy_str(ae->region, sizeof(ae->region), tmp.data, tmp.len);
	} else if (len > 0 && bb_json_parse(body, len, 0, &doc, NULL) == 0 &&
	    doc->type == BB_JSON_OBJECT) {
		/* botocore's rest-json algorithm (spec section 1.8). */
		json_body = 1;
		v = bb_json_get(doc, "message");
		if (v == NULL || v->type != BB_JSON_STRING)
			v = bb_json_get(doc, "Message");
		if (v && v->type == BB_JSON_STRING)
			bb_buf_add(&msg, v->str, v->len);
		v = bb_json_get(doc, "__type");
		if (v && v->type == BB_JSON_STRING)
			sanitize_type(v->str, v->len, ae->code, sizeof(ae->code));
		v = bb_json_get(doc, "code");
		if (v == NULL || v->type != BB_JSON_STRING)
			v = bb_json_get(doc, "Code");
		if (v && v->type == BB_JSON_STRING)
			sanitize_type(v->str, v->len, ae->code, sizeof(ae->code));
	} else if (len > 0) {
		bb_buf_add(&msg, body, len > 300 ? 300 : len);
	}
	h = bb_http_headers_get(&resp->headers, "x-amzn-errortype");
	if (h)
		sanitize_type(h, strlen(h), ae->code, sizeof(ae->code));
	(void)json_body;
	if (ae->code[0] == '\0') {
		if (resp->status == 0)
			copy_str(ae->code, sizeof(ae->code), "", 0);
		else
			snprintf(ae->code, sizeof(ae->code), "%ld", resp->status);
	}

	if (msg.len == 0 && resp->body.len == 0) {
		/* HEAD and some errors have no body: say what the status means. */
		const char *reason = resp->status == 404 ? "Not Found" :
		    resp->status == 403 ? "Forbidden" : resp->status == 400 ? "Bad Request" :
		    resp->status == 412 ? "Precondition Failed" :
		    resp->status == 301 ? "Moved Permanently" : NULL;
		if (reason)
			bb_buf_adds(&msg, reason);
	}
	bb_msg_escape(&emsg, msg.data ? msg.data : "", msg.len);
	if (ae->region[0] && (resp->status == 301 || resp->status == 400 ||
	    strcmp(ae->code, "PermanentRedirect") == 0 ||
	    strcmp(ae->code, "AuthorizationHeaderMalformed") == 0)) {
		bb_buf_reset(&tmp);
		bb_msg_escape(&tmp, ae->region, strlen(ae->region));
		bb_error_set(err, BB_ERR_USAGE,
		    "%s%s%s: the bucket is in region '%s': use --region %s (HTTP %ld)",
		    what ? what : "", what ? ": " : "", ae->code, bb_buf_str(&tmp),
		    bb_buf_str(&tmp), resp->status);
	} else {
		bb_error_set(err, kind_of(resp->status, ae->code), "%s%s%s%s%s (HTTP %ld)",
		    what ? what : "", what ? ": " : "", ae->code,
		    emsg.len ? ": " : "", bb_buf_str(&emsg), resp->status);
	}
	bb_json_free(doc);
	bb_buf_release(&msg);
	bb_buf_release(&emsg);
	bb_buf_release(&tmp);
	return -1;
}

int
bb_aws_error_retryable(const struct bb_aws_error *ae)
{
	static const char *const codes[] = {
		"Throttling", "ThrottlingException", "ThrottledException",
		"RequestThrottledException", "TooManyRequestsException",
		"ProvisionedThroughputExceededException", "TransactionInProgressException",
		"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
		"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
		"EC2ThrottledException", "RequestTimeout", "RequestTimeoutException",
		"InternalError", "InternalServerException", "InternalFailure",
		"ServiceUnavailable", NULL,
	};
	size_t i;

	if (ae == NULL)
		return 0;
	if (ae->status == 0 || ae->status == 408 || ae->status == 429 || ae->status >= 500)
		return 1;
	for (i = 0; codes[i]; i++)
		if (strcmp(ae->code, codes[i]) == 0)
			return 1;
	return 0;
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
