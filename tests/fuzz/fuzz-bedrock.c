/*
 * fuzz-bedrock.c - parsing of Bedrock batch control-plane responses
 * (bedrock.h).
 *
 * bedrock.h exposes two parsers: bb_bedrock_list_parse() takes a
 * ListModelInvocationJobs body, bb_bedrock_job_parse() a parsed
 * GetModelInvocationJob response (or summary) object. The Create
 * response is read inside bb_bedrock_create_job() (a static helper
 * parses the body, then takes jobArn); that is reproduced here with
 * bb_json_parse + bb_json_get. Each body also goes through the job id
 * and path helpers and the status names.
 *
 * Input: byte 0 says how many summaries the List callback takes before
 * it asks to stop (0: all); the rest is the body, given to all three.
 *
 * Invariants: a job has a jobArn; known statuses round-trip through
 * their wire names; terminal statuses are the documented five; a job id
 * is 12 characters of [a-z0-9].
 */
#include "config.h"

#include <ctype.h>

#include "bedrock.h"
#include "fuzz.h"
#include "json.h"

struct ctx {
	unsigned seen, stop_after;
};

static void
check_job(const struct bb_bedrock_job *j)
{
	struct bb_buf path = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	char id[BB_BEDROCK_JOB_ID_LEN + 1];
	const char *name;
	size_t i;

	FUZZ_CHECK(j->job_arn != NULL);
	FUZZ_CHECK(j->status == bb_bedrock_status_parse(j->status_text));
	name = bb_bedrock_status_name(j->status);
	if (j->status != BB_JOB_UNKNOWN)
		FUZZ_CHECK(name != NULL && strcmp(name, j->status_text) == 0);
	else
		FUZZ_CHECK(name == NULL);
	FUZZ_CHECK(bb_bedrock_status_terminal(j->status) ==
	    (j->status == BB_JOB_COMPLETED || j->status == BB_JOB_PARTIALLY_COMPLETED ||
	    j->status == BB_JOB_FAILED || j->status == BB_JOB_STOPPED ||
	    j->status == BB_JOB_EXPIRED));
	FUZZ_CHECK(j->total_records >= -1 && j->timeout_hours >= -1);
	if (bb_bedrock_job_id(j->job_arn, id, &err) == 0) {
		FUZZ_CHECK(strlen(id) == BB_BEDROCK_JOB_ID_LEN);
		for (i = 0; i < BB_BEDROCK_JOB_ID_LEN; i++)
			FUZZ_CHECK(islower((unsigned char)id[i]) || isdigit((unsigned char)id[i]));
	} else {
		FUZZ_CHECK(err.msg[0] != '\0');
	}
	FUZZ_CHECK(bb_bedrock_job_path(j->job_arn, "/stop", &path) == 0);
	FUZZ_CHECK(path.len > 0 && memchr(path.data + 1, '?', path.len - 1) == NULL);
	bb_buf_release(&path);
}

static int
on_job(const struct bb_bedrock_job *j, void *arg)
{
	struct ctx *c = arg;

	check_job(j);
	c->seen++;
	return c->stop_after != 0 && c->seen >= c->stop_after;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data + (size > 0);
	size_t len = size - (size > 0);
	struct bb_buf token = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_bedrock_job job;
	struct bb_json *doc = NULL;
	struct ctx c = { 0, fuzz_byte(data, size, 0) & 7 };
	const char *arn;
	int rc;

	/* ListModelInvocationJobs */
	rc = bb_bedrock_list_parse(body, len, on_job, &c, &token, &err);
	FUZZ_CHECK(rc >= -1 && rc <= 1);
	if (rc == 1)
		FUZZ_CHECK(c.stop_after != 0 && c.seen == c.stop_after);
	if (rc < 0)
		FUZZ_CHECK(err.msg[0] != '\0');
	/* GetModelInvocationJob */
	bb_bedrock_job_init(&job);
	if (bb_json_parse(body, len, 0, &doc, &err) == 0) {
		if (bb_bedrock_job_parse(doc, &job, &err) == 0)
			check_job(&job);
		else
			FUZZ_CHECK(job.job_arn == NULL);
		/* CreateModelInvocationJob: {"jobArn": "..."} */
		arn = bb_json_str(bb_json_get(doc, "jobArn"));
		if (arn != NULL) {
			(void)bb_bedrock_status_parse(arn);
			(void)bb_json_path(doc, "jobArn");
		}
	}
	bb_bedrock_job_release(&job);
	bb_json_free(doc);
	bb_buf_release(&token);
	return 0;
}
