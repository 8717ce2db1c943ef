/*
 * bench-json.c - speed of bb_json_fields over a JSONL file (not a test).
 *
 *   tests/bench-json FILE [KEY...]    default keys: id source
 *
 * Reads FILE with the ndjson reader, scans every line with bb_json_fields
 * and prints lines/s and MB/s, for comparison with `json_verify -s`.
 * Three passes: the reader alone (it also warms the page cache), the
 * reader with bb_json_fields, the reader with a yajl parse of each line
 * (no callbacks, the way json_verify checks). The best of three runs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <yajl/yajl_parse.h>

#include "json.h"
#include "ndjson.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { READ_ONLY, FIELDS, YAJL };

static int
yajl_check(const char *s, size_t n)
{
	yajl_handle h = yajl_alloc(NULL, NULL, NULL);
	int good;

	good = yajl_parse(h, (const unsigned char *)s, n) == yajl_status_ok &&
	    yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	return good;
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
		if (scan == FIELDS &&
		    bb_json_fields(line.data, line.len, keys, nkeys, spans, &err) != 0) {
			if (*bad == 0)
				fprintf(stderr, "bench-json: line %llu: %s\n", *lines, err.msg);
			(*bad)++;
		}
		if (scan == YAJL && !yajl_check(line.data, line.len))
			(*bad)++;
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
	unsigned long long lines = 0, bytes = 0, bad = 0, allbad = 0;
	double t0, t1, best, tread = 0;
	int mode, run;

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
	for (mode = READ_ONLY; mode <= YAJL; mode++) {
		best = 0;
		for (run = 0; run < 3; run++) {
			t0 = now();
			if (pass(argv[1], keys, nkeys, mode, &lines, &bytes, &bad) < 0)
				return 1;
			t1 = now() - t0;
			if (run == 0 || t1 < best)
				best = t1;
		}
		printf("%-16s %9.0f lines/s %6.0f MB/s (%llu lines, %llu bytes, %llu invalid)\n",
		    mode == READ_ONLY ? "reader only:" : mode == FIELDS ? "reader+fields:" :
		    "reader+yajl:", lines / best, bytes / 1e6 / best, lines, bytes, bad);
		if (mode == READ_ONLY)
			tread = best;
		else
			printf("%-16s %9.0f MB/s without the reader\n", "",
			    bytes / 1e6 / (best - tread));
		if (mode == FIELDS && bad)
			allbad = 1;
	}
	bad = allbad;
	return bad ? 1 : 0;
}
