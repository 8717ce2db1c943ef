/*
 * sigv4-cases.c - run SigV4 test suites through libshared's signer.
 *
 *   sigv4-cases [--tap] [-v] PATH...      run every case found under PATH
 *   sigv4-cases --sign [FILE]             sign one flat-format request (JSON
 *                                         on stdin or in FILE) and print the
 *                                         stages as JSON (for sigv4-diff.sh)
 *
 * PATH may be a suite folder in the aws-c-auth layout (<dir>/v4/<case>/
 * request.txt, context.json, {header,query}-*.txt), the botocore layout
 * (<dir>/<case>/<case>.{req,creq,sts,authz,sreq}, sub-groups allowed), a
 * flat case file ({"cases":[{"name","input","expected"}]}), the S3 doc
 * vector file (cases with "inputs", chunk and trailer signatures), or a
 * folder holding any of these (searched recursively). The harness rules of
 * each layout are those of vectors/sigv4/README.md.
 *
 * Prints one line per failing case and "N passed, N failed"; with --tap,
 * one TAP point per case and the count as a comment. Exit 1 on failure.
 * JSON is read with yajl_tree: the inputs are trusted fixtures.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yajl/yajl_tree.h>

#include "awschunked.h"
#include "buf.h"
#include "hash.h"
#include "sigv4.h"

static int opt_tap, opt_verbose;
static int n_pass, n_fail, n_point;

/* ---- small helpers ---- */

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct bb_buf b = BB_BUF_INIT;
	char tmp[65536];
	size_t n;

	if (f == NULL)
		return NULL;
	bb_buf_adds(&b, "");
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		bb_buf_add(&b, tmp, n);
	fclose(f);
	if (len)
		*len = b.len;
	return bb_buf_detach(&b, NULL);
}

static char *
slurpf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
slurpf(const char *fmt, ...)
{
	char path[8192];
	va_list ap;
	char *s;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	s = slurp(path, &n);
	/* expected files carry no trailing newline; tolerate one */
	while (s && n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static int
is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Header lists built by hand (no http.c needed). */
static void
hl_add(struct bb_http_headers *h, const char *name, size_t nn, const char *value, size_t vn)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 8;
		h->v = realloc(h->v, h->cap * sizeof(*h->v));
		if (h->v == NULL)
			abort();
	}
	h->v[h->n].name = strndup(name, nn);
	h->v[h->n].value = strndup(value, vn);
	h->n++;
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

/* Replace every field of that name by one (or append). */
static void
hl_set(struct bb_http_headers *h, const char *name, const char *value)
{
	size_t i, j;
	int done = 0;

	for (i = j = 0; i < h->n; i++) {
		if (strcasecmp(h->v[i].name, name) == 0) {
			if (!done) {
				free(h->v[i].value);
				h->v[i].value = strdup(value);
				h->v[j++] = h->v[i];
				done = 1;
			} else {
				free(h->v[i].name);
				free(h->v[i].value);
			}
		} else {
			h->v[j++] = h->v[i];
		}
	}
	h->n = j;
	if (!done)
		hl_add(h, name, strlen(name), value, strlen(value));
}

static void
hl_copy(struct bb_http_headers *dst, const struct bb_http_headers *src)
{
	size_t i;

	for (i = 0; i < src->n; i++)
		hl_add(dst, src->v[i].name, strlen(src->v[i].name), src->v[i].value,
		    strlen(src->v[i].value));
}

/* ---- one case's outcome ---- */

struct check {
	const char *name;
	struct bb_buf why;
};

__attribute__((format(printf, 2, 3)))
static void
bad(struct check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->why.len)
		bb_buf_adds(&c->why, "; ");
	va_start(ap, fmt);
	bb_buf_vaddf(&c->why, fmt, ap);
	va_end(ap);
}

static void
show(const char *label, const char *s)
{
	const char *p;

	fprintf(opt_tap ? stdout : stderr, "#   %s:\n", label);
	for (p = s; p && *p; ) {
		size_t n = strcspn(p, "\n");
		fprintf(opt_tap ? stdout : stderr, "#     |%.*s\n", (int)n, p);
		p += n;
		if (*p)
			p++;
	}
}

static void
cmp(struct check *c, const char *what, const char *got, const char *want)
{
	if (want == NULL)
		return;
	if (got == NULL || strcmp(got, want) != 0) {
		bad(c, "%s differs", what);
		if (opt_verbose || opt_tap) {
			show("got", got ? got : "(null)");
			show("want", want);
		}
	}
}

static void
check_begin(struct check *c, const char *name)
{
	c->name = name;
	bb_buf_init(&c->why);
}

static void
check_end(struct check *c)
{
	n_point++;
	if (c->why.len == 0) {
		n_pass++;
		if (opt_tap)
			printf("ok %d - %s\n", n_point, c->name);
	} else {
		n_fail++;
		if (opt_tap)
			printf("not ok %d - %s: %s\n", n_point, c->name, c->why.data);
		else
			printf("FAIL %s: %s\n", c->name, c->why.data);
	}
	fflush(stdout);
	bb_buf_release(&c->why);
}

/* ---- raw HTTP request files ---- */

struct rawreq {
	char *method;
	char *target;
	struct bb_http_headers h;
	char *body;
	size_t body_len;
};

static void
rawreq_free(struct rawreq *r)
{
	free(r->method);
	free(r->target);
	hl_free(&r->h);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Request line, header fields (continuation lines folded into the value
 * with "\n"), blank line, body. */
static int
rawreq_parse(const char *s, size_t n, struct rawreq *r)
{
	const char *end = s + n, *eol, *sp1, *sp2, *colon;
	size_t len;

	memset(r, 0, sizeof(*r));
	eol = memchr(s, '\n', n);
	if (eol == NULL)
		eol = end;
	len = (size_t)(eol - s);
	if (len && s[len - 1] == '\r')
		len--;
	sp1 = memchr(s, ' ', len);
	for (sp2 = s + len; sp2 > s && sp2[-1] != ' '; sp2--)
		;
	if (sp1 == NULL || sp2 - 1 <= sp1)
		return -1;
	r->method = strndup(s, (size_t)(sp1 - s));
	r->target = strndup(sp1 + 1, (size_t)(sp2 - 1 - sp1 - 1));
	s = eol < end ? eol + 1 : end;
	while (s < end) {
		eol = memchr(s, '\n', (size_t)(end - s));
		if (eol == NULL)
			eol = end;
		len = (size_t)(eol - s);
		if (len && s[len - 1] == '\r')
			len--;
		if (len == 0) {
			s = eol < end ? eol + 1 : end;
			break;
		}
		if ((*s == ' ' || *s == '\t') && r->h.n > 0) {
			struct bb_buf b = BB_BUF_INIT;
			bb_buf_adds(&b, r->h.v[r->h.n - 1].value);
			bb_buf_addc(&b, '\n');
			bb_buf_add(&b, s, len);
			free(r->h.v[r->h.n - 1].value);
			r->h.v[r->h.n - 1].value = bb_buf_detach(&b, NULL);
		} else {
			colon = memchr(s, ':', len);
			if (colon == NULL)
				return -1;
			hl_add(&r->h, s, (size_t)(colon - s), colon + 1,
			    len - (size_t)(colon + 1 - s));
		}
		s = eol < end ? eol + 1 : end;
	}
	r->body_len = (size_t)(end - s);
	r->body = strndup(s, r->body_len);
	return 0;
}

/* "name:value" with the name lower-cased and the value canonical. */
static char *
canon_field(const char *name, const char *value)
{
	struct bb_buf b = BB_BUF_INIT;
	const char *p;
	int sp = 0;
	size_t i;

	bb_buf_adds(&b, name);
	for (i = 0; i < b.len; i++)
		b.data[i] = (char)(b.data[i] >= 'A' && b.data[i] <= 'Z' ? b.data[i] + 32 : b.data[i]);
	bb_buf_addc(&b, ':');
	for (p = value; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
		;
	for (; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			sp = 1;
			continue;
		}
		if (sp)
			bb_buf_addc(&b, ' ');
		sp = 0;
		bb_buf_addc(&b, *p);
	}
	return bb_buf_detach(&b, NULL);
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Compare two lists of strings as multisets. */
static int
same_multiset(char **a, size_t na, char **b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	qsort(a, na, sizeof(*a), strp_cmp);
	qsort(b, nb, sizeof(*b), strp_cmp);
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

static size_t
split_query(const char *q, char ***out)
{
	size_t n = 0, cap = 8, len;
	char **v = malloc(cap * sizeof(*v));

	while (q && *q) {
		len = strcspn(q, "&");
		if (len > 0) {
			if (n == cap)
				v = realloc(v, (cap *= 2) * sizeof(*v));
			v[n++] = strndup(q, len);
		}
		q += len;
		if (*q == '&')
			q++;
	}
	*out = v;
	return n;
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The signed request: method, target (path + query as a set), headers as a
 * set, against an expected request file. */
static void
cmp_signed_request(struct check *c, const char *label, const char *want_text,
    const char *method, const char *target, const struct bb_http_headers *h,
    const char *ignore)
{
	struct rawreq w;
	char **ga, **wa, **gq, **wq;
	const char *gqs, *wqs;
	size_t i, ngq, nwq;
	int ok_h, ok_q, ok_p;

	if (want_text == NULL)
		return;
	if (rawreq_parse(want_text, strlen(want_text), &w)) {
		bad(c, "%s: cannot parse expected signed request", label);
		return;
	}
	ga = calloc(h->n + 1, sizeof(*ga));
	wa = calloc(w.h.n + 1, sizeof(*wa));
	for (i = 0; i < h->n; i++)
		ga[i] = canon_field(h->v[i].name, ignore && strcasecmp(h->v[i].name,
		    ignore) == 0 ? "(not compared)" : h->v[i].value);
	for (i = 0; i < w.h.n; i++)
		wa[i] = canon_field(w.h.v[i].name, ignore && strcasecmp(w.h.v[i].name,
		    ignore) == 0 ? "(not compared)" : w.h.v[i].value);
	ok_h = same_multiset(ga, h->n, wa, w.h.n);
	gqs = strchr(target, '?');
	wqs = strchr(w.target, '?');
	ok_p = (gqs ? (size_t)(gqs - target) : strlen(target)) ==
	    (wqs ? (size_t)(wqs - w.target) : strlen(w.target)) &&
	    strncmp(target, w.target, gqs ? (size_t)(gqs - target) : strlen(target)) == 0;
	ngq = split_query(gqs ? gqs + 1 : NULL, &gq);
	nwq = split_query(wqs ? wqs + 1 : NULL, &wq);
	ok_q = same_multiset(gq, ngq, wq, nwq);
	if (strcmp(method, w.method) != 0 || !ok_p)
		bad(c, "%s: request line differs ('%s %s')", label, method, target);
	if (!ok_q)
		bad(c, "%s: query parameters differ", label);
	if (!ok_h) {
		bad(c, "%s: header set differs", label);
		if (opt_verbose || opt_tap) {
			for (i = 0; i < h->n; i++)
				printf("#   got  %s\n", ga[i]);
			for (i = 0; i < w.h.n; i++)
				printf("#   want %s\n", wa[i]);
		}
	}
	free_strv(ga, h->n);
	free_strv(wa, w.h.n);
	free_strv(gq, ngq);
	free_strv(wq, nwq);
	rawreq_free(&w);
}

static const char *
add_get(const struct bb_sigv4_result *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nadd; i++)
		if (strcasecmp(r->add[i].name, name) == 0)
			return r->add[i].value;
	return NULL;
}

/* ---- JSON helpers ---- */

static yajl_val
jget(yajl_val o, const char *key)
{
	const char *path[2] = { key, NULL };

	return o ? yajl_tree_get(o, path, yajl_t_any) : NULL;
}

static const char *
jstr(yajl_val o, const char *key)
{
	yajl_val v = jget(o, key);

	return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

static long long
jint(yajl_val o, const char *key, long long dflt)
{
	yajl_val v = jget(o, key);

	return YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : dflt;
}

/* -1 absent or null, else 0/1 */
static int
jbool(yajl_val o, const char *key)
{
	yajl_val v = jget(o, key);

	if (YAJL_IS_TRUE(v))
		return 1;
	if (YAJL_IS_FALSE(v))
		return 0;
	return -1;
}

static yajl_val
jparse_file(const char *path)
{
	char ebuf[256];
	char *s = slurp(path, NULL);
	yajl_val v;

	if (s == NULL)
		return NULL;
	v = yajl_tree_parse(s, ebuf, sizeof(ebuf));
	free(s);
	return v;
}

/* [[name, value], ...] or {name: value} */
static void
jheaders(yajl_val v, struct bb_http_headers *h)
{
	size_t i;

	if (YAJL_IS_ARRAY(v)) {
		for (i = 0; i < YAJL_GET_ARRAY(v)->len; i++) {
			yajl_val p = YAJL_GET_ARRAY(v)->values[i];
			if (YAJL_IS_ARRAY(p) && YAJL_GET_ARRAY(p)->len == 2) {
				const char *n = YAJL_GET_STRING(YAJL_GET_ARRAY(p)->values[0]);
				const char *x = YAJL_GET_STRING(YAJL_GET_ARRAY(p)->values[1]);
				if (n && x)
					hl_add(h, n, strlen(n), x, strlen(x));
			}
		}
	} else if (YAJL_IS_OBJECT(v)) {
		for (i = 0; i < YAJL_GET_OBJECT(v)->len; i++) {
			const char *n = YAJL_GET_OBJECT(v)->keys[i];
			const char *x = YAJL_GET_STRING(YAJL_GET_OBJECT(v)->values[i]);
			if (x)
				hl_add(h, n, strlen(n), x, strlen(x));
		}
	}
}

/* ---- aws-c-auth layout ---- */

static void
run_acauth_case(const char *dir, const char *name)
{
	static const char *const variants[] = { "header", "query" };
	struct rawreq rq;
	yajl_val ctx;
	char path[8192], label[512], body_hash[BB_SHA256_HEX];
	char *reqtext;
	size_t reqlen;
	int v;

	snprintf(path, sizeof(path), "%s/%s/request.txt", dir, name);
	reqtext = slurp(path, &reqlen);
	snprintf(path, sizeof(path), "%s/%s/context.json", dir, name);
	ctx = jparse_file(path);
	for (v = 0; v < 2; v++) {
		struct check c;
		struct bb_sigv4_creds cr;
		struct bb_sigv4_params p;
		struct bb_sigv4_request q;
		struct bb_sigv4_result r;
		struct bb_error err = BB_ERROR_INIT;
		struct bb_http_headers fin = { NULL, 0, 0 };
		yajl_val creds = jget(ctx, "credentials");
		const char *ts = jstr(ctx, "timestamp"), *sbv = jstr(ctx, "signed_body_value");
		int sign_body = jbool(ctx, "sign_body") == 1;
		char *want;
		size_t i;

		snprintf(label, sizeof(label), "aws-c-auth/%s [%s]", name, variants[v]);
		check_begin(&c, label);
		bb_sigv4_result_init(&r);
		if (reqtext == NULL || ctx == NULL || rawreq_parse(reqtext, reqlen, &rq)) {
			bad(&c, "cannot read request.txt or context.json");
			check_end(&c);
			continue;
		}
		cr.access_key = jstr(creds, "access_key_id");
		cr.secret_key = jstr(creds, "secret_access_key");
		cr.token = jstr(creds, "token");
		memset(&p, 0, sizeof(p));
		p.creds = &cr;
		p.region = jstr(ctx, "region");
		p.service = jstr(ctx, "service");
		if (ts == NULL || bb_sigv4_parse_date(ts, &p.now))
			bad(&c, "bad timestamp");
		p.expires = (long)jint(ctx, "expiration_in_seconds", 3600);
		if (jbool(ctx, "normalize") == 1)
			p.flags |= BB_SIGV4_NORMALIZE_PATH;
		if (jbool(ctx, "omit_session_token") == 1)
			p.flags |= BB_SIGV4_OMIT_TOKEN;
		/* harness rule: header signing with sign_body adds a signed
		 * x-amz-content-sha256; query signing only when the value is
		 * overridden (signed_body_value) */
		if (sign_body && (v == 0 || sbv))
			p.flags |= BB_SIGV4_CONTENT_SHA256;
		if (v == 1)
			p.flags |= BB_SIGV4_QUERY;
		bb_sha256_hex(sign_body ? rq.body : "", sign_body ? rq.body_len : 0, body_hash);
		q.method = rq.method;
		q.url = rq.target;
		q.headers = &rq.h;
		q.payload_hash = sbv ? sbv : body_hash;
		if (bb_sigv4_sign(&q, &p, &r, &err)) {
			bad(&c, "sign failed: %s", err.msg);
		} else {
			want = slurpf("%s/%s/%s-canonical-request.txt", dir, name, variants[v]);
			cmp(&c, "canonical request", r.canonical_request.data, want);
			free(want);
			want = slurpf("%s/%s/%s-string-to-sign.txt", dir, name, variants[v]);
			cmp(&c, "string to sign", r.string_to_sign.data, want);
			free(want);
			want = slurpf("%s/%s/%s-signature.txt", dir, name, variants[v]);
			cmp(&c, "signature", r.signature, want);
			free(want);
			hl_copy(&fin, &rq.h);
			for (i = 0; i < r.nadd; i++)
				hl_set(&fin, r.add[i].name, r.add[i].value);
			want = slurpf("%s/%s/%s-signed-request.txt", dir, name, variants[v]);
			if (want == NULL)
				bad(&c, "no %s-signed-request.txt", variants[v]);
			{
				const char *target = rq.target;
				if (v == 1) {
					/* the presigned URL is origin-form here */
					target = r.url.data;
				}
				cmp_signed_request(&c, "signed request", want, rq.method, target, &fin,
				    NULL);
			}
			free(want);
		}
		hl_free(&fin);
		bb_sigv4_result_release(&r);
		rawreq_free(&rq);
		check_end(&c);
	}
	free(reqtext);
	yajl_tree_free(ctx);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entries of a directory (without dot files). */
static size_t
list_dir(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0, cap = 16;
	char **v = malloc(cap * sizeof(*v));

	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap)
			v = realloc(v, (cap *= 2) * sizeof(*v));
		v[n++] = strdup(e->d_name);
	}
	if (d)
		closedir(d);
	qsort(v, n, sizeof(*v), name_cmp);
	*out = v;
	return n;
}

static void
run_acauth(const char *v4dir)
{
	char **names, path[8192];
	size_t n, i;

	n = list_dir(v4dir, &names);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s/request.txt", v4dir, names[i]);
		if (is_file(path))
			run_acauth_case(v4dir, names[i]);
	}
	free_strv(names, n);
}

/* ---- botocore layout ---- */

static void
run_boto_case(const char *dir, const char *name, const char *group)
{
	struct check c;
	struct rawreq rq, sr;
	struct bb_sigv4_creds cr = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		NULL };
	struct bb_sigv4_params p;
	struct bb_sigv4_request q;
	struct bb_sigv4_result r;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_http_headers fin = { NULL, 0, 0 };
	char label[512], hash[BB_SHA256_HEX], *text, *sreq, *want;
	const char *date = NULL, *tok;
	size_t len, i;

	snprintf(label, sizeof(label), "botocore:%s", *group ? group : name);
	check_begin(&c, label);
	bb_sigv4_result_init(&r);
	memset(&sr, 0, sizeof(sr));
	text = slurpf("%s/%s.req", dir, name);
	sreq = slurpf("%s/%s.sreq", dir, name);
	if (text == NULL || rawreq_parse(text, strlen(text), &rq)) {
		bad(&c, "cannot read %s.req", name);
		free(text);
		free(sreq);
		check_end(&c);
		return;
	}
	len = strlen(text);
	(void)len;
	for (i = 0; i < rq.h.n; i++)
		if (strcasecmp(rq.h.v[i].name, "x-amz-date") == 0)
			date = rq.h.v[i].value;
	memset(&p, 0, sizeof(p));
	p.creds = &cr;
	p.region = "us-east-1";
	p.service = "service";
	p.flags = BB_SIGV4_NORMALIZE_PATH;
	if (date == NULL || bb_sigv4_parse_date(date, &p.now))
		bad(&c, "no X-Amz-Date in %s.req", name);
	/* a token present in .sreq but not in .req was added after signing */
	if (sreq && rawreq_parse(sreq, strlen(sreq), &sr) == 0) {
		tok = NULL;
		for (i = 0; i < sr.h.n; i++)
			if (strcasecmp(sr.h.v[i].name, "x-amz-security-token") == 0)
				tok = sr.h.v[i].value;
		for (i = 0; tok && i < rq.h.n; i++)
			if (strcasecmp(rq.h.v[i].name, "x-amz-security-token") == 0)
				tok = NULL;
		/* ... signed or added after signing: the suite says which in
		 * .authz (post-sts-token/readme.txt) */
		if (tok) {
			char *authz = slurpf("%s/%s.authz", dir, name);
			cr.token = tok;
			if (authz == NULL || strstr(authz, "x-amz-security-token") == NULL)
				p.flags |= BB_SIGV4_OMIT_TOKEN;
			free(authz);
		}
	}
	bb_sha256_hex(rq.body, rq.body_len, hash);
	q.method = rq.method;
	q.url = rq.target;
	q.headers = &rq.h;
	q.payload_hash = hash;
	if (bb_sigv4_sign(&q, &p, &r, &err)) {
		bad(&c, "sign failed: %s", err.msg);
	} else {
		want = slurpf("%s/%s.creq", dir, name);
		cmp(&c, "canonical request", r.canonical_request.data, want);
		free(want);
		want = slurpf("%s/%s.sts", dir, name);
		cmp(&c, "string to sign", r.string_to_sign.data, want);
		free(want);
		want = slurpf("%s/%s.authz", dir, name);
		cmp(&c, "authorization", add_get(&r, "authorization"), want);
		free(want);
		hl_copy(&fin, &rq.h);
		for (i = 0; i < r.nadd; i++)
			hl_set(&fin, r.add[i].name, r.add[i].value);
		if (sreq == NULL)
			bad(&c, "no %s.sreq", name);
		/* the Authorization value is checked against .authz above; one
		 * upstream .sreq (get-vanilla-with-session-token) carries a stale
		 * signature there, so the .sreq copy is not compared */
		cmp_signed_request(&c, "signed request", sreq, rq.method, rq.target, &fin,
		    "authorization");
	}
	hl_free(&fin);
	bb_sigv4_result_release(&r);
	rawreq_free(&rq);
	rawreq_free(&sr);
	free(text);
	free(sreq);
	check_end(&c);
}

/* ---- flat JSON cases ---- */

struct flat {
	struct bb_sigv4_creds cr;
	struct bb_sigv4_params p;
	struct bb_sigv4_request q;
	struct bb_http_headers h;
	char hash[BB_SHA256_HEX];
	unsigned char *body;
	size_t body_len;
};

/* Map the flat input (ref_sign.py's format) onto signer parameters. */
static int
flat_setup(yajl_val in, struct flat *f, struct bb_buf *why)
{
	yajl_val opts = jget(in, "options");
	const char *ts = jstr(in, "timestamp"), *st = jstr(in, "signature_type");
	const char *b = jstr(in, "body"), *b64 = jstr(in, "body_base64");
	const char *url = jstr(in, "url");
	int s3 = jbool(opts, "s3") == 1, query = st && strcmp(st, "query") == 0, k;
	int unsigned_ok;

	memset(f, 0, sizeof(*f));
	f->cr.access_key = jstr(in, "access_key");
	f->cr.secret_key = jstr(in, "secret_key");
	f->cr.token = jstr(in, "token");
	f->p.creds = &f->cr;
	f->p.region = jstr(in, "region");
	f->p.service = jstr(in, "service");
	if (ts == NULL || bb_sigv4_parse_date(ts, &f->p.now)) {
		bb_buf_adds(why, "bad timestamp");
		return -1;
	}
	f->p.expires = (long)jint(in, "expires", 3600);
	if (s3)
		f->p.flags |= BB_SIGV4_S3;
	if (query)
		f->p.flags |= BB_SIGV4_QUERY;
	k = jbool(opts, "normalize_path");
	if (k == 1 || (k == -1 && !s3))
		f->p.flags |= BB_SIGV4_NORMALIZE_PATH;
	k = jbool(opts, "uri_encode_path");
	if (k == 1)
		f->p.flags |= BB_SIGV4_PATH_ENCODE_ALL;
	else if (k == 0)
		f->p.flags |= BB_SIGV4_PATH_ENCODE_ONCE;
	if (jbool(opts, "omit_session_token") == 1)
		f->p.flags |= BB_SIGV4_OMIT_TOKEN;
	if (jbool(opts, "content_sha256_header") == 1 && !s3 && !query)
		f->p.flags |= BB_SIGV4_CONTENT_SHA256;
	if (b) {
		f->body = (unsigned char *)strdup(b);
		f->body_len = strlen(b);
	} else if (b64) {
		f->body = malloc(strlen(b64) / 4 * 3 + 1);
		if (bb_base64_decode(b64, strlen(b64), f->body, &f->body_len)) {
			bb_buf_adds(why, "bad body_base64");
			return -1;
		}
	}
	bb_sha256_hex(f->body ? (const char *)f->body : "", f->body_len, f->hash);
	f->q.method = jstr(in, "method");
	f->q.url = url;
	jheaders(jget(in, "headers"), &f->h);
	f->q.headers = &f->h;
	/* botocore's payload rules: with payload signing switched off a
	 * non-S3 header signer adds a signed X-Amz-Content-SHA256:
	 * UNSIGNED-PAYLOAD (whatever the scheme); the query signer uses
	 * UNSIGNED-PAYLOAD over https only; S3 always honours the switch and
	 * presigns with UNSIGNED-PAYLOAD */
	unsigned_ok = jbool(opts, "unsigned_payload") == 1;
	if (unsigned_ok && !s3 && !query) {
		f->q.payload_hash = BB_SIGV4_UNSIGNED_PAYLOAD;
		f->p.flags |= BB_SIGV4_CONTENT_SHA256;
	} else if (jstr(in, "body_sha256")) {
		f->q.payload_hash = jstr(in, "body_sha256");
	} else if (unsigned_ok && (s3 || (url && strncmp(url, "https:", 6) == 0))) {
		f->q.payload_hash = BB_SIGV4_UNSIGNED_PAYLOAD;
	} else if (s3 && query) {
		f->q.payload_hash = NULL;
	} else {
		f->q.payload_hash = f->hash;
	}
	return 0;
}

static void
flat_release(struct flat *f)
{
	hl_free(&f->h);
	free(f->body);
}

static void
run_flat_case(const char *file, yajl_val cs)
{
	struct check c;
	struct flat f;
	struct bb_sigv4_result r;
	struct bb_error err = BB_ERROR_INIT;
	yajl_val in = jget(cs, "input"), ex = jget(cs, "expected");
	const char *name = jstr(cs, "name");
	char label[512];

	snprintf(label, sizeof(label), "%s/%s", file, name ? name : "?");
	check_begin(&c, label);
	bb_sigv4_result_init(&r);
	if (flat_setup(in, &f, &c.why) == 0) {
		if (bb_sigv4_sign(&f.q, &f.p, &r, &err)) {
			bad(&c, "sign failed: %s", err.msg);
		} else {
			cmp(&c, "canonical request", r.canonical_request.data,
			    jstr(ex, "canonical_request"));
			cmp(&c, "string to sign", r.string_to_sign.data, jstr(ex, "string_to_sign"));
			cmp(&c, "signature", r.signature, jstr(ex, "signature"));
			if (f.p.flags & BB_SIGV4_QUERY)
				cmp(&c, "presigned url", r.url.data, jstr(ex, "signed_url"));
			else
				cmp(&c, "authorization", add_get(&r, "authorization"),
				    jstr(ex, "authorization"));
		}
	}
	flat_release(&f);
	bb_sigv4_result_release(&r);
	check_end(&c);
}

/* ---- the S3 doc vectors (chunk and trailer signatures) ---- */

static int
sink_buf(const void *p, size_t n, void *ctx)
{
	return bb_buf_add(ctx, p, n);
}

/* Encode the object with the encoder, check its length and signatures,
 * and decode it again. */
static void
docvec_roundtrip(struct check *c, const struct bb_sigv4_stream *st, yajl_val in, yajl_val ex,
    const char *content_sha)
{
	struct bb_awschunked_enc e;
	struct bb_awschunked_dec d;
	struct bb_buf body = BB_BUF_INIT, back = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	enum bb_awschunked_mode mode = bb_awschunked_mode_parse(content_sha);
	yajl_val obj = jget(in, "object"), tr = jget(in, "trailing_headers");
	const char *byte = jstr(obj, "byte");
	enum bb_checksum_alg alg = BB_CKSUM_NONE;
	size_t len = (size_t)jint(obj, "length", 0), cs = (size_t)jint(in, "chunk_size", 0), off;
	char *data;
	uint64_t elen;

	if (mode == 0 || !byte || len == 0 || cs == 0)
		return;
	if (YAJL_IS_ARRAY(tr) && YAJL_GET_ARRAY(tr)->len == 1)
		alg = bb_checksum_alg_parse(YAJL_GET_STRING(
		    YAJL_GET_ARRAY(YAJL_GET_ARRAY(tr)->values[0])->values[0]));
	data = malloc(len);
	memset(data, byte[0], len);
	if (bb_awschunked_enc_init(&e, mode, st, alg, &err)) {
		bad(c, "encoder init: %s", err.msg);
		goto out;
	}
	for (off = 0; off < len; off += cs)
		bb_awschunked_enc_chunk(&e, data + off, len - off < cs ? len - off : cs, &body,
		    &err);
	bb_awschunked_enc_finish(&e, &body, &err);
	bb_awschunked_enc_release(&e);
	if (bb_awschunked_encoded_length(mode, len, cs, alg, &elen) || elen != body.len)
		bad(c, "encoded length %zu, computed %llu", body.len, (unsigned long long)elen);
	if (jint(ex, "encoded_content_length", -1) >= 0 &&
	    (long long)body.len != jint(ex, "encoded_content_length", -1))
		bad(c, "encoded length %zu, expected %lld", body.len,
		    jint(ex, "encoded_content_length", -1));
	{
		yajl_val ch = jget(ex, "chunks");
		size_t i;
		char needle[128];
		for (i = 0; YAJL_IS_ARRAY(ch) && i < YAJL_GET_ARRAY(ch)->len; i++) {
			yajl_val one = YAJL_GET_ARRAY(ch)->values[i];
			snprintf(needle, sizeof(needle), "%llx;chunk-signature=%s\r\n",
			    (unsigned long long)jint(one, "size", 0), jstr(one, "signature"));
			if (strstr(body.data, needle) == NULL)
				bad(c, "encoded body lacks chunk %zu signature", i + 1);
		}
		if (jstr(ex, "trailer_signature")) {
			snprintf(needle, sizeof(needle), "x-amz-trailer-signature:%s\r\n\r\n",
			    jstr(ex, "trailer_signature"));
			if (strstr(body.data, needle) == NULL)
				bad(c, "encoded body lacks the trailer signature");
		}
	}
	if (bb_awschunked_dec_init(&d, mode, st, alg ? bb_checksum_header(alg) : NULL, len,
	    &err) ||
	    bb_awschunked_dec_feed(&d, body.data, body.len, sink_buf, &back, &err) ||
	    bb_awschunked_dec_finish(&d, &err))
		bad(c, "decoder refused the encoded body: %s", err.msg);
	else if (back.len != len || memcmp(back.data, data, len) != 0)
		bad(c, "decoded body differs");
	bb_awschunked_dec_release(&d);
out:
	free(data);
	bb_buf_release(&body);
	bb_buf_release(&back);
}

static void
run_docvec_case(const char *file, yajl_val top, yajl_val cs)
{
	struct check c;
	struct bb_sigv4_creds cr;
	struct bb_sigv4_params p;
	struct bb_sigv4_request q;
	struct bb_sigv4_result r;
	struct bb_sigv4_stream st;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_http_headers h = { NULL, 0, 0 };
	struct bb_buf url = BB_BUF_INIT, sts = BB_BUF_INIT;
	yajl_val in = jget(cs, "inputs"), ex = jget(cs, "expected"), creds = jget(top, "credentials");
	yajl_val chunks = jget(ex, "chunks");
	const char *name = jstr(cs, "name"), *sigtype = jstr(cs, "signature_type");
	const char *ts = jstr(top, "timestamp"), *byte;
	char label[512], prev[BB_SHA256_HEX], sig[BB_SHA256_HEX], hex[BB_SHA256_HEX];
	size_t i;

	snprintf(label, sizeof(label), "%s/%s", file, name ? name : "?");
	check_begin(&c, label);
	bb_sigv4_result_init(&r);
	memset(&st, 0, sizeof(st));
	cr.access_key = jstr(creds, "access_key_id");
	cr.secret_key = jstr(creds, "secret_access_key");
	cr.token = NULL;
	memset(&p, 0, sizeof(p));
	p.creds = &cr;
	p.region = jstr(top, "region");
	p.service = jstr(top, "service");
	if (ts == NULL || bb_sigv4_parse_date(ts, &p.now))
		bad(&c, "bad timestamp");
	if (jstr(in, "method")) {
		bb_buf_addf(&url, "https://%s%s%s%s", jstr(in, "host"), jstr(in, "path"),
		    jstr(in, "query") && *jstr(in, "query") ? "?" : "",
		    jstr(in, "query") ? jstr(in, "query") : "");
		jheaders(jget(in, "headers"), &h);
		p.flags = BB_SIGV4_S3;
		if (sigtype && strcmp(sigtype, "query") == 0) {
			p.flags |= BB_SIGV4_QUERY;
			p.expires = (long)jint(in, "expires", 3600);
		}
		q.method = jstr(in, "method");
		q.url = url.data;
		q.headers = &h;
		q.payload_hash = jstr(in, "payload_sha256");
		if (bb_sigv4_sign(&q, &p, &r, &err)) {
			bad(&c, "sign failed: %s", err.msg);
		} else {
			cmp(&c, "canonical request", r.canonical_request.data,
			    jstr(ex, "canonical_request"));
			cmp(&c, "string to sign", r.string_to_sign.data, jstr(ex, "string_to_sign"));
			cmp(&c, "signature", r.signature, jstr(ex, "signature"));
			cmp(&c, "presigned url", r.url.len ? r.url.data : NULL,
			    jstr(ex, "presigned_url"));
			cmp(&c, "authorization", add_get(&r, "authorization"),
			    jstr(ex, "authorization"));
			st = r.stream;
			if (chunks && !st.valid)
				bad(&c, "no streaming context for a chunked payload");
		}
	} else if (jstr(in, "seed_signature")) {
		char date8[9];
		snprintf(date8, sizeof(date8), "%s", ts ? ts : "");
		bb_sigv4_signing_key(cr.secret_key, date8, p.region, p.service, st.key);
		snprintf(st.amz_date, sizeof(st.amz_date), "%s", ts ? ts : "");
		snprintf(st.scope, sizeof(st.scope), "%s", jstr(top, "credential_scope"));
		snprintf(st.seed, sizeof(st.seed), "%s", jstr(in, "seed_signature"));
		st.valid = 1;
	}
	if (YAJL_IS_ARRAY(chunks) && st.valid) {
		byte = jstr(jget(in, "object"), "byte");
		memcpy(prev, st.seed, sizeof(prev));
		for (i = 0; i < YAJL_GET_ARRAY(chunks)->len; i++) {
			yajl_val one = YAJL_GET_ARRAY(chunks)->values[i];
			size_t n = (size_t)jint(one, "size", 0);
			char *data = malloc(n + 1), what[64];
			memset(data, byte ? byte[0] : 'a', n);
			bb_sha256_hex(data, n, hex);
			free(data);
			snprintf(what, sizeof(what), "chunk %zu data hash", i + 1);
			cmp(&c, what, hex, jstr(one, "data_sha256"));
			bb_awschunked_chunk_signature(&st, prev, hex, sig, &sts);
			snprintf(what, sizeof(what), "chunk %zu string to sign", i + 1);
			cmp(&c, what, sts.data, jstr(one, "string_to_sign"));
			snprintf(what, sizeof(what), "chunk %zu signature", i + 1);
			cmp(&c, what, sig, jstr(one, "signature"));
			memcpy(prev, sig, sizeof(prev));
		}
		if (jstr(ex, "trailer_signature")) {
			yajl_val tr = jget(in, "trailing_headers");
			struct bb_sigv4_field f[16];
			struct bb_buf canon = BB_BUF_INIT;
			size_t n = 0;
			for (i = 0; YAJL_IS_ARRAY(tr) && i < YAJL_GET_ARRAY(tr)->len && n < 16; i++) {
				yajl_val pr = YAJL_GET_ARRAY(tr)->values[i];
				f[n].name = YAJL_GET_STRING(YAJL_GET_ARRAY(pr)->values[0]);
				f[n].value = YAJL_GET_STRING(YAJL_GET_ARRAY(pr)->values[1]);
				n++;
			}
			bb_awschunked_canonical_trailer(&canon, f, n);
			cmp(&c, "canonical trailer", bb_buf_str(&canon), jstr(ex, "trailer_canonical"));
			if (jstr(ex, "trailer_canonical_sha256")) {
				bb_sha256_hex(canon.data, canon.len, hex);
				cmp(&c, "canonical trailer hash", hex,
				    jstr(ex, "trailer_canonical_sha256"));
			}
			bb_awschunked_trailer_signature(&st, prev, bb_buf_str(&canon), canon.len,
			    sig, &sts);
			cmp(&c, "trailer string to sign", sts.data, jstr(ex, "trailer_string_to_sign"));
			cmp(&c, "trailer signature", sig, jstr(ex, "trailer_signature"));
			bb_buf_release(&canon);
		}
		docvec_roundtrip(&c, &st, in, ex, jstr(in, "payload_sha256"));
	} else if (YAJL_IS_ARRAY(chunks)) {
		bad(&c, "chunks expected but no signing context");
	}
	bb_sigv4_stream_wipe(&st);
	hl_free(&h);
	bb_buf_release(&url);
	bb_buf_release(&sts);
	bb_sigv4_result_release(&r);
	check_end(&c);
}

static void
run_json_file(const char *path)
{
	yajl_val top = jparse_file(path), cases = jget(top, "cases");
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t i;

	if (!YAJL_IS_ARRAY(cases)) {
		struct check c;
		check_begin(&c, path);
		bad(&c, "not a case file (no \"cases\" array)");
		check_end(&c);
		yajl_tree_free(top);
		return;
	}
	for (i = 0; i < YAJL_GET_ARRAY(cases)->len; i++) {
		yajl_val cs = YAJL_GET_ARRAY(cases)->values[i];
		if (jget(cs, "input"))
			run_flat_case(base, cs);
		else if (jget(cs, "inputs"))
			run_docvec_case(base, top, cs);
		else {
			struct check c;
			check_begin(&c, base);
			bad(&c, "case %zu has neither \"input\" nor \"inputs\"", i);
			check_end(&c);
		}
	}
	yajl_tree_free(top);
}

/* Walk a folder: aws-c-auth suite, botocore cases, JSON case files. `rel`
 * is the path below the folder given on the command line (for labels). */
static void
run_path(const char *path, const char *rel)
{
	char sub[4096], subrel[1024], **names;
	const char *base;
	size_t n, i, l;

	if (is_file(path)) {
		run_json_file(path);
		return;
	}
	snprintf(sub, sizeof(sub), "%s/v4", path);
	if (is_dir(sub)) {
		run_acauth(sub);
		return;
	}
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	snprintf(sub, sizeof(sub), "%s/%s.req", path, base);
	if (is_file(sub)) {
		run_boto_case(path, base, rel);
		return;
	}
	n = list_dir(path, &names);
	for (i = 0; i < n; i++) {
		l = strlen(names[i]);
		snprintf(sub, sizeof(sub), "%s/%s", path, names[i]);
		if (is_dir(sub)) {
			snprintf(subrel, sizeof(subrel), "%s%s%s", rel, *rel ? "/" : "", names[i]);
			run_path(sub, subrel);
		} else if (l > 5 && strcmp(names[i] + l - 5, ".json") == 0) {
			run_json_file(sub);
		}
	}
	free_strv(names, n);
}

/* ---- --sign: one flat request to JSON ---- */

static void
json_str(const char *key, const char *s, int last)
{
	const unsigned char *p;

	printf("  \"%s\": ", key);
	if (s == NULL) {
		printf("null%s\n", last ? "" : ",");
		return;
	}
	putchar('"');
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			printf("\\n");
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	printf("\"%s\n", last ? "" : ",");
}

static int
sign_one(const char *file)
{
	char ebuf[256], *text;
	struct bb_buf b = BB_BUF_INIT;
	struct flat f;
	struct bb_sigv4_result r;
	struct bb_error err = BB_ERROR_INIT;
	yajl_val in;
	int rc = 1;

	if (file) {
		text = slurp(file, NULL);
	} else {
		char tmp[4096];
		size_t n;
		bb_buf_adds(&b, "");
		while ((n = fread(tmp, 1, sizeof(tmp), stdin)) > 0)
			bb_buf_add(&b, tmp, n);
		text = bb_buf_detach(&b, NULL);
	}
	if (text == NULL || (in = yajl_tree_parse(text, ebuf, sizeof(ebuf))) == NULL) {
		fprintf(stderr, "sigv4-cases: cannot parse the request JSON\n");
		free(text);
		return 2;
	}
	bb_sigv4_result_init(&r);
	if (flat_setup(in, &f, &b) != 0) {
		fprintf(stderr, "sigv4-cases: %s\n", bb_buf_str(&b));
	} else if (bb_sigv4_sign(&f.q, &f.p, &r, &err)) {
		fprintf(stderr, "sigv4-cases: %s\n", err.msg);
	} else {
		printf("{\n");
		json_str("canonical_request", r.canonical_request.data, 0);
		json_str("string_to_sign", r.string_to_sign.data, 0);
		if (f.p.flags & BB_SIGV4_QUERY)
			json_str("signed_url", r.url.data, 0);
		else
			json_str("authorization", add_get(&r, "authorization"), 0);
		json_str("signature", r.signature, 1);
		printf("}\n");
		rc = 0;
	}
	flat_release(&f);
	bb_sigv4_result_release(&r);
	bb_buf_release(&b);
	yajl_tree_free(in);
	free(text);
	return rc;
}

int
main(int argc, char **argv)
{
	int i, nargs = 0;

	if (argc > 1 && strcmp(argv[1], "--sign") == 0)
		return sign_one(argc > 2 ? argv[2] : NULL);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tap") == 0) {
			opt_tap = 1;
		} else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			opt_verbose = 1;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: sigv4-cases [--tap] [-v] PATH...\n"
			    "       sigv4-cases --sign [FILE]\n");
			return 2;
		}
	}
	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		nargs++;
		if (!is_file(argv[i]) && !is_dir(argv[i])) {
			struct check c;
			check_begin(&c, argv[i]);
			bad(&c, "no such file or folder");
			check_end(&c);
			continue;
		}
		run_path(argv[i], "");
	}
	if (nargs == 0) {
		fprintf(stderr, "usage: sigv4-cases [--tap] [-v] PATH...\n");
		return 2;
	}
	if (opt_tap) {
		printf("1..%d\n", n_point);
		printf("# %d passed, %d failed\n", n_pass, n_fail);
	} else {
		printf("%d passed, %d failed\n", n_pass, n_fail);
	}
	return n_fail ? 1 : 0;
}
