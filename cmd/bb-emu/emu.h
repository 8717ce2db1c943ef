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
};

struct emu_response {
	int status;
	struct bb_http_headers headers;
	struct bb_buf body;
	int body_fd;               /* >= 0: stream the body from this fd ... */
	off_t body_off;            /* ... from this offset ... */
	uint64_t body_len;         /* ... this many bytes (fd closed by server) */
	int no_body;               /* HEAD */
};

/* Bedrock rest-json error: x-amzn-ErrorType header and {"message": ...}. */
void emu_bedrock_error(struct emu_response *resp, int status, const char *type,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* S3 XML <Error> with Code, Message, Resource, RequestId. */
void emu_s3_error(struct emu_response *resp, const struct emu_request *req, int status,
    const char *code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void emu_s3_handle(struct emu *e, const struct emu_request *req, struct emu_response *resp);
void emu_bedrock_handle(struct emu *e, const struct emu_request *req, struct emu_response *resp);

/* ---- store.c: objects on disk; keys can never escape the data dir ---- */
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
/* Open an object for reading (caller closes the fd). */
int emu_store_open_read(struct emu_store *s, const char *bucket, const char *key,
    int *fd, struct emu_object_info *info, struct bb_error *err);
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

/* ---- jobs.c ---- */
int emu_jobs_open(struct emu *e, struct bb_error *err);   /* loads jobs from data dir */
void emu_jobs_close(struct emu *e);
/* Advance every job whose state's time is up (called about 10x/s). */
void emu_jobs_tick(struct emu *e);

#endif
