/*
 * digest.h - S3's digests of a byte range of a file (or of memory), in one
 * pass: MD5 (an ETag, or the multipart ETag form, the MD5 of the parts'
 * MD5s), SHA-256 and CRC32C (whole, or S3's composite form, the digest of
 * the parts' digests; for CRC32C the whole CRC too, S3's FULL_OBJECT), run
 * here (bb_digest_run) or on a pool of threads (bb_digest_pool) so that
 * hashing overlaps transfers. Files are read with pread in 128 KiB blocks.
 *
 * Pool lifecycle: bb_digest_pool_start(), _submit() jobs (the job must
 * stay valid until _done() says so), _stop(). One thread submits and
 * polls; the jobs run on the pool's threads.
 */
#ifndef BB_DIGEST_H
#define BB_DIGEST_H

#include <pthread.h>
#include <stdint.h>

#include "error.h"
#include "hash.h"

struct bb_digest_job {
	/* in */
	int fd;                        /* read with pread, or */
	const unsigned char *mem;      /* hash memory */
	uint64_t off, len;
	uint64_t part_size;            /* the parts of the multipart forms */
	int multipart;                 /* md5: the ETag form, MD5 of the part MD5s */
	int composite;                 /* sha, crc: S3's composite, the digest of the
	                                  parts' digests */
	int want_md5, want_sha, want_crc;   /* crc: CRC32C */
	/* out */
	unsigned char md5[BB_MD5_LEN];
	unsigned char sha[BB_SHA256_LEN];
	uint32_t crc;                  /* composite when composite, else whole */
	uint32_t crc_whole;            /* of all the bytes (S3's FULL_OBJECT) */
	int nparts;
	int rc, errnum, short_read;    /* rc -1: errno errnum, or the data ended
	                                  early (short_read) */
	/* the pool's */
	int done;                      /* under the pool lock */
	const int *cancel;             /* non-zero (atomic): stop between blocks */
	struct bb_digest_job *next;
};

/*
 * Run j on this thread. 0, or -1 with err: the data shorter than j->len
 * (BB_ERR_INPUT), a read error, memory.
 */
int bb_digest_run(struct bb_digest_job *j, struct bb_error *err);

struct bb_digest_pool {
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	struct bb_digest_job *head, *tail;
	int stop;
	int nthreads;
	pthread_t *threads;
	int running;                   /* jobs being hashed */
	int cancel;                    /* atomic: running jobs stop (drain) */
};

/* Start n threads; 0, or -1 when none could start. */
int bb_digest_pool_start(struct bb_digest_pool *hp, int n);
/* Queue j (its outputs are set when _done returns 1). */
void bb_digest_pool_submit(struct bb_digest_pool *hp, struct bb_digest_job *j);
/* 1 when j has been run (or dropped by _drain: rc -1, ECANCELED). */
int bb_digest_pool_done(struct bb_digest_pool *hp, struct bb_digest_job *j);
/* Wait up to ms for some job to finish. */
void bb_digest_pool_wait(struct bb_digest_pool *hp, long ms);
/* Drop the queued jobs (done, rc -1, ECANCELED), stop the running ones
 * between blocks, and wait for them. */
void bb_digest_pool_drain(struct bb_digest_pool *hp);
/* Drain, stop and join the threads, free; nothing if never started. */
void bb_digest_pool_stop(struct bb_digest_pool *hp);

#endif
