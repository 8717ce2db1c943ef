/*
 * jobs.h - what bedrock.c, jobs.c and models.c share inside bb-emu (the
 * rest of the emulator only sees emu.h).
 *
 * Locking: emu_bedrock_handle() and emu_jobs_tick() take e->lock
 * themselves (the ticker lets go of it while it validates a job's input
 * and while it processes records);
 * every emu_jobs_* function below expects the caller to hold it.
 */
#ifndef BB_EMU_JOBS_H
#define BB_EMU_JOBS_H

#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "family.h"
#include "json.h"
#include "emu.h"

enum emu_job_status {
	EMU_JOB_SUBMITTED = 0, EMU_JOB_VALIDATING, EMU_JOB_SCHEDULED, EMU_JOB_IN_PROGRESS,
	EMU_JOB_COMPLETED, EMU_JOB_PARTIALLY_COMPLETED, EMU_JOB_FAILED, EMU_JOB_STOPPING,
	EMU_JOB_STOPPED, EMU_JOB_EXPIRED,
};
/* Bedrock's name of a status ("InProgress"); parse returns -1 if unknown. */
const char *emu_job_status_name(enum emu_job_status s);
int emu_job_status_parse(const char *s);
/* 1 for Completed, PartiallyCompleted, Failed, Stopped, Expired. */
int emu_job_status_terminal(enum emu_job_status s);

/* A validated CreateModelInvocationJob request (strings borrowed). */
struct emu_job_spec {
	const char *name, *role_arn, *model_id, *token;
	const char *input_config;   /* inputDataConfig as JSON text */
	const char *output_config;  /* outputDataConfig as JSON text */
	const char *vpc_config;     /* JSON text or NULL */
	const char *tags;           /* JSON text or NULL */
	const char *input_uri, *output_uri;
	int timeout_hours;          /* 0: the default (168) */
	int timeout_given;
	int converse;
};

struct emu_job;   /* opaque outside jobs.c */

/*
 * Create a job, or find the job an earlier Create with the same
 * clientRequestToken made (*existed = 1). On refusal returns -1 with
 * *errtype set ("ValidationException", "ServiceQuotaExceededException")
 * and err holding the message. *arn receives the job ARN (static storage
 * of the job; valid while the lock is held).
 */
int emu_jobs_create(struct emu *e, const struct emu_job_spec *spec, const char **arn,
    int *existed, const char **errtype, struct bb_error *err);
/* Find by 12-character id; NULL if none. */
struct emu_job *emu_jobs_find(struct emu *e, const char *id);
/* Ask a job to stop: -1 with err->kind BB_ERR_INPUT (Conflict) when it
 * has already ended. */
int emu_jobs_stop(struct emu *e, struct emu_job *j, struct bb_error *err);
/* All jobs in creation order. */
size_t emu_jobs_count(struct emu *e);
struct emu_job *emu_jobs_at(struct emu *e, size_t i);
double emu_job_submit_time(const struct emu_job *j);
enum emu_job_status emu_job_status(const struct emu_job *j);
const char *emu_job_name(const struct emu_job *j);
const char *emu_job_arn(const struct emu_job *j);
/* The job as GetModelInvocationJob's response / a list summary (JSON object). */
int emu_job_write_json(const struct emu_job *j, struct bb_buf *out);
/* "2024-08-01T12:00:00.123Z" */
void emu_iso8601(double t, char *buf, size_t n);

/* ---- models.c ---- */

/* Deterministic pseudo-random numbers (splitmix64) and a 64-bit hash. */
uint64_t emu_rng_next(uint64_t *state);
double emu_rng_unit(uint64_t *state);   /* [0, 1) */
uint64_t emu_hash64(const void *p, size_t n, uint64_t seed);

/*
 * The simulated modelOutput for one valid modelInput of family f, appended
 * to out as a JSON object; the same input and seed give the same output.
 * *in_tok / *out_tok receive the usage counted for the manifest.
 */
int emu_model_output(enum bb_family f, const char *model_id, const struct bb_json *input,
    uint64_t seed, struct bb_buf *out, long long *in_tok, long long *out_tok);

#endif
