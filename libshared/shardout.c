/*
 * shardout.c - the shard output engine (shardout.h): packing with the
 * tail rebalanced, temporary files, the writer and sync threads, durable
 * publication in order, sidecars.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "hash.h"
#include "json.h"
#include "recordid.h"
#include "shardout.h"

#define WBUF_SIZE (256u << 10)  /* write unit */
#define SYNC_STEP (4u << 20)     /* writeback unit */
#define NBUF 8                   /* buffers in the pool */
#define QLEN 16                  /* tasks queued for the writer */
#define MAX_FINISHING 2          /* shards between final and published */
#define ID_SIZE (BB_RECORDID_MAX + 8)

struct rec {
	uint64_t out_end;      /* end of the record in the shard file */
	uint64_t row;          /* global row number, 1-based */
	uint64_t line;
	uint64_t tokens;       /* cumulative estimate */
	union {                /* where the row is: input file, or spool (sidecar mode) */
		struct { uint64_t in_off, in_end; };
		struct { uint64_t spool_off, spool_end; };
	};
};

struct shard {
	unsigned index;
	char *tmp;             /* temporary path, NULL in a dry run */
	int fd;
	char *wb;              /* records not yet handed to the writer */
	size_t wlen;
	struct bb_sha256 sha;  /* of the bytes written (writer thread) */
	uint64_t written;      /* bytes written (writer thread) */
	uint64_t synced;       /* bytes whose writeback was started (writer) */
	uint64_t bytes;
	struct rec *recs;
	size_t nrec, cap;
	char first_id[ID_SIZE], last_id[ID_SIZE];
	char hex[BB_SHA256_HEX];  /* digest of the file, once final */
	int spool_fd;          /* unlinked file of raw rows (sidecar mode) */
	struct bb_buf sbuf;    /* spooled rows not yet written */
	uint64_t spool_len;    /* including sbuf */
};

enum task_kind { T_WRITE, T_FINISH };

struct task {
	enum task_kind kind;
	struct shard *s;
	char *buf;             /* T_WRITE: bytes from the pool, or own (freed) */
	size_t len;
	int own;
};

struct bb_shardout {
	struct bb_shardout_opts o;
	const char *source;    /* the input's path, or NULL */
	int sidecar_mode;      /* read by the sync thread: written when it changes */
	struct shard *held, *cur;
	unsigned next_index;
	uint64_t closed;

	/*
	 * For bb_shardout_remove_temporaries(), which may run in a signal
	 * handler: the temporary names are tmpbase, the index, a suffix and
	 * tmpsfx; the files of shards lo..hi may be temporary.
	 */
	char *tmpbase;         /* "DIR/.PREFIX-", NULL in a dry run */
	char tmpsfx[32];       /* ".PID.tmp" */
	atomic_uint lo, hi;
	atomic_int dying;      /* no temporary file is made any more */

	/* the writer and sync threads */
	pthread_t tid, sync_tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int started, quit, sync_quit;
	struct task q[QLEN];
	size_t qhead, qn;
	int busy;              /* the writer runs a task */
	int finishing;         /* shards handed over, not yet published */
	struct shard *sq[MAX_FINISHING];   /* hashed, for the sync thread */
	size_t sqhead, sqn;
	char *pool[NBUF];      /* free buffers */
	size_t npool, nalloc;
	int failed;
	struct bb_error ferr;  /* the first failure of a thread */
	struct bb_shardout_stats st;
	int dirfd;
};

static int
nomem(struct bb_error *err)
{
	return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
}

/* ---- files ---- */

static int
write_all(int fd, const char *p, size_t n, const char *path, struct bb_error *err)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return bb_error_set(err, BB_ERR_SYSTEM, "cannot write '%s': %s", path,
			    strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read up to n bytes at off into p: *got bytes (fewer only at the end). */
static int
read_at(int fd, char *p, size_t n, uint64_t off, const char *path, size_t *got,
    struct bb_error *err)
{
	ssize_t r;

	*got = 0;
	while (*got < n) {
		r = pread(fd, p + *got, n - *got, (off_t)(off + *got));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return bb_error_set(err, BB_ERR_SYSTEM, "cannot read '%s': %s", path,
			    strerror(errno));
		}
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

/* DIR/PREFIX-NNNNN[SUFFIX], or the temporary name of it; NULL: no memory. */
static char *
shard_name(const struct bb_shardout *so, unsigned index, const char *suffix, int tmp)
{
	struct bb_buf b = BB_BUF_INIT;
	int r;

	if (tmp)
		r = bb_buf_addf(&b, "%s/.%s-%05u%s.%ld.tmp", so->o.dir, so->o.prefix, index, suffix,
		    (long)getpid());
	else
		r = bb_buf_addf(&b, "%s/%s-%05u%s", so->o.dir, so->o.prefix, index, suffix);
	if (r) {
		bb_buf_release(&b);
		return NULL;
	}
	return bb_buf_detach(&b, NULL);
}

/* An unlinked scratch file in the directory; -1 on error. */
static int
anon_file(const struct bb_shardout *so, struct bb_error *err)
{
	struct bb_buf p = BB_BUF_INIT;
	int fd = -1;

	if (bb_buf_addf(&p, "%s/.bb-shard-spool.XXXXXX", so->o.dir)) {
		nomem(err);
		goto out;
	}
	fd = mkstemp(p.data);
	if (fd < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "cannot create a file in '%s': %s", so->o.dir,
		    strerror(errno));
		goto out;
	}
	unlink(p.data);
out:
	bb_buf_release(&p);
	return fd;
}

/*
 * After a temporary file was created: when the temporaries are being
 * removed (the process is dying) it goes at once, and -1. Checked after
 * the open, so that a file that bb_shardout_remove_temporaries() missed
 * is removed here.
 */
static int
check_dying(const struct bb_shardout *so, int fd, const char *path, struct bb_error *err)
{
	if (!atomic_load(&so->dying))
		return 0;
	close(fd);
	unlink(path);
	return bb_error_set(err, BB_ERR_SYSTEM, "cannot create '%s': stopping", path);
}

/* Copy [off, off+n) of fd `from` to the end of fd `to`. */
static int
copy_range(int from, const char *fromname, uint64_t off, uint64_t n, int to,
    const char *toname, struct bb_error *err)
{
	char *buf = malloc(WBUF_SIZE);
	size_t want, got;
	int rc = -1;

	if (buf == NULL) {
		nomem(err);
		goto out;
	}
	while (n > 0) {
		want = n > WBUF_SIZE ? WBUF_SIZE : (size_t)n;
		if (read_at(from, buf, want, off, fromname, &got, err))
			goto out;
		if (got == 0) {
			bb_error_set(err, BB_ERR_SYSTEM, "cannot read '%s': unexpected end of file",
			    fromname);
			goto out;
		}
		if (write_all(to, buf, got, toname, err))
			goto out;
		off += got;
		n -= got;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/* ---- the threads' state ---- */

/* Record the first failure of a thread; the caller's next call reports
 * it. -1. */
__attribute__((format(printf, 2, 3)))
static int
fin_fail(struct bb_shardout *so, const char *f, ...)
{
	va_list ap;

	pthread_mutex_lock(&so->mu);
	if (!so->failed) {
		va_start(ap, f);
		bb_error_vset(&so->ferr, BB_ERR_SYSTEM, f, ap);
		va_end(ap);
		so->failed = 1;
	}
	pthread_mutex_unlock(&so->mu);
	return -1;
}

static int
fin_check(struct bb_shardout *so, struct bb_error *err)
{
	int failed;

	pthread_mutex_lock(&so->mu);
	failed = so->failed;
	pthread_mutex_unlock(&so->mu);
	if (failed)
		return bb_error_set(err, so->ferr.kind, "%s", so->ferr.msg);
	return 0;
}

static void
buf_put(struct bb_shardout *so, char *b)
{
	if (!so->started) {
		free(b);   /* the pool is gone (after fin_join) */
		return;
	}
	pthread_mutex_lock(&so->mu);
	so->pool[so->npool++] = b;
	pthread_cond_broadcast(&so->cv);
	pthread_mutex_unlock(&so->mu);
}

/* ---- shards ---- */

static void
shard_free(struct bb_shardout *so, struct shard *s, int remove_tmp)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->spool_fd >= 0)
		close(s->spool_fd);
	if (remove_tmp && s->tmp)
		unlink(s->tmp);
	free(s->tmp);
	free(s->recs);
	if (s->wb != NULL)
		buf_put(so, s->wb);
	bb_buf_release(&s->sbuf);
	bb_sha256_release(&s->sha);
	free(s);
}

static struct shard *
shard_new(struct bb_shardout *so, struct bb_error *err)
{
	struct shard *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		nomem(err);
		return NULL;
	}
	s->index = so->next_index++;
	s->fd = -1;
	s->spool_fd = -1;
	bb_buf_init(&s->sbuf);
	if (so->o.dry_run)
		return s;
	if ((s->tmp = shard_name(so, s->index, ".jsonl", 1)) == NULL) {
		nomem(err);
		goto fail;
	}
	atomic_store(&so->hi, s->index);
	s->fd = open(s->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (s->fd < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "cannot create '%s': %s", s->tmp, strerror(errno));
		goto fail;
	}
	if (check_dying(so, s->fd, s->tmp, err)) {
		s->fd = -1;
		goto fail;
	}
	if (bb_sha256_init(&s->sha)) {
		bb_error_set(err, BB_ERR_SYSTEM, "cannot initialise SHA-256");
		goto fail;
	}
	if (so->sidecar_mode && (s->spool_fd = anon_file(so, err)) < 0)
		goto fail;
	return s;
fail:
	shard_free(so, s, 1);
	return NULL;
}

static int fin_write(struct bb_shardout *so, struct shard *s, char *buf, size_t len, int own,
    struct bb_error *err);
static char *fin_buf_get(struct bb_shardout *so, struct bb_error *err);

/* Hand the buffered records to the writer thread. */
static int
shard_flush(struct bb_shardout *so, struct shard *s, struct bb_error *err)
{
	char *wb = s->wb;
	size_t wlen = s->wlen;

	if (wlen == 0)
		return 0;
	s->wb = NULL;
	s->wlen = 0;
	return fin_write(so, s, wb, wlen, 0, err);
}

static int
spool_flush(struct shard *s, struct bb_error *err)
{
	if (s->sbuf.len == 0)
		return 0;
	if (write_all(s->spool_fd, s->sbuf.data, s->sbuf.len, "spool", err))
		return -1;
	bb_buf_reset(&s->sbuf);
	return 0;
}

/* Append a row and '\n' to the shard's spool; its region in *off, *end. */
static int
spool_add(struct shard *s, const char *row, size_t n, uint64_t *off, uint64_t *end,
    struct bb_error *err)
{
	struct bb_buf *b = &s->sbuf;

	if (b->len + n + 1 > WBUF_SIZE && spool_flush(s, err))
		return -1;
	if (bb_buf_add(b, row, n) || bb_buf_addc(b, '\n'))
		return nomem(err);
	if (off != NULL) {
		*off = s->spool_len;
		*end = s->spool_len + n + 1;
	}
	s->spool_len += n + 1;
	return 0;
}

static void
copy_id(char *dst, size_t dstsize, const char *id, size_t n)
{
	if (n >= dstsize)
		n = dstsize - 1;
	memcpy(dst, id, n);
	dst[n] = '\0';
}

static int
shard_add(struct bb_shardout *so, struct shard *s, const char *line, size_t n,
    const struct rec *r, const char *id, size_t idlen, struct bb_error *err)
{
	struct rec *x;
	char *big;

	if (s->nrec == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 256;
		struct rec *nr;

		if (ncap < s->cap || ncap > SIZE_MAX / sizeof(*nr) ||
		    (nr = realloc(s->recs, ncap * sizeof(*nr))) == NULL)
			return nomem(err);
		s->recs = nr;
		s->cap = ncap;
	}
	x = &s->recs[s->nrec++];
	*x = *r;
	s->bytes += n;
	x->out_end = s->bytes;
	x->tokens += s->nrec > 1 ? s->recs[s->nrec - 2].tokens : 0;
	if (s->nrec == 1)
		copy_id(s->first_id, sizeof(s->first_id), id, idlen);
	copy_id(s->last_id, sizeof(s->last_id), id, idlen);
	if (so->o.dry_run)
		return 0;
	if (s->wlen + n > WBUF_SIZE && shard_flush(so, s, err))
		return -1;
	if (n > WBUF_SIZE) {
		/* a record larger than a buffer goes on its own */
		if ((big = malloc(n)) == NULL)
			return nomem(err);
		memcpy(big, line, n);
		return fin_write(so, s, big, n, 1, err);
	}
	if (s->wb == NULL && (s->wb = fin_buf_get(so, err)) == NULL)
		return -1;
	memcpy(s->wb + s->wlen, line, n);
	s->wlen += n;
	return 0;
}

/* The recordId of the record starting at off in the shard file. */
static int
read_id(struct shard *s, uint64_t off, char *out, size_t outsz, struct bb_error *err)
{
	static const char pre[] = "{\"recordId\":\"";
	char buf[BB_RECORDID_MAX + 64];
	size_t got, i;

	out[0] = '\0';
	if (s->fd < 0)
		return 0;
	if (read_at(s->fd, buf, sizeof(buf) - 1, off, s->tmp, &got, err))
		return -1;
	buf[got] = '\0';
	if (strncmp(buf, pre, sizeof(pre) - 1) != 0)
		return 0;
	for (i = 0; i + 1 < outsz && buf[sizeof(pre) - 1 + i] != '"' &&
	    buf[sizeof(pre) - 1 + i] != '\0'; i++)
		out[i] = buf[sizeof(pre) - 1 + i];
	out[i] = '\0';
	return 0;
}

/* ---- the shard line ---- */

static int
add_source(struct bb_shardout *so, struct bb_json_append *a, struct shard *s)
{
	struct bb_buf src = BB_BUF_INIT;
	const struct rec *f = &s->recs[0], *l = &s->recs[s->nrec - 1];
	char *side;
	int r = 0;

	r |= bb_buf_addc(&src, '{');
	if (so->source != NULL) {
		r |= bb_buf_adds(&src, "\"path\":");
		r |= bb_json_add_str(&src, so->source, strlen(so->source));
		r |= bb_buf_addf(&src, ",\"offset\":%llu,\"bytes\":%llu",
		    (unsigned long long)f->in_off, (unsigned long long)(l->in_end - f->in_off));
	} else {
		if ((side = shard_name(so, s->index, ".rows.jsonl.gz", 0)) == NULL)
			r = -1;
		r |= bb_buf_adds(&src, "\"sidecar\":");
		if (side != NULL)
			r |= bb_json_add_str(&src, side, strlen(side));
		free(side);
	}
	r |= bb_buf_addf(&src, ",\"rows\":%llu,\"first_row\":%llu,\"first_line\":%llu,\"format\":\"%s\"",
	    (unsigned long long)(l->row - f->row + 1), (unsigned long long)f->row,
	    (unsigned long long)f->line,
	    so->sidecar_mode && so->source == NULL ? "jsonl" : so->o.format);
	if (so->o.id_field != NULL) {
		r |= bb_buf_adds(&src, ",\"id_field\":");
		r |= bb_json_add_str(&src, so->o.id_field, strlen(so->o.id_field));
	}
	r |= bb_buf_addc(&src, '}');
	if (r == 0)
		r = bb_json_append_raw(a, "source", src.data, src.len);
	bb_buf_release(&src);
	return r ? -1 : 0;
}

/* The shard line of a finished (or planned: final NULL) shard. */
static int
shard_line(struct bb_shardout *so, struct shard *s, const char *final, struct bb_buf *line)
{
	const struct bb_shardout_opts *o = &so->o;
	struct bb_json_append a;
	uint64_t tokens = s->recs[s->nrec - 1].tokens;
	int r = 0;

	if (bb_json_append_begin(&a, line, "{}", 2, NULL))
		return -1;
	if (final == NULL) {
		r |= bb_json_append_int(&a, "index", s->index);
		r |= bb_json_append_int(&a, "records", (long long)s->nrec);
		r |= bb_json_append_int(&a, "bytes", (long long)s->bytes);
		r |= bb_json_append_int(&a, "est_input_tokens", (long long)tokens);
	} else {
		r |= bb_json_append_str(&a, "shard", final, strlen(final));
		r |= bb_json_append_int(&a, "index", s->index);
		r |= bb_json_append_int(&a, "records", (long long)s->nrec);
		r |= bb_json_append_int(&a, "bytes", (long long)s->bytes);
		r |= bb_json_append_str(&a, "sha256", s->hex, strlen(s->hex));
		r |= bb_json_append_str(&a, "model", o->model, strlen(o->model));
		r |= bb_json_append_str(&a, "family", o->family, strlen(o->family));
		if (o->invocation_type != NULL)
			r |= bb_json_append_str(&a, "invocation_type", o->invocation_type,
			    strlen(o->invocation_type));
		r |= bb_json_append_str(&a, "first_record", s->first_id, strlen(s->first_id));
		r |= bb_json_append_str(&a, "last_record", s->last_id, strlen(s->last_id));
		r |= add_source(so, &a, s);
	}
	if (r || bb_json_append_end(&a) || bb_buf_addc(line, '\n'))
		return -1;
	return 0;
}

/* ---- the writer and sync threads ---- */

/*
 * Two threads behind the caller. The writer writes the buffers of
 * records in order, hashing them on the way and starting their writeback;
 * at a final shard it takes the digest and passes the shard on. The sync
 * thread writes the sidecar, waits for the disk and publishes the line,
 * so a slow sync (a journal commit behind other processes' data) stalls
 * neither writing nor parsing.
 */

static int
fin_datasync(struct bb_shardout *so, int fd, const char *name)
{
	if (so->o.no_sync || fdatasync(fd) == 0)
		return 0;
	return fin_fail(so, "cannot sync '%s': %s", name, strerror(errno));
}

/* Append a buffer to the shard file, hash it, start its writeback. */
static void
task_write(struct bb_shardout *so, struct shard *s, const char *p, size_t n)
{
	uint64_t off = s->written;
	size_t left = n;
	ssize_t w;

	while (left > 0) {
		w = write(s->fd, p + (n - left), left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			fin_fail(so, "cannot write '%s': %s", s->tmp, strerror(errno));
			return;
		}
		left -= (size_t)w;
	}
	if (bb_sha256_update(&s->sha, p, n)) {
		fin_fail(so, "SHA-256 failed");
		return;
	}
	s->written = off + n;
#ifdef SYNC_FILE_RANGE_WRITE
	/* in large steps: fewer, larger requests to the disk */
	if (!so->o.no_sync && s->written - s->synced >= SYNC_STEP) {
		(void)sync_file_range(s->fd, (off_t)s->synced, (off_t)(s->written - s->synced),
		    SYNC_FILE_RANGE_WRITE);
		s->synced = s->written;
	}
#endif
}

/*
 * The rows of the shard, from its spool, gzip-compressed at
 * sidecar_level (level 1, deflate's fast one, is about five times faster
 * than gzip's default for a sidecar a third larger; 0 stores).
 */
static int
write_sidecar(struct bb_shardout *so, struct shard *s, char *buf)
{
	char *final = shard_name(so, s->index, ".rows.jsonl.gz", 0);
	char *tmp = shard_name(so, s->index, ".rows.jsonl.gz", 1);
	uint64_t off = s->recs[0].spool_off, end = s->recs[s->nrec - 1].spool_end;
	struct bb_error e = BB_ERROR_INIT;
	char mode[8];
	gzFile gz = NULL;
	size_t got, want;
	int fd = -1, gzfd = -1, rc = -1;

	if (final == NULL || tmp == NULL) {
		fin_fail(so, "out of memory");
		goto out;
	}
	snprintf(mode, sizeof(mode), "wb%d", so->o.sidecar_level);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		fin_fail(so, "cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (check_dying(so, fd, tmp, &e)) {
		fd = -1;
		fin_fail(so, "%s", e.msg);
		goto out;
	}
	/* zlib closes its own descriptor; fd stays open for the sync */
	if ((gzfd = dup(fd)) < 0 || (gz = gzdopen(gzfd, mode)) == NULL) {
		fin_fail(so, "cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	gzfd = -1;
	gzbuffer(gz, 256u << 10);
	while (off < end) {
		want = end - off > WBUF_SIZE ? WBUF_SIZE : (size_t)(end - off);
		if (read_at(s->spool_fd, buf, want, off, "spool", &got, &e)) {
			fin_fail(so, "%s", e.msg);
			goto out;
		}
		if (got == 0 || gzwrite(gz, buf, (unsigned)got) != (int)got) {
			fin_fail(so, "cannot write '%s'", tmp);
			goto out;
		}
		off += got;
	}
	rc = gzclose(gz);
	gz = NULL;
	if (rc != Z_OK) {
		rc = fin_fail(so, "cannot write '%s'", tmp);
		goto out;
	}
	if ((rc = fin_datasync(so, fd, tmp)) != 0)
		goto out;
	if (rename(tmp, final))
		rc = fin_fail(so, "cannot rename '%s': %s", tmp, strerror(errno));
out:
	if (gz != NULL)
		gzclose(gz);
	if (gzfd >= 0)
		close(gzfd);
	if (fd >= 0)
		close(fd);
	if (rc && tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(final);
	return rc;
}

/* The digest of a final shard, all of it written (writer thread). */
static int
shard_digest(struct bb_shardout *so, struct shard *s)
{
	unsigned char dig[BB_SHA256_LEN];

	if (bb_sha256_final(&s->sha, dig))
		return fin_fail(so, "SHA-256 failed");
	bb_hex_encode(dig, sizeof(dig), s->hex);
	return 0;
}

/* Write a final (hashed) shard's sidecar and make both durable. 0 or -1. */
static int
shard_prepare(struct bb_shardout *so, struct shard *s)
{
	char *buf = NULL;
	int rc = -1;

	if (so->sidecar_mode) {
		if ((buf = malloc(WBUF_SIZE)) == NULL) {
			fin_fail(so, "out of memory");
			goto out;
		}
		if (write_sidecar(so, s, buf))
			goto out;
	}
	if (fin_datasync(so, s->fd, s->tmp))
		goto out;
	rc = 0;
out:
	free(buf);
	return rc;
}

/* Rename a prepared shard into place and publish its line. Frees s. */
static void
shard_publish(struct bb_shardout *so, struct shard *s)
{
	struct bb_buf line = BB_BUF_INIT;
	char *final = NULL;

	if (so->o.dry_run) {
		if (shard_line(so, s, NULL, &line)) {
			fin_fail(so, "out of memory");
			goto out;
		}
		goto publish;
	}
	if ((final = shard_name(so, s->index, ".jsonl", 0)) == NULL) {
		fin_fail(so, "out of memory");
		goto out;
	}
	if (close(s->fd)) {
		s->fd = -1;
		fin_fail(so, "cannot write '%s': %s", s->tmp, strerror(errno));
		goto out;
	}
	s->fd = -1;
	if (rename(s->tmp, final)) {
		fin_fail(so, "cannot rename '%s' to '%s': %s", s->tmp, final, strerror(errno));
		goto out;
	}
	free(s->tmp);
	s->tmp = NULL;
	atomic_store(&so->lo, s->index + 1);   /* its files are all final */
	/* the renames themselves are on disk before the line says so */
	if (!so->o.no_sync && so->dirfd >= 0 && fsync(so->dirfd)) {
		fin_fail(so, "cannot sync '%s': %s", so->o.dir, strerror(errno));
		goto out;
	}
	if (shard_line(so, s, final, &line)) {
		fin_fail(so, "out of memory");
		goto out;
	}
publish:
	so->o.line(so->o.arg, line.data, line.len);
	so->st.shards++;
	so->st.bytes += s->bytes;
	so->st.tokens += s->recs[s->nrec - 1].tokens;
out:
	bb_buf_release(&line);
	free(final);
	shard_free(so, s, 1);
}

/* Both steps (in the sync thread, or in the caller's for a dry run). */
static void
shard_finish(struct bb_shardout *so, struct shard *s)
{
	if (so->o.dry_run || shard_prepare(so, s) == 0)
		shard_publish(so, s);
	else
		shard_free(so, s, 1);
}

static void *
sync_main(void *arg)
{
	struct bb_shardout *so = arg;
	struct shard *s;
	int failed;

	pthread_mutex_lock(&so->mu);
	for (;;) {
		while (so->sqn == 0 && !so->sync_quit)
			pthread_cond_wait(&so->cv, &so->mu);
		if (so->sqn == 0)
			break;
		s = so->sq[so->sqhead];
		so->sqhead = (so->sqhead + 1) % MAX_FINISHING;
		so->sqn--;
		failed = so->failed;
		pthread_mutex_unlock(&so->mu);
		if (failed)
			shard_free(so, s, 1);   /* after a failure nothing more is published */
		else
			shard_finish(so, s);
		pthread_mutex_lock(&so->mu);
		so->finishing--;
		pthread_cond_broadcast(&so->cv);
	}
	pthread_mutex_unlock(&so->mu);
	return NULL;
}

static void *
fin_main(void *arg)
{
	struct bb_shardout *so = arg;
	struct task t;
	int failed;

	pthread_mutex_lock(&so->mu);
	for (;;) {
		while (so->qn == 0 && !so->quit)
			pthread_cond_wait(&so->cv, &so->mu);
		if (so->qn == 0)
			break;
		t = so->q[so->qhead];
		so->qhead = (so->qhead + 1) % QLEN;
		so->qn--;
		so->busy = 1;
		failed = so->failed;
		pthread_cond_broadcast(&so->cv);
		pthread_mutex_unlock(&so->mu);
		/* after a failure nothing more is written */
		if (t.kind == T_WRITE && !failed)
			task_write(so, t.s, t.buf, t.len);
		else if (t.kind == T_FINISH && !failed)
			(void)shard_digest(so, t.s);   /* a failure is seen by all */
		if (t.kind == T_WRITE && t.own)
			free(t.buf);
		pthread_mutex_lock(&so->mu);
		if (t.kind == T_WRITE && !t.own)
			so->pool[so->npool++] = t.buf;
		if (t.kind == T_FINISH) {
			/* room is certain: the caller hands at most MAX_FINISHING */
			so->sq[(so->sqhead + so->sqn) % MAX_FINISHING] = t.s;
			so->sqn++;
		}
		so->busy = 0;
		pthread_cond_broadcast(&so->cv);
	}
	pthread_mutex_unlock(&so->mu);
	return NULL;
}

static int
fin_start(struct bb_shardout *so, struct bb_error *err)
{
	int e;

	if (so->started)
		return 0;
	if (!so->o.no_sync && (so->dirfd = open(so->o.dir, O_RDONLY | O_CLOEXEC)) < 0)
		return bb_error_set(err, BB_ERR_SYSTEM, "cannot open '%s': %s", so->o.dir,
		    strerror(errno));
	if ((e = pthread_create(&so->tid, NULL, fin_main, so)) != 0)
		return bb_error_set(err, BB_ERR_SYSTEM, "cannot start a thread: %s", strerror(e));
	if ((e = pthread_create(&so->sync_tid, NULL, sync_main, so)) != 0) {
		pthread_mutex_lock(&so->mu);
		so->quit = 1;
		pthread_cond_broadcast(&so->cv);
		pthread_mutex_unlock(&so->mu);
		pthread_join(so->tid, NULL);
		so->quit = 0;
		return bb_error_set(err, BB_ERR_SYSTEM, "cannot start a thread: %s", strerror(e));
	}
	so->started = 1;
	return 0;
}

static int
fin_push(struct bb_shardout *so, struct task t, struct bb_error *err)
{
	if (fin_start(so, err))
		return -1;
	pthread_mutex_lock(&so->mu);
	while (so->qn == QLEN || (t.kind == T_FINISH && so->finishing >= MAX_FINISHING))
		pthread_cond_wait(&so->cv, &so->mu);
	so->q[(so->qhead + so->qn) % QLEN] = t;
	so->qn++;
	if (t.kind == T_FINISH)
		so->finishing++;
	pthread_cond_broadcast(&so->cv);
	pthread_mutex_unlock(&so->mu);
	return fin_check(so, err);
}

/* Queue a write; an own buffer is freed even on error. */
static int
fin_write(struct bb_shardout *so, struct shard *s, char *buf, size_t len, int own,
    struct bb_error *err)
{
	struct task t = { T_WRITE, s, buf, len, own };

	if (fin_start(so, err)) {
		if (own)
			free(buf);
		else
			buf_put(so, buf);
		return -1;
	}
	return fin_push(so, t, err);
}

/* A buffer of WBUF_SIZE bytes from the pool (waits when all are in use). */
static char *
fin_buf_get(struct bb_shardout *so, struct bb_error *err)
{
	char *b = NULL;

	if (fin_start(so, err))
		return NULL;
	pthread_mutex_lock(&so->mu);
	while (so->npool == 0 && so->nalloc == NBUF)
		pthread_cond_wait(&so->cv, &so->mu);
	if (so->npool > 0)
		b = so->pool[--so->npool];
	else
		so->nalloc++;
	pthread_mutex_unlock(&so->mu);
	if (b == NULL && (b = malloc(WBUF_SIZE)) == NULL) {
		pthread_mutex_lock(&so->mu);
		so->nalloc--;
		pthread_mutex_unlock(&so->mu);
		nomem(err);
	}
	return b;
}

/* Wait until the writer has written everything handed to it. */
static int
fin_drain(struct bb_shardout *so, struct bb_error *err)
{
	pthread_mutex_lock(&so->mu);
	while (so->qn > 0 || so->busy)
		pthread_cond_wait(&so->cv, &so->mu);
	pthread_mutex_unlock(&so->mu);
	return fin_check(so, err);
}

/* Finish everything handed over and stop the threads. */
static int
fin_join(struct bb_shardout *so, struct bb_error *err)
{
	if (!so->started)
		return fin_check(so, err);
	/* the writer first: it passes the last shards to the sync thread */
	pthread_mutex_lock(&so->mu);
	so->quit = 1;
	pthread_cond_broadcast(&so->cv);
	pthread_mutex_unlock(&so->mu);
	pthread_join(so->tid, NULL);
	pthread_mutex_lock(&so->mu);
	so->sync_quit = 1;
	pthread_cond_broadcast(&so->cv);
	pthread_mutex_unlock(&so->mu);
	pthread_join(so->sync_tid, NULL);
	so->started = 0;
	so->quit = so->sync_quit = 0;
	while (so->npool > 0)
		free(so->pool[--so->npool]);
	so->nalloc = 0;
	if (so->dirfd >= 0)
		close(so->dirfd);
	so->dirfd = -1;
	return fin_check(so, err);
}

/* A final shard: written out, buffers gone. */
static int
shard_close_buffers(struct bb_shardout *so, struct shard *s, struct bb_error *err)
{
	if (shard_flush(so, s, err))
		return -1;
	if (s->spool_fd >= 0 && spool_flush(s, err))
		return -1;
	bb_buf_release(&s->sbuf);
	return 0;
}

/* The shard is complete and final: the threads finish it (and free it). */
static int
shard_emit(struct bb_shardout *so, struct shard *s, struct bb_error *err)
{
	struct task t = { T_FINISH, s, NULL, 0, 0 };

	if (shard_close_buffers(so, s, err)) {
		shard_free(so, s, 1);
		return -1;
	}
	so->closed++;
	if (!so->o.dry_run)
		return fin_push(so, t, err);
	shard_finish(so, s);
	return fin_check(so, err);
}

/* ---- the tail ---- */

/* Recompute the digest of a shard from its file (after a rebalance). */
static int
shard_rehash(struct shard *s, struct bb_error *err)
{
	char *buf = malloc(WBUF_SIZE);
	uint64_t off = 0;
	size_t got;
	int rc = -1;

	if (buf == NULL) {
		nomem(err);
		goto out;
	}
	bb_sha256_release(&s->sha);
	if (bb_sha256_init(&s->sha)) {
		bb_error_set(err, BB_ERR_SYSTEM, "cannot initialise SHA-256");
		goto out;
	}
	for (;;) {
		if (read_at(s->fd, buf, WBUF_SIZE, off, s->tmp, &got, err))
			goto out;
		if (got == 0)
			break;
		if (bb_sha256_update(&s->sha, buf, got)) {
			bb_error_set(err, BB_ERR_SYSTEM, "SHA-256 failed");
			goto out;
		}
		off += got;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/* The new shard's files: h's tail from start_k (spool from h's record k),
 * then c. */
static int
rebalance_files(struct bb_shardout *so, struct shard *h, struct shard *c, struct shard *nc,
    size_t k, uint64_t start_k, uint64_t *shift_spool, struct bb_error *err)
{
	uint64_t cut_spool;
	size_t i;

	if ((nc->tmp = shard_name(so, c->index, ".jsonl.rebalanced", 1)) == NULL)
		return nomem(err);
	nc->fd = open(nc->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (nc->fd < 0)
		return bb_error_set(err, BB_ERR_SYSTEM, "cannot create '%s': %s", nc->tmp,
		    strerror(errno));
	if (check_dying(so, nc->fd, nc->tmp, err)) {
		nc->fd = -1;
		return -1;
	}
	if (copy_range(h->fd, h->tmp, start_k, h->bytes - start_k, nc->fd, nc->tmp, err) ||
	    copy_range(c->fd, c->tmp, 0, c->bytes, nc->fd, nc->tmp, err))
		return -1;
	if (h->spool_fd < 0)
		return 0;
	if ((nc->spool_fd = anon_file(so, err)) < 0)
		return -1;
	cut_spool = h->recs[k].spool_off;
	*shift_spool = h->spool_len - cut_spool;
	if (copy_range(h->spool_fd, "spool", cut_spool, *shift_spool, nc->spool_fd, "spool",
	    err) ||
	    copy_range(c->spool_fd, "spool", 0, c->spool_len, nc->spool_fd, "spool", err))
		return -1;
	nc->spool_len = *shift_spool + c->spool_len;
	for (i = k; i < h->nrec; i++) {
		h->recs[i].spool_off -= cut_spool;
		h->recs[i].spool_end -= cut_spool;
	}
	if (ftruncate(h->spool_fd, (off_t)h->recs[k - 1].spool_end))
		return bb_error_set(err, BB_ERR_SYSTEM, "cannot truncate a spool file: %s",
		    strerror(errno));
	h->spool_len = h->recs[k - 1].spool_end;
	return 0;
}

/*
 * End of input with the remainder c below min_records: move the tail of
 * the held shard h into c so that both have at least the minimum, the
 * split as even as the byte limit allows. c is replaced by a new shard
 * with its index (so->cur).
 */
static int
rebalance(struct bb_shardout *so, struct shard *h, struct shard *c, struct bb_error *err)
{
	size_t n = h->nrec + c->nrec, k, i, moved, min = (size_t)so->o.min_records;
	uint64_t start_k, shift_spool = 0;
	struct shard *nc = NULL;
	struct bb_buf note = BB_BUF_INIT;
	int rc = -1;

	k = n - n / 2;
	if (k > h->nrec)
		k = h->nrec;
	if (k < min)
		k = min;
	for (;; k++) {
		start_k = k ? h->recs[k - 1].out_end : 0;
		if (k > h->nrec || n - k < min)
			return BB_SHARDOUT_NO_SPLIT;
		if (h->bytes - start_k + c->bytes <= so->o.max_bytes)
			break;
	}
	if (so->o.note != NULL) {
		if (bb_buf_addf(&note, "rebalancing the last two shards: %zu + %zu records "
		    "become %zu + %zu", h->nrec, c->nrec, k, n - k))
			return nomem(err);
		so->o.note(so->o.arg, note.data);
		bb_buf_release(&note);
	}
	moved = h->nrec - k;
	if (shard_flush(so, h, err) || shard_flush(so, c, err))
		return -1;
	if (h->spool_fd >= 0 && (spool_flush(h, err) || spool_flush(c, err)))
		return -1;
	if (!so->o.dry_run && fin_drain(so, err))
		return -1;   /* the files are complete before they are cut */
	/* A new shard for the remainder: h's tail, then c. */
	if ((nc = calloc(1, sizeof(*nc))) == NULL ||
	    (nc->recs = calloc(n - k, sizeof(*nc->recs))) == NULL) {
		free(nc);
		return nomem(err);
	}
	nc->index = c->index;
	nc->fd = nc->spool_fd = -1;
	nc->cap = n - k;
	bb_buf_init(&nc->sbuf);
	if (!so->o.dry_run &&
	    rebalance_files(so, h, c, nc, k, start_k, &shift_spool, err))
		goto out;
	for (i = k; i < h->nrec; i++) {
		nc->recs[nc->nrec] = h->recs[i];
		nc->recs[nc->nrec].out_end -= start_k;
		nc->recs[nc->nrec].tokens -= h->recs[k - 1].tokens;
		nc->nrec++;
	}
	for (i = 0; i < c->nrec; i++) {
		nc->recs[nc->nrec] = c->recs[i];
		nc->recs[nc->nrec].out_end += h->bytes - start_k;
		nc->recs[nc->nrec].tokens += moved ? nc->recs[moved - 1].tokens : 0;
		nc->recs[nc->nrec].spool_off += shift_spool;
		nc->recs[nc->nrec].spool_end += shift_spool;
		nc->nrec++;
	}
	nc->bytes = h->bytes - start_k + c->bytes;
	memcpy(nc->first_id, c->first_id, sizeof(nc->first_id));
	memcpy(nc->last_id, c->last_id, sizeof(nc->last_id));
	h->nrec = k;
	h->bytes = start_k;
	if (!so->o.dry_run) {
		if (ftruncate(h->fd, (off_t)start_k)) {
			bb_error_set(err, BB_ERR_SYSTEM, "cannot truncate '%s': %s", h->tmp,
			    strerror(errno));
			goto out;
		}
		if (read_id(h, k > 1 ? h->recs[k - 2].out_end : 0, h->last_id,
		    sizeof(h->last_id), err) ||
		    read_id(nc, 0, nc->first_id, sizeof(nc->first_id), err))
			goto out;
		h->written = h->synced = start_k;
		nc->written = nc->synced = nc->bytes;
		if (shard_rehash(h, err) || shard_rehash(nc, err))
			goto out;
	}
	/* c's files go; nc takes c's index and final name. */
	shard_free(so, c, 1);
	so->cur = nc;
	nc = NULL;
	rc = 0;
out:
	shard_free(so, nc, 1);
	return rc;
}

/* ---- the interface ---- */

struct bb_shardout *
bb_shardout_new(const struct bb_shardout_opts *o, struct bb_error *err)
{
	struct bb_shardout *so = calloc(1, sizeof(*so));

	if (so == NULL) {
		nomem(err);
		return NULL;
	}
	so->o = *o;
	so->next_index = 1;
	so->dirfd = -1;
	atomic_init(&so->lo, 1);
	atomic_init(&so->hi, 0);
	atomic_init(&so->dying, 0);
	if (!o->dry_run) {
		struct bb_buf b = BB_BUF_INIT;

		snprintf(so->tmpsfx, sizeof(so->tmpsfx), ".%ld.tmp", (long)getpid());
		if (bb_buf_addf(&b, "%s/.%s-", o->dir, o->prefix)) {
			bb_buf_release(&b);
			free(so);
			nomem(err);
			return NULL;
		}
		so->tmpbase = bb_buf_detach(&b, NULL);
	}
	pthread_mutex_init(&so->mu, NULL);
	pthread_cond_init(&so->cv, NULL);
	return so;
}

void
bb_shardout_set_source(struct bb_shardout *so, const char *path)
{
	int m = !so->o.dry_run && path == NULL;

	so->source = path;
	if (m != so->sidecar_mode)
		so->sidecar_mode = m;
}

int
bb_shardout_sidecars(const struct bb_shardout *so)
{
	return so->sidecar_mode;
}

int
bb_shardout_add(struct bb_shardout *so, const char *rec, size_t n,
    const struct bb_shardout_rec *r, const char *id, size_t idlen, const char *row,
    size_t rowlen, struct bb_error *err)
{
	struct shard *cur = so->cur;
	struct rec x;

	if (cur != NULL && cur->nrec > 0 && ((long long)cur->nrec + 1 > so->o.records ||
	    cur->bytes + n > so->o.max_bytes)) {
		if ((long long)cur->nrec < so->o.min_records)
			return BB_SHARDOUT_TOO_LARGE;
		/* a held shard only shrinks (rebalance): its buffers can go */
		if (shard_close_buffers(so, cur, err))
			return -1;
		if (so->held != NULL) {
			struct shard *h = so->held;

			so->held = NULL;
			if (shard_emit(so, h, err))
				return -1;
		}
		so->held = cur;
		so->cur = NULL;
	}
	if (so->cur == NULL && (so->cur = shard_new(so, err)) == NULL)
		return -1;
	memset(&x, 0, sizeof(x));
	x.row = r->row;
	x.line = r->line;
	x.tokens = r->tokens;
	x.in_off = r->in_off;
	x.in_end = r->in_end;
	if (so->sidecar_mode &&
	    spool_add(so->cur, row, rowlen, &x.spool_off, &x.spool_end, err))
		return -1;
	return shard_add(so, so->cur, rec, n, &x, id, idlen, err);
}

int
bb_shardout_skip(struct bb_shardout *so, const char *row, size_t rowlen,
    struct bb_error *err)
{
	if (!so->sidecar_mode || so->cur == NULL)
		return 0;   /* before the first record of the input: in no region */
	return spool_add(so->cur, row, rowlen, NULL, NULL, err);
}

void
bb_shardout_current(const struct bb_shardout *so, unsigned *index, size_t *nrec)
{
	*index = so->cur != NULL ? so->cur->index : 0;
	*nrec = so->cur != NULL ? so->cur->nrec : 0;
}

uint64_t
bb_shardout_closed(const struct bb_shardout *so)
{
	return so->closed;
}

int
bb_shardout_finish(struct bb_shardout *so, struct bb_shardout_stats *st,
    struct bb_error *err)
{
	struct shard *s;
	int rc;

	if (so->cur == NULL || ((long long)so->cur->nrec < so->o.min_records &&
	    so->held == NULL)) {
		/* nothing was closed: no thread has a shard */
		if (bb_shardout_abort(so, err))
			return -1;
		return BB_SHARDOUT_TOO_FEW;
	}
	if ((long long)so->cur->nrec < so->o.min_records &&
	    (rc = rebalance(so, so->held, so->cur, err)) != 0)
		return rc;
	if ((s = so->held) != NULL) {
		so->held = NULL;
		if (shard_emit(so, s, err))
			return -1;
	}
	s = so->cur;
	so->cur = NULL;
	if (shard_emit(so, s, err) || fin_join(so, err))
		return -1;
	*st = so->st;
	return 0;
}

int
bb_shardout_abort(struct bb_shardout *so, struct bb_error *err)
{
	int rc = fin_join(so, err);   /* closed shards are finished; pending writes done */

	shard_free(so, so->held, 1);
	shard_free(so, so->cur, 1);
	so->held = so->cur = NULL;
	return rc;
}

void
bb_shardout_free(struct bb_shardout *so)
{
	if (so == NULL)
		return;
	(void)bb_shardout_abort(so, NULL);
	pthread_mutex_destroy(&so->mu);
	pthread_cond_destroy(&so->cv);
	free(so->tmpbase);
	free(so);
}

/* dst + s (NUL-terminated), within end; NULL when it does not fit. */
static char *
put_str(char *dst, const char *end, const char *s)
{
	while (*s != '\0') {
		if (dst == end)
			return NULL;
		*dst++ = *s++;
	}
	return dst;
}

void
bb_shardout_remove_temporaries(struct bb_shardout *so)
{
	/* the suffixes shard_name() is given for temporary files */
	static const char *const sfx[] = { ".jsonl", ".rows.jsonl.gz", ".jsonl.rebalanced" };
	char path[PATH_MAX], num[16], *p, *q;
	const char *end = path + sizeof(path) - 1;
	unsigned i, lo, hi, v;
	size_t k, nd;

	/* no printf, no malloc, no lock: async-signal-safe */
	if (so == NULL || so->tmpbase == NULL)
		return;
	atomic_store(&so->dying, 1);
	lo = atomic_load(&so->lo);
	hi = atomic_load(&so->hi);
	if ((p = put_str(path, end, so->tmpbase)) == NULL)
		return;
	for (i = lo; i >= lo && i <= hi; i++) {
		/* "%05u" */
		for (v = i, nd = 0; v > 0 || nd < 5; v /= 10)
			nd++;
		num[nd] = '\0';
		for (v = i, k = nd; k > 0; v /= 10)
			num[--k] = (char)('0' + v % 10);
		for (k = 0; k < sizeof(sfx) / sizeof(sfx[0]); k++) {
			if ((q = put_str(p, end, num)) == NULL ||
			    (q = put_str(q, end, sfx[k])) == NULL ||
			    (q = put_str(q, end, so->tmpsfx)) == NULL)
				return;
			*q = '\0';
			(void)unlink(path);
		}
	}
}
