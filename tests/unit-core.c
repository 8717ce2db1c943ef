/* unit-core.c - buffers, errors, option parsing, escaping. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "msg.h"
#include "tap.h"

static void
test_buf(void)
{
	struct bb_buf b = BB_BUF_INIT;
	size_t i, len;
	char *p;

	is_str(bb_buf_str(&b), "", "empty buffer reads as \"\"");
	for (i = 0; i < 1000; i++)
		bb_buf_addc(&b, (char)('a' + i % 26));
	is_int((long long)b.len, 1000, "1000 single-byte appends");
	ok(b.data[1000] == '\0', "always NUL-terminated");
	bb_buf_reset(&b);
	bb_buf_addf(&b, "%s-%d-%0300d", "x", 42, 7);
	is_int((long long)b.len, 5 + 300, "addf grows past its first guess");
	bb_buf_add(&b, "\0z", 2);
	is_int((long long)b.len, 307, "binary bytes kept");
	p = bb_buf_detach(&b, &len);
	ok(p != NULL && len == 307 && b.data == NULL && b.len == 0, "detach hands over");
	free(p);
	{
		size_t out;
		ok(bb_size_add(SIZE_MAX, 1, &out) == -1 && errno == EOVERFLOW, "st_add overflow");
		ok(bb_size_mul(SIZE_MAX / 2, 3, &out) == -1, "st_mult overflow");
		ok(bb_size_mul(0, 3, &out) == 0 && out == 0, "st_mult by zero");
	}
}

static void
test_error(void)
{
	struct bb_error e = BB_ERROR_INIT;

	ok(bb_error_set(&e, BB_ERR_INPUT, "bad %s", "row") == -1, "set returns -1");
	is_str(e.msg, "bad row", "message formatted");
	bb_error_prefix(&e, "at %s:%d", "f", 3);
	is_str(e.msg, "at f:3: bad row", "prefix");
	errno = ENOENT;
	bb_error_errno(&e, "cannot open '%s'", "x");
	is_str(e.msg, "cannot open 'x': No such file or directory", "errno text");
	ok(bb_error_set(NULL, BB_ERR_INPUT, "ignored") == -1, "NULL error allowed");
}

static void
test_parse(void)
{
	long long v;
	uint64_t sz;
	double d;

	ok(bb_parse_int("42", 0, 100, &v) == 0 && v == 42, "int");
	ok(bb_parse_int("42x", 0, 100, &v) == -1, "int trailing junk refused");
	ok(bb_parse_int("", 0, 100, &v) == -1, "int empty refused");
	ok(bb_parse_int("101", 0, 100, &v) == -1, "int out of range");
	ok(bb_parse_int("99999999999999999999", 0, 100, &v) == -1, "int overflow");
	ok(bb_parse_size("64MiB", &sz) == 0 && sz == 64ULL << 20, "size MiB");
	ok(bb_parse_size("1GB", &sz) == 0 && sz == 1000000000ULL, "size GB");
	ok(bb_parse_size("500", &sz) == 0 && sz == 500, "size plain");
	ok(bb_parse_size("5X", &sz) == -1, "size bad unit");
	ok(bb_parse_size("-5", &sz) == -1, "size negative");
	ok(bb_parse_size("99999999999TiB", &sz) == -1, "size overflow");
	ok(bb_parse_duration("1.5h", &d) == 0 && d == 5400, "duration h");
	ok(bb_parse_duration("90", &d) == 0 && d == 90, "duration plain");
	ok(bb_parse_duration("10x", &d) == -1, "duration bad unit");
	ok(bb_parse_double("0.5", 0, 1, &d) == 0 && d == 0.5, "double");
	ok(bb_parse_double("nan", 0, 1, &d) == -1, "double nan refused");
}

static void
test_escape(void)
{
	struct bb_buf b = BB_BUF_INIT;

	bb_msg_escape(&b, "a\nb\x1b[31m\xff caf\xc3\xa9 \xc2\x85", 18);
	is_str(bb_buf_str(&b), "a\\nb\\x1b[31m\\xff caf\xc3\xa9 \\u0085",
	    "control bytes, bad UTF-8 and C1 escaped, good UTF-8 kept");
	bb_buf_release(&b);
}

int
main(void)
{
	test_buf();
	test_error();
	test_parse();
	test_escape();
	return done_testing();
}
