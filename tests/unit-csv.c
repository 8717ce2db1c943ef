/*
 * unit-csv.c - the RFC 4180 CSV/TSV reader: a table of inputs and the
 * records they give, read through files with every read size from 1 to 31
 * bytes and through gzip; positions and raw bytes of records.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "csv.h"
#include "tap.h"

/* Records are shown as fields joined by '|', each record ended by "$\n";
 * a bad record shows as "!ERR@LINE$\n". */
static const struct {
	const char *name;
	char delim;
	const char *in;
	const char *want;
} cases[] = {
	{ "plain", ',', "a,b,c\n1,2,3\n", "a|b|c$\n1|2|3$\n" },
	{ "no final newline", ',', "a,b\n1,2", "a|b$\n1|2$\n" },
	{ "crlf", ',', "a,b\r\n1,2\r\n", "a|b$\n1|2$\n" },
	{ "empty fields", ',', ",,\na,,\n", "||$\na||$\n" },
	{ "quoted delimiter", ',', "\"a,b\",c\n", "a,b|c$\n" },
	{ "doubled quote", ',', "\"say \"\"hi\"\"\",x\n", "say \"hi\"|x$\n" },
	{ "empty quoted", ',', "\"\",\"\"\n", "|$\n" },
	{ "embedded newline", ',', "\"line1\nline2\",b\nc,d\n", "line1\nline2|b$\nc|d$\n" },
	{ "embedded crlf kept", ',', "\"x\r\ny\",z\r\n", "x\r\ny|z$\n" },
	{ "embedded blank line", ',', "\"a\n\nb\"\n", "a\n\nb$\n" },
	{ "blank lines skipped", ',', "a\n\n\nb\n", "a$\nb$\n" },
	{ "bom dropped", ',', "\xef\xbb\xbfid,text\n1,x\n", "id|text$\n1|x$\n" },
	{ "utf-8 kept", ',', "\xc3\xa9t\xc3\xa9,\xe2\x82\xac\n", "\xc3\xa9t\xc3\xa9|\xe2\x82\xac$\n" },
	{ "quote in unquoted field", ',', "ab\"c,d\nok\n", "!ERR@1$\nok$\n" },
	{ "text after closing quote", ',', "\"ab\"c,d\nok\n", "!ERR@1$\nok$\n" },
	{ "unterminated quote at eof", ',', "a\n\"open\nmore\n", "a$\n!ERR@2$\n" },
	{ "tsv", '\t', "a\tb\n1\t2,3\n", "a|b$\n1|2,3$\n" },
	{ "tsv quoted tab", '\t', "\"a\tb\"\tc\n", "a\tb|c$\n" },
	{ "single column", ',', "x\ny\n", "x$\ny$\n" },
	{ "trailing delimiter", ',', "a,\n", "a|$\n" },
	{ "space kept", ',', " a , b \n", " a | b $\n" },
};

static int
write_file(const char *path, const char *data, size_t n, int gz)
{
	FILE *f;
	gzFile g;

	if (gz) {
		if ((g = gzopen(path, "wb")) == NULL)
			return -1;
		if (n && gzwrite(g, data, (unsigned)n) != (int)n) {
			gzclose(g);
			return -1;
		}
		return gzclose(g) == Z_OK ? 0 : -1;
	}
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	if (fwrite(data, 1, n, f) != n) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static int
read_all(const char *path, char delim, size_t readsz, struct bb_buf *out)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_csv_reader *r;
	struct bb_csv_record rec;
	size_t i, len;
	int n;

	bb_buf_reset(out);
	if ((r = bb_csv_reader_open(path, delim, 0, &err)) == NULL) {
		diag("open: %s", err.msg);
		return -1;
	}
	if (readsz)
		bb_csv_reader_set_read_size(r, readsz);
	while ((n = bb_csv_reader_next(r, &rec, &err)) != 0) {
		if (n < 0) {
			bb_buf_addf(out, "!ERR@%llu$\n", (unsigned long long)rec.lineno);
			if (bb_csv_reader_failed(r))
				break;
			continue;
		}
		for (i = 0; i < bb_csv_nfields(rec.fields); i++) {
			const char *f = bb_csv_field(rec.fields, i, &len);

			if (i)
				bb_buf_addc(out, '|');
			bb_buf_add(out, f, len);
		}
		bb_buf_adds(out, "$\n");
	}
	bb_csv_reader_free(r);
	return 0;
}

int
main(void)
{
	char path[] = "/tmp/bb-unit-csv.XXXXXX";
	struct bb_buf got = BB_BUF_INIT;
	size_t c, rs;
	int fd, gz;

	if ((fd = mkstemp(path)) < 0)
		skip_all("cannot make a temporary file");
	close(fd);

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (gz = 0; gz <= 1; gz++) {
			int all_ok = 1;

			if (write_file(path, cases[c].in, strlen(cases[c].in), gz)) {
				ok(0, "%s: write input", cases[c].name);
				continue;
			}
			read_all(path, cases[c].delim, 0, &got);
			is_str(bb_buf_str(&got), cases[c].want, cases[c].name);
			/* The same records whatever the read size (yajl's trick). */
			for (rs = 1; rs <= 31; rs++) {
				read_all(path, cases[c].delim, rs, &got);
				if (strcmp(bb_buf_str(&got), cases[c].want) != 0) {
					all_ok = 0;
					diag("read size %zu gives:", rs);
					tap_show("got", got.data, got.len);
					break;
				}
			}
			ok(all_ok, "%s%s: read sizes 1..31", cases[c].name, gz ? " (gzip)" : "");
		}
	}

	/* Positions and raw bytes (what rejects files and sidecars copy). */
	{
		const char *in = "h1,h2\r\n\"multi\r\nline\",x\r\n\r\nlast,\"q\"\"\"";
		struct bb_error err = BB_ERROR_INIT;
		struct bb_csv_reader *r;
		struct bb_csv_record rec;

		write_file(path, in, strlen(in), 0);
		r = bb_csv_reader_open(path, ',', 0, &err);
		ok(r != NULL, "open for positions");
		if (r != NULL) {
			ok(bb_csv_reader_is_seekable(r) && !bb_csv_reader_is_gzip(r),
			    "plain file is seekable");
			is_int(bb_csv_reader_next(r, &rec, &err), 1, "header");
			is_int((long long)rec.offset, 0, "header offset");
			is_int(bb_csv_reader_next(r, &rec, &err), 1, "multi-line record");
			is_int((long long)rec.lineno, 2, "multi-line record line");
			is_int((long long)rec.offset, 7, "multi-line record offset");
			is_int((long long)rec.nlines, 2, "multi-line record spans 2 lines");
			is_mem(rec.raw, rec.rawlen, "\"multi\r\nline\",x", 15,
			    "raw bytes keep the embedded CRLF");
			is_int(bb_csv_reader_next(r, &rec, &err), 1, "last record");
			is_int((long long)rec.lineno, 5, "last record line (blank line skipped)");
			is_int((long long)rec.offset, 26, "last record offset");
			is_mem(rec.raw, rec.rawlen, "last,\"q\"\"\"", 10, "last raw");
			is_int(bb_csv_reader_next(r, &rec, &err), 0, "end");
			bb_csv_reader_free(r);
		}
	}

	/* A record over the bound is an error, and reading goes on. */
	{
		struct bb_error err = BB_ERROR_INIT;
		struct bb_csv_reader *r;
		struct bb_csv_record rec;
		const char *in = "a\n\"0123456789\n0123456789\"\nb\n";
		const char *f;

		write_file(path, in, strlen(in), 0);
		r = bb_csv_reader_open(path, ',', 16, &err);
		ok(r != NULL, "open with a 16-byte bound");
		if (r != NULL) {
			is_int(bb_csv_reader_next(r, &rec, &err), 1, "short record");
			is_int(bb_csv_reader_next(r, &rec, &err), -1, "long record is an error");
			ok(strstr(err.msg, "longer") != NULL, "message says longer: %s", err.msg);
			is_int(bb_csv_reader_next(r, &rec, &err), 1, "reading goes on");
			f = bb_csv_field(rec.fields, 0, &rs);
			is_mem(f, rs, "b", 1, "next record");
			bb_csv_reader_free(r);
		}
	}

	/* The parser alone: a record fed line by line. */
	{
		struct bb_error err = BB_ERROR_INIT;
		struct bb_csv csv;
		const char *f;
		size_t len;

		bb_csv_init(&csv, ',');
		is_int(bb_csv_feed(&csv, "\"a", 2, "\n", &err), 0, "open quote continues");
		is_int(bb_csv_feed(&csv, "b\",c", 4, "\r\n", &err), 1, "record ends");
		is_int((long long)bb_csv_nfields(&csv), 2, "two fields");
		f = bb_csv_field(&csv, 0, &len);
		is_mem(f, len, "a\r\nb", 4, "eol of the previous line");
		ok(bb_csv_field(&csv, 2, &len) == NULL, "no third field");
		bb_csv_release(&csv);
	}

	unlink(path);
	bb_buf_release(&got);
	return done_testing();
}
