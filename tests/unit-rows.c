/*
 * unit-rows.c - re-reading a shard's rows from its source (rows.h):
 * source lines, record ids, path regions of JSONL and CSV files, gzip
 * sidecars, regions that no longer match their file.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "json.h"
#include "rows.h"
#include "tap.h"

static char dir[] = "/tmp/unit-rows.XXXXXX";

static char *
write_file(const char *name, const char *text)
{
	static char path[4][512];
	static int k;
	char *p = path[k++ % 4];
	FILE *f;

	snprintf(p, 512, "%s/%s", dir, name);
	f = fopen(p, "wb");
	fputs(text, f);
	fclose(f);
	return p;
}

/* ---- source lines ---- */

static void
test_source(void)
{
	static const struct { const char *json; int ok; } t[] = {
		{ "{\"path\":\"/x/rows.jsonl\",\"offset\":112,\"bytes\":108,\"rows\":5,"
		  "\"first_row\":5,\"first_line\":5,\"format\":\"jsonl\"}", 1 },
		{ "{\"sidecar\":\"/x/p-00001.rows.jsonl.gz\",\"rows\":4,\"first_row\":1,"
		  "\"first_line\":1,\"format\":\"jsonl\",\"id_field\":\"custom_id\"}", 1 },
		{ "{\"path\":\"/x/r.csv\",\"offset\":0,\"bytes\":9,\"rows\":1,\"format\":\"csv\"}", 1 },
		{ "{\"path\":\"/x\",\"sidecar\":\"/y\",\"bytes\":1,\"rows\":1}", 0 },
		{ "{\"rows\":1}", 0 },
		{ "{\"path\":\"/x\",\"rows\":1}", 0 },
		{ "{\"path\":\"/x\",\"bytes\":1}", 0 },
		{ "{\"path\":\"/x\",\"bytes\":1,\"rows\":-1}", 0 },
		{ "{\"path\":\"/x\",\"bytes\":1,\"rows\":1,\"format\":\"xml\"}", 0 },
		{ "{\"path\":7,\"bytes\":1,\"rows\":1}", 0 },
		{ "{\"path\":\"/x\",\"bytes\":1,\"rows\":1,\"id_field\":\"\"}", 0 },
		{ "[]", 0 },
	};
	struct bb_rows_source s;
	struct bb_error err = BB_ERROR_INIT;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = bb_rows_source_parse(t[i].json, strlen(t[i].json), &s, &err);
		char name[64];

		snprintf(name, sizeof(name), "source %zu %s", i, t[i].ok ? "read" : "refused");
		ok((rc == 0) == t[i].ok, "%s (%s)", name, rc ? err.msg : "");
		if (rc == 0)
			bb_rows_source_release(&s);
	}
	bb_rows_source_parse(t[0].json, strlen(t[0].json), &s, NULL);
	ok(s.path && strcmp(s.path, "/x/rows.jsonl") == 0 && s.sidecar == NULL &&
	    s.offset == 112 && s.bytes == 108 && s.rows == 5 && s.first_row == 5 &&
	    s.first_line == 5 && s.format == BB_ROWS_JSONL && s.id_field == NULL,
	    "source: every field of a path source");
	bb_rows_source_release(&s);
	bb_rows_source_parse(t[1].json, strlen(t[1].json), &s, NULL);
	ok(s.sidecar && s.path == NULL && s.id_field && strcmp(s.id_field, "custom_id") == 0,
	    "source: a sidecar with an id field");
	bb_rows_source_release(&s);
}

/* ---- ids ---- */

/* The ids of every row of a source, "id;" each ("BAD;" for a bad row). */
static int
read_ids(const char *srcjson, struct bb_buf *out, struct bb_error *err)
{
	struct bb_rows_source s;
	struct bb_rows *r;
	struct bb_rows_row row;
	int n;

	bb_buf_reset(out);
	if (bb_rows_source_parse(srcjson, strlen(srcjson), &s, err))
		return -1;
	if ((r = bb_rows_open(&s, 0, err)) == NULL) {
		bb_rows_source_release(&s);
		return -1;
	}
	while ((n = bb_rows_next(r, &row, err)) > 0) {
		bb_buf_adds(out, row.bad ? "BAD" : row.id);
		bb_buf_addc(out, ';');
	}
	bb_rows_free(r);
	bb_rows_source_release(&s);
	return n;
}

/* Read path (n rows) as format with id_field; compare the ids with want. */
static void
check_ids(const char *path, size_t n, const char *format, const char *field,
    const char *want, const char *what)
{
	struct bb_buf src = BB_BUF_INIT, got = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	size_t off = strcmp(format, "csv") == 0 ? 5 : 0;   /* the header "id,n\n" */
	FILE *f = fopen(path, "rb");
	long size;
	int rc;

	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	bb_buf_addf(&src, "{\"path\":\"%s\",\"offset\":%zu,\"bytes\":%ld,\"rows\":%zu,"
	    "\"first_row\":1,\"format\":\"%s\",\"id_field\":\"%s\"}", path, off,
	    size - (long)off, n, format, field);
	rc = read_ids(src.data, &got, &err);
	ok(rc == 0, "ids %s: read (%s)", what, err.msg);
	is_str(bb_buf_str(&got), want, what);
	bb_buf_release(&src);
	bb_buf_release(&got);
}

/*
 * The ids the reader gives are recordid.h's: each value of the table as a
 * JSON string at the top and at a dotted path, as a Bedrock recordId
 * (kept when alphanumeric), as a CSV field; raw JSON values (numbers,
 * escapes, values that cannot be ids) in a second table. A refused value
 * gives an empty id.
 */
static void
test_ids(void)
{
	static const struct { const char *in, *want, *want_br; } t[] = {
		{ "abc123", "abc123", "abc123" },
		{ "CALL0000001", "CALL0000001", "CALL0000001" },
		{ "a-b", "x612d62", "x612d62" },
		{ "x61", "x783631", "x61" },      /* looks encoded: encoded again */
		{ "x6", "x6", "x6" },             /* even length after x: not encoded */
		{ "\xc3\xa9", "xc3a9", "xc3a9" },
		{ "1234567890123456789012345678901234567890123456789012345678901234",
		  "1234567890123456789012345678901234567890123456789012345678901234",
		  "1234567890123456789012345678901234567890123456789012345678901234" },
		{ "12345678901234567890123456789012345678901234567890123456789012345", "",
		  "12345678901234567890123456789012345678901234567890123456789012345" },
		{ "1234567890123456789012345678901234567890123456789012345678901234-", "",
		  "" },             /* 65 bytes, not alphanumeric */
		{ "", "", "" },
	};
	/* nested: also tried at a dotted path, where a value that is neither a
	 * string nor a number counts as absent (the generated id) */
	static const struct { const char *json, *want; int nested; } v[] = {
		{ "7", "7", 1 },
		{ "-3", "x2d33", 1 },
		{ "1.5e3", "x312e356533", 1 },
		{ "\"a\\u002db\"", "x612d62", 1 },
		{ "\"\\u00e9\"", "xc3a9", 1 },
		{ "null", "", 0 },
		{ "true", "", 0 },
		{ "{}", "", 0 },
		{ "[\"a\"]", "", 0 },
	};
	struct bb_buf js = BB_BUF_INIT, nest = BB_BUF_INIT, br = BB_BUF_INIT, csv = BB_BUF_INIT;
	struct bb_buf want = BB_BUF_INIT, want_br = BB_BUF_INIT;
	char *p;
	size_t i, k, nt = sizeof(t) / sizeof(t[0]), nv = sizeof(v) / sizeof(v[0]);

	bb_buf_adds(&csv, "id,n\n");
	for (i = 0; i < nt; i++) {
		bb_buf_adds(&js, "{\"id\":");
		bb_json_add_str(&js, t[i].in, strlen(t[i].in));
		bb_buf_adds(&js, "}\n");
		bb_buf_adds(&nest, "{\"m\":{\"id\":");
		bb_json_add_str(&nest, t[i].in, strlen(t[i].in));
		bb_buf_adds(&nest, "}}\n");
		bb_buf_adds(&br, "{\"recordId\":");
		bb_json_add_str(&br, t[i].in, strlen(t[i].in));
		bb_buf_adds(&br, ",\"modelInput\":{}}\n");
		bb_buf_addf(&csv, "%s,%zu\n", t[i].in, i);
		bb_buf_addf(&want, "%s;", t[i].want);
		bb_buf_addf(&want_br, "%s;", t[i].want_br);
	}
	p = write_file("ids.jsonl", bb_buf_str(&js));
	check_ids(p, nt, "jsonl", "id", bb_buf_str(&want), "JSON strings");
	p = write_file("ids-nested.jsonl", bb_buf_str(&nest));
	check_ids(p, nt, "jsonl", "m.id", bb_buf_str(&want), "JSON strings at a dotted path");
	p = write_file("ids-bedrock.jsonl", bb_buf_str(&br));
	check_ids(p, nt, "bedrock", "recordId", bb_buf_str(&want_br), "Bedrock recordIds");
	p = write_file("ids.csv", bb_buf_str(&csv));
	check_ids(p, nt, "csv", "id", bb_buf_str(&want), "CSV fields");

	bb_buf_reset(&js);
	bb_buf_reset(&nest);
	bb_buf_reset(&want);
	bb_buf_reset(&want_br);
	for (i = 0, k = 0; i < nv; i++) {
		bb_buf_addf(&js, "{\"id\":%s}\n", v[i].json);
		bb_buf_addf(&want, "%s;", v[i].want);
		if (v[i].nested) {
			bb_buf_addf(&nest, "{\"m\":{\"id\":%s}}\n", v[i].json);
			bb_buf_addf(&want_br, "%s;", v[i].want);
			k++;
		}
	}
	p = write_file("ids.jsonl", bb_buf_str(&js));
	check_ids(p, nv, "jsonl", "id", bb_buf_str(&want), "JSON values");
	p = write_file("ids-nested.jsonl", bb_buf_str(&nest));
	check_ids(p, k, "jsonl", "m.id", bb_buf_str(&want_br), "JSON values at a dotted path");

	unlink(write_file("ids.jsonl", ""));
	unlink(write_file("ids-nested.jsonl", ""));
	unlink(write_file("ids-bedrock.jsonl", ""));
	unlink(write_file("ids.csv", ""));
	bb_buf_release(&js);
	bb_buf_release(&nest);
	bb_buf_release(&br);
	bb_buf_release(&csv);
	bb_buf_release(&want);
	bb_buf_release(&want_br);
}

/* ---- reading ---- */

/* Read every row of a source into "id|json|raw;" strings. */
static int
read_all(const char *srcjson, struct bb_buf *out, struct bb_error *err)
{
	struct bb_rows_source s;
	struct bb_rows *r;
	struct bb_rows_row row;
	int n;

	bb_buf_reset(out);
	if (bb_rows_source_parse(srcjson, strlen(srcjson), &s, err))
		return -1;
	r = bb_rows_open(&s, 0, err);
	if (r == NULL) {
		bb_rows_source_release(&s);
		return -1;
	}
	while ((n = bb_rows_next(r, &row, err)) > 0) {
		bb_buf_addf(out, "%llu:%s|", (unsigned long long)row.row, row.bad ? "BAD" :
		    row.id);
		bb_buf_add(out, row.json, row.jsonlen);
		bb_buf_addc(out, '|');
		bb_buf_add(out, row.raw, row.rawlen);
		bb_buf_addf(out, "@%llu;", (unsigned long long)row.lineno);
	}
	bb_rows_free(r);
	bb_rows_source_release(&s);
	return n;
}

static void
test_jsonl(void)
{
	/* offsets: line 1 at 0 (7 bytes and \n), the blank line at 8, line 3 at 9 */
	const char *text = "{\"a\":1}\n\n{\"a\":2,\"id\":\"k-1\"}\n{bad\n{\"a\":3,\"id\":7}\n";
	char *p = write_file("rows.jsonl", text);
	struct bb_buf out = BB_BUF_INIT, src = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	int rc;

	bb_buf_addf(&src, "{\"path\":\"%s\",\"offset\":9,\"bytes\":%zu,\"rows\":3,"
	    "\"first_row\":2,\"first_line\":3,\"format\":\"jsonl\"}", p, strlen(text) - 1 - 9);
	rc = read_all(src.data, &out, &err);
	ok(rc == 0, "jsonl region read (%s)", err.msg);
	is_str(bb_buf_str(&out), "2:r0000000002|{\"a\":2,\"id\":\"k-1\"}|{\"a\":2,\"id\":\"k-1\"}@3;"
	    "3:r0000000003|{bad|{bad@4;"
	    "4:r0000000004|{\"a\":3,\"id\":7}|{\"a\":3,\"id\":7}@5;", "jsonl rows, generated ids");

	bb_buf_reset(&src);
	bb_buf_addf(&src, "{\"path\":\"%s\",\"offset\":9,\"bytes\":%zu,\"rows\":3,"
	    "\"first_row\":2,\"first_line\":3,\"format\":\"jsonl\",\"id_field\":\"id\"}", p,
	    strlen(text) - 1 - 9);
	rc = read_all(src.data, &out, &err);
	is_str(bb_buf_str(&out), "2:x6b2d31|{\"a\":2,\"id\":\"k-1\"}|{\"a\":2,\"id\":\"k-1\"}@3;"
	    "3:|{bad|{bad@4;"
	    "4:7|{\"a\":3,\"id\":7}|{\"a\":3,\"id\":7}@5;", "jsonl rows, ids from a field");

	/* the region says more rows than the file has */
	bb_buf_reset(&src);
	bb_buf_addf(&src, "{\"path\":\"%s\",\"offset\":9,\"bytes\":%zu,\"rows\":4,"
	    "\"first_row\":2,\"format\":\"jsonl\"}", p, strlen(text) - 1 - 9);
	rc = read_all(src.data, &out, &err);
	ok(rc == -1 && strstr(err.msg, "has 3 rows where the shard's source has 4"),
	    "short region is an error (%s)", err.msg);

	/* the file grew a row inside the region: past its end */
	bb_buf_reset(&src);
	bb_buf_addf(&src, "{\"path\":\"%s\",\"offset\":9,\"bytes\":5,\"rows\":2,"
	    "\"first_row\":2,\"format\":\"jsonl\"}", p);
	rc = read_all(src.data, &out, &err);
	ok(rc == -1 && strstr(err.msg, "changed since it was sharded"),
	    "a row past the region is an error (%s)", err.msg);

	unlink(p);
	bb_buf_reset(&src);
	bb_buf_addf(&src, "{\"path\":\"%s\",\"offset\":0,\"bytes\":5,\"rows\":1}", p);
	rc = read_all(src.data, &out, &err);
	ok(rc == -1 && strstr(err.msg, "cannot open"), "a missing file (%s)", err.msg);
	bb_buf_release(&out);
	bb_buf_release(&src);
}

/* bb_rows_peek_id: the ids of the rows ahead, known only when generated */
static void
test_peek(void)
{
	const char *text = "{\"a\":1}\n{bad\n\n{\"a\":3,\"id\":\"x\"}\n{\"a\":4}\n";
	char *p = write_file("peek.jsonl", text);
	struct bb_buf src = BB_BUF_INIT, want = BB_BUF_INIT;
	struct bb_rows_source s;
	struct bb_rows *r;
	struct bb_rows_row row;
	char id1[BB_ROWS_PEEK_MAX], id2[BB_ROWS_PEEK_MAX];
	size_t n1, n2, k = 0;
	int bad = 0, n;

	bb_buf_addf(&src, "{\"path\":\"%s\",\"offset\":0,\"bytes\":%zu,\"rows\":4,"
	    "\"first_row\":99999,\"format\":\"jsonl\"}", p, strlen(text));
	if (!ok(bb_rows_source_parse(src.data, src.len, &s, NULL) == 0 &&
	    (r = bb_rows_open(&s, 0, NULL)) != NULL, "peek: region opened"))
		goto out;
	ok(bb_rows_peek_id(r, 0, id1) == 0, "peek: 0 rows ahead is not a row");
	for (;;) {
		n1 = bb_rows_peek_id(r, 1, id1);
		n2 = bb_rows_peek_id(r, 2, id2);
		if ((n = bb_rows_next(r, &row, NULL)) <= 0)
			break;
		bb_buf_reset(&want);
		bb_buf_addf(&want, "r%010zu", 99999 + k);
		if (n1 != want.len || memcmp(id1, want.data, n1) != 0 ||
		    (!row.bad && (row.idlen != n1 || memcmp(row.id, id1, n1) != 0)))
			bad++;
		bb_buf_reset(&want);
		bb_buf_addf(&want, "r%010zu", 99999 + k + 1);
		if (k + 1 < 4 ? (n2 != want.len || memcmp(id2, want.data, n2) != 0) : n2 != 0)
			bad++;
		k++;
	}
	is_int(bad, 0, "peek: the next and the one after, rejected rows counted");
	ok(n == 0 && k == 4 && n1 == 0, "peek: nothing after the last row");
	is_str(row.id ? row.id : "(none)", "(none)", "peek: the end");
	bb_rows_free(r);
	bb_rows_source_release(&s);

	bb_buf_reset(&src);
	bb_buf_addf(&src, "{\"path\":\"%s\",\"offset\":0,\"bytes\":%zu,\"rows\":4,"
	    "\"format\":\"jsonl\",\"id_field\":\"id\"}", p, strlen(text));
	if (bb_rows_source_parse(src.data, src.len, &s, NULL) == 0 &&
	    (r = bb_rows_open(&s, 0, NULL)) != NULL) {
		ok(bb_rows_peek_id(r, 1, id1) == 0, "peek: unknown with an id field");
		bb_rows_free(r);
		bb_rows_source_release(&s);
	} else {
		ok(0, "peek: region with an id field opened");
	}
out:
	unlink(p);
	bb_buf_release(&src);
	bb_buf_release(&want);
}

static void
test_csv(void)
{
	const char *text = "id,text\r\nA1,\"x, \"\"y\"\"\nz\"\r\nA2,plain\r\nb\"ad,q\r\nA3,\xc3\xa9\r\n";
	char *p = write_file("rows.csv", text);
	struct bb_buf out = BB_BUF_INIT, src = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	size_t off = strlen("id,text\r\n");
	int rc;

	bb_buf_addf(&src, "{\"path\":\"%s\",\"offset\":%zu,\"bytes\":%zu,\"rows\":4,"
	    "\"first_row\":1,\"first_line\":2,\"format\":\"csv\",\"id_field\":\"id\"}", p, off,
	    strlen(text) - off - 2);
	rc = read_all(src.data, &out, &err);
	ok(rc == 0, "csv region read (%s)", err.msg);
	is_str(bb_buf_str(&out),
	    "1:A1|{\"id\":\"A1\",\"text\":\"x, \\\"y\\\"\\nz\"}|A1,\"x, \"\"y\"\"\nz\"@2;"
	    "2:A2|{\"id\":\"A2\",\"text\":\"plain\"}|A2,plain@4;"
	    "3:BAD||b\"ad,q@5;"
	    "4:A3|{\"id\":\"A3\",\"text\":\"\xc3\xa9\"}|A3,\xc3\xa9@6;",
	    "csv rows: quoted line breaks, a bad record, ids from a column");
	{
		struct bb_rows_source s;
		struct bb_rows *r;
		size_t hl;
		const char *h;

		bb_rows_source_parse(src.data, src.len, &s, NULL);
		r = bb_rows_open(&s, 0, NULL);
		h = r ? bb_rows_header(r, &hl) : NULL;
		ok(h != NULL && hl == 7 && memcmp(h, "id,text", 7) == 0 && bb_rows_ncols(r) == 2 &&
		    strcmp(bb_rows_col(r, 1), "text") == 0, "csv header and column names");
		bb_rows_free(r);
		bb_rows_source_release(&s);
	}
	bb_buf_release(&out);
	bb_buf_release(&src);
}

static void
test_sidecar(void)
{
	char path[512];
	gzFile gz;
	struct bb_buf out = BB_BUF_INIT, src = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	int rc;

	snprintf(path, sizeof(path), "%s/p-00001.rows.jsonl.gz", dir);
	gz = gzopen(path, "wb");
	gzputs(gz, "{\"custom_id\":\"req-1\",\"body\":{}}\nnull\n{\"custom_id\":\"r2\"}\n");
	gzclose(gz);
	bb_buf_addf(&src, "{\"sidecar\":\"%s\",\"rows\":3,\"first_row\":10,\"first_line\":12,"
	    "\"format\":\"jsonl\",\"id_field\":\"custom_id\"}", path);
	rc = read_all(src.data, &out, &err);
	ok(rc == 0, "sidecar read (%s)", err.msg);
	is_str(bb_buf_str(&out), "10:x7265712d31|{\"custom_id\":\"req-1\",\"body\":{}}|"
	    "{\"custom_id\":\"req-1\",\"body\":{}}@0;"
	    "11:|null|null@0;"
	    "12:r2|{\"custom_id\":\"r2\"}|{\"custom_id\":\"r2\"}@0;", "sidecar rows and ids");
	unlink(path);
	bb_buf_release(&out);
	bb_buf_release(&src);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		skip_all("cannot create a temporary directory");
	test_source();
	test_ids();
	test_jsonl();
	test_peek();
	test_csv();
	test_sidecar();
	unlink(write_file("rows.csv", ""));
	rmdir(dir);
	return done_testing();
}
