/*
 * bb-join - join the outputs of finished Bedrock batch jobs back to the
 * input rows: one result row per input row, in input order.
 *
 * Policy only: reading the original rows (rows.h), indexing and reading
 * the outputs (join.h), S3 (s3.h) live in libshared. Here: options, the
 * order of shards, where outputs are, what a result row looks like, the
 * --failed file, reconciliation and exit codes. See man/bb-join.1.
 *
 * Memory: job lines that arrive ahead of their turn wait as lines (small);
 * a shard is joined when it is next in order, with its outputs indexed by
 * recordId and its rows streamed from their source, so the peak is one
 * shard's outputs.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws.h"
#include "buf.h"
#include "cli.h"
#include "error.h"
#include "family.h"
#include "hash.h"
#include "jobs.h"
#include "join.h"
#include "json.h"
#include "msg.h"
#include "ndjson.h"
#include "rows.h"
#include "s3.h"

#define OUT_CHUNK (256u << 10)

/* ---- options ---- */

static const char *opt_outputs, *opt_field, *opt_failed;
static const char *field;          /* the output key of the current shard */
static int opt_raw, opt_drop_input, opt_csv, opt_retryable_only, opt_unordered, opt_strict;
static struct bb_cli cli;

/* ---- state ---- */

struct job {
	char *line;
	size_t len;
	char *file;            /* where the line came from, for messages */
	uint64_t lineno;
	long long index;
	size_t run;            /* index into runs[] */
};

struct run {
	char *key;             /* the source file, or the sidecar's name stem */
	long long next;        /* the next index to join */
};

static struct run *runs;
static size_t nruns;
static struct job *pending;
static size_t npending, cappending;

static struct bb_aws *aws;
static struct bb_jobs_rand rng;   /* jitter of the read retries */
static struct bb_join_index idx;
static struct bb_buf obuf, scratch, scratch2;
static FILE *failed_fp;
static char *failed_tmp;
static int failed_errno;      /* the first write error on failed_fp */
static int failed_kind;          /* 0 none yet, 1 JSON rows, 2 CSV with header */
static struct bb_buf failed_header;
static int csv_header_done;
static char **csv_cols;          /* --format csv: the input columns */
static size_t csv_ncols;
static int csv_cols_from_source; /* the columns are the CSV header's */

static uint64_t n_rows, n_ok, n_failed, n_missing, n_rejected, n_tok_in, n_tok_out;
static uint64_t n_mismatch, n_shards;
static int status = BB_EXIT_OK;

/* Record ids of a shard (when its source holds rows bb-shard rejected). */
struct idset {
	struct bb_buf arena;
	uint64_t *slots;       /* hash in the high bits is not kept: (off+1) | used<<63 */
	uint64_t *hashes;
	size_t cap, n;
};
static struct idset shard_ids;

static void
usage(void)
{
	printf("usage: bb-join [options] [FILE ...]\n"
	    "Join the outputs of finished Bedrock batch jobs (job lines from bb-wait) to\n"
	    "their input rows: one result row per input row, in input order.\n"
	    "\n"
	    "  -o, --outputs DIR        outputs on disk (DIR/JOB-ID/*.out), not S3\n"
	    "      --field NAME         key of the output (default: output, or embedding)\n"
	    "      --raw                add the whole modelOutput as model_output\n"
	    "      --drop-input         leave out the input columns (adds record_id, row)\n"
	    "      --format FORMAT      jsonl (default) or csv\n"
	    "      --failed FILE        write the rows that failed, as they were in the input\n"
	    "      --retryable-only     --failed leaves out errors that would fail again\n"
	    "      --unordered          write each shard as soon as it is joined\n"
	    "      --strict             exit 1 on any reconciliation mismatch\n"
	    "      --max-line-bytes SIZE  longest row or output line (default 64MiB)\n"
	    "      --profile NAME       AWS profile\n"
	    "      --region REGION      AWS region\n"
	    "      --endpoint-url URL   S3 endpoint\n"
	    "      --trace FILE         HTTP trace, secrets redacted ('-': stderr)\n"
	    "      --progress           show progress even when stderr is not a terminal\n"
	    "      --no-progress        never show progress\n"
	    "  -q, --quiet              only errors\n"
	    "  -v, --verbose            more notes\n"
	    "  -h, --help               this text\n"
	    "  -V, --version            the version\n");
}

/* ---- small helpers ---- */

static uint64_t
idset_hash(const char *id, size_t n)
{
	uint64_t h = bb_hash64(id, n);

	return h ? h : 1;       /* 0 marks an empty slot */
}

static void
idset_reset(struct idset *s)
{
	bb_buf_reset(&s->arena);
	if (s->cap) {
		memset(s->slots, 0, s->cap * sizeof(*s->slots));
		memset(s->hashes, 0, s->cap * sizeof(*s->hashes));
	}
	s->n = 0;
}

static void idset_add(struct idset *s, const char *id, size_t n);

static void
idset_grow(struct idset *s)
{
	struct idset t;
	size_t i;

	memset(&t, 0, sizeof(t));
	t.cap = s->cap ? s->cap * 2 : 4096;
	t.slots = bb_xcalloc(t.cap, sizeof(*t.slots));
	t.hashes = bb_xcalloc(t.cap, sizeof(*t.hashes));
	t.arena = s->arena;
	for (i = 0; i < s->cap; i++) {
		size_t j;

		if (s->hashes[i] == 0)
			continue;
		for (j = s->hashes[i] & (t.cap - 1); t.hashes[j]; j = (j + 1) & (t.cap - 1))
			;
		t.hashes[j] = s->hashes[i];
		t.slots[j] = s->slots[i];
	}
	t.n = s->n;
	free(s->slots);
	free(s->hashes);
	*s = t;
}

/* The slot of id, or NULL. */
static uint64_t *
idset_find(struct idset *s, const char *id, size_t n)
{
	uint64_t h = idset_hash(id, n);
	size_t j;

	if (s->cap == 0)
		return NULL;
	for (j = h & (s->cap - 1); s->hashes[j]; j = (j + 1) & (s->cap - 1)) {
		uint64_t off = (s->slots[j] & ~(1ULL << 63)) - 1;
		const char *p = s->arena.data + off;

		if (s->hashes[j] == h && memcmp(p, id, n) == 0 && p[n] == '\0')
			return &s->slots[j];
	}
	return NULL;
}

static void
idset_add(struct idset *s, const char *id, size_t n)
{
	uint64_t h = idset_hash(id, n), off;
	size_t j;

	if (idset_find(s, id, n))
		return;
	if (2 * (s->n + 1) > s->cap)
		idset_grow(s);
	off = s->arena.len;
	if (bb_buf_add(&s->arena, id, n) || bb_buf_addc(&s->arena, '\0'))
		bb_die(BB_EXIT_USAGE, "out of memory");
	for (j = h & (s->cap - 1); s->hashes[j]; j = (j + 1) & (s->cap - 1))
		;
	s->hashes[j] = h;
	s->slots[j] = off + 1;
	s->n++;
}

static void
oom(int r)
{
	if (r)
		bb_die(BB_EXIT_USAGE, "out of memory");
}

static void
flush_out(int force)
{
	if (obuf.len >= OUT_CHUNK || (force && obuf.len)) {
		bb_out_write(obuf.data, obuf.len);
		bb_buf_reset(&obuf);
	}
	if (force)
		bb_out_record_end();
}

/* A string field of a job line (decoded into b), or NULL. */
static const char *
span_text(const struct bb_json_span *sp, struct bb_buf *b)
{
	bb_buf_reset(b);
	if (sp->p == NULL || sp->type != BB_JSON_STRING || bb_json_span_str(sp, b))
		return NULL;
	return bb_buf_str(b);
}

/* The message of e with control characters escaped. */
static const char *
esc(const char *s)
{
	static struct bb_buf b;

	bb_buf_reset(&b);
	bb_msg_escape(&b, s, strlen(s));
	return bb_buf_str(&b);
}

/* ---- CSV output ---- */

static void
csv_cell(struct bb_buf *o, const char *s, size_t n)
{
	size_t i;
	int q = 0;

	for (i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') {
			q = 1;
			break;
		}
	if (!q) {
		oom(bb_buf_add(o, s, n));
		return;
	}
	oom(bb_buf_addc(o, '"'));
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			oom(bb_buf_addc(o, '"'));
		oom(bb_buf_addc(o, s[i]));
	}
	oom(bb_buf_addc(o, '"'));
}

/* A JSON value as a CSV cell: strings decoded, null empty, others as JSON. */
static void
csv_json_cell(struct bb_buf *o, const char *p, size_t n)
{
	struct bb_json_span sp;

	if (n == 0 || (n == 4 && memcmp(p, "null", 4) == 0))
		return;
	if (p[0] == '"') {
		sp.p = p;
		sp.n = n;
		sp.type = BB_JSON_STRING;
		bb_buf_reset(&scratch2);
		if (bb_json_span_str(&sp, &scratch2) == 0) {
			csv_cell(o, scratch2.data ? scratch2.data : "", scratch2.len);
			return;
		}
	}
	csv_cell(o, p, n);
}

static void
csv_header(const struct bb_rows *rows, const struct bb_rows_row *row)
{
	size_t i;
	if (csv_header_done)
		return;
	csv_header_done = 1;
	if (opt_drop_input) {
		oom(bb_buf_adds(&obuf, "record_id,row,"));
	} else if (row->csv != NULL && bb_rows_ncols(rows) > 0) {
		csv_ncols = bb_rows_ncols(rows);
		csv_cols = bb_xcalloc(csv_ncols, sizeof(*csv_cols));
		for (i = 0; i < csv_ncols; i++)
			csv_cols[i] = bb_xstrdup(bb_rows_col(rows, i));
		csv_cols_from_source = 1;
	} else {
		/* the top-level keys of the first row */
		struct bb_json *t = NULL;

		if (bb_json_parse(row->json, row->jsonlen, 0, &t, NULL) == 0 &&
		    t->type == BB_JSON_OBJECT) {
			csv_ncols = t->n;
			csv_cols = bb_xcalloc(csv_ncols + 1, sizeof(*csv_cols));
			for (i = 0; i < t->n; i++)
				csv_cols[i] = bb_xstrdup(t->keys[i]);
		}
		bb_json_free(t);
	}
	for (i = 0; i < csv_ncols; i++) {
		csv_cell(&obuf, csv_cols[i], strlen(csv_cols[i]));
		oom(bb_buf_addc(&obuf, ','));
	}
	csv_cell(&obuf, field, strlen(field));
	oom(bb_buf_adds(&obuf, ",stop_reason,input_tokens,output_tokens,error_code,error_message"));
	if (opt_raw)
		oom(bb_buf_adds(&obuf, ",model_output"));
	oom(bb_buf_adds(&obuf, "\r\n"));
}

/* ---- one result row ---- */

struct result {
	const struct bb_join_entry *e;   /* NULL: no output line */
	const char *code, *message;      /* JSON texts, for errors without an entry */
	size_t codelen, msglen;
	int ok;
};

/* A count in decimal (no printf: this is per row). */
static void
add_count(struct bb_buf *o, long long v)
{
	char d[24];
	size_t n = sizeof(d);
	unsigned long long u = v < 0 ? 0 : (unsigned long long)v;

	do {
		d[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	oom(bb_buf_add(o, d + n, sizeof(d) - n));
}

static void
tok_json(struct bb_buf *o, long long in, long long out)
{
	oom(bb_buf_addc(o, '{'));
	if (in >= 0) {
		oom(bb_buf_add(o, "\"input_tokens\":", 15));
		add_count(o, in);
	}
	if (out >= 0) {
		if (in >= 0)
			oom(bb_buf_add(o, ",\"output_tokens\":", 17));
		else
			oom(bb_buf_add(o, "\"output_tokens\":", 16));
		add_count(o, out);
	}
	oom(bb_buf_addc(o, '}'));
}

/* Part of a result as JSON text: 0 code, 1 message, 2 output, 3 stop
 * reason, 4 the whole modelOutput. *n is 0 when there is none. */
static void
ref_of(const struct result *res, int which, const char **p, size_t *n)
{
	const struct bb_join_entry *e = res->e;
	struct bb_join_ref r = { 0, 0 };

	*p = NULL;
	*n = 0;
	if (e == NULL) {
		if (which == 0 && res->code != NULL) {
			*p = res->code;
			*n = res->codelen;
		} else if (which == 1 && res->message != NULL) {
			*p = res->message;
			*n = res->msglen;
		}
		return;
	}
	switch (which) {
	case 0: r = e->code; break;
	case 1: r = e->message; break;
	case 2: r = e->output; break;
	case 3: r = e->stop; break;
	default: r = e->raw; break;
	}
	if (r.len) {
		*p = bb_join_ref_ptr(e, r);
		*n = r.len;
	}
}

/* OpenAI's finish_reason for a Bedrock stop reason. */
static const char *
finish_reason(const char *p, size_t n)
{
	static const char *const map[][2] = {
		{ "\"end_turn\"", "stop" }, { "\"stop\"", "stop" },
		{ "\"stop_sequence\"", "stop" }, { "\"max_tokens\"", "length" },
		{ "\"length\"", "length" }, { "\"content_filtered\"", "content_filter" },
		{ "\"guardrail_intervened\"", "content_filter" }, { "\"tool_use\"", "tool_calls" },
		{ "\"tool_calls\"", "tool_calls" },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i][0]) == n && memcmp(map[i][0], p, n) == 0)
			return map[i][1];
	return "stop";
}

static void
write_openai(const struct bb_rows_row *row, const struct result *res, const char *model,
    int embedding)
{
	static const char *const k[] = { "custom_id" };
	struct bb_json_span sp;
	const char *p;
	size_t n;
	const struct bb_join_entry *e = res->e;

	oom(bb_buf_adds(&obuf, "{\"id\":"));
	bb_buf_reset(&scratch);
	oom(bb_buf_adds(&scratch, "batch_req_"));
	oom(bb_buf_add(&scratch, row->id, row->idlen));
	oom(bb_json_add_str(&obuf, scratch.data, scratch.len));
	oom(bb_buf_adds(&obuf, ",\"custom_id\":"));
	if (bb_json_fields(row->json, row->jsonlen, k, 1, &sp, NULL) == 0 && sp.p != NULL)
		oom(bb_buf_add(&obuf, sp.p, sp.n));
	else
		oom(bb_buf_adds(&obuf, "null"));
	if (res->ok) {
		long long in = e->input_tokens, out = e->output_tokens;

		oom(bb_buf_adds(&obuf, ",\"response\":{\"status_code\":200,\"request_id\":"));
		oom(bb_json_add_str(&obuf, row->id, row->idlen));
		if (embedding) {
			oom(bb_buf_adds(&obuf, ",\"body\":{\"object\":\"list\",\"data\":[{\"object\":"
			    "\"embedding\",\"index\":0,\"embedding\":"));
			ref_of(res, 2, &p, &n);
			oom(bb_buf_add(&obuf, p, n));
			oom(bb_buf_adds(&obuf, "}],\"model\":"));
			oom(bb_json_add_str(&obuf, model, strlen(model)));
			oom(bb_buf_addf(&obuf, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}",
			    in < 0 ? 0 : in, in < 0 ? 0 : in));
		} else {
			oom(bb_buf_adds(&obuf, ",\"body\":{\"object\":\"chat.completion\",\"model\":"));
			oom(bb_json_add_str(&obuf, model, strlen(model)));
			oom(bb_buf_adds(&obuf, ",\"choices\":[{\"index\":0,\"message\":{\"role\":"
			    "\"assistant\",\"content\":"));
			ref_of(res, 2, &p, &n);
			oom(bb_buf_add(&obuf, p, n));
			ref_of(res, 3, &p, &n);
			oom(bb_buf_addf(&obuf, "},\"finish_reason\":\"%s\"}],", finish_reason(p, n)));
			oom(bb_buf_addf(&obuf, "\"usage\":{\"prompt_tokens\":%lld,\"completion_tokens\":"
			    "%lld,\"total_tokens\":%lld}}", in < 0 ? 0 : in, out < 0 ? 0 : out,
			    (in < 0 ? 0 : in) + (out < 0 ? 0 : out)));
		}
		oom(bb_buf_adds(&obuf, "},\"error\":null}\n"));
		return;
	}
	oom(bb_buf_adds(&obuf, ",\"response\":null,\"error\":{\"code\":"));
	ref_of(res, 0, &p, &n);
	if (n && p[0] != '"') {
		oom(bb_buf_addc(&obuf, '"'));
		oom(bb_buf_add(&obuf, p, n));
		oom(bb_buf_addc(&obuf, '"'));
	} else {
		oom(bb_buf_add(&obuf, p, n));
	}
	oom(bb_buf_adds(&obuf, ",\"message\":"));
	ref_of(res, 1, &p, &n);
	oom(bb_buf_add(&obuf, p, n));
	oom(bb_buf_adds(&obuf, "}}\n"));
}

/*
 * Appending members to a row (what bb_json_append_* do, without encoding
 * the keys again for every row): keys are kept encoded with the comma
 * before them, as ",\"key\":".
 */
struct row_out {
	struct bb_buf *o;
	int empty;                 /* no member yet */
};

#define KEY_LIT(s) ("," s ":"), (sizeof("," s ":") - 1)

static struct bb_buf field_key;    /* ,"<field>": for the current shard */

static int
row_begin(struct row_out *w, const char *line, size_t len)
{
	size_t first = 0, last = len, i;

	w->o = &obuf;
	w->empty = 1;
	while (first < len && (line[first] == ' ' || line[first] == '\t' ||
	    line[first] == '\n' || line[first] == '\r'))
		first++;
	while (last > first && (line[last - 1] == ' ' || line[last - 1] == '\t' ||
	    line[last - 1] == '\n' || line[last - 1] == '\r'))
		last--;
	if (last - first < 2 || line[first] != '{' || line[last - 1] != '}')
		return -1;
	for (i = first + 1; i < last - 1; i++)
		if (!(line[i] == ' ' || line[i] == '\t' || line[i] == '\n' || line[i] == '\r')) {
			w->empty = 0;
			break;
		}
	oom(bb_buf_add(&obuf, line, last - 1));
	return 0;
}

/* A member whose value is JSON text already; key as ",\"name\":". */
static void
row_raw(struct row_out *w, const char *key, size_t keylen, const char *json, size_t n)
{
	oom(bb_buf_add(w->o, key + w->empty, keylen - (size_t)w->empty));
	w->empty = 0;
	oom(bb_buf_add(w->o, json, n));
}

static void
write_jsonl(const struct bb_rows_row *row, const struct result *res)
{
	struct row_out w;
	const struct bb_join_entry *e = res->e;
	const char *p;
	size_t n;

	if (opt_drop_input || row_begin(&w, row->json, row->jsonlen)) {
		row_begin(&w, "{}", 2);
		if (!opt_drop_input)
			row_raw(&w, KEY_LIT("\"input\""), row->json, row->jsonlen);
		bb_buf_reset(&scratch);
		oom(bb_json_add_str(&scratch, row->id, row->idlen));
		row_raw(&w, KEY_LIT("\"record_id\""), scratch.data, scratch.len);
		if (opt_drop_input) {
			bb_buf_reset(&scratch);
			add_count(&scratch, (long long)row->row);
			row_raw(&w, KEY_LIT("\"row\""), scratch.data, scratch.len);
		}
	}
	if (res->ok) {
		ref_of(res, 2, &p, &n);
		row_raw(&w, field_key.data, field_key.len, p, n);
		ref_of(res, 3, &p, &n);
		if (n)
			row_raw(&w, KEY_LIT("\"stop_reason\""), p, n);
		if (e->input_tokens >= 0 || e->output_tokens >= 0) {
			row_raw(&w, KEY_LIT("\"usage\""), "", 0);
			tok_json(&obuf, e->input_tokens, e->output_tokens);
		}
	}
	if (opt_raw && e != NULL && e->raw.len)
		row_raw(&w, KEY_LIT("\"model_output\""), bb_join_ref_ptr(e, e->raw), e->raw.len);
	if (!res->ok) {
		row_raw(&w, KEY_LIT("\"error\""), "{\"code\":", 8);
		ref_of(res, 0, &p, &n);
		oom(bb_buf_add(&obuf, p, n));
		oom(bb_buf_add(&obuf, ",\"message\":", 11));
		ref_of(res, 1, &p, &n);
		oom(bb_buf_add(&obuf, p, n));
		oom(bb_buf_add(&obuf, "}}\n", 3));
	} else {
		oom(bb_buf_add(&obuf, "}\n", 2));
	}
}

static void
write_csv(const struct bb_rows *rows, const struct bb_rows_row *row, const struct result *res)
{
	const struct bb_join_entry *e = res->e;
	const char *p;
	size_t i, n;

	csv_header(rows, row);
	if (opt_drop_input) {
		csv_cell(&obuf, row->id, row->idlen);
		oom(bb_buf_addf(&obuf, ",%llu,", (unsigned long long)row->row));
	} else if (csv_cols_from_source && row->csv != NULL) {
		for (i = 0; i < csv_ncols; i++) {
			p = i < bb_csv_nfields(row->csv) ? bb_csv_field(row->csv, i, &n) : "";
			if (i >= bb_csv_nfields(row->csv))
				n = 0;
			csv_cell(&obuf, p, n);
			oom(bb_buf_addc(&obuf, ','));
		}
	} else {
		const char **keys = (const char **)csv_cols;
		struct bb_json_span *sp = bb_xcalloc(csv_ncols + 1, sizeof(*sp));

		if (csv_ncols && bb_json_fields(row->json, row->jsonlen, keys, csv_ncols, sp, NULL))
			memset(sp, 0, (csv_ncols + 1) * sizeof(*sp));
		for (i = 0; i < csv_ncols; i++) {
			if (sp[i].p != NULL)
				csv_json_cell(&obuf, sp[i].p, sp[i].n);
			oom(bb_buf_addc(&obuf, ','));
		}
		free(sp);
	}
	if (res->ok) {
		ref_of(res, 2, &p, &n);
		csv_json_cell(&obuf, p, n);
		oom(bb_buf_addc(&obuf, ','));
		ref_of(res, 3, &p, &n);
		csv_json_cell(&obuf, p, n);
		oom(bb_buf_addc(&obuf, ','));
		if (e->input_tokens >= 0)
			oom(bb_buf_addf(&obuf, "%lld", e->input_tokens));
		oom(bb_buf_addc(&obuf, ','));
		if (e->output_tokens >= 0)
			oom(bb_buf_addf(&obuf, "%lld", e->output_tokens));
		oom(bb_buf_adds(&obuf, ",,"));
	} else {
		oom(bb_buf_adds(&obuf, ",,,,"));
		ref_of(res, 0, &p, &n);
		csv_json_cell(&obuf, p, n);
		oom(bb_buf_addc(&obuf, ','));
		ref_of(res, 1, &p, &n);
		csv_json_cell(&obuf, p, n);
	}
	if (opt_raw) {
		oom(bb_buf_addc(&obuf, ','));
		if (e != NULL && e->raw.len)
			csv_cell(&obuf, bb_join_ref_ptr(e, e->raw), e->raw.len);
	}
	oom(bb_buf_adds(&obuf, "\r\n"));
}

/* ---- --failed ---- */

static void
write_failed(const struct bb_rows *rows, const struct bb_rows_row *row)
{
	size_t hl;
	const char *h = bb_rows_header(rows, &hl);
	int kind = h != NULL ? 2 : 1;

	if (failed_fp == NULL)
		return;
	if (failed_kind == 0) {
		failed_kind = kind;
		if (h != NULL) {
			oom(bb_buf_add(&failed_header, h, hl));
			fwrite(h, 1, hl, failed_fp);
			fputc('\n', failed_fp);
		}
	} else if (failed_kind != kind || (h != NULL && (hl != failed_header.len ||
	    memcmp(h, failed_header.data, hl) != 0))) {
		bb_msg_warn("--failed: rows of '%s' do not have the format of the first failed "
		    "rows; the file mixes formats", esc(bb_rows_name(rows)));
		failed_kind = 3;
	}
	fwrite(row->raw, 1, row->rawlen, failed_fp);
	fputc('\n', failed_fp);
	if (ferror(failed_fp) && failed_errno == 0)
		failed_errno = errno ? errno : EIO;
}

/* At exit (bb_die too): a --failed file not renamed into place is removed. */
static void
failed_cleanup(void)
{
	if (failed_fp != NULL && failed_tmp != NULL)
		unlink(failed_tmp);
}

/* ---- outputs ---- */

struct linefeed {
	struct bb_buf part;
	const char *name;
	uint64_t lineno;
	int too_long;
};

static void
add_output_line(const char *name, uint64_t lineno, const char *p, size_t n)
{
	struct bb_error err;   /* set by bb_join_index_add on failure */
	int r;

	if (n == 0)
		return;
	r = bb_join_index_add(&idx, p, n, &err);
	if (r < 0) {
		if (err.kind == BB_ERR_SYSTEM)
			bb_die(BB_EXIT_USAGE, "%s", err.msg);
		bb_msg_warn("bad output line: %s (at %s:%llu)", esc(err.msg), name,
		    (unsigned long long)lineno);
		n_mismatch++;
	}
}

static int
feed_data(const char *p, size_t n, void *ctx)
{
	struct linefeed *lf = ctx;
	const char *nl;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		if (nl == NULL) {
			if (!lf->too_long && lf->part.len + n > cli.max_line) {
				bb_msg_warn("output line longer than %llu bytes (at %s:%llu)",
				    (unsigned long long)cli.max_line, lf->name,
				    (unsigned long long)lf->lineno + 1);
				n_mismatch++;
				lf->too_long = 1;
				bb_buf_reset(&lf->part);
			}
			if (!lf->too_long)
				oom(bb_buf_add(&lf->part, p, n));
			return 0;
		}
		lf->lineno++;
		if (!lf->too_long) {
			size_t k = (size_t)(nl - p);

			if (lf->part.len) {
				oom(bb_buf_add(&lf->part, p, k));
				if (lf->part.len && lf->part.data[lf->part.len - 1] == '\r')
					bb_buf_setlen(&lf->part, lf->part.len - 1);
				add_output_line(lf->name, lf->lineno, lf->part.data, lf->part.len);
				bb_buf_reset(&lf->part);
			} else {
				add_output_line(lf->name, lf->lineno, p,
				    k && p[k - 1] == '\r' ? k - 1 : k);
			}
		}
		lf->too_long = 0;
		n -= (size_t)(nl - p) + 1;
		p = nl + 1;
	}
	return 0;
}

static void
feed_end(struct linefeed *lf)
{
	if (lf->part.len && !lf->too_long)
		add_output_line(lf->name, lf->lineno + 1, lf->part.data, lf->part.len);
	bb_buf_release(&lf->part);
}

/* A local output file into the index. */
static int
load_local_file(const char *path, struct bb_error *err)
{
	struct bb_ndjson *r;
	struct bb_ndjson_line ln;
	int n;

	r = bb_ndjson_open(path, cli.max_line, BB_NDJSON_SKIP_BLANK, err);
	if (r == NULL)
		return -1;
	while ((n = bb_ndjson_next(r, &ln, err)) != 0) {
		if (n < 0) {
			if (bb_ndjson_failed(r)) {
				bb_ndjson_free(r);
				return -1;
			}
			bb_msg_warn("%s", esc(err->msg));
			n_mismatch++;
			bb_ndjson_skip_line(r, NULL);
			continue;
		}
		add_output_line(bb_ndjson_name(r), ln.lineno, ln.data, ln.len);
	}
	bb_ndjson_free(r);
	return 0;
}

static int
read_small_file(const char *path, struct bb_buf *out)
{
	FILE *f = fopen(path, "r");
	char chunk[4096];
	size_t n;

	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && out->len < (1u << 20))
		oom(bb_buf_add(out, chunk, n));
	fclose(f);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/*
 * Outputs of a job from --outputs DIR: DIR/<job-id>/ (every *.out but the
 * manifest, as `aws s3 sync` of the output prefix leaves them), else
 * DIR/<input file name>.out. found: 1 when anything was there.
 */
static int
load_local(const char *job_id, const char *input_name, struct bb_buf *manifest, int *found,
    struct bb_error *err)
{
	struct bb_buf dir = BB_BUF_INIT, path = BB_BUF_INIT;
	struct stat st;
	char **names = NULL;
	size_t nnames = 0, i;
	int rc = -1;

	*found = 0;
	if (job_id != NULL && *job_id) {
		DIR *d;
		struct dirent *de;

		oom(bb_buf_addf(&dir, "%s/%s", opt_outputs, job_id));
		if ((d = opendir(dir.data)) != NULL) {
			*found = 1;
			while ((de = readdir(d)) != NULL) {
				if (!ends_with(de->d_name, ".out") ||
				    strcmp(de->d_name, "manifest.json.out") == 0)
					continue;
				names = bb_xrealloc(names, (nnames + 1) * sizeof(*names));
				names[nnames++] = bb_xstrdup(de->d_name);
			}
			closedir(d);
			if (nnames > 1)
				qsort(names, nnames, sizeof(*names), cmp_str);
			for (i = 0; i < nnames; i++) {
				bb_buf_reset(&path);
				oom(bb_buf_addf(&path, "%s/%s", dir.data, names[i]));
				if (load_local_file(path.data, err))
					goto out;
			}
			bb_buf_reset(&path);
			oom(bb_buf_addf(&path, "%s/manifest.json.out", dir.data));
			read_small_file(path.data, manifest);
			rc = 0;
			goto out;
		}
	}
	if (input_name != NULL) {
		oom(bb_buf_addf(&path, "%s/%s.out", opt_outputs, input_name));
		if (stat(path.data, &st) == 0) {
			*found = 1;
			if (load_local_file(path.data, err))
				goto out;
		}
	}
	rc = 0;
out:
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	bb_buf_release(&dir);
	bb_buf_release(&path);
	return rc;
}

struct s3list {
	char **keys;
	size_t n;
	int manifest;
	const char *prefix;
};

static int
list_cb(const struct bb_s3_entry *e, void *ctx)
{
	struct s3list *l = ctx;

	if (e->is_prefix)
		return 0;
	if (ends_with(e->key, "/manifest.json.out") || strcmp(e->key, "manifest.json.out") == 0) {
		l->manifest = 1;
		return 0;
	}
	if (!ends_with(e->key, ".out"))
		return 0;
	l->keys = bb_xrealloc(l->keys, (l->n + 1) * sizeof(*l->keys));
	l->keys[l->n++] = bb_xstrdup(e->key);
	return 0;
}

static int
buf_cb(const char *p, size_t n, void *ctx)
{
	struct bb_buf *b = ctx;

	if (b->len + n > (1u << 20))
		return 1;
	oom(bb_buf_add(b, p, n));
	return 0;
}

/*
 * A job's outputs are read again after a failure that may pass (throttling,
 * 5xx answers, the network: bb_aws_failure_transient) so many more times,
 * after about 1, 2, 4 and 8 s, before its rows are left out; the HTTP
 * layer has retried each request already.
 */
#define READ_RETRIES 4

/* Outputs of a job from S3: every .out object under the prefix. */
static int
load_s3(const char *prefix_uri, struct bb_buf *manifest, int *found, struct bb_aws_error *ae,
    struct bb_error *err)
{
	struct bb_s3_uri u = { NULL, NULL };
	struct s3list l;
	struct bb_buf key = BB_BUF_INIT, what = BB_BUF_INIT;
	size_t i;
	int rc = -1;

	memset(&l, 0, sizeof(l));
	*found = 0;
	if (bb_s3_uri_parse(prefix_uri, &u, err))
		goto out;
	oom(bb_buf_adds(&key, u.key));
	if (key.len && key.data[key.len - 1] != '/')
		oom(bb_buf_addc(&key, '/'));
	if (aws == NULL && (aws = bb_aws_new(&cli.aws, err)) == NULL)
		goto out;
	if (bb_s3_list_v2(aws, u.bucket, bb_buf_str(&key), NULL, list_cb, &l, ae, err))
		goto out;
	*found = l.n > 0 || l.manifest;
	if (l.n > 1)
		qsort(l.keys, l.n, sizeof(*l.keys), cmp_str);
	for (i = 0; i < l.n; i++) {
		struct linefeed lf;

		memset(&lf, 0, sizeof(lf));
		bb_buf_reset(&what);
		oom(bb_buf_addf(&what, "s3://%s/%s", u.bucket, l.keys[i]));
		lf.name = what.data;
		if (bb_s3_get(aws, u.bucket, l.keys[i], 0, 0, feed_data, &lf, NULL, ae, err)) {
			bb_buf_release(&lf.part);
			goto out;
		}
		feed_end(&lf);
	}
	if (l.manifest) {
		bb_buf_reset(&what);
		oom(bb_buf_addf(&what, "%smanifest.json.out", bb_buf_str(&key)));
		if (bb_s3_get(aws, u.bucket, what.data, 0, 0, buf_cb, manifest, NULL, NULL, err))
			bb_buf_reset(manifest);   /* reconciliation only: not fatal */
	}
	rc = 0;
out:
	for (i = 0; i < l.n; i++)
		free(l.keys[i]);
	free(l.keys);
	bb_buf_release(&key);
	bb_buf_release(&what);
	bb_s3_uri_release(&u);
	return rc;
}

/* Record ids of the shard file (only needed when its region holds rejected
 * rows). 0, or -1 when it cannot be read. */
static int
load_shard_ids(const char *path)
{
	static const char *const k[] = { "recordId" };
	struct bb_ndjson *r;
	struct bb_ndjson_line ln;
	struct bb_json_span sp;
	int n, rc = 0;

	idset_reset(&shard_ids);
	r = bb_ndjson_open(path, cli.max_line, BB_NDJSON_SKIP_BLANK, NULL);
	if (r == NULL)
		return -1;
	while ((n = bb_ndjson_next(r, &ln, NULL)) != 0) {
		if (n < 0) {
			rc = -1;
			break;
		}
		bb_buf_reset(&scratch);
		if (bb_json_fields(ln.data, ln.len, k, 1, &sp, NULL) || sp.p == NULL ||
		    span_text(&sp, &scratch) == NULL) {
			rc = -1;
			break;
		}
		idset_add(&shard_ids, scratch.data, scratch.len);
	}
	bb_ndjson_free(r);
	return rc;
}

/* ---- one shard ---- */

enum { F_SHARD, F_INDEX, F_RECORDS, F_MODEL, F_FAMILY, F_INVOCATION, F_SOURCE, F_STATUS,
	F_MESSAGE, F_OUTPUT_PREFIX, F_OUTPUT_S3_URI, F_JOB_ARN, F_S3_URI, F_N };
static const char *const job_keys[F_N] = { "shard", "index", "records", "model", "family",
	"invocation_type", "source", "status", "message", "output_prefix", "output_s3_uri",
	"job_arn", "s3_uri" };

static int
terminal(const char *st)
{
	return strcmp(st, "Completed") == 0 || strcmp(st, "PartiallyCompleted") == 0 ||
	    strcmp(st, "Failed") == 0 || strcmp(st, "Stopped") == 0 ||
	    strcmp(st, "Expired") == 0;
}

static enum bb_family
family_by_name(const char *name)
{
	int f;

	for (f = BB_FAMILY_ANTHROPIC; f <= BB_FAMILY_CONVERSE; f++)
		if (strcmp(bb_family_name((enum bb_family)f), name) == 0)
			return (enum bb_family)f;
	return BB_FAMILY_UNKNOWN;
}

/* Compare the shard, the rows joined and the manifest; warn on mismatches. */
static void
reconcile(const char *where, long long records, uint64_t joined, uint64_t ok, uint64_t errs,
    const struct bb_buf *manifest, int completed)
{
	struct bb_join_manifest m;
	struct bb_error err = BB_ERROR_INIT;
	size_t i, unknown = 0;
	const char *example = NULL;
	size_t exlen = 0;

	for (i = 0; i < idx.n; i++) {
		const struct bb_join_entry *e = bb_join_index_entry(&idx, i);

		if (!e->used) {
			if (unknown++ == 0) {
				example = bb_join_ref_ptr(e, e->id);
				exlen = e->id.len;
			}
		}
	}
	if (unknown) {
		bb_buf_reset(&scratch);
		bb_msg_escape(&scratch, example, exlen < 80 ? exlen : 80);
		bb_msg_warn("%s: %zu output lines with unknown recordIds (e.g. '%s')", where,
		    unknown, bb_buf_str(&scratch));
		n_mismatch++;
	}
	if (idx.duplicates) {
		bb_msg_warn("%s: %llu duplicate output lines", where,
		    (unsigned long long)idx.duplicates);
		n_mismatch++;
	}
	if (records >= 0 && (uint64_t)records != joined) {
		bb_msg_warn("%s: the shard has %lld records, its source %llu", where, records,
		    (unsigned long long)joined);
		n_mismatch++;
	}
	if (manifest->len == 0) {
		if (completed)
			bb_msg_note(1, "%s: no manifest.json.out", where);
		return;
	}
	if (bb_join_manifest_parse(manifest->data, manifest->len, &m, &err)) {
		bb_msg_warn("%s: bad manifest.json.out: %s", where, esc(err.msg));
		n_mismatch++;
		return;
	}
	if ((m.total >= 0 && records >= 0 && m.total != records) ||
	    (m.success >= 0 && (uint64_t)m.success != ok) ||
	    (m.error >= 0 && (uint64_t)m.error != errs) ||
	    (m.processed >= 0 && (uint64_t)m.processed != idx.n)) {
		bb_msg_warn("%s: manifest.json.out says %lld records, %lld processed, %lld "
		    "succeeded, %lld failed; the outputs have %zu records, %llu succeeded, "
		    "%llu failed", where, m.total, m.processed, m.success, m.error, idx.n,
		    (unsigned long long)ok, (unsigned long long)errs);
		n_mismatch++;
	}
}

static void
join_shard(const struct job *j)
{
	struct bb_json_span sp[F_N];
	struct bb_error err = BB_ERROR_INIT;
	struct bb_rows_source src;
	struct bb_rows *rows = NULL;
	struct bb_rows_row row;
	struct bb_buf where = BB_BUF_INIT, b = BB_BUF_INIT, manifest = BB_BUF_INIT;
	struct bb_buf jstatus = BB_BUF_INIT, jmsg = BB_BUF_INIT, model = BB_BUF_INIT;
	struct bb_buf prefix = BB_BUF_INIT, jobid = BB_BUF_INIT, input_name = BB_BUF_INIT;
	struct bb_buf code = BB_BUF_INIT, msg = BB_BUF_INIT;
	enum bb_family fam = BB_FAMILY_UNKNOWN;
	long long records = -1;
	uint64_t joined = 0, ok = 0, errs = 0, reject_budget = 0, greedy_rejects = 0;
	const char *st = "Completed", *s;
	int found = 0, read_outputs, have_ids = 0, n, embedding, is_openai;

	memset(&src, 0, sizeof(src));
	oom(bb_buf_addf(&where, "%s:%llu", j->file, (unsigned long long)j->lineno));
	if (bb_json_fields(j->line, j->len, job_keys, F_N, sp, &err))
		goto bad_line;
	if (sp[F_SOURCE].p == NULL || sp[F_SOURCE].type != BB_JSON_OBJECT) {
		bb_error_set(&err, BB_ERR_INPUT, "no \"source\": not a line from bb-shard");
		goto bad_line;
	}
	if (bb_rows_source_parse(sp[F_SOURCE].p, sp[F_SOURCE].n, &src, &err))
		goto bad_line;
	if (sp[F_RECORDS].p != NULL)
		bb_json_span_int(&sp[F_RECORDS], 0, 1LL << 40, &records);
	if ((s = span_text(&sp[F_MODEL], &model)) != NULL) {
		struct bb_buf inv = BB_BUF_INIT;
		const char *iv = span_text(&sp[F_INVOCATION], &inv);

		fam = bb_family_of_model(s, iv != NULL && strcasecmp(iv, "converse") == 0);
		bb_buf_release(&inv);
	}
	if (fam == BB_FAMILY_UNKNOWN && (s = span_text(&sp[F_FAMILY], &b)) != NULL)
		fam = family_by_name(s);
	if (fam == BB_FAMILY_UNKNOWN) {
		bb_error_set(&err, BB_ERR_INPUT, "unknown model family: no \"model\" or \"family\"");
		goto bad_line;
	}
	if ((s = span_text(&sp[F_STATUS], &jstatus)) != NULL)
		st = s;
	else if (opt_outputs == NULL) {
		bb_error_set(&err, BB_ERR_INPUT, "no \"status\": not a line from bb-wait "
		    "(use --outputs DIR for outputs on disk)");
		goto bad_line;
	}
	span_text(&sp[F_MESSAGE], &jmsg);
	if ((s = span_text(&sp[F_JOB_ARN], &b)) != NULL) {
		const char *slash = strrchr(s, '/');

		oom(bb_buf_adds(&jobid, slash ? slash + 1 : s));
	}
	if ((s = span_text(&sp[F_S3_URI], &b)) != NULL || (s = span_text(&sp[F_SHARD], &b)))
		oom(bb_buf_adds(&input_name, base_name(s)));
	if ((s = span_text(&sp[F_OUTPUT_PREFIX], &b)) != NULL) {
		oom(bb_buf_adds(&prefix, s));
	} else if ((s = span_text(&sp[F_OUTPUT_S3_URI], &b)) != NULL && jobid.len) {
		size_t l = strlen(s);

		while (l > 0 && s[l - 1] == '/')
			l--;
		oom(bb_buf_add(&prefix, s, l));
		oom(bb_buf_addf(&prefix, "/%s/", jobid.data));
	}
	if (sp[F_INDEX].p != NULL)
		oom(bb_buf_addf(&where, " (shard %.*s)", (int)sp[F_INDEX].n, sp[F_INDEX].p));

	/* the outputs */
	bb_join_index_reset(&idx);
	idx.family = fam;
	read_outputs = terminal(st);
	if (!read_outputs)
		bb_msg_warn("%s: job status is '%s', not finished: its rows are marked failed",
		    where.data, esc(st));
	if (read_outputs) {
		struct bb_aws_error ae;
		int r, tries;

		if (opt_outputs != NULL)
			r = load_local(jobid.len ? jobid.data : NULL, input_name.len ?
			    input_name.data : NULL, &manifest, &found, &err);
		else if (prefix.len) {
			for (tries = 0;; tries++) {
				double d;

				bb_aws_error_clear(&ae);
				r = load_s3(prefix.data, &manifest, &found, &ae, &err);
				if (r == 0 || tries == READ_RETRIES ||
				    !bb_aws_failure_transient(&ae, &err))
					break;
				d = bb_jobs_backoff(tries + 1, 1, 8, bb_jobs_rand_unit(&rng));
				bb_msg_warn("%s: cannot read the outputs: %s; trying again in %.1f s",
				    where.data, esc(err.msg), d);
				bb_sleep(d);
				/* from scratch: what the failed try had read goes */
				bb_join_index_reset(&idx);
				idx.family = fam;
				bb_buf_reset(&manifest);
				bb_error_clear(&err);
			}
		} else
			r = bb_error_set(&err, BB_ERR_INPUT, "no \"output_prefix\" or "
			    "\"output_s3_uri\" and \"job_arn\": where are the outputs?");
		if (r) {
			bb_msg_error("cannot read the outputs: %s (at %s); its rows are left out",
			    esc(err.msg), where.data);
			status = BB_EXIT_PARTIAL;
			goto out;
		}
		if (!found && strcmp(st, "Completed") == 0)
			bb_msg_warn("%s: no output files%s%s", where.data,
			    opt_outputs ? " in " : "", opt_outputs ? opt_outputs : "");
	}

	/* rows that bb-shard rejected are in the region too */
	if (records >= 0 && src.rows > (uint64_t)records) {
		reject_budget = src.rows - (uint64_t)records;
		if ((s = span_text(&sp[F_SHARD], &b)) != NULL && load_shard_ids(s) == 0)
			have_ids = 1;
		else
			bb_msg_warn("%s: cannot read the shard file for its record ids; rows "
			    "without an output line are taken to be rows bb-shard rejected",
			    where.data);
	}

	rows = bb_rows_open(&src, cli.max_line, &err);
	if (rows == NULL) {
		bb_msg_error("cannot read the rows of the shard: %s (at %s); its rows are left out",
		    esc(err.msg), where.data);
		status = BB_EXIT_PARTIAL;
		goto out;
	}
	embedding = bb_family_is_embedding(fam);
	field = opt_field ? opt_field : embedding ? "embedding" : "output";
	bb_buf_reset(&field_key);
	oom(bb_buf_addc(&field_key, ',') || bb_json_add_str(&field_key, field, strlen(field)) ||
	    bb_buf_addc(&field_key, ':'));
	is_openai = src.format == BB_ROWS_OPENAI;
	if (!is_openai && src.sidecar && src.id_field && strcmp(src.id_field, "custom_id") == 0)
		is_openai = -1;   /* decided per row */
	/* job-level error for records without an output line */
	if (strcmp(st, "Completed") == 0) {
		oom(bb_buf_adds(&code, "\"missing\""));
		oom(bb_json_add_str(&msg, "no output line for this record", 30));
	} else {
		oom(bb_json_add_str(&code, st, strlen(st)));
		bb_buf_reset(&b);
		if (jmsg.len)
			oom(bb_buf_addf(&b, "job %s: %s", st, jmsg.data));
		else
			oom(bb_buf_addf(&b, "job %s before this record was processed", st));
		if (bb_json_add_str(&msg, b.data, b.len))
			oom(bb_json_add_str(&msg, st, strlen(st)));
	}
	while ((n = bb_rows_next(rows, &row, &err)) > 0) {
		struct result res;
		struct bb_join_entry *e = NULL;
		uint64_t *slot = NULL;
		int openai_row;

		if (row.bad || row.idlen == 0) {
			n_rejected++;
			continue;
		}
		if (read_outputs && idx.n > 0) {
			char next[BB_ROWS_PEEK_MAX];
			size_t nl;

			/* the lookups ahead on their way from memory */
			if ((nl = bb_rows_peek_id(rows, 4, next)) > 0)
				bb_join_index_prefetch(&idx, next, nl, 0);
			if ((nl = bb_rows_peek_id(rows, 2, next)) > 0)
				bb_join_index_prefetch(&idx, next, nl, 1);
			e = bb_join_index_find(&idx, row.id, row.idlen);
		}
		if (e != NULL && e->used)
			e = NULL;   /* a later row with the same id: bb-shard rejected it */
		if (reject_budget) {
			if (have_ids) {
				slot = idset_find(&shard_ids, row.id, row.idlen);
				if (slot == NULL || (*slot >> 63)) {
					n_rejected++;
					continue;
				}
				*slot |= 1ULL << 63;
			} else if (e == NULL && greedy_rejects < reject_budget) {
				greedy_rejects++;
				n_rejected++;
				continue;
			}
		}
		joined++;
		memset(&res, 0, sizeof(res));
		res.e = e;
		if (e != NULL) {
			e->used = 1;
			res.ok = e->status == BB_JOIN_OK;
			if (res.ok)
				ok++;
			else
				errs++;
		} else {
			res.code = code.data;
			res.codelen = code.len;
			res.message = msg.data;
			res.msglen = msg.len;
			if (strcmp(st, "Completed") == 0)
				n_missing++;
		}
		n_rows++;
		if (res.ok) {
			n_ok++;
			if (e->input_tokens > 0)
				n_tok_in += (uint64_t)e->input_tokens;
			if (e->output_tokens > 0)
				n_tok_out += (uint64_t)e->output_tokens;
		} else {
			const char *cp;
			size_t cl;

			n_failed++;
			ref_of(&res, 0, &cp, &cl);
			if (!opt_retryable_only || bb_join_error_retryable(cp, cl))
				write_failed(rows, &row);
		}
		openai_row = is_openai > 0;
		if (is_openai < 0) {
			static const char *const ok2[] = { "body", "url" };
			struct bb_json_span s2[2];

			openai_row = bb_json_fields(row.json, row.jsonlen, ok2, 2, s2, NULL) == 0 &&
			    s2[0].type == BB_JSON_OBJECT && s2[1].type == BB_JSON_STRING;
		}
		if (opt_csv)
			write_csv(rows, &row, &res);
		else if (openai_row && !opt_drop_input)
			write_openai(&row, &res, model.data ? model.data : "", embedding);
		else
			write_jsonl(&row, &res);
		flush_out(0);
	}
	if (n < 0) {
		bb_msg_error("%s (at %s); the rest of its rows are left out", esc(err.msg),
		    where.data);
		status = BB_EXIT_PARTIAL;
	}
	flush_out(1);
	if (read_outputs)
		reconcile(where.data, records, joined, ok, errs, &manifest,
		    strcmp(st, "Completed") == 0);
	n_shards++;
	bb_progress_update("bb-join: %llu shards, %llu rows, %llu failed",
	    (unsigned long long)n_shards, (unsigned long long)n_rows,
	    (unsigned long long)n_failed);
	goto out;
bad_line:
	bb_msg_error("%s (at %s)", esc(err.msg), where.data);
	status = BB_EXIT_PARTIAL;
out:
	bb_rows_free(rows);
	bb_rows_source_release(&src);
	bb_buf_release(&where);
	bb_buf_release(&b);
	bb_buf_release(&manifest);
	bb_buf_release(&jstatus);
	bb_buf_release(&jmsg);
	bb_buf_release(&model);
	bb_buf_release(&prefix);
	bb_buf_release(&jobid);
	bb_buf_release(&input_name);
	bb_buf_release(&code);
	bb_buf_release(&msg);
}

/* ---- order ---- */

/* The run a job line belongs to (one bb-shard run) and its index. */
static int
job_key(struct job *j, struct bb_error *err)
{
	static const char *const k[] = { "index", "source" };
	static const char *const k2[] = { "path", "sidecar" };
	struct bb_json_span sp[2], s2[2];
	struct bb_buf key = BB_BUF_INIT;
	size_t i;
	int rc = -1;

	if (bb_json_fields(j->line, j->len, k, 2, sp, err))
		goto out;
	if (sp[0].p == NULL || bb_json_span_int(&sp[0], 0, 1LL << 40, &j->index)) {
		bb_error_set(err, BB_ERR_INPUT, "no \"index\": not a line from bb-shard");
		goto out;
	}
	if (sp[1].p == NULL || sp[1].type != BB_JSON_OBJECT ||
	    bb_json_fields(sp[1].p, sp[1].n, k2, 2, s2, err)) {
		bb_error_set(err, BB_ERR_INPUT, "no \"source\" object: not a line from bb-shard");
		goto out;
	}
	if (s2[0].p != NULL) {
		span_text(&s2[0], &key);
	} else if (s2[1].p != NULL) {
		/* ".../part-00002.rows.jsonl.gz": the stem ".../part" names the run */
		const char *d;

		span_text(&s2[1], &key);
		d = strrchr(bb_buf_str(&key), '-');
		if (d != NULL)
			bb_buf_setlen(&key, (size_t)(d - key.data));
	}
	for (i = 0; i < nruns; i++)
		if (strcmp(runs[i].key, bb_buf_str(&key)) == 0)
			break;
	if (i == nruns) {
		runs = bb_xrealloc(runs, (nruns + 1) * sizeof(*runs));
		runs[nruns].key = bb_xstrdup(bb_buf_str(&key));
		runs[nruns].next = 1;
		nruns++;
	}
	j->run = i;
	rc = 0;
out:
	bb_buf_release(&key);
	return rc;
}

static void
job_free(struct job *j)
{
	free(j->line);
	free(j->file);
}

/* Join every pending shard that is next in its run. */
static void
drain(void)
{
	size_t i;
	int again = 1;

	while (again) {
		again = 0;
		for (i = 0; i < npending; i++) {
			struct job *j = &pending[i];

			if (j->index > runs[j->run].next)
				continue;
			if (j->index == runs[j->run].next)
				runs[j->run].next++;
			join_shard(j);
			job_free(j);
			pending[i] = pending[--npending];
			again = 1;
			break;
		}
	}
}

static int
cmp_job(const void *a, const void *b)
{
	const struct job *x = a, *y = b;

	if (x->run != y->run)
		return x->run < y->run ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static void
take_line(const char *name, const struct bb_ndjson_line *ln)
{
	struct bb_error err = BB_ERROR_INIT;
	struct job j;

	memset(&j, 0, sizeof(j));
	j.line = bb_xmalloc(ln->len + 1);
	memcpy(j.line, ln->data, ln->len + 1);
	j.len = ln->len;
	j.file = bb_xstrdup(name);
	j.lineno = ln->lineno;
	if (opt_unordered) {
		join_shard(&j);
		job_free(&j);
		return;
	}
	if (job_key(&j, &err)) {
		bb_msg_error("%s (at %s:%llu)", esc(err.msg), name, (unsigned long long)ln->lineno);
		status = BB_EXIT_PARTIAL;
		job_free(&j);
		return;
	}
	if (npending == cappending) {
		cappending = cappending ? 2 * cappending : 64;
		pending = bb_xrealloc(pending, cappending * sizeof(*pending));
	}
	pending[npending++] = j;
	drain();
}

/* At the end: what is still waiting comes out in order, gaps reported. */
static void
finish_pending(void)
{
	size_t i;

	if (npending > 1)
		qsort(pending, npending, sizeof(*pending), cmp_job);
	for (i = 0; i < npending; i++) {
		struct job *j = &pending[i];

		if (j->index > runs[j->run].next)
			bb_msg_warn("shards %lld to %lld of '%s' never came: their rows are not in "
			    "the output", runs[j->run].next, j->index - 1, esc(runs[j->run].key));
		runs[j->run].next = j->index + 1;
		join_shard(j);
		job_free(j);
	}
	npending = 0;
}

/* ---- main ---- */

enum {
	O_FIELD = 256, O_RAW, O_DROP_INPUT, O_FORMAT, O_FAILED, O_RETRYABLE, O_UNORDERED,
	O_STRICT,
};

static const struct option longopts[] = {
	{ "outputs", required_argument, NULL, 'o' },
	{ "field", required_argument, NULL, O_FIELD },
	{ "raw", no_argument, NULL, O_RAW },
	{ "drop-input", no_argument, NULL, O_DROP_INPUT },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "failed", required_argument, NULL, O_FAILED },
	{ "retryable-only", no_argument, NULL, O_RETRYABLE },
	{ "unordered", no_argument, NULL, O_UNORDERED },
	{ "strict", no_argument, NULL, O_STRICT },
	BB_CLI_OPTIONS_MAX_LINE,
	BB_CLI_OPTIONS_AWS,
	BB_CLI_OPTIONS_PROGRESS,
	BB_CLI_OPTIONS_STD,
	{ NULL, 0, NULL, 0 },
};

static void
parse_options(int argc, char **argv)
{
	int c;

	bb_cli_init(&cli, usage);
	while ((c = getopt_long(argc, argv, "o:" BB_CLI_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case 'o': opt_outputs = optarg; break;
		case O_FIELD:
			if (*optarg == '\0' || !bb_utf8_valid(optarg, strlen(optarg)))
				bb_usage_die("--field: an empty name, or not UTF-8");
			opt_field = optarg;
			break;
		case O_RAW: opt_raw = 1; break;
		case O_DROP_INPUT: opt_drop_input = 1; break;
		case O_FORMAT:
			if (strcmp(optarg, "csv") == 0)
				opt_csv = 1;
			else if (strcmp(optarg, "jsonl") == 0)
				opt_csv = 0;
			else
				bb_usage_die("--format: 'jsonl' or 'csv', not '%s'", optarg);
			break;
		case O_FAILED: opt_failed = optarg; break;
		case O_RETRYABLE: opt_retryable_only = 1; break;
		case O_UNORDERED: opt_unordered = 1; break;
		case O_STRICT: opt_strict = 1; break;
		default:
			if (!bb_cli_option(&cli, c, optarg))
				bb_cli_try_help();
		}
	}
	if (opt_retryable_only && opt_failed == NULL)
		bb_usage_die("--retryable-only applies to --failed FILE");
}

int
main(int argc, char **argv)
{
	struct bb_error err = BB_ERROR_INIT;
	char *stdin_arg[] = { "-", NULL };
	char **inputs;
	size_t ninputs, i;
	struct stat st;

	bb_main_init(argc, argv, "bb-join");
	parse_options(argc, argv);
	bb_jobs_rand_init(&rng, ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid());
	inputs = optind < argc ? argv + optind : stdin_arg;
	ninputs = optind < argc ? (size_t)(argc - optind) : 1;
	if (opt_outputs != NULL && (stat(opt_outputs, &st) || !S_ISDIR(st.st_mode)))
		bb_die(BB_EXIT_USAGE, "--outputs: '%s' is not a directory", opt_outputs);
	/* outputs read from S3: a configuration error stops before any input */
	if (opt_outputs == NULL && ((aws = bb_aws_new(&cli.aws, &err)) == NULL ||
	    bb_aws_ready(aws, "s3", &err) < 0))
		bb_die(BB_EXIT_USAGE, "%s", err.msg);
	if (opt_failed != NULL) {
		failed_tmp = bb_xmalloc(strlen(opt_failed) + 32);
		sprintf(failed_tmp, "%s.%ld.tmp", opt_failed, (long)getpid());
		if ((failed_fp = fopen(failed_tmp, "w")) == NULL)
			bb_die(BB_EXIT_USAGE, "cannot create '%s': %s", failed_tmp, strerror(errno));
		atexit(failed_cleanup);
	}
	bb_join_index_init(&idx, BB_FAMILY_UNKNOWN, opt_raw ? BB_JOIN_KEEP_RAW : 0);

	for (i = 0; i < ninputs; i++) {
		struct bb_ndjson *r;
		struct bb_ndjson_line ln;
		int n;

		r = bb_ndjson_open(inputs[i], cli.max_line, BB_NDJSON_SKIP_BLANK, &err);
		if (r == NULL) {
			bb_msg_error("%s", esc(err.msg));
			status = BB_EXIT_USAGE;
			break;
		}
		while ((n = bb_ndjson_next(r, &ln, &err)) != 0) {
			if (n < 0) {
				bb_msg_error("%s", esc(err.msg));
				status = BB_EXIT_PARTIAL;
				if (bb_ndjson_failed(r) || bb_ndjson_skip_line(r, NULL) < 0)
					break;
				continue;
			}
			take_line(bb_ndjson_name(r), &ln);
		}
		bb_ndjson_free(r);
	}
	finish_pending();
	flush_out(1);
	bb_progress_done();

	if (failed_fp != NULL) {
		errno = 0;
		if (fflush(failed_fp) != 0 && failed_errno == 0)
			failed_errno = errno ? errno : EIO;
		if (fclose(failed_fp) != 0 && failed_errno == 0)
			failed_errno = errno ? errno : EIO;
		failed_fp = NULL;
		if (failed_errno == 0 && rename(failed_tmp, opt_failed) != 0)
			failed_errno = errno;
		if (failed_errno != 0) {
			bb_msg_error("cannot write '%s': %s", opt_failed, strerror(failed_errno));
			unlink(failed_tmp);
			status = BB_EXIT_USAGE;
		}
	}
	bb_msg_info("%llu rows: %llu succeeded, %llu failed (%llu missing); tokens in %llu, "
	    "out %llu", (unsigned long long)n_rows, (unsigned long long)n_ok,
	    (unsigned long long)n_failed, (unsigned long long)n_missing,
	    (unsigned long long)n_tok_in, (unsigned long long)n_tok_out);
	if (n_rejected)
		bb_msg_note(1, "%llu rows that bb-shard rejected were left out",
		    (unsigned long long)n_rejected);
	if (n_mismatch)
		bb_msg_info("%llu reconciliation mismatches%s", (unsigned long long)n_mismatch,
		    opt_strict ? " (--strict)" : "");
	if (status == BB_EXIT_OK && (n_failed || (opt_strict && n_mismatch)))
		status = BB_EXIT_PARTIAL;
	for (i = 0; i < nruns; i++)
		free(runs[i].key);
	free(runs);
	free(pending);
	for (i = 0; i < csv_ncols; i++)
		free(csv_cols[i]);
	free(csv_cols);
	free(failed_tmp);
	bb_join_index_release(&idx);
	bb_buf_release(&obuf);
	bb_buf_release(&scratch);
	bb_buf_release(&scratch2);
	bb_buf_release(&field_key);
	bb_buf_release(&failed_header);
	bb_buf_release(&shard_ids.arena);
	free(shard_ids.slots);
	free(shard_ids.hashes);
	if (aws != NULL)
		bb_aws_free(aws);
	return bb_main_finish(status);
}
