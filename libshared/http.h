/*
 * http.h - HTTP on libcurl: connection reuse, retries with capped
 * exponential backoff and full jitter (honouring Retry-After), timeouts,
 * low-speed limits, a redacting trace, and parallel transfers on libcurl's
 * multi interface.
 *
 * A struct bb_http is a client: it owns a connection cache shared by every
 * request made through it. It is not thread-safe; use one per thread.
 * Every easy handle gets CURLOPT_NOSIGNAL; TLS peer verification is always
 * on (a CA bundle may be given, never switched off).
 *
 * Lifecycle: bb_http_new()/bb_http_free(); struct bb_http_req is filled by
 * the caller (bb_http_req_init()/bb_http_req_release() for its headers);
 * struct bb_http_resp is filled by bb_http_do() (bb_http_resp_init()/
 * bb_http_resp_release()).
 */
#ifndef BB_HTTP_H
#define BB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* An ordered list of header fields (names compared case-insensitively). */
struct bb_http_header {
	char *name;
	char *value;
};
struct bb_http_headers {
	struct bb_http_header *v;
	size_t n, cap;
};
void bb_http_headers_init(struct bb_http_headers *h);
/* Free every field (values wiped first: they can hold tokens); the list is
 * left empty and reusable. bb_http_headers_del wipes the same way. */
void bb_http_headers_release(struct bb_http_headers *h);
/* Append a field (copies name and value). */
int bb_http_headers_add(struct bb_http_headers *h, const char *name, const char *value);
/* Replace every field of that name by one (or add it). */
int bb_http_headers_set(struct bb_http_headers *h, const char *name, const char *value);
void bb_http_headers_del(struct bb_http_headers *h, const char *name);
/* First value of that name, or NULL. */
const char *bb_http_headers_get(const struct bb_http_headers *h, const char *name);

struct bb_http_opts {
	long connect_timeout_ms;   /* 0: 10 s */
	long timeout_ms;           /* whole request; 0: none (low-speed limit applies) */
	long low_speed_bytes;      /* abort below this rate ... (0: 1 byte/s) */
	long low_speed_secs;       /* ... for this long (0: 60 s) */
	int max_attempts;          /* total tries of a retryable request; 0: 5 */
	double backoff_base;       /* seconds; 0: 0.2 */
	double backoff_max;        /* seconds; 0: 20 */
	const char *ca_bundle;     /* NULL: the system's */
	const char *trace_path;    /* NULL: none; "-": stderr. Secrets redacted. */
};

enum bb_http_flags {
	BB_HTTP_NO_RETRY = 1 << 0,  /* one attempt only */
	BB_HTTP_NO_PROXY = 1 << 1,  /* never use a proxy (IMDS, container creds) */
	BB_HTTP_HEAD = 1 << 2,      /* no response body expected (HEAD) */
};

struct bb_http_req;

/* Called before every attempt (the first too), e.g. to (re)sign with a
 * fresh date: may change url and headers. Non-zero aborts the request. */
typedef int (*bb_http_prepare_fn)(struct bb_http_req *req, int attempt, void *ctx,
    struct bb_error *err);
/* Streaming request body: fill up to n bytes, return the count, 0 at end,
 * (size_t)-1 on error. rewind is called before a retry (0 ok, -1 cannot). */
typedef size_t (*bb_http_read_fn)(char *buf, size_t n, void *ctx);
typedef int (*bb_http_rewind_fn)(void *ctx);
/* Streaming response body: consume n bytes; non-zero aborts. Called only
 * for 2xx responses; other bodies are collected in resp->body. */
typedef int (*bb_http_write_fn)(const char *p, size_t n, void *ctx);

struct bb_http_req {
	const char *method;               /* "GET", "PUT", ... */
	const char *url;
	struct bb_http_headers headers;
	const void *body;                 /* in-memory body, or NULL */
	size_t body_len;
	bb_http_read_fn read;             /* streaming body instead of `body` */
	bb_http_rewind_fn rewind;
	void *read_ctx;
	int64_t body_size;                /* with `read`: size, or -1 (chunked) */
	bb_http_write_fn write;           /* NULL: collect into resp->body */
	void *write_ctx;
	size_t max_body;                  /* collected body bound; 0: 16 MiB */
	bb_http_prepare_fn prepare;
	void *prepare_ctx;
	long timeout_ms;                  /* overrides opts.timeout_ms if > 0 */
	unsigned flags;                   /* enum bb_http_flags */
	/* Streaming response: called with write_ctx before a retry when bytes
	 * were already passed to `write` (0 ok, -1 cannot). NULL: such a
	 * transfer is not retried (the error is returned). */
	bb_http_rewind_fn write_reset;
};

struct bb_http_resp {
	long status;                      /* 0 when no response was received */
	struct bb_http_headers headers;
	struct bb_buf body;
	int attempts;
};

/* _init before use. _release frees what the struct owns (the header list;
 * url, body and the callbacks' contexts belong to the caller) and leaves it
 * empty. */
void bb_http_req_init(struct bb_http_req *req);
void bb_http_req_release(struct bb_http_req *req);
/* _release frees the headers and the collected body (not wiped: a caller
 * that receives secrets wipes resp->body itself first). */
void bb_http_resp_init(struct bb_http_resp *resp);
void bb_http_resp_release(struct bb_http_resp *resp);

/*
 * Defaults: connect timeout 10 s, no whole-request timeout, low-speed abort
 * below 1 byte/s for 60 s, 5 attempts, backoff base 0.2 s capped at 20 s.
 * ca_bundle NULL: $AWS_CA_BUNDLE, else the system's. trace_path NULL:
 * $BB_TRACE if set. Proxies come from the usual environment variables
 * (https_proxy, no_proxy...) unless a request has BB_HTTP_NO_PROXY.
 * Requests never follow redirects and never send "Expect: 100-continue"
 * unless the caller sets an Expect header; 1xx interim responses are
 * skipped. Returns NULL on failure (err set).
 */
struct bb_http *bb_http_new(const struct bb_http_opts *opts, struct bb_error *err);
/* Frees the client; every bb_http_multi made from it must be freed first. */
void bb_http_free(struct bb_http *h);

/*
 * Perform a request, retrying timeouts, dropped connections, 408, 429, 500,
 * 502, 503 and 504 (S3's 200-with-<Error> and error codes are the caller's
 * business: awserror.h).
 * Returns 0 when a final response was received, whatever its status (the
 * caller inspects resp->status), and -1 when none was (err: the transport
 * error of the last attempt, kind BB_ERR_NETWORK).
 */
int bb_http_do(struct bb_http *h, struct bb_http_req *req, struct bb_http_resp *resp,
    struct bb_error *err);

/*
 * Per attempt: req->prepare is called (it may re-sign), the request body is
 * sent from `body` or `read` (rewound before a retry: a streaming body
 * without `rewind` is sent once only), and resp is reset (status 0, no
 * headers, empty body). resp->headers holds the final response's fields;
 * resp->body the collected body (at most max_body bytes: a larger body
 * ends the request with -1, kind BB_ERR_REMOTE, and is not retried).
 * Failures of callbacks (prepare, read, write) end the request with -1 and
 * are not retried. Error messages name the URL without its query string.
 */

/* 1 if a response with this status is retried by bb_http_do. */
int bb_http_status_retryable(long status);
/* Delay in seconds before retry number `attempt` (1 = the first retry):
 * full jitter, uniform in [0, min(backoff_max, backoff_base * 2^(attempt-1))].
 * When `last` (may be NULL) carries Retry-After (delta seconds or an
 * HTTP-date), that delay is used instead, capped at backoff_max. */
double bb_http_backoff(const struct bb_http *h, int attempt, const struct bb_http_resp *last);

/*
 * Trace redaction: append line[0..n) to out with secrets replaced by
 * "<redacted>": the Signature= and Credential= parts of an AWS4
 * Authorization value (other Authorization and Proxy-Authorization values
 * whole, "Bearer" kept), X-Amz-Security-Token, x-amz-sso_bearer_token,
 * X-aws-ec2-metadata-token values, and the X-Amz-Signature,
 * X-Amz-Credential and X-Amz-Security-Token query parameters anywhere in
 * the line. Used for every trace line; exposed for tests and for callers
 * that log URLs or headers themselves.
 */
int bb_http_redact(struct bb_buf *out, const char *line, size_t n);

/*
 * Parallel transfers on libcurl's multi interface (one thread, connections
 * shared with the client's other requests). Each transfer follows the same
 * retry policy as bb_http_do; a transfer waiting for its backoff holds no
 * connection and blocks no other transfer.
 *
 *   m = bb_http_multi_new(h, 8, err);
 *   for each part: bb_http_multi_add(m, &req[i], &resp[i], done, ctx, err);
 *   while (bb_http_multi_perform(m, 1000, err) > 0)
 *           show progress;
 *   bb_http_multi_free(m);
 *
 * req and resp belong to the caller and must stay valid (and unchanged)
 * until the transfer's done callback has been called. The callback gets
 * rc and err as bb_http_do would return them; it may add transfers to the
 * same multi, but must not call bb_http_multi_perform or _free.
 */
struct bb_http_multi;
typedef void (*bb_http_done_fn)(struct bb_http_req *req, struct bb_http_resp *resp, int rc,
    const struct bb_error *err, void *ctx);
/* At most max_parallel transfers run at once (< 1: 1). NULL on failure. */
struct bb_http_multi *bb_http_multi_new(struct bb_http *h, int max_parallel, struct bb_error *err);
/* Queue a transfer (started by bb_http_multi_perform, in order). */
int bb_http_multi_add(struct bb_http_multi *m, struct bb_http_req *req, struct bb_http_resp *resp,
    bb_http_done_fn done, void *ctx, struct bb_error *err);
/* Drive transfers until none is pending or timeout_ms elapsed (< 0: no
 * limit), calling done callbacks as transfers end. Returns the number of
 * transfers still pending, or -1 on an internal (libcurl) failure. */
int bb_http_multi_perform(struct bb_http_multi *m, long timeout_ms, struct bb_error *err);
/* The same, but returns as soon as a transfer has ended (its done callback
 * was called), for a caller that acts on each outcome at once. */
int bb_http_multi_wait(struct bb_http_multi *m, long timeout_ms, struct bb_error *err);
/* Transfers queued, running or waiting to retry. */
size_t bb_http_multi_pending(const struct bb_http_multi *m);
/* Cancel what is pending (done callbacks are called with rc -1, "cancelled")
 * and free the multi. */
void bb_http_multi_free(struct bb_http_multi *m);

#endif
