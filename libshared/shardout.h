/*
 * shardout.h - the shard output engine of bb-shard: Bedrock records in,
 * finished shard files and their shard lines (man/bb.7) out, in order.
 *
 * Packing: records go to the current shard until it holds `records`
 * records or the next one would take it over `max_bytes`; then it is
 * closed. The last closed shard is held back until the next one closes:
 * when the input ends with a remainder below `min_records`, the held
 * shard and the remainder are split again from their files, as evenly as
 * the byte limit allows, so that no shard is below the minimum.
 *
 * Files: each shard is written to a temporary file in the directory
 * (".PREFIX-NNNNN.jsonl.PID.tmp") as its records come, and keeps a small
 * table per record (offsets, row numbers). A final shard is made durable
 * before its line is published: fdatasync(), rename to PREFIX-NNNNN.jsonl,
 * fsync() of the directory (a crash leaves a .tmp file, never a half shard
 * under the final name); its writeback is started every 4 MiB on the way
 * (sync_file_range, Linux). no_sync skips all of that.
 *
 * Threads: the caller only fills buffers of records (a pool of 8 x 256
 * KiB bounds what is queued); a writer thread writes them and hashes them
 * (SHA-256), and a sync thread finishes each final shard (sidecar,
 * fdatasync, rename, directory fsync) and publishes its line, so that a
 * slow sync stalls neither. At most two shards are between final and
 * published: at most four record tables exist whatever the input size.
 * A failure in a thread is returned by the caller's next call.
 *
 * Sources: a shard line says where the original rows of the shard are:
 * a region of the input file (bb_shardout_set_source with its path), or
 * else a sidecar PREFIX-NNNNN.rows.jsonl.gz, a gzip copy (at
 * sidecar_level) of the rows the caller passes with each record and with
 * each rejected row (bb_shardout_skip), spooled to an unlinked file.
 *
 * Records are Bedrock JSON lines that begin with {"recordId":"ID", (ids
 * of at most BB_RECORDID_MAX bytes): after a rebalance the first and last
 * ids of the two shards are read back from their files.
 *
 * Lifecycle: bb_shardout_new(), then bb_shardout_add() and
 * bb_shardout_skip() per row, then bb_shardout_finish() (or
 * bb_shardout_abort()), then bb_shardout_free(). One caller thread; the
 * line callback runs in the sync thread (in the caller's in a dry run).
 */
#ifndef BB_SHARDOUT_H
#define BB_SHARDOUT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Publish one shard line (JSON object and '\n'); called in shard order. */
typedef void bb_shardout_line_fn(void *arg, const char *line, size_t len);
/* A note for a verbose log ("rebalancing the last two shards: ..."). */
typedef void bb_shardout_note_fn(void *arg, const char *text);

struct bb_shardout_opts {
	const char *dir;            /* absolute path of an existing directory */
	const char *prefix;         /* file names PREFIX-NNNNN.jsonl */
	long long records;          /* records per shard to aim for (>= 1) */
	long long min_records;      /* at most records / 2 */
	uint64_t max_bytes;         /* bytes per shard at most */
	int dry_run;                /* no files: lines of the plan only */
	int no_sync;                /* no fdatasync/fsync/writeback */
	int sidecar_level;          /* gzip level of sidecars, 0-9 */
	/* what the shard lines say */
	const char *model;
	const char *family;         /* bb_family_name() */
	const char *invocation_type; /* "converse", or NULL */
	const char *format;         /* input format of path sources */
	const char *id_field;       /* source.id_field, or NULL */
	bb_shardout_line_fn *line;
	bb_shardout_note_fn *note;  /* or NULL */
	void *arg;                  /* for line and note */
};

/* What the caller knows of a record's row. */
struct bb_shardout_rec {
	uint64_t row;               /* global row number, 1-based */
	uint64_t line;              /* line of the row in its input */
	uint64_t in_off, in_end;    /* its bytes in the input (path sources) */
	uint64_t tokens;            /* estimated input tokens of the record */
};

/* Totals of the published shards (bb_shardout_finish). */
struct bb_shardout_stats {
	uint64_t shards, bytes, tokens;
};

/* Statuses besides 0 and -1 (err says) that the caller words itself. */
enum {
	/* add: the current shard is full by bytes with fewer than
	 * min_records records (bb_shardout_current says which) */
	BB_SHARDOUT_TOO_LARGE = -2,
	/* finish: the last two shards cannot both get min_records records
	 * within max_bytes */
	BB_SHARDOUT_NO_SPLIT = -3,
	/* finish: fewer than min_records records in all (perhaps none):
	 * nothing published, temporary files removed */
	BB_SHARDOUT_TOO_FEW = -4,
};

struct bb_shardout;

/* The options' strings must outlive the engine. NULL on error (err). */
struct bb_shardout *bb_shardout_new(const struct bb_shardout_opts *o, struct bb_error *err);

/*
 * Where the rows are, for the shard lines: the absolute path of the one
 * input, re-readable at the offsets given with the records; NULL: rows
 * go to sidecars (unless a dry run). Set before the first record; the
 * string must outlive the engine.
 */
void bb_shardout_set_source(struct bb_shardout *so, const char *path);
/* 1 when the rows themselves are wanted (bb_shardout_add's row and
 * bb_shardout_skip): sidecars are written. */
int bb_shardout_sidecars(const struct bb_shardout *so);

/*
 * Add a record rec[0..n) (its line, '\n' included) with its recordId and
 * what r says of its row; row[0..rowlen) is the row as a JSON line without
 * its '\n' for the sidecar (ignored unless bb_shardout_sidecars). Closes
 * the current shard first when the record does not fit. 0, -1 (err), or
 * BB_SHARDOUT_TOO_LARGE (nothing added).
 */
int bb_shardout_add(struct bb_shardout *so, const char *rec, size_t n,
    const struct bb_shardout_rec *r, const char *id, size_t idlen, const char *row,
    size_t rowlen, struct bb_error *err);
/* A row that has no record (rejected): its sidecar copy goes with the
 * current shard (before the first record: nowhere). 0 or -1. */
int bb_shardout_skip(struct bb_shardout *so, const char *row, size_t rowlen,
    struct bb_error *err);
/* The index and record count of the current shard (0, 0: none). */
void bb_shardout_current(const struct bb_shardout *so, unsigned *index, size_t *nrec);
/* Shards closed so far (for progress). */
uint64_t bb_shardout_closed(const struct bb_shardout *so);

/*
 * End of input: split the tail again when it is below the minimum, close
 * and publish the last shards, stop the threads; *st gets the totals of
 * all shards published. 0, -1 (err), BB_SHARDOUT_NO_SPLIT or
 * BB_SHARDOUT_TOO_FEW.
 */
int bb_shardout_finish(struct bb_shardout *so, struct bb_shardout_stats *st,
    struct bb_error *err);
/*
 * Stop: shards already closed are finished and published (all but the
 * held one), the held and current shards are dropped with their files,
 * the threads stopped. 0, or -1 when a thread failed (err).
 */
int bb_shardout_abort(struct bb_shardout *so, struct bb_error *err);
/* Free the engine (after finish or abort; else as abort, errors lost). */
void bb_shardout_free(struct bb_shardout *so);

/*
 * For a process on its way out without bb_shardout_abort() (an atexit
 * hook, a signal handler, a thread that exits): remove the temporary
 * files of the engine now. Async-signal-safe (no lock, no allocation,
 * nothing freed; the files are found by name, from the shard indices
 * that may still have them). Final files are kept. From then on the
 * engine makes no temporary file (a creation fails; one that raced with
 * this call removes itself); abort and free still work. NULL: nothing.
 */
void bb_shardout_remove_temporaries(struct bb_shardout *so);

#endif
