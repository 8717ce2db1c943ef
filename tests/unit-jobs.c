/* unit-jobs.c - libshared/jobs: client tokens, job names, output prefixes,
 * manifest stats, stripping fields, backoff, the rate limiter and the
 * jitter generator. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bedrock.h"
#include "buf.h"
#include "jobs.h"
#include "tap.h"

static int
all_hex(const char *s)
{
	return strspn(s, "0123456789abcdef") == strlen(s);
}

static void
test_token(void)
{
	/* Golden values from an independent implementation (Python hashlib):
	 * SHA-256 over each of "bbatch-submit-token-v1", input, content,
	 * model, output, invocation type (and salt when not empty), each
	 * preceded by its length as 8 big-endian bytes. A change here breaks
	 * idempotency across versions: bump the tag in jobs.c instead. */
	static const struct {
		struct bb_jobs_target t;
		const char *want;
	} golden[] = {
		{ { "s3://bkt/in/a.jsonl", "abc", "anthropic.claude-3-haiku-20240307-v1:0",
		    "s3://bkt/out/", "InvokeModel", NULL },
		  "e5a8d7b7e6aa5b94267d1ef8319454fb390d01dade4765877a6bde6de649c1a8" },
		{ { "s3://b/x.jsonl", NULL, "m", "s3://o/", "Converse", "retry2" },
		  "3e396aa62564dfae14c96b8d6b4bbd476ed562c175160fb6d440bc0fe1807722" },
	};
	struct bb_jobs_target base = { "s3://b/in/s1.jsonl", "deadbeef", "model-a", "s3://b/out/",
	    "InvokeModel", NULL }, t;
	char tok0[BB_JOBS_TOKEN_LEN + 1], tok[BB_JOBS_TOKEN_LEN + 1];
	const char **member;
	size_t i;
	int k;

	for (i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
		ok(bb_jobs_client_token(&golden[i].t, tok, NULL) == 0, "token %zu computed", i);
		is_str(tok, golden[i].want, "token matches the independent value");
	}
	bb_jobs_client_token(&base, tok0, NULL);
	ok(strlen(tok0) == 64 && all_hex(tok0), "token is 64 lower-case hex digits");
	bb_jobs_client_token(&base, tok, NULL);
	is_str(tok, tok0, "same target, same token");
	/* every member counts */
	for (k = 0; k < 6; k++) {
		t = base;
		member = k == 0 ? &t.input_uri : k == 1 ? &t.content : k == 2 ? &t.model_id :
		    k == 3 ? &t.output_uri : k == 4 ? &t.invocation_type : &t.salt;
		*member = "other";
		bb_jobs_client_token(&t, tok, NULL);
		ok(strcmp(tok, tok0) != 0, "changing member %d changes the token", k);
	}
	t = base;
	t.salt = "";
	bb_jobs_client_token(&t, tok, NULL);
	is_str(tok, tok0, "an empty salt is no salt");
	/* no ambiguity between members */
	t = base;
	t.input_uri = "s3://b/in/s1.jsonldead";
	t.content = "beef";
	bb_jobs_client_token(&t, tok, NULL);
	ok(strcmp(tok, tok0) != 0, "member boundaries are part of the hash");
}

static void
test_names(void)
{
	static const struct {
		const char *name;
		int valid;
	} valid[] = {
		{ "my-job", 1 }, { "Job.v2+x", 1 }, { "abc--def", 1 }, { "a", 1 },
		{ "job_1", 0 }, { "-abc", 0 }, { "", 0 }, { ".abc", 0 }, { "a b", 0 },
		{ "abc-", 1 }, { "x\xc3\xa9", 0 },
		{ "a23456789012345678901234567890123456789012345678901234567890123", 1 },
		{ "a234567890123456789012345678901234567890123456789012345678901234", 0 },
	};
	static const struct {
		const char *prefix, *uri, *token, *want;
	} cases[] = {
		{ "bb", "s3://bkt/run1/input/shard-00001.jsonl", "0123456789abcdef",
		  "bb-shard-00001-0123456789" },
		{ "bb", "s3://bkt/run1/input/part_7.jsonl.gz", "ffffffffffff",
		  "bb-part-7-ffffffffff" },
		{ "my run!", "s3://bkt/in/prefix/", "abc", "my-run-prefix-abc" },
		{ "", "s3://bkt/a.jsonl", "0123456789", "a-0123456789" },
		{ "__", "s3://bkt/", "0123456789", "job-0123456789" },
		{ "x", "s3://bkt/_.jsonl", "0123456789", "x-0123456789" },
		{ "bb", "s3://bkt/in/data.v2.JSONL", NULL, "bb-data.v2" },
		{ "bb", "s3://bkt/caf\xc3\xa9 au lait.jsonl", "0123456789", "bb-caf-au-lait-0123456789" },
	};
	struct bb_buf b = BB_BUF_INIT;
	char prefix[80], uri[200];
	size_t i, j;
	unsigned seed = 12345;
	int bad = 0;

	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		is_int(bb_jobs_name_valid(valid[i].name), valid[i].valid, valid[i].name);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bb_buf_reset(&b);
		ok(bb_jobs_job_name(cases[i].prefix, cases[i].uri, cases[i].token, &b) == 0,
		    "name %zu made", i);
		is_str(bb_buf_str(&b), cases[i].want, cases[i].want);
	}
	/* a long prefix and stem are shortened, the hash kept */
	bb_buf_reset(&b);
	bb_jobs_job_name("averyveryveryveryverylongprefixindeed",
	    "s3://b/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.jsonl",
	    "0123456789abcdef", &b);
	ok(b.len <= 63 && bb_jobs_name_valid(b.data), "long names fit in 63 bytes (%zu)", b.len);
	ok(b.len >= 11 && strcmp(b.data + b.len - 11, "-0123456789") == 0, "hash kept at the end");
	/* random prefixes and URIs always give a valid name */
	for (i = 0; i < 2000; i++) {
		size_t np = (size_t)(rand_r(&seed) % 70), nu = (size_t)(rand_r(&seed) % 150);

		for (j = 0; j < np; j++)
			prefix[j] = (char)(1 + rand_r(&seed) % 255);
		prefix[np] = '\0';
		memcpy(uri, "s3://b/", 7);
		for (j = 7; j < 7 + nu; j++)
			uri[j] = (char)(1 + rand_r(&seed) % 255);
		uri[7 + nu] = '\0';
		bb_buf_reset(&b);
		if (bb_jobs_job_name(prefix, uri, (i & 1) ? "0123456789abcdef" : NULL, &b) < 0 ||
		    !bb_jobs_name_valid(bb_buf_str(&b)))
			bad++;
	}
	is_int(bad, 0, "2000 random prefixes and URIs give valid names");
	bb_buf_release(&b);
}

static void
test_small(void)
{
	static const struct {
		const char *in, *want;
	} inv[] = {
		{ "InvokeModel", "InvokeModel" }, { "invoke", "InvokeModel" },
		{ "converse", "Converse" }, { "CONVERSE", "Converse" }, { "chat", NULL },
		{ "", NULL },
	};
	static const struct {
		const char *a, *b;
		int want;
	} models[] = {
		{ "anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0", 1 },
		{ "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
		  "amazon.titan-embed-text-v2:0", 1 },
		{ "amazon.titan-embed-text-v2:0",
		  "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0", 1 },
		{ "a.b", "a.c", 0 }, { "x/a.b", "a.b", 0 }, { NULL, "a", 0 },
	};
	static const struct {
		const char *out, *job, *want;
	} prefixes[] = {
		{ "s3://b/out/", "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefghij12",
		  "s3://b/out/abcdefghij12/" },
		{ "s3://b/out", "abcdefghij12", "s3://b/out/abcdefghij12/" },
		{ "s3://b/out//", "abcdefghij12", "s3://b/out/abcdefghij12/" },
		{ "s3://b", "abcdefghij12", "s3://b/abcdefghij12/" },
		{ "s3://b/", "abcdefghij12", "s3://b/abcdefghij12/" },
		{ "s3://b/out/", "not-a-job", NULL },
	};
	enum bb_bedrock_status st;
	struct bb_buf b = BB_BUF_INIT;
	size_t i;
	int n;

	for (i = 0; i < sizeof(inv) / sizeof(inv[0]); i++) {
		const char *got = bb_jobs_invocation_type(inv[i].in);

		ok(got == inv[i].want || (got && inv[i].want && strcmp(got, inv[i].want) == 0),
		    "invocation type '%s'", inv[i].in);
	}
	for (i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		is_int(bb_jobs_model_match(models[i].a, models[i].b), models[i].want,
		    nm("model match %zu", i));
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		bb_buf_reset(&b);
		n = bb_jobs_output_prefix(prefixes[i].out, prefixes[i].job, &b, NULL);
		if (prefixes[i].want)
			is_str(n == 0 ? bb_buf_str(&b) : "(error)", prefixes[i].want, prefixes[i].want);
		else
			ok(n == -1, "output prefix of '%s' refused", prefixes[i].job);
	}
	n = 0;
	for (st = BB_JOB_UNKNOWN; st <= BB_JOB_EXPIRED; st++)
		n += bb_jobs_status_inflight(st);
	is_int(n, 5, "five in-flight statuses");
	ok(bb_jobs_status_inflight(BB_JOB_STOPPING) && !bb_jobs_status_inflight(BB_JOB_STOPPED),
	    "Stopping counts, Stopped does not");
	bb_buf_release(&b);
}

static void
test_stats(void)
{
	static const struct {
		const char *manifest, *want;
	} cases[] = {
		{ "{\"totalRecordCount\":120,\"processedRecordCount\":118,\"successRecordCount\":117,"
		  "\"errorRecordCount\":1,\"inputTokenCount\":1700,\"outputTokenCount\":1200}",
		  "{\"total_records\":120,\"processed_records\":118,\"success_records\":117,"
		  "\"error_records\":1,\"input_tokens\":1700,\"output_tokens\":1200}" },
		{ " { \"outputTokenCount\" : 5, \"extra\": [1], \"totalRecordCount\": 2 } ",
		  "{\"total_records\":2,\"output_tokens\":5}" },
		{ "{}", "{}" },
		{ "{\"totalRecordCount\":\"7\"}", "{}" },
		{ "[1]", NULL },
		{ "{\"a\":", NULL },
	};
	struct bb_bedrock_job job;
	struct bb_buf b = BB_BUF_INIT;
	size_t i;
	int n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bb_buf_reset(&b);
		n = bb_jobs_manifest_stats(cases[i].manifest, strlen(cases[i].manifest), &b, NULL);
		if (cases[i].want)
			is_str(n == 0 ? bb_buf_str(&b) : "(error)", cases[i].want,
			    nm("manifest %zu", i));
		else
			ok(n == -1, "manifest %zu refused", i);
	}
	bb_bedrock_job_init(&job);
	bb_buf_reset(&b);
	bb_jobs_job_stats(&job, &b);
	is_int((long long)b.len, 0, "no counts, no stats");
	job.total_records = 10;
	job.success_records = 9;
	bb_jobs_job_stats(&job, &b);
	is_str(bb_buf_str(&b), "{\"total_records\":10,\"success_records\":9}", "stats from counts");
	bb_bedrock_job_release(&job);
	bb_buf_release(&b);
}

static void
test_strip(void)
{
	static const char *const keys[] = { "status", "error" };
	static const struct {
		const char *in, *want;
		size_t removed;
	} cases[] = {
		{ "{\"a\":1, \"b\" : \"x\"}", "{\"a\":1, \"b\" : \"x\"}", 0 },
		{ "{\"a\":1.50,\"status\":\"Failed\",\"b\":[1, {\"c\":null}]}",
		  "{\"a\":1.50,\"b\":[1,{\"c\":null}]}", 1 },
		{ "{\"error\":\"x\",\"status\":\"y\"}", "{}", 2 },
		{ "{\"status\":{\"nested\":\"status\"},\"z\":\"\\u00e9\\n\"}",
		  "{\"z\":\"\xc3\xa9\\n\"}", 1 },
	};
	struct bb_buf b = BB_BUF_INIT;
	size_t i, removed;
	int n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bb_buf_reset(&b);
		n = bb_jobs_strip_fields(cases[i].in, strlen(cases[i].in), keys, 2, &b, &removed,
		    NULL);
		is_str(n == 0 ? bb_buf_str(&b) : "(error)", cases[i].want, nm("strip %zu", i));
		is_int((long long)removed, (long long)cases[i].removed,
		    nm("strip %zu: count", i));
	}
	bb_buf_reset(&b);
	ok(bb_jobs_strip_fields("[1]", 3, keys, 2, &b, NULL, NULL) == -1, "not an object");
	ok(bb_jobs_strip_fields("{\"a\":", 5, keys, 2, &b, NULL, NULL) == -1, "invalid JSON");
	bb_buf_release(&b);
}

static void
test_schedule(void)
{
	struct bb_jobs_rate r;
	double d, t, u;
	int i, sent, bad = 0;

	for (i = 1; i <= 12; i++)
		for (u = 0; u < 1; u += 0.25) {
			double cap = 0.5 * (double)(1 << (i - 1));

			if (cap > 20)
				cap = 20;
			d = bb_jobs_backoff(i, 0.5, 20, u);
			if (d < cap / 2 || d > cap)
				bad++;
		}
	is_int(bad, 0, "backoff within [d/2, d], d = min(max, base * 2^(n-1))");
	ok(bb_jobs_backoff(1000, 1, 60, 0.999) <= 60, "huge attempt numbers stay capped");
	ok(bb_jobs_jitter(10, 0.2, 0) == 8 && bb_jobs_jitter(10, 0.2, 0.5) == 10,
	    "jitter spans interval +- 20%%");

	/* 5/s with a burst of 5: over 10 simulated seconds about 5 + 50 */
	bb_jobs_rate_init(&r, 5, 5, 0);
	sent = 0;
	for (t = 0; t < 10; t += 0.01)
		while (bb_jobs_rate_take(&r, t) == 0)
			sent++;
	ok(sent >= 53 && sent <= 56, "rate limiter: %d requests in 10 s at 5/s, burst 5", sent);
	/* throttled: the rate halves (down to the floor), then recovers */
	bb_jobs_rate_throttled(&r);
	ok(r.rate == 2.5, "throttling halves the rate");
	ok(bb_jobs_rate_take(&r, 10) > 0, "and empties the bucket");
	for (i = 0; i < 20; i++)
		bb_jobs_rate_throttled(&r);
	ok(r.rate >= r.min_rate && r.rate > 0, "never below the floor");
	for (i = 0; i < 100; i++)
		bb_jobs_rate_ok(&r);
	ok(r.rate == 5, "successes bring it back to the configured rate");
}

/*
 * The jitter generator. Golden values from an independent implementation
 * (Python, xorshift64* on 64-bit integers): the first three outputs of a
 * seed, as integers (u * 2^53, exact in a double).
 */
static void
test_rand(void)
{
	static const struct {
		uint64_t seed;
		uint64_t want[3];
	} vec[] = {
		{ 0, { 0x1b0767c534429ULL, 0xa98898f3e3fd3ULL, 0x1508be68400f41ULL } },
		{ 1, { 0x20559d735f1c4ULL, 0x49713a462d3c9ULL, 0x16b092e35495a5ULL } },
		{ 42, { 0x10651afe0779dULL, 0xefce4f3c2f56ULL, 0x189c131ea8376ULL } },
		/* the seed that makes the mixed state 0: not stuck at 0 */
		{ 0x9e3779b97f4a7c15ULL,
		    { 0x1b0767c534429ULL, 0xa98898f3e3fd3ULL, 0x1508be68400f41ULL } },
		{ UINT64_MAX, { 0x58add3f9a8429ULL, 0x1848a98be16402ULL, 0x17e0694cacbd02ULL } },
	};
	struct bb_jobs_rand r, r2;
	size_t i, k;
	int bucket[10] = { 0 }, out_of_range = 0, off = 0, same = 0, lo = 100000, hi = 0;
	double u, sum = 0, d;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		bb_jobs_rand_init(&r, vec[i].seed);
		for (k = 0; k < 3; k++) {
			u = bb_jobs_rand_unit(&r);
			if (u * 9007199254740992.0 != (double)vec[i].want[k])
				break;
		}
		ok(k == 3, "rand: seed %#llx gives the reference sequence",
		    (unsigned long long)vec[i].seed);
	}

	/* 100000 numbers: all in [0, 1), evenly spread over ten buckets
	 * (10000 each, sd 95: 600 is over six sd) */
	bb_jobs_rand_init(&r, 7);
	for (i = 0; i < 100000; i++) {
		u = bb_jobs_rand_unit(&r);
		if (!(u >= 0 && u < 1)) {
			out_of_range++;
			continue;
		}
		sum += u;
		bucket[(int)(u * 10)]++;
	}
	for (k = 0; k < 10; k++) {
		lo = bucket[k] < lo ? bucket[k] : lo;
		hi = bucket[k] > hi ? bucket[k] : hi;
	}
	is_int(out_of_range, 0, "rand: every number in [0, 1)");
	ok(lo >= 9400 && hi <= 10600, "rand: ten buckets hold %d..%d of 100000", lo, hi);
	ok(sum / 100000 > 0.495 && sum / 100000 < 0.505, "rand: mean %.4f", sum / 100000);

	/* the same seed repeats, a neighbouring seed does not */
	bb_jobs_rand_init(&r, 12345);
	bb_jobs_rand_init(&r2, 12345);
	for (i = 0; i < 1000; i++)
		same += bb_jobs_rand_unit(&r) == bb_jobs_rand_unit(&r2);
	is_int(same, 1000, "rand: the same seed gives the same sequence");
	bb_jobs_rand_init(&r, 12345);
	bb_jobs_rand_init(&r2, 12346);
	same = 0;
	for (i = 0; i < 1000; i++)
		same += bb_jobs_rand_unit(&r) == bb_jobs_rand_unit(&r2);
	is_int(same, 0, "rand: seeds one apart share no number");

	/* as the programs use it: backoff and jitter stay in their ranges */
	bb_jobs_rand_init(&r, 99);
	for (i = 0; i < 1000; i++) {
		d = bb_jobs_backoff(3, 1, 60, bb_jobs_rand_unit(&r));
		off += d < 2 || d > 4;
		d = bb_jobs_jitter(10, 0.2, bb_jobs_rand_unit(&r));
		off += d < 8 || d >= 12;
	}
	is_int(off, 0, "rand: backoff in [2, 4] and jitter in [8, 12) for 1000 draws");
}

int
main(void)
{
	test_token();
	test_names();
	test_small();
	test_stats();
	test_strip();
	test_schedule();
	test_rand();
	return done_testing();
}
