/*
 * bb-shard - cut input rows into Bedrock batch input files (shards).
 *
 * Policy only: reading rows (ndjson/csv), templates (template.h), the
 * modelInput (modelinput.h) and hashing (hash.h) live in libshared. Here:
 * options, record ids, packing with the tail rebalanced, the source of
 * each shard, rejects and exit codes. See man/bb-shard.1.
 *
 * Packing streams every shard to a temporary file as its records come
 * and keeps a small table per record (offsets, row numbers). The last
 * complete shard is held back until the next one completes: if the input
 * ends with a remainder below --min-records, the held shard and the
 * remainder are re-split from their files.
 *
 * The parser fills buffers of records; a writer thread behind it writes
 * them to the shard files, hashing them on the way, and a sync thread
 * finishes each final shard (sidecar, sync, rename, shard line), so
 * parsing and I/O use two CPUs and a slow sync stalls neither. A pool of 8
 * buffers bounds the queued bytes, and at most two shards are between
 * final and published: at most four record tables exist whatever the
 * input size. A rebalance waits for the writer, then re-hashes the two
 * shards it rewrites.
 *
 * Durability: a shard line is a resume point, so the shard it names must
 * be on disk before the line is printed: the file is fdatasync()ed, then
 * renamed, then its directory fsync()ed (a crash in between leaves a .tmp
 * file, never a half shard under the final name). To keep that cheap, the
 * writeback of every 4 MiB is started (sync_file_range, Linux) as soon
 * as it is written, so the final fdatasync() has little left to wait for,
 * and it waits in the sync thread, not in the parsing loop. --no-sync skips
 * all of this for scratch directories (tmpfs, throwaway runs).
 *
 * Sidecars (input from a pipe): the rows are spooled to an unlinked file
 * and gzipped at level 1 by the sync thread (the default level 6 was five
 * times slower for a sidecar only 20% smaller); --sidecar-level 0 stores.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "csv.h"
#include "error.h"
#include "family.h"
#include "hash.h"
#include "json.h"
#include "modelinput.h"
#include "msg.h"
#include "ndjson.h"
#include "template.h"

#define WBUF_SIZE (256u << 10)  /* write unit */
#define SYNC_STEP (4u << 20)     /* writeback unit */
#define MAX_ID_VALUE 64          /* bytes of an --id-field value */

enum fmt { FMT_AUTO, FMT_JSONL, FMT_CSV, FMT_TSV, FMT_BEDROCK, FMT_OPENAI };
static const char *const fmt_names[] = { "auto", "jsonl", "csv", "tsv", "bedrock", "openai" };

/* ---- options ---- */

static const char *opt_model, *opt_template, *opt_system, *opt_params, *opt_text_field;
static const char *opt_id_field, *opt_out_dir = ".", *opt_prefix = "part", *opt_rejects;
static const char *opt_input_type;
static enum fmt opt_format = FMT_AUTO;
static int opt_converse, opt_strict, opt_dry_run, opt_no_sync, opt_sidecar_level = 1;
static long long opt_max_records = 50000, opt_min_records = 100, opt_records = -1;
static uint64_t opt_max_bytes = 1000000000ULL, opt_max_line = 64u << 20;
static size_t opt_read_size;
static struct bb_mi_opts mio;
static const char **stops;
static size_t nstops;

/* ---- state ---- */

struct rec {
	uint64_t out_end;      /* end of the record in the shard file */
	uint64_t row;          /* global row number, 1-based */
	uint64_t line;
	uint64_t tokens;       /* cumulative estimate */
	union {                /* where the row is: input file, or spool (sidecar mode) */
		struct { uint64_t in_off, in_end; };
		struct { uint64_t spool_off, spool_end; };
	};
};

struct shard {
	unsigned index;
	char *tmp;             /* temporary path, NULL in a dry run */
	int fd;
	char *wb;              /* records not yet handed to the writer */
	size_t wlen;
	struct bb_sha256 sha;  /* of the bytes written (writer thread) */
	uint64_t written;      /* bytes written (writer thread) */
	uint64_t synced;       /* bytes whose writeback was started (writer) */
	uint64_t bytes;
	struct rec *recs;
	size_t nrec, cap;
	char first_id[2 * MAX_ID_VALUE + 8], last_id[2 * MAX_ID_VALUE + 8];
	char hex[BB_SHA256_HEX];  /* digest of the file, once final */
	int spool_fd;          /* unlinked file of raw rows (sidecar mode) */
	struct bb_buf sbuf;    /* spooled rows not yet written */
	uint64_t spool_len;    /* including sbuf */
	unsigned file;         /* input file of the first record */
	int multi_file;
};

static enum bb_family family;
static struct bb_modelinput mi;
static struct bb_template *tpl;
static char *out_dir_abs;
static const char *source_path;   /* absolute path in path mode, else NULL */
static int sidecar_mode;
static enum fmt fmt;
static unsigned cur_file;
static struct shard *held, *cur;
static unsigned next_index = 1;
static uint64_t rows_total, records_total, rejected, shards_done, bytes_total, tokens_total;
static long long target;
static FILE *rejects_fp;
static char *rejects_path, *rejects_tmp;
static struct bb_buf csv_header_raw;
static char **csv_names;
static size_t csv_ncols;
static int id_mode_field;         /* ids come from a field */
static const char *id_field_name;

/* Duplicate ids: a set of 64-bit fingerprints of the ids seen. */
static uint64_t *idset;
static size_t idset_cap, idset_n;

/* Per-row scratch (reused: no allocation per row once warm). */
static struct bb_buf recbuf, prompt, idbuf, scratch;
static struct bb_buf *nested_vals;
static struct bb_template_value *vals;
static struct bb_json_span *spans;
static const char **keys;
static size_t nkeys;

static void fin_write(struct shard *s, char *buf, size_t len, int own);
static char *fin_buf_get(void);
static void fin_buf_put(char *b);

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

static uint64_t
fingerprint(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	/* murmur3 finaliser: spread FNV's low-entropy high bits */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h ? h : 1;
}

/* 1 when new, 0 when already seen. */
static int
idset_add(uint64_t h)
{
	size_t i;

	if (2 * (idset_n + 1) > idset_cap) {
		size_t ncap = idset_cap ? idset_cap * 2 : 1024, j;
		uint64_t *n = bb_xcalloc(ncap, sizeof(*n));

		for (j = 0; j < idset_cap; j++) {
			if (idset[j] == 0)
				continue;
			for (i = idset[j] & (ncap - 1); n[i]; i = (i + 1) & (ncap - 1))
				;
			n[i] = idset[j];
		}
		free(idset);
		idset = n;
		idset_cap = ncap;
	}
	for (i = h & (idset_cap - 1); idset[i]; i = (i + 1) & (idset_cap - 1))
		if (idset[i] == h)
			return 0;
	idset[i] = h;
	idset_n++;
	return 1;
}

static void
write_all(int fd, const char *p, size_t n, const char *path)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			bb_die(BB_EXIT_USAGE, "cannot write '%s': %s", path, strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
}

static size_t
read_at(int fd, char *p, size_t n, uint64_t off, const char *path)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			bb_die(BB_EXIT_USAGE, "cannot read '%s': %s", path, strerror(errno));
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static char *
path_join(const char *dir, const char *name)
{
	struct bb_buf b = BB_BUF_INIT;

	if (bb_buf_addf(&b, "%s/%s", dir, name))
		bb_die(BB_EXIT_USAGE, "out of memory");
	return bb_buf_detach(&b, NULL);
}

static char *
shard_name(unsigned index, const char *suffix, int tmp)
{
	char name[PATH_MAX];

	if (tmp)
		snprintf(name, sizeof(name), ".%s-%05u%s.%ld.tmp", opt_prefix, index, suffix,
		    (long)getpid());
	else
		snprintf(name, sizeof(name), "%s-%05u%s", opt_prefix, index, suffix);
	return path_join(out_dir_abs, name);
}

/* An unlinked scratch file in the out dir. */
static int
anon_file(void)
{
	char *p = path_join(out_dir_abs, ".bb-shard-spool.XXXXXX");
	int fd = mkstemp(p);

	if (fd < 0)
		bb_die(BB_EXIT_USAGE, "cannot create a file in '%s': %s", out_dir_abs,
		    strerror(errno));
	unlink(p);
	free(p);
	return fd;
}

/* ---- shards ---- */

static struct shard *
shard_new(void)
{
	struct shard *s = bb_xcalloc(1, sizeof(*s));

	s->index = next_index++;
	s->fd = -1;
	s->spool_fd = -1;
	s->file = cur_file;
	bb_buf_init(&s->sbuf);
	if (!opt_dry_run) {
		s->tmp = shard_name(s->index, ".jsonl", 1);
		s->fd = open(s->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (s->fd < 0)
			bb_die(BB_EXIT_USAGE, "cannot create '%s': %s", s->tmp, strerror(errno));
		if (bb_sha256_init(&s->sha))
			bb_die(BB_EXIT_USAGE, "cannot initialise SHA-256");
		if (sidecar_mode)
			s->spool_fd = anon_file();
	}
	return s;
}

/* Hand the buffered records to the writer thread. */
static void
shard_flush(struct shard *s)
{
	if (s->wlen == 0)
		return;
	fin_write(s, s->wb, s->wlen, 0);
	s->wb = NULL;
	s->wlen = 0;
}

static void
spool_flush(struct shard *s)
{
	if (s->sbuf.len == 0)
		return;
	write_all(s->spool_fd, s->sbuf.data, s->sbuf.len, "spool");
	bb_buf_reset(&s->sbuf);
}

static void
shard_free(struct shard *s, int remove_tmp)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->spool_fd >= 0)
		close(s->spool_fd);
	if (remove_tmp && s->tmp)
		unlink(s->tmp);
	free(s->tmp);
	free(s->recs);
	if (s->wb != NULL)
		fin_buf_put(s->wb);
	bb_buf_release(&s->sbuf);
	bb_sha256_release(&s->sha);
	free(s);
}

static void
copy_id(char *dst, size_t dstsize, const char *id, size_t n)
{
	if (n >= dstsize)
		n = dstsize - 1;
	memcpy(dst, id, n);
	dst[n] = '\0';
}

static void
shard_add(struct shard *s, const char *line, size_t n, const struct rec *r, const char *id,
    size_t idlen)
{
	struct rec *x;

	if (s->nrec == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->recs = bb_xrealloc(s->recs, s->cap * sizeof(*s->recs));
	}
	x = &s->recs[s->nrec++];
	*x = *r;
	s->bytes += n;
	x->out_end = s->bytes;
	x->tokens += s->nrec > 1 ? s->recs[s->nrec - 2].tokens : 0;
	if (s->nrec == 1)
		copy_id(s->first_id, sizeof(s->first_id), id, idlen);
	copy_id(s->last_id, sizeof(s->last_id), id, idlen);
	if (r->line && cur_file != s->file)
		s->multi_file = 1;
	if (!opt_dry_run) {
		if (s->wlen + n > WBUF_SIZE)
			shard_flush(s);
		if (n > WBUF_SIZE) {
			/* a record larger than a buffer goes on its own */
			char *big = bb_xmalloc(n);

			memcpy(big, line, n);
			fin_write(s, big, n, 1);
		} else {
			if (s->wb == NULL)
				s->wb = fin_buf_get();
			memcpy(s->wb + s->wlen, line, n);
			s->wlen += n;
		}
	}
}

/* The recordId of the record starting at off in the shard file. */
static void
read_id(struct shard *s, uint64_t off, char *out, size_t outsz)
{
	static const char pre[] = "{\"recordId\":\"";
	char buf[2 * MAX_ID_VALUE + 64];
	size_t got, i;

	out[0] = '\0';
	if (s->fd < 0)
		return;
	got = read_at(s->fd, buf, sizeof(buf) - 1, off, s->tmp);
	buf[got] = '\0';
	if (strncmp(buf, pre, sizeof(pre) - 1) != 0)
		return;
	for (i = 0; i + 1 < outsz && buf[sizeof(pre) - 1 + i] != '"' &&
	    buf[sizeof(pre) - 1 + i] != '\0'; i++)
		out[i] = buf[sizeof(pre) - 1 + i];
	out[i] = '\0';
}

/* Copy [off, off+n) of fd `from` to the end of fd `to`. */
static void
copy_range(int from, const char *fromname, uint64_t off, uint64_t n, int to, const char *toname)
{
	char *buf = bb_xmalloc(WBUF_SIZE);

	while (n > 0) {
		size_t want = n > WBUF_SIZE ? WBUF_SIZE : (size_t)n;
		size_t got = read_at(from, buf, want, off, fromname);

		if (got == 0)
			bb_die(BB_EXIT_USAGE, "cannot read '%s': unexpected end of file", fromname);
		write_all(to, buf, got, toname);
		off += got;
		n -= got;
	}
	free(buf);
}

static void
emit_source(struct bb_json_append *a, struct shard *s)
{
	struct bb_buf src = BB_BUF_INIT;
	const struct rec *f = &s->recs[0], *l = &s->recs[s->nrec - 1];
	int r = 0;

	r |= bb_buf_addc(&src, '{');
	if (source_path && !s->multi_file) {
		r |= bb_buf_adds(&src, "\"path\":");
		r |= bb_json_add_str(&src, source_path, strlen(source_path));
		r |= bb_buf_addf(&src, ",\"offset\":%llu,\"bytes\":%llu",
		    (unsigned long long)f->in_off, (unsigned long long)(l->in_end - f->in_off));
	} else {
		char *side = shard_name(s->index, ".rows.jsonl.gz", 0);

		r |= bb_buf_adds(&src, "\"sidecar\":");
		r |= bb_json_add_str(&src, side, strlen(side));
		free(side);
	}
	r |= bb_buf_addf(&src, ",\"rows\":%llu,\"first_row\":%llu,\"first_line\":%llu,\"format\":\"%s\"",
	    (unsigned long long)(l->row - f->row + 1), (unsigned long long)f->row,
	    (unsigned long long)f->line,
	    sidecar_mode && !(source_path && !s->multi_file) ? "jsonl" : fmt_names[fmt]);
	if (id_mode_field) {
		r |= bb_buf_adds(&src, ",\"id_field\":");
		r |= bb_json_add_str(&src, id_field_name, strlen(id_field_name));
	}
	r |= bb_buf_addc(&src, '}');
	if (r || bb_json_append_raw(a, "source", src.data, src.len))
		bb_die(BB_EXIT_USAGE, "out of memory");
	bb_buf_release(&src);
}

/* ---- the writer and sync threads ---- */

/*
 * Two threads behind the parser. The writer writes the buffers of
 * records in order, hashing them on the way and starting their writeback;
 * at a final shard it takes the digest and passes the shard on. The sync
 * thread writes the sidecar, waits for the disk and prints the line, so a
 * slow sync (a journal commit behind other processes' data) stalls neither
 * writing nor parsing. The parser only fills buffers: a pool of them
 * bounds the queued bytes, and at most MAX_FINISHING shards are between
 * final and published (four record tables in all, whatever the input).
 */
#define NBUF 8
#define QLEN 16

enum task_kind { T_WRITE, T_FINISH };

struct task {
	enum task_kind kind;
	struct shard *s;
	char *buf;             /* T_WRITE: bytes from the pool, or own (freed) */
	size_t len;
	int own;
};

#define MAX_FINISHING 2

static struct {
	pthread_t tid, sync_tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int started, quit, sync_quit;
	struct task q[QLEN];
	size_t qhead, qn;
	int busy;              /* the writer runs a task */
	int finishing;         /* shards handed over, not yet published */
	struct shard *sq[MAX_FINISHING];   /* hashed, for the sync thread */
	size_t sqhead, sqn;
	char *pool[NBUF];      /* free buffers */
	size_t npool, nalloc;
	int failed;
	char err[PATH_MAX + 256];
	uint64_t shards, bytes, tokens;
	int dirfd;
} fin = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .dirfd = -1 };

/* Record the first failure of a thread; the main thread reports it. -1. */
static int
fin_fail(const char *f, ...)
{
	va_list ap;

	pthread_mutex_lock(&fin.mu);
	if (!fin.failed) {
		va_start(ap, f);
		vsnprintf(fin.err, sizeof(fin.err), f, ap);
		va_end(ap);
		fin.failed = 1;
	}
	pthread_mutex_unlock(&fin.mu);
	return -1;
}

static int
fin_pread(int fd, char *p, size_t n, uint64_t off, const char *name, size_t *got)
{
	ssize_t r;

	*got = 0;
	while (*got < n) {
		r = pread(fd, p + *got, n - *got, (off_t)(off + *got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fin_fail("cannot read '%s': %s", name, strerror(errno));
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

static int
fin_datasync(int fd, const char *name)
{
	if (opt_no_sync || fdatasync(fd) == 0)
		return 0;
	return fin_fail("cannot sync '%s': %s", name, strerror(errno));
}

/* Append a buffer to the shard file, hash it, start its writeback. */
static void
task_write(struct shard *s, const char *p, size_t n)
{
	uint64_t off = s->written;
	size_t left = n;
	ssize_t w;

	while (left > 0) {
		w = write(s->fd, p + (n - left), left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			fin_fail("cannot write '%s': %s", s->tmp, strerror(errno));
			return;
		}
		left -= (size_t)w;
	}
	if (bb_sha256_update(&s->sha, p, n)) {
		fin_fail("SHA-256 failed");
		return;
	}
	s->written = off + n;
#ifdef SYNC_FILE_RANGE_WRITE
	/* in large steps: fewer, larger requests to the disk */
	if (!opt_no_sync && s->written - s->synced >= SYNC_STEP) {
		(void)sync_file_range(s->fd, (off_t)s->synced, (off_t)(s->written - s->synced),
		    SYNC_FILE_RANGE_WRITE);
		s->synced = s->written;
	}
#endif
}

/*
 * The rows of the shard, from its spool, gzip-compressed at
 * --sidecar-level (default 1: deflate's fast level is about five times
 * faster than gzip's default for a sidecar a third larger; 0 stores).
 */
static int
write_sidecar(struct shard *s, char *buf)
{
	char *final = shard_name(s->index, ".rows.jsonl.gz", 0);
	char *tmp = shard_name(s->index, ".rows.jsonl.gz", 1);
	uint64_t off = s->recs[0].spool_off, end = s->recs[s->nrec - 1].spool_end;
	char mode[8];
	gzFile gz = NULL;
	size_t got;
	int fd, gzfd = -1, rc = -1;

	snprintf(mode, sizeof(mode), "wb%d", opt_sidecar_level);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		fin_fail("cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	/* zlib closes its own descriptor; fd stays open for the sync */
	if ((gzfd = dup(fd)) < 0 || (gz = gzdopen(gzfd, mode)) == NULL) {
		fin_fail("cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	gzfd = -1;
	gzbuffer(gz, 256u << 10);
	while (off < end) {
		size_t want = end - off > WBUF_SIZE ? WBUF_SIZE : (size_t)(end - off);

		if (fin_pread(s->spool_fd, buf, want, off, "spool", &got))
			goto out;
		if (got == 0 || gzwrite(gz, buf, (unsigned)got) != (int)got) {
			fin_fail("cannot write '%s'", tmp);
			goto out;
		}
		off += got;
	}
	rc = gzclose(gz);
	gz = NULL;
	if (rc != Z_OK) {
		rc = fin_fail("cannot write '%s'", tmp);
		goto out;
	}
	if ((rc = fin_datasync(fd, tmp)) != 0)
		goto out;
	if (rename(tmp, final))
		rc = fin_fail("cannot rename '%s': %s", tmp, strerror(errno));
out:
	if (gz != NULL)
		gzclose(gz);
	if (gzfd >= 0)
		close(gzfd);
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	free(tmp);
	free(final);
	return rc;
}

/* The shard line of a finished (or planned) shard, into line. */
static void
shard_line(struct shard *s, const char *final, const char *hex, struct bb_buf *line)
{
	struct bb_json_append a;
	uint64_t tokens = s->recs[s->nrec - 1].tokens;
	int r = 0;

	if (bb_json_append_begin(&a, line, "{}", 2, NULL))
		bb_die(BB_EXIT_USAGE, "out of memory");
	if (final == NULL) {
		r |= bb_json_append_int(&a, "index", s->index);
		r |= bb_json_append_int(&a, "records", (long long)s->nrec);
		r |= bb_json_append_int(&a, "bytes", (long long)s->bytes);
		r |= bb_json_append_int(&a, "est_input_tokens", (long long)tokens);
	} else {
		r |= bb_json_append_str(&a, "shard", final, strlen(final));
		r |= bb_json_append_int(&a, "index", s->index);
		r |= bb_json_append_int(&a, "records", (long long)s->nrec);
		r |= bb_json_append_int(&a, "bytes", (long long)s->bytes);
		r |= bb_json_append_str(&a, "sha256", hex, strlen(hex));
		r |= bb_json_append_str(&a, "model", opt_model, strlen(opt_model));
		r |= bb_json_append_str(&a, "family", bb_family_name(family),
		    strlen(bb_family_name(family)));
		if (opt_converse)
			r |= bb_json_append_str(&a, "invocation_type", "converse", 8);
		r |= bb_json_append_str(&a, "first_record", s->first_id, strlen(s->first_id));
		r |= bb_json_append_str(&a, "last_record", s->last_id, strlen(s->last_id));
		emit_source(&a, s);
	}
	if (r || bb_json_append_end(&a) || bb_buf_addc(line, '\n'))
		bb_die(BB_EXIT_USAGE, "out of memory");
}

/* The digest of a final shard, all of it written (writer thread). */
static int
shard_digest(struct shard *s)
{
	unsigned char dig[BB_SHA256_LEN];

	if (bb_sha256_final(&s->sha, dig))
		return fin_fail("SHA-256 failed");
	bb_hex_encode(dig, sizeof(dig), s->hex);
	return 0;
}

/* Write a final (hashed) shard's sidecar and make both durable. 0 or -1. */
static int
shard_prepare(struct shard *s)
{
	char *buf = NULL;
	int rc = -1;

	if (sidecar_mode || (s->multi_file && source_path)) {
		buf = bb_xmalloc(WBUF_SIZE);
		if (write_sidecar(s, buf))
			goto out;
	}
	if (fin_datasync(s->fd, s->tmp))
		goto out;
	rc = 0;
out:
	free(buf);
	return rc;
}

/* Rename a prepared shard into place and print its line. Frees s. */
static void
shard_publish(struct shard *s)
{
	struct bb_buf line = BB_BUF_INIT;
	char *final = NULL;

	if (opt_dry_run) {
		shard_line(s, NULL, NULL, &line);
		goto print;
	}
	final = shard_name(s->index, ".jsonl", 0);
	if (close(s->fd)) {
		s->fd = -1;
		fin_fail("cannot write '%s': %s", s->tmp, strerror(errno));
		goto out;
	}
	s->fd = -1;
	if (rename(s->tmp, final)) {
		fin_fail("cannot rename '%s' to '%s': %s", s->tmp, final, strerror(errno));
		goto out;
	}
	free(s->tmp);
	s->tmp = NULL;
	/* the renames themselves are on disk before the line says so */
	if (!opt_no_sync && fin.dirfd >= 0 && fsync(fin.dirfd)) {
		fin_fail("cannot sync '%s': %s", out_dir_abs, strerror(errno));
		goto out;
	}
	shard_line(s, final, s->hex, &line);
print:
	bb_out_write(line.data, line.len);
	bb_out_record_end();
	fin.shards++;
	fin.bytes += s->bytes;
	fin.tokens += s->recs[s->nrec - 1].tokens;
out:
	bb_buf_release(&line);
	free(final);
	shard_free(s, 1);
}

/* Both steps (in the sync thread, or in the main one for a dry run). */
static void
shard_finish(struct shard *s)
{
	if (opt_dry_run || shard_prepare(s) == 0)
		shard_publish(s);
	else
		shard_free(s, 1);
}

static void *
sync_main(void *arg)
{
	struct shard *s;
	int failed;

	(void)arg;
	pthread_mutex_lock(&fin.mu);
	for (;;) {
		while (fin.sqn == 0 && !fin.sync_quit)
			pthread_cond_wait(&fin.cv, &fin.mu);
		if (fin.sqn == 0)
			break;
		s = fin.sq[fin.sqhead];
		fin.sqhead = (fin.sqhead + 1) % MAX_FINISHING;
		fin.sqn--;
		failed = fin.failed;
		pthread_mutex_unlock(&fin.mu);
		if (failed)
			shard_free(s, 1);   /* after a failure nothing more is printed */
		else
			shard_finish(s);
		pthread_mutex_lock(&fin.mu);
		fin.finishing--;
		pthread_cond_broadcast(&fin.cv);
	}
	pthread_mutex_unlock(&fin.mu);
	return NULL;
}

static void *
fin_main(void *arg)
{
	struct task t;
	int failed;

	(void)arg;
	pthread_mutex_lock(&fin.mu);
	for (;;) {
		while (fin.qn == 0 && !fin.quit)
			pthread_cond_wait(&fin.cv, &fin.mu);
		if (fin.qn == 0)
			break;
		t = fin.q[fin.qhead];
		fin.qhead = (fin.qhead + 1) % QLEN;
		fin.qn--;
		fin.busy = 1;
		failed = fin.failed;
		pthread_cond_broadcast(&fin.cv);
		pthread_mutex_unlock(&fin.mu);
		/* after a failure nothing more is written */
		if (t.kind == T_WRITE && !failed)
			task_write(t.s, t.buf, t.len);
		else if (t.kind == T_FINISH && !failed)
			(void)shard_digest(t.s);   /* a failure is seen by all */
		if (t.kind == T_WRITE && t.own)
			free(t.buf);
		pthread_mutex_lock(&fin.mu);
		if (t.kind == T_WRITE && !t.own)
			fin.pool[fin.npool++] = t.buf;
		if (t.kind == T_FINISH) {
			/* room is certain: main hands at most MAX_FINISHING */
			fin.sq[(fin.sqhead + fin.sqn) % MAX_FINISHING] = t.s;
			fin.sqn++;
		}
		fin.busy = 0;
		pthread_cond_broadcast(&fin.cv);
	}
	pthread_mutex_unlock(&fin.mu);
	return NULL;
}

static void
fin_check(void)
{
	int failed;

	pthread_mutex_lock(&fin.mu);
	failed = fin.failed;
	pthread_mutex_unlock(&fin.mu);
	if (failed)
		bb_die(BB_EXIT_USAGE, "%s", fin.err);
}

static void
fin_start(void)
{
	int e;

	if (fin.started)
		return;
	if (!opt_no_sync && (fin.dirfd = open(out_dir_abs, O_RDONLY | O_CLOEXEC)) < 0)
		bb_die(BB_EXIT_USAGE, "cannot open '%s': %s", out_dir_abs, strerror(errno));
	if ((e = pthread_create(&fin.tid, NULL, fin_main, NULL)) != 0 ||
	    (e = pthread_create(&fin.sync_tid, NULL, sync_main, NULL)) != 0)
		bb_die(BB_EXIT_USAGE, "cannot start a thread: %s", strerror(e));
	fin.started = 1;
}

static void
fin_push(struct task t)
{
	fin_start();
	pthread_mutex_lock(&fin.mu);
	while (fin.qn == QLEN || (t.kind == T_FINISH && fin.finishing >= MAX_FINISHING))
		pthread_cond_wait(&fin.cv, &fin.mu);
	fin.q[(fin.qhead + fin.qn) % QLEN] = t;
	fin.qn++;
	if (t.kind == T_FINISH)
		fin.finishing++;
	pthread_cond_broadcast(&fin.cv);
	pthread_mutex_unlock(&fin.mu);
	fin_check();
}

static void
fin_write(struct shard *s, char *buf, size_t len, int own)
{
	struct task t = { T_WRITE, s, buf, len, own };

	fin_push(t);
}

/* A buffer of WBUF_SIZE bytes from the pool (waits when all are in use). */
static char *
fin_buf_get(void)
{
	char *b = NULL;

	fin_start();
	pthread_mutex_lock(&fin.mu);
	while (fin.npool == 0 && fin.nalloc == NBUF)
		pthread_cond_wait(&fin.cv, &fin.mu);
	if (fin.npool > 0)
		b = fin.pool[--fin.npool];
	else
		fin.nalloc++;
	pthread_mutex_unlock(&fin.mu);
	return b != NULL ? b : bb_xmalloc(WBUF_SIZE);
}

static void
fin_buf_put(char *b)
{
	if (!fin.started) {
		free(b);   /* the pool is gone (after fin_join) */
		return;
	}
	pthread_mutex_lock(&fin.mu);
	fin.pool[fin.npool++] = b;
	pthread_cond_broadcast(&fin.cv);
	pthread_mutex_unlock(&fin.mu);
}

/* Wait until the writer has written everything handed to it. */
static void
fin_drain(void)
{
	pthread_mutex_lock(&fin.mu);
	while (fin.qn > 0 || fin.busy)
		pthread_cond_wait(&fin.cv, &fin.mu);
	pthread_mutex_unlock(&fin.mu);
	fin_check();
}

/* A final shard: written out, buffers gone. */
static void
shard_close_buffers(struct shard *s)
{
	shard_flush(s);
	if (s->spool_fd >= 0)
		spool_flush(s);
	bb_buf_release(&s->sbuf);
}

/* The shard is complete and final: the threads finish it. */
static void
shard_emit(struct shard *s)
{
	struct task t = { T_FINISH, s, NULL, 0, 0 };

	shard_close_buffers(s);
	shards_done++;
	if (opt_dry_run)
		shard_finish(s);
	else
		fin_push(t);
}

/* Finish everything handed over and stop the threads. */
static void
fin_join(void)
{
	if (!fin.started) {
		fin_check();
		return;
	}
	/* the writer first: it passes the last shards to the sync thread */
	pthread_mutex_lock(&fin.mu);
	fin.quit = 1;
	pthread_cond_broadcast(&fin.cv);
	pthread_mutex_unlock(&fin.mu);
	pthread_join(fin.tid, NULL);
	pthread_mutex_lock(&fin.mu);
	fin.sync_quit = 1;
	pthread_cond_broadcast(&fin.cv);
	pthread_mutex_unlock(&fin.mu);
	pthread_join(fin.sync_tid, NULL);
	fin.started = 0;
	fin.quit = fin.sync_quit = 0;
	while (fin.npool > 0)
		free(fin.pool[--fin.npool]);
	fin.nalloc = 0;
	if (fin.dirfd >= 0)
		close(fin.dirfd);
	fin.dirfd = -1;
	fin_check();
}

/* End of input: the last two shards, in order. */
static void
finish_last(void)
{
	if (held != NULL)
		shard_emit(held);
	held = NULL;
	if (cur != NULL)
		shard_emit(cur);
	cur = NULL;
	fin_join();
}

/* Recompute the digest of a shard from its file (after a rebalance). */
static void
shard_rehash(struct shard *s)
{
	char *buf = bb_xmalloc(WBUF_SIZE);
	uint64_t off = 0;
	size_t got;

	bb_sha256_release(&s->sha);
	if (bb_sha256_init(&s->sha))
		bb_die(BB_EXIT_USAGE, "cannot initialise SHA-256");
	while ((got = read_at(s->fd, buf, WBUF_SIZE, off, s->tmp)) > 0) {
		bb_sha256_update(&s->sha, buf, got);
		off += got;
	}
	free(buf);
}

/*
 * End of input with the remainder c below --min-records: move the tail of
 * the held shard h into c so that both have at least the minimum, the
 * split as even as the byte limit allows.
 */
static void
rebalance(struct shard *h, struct shard *c)
{
	size_t n = h->nrec + c->nrec, k, i, moved;
	uint64_t start_k, cut_spool, shift_spool = 0;
	struct shard *nc;

	k = n - n / 2;
	if (k > h->nrec)
		k = h->nrec;
	if (k < (size_t)opt_min_records)
		k = (size_t)opt_min_records;
	for (;; k++) {
		start_k = k ? h->recs[k - 1].out_end : 0;
		if (k > h->nrec || n - k < (size_t)opt_min_records)
			bb_die(BB_EXIT_USAGE, "cannot give the last two shards %lld records each "
			    "within --max-bytes %llu; use a smaller --min-records or larger --max-bytes",
			    opt_min_records, (unsigned long long)opt_max_bytes);
		if (h->bytes - start_k + c->bytes <= opt_max_bytes)
			break;
	}
	bb_msg_note(1, "rebalancing the last two shards: %zu + %zu records become %zu + %zu",
	    h->nrec, c->nrec, k, n - k);
	moved = h->nrec - k;
	/* A new file for the remainder: h's tail, then c. */
	nc = bb_xcalloc(1, sizeof(*nc));
	shard_flush(h);
	shard_flush(c);
	if (h->spool_fd >= 0) {
		spool_flush(h);
		spool_flush(c);
	}
	if (!opt_dry_run)
		fin_drain();   /* the files are complete before they are cut */
	*nc = *c;
	nc->wb = NULL;
	nc->wlen = 0;
	memset(&nc->sha, 0, sizeof(nc->sha));
	bb_buf_init(&nc->sbuf);
	nc->recs = bb_xmalloc((n - k) * sizeof(*nc->recs));
	nc->cap = n - k;
	nc->nrec = 0;
	if (!opt_dry_run) {
		nc->tmp = shard_name(c->index, ".jsonl.rebalanced", 1);
		nc->fd = open(nc->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (nc->fd < 0)
			bb_die(BB_EXIT_USAGE, "cannot create '%s': %s", nc->tmp, strerror(errno));
		copy_range(h->fd, h->tmp, start_k, h->bytes - start_k, nc->fd, nc->tmp);
		copy_range(c->fd, c->tmp, 0, c->bytes, nc->fd, nc->tmp);
		if (h->spool_fd >= 0) {
			nc->spool_fd = anon_file();
			cut_spool = h->recs[k].spool_off;
			shift_spool = h->spool_len - cut_spool;
			copy_range(h->spool_fd, "spool", cut_spool, shift_spool, nc->spool_fd, "spool");
			copy_range(c->spool_fd, "spool", 0, c->spool_len, nc->spool_fd, "spool");
			nc->spool_len = shift_spool + c->spool_len;
			for (i = k; i < h->nrec; i++) {
				h->recs[i].spool_off -= cut_spool;
				h->recs[i].spool_end -= cut_spool;
			}
			if (ftruncate(h->spool_fd, (off_t)h->recs[k - 1].spool_end))
				bb_die(BB_EXIT_USAGE, "cannot truncate a spool file: %s", strerror(errno));
			h->spool_len = h->recs[k - 1].spool_end;
		}
	}
	for (i = k; i < h->nrec; i++) {
		nc->recs[nc->nrec] = h->recs[i];
		nc->recs[nc->nrec].out_end -= start_k;
		nc->recs[nc->nrec].tokens -= h->recs[k - 1].tokens;
		nc->nrec++;
	}
	for (i = 0; i < c->nrec; i++) {
		nc->recs[nc->nrec] = c->recs[i];
		nc->recs[nc->nrec].out_end += h->bytes - start_k;
		nc->recs[nc->nrec].tokens += moved ? nc->recs[moved - 1].tokens : 0;
		nc->recs[nc->nrec].spool_off += shift_spool;
		nc->recs[nc->nrec].spool_end += shift_spool;
		nc->nrec++;
	}
	nc->bytes = h->bytes - start_k + c->bytes;
	nc->multi_file = c->multi_file || h->multi_file;
	h->nrec = k;
	h->bytes = start_k;
	if (!opt_dry_run) {
		if (ftruncate(h->fd, (off_t)start_k))
			bb_die(BB_EXIT_USAGE, "cannot truncate '%s': %s", h->tmp, strerror(errno));
		read_id(h, k > 1 ? h->recs[k - 2].out_end : 0, h->last_id, sizeof(h->last_id));
		read_id(nc, 0, nc->first_id, sizeof(nc->first_id));
		h->written = h->synced = start_k;
		nc->written = nc->synced = nc->bytes;
		shard_rehash(h);
		shard_rehash(nc);
		/* c's files go; nc takes c's index and final name. */
		close(c->fd);
		unlink(c->tmp);
		free(c->tmp);
		c->tmp = NULL;
		c->fd = -1;
		if (c->spool_fd >= 0)
			close(c->spool_fd);
		c->spool_fd = -1;
	}
	free(c->recs);
	bb_buf_release(&c->sbuf);
	bb_sha256_release(&c->sha);
	free(c);
	cur = nc;
}

/* ---- rejects ---- */

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
	if (raw != NULL && !opt_dry_run) {
		if (rejects_fp == NULL) {
			rejects_tmp = bb_xmalloc(strlen(rejects_path) + 32);
			sprintf(rejects_tmp, "%s.%ld.tmp", rejects_path, (long)getpid());
			if ((rejects_fp = fopen(rejects_tmp, "w")) == NULL)
				bb_die(BB_EXIT_USAGE, "cannot create '%s': %s", rejects_tmp,
				    strerror(errno));
			if (csv_header_raw.len)
				fprintf(rejects_fp, "%s\n", csv_header_raw.data);
		}
		fwrite(raw, 1, n, rejects_fp);
		fputc('\n', rejects_fp);
	}
	if (opt_strict) {
		fin_join();   /* earlier shards are finished; pending writes done */
		shard_free(held, 1);
		shard_free(cur, 1);
		held = cur = NULL;
		if (rejects_fp && (fclose(rejects_fp) || rename(rejects_tmp, rejects_path)))
			bb_msg_error("cannot write '%s'", rejects_path);
		bb_msg_info("stopped at the first bad row (--strict)");
		exit(bb_main_finish(BB_EXIT_PARTIAL));
	}
}

/* ---- record ids ---- */

static int
id_alnum(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return 0;
	}
	return n > 0;
}

/* "x" and lower-case hex pairs: the form of an encoded id. */
static int
id_encoded(const char *s, size_t n)
{
	size_t i;

	if (n < 3 || s[0] != 'x' || n % 2 != 1)
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/*
 * idbuf = the recordId for an id value: kept when it is 1..64 ASCII
 * letters and digits and not itself of the encoded form, else "x" and the
 * lower-case hex of its bytes. A row that already is a Bedrock record
 * (--input-format bedrock) keeps an alphanumeric recordId as it is, so
 * re-packing bb-shard's own output changes nothing.
 */
static int
make_id(const char *s, size_t n, struct bb_error *err)
{
	char hex[2 * MAX_ID_VALUE + 1];

	bb_buf_reset(&idbuf);
	if (n == 0)
		return bb_error_set(err, BB_ERR_INPUT, "empty record id");
	if (fmt == FMT_BEDROCK && n <= 2 * MAX_ID_VALUE + 1 && id_alnum(s, n)) {
		bb_buf_add(&idbuf, s, n);
		return 0;
	}
	if (n > MAX_ID_VALUE)
		return bb_error_set(err, BB_ERR_INPUT, "record id longer than %d bytes",
		    MAX_ID_VALUE);
	if (id_alnum(s, n) && !id_encoded(s, n)) {
		bb_buf_add(&idbuf, s, n);
	} else {
		bb_hex_encode(s, n, hex);
		bb_buf_addc(&idbuf, 'x');
		bb_buf_adds(&idbuf, hex);
	}
	return 0;
}

/* idbuf from a JSON span (string or integer). */
static int
id_from_span(const struct bb_json_span *sp, const char *what, struct bb_error *err)
{
	if (sp->p == NULL)
		return bb_error_set(err, BB_ERR_INPUT, "missing %s", what);
	if (sp->type == BB_JSON_STRING) {
		bb_buf_reset(&scratch);
		if (bb_json_span_str(sp, &scratch))
			return bb_error_set(err, BB_ERR_INPUT, "bad %s", what);
		return make_id(scratch.data, scratch.len, err);
	}
	if (sp->type == BB_JSON_NUMBER)
		return make_id(sp->p, sp->n, err);
	return bb_error_set(err, BB_ERR_INPUT, "%s is not a string or a number", what);
}

/* ---- one row ---- */

struct row {
	const char *raw;
	size_t len;
	uint64_t line, off;
	const struct bb_csv *csv;
};

static void
spool_row(const struct row *rw, int ok, struct rec *r)
{
	struct shard *s = cur;
	struct bb_buf *b;
	size_t old;
	int e = 0;

	if (!sidecar_mode || opt_dry_run)
		return;
	if (s == NULL)
		return;   /* before the first record of the input: in no region */
	b = &s->sbuf;
	if (b->len + rw->len + 1 > WBUF_SIZE)
		spool_flush(s);
	old = b->len;
	if (fmt == FMT_CSV || fmt == FMT_TSV) {
		size_t i, len;

		if (ok && rw->csv) {
			e |= bb_buf_addc(b, '{');
			for (i = 0; i < csv_ncols; i++) {
				const char *f = bb_csv_field(rw->csv, i, &len);

				if (i)
					e |= bb_buf_addc(b, ',');
				e |= bb_json_add_str(b, csv_names[i], strlen(csv_names[i]));
				e |= bb_buf_addc(b, ':');
				if (bb_json_add_str(b, f, len))
					e |= bb_buf_adds(b, "null");
			}
			e |= bb_buf_adds(b, "}\n");
		} else {
			e |= bb_buf_adds(b, "null\n");
		}
	} else {
		e |= bb_buf_add(b, rw->raw, rw->len);
		e |= bb_buf_addc(b, '\n');
	}
	if (e)
		bb_die(BB_EXIT_USAGE, "out of memory");
	if (r) {
		r->spool_off = s->spool_len;
		r->spool_end = s->spool_len + (b->len - old);
	}
	s->spool_len += b->len - old;
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
			return make_id(v->str, v->len, err);
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
		} else {
			vals[i].p = sp->p;
			vals[i].n = sp->n;
			/* numbers and literals are plain ASCII: already a string body */
			vals[i].escaped = sp->type != BB_JSON_OBJECT && sp->type != BB_JSON_ARRAY;
		}
	}
	if (opt_id_field)
		return id_from_span(&spans[nf], "id field", err);
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

		return make_id(v, len, err);
	}
	return 0;
}

/* modelInput from an OpenAI batch line into recbuf. */
static int
openai_row(const struct row *rw, struct bb_error *err)
{
	static const char *const okeys[] = { "custom_id", "body" };
	struct bb_json_span sp[2];
	struct bb_json *body = NULL;
	const struct bb_json *msgs, *v;
	struct bb_mi_message *m = NULL;
	struct bb_mi_params p;
	struct bb_buf texts = BB_BUF_INIT;
	const char **stop = NULL;
	size_t *offs = NULL, i, k, nm = 0, nstop = 0;
	int rc = -1;

	if (bb_json_fields(rw->raw, rw->len, okeys, 2, sp, err))
		goto out;
	if (sp[0].p != NULL) {
		if (id_from_span(&sp[0], "custom_id", err))
			goto out;
	} else {
		bb_buf_reset(&idbuf);
	}
	if (sp[1].p == NULL || sp[1].type != BB_JSON_OBJECT) {
		bb_error_set(err, BB_ERR_INPUT, "no \"body\" object");
		goto out;
	}
	if (bb_json_parse(sp[1].p, sp[1].n, 0, &body, err))
		goto out;
	bb_mi_params_init(&p);
	if ((v = bb_json_get(body, "max_completion_tokens")) == NULL)
		v = bb_json_get(body, "max_tokens");
	if (v != NULL) {
		if (v->type != BB_JSON_NUMBER || !v->is_int || v->i < 1) {
			bb_error_set(err, BB_ERR_INPUT, "body.max_tokens: not a positive integer");
			goto out;
		}
		p.max_tokens = v->i;
	}
	if ((v = bb_json_get(body, "temperature")) != NULL && v->type == BB_JSON_NUMBER) {
		p.has_temperature = 1;
		p.temperature = v->num;
	}
	if ((v = bb_json_get(body, "top_p")) != NULL && v->type == BB_JSON_NUMBER) {
		p.has_top_p = 1;
		p.top_p = v->num;
	}
	if ((v = bb_json_get(body, "stop")) != NULL) {
		if (v->type == BB_JSON_STRING) {
			stop = bb_xmalloc(sizeof(*stop));
			stop[nstop++] = v->str;
		} else if (v->type == BB_JSON_ARRAY) {
			stop = bb_xmalloc((v->n + 1) * sizeof(*stop));
			for (i = 0; i < v->n; i++)
				if (v->items[i]->type == BB_JSON_STRING)
					stop[nstop++] = v->items[i]->str;
		}
		p.stop = stop;
		p.nstop = nstop;
	}
	msgs = bb_json_get(body, "messages");
	if (msgs == NULL && (v = bb_json_get(body, "input")) != NULL &&
	    v->type == BB_JSON_STRING) {
		/* an embeddings request */
		m = bb_xmalloc(sizeof(*m));
		offs = bb_xmalloc(sizeof(*offs));
		offs[0] = 0;
		if (bb_json_add_str_body(&texts, v->str, v->len)) {
			bb_error_set(err, BB_ERR_INPUT, "body.input: bad text");
			goto out;
		}
		m[0].role = "user";
		nm = 1;
	} else {
		if (msgs == NULL || msgs->type != BB_JSON_ARRAY || msgs->n == 0) {
			bb_error_set(err, BB_ERR_INPUT, "body.messages: not a non-empty array");
			goto out;
		}
		m = bb_xmalloc(msgs->n * sizeof(*m));
		offs = bb_xmalloc((msgs->n + 1) * sizeof(*offs));
		for (i = 0; i < msgs->n; i++) {
			const struct bb_json *role = bb_json_get(msgs->items[i], "role");
			const struct bb_json *content = bb_json_get(msgs->items[i], "content");

			if (bb_json_str(role) == NULL) {
				bb_error_set(err, BB_ERR_INPUT, "body.messages[%zu].role: not a string", i);
				goto out;
			}
			m[nm].role = strcmp(role->str, "developer") == 0 ? "system" : role->str;
			offs[nm] = texts.len;
			if (content != NULL && content->type == BB_JSON_STRING) {
				bb_json_add_str_body(&texts, content->str, content->len);
			} else if (content != NULL && content->type == BB_JSON_ARRAY) {
				for (k = 0; k < content->n; k++) {
					const struct bb_json *t = bb_json_get(content->items[k], "text");
					const struct bb_json *ty = bb_json_get(content->items[k], "type");

					if (bb_json_str(ty) == NULL || strcmp(ty->str, "text") != 0 ||
					    bb_json_str(t) == NULL) {
						bb_error_set(err, BB_ERR_INPUT,
						    "body.messages[%zu].content[%zu]: only text parts are supported",
						    i, k);
						goto out;
					}
					bb_json_add_str_body(&texts, t->str, t->len);
				}
			} else {
				bb_error_set(err, BB_ERR_INPUT, "body.messages[%zu].content: not text", i);
				goto out;
			}
			nm++;
		}
	}
	offs[nm] = texts.len;
	for (i = 0; i < nm; i++) {
		m[i].text = texts.data + offs[i];
		m[i].len = (i + 1 < nm ? offs[i + 1] : texts.len) - offs[i];
	}
	if (bb_modelinput_chat(&mi, m, nm, &p, &recbuf, err))
		goto out;
	bb_buf_reset(&prompt);
	bb_buf_add(&prompt, texts.data, texts.len);   /* for the token estimate */
	rc = 0;
out:
	bb_json_free(body);
	bb_buf_release(&texts);
	free(m);
	free(offs);
	free(stop);
	return rc;
}

/* modelInput of a bedrock-format row, validated, into recbuf. */
static int
bedrock_row(const struct row *rw, struct bb_error *err)
{
	static const char *const bkeys[] = { "recordId", "modelInput" };
	struct bb_json_span sp[2];

	if (bb_json_fields(rw->raw, rw->len, bkeys, 2, sp, err))
		return -1;
	if (sp[0].p != NULL) {
		if (id_from_span(&sp[0], "recordId", err))
			return -1;
	} else {
		bb_buf_reset(&idbuf);
	}
	if (sp[1].p == NULL || sp[1].type != BB_JSON_OBJECT)
		return bb_error_set(err, BB_ERR_INPUT, "no \"modelInput\" object");
	if (bb_modelinput_check(family, sp[1].p, sp[1].n, err))
		return -1;
	bb_buf_add(&recbuf, sp[1].p, sp[1].n);
	bb_buf_reset(&prompt);
	bb_buf_add(&prompt, sp[1].p, sp[1].n);
	return 0;
}

/* "r" and the row number, at least ten digits: the generated record id. */
static void
gen_id(uint64_t n)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	while (sizeof(tmp) - i < 10)
		tmp[--i] = '0';
	tmp[--i] = 'r';
	bb_buf_reset(&idbuf);
	bb_buf_add(&idbuf, tmp + i, sizeof(tmp) - i);
}

static void
process_row(const char *name, const struct row *rw)
{
	static const char head[] = "{\"recordId\":\"", mid[] = "\",\"modelInput\":";
	struct bb_error err = BB_ERROR_INIT;
	struct bb_json *tree = NULL;
	struct rec r;
	size_t at, plen = 0;
	int bad = 1;

	rows_total++;
	memset(&r, 0, sizeof(r));
	bb_buf_reset(&recbuf);
	if (fmt == FMT_BEDROCK || fmt == FMT_OPENAI) {
		/* the id comes with the body: put it in front afterwards */
		bb_buf_add(&recbuf, head, sizeof(head) - 1);
		at = recbuf.len;
		bb_buf_add(&recbuf, mid, sizeof(mid) - 1);
		if (fmt == FMT_BEDROCK ? bedrock_row(rw, &err) : openai_row(rw, &err))
			goto out;
		if (idbuf.len == 0)
			gen_id(rows_total);
		else if (!idset_add(fingerprint(idbuf.data, idbuf.len)))
			goto dup;
		if (bb_buf_grow(&recbuf, idbuf.len))
			bb_die(BB_EXIT_USAGE, "out of memory");
		memmove(recbuf.data + at + idbuf.len, recbuf.data + at, recbuf.len - at + 1);
		memcpy(recbuf.data + at, idbuf.data, idbuf.len);
		recbuf.len += idbuf.len;
		plen = prompt.len;
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
		if (id_mode_field && !idset_add(fingerprint(idbuf.data, idbuf.len)))
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
		spool_row(rw, 0, NULL);
		reject(name, rw->line, rw->raw, rw->len, err.msg);
		return;
	}
	/* Place the record: close the current shard when it is full. */
	if (cur != NULL && cur->nrec > 0 &&
	    ((long long)cur->nrec + 1 > target || cur->bytes + recbuf.len > opt_max_bytes)) {
		if ((long long)cur->nrec < opt_min_records)
			bb_die(BB_EXIT_USAGE, "records are so large that shard %u holds only %zu "
			    "within --max-bytes %llu, below --min-records %lld", cur->index, cur->nrec,
			    (unsigned long long)opt_max_bytes, opt_min_records);
		/* a held shard only shrinks (rebalance): its buffers can go */
		shard_close_buffers(cur);
		if (held != NULL)
			shard_emit(held);
		held = cur;
		cur = NULL;
	}
	if (cur == NULL)
		cur = shard_new();
	r.row = rows_total;
	r.in_off = rw->off;
	r.in_end = rw->off + rw->len;
	r.line = rw->line;
	r.tokens = (plen + 3) / 4;
	spool_row(rw, 1, &r);
	shard_add(cur, recbuf.data, recbuf.len, &r, idbuf.data, idbuf.len);
	records_total++;
	bb_progress_update("bb-shard: %llu rows, %llu records, %llu shards",
	    (unsigned long long)rows_total, (unsigned long long)records_total,
	    (unsigned long long)shards_done);
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

/* Once per input; written only when it changes (the sync thread reads it). */
static void
set_sidecar_mode(void)
{
	int m = !opt_dry_run && source_path == NULL;

	if (m != sidecar_mode)
		sidecar_mode = m;
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
	r = bb_ndjson_open(path, opt_max_line, BB_NDJSON_SKIP_BLANK, &err);
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
	set_sidecar_mode();
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
			spool_row(&rw, 0, NULL);
			reject(bb_ndjson_name(r), 0, NULL, 0, err.msg);
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
	r = bb_csv_reader_open(path, fmt == FMT_TSV ? '\t' : ',', opt_max_line, &err);
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
	set_sidecar_mode();
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
			spool_row(&rw, 0, NULL);
			reject(bb_csv_reader_name(r), rec.lineno, rec.raw, rec.rawlen, err.msg);
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
	O_RECORDS, O_MAX_BYTES, O_MAX_LINE, O_REJECTS, O_STRICT, O_INVOCATION, O_INPUT_TYPE,
	O_READ_SIZE, O_PROGRESS, O_NO_PROGRESS, O_NO_SYNC, O_SIDECAR_LEVEL,
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
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
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
	{ "max-line-bytes", required_argument, NULL, O_MAX_LINE },
	{ "rejects", required_argument, NULL, O_REJECTS },
	{ "strict", no_argument, NULL, O_STRICT },
	{ "invocation-type", required_argument, NULL, O_INVOCATION },
	{ "read-size", required_argument, NULL, O_READ_SIZE },
	{ "progress", no_argument, NULL, O_PROGRESS },
	{ "no-progress", no_argument, NULL, O_NO_PROGRESS },
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
	uint64_t u;
	double d;
	int c;
	size_t i;

	bb_mi_opts_init(&mio);
	while ((c = getopt_long(argc, argv, "m:t:T:s:f:o:p:nqvhV", longopts, NULL)) != -1) {
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
		case 'q': bb_verbosity = -1; break;
		case 'v': bb_verbosity++; break;
		case 'h': usage(); exit(bb_main_finish(0));
		case 'V': bb_print_version(); exit(bb_main_finish(0));
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
		case O_MAX_LINE:
			if (bb_parse_size(optarg, &u) || u < 16 || u > ((uint64_t)1 << 31))
				bb_usage_die("--max-line-bytes: not a size in [16, 2GiB]: '%s'", optarg);
			opt_max_line = u;
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
		case O_PROGRESS: bb_progress_force(1); break;
		case O_NO_PROGRESS: bb_progress_force(0); break;
		case O_NO_SYNC: opt_no_sync = 1; break;
		case O_SIDECAR_LEVEL:
			if (bb_parse_int(optarg, 0, 9, &v))
				bb_usage_die("--sidecar-level: not a gzip level 0-9: '%s'", optarg);
			opt_sidecar_level = (int)v;
			break;
		default:
			fprintf(stderr, "Try 'bb-shard --help' for more information.\n");
			exit(bb_main_finish(BB_EXIT_USAGE));
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
	struct stat st;

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
		if (stat(opt_out_dir, &st) || !S_ISDIR(st.st_mode))
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

	for (i = 0; i < ninputs && !failed; i++) {
		cur_file = (unsigned)i;
		if (fmt == FMT_CSV || fmt == FMT_TSV)
			failed = read_csv(inputs[i], ninputs == 1) != 0;
		else
			failed = read_jsonl(inputs[i], ninputs == 1) != 0;
	}
	if (ninputs > 1)
		source_path = NULL;   /* every shard gets a sidecar */

	if (failed) {
		fin_join();
		shard_free(held, 1);
		shard_free(cur, 1);
		status = BB_EXIT_USAGE;
		goto out;
	}
	if (cur != NULL && cur->nrec < (size_t)opt_min_records) {
		if (held != NULL) {
			rebalance(held, cur);
		} else {
			bb_msg_error("only %llu records, fewer than the minimum of %lld per job "
			    "(--min-records): no shard written", (unsigned long long)records_total,
			    opt_min_records);
			shard_free(cur, 1);
			cur = NULL;
			status = BB_EXIT_USAGE;
			goto out;
		}
	}
	if (cur == NULL && held == NULL) {
		bb_msg_error("no records, fewer than the minimum of %lld per job (--min-records): "
		    "no shard written", opt_min_records);
		status = BB_EXIT_USAGE;
		goto out;
	}
	finish_last();
	shards_done = fin.shards;
	bytes_total = fin.bytes;
	tokens_total = fin.tokens;
	if (opt_dry_run)
		bb_msg_info("dry run: %llu shards, %llu records, %llu bytes, about %llu input tokens",
		    (unsigned long long)shards_done, (unsigned long long)records_total,
		    (unsigned long long)bytes_total, (unsigned long long)tokens_total);
	else
		bb_msg_note(1, "%llu shards, %llu records, %llu bytes",
		    (unsigned long long)shards_done, (unsigned long long)records_total,
		    (unsigned long long)bytes_total);
out:
	if (rejects_fp != NULL) {
		if (fclose(rejects_fp) || rename(rejects_tmp, rejects_path)) {
			bb_msg_error("cannot write '%s': %s", rejects_path, strerror(errno));
			status = BB_EXIT_USAGE;
		}
	}
	if (rejected) {
		bb_msg_info("%llu of %llu rows rejected%s%s%s", (unsigned long long)rejected,
		    (unsigned long long)rows_total, rejects_fp ? " (copied to '" : "",
		    rejects_fp ? rejects_path : "", rejects_fp ? "')" : "");
		if (status == BB_EXIT_OK)
			status = BB_EXIT_PARTIAL;
	}
	if (tpl)
		bb_template_free(tpl);
	if (fmt != FMT_BEDROCK)
		bb_modelinput_release(&mi);
	return bb_main_finish(status);
}
