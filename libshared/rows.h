/*
 * rows.h - re-reading the original input rows of one shard from the
 * `source` that bb-shard recorded in its shard line (man/bb-shard.1):
 *
 *   {"path":"/abs/rows.jsonl","offset":112,"bytes":108,"rows":5,
 *    "first_row":5,"first_line":5,"format":"jsonl","id_field":"id"}
 *   {"sidecar":"/abs/part-00002.rows.jsonl.gz","rows":5,...,"format":"jsonl"}
 *
 * A path source is the region [offset, offset+bytes) of a regular file,
 * read again with pread-like positioning (the rows there are exactly as
 * they were in the input: JSON lines, or CSV/TSV records whose header is
 * the first record of the file). A sidecar is a gzip JSONL copy of the
 * rows (CSV rows became JSON objects of strings there). The region holds
 * `rows` rows, counted the way bb-shard counted them (blank lines are not
 * rows), from global row number `first_row`; rows that bb-shard rejected
 * are in the region too, and have no record.
 *
 * Each row comes with the recordId bb-shard gave it, by the rules of
 * recordid.h (the one place for them): the generated id of its global row
 * number, or, with an id field (--id-field, an OpenAI custom_id, a Bedrock
 * recordId, kept as it is by BB_RECORDID_KEEP_ALNUM), the id made from
 * the field's value. A row whose id field is absent gets the generated id;
 * one whose value is refused (empty, too long, not a string or a number)
 * gets an empty id: bb-shard rejected it.
 *
 * Lifecycle: bb_rows_source_parse() fills a struct bb_rows_source
 * (bb_rows_source_release); bb_rows_open() a reader (bb_rows_free). A row
 * returned by bb_rows_next() is valid until the next call.
 */
#ifndef BB_ROWS_H
#define BB_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "csv.h"
#include "error.h"
#include "recordid.h"

enum bb_rows_format {
	BB_ROWS_JSONL = 0,
	BB_ROWS_CSV,
	BB_ROWS_TSV,
	BB_ROWS_BEDROCK,   /* JSON lines of Bedrock records */
	BB_ROWS_OPENAI,    /* JSON lines of OpenAI batch requests */
};

struct bb_rows_source {
	char *path;          /* the input file (path source), or NULL */
	char *sidecar;       /* the sidecar file, or NULL */
	uint64_t offset, bytes;
	uint64_t rows, first_row, first_line;
	enum bb_rows_format format;
	char *id_field;      /* NULL: generated ids */
};

/* Parse the JSON text of a `source` value. -1 (kind BB_ERR_INPUT) when it
 * is not an object of that shape. */
int bb_rows_source_parse(const char *json, size_t len, struct bb_rows_source *src,
    struct bb_error *err);
void bb_rows_source_release(struct bb_rows_source *src);
/* "jsonl", "csv", ...; -1 when unknown. */
int bb_rows_format_of(const char *name);

struct bb_rows_row {
	const char *raw;        /* the row's bytes as in the input (CSV: the */
	size_t rawlen;          /*   record, without its final line ending) */
	const char *json;       /* the row as a JSON object text: raw for JSON */
	size_t jsonlen;         /*   lines, an object of the header's names for CSV */
	const struct bb_csv *csv;   /* CSV/TSV path sources: the fields; else NULL */
	uint64_t row;           /* global row number */
	uint64_t lineno;        /* line of the row in the input (path sources) */
	const char *id;         /* the recordId bb-shard gave it (NUL-terminated) */
	size_t idlen;
	int bad;                /* could not be read (over-long line, bad CSV) */
};

struct bb_rows;

/* max_line: the longest row (0 = 64 MiB). NULL on error (err). */
struct bb_rows *bb_rows_open(const struct bb_rows_source *src, size_t max_line,
    struct bb_error *err);
/* 1 and *row, 0 after the last of the `rows` rows, -1 on error (read
 * error, truncated region: err says which, with the position). */
int bb_rows_next(struct bb_rows *r, struct bb_rows_row *row, struct bb_error *err);
/*
 * The recordId of the row `ahead` rows after the last one returned
 * (ahead 1: the next one), when it is known without reading it: generated
 * ids (no id field). Written to id (room for BB_ROWS_PEEK_MAX bytes,
 * NUL-terminated); returns its length, 0 when not known.
 */
#define BB_ROWS_PEEK_MAX BB_RECORDID_GEN_MAX
size_t bb_rows_peek_id(const struct bb_rows *r, uint64_t ahead, char *id);
/* CSV/TSV path sources: the header record (raw bytes) and the column
 * names; NULL / 0 otherwise. */
const char *bb_rows_header(const struct bb_rows *r, size_t *len);
size_t bb_rows_ncols(const struct bb_rows *r);
const char *bb_rows_col(const struct bb_rows *r, size_t i);
/* Name of the file read, for messages. */
const char *bb_rows_name(const struct bb_rows *r);
void bb_rows_free(struct bb_rows *r);

#endif
