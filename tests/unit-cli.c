/* unit-cli.c - the options every program shares (libshared/cli.h): what each
 * sets, what it refuses (exit 2 with the message), --help and --version,
 * and the option-table groups driven through getopt_long(). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "msg.h"
#include "tap.h"

static void
test_usage(void)
{
	fputs("usage: bb-test [options]\n", stdout);
}

/* ---- what a handled option sets ---- */

static void
test_values(void)
{
	static const struct {
		int opt;
		const char *arg;
		const char *what;       /* the field that must hold arg */
	} s[] = {
		{ BB_CLI_PROFILE, "dev", "profile" },
		{ BB_CLI_REGION, "eu-west-3", "region" },
		{ BB_CLI_ENDPOINT_URL, "http://127.0.0.1:9000", "endpoint_url" },
		{ BB_CLI_TRACE, "-", "trace" },
	};
	static const struct {
		const char *arg;
		uint64_t want;
	} ml[] = {
		{ "16", 16 }, { "1K", 1000 }, { "64MiB", 64u << 20 }, { "2GiB", (uint64_t)1 << 31 },
	};
	static const int notours[] = { '?', ':', 'o', 'n', 1, 256, BB_CLI_NO_PROGRESS + 1, -1 };
	struct bb_cli cli;
	const char *got;
	size_t i;

	bb_cli_init(&cli, test_usage);
	ok(cli.max_line == 64u << 20, "max_line defaults to 64MiB");
	ok(cli.aws.profile == NULL && cli.aws.region == NULL && cli.aws.endpoint_url == NULL &&
	    cli.aws.trace == NULL && cli.usage == test_usage, "init: no AWS options, the usage kept");
	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		ok(bb_cli_option(&cli, s[i].opt, s[i].arg) == 1, "the option of aws.%s handled",
		    s[i].what);
		got = strcmp(s[i].what, "profile") == 0 ? cli.aws.profile :
		    strcmp(s[i].what, "region") == 0 ? cli.aws.region :
		    strcmp(s[i].what, "endpoint_url") == 0 ? cli.aws.endpoint_url : cli.aws.trace;
		ok(got == s[i].arg, "aws.%s is the argument itself", s[i].what);
	}
	for (i = 0; i < sizeof(ml) / sizeof(ml[0]); i++)
		ok(bb_cli_option(&cli, BB_CLI_MAX_LINE, ml[i].arg) == 1 &&
		    cli.max_line == ml[i].want, "--max-line-bytes %s", ml[i].arg);

	bb_verbosity = 0;
	ok(bb_cli_option(&cli, BB_CLI_PROGRESS, NULL) == 1 && bb_progress_enabled() == 1,
	    "--progress forces the progress line on");
	ok(bb_cli_option(&cli, BB_CLI_NO_PROGRESS, NULL) == 1 && bb_progress_enabled() == 0,
	    "--no-progress forces it off");
	ok(bb_cli_option(&cli, 'v', NULL) == 1 && bb_cli_option(&cli, 'v', NULL) == 1 &&
	    bb_verbosity == 2, "-v -v: verbosity 2");
	ok(bb_cli_option(&cli, 'q', NULL) == 1 && bb_verbosity == -1, "-q: verbosity -1");
	ok(bb_cli_option(&cli, BB_CLI_PROGRESS, NULL) == 1 && bb_progress_enabled() == 0,
	    "--quiet wins over --progress");
	bb_verbosity = 0;

	bb_cli_init(&cli, test_usage);
	for (i = 0; i < sizeof(notours) / sizeof(notours[0]); i++)
		ok(bb_cli_option(&cli, notours[i], "x") == 0, "value %d is not a shared option",
		    notours[i]);
	ok(cli.aws.profile == NULL && cli.aws.trace == NULL && cli.max_line == 64u << 20 &&
	    bb_verbosity == 0, "and nothing changed");
}

/* ---- what ends the program: run in a child, compare its output ---- */

struct run {
	int status;             /* exit status, or -1 when it did not exit */
	char out[512], err[512];
};

static void
slurp(FILE *f, char *buf, size_t size)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
}

/* kind 0: bb_cli_option(opt, arg); kind 1: bb_cli_try_help() */
static void
run_child(int kind, int opt, const char *arg, struct run *r)
{
	FILE *o = tmpfile(), *e = tmpfile();
	struct bb_cli cli;
	pid_t pid;
	int st;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (o == NULL || e == NULL)
		goto out;
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0)
		goto out;
	if (pid == 0) {
		dup2(fileno(o), STDOUT_FILENO);
		dup2(fileno(e), STDERR_FILENO);
		bb_cli_init(&cli, test_usage);
		if (kind == 1)
			bb_cli_try_help();
		bb_cli_option(&cli, opt, arg);
		_exit(99);      /* it came back */
	}
	if (waitpid(pid, &st, 0) == pid && WIFEXITED(st))
		r->status = WEXITSTATUS(st);
	slurp(o, r->out, sizeof(r->out));
	slurp(e, r->err, sizeof(r->err));
out:
	if (o != NULL)
		fclose(o);
	if (e != NULL)
		fclose(e);
}

static void
test_exits(void)
{
	static const char *bad[] = { "15", "0", "3GiB", "2147483649", "x", "", "-16", "16 " };
	char want[256];
	struct run r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_child(0, BB_CLI_MAX_LINE, bad[i], &r);
		snprintf(want, sizeof(want), "bb-test: --max-line-bytes: not a size in [16, 2GiB]: "
		    "'%s'\nTry 'bb-test --help' for more information.\n", bad[i]);
		ok(r.status == 2 && strcmp(r.err, want) == 0 && r.out[0] == '\0',
		    "--max-line-bytes '%s': usage error, exit 2", bad[i]);
		if (strcmp(r.err, want) != 0)
			is_str(r.err, want, "  its message");
	}

	run_child(0, 'h', NULL, &r);
	ok(r.status == 0, "-h exits 0");
	is_str(r.out, "usage: bb-test [options]\n", "-h prints the program's usage on stdout");
	is_str(r.err, "", "-h: nothing on stderr");

	run_child(0, 'V', NULL, &r);
	snprintf(want, sizeof(want), "bb-test (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
	ok(r.status == 0, "-V exits 0");
	is_str(r.out, want, "-V prints the version");

	run_child(1, 0, NULL, &r);
	ok(r.status == 2, "bb_cli_try_help exits 2");
	is_str(r.err, "Try 'bb-test --help' for more information.\n", "and says how to get help");
	is_str(r.out, "", "nothing on stdout");
}

/* ---- the option-table groups, through getopt_long() ---- */

static void
test_getopt(void)
{
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, 't' },
		BB_CLI_OPTIONS_AWS,
		BB_CLI_OPTIONS_MAX_LINE,
		BB_CLI_OPTIONS_PROGRESS,
		BB_CLI_OPTIONS_STD,
		{ NULL, 0, NULL, 0 },
	};
	char *argv[] = {
		"bb-test", "--profile", "p1", "--region=r1", "--endpoint-url", "u1",
		"--trace=t1", "--max-line", "1KiB", "-qv", "-v", "-t", "dest", "--no-progress",
		"--progress", "file", NULL,
	};
	struct bb_cli cli;
	const char *to = NULL;
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1, c, others = 0;

	bb_cli_init(&cli, test_usage);
	bb_verbosity = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "t:" BB_CLI_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case 't': to = optarg; break;
		default:
			if (!bb_cli_option(&cli, c, optarg))
				others++;
		}
	}
	ok(others == 0, "every option given was the program's or a shared one");
	is_str(cli.aws.profile, "p1", "getopt: --profile");
	is_str(cli.aws.region, "r1", "getopt: --region=");
	is_str(cli.aws.endpoint_url, "u1", "getopt: --endpoint-url");
	is_str(cli.aws.trace, "t1", "getopt: --trace=");
	ok(cli.max_line == 1024, "getopt: --max-line (abbreviated) 1KiB");
	ok(bb_verbosity == 1, "getopt: -qv -v counts from quiet: 1 (got %d)", bb_verbosity);
	is_str(to, "dest", "getopt: the program's own option still reaches it");
	ok(bb_progress_enabled() == 1, "getopt: the last of --no-progress --progress wins");
	ok(optind == argc - 1 && strcmp(argv[optind], "file") == 0, "getopt: the operand is left");
	bb_verbosity = 0;
}

int
main(int argc, char **argv)
{
	bb_main_init(argc, argv, "bb-test");
	test_values();
	test_exits();
	test_getopt();
	return done_testing();
}
