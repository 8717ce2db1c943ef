/* msg.c - program skeleton, diagnostics, stdout policy; see msg.h. */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"

int bb_verbosity;

static const char *progname = "bbatch";
static int stdout_is_file;
static int progress_forced = -1;   /* -1 detect, 0 off, 1 on */
static int progress_shown;
static double progress_start, progress_last;
static size_t progress_width;

const char *
bb_progname(void)
{
	return progname;
}

double
bb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
bb_sleep(double s)
{
	struct timespec ts;

	if (!(s > 0))
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void
bb_main_init(int argc, char **argv, const char *name)
{
	struct stat st;
	int fd;

	(void)argc;
	(void)argv;
	progname = name;
	/* A closed 0, 1 or 2 would let a later open() land there. */
	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
			if (n != fd)
				_exit(BB_EXIT_USAGE);
		}
	}
	setlocale(LC_ALL, "");
	setlocale(LC_NUMERIC, "C");
	signal(SIGPIPE, SIG_IGN);
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode))
		stdout_is_file = 1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "%s: error: cannot initialise libcurl\n", progname);
		exit(BB_EXIT_USAGE);
	}
	progress_start = bb_now();
}

static void
die_of_sigpipe(void)
{
	signal(SIGPIPE, SIG_DFL);
	raise(SIGPIPE);
	_exit(141);
}

int
bb_main_finish(int status)
{
	bb_progress_done();
	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno == EPIPE)
			die_of_sigpipe();
		bb_msg_error("write error on standard output: %s",
		    errno ? strerror(errno) : "I/O error");
		status = BB_EXIT_USAGE;
	}
	if (fclose(stdout) != 0 && errno != EBADF && status == 0) {
		if (errno == EPIPE)
			die_of_sigpipe();
		bb_msg_error("cannot close standard output: %s", strerror(errno));
		status = BB_EXIT_USAGE;
	}
	curl_global_cleanup();
	return status;
}

void
bb_print_version(void)
{
	printf("%s (%s) %s\n", progname, PACKAGE_NAME, PACKAGE_VERSION);
}

static void
progress_clear(void)
{
	if (progress_shown && progress_width) {
		fprintf(stderr, "\r%*s\r", (int)progress_width, "");
		progress_width = 0;
	}
}

static void
vmsg(const char *kind, const char *fmt, va_list ap)
{
	progress_clear();
	if (kind)
		fprintf(stderr, "%s: %s: ", progname, kind);
	else
		fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
bb_msg_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("error", fmt, ap);
	va_end(ap);
}

void
bb_msg_warn(const char *fmt, ...)
{
	va_list ap;

	if (bb_verbosity < 0)
		return;
	va_start(ap, fmt);
	vmsg("warning", fmt, ap);
	va_end(ap);
}

void
bb_msg_info(const char *fmt, ...)
{
	va_list ap;

	if (bb_verbosity < 0)
		return;
	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
}

void
bb_msg_note(int level, const char *fmt, ...)
{
	va_list ap;

	if (bb_verbosity < level)
		return;
	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
}

void
bb_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("error", fmt, ap);
	va_end(ap);
	fflush(stdout);
	exit(status);
}

void
bb_usage_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", progname);
	exit(BB_EXIT_USAGE);
}

void *
bb_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		bb_die(BB_EXIT_USAGE, "out of memory (allocating %zu bytes)", n);
	return p;
}

void *
bb_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		bb_die(BB_EXIT_USAGE, "out of memory");
	return p;
}

void *
bb_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		bb_die(BB_EXIT_USAGE, "out of memory (allocating %zu bytes)", n);
	return p;
}

char *
bb_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		bb_die(BB_EXIT_USAGE, "out of memory");
	return p;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	else if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

int
bb_msg_escape(struct bb_buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, l;

	while (i < n) {
		unsigned char c = p[i];
		int rc;

		if (c == '\n')
			rc = bb_buf_add(out, "\\n", 2);
		else if (c == '\r')
			rc = bb_buf_add(out, "\\r", 2);
		else if (c == '\t')
			rc = bb_buf_add(out, "\\t", 2);
		else if (c < 0x20 || c == 0x7f)
			rc = bb_buf_addf(out, "\\x%02x", c);
		else if (c < 0x80)
			rc = bb_buf_addc(out, (char)c);
		else if ((l = utf8_len(p + i, n - i)) > 0) {
			/* C1 controls (U+0080..U+009F) are escaped too. */
			if (l == 2 && c == 0xc2 && p[i + 1] < 0xa0)
				rc = bb_buf_addf(out, "\\u%04x", p[i + 1]);
			else
				rc = bb_buf_add(out, p + i, l);
			i += l;
			if (rc)
				return -1;
			continue;
		} else
			rc = bb_buf_addf(out, "\\x%02x", c);
		if (rc)
			return -1;
		i++;
	}
	return 0;
}

void
bb_out_write(const void *p, size_t n)
{
	if (n == 0)
		return;
	if (fwrite(p, 1, n, stdout) != n) {
		if (errno == EPIPE)
			die_of_sigpipe();
		bb_die(BB_EXIT_USAGE, "write error on standard output: %s", strerror(errno));
	}
}

void
bb_out_puts(const char *s)
{
	bb_out_write(s, strlen(s));
}

void
bb_out_record_end(void)
{
	if (stdout_is_file)
		return;
	if (fflush(stdout) != 0) {
		if (errno == EPIPE)
			die_of_sigpipe();
		bb_die(BB_EXIT_USAGE, "write error on standard output: %s", strerror(errno));
	}
}

int
bb_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
bb_parse_size(const char *s, uint64_t *out)
{
	static const struct { const char *sfx; uint64_t mul; } units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1000ULL }, { "KB", 1000ULL }, { "KiB", 1ULL << 10 },
		{ "M", 1000000ULL }, { "MB", 1000000ULL }, { "MiB", 1ULL << 20 },
		{ "G", 1000000000ULL }, { "GB", 1000000000ULL }, { "GiB", 1ULL << 30 },
		{ "T", 1000000000000ULL }, { "TB", 1000000000000ULL }, { "TiB", 1ULL << 40 },
	};
	unsigned long long v;
	char *end;
	size_t i;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].sfx) == 0) {
			if (v > UINT64_MAX / units[i].mul)
				return -1;
			*out = v * units[i].mul;
			return 0;
		}
	}
	return -1;
}

int
bb_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end != '\0' || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
bb_parse_duration(const char *s, double *seconds)
{
	char *end;
	double v, mul = 1;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || !isfinite(v) || v < 0)
		return -1;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		mul = 1;
	else if (strcmp(end, "ms") == 0)
		mul = 0.001;
	else if (strcmp(end, "m") == 0)
		mul = 60;
	else if (strcmp(end, "h") == 0)
		mul = 3600;
	else if (strcmp(end, "d") == 0)
		mul = 86400;
	else
		return -1;
	*seconds = v * mul;
	return 0;
}

void
bb_progress_force(int on)
{
	progress_forced = on ? 1 : 0;
}

int
bb_progress_enabled(void)
{
	static int detected = -1;

	if (bb_verbosity < 0)
		return 0;
	if (progress_forced >= 0)
		return progress_forced;
	if (detected < 0) {
		pid_t fg = tcgetpgrp(STDERR_FILENO);

		detected = isatty(STDERR_FILENO) && fg != -1 && fg == getpgrp();
	}
	return detected;
}

void
bb_progress_update(const char *fmt, ...)
{
	char line[256];
	double now;
	va_list ap;
	size_t n;

	if (!bb_progress_enabled())
		return;
	now = bb_now();
	if (progress_forced != 1 && now - progress_start < 1.0)
		return;
	if (progress_shown && now - progress_last < 1.0)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	fprintf(stderr, "\r%s", line);
	if (n < progress_width)
		fprintf(stderr, "%*s", (int)(progress_width - n), "");
	fflush(stderr);
	progress_width = n;
	progress_shown = 1;
	progress_last = now;
}

void
bb_progress_done(void)
{
	if (progress_shown && progress_width) {
		fputc('\n', stderr);
		progress_width = 0;
	}
	progress_shown = 0;
}
