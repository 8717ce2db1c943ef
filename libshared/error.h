/*
 * error.h - the error buffer every libshared function fills.
 *
 * Library functions return 0 or -1 (or a documented status) and, on
 * failure, describe what went wrong in a caller-provided struct bb_error.
 * The message is plain text without the program name and without a
 * trailing newline ("cannot open 'x': No such file or directory"); the
 * program decides how to print it (msg.h). A NULL struct bb_error pointer
 * is allowed everywhere and means "caller does not want the text".
 *
 * `kind` lets callers tell classes apart without parsing text: e.g. an HTTP
 * error that is worth retrying, or bad input vs. a system failure.
 */
#ifndef BB_ERROR_H
#define BB_ERROR_H

#include <stdarg.h>
#include <stddef.h>

enum bb_error_kind {
	BB_ERR_NONE = 0,
	BB_ERR_SYSTEM,     /* I/O, memory, OS */
	BB_ERR_INPUT,      /* bad input data (positioned where possible) */
	BB_ERR_USAGE,      /* bad option or configuration */
	BB_ERR_NETWORK,    /* connection-level failure */
	BB_ERR_REMOTE,     /* the service answered with an error */
	BB_ERR_AUTH,       /* credentials missing or refused */
	BB_ERR_NOTFOUND,
};

struct bb_error {
	enum bb_error_kind kind;
	char msg[1024];
};

#define BB_ERROR_INIT { BB_ERR_NONE, { 0 } }

void bb_error_clear(struct bb_error *e);
/* Set the message (printf style); returns -1 so `return bb_error_set(...)`
 * and `rc = bb_error_set(...)` read naturally. */
int bb_error_set(struct bb_error *e, enum bb_error_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int bb_error_vset(struct bb_error *e, enum bb_error_kind kind, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* Like bb_error_set, with ": strerror(errno)" appended. */
int bb_error_errno(struct bb_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Put "prefix: " in front of the current message. */
void bb_error_prefix(struct bb_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
