/*
 * unit-upload.c - the pure parts of libshared/upload: the part size rule
 * (minimum, 10,000 parts, whole MiB, 5 GiB cap) and the local ETag of a
 * file (plain MD5, multipart MD5 of MD5s) and its SHA-256 checksum (whole,
 * and S3's composite of the part SHA-256s) checked against an independent
 * computation over the same bytes.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "tap.h"
#include "upload.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static const struct {
	uint64_t size, want, expect;
} sizes[] = {
	{ 0, 0, 16 * MiB },
	{ 100, 0, 16 * MiB },
	{ 1 * GiB, 0, 16 * MiB },
	{ 1 * GiB, 5 * MiB, 5 * MiB },
	{ 1 * GiB, 1 * MiB, 5 * MiB },              /* below S3's minimum */
	{ 10000 * 16 * MiB, 0, 16 * MiB },          /* exactly 10,000 parts */
	{ 10000 * 16 * MiB + 1, 0, 17 * MiB },      /* one byte more: next MiB */
	{ 1000 * GiB, 16 * MiB, 103 * MiB },        /* ceil(1000 GiB / 10000) in MiB */
	{ 5000 * GiB, 0, 512 * MiB },
	{ 60000 * GiB, 0, 5 * GiB },                /* capped */
	{ 1 * GiB, 8 * GiB, 5 * GiB },
};

/* The multipart ETag computed the plain way: MD5 of each part, then MD5 of
 * their concatenation. */
static void
reference_etag(const unsigned char *d, uint64_t len, uint64_t ps, int multipart, char *out)
{
	unsigned char all[BB_MD5_LEN * 64], m[BB_MD5_LEN];
	char hex[BB_MD5_HEX];
	uint64_t off;
	int n = 0;

	if (!multipart) {
		bb_md5(d, (size_t)len, m);
		bb_hex_encode(m, sizeof(m), hex);
		sprintf(out, "\"%s\"", hex);
		return;
	}
	for (off = 0; off < len; off += ps, n++)
		bb_md5(d + off, (size_t)(len - off < ps ? len - off : ps), all + n * BB_MD5_LEN);
	bb_md5(all, (size_t)n * BB_MD5_LEN, m);
	bb_hex_encode(m, sizeof(m), hex);
	sprintf(out, "\"%s-%d\"", hex, n);
}

/* S3's composite SHA-256 checksum computed the plain way. */
static void
reference_checksum(const unsigned char *d, uint64_t len, uint64_t ps, char *out)
{
	unsigned char all[BB_SHA256_LEN * 64], m[BB_SHA256_LEN];
	uint64_t off;
	int n = 0;

	if (ps == 0) {
		bb_sha256(d, (size_t)len, m);
		bb_base64_encode(m, sizeof(m), out);
		return;
	}
	for (off = 0; off < len || (off == 0 && len == 0); off += ps, n++) {
		bb_sha256(d + off, (size_t)(len - off < ps ? len - off : ps), all + n * BB_SHA256_LEN);
		if (len == 0) {
			n++;
			break;
		}
	}
	bb_sha256(all, (size_t)n * BB_SHA256_LEN, m);
	bb_base64_encode(m, sizeof(m), out);
	sprintf(out + strlen(out), "-%d", n);
}

/* The same for CRC32C, with the table CRC (bb_upload uses the CPU's):
 * the CRC32C of the parts' CRCs as 4 big-endian bytes each. */
static void
reference_crc(const unsigned char *d, uint64_t len, uint64_t ps, char *out)
{
	unsigned char all[4 * 64];
	uint32_t c;
	uint64_t off;
	int n = 0;

	if (ps == 0) {
		bb_crc32_base64(bb_crc32c_portable(0, d, (size_t)len), out);
		return;
	}
	for (off = 0; off < len || (off == 0 && len == 0); off += ps, n++) {
		c = bb_crc32c_portable(0, d + off, (size_t)(len - off < ps ? len - off : ps));
		all[n * 4] = (unsigned char)(c >> 24);
		all[n * 4 + 1] = (unsigned char)(c >> 16);
		all[n * 4 + 2] = (unsigned char)(c >> 8);
		all[n * 4 + 3] = (unsigned char)c;
		if (len == 0) {
			n++;
			break;
		}
	}
	bb_crc32_base64(bb_crc32c_portable(0, all, (size_t)n * 4), out);
	sprintf(out + strlen(out), "-%d", n);
}

int
main(void)
{
	static const struct {
		uint64_t len, ps;
		int multipart;
	} files[] = {
		{ 0, 0, 0 }, { 1, 0, 0 }, { 1048576, 0, 0 }, { 3000001, 0, 0 },
		{ 3000000, 1000000, 1 }, { 3000001, 1000000, 1 }, { 2999999, 1000000, 1 },
		{ 1048576, 1048576, 1 }, { 2500000, 1 << 20, 1 },
	};
	char tmpl[] = "/tmp/unit-upload.XXXXXX";
	char got[128], want[128], b64[BB_CHECKSUM_B64], wb64[BB_CHECKSUM_B64];
	/* (got and want also hold checksums: BB_CHECKSUM_B64 + "-10000") */
	unsigned char *data, sha[BB_SHA256_LEN];
	struct bb_error err = BB_ERROR_INIT;
	size_t i, total = 3000001;
	int fd;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		ok(bb_upload_part_size(sizes[i].size, sizes[i].want) == sizes[i].expect,
		    "part size of %" PRIu64 " bytes (asked %" PRIu64 "): %" PRIu64 " == %" PRIu64,
		    sizes[i].size, sizes[i].want, bb_upload_part_size(sizes[i].size,
		    sizes[i].want), sizes[i].expect);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t ps = bb_upload_part_size(sizes[i].size, sizes[i].want);
		ok(sizes[i].size / ps + (sizes[i].size % ps != 0) <= 10000 || ps == 5 * GiB,
		    "at most 10,000 parts for %" PRIu64 " bytes", sizes[i].size);
	}

	data = malloc(total);
	srand(42);
	for (i = 0; i < total; i++)
		data[i] = (unsigned char)(rand() >> 7);
	fd = mkstemp(tmpl);
	if (fd < 0 || write(fd, data, total) != (ssize_t)total)
		skip_all("cannot write a temporary file");
	unlink(tmpl);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		reference_etag(data, files[i].len, files[i].ps, files[i].multipart, want);
		bb_sha256(data, (size_t)files[i].len, sha);
		bb_base64_encode(sha, sizeof(sha), wb64);
		ok(bb_upload_local_etag(fd, files[i].len, files[i].ps, files[i].multipart, got, b64,
		    &err) == 0, "local etag of %" PRIu64 " bytes, parts of %" PRIu64,
		    files[i].len, files[i].ps);
		is_str(got, want, "  the ETag");
		is_str(b64, wb64, "  the SHA-256");
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		reference_checksum(data, files[i].len, files[i].ps, want);
		ok(bb_upload_local_checksum(fd, files[i].len, files[i].ps, BB_CKSUM_SHA256, got,
		    &err) == 0, "local checksum of %" PRIu64 " bytes, parts of %" PRIu64,
		    files[i].len, files[i].ps);
		is_str(got, want, "  the checksum");
		reference_crc(data, files[i].len, files[i].ps, want);
		ok(bb_upload_local_checksum(fd, files[i].len, files[i].ps, BB_CKSUM_CRC32C, got,
		    &err) == 0, "local CRC32C of %" PRIu64 " bytes, parts of %" PRIu64,
		    files[i].len, files[i].ps);
		is_str(got, want, "  the CRC32C");
	}
	ok(bb_upload_local_checksum(fd, 10, 0, BB_CKSUM_SHA1, got, &err) < 0,
	    "checksum: another algorithm is refused");
	ok(bb_upload_local_checksum(fd, total + 10, 1000000, BB_CKSUM_CRC32C, got, &err) < 0 &&
	    strstr(err.msg, "shorter") != NULL, "checksum: a file shorter than said is an "
	    "error: %s", err.msg);
	ok(bb_upload_local_etag(fd, total + 10, 0, 0, got, NULL, &err) < 0 &&
	    strstr(err.msg, "shorter") != NULL, "a file shorter than said is an error: %s",
	    err.msg);
	close(fd);
	free(data);
	return done_testing();
}
