/*
 * bb-submit - create one Bedrock batch inference job per shard line.
 *
 * Reads shard lines with `s3_uri` (bb-upload's output), sends one
 * CreateModelInvocationJob per line and writes the line with `job_arn`,
 * `job_name`, `client_token`, `output_s3_uri` and `submitted_at` added,
 * flushed at once. The clientRequestToken is derived from the shard's
 * content and target (libshared/jobs.h), so a re-run returns the jobs
 * already made instead of paying for new ones. At the account's
 * concurrency quota it waits for a slot rather than dropping a shard.
 *
 * Lines that already carry `job_arn` (a re-run over our own output) are
 * passed through unchanged without a request: the job exists and the
 * line says which it is.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
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

/* Retryable failures (throttling, 5xx, no answer) after the HTTP layer's
 * own attempts: this many more rounds with backoff, then the line fails. */
#define TRANSIENT_ROUNDS 8
/* How long a count of in-flight jobs from ListModelInvocationJobs is
 * trusted while it is below --max-inflight. */
#define INFLIGHT_TTL 10.0

static const char *opt_role;
static const char *opt_output;
static const char *opt_model;
static const char *opt_prefix = "bb";
static const char *opt_invocation;
static const char *opt_kms;
static const char *opt_salt;
static long long opt_timeout_hours;
static long long opt_max_inflight;
static double opt_max_wait;          /* 0: no bound */
static double opt_retry_interval = 60;
static int opt_dry_run;
static struct bb_bedrock_tag *opt_tags;
static size_t opt_ntags;
static char **opt_subnets, **opt_sgs;
static size_t opt_nsubnets, opt_nsgs;
static struct bb_cli cli;

static struct bb_aws *aws;
static struct bb_jobs_rand rng;         /* jitter of retries and polls */
static long long n_submitted, n_passed, n_failed;

/* The last count of in-flight jobs for one model (--max-inflight). */
static struct {
	char *model;
	long long count;
	double at;              /* bb_now() of the listing; 0: none */
} inflight;

enum {
	O_TIMEOUT_HOURS = 256, O_INVOCATION, O_TAG, O_KMS, O_SUBNETS, O_SGS,
	O_MAX_INFLIGHT, O_MAX_WAIT, O_RETRY_INTERVAL, O_SALT,
};

static const struct option longopts[] = {
	{ "role-arn", required_argument, NULL, 'r' },
	{ "output", required_argument, NULL, 'o' },
	{ "model", required_argument, NULL, 'm' },
	{ "job-name-prefix", required_argument, NULL, 'p' },
	{ "timeout-hours", required_argument, NULL, O_TIMEOUT_HOURS },
	{ "invocation-type", required_argument, NULL, O_INVOCATION },
	{ "tag", required_argument, NULL, O_TAG },
	{ "kms-key-id", required_argument, NULL, O_KMS },
	{ "vpc-subnets", required_argument, NULL, O_SUBNETS },
	{ "vpc-security-groups", required_argument, NULL, O_SGS },
	{ "max-inflight", required_argument, NULL, O_MAX_INFLIGHT },
	{ "max-wait", required_argument, NULL, O_MAX_WAIT },
	{ "retry-interval", required_argument, NULL, O_RETRY_INTERVAL },
	{ "token-salt", required_argument, NULL, O_SALT },
	{ "dry-run", no_argument, NULL, 'n' },
	BB_CLI_OPTIONS_AWS,
	BB_CLI_OPTIONS_MAX_LINE,
	BB_CLI_OPTIONS_STD,
	{ NULL, 0, NULL, 0 },
};

static void
usage(void)
{
	printf("usage: bb-submit -r ROLE_ARN -o S3URI [-m MODEL] [-p PREFIX] [-n] [-q | -v]\n"
	    "                 [--timeout-hours N] [--invocation-type InvokeModel|Converse]\n"
	    "                 [--tag KEY=VALUE]... [--kms-key-id KEY]\n"
	    "                 [--vpc-subnets ID,...] [--vpc-security-groups ID,...]\n"
	    "                 [--max-inflight N] [--max-wait DURATION]\n"
	    "                 [--retry-interval DURATION] [--token-salt STRING]\n"
	    "                 [--profile NAME] [--region REGION] [--endpoint-url URL]\n"
	    "                 [--trace FILE] [--max-line-bytes SIZE] [FILE...]\n"
	    "       bb-submit --help | --version\n"
	    "\n"
	    "Create one Bedrock batch inference job per shard line (lines with s3_uri)\n"
	    "and write each line with job_arn, job_name, client_token, output_s3_uri\n"
	    "and submitted_at added.\n"
	    "\n"
	    "  -r, --role-arn ARN        service role of the jobs (default: $BB_ROLE_ARN)\n"
	    "  -o, --output S3URI        where the jobs write their output (required)\n"
	    "  -m, --model MODEL         model id or ARN (overrides the line's model)\n"
	    "  -p, --job-name-prefix P   job names start with P (default: bb)\n"
	    "      --timeout-hours N     job timeout, 24..168 (default: the service's)\n"
	    "      --invocation-type T   InvokeModel or Converse (default: the line's)\n"
	    "      --tag KEY=VALUE       tag every job (repeatable)\n"
	    "      --kms-key-id KEY      KMS key for the output objects\n"
	    "      --vpc-subnets IDS     comma-separated subnet ids (with groups)\n"
	    "      --vpc-security-groups IDS  comma-separated security group ids\n"
	    "      --max-inflight N      at most N submitted + in-progress jobs per model\n"
	    "      --max-wait DURATION   give a shard up after waiting this long for a\n"
	    "                            free slot (default: wait as long as it takes)\n"
	    "      --retry-interval D    longest pause between retries (default: 60s)\n"
	    "      --token-salt STRING   mix STRING into the client tokens (a deliberate\n"
	    "                            resubmission of the same shards)\n"
	    "  -n, --dry-run             print the request bodies, send nothing\n"
	    "      --profile NAME        AWS profile\n"
	    "      --region REGION       AWS region\n"
	    "      --endpoint-url URL    endpoint for every service (e.g. bb-emu)\n"
	    "      --trace FILE          HTTP trace, secrets redacted ('-': stderr)\n"
	    "      --max-line-bytes SIZE longest input line (default: 64MiB)\n"
	    "  -q, --quiet               errors only\n"
	    "  -v, --verbose             a note per job (-vv: more)\n"
	    "  -h, --help                this help\n"
	    "  -V, --version             version\n"
	    "\n"
	    "Exit status: 0 every line submitted; 1 some lines failed; 2 usage or\n"
	    "configuration error.\n");
}

/* "a,b,c" into a malloc'd array of malloc'd strings. */
static void
split_list(const char *opt, const char *s, char ***out, size_t *n)
{
	const char *p = s, *e;

	for (;;) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if (e == p)
			bb_usage_die("--%s: empty id in '%s'", opt, s);
		*out = bb_xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[*n] = bb_xmalloc((size_t)(e - p) + 1);
		memcpy((*out)[*n], p, (size_t)(e - p));
		(*out)[*n][e - p] = '\0';
		(*n)++;
		if (*e == '\0')
			break;
		p = e + 1;
	}
}

static void
parse_options(int argc, char **argv)
{
	int c;
	char *eq;

	bb_cli_init(&cli, usage);
	while ((c = getopt_long(argc, argv, "r:o:m:p:n" BB_CLI_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case 'r': opt_role = optarg; break;
		case 'o': opt_output = optarg; break;
		case 'm': opt_model = optarg; break;
		case 'p': opt_prefix = optarg; break;
		case 'n': opt_dry_run = 1; break;
		case O_TIMEOUT_HOURS:
			if (bb_parse_int(optarg, 24, 168, &opt_timeout_hours))
				bb_usage_die("--timeout-hours: not a whole number of hours in "
				    "[24, 168]: '%s'", optarg);
			break;
		case O_INVOCATION:
			if ((opt_invocation = bb_jobs_invocation_type(optarg)) == NULL)
				bb_usage_die("--invocation-type: 'InvokeModel' or 'Converse', "
				    "not '%s'", optarg);
			break;
		case O_TAG:
			if ((eq = strchr(optarg, '=')) == NULL || eq == optarg)
				bb_usage_die("--tag: not KEY=VALUE: '%s'", optarg);
			*eq = '\0';
			opt_tags = bb_xrealloc(opt_tags, (opt_ntags + 1) * sizeof(*opt_tags));
			opt_tags[opt_ntags].key = optarg;
			opt_tags[opt_ntags].value = eq + 1;
			opt_ntags++;
			if (opt_ntags > 200)
				bb_usage_die("--tag: at most 200 tags");
			break;
		case O_KMS: opt_kms = optarg; break;
		case O_SUBNETS: split_list("vpc-subnets", optarg, &opt_subnets, &opt_nsubnets); break;
		case O_SGS: split_list("vpc-security-groups", optarg, &opt_sgs, &opt_nsgs); break;
		case O_MAX_INFLIGHT:
			if (bb_parse_int(optarg, 1, 1000000, &opt_max_inflight))
				bb_usage_die("--max-inflight: not a positive integer: '%s'", optarg);
			break;
		case O_MAX_WAIT:
			if (bb_parse_duration(optarg, &opt_max_wait) || opt_max_wait <= 0)
				bb_usage_die("--max-wait: not a positive duration: '%s'", optarg);
			break;
		case O_RETRY_INTERVAL:
			if (bb_parse_duration(optarg, &opt_retry_interval) ||
			    opt_retry_interval < 0.01 || opt_retry_interval > 86400)
				bb_usage_die("--retry-interval: not a duration in [0.01s, 1d]: '%s'",
				    optarg);
			break;
		case O_SALT: opt_salt = optarg; break;
		default:
			if (!bb_cli_option(&cli, c, optarg))
				bb_cli_try_help();
		}
	}
	if (opt_role == NULL && (opt_role = getenv("BB_ROLE_ARN")) != NULL && *opt_role == '\0')
		opt_role = NULL;
	if (opt_role == NULL)
		bb_usage_die("--role-arn (or BB_ROLE_ARN) is required");
	if (opt_output == NULL)
		bb_usage_die("--output is required");
	if (strncmp(opt_output, "s3://", 5) != 0 || opt_output[5] == '\0')
		bb_usage_die("--output: not an s3:// URI: '%s'", opt_output);
	if ((opt_nsubnets == 0) != (opt_nsgs == 0))
		bb_usage_die("--vpc-subnets and --vpc-security-groups go together");
}

/* The string value of a span into buf ("" when absent or not a string). */
static const char *
span_str(const struct bb_json_span *sp, struct bb_buf *buf)
{
	bb_buf_reset(buf);
	if (sp->p == NULL || sp->type != BB_JSON_STRING || bb_json_span_str(sp, buf) < 0) {
		bb_buf_reset(buf);
		return NULL;
	}
	return bb_buf_str(buf);
}

/* Write base (a JSON object line) with the error field added. */
static void
write_with_error(const char *base, size_t len, const char *msg)
{
	struct bb_buf out = BB_BUF_INIT;
	struct bb_json_append a;

	if (opt_dry_run)
		return;   /* stdout holds request bodies only */
	if (bb_json_append_begin(&a, &out, base, len, NULL) < 0 ||
	    bb_json_append_str(&a, "error", msg, strlen(msg)) < 0 ||
	    bb_json_append_end(&a) < 0 || bb_buf_addc(&out, '\n') < 0)
		bb_die(BB_EXIT_USAGE, "out of memory");
	bb_out_write(out.data, out.len);
	bb_out_record_end();
	bb_buf_release(&out);
}

static int
count_fn(const struct bb_bedrock_job *job, void *ctx)
{
	long long *n = ctx;

	if (bb_jobs_status_inflight(job->status) && bb_jobs_model_match(job->model_id,
	    inflight.model))
		(*n)++;
	return 0;
}

/* s[0..n) (text from the input or the service) with control characters
 * escaped, in b; escaping text that already was changes nothing. */
static const char *
esc_mem(struct bb_buf *b, const char *s, size_t n)
{
	bb_buf_reset(b);
	if (bb_msg_escape(b, s, n) < 0)
		bb_die(BB_EXIT_USAGE, "out of memory");
	return bb_buf_str(b);
}

static const char *
esc_text(struct bb_buf *b, const char *s)
{
	return esc_mem(b, s, strlen(s));
}

/* Count the account's in-flight jobs for model (ListModelInvocationJobs
 * over the jobs submitted in the last 8 days: no job stays in flight
 * longer than its timeout of at most 7). */
static int
list_inflight(const char *model, struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_bedrock_list_filter f;
	struct bb_buf e = BB_BUF_INIT;
	char after[21];
	long long n = 0;

	if (inflight.model == NULL || strcmp(inflight.model, model) != 0) {
		free(inflight.model);
		inflight.model = bb_xstrdup(model);
	}
	memset(&f, 0, sizeof(f));
	bb_aws_time_format((double)time(NULL) - 8 * 86400.0, after);
	f.submit_time_after = after;
	f.max_results = 1000;
	if (bb_bedrock_list_jobs(aws, &f, count_fn, &n, ae, err) < 0)
		return -1;
	inflight.count = n;
	inflight.at = bb_now();
	bb_msg_note(2, "%lld jobs in flight for model '%s'", n, esc_text(&e, model));
	bb_buf_release(&e);
	return 0;
}

/*
 * Wait until fewer than --max-inflight jobs of model are in flight.
 * 0, or -1 with err when --max-wait ran out or listing kept failing.
 */
static int
wait_for_slot(const char *model, const char *what, double t0, struct bb_error *err)
{
	struct bb_aws_error ae;
	struct bb_buf e = BB_BUF_INIT;
	int attempt = 0, failures = 0, said = 0, rc = -1;
	double d;

	for (;;) {
		if (inflight.at == 0 || inflight.model == NULL ||
		    strcmp(inflight.model, model) != 0 ||
		    bb_now() - inflight.at > INFLIGHT_TTL || inflight.count >= opt_max_inflight) {
			bb_aws_error_clear(&ae);
			if (list_inflight(model, &ae, err) < 0) {
				if (err->kind == BB_ERR_AUTH || !bb_aws_failure_transient(&ae, err) ||
				    ++failures > TRANSIENT_ROUNDS)
					goto out;
				bb_msg_warn("listing jobs: %s (retrying)", esc_text(&e, err->msg));
				bb_sleep(bb_jobs_backoff(failures, 1, opt_retry_interval,
				    bb_jobs_rand_unit(&rng)));
				continue;
			}
			failures = 0;
		}
		if (inflight.count < opt_max_inflight) {
			rc = 0;
			goto out;
		}
		if (opt_max_wait > 0 && bb_now() - t0 >= opt_max_wait) {
			/* the model as it is: escaped where the message is shown */
			bb_error_set(err, BB_ERR_REMOTE, "still %lld jobs in flight for model "
			    "'%s' (--max-inflight %lld) after waiting %.0fs", inflight.count,
			    model, opt_max_inflight, bb_now() - t0);
			goto out;
		}
		if (!said++)
			bb_msg_note(1, "%s: %lld jobs in flight for '%s' (--max-inflight %lld): "
			    "waiting", what, inflight.count, esc_text(&e, model), opt_max_inflight);
		d = bb_jobs_backoff(++attempt, opt_retry_interval < 2 ? opt_retry_interval : 2,
		    opt_retry_interval, bb_jobs_rand_unit(&rng));
		if (opt_max_wait > 0 && bb_now() + d > t0 + opt_max_wait)
			d = t0 + opt_max_wait - bb_now();
		bb_sleep(d);
	}
out:
	bb_buf_release(&e);
	return rc;
}

/*
 * Create the job, waiting at the quota and retrying transient failures.
 * 0 with *arn set; -1 with err (kind BB_ERR_AUTH: give up the run).
 */
static int
create(const struct bb_bedrock_job_spec *spec, const char *what, char **arn,
    struct bb_error *err)
{
	struct bb_aws_error ae;
	struct bb_buf e = BB_BUF_INIT;
	double t0 = bb_now(), d;
	int quota_attempt = 0, failures = 0, said = 0, rc = -1;

	for (;;) {
		if (opt_max_inflight > 0 && wait_for_slot(spec->model_id, what, t0, err) < 0)
			goto out;
		bb_aws_error_clear(&ae);
		bb_error_clear(err);
		if (bb_bedrock_create_job(aws, spec, arn, &ae, err) == 0) {
			if (inflight.model && strcmp(inflight.model, spec->model_id) == 0)
				inflight.count++;
			rc = 0;
			goto out;
		}
		if (err->kind == BB_ERR_AUTH)
			goto out;
		if (strcmp(ae.code, "ServiceQuotaExceededException") == 0) {
			if (opt_max_wait > 0 && bb_now() - t0 >= opt_max_wait) {
				bb_error_prefix(err, "gave up after waiting %.0fs for a free slot",
				    bb_now() - t0);
				goto out;
			}
			if (!said++)
				bb_msg_info("%s: the job quota of model '%s' is full: waiting for a "
				    "free slot", what, esc_text(&e, spec->model_id));
			inflight.at = 0;
			d = bb_jobs_backoff(++quota_attempt, opt_retry_interval < 2 ?
			    opt_retry_interval : 2, opt_retry_interval, bb_jobs_rand_unit(&rng));
			if (opt_max_wait > 0 && bb_now() + d > t0 + opt_max_wait)
				d = t0 + opt_max_wait - bb_now();
			bb_msg_note(2, "%s: quota full, next try in %.1fs", what, d);
			bb_sleep(d);
			continue;
		}
		if (bb_aws_failure_transient(&ae, err) && ++failures <= TRANSIENT_ROUNDS) {
			bb_msg_warn("%s: %s (retrying)", what, esc_text(&e, err->msg));
			bb_sleep(bb_jobs_backoff(failures, 1, opt_retry_interval,
			    bb_jobs_rand_unit(&rng)));
			continue;
		}
		goto out;
	}
out:
	bb_buf_release(&e);
	return rc;
}

static const char *const line_keys[] = {
	"s3_uri", "model", "sha256", "etag", "invocation_type", "job_arn", "error", "shard",
};
enum { K_S3_URI, K_MODEL, K_SHA256, K_ETAG, K_INVOCATION, K_JOB_ARN, K_ERROR, K_SHARD, K_N };

/* The fields bb-submit adds (job_arn aside: a line with it passes through),
 * replaced when a line comes back without its job_arn (man/bb.7). */
static const char *const own_keys[] = {
	"job_name", "client_token", "output_s3_uri", "submitted_at", "error",
};

/* Process one input line. */
static void
submit_line(const struct bb_ndjson_line *line, const char *src)
{
	struct bb_json_span sp[K_N];
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf base = BB_BUF_INIT, s_uri = BB_BUF_INIT, s_model = BB_BUF_INIT,
	    s_content = BB_BUF_INIT, s_inv = BB_BUF_INIT, s_shard = BB_BUF_INIT,
	    name = BB_BUF_INIT, what = BB_BUF_INIT, body = BB_BUF_INIT, out = BB_BUF_INIT,
	    esc = BB_BUF_INIT;
	struct bb_bedrock_job_spec spec;
	struct bb_jobs_target t;
	struct bb_json_append a;
	const char *uri, *model, *content, *inv, *shard;
	char token[BB_JOBS_TOKEN_LEN + 1], when[21];
	char *arn = NULL;

	if (bb_json_fields(line->data, line->len, line_keys, K_N, sp, &err) < 0) {
		bb_msg_error("%s (at %s:%llu)", esc_text(&esc, err.msg), src,
		    (unsigned long long)line->lineno);
		n_failed++;
		goto out;
	}
	if (sp[K_JOB_ARN].p != NULL) {
		/* already submitted (a re-run over bb-submit's output) */
		bb_out_write(line->data, line->len);
		bb_out_write("\n", 1);
		bb_out_record_end();
		n_passed++;
		goto out;
	}
	uri = span_str(&sp[K_S3_URI], &s_uri);
	shard = span_str(&sp[K_SHARD], &s_shard);
	if (uri == NULL && sp[K_ERROR].p != NULL) {
		/* failed upstream: carried as it is */
		bb_msg_note(1, "line with an error from an earlier stage passed on (at %s:%llu)",
		    src, (unsigned long long)line->lineno);
		bb_out_write(line->data, line->len);
		bb_out_write("\n", 1);
		bb_out_record_end();
		n_failed++;
		goto out;
	}
	/* a failed submission being retried, or a line whose job_arn was
	 * removed to submit it again: drop what an earlier run added */
	if (bb_jobs_strip_fields(line->data, line->len, own_keys,
	    sizeof(own_keys) / sizeof(own_keys[0]), &base, NULL, &err) < 0) {
		bb_msg_error("%s (at %s:%llu)", esc_text(&esc, err.msg), src,
		    (unsigned long long)line->lineno);
		n_failed++;
		goto out;
	}
	if (bb_buf_addf(&what, "shard '%s'", esc_text(&esc, shard ? shard : uri ? uri : "?")) < 0)
		bb_die(BB_EXIT_USAGE, "out of memory");
	if (uri == NULL) {
		bb_msg_error("line without s3_uri: not uploaded? (at %s:%llu)", src,
		    (unsigned long long)line->lineno);
		write_with_error(base.data, base.len, "no s3_uri: the shard was not uploaded");
		n_failed++;
		goto out;
	}
	model = opt_model ? opt_model : span_str(&sp[K_MODEL], &s_model);
	if (model == NULL || *model == '\0') {
		bb_msg_error("%s: no model (give --model) (at %s:%llu)", what.data, src,
		    (unsigned long long)line->lineno);
		write_with_error(base.data, base.len, "no model: neither the line nor --model "
		    "names one");
		n_failed++;
		goto out;
	}
	inv = opt_invocation;
	if (inv == NULL && span_str(&sp[K_INVOCATION], &s_inv) != NULL) {
		inv = bb_jobs_invocation_type(s_inv.data);
		if (inv == NULL) {
			bb_msg_error("%s: unknown invocation_type '%s' (at %s:%llu)", what.data,
			    esc_mem(&esc, s_inv.data, s_inv.len), src, (unsigned long long)line->lineno);
			write_with_error(base.data, base.len, "unknown invocation_type");
			n_failed++;
			goto out;
		}
	}
	content = span_str(&sp[K_SHA256], &s_content);
	if (content == NULL && (content = span_str(&sp[K_ETAG], &s_content)) != NULL) {
		/* the ETag's quotes are not part of it */
		if (s_content.len >= 2 && s_content.data[0] == '"' &&
		    s_content.data[s_content.len - 1] == '"') {
			memmove(s_content.data, s_content.data + 1, s_content.len - 2);
			bb_buf_setlen(&s_content, s_content.len - 2);
		}
		content = s_content.data;
	}

	memset(&t, 0, sizeof(t));
	t.input_uri = uri;
	t.content = content;
	t.model_id = model;
	t.output_uri = opt_output;
	t.invocation_type = inv ? inv : "InvokeModel";
	t.salt = opt_salt;
	if (bb_jobs_client_token(&t, token, &err) < 0)
		bb_die(BB_EXIT_USAGE, "%s", err.msg);
	if (bb_jobs_job_name(opt_prefix, uri, token, &name) < 0)
		bb_die(BB_EXIT_USAGE, "out of memory");

	memset(&spec, 0, sizeof(spec));
	spec.job_name = name.data;
	spec.role_arn = opt_role;
	spec.client_request_token = token;
	spec.model_id = model;
	spec.input_s3_uri = uri;
	spec.input_format = "JSONL";
	spec.output_s3_uri = opt_output;
	spec.output_kms_key_id = opt_kms;
	spec.subnet_ids = (const char *const *)opt_subnets;
	spec.nsubnets = opt_nsubnets;
	spec.security_group_ids = (const char *const *)opt_sgs;
	spec.nsecurity_groups = opt_nsgs;
	spec.timeout_hours = (int)opt_timeout_hours;
	spec.tags = opt_tags;
	spec.ntags = opt_ntags;
	spec.invocation_type = inv;

	if (opt_dry_run) {
		if (bb_bedrock_create_body(&spec, &body, &err) < 0)
			bb_die(BB_EXIT_USAGE, "%s", err.msg);
		bb_buf_addc(&body, '\n');
		bb_out_write(body.data, body.len);
		bb_out_record_end();
		n_submitted++;
		goto out;
	}
	if (create(&spec, what.data, &arn, &err) < 0) {
		if (err.kind == BB_ERR_AUTH)
			bb_die(BB_EXIT_USAGE, "%s: %s", what.data, esc_text(&esc, err.msg));
		bb_msg_error("%s: %s (at %s:%llu)", what.data, esc_text(&esc, err.msg), src,
		    (unsigned long long)line->lineno);
		write_with_error(base.data, base.len, err.msg);
		n_failed++;
		goto out;
	}
	bb_aws_time_format((double)time(NULL), when);
	if (bb_json_append_begin(&a, &out, base.data, base.len, &err) < 0 ||
	    bb_json_append_str(&a, "job_arn", arn, strlen(arn)) < 0 ||
	    bb_json_append_str(&a, "job_name", name.data, name.len) < 0 ||
	    bb_json_append_str(&a, "client_token", token, strlen(token)) < 0 ||
	    bb_json_append_str(&a, "output_s3_uri", opt_output, strlen(opt_output)) < 0 ||
	    bb_json_append_str(&a, "submitted_at", when, strlen(when)) < 0 ||
	    bb_json_append_end(&a) < 0 || bb_buf_addc(&out, '\n') < 0)
		bb_die(BB_EXIT_USAGE, "out of memory");
	bb_out_write(out.data, out.len);
	bb_out_record_end();
	bb_msg_note(1, "%s: %s (%s)", what.data, esc_text(&esc, arn), name.data);
	n_submitted++;
out:
	free(arn);
	bb_buf_release(&base);
	bb_buf_release(&s_uri);
	bb_buf_release(&s_model);
	bb_buf_release(&s_content);
	bb_buf_release(&s_inv);
	bb_buf_release(&s_shard);
	bb_buf_release(&name);
	bb_buf_release(&what);
	bb_buf_release(&body);
	bb_buf_release(&out);
	bb_buf_release(&esc);
}

static void
run_input(const char *path)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_ndjson *r;
	struct bb_ndjson_line line;
	int n;

	if ((r = bb_ndjson_open(path, (size_t)cli.max_line, BB_NDJSON_SKIP_BLANK, &err)) == NULL) {
		bb_msg_error("%s", err.msg);
		n_failed++;
		return;
	}
	for (;;) {
		n = bb_ndjson_next(r, &line, &err);
		if (n == 0)
			break;
		if (n < 0) {
			bb_msg_error("%s", err.msg);
			n_failed++;
			if (bb_ndjson_failed(r))
				break;
			continue;
		}
		submit_line(&line, bb_ndjson_name(r));
	}
	bb_ndjson_free(r);
}

int
main(int argc, char **argv)
{
	struct bb_error err = BB_ERROR_INIT;
	int i, status;
	size_t k;

	bb_main_init(argc, argv, "bb-submit");
	parse_options(argc, argv);
	bb_jobs_rand_init(&rng, ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid());
	/* a configuration error (no region, no credentials, an unsupported
	 * profile) stops before the first line, not one retry per line */
	if (!opt_dry_run && ((aws = bb_aws_new(&cli.aws, &err)) == NULL ||
	    bb_aws_ready(aws, "bedrock", &err) < 0))
		bb_die(BB_EXIT_USAGE, "%s", err.msg);
	if (optind >= argc)
		run_input("-");
	for (i = optind; i < argc; i++)
		run_input(argv[i]);
	bb_msg_note(1, "%lld submitted, %lld already submitted, %lld failed", n_submitted,
	    n_passed, n_failed);
	bb_aws_free(aws);
	free(inflight.model);
	free(opt_tags);
	for (k = 0; k < opt_nsubnets; k++)
		free(opt_subnets[k]);
	for (k = 0; k < opt_nsgs; k++)
		free(opt_sgs[k]);
	free(opt_subnets);
	free(opt_sgs);
	status = n_failed ? BB_EXIT_PARTIAL : BB_EXIT_OK;
	return bb_main_finish(status);
}
