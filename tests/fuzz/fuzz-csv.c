/*
 * fuzz-csv.c - the CSV/TSV record reader and the line parser under it
 * (csv.h).
 *
 * Input: byte 0 picks the delimiter (',' or '\t'), the read(2) size and
 * pipe or memfd; byte 1 the max_record (16..4111); the rest is the
 * stream. The same bytes are then cut on "\n" and fed to a bare struct
 * bb_csv line by line.
 *
 * Invariants: fields are NUL-terminated inside the record's data, raw
 * bytes lie within what was read, line numbers and offsets grow, a
 * record spans at least one line, and the reader ends (each call makes
 * progress).
 */
#include "config.h"

#include "csv.h"
#include "fuzz.h"

static void
check_fields(const struct bb_csv *c)
{
	const char *f;
	size_t i, len;

	FUZZ_CHECK(bb_csv_nfields(c) >= 1);
	for (i = 0; i < bb_csv_nfields(c); i++) {
		f = bb_csv_field(c, i, &len);
		FUZZ_CHECK(f != NULL);
		FUZZ_CHECK(f >= c->data.data && f + len < c->data.data + c->data.len + 1);
		FUZZ_CHECK(f[len] == '\0');
	}
}

/* The bare parser: records from lines, as bb-shard's tests do. */
static void
feed_lines(const char *p, size_t n, char delim, size_t max)
{
	struct bb_csv c;
	struct bb_error err = BB_ERROR_INIT;
	const char *nl, *end = p + n, *eol = "\n";
	size_t len;
	int open = 0, rc;

	bb_csv_init(&c, delim);
	c.max_bytes = max;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (!open)
			bb_csv_begin(&c);
		rc = bb_csv_feed(&c, p, len, eol, &err);
		eol = len > 0 && p[len - 1] == '\r' ? "\r\n" : "\n";
		FUZZ_CHECK(rc >= -1 && rc <= 1);
		if (rc == 1)
			check_fields(&c);
		if (rc < 0)
			FUZZ_CHECK(err.msg[0] != '\0');
		open = rc == 0;
		p += len + (nl != NULL);
	}
	bb_csv_release(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bb_csv_reader *r;
	struct bb_csv_record rec;
	struct bb_error err = BB_ERROR_INIT;
	unsigned b0 = fuzz_byte(data, size, 0), b1 = fuzz_byte(data, size, 1);
	char delim = (b0 & 0x80) ? '\t' : ',';
	size_t max = 16 + (size_t)b1 * 16, hdr = size < 2 ? size : 2, calls = 0;
	uint64_t last_line = 0, last_off = 0;
	int fd, rc, first = 1;

	fd = fuzz_fd(data + hdr, size - hdr, b0 & 0x40);
	if (fd < 0)
		return 0;
	r = bb_csv_reader_open_fd(fd, 1, "fuzz", delim, max, &err);
	if (r == NULL) {
		close(fd);
		return 0;
	}
	if ((b0 & 0x1f) != 0x1f)
		bb_csv_reader_set_read_size(r, (b0 & 0x1f) + 1);
	for (;;) {
		FUZZ_CHECK(++calls <= (bb_csv_reader_is_gzip(r) ? 1100 : 2) * size + 8);
		rc = bb_csv_reader_next(r, &rec, &err);
		if (rc == 0)
			break;
		if (rc < 0) {
			FUZZ_CHECK(err.msg[0] != '\0');
			if (bb_csv_reader_failed(r))
				break;
			continue;
		}
		FUZZ_CHECK(rec.nlines >= 1);
		FUZZ_CHECK(first || rec.lineno > last_line);
		FUZZ_CHECK(first || rec.offset > last_off);
		FUZZ_CHECK(rec.rawlen <= max);
		if (!bb_csv_reader_is_gzip(r)) {
			FUZZ_CHECK(rec.offset + rec.rawlen <= size - hdr);
			FUZZ_CHECK(rec.rawlen == 0 ||
			    rec.raw[0] == (char)data[hdr + rec.offset]);
		}
		check_fields(rec.fields);
		last_line = rec.lineno + rec.nlines - 1;
		last_off = rec.offset;
		first = 0;
	}
	bb_csv_reader_free(r);
	feed_lines((const char *)data + hdr, size - hdr, delim, max);
	return 0;
}
