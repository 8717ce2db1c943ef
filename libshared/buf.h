/*
 * buf.h - growable byte buffers (after git's strbuf).
 *
 * A struct bb_buf owns its memory. The contents are always NUL-terminated
 * (b->data[b->len] == '\0') once anything was added, so text can be passed
 * to C string functions; binary data may contain NULs as well.
 *
 * Lifecycle: BB_BUF_INIT or bb_buf_init(); bb_buf_release() frees the
 * contents and leaves an empty, reusable buffer. Functions that grow the
 * buffer return 0, or -1 (errno = ENOMEM or EOVERFLOW) and leave the
 * buffer as it was.
 */
#ifndef BB_BUF_H
#define BB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct bb_buf {
	char *data;   /* NULL while nothing was ever added */
	size_t len;
	size_t cap;
};

#define BB_BUF_INIT { NULL, 0, 0 }

void bb_buf_init(struct bb_buf *b);
void bb_buf_release(struct bb_buf *b);
/* Make room for at least `extra` more bytes (plus the NUL). */
int bb_buf_grow(struct bb_buf *b, size_t extra);
int bb_buf_add(struct bb_buf *b, const void *p, size_t n);
int bb_buf_adds(struct bb_buf *b, const char *s);
int bb_buf_addc(struct bb_buf *b, char c);
int bb_buf_addf(struct bb_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int bb_buf_vaddf(struct bb_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Truncate to n bytes (n <= len). */
void bb_buf_setlen(struct bb_buf *b, size_t n);
static inline void bb_buf_reset(struct bb_buf *b) { bb_buf_setlen(b, 0); }
/* The contents as a C string: never NULL ("" when empty). */
const char *bb_buf_str(const struct bb_buf *b);
/* Hand the memory to the caller (who frees it); the buffer becomes empty. */
char *bb_buf_detach(struct bb_buf *b, size_t *len);

/* Overflow-checked size arithmetic (git st_add/st_mult): 0 on success. */
int bb_size_add(size_t a, size_t b, size_t *out);
int bb_size_mul(size_t a, size_t b, size_t *out);

#endif
