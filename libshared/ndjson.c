/*
 * ndjson.c - streaming line reader (plain or gzip input); see ndjson.h.
 *
 * One buffer holds the unread uncompressed bytes [start, end); lines are
 * found with memchr from `scan` (where the last search stopped, so tiny
 * reads stay linear) but never further than max_line + 2 bytes from the
 * start of a line: that is enough to decide that a line is too long, so
 * the buffer never needs more than max_line + 3 bytes (the line, "\r\n",
 * and the NUL put after a line that ends at end of input).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "buf.h"
#include "ndjson.h"

#define CHUNK (256u << 10)

struct bb_ndjson {
	int fd, own_fd;
	char *name;
	size_t max_line;
	unsigned flags;
	size_t read_size;        /* test hook: bytes per read(2), 0 = no limit */

	char *buf;               /* uncompressed bytes */
	size_t cap, start, end, scan;
	uint64_t pos;            /* stream offset of buf[start] */
	uint64_t lineno;         /* lines returned or skipped */
	int eof;                 /* no more uncompressed data */
	int toolong;             /* a too-long line was reported... */
	int toolong_done;        /* ...and already discarded */
	int failed;
	struct bb_error saved;   /* the error that ended the reader */

	unsigned char head[2];   /* first bytes, read to detect gzip */
	size_t nhead;
	int seekable;
	int raw_eof;             /* read(2) returned 0 */

	int gzip;
	z_stream z;
	int zinit;
	int member_end;          /* inflate ended a member: maybe another */
	unsigned char *zin;
	size_t zcap;
	char zerr[160];          /* gzip error held back until the bytes
	                            inflated before it are consumed */
};

static void
fail(struct bb_ndjson *r, struct bb_error *err)
{
	r->failed = 1;
	if (err != NULL)
		r->saved = *err;
	else
		bb_error_set(&r->saved, BB_ERR_SYSTEM, "read failed");
}

static ssize_t
raw_read(struct bb_ndjson *r, void *p, size_t n, struct bb_error *err)
{
	ssize_t got;

	if (r->read_size != 0 && n > r->read_size)
		n = r->read_size;
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	do
		got = read(r->fd, p, n);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		bb_error_errno(err, "cannot read '%s'", r->name);
		fail(r, err);
		return -1;
	}
	if (got == 0)
		r->raw_eof = 1;
	return got;
}

/* Read the first two bytes and decide whether the input is gzip. */
static int
detect(struct bb_ndjson *r, struct bb_error *err)
{
	ssize_t got;
	int zr;

	while (r->nhead < 2 && !r->raw_eof) {
		if ((got = raw_read(r, r->head + r->nhead, 2 - r->nhead, err)) < 0)
			return -1;
		r->nhead += (size_t)got;
	}
	if ((r->flags & BB_NDJSON_NO_GZIP) || r->nhead < 2 || r->head[0] != 0x1f ||
	    r->head[1] != 0x8b)
		return 0;
	r->gzip = 1;
	r->seekable = 0;
	r->zcap = CHUNK;
	if ((r->zin = malloc(r->zcap)) == NULL) {
		bb_error_errno(err, "cannot read '%s'", r->name);
		return -1;
	}
	memcpy(r->zin, r->head, 2);
	r->nhead = 0;
	memset(&r->z, 0, sizeof(r->z));
	r->z.next_in = r->zin;
	r->z.avail_in = 2;
	if ((zr = inflateInit2(&r->z, 15 + 16)) != Z_OK) {
		bb_error_set(err, BB_ERR_SYSTEM, "cannot read '%s': zlib: %s", r->name,
		    zr == Z_MEM_ERROR ? "out of memory" : "cannot initialise");
		return -1;
	}
	r->zinit = 1;
	return 0;
}

static int
gzip_error(struct bb_ndjson *r, const char *what, struct bb_error *err)
{
	bb_error_set(err, BB_ERR_INPUT, "%s (at %s:%llu)", what, r->name,
	    (unsigned long long)r->lineno + 1);
	fail(r, err);
	return -1;
}

/* Inflate into [p, p+n): bytes produced, 0 at the clean end, -1 on error. */
static ssize_t
gzip_fill(struct bb_ndjson *r, char *p, size_t n, struct bb_error *err)
{
	ssize_t got;
	int zr;
	char what[160];

	if (r->read_size != 0 && n > r->read_size)
		n = r->read_size;
	if (n > UINT_MAX)
		n = UINT_MAX;
	if (r->zerr[0] != '\0')
		return gzip_error(r, r->zerr, err);
	for (;;) {
		if (r->z.avail_in == 0 && !r->raw_eof) {
			r->z.next_in = r->zin;
			if ((got = raw_read(r, r->zin, r->zcap, err)) < 0)
				return -1;
			r->z.avail_in = (uInt)got;
		}
		if (r->member_end) {
			if (r->z.avail_in == 0 && r->raw_eof)
				return 0;
			if (r->z.avail_in == 0)
				continue;
			/* another member follows */
			if (inflateReset(&r->z) != Z_OK)
				return gzip_error(r, "invalid gzip data", err);
			r->member_end = 0;
		}
		r->z.next_out = (Bytef *)p;
		r->z.avail_out = (uInt)n;
		zr = inflate(&r->z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			r->member_end = 1;
		else if (zr == Z_BUF_ERROR || zr == Z_OK) {
			if (r->z.avail_in == 0 && r->raw_eof && r->z.avail_out == n)
				return gzip_error(r, "unexpected end of gzip data", err);
		} else if (zr == Z_MEM_ERROR) {
			errno = ENOMEM;
			bb_error_errno(err, "cannot read '%s'", r->name);
			fail(r, err);
			return -1;
		} else {
			snprintf(what, sizeof(what), "invalid gzip data: %s",
			    r->z.msg ? r->z.msg : "corrupt stream");
			if (r->z.avail_out == n)
				return gzip_error(r, what, err);
			memcpy(r->zerr, what, sizeof(r->zerr));
		}
		if (r->z.avail_out != n)
			return (ssize_t)(n - r->z.avail_out);
	}
}

/* Make room after end (compacting or growing) and add bytes: the number
 * added, 0 at end of input, -1 on error. */
static ssize_t
fill(struct bb_ndjson *r, struct bb_error *err)
{
	size_t room, ncap, limit;
	ssize_t got;
	char *nb;

	if (r->end + 1 >= r->cap && r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->scan -= r->start;
		r->start = 0;
	}
	if (r->end + 1 >= r->cap) {
		/* the line needs at most max_line + 3 bytes; see the top */
		if (bb_size_add(r->max_line, 3, &limit))
			limit = SIZE_MAX;
		ncap = r->cap <= limit / 2 ? r->cap * 2 : limit;
		if (ncap <= r->cap || (nb = realloc(r->buf, ncap)) == NULL) {
			if (ncap > r->cap)
				errno = ENOMEM;
			else
				errno = EOVERFLOW;
			bb_error_errno(err, "cannot read '%s'", r->name);
			fail(r, err);
			return -1;
		}
		r->buf = nb;
		r->cap = ncap;
	}
	room = r->cap - 1 - r->end;
	if (r->nhead > 0) {
		/* the bytes read to detect gzip come first */
		got = (ssize_t)(r->nhead < room ? r->nhead : room);
		memcpy(r->buf + r->end, r->head, (size_t)got);
		memmove(r->head, r->head + got, r->nhead - (size_t)got);
		r->nhead -= (size_t)got;
	} else if (r->gzip)
		got = gzip_fill(r, r->buf + r->end, room, err);
	else if (r->raw_eof)
		got = 0;
	else
		got = raw_read(r, r->buf + r->end, room, err);
	if (got > 0)
		r->end += (size_t)got;
	return got;
}

struct bb_ndjson *
bb_ndjson_open_fd(int fd, int own_fd, const char *name, size_t max_line, unsigned flags,
    struct bb_error *err)
{
	struct bb_ndjson *r;
	struct stat st;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		bb_error_errno(err, "cannot read '%s'", name);
		if (own_fd)
			close(fd);
		return NULL;
	}
	r->fd = fd;
	r->own_fd = own_fd;
	r->max_line = max_line ? max_line : BB_NDJSON_DEFAULT_MAX_LINE;
	if (r->max_line > SIZE_MAX / 2)
		r->max_line = SIZE_MAX / 2;
	r->flags = flags;
	r->cap = CHUNK + 1;
	if ((r->name = strdup(name)) == NULL || (r->buf = malloc(r->cap)) == NULL) {
		bb_error_errno(err, "cannot read '%s'", name);
		goto fail;
	}
	r->seekable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	if (detect(r, err))
		goto fail;
	return r;
fail:
	bb_ndjson_free(r);
	return NULL;
}

struct bb_ndjson *
bb_ndjson_open(const char *path, size_t max_line, unsigned flags, struct bb_error *err)
{
	int fd;

	if (strcmp(path, "-") == 0)
		return bb_ndjson_open_fd(0, 0, "<stdin>", max_line, flags, err);
	do
		fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		bb_error_errno(err, "cannot open '%s'", path);
		return NULL;
	}
	return bb_ndjson_open_fd(fd, 1, path, max_line, flags, err);
}

void
bb_ndjson_set_read_size(struct bb_ndjson *r, size_t n)
{
	r->read_size = n;
}

static int
too_long(struct bb_ndjson *r, struct bb_error *err)
{
	r->toolong = 1;
	return bb_error_set(err, BB_ERR_INPUT, "line longer than %zu bytes (at %s:%llu)",
	    r->max_line, r->name, (unsigned long long)r->lineno + 1);
}

int
bb_ndjson_skip_line(struct bb_ndjson *r, struct bb_error *err)
{
	const char *nl;
	int any = r->toolong;
	ssize_t got;

	if (r->failed) {
		if (err != NULL)
			*err = r->saved;
		return -1;
	}
	if (r->toolong_done) {
		r->toolong = r->toolong_done = 0;
		return 1;
	}
	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl != NULL) {
			r->pos += (uint64_t)(nl + 1 - (r->buf + r->start));
			r->start = r->scan = (size_t)(nl + 1 - r->buf);
			r->lineno++;
			r->toolong = 0;
			return 1;
		}
		if (r->end > r->start)
			any = 1;
		r->pos += r->end - r->start;
		r->start = r->scan = r->end = 0;
		if (r->eof) {
			r->toolong = 0;
			if (!any)
				return 0;
			r->lineno++;
			return 1;
		}
		if ((got = fill(r, err)) < 0)
			return -1;
		if (got == 0)
			r->eof = 1;
	}
}

/* A line of nothing but JSON whitespace (the "\r" of CRLF is gone already). */
static int
is_blank(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1;
}

int
bb_ndjson_next(struct bb_ndjson *r, struct bb_ndjson_line *line, struct bb_error *err)
{
	const char *nl;
	size_t len, lim, used;
	ssize_t got;

	if (r->failed) {
		if (err != NULL)
			*err = r->saved;
		return -1;
	}
	if (r->toolong && bb_ndjson_skip_line(r, err) < 0)
		return -1;
	for (;;) {
		/* search no further than max_line + 2 bytes from the start */
		lim = r->end;
		if (r->end - r->start > r->max_line + 1)
			lim = r->start + r->max_line + 2;
		nl = NULL;
		if (r->scan < lim)
			nl = memchr(r->buf + r->scan, '\n', lim - r->scan);
		if (nl == NULL) {
			r->scan = lim;
			if (lim - r->start >= r->max_line + 2)
				return too_long(r, err);
			if (r->eof) {
				if (r->start == r->end)
					return 0;
				used = r->end - r->start;
				nl = r->buf + r->end;
			} else {
				if ((got = fill(r, err)) < 0)
					return -1;
				if (got == 0)
					r->eof = 1;
				continue;
			}
		} else
			used = (size_t)(nl - (r->buf + r->start)) + 1;
		len = (size_t)(nl - (r->buf + r->start));
		line->had_cr = len > 0 && nl[-1] == '\r';
		if (line->had_cr)
			len--;
		if (len > r->max_line) {
			/* the whole line is here: drop it now */
			too_long(r, err);
			r->toolong_done = 1;
			r->lineno++;
			r->pos += used;
			r->start = r->scan = r->start + used;
			return -1;
		}
		line->data = r->buf + r->start;
		line->len = len;
		line->lineno = ++r->lineno;
		line->offset = r->pos;
		r->buf[r->start + len] = '\0';
		r->pos += used;
		r->start = r->scan = r->start + used;
		if ((r->flags & BB_NDJSON_SKIP_BLANK) && is_blank(line->data, len))
			continue;
		return 1;
	}
}

const char *
bb_ndjson_name(const struct bb_ndjson *r)
{
	return r->name;
}

int
bb_ndjson_is_gzip(const struct bb_ndjson *r)
{
	return r->gzip;
}

int
bb_ndjson_is_seekable(const struct bb_ndjson *r)
{
	return r->seekable && !r->gzip;
}

uint64_t
bb_ndjson_bytes(const struct bb_ndjson *r)
{
	return r->pos;
}

uint64_t
bb_ndjson_lineno(const struct bb_ndjson *r)
{
	return r->lineno;
}

int
bb_ndjson_failed(const struct bb_ndjson *r)
{
	return r->failed;
}

void
bb_ndjson_free(struct bb_ndjson *r)
{
	if (r == NULL)
		return;
	if (r->zinit)
		inflateEnd(&r->z);
	if (r->own_fd && r->fd >= 0)
		close(r->fd);
	free(r->zin);
	free(r->buf);
	free(r->name);
	free(r);
}
