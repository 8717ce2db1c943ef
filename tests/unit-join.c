/*
 * unit-join.c - the output index of bb-join (join.h): extraction per
 * family (against spec/batch-record-examples.json and against
 * bb_family_extract on the same lines), error lines, duplicates, bad
 * lines, growth, manifests, retryable codes.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "family.h"
#include "join.h"
#include "json.h"
#include "tap.h"

/* is_str / is_int with a printf-style name. */
__attribute__((format(printf, 3, 4)))
static void
is_strf(const char *got, const char *want, const char *fmt, ...)
{
	char name[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	is_str(got, want, name);
}

__attribute__((format(printf, 3, 4)))
static void
is_intf(long long got, long long want, const char *fmt, ...)
{
	char name[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	is_int(got, want, name);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct bb_buf b = BB_BUF_INIT;
	char chunk[8192];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		bb_buf_add(&b, chunk, n);
	fclose(f);
	return bb_buf_detach(&b, len);
}

/* Decode a JSON string literal (or copy other JSON after normalising it
 * through the tree), for comparisons. */
static void
norm(const char *p, size_t n, struct bb_buf *out)
{
	struct bb_json *t = NULL;

	bb_buf_reset(out);
	if (n == 0)
		return;
	if (bb_json_parse(p, n, 0, &t, NULL) != 0) {
		bb_buf_adds(out, "<invalid JSON>");
		return;
	}
	if (t->type == BB_JSON_STRING)
		bb_buf_add(out, t->str, t->len);
	else
		bb_json_write(t, out);
	bb_json_free(t);
}

/*
 * Index one output line and compare what bb-join keeps with what
 * bb_family_extract finds in the parsed modelOutput.
 */
static void
cross_check(enum bb_family f, const char *line, size_t len, const char *what)
{
	static const char *const k[] = { "modelOutput" };
	struct bb_join_index x;
	struct bb_json_span sp;
	struct bb_json *mo = NULL;
	struct bb_family_output o;
	struct bb_buf got = BB_BUF_INIT, want = BB_BUF_INIT;
	struct bb_join_entry *e;
	int rc_ref;

	bb_join_index_init(&x, f, 0);
	bb_family_output_init(&o);
	if (!ok(bb_join_index_add(&x, line, len, NULL) == 0 && x.n == 1, "%s: indexed", what))
		goto out;
	e = bb_join_index_entry(&x, 0);
	if (bb_json_fields(line, len, k, 1, &sp, NULL) || sp.p == NULL ||
	    bb_json_parse(sp.p, sp.n, 0, &mo, NULL)) {
		ok(0, "%s: modelOutput parses", what);
		goto out;
	}
	rc_ref = bb_family_extract(f, mo, &o, NULL);
	if (!ok((rc_ref == 0) == (e->status == BB_JOIN_OK), "%s: same verdict (%d, %d)", what,
	    rc_ref, (int)e->status) || rc_ref != 0)
		goto out;
	norm(bb_join_ref_ptr(e, e->output), e->output.len, &got);
	if (bb_family_is_embedding(f)) {
		norm(o.embedding.data, o.embedding.len, &want);
		is_strf(bb_buf_str(&got), bb_buf_str(&want), "%s: embedding", what);
	} else {
		bb_buf_add(&want, o.text.data ? o.text.data : "", o.text.len);
		ok(got.len == want.len && memcmp(bb_buf_str(&got), bb_buf_str(&want), got.len) == 0,
		    "%s: text", what);
	}
	norm(bb_join_ref_ptr(e, e->stop), e->stop.len, &got);
	is_strf(bb_buf_str(&got), o.stop_reason, "%s: stop reason", what);
	is_intf(e->input_tokens, o.input_tokens, "%s: input tokens", what);
	is_intf(e->output_tokens, o.output_tokens, "%s: output tokens", what);
out:
	bb_json_free(mo);
	bb_family_output_release(&o);
	bb_buf_release(&got);
	bb_buf_release(&want);
	bb_join_index_release(&x);
}

/* ---- the examples of the spec ---- */

static const struct {
	const char *key;
	enum bb_family f;
	const char *text;        /* expected output, decoded (NULL: embedding) */
	const char *embedding;   /* expected vector as compact JSON */
	const char *stop;
	long long in, out;
} examples[] = {
	{ "anthropic_claude_messages", BB_FAMILY_ANTHROPIC, "The caller asked about ...", NULL,
	  "end_turn", 42, 17 },
	{ "amazon_titan_text_embeddings_v2", BB_FAMILY_TITAN_EMBED, NULL,
	  "[0.0123,-0.0456,0.0789]", "", 4, -1 },
	{ "amazon_nova_invoke", BB_FAMILY_NOVA, "It is ...", NULL, "end_turn", 12, 5 },
	{ "converse_type_any_model", BB_FAMILY_CONVERSE, "Summary ...", NULL, "end_turn", 20, 3 },
	{ "meta_llama", BB_FAMILY_LLAMA, "4", NULL, "stop", 18, 2 },
	{ "mistral_text_completion", BB_FAMILY_MISTRAL, " Lemon juice ...", NULL, "stop", -1, -1 },
	{ "mistral_large_2_chat", BB_FAMILY_MISTRAL_CHAT, "Hi!", NULL, "stop", -1, -1 },
	{ "cohere_embed", BB_FAMILY_COHERE_EMBED, NULL, "[0.01,-0.02,0.03]", "", -1, -1 },
};

static void
test_examples(void)
{
	const char *dir = getenv("BB_SHARED");
	char path[4096];
	char *text;
	size_t len, i;
	struct bb_json *doc = NULL;
	struct bb_buf line = BB_BUF_INIT, got = BB_BUF_INIT;

	snprintf(path, sizeof(path), "%s/spec/batch-record-examples.json", dir ? dir : ".");
	if ((text = slurp(path, &len)) == NULL || bb_json_parse(text, len, 0, &doc, NULL)) {
		skip("spec/batch-record-examples.json not found (BB_SHARED)");
		free(text);
		return;
	}
	for (i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		const struct bb_json *fam = bb_json_get(bb_json_get(doc, "families"), examples[i].key);
		const struct bb_json *ol = bb_json_get(fam, "outputLine");
		struct bb_join_index x;
		struct bb_join_entry *e;

		if (!ok(ol != NULL, "%s: example present", examples[i].key))
			continue;
		bb_buf_reset(&line);
		bb_json_write(ol, &line);
		cross_check(examples[i].f, line.data, line.len, examples[i].key);
		bb_join_index_init(&x, examples[i].f, BB_JOIN_KEEP_RAW);
		if (!ok(bb_join_index_add(&x, line.data, line.len, NULL) == 0, "%s: golden indexed",
		    examples[i].key)) {
			bb_join_index_release(&x);
			continue;
		}
		e = bb_join_index_find(&x, bb_json_str(bb_json_get(ol, "recordId")),
		    strlen(bb_json_str(bb_json_get(ol, "recordId"))));
		ok(e != NULL && e->status == BB_JOIN_OK, "%s: found by recordId", examples[i].key);
		if (e == NULL)
			continue;
		norm(bb_join_ref_ptr(e, e->output), e->output.len, &got);
		is_strf(bb_buf_str(&got), examples[i].text ? examples[i].text : examples[i].embedding,
		    "%s: golden output", examples[i].key);
		norm(bb_join_ref_ptr(e, e->stop), e->stop.len, &got);
		is_strf(bb_buf_str(&got), examples[i].stop, "%s: golden stop reason", examples[i].key);
		is_intf(e->input_tokens, examples[i].in, "%s: golden input tokens", examples[i].key);
		is_intf(e->output_tokens, examples[i].out, "%s: golden output tokens",
		    examples[i].key);
		norm(bb_join_ref_ptr(e, e->raw), e->raw.len, &got);
		bb_buf_reset(&line);
		bb_json_write(bb_json_get(ol, "modelOutput"), &line);
		is_strf(bb_buf_str(&got), bb_buf_str(&line), "%s: --raw keeps modelOutput",
		    examples[i].key);
		bb_join_index_release(&x);
	}
	{
		const struct bb_json *el = bb_json_get(doc, "errorLine");
		struct bb_join_index x;
		struct bb_join_entry *e;

		bb_buf_reset(&line);
		bb_json_write(el, &line);
		bb_join_index_init(&x, BB_FAMILY_TITAN_EMBED, 0);
		ok(bb_join_index_add(&x, line.data, line.len, NULL) == 0, "error line indexed");
		e = bb_join_index_find(&x, "1223213ABCD", 11);
		ok(e != NULL && e->status == BB_JOIN_ERROR, "error line: status");
		if (e != NULL) {
			norm(bb_join_ref_ptr(e, e->code), e->code.len, &got);
			is_strf(bb_buf_str(&got), "400", "error line: code");
			norm(bb_join_ref_ptr(e, e->message), e->message.len, &got);
			is_strf(bb_buf_str(&got), "bad request", "error line: message");
			ok(!bb_join_error_retryable(bb_join_ref_ptr(e, e->code), e->code.len),
			    "error line: 400 is not retryable");
		}
		bb_join_index_release(&x);
	}
	bb_json_free(doc);
	free(text);
	bb_buf_release(&line);
	bb_buf_release(&got);
}

/* ---- hand-made lines: shapes, escapes, corner cases ---- */

static const struct {
	enum bb_family f;
	const char *line;
	int status;               /* enum bb_join_status, or -1: the line is refused */
	const char *output;       /* decoded text / compact vector, or code for errors */
	const char *stop;
} cases[] = {
	/* Anthropic: several blocks, non-text blocks skipped, escapes kept */
	{ BB_FAMILY_ANTHROPIC, "{\"recordId\":\"a1\",\"modelOutput\":{\"content\":[{\"type\":"
	  "\"text\",\"text\":\"x\\\"y\\\\\"},{\"type\":\"tool_use\",\"text\":\"NO\"},{\"text\":"
	  "\"z}]\\n\",\"type\":\"text\"}],\"stop_reason\":\"max_tokens\"}}", 0, "x\"y\\z}]\n",
	  "max_tokens" },
	{ BB_FAMILY_ANTHROPIC, "{\"recordId\":\"a2\",\"modelOutput\":{\"content\":[]}}", 0, "",
	  "" },
	{ BB_FAMILY_ANTHROPIC, "{\"recordId\":\"a3\",\"modelOutput\":{\"content\":\"x\"}}", 2,
	  "bad_output", "" },
	{ BB_FAMILY_ANTHROPIC, "{ \"modelInput\" : {\"a\":\"}\"} , \"recordId\" : \"a4\" , "
	  "\"modelOutput\" : { \"usage\" : {\"output_tokens\" : 3} , \"content\" : [ { \"type\" "
	  ": \"text\" , \"text\" : \"\\u00e9\\ud83d\\ude00\" } ] } }", 0, "\xc3\xa9\xf0\x9f\x98\x80",
	  "" },
	{ BB_FAMILY_NOVA, "{\"recordId\":\"n1\",\"modelOutput\":{\"output\":{\"message\":{\"role\":"
	  "\"assistant\",\"content\":[{\"text\":\"a\"},{\"text\":\"b\"}]}},\"stopReason\":"
	  "\"end_turn\",\"usage\":{\"inputTokens\":1,\"outputTokens\":2}}}", 0, "ab", "end_turn" },
	{ BB_FAMILY_NOVA, "{\"recordId\":\"n2\",\"modelOutput\":{\"output\":{}}}", 2,
	  "bad_output", "" },
	{ BB_FAMILY_LLAMA, "{\"recordId\":\"l1\",\"modelOutput\":{\"generation\":\"\","
	  "\"stop_reason\":\"length\"}}", 0, "", "length" },
	{ BB_FAMILY_LLAMA, "{\"recordId\":\"l2\",\"modelOutput\":{\"generation\":null}}", 2,
	  "bad_output", "" },
	{ BB_FAMILY_MISTRAL, "{\"recordId\":\"m1\",\"modelOutput\":{\"outputs\":[{\"text\":\"t0\","
	  "\"stop_reason\":\"stop\"},{\"text\":\"t1\"}]}}", 0, "t0", "stop" },
	{ BB_FAMILY_MISTRAL_CHAT, "{\"recordId\":\"c1\",\"modelOutput\":{\"choices\":[{\"message\":"
	  "{\"content\":\"hi\"},\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":4,"
	  "\"completion_tokens\":5}}}", 0, "hi", "length" },
	{ BB_FAMILY_TITAN_EMBED, "{\"recordId\":\"t1\",\"modelOutput\":{\"embeddingsByType\":"
	  "{\"float\":[1,2.5e-3,-3]},\"inputTextTokenCount\":7}}", 0, "[1,2.5e-3,-3]", "" },
	{ BB_FAMILY_TITAN_EMBED, "{\"recordId\":\"t2\",\"modelOutput\":{\"embedding\":[1,\"x\"]}}",
	  2, "bad_output", "" },
	{ BB_FAMILY_COHERE_EMBED, "{\"recordId\":\"e1\",\"modelOutput\":{\"embeddings\":{\"int8\":"
	  "[[1,2]],\"float\":[[0.5,0.25]]},\"response_type\":\"embeddings_by_type\"}}", 0,
	  "[0.5,0.25]", "" },
	{ BB_FAMILY_COHERE_EMBED, "{\"recordId\":\"e2\",\"modelOutput\":{\"embeddings\":{\"int8\":"
	  "[[1,2]]}}}", 0, "[1,2]", "" },
	{ BB_FAMILY_COHERE_EMBED, "{\"recordId\":\"e3\",\"modelOutput\":{\"embeddings\":[[1],[2]]}}",
	  0, "[[1],[2]]", "" },
	/* error lines */
	{ BB_FAMILY_ANTHROPIC, "{\"recordId\":\"x1\",\"error\":{\"errorCode\":429,\"errorMessage\":"
	  "\"slow down\"}}", 1, "429", "" },
	{ BB_FAMILY_ANTHROPIC, "{\"recordId\":\"x2\",\"error\":{\"errorMessage\":\"?\"}}", 1,
	  "error", "" },
	{ BB_FAMILY_ANTHROPIC, "{\"recordId\":\"x3\",\"modelOutput\":[]}", 2, "bad_output", "" },
	/* refused lines */
	{ BB_FAMILY_ANTHROPIC, "{\"recordId\":\"y1\"}", -1, NULL, NULL },
	{ BB_FAMILY_ANTHROPIC, "{\"modelOutput\":{}}", -1, NULL, NULL },
	{ BB_FAMILY_ANTHROPIC, "{\"recordId\":7,\"modelOutput\":{}}", -1, NULL, NULL },
	{ BB_FAMILY_ANTHROPIC, "{\"recordId\":\"y2\",\"modelOutput\":{\"content\":[}}", -1, NULL,
	  NULL },
	{ BB_FAMILY_ANTHROPIC, "[1]", -1, NULL, NULL },
	{ BB_FAMILY_ANTHROPIC, "", -1, NULL, NULL },
};

static void
test_cases(void)
{
	struct bb_buf got = BB_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bb_join_index x;
		struct bb_join_entry *e;
		struct bb_error err = BB_ERROR_INIT;
		int rc;

		bb_join_index_init(&x, cases[i].f, 0);
		rc = bb_join_index_add(&x, cases[i].line, strlen(cases[i].line), &err);
		if (cases[i].status < 0) {
			ok(rc == -1 && err.kind == BB_ERR_INPUT && err.msg[0], "case %zu refused (%s)",
			    i, err.msg);
			bb_join_index_release(&x);
			continue;
		}
		if (!ok(rc == 0 && x.n == 1, "case %zu indexed (%s)", i, err.msg)) {
			bb_join_index_release(&x);
			continue;
		}
		e = bb_join_index_entry(&x, 0);
		is_intf(e->status, cases[i].status, "case %zu status", i);
		if (e->status == BB_JOIN_OK)
			norm(bb_join_ref_ptr(e, e->output), e->output.len, &got);
		else
			norm(bb_join_ref_ptr(e, e->code), e->code.len, &got);
		is_strf(bb_buf_str(&got), cases[i].output, "case %zu output", i);
		norm(bb_join_ref_ptr(e, e->stop), e->stop.len, &got);
		is_strf(bb_buf_str(&got), cases[i].stop, "case %zu stop", i);
		if (cases[i].status != 1)
			cross_check(cases[i].f, cases[i].line, strlen(cases[i].line), "case");
		bb_join_index_release(&x);
	}
	bb_buf_release(&got);
}

/* ---- corrupt lines: refused, never mis-joined (join.h: what is checked) ---- */

#define GOOD "{\"recordId\":\"g1\",\"modelInput\":{\"messages\":[{\"role\":\"user\"," \
	"\"content\":[{\"type\":\"text\",\"text\":\"Q \\\"x\\\" \\u00e9\"}]}],\"n\":-1.5e3," \
	"\"b\":[true,false,null]},\"modelOutput\":{\"content\":[{\"type\":\"text\"," \
	"\"text\":\"A \\n\xc3\xa9\"}],\"stop_reason\":\"end_turn\",\"usage\":" \
	"{\"input_tokens\":3,\"output_tokens\":4}}}"

static const struct {
	const char *line;
	int refused;
	const char *what;
} corrupt[] = {
	{ GOOD, 0, "the good line" },
	{ "{\"recordId\":\"g1\",\"modelInput\":{\"x\":[1}],\"modelOutput\":{\"content\":[]}}", 1,
	  "brackets that do not match" },
	{ "{\"recordId\":\"g1\",\"modelInput\":{\"x\":tru},\"modelOutput\":{\"content\":[]}}", 1,
	  "a literal misspelt" },
	{ "{\"recordId\":\"g1\",\"modelInput\":{\"x\" 1},\"modelOutput\":{\"content\":[]}}", 1,
	  "a missing colon" },
	{ "{\"recordId\":\"g1\",\"modelInput\":{\"x\":1 \"y\":2},\"modelOutput\":{\"content\":[]}}",
	  1, "a missing comma" },
	{ "{\"recordId\":\"g1\",\"modelInput\":{\"x\":1,},\"modelOutput\":{\"content\":[]}}", 1,
	  "a trailing comma" },
	{ "{\"recordId\":\"g1\",\"modelOutput\":{\"content\":[]}} x", 1, "bytes after the end" },
	{ "{\"recordId\":\"g1\",\"modelOutput\":{\"content\":[]}}{\"recordId\":\"g2\"}", 1,
	  "two lines spliced" },
	{ "{\"recordId\":\"g1\",\"recordId\":\"g2\",\"modelOutput\":{\"content\":[]}}", 1,
	  "recordId twice" },
	{ "{\"recordId\":\"g\xff\",\"modelOutput\":{\"content\":[]}}", 1, "recordId not UTF-8" },
	{ "{\"recordId\":\"g1\",\"modelOutput\":{\"content\":[{\"type\":\"text\",\"text\":"
	  "\"a\xc3\"}]}}", 1, "output text not UTF-8" },
	{ "{\"recordId\":\"g1\",\"modelOutput\":{\"content\":[{\"type\":\"text\",\"text\":"
	  "\"a\\q\"}]}}", 1, "output text with a bad escape" },
	{ "{\"recordId\":\"g1\",\"modelOutput\":{\"content\":[{\"type\":\"text\",\"text\":"
	  "\"a\tb\"}]}}", 1, "output text with a raw tab" },
	{ "{\"recordId\":\"g1\",\"modelOutput\":{\"content\":[{\"type\":\"text\",\"text\":"
	  "\"\\ud800\"}]}}", 1, "output text with a lone surrogate" },
	{ "{\"recordId\":\"g1\",\"modelOutput\":{\"content\":[],\"stop_reason\":\"\x01\"}}", 1,
	  "stop reason with a control character" },
	{ "{\"recordId\":\"g1\",\"error\":{\"errorCode\":4x0,\"errorMessage\":\"m\"}}", 1,
	  "an error code that is no number" },
	/* what is not copied is walked for structure only: accepted, documented */
	{ "{\"recordId\":\"g1\",\"modelInput\":{\"t\":\"\xff\\q\x01\",\"n\":01},\"modelOutput\":"
	  "{\"content\":[{\"type\":\"image\",\"text\":\"\xfe\"}],\"id\":\"\xfe\"}}", 0,
	  "bytes inside strings and numbers that are not copied" },
	{ "{\"recordId\":\"g1\",\"modelOutput\":{\"content\":[]},\"modelInput\":{}}", 0,
	  "recordId first, modelInput last" },
	{ "{\"modelOutput\":{\"content\":[]},\"recordId\":\"g1\"}", 0, "recordId last" },
};

static void
test_corrupt(void)
{
	struct bb_buf deep = BB_BUF_INIT;
	size_t i, k, len = strlen(GOOD);
	int bad = 0;

	for (i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
		struct bb_join_index x;
		struct bb_error err = BB_ERROR_INIT;
		int rc;

		bb_join_index_init(&x, BB_FAMILY_ANTHROPIC, 0);
		rc = bb_join_index_add(&x, corrupt[i].line, strlen(corrupt[i].line), &err);
		if (corrupt[i].refused)
			ok(rc == -1 && err.kind == BB_ERR_INPUT && x.n == 0 && x.arena.len == 0,
			    "corrupt: %s: refused (%s)", corrupt[i].what, err.msg);
		else
			ok(rc == 0 && x.n == 1, "corrupt: %s: accepted (%s)", corrupt[i].what,
			    err.msg);
		bb_join_index_release(&x);
	}

	/* every cut of a good line (a line truncated anywhere) is refused */
	for (k = 0; k < len; k++) {
		struct bb_join_index x;

		bb_join_index_init(&x, BB_FAMILY_ANTHROPIC, 0);
		if (bb_join_index_add(&x, GOOD, k, NULL) != -1 || x.n != 0)
			bad++;
		bb_join_index_release(&x);
	}
	is_intf(bad, 0, "corrupt: all %zu cuts of a line refused", len);

	/* nesting: 256 levels in modelInput are walked, 300 are refused */
	for (k = 0; k < 2; k++) {
		struct bb_join_index x;
		size_t d, depth = k ? 300 : 254;

		bb_buf_reset(&deep);
		bb_buf_adds(&deep, "{\"recordId\":\"d\",\"modelInput\":");
		for (d = 0; d < depth; d++)
			bb_buf_addc(&deep, '[');
		for (d = 0; d < depth; d++)
			bb_buf_addc(&deep, ']');
		bb_buf_adds(&deep, ",\"modelOutput\":{\"content\":[]}}");
		bb_join_index_init(&x, BB_FAMILY_ANTHROPIC, 0);
		is_intf(bb_join_index_add(&x, deep.data, deep.len, NULL), k ? -1 : 0,
		    "corrupt: %zu levels of nesting", depth + 1);
		bb_join_index_release(&x);
	}
	bb_buf_release(&deep);
}

/* ---- duplicates, growth ---- */

static void
test_index(void)
{
	struct bb_join_index x;
	struct bb_buf line = BB_BUF_INIT;
	struct bb_join_entry *e;
	char id[32];
	int i, bad = 0;

	bb_join_index_init(&x, BB_FAMILY_LLAMA, 0);
	bb_buf_adds(&line, "{\"recordId\":\"d1\",\"error\":{\"errorCode\":500,\"errorMessage\":\"x\"}}");
	is_intf(bb_join_index_add(&x, line.data, line.len, NULL), 0, "first line of d1");
	is_intf(bb_join_index_add(&x, line.data, line.len, NULL), 1, "same error again: duplicate");
	bb_buf_reset(&line);
	bb_buf_adds(&line, "{\"recordId\":\"d1\",\"modelOutput\":{\"generation\":\"ok\"}}");
	is_intf(bb_join_index_add(&x, line.data, line.len, NULL), 1, "then a success: duplicate");
	e = bb_join_index_find(&x, "d1", 2);
	ok(e != NULL && e->status == BB_JOIN_OK && e->dups == 2, "the success wins, 2 dups");
	bb_buf_reset(&line);
	bb_buf_adds(&line, "{\"recordId\":\"d1\",\"error\":{\"errorCode\":500,\"errorMessage\":\"x\"}}");
	is_intf(bb_join_index_add(&x, line.data, line.len, NULL), 1, "an error after it");
	e = bb_join_index_find(&x, "d1", 2);
	ok(e != NULL && e->status == BB_JOIN_OK && e->dups == 3, "the success stays");
	is_intf((long long)x.n, 1, "one entry");
	is_intf((long long)x.duplicates, 3, "three duplicate lines");
	ok(bb_join_index_find(&x, "d", 1) == NULL && bb_join_index_find(&x, "d1x", 3) == NULL,
	    "prefixes are not matches");

	/* growth: 20000 records, found again, in the order first seen */
	bb_join_index_reset(&x);
	ok(x.n == 0 && bb_join_index_find(&x, "d1", 2) == NULL, "reset forgets");
	for (i = 0; i < 20000; i++) {
		bb_buf_reset(&line);
		bb_buf_addf(&line, "{\"recordId\":\"r%010d\",\"modelOutput\":{\"generation\":\"g%d\"}}",
		    i, i);
		if (bb_join_index_add(&x, line.data, line.len, NULL) != 0)
			bad++;
	}
	is_intf(bad, 0, "20000 lines indexed");
	for (i = 0; i < 20000; i++) {
		snprintf(id, sizeof(id), "r%010d", i);
		e = bb_join_index_find(&x, id, strlen(id));
		bb_buf_reset(&line);
		bb_buf_addf(&line, "\"g%d\"", i);
		if (e == NULL || e->output.len != line.len ||
		    memcmp(bb_join_ref_ptr(e, e->output), line.data, line.len) != 0 ||
		    bb_join_index_entry(&x, (size_t)i) != e)
			bad++;
	}
	is_intf(bad, 0, "20000 records found with their outputs");
	bb_join_index_release(&x);
	bb_buf_release(&line);
}

/* ---- random texts: the cursor against the tree ---- */

static void
test_random(void)
{
	static const char *const pieces[] = { "a", "\\\"", "\\\\", "\\n", "}", "]", "{", "[",
	    ",", ":", "\\u00e9", "\\ud83d\\ude00", " ", "\\/", "\xc3\xa9", "\\t" };
	struct bb_buf line = BB_BUF_INIT, t = BB_BUF_INIT;
	unsigned seed = 12345;
	int i, k;

	for (i = 0; i < 40; i++) {
		int nblocks = (int)(seed % 4);

		bb_buf_reset(&line);
		bb_buf_adds(&line, "{\"recordId\":\"z\",\"modelInput\":{\"x\":\"]}\"},\"modelOutput\":"
		    "{\"content\":[");
		for (k = 0; k < nblocks; k++) {
			int j, n;

			seed = seed * 1103515245u + 12345u;
			n = (int)((seed >> 8) % 12);
			bb_buf_reset(&t);
			for (j = 0; j < n; j++) {
				seed = seed * 1103515245u + 12345u;
				bb_buf_adds(&t, pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))]);
			}
			bb_buf_addf(&line, "%s{\"type\":\"%s\",\"text\":\"%s\"}", k ? "," : "",
			    (seed >> 4) % 3 ? "text" : "other", bb_buf_str(&t));
		}
		bb_buf_addf(&line, "],\"stop_reason\":\"s%d\",\"usage\":{\"input_tokens\":%d}}}", i, i);
		seed = seed * 1103515245u + 12345u;
		cross_check(BB_FAMILY_ANTHROPIC, line.data, line.len, "random");
	}
	bb_buf_release(&line);
	bb_buf_release(&t);
}

/* ---- manifest, retryable ---- */

static void
test_manifest(void)
{
	struct bb_join_manifest m;
	const char *ok1 = "{\"totalRecordCount\":100,\"processedRecordCount\":99,"
	    "\"successRecordCount\":98,\"errorRecordCount\":1,\"inputTokenCount\":4200,"
	    "\"outputTokenCount\":1700}";

	ok(bb_join_manifest_parse(ok1, strlen(ok1), &m, NULL) == 0 && m.total == 100 &&
	    m.processed == 99 && m.success == 98 && m.error == 1 && m.input_tokens == 4200 &&
	    m.output_tokens == 1700, "manifest: every count");
	ok(bb_join_manifest_parse("{\"totalRecordCount\":5}", 22, &m, NULL) == 0 &&
	    m.total == 5 && m.processed == -1, "manifest: absent counts are -1");
	ok(bb_join_manifest_parse("{\"totalRecordCount\":\"5\"}", 24, &m, NULL) == -1,
	    "manifest: a string count is refused");
	ok(bb_join_manifest_parse("{", 1, &m, NULL) == -1, "manifest: invalid JSON");
}

static void
test_retryable(void)
{
	static const struct { const char *code; int want; } t[] = {
		{ "400", 0 }, { "403", 0 }, { "404", 0 }, { "422", 0 }, { "408", 1 },
		{ "429", 1 }, { "500", 1 }, { "503", 1 }, { "\"missing\"", 1 },
		{ "\"Expired\"", 1 }, { "\"bad_output\"", 1 }, { "200", 1 }, { "4.5e2", 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_intf(bb_join_error_retryable(t[i].code, strlen(t[i].code)), t[i].want,
		    "retryable %s", t[i].code);
}

int
main(void)
{
	test_examples();
	test_cases();
	test_corrupt();
	test_index();
	test_random();
	test_manifest();
	test_retryable();
	return done_testing();
}
