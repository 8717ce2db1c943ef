/*
 * unit-recordid.c - the recordId rules (recordid.h): generated ids, ids
 * from values (kept, encoded, refused; the Bedrock exception), from JSON
 * values, decoding back to the value, and the set of ids seen.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "recordid.h"
#include "tap.h"

static const struct {
	uint64_t row;
	const char *want;
} gcases[] = {
	{ 0, "r0000000000" },
	{ 1, "r0000000001" },
	{ 9999999999ULL, "r9999999999" },
	{ 10000000000ULL, "r10000000000" },
	{ UINT64_MAX, "r18446744073709551615" },
};

#define V64 "1234567890123456789012345678901234567890123456789012345678901234"
#define A129 V64 V64 "5"

/* value, flags, the id (NULL: refused) and the message when refused */
static const struct {
	const char *in;
	unsigned flags;
	const char *want;
	const char *msg;
} mcases[] = {
	{ "abc123", 0, "abc123", NULL },
	{ "CALL0000001", 0, "CALL0000001", NULL },
	{ "a-b", 0, "x612d62", NULL },
	{ "a b", 0, "x612062", NULL },
	{ "x61", 0, "x783631", NULL },          /* looks encoded: encoded again */
	{ "x6", 0, "x6", NULL },                /* odd number of digits: not encoded */
	{ "xAB", 0, "xAB", NULL },              /* upper-case hex: not encoded */
	{ "x", 0, "x", NULL },
	{ "\xc3\xa9", 0, "xc3a9", NULL },
	{ "r0000000001", 0, "r0000000001", NULL },
	{ V64, 0, V64, NULL },
	{ V64 "5", 0, NULL, "record id longer than 64 bytes" },
	{ "", 0, NULL, "empty record id" },
	{ "", BB_RECORDID_KEEP_ALNUM, NULL, "empty record id" },
	{ "x61", BB_RECORDID_KEEP_ALNUM, "x61", NULL },   /* re-packing changes nothing */
	{ "a-b", BB_RECORDID_KEEP_ALNUM, "x612d62", NULL },
	{ V64 "5", BB_RECORDID_KEEP_ALNUM, V64 "5", NULL },
	{ A129, BB_RECORDID_KEEP_ALNUM, A129, NULL },
	{ A129 "6", BB_RECORDID_KEEP_ALNUM, NULL, "record id longer than 64 bytes" },
	{ V64 "-", BB_RECORDID_KEEP_ALNUM, NULL, "record id longer than 64 bytes" },
};

/* a row, the key, flags, the id or the message */
static const struct {
	const char *row;
	unsigned flags;
	const char *want;
	const char *msg;
} jcases[] = {
	{ "{\"id\":\"a-b\"}", 0, "x612d62", NULL },
	{ "{\"id\":\"abc\",\"x\":1}", 0, "abc", NULL },
	{ "{\"id\":12}", 0, "12", NULL },
	{ "{\"id\":-1.5}", 0, "x2d312e35", NULL },
	{ "{\"id\":\"\\u00e9\"}", 0, "xc3a9", NULL },
	{ "{\"id\":\"x61\"}", 0, "x783631", NULL },
	{ "{\"id\":\"x61\"}", BB_RECORDID_KEEP_ALNUM, "x61", NULL },
	{ "{\"id\":\"" V64 "5\"}", 0, NULL, "record id longer than 64 bytes" },
	{ "{\"id\":\"" V64 "5\"}", BB_RECORDID_KEEP_ALNUM, V64 "5", NULL },
	{ "{\"id\":\"\"}", 0, NULL, "empty record id" },
	{ "{\"id\":null}", 0, NULL, "the id is not a string or a number" },
	{ "{\"id\":[1]}", 0, NULL, "the id is not a string or a number" },
	{ "{\"x\":1}", 0, NULL, "missing the id" },
};

static void
test_generate(void)
{
	char id[BB_RECORDID_GEN_MAX];
	size_t i, n;

	for (i = 0; i < sizeof(gcases) / sizeof(gcases[0]); i++) {
		memset(id, 'z', sizeof(id));
		n = bb_recordid_generate(id, gcases[i].row);
		is_str(id, gcases[i].want, nm("generated id of row %llu",
		    (unsigned long long)gcases[i].row));
		is_int((long long)n, (long long)strlen(gcases[i].want), "its length");
	}
}

static void
test_make(void)
{
	struct bb_buf b = BB_BUF_INIT, d = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		bb_buf_reset(&b);
		bb_buf_adds(&b, "<");   /* appended after what is there */
		bb_error_clear(&err);
		rc = bb_recordid_make(mcases[i].in, strlen(mcases[i].in), mcases[i].flags, &b, &err);
		if (mcases[i].want == NULL) {
			ok(rc == -1 && b.len == 1 && err.kind == BB_ERR_INPUT,
			    "value %zu refused, buffer unchanged", i);
			is_str(err.msg, mcases[i].msg, nm("value %zu: message", i));
			continue;
		}
		is_str(rc ? "<refused>" : bb_buf_str(&b) + 1, mcases[i].want, nm("value %zu", i));
		ok(b.len - 1 <= BB_RECORDID_MAX, "value %zu: at most BB_RECORDID_MAX", i);
		/* decoding gives the value back (unless kept as a Bedrock id) */
		bb_buf_reset(&d);
		ok(bb_recordid_decode(b.data + 1, b.len - 1, &d) == 0, "value %zu decodes", i);
		if (mcases[i].flags == 0)
			is_mem(d.data, d.len, mcases[i].in, strlen(mcases[i].in), "decoded value");
	}
	/* decoding what is not of the encoded form: the value itself */
	bb_buf_reset(&d);
	bb_recordid_decode("x6", 2, &d);
	is_str(bb_buf_str(&d), "x6", "x6 decodes to itself");
	bb_buf_reset(&d);
	bb_recordid_decode("x00ff", 5, &d);
	is_mem(d.data, d.len, "\0\xff", 2, "x00ff decodes to two bytes");
	bb_buf_release(&b);
	bb_buf_release(&d);
}

static void
test_json(void)
{
	static const char *const key[] = { "id" };
	struct bb_buf b = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_json_span sp;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(jcases) / sizeof(jcases[0]); i++) {
		const char *row = jcases[i].row;

		if (!ok(bb_json_fields(row, strlen(row), key, 1, &sp, NULL) == 0, "row %zu parses", i))
			continue;
		bb_buf_reset(&b);
		bb_buf_adds(&b, "<");
		bb_error_clear(&err);
		rc = bb_recordid_from_json(&sp, jcases[i].flags, "the id", &b, &err);
		if (jcases[i].want == NULL) {
			ok(rc == -1 && b.len == 1, "row %zu refused, buffer unchanged", i);
			is_str(err.msg, jcases[i].msg, nm("row %zu: message", i));
		} else {
			is_str(rc ? "<refused>" : bb_buf_str(&b) + 1, jcases[i].want, nm("row %zu", i));
		}
	}
	bb_buf_release(&b);
}

static void
test_set(void)
{
	struct bb_recordid_set set;
	char id[BB_RECORDID_GEN_MAX];
	size_t i, n, fresh = 0, again = 0;

	bb_recordid_set_init(&set);
	for (i = 0; i < 20000; i++) {
		n = bb_recordid_generate(id, i);
		fresh += bb_recordid_set_add(&set, id, n) == 1;
	}
	is_int((long long)fresh, 20000, "20000 distinct ids are new");
	for (i = 0; i < 20000; i += 7) {
		n = bb_recordid_generate(id, i);
		again += bb_recordid_set_add(&set, id, n) == 0;
	}
	is_int((long long)again, (20000 + 6) / 7, "each seen again is a duplicate");
	is_int((long long)set.n, 20000, "the set holds 20000");
	ok(bb_recordid_set_add(&set, "", 0) == 1 && bb_recordid_set_add(&set, "", 0) == 0,
	    "the empty id too");
	bb_recordid_set_release(&set);
	bb_recordid_set_release(&set);   /* safe twice */
	ok(set.slots == NULL && set.n == 0, "released");
}

int
main(void)
{
	test_generate();
	test_make();
	test_json();
	test_set();
	return done_testing();
}
