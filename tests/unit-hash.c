/* unit-hash.c - hex, base64, SHA-256, HMAC, MD5, CRCs against known vectors;
 * the table hash against fixed vectors and for spread. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "tap.h"

static void
test_hex(void)
{
	unsigned char b[4];
	char out[9];

	bb_hex_encode("\x00\x7f\xab\xff", 4, out);
	is_str(out, "007fabff", "hex encode");
	ok(bb_hex_decode("007FabfF", 8, b, 4) == 0 && memcmp(b, "\x00\x7f\xab\xff", 4) == 0,
	    "hex decode, mixed case");
	ok(bb_hex_decode("007fabf", 7, b, 4) == -1, "hex decode: odd length refused");
	ok(bb_hex_decode("007fabfg", 8, b, 4) == -1, "hex decode: bad digit refused");
}

static void
test_base64(void)
{
	static const struct {
		const char *plain, *b64;
	} v[] = {
		/* RFC 4648 section 10 */
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const char *bad[] = { "Zg=", "Zg", "Z===", "Zh==", "Zm9=", "Zm 9v", "Zm9v=A==", "=Zg=" };
	unsigned char d[16];
	char out[32];
	size_t i, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		bb_base64_encode(v[i].plain, strlen(v[i].plain), out);
		is_str(out, v[i].b64, "base64 encode");
		ok(bb_base64_decode(v[i].b64, strlen(v[i].b64), d, &n) == 0 &&
		    n == strlen(v[i].plain) && memcmp(d, v[i].plain, n) == 0,
		    "base64 decode '%s'", v[i].b64);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(bb_base64_decode(bad[i], strlen(bad[i]), d, &n) == -1,
		    "base64 decode refuses '%s'", bad[i]);
	is_int((long long)bb_base64_size(4), 9, "base64 size of a CRC");
	ok(bb_base64_size(SIZE_MAX) == SIZE_MAX, "base64 size overflow detected");
}

static void
test_digests(void)
{
	unsigned char d[BB_SHA256_LEN], k[BB_SHA256_LEN];
	char hex[BB_SHA256_HEX];
	struct bb_sha256 s = { NULL };
	struct bb_md5 m = { NULL };
	char *big;
	size_t i;

	ok(bb_sha256_hex("", 0, hex) == 0, "sha256 empty");
	is_str(hex, BB_SHA256_EMPTY_HEX, "sha256(\"\")");
	bb_sha256_hex("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "sha256(abc)");
	/* streaming: the AWS chunked example's first chunk, 65536 x 'a' */
	big = malloc(65536);
	memset(big, 'a', 65536);
	ok(bb_sha256_init(&s) == 0, "sha256 init");
	for (i = 0; i < 65536; i += 1000)
		bb_sha256_update(&s, big + i, 65536 - i < 1000 ? 65536 - i : 1000);
	bb_sha256_final(&s, d);
	bb_hex_encode(d, sizeof(d), hex);
	is_str(hex, "bf718b6f653bebc184e1479f1935b8da974d701b893afcf49e701f3e2f9f9c5a",
	    "sha256 streaming in pieces");
	bb_sha256_update(&s, "abc", 3);
	bb_sha256_final(&s, d);
	bb_hex_encode(d, sizeof(d), hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "sha256 context reusable after final");
	bb_sha256_release(&s);
	bb_sha256_release(&s);
	free(big);

	/* RFC 4231 test case 2 */
	bb_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, k);
	bb_hex_encode(k, sizeof(k), hex);
	is_str(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	    "hmac-sha256 RFC 4231 #2");

	ok(bb_md5("hello world", 11, d) == 0, "md5 one shot");
	bb_hex_encode(d, BB_MD5_LEN, hex);
	is_str(hex, "5eb63bbbe01eeed093cb22bb8f5acdc3", "md5(hello world) = S3 ETag");
	bb_md5_init(&m);
	bb_md5_update(&m, "hello ", 6);
	bb_md5_update(&m, "world", 5);
	bb_md5_final(&m, d);
	bb_md5_release(&m);
	bb_hex_encode(d, BB_MD5_LEN, hex);
	is_str(hex, "5eb63bbbe01eeed093cb22bb8f5acdc3", "md5 streaming");
}

static void
test_crcs(void)
{
	static const struct {
		enum bb_checksum_alg alg;
		const char *in, *b64;
	} v[] = {
		{ BB_CKSUM_CRC32, "hello world", "DUoRhQ==" },
		{ BB_CKSUM_CRC32, "{\"recordId\":\"1\"}\n", "0B99ig==" },
		{ BB_CKSUM_CRC32, "xxxxxxxxxx", "jt9Hdw==" },
		{ BB_CKSUM_CRC32, "", "AAAAAA==" },
		/* check values: CRC-32C("123456789") = e3069283 */
		{ BB_CKSUM_CRC32C, "123456789", "4waSgw==" },
		/* CRC-64/NVME("123456789") = ae8b14860a799888 */
		{ BB_CKSUM_CRC64NVME, "123456789", "rosUhgp5mIg=" },
		{ BB_CKSUM_SHA256, "", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
		{ BB_CKSUM_SHA1, "abc", "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=" },
	};
	struct bb_checksum c;
	char out[BB_CHECKSUM_B64], small[9];
	char *big;
	size_t i, j, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ok(bb_checksum_init(&c, v[i].alg) == 0, "checksum init %s",
		    bb_checksum_header(v[i].alg));
		n = strlen(v[i].in);
		/* byte by byte, to exercise the running form */
		for (j = 0; j < n; j++)
			bb_checksum_update(&c, v[i].in + j, 1);
		bb_checksum_final_base64(&c, out);
		bb_checksum_release(&c);
		is_str(out, v[i].b64, v[i].in);
	}
	bb_crc32_base64(bb_crc32(0, "hello world", 11), small);
	is_str(small, "DUoRhQ==", "bb_crc32_base64");

	/* CRC32C slicing path vs byte path on 66560 x 'a' (doc vector sOO8/Q==) */
	big = malloc(66560);
	memset(big, 'a', 66560);
	bb_crc32_base64(bb_crc32c(0, big, 66560), small);
	is_str(small, "sOO8/Q==", "crc32c of the chunked example object");
	{
		uint32_t a = 0;
		for (i = 0; i < 66560; i += 7)
			a = bb_crc32c(a, big + i, 66560 - i < 7 ? 66560 - i : 7);
		ok(a == bb_crc32c(0, big, 66560), "crc32c in odd pieces = one shot");
	}
	free(big);
	/* the CPU's CRC32C (where there is one) and the tables agree at every
	 * alignment and length, pieces included */
	{
		unsigned char buf[4096 + 8];
		uint32_t x = 2463534242u, a, b;
		size_t off, len, bad = 0, cases = 0;

		for (i = 0; i < sizeof(buf); i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[i] = (unsigned char)x;
		}
		for (off = 0; off < 8; off++)
			for (len = 0; len + off <= sizeof(buf); len += len < 64 ? 1 : 61) {
				a = bb_crc32c(0, buf + off, len);
				b = bb_crc32c_portable(0, buf + off, len);
				bad += a != b;
				a = bb_crc32c(bb_crc32c(0, buf + off, len / 3), buf + off + len / 3,
				    len - len / 3);
				bad += a != b;
				cases++;
			}
		ok(bad == 0, "crc32c: the fast path and the tables agree (%zu cases, %zu differ)",
		    cases, bad);
		ok(bb_crc32c_portable(0, "123456789", 9) == 0xe3069283u,
		    "crc32c tables: the check value of 123456789");
	}

	is_int(bb_checksum_alg_parse("x-amz-checksum-CRC32C"), BB_CKSUM_CRC32C, "alg parse header");
	is_int(bb_checksum_alg_parse("sha256"), BB_CKSUM_SHA256, "alg parse name");
	is_int(bb_checksum_alg_parse("md5"), BB_CKSUM_NONE, "alg parse unknown");
}

static int
popcount64(uint64_t x)
{
	int n = 0;

	for (; x != 0; x &= x - 1)
		n++;
	return n;
}

static void
test_hash64(void)
{
	/*
	 * Worked out apart from this code: FNV-1a 64 (the published vectors
	 * "a" -> 0xaf63dc4c8601ec8c, "foobar" -> 0x85944171f73967e8), then
	 * murmur3's fmix64.
	 */
	static const struct {
		const char *in;
		size_t n;
		uint64_t want;
	} v[] = {
		{ "", 0, 0xefd01f60ba992926ULL },
		{ "a", 1, 0x82a2a958a9bece5bULL },
		{ "foobar", 6, 0x2c22194922d1672bULL },
		{ "a\0b", 3, 0xab78f5eca36d0e2bULL },
		{ "rec-000001", 10, 0xd91ee5dda576c55dULL },
		{ "\xff\xff\xff", 3, 0x3db8f5d791a77001ULL },
	};
	static const char base[] = "rec-000001";
	unsigned lo[1024], hi[1024];
	unsigned max_lo = 0, max_hi = 0, empty = 0;
	char id[32], flip[sizeof(base)];
	uint64_t h0, h;
	size_t i;
	int min_bits = 64;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		ok(bb_hash64(v[i].in, v[i].n) == v[i].want, "hash64 vector %zu (%zu bytes)",
		    i, v[i].n);
	ok(bb_hash64("a\0b", 3) != bb_hash64("a", 1), "hash64: bytes after a NUL count");

	/* one flipped input bit changes many output bits (the finaliser) */
	h0 = bb_hash64(base, sizeof(base) - 1);
	for (i = 0; i < 8 * (sizeof(base) - 1); i++) {
		memcpy(flip, base, sizeof(base));
		flip[i / 8] = (char)(flip[i / 8] ^ (1 << (i % 8)));
		h = bb_hash64(flip, sizeof(base) - 1);
		if (popcount64(h ^ h0) < min_bits)
			min_bits = popcount64(h ^ h0);
	}
	ok(min_bits >= 16, "hash64: a one-bit change flips at least 16 bits (least %d)",
	    min_bits);

	/* sequential ids spread over the low bits (table index) and the high
	 * bits (tags): 10000 ids into 1024 buckets, about 10 each */
	memset(lo, 0, sizeof(lo));
	memset(hi, 0, sizeof(hi));
	for (i = 0; i < 10000; i++) {
		snprintf(id, sizeof(id), "rec-%06zu", i);
		h = bb_hash64(id, strlen(id));
		lo[h & 1023]++;
		hi[h >> 54]++;
	}
	for (i = 0; i < 1024; i++) {
		if (lo[i] > max_lo)
			max_lo = lo[i];
		if (hi[i] > max_hi)
			max_hi = hi[i];
		empty += (lo[i] == 0) + (hi[i] == 0);
	}
	ok(empty == 0 && max_lo <= 40 && max_hi <= 40,
	    "hash64: sequential ids fill every bucket, none over 40 (low %u, high %u, "
	    "empty %u)", max_lo, max_hi, empty);
}

int
main(void)
{
	test_hex();
	test_base64();
	test_digests();
	test_crcs();
	test_hash64();
	return done_testing();
}
