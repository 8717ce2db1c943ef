/*
 * join.c - the outputs of one batch job, indexed by recordId (join.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "json.h"

/* ---- a cursor over JSON text that is already known to be valid ---- */

struct span {
	const char *p;
	size_t n;
};

static const char *
skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Bytes of x equal to c have their high bit set in the result (SWAR). */
static inline uint64_t
has_byte(uint64_t x, unsigned char c)
{
	uint64_t v = x ^ (0x0101010101010101ULL * c);

	return (v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL;
}

/* p at '"': the byte after the closing quote. Eight bytes at a time to
 * the next '"' or '\\'. */
static const char *
skip_str(const char *p, const char *e)
{
	uint64_t w;

	for (p++; p < e;) {
		if (e - p >= 8) {
			memcpy(&w, p, 8);
			if ((has_byte(w, '"') | has_byte(w, '\\')) == 0) {
				p += 8;
				continue;
			}
		}
		if (*p == '\\')
			p += 2;
		else if (*p == '"')
			return p + 1;
		else
			p++;
	}
	return e;
}

/* The end of the value starting at p. */
static const char *
skip_value(const char *p, const char *e)
{
	int depth = 0;

	if (p >= e)
		return e;
	if (*p == '"')
		return skip_str(p, e);
	if (*p != '{' && *p != '[') {
		while (p < e && *p != ',' && *p != ']' && *p != '}' && *p != ' ' &&
		    *p != '\t' && *p != '\n' && *p != '\r')
			p++;
		return p;
	}
	while (p < e) {
		if (*p == '"') {
			p = skip_str(p, e);
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']') {
			if (--depth == 0)
				return p + 1;
		}
		p++;
	}
	return e;
}

/* Member `key` of the object o (raw key bytes compared; our keys have no
 * escapes). 1 found, 0 not (or o is not an object). */
static int
obj_get(struct span o, const char *key, struct span *out)
{
	const char *p = o.p, *e = o.p + o.n, *k, *ke;
	size_t kl = strlen(key);

	p = skip_ws(p, e);
	if (p >= e || *p != '{')
		return 0;
	p = skip_ws(p + 1, e);
	while (p < e && *p == '"') {
		k = p + 1;
		ke = skip_str(p, e);
		p = skip_ws(ke, e);
		if (p >= e || *p != ':')
			return 0;
		p = skip_ws(p + 1, e);
		out->p = p;
		p = skip_value(p, e);
		out->n = (size_t)(p - out->p);
		if ((size_t)(ke - 1 - k) == kl && memcmp(k, key, kl) == 0)
			return 1;
		p = skip_ws(p, e);
		if (p < e && *p == ',')
			p = skip_ws(p + 1, e);
	}
	return 0;
}

/* Array iteration: *pos starts at 0; 1 and *out set for each element. */
static int
arr_next(struct span a, size_t *pos, struct span *out)
{
	const char *p = a.p + *pos, *e = a.p + a.n;

	if (*pos == 0) {
		p = skip_ws(p, e);
		if (p >= e || *p != '[')
			return 0;
		p++;
	}
	p = skip_ws(p, e);
	if (p < e && *p == ',')
		p = skip_ws(p + 1, e);
	if (p >= e || *p == ']')
		return 0;
	out->p = p;
	p = skip_value(p, e);
	out->n = (size_t)(p - out->p);
	*pos = (size_t)(p - a.p);
	return 1;
}

static int
arr_at(struct span a, size_t i, struct span *out)
{
	size_t pos = 0, k;

	for (k = 0; arr_next(a, &pos, out); k++)
		if (k == i)
			return 1;
	return 0;
}

/* Follow "a.b.0.c" (object keys and array indexes). */
static int
path_get(struct span v, const char *path, struct span *out)
{
	char key[64];
	const char *s = path, *dot;
	size_t n;

	while (*s) {
		dot = strchr(s, '.');
		n = dot ? (size_t)(dot - s) : strlen(s);
		if (n >= sizeof(key))
			return 0;
		memcpy(key, s, n);
		key[n] = '\0';
		if (key[0] >= '0' && key[0] <= '9') {
			if (!arr_at(v, (size_t)strtoul(key, NULL, 10), &v))
				return 0;
		} else if (!obj_get(v, key, &v)) {
			return 0;
		}
		s += n + (dot ? 1 : 0);
	}
	*out = v;
	return 1;
}

static int
is_str(struct span v)
{
	return v.n >= 2 && v.p[0] == '"';
}

static int
is_arr(struct span v)
{
	return v.n >= 2 && v.p[0] == '[';
}

static int
is_obj(struct span v)
{
	return v.n >= 2 && v.p[0] == '{';
}

/* 1 when every element of the array is a number. */
static int
all_numbers(struct span a)
{
	struct span el;
	size_t pos = 0;

	while (arr_next(a, &pos, &el))
		if (!(el.p[0] == '-' || (el.p[0] >= '0' && el.p[0] <= '9')))
			return 0;
	return 1;
}

static long long
tokens(struct span v, const char *path)
{
	struct bb_json_span js;
	struct span t;
	long long n;

	if (!path_get(v, path, &t))
		return -1;
	js.p = t.p;
	js.n = t.n;
	js.type = BB_JSON_NUMBER;
	if (bb_json_span_int(&js, 0, 1LL << 62, &n))
		return -1;
	return n;
}

static int
add_stop(struct bb_buf *stop, struct span mo, const char *path)
{
	struct span v;

	if (stop->len == 0 && path_get(mo, path, &v) && is_str(v))
		return bb_buf_add(stop, v.p, v.n);
	return 0;
}

/* The text of each block of an array, concatenated into one literal. */
static int
add_texts(struct bb_buf *out, struct span blocks, const char *type)
{
	struct span blk, t, ty;
	size_t pos = 0, tl = type ? strlen(type) : 0;
	int r = 0;

	r |= bb_buf_addc(out, '"');
	while (arr_next(blocks, &pos, &blk)) {
		if (type != NULL && !(obj_get(blk, "type", &ty) && is_str(ty) &&
		    ty.n == tl + 2 && memcmp(ty.p + 1, type, tl) == 0))
			continue;
		if (obj_get(blk, "text", &t) && is_str(t))
			r |= bb_buf_add(out, t.p + 1, t.n - 2);
	}
	r |= bb_buf_addc(out, '"');
	return r ? -1 : 0;
}

int
bb_join_extract(enum bb_family f, const char *text, size_t len, struct bb_buf *output,
    struct bb_buf *stop, long long *in_tok, long long *out_tok, struct bb_error *err)
{
	struct span mo = { text, len }, v, fl;
	size_t start = output->len;
	const char *bad = NULL;
	int r = 0;

	*in_tok = *out_tok = -1;
	bb_buf_reset(stop);
	mo.p = skip_ws(mo.p, text + len);
	mo.n = (size_t)(text + len - mo.p);
	if (!is_obj(mo))
		return bb_error_set(err, BB_ERR_INPUT, "modelOutput: not a JSON object");
	switch (f) {
	case BB_FAMILY_ANTHROPIC:
		if (!obj_get(mo, "content", &v) || !is_arr(v)) {
			bad = "modelOutput.content: not an array";
			break;
		}
		r = add_texts(output, v, "text");
		r |= add_stop(stop, mo, "stop_reason");
		*in_tok = tokens(mo, "usage.input_tokens");
		*out_tok = tokens(mo, "usage.output_tokens");
		break;
	case BB_FAMILY_NOVA:
	case BB_FAMILY_CONVERSE:
		if (!path_get(mo, "output.message.content", &v) || !is_arr(v)) {
			bad = "modelOutput.output.message.content: not an array";
			break;
		}
		r = add_texts(output, v, NULL);
		r |= add_stop(stop, mo, "stopReason");
		*in_tok = tokens(mo, "usage.inputTokens");
		*out_tok = tokens(mo, "usage.outputTokens");
		break;
	case BB_FAMILY_LLAMA:
		if (!obj_get(mo, "generation", &v) || !is_str(v)) {
			bad = "modelOutput.generation: not a string";
			break;
		}
		r = bb_buf_add(output, v.p, v.n);
		r |= add_stop(stop, mo, "stop_reason");
		*in_tok = tokens(mo, "prompt_token_count");
		*out_tok = tokens(mo, "generation_token_count");
		break;
	case BB_FAMILY_MISTRAL:
		if (!path_get(mo, "outputs.0.text", &v) || !is_str(v)) {
			bad = "modelOutput.outputs.0.text: not a string";
			break;
		}
		r = bb_buf_add(output, v.p, v.n);
		r |= add_stop(stop, mo, "outputs.0.stop_reason");
		break;
	case BB_FAMILY_MISTRAL_CHAT:
		if (!path_get(mo, "choices.0.message.content", &v) || !is_str(v)) {
			bad = "modelOutput.choices.0.message.content: not a string";
			break;
		}
		r = bb_buf_add(output, v.p, v.n);
		r |= add_stop(stop, mo, "choices.0.stop_reason");
		r |= add_stop(stop, mo, "choices.0.finish_reason");
		*in_tok = tokens(mo, "usage.prompt_tokens");
		*out_tok = tokens(mo, "usage.completion_tokens");
		break;
	case BB_FAMILY_TITAN_EMBED:
		if (!obj_get(mo, "embedding", &v) && !path_get(mo, "embeddingsByType.float", &v)) {
			bad = "modelOutput.embedding: not an array of numbers";
			break;
		}
		if (!is_arr(v) || !all_numbers(v)) {
			bad = "modelOutput.embedding: not an array of numbers";
			break;
		}
		r = bb_buf_add(output, v.p, v.n);
		*in_tok = tokens(mo, "inputTextTokenCount");
		break;
	case BB_FAMILY_COHERE_EMBED:
		if (!obj_get(mo, "embeddings", &v)) {
			bad = "modelOutput.embeddings: not an array";
			break;
		}
		if (is_obj(v)) {
			if (obj_get(v, "float", &fl)) {
				v = fl;
			} else {
				/* the first type's value */
				const char *p = skip_ws(v.p + 1, v.p + v.n), *e = v.p + v.n;

				if (p < e && *p == '"') {
					p = skip_ws(skip_str(p, e), e);
					p = skip_ws(p + 1, e);
					fl.p = p;
					fl.n = (size_t)(skip_value(p, e) - p);
					v = fl;
				}
			}
		}
		if (!is_arr(v)) {
			bad = "modelOutput.embeddings: not an array";
			break;
		}
		{
			struct span el;
			size_t pos = 0, k = 0;

			while (arr_next(v, &pos, &el))
				k++;
			if (k == 1) {
				arr_at(v, 0, &el);
				if (!is_arr(el) || !all_numbers(el)) {
					bad = "modelOutput.embeddings.0: not an array of numbers";
					break;
				}
				v = el;
			}
		}
		r = bb_buf_add(output, v.p, v.n);
		*in_tok = tokens(mo, "meta.billed_units.input_tokens");
		break;
	case BB_FAMILY_UNKNOWN:
		bad = "unknown model family: cannot read modelOutput";
		break;
	}
	if (bad != NULL) {
		bb_buf_setlen(output, start);
		bb_buf_reset(stop);
		return bb_error_set(err, BB_ERR_INPUT, "%s", bad);
	}
	if (r) {
		bb_buf_setlen(output, start);
		return bb_error_errno(err, "modelOutput");
	}
	return 0;
}

/*
 * The values of recordId, modelOutput and error in an output line. Only
 * the structure of the top level is checked here: the caller validates
 * what it uses; the echoed modelInput is skipped, not validated.
 */
static int
line_fields(const char *line, size_t len, struct span *sp, struct bb_error *err)
{
	static const char *const names[] = { "recordId", "modelOutput", "error" };
	const char *p = line, *e = line + len, *k, *ke;
	size_t i;

	memset(sp, 0, 3 * sizeof(*sp));
	p = skip_ws(p, e);
	if (p >= e || *p != '{')
		return bb_error_set(err, BB_ERR_INPUT, "not a JSON object");
	p = skip_ws(p + 1, e);
	if (p < e && *p == '}')
		goto end;
	for (;;) {
		if (p >= e || *p != '"')
			goto bad;
		k = p + 1;
		ke = skip_str(p, e);
		if (ke >= e)
			goto bad;
		p = skip_ws(ke, e);
		if (p >= e || *p != ':')
			goto bad;
		p = skip_ws(p + 1, e);
		if (p >= e)
			goto bad;
		for (i = 0; i < 3; i++) {
			if ((size_t)(ke - 1 - k) == strlen(names[i]) &&
			    memcmp(k, names[i], strlen(names[i])) == 0) {
				if (sp[i].p != NULL)
					return bb_error_set(err, BB_ERR_INPUT, "duplicate key '%s'",
					    names[i]);
				sp[i].p = p;
			}
		}
		k = p;
		p = skip_value(p, e);
		if (p == k)
			goto bad;
		for (i = 0; i < 3; i++)
			if (sp[i].p == k)
				sp[i].n = (size_t)(p - k);
		p = skip_ws(p, e);
		if (p < e && *p == ',') {
			p = skip_ws(p + 1, e);
			continue;
		}
		if (p < e && *p == '}')
			break;
		goto bad;
	}
end:
	p = skip_ws(p + 1, e);
	if (p == e)
		return 0;
bad:
	return bb_error_set(err, BB_ERR_INPUT, "invalid JSON at column %zu",
	    (size_t)(p - line) + 1);
}

/* ---- the index ---- */

static uint64_t
hash_id(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

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
	free(x->entries);
	free(x->table);
	bb_join_index_init(x, x->family, x->flags);
}

/* A table slot: the high half of the hash (compared before the entry is
 * touched, which keeps probes in the table's cache lines) and the index. */
static inline uint64_t
slot(uint64_t h, size_t i)
{
	return (h & 0xffffffff00000000ULL) | (uint64_t)(i + 1);
}

static int
table_grow(struct bb_join_index *x)
{
	size_t ncap = x->tcap ? x->tcap * 2 : 1024, i, j;
	uint64_t *t;

	if (ncap > ((size_t)1 << 31))
		return -1;
	t = calloc(ncap, sizeof(*t));
	if (t == NULL)
		return -1;
	for (i = 0; i < x->n; i++) {
		for (j = x->entries[i].hash & (ncap - 1); t[j]; j = (j + 1) & (ncap - 1))
			;
		t[j] = slot(x->entries[i].hash, i);
	}
	free(x->table);
	x->table = t;
	x->tcap = ncap;
	return 0;
}

static struct bb_join_entry *
find(struct bb_join_index *x, uint64_t h, const char *id, size_t len)
{
	size_t j;

	if (x->tcap == 0)
		return NULL;
	for (j = h & (x->tcap - 1); x->table[j]; j = (j + 1) & (x->tcap - 1)) {
		struct bb_join_entry *e;

		if ((x->table[j] >> 32) != (h >> 32))
			continue;
		e = &x->entries[(x->table[j] & 0xffffffffu) - 1];
		if (e->hash == h && e->id.len == len &&
		    memcmp(len <= sizeof(e->idshort) ? e->idshort : x->arena.data + e->id.off,
		    id, len) == 0)
			return e;
	}
	return NULL;
}

struct bb_join_entry *
bb_join_index_find(struct bb_join_index *x, const char *id, size_t len)
{
	return find(x, hash_id(id, len), id, len);
}

struct bb_join_entry *
bb_join_index_entry(struct bb_join_index *x, size_t i)
{
	return i < x->n ? &x->entries[i] : NULL;
}

static int
put(struct bb_buf *a, const char *p, size_t n, struct bb_join_ref *r)
{
	r->off = a->len;
	r->len = n;
	return n ? bb_buf_add(a, p, n) : 0;
}

int
bb_join_index_add(struct bb_join_index *x, const char *line, size_t len, struct bb_error *err)
{
	struct span ls[3];
	struct bb_buf *id = &x->id, *out = &x->out, *stop = &x->stop;
	struct bb_json_span sp[3];
	struct bb_join_entry ne, *e;
	struct bb_error xerr = BB_ERROR_INIT;
	uint64_t h;
	size_t mark, k;
	int r = 0, dup = 0;

	x->lines++;
	if (line_fields(line, len, ls, err))
		return -1;
	for (k = 0; k < 3; k++) {
		sp[k].p = ls[k].p;
		sp[k].n = ls[k].n;
		sp[k].type = ls[k].p == NULL ? BB_JSON_NONE : ls[k].p[0] == '"' ? BB_JSON_STRING :
		    ls[k].p[0] == '{' ? BB_JSON_OBJECT : BB_JSON_NULL;
	}
	if (sp[0].p == NULL || sp[0].type != BB_JSON_STRING)
		return bb_error_set(err, BB_ERR_INPUT, "no \"recordId\" string");
	if (sp[1].p == NULL && sp[2].p == NULL)
		return bb_error_set(err, BB_ERR_INPUT, "neither \"modelOutput\" nor \"error\"");
	for (k = 1; k < 3; k++) {
		if (sp[k].p != NULL && bb_json_validate(sp[k].p, sp[k].n, 0, err)) {
			bb_error_prefix(err, "%s", k == 1 ? "modelOutput" : "error");
			return -1;
		}
	}
	bb_buf_reset(id);
	if (bb_json_span_str(&sp[0], id) || memchr(id->data ? id->data : "", '\0', id->len))
		return bb_error_set(err, BB_ERR_INPUT, "bad \"recordId\"");
	h = hash_id(id->data, id->len);
	e = find(x, h, id->data, id->len);
	if (e != NULL) {
		x->duplicates++;
		e->dups++;
		/* a success wins over an earlier error line; otherwise keep the first */
		if (e->status == BB_JOIN_OK || sp[1].p == NULL)
			return 1;
		dup = 1;
	}
	memset(&ne, 0, sizeof(ne));
	ne.hash = h;
	ne.input_tokens = ne.output_tokens = -1;
	mark = x->arena.len;
	r |= put(&x->arena, id->data, id->len, &ne.id);
	if (id->len <= sizeof(ne.idshort))
		memcpy(ne.idshort, id->data, id->len);
	if (sp[1].p != NULL) {
		bb_buf_reset(out);
		if (bb_join_extract(x->family, sp[1].p, sp[1].n, out, stop, &ne.input_tokens,
		    &ne.output_tokens, &xerr) == 0) {
			ne.status = BB_JOIN_OK;
			r |= put(&x->arena, out->data, out->len, &ne.output);
			r |= put(&x->arena, stop->data, stop->len, &ne.stop);
		} else {
			if (xerr.kind == BB_ERR_SYSTEM) {
				bb_buf_setlen(&x->arena, mark);
				return bb_error_set(err, BB_ERR_SYSTEM, "%s", xerr.msg);
			}
			ne.status = BB_JOIN_BAD_OUTPUT;
			r |= put(&x->arena, "\"bad_output\"", 12, &ne.code);
			ne.message.off = x->arena.len;
			r |= bb_json_add_str(&x->arena, xerr.msg, strlen(xerr.msg));
			ne.message.len = x->arena.len - ne.message.off;
		}
		if (x->flags & BB_JOIN_KEEP_RAW)
			r |= put(&x->arena, sp[1].p, sp[1].n, &ne.raw);
	} else {
		struct span es = { sp[2].p, sp[2].n }, c, m;

		ne.status = BB_JOIN_ERROR;
		if (obj_get(es, "errorCode", &c) && c.n > 0)
			r |= put(&x->arena, c.p, c.n, &ne.code);
		else
			r |= put(&x->arena, "\"error\"", 7, &ne.code);
		if (obj_get(es, "errorMessage", &m) && is_str(m))
			r |= put(&x->arena, m.p, m.n, &ne.message);
		else if (!is_obj(es) && is_str(es))
			r |= put(&x->arena, es.p, es.n, &ne.message);
		else
			r |= put(&x->arena, "\"\"", 2, &ne.message);
	}
	if (r)
		goto nomem;
	if (dup) {
		ne.dups = e->dups;
		*e = ne;
		return 1;
	}
	if (x->n == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 1024;
		struct bb_join_entry *ents;

		if (ncap > ((size_t)1 << 30) ||
		    (ents = realloc(x->entries, ncap * sizeof(*ents))) == NULL)
			goto nomem;
		x->entries = ents;
		x->cap = ncap;
	}
	if (2 * (x->n + 1) > x->tcap && table_grow(x))
		goto nomem;
	x->entries[x->n] = ne;
	{
		size_t j;

		for (j = h & (x->tcap - 1); x->table[j]; j = (j + 1) & (x->tcap - 1))
			;
		x->table[j] = slot(h, x->n);
	}
	x->n++;
	return 0;
nomem:
	bb_buf_setlen(&x->arena, mark);
	errno = ENOMEM;
	return bb_error_errno(err, "indexing outputs");
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
