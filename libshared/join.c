/*
 * join.c - the outputs of one batch job, indexed by recordId (join.h).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "hash.h"
#include "join.h"
#include "json.h"

/* ---- a walk over JSON text: structure checked, contents skipped ---- */

#define MAX_DEPTH 256

struct span {
	const char *p;
	size_t n;
};

/* A key to look for, with its length. */
struct key {
	const char *s;
	size_t n;
};
#define KEY(s) { s, sizeof(s) - 1 }

struct scan {
	const char *base;     /* the start of the text, for columns */
	const char *e;        /* its end */
	const char *bad;      /* where the structure broke, or NULL */
	const char *why;
	char msg[160];        /* room for a why */
};

static const char *
fail(struct scan *s, const char *p, const char *why)
{
	if (s->bad == NULL) {
		s->bad = p;
		s->why = why;
	}
	return NULL;
}

static inline const char *
skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

#if !defined(__SSE2__)
/* Bytes of x equal to c have their high bit set in the result (SWAR; a
 * zero result is exact). */
static inline uint64_t
has_byte(uint64_t x, unsigned char c)
{
	uint64_t v = x ^ (0x0101010101010101ULL * c);

	return (v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL;
}
#endif

/* The first '"' or '\\' in [p, e), or e (or p itself when p > e). */
static inline const char *
find_quote(const char *p, const char *e)
{
#if defined(__SSE2__)
	const __m128i q = _mm_set1_epi8('"'), b = _mm_set1_epi8('\\');

	while (e - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, q),
		    _mm_cmpeq_epi8(v, b)));

		if (m != 0)
			return p + __builtin_ctz(m);
		p += 16;
	}
#else
	uint64_t w;

	while (e - p >= 8) {
		memcpy(&w, p, 8);
		if ((has_byte(w, '"') | has_byte(w, '\\')) != 0)
			break;
		p += 8;
	}
#endif
	while (p < e && *p != '"' && *p != '\\')
		p++;
	return p;
}

/* p at '"': the byte after the closing quote, NULL when unterminated. */
static inline const char *
str_end(struct scan *s, const char *p)
{
	const char *e = s->e;

	for (p++;;) {
		p = find_quote(p, e);
		if (p >= e)
			return fail(s, e, "unterminated string");
		if (*p == '"')
			return p + 1;
		p += 2;
	}
}

static const char *skip_value(struct scan *s, const char *p, int depth);

/*
 * Walk the object or array at p to its end. In an object, the values of
 * the n keys are stored in out (the first one when a key is repeated;
 * *dup is set then, when dup is given); out[i].p stays NULL for a key
 * that is absent. Keys are compared as raw bytes (ours have no escapes).
 */
static const char *
walk(struct scan *s, const char *p, int depth, const struct key *keys, size_t n,
    struct span *out, int *dup)
{
	const char *e = s->e, *k, *v;
	char close = *p == '{' ? '}' : ']';
	size_t i, kl = 0;

	if (depth > MAX_DEPTH)
		return fail(s, p, "nesting too deep");
	for (i = 0; i < n; i++)
		out[i].p = NULL, out[i].n = 0;
	p = skip_ws(p + 1, e);
	if (p < e && *p == close)
		return p + 1;
	for (;;) {
		k = NULL;
		if (close == '}') {
			if (p >= e || *p != '"')
				return fail(s, p, "expected a key");
			k = p + 1;
			if ((p = str_end(s, p)) == NULL)
				return NULL;
			kl = (size_t)(p - 1 - k);
			p = skip_ws(p, e);
			if (p >= e || *p != ':')
				return fail(s, p, "expected ':'");
			p = skip_ws(p + 1, e);
		}
		v = p;
		if ((p = skip_value(s, p, depth)) == NULL)
			return NULL;
		for (i = 0; k != NULL && i < n; i++) {
			if (kl == keys[i].n && memcmp(k, keys[i].s, kl) == 0) {
				if (out[i].p == NULL) {
					out[i].p = v;
					out[i].n = (size_t)(p - v);
				} else if (dup != NULL) {
					*dup = (int)i + 1;
				}
				break;
			}
		}
		p = skip_ws(p, e);
		if (p < e && *p == ',') {
			p = skip_ws(p + 1, e);
			continue;
		}
		if (p < e && *p == close)
			return p + 1;
		return fail(s, p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static const char *
literal(struct scan *s, const char *p, const char *word, size_t n)
{
	if ((size_t)(s->e - p) < n || memcmp(p, word, n) != 0)
		return fail(s, p, "unexpected character");
	return p + n;
}

/* The end of the value at p. Numbers are taken as runs of the characters
 * a number is made of (valid() checks a copied one in full). */
static const char *
skip_value(struct scan *s, const char *p, int depth)
{
	const char *e = s->e, *q;

	if (p >= e)
		return fail(s, p, "expected a value");
	switch (*p) {
	case '"':
		return str_end(s, p);
	case '{':
	case '[':
		return walk(s, p, depth + 1, NULL, 0, NULL, NULL);
	case 't':
		return literal(s, p, "true", 4);
	case 'f':
		return literal(s, p, "false", 5);
	case 'n':
		return literal(s, p, "null", 4);
	default:
		q = p;
		if (*q == '-')
			q++;
		if (q >= e || *q < '0' || *q > '9')
			return fail(s, p, "unexpected character");
		while (q < e && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' ||
		    *q == 'E' || *q == '+' || *q == '-'))
			q++;
		return q;
	}
}

/* A scan of the text [p, p + n). */
static void
scan_init(struct scan *s, const char *p, size_t n)
{
	s->base = p;
	s->e = p + n;
	s->bad = NULL;
	s->why = NULL;
}

/* The members keys[0..n) of the object v: 1 when v is an object, 0 when
 * it is not (or is broken: s->bad is set then). */
static int
get(struct scan *s, struct span v, const struct key *keys, size_t n, struct span *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i].p = NULL, out[i].n = 0;
	if (v.p == NULL || v.n < 2 || v.p[0] != '{')
		return 0;
	return walk(s, v.p, 1, keys, n, out, NULL) != NULL;
}

static int
is_str(struct span v)
{
	return v.p != NULL && v.n >= 2 && v.p[0] == '"';
}

static int
is_arr(struct span v)
{
	return v.p != NULL && v.n >= 2 && v.p[0] == '[';
}

static int
is_obj(struct span v)
{
	return v.p != NULL && v.n >= 2 && v.p[0] == '{';
}

/* Array iteration: *pos starts at NULL; 1 and *out for each element. */
static int
arr_next(struct scan *s, struct span a, const char **pos, struct span *out)
{
	const char *p = *pos, *e = a.p + a.n;

	p = p == NULL ? skip_ws(a.p + 1, e) : skip_ws(p, e);
	if (p < e && *p == ',')
		p = skip_ws(p + 1, e);
	if (p >= e || *p == ']')
		return 0;
	out->p = p;
	if ((p = skip_value(s, p, 1)) == NULL)
		return 0;
	out->n = (size_t)(p - out->p);
	*pos = p;
	return 1;
}

/* Element i of the array a. */
static int
arr_at(struct scan *s, struct span a, size_t i, struct span *out)
{
	const char *pos = NULL;
	size_t k;

	if (!is_arr(a))
		return 0;
	for (k = 0; arr_next(s, a, &pos, out); k++)
		if (k == i)
			return 1;
	return 0;
}

/*
 * The full check of a value that is copied into a result: 1 when it is
 * valid JSON; else 0, and the scan fails there (the line is refused).
 */
static int
valid(struct scan *s, struct span v)
{
	struct bb_error e;

	if (v.p == NULL)
		return 0;
	if (bb_json_validate(v.p, v.n, 0, &e) == 0)
		return 1;
	if (s->bad == NULL) {
		snprintf(s->msg, sizeof(s->msg), "in a value that is copied: %.120s", e.msg);
		fail(s, v.p, s->msg);
	}
	return 0;
}

/* 1 when v is an array of numbers only. */
static int
all_numbers(struct scan *s, struct span a)
{
	struct span el;
	const char *pos = NULL;

	if (!is_arr(a))
		return 0;
	while (arr_next(s, a, &pos, &el))
		if (!(el.p[0] == '-' || (el.p[0] >= '0' && el.p[0] <= '9')))
			return 0;
	return 1;
}

/* A token count: a JSON integer in [0, 2^62], else -1. */
static long long
tokens(struct span v)
{
	long long n = 0;
	size_t i;

	if (v.p == NULL || v.n == 0 || v.n > 19 || (v.p[0] == '0' && v.n > 1))
		return -1;
	for (i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		n = n * 10 + (v.p[i] - '0');
	}
	return n <= (1LL << 62) ? n : -1;
}

/* The first of the candidates that is a string (valid, else the scan
 * fails). */
static struct span
stop_of(struct scan *s, struct span a, struct span b)
{
	static const struct span none = { NULL, 0 };

	if (is_str(a) && valid(s, a))
		return a;
	if (is_str(b) && valid(s, b))
		return b;
	return none;
}

/*
 * The text of each block of an array, concatenated into one literal:
 * blocks of the given type (or any, type NULL) with a "text" string.
 * Each block is walked once. 1 when a text is not valid JSON (the scan
 * fails then).
 */
static int
add_texts(struct scan *s, struct bb_buf *out, struct span blocks, const char *type, int *r)
{
	static const struct key k[] = { KEY("type"), KEY("text") };
	struct span f[2];
	const char *p = skip_ws(blocks.p + 1, s->e), *e = blocks.p + blocks.n;
	size_t tl = type ? strlen(type) : 0;

	*r |= bb_buf_addc(out, '"');
	while (p < e && *p != ']') {
		if (*p == '{') {
			if ((p = walk(s, p, 2, k, 2, f, NULL)) == NULL)
				return 1;
			if ((type == NULL || (is_str(f[0]) && f[0].n == tl + 2 &&
			    memcmp(f[0].p + 1, type, tl) == 0)) && is_str(f[1])) {
				if (!valid(s, f[1]))
					return 1;
				*r |= bb_buf_add(out, f[1].p + 1, f[1].n - 2);
			}
		} else if ((p = skip_value(s, p, 2)) == NULL) {
			return 1;
		}
		p = skip_ws(p, e);
		if (p < e && *p == ',')
			p = skip_ws(p + 1, e);
	}
	*r |= bb_buf_addc(out, '"');
	return 0;
}

/* The members of modelOutput each family reads (the first is the output). */
static const struct key k_anthropic[] = { KEY("content"), KEY("stop_reason"), KEY("usage") };
static const struct key k_nova[] = { KEY("output"), KEY("stopReason"), KEY("usage") };
static const struct key k_llama[] = { KEY("generation"), KEY("stop_reason"),
    KEY("prompt_token_count"), KEY("generation_token_count") };
static const struct key k_mistral[] = { KEY("outputs") };
static const struct key k_chat[] = { KEY("choices"), KEY("usage") };
static const struct key k_titan[] = { KEY("embedding"), KEY("embeddingsByType"),
    KEY("inputTextTokenCount") };
static const struct key k_cohere[] = { KEY("embeddings"), KEY("meta") };

static const struct {
	const struct key *keys;
	size_t n;
} family_keys[] = {
	[BB_FAMILY_ANTHROPIC] = { k_anthropic, 3 },
	[BB_FAMILY_NOVA] = { k_nova, 3 },
	[BB_FAMILY_CONVERSE] = { k_nova, 3 },
	[BB_FAMILY_LLAMA] = { k_llama, 4 },
	[BB_FAMILY_MISTRAL] = { k_mistral, 1 },
	[BB_FAMILY_MISTRAL_CHAT] = { k_chat, 2 },
	[BB_FAMILY_TITAN_EMBED] = { k_titan, 3 },
	[BB_FAMILY_COHERE_EMBED] = { k_cohere, 2 },
};

/*
 * The extraction (join.h, bb_join_extract) from the modelOutput value at
 * p, walked to its end (*end; NULL when its structure is broken, s->bad
 * says where): output appended to out, the stop reason as a span of the
 * text (validated), or *bad says why the value has not the family's
 * shape. Returns -1 when memory ran out.
 */
static int
extract(struct scan *s, enum bb_family f, const char *p, int depth, struct bb_buf *out,
    struct span *stop, long long *in_tok, long long *out_tok, const char **bad,
    const char **end)
{
	static const struct key k_anthropic_usage[] = { KEY("input_tokens"),
	    KEY("output_tokens") };
	static const struct key k_nova_usage[] = { KEY("inputTokens"), KEY("outputTokens") };
	static const struct key k_message[] = { KEY("message") };
	static const struct key k_content[] = { KEY("content") };
	static const struct key k_text_stop[] = { KEY("text"), KEY("stop_reason") };
	static const struct key k_choice[] = { KEY("message"), KEY("stop_reason"),
	    KEY("finish_reason") };
	static const struct key k_chat_usage[] = { KEY("prompt_tokens"),
	    KEY("completion_tokens") };
	static const struct key k_float[] = { KEY("float") };
	static const struct key k_billed[] = { KEY("billed_units") };
	static const struct key k_input_tokens[] = { KEY("input_tokens") };
	struct span v[4], w[3], x[1], none = { NULL, 0 };
	size_t start = out->len;
	int r = 0;

	*in_tok = *out_tok = -1;
	*stop = none;
	*bad = NULL;
	if (p >= s->e || *p != '{') {
		*end = skip_value(s, p, depth);
		*bad = "modelOutput: not a JSON object";
		return 0;
	}
	if ((unsigned)f >= sizeof(family_keys) / sizeof(family_keys[0]) ||
	    family_keys[f].keys == NULL) {
		*end = skip_value(s, p, depth);
		*bad = "unknown model family: cannot read modelOutput";
		return 0;
	}
	*end = walk(s, p, depth, family_keys[f].keys, family_keys[f].n, v, NULL);
	if (*end == NULL)
		return 0;
	switch (f) {
	case BB_FAMILY_ANTHROPIC:
		if (!is_arr(v[0])) {
			*bad = "modelOutput.content: not an array";
			break;
		}
		if (add_texts(s, out, v[0], "text", &r)) {
			*bad = "modelOutput.content: a text is not valid JSON";
			break;
		}
		*stop = stop_of(s, v[1], none);
		if (get(s, v[2], k_anthropic_usage, 2, w)) {
			*in_tok = tokens(w[0]);
			*out_tok = tokens(w[1]);
		}
		break;
	case BB_FAMILY_NOVA:
	case BB_FAMILY_CONVERSE:
		if (!get(s, v[0], k_message, 1, x) || !get(s, x[0], k_content, 1, x) ||
		    !is_arr(x[0])) {
			*bad = "modelOutput.output.message.content: not an array";
			break;
		}
		if (add_texts(s, out, x[0], NULL, &r)) {
			*bad = "modelOutput.output.message.content: a text is not valid JSON";
			break;
		}
		*stop = stop_of(s, v[1], none);
		if (get(s, v[2], k_nova_usage, 2, w)) {
			*in_tok = tokens(w[0]);
			*out_tok = tokens(w[1]);
		}
		break;
	case BB_FAMILY_LLAMA:
		if (!is_str(v[0]) || !valid(s, v[0])) {
			*bad = "modelOutput.generation: not a string";
			break;
		}
		r |= bb_buf_add(out, v[0].p, v[0].n);
		*stop = stop_of(s, v[1], none);
		*in_tok = tokens(v[2]);
		*out_tok = tokens(v[3]);
		break;
	case BB_FAMILY_MISTRAL:
		if (!arr_at(s, v[0], 0, &v[1]) || !get(s, v[1], k_text_stop, 2, w) ||
		    !is_str(w[0]) || !valid(s, w[0])) {
			*bad = "modelOutput.outputs.0.text: not a string";
			break;
		}
		r |= bb_buf_add(out, w[0].p, w[0].n);
		*stop = stop_of(s, w[1], none);
		break;
	case BB_FAMILY_MISTRAL_CHAT:
		if (!arr_at(s, v[0], 0, &v[2]) || !get(s, v[2], k_choice, 3, w) ||
		    !get(s, w[0], k_content, 1, x) || !is_str(x[0]) || !valid(s, x[0])) {
			*bad = "modelOutput.choices.0.message.content: not a string";
			break;
		}
		r |= bb_buf_add(out, x[0].p, x[0].n);
		*stop = stop_of(s, w[1], w[2]);
		if (get(s, v[1], k_chat_usage, 2, w)) {
			*in_tok = tokens(w[0]);
			*out_tok = tokens(w[1]);
		}
		break;
	case BB_FAMILY_TITAN_EMBED:
		if (v[0].p == NULL && get(s, v[1], k_float, 1, x))
			v[0] = x[0];
		if (!all_numbers(s, v[0]) || !valid(s, v[0])) {
			*bad = "modelOutput.embedding: not an array of numbers";
			break;
		}
		r |= bb_buf_add(out, v[0].p, v[0].n);
		*in_tok = tokens(v[2]);
		break;
	case BB_FAMILY_COHERE_EMBED:
		if (v[0].p == NULL) {
			*bad = "modelOutput.embeddings: not an array";
			break;
		}
		if (is_obj(v[0])) {
			if (get(s, v[0], k_float, 1, x) && x[0].p != NULL) {
				v[0] = x[0];
			} else {
				/* the first type's value */
				const char *q = skip_ws(v[0].p + 1, s->e), *qe = NULL;

				if (*q == '"' && (q = str_end(s, q)) != NULL) {
					q = skip_ws(skip_ws(q, s->e) + 1, s->e);
					qe = skip_value(s, q, depth + 1);
				}
				if (qe != NULL) {
					v[0].p = q;
					v[0].n = (size_t)(qe - q);
				}
			}
		}
		if (!is_arr(v[0])) {
			*bad = "modelOutput.embeddings: not an array";
			break;
		}
		{
			struct span el;
			const char *pos = NULL;
			size_t n = 0;

			while (arr_next(s, v[0], &pos, &el))
				n++;
			if (n == 1) {
				arr_at(s, v[0], 0, &el);
				if (!all_numbers(s, el)) {
					*bad = "modelOutput.embeddings.0: not an array of numbers";
					break;
				}
				v[0] = el;
			}
		}
		if (!valid(s, v[0])) {
			*bad = "modelOutput.embeddings: not valid JSON";
			break;
		}
		r |= bb_buf_add(out, v[0].p, v[0].n);
		if (get(s, v[1], k_billed, 1, x) && get(s, x[0], k_input_tokens, 1, x))
			*in_tok = tokens(x[0]);
		break;
	case BB_FAMILY_UNKNOWN:
		break;
	}
	if (s->bad != NULL) {
		*end = NULL;          /* a copied value is not valid: the line is refused */
		*bad = NULL;
	}
	if (*bad != NULL || r || *end == NULL) {
		bb_buf_setlen(out, start);
		*stop = none;
		*in_tok = *out_tok = -1;
	}
	return r ? -1 : 0;
}

int
bb_join_extract(enum bb_family f, const char *text, size_t len, struct bb_buf *output,
    struct bb_buf *stop, long long *in_tok, long long *out_tok, struct bb_error *err)
{
	struct scan s;
	struct span st;
	const char *bad, *p, *end;

	bb_buf_reset(stop);
	scan_init(&s, text, len);
	p = skip_ws(text, s.e);
	if (extract(&s, f, p, 1, output, &st, in_tok, out_tok, &bad, &end) ||
	    (st.p != NULL && bb_buf_add(stop, st.p, st.n)))
		return bb_error_errno(err, "modelOutput");
	if (end != NULL && skip_ws(end, s.e) != s.e)
		fail(&s, skip_ws(end, s.e), "bytes after the end");
	if (s.bad != NULL) {
		bb_buf_reset(stop);
		return bb_error_set(err, BB_ERR_INPUT, "modelOutput: invalid JSON at column %zu: %s",
		    (size_t)(s.bad - text) + 1, s.why);
	}
	if (bad != NULL)
		return bb_error_set(err, BB_ERR_INPUT, "%s", bad);
	return 0;
}

/* ---- the index ---- */

#define TAG_MASK 0xffffff0000000000ULL   /* the hash bits kept in a slot */

void
bb_join_index_init(struct bb_join_index *x, enum bb_family family, unsigned flags)
{
	memset(x, 0, sizeof(*x));
	x->family = family;
	x->flags = flags;
	bb_buf_init(&x->arena);
	bb_buf_init(&x->id);
	bb_buf_init(&x->out);
	bb_buf_init(&x->stop);
}

void
bb_join_index_reset(struct bb_join_index *x)
{
	bb_buf_reset(&x->arena);
	x->n = 0;
	x->lines = 0;
	x->duplicates = 0;
	if (x->table)
		memset(x->table, 0, x->tcap * sizeof(*x->table));
}

void
bb_join_index_release(struct bb_join_index *x)
{
	bb_buf_release(&x->arena);
	bb_buf_release(&x->id);
	bb_buf_release(&x->out);
	bb_buf_release(&x->stop);
	free(x->order);
	free(x->table);
	bb_join_index_init(x, x->family, x->flags);
}

static inline struct bb_join_entry *
at(const struct bb_join_index *x, size_t off)
{
	return (struct bb_join_entry *)(void *)(x->arena.data + off);
}

/* A table slot: the top of the hash (compared before the entry is
 * touched) and where the entry is. */
static inline uint64_t
slot(uint64_t h, size_t off)
{
	return (h & TAG_MASK) | (uint64_t)(off / 8 + 1);
}

static inline size_t
slot_off(uint64_t s)
{
	return (size_t)((s & ~TAG_MASK) - 1) * 8;
}

static int
table_grow(struct bb_join_index *x)
{
	size_t ncap = x->tcap ? x->tcap * 2 : 1024, i, j;
	uint64_t *t;

	if (ncap > ((size_t)1 << 33))
		return -1;
	t = calloc(ncap, sizeof(*t));
	if (t == NULL)
		return -1;
	for (i = 0; i < x->n; i++) {
		uint64_t h = at(x, x->order[i])->hash;

		for (j = h & (ncap - 1); t[j]; j = (j + 1) & (ncap - 1))
			;
		t[j] = slot(h, x->order[i]);
	}
	free(x->table);
	x->table = t;
	x->tcap = ncap;
	return 0;
}

/* The slot of the entry of id, or NULL. */
static uint64_t *
find(struct bb_join_index *x, uint64_t h, const char *id, size_t len)
{
	size_t j;

	if (x->tcap == 0)
		return NULL;
	for (j = h & (x->tcap - 1); x->table[j]; j = (j + 1) & (x->tcap - 1)) {
		struct bb_join_entry *e;

		if ((x->table[j] & TAG_MASK) != (h & TAG_MASK))
			continue;
		e = at(x, slot_off(x->table[j]));
		if (e->hash == h && e->id.len == len &&
		    memcmp(bb_join_ref_ptr(e, e->id), id, len) == 0)
			return &x->table[j];
	}
	return NULL;
}

struct bb_join_entry *
bb_join_index_find(struct bb_join_index *x, const char *id, size_t len)
{
	uint64_t *s = find(x, bb_hash64(id, len), id, len);

	return s != NULL ? at(x, slot_off(*s)) : NULL;
}

void
bb_join_index_prefetch(const struct bb_join_index *x, const char *id, size_t len, int entry)
{
	uint64_t h, *t;
	size_t j;

	if (x->tcap == 0)
		return;
	h = bb_hash64(id, len);
	j = h & (x->tcap - 1);
	t = &x->table[j];
	if (!entry) {
		__builtin_prefetch(t);
		return;
	}
	for (; *t != 0; j = (j + 1) & (x->tcap - 1), t = &x->table[j]) {
		if ((*t & TAG_MASK) == (h & TAG_MASK)) {
			/* the header and the id after it */
			__builtin_prefetch(x->arena.data + slot_off(*t));
			__builtin_prefetch(x->arena.data + slot_off(*t) + 64);
			return;
		}
	}
}

struct bb_join_entry *
bb_join_index_entry(struct bb_join_index *x, size_t i)
{
	return i < x->n ? at(x, x->order[i]) : NULL;
}

/* Append bytes to the entry starting at rec; r is relative to it. */
static int
put(struct bb_buf *a, size_t rec, const char *p, size_t n, struct bb_join_ref *r)
{
	if (a->len - rec > UINT32_MAX || n > UINT32_MAX - (a->len - rec)) {
		errno = EOVERFLOW;
		return -1;
	}
	r->off = (uint32_t)(a->len - rec);
	r->len = (uint32_t)n;
	return n ? bb_buf_add(a, p, n) : 0;
}

/* What one walk of an output line finds. */
struct line {
	struct span id, mo, error;
	struct span stop;           /* from the modelOutput */
	size_t out_off, out_len;    /* the output, in the arena */
	long long in_tok, out_tok;
	const char *bad;            /* why the modelOutput cannot be read */
	size_t id_off;              /* the raw recordId in the arena, or 0 */
};

/*
 * Walk an output line (the whole of it, structure checked: join.h),
 * extracting from modelOutput on the way into the arena.
 */
static int
line_walk(struct bb_join_index *x, const char *line, size_t len, struct line *l,
    struct bb_error *err)
{
	struct scan s;
	const char *p, *k, *v, *e = line + len;
	struct span *sp;
	size_t kl;
	int r;

	memset(l, 0, sizeof(*l));
	scan_init(&s, line, len);
	p = skip_ws(line, e);
	if (p >= e || *p != '{')
		return bb_error_set(err, BB_ERR_INPUT, "not a JSON object");
	p = skip_ws(p + 1, e);
	if (p < e && *p == '}') {
		p++;
		goto end;
	}
	for (;;) {
		if (p >= e || *p != '"') {
			fail(&s, p, "expected a key");
			goto bad;
		}
		k = p + 1;
		if ((p = str_end(&s, p)) == NULL)
			goto bad;
		kl = (size_t)(p - 1 - k);
		p = skip_ws(p, e);
		if (p >= e || *p != ':') {
			fail(&s, p, "expected ':'");
			goto bad;
		}
		v = p = skip_ws(p + 1, e);
		sp = NULL;
		if (kl == 8 && memcmp(k, "recordId", 8) == 0)
			sp = &l->id;
		else if (kl == 11 && memcmp(k, "modelOutput", 11) == 0)
			sp = &l->mo;
		else if (kl == 5 && memcmp(k, "error", 5) == 0)
			sp = &l->error;
		if (sp != NULL && sp->p != NULL)
			return bb_error_set(err, BB_ERR_INPUT, "duplicate key '%.*s'", (int)kl, k);
		if (sp == &l->mo) {
			l->out_off = x->arena.len;
			r = extract(&s, x->family, p, 2, &x->arena, &l->stop, &l->in_tok,
			    &l->out_tok, &l->bad, &p);
			l->out_len = x->arena.len - l->out_off;
			if (r) {
				errno = ENOMEM;
				return bb_error_errno(err, "indexing outputs");
			}
		} else {
			p = skip_value(&s, p, 1);
		}
		if (p == NULL)
			goto bad;
		if (sp != NULL) {
			sp->p = v;
			sp->n = (size_t)(p - v);
		}
		if (sp == &l->id && is_str(l->id) && l->mo.p == NULL) {
			/* its table slot on the way while the rest is walked */
			if (x->tcap != 0)
				__builtin_prefetch(&x->table[bb_hash64(v + 1, l->id.n - 2) &
				    (x->tcap - 1)]);
			/* its raw bytes right after the entry's header, where a
			 * lookup finds them in the header's cache lines (used when
			 * they are the decoded id: no escapes) */
			l->id_off = x->arena.len;
			if (bb_buf_add(&x->arena, v + 1, l->id.n - 2)) {
				errno = ENOMEM;
				return bb_error_errno(err, "indexing outputs");
			}
		}
		p = skip_ws(p, e);
		if (p < e && *p == ',') {
			p = skip_ws(p + 1, e);
			continue;
		}
		if (p < e && *p == '}') {
			p++;
			break;
		}
		fail(&s, p, "expected ',' or '}'");
		goto bad;
	}
end:
	if ((p = skip_ws(p, e)) == e)
		return 0;
	fail(&s, p, "bytes after the end");
bad:
	return bb_error_set(err, BB_ERR_INPUT, "invalid JSON at column %zu: %s",
	    (size_t)(s.bad - line) + 1, s.why);
}

int
bb_join_index_add(struct bb_join_index *x, const char *line, size_t len, struct bb_error *err)
{
	static const char zero[8];
	struct bb_buf *id = &x->id, *a = &x->arena;
	struct bb_json_span jid;
	struct bb_join_entry ne, *e;
	struct line l;
	uint64_t h, *old = NULL;
	size_t rec, mark = a->len;
	int r = 0;

	x->lines++;
	/* the entry's header first, the output extracted right after it */
	if (a->len % 8)
		r |= bb_buf_add(a, zero, 8 - a->len % 8);
	rec = a->len;
	memset(&ne, 0, sizeof(ne));
	r |= bb_buf_add(a, &ne, sizeof(ne));
	if (r)
		goto nomem;
	if (line_walk(x, line, len, &l, err))
		goto fail;
	if (!is_str(l.id)) {
		bb_error_set(err, BB_ERR_INPUT, "no \"recordId\" string");
		goto fail;
	}
	if (l.mo.p == NULL && l.error.p == NULL) {
		bb_error_set(err, BB_ERR_INPUT, "neither \"modelOutput\" nor \"error\"");
		goto fail;
	}
	if (l.mo.p == NULL && bb_json_validate(l.error.p, l.error.n, 0, err)) {
		bb_error_prefix(err, "error");
		goto fail;
	}
	if ((x->flags & BB_JOIN_KEEP_RAW) && l.mo.p != NULL &&
	    bb_json_validate(l.mo.p, l.mo.n, 0, err)) {
		bb_error_prefix(err, "modelOutput");
		goto fail;
	}
	bb_buf_reset(id);
	jid.p = l.id.p;
	jid.n = l.id.n;
	jid.type = BB_JSON_STRING;
	if (bb_json_span_str(&jid, id) || memchr(id->data ? id->data : "", '\0', id->len) ||
	    !bb_utf8_valid(id->data ? id->data : "", id->len)) {
		bb_error_set(err, BB_ERR_INPUT, "bad \"recordId\"");
		goto fail;
	}
	h = bb_hash64(id->data, id->len);
	if ((old = find(x, h, id->data, id->len)) != NULL) {
		e = at(x, slot_off(*old));
		x->duplicates++;
		e->dups++;
		/* a success wins over an earlier error line; otherwise keep the first */
		if (e->status == BB_JOIN_OK || l.mo.p == NULL) {
			bb_buf_setlen(a, mark);
			return 1;
		}
	}

	ne.hash = h;
	ne.input_tokens = ne.output_tokens = -1;
	if (a->len - rec > UINT32_MAX)
		goto overflow;
	if (l.mo.p != NULL && l.bad == NULL) {
		ne.status = BB_JOIN_OK;
		ne.output.off = (uint32_t)(l.out_off - rec);
		ne.output.len = (uint32_t)l.out_len;
		ne.input_tokens = l.in_tok;
		ne.output_tokens = l.out_tok;
		if (l.stop.p != NULL)
			r |= put(a, rec, l.stop.p, l.stop.n, &ne.stop);
	} else if (l.mo.p != NULL) {
		size_t o;

		ne.status = BB_JOIN_BAD_OUTPUT;
		r |= put(a, rec, "\"bad_output\"", 12, &ne.code);
		o = a->len;
		r |= bb_json_add_str(a, l.bad, strlen(l.bad));
		ne.message.off = (uint32_t)(o - rec);
		ne.message.len = (uint32_t)(a->len - o);
	} else {
		static const struct key k[] = { KEY("errorCode"), KEY("errorMessage") };
		struct scan s;
		struct span es = l.error, f[2];

		scan_init(&s, es.p, es.n);
		ne.status = BB_JOIN_ERROR;
		get(&s, es, k, 2, f);
		if (f[0].p != NULL)
			r |= put(a, rec, f[0].p, f[0].n, &ne.code);
		else
			r |= put(a, rec, "\"error\"", 7, &ne.code);
		if (is_str(f[1]))
			r |= put(a, rec, f[1].p, f[1].n, &ne.message);
		else if (is_str(es))
			r |= put(a, rec, es.p, es.n, &ne.message);
		else
			r |= put(a, rec, "\"\"", 2, &ne.message);
	}
	if ((x->flags & BB_JOIN_KEEP_RAW) && l.mo.p != NULL)
		r |= put(a, rec, l.mo.p, l.mo.n, &ne.raw);
	if (l.id_off != 0 && l.id.n - 2 == id->len) {
		/* no escapes: the raw bytes are the id */
		ne.id.off = (uint32_t)(l.id_off - rec);
		ne.id.len = (uint32_t)id->len;
	} else {
		r |= put(a, rec, id->data, id->len, &ne.id);
	}
	if (r)
		goto nomem;
	if (old != NULL) {
		e = at(x, slot_off(*old));
		ne.dups = e->dups;
		ne.seq = e->seq;
		memcpy(a->data + rec, &ne, sizeof(ne));
		x->order[ne.seq] = rec;
		*old = slot(h, rec);
		return 1;
	}
	if (x->n == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 1024;
		size_t *o;

		if (ncap > UINT32_MAX || (o = realloc(x->order, ncap * sizeof(*o))) == NULL)
			goto nomem;
		x->order = o;
		x->cap = ncap;
	}
	if (2 * (x->n + 1) > x->tcap && table_grow(x))
		goto nomem;
	ne.seq = (uint32_t)x->n;
	memcpy(a->data + rec, &ne, sizeof(ne));
	x->order[x->n] = rec;
	{
		size_t j;

		for (j = h & (x->tcap - 1); x->table[j]; j = (j + 1) & (x->tcap - 1))
			;
		x->table[j] = slot(h, rec);
	}
	x->n++;
	return 0;
overflow:
	errno = EOVERFLOW;
nomem:
	if (errno != EOVERFLOW)
		errno = ENOMEM;
	bb_error_errno(err, "indexing outputs");
fail:
	bb_buf_setlen(a, mark);
	return -1;
}

/* ---- manifest and errors ---- */

int
bb_join_manifest_parse(const char *text, size_t len, struct bb_join_manifest *m,
    struct bb_error *err)
{
	static const char *const keys[] = { "totalRecordCount", "processedRecordCount",
	    "successRecordCount", "errorRecordCount", "inputTokenCount", "outputTokenCount" };
	struct bb_json_span sp[6];
	long long *dst[6];
	size_t i;

	dst[0] = &m->total;
	dst[1] = &m->processed;
	dst[2] = &m->success;
	dst[3] = &m->error;
	dst[4] = &m->input_tokens;
	dst[5] = &m->output_tokens;
	for (i = 0; i < 6; i++)
		*dst[i] = -1;
	if (bb_json_fields(text, len, keys, 6, sp, err))
		return -1;
	for (i = 0; i < 6; i++)
		if (sp[i].p != NULL && bb_json_span_int(&sp[i], 0, 1LL << 62, dst[i]))
			return bb_error_set(err, BB_ERR_INPUT, "%s: not a count", keys[i]);
	return 0;
}

int
bb_join_error_retryable(const char *code, size_t len)
{
	long long c = 0;
	size_t i;

	if (len == 0 || code[0] == '"')
		return 1;
	for (i = 0; i < len; i++) {
		if (code[i] < '0' || code[i] > '9')
			return 1;   /* not an integer: not a validation status */
		c = c * 10 + (code[i] - '0');
		if (c > 1000)
			return 1;
	}
	if (c == 408 || c == 429 || c >= 500)
		return 1;
	return !(c >= 400 && c < 500);
}
