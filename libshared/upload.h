/*
 * upload.h - parallel uploads of files and streams to S3: one PUT for a
 * small object, a multipart upload with parts in parallel for a large one,
 * all of it on one libcurl multi interface (http.h) with at most `jobs`
 * transfers at once across every file and part, connections reused. The
 * multipart calls (list, create, complete) go on the multi too, so one
 * file's round trips never hold up the others' transfers; only an abort
 * (after a failure) is a blocking call. A create or complete in flight
 * when bb_upload_cancel() is called is waited for (10 s at most): what it
 * did is then undone or reported.
 *
 * Data is hashed once (in a small pool of hashing threads, so hashing
 * overlaps the transfers); the transfers then read the file again with
 * pread (page cache) or send the bytes of a stream from memory. Every PUT
 * and part carries x-amz-checksum-crc32c or -sha256 (opts.checksum), a
 * signed header that S3 checks the body against, stores with the object
 * and echoes; the echo is compared with what was sent. Over plain HTTP the
 * payload is signed too (x-amz-content-sha256: with a SHA-256 checksum the
 * same digest). Over TLS it goes as UNSIGNED-PAYLOAD with the checksum,
 * except where the checksum cannot be relied on: when a store does not
 * echo it (it may not check it: that part is sent again and all later
 * ones with a signed payload SHA-256), and for the parts of a resumed
 * upload that an earlier run made without checksums. MD5 (three times slower than SHA-256 with
 * SHA-NI) is computed only with BB_UPLOAD_CONTENT_MD5, or where an ETag
 * must be matched (an object or part without a stored checksum). A part
 * that fails after the HTTP layer's own retries is sent again
 * (opts.retries times) before the file is reported as failed, and so are
 * the HEAD of the skip check, CreateMultipartUpload and
 * CompleteMultipartUpload when their failure may pass. A multipart
 * object's ETag is checked against the MD5 of the part ETags S3 gave
 * (HEAD when CompleteMultipartUpload returns none, as radosgw does).
 * Memory: at most about jobs + 1 stream buffers of part_size; files are
 * never read whole into memory.
 *
 * Re-runs: unless BB_UPLOAD_FORCE, an object already there with the same
 * size and the same content is not sent again (result skipped). The
 * content is compared by the object's x-amz-checksum-crc32c or -sha256
 * when it has one (whole, or S3's composite "<digest of the part
 * digests>-<parts>"),
 * else by its ETag as a plain or multipart MD5; the part size is read
 * from the x-amz-meta-bb-part-size metadata written at creation. Unless
 * BB_UPLOAD_NO_RESUME, a multipart upload of the same key left by an
 * interrupted run is found (ListMultipartUploads, ListParts) and resumed:
 * parts whose checksum (or, without one, ETag) matches the local bytes
 * are kept. bb_upload_cancel() aborts every multipart upload this run
 * created or resumed and has not completed.
 *
 * Lifecycle: bb_upload_new(), bb_upload_add_file()/_add_stream(),
 * bb_upload_run() until nothing is pending, bb_upload_free(). Not
 * thread-safe (one thread drives it); the done callback is called from
 * bb_upload_run() or bb_upload_cancel().
 */
#ifndef BB_UPLOAD_H
#define BB_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "error.h"
#include "hash.h"
#include "http.h"

#define BB_UPLOAD_MIN_PART (5ULL << 20)      /* S3: 5 MiB, but the last part */
#define BB_UPLOAD_MAX_PART (5ULL << 30)      /* S3: 5 GiB */
#define BB_UPLOAD_MAX_PARTS 10000

enum bb_upload_flags {
	BB_UPLOAD_CONTENT_MD5 = 1 << 0, /* also compute and send Content-MD5 */
	BB_UPLOAD_FORCE = 1 << 1,      /* no HEAD, no skip: always send */
	BB_UPLOAD_NO_RESUME = 1 << 2,  /* never resume an earlier multipart upload */
	BB_UPLOAD_NO_CHECKSUM = 1 << 3, /* no x-amz-checksum-sha256 (stores that
	                                  refuse it): payloads signed instead */
};

struct bb_upload_opts {
	int jobs;                  /* transfers at once; < 1: 8 */
	uint64_t part_size;        /* 0: 16 MiB (raised for > 10,000 parts) */
	uint64_t threshold;        /* multipart from this size on; 0: 64 MiB */
	unsigned flags;            /* enum bb_upload_flags */
	int retries;               /* resends of a failed part or PUT; < 0: 0, 0: 3 */
	int hash_threads;          /* 0: min(jobs, CPUs, 4) */
	/* The checksum of new uploads: BB_CKSUM_SHA256 or BB_CKSUM_CRC32C;
	 * BB_CKSUM_NONE (0) picks: CRC32C over TLS, SHA-256 over plain HTTP
	 * (where the payload is signed with its SHA-256 anyway). A resumed
	 * upload keeps the one it was made with. */
	enum bb_checksum_alg checksum;
	const char *content_type;  /* NULL: application/octet-stream */
	/* Sent with every PUT and CreateMultipartUpload (storage class, SSE,
	 * ACL, x-amz-tagging, x-amz-meta-*), or NULL. Copied. */
	const struct bb_http_headers *headers;
};

/* What became of one object; valid during the done callback only. */
struct bb_upload_result {
	void *user;                /* as given to bb_upload_add_* */
	const char *path;          /* file name (or the stream's name) */
	const char *bucket;
	const char *key;
	int ok;                    /* 1: S3 holds the object intact */
	int skipped;               /* 1: an identical object was already there */
	int multipart;             /* 1: sent as a multipart upload */
	int parts_reused;          /* parts of a resumed upload not sent again */
	char etag[128];            /* quoted, as S3 has it */
	uint64_t size;             /* object size */
	uint64_t sent;             /* bytes sent by this run (0 when skipped) */
	struct bb_error err;       /* why, when !ok */
	struct bb_aws_error ae;    /* the AWS error code, when there was one */
};
typedef void (*bb_upload_done_fn)(const struct bb_upload_result *r, void *ctx);

struct bb_upload;

/* NULL on failure (err). aws must outlive the scheduler. */
struct bb_upload *bb_upload_new(struct bb_aws *aws, const struct bb_upload_opts *opts,
    bb_upload_done_fn done, void *ctx, struct bb_error *err);
/*
 * Queue the file at path for s3://bucket/key (all copied). -1 only for a
 * bad argument or memory (err); a file that cannot be read is reported
 * through the done callback like any other failure.
 */
int bb_upload_add_file(struct bb_upload *u, const char *path, const char *bucket,
    const char *key, void *user, struct bb_error *err);
/*
 * Queue a stream of unknown length read from fd (not closed; reading is
 * done with poll and read while transfers run). It is buffered in parts of
 * part_size: if it ends within the first part it is sent with one PUT,
 * else as a multipart upload (at most 10,000 parts). name is for
 * messages. Only one stream at a time.
 */
int bb_upload_add_stream(struct bb_upload *u, int fd, const char *name, const char *bucket,
    const char *key, void *user, struct bb_error *err);
/*
 * Drive the uploads for at most about timeout_ms (< 0: until none is
 * pending), calling done as objects finish. Returns the number of objects
 * still pending, or -1 on an internal failure (err).
 */
int bb_upload_run(struct bb_upload *u, long timeout_ms, struct bb_error *err);
/* Objects added and not finished. */
size_t bb_upload_pending(const struct bb_upload *u);

struct bb_upload_progress {
	uint64_t files_total, files_done, files_failed, files_skipped;
	uint64_t bytes_total;      /* known sizes of the files added */
	uint64_t bytes_sent;       /* acknowledged by S3, plus in flight */
};
void bb_upload_get_progress(const struct bb_upload *u, struct bb_upload_progress *p);

/*
 * Stop: cancel every transfer, abort (blocking) each multipart upload this
 * run created or resumed and did not complete, and report every pending
 * object as failed ("cancelled"). 0, or -1 when an abort failed (err names
 * the first; the others are still tried).
 */
int bb_upload_cancel(struct bb_upload *u, struct bb_error *err);
/* Free (cancels first when anything is pending). NULL is ok. */
void bb_upload_free(struct bb_upload *u);

/* ---- helpers, exposed for tests ---- */

/* The part size for an object of `size` bytes: `want` (0: 16 MiB) raised
 * to a whole MiB so that at most 10,000 parts are needed, and kept within
 * 5 MiB..5 GiB. */
uint64_t bb_upload_part_size(uint64_t size, uint64_t want);
/*
 * The ETag S3 gives an object of len bytes read from fd at offset 0:
 * "<md5>" when part_size is 0 or len <= part_size and single, else
 * "<md5 of the part MD5s>-<parts>" (quoted, into out[128]). sha256_b64
 * (may be NULL, BB_CHECKSUM_B64 bytes) gets the base64 SHA-256 of the
 * whole. multipart: 1 for the multipart form even with one part.
 */
int bb_upload_local_etag(int fd, uint64_t len, uint64_t part_size, int multipart,
    char *out, char *sha256_b64, struct bb_error *err);

/*
 * The x-amz-checksum-sha256 (alg BB_CKSUM_SHA256) or -crc32c (BB_CKSUM_CRC32C)
 * S3 gives an object of len bytes read from fd at offset 0, into out
 * (BB_CHECKSUM_B64 + 8 bytes): the base64 digest of the whole when
 * part_size is 0, else S3's composite form for a multipart upload in parts
 * of part_size, "<base64 digest of the parts' digests>-<parts>" (a CRC as
 * its 4 big-endian bytes). The re-run skip compares this with the
 * object's.
 */
int bb_upload_local_checksum(int fd, uint64_t len, uint64_t part_size, enum bb_checksum_alg alg,
    char *out, struct bb_error *err);

#endif
