/*
 * cli.h - the command-line options every bb-* program shares, parsed in one
 * place: the AWS ones (--profile, --region, --endpoint-url, --trace),
 * --max-line-bytes, --progress/--no-progress and -q/-v/-h/-V. Each program
 * keeps its own getopt_long() loop and its own options; it splices the
 * groups it offers into its option table and hands every value its switch
 * does not know to bb_cli_option():
 *
 *   static struct bb_cli cli;
 *   static const struct option longopts[] = {
 *           { "to", required_argument, NULL, 't' },
 *           BB_CLI_OPTIONS_AWS,
 *           BB_CLI_OPTIONS_MAX_LINE,
 *           BB_CLI_OPTIONS_PROGRESS,
 *           BB_CLI_OPTIONS_STD,
 *           { NULL, 0, NULL, 0 },
 *   };
 *   bb_cli_init(&cli, usage);
 *   while ((c = getopt_long(argc, argv, "t:" BB_CLI_SHORTOPTS, longopts, NULL)) != -1)
 *           switch (c) {
 *           case 't': ...; break;
 *           default:
 *                   if (!bb_cli_option(&cli, c, optarg))
 *                           bb_cli_try_help();
 *           }
 *   aws = bb_aws_new(&cli.aws, &err);
 *
 * A program that wants another meaning for a shared option gives it a case
 * of its own; its switch sees the value first.
 *
 * Like msg.h this is part of the program skeleton, for cmd/ only: a bad
 * value is a usage error (message and exit 2), --help and --version print
 * and exit 0.
 */
#ifndef BB_CLI_H
#define BB_CLI_H

#include <getopt.h>
#include <stdint.h>

#include "aws.h"

/* getopt_long() values of the shared long options (above any program's). */
enum {
	BB_CLI_PROFILE = 0x1000,
	BB_CLI_REGION,
	BB_CLI_ENDPOINT_URL,
	BB_CLI_TRACE,
	BB_CLI_MAX_LINE,
	BB_CLI_PROGRESS,
	BB_CLI_NO_PROGRESS,
};

/* Entries of a struct option table, each group without a trailing comma. */
#define BB_CLI_OPTIONS_AWS \
	{ "profile", required_argument, NULL, BB_CLI_PROFILE }, \
	{ "region", required_argument, NULL, BB_CLI_REGION }, \
	{ "endpoint-url", required_argument, NULL, BB_CLI_ENDPOINT_URL }, \
	{ "trace", required_argument, NULL, BB_CLI_TRACE }
#define BB_CLI_OPTIONS_MAX_LINE \
	{ "max-line-bytes", required_argument, NULL, BB_CLI_MAX_LINE }
#define BB_CLI_OPTIONS_PROGRESS \
	{ "progress", no_argument, NULL, BB_CLI_PROGRESS }, \
	{ "no-progress", no_argument, NULL, BB_CLI_NO_PROGRESS }
#define BB_CLI_OPTIONS_STD \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ "version", no_argument, NULL, 'V' }
/* The short forms of BB_CLI_OPTIONS_STD, for getopt_long()'s optstring. */
#define BB_CLI_SHORTOPTS "qvhV"

/* --max-line-bytes accepts a size within these bounds. */
#define BB_CLI_MAX_LINE_MIN 16
#define BB_CLI_MAX_LINE_MAX ((uint64_t)1 << 31)

/*
 * What the shared options set. The strings point into argv (nothing to
 * free; no _release). --progress, --no-progress, -q and -v act on msg.h's
 * state (bb_progress_force(), bb_verbosity) rather than on this struct.
 */
struct bb_cli {
	void (*usage)(void);    /* prints the program's --help text on stdout */
	struct bb_aws_opts aws; /* --profile, --region, --endpoint-url, --trace */
	uint64_t max_line;      /* --max-line-bytes; BB_NDJSON_DEFAULT_MAX_LINE */
};

/* Zero the struct, set the defaults and remember the --help printer. */
void bb_cli_init(struct bb_cli *cli, void (*usage)(void));

/*
 * Apply one value returned by getopt_long() (`arg`: its optarg). Returns 1
 * when it is a shared option (handled), 0 when it is not (the caller's:
 * usually getopt's '?' for an unknown option). Does not return for a bad
 * value (usage error, exit 2), for -h (cli->usage(), exit 0) or for -V
 * (the version, exit 0).
 */
int bb_cli_option(struct bb_cli *cli, int opt, const char *arg);

/* After getopt_long() reported a bad option: "Try 'PROG --help' for more
 * information." on stderr and exit 2. */
void bb_cli_try_help(void) __attribute__((noreturn));

#endif
