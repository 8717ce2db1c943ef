/*
 * faults.c - seeded fault injection and the /_emu control endpoint.
 *
 * Every random decision is a hash of (--seed, what is decided, a counter),
 * never a shared PRNG stream, so two runs with the same seed and the same
 * sequence of requests see the same faults, whatever the threads do.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "emu.h"
#include "json.h"

static uint64_t fault_seq;     /* requests seen (under e->lock) */

static uint64_t
mix64(uint64_t z)
{
	/* splitmix64's finaliser */
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double
emu_rand_uniform(const struct emu *e, uint64_t a, uint64_t b)
{
	uint64_t h = mix64(mix64((uint64_t)e->faults.seed ^ 0x5eedULL) ^ a);

	h = mix64(h ^ mix64(b + 0x632be59bd9b4e019ULL));
	return (double)(h >> 11) / 9007199254740992.0;   /* 53 bits / 2^53 */
}

uint64_t
emu_rand_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;   /* FNV-1a, then mixed */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return mix64(h);
}

/* "METHOD /path[?query]" starts with m */
static int
lose_matches(const char *m, const char *method, const char *path, const char *query)
{
	struct bb_buf b = BB_BUF_INIT;
	int yes;

	if (m[0] == '\0')
		return 1;
	bb_buf_addf(&b, "%s %s%s%s", method, path, query[0] ? "?" : "", query);
	yes = b.data != NULL && strncmp(b.data, m, strlen(m)) == 0;
	bb_buf_release(&b);
	return yes;
}

enum emu_fault
emu_fault_next(struct emu *e, const char *method, const char *path, const char *query,
    double *slow_ms)
{
	struct emu_faults f;
	uint64_t n;
	double u;
	int lose = 0;

	pthread_mutex_lock(&e->lock);
	f = e->faults;
	n = fault_seq++;
	if (e->faults.lose_next > 0 && lose_matches(e->faults.lose_match, method, path, query)) {
		e->faults.lose_next--;
		lose = 1;
	}
	pthread_mutex_unlock(&e->lock);
	*slow_ms = f.slow_ms;
	if (lose)
		return EMU_FAULT_LOST;
	if (f.throttle_rate <= 0 && f.error_rate <= 0 && f.drop_rate <= 0 && f.lost_rate <= 0)
		return EMU_FAULT_NONE;
	u = emu_rand_uniform(e, 0xfa17ULL, n);
	if (u < f.throttle_rate)
		return EMU_FAULT_THROTTLE;
	u -= f.throttle_rate;
	if (u < f.error_rate)
		return EMU_FAULT_ERROR;
	u -= f.error_rate;
	if (u < f.drop_rate)
		return EMU_FAULT_DROP;
	u -= f.drop_rate;
	if (u < f.lost_rate)
		return EMU_FAULT_LOST;
	return EMU_FAULT_NONE;
}

/* The settable numbers: JSON name, where, and bounds. */
struct knob {
	const char *name;
	size_t off;
	double min, max;
	int is_long;   /* a long in struct emu, else a double */
};

#define FOFF(f) offsetof(struct emu, faults.f)
#define QOFF(f) offsetof(struct emu, quotas.f)
#define TOFF(f) offsetof(struct emu, timing.f)

static const struct knob knobs[] = {
	{ "throttle_rate", FOFF(throttle_rate), 0, 1, 0 },
	{ "error_rate", FOFF(error_rate), 0, 1, 0 },
	{ "drop_rate", FOFF(drop_rate), 0, 1, 0 },
	{ "lost_rate", FOFF(lost_rate), 0, 1, 0 },
	{ "lose_next", FOFF(lose_next), 0, 1e6, 1 },
	{ "slow_ms", FOFF(slow_ms), 0, 600000, 0 },
	{ "record_error_rate", FOFF(record_error_rate), 0, 1, 0 },
	{ "fail_rate", FOFF(job_fail_rate), 0, 1, 0 },
	{ "expire_rate", FOFF(job_expire_rate), 0, 1, 0 },
	{ "partial_rate", FOFF(job_partial_rate), 0, 1, 0 },
	{ "max_concurrent", QOFF(max_concurrent), 1, 1e6, 1 },
	{ "min_records", QOFF(min_records), 0, 1e9, 1 },
	{ "max_records", QOFF(max_records_job), 1, 1e9, 1 },
	/* the per-state durations of --durations, in emulated seconds */
	{ "submitted_s", TOFF(submitted_s), 0, 1e9, 0 },
	{ "validating_s", TOFF(validating_s), 0, 1e9, 0 },
	{ "scheduled_s", TOFF(scheduled_s), 0, 1e9, 0 },
	{ "record_s", TOFF(per_record_s), 0, 1e9, 0 },
	{ "stopping_s", TOFF(stopping_s), 0, 1e9, 0 },
};

static void
faults_json(struct emu *e, struct bb_buf *out)
{
	size_t i;

	bb_buf_reset(out);
	bb_buf_addc(out, '{');
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		const char *p = (const char *)e + knobs[i].off;

		bb_buf_addf(out, "\"%s\":", knobs[i].name);
		if (knobs[i].is_long)
			bb_json_add_int(out, *(const long *)(const void *)p);
		else
			bb_json_add_double(out, *(const double *)(const void *)p);
		bb_buf_addc(out, ',');
	}
	bb_buf_adds(out, "\"lose_match\":");
	bb_json_add_str(out, e->faults.lose_match, strlen(e->faults.lose_match));
	bb_buf_addf(out, ",\"seed\":%lu}\n", e->faults.seed);
}

static void
control_error(struct emu_response *resp, int status, const char *msg)
{
	resp->status = status;
	bb_buf_reset(&resp->body);
	bb_buf_adds(&resp->body, "{\"message\":");
	bb_json_add_str(&resp->body, msg, strlen(msg));
	bb_buf_adds(&resp->body, "}\n");
	bb_http_headers_set(&resp->headers, "Content-Type", "application/json");
}

/* Apply a POST /_emu/faults body; everything is checked before anything
 * is changed. */
static int
faults_set(struct emu *e, const struct emu_request *req, struct emu_response *resp)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_json *j = NULL;
	double vals[sizeof(knobs) / sizeof(knobs[0])];
	int have[sizeof(knobs) / sizeof(knobs[0])];
	const struct bb_json *v;
	size_t i, k;
	int rc = -1, reset = 0, have_seed = 0;
	unsigned long seed = 0;
	const char *match = NULL;
	char msg[200];

	memset(have, 0, sizeof(have));
	if (bb_json_parse(req->body ? req->body : "", req->body_len, 8, &j, &err) < 0 ||
	    j->type != BB_JSON_OBJECT) {
		snprintf(msg, sizeof(msg), "body must be a JSON object: %.150s", err.msg);
		control_error(resp, 400, msg);
		goto out;
	}
	for (k = 0; k < j->n; k++) {
		const char *key = j->keys[k];

		v = j->items[k];
		if (strcmp(key, "reset") == 0) {
			reset = v->type == BB_JSON_TRUE;
			continue;
		}
		if (strcmp(key, "lose_match") == 0) {
			if (v->type != BB_JSON_STRING || strlen(v->str) != v->len ||
			    v->len >= sizeof(e->faults.lose_match)) {
				control_error(resp, 400, "lose_match must be a string of at most 127 "
				    "bytes, e.g. \"POST /model-invocation-job\"");
				goto out;
			}
			match = v->str;
			continue;
		}
		if (strcmp(key, "seed") == 0) {
			if (v->type != BB_JSON_NUMBER || !v->is_int || v->i < 0) {
				control_error(resp, 400, "seed must be a non-negative integer");
				goto out;
			}
			seed = (unsigned long)v->i;
			have_seed = 1;
			continue;
		}
		for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
			if (strcmp(key, knobs[i].name) == 0)
				break;
		if (i == sizeof(knobs) / sizeof(knobs[0])) {
			snprintf(msg, sizeof(msg), "unknown setting '%.60s'", key);
			control_error(resp, 400, msg);
			goto out;
		}
		if (v->type != BB_JSON_NUMBER || !isfinite(v->num) || v->num < knobs[i].min ||
		    v->num > knobs[i].max || (knobs[i].is_long && !v->is_int)) {
			snprintf(msg, sizeof(msg), "%s must be a number in [%g, %g]", knobs[i].name,
			    knobs[i].min, knobs[i].max);
			control_error(resp, 400, msg);
			goto out;
		}
		vals[i] = v->num;
		have[i] = 1;
	}
	pthread_mutex_lock(&e->lock);
	if (reset) {
		unsigned long s = e->faults.seed;

		memset(&e->faults, 0, sizeof(e->faults));
		e->faults.seed = s;
		fault_seq = 0;
	}
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		char *p = (char *)e + knobs[i].off;

		if (!have[i])
			continue;
		if (knobs[i].is_long)
			*(long *)(void *)p = (long)vals[i];
		else
			*(double *)(void *)p = vals[i];
		if (strcmp(knobs[i].name, "max_records") == 0)
			e->quotas.max_records_file = (long)vals[i];
	}
	if (have_seed) {
		e->faults.seed = seed;
		fault_seq = 0;
	}
	if (match != NULL)
		snprintf(e->faults.lose_match, sizeof(e->faults.lose_match), "%s", match);
	faults_json(e, &resp->body);
	pthread_mutex_unlock(&e->lock);
	resp->status = 200;
	bb_http_headers_set(&resp->headers, "Content-Type", "application/json");
	rc = 0;
out:
	bb_json_free(j);
	return rc;
}

void
emu_control_handle(struct emu *e, const struct emu_request *req, struct emu_response *resp)
{
	if (strcmp(req->path, "/_emu/health") == 0 && strcmp(req->method, "GET") == 0) {
		resp->status = 200;
		bb_buf_adds(&resp->body, "{\"status\":\"ok\"}\n");
		bb_http_headers_set(&resp->headers, "Content-Type", "application/json");
	} else if (strcmp(req->path, "/_emu/faults") == 0 && strcmp(req->method, "GET") == 0) {
		pthread_mutex_lock(&e->lock);
		faults_json(e, &resp->body);
		pthread_mutex_unlock(&e->lock);
		resp->status = 200;
		bb_http_headers_set(&resp->headers, "Content-Type", "application/json");
	} else if (strcmp(req->path, "/_emu/faults") == 0 &&
	    (strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0)) {
		faults_set(e, req, resp);
	} else if (strcmp(req->path, "/_emu/health") == 0 || strcmp(req->path, "/_emu/faults") == 0) {
		control_error(resp, 405, "method not allowed");
	} else
		control_error(resp, 404, "no such control endpoint (try /_emu/health, /_emu/faults)");
}
