/*
 * fuzz-sigv4.c - the SigV4 verifier bb-emu runs on every request
 * (sigv4.h bb_sigv4_verify), and the signer against it.
 *
 * Input: byte 0 holds flags (bits 0-1 the service: s3, bedrock, sts,
 * s3; bit 2 presigned URL; bit 3 session token; bit 4 expected region
 * given to the verifier; bit 5 pass a payload hash). The rest is split on
 * "\n": the method, the path, the query (empty: none), then header
 * fields "Name: value".
 *
 * 1. The request is verified as it is (its own Authorization or
 *    X-Amz-* query, if any) against a fixed key at a fixed time.
 * 2. The same request is signed with that key (headers or presigned
 *    URL) and verified again: when it is something a client could send
 *    (printable path and query, no X-Amz-* fields of its own, a token),
 *    the verifier must accept it; on a mismatch both canonical requests
 *    are printed before the abort.
 */
#include "config.h"

#include <ctype.h>
#include <strings.h>

#include "fuzz.h"
#include "http.h"
#include "sigv4.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define T0 ((time_t)1440938160)   /* 20150830T123600Z */

static const char *const services[4] = { "s3", "bedrock", "sts", "s3" };

struct keys {
	const char *token;
};

static int
lookup(const char *akid, void *ctx, const char **secret, const char **token)
{
	const struct keys *k = ctx;

	if (strcmp(akid, AKID) != 0)
		return -1;
	*secret = SECRET;
	*token = k->token;
	return 0;
}

/* Bytes a client sends in a request target as they are. */
static int
plain(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f || *s == '#')
			return 0;
	return 1;
}

static int
tchars(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return 0;
	return 1;
}

static int
field_value_ok(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < ' ' && *s != '\t') || *s == 0x7f)
			return 0;
	return 1;
}

struct req {
	char *method, *path, *query;
	struct bb_http_headers h;
	int sendable;   /* a client could send it and expect it to verify */
};

static void
parse_req(const char *p, size_t n, struct req *q)
{
	const char *end = p + n, *nl, *colon;
	char *line;
	size_t len;
	int i = 0;

	memset(q, 0, sizeof(*q));
	bb_http_headers_init(&q->h);
	q->sendable = 1;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line = fuzz_strndup(p, len);
		p += len + (nl != NULL);
		if (i == 0)
			q->method = line;
		else if (i == 1)
			q->path = line;
		else if (i == 2)
			q->query = line;
		else {
			colon = strchr(line, ':');
			if (colon != NULL) {
				line[colon - line] = '\0';
				bb_http_headers_add(&q->h, line, colon + 1);
				if (!tchars(line) || !field_value_ok(colon + 1) ||
				    strncasecmp(line, "x-amz-", 6) == 0 ||
				    strcasecmp(line, "authorization") == 0)
					q->sendable = 0;
			}
			free(line);
		}
		i++;
	}
	if (q->method == NULL)
		q->method = fuzz_strndup("GET", 3);
	if (q->path == NULL)
		q->path = fuzz_strndup("/", 1);
	if (q->query != NULL && q->query[0] == '\0') {
		free(q->query);
		q->query = NULL;
	}
	if (!tchars(q->method) || q->path[0] != '/' || !plain(q->path) ||
	    (q->query && (!plain(q->query) || strcasestr(q->query, "x-amz-") != NULL)) ||
	    bb_http_headers_get(&q->h, "Host") == NULL)
		q->sendable = 0;
}

static void
release_req(struct req *q)
{
	free(q->method);
	free(q->path);
	free(q->query);
	bb_http_headers_release(&q->h);
}

static void
sign_and_verify(struct req *q, unsigned flags, const char *service, const char *payload,
    struct keys *k)
{
	struct bb_sigv4_creds creds = { AKID, SECRET, NULL };
	struct bb_sigv4_params sp;
	struct bb_sigv4_request sr;
	struct bb_sigv4_result r;
	struct bb_sigv4_verify_req vq;
	struct bb_sigv4_verify_result v;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf url = BB_BUF_INIT;
	char *vpath = NULL, *qm;
	int st;

	bb_sigv4_result_init(&r);
	bb_sigv4_verify_result_init(&v);
	creds.token = k->token;
	bb_buf_adds(&url, q->path);
	if (q->query)
		bb_buf_addf(&url, "?%s", q->query);
	memset(&sp, 0, sizeof(sp));
	sp.creds = &creds;
	sp.region = "us-east-1";
	sp.service = service;
	sp.now = T0;
	sp.flags = strcmp(service, "s3") == 0 ? BB_SIGV4_S3 : BB_SIGV4_NORMALIZE_PATH;
	if (flags & 4)
		sp.flags |= BB_SIGV4_QUERY;
	sr.method = q->method;
	sr.url = url.data;
	sr.headers = &q->h;
	sr.payload_hash = payload;
	if (bb_sigv4_sign(&sr, &sp, &r, &err) < 0)
		goto out;
	if (flags & 4) {
		vpath = fuzz_strndup(r.url.data, r.url.len);
	} else {
		vpath = fuzz_strndup(url.data, url.len);
		FUZZ_CHECK(bb_sigv4_apply(&r, &q->h) == 0);
	}
	/* the request target as the server receives it */
	qm = strchr(vpath, '?');
	if (qm != NULL)
		*qm++ = '\0';
	memset(&vq, 0, sizeof(vq));
	vq.method = q->method;
	vq.path = vpath;
	vq.query = qm;
	vq.headers = &q->h;
	/* S3: from x-amz-content-sha256 or the query; others: the body's
	 * hash, as bb-emu passes it (the verifier's default for a presigned
	 * URL is UNSIGNED-PAYLOAD, the signer's sha256("")) */
	if (strcmp(service, "s3") == 0)
		vq.payload_hash = NULL;
	else
		vq.payload_hash = payload ? payload : EMPTY_SHA256;
	vq.region = "us-east-1";
	vq.service = service;
	vq.now = T0 + 60;
	vq.lookup = lookup;
	vq.lookup_ctx = k;
	st = bb_sigv4_verify(&vq, &v, &err);
	FUZZ_CHECK(st >= -1);
	if (q->sendable && st != BB_SIGV4_OK) {
		fprintf(stderr, "signed request refused: status %d: %s\n"
		    "--- signer's canonical request:\n%s\n--- verifier's:\n%s\n---\n",
		    st, v.message, bb_buf_str(&r.canonical_request),
		    bb_buf_str(&v.canonical_request));
		FUZZ_CHECK(st == BB_SIGV4_OK);
	}
	if (st == BB_SIGV4_OK)
		FUZZ_CHECK(v.stream.valid && strcmp(v.service, service) == 0);
out:
	free(vpath);
	bb_buf_release(&url);
	bb_sigv4_result_release(&r);
	bb_sigv4_verify_result_release(&v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags = fuzz_byte(data, size, 0);
	const char *service = services[flags & 3];
	const char *payload = (flags & 0x20) ? "UNSIGNED-PAYLOAD" : NULL;
	struct keys k = { (flags & 8) ? TOKEN : NULL };
	struct bb_sigv4_verify_req vq;
	struct bb_sigv4_verify_result v;
	struct bb_error err = BB_ERROR_INIT;
	struct req q;
	int st;

	parse_req((const char *)data + (size > 0), size - (size > 0), &q);
	/* 1. as received */
	bb_sigv4_verify_result_init(&v);
	memset(&vq, 0, sizeof(vq));
	vq.method = q.method;
	vq.path = q.path;
	vq.query = q.query;
	vq.headers = &q.h;
	vq.payload_hash = payload;
	vq.region = (flags & 0x10) ? "us-east-1" : NULL;
	vq.service = (flags & 0x40) ? service : NULL;
	vq.now = T0;
	vq.lookup = lookup;
	vq.lookup_ctx = &k;
	st = bb_sigv4_verify(&vq, &v, &err);
	FUZZ_CHECK(st == -1 || (st >= BB_SIGV4_OK && st <= BB_SIGV4_INVALID_TOKEN));
	FUZZ_CHECK(memchr(v.message, '\0', sizeof(v.message)) != NULL);
	if (st > 0) {
		FUZZ_CHECK(bb_sigv4_status_code(st, v.presigned) != NULL);
		FUZZ_CHECK(bb_sigv4_status_http(st) == 400 || bb_sigv4_status_http(st) == 403);
	}
	bb_sigv4_verify_result_release(&v);
	/* 2. signed here, then verified */
	sign_and_verify(&q, flags, service, payload, &k);
	release_req(&q);
	return 0;
}
