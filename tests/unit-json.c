/*
 * unit-json.c - the JSON module: the validating scanner on valid and invalid
 * corpora (each verdict also compared with yajl's, and a mutation fuzz that
 * checks the scanner never accepts what yajl rejects), top-level field
 * spans and duplicate keys, string escaping, numbers, appending fields to
 * lines, the tree, and round trips parse -> write.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "buf.h"
#include "json.h"
#include "tap.h"

/* yajl's verdict with the settings the notes ask for: 1 when it accepts. */
static int
yajl_accepts(const char *s, size_t n)
{
	yajl_handle h = yajl_alloc(NULL, NULL, NULL);
	int good;

	good = yajl_parse(h, (const unsigned char *)s, n) == yajl_status_ok &&
	    yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	return good;
}

struct vcase {
	const char *text;
	size_t len;          /* 0: strlen */
	const char *msg;     /* NULL: valid */
	int yajl_ok;         /* yajl accepts it (where we are stricter) */
};

#define L(lit) lit, sizeof(lit) - 1

static const struct vcase vcases[] = {
	/* valid */
	{ "{}", 0, NULL, 1 },
	{ "[]", 0, NULL, 1 },
	{ "0", 0, NULL, 1 },
	{ "-0", 0, NULL, 1 },
	{ "1.5e+10", 0, NULL, 1 },
	{ "-1.0E-2", 0, NULL, 1 },
	{ "123456789012345678901234567890", 0, NULL, 1 },
	{ "1e999", 0, NULL, 1 },
	{ "\"\"", 0, NULL, 1 },
	{ "true", 0, NULL, 1 },
	{ "false", 0, NULL, 1 },
	{ "null", 0, NULL, 1 },
	{ " \t\r\n{\"a\" : [ 1 , {\"b\":null} ] }\n ", 0, NULL, 1 },
	{ "\"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\"", 0, NULL, 1 },
	{ "\"\xc3\xa9\xe6\x9d\xb1\xe4\xba\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"", 0, NULL, 1 },
	{ "\"\x7f\"", 0, NULL, 1 },
	{ "{\"\":\"\"}", 0, NULL, 1 },
	{ "[[[[]],{}]]", 0, NULL, 1 },
	{ "{\"a\":1,\"a\":2}", 0, NULL, 1 },
	{ "\"a long string of plain ascii text, more than eight bytes\"", 0, NULL, 1 },
	/* invalid, and yajl agrees */
	{ "", 0, "invalid JSON at column 1: unexpected end of text", 0 },
	{ "   ", 0, "invalid JSON at column 4: unexpected end of text", 0 },
	{ "{", 0, "invalid JSON at column 2: unexpected end of text", 0 },
	{ "{\"a\"", 0, "invalid JSON at column 5: unexpected end of text", 0 },
	{ "{\"a\":", 0, "invalid JSON at column 6: unexpected end of text", 0 },
	{ "{\"a\":1", 0, "invalid JSON at column 7: unexpected end of text", 0 },
	{ "[1,", 0, "invalid JSON at column 4: unexpected end of text", 0 },
	{ "[1,]", 0, "invalid JSON at column 4: trailing comma", 0 },
	{ "{\"a\":1,}", 0, "invalid JSON at column 8: trailing comma", 0 },
	{ "[1 2]", 0, "invalid JSON at column 4: expected ',' or ']'", 0 },
	{ "{\"a\" 1}", 0, "invalid JSON at column 6: expected ':'", 0 },
	{ "{1:2}", 0, "invalid JSON at column 2: expected a string key", 0 },
	{ "{]", 0, "invalid JSON at column 2: expected a string key", 0 },
	{ "[}", 0, "invalid JSON at column 2: unexpected character", 0 },
	{ "[1}", 0, "invalid JSON at column 3: expected ',' or ']'", 0 },
	{ "{\"a\":1]", 0, "invalid JSON at column 7: expected ',' or '}'", 0 },
	{ "01", 0, "invalid JSON at column 2: trailing characters after the value", 0 },
	{ "[01]", 0, "invalid JSON at column 3: expected ',' or ']'", 0 },
	{ "-01", 0, "invalid JSON at column 3: trailing characters after the value", 0 },
	{ "1.", 0, "invalid JSON at column 3: unexpected end of text", 0 },
	{ "[1.]", 0, "invalid JSON at column 4: invalid number", 0 },
	{ "1.e5", 0, "invalid JSON at column 3: invalid number", 0 },
	{ "-", 0, "invalid JSON at column 2: unexpected end of text", 0 },
	{ "-a", 0, "invalid JSON at column 2: invalid number", 0 },
	{ "1e", 0, "invalid JSON at column 3: unexpected end of text", 0 },
	{ "[1e+]", 0, "invalid JSON at column 5: invalid number", 0 },
	{ ".5", 0, "invalid JSON at column 1: unexpected character", 0 },
	{ "+1", 0, "invalid JSON at column 1: unexpected character", 0 },
	{ "NaN", 0, "invalid JSON at column 1: unexpected character", 0 },
	{ "[nan]", 0, "invalid JSON at column 3: unexpected character", 0 },
	{ "-Infinity", 0, "invalid JSON at column 2: invalid number", 0 },
	{ "tru", 0, "invalid JSON at column 4: unexpected end of text", 0 },
	{ "trux", 0, "invalid JSON at column 4: unexpected character", 0 },
	{ "True", 0, "invalid JSON at column 1: unexpected character", 0 },
	{ "falsey", 0, "invalid JSON at column 6: trailing characters after the value", 0 },
	{ "[nul]", 0, "invalid JSON at column 5: unexpected character", 0 },
	{ "\"abc", 0, "invalid JSON at column 5: unexpected end of text", 0 },
	{ "\"abc\\", 0, "invalid JSON at column 6: unexpected end of text", 0 },
	{ "\"\\x\"", 0, "invalid JSON at column 2: invalid escape in string", 0 },
	{ "\"\\'\"", 0, "invalid JSON at column 2: invalid escape in string", 0 },
	{ "\"\\u12\"", 0, "invalid JSON at column 6: invalid \\u escape", 0 },
	{ "\"\\u12", 0, "invalid JSON at column 6: unexpected end of text", 0 },
	{ "\"\\uzzzz\"", 0, "invalid JSON at column 4: invalid \\u escape", 0 },
	{ "\"a\tb\"", 0, "invalid JSON at column 3: unescaped control character in string", 0 },
	{ "\"a\nb\"", 0, "invalid JSON at column 3: unescaped control character in string", 0 },
	{ "\"a\x1f\"", 0, "invalid JSON at column 3: unescaped control character in string", 0 },
	{ L("\"a\0b\""), "invalid JSON at column 3: NUL byte", 0 },
	{ L("{\"a\":1}\0"), "invalid JSON at column 8: NUL byte", 0 },
	{ L("\0"), "invalid JSON at column 1: NUL byte", 0 },
	{ L("[1,\0]"), "invalid JSON at column 4: NUL byte", 0 },
	{ "\"\xc3\"", 0, "invalid UTF-8 at column 2", 0 },
	{ "\"\xe2\x82\"", 0, "invalid UTF-8 at column 2", 0 },
	{ "\"\x80\"", 0, "invalid UTF-8 at column 2", 0 },
	{ "\"\xff\"", 0, "invalid UTF-8 at column 2", 0 },
	{ "\"abcdefghij\xc3(\"", 0, "invalid UTF-8 at column 12", 0 },
	{ "\xc3\xa9", 0, "invalid JSON at column 1: unexpected character", 0 },
	{ "\xef\xbb\xbf{}", 0, "invalid JSON at column 1: unexpected character", 0 },
	{ "{} {}", 0, "invalid JSON at column 4: trailing characters after the value", 0 },
	{ "{}\n{}", 0, "invalid JSON at column 4: trailing characters after the value", 0 },
	{ "{\"a\":1}x", 0, "invalid JSON at column 8: trailing characters after the value", 0 },
	{ "/* c */{}", 0, "invalid JSON at column 1: unexpected character", 0 },
	{ "{\"a\":1 // c\n}", 0, "invalid JSON at column 8: expected ',' or '}'", 0 },
	{ "'a'", 0, "invalid JSON at column 1: unexpected character", 0 },
	{ "{a:1}", 0, "invalid JSON at column 2: expected a string key", 0 },
	/* invalid for us, accepted by yajl: documented in json.h */
	{ "\"\\ud800\"", 0, "invalid JSON at column 2: unpaired surrogate in \\u escape", 1 },
	{ "\"\\udc00\"", 0, "invalid JSON at column 2: unpaired surrogate in \\u escape", 1 },
	{ "\"\\ud800\\u0041\"", 0, "invalid JSON at column 2: unpaired surrogate in \\u escape", 1 },
	{ "\"\\ud83d\\ud83d\"", 0, "invalid JSON at column 2: unpaired surrogate in \\u escape", 1 },
	{ "\"\xc0\x80\"", 0, "invalid UTF-8 at column 2", 1 },
	{ "\"\xe0\x80\x80\"", 0, "invalid UTF-8 at column 2", 1 },
	{ "\"\xed\xa0\x80\"", 0, "invalid UTF-8 at column 2", 1 },
	{ "\"\xf4\x90\x80\x80\"", 0, "invalid UTF-8 at column 2", 1 },
	{ "\"\xf5\x80\x80\x80\"", 0, "invalid UTF-8 at column 2", 1 },
	{ "\v{}", 0, "invalid JSON at column 1: unexpected character", 1 },
	{ "{}\f", 0, "invalid JSON at column 3: trailing characters after the value", 1 },
	{ "1 \"a", 0, "invalid JSON at column 3: trailing characters after the value", 1 },
	{ "{}\"", 0, "invalid JSON at column 3: trailing characters after the value", 1 },
};

static void
test_validate(void)
{
	struct bb_error err = BB_ERROR_INIT;
	size_t i, n;
	int rc;

	for (i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		const struct vcase *c = &vcases[i];
		char name[200];

		n = c->len ? c->len : strlen(c->text);
		snprintf(name, sizeof(name), "validate case %zu (%s)", i,
		    c->msg ? c->msg : "valid");
		bb_error_clear(&err);
		rc = bb_json_validate(c->text, n, 0, &err);
		if (c->msg == NULL) {
			if (!ok(rc == 0, "%s", name))
				diag("got %s", err.msg);
		} else
			is_mem(rc == -1 ? err.msg : "(accepted)",
			    strlen(rc == -1 ? err.msg : "(accepted)"), c->msg, strlen(c->msg), name);
		if (c->msg == NULL || c->yajl_ok)
			ok(yajl_accepts(c->text, n), "yajl accepts case %zu too", i);
		else
			ok(!yajl_accepts(c->text, n), "yajl rejects case %zu too", i);
	}
}

/*
 * Mutate valid texts at random and compare with yajl: the scanner must
 * never accept what yajl rejects; where it rejects what yajl accepts, the
 * reason must be one of the documented ones.
 */
static void
test_fuzz(void)
{
	static const char *const seeds[] = {
		"{\"id\":12,\"text\":\"h\\u00e9llo \\\"w\\\"\",\"a\":[1,-2.5e3,true,false,null,{}],\"o\":{\"k\":\"v\"}}",
		"[\"\xc3\xa9\xe6\x9d\xb1\",0,{\"\":[[]]},\"\\ud83d\\ude00\"]",
		"{\"a\" : { \"b\" : [ 1 , 2 ] } , \"c\" : \"tab\\tend\" }",
	};
	static const char inserts[] = "{}[],:\"\\0123456789.eE+-tfnu \t\r\n\x01\x80\xc3\xe0\xed\xf4\xff";
	struct bb_error err = BB_ERROR_INIT;
	char text[256];
	unsigned seed = 42;
	size_t n, k, pos;
	int i, bad = 0, stricter = 0, checked = 0;

	for (i = 0; i < 30000; i++) {
		const char *s = seeds[i % 3];
		int ours, theirs, edits = 1 + i % 3;

		n = strlen(s);
		memcpy(text, s, n);
		while (edits-- > 0 && n > 0) {
			seed = seed * 1103515245u + 12345u;
			pos = (seed >> 8) % n;
			seed = seed * 1103515245u + 12345u;
			switch ((seed >> 16) % 4) {
			case 0:     /* delete */
				memmove(text + pos, text + pos + 1, n - pos - 1);
				n--;
				break;
			case 1:     /* replace */
				text[pos] = inserts[(seed >> 4) % (sizeof(inserts) - 1)];
				break;
			case 2:     /* insert */
				if (n < sizeof(text) - 1) {
					memmove(text + pos + 1, text + pos, n - pos);
					text[pos] = inserts[(seed >> 4) % (sizeof(inserts) - 1)];
					n++;
				}
				break;
			default:    /* truncate */
				n = pos;
			}
		}
		ours = bb_json_validate(text, n, 0, &err) == 0;
		theirs = yajl_accepts(text, n);
		checked++;
		if (ours && !theirs) {
			if (bad++ < 5) {
				diag("scanner accepts what yajl rejects:");
				tap_show("text", text, n);
			}
		} else if (!ours && theirs) {
			stricter++;
			if (strstr(err.msg, "UTF-8") == NULL && strstr(err.msg, "surrogate") == NULL) {
				/* left: \v or \f as whitespace, or an unterminated
				 * string after the value (yajl never sees it end) */
				k = 0;
				if (sscanf(err.msg, "invalid JSON at column %zu", &k) != 1 || k == 0 ||
				    k > n || (text[k - 1] != '\v' && text[k - 1] != '\f' &&
				    !(text[k - 1] == '"' && strstr(err.msg, "trailing") != NULL))) {
					if (bad++ < 5) {
						diag("rejected for an undocumented reason: %s", err.msg);
						tap_show("text", text, n);
					}
				}
			}
		}
		if (!ours && (strchr(err.msg, '\n') != NULL || strlen(err.msg) > 80)) {
			if (bad++ < 5)
				diag("message not one short line: %s", err.msg);
		}
	}
	ok(bad == 0, "fuzz: %d mutated texts agree with yajl (%d rejected only by us)",
	    checked, stricter);
}

static void
test_depth(void)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf b = BB_BUF_INIT;
	struct bb_json *j = NULL;
	size_t i;

	for (i = 0; i < 256; i++)
		bb_buf_addc(&b, '[');
	for (i = 0; i < 256; i++)
		bb_buf_addc(&b, ']');
	ok(bb_json_validate(b.data, b.len, 0, &err) == 0, "256 levels by default");
	ok(bb_json_parse(b.data, b.len, 0, &j, &err) == 0 && j != NULL, "tree of 256 levels");
	bb_json_free(j);
	bb_buf_reset(&b);
	for (i = 0; i < 257; i++)
		bb_buf_addc(&b, '[');
	for (i = 0; i < 257; i++)
		bb_buf_addc(&b, ']');
	ok(bb_json_validate(b.data, b.len, 0, &err) == -1, "257 levels refused");
	is_str(err.msg, "invalid JSON at column 257: nesting too deep", "depth message");
	ok(bb_json_validate(b.data, b.len, 1000, &err) == 0, "max_depth raised");
	ok(bb_json_parse("[[1]]", 5, 2, &j, &err) == 0, "max_depth 2: two levels");
	bb_json_free(j);
	j = NULL;
	ok(bb_json_parse("[{\"a\":[1]}]", 11, 2, &j, &err) == -1 && j == NULL,
	    "max_depth 2: three levels refused");
	bb_buf_reset(&b);
	bb_buf_addc(&b, '{');
	for (i = 0; i < 2000; i++)
		bb_buf_adds(&b, "\"a\":{");
	ok(bb_json_fields(b.data, b.len, NULL, 0, NULL, &err) == -1 &&
	    strstr(err.msg, "nesting too deep") != NULL, "fields: 2000 levels refused");
	bb_buf_release(&b);
}

/* ---- fields ---- */

struct fcase {
	const char *text;
	const char *a, *b, *c;        /* raw values or NULL */
	int ta, tb, tc;
};

static const struct fcase fcases[] = {
	{ "{\"a\":1,\"b\":\"x\\\"y\",\"c\":{\"a\":2}}", "1", "\"x\\\"y\"", "{\"a\":2}",
	    BB_JSON_NUMBER, BB_JSON_STRING, BB_JSON_OBJECT },
	{ "{ \"c\" : [ 1 , 2 ] , \"a\" : true }", "true", NULL, "[ 1 , 2 ]",
	    BB_JSON_TRUE, BB_JSON_NONE, BB_JSON_ARRAY },
	{ "{\"\\u0062\":null,\"a\":false}", "false", "null", NULL,
	    BB_JSON_FALSE, BB_JSON_NULL, BB_JSON_NONE },
	{ "{\"ab\":1,\"a\":-2.5e3 ,\"c\":\"\"}\r\n", "-2.5e3", NULL, "\"\"",
	    BB_JSON_NUMBER, BB_JSON_NONE, BB_JSON_STRING },
	{ "{\"x\":{\"a\":1},\"y\":[{\"b\":2}]}", NULL, NULL, NULL,
	    BB_JSON_NONE, BB_JSON_NONE, BB_JSON_NONE },
	{ "{}", NULL, NULL, NULL, BB_JSON_NONE, BB_JSON_NONE, BB_JSON_NONE },
};

struct ferr {
	const char *text;
	const char *msg;
};

static const struct ferr ferrs[] = {
	{ "[1]", "not a JSON object" },
	{ " \"s\"", "not a JSON object" },
	{ "12", "not a JSON object" },
	{ "null", "not a JSON object" },
	{ "", "invalid JSON at column 1: unexpected end of text" },
	{ "x", "invalid JSON at column 1: unexpected character" },
	{ "{\"id\":1,\"id\":2}", "duplicate key 'id'" },
	{ "{\"a\":1,\"b\":2,\"\\u0061\":3}", "duplicate key 'a'" },
	{ "{\"\\n\":1,\"\\u000a\":2}", "duplicate key '\\x0a'" },
	{ "{\"a\":1,\"a\":{\"bad\"}}", "duplicate key 'a'" },
	{ "{\"a\":{\"b\":1},\"c\":[}", "invalid JSON at column 19: unexpected character" },
	{ "{\"a\":1}}", "invalid JSON at column 8: trailing characters after the value" },
};

static void
test_fields(void)
{
	static const char *const keys[] = { "a", "b", "c" };
	struct bb_error err = BB_ERROR_INIT;
	struct bb_json_span sp[3];
	struct bb_buf b = BB_BUF_INIT;
	size_t i, k;
	char name[64];

	for (i = 0; i < sizeof(fcases) / sizeof(fcases[0]); i++) {
		const struct fcase *c = &fcases[i];
		const char *want[3] = { c->a, c->b, c->c };
		int types[3] = { c->ta, c->tb, c->tc };

		snprintf(name, sizeof(name), "fields case %zu", i);
		if (!ok(bb_json_fields(c->text, strlen(c->text), keys, 3, sp, &err) == 0, "%s", name)) {
			diag("%s", err.msg);
			continue;
		}
		for (k = 0; k < 3; k++) {
			snprintf(name, sizeof(name), "fields case %zu key %s", i, keys[k]);
			if (want[k] == NULL)
				ok(sp[k].p == NULL && sp[k].n == 0 && sp[k].type == BB_JSON_NONE,
				    "%s absent", name);
			else {
				is_mem(sp[k].p, sp[k].n, want[k], strlen(want[k]), name);
				is_int(sp[k].type, types[k], "its type");
				ok(sp[k].p >= c->text && sp[k].p + sp[k].n <= c->text + strlen(c->text),
				    "span points into the text");
			}
		}
	}
	for (i = 0; i < sizeof(ferrs) / sizeof(ferrs[0]); i++) {
		snprintf(name, sizeof(name), "fields error case %zu", i);
		bb_error_clear(&err);
		ok(bb_json_fields(ferrs[i].text, strlen(ferrs[i].text), keys, 3, sp, &err) == -1,
		    "%s fails", name);
		is_str(err.msg, ferrs[i].msg, name);
		ok(err.kind == BB_ERR_INPUT, "input error kind");
	}
	ok(bb_json_fields("{\"a\":1,\"a\":2}", 13, NULL, 0, NULL, &err) == -1,
	    "duplicates refused with no keys asked");
	{
		const char *t = "{\"a\":{\"b\":1,\"b\":2},\"c\":[{\"d\":1,\"d\":1}]}";

		ok(bb_json_fields(t, strlen(t), keys, 3, sp, &err) == 0,
		    "nested duplicates are not ours to judge");
	}

	/* many keys: the hash table */
	bb_buf_addc(&b, '{');
	for (i = 0; i < 5000; i++)
		bb_buf_addf(&b, "%s\"k%zu\":%zu", i ? "," : "", i, i);
	bb_buf_addc(&b, '}');
	{
		static const char *const many[] = { "k0", "k4999", "k2500", "k5000" };
		struct bb_json_span s4[4];

		ok(bb_json_fields(b.data, b.len, many, 4, s4, &err) == 0, "5000 keys");
		is_mem(s4[0].p, s4[0].n, "0", 1, "first of 5000");
		is_mem(s4[1].p, s4[1].n, "4999", 4, "last of 5000");
		is_mem(s4[2].p, s4[2].n, "2500", 4, "middle of 5000");
		ok(s4[3].p == NULL, "absent among 5000");
		bb_buf_setlen(&b, b.len - 1);
		bb_buf_adds(&b, ",\"k\\u0031234\":0}");
		ok(bb_json_fields(b.data, b.len, many, 4, s4, &err) == -1, "a duplicate among 5000");
		is_str(err.msg, "duplicate key 'k1234'", "named");
	}
	/* 20 keys asked (more than fit on the stack) */
	{
		const char *k20[20];
		char names[20][8];
		struct bb_json_span s20[20];

		bb_buf_reset(&b);
		bb_buf_addc(&b, '{');
		for (i = 0; i < 20; i++) {
			snprintf(names[i], sizeof(names[i]), "f%zu", i);
			k20[i] = names[i];
			if (i % 2 == 0)
				bb_buf_addf(&b, "%s\"f%zu\":%zu", i ? "," : "", i, i * 10);
		}
		bb_buf_addc(&b, '}');
		ok(bb_json_fields(b.data, b.len, k20, 20, s20, &err) == 0, "20 keys asked");
		ok(s20[18].n == 3 && memcmp(s20[18].p, "180", 3) == 0 && s20[19].p == NULL,
		    "found and absent among 20");
	}
	bb_buf_release(&b);
}

/* ---- spans ---- */

static void
test_spans(void)
{
	static const struct {
		const char *lit;
		const char *want;
		size_t wantlen;
	} strs[] = {
		{ "\"\"", L("") },
		{ "\"abc\"", L("abc") },
		{ "\"a\\\"b\\\\c\\/d\"", L("a\"b\\c/d") },
		{ "\"\\b\\f\\n\\r\\t\"", L("\b\f\n\r\t") },
		{ "\"\\u0000x\"", L("\0x") },
		{ "\"\\u00e9\\u6771\\ud83d\\ude00\"", L("\xc3\xa9\xe6\x9d\xb1\xf0\x9f\x98\x80") },
		{ "\"\xc3\xa9 raw\"", L("\xc3\xa9 raw") },
	};
	static const struct {
		const char *lit;
		long long min, max, want;
		int err;
	} ints[] = {
		{ "42", 0, 100, 42, 0 },
		{ "-7", -10, 10, -7, 0 },
		{ "0", 0, 0, 0, 0 },
		{ "-9223372036854775808", LLONG_MIN, LLONG_MAX, LLONG_MIN, 0 },
		{ "9223372036854775807", LLONG_MIN, LLONG_MAX, LLONG_MAX, 0 },
		{ "9223372036854775808", LLONG_MIN, LLONG_MAX, 0, ERANGE },
		{ "5", 0, 3, 0, ERANGE },
		{ "1.0", 0, 3, 0, EINVAL },
		{ "1e3", 0, 3000, 0, EINVAL },
		{ "\"5\"", 0, 10, 0, EINVAL },
		{ "-", 0, 10, 0, EINVAL },
		{ "true", 0, 10, 0, EINVAL },
	};
	struct bb_buf b = BB_BUF_INIT;
	struct bb_json_span s;
	long long v;
	size_t i;
	char name[64];

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		s.p = strs[i].lit;
		s.n = strlen(strs[i].lit);
		s.type = BB_JSON_STRING;
		bb_buf_reset(&b);
		bb_buf_adds(&b, "<");
		snprintf(name, sizeof(name), "span_str case %zu", i);
		ok(bb_json_span_str(&s, &b) == 0, "%s", name);
		is_mem(b.data + 1, b.len - 1, strs[i].want, strs[i].wantlen, "decoded, appended");
	}
	s.p = "abc";
	s.n = 3;
	ok(bb_json_span_str(&s, &b) == -1 && errno == EINVAL, "span_str of a non-string");
	s.p = NULL;
	s.n = 0;
	ok(bb_json_span_str(&s, &b) == -1 && errno == EINVAL, "span_str of an absent span");
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		int rc;

		s.p = ints[i].lit;
		s.n = strlen(ints[i].lit);
		v = 12345;
		errno = 0;
		rc = bb_json_span_int(&s, ints[i].min, ints[i].max, &v);
		snprintf(name, sizeof(name), "span_int %s", ints[i].lit);
		if (ints[i].err == 0)
			ok(rc == 0 && v == ints[i].want, "%s", name);
		else
			ok(rc == -1 && errno == ints[i].err && v == 12345, "%s refused", name);
	}
	s.p = NULL;
	s.n = 0;
	ok(bb_json_span_int(&s, 0, 1, &v) == -1 && errno == EINVAL, "span_int of an absent span");
	bb_buf_release(&b);
}

/* ---- writing ---- */

static void
test_strings(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} good[] = {
		{ L(""), "\"\"" },
		{ L("abc"), "\"abc\"" },
		{ L("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"" },
		{ L("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"" },
		{ L("\0"), "\"\\u0000\"" },
		{ L("\x01\x1f\x7f"), "\"\\u0001\\u001f\x7f\"" },
		{ L("\xc3\xa9\xe6\x9d\xb1\xf0\x9f\x98\x80"), "\"\xc3\xa9\xe6\x9d\xb1\xf0\x9f\x98\x80\"" },
		{ L("\xe2\x80\xa8"), "\"\xe2\x80\xa8\"" },
	};
	static const struct {
		const char *in;
		size_t n;
	} bad[] = {
		{ L("\xc3") }, { L("\xc0\x80") }, { L("\xe0\x80\x80") }, { L("\xed\xa0\x80") },
		{ L("\xf4\x90\x80\x80") }, { L("\xf5\x80\x80\x80") }, { L("\xff") }, { L("a\x80") },
		{ L("\xe2\x82") }, { L("0123456789abcdef\xc3\x28") }, { L("\xf0\x9f\x98") },
	};
	struct bb_buf b = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_json *j;
	size_t i;
	int c, all;
	char ch, name[64];

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		bb_buf_reset(&b);
		snprintf(name, sizeof(name), "add_str case %zu", i);
		ok(bb_json_add_str(&b, good[i].in, good[i].n) == 0, "%s", name);
		is_str(b.data, good[i].want, "escaped");
		ok(bb_utf8_valid(good[i].in, good[i].n), "utf8_valid case %zu", i);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bb_buf_reset(&b);
		bb_buf_adds(&b, "keep");
		errno = 0;
		snprintf(name, sizeof(name), "invalid UTF-8 case %zu refused", i);
		ok(bb_json_add_str(&b, bad[i].in, bad[i].n) == -1 && errno == EILSEQ &&
		    strcmp(b.data, "keep") == 0, "%s, nothing appended", name);
		ok(!bb_utf8_valid(bad[i].in, bad[i].n), "utf8_valid refuses case %zu", i);
	}
	/* every control character: escaped, no raw byte left, parses back */
	all = 1;
	for (c = 0; c < 0x20; c++) {
		ch = (char)c;
		bb_buf_reset(&b);
		j = NULL;
		if (bb_json_add_str(&b, &ch, 1) != 0 || strlen(b.data) != b.len ||
		    bb_json_parse(b.data, b.len, 0, &j, &err) != 0 || j->len != 1 || j->str[0] != ch)
			all = 0;
		for (i = 0; i < b.len; i++)
			if ((unsigned char)b.data[i] < 0x20)
				all = 0;
		bb_json_free(j);
	}
	ok(all, "all 32 control characters escaped and parsed back");
	bb_buf_reset(&b);
	ok(bb_json_add_str_body(&b, "a\"b", 3) == 0 && strcmp(b.data, "a\\\"b") == 0,
	    "add_str_body: no quotes");
	bb_buf_release(&b);
}

static void
test_numbers(void)
{
	static const struct {
		double v;
		const char *want;
	} dbl[] = {
		{ 0.1, "0.1" },
		{ 0.30000000000000004, "0.30000000000000004" },
		{ 1.0 / 3, "0.3333333333333333" },
		{ 100, "100" },
		{ -0.0, "-0" },
		{ 1.5, "1.5" },
		{ 1e21, "1e+21" },
		{ 123456.789, "123456.789" },
		{ 2.5e-8, "2.5e-08" },
		{ 1.7976931348623157e308, "1.7976931348623157e+308" },
	};
	struct bb_buf b = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	unsigned long long bits = 0x9e3779b97f4a7c15ULL;
	size_t i;
	int all = 1;
	double d;

	for (i = 0; i < sizeof(dbl) / sizeof(dbl[0]); i++) {
		bb_buf_reset(&b);
		ok(bb_json_add_double(&b, dbl[i].v) == 0, "add_double %s", dbl[i].want);
		is_str(b.data, dbl[i].want, "shortest form");
	}
	for (i = 0; i < 20000; i++) {
		bits ^= bits << 13;
		bits ^= bits >> 7;
		bits ^= bits << 17;
		memcpy(&d, &bits, sizeof(d));
		if (!isfinite(d))
			continue;
		bb_buf_reset(&b);
		if (bb_json_add_double(&b, d) != 0 || strtod(b.data, NULL) != d ||
		    bb_json_validate(b.data, b.len, 0, &err) != 0) {
			if (all)
				diag("double %a written %s", d, bb_buf_str(&b));
			all = 0;
		}
	}
	ok(all, "random doubles round-trip and are valid JSON");
	bb_buf_reset(&b);
	bb_buf_adds(&b, "x");
	ok(bb_json_add_double(&b, NAN) == -1 && errno == EDOM && b.len == 1, "NaN refused");
	ok(bb_json_add_double(&b, -INFINITY) == -1 && b.len == 1, "-Inf refused");
	bb_buf_reset(&b);
	bb_json_add_int(&b, LLONG_MIN);
	bb_buf_addc(&b, ' ');
	bb_json_add_int(&b, 0);
	bb_buf_addc(&b, ' ');
	bb_json_add_int(&b, LLONG_MAX);
	is_str(b.data, "-9223372036854775808 0 9223372036854775807", "add_int");
	bb_buf_release(&b);
}

static void
test_append(void)
{
	static const struct {
		const char *line;
		const char *want;     /* NULL: not an object */
	} cases[] = {
		{ "{}", "{\"s\":\"v\\n\",\"n\":42}" },
		{ "{ }", "{ \"s\":\"v\\n\",\"n\":42}" },
		{ "{\"a\":1 }  ", "{\"a\":1 ,\"s\":\"v\\n\",\"n\":42}" },
		{ " {\"a\":{\"b\":[1,{}]}}\r\n", " {\"a\":{\"b\":[1,{}]},\"s\":\"v\\n\",\"n\":42}" },
		{ "{\"a\":\"}\"}", "{\"a\":\"}\",\"s\":\"v\\n\",\"n\":42}" },
		{ "\t{\n}\t", "\t{\n\"s\":\"v\\n\",\"n\":42}" },
		{ "{\"x\" : \"\xc3\xa9\\u00e9\" , \"y\":[ ] }",
		    "{\"x\" : \"\xc3\xa9\\u00e9\" , \"y\":[ ] ,\"s\":\"v\\n\",\"n\":42}" },
		{ "", NULL }, { "   ", NULL }, { "[]", NULL }, { "{", NULL }, { "}", NULL },
		{ "x{}", NULL }, { "{}x", NULL },
	};
	static const char *const keys[] = { "s", "n" };
	struct bb_buf b = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_json_append a;
	struct bb_json_span sp[2];
	size_t i;
	char name[64];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bb_buf_reset(&b);
		snprintf(name, sizeof(name), "append case %zu", i);
		if (cases[i].want == NULL) {
			ok(bb_json_append_begin(&a, &b, cases[i].line, strlen(cases[i].line), &err) == -1,
			    "%s: not an object", name);
			is_str(err.msg, "not a JSON object", "its message");
			continue;
		}
		ok(bb_json_append_begin(&a, &b, cases[i].line, strlen(cases[i].line), &err) == 0 &&
		    bb_json_append_str(&a, "s", "v\n", 2) == 0 &&
		    bb_json_append_int(&a, "n", 42) == 0 &&
		    bb_json_append_end(&a) == 0, "%s", name);
		is_str(bb_buf_str(&b), cases[i].want, "fields appended, the rest byte for byte");
		ok(bb_json_fields(b.data, b.len, keys, 2, sp, &err) == 0 && sp[1].n == 2,
		    "result is a valid object with the new fields");
	}

	bb_buf_reset(&b);
	ok(bb_json_append_begin(&a, &b, "{\"a\":1}", 7, &err) == 0 &&
	    bb_json_append_str(&a, "s", "x", 1) == 0 &&
	    bb_json_append_int(&a, "i", -3) == 0 &&
	    bb_json_append_double(&a, "d", 0.5) == 0 &&
	    bb_json_append_bool(&a, "t", 1) == 0 &&
	    bb_json_append_bool(&a, "f", 0) == 0 &&
	    bb_json_append_null(&a, "z") == 0 &&
	    bb_json_append_raw(&a, "r", "{\"x\":[1]}", 9) == 0 &&
	    bb_json_append_str(&a, "k\"\n", "", 0) == 0 &&
	    bb_json_append_end(&a) == 0, "every kind of field");
	is_str(bb_buf_str(&b), "{\"a\":1,\"s\":\"x\",\"i\":-3,\"d\":0.5,\"t\":true,\"f\":false,"
	    "\"z\":null,\"r\":{\"x\":[1]},\"k\\\"\\n\":\"\"}", "all kinds");

	/* a refused value leaves nothing behind, and the next field is right */
	bb_buf_reset(&b);
	ok(bb_json_append_begin(&a, &b, "{ }", 3, &err) == 0 &&
	    bb_json_append_str(&a, "bad", "\xff", 1) == -1 && errno == EILSEQ &&
	    bb_json_append_double(&a, "nan", NAN) == -1 &&
	    bb_json_append_str(&a, "\xc3", "x", 1) == -1 &&
	    bb_json_append_int(&a, "n", 1) == 0 &&
	    bb_json_append_str(&a, "bad", "a\xc0\x80", 3) == -1 &&
	    bb_json_append_int(&a, "m", 2) == 0 &&
	    bb_json_append_end(&a) == 0, "refused values");
	is_str(bb_buf_str(&b), "{ \"n\":1,\"m\":2}", "nothing left of the refused values");
	bb_buf_release(&b);
}

/* ---- tree ---- */

static void
test_tree(void)
{
	static const struct {
		const char *in;
		const char *want;
	} rt[] = {
		{ " { \"a\" : [1, 2.50, -0, 1E2, true, false, null, \"x\\u0041\\n\\/\"] , \"b\":{}} ",
		    "{\"a\":[1,2.50,-0,1E2,true,false,null,\"xA\\n/\"],\"b\":{}}" },
		{ "\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"" },
		{ "[]", "[]" },
		{ "[[],[[]],{\"\":{}}]", "[[],[[]],{\"\":{}}]" },
		{ "12345678901234567890123", "12345678901234567890123" },
		{ "{\"a\":1,\"a\":2}", "{\"a\":1,\"a\":2}" },
		{ "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]",
		    "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]" },
	};
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf b = BB_BUF_INIT;
	struct bb_json *j = NULL;
	const struct bb_json *x;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
		bb_buf_reset(&b);
		j = NULL;
		rc = bb_json_parse(rt[i].in, strlen(rt[i].in), 0, &j, &err);
		if (!ok(rc == 0, "parse case %zu", i))
			diag("%s", err.msg);
		if (rc == 0)
			bb_json_write(j, &b);
		is_str(bb_buf_str(&b), rt[i].want, "written back compactly");
		bb_json_free(j);
	}

	j = NULL;
	{
		const char *t = "{\"a\":{\"b\":[10,{\"c\":\"d\"},1e2,12345678901234567890]},"
		    "\"a2\":1,\"a2\":2,\"s\":\"x\\u0000y\"}";

		rc = bb_json_parse(t, strlen(t), 0, &j, &err);
	}
	if (!ok(rc == 0, "parse a document"))
		diag("%s", err.msg);
	if (rc == 0) {
		x = bb_json_path(j, "a.b.1.c");
		is_str(bb_json_str(x), "d", "path a.b.1.c");
		x = bb_json_path(j, "a.b.0");
		ok(bb_json_is(x, BB_JSON_NUMBER) && x->is_int && x->i == 10 && x->num == 10,
		    "integer 10");
		x = bb_json_path(j, "a.b.2");
		ok(bb_json_is(x, BB_JSON_NUMBER) && !x->is_int && x->num == 100, "1e2 is no integer");
		x = bb_json_path(j, "a.b.3");
		ok(bb_json_is(x, BB_JSON_NUMBER) && !x->is_int && x->num > 1.2e19 &&
		    strcmp(x->str, "12345678901234567890") == 0, "too big for an integer");
		ok(bb_json_path(j, "a.b.4") == NULL, "index out of range");
		ok(bb_json_path(j, "a.b.01") == NULL, "leading zero index");
		ok(bb_json_path(j, "a.b.-1") == NULL, "negative index");
		ok(bb_json_path(j, "a.x") == NULL, "missing key");
		ok(bb_json_path(j, "a.b.1.c.d") == NULL, "through a string");
		ok(bb_json_path(j, "") == j, "empty path");
		x = bb_json_get(j, "a2");
		ok(x != NULL && x->i == 2, "a repeated key: the last");
		x = bb_json_get(j, "s");
		ok(x != NULL && x->len == 3 && memcmp(x->str, "x\0y", 4) == 0, "NUL inside a string");
		ok(bb_json_str(bb_json_get(j, "a")) == NULL, "str of an object");
		ok(bb_json_get(bb_json_get(j, "s"), "x") == NULL, "get on a string");
		ok(!bb_json_is(NULL, BB_JSON_NULL), "is(NULL)");
		ok(bb_json_get(j, "a") != NULL && bb_json_get(j, "a")->n == 1 &&
		    bb_json_is(bb_json_path(j, "a.b"), BB_JSON_ARRAY) &&
		    bb_json_path(j, "a.b")->n == 4, "counts");
	}
	bb_json_free(j);

	j = (struct bb_json *)&err;   /* must be reset on failure */
	ok(bb_json_parse("{\"a\":[1,]}", 10, 0, &j, &err) == -1 && j == NULL, "parse error");
	is_str(err.msg, "invalid JSON at column 9: trailing comma", "same message as validate");
	ok(bb_json_parse("\"\\ud800\"", 8, 0, &j, &err) == -1, "lone surrogate refused in the tree");
	ok(bb_json_parse("{\"a\":\"\xed\xa0\x80\"}", 10, 0, &j, &err) == -1,
	    "surrogate UTF-8 refused in the tree");
	bb_json_free(NULL);
	bb_buf_release(&b);
}

/* Any string: add_str -> fields/span_str -> same bytes; -> tree -> same. */
static void
test_roundtrip(void)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf s = BB_BUF_INIT, line = BB_BUF_INIT, back = BB_BUF_INIT, w = BB_BUF_INIT;
	static const char *const keys[] = { "k" };
	struct bb_json_span sp;
	struct bb_json_append a;
	struct bb_json *j = NULL;
	int c, rc;

	for (c = 1; c < 128; c++)
		bb_buf_addc(&s, (char)c);
	bb_buf_add(&s, "\0\xc3\xa9\xe6\x9d\xb1\xf0\x9f\x98\x80\xe2\x80\xa8\xef\xbf\xbf", 17);
	ok(bb_json_append_begin(&a, &line, "{\"id\":7}", 8, &err) == 0 &&
	    bb_json_append_str(&a, "k", s.data, s.len) == 0 && bb_json_append_end(&a) == 0,
	    "line with every ASCII byte and some UTF-8");
	ok(bb_json_fields(line.data, line.len, keys, 1, &sp, &err) == 0 &&
	    bb_json_span_str(&sp, &back) == 0, "scanned and decoded");
	is_mem(back.data, back.len, s.data, s.len, "same bytes back from the span");
	rc = bb_json_parse(line.data, line.len, 0, &j, &err);
	ok(rc == 0 && bb_json_get(j, "k") != NULL, "parsed into a tree");
	if (rc == 0) {
		is_mem(bb_json_get(j, "k")->str, bb_json_get(j, "k")->len, s.data, s.len,
		    "same bytes back from the tree");
		bb_json_write(j, &w);
		is_mem(w.data, w.len, line.data, line.len, "tree written back is the line");
	}
	bb_json_free(j);
	bb_buf_release(&s);
	bb_buf_release(&line);
	bb_buf_release(&back);
	bb_buf_release(&w);
}

static void
test_compact(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "{ \"a\" : [ 1 , { \"b\" : null } ] }", "{\"a\":[1,{\"b\":null}]}" },
		{ "\t[\r\n1,\n2 ]\n", "[1,2]" },
		{ "\"a b\\\" c\"", "\"a b\\\" c\"" },
		{ "{\"k \\\\\": \" v \" }", "{\"k \\\\\":\" v \"}" },
		{ "  42  ", "42" },
		{ "[\"\\u00e9 \", true , false]", "[\"\\u00e9 \",true,false]" },
	};
	struct bb_buf b = BB_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bb_buf_reset(&b);
		ok(bb_json_validate(cases[i].in, strlen(cases[i].in), 0, NULL) == 0,
		    "compact case %zu is valid JSON", i);
		ok(bb_json_compact(cases[i].in, strlen(cases[i].in), &b) == 0, "compact case %zu", i);
		is_str(bb_buf_str(&b), cases[i].want, "  compacted");
		ok(bb_json_validate(b.data, b.len, 0, NULL) == 0, "  still valid");
	}
	bb_buf_release(&b);
}

int
main(void)
{
	test_validate();
	test_fuzz();
	test_depth();
	test_fields();
	test_spans();
	test_strings();
	test_numbers();
	test_append();
	test_tree();
	test_roundtrip();
	test_compact();
	return done_testing();
}
