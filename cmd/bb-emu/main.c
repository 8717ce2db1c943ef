/*
 * bb-emu - a local Amazon Bedrock batch + S3 emulator on one loopback port.
 *
 * main.c: options, start-up, the main loop (the job engine's ticker and
 * the signals) and a clean shutdown. The HTTP server is server.c (on
 * libmicrohttpd, thread per connection: see there why), the S3 half s3.c
 * and store.c, fault injection faults.c, the Bedrock half bedrock.c,
 * jobs.c and models.c.
 *
 * Why libmicrohttpd: a small, long-maintained (GNU) C library, packaged
 * everywhere, that does the HTTP/1.1 parsing and chunked de-framing,
 * keep-alive, 100-continue, sendfile for file responses and TLS, and leaves the
 * rest (routing, bodies) to us - exactly the split an emulator wants.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "emu.h"
#include "msg.h"

/* Default keys for local use and tests (documented in bb-emu(1); the AWS
 * documentation's example pair, which no real account has). */
#define DEFAULT_ACCESS_KEY "AKIAIOSFODNN7EXAMPLE"
#define DEFAULT_SECRET_KEY "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

double
emu_now(const struct emu *e)
{
	return e->start_epoch + (bb_now() - e->start_real) * e->timing.time_scale;
}

static void
usage(int status)
{
	FILE *f = status ? stderr : stdout;

	fprintf(f,
	    "usage: bb-emu [-q | -v] [--listen ADDR:PORT] [--data-dir DIR] [--region REGION]\n"
	    "              [--tls-cert FILE --tls-key FILE]\n"
	    "              [--account ID] [--access-key KEY --secret-key SECRET]\n"
	    "              [--keys-file FILE] [--bearer-token TOKEN]...\n"
	    "              [--bucket NAME]... [--time-scale X] [--durations LIST]\n"
	    "              [--min-records N] [--max-records N]\n"
	    "              [--max-concurrent N] [--throttle-rate P] [--error-rate P]\n"
	    "              [--drop-rate P] [--lost-rate P] [--slow-ms MS]\n"
	    "              [--record-error-rate P]\n"
	    "              [--fail-rate P] [--expire-rate P] [--partial-rate P] [--seed N]\n"
	    "       bb-emu --help | --version\n");
	if (status) {
		fprintf(f, "Try 'bb-emu --help' for more information.\n");
		exit(status);
	}
	fprintf(f,
	    "\nA local Amazon Bedrock batch + S3 emulator on one port (see bb-emu(1)).\n\n"
	    "  --listen ADDR:PORT      where to listen (127.0.0.1:0: any free port)\n"
	    "  --data-dir DIR          objects, uploads and jobs (./bb-emu-data)\n"
	    "  --tls-cert FILE         serve https with this PEM certificate (chain)...\n"
	    "  --tls-key FILE          ... and its PEM private key (read once at start)\n"
	    "  --region REGION         region of the ARNs and buckets (us-east-1)\n"
	    "  --account ID            account of the ARNs (123456789012)\n"
	    "  --access-key KEY        accepted access key (with --secret-key)\n"
	    "  --secret-key SECRET     its secret (better: a keys file)\n"
	    "  --keys-file FILE        lines 'KEY SECRET [TOKEN]' or 'bearer TOKEN'\n"
	    "  --bearer-token TOKEN    accepted Bedrock API key (repeatable)\n"
	    "  --bucket NAME           create this bucket at start-up if missing (repeatable)\n"
	    "  --time-scale X          emulated seconds per real second (1)\n"
	    "  --durations LIST        emulated seconds per job state, e.g. submitted=5,\n"
	    "                          validating=30,scheduled=60,record=0.05,stopping=10\n"
	    "  --min-records N         records a job needs at least (100)\n"
	    "  --max-records N         records per file and per job at most (50000)\n"
	    "  --max-concurrent N      jobs in progress per model (10)\n"
	    "  --throttle-rate P       fraction of requests throttled (0)\n"
	    "  --error-rate P          fraction answered with a 500 (0)\n"
	    "  --drop-rate P           fraction whose connection is dropped (0)\n"
	    "  --lost-rate P           fraction handled whose answer is never sent (0)\n"
	    "  --slow-ms MS            latency added to every response (0)\n"
	    "  --record-error-rate P   fraction of records given an error (0)\n"
	    "  --fail-rate P           fraction of jobs that fail (0)\n"
	    "  --expire-rate P         fraction of jobs that expire (0)\n"
	    "  --partial-rate P        fraction of jobs partially completed (0)\n"
	    "  --seed N                seed of every random choice (0)\n"
	    "  -q, --quiet             errors only (the ready line is still printed)\n"
	    "  -v, --verbose           one line per request on stderr\n"
	    "  -h, --help              this help\n"
	    "  -V, --version           version\n");
	/* a write error (--help >/dev/full) is found and reported here */
	exit(bb_main_finish(BB_EXIT_OK));
}

enum {
	OPT_LISTEN = 256, OPT_DATA_DIR, OPT_ACCESS_KEY, OPT_SECRET_KEY, OPT_KEYS_FILE,
	OPT_BEARER, OPT_REGION, OPT_ACCOUNT, OPT_TIME_SCALE, OPT_MIN_RECORDS, OPT_MAX_RECORDS,
	OPT_MAX_CONCURRENT, OPT_THROTTLE, OPT_ERROR, OPT_DROP, OPT_LOST, OPT_SLOW, OPT_RECORD_ERROR,
	OPT_FAIL, OPT_EXPIRE, OPT_PARTIAL, OPT_SEED, OPT_BUCKET,
	OPT_DURATIONS, OPT_TLS_CERT, OPT_TLS_KEY,
};

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "access-key", required_argument, NULL, OPT_ACCESS_KEY },
	{ "secret-key", required_argument, NULL, OPT_SECRET_KEY },
	{ "keys-file", required_argument, NULL, OPT_KEYS_FILE },
	{ "bearer-token", required_argument, NULL, OPT_BEARER },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "account", required_argument, NULL, OPT_ACCOUNT },
	{ "bucket", required_argument, NULL, OPT_BUCKET },
	{ "time-scale", required_argument, NULL, OPT_TIME_SCALE },
	{ "durations", required_argument, NULL, OPT_DURATIONS },
	{ "min-records", required_argument, NULL, OPT_MIN_RECORDS },
	{ "max-records", required_argument, NULL, OPT_MAX_RECORDS },
	{ "max-concurrent", required_argument, NULL, OPT_MAX_CONCURRENT },
	{ "throttle-rate", required_argument, NULL, OPT_THROTTLE },
	{ "error-rate", required_argument, NULL, OPT_ERROR },
	{ "drop-rate", required_argument, NULL, OPT_DROP },
	{ "lost-rate", required_argument, NULL, OPT_LOST },
	{ "slow-ms", required_argument, NULL, OPT_SLOW },
	{ "record-error-rate", required_argument, NULL, OPT_RECORD_ERROR },
	{ "fail-rate", required_argument, NULL, OPT_FAIL },
	{ "expire-rate", required_argument, NULL, OPT_EXPIRE },
	{ "partial-rate", required_argument, NULL, OPT_PARTIAL },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static double
rate_arg(const char *name, const char *s)
{
	double d;

	if (bb_parse_double(s, 0, 1, &d) < 0)
		bb_usage_die("--%s: '%s' is not a fraction between 0 and 1", name, s);
	return d;
}

static long
count_arg(const char *name, const char *s, long long min)
{
	long long v;

	if (bb_parse_int(s, min, 1000000000LL, &v) < 0)
		bb_usage_die("--%s: '%s' is not a whole number >= %lld", name, s, min);
	return (long)v;
}

/*
 * --durations: "submitted=5,validating=30,scheduled=60,record=0.05,stopping=10",
 * any subset, in any order; the others keep their values.
 */
static void
parse_durations(const char *s, struct emu_timing *t)
{
	static const struct {
		const char *name;
		size_t off;
	} names[] = {
		{ "submitted", offsetof(struct emu_timing, submitted_s) },
		{ "validating", offsetof(struct emu_timing, validating_s) },
		{ "scheduled", offsetof(struct emu_timing, scheduled_s) },
		{ "record", offsetof(struct emu_timing, per_record_s) },
		{ "stopping", offsetof(struct emu_timing, stopping_s) },
	};
	const char *p = s;

	while (*p != '\0') {
		size_t len = strcspn(p, ","), klen = strcspn(p, "=");
		char val[64];
		double d;
		size_t i;

		if (klen >= len || len - klen - 1 >= sizeof(val))
			bb_usage_die("--durations: '%.*s' is not NAME=SECONDS", (int)len, p);
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == klen && strncmp(p, names[i].name, klen) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			bb_usage_die("--durations: unknown state '%.*s' (submitted, validating, "
			    "scheduled, record, stopping)", (int)klen, p);
		memcpy(val, p + klen + 1, len - klen - 1);
		val[len - klen - 1] = '\0';
		if (bb_parse_double(val, 0, 1e9, &d) < 0)
			bb_usage_die("--durations: '%s' is not a number of seconds in [0, 1e9]", val);
		*(double *)(void *)((char *)t + names[i].off) = d;
		p += len;
		if (*p == ',')
			p++;
	}
}

/* "127.0.0.1:8080", "[::1]:0", ":0" or a bare port. */
static void
parse_listen(const char *s, char *addr, size_t size, unsigned *port)
{
	const char *colon = strrchr(s, ':');
	long long p;

	snprintf(addr, size, "127.0.0.1");
	if (colon == NULL)
		colon = s - 1;
	else if (colon > s) {
		size_t n = (size_t)(colon - s);

		if (s[0] == '[' && colon[-1] == ']') {
			s++;
			n -= 2;
		}
		if (n >= size)
			bb_usage_die("--listen: address too long");
		memcpy(addr, s, n);
		addr[n] = '\0';
	}
	if (bb_parse_int(colon + 1, 0, 65535, &p) < 0)
		bb_usage_die("--listen: '%s' is not ADDR:PORT", s);
	*port = (unsigned)p;
}

int
main(int argc, char **argv)
{
	struct emu e;
	struct bb_error err = BB_ERROR_INIT;
	const char *listen = "127.0.0.1:0", *keys_file = NULL;
	const char *tls_cert = NULL, *tls_key = NULL;
	char *access_key = NULL, *secret_key = NULL;
	const char *env;
	char addr[128];
	unsigned port = 0, bound = 0;
	struct sigaction sa;
	int c, status = BB_EXIT_OK, have_store = 0, have_jobs = 0;
	long long seed;
	char **bearers = NULL;
	size_t nbearers = 0, nbuckets = 0, i;
	const char **buckets = NULL;
	struct bb_buf ready = BB_BUF_INIT;

	bb_main_init(argc, argv, "bb-emu");
	memset(&e, 0, sizeof(e));
	pthread_mutex_init(&e.lock, NULL);
	e.data_dir = "./bb-emu-data";
	e.region = "us-east-1";
	e.account = "123456789012";
	e.quotas.min_records = 100;
	e.quotas.max_records_file = 50000;
	e.quotas.max_records_job = 50000;
	e.quotas.max_file_bytes = 1000000000ULL;
	e.quotas.max_job_bytes = 5000000000ULL;
	e.quotas.max_concurrent = 10;
	e.quotas.max_record_bytes = 1u << 20;
	e.timing.time_scale = 1;
	e.timing.submitted_s = 5;
	e.timing.validating_s = 30;
	e.timing.scheduled_s = 60;
	e.timing.per_record_s = 0.05;
	e.timing.stopping_s = 10;

	while ((c = getopt_long(argc, argv, "qvhV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN: listen = optarg; break;
		case OPT_DATA_DIR: e.data_dir = optarg; break;
		case OPT_TLS_CERT: tls_cert = optarg; break;
		case OPT_TLS_KEY: tls_key = optarg; break;
		case OPT_ACCESS_KEY:
			free(access_key);
			access_key = bb_xstrdup(optarg);
			break;
		case OPT_SECRET_KEY:
			if (secret_key) {
				OPENSSL_cleanse(secret_key, strlen(secret_key));
				free(secret_key);
			}
			secret_key = bb_xstrdup(optarg);
			OPENSSL_cleanse(optarg, strlen(optarg));   /* out of ps, where it can */
			break;
		case OPT_KEYS_FILE: keys_file = optarg; break;
		case OPT_BEARER:
			bearers = bb_xrealloc(bearers, (nbearers + 1) * sizeof(*bearers));
			bearers[nbearers++] = bb_xstrdup(optarg);
			OPENSSL_cleanse(optarg, strlen(optarg));
			break;
		case OPT_REGION:
			if (strlen(optarg) < 1 || strlen(optarg) > 32 ||
			    strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(optarg))
				bb_usage_die("--region: '%s' is not a region name", optarg);
			e.region = optarg;
			break;
		case OPT_ACCOUNT:
			if (strlen(optarg) != 12 || strspn(optarg, "0123456789") != 12)
				bb_usage_die("--account: '%s' is not a 12-digit account id", optarg);
			e.account = optarg;
			break;
		case OPT_BUCKET:
			if (!emu_store_valid_bucket(optarg))
				bb_usage_die("--bucket: '%s' is not a valid bucket name", optarg);
			buckets = bb_xrealloc(buckets, (nbuckets + 1) * sizeof(*buckets));
			buckets[nbuckets++] = optarg;
			break;
		case OPT_DURATIONS: parse_durations(optarg, &e.timing); break;
		case OPT_TIME_SCALE:
			if (bb_parse_double(optarg, 1e-3, 1e9, &e.timing.time_scale) < 0)
				bb_usage_die("--time-scale: '%s' is not a number in [0.001, 1e9]", optarg);
			break;
		case OPT_MIN_RECORDS: e.quotas.min_records = count_arg("min-records", optarg, 0); break;
		case OPT_MAX_RECORDS:
			e.quotas.max_records_job = count_arg("max-records", optarg, 1);
			e.quotas.max_records_file = e.quotas.max_records_job;
			break;
		case OPT_MAX_CONCURRENT:
			e.quotas.max_concurrent = count_arg("max-concurrent", optarg, 1);
			break;
		case OPT_THROTTLE: e.faults.throttle_rate = rate_arg("throttle-rate", optarg); break;
		case OPT_ERROR: e.faults.error_rate = rate_arg("error-rate", optarg); break;
		case OPT_DROP: e.faults.drop_rate = rate_arg("drop-rate", optarg); break;
		case OPT_LOST: e.faults.lost_rate = rate_arg("lost-rate", optarg); break;
		case OPT_SLOW:
			if (bb_parse_double(optarg, 0, 600000, &e.faults.slow_ms) < 0)
				bb_usage_die("--slow-ms: '%s' is not a number of milliseconds", optarg);
			break;
		case OPT_RECORD_ERROR:
			e.faults.record_error_rate = rate_arg("record-error-rate", optarg);
			break;
		case OPT_FAIL: e.faults.job_fail_rate = rate_arg("fail-rate", optarg); break;
		case OPT_EXPIRE: e.faults.job_expire_rate = rate_arg("expire-rate", optarg); break;
		case OPT_PARTIAL: e.faults.job_partial_rate = rate_arg("partial-rate", optarg); break;
		case OPT_SEED:
			if (bb_parse_int(optarg, 0, 0xffffffffLL, &seed) < 0)
				bb_usage_die("--seed: '%s' is not a whole number", optarg);
			e.faults.seed = (unsigned long)seed;
			break;
		case 'q': e.verbose = 0; bb_verbosity = -1; break;
		case 'v': e.verbose++; bb_verbosity++; break;
		case 'h': usage(0); break;
		case 'V': bb_print_version(); return bb_main_finish(0);
		default: usage(BB_EXIT_USAGE);
		}
	}
	if (optind < argc)
		bb_usage_die("unexpected argument '%s'", argv[optind]);
	if (e.faults.throttle_rate + e.faults.error_rate + e.faults.drop_rate +
	    e.faults.lost_rate > 1)
		bb_usage_die("--throttle-rate, --error-rate, --drop-rate and --lost-rate add up to "
		    "more than 1");
	if ((tls_cert == NULL) != (tls_key == NULL))
		bb_usage_die("--tls-cert and --tls-key go together");
	parse_listen(listen, addr, sizeof(addr), &port);

	if (emu_server_init(&e, &err) < 0)
		bb_die(BB_EXIT_USAGE, "%s", err.msg);
	if (tls_cert && emu_server_set_tls(&e, tls_cert, tls_key, &err) < 0)
		bb_die(BB_EXIT_USAGE, "%s", err.msg);
	/* Keys: the keys file, the options, the environment, else the
	 * documented test pair. */
	if (keys_file && emu_server_load_keys(&e, keys_file, &err) < 0)
		bb_die(BB_EXIT_USAGE, "%s", err.msg);
	if (secret_key == NULL && (env = getenv("BB_EMU_SECRET_KEY")) != NULL && *env)
		secret_key = bb_xstrdup(env);
	if (access_key == NULL && (env = getenv("BB_EMU_ACCESS_KEY")) != NULL && *env)
		access_key = bb_xstrdup(env);
	if ((access_key == NULL) != (secret_key == NULL) && !(keys_file && secret_key == NULL))
		bb_usage_die("--access-key and --secret-key go together");
	if (access_key && secret_key) {
		if (emu_server_add_key(&e, access_key, secret_key, NULL) < 0)
			bb_die(BB_EXIT_USAGE, "out of memory");
	} else if (keys_file == NULL) {
		if (emu_server_add_key(&e, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, NULL) < 0)
			bb_die(BB_EXIT_USAGE, "out of memory");
	}
	if ((env = getenv("BB_EMU_BEARER_TOKEN")) != NULL && *env &&
	    emu_server_add_bearer(&e, env) < 0)
		bb_die(BB_EXIT_USAGE, "out of memory");
	for (i = 0; i < nbearers; i++) {
		if (emu_server_add_bearer(&e, bearers[i]) < 0)
			bb_die(BB_EXIT_USAGE, "out of memory");
		OPENSSL_cleanse(bearers[i], strlen(bearers[i]));
		free(bearers[i]);
	}
	free(bearers);
	if (secret_key) {
		OPENSSL_cleanse(secret_key, strlen(secret_key));
		free(secret_key);
	}
	free(access_key);

	/* SIGTERM/SIGINT end the main loop; the server threads never see
	 * them (the handlers only set a flag). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	e.start_real = bb_now();
	e.start_epoch = emu_wall_now();
	if (emu_store_open(&e.store, e.data_dir, &err) < 0) {
		bb_msg_error("%s", err.msg);
		status = BB_EXIT_USAGE;
		goto out;
	}
	have_store = 1;
	for (i = 0; i < nbuckets; i++) {
		if (emu_store_bucket_exists(e.store, buckets[i]))
			continue;
		if (emu_store_create_bucket(e.store, buckets[i], &err) < 0) {
			bb_msg_error("cannot create bucket '%s': %s", buckets[i], err.msg);
			status = BB_EXIT_USAGE;
			goto out;
		}
		bb_msg_note(1, "created bucket '%s'", buckets[i]);
	}
	if (emu_jobs_open(&e, &err) < 0) {
		bb_msg_error("%s", err.msg);
		status = BB_EXIT_USAGE;
		goto out;
	}
	have_jobs = 1;
	if (emu_server_start(&e, addr, port, &bound, &err) < 0) {
		bb_msg_error("%s", err.msg);
		status = BB_EXIT_USAGE;
		goto out;
	}
	/* The ready line: flushed even when stdout is a file, which is where
	 * scripts wait for it (bb_out_record_end keeps a file's buffering). */
	if (bb_buf_addf(&ready, strchr(addr, ':') ? "bb-emu: listening on %s://[%s]:%u\n" :
	    "bb-emu: listening on %s://%s:%u\n", emu_server_tls(&e) ? "https" : "http", addr,
	    bound) < 0)
		bb_die(BB_EXIT_USAGE, "out of memory");
	bb_out_write(ready.data, ready.len);
	bb_out_record_end();
	if (fflush(stdout) != 0) {
		bb_msg_error("write error on standard output: %s", strerror(errno));
		status = BB_EXIT_USAGE;
		goto out;
	}

	while (!stop_signal) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		emu_jobs_tick(&e);
		nanosleep(&ts, NULL);
	}
	bb_msg_note(1, "signal %d: shutting down", (int)stop_signal);
out:
	emu_server_stop(&e);
	if (have_jobs)
		emu_jobs_close(&e);
	if (have_store)
		emu_store_close(e.store);
	pthread_mutex_destroy(&e.lock);
	free(buckets);
	bb_buf_release(&ready);
	return bb_main_finish(status);
}
