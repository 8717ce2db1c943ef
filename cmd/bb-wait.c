/*
 * bb-wait - wait for Bedrock batch jobs and write each line when its job
 * ends.
 *
 * Reads lines with `job_arn` (bb-submit's output) and polls
 * GetModelInvocationJob for each of them, one request per job per
 * interval (jittered), all requests together under a rate limit that
 * halves when the service throttles. A job is polled as soon as its line
 * arrives: a reader thread takes lines from the input (which may trickle
 * in over hours) and wakes the main loop through a pipe; the main loop
 * does all the HTTP. When a job reaches a terminal state its line is
 * written with `status`, `message`, `ended_at`, `output_prefix` and
 * `stats` (from manifest.json.out) added.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws.h"
#include "bedrock.h"
#include "buf.h"
#include "cli.h"
#include "error.h"
#include "jobs.h"
#include "json.h"
#include "msg.h"
#include "ndjson.h"
#include "s3.h"

#define MANIFEST_MAX (1u << 20)

enum until { UNTIL_ENDED, UNTIL_SCHEDULED, UNTIL_STARTED };

static double opt_interval = 60;
static double opt_timeout;          /* 0: none */
static double opt_max_rate = 5;
static enum until opt_until = UNTIL_ENDED;
static int opt_stop_on_interrupt;
static struct bb_cli cli;

static struct bb_aws *aws;
static struct bb_jobs_rand rng;         /* jitter of retries and polls */

/* ---- the input queue, filled by the reader thread ---- */

struct item {
	struct item *next;
	char *line;            /* NULL: an input error, msg says which */
	size_t len;
	char *src;
	uint64_t lineno;
	char *msg;
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static struct item *q_head, **q_tail = &q_head;
static int q_eof;
static int wake_fd[2] = { -1, -1 };
static char **inputs;
static int ninputs;

static volatile sig_atomic_t got_signal;

static void
wake(void)
{
	ssize_t r;

	r = write(wake_fd[1], "x", 1);   /* full pipe: a wake-up is pending anyway */
	(void)r;
}

static void
on_signal(int sig)
{
	int saved = errno;

	got_signal = sig;
	wake();
	errno = saved;
}

static void
q_push(struct item *it)
{
	pthread_mutex_lock(&q_lock);
	*q_tail = it;
	q_tail = &it->next;
	pthread_mutex_unlock(&q_lock);
	wake();
}

static void *
reader_main(void *arg)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_ndjson *r;
	struct bb_ndjson_line line;
	struct item *it;
	int i, n;

	(void)arg;
	for (i = 0; i < ninputs; i++) {
		if ((r = bb_ndjson_open(inputs[i], (size_t)cli.max_line, BB_NDJSON_SKIP_BLANK,
		    &err)) == NULL) {
			it = bb_xcalloc(1, sizeof(*it));
			it->msg = bb_xstrdup(err.msg);
			q_push(it);
			continue;
		}
		for (;;) {
			n = bb_ndjson_next(r, &line, &err);
			if (n == 0)
				break;
			it = bb_xcalloc(1, sizeof(*it));
			if (n < 0) {
				it->msg = bb_xstrdup(err.msg);
				q_push(it);
				if (bb_ndjson_failed(r))
					break;
				continue;
			}
			it->line = bb_xmalloc(line.len + 1);
			memcpy(it->line, line.data, line.len + 1);
			it->len = line.len;
			it->src = bb_xstrdup(bb_ndjson_name(r));
			it->lineno = line.lineno;
			q_push(it);
		}
		bb_ndjson_free(r);
	}
	pthread_mutex_lock(&q_lock);
	q_eof = 1;
	pthread_mutex_unlock(&q_lock);
	wake();
	return NULL;
}

/* ---- jobs ---- */

struct job {
	char *line;             /* the input line without fields we add */
	size_t len;
	char *src;
	uint64_t lineno;
	char *arn;
	char *label;            /* for messages: job name or id, escaped */
	char *line_output;      /* the line's output_s3_uri, or NULL */
	struct bb_bedrock_job info;   /* the last Get */
	int polled;             /* info is valid */
	enum bb_bedrock_status status;
	double next;            /* when to poll (bb_now) */
	int failures;           /* consecutive failed polls */
	int done;
	int stop_sent;
};

static struct job **jobs;
static size_t njobs, nopen;
static long long n_failed, n_ok;
static double t_start;
static int outage;

static void
free_job(struct job *j)
{
	free(j->line);
	free(j->src);
	free(j->arn);
	free(j->label);
	free(j->line_output);
	bb_bedrock_job_release(&j->info);
	free(j);
}

/* The fields this program adds: removed from an input line first, so a
 * re-run over bb-wait's own output does not repeat them. */
static const char *const added_keys[] = {
	"status", "message", "ended_at", "output_prefix", "stats", "error",
};

static void
write_line(const struct bb_buf *out)
{
	bb_out_write(out->data, out->len);
	bb_out_record_end();
}

static void
oom(void)
{
	bb_die(BB_EXIT_USAGE, "out of memory");
}

static int
manifest_fn(const char *p, size_t n, void *ctx)
{
	struct bb_buf *b = ctx;

	if (b->len + n > MANIFEST_MAX)
		return -1;
	return bb_buf_add(b, p, n);
}

static int no_manifests;   /* no S3 credentials (Bedrock API key only) */

/* The stats of an ended job: its manifest.json.out when it wrote one,
 * else its record counts. Appends to stats (nothing when neither). */
static void
job_stats(struct job *j, const char *prefix, struct bb_buf *stats)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_aws_error ae;
	struct bb_s3_uri u = { NULL, NULL };
	struct bb_buf key = BB_BUF_INIT, body = BB_BUF_INIT;

	bb_aws_error_clear(&ae);
	if (no_manifests || bb_s3_uri_parse(prefix, &u, &err) < 0 ||
	    bb_buf_addf(&key, "%smanifest.json.out", u.key) < 0)
		goto counts;
	if (bb_s3_get(aws, u.bucket, key.data, 0, 0, manifest_fn, &body, NULL, &ae, &err) < 0) {
		if (err.kind != BB_ERR_NOTFOUND)
			bb_msg_warn("job '%s': cannot read its manifest: %s", j->label, err.msg);
		goto counts;
	}
	if (bb_jobs_manifest_stats(body.data ? body.data : "", body.len, stats, &err) == 0)
		goto out;
	bb_msg_warn("job '%s': %s", j->label, err.msg);
	bb_buf_reset(stats);
counts:
	if (j->polled && bb_jobs_job_stats(&j->info, stats) < 0)
		oom();
out:
	bb_s3_uri_release(&u);
	bb_buf_release(&key);
	bb_buf_release(&body);
}

static int
status_ok(enum bb_bedrock_status st)
{
	if (opt_until == UNTIL_ENDED)
		return st == BB_JOB_COMPLETED;
	return !bb_bedrock_status_terminal(st) || st == BB_JOB_COMPLETED;
}

/* Write the job's line with what is known of it and close it. errmsg:
 * the job could not be followed (not found...). */
static void
finish(struct job *j, const char *errmsg)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf out = BB_BUF_INIT, prefix = BB_BUF_INIT, stats = BB_BUF_INIT;
	struct bb_json_append a;
	const char *output;
	int r = 0;

	if (bb_json_append_begin(&a, &out, j->line, j->len, &err) < 0)
		oom();   /* the line was checked when it came in */
	if (j->polled && j->info.status_text)
		r |= bb_json_append_str(&a, "status", j->info.status_text,
		    strlen(j->info.status_text));
	if (j->polled && j->info.message && *j->info.message)
		r |= bb_json_append_str(&a, "message", j->info.message, strlen(j->info.message));
	if (j->polled && j->info.end_time)
		r |= bb_json_append_str(&a, "ended_at", j->info.end_time, strlen(j->info.end_time));
	output = j->polled && j->info.output_s3_uri ? j->info.output_s3_uri : j->line_output;
	if (output && bb_jobs_output_prefix(output, j->arn, &prefix, &err) == 0) {
		r |= bb_json_append_str(&a, "output_prefix", prefix.data, prefix.len);
		if (j->polled && bb_bedrock_status_terminal(j->status)) {
			job_stats(j, prefix.data, &stats);
			if (stats.len)
				r |= bb_json_append_raw(&a, "stats", stats.data, stats.len);
		}
	}
	if (errmsg)
		r |= bb_json_append_str(&a, "error", errmsg, strlen(errmsg));
	if (r || bb_json_append_end(&a) < 0 || bb_buf_addc(&out, '\n') < 0)
		oom();
	write_line(&out);
	if (errmsg == NULL && j->polled && status_ok(j->status))
		n_ok++;
	else
		n_failed++;
	j->done = 1;
	nopen--;
	bb_buf_release(&out);
	bb_buf_release(&prefix);
	bb_buf_release(&stats);
}

static const char *const in_keys[] = { "job_arn", "job_name", "output_s3_uri" };

static void
add_line(struct item *it)
{
	struct bb_json_span sp[3];
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf s = BB_BUF_INIT, stripped = BB_BUF_INIT, esc = BB_BUF_INIT;
	char id[BB_BEDROCK_JOB_ID_LEN + 1];
	struct job *j;

	if (bb_json_fields(it->line, it->len, in_keys, 3, sp, &err) < 0) {
		bb_msg_error("%s (at %s:%llu)", err.msg, it->src, (unsigned long long)it->lineno);
		n_failed++;
		goto out;
	}
	if (sp[0].p == NULL || sp[0].type != BB_JSON_STRING || bb_json_span_str(&sp[0], &s) < 0 ||
	    bb_bedrock_job_id(s.data, id, &err) < 0) {
		/* not submitted (e.g. bb-submit wrote an error): passed on */
		bb_msg_error("line without a valid job_arn%s (at %s:%llu)",
		    sp[0].p == NULL ? "" : ": not a job ARN", it->src,
		    (unsigned long long)it->lineno);
		bb_out_write(it->line, it->len);
		bb_out_write("\n", 1);
		bb_out_record_end();
		n_failed++;
		goto out;
	}
	if (bb_jobs_strip_fields(it->line, it->len, added_keys, 6, &stripped, NULL, &err) < 0) {
		bb_msg_error("%s (at %s:%llu)", err.msg, it->src, (unsigned long long)it->lineno);
		n_failed++;
		goto out;
	}
	j = bb_xcalloc(1, sizeof(*j));
	bb_bedrock_job_init(&j->info);
	j->len = stripped.len;
	j->line = bb_buf_detach(&stripped, NULL);
	j->src = it->src;
	it->src = NULL;
	j->lineno = it->lineno;
	j->arn = bb_buf_detach(&s, NULL);
	bb_buf_reset(&s);
	if (sp[1].p != NULL && sp[1].type == BB_JSON_STRING && bb_json_span_str(&sp[1], &s) == 0 &&
	    s.len > 0) {
		if (bb_msg_escape(&esc, s.data, s.len) < 0)
			oom();
		j->label = bb_buf_detach(&esc, NULL);
	} else
		j->label = bb_xstrdup(id);
	bb_buf_reset(&s);
	if (sp[2].p != NULL && sp[2].type == BB_JSON_STRING && bb_json_span_str(&sp[2], &s) == 0)
		j->line_output = bb_buf_detach(&s, NULL);
	j->next = bb_now();   /* first poll at once */
	jobs = bb_xrealloc(jobs, (njobs + 1) * sizeof(*jobs));
	jobs[njobs++] = j;
	nopen++;
out:
	bb_buf_release(&s);
	bb_buf_release(&stripped);
	bb_buf_release(&esc);
}

/* Take what the reader queued. Returns 1 when the input has ended. */
static int
drain_queue(void)
{
	struct item *it, *next;
	int eof;
	char b[64];

	while (read(wake_fd[0], b, sizeof(b)) > 0)
		;
	pthread_mutex_lock(&q_lock);
	it = q_head;
	q_head = NULL;
	q_tail = &q_head;
	eof = q_eof;
	pthread_mutex_unlock(&q_lock);
	for (; it != NULL; it = next) {
		next = it->next;
		if (it->line == NULL) {
			bb_msg_error("%s", it->msg);
			n_failed++;
		} else
			add_line(it);
		free(it->line);
		free(it->src);
		free(it->msg);
		free(it);
	}
	return eof;
}

static int
reached(enum bb_bedrock_status st)
{
	if (bb_bedrock_status_terminal(st))
		return 1;
	switch (opt_until) {
	case UNTIL_SCHEDULED:
		return st == BB_JOB_SCHEDULED || st == BB_JOB_INPROGRESS;
	case UNTIL_STARTED:
		return st == BB_JOB_INPROGRESS;
	default:
		return 0;
	}
}

/* s (remote text, may be NULL) with control characters escaped, in b. */
static const char *
esc_remote(struct bb_buf *b, const char *s, const char *dflt)
{
	bb_buf_reset(b);
	if (s == NULL)
		s = dflt;
	if (bb_msg_escape(b, s, strlen(s)) < 0)
		oom();
	return bb_buf_str(b);
}

static void
poll_job(struct job *j, struct bb_jobs_rate *rate)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_aws_error ae;
	struct bb_bedrock_job info;
	struct bb_buf e1 = BB_BUF_INIT, e2 = BB_BUF_INIT;
	enum bb_bedrock_status old = j->status;
	int first = !j->polled;
	double now;

	bb_aws_error_clear(&ae);
	bb_bedrock_job_init(&info);
	if (bb_bedrock_get_job(aws, j->arn, &info, &ae, &err) < 0) {
		bb_bedrock_job_release(&info);
		now = bb_now();
		if (err.kind == BB_ERR_AUTH)
			bb_die(BB_EXIT_USAGE, "job '%s': %s", j->label, err.msg);
		if (bb_aws_failure_transient(&ae, &err)) {
			if (bb_aws_error_retryable(&ae) && strstr(ae.code, "hrottl") != NULL)
				bb_jobs_rate_throttled(rate);
			j->failures++;
			if (!outage++)
				bb_msg_warn("job '%s': %s (retrying)", j->label, err.msg);
			else
				bb_msg_note(2, "job '%s': %s (retrying)", j->label, err.msg);
			j->next = now + bb_jobs_backoff(j->failures, opt_interval < 1 ?
			    opt_interval : 1, opt_interval * 4 > 1 ? opt_interval * 4 : 1,
			    bb_jobs_rand_unit(&rng));
			return;
		}
		bb_msg_error("job '%s': %s (at %s:%llu)", j->label, err.msg, j->src,
		    (unsigned long long)j->lineno);
		finish(j, err.msg);
		return;
	}
	if (outage) {
		bb_msg_note(1, "the service answers again");
		outage = 0;
	}
	bb_jobs_rate_ok(rate);
	j->failures = 0;
	bb_bedrock_job_release(&j->info);
	j->info = info;
	j->polled = 1;
	j->status = info.status;
	if (old != j->status || first)
		bb_msg_note(1, "job '%s': %s", j->label, esc_remote(&e1, info.status_text, "?"));
	if (reached(j->status)) {
		if (!status_ok(j->status))
			bb_msg_warn("job '%s' %s%s%s", j->label,
			    esc_remote(&e1, info.status_text, "ended"),
			    info.message && *info.message ? ": " : "",
			    esc_remote(&e2, info.message, ""));
		finish(j, NULL);
		goto out;
	}
	j->next = bb_now() + bb_jobs_jitter(opt_interval, 0.2, bb_jobs_rand_unit(&rng));
out:
	bb_buf_release(&e1);
	bb_buf_release(&e2);
}

static void
stop_all(void)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_aws_error ae;
	size_t i;

	for (i = 0; i < njobs; i++) {
		if (jobs[i]->done || jobs[i]->stop_sent)
			continue;
		bb_aws_error_clear(&ae);
		if (bb_bedrock_stop_job(aws, jobs[i]->arn, &ae, &err) < 0 &&
		    strcmp(ae.code, "ConflictException") != 0)
			bb_msg_warn("job '%s': cannot stop it: %s", jobs[i]->label, err.msg);
		else
			bb_msg_note(1, "job '%s': stop requested", jobs[i]->label);
		jobs[i]->stop_sent = 1;
		jobs[i]->next = bb_now();
	}
}

static void
fmt_duration(double s, char *out, size_t n)
{
	long t = (long)(s + 0.5);

	if (t >= 3600)
		snprintf(out, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
	else
		snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
}

static void
progress(void)
{
	static double rec_t0 = -1;
	static long long rec0;
	struct bb_buf b = BB_BUF_INIT;
	long long by[BB_JOB_EXPIRED + 1], total = 0, processed = 0;
	char el[32], left[32];
	double now;
	size_t i;
	int k;

	if (!bb_progress_enabled())
		return;
	memset(by, 0, sizeof(by));
	for (i = 0; i < njobs; i++) {
		by[jobs[i]->status]++;
		if (jobs[i]->polled && jobs[i]->info.total_records > 0) {
			total += jobs[i]->info.total_records;
			if (jobs[i]->info.processed_records > 0)
				processed += jobs[i]->info.processed_records;
		}
	}
	for (k = 0; k <= BB_JOB_EXPIRED; k++)
		if (by[k])
			bb_buf_addf(&b, "%s%lld %s", b.len ? ", " : "", by[k],
			    k ? bb_bedrock_status_name((enum bb_bedrock_status)k) : "pending");
	now = bb_now();
	fmt_duration(now - t_start, el, sizeof(el));
	if (rec_t0 < 0 && processed > 0) {
		rec_t0 = now;
		rec0 = processed;
	}
	left[0] = '\0';
	if (rec_t0 >= 0 && processed > rec0 && total > processed) {
		fmt_duration((double)(total - processed) * (now - rec_t0) / (double)(processed - rec0),
		    left + 2, sizeof(left) - 2);
		left[0] = ',';
		left[1] = ' ';
		memmove(left + 3, left + 2, strlen(left + 2) + 1);
		left[2] = '~';
		strncat(left, " left", sizeof(left) - strlen(left) - 1);
	}
	bb_progress_update("jobs: %s | records %lld/%lld | %s elapsed%s", b.len ? b.data : "none",
	    processed, total, el, left);
	bb_buf_release(&b);
}

/* ---- options ---- */

enum {
	O_INTERVAL = 256, O_UNTIL, O_TIMEOUT, O_STOP, O_MAX_RATE,
};

static const struct option longopts[] = {
	{ "interval", required_argument, NULL, O_INTERVAL },
	{ "until", required_argument, NULL, O_UNTIL },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "stop-on-interrupt", no_argument, NULL, O_STOP },
	{ "max-rate", required_argument, NULL, O_MAX_RATE },
	BB_CLI_OPTIONS_AWS,
	BB_CLI_OPTIONS_MAX_LINE,
	BB_CLI_OPTIONS_PROGRESS,
	BB_CLI_OPTIONS_STD,
	{ NULL, 0, NULL, 0 },
};

static void
usage(void)
{
	printf("usage: bb-wait [-q | -v] [--interval DURATION] [--until ended|started|scheduled]\n"
	    "               [--timeout DURATION] [--stop-on-interrupt] [--max-rate N]\n"
	    "               [--profile NAME] [--region REGION] [--endpoint-url URL]\n"
	    "               [--trace FILE] [--max-line-bytes SIZE]\n"
	    "               [--progress | --no-progress] [FILE...]\n"
	    "       bb-wait --help | --version\n"
	    "\n"
	    "Wait for the Bedrock batch jobs of lines with job_arn and write each line,\n"
	    "with status, message, ended_at, output_prefix and stats added, when its\n"
	    "job ends.\n"
	    "\n"
	    "      --interval DURATION   time between two polls of a job (default: 60s)\n"
	    "      --until STATE         ended (default), started (InProgress) or\n"
	    "                            scheduled (accepted and queued)\n"
	    "      --timeout DURATION    give up after DURATION: unfinished jobs are\n"
	    "                            written with their current status, exit 1\n"
	    "      --stop-on-interrupt   on SIGINT/SIGTERM stop the jobs and wait for them\n"
	    "      --max-rate N          at most N GetModelInvocationJob requests a second\n"
	    "                            (default: 5)\n"
	    "      --profile NAME        AWS profile\n"
	    "      --region REGION       AWS region\n"
	    "      --endpoint-url URL    endpoint for every service (e.g. bb-emu)\n"
	    "      --trace FILE          HTTP trace, secrets redacted ('-': stderr)\n"
	    "      --max-line-bytes SIZE longest input line (default: 64MiB)\n"
	    "      --progress            show progress even when stderr is not a terminal\n"
	    "      --no-progress         never show progress\n"
	    "  -q, --quiet               errors only\n"
	    "  -v, --verbose             a note per state change (-vv: more)\n"
	    "  -h, --help                this help\n"
	    "  -V, --version             version\n"
	    "\n"
	    "Exit status: 0 every job Completed; 1 otherwise; 2 usage or configuration\n"
	    "error.\n");
}

static void
parse_options(int argc, char **argv)
{
	int c;

	bb_cli_init(&cli, usage);
	while ((c = getopt_long(argc, argv, BB_CLI_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case O_INTERVAL:
			if (bb_parse_duration(optarg, &opt_interval) || opt_interval < 0.01 ||
			    opt_interval > 86400)
				bb_usage_die("--interval: not a duration in [0.01s, 1d]: '%s'", optarg);
			break;
		case O_UNTIL:
			if (strcmp(optarg, "ended") == 0 || strcmp(optarg, "completed") == 0)
				opt_until = UNTIL_ENDED;
			else if (strcmp(optarg, "scheduled") == 0)
				opt_until = UNTIL_SCHEDULED;
			else if (strcmp(optarg, "started") == 0)
				opt_until = UNTIL_STARTED;
			else
				bb_usage_die("--until: 'ended', 'started' or 'scheduled', not '%s'",
				    optarg);
			break;
		case O_TIMEOUT:
			if (bb_parse_duration(optarg, &opt_timeout) || opt_timeout <= 0)
				bb_usage_die("--timeout: not a positive duration: '%s'", optarg);
			break;
		case O_STOP: opt_stop_on_interrupt = 1; break;
		case O_MAX_RATE:
			if (bb_parse_double(optarg, 0.01, 10000, &opt_max_rate))
				bb_usage_die("--max-rate: not a number in [0.01, 10000]: '%s'", optarg);
			break;
		default:
			if (!bb_cli_option(&cli, c, optarg))
				bb_cli_try_help();
		}
	}
}

/* Write every open job with what is known of it (--timeout). */
static void
write_unfinished(void)
{
	struct bb_buf e = BB_BUF_INIT;
	size_t i;

	for (i = 0; i < njobs; i++)
		if (!jobs[i]->done) {
			bb_msg_note(1, "job '%s' not finished: %s", jobs[i]->label,
			    esc_remote(&e, jobs[i]->polled ? jobs[i]->info.status_text : NULL,
			    "status unknown"));
			finish(jobs[i], NULL);
		}
	bb_buf_release(&e);
}

int
main(int argc, char **argv)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_jobs_rate rate;
	struct sigaction sa;
	struct pollfd pfd;
	pthread_t reader;
	static char *dash[] = { "-" };
	double now, wait, due, w;
	struct job *next;
	int eof = 0, timed_out = 0, interrupted = 0, status, ms;
	size_t i;

	bb_main_init(argc, argv, "bb-wait");
	parse_options(argc, argv);
	bb_jobs_rand_init(&rng, ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid());
	if (cli.aws.max_attempts == 0)
		cli.aws.max_attempts = 3;   /* the scheduler retries the rest */
	/* Bedrock for the jobs, S3 for their manifests: a configuration error
	 * stops here, before any input is read, not in endless retries */
	if ((aws = bb_aws_new(&cli.aws, &err)) == NULL ||
	    bb_aws_ready(aws, "bedrock", &err) < 0)
		bb_die(BB_EXIT_USAGE, "%s", err.msg);
	if (bb_aws_ready(aws, "s3", &err) < 0) {
		/* A Bedrock API key is enough to wait for jobs; only the
		 * manifests need S3 credentials. */
		if (!bb_aws_bearer(aws))
			bb_die(BB_EXIT_USAGE, "%s", err.msg);
		bb_msg_warn("S3: %s; stats come from the jobs' record counts, not their manifests",
		    err.msg);
		no_manifests = 1;
	}
	if (optind < argc) {
		inputs = argv + optind;
		ninputs = argc - optind;
	} else {
		inputs = dash;
		ninputs = 1;
	}
	if (pipe(wake_fd) < 0 || fcntl(wake_fd[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(wake_fd[1], F_SETFL, O_NONBLOCK) < 0)
		bb_die(BB_EXIT_USAGE, "cannot create a pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	t_start = bb_now();
	/* a small burst: a few polls at once, never a second's worth twice */
	bb_jobs_rate_init(&rate, opt_max_rate, opt_max_rate < 10 ? opt_max_rate : 10, t_start);
	if ((errno = pthread_create(&reader, NULL, reader_main, NULL)) != 0)
		bb_die(BB_EXIT_USAGE, "cannot start a thread: %s", strerror(errno));
	pthread_detach(reader);

	for (;;) {
		if (!eof)
			eof = drain_queue();
		if (got_signal && !interrupted) {
			interrupted = 1;
			if (!opt_stop_on_interrupt)
				break;
			bb_msg_info("stopping %zu jobs (interrupt again to leave them)", nopen);
			got_signal = 0;
			stop_all();
		} else if (got_signal && interrupted)
			break;
		if (interrupted && opt_stop_on_interrupt)
			stop_all();   /* lines that came in since */
		if (eof && nopen == 0)
			break;
		now = bb_now();
		if (opt_timeout > 0 && now - t_start >= opt_timeout) {
			timed_out = 1;
			break;
		}
		next = NULL;
		for (i = 0; i < njobs; i++)
			if (!jobs[i]->done && (next == NULL || jobs[i]->next < next->next))
				next = jobs[i];
		wait = 1;
		if (next != NULL) {
			due = next->next - now;
			if (due <= 0) {
				w = bb_jobs_rate_take(&rate, now);
				if (w <= 0) {
					poll_job(next, &rate);
					progress();
					continue;
				}
				due = w;
			}
			if (due < wait)
				wait = due;
		}
		if (opt_timeout > 0 && t_start + opt_timeout - now < wait)
			wait = t_start + opt_timeout - now;
		progress();
		ms = (int)(wait * 1000) + 1;
		pfd.fd = wake_fd[0];
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
			bb_die(BB_EXIT_USAGE, "poll: %s", strerror(errno));
	}
	bb_progress_done();
	if (got_signal && (!opt_stop_on_interrupt || interrupted)) {
		int sig = got_signal;

		bb_msg_note(1, "interrupted: %zu jobs left running", nopen);
		fflush(stdout);
		signal(sig, SIG_DFL);
		raise(sig);
		_exit(128 + sig);
	}
	if (timed_out) {
		bb_msg_error("--timeout: %zu of %zu jobs not finished", nopen, njobs);
		write_unfinished();
	}
	bb_msg_note(1, "%lld jobs ok, %lld not", n_ok, n_failed);
	status = n_failed || timed_out ? BB_EXIT_PARTIAL : BB_EXIT_OK;
	for (i = 0; i < njobs; i++)
		free_job(jobs[i]);
	free(jobs);
	bb_aws_free(aws);
	return bb_main_finish(status);
}
