/*
 * unit-sigv4.c - the verifier (every outcome, presign round trip), Bedrock
 * double encoding against botocore's captured requests, the aws-chunked
 * encoder against the AWS example and the decoder fed in pieces, with
 * corruptions detected.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_tree.h>

#include "awschunked.h"
#include "hash.h"
#include "sigv4.h"
#include "tap.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DOC_AKID "AKIAIOSFODNN7EXAMPLE"
#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

/* ---- header lists by hand (the test does not need http.c) ---- */

static void
hl_add(struct bb_http_headers *h, const char *name, const char *value)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 8;
		h->v = realloc(h->v, h->cap * sizeof(*h->v));
		if (h->v == NULL)
			abort();
	}
	h->v[h->n].name = strdup(name);
	h->v[h->n].value = strdup(value);
	h->n++;
}

static void
hl_set(struct bb_http_headers *h, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->v[i].name, name) == 0) {
			free(h->v[i].value);
			h->v[i].value = strdup(value);
			return;
		}
	hl_add(h, name, value);
}

static const char *
hl_get(const struct bb_http_headers *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->v[i].name, name) == 0)
			return h->v[i].value;
	return "";
}

static void
hl_del(struct bb_http_headers *h, const char *name)
{
	size_t i, j;

	for (i = j = 0; i < h->n; i++) {
		if (strcasecmp(h->v[i].name, name) == 0) {
			free(h->v[i].name);
			free(h->v[i].value);
		} else {
			h->v[j++] = h->v[i];
		}
	}
	h->n = j;
}

static void
hl_free(struct bb_http_headers *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].value);
	}
	free(h->v);
	memset(h, 0, sizeof(*h));
}

static void
hl_apply(struct bb_http_headers *h, const struct bb_sigv4_result *r)
{
	size_t i;

	for (i = 0; i < r->nadd; i++)
		hl_set(h, r->add[i].name, r->add[i].value);
}

/* ---- a key store for the verifier ---- */

struct keys {
	const char *akid, *secret, *token;
};

static int
lookup(const char *akid, void *ctx, const char **secret, const char **token)
{
	const struct keys *k = ctx;

	if (strcmp(akid, k->akid) != 0)
		return -1;
	*secret = k->secret;
	*token = k->token;
	return 0;
}

/* Split an origin-form or absolute URL into path and query for the
 * verifier (pointers into a copy the caller frees). */
static char *
split_url(const char *url, const char **path, const char **query)
{
	char *u = strdup(url), *p = u, *q;

	if (strncmp(p, "http", 4) == 0 && (p = strstr(p, "://")) != NULL)
		p = strchr(p + 3, '/');
	if (p == NULL)
		p = u + strlen(u);
	q = strchr(p, '?');
	if (q)
		*q++ = '\0';
	*path = p;
	*query = q;
	return u;
}

/* ---- the verifier ---- */

static const time_t T0 = 1440938160;    /* 2015-08-30T12:36:00Z */

struct vcase {
	const char *name;
	int expect;                     /* enum bb_sigv4_status */
	const char *service;            /* "service" or "s3" */
	unsigned flags;                 /* signer flags */
	const char *token;              /* signer token */
	const char *want_token;         /* verifier's expected token */
	long now_off;                   /* verification time - signing time */
	int mutate;                     /* what to break after signing */
	const char *region;             /* verifier's expected region */
};

enum {
	M_NONE, M_NO_AUTH, M_ALGO, M_NO_SIGNED_HEADERS, M_SCOPE_TERM, M_SCOPE_DATE,
	M_HOST_UNSIGNED, M_NO_SHA, M_EXPIRES_BIG, M_BOTH, M_AKID, M_HEADER_VALUE, M_PATH,
	M_SECRET, M_NO_DATE, M_SIG_SHORT, M_QUERY_PARAM,
};

static void
test_verify_outcomes(void)
{
	static const struct vcase cases[] = {
		{ "good header request", BB_SIGV4_OK, "service", 0, NULL, NULL, 0, M_NONE, NULL },
		{ "good S3 request", BB_SIGV4_OK, "s3", BB_SIGV4_S3, NULL, NULL, 0, M_NONE, NULL },
		{ "good presigned", BB_SIGV4_OK, "s3", BB_SIGV4_S3 | BB_SIGV4_QUERY, NULL, NULL,
		  3599, M_NONE, NULL },
		{ "good with session token", BB_SIGV4_OK, "s3", BB_SIGV4_S3, "TOKEN/+=", "TOKEN/+=",
		  0, M_NONE, NULL },
		{ "good presigned with token", BB_SIGV4_OK, "s3", BB_SIGV4_S3 | BB_SIGV4_QUERY,
		  "TOKEN/+=", "TOKEN/+=", 0, M_NONE, NULL },
		{ "token added after signing", BB_SIGV4_OK, "service", BB_SIGV4_OMIT_TOKEN, "T",
		  "T", 0, M_NONE, NULL },
		{ "skew within 15 min", BB_SIGV4_OK, "service", 0, NULL, NULL, 899, M_NONE, NULL },
		{ "right region", BB_SIGV4_OK, "service", 0, NULL, NULL, 0, M_NONE, "us-east-1" },
		{ "no auth", BB_SIGV4_MISSING_AUTH, "service", 0, NULL, NULL, 0, M_NO_AUTH, NULL },
		{ "other algorithm", BB_SIGV4_MALFORMED, "service", 0, NULL, NULL, 0, M_ALGO, NULL },
		{ "no SignedHeaders", BB_SIGV4_MALFORMED, "service", 0, NULL, NULL, 0,
		  M_NO_SIGNED_HEADERS, NULL },
		{ "scope not aws4_request", BB_SIGV4_MALFORMED, "service", 0, NULL, NULL, 0,
		  M_SCOPE_TERM, NULL },
		{ "scope date != X-Amz-Date", BB_SIGV4_MALFORMED, "service", 0, NULL, NULL, 0,
		  M_SCOPE_DATE, NULL },
		{ "wrong region", BB_SIGV4_MALFORMED, "service", 0, NULL, NULL, 0, M_NONE,
		  "eu-west-1" },
		{ "host not signed", BB_SIGV4_MALFORMED, "service", 0, NULL, NULL, 0,
		  M_HOST_UNSIGNED, NULL },
		{ "S3 without x-amz-content-sha256", BB_SIGV4_MALFORMED, "s3", BB_SIGV4_S3, NULL,
		  NULL, 0, M_NO_SHA, NULL },
		{ "presigned X-Amz-Expires > 7 days", BB_SIGV4_MALFORMED, "s3",
		  BB_SIGV4_S3 | BB_SIGV4_QUERY, NULL, NULL, 0, M_EXPIRES_BIG, NULL },
		{ "header and query auth", BB_SIGV4_MALFORMED, "service", 0, NULL, NULL, 0, M_BOTH,
		  NULL },
		{ "no X-Amz-Date", BB_SIGV4_MALFORMED, "service", 0, NULL, NULL, 0, M_NO_DATE, NULL },
		{ "unknown access key", BB_SIGV4_INVALID_ACCESS_KEY, "service", 0, NULL, NULL, 0,
		  M_AKID, NULL },
		{ "header changed", BB_SIGV4_SIGNATURE_MISMATCH, "service", 0, NULL, NULL, 0,
		  M_HEADER_VALUE, NULL },
		{ "path changed", BB_SIGV4_SIGNATURE_MISMATCH, "s3", BB_SIGV4_S3, NULL, NULL, 0,
		  M_PATH, NULL },
		{ "wrong secret", BB_SIGV4_SIGNATURE_MISMATCH, "service", 0, NULL, NULL, 0,
		  M_SECRET, NULL },
		{ "short signature", BB_SIGV4_SIGNATURE_MISMATCH, "service", 0, NULL, NULL, 0,
		  M_SIG_SHORT, NULL },
		{ "presigned query changed", BB_SIGV4_SIGNATURE_MISMATCH, "s3",
		  BB_SIGV4_S3 | BB_SIGV4_QUERY, NULL, NULL, 0, M_QUERY_PARAM, NULL },
		{ "16 min late", BB_SIGV4_TIME_SKEWED, "service", 0, NULL, NULL, 960, M_NONE, NULL },
		{ "16 min early", BB_SIGV4_TIME_SKEWED, "service", 0, NULL, NULL, -960, M_NONE, NULL },
		{ "presigned expired", BB_SIGV4_EXPIRED, "s3", BB_SIGV4_S3 | BB_SIGV4_QUERY, NULL,
		  NULL, 3601, M_NONE, NULL },
		{ "token missing", BB_SIGV4_INVALID_TOKEN, "service", 0, NULL, "T", 0, M_NONE, NULL },
		{ "token wrong", BB_SIGV4_INVALID_TOKEN, "s3", BB_SIGV4_S3, "T1", "T2", 0, M_NONE,
		  NULL },
		{ "token unexpected", BB_SIGV4_INVALID_TOKEN, "service", 0, "T", NULL, 0, M_NONE,
		  NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct vcase *c = &cases[i];
		struct bb_sigv4_creds cr = { AKID, SECRET, c->token };
		struct bb_sigv4_params p = { &cr, "us-east-1", c->service, T0, c->flags, 3600 };
		struct bb_sigv4_request q;
		struct bb_sigv4_result r;
		struct bb_sigv4_verify_req vq;
		struct bb_sigv4_verify_result v;
		struct bb_error err = BB_ERROR_INIT;
		struct bb_http_headers h = { NULL, 0, 0 };
		struct keys k = { AKID, SECRET, c->want_token };
		struct bb_buf tmp = BB_BUF_INIT;
		char *u = NULL, *s;
		const char *path, *query;
		int st;

		if (c->mutate == M_SECRET)
			cr.secret_key = "not the secret";
		hl_add(&h, "Host", "example.amazonaws.com");
		hl_add(&h, "My-Header", "  a   b ");
		q.method = "PUT";
		q.url = "https://example.amazonaws.com/b/key%20name/x?partNumber=1&uploadId=U%2B";
		q.headers = &h;
		q.payload_hash = NULL;
		bb_sigv4_result_init(&r);
		bb_sigv4_verify_result_init(&v);
		if (bb_sigv4_sign(&q, &p, &r, &err)) {
			ok(0, "%s: sign failed: %s", c->name, err.msg);
			goto next;
		}
		hl_apply(&h, &r);
		u = split_url(c->flags & BB_SIGV4_QUERY ? r.url.data : q.url, &path, &query);
		switch (c->mutate) {
		case M_NO_AUTH:
			hl_del(&h, "Authorization");
			break;
		case M_ALGO:
		case M_NO_SIGNED_HEADERS:
		case M_SCOPE_TERM:
		case M_SCOPE_DATE:
		case M_HOST_UNSIGNED:
		case M_AKID:
		case M_SIG_SHORT:
			bb_buf_adds(&tmp, hl_get(&h, "Authorization"));
			s = tmp.data;
			if (c->mutate == M_ALGO)
				memcpy(s, "AWS4-HMAC-SHA512", 16);
			else if (c->mutate == M_NO_SIGNED_HEADERS)
				memcpy(strstr(s, "SignedHeaders"), "SignedHeaderz", 13);
			else if (c->mutate == M_SCOPE_TERM)
				memcpy(strstr(s, "aws4_request"), "aws5_request", 12);
			else if (c->mutate == M_SCOPE_DATE)
				memcpy(strstr(s, "20150830/"), "20150831/", 9);
			else if (c->mutate == M_HOST_UNSIGNED)
				memcpy(strstr(s, "host;"), "hosx;", 5);
			else if (c->mutate == M_AKID)
				memcpy(strstr(s, AKID), "AKIDEXAMPLF", 11);
			else
				bb_buf_setlen(&tmp, tmp.len - 2);
			hl_set(&h, "Authorization", tmp.data);
			break;
		case M_NO_SHA:
			hl_del(&h, "x-amz-content-sha256");
			break;
		case M_EXPIRES_BIG:
			s = strstr(u + (query - u), "X-Amz-Expires=3600");
			bb_buf_add(&tmp, query, (size_t)(s - query));
			bb_buf_addf(&tmp, "X-Amz-Expires=604801%s", s + 18);
			query = tmp.data;
			break;
		case M_BOTH:
			bb_buf_addf(&tmp, "%s&X-Amz-Algorithm=AWS4-HMAC-SHA256", query);
			query = tmp.data;
			break;
		case M_NO_DATE:
			hl_del(&h, "X-Amz-Date");
			break;
		case M_HEADER_VALUE:
			hl_set(&h, "My-Header", "a  c");
			break;
		case M_PATH:
			path = "/b/key%20name/y";
			break;
		case M_QUERY_PARAM:
			bb_buf_addf(&tmp, "%s&extra=1", query);
			query = tmp.data;
			break;
		}
		memset(&vq, 0, sizeof(vq));
		vq.method = "PUT";
		vq.path = path;
		vq.query = query;
		vq.headers = &h;
		vq.region = c->region;
		vq.now = T0 + c->now_off;
		vq.lookup = lookup;
		vq.lookup_ctx = &k;
		st = bb_sigv4_verify(&vq, &v, &err);
		if (!is_int(st, c->expect, c->name))
			diag("message: %s", v.message);
		if (c->expect == BB_SIGV4_OK)
			ok(v.stream.valid && strcmp(v.stream.seed, r.signature) == 0 &&
			    strcmp(v.service, c->service) == 0, "%s: seed, service reported", c->name);
next:
		free(u);
		bb_buf_release(&tmp);
		hl_free(&h);
		bb_sigv4_result_release(&r);
		bb_sigv4_verify_result_release(&v);
	}
	is_str(bb_sigv4_status_code(BB_SIGV4_MALFORMED, 1), "AuthorizationQueryParametersError",
	    "status code presigned malformed");
	is_str(bb_sigv4_status_code(BB_SIGV4_TIME_SKEWED, 0), "RequestTimeTooSkewed",
	    "status code skew");
	is_int(bb_sigv4_status_http(BB_SIGV4_MALFORMED), 400, "malformed is 400");
	is_int(bb_sigv4_status_http(BB_SIGV4_SIGNATURE_MISMATCH), 403, "mismatch is 403");
}

/* Presigned URL: the doc example, then through the verifier. */
static void
test_presign(void)
{
	struct bb_sigv4_creds cr = { DOC_AKID, DOC_SECRET, NULL };
	struct bb_sigv4_params p = { &cr, "us-east-1", "s3", 0, BB_SIGV4_S3 | BB_SIGV4_QUERY,
		86400 };
	struct bb_sigv4_request q = { "GET", "https://examplebucket.s3.amazonaws.com/test.txt",
		NULL, NULL };
	struct bb_sigv4_result r;
	struct bb_sigv4_verify_req vq;
	struct bb_sigv4_verify_result v;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_http_headers h = { NULL, 0, 0 };
	struct keys k = { DOC_AKID, DOC_SECRET, NULL };
	const char *path, *query;
	char *u;

	bb_sigv4_parse_date("20130524T000000Z", &p.now);
	bb_sigv4_result_init(&r);
	bb_sigv4_verify_result_init(&v);
	ok(bb_sigv4_sign(&q, &p, &r, &err) == 0, "presign");
	is_str(r.url.data, "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm="
	    "AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3"
	    "%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders"
	    "=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
	    "presigned URL = S3 doc example");
	is_int((long long)r.nadd, 1, "host is the only field to send (taken from the URL)");
	hl_apply(&h, &r);
	u = split_url(r.url.data, &path, &query);
	memset(&vq, 0, sizeof(vq));
	vq.method = "GET";
	vq.path = path;
	vq.query = query;
	vq.headers = &h;
	vq.service = "s3";
	vq.now = p.now + 86400;
	vq.lookup = lookup;
	vq.lookup_ctx = &k;
	is_int(bb_sigv4_verify(&vq, &v, &err), BB_SIGV4_OK, "presigned URL verifies");
	ok(v.presigned == 1, "reported as presigned");
	vq.now = p.now + 86401;
	is_int(bb_sigv4_verify(&vq, &v, &err), BB_SIGV4_EXPIRED, "presigned URL expires");
	vq.now = p.now;
	vq.service = "bedrock";
	is_int(bb_sigv4_verify(&vq, &v, &err), BB_SIGV4_MALFORMED, "wrong service refused");
	vq.service = NULL;
	vq.method = "PUT";
	is_int(bb_sigv4_verify(&vq, &v, &err), BB_SIGV4_SIGNATURE_MISMATCH, "method is signed");
	p.expires = BB_SIGV4_MAX_EXPIRES + 1;
	ok(bb_sigv4_sign(&q, &p, &r, &err) == -1, "signer refuses expiry > 7 days");
	free(u);
	hl_free(&h);
	bb_sigv4_result_release(&r);
	bb_sigv4_verify_result_release(&v);
}

/* ---- botocore's captured requests (Bedrock double encoding, S3) ---- */

static const char *
jstr(yajl_val o, const char *key)
{
	const char *path[2] = { key, NULL };
	yajl_val v = o ? yajl_tree_get(o, path, yajl_t_string) : NULL;

	return v ? YAJL_GET_STRING(v) : NULL;
}

static void
test_captures(void)
{
	const char *shared = getenv("BB_SHARED");
	char path[4096], ebuf[256], *text = NULL;
	const char *rp[2] = { "requests", NULL };
	yajl_val top = NULL, reqs;
	struct bb_buf b = BB_BUF_INIT;
	size_t i, j, n, checked = 0;
	FILE *f;

	if (shared == NULL) {
		skip("BB_SHARED not set: no botocore wire captures");
		return;
	}
	snprintf(path, sizeof(path), "%s/spec/botocore-wire-captures.json", shared);
	f = fopen(path, "rb");
	if (f == NULL) {
		skip("no spec/botocore-wire-captures.json under BB_SHARED");
		return;
	}
	while ((n = fread(ebuf, 1, sizeof(ebuf), f)) > 0)
		bb_buf_add(&b, ebuf, n);
	fclose(f);
	text = bb_buf_detach(&b, NULL);
	top = yajl_tree_parse(text, ebuf, sizeof(ebuf));
	reqs = top ? yajl_tree_get(top, rp, yajl_t_array) : NULL;
	for (i = 0; reqs && i < YAJL_GET_ARRAY(reqs)->len; i++) {
		yajl_val rq = YAJL_GET_ARRAY(reqs)->values[i];
		const char *hp[2] = { "headers", NULL };
		yajl_val hdrs = yajl_tree_get(rq, hp, yajl_t_object);
		const char *label = jstr(rq, "label"), *url = jstr(rq, "url");
		const char *auth = NULL, *date = NULL, *sha = NULL, *body = jstr(rq, "body");
		const char *sh, *scope;
		char hash[BB_SHA256_HEX], service[32];
		struct bb_http_headers h = { NULL, 0, 0 };
		struct bb_sigv4_creds cr = { AKID, SECRET, NULL };
		struct bb_sigv4_params p;
		struct bb_sigv4_request q;
		struct bb_sigv4_result r;
		struct bb_sigv4_verify_req vq;
		struct bb_sigv4_verify_result v;
		struct bb_error err = BB_ERROR_INIT;
		struct keys k = { AKID, SECRET, NULL };
		const char *vpath, *vquery;
		char *u;

		for (j = 0; hdrs && j < YAJL_GET_OBJECT(hdrs)->len; j++) {
			const char *hn = YAJL_GET_OBJECT(hdrs)->keys[j];
			const char *hv = YAJL_GET_STRING(YAJL_GET_OBJECT(hdrs)->values[j]);
			if (strcasecmp(hn, "authorization") == 0)
				auth = hv;
			else if (strcasecmp(hn, "x-amz-date") == 0)
				date = hv;
			else if (strcasecmp(hn, "x-amz-content-sha256") == 0)
				sha = hv;
		}
		if (auth == NULL || strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0 || !date || !url)
			continue;       /* the bearer-token capture */
		/* the fields botocore had when it signed: those in SignedHeaders */
		sh = strstr(auth, "SignedHeaders=") + 14;
		for (j = 0; j < YAJL_GET_OBJECT(hdrs)->len; j++) {
			const char *hn = YAJL_GET_OBJECT(hdrs)->keys[j];
			char low[128];
			size_t l = strlen(hn), x;
			const char *hit;
			for (x = 0; x < l && x < sizeof(low) - 1; x++)
				low[x] = (char)(hn[x] >= 'A' && hn[x] <= 'Z' ? hn[x] + 32 : hn[x]);
			low[x] = '\0';
			hit = strstr(sh, low);
			if (hit && (hit[l] == ';' || hit[l] == ',') && (hit == sh || hit[-1] == ';'))
				hl_add(&h, hn, YAJL_GET_STRING(YAJL_GET_OBJECT(hdrs)->values[j]));
		}
		scope = strstr(auth, "/aws4_request") - 1;
		while (scope[-1] != '/')
			scope--;
		snprintf(service, sizeof(service), "%.*s", (int)strcspn(scope, "/"), scope);
		bb_sha256_hex(body ? body : "", body ? strlen(body) : 0, hash);
		memset(&p, 0, sizeof(p));
		p.creds = &cr;
		p.region = "us-east-1";
		p.service = service;
		p.flags = strcmp(service, "s3") == 0 ? BB_SIGV4_S3 : 0;
		bb_sigv4_parse_date(date, &p.now);
		q.method = jstr(rq, "method");
		q.url = url;
		q.headers = &h;
		q.payload_hash = sha ? sha : hash;
		bb_sigv4_result_init(&r);
		bb_sigv4_verify_result_init(&v);
		if (bb_sigv4_sign(&q, &p, &r, &err) != 0) {
			ok(0, "%s: %s", label, err.msg);
		} else {
			size_t a;
			const char *got = NULL;
			for (a = 0; a < r.nadd; a++)
				if (strcmp(r.add[a].name, "Authorization") == 0)
					got = r.add[a].value;
			is_str(got, auth, label);
			if (strstr(url, "arn%3Aaws"))
				ok(strstr(r.canonical_request.data,
				    "/model-invocation-job/arn%253Aaws%253Abedrock%253Aus-east-1%253A"
				    "123456789012%253Amodel-invocation-job%252Fabcdefghij12\n") != NULL,
				    "bedrock: job ARN double encoded in the canonical URI");
		}
		/* and the emulator's side: the captured request verifies */
		hl_set(&h, "Authorization", auth);
		hl_set(&h, "X-Amz-Date", date);
		if (strstr(url, "://"))
			hl_set(&h, "Host", "bedrock.us-east-1.amazonaws.com");
		{
			const char *hs = strstr(url, "://") + 3;
			char host[128];
			snprintf(host, sizeof(host), "%.*s", (int)strcspn(hs, "/"), hs);
			hl_set(&h, "Host", host);
		}
		u = split_url(url, &vpath, &vquery);
		memset(&vq, 0, sizeof(vq));
		vq.method = q.method;
		vq.path = vpath;
		vq.query = vquery;
		vq.headers = &h;
		vq.payload_hash = sha ? NULL : hash;
		vq.now = p.now + 60;
		vq.lookup = lookup;
		vq.lookup_ctx = &k;
		if (!is_int(bb_sigv4_verify(&vq, &v, &err), BB_SIGV4_OK, "verifier accepts capture"))
			diag("%s: %s", label, v.message);
		checked++;
		free(u);
		hl_free(&h);
		bb_sigv4_result_release(&r);
		bb_sigv4_verify_result_release(&v);
	}
	ok(checked >= 8, "%zu captured SigV4 requests checked", checked);
	yajl_tree_free(top);
	free(text);
}

/* ---- aws-chunked ---- */

static int
sink_buf(const void *p, size_t n, void *ctx)
{
	return bb_buf_add(ctx, p, n);
}

/* Sign the AWS chunked example request; fills the stream context. */
static int
sign_chunk_example(const char *content_sha, const char *trailer, struct bb_sigv4_result *r,
    struct bb_http_headers *h)
{
	struct bb_sigv4_creds cr = { DOC_AKID, DOC_SECRET, NULL };
	struct bb_sigv4_params p = { &cr, "us-east-1", "s3", 0, BB_SIGV4_S3, 0 };
	struct bb_sigv4_request q = { "PUT", "https://s3.amazonaws.com/examplebucket/chunkObject.txt",
		h, content_sha };
	struct bb_error err = BB_ERROR_INIT;

	bb_sigv4_parse_date("20130524T000000Z", &p.now);
	hl_add(h, "Host", "s3.amazonaws.com");
	hl_add(h, "x-amz-storage-class", "REDUCED_REDUNDANCY");
	hl_add(h, "Content-Encoding", "aws-chunked");
	hl_add(h, "x-amz-decoded-content-length", "66560");
	if (trailer)
		hl_add(h, "x-amz-trailer", trailer);
	else if (strcmp(content_sha, BB_SIGV4_STREAMING_PAYLOAD) == 0)
		hl_add(h, "Content-Length", "66824");
	if (bb_sigv4_sign(&q, &p, r, &err))
		return -1;
	hl_apply(h, r);
	return 0;
}

static void
encode(enum bb_awschunked_mode mode, const struct bb_sigv4_stream *st, enum bb_checksum_alg alg,
    const char *data, size_t len, size_t cs, struct bb_buf *out)
{
	struct bb_awschunked_enc e;
	struct bb_error err = BB_ERROR_INIT;
	size_t off;

	bb_awschunked_enc_init(&e, mode, st, alg, &err);
	for (off = 0; off < len; off += cs)
		bb_awschunked_enc_chunk(&e, data + off, len - off < cs ? len - off : cs, out, &err);
	bb_awschunked_enc_finish(&e, out, &err);
	bb_awschunked_enc_release(&e);
}

/* Feed body in pieces: fixed size k (> 0) or random sizes (k == 0). */
static int
decode(enum bb_awschunked_mode mode, const struct bb_sigv4_stream *st, const char *trailer,
    uint64_t dlen, const char *body, size_t n, size_t k, struct bb_buf *out,
    enum bb_awschunked_status *status)
{
	struct bb_awschunked_dec d;
	struct bb_error err = BB_ERROR_INIT;
	size_t off = 0, piece;
	int rc = -1;

	bb_buf_reset(out);
	if (bb_awschunked_dec_init(&d, mode, st, trailer, dlen, &err))
		goto out;
	while (off < n) {
		piece = k ? k : (size_t)(rand() % 9000) + 1;
		if (piece > n - off)
			piece = n - off;
		if (bb_awschunked_dec_feed(&d, body + off, piece, sink_buf, out, &err))
			goto out;
		off += piece;
	}
	if (bb_awschunked_dec_finish(&d, &err))
		goto out;
	rc = 0;
out:
	*status = d.status;
	bb_awschunked_dec_release(&d);
	return rc;
}

static void
test_chunked_example(void)
{
	struct bb_http_headers h = { NULL, 0, 0 };
	struct bb_sigv4_result r;
	struct bb_buf body = BB_BUF_INIT;
	char *data = malloc(66560);
	uint64_t len = 0;

	memset(data, 'a', 66560);
	bb_sigv4_result_init(&r);
	ok(sign_chunk_example(BB_SIGV4_STREAMING_PAYLOAD, NULL, &r, &h) == 0, "sign the example");
	is_str(r.signature, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
	    "seed signature");
	ok(r.stream.valid, "stream context kept for a streaming payload");
	encode(BB_AWSCHUNKED_SIGNED, &r.stream, BB_CKSUM_NONE, data, 66560, 65536, &body);
	is_int((long long)body.len, 66824, "encoded length = Content-Length of the example");
	ok(bb_awschunked_encoded_length(BB_AWSCHUNKED_SIGNED, 66560, 65536, BB_CKSUM_NONE, &len) == 0
	    && len == 66824, "encoded length computed up front");
	ok(body.len > 100 && memcmp(body.data, "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9"
	    "a0e99e0e2307b0ade35a65485a288648\r\n", 87) == 0, "chunk 1 framing and signature");
	ok(strstr(body.data, "\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b"
	    "7d234b86a503ef5497\r\n") != NULL, "chunk 2 signature");
	ok(body.len > 90 && strcmp(body.data + body.len - 86, "0;chunk-signature=b6c6ea8a5354eaf15b3c"
	    "b7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n") == 0, "final chunk signature");
	bb_sigv4_result_release(&r);
	bb_buf_release(&body);
	hl_free(&h);
	free(data);
}

/* Decoder: every mode, pieces of 1..31 bytes and random sizes, then
 * corruptions. The signing context comes from the verifier, as in bb-emu. */
static void
test_decoder(void)
{
	static const struct {
		enum bb_awschunked_mode mode;
		const char *sha, *trailer;
		enum bb_checksum_alg alg;
	} modes[] = {
		{ BB_AWSCHUNKED_SIGNED, BB_SIGV4_STREAMING_PAYLOAD, NULL, BB_CKSUM_NONE },
		{ BB_AWSCHUNKED_SIGNED_TRAILER, BB_SIGV4_STREAMING_PAYLOAD_TRAILER,
		  "x-amz-checksum-crc32c", BB_CKSUM_CRC32C },
		{ BB_AWSCHUNKED_UNSIGNED_TRAILER, BB_SIGV4_STREAMING_UNSIGNED_TRAILER,
		  "x-amz-checksum-crc32", BB_CKSUM_CRC32 },
	};
	struct bb_buf body = BB_BUF_INIT, out = BB_BUF_INIT, bad = BB_BUF_INIT;
	enum bb_awschunked_status st;
	char *data = malloc(66560);
	size_t m, k, i;

	for (i = 0; i < 66560; i++)
		data[i] = (char)('a' + i % 23);
	srand(42);
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct bb_http_headers h = { NULL, 0, 0 };
		struct bb_sigv4_result r;
		struct bb_sigv4_verify_req vq;
		struct bb_sigv4_verify_result v;
		struct bb_error err = BB_ERROR_INIT;
		struct keys keys = { DOC_AKID, DOC_SECRET, NULL };
		const struct bb_sigv4_stream *sp;
		int all = 1, vs;
		uint64_t elen;

		bb_sigv4_result_init(&r);
		bb_sigv4_verify_result_init(&v);
		sign_chunk_example(modes[m].sha, modes[m].trailer, &r, &h);
		memset(&vq, 0, sizeof(vq));
		vq.method = "PUT";
		vq.path = "/examplebucket/chunkObject.txt";
		vq.headers = &h;
		vq.now = 1369353600;
		vq.lookup = lookup;
		vq.lookup_ctx = &keys;
		vs = bb_sigv4_verify(&vq, &v, &err);
		is_int(vs, BB_SIGV4_OK, "streaming request verifies");
		ok(strcmp(v.payload_hash, modes[m].sha) == 0, "payload hash reported: %s",
		    v.payload_hash);
		sp = modes[m].mode == BB_AWSCHUNKED_UNSIGNED_TRAILER ? NULL : &v.stream;
		bb_buf_reset(&body);
		encode(modes[m].mode, &r.stream, modes[m].alg, data, 66560, 65536, &body);
		ok(bb_awschunked_encoded_length(modes[m].mode, 66560, 65536, modes[m].alg, &elen) == 0 &&
		    elen == body.len, "%s: encoded length %zu computed", modes[m].sha, body.len);
		for (k = 1; k <= 31; k++)
			if (decode(modes[m].mode, sp, modes[m].trailer, 66560, body.data, body.len, k,
			    &out, &st) || out.len != 66560 || memcmp(out.data, data, 66560) != 0)
				all = 0;
		ok(all, "%s: decoded in pieces of 1..31 bytes", modes[m].sha);
		all = 1;
		for (k = 0; k < 20; k++)
			if (decode(modes[m].mode, sp, modes[m].trailer, 66560, body.data, body.len, 0,
			    &out, &st) || out.len != 66560 || memcmp(out.data, data, 66560) != 0)
				all = 0;
		ok(all, "%s: decoded in random pieces", modes[m].sha);

		/* corruptions */
		bb_buf_reset(&bad);
		bb_buf_add(&bad, body.data, body.len);
		bad.data[1000] ^= 1;    /* a data byte of chunk 1 */
		ok(decode(modes[m].mode, sp, modes[m].trailer, 66560, bad.data, bad.len, 7, &out,
		    &st) == -1 && st == (modes[m].mode == BB_AWSCHUNKED_UNSIGNED_TRAILER ?
		    BB_AWSCHUNKED_BAD_DIGEST : BB_AWSCHUNKED_BAD_SIGNATURE),
		    "%s: flipped data byte -> %s", modes[m].sha, bb_awschunked_status_code(st));
		bb_buf_reset(&bad);
		bb_buf_add(&bad, body.data, body.len - 7);
		ok(decode(modes[m].mode, sp, modes[m].trailer, 66560, bad.data, bad.len, 13, &out,
		    &st) == -1 && st == BB_AWSCHUNKED_INCOMPLETE, "%s: truncated -> IncompleteBody",
		    modes[m].sha);
		ok(decode(modes[m].mode, sp, modes[m].trailer, 66561, body.data, body.len, 4096, &out,
		    &st) == -1 && st == BB_AWSCHUNKED_INCOMPLETE,
		    "%s: shorter than x-amz-decoded-content-length", modes[m].sha);
		bb_buf_reset(&bad);
		bb_buf_add(&bad, body.data, body.len);
		bb_buf_adds(&bad, "x");
		ok(decode(modes[m].mode, sp, modes[m].trailer, 66560, bad.data, bad.len, 4096, &out,
		    &st) == -1 && st == BB_AWSCHUNKED_MALFORMED, "%s: data after the end",
		    modes[m].sha);
		if (modes[m].mode != BB_AWSCHUNKED_UNSIGNED_TRAILER) {
			char *p;
			bb_buf_reset(&bad);
			bb_buf_add(&bad, body.data, body.len);
			p = strstr(bad.data, "400;chunk-signature=") + 20;
			*p = *p == '0' ? '1' : '0';
			ok(decode(modes[m].mode, sp, modes[m].trailer, 66560, bad.data, bad.len, 31,
			    &out, &st) == -1 && st == BB_AWSCHUNKED_BAD_SIGNATURE,
			    "%s: altered chunk signature", modes[m].sha);
			bb_buf_reset(&out);
			encode(modes[m].mode, &r.stream, modes[m].alg, data, 300, 100, &out);
			bb_buf_reset(&bad);
			bb_buf_add(&bad, out.data, out.len);
			ok(decode(modes[m].mode, sp, modes[m].trailer, 300, bad.data, bad.len, 31,
			    &out, &st) == -1 && st == BB_AWSCHUNKED_CHUNK_TOO_SMALL,
			    "%s: non-final chunk under 8 KiB", modes[m].sha);
		}
		if (modes[m].trailer) {
			char *p;
			bb_buf_reset(&bad);
			bb_buf_add(&bad, body.data, body.len);
			p = strstr(bad.data, modes[m].trailer) + strlen(modes[m].trailer) + 1;
			*p = *p == 'A' ? 'B' : 'A';
			ok(decode(modes[m].mode, sp, modes[m].trailer, 66560, bad.data, bad.len, 5,
			    &out, &st) == -1 && st == (modes[m].mode == BB_AWSCHUNKED_SIGNED_TRAILER ?
			    BB_AWSCHUNKED_BAD_SIGNATURE : BB_AWSCHUNKED_BAD_DIGEST),
			    "%s: altered checksum in the trailer -> %s", modes[m].sha,
			    bb_awschunked_status_code(st));
			ok(decode(modes[m].mode, sp, "x-amz-checksum-sha256", 66560, body.data,
			    body.len, 4096, &out, &st) == -1 && st == BB_AWSCHUNKED_MALFORMED,
			    "%s: announced trailer missing", modes[m].sha);
		}
		if (modes[m].mode == BB_AWSCHUNKED_SIGNED_TRAILER) {
			char *p;
			bb_buf_reset(&bad);
			bb_buf_add(&bad, body.data, body.len);
			p = strstr(bad.data, "x-amz-trailer-signature:") + 24;
			*p = *p == '0' ? '1' : '0';
			ok(decode(modes[m].mode, sp, modes[m].trailer, 66560, bad.data, bad.len, 3,
			    &out, &st) == -1 && st == BB_AWSCHUNKED_BAD_SIGNATURE,
			    "%s: altered trailer signature", modes[m].sha);
		}
		hl_free(&h);
		bb_sigv4_result_release(&r);
		bb_sigv4_verify_result_release(&v);
	}
	/* botocore's exact body (BEDROCK.md 4.7 b) */
	{
		static const char cap[] = "11\r\n{\"recordId\":\"1\"}\n\r\n0\r\n"
		    "x-amz-checksum-crc32:0B99ig==\r\n\r\n";
		ok(decode(BB_AWSCHUNKED_UNSIGNED_TRAILER, NULL, "x-amz-checksum-crc32", 17, cap,
		    sizeof(cap) - 1, 1, &out, &st) == 0 && out.len == 17 &&
		    memcmp(out.data, "{\"recordId\":\"1\"}\n", 17) == 0,
		    "botocore's captured unsigned-trailer body decodes");
		bb_buf_reset(&body);
		encode(BB_AWSCHUNKED_UNSIGNED_TRAILER, NULL, BB_CKSUM_CRC32, "{\"recordId\":\"1\"}\n",
		    17, 1 << 20, &body);
		is_str(body.data, cap, "encoder reproduces botocore's body byte for byte");
	}
	is_int(bb_awschunked_mode_parse("UNSIGNED-PAYLOAD"), 0, "UNSIGNED-PAYLOAD is not chunked");
	free(data);
	bb_buf_release(&body);
	bb_buf_release(&out);
	bb_buf_release(&bad);
}

/* Re-signing a request whose headers hold the previous attempt's fields. */
static void
test_resign(void)
{
	struct bb_sigv4_creds cr = { AKID, SECRET, "TOK" };
	struct bb_sigv4_params p = { &cr, "us-east-1", "bedrock", T0, 0, 0 };
	struct bb_sigv4_request q = { "POST",
		"https://bedrock.us-east-1.amazonaws.com:443/model-invocation-job", NULL, NULL };
	struct bb_sigv4_result r1, r2;
	struct bb_http_headers h = { NULL, 0, 0 };
	struct bb_error err = BB_ERROR_INIT;
	char first[BB_SHA256_HEX];

	q.headers = &h;
	hl_add(&h, "Content-Type", "application/json");
	hl_add(&h, "User-Agent", "bbatch");
	bb_sigv4_result_init(&r1);
	bb_sigv4_result_init(&r2);
	bb_sigv4_sign(&q, &p, &r1, &err);
	ok(strstr(r1.canonical_request.data, "host:bedrock.us-east-1.amazonaws.com\n") != NULL,
	    "host taken from the URL, default port dropped");
	is_str(r1.signed_headers.data, "content-type;host;x-amz-date;x-amz-security-token",
	    "user-agent not signed, token signed");
	memcpy(first, r1.signature, sizeof(first));
	hl_apply(&h, &r1);
	p.now = T0 + 7;
	bb_sigv4_sign(&q, &p, &r2, &err);
	is_str(r2.signed_headers.data, "content-type;host;x-amz-date;x-amz-security-token",
	    "re-signing ignores the previous attempt's fields");
	ok(strcmp(first, r2.signature) != 0 && strstr(r2.canonical_request.data,
	    "x-amz-date:20150830T123607Z\n") != NULL, "new time, new signature");
	/* bb_sigv4_apply on the HTTP layer's header list */
	{
		struct bb_http_headers hh;
		const char *a, *t, *d;
		int rc;

		bb_http_headers_init(&hh);
		bb_http_headers_add(&hh, "Authorization", "stale");
		rc = bb_sigv4_apply(&r2, &hh);
		a = bb_http_headers_get(&hh, "authorization");
		t = bb_http_headers_get(&hh, "x-amz-security-token");
		d = bb_http_headers_get(&hh, "x-amz-date");
		ok(rc == 0 && a && strncmp(a, "AWS4-HMAC-SHA256 ", 17) == 0 && t &&
		    strcmp(t, "TOK") == 0 && d && strcmp(d, "20150830T123607Z") == 0 && hh.n == 3,
		    "bb_sigv4_apply sets the fields, replacing a stale Authorization");
		bb_http_headers_release(&hh);
	}
	/* payload hash taken from an x-amz-content-sha256 field, as botocore */
	hl_set(&h, "X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD");
	p.flags = BB_SIGV4_S3;
	p.service = "s3";
	ok(bb_sigv4_sign(&q, &p, &r2, &err) == 0 && strstr(r2.canonical_request.data,
	    "\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n") != NULL && strcmp(r2.canonical_request.data
	    + r2.canonical_request.len - 17, "\nUNSIGNED-PAYLOAD") == 0,
	    "payload hash from the x-amz-content-sha256 field");
	cr.secret_key = NULL;
	ok(bb_sigv4_sign(&q, &p, &r2, &err) == -1 && err.kind == BB_ERR_AUTH,
	    "no secret: error, not a crash");
	bb_sigv4_result_release(&r1);
	bb_sigv4_result_release(&r2);
	hl_free(&h);
}

int
main(void)
{
	test_verify_outcomes();
	test_presign();
	test_captures();
	test_chunked_example();
	test_decoder();
	test_resign();
	return done_testing();
}
