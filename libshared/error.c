/* error.c - error buffers; see error.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

void
bb_error_clear(struct bb_error *e)
{
	if (e) {
		e->kind = BB_ERR_NONE;
		e->msg[0] = '\0';
	}
}

int
bb_error_vset(struct bb_error *e, enum bb_error_kind kind, const char *fmt, va_list ap)
{
	if (e) {
		e->kind = kind;
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	}
	return -1;
}

int
bb_error_set(struct bb_error *e, enum bb_error_kind kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bb_error_vset(e, kind, fmt, ap);
	va_end(ap);
	return -1;
}

int
bb_error_errno(struct bb_error *e, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	size_t n;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	bb_error_vset(e, BB_ERR_SYSTEM, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

void
bb_error_prefix(struct bb_error *e, const char *fmt, ...)
{
	char old[sizeof(e->msg)];
	va_list ap;
	int n;

	if (e == NULL)
		return;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(e->msg) - 2)
		return;
	memcpy(e->msg + n, ": ", 2);
	n += 2;
	memcpy(e->msg + n, old, sizeof(e->msg) - (size_t)n - 1);
	e->msg[sizeof(e->msg) - 1] = '\0';
}
