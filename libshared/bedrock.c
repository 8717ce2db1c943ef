/* bedrock.c - the Bedrock batch control plane; see bedrock.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "bedrock.h"
#include "buf.h"
#include "error.h"
#include "http.h"
#include "json.h"

static const struct {
	enum bb_bedrock_status st;
	const char *name;
} statuses[] = {
	{ BB_JOB_SUBMITTED, "Submitted" },
	{ BB_JOB_VALIDATING, "Validating" },
	{ BB_JOB_SCHEDULED, "Scheduled" },
	{ BB_JOB_INPROGRESS, "InProgress" },
	{ BB_JOB_COMPLETED, "Completed" },
	{ BB_JOB_PARTIALLY_COMPLETED, "PartiallyCompleted" },
	{ BB_JOB_FAILED, "Failed" },
	{ BB_JOB_STOPPING, "Stopping" },
	{ BB_JOB_STOPPED, "Stopped" },
	{ BB_JOB_EXPIRED, "Expired" },
};

enum bb_bedrock_status
bb_bedrock_status_parse(const char *s)
{
	size_t i;

	if (s == NULL)
		return BB_JOB_UNKNOWN;
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (strcmp(s, statuses[i].name) == 0)
			return statuses[i].st;
	return BB_JOB_UNKNOWN;
}

const char *
bb_bedrock_status_name(enum bb_bedrock_status st)
{
	size_t i;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].st == st)
			return statuses[i].name;
	return NULL;
}

int
bb_bedrock_status_terminal(enum bb_bedrock_status st)
{
	return st == BB_JOB_COMPLETED || st == BB_JOB_PARTIALLY_COMPLETED ||
	    st == BB_JOB_FAILED || st == BB_JOB_STOPPED || st == BB_JOB_EXPIRED;
}

static int
is_id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int
all_of(const char *p, size_t n, const char *set_lower_digits_dash)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (strchr(set_lower_digits_dash, c) != NULL && c != '\0')))
			return 0;
	}
	return 1;
}

/*
 * jobIdentifier: ((arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:
 * model-invocation-job/)?[a-z0-9]{12}), matched against the whole string.
 */
int
bb_bedrock_job_id(const char *s, char out[BB_BEDROCK_JOB_ID_LEN + 1], struct bb_error *err)
{
	const char *p, *q, *id;
	size_t i;

	if (s == NULL)
		return bb_error_set(err, BB_ERR_INPUT, "no job identifier");
	id = s;
	if (strncmp(s, "arn:aws", 7) == 0) {
		p = s + 7;
		if (*p == '-') {            /* partition suffix: -[^:]+ */
			q = strchr(p, ':');
			if (q == NULL || q == p + 1)
				goto bad;
			p = q;
		}
		if (strncmp(p, ":bedrock:", 9) != 0)
			goto bad;
		p += 9;
		q = strchr(p, ':');         /* region */
		if (q == NULL || q == p || q - p > 20 || !all_of(p, (size_t)(q - p), "-"))
			goto bad;
		p = q + 1;
		for (i = 0; i < 12; i++)    /* account */
			if (p[i] < '0' || p[i] > '9')
				goto bad;
		p += 12;
		if (strncmp(p, ":model-invocation-job/", 22) != 0)
			goto bad;
		id = p + 22;
	}
	for (i = 0; i < BB_BEDROCK_JOB_ID_LEN; i++)
		if (!is_id_char(id[i]))
			goto bad;
	if (id[BB_BEDROCK_JOB_ID_LEN] != '\0')
		goto bad;
	memcpy(out, id, BB_BEDROCK_JOB_ID_LEN);
	out[BB_BEDROCK_JOB_ID_LEN] = '\0';
	return 0;
bad:
	return bb_error_set(err, BB_ERR_INPUT,
	    "'%.200s' is not a model invocation job ARN or id", s);
}

/* ---- request bodies ---- */

static int
add_member(struct bb_buf *out, int *first, const char *key)
{
	if (!*first && bb_buf_addc(out, ',') < 0)
		return -1;
	*first = 0;
	if (bb_json_add_str(out, key, strlen(key)) < 0 || bb_buf_addc(out, ':') < 0)
		return -1;
	return 0;
}

static int
add_str_member(struct bb_buf *out, int *first, const char *key, const char *v)
{
	if (v == NULL)
		return 0;
	if (add_member(out, first, key) < 0 || bb_json_add_str(out, v, strlen(v)) < 0)
		return -1;
	return 0;
}

static int
add_str_list(struct bb_buf *out, int *first, const char *key, const char *const *v, size_t n)
{
	size_t i;

	if (add_member(out, first, key) < 0 || bb_buf_addc(out, '[') < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] == NULL)
			return -1;
		if ((i > 0 && bb_buf_addc(out, ',') < 0) ||
		    bb_json_add_str(out, v[i], strlen(v[i])) < 0)
			return -1;
	}
	return bb_buf_addc(out, ']');
}

int
bb_bedrock_create_body(const struct bb_bedrock_job_spec *s, struct bb_buf *out,
    struct bb_error *err)
{
	size_t start = out->len, i;
	int first = 1, sub, rc = -1;
	const char *missing = NULL;

	if (s->job_name == NULL)
		missing = "jobName";
	else if (s->role_arn == NULL)
		missing = "roleArn";
	else if (s->model_id == NULL)
		missing = "modelId";
	else if (s->input_s3_uri == NULL)
		missing = "inputDataConfig.s3InputDataConfig.s3Uri";
	else if (s->output_s3_uri == NULL)
		missing = "outputDataConfig.s3OutputDataConfig.s3Uri";
	if (missing) {
		bb_error_set(err, BB_ERR_USAGE, "CreateModelInvocationJob: %s is required", missing);
		goto out;
	}
	if ((s->nsubnets > 0) != (s->nsecurity_groups > 0)) {
		bb_error_set(err, BB_ERR_USAGE,
		    "CreateModelInvocationJob: vpcConfig needs both subnet ids and security group ids");
		goto out;
	}
	/* Members in model order (as botocore serialises them). */
	if (bb_buf_addc(out, '{') < 0 ||
	    add_str_member(out, &first, "jobName", s->job_name) < 0 ||
	    add_str_member(out, &first, "roleArn", s->role_arn) < 0 ||
	    add_str_member(out, &first, "clientRequestToken", s->client_request_token) < 0 ||
	    add_str_member(out, &first, "modelId", s->model_id) < 0)
		goto fail;
	if (add_member(out, &first, "inputDataConfig") < 0 ||
	    bb_buf_adds(out, "{\"s3InputDataConfig\":{") < 0)
		goto fail;
	sub = 1;
	if (add_str_member(out, &sub, "s3InputFormat", s->input_format) < 0 ||
	    add_str_member(out, &sub, "s3Uri", s->input_s3_uri) < 0 ||
	    add_str_member(out, &sub, "s3BucketOwner", s->input_bucket_owner) < 0 ||
	    bb_buf_adds(out, "}}") < 0)
		goto fail;
	if (add_member(out, &first, "outputDataConfig") < 0 ||
	    bb_buf_adds(out, "{\"s3OutputDataConfig\":{") < 0)
		goto fail;
	sub = 1;
	if (add_str_member(out, &sub, "s3Uri", s->output_s3_uri) < 0 ||
	    add_str_member(out, &sub, "s3EncryptionKeyId", s->output_kms_key_id) < 0 ||
	    add_str_member(out, &sub, "s3BucketOwner", s->output_bucket_owner) < 0 ||
	    bb_buf_adds(out, "}}") < 0)
		goto fail;
	if (s->nsubnets > 0) {
		if (add_member(out, &first, "vpcConfig") < 0 || bb_buf_addc(out, '{') < 0)
			goto fail;
		sub = 1;
		if (add_str_list(out, &sub, "subnetIds", s->subnet_ids, s->nsubnets) < 0 ||
		    add_str_list(out, &sub, "securityGroupIds", s->security_group_ids,
		    s->nsecurity_groups) < 0 || bb_buf_addc(out, '}') < 0)
			goto fail;
	}
	if (s->timeout_hours != 0 &&
	    (add_member(out, &first, "timeoutDurationInHours") < 0 ||
	    bb_json_add_int(out, s->timeout_hours) < 0))
		goto fail;
	if (s->ntags > 0) {
		if (add_member(out, &first, "tags") < 0 || bb_buf_addc(out, '[') < 0)
			goto fail;
		for (i = 0; i < s->ntags; i++) {
			if (s->tags[i].key == NULL || s->tags[i].value == NULL) {
				bb_error_set(err, BB_ERR_USAGE,
				    "CreateModelInvocationJob: tag %zu has no key or value", i + 1);
				goto out;
			}
			sub = 1;
			if ((i > 0 && bb_buf_addc(out, ',') < 0) || bb_buf_addc(out, '{') < 0 ||
			    add_str_member(out, &sub, "key", s->tags[i].key) < 0 ||
			    add_str_member(out, &sub, "value", s->tags[i].value) < 0 ||
			    bb_buf_addc(out, '}') < 0)
				goto fail;
		}
		if (bb_buf_addc(out, ']') < 0)
			goto fail;
	}
	if (add_str_member(out, &first, "modelInvocationType", s->invocation_type) < 0 ||
	    bb_buf_addc(out, '}') < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	if (errno == EILSEQ)
		bb_error_set(err, BB_ERR_USAGE, "CreateModelInvocationJob: a value is not valid UTF-8");
	else
		bb_error_set(err, BB_ERR_SYSTEM, "CreateModelInvocationJob: out of memory");
out:
	if (rc < 0 && out->data)
		bb_buf_setlen(out, start);
	return rc;
}

/* ---- response parsing ---- */

void
bb_bedrock_job_init(struct bb_bedrock_job *j)
{
	memset(j, 0, sizeof(*j));
	j->timeout_hours = -1;
	j->total_records = -1;
	j->processed_records = -1;
	j->success_records = -1;
	j->error_records = -1;
}

void
bb_bedrock_job_release(struct bb_bedrock_job *j)
{
	free(j->job_arn);
	free(j->job_name);
	free(j->model_id);
	free(j->client_request_token);
	free(j->role_arn);
	free(j->status_text);
	free(j->message);
	free(j->submit_time);
	free(j->last_modified_time);
	free(j->end_time);
	free(j->job_expiration_time);
	free(j->input_s3_uri);
	free(j->input_format);
	free(j->input_bucket_owner);
	free(j->output_s3_uri);
	free(j->output_kms_key_id);
	free(j->output_bucket_owner);
	free(j->invocation_type);
	bb_bedrock_job_init(j);
}

/* Copy a string member; absent or null leaves *dst NULL. */
static int
get_str(const struct bb_json *obj, const char *key, char **dst, struct bb_error *err)
{
	const struct bb_json *v = bb_json_get(obj, key);

	if (v == NULL || v->type == BB_JSON_NULL)
		return 0;
	if (v->type != BB_JSON_STRING)
		return bb_error_set(err, BB_ERR_REMOTE, "Bedrock response: '%s' is not a string", key);
	free(*dst);
	*dst = strdup(v->str);
	if (*dst == NULL)
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	return 0;
}

static int
get_int(const struct bb_json *obj, const char *key, long long *dst, struct bb_error *err)
{
	const struct bb_json *v = bb_json_get(obj, key);

	if (v == NULL || v->type == BB_JSON_NULL)
		return 0;
	if (v->type != BB_JSON_NUMBER || !v->is_int || v->i < 0)
		return bb_error_set(err, BB_ERR_REMOTE,
		    "Bedrock response: '%s' is not a non-negative integer", key);
	*dst = v->i;
	return 0;
}

/* The object inside a union member ({"s3InputDataConfig": {...}}), or
 * NULL (an unknown variant is not an error: see spec section 1.7). */
static const struct bb_json *
union_member(const struct bb_json *obj, const char *key, const char *variant,
    struct bb_error *err, int *bad)
{
	const struct bb_json *u = bb_json_get(obj, key), *v;

	*bad = 0;
	if (u == NULL || u->type == BB_JSON_NULL)
		return NULL;
	if (u->type != BB_JSON_OBJECT) {
		*bad = 1;
		bb_error_set(err, BB_ERR_REMOTE, "Bedrock response: '%s' is not an object", key);
		return NULL;
	}
	v = bb_json_get(u, variant);
	if (v != NULL && v->type != BB_JSON_OBJECT) {
		*bad = 1;
		bb_error_set(err, BB_ERR_REMOTE, "Bedrock response: '%s.%s' is not an object",
		    key, variant);
		return NULL;
	}
	return v;
}

int
bb_bedrock_job_parse(const struct bb_json *o, struct bb_bedrock_job *j, struct bb_error *err)
{
	const struct bb_json *in, *out;
	int bad;

	bb_bedrock_job_release(j);
	if (o == NULL || o->type != BB_JSON_OBJECT)
		return bb_error_set(err, BB_ERR_REMOTE, "Bedrock response: a job is not an object");
	if (get_str(o, "jobArn", &j->job_arn, err) < 0 ||
	    get_str(o, "jobName", &j->job_name, err) < 0 ||
	    get_str(o, "modelId", &j->model_id, err) < 0 ||
	    get_str(o, "clientRequestToken", &j->client_request_token, err) < 0 ||
	    get_str(o, "roleArn", &j->role_arn, err) < 0 ||
	    get_str(o, "status", &j->status_text, err) < 0 ||
	    get_str(o, "message", &j->message, err) < 0 ||
	    get_str(o, "submitTime", &j->submit_time, err) < 0 ||
	    get_str(o, "lastModifiedTime", &j->last_modified_time, err) < 0 ||
	    get_str(o, "endTime", &j->end_time, err) < 0 ||
	    get_str(o, "jobExpirationTime", &j->job_expiration_time, err) < 0 ||
	    get_str(o, "modelInvocationType", &j->invocation_type, err) < 0 ||
	    get_int(o, "timeoutDurationInHours", &j->timeout_hours, err) < 0 ||
	    get_int(o, "totalRecordCount", &j->total_records, err) < 0 ||
	    get_int(o, "processedRecordCount", &j->processed_records, err) < 0 ||
	    get_int(o, "successRecordCount", &j->success_records, err) < 0 ||
	    get_int(o, "errorRecordCount", &j->error_records, err) < 0)
		goto fail;
	in = union_member(o, "inputDataConfig", "s3InputDataConfig", err, &bad);
	if (bad)
		goto fail;
	if (in && (get_str(in, "s3Uri", &j->input_s3_uri, err) < 0 ||
	    get_str(in, "s3InputFormat", &j->input_format, err) < 0 ||
	    get_str(in, "s3BucketOwner", &j->input_bucket_owner, err) < 0))
		goto fail;
	out = union_member(o, "outputDataConfig", "s3OutputDataConfig", err, &bad);
	if (bad)
		goto fail;
	if (out && (get_str(out, "s3Uri", &j->output_s3_uri, err) < 0 ||
	    get_str(out, "s3EncryptionKeyId", &j->output_kms_key_id, err) < 0 ||
	    get_str(out, "s3BucketOwner", &j->output_bucket_owner, err) < 0))
		goto fail;
	if (j->job_arn == NULL) {
		bb_error_set(err, BB_ERR_REMOTE, "Bedrock response: no jobArn");
		goto fail;
	}
	j->status = bb_bedrock_status_parse(j->status_text);
	return 0;
fail:
	bb_bedrock_job_release(j);
	return -1;
}

int
bb_bedrock_list_parse(const char *body, size_t len, bb_bedrock_job_fn fn, void *ctx,
    struct bb_buf *next_token, struct bb_error *err)
{
	struct bb_json *doc = NULL;
	const struct bb_json *list, *tok;
	struct bb_bedrock_job job;
	size_t i;
	int rc = -1;

	bb_bedrock_job_init(&job);
	bb_buf_reset(next_token);
	if (bb_json_parse(body, len, 0, &doc, err) < 0) {
		bb_error_prefix(err, "ListModelInvocationJobs response");
		if (err)
			err->kind = BB_ERR_REMOTE;
		goto out;
	}
	if (doc->type != BB_JSON_OBJECT) {
		bb_error_set(err, BB_ERR_REMOTE, "ListModelInvocationJobs response is not an object");
		goto out;
	}
	tok = bb_json_get(doc, "nextToken");
	if (tok && tok->type == BB_JSON_STRING &&
	    bb_buf_add(next_token, tok->str, tok->len) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	if (tok && tok->type != BB_JSON_STRING && tok->type != BB_JSON_NULL) {
		bb_error_set(err, BB_ERR_REMOTE, "ListModelInvocationJobs: nextToken is not a string");
		goto out;
	}
	list = bb_json_get(doc, "invocationJobSummaries");
	if (list && list->type != BB_JSON_ARRAY && list->type != BB_JSON_NULL) {
		bb_error_set(err, BB_ERR_REMOTE,
		    "ListModelInvocationJobs: invocationJobSummaries is not an array");
		goto out;
	}
	for (i = 0; list && list->type == BB_JSON_ARRAY && i < list->n; i++) {
		if (bb_bedrock_job_parse(list->items[i], &job, err) < 0)
			goto out;
		if (fn(&job, ctx) != 0) {
			rc = 1;
			goto out;
		}
	}
	rc = 0;
out:
	bb_bedrock_job_release(&job);
	bb_json_free(doc);
	return rc;
}

int
bb_bedrock_list_query(const struct bb_bedrock_list_filter *f, const char *next_token,
    struct bb_buf *out)
{
	struct bb_aws_query q;
	char num[32];
	int rc = -1;

	bb_aws_query_init(&q, out);
	if (f) {
		if (bb_aws_query_add(&q, "submitTimeAfter", f->submit_time_after) < 0 ||
		    bb_aws_query_add(&q, "submitTimeBefore", f->submit_time_before) < 0 ||
		    bb_aws_query_add(&q, "statusEquals", f->status_equals) < 0 ||
		    bb_aws_query_add(&q, "nameContains", f->name_contains) < 0)
			goto out;
		if (f->max_results > 0) {
			snprintf(num, sizeof(num), "%d", f->max_results);
			if (bb_aws_query_add(&q, "maxResults", num) < 0)
				goto out;
		}
	}
	if (bb_aws_query_add(&q, "nextToken", next_token && *next_token ? next_token : NULL) < 0)
		goto out;
	if (f && (bb_aws_query_add(&q, "sortBy", f->sort_by) < 0 ||
	    bb_aws_query_add(&q, "sortOrder", f->sort_order) < 0))
		goto out;
	rc = 0;
out:
	return rc;
}

int
bb_bedrock_job_path(const char *job, const char *suffix, struct bb_buf *out)
{
	if (bb_buf_adds(out, "/model-invocation-job/") < 0 ||
	    bb_aws_uri_encode(out, job, strlen(job), 0) < 0 ||
	    (suffix && bb_buf_adds(out, suffix) < 0))
		return -1;
	return 0;
}

/* ---- the operations ---- */

/* Send one Bedrock request: path (and query) appended to the service URL,
 * an optional JSON body. The response body is left in resp. */
static int
call(struct bb_aws *aws, const char *method, const char *path, const char *query,
    const struct bb_buf *body, const char *what, struct bb_http_resp *resp,
    struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_http_req req;
	struct bb_buf url = BB_BUF_INIT;
	int rc = -1;

	bb_http_req_init(&req);
	if (bb_aws_service_url(aws, "bedrock", &url, err) < 0)
		goto out;
	if (bb_buf_adds(&url, path) < 0 ||
	    (query && *query && (bb_buf_addc(&url, '?') < 0 || bb_buf_adds(&url, query) < 0))) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	req.method = method;
	req.url = url.data;
	if (body) {
		req.body = body->data;
		req.body_len = body->len;
		if (bb_http_headers_set(&req.headers, "Content-Type", "application/json") < 0) {
			bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
			goto out;
		}
	} else if (strcmp(method, "POST") == 0) {
		req.body = "";               /* Stop: Content-Length: 0 */
		req.body_len = 0;
	}
	if (bb_aws_request(aws, "bedrock", &req, BB_AWS_PAYLOAD_SHA256, NULL, resp, ae, err) < 0) {
		bb_error_prefix(err, "%s", what);
		goto out;
	}
	rc = 0;
out:
	bb_http_req_release(&req);
	bb_buf_release(&url);
	return rc;
}

static int
parse_body(const struct bb_http_resp *resp, const char *what, struct bb_json **doc,
    struct bb_error *err)
{
	if (bb_json_parse(bb_buf_str(&resp->body), resp->body.len, 0, doc, err) < 0 ||
	    (*doc)->type != BB_JSON_OBJECT) {
		if (*doc)
			bb_error_set(err, BB_ERR_REMOTE, "not a JSON object");
		bb_json_free(*doc);
		*doc = NULL;
		bb_error_prefix(err, "%s: bad response", what);
		if (err)
			err->kind = BB_ERR_REMOTE;
		return -1;
	}
	return 0;
}

int
bb_bedrock_create_job(struct bb_aws *aws, const struct bb_bedrock_job_spec *spec,
    char **job_arn, struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_buf body = BB_BUF_INIT;
	struct bb_http_resp resp;
	struct bb_json *doc = NULL;
	const char *arn;
	const char *what = "CreateModelInvocationJob";
	int rc = -1;

	*job_arn = NULL;
	bb_http_resp_init(&resp);
	bb_aws_error_clear(ae);
	if (bb_bedrock_create_body(spec, &body, err) < 0 ||
	    call(aws, "POST", "/model-invocation-job", NULL, &body, what, &resp, ae, err) < 0 ||
	    parse_body(&resp, what, &doc, err) < 0)
		goto out;
	arn = bb_json_str(bb_json_get(doc, "jobArn"));
	if (arn == NULL || *arn == '\0') {
		bb_error_set(err, BB_ERR_REMOTE, "%s: no jobArn in the response", what);
		goto out;
	}
	*job_arn = strdup(arn);
	if (*job_arn == NULL) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	bb_json_free(doc);
	bb_buf_release(&body);
	bb_http_resp_release(&resp);
	return rc;
}

int
bb_bedrock_get_job(struct bb_aws *aws, const char *job, struct bb_bedrock_job *out,
    struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_buf path = BB_BUF_INIT, what = BB_BUF_INIT;
	struct bb_http_resp resp;
	struct bb_json *doc = NULL;
	int rc = -1;

	bb_http_resp_init(&resp);
	bb_aws_error_clear(ae);
	bb_buf_addf(&what, "GetModelInvocationJob '%.200s'", job);
	if (bb_bedrock_job_path(job, NULL, &path) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	if (call(aws, "GET", path.data, NULL, NULL, what.data, &resp, ae, err) < 0 ||
	    parse_body(&resp, what.data, &doc, err) < 0)
		goto out;
	if (bb_bedrock_job_parse(doc, out, err) < 0) {
		bb_error_prefix(err, "%s", what.data);
		goto out;
	}
	rc = 0;
out:
	bb_json_free(doc);
	bb_buf_release(&path);
	bb_buf_release(&what);
	bb_http_resp_release(&resp);
	return rc;
}

int
bb_bedrock_list_jobs(struct bb_aws *aws, const struct bb_bedrock_list_filter *f,
    bb_bedrock_job_fn fn, void *ctx, struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_buf q = BB_BUF_INIT, token = BB_BUF_INIT, prev = BB_BUF_INIT;
	struct bb_http_resp resp;
	const char *what = "ListModelInvocationJobs";
	int rc = -1, r;

	bb_http_resp_init(&resp);
	bb_aws_error_clear(ae);
	for (;;) {
		bb_buf_reset(&q);
		if (bb_bedrock_list_query(f, token.len ? token.data : NULL, &q) < 0) {
			bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
			goto out;
		}
		bb_http_resp_release(&resp);
		if (call(aws, "GET", "/model-invocation-jobs", q.data, NULL, what, &resp, ae,
		    err) < 0)
			goto out;
		bb_buf_reset(&prev);
		if (token.len && bb_buf_add(&prev, token.data, token.len) < 0) {
			bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
			goto out;
		}
		r = bb_bedrock_list_parse(bb_buf_str(&resp.body), resp.body.len, fn, ctx, &token,
		    err);
		if (r < 0)
			goto out;
		if (r == 1 || token.len == 0)
			break;
		/* A service that hands back the same token would loop forever. */
		if (prev.len == token.len && memcmp(prev.data, token.data, token.len) == 0) {
			bb_error_set(err, BB_ERR_REMOTE, "%s: the same nextToken twice", what);
			goto out;
		}
	}
	rc = 0;
out:
	bb_buf_release(&q);
	bb_buf_release(&token);
	bb_buf_release(&prev);
	bb_http_resp_release(&resp);
	return rc;
}

int
bb_bedrock_stop_job(struct bb_aws *aws, const char *job, struct bb_aws_error *ae,
    struct bb_error *err)
{
	struct bb_buf path = BB_BUF_INIT, what = BB_BUF_INIT;
	struct bb_http_resp resp;
	int rc = -1;

	bb_http_resp_init(&resp);
	bb_aws_error_clear(ae);
	bb_buf_addf(&what, "StopModelInvocationJob '%.200s'", job);
	if (bb_bedrock_job_path(job, "/stop", &path) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	if (call(aws, "POST", path.data, NULL, NULL, what.data, &resp, ae, err) < 0)
		goto out;
	rc = 0;
out:
	bb_buf_release(&path);
	bb_buf_release(&what);
	bb_http_resp_release(&resp);
	return rc;
}
