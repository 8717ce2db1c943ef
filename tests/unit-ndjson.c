/*
 * unit-ndjson.c - the line reader: a table of inputs, each read from a
 * temporary file with read(2) sizes 1..31 and unlimited, and from a pipe
 * fed by a child process; the lines, positions and errors are written to a
 * transcript that must match the expected one. Then gzip input (several
 * members, truncated, garbage), open errors, and random inputs checked
 * against a simple reference splitter.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "buf.h"
#include "ndjson.h"
#include "tap.h"

/* Describe one line: "L<no>@<offset>[cr] <data>" with \0 \r \n visible. */
static void
show_line(struct bb_buf *t, const struct bb_ndjson_line *l)
{
	size_t i;

	bb_buf_addf(t, "L%llu@%llu%s ", (unsigned long long)l->lineno,
	    (unsigned long long)l->offset, l->had_cr ? "cr" : "");
	for (i = 0; i < l->len; i++) {
		if (l->data[i] == '\0')
			bb_buf_adds(t, "\\0");
		else if (l->data[i] == '\r')
			bb_buf_adds(t, "\\r");
		else if (l->data[i] == '\n')
			bb_buf_adds(t, "\\n");
		else
			bb_buf_addc(t, l->data[i]);
	}
	bb_buf_addc(t, '|');
}

/*
 * Read everything from r into a transcript. After a recoverable error the
 * loop goes on, alternately with bb_ndjson_skip_line() and by calling
 * bb_ndjson_next() again (both must skip the long line).
 */
static void
transcript(struct bb_ndjson *r, struct bb_buf *t)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_ndjson_line l;
	int rc, nerr = 0;

	for (;;) {
		memset(&l, 0xaa, sizeof(l));
		rc = bb_ndjson_next(r, &l, &err);
		if (rc == 0)
			break;
		if (rc > 0) {
			if (l.data[l.len] != '\0')
				bb_buf_adds(t, "NOT-NUL-TERMINATED|");
			show_line(t, &l);
			continue;
		}
		bb_buf_addf(t, "E %s|", err.msg);
		if (bb_ndjson_failed(r)) {
			/* a final error repeats */
			if (bb_ndjson_next(r, &l, &err) != -1 || bb_ndjson_skip_line(r, &err) != -1)
				bb_buf_adds(t, "NOT-STICKY|");
			break;
		}
		if (nerr++ % 2 == 0 && bb_ndjson_skip_line(r, &err) < 0) {
			bb_buf_addf(t, "E skip %s|", err.msg);
			break;
		}
	}
	bb_buf_addf(t, "end@%llu", (unsigned long long)bb_ndjson_bytes(r));
}

struct rcase {
	const char *name;
	const char *in;
	size_t inlen;        /* 0: strlen */
	size_t max_line;
	unsigned flags;
	const char *want;
};

#define S(lit) lit, sizeof(lit) - 1

static const struct rcase rcases[] = {
	{ "two lines", S("a\nbc\n"), 0, 0, "L1@0 a|L2@2 bc|end@5" },
	{ "no final newline", S("a\nbc"), 0, 0, "L1@0 a|L2@2 bc|end@4" },
	{ "CRLF", S("a\r\nbc\r\n"), 0, 0, "L1@0cr a|L2@3cr bc|end@7" },
	{ "CRLF, no final newline", S("a\r\nb\r"), 0, 0, "L1@0cr a|L2@3cr b|end@5" },
	{ "lone CR inside is data", S("a\rb\n"), 0, 0, "L1@0 a\\rb|end@4" },
	{ "empty input", S(""), 0, 0, "end@0" },
	{ "one newline", S("\n"), 0, 0, "L1@0 |end@1" },
	{ "empty lines", S("\n\n x \n\n"), 0, 0, "L1@0 |L2@1 |L3@2  x |L4@6 |end@7" },
	{ "empty lines skipped", S("\n\r\n x \n\n"), 0, BB_NDJSON_SKIP_BLANK,
	    "L3@3  x |end@8" },
	{ "whitespace-only lines skipped", S("a\n  \n\t\r\n \t \nb\n"), 0, BB_NDJSON_SKIP_BLANK,
	    "L1@0 a|L5@12 b|end@14" },
	{ "whitespace-only lines kept without the flag", S(" \n"), 0, 0, "L1@0  |end@2" },
	{ "NUL bytes", S("a\0b\n\0\n"), 0, 0, "L1@0 a\\0b|L2@4 \\0|end@6" },
	{ "line of exactly max_line", S("12345678\nab\n"), 8, 0, "L1@0 12345678|L2@9 ab|end@12" },
	{ "max_line + CRLF", S("12345678\r\nab\n"), 8, 0, "L1@0cr 12345678|L2@10 ab|end@13" },
	{ "max_line + 1", S("12345678\n123456789\nab\n123456789\nc"), 8, 0,
	    "L1@0 12345678|E line longer than 8 bytes (at t:2)|L3@19 ab|"
	    "E line longer than 8 bytes (at t:4)|L5@32 c|end@33" },
	{ "max_line + 1 with CR", S("123456789\r\nab"), 8, 0,
	    "E line longer than 8 bytes (at t:1)|L2@11 ab|end@13" },
	{ "very long lines", S("ok\n1234567890123456789012345678901234567890123456789\n"
	    "12345678901234567890123456789012345678901234567890123456789\nend"), 8, 0,
	    "L1@0 ok|E line longer than 8 bytes (at t:2)|E line longer than 8 bytes (at t:3)|"
	    "L4@113 end|end@116" },
	{ "too long at the end, no newline", S("ok\n123456789"), 8, 0,
	    "L1@0 ok|E line longer than 8 bytes (at t:2)|end@12" },
	{ "too long at the end, long", S("ok\n123456789012345678901234567890"), 8, 0,
	    "L1@0 ok|E line longer than 8 bytes (at t:2)|end@33" },
	{ "max_line 1", S("a\nbb\n\nc"), 1, 0,
	    "L1@0 a|E line longer than 1 bytes (at t:2)|L3@5 |L4@6 c|end@7" },
	{ "gzip magic with NO_GZIP", S("\x1f\x8b\n"), 0, BB_NDJSON_NO_GZIP,
	    "L1@0 \x1f\x8b|end@3" },
	{ "gzip magic alone is truncated gzip", S("\x1f\x8b"), 0, 0,
	    "E unexpected end of gzip data (at t:1)|end@0" },
	{ "one byte 1f", S("\x1f"), 0, 0, "L1@0 \x1f|end@1" },
};

/* Open `in` through a temporary file (pipe == 0) or a pipe from a child. */
static struct bb_ndjson *
open_input(const char *in, size_t n, int pipe_, size_t max_line, unsigned flags,
    pid_t *child, struct bb_error *err)
{
	char path[] = "/tmp/unit-ndjson.XXXXXX";
	int fd, p[2];

	*child = -1;
	if (!pipe_) {
		if ((fd = mkstemp(path)) < 0)
			return NULL;
		unlink(path);
		if (write(fd, in, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0) {
			close(fd);
			return NULL;
		}
		return bb_ndjson_open_fd(fd, 1, "t", max_line, flags, err);
	}
	if (pipe(p) < 0)
		return NULL;
	if ((*child = fork()) == 0) {
		size_t off = 0, k = 1;
		ssize_t w;

		close(p[0]);
		/* write in growing odd chunks so reads see ragged boundaries */
		while (off < n) {
			if (k > n - off)
				k = n - off;
			if ((w = write(p[1], in + off, k)) <= 0)
				_exit(1);
			off += (size_t)w;
			k = k * 3 + 1;
		}
		_exit(0);
	}
	close(p[1]);
	return bb_ndjson_open_fd(p[0], 1, "t", max_line, flags, err);
}

static void
reap(pid_t child)
{
	int st;

	if (child > 0)
		waitpid(child, &st, 0);
}

/* Run one input through every read size 1..31 and unlimited (a big input
 * only 31 and unlimited), and through a pipe; 1 when all match. */
static int
check_input(const char *name, const char *in, size_t n, size_t max_line, unsigned flags,
    const char *want)
{
	int big = n > 100000;

	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf t = BB_BUF_INIT;
	struct bb_ndjson *r;
	size_t rs;
	pid_t child;
	int mode, good = 1;

	for (mode = 0; mode < 2 && good; mode++)
		for (rs = 0; rs <= 31 && good; rs++) {
			if (mode == 1 && rs != 0 && rs != 1 && rs != 7)
				continue;
			if (big && rs != 0 && rs != 31)
				continue;
			bb_buf_reset(&t);
			r = open_input(in, n, mode, max_line, flags, &child, &err);
			if (r == NULL) {
				bb_buf_addf(&t, "open failed: %s", err.msg);
			} else {
				bb_ndjson_set_read_size(r, rs);
				transcript(r, &t);
				bb_ndjson_free(r);
			}
			reap(child);
			if (strcmp(bb_buf_str(&t), want) != 0) {
				good = 0;
				diag("%s: read size %zu from a %s", name, rs, mode ? "pipe" : "file");
			}
		}
	is_str(bb_buf_str(&t), want, name);
	bb_buf_release(&t);
	return good;
}

static void
test_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		const struct rcase *c = &rcases[i];

		check_input(c->name, c->in, c->inlen ? c->inlen : strlen(c->in), c->max_line,
		    c->flags, c->want);
	}
}

/* Lines longer than the 256 KiB first buffer, within and over the limit. */
static void
test_big_lines(void)
{
	struct bb_buf in = BB_BUF_INIT, want = BB_BUF_INIT;
	size_t big = 700000, i;

	for (i = 0; i < big; i++)
		bb_buf_addc(&in, (char)('a' + i % 26));
	bb_buf_adds(&in, "\nx\n");
	bb_buf_addf(&want, "L1@0 %.*s|L2@%zu x|end@%zu", (int)big, in.data, big + 1, big + 3);
	check_input("700 kB line under the default limit", in.data, in.len, 0, 0, want.data);
	bb_buf_reset(&want);
	bb_buf_addf(&want, "E line longer than 699999 bytes (at t:1)|L2@%zu x|end@%zu",
	    big + 1, big + 3);
	check_input("700 kB line over a 699999 limit", in.data, in.len, big - 1, 0, want.data);
	bb_buf_reset(&want);
	bb_buf_addf(&want, "L1@0 %.*s|L2@%zu x|end@%zu", (int)big, in.data, big + 1, big + 3);
	check_input("700 kB line at exactly the limit", in.data, in.len, big, 0, want.data);
	bb_buf_release(&in);
	bb_buf_release(&want);
}

/* Append a complete gzip member holding s[0..n) to out. */
static void
gz_member(struct bb_buf *out, const char *s, size_t n)
{
	z_stream z;
	unsigned char tmp[4096];
	int zr;

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (unsigned char *)(uintptr_t)s;
	z.avail_in = (uInt)n;
	do {
		z.next_out = tmp;
		z.avail_out = sizeof(tmp);
		zr = deflate(&z, Z_FINISH);
		bb_buf_add(out, tmp, sizeof(tmp) - z.avail_out);
	} while (zr == Z_OK);
	deflateEnd(&z);
}

static void
test_gzip(void)
{
	struct bb_buf gz = BB_BUF_INIT, want = BB_BUF_INIT, big = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_ndjson *r;
	size_t i, cut;
	pid_t child;

	gz_member(&gz, "a\nb", 3);
	gz_member(&gz, "", 0);
	gz_member(&gz, "c\r\n\nd\n", 6);
	check_input("gzip, three members, a line across members", gz.data, gz.len, 0, 0,
	    "L1@0 a|L2@2cr bc|L3@6 |L4@7 d|end@9");

	r = open_input(gz.data, gz.len, 0, 0, 0, &child, &err);
	ok(r != NULL && bb_ndjson_is_gzip(r) && !bb_ndjson_is_seekable(r),
	    "gzip detected, not seekable");
	bb_ndjson_free(r);
	r = open_input(gz.data, gz.len, 0, 0, BB_NDJSON_NO_GZIP, &child, &err);
	ok(r != NULL && !bb_ndjson_is_gzip(r) && bb_ndjson_is_seekable(r),
	    "NO_GZIP: raw bytes from a seekable file");
	bb_ndjson_free(r);

	/* truncated: every cut inside the last member is an error after the
	 * lines that were complete */
	bb_buf_reset(&gz);
	gz_member(&gz, "a\n", 2);
	cut = gz.len;
	for (i = 0; i < 200; i++)
		bb_buf_addf(&big, "{\"row\":%zu}\n", i);
	gz_member(&gz, big.data, big.len);
	for (i = 1; i < 8; i++) {
		char name[64];
		size_t n = cut + (gz.len - cut) * i / 8;

		if (i == 7)
			n = gz.len - 1;   /* only the last byte of the trailer missing */
		snprintf(name, sizeof(name), "gzip cut at byte %zu of %zu", n, gz.len);
		r = open_input(gz.data, n, 0, 0, 0, &child, &err);
		bb_buf_reset(&want);
		if (r != NULL) {
			transcript(r, &want);
			bb_ndjson_free(r);
		}
		ok(strncmp(bb_buf_str(&want), "L1@0 a|", 7) == 0 &&
		    strstr(bb_buf_str(&want), "|E unexpected end of gzip data (at t:") != NULL &&
		    strstr(bb_buf_str(&want), "NOT-STICKY") == NULL, "%s", name);
		if (i == 7)
			/* all rows were inflated; only the CRC trailer was short */
			ok(strstr(want.data, "L201@") != NULL, "all lines before the cut trailer");
	}

	bb_buf_reset(&gz);
	gz_member(&gz, "a\n", 2);
	bb_buf_add(&gz, "garbage\n", 8);
	check_input("gzip then garbage", gz.data, gz.len, 0, 0,
	    "L1@0 a|E invalid gzip data: incorrect header check (at t:2)|end@2");

	bb_buf_reset(&gz);
	gz_member(&gz, "a\nb\n", 4);
	gz.data[gz.len - 8] ^= 0x55;   /* the CRC-32 */
	r = open_input(gz.data, gz.len, 0, 0, 0, &child, &err);
	bb_buf_reset(&want);
	if (r != NULL) {
		transcript(r, &want);
		bb_ndjson_free(r);
	}
	is_str(bb_buf_str(&want), "L1@0 a|L2@2 b|E invalid gzip data: incorrect data check (at t:3)|end@4",
	    "gzip with a wrong CRC");

	bb_buf_release(&gz);
	bb_buf_release(&want);
	bb_buf_release(&big);
}

static void
test_open(void)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_ndjson_line l;
	struct bb_ndjson *r;
	char path[] = "/tmp/unit-ndjson.XXXXXX";
	int fd;

	r = bb_ndjson_open("/nonexistent/x.jsonl", 0, 0, &err);
	ok(r == NULL, "missing file");
	is_str(err.msg, "cannot open '/nonexistent/x.jsonl': No such file or directory",
	    "missing file message");
	r = bb_ndjson_open("/", 0, 0, &err);
	ok(r == NULL, "a directory cannot be read");
	is_str(err.msg, "cannot read '/': Is a directory", "read error names the file");

	if ((fd = mkstemp(path)) < 0 || write(fd, "{}\n[]", 5) != 5) {
		skip("cannot make a temporary file");
		return;
	}
	close(fd);
	r = bb_ndjson_open(path, 0, 0, &err);
	ok(r != NULL && strcmp(bb_ndjson_name(r), path) == 0, "open by path, named by path");
	if (r != NULL) {
		ok(bb_ndjson_is_seekable(r) && !bb_ndjson_is_gzip(r), "regular file is seekable");
		ok(bb_ndjson_next(r, &l, &err) == 1 && l.len == 2 && bb_ndjson_bytes(r) == 3 &&
		    bb_ndjson_lineno(r) == 1, "first line, bytes and lineno");
		ok(bb_ndjson_skip_line(r, &err) == 1 && bb_ndjson_lineno(r) == 2 &&
		    bb_ndjson_bytes(r) == 5, "skip_line skips a final line without newline");
		ok(bb_ndjson_skip_line(r, &err) == 0 && bb_ndjson_next(r, &l, &err) == 0,
		    "then end of input");
		bb_ndjson_free(r);
	}
	unlink(path);

	/* "-" is stdin, never closed */
	if ((fd = dup(0)) >= 0) {
		int p[2];

		if (pipe(p) == 0) {
			dup2(p[0], 0);
			close(p[0]);
			ok(write(p[1], "x\n", 2) == 2, "write to the pipe");
			close(p[1]);
			r = bb_ndjson_open("-", 0, 0, &err);
			ok(r != NULL && strcmp(bb_ndjson_name(r), "<stdin>") == 0 &&
			    !bb_ndjson_is_seekable(r), "\"-\" is <stdin>, a pipe");
			if (r != NULL) {
				ok(bb_ndjson_next(r, &l, &err) == 1 && l.len == 1 && l.data[0] == 'x',
				    "line from stdin");
				bb_ndjson_free(r);
			}
			ok(fcntl(0, F_GETFD) != -1, "stdin still open after free");
		}
		dup2(fd, 0);
		close(fd);
	}
}

/* The reference: split on "\n", strip one "\r", check the length. */
static void
reference(const char *in, size_t n, size_t max_line, struct bb_buf *t)
{
	size_t start = 0, i, end, len;
	unsigned long long no = 0;

	while (start < n) {
		for (i = start; i < n && in[i] != '\n'; i++)
			;
		end = i < n ? i + 1 : n;
		len = i - start;
		no++;
		{
			int cr = len > 0 && in[start + len - 1] == '\r';
			struct bb_ndjson_line l;

			if (cr)
				len--;
			if (len > max_line) {
				bb_buf_addf(t, "E line longer than %zu bytes (at t:%llu)|", max_line, no);
			} else {
				l.data = in + start;
				l.len = len;
				l.lineno = no;
				l.offset = start;
				l.had_cr = cr;
				show_line(t, &l);
			}
		}
		start = end;
	}
	bb_buf_addf(t, "end@%zu", n);
}

static void
test_random(void)
{
	static const char alphabet[] = "ab\n\n\r\0{}";
	struct bb_buf in = BB_BUF_INIT, want = BB_BUF_INIT;
	unsigned seed = 12345;
	int round, good = 0;
	size_t i, n, max_line;

	for (round = 0; round < 60; round++) {
		char name[64];

		bb_buf_reset(&in);
		bb_buf_reset(&want);
		seed = seed * 1103515245u + 12345u;
		n = (seed >> 8) % 200;
		max_line = 1 + (seed >> 20) % 12;
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			bb_buf_addc(&in, alphabet[(seed >> 16) % (sizeof(alphabet) - 1)]);
		}
		reference(in.data ? in.data : "", in.len, max_line, &want);
		snprintf(name, sizeof(name), "random input %d (%zu bytes, max_line %zu)",
		    round, in.len, max_line);
		good += check_input(name, in.data ? in.data : "", in.len, max_line, 0, want.data);
	}
	bb_buf_release(&in);
	bb_buf_release(&want);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_table();
	test_big_lines();
	test_gzip();
	test_open();
	test_random();
	return done_testing();
}
