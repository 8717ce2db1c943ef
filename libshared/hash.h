/*
 * hash.h - encodings, digests and checksums: hex and base64, SHA-256 (one
 * shot and streaming), HMAC-SHA256, SHA-1 and MD5 (streaming; S3 ETags and
 * Content-MD5), CRC32 (zlib), CRC32C (Castagnoli) and CRC64NVME, and the
 * S3 form of a checksum (base64 of the big-endian value), and a fast
 * 64-bit hash for in-memory tables.
 *
 * Digests use OpenSSL EVP (libcrypto); nothing here prints or exits.
 *
 * Streaming contexts (struct bb_sha256, struct bb_md5, struct bb_checksum)
 * own an OpenSSL context: bb_x_init() allocates it (-1 on ENOMEM),
 * bb_x_update() feeds bytes, bb_x_final() writes the digest and leaves the
 * context ready for a new message, bb_x_release() frees it (safe on a
 * zeroed or already released struct).
 */
#ifndef BB_HASH_H
#define BB_HASH_H

#include <stddef.h>
#include <stdint.h>

#define BB_SHA256_LEN 32
#define BB_SHA256_HEX 65          /* 64 hex digits and the NUL */
#define BB_SHA1_LEN 20
#define BB_MD5_LEN 16
#define BB_MD5_HEX 33

/* hex of sha256(""): the payload hash of an empty body. */
#define BB_SHA256_EMPTY_HEX \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- hex and base64 ---- */

/* Lower-case hex of p[0..n) into out (2n+1 bytes, NUL-terminated). */
void bb_hex_encode(const void *p, size_t n, char *out);
/* Decode exactly 2*outlen hex digits (either case) from s[0..n) into out;
 * -1 unless n == 2*outlen and every character is a hex digit. */
int bb_hex_decode(const char *s, size_t n, unsigned char *out, size_t outlen);
/* Bytes needed for the base64 of n bytes, NUL included (SIZE_MAX on
 * overflow). */
size_t bb_base64_size(size_t n);
/* Standard base64 with '=' padding; out holds bb_base64_size(n) bytes.
 * Returns the length written (without the NUL). */
size_t bb_base64_encode(const void *p, size_t n, char *out);
/* Strict decode of padded standard base64 (no whitespace, no missing
 * padding, no non-zero bits in the padding): out must hold 3*(n/4) bytes;
 * *outlen gets the decoded length. -1 on malformed input. */
int bb_base64_decode(const char *s, size_t n, unsigned char *out, size_t *outlen);

/* ---- SHA-256, HMAC-SHA256, SHA-1, MD5 ---- */

struct bb_sha256 {
	void *ctx;                     /* EVP_MD_CTX */
};
int bb_sha256_init(struct bb_sha256 *s);
int bb_sha256_update(struct bb_sha256 *s, const void *p, size_t n);
int bb_sha256_final(struct bb_sha256 *s, unsigned char out[BB_SHA256_LEN]);
void bb_sha256_release(struct bb_sha256 *s);
/* One shot; -1 only when OpenSSL fails (out of memory). */
int bb_sha256(const void *p, size_t n, unsigned char out[BB_SHA256_LEN]);
int bb_sha256_hex(const void *p, size_t n, char out[BB_SHA256_HEX]);

/* HMAC-SHA256(key, msg); -1 when OpenSSL fails. */
int bb_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
    unsigned char out[BB_SHA256_LEN]);

struct bb_md5 {
	void *ctx;
};
int bb_md5_init(struct bb_md5 *m);
int bb_md5_update(struct bb_md5 *m, const void *p, size_t n);
int bb_md5_final(struct bb_md5 *m, unsigned char out[BB_MD5_LEN]);
void bb_md5_release(struct bb_md5 *m);
int bb_md5(const void *p, size_t n, unsigned char out[BB_MD5_LEN]);

/* ---- CRCs ---- */

/* Running CRCs: start with crc = 0, feed pieces, the result is the CRC of
 * the concatenation. */
uint32_t bb_crc32(uint32_t crc, const void *p, size_t n);
uint32_t bb_crc32c(uint32_t crc, const void *p, size_t n);
/* The same with tables (slicing by 8): what bb_crc32c does where the CPU
 * has no CRC32C instruction (it uses SSE 4.2's on x86-64); for tests. */
uint32_t bb_crc32c_portable(uint32_t crc, const void *p, size_t n);
uint64_t bb_crc64nvme(uint64_t crc, const void *p, size_t n);

/* ---- S3 checksums (x-amz-checksum-*) ---- */

enum bb_checksum_alg {
	BB_CKSUM_NONE = 0,
	BB_CKSUM_CRC32,
	BB_CKSUM_CRC32C,
	BB_CKSUM_CRC64NVME,
	BB_CKSUM_SHA1,
	BB_CKSUM_SHA256,
};

/* Room for the base64 of any checksum (SHA-256: 44 characters). */
#define BB_CHECKSUM_B64 48

/* "crc32", "crc32c", "crc64nvme", "sha1", "sha256" (case-insensitive),
 * or the header names "x-amz-checksum-<alg>": the algorithm, or
 * BB_CKSUM_NONE when unknown. */
enum bb_checksum_alg bb_checksum_alg_parse(const char *name);
/* The header that carries it: "x-amz-checksum-crc32", ... ("" for NONE). */
const char *bb_checksum_header(enum bb_checksum_alg alg);

struct bb_checksum {
	enum bb_checksum_alg alg;
	uint64_t crc;
	void *ctx;                     /* EVP_MD_CTX for SHA-1/SHA-256 */
};
int bb_checksum_init(struct bb_checksum *c, enum bb_checksum_alg alg);
int bb_checksum_update(struct bb_checksum *c, const void *p, size_t n);
/* The S3 value: base64 of the big-endian CRC or of the digest, into out
 * (BB_CHECKSUM_B64 bytes). The context is finished (release it after). */
int bb_checksum_final_base64(struct bb_checksum *c, char out[BB_CHECKSUM_B64]);
void bb_checksum_release(struct bb_checksum *c);

/* Base64 of a 32-bit CRC in big-endian byte order, as S3 wants it
 * (CRC32("hello world") = 0x0d4a1185 -> "DUoRhQ=="); out: 9 bytes. */
void bb_crc32_base64(uint32_t crc, char out[9]);

/* ---- table hash ---- */

/*
 * 64-bit FNV-1a of p[0..n) passed through murmur3's fmix64 finaliser (FNV
 * alone leaves its high bits poorly mixed; tables index by the low bits
 * and compare tags from the high ones). For in-memory hash tables only:
 * not cryptographic, and not promised stable across versions, so never
 * store it. It may be 0: a table that marks empty slots with 0 maps that
 * to another value itself (`h ? h : 1`).
 */
uint64_t bb_hash64(const void *p, size_t n);

#endif
