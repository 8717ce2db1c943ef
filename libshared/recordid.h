/*
 * recordid.h - the recordId of a Bedrock batch record, as bb-shard gives
 * it and bb-join finds it again (man/bb-shard.1, "Record ids"). The one
 * place for the rule:
 *
 *   generated   "r" and the 1-based global row number, zero-padded to at
 *               least ten digits (r0000000001): sorting the ids restores
 *               input order.
 *   from a value (an --id-field, an OpenAI custom_id, a Bedrock recordId)
 *               kept when it is 1..64 ASCII letters and digits and not of
 *               the encoded form; else "x" and the lower-case hex of its
 *               bytes (a-b -> x612d62). The encoded form is "x" followed by
 *               one or more pairs of lower-case hex digits. With
 *               BB_RECORDID_KEEP_ALNUM (rows that already are Bedrock
 *               records) any alphanumeric value up to BB_RECORDID_MAX
 *               bytes is kept as it is, so re-packing changes nothing.
 *   decoding    an id of the encoded form is hex-decoded, any other is
 *               the value itself.
 *
 * A set of ids seen (struct bb_recordid_set) tells duplicates apart by a
 * 64-bit fingerprint of each id. Lifecycle: bb_recordid_set_init() /
 * bb_recordid_set_release(). Nothing here prints or exits.
 */
#ifndef BB_RECORDID_H
#define BB_RECORDID_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "json.h"

#define BB_RECORDID_VALUE_MAX 64     /* bytes of an id value */
#define BB_RECORDID_MAX (2 * BB_RECORDID_VALUE_MAX + 1)   /* longest recordId */
#define BB_RECORDID_GEN_MAX 24       /* room for a generated id and a NUL */

enum bb_recordid_flags {
	BB_RECORDID_KEEP_ALNUM = 1 << 0,   /* the value comes from a Bedrock record */
};

/* The generated id of row into out (NUL-terminated); returns its length. */
size_t bb_recordid_generate(char out[BB_RECORDID_GEN_MAX], uint64_t row);

/*
 * Append the recordId for the id value s[0..n) to out. -1 (kind
 * BB_ERR_INPUT) when the value cannot be an id: empty, or longer than
 * BB_RECORDID_VALUE_MAX bytes and not kept by BB_RECORDID_KEEP_ALNUM
 * (kind BB_ERR_SYSTEM when out cannot grow); out is then unchanged.
 */
int bb_recordid_make(const char *s, size_t n, unsigned flags, struct bb_buf *out,
    struct bb_error *err);

/*
 * The same for a JSON value found by bb_json_fields(): a string (its
 * decoded text) or a number (its text). `what` names the value in the
 * messages ("missing WHAT", "bad WHAT", "WHAT is not a string or a
 * number"). On error out is unchanged.
 */
int bb_recordid_from_json(const struct bb_json_span *sp, unsigned flags, const char *what,
    struct bb_buf *out, struct bb_error *err);

/* Append the value a recordId stands for (see above) to out. -1 only
 * when out cannot grow. */
int bb_recordid_decode(const char *id, size_t n, struct bb_buf *out);

struct bb_recordid_set {
	uint64_t *slots;     /* open addressing; 0 is an empty slot */
	size_t cap, n;
};

void bb_recordid_set_init(struct bb_recordid_set *set);
void bb_recordid_set_release(struct bb_recordid_set *set);
/* Add an id: 1 when it is new, 0 when it was seen before, -1 when the
 * set cannot grow (nothing added). Two ids are the same when their 64-bit
 * fingerprints are. */
int bb_recordid_set_add(struct bb_recordid_set *set, const char *id, size_t n);

#endif
