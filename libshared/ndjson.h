/*
 * ndjson.h - streaming line reader for newline-delimited input.
 *
 * Reads lines from a file descriptor, a named file or stdin ("-"), and
 * transparently inflates gzip input (detected by its magic bytes, several
 * concatenated gzip members allowed). Memory is bounded: a line longer than
 * `max_line` bytes is an error that names its position; the reader can then
 * skip to the next line and go on (bb_ndjson_skip_line).
 *
 * Positions: every line returned carries the 1-based line number and the
 * byte offset of its first byte in the (uncompressed) stream, counted from
 * where reading started (the start of a named file), so callers can say
 * "(at FILE:LINE)" and record where a row was.
 *
 * Lines are returned without their "\n"; a "\r" before the "\n" is removed
 * too (and `had_cr` set). A missing final newline is accepted. NUL bytes are
 * passed through (len counts them); callers that parse JSON reject them.
 * Empty lines are returned as lines of length 0 unless BB_NDJSON_SKIP_BLANK,
 * which skips them and lines of nothing but spaces and tabs too.
 *
 * Errors are one line with the position as "(at FILE:LINE)":
 * "line longer than 1048576 bytes (at rows.jsonl:7)", "unexpected end of
 * gzip data (at rows.jsonl.gz:9)", "invalid gzip data: incorrect header
 * check (at x.gz:1)", "cannot read 'x': Input/output error". A too-long
 * line is the only error the reader recovers from (kind BB_ERR_INPUT; the
 * line is counted, so the next one has the following number); after any
 * other error bb_ndjson_failed() is 1 and every call returns the same
 * error again.
 *
 * Lifecycle: bb_ndjson_open()/bb_ndjson_open_fd() allocate a reader;
 * bb_ndjson_free() closes what it opened (never fd 0 it was handed) and
 * frees it. The returned line points into the reader's buffer and is valid
 * until the next call.
 */
#ifndef BB_NDJSON_H
#define BB_NDJSON_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define BB_NDJSON_DEFAULT_MAX_LINE (64u << 20)  /* 64 MiB */

enum bb_ndjson_flags {
	BB_NDJSON_SKIP_BLANK = 1 << 0,  /* do not return empty or blank lines */
	BB_NDJSON_NO_GZIP = 1 << 1,     /* never inflate, even with gzip magic */
};

struct bb_ndjson_line {
	const char *data;   /* NUL-terminated: data[len] == '\0' */
	size_t len;
	uint64_t lineno;    /* 1-based */
	uint64_t offset;    /* byte offset of data[0] in the uncompressed stream */
	int had_cr;
};

struct bb_ndjson;

/* path "-" means stdin. `name` for messages is the path ("<stdin>" for "-").
 * max_line 0 means BB_NDJSON_DEFAULT_MAX_LINE; it bounds the length of a
 * line as returned (without "\r\n"). Opening reads the first two bytes
 * (to detect gzip), so it blocks until they arrive on a pipe. NULL on
 * error (err says why). */
struct bb_ndjson *bb_ndjson_open(const char *path, size_t max_line, unsigned flags,
    struct bb_error *err);
/* Read from fd (not closed by bb_ndjson_free unless own_fd); name is for messages. */
struct bb_ndjson *bb_ndjson_open_fd(int fd, int own_fd, const char *name,
    size_t max_line, unsigned flags, struct bb_error *err);
/* Test hook: read at most n bytes per read(2) (1..31 in the tests). */
void bb_ndjson_set_read_size(struct bb_ndjson *r, size_t n);

/*
 * Next line: 1 and *line filled; 0 at end of input; -1 on error (err says
 * which, with the position: read error, broken gzip data, or a line over
 * max_line - after which bb_ndjson_skip_line() resumes after that line;
 * calling bb_ndjson_next() again skips it as well).
 * The line data is NUL-terminated (data[len] == '\0').
 */
int bb_ndjson_next(struct bb_ndjson *r, struct bb_ndjson_line *line, struct bb_error *err);
/* Discard input through the next newline without buffering it: the rest
 * of a line reported too long, else the next line. 1 when a line was
 * skipped, 0 at end of input, -1 on error. */
int bb_ndjson_skip_line(struct bb_ndjson *r, struct bb_error *err);

const char *bb_ndjson_name(const struct bb_ndjson *r);
int bb_ndjson_is_gzip(const struct bb_ndjson *r);
/* 1 when the input is a regular, uncompressed file (so offsets can be
 * used later to re-read rows from it with pread). */
int bb_ndjson_is_seekable(const struct bb_ndjson *r);
/* Uncompressed bytes consumed so far: the offset where the next line
 * starts (bytes buffered but not yet returned are not counted). */
uint64_t bb_ndjson_bytes(const struct bb_ndjson *r);
/* Lines returned or skipped so far (the number of the last one). */
uint64_t bb_ndjson_lineno(const struct bb_ndjson *r);
/* 1 after an error the reader cannot go on from (read, gzip, memory). */
int bb_ndjson_failed(const struct bb_ndjson *r);
void bb_ndjson_free(struct bb_ndjson *r);

#endif
