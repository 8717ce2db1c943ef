/*
 * digest.c - S3's digests of a byte range, here or on a pool of threads
 * (see digest.h).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "error.h"
#include "hash.h"

#define HASH_BLOCK (128u << 10)

/* Feed a part's CRC32C, as S3 writes it (4 bytes big-endian), to the
 * composite CRC32C. */
static uint32_t
crc_of_crc(uint32_t cc, uint32_t pc)
{
	unsigned char be[4];

	be[0] = (unsigned char)(pc >> 24);
	be[1] = (unsigned char)(pc >> 16);
	be[2] = (unsigned char)(pc >> 8);
	be[3] = (unsigned char)pc;
	return bb_crc32c(cc, be, 4);
}

/*
 * One pass over the bytes for the digests asked for. MD5 is the slow one
 * (about a third of SHA-256's speed with SHA-NI): it is computed only when
 * an ETag must be matched or Content-MD5 was asked for.
 */
static void
run_job(struct bb_digest_job *j, unsigned char *buf)
{
	struct bb_md5 pm = { NULL }, cm = { NULL };
	struct bb_sha256 sh = { NULL }, cs = { NULL };
	unsigned char d[BB_SHA256_LEN];
	uint32_t pc = 0, cc = 0, wc = 0;
	uint64_t done = 0, inpart = 0, psz;
	const unsigned char *p;
	size_t want;
	ssize_t r;

	j->rc = -1;
	j->nparts = 0;
	psz = j->part_size && (j->multipart || j->composite) ? j->part_size : UINT64_MAX;
	if ((j->want_md5 && (bb_md5_init(&pm) < 0 || bb_md5_init(&cm) < 0)) ||
	    (j->want_sha && (bb_sha256_init(&sh) < 0 || bb_sha256_init(&cs) < 0))) {
		j->errnum = ENOMEM;
		goto out;
	}
	while (done < j->len) {
		/* a cancelled upload does not wait for a large file's hashing */
		if (j->cancel && __atomic_load_n(j->cancel, __ATOMIC_RELAXED)) {
			j->errnum = ECANCELED;
			goto out;
		}
		want = j->len - done < HASH_BLOCK ? (size_t)(j->len - done) : HASH_BLOCK;
		if (want > psz - inpart)
			want = (size_t)(psz - inpart);
		if (j->mem) {
			p = j->mem + done;
			r = (ssize_t)want;
		} else {
			r = pread(j->fd, buf, want, (off_t)(j->off + done));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				j->errnum = errno;
				goto out;
			}
			if (r == 0) {
				j->short_read = 1;
				goto out;
			}
			p = buf;
		}
		if ((j->want_md5 && bb_md5_update(&pm, p, (size_t)r) < 0) ||
		    (j->want_sha && bb_sha256_update(&sh, p, (size_t)r) < 0)) {
			j->errnum = ENOMEM;
			goto out;
		}
		if (j->want_crc) {
			pc = bb_crc32c(pc, p, (size_t)r);
			if (j->composite)
				wc = bb_crc32c(wc, p, (size_t)r);
		}
		done += (uint64_t)r;
		inpart += (uint64_t)r;
		if (inpart == psz && done < j->len) {
			if ((j->want_md5 && j->multipart && (bb_md5_final(&pm, d) < 0 ||
			    bb_md5_update(&cm, d, BB_MD5_LEN) < 0)) ||
			    (j->want_sha && j->composite && (bb_sha256_final(&sh, d) < 0 ||
			    bb_sha256_update(&cs, d, BB_SHA256_LEN) < 0))) {
				j->errnum = ENOMEM;
				goto out;
			}
			if (j->want_crc && j->composite) {
				cc = crc_of_crc(cc, pc);
				pc = 0;
			}
			j->nparts++;
			inpart = 0;
		}
	}
	if ((j->want_md5 && bb_md5_final(&pm, j->md5) < 0) ||
	    (j->want_sha && bb_sha256_final(&sh, j->sha) < 0)) {
		j->errnum = ENOMEM;
		goto out;
	}
	j->nparts++;
	if ((j->want_md5 && j->multipart && (bb_md5_update(&cm, j->md5, BB_MD5_LEN) < 0 ||
	    bb_md5_final(&cm, j->md5) < 0)) ||
	    (j->want_sha && j->composite && (bb_sha256_update(&cs, j->sha, BB_SHA256_LEN) < 0 ||
	    bb_sha256_final(&cs, j->sha) < 0))) {
		j->errnum = ENOMEM;
		goto out;
	}
	j->crc = j->want_crc && j->composite ? crc_of_crc(cc, pc) : pc;
	j->crc_whole = j->composite ? wc : pc;
	j->rc = 0;
out:
	bb_md5_release(&pm);
	bb_md5_release(&cm);
	bb_sha256_release(&sh);
	bb_sha256_release(&cs);
}

static void *
worker(void *arg)
{
	struct bb_digest_pool *hp = arg;
	struct bb_digest_job *j;
	unsigned char *buf = malloc(HASH_BLOCK);

	pthread_mutex_lock(&hp->lock);
	for (;;) {
		while (!hp->stop && hp->head == NULL)
			pthread_cond_wait(&hp->work, &hp->lock);
		if (hp->head == NULL)
			break;
		j = hp->head;
		hp->head = j->next;
		if (hp->head == NULL)
			hp->tail = NULL;
		hp->running++;
		pthread_mutex_unlock(&hp->lock);
		if (buf == NULL && j->mem == NULL) {
			j->rc = -1;
			j->errnum = ENOMEM;
		} else {
			run_job(j, buf);
		}
		pthread_mutex_lock(&hp->lock);
		hp->running--;
		j->done = 1;
		pthread_cond_broadcast(&hp->idle);
	}
	pthread_mutex_unlock(&hp->lock);
	free(buf);
	return NULL;
}

int
bb_digest_pool_start(struct bb_digest_pool *hp, int n)
{
	int i;

	memset(hp, 0, sizeof(*hp));
	if (pthread_mutex_init(&hp->lock, NULL) != 0)
		return -1;
	pthread_cond_init(&hp->work, NULL);
	pthread_cond_init(&hp->idle, NULL);
	hp->threads = calloc((size_t)n, sizeof(*hp->threads));
	if (hp->threads == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (pthread_create(&hp->threads[i], NULL, worker, hp) != 0)
			break;
		hp->nthreads++;
	}
	return hp->nthreads > 0 ? 0 : -1;
}

void
bb_digest_pool_submit(struct bb_digest_pool *hp, struct bb_digest_job *j)
{
	j->next = NULL;
	j->done = 0;
	j->cancel = &hp->cancel;
	pthread_mutex_lock(&hp->lock);
	if (hp->tail)
		hp->tail->next = j;
	else
		hp->head = j;
	hp->tail = j;
	pthread_cond_signal(&hp->work);
	pthread_mutex_unlock(&hp->lock);
}

int
bb_digest_pool_done(struct bb_digest_pool *hp, struct bb_digest_job *j)
{
	int d;

	pthread_mutex_lock(&hp->lock);
	d = j->done;
	pthread_mutex_unlock(&hp->lock);
	return d;
}

void
bb_digest_pool_wait(struct bb_digest_pool *hp, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (ms % 1000) * 1000000L;
	ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&hp->lock);
	if (hp->head != NULL || hp->running > 0)
		pthread_cond_timedwait(&hp->idle, &hp->lock, &ts);
	pthread_mutex_unlock(&hp->lock);
}

void
bb_digest_pool_drain(struct bb_digest_pool *hp)
{
	struct bb_digest_job *j;

	pthread_mutex_lock(&hp->lock);
	while ((j = hp->head) != NULL) {
		hp->head = j->next;
		j->rc = -1;
		j->errnum = ECANCELED;
		j->done = 1;
	}
	hp->tail = NULL;
	__atomic_store_n(&hp->cancel, 1, __ATOMIC_RELAXED);
	while (hp->running > 0)
		pthread_cond_wait(&hp->idle, &hp->lock);
	__atomic_store_n(&hp->cancel, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&hp->lock);
}

void
bb_digest_pool_stop(struct bb_digest_pool *hp)
{
	int i;

	if (hp->threads == NULL)
		return;
	bb_digest_pool_drain(hp);
	pthread_mutex_lock(&hp->lock);
	hp->stop = 1;
	pthread_cond_broadcast(&hp->work);
	pthread_mutex_unlock(&hp->lock);
	for (i = 0; i < hp->nthreads; i++)
		pthread_join(hp->threads[i], NULL);
	free(hp->threads);
	hp->threads = NULL;
	pthread_cond_destroy(&hp->work);
	pthread_cond_destroy(&hp->idle);
	pthread_mutex_destroy(&hp->lock);
}

int
bb_digest_run(struct bb_digest_job *j, struct bb_error *err)
{
	unsigned char *buf = malloc(HASH_BLOCK);

	if (buf == NULL)
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	j->cancel = NULL;
	run_job(j, buf);
	free(buf);
	if (j->rc == 0)
		return 0;
	if (j->short_read)
		return bb_error_set(err, BB_ERR_INPUT, "the data is shorter than %llu bytes",
		    (unsigned long long)j->len);
	errno = j->errnum;
	return bb_error_errno(err, "cannot read");
}
