/*
 * fuzz-ndjson.c - the NDJSON line reader (ndjson.h) and, on every line it
 * returns, the JSON scanner, tree and appender (json.h).
 *
 * Input: byte 0 picks the read(2) size (1..32, or unlimited), pipe or
 * memfd, the flags and how a too-long line is passed over; byte 1 the
 * max_line (8..263); the rest is the stream (gzip magic included, so
 * the inflater is fuzzed too).
 *
 * Invariants checked: returned lines are NUL-terminated, within max_line,
 * numbered 1, 2, 3...; bb_json_validate, bb_json_parse and bb_json_fields
 * agree; write(parse(x)) is a fixed point; appending fields to an object
 * line gives valid JSON; bb_json_add_str gives a string literal that
 * parses back to the same bytes.
 */
#include "config.h"

#include "fuzz.h"
#include "json.h"
#include "ndjson.h"

static const char *const keys[] = { "id", "a", "recordId", "" };
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static void
check_str_roundtrip(const char *s, size_t n)
{
	struct bb_buf lit = BB_BUF_INIT;
	struct bb_json *j = NULL;
	struct bb_error err = BB_ERROR_INIT;

	if (bb_json_add_str(&lit, s, n) < 0) {
		FUZZ_CHECK(!bb_utf8_valid(s, n));
		FUZZ_CHECK(lit.len == 0);
		goto out;
	}
	FUZZ_CHECK(bb_utf8_valid(s, n));
	FUZZ_CHECK(bb_json_parse(lit.data, lit.len, 0, &j, &err) == 0);
	FUZZ_CHECK(j->type == BB_JSON_STRING);
	FUZZ_CHECK(j->len == n && memcmp(j->str, s, n) == 0);
out:
	bb_json_free(j);
	bb_buf_release(&lit);
}

static void
check_spans(const char *text, size_t len, const struct bb_json_span *spans)
{
	struct bb_buf s = BB_BUF_INIT;
	size_t i;
	long long v;

	for (i = 0; i < NKEYS; i++) {
		if (spans[i].p == NULL)
			continue;
		FUZZ_CHECK(spans[i].p >= text && spans[i].p + spans[i].n <= text + len);
		FUZZ_CHECK(bb_json_validate(spans[i].p, spans[i].n, 0, NULL) == 0);
		bb_buf_reset(&s);
		if (spans[i].type == BB_JSON_STRING)
			FUZZ_CHECK(bb_json_span_str(&spans[i], &s) == 0);
		(void)bb_json_span_int(&spans[i], -1000, 1000, &v);
	}
	bb_buf_release(&s);
}

static void
check_append(const char *line, size_t len, int is_object)
{
	struct bb_buf out = BB_BUF_INIT;
	struct bb_json_append a;
	struct bb_error err = BB_ERROR_INIT;

	if (bb_json_append_begin(&a, &out, line, len, &err) < 0)
		goto out;
	(void)bb_json_append_str(&a, "s", line, len > 40 ? 40 : len);
	(void)bb_json_append_int(&a, "n", (long long)len - 20);
	(void)bb_json_append_double(&a, "d", (double)len / 7.0);
	(void)bb_json_append_bool(&a, "b", (int)(len & 1));
	(void)bb_json_append_null(&a, "z");
	(void)bb_json_append_raw(&a, "r", "{\"x\":[1,2]}", 11);
	FUZZ_CHECK(bb_json_append_end(&a) == 0);
	/* A valid object with fields appended is still valid. */
	if (is_object)
		FUZZ_CHECK(bb_json_validate(out.data, out.len, 1024, &err) == 0);
out:
	bb_buf_release(&out);
}

static void
check_line(const char *line, size_t len)
{
	struct bb_json_span spans[NKEYS];
	struct bb_error err = BB_ERROR_INIT;
	struct bb_json *j = NULL, *j2 = NULL;
	struct bb_buf w1 = BB_BUF_INIT, w2 = BB_BUF_INIT;
	int valid, parsed, fields;

	valid = bb_json_validate(line, len, 0, &err) == 0;
	parsed = bb_json_parse(line, len, 0, &j, &err) == 0;
	FUZZ_CHECK(valid == parsed);
	fields = bb_json_fields(line, len, keys, NKEYS, spans, &err) == 0;
	if (fields) {
		/* fields has its own depth bound: compare with the largest */
		FUZZ_CHECK(bb_json_validate(line, len, 1024, NULL) == 0);
		FUZZ_CHECK(!parsed || j->type == BB_JSON_OBJECT);
		check_spans(line, len, spans);
	}
	if (parsed) {
		(void)bb_json_get(j, "id");
		(void)bb_json_str(bb_json_path(j, "a.0.b"));
		FUZZ_CHECK(bb_json_write(j, &w1) == 0);
		FUZZ_CHECK(bb_json_parse(w1.data, w1.len, 0, &j2, &err) == 0);
		FUZZ_CHECK(bb_json_write(j2, &w2) == 0);
		FUZZ_CHECK(w1.len == w2.len && memcmp(w1.data, w2.data, w1.len) == 0);
	}
	check_append(line, len, parsed && j->type == BB_JSON_OBJECT);
	check_str_roundtrip(line, len);
	bb_json_free(j);
	bb_json_free(j2);
	bb_buf_release(&w1);
	bb_buf_release(&w2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bb_ndjson *r;
	struct bb_ndjson_line line;
	struct bb_error err = BB_ERROR_INIT;
	unsigned b0 = fuzz_byte(data, size, 0), b1 = fuzz_byte(data, size, 1);
	unsigned flags = 0;
	size_t max_line = 8 + b1, hdr = size < 2 ? size : 2, calls = 0;
	uint64_t last = 0, bad;
	const char *at;
	int fd, rc;

	if (b0 & 0x20)
		flags |= BB_NDJSON_SKIP_BLANK;
	if ((b0 & 0xc0) == 0xc0)
		flags |= BB_NDJSON_NO_GZIP;
	fd = fuzz_fd(data + hdr, size - hdr, b0 & 0x40);
	if (fd < 0)
		return 0;
	r = bb_ndjson_open_fd(fd, 1, "fuzz", max_line, flags, &err);
	if (r == NULL) {
		close(fd);
		return 0;
	}
	if ((b0 & 0x1f) != 0x1f)
		bb_ndjson_set_read_size(r, (b0 & 0x1f) + 1);
	for (;;) {
		/* Every call consumes input or ends (gzip: inflated, at most
		 * ~1032 times larger): bound the loop anyway. */
		FUZZ_CHECK(++calls <= (bb_ndjson_is_gzip(r) ? 1100 : 2) * size + 8);
		rc = bb_ndjson_next(r, &line, &err);
		if (rc == 0)
			break;
		if (rc < 0) {
			FUZZ_CHECK(err.msg[0] != '\0');
			if (bb_ndjson_failed(r))
				break;
			/* "... (at fuzz:N)": the bad line is counted */
			at = strstr(err.msg, "(at fuzz:");
			FUZZ_CHECK(at != NULL);
			bad = strtoull(at + 9, NULL, 10);
			FUZZ_CHECK(bad > last);
			last = bad;
			if ((b0 & 0x80) && bb_ndjson_skip_line(r, &err) < 0 && bb_ndjson_failed(r))
				break;
			continue;
		}
		FUZZ_CHECK(line.data[line.len] == '\0');
		FUZZ_CHECK(line.len <= max_line);
		FUZZ_CHECK(line.lineno > last);
		FUZZ_CHECK(!(flags & BB_NDJSON_SKIP_BLANK) || line.len > 0);
		last = line.lineno;
		check_line(line.data, line.len);
	}
	bb_ndjson_free(r);
	return 0;
}
