/*
 * bb-upload - upload shards (or files, or standard input) to S3 in
 * parallel, and pass each shard line on with s3_uri, etag and
 * uploaded_bytes added as its upload completes. The transfers are done by
 * libshared/upload.h; this file is the policy: inputs, keys, the line
 * stream, messages, signals and the exit status.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws.h"
#include "buf.h"
#include "cli.h"
#include "error.h"
#include "http.h"
#include "json.h"
#include "msg.h"
#include "ndjson.h"
#include "s3.h"
#include "upload.h"

/* One object to upload: the input line it came from, if any. */
struct item {
	char *line;                    /* NULL for a file argument */
	size_t len;
	uint64_t lineno;
	char *name;                    /* the file name, for messages */
};

static int failed;
static int from_lines;
static volatile sig_atomic_t got_signal;
static const char *input_name = "<stdin>";

static void
usage(void)
{
	printf("usage: bb-upload -t s3://BUCKET/PREFIX/ [-k NAME] [-j N] [--part-size SIZE]\n"
	    "                 [--multipart-threshold SIZE] [--checksum-algorithm ALG]\n"
	    "                 [--content-md5] [--force] [--no-resume] [--content-type TYPE]\n"
	    "                 [--storage-class CLASS] [--sse aws:kms|AES256]\n"
	    "                 [--sse-kms-key-id ID] [--acl ACL] [--tag KEY=VALUE]...\n"
	    "                 [--region REGION] [--profile NAME] [--endpoint-url URL]\n"
	    "                 [--max-line-bytes SIZE] [--trace FILE] [--progress | --no-progress]\n"
	    "                 [-q | -v] [FILE... | -]\n"
	    "       bb-upload --help | --version\n"
	    "\n"
	    "Reads shard lines on standard input (their `shard' field names the file), or\n"
	    "uploads the FILEs named, or standard input itself with `-'. Each line is\n"
	    "written again with s3_uri, etag and uploaded_bytes (or skipped) added.\n"
	    "\n"
	    "  -t, --to URI                   destination: a prefix ending in '/', or the key\n"
	    "                                 of a single file or of standard input\n"
	    "  -k, --key NAME                 the key's name under the prefix (one file)\n"
	    "  -j, --jobs N                   transfers at once (default 8)\n"
	    "      --part-size SIZE           multipart part size (default 16MiB)\n"
	    "      --multipart-threshold SIZE multipart from this size on (default 64MiB)\n"
	    "      --checksum-algorithm ALG   auto (default: crc32c over https, sha256 over\n"
	    "                                 http), crc32c, sha256, or none (the payload's\n"
	    "                                 SHA-256 signed instead)\n"
	    "      --content-md5              also send Content-MD5 (slower)\n"
	    "      --force                    upload even when an identical object exists\n"
	    "      --no-resume                never resume an interrupted multipart upload\n"
	    "      --content-type TYPE        default application/octet-stream\n"
	    "      --storage-class CLASS      e.g. STANDARD_IA, INTELLIGENT_TIERING\n"
	    "      --sse ALG                  server-side encryption: AES256 or aws:kms\n"
	    "      --sse-kms-key-id ID        the KMS key for --sse aws:kms\n"
	    "      --acl ACL                  canned ACL, e.g. bucket-owner-full-control\n"
	    "      --tag KEY=VALUE            object tag (repeatable)\n"
	    "      --region REGION            AWS region\n"
	    "      --profile NAME             AWS profile\n"
	    "      --endpoint-url URL         S3 endpoint (path-style addressing)\n"
	    "      --max-line-bytes SIZE      longest input line (default 64MiB)\n"
	    "      --trace FILE               HTTP trace, secrets redacted ('-': stderr)\n"
	    "      --progress, --no-progress  force the progress line on or off\n"
	    "  -q, --quiet                    errors only\n"
	    "  -v, --verbose                  more messages\n"
	    "  -h, --help                     this help\n"
	    "  -V, --version                  the version\n");
}

/* ---- stdin lines, read by a thread so a slow pipe never stalls transfers ---- */

struct qline {
	struct qline *next;
	char *data;                    /* NULL: an error message in msg */
	size_t len;
	uint64_t lineno;
	char msg[1024];
};

struct lineq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct qline *head, *tail;
	size_t n;
	int eof;
	struct bb_ndjson *r;
	int fatal;
};

#define QMAX 256

static void
q_push(struct lineq *q, struct qline *l)
{
	pthread_mutex_lock(&q->lock);
	while (q->n >= QMAX)
		pthread_cond_wait(&q->cond, &q->lock);
	l->next = NULL;
	if (q->tail)
		q->tail->next = l;
	else
		q->head = l;
	q->tail = l;
	q->n++;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

static void *
reader(void *arg)
{
	struct lineq *q = arg;
	struct bb_ndjson_line line;
	struct bb_error err = BB_ERROR_INIT;
	struct qline *l;
	int rc;

	for (;;) {
		rc = bb_ndjson_next(q->r, &line, &err);
		if (rc == 0)
			break;
		l = bb_xcalloc(1, sizeof(*l));
		if (rc < 0) {
			snprintf(l->msg, sizeof(l->msg), "%s", err.msg);
			l->lineno = bb_ndjson_lineno(q->r);
			q_push(q, l);
			if (bb_ndjson_failed(q->r))
				break;
			continue;
		}
		l->data = bb_xmalloc(line.len + 1);
		memcpy(l->data, line.data, line.len + 1);
		l->len = line.len;
		l->lineno = line.lineno;
		q_push(q, l);
	}
	pthread_mutex_lock(&q->lock);
	q->eof = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Next queued line, NULL when none now; waits up to ms when empty. */
static struct qline *
q_pop(struct lineq *q, long ms, int *eof)
{
	struct qline *l;
	struct timespec ts;

	pthread_mutex_lock(&q->lock);
	if (q->head == NULL && !q->eof && ms > 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += ms * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&q->cond, &q->lock, &ts);
	}
	l = q->head;
	if (l) {
		q->head = l->next;
		if (q->head == NULL)
			q->tail = NULL;
		q->n--;
		pthread_cond_broadcast(&q->cond);
	}
	*eof = q->eof && q->head == NULL;
	pthread_mutex_unlock(&q->lock);
	return l;
}

/* ---- output ---- */

static const char *const our_keys[] = { "s3_uri", "etag", "uploaded_bytes", "skipped" };
#define NOUR (sizeof(our_keys) / sizeof(our_keys[0]))

/*
 * Copy line to out without the fields bb-upload adds (a re-run on its own
 * output must not repeat them). Each field is removed with the comma
 * before it (or after it, for the first member).
 */
static int
strip_ours(const char *line, size_t len, const struct bb_json_span *sp, struct bb_buf *out)
{
	const char *cut_from[NOUR], *cut_to[NOUR], *p, *end;
	size_t i, j, n = 0;

	for (i = 0; i < NOUR; i++) {
		if (sp[i].p == NULL)
			continue;
		/* back from the value over ':' and the key's literal */
		p = sp[i].p;
		while (p > line && p[-1] != ':')
			p--;
		p--;
		while (p > line && p[-1] != '"')
			p--;
		p--;                              /* the closing quote of the key */
		while (p > line && !(p[-1] == '"' && (p - 1 == line || p[-2] != '\\')))
			p--;
		p--;                              /* its opening quote */
		end = sp[i].p + sp[i].n;
		/* take a comma: the one before, else the one after */
		{
			const char *b = p;
			while (b > line && (b[-1] == ' ' || b[-1] == '\t'))
				b--;
			if (b > line && b[-1] == ',') {
				p = b - 1;
			} else {
				const char *a = end;
				while (a < line + len && (*a == ' ' || *a == '\t'))
					a++;
				if (a < line + len && *a == ',')
					end = a + 1;
			}
		}
		cut_from[n] = p;
		cut_to[n] = end;
		n++;
	}
	/* sort the cuts by position */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && cut_from[j] < cut_from[j - 1]; j--) {
			const char *t = cut_from[j];
			cut_from[j] = cut_from[j - 1];
			cut_from[j - 1] = t;
			t = cut_to[j];
			cut_to[j] = cut_to[j - 1];
			cut_to[j - 1] = t;
		}
	p = line;
	for (i = 0; i < n; i++) {
		if (cut_from[i] < p)
			continue;
		if (bb_buf_add(out, p, (size_t)(cut_from[i] - p)) < 0)
			return -1;
		p = cut_to[i];
	}
	return bb_buf_add(out, p, (size_t)(line + len - p));
}

static void
where(struct bb_buf *w, const struct item *it)
{
	if (it->line)
		bb_buf_addf(w, " (at %s:%" PRIu64 ")", input_name, it->lineno);
}

static void
done(const struct bb_upload_result *r, void *ctx)
{
	struct item *it = r->user;
	struct bb_buf out = BB_BUF_INIT, base = BB_BUF_INIT, uri = BB_BUF_INIT,
	    w = BB_BUF_INIT;
	struct bb_json_span sp[NOUR];
	struct bb_json_append a;
	struct bb_error err = BB_ERROR_INIT;

	(void)ctx;
	where(&w, it);
	if (!r->ok) {
		failed = 1;
		bb_msg_error("%s%s", r->err.msg, bb_buf_str(&w));
		goto out;
	}
	bb_buf_addf(&uri, "s3://%s/%s", r->bucket, r->key);
	if (it->line) {
		if (bb_json_fields(it->line, it->len, our_keys, NOUR, sp, &err) < 0 ||
		    strip_ours(it->line, it->len, sp, &base) < 0)
			bb_die(BB_EXIT_USAGE, "out of memory");
	} else if (strcmp(it->name, "-") == 0) {
		bb_buf_addf(&base, "{\"bytes\":%" PRIu64 "}", r->size);
	} else {
		bb_buf_adds(&base, "{\"shard\":");
		bb_json_add_str(&base, it->name, strlen(it->name));
		bb_buf_addf(&base, ",\"bytes\":%" PRIu64 "}", r->size);
	}
	if (bb_json_append_begin(&a, &out, base.data, base.len, &err) < 0 ||
	    bb_json_append_str(&a, "s3_uri", uri.data, uri.len) < 0 ||
	    bb_json_append_str(&a, "etag", r->etag, strlen(r->etag)) < 0 ||
	    bb_json_append_int(&a, "uploaded_bytes", (long long)r->sent) < 0 ||
	    (r->skipped && bb_json_append_bool(&a, "skipped", 1) < 0) ||
	    bb_json_append_end(&a) < 0 || bb_buf_addc(&out, '\n') < 0)
		bb_die(BB_EXIT_USAGE, "cannot write the line for '%s'", it->name);
	bb_out_write(out.data, out.len);
	bb_out_record_end();
	if (r->skipped)
		bb_msg_note(1, "%s: identical object already at %s%s", it->name, uri.data,
		    bb_buf_str(&w));
	else
		bb_msg_note(1, "%s: %s (%" PRIu64 " bytes%s%s)", it->name, uri.data, r->sent,
		    r->multipart ? ", multipart" : "",
		    r->parts_reused ? ", resumed" : "");
out:
	free(it->line);
	free(it->name);
	free(it);
	bb_buf_release(&out);
	bb_buf_release(&base);
	bb_buf_release(&uri);
	bb_buf_release(&w);
}

/* ---- main ---- */

static void
on_signal(int sig)
{
	got_signal = sig;
}

static const char *
basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static void
human(char *out, size_t n, double v)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void
show_progress(struct bb_upload *u, double t0)
{
	struct bb_upload_progress p;
	char done_s[32], total_s[32], eta[32];
	double el, rate;

	if (!bb_progress_enabled())
		return;
	bb_upload_get_progress(u, &p);
	el = bb_now() - t0;
	rate = el > 0 ? (double)p.bytes_sent / el : 0;
	human(done_s, sizeof(done_s), (double)p.bytes_sent);
	human(total_s, sizeof(total_s), (double)p.bytes_total);
	if (rate > 0 && p.bytes_total > p.bytes_sent)
		snprintf(eta, sizeof(eta), ", ETA %.0f s", (double)(p.bytes_total - p.bytes_sent) / rate);
	else
		eta[0] = '\0';
	bb_progress_update("%" PRIu64 "/%" PRIu64 " files, %s of %s, %.1f MB/s%s",
	    p.files_done, p.files_total, done_s, total_s, rate / 1e6, eta);
}

static void
add_or_fail(struct bb_upload *u, struct item *it, const char *path, const char *bucket,
    const char *key)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf w = BB_BUF_INIT;

	if (bb_upload_add_file(u, path, bucket, key, it, &err) < 0) {
		where(&w, it);
		bb_msg_error("'%s': %s%s", path, err.msg, bb_buf_str(&w));
		failed = 1;
		free(it->line);
		free(it->name);
		free(it);
		bb_buf_release(&w);
	}
}

static void
take_line(struct bb_upload *u, struct qline *l, const char *bucket, const char *prefix)
{
	static const char *const keys[] = { "shard" };
	struct bb_json_span sp[1];
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf path = BB_BUF_INIT, key = BB_BUF_INIT;
	struct item *it;

	if (l->data == NULL) {
		bb_msg_error("%s", l->msg);
		failed = 1;
		return;
	}
	if (l->len == 0 || strspn(l->data, " \t") == l->len)
		return;
	if (bb_json_fields(l->data, l->len, keys, 1, sp, &err) < 0) {
		bb_msg_error("%s (at %s:%" PRIu64 ")", err.msg, input_name, l->lineno);
		failed = 1;
		return;
	}
	if (sp[0].p == NULL || sp[0].type != BB_JSON_STRING || bb_json_span_str(&sp[0], &path) < 0 ||
	    path.len == 0 || memchr(path.data, '\0', path.len) != NULL) {
		bb_msg_error("no 'shard' file name in the line (at %s:%" PRIu64 ")", input_name,
		    l->lineno);
		failed = 1;
		goto out;
	}
	bb_buf_adds(&key, prefix);
	bb_buf_adds(&key, basename_of(path.data));
	it = bb_xcalloc(1, sizeof(*it));
	it->line = l->data;
	it->len = l->len;
	it->lineno = l->lineno;
	it->name = bb_xstrdup(path.data);
	l->data = NULL;
	add_or_fail(u, it, path.data, bucket, key.data);
out:
	bb_buf_release(&path);
	bb_buf_release(&key);
}

enum {
	O_PART_SIZE = 256, O_THRESHOLD, O_CHECKSUM, O_FORCE, O_NO_RESUME, O_CONTENT_TYPE,
	O_STORAGE_CLASS, O_SSE, O_SSE_KMS, O_ACL, O_TAG, O_CONTENT_MD5,
};

static const struct option longopts[] = {
	{ "to", required_argument, NULL, 't' },
	{ "key", required_argument, NULL, 'k' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "part-size", required_argument, NULL, O_PART_SIZE },
	{ "multipart-threshold", required_argument, NULL, O_THRESHOLD },
	{ "checksum-algorithm", required_argument, NULL, O_CHECKSUM },
	{ "content-md5", no_argument, NULL, O_CONTENT_MD5 },
	{ "force", no_argument, NULL, O_FORCE },
	{ "no-resume", no_argument, NULL, O_NO_RESUME },
	{ "content-type", required_argument, NULL, O_CONTENT_TYPE },
	{ "storage-class", required_argument, NULL, O_STORAGE_CLASS },
	{ "sse", required_argument, NULL, O_SSE },
	{ "sse-kms-key-id", required_argument, NULL, O_SSE_KMS },
	{ "acl", required_argument, NULL, O_ACL },
	{ "tag", required_argument, NULL, O_TAG },
	BB_CLI_OPTIONS_AWS,
	BB_CLI_OPTIONS_MAX_LINE,
	BB_CLI_OPTIONS_PROGRESS,
	BB_CLI_OPTIONS_STD,
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
	struct bb_cli cli;
	struct bb_upload_opts uo;
	struct bb_http_headers hdrs;
	struct bb_buf tags = BB_BUF_INIT, prefix = BB_BUF_INIT, key = BB_BUF_INIT;
	struct bb_aws_query tq;
	struct bb_s3_uri to = { NULL, NULL };
	struct bb_error err = BB_ERROR_INIT;
	struct bb_aws *aws = NULL;
	struct bb_upload *u = NULL;
	struct lineq q;
	struct qline *l;
	struct sigaction sa;
	struct bb_upload_progress pr;
	sigset_t block, old;
	pthread_t th;
	const char *opt_to = NULL, *opt_key = NULL, *sse = NULL, *kms = NULL;
	uint64_t sz;
	long long v;
	double t0, el;
	int c, i, nfiles, eof, status, sig, single;
	char *eq;
	char bytes_s[32];

	bb_main_init(argc, argv, "bb-upload");
	bb_cli_init(&cli, usage);
	memset(&uo, 0, sizeof(uo));
	bb_http_headers_init(&hdrs);
	bb_aws_query_init(&tq, &tags);
	while ((c = getopt_long(argc, argv, "t:k:j:" BB_CLI_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case 't': opt_to = optarg; break;
		case 'k':
			if (*optarg == '\0')
				bb_usage_die("--key: empty name");
			opt_key = optarg;
			break;
		case 'j':
			if (bb_parse_int(optarg, 1, 1000, &v))
				bb_usage_die("--jobs: not a number in 1..1000: '%s'", optarg);
			uo.jobs = (int)v;
			break;
		case O_PART_SIZE:
			if (bb_parse_size(optarg, &sz) || sz < BB_UPLOAD_MIN_PART ||
			    sz > BB_UPLOAD_MAX_PART)
				bb_usage_die("--part-size: not a size within 5MiB..5GiB: '%s'", optarg);
			uo.part_size = sz;
			break;
		case O_THRESHOLD:
			if (bb_parse_size(optarg, &sz) || sz < 1 || sz > BB_UPLOAD_MAX_PART)
				bb_usage_die("--multipart-threshold: not a size within 1..5GiB: '%s'",
				    optarg);
			uo.threshold = sz;
			break;
		case O_CHECKSUM:
			uo.flags &= ~(unsigned)BB_UPLOAD_NO_CHECKSUM;
			uo.checksum = BB_CKSUM_NONE;
			if (strcasecmp(optarg, "none") == 0)
				uo.flags |= BB_UPLOAD_NO_CHECKSUM;
			else if (strcasecmp(optarg, "sha256") == 0)
				uo.checksum = BB_CKSUM_SHA256;
			else if (strcasecmp(optarg, "crc32c") == 0)
				uo.checksum = BB_CKSUM_CRC32C;
			else if (strcasecmp(optarg, "auto") != 0)
				bb_usage_die("--checksum-algorithm: auto, crc32c, sha256 or none, not "
				    "'%s'", optarg);
			break;
		case O_CONTENT_MD5: uo.flags |= BB_UPLOAD_CONTENT_MD5; break;
		case O_FORCE: uo.flags |= BB_UPLOAD_FORCE; break;
		case O_NO_RESUME: uo.flags |= BB_UPLOAD_NO_RESUME; break;
		case O_CONTENT_TYPE: uo.content_type = optarg; break;
		case O_STORAGE_CLASS:
			bb_http_headers_set(&hdrs, "x-amz-storage-class", optarg);
			break;
		case O_SSE:
			if (strcmp(optarg, "aws:kms") != 0 && strcmp(optarg, "AES256") != 0 &&
			    strcmp(optarg, "aws:kms:dsse") != 0)
				bb_usage_die("--sse: not AES256, aws:kms or aws:kms:dsse: '%s'", optarg);
			sse = optarg;
			break;
		case O_SSE_KMS: kms = optarg; break;
		case O_ACL: bb_http_headers_set(&hdrs, "x-amz-acl", optarg); break;
		case O_TAG:
			eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg)
				bb_usage_die("--tag: not KEY=VALUE: '%s'", optarg);
			*eq = '\0';
			bb_aws_query_add(&tq, optarg, eq + 1);
			*eq = '=';
			break;
		default:
			if (!bb_cli_option(&cli, c, optarg))
				bb_cli_try_help();
		}
	}
	nfiles = argc - optind;
	if (opt_to == NULL)
		bb_usage_die("--to s3://BUCKET/PREFIX/ is required");
	if (bb_s3_uri_parse(opt_to, &to, &err) < 0)
		bb_usage_die("--to: %s", err.msg);
	if (kms && (sse == NULL || strncmp(sse, "aws:kms", 7) != 0))
		bb_usage_die("--sse-kms-key-id needs --sse aws:kms");
	if (sse)
		bb_http_headers_set(&hdrs, "x-amz-server-side-encryption", sse);
	if (kms)
		bb_http_headers_set(&hdrs, "x-amz-server-side-encryption-aws-kms-key-id", kms);
	if (tags.len)
		bb_http_headers_set(&hdrs, "x-amz-tagging", tags.data);
	for (i = optind; i < argc; i++)
		if (strcmp(argv[i], "-") == 0 && nfiles > 1)
			bb_usage_die("'-' (standard input) must be the only operand");
	if (opt_key && nfiles != 1)
		bb_usage_die("--key needs exactly one FILE operand");
	/* One operand and a key that is not a prefix: that is the key. */
	single = nfiles == 1 && opt_key == NULL && to.key[0] != '\0' &&
	    to.key[strlen(to.key) - 1] != '/';
	bb_buf_adds(&prefix, to.key);
	if (!single && prefix.len && prefix.data[prefix.len - 1] != '/')
		bb_buf_addc(&prefix, '/');
	if (nfiles == 1 && strcmp(argv[optind], "-") == 0 && !single && opt_key == NULL)
		bb_usage_die("standard input needs a key: --to s3://BUCKET/KEY or --key NAME");

	uo.headers = &hdrs;
	aws = bb_aws_new(&cli.aws, &err);
	if (aws == NULL)
		bb_die(BB_EXIT_USAGE, "%s", err.msg);
	if (bb_aws_ready(aws, "s3", &err) < 0)
		bb_die(BB_EXIT_USAGE, "%s", err.msg);
	u = bb_upload_new(aws, &uo, done, NULL, &err);
	if (u == NULL)
		bb_die(BB_EXIT_USAGE, "%s", err.msg);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	t0 = bb_now();
	if (nfiles > 0) {
		for (i = optind; i < argc; i++) {
			struct item *it = bb_xcalloc(1, sizeof(*it));
			it->name = bb_xstrdup(argv[i]);
			bb_buf_reset(&key);
			if (single)
				bb_buf_adds(&key, to.key);
			else {
				bb_buf_adds(&key, prefix.data ? prefix.data : "");
				bb_buf_adds(&key, opt_key ? opt_key : basename_of(argv[i]));
			}
			if (strcmp(argv[i], "-") == 0) {
				if (bb_upload_add_stream(u, 0, "<stdin>", to.bucket, key.data, it,
				    &err) < 0)
					bb_die(BB_EXIT_USAGE, "%s", err.msg);
			} else {
				add_or_fail(u, it, argv[i], to.bucket, key.data);
			}
		}
		while (!got_signal && bb_upload_pending(u) > 0) {
			if (bb_upload_run(u, 200, &err) < 0)
				bb_die(BB_EXIT_USAGE, "%s", err.msg);
			show_progress(u, t0);
		}
	} else {
		from_lines = 1;
		memset(&q, 0, sizeof(q));
		pthread_mutex_init(&q.lock, NULL);
		pthread_cond_init(&q.cond, NULL);
		q.r = bb_ndjson_open_fd(0, 0, "<stdin>", (size_t)cli.max_line, BB_NDJSON_SKIP_BLANK,
		    &err);
		if (q.r == NULL)
			bb_die(BB_EXIT_USAGE, "%s", err.msg);
		/* the signals go to this thread, not the reader */
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
		sigaddset(&block, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &block, &old);
		if (pthread_create(&th, NULL, reader, &q) != 0)
			bb_die(BB_EXIT_USAGE, "cannot start the reader thread");
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		eof = 0;
		while (!got_signal) {
			/* keep a few objects queued beyond the transfers */
			while (bb_upload_pending(u) < (size_t)(uo.jobs ? uo.jobs : 8) * 4 &&
			    (l = q_pop(&q, bb_upload_pending(u) ? 0 : 100, &eof)) != NULL) {
				take_line(u, l, to.bucket, prefix.data ? prefix.data : "");
				free(l->data);
				free(l);
			}
			if (eof && bb_upload_pending(u) == 0)
				break;
			if (bb_upload_pending(u) > 0 && bb_upload_run(u, 20, &err) < 0)
				bb_die(BB_EXIT_USAGE, "%s", err.msg);
			show_progress(u, t0);
		}
		if (!got_signal) {
			pthread_join(th, NULL);
			bb_ndjson_free(q.r);
			pthread_cond_destroy(&q.cond);
			pthread_mutex_destroy(&q.lock);
		}
	}
	if (got_signal) {
		sig = got_signal;
		bb_progress_done();
		bb_msg_error("interrupted: aborting the uploads in progress");
		if (bb_upload_cancel(u, &err) < 0)
			bb_msg_error("%s", err.msg);
		fflush(stdout);
		signal(sig, SIG_DFL);
		raise(sig);
		_exit(128 + sig);
	}
	show_progress(u, t0);
	bb_progress_done();
	bb_upload_get_progress(u, &pr);
	el = bb_now() - t0;
	human(bytes_s, sizeof(bytes_s), (double)pr.bytes_sent);
	bb_msg_info("%" PRIu64 " file%s, %s uploaded, %" PRIu64 " skipped, %" PRIu64 " failed, "
	    "%.1f s, %.1f MB/s", pr.files_done, pr.files_done == 1 ? "" : "s", bytes_s,
	    pr.files_skipped, pr.files_failed, el,
	    el > 0 ? (double)pr.bytes_sent / el / 1e6 : 0.0);
	status = failed || pr.files_failed ? BB_EXIT_PARTIAL : BB_EXIT_OK;
	bb_upload_free(u);
	bb_aws_free(aws);
	bb_s3_uri_release(&to);
	bb_http_headers_release(&hdrs);
	bb_buf_release(&tags);
	bb_buf_release(&prefix);
	bb_buf_release(&key);
	return bb_main_finish(status);
}
