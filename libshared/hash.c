/* hash.c - encodings, digests and checksums; see hash.h. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "hash.h"

/* ---- hex and base64 ---- */

static const char hexdig[] = "0123456789abcdef";
static const char b64dig[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
bb_hex_encode(const void *p, size_t n, char *out)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexdig[s[i] >> 4];
		out[2 * i + 1] = hexdig[s[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
bb_hex_decode(const char *s, size_t n, unsigned char *out, size_t outlen)
{
	size_t i;
	int hi, lo;

	if (outlen > SIZE_MAX / 2 || n != 2 * outlen)
		return -1;
	for (i = 0; i < outlen; i++) {
		hi = hexval((unsigned char)s[2 * i]);
		lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

size_t
bb_base64_size(size_t n)
{
	size_t groups = n / 3 + (n % 3 != 0);

	if (groups > (SIZE_MAX - 1) / 4)
		return SIZE_MAX;
	return groups * 4 + 1;
}

size_t
bb_base64_encode(const void *p, size_t n, char *out)
{
	const unsigned char *s = p;
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		out[o++] = b64dig[v >> 18 & 63];
		out[o++] = b64dig[v >> 12 & 63];
		out[o++] = b64dig[v >> 6 & 63];
		out[o++] = b64dig[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)s[i] << 16;
		out[o++] = b64dig[v >> 18 & 63];
		out[o++] = b64dig[v >> 12 & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		out[o++] = b64dig[v >> 18 & 63];
		out[o++] = b64dig[v >> 12 & 63];
		out[o++] = b64dig[v >> 6 & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
bb_base64_decode(const char *s, size_t n, unsigned char *out, size_t *outlen)
{
	size_t i, o = 0, pad = 0;
	uint32_t v;
	int k, d;

	if (n % 4 != 0)
		return -1;
	if (n > 0 && s[n - 1] == '=')
		pad = (n > 1 && s[n - 2] == '=') ? 2 : 1;
	for (i = 0; i < n; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			if (i + 4 == n && k >= 4 - (int)pad) {
				v <<= 6;
				continue;
			}
			d = b64val((unsigned char)s[i + k]);
			if (d < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		out[o++] = (unsigned char)(v >> 16);
		if (i + 4 < n || pad < 2)
			out[o++] = (unsigned char)(v >> 8);
		if (i + 4 < n || pad < 1)
			out[o++] = (unsigned char)v;
		/* the bits under the padding must be zero (canonical form) */
		if (i + 4 == n && ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff))))
			return -1;
	}
	*outlen = o;
	return 0;
}

/* ---- EVP digests ---- */

static int
md_init(void **ctxp, const EVP_MD *md)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	*ctxp = NULL;
	if (ctx == NULL)
		return -1;
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	*ctxp = ctx;
	return 0;
}

static int
md_update(void *ctx, const void *p, size_t n)
{
	if (ctx == NULL)
		return -1;
	if (n == 0)
		return 0;
	return EVP_DigestUpdate(ctx, p, n) == 1 ? 0 : -1;
}

/* Finish and re-arm the context for a new message. */
static int
md_final(void *ctx, unsigned char *out)
{
	unsigned int len;

	if (ctx == NULL)
		return -1;
	if (EVP_DigestFinal_ex(ctx, out, &len) != 1)
		return -1;
	return EVP_DigestInit_ex(ctx, NULL, NULL) == 1 ? 0 : -1;
}

static int
md_oneshot(const EVP_MD *md, const void *p, size_t n, unsigned char *out)
{
	unsigned int len;

	return EVP_Digest(p, n, out, &len, md, NULL) == 1 ? 0 : -1;
}

int
bb_sha256_init(struct bb_sha256 *s)
{
	return md_init(&s->ctx, EVP_sha256());
}

int
bb_sha256_update(struct bb_sha256 *s, const void *p, size_t n)
{
	return md_update(s->ctx, p, n);
}

int
bb_sha256_final(struct bb_sha256 *s, unsigned char out[BB_SHA256_LEN])
{
	return md_final(s->ctx, out);
}

void
bb_sha256_release(struct bb_sha256 *s)
{
	EVP_MD_CTX_free(s->ctx);
	s->ctx = NULL;
}

int
bb_sha256(const void *p, size_t n, unsigned char out[BB_SHA256_LEN])
{
	return md_oneshot(EVP_sha256(), p, n, out);
}

int
bb_sha256_hex(const void *p, size_t n, char out[BB_SHA256_HEX])
{
	unsigned char d[BB_SHA256_LEN];

	if (bb_sha256(p, n, d)) {
		out[0] = '\0';
		return -1;
	}
	bb_hex_encode(d, sizeof(d), out);
	return 0;
}

int
bb_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
    unsigned char out[BB_SHA256_LEN])
{
	unsigned int len = 0;

	if (keylen > INT32_MAX)
		return -1;
	if (HMAC(EVP_sha256(), key, (int)keylen, msg, n, out, &len) == NULL)
		return -1;
	return len == BB_SHA256_LEN ? 0 : -1;
}

int
bb_md5_init(struct bb_md5 *m)
{
	return md_init(&m->ctx, EVP_md5());
}

int
bb_md5_update(struct bb_md5 *m, const void *p, size_t n)
{
	return md_update(m->ctx, p, n);
}

int
bb_md5_final(struct bb_md5 *m, unsigned char out[BB_MD5_LEN])
{
	return md_final(m->ctx, out);
}

void
bb_md5_release(struct bb_md5 *m)
{
	EVP_MD_CTX_free(m->ctx);
	m->ctx = NULL;
}

int
bb_md5(const void *p, size_t n, unsigned char out[BB_MD5_LEN])
{
	return md_oneshot(EVP_md5(), p, n, out);
}

/* ---- CRCs ---- */

uint32_t
bb_crc32(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *s = p;
	uLong c = crc;

	/* zlib takes uInt lengths: feed huge buffers in slices */
	while (n > 0) {
		uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
		c = crc32(c, s, k);
		s += k;
		n -= k;
	}
	return (uint32_t)c;
}

/* CRC32C slicing-by-8 and CRC64NVME byte-wise tables, built once. */
static uint32_t crc32c_tab[8][256];
static uint64_t crc64_tab[256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void
tables_build(void)
{
	uint32_t c;
	uint64_t d;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc32c_tab[0][i] = c;
		d = (uint64_t)i;
		for (k = 0; k < 8; k++)
			d = (d & 1) ? (d >> 1) ^ 0x9a6c9329ac4bc9b5ull : d >> 1;
		crc64_tab[i] = d;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			crc32c_tab[k][i] = (crc32c_tab[k - 1][i] >> 8) ^
			    crc32c_tab[0][crc32c_tab[k - 1][i] & 0xff];
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* SSE 4.2's crc32 instruction computes CRC32C (the same reflected
 * polynomial, without the inversions): 8 bytes a cycle or so. */
#define HAVE_CRC32C_X86 1
static int crc32c_x86;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void
cpu_probe(void)
{
	__builtin_cpu_init();
	crc32c_x86 = __builtin_cpu_supports("sse4.2") != 0;
}

__attribute__((target("sse4.2")))
static uint32_t
crc32c_sse42(uint32_t c, const unsigned char *s, size_t n)
{
	uint64_t c64, v;

	for (; n > 0 && ((uintptr_t)s & 7) != 0; n--)
		c = __builtin_ia32_crc32qi(c, *s++);
	c64 = c;
	for (; n >= 8; n -= 8, s += 8) {
		memcpy(&v, s, 8);
		c64 = __builtin_ia32_crc32di(c64, v);
	}
	c = (uint32_t)c64;
	for (; n > 0; n--)
		c = __builtin_ia32_crc32qi(c, *s++);
	return c;
}
#endif

uint32_t
bb_crc32c(uint32_t crc, const void *p, size_t n)
{
#ifdef HAVE_CRC32C_X86
	pthread_once(&cpu_once, cpu_probe);
	if (crc32c_x86)
		return ~crc32c_sse42(~crc, p, n);
#endif
	return bb_crc32c_portable(crc, p, n);
}

uint32_t
bb_crc32c_portable(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t c = ~crc;

	pthread_once(&tab_once, tables_build);
	while (n >= 8) {
		uint32_t lo = c ^ ((uint32_t)s[0] | (uint32_t)s[1] << 8 |
		    (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24);
		c = crc32c_tab[7][lo & 0xff] ^ crc32c_tab[6][lo >> 8 & 0xff] ^
		    crc32c_tab[5][lo >> 16 & 0xff] ^ crc32c_tab[4][lo >> 24] ^
		    crc32c_tab[3][s[4]] ^ crc32c_tab[2][s[5]] ^
		    crc32c_tab[1][s[6]] ^ crc32c_tab[0][s[7]];
		s += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = (c >> 8) ^ crc32c_tab[0][(c ^ *s++) & 0xff];
	return ~c;
}

uint64_t
bb_crc64nvme(uint64_t crc, const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t c = ~crc;

	pthread_once(&tab_once, tables_build);
	while (n-- > 0)
		c = (c >> 8) ^ crc64_tab[(c ^ *s++) & 0xff];
	return ~c;
}

/* ---- S3 checksums ---- */

static const struct {
	enum bb_checksum_alg alg;
	const char *name;
	const char *header;
} algs[] = {
	{ BB_CKSUM_CRC32, "crc32", "x-amz-checksum-crc32" },
	{ BB_CKSUM_CRC32C, "crc32c", "x-amz-checksum-crc32c" },
	{ BB_CKSUM_CRC64NVME, "crc64nvme", "x-amz-checksum-crc64nvme" },
	{ BB_CKSUM_SHA1, "sha1", "x-amz-checksum-sha1" },
	{ BB_CKSUM_SHA256, "sha256", "x-amz-checksum-sha256" },
};

enum bb_checksum_alg
bb_checksum_alg_parse(const char *name)
{
	size_t i;

	if (strncasecmp(name, "x-amz-checksum-", 15) == 0)
		name += 15;
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcasecmp(name, algs[i].name) == 0)
			return algs[i].alg;
	return BB_CKSUM_NONE;
}

const char *
bb_checksum_header(enum bb_checksum_alg alg)
{
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].alg == alg)
			return algs[i].header;
	return "";
}

int
bb_checksum_init(struct bb_checksum *c, enum bb_checksum_alg alg)
{
	c->alg = alg;
	c->crc = 0;
	c->ctx = NULL;
	switch (alg) {
	case BB_CKSUM_CRC32:
	case BB_CKSUM_CRC32C:
	case BB_CKSUM_CRC64NVME:
		return 0;
	case BB_CKSUM_SHA1:
		return md_init(&c->ctx, EVP_sha1());
	case BB_CKSUM_SHA256:
		return md_init(&c->ctx, EVP_sha256());
	default:
		return -1;
	}
}

int
bb_checksum_update(struct bb_checksum *c, const void *p, size_t n)
{
	switch (c->alg) {
	case BB_CKSUM_CRC32:
		c->crc = bb_crc32((uint32_t)c->crc, p, n);
		return 0;
	case BB_CKSUM_CRC32C:
		c->crc = bb_crc32c((uint32_t)c->crc, p, n);
		return 0;
	case BB_CKSUM_CRC64NVME:
		c->crc = bb_crc64nvme(c->crc, p, n);
		return 0;
	case BB_CKSUM_SHA1:
	case BB_CKSUM_SHA256:
		return md_update(c->ctx, p, n);
	default:
		return -1;
	}
}

int
bb_checksum_final_base64(struct bb_checksum *c, char out[BB_CHECKSUM_B64])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	size_t n = 0;
	int i;

	switch (c->alg) {
	case BB_CKSUM_CRC32:
	case BB_CKSUM_CRC32C:
		for (i = 0; i < 4; i++)
			d[i] = (unsigned char)(c->crc >> (24 - 8 * i));
		n = 4;
		break;
	case BB_CKSUM_CRC64NVME:
		for (i = 0; i < 8; i++)
			d[i] = (unsigned char)(c->crc >> (56 - 8 * i));
		n = 8;
		break;
	case BB_CKSUM_SHA1:
	case BB_CKSUM_SHA256:
		if (md_final(c->ctx, d))
			return -1;
		n = c->alg == BB_CKSUM_SHA1 ? BB_SHA1_LEN : BB_SHA256_LEN;
		break;
	default:
		out[0] = '\0';
		return -1;
	}
	bb_base64_encode(d, n, out);
	return 0;
}

void
bb_checksum_release(struct bb_checksum *c)
{
	EVP_MD_CTX_free(c->ctx);
	c->ctx = NULL;
}

void
bb_crc32_base64(uint32_t crc, char out[9])
{
	unsigned char d[4];

	d[0] = (unsigned char)(crc >> 24);
	d[1] = (unsigned char)(crc >> 16);
	d[2] = (unsigned char)(crc >> 8);
	d[3] = (unsigned char)crc;
	bb_base64_encode(d, 4, out);
}

/* ---- table hash ---- */

uint64_t
bb_hash64(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a 64 offset basis */
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;          /* FNV 64 prime */
	}
	/* murmur3 fmix64: every input bit reaches every output bit */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}
