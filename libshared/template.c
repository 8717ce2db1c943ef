/* template.c - prompt templates; see template.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "template.h"

/* A piece is literal text (field == -1) or a placeholder. */
struct piece {
	size_t off, len;     /* literal: escaped bytes in lits */
	long field;
};

struct bb_template {
	struct bb_buf lits;  /* escaped literal text of all pieces */
	struct piece *pieces;
	size_t npieces;
	char **names;
	size_t nnames;
	int nested;
};

static int
add_piece(struct bb_template *t, size_t off, size_t len, long field)
{
	struct piece *p;

	p = realloc(t->pieces, (t->npieces + 1) * sizeof(*p));
	if (p == NULL)
		return -1;
	t->pieces = p;
	p[t->npieces].off = off;
	p[t->npieces].len = len;
	p[t->npieces].field = field;
	t->npieces++;
	return 0;
}

static long
name_index(struct bb_template *t, const char *s, size_t n)
{
	size_t i;
	char **p, *name;

	for (i = 0; i < t->nnames; i++)
		if (strlen(t->names[i]) == n && memcmp(t->names[i], s, n) == 0)
			return (long)i;
	if ((name = malloc(n + 1)) == NULL)
		return -1;
	memcpy(name, s, n);
	name[n] = '\0';
	p = realloc(t->names, (t->nnames + 1) * sizeof(*p));
	if (p == NULL) {
		free(name);
		return -1;
	}
	t->names = p;
	t->names[t->nnames] = name;
	if (memchr(s, '.', n) != NULL)
		t->nested = 1;
	return (long)t->nnames++;
}

/* Close the literal run [*lit_start, lits.len) into a piece. */
static int
flush_literal(struct bb_template *t, size_t *lit_start)
{
	int rc = 0;

	if (t->lits.len > *lit_start)
		rc = add_piece(t, *lit_start, t->lits.len - *lit_start, -1);
	*lit_start = t->lits.len;
	return rc;
}

int
bb_template_compile(const char *text, size_t len, struct bb_template **out,
    struct bb_error *err)
{
	struct bb_template *t;
	size_t i = 0, lit_start = 0, run;
	int rc = -1;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	bb_buf_init(&t->lits);
	if (!bb_utf8_valid(text, len)) {
		bb_error_set(err, BB_ERR_USAGE, "template is not valid UTF-8");
		goto out;
	}
	while (i < len) {
		const char *close;
		long idx;

		for (run = i; run < len && text[run] != '{' && text[run] != '}'; run++)
			;
		if (run > i && bb_json_add_str_body(&t->lits, text + i, run - i))
			goto nomem;
		i = run;
		if (i == len)
			break;
		if (i + 1 < len && text[i + 1] == text[i]) {
			if (bb_json_add_str_body(&t->lits, text + i, 1))
				goto nomem;
			i += 2;
			continue;
		}
		if (text[i] == '}') {
			bb_error_set(err, BB_ERR_USAGE,
			    "template: lone '}' at offset %zu (write '}}' for a brace)", i);
			goto out;
		}
		close = memchr(text + i + 1, '}', len - i - 1);
		if (close == NULL) {
			bb_error_set(err, BB_ERR_USAGE,
			    "template: unclosed '{' at offset %zu (write '{{' for a brace)", i);
			goto out;
		}
		if (close == text + i + 1 ||
		    memchr(text + i + 1, '{', (size_t)(close - text - i - 1)) != NULL) {
			bb_error_set(err, BB_ERR_USAGE,
			    "template: bad placeholder at offset %zu", i);
			goto out;
		}
		if (flush_literal(t, &lit_start))
			goto nomem;
		idx = name_index(t, text + i + 1, (size_t)(close - text - i - 1));
		if (idx < 0 || add_piece(t, 0, 0, idx))
			goto nomem;
		i = (size_t)(close - text) + 1;
	}
	if (flush_literal(t, &lit_start))
		goto nomem;
	rc = 0;
	*out = t;
	goto out;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
out:
	if (rc)
		bb_template_free(t);
	return rc;
}

void
bb_template_free(struct bb_template *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nnames; i++)
		free(t->names[i]);
	free(t->names);
	free(t->pieces);
	bb_buf_release(&t->lits);
	free(t);
}

size_t
bb_template_nfields(const struct bb_template *t)
{
	return t->nnames;
}

const char *
bb_template_field(const struct bb_template *t, size_t i)
{
	return i < t->nnames ? t->names[i] : NULL;
}

int
bb_template_has_nested(const struct bb_template *t)
{
	return t->nested;
}

int
bb_template_render_json(const struct bb_template *t, const struct bb_template_value *vals,
    struct bb_buf *out, struct bb_error *err)
{
	size_t i, old = out->len;
	int rc = -1;

	for (i = 0; i < t->npieces; i++) {
		const struct piece *p = &t->pieces[i];
		const struct bb_template_value *v;

		if (p->field < 0) {
			if (bb_buf_add(out, t->lits.data + p->off, p->len))
				goto nomem;
			continue;
		}
		v = &vals[p->field];
		if (v->p == NULL) {
			bb_error_set(err, BB_ERR_INPUT, "missing field '%s'", t->names[p->field]);
			goto out;
		}
		if (v->escaped) {
			if (bb_buf_add(out, v->p, v->n))
				goto nomem;
		} else if (bb_json_add_str_body(out, v->p, v->n)) {
			if (!bb_utf8_valid(v->p, v->n)) {
				bb_error_set(err, BB_ERR_INPUT, "field '%s' is not valid UTF-8",
				    t->names[p->field]);
				goto out;
			}
			goto nomem;
		}
	}
	rc = 0;
	goto out;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
out:
	if (rc)
		bb_buf_setlen(out, old);
	return rc;
}
