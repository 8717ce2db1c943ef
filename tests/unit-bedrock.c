/*
 * unit-bedrock.c - the Bedrock batch client without a network: job ids,
 * statuses, request bodies and query strings (checked against botocore's
 * captured requests in $BB_SHARED/spec/botocore-wire-captures.json),
 * response parsing, AWS error responses, timestamps.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "bedrock.h"
#include "buf.h"
#include "error.h"
#include "http.h"
#include "json.h"
#include "tap.h"

static int
read_file(const char *path, struct bb_buf *out)
{
	FILE *f = fopen(path, "rb");
	char tmp[8192];
	size_t n;

	if (f == NULL)
		return -1;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		bb_buf_add(out, tmp, n);
	fclose(f);
	return 0;
}

/* Structural equality, object member order ignored. */
static int
json_equal(const struct bb_json *a, const struct bb_json *b)
{
	size_t i;

	if (a == NULL || b == NULL || a->type != b->type)
		return 0;
	switch (a->type) {
	case BB_JSON_STRING:
		return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
	case BB_JSON_NUMBER:
		return a->num == b->num;
	case BB_JSON_ARRAY:
		if (a->n != b->n)
			return 0;
		for (i = 0; i < a->n; i++)
			if (!json_equal(a->items[i], b->items[i]))
				return 0;
		return 1;
	case BB_JSON_OBJECT:
		if (a->n != b->n)
			return 0;
		for (i = 0; i < a->n; i++)
			if (!json_equal(a->items[i], bb_json_get(b, a->keys[i])))
				return 0;
		return 1;
	default:
		return 1;
	}
}

/* The captured request with this label. */
static const struct bb_json *
capture(const struct bb_json *caps, const char *label)
{
	const struct bb_json *reqs = bb_json_get(caps, "requests");
	size_t i;

	for (i = 0; reqs && i < reqs->n; i++)
		if (strcmp(bb_json_str(bb_json_get(reqs->items[i], "label")) ?
		    bb_json_str(bb_json_get(reqs->items[i], "label")) : "", label) == 0)
			return reqs->items[i];
	return NULL;
}

static void
test_status(void)
{
	static const struct { const char *s; enum bb_bedrock_status st; int terminal; } t[] = {
		{ "Submitted", BB_JOB_SUBMITTED, 0 },
		{ "Validating", BB_JOB_VALIDATING, 0 },
		{ "Scheduled", BB_JOB_SCHEDULED, 0 },
		{ "InProgress", BB_JOB_INPROGRESS, 0 },
		{ "Completed", BB_JOB_COMPLETED, 1 },
		{ "PartiallyCompleted", BB_JOB_PARTIALLY_COMPLETED, 1 },
		{ "Failed", BB_JOB_FAILED, 1 },
		{ "Stopping", BB_JOB_STOPPING, 0 },
		{ "Stopped", BB_JOB_STOPPED, 1 },
		{ "Expired", BB_JOB_EXPIRED, 1 },
		{ "completed", BB_JOB_UNKNOWN, 0 },
		{ "Paused", BB_JOB_UNKNOWN, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum bb_bedrock_status st = bb_bedrock_status_parse(t[i].s);
		ok(st == t[i].st && bb_bedrock_status_terminal(st) == t[i].terminal &&
		    (st == BB_JOB_UNKNOWN ? bb_bedrock_status_name(st) == NULL :
		    strcmp(bb_bedrock_status_name(st), t[i].s) == 0),
		    "status '%s'", t[i].s);
	}
}

static void
test_job_id(void)
{
	static const struct { const char *in; const char *id; } t[] = {
		{ "abcdefghij12", "abcdefghij12" },
		{ "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefghij12",
		  "abcdefghij12" },
		{ "arn:aws-cn:bedrock:cn-north-1:123456789012:model-invocation-job/0123456789ab",
		  "0123456789ab" },
		{ "arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:model-invocation-job/zzzzzzzzzzzz",
		  "zzzzzzzzzzzz" },
		{ "abcdefghij1", NULL },
		{ "abcdefghij123", NULL },
		{ "ABCDEFGHIJ12", NULL },
		{ "", NULL },
		{ "arn:aws:bedrock:us-east-1:12345678901:model-invocation-job/abcdefghij12", NULL },
		{ "arn:aws:s3:us-east-1:123456789012:model-invocation-job/abcdefghij12", NULL },
		{ "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/abcdefghij12", NULL },
		{ "arn:aws:bedrock:US-EAST-1:123456789012:model-invocation-job/abcdefghij12", NULL },
		{ "arn:aws:bedrock::123456789012:model-invocation-job/abcdefghij12", NULL },
		{ "arn:aws-:bedrock:us-east-1:123456789012:model-invocation-job/abcdefghij12", NULL },
		{ "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefghij12/", NULL },
	};
	char id[BB_BEDROCK_JOB_ID_LEN + 1];
	struct bb_error err = BB_ERROR_INIT;
	size_t i;
	int r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		r = bb_bedrock_job_id(t[i].in, id, &err);
		if (t[i].id)
			ok(r == 0 && strcmp(id, t[i].id) == 0, "job id of '%s'", t[i].in);
		else
			ok(r == -1 && err.kind == BB_ERR_INPUT, "job id of '%s' refused", t[i].in);
	}
}

static void
test_create_body(const struct bb_json *caps)
{
	static const struct bb_bedrock_tag tags[] = { { "team", "ml" } };
	struct bb_bedrock_job_spec s;
	struct bb_buf b = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_json *got = NULL, *want = NULL;
	const struct bb_json *c = capture(caps, "bedrock CreateModelInvocationJob (SigV4)");
	const char *subnets[] = { "subnet-1", "subnet-2" }, *sgs[] = { "sg-1" };
	const char *body;

	memset(&s, 0, sizeof(s));
	s.job_name = "my-job";
	s.role_arn = "arn:aws:iam::123456789012:role/BatchRole";
	s.model_id = "anthropic.claude-3-haiku-20240307-v1:0";
	s.input_s3_uri = "s3://in-bucket/input/";
	s.input_format = "JSONL";
	s.output_s3_uri = "s3://out-bucket/output/";
	s.timeout_hours = 24;
	s.tags = tags;
	s.ntags = 1;
	s.invocation_type = "InvokeModel";
	s.client_request_token = "3f1c2a9e-0000-4000-8000-000000000001";
	ok(bb_bedrock_create_body(&s, &b, &err) == 0, "create body built");
	body = c ? bb_json_str(bb_json_get(c, "body")) : NULL;
	if (body == NULL) {
		skip("botocore capture of CreateModelInvocationJob not found");
	} else {
		ok(bb_json_parse(b.data, b.len, 0, &got, &err) == 0 &&
		    bb_json_parse(body, strlen(body), 0, &want, &err) == 0 &&
		    json_equal(got, want) && json_equal(want, got),
		    "create body equals botocore's (member order aside)");
	}
	ok(b.len >= 11 && strncmp(b.data, "{\"jobName\":", 11) == 0, "members in model order");
	bb_json_free(got);
	bb_json_free(want);
	got = NULL;

	/* Every optional member. */
	bb_buf_reset(&b);
	s.input_bucket_owner = "111122223333";
	s.output_kms_key_id = "alias/my-key";
	s.output_bucket_owner = "444455556666";
	s.subnet_ids = subnets;
	s.nsubnets = 2;
	s.security_group_ids = sgs;
	s.nsecurity_groups = 1;
	s.job_name = "tab\there \"q\" \xc3\xa9";
	ok(bb_bedrock_create_body(&s, &b, &err) == 0 &&
	    bb_json_parse(b.data, b.len, 0, &got, &err) == 0, "full create body is JSON");
	is_str(bb_json_str(bb_json_path(got, "inputDataConfig.s3InputDataConfig.s3BucketOwner")),
	    "111122223333", "input s3BucketOwner");
	is_str(bb_json_str(bb_json_path(got, "outputDataConfig.s3OutputDataConfig.s3EncryptionKeyId")),
	    "alias/my-key", "output s3EncryptionKeyId");
	is_str(bb_json_str(bb_json_path(got, "vpcConfig.subnetIds.1")), "subnet-2", "vpc subnets");
	is_str(bb_json_str(bb_json_path(got, "vpcConfig.securityGroupIds.0")), "sg-1", "vpc sgs");
	is_str(bb_json_str(bb_json_get(got, "jobName")), s.job_name, "strings escaped and restored");
	ok(bb_json_get(got, "timeoutDurationInHours") &&
	    bb_json_get(got, "timeoutDurationInHours")->i == 24, "timeout is a number");
	bb_json_free(got);
	got = NULL;

	/* Optional members left out are absent, not null. */
	memset(&s, 0, sizeof(s));
	s.job_name = "j";
	s.role_arn = "r";
	s.model_id = "m";
	s.input_s3_uri = "s3://b/i";
	s.output_s3_uri = "s3://b/o";
	bb_buf_reset(&b);
	ok(bb_bedrock_create_body(&s, &b, &err) == 0, "minimal body");
	is_str(b.data, "{\"jobName\":\"j\",\"roleArn\":\"r\",\"modelId\":\"m\","
	    "\"inputDataConfig\":{\"s3InputDataConfig\":{\"s3Uri\":\"s3://b/i\"}},"
	    "\"outputDataConfig\":{\"s3OutputDataConfig\":{\"s3Uri\":\"s3://b/o\"}}}",
	    "minimal body has only the required members");

	/* Required members. */
	{
		static const char *const missing[] = {
			"jobName", "roleArn", "modelId", "inputDataConfig", "outputDataConfig",
		};
		size_t i;
		for (i = 0; i < 5; i++) {
			struct bb_bedrock_job_spec m = s;
			if (i == 0) m.job_name = NULL;
			if (i == 1) m.role_arn = NULL;
			if (i == 2) m.model_id = NULL;
			if (i == 3) m.input_s3_uri = NULL;
			if (i == 4) m.output_s3_uri = NULL;
			bb_buf_reset(&b);
			ok(bb_bedrock_create_body(&m, &b, &err) == -1 && b.len == 0 &&
			    strstr(err.msg, missing[i]) != NULL, "missing %s refused", missing[i]);
		}
		{
			struct bb_bedrock_job_spec m = s;
			m.job_name = "bad \xff utf8";
			bb_buf_reset(&b);
			ok(bb_bedrock_create_body(&m, &b, &err) == -1 && b.len == 0,
			    "invalid UTF-8 refused");
			m = s;
			m.subnet_ids = subnets;
			m.nsubnets = 1;
			ok(bb_bedrock_create_body(&m, &b, &err) == -1, "vpcConfig needs both lists");
		}
	}
	bb_buf_release(&b);
}

static void
test_paths(const struct bb_json *caps)
{
	static const struct { const char *label, *job, *suffix; } t[] = {
		{ "bedrock GetModelInvocationJob by ARN (SigV4)",
		  "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefghij12", NULL },
		{ "bedrock StopModelInvocationJob (SigV4)", "abcdefghij12", "/stop" },
	};
	struct bb_buf b = BB_BUF_INIT, want = BB_BUF_INIT;
	const struct bb_json *c;
	const char *url;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		c = capture(caps, t[i].label);
		url = c ? bb_json_str(bb_json_get(c, "url")) : NULL;
		if (url == NULL) {
			skip("capture not found");
			continue;
		}
		bb_buf_reset(&b);
		bb_buf_reset(&want);
		bb_buf_adds(&want, strstr(url, "amazonaws.com") + strlen("amazonaws.com"));
		bb_bedrock_job_path(t[i].job, t[i].suffix, &b);
		is_str(bb_buf_str(&b), bb_buf_str(&want), t[i].label);
	}
	bb_buf_release(&b);
	bb_buf_release(&want);
}

static void
test_list_query(const struct bb_json *caps)
{
	struct bb_bedrock_list_filter f;
	struct bb_buf b = BB_BUF_INIT;
	const struct bb_json *c = capture(caps, "bedrock ListModelInvocationJobs (SigV4)");
	const char *url = c ? bb_json_str(bb_json_get(c, "url")) : NULL;

	memset(&f, 0, sizeof(f));
	f.submit_time_after = "2024-01-01T00:00:00Z";
	f.status_equals = "Completed";
	f.name_contains = "my";
	f.max_results = 10;
	f.sort_by = "CreationTime";
	f.sort_order = "Descending";
	ok(bb_bedrock_list_query(&f, "abc/+=", &b) == 0, "list query built");
	if (url && strchr(url, '?'))
		is_str(bb_buf_str(&b), strchr(url, '?') + 1, "list query equals botocore's");
	else
		skip("capture of ListModelInvocationJobs not found");
	bb_buf_reset(&b);
	ok(bb_bedrock_list_query(NULL, NULL, &b) == 0 && b.len == 0, "no filter: empty query");
	bb_buf_reset(&b);
	memset(&f, 0, sizeof(f));
	f.name_contains = "a b";
	ok(bb_bedrock_list_query(&f, "", &b) == 0, "empty token");
	is_str(bb_buf_str(&b), "nameContains=a%20b", "empty token omitted, space encoded");
	bb_buf_release(&b);
}

static const char full_job[] =
    "{\"jobArn\":\"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefghij12\","
    "\"jobName\":\"my-job\",\"modelId\":\"anthropic.claude-3-haiku-20240307-v1:0\","
    "\"clientRequestToken\":\"tok1\",\"roleArn\":\"arn:aws:iam::123456789012:role/R\","
    "\"status\":\"PartiallyCompleted\",\"message\":\"2 records failed\","
    "\"submitTime\":\"2024-08-01T12:00:00.123Z\",\"lastModifiedTime\":\"2024-08-01T13:00:00Z\","
    "\"endTime\":\"2024-08-01T13:00:00+00:00\",\"jobExpirationTime\":\"2024-08-08T12:00:00Z\","
    "\"inputDataConfig\":{\"s3InputDataConfig\":{\"s3InputFormat\":\"JSONL\","
    "\"s3Uri\":\"s3://in/x.jsonl\",\"s3BucketOwner\":\"111122223333\"}},"
    "\"outputDataConfig\":{\"s3OutputDataConfig\":{\"s3Uri\":\"s3://out/o/\","
    "\"s3EncryptionKeyId\":\"alias/k\"}},"
    "\"vpcConfig\":{\"subnetIds\":[\"s\"],\"securityGroupIds\":[\"g\"]},"
    "\"timeoutDurationInHours\":72,\"modelInvocationType\":\"Converse\","
    "\"totalRecordCount\":100,\"processedRecordCount\":100,\"successRecordCount\":98,"
    "\"errorRecordCount\":2,\"someFutureMember\":{\"x\":[1,2]}}";

static void
test_job_parse(void)
{
	static const struct { const char *body; int ok; const char *what; } bad[] = {
		{ "{\"jobName\":\"x\"}", 0, "no jobArn" },
		{ "{\"jobArn\":5}", 0, "jobArn not a string" },
		{ "{\"jobArn\":\"a\",\"totalRecordCount\":-1}", 0, "negative count" },
		{ "{\"jobArn\":\"a\",\"totalRecordCount\":1.5}", 0, "fractional count" },
		{ "{\"jobArn\":\"a\",\"inputDataConfig\":[]}", 0, "union not an object" },
		{ "{\"jobArn\":\"a\",\"inputDataConfig\":{\"s3InputDataConfig\":\"x\"}}", 0,
		  "union member not an object" },
		{ "{\"jobArn\":\"a\",\"inputDataConfig\":{\"futureVariant\":{}}}", 1,
		  "unknown union variant ignored" },
		{ "{\"jobArn\":\"a\",\"message\":null,\"status\":\"Weird\"}", 1,
		  "null member absent, unknown status kept as text" },
		{ "[]", 0, "not an object" },
	};
	struct bb_bedrock_job j;
	struct bb_json *doc = NULL;
	struct bb_error err = BB_ERROR_INIT;
	double t;
	size_t i;

	bb_bedrock_job_init(&j);
	ok(bb_json_parse(full_job, strlen(full_job), 0, &doc, &err) == 0 &&
	    bb_bedrock_job_parse(doc, &j, &err) == 0, "full job parsed");
	is_str(j.job_arn, "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefghij12",
	    "jobArn");
	is_str(j.job_name, "my-job", "jobName");
	is_str(j.model_id, "anthropic.claude-3-haiku-20240307-v1:0", "modelId");
	is_str(j.client_request_token, "tok1", "clientRequestToken");
	ok(j.status == BB_JOB_PARTIALLY_COMPLETED, "status");
	is_str(j.message, "2 records failed", "message");
	is_str(j.submit_time, "2024-08-01T12:00:00.123Z", "submitTime");
	is_str(j.end_time, "2024-08-01T13:00:00+00:00", "endTime");
	is_str(j.last_modified_time, "2024-08-01T13:00:00Z", "lastModifiedTime");
	is_str(j.job_expiration_time, "2024-08-08T12:00:00Z", "jobExpirationTime");
	is_str(j.input_s3_uri, "s3://in/x.jsonl", "input s3Uri");
	is_str(j.input_format, "JSONL", "s3InputFormat");
	is_str(j.input_bucket_owner, "111122223333", "input s3BucketOwner");
	is_str(j.output_s3_uri, "s3://out/o/", "output s3Uri");
	is_str(j.output_kms_key_id, "alias/k", "s3EncryptionKeyId");
	is_str(j.invocation_type, "Converse", "modelInvocationType");
	ok(j.timeout_hours == 72 && j.total_records == 100 && j.processed_records == 100 &&
	    j.success_records == 98 && j.error_records == 2, "counts and timeout");
	ok(bb_aws_time_parse(j.submit_time, &t) == 0 && t == 1722513600.123, "submitTime epoch");
	bb_json_free(doc);
	doc = NULL;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = bb_json_parse(bad[i].body, strlen(bad[i].body), 0, &doc, &err);
		if (r == 0)
			r = bb_bedrock_job_parse(doc, &j, &err);
		ok(bad[i].ok ? r == 0 : (r == -1 && j.job_arn == NULL), "%s", bad[i].what);
		if (bad[i].ok && i == 7)
			ok(j.message == NULL && j.status == BB_JOB_UNKNOWN && j.total_records == -1 &&
			    strcmp(j.status_text, "Weird") == 0, "absent members are NULL / -1");
		bb_json_free(doc);
		doc = NULL;
	}
	bb_bedrock_job_release(&j);
}

struct collect {
	int n, stop_at;
	char names[8][32];
};

static int
collect_job(const struct bb_bedrock_job *j, void *ctx)
{
	struct collect *c = ctx;

	if (c->n < 8)
		snprintf(c->names[c->n], sizeof(c->names[0]), "%s/%s", j->job_name ? j->job_name : "-",
		    bb_bedrock_status_name(j->status) ? bb_bedrock_status_name(j->status) : "?");
	c->n++;
	return c->stop_at && c->n == c->stop_at;
}

static void
test_list_parse(void)
{
	struct bb_buf page = BB_BUF_INIT, tok = BB_BUF_INIT;
	struct collect c;
	struct bb_error err = BB_ERROR_INIT;

	bb_buf_addf(&page, "{\"invocationJobSummaries\":[%s,{\"jobArn\":\"a2\",\"jobName\":\"b\","
	    "\"status\":\"InProgress\"}],\"nextToken\":\"t/2+=\"}", full_job);
	memset(&c, 0, sizeof(c));
	ok(bb_bedrock_list_parse(page.data, page.len, collect_job, &c, &tok, &err) == 0 &&
	    c.n == 2, "two summaries");
	is_str(c.names[0], "my-job/PartiallyCompleted", "first summary");
	is_str(c.names[1], "b/InProgress", "second summary");
	is_str(bb_buf_str(&tok), "t/2+=", "nextToken");
	memset(&c, 0, sizeof(c));
	c.stop_at = 1;
	ok(bb_bedrock_list_parse(page.data, page.len, collect_job, &c, &tok, &err) == 1 &&
	    c.n == 1, "callback stops the listing");
	memset(&c, 0, sizeof(c));
	ok(bb_bedrock_list_parse("{\"invocationJobSummaries\":[]}", 29, collect_job, &c, &tok,
	    &err) == 0 && c.n == 0 && tok.len == 0, "empty page, no token");
	ok(bb_bedrock_list_parse("{}", 2, collect_job, &c, &tok, &err) == 0 && c.n == 0,
	    "no summaries member");
	ok(bb_bedrock_list_parse("{\"invocationJobSummaries\":{}}", 29, collect_job, &c, &tok,
	    &err) == -1 && err.kind == BB_ERR_REMOTE, "summaries not an array");
	ok(bb_bedrock_list_parse("{\"invocationJobSummaries\":[{}]}", 31, collect_job, &c, &tok,
	    &err) == -1, "summary without jobArn");
	ok(bb_bedrock_list_parse("not json", 8, collect_job, &c, &tok, &err) == -1 &&
	    err.kind == BB_ERR_REMOTE, "not JSON");
	bb_buf_release(&page);
	bb_buf_release(&tok);
}

static void
test_errors(void)
{
	static const struct {
		long status;
		const char *hname, *hvalue, *body, *service;
		const char *code;
		enum bb_error_kind kind;
		const char *msg;
	} t[] = {
		/* spec section 1.8, botocore's algorithm */
		{ 404, "x-amzn-ErrorType",
		  "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.bedrock/",
		  "{\"message\":\"Job not found\"}", "bedrock", "ResourceNotFoundException",
		  BB_ERR_NOTFOUND, "ResourceNotFoundException: Job not found (HTTP 404)" },
		{ 400, NULL, NULL,
		  "{\"__type\":\"com.amazon.bedrock#ValidationException\",\"message\":\"bad\"}",
		  "bedrock", "ValidationException", BB_ERR_REMOTE,
		  "ValidationException: bad (HTTP 400)" },
		{ 400, NULL, NULL, "{\"message\":\"x\"}", "bedrock", "400", BB_ERR_REMOTE,
		  "400: x (HTTP 400)" },
		{ 400, NULL, NULL, "{\"code\":\"ServiceQuotaExceededException\",\"Message\":\"q\"}",
		  "bedrock", "ServiceQuotaExceededException", BB_ERR_REMOTE,
		  "ServiceQuotaExceededException: q (HTTP 400)" },
		{ 429, "x-amzn-errortype", "ThrottlingException", "{\"message\":\"slow\\u0007down\"}",
		  "bedrock", "ThrottlingException", BB_ERR_REMOTE,
		  "ThrottlingException: slow\\x07down (HTTP 429)" },
		{ 403, "X-Amzn-ErrorType", "UnrecognizedClientException", "{}", "bedrock",
		  "UnrecognizedClientException", BB_ERR_AUTH,
		  "UnrecognizedClientException (HTTP 403)" },
		{ 503, NULL, NULL, "Service Unavailable", "bedrock", "503", BB_ERR_REMOTE,
		  "503: Service Unavailable (HTTP 503)" },
		/* S3 */
		{ 404, NULL, NULL,
		  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
		  "<Message>The specified key does not exist.</Message><Key>a/b</Key></Error>",
		  "s3", "NoSuchKey", BB_ERR_NOTFOUND,
		  "NoSuchKey: The specified key does not exist. (HTTP 404)" },
		{ 403, NULL, NULL,
		  "<Error><Code>SignatureDoesNotMatch</Code><Message>a &lt;b&gt; &amp; c</Message>"
		  "</Error>", "s3", "SignatureDoesNotMatch", BB_ERR_AUTH,
		  "SignatureDoesNotMatch: a <b> & c (HTTP 403)" },
		{ 404, NULL, NULL, "", "s3", "404", BB_ERR_NOTFOUND, "404: Not Found (HTTP 404)" },
		{ 200, NULL, NULL,
		  "<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>later</Message>"
		  "</Error>", "s3", "InternalError", BB_ERR_REMOTE,
		  "InternalError: later (HTTP 200)" },
		{ 301, "x-amz-bucket-region", "eu-west-1",
		  "<Error><Code>PermanentRedirect</Code><Message>use the endpoint</Message></Error>",
		  "s3", "PermanentRedirect", BB_ERR_USAGE,
		  "PermanentRedirect: the bucket is in region 'eu-west-1': use --region eu-west-1 "
		  "(HTTP 301)" },
		{ 400, NULL, NULL,
		  "<Error><Code>AuthorizationHeaderMalformed</Code><Message>m</Message>"
		  "<Region>ap-south-1</Region></Error>",
		  "s3", "AuthorizationHeaderMalformed", BB_ERR_USAGE,
		  "AuthorizationHeaderMalformed: the bucket is in region 'ap-south-1': use --region "
		  "ap-south-1 (HTTP 400)" },
		/* the code is the status as text only when the response named none */
		{ 500, NULL, NULL, "<Error><Code>InternalError</Code><Message>retry</Message></Error>",
		  "s3", "InternalError", BB_ERR_REMOTE, "InternalError: retry (HTTP 500)" },
		{ 412, NULL, NULL, "", "s3", "412", BB_ERR_REMOTE,
		  "412: Precondition Failed (HTTP 412)" },
		{ 403, NULL, NULL, "", "s3", "403", BB_ERR_AUTH, "403: Forbidden (HTTP 403)" },
		{ 400, NULL, NULL, "<Error><Message>no code</Message></Error>", "s3", "400",
		  BB_ERR_REMOTE, "400: no code (HTTP 400)" },
		{ 502, NULL, NULL, "<html><body>Bad Gateway</body></html>\n", "bedrock", "502",
		  BB_ERR_REMOTE, "502: <html><body>Bad Gateway</body></html> (HTTP 502)" },
	};
	/* retryable: by code, by bare status (HEAD, proxies), or no response */
	static const struct { long status; const char *code; int retryable; } rt[] = {
		{ 503, "SlowDown", 1 }, { 400, "ThrottlingException", 1 },
		{ 400, "ServiceQuotaExceededException", 0 }, { 400, "ValidationException", 0 },
		{ 503, "503", 1 }, { 429, "429", 1 }, { 500, "InternalError", 1 },
		{ 501, "501", 0 }, { 404, "404", 0 }, { 403, "AccessDenied", 0 }, { 0, "", 1 },
	};
	struct bb_http_resp resp;
	struct bb_aws_error ae;
	struct bb_error err;
	size_t i;
	int r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bb_http_resp_init(&resp);
		resp.status = t[i].status;
		if (t[i].hname)
			bb_http_headers_add(&resp.headers, t[i].hname, t[i].hvalue);
		bb_http_headers_add(&resp.headers, "x-amzn-RequestId", "rid-1");
		bb_buf_adds(&resp.body, t[i].body);
		bb_error_clear(&err);
		r = bb_aws_check_response(t[i].service, NULL, &resp, &ae, &err);
		ok(r == -1 && strcmp(ae.code, t[i].code) == 0 && err.kind == t[i].kind &&
		    ae.status == t[i].status && strcmp(ae.request_id, "rid-1") == 0,
		    "error %zu: code %s", i, t[i].code);
		is_str(err.msg, t[i].msg, "error message");
		bb_http_resp_release(&resp);
	}
	bb_http_resp_init(&resp);
	resp.status = 200;
	bb_buf_adds(&resp.body, "<ListBucketResult></ListBucketResult>");
	ok(bb_aws_check_response("s3", "GET x", &resp, &ae, NULL) == 0, "2xx is success");
	bb_http_resp_release(&resp);
	bb_http_resp_init(&resp);
	resp.status = 200;
	bb_buf_adds(&resp.body, "<Error><Code>X</Code></Error>");
	ok(bb_aws_check_response("bedrock", NULL, &resp, &ae, NULL) == 0,
	    "<Error> in a 200 body matters only for S3");
	bb_http_resp_release(&resp);
	for (i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
		bb_aws_error_clear(&ae);
		ae.status = rt[i].status;
		strcpy(ae.code, rt[i].code);
		ok(bb_aws_error_retryable(&ae) == rt[i].retryable, "%s (HTTP %ld) %s",
		    rt[i].code, rt[i].status, rt[i].retryable ? "retryable" : "not retryable");
	}
	ok(!bb_aws_error_retryable(NULL), "NULL not retryable");
}

static void
test_time(void)
{
	static const struct { const char *s; double t; } t[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2024-08-01T12:00:00Z", 1722513600 },
		{ "2024-08-01T12:00:00.5Z", 1722513600.5 },
		{ "2024-08-01T14:00:00+02:00", 1722513600 },
		{ "2024-08-01T10:30:00-01:30", 1722513600 },
		{ "2000-02-29T00:00:00Z", 951782400 },
		{ "2024-08-01T12:00:00.25+02:00", 1722506400.25 },
		{ "2024-04-31T00:00:00Z", -1 },
		{ "2023-02-30T00:00:00Z", -1 },
		{ "2024-08-01T24:00:00Z", -1 },
		{ "2024-13-01T00:00:00Z", -1 },
		{ "2024-08-01 12:00:00", -1 },
		{ "2024-08-01T12:00:00", -1 },
		{ "2024-08-01T12:00:00Zjunk", -1 },
		{ "2024-08-01T12:00:00.Z", -1 },
		{ "", -1 },
	};
	char out[21];
	double v;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int r = bb_aws_time_parse(t[i].s, &v);
		if (t[i].t >= 0)
			ok(r == 0 && v == t[i].t, "time '%s'", t[i].s);
		else
			ok(r == -1, "time '%s' refused", t[i].s);
	}
	bb_aws_time_format(1722513600, out);
	is_str(out, "2024-08-01T12:00:00Z", "time format");
}

int
main(void)
{
	struct bb_buf caps_text = BB_BUF_INIT, path = BB_BUF_INIT;
	struct bb_json *caps = NULL;
	const char *shared = getenv("BB_SHARED");

	bb_buf_addf(&path, "%s/spec/botocore-wire-captures.json", shared ? shared : "../shared");
	if (read_file(path.data, &caps_text) < 0 ||
	    bb_json_parse(caps_text.data, caps_text.len, 0, &caps, NULL) < 0)
		diag("no captures at %s: those comparisons are skipped", path.data);
	test_status();
	test_job_id();
	test_create_body(caps);
	test_paths(caps);
	test_list_query(caps);
	test_job_parse();
	test_list_parse();
	test_errors();
	test_time();
	bb_json_free(caps);
	bb_buf_release(&caps_text);
	bb_buf_release(&path);
	return done_testing();
}
