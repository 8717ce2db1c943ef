/*
 * http.c - HTTP on libcurl; see http.h.
 *
 * Every request, bb_http_do's too, runs on the same engine: a transfer
 * (struct xfer) lives in a struct bb_http_multi, queued, running (an easy
 * handle in the CURLM) or waiting for its backoff timer. bb_http_do uses a
 * private multi of one slot. Connections, DNS and TLS sessions are kept in
 * a CURLSH shared by every easy handle of the client, so they are reused
 * across bb_http_do calls and parallel transfers alike.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "http.h"

#define DEFAULT_MAX_BODY ((size_t)16 << 20)
#define EASY_POOL_MAX 64
#define POLL_MAX_MS 1000

enum xfer_state { XFER_QUEUED, XFER_WAITING, XFER_RUNNING };

struct xfer {
	struct bb_http_multi *m;
	struct bb_http_req *req;
	struct bb_http_resp *resp;
	bb_http_done_fn done;
	void *ctx;
	unsigned long id;        /* for the trace */
	enum xfer_state state;
	int attempt;             /* attempts started */
	double start_at;         /* XFER_WAITING: when the next attempt may start */
	double t0;               /* start of this attempt */
	CURL *easy;
	struct curl_slist *hdrs;
	size_t body_off;         /* in-memory body: bytes sent */
	int body_read;           /* the streaming body was read this attempt */
	int wrote;               /* bytes were passed to req->write */
	int failed;              /* err holds a failure that must not be retried */
	struct bb_error err;
	char errbuf[CURL_ERROR_SIZE];
	struct xfer *next;
};

struct bb_http_multi {
	struct bb_http *h;
	CURLM *cm;
	int max_parallel;
	int nactive;             /* waiting + running */
	size_t nqueued;
	struct xfer *active;     /* waiting and running transfers */
	struct xfer *qhead, *qtail;
	int in_perform;
	int closing;
	unsigned long finished;  /* transfers ended (done callbacks called) */
};

struct bb_http {
	struct bb_http_opts o;
	char *ca_bundle;
	FILE *trace;
	int trace_close;
	CURLSH *share;
	CURL *pool[EASY_POOL_MAX];
	size_t npool;
	struct bb_http_multi *solo;   /* bb_http_do's */
	unsigned long next_id;
};

/* ---- small helpers ---- */

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Uniform in [0, 1): xorshift64*, per thread, seeded from the clock. */
static double
rand01(void)
{
	static _Thread_local uint64_t s;
	struct timespec ts;

	if (s == 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		s = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
		    ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&s;
		if (s == 0)
			s = 0x9e3779b97f4a7c15u;
	}
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return (double)((s * 0x2545f4914f6cdd1du) >> 11) / 9007199254740992.0;
}

/* The URL up to its query: error messages must not carry presigned parts. */
static void
url_noquery(const char *url, char *out, size_t n)
{
	size_t k = strcspn(url, "?#");

	if (k >= n)
		k = n - 1;
	memcpy(out, url, k);
	out[k] = '\0';
}

static int
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* ---- headers ---- */

void
bb_http_headers_init(struct bb_http_headers *h)
{
	h->v = NULL;
	h->n = 0;
	h->cap = 0;
}

/* Header values can be tokens (X-Amz-Security-Token, Authorization: Bearer,
 * the metadata service's token): wiped before they are freed. */
static void
value_free(char *v)
{
	if (v != NULL) {
		OPENSSL_cleanse(v, strlen(v));
		free(v);
	}
}

void
bb_http_headers_release(struct bb_http_headers *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		free(h->v[i].name);
		value_free(h->v[i].value);
	}
	free(h->v);
	bb_http_headers_init(h);
}

int
bb_http_headers_add(struct bb_http_headers *h, const char *name, const char *value)
{
	struct bb_http_header *nv;
	size_t cap, bytes;
	char *n = NULL, *v = NULL;

	if (h->n == h->cap) {
		cap = h->cap ? h->cap * 2 : 8;
		if (bb_size_mul(cap, sizeof(*nv), &bytes) != 0)
			return -1;
		nv = realloc(h->v, bytes);
		if (nv == NULL)
			return -1;
		h->v = nv;
		h->cap = cap;
	}
	n = strdup(name);
	v = strdup(value);
	if (n == NULL || v == NULL) {
		free(n);
		free(v);
		return -1;
	}
	h->v[h->n].name = n;
	h->v[h->n].value = v;
	h->n++;
	return 0;
}

void
bb_http_headers_del(struct bb_http_headers *h, const char *name)
{
	size_t i, j;

	for (i = j = 0; i < h->n; i++) {
		if (strcasecmp(h->v[i].name, name) == 0) {
			free(h->v[i].name);
			value_free(h->v[i].value);
		} else
			h->v[j++] = h->v[i];
	}
	h->n = j;
}

int
bb_http_headers_set(struct bb_http_headers *h, const char *name, const char *value)
{
	bb_http_headers_del(h, name);
	return bb_http_headers_add(h, name, value);
}

const char *
bb_http_headers_get(const struct bb_http_headers *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->v[i].name, name) == 0)
			return h->v[i].value;
	return NULL;
}

/* ---- requests and responses ---- */

void
bb_http_req_init(struct bb_http_req *req)
{
	memset(req, 0, sizeof(*req));
	bb_http_headers_init(&req->headers);
	req->body_size = -1;
}

void
bb_http_req_release(struct bb_http_req *req)
{
	bb_http_headers_release(&req->headers);
}

void
bb_http_resp_init(struct bb_http_resp *resp)
{
	resp->status = 0;
	bb_http_headers_init(&resp->headers);
	bb_buf_init(&resp->body);
	resp->attempts = 0;
}

void
bb_http_resp_release(struct bb_http_resp *resp)
{
	bb_http_headers_release(&resp->headers);
	bb_buf_release(&resp->body);
	resp->status = 0;
	resp->attempts = 0;
}

/* ---- redaction ---- */

static int
has_prefix_ci(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);

	return n >= k && strncasecmp(s, p, k) == 0;
}

/*
 * Append s[0..n), replacing the value after each of keys (matched without
 * case, and only where a key may begin: at the start or after one of
 * `before`) up to one of `stop` by "<redacted>".
 */
static int
redact_keys(struct bb_buf *out, const char *s, size_t n, const char *const *keys,
    const char *before, const char *stop)
{
	size_t i = 0, start = 0, k, klen;

	while (i < n) {
		for (k = 0; keys[k] != NULL; k++) {
			klen = strlen(keys[k]);
			if ((i == 0 || strchr(before, s[i - 1]) != NULL) &&
			    has_prefix_ci(s + i, n - i, keys[k]))
				break;
		}
		if (keys[k] == NULL) {
			i++;
			continue;
		}
		if (bb_buf_add(out, s + start, i + klen - start) != 0 ||
		    bb_buf_adds(out, "<redacted>") != 0)
			return -1;
		i += klen;
		while (i < n && strchr(stop, s[i]) == NULL)
			i++;
		start = i;
	}
	return bb_buf_add(out, s + start, n - start);
}

static const char *const query_keys[] = {
	"X-Amz-Signature=", "X-Amz-Credential=", "X-Amz-Security-Token=", NULL
};
static const char *const sigv4_keys[] = { "Credential=", "Signature=", NULL };

static int
redact_query(struct bb_buf *out, const char *s, size_t n)
{
	return redact_keys(out, s, n, query_keys, "?&; \t\"'", "& \t#\"'");
}

int
bb_http_redact(struct bb_buf *out, const char *line, size_t n)
{
	static const char *const whole[] = {
		"x-amz-security-token", "x-amz-sso_bearer_token", "x-amz-sso-bearer-token",
		"x-aws-ec2-metadata-token", "cookie", "set-cookie", NULL
	};
	size_t nl = 0, v, k;
	const char *val;
	size_t vn;

	while (nl < n && is_tchar((unsigned char)line[nl]))
		nl++;
	if (nl == 0 || nl >= n || line[nl] != ':')
		return redact_query(out, line, n);
	/* a header field: name ':' OWS value */
	v = nl + 1;
	while (v < n && (line[v] == ' ' || line[v] == '\t'))
		v++;
	if (bb_buf_add(out, line, v) != 0)
		return -1;
	val = line + v;
	vn = n - v;
	for (k = 0; whole[k] != NULL; k++)
		if (nl == strlen(whole[k]) && strncasecmp(line, whole[k], nl) == 0)
			return vn ? bb_buf_adds(out, "<redacted>") : 0;
	if ((nl == 13 && strncasecmp(line, "authorization", 13) == 0) ||
	    (nl == 19 && strncasecmp(line, "proxy-authorization", 19) == 0)) {
		if (has_prefix_ci(val, vn, "AWS4-"))
			return redact_keys(out, val, vn, sigv4_keys, " ,\t", " ,\t");
		/* keep the scheme ("Bearer", "Basic"), hide the rest */
		for (k = 0; k < vn && val[k] != ' '; k++)
			;
		if (k < vn && bb_buf_add(out, val, k + 1) != 0)
			return -1;
		return vn ? bb_buf_adds(out, "<redacted>") : 0;
	}
	if (has_prefix_ci(val, vn, "Bearer "))
		return bb_buf_adds(out, "Bearer <redacted>");
	return redact_query(out, val, vn);
}

/* ---- client ---- */

struct bb_http *
bb_http_new(const struct bb_http_opts *opts, struct bb_error *err)
{
	struct bb_http *h;
	const char *ca, *tp;

	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		bb_error_errno(err, "cannot create an HTTP client");
		return NULL;
	}
	if (opts != NULL)
		h->o = *opts;
	if (h->o.connect_timeout_ms < 0 || h->o.timeout_ms < 0 || h->o.low_speed_bytes < 0 ||
	    h->o.low_speed_secs < 0 || h->o.max_attempts < 0 || !(h->o.backoff_base >= 0) ||
	    !(h->o.backoff_max >= 0)) {
		bb_error_set(err, BB_ERR_USAGE, "invalid HTTP client options");
		goto fail;
	}
	if (h->o.connect_timeout_ms == 0)
		h->o.connect_timeout_ms = 10000;
	if (h->o.low_speed_bytes == 0)
		h->o.low_speed_bytes = 1;
	if (h->o.low_speed_secs == 0)
		h->o.low_speed_secs = 60;
	if (h->o.max_attempts == 0)
		h->o.max_attempts = 5;
	if (h->o.backoff_base == 0)
		h->o.backoff_base = 0.2;
	if (h->o.backoff_max == 0)
		h->o.backoff_max = 20;
	h->o.ca_bundle = NULL;
	h->o.trace_path = NULL;

	ca = opts && opts->ca_bundle ? opts->ca_bundle : getenv("AWS_CA_BUNDLE");
	if (ca != NULL && *ca != '\0') {
		if (access(ca, R_OK) != 0) {
			bb_error_errno(err, "cannot read CA bundle '%s'", ca);
			goto fail;
		}
		if ((h->ca_bundle = strdup(ca)) == NULL) {
			bb_error_errno(err, "cannot create an HTTP client");
			goto fail;
		}
	}
	tp = opts && opts->trace_path ? opts->trace_path : getenv("BB_TRACE");
	if (tp != NULL && *tp != '\0') {
		if (strcmp(tp, "-") == 0)
			h->trace = stderr;
		else {
			h->trace = fopen(tp, "a");
			if (h->trace == NULL) {
				bb_error_errno(err, "cannot open trace file '%s'", tp);
				goto fail;
			}
			h->trace_close = 1;
		}
	}
	h->share = curl_share_init();
	if (h->share == NULL ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		bb_error_set(err, BB_ERR_SYSTEM, "cannot set up libcurl connection sharing");
		goto fail;
	}
	return h;
fail:
	bb_http_free(h);
	return NULL;
}

void
bb_http_free(struct bb_http *h)
{
	size_t i;

	if (h == NULL)
		return;
	bb_http_multi_free(h->solo);
	for (i = 0; i < h->npool; i++)
		curl_easy_cleanup(h->pool[i]);
	if (h->share != NULL)
		curl_share_cleanup(h->share);
	if (h->trace_close)
		fclose(h->trace);
	free(h->ca_bundle);
	free(h);
}

static CURL *
easy_get(struct bb_http *h)
{
	CURL *e;

	if (h->npool > 0) {
		e = h->pool[--h->npool];
		curl_easy_reset(e);
		return e;
	}
	return curl_easy_init();
}

static void
easy_put(struct bb_http *h, CURL *e)
{
	if (e == NULL)
		return;
	if (h->npool < EASY_POOL_MAX)
		h->pool[h->npool++] = e;
	else
		curl_easy_cleanup(e);
}

/* ---- retry policy ---- */

int
bb_http_status_retryable(long status)
{
	switch (status) {
	case 408: case 429: case 500: case 502: case 503: case 504:
		return 1;
	default:
		return 0;
	}
}

static int
curlcode_retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* The server's certificate failed verification, or the CA bundle could
 * not be used: a configuration matter. */
static int
curlcode_tls_trust(CURLcode cc)
{
	switch (cc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return 1;
	default:
		return 0;
	}
}

/* Retry-After: delta seconds or an HTTP-date; -1 when absent or invalid. */
static double
retry_after(const struct bb_http_resp *last)
{
	const char *v;
	char *end;
	double d;
	time_t t;

	if (last == NULL || (v = bb_http_headers_get(&last->headers, "Retry-After")) == NULL)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		errno = 0;
		d = strtod(v, &end);
		while (*end == ' ' || *end == '\t')
			end++;
		if (errno != 0 || *end != '\0' || strchr(v, '.') != NULL)
			return -1;
		return d;
	}
	t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	d = difftime(t, time(NULL));
	return d < 0 ? 0 : d;
}

double
bb_http_backoff(const struct bb_http *h, int attempt, const struct bb_http_resp *last)
{
	double ra, cap;
	int i;

	ra = retry_after(last);
	if (ra >= 0)
		return ra < h->o.backoff_max ? ra : h->o.backoff_max;
	cap = h->o.backoff_base;
	for (i = 1; i < attempt && cap < h->o.backoff_max; i++)
		cap *= 2;
	if (cap > h->o.backoff_max)
		cap = h->o.backoff_max;
	return rand01() * cap;
}

/* ---- trace ---- */

static void
trace_line(struct bb_http *h, unsigned long id, char tag, const char *s, size_t n)
{
	struct bb_buf b = BB_BUF_INIT;

	if (bb_buf_addf(&b, "%lu %c ", id, tag) == 0 && bb_http_redact(&b, s, n) == 0 &&
	    bb_buf_addc(&b, '\n') == 0)
		fwrite(b.data, 1, b.len, h->trace);
	bb_buf_release(&b);
}

__attribute__((format(printf, 3, 4)))
static void
trace_note(struct bb_http *h, unsigned long id, const char *fmt, ...)
{
	struct bb_buf b = BB_BUF_INIT;
	va_list ap;

	if (h->trace == NULL)
		return;
	va_start(ap, fmt);
	if (bb_buf_vaddf(&b, fmt, ap) == 0)
		trace_line(h, id, '=', b.data, b.len);
	va_end(ap);
	bb_buf_release(&b);
	fflush(h->trace);
}

static int
cb_debug(CURL *e, curl_infotype type, char *data, size_t size, void *p)
{
	struct xfer *x = p;
	struct bb_http *h = x->m->h;
	size_t i, j;
	char tag;

	(void)e;
	switch (type) {
	case CURLINFO_TEXT: tag = '*'; break;
	case CURLINFO_HEADER_IN: tag = '<'; break;
	case CURLINFO_HEADER_OUT: tag = '>'; break;
	default: return 0;
	}
	for (i = 0; i < size; i = j + 1) {
		for (j = i; j < size && data[j] != '\n'; j++)
			;
		if (j > i && data[j - 1] == '\r')
			trace_line(h, x->id, tag, data + i, j - i - 1);
		else if (j > i)
			trace_line(h, x->id, tag, data + i, j - i);
	}
	fflush(h->trace);
	return 0;
}

/* ---- libcurl callbacks ---- */

static size_t
cb_header(char *p, size_t size, size_t nitems, void *ctx)
{
	struct xfer *x = ctx;
	size_t n = size * nitems, k, v, e;
	char *name = NULL, *val = NULL;
	long st;

	e = n;
	while (e > 0 && (p[e - 1] == '\n' || p[e - 1] == '\r'))
		e--;
	if (e >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* a new response (1xx interim ones included): start over */
		for (k = 5; k < e && p[k] != ' '; k++)
			;
		st = 0;
		for (k++; k < e && p[k] >= '0' && p[k] <= '9' && st < 1000; k++)
			st = st * 10 + (p[k] - '0');
		x->resp->status = st;
		bb_http_headers_release(&x->resp->headers);
		return n;
	}
	if (e == 0 || p[0] == ' ' || p[0] == '\t')
		return n;   /* end of the block, or obsolete line folding */
	for (k = 0; k < e && p[k] != ':'; k++)
		;
	if (k == e || k == 0)
		return n;
	v = k + 1;
	while (v < e && (p[v] == ' ' || p[v] == '\t'))
		v++;
	while (e > v && (p[e - 1] == ' ' || p[e - 1] == '\t'))
		e--;
	name = strndup(p, k);
	val = strndup(p + v, e - v);
	if (name == NULL || val == NULL ||
	    bb_http_headers_add(&x->resp->headers, name, val) != 0) {
		bb_error_set(&x->err, BB_ERR_SYSTEM, "out of memory reading response headers");
		x->failed = 1;
		n = 0;
	}
	free(name);
	free(val);
	return n;
}

static size_t
cb_write(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct xfer *x = ctx;
	struct bb_http_req *req = x->req;
	size_t n = size * nmemb, max;

	if (req->write != NULL && x->resp->status >= 200 && x->resp->status < 300) {
		x->wrote = 1;
		if (req->write(p, n, req->write_ctx) != 0) {
			bb_error_set(&x->err, BB_ERR_SYSTEM, "cannot store the response body");
			x->failed = 1;
			return 0;
		}
		return n;
	}
	max = req->max_body ? req->max_body : DEFAULT_MAX_BODY;
	if (x->resp->body.len > max || n > max - x->resp->body.len) {
		bb_error_set(&x->err, BB_ERR_REMOTE, "response body larger than %zu bytes", max);
		x->failed = 1;
		return 0;
	}
	if (bb_buf_add(&x->resp->body, p, n) != 0) {
		bb_error_errno(&x->err, "cannot store the response body");
		x->failed = 1;
		return 0;
	}
	return n;
}

static size_t
cb_read(char *p, size_t size, size_t nitems, void *ctx)
{
	struct xfer *x = ctx;
	struct bb_http_req *req = x->req;
	size_t n = size * nitems, r;

	if (req->read != NULL) {
		x->body_read = 1;
		r = req->read(p, n, req->read_ctx);
		if (r == (size_t)-1 || r > n) {
			bb_error_set(&x->err, BB_ERR_SYSTEM, "cannot read the request body");
			x->failed = 1;
			return CURL_READFUNC_ABORT;
		}
		return r;
	}
	r = req->body_len - x->body_off;
	if (r > n)
		r = n;
	if (r > 0)
		memcpy(p, (const char *)req->body + x->body_off, r);
	x->body_off += r;
	return r;
}

/* libcurl rewinds by itself when a reused connection turns out dead. */
static int
cb_seek(void *ctx, curl_off_t off, int origin)
{
	struct xfer *x = ctx;
	struct bb_http_req *req = x->req;

	if (off != 0 || origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	if (req->read == NULL) {
		x->body_off = 0;
		return CURL_SEEKFUNC_OK;
	}
	if (req->rewind == NULL)
		return CURL_SEEKFUNC_CANTSEEK;
	return req->rewind(req->read_ctx) == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
}

/* ---- transfers ---- */

static int
is_method(const char *m, const char *want)
{
	return strcmp(m, want) == 0;
}

static int
setup_easy(struct xfer *x)
{
	struct bb_http *h = x->m->h;
	struct bb_http_req *req = x->req;
	const char *method = req->method ? req->method : "GET";
	CURL *e = x->easy;
	struct curl_slist *sl;
	struct bb_buf line = BB_BUF_INIT;
	size_t i;
	long tmo;
	int upload, rc = -1;

	upload = req->body != NULL || req->read != NULL || is_method(method, "PUT") ||
	    is_method(method, "POST") || is_method(method, "PATCH");
	for (i = 0; i < req->headers.n; i++) {
		bb_buf_reset(&line);
		if (bb_buf_addf(&line, *req->headers.v[i].value ? "%s: %s" : "%s;",
		    req->headers.v[i].name, req->headers.v[i].value) != 0)
			goto nomem;
		sl = curl_slist_append(x->hdrs, line.data);
		OPENSSL_cleanse(line.data, line.len);   /* a realloc must not copy a token */
		if (sl == NULL)
			goto nomem;
		x->hdrs = sl;
	}
	if (bb_http_headers_get(&req->headers, "Expect") == NULL) {
		if ((sl = curl_slist_append(x->hdrs, "Expect:")) == NULL)
			goto nomem;
		x->hdrs = sl;
	}
	tmo = req->timeout_ms > 0 ? req->timeout_ms : h->o.timeout_ms;
	x->errbuf[0] = '\0';
	if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK) {
		bb_error_set(&x->err, BB_ERR_USAGE, "invalid URL");
		goto out;
	}
	curl_easy_setopt(e, CURLOPT_SHARE, h->share);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_bundle != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_bundle);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, tmo);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, h->o.low_speed_bytes);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, h->o.low_speed_secs);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, cb_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cb_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	if (req->flags & BB_HTTP_NO_PROXY) {
		curl_easy_setopt(e, CURLOPT_PROXY, "");
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	}
	if ((req->flags & BB_HTTP_HEAD) || is_method(method, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		if (!is_method(method, "HEAD"))
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	} else if (upload) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, cb_read);
		curl_easy_setopt(e, CURLOPT_READDATA, x);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, cb_seek);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(req->read != NULL ?
		    req->body_size : (int64_t)req->body_len));
		if (!is_method(method, "PUT"))
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		if (!is_method(method, "GET"))
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}
	if (h->trace != NULL) {
		curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, cb_debug);
		curl_easy_setopt(e, CURLOPT_DEBUGDATA, x);
		curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
	}
	rc = 0;
	goto out;
nomem:
	bb_error_set(&x->err, BB_ERR_SYSTEM, "out of memory building a request");
out:
	bb_buf_release(&line);
	return rc;
}

static void
xfer_release_easy(struct xfer *x)
{
	struct curl_slist *sl;

	if (x->easy != NULL) {
		if (x->state == XFER_RUNNING)
			curl_multi_remove_handle(x->m->cm, x->easy);
		easy_put(x->m->h, x->easy);
		x->easy = NULL;
	}
	for (sl = x->hdrs; sl != NULL; sl = sl->next)
		OPENSSL_cleanse(sl->data, strlen(sl->data));
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
}

static void
active_unlink(struct bb_http_multi *m, struct xfer *x)
{
	struct xfer **pp;

	for (pp = &m->active; *pp != NULL; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			m->nactive--;
			return;
		}
}

/* The end of a transfer (x is active): hand the outcome to its owner. */
static void
xfer_finish(struct xfer *x, int rc)
{
	struct bb_http_multi *m = x->m;
	char url[512];

	xfer_release_easy(x);
	active_unlink(m, x);
	if (rc == 0) {
		bb_error_clear(&x->err);
		trace_note(m->h, x->id, "status %ld after %d attempt(s)", x->resp->status,
		    x->attempt);
	} else {
		if (x->err.msg[0] == '\0')
			bb_error_set(&x->err, BB_ERR_NETWORK, "request failed");
		url_noquery(x->req->url ? x->req->url : "", url, sizeof(url));
		bb_error_prefix(&x->err, "%s %s", x->req->method ? x->req->method : "GET", url);
		trace_note(m->h, x->id, "failed after %d attempt(s): %s", x->attempt, x->err.msg);
	}
	x->resp->attempts = x->attempt;
	m->finished++;
	if (x->done != NULL)
		x->done(x->req, x->resp, rc, &x->err, x->ctx);
	free(x);
}

/* Start the next attempt (x is active): 0, or -1 when x was finished. */
static int
xfer_start(struct xfer *x)
{
	struct bb_http_multi *m = x->m;
	struct bb_http_req *req = x->req;
	struct bb_http_resp *resp = x->resp;

	x->attempt++;
	resp->status = 0;
	resp->attempts = x->attempt;
	bb_http_headers_release(&resp->headers);
	bb_buf_reset(&resp->body);
	x->body_off = 0;
	x->body_read = 0;
	x->wrote = 0;
	x->failed = 0;
	bb_error_clear(&x->err);
	if (req->prepare != NULL && req->prepare(req, x->attempt, req->prepare_ctx, &x->err) != 0) {
		if (x->err.msg[0] == '\0')
			bb_error_set(&x->err, BB_ERR_SYSTEM, "cannot prepare the request");
		goto fail;
	}
	if (req->url == NULL) {
		bb_error_set(&x->err, BB_ERR_USAGE, "request without a URL");
		goto fail;
	}
	if (req->read != NULL && req->body_size < -1) {
		bb_error_set(&x->err, BB_ERR_USAGE, "invalid request body size");
		goto fail;
	}
	if ((x->easy = easy_get(m->h)) == NULL) {
		bb_error_set(&x->err, BB_ERR_SYSTEM, "cannot create a libcurl handle");
		goto fail;
	}
	if (setup_easy(x) != 0)
		goto fail;
	if (m->h->trace != NULL) {
		struct bb_buf u = BB_BUF_INIT;

		if (redact_query(&u, req->url, strlen(req->url)) == 0)
			trace_note(m->h, x->id, "attempt %d: %s %s", x->attempt,
			    req->method ? req->method : "GET", bb_buf_str(&u));
		bb_buf_release(&u);
	}
	if (curl_multi_add_handle(m->cm, x->easy) != CURLM_OK) {
		bb_error_set(&x->err, BB_ERR_SYSTEM, "cannot start a libcurl transfer");
		goto fail;
	}
	x->state = XFER_RUNNING;
	x->t0 = now_mono();
	return 0;
fail:
	x->failed = 1;
	xfer_finish(x, -1);
	return -1;
}

/* Can x be tried again? Rewinds what has to be rewound. */
static int
xfer_can_retry(struct xfer *x)
{
	struct bb_http_req *req = x->req;

	if ((req->flags & BB_HTTP_NO_RETRY) || x->attempt >= x->m->h->o.max_attempts)
		return 0;
	if (req->read != NULL && x->body_read &&
	    (req->rewind == NULL || req->rewind(req->read_ctx) != 0))
		return 0;
	if (x->wrote && (req->write_reset == NULL || req->write_reset(req->write_ctx) != 0))
		return 0;
	return 1;
}

static void
xfer_retry_later(struct xfer *x, const char *why)
{
	double d = bb_http_backoff(x->m->h, x->attempt, x->resp);

	xfer_release_easy(x);
	trace_note(x->m->h, x->id, "retry in %.3f s: %s", d, why);
	x->state = XFER_WAITING;
	x->start_at = now_mono() + d;
}

/* An attempt ended with libcurl code cc. */
static void
xfer_attempt_done(struct xfer *x, CURLcode cc)
{
	char why[64];

	curl_multi_remove_handle(x->m->cm, x->easy);
	x->state = XFER_WAITING;   /* not in the CURLM any more */
	if (x->failed) {
		xfer_finish(x, -1);
		return;
	}
	if (cc == CURLE_OK) {
		if (bb_http_status_retryable(x->resp->status) && xfer_can_retry(x)) {
			snprintf(why, sizeof(why), "status %ld", x->resp->status);
			xfer_retry_later(x, why);
		} else
			xfer_finish(x, 0);
		return;
	}
	/* A certificate not trusted is not the network: no retry will help,
	 * and no caller should wait for it to come back. */
	if (curlcode_tls_trust(cc))
		bb_error_set(&x->err, BB_ERR_USAGE, "%s (the server's certificate is not "
		    "trusted; for an endpoint with a private CA, name its certificate with "
		    "AWS_CA_BUNDLE or the profile's ca_bundle)", x->errbuf[0] ? x->errbuf :
		    curl_easy_strerror(cc));
	else
		bb_error_set(&x->err, BB_ERR_NETWORK, "%s", x->errbuf[0] ? x->errbuf :
		    curl_easy_strerror(cc));
	if (curlcode_retryable(cc) && xfer_can_retry(x)) {
		x->resp->status = 0;
		xfer_retry_later(x, x->err.msg);
		return;
	}
	if (x->attempt > 1)
		bb_error_prefix(&x->err, "after %d attempts", x->attempt);
	xfer_finish(x, -1);
}

/* ---- multi ---- */

struct bb_http_multi *
bb_http_multi_new(struct bb_http *h, int max_parallel, struct bb_error *err)
{
	struct bb_http_multi *m;

	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		bb_error_errno(err, "cannot create a transfer set");
		return NULL;
	}
	m->h = h;
	m->max_parallel = max_parallel < 1 ? 1 : max_parallel;
	m->cm = curl_multi_init();
	if (m->cm == NULL) {
		bb_error_set(err, BB_ERR_SYSTEM, "cannot create a libcurl multi handle");
		free(m);
		return NULL;
	}
	curl_multi_setopt(m->cm, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)m->max_parallel);
	return m;
}

int
bb_http_multi_add(struct bb_http_multi *m, struct bb_http_req *req, struct bb_http_resp *resp,
    bb_http_done_fn done, void *ctx, struct bb_error *err)
{
	struct xfer *x;

	if (m->closing)
		return bb_error_set(err, BB_ERR_USAGE, "transfer set is being freed");
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return bb_error_errno(err, "cannot queue a transfer");
	x->m = m;
	x->req = req;
	x->resp = resp;
	x->done = done;
	x->ctx = ctx;
	x->id = ++m->h->next_id;
	x->state = XFER_QUEUED;
	if (m->qtail != NULL)
		m->qtail->next = x;
	else
		m->qhead = x;
	m->qtail = x;
	m->nqueued++;
	return 0;
}

size_t
bb_http_multi_pending(const struct bb_http_multi *m)
{
	return m->nqueued + (size_t)m->nactive;
}

/* Start what may start. */
static void
multi_start_ready(struct bb_http_multi *m)
{
	struct xfer *x, *nx;
	double now = now_mono();

	for (x = m->active; x != NULL; x = nx) {
		nx = x->next;
		if (x->state == XFER_WAITING && x->easy == NULL && x->start_at <= now)
			xfer_start(x);   /* may finish x (and unlink it) */
	}
	while (m->qhead != NULL && m->nactive < m->max_parallel) {
		x = m->qhead;
		m->qhead = x->next;
		if (m->qhead == NULL)
			m->qtail = NULL;
		m->nqueued--;
		x->next = m->active;
		m->active = x;
		m->nactive++;
		xfer_start(x);
	}
}

/* Drive m for at most timeout_ms; with until_done, only until a transfer
 * has ended. */
static int
multi_run(struct bb_http_multi *m, long timeout_ms, int until_done, struct bb_error *err)
{
	double deadline, wait, now;
	CURLMsg *msg;
	CURLMcode mc;
	struct xfer *x;
	void *pv;
	int still, left, rc = -1;
	long wait_ms;
	unsigned long finished = m->finished;

	if (m->in_perform)
		return bb_error_set(err, BB_ERR_USAGE, "bb_http_multi_perform called recursively");
	m->in_perform = 1;
	deadline = timeout_ms < 0 ? -1 : now_mono() + (double)timeout_ms / 1000;
	for (;;) {
		multi_start_ready(m);
		mc = curl_multi_perform(m->cm, &still);
		if (mc != CURLM_OK) {
			bb_error_set(err, BB_ERR_SYSTEM, "libcurl: %s", curl_multi_strerror(mc));
			goto out;
		}
		while ((msg = curl_multi_info_read(m->cm, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			pv = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &pv);
			if ((x = pv) != NULL)
				xfer_attempt_done(x, msg->data.result);
		}
		if (bb_http_multi_pending(m) == 0 || (until_done && m->finished != finished))
			break;
		now = now_mono();
		if (deadline >= 0 && now >= deadline)
			break;
		/* something may start right away: go round without sleeping */
		if (m->qhead != NULL && m->nactive < m->max_parallel)
			continue;
		wait = 1e9;
		for (x = m->active; x != NULL; x = x->next)
			if (x->state == XFER_WAITING && x->start_at - now < wait)
				wait = x->start_at - now;
		if (wait <= 0)
			continue;
		if (wait > (double)POLL_MAX_MS / 1000)
			wait = (double)POLL_MAX_MS / 1000;
		if (deadline >= 0 && deadline - now < wait)
			wait = deadline - now;
		wait_ms = (long)(wait * 1000) + 1;
		mc = curl_multi_poll(m->cm, NULL, 0, (int)wait_ms, NULL);
		if (mc != CURLM_OK) {
			bb_error_set(err, BB_ERR_SYSTEM, "libcurl: %s", curl_multi_strerror(mc));
			goto out;
		}
	}
	rc = (int)(bb_http_multi_pending(m) > INT32_MAX ? INT32_MAX : bb_http_multi_pending(m));
out:
	m->in_perform = 0;
	return rc;
}

int
bb_http_multi_perform(struct bb_http_multi *m, long timeout_ms, struct bb_error *err)
{
	return multi_run(m, timeout_ms, 0, err);
}

int
bb_http_multi_wait(struct bb_http_multi *m, long timeout_ms, struct bb_error *err)
{
	return multi_run(m, timeout_ms, 1, err);
}

void
bb_http_multi_free(struct bb_http_multi *m)
{
	struct xfer *x;

	if (m == NULL)
		return;
	m->closing = 1;
	while ((x = m->active) != NULL) {
		bb_error_set(&x->err, BB_ERR_SYSTEM, "cancelled");
		xfer_finish(x, -1);
	}
	while ((x = m->qhead) != NULL) {
		m->qhead = x->next;
		m->nqueued--;
		x->next = NULL;
		m->active = x;
		m->nactive++;
		bb_error_set(&x->err, BB_ERR_SYSTEM, "cancelled");
		xfer_finish(x, -1);
	}
	curl_multi_cleanup(m->cm);
	free(m);
}

/* ---- one request ---- */

struct do_result {
	int done;
	int rc;
	struct bb_error *err;
};

static void
do_done(struct bb_http_req *req, struct bb_http_resp *resp, int rc, const struct bb_error *e,
    void *ctx)
{
	struct do_result *r = ctx;

	(void)req;
	(void)resp;
	r->done = 1;
	r->rc = rc;
	if (rc != 0 && r->err != NULL)
		*r->err = *e;
}

int
bb_http_do(struct bb_http *h, struct bb_http_req *req, struct bb_http_resp *resp,
    struct bb_error *err)
{
	struct do_result r = { 0, -1, err };

	if (h->solo == NULL && (h->solo = bb_http_multi_new(h, 1, err)) == NULL)
		return -1;
	if (h->solo->in_perform)
		return bb_error_set(err, BB_ERR_USAGE, "bb_http_do called from its own callback");
	if (bb_http_multi_add(h->solo, req, resp, do_done, &r, err) != 0)
		return -1;
	while (!r.done)
		if (bb_http_multi_perform(h->solo, -1, err) < 0) {
			/* cancel the transfer while r is still alive */
			r.err = NULL;
			bb_http_multi_free(h->solo);
			h->solo = NULL;
			return -1;
		}
	return r.rc;
}
