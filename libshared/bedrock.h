/*
 * bedrock.h - the Amazon Bedrock batch inference control plane: the four
 * operations CreateModelInvocationJob, GetModelInvocationJob,
 * ListModelInvocationJobs and StopModelInvocationJob (rest-json, API
 * version 2023-04-20; spec/BEDROCK.md section 1), on top of aws.h.
 *
 * JSON member names are exactly those of the service model
 * (spec/bedrock-batch-operations.json). Requests are signed with SigV4 in
 * the "bedrock" scope, or carry "Authorization: Bearer" when a Bedrock API
 * key is configured (aws.h). Errors come back in struct bb_error, with
 * the service's error code in struct bb_aws_error when the caller passes
 * one (aws.h: struct bb_aws_error).
 *
 * Ownership: struct bb_bedrock_job owns its strings; fill it with
 * bb_bedrock_get_job() or bb_bedrock_job_parse() and free the contents
 * with bb_bedrock_job_release() (the struct itself is the caller's). The
 * spec and filter structs only borrow the caller's strings.
 */
#ifndef BB_BEDROCK_H
#define BB_BEDROCK_H

#include <stddef.h>

#include "aws.h"
#include "buf.h"
#include "error.h"
#include "json.h"

/* Job statuses (ModelInvocationJobStatus). */
enum bb_bedrock_status {
	BB_JOB_UNKNOWN = 0,   /* absent or a value this code does not know */
	BB_JOB_SUBMITTED,
	BB_JOB_VALIDATING,
	BB_JOB_SCHEDULED,
	BB_JOB_INPROGRESS,
	BB_JOB_COMPLETED,
	BB_JOB_PARTIALLY_COMPLETED,
	BB_JOB_FAILED,
	BB_JOB_STOPPING,
	BB_JOB_STOPPED,
	BB_JOB_EXPIRED,
};
/* "InProgress" -> BB_JOB_INPROGRESS ...; BB_JOB_UNKNOWN for anything else. */
enum bb_bedrock_status bb_bedrock_status_parse(const char *s);
/* The wire name ("InProgress"), or NULL for BB_JOB_UNKNOWN. */
const char *bb_bedrock_status_name(enum bb_bedrock_status st);
/* 1 for Completed, PartiallyCompleted, Failed, Stopped, Expired. */
int bb_bedrock_status_terminal(enum bb_bedrock_status st);

/* Length of a job id: 12 characters of [a-z0-9]. */
#define BB_BEDROCK_JOB_ID_LEN 12
/*
 * The job id of a job ARN ("arn:aws:bedrock:us-east-1:123456789012:
 * model-invocation-job/abcdefghij12") or of a bare id, checked against the
 * model's jobIdentifier pattern; out gets the 12 characters and a NUL.
 * -1 (kind BB_ERR_INPUT) when it is neither.
 */
int bb_bedrock_job_id(const char *arn_or_id, char out[BB_BEDROCK_JOB_ID_LEN + 1],
    struct bb_error *err);

/* ---- CreateModelInvocationJob ---- */

struct bb_bedrock_tag {
	const char *key;
	const char *value;
};

/* The request members; NULL / 0 members are omitted from the body. */
struct bb_bedrock_job_spec {
	const char *job_name;               /* required */
	const char *role_arn;               /* required */
	const char *client_request_token;   /* NULL: none sent (give one: retries
	                                       and re-runs are then idempotent) */
	const char *model_id;               /* required */
	const char *input_s3_uri;           /* required: s3InputDataConfig.s3Uri */
	const char *input_format;           /* s3InputFormat ("JSONL") */
	const char *input_bucket_owner;     /* s3BucketOwner (12 digits) */
	const char *output_s3_uri;          /* required: s3OutputDataConfig.s3Uri */
	const char *output_kms_key_id;      /* s3EncryptionKeyId */
	const char *output_bucket_owner;
	const char *const *subnet_ids;      /* vpcConfig, sent when nsubnets > 0 */
	size_t nsubnets;
	const char *const *security_group_ids;
	size_t nsecurity_groups;
	int timeout_hours;                  /* timeoutDurationInHours; 0: omitted */
	const struct bb_bedrock_tag *tags;
	size_t ntags;
	const char *invocation_type;        /* modelInvocationType: "InvokeModel"
	                                       or "Converse"; NULL: omitted */
};

/* Append the JSON request body of CreateModelInvocationJob to out. A
 * missing required member is an error (BB_ERR_USAGE); values are not
 * checked against the model's patterns (the service does that). */
int bb_bedrock_create_body(const struct bb_bedrock_job_spec *spec, struct bb_buf *out,
    struct bb_error *err);

/*
 * Create a job. On success the job ARN (malloc'd; caller frees) is put in
 * *job_arn. Service errors (aws.h bb_aws_error codes) to act on:
 * ServiceQuotaExceededException (too many jobs in flight: wait and retry
 * later), ThrottlingException (retried by the HTTP layer first),
 * ValidationException and ConflictException (a fault of this request: do
 * not retry it as is). err->kind: BB_ERR_REMOTE for those, BB_ERR_AUTH
 * for refused credentials, BB_ERR_NETWORK when no answer came. ae (may be
 * NULL) receives the code and status.
 */
int bb_bedrock_create_job(struct bb_aws *aws, const struct bb_bedrock_job_spec *spec,
    char **job_arn, struct bb_aws_error *ae, struct bb_error *err);

/* ---- GetModelInvocationJob ---- */

/* A job as Get and List describe it. Absent strings are NULL; absent
 * counts and timeout are -1. Times are the service's RFC 3339 text. */
struct bb_bedrock_job {
	char *job_arn;
	char *job_name;
	char *model_id;
	char *client_request_token;
	char *role_arn;
	char *status_text;                  /* as received */
	enum bb_bedrock_status status;
	char *message;                      /* failure reason */
	char *submit_time;
	char *last_modified_time;
	char *end_time;
	char *job_expiration_time;
	char *input_s3_uri;                 /* inputDataConfig.s3InputDataConfig */
	char *input_format;
	char *input_bucket_owner;
	char *output_s3_uri;                /* outputDataConfig.s3OutputDataConfig */
	char *output_kms_key_id;
	char *output_bucket_owner;
	char *invocation_type;
	long long timeout_hours;
	long long total_records;
	long long processed_records;
	long long success_records;
	long long error_records;
};

void bb_bedrock_job_init(struct bb_bedrock_job *job);
void bb_bedrock_job_release(struct bb_bedrock_job *job);
/* Fill job (initialised or released) from a GetModelInvocationJobResponse
 * or ModelInvocationJobSummary object. Unknown members are ignored; a
 * member of the wrong type or a missing jobArn is an error (BB_ERR_REMOTE). */
int bb_bedrock_job_parse(const struct bb_json *obj, struct bb_bedrock_job *job,
    struct bb_error *err);

/* Describe a job by id or ARN (the identifier goes into the path as one
 * percent-encoded segment). A job that does not exist: kind
 * BB_ERR_NOTFOUND. */
int bb_bedrock_get_job(struct bb_aws *aws, const char *job, struct bb_bedrock_job *out,
    struct bb_aws_error *ae, struct bb_error *err);

/* ---- ListModelInvocationJobs ---- */

struct bb_bedrock_list_filter {
	const char *status_equals;          /* a status name, or NULL */
	const char *name_contains;
	const char *submit_time_after;      /* ISO 8601 ("2024-01-01T00:00:00Z") */
	const char *submit_time_before;
	int max_results;                    /* 1..1000; 0: omitted */
	const char *sort_by;                /* "CreationTime" */
	const char *sort_order;             /* "Ascending" / "Descending" */
};

/* Append the query string (without '?') for one page to out, members in
 * model order, values percent-encoded. next_token may be NULL. */
int bb_bedrock_list_query(const struct bb_bedrock_list_filter *f, const char *next_token,
    struct bb_buf *out);

/* Called once per job summary; the job is valid during the call only.
 * Return 0 to go on, non-zero to stop the listing (which returns 0). */
typedef int (*bb_bedrock_job_fn)(const struct bb_bedrock_job *job, void *ctx);

/* Parse one ListModelInvocationJobsResponse body: calls fn per summary,
 * sets next_token (reset first) to the nextToken, empty when none.
 * Returns 0, 1 when fn asked to stop, -1 on error. */
int bb_bedrock_list_parse(const char *body, size_t len, bb_bedrock_job_fn fn, void *ctx,
    struct bb_buf *next_token, struct bb_error *err);

/* List every job matching f (NULL: all), following nextToken. */
int bb_bedrock_list_jobs(struct bb_aws *aws, const struct bb_bedrock_list_filter *f,
    bb_bedrock_job_fn fn, void *ctx, struct bb_aws_error *ae, struct bb_error *err);

/* ---- StopModelInvocationJob ---- */

/* Ask a job to stop. A job already ended answers ConflictException. */
int bb_bedrock_stop_job(struct bb_aws *aws, const char *job, struct bb_aws_error *ae,
    struct bb_error *err);

/* The path of a job operation: "/model-invocation-job/<id-or-arn encoded
 * as one segment>" plus suffix (NULL or "/stop"), appended to out. */
int bb_bedrock_job_path(const char *job, const char *suffix, struct bb_buf *out);

#endif
