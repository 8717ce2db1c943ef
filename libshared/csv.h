/*
 * csv.h - RFC 4180 CSV and TSV, read as a stream of records.
 *
 * Two layers:
 *
 * struct bb_csv is a parser fed one physical line at a time (without its
 * line ending). A quoted field may hold delimiters, doubled quotes ("")
 * and line breaks; when a line ends inside quotes the parser keeps the
 * record open and the caller feeds the next line. The same rules apply to
 * TSV (delimiter '\t'), so quoted TSV as spreadsheets write it is read too.
 * A quote inside an unquoted field, or anything but a delimiter after a
 * closing quote, is an error (strict RFC 4180): such a row is reported,
 * never guessed at.
 *
 * struct bb_csv_reader pulls lines from the ndjson line reader (so gzip
 * input, bounded memory and byte offsets come for free) and returns whole
 * records with their fields, their raw bytes (for rejects files and
 * sidecars) and their position. Blank lines between records are skipped.
 * A UTF-8 byte order mark at the start of the input is dropped.
 *
 * Fields are stored unescaped in one buffer, each NUL-terminated; they are
 * valid until the next record. Field bytes are not checked for UTF-8 here.
 *
 * Lifecycle: bb_csv_init()/bb_csv_release(); bb_csv_reader_open() and
 * bb_csv_reader_free().
 */
#ifndef BB_CSV_H
#define BB_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

struct bb_csv {
	char delim;
	struct bb_buf data;     /* field bytes, each followed by a NUL */
	size_t *start;          /* start[i]: offset of field i in data */
	size_t nfields, cap;
	int in_quotes;          /* the record is open inside a quoted field */
	size_t max_bytes;       /* bound on data.len (0 = none) */
};

void bb_csv_init(struct bb_csv *c, char delim);
void bb_csv_release(struct bb_csv *c);
/* Forget the current record (call before the first line of a record). */
void bb_csv_begin(struct bb_csv *c);
/*
 * Feed one line (without its ending). When the record is open inside a
 * quoted field, `eol` (the ending removed from the previous line, "\n" or
 * "\r\n") is first added to that field. Returns 1 when the record is complete, 0 when it
 * continues on the next line, -1 on a quoting error or when the record
 * grows over max_bytes (err names the column, 1-based, within the line).
 */
int bb_csv_feed(struct bb_csv *c, const char *line, size_t len, const char *eol,
    struct bb_error *err);
/* Field i (0-based) of the complete record; *len gets its length. */
const char *bb_csv_field(const struct bb_csv *c, size_t i, size_t *len);
static inline size_t bb_csv_nfields(const struct bb_csv *c) { return c->nfields; }
/*
 * Append the record as a JSON object by column names,
 * {"name":"value",...}, for its first min(nfields, nnames) fields; a field
 * that is not valid UTF-8 is null there. -1 when out cannot grow.
 */
int bb_csv_json_object(const struct bb_csv *c, char *const *names, size_t nnames,
    struct bb_buf *out);

/* One record as the reader returns it. */
struct bb_csv_record {
	const struct bb_csv *fields;  /* bb_csv_field() on it */
	const char *raw;              /* the record's bytes as in the input, */
	size_t rawlen;                /*   without the final line ending */
	uint64_t lineno;              /* line of its first byte, 1-based */
	uint64_t offset;              /* byte offset of its first byte */
	uint64_t nlines;              /* physical lines it spans */
};

struct bb_csv_reader;

/*
 * Open path ("-" = stdin) for reading delimited records; gzip input is
 * inflated. max_record bounds the raw bytes of one record (0 = 64 MiB).
 */
struct bb_csv_reader *bb_csv_reader_open(const char *path, char delim, size_t max_record,
    struct bb_error *err);
/* Read from fd (closed at free only when own_fd); name is for messages. */
struct bb_csv_reader *bb_csv_reader_open_fd(int fd, int own_fd, const char *name, char delim,
    size_t max_record, struct bb_error *err);
/* Test hook: at most n bytes per read(2). */
void bb_csv_reader_set_read_size(struct bb_csv_reader *r, size_t n);
/*
 * Next record: 1 and *rec filled, 0 at the end, -1 on error. After a bad
 * record (quoting error, too long) the reader has consumed it (its raw
 * bytes, as far as they were read, are in rec->raw) and the next call goes
 * on with the following line (after an unterminated quoted field at the
 * end of the input, the next call returns 0). Errors from the line reader
 * (I/O, broken gzip) are final: bb_csv_reader_failed() then says 1.
 */
int bb_csv_reader_next(struct bb_csv_reader *r, struct bb_csv_record *rec, struct bb_error *err);
/* 1 when the last error was final (no more records can be read). */
int bb_csv_reader_failed(const struct bb_csv_reader *r);
const char *bb_csv_reader_name(const struct bb_csv_reader *r);
int bb_csv_reader_is_seekable(const struct bb_csv_reader *r);
int bb_csv_reader_is_gzip(const struct bb_csv_reader *r);
void bb_csv_reader_free(struct bb_csv_reader *r);

#endif
