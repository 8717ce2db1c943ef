/*
 * fuzz-awschunked.c - the aws-chunked body decoder bb-emu runs on S3
 * uploads (awschunked.h), fed in pieces.
 *
 * Input: byte 0: bits 0-1 the mode (signed, signed with trailer,
 * unsigned with trailer), bit 2 round trip (below) or raw, bits 3-5 the
 * announced trailer (none, crc32, crc32c, crc64nvme, sha1, sha256, a bad
 * name), bit 6 announce the decoded length; byte 1 the size of the
 * pieces fed (1..256, 0: random from byte 2 on); byte 2 a seed.
 *
 * Raw: the rest of the input is the body. Round trip: the rest is the
 * payload, repeated (byte 2 & 3) + 1 times, encoded with the encoder in
 * chunks of 8 KiB + byte 2 bytes, then one byte (the position from byte
 * 2's high bits and the payload length) is flipped when bit 7 is set,
 * and decoded: an intact body must decode to the payload exactly.
 *
 * Invariants: the decoder never hands out more than the announced
 * length, its status agrees with its return values, and errors stay.
 */
#include "config.h"

#include "awschunked.h"
#include "fuzz.h"
#include "hash.h"
#include "sigv4.h"

static const char *const trailers[8] = {
	NULL, "x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme",
	"x-amz-checksum-sha1", "x-amz-checksum-sha256", "x-amz-checksum-md5", NULL,
};

static void
make_stream(struct bb_sigv4_stream *s)
{
	memset(s, 0, sizeof(*s));
	FUZZ_CHECK(bb_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	    "20130524", "us-east-1", "s3", s->key) == 0);
	memcpy(s->amz_date, "20130524T000000Z", 17);
	snprintf(s->scope, sizeof(s->scope), "20130524/us-east-1/s3/aws4_request");
	snprintf(s->seed, sizeof(s->seed), "%s",
	    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
	s->valid = 1;
}

static int
sink(const void *p, size_t n, void *ctx)
{
	struct bb_buf *out = ctx;

	return bb_buf_add(out, p, n);
}

/* Decode body in pieces; 0 when it was accepted. */
static int
decode(enum bb_awschunked_mode mode, const struct bb_sigv4_stream *st, const char *trailer,
    uint64_t dlen, const char *body, size_t n, unsigned piece, unsigned seed,
    struct bb_buf *out)
{
	struct bb_awschunked_dec d;
	struct bb_error err = BB_ERROR_INIT;
	size_t off = 0, k;
	int rc = -1, failed = 0;

	if (bb_awschunked_dec_init(&d, mode, st, trailer, dlen, &err) < 0) {
		FUZZ_CHECK(err.msg[0] != '\0');
		return -1;
	}
	while (off < n) {
		k = piece ? piece : (seed = seed * 1103515245u + 12345u) % 300 + 1;
		if (k > n - off)
			k = n - off;
		if (bb_awschunked_dec_feed(&d, body + off, k, sink, out, &err) < 0) {
			FUZZ_CHECK(d.status != BB_AWSCHUNKED_OK);
			FUZZ_CHECK(bb_awschunked_status_code(d.status) != NULL);
			failed = 1;
			break;
		}
		FUZZ_CHECK(d.status == BB_AWSCHUNKED_OK);
		off += k;
	}
	if (dlen != UINT64_MAX)
		FUZZ_CHECK(out->len <= dlen);
	if (failed) {
		/* errors stay */
		FUZZ_CHECK(bb_awschunked_dec_feed(&d, "0\r\n", 3, sink, out, &err) < 0);
		FUZZ_CHECK(bb_awschunked_dec_finish(&d, &err) < 0);
	} else if (bb_awschunked_dec_finish(&d, &err) == 0) {
		FUZZ_CHECK(d.status == BB_AWSCHUNKED_OK);
		if (dlen != UINT64_MAX)
			FUZZ_CHECK(out->len == dlen);
		rc = 0;
	} else {
		FUZZ_CHECK(d.status != BB_AWSCHUNKED_OK);
	}
	bb_awschunked_dec_release(&d);
	return rc;
}

static void
round_trip(enum bb_awschunked_mode mode, const struct bb_sigv4_stream *st, unsigned b0,
    unsigned b1, unsigned b2, const char *p, size_t n)
{
	struct bb_awschunked_enc e;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf payload = BB_BUF_INIT, body = BB_BUF_INIT, out = BB_BUF_INIT;
	enum bb_checksum_alg alg = BB_CKSUM_NONE;
	const char *trailer = trailers[(b0 >> 3) & 7];
	size_t cs = BB_AWSCHUNKED_MIN_CHUNK + b2, off, i;
	uint64_t dlen;
	int flip = (b0 & 0x80) != 0, rc;

	for (i = 0; i <= (b2 & 3); i++)
		bb_buf_add(&payload, p, n);
	if (mode != BB_AWSCHUNKED_SIGNED) {
		/* the encoder needs a checksum for the trailer forms */
		if (trailer == NULL || bb_checksum_alg_parse(trailer) == BB_CKSUM_NONE)
			trailer = "x-amz-checksum-crc32";
		alg = bb_checksum_alg_parse(trailer);
	} else {
		trailer = NULL;
	}
	if (bb_awschunked_enc_init(&e, mode, mode == BB_AWSCHUNKED_UNSIGNED_TRAILER ? NULL : st,
	    alg, &err) < 0)
		goto out;
	for (off = 0; off < payload.len; off += cs)
		FUZZ_CHECK(bb_awschunked_enc_chunk(&e, payload.data + off,
		    payload.len - off < cs ? payload.len - off : cs, &body, &err) == 0);
	FUZZ_CHECK(bb_awschunked_enc_finish(&e, &body, &err) == 0);
	bb_awschunked_enc_release(&e);
	FUZZ_CHECK(bb_awschunked_encoded_length(mode, payload.len, cs, alg, &dlen) == 0);
	FUZZ_CHECK(dlen == body.len);
	if (flip && body.len > 0)
		body.data[((b2 >> 2) * 131 + n) % body.len] ^= 1 << (b1 & 7);
	dlen = (b0 & 0x40) ? payload.len : UINT64_MAX;
	rc = decode(mode, mode == BB_AWSCHUNKED_UNSIGNED_TRAILER ? NULL : st, trailer, dlen,
	    body.data, body.len, b1, b2, &out);
	if (!flip) {
		if (rc != 0)
			fprintf(stderr, "intact body refused (mode %d, trailer %s, %zu bytes)\n",
			    mode, trailer ? trailer : "none", payload.len);
		FUZZ_CHECK(rc == 0);
	}
	if (rc == 0 && !flip)
		FUZZ_CHECK(out.len == payload.len &&
		    (out.len == 0 || memcmp(out.data, payload.data, out.len) == 0));
out:
	bb_buf_release(&payload);
	bb_buf_release(&body);
	bb_buf_release(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned b0 = fuzz_byte(data, size, 0), b1 = fuzz_byte(data, size, 1);
	unsigned b2 = fuzz_byte(data, size, 2);
	enum bb_awschunked_mode mode = (enum bb_awschunked_mode)((b0 & 3) % 3 + 1);
	const char *p = (const char *)data + (size < 3 ? size : 3);
	size_t n = size - (size < 3 ? size : 3);
	struct bb_sigv4_stream st;
	struct bb_buf out = BB_BUF_INIT;
	uint64_t dlen = UINT64_MAX;

	make_stream(&st);
	if (b0 & 4) {
		round_trip(mode, &st, b0, b1, b2, p, n);
	} else {
		if ((b0 & 0x40) && n >= 2)
			dlen = (uint64_t)(unsigned char)p[0] << 8 | (unsigned char)p[1];
		(void)decode(mode, mode == BB_AWSCHUNKED_UNSIGNED_TRAILER ? NULL : &st,
		    trailers[(b0 >> 3) & 7], dlen, p, n, b1, b2, &out);
	}
	bb_buf_release(&out);
	bb_sigv4_stream_wipe(&st);
	return 0;
}
