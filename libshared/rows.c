/*
 * rows.c - the original rows of a shard, read again from its source
 * (rows.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "json.h"
#include "ndjson.h"
#include "recordid.h"
#include "rows.h"

static const char *const format_names[] = { "jsonl", "csv", "tsv", "bedrock", "openai" };

struct bb_rows {
	struct bb_rows_source src;   /* a copy (strings shared with the caller's) */
	const char *name;
	struct bb_ndjson *nd;
	struct bb_csv_reader *csv;
	unsigned id_flags;           /* BB_RECORDID_* */
	uint64_t done;               /* rows returned */
	uint64_t line_base;          /* input line of the reader's line 1, minus 1 */
	struct bb_buf header;        /* CSV: raw header record */
	char **cols;
	size_t ncols;
	ssize_t id_col;              /* CSV: column of the id field, -1 none */
	struct bb_buf json, id;
};

int
bb_rows_format_of(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (strcmp(name, format_names[i]) == 0)
			return (int)i;
	return -1;
}

void
bb_rows_source_release(struct bb_rows_source *src)
{
	free(src->path);
	free(src->sidecar);
	free(src->id_field);
	memset(src, 0, sizeof(*src));
}

static int
span_strdup(const struct bb_json_span *sp, char **out)
{
	struct bb_buf b = BB_BUF_INIT;

	if (bb_json_span_str(sp, &b) || memchr(b.data ? b.data : "", '\0', b.len) != NULL) {
		bb_buf_release(&b);
		return -1;
	}
	if (b.data == NULL && bb_buf_adds(&b, "") < 0)
		return -1;
	*out = bb_buf_detach(&b, NULL);
	return 0;
}

int
bb_rows_source_parse(const char *json, size_t len, struct bb_rows_source *src,
    struct bb_error *err)
{
	static const char *const keys[] = { "path", "sidecar", "offset", "bytes", "rows",
	    "first_row", "first_line", "format", "id_field" };
	struct bb_json_span sp[9];
	long long v[5];
	struct bb_buf fmt = BB_BUF_INIT;
	size_t i;
	int f, rc = -1;

	memset(src, 0, sizeof(*src));
	if (bb_json_fields(json, len, keys, 9, sp, err)) {
		bb_error_prefix(err, "source");
		return -1;
	}
	for (i = 0; i < 5; i++) {
		v[i] = i < 2 ? 0 : 1;
		if (sp[2 + i].p != NULL && bb_json_span_int(&sp[2 + i], 0, 1LL << 62, &v[i])) {
			bb_error_set(err, BB_ERR_INPUT, "source.%s: not a count", keys[2 + i]);
			goto out;
		}
	}
	if (sp[4].p == NULL) {
		bb_error_set(err, BB_ERR_INPUT, "source.rows: missing");
		goto out;
	}
	src->offset = (uint64_t)v[0];
	src->bytes = (uint64_t)v[1];
	src->rows = (uint64_t)v[2];
	src->first_row = (uint64_t)v[3];
	src->first_line = (uint64_t)v[4];
	if ((sp[0].p == NULL) == (sp[1].p == NULL)) {
		bb_error_set(err, BB_ERR_INPUT, "source: needs one of \"path\" and \"sidecar\"");
		goto out;
	}
	if ((sp[0].p && (sp[0].type != BB_JSON_STRING || span_strdup(&sp[0], &src->path))) ||
	    (sp[1].p && (sp[1].type != BB_JSON_STRING || span_strdup(&sp[1], &src->sidecar)))) {
		bb_error_set(err, BB_ERR_INPUT, "source: bad file name");
		goto out;
	}
	if (sp[0].p && sp[3].p == NULL) {
		bb_error_set(err, BB_ERR_INPUT, "source.bytes: missing");
		goto out;
	}
	src->format = BB_ROWS_JSONL;
	if (sp[7].p != NULL) {
		if (bb_json_span_str(&sp[7], &fmt) ||
		    (f = bb_rows_format_of(bb_buf_str(&fmt))) < 0) {
			bb_error_set(err, BB_ERR_INPUT, "source.format: unknown format");
			goto out;
		}
		src->format = (enum bb_rows_format)f;
	}
	if (sp[8].p != NULL && (sp[8].type != BB_JSON_STRING ||
	    span_strdup(&sp[8], &src->id_field) || src->id_field[0] == '\0')) {
		bb_error_set(err, BB_ERR_INPUT, "source.id_field: not a name");
		goto out;
	}
	rc = 0;
out:
	bb_buf_release(&fmt);
	if (rc)
		bb_rows_source_release(src);
	return rc;
}

/* ---- ids (the rules are recordid.h's) ---- */

/* The generated id of row as r->id. */
static int
generated_id(struct bb_rows *r, uint64_t row)
{
	char d[BB_RECORDID_GEN_MAX];

	return bb_buf_add(&r->id, d, bb_recordid_generate(d, row));
}

/* r->id for a JSON row; 0 with an empty id when the row has no valid id. */
static void
id_of_json(struct bb_rows *r, const char *row, size_t len, uint64_t rowno)
{
	const char *key = r->src.id_field;
	struct bb_json_span sp;
	struct bb_json *tree = NULL;
	const struct bb_json *v;

	bb_buf_reset(&r->id);
	if (key == NULL)
		goto generated;
	if (bb_json_fields(row, len, &key, 1, &sp, NULL))
		return;   /* not valid JSON: bb-shard rejected it */
	if (sp.p == NULL && strchr(key, '.') != NULL &&
	    bb_json_parse(row, len, 0, &tree, NULL) == 0 &&
	    (v = bb_json_path(tree, key)) != NULL &&
	    (v->type == BB_JSON_STRING || v->type == BB_JSON_NUMBER)) {
		if (bb_recordid_make(v->str, v->len, r->id_flags, &r->id, NULL))
			bb_buf_reset(&r->id);
		bb_json_free(tree);
		return;
	}
	bb_json_free(tree);
	if (sp.p == NULL)
		goto generated;
	/* on error (not a string or a number, refused) r->id stays empty */
	bb_recordid_from_json(&sp, r->id_flags, "id", &r->id, NULL);
	return;
generated:
	generated_id(r, rowno);
}

/* ---- reading ---- */

static int
csv_header(struct bb_rows *r, char delim, size_t max_line, struct bb_error *err)
{
	struct bb_csv_reader *h;
	struct bb_csv_record rec;
	size_t i, len;
	int n, rc = -1;

	h = bb_csv_reader_open(r->src.path, delim, max_line, err);
	if (h == NULL)
		return -1;
	n = bb_csv_reader_next(h, &rec, err);
	if (n <= 0) {
		if (n == 0)
			bb_error_set(err, BB_ERR_INPUT, "no header row in '%s'", r->src.path);
		goto out;
	}
	if (bb_buf_add(&r->header, rec.raw, rec.rawlen))
		goto nomem;
	r->ncols = bb_csv_nfields(rec.fields);
	r->cols = calloc(r->ncols + 1, sizeof(*r->cols));
	if (r->cols == NULL)
		goto nomem;
	for (i = 0; i < r->ncols; i++) {
		const char *f = bb_csv_field(rec.fields, i, &len);

		if ((r->cols[i] = malloc(len + 1)) == NULL)
			goto nomem;
		memcpy(r->cols[i], f, len + 1);
		if (r->src.id_field && strcmp(r->cols[i], r->src.id_field) == 0)
			r->id_col = (ssize_t)i;
	}
	rc = 0;
	goto out;
nomem:
	bb_error_errno(err, "reading the header of '%s'", r->src.path);
out:
	bb_csv_reader_free(h);
	return rc;
}

struct bb_rows *
bb_rows_open(const struct bb_rows_source *src, size_t max_line, struct bb_error *err)
{
	struct bb_rows *r = calloc(1, sizeof(*r));
	int fd = -1;

	if (r == NULL) {
		bb_error_errno(err, "reading rows");
		return NULL;
	}
	r->src = *src;
	r->id_col = -1;
	bb_buf_init(&r->header);
	bb_buf_init(&r->json);
	bb_buf_init(&r->id);
	if (src->format == BB_ROWS_BEDROCK ||
	    (src->sidecar && src->id_field && strcmp(src->id_field, "recordId") == 0))
		r->id_flags = BB_RECORDID_KEEP_ALNUM;
	if (src->sidecar != NULL) {
		r->name = src->sidecar;
		r->nd = bb_ndjson_open(src->sidecar, max_line, BB_NDJSON_SKIP_BLANK, err);
		if (r->nd == NULL)
			goto fail;
		return r;
	}
	r->name = src->path;
	r->line_base = src->first_line ? src->first_line - 1 : 0;
	if ((src->format == BB_ROWS_CSV || src->format == BB_ROWS_TSV) &&
	    csv_header(r, src->format == BB_ROWS_TSV ? '\t' : ',', max_line, err))
		goto fail;
	fd = open(src->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		bb_error_errno(err, "cannot open '%s'", src->path);
		goto fail;
	}
	if (lseek(fd, (off_t)src->offset, SEEK_SET) < 0) {
		bb_error_errno(err, "cannot seek in '%s'", src->path);
		close(fd);
		goto fail;
	}
	if (src->format == BB_ROWS_CSV || src->format == BB_ROWS_TSV)
		r->csv = bb_csv_reader_open_fd(fd, 1, src->path,
		    src->format == BB_ROWS_TSV ? '\t' : ',', max_line, err);
	else
		r->nd = bb_ndjson_open_fd(fd, 1, src->path, max_line,
		    BB_NDJSON_SKIP_BLANK | BB_NDJSON_NO_GZIP, err);
	if (r->nd == NULL && r->csv == NULL)
		goto fail;
	return r;
fail:
	bb_rows_free(r);
	return NULL;
}

int
bb_rows_next(struct bb_rows *r, struct bb_rows_row *row, struct bb_error *err)
{
	uint64_t rowno = r->src.first_row + r->done, off, len;
	int n;

	memset(row, 0, sizeof(*row));
	if (r->done >= r->src.rows)
		return 0;
	row->row = rowno;
	if (r->csv != NULL) {
		struct bb_csv_record rec;

		n = bb_csv_reader_next(r->csv, &rec, err);
		if (n < 0 && (bb_csv_reader_failed(r->csv) || rec.raw == NULL))
			return -1;
		if (n == 0)
			goto short_region;
		off = rec.offset;
		len = rec.rawlen;
		row->raw = rec.raw;
		row->rawlen = rec.rawlen;
		row->lineno = r->line_base + rec.lineno;
		if (n < 0) {
			row->bad = 1;
		} else {
			row->csv = rec.fields;
			bb_buf_reset(&r->json);
			if (bb_csv_json_object(rec.fields, r->cols, r->ncols, &r->json))
				return bb_error_errno(err, "reading rows");
			row->json = r->json.data;
			row->jsonlen = r->json.len;
			bb_buf_reset(&r->id);
			if (r->src.id_field == NULL) {
				generated_id(r, rowno);
			} else if (r->id_col >= 0 && (size_t)r->id_col < bb_csv_nfields(rec.fields)) {
				size_t fl;
				const char *f = bb_csv_field(rec.fields, (size_t)r->id_col, &fl);

				if (bb_recordid_make(f, fl, 0, &r->id, NULL))
					bb_buf_reset(&r->id);
			}
		}
	} else {
		struct bb_ndjson_line ln;

		n = bb_ndjson_next(r->nd, &ln, err);
		if (n < 0) {
			if (bb_ndjson_failed(r->nd) || bb_ndjson_skip_line(r->nd, NULL) < 0)
				return -1;
			/* an over-long line: a row that bb-shard rejected too */
			row->bad = 1;
			row->raw = row->json = "";
			row->lineno = r->line_base + bb_ndjson_lineno(r->nd);
			r->done++;
			return 1;
		}
		if (n == 0)
			goto short_region;
		off = ln.offset;
		len = ln.len + (ln.had_cr ? 1 : 0);
		row->raw = row->json = ln.data;
		row->rawlen = row->jsonlen = ln.len;
		row->lineno = r->src.sidecar ? 0 : r->line_base + ln.lineno;
		id_of_json(r, ln.data, ln.len, rowno);
	}
	if (r->src.path != NULL && off + len > r->src.bytes + (r->csv ? 0 : 1)) {
		bb_error_set(err, BB_ERR_INPUT, "'%s' changed since it was sharded: row %llu "
		    "is past the end of the shard's region", r->name, (unsigned long long)rowno);
		return -1;
	}
	if (!row->bad) {
		row->id = r->id.data ? r->id.data : "";
		row->idlen = r->id.len;
	}
	r->done++;
	return 1;
short_region:
	bb_error_set(err, BB_ERR_INPUT, "'%s' has %llu rows where the shard's source has %llu",
	    r->name, (unsigned long long)r->done, (unsigned long long)r->src.rows);
	return -1;
}

size_t
bb_rows_peek_id(const struct bb_rows *r, uint64_t ahead, char *id)
{
	if (r->src.id_field != NULL || ahead == 0 || r->done + ahead > r->src.rows)
		return 0;
	return bb_recordid_generate(id, r->src.first_row + r->done + ahead - 1);
}

const char *
bb_rows_header(const struct bb_rows *r, size_t *len)
{
	*len = r->header.len;
	return r->header.len ? r->header.data : NULL;
}

size_t
bb_rows_ncols(const struct bb_rows *r)
{
	return r->ncols;
}

const char *
bb_rows_col(const struct bb_rows *r, size_t i)
{
	return i < r->ncols ? r->cols[i] : NULL;
}

const char *
bb_rows_name(const struct bb_rows *r)
{
	return r->name;
}

void
bb_rows_free(struct bb_rows *r)
{
	size_t i;

	if (r == NULL)
		return;
	bb_ndjson_free(r->nd);
	bb_csv_reader_free(r->csv);
	for (i = 0; i < r->ncols; i++)
		free(r->cols[i]);
	free(r->cols);
	bb_buf_release(&r->header);
	bb_buf_release(&r->json);
	bb_buf_release(&r->id);
	free(r);
}
