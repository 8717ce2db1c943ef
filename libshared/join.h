/*
 * join.h - the outputs of one Bedrock batch job, indexed by recordId, for
 * joining them back to the input rows (bb-join).
 *
 * Output lines (spec/BEDROCK.md 3.3) are parsed once as they arrive:
 *   {"recordId":"..","modelInput":{..},"modelOutput":{..}}
 *   {"recordId":"..","modelInput":{..},"error":{"errorCode":400,"errorMessage":".."}}
 * Only what a result row needs is kept, as ready-to-paste JSON text: the
 * output text as one JSON string literal (the text blocks of the family
 * concatenated, spec 3.7) or the embedding as a JSON array, the stop
 * reason, the token counts, the error code and message, and, on request,
 * the whole modelOutput. The echoed modelInput is skipped, so memory is
 * about the size of the outputs themselves, not of the output files.
 *
 * Extraction works on the raw bytes of the line (no tree per line), in
 * one walk of the line that reads the modelOutput as it passes (only the
 * few members a family reads, such as the content blocks and the usage,
 * are walked a second time). JSON string literals
 * are copied as they are (escapes kept), so text needs no decoding and
 * re-encoding. The result is the same as bb_family_extract() on the
 * parsed modelOutput (the unit test checks both on the same lines).
 *
 * What is checked (a corrupt line must be refused, never mis-joined): the
 * line's whole structure - one object of "key": value members, strings
 * terminated, brackets balanced and matching, literals spelt right, no
 * bytes after the end, nesting at most 256 - and, in full (RFC 8259,
 * UTF-8), every value that goes into a result row: the recordId, the
 * text literals and the stop reason, the embedding, the error object and,
 * with BB_JOIN_KEEP_RAW, the whole modelOutput; a copied value that is
 * not valid refuses the whole line (its column in the message). What is
 * not copied (the echoed modelInput, the other members of modelOutput) is
 * walked for structure only: a changed byte inside one of its strings or
 * numbers is not noticed unless it breaks the structure, and cannot
 * change a result. A truncated or spliced line always breaks the
 * structure and is refused. Validating the echoed modelInput too would
 * cost a quarter more instructions (measured on the benchmark's outputs)
 * for no change in any result.
 *
 * Memory: each entry is one record in the index's arena - a fixed header
 * (struct bb_join_entry) followed by the bytes its references point to -
 * so a lookup touches the table slot and one contiguous record.
 *
 * Lifecycle: bb_join_index_init() / bb_join_index_reset() (forget the
 * entries, keep the memory for the next job) / bb_join_index_release().
 * Pointers returned by bb_join_index_find() and bb_join_index_entry() are
 * valid until the next add, reset or release.
 */
#ifndef BB_JOIN_H
#define BB_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "family.h"

/* Bytes [off, off+len) from the start of their entry (bb_join_ref_ptr).
 * len 0: absent. */
struct bb_join_ref {
	uint32_t off;
	uint32_t len;
};

enum bb_join_status {
	BB_JOIN_OK = 0,       /* modelOutput present and readable */
	BB_JOIN_ERROR,        /* an error line (code and message set) */
	BB_JOIN_BAD_OUTPUT,   /* modelOutput of the wrong shape for the family */
};

struct bb_join_entry {
	uint64_t hash;
	long long input_tokens;       /* -1 when unknown */
	long long output_tokens;
	struct bb_join_ref id;        /* the recordId, decoded (raw bytes) */
	struct bb_join_ref output;    /* JSON: a string literal or an array */
	struct bb_join_ref stop;      /* JSON string literal, or absent */
	struct bb_join_ref code;      /* JSON: number or string literal */
	struct bb_join_ref message;   /* JSON string literal */
	struct bb_join_ref raw;       /* JSON: the whole modelOutput (BB_JOIN_KEEP_RAW) */
	uint32_t seq;                 /* its place in the order first seen */
	uint32_t dups;                /* further lines with this recordId */
	unsigned char status;         /* enum bb_join_status */
	unsigned char used;           /* set by the caller when joined */
};

enum bb_join_flags {
	BB_JOIN_KEEP_RAW = 1 << 0,    /* keep the whole modelOutput */
};

struct bb_join_index {
	enum bb_family family;
	unsigned flags;
	struct bb_buf arena;          /* the entries, each 8-byte aligned */
	size_t *order;                /* arena offsets of the entries, first seen first */
	size_t n, cap;
	uint64_t *table;              /* open addressing: the top 24 bits of the hash,
	                                 then arena offset / 8 + 1; 0 = free */
	size_t tcap;                  /* power of two */
	uint64_t lines;               /* output lines added (valid or not) */
	uint64_t duplicates;          /* lines whose recordId was already there */
	struct bb_buf id, out, stop;  /* scratch */
};

void bb_join_index_init(struct bb_join_index *x, enum bb_family family, unsigned flags);
/* Forget every entry (the family and flags stay); memory is kept. */
void bb_join_index_reset(struct bb_join_index *x);
void bb_join_index_release(struct bb_join_index *x);

/*
 * Parse one output line and index it. Returns 0 when added, 1 when its
 * recordId was already indexed (the existing entry's dups is incremented;
 * a successful line replaces an earlier error line of the same record),
 * -1 when the line is not a valid output line (err says why, kind
 * BB_ERR_INPUT: invalid JSON, no recordId, neither modelOutput nor error)
 * or memory ran out (BB_ERR_SYSTEM).
 */
int bb_join_index_add(struct bb_join_index *x, const char *line, size_t len,
    struct bb_error *err);
/* The entry of a recordId, or NULL. */
struct bb_join_entry *bb_join_index_find(struct bb_join_index *x, const char *id, size_t len);
/*
 * A hint, for a caller about to look up ids in a known order (it changes
 * nothing): entry 0 fetches the table slot of id into the cache (call it
 * a few lookups ahead: bb-join uses 4), entry 1 the entry that slot
 * points to and its id (fewer lookups ahead, when the slot is likely
 * there already: bb-join uses 2).
 */
void bb_join_index_prefetch(const struct bb_join_index *x, const char *id, size_t len,
    int entry);
/* Entry i (0 <= i < x->n), in the order first seen. */
struct bb_join_entry *bb_join_index_entry(struct bb_join_index *x, size_t i);
/* The bytes of one of the entry's references (not NUL-terminated). */
static inline const char *
bb_join_ref_ptr(const struct bb_join_entry *e, struct bb_join_ref r)
{
	return (const char *)e + r.off;
}

/*
 * What a result row takes out of one modelOutput, by family (spec 3.7),
 * without a tree: `output` is appended as JSON (a string literal for text
 * families, an array for embeddings), `stop` as a JSON string literal (or
 * nothing), tokens -1 when unknown. mo is the modelOutput's JSON text;
 * what is copied is validated, the rest only walked (see above). 0, or -1
 * (kind BB_ERR_INPUT) when it does not have the family's shape or what
 * would be copied is not valid JSON; ENOMEM is BB_ERR_SYSTEM.
 */
int bb_join_extract(enum bb_family f, const char *mo, size_t len, struct bb_buf *output,
    struct bb_buf *stop, long long *input_tokens, long long *output_tokens,
    struct bb_error *err);

/* manifest.json.out (spec 3.4); -1 in a field that is absent. */
struct bb_join_manifest {
	long long total, processed, success, error, input_tokens, output_tokens;
};
int bb_join_manifest_parse(const char *text, size_t len, struct bb_join_manifest *m,
    struct bb_error *err);

/*
 * 1 when a record error is worth retrying: throttling (429), timeouts
 * (408), server errors (5xx) and errors that are not Bedrock's (a missing
 * output line, a job that failed, stopped or expired: code given as a JSON
 * string); 0 for the other 4xx (validation: the same input fails again).
 * code is the JSON text of the code (number or string literal).
 */
int bb_join_error_retryable(const char *code, size_t len);

#endif
