/*
 * unit-shardout.c - the shard output engine (shardout.h) on real files in
 * a scratch directory: packing and the tail rebalanced (a table of
 * inputs and the shard sizes they must give), the statuses the caller
 * words itself, files and their digests against the lines, path sources
 * and sidecars (with rejected rows in line), dry runs, records larger
 * than a write buffer, abort, temporaries removed on the way out, and an
 * unwritable directory.
 */
#include "config.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "hash.h"
#include "json.h"
#include "recordid.h"
#include "shardout.h"
#include "tap.h"

/* What the callbacks saw. */
struct seen {
	struct bb_buf lines;
	size_t nlines, nnotes;
	char note[256];
};

static void
on_line(void *arg, const char *line, size_t len)
{
	struct seen *s = arg;

	bb_buf_add(&s->lines, line, len);
	s->nlines++;
}

static void
on_note(void *arg, const char *text)
{
	struct seen *s = arg;

	snprintf(s->note, sizeof(s->note), "%s", text);
	s->nnotes++;
}

static char dir[256];

/* Remove every file of the scratch directory; how many there were. */
static int
clean_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
		n++;
	}
	closedir(d);
	return n;
}

static int
count_tmp(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d != NULL && (e = readdir(d)) != NULL)
		n += strstr(e->d_name, ".tmp") != NULL;
	if (d != NULL)
		closedir(d);
	return n;
}

static void
opts_init(struct bb_shardout_opts *o, struct seen *s)
{
	memset(o, 0, sizeof(*o));
	o->dir = dir;
	o->prefix = "part";
	o->records = 10;
	o->min_records = 4;
	o->max_bytes = 1u << 30;
	o->no_sync = 0;
	o->sidecar_level = 1;
	o->model = "m";
	o->family = "anthropic";
	o->format = "jsonl";
	o->line = on_line;
	o->note = on_note;
	o->arg = s;
}

/* An engine on dir with a path source, limits as given. */
static struct bb_shardout *
start(struct seen *s, long long min, uint64_t max_bytes, const char *dirname)
{
	struct bb_shardout_opts o;
	struct bb_shardout *so;

	memset(s, 0, sizeof(*s));
	opts_init(&o, s);
	o.min_records = min;
	o.max_bytes = max_bytes;
	o.dir = dirname;
	if ((so = bb_shardout_new(&o, NULL)) != NULL)
		bb_shardout_set_source(so, "/in/rows.jsonl");
	return so;
}

/* Record i: {"recordId":"r..","modelInput":{"p":"xxx"}}\n of about size
 * bytes; its row in the "input" is {"n":i} at 10*i. */
static void
make_rec(struct bb_buf *b, uint64_t i, size_t size, char *id)
{
	size_t idlen = bb_recordid_generate(id, i);

	bb_buf_reset(b);
	bb_buf_addf(b, "{\"recordId\":\"%s\",\"modelInput\":{\"p\":\"", id);
	while (b->len + 4 < size || b->len < idlen + 30)
		bb_buf_addc(b, (char)('a' + (b->len % 26)));
	bb_buf_adds(b, "\"}}\n");
}

static int
add_rec(struct bb_shardout *so, uint64_t i, size_t size, struct bb_buf *all,
    struct bb_error *err)
{
	struct bb_buf rec = BB_BUF_INIT, row = BB_BUF_INIT;
	struct bb_shardout_rec r;
	char id[BB_RECORDID_GEN_MAX];
	int rc;

	make_rec(&rec, i, size, id);
	bb_buf_addf(&row, "{\"n\":%llu}", (unsigned long long)i);
	memset(&r, 0, sizeof(r));
	r.row = i;
	r.line = i;
	r.in_off = 10 * i;
	r.in_end = 10 * i + 9;
	r.tokens = 3;
	rc = bb_shardout_add(so, rec.data, rec.len, &r, id, strlen(id), row.data, row.len, err);
	if (rc == 0 && all != NULL)
		bb_buf_add(all, rec.data, rec.len);
	bb_buf_release(&rec);
	bb_buf_release(&row);
	return rc;
}

static char *
slurp(const char *path, size_t *len)
{
	struct bb_buf b = BB_BUF_INIT;
	char chunk[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		bb_buf_add(&b, chunk, n);
	fclose(f);
	return bb_buf_detach(&b, len);
}

static char *
gunzip(const char *path, size_t *len)
{
	struct bb_buf b = BB_BUF_INIT;
	char chunk[65536];
	int n;
	gzFile gz = gzopen(path, "rb");

	if (gz == NULL)
		return NULL;
	while ((n = gzread(gz, chunk, sizeof(chunk))) > 0)
		bb_buf_add(&b, chunk, (size_t)n);
	gzclose(gz);
	return bb_buf_detach(&b, len);
}

static long long
num(const struct bb_json *j, const char *path)
{
	const struct bb_json *v = bb_json_path(j, path);

	return v != NULL && v->type == BB_JSON_NUMBER ? v->i : -1;
}

static const char *
str(const struct bb_json *j, const char *path)
{
	const char *s = bb_json_str(bb_json_path(j, path));

	return s != NULL ? s : "<none>";
}

/*
 * Check the published lines against the files and the records added
 * (all): sizes as in want ("10,7,6"), files in order making up all, each
 * digest right, ids the first and last of each file. Returns the shards.
 */
static void
check_lines(const char *what, const struct seen *s, const char *want, const struct bb_buf *all,
    int dry)
{
	struct bb_buf sizes = BB_BUF_INIT;
	const char *p = s->lines.data, *end = p + s->lines.len, *nl;
	struct bb_json *j;
	size_t off = 0, flen, k = 0;
	char *file, hex[BB_SHA256_HEX], id[BB_RECORDID_GEN_MAX];
	int good = 1;
	long long index, first;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		k++;
		if (bb_json_parse(p, (size_t)(nl - p), 0, &j, NULL)) {
			ok(0, "%s: line %zu is JSON", what, k);
			break;
		}
		index = num(j, "index");
		bb_buf_addf(&sizes, "%s%lld", sizes.len ? "," : "", num(j, "records"));
		good &= index == (long long)k;
		if (dry) {
			good &= num(j, "est_input_tokens") == 3 * num(j, "records");
			bb_json_free(j);
			p = nl + 1;
			continue;
		}
		file = slurp(str(j, "shard"), &flen);
		good &= file != NULL && (long long)flen == num(j, "bytes") &&
		    off + flen <= all->len && memcmp(file, all->data + off, flen) == 0;
		good &= strcmp(str(j, "shard"), nm("%s/part-%05lld.jsonl", dir, index)) == 0;
		if (file != NULL) {
			bb_sha256_hex(file, flen, hex);
			good &= strcmp(hex, str(j, "sha256")) == 0;
		}
		first = num(j, "source.first_row");
		bb_recordid_generate(id, (uint64_t)first);
		good &= strcmp(id, str(j, "first_record")) == 0;
		bb_recordid_generate(id, (uint64_t)(first + num(j, "records") - 1));
		good &= strcmp(id, str(j, "last_record")) == 0;
		good &= num(j, "source.rows") == num(j, "records");
		good &= strcmp(str(j, "model"), "m") == 0 && strcmp(str(j, "family"), "anthropic") == 0;
		off += flen;
		free(file);
		bb_json_free(j);
		p = nl + 1;
	}
	is_str(bb_buf_str(&sizes), want, nm("%s: shard sizes", what));
	ok(good && (dry || off == all->len), "%s: files, digests, ids and order", what);
	bb_buf_release(&sizes);
}

/* Packing: records added, records per shard, minimum, byte limit, record
 * size; the status of finish and the sizes of the shards published. */
static const struct {
	const char *name;
	int n;
	long long records, min;
	uint64_t max_bytes;
	size_t size;
	int status;
	const char *sizes;
	int rebalanced;
} pcases[] = {
	{ "exact", 30, 10, 4, 1u << 30, 60, 0, "10,10,10", 0 },
	{ "remainder at the minimum", 24, 10, 4, 1u << 30, 60, 0, "10,10,4", 0 },
	{ "tail rebalanced", 23, 10, 4, 1u << 30, 60, 0, "10,7,6", 1 },
	{ "one short shard and the tail", 11, 10, 5, 1u << 30, 60, 0, "6,5", 1 },
	{ "by bytes", 12, 100, 2, 600, 100, 0, "6,6", 0 },
	{ "by bytes, tail rebalanced", 13, 100, 3, 600, 100, 0, "6,4,3", 1 },
	{ "remainder above the minimum", 8, 5, 2, 500, 100, 0, "5,3", 0 },
	{ "too few", 3, 10, 4, 1u << 30, 60, BB_SHARDOUT_TOO_FEW, "", 0 },
	{ "none", 0, 10, 4, 1u << 30, 60, BB_SHARDOUT_TOO_FEW, "", 0 },
	{ "records and bytes both full", 10, 5, 2, 500, 100, 0, "5,5", 0 },
	{ "cannot split", 4, 6, 3, 350, 100, BB_SHARDOUT_NO_SPLIT, "", 0 },
	{ "large records", 6, 2, 1, 1u << 30, 300000, 0, "2,2,2", 0 },
};

static void
test_packing(int dry, int no_sync)
{
	struct bb_shardout_opts o;
	struct bb_shardout_stats st;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_shardout *so;
	struct bb_buf all = BB_BUF_INIT;
	struct seen s;
	size_t i;
	int k, rc;

	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const char *what = nm("%s%s%s", pcases[i].name, dry ? " (dry run)" : "",
		    no_sync ? " (no sync)" : "");
		char name[256];

		snprintf(name, sizeof(name), "%s", what);
		memset(&s, 0, sizeof(s));
		opts_init(&o, &s);
		o.records = pcases[i].records;
		o.min_records = pcases[i].min;
		o.max_bytes = pcases[i].max_bytes;
		o.dry_run = dry;
		o.no_sync = no_sync;
		so = bb_shardout_new(&o, &err);
		bb_shardout_set_source(so, "/in/rows.jsonl");
		bb_buf_reset(&all);
		rc = 0;
		for (k = 1; k <= pcases[i].n && rc == 0; k++)
			rc = add_rec(so, (uint64_t)k, pcases[i].size, &all, &err);
		ok(rc == 0, "%s: records added", name);
		memset(&st, 0, sizeof(st));
		rc = bb_shardout_finish(so, &st, &err);
		is_int(rc, pcases[i].status, nm("%s: status", name));
		if (rc == 0) {
			check_lines(name, &s, pcases[i].sizes, &all, dry);
			is_int((long long)st.shards, (long long)s.nlines, nm("%s: shards counted", name));
			is_int((long long)st.tokens, 3LL * pcases[i].n, nm("%s: tokens counted", name));
			is_int((long long)st.bytes, (long long)all.len, nm("%s: bytes counted", name));
		}
		is_int((long long)s.nnotes, pcases[i].rebalanced, nm("%s: rebalance noted", name));
		bb_shardout_free(so);
		ok(count_tmp() == 0, "%s: no temporary file left", name);
		k = clean_dir();
		is_int(k, dry || rc != 0 ? 0 : (long long)s.nlines, nm("%s: files", name));
		bb_buf_release(&s.lines);
	}
	bb_buf_release(&all);
}

/* A path source: each line's region covers its rows. */
static void
test_path_source(void)
{
	struct bb_shardout_opts o;
	struct bb_shardout_stats st;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_shardout *so;
	struct bb_json *j = NULL;
	struct seen s;
	int k;

	memset(&s, 0, sizeof(s));
	opts_init(&o, &s);
	o.format = "csv";
	o.id_field = "id";
	so = bb_shardout_new(&o, &err);
	bb_shardout_set_source(so, "/in/rows.csv");
	ok(!bb_shardout_sidecars(so), "path source: no sidecars");
	for (k = 1; k <= 12; k++)
		add_rec(so, (uint64_t)k, 50, NULL, &err);
	ok(bb_shardout_finish(so, &st, &err) == 0, "path source: finished");
	ok(bb_json_parse(s.lines.data, (size_t)((char *)memchr(s.lines.data, '\n', s.lines.len) -
	    s.lines.data), 0, &j, NULL) == 0, "path source: first line");
	is_str(str(j, "source.path"), "/in/rows.csv", "source.path");
	is_int(num(j, "source.offset"), 10, "source.offset: the first row's");
	is_int(num(j, "source.bytes"), 10 * 6 + 9 - 10, "source.bytes: to the end of the last");
	is_int(num(j, "source.first_line"), 1, "source.first_line");
	is_str(str(j, "source.format"), "csv", "source.format");
	is_str(str(j, "source.id_field"), "id", "source.id_field");
	ok(bb_json_path(j, "invocation_type") == NULL, "no invocation_type");
	bb_json_free(j);
	bb_shardout_free(so);
	clean_dir();
	bb_buf_release(&s.lines);
}

/* Sidecars: rows of each shard, rejected rows in line, after a rebalance. */
static void
test_sidecars(int level)
{
	struct bb_shardout_opts o;
	struct bb_shardout_stats st;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_shardout *so;
	struct bb_buf want = BB_BUF_INIT;
	struct seen s;
	char *got, path[512];
	size_t len;
	int k, shard;

	memset(&s, 0, sizeof(s));
	opts_init(&o, &s);
	o.sidecar_level = level;
	o.invocation_type = "converse";
	so = bb_shardout_new(&o, &err);
	bb_shardout_set_source(so, NULL);
	ok(bb_shardout_sidecars(so), "sidecars (level %d)", level);
	ok(bb_shardout_skip(so, "bad0", 4, &err) == 0, "a rejected row before any record");
	for (k = 1; k <= 23; k++) {
		add_rec(so, (uint64_t)k, 50, NULL, &err);
		if (k % 4 == 0)
			bb_shardout_skip(so, "null", 4, &err);
	}
	ok(bb_shardout_finish(so, &st, &err) == 0, "sidecars: finished");
	ok(strstr(bb_buf_str(&s.lines), "\"invocation_type\":\"converse\"") != NULL,
	    "invocation_type");
	ok(strstr(bb_buf_str(&s.lines), "\"format\":\"jsonl\"") != NULL,
	    "sidecar rows are JSON lines");
	/* 10, 7, 6 records: rows 1-10, 11-17, 18-23, rejected rows in between
	 * belong to the shard they follow, but not after its last record */
	for (shard = 1; shard <= 3; shard++) {
		int from = shard == 1 ? 1 : shard == 2 ? 11 : 18, to = shard == 1 ? 10 :
		    shard == 2 ? 17 : 23;

		bb_buf_reset(&want);
		for (k = from; k <= to; k++) {
			bb_buf_addf(&want, "{\"n\":%d}\n", k);
			if (k % 4 == 0 && k != to)
				bb_buf_adds(&want, "null\n");
		}
		snprintf(path, sizeof(path), "%s/part-%05d.rows.jsonl.gz", dir, shard);
		got = gunzip(path, &len);
		ok(got != NULL && len == want.len && memcmp(got, want.data, len) == 0,
		    "sidecar %d (level %d) holds its rows", shard, level);
		if (got != NULL && (len != want.len || memcmp(got, want.data, len) != 0))
			tap_show("got", got, len);
		free(got);
		ok(strstr(bb_buf_str(&s.lines), path) != NULL, "line %d names its sidecar", shard);
	}
	bb_shardout_free(so);
	is_int(clean_dir(), 6, "three shards, three sidecars");
	bb_buf_release(&want);
	bb_buf_release(&s.lines);
}

/* Abort: closed shards are published, the others leave nothing. */
static void
test_abort(void)
{
	struct bb_error err = BB_ERROR_INIT;
	struct seen s;
	struct bb_shardout *so = start(&s, 4, 1u << 30, dir);
	unsigned index;
	size_t nrec;
	int k;

	for (k = 1; k <= 25; k++)
		add_rec(so, (uint64_t)k, 50, NULL, &err);
	bb_shardout_current(so, &index, &nrec);
	ok(index == 3 && nrec == 5, "current shard 3 with 5 records");
	is_int((long long)bb_shardout_closed(so), 1, "one shard closed (one held)");
	ok(bb_shardout_abort(so, &err) == 0, "aborted");
	is_int((long long)s.nlines, 1, "the closed shard is published");
	bb_shardout_free(so);
	ok(count_tmp() == 0, "abort: no temporary file left");
	is_int(clean_dir(), 1, "abort: one file");
	bb_buf_release(&s.lines);
}

/*
 * bb_shardout_remove_temporaries (a process on its way out): with a shard
 * published, one held and one current (path source and sidecars), the
 * temporaries go and the final files stay; no temporary file is made
 * afterwards; a dry run and NULL are nothing.
 */
static void
test_remove_temporaries(int sidecars)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_shardout_opts o;
	struct bb_shardout *so;
	struct seen s;
	struct stat st;
	char p[512];
	int k, bad = 0;

	so = start(&s, 4, 1u << 30, dir);
	if (sidecars)
		bb_shardout_set_source(so, NULL);
	for (k = 1; k <= 25; k++)
		bad += add_rec(so, (uint64_t)k, 50, NULL, &err) != 0;
	/* shard 1 is emitted: wait until it is final (up to 5 s) */
	snprintf(p, sizeof(p), "%s/part-00001.jsonl", dir);
	for (k = 0; k < 500 && stat(p, &st) != 0; k++)
		usleep(10000);
	ok(count_tmp() >= 2, "remove (%s): shards 2 and 3 are temporary files",
	    sidecars ? "sidecars" : "path source");
	bb_shardout_remove_temporaries(so);
	ok(bad == 0 && count_tmp() == 0, "remove (%s): no temporary file left",
	    sidecars ? "sidecars" : "path source");
	bad = 0;
	for (k = 26; k <= 40; k++)
		bad += add_rec(so, (uint64_t)k, 50, NULL, &err) != 0;
	ok(bad > 0 && strstr(err.msg, "stopping") != NULL && count_tmp() == 0,
	    "remove (%s): no new shard file afterwards (%s)", sidecars ? "sidecars" : "path source",
	    err.msg);
	bb_shardout_abort(so, NULL);
	bb_shardout_free(so);
	snprintf(p, sizeof(p), "%s/part-00001.jsonl", dir);
	ok(stat(p, &st) == 0 && count_tmp() == 0, "remove (%s): shard 1 is final and stays",
	    sidecars ? "sidecars" : "path source");
	if (sidecars) {
		snprintf(p, sizeof(p), "%s/part-00001.rows.jsonl.gz", dir);
		ok(stat(p, &st) == 0, "remove (sidecars): its sidecar stays");
	}
	clean_dir();
	bb_buf_release(&s.lines);

	memset(&s, 0, sizeof(s));
	opts_init(&o, &s);
	o.dry_run = 1;
	so = bb_shardout_new(&o, NULL);
	bb_shardout_remove_temporaries(so);
	bb_shardout_remove_temporaries(NULL);
	ok(add_rec(so, 1, 50, NULL, &err) == 0, "remove: a dry run goes on");
	bb_shardout_free(so);
	bb_buf_release(&s.lines);
}

/* Too large: the current shard full by bytes below the minimum. */
static void
test_too_large(void)
{
	struct bb_error err = BB_ERROR_INIT;
	struct seen s;
	struct bb_shardout *so = start(&s, 3, 250, dir);
	unsigned index;
	size_t nrec;

	ok(add_rec(so, 1, 100, NULL, &err) == 0 && add_rec(so, 2, 100, NULL, &err) == 0,
	    "two records fit");
	is_int(add_rec(so, 3, 100, NULL, &err), BB_SHARDOUT_TOO_LARGE, "the third is too large");
	bb_shardout_current(so, &index, &nrec);
	ok(index == 1 && nrec == 2, "shard 1 holds 2");
	bb_shardout_free(so);
	ok(count_tmp() == 0, "too large: no temporary file left");
	clean_dir();
	bb_buf_release(&s.lines);
}

/* A directory that does not exist: an error with the path. */
static void
test_no_dir(void)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_shardout *so;
	struct seen s;
	char missing[300];

	snprintf(missing, sizeof(missing), "%s/missing", dir);
	so = start(&s, 4, 1u << 30, missing);
	ok(add_rec(so, 1, 100, NULL, &err) == -1, "no directory: an error");
	ok(strstr(err.msg, "cannot create '") != NULL && strstr(err.msg, "/missing/.part-00001") &&
	    strstr(err.msg, "No such file or directory"), "the message names the file");
	bb_shardout_free(so);
	bb_buf_release(&s.lines);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/unit-shardout.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		skip_all("cannot create a scratch directory");
	test_packing(0, 0);
	test_packing(0, 1);
	test_packing(1, 0);
	test_path_source();
	test_sidecars(1);
	test_sidecars(0);
	test_abort();
	test_remove_temporaries(0);
	test_remove_temporaries(1);
	test_too_large();
	test_no_dir();
	clean_dir();
	rmdir(dir);
	return done_testing();
}
