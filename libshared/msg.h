/*
 * msg.h - the program skeleton shared by every bb-* main(): start-up and
 * exit policy, diagnostics on stderr, the stdout writer, option-value
 * parsing and the one-line progress display.
 *
 * This and cli.h (the options every program shares) are the only
 * libshared modules that print or exit, and only the programs in cmd/ call
 * them; other modules report through struct bb_error.
 *
 *   int main(int argc, char **argv) {
 *           bb_main_init(argc, argv, "bb-shard");
 *           ... getopt_long ...
 *           return bb_main_finish(status);
 *   }
 *
 * Messages: "bb-shard: error: cannot open 'x': No such file or directory".
 * Text that came from the network or from input must go through
 * bb_msg_escape() (or the %s of these functions after escaping) so control
 * characters never reach the terminal.
 */
#ifndef BB_MSG_H
#define BB_MSG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Exit statuses (DESIGN.md section 3). */
enum {
	BB_EXIT_OK = 0,
	BB_EXIT_PARTIAL = 1,  /* some items failed, the rest were done */
	BB_EXIT_USAGE = 2,    /* usage, configuration or system error */
};

/* Verbosity: -1 with --quiet, 0 by default, 1 with -v, 2 with -vv. */
extern int bb_verbosity;

/*
 * Start-up: make sure fds 0-2 are open, set the locale (LC_NUMERIC stays
 * "C" so numbers are JSON numbers), ignore SIGPIPE (a reset peer must not
 * kill a transfer; stdout EPIPE is handled by bb_out_*), initialise libcurl
 * once. Records the program name used by every message.
 */
void bb_main_init(int argc, char **argv, const char *progname);
/* Flush and close stdout; a write error found there turns `status` into
 * BB_EXIT_USAGE (with a message). Returns the exit status to return. */
int bb_main_finish(int status);
const char *bb_progname(void);

/* "prog (bbatch) VERSION" on stdout. */
void bb_print_version(void);

void bb_msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bb_msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Shown unless --quiet. */
void bb_msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Shown with -v (level 1) or -vv (level 2). */
void bb_msg_note(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "prog: error: ..." and exit(status). */
void bb_die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* "prog: MESSAGE\nTry 'prog --help' for more information." and exit 2. */
void bb_usage_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Allocation failure in cmd/ code: die with a message. */
void *bb_xmalloc(size_t n);
void *bb_xcalloc(size_t n, size_t size);
void *bb_xrealloc(void *p, size_t n);
char *bb_xstrdup(const char *s);

/* Append s[0..n) to out with control characters and invalid UTF-8 shown as
 * \n, \t, \xNN escapes. Returns 0 or -1 (ENOMEM). */
int bb_msg_escape(struct bb_buf *out, const char *s, size_t n);

/*
 * stdout. bb_out_write() writes everything or dies: on EPIPE it restores
 * SIGPIPE's default action and re-raises it, so `bb-x | head` ends quietly
 * with status 141 like any Unix filter; other errors exit 2.
 * bb_out_record_end() marks the end of one output record: it flushes
 * unless stdout is a regular file (then stdio's buffering is kept).
 */
void bb_out_write(const void *p, size_t n);
void bb_out_puts(const char *s);
void bb_out_record_end(void);

/*
 * Option values. Each returns 0 or -1 with no side effect on failure; the
 * caller names the option in its usage error.
 *   bb_parse_int:      decimal integer within [min, max]; no trailing junk
 *   bb_parse_size:     bytes with an optional K/M/G/T (x1000) or
 *                      KiB/MiB/GiB/TiB (x1024) suffix ("64MiB", "1GB", "500")
 *   bb_parse_duration: seconds with an optional s/m/h/d suffix, fractions
 *                      allowed ("1.5h", "90", "30s")
 *   bb_parse_double:   a finite number within [min, max]
 */
int bb_parse_int(const char *s, long long min, long long max, long long *out);
int bb_parse_size(const char *s, uint64_t *out);
int bb_parse_duration(const char *s, double *seconds);
int bb_parse_double(const char *s, double min, double max, double *out);

/*
 * Progress: one line on stderr, rewritten with \r. Shown only when stderr
 * is a terminal of the foreground process group, after about one second,
 * at most about once a second; bb_progress_force(1/0) (--progress /
 * --no-progress) overrides the detection. --quiet turns it off.
 * bb_progress_update() is cheap to call often. bb_progress_done() prints
 * the last state and a newline when anything was shown.
 */
void bb_progress_force(int on);
int bb_progress_enabled(void);
void bb_progress_update(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bb_progress_done(void);
/* Wall clock for elapsed-time reports: seconds (monotonic). */
double bb_now(void);
/* Sleep s seconds (nothing when s <= 0), resumed after a signal handler. */
void bb_sleep(double s);

#endif
