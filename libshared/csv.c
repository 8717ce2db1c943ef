/* csv.c - RFC 4180 CSV/TSV records; see csv.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "json.h"
#include "ndjson.h"

#define CSV_DEFAULT_MAX (64u << 20)

void
bb_csv_init(struct bb_csv *c, char delim)
{
	memset(c, 0, sizeof(*c));
	c->delim = delim;
	bb_buf_init(&c->data);
}

void
bb_csv_release(struct bb_csv *c)
{
	bb_buf_release(&c->data);
	free(c->start);
	c->start = NULL;
	c->nfields = c->cap = 0;
	c->in_quotes = 0;
}

void
bb_csv_begin(struct bb_csv *c)
{
	bb_buf_reset(&c->data);
	c->nfields = 0;
	c->in_quotes = 0;
}

static int
field_open(struct bb_csv *c, struct bb_error *err)
{
	if (c->nfields == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16, bytes;
		size_t *p;

		if (bb_size_mul(ncap, sizeof(*p), &bytes) ||
		    (p = realloc(c->start, bytes)) == NULL)
			return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		c->start = p;
		c->cap = ncap;
	}
	c->start[c->nfields++] = c->data.len;
	return 0;
}

static int
add(struct bb_csv *c, const char *p, size_t n, struct bb_error *err)
{
	if (c->max_bytes && c->data.len + n > c->max_bytes)
		return bb_error_set(err, BB_ERR_INPUT, "record longer than %zu bytes",
		    c->max_bytes);
	if (bb_buf_add(&c->data, p, n))
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	return 0;
}

enum { ST_START, ST_UNQUOTED, ST_QUOTED, ST_AFTER_QUOTE };

int
bb_csv_feed(struct bb_csv *c, const char *line, size_t len, const char *eol,
    struct bb_error *err)
{
	const char nul = '\0';
	int rc = -1, st;
	size_t i = 0, run;

	if (c->in_quotes) {
		if (eol && add(c, eol, strlen(eol), err))
			goto out;
		st = ST_QUOTED;
	} else {
		bb_csv_begin(c);
		if (field_open(c, err))
			goto out;
		st = ST_START;
	}
	while (i < len) {
		char ch = line[i];

		switch (st) {
		case ST_START:
			if (ch == '"') {
				st = ST_QUOTED;
				i++;
				continue;
			}
			st = ST_UNQUOTED;
			/* FALLTHROUGH */
		case ST_UNQUOTED:
			/* Copy the plain run up to the next delimiter or quote at once. */
			for (run = i; run < len && line[run] != c->delim && line[run] != '"'; run++)
				;
			if (run > i && add(c, line + i, run - i, err))
				goto out;
			i = run;
			if (i == len)
				break;
			if (line[i] == '"') {
				bb_error_set(err, BB_ERR_INPUT,
				    "quote inside an unquoted field (column %zu)", i + 1);
				goto out;
			}
			if (add(c, &nul, 1, err) || field_open(c, err))
				goto out;
			st = ST_START;
			i++;
			break;
		case ST_QUOTED:
			for (run = i; run < len && line[run] != '"'; run++)
				;
			if (run > i && add(c, line + i, run - i, err))
				goto out;
			i = run;
			if (i == len)
				break;
			if (i + 1 < len && line[i + 1] == '"') {
				if (add(c, "\"", 1, err))
					goto out;
				i += 2;
			} else {
				st = ST_AFTER_QUOTE;
				i++;
			}
			break;
		case ST_AFTER_QUOTE:
			if (ch != c->delim) {
				bb_error_set(err, BB_ERR_INPUT,
				    "text after a closing quote (column %zu)", i + 1);
				goto out;
			}
			if (add(c, &nul, 1, err) || field_open(c, err))
				goto out;
			st = ST_START;
			i++;
			break;
		}
	}
	if (st == ST_QUOTED) {
		c->in_quotes = 1;
		rc = 0;
		goto out;
	}
	if (add(c, &nul, 1, err))
		goto out;
	c->in_quotes = 0;
	rc = 1;
out:
	if (rc < 0)
		c->in_quotes = 0;
	return rc;
}

const char *
bb_csv_field(const struct bb_csv *c, size_t i, size_t *len)
{
	size_t end;

	if (i >= c->nfields) {
		*len = 0;
		return NULL;
	}
	end = i + 1 < c->nfields ? c->start[i + 1] - 1 : c->data.len - 1;
	*len = end - c->start[i];
	return c->data.data + c->start[i];
}

int
bb_csv_json_object(const struct bb_csv *c, char *const *names, size_t nnames,
    struct bb_buf *out)
{
	size_t i, len, n = bb_csv_nfields(c);
	int e = 0;

	e |= bb_buf_addc(out, '{');
	for (i = 0; i < n && i < nnames; i++) {
		const char *f = bb_csv_field(c, i, &len);

		if (i)
			e |= bb_buf_addc(out, ',');
		e |= bb_json_add_str(out, names[i], strlen(names[i]));
		e |= bb_buf_addc(out, ':');
		if (bb_json_add_str(out, f, len))
			e |= bb_buf_adds(out, "null");
	}
	e |= bb_buf_addc(out, '}');
	return e ? -1 : 0;
}

/* ---- the reader ---- */

struct bb_csv_reader {
	struct bb_ndjson *lines;
	struct bb_csv csv;
	struct bb_buf raw;
	size_t max_record;
	uint64_t nread;      /* lines read, to spot the first one */
	int failed;
	int at_end;          /* the input ended inside a record: nothing more */
};

static struct bb_csv_reader *
reader_new(char delim, size_t max_record, struct bb_error *err)
{
	struct bb_csv_reader *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		return NULL;
	}
	bb_csv_init(&r->csv, delim);
	bb_buf_init(&r->raw);
	r->max_record = max_record ? max_record : CSV_DEFAULT_MAX;
	r->csv.max_bytes = r->max_record;
	return r;
}

struct bb_csv_reader *
bb_csv_reader_open(const char *path, char delim, size_t max_record, struct bb_error *err)
{
	struct bb_csv_reader *r = reader_new(delim, max_record, err);

	if (r == NULL)
		return NULL;
	r->lines = bb_ndjson_open(path, r->max_record, 0, err);
	if (r->lines == NULL) {
		bb_csv_reader_free(r);
		return NULL;
	}
	return r;
}

struct bb_csv_reader *
bb_csv_reader_open_fd(int fd, int own_fd, const char *name, char delim, size_t max_record,
    struct bb_error *err)
{
	struct bb_csv_reader *r = reader_new(delim, max_record, err);

	if (r == NULL)
		return NULL;
	r->lines = bb_ndjson_open_fd(fd, own_fd, name, r->max_record, 0, err);
	if (r->lines == NULL) {
		bb_csv_reader_free(r);
		return NULL;
	}
	return r;
}

void
bb_csv_reader_set_read_size(struct bb_csv_reader *r, size_t n)
{
	bb_ndjson_set_read_size(r->lines, n);
}

int
bb_csv_reader_next(struct bb_csv_reader *r, struct bb_csv_record *rec, struct bb_error *err)
{
	struct bb_ndjson_line ln;
	const char *eol = "\n";
	int open = 0, rc = -1, n;

	memset(rec, 0, sizeof(*rec));
	rec->fields = &r->csv;
	bb_buf_reset(&r->raw);
	if (r->failed) {
		bb_error_set(err, BB_ERR_INPUT, "no more records after an earlier error");
		return -1;
	}
	if (r->at_end)
		return 0;
	for (;;) {
		const char *p;
		size_t len;

		n = bb_ndjson_next(r->lines, &ln, err);
		if (n < 0) {
			/* An over-long line can be skipped; anything else is final. */
			if (err && err->kind == BB_ERR_INPUT &&
			    bb_ndjson_skip_line(r->lines, NULL) >= 0) {
				r->csv.in_quotes = 0;
			} else {
				r->failed = 1;
			}
			goto out;
		}
		if (n == 0) {
			if (open) {
				bb_error_set(err, BB_ERR_INPUT,
				    "end of input inside a quoted field");
				r->at_end = 1;
				goto out;
			}
			rc = 0;
			goto out;
		}
		p = ln.data;
		len = ln.len;
		if (r->nread++ == 0 && len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
			p += 3;
			len -= 3;
		}
		if (!open) {
			if (len == 0)
				continue;
			rec->lineno = ln.lineno;
			rec->offset = ln.offset + (uint64_t)(p - ln.data);
			rec->nlines = 0;
		} else if (bb_buf_adds(&r->raw, eol)) {
			bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
			goto out;
		}
		rec->nlines++;
		if (r->raw.len + len > r->max_record) {
			bb_error_set(err, BB_ERR_INPUT, "record longer than %zu bytes",
			    r->max_record);
			r->csv.in_quotes = 0;
			goto out;
		}
		if (bb_buf_add(&r->raw, p, len)) {
			bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
			goto out;
		}
		n = bb_csv_feed(&r->csv, p, len, eol, err);
		eol = ln.had_cr ? "\r\n" : "\n";
		if (n < 0)
			goto out;
		if (n == 1) {
			rc = 1;
			goto out;
		}
		open = 1;
	}
out:
	rec->raw = bb_buf_str(&r->raw);
	rec->rawlen = r->raw.len;
	return rc;
}

int
bb_csv_reader_failed(const struct bb_csv_reader *r)
{
	return r->failed;
}

const char *
bb_csv_reader_name(const struct bb_csv_reader *r)
{
	return bb_ndjson_name(r->lines);
}

int
bb_csv_reader_is_seekable(const struct bb_csv_reader *r)
{
	return bb_ndjson_is_seekable(r->lines);
}

int
bb_csv_reader_is_gzip(const struct bb_csv_reader *r)
{
	return bb_ndjson_is_gzip(r->lines);
}

void
bb_csv_reader_free(struct bb_csv_reader *r)
{
	if (r == NULL)
		return;
	if (r->lines)
		bb_ndjson_free(r->lines);
	bb_csv_release(&r->csv);
	bb_buf_release(&r->raw);
	free(r);
}
