/*
 * template.h - prompt templates: text with {name} placeholders.
 *
 * Syntax: "{name}" is replaced by the value of field `name` of the row;
 * "{{" and "}}" stand for literal braces. A name is any non-empty text
 * without braces; "a.b" names a nested field of a JSON row (the caller
 * decides how a name is looked up: CSV rows use the whole name as the
 * column header). A lone "}", an unclosed "{" or "{}" is an error.
 *
 * A compiled template lists its distinct field names once; the caller
 * looks each one up per row and passes the values in that order, so a
 * row is looked at once whatever the number of placeholders.
 *
 * Rendering writes a JSON string body (no quotes), ready to be placed in
 * a modelInput: literal text is escaped once at compile time; a value is
 * either raw text (escaped while copying, invalid UTF-8 is an error) or
 * already an escaped JSON string body (copied as is: the body of a string
 * taken straight from a JSON row).
 *
 * Lifecycle: bb_template_compile() allocates, bb_template_free() frees.
 */
#ifndef BB_TEMPLATE_H
#define BB_TEMPLATE_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

struct bb_template;

struct bb_template_value {
	const char *p;      /* NULL: the field is missing in this row */
	size_t n;
	int escaped;        /* p[0..n) is already a JSON string body */
};

int bb_template_compile(const char *text, size_t len, struct bb_template **out,
    struct bb_error *err);
void bb_template_free(struct bb_template *t);
/* Distinct field names, in order of first appearance. */
size_t bb_template_nfields(const struct bb_template *t);
const char *bb_template_field(const struct bb_template *t, size_t i);
/* 1 when some field name contains a '.' (a nested JSON lookup). */
int bb_template_has_nested(const struct bb_template *t);
/*
 * Append the rendering as a JSON string body to out. vals has
 * bb_template_nfields() entries. A missing value is an error naming the
 * field ("missing field 'x'"); on error out is left as it was.
 */
int bb_template_render_json(const struct bb_template *t, const struct bb_template_value *vals,
    struct bb_buf *out, struct bb_error *err);

#endif
