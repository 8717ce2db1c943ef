/*
 * jobs.c - the batch job engine of bb-emu: the job table and its files on
 * disk (<data-dir>/_jobs/<id>.json, written to a temporary name and
 * renamed), the lifecycle driven by the emulated clock, input validation
 * as Bedrock's Validating state does it, record processing with simulated
 * models, and the outputs (<output>/<job-id>/<input>.out, manifest.json.out).
 *
 * Every state change happens at an exact emulated time (the previous
 * change plus the state's duration), whatever the ticker's rhythm, so a
 * run is reproducible.
 *
 * A job in progress writes its current output file to
 * <data-dir>/_jobs/<id>.part and, whenever its output window is empty,
 * takes a checkpoint (input file, input offset, output bytes, counts,
 * shuffle state) that the job file keeps: a restart resumes from there,
 * so the counts never go back and the outputs are those of an
 * uninterrupted run. A clean shutdown flushes the window first.
 *
 * The Validating scan reads the whole input: the ticker does it without
 * e->lock (on a private run, reading only what never changes in a job)
 * and applies the result under the lock, unless a Stop came meanwhile.
 * InProgress records are processed the same way: the job is marked busy,
 * its run (input, window, outputs, working counts) is the ticker's until
 * the counts and the checkpoint are published again under the lock.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"
#include "jobs.h"

#define WINDOW_RECORDS 64                 /* output shuffle window */
#define WINDOW_BYTES (8u << 20)
#define TICK_RECORDS 2000                 /* records per job per tick */
#define DEFAULT_TIMEOUT_HOURS 168
#define SAVE_EVERY_S 1.0

enum job_fault { FAULT_NONE = 0, FAULT_FAIL, FAULT_EXPIRE, FAULT_PARTIAL };

/* A job's record counts. */
struct emu_counts {
	long long processed, success, errors, in_tokens, out_tokens;
};

struct emu_file {
	char *key;
	char *rel;        /* name relative to the input prefix (output name) */
	uint64_t size;
};

/* Processing state of a job in progress (in memory only). */
struct emu_run {
	enum bb_family family;
	char *in_bucket, *out_bucket, *out_prefix;
	struct emu_file *files;
	size_t nfiles, file;
	struct emu_store_reader *in;   /* current input file, NULL when none
	                                  (read where it lies, parts and all) */
	struct bb_buf rbuf;            /* read buffer ... */
	size_t rpos;                   /* ... and the start of the next line */
	int eof;
	uint64_t in_off;               /* bytes read from fd so far */
	int out_fd;
	struct bb_buf out_path;
	uint64_t out_bytes;
	struct bb_buf win[WINDOW_RECORDS];
	size_t nwin, winbytes;
	uint64_t rng;
	long long recno;               /* records seen (for generated ids) */
	struct emu_counts n;           /* the counts as processing goes (the
	                                * job's are published under the lock) */
};

/* Where a job in progress can resume: taken when its window is empty. */
struct emu_ckpt {
	int have;
	int open;                      /* file `file` was started */
	size_t file;
	uint64_t in_off, out_bytes, rng;
	long long recno;
	struct emu_counts n;
};

struct emu_job {
	char id[13];
	char arn[192];
	char *name, *model_id, *role_arn, *token, *message;
	char *input_config, *output_config, *vpc_config, *tags;
	char *input_uri, *output_uri;
	int timeout_hours, timeout_given, converse;
	enum emu_job_status status, stopped_from;
	double submit_time, last_modified, end_time, state_since, expire_time;
	long long total;
	struct emu_counts n;
	int validated;
	int fault;
	int busy;                      /* the ticker works on run without e->lock */
	struct emu_run *run;
	struct emu_ckpt ck;
	double saved_real;
	double saved_at;               /* emulated time of the last save */
};

struct emu_jobs {
	struct emu_job **v;
	size_t n, cap;
	struct bb_buf dir;
	long long last_submit_ms;      /* submit times strictly increase */
};

static const char *const status_names[] = {
	"Submitted", "Validating", "Scheduled", "InProgress", "Completed",
	"PartiallyCompleted", "Failed", "Stopping", "Stopped", "Expired",
};

const char *
emu_job_status_name(enum emu_job_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ?
	    status_names[s] : "Failed";
}

int
emu_job_status_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcmp(s, status_names[i]) == 0)
			return (int)i;
	return -1;
}

int
emu_job_status_terminal(enum emu_job_status s)
{
	return s == EMU_JOB_COMPLETED || s == EMU_JOB_PARTIALLY_COMPLETED ||
	    s == EMU_JOB_FAILED || s == EMU_JOB_STOPPED || s == EMU_JOB_EXPIRED;
}

void
emu_iso8601(double t, char *buf, size_t n)
{
	/* from whole milliseconds, so that what is shown is what is compared */
	long long ms = llround(t * 1000);
	time_t sec = (time_t)(ms / 1000 - (ms % 1000 < 0));
	struct tm tm;

	ms = ((ms % 1000) + 1000) % 1000;
	gmtime_r(&sec, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
}

static char *
xstrdup_or_null(const char *s)
{
	return s != NULL ? bb_xstrdup(s) : NULL;
}

/* ---- the job record ---- */

static void
run_free(struct emu_run *r)
{
	size_t i;

	if (r == NULL)
		return;
	emu_store_reader_free(r->in);
	/* the .part file stays: set_status removes it when the job ends,
	 * a restart resumes from it */
	if (r->out_fd >= 0)
		close(r->out_fd);
	for (i = 0; i < r->nfiles; i++) {
		free(r->files[i].key);
		free(r->files[i].rel);
	}
	for (i = 0; i < WINDOW_RECORDS; i++)
		bb_buf_release(&r->win[i]);
	free(r->files);
	free(r->in_bucket);
	free(r->out_bucket);
	free(r->out_prefix);
	bb_buf_release(&r->rbuf);
	bb_buf_release(&r->out_path);
	free(r);
}

static void
job_free(struct emu_job *j)
{
	if (j == NULL)
		return;
	run_free(j->run);
	free(j->name);
	free(j->model_id);
	free(j->role_arn);
	free(j->token);
	free(j->message);
	free(j->input_config);
	free(j->output_config);
	free(j->vpc_config);
	free(j->tags);
	free(j->input_uri);
	free(j->output_uri);
	free(j);
}

static void
add_key_str(struct bb_buf *o, const char *key, const char *val)
{
	bb_buf_addf(o, ",\"%s\":", key);
	bb_json_add_str(o, val, strlen(val));
}

static void
add_key_time(struct bb_buf *o, const char *key, double t)
{
	char ts[40];

	emu_iso8601(t, ts, sizeof(ts));
	bb_buf_addf(o, ",\"%s\":\"%s\"", key, ts);
}

int
emu_job_write_json(const struct emu_job *j, struct bb_buf *o)
{
	bb_buf_adds(o, "{\"jobArn\":");
	bb_json_add_str(o, j->arn, strlen(j->arn));
	add_key_str(o, "jobName", j->name);
	add_key_str(o, "modelId", j->model_id);
	if (j->token != NULL)
		add_key_str(o, "clientRequestToken", j->token);
	add_key_str(o, "roleArn", j->role_arn);
	add_key_str(o, "status", emu_job_status_name(j->status));
	if (j->message != NULL)
		add_key_str(o, "message", j->message);
	add_key_time(o, "submitTime", j->submit_time);
	add_key_time(o, "lastModifiedTime", j->last_modified);
	if (emu_job_status_terminal(j->status))
		add_key_time(o, "endTime", j->end_time);
	bb_buf_addf(o, ",\"inputDataConfig\":%s,\"outputDataConfig\":%s", j->input_config,
	    j->output_config);
	if (j->vpc_config != NULL)
		bb_buf_addf(o, ",\"vpcConfig\":%s", j->vpc_config);
	bb_buf_addf(o, ",\"timeoutDurationInHours\":%d", j->timeout_hours);
	add_key_time(o, "jobExpirationTime", j->expire_time);
	add_key_str(o, "modelInvocationType", j->converse ? "Converse" : "InvokeModel");
	if (j->validated)
		bb_buf_addf(o, ",\"totalRecordCount\":%lld,\"processedRecordCount\":%lld,"
		    "\"successRecordCount\":%lld,\"errorRecordCount\":%lld", j->total,
		    j->n.processed, j->n.success, j->n.errors);
	return bb_buf_addc(o, '}');
}

static int flush_window(struct emu_run *r);
static void checkpoint(const struct emu_run *r, struct emu_ckpt *ck);

/* <data-dir>/_jobs/<id>.part: the output file being written. */
static void
part_path(struct emu *e, const struct emu_job *j, struct bb_buf *path)
{
	bb_buf_reset(path);
	bb_buf_addf(path, "%s/%s.part", bb_buf_str(&e->jobs->dir), j->id);
}

/*
 * The file on disk: the API view plus what the engine needs. A job in
 * progress first flushes its output window, so that the counts saved are
 * those of the outputs saved (the checkpoint).
 */
static int
job_save(struct emu *e, struct emu_job *j)
{
	struct bb_buf o = BB_BUF_INIT, path = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	int rc = -1;

	/* while the ticker works on the run (busy), the last checkpoint
	 * stands; the ticker saves again when it is done */
	if (j->run != NULL && !j->busy && (j->status == EMU_JOB_IN_PROGRESS ||
	    (j->status == EMU_JOB_STOPPING && j->stopped_from == EMU_JOB_IN_PROGRESS))) {
		if (j->run->nwin > 0 && flush_window(j->run) < 0)
			bb_msg_warn("job %s: cannot write outputs: %s", j->id, strerror(errno));
		checkpoint(j->run, &j->ck);
	}
	j->saved_at = emu_now(e);
	emu_job_write_json(j, &o);
	bb_buf_setlen(&o, o.len - 1);
	bb_buf_addf(&o, ",\"_state\":{\"id\":\"%s\",\"status\":%d,\"stoppedFrom\":%d,"
	    "\"submit\":%.17g,\"modified\":%.17g,\"end\":%.17g,\"since\":%.17g,\"expire\":%.17g,"
	    "\"inputTokens\":%lld,\"outputTokens\":%lld,\"validated\":%d,\"fault\":%d,"
	    "\"timeoutGiven\":%d,\"converse\":%d", j->id, (int)j->status, (int)j->stopped_from,
	    j->submit_time, j->last_modified, j->end_time, j->state_since, j->expire_time,
	    j->n.in_tokens, j->n.out_tokens, j->validated, j->fault, j->timeout_given, j->converse);
	add_key_str(&o, "inputUri", j->input_uri);
	add_key_str(&o, "outputUri", j->output_uri);
	if (j->tags != NULL)
		bb_buf_addf(&o, ",\"tags\":%s", j->tags);
	bb_buf_addf(&o, ",\"saved\":%.17g", j->saved_at);
	if (j->ck.have)
		bb_buf_addf(&o, ",\"run\":{\"open\":%d,\"file\":%zu,\"inOff\":%llu,"
		    "\"outBytes\":%llu,\"rng\":\"%016llx\",\"recno\":%lld,\"processed\":%lld,"
		    "\"success\":%lld,\"errors\":%lld,\"inputTokens\":%lld,"
		    "\"outputTokens\":%lld}", j->ck.open, j->ck.file,
		    (unsigned long long)j->ck.in_off, (unsigned long long)j->ck.out_bytes,
		    (unsigned long long)j->ck.rng, j->ck.recno, j->ck.n.processed, j->ck.n.success,
		    j->ck.n.errors, j->ck.n.in_tokens, j->ck.n.out_tokens);
	bb_buf_adds(&o, "}}\n");
	bb_buf_addf(&path, "%s/%s.json", bb_buf_str(&e->jobs->dir), j->id);
	if (emu_write_file(path.data, o.data, o.len, &err) < 0) {
		bb_msg_warn("cannot save job '%s': %s", j->id, err.msg);
		goto out;
	}
	j->saved_real = bb_now();
	rc = 0;
out:
	bb_buf_release(&o);
	bb_buf_release(&path);
	return rc;
}

static double
num_at(const struct bb_json *j, const char *path)
{
	const struct bb_json *v = bb_json_path(j, path);

	return v != NULL && v->type == BB_JSON_NUMBER ? v->num : 0;
}

static char *
str_at(const struct bb_json *j, const char *path)
{
	const char *s = bb_json_str(bb_json_path(j, path));

	return s != NULL ? bb_xstrdup(s) : NULL;
}

static char *
json_at(const struct bb_json *j, const char *path)
{
	const struct bb_json *v = bb_json_path(j, path);
	struct bb_buf b = BB_BUF_INIT;

	if (v == NULL)
		return NULL;
	bb_json_write(v, &b);
	return bb_buf_detach(&b, NULL);
}

static struct emu_job *
job_load(const char *text, size_t len, struct bb_error *err)
{
	struct bb_json *doc = NULL;
	struct emu_job *j = NULL;
	const char *id;

	if (bb_json_parse(text, len, 0, &doc, err) < 0)
		return NULL;
	id = bb_json_str(bb_json_path(doc, "_state.id"));
	if (id == NULL || strlen(id) != 12 || bb_json_str(bb_json_get(doc, "jobArn")) == NULL ||
	    bb_json_path(doc, "inputDataConfig") == NULL) {
		bb_error_set(err, BB_ERR_INPUT, "not a job file");
		goto out;
	}
	j = bb_xcalloc(1, sizeof(*j));
	memcpy(j->id, id, 13);
	snprintf(j->arn, sizeof(j->arn), "%s", bb_json_str(bb_json_get(doc, "jobArn")));
	j->name = str_at(doc, "jobName");
	j->model_id = str_at(doc, "modelId");
	j->role_arn = str_at(doc, "roleArn");
	j->token = str_at(doc, "clientRequestToken");
	j->message = str_at(doc, "message");
	j->input_config = json_at(doc, "inputDataConfig");
	j->output_config = json_at(doc, "outputDataConfig");
	j->vpc_config = json_at(doc, "vpcConfig");
	j->tags = json_at(doc, "_state.tags");
	j->input_uri = str_at(doc, "_state.inputUri");
	j->output_uri = str_at(doc, "_state.outputUri");
	j->timeout_hours = (int)num_at(doc, "timeoutDurationInHours");
	j->status = (enum emu_job_status)num_at(doc, "_state.status");
	j->stopped_from = (enum emu_job_status)num_at(doc, "_state.stoppedFrom");
	j->submit_time = num_at(doc, "_state.submit");
	j->last_modified = num_at(doc, "_state.modified");
	j->end_time = num_at(doc, "_state.end");
	j->state_since = num_at(doc, "_state.since");
	j->expire_time = num_at(doc, "_state.expire");
	j->n.in_tokens = (long long)num_at(doc, "_state.inputTokens");
	j->n.out_tokens = (long long)num_at(doc, "_state.outputTokens");
	j->validated = (int)num_at(doc, "_state.validated");
	j->fault = (int)num_at(doc, "_state.fault");
	j->timeout_given = (int)num_at(doc, "_state.timeoutGiven");
	j->converse = (int)num_at(doc, "_state.converse");
	j->total = (long long)num_at(doc, "totalRecordCount");
	j->n.processed = (long long)num_at(doc, "processedRecordCount");
	j->n.success = (long long)num_at(doc, "successRecordCount");
	j->n.errors = (long long)num_at(doc, "errorRecordCount");
	j->saved_at = num_at(doc, "_state.saved");
	if (bb_json_path(doc, "_state.run") != NULL) {
		const char *rng = bb_json_str(bb_json_path(doc, "_state.run.rng"));

		j->ck.have = 1;
		j->ck.open = (int)num_at(doc, "_state.run.open");
		j->ck.file = (size_t)num_at(doc, "_state.run.file");
		j->ck.in_off = (uint64_t)num_at(doc, "_state.run.inOff");
		j->ck.out_bytes = (uint64_t)num_at(doc, "_state.run.outBytes");
		j->ck.rng = rng != NULL ? (uint64_t)strtoull(rng, NULL, 16) : 0;
		j->ck.recno = (long long)num_at(doc, "_state.run.recno");
		j->ck.n.processed = (long long)num_at(doc, "_state.run.processed");
		j->ck.n.success = (long long)num_at(doc, "_state.run.success");
		j->ck.n.errors = (long long)num_at(doc, "_state.run.errors");
		j->ck.n.in_tokens = (long long)num_at(doc, "_state.run.inputTokens");
		j->ck.n.out_tokens = (long long)num_at(doc, "_state.run.outputTokens");
	}
	if (j->name == NULL || j->model_id == NULL || j->role_arn == NULL ||
	    j->input_config == NULL || j->output_config == NULL || j->input_uri == NULL ||
	    j->output_uri == NULL || (unsigned)j->status > EMU_JOB_EXPIRED) {
		bb_error_set(err, BB_ERR_INPUT, "incomplete job file");
		job_free(j);
		j = NULL;
	}
out:
	bb_json_free(doc);
	return j;
}

static void
jobs_push(struct emu_jobs *js, struct emu_job *j)
{
	if (js->n == js->cap) {
		js->cap = js->cap ? js->cap * 2 : 64;
		js->v = bb_xrealloc(js->v, js->cap * sizeof(*js->v));
	}
	js->v[js->n++] = j;
}

static int
cmp_submit(const void *a, const void *b)
{
	const struct emu_job *x = *(struct emu_job *const *)a, *y = *(struct emu_job *const *)b;

	if (x->submit_time != y->submit_time)
		return x->submit_time < y->submit_time ? -1 : 1;
	return strcmp(x->id, y->id);
}

int
emu_jobs_open(struct emu *e, struct bb_error *err)
{
	struct emu_jobs *js = bb_xcalloc(1, sizeof(*js));
	struct bb_buf path = BB_BUF_INIT, text = BB_BUF_INIT;
	double latest = 0;
	DIR *d = NULL;
	struct dirent *de;
	int rc = -1;
	size_t i;

	e->jobs = js;
	bb_buf_addf(&js->dir, "%s/_jobs", e->data_dir);
	if (mkdir(js->dir.data, 0755) < 0 && errno != EEXIST) {
		bb_error_errno(err, "cannot create '%s'", js->dir.data);
		goto out;
	}
	if ((d = opendir(js->dir.data)) == NULL) {
		bb_error_errno(err, "cannot open '%s'", js->dir.data);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		struct bb_error lerr = BB_ERROR_INIT;
		struct emu_job *j;
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		bb_buf_reset(&path);
		bb_buf_addf(&path, "%s/%s", js->dir.data, de->d_name);
		if (emu_read_file(path.data, &text, SIZE_MAX) < 0)
			continue;
		if ((j = job_load(text.data, text.len, &lerr)) == NULL) {
			bb_msg_warn("ignoring job file '%s': %s", path.data, lerr.msg);
			continue;
		}
		if (j->last_modified > latest)
			latest = j->last_modified;
		if (j->state_since > latest)
			latest = j->state_since;
		if (j->saved_at > latest)
			latest = j->saved_at;
		if (llround(j->submit_time * 1000) > js->last_submit_ms)
			js->last_submit_ms = llround(j->submit_time * 1000);
		jobs_push(js, j);
	}
	if (js->n > 1)
		qsort(js->v, js->n, sizeof(*js->v), cmp_submit);
	/* The emulated clock never runs backwards across a restart, or jobs
	 * made under a faster --time-scale would stall. */
	if (latest > emu_now(e))
		e->start_epoch += latest - emu_now(e);
	for (i = 0; i < js->n; i++)
		if (e->verbose)
			bb_msg_info("job %s %s (%s)", js->v[i]->id,
			    emu_job_status_name(js->v[i]->status), js->v[i]->name);
	rc = 0;
out:
	if (d != NULL)
		closedir(d);
	bb_buf_release(&path);
	bb_buf_release(&text);
	return rc;
}

void
emu_jobs_close(struct emu *e)
{
	struct emu_jobs *js = e->jobs;
	size_t i;

	if (js == NULL)
		return;
	for (i = 0; i < js->n; i++) {
		/* a job in progress saves its window and checkpoint: the next
		 * start resumes it from there */
		if (js->v[i]->run != NULL)
			job_save(e, js->v[i]);
		job_free(js->v[i]);
	}
	free(js->v);
	bb_buf_release(&js->dir);
	free(js);
	e->jobs = NULL;
}

struct emu_job *
emu_jobs_find(struct emu *e, const char *id)
{
	size_t i;

	for (i = 0; e->jobs != NULL && i < e->jobs->n; i++)
		if (strcmp(e->jobs->v[i]->id, id) == 0)
			return e->jobs->v[i];
	return NULL;
}

size_t
emu_jobs_count(struct emu *e)
{
	return e->jobs != NULL ? e->jobs->n : 0;
}

struct emu_job *
emu_jobs_at(struct emu *e, size_t i)
{
	return e->jobs->v[i];
}

double
emu_job_submit_time(const struct emu_job *j)
{
	return j->submit_time;
}

enum emu_job_status
emu_job_status(const struct emu_job *j)
{
	return j->status;
}

const char *
emu_job_name(const struct emu_job *j)
{
	return j->name;
}

const char *
emu_job_arn(const struct emu_job *j)
{
	return j->arn;
}

static int
active(enum emu_job_status s)
{
	return s == EMU_JOB_SUBMITTED || s == EMU_JOB_VALIDATING || s == EMU_JOB_SCHEDULED ||
	    s == EMU_JOB_IN_PROGRESS || s == EMU_JOB_STOPPING;
}

int
emu_jobs_create(struct emu *e, const struct emu_job_spec *spec, const char **arn,
    int *existed, const char **errtype, struct bb_error *err)
{
	struct emu_jobs *js = e->jobs;
	struct emu_job *j;
	uint64_t st;
	long busy = 0;
	long long ms;
	double now = emu_now(e), u;
	size_t i;
	int k;

	*existed = 0;
	if (spec->token != NULL) {
		for (i = 0; i < js->n; i++) {
			if (js->v[i]->token != NULL && strcmp(js->v[i]->token, spec->token) == 0) {
				*existed = 1;
				*arn = js->v[i]->arn;
				return 0;
			}
		}
	}
	for (i = 0; i < js->n; i++) {
		if (strcmp(js->v[i]->name, spec->name) == 0) {
			*errtype = "ValidationException";
			return bb_error_set(err, BB_ERR_INPUT,
			    "The provided job name is currently in use.");
		}
		if (active(js->v[i]->status) && strcmp(js->v[i]->model_id, spec->model_id) == 0)
			busy++;
	}
	if (busy >= e->quotas.max_concurrent) {
		*errtype = "ServiceQuotaExceededException";
		return bb_error_set(err, BB_ERR_INPUT,
		    "You have reached the quota of %ld for the sum of in-progress and submitted "
		    "batch inference jobs for model %s. Wait for a job to end or request a quota "
		    "increase.", e->quotas.max_concurrent, spec->model_id);
	}
	j = bb_xcalloc(1, sizeof(*j));
	/* The id: seeded, so a test run is reproducible; unique. */
	st = emu_hash64(spec->name, strlen(spec->name), e->faults.seed ^ (uint64_t)js->n);
	do {
		for (k = 0; k < 12; k++)
			j->id[k] = "abcdefghijklmnopqrstuvwxyz0123456789"[emu_rng_next(&st) % 36];
		j->id[12] = '\0';
	} while (emu_jobs_find(e, j->id) != NULL);
	snprintf(j->arn, sizeof(j->arn), "arn:aws:bedrock:%s:%s:model-invocation-job/%s",
	    e->region, e->account, j->id);
	j->name = bb_xstrdup(spec->name);
	j->model_id = bb_xstrdup(spec->model_id);
	j->role_arn = bb_xstrdup(spec->role_arn);
	j->token = xstrdup_or_null(spec->token);
	j->input_config = bb_xstrdup(spec->input_config);
	j->output_config = bb_xstrdup(spec->output_config);
	j->vpc_config = xstrdup_or_null(spec->vpc_config);
	j->tags = xstrdup_or_null(spec->tags);
	j->input_uri = bb_xstrdup(spec->input_uri);
	j->output_uri = bb_xstrdup(spec->output_uri);
	j->timeout_hours = spec->timeout_given ? spec->timeout_hours : DEFAULT_TIMEOUT_HOURS;
	j->timeout_given = spec->timeout_given;
	j->converse = spec->converse;
	j->status = EMU_JOB_SUBMITTED;
	/* whole milliseconds: the time shown is the time compared in List;
	 * strictly increasing, so that the creation order is the time order */
	ms = (long long)floor(now * 1000);
	if (ms <= js->last_submit_ms)
		ms = js->last_submit_ms + 1;
	js->last_submit_ms = ms;
	now = (double)ms / 1000;
	j->submit_time = j->last_modified = j->state_since = now;
	j->expire_time = now + j->timeout_hours * 3600.0;
	st = emu_hash64(j->id, 12, e->faults.seed);
	u = emu_rng_unit(&st);
	if (u < e->faults.job_fail_rate)
		j->fault = FAULT_FAIL;
	else if (u < e->faults.job_fail_rate + e->faults.job_expire_rate)
		j->fault = FAULT_EXPIRE;
	else if (u < e->faults.job_fail_rate + e->faults.job_expire_rate + e->faults.job_partial_rate)
		j->fault = FAULT_PARTIAL;
	jobs_push(js, j);
	job_save(e, j);
	*arn = j->arn;
	if (e->verbose)
		bb_msg_info("job %s created (%s, %s)", j->id, j->name, j->model_id);
	return 0;
}

static void
set_status(struct emu *e, struct emu_job *j, enum emu_job_status s, double at, const char *msg)
{
	if (e->verbose)
		bb_msg_info("job %s: %s -> %s%s%s", j->id, emu_job_status_name(j->status),
		    emu_job_status_name(s), msg ? ": " : "", msg ? msg : "");
	j->status = s;
	j->state_since = at;
	j->last_modified = at;
	if (emu_job_status_terminal(s)) {
		struct bb_buf part = BB_BUF_INIT;

		j->end_time = at;
		j->ck.have = 0;
		part_path(e, j, &part);
		unlink(part.data);
		bb_buf_release(&part);
	}
	if (msg != NULL) {
		free(j->message);
		j->message = bb_xstrdup(msg);
	}
	job_save(e, j);
}

int
emu_jobs_stop(struct emu *e, struct emu_job *j, struct bb_error *err)
{
	if (emu_job_status_terminal(j->status))
		return bb_error_set(err, BB_ERR_INPUT,
		    "The job %s is in status %s and cannot be stopped.", j->arn,
		    emu_job_status_name(j->status));
	if (j->status != EMU_JOB_STOPPING) {
		j->stopped_from = j->status;
		set_status(e, j, EMU_JOB_STOPPING, emu_now(e), NULL);
	}
	return 0;
}

/* ---- S3 locations ---- */

/* "s3://bucket/key" into bucket and key (key may be ""). */
static void
split_uri(const char *uri, char **bucket, char **key)
{
	const char *p = uri + strlen("s3://"), *slash = strchr(p, '/');
	size_t n = slash ? (size_t)(slash - p) : strlen(p);

	*bucket = bb_xmalloc(n + 1);
	memcpy(*bucket, p, n);
	(*bucket)[n] = '\0';
	*key = bb_xstrdup(slash ? slash + 1 : "");
}

struct list_ctx {
	struct emu_run *run;
	const char *prefix;
	size_t cap;
};

static int
list_cb(const char *key, const struct emu_object_info *info, void *ctx)
{
	struct list_ctx *c = ctx;
	struct emu_run *r = c->run;
	size_t n = strlen(key);

	if (n < 6 || strcmp(key + n - 6, ".jsonl") != 0)
		return 0;
	if (r->nfiles == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		r->files = bb_xrealloc(r->files, c->cap * sizeof(*r->files));
	}
	r->files[r->nfiles].key = bb_xstrdup(key);
	r->files[r->nfiles].rel = bb_xstrdup(key + strlen(c->prefix));
	r->files[r->nfiles].size = info->size;
	r->nfiles++;
	return 0;
}

/*
 * Set up a run: family, buckets, the list of input files. 0 with *out set,
 * or -1 with a message for the job (the job fails). Reads only what never
 * changes in a job, and the store (which has its own lock): may be called
 * without e->lock.
 */
static int
run_setup(struct emu *e, const struct emu_job *j, struct emu_run **out, struct bb_error *err)
{
	struct emu_run *r = bb_xcalloc(1, sizeof(*r));
	struct emu_object_info info;
	struct bb_error serr = BB_ERROR_INIT;
	struct list_ctx lc;
	char *key = NULL, *prefix = NULL;
	int rc = -1;

	memset(&info, 0, sizeof(info));
	r->in = NULL;
	r->out_fd = -1;
	r->family = bb_family_of_model(j->model_id, j->converse);
	split_uri(j->output_uri, &r->out_bucket, &r->out_prefix);
	if (r->out_prefix[0] != '\0' && r->out_prefix[strlen(r->out_prefix) - 1] == '/')
		r->out_prefix[strlen(r->out_prefix) - 1] = '\0';
	split_uri(j->input_uri, &r->in_bucket, &key);
	if (!emu_store_bucket_exists(e->store, r->in_bucket)) {
		bb_error_set(err, BB_ERR_INPUT, "Unable to access the input location %s: "
		    "the S3 bucket %s does not exist or the role %s cannot read it.",
		    j->input_uri, r->in_bucket, j->role_arn);
		goto out;
	}
	if (!emu_store_bucket_exists(e->store, r->out_bucket)) {
		bb_error_set(err, BB_ERR_INPUT, "Unable to access the output location %s: "
		    "the S3 bucket %s does not exist or the role %s cannot write to it.",
		    j->output_uri, r->out_bucket, j->role_arn);
		goto out;
	}
	if (key[0] != '\0' && key[strlen(key) - 1] != '/' &&
	    emu_store_stat(e->store, r->in_bucket, key, &info, &serr) == 0) {
		/* a single object */
		const char *base = strrchr(key, '/');

		if (strlen(key) < 6 || strcmp(key + strlen(key) - 6, ".jsonl") != 0) {
			bb_error_set(err, BB_ERR_INPUT, "The input file %s is not a .jsonl file. "
			    "Input files must have the .jsonl extension.", j->input_uri);
			goto out;
		}
		r->files = bb_xcalloc(1, sizeof(*r->files));
		r->files[0].key = bb_xstrdup(key);
		r->files[0].rel = bb_xstrdup(base ? base + 1 : key);
		r->files[0].size = info.size;
		r->nfiles = 1;
	} else {
		size_t n = strlen(key);

		prefix = bb_xmalloc(n + 2);
		memcpy(prefix, key, n + 1);
		if (n > 0 && key[n - 1] != '/')
			strcat(prefix, "/");
		lc.run = r;
		lc.prefix = prefix;
		lc.cap = 0;
		if (emu_store_list(e->store, r->in_bucket, prefix, NULL, list_cb, &lc, &serr) < 0) {
			bb_error_set(err, BB_ERR_INPUT, "Unable to list the input location %s: %s",
			    j->input_uri, serr.msg);
			goto out;
		}
		if (r->nfiles == 0) {
			bb_error_set(err, BB_ERR_INPUT, "No .jsonl files were found at the input "
			    "location %s.", j->input_uri);
			goto out;
		}
	}
	*out = r;
	r = NULL;
	rc = 0;
out:
	emu_object_info_release(&info);
	run_free(r);
	free(key);
	free(prefix);
	return rc;
}

/* Next line of the current file into line and len (without the newline):
 * 1, 0 at the end, -1 when a line is longer than the limit or on error. */
static int
read_line(struct emu_run *r, uint64_t max, const char **line, size_t *len)
{
	for (;;) {
		char *s = r->rbuf.data ? r->rbuf.data + r->rpos : NULL;
		size_t avail = r->rbuf.len - r->rpos;
		char *nl = s ? memchr(s, '\n', avail) : NULL;
		ssize_t got;

		if (nl != NULL) {
			*line = s;
			*len = (size_t)(nl - s);
			r->rpos += *len + 1;
			return *len > max ? -1 : 1;
		}
		if (r->eof) {
			if (avail == 0)
				return 0;
			*line = s;
			*len = avail;
			r->rpos += avail;
			return *len > max ? -1 : 1;
		}
		if (avail > max + 1)
			return -1;
		if (r->rpos > 0) {
			memmove(r->rbuf.data, r->rbuf.data + r->rpos, avail);
			bb_buf_setlen(&r->rbuf, avail);
			r->rpos = 0;
		}
		if (bb_buf_grow(&r->rbuf, 65536) < 0)
			return -1;
		got = emu_store_reader_pread(r->in, r->rbuf.data + r->rbuf.len, 65536, r->in_off);
		if (got < 0)
			return -1;
		if (got == 0)
			r->eof = 1;
		else {
			r->in_off += (uint64_t)got;
			/* bb_buf_setlen only shortens: extend by hand (room was made) */
			r->rbuf.len += (size_t)got;
			r->rbuf.data[r->rbuf.len] = '\0';
		}
	}
}

static int
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

static int
open_input(struct emu *e, struct emu_run *r, struct bb_error *err)
{
	struct emu_object_info info;
	int rc;

	memset(&info, 0, sizeof(info));
	bb_buf_reset(&r->rbuf);
	r->rpos = 0;
	r->eof = 0;
	r->in_off = 0;
	emu_store_reader_free(r->in);
	r->in = NULL;
	rc = emu_store_reader_open(e->store, r->in_bucket, r->files[r->file].key, &r->in, &info,
	    err);
	emu_object_info_release(&info);
	return rc;
}

static void
close_input(struct emu_run *r)
{
	emu_store_reader_free(r->in);
	r->in = NULL;
}

/*
 * The Validating state's checks (spec 3.5) on run r: the files are .jsonl,
 * each line a JSON object with a modelInput object, record counts and
 * sizes within the quotas q. 0 with *count set, or -1 with the message the
 * job fails with. Called without e->lock (see run_setup).
 */
static int
validate(struct emu *e, const struct emu_quotas *q, const struct emu_job *j,
    struct emu_run *r, long long *count, struct bb_error *err)
{
	static const char *const keys[] = { "recordId", "modelInput" };
	uint64_t job_bytes = 0;
	long long total = 0;
	size_t i;
	int rc = -1;

	for (i = 0; i < r->nfiles; i++) {
		struct bb_error lerr = BB_ERROR_INIT;
		struct bb_json_span sp[2];
		const char *line;
		size_t len;
		long long lineno = 0, recs = 0;
		int got;

		if (r->files[i].size > q->max_file_bytes) {
			bb_error_set(err, BB_ERR_INPUT, "The input file s3://%s/%s is %llu bytes, "
			    "which exceeds the maximum input file size of %llu bytes.", r->in_bucket,
			    r->files[i].key, (unsigned long long)r->files[i].size,
			    (unsigned long long)q->max_file_bytes);
			goto out;
		}
		job_bytes += r->files[i].size;
		if (job_bytes > q->max_job_bytes) {
			bb_error_set(err, BB_ERR_INPUT, "The total size of the input files exceeds "
			    "the maximum batch inference job size of %llu bytes.",
			    (unsigned long long)q->max_job_bytes);
			goto out;
		}
		r->file = i;
		if (open_input(e, r, &lerr) < 0) {
			bb_error_set(err, BB_ERR_INPUT, "Unable to read the input file s3://%s/%s.",
			    r->in_bucket, r->files[i].key);
			goto out;
		}
		while ((got = read_line(r, q->max_record_bytes, &line, &len)) != 0) {
			lineno++;
			if (got < 0) {
				bb_error_set(err, BB_ERR_INPUT, "Line %lld of the input file s3://%s/%s "
				    "exceeds the maximum record size of %llu bytes.", lineno,
				    r->in_bucket, r->files[i].key,
				    (unsigned long long)q->max_record_bytes);
				goto out;
			}
			if (blank(line, len))
				continue;
			if (bb_json_fields(line, len, keys, 2, sp, &lerr) < 0) {
				bb_error_set(err, BB_ERR_INPUT, "Line %lld of the input file s3://%s/%s "
				    "is not a valid JSON object: %s", lineno, r->in_bucket,
				    r->files[i].key, lerr.msg);
				goto out;
			}
			if (sp[1].p == NULL || sp[1].type != BB_JSON_OBJECT) {
				bb_error_set(err, BB_ERR_INPUT, "Line %lld of the input file s3://%s/%s "
				    "%s. Each record must have a modelInput object.", lineno,
				    r->in_bucket, r->files[i].key, sp[1].p == NULL ?
				    "has no modelInput field" : "has a modelInput that is not a JSON object");
				goto out;
			}
			if (sp[0].p != NULL && sp[0].type != BB_JSON_STRING) {
				bb_error_set(err, BB_ERR_INPUT, "Line %lld of the input file s3://%s/%s "
				    "has a recordId that is not a string.", lineno, r->in_bucket,
				    r->files[i].key);
				goto out;
			}
			recs++;
		}
		close_input(r);
		if (recs > q->max_records_file) {
			bb_error_set(err, BB_ERR_INPUT, "The input file s3://%s/%s contains %lld "
			    "records, which exceeds the quota of %ld records per input file.",
			    r->in_bucket, r->files[i].key, recs, q->max_records_file);
			goto out;
		}
		total += recs;
	}
	if (total > q->max_records_job) {
		bb_error_set(err, BB_ERR_INPUT, "The batch inference job contains %lld records, "
		    "which exceeds the quota of %ld records per job.", total, q->max_records_job);
		goto out;
	}
	if (total < q->min_records) {
		bb_error_set(err, BB_ERR_INPUT, "Batch job %s contains less records (%lld) than "
		    "the required minimum of: %ld", j->arn, total, q->min_records);
		goto out;
	}
	*count = total;
	rc = 0;
out:
	close_input(r);
	r->file = 0;
	return rc;
}

/* ---- processing ---- */

/* Write the window in a seeded random order (outputs promise no order). */
static int
flush_window(struct emu_run *r)
{
	size_t i;
	int rc = 0;

	for (i = r->nwin; i > 1; i--) {
		size_t k = (size_t)(emu_rng_next(&r->rng) % i);
		struct bb_buf t = r->win[i - 1];

		r->win[i - 1] = r->win[k];
		r->win[k] = t;
	}
	for (i = 0; i < r->nwin; i++) {
		if (rc == 0 && emu_write_all(r->out_fd, r->win[i].data, r->win[i].len) < 0)
			rc = -1;
		r->out_bytes += r->win[i].len;
		bb_buf_reset(&r->win[i]);
	}
	r->nwin = 0;
	r->winbytes = 0;
	return rc;
}

static void
out_key(struct bb_buf *k, const struct emu_run *r, const struct emu_job *j, const char *name)
{
	bb_buf_reset(k);
	if (r->out_prefix[0] != '\0')
		bb_buf_addf(k, "%s/", r->out_prefix);
	bb_buf_addf(k, "%s/%s", j->id, name);
}

/* Finish the current output file: flush, close, put it in place (by way
 * of a store temporary name, which is what emu_store_commit takes). */
static int
commit_output(struct emu *e, struct emu_job *j, struct bb_error *err)
{
	struct emu_run *r = j->run;
	struct emu_object_info info;
	struct bb_buf key = BB_BUF_INIT, name = BB_BUF_INIT, tmp = BB_BUF_INIT;
	int rc = -1, fd = -1;

	memset(&info, 0, sizeof(info));
	if (r->out_fd < 0)
		return 0;
	if (flush_window(r) < 0) {
		bb_error_errno(err, "cannot write '%s'", bb_buf_str(&r->out_path));
		goto out;
	}
	if (close(r->out_fd) < 0) {
		r->out_fd = -1;
		bb_error_errno(err, "cannot write '%s'", bb_buf_str(&r->out_path));
		goto out;
	}
	r->out_fd = -1;
	if (emu_store_tmpfile(e->store, &tmp, &fd, err) < 0)
		goto out;
	close(fd);
	if (rename(r->out_path.data, tmp.data) < 0) {
		bb_error_errno(err, "cannot rename '%s'", r->out_path.data);
		goto out;
	}
	bb_buf_addf(&name, "%s.out", r->files[r->file].rel);
	out_key(&key, r, j, name.data);
	info.size = r->out_bytes;
	info.mtime = emu_wall_now();
	snprintf(info.content_type, sizeof(info.content_type), "application/octet-stream");
	if (emu_store_commit(e->store, r->out_bucket, key.data, tmp.data, &info, err) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		unlink(bb_buf_str(&r->out_path));
		if (tmp.data != NULL)
			unlink(tmp.data);
	}
	bb_buf_release(&key);
	bb_buf_release(&name);
	bb_buf_release(&tmp);
	return rc;
}

/* Record in ck where the run can resume; the window must be empty. */
static void
checkpoint(const struct emu_run *r, struct emu_ckpt *ck)
{
	ck->have = 1;
	ck->open = r->in != NULL && r->out_fd >= 0;
	ck->file = r->file;
	ck->in_off = ck->open ? r->in_off - (r->rbuf.len - r->rpos) : 0;
	ck->out_bytes = ck->open ? r->out_bytes : 0;
	ck->rng = r->rng;
	ck->recno = r->recno;
	ck->n = r->n;
}

/*
 * Open input file r->file and the .part output: from the start, or (ck)
 * at a checkpoint: the input at its offset, the output cut to its length.
 * seed: --seed (read under e->lock by the caller).
 */
static int
start_file(struct emu *e, struct emu_job *j, uint64_t seed, const struct emu_ckpt *ck,
    struct bb_error *err)
{
	struct emu_run *r = j->run;
	struct stat st;

	r->rng = ck ? ck->rng : emu_hash64(j->id, 12, seed + r->file);
	r->out_bytes = ck ? ck->out_bytes : 0;
	part_path(e, j, &r->out_path);
	if (open_input(e, r, err) < 0)
		return -1;
	if (ck != NULL)
		r->in_off = ck->in_off;
	r->out_fd = open(r->out_path.data, O_WRONLY | O_CREAT | O_CLOEXEC | (ck ? 0 : O_TRUNC),
	    0644);
	if (r->out_fd < 0)
		return bb_error_errno(err, "cannot open '%s'", r->out_path.data);
	if (ck != NULL && (fstat(r->out_fd, &st) < 0 || (uint64_t)st.st_size < ck->out_bytes ||
	    ftruncate(r->out_fd, (off_t)ck->out_bytes) < 0 ||
	    lseek(r->out_fd, (off_t)ck->out_bytes, SEEK_SET) < 0))
		return bb_error_set(err, BB_ERR_INPUT, "'%s' does not match the job's checkpoint",
		    r->out_path.data);
	return 0;
}

/*
 * After a restart: set up the run again and continue from the checkpoint,
 * or from the start when there is none (a job file of an older bb-emu) or
 * it does not fit the input any more. -1 when the input is gone.
 */
static int
resume_run(struct emu *e, struct emu_job *j, struct bb_error *err)
{
	struct emu_run *r = NULL;
	struct emu_ckpt ck = j->ck;

	if (run_setup(e, j, &r, err) < 0)
		return -1;
	j->run = r;
	if (ck.have && ck.file <= r->nfiles && ck.n.processed <= j->total &&
	    (!ck.open || ck.file < r->nfiles)) {
		r->file = ck.file;
		r->recno = ck.recno;
		r->n = j->n = ck.n;
		if (!ck.open || start_file(e, j, e->faults.seed, &ck, err) == 0)
			return 0;
		bb_msg_warn("job %s: cannot resume (%s): starting over", j->id, err->msg);
		close_input(r);
		if (r->out_fd >= 0)
			close(r->out_fd);
		r->out_fd = -1;
	}
	r->file = 0;
	r->recno = 0;
	memset(&r->n, 0, sizeof(r->n));
	j->n = r->n;
	return 0;
}

static int
write_manifest(struct emu *e, struct emu_job *j, struct bb_error *err)
{
	struct emu_run *r = j->run;
	struct bb_buf m = BB_BUF_INIT, key = BB_BUF_INIT;
	int rc;

	bb_buf_addf(&m, "{\"totalRecordCount\":%lld,\"processedRecordCount\":%lld,"
	    "\"successRecordCount\":%lld,\"errorRecordCount\":%lld,\"inputTokenCount\":%lld,"
	    "\"outputTokenCount\":%lld}", j->total, j->n.processed, j->n.success, j->n.errors,
	    j->n.in_tokens, j->n.out_tokens);
	out_key(&key, r, j, "manifest.json.out");
	rc = emu_store_put_mem(e->store, r->out_bucket, key.data, m.data, m.len,
	    "application/octet-stream", err);
	bb_buf_release(&m);
	bb_buf_release(&key);
	return rc;
}

/*
 * A piece of an InProgress job's processing, done by the ticker without
 * e->lock: what it may do (taken under the lock), then what came of it.
 * Only the ticker touches a busy job's run; the API reads the job's
 * published counts and last checkpoint meanwhile.
 */
struct work {
	struct emu_job *job;
	double now;                    /* the tick's emulated time */
	long long budget, limit;       /* records this tick; stop at limit processed */
	uint64_t seed;
	double record_error_rate;
	uint64_t max_record_bytes;
	double saved_real;
	/* outcome */
	int failed;                    /* a file could not be opened: err */
	int save;                      /* a save is due (the window is empty) */
	struct emu_ckpt ck;            /* when ck.have: a file ended here */
	struct bb_error err;
};

/* One record into the window: modelOutput or error line. */
static void
process_record(const struct work *w, struct emu_job *j, const char *line, size_t len)
{
	static const char *const keys[] = { "recordId", "modelInput" };
	struct emu_run *r = j->run;
	struct bb_buf *o = &r->win[r->nwin];
	struct bb_json_span sp[2];
	struct bb_error err = BB_ERROR_INIT;
	struct bb_json *in = NULL;
	long long itok = 0, otok = 0;
	uint64_t st;
	char rid[16];

	r->recno++;
	if (bb_json_fields(line, len, keys, 2, sp, &err) < 0 || sp[1].p == NULL) {
		/* cannot happen after validation unless the input changed */
		memset(sp, 0, sizeof(sp));
	}
	bb_buf_adds(o, "{\"recordId\":");
	if (sp[0].p != NULL) {
		bb_buf_add(o, sp[0].p, sp[0].n);
	} else {
		/* Bedrock adds an id when the record has none */
		snprintf(rid, sizeof(rid), "R%010lld", r->recno);
		bb_buf_addf(o, "\"%s\"", rid);
	}
	bb_buf_adds(o, ",\"modelInput\":");
	if (sp[1].p != NULL)
		bb_buf_add(o, sp[1].p, sp[1].n);
	else
		bb_buf_adds(o, "null");
	st = emu_hash64(j->id, 12, w->seed ^ (uint64_t)r->recno);
	if (sp[1].p == NULL || bb_json_parse(sp[1].p, sp[1].n, 0, &in, &err) < 0) {
		bb_buf_adds(o, ",\"error\":{\"errorCode\":400,\"errorMessage\":\"Malformed input "
		    "request, please reformat your input and try again.\"}}\n");
		r->n.errors++;
	} else if (bb_family_check_input(r->family, in, &err) < 0) {
		struct bb_buf msg = BB_BUF_INIT;

		bb_buf_addf(&msg, "Malformed input request: %s, please reformat your input and "
		    "try again.", err.msg);
		bb_buf_adds(o, ",\"error\":{\"errorCode\":400,\"errorMessage\":");
		bb_json_add_str(o, msg.data, msg.len);
		bb_buf_adds(o, "}}\n");
		bb_buf_release(&msg);
		r->n.errors++;
	} else if (w->record_error_rate > 0 && emu_rng_unit(&st) < w->record_error_rate) {
		bb_buf_adds(o, ",\"error\":{\"errorCode\":500,\"errorMessage\":\"The system "
		    "encountered an unexpected error during processing. Try your request "
		    "again.\"}}\n");
		r->n.errors++;
	} else {
		bb_buf_adds(o, ",\"modelOutput\":");
		emu_model_output(r->family, j->model_id, in, w->seed, o, &itok, &otok);
		bb_buf_adds(o, "}\n");
		r->n.success++;
		r->n.in_tokens += itok;
		r->n.out_tokens += otok;
	}
	bb_json_free(in);
	r->n.processed++;
	r->winbytes += o->len;
	r->nwin++;
}

/* End the job's processing (all done, partial, stopped): commit the
 * current output file and write the manifest. */
static void
finish_outputs(struct emu *e, struct emu_job *j)
{
	struct bb_error err = BB_ERROR_INIT;

	if (j->run == NULL)
		return;
	close_input(j->run);
	if (commit_output(e, j, &err) < 0 || write_manifest(e, j, &err) < 0)
		bb_msg_warn("job %s: cannot write outputs: %s", j->id, err.msg);
	run_free(j->run);
	j->run = NULL;
}

/*
 * After a piece of processing (or none): the job ends when its records are
 * done, or when its time is up. 1 when it left InProgress.
 */
static int
progress_end(struct emu *e, struct emu_job *j, double now, long long limit)
{
	struct emu_run *r = j->run;
	double per = e->timing.per_record_s;

	if (j->n.processed >= limit || r->file >= r->nfiles) {
		double at = per > 0 ? j->state_since + per * (double)j->n.processed : now;

		if (at > now)
			at = now;
		finish_outputs(e, j);
		if (j->n.processed < j->total)
			set_status(e, j, EMU_JOB_PARTIALLY_COMPLETED, at, "Not all of your records "
			    "could be processed in time.");
		else
			set_status(e, j, EMU_JOB_COMPLETED, at, NULL);
		return 1;
	}
	if (now >= j->expire_time) {
		finish_outputs(e, j);
		set_status(e, j, EMU_JOB_PARTIALLY_COMPLETED, j->expire_time, "Not all of your "
		    "records could be processed before the job timed out.");
		return 1;
	}
	return 0;
}

/*
 * An InProgress job at `now` (under e->lock): 3 with w filled and the job
 * busy when records are due (the caller runs work() without the lock, then
 * worked()); else 1 when the job left InProgress, 0 when nothing changed.
 */
static int
progress(struct emu *e, struct emu_job *j, double now, struct work *w)
{
	struct emu_run *r;
	struct bb_error err = BB_ERROR_INIT;
	double per = e->timing.per_record_s;
	long long budget, limit = j->total;

	if (j->run == NULL && resume_run(e, j, &err) < 0) {
		run_free(j->run);
		j->run = NULL;
		set_status(e, j, EMU_JOB_FAILED, now, err.msg);
		return 1;
	}
	r = j->run;
	if (j->fault == FAULT_PARTIAL && j->total > 1)
		limit = j->total / 2;
	budget = per > 0 ? (long long)floor((now - j->state_since) / per) - j->n.processed :
	    TICK_RECORDS;
	if (budget > TICK_RECORDS)
		budget = TICK_RECORDS;
	if (budget <= 0 || j->n.processed >= limit || r->file >= r->nfiles)
		return progress_end(e, j, now, limit);
	memset(w, 0, sizeof(*w));
	w->job = j;
	w->now = now;
	w->budget = budget;
	w->limit = limit;
	w->seed = e->faults.seed;
	w->record_error_rate = e->faults.record_error_rate;
	w->max_record_bytes = e->quotas.max_record_bytes;
	w->saved_real = j->saved_real;
	j->busy = 1;
	return 3;
}

/* Process the records w allows (without e->lock: see struct work). */
static void
work(struct emu *e, struct work *w)
{
	struct emu_job *j = w->job;
	struct emu_run *r = j->run;
	struct bb_error err = BB_ERROR_INIT;
	long long n = 0;
	int got;

	while (n < w->budget && r->n.processed < w->limit && r->file < r->nfiles) {
		const char *line;
		size_t len;

		if (r->in == NULL && start_file(e, j, w->seed, NULL, &w->err) < 0) {
			w->failed = 1;
			return;
		}
		got = read_line(r, w->max_record_bytes, &line, &len);
		if (got == 0 || got < 0) {
			close_input(r);
			if (commit_output(e, j, &err) < 0)
				bb_msg_warn("job %s: %s", j->id, err.msg);
			r->file++;
			checkpoint(r, &w->ck);
			continue;
		}
		if (blank(line, len))
			continue;
		process_record(w, j, line, len);
		n++;
		if (r->nwin == WINDOW_RECORDS || r->winbytes > WINDOW_BYTES) {
			if (flush_window(r) < 0)
				bb_msg_warn("job %s: cannot write outputs: %s", j->id,
				    strerror(errno));
			/* saved only here, with an empty window, so that the
			 * output order does not depend on when saves happen;
			 * the save needs the lock: this piece ends here */
			if (bb_now() - w->saved_real > SAVE_EVERY_S) {
				w->save = 1;
				return;
			}
		}
	}
}

/*
 * Apply a piece of processing (under the lock): publish the counts and the
 * checkpoint, then save or end the job as progress() would have. A Stop
 * that came meanwhile could not flush the window: the save here does.
 */
static void
worked(struct emu *e, struct work *w)
{
	struct emu_job *j = w->job;

	j->busy = 0;
	j->n = j->run->n;
	if (w->ck.have)
		j->ck = w->ck;
	if (w->failed) {
		set_status(e, j, EMU_JOB_FAILED, w->now, "Unable to read the input "
		    "files or write the output files.");
		bb_msg_warn("job %s: %s", j->id, w->err.msg);
		run_free(j->run);
		j->run = NULL;
		return;
	}
	if (j->status != EMU_JOB_IN_PROGRESS) {
		job_save(e, j);
		return;
	}
	if (w->save)
		job_save(e, j);
	progress_end(e, j, w->now, w->limit);
}

/*
 * Make every transition that is due at `now`; 1 when something changed,
 * 2 when the job's validation is due (the caller runs it without the
 * lock, then validated()), 3 when records are due (w: see progress()).
 */
static int
step(struct emu *e, struct emu_job *j, double now, struct work *w)
{
	const struct emu_timing *t = &e->timing;
	struct bb_error err = BB_ERROR_INIT;
	double due;

	switch (j->status) {
	case EMU_JOB_SUBMITTED:
	case EMU_JOB_VALIDATING:
	case EMU_JOB_SCHEDULED:
		if (now >= j->expire_time) {
			run_free(j->run);
			j->run = NULL;
			set_status(e, j, EMU_JOB_EXPIRED, j->expire_time, "The job timed out "
			    "because it was scheduled but did not begin before the set timeout "
			    "duration.");
			return 1;
		}
		break;
	default:
		break;
	}
	switch (j->status) {
	case EMU_JOB_SUBMITTED:
		if (now < (due = j->state_since + t->submitted_s))
			return 0;
		set_status(e, j, EMU_JOB_VALIDATING, due, NULL);
		return 1;
	case EMU_JOB_VALIDATING:
		if (now < j->state_since + t->validating_s)
			return 0;
		return 2;
	case EMU_JOB_SCHEDULED:
		if (j->fault == FAULT_EXPIRE || now < (due = j->state_since + t->scheduled_s))
			return 0;
		set_status(e, j, EMU_JOB_IN_PROGRESS, due, NULL);
		return 1;
	case EMU_JOB_IN_PROGRESS:
		return progress(e, j, now, w);
	case EMU_JOB_STOPPING:
		if (now < (due = j->state_since + t->stopping_s))
			return 0;
		if (j->stopped_from == EMU_JOB_IN_PROGRESS) {
			/* stopped before a restart: the outputs of the checkpoint */
			if (j->run == NULL && resume_run(e, j, &err) < 0)
				bb_msg_warn("job %s: cannot write outputs: %s", j->id, err.msg);
			finish_outputs(e, j);
		}
		run_free(j->run);
		j->run = NULL;
		set_status(e, j, EMU_JOB_STOPPED, due, NULL);
		return 1;
	default:
		return 0;
	}
}

/* A validation run outside the lock, and its outcome. */
struct pending {
	struct emu_job *job;
	double due;
	struct emu_run *run;
	long long total;
	int rc;
	struct bb_error err;
};

/* Apply a validation's outcome (under the lock): unless the job left
 * Validating meanwhile (a Stop), it fails or is Scheduled. */
static void
validated(struct emu *e, struct pending *p)
{
	struct emu_job *j = p->job;

	if (j->status != EMU_JOB_VALIDATING) {
		if (e->verbose)
			bb_msg_info("job %s: validation ended while %s: result dropped", j->id,
			    emu_job_status_name(j->status));
		run_free(p->run);
		return;
	}
	if (p->rc < 0) {
		run_free(p->run);
		set_status(e, j, EMU_JOB_FAILED, p->due, p->err.msg);
	} else if (j->fault == FAULT_FAIL) {
		run_free(p->run);
		set_status(e, j, EMU_JOB_FAILED, p->due, "An internal error occurred while "
		    "processing the job. Try again later.");
	} else {
		run_free(j->run);
		j->run = p->run;
		j->total = p->total;
		j->validated = 1;
		set_status(e, j, EMU_JOB_SCHEDULED, p->due, NULL);
	}
}

void
emu_jobs_tick(struct emu *e)
{
	struct pending *pend = NULL;
	struct work *works = NULL;
	struct emu_quotas q;
	size_t i, npend = 0, cap = 0, nwork = 0, capw = 0;
	int guard, rc;

	pthread_mutex_lock(&e->lock);
	for (i = 0; e->jobs != NULL && i < e->jobs->n; i++) {
		struct emu_job *j = e->jobs->v[i];

		if (nwork == capw) {
			capw = capw ? capw * 2 : 8;
			works = bb_xrealloc(works, capw * sizeof(*works));
		}
		for (guard = 0; guard < 16 && !emu_job_status_terminal(j->status); guard++) {
			if ((rc = step(e, j, emu_now(e), &works[nwork])) == 0)
				break;
			if (rc == 3) {
				nwork++;
				break;
			}
			if (rc == 2) {
				if (npend == cap) {
					cap = cap ? cap * 2 : 8;
					pend = bb_xrealloc(pend, cap * sizeof(*pend));
				}
				memset(&pend[npend], 0, sizeof(pend[npend]));
				pend[npend].job = j;
				pend[npend].due = j->state_since + e->timing.validating_s;
				npend++;
				break;
			}
		}
	}
	q = e->quotas;
	pthread_mutex_unlock(&e->lock);
	if (npend == 0 && nwork == 0)
		goto out;
	/* Jobs are never freed while the ticker runs, and what run_setup and
	 * validate read of them never changes; a busy job's run is the
	 * ticker's alone: no lock for the long parts. */
	for (i = 0; i < npend; i++) {
		struct pending *p = &pend[i];

		p->rc = run_setup(e, p->job, &p->run, &p->err);
		if (p->rc == 0)
			p->rc = validate(e, &q, p->job, p->run, &p->total, &p->err);
	}
	for (i = 0; i < nwork; i++)
		work(e, &works[i]);
	pthread_mutex_lock(&e->lock);
	for (i = 0; i < npend; i++)
		validated(e, &pend[i]);
	for (i = 0; i < nwork; i++)
		worked(e, &works[i]);
	pthread_mutex_unlock(&e->lock);
out:
	free(pend);
	free(works);
}
