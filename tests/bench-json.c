/*
 * bench-json.c - speed of bb_json_fields over a JSONL file (not a test).
 *
 *   tests/bench-json FILE [KEY...]    default keys: id source
 *
 * Reads FILE with the ndjson reader, scans every line with bb_json_fields
 * and prints lines/s and MB/s, for comparison with `json_verify -s`.
 * The file is read twice: the first pass warms the page cache and times
 * the reader alone.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "json.h"
#include "ndjson.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
pass(const char *path, const char *const *keys, size_t nkeys, int scan,
    unsigned long long *lines, unsigned long long *bytes, unsigned long long *bad)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_json_span spans[16];
	struct bb_ndjson_line line;
	struct bb_ndjson *r;
	int rc;

	if ((r = bb_ndjson_open(path, 0, 0, &err)) == NULL) {
		fprintf(stderr, "bench-json: %s\n", err.msg);
		return -1;
	}
	*lines = *bytes = *bad = 0;
	while ((rc = bb_ndjson_next(r, &line, &err)) > 0) {
		(*lines)++;
		*bytes += line.len + 1;
		if (scan && bb_json_fields(line.data, line.len, keys, nkeys, spans, &err) != 0) {
			if (*bad == 0)
				fprintf(stderr, "bench-json: line %llu: %s\n", *lines, err.msg);
			(*bad)++;
		}
	}
	if (rc < 0)
		fprintf(stderr, "bench-json: %s\n", err.msg);
	bb_ndjson_free(r);
	return rc;
}

int
main(int argc, char **argv)
{
	static const char *const defkeys[] = { "id", "source" };
	const char *const *keys = defkeys;
	size_t nkeys = 2;
	unsigned long long lines, bytes, bad;
	double t0, t1, t2;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-json FILE [KEY...]\n");
		return 2;
	}
	if (argc > 2) {
		keys = (const char *const *)argv + 2;
		nkeys = (size_t)argc - 2;
		if (nkeys > 16)
			nkeys = 16;
	}
	t0 = now();
	if (pass(argv[1], keys, nkeys, 0, &lines, &bytes, &bad) < 0)
		return 1;
	t1 = now();
	if (pass(argv[1], keys, nkeys, 1, &lines, &bytes, &bad) < 0)
		return 1;
	t2 = now();
	printf("reader only:    %.0f lines/s, %.0f MB/s\n", lines / (t1 - t0),
	    bytes / 1e6 / (t1 - t0));
	printf("reader+fields:  %.0f lines/s, %.0f MB/s (%llu lines, %llu bytes, %llu invalid)\n",
	    lines / (t2 - t1), bytes / 1e6 / (t2 - t1), lines, bytes, bad);
	return bad ? 1 : 0;
}
