/*
 * bb-shard - cut input rows into Bedrock batch input files (shards).
 *
 * Policy only: reading rows (ndjson.h, csv.h), templates (template.h),
 * the modelInput and request lines (modelinput.h), record ids
 * (recordid.h) and the shard files with their threads, durability,
 * sidecars and tail rebalancing (shardout.h) live in libshared. Here:
 * options, which rows become which records, where the rows are (a
 * re-readable input or sidecars), rejects, messages and exit codes. See
 * man/bb-shard.1.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "csv.h"
#include "error.h"
#include "family.h"
#include "json.h"
#include "modelinput.h"
#include "msg.h"
#include "ndjson.h"
#include "recordid.h"
#include "shardout.h"
#include "template.h"

enum fmt { FMT_AUTO, FMT_JSONL, FMT_CSV, FMT_TSV, FMT_BEDROCK, FMT_OPENAI };
static const char *const fmt_names[] = { "auto", "jsonl", "csv", "tsv", "bedrock", "openai" };

/* ---- options ---- */

static const char *opt_model, *opt_template, *opt_system, *opt_params, *opt_text_field;
static const char *opt_id_field, *opt_out_dir = ".", *opt_prefix = "part", *opt_rejects;
static const char *opt_input_type;
static enum fmt opt_format = FMT_AUTO;
static int opt_converse, opt_strict, opt_dry_run, opt_no_sync, opt_sidecar_level = 1;
static long long opt_max_records = 50000, opt_min_records = 100, opt_records = -1;
static uint64_t opt_max_bytes = 1000000000ULL;
static struct bb_cli cli;
static size_t opt_read_size;
static struct bb_mi_opts mio;
static const char **stops;
static size_t nstops;

/* ---- state ---- */

static enum bb_family family;
static struct bb_modelinput mi;
static struct bb_template *tpl;
static struct bb_shardout *so;
static char *out_dir_abs;
static const char *source_path;   /* absolute path in path mode, else NULL */
static enum fmt fmt;
static uint64_t rows_total, records_total, rejected;
static long long target;
static FILE *rejects_fp;
static char *rejects_path, *rejects_tmp;
static int rejects_errno;         /* the first write error of the rejects */
static int rejects_copied;        /* the rejects file is in place */
/* What remove_temporaries() removes (read in a signal handler). */
static struct bb_shardout *volatile so_live;
static char *volatile rejects_live;
static struct bb_buf csv_header_raw;
static char **csv_names;
static size_t csv_ncols;
static int id_mode_field;         /* ids come from a field */
static const char *id_field_name;
static struct bb_recordid_set ids_seen;

/* Per-row scratch (reused: no allocation per row once warm). */
static struct bb_buf recbuf, idbuf, sidebuf;
static struct bb_buf *nested_vals;
static struct bb_template_value *vals;
static struct bb_json_span *spans;
static const char **keys;
static size_t nkeys;

static void
usage(void)
{
	printf("usage: bb-shard -m MODEL [-t TEMPLATE | -T FILE | --text-field NAME]\n"
	    "                [-f auto|jsonl|csv|tsv|bedrock|openai] [--invocation-type converse]\n"
	    "                [-s SYSTEM] [--max-tokens N] [--temperature X] [--top-p X]\n"
	    "                [--stop STRING]... [--dimensions N] [--normalize | --no-normalize]\n"
	    "                [--input-type TYPE] [--params JSON] [--id-field NAME]\n"
	    "                [-o DIR] [-p PREFIX] [--max-records N] [--min-records N]\n"
	    "                [--records N] [--max-bytes SIZE] [--max-line-bytes SIZE]\n"
	    "                [--rejects FILE] [--strict] [--no-sync] [--sidecar-level N]\n"
	    "                [--progress | --no-progress] [-n] [-q] [-v] [FILE ...]\n"
	    "       bb-shard -h | -V\n"
	    "\n"
	    "Cut input rows (JSON Lines, CSV, TSV; gzip too) into Bedrock batch input\n"
	    "files and print one shard line per finished shard.\n"
	    "\n"
	    "  -m, --model ID             model id, inference profile id or ARN (required)\n"
	    "  -t, --template TEXT        prompt template with {field} placeholders\n"
	    "  -T, --template-file FILE   the template from a file\n"
	    "      --text-field NAME      the prompt is this field (embeddings)\n"
	    "  -f, --input-format FMT     auto, jsonl, csv, tsv, bedrock or openai (auto)\n"
	    "      --invocation-type T    converse: Converse request bodies\n"
	    "  -s, --system TEXT          system text\n"
	    "      --max-tokens N, --temperature X, --top-p X, --stop STRING\n"
	    "                             inference parameters (--stop repeatable)\n"
	    "      --dimensions N, --normalize, --no-normalize\n"
	    "                             Titan Text Embeddings V2 parameters\n"
	    "      --input-type TYPE      Cohere Embed input type\n"
	    "      --params JSON          object merged into every modelInput\n"
	    "      --id-field NAME        record ids from this field (or column)\n"
	    "  -o, --out-dir DIR          where shards go (.)\n"
	    "  -p, --prefix PREFIX        shard file name prefix (part)\n"
	    "      --max-records N        records per shard at most (50000)\n"
	    "      --min-records N        records per shard at least (100)\n"
	    "      --records N            records per shard to aim for\n"
	    "      --max-bytes SIZE       bytes per shard at most (1G)\n"
	    "      --max-line-bytes SIZE  longest input row (64MiB)\n"
	    "      --rejects FILE         where bad rows are copied\n"
	    "      --strict               stop at the first bad row\n"
	    "      --no-sync              do not wait for shards to reach the disk\n"
	    "      --sidecar-level N      gzip level of sidecars, 0-9 (1)\n"
	    "      --progress, --no-progress  force the progress line on or off\n"
	    "  -n, --dry-run              print the plan, write nothing\n"
	    "  -q, --quiet                errors only\n"
	    "  -v, --verbose              notes (rebalancing, totals)\n"
	    "  -h, --help                 this help\n"
	    "  -V, --version              the version\n"
	    "\n"
	    "Exit status: 0 all rows became records; 1 some rows were rejected;\n"
	    "2 usage or system error.\n");
}

/* ---- small helpers ---- */

/* The engine's callbacks: a shard line to stdout, flushed; a note. */
static void
print_line(void *arg, const char *line, size_t len)
{
	(void)arg;
	bb_out_write(line, len);
	bb_out_record_end();
}

static void
print_note(void *arg, const char *text)
{
	(void)arg;
	bb_msg_note(1, "%s", text);
}

static char *
path_join(const char *dir, const char *name)
{
	struct bb_buf b = BB_BUF_INIT;

	if (bb_buf_addf(&b, "%s/%s", dir, name))
		bb_die(BB_EXIT_USAGE, "out of memory");
	return bb_buf_detach(&b, NULL);
}

/* ---- the way out ---- */

/*
 * Remove the temporary files (shards, sidecars, the rejects) of a
 * process on its way out: at exit (bb_die, a thread's bb_die) and in the
 * signal handler. Async-signal-safe. Final files stay.
 */
static void
remove_temporaries(void)
{
	char *r = rejects_live;

	bb_shardout_remove_temporaries(so_live);
	if (r != NULL)
		(void)unlink(r);
}

/* Remove the temporaries, then die of the signal as if not caught. */
static void
on_signal(int sig)
{
	int e = errno;

	remove_temporaries();
	signal(sig, SIG_DFL);
	raise(sig);   /* delivered when the handler returns */
	errno = e;
}

/*
 * Killed by a signal, bb-shard removes its temporary files and then dies
 * of the signal. An ignored signal stays ignored (nohup, a background
 * job), except SIGPIPE, which bb_main_init() ignores for libcurl's sake:
 * bb-shard makes no transfers, and when a shard line meets a closed pipe
 * the temporaries must go before it ends of SIGPIPE (quietly, 141), which
 * bb_out_write() alone does without cleaning up.
 */
static void
catch_signals(void)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGTERM, SIGPIPE, SIGXFSZ };
	struct sigaction sa, old;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (sigs[i] != SIGPIPE && sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
	if (atexit(remove_temporaries))
		bb_die(BB_EXIT_USAGE, "cannot register an exit handler");
}

/*
 * A failure of the shard engine or of the input: stop the engine (the
 * shards it closed are finished, the others dropped with their files),
 * then exit 2 (the rejects' temporary goes at exit).
 */
__attribute__((format(printf, 1, 2), noreturn))
static void
die_stopping(const char *f, ...)
{
	struct bb_buf msg = BB_BUF_INIT;
	va_list ap;

	va_start(ap, f);
	if (bb_buf_vaddf(&msg, f, ap))
		bb_buf_reset(&msg);
	va_end(ap);
	(void)bb_shardout_abort(so, NULL);
	bb_die(BB_EXIT_USAGE, "%s", msg.data != NULL ? msg.data : "out of memory");
}

/* ---- rejects ---- */

/*
 * Close the rejects file and rename it into place: 0, or -1 after saying
 * why (the first write error, else that of the flush, close or rename),
 * the temporary removed.
 */
static int
rejects_close(void)
{
	int e = rejects_errno;

	if (rejects_fp == NULL)
		return 0;
	if (fflush(rejects_fp) != 0 && e == 0)
		e = errno;
	if (ferror(rejects_fp) && e == 0)
		e = EIO;
	if (fclose(rejects_fp) != 0 && e == 0)
		e = errno;
	rejects_fp = NULL;
	if (e == 0 && rename(rejects_tmp, rejects_path) != 0)
		e = errno;
	if (e != 0) {
		bb_msg_error("cannot write '%s': %s", rejects_path, strerror(e));
		(void)unlink(rejects_tmp);
	}
	rejects_live = NULL;
	rejects_copied = e == 0;
	return e != 0 ? -1 : 0;
}

/* Copy a bad row to the rejects file; the first write error is kept. */
static void
rejects_add(const char *raw, size_t n)
{
	if (rejects_fp == NULL) {
		rejects_tmp = bb_xmalloc(strlen(rejects_path) + 32);
		sprintf(rejects_tmp, "%s.%ld.tmp", rejects_path, (long)getpid());
		rejects_live = rejects_tmp;
		if ((rejects_fp = fopen(rejects_tmp, "w")) == NULL) {
			rejects_live = NULL;
			die_stopping("cannot create '%s': %s", rejects_tmp, strerror(errno));
		}
		if (csv_header_raw.len && fprintf(rejects_fp, "%s\n", csv_header_raw.data) < 0)
			rejects_errno = errno ? errno : EIO;
	}
	if (rejects_errno != 0)
		return;   /* reported at the end */
	errno = 0;
	if (fwrite(raw, 1, n, rejects_fp) != n || putc('\n', rejects_fp) == EOF)
		rejects_errno = errno ? errno : EIO;
}

static void
reject(const char *name, uint64_t line, const char *raw, size_t n, const char *why)
{
	struct bb_buf msg = BB_BUF_INIT;

	rejected++;
	bb_msg_escape(&msg, why, strlen(why));
	if (strstr(why, "(at ") != NULL)
		bb_msg_error("%s", bb_buf_str(&msg));
	else
		bb_msg_error("%s (at %s:%llu)", bb_buf_str(&msg), name, (unsigned long long)line);
	bb_buf_release(&msg);
	if (raw != NULL && !opt_dry_run)
		rejects_add(raw, n);
	if (opt_strict) {
		struct bb_error err = BB_ERROR_INIT;
		int status = BB_EXIT_PARTIAL;

		/* earlier shards are finished; pending writes done */
		if (bb_shardout_abort(so, &err))
			die_stopping("%s", err.msg);
		if (rejects_close())
			status = BB_EXIT_USAGE;
		bb_msg_info("stopped at the first bad row (--strict)");
		exit(bb_main_finish(status));
	}
}

/* ---- one row ---- */

struct row {
	const char *raw;
	size_t len;
	uint64_t line, off;
	const struct bb_csv *csv;
};

/* The row as a sidecar holds it (a JSON line without its '\n'), in *p, *n:
 * CSV/TSV records become objects of the header's names; a bad one null. */
static void
sidecar_row(const struct row *rw, int ok, const char **p, size_t *n)
{
	if (fmt != FMT_CSV && fmt != FMT_TSV) {
		*p = rw->raw;
		*n = rw->len;
		return;
	}
	bb_buf_reset(&sidebuf);
	if (ok && rw->csv) {
		if (bb_csv_json_object(rw->csv, csv_names, csv_ncols, &sidebuf))
			bb_die(BB_EXIT_USAGE, "out of memory");
	} else if (bb_buf_adds(&sidebuf, "null")) {
		bb_die(BB_EXIT_USAGE, "out of memory");
	}
	*p = sidebuf.data;
	*n = sidebuf.len;
}

/* A row without a record: rejected, its sidecar copy kept in line. */
static void
skip_row(const char *name, uint64_t line, const struct row *rw, const char *raw, size_t n,
    const char *why)
{
	struct bb_error err = BB_ERROR_INIT;
	const char *side;
	size_t siden;

	if (so != NULL && bb_shardout_sidecars(so)) {
		sidecar_row(rw, 0, &side, &siden);
		if (bb_shardout_skip(so, side, siden, &err))
			die_stopping("%s", err.msg);
	}
	reject(name, line, raw, n, why);
}

/* Template values for a JSON row; -1 on a bad row. */
static int
values_json(const struct row *rw, struct bb_json **tree, struct bb_error *err)
{
	size_t i, nf = tpl ? bb_template_nfields(tpl) : 0;

	if (tpl && bb_template_has_nested(tpl)) {
		if (bb_json_parse(rw->raw, rw->len, 0, tree, err))
			return -1;
		if ((*tree)->type != BB_JSON_OBJECT)
			return bb_error_set(err, BB_ERR_INPUT, "not a JSON object");
		for (i = 0; i < nf; i++) {
			const struct bb_json *v = bb_json_path(*tree, bb_template_field(tpl, i));

			vals[i].p = NULL;
			vals[i].escaped = 0;
			if (v == NULL || v->type == BB_JSON_NULL)
				continue;
			if (v->type == BB_JSON_STRING || v->type == BB_JSON_NUMBER) {
				vals[i].p = v->str;
				vals[i].n = v->len;
			} else if (v->type == BB_JSON_TRUE || v->type == BB_JSON_FALSE) {
				vals[i].p = v->type == BB_JSON_TRUE ? "true" : "false";
				vals[i].n = strlen(vals[i].p);
			} else {
				bb_buf_reset(&nested_vals[i]);
				bb_json_write(v, &nested_vals[i]);
				vals[i].p = nested_vals[i].data;
				vals[i].n = nested_vals[i].len;
			}
		}
		if (opt_id_field) {
			const struct bb_json *v = bb_json_path(*tree, opt_id_field);

			if (v == NULL || (v->type != BB_JSON_STRING && v->type != BB_JSON_NUMBER))
				return bb_error_set(err, BB_ERR_INPUT,
				    "id field '%s' is missing or not a string or number", opt_id_field);
			return bb_recordid_make(v->str, v->len, 0, &idbuf, err);
		}
		return 0;
	}
	if (bb_json_fields(rw->raw, rw->len, keys, nkeys, spans, err))
		return -1;
	for (i = 0; i < nf; i++) {
		const struct bb_json_span *sp = &spans[i];

		vals[i].p = NULL;
		vals[i].escaped = 0;
		if (sp->p == NULL || sp->type == BB_JSON_NULL)
			continue;
		if (sp->type == BB_JSON_STRING) {
			vals[i].p = sp->p + 1;
			vals[i].n = sp->n - 2;
			vals[i].escaped = 1;
		} else if (sp->type == BB_JSON_OBJECT || sp->type == BB_JSON_ARRAY) {
			/* as compact JSON text, like the nested lookup gives it */
			bb_buf_reset(&nested_vals[i]);
			if (bb_json_compact(sp->p, sp->n, &nested_vals[i]))
				return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
			vals[i].p = bb_buf_str(&nested_vals[i]);
			vals[i].n = nested_vals[i].len;
		} else {
			/* numbers and literals are plain ASCII: already a string body */
			vals[i].p = sp->p;
			vals[i].n = sp->n;
			vals[i].escaped = 1;
		}
	}
	if (opt_id_field)
		return bb_recordid_from_json(&spans[nf], 0, "id field", &idbuf, err);
	return 0;
}

static int
values_csv(const struct row *rw, struct bb_error *err)
{
	size_t i, nf = tpl ? bb_template_nfields(tpl) : 0, len = 0;

	if (bb_csv_nfields(rw->csv) != csv_ncols)
		return bb_error_set(err, BB_ERR_INPUT, "%zu fields, the header has %zu",
		    bb_csv_nfields(rw->csv), csv_ncols);
	for (i = 0; i < nf; i++) {
		size_t col = (size_t)spans[i].n;   /* column index, or SIZE_MAX */

		vals[i].escaped = 0;
		vals[i].p = col == SIZE_MAX ? NULL : bb_csv_field(rw->csv, col, &len);
		vals[i].n = len;
		if (col == SIZE_MAX)
			vals[i].n = 0;
	}
	if (opt_id_field) {
		const char *v = bb_csv_field(rw->csv, (size_t)spans[nf].n, &len);

		return bb_recordid_make(v, len, 0, &idbuf, err);
	}
	return 0;
}

/* idbuf = the generated id of row n. */
static void
gen_id(uint64_t n)
{
	char id[BB_RECORDID_GEN_MAX];

	bb_buf_reset(&idbuf);
	if (bb_buf_add(&idbuf, id, bb_recordid_generate(id, n)))
		bb_die(BB_EXIT_USAGE, "out of memory");
}

/* A duplicate id is a bad row. */
static int
id_is_new(void)
{
	int r = bb_recordid_set_add(&ids_seen, idbuf.data, idbuf.len);

	if (r < 0)
		bb_die(BB_EXIT_USAGE, "out of memory");
	return r;
}

static void
process_row(const char *name, const struct row *rw)
{
	static const char head[] = "{\"recordId\":\"", mid[] = "\",\"modelInput\":";
	struct bb_error err = BB_ERROR_INIT;
	struct bb_json *tree = NULL;
	struct bb_shardout_rec r;
	const char *side = NULL;
	size_t at, plen = 0, siden = 0, nrec;
	unsigned index;
	int bad = 1, rc;

	rows_total++;
	memset(&r, 0, sizeof(r));
	bb_buf_reset(&recbuf);
	bb_buf_reset(&idbuf);
	if (fmt == FMT_BEDROCK || fmt == FMT_OPENAI) {
		/* the id comes with the body: put it in front afterwards */
		if (bb_buf_add(&recbuf, head, sizeof(head) - 1))
			bb_die(BB_EXIT_USAGE, "out of memory");
		at = recbuf.len;
		if (bb_buf_add(&recbuf, mid, sizeof(mid) - 1))
			bb_die(BB_EXIT_USAGE, "out of memory");
		if (fmt == FMT_BEDROCK ?
		    bb_modelinput_bedrock_line(family, rw->raw, rw->len, &idbuf, &recbuf, &plen,
		    &err) :
		    bb_modelinput_openai_line(&mi, rw->raw, rw->len, &idbuf, &recbuf, &plen, &err))
			goto out;
		if (idbuf.len == 0)
			gen_id(rows_total);
		else if (!id_is_new())
			goto dup;
		if (bb_buf_grow(&recbuf, idbuf.len))
			bb_die(BB_EXIT_USAGE, "out of memory");
		memmove(recbuf.data + at + idbuf.len, recbuf.data + at, recbuf.len - at + 1);
		memcpy(recbuf.data + at, idbuf.data, idbuf.len);
		recbuf.len += idbuf.len;
	} else {
		/* template path: the id first, the prompt rendered in place */
		if (fmt == FMT_CSV || fmt == FMT_TSV) {
			if (values_csv(rw, &err))
				goto out;
		} else if (values_json(rw, &tree, &err)) {
			goto out;
		}
		if (!id_mode_field || idbuf.len == 0)
			gen_id(rows_total);
		if (bb_buf_add(&recbuf, head, sizeof(head) - 1) ||
		    bb_buf_add(&recbuf, idbuf.data, idbuf.len) ||
		    bb_buf_add(&recbuf, mid, sizeof(mid) - 1))
			bb_die(BB_EXIT_USAGE, "out of memory");
		if (bb_modelinput_prompt_begin(&mi, &recbuf, &err))
			goto out;
		at = recbuf.len;
		if (bb_template_render_json(tpl, vals, &recbuf, &err))
			goto out;
		plen = recbuf.len - at;
		if (bb_modelinput_prompt_end(&mi, &recbuf, plen, &err))
			goto out;
		if (id_mode_field && !id_is_new())
			goto dup;
	}
	if (bb_buf_add(&recbuf, "}\n", 2))
		bb_die(BB_EXIT_USAGE, "out of memory");
	if (recbuf.len > opt_max_bytes) {
		bb_error_set(&err, BB_ERR_INPUT, "record of %zu bytes is over --max-bytes",
		    recbuf.len);
		goto out;
	}
	bad = 0;
	goto out;
dup:
	bb_error_set(&err, BB_ERR_INPUT, "duplicate record id '%s'", bb_buf_str(&idbuf));
out:
	bb_json_free(tree);
	if (bad) {
		skip_row(name, rw->line, rw, rw->raw, rw->len, err.msg);
		return;
	}
	r.row = rows_total;
	r.in_off = rw->off;
	r.in_end = rw->off + rw->len;
	r.line = rw->line;
	r.tokens = (plen + 3) / 4;
	if (bb_shardout_sidecars(so))
		sidecar_row(rw, 1, &side, &siden);
	rc = bb_shardout_add(so, recbuf.data, recbuf.len, &r, idbuf.data, idbuf.len, side, siden,
	    &err);
	if (rc == BB_SHARDOUT_TOO_LARGE) {
		bb_shardout_current(so, &index, &nrec);
		die_stopping("records are so large that shard %u holds only %zu "
		    "within --max-bytes %llu, below --min-records %lld", index, nrec,
		    (unsigned long long)opt_max_bytes, opt_min_records);
	}
	if (rc)
		die_stopping("%s", err.msg);
	records_total++;
	bb_progress_update("bb-shard: %llu rows, %llu records, %llu shards",
	    (unsigned long long)rows_total, (unsigned long long)records_total,
	    (unsigned long long)bb_shardout_closed(so));
}

/* ---- inputs ---- */

static enum fmt
format_of(const char *path)
{
	size_t n = strlen(path);

	if (n > 3 && strcmp(path + n - 3, ".gz") == 0)
		n -= 3;
	if (n > 4 && strncmp(path + n - 4, ".csv", 4) == 0)
		return FMT_CSV;
	if (n > 4 && strncmp(path + n - 4, ".tsv", 4) == 0)
		return FMT_TSV;
	return FMT_JSONL;
}

/*
 * Standard input redirected from a regular file (`bb-shard < rows.jsonl`)
 * can be re-read like a named file, so it needs no sidecar: its path, when
 * /proc names it, it is still that file, and reading starts at its first
 * byte (offsets are from there). NULL otherwise. Call before reading.
 */
static char *
stdin_path(void)
{
	char link[PATH_MAX];
	struct stat a, b;
	ssize_t n;

	if (fstat(0, &a) || !S_ISREG(a.st_mode) || lseek(0, 0, SEEK_CUR) != 0)
		return NULL;
	n = readlink("/proc/self/fd/0", link, sizeof(link) - 1);
	if (n <= 0 || link[0] != '/')
		return NULL;
	link[n] = '\0';
	if (stat(link, &b) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return NULL;
	return bb_xstrdup(link);
}

/* The path of a single seekable input (see stdin_path), else NULL. */
static const char *
input_path(const char *path, char *stdin_file, int seekable)
{
	if (!seekable || opt_dry_run)
		return NULL;
	if (strcmp(path, "-") == 0)
		return stdin_file;
	return realpath(path, NULL);
}

static int
read_jsonl(const char *path, int single)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_ndjson *r;
	struct bb_ndjson_line ln;
	struct row rw;
	char *sfile = NULL;
	int n;

	if (single && strcmp(path, "-") == 0)
		sfile = stdin_path();
	r = bb_ndjson_open(path, cli.max_line, BB_NDJSON_SKIP_BLANK, &err);
	if (r == NULL) {
		bb_msg_error("%s", err.msg);
		free(sfile);
		return -1;
	}
	if (opt_read_size)
		bb_ndjson_set_read_size(r, opt_read_size);
	if (single)
		source_path = input_path(path, sfile, bb_ndjson_is_seekable(r));
	if (source_path != sfile)
		free(sfile);
	bb_shardout_set_source(so, source_path);
	while ((n = bb_ndjson_next(r, &ln, &err)) != 0) {
		if (n < 0) {
			struct bb_error e2 = BB_ERROR_INIT;

			if (bb_ndjson_skip_line(r, &e2) < 0) {
				bb_msg_error("%s", err.msg);
				bb_ndjson_free(r);
				return -1;
			}
			/* an over-long line: a placeholder keeps the sidecar's rows aligned */
			rows_total++;
			rw.raw = "null";
			rw.len = 4;
			rw.csv = NULL;
			skip_row(bb_ndjson_name(r), 0, &rw, NULL, 0, err.msg);
			continue;
		}
		rw.raw = ln.data;
		rw.len = ln.len;
		rw.line = ln.lineno;
		rw.off = ln.offset;
		rw.csv = NULL;
		process_row(bb_ndjson_name(r), &rw);
	}
	bb_ndjson_free(r);
	return 0;
}

/* Map the template's names (and the id field) to CSV columns. */
static int
csv_columns(const struct bb_csv *h, const char *name)
{
	size_t i, k, nf = tpl ? bb_template_nfields(tpl) : 0, len;

	for (i = 0; i < csv_ncols; i++)
		free(csv_names[i]);
	free(csv_names);
	csv_ncols = bb_csv_nfields(h);
	csv_names = bb_xcalloc(csv_ncols, sizeof(*csv_names));
	for (i = 0; i < csv_ncols; i++) {
		const char *f = bb_csv_field(h, i, &len);

		csv_names[i] = bb_xmalloc(len + 1);
		memcpy(csv_names[i], f, len + 1);
	}
	for (k = 0; k < nf + (opt_id_field ? 1 : 0); k++) {
		const char *want = k < nf ? bb_template_field(tpl, k) : opt_id_field;

		spans[k].n = SIZE_MAX;
		for (i = 0; i < csv_ncols; i++)
			if (strcmp(csv_names[i], want) == 0)
				spans[k].n = i;
		if (spans[k].n == SIZE_MAX) {
			bb_msg_error("no column '%s' in the header of '%s'", want, name);
			return -1;
		}
	}
	return 0;
}

static int
read_csv(const char *path, int single)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_csv_reader *r;
	struct bb_csv_record rec;
	struct row rw;
	int n, have_header = 0, rc = -1;
	char *sfile = NULL;

	if (single && strcmp(path, "-") == 0)
		sfile = stdin_path();
	r = bb_csv_reader_open(path, fmt == FMT_TSV ? '\t' : ',', cli.max_line, &err);
	if (r == NULL) {
		bb_msg_error("%s", err.msg);
		free(sfile);
		return -1;
	}
	if (opt_read_size)
		bb_csv_reader_set_read_size(r, opt_read_size);
	if (single)
		source_path = input_path(path, sfile, bb_csv_reader_is_seekable(r));
	if (source_path != sfile)
		free(sfile);
	bb_shardout_set_source(so, source_path);
	while ((n = bb_csv_reader_next(r, &rec, &err)) != 0) {
		if (n < 0 && bb_csv_reader_failed(r) && rec.rawlen == 0) {
			bb_msg_error("%s", err.msg);
			goto out;
		}
		if (!have_header) {
			if (n < 0) {
				bb_msg_error("bad header: %s (at %s:%llu)", err.msg,
				    bb_csv_reader_name(r), (unsigned long long)rec.lineno);
				goto out;
			}
			bb_buf_reset(&csv_header_raw);
			bb_buf_add(&csv_header_raw, rec.raw, rec.rawlen);
			if (csv_columns(rec.fields, bb_csv_reader_name(r)))
				goto out;
			have_header = 1;
			continue;
		}
		rw.raw = rec.raw;
		rw.len = rec.rawlen;
		rw.line = rec.lineno;
		rw.off = rec.offset;
		rw.csv = rec.fields;
		if (n < 0) {
			rows_total++;
			skip_row(bb_csv_reader_name(r), rec.lineno, &rw, rec.raw, rec.rawlen, err.msg);
			if (bb_csv_reader_failed(r))
				goto out;
			continue;
		}
		process_row(bb_csv_reader_name(r), &rw);
	}
	if (!have_header) {
		bb_msg_error("no header row in '%s'", bb_csv_reader_name(r));
		goto out;
	}
	rc = 0;
out:
	bb_csv_reader_free(r);
	return rc;
}

/* ---- main ---- */

enum {
	O_MAX_TOKENS = 256, O_TEMPERATURE, O_TOP_P, O_STOP, O_DIMENSIONS, O_NORMALIZE,
	O_NO_NORMALIZE, O_PARAMS, O_TEXT_FIELD, O_ID_FIELD, O_MAX_RECORDS, O_MIN_RECORDS,
	O_RECORDS, O_MAX_BYTES, O_REJECTS, O_STRICT, O_INVOCATION, O_INPUT_TYPE,
	O_READ_SIZE, O_NO_SYNC, O_SIDECAR_LEVEL,
};

static const struct option longopts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "template", required_argument, NULL, 't' },
	{ "template-file", required_argument, NULL, 'T' },
	{ "system", required_argument, NULL, 's' },
	{ "input-format", required_argument, NULL, 'f' },
	{ "out-dir", required_argument, NULL, 'o' },
	{ "prefix", required_argument, NULL, 'p' },
	{ "dry-run", no_argument, NULL, 'n' },
	BB_CLI_OPTIONS_STD,
	{ "max-tokens", required_argument, NULL, O_MAX_TOKENS },
	{ "temperature", required_argument, NULL, O_TEMPERATURE },
	{ "top-p", required_argument, NULL, O_TOP_P },
	{ "stop", required_argument, NULL, O_STOP },
	{ "dimensions", required_argument, NULL, O_DIMENSIONS },
	{ "normalize", no_argument, NULL, O_NORMALIZE },
	{ "no-normalize", no_argument, NULL, O_NO_NORMALIZE },
	{ "input-type", required_argument, NULL, O_INPUT_TYPE },
	{ "params", required_argument, NULL, O_PARAMS },
	{ "text-field", required_argument, NULL, O_TEXT_FIELD },
	{ "id-field", required_argument, NULL, O_ID_FIELD },
	{ "max-records", required_argument, NULL, O_MAX_RECORDS },
	{ "min-records", required_argument, NULL, O_MIN_RECORDS },
	{ "records", required_argument, NULL, O_RECORDS },
	{ "max-bytes", required_argument, NULL, O_MAX_BYTES },
	BB_CLI_OPTIONS_MAX_LINE,
	{ "rejects", required_argument, NULL, O_REJECTS },
	{ "strict", no_argument, NULL, O_STRICT },
	{ "invocation-type", required_argument, NULL, O_INVOCATION },
	{ "read-size", required_argument, NULL, O_READ_SIZE },
	BB_CLI_OPTIONS_PROGRESS,
	{ "no-sync", no_argument, NULL, O_NO_SYNC },
	{ "sidecar-level", required_argument, NULL, O_SIDECAR_LEVEL },
	{ NULL, 0, NULL, 0 },
};

static char *
slurp(const char *path)
{
	struct bb_buf b = BB_BUF_INIT;
	char chunk[65536];
	size_t n;
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");

	if (f == NULL)
		bb_die(BB_EXIT_USAGE, "cannot open '%s': %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (bb_buf_add(&b, chunk, n))
			bb_die(BB_EXIT_USAGE, "out of memory");
	if (ferror(f))
		bb_die(BB_EXIT_USAGE, "cannot read '%s': %s", path, strerror(errno));
	if (f != stdin)
		fclose(f);
	/* a template file's final newline is not part of the prompt */
	if (b.len && b.data[b.len - 1] == '\n')
		bb_buf_setlen(&b, b.len - 1);
	return bb_buf_detach(&b, NULL);
}

static void
parse_options(int argc, char **argv)
{
	long long v;
	double d;
	int c;
	size_t i;

	bb_mi_opts_init(&mio);
	bb_cli_init(&cli, usage);
	while ((c = getopt_long(argc, argv, "m:t:T:s:f:o:p:n" BB_CLI_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case 'm': opt_model = optarg; break;
		case 't': opt_template = optarg; break;
		case 'T': opt_template = slurp(optarg); break;
		case 's': opt_system = optarg; break;
		case 'f':
			for (i = 1; i < sizeof(fmt_names) / sizeof(fmt_names[0]); i++)
				if (strcmp(optarg, fmt_names[i]) == 0)
					break;
			if (i == sizeof(fmt_names) / sizeof(fmt_names[0]) && strcmp(optarg, "auto"))
				bb_usage_die("--input-format: unknown format '%s'", optarg);
			opt_format = strcmp(optarg, "auto") == 0 ? FMT_AUTO : (enum fmt)i;
			break;
		case 'o': opt_out_dir = optarg; break;
		case 'p':
			if (*optarg == '\0' || strchr(optarg, '/'))
				bb_usage_die("--prefix: must be a file name without '/'");
			opt_prefix = optarg;
			break;
		case 'n': opt_dry_run = 1; break;
		case O_MAX_TOKENS:
			if (bb_parse_int(optarg, 1, 1000000000, &v))
				bb_usage_die("--max-tokens: not a positive integer: '%s'", optarg);
			mio.p.max_tokens = v;
			break;
		case O_TEMPERATURE:
			if (bb_parse_double(optarg, 0, 2, &d))
				bb_usage_die("--temperature: not a number in [0, 2]: '%s'", optarg);
			mio.p.has_temperature = 1;
			mio.p.temperature = d;
			break;
		case O_TOP_P:
			if (bb_parse_double(optarg, 0, 1, &d))
				bb_usage_die("--top-p: not a number in [0, 1]: '%s'", optarg);
			mio.p.has_top_p = 1;
			mio.p.top_p = d;
			break;
		case O_STOP:
			stops = bb_xrealloc(stops, (nstops + 1) * sizeof(*stops));
			stops[nstops++] = optarg;
			break;
		case O_DIMENSIONS:
			if (bb_parse_int(optarg, 1, 100000, &v))
				bb_usage_die("--dimensions: not a positive integer: '%s'", optarg);
			mio.dimensions = v;
			break;
		case O_NORMALIZE: mio.normalize = 1; break;
		case O_NO_NORMALIZE: mio.normalize = 0; break;
		case O_INPUT_TYPE: opt_input_type = optarg; break;
		case O_PARAMS: opt_params = optarg; break;
		case O_TEXT_FIELD: opt_text_field = optarg; break;
		case O_ID_FIELD: opt_id_field = optarg; break;
		case O_MAX_RECORDS:
			if (bb_parse_int(optarg, 1, 100000000, &opt_max_records))
				bb_usage_die("--max-records: not a positive integer: '%s'", optarg);
			break;
		case O_MIN_RECORDS:
			if (bb_parse_int(optarg, 1, 100000000, &opt_min_records))
				bb_usage_die("--min-records: not a positive integer: '%s'", optarg);
			break;
		case O_RECORDS:
			if (bb_parse_int(optarg, 1, 100000000, &opt_records))
				bb_usage_die("--records: not a positive integer: '%s'", optarg);
			break;
		case O_MAX_BYTES:
			if (bb_parse_size(optarg, &opt_max_bytes) || opt_max_bytes < 1024)
				bb_usage_die("--max-bytes: not a size of at least 1024: '%s'", optarg);
			break;
		case O_REJECTS: opt_rejects = optarg; break;
		case O_STRICT: opt_strict = 1; break;
		case O_INVOCATION:
			if (strcmp(optarg, "converse") == 0)
				opt_converse = 1;
			else if (strcmp(optarg, "invoke") == 0 || strcmp(optarg, "InvokeModel") == 0)
				opt_converse = 0;
			else
				bb_usage_die("--invocation-type: 'invoke' or 'converse', not '%s'", optarg);
			break;
		case O_READ_SIZE:
			if (bb_parse_int(optarg, 1, 1 << 20, &v))
				bb_usage_die("--read-size: not a positive integer: '%s'", optarg);
			opt_read_size = (size_t)v;
			break;
		case O_NO_SYNC: opt_no_sync = 1; break;
		case O_SIDECAR_LEVEL:
			if (bb_parse_int(optarg, 0, 9, &v))
				bb_usage_die("--sidecar-level: not a gzip level 0-9: '%s'", optarg);
			opt_sidecar_level = (int)v;
			break;
		default:
			if (!bb_cli_option(&cli, c, optarg))
				bb_cli_try_help();
		}
	}
}

int
main(int argc, char **argv)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf textfield_tpl = BB_BUF_INIT;
	char *stdin_arg[] = { "-", NULL };
	char **inputs;
	size_t ninputs, i, nf;
	int status = BB_EXIT_OK, failed = 0;
	struct bb_shardout_opts so_opts;
	struct bb_shardout_stats st = { 0, 0, 0 };
	struct stat sb;

	bb_main_init(argc, argv, "bb-shard");
#ifdef M_MMAP_THRESHOLD
	/*
	 * Record tables and zlib states come and go once a shard: served by
	 * mmap and given back on free, they cannot fragment the heap, so the
	 * peak RSS does not creep up with the number of shards.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
#endif
	parse_options(argc, argv);
	inputs = optind < argc ? argv + optind : stdin_arg;
	ninputs = optind < argc ? (size_t)(argc - optind) : 1;

	if (opt_model == NULL)
		bb_usage_die("--model is required");
	family = bb_family_of_model(opt_model, opt_converse);
	if (family == BB_FAMILY_UNKNOWN)
		bb_usage_die("--model: unknown model family for '%s' (try --invocation-type converse)",
		    opt_model);
	target = opt_records > 0 ? opt_records : opt_max_records;
	if (target > opt_max_records)
		bb_usage_die("--records (%lld) is above --max-records (%lld)", target,
		    opt_max_records);
	if (2 * opt_min_records > target)
		bb_usage_die("--min-records (%lld) must be at most half the records per shard (%lld)",
		    opt_min_records, target);
	fmt = opt_format != FMT_AUTO ? opt_format :
	    (optind < argc ? format_of(inputs[0]) : FMT_JSONL);
	if (opt_text_field != NULL) {
		if (opt_template != NULL)
			bb_usage_die("--text-field and --template exclude each other");
		if (strchr(opt_text_field, '{') || strchr(opt_text_field, '}'))
			bb_usage_die("--text-field: a name without braces");
		bb_buf_addf(&textfield_tpl, "{%s}", opt_text_field);
		opt_template = textfield_tpl.data;
	}
	if (fmt == FMT_BEDROCK || fmt == FMT_OPENAI) {
		if (opt_template != NULL)
			bb_usage_die("--template does not apply to --input-format %s", fmt_names[fmt]);
	} else if (opt_template == NULL) {
		bb_usage_die("a prompt is needed: --template, --template-file or --text-field");
	}
	if (opt_template != NULL &&
	    bb_template_compile(opt_template, strlen(opt_template), &tpl, &err))
		bb_usage_die("%s", err.msg);
	if (fmt == FMT_BEDROCK && (opt_system || mio.p.max_tokens >= 0 || mio.p.has_temperature ||
	    mio.p.has_top_p || nstops || opt_params || mio.dimensions >= 0 || mio.normalize >= 0))
		bb_usage_die("--input-format bedrock takes the modelInput as it is: "
		    "no prompt or parameter options");

	mio.model = opt_model;
	mio.family = family;
	mio.system = opt_system;
	mio.p.stop = stops;
	mio.p.nstop = nstops;
	mio.input_type = opt_input_type;
	if (opt_params) {
		mio.params = opt_params;
		mio.params_len = strlen(opt_params);
	}
	if (fmt != FMT_BEDROCK && bb_modelinput_init(&mi, &mio, &err))
		bb_usage_die("%s", err.msg);

	/* lookup tables for the template's fields (and the id field) */
	nf = tpl ? bb_template_nfields(tpl) : 0;
	nkeys = nf + (opt_id_field ? 1 : 0);
	keys = bb_xcalloc(nkeys + 1, sizeof(*keys));
	spans = bb_xcalloc(nkeys + 1, sizeof(*spans));
	vals = bb_xcalloc(nf + 1, sizeof(*vals));
	nested_vals = bb_xcalloc(nf + 1, sizeof(*nested_vals));
	for (i = 0; i < nf; i++)
		keys[i] = bb_template_field(tpl, i);
	if (opt_id_field)
		keys[nf] = opt_id_field;
	if (opt_id_field && (fmt == FMT_BEDROCK || fmt == FMT_OPENAI))
		bb_usage_die("--id-field does not apply to --input-format %s (its id is used)",
		    fmt_names[fmt]);
	id_mode_field = opt_id_field != NULL || fmt == FMT_BEDROCK || fmt == FMT_OPENAI;
	id_field_name = opt_id_field ? opt_id_field : fmt == FMT_BEDROCK ? "recordId" : "custom_id";

	if (!opt_dry_run) {
		if (mkdir(opt_out_dir, 0777) && errno != EEXIST)
			bb_die(BB_EXIT_USAGE, "cannot create '%s': %s", opt_out_dir, strerror(errno));
		if (stat(opt_out_dir, &sb) || !S_ISDIR(sb.st_mode))
			bb_die(BB_EXIT_USAGE, "'%s' is not a directory", opt_out_dir);
	}
	out_dir_abs = opt_dry_run ? bb_xstrdup(opt_out_dir) : realpath(opt_out_dir, NULL);
	if (out_dir_abs == NULL)
		bb_die(BB_EXIT_USAGE, "cannot resolve '%s': %s", opt_out_dir, strerror(errno));
	if (opt_rejects)
		rejects_path = bb_xstrdup(opt_rejects);
	else {
		char name[PATH_MAX];

		snprintf(name, sizeof(name), "%s-rejects.%s", opt_prefix,
		    fmt == FMT_CSV ? "csv" : fmt == FMT_TSV ? "tsv" : "jsonl");
		rejects_path = path_join(out_dir_abs, name);
	}

	memset(&so_opts, 0, sizeof(so_opts));
	so_opts.dir = out_dir_abs;
	so_opts.prefix = opt_prefix;
	so_opts.records = target;
	so_opts.min_records = opt_min_records;
	so_opts.max_bytes = opt_max_bytes;
	so_opts.dry_run = opt_dry_run;
	so_opts.no_sync = opt_no_sync;
	so_opts.sidecar_level = opt_sidecar_level;
	so_opts.model = opt_model;
	so_opts.family = bb_family_name(family);
	so_opts.invocation_type = opt_converse ? "converse" : NULL;
	so_opts.format = fmt_names[fmt];
	so_opts.id_field = id_mode_field ? id_field_name : NULL;
	so_opts.line = print_line;
	so_opts.note = print_note;
	if ((so = bb_shardout_new(&so_opts, &err)) == NULL)
		bb_die(BB_EXIT_USAGE, "%s", err.msg);
	so_live = so;
	catch_signals();
	bb_recordid_set_init(&ids_seen);

	for (i = 0; i < ninputs && !failed; i++) {
		if (fmt == FMT_CSV || fmt == FMT_TSV)
			failed = read_csv(inputs[i], ninputs == 1) != 0;
		else
			failed = read_jsonl(inputs[i], ninputs == 1) != 0;
	}
	if (failed) {
		if (bb_shardout_abort(so, &err))
			die_stopping("%s", err.msg);
		status = BB_EXIT_USAGE;
		goto out;
	}
	switch (bb_shardout_finish(so, &st, &err)) {
	case 0:
		break;
	case BB_SHARDOUT_TOO_FEW:
		if (records_total > 0)
			bb_msg_error("only %llu records, fewer than the minimum of %lld per job "
			    "(--min-records): no shard written", (unsigned long long)records_total,
			    opt_min_records);
		else
			bb_msg_error("no records, fewer than the minimum of %lld per job "
			    "(--min-records): no shard written", opt_min_records);
		status = BB_EXIT_USAGE;
		goto out;
	case BB_SHARDOUT_NO_SPLIT:
		die_stopping("cannot give the last two shards %lld records each "
		    "within --max-bytes %llu; use a smaller --min-records or larger --max-bytes",
		    opt_min_records, (unsigned long long)opt_max_bytes);
	default:
		die_stopping("%s", err.msg);
	}
	if (opt_dry_run)
		bb_msg_info("dry run: %llu shards, %llu records, %llu bytes, about %llu input tokens",
		    (unsigned long long)st.shards, (unsigned long long)records_total,
		    (unsigned long long)st.bytes, (unsigned long long)st.tokens);
	else
		bb_msg_note(1, "%llu shards, %llu records, %llu bytes",
		    (unsigned long long)st.shards, (unsigned long long)records_total,
		    (unsigned long long)st.bytes);
out:
	if (rejects_close())
		status = BB_EXIT_USAGE;
	if (rejected) {
		bb_msg_info("%llu of %llu rows rejected%s%s%s", (unsigned long long)rejected,
		    (unsigned long long)rows_total, rejects_copied ? " (copied to '" : "",
		    rejects_copied ? rejects_path : "", rejects_copied ? "')" : "");
		if (status == BB_EXIT_OK)
			status = BB_EXIT_PARTIAL;
	}
	so_live = NULL;
	bb_shardout_free(so);
	bb_recordid_set_release(&ids_seen);
	if (tpl)
		bb_template_free(tpl);
	if (fmt != FMT_BEDROCK)
		bb_modelinput_release(&mi);
	return bb_main_finish(status);
}
