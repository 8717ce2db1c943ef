/* unit-http.c - the HTTP client against tests/fixtures/flaky_server.py. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http.h"
#include "tap.h"

static pid_t server_pid = -1;
static int server_stdin = -1;
static char base[64];

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
server_start(void)
{
	const char *srcdir = getenv("top_srcdir");
	char script[4096], line[32];
	int in[2], out[2];
	struct pollfd pfd;
	ssize_t r;
	size_t got = 0;

	snprintf(script, sizeof(script), "%s/tests/fixtures/flaky_server.py",
	    srcdir ? srcdir : ".");
	if (access(script, R_OK) != 0 || pipe(in) != 0 || pipe(out) != 0)
		return -1;
	server_pid = fork();
	if (server_pid < 0)
		return -1;
	if (server_pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execlp("python3", "python3", script, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	server_stdin = in[1];
	pfd.fd = out[0];
	pfd.events = POLLIN;
	while (got < sizeof(line) - 1 && poll(&pfd, 1, 10000) == 1) {
		r = read(out[0], line + got, 1);
		if (r <= 0 || line[got] == '\n')
			break;
		got++;
	}
	line[got] = '\0';
	close(out[0]);
	if (got == 0 || atoi(line) <= 0)
		return -1;
	snprintf(base, sizeof(base), "http://127.0.0.1:%s", line);
	return 0;
}

static void
server_stop(void)
{
	if (server_pid > 0) {
		close(server_stdin);
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
	}
}

static struct bb_http *
client(int max_attempts, double backoff_max, const char *trace)
{
	struct bb_http_opts o;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_http *h;

	memset(&o, 0, sizeof(o));
	o.max_attempts = max_attempts;
	o.backoff_base = 0.001;
	o.backoff_max = backoff_max;
	o.timeout_ms = 10000;
	o.trace_path = trace;
	h = bb_http_new(&o, &err);
	if (h == NULL)
		diag("bb_http_new: %s", err.msg);
	return h;
}

/* GET (or method) base+path; returns rc, fills resp. */
static int
fetch(struct bb_http *h, const char *method, const char *path, struct bb_http_resp *resp,
    struct bb_error *err)
{
	struct bb_http_req req;
	char url[1024];
	int rc;

	snprintf(url, sizeof(url), "%s%s", base, path);
	bb_http_req_init(&req);
	req.method = method;
	req.url = url;
	rc = bb_http_do(h, &req, resp, err);
	bb_http_req_release(&req);
	return rc;
}

static long
count(struct bb_http *h, const char *path)
{
	struct bb_http_resp resp;
	char p[300];
	long n = -1;

	snprintf(p, sizeof(p), "/count%s", path);
	bb_http_resp_init(&resp);
	if (fetch(h, "GET", p, &resp, NULL) == 0 && resp.status == 200)
		n = atol(bb_buf_str(&resp.body));
	bb_http_resp_release(&resp);
	return n;
}

/* ---- offline parts ---- */

static void
test_headers(void)
{
	struct bb_http_headers hd;

	bb_http_headers_init(&hd);
	bb_http_headers_add(&hd, "Content-Type", "a");
	bb_http_headers_add(&hd, "X-Y", "1");
	bb_http_headers_add(&hd, "x-y", "2");
	is_str(bb_http_headers_get(&hd, "content-type"), "a", "headers: get ignores case");
	is_str(bb_http_headers_get(&hd, "X-y"), "1", "headers: first of repeated");
	bb_http_headers_set(&hd, "X-Y", "3");
	is_int((long long)hd.n, 2, "headers: set replaces every one");
	is_str(bb_http_headers_get(&hd, "x-y"), "3", "headers: set value");
	bb_http_headers_del(&hd, "CONTENT-TYPE");
	ok(bb_http_headers_get(&hd, "content-type") == NULL && hd.n == 1, "headers: del");
	bb_http_headers_release(&hd);
	ok(hd.n == 0 && hd.v == NULL, "headers: release empties");
}

static void
test_redact(void)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/"
		  "aws4_request, SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0"
		  "855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
		  "Authorization: AWS4-HMAC-SHA256 Credential=<redacted>, SignedHeaders=host;"
		  "x-amz-date, Signature=<redacted>" },
		{ "authorization: Bearer ABSKQmVkcm9ja0FQSUtleS1zZWNyZXQ=",
		  "authorization: Bearer <redacted>" },
		{ "Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic <redacted>" },
		{ "Authorization: tokenwithoutscheme", "Authorization: <redacted>" },
		{ "Proxy-Authorization: Basic abc", "Proxy-Authorization: Basic <redacted>" },
		{ "X-Amz-Security-Token: FwoGZXIvYXdzEJr//////////wEaDEXAMPLE",
		  "X-Amz-Security-Token: <redacted>" },
		{ "x-amz-sso_bearer_token: aoaAAAAAGVeXAMPLE", "x-amz-sso_bearer_token: <redacted>" },
		{ "X-aws-ec2-metadata-token: AQAEAFAKE==", "X-aws-ec2-metadata-token: <redacted>" },
		{ "X-Custom: Bearer sekrit", "X-Custom: Bearer <redacted>" },
		{ "Content-Type: application/json", "Content-Type: application/json" },
		{ "Authorization:", "Authorization:" },
		{ "GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F2024%2Fus-east-1"
		  "&X-Amz-Date=20240101T000000Z&X-Amz-Signature=abcdef0123&x-id=GetObject HTTP/1.1",
		  "GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=<redacted>"
		  "&X-Amz-Date=20240101T000000Z&X-Amz-Signature=<redacted>&x-id=GetObject HTTP/1.1" },
		{ "Location: https://h/k?x-amz-security-token=TOK&a=b",
		  "Location: https://h/k?x-amz-security-token=<redacted>&a=b" },
		{ "GET /notX-Amz-Signature=keep HTTP/1.1", "GET /notX-Amz-Signature=keep HTTP/1.1" },
		{ "HTTP/1.1 200 OK", "HTTP/1.1 200 OK" },
		{ "", "" },
	};
	struct bb_buf b = BB_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bb_buf_reset(&b);
		ok(bb_http_redact(&b, t[i].in, strlen(t[i].in)) == 0, "redact %zu: rc", i);
		is_str(bb_buf_str(&b), t[i].want, "redact: table case");
	}
	bb_buf_release(&b);
}

static void
test_backoff(void)
{
	struct bb_http_opts o;
	struct bb_http *h;
	struct bb_http_resp r;
	char date[64];
	double d, lo = 1e9, hi = -1;
	time_t t;
	int i, bad = 0;

	memset(&o, 0, sizeof(o));
	o.backoff_base = 0.1;
	o.backoff_max = 1.0;
	h = bb_http_new(&o, NULL);
	for (i = 0; i < 2000; i++) {
		d = bb_http_backoff(h, 1, NULL);
		if (d < 0 || d > 0.1)
			bad++;
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	ok(bad == 0 && lo < 0.01 && hi > 0.09, "backoff 1: full jitter over [0, base]");
	for (bad = 0, hi = -1, i = 0; i < 2000; i++) {
		d = bb_http_backoff(h, 3, NULL);
		bad += d < 0 || d > 0.4;
		hi = d > hi ? d : hi;
	}
	ok(bad == 0 && hi > 0.3, "backoff 3: over [0, base*4]");
	for (bad = 0, hi = -1, i = 0; i < 2000; i++) {
		d = bb_http_backoff(h, 1000, NULL);
		bad += d < 0 || d > 1.0;
		hi = d > hi ? d : hi;
	}
	ok(bad == 0 && hi > 0.9, "backoff capped at backoff_max, no overflow");

	bb_http_resp_init(&r);
	bb_http_headers_add(&r.headers, "Retry-After", "0");
	ok(bb_http_backoff(h, 4, &r) == 0, "Retry-After: 0");
	bb_http_headers_set(&r.headers, "retry-after", " 0 ");
	ok(bb_http_backoff(h, 4, &r) == 0, "Retry-After with spaces");
	bb_http_headers_set(&r.headers, "Retry-After", "120");
	ok(bb_http_backoff(h, 1, &r) == 1.0, "Retry-After capped at backoff_max");
	t = time(NULL) + 3600;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime(&t));
	bb_http_headers_set(&r.headers, "Retry-After", date);
	ok(bb_http_backoff(h, 1, &r) == 1.0, "Retry-After HTTP-date in an hour: capped");
	t = time(NULL) - 3600;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime(&t));
	bb_http_headers_set(&r.headers, "Retry-After", date);
	ok(bb_http_backoff(h, 1, &r) == 0, "Retry-After HTTP-date in the past: 0");
	bb_http_headers_set(&r.headers, "Retry-After", "soon");
	d = bb_http_backoff(h, 1, &r);
	ok(d >= 0 && d <= 0.1, "invalid Retry-After: ordinary backoff");
	bb_http_resp_release(&r);
	bb_http_free(h);

	ok(bb_http_status_retryable(503) && bb_http_status_retryable(408) &&
	    bb_http_status_retryable(429) && !bb_http_status_retryable(400) &&
	    !bb_http_status_retryable(403) && !bb_http_status_retryable(501),
	    "retryable statuses");
}

/* ---- against the server ---- */

static void
test_retries(void)
{
	static const struct {
		const char *path;
		int max_attempts;
		long status;
		int attempts;
	} t[] = {
		{ "/seq/429,429,200/a", 5, 200, 3 },
		{ "/seq/503,503,503,503,503,503/b", 3, 503, 3 },
		{ "/seq/400,200/c", 5, 400, 1 },
		{ "/seq/403,200/d", 5, 403, 1 },
		{ "/seq/404,200/d2", 5, 404, 1 },
		{ "/seq/501,200/d3", 5, 501, 1 },
		{ "/seq/408,200/e", 5, 200, 2 },
		{ "/seq/500,200/e", 5, 200, 2 },
		{ "/seq/502,200/e", 5, 200, 2 },
		{ "/seq/504,200/e", 5, 200, 2 },
		{ "/seq/503,503,200/e?ra=none", 5, 200, 3 },
		{ "/seq/429,200/e?ra=date:0", 5, 200, 2 },
		{ "/seq/500,500,500,500,500,500,500,500/f", 5, 500, 5 },
	};
	struct bb_http_resp resp;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_http *h;
	char path[256];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		h = client(t[i].max_attempts, 0.05, NULL);
		bb_http_resp_init(&resp);
		rc = fetch(h, "GET", t[i].path, &resp, &err);
		ok(rc == 0 && resp.status == t[i].status && resp.attempts == t[i].attempts,
		    "%s: status %ld after %d attempts", t[i].path, resp.status, resp.attempts);
		if (rc != 0)
			diag("%s", err.msg);
		snprintf(path, sizeof(path), "%.*s", (int)strcspn(t[i].path, "?"), t[i].path);
		is_int(count(h, path), t[i].attempts, "server saw every attempt, no more");
		bb_http_resp_release(&resp);
		bb_http_free(h);
	}
	h = client(5, 0.05, NULL);
	bb_http_resp_init(&resp);
	fetch(h, "GET", "/seq/429,429,200/g", &resp, &err);
	is_str(bb_buf_str(&resp.body), "attempt 3\n", "body of the last attempt only");
	is_str(bb_http_headers_get(&resp.headers, "X-Attempt"), "3",
	    "headers of the last attempt only");
	ok(bb_http_headers_get(&resp.headers, "Retry-After") == NULL,
	    "no header left over from earlier attempts");
	bb_http_resp_release(&resp);
	bb_http_free(h);
}

static void
test_no_retry_flag(void)
{
	struct bb_http *h = client(5, 0.05, NULL);
	struct bb_http_req req;
	struct bb_http_resp resp;
	char url[256];

	snprintf(url, sizeof(url), "%s/seq/503,200/noretry", base);
	bb_http_req_init(&req);
	bb_http_resp_init(&resp);
	req.url = url;
	req.flags = BB_HTTP_NO_RETRY;
	ok(bb_http_do(h, &req, &resp, NULL) == 0 && resp.status == 503 && resp.attempts == 1,
	    "BB_HTTP_NO_RETRY: one attempt");
	bb_http_resp_release(&resp);
	bb_http_req_release(&req);
	bb_http_free(h);
}

static void
test_retry_after(void)
{
	struct bb_http *h;
	struct bb_http_resp resp;
	double t0, dt;

	h = client(5, 5.0, NULL);
	bb_http_resp_init(&resp);
	t0 = now();
	fetch(h, "GET", "/seq/503,200/ra1?ra=1", &resp, NULL);
	dt = now() - t0;
	ok(resp.status == 200 && resp.attempts == 2 && dt >= 0.95 && dt < 4,
	    "Retry-After: 1 honoured (%.2f s)", dt);
	bb_http_resp_release(&resp);
	bb_http_free(h);

	h = client(5, 0.3, NULL);
	bb_http_resp_init(&resp);
	t0 = now();
	fetch(h, "GET", "/seq/429,200/ra2?ra=30", &resp, NULL);
	dt = now() - t0;
	ok(resp.status == 200 && dt >= 0.25 && dt < 3, "Retry-After: 30 capped (%.2f s)", dt);
	bb_http_resp_release(&resp);
	bb_http_free(h);
}

struct stream {
	const char *data;
	size_t len, off;
	int rewinds;
	int fail_at;    /* fail when reading past this offset (0: never) */
};

static size_t
stream_read(char *buf, size_t n, void *ctx)
{
	struct stream *s = ctx;
	size_t k = s->len - s->off;

	if (s->fail_at && s->off >= (size_t)s->fail_at)
		return (size_t)-1;
	if (k > n)
		k = n;
	if (k > 777)
		k = 777;   /* odd pieces */
	memcpy(buf, s->data + s->off, k);
	s->off += k;
	return k;
}

static int
stream_rewind(void *ctx)
{
	struct stream *s = ctx;

	s->off = 0;
	s->rewinds++;
	return 0;
}

static void
test_bodies(void)
{
	struct bb_http *h = client(5, 0.05, NULL);
	struct bb_http_req req;
	struct bb_http_resp resp;
	struct bb_error err = BB_ERROR_INIT;
	struct stream s;
	char url[256], *data;
	size_t i, n = 300001;
	int chunked, rc;

	data = malloc(n);
	for (i = 0; i < n; i++)
		data[i] = (char)('a' + (i * 7 + i / 251) % 26);

	for (chunked = 0; chunked < 2; chunked++) {
		snprintf(url, sizeof(url), "%s/seq/500,503,200/stream%d?ra=0", base, chunked);
		memset(&s, 0, sizeof(s));
		s.data = data;
		s.len = n;
		bb_http_req_init(&req);
		bb_http_resp_init(&resp);
		req.method = "PUT";
		req.url = url;
		req.read = stream_read;
		req.rewind = stream_rewind;
		req.read_ctx = &s;
		req.body_size = chunked ? -1 : (int64_t)n;
		rc = bb_http_do(h, &req, &resp, &err);
		ok(rc == 0 && resp.status == 200 && resp.attempts == 3,
		    "streaming PUT (%s) retried to 200", chunked ? "chunked" : "sized");
		ok(s.rewinds == 2, "rewound before each retry (%d)", s.rewinds);
		ok(resp.body.len == n && memcmp(resp.body.data, data, n) == 0,
		    "the body arrived intact on the last attempt (%zu bytes)", resp.body.len);
		bb_http_resp_release(&resp);
		bb_http_req_release(&req);
	}

	/* no rewind: one attempt only */
	snprintf(url, sizeof(url), "%s/seq/500,200/norewind", base);
	memset(&s, 0, sizeof(s));
	s.data = data;
	s.len = 1000;
	bb_http_req_init(&req);
	bb_http_resp_init(&resp);
	req.method = "PUT";
	req.url = url;
	req.read = stream_read;
	req.read_ctx = &s;
	req.body_size = 1000;
	rc = bb_http_do(h, &req, &resp, &err);
	ok(rc == 0 && resp.status == 500 && resp.attempts == 1,
	    "streaming body without rewind: not retried");
	bb_http_resp_release(&resp);
	bb_http_req_release(&req);

	/* a failing read: -1, not retried */
	snprintf(url, sizeof(url), "%s/echo/readfail", base);
	memset(&s, 0, sizeof(s));
	s.data = data;
	s.len = n;
	s.fail_at = 5000;
	bb_http_req_init(&req);
	bb_http_resp_init(&resp);
	req.method = "PUT";
	req.url = url;
	req.read = stream_read;
	req.rewind = stream_rewind;
	req.read_ctx = &s;
	req.body_size = (int64_t)n;
	rc = bb_http_do(h, &req, &resp, &err);
	ok(rc == -1 && resp.attempts == 1 && strstr(err.msg, "request body") != NULL,
	    "read callback failure: error, no retry (%s)", err.msg);
	bb_http_resp_release(&resp);
	bb_http_req_release(&req);

	/* in-memory bodies and methods */
	{
		static const struct {
			const char *method;
			const char *body;
		} t[] = {
			{ "PUT", "hello world" }, { "POST", "<a>&amp;</a>" }, { "POST", NULL },
			{ "PUT", "" }, { "DELETE", NULL }, { "GET", NULL }, { "PATCH", "{}" },
		};
		char want[32];

		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			snprintf(url, sizeof(url), "%s/echo/mem%zu", base, i);
			bb_http_req_init(&req);
			bb_http_resp_init(&resp);
			req.method = t[i].method;
			req.url = url;
			req.body = t[i].body;
			req.body_len = t[i].body ? strlen(t[i].body) : 0;
			rc = bb_http_do(h, &req, &resp, &err);
			snprintf(want, sizeof(want), "%zu", req.body_len);
			ok(rc == 0 && resp.status == 200 &&
			    strcmp(bb_http_headers_get(&resp.headers, "X-Echo-Method"),
			    t[i].method) == 0 &&
			    strcmp(bb_http_headers_get(&resp.headers, "X-Echo-Length"), want) == 0 &&
			    strcmp(bb_http_headers_get(&resp.headers, "X-Echo-Expect"), "") == 0 &&
			    strcmp(bb_http_headers_get(&resp.headers, "X-Echo-Content-Type"),
			    "") == 0,
			    "%s with %zu-byte body: method, length, no Expect, no form type",
			    t[i].method, req.body_len);
			is_mem(resp.body.data ? resp.body.data : "", resp.body.len,
			    t[i].body ? t[i].body : "", req.body_len, "echoed body");
			bb_http_resp_release(&resp);
			bb_http_req_release(&req);
		}
	}

	/* HEAD: no body, status kept */
	bb_http_resp_init(&resp);
	rc = fetch(h, "HEAD", "/status/404/head", &resp, &err);
	ok(rc == 0 && resp.status == 404 && resp.body.len == 0 && resp.attempts == 1,
	    "HEAD 404: no body, not retried");
	bb_http_resp_release(&resp);

	/* Expect given by the caller is kept; interim 100s skipped */
	bb_http_resp_init(&resp);
	rc = fetch(h, "GET", "/continue/c", &resp, &err);
	ok(rc == 0 && resp.status == 200 && strcmp(bb_buf_str(&resp.body), "done") == 0 &&
	    bb_http_headers_get(&resp.headers, "X-Final") != NULL,
	    "two 100 Continue responses skipped");
	bb_http_resp_release(&resp);
	free(data);
	bb_http_free(h);
}

static void
test_drops(void)
{
	struct bb_http *h = client(3, 0.05, NULL);
	struct bb_http_resp resp;
	struct bb_error err = BB_ERROR_INIT;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char saved[64];
	int rc, fd;

	bb_http_resp_init(&resp);
	rc = fetch(h, "GET", "/drop/2/a", &resp, &err);
	ok(rc == 0 && resp.status == 200 && resp.attempts == 3 &&
	    strcmp(bb_buf_str(&resp.body), "ok") == 0, "dropped mid-body twice, then ok");
	bb_http_resp_release(&resp);

	/* on a reused connection libcurl itself retries once ... */
	bb_http_resp_init(&resp);
	rc = fetch(h, "GET", "/nothing/1/b", &resp, &err);
	ok(rc == 0 && resp.status == 200 && count(h, "/nothing/1/b") == 2,
	    "empty reply on a reused connection: retried");
	bb_http_resp_release(&resp);
	/* ... on a fresh one, we do */
	{
		struct bb_http *h2 = client(3, 0.05, NULL);

		bb_http_resp_init(&resp);
		rc = fetch(h2, "GET", "/nothing/2/b2", &resp, &err);
		ok(rc == 0 && resp.status == 200 && resp.attempts >= 2 &&
		    count(h2, "/nothing/2/b2") == 3, "empty replies retried (%d attempts)",
		    resp.attempts);
		bb_http_resp_release(&resp);
		bb_http_free(h2);
	}

	bb_http_resp_init(&resp);
	rc = fetch(h, "GET", "/drop/10/c", &resp, &err);
	ok(rc == -1 && err.kind == BB_ERR_NETWORK && resp.attempts == 3,
	    "always dropped: -1 after max_attempts (%s)", err.msg);
	ok(strstr(err.msg, "/drop/10/c") != NULL && strstr(err.msg, "3 attempts") != NULL,
	    "the message names the URL and the attempts");
	is_int(count(h, "/drop/10/c"), 3, "three attempts reached the server");
	bb_http_resp_release(&resp);

	/* connection refused */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	snprintf(saved, sizeof(saved), "%s", base);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	bb_http_resp_init(&resp);
	rc = fetch(h, "GET", "/x?X-Amz-Signature=SECRETSIG", &resp, &err);
	ok(rc == -1 && err.kind == BB_ERR_NETWORK && resp.attempts == 3 && resp.status == 0,
	    "connection refused: retried, then -1 (%s)", err.msg);
	ok(strstr(err.msg, "SECRETSIG") == NULL, "no query string in the error");
	bb_http_resp_release(&resp);
	snprintf(base, sizeof(base), "%s", saved);
	bb_http_free(h);

	/* timeouts */
	{
		struct bb_http_req req;
		char url[256];
		double t0, dt;

		h = client(2, 0.05, NULL);
		snprintf(url, sizeof(url), "%s/slow/3000/t", base);
		bb_http_req_init(&req);
		bb_http_resp_init(&resp);
		req.url = url;
		req.timeout_ms = 200;
		t0 = now();
		rc = bb_http_do(h, &req, &resp, &err);
		dt = now() - t0;
		ok(rc == -1 && err.kind == BB_ERR_NETWORK && resp.attempts == 2 && dt < 2,
		    "timeout retried then -1 in %.2f s (%s)", dt, err.msg);
		bb_http_resp_release(&resp);
		bb_http_req_release(&req);
		is_int(count(h, "/slow/3000/t"), 2, "both attempts reached the server");
		bb_http_free(h);
	}
}

static void
test_max_body(void)
{
	struct bb_http *h = client(5, 0.05, NULL);
	struct bb_http_req req;
	struct bb_http_resp resp;
	struct bb_error err = BB_ERROR_INIT;
	char url[256];
	int rc;

	snprintf(url, sizeof(url), "%s/big/100000", base);
	bb_http_req_init(&req);
	bb_http_resp_init(&resp);
	req.url = url;
	req.max_body = 1000;
	rc = bb_http_do(h, &req, &resp, &err);
	ok(rc == -1 && err.kind == BB_ERR_REMOTE && resp.attempts == 1 &&
	    resp.body.len <= 1000, "body over max_body: error, not retried (%s)", err.msg);
	is_int(count(h, "/big/100000"), 1, "max_body: one request");
	bb_http_resp_release(&resp);

	snprintf(url, sizeof(url), "%s/big/1000", base);
	rc = bb_http_do(h, &req, &resp, &err);
	ok(rc == 0 && resp.status == 200 && resp.body.len == 1000, "body of exactly max_body");
	bb_http_resp_release(&resp);
	bb_http_req_release(&req);
	bb_http_free(h);
}

struct sink {
	struct bb_buf b;
	int resets;
};

static int
sink_write(const char *p, size_t n, void *ctx)
{
	return bb_buf_add(&((struct sink *)ctx)->b, p, n);
}

static int
sink_reset(void *ctx)
{
	struct sink *s = ctx;

	bb_buf_reset(&s->b);
	s->resets++;
	return 0;
}

struct prep {
	int calls;
	int attempts[8];
	int fail;
};

static int
prep_fn(struct bb_http_req *req, int attempt, void *ctx, struct bb_error *err)
{
	struct prep *p = ctx;
	char v[16];

	if (p->calls < 8)
		p->attempts[p->calls] = attempt;
	p->calls++;
	if (p->fail)
		return bb_error_set(err, BB_ERR_AUTH, "no credentials");
	snprintf(v, sizeof(v), "%d", attempt);
	return bb_http_headers_set(&req->headers, "X-Try", v);
}

static void
test_callbacks(void)
{
	struct bb_http *h = client(5, 0.05, NULL);
	struct bb_http_req req;
	struct bb_http_resp resp, r2;
	struct bb_error err = BB_ERROR_INIT;
	struct sink s;
	struct prep p;
	char url[256];
	int rc;

	/* streaming response */
	memset(&s, 0, sizeof(s));
	snprintf(url, sizeof(url), "%s/big/50000", base);
	bb_http_req_init(&req);
	bb_http_resp_init(&resp);
	req.url = url;
	req.write = sink_write;
	req.write_ctx = &s;
	rc = bb_http_do(h, &req, &resp, &err);
	ok(rc == 0 && resp.status == 200 && s.b.len == 50000 && resp.body.len == 0,
	    "2xx body streamed to write, not collected");
	bb_http_resp_release(&resp);
	bb_buf_reset(&s.b);
	snprintf(url, sizeof(url), "%s/status/404/w", base);
	rc = bb_http_do(h, &req, &resp, &err);
	ok(rc == 0 && resp.status == 404 && s.b.len == 0 &&
	    strstr(bb_buf_str(&resp.body), "<Code>NoSuchKey</Code>") != NULL,
	    "error body collected, not streamed");
	bb_http_resp_release(&resp);

	/* dropped while streaming: no retry without write_reset ... */
	snprintf(url, sizeof(url), "%s/drop/1/w1", base);
	rc = bb_http_do(h, &req, &resp, &err);
	ok(rc == -1 && resp.attempts == 1, "dropped streaming GET without write_reset: -1");
	bb_http_resp_release(&resp);
	/* ... and a retry with it */
	bb_buf_reset(&s.b);
	snprintf(url, sizeof(url), "%s/drop/1/w2", base);
	req.write_reset = sink_reset;
	rc = bb_http_do(h, &req, &resp, &err);
	ok(rc == 0 && resp.attempts == 2 && s.resets == 1 &&
	    strcmp(bb_buf_str(&s.b), "ok") == 0, "with write_reset: retried, clean result");
	bb_http_resp_release(&resp);
	bb_http_req_release(&req);
	bb_buf_release(&s.b);

	/* prepare on every attempt */
	memset(&p, 0, sizeof(p));
	snprintf(url, sizeof(url), "%s/seq/500,500,200/prep", base);
	bb_http_req_init(&req);
	req.url = url;
	req.prepare = prep_fn;
	req.prepare_ctx = &p;
	rc = bb_http_do(h, &req, &resp, &err);
	ok(rc == 0 && resp.status == 200 && p.calls == 3 && p.attempts[0] == 1 &&
	    p.attempts[1] == 2 && p.attempts[2] == 3, "prepare called before each attempt");
	bb_http_resp_release(&resp);
	snprintf(url, sizeof(url), "%s/headers/prep", base);
	rc = bb_http_do(h, &req, &resp, &err);
	ok(rc == 0 && strstr(bb_buf_str(&resp.body), "X-Try: 1") != NULL,
	    "headers set by prepare are sent");
	bb_http_resp_release(&resp);
	p.fail = 1;
	snprintf(url, sizeof(url), "%s/echo/prepfail", base);
	rc = bb_http_do(h, &req, &resp, &err);
	ok(rc == -1 && err.kind == BB_ERR_AUTH && strstr(err.msg, "no credentials") != NULL,
	    "prepare failure: its error, kind kept");
	is_int(count(h, "/echo/prepfail"), 0, "prepare failure: nothing sent");
	bb_http_resp_release(&resp);
	bb_http_req_release(&req);

	/* connection reuse */
	bb_http_resp_init(&resp);
	bb_http_resp_init(&r2);
	fetch(h, "GET", "/peer/1", &resp, NULL);
	fetch(h, "GET", "/peer/2", &r2, NULL);
	ok(resp.body.len > 0 && strcmp(bb_buf_str(&resp.body), bb_buf_str(&r2.body)) == 0,
	    "one connection for two requests (port %s)", bb_buf_str(&resp.body));
	bb_http_resp_release(&resp);
	bb_http_resp_release(&r2);
	bb_http_free(h);
}

struct mdone {
	int calls, ok;
	size_t idx;
	const char *want;
	size_t wantlen;
	int *order;
	int *norder;
};

static void
multi_done(struct bb_http_req *req, struct bb_http_resp *resp, int rc,
    const struct bb_error *err, void *ctx)
{
	struct mdone *d = ctx;

	(void)req;
	d->calls++;
	d->ok = rc == 0 && resp->status == 200 && resp->body.len == d->wantlen &&
	    memcmp(resp->body.data, d->want, d->wantlen) == 0;
	if (rc != 0)
		diag("transfer %zu: %s", d->idx, err->msg);
	if (d->order != NULL)
		d->order[(*d->norder)++] = (int)d->idx;
}

#define NMULTI 20

static void
test_multi(void)
{
	struct bb_http *h = client(5, 0.05, NULL);
	struct bb_http_multi *m;
	struct bb_http_req req[NMULTI];
	struct bb_http_resp resp[NMULTI];
	struct mdone d[NMULTI];
	struct bb_error err = BB_ERROR_INIT;
	char urls[NMULTI][128], bodies[NMULTI][64];
	int i, n, all, calls, left;
	double t0, dt;

	/* 20 transfers, some retried, with bodies, 5 at a time */
	m = bb_http_multi_new(h, 5, &err);
	for (i = 0; i < NMULTI; i++) {
		bb_http_req_init(&req[i]);
		bb_http_resp_init(&resp[i]);
		memset(&d[i], 0, sizeof(d[i]));
		snprintf(bodies[i], sizeof(bodies[i]), "part %d of the upload", i);
		if (i % 3 == 0)
			snprintf(urls[i], sizeof(urls[i]), "%s/seq/503,500,200/m%d", base, i);
		else if (i % 3 == 1)
			snprintf(urls[i], sizeof(urls[i]), "%s/drop/1/m%d", base, i);
		else
			snprintf(urls[i], sizeof(urls[i]), "%s/echo/m%d", base, i);
		req[i].url = urls[i];
		if (i % 3 != 1) {
			req[i].method = "PUT";
			req[i].body = bodies[i];
			req[i].body_len = strlen(bodies[i]);
			d[i].want = bodies[i];
		} else
			d[i].want = "ok";
		d[i].wantlen = strlen(d[i].want);
		d[i].idx = (size_t)i;
		ok(bb_http_multi_add(m, &req[i], &resp[i], multi_done, &d[i], &err) == 0 ||
		    i != 0, "multi_add");
	}
	is_int((long long)bb_http_multi_pending(m), NMULTI, "all pending before perform");
	t0 = now();
	for (n = 0; (left = bb_http_multi_perform(m, 200, &err)) > 0 && n < 100; n++)
		;
	dt = now() - t0;
	is_int(left, 0, "multi: nothing left");
	for (all = 1, calls = 0, i = 0; i < NMULTI; i++) {
		all &= d[i].ok;
		calls += d[i].calls;
	}
	is_int(calls, NMULTI, "multi: every done callback called once");
	ok(all, "multi: 20 transfers right (retries included) in %.2f s", dt);
	is_int(resp[0].attempts, 3, "multi: a transfer retried twice");
	is_int(resp[1].attempts, 2, "multi: a dropped transfer retried");
	for (i = 0; i < NMULTI; i++) {
		bb_http_resp_release(&resp[i]);
		bb_http_req_release(&req[i]);
	}
	bb_http_multi_free(m);

	/* parallelism: 20 x 300 ms with 10 slots takes about 0.6 s, not 6 s */
	m = bb_http_multi_new(h, 10, &err);
	for (i = 0; i < NMULTI; i++) {
		bb_http_req_init(&req[i]);
		bb_http_resp_init(&resp[i]);
		memset(&d[i], 0, sizeof(d[i]));
		snprintf(urls[i], sizeof(urls[i]), "%s/slow/300/p%d", base, i);
		req[i].url = urls[i];
		d[i].want = "slow";
		d[i].wantlen = 4;
		bb_http_multi_add(m, &req[i], &resp[i], multi_done, &d[i], &err);
	}
	t0 = now();
	left = bb_http_multi_perform(m, 100, &err);
	ok(left > 0, "perform returns at its timeout with transfers pending (%d)", left);
	left = bb_http_multi_perform(m, 10000, &err);
	dt = now() - t0;
	for (all = 1, i = 0; i < NMULTI; i++)
		all &= d[i].ok && d[i].calls == 1;
	ok(left == 0 && all && dt < 3.0, "20 slow transfers in parallel: %.2f s", dt);
	for (i = 0; i < NMULTI; i++) {
		bb_http_resp_release(&resp[i]);
		bb_http_req_release(&req[i]);
	}

	/* wait: back as soon as one transfer ended, the others still going */
	for (i = 0; i < 3; i++) {
		bb_http_req_init(&req[i]);
		bb_http_resp_init(&resp[i]);
		memset(&d[i], 0, sizeof(d[i]));
		snprintf(urls[i], sizeof(urls[i]), "%s/slow/%d/w%d", base, i ? 1500 : 50, i);
		req[i].url = urls[i];
		d[i].want = "slow";
		d[i].wantlen = 4;
		bb_http_multi_add(m, &req[i], &resp[i], multi_done, &d[i], &err);
	}
	left = bb_http_multi_wait(m, 10000, &err);
	ok(left == 2 && d[0].calls == 1 && d[0].ok && d[1].calls == 0 && d[2].calls == 0,
	    "multi_wait returns when the first transfer ends (%d pending)", left);
	left = bb_http_multi_wait(m, 0, &err);
	ok(left == 2 && d[1].calls == 0, "multi_wait with no time left: nothing waited for");
	while ((left = bb_http_multi_wait(m, 10000, &err)) > 0)
		;
	ok(left == 0 && d[1].calls == 1 && d[2].calls == 1 && d[1].ok && d[2].ok,
	    "multi_wait in a loop: every transfer done once");
	for (i = 0; i < 3; i++) {
		bb_http_resp_release(&resp[i]);
		bb_http_req_release(&req[i]);
	}

	/* free with transfers pending: callbacks say cancelled */
	for (i = 0; i < 4; i++) {
		bb_http_req_init(&req[i]);
		bb_http_resp_init(&resp[i]);
		memset(&d[i], 0, sizeof(d[i]));
		snprintf(urls[i], sizeof(urls[i]), "%s/slow/2000/c%d", base, i);
		req[i].url = urls[i];
		bb_http_multi_add(m, &req[i], &resp[i], multi_done, &d[i], &err);
	}
	bb_http_multi_perform(m, 50, &err);
	bb_http_multi_free(m);
	for (calls = 0, i = 0; i < 4; i++)
		calls += d[i].calls == 1 && !d[i].ok;
	is_int(calls, 4, "multi_free: pending transfers cancelled through their callbacks");
	for (i = 0; i < 4; i++) {
		bb_http_resp_release(&resp[i]);
		bb_http_req_release(&req[i]);
	}
	bb_http_free(h);
}

static void
test_trace(void)
{
	static const char *const secrets[] = {
		"wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "AKIDSECRETEXAMPLE", "SIGNATUREHEX0123",
		"SESSIONTOKENVALUE", "QUERYSIGVALUE", "QUERYCREDVALUE", "BEARERTOKENVALUE",
		"SSOTOKENVALUE",
	};
	char path[] = "/tmp/bb-unit-http-trace.XXXXXX";
	struct bb_http *h;
	struct bb_http_req req;
	struct bb_http_resp resp;
	struct bb_buf t = BB_BUF_INIT;
	char url[512], chunk[4096];
	FILE *f;
	size_t i, n;
	int fd, leaked = 0;

	fd = mkstemp(path);
	if (fd < 0) {
		skip("mkstemp failed");
		return;
	}
	close(fd);
	h = client(3, 0.05, path);
	snprintf(url, sizeof(url), "%s/seq/503,200/trace?X-Amz-Credential=QUERYCREDVALUE%%2F2024"
	    "&X-Amz-Signature=QUERYSIGVALUE&x-id=1", base);
	bb_http_req_init(&req);
	bb_http_resp_init(&resp);
	req.url = url;
	req.method = "PUT";
	req.body = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY";   /* bodies are not traced */
	req.body_len = strlen(req.body);
	bb_http_headers_add(&req.headers, "Authorization", "AWS4-HMAC-SHA256 "
	    "Credential=AKIDSECRETEXAMPLE/20240101/us-east-1/s3/aws4_request, "
	    "SignedHeaders=host;x-amz-date, Signature=SIGNATUREHEX0123");
	bb_http_headers_add(&req.headers, "X-Amz-Security-Token", "SESSIONTOKENVALUE");
	bb_http_headers_add(&req.headers, "x-amz-sso_bearer_token", "SSOTOKENVALUE");
	ok(bb_http_do(h, &req, &resp, NULL) == 0 && resp.status == 200, "traced request");
	bb_http_resp_release(&resp);
	bb_http_headers_set(&req.headers, "Authorization", "Bearer BEARERTOKENVALUE");
	snprintf(url, sizeof(url), "%s/echo/trace2", base);
	bb_http_do(h, &req, &resp, NULL);
	bb_http_resp_release(&resp);
	bb_http_req_release(&req);
	bb_http_free(h);

	f = fopen(path, "r");
	while (f != NULL && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		bb_buf_add(&t, chunk, n);
	if (f != NULL)
		fclose(f);
	unlink(path);
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (strstr(bb_buf_str(&t), secrets[i]) != NULL) {
			diag("leaked: %s", secrets[i]);
			leaked++;
		}
	ok(t.len > 0 && leaked == 0, "trace: no secret in %zu bytes", t.len);
	ok(strstr(bb_buf_str(&t), "> PUT /seq/503,200/trace?X-Amz-Credential=<redacted>"
	    "&X-Amz-Signature=<redacted>&x-id=1 HTTP/1.1") != NULL, "trace: request line");
	ok(strstr(bb_buf_str(&t), "SignedHeaders=host;x-amz-date, Signature=<redacted>") != NULL,
	    "trace: Authorization structure kept");
	ok(strstr(bb_buf_str(&t), "> Authorization: Bearer <redacted>") != NULL,
	    "trace: bearer token");
	ok(strstr(bb_buf_str(&t), "< HTTP/1.1 503") != NULL &&
	    strstr(bb_buf_str(&t), "< Retry-After: 0") != NULL, "trace: response headers");
	ok(strstr(bb_buf_str(&t), "retry in") != NULL, "trace: retries noted");
	if (leaked)
		tap_show("trace", t.data, t.len);
	bb_buf_release(&t);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_headers();
	test_redact();
	test_backoff();
	if (server_start() != 0) {
		skip("flaky_server.py did not start (python3 missing?)");
	} else {
		test_retries();
		test_no_retry_flag();
		test_retry_after();
		test_bodies();
		test_drops();
		test_max_body();
		test_callbacks();
		test_multi();
		test_trace();
	}
	server_stop();
	curl_global_cleanup();
	return done_testing();
}
