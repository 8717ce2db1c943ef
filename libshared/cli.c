/* cli.c - the command-line options every bb-* program shares; see cli.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "msg.h"
#include "ndjson.h"

void
bb_cli_init(struct bb_cli *cli, void (*usage)(void))
{
	memset(cli, 0, sizeof(*cli));
	cli->usage = usage;
	cli->max_line = BB_NDJSON_DEFAULT_MAX_LINE;
}

int
bb_cli_option(struct bb_cli *cli, int opt, const char *arg)
{
	uint64_t u;

	switch (opt) {
	case BB_CLI_PROFILE: cli->aws.profile = arg; break;
	case BB_CLI_REGION: cli->aws.region = arg; break;
	case BB_CLI_ENDPOINT_URL: cli->aws.endpoint_url = arg; break;
	case BB_CLI_TRACE: cli->aws.trace = arg; break;
	case BB_CLI_MAX_LINE:
		if (bb_parse_size(arg, &u) || u < BB_CLI_MAX_LINE_MIN || u > BB_CLI_MAX_LINE_MAX)
			bb_usage_die("--max-line-bytes: not a size in [16, 2GiB]: '%s'", arg);
		cli->max_line = u;
		break;
	case BB_CLI_PROGRESS: bb_progress_force(1); break;
	case BB_CLI_NO_PROGRESS: bb_progress_force(0); break;
	case 'q': bb_verbosity = -1; break;
	case 'v': bb_verbosity++; break;
	case 'h':
		if (cli->usage != NULL)
			cli->usage();
		exit(bb_main_finish(BB_EXIT_OK));
	case 'V':
		bb_print_version();
		exit(bb_main_finish(BB_EXIT_OK));
	default:
		return 0;
	}
	return 1;
}

void
bb_cli_try_help(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", bb_progname());
	exit(bb_main_finish(BB_EXIT_USAGE));
}
