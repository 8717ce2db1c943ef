/* xml.c - a small strict XML reader and an escaper; see xml.h. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"   /* bb_utf8_valid */
#include "xml.h"

struct bb_xml {
	char *name;
	struct bb_buf text;
	char **attrs;            /* name, value, name, value, ... */
	size_t nattrs;
	struct bb_xml *parent, *child, *last, *next;
};

struct parser {
	const char *s;
	size_t n, i;
	struct bb_error *err;
};

static const char empty[] = "";

__attribute__((format(printf, 2, 3)))
static int
perr(struct parser *p, const char *fmt, ...)
{
	size_t k, line = 1, col = 1;
	char msg[256];
	va_list ap;

	for (k = 0; k < p->i && k < p->n; k++) {
		if (p->s[k] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)p->s[k] & 0xc0) != 0x80)
			col++;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bb_error_set(p->err, BB_ERR_INPUT, "XML: %s (at line %zu, column %zu)", msg,
	    line, col);
}

static int
at(const struct parser *p, const char *lit)
{
	size_t k = strlen(lit);

	return p->n - p->i >= k && memcmp(p->s + p->i, lit, k) == 0;
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void
skip_ws(struct parser *p)
{
	while (p->i < p->n && is_ws(p->s[p->i]))
		p->i++;
}

static int
name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	    c >= 0x80;
}

static int
name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* A name at p->i: its length (0 if none). */
static size_t
scan_name(const struct parser *p)
{
	size_t k = p->i;

	if (k >= p->n || !name_start((unsigned char)p->s[k]))
		return 0;
	while (k < p->n && name_char((unsigned char)p->s[k]))
		k++;
	return k - p->i;
}

/* Skip past the terminator `end` (from p->i); -1 at end of input. */
static int
skip_past(struct parser *p, const char *end, const char *what)
{
	const char *q;
	size_t k = strlen(end);

	q = memmem(p->s + p->i, p->n - p->i, end, k);
	if (q == NULL)
		return perr(p, "unterminated %s", what);
	p->i = (size_t)(q - p->s) + k;
	return 0;
}

static int
add_utf8(struct bb_buf *b, uint32_t c)
{
	char u[4];
	size_t n;

	if (c < 0x80) {
		u[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = (char)(0xc0 | (c >> 6));
		u[1] = (char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		u[0] = (char)(0xe0 | (c >> 12));
		u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		u[2] = (char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (c >> 18));
		u[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		u[3] = (char)(0x80 | (c & 0x3f));
		n = 4;
	}
	return bb_buf_add(b, u, n);
}

/* An entity or character reference at p->i ('&'), decoded into b. */
static int
entity(struct parser *p, struct bb_buf *b)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	};
	size_t start = p->i + 1, k, e;
	uint32_t c = 0;
	int hex, digits = 0, d;

	for (e = start; e < p->n && e - start < 12 && p->s[e] != ';'; e++)
		;
	if (e >= p->n || p->s[e] != ';')
		return perr(p, "'&' not starting an entity (use &amp;)");
	if (p->s[start] == '#') {
		hex = e > start + 1 && p->s[start + 1] == 'x';
		for (k = start + 1 + (size_t)hex; k < e; k++) {
			char ch = p->s[k];

			if (ch >= '0' && ch <= '9')
				d = ch - '0';
			else if (hex && ch >= 'a' && ch <= 'f')
				d = ch - 'a' + 10;
			else if (hex && ch >= 'A' && ch <= 'F')
				d = ch - 'A' + 10;
			else
				return perr(p, "bad character reference");
			c = c * (hex ? 16 : 10) + (uint32_t)d;
			if (c > 0x10ffff)
				return perr(p, "character reference out of range");
			digits++;
		}
		if (digits == 0 || c == 0 || (c >= 0xd800 && c <= 0xdfff) ||
		    c == 0xfffe || c == 0xffff)
			return perr(p, "invalid character reference");
		if (add_utf8(b, c) != 0)
			return perr(p, "out of memory");
	} else {
		for (k = 0; k < sizeof(named) / sizeof(named[0]); k++)
			if (strlen(named[k].name) == e - start &&
			    memcmp(named[k].name, p->s + start, e - start) == 0)
				break;
		if (k == sizeof(named) / sizeof(named[0]))
			return perr(p, "undefined entity '&%.*s;'", (int)(e - start), p->s + start);
		if (bb_buf_addc(b, named[k].c) != 0)
			return perr(p, "out of memory");
	}
	p->i = e + 1;
	return 0;
}

/* Character data up to '<' (or an attribute value up to `quote`). */
static int
chars(struct parser *p, struct bb_buf *b, char quote)
{
	size_t run;
	char c;

	while (p->i < p->n) {
		c = p->s[p->i];
		if (c == quote || (quote == 0 && c == '<'))
			return 0;
		if (c == '<')
			return perr(p, "'<' in an attribute value");
		if (c == '&') {
			if (entity(p, b) != 0)
				return -1;
			continue;
		}
		if (c == '\r') {
			/* line ends: CR LF and lone CR become LF */
			if (bb_buf_addc(b, '\n') != 0)
				return perr(p, "out of memory");
			p->i++;
			if (p->i < p->n && p->s[p->i] == '\n')
				p->i++;
			continue;
		}
		for (run = p->i; run < p->n; run++) {
			c = p->s[run];
			if (c == '<' || c == '&' || c == '\r' || (quote && c == quote))
				break;
		}
		if (bb_buf_add(b, p->s + p->i, run - p->i) != 0)
			return perr(p, "out of memory");
		p->i = run;
	}
	return 0;
}

static void
node_free(struct bb_xml *x)
{
	struct bb_xml *c, *nc;
	size_t k;

	for (c = x->child; c != NULL; c = nc) {
		nc = c->next;
		node_free(c);
	}
	free(x->name);
	bb_buf_release(&x->text);
	for (k = 0; k < 2 * x->nattrs; k++)
		free(x->attrs[k]);
	free(x->attrs);
	free(x);
}

void
bb_xml_free(struct bb_xml *root)
{
	if (root != NULL)
		node_free(root);
}

static int
add_attr(struct parser *p, struct bb_xml *x, const char *name, size_t nlen, struct bb_buf *val)
{
	char **na;
	size_t k;

	for (k = 0; k < x->nattrs; k++)
		if (strlen(x->attrs[2 * k]) == nlen && memcmp(x->attrs[2 * k], name, nlen) == 0)
			return perr(p, "duplicate attribute '%.*s'", (int)nlen, name);
	na = realloc(x->attrs, (x->nattrs + 1) * 2 * sizeof(*na));
	if (na == NULL)
		return perr(p, "out of memory");
	x->attrs = na;
	na[2 * x->nattrs] = strndup(name, nlen);
	na[2 * x->nattrs + 1] = strdup(bb_buf_str(val));
	x->nattrs++;
	if (na[2 * x->nattrs - 2] == NULL || na[2 * x->nattrs - 1] == NULL)
		return perr(p, "out of memory");
	return 0;
}

/*
 * A start tag at p->i ('<' name ...): a new element appended to parent (or
 * *root). *open is set when the element has content to read (not "/>").
 */
static int
start_tag(struct parser *p, struct bb_xml *parent, struct bb_xml **root, struct bb_xml **node,
    int *open)
{
	struct bb_buf val = BB_BUF_INIT;
	struct bb_xml *x;
	size_t nl, an;
	const char *aname;
	char q;
	int rc = -1;

	p->i++;
	if ((nl = scan_name(p)) == 0)
		return perr(p, "bad element name");
	if ((x = calloc(1, sizeof(*x))) == NULL || (x->name = strndup(p->s + p->i, nl)) == NULL) {
		free(x);
		return perr(p, "out of memory");
	}
	x->parent = parent;
	if (parent == NULL)
		*root = x;
	else if (parent->last == NULL)
		parent->child = parent->last = x;
	else {
		parent->last->next = x;
		parent->last = x;
	}
	*node = x;
	p->i += nl;
	for (;;) {
		size_t before = p->i;

		skip_ws(p);
		if (at(p, "/>")) {
			p->i += 2;
			*open = 0;
			break;
		}
		if (at(p, ">")) {
			p->i++;
			*open = 1;
			break;
		}
		if (p->i == before) {
			perr(p, p->i >= p->n ? "unterminated start tag" : "expected white space, '>' or '/>'");
			goto out;
		}
		if ((an = scan_name(p)) == 0) {
			perr(p, "bad attribute name");
			goto out;
		}
		aname = p->s + p->i;
		p->i += an;
		skip_ws(p);
		if (!at(p, "=")) {
			perr(p, "expected '=' after attribute name");
			goto out;
		}
		p->i++;
		skip_ws(p);
		if (p->i >= p->n || (p->s[p->i] != '"' && p->s[p->i] != '\'')) {
			perr(p, "expected a quoted attribute value");
			goto out;
		}
		q = p->s[p->i++];
		bb_buf_reset(&val);
		if (chars(p, &val, q) != 0)
			goto out;
		if (p->i >= p->n) {
			perr(p, "unterminated attribute value");
			goto out;
		}
		p->i++;
		if (add_attr(p, x, aname, an, &val) != 0)
			goto out;
	}
	rc = 0;
out:
	bb_buf_release(&val);
	return rc;
}

/* Comments, processing instructions and white space outside the root. */
static int
misc(struct parser *p)
{
	for (;;) {
		skip_ws(p);
		if (at(p, "<!--")) {
			p->i += 4;
			if (skip_past(p, "-->", "comment") != 0)
				return -1;
		} else if (at(p, "<?")) {
			p->i += 2;
			if (skip_past(p, "?>", "processing instruction") != 0)
				return -1;
		} else if (at(p, "<!DOCTYPE") || at(p, "<!doctype")) {
			return perr(p, "DOCTYPE not allowed");
		} else
			return 0;
	}
}

int
bb_xml_parse(const char *text, size_t len, struct bb_xml **rootp, struct bb_error *err)
{
	struct parser p = { text, len, 0, err };
	struct bb_xml *root = NULL, *cur = NULL, *x;
	size_t depth = 0, nl;
	int open, rc = -1;

	*rootp = NULL;
	if (len > BB_XML_MAX_SIZE) {
		bb_error_set(err, BB_ERR_INPUT, "XML: document larger than %zu bytes",
		    BB_XML_MAX_SIZE);
		goto out;
	}
	if (memchr(text, '\0', len) != NULL) {
		p.i = (size_t)((const char *)memchr(text, '\0', len) - text);
		perr(&p, "NUL byte");
		goto out;
	}
	if (!bb_utf8_valid(text, len)) {
		bb_error_set(err, BB_ERR_INPUT, "XML: invalid UTF-8");
		goto out;
	}
	if (at(&p, "\xef\xbb\xbf"))
		p.i += 3;
	if (misc(&p) != 0)
		goto out;
	if (!at(&p, "<")) {
		perr(&p, p.i >= len ? "no root element" : "expected the root element");
		goto out;
	}
	if (start_tag(&p, NULL, &root, &x, &open) != 0)
		goto out;
	if (open) {
		cur = x;
		depth = 1;
	}
	while (cur != NULL) {
		if (p.i >= len) {
			perr(&p, "unexpected end of document: <%s> not closed", cur->name);
			goto out;
		}
		if (!at(&p, "<")) {
			if (chars(&p, &cur->text, 0) != 0)
				goto out;
		} else if (at(&p, "</")) {
			p.i += 2;
			nl = scan_name(&p);
			if (nl != strlen(cur->name) || memcmp(p.s + p.i, cur->name, nl) != 0) {
				perr(&p, "</%.*s> does not close <%s>", (int)nl, p.s + p.i, cur->name);
				goto out;
			}
			p.i += nl;
			skip_ws(&p);
			if (!at(&p, ">")) {
				perr(&p, "expected '>'");
				goto out;
			}
			p.i++;
			cur = cur->parent;
			depth--;
		} else if (at(&p, "<!--")) {
			p.i += 4;
			if (skip_past(&p, "-->", "comment") != 0)
				goto out;
		} else if (at(&p, "<![CDATA[")) {
			const char *q;

			p.i += 9;
			q = memmem(p.s + p.i, len - p.i, "]]>", 3);
			if (q == NULL) {
				perr(&p, "unterminated CDATA section");
				goto out;
			}
			if (bb_buf_add(&cur->text, p.s + p.i, (size_t)(q - (p.s + p.i))) != 0) {
				perr(&p, "out of memory");
				goto out;
			}
			p.i = (size_t)(q - p.s) + 3;
		} else if (at(&p, "<?")) {
			p.i += 2;
			if (skip_past(&p, "?>", "processing instruction") != 0)
				goto out;
		} else if (at(&p, "<!")) {
			perr(&p, at(&p, "<!DOCTYPE") ? "DOCTYPE not allowed" : "unexpected '<!'");
			goto out;
		} else {
			if (depth >= BB_XML_MAX_DEPTH) {
				perr(&p, "elements nested deeper than %d", BB_XML_MAX_DEPTH);
				goto out;
			}
			if (start_tag(&p, cur, &root, &x, &open) != 0)
				goto out;
			if (open) {
				cur = x;
				depth++;
			}
		}
	}
	if (misc(&p) != 0)
		goto out;
	if (p.i < len) {
		perr(&p, "content after the root element");
		goto out;
	}
	*rootp = root;
	root = NULL;
	rc = 0;
out:
	bb_xml_free(root);
	return rc;
}

/* ---- access ---- */

static int
name_is(const struct bb_xml *x, const char *name)
{
	const char *colon;

	if (name == NULL || strcmp(x->name, name) == 0)
		return 1;
	if (strchr(name, ':') != NULL || (colon = strrchr(x->name, ':')) == NULL)
		return 0;
	return strcmp(colon + 1, name) == 0;
}

const char *
bb_xml_name(const struct bb_xml *node)
{
	return node->name;
}

const char *
bb_xml_text(const struct bb_xml *node)
{
	return node->text.data ? node->text.data : empty;
}

size_t
bb_xml_text_len(const struct bb_xml *node)
{
	return node->text.len;
}

const char *
bb_xml_attr(const struct bb_xml *node, const char *name)
{
	size_t k;

	for (k = 0; k < node->nattrs; k++)
		if (strcmp(node->attrs[2 * k], name) == 0)
			return node->attrs[2 * k + 1];
	return NULL;
}

const struct bb_xml *
bb_xml_child(const struct bb_xml *node, const char *name)
{
	const struct bb_xml *c;

	for (c = node ? node->child : NULL; c != NULL; c = c->next)
		if (name_is(c, name))
			return c;
	return NULL;
}

const struct bb_xml *
bb_xml_next(const struct bb_xml *node, const char *name)
{
	const struct bb_xml *c;

	for (c = node ? node->next : NULL; c != NULL; c = c->next)
		if (name_is(c, name))
			return c;
	return NULL;
}

const char *
bb_xml_child_text(const struct bb_xml *node, const char *name)
{
	const struct bb_xml *c = bb_xml_child(node, name);

	return c ? bb_xml_text(c) : NULL;
}

size_t
bb_xml_count(const struct bb_xml *node, const char *name)
{
	const struct bb_xml *c;
	size_t n = 0;

	for (c = bb_xml_child(node, name); c != NULL; c = bb_xml_next(c, name))
		n++;
	return n;
}

/* ---- writing ---- */

int
bb_xml_add_escaped(struct bb_buf *out, const char *s, size_t n)
{
	size_t i, run = 0;
	unsigned char c;
	const char *rep;
	char num[8];

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		case '\r': rep = "&#13;"; break;
		default:
			if (c >= 0x20 || c == '\t' || c == '\n')
				continue;
			snprintf(num, sizeof(num), "&#x%X;", c);
			rep = num;
		}
		if (bb_buf_add(out, s + run, i - run) != 0 || bb_buf_adds(out, rep) != 0)
			return -1;
		run = i + 1;
	}
	return bb_buf_add(out, s + run, n - run);
}
