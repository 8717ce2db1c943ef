/* jobs.c - tokens, job names, output prefixes, stats and poll scheduling
 * for bb-submit and bb-wait; see jobs.h. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hash.h"
#include "jobs.h"
#include "json.h"

/* Bump when the token derivation changes: old and new runs then never
 * mistake each other's jobs for their own. */
#define TOKEN_TAG "bbatch-submit-token-v1"

static int
hash_member(struct bb_sha256 *h, const char *s)
{
	unsigned char len[8];
	size_t n = s ? strlen(s) : 0;
	int i;

	/* length-prefixed: ("ab","c") and ("a","bc") differ */
	for (i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
	if (bb_sha256_update(h, len, sizeof(len)) < 0)
		return -1;
	return n ? bb_sha256_update(h, s, n) : 0;
}

int
bb_jobs_client_token(const struct bb_jobs_target *t, char out[BB_JOBS_TOKEN_LEN + 1],
    struct bb_error *err)
{
	struct bb_sha256 h;
	unsigned char dig[BB_SHA256_LEN];
	int rc = -1;

	memset(&h, 0, sizeof(h));
	if (bb_sha256_init(&h) < 0 ||
	    hash_member(&h, TOKEN_TAG) < 0 ||
	    hash_member(&h, t->input_uri) < 0 ||
	    hash_member(&h, t->content) < 0 ||
	    hash_member(&h, t->model_id) < 0 ||
	    hash_member(&h, t->output_uri) < 0 ||
	    hash_member(&h, t->invocation_type) < 0 ||
	    (t->salt && *t->salt && hash_member(&h, t->salt) < 0) ||
	    bb_sha256_final(&h, dig) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "cannot compute the client token: SHA-256 failed");
		goto out;
	}
	bb_hex_encode(dig, sizeof(dig), out);
	out[BB_JOBS_TOKEN_LEN] = '\0';
	rc = 0;
out:
	bb_sha256_release(&h);
	return rc;
}

static int
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int
is_name_char(int c)
{
	return is_alnum(c) || c == '+' || c == '-' || c == '.';
}

int
bb_jobs_name_valid(const char *name)
{
	size_t n = strlen(name), i;

	/* [a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9+.-]){0,63} within 63 bytes is: an
	 * alphanumeric first byte, then bytes of [a-zA-Z0-9+.-]. */
	if (n == 0 || n > BB_JOBS_NAME_MAX || !is_alnum((unsigned char)name[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!is_name_char((unsigned char)name[i]))
			return 0;
	return 1;
}

/* Append s[0..n) sanitised: bytes outside the name set become '-', runs
 * of '-' are squeezed, leading '-' (and '.', '+': the first byte must be
 * alphanumeric) dropped, at most max bytes, no trailing '-'. */
static int
add_sanitised(struct bb_buf *out, const char *s, size_t n, size_t max)
{
	size_t start = out->len, i;
	int c;

	for (i = 0; i < n && out->len - start < max; i++) {
		c = (unsigned char)s[i];
		if (!is_name_char(c))
			c = '-';
		if (out->len == start && !is_alnum(c))
			continue;
		if (c == '-' && out->len > start && out->data[out->len - 1] == '-')
			continue;
		if (bb_buf_addc(out, (char)c) < 0)
			return -1;
	}
	while (out->len > start && !is_alnum((unsigned char)out->data[out->len - 1]))
		bb_buf_setlen(out, out->len - 1);
	return 0;
}

static const char *const name_exts[] = { ".gz", ".jsonl", ".json", ".ndjson" };

int
bb_jobs_job_name(const char *prefix, const char *input_uri, const char *token,
    struct bb_buf *out)
{
	const char *stem = "", *end, *p;
	size_t stem_len = 0, hash_len, i, room, start = out->len, mark;
	int again;

	/* the last non-empty segment of the URI's path */
	if (input_uri != NULL) {
		p = strstr(input_uri, "://");
		p = p ? p + 3 : input_uri;
		end = p + strlen(p);
		while (end > p && end[-1] == '/')
			end--;
		stem = end;
		while (stem > p && stem[-1] != '/')
			stem--;
		if (stem == p && strstr(input_uri, "://") != NULL)
			stem = end;          /* just a bucket */
		stem_len = (size_t)(end - stem);
		do {
			again = 0;
			for (i = 0; i < sizeof(name_exts) / sizeof(name_exts[0]); i++) {
				size_t el = strlen(name_exts[i]);

				if (stem_len > el &&
				    strncasecmp(stem + stem_len - el, name_exts[i], el) == 0) {
					stem_len -= el;
					again = 1;
				}
			}
		} while (again);
	}
	hash_len = token ? strlen(token) : 0;
	if (hash_len > 10)
		hash_len = 10;
	/* 63 = prefix + '-' + stem + '-' + hash: the stem keeps what is left
	 * after a prefix of at most 24 bytes. */
	room = BB_JOBS_NAME_MAX - (hash_len ? hash_len + 1 : 0);
	if (prefix != NULL && *prefix) {
		if (add_sanitised(out, prefix, strlen(prefix), room > 25 ? 24 : room / 2) < 0)
			return -1;
	}
	mark = out->len;
	if (mark > start && bb_buf_addc(out, '-') < 0)
		return -1;
	if (add_sanitised(out, stem, stem_len, room - (out->len - start)) < 0)
		return -1;
	if (out->len == mark + (mark > start)) {
		bb_buf_setlen(out, mark);   /* no stem: drop the '-' */
		if (mark == start && bb_buf_adds(out, "job") < 0)
			return -1;
	}
	if (hash_len && (bb_buf_addc(out, '-') < 0 || add_sanitised(out, token, hash_len,
	    hash_len) < 0))
		return -1;
	return 0;
}

const char *
bb_jobs_invocation_type(const char *s)
{
	if (s == NULL)
		return NULL;
	if (strcasecmp(s, "InvokeModel") == 0 || strcasecmp(s, "invoke") == 0)
		return "InvokeModel";
	if (strcasecmp(s, "Converse") == 0)
		return "Converse";
	return NULL;
}

int
bb_jobs_status_inflight(enum bb_bedrock_status st)
{
	return st == BB_JOB_SUBMITTED || st == BB_JOB_VALIDATING || st == BB_JOB_SCHEDULED ||
	    st == BB_JOB_INPROGRESS || st == BB_JOB_STOPPING;
}

static int
arn_id_is(const char *arn, const char *id)
{
	const char *slash;

	if (strncmp(arn, "arn:", 4) != 0 || (slash = strrchr(arn, '/')) == NULL)
		return 0;
	return strcmp(slash + 1, id) == 0;
}

int
bb_jobs_model_match(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return 0;
	return strcmp(a, b) == 0 || arn_id_is(a, b) || arn_id_is(b, a);
}

int
bb_jobs_output_prefix(const char *output_uri, const char *job, struct bb_buf *out,
    struct bb_error *err)
{
	char id[BB_BEDROCK_JOB_ID_LEN + 1];
	size_t n = strlen(output_uri);

	if (bb_bedrock_job_id(job, id, err) < 0)
		return -1;
	while (n > 0 && output_uri[n - 1] == '/')
		n--;
	if (n >= 5 && output_uri[n - 1] == ':' && strncmp(output_uri, "s3:", 3) == 0)
		n = strlen(output_uri);   /* "s3://" alone: keep it */
	if (bb_buf_add(out, output_uri, n) < 0 || bb_buf_addf(out, "/%s/", id) < 0)
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	return 0;
}

static const char *const manifest_keys[] = {
	"totalRecordCount", "processedRecordCount", "successRecordCount",
	"errorRecordCount", "inputTokenCount", "outputTokenCount",
};
static const char *const stats_keys[] = {
	"total_records", "processed_records", "success_records",
	"error_records", "input_tokens", "output_tokens",
};

int
bb_jobs_manifest_stats(const char *body, size_t len, struct bb_buf *out,
    struct bb_error *err)
{
	struct bb_json_span sp[6];
	long long v;
	size_t i;
	int first = 1;

	if (bb_json_fields(body, len, manifest_keys, 6, sp, err) < 0) {
		bb_error_prefix(err, "manifest.json.out");
		if (err)
			err->kind = BB_ERR_REMOTE;
		return -1;
	}
	if (bb_buf_addc(out, '{') < 0)
		goto oom;
	for (i = 0; i < 6; i++) {
		if (sp[i].p == NULL || bb_json_span_int(&sp[i], 0, INT64_MAX, &v) < 0)
			continue;
		if (bb_buf_addf(out, "%s\"%s\":%lld", first ? "" : ",", stats_keys[i], v) < 0)
			goto oom;
		first = 0;
	}
	if (bb_buf_addc(out, '}') < 0)
		goto oom;
	return 0;
oom:
	return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
}

int
bb_jobs_job_stats(const struct bb_bedrock_job *job, struct bb_buf *out)
{
	long long v[4];
	size_t i;
	int first = 1;

	v[0] = job->total_records;
	v[1] = job->processed_records;
	v[2] = job->success_records;
	v[3] = job->error_records;
	if (v[0] < 0 && v[1] < 0 && v[2] < 0 && v[3] < 0)
		return 0;
	if (bb_buf_addc(out, '{') < 0)
		return -1;
	for (i = 0; i < 4; i++) {
		if (v[i] < 0)
			continue;
		if (bb_buf_addf(out, "%s\"%s\":%lld", first ? "" : ",", stats_keys[i], v[i]) < 0)
			return -1;
		first = 0;
	}
	return bb_buf_addc(out, '}');
}

int
bb_jobs_strip_fields(const char *line, size_t len, const char *const *keys, size_t nkeys,
    struct bb_buf *out, size_t *removed, struct bb_error *err)
{
	struct bb_json_span sp[16];
	struct bb_json *doc = NULL;
	size_t i, k, nrm = 0, kept = 0, keylen;
	int rc = -1, drop;

	if (removed)
		*removed = 0;
	if (nkeys > 16)
		return bb_error_set(err, BB_ERR_USAGE, "too many fields to strip");
	if (bb_json_fields(line, len, keys, nkeys, sp, err) < 0)
		return -1;
	for (i = 0; i < nkeys; i++)
		nrm += sp[i].p != NULL;
	if (nrm == 0) {
		if (bb_buf_add(out, line, len) < 0)
			return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		return 0;
	}
	if (bb_json_parse(line, len, 0, &doc, err) < 0)
		return -1;
	if (bb_buf_addc(out, '{') < 0)
		goto oom;
	for (i = 0; i < doc->n; i++) {
		drop = 0;
		for (k = 0; k < nkeys && !drop; k++) {
			keylen = strlen(keys[k]);
			drop = doc->keylens[i] == keylen && memcmp(doc->keys[i], keys[k], keylen) == 0;
		}
		if (drop)
			continue;
		if ((kept++ && bb_buf_addc(out, ',') < 0) ||
		    bb_json_add_str(out, doc->keys[i], doc->keylens[i]) < 0 ||
		    bb_buf_addc(out, ':') < 0 || bb_json_write(doc->items[i], out) < 0)
			goto oom;
	}
	if (bb_buf_addc(out, '}') < 0)
		goto oom;
	if (removed)
		*removed = nrm;
	rc = 0;
	goto out;
oom:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
out:
	bb_json_free(doc);
	return rc;
}

double
bb_jobs_backoff(int attempt, double base, double max, double u)
{
	double d = base;
	int i;

	for (i = 1; i < attempt && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	if (u < 0)
		u = 0;
	if (u >= 1)
		u = 1;
	return d / 2 + d / 2 * u;
}

double
bb_jobs_jitter(double interval, double frac, double u)
{
	return interval * (1 - frac + 2 * frac * u);
}

void
bb_jobs_rand_init(struct bb_jobs_rand *r, uint64_t seed)
{
	/* mixed with the golden ratio so that small seeds (0 too, which
	 * xorshift would keep at 0 for ever) start from a busy state */
	r->state = seed ^ 0x9e3779b97f4a7c15ULL;
	if (r->state == 0)
		r->state = 0x9e3779b97f4a7c15ULL;
}

double
bb_jobs_rand_unit(struct bb_jobs_rand *r)
{
	r->state ^= r->state >> 12;
	r->state ^= r->state << 25;
	r->state ^= r->state >> 27;
	/* the top 53 bits of the scrambled state over 2^53 */
	return (double)((r->state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

void
bb_jobs_rate_init(struct bb_jobs_rate *r, double rate, double burst, double now)
{
	r->max_rate = rate > 0 ? rate : 1;
	r->min_rate = r->max_rate / 64;
	if (r->min_rate > 0.2)
		r->min_rate = 0.2;
	r->rate = r->max_rate;
	r->burst = burst >= 1 ? burst : 1;
	r->tokens = r->burst;
	r->last = now;
}

double
bb_jobs_rate_take(struct bb_jobs_rate *r, double now)
{
	if (now > r->last) {
		r->tokens += (now - r->last) * r->rate;
		if (r->tokens > r->burst)
			r->tokens = r->burst;
		r->last = now;
	}
	if (r->tokens >= 1) {
		r->tokens -= 1;
		return 0;
	}
	return (1 - r->tokens) / r->rate;
}

void
bb_jobs_rate_throttled(struct bb_jobs_rate *r)
{
	r->rate /= 2;
	if (r->rate < r->min_rate)
		r->rate = r->min_rate;
	/* the bucket empties too: the next request waits a whole period */
	if (r->tokens > 0)
		r->tokens = 0;
}

void
bb_jobs_rate_ok(struct bb_jobs_rate *r)
{
	r->rate += r->max_rate / 10;
	if (r->rate > r->max_rate)
		r->rate = r->max_rate;
}
