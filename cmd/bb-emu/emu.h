/*
 * emu.h - internal interfaces between the parts of bb-emu:
 *   main.c     options, the libmicrohttpd server, request collection,
 *              SigV4 verification, routing, faults, logging
 *   store.c    S3 objects on disk under --data-dir (store_* below)
 *   s3.c       the S3 operations
 *   bedrock.c  the four Bedrock batch operations (validation, JSON I/O)
 *   jobs.c     the job lifecycle engine, input validation, outputs
 *   models.c   simulated model outputs per family
 *
 * Concurrency: the server runs requests on several threads. Handlers
 * take e->lock around any access to the store's or the jobs' state;
 * the job engine's ticker thread takes it too.
 */
#ifndef BB_EMU_H
#define BB_EMU_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "error.h"
#include "http.h"   /* struct bb_http_headers */

struct emu_store;
struct emu_jobs;

/* Quotas and timing (flags of bb-emu; Bedrock's defaults). */
struct emu_quotas {
	long min_records;          /* per job, default 100 */
	long max_records_file;     /* per input file, default 50000 */
	long max_records_job;      /* per job, default 50000 */
	uint64_t max_file_bytes;   /* default 1 GB */
	uint64_t max_job_bytes;    /* default 5 GB */
	long max_concurrent;       /* submitted + in-progress per model, default 10 */
	uint64_t max_record_bytes; /* one input line, default 1 MiB */
};

struct emu_timing {
	double time_scale;         /* emulated seconds per real second, default 1 */
	double submitted_s, validating_s, scheduled_s; /* per-state durations */
	double per_record_s;       /* InProgress time per record */
	double stopping_s;
};

struct emu_faults {
	unsigned long seed;
	double throttle_rate;      /* fraction of requests answered 429/503 */
	double error_rate;         /* fraction answered 500 */
	double drop_rate;          /* fraction whose connection is dropped mid-body */
	double lost_rate;          /* fraction handled whose answer is never sent */
	long lose_next;            /* so many next requests (matching lose_match)
	                              lost, before any random fault */
	char lose_match[128];      /* "METHOD /path?query" prefix; "" matches all */
	double slow_ms;            /* added latency per request */
	double record_error_rate;  /* fraction of records given an error line */
	double job_fail_rate, job_expire_rate, job_partial_rate;
};

struct emu {
	pthread_mutex_t lock;
	const char *data_dir;
	const char *region;        /* default us-east-1 */
	const char *account;       /* default 123456789012 */
	struct emu_quotas quotas;
	struct emu_timing timing;
	struct emu_faults faults;
	struct emu_store *store;
	struct emu_jobs *jobs;
	int verbose;
	double start_real;         /* bb_now() at start */
	double start_epoch;        /* wall-clock epoch seconds at start */
	/* Server side (main.c/server.c/faults.c): keys, the daemon, fault
	 * state. Opaque to the handlers. */
	struct emu_server *server;
};

/* Emulated wall-clock time (epoch seconds): start + elapsed * time_scale. */
double emu_now(const struct emu *e);

/* One request as the handlers see it (after auth and body decoding). */
struct emu_request {
	const char *method;
	const char *path;          /* raw, still percent-encoded, without query */
	const char *query;         /* raw query string without '?', "" if none */
	struct bb_http_headers headers;
	const char *body;          /* in-memory body (JSON, XML), NUL-terminated */
	size_t body_len;
	const char *body_file;     /* or: the spooled body on disk (S3 PUT) */
	const char *service;       /* "s3" or "bedrock" */
	const char *request_id;
	/* Added by the server: what it learnt while receiving the body. The
	 * body's Content-MD5 and x-amz-checksum-* (header or aws-chunked
	 * trailer) were already verified when the handler runs. */
	uint64_t body_size;        /* decoded body bytes (memory or file) */
	unsigned char body_md5[16];/* MD5 of the decoded body ... */
	int have_md5;              /* ... when computed (always for body_file) */
	char checksum_alg[16];     /* "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256" or "" */
	char checksum[96];         /* its base64 value as computed over the body */
	const char *access_key;    /* the key that signed it, "" for bearer/none */
	int method_head;           /* HEAD request: no body in any response */
};

struct emu_response {
	int status;
	struct bb_http_headers headers;
	struct bb_buf body;
	int body_fd;               /* >= 0: stream the body from this fd ... */
	off_t body_off;            /* ... from this offset ... */
	uint64_t body_len;         /* ... this many bytes (fd closed by server) */
	int no_body;               /* HEAD */
	/* Or: body_len bytes from body_read(body_cls, pos, buf, max), pos
	 * counted from the body's start; it returns the bytes it put in buf
	 * (> 0), anything else is an error that cuts the response short. The
	 * server calls body_free(body_cls) once done, also when it sent none. */
	ssize_t (*body_read)(void *cls, uint64_t pos, char *buf, size_t max);
	void (*body_free)(void *cls);
	void *body_cls;
};

/* Bedrock rest-json error: x-amzn-ErrorType header and {"message": ...}. */
void emu_bedrock_error(struct emu_response *resp, int status, const char *type,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* S3 XML <Error> with Code, Message, Resource, RequestId. */
void emu_s3_error(struct emu_response *resp, const struct emu_request *req, int status,
    const char *code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The bucket and the decoded key a request addresses (path-style, or
 * virtual-hosted from the Host header); key is "" for bucket requests,
 * bucket too for "/". -1 when the path is badly encoded. */
int emu_s3_parse_target(const struct emu_request *req, struct bb_buf *bucket,
    struct bb_buf *key);

void emu_s3_handle(struct emu *e, const struct emu_request *req, struct emu_response *resp);
void emu_bedrock_handle(struct emu *e, const struct emu_request *req, struct emu_response *resp);

/* ---- store.c: objects on disk; keys can never escape the data dir ---- */

/* Write p[0..n) to fd, retrying short writes and EINTR; 0 or -1 (errno). */
int emu_write_all(int fd, const void *p, size_t n);
/* Read the file at path into out (reset first; at most max bytes, else
 * -1); 0 or -1 (errno). */
int emu_read_file(const char *path, struct bb_buf *out, size_t max);
/* Replace path with text[0..len) by way of a temporary file and rename. */
int emu_write_file(const char *path, const void *text, size_t len, struct bb_error *err);
/* The ETag of an object with that MD5, quoted: "\"<32 hex digits>\"". */
void emu_etag(const unsigned char md5[16], char out[35]);

struct emu_object_info {
	uint64_t size;
	char etag[80];             /* quoted, as S3 returns it */
	double mtime;              /* epoch seconds */
	char content_type[128];
	char checksum_alg[16];     /* "CRC32", "SHA256", ... or "" */
	char checksum[96];         /* base64 value of that checksum */
	/* user metadata x-amz-meta-* are kept as a JSON object text */
	char *meta_json;           /* malloc'd, NULL if none; emu_object_info_release */
	long parts;                /* multipart part count, 0 for single PUT */
};
void emu_object_info_release(struct emu_object_info *info);

int emu_store_open(struct emu_store **out, const char *data_dir, struct bb_error *err);
void emu_store_close(struct emu_store *s);
/* 1 if the name is a valid bucket name / key, 0 otherwise. */
int emu_store_valid_bucket(const char *bucket);
int emu_store_valid_key(const char *key);
int emu_store_bucket_exists(struct emu_store *s, const char *bucket);
int emu_store_create_bucket(struct emu_store *s, const char *bucket, struct bb_error *err);
/* Stat an object: 0 found, -1 with err->kind BB_ERR_NOTFOUND when absent. */
int emu_store_stat(struct emu_store *s, const char *bucket, const char *key,
    struct emu_object_info *info, struct bb_error *err);
/*
 * A reader of an object's bytes wherever they are (one file, or the parts
 * of a multipart upload): the version open keeps readable even if the
 * object is replaced or deleted meanwhile. Not for concurrent use.
 */
struct emu_store_reader;
/* Open one: *out (emu_store_reader_free) and info (release it) as stat. */
int emu_store_reader_open(struct emu_store *s, const char *bucket, const char *key,
    struct emu_store_reader **out, struct emu_object_info *info, struct bb_error *err);
/* Up to n bytes at object offset pos into buf: > 0 bytes read, 0 at the
 * end, -1 (errno) on error. A call reads from one file only. */
ssize_t emu_store_reader_pread(struct emu_store_reader *r, void *buf, size_t n, uint64_t pos);
/* When bytes [pos, pos+len) lie in one file: 1 with *fd a new fd of that
 * file (the caller's to close) and *off where pos is in it; 0 when they
 * span files; -1 (errno) on error. */
int emu_store_reader_fd(struct emu_store_reader *r, uint64_t pos, uint64_t len, int *fd,
    off_t *off);
/* Close and free r (NULL is a no-op); may remove files of a deleted object. */
void emu_store_reader_free(struct emu_store_reader *r);
/* Store a whole object from memory (used for job outputs and manifests). */
int emu_store_put_mem(struct emu_store *s, const char *bucket, const char *key,
    const void *data, size_t len, const char *content_type, struct bb_error *err);
/* Store an object by renaming a finished temporary file into place.
 * tmp_path must come from emu_store_tmpfile(). */
int emu_store_tmpfile(struct emu_store *s, struct bb_buf *path, int *fd, struct bb_error *err);
int emu_store_commit(struct emu_store *s, const char *bucket, const char *key,
    const char *tmp_path, const struct emu_object_info *info, struct bb_error *err);
int emu_store_delete(struct emu_store *s, const char *bucket, const char *key, struct bb_error *err);
/* Call fn for every key under prefix in lexicographic order (byte order).
 * fn returns 0 to go on, 1 to stop. */
typedef int (*emu_store_list_fn)(const char *key, const struct emu_object_info *info, void *ctx);
int emu_store_list(struct emu_store *s, const char *bucket, const char *prefix,
    const char *start_after, emu_store_list_fn fn, void *ctx, struct bb_error *err);

/* The store has its own mutex: its functions may be called with or
 * without e->lock held. An emu_store_list/list_buckets callback must not
 * call back into the store. */
typedef int (*emu_store_bucket_fn)(const char *name, double ctime, void *ctx);
int emu_store_list_buckets(struct emu_store *s, emu_store_bucket_fn fn, void *ctx);
/* Remove an empty bucket: -1 with BB_ERR_NOTFOUND, or BB_ERR_INPUT when
 * it still holds objects. */
int emu_store_delete_bucket(struct emu_store *s, const char *bucket, struct bb_error *err);

/* Multipart uploads (state on disk under DATA_DIR/uploads). */
struct emu_part_info {
	long part_number;
	uint64_t size;
	unsigned char md5[16];     /* raw MD5 of the part (its ETag) */
	double mtime;
	char checksum_alg[16];
	char checksum[96];
};
/* New upload for bucket/key; proto holds content type, user metadata and
 * the checksum algorithm. upload_id receives 32 hex digits. */
int emu_store_upload_create(struct emu_store *s, const char *bucket, const char *key,
    const struct emu_object_info *proto, char upload_id[33], struct bb_error *err);
/* Check that the upload exists for bucket/key (BB_ERR_NOTFOUND if not);
 * proto (may be NULL) receives what create was given (release it). */
int emu_store_upload_get(struct emu_store *s, const char *upload_id, const char *bucket,
    const char *key, struct emu_object_info *proto, struct bb_error *err);
/* Store a part from a finished emu_store_tmpfile() (replaces a part of the
 * same number). */
int emu_store_upload_put_part(struct emu_store *s, const char *upload_id, long part_number,
    const char *tmp_path, const struct emu_part_info *part, struct bb_error *err);
/* The parts uploaded so far, by part number: *parts is malloc'd (free). */
int emu_store_upload_parts(struct emu_store *s, const char *upload_id,
    struct emu_part_info **parts, size_t *nparts, struct bb_error *err);
/* Make the given parts (already validated by the caller) the object
 * bucket/key described by info, and remove the upload. No bytes are
 * copied: the part files become the object's (hard links, or copies on a
 * file system without them). */
int emu_store_upload_complete(struct emu_store *s, const char *upload_id, const char *bucket,
    const char *key, const struct emu_part_info *parts, size_t nparts,
    const struct emu_object_info *info, struct bb_error *err);
int emu_store_upload_abort(struct emu_store *s, const char *upload_id, struct bb_error *err);
/* Every upload in progress in bucket, in no order: fn gets its key, id
 * and initiation time; non-zero from fn stops. */
typedef int (*emu_store_upload_fn)(const char *key, const char *upload_id, double initiated,
    void *ctx);
int emu_store_upload_list(struct emu_store *s, const char *bucket, emu_store_upload_fn fn,
    void *ctx, struct bb_error *err);

/* ---- server.c / faults.c: helpers for every handler ---- */

/* Percent-decode s[0..n) into out (reset first); '+' becomes a space when
 * plus_space. -1 on a bad escape or an encoded NUL. */
int emu_pct_decode(const char *s, size_t n, struct bb_buf *out, int plus_space);
/* Find parameter `name` in a raw query string: 1 with its decoded value in
 * out ("" for "name" or "name="), 0 when absent, -1 when badly encoded. */
int emu_query_param(const char *query, const char *name, struct bb_buf *out);
/* Real wall-clock time, epoch seconds (S3 timestamps use it). */
double emu_wall_now(void);
/* Time formats: "2024-08-01T12:00:00.000Z" and RFC 1123 (HTTP dates). */
void emu_format_iso8601(double t, char out[32]);
void emu_format_http_date(double t, char out[40]);

/*
 * Deterministic randomness for simulations: a uniform number in [0, 1)
 * that depends only on (--seed, a, b), e.g. a job number and a record
 * index, so a test run with the same seed sees the same outcome.
 */
double emu_rand_uniform(const struct emu *e, uint64_t a, uint64_t b);
/* The same from a string (a job id, a record id). */
uint64_t emu_rand_hash(const char *s);

/* ---- server.c: the HTTP server (used by main.c) ---- */

/* Create e->server (keys empty). -1 on failure. */
int emu_server_init(struct emu *e, struct bb_error *err);
/* Accept this access key (copies; secret wiped on exit). token: the
 * session token requests with this key must carry, or NULL. */
int emu_server_add_key(struct emu *e, const char *access_key, const char *secret,
    const char *token);
/* Accept Authorization: Bearer TOKEN on Bedrock calls. */
int emu_server_add_bearer(struct emu *e, const char *token);
/* Read a keys file: lines "ACCESS_KEY SECRET [TOKEN]" or "bearer TOKEN";
 * '#' comments and blank lines skipped. */
int emu_server_load_keys(struct emu *e, const char *path, struct bb_error *err);
/* Serve https: read the PEM certificate (chain) and private key files
 * now, before emu_server_start (which loads them into the daemon and then
 * wipes and frees the key's bytes). -1 (BB_ERR_USAGE) when this
 * libmicrohttpd has no TLS, a file cannot be read, holds no certificate /
 * unencrypted private key, or the key is not the certificate's. */
int emu_server_set_tls(struct emu *e, const char *cert_file, const char *key_file,
    struct bb_error *err);
/* 1 when the server speaks https (emu_server_set_tls succeeded). */
int emu_server_tls(const struct emu *e);
/* Listen on addr ("127.0.0.1", "::1") and port (0: any free port) and
 * serve on background threads; *bound gets the port. */
int emu_server_start(struct emu *e, const char *addr, unsigned port, unsigned *bound,
    struct bb_error *err);
/* Stop accepting, finish the requests in flight, free e->server. */
void emu_server_stop(struct emu *e);

/* ---- faults.c ---- */

enum emu_fault {
	EMU_FAULT_NONE = 0,
	EMU_FAULT_THROTTLE,        /* 429 ThrottlingException / 503 SlowDown */
	EMU_FAULT_ERROR,           /* 500 InternalServerException / InternalError */
	EMU_FAULT_DROP,            /* connection closed mid-body */
	EMU_FAULT_LOST,            /* handled, then closed with no answer */
};
/* The fault for the next request (method, path, query: for lose_match):
 * lose_next first, then deterministic in --seed and the number of requests
 * seen since start (or since the seed was last set); *slow_ms gets the
 * added latency. Takes e->lock. */
enum emu_fault emu_fault_next(struct emu *e, const char *method, const char *path,
    const char *query, double *slow_ms);
/* /_emu/... control requests (no auth): GET /_emu/health, GET and POST
 * /_emu/faults (JSON body; see bb-emu(1)). */
void emu_control_handle(struct emu *e, const struct emu_request *req, struct emu_response *resp);

/* ---- jobs.c ---- */
int emu_jobs_open(struct emu *e, struct bb_error *err);   /* loads jobs from data dir */
void emu_jobs_close(struct emu *e);
/* Advance every job whose state's time is up (called about 10x/s). */
void emu_jobs_tick(struct emu *e);

#endif
