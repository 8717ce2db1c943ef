/*
 * json.h - JSON for the tools: string escaping, a writer that appends fields
 * to an existing object line without re-serialising it, fast extraction of
 * top-level fields, and a small document tree for responses and options.
 *
 * Parsing: bb_json_fields() and bb_json_validate() use a hand-written
 * validating scanner (several times faster than yajl; the hot path of
 * bb-shard and bb-join); bb_json_parse() validates with that scanner and
 * then builds the tree from yajl's event (callback) API (yajl_tree is not
 * used: it leaks on malformed input). What is valid is RFC 8259 exactly;
 * that is slightly stricter than yajl, which also accepts overlong and
 * surrogate UTF-8 sequences, code points above U+10FFFF, unpaired
 * \uD800-\uDFFF escapes (it turns a lone high one into '?'), \v \f as
 * whitespace and an unterminated string after the value ("1 \"a"). We
 * reject those: every string we pass on must be valid UTF-8.
 * NUL bytes, trailing garbage and (in bb_json_fields) duplicate top-level
 * keys are errors too.
 *
 * Error messages (kind BB_ERR_INPUT) are one short line with the 1-based
 * byte column: "invalid JSON at column 17: unexpected character",
 * "invalid JSON at column 3: NUL byte", "invalid UTF-8 at column 5",
 * "not a JSON object", "duplicate key 'id'". Nesting deeper than 1024 is
 * refused ("nesting too deep").
 *
 * Ownership: a struct bb_json tree returned by bb_json_parse() is freed with
 * bb_json_free(); pointers into it (strings, members) live as long as it.
 */
#ifndef BB_JSON_H
#define BB_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* ---- writing ---- */

/*
 * Append s[0..n) as a JSON string literal (with the quotes). Invalid UTF-8
 * is an error (-1, errno EILSEQ) and nothing is appended; control
 * characters are escaped (\n \t \r \b \f, others \u00XX), as are '"' and
 * '\\'; "/" and non-ASCII are kept as they are.
 */
int bb_json_add_str(struct bb_buf *out, const char *s, size_t n);
/* Same without the surrounding quotes (for building a string in pieces). */
int bb_json_add_str_body(struct bb_buf *out, const char *s, size_t n);
/* Numbers: integers exactly; doubles as the first of %.15g, %.16g, %.17g
 * that reads back as the same double (0.1 -> "0.1"); NaN and infinities
 * are an error (-1, errno EDOM, nothing appended). Needs LC_NUMERIC "C". */
int bb_json_add_int(struct bb_buf *out, long long v);
int bb_json_add_double(struct bb_buf *out, double v);
/* 1 when s[0..n) is valid UTF-8. */
int bb_utf8_valid(const char *s, size_t n);

/*
 * Appending fields to an object line (DESIGN.md section 1: every field of
 * the input line is copied unchanged and in order).
 *
 *   struct bb_json_append a;
 *   bb_json_append_begin(&a, &out, line, len, err);   copies line minus its '}'
 *   bb_json_append_str(&a, "s3_uri", uri, strlen(uri));
 *   bb_json_append_int(&a, "uploaded_bytes", n);
 *   bb_json_append_raw(&a, "stats", "{\"a\":1}", 7);   value already JSON
 *   bb_json_append_end(&a);                            closes with '}'
 *
 * begin fails (-1) when the line is not a JSON object (checked by looking at
 * the first and last non-space bytes; callers parse the line anyway). A
 * field that already exists in the line is not removed: callers that may
 * re-process a line (re-runs) should first check with bb_json_fields().
 */
struct bb_json_append {
	struct bb_buf *out;
	int empty;   /* no member written yet */
};
int bb_json_append_begin(struct bb_json_append *a, struct bb_buf *out,
    const char *line, size_t len, struct bb_error *err);
int bb_json_append_str(struct bb_json_append *a, const char *key, const char *s, size_t n);
int bb_json_append_int(struct bb_json_append *a, const char *key, long long v);
int bb_json_append_double(struct bb_json_append *a, const char *key, double v);
int bb_json_append_bool(struct bb_json_append *a, const char *key, int v);
int bb_json_append_null(struct bb_json_append *a, const char *key);
int bb_json_append_raw(struct bb_json_append *a, const char *key, const char *json, size_t n);
int bb_json_append_end(struct bb_json_append *a);

/* ---- fast top-level field extraction ---- */

/*
 * Validate one JSON text (a whole line) and locate the values of the given
 * top-level keys of an object without building a tree. For each key i,
 * spans[i] is set to the raw bytes of its value inside `text` (a string
 * value includes its quotes), or {NULL,0} when absent. Also reports
 * "not an object", invalid JSON/UTF-8 (with the column) and duplicate
 * top-level keys. Returns 0 or -1.
 */
struct bb_json_span {
	const char *p;
	size_t n;
	int type;   /* enum bb_json_type of the value */
};
int bb_json_fields(const char *text, size_t len, const char *const *keys, size_t nkeys,
    struct bb_json_span *spans, struct bb_error *err);
/* Decode a span holding a JSON string literal, appending it to out
 * (unescaped UTF-8, may contain NUL from \u0000). -1 with errno EINVAL when
 * the span is not a valid string literal, ENOMEM. */
int bb_json_span_str(const struct bb_json_span *s, struct bb_buf *out);
/* A span holding a JSON integer within [min, max] into *v: 0, or -1 with
 * errno EINVAL (absent, not an integer: "1.0" and "1e3" are not) or ERANGE. */
int bb_json_span_int(const struct bb_json_span *s, long long min, long long max, long long *v);
/* Validate one JSON text of any type (same rules and messages as
 * bb_json_fields; max_depth 0 = 256, at most 1024). 0 or -1. */
int bb_json_validate(const char *text, size_t len, size_t max_depth, struct bb_error *err);
/* Append a VALID JSON text (validated by the caller) to out without its
 * insignificant whitespace: `{ "a": [1, 2] }` becomes `{"a":[1,2]}`;
 * strings are copied byte for byte. 0, or -1 (ENOMEM). */
int bb_json_compact(const char *text, size_t len, struct bb_buf *out);

/* ---- document tree ---- */

enum bb_json_type {
	BB_JSON_NONE = 0, BB_JSON_NULL, BB_JSON_FALSE, BB_JSON_TRUE,
	BB_JSON_NUMBER, BB_JSON_STRING, BB_JSON_ARRAY, BB_JSON_OBJECT,
};

struct bb_json {
	enum bb_json_type type;
	/* STRING: str/len (unescaped, NUL-terminated). NUMBER: str/len is the
	 * number's text, num its value, is_int/i when it is an integer. */
	char *str;
	size_t len;
	double num;
	int is_int;
	long long i;
	/* ARRAY and OBJECT: n children; for OBJECT keys[k] names child k. */
	size_t n;
	struct bb_json **items;
	char **keys;
	size_t *keylens;
};

/* Parse one JSON text; trailing non-space is an error. max_depth bounds
 * nesting (0 = 256, at most 1024). The tree is returned in *out (free with
 * bb_json_free). Numbers keep their text (str/len), so bb_json_write gives
 * them back unchanged. Duplicate keys are kept; bb_json_get finds the last. */
int bb_json_parse(const char *text, size_t len, size_t max_depth, struct bb_json **out,
    struct bb_error *err);
void bb_json_free(struct bb_json *j);
/* Member of an object by key (NULL if absent or j is not an object; the
 * last one when the key is repeated). */
const struct bb_json *bb_json_get(const struct bb_json *j, const char *key);
/* Follow a dotted path of object keys and array indexes: "a.b.0.c"
 * (NULL when any step is missing; "" is j itself). */
const struct bb_json *bb_json_path(const struct bb_json *j, const char *path);
/* Typed accessors: NULL / def when absent or of another type. */
const char *bb_json_str(const struct bb_json *j);
int bb_json_is(const struct bb_json *j, enum bb_json_type t);
/* Serialise compactly (keys in their order, strings re-escaped); appends. */
int bb_json_write(const struct bb_json *j, struct bb_buf *out);

#endif
