/*
 * json.c - JSON writing, fast field extraction and a small tree; see json.h.
 *
 * Two parsers live here, on purpose:
 *  - a hand-written validating scanner (scan_text) for bb_json_fields() and
 *    bb_json_validate(), the hot path of bb-shard and bb-join. It builds
 *    nothing, checks UTF-8 strictly and skips plain string bytes eight at a
 *    time. It accepts a subset of what yajl accepts (see json.h for the
 *    differences) and gives short messages with a byte column.
 *  - yajl's event API for bb_json_parse(), after the scanner has validated
 *    the text, so both agree on what is valid and errors read the same.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "json.h"

#define SCAN_MAX_DEPTH 1024

/* ---- UTF-8 ---- */

/*
 * Length of the valid UTF-8 sequence at p (p < end, *p >= 0x80), or 0 when
 * it is not valid (Unicode table 3-7: no overlongs, no surrogates, nothing
 * above U+10FFFF).
 */
static inline size_t
utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t avail = (size_t)(end - p);

	if (c >= 0xc2 && c <= 0xdf) {
		if (avail >= 2 && (p[1] & 0xc0) == 0x80)
			return 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = 0x80, hi = 0xbf;

		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		if (avail >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80)
			return 3;
	} else if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = 0x80, hi = 0xbf;

		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (avail >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
		    (p[3] & 0xc0) == 0x80)
			return 4;
	}
	return 0;
}

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t
load8(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

int
bb_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	size_t k;

	while (p < end) {
		while (end - p >= 8 && (load8(p) & HIGHS) == 0)
			p += 8;
		if (p >= end)
			break;
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((k = utf8_seq(p, end)) == 0)
			return 0;
		p += k;
	}
	return 1;
}

/* ---- writing ---- */

static const char hexdigits[] = "0123456789abcdef";

/* 1 for bytes that a JSON string must escape. */
static int
needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

int
bb_json_add_str_body(struct bb_buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n, *run;
	size_t old = out->len, k;
	char esc[6];
	int rc = -1;

	if (bb_buf_grow(out, n))
		goto out;
	run = p;
	while (p < end) {
		unsigned char c = *p;

		if (c >= 0x80) {
			if ((k = utf8_seq(p, end)) == 0) {
				errno = EILSEQ;
				goto out;
			}
			p += k;
			continue;
		}
		if (!needs_escape(c)) {
			p++;
			continue;
		}
		if (bb_buf_add(out, run, (size_t)(p - run)))
			goto out;
		esc[0] = '\\';
		k = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hexdigits[c >> 4];
			esc[5] = hexdigits[c & 15];
			k = 6;
		}
		if (bb_buf_add(out, esc, k))
			goto out;
		run = ++p;
	}
	if (bb_buf_add(out, run, (size_t)(p - run)))
		goto out;
	rc = 0;
out:
	if (rc != 0 && out->data != NULL)
		bb_buf_setlen(out, old);
	return rc;
}

int
bb_json_add_str(struct bb_buf *out, const char *s, size_t n)
{
	size_t old = out->len, need;

	if (bb_size_add(n, 2, &need) || bb_buf_grow(out, need))
		return -1;
	if (bb_buf_addc(out, '"') || bb_json_add_str_body(out, s, n) ||
	    bb_buf_addc(out, '"')) {
		bb_buf_setlen(out, old);
		return -1;
	}
	return 0;
}

int
bb_json_add_int(struct bb_buf *out, long long v)
{
	return bb_buf_addf(out, "%lld", v);
}

int
bb_json_add_double(struct bb_buf *out, double v)
{
	char tmp[40];
	int prec;

	if (!isfinite(v)) {
		errno = EDOM;
		return -1;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	return bb_buf_adds(out, tmp);
}

/* ---- appending fields to an object line ---- */

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
bb_json_append_begin(struct bb_json_append *a, struct bb_buf *out,
    const char *line, size_t len, struct bb_error *err)
{
	size_t first = 0, last = len, i;

	a->out = out;
	a->empty = 1;
	while (first < len && is_ws((unsigned char)line[first]))
		first++;
	while (last > first && is_ws((unsigned char)line[last - 1]))
		last--;
	if (last - first < 2 || line[first] != '{' || line[last - 1] != '}')
		return bb_error_set(err, BB_ERR_INPUT, "not a JSON object");
	for (i = first + 1; i < last - 1; i++)
		if (!is_ws((unsigned char)line[i])) {
			a->empty = 0;
			break;
		}
	if (bb_buf_add(out, line, last - 1))
		return bb_error_errno(err, "cannot append to line");
	return 0;
}

/* Start a member: the separator and the key; restores the buffer on error. */
static int
append_key(struct bb_json_append *a, const char *key, size_t *old)
{
	*old = a->out->len;
	if ((!a->empty && bb_buf_addc(a->out, ',')) ||
	    bb_json_add_str(a->out, key, strlen(key)) ||
	    bb_buf_addc(a->out, ':')) {
		if (a->out->data != NULL)
			bb_buf_setlen(a->out, *old);
		return -1;
	}
	return 0;
}

static int
append_done(struct bb_json_append *a, size_t old, int failed)
{
	if (failed) {
		if (a->out->data != NULL)
			bb_buf_setlen(a->out, old);
		return -1;
	}
	a->empty = 0;
	return 0;
}

int
bb_json_append_str(struct bb_json_append *a, const char *key, const char *s, size_t n)
{
	size_t old;

	if (append_key(a, key, &old))
		return -1;
	return append_done(a, old, bb_json_add_str(a->out, s, n) != 0);
}

int
bb_json_append_int(struct bb_json_append *a, const char *key, long long v)
{
	size_t old;

	if (append_key(a, key, &old))
		return -1;
	return append_done(a, old, bb_json_add_int(a->out, v) != 0);
}

int
bb_json_append_double(struct bb_json_append *a, const char *key, double v)
{
	size_t old;

	if (!isfinite(v)) {
		errno = EDOM;
		return -1;
	}
	if (append_key(a, key, &old))
		return -1;
	return append_done(a, old, bb_json_add_double(a->out, v) != 0);
}

int
bb_json_append_bool(struct bb_json_append *a, const char *key, int v)
{
	size_t old;

	if (append_key(a, key, &old))
		return -1;
	return append_done(a, old, bb_buf_adds(a->out, v ? "true" : "false") != 0);
}

int
bb_json_append_null(struct bb_json_append *a, const char *key)
{
	size_t old;

	if (append_key(a, key, &old))
		return -1;
	return append_done(a, old, bb_buf_adds(a->out, "null") != 0);
}

int
bb_json_append_raw(struct bb_json_append *a, const char *key, const char *json, size_t n)
{
	size_t old;

	if (append_key(a, key, &old))
		return -1;
	return append_done(a, old, bb_buf_add(a->out, json, n) != 0);
}

int
bb_json_append_end(struct bb_json_append *a)
{
	return bb_buf_addc(a->out, '}');
}

/* ---- the validating scanner ---- */

/* Top-level keys seen, for duplicate detection and matching. */
struct scan_key {
	const char *p;     /* decoded key bytes (into the text unless `owned`) */
	size_t n;
	uint32_t h;
	int owned;
};

struct scan {
	const unsigned char *base, *end;
	size_t max_depth;
	int object;               /* the text must be an object */
	const char *const *want;  /* keys asked for */
	size_t nwant;
	size_t *wantlen;
	struct bb_json_span *spans;
	struct scan_key *keys;    /* top-level keys */
	size_t nkeys, capkeys;
	uint32_t *table;          /* open addressing over keys (index + 1) */
	size_t tabsize;
	struct scan_key small[32];
	size_t smallwant[16];
	struct bb_error *err;
};

static int
scan_fail(struct scan *s, const unsigned char *p, const char *what)
{
	if (p < s->end && *p == '\0')
		what = "NUL byte";
	return bb_error_set(s->err, BB_ERR_INPUT, "invalid JSON at column %zu: %s",
	    (size_t)(p - s->base) + 1, what);
}

static int
scan_fail_end(struct scan *s, const unsigned char *p, const char *what)
{
	if (p >= s->end)
		what = "unexpected end of text";
	return scan_fail(s, p, what);
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read \uXXXX at p (p[0] == '\\', p[1] == 'u'); -1 if malformed. */
static long
read_u4(const unsigned char *p, const unsigned char *end)
{
	long v = 0;
	int i, h;

	if (end - p < 6)
		return -1;
	for (i = 2; i < 6; i++) {
		if ((h = hexval(p[i])) < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/*
 * Scan a string whose opening quote is at *pp; on success *pp points past
 * the closing quote and *escaped says whether it held any backslash.
 */
static int
scan_string(struct scan *s, const unsigned char **pp, int *escaped)
{
	const unsigned char *p = *pp + 1, *end = s->end;
	size_t k;
	long u, lo;

	*escaped = 0;
	for (;;) {
#if defined(__SSE2__)
		/*
		 * Sixteen bytes at a time (SSE2 is part of x86-64): a signed
		 * compare below 0x20 flags control characters and bytes >= 0x80
		 * at once; the lowest set bit is the first special byte.
		 */
		if (end - p >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
			__m128i m = _mm_or_si128(
			    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
			    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
			    _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
			unsigned bits = (unsigned)_mm_movemask_epi8(m);

			if (bits == 0) {
				p += 16;
				continue;
			}
			p += __builtin_ctz(bits);
		} else
#endif
		/*
		 * Eight bytes at a time: a byte is special when it is '"', '\\',
		 * a control character or >= 0x80. Borrows may flag bytes after a
		 * special one, never before it, so on a little-endian machine the
		 * lowest flagged byte is the first special one.
		 */
		if (end - p >= 8) {
			uint64_t v = load8(p);
			uint64_t q = v ^ (ONES * '"'), b = v ^ (ONES * '\\');
			uint64_t m = ((v - ONES * 0x20) | (q - ONES) | (b - ONES) | v) & HIGHS;

			if (m == 0) {
				p += 8;
				continue;
			}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			p += __builtin_ctzll(m) >> 3;
#endif
		} else if (p >= end)
			return scan_fail_end(s, p, "unterminated string");
		/* most frequent first (a switch on a class table was slower) */
		if (*p == '"') {
			*pp = p + 1;
			return 0;
		}
		if (*p >= 0x80) {
			if ((k = utf8_seq(p, end)) == 0)
				return bb_error_set(s->err, BB_ERR_INPUT,
				    "invalid UTF-8 at column %zu", (size_t)(p - s->base) + 1);
			p += k;
			continue;
		}
		if (*p != '\\') {
			if (*p < 0x20)
				return scan_fail(s, p, "unescaped control character in string");
			p++;
			continue;
		}
		*escaped = 1;
		if (p + 1 >= end)
			return scan_fail_end(s, p + 1, "");
		switch (p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			p += 2;
			break;
		case 'u':
			for (k = 2; k < 6; k++)
				if (p + k >= end || hexval(p[k]) < 0)
					return scan_fail_end(s, p + k,
					    "invalid \\u escape");
			u = read_u4(p, end);
			if (u >= 0xdc00 && u <= 0xdfff)
				return scan_fail(s, p, "unpaired surrogate in \\u escape");
			if (u >= 0xd800 && u <= 0xdbff) {
				if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
				    (lo = read_u4(p + 6, end)) < 0xdc00 || lo > 0xdfff)
					return scan_fail(s, p,
					    "unpaired surrogate in \\u escape");
				p += 6;
			}
			p += 6;
			break;
		default:
			return scan_fail(s, p, "invalid escape in string");
		}
	}
}

static int
scan_number(struct scan *s, const unsigned char **pp)
{
	const unsigned char *p = *pp, *end = s->end;

	if (p < end && *p == '-')
		p++;
	if (p >= end || *p < '0' || *p > '9')
		return scan_fail_end(s, p, "invalid number");
	if (*p == '0')
		p++;
	else
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return scan_fail_end(s, p, "invalid number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return scan_fail_end(s, p, "invalid number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	*pp = p;
	return 0;
}

static uint32_t
key_hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ (unsigned char)*p++) * 16777619u;
	return h;
}

/* Decode the body of a string literal (between the quotes, validated). */
static int
decode_body(const unsigned char *p, const unsigned char *end, struct bb_buf *out)
{
	const unsigned char *run = p;
	long u, lo;
	char enc[4];
	size_t k;

	while (p < end) {
		if (*p != '\\') {
			p++;
			continue;
		}
		if (bb_buf_add(out, run, (size_t)(p - run)))
			return -1;
		if (p + 1 >= end)
			goto bad;
		switch (p[1]) {
		case '"': case '\\': case '/':
			enc[0] = (char)p[1];
			k = 1;
			break;
		case 'b': enc[0] = '\b'; k = 1; break;
		case 'f': enc[0] = '\f'; k = 1; break;
		case 'n': enc[0] = '\n'; k = 1; break;
		case 'r': enc[0] = '\r'; k = 1; break;
		case 't': enc[0] = '\t'; k = 1; break;
		case 'u':
			if ((u = read_u4(p, end)) < 0 || (u >= 0xdc00 && u <= 0xdfff))
				goto bad;
			if (u >= 0xd800 && u <= 0xdbff) {
				if (p + 7 >= end || p[6] != '\\' || p[7] != 'u' ||
				    (lo = read_u4(p + 6, end)) < 0xdc00 || lo > 0xdfff)
					goto bad;
				u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			if (u < 0x80) {
				enc[0] = (char)u;
				k = 1;
			} else if (u < 0x800) {
				enc[0] = (char)(0xc0 | (u >> 6));
				enc[1] = (char)(0x80 | (u & 0x3f));
				k = 2;
			} else if (u < 0x10000) {
				enc[0] = (char)(0xe0 | (u >> 12));
				enc[1] = (char)(0x80 | ((u >> 6) & 0x3f));
				enc[2] = (char)(0x80 | (u & 0x3f));
				k = 3;
			} else {
				enc[0] = (char)(0xf0 | (u >> 18));
				enc[1] = (char)(0x80 | ((u >> 12) & 0x3f));
				enc[2] = (char)(0x80 | ((u >> 6) & 0x3f));
				enc[3] = (char)(0x80 | (u & 0x3f));
				k = 4;
			}
			p += 4;
			break;
		default:
			goto bad;
		}
		if (bb_buf_add(out, enc, k))
			return -1;
		p += 2;
		run = p;
	}
	return bb_buf_add(out, run, (size_t)(p - run));
bad:
	errno = EINVAL;
	return -1;
}

static int
table_insert(struct scan *s, size_t idx)
{
	size_t mask = s->tabsize - 1, i = s->keys[idx].h & mask;

	while (s->table[i] != 0)
		i = (i + 1) & mask;
	s->table[i] = (uint32_t)(idx + 1);
	return 0;
}

static int
table_rebuild(struct scan *s, size_t size)
{
	size_t i;

	free(s->table);
	if ((s->table = calloc(size, sizeof(*s->table))) == NULL)
		return -1;
	s->tabsize = size;
	for (i = 0; i < s->nkeys; i++)
		table_insert(s, i);
	return 0;
}

static const char *
key_shown(const struct scan_key *k, char *tmp, size_t tmpsize)
{
	size_t i, j = 0;

	for (i = 0; i < k->n && j + 5 < tmpsize; i++) {
		unsigned char c = (unsigned char)k->p[i];

		if (c < 0x20 || c == 0x7f || c == '\'') {
			tmp[j++] = '\\';
			tmp[j++] = 'x';
			tmp[j++] = hexdigits[c >> 4];
			tmp[j++] = hexdigits[c & 15];
		} else
			tmp[j++] = (char)c;
	}
	if (i < k->n && j + 4 < tmpsize) {
		memcpy(tmp + j, "...", 3);
		j += 3;
	}
	tmp[j] = '\0';
	return tmp;
}

/*
 * A top-level key [p, end) (the body, without quotes) was read, and its
 * value starts at v. Record it; returns the index of the wanted key it
 * matches, -1 when none, or -2 on error.
 */
static long
scan_top_key(struct scan *s, const unsigned char *p, const unsigned char *end,
    int escaped)
{
	struct scan_key k, *nk;
	struct bb_buf dec = BB_BUF_INIT;
	size_t i, ncap;
	char tmp[80];

	if (escaped) {
		if (decode_body(p, end, &dec) || bb_buf_add(&dec, "", 0)) {
			bb_error_errno(s->err, "cannot decode key");
			return -2;
		}
		k.p = dec.data;
		k.n = dec.len;
		k.owned = 1;
	} else {
		k.p = (const char *)p;
		k.n = (size_t)(end - p);
		k.owned = 0;
	}
	k.h = key_hash(k.p, k.n);
	/* duplicate? */
	if (s->table != NULL) {
		size_t mask = s->tabsize - 1, j = k.h & mask;

		for (; s->table[j] != 0; j = (j + 1) & mask) {
			const struct scan_key *o = &s->keys[s->table[j] - 1];

			if (o->h == k.h && o->n == k.n && memcmp(o->p, k.p, k.n) == 0)
				goto dup;
		}
	} else {
		for (i = 0; i < s->nkeys; i++) {
			const struct scan_key *o = &s->keys[i];

			if (o->h == k.h && o->n == k.n && memcmp(o->p, k.p, k.n) == 0)
				goto dup;
		}
	}
	if (s->nkeys == s->capkeys) {
		if (s->capkeys > UINT32_MAX / 4) {
			errno = EOVERFLOW;
			goto nomem;
		}
		ncap = s->capkeys * 2;
		if (s->keys == s->small) {
			if ((nk = malloc(ncap * sizeof(*nk))) == NULL)
				goto nomem;
			memcpy(nk, s->small, s->nkeys * sizeof(*nk));
		} else if ((nk = realloc(s->keys, ncap * sizeof(*nk))) == NULL)
			goto nomem;
		s->keys = nk;
		s->capkeys = ncap;
	}
	s->keys[s->nkeys++] = k;
	if (s->nkeys >= 16 && (s->table == NULL || s->nkeys * 2 > s->tabsize)) {
		if (table_rebuild(s, s->capkeys * 4))
			goto nomem_recorded;
	} else if (s->table != NULL)
		table_insert(s, s->nkeys - 1);
	for (i = 0; i < s->nwant; i++)
		if (s->wantlen[i] == k.n && memcmp(s->want[i], k.p, k.n) == 0)
			return (long)i;
	return -1;
dup:
	bb_error_set(s->err, BB_ERR_INPUT, "duplicate key '%s'", key_shown(&k, tmp, sizeof(tmp)));
	bb_buf_release(&dec);
	return -2;
nomem:
	bb_buf_release(&dec);
nomem_recorded:
	bb_error_errno(s->err, "cannot check keys");
	return -2;
}

/*
 * Validate one JSON text. With s->want set, the text must be an object and
 * its top-level members are recorded. 0 or -1.
 */
static int
scan_text(struct scan *s, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	const unsigned char *kstart = NULL, *vstart = NULL;
	unsigned char stack[SCAN_MAX_DEPTH / 8];  /* bit set: object at that depth */
	size_t depth = 0;
	long widx = -1;
	int escaped;

	s->base = p;
	s->end = end;
	while (p < end && is_ws(*p))
		p++;
	if (s->object && (p >= end || *p != '{')) {
		if (p < end && (*p == '[' || *p == '"' || *p == '-' || (*p >= '0' && *p <= '9') ||
		    *p == 't' || *p == 'f' || *p == 'n'))
			return bb_error_set(s->err, BB_ERR_INPUT, "not a JSON object");
		return scan_fail_end(s, p, "unexpected character");
	}
value:
	if (p >= end)
		return scan_fail_end(s, p, "");
	if (depth == 1 && s->object)
		vstart = p;
	switch (*p) {
	case '{':
	case '[':
		if (depth >= s->max_depth || depth >= SCAN_MAX_DEPTH)
			return scan_fail(s, p, "nesting too deep");
		if (*p == '{')
			stack[depth / 8] |= (unsigned char)(1u << (depth % 8));
		else
			stack[depth / 8] &= (unsigned char)~(1u << (depth % 8));
		depth++;
		p++;
		while (p < end && is_ws(*p))
			p++;
		if (stack[(depth - 1) / 8] >> ((depth - 1) % 8) & 1) {
			if (p < end && *p == '}') {
				p++;
				depth--;
				goto after;
			}
			goto key;
		}
		if (p < end && *p == ']') {
			p++;
			depth--;
			goto after;
		}
		goto value;
	case '"':
		if (scan_string(s, &p, &escaped))
			return -1;
		goto after;
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		if (scan_number(s, &p))
			return -1;
		goto after;
	case 't':
		if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
			p += 4;
			goto after;
		}
		goto literal;
	case 'f':
		if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
			p += 5;
			goto after;
		}
		goto literal;
	case 'n':
		if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
			p += 4;
			goto after;
		}
		goto literal;
	case ']':
		if (depth > 0 && !(stack[(depth - 1) / 8] >> ((depth - 1) % 8) & 1))
			return scan_fail(s, p, "trailing comma");
		/* FALLTHROUGH */
	default:
		return scan_fail(s, p, "unexpected character");
	}
literal:
	{
		/* a prefix of the literal cut short is an early end */
		const char *lit = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
		size_t i, n = strlen(lit);

		for (i = 0; p + i < end && i < n; i++)
			if (p[i] != (unsigned char)lit[i])
				return scan_fail(s, p + i, "unexpected character");
		return scan_fail_end(s, p + i, "unexpected character");
	}
key:
	if (p >= end || *p != '"') {
		if (p < end && *p == '}')
			return scan_fail(s, p, "trailing comma");
		return scan_fail_end(s, p, "expected a string key");
	}
	kstart = p;
	if (scan_string(s, &p, &escaped))
		return -1;
	if (depth == 1 && s->object) {
		widx = scan_top_key(s, kstart + 1, p - 1, escaped);
		if (widx == -2)
			return -1;
	}
	while (p < end && is_ws(*p))
		p++;
	if (p >= end || *p != ':')
		return scan_fail_end(s, p, "expected ':'");
	p++;
	while (p < end && is_ws(*p))
		p++;
	goto value;
after:
	if (widx >= 0 && depth == 1) {
		s->spans[widx].p = (const char *)vstart;
		s->spans[widx].n = (size_t)(p - vstart);
		switch (*vstart) {
		case '{': s->spans[widx].type = BB_JSON_OBJECT; break;
		case '[': s->spans[widx].type = BB_JSON_ARRAY; break;
		case '"': s->spans[widx].type = BB_JSON_STRING; break;
		case 't': s->spans[widx].type = BB_JSON_TRUE; break;
		case 'f': s->spans[widx].type = BB_JSON_FALSE; break;
		case 'n': s->spans[widx].type = BB_JSON_NULL; break;
		default: s->spans[widx].type = BB_JSON_NUMBER; break;
		}
		widx = -1;
	}
	while (p < end && is_ws(*p))
		p++;
	if (depth == 0) {
		if (p < end)
			return scan_fail(s, p, "trailing characters after the value");
		return 0;
	}
	if (p >= end)
		return scan_fail_end(s, p, "");
	if (stack[(depth - 1) / 8] >> ((depth - 1) % 8) & 1) {
		if (*p == ',') {
			p++;
			while (p < end && is_ws(*p))
				p++;
			goto key;
		}
		if (*p == '}') {
			p++;
			depth--;
			goto after;
		}
		return scan_fail(s, p, "expected ',' or '}'");
	}
	if (*p == ',') {
		p++;
		while (p < end && is_ws(*p))
			p++;
		goto value;
	}
	if (*p == ']') {
		p++;
		depth--;
		goto after;
	}
	return scan_fail(s, p, "expected ',' or ']'");
}

static void
scan_release(struct scan *s)
{
	size_t i;

	for (i = 0; i < s->nkeys; i++)
		if (s->keys[i].owned)
			free((void *)s->keys[i].p);
	if (s->keys != s->small)
		free(s->keys);
	if (s->wantlen != s->smallwant)
		free(s->wantlen);
	free(s->table);
}

static void
scan_init(struct scan *s, size_t max_depth, struct bb_error *err)
{
	/* field by field: the key arrays need no clearing (a memset of the
	 * whole struct was a visible cost per line) */
	s->base = s->end = NULL;
	s->object = 0;
	s->want = NULL;
	s->nwant = 0;
	s->spans = NULL;
	s->nkeys = 0;
	s->table = NULL;
	s->tabsize = 0;
	s->max_depth = max_depth;
	s->keys = s->small;
	s->capkeys = sizeof(s->small) / sizeof(s->small[0]);
	s->wantlen = s->smallwant;
	s->err = err;
}

int
bb_json_fields(const char *text, size_t len, const char *const *keys, size_t nkeys,
    struct bb_json_span *spans, struct bb_error *err)
{
	struct scan s;
	size_t i;
	int rc = -1;

	scan_init(&s, SCAN_MAX_DEPTH, err);
	if (nkeys > sizeof(s.smallwant) / sizeof(s.smallwant[0]) &&
	    (s.wantlen = calloc(nkeys, sizeof(*s.wantlen))) == NULL) {
		s.wantlen = s.smallwant;
		bb_error_errno(err, "cannot parse line");
		goto out;
	}
	for (i = 0; i < nkeys; i++) {
		s.wantlen[i] = strlen(keys[i]);
		spans[i].p = NULL;
		spans[i].n = 0;
		spans[i].type = BB_JSON_NONE;
	}
	s.object = 1;
	s.want = keys;
	s.nwant = nkeys;
	s.spans = spans;
	if (scan_text(&s, text, len))
		goto out;
	rc = 0;
out:
	scan_release(&s);
	return rc;
}

int
bb_json_compact(const char *text, size_t len, struct bb_buf *out)
{
	size_t i = 0, run;

	if (bb_buf_grow(out, len))
		return -1;
	while (i < len) {
		char c = text[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			i++;
			continue;
		}
		run = 1;
		if (c == '"') {
			/* to the closing quote, past escaped characters */
			while (i + run < len && text[i + run] != '"')
				run += text[i + run] == '\\' ? 2 : 1;
			if (i + run < len)
				run++;
			if (i + run > len)
				run = len - i;
		}
		if (bb_buf_add(out, text + i, run))
			return -1;
		i += run;
	}
	return 0;
}

int
bb_json_validate(const char *text, size_t len, size_t max_depth, struct bb_error *err)
{
	struct scan s;
	int rc;

	scan_init(&s, max_depth ? max_depth : 256, err);
	rc = scan_text(&s, text, len);
	scan_release(&s);
	return rc;
}

int
bb_json_span_str(const struct bb_json_span *s, struct bb_buf *out)
{
	const unsigned char *p = (const unsigned char *)s->p;
	size_t old = out->len;

	if (p == NULL || s->n < 2 || p[0] != '"' || p[s->n - 1] != '"') {
		errno = EINVAL;
		return -1;
	}
	if (decode_body(p + 1, p + s->n - 1, out) || bb_buf_add(out, "", 0)) {
		if (out->data != NULL)
			bb_buf_setlen(out, old);
		return -1;
	}
	return 0;
}

int
bb_json_span_int(const struct bb_json_span *s, long long min, long long max, long long *v)
{
	char tmp[32];
	char *e;
	long long x;
	size_t i;

	if (s->p == NULL || s->n == 0 || s->n >= sizeof(tmp)) {
		errno = s->n >= sizeof(tmp) ? ERANGE : EINVAL;
		return -1;
	}
	for (i = 0; i < s->n; i++)
		if (!((s->p[i] >= '0' && s->p[i] <= '9') || (i == 0 && s->p[i] == '-'))) {
			errno = EINVAL;
			return -1;
		}
	memcpy(tmp, s->p, s->n);
	tmp[s->n] = '\0';
	errno = 0;
	x = strtoll(tmp, &e, 10);
	if (*e != '\0' || e == tmp) {
		errno = EINVAL;
		return -1;
	}
	if (errno == ERANGE || x < min || x > max) {
		errno = ERANGE;
		return -1;
	}
	*v = x;
	return 0;
}

/* ---- the tree, built from yajl events ---- */

struct tree {
	struct bb_json *root;
	struct bb_json **stack;   /* open containers */
	size_t depth, cap;
	char *key;                /* pending object key */
	size_t keylen;
	int nomem;
};

static struct bb_json *
node_new(enum bb_json_type t)
{
	struct bb_json *j = calloc(1, sizeof(*j));

	if (j != NULL)
		j->type = t;
	return j;
}

static char *
memdup0(const void *p, size_t n)
{
	char *s;

	if (n == SIZE_MAX || (s = malloc(n + 1)) == NULL)
		return NULL;
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* Attach j to the open container (or make it the root). 1 to go on. */
static int
tree_add(struct tree *t, struct bb_json *j)
{
	struct bb_json *c;
	size_t ncap;
	void *np;

	if (j == NULL)
		goto nomem;
	if (t->depth == 0) {
		t->root = j;
		return 1;
	}
	c = t->stack[t->depth - 1];
	/* capacity: 4, then the next power of two */
	if (c->n == 0 || (c->n >= 4 && (c->n & (c->n - 1)) == 0)) {
		ncap = c->n ? c->n * 2 : 4;
		if (ncap > SIZE_MAX / sizeof(*c->items))
			goto nomem_free;
		if ((np = realloc(c->items, ncap * sizeof(*c->items))) == NULL)
			goto nomem_free;
		c->items = np;
		if (c->type == BB_JSON_OBJECT) {
			if ((np = realloc(c->keys, ncap * sizeof(*c->keys))) == NULL)
				goto nomem_free;
			c->keys = np;
			if ((np = realloc(c->keylens, ncap * sizeof(*c->keylens))) == NULL)
				goto nomem_free;
			c->keylens = np;
		}
	}
	c->items[c->n] = j;
	if (c->type == BB_JSON_OBJECT) {
		c->keys[c->n] = t->key;
		c->keylens[c->n] = t->keylen;
		t->key = NULL;
	}
	c->n++;
	return 1;
nomem_free:
	bb_json_free(j);
nomem:
	t->nomem = 1;
	return 0;
}

static int
cb_null(void *ctx)
{
	return tree_add(ctx, node_new(BB_JSON_NULL));
}

static int
cb_boolean(void *ctx, int v)
{
	return tree_add(ctx, node_new(v ? BB_JSON_TRUE : BB_JSON_FALSE));
}

static int
cb_number(void *ctx, const char *s, size_t n)
{
	struct bb_json *j = node_new(BB_JSON_NUMBER);
	char *e;

	if (j == NULL || (j->str = memdup0(s, n)) == NULL) {
		free(j);
		return tree_add(ctx, NULL);
	}
	j->len = n;
	j->num = strtod(j->str, NULL);
	if (strpbrk(j->str, ".eE") == NULL) {
		errno = 0;
		j->i = strtoll(j->str, &e, 10);
		j->is_int = errno == 0 && *e == '\0';
	}
	return tree_add(ctx, j);
}

static int
cb_string(void *ctx, const unsigned char *s, size_t n)
{
	struct bb_json *j = node_new(BB_JSON_STRING);

	if (j == NULL || (j->str = memdup0(s, n)) == NULL) {
		free(j);
		return tree_add(ctx, NULL);
	}
	j->len = n;
	return tree_add(ctx, j);
}

static int
cb_map_key(void *ctx, const unsigned char *s, size_t n)
{
	struct tree *t = ctx;

	free(t->key);
	if ((t->key = memdup0(s, n)) == NULL) {
		t->nomem = 1;
		return 0;
	}
	t->keylen = n;
	return 1;
}

static int
cb_open(struct tree *t, enum bb_json_type type)
{
	struct bb_json *j = node_new(type);
	void *np;

	if (t->depth == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;

		if ((np = realloc(t->stack, ncap * sizeof(*t->stack))) == NULL) {
			bb_json_free(j);
			t->nomem = 1;
			return 0;
		}
		t->stack = np;
		t->cap = ncap;
	}
	if (!tree_add(t, j))
		return 0;
	t->stack[t->depth++] = j;
	return 1;
}

static int
cb_start_map(void *ctx)
{
	return cb_open(ctx, BB_JSON_OBJECT);
}

static int
cb_start_array(void *ctx)
{
	return cb_open(ctx, BB_JSON_ARRAY);
}

static int
cb_close(void *ctx)
{
	struct tree *t = ctx;

	t->depth--;
	return 1;
}

static const yajl_callbacks tree_callbacks = {
	cb_null, cb_boolean, NULL, NULL, cb_number, cb_string,
	cb_start_map, cb_map_key, cb_close, cb_start_array, cb_close,
};

int
bb_json_parse(const char *text, size_t len, size_t max_depth, struct bb_json **out,
    struct bb_error *err)
{
	struct tree t;
	yajl_handle h = NULL;
	yajl_status st;
	int rc = -1;

	memset(&t, 0, sizeof(t));
	*out = NULL;
	if (bb_json_validate(text, len, max_depth, err))
		goto out;
	if ((h = yajl_alloc(&tree_callbacks, NULL, &t)) == NULL) {
		bb_error_errno(err, "cannot parse JSON");
		goto out;
	}
	st = yajl_parse(h, (const unsigned char *)text, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok || t.root == NULL) {
		if (t.nomem) {
			errno = ENOMEM;
			bb_error_errno(err, "cannot parse JSON");
		} else
			bb_error_set(err, BB_ERR_INPUT, "invalid JSON at column %zu",
			    yajl_get_bytes_consumed(h) + 1);
		goto out;
	}
	*out = t.root;
	t.root = NULL;
	rc = 0;
out:
	if (h != NULL)
		yajl_free(h);
	bb_json_free(t.root);
	free(t.stack);
	free(t.key);
	return rc;
}

void
bb_json_free(struct bb_json *j)
{
	size_t i;

	if (j == NULL)
		return;
	for (i = 0; i < j->n; i++) {
		bb_json_free(j->items[i]);
		if (j->keys != NULL)
			free(j->keys[i]);
	}
	free(j->items);
	free(j->keys);
	free(j->keylens);
	free(j->str);
	free(j);
}

const struct bb_json *
bb_json_get(const struct bb_json *j, const char *key)
{
	size_t i, n;

	if (j == NULL || j->type != BB_JSON_OBJECT || key == NULL)
		return NULL;
	n = strlen(key);
	for (i = j->n; i-- > 0;)
		if (j->keylens[i] == n && memcmp(j->keys[i], key, n) == 0)
			return j->items[i];
	return NULL;
}

const struct bb_json *
bb_json_path(const struct bb_json *j, const char *path)
{
	const char *p = path, *dot;
	size_t n, i, idx;
	int isnum;

	while (j != NULL && p != NULL && *p != '\0') {
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (j->type == BB_JSON_OBJECT) {
			const struct bb_json *found = NULL;

			for (i = j->n; i-- > 0;)
				if (j->keylens[i] == n && memcmp(j->keys[i], p, n) == 0) {
					found = j->items[i];
					break;
				}
			j = found;
		} else if (j->type == BB_JSON_ARRAY) {
			isnum = n > 0 && n < 20;
			idx = 0;
			for (i = 0; i < n && isnum; i++) {
				if (p[i] < '0' || p[i] > '9' || (i == 0 && p[i] == '0' && n > 1))
					isnum = 0;
				else
					idx = idx * 10 + (size_t)(p[i] - '0');
			}
			j = isnum && idx < j->n ? j->items[idx] : NULL;
		} else
			j = NULL;
		p = dot ? dot + 1 : NULL;
	}
	return j;
}

const char *
bb_json_str(const struct bb_json *j)
{
	return j != NULL && j->type == BB_JSON_STRING ? j->str : NULL;
}

int
bb_json_is(const struct bb_json *j, enum bb_json_type t)
{
	return j != NULL && j->type == t;
}

int
bb_json_write(const struct bb_json *j, struct bb_buf *out)
{
	size_t i;

	switch (j->type) {
	case BB_JSON_NULL:
		return bb_buf_adds(out, "null");
	case BB_JSON_FALSE:
		return bb_buf_adds(out, "false");
	case BB_JSON_TRUE:
		return bb_buf_adds(out, "true");
	case BB_JSON_NUMBER:
		return bb_buf_add(out, j->str, j->len);
	case BB_JSON_STRING:
		return bb_json_add_str(out, j->str, j->len);
	case BB_JSON_ARRAY:
	case BB_JSON_OBJECT:
		if (bb_buf_addc(out, j->type == BB_JSON_ARRAY ? '[' : '{'))
			return -1;
		for (i = 0; i < j->n; i++) {
			if (i > 0 && bb_buf_addc(out, ','))
				return -1;
			if (j->type == BB_JSON_OBJECT &&
			    (bb_json_add_str(out, j->keys[i], j->keylens[i]) ||
			    bb_buf_addc(out, ':')))
				return -1;
			if (bb_json_write(j->items[i], out))
				return -1;
		}
		return bb_buf_addc(out, j->type == BB_JSON_ARRAY ? ']' : '}');
	default:
		errno = EINVAL;
		return -1;
	}
}
