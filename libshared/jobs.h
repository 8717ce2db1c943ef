/*
 * jobs.h - the pieces of bb-submit and bb-wait that are policy-free and
 * worth testing on their own: the idempotency token of a shard, job names
 * that satisfy the service's pattern, the output prefix of a job, the
 * statistics of a manifest.json.out, removing fields a re-run would
 * otherwise repeat, and a poll scheduler (jittered backoff and a request
 * rate that halves when the service throttles and recovers slowly).
 *
 * Nothing here does I/O; every function is pure apart from its outputs.
 */
#ifndef BB_JOBS_H
#define BB_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "bedrock.h"
#include "buf.h"
#include "error.h"

/* ---- submitting ---- */

/*
 * What a job is made of, for its clientRequestToken. Members may be NULL
 * (treated as ""). content is what identifies the bytes of the input: the
 * shard's SHA-256 when known, else the object's ETag. salt is a user
 * string (bb-submit --token-salt) that makes a deliberate resubmission of
 * the same shard a new job; NULL or "" adds nothing, so tokens made
 * without one stay the same.
 */
struct bb_jobs_target {
	const char *input_uri;
	const char *content;
	const char *model_id;
	const char *output_uri;
	const char *invocation_type;     /* "InvokeModel" or "Converse" */
	const char *salt;
};

#define BB_JOBS_TOKEN_LEN 64
/* The clientRequestToken of a target: 64 lower-case hex digits of a
 * SHA-256 over a version tag and the members (each length-prefixed, so no
 * two targets share an encoding). Always matches the service's token
 * pattern. 0, or -1 when hashing failed (err). */
int bb_jobs_client_token(const struct bb_jobs_target *t, char out[BB_JOBS_TOKEN_LEN + 1],
    struct bb_error *err);

/* Longest job name the service accepts. */
#define BB_JOBS_NAME_MAX 63
/* 1 when name matches ModelInvocationJobName (anchored, 1..63 bytes:
 * [a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9+.-]){0,63}). */
int bb_jobs_name_valid(const char *name);
/*
 * A job name "<prefix>-<stem>-<hash>" that always satisfies the pattern:
 * stem is the base name of input_uri (the last non-empty path segment,
 * without a .jsonl/.json/.gz extension); characters outside
 * [a-zA-Z0-9+.-] become '-', runs of '-' are squeezed, and prefix and
 * stem are shortened so the whole fits in 63 bytes; hash is the first 10
 * characters of token (so names are unique per token). A prefix that
 * sanitises to nothing is dropped; the name then starts with the stem, or
 * with "job" when there is none. Appends to out.
 */
int bb_jobs_job_name(const char *prefix, const char *input_uri, const char *token,
    struct bb_buf *out);
/* The modelInvocationType for a user's spelling: "InvokeModel"/"invoke"
 * -> "InvokeModel", "Converse"/"converse" -> "Converse" (any case), NULL
 * for anything else. */
const char *bb_jobs_invocation_type(const char *s);
/* 1 for the statuses that count against the concurrency quota: Submitted,
 * Validating, Scheduled, InProgress, Stopping. */
int bb_jobs_status_inflight(enum bb_bedrock_status st);
/* 1 when two model identifiers name the same model: equal, or one is an
 * ARN whose resource id (after the last '/') is the other. */
int bb_jobs_model_match(const char *a, const char *b);

/* ---- waiting ---- */

/* Append "<output uri without trailing '/'>/<job id>/" for a job ARN (or
 * id) to out. -1 (BB_ERR_INPUT) when job is not a job ARN or id. */
int bb_jobs_output_prefix(const char *output_uri, const char *job, struct bb_buf *out,
    struct bb_error *err);
/*
 * The "stats" object of a manifest.json.out body, appended to out as
 * {"total_records":N,"processed_records":N,"success_records":N,
 * "error_records":N,"input_tokens":N,"output_tokens":N}, members absent
 * from the manifest left out. -1 (BB_ERR_REMOTE) when the body is not a
 * JSON object.
 */
int bb_jobs_manifest_stats(const char *body, size_t len, struct bb_buf *out,
    struct bb_error *err);
/* The same object from a job's record counts (Get), without tokens;
 * appends nothing and returns 0 when the job reported no counts. */
int bb_jobs_job_stats(const struct bb_bedrock_job *job, struct bb_buf *out);

/*
 * Copy the JSON object line[0..len) to out without its top-level members
 * named in keys (a re-run must not add a second "status" or "error").
 * When none is present the line is copied byte for byte; otherwise the
 * object is re-serialised compactly (other members keep their order and
 * values). *removed (may be NULL) gets the number of members dropped.
 * -1 (BB_ERR_INPUT) on invalid JSON or a non-object.
 */
int bb_jobs_strip_fields(const char *line, size_t len, const char *const *keys, size_t nkeys,
    struct bb_buf *out, size_t *removed, struct bb_error *err);

/* ---- scheduling ---- */

/*
 * Backoff before retry number attempt (1 = the first): base * 2^(attempt-1)
 * capped at max, then jittered into [d/2, d] by u (uniform in [0, 1)).
 */
double bb_jobs_backoff(int attempt, double base, double max, double u);
/* interval jittered by +-frac using u in [0, 1): interval*(1-frac+2*frac*u). */
double bb_jobs_jitter(double interval, double frac, double u);

/*
 * The u of bb_jobs_backoff() and bb_jobs_jitter(): a small generator
 * (xorshift64*) for spreading retries and polls, not for anything that
 * must be unpredictable. Give it a seed that differs between runs (the
 * time and the pid) with bb_jobs_rand_init(); any seed works, 0 too, and
 * the same seed gives the same sequence. Nothing to release.
 */
struct bb_jobs_rand {
	uint64_t state;      /* never 0 */
};
void bb_jobs_rand_init(struct bb_jobs_rand *r, uint64_t seed);
/* The next number, uniform in [0, 1) (53 bits). */
double bb_jobs_rand_unit(struct bb_jobs_rand *r);

/*
 * A request rate limiter (token bucket) with additive increase and
 * multiplicative decrease: bb_jobs_rate_throttled() halves the rate (not
 * below min), bb_jobs_rate_ok() raises it by a tenth of the configured
 * rate per success (not above it). Times are seconds on any monotonic
 * clock. Initialise with bb_jobs_rate_init(); nothing to release.
 */
struct bb_jobs_rate {
	double max_rate;     /* configured requests per second */
	double min_rate;
	double rate;         /* current */
	double burst;        /* bucket size */
	double tokens;
	double last;         /* time of the last refill */
};
void bb_jobs_rate_init(struct bb_jobs_rate *r, double rate, double burst, double now);
/* Seconds to wait before a request may be sent (0: take a token now;
 * the token is taken only then). */
double bb_jobs_rate_take(struct bb_jobs_rate *r, double now);
void bb_jobs_rate_throttled(struct bb_jobs_rate *r);
void bb_jobs_rate_ok(struct bb_jobs_rate *r);

#endif
