/*
 * s3.h - the S3 calls the tools make (spec/BEDROCK.md section 4): HEAD,
 * PUT (from memory or a file range, payload signed with its SHA-256,
 * Content-MD5 and/or x-amz-checksum-sha256), multipart upload (create,
 * upload part, complete, abort, list parts, list uploads), GET streamed to
 * a callback (with Range) and ListObjectsV2, on top of aws.h.
 *
 * Addressing follows awsconfig.h: virtual-hosted style on AWS's endpoints
 * for DNS-compatible buckets, path style otherwise and always with a
 * custom endpoint. Keys are percent-encoded once ('/' kept, everything
 * outside the unreserved set escaped).
 *
 * Every function returns 0 or -1 with err set (see aws.h
 * bb_aws_check_response for the kinds; a missing object or bucket is
 * BB_ERR_NOTFOUND; the wrong-region case names the bucket's region) and,
 * when ae is not NULL, the AWS error code in *ae.
 *
 * Parallel transfers: bb_s3_put_prepare() / bb_s3_part_prepare() fill a
 * struct bb_s3_xfer whose req/resp are handed to bb_http_multi_add() (on
 * bb_aws_http(aws)); the request is signed before every attempt. When the
 * transfer is done, bb_s3_put_finish() / bb_s3_part_finish() interpret the
 * response. bb_s3_put_file() and bb_s3_upload_part() are the same in one
 * blocking call.
 */
#ifndef BB_S3_H
#define BB_S3_H

#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "buf.h"
#include "error.h"
#include "hash.h"
#include "http.h"

struct bb_endpoint;

/* ---- names and URLs ---- */

/* A parsed "s3://bucket/key": both owned (bb_s3_uri_release). key is ""
 * for "s3://bucket" and "s3://bucket/". */
struct bb_s3_uri {
	char *bucket;
	char *key;
};
/*
 * Parse and check an S3 URI: the bucket must follow S3's naming rules
 * (bb_s3_bucket_valid), the key must be valid UTF-8 without control
 * characters and at most 1024 bytes. -1 with kind BB_ERR_INPUT and a
 * message naming the problem.
 */
int bb_s3_uri_parse(const char *uri, struct bb_s3_uri *out, struct bb_error *err);
void bb_s3_uri_release(struct bb_s3_uri *u);
/* 1 when the name follows S3's bucket naming rules: 3-63 characters of
 * [a-z0-9.-], starting and ending with a letter or digit, no "..", not an
 * IPv4 address, no reserved prefix (xn--, sthree-) or suffix (-s3alias,
 * --ol-s3, --x-s3). */
int bb_s3_bucket_valid(const char *bucket);
/* Append the URL of an object (key "" gives the bucket URL followed by
 * "/"), then "?" and query when query is not NULL (already encoded). */
int bb_s3_object_url(const struct bb_endpoint *ep, const char *bucket, const char *key,
    const char *query, struct bb_buf *out);

/* ---- HEAD ---- */

struct bb_s3_object {
	uint64_t size;
	char etag[128];                   /* as sent, quotes included */
	char content_type[128];
	char last_modified[64];
	char checksum_sha256[BB_CHECKSUM_B64];   /* x-amz-checksum-sha256, or "" */
	char checksum_crc32[BB_CHECKSUM_B64];
	char checksum_crc32c[BB_CHECKSUM_B64];
	long parts_count;                 /* x-amz-mp-parts-count, 0 if none */
	struct bb_http_headers meta;      /* x-amz-meta-* without the prefix */
};
/* _init before use; _release frees meta and leaves it as after _init. */
void bb_s3_object_init(struct bb_s3_object *o);
void bb_s3_object_release(struct bb_s3_object *o);
/* Fill o from response headers (HEAD or GET). */
int bb_s3_object_from_headers(const struct bb_http_headers *h, struct bb_s3_object *o);

/* HEAD an object (x-amz-checksum-mode: ENABLED). Absent: -1, kind
 * BB_ERR_NOTFOUND (ae->code "404" or "NoSuchKey"). */
int bb_s3_head(struct bb_aws *aws, const char *bucket, const char *key,
    struct bb_s3_object *out, struct bb_aws_error *ae, struct bb_error *err);

/* ---- PUT ---- */

enum bb_s3_put_flags {
	BB_S3_CONTENT_MD5 = 1 << 0,      /* send Content-MD5 */
	BB_S3_CHECKSUM_SHA256 = 1 << 1,  /* send x-amz-checksum-sha256 (and
	                                    x-amz-checksum-algorithm on create) */
	BB_S3_IF_NONE_MATCH = 1 << 2,    /* If-None-Match: * (PUT, complete) */
	BB_S3_CHECKSUM_CRC32C = 1 << 3,  /* create only: CRC32C part checksums */
};

struct bb_s3_put_opts {
	const char *content_type;        /* NULL: application/octet-stream */
	unsigned flags;                  /* enum bb_s3_put_flags */
	const struct bb_http_headers *headers;   /* extra (x-amz-meta-*, SSE), or NULL */
};

struct bb_s3_put_result {
	char etag[128];                  /* quoted, as returned */
	char md5_hex[BB_MD5_HEX];        /* of what was sent */
	char sha256_hex[BB_SHA256_HEX];
	char checksum_sha256[BB_CHECKSUM_B64];   /* base64 SHA-256 */
};

/*
 * PUT an object from memory or from a file (the whole file, read twice:
 * once to hash, once to send, as the payload's SHA-256 is signed and goes
 * out in the headers before the body). The payload is signed with its SHA-256.
 * The returned ETag is checked against the MD5 (when it has the form of
 * one and the object is not KMS-encrypted) and a returned
 * x-amz-checksum-sha256 against the local one: a mismatch is an error.
 */
int bb_s3_put_mem(struct bb_aws *aws, const char *bucket, const char *key, const void *p,
    size_t n, const struct bb_s3_put_opts *opts, struct bb_s3_put_result *res,
    struct bb_aws_error *ae, struct bb_error *err);
int bb_s3_put_file(struct bb_aws *aws, const char *bucket, const char *key, const char *path,
    const struct bb_s3_put_opts *opts, struct bb_s3_put_result *res,
    struct bb_aws_error *ae, struct bb_error *err);

/* ---- prepared transfers (PUT object, upload part) ---- */

struct bb_s3_xfer {
	struct bb_http_req req;          /* hand these two to bb_http_multi_add */
	struct bb_http_resp resp;
	struct bb_aws_sign sign;         /* the prepare context of req */
	struct bb_buf url;
	struct bb_buf what;              /* "PUT s3://b/k", for messages */
	int fd;                          /* file body: fd (owned), range */
	uint64_t off, len, pos;
	int part_number;                 /* 0 for a PUT object */
	unsigned flags;
	char md5_hex[BB_MD5_HEX];        /* "": none computed, ETag not compared */
	char sha256_hex[BB_SHA256_HEX];
	/* the x-amz-checksum-* sent (base64), which an echo must equal;
	 * ck_alg NONE means SHA-256 (what the prepare functions send) */
	enum bb_checksum_alg ck_alg;
	char checksum[BB_CHECKSUM_B64];
};
void bb_s3_xfer_init(struct bb_s3_xfer *x);
/* Frees the request, response and closes the fd. */
void bb_s3_xfer_release(struct bb_s3_xfer *x);

/* Prepare a PUT of bytes [off, off+len) of the file at path. */
int bb_s3_put_prepare(struct bb_aws *aws, const char *bucket, const char *key,
    const char *path, uint64_t off, uint64_t len, const struct bb_s3_put_opts *opts,
    struct bb_s3_xfer *x, struct bb_error *err);
/* Interpret the finished transfer (rc and http_err as the multi's done
 * callback or bb_http_do gave them). */
int bb_s3_put_finish(struct bb_s3_xfer *x, int rc, const struct bb_error *http_err,
    struct bb_s3_put_result *res, struct bb_aws_error *ae, struct bb_error *err);

/* ---- multipart upload ---- */

struct bb_s3_part {
	int number;                      /* 1..10000 */
	char etag[128];                  /* quoted */
	enum bb_checksum_alg ck_alg;     /* SHA256 or CRC32C (ListParts: the one
	                                    it gave); NONE when none */
	char checksum[BB_CHECKSUM_B64];  /* base64; "" when none */
	uint64_t size;                   /* list parts only */
};

/* CreateMultipartUpload: *upload_id gets a malloc'd id (caller frees).
 * opts->flags BB_S3_CHECKSUM_SHA256 or _CRC32C asks for part checksums. */
int bb_s3_mpu_create(struct bb_aws *aws, const char *bucket, const char *key,
    const struct bb_s3_put_opts *opts, char **upload_id, struct bb_aws_error *ae,
    struct bb_error *err);
/* Prepare / interpret one UploadPart of bytes [off, off+len) of path;
 * flags: BB_S3_CONTENT_MD5, BB_S3_CHECKSUM_SHA256. */
int bb_s3_part_prepare(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, int part_number, const char *path, uint64_t off, uint64_t len,
    unsigned flags, struct bb_s3_xfer *x, struct bb_error *err);
int bb_s3_part_finish(struct bb_s3_xfer *x, int rc, const struct bb_error *http_err,
    struct bb_s3_part *out, struct bb_aws_error *ae, struct bb_error *err);
/* Both in one blocking call. */
int bb_s3_upload_part(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, int part_number, const char *path, uint64_t off, uint64_t len,
    unsigned flags, struct bb_s3_part *out, struct bb_aws_error *ae, struct bb_error *err);
/* The CompleteMultipartUpload XML body for parts (in ascending order). */
int bb_s3_complete_body(const struct bb_s3_part *parts, size_t n, struct bb_buf *out);
/* CompleteMultipartUpload; a 200 response carrying <Error> is a failure.
 * etag (128 bytes, may be NULL) gets the object's ETag. */
int bb_s3_mpu_complete(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, const struct bb_s3_part *parts, size_t n, unsigned flags,
    char *etag, struct bb_aws_error *ae, struct bb_error *err);
int bb_s3_mpu_abort(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, struct bb_aws_error *ae, struct bb_error *err);

/* Per part / per upload callbacks: return 0 to go on, non-zero to stop
 * (the listing then returns 0). The struct is valid during the call. */
typedef int (*bb_s3_part_fn)(const struct bb_s3_part *part, void *ctx);
struct bb_s3_upload {
	const char *key;
	const char *upload_id;
	const char *initiated;           /* ISO 8601 */
};
typedef int (*bb_s3_upload_fn)(const struct bb_s3_upload *u, void *ctx);
/* ListParts of an upload, every page. */
int bb_s3_mpu_list_parts(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, bb_s3_part_fn fn, void *ctx, struct bb_aws_error *ae,
    struct bb_error *err);
/* ListMultipartUploads of exactly this key (prefix=key, others skipped),
 * every page. */
int bb_s3_mpu_list(struct bb_aws *aws, const char *bucket, const char *key,
    bb_s3_upload_fn fn, void *ctx, struct bb_aws_error *ae, struct bb_error *err);

/* ---- multipart control calls, prepared ---- */

/*
 * CreateMultipartUpload, CompleteMultipartUpload, and one page of
 * ListMultipartUploads / ListParts as prepared requests, for a caller
 * that drives many uploads on one bb_http_multi (the blocking functions
 * above are these with bb_http_do). _prepare fills c: hand c->req and
 * c->resp to bb_http_multi_add (signed before every attempt); _finish
 * interprets the finished transfer (rc and http_err as the multi's done
 * callback gave them) exactly as the blocking call does. A listing keeps
 * its markers in c: while _finish sets *more, _prepare again (same c) for
 * the next page. Lifecycle: bb_s3_call_init, any number of prepare/finish,
 * bb_s3_call_release.
 */
struct bb_s3_call {
	struct bb_http_req req;
	struct bb_http_resp resp;
	struct bb_aws_sign sign;
	struct bb_buf url, what, body;
	struct bb_buf mark1, mark2;      /* a listing's next-page markers */
	int paged;                       /* a later page is being asked for */
};
void bb_s3_call_init(struct bb_s3_call *c);
void bb_s3_call_release(struct bb_s3_call *c);
int bb_s3_mpu_create_prepare(struct bb_aws *aws, const char *bucket, const char *key,
    const struct bb_s3_put_opts *opts, struct bb_s3_call *c, struct bb_error *err);
int bb_s3_mpu_create_finish(struct bb_s3_call *c, int rc, const struct bb_error *http_err,
    char **upload_id, struct bb_aws_error *ae, struct bb_error *err);
int bb_s3_mpu_complete_prepare(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, const struct bb_s3_part *parts, size_t n, unsigned flags,
    struct bb_s3_call *c, struct bb_error *err);
int bb_s3_mpu_complete_finish(struct bb_s3_call *c, int rc, const struct bb_error *http_err,
    char *etag, struct bb_aws_error *ae, struct bb_error *err);
int bb_s3_mpu_list_prepare(struct bb_aws *aws, const char *bucket, const char *key,
    struct bb_s3_call *c, struct bb_error *err);
int bb_s3_mpu_list_finish(struct bb_s3_call *c, int rc, const struct bb_error *http_err,
    const char *key, bb_s3_upload_fn fn, void *ctx, int *more, struct bb_aws_error *ae,
    struct bb_error *err);
int bb_s3_mpu_list_parts_prepare(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, struct bb_s3_call *c, struct bb_error *err);
/* upload_alg (may be NULL) gets the upload's ChecksumAlgorithm (SHA256 or
 * CRC32C; NONE when it has none or it is another one). */
int bb_s3_mpu_list_parts_finish(struct bb_s3_call *c, int rc, const struct bb_error *http_err,
    bb_s3_part_fn fn, void *ctx, int *more, enum bb_checksum_alg *upload_alg,
    struct bb_aws_error *ae, struct bb_error *err);

/* ---- GET ---- */

/* Called with the body as it arrives; non-zero aborts the transfer. */
typedef int (*bb_s3_data_fn)(const char *p, size_t n, void *ctx);
/*
 * GET an object, or bytes [off, off+len) of it when len > 0 (Range), to
 * fn. info (may be NULL) gets the response headers. A transfer that fails
 * after data was delivered is not retried (the caller may resume with a
 * range).
 */
int bb_s3_get(struct bb_aws *aws, const char *bucket, const char *key, uint64_t off,
    uint64_t len, bb_s3_data_fn fn, void *ctx, struct bb_s3_object *info,
    struct bb_aws_error *ae, struct bb_error *err);

/* ---- ListObjectsV2 ---- */

struct bb_s3_entry {
	const char *key;                 /* decoded; for a common prefix, the prefix */
	int is_prefix;                   /* 1: a CommonPrefixes entry */
	uint64_t size;
	const char *etag;
	const char *last_modified;
};
typedef int (*bb_s3_list_fn)(const struct bb_s3_entry *e, void *ctx);
/* Every key under prefix (may be NULL), with delimiter (may be NULL)
 * common prefixes too, following continuation tokens; encoding-type=url
 * is requested and keys are decoded. */
int bb_s3_list_v2(struct bb_aws *aws, const char *bucket, const char *prefix,
    const char *delimiter, bb_s3_list_fn fn, void *ctx, struct bb_aws_error *ae,
    struct bb_error *err);
/* Parse one ListBucketResult page: fn per entry, next_token (reset) gets
 * NextContinuationToken when IsTruncated. url_encoded: decode keys.
 * 0, 1 when fn stopped, -1 on error. */
int bb_s3_list_parse(const char *body, size_t len, int url_encoded, bb_s3_list_fn fn,
    void *ctx, struct bb_buf *next_token, struct bb_error *err);

#endif
