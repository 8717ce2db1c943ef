/*
 * fuzz.h - helpers shared by the libFuzzer harnesses in tests/fuzz/.
 *
 * Each harness is one fuzz-<target>.c defining LLVMFuzzerTestOneInput.
 * They are built with clang -fsanitize=fuzzer,address,undefined by
 * scripts/fuzz (never by the autotools build). A broken invariant is a
 * crash: FUZZ_CHECK prints what broke and aborts, so libFuzzer saves the
 * input as a reproducer.
 */
#ifndef BB_FUZZ_H
#define BB_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* Byte i of the input, or 0 past its end. */
static inline unsigned
fuzz_byte(const uint8_t *data, size_t size, size_t i)
{
	return i < size ? data[i] : 0;
}

/*
 * A file descriptor that reads back p[0..n): a pipe (its writing end
 * filled and closed) when want_pipe and the data fits in the pipe buffer,
 * else a memfd rewound to its start. -1 when neither could be made (the
 * harness then skips the input).
 */
static inline int
fuzz_fd(const void *p, size_t n, int want_pipe)
{
	const char *s = p;
	ssize_t w;
	size_t off;
	int fd, pfd[2];

	if (want_pipe && n <= 32768 && pipe(pfd) == 0) {
		for (off = 0; off < n; off += (size_t)w) {
			w = write(pfd[1], s + off, n - off);
			if (w <= 0) {
				close(pfd[0]);
				close(pfd[1]);
				return -1;
			}
		}
		close(pfd[1]);
		return pfd[0];
	}
	fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	for (off = 0; off < n; off += (size_t)w) {
		w = write(fd, s + off, n - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A malloc'd NUL-terminated copy of p[0..n) (abort on no memory: a
 * harness, not the library). */
static inline char *
fuzz_strndup(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

#endif
