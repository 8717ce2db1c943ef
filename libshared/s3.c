/* s3.c - the S3 client; see s3.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws.h"
#include "awsconfig.h"
#include "buf.h"
#include "error.h"
#include "hash.h"
#include "http.h"
#include "json.h"
#include "s3.h"
#include "xml.h"

/* ---- names and URLs ---- */

int
bb_s3_bucket_valid(const char *b)
{
	size_t n = strlen(b), i, dots = 0;
	int ipv4 = 1;

	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = b[i];
		if (c == '.') {
			dots++;
			if (i > 0 && b[i - 1] == '.')
				return 0;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			return 0;
		}
		if (!(c == '.' || (c >= '0' && c <= '9')))
			ipv4 = 0;
	}
	if (b[0] == '.' || b[0] == '-' || b[n - 1] == '.' || b[n - 1] == '-')
		return 0;
	if (ipv4 && dots == 3)
		return 0;
	if (strncmp(b, "xn--", 4) == 0 || strncmp(b, "sthree-", 7) == 0)
		return 0;
	if ((n >= 8 && strcmp(b + n - 8, "-s3alias") == 0) ||
	    (n >= 7 && strcmp(b + n - 7, "--ol-s3") == 0) ||
	    (n >= 6 && strcmp(b + n - 6, "--x-s3") == 0))
		return 0;
	return 1;
}

void
bb_s3_uri_release(struct bb_s3_uri *u)
{
	free(u->bucket);
	free(u->key);
	u->bucket = NULL;
	u->key = NULL;
}

int
bb_s3_uri_parse(const char *uri, struct bb_s3_uri *out, struct bb_error *err)
{
	const char *b, *slash;
	size_t blen, i, klen;
	int rc = -1;

	out->bucket = NULL;
	out->key = NULL;
	if (strncmp(uri, "s3://", 5) != 0) {
		bb_error_set(err, BB_ERR_INPUT, "'%.300s' is not an S3 URI (s3://BUCKET/KEY)", uri);
		goto out;
	}
	b = uri + 5;
	slash = strchr(b, '/');
	blen = slash ? (size_t)(slash - b) : strlen(b);
	if (blen == 0) {
		bb_error_set(err, BB_ERR_INPUT, "'%.300s': no bucket name", uri);
		goto out;
	}
	out->bucket = strndup(b, blen);
	out->key = strdup(slash ? slash + 1 : "");
	if (out->bucket == NULL || out->key == NULL) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	if (!bb_s3_bucket_valid(out->bucket)) {
		bb_error_set(err, BB_ERR_INPUT, "'%.300s': invalid bucket name '%.63s'", uri,
		    out->bucket);
		goto out;
	}
	klen = strlen(out->key);
	if (klen > 1024) {
		bb_error_set(err, BB_ERR_INPUT, "'%.300s...': key longer than 1024 bytes", uri);
		goto out;
	}
	for (i = 0; i < klen; i++) {
		unsigned char c = (unsigned char)out->key[i];
		if (c < 0x20 || c == 0x7f) {
			bb_error_set(err, BB_ERR_INPUT, "'%.300s': control character in the key", uri);
			goto out;
		}
	}
	if (!bb_utf8_valid(out->key, klen)) {
		bb_error_set(err, BB_ERR_INPUT, "'%.300s': key is not valid UTF-8", uri);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		bb_s3_uri_release(out);
	return rc;
}

int
bb_s3_object_url(const struct bb_endpoint *ep, const char *bucket, const char *key,
    const char *query, struct bb_buf *out)
{
	if (bb_s3_bucket_url(ep, bucket, out) < 0 || bb_buf_addc(out, '/') < 0 ||
	    bb_aws_uri_encode(out, key, strlen(key), 1) < 0)
		return -1;
	if (query && (bb_buf_addc(out, '?') < 0 || bb_buf_adds(out, query) < 0))
		return -1;
	return 0;
}

static int
object_url(struct bb_aws *aws, const char *bucket, const char *key, const char *query,
    struct bb_buf *out, struct bb_error *err)
{
	const struct bb_endpoint *ep = bb_aws_endpoint(aws, "s3", err);

	if (ep == NULL)
		return -1;
	if (!bb_s3_bucket_valid(bucket))
		return bb_error_set(err, BB_ERR_INPUT, "invalid bucket name '%.63s'", bucket);
	if (bb_s3_object_url(ep, bucket, key, query, out) < 0)
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	return 0;
}

/* "VERB s3://bucket/key" for messages. */
static void
what_of(struct bb_buf *w, const char *verb, const char *bucket, const char *key)
{
	bb_buf_reset(w);
	bb_buf_addf(w, "%s s3://%s/%s", verb, bucket, key);
}

/* ---- S3's XML documents (xml.h) ---- */

/*
 * Parse a response body whose root element's name starts with `root`:
 * servers differ in the suffix (moto answers ListParts with
 * <ListPartsResponse>, S3 with <ListPartsResult>). NULL when the body is
 * no such document.
 */
static struct bb_xml *
xml_doc(const char *body, size_t len, const char *root)
{
	struct bb_xml *doc = NULL;

	if (bb_xml_parse(body, len, &doc, NULL) != 0)
		return NULL;
	if (strncmp(bb_xml_name(doc), root, strlen(root)) != 0) {
		bb_xml_free(doc);
		return NULL;
	}
	return doc;
}

/* Text of a child element, "" when there is none. */
static const char *
xml_text_of(const struct bb_xml *node, const char *name)
{
	const char *s = bb_xml_child_text(node, name);

	return s ? s : "";
}

static int
xml_truncated(const struct bb_xml *doc)
{
	return strcmp(xml_text_of(doc, "IsTruncated"), "true") == 0;
}

/* A key as a listing gives it into out (replaced): percent-decoded when
 * the listing is url-encoded (encoding-type=url). */
static int
listed_key(const char *s, int url_encoded, struct bb_buf *out)
{
	bb_buf_reset(out);
	if (url_encoded)
		return bb_aws_uri_decode(out, s, strlen(s), 1);
	if (bb_buf_adds(out, s) < 0 || bb_buf_grow(out, 0) < 0)
		return -1;
	return 0;
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end != '\0')
		return -1;
	*v = x;
	return 0;
}

/* ---- responses ---- */

static void
copy_field(char *dst, size_t cap, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

void
bb_s3_object_init(struct bb_s3_object *o)
{
	memset(o, 0, sizeof(*o));
	bb_http_headers_init(&o->meta);
}

void
bb_s3_object_release(struct bb_s3_object *o)
{
	bb_http_headers_release(&o->meta);
	bb_s3_object_init(o);
}

int
bb_s3_object_from_headers(const struct bb_http_headers *h, struct bb_s3_object *o)
{
	const char *v;
	uint64_t n;
	size_t i;

	bb_s3_object_release(o);
	v = bb_http_headers_get(h, "content-range");     /* bytes a-b/total */
	if (v && (v = strchr(v, '/')) != NULL && parse_u64(v + 1, &n) == 0)
		o->size = n;
	else if (parse_u64(bb_http_headers_get(h, "content-length"), &n) == 0)
		o->size = n;
	copy_field(o->etag, sizeof(o->etag), bb_http_headers_get(h, "etag"));
	copy_field(o->content_type, sizeof(o->content_type), bb_http_headers_get(h, "content-type"));
	copy_field(o->last_modified, sizeof(o->last_modified),
	    bb_http_headers_get(h, "last-modified"));
	copy_field(o->checksum_sha256, sizeof(o->checksum_sha256),
	    bb_http_headers_get(h, "x-amz-checksum-sha256"));
	copy_field(o->checksum_crc32, sizeof(o->checksum_crc32),
	    bb_http_headers_get(h, "x-amz-checksum-crc32"));
	copy_field(o->checksum_crc32c, sizeof(o->checksum_crc32c),
	    bb_http_headers_get(h, "x-amz-checksum-crc32c"));
	v = bb_http_headers_get(h, "x-amz-mp-parts-count");
	if (v && parse_u64(v, &n) == 0 && n < 100000)
		o->parts_count = (long)n;
	for (i = 0; i < h->n; i++)
		if (strncasecmp(h->v[i].name, "x-amz-meta-", 11) == 0 &&
		    bb_http_headers_add(&o->meta, h->v[i].name + 11, h->v[i].value) < 0)
			return -1;
	return 0;
}

/* ---- HEAD and GET ---- */

struct get_ctx {
	bb_s3_data_fn fn;
	void *ctx;
};

static int
get_write(const char *p, size_t n, void *ctx)
{
	struct get_ctx *g = ctx;

	return g->fn(p, n, g->ctx);
}

/* HEAD an object, or GET it (bytes [off, off+len) when len > 0) to fn;
 * info (may be NULL) gets the response headers. */
static int
object_request(struct bb_aws *aws, const char *method, const char *bucket, const char *key,
    uint64_t off, uint64_t len, bb_s3_data_fn fn, void *ctx, struct bb_s3_object *info,
    struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_http_req req;
	struct bb_http_resp resp;
	struct bb_buf url = BB_BUF_INIT, what = BB_BUF_INIT;
	struct get_ctx g = { fn, ctx };
	char range[64];
	int rc = -1, r;

	bb_http_req_init(&req);
	bb_http_resp_init(&resp);
	what_of(&what, method, bucket, key);
	if (object_url(aws, bucket, key, NULL, &url, err) < 0)
		goto out;
	req.method = method;
	req.url = url.data;
	range[0] = '\0';
	if (fn == NULL) {
		req.flags = BB_HTTP_HEAD;
		r = bb_http_headers_add(&req.headers, "x-amz-checksum-mode", "ENABLED");
	} else {
		req.write = get_write;
		req.write_ctx = &g;
		if (len > 0 && off > UINT64_MAX - len) {
			bb_error_set(err, BB_ERR_USAGE, "%s: range out of bounds", what.data);
			goto out;
		}
		if (len > 0)
			snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, off,
			    off + len - 1);
		else if (off > 0)
			snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", off);
		r = range[0] ? bb_http_headers_add(&req.headers, "Range", range) : 0;
	}
	if (r < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	if (bb_aws_request(aws, "s3", &req, BB_AWS_PAYLOAD_SHA256, NULL, &resp, ae, err) < 0) {
		bb_error_prefix(err, "%s", what.data);
		goto out;
	}
	if (info && bb_s3_object_from_headers(&resp.headers, info) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	bb_http_req_release(&req);
	bb_http_resp_release(&resp);
	bb_buf_release(&url);
	bb_buf_release(&what);
	return rc;
}

int
bb_s3_head(struct bb_aws *aws, const char *bucket, const char *key,
    struct bb_s3_object *out, struct bb_aws_error *ae, struct bb_error *err)
{
	return object_request(aws, "HEAD", bucket, key, 0, 0, NULL, NULL, out, ae, err);
}

int
bb_s3_get(struct bb_aws *aws, const char *bucket, const char *key, uint64_t off,
    uint64_t len, bb_s3_data_fn fn, void *ctx, struct bb_s3_object *info,
    struct bb_aws_error *ae, struct bb_error *err)
{
	return object_request(aws, "GET", bucket, key, off, len, fn, ctx, info, ae, err);
}

/* ---- PUT and parts ---- */

static size_t
xfer_read(char *buf, size_t n, void *ctx)
{
	struct bb_s3_xfer *x = ctx;
	uint64_t left = x->len - x->pos;
	ssize_t r;

	if (left == 0)
		return 0;
	if (n > left)
		n = (size_t)left;
	do
		r = pread(x->fd, buf, n, (off_t)(x->off + x->pos));
	while (r < 0 && errno == EINTR);
	if (r <= 0)               /* the file shrank or broke: abort */
		return (size_t)-1;
	x->pos += (uint64_t)r;
	return (size_t)r;
}

static int
xfer_rewind(void *ctx)
{
	struct bb_s3_xfer *x = ctx;

	x->pos = 0;
	return 0;
}

void
bb_s3_xfer_init(struct bb_s3_xfer *x)
{
	memset(x, 0, sizeof(*x));
	bb_http_req_init(&x->req);
	bb_http_resp_init(&x->resp);
	bb_buf_init(&x->url);
	bb_buf_init(&x->what);
	x->fd = -1;
}

void
bb_s3_xfer_release(struct bb_s3_xfer *x)
{
	bb_http_req_release(&x->req);
	bb_http_resp_release(&x->resp);
	bb_buf_release(&x->url);
	bb_buf_release(&x->what);
	if (x->fd >= 0)
		close(x->fd);
	bb_s3_xfer_init(x);
}

/* The digests of the body: hex SHA-256 and MD5, base64 SHA-256. */
static void
xfer_digests(struct bb_s3_xfer *x, const unsigned char sha[BB_SHA256_LEN],
    const unsigned char md5[BB_MD5_LEN])
{
	bb_hex_encode(sha, BB_SHA256_LEN, x->sha256_hex);
	bb_hex_encode(md5, BB_MD5_LEN, x->md5_hex);
	bb_base64_encode(sha, BB_SHA256_LEN, x->checksum);
}

/*
 * Hash bytes [off, off+len) of the file, before the transfer reads them
 * again to send them. The two reads cannot be one while the payload is
 * signed: its SHA-256 is in the signature (x-amz-content-sha256 and the
 * canonical request), and Content-MD5 and x-amz-checksum-sha256 are
 * headers, all sent before the first byte of the body. Reading once would
 * mean sending UNSIGNED-PAYLOAD (fit only for TLS) with the checksum in
 * an aws-chunked trailer and the MD5 checked against the ETag afterwards:
 * another wire format, and not one for plain-HTTP endpoints (bb-emu,
 * moto), so it is not done. The second read mostly hits the page cache.
 */
static int
hash_range(struct bb_s3_xfer *x, const char *path, struct bb_error *err)
{
	struct bb_sha256 sha = { NULL };
	struct bb_md5 md5 = { NULL };
	unsigned char d[BB_SHA256_LEN], m[BB_MD5_LEN];
	char *buf = NULL;
	uint64_t done = 0;
	size_t want;
	ssize_t r;
	int rc = -1;

	buf = malloc(1 << 18);
	if (buf == NULL || bb_sha256_init(&sha) < 0 || bb_md5_init(&md5) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	while (done < x->len) {
		want = x->len - done < (1 << 18) ? (size_t)(x->len - done) : (1 << 18);
		r = pread(x->fd, buf, want, (off_t)(x->off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			bb_error_errno(err, "cannot read '%s'", path);
			goto out;
		}
		if (r == 0) {
			bb_error_set(err, BB_ERR_INPUT, "'%s' is shorter than expected", path);
			goto out;
		}
		if (bb_sha256_update(&sha, buf, (size_t)r) < 0 ||
		    bb_md5_update(&md5, buf, (size_t)r) < 0) {
			bb_error_set(err, BB_ERR_SYSTEM, "hashing failed");
			goto out;
		}
		done += (uint64_t)r;
	}
	if (bb_sha256_final(&sha, d) < 0 || bb_md5_final(&md5, m) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "hashing failed");
		goto out;
	}
	xfer_digests(x, d, m);
	rc = 0;
out:
	free(buf);
	bb_sha256_release(&sha);
	bb_md5_release(&md5);
	return rc;
}

/* Headers common to PUT object and upload part. */
static int
body_headers(struct bb_s3_xfer *x, struct bb_error *err)
{
	unsigned char m[BB_MD5_LEN];
	char b64[32], num[32];

	snprintf(num, sizeof(num), "%" PRIu64, x->len);
	if (bb_http_headers_set(&x->req.headers, "Content-Length", num) < 0)
		goto nomem;
	if (x->flags & BB_S3_CONTENT_MD5) {
		bb_hex_decode(x->md5_hex, 32, m, sizeof(m));
		bb_base64_encode(m, sizeof(m), b64);
		if (bb_http_headers_set(&x->req.headers, "Content-MD5", b64) < 0)
			goto nomem;
	}
	if ((x->flags & BB_S3_CHECKSUM_SHA256) &&
	    bb_http_headers_set(&x->req.headers, "x-amz-checksum-sha256", x->checksum) < 0)
		goto nomem;
	return 0;
nomem:
	return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
}

static int
xfer_open(struct bb_s3_xfer *x, const char *path, uint64_t off, uint64_t len,
    struct bb_error *err)
{
	struct stat st;

	x->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (x->fd < 0)
		return bb_error_errno(err, "cannot open '%s'", path);
	if (fstat(x->fd, &st) < 0)
		return bb_error_errno(err, "cannot stat '%s'", path);
	if (len == UINT64_MAX) {      /* the whole file (from off) */
		if ((uint64_t)st.st_size < off)
			return bb_error_set(err, BB_ERR_INPUT, "'%s' is shorter than expected", path);
		len = (uint64_t)st.st_size - off;
	}
	x->off = off;
	x->len = len;
	x->pos = 0;
	if (hash_range(x, path, err) < 0)
		return -1;
	x->req.read = xfer_read;
	x->req.rewind = xfer_rewind;
	x->req.read_ctx = x;
	x->req.body_size = (int64_t)len;
	return 0;
}

static int
add_opts_headers(struct bb_http_headers *h, const struct bb_s3_put_opts *opts,
    int with_type, struct bb_error *err)
{
	size_t i;

	if (with_type && bb_http_headers_set(h, "Content-Type",
	    opts && opts->content_type ? opts->content_type : "application/octet-stream") < 0)
		goto nomem;
	if (opts && opts->headers)
		for (i = 0; i < opts->headers->n; i++)
			if (bb_http_headers_add(h, opts->headers->v[i].name,
			    opts->headers->v[i].value) < 0)
				goto nomem;
	return 0;
nomem:
	return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
}

/* Sign a PUT (object or part) of x's hashed body to x->url. */
static int
xfer_sign(struct bb_aws *aws, struct bb_s3_xfer *x, struct bb_error *err)
{
	x->req.method = "PUT";
	x->req.url = x->url.data;
	return bb_aws_sign_setup(aws, "s3", &x->req, BB_AWS_PAYLOAD_HEX, x->sha256_hex,
	    &x->sign, err);
}

/* The headers of a PUT object whose body is hashed, then its signing. */
static int
put_setup(struct bb_aws *aws, const struct bb_s3_put_opts *opts, struct bb_s3_xfer *x,
    struct bb_error *err)
{
	if (add_opts_headers(&x->req.headers, opts, 1, err) < 0 || body_headers(x, err) < 0)
		return -1;
	if ((x->flags & BB_S3_IF_NONE_MATCH) &&
	    bb_http_headers_set(&x->req.headers, "If-None-Match", "*") < 0)
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	return xfer_sign(aws, x, err);
}

int
bb_s3_put_prepare(struct bb_aws *aws, const char *bucket, const char *key,
    const char *path, uint64_t off, uint64_t len, const struct bb_s3_put_opts *opts,
    struct bb_s3_xfer *x, struct bb_error *err)
{
	bb_s3_xfer_release(x);
	x->flags = opts ? opts->flags : 0;
	what_of(&x->what, "PUT", bucket, key);
	if (object_url(aws, bucket, key, NULL, &x->url, err) < 0 ||
	    xfer_open(x, path, off, len, err) < 0 || put_setup(aws, opts, x, err) < 0) {
		bb_error_prefix(err, "%s", bb_buf_str(&x->what));
		return -1;
	}
	return 0;
}

/* Check the response of a PUT object / upload part against what was sent. */
static int
check_put_response(struct bb_s3_xfer *x, int rc, const struct bb_error *http_err,
    char *etag, size_t etagcap, struct bb_aws_error *ae, struct bb_error *err)
{
	const char *et, *ck, *sse;
	char want[BB_MD5_HEX + 2];

	if (rc < 0) {
		if (err && http_err && err != http_err)
			*err = *http_err;
		bb_aws_error_clear(ae);
		bb_error_prefix(err, "%s", bb_buf_str(&x->what));
		return -1;
	}
	if (bb_aws_check_response("s3", bb_buf_str(&x->what), &x->resp, ae, err) < 0)
		return -1;
	et = bb_http_headers_get(&x->resp.headers, "etag");
	if (et == NULL || *et == '\0')
		return bb_error_set(err, BB_ERR_REMOTE, "%s: no ETag in the response",
		    bb_buf_str(&x->what));
	copy_field(etag, etagcap, et);
	sse = bb_http_headers_get(&x->resp.headers, "x-amz-server-side-encryption");
	snprintf(want, sizeof(want), "\"%s\"", x->md5_hex);
	/* (no MD5 computed, md5_hex "": the checksums were S3's check) */
	if (x->md5_hex[0] && strlen(et) == 34 && et[0] == '"' &&
	    strspn(et + 1, "0123456789abcdef") == 32 &&
	    (sse == NULL || strncmp(sse, "aws:kms", 7) != 0) && strcmp(et, want) != 0)
		return bb_error_set(err, BB_ERR_REMOTE,
		    "%s: the ETag %s does not match the MD5 of the data sent (%s)",
		    bb_buf_str(&x->what), et, want);
	ck = bb_http_headers_get(&x->resp.headers,
	    bb_checksum_header(x->ck_alg ? x->ck_alg : BB_CKSUM_SHA256));
	if (ck && strcmp(ck, x->checksum) != 0)
		return bb_error_set(err, BB_ERR_REMOTE,
		    "%s: the %s checksum returned does not match the data sent",
		    bb_buf_str(&x->what), x->ck_alg == BB_CKSUM_CRC32C ? "CRC32C" : "SHA-256");
	return 0;
}

int
bb_s3_put_finish(struct bb_s3_xfer *x, int rc, const struct bb_error *http_err,
    struct bb_s3_put_result *res, struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_s3_put_result local;

	if (res == NULL)
		res = &local;
	memset(res, 0, sizeof(*res));
	if (check_put_response(x, rc, http_err, res->etag, sizeof(res->etag), ae, err) < 0)
		return -1;
	memcpy(res->md5_hex, x->md5_hex, sizeof(res->md5_hex));
	memcpy(res->sha256_hex, x->sha256_hex, sizeof(res->sha256_hex));
	memcpy(res->checksum_sha256, x->checksum, sizeof(res->checksum_sha256));
	return 0;
}

/* The file is read twice, to hash and to send: see hash_range(). */
int
bb_s3_put_file(struct bb_aws *aws, const char *bucket, const char *key, const char *path,
    const struct bb_s3_put_opts *opts, struct bb_s3_put_result *res,
    struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_s3_xfer x;
	struct bb_error herr = BB_ERROR_INIT;
	int rc = -1, hrc;

	bb_s3_xfer_init(&x);
	if (bb_s3_put_prepare(aws, bucket, key, path, 0, UINT64_MAX, opts, &x, err) < 0)
		goto out;
	hrc = bb_http_do(bb_aws_http(aws), &x.req, &x.resp, &herr);
	rc = bb_s3_put_finish(&x, hrc, &herr, res, ae, err);
out:
	bb_s3_xfer_release(&x);
	return rc;
}

int
bb_s3_put_mem(struct bb_aws *aws, const char *bucket, const char *key, const void *p,
    size_t n, const struct bb_s3_put_opts *opts, struct bb_s3_put_result *res,
    struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_s3_xfer x;
	unsigned char d[BB_SHA256_LEN], m[BB_MD5_LEN];
	int rc = -1, hrc;
	struct bb_error herr = BB_ERROR_INIT;

	bb_s3_xfer_init(&x);
	x.flags = opts ? opts->flags : 0;
	x.len = n;
	x.req.body = n ? p : "";
	x.req.body_len = n;
	what_of(&x.what, "PUT", bucket, key);
	if (bb_sha256(p, n, d) < 0 || bb_md5(p, n, m) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "hashing failed");
		goto out;
	}
	xfer_digests(&x, d, m);
	if (object_url(aws, bucket, key, NULL, &x.url, err) < 0 || put_setup(aws, opts, &x, err) < 0) {
		bb_error_prefix(err, "%s", bb_buf_str(&x.what));
		goto out;
	}
	hrc = bb_http_do(bb_aws_http(aws), &x.req, &x.resp, &herr);
	rc = bb_s3_put_finish(&x, hrc, &herr, res, ae, err);
out:
	bb_s3_xfer_release(&x);
	return rc;
}

/* ---- multipart ---- */

/* A request to bucket/key?query with an in-memory (possibly empty or
 * NULL) body signed with its SHA-256; the response is left in resp
 * (released first). */
static int
s3_call(struct bb_aws *aws, const char *method, const char *bucket, const char *key,
    const char *query, const char *what, const char *body, size_t len,
    const struct bb_s3_put_opts *opts, struct bb_http_resp *resp, struct bb_aws_error *ae,
    struct bb_error *err)
{
	struct bb_http_req req;
	struct bb_buf url = BB_BUF_INIT;
	int rc = -1;

	bb_http_req_init(&req);
	bb_http_resp_release(resp);
	if (object_url(aws, bucket, key, query, &url, err) < 0)
		goto out;
	req.method = method;
	req.url = url.data;
	req.body = body;
	req.body_len = len;
	if (opts && add_opts_headers(&req.headers, opts, 1, err) < 0)
		goto out;
	if (bb_aws_request(aws, "s3", &req, BB_AWS_PAYLOAD_SHA256, NULL, resp, ae, err) < 0) {
		bb_error_prefix(err, "%s", what);
		goto out;
	}
	rc = 0;
out:
	bb_http_req_release(&req);
	bb_buf_release(&url);
	return rc;
}

/* ---- prepared control calls ---- */

void
bb_s3_call_init(struct bb_s3_call *c)
{
	memset(c, 0, sizeof(*c));
	bb_http_req_init(&c->req);
	bb_http_resp_init(&c->resp);
}

void
bb_s3_call_release(struct bb_s3_call *c)
{
	bb_http_req_release(&c->req);
	bb_http_resp_release(&c->resp);
	bb_buf_release(&c->url);
	bb_buf_release(&c->what);
	bb_buf_release(&c->body);
	bb_buf_release(&c->mark1);
	bb_buf_release(&c->mark2);
	bb_s3_call_init(c);
}

/* Make c a fresh request to bucket/key?query with the body in c->body
 * (empty: none) and opts' headers, signed with the body's SHA-256. */
static int
call_setup(struct bb_aws *aws, struct bb_s3_call *c, const char *method, const char *bucket,
    const char *key, const char *query, const struct bb_s3_put_opts *opts,
    struct bb_error *err)
{
	bb_http_req_release(&c->req);
	bb_http_req_init(&c->req);
	bb_http_resp_release(&c->resp);
	bb_buf_reset(&c->url);
	if (object_url(aws, bucket, key, query, &c->url, err) < 0)
		return -1;
	c->req.method = method;
	c->req.url = c->url.data;
	c->req.body = c->body.len ? c->body.data : "";
	c->req.body_len = c->body.len;
	if (opts && add_opts_headers(&c->req.headers, opts, 1, err) < 0)
		return -1;
	return bb_aws_sign_setup(aws, "s3", &c->req, BB_AWS_PAYLOAD_SHA256, NULL, &c->sign, err);
}

/* The finished call's outcome as bb_aws_request gives it, prefixed with
 * what it was. */
static int
call_check(struct bb_s3_call *c, int rc, const struct bb_error *http_err,
    struct bb_aws_error *ae, struct bb_error *err)
{
	bb_aws_error_clear(ae);
	if (rc < 0) {
		if (err && http_err && err != http_err)
			*err = *http_err;
	} else if (bb_aws_check_response("s3", NULL, &c->resp, ae, err) == 0) {
		return 0;
	}
	bb_error_prefix(err, "%s", bb_buf_str(&c->what));
	return -1;
}

/* Send a prepared call and wait for it (bb_http_do). */
static int
call_run(struct bb_aws *aws, struct bb_s3_call *c, struct bb_error *http_err)
{
	return bb_http_do(bb_aws_http(aws), &c->req, &c->resp, http_err);
}

int
bb_s3_mpu_create_prepare(struct bb_aws *aws, const char *bucket, const char *key,
    const struct bb_s3_put_opts *opts, struct bb_s3_call *c, struct bb_error *err)
{
	struct bb_s3_put_opts o;

	what_of(&c->what, "CreateMultipartUpload", bucket, key);
	bb_buf_reset(&c->body);
	o.content_type = opts ? opts->content_type : NULL;
	o.flags = 0;
	o.headers = opts ? opts->headers : NULL;
	if (call_setup(aws, c, "POST", bucket, key, "uploads", &o, err) < 0)
		goto fail;
	if (opts && (opts->flags & (BB_S3_CHECKSUM_SHA256 | BB_S3_CHECKSUM_CRC32C)) &&
	    bb_http_headers_set(&c->req.headers, "x-amz-checksum-algorithm",
	    (opts->flags & BB_S3_CHECKSUM_CRC32C) ? "CRC32C" : "SHA256") < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto fail;
	}
	return 0;
fail:
	bb_error_prefix(err, "%s", bb_buf_str(&c->what));
	return -1;
}

int
bb_s3_mpu_create_finish(struct bb_s3_call *c, int rc, const struct bb_error *http_err,
    char **upload_id, struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_xml *doc = NULL;
	const char *id;

	*upload_id = NULL;
	if (call_check(c, rc, http_err, ae, err) < 0)
		return -1;
	doc = xml_doc(bb_buf_str(&c->resp.body), c->resp.body.len, "InitiateMultipartUpload");
	id = doc ? bb_xml_child_text(doc, "UploadId") : NULL;
	if (id == NULL || *id == '\0')
		bb_error_set(err, BB_ERR_REMOTE, "%s: no UploadId in the response",
		    bb_buf_str(&c->what));
	else if ((*upload_id = strdup(id)) == NULL)
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	bb_xml_free(doc);
	return *upload_id ? 0 : -1;
}

int
bb_s3_mpu_create(struct bb_aws *aws, const char *bucket, const char *key,
    const struct bb_s3_put_opts *opts, char **upload_id, struct bb_aws_error *ae,
    struct bb_error *err)
{
	struct bb_s3_call c;
	struct bb_error herr = BB_ERROR_INIT;
	int rc = -1;

	*upload_id = NULL;
	bb_s3_call_init(&c);
	if (bb_s3_mpu_create_prepare(aws, bucket, key, opts, &c, err) == 0)
		rc = bb_s3_mpu_create_finish(&c, call_run(aws, &c, &herr), &herr, upload_id, ae,
		    err);
	else
		bb_aws_error_clear(ae);
	bb_s3_call_release(&c);
	return rc;
}

int
bb_s3_part_prepare(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, int part_number, const char *path, uint64_t off, uint64_t len,
    unsigned flags, struct bb_s3_xfer *x, struct bb_error *err)
{
	struct bb_buf q = BB_BUF_INIT;
	struct bb_aws_query aq;
	char num[16];
	int rc = -1;

	bb_s3_xfer_release(x);
	x->flags = flags & (BB_S3_CONTENT_MD5 | BB_S3_CHECKSUM_SHA256);
	x->part_number = part_number;
	bb_buf_addf(&x->what, "UploadPart %d of s3://%s/%s", part_number, bucket, key);
	if (part_number < 1 || part_number > 10000) {
		bb_error_set(err, BB_ERR_USAGE, "part number %d out of 1..10000", part_number);
		goto out;
	}
	snprintf(num, sizeof(num), "%d", part_number);
	bb_aws_query_init(&aq, &q);
	if (bb_aws_query_add(&aq, "partNumber", num) < 0 ||
	    bb_aws_query_add(&aq, "uploadId", upload_id) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	if (object_url(aws, bucket, key, q.data, &x->url, err) < 0 ||
	    xfer_open(x, path, off, len, err) < 0 || body_headers(x, err) < 0 ||
	    xfer_sign(aws, x, err) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		bb_error_prefix(err, "%s", bb_buf_str(&x->what));
	bb_buf_release(&q);
	return rc;
}

int
bb_s3_part_finish(struct bb_s3_xfer *x, int rc, const struct bb_error *http_err,
    struct bb_s3_part *out, struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_s3_part local;

	if (out == NULL)
		out = &local;
	memset(out, 0, sizeof(*out));
	if (check_put_response(x, rc, http_err, out->etag, sizeof(out->etag), ae, err) < 0)
		return -1;
	out->number = x->part_number;
	out->size = x->len;
	if (x->checksum[0] && ((x->flags & BB_S3_CHECKSUM_SHA256) || x->ck_alg != BB_CKSUM_NONE)) {
		out->ck_alg = x->ck_alg ? x->ck_alg : BB_CKSUM_SHA256;
		memcpy(out->checksum, x->checksum, sizeof(out->checksum));
	}
	return 0;
}

int
bb_s3_upload_part(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, int part_number, const char *path, uint64_t off, uint64_t len,
    unsigned flags, struct bb_s3_part *out, struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_s3_xfer x;
	struct bb_error herr = BB_ERROR_INIT;
	int rc = -1, hrc;

	bb_s3_xfer_init(&x);
	if (bb_s3_part_prepare(aws, bucket, key, upload_id, part_number, path, off, len, flags,
	    &x, err) < 0)
		goto out;
	hrc = bb_http_do(bb_aws_http(aws), &x.req, &x.resp, &herr);
	rc = bb_s3_part_finish(&x, hrc, &herr, out, ae, err);
out:
	bb_s3_xfer_release(&x);
	return rc;
}

/* Add an element <tag>text</tag>, text escaped. */
static int
add_element(struct bb_buf *out, const char *tag, const char *text)
{
	if (bb_buf_addf(out, "<%s>", tag) < 0 || bb_xml_add_escaped(out, text, strlen(text)) < 0 ||
	    bb_buf_addf(out, "</%s>", tag) < 0)
		return -1;
	return 0;
}

int
bb_s3_complete_body(const struct bb_s3_part *parts, size_t n, struct bb_buf *out)
{
	size_t i;

	if (bb_buf_adds(out, "<CompleteMultipartUpload "
	    "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">") < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (bb_buf_adds(out, "<Part>") < 0)
			return -1;
		if (parts[i].checksum[0] && add_element(out,
		    parts[i].ck_alg == BB_CKSUM_CRC32C ? "ChecksumCRC32C" : "ChecksumSHA256",
		    parts[i].checksum) < 0)
			return -1;
		if (add_element(out, "ETag", parts[i].etag) < 0 ||
		    bb_buf_addf(out, "<PartNumber>%d</PartNumber></Part>", parts[i].number) < 0)
			return -1;
	}
	return bb_buf_adds(out, "</CompleteMultipartUpload>");
}

int
bb_s3_mpu_complete_prepare(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, const struct bb_s3_part *parts, size_t n, unsigned flags,
    struct bb_s3_call *c, struct bb_error *err)
{
	struct bb_s3_put_opts o = { "application/xml", 0, NULL };
	struct bb_buf q = BB_BUF_INIT;
	struct bb_aws_query aq;
	int rc = -1;

	what_of(&c->what, "CompleteMultipartUpload", bucket, key);
	bb_buf_reset(&c->body);
	bb_aws_query_init(&aq, &q);
	if (bb_aws_query_add(&aq, "uploadId", upload_id) < 0 ||
	    bb_s3_complete_body(parts, n, &c->body) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	if (call_setup(aws, c, "POST", bucket, key, q.data, &o, err) < 0)
		goto out;
	if ((flags & BB_S3_IF_NONE_MATCH) &&
	    bb_http_headers_add(&c->req.headers, "If-None-Match", "*") < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		bb_error_prefix(err, "%s", bb_buf_str(&c->what));
	bb_buf_release(&q);
	return rc;
}

int
bb_s3_mpu_complete_finish(struct bb_s3_call *c, int rc, const struct bb_error *http_err,
    char *etag, struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_xml *doc;

	if (call_check(c, rc, http_err, ae, err) < 0)
		return -1;
	/* bb_aws_check_response already failed a 200 with <Error>; anything
	 * else than the result document is a failure too. */
	doc = xml_doc(bb_buf_str(&c->resp.body), c->resp.body.len, "CompleteMultipartUpload");
	if (doc == NULL)
		return bb_error_set(err, BB_ERR_REMOTE, "%s: unexpected response",
		    bb_buf_str(&c->what));
	if (etag)
		copy_field(etag, 128, bb_xml_child_text(doc, "ETag"));
	bb_xml_free(doc);
	return 0;
}

int
bb_s3_mpu_complete(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, const struct bb_s3_part *parts, size_t n, unsigned flags,
    char *etag, struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_s3_call c;
	struct bb_error herr = BB_ERROR_INIT;
	int rc = -1;

	bb_s3_call_init(&c);
	if (bb_s3_mpu_complete_prepare(aws, bucket, key, upload_id, parts, n, flags, &c,
	    err) == 0)
		rc = bb_s3_mpu_complete_finish(&c, call_run(aws, &c, &herr), &herr, etag, ae,
		    err);
	else
		bb_aws_error_clear(ae);
	bb_s3_call_release(&c);
	return rc;
}

int
bb_s3_mpu_abort(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_buf what = BB_BUF_INIT, q = BB_BUF_INIT;
	struct bb_http_resp resp;
	struct bb_aws_query aq;
	int rc = -1;

	bb_http_resp_init(&resp);
	what_of(&what, "AbortMultipartUpload", bucket, key);
	bb_aws_query_init(&aq, &q);
	if (bb_aws_query_add(&aq, "uploadId", upload_id) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	if (s3_call(aws, "DELETE", bucket, key, q.data, what.data, NULL, 0, NULL, &resp, ae,
	    err) < 0)
		goto out;
	rc = 0;
out:
	bb_buf_release(&what);
	bb_buf_release(&q);
	bb_http_resp_release(&resp);
	return rc;
}

int
bb_s3_mpu_list_parts_prepare(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, struct bb_s3_call *c, struct bb_error *err)
{
	struct bb_buf q = BB_BUF_INIT;
	struct bb_aws_query aq;
	int rc = -1;

	what_of(&c->what, "ListParts", bucket, key);
	bb_buf_reset(&c->body);
	if (!c->paged)
		bb_buf_reset(&c->mark1);
	c->paged = 0;
	bb_aws_query_init(&aq, &q);
	if (bb_aws_query_add(&aq, "uploadId", upload_id) < 0 ||
	    bb_aws_query_add(&aq, "part-number-marker",
	    c->mark1.len ? c->mark1.data : NULL) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		bb_error_prefix(err, "%s", bb_buf_str(&c->what));
		goto out;
	}
	if (call_setup(aws, c, "GET", bucket, key, q.data, NULL, err) < 0) {
		bb_error_prefix(err, "%s", bb_buf_str(&c->what));
		goto out;
	}
	rc = 0;
out:
	bb_buf_release(&q);
	return rc;
}

int
bb_s3_mpu_list_parts_finish(struct bb_s3_call *c, int rc, const struct bb_error *http_err,
    bb_s3_part_fn fn, void *ctx, int *more, enum bb_checksum_alg *upload_alg,
    struct bb_aws_error *ae, struct bb_error *err)
{
	const char *what = bb_buf_str(&c->what);
	struct bb_s3_part part;
	struct bb_xml *doc = NULL;
	const struct bb_xml *p;
	const char *ck;
	uint64_t v;

	*more = 0;
	if (call_check(c, rc, http_err, ae, err) < 0)
		return -1;
	rc = -1;
	doc = xml_doc(bb_buf_str(&c->resp.body), c->resp.body.len, "ListParts");
	if (doc == NULL) {
		bb_error_set(err, BB_ERR_REMOTE, "%s: unexpected response", what);
		goto out;
	}
	if (upload_alg) {
		*upload_alg = bb_checksum_alg_parse(xml_text_of(doc, "ChecksumAlgorithm"));
		if (*upload_alg != BB_CKSUM_SHA256 && *upload_alg != BB_CKSUM_CRC32C)
			*upload_alg = BB_CKSUM_NONE;
	}
	for (p = bb_xml_child(doc, "Part"); p != NULL; p = bb_xml_next(p, "Part")) {
		memset(&part, 0, sizeof(part));
		if (parse_u64(bb_xml_child_text(p, "PartNumber"), &v) < 0 || v < 1 || v > 10000) {
			bb_error_set(err, BB_ERR_REMOTE, "%s: bad PartNumber", what);
			goto out;
		}
		part.number = (int)v;
		copy_field(part.etag, sizeof(part.etag), bb_xml_child_text(p, "ETag"));
		if ((ck = bb_xml_child_text(p, "ChecksumSHA256")) != NULL)
			part.ck_alg = BB_CKSUM_SHA256;
		else if ((ck = bb_xml_child_text(p, "ChecksumCRC32C")) != NULL)
			part.ck_alg = BB_CKSUM_CRC32C;
		copy_field(part.checksum, sizeof(part.checksum), ck);
		if (parse_u64(bb_xml_child_text(p, "Size"), &v) == 0)
			part.size = v;
		if (fn(&part, ctx) != 0) {
			rc = 0;
			goto out;
		}
	}
	if (xml_truncated(doc)) {
		bb_buf_reset(&c->mark1);
		if (bb_buf_adds(&c->mark1, xml_text_of(doc, "NextPartNumberMarker")) < 0 ||
		    c->mark1.len == 0) {
			bb_error_set(err, BB_ERR_REMOTE, "%s: truncated without a marker", what);
			goto out;
		}
		c->paged = *more = 1;
	}
	rc = 0;
out:
	bb_xml_free(doc);
	return rc;
}

int
bb_s3_mpu_list_parts(struct bb_aws *aws, const char *bucket, const char *key,
    const char *upload_id, bb_s3_part_fn fn, void *ctx, struct bb_aws_error *ae,
    struct bb_error *err)
{
	struct bb_s3_call c;
	struct bb_error herr;
	int rc = -1, more = 1;

	bb_s3_call_init(&c);
	bb_aws_error_clear(ae);
	while (more) {
		bb_error_clear(&herr);
		if (bb_s3_mpu_list_parts_prepare(aws, bucket, key, upload_id, &c, err) < 0 ||
		    bb_s3_mpu_list_parts_finish(&c, call_run(aws, &c, &herr), &herr, fn, ctx,
		    &more, NULL, ae, err) < 0)
			goto out;
	}
	rc = 0;
out:
	bb_s3_call_release(&c);
	return rc;
}

int
bb_s3_mpu_list_prepare(struct bb_aws *aws, const char *bucket, const char *key,
    struct bb_s3_call *c, struct bb_error *err)
{
	struct bb_buf q = BB_BUF_INIT;
	struct bb_aws_query aq;
	int rc = -1;

	what_of(&c->what, "ListMultipartUploads", bucket, key);
	bb_buf_reset(&c->body);
	if (!c->paged) {
		bb_buf_reset(&c->mark1);
		bb_buf_reset(&c->mark2);
	}
	c->paged = 0;
	if (bb_buf_adds(&q, "uploads&") < 0)
		goto nomem;
	bb_aws_query_init(&aq, &q);
	if (bb_aws_query_add(&aq, "encoding-type", "url") < 0 ||
	    bb_aws_query_add(&aq, "key-marker", c->mark1.len ? c->mark1.data : NULL) < 0 ||
	    bb_aws_query_add(&aq, "prefix", key) < 0 ||
	    bb_aws_query_add(&aq, "upload-id-marker", c->mark2.len ? c->mark2.data : NULL) < 0)
		goto nomem;
	if (call_setup(aws, c, "GET", bucket, "", q.data, NULL, err) < 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
out:
	if (rc < 0)
		bb_error_prefix(err, "%s", bb_buf_str(&c->what));
	bb_buf_release(&q);
	return rc;
}

int
bb_s3_mpu_list_finish(struct bb_s3_call *c, int rc, const struct bb_error *http_err,
    const char *key, bb_s3_upload_fn fn, void *ctx, int *more, struct bb_aws_error *ae,
    struct bb_error *err)
{
	const char *what = bb_buf_str(&c->what);
	struct bb_buf k = BB_BUF_INIT;
	struct bb_s3_upload u;
	struct bb_xml *doc = NULL;
	const struct bb_xml *up;
	const char *raw, *id;
	int url_enc;

	*more = 0;
	if (call_check(c, rc, http_err, ae, err) < 0)
		return -1;
	rc = -1;
	doc = xml_doc(bb_buf_str(&c->resp.body), c->resp.body.len, "ListMultipartUploads");
	if (doc == NULL) {
		bb_error_set(err, BB_ERR_REMOTE, "%s: unexpected response", what);
		goto out;
	}
	url_enc = strcmp(xml_text_of(doc, "EncodingType"), "url") == 0;
	for (up = bb_xml_child(doc, "Upload"); up != NULL; up = bb_xml_next(up, "Upload")) {
		raw = bb_xml_child_text(up, "Key");
		id = bb_xml_child_text(up, "UploadId");
		if (raw == NULL || id == NULL) {
			bb_error_set(err, BB_ERR_REMOTE, "%s: bad Upload entry", what);
			goto out;
		}
		if (listed_key(raw, url_enc, &k) < 0) {
			bb_error_set(err, BB_ERR_REMOTE, "%s: bad Key", what);
			goto out;
		}
		if (strcmp(bb_buf_str(&k), key) != 0)
			continue;
		u.key = bb_buf_str(&k);
		u.upload_id = id;
		u.initiated = xml_text_of(up, "Initiated");
		if (fn(&u, ctx) != 0) {
			rc = 0;
			goto out;
		}
	}
	if (xml_truncated(doc)) {
		bb_buf_reset(&c->mark2);
		if (bb_buf_adds(&c->mark2, xml_text_of(doc, "NextUploadIdMarker")) < 0 ||
		    bb_buf_grow(&c->mark2, 0) < 0) {
			bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
			goto out;
		}
		if ((raw = bb_xml_child_text(doc, "NextKeyMarker")) == NULL) {
			bb_error_set(err, BB_ERR_REMOTE, "%s: truncated without a marker", what);
			goto out;
		}
		if (listed_key(raw, url_enc, &c->mark1) < 0) {
			bb_error_set(err, BB_ERR_REMOTE, "%s: bad NextKeyMarker", what);
			goto out;
		}
		c->paged = *more = 1;
	}
	rc = 0;
out:
	bb_xml_free(doc);
	bb_buf_release(&k);
	return rc;
}

int
bb_s3_mpu_list(struct bb_aws *aws, const char *bucket, const char *key,
    bb_s3_upload_fn fn, void *ctx, struct bb_aws_error *ae, struct bb_error *err)
{
	struct bb_s3_call c;
	struct bb_error herr;
	int rc = -1, more = 1;

	bb_s3_call_init(&c);
	bb_aws_error_clear(ae);
	while (more) {
		bb_error_clear(&herr);
		if (bb_s3_mpu_list_prepare(aws, bucket, key, &c, err) < 0 ||
		    bb_s3_mpu_list_finish(&c, call_run(aws, &c, &herr), &herr, key, fn, ctx,
		    &more, ae, err) < 0)
			goto out;
	}
	rc = 0;
out:
	bb_s3_call_release(&c);
	return rc;
}

/* ---- ListObjectsV2 ---- */

int
bb_s3_list_parse(const char *body, size_t len, int url_encoded, bb_s3_list_fn fn,
    void *ctx, struct bb_buf *next_token, struct bb_error *err)
{
	static const char *const tags[2] = { "Contents", "CommonPrefixes" };
	struct bb_buf key = BB_BUF_INIT;
	struct bb_s3_entry e;
	struct bb_xml *doc;
	const struct bb_xml *x;
	const char *s;
	size_t k;
	int rc = -1;

	bb_buf_reset(next_token);
	doc = xml_doc(body, len, "ListBucketResult");
	if (doc == NULL) {
		bb_error_set(err, BB_ERR_REMOTE, "ListObjectsV2: unexpected response");
		goto out;
	}
	if ((s = bb_xml_child_text(doc, "EncodingType")) != NULL)
		url_encoded = strcmp(s, "url") == 0;
	for (k = 0; k < 2; k++) {
		for (x = bb_xml_child(doc, tags[k]); x != NULL; x = bb_xml_next(x, tags[k])) {
			memset(&e, 0, sizeof(e));
			e.is_prefix = k == 1;
			if ((s = bb_xml_child_text(x, k == 0 ? "Key" : "Prefix")) == NULL) {
				bb_error_set(err, BB_ERR_REMOTE, "ListObjectsV2: entry without a key");
				goto out;
			}
			if (listed_key(s, url_encoded, &key) < 0) {
				bb_error_set(err, BB_ERR_REMOTE, "ListObjectsV2: bad key encoding");
				goto out;
			}
			e.key = bb_buf_str(&key);
			if (k == 0) {
				if (parse_u64(bb_xml_child_text(x, "Size"), &e.size) < 0) {
					bb_error_set(err, BB_ERR_REMOTE,
					    "ListObjectsV2: bad Size for '%.200s'", e.key);
					goto out;
				}
				e.etag = xml_text_of(x, "ETag");
				e.last_modified = xml_text_of(x, "LastModified");
			}
			if (fn(&e, ctx) != 0) {
				rc = 1;
				goto out;
			}
		}
	}
	if (xml_truncated(doc) &&
	    (bb_buf_adds(next_token, xml_text_of(doc, "NextContinuationToken")) < 0 ||
	    next_token->len == 0)) {
		bb_error_set(err, BB_ERR_REMOTE,
		    "ListObjectsV2: truncated without a continuation token");
		goto out;
	}
	rc = 0;
out:
	bb_xml_free(doc);
	bb_buf_release(&key);
	return rc;
}

int
bb_s3_list_v2(struct bb_aws *aws, const char *bucket, const char *prefix,
    const char *delimiter, bb_s3_list_fn fn, void *ctx, struct bb_aws_error *ae,
    struct bb_error *err)
{
	struct bb_buf what = BB_BUF_INIT, q = BB_BUF_INIT, token = BB_BUF_INIT;
	struct bb_http_resp resp;
	struct bb_aws_query aq;
	int rc = -1, r;

	bb_http_resp_init(&resp);
	bb_buf_addf(&what, "ListObjectsV2 s3://%s/%s", bucket, prefix ? prefix : "");
	for (;;) {
		bb_buf_reset(&q);
		bb_aws_query_init(&aq, &q);
		if (bb_aws_query_add(&aq, "list-type", "2") < 0 ||
		    bb_aws_query_add(&aq, "continuation-token", token.len ? token.data : NULL) < 0 ||
		    bb_aws_query_add(&aq, "delimiter", delimiter) < 0 ||
		    bb_aws_query_add(&aq, "encoding-type", "url") < 0 ||
		    bb_aws_query_add(&aq, "prefix", prefix) < 0) {
			bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
			goto out;
		}
		if (s3_call(aws, "GET", bucket, "", q.data, what.data, NULL, 0, NULL, &resp, ae,
		    err) < 0)
			goto out;
		r = bb_s3_list_parse(bb_buf_str(&resp.body), resp.body.len, 1, fn, ctx, &token, err);
		if (r < 0) {
			bb_error_prefix(err, "s3://%s", bucket);
			goto out;
		}
		if (r == 1 || token.len == 0)
			break;
	}
	rc = 0;
out:
	bb_buf_release(&what);
	bb_buf_release(&q);
	bb_buf_release(&token);
	bb_http_resp_release(&resp);
	return rc;
}
