/* buf.c - growable byte buffers; see buf.h. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int
bb_size_add(size_t a, size_t b, size_t *out)
{
	if (a > SIZE_MAX - b) {
		errno = EOVERFLOW;
		return -1;
	}
	*out = a + b;
	return 0;
}

int
bb_size_mul(size_t a, size_t b, size_t *out)
{
	if (a != 0 && b > SIZE_MAX / a) {
		errno = EOVERFLOW;
		return -1;
	}
	*out = a * b;
	return 0;
}

void
bb_buf_init(struct bb_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
bb_buf_release(struct bb_buf *b)
{
	free(b->data);
	bb_buf_init(b);
}

int
bb_buf_grow(struct bb_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (bb_size_add(b->len, extra, &need) || bb_size_add(need, 1, &need))
		return -1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (p == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	b->data[b->len] = '\0';
	return 0;
}

int
bb_buf_add(struct bb_buf *b, const void *p, size_t n)
{
	if (bb_buf_grow(b, n))
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
bb_buf_adds(struct bb_buf *b, const char *s)
{
	return bb_buf_add(b, s, strlen(s));
}

int
bb_buf_addc(struct bb_buf *b, char c)
{
	return bb_buf_add(b, &c, 1);
}

int
bb_buf_vaddf(struct bb_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	if (bb_buf_grow(b, 64))
		return -1;
	va_copy(cp, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -1;
	if ((size_t)n >= b->cap - b->len) {
		if (bb_buf_grow(b, (size_t)n))
			return -1;
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		if (n < 0)
			return -1;
	}
	b->len += (size_t)n;
	return 0;
}

int
bb_buf_addf(struct bb_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = bb_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void
bb_buf_setlen(struct bb_buf *b, size_t n)
{
	if (b->data == NULL)
		return;
	if (n < b->len)
		b->len = n;
	b->data[b->len] = '\0';
}

const char *
bb_buf_str(const struct bb_buf *b)
{
	return b->data ? b->data : "";
}

char *
bb_buf_detach(struct bb_buf *b, size_t *len)
{
	char *p = b->data;

	if (p == NULL)
		p = calloc(1, 1);
	if (len)
		*len = b->len;
	bb_buf_init(b);
	return p;
}
