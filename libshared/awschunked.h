/*
 * awschunked.h - S3 aws-chunked request bodies (BEDROCK.md 4.7): an
 * encoder for the client and an incremental decoder for bb-emu.
 *
 * Three forms, named by the x-amz-content-sha256 value of the request:
 *
 *   BB_AWSCHUNKED_SIGNED            STREAMING-AWS4-HMAC-SHA256-PAYLOAD
 *       hex(size);chunk-signature=<sig>\r\n<data>\r\n ...
 *       0;chunk-signature=<sig>\r\n\r\n
 *   BB_AWSCHUNKED_SIGNED_TRAILER    STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
 *       the same chunks, then after the final 0 chunk's line:
 *       x-amz-checksum-<alg>:<b64>\r\nx-amz-trailer-signature:<sig>\r\n\r\n
 *   BB_AWSCHUNKED_UNSIGNED_TRAILER  STREAMING-UNSIGNED-PAYLOAD-TRAILER
 *       hex(size)\r\n<data>\r\n ... 0\r\nx-amz-checksum-<alg>:<b64>\r\n\r\n
 *
 * Chunk signatures chain: each is HMAC(signing key, "AWS4-HMAC-SHA256-
 * PAYLOAD\n<date>\n<scope>\n<previous signature>\n<sha256("")>\n<sha256(
 * data)>"), starting from the seed (the request's own signature); the
 * trailer signature is HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>
 * \n<final chunk signature>\n<sha256(canonical trailer)>") where the
 * canonical trailer is "name:value\n" per trailing field, names lower-case
 * and sorted, x-amz-trailer-signature left out. The key, date, scope and
 * seed come from a struct bb_sigv4_stream (sigv4.h), which bb_sigv4_sign()
 * and bb_sigv4_verify() fill for STREAMING-AWS4-HMAC-SHA256-* requests.
 *
 * Nothing here prints; errors go into struct bb_error and, for the
 * decoder, an S3 error code (bb_awschunked_dec_code()).
 */
#ifndef BB_AWSCHUNKED_H
#define BB_AWSCHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "hash.h"
#include "sigv4.h"

enum bb_awschunked_mode {
	BB_AWSCHUNKED_SIGNED = 1,
	BB_AWSCHUNKED_SIGNED_TRAILER,
	BB_AWSCHUNKED_UNSIGNED_TRAILER,
};

/* The mode for an x-amz-content-sha256 value, or 0 when it is not one of
 * the three streaming forms. */
enum bb_awschunked_mode bb_awschunked_mode_parse(const char *content_sha256);

/* Smallest size of a non-final data chunk in the signed forms. */
#define BB_AWSCHUNKED_MIN_CHUNK 8192

/* ---- the signature stages (exposed for tests) ---- */

/* Signature of one chunk whose data hashes to data_sha256_hex; sts, when
 * not NULL, receives the string to sign. */
int bb_awschunked_chunk_signature(const struct bb_sigv4_stream *s, const char *prev_sig,
    const char *data_sha256_hex, char out[BB_SHA256_HEX], struct bb_buf *sts);
/* Append the canonical trailer of the fields (names lower-cased, sorted,
 * values trimmed; x-amz-trailer-signature skipped) to out. */
int bb_awschunked_canonical_trailer(struct bb_buf *out, const struct bb_sigv4_field *f,
    size_t n);
/* Signature of a canonical trailer, chained to prev_sig (the final chunk's
 * signature). */
int bb_awschunked_trailer_signature(const struct bb_sigv4_stream *s, const char *prev_sig,
    const char *canonical, size_t n, char out[BB_SHA256_HEX], struct bb_buf *sts);

/* ---- encoder ---- */

/*
 * Lifecycle: bb_awschunked_enc_init(), any number of _chunk() calls (each
 * one chunk, n > 0; in the signed forms every chunk but the last must hold
 * at least BB_AWSCHUNKED_MIN_CHUNK bytes), one _finish(), _release() (wipes
 * the key copy). The encoder keeps a copy of the stream context.
 */
struct bb_awschunked_enc {
	enum bb_awschunked_mode mode;
	struct bb_sigv4_stream stream;
	char prev[BB_SHA256_HEX];
	enum bb_checksum_alg alg;       /* trailer checksum; NONE: no trailer */
	struct bb_checksum ck;
	int finished;
};

/* s: required for the signed forms (NULL for UNSIGNED_TRAILER); alg: the
 * trailer checksum (required for the _TRAILER forms, ignored otherwise). */
int bb_awschunked_enc_init(struct bb_awschunked_enc *e, enum bb_awschunked_mode mode,
    const struct bb_sigv4_stream *s, enum bb_checksum_alg alg, struct bb_error *err);
/* Append one framed chunk (header, data, CRLF) to out. */
int bb_awschunked_enc_chunk(struct bb_awschunked_enc *e, const void *p, size_t n,
    struct bb_buf *out, struct bb_error *err);
/* Append the final 0 chunk and the trailer (if any) to out. */
int bb_awschunked_enc_finish(struct bb_awschunked_enc *e, struct bb_buf *out,
    struct bb_error *err);
void bb_awschunked_enc_release(struct bb_awschunked_enc *e);

/*
 * The encoded length (the Content-Length to send) of decoded_len bytes cut
 * into chunk_size pieces (the last one shorter), with the trailer of alg
 * for the _TRAILER forms. -1 on overflow or chunk_size 0.
 * AWS example: 66560 bytes, 64 KiB chunks, SIGNED -> 66824.
 */
int bb_awschunked_encoded_length(enum bb_awschunked_mode mode, uint64_t decoded_len,
    size_t chunk_size, enum bb_checksum_alg alg, uint64_t *out);

/* ---- decoder ---- */

enum bb_awschunked_status {
	BB_AWSCHUNKED_OK = 0,
	BB_AWSCHUNKED_INCOMPLETE,       /* IncompleteBody: body ended early,
					 * or length differs from the decoded
					 * length announced */
	BB_AWSCHUNKED_BAD_SIGNATURE,    /* SignatureDoesNotMatch: a chunk or
					 * the trailer signature */
	BB_AWSCHUNKED_BAD_DIGEST,       /* BadDigest: trailer checksum */
	BB_AWSCHUNKED_CHUNK_TOO_SMALL,  /* InvalidChunkSizeError */
	BB_AWSCHUNKED_MALFORMED,        /* InvalidRequest: bad framing, missing
					 * or unexpected trailer */
	BB_AWSCHUNKED_SINK,             /* the sink callback failed */
};

/* Where decoded bytes go; non-zero aborts decoding (BB_AWSCHUNKED_SINK). */
typedef int (*bb_awschunked_sink_fn)(const void *p, size_t n, void *ctx);

#define BB_AWSCHUNKED_LINE_MAX 512
#define BB_AWSCHUNKED_MAX_TRAILERS 8

/*
 * Incremental decoder: feed the body (already freed of HTTP chunked
 * framing) in pieces of any size; decoded bytes are handed to the sink as
 * they arrive, so memory stays bounded (one header line, never a chunk's
 * data): a chunk's data is hashed as it passes and its signature checked
 * when its last byte has arrived. Data is therefore emitted BEFORE its
 * chunk is verified: on any error the caller must discard everything the
 * sink received. The trailer checksum is computed over all decoded bytes
 * and compared at the end.
 *
 * Lifecycle: _init, _feed..., _finish (at the end of the body),
 * _release. After an error every call returns -1 again.
 */
struct bb_awschunked_dec {
	enum bb_awschunked_mode mode;
	struct bb_sigv4_stream stream;
	char prev[BB_SHA256_HEX];
	enum bb_checksum_alg alg;       /* from the x-amz-trailer header */
	struct bb_checksum ck;
	struct bb_sha256 sha;
	uint64_t expect_len;            /* x-amz-decoded-content-length or
					 * UINT64_MAX */
	uint64_t total;                 /* decoded bytes so far */
	uint64_t remaining;             /* of the current chunk's data */
	uint64_t chunk_size;
	uint64_t prev_size;             /* size of the previous data chunk */
	int state;
	int nchunks;
	char chunk_sig[BB_SHA256_HEX];
	char line[BB_AWSCHUNKED_LINE_MAX];
	size_t linelen;
	struct bb_sigv4_field trailers[BB_AWSCHUNKED_MAX_TRAILERS];
	size_t ntrailers;
	enum bb_awschunked_status status;
};

/*
 * s: the verified request's stream context (signed forms; NULL for
 * UNSIGNED_TRAILER). trailer: the x-amz-trailer header value (e.g.
 * "x-amz-checksum-crc32"), or NULL when none was announced; the _TRAILER
 * forms then accept an empty trailer. decoded_len: the
 * x-amz-decoded-content-length value, or UINT64_MAX when unknown.
 */
int bb_awschunked_dec_init(struct bb_awschunked_dec *d, enum bb_awschunked_mode mode,
    const struct bb_sigv4_stream *s, const char *trailer, uint64_t decoded_len,
    struct bb_error *err);
/* Feed p[0..n). 0, or -1 with d->status and err set. */
int bb_awschunked_dec_feed(struct bb_awschunked_dec *d, const void *p, size_t n,
    bb_awschunked_sink_fn sink, void *ctx, struct bb_error *err);
/* End of body: 0 when the final chunk and trailer were complete and
 * verified, else -1 (BB_AWSCHUNKED_INCOMPLETE). */
int bb_awschunked_dec_finish(struct bb_awschunked_dec *d, struct bb_error *err);
void bb_awschunked_dec_release(struct bb_awschunked_dec *d);
/* The S3 error code of a status ("IncompleteBody", ...). */
const char *bb_awschunked_status_code(enum bb_awschunked_status s);

#endif
