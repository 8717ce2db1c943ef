/*
 * recordid.c - the recordId rules (recordid.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "recordid.h"

size_t
bb_recordid_generate(char out[BB_RECORDID_GEN_MAX], uint64_t row)
{
	char t[BB_RECORDID_GEN_MAX];
	size_t i = sizeof(t), len;

	/* per row: no printf */
	do {
		t[--i] = (char)('0' + row % 10);
		row /= 10;
	} while (row > 0);
	while (sizeof(t) - i < 10)
		t[--i] = '0';
	t[--i] = 'r';
	len = sizeof(t) - i;
	memcpy(out, t + i, len);
	out[len] = '\0';
	return len;
}

static int
is_alnum(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return 0;
	}
	return n > 0;
}

/* "x" and pairs of lower-case hex digits. */
static int
is_encoded(const char *s, size_t n)
{
	size_t i;

	if (n < 3 || s[0] != 'x' || n % 2 != 1)
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* 1 when the value is its own id, 0 when it is encoded, -1 when refused. */
static int
classify(const char *s, size_t n, unsigned flags, struct bb_error *err)
{
	if (n == 0)
		return bb_error_set(err, BB_ERR_INPUT, "empty record id");
	if ((flags & BB_RECORDID_KEEP_ALNUM) && n <= BB_RECORDID_MAX && is_alnum(s, n))
		return 1;
	if (n > BB_RECORDID_VALUE_MAX)
		return bb_error_set(err, BB_ERR_INPUT, "record id longer than %d bytes",
		    BB_RECORDID_VALUE_MAX);
	return is_alnum(s, n) && !is_encoded(s, n);
}

/* s[0..n), n <= BB_RECORDID_VALUE_MAX, may point into out. */
static int
add_encoded(const char *s, size_t n, struct bb_buf *out, size_t mark, struct bb_error *err)
{
	char v[BB_RECORDID_VALUE_MAX];
	char hex[2 * BB_RECORDID_VALUE_MAX + 1];

	memcpy(v, s, n);
	bb_hex_encode(v, n, hex);
	bb_buf_setlen(out, mark);
	if (bb_buf_addc(out, 'x') || bb_buf_add(out, hex, 2 * n)) {
		bb_buf_setlen(out, mark);
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	}
	return 0;
}

int
bb_recordid_make(const char *s, size_t n, unsigned flags, struct bb_buf *out,
    struct bb_error *err)
{
	int k = classify(s, n, flags, err);

	if (k < 0)
		return -1;
	if (k == 0)
		return add_encoded(s, n, out, out->len, err);
	if (bb_buf_add(out, s, n))
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	return 0;
}

int
bb_recordid_from_json(const struct bb_json_span *sp, unsigned flags, const char *what,
    struct bb_buf *out, struct bb_error *err)
{
	size_t mark = out->len, n;
	int k;

	if (sp->p == NULL)
		return bb_error_set(err, BB_ERR_INPUT, "missing %s", what);
	if (sp->type == BB_JSON_NUMBER)
		return bb_recordid_make(sp->p, sp->n, flags, out, err);
	if (sp->type != BB_JSON_STRING)
		return bb_error_set(err, BB_ERR_INPUT, "%s is not a string or a number", what);
	/* decoded in place at the end of out: no scratch buffer per row */
	if (bb_json_span_str(sp, out)) {
		bb_buf_setlen(out, mark);
		return bb_error_set(err, BB_ERR_INPUT, "bad %s", what);
	}
	n = out->len - mark;
	k = classify(out->data + mark, n, flags, err);
	if (k < 0) {
		bb_buf_setlen(out, mark);
		return -1;
	}
	return k ? 0 : add_encoded(out->data + mark, n, out, mark, err);
}

static int
hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

int
bb_recordid_decode(const char *id, size_t n, struct bb_buf *out)
{
	size_t i, mark = out->len;

	if (!is_encoded(id, n))
		return bb_buf_add(out, id, n);
	for (i = 1; i < n; i += 2) {
		if (bb_buf_addc(out, (char)(hexval(id[i]) << 4 | hexval(id[i + 1])))) {
			bb_buf_setlen(out, mark);
			return -1;
		}
	}
	return 0;
}

/* ---- the set of ids seen ---- */

void
bb_recordid_set_init(struct bb_recordid_set *set)
{
	memset(set, 0, sizeof(*set));
}

void
bb_recordid_set_release(struct bb_recordid_set *set)
{
	free(set->slots);
	memset(set, 0, sizeof(*set));
}

int
bb_recordid_set_add(struct bb_recordid_set *set, const char *id, size_t n)
{
	uint64_t h = bb_hash64(id, n), *slots;
	size_t i, j, ncap;

	if (h == 0)
		h = 1;          /* 0 marks an empty slot */
	if (2 * (set->n + 1) > set->cap) {
		ncap = set->cap ? set->cap * 2 : 1024;
		if (ncap < set->cap || (slots = calloc(ncap, sizeof(*slots))) == NULL)
			return -1;
		for (j = 0; j < set->cap; j++) {
			if (set->slots[j] == 0)
				continue;
			for (i = set->slots[j] & (ncap - 1); slots[i]; i = (i + 1) & (ncap - 1))
				;
			slots[i] = set->slots[j];
		}
		free(set->slots);
		set->slots = slots;
		set->cap = ncap;
	}
	for (i = h & (set->cap - 1); set->slots[i]; i = (i + 1) & (set->cap - 1))
		if (set->slots[i] == h)
			return 0;
	set->slots[i] = h;
	set->n++;
	return 1;
}
