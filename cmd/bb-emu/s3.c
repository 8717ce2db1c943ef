/*
 * s3.c - the S3 operations of bb-emu (rest-xml): buckets, objects with
 * Range and conditions, ListObjectsV2 (and V1), multipart uploads, batch
 * delete. The server (server.c) has already authenticated the request,
 * decoded and hashed its body and verified Content-MD5 and checksums;
 * here are the S3 semantics and the response shapes (BEDROCK.md 4).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aws.h"
#include "emu.h"
#include "hash.h"
#include "json.h"
#include "xml.h"

#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"
#define MIN_PART_SIZE (5ULL << 20)
#define MAX_PARTS 10000

/* ---- helpers ---- */

/* <Name>escaped value</Name> */
static void
xml_elem(struct bb_buf *out, const char *name, const char *value)
{
	bb_buf_addf(out, "<%s>", name);
	bb_xml_add_escaped(out, value, strlen(value));
	bb_buf_addf(out, "</%s>", name);
}

/* URL-encode all but unreserved and '/'. With form set, as S3 lists keys
 * for encoding-type=url: a space is '+' ("a b" lists as "a+b"). */
static void
url_encode(struct bb_buf *out, const char *s, int form)
{
	size_t n;

	for (;;) {
		n = form ? strcspn(s, " ") : strlen(s);
		bb_aws_uri_encode(out, s, n, 1);
		if (s[n] == '\0')
			break;
		bb_buf_addc(out, '+');
		s += n + 1;
	}
}

static void
key_elem(struct bb_buf *out, const char *name, const char *value, int enc_url)
{
	struct bb_buf tmp = BB_BUF_INIT;

	if (enc_url) {
		url_encode(&tmp, value, 1);
		xml_elem(out, name, bb_buf_str(&tmp));
	} else
		xml_elem(out, name, value);
	bb_buf_release(&tmp);
}

void
emu_s3_error(struct emu_response *resp, const struct emu_request *req, int status,
    const char *code, const char *fmt, ...)
{
	struct bb_buf msg = BB_BUF_INIT;
	struct bb_buf bucket = BB_BUF_INIT, key = BB_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	bb_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	resp->status = status;
	bb_buf_reset(&resp->body);
	bb_buf_adds(&resp->body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
	xml_elem(&resp->body, "Code", code);
	xml_elem(&resp->body, "Message", bb_buf_str(&msg));
	/* S3 names what was not found */
	if (req && req->path && (strcmp(code, "NoSuchBucket") == 0 ||
	    strcmp(code, "NoSuchKey") == 0) &&
	    emu_s3_parse_target(req, &bucket, &key) == 0) {
		if (code[6] == 'B')
			xml_elem(&resp->body, "BucketName", bb_buf_str(&bucket));
		else
			xml_elem(&resp->body, "Key", bb_buf_str(&key));
	}
	if (req && req->path)
		xml_elem(&resp->body, "Resource", req->path);
	if (req && req->request_id)
		xml_elem(&resp->body, "RequestId", req->request_id);
	bb_buf_adds(&resp->body, "</Error>");
	bb_http_headers_set(&resp->headers, "Content-Type", "application/xml");
	bb_buf_release(&msg);
	bb_buf_release(&bucket);
	bb_buf_release(&key);
}

static void
xml_ok(struct emu_response *resp, struct bb_buf *body)
{
	resp->status = 200;
	bb_buf_release(&resp->body);
	resp->body = *body;
	bb_buf_init(body);
	bb_http_headers_set(&resp->headers, "Content-Type", "application/xml");
}

static int
host_bucket(const struct emu_request *req, struct bb_buf *bucket)
{
	const char *host = bb_http_headers_get(&req->headers, "Host");
	const char *end, *s3;
	size_t n;

	if (host == NULL || host[0] == '[')
		return 0;
	n = strcspn(host, ":");
	end = host + n;
	/* bucket.localhost, bucket.s3.REGION.amazonaws.com, bucket.s3.amazonaws.com */
	if (n > 10 && strncasecmp(end - 10, ".localhost", 10) == 0) {
		bb_buf_add(bucket, host, n - 10);
		return 1;
	}
	s3 = strstr(host, ".s3.");
	if (s3 == NULL)
		s3 = strstr(host, ".s3-");
	if (s3 && s3 < end && s3 > host) {
		bb_buf_add(bucket, host, (size_t)(s3 - host));
		return 1;
	}
	return 0;
}

int
emu_s3_parse_target(const struct emu_request *req, struct bb_buf *bucket, struct bb_buf *key)
{
	const char *p = req->path, *slash;

	bb_buf_reset(bucket);
	bb_buf_reset(key);
	if (*p == '/')
		p++;
	if (host_bucket(req, bucket))
		return emu_pct_decode(p, strlen(p), key, 0);
	slash = strchr(p, '/');
	if (emu_pct_decode(p, slash ? (size_t)(slash - p) : strlen(p), bucket, 0) < 0)
		return -1;
	if (slash == NULL)
		return 0;
	return emu_pct_decode(slash + 1, strlen(slash + 1), key, 0);
}

static int
has_param(const struct emu_request *req, const char *name)
{
	struct bb_buf v = BB_BUF_INIT;
	int r = emu_query_param(req->query, name, &v);

	bb_buf_release(&v);
	return r == 1;
}

static void
set_etag(struct emu_response *resp, const unsigned char md5[16])
{
	char etag[35];

	emu_etag(md5, etag);
	bb_http_headers_set(&resp->headers, "ETag", etag);
}

static void
lower_copy(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < size; i++)
		dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] + 32 : src[i]);
	dst[i] = '\0';
}

static void
upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 32);
}

static void
set_checksum_header(struct emu_response *resp, const char *alg, const char *value)
{
	char name[48], low[16];

	if (!alg[0] || !value[0])
		return;
	lower_copy(low, sizeof(low), alg);
	snprintf(name, sizeof(name), "x-amz-checksum-%s", low);
	bb_http_headers_set(&resp->headers, name, value);
	bb_http_headers_set(&resp->headers, "x-amz-checksum-type",
	    strchr(value, '-') ? "COMPOSITE" : "FULL_OBJECT");
}

/* x-amz-meta-* headers as a JSON object text (NULL when none). */
static char *
meta_from_headers(const struct emu_request *req)
{
	struct bb_buf j = BB_BUF_INIT;
	size_t i;
	int any = 0;
	char low[256];

	bb_buf_addc(&j, '{');
	for (i = 0; i < req->headers.n; i++) {
		const char *n = req->headers.v[i].name, *v = req->headers.v[i].value;

		if (strncasecmp(n, "x-amz-meta-", 11) != 0 || strlen(n) >= sizeof(low))
			continue;
		lower_copy(low, sizeof(low), n + 11);
		if (any)
			bb_buf_addc(&j, ',');
		if (bb_json_add_str(&j, low, strlen(low)) < 0)
			continue;
		bb_buf_addc(&j, ':');
		if (bb_json_add_str(&j, v, strlen(v)) < 0)
			bb_buf_adds(&j, "\"\"");
		any = 1;
	}
	bb_buf_addc(&j, '}');
	if (!any) {
		bb_buf_release(&j);
		return NULL;
	}
	return bb_buf_detach(&j, NULL);
}

static void
meta_to_headers(struct emu_response *resp, const char *meta_json)
{
	struct bb_json *j = NULL;
	char name[300];
	size_t i;

	if (meta_json == NULL || bb_json_parse(meta_json, strlen(meta_json), 4, &j, NULL) < 0)
		return;
	for (i = 0; j->type == BB_JSON_OBJECT && i < j->n; i++) {
		if (j->items[i]->type != BB_JSON_STRING)
			continue;
		snprintf(name, sizeof(name), "x-amz-meta-%s", j->keys[i]);
		bb_http_headers_add(&resp->headers, name, j->items[i]->str);
	}
	bb_json_free(j);
}

static const char *
content_type_of(const struct emu_request *req)
{
	const char *ct = bb_http_headers_get(&req->headers, "Content-Type");

	return ct && *ct ? ct : "binary/octet-stream";
}

static int
check_key(struct emu_response *resp, const struct emu_request *req, const char *key)
{
	if (strlen(key) > 1024) {
		emu_s3_error(resp, req, 400, "KeyTooLongError", "Your key is too long");
		return -1;
	}
	if (!emu_store_valid_key(key)) {
		emu_s3_error(resp, req, 400, "InvalidArgument",
		    "Object key is not allowed here (empty, '.', '..' segments, leading '/', "
		    "control characters or invalid UTF-8)");
		return -1;
	}
	return 0;
}

static int
need_bucket(struct emu *e, struct emu_response *resp, const struct emu_request *req,
    const char *bucket)
{
	if (!emu_store_valid_bucket(bucket) || !emu_store_bucket_exists(e->store, bucket)) {
		emu_s3_error(resp, req, 404, "NoSuchBucket", "The specified bucket does not exist");
		return -1;
	}
	return 0;
}

static void
store_failed(struct emu_response *resp, const struct emu_request *req, const struct bb_error *err)
{
	if (err->kind == BB_ERR_NOTFOUND)
		emu_s3_error(resp, req, 404, "NoSuchBucket", "The specified bucket does not exist");
	else
		emu_s3_error(resp, req, 500, "InternalError", "%s", err->msg);
}

/* ---- buckets ---- */

struct bucket_list {
	struct bb_buf *out;
};

static int
list_bucket_cb(const char *name, double ctime, void *ctx)
{
	struct bucket_list *bl = ctx;
	char ts[32];

	emu_format_iso8601(ctime, ts);
	bb_buf_adds(bl->out, "<Bucket>");
	xml_elem(bl->out, "Name", name);
	xml_elem(bl->out, "CreationDate", ts);
	bb_buf_adds(bl->out, "</Bucket>");
	return 0;
}

static void
list_buckets(struct emu *e, const struct emu_request *req, struct emu_response *resp)
{
	struct bb_buf out = BB_BUF_INIT;
	struct bucket_list bl = { &out };

	bb_buf_addf(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListAllMyBucketsResult xmlns=\"%s\"><Owner><ID>%s</ID><DisplayName>bb-emu</DisplayName>"
	    "</Owner><Buckets>", S3_NS, e->account);
	emu_store_list_buckets(e->store, list_bucket_cb, &bl);
	bb_buf_adds(&out, "</Buckets></ListAllMyBucketsResult>");
	xml_ok(resp, &out);
}

static void
create_bucket(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *bucket)
{
	struct bb_error err = BB_ERROR_INIT;
	char loc[80];

	if (!emu_store_valid_bucket(bucket)) {
		emu_s3_error(resp, req, 400, "InvalidBucketName", "The specified bucket is not valid.");
		return;
	}
	if (emu_store_bucket_exists(e->store, bucket) && strcmp(e->region, "us-east-1") != 0) {
		emu_s3_error(resp, req, 409, "BucketAlreadyOwnedByYou",
		    "Your previous request to create the named bucket succeeded and you already own it.");
		return;
	}
	if (emu_store_create_bucket(e->store, bucket, &err) < 0) {
		emu_s3_error(resp, req, 500, "InternalError", "%s", err.msg);
		return;
	}
	snprintf(loc, sizeof(loc), "/%s", bucket);
	bb_http_headers_set(&resp->headers, "Location", loc);
	resp->status = 200;
}

static void
delete_bucket(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *bucket)
{
	struct bb_error err = BB_ERROR_INIT;

	if (need_bucket(e, resp, req, bucket) < 0)
		return;
	if (emu_store_delete_bucket(e->store, bucket, &err) < 0) {
		if (err.kind == BB_ERR_INPUT)
			emu_s3_error(resp, req, 409, "BucketNotEmpty",
			    "The bucket you tried to delete is not empty");
		else
			store_failed(resp, req, &err);
		return;
	}
	resp->status = 204;
}

/* ---- listing ---- */

struct list_ctx {
	const char *prefix, *delim;
	size_t plen, dlen;
	long max, count;
	int enc_url, v2, truncated;
	struct bb_buf contents, prefixes;
	struct bb_buf last_cp;     /* the common prefix last emitted */
	struct bb_buf next;        /* "K<key>" or "P<prefix>": where to go on */
	struct bb_buf last_key;    /* V1 NextMarker */
};

static int
list_cb(const char *key, const struct emu_object_info *info, void *vctx)
{
	struct list_ctx *c = vctx;
	const char *d;
	char ts[32], size[32];

	if (c->last_cp.len && strncmp(key, c->last_cp.data, c->last_cp.len) == 0)
		return 0;
	if (c->count >= c->max) {
		c->truncated = 1;
		return 1;
	}
	if (c->dlen && (d = strstr(key + c->plen, c->delim)) != NULL) {
		bb_buf_reset(&c->last_cp);
		bb_buf_add(&c->last_cp, key, (size_t)(d - key) + c->dlen);
		bb_buf_adds(&c->prefixes, "<CommonPrefixes>");
		key_elem(&c->prefixes, "Prefix", c->last_cp.data, c->enc_url);
		bb_buf_adds(&c->prefixes, "</CommonPrefixes>");
		bb_buf_reset(&c->next);
		bb_buf_addc(&c->next, 'P');
		bb_buf_adds(&c->next, c->last_cp.data);
		bb_buf_reset(&c->last_key);
		bb_buf_adds(&c->last_key, c->last_cp.data);
		c->count++;
		return 0;
	}
	emu_format_iso8601(info->mtime, ts);
	snprintf(size, sizeof(size), "%" PRIu64, info->size);
	bb_buf_adds(&c->contents, "<Contents>");
	key_elem(&c->contents, "Key", key, c->enc_url);
	xml_elem(&c->contents, "LastModified", ts);
	xml_elem(&c->contents, "ETag", info->etag);
	xml_elem(&c->contents, "Size", size);
	if (info->checksum_alg[0])
		xml_elem(&c->contents, "ChecksumAlgorithm", info->checksum_alg);
	bb_buf_adds(&c->contents, "<StorageClass>STANDARD</StorageClass></Contents>");
	bb_buf_reset(&c->next);
	bb_buf_addc(&c->next, 'K');
	bb_buf_adds(&c->next, key);
	bb_buf_reset(&c->last_key);
	bb_buf_adds(&c->last_key, key);
	c->count++;
	return 0;
}

static void
list_objects(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *bucket, int v2)
{
	struct bb_buf prefix = BB_BUF_INIT, delim = BB_BUF_INIT, maxk = BB_BUF_INIT,
	    token = BB_BUF_INIT, start = BB_BUF_INIT, enc = BB_BUF_INIT, out = BB_BUF_INIT,
	    tok_raw = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	struct list_ctx c;
	const char *from = NULL;
	char num[32];

	memset(&c, 0, sizeof(c));
	c.v2 = v2;
	c.max = 1000;
	if (emu_query_param(req->query, "prefix", &prefix) < 0 ||
	    emu_query_param(req->query, "delimiter", &delim) < 0 ||
	    emu_query_param(req->query, v2 ? "start-after" : "marker", &start) < 0 ||
	    emu_query_param(req->query, "continuation-token", &token) < 0) {
		emu_s3_error(resp, req, 400, "InvalidArgument", "Badly encoded query parameter");
		goto out;
	}
	if (emu_query_param(req->query, "max-keys", &maxk) == 1) {
		char *end;
		long v;

		errno = 0;
		v = strtol(bb_buf_str(&maxk), &end, 10);
		if (errno || *end || end == maxk.data || v < 0) {
			emu_s3_error(resp, req, 400, "InvalidArgument",
			    "Provided max-keys not an integer or within integer range");
			goto out;
		}
		c.max = v > 1000 ? 1000 : v;
	}
	if (emu_query_param(req->query, "encoding-type", &enc) == 1) {
		if (strcmp(bb_buf_str(&enc), "url") != 0) {
			emu_s3_error(resp, req, 400, "InvalidArgument", "Invalid Encoding Method specified in Request");
			goto out;
		}
		c.enc_url = 1;
	}
	if (need_bucket(e, resp, req, bucket) < 0)
		goto out;
	c.prefix = bb_buf_str(&prefix);
	c.plen = prefix.len;
	c.delim = bb_buf_str(&delim);
	c.dlen = delim.len;
	from = bb_buf_str(&start);
	if (v2 && token.len) {
		size_t n = 0;

		if (bb_buf_grow(&tok_raw, token.len) < 0 ||
		    bb_base64_decode(token.data, token.len, (unsigned char *)tok_raw.data, &n) < 0 ||
		    n < 1 || memchr(tok_raw.data, '\0', n) != NULL ||
		    (tok_raw.data[0] != 'K' && tok_raw.data[0] != 'P')) {
			emu_s3_error(resp, req, 400, "InvalidArgument",
			    "The continuation token provided is incorrect");
			goto out;
		}
		tok_raw.data[n] = '\0';
		tok_raw.len = n;
		from = tok_raw.data + 1;
		if (tok_raw.data[0] == 'P')
			bb_buf_adds(&c.last_cp, from);
	} else if (!v2 && c.dlen && start.len) {
		/* V1 marker after a common prefix: skip the whole group */
		if (strstr(from + c.plen, c.delim) &&
		    strcmp(strstr(from + c.plen, c.delim) + c.dlen, "") == 0)
			bb_buf_adds(&c.last_cp, from);
	}
	if (c.max > 0 && emu_store_list(e->store, bucket, c.prefix, from, list_cb, &c, &err) < 0) {
		store_failed(resp, req, &err);
		goto out;
	}
	if (c.max == 0) {
		/* only tells whether anything is there */
		c.count = 0;
	}
	bb_buf_addf(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"%s\">",
	    S3_NS);
	xml_elem(&out, "Name", bucket);
	key_elem(&out, "Prefix", c.prefix, c.enc_url);
	if (c.dlen)
		key_elem(&out, "Delimiter", c.delim, c.enc_url);
	snprintf(num, sizeof(num), "%ld", c.max);
	xml_elem(&out, "MaxKeys", num);
	if (c.enc_url)
		xml_elem(&out, "EncodingType", "url");
	if (v2) {
		snprintf(num, sizeof(num), "%ld", c.count);
		xml_elem(&out, "KeyCount", num);
		if (token.len)
			xml_elem(&out, "ContinuationToken", token.data);
		if (start.len)
			key_elem(&out, "StartAfter", start.data, c.enc_url);
	} else
		key_elem(&out, "Marker", bb_buf_str(&start), c.enc_url);
	xml_elem(&out, "IsTruncated", c.truncated ? "true" : "false");
	if (c.truncated && v2) {
		char *b64 = malloc(bb_base64_size(c.next.len));

		if (b64) {
			bb_base64_encode(c.next.data, c.next.len, b64);
			xml_elem(&out, "NextContinuationToken", b64);
			free(b64);
		}
	} else if (c.truncated && c.dlen)
		key_elem(&out, "NextMarker", bb_buf_str(&c.last_key), c.enc_url);
	bb_buf_add(&out, bb_buf_str(&c.contents), c.contents.len);
	bb_buf_add(&out, bb_buf_str(&c.prefixes), c.prefixes.len);
	bb_buf_adds(&out, "</ListBucketResult>");
	xml_ok(resp, &out);
out:
	bb_buf_release(&prefix);
	bb_buf_release(&delim);
	bb_buf_release(&maxk);
	bb_buf_release(&token);
	bb_buf_release(&tok_raw);
	bb_buf_release(&start);
	bb_buf_release(&enc);
	bb_buf_release(&out);
	bb_buf_release(&c.contents);
	bb_buf_release(&c.prefixes);
	bb_buf_release(&c.last_cp);
	bb_buf_release(&c.next);
	bb_buf_release(&c.last_key);
}

/* ---- objects ---- */

static void
put_object(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *bucket, const char *key)
{
	struct emu_object_info info, old;
	struct bb_error err = BB_ERROR_INIT;
	const char *inm = bb_http_headers_get(&req->headers, "If-None-Match");
	const char *im = bb_http_headers_get(&req->headers, "If-Match");

	memset(&info, 0, sizeof(info));
	if (need_bucket(e, resp, req, bucket) < 0 || check_key(resp, req, key) < 0)
		return;
	if (bb_http_headers_get(&req->headers, "x-amz-copy-source")) {
		emu_s3_error(resp, req, 501, "NotImplemented", "CopyObject is not implemented by bb-emu");
		return;
	}
	if (req->body_file == NULL || !req->have_md5) {
		emu_s3_error(resp, req, 500, "InternalError", "no body");
		return;
	}
	if (inm || im) {
		int exists = emu_store_stat(e->store, bucket, key, &old, NULL) == 0;

		if ((inm && strcmp(inm, "*") == 0 && exists) ||
		    (im && (!exists || (strcmp(im, "*") != 0 && strcmp(im, old.etag) != 0)))) {
			if (exists)
				emu_object_info_release(&old);
			emu_s3_error(resp, req, 412, "PreconditionFailed",
			    "At least one of the pre-conditions you specified did not hold");
			return;
		}
		if (exists)
			emu_object_info_release(&old);
	}
	info.size = req->body_size;
	emu_etag(req->body_md5, info.etag);
	info.mtime = emu_wall_now();
	snprintf(info.content_type, sizeof(info.content_type), "%s", content_type_of(req));
	snprintf(info.checksum_alg, sizeof(info.checksum_alg), "%s", req->checksum_alg);
	snprintf(info.checksum, sizeof(info.checksum), "%s", req->checksum);
	info.meta_json = meta_from_headers(req);
	if (emu_store_commit(e->store, bucket, key, req->body_file, &info, &err) < 0)
		store_failed(resp, req, &err);
	else {
		resp->status = 200;
		set_etag(resp, req->body_md5);
		set_checksum_header(resp, req->checksum_alg, req->checksum);
	}
	emu_object_info_release(&info);
}

/* Parse "bytes=..." against size: 1 with [*first, *last], 0 when there is
 * no usable range (the whole object), -1 when unsatisfiable. */
static int
parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
	unsigned long long a, b;
	char *end;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	h += 6;
	if (*h == '-') {
		errno = 0;
		b = strtoull(h + 1, &end, 10);
		if (errno || *end || end == h + 1)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return 1;
	}
	errno = 0;
	a = strtoull(h, &end, 10);
	if (errno || end == h || *end != '-')
		return 0;
	h = end + 1;
	if (*h == '\0')
		b = size ? size - 1 : 0;
	else {
		b = strtoull(h, &end, 10);
		if (errno || *end || b < a)
			return 0;
		if (b >= size)
			b = size - 1;
	}
	if (a >= size)
		return -1;
	*first = a;
	*last = b;
	return 1;
}

/* A GET body read across an object's files (one made by a multipart
 * upload): the reader and where the body starts in the object. */
struct get_body {
	struct emu_store_reader *rd;
	uint64_t base;
};

static ssize_t
get_body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct get_body *g = cls;

	return emu_store_reader_pread(g->rd, buf, max, g->base + pos);
}

static void
get_body_free(void *cls)
{
	struct get_body *g = cls;

	emu_store_reader_free(g->rd);
	free(g);
}

static void
get_object(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *bucket, const char *key)
{
	struct emu_object_info info;
	struct bb_error err = BB_ERROR_INIT;
	const char *inm = bb_http_headers_get(&req->headers, "If-None-Match");
	const char *im = bb_http_headers_get(&req->headers, "If-Match");
	const char *mode = bb_http_headers_get(&req->headers, "x-amz-checksum-mode");
	struct emu_store_reader *rd = NULL;
	struct get_body *g;
	uint64_t first = 0, last = 0;
	char buf[80], date[40];
	int fd = -1, r;
	off_t off;

	memset(&info, 0, sizeof(info));
	if (need_bucket(e, resp, req, bucket) < 0)
		return;
	if (has_param(req, "partNumber")) {
		emu_s3_error(resp, req, 501, "NotImplemented", "GetObject by partNumber is not implemented by bb-emu");
		return;
	}
	if (emu_store_reader_open(e->store, bucket, key, &rd, &info, &err) < 0) {
		if (err.kind == BB_ERR_NOTFOUND)
			emu_s3_error(resp, req, 404, "NoSuchKey", "The specified key does not exist.");
		else
			store_failed(resp, req, &err);
		return;
	}
	if (im && strcmp(im, "*") != 0 && strcmp(im, info.etag) != 0) {
		emu_s3_error(resp, req, 412, "PreconditionFailed",
		    "At least one of the pre-conditions you specified did not hold");
		goto out;
	}
	emu_format_http_date(info.mtime, date);
	bb_http_headers_set(&resp->headers, "ETag", info.etag);
	bb_http_headers_set(&resp->headers, "Last-Modified", date);
	if (inm && (strcmp(inm, "*") == 0 || strcmp(inm, info.etag) == 0)) {
		resp->status = 304;
		goto out;
	}
	r = parse_range(bb_http_headers_get(&req->headers, "Range"), info.size, &first, &last);
	if (r < 0) {
		emu_s3_error(resp, req, 416, "InvalidRange", "The requested range is not satisfiable");
		snprintf(buf, sizeof(buf), "bytes */%" PRIu64, info.size);
		bb_http_headers_set(&resp->headers, "Content-Range", buf);
		goto out;
	}
	bb_http_headers_set(&resp->headers, "Content-Type", info.content_type[0] ?
	    info.content_type : "binary/octet-stream");
	bb_http_headers_set(&resp->headers, "Accept-Ranges", "bytes");
	if (info.parts > 0) {
		snprintf(buf, sizeof(buf), "%ld", info.parts);
		bb_http_headers_set(&resp->headers, "x-amz-mp-parts-count", buf);
	}
	meta_to_headers(resp, info.meta_json);
	if (r == 1) {
		resp->status = 206;
		snprintf(buf, sizeof(buf), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last,
		    info.size);
		bb_http_headers_set(&resp->headers, "Content-Range", buf);
		resp->body_off = (off_t)first;
		resp->body_len = last - first + 1;
	} else {
		resp->status = 200;
		resp->body_off = 0;
		resp->body_len = info.size;
		if (mode && strcasecmp(mode, "ENABLED") == 0)
			set_checksum_header(resp, info.checksum_alg, info.checksum);
	}
	if (resp->body_len == 0)
		goto out;
	/* Bytes in one file are sent from it (sendfile); a body across the
	 * parts of a multipart object is read part after part. */
	r = emu_store_reader_fd(rd, (uint64_t)resp->body_off, resp->body_len, &fd, &off);
	if (r == 1) {
		resp->body_fd = fd;
		resp->body_off = off;
		fd = -1;
	} else if (r == 0 && (g = malloc(sizeof(*g))) != NULL) {
		g->rd = rd;
		g->base = (uint64_t)resp->body_off;
		rd = NULL;
		resp->body_read = get_body_read;
		resp->body_free = get_body_free;
		resp->body_cls = g;
	} else {
		bb_http_headers_release(&resp->headers);
		emu_s3_error(resp, req, 500, "InternalError", "cannot read the object: %s",
		    strerror(errno));
	}
out:
	if (fd >= 0)
		close(fd);
	emu_store_reader_free(rd);
	emu_object_info_release(&info);
}

static void
delete_object(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *bucket, const char *key)
{
	struct bb_error err = BB_ERROR_INIT;

	if (need_bucket(e, resp, req, bucket) < 0)
		return;
	if (emu_store_delete(e->store, bucket, key, &err) < 0)
		store_failed(resp, req, &err);
	else
		resp->status = 204;
}

/* ---- the two XML bodies we accept ---- */

/* The request body parsed, when it is XML whose root is root_name: the
 * root (free it with bb_xml_free), else NULL. */
static struct bb_xml *
xml_body(const struct emu_request *req, const char *root_name)
{
	struct bb_xml *doc = NULL;

	if (req->body == NULL || bb_xml_parse(req->body, req->body_len, &doc, NULL) < 0)
		return NULL;
	if (strcmp(bb_xml_name(doc), root_name) != 0) {
		bb_xml_free(doc);
		return NULL;
	}
	return doc;
}

/* The text of node's first child `name`: 1 with *text set, 0 when there
 * is none, -1 when that child holds elements rather than a value. */
static int
xml_value(const struct bb_xml *node, const char *name, const char **text)
{
	const struct bb_xml *c = bb_xml_child(node, name);

	if (c == NULL)
		return 0;
	if (bb_xml_child(c, NULL) != NULL)
		return -1;
	*text = bb_xml_text(c);
	return 1;
}

/* ---- multipart ---- */

static void
create_upload(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *bucket, const char *key)
{
	struct emu_object_info proto;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf out = BB_BUF_INIT;
	const char *alg = bb_http_headers_get(&req->headers, "x-amz-checksum-algorithm");
	char id[33];

	memset(&proto, 0, sizeof(proto));
	if (need_bucket(e, resp, req, bucket) < 0 || check_key(resp, req, key) < 0)
		return;
	snprintf(proto.content_type, sizeof(proto.content_type), "%s", content_type_of(req));
	if (alg) {
		if (bb_checksum_alg_parse(alg) == BB_CKSUM_NONE) {
			emu_s3_error(resp, req, 400, "InvalidRequest", "Unsupported checksum algorithm.");
			return;
		}
		snprintf(proto.checksum_alg, sizeof(proto.checksum_alg), "%s", alg);
		upper(proto.checksum_alg);
		bb_http_headers_set(&resp->headers, "x-amz-checksum-algorithm", proto.checksum_alg);
	}
	proto.meta_json = meta_from_headers(req);
	if (emu_store_upload_create(e->store, bucket, key, &proto, id, &err) < 0) {
		store_failed(resp, req, &err);
		goto out;
	}
	bb_buf_addf(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<InitiateMultipartUploadResult xmlns=\"%s\">", S3_NS);
	xml_elem(&out, "Bucket", bucket);
	xml_elem(&out, "Key", key);
	xml_elem(&out, "UploadId", id);
	bb_buf_adds(&out, "</InitiateMultipartUploadResult>");
	xml_ok(resp, &out);
out:
	emu_object_info_release(&proto);
	bb_buf_release(&out);
}

static int
upload_id_of(const struct emu_request *req, struct bb_buf *id)
{
	return emu_query_param(req->query, "uploadId", id) == 1;
}

static int
need_upload(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *id, const char *bucket, const char *key, struct emu_object_info *proto)
{
	if (need_bucket(e, resp, req, bucket) < 0)
		return -1;
	if (emu_store_upload_get(e->store, id, bucket, key, proto, NULL) < 0) {
		emu_s3_error(resp, req, 404, "NoSuchUpload",
		    "The specified upload does not exist. The upload ID may be invalid, or the "
		    "upload may have been aborted or completed.");
		return -1;
	}
	return 0;
}

static void
upload_part(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *bucket, const char *key, const char *id)
{
	struct bb_buf pn = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	struct emu_part_info part;
	char *end;
	long n;

	memset(&part, 0, sizeof(part));
	emu_query_param(req->query, "partNumber", &pn);
	errno = 0;
	n = strtol(bb_buf_str(&pn), &end, 10);
	if (errno || *end || end == pn.data || n < 1 || n > MAX_PARTS) {
		emu_s3_error(resp, req, 400, "InvalidArgument",
		    "Part number must be an integer between 1 and 10000, inclusive");
		goto out;
	}
	if (need_upload(e, req, resp, id, bucket, key, NULL) < 0)
		goto out;
	if (req->body_file == NULL || !req->have_md5) {
		emu_s3_error(resp, req, 500, "InternalError", "no body");
		goto out;
	}
	part.part_number = n;
	part.size = req->body_size;
	memcpy(part.md5, req->body_md5, 16);
	part.mtime = emu_wall_now();
	snprintf(part.checksum_alg, sizeof(part.checksum_alg), "%s", req->checksum_alg);
	snprintf(part.checksum, sizeof(part.checksum), "%s", req->checksum);
	if (emu_store_upload_put_part(e->store, id, n, req->body_file, &part, &err) < 0) {
		if (err.kind == BB_ERR_NOTFOUND)
			need_upload(e, req, resp, "-", bucket, key, NULL);
		else
			store_failed(resp, req, &err);
		goto out;
	}
	resp->status = 200;
	set_etag(resp, req->body_md5);
	set_checksum_header(resp, req->checksum_alg, req->checksum);
out:
	bb_buf_release(&pn);
}

static int
find_part(const struct emu_part_info *parts, size_t n, long num)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (parts[mid].part_number == num)
			return (int)mid;
		if (parts[mid].part_number < num)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* An ETag as sent in a part list, quotes optional, compared to an MD5. */
static int
etag_matches(const char *etag, const unsigned char md5[16])
{
	char hex[33];
	size_t n = strlen(etag);

	if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
		etag++;
		n -= 2;
	}
	bb_hex_encode(md5, 16, hex);
	return n == 32 && strncasecmp(etag, hex, 32) == 0;
}


/*
 * The checksum S3 keeps for an object made of parts uploaded with
 * checksums (COMPOSITE): the algorithm over the parts' raw checksums in
 * order, base64, then "-<parts>". Left out when a part has none.
 */
static void
composite_checksum(const struct emu_object_info *proto, const struct emu_part_info *parts,
    size_t n, struct emu_object_info *info)
{
	struct bb_checksum c;
	unsigned char raw[64];
	char b64[BB_CHECKSUM_B64];
	size_t i, rn;

	if (bb_checksum_init(&c, bb_checksum_alg_parse(proto->checksum_alg)) < 0)
		return;
	for (i = 0; i < n; i++) {
		if (strcasecmp(parts[i].checksum_alg, proto->checksum_alg) != 0 ||
		    strlen(parts[i].checksum) > 88 ||
		    bb_base64_decode(parts[i].checksum, strlen(parts[i].checksum), raw, &rn) < 0) {
			bb_checksum_release(&c);
			return;
		}
		bb_checksum_update(&c, raw, rn);
	}
	bb_checksum_final_base64(&c, b64);
	bb_checksum_release(&c);
	snprintf(info->checksum_alg, sizeof(info->checksum_alg), "%s", proto->checksum_alg);
	snprintf(info->checksum, sizeof(info->checksum), "%s-%zu", b64, n);
}

/*
 * Uploads completed lately, for a CompleteMultipartUpload sent again: S3
 * answers a retried Complete of an upload it has completed, with the same
 * parts, as it answered the first (whose answer may never have arrived),
 * where a NoSuchUpload would leave the client not knowing that its object
 * is there. Kept in memory, the last DONE_MAX; an upload completed before
 * a restart is NoSuchUpload.
 */
#define DONE_MAX 256

struct done_upload {
	char id[33];
	uint64_t parts;        /* bb_hash64 of the parts list, parts_key() */
	char *bucket, *key;
	char *xml;             /* the answer */
};

static struct done_upload done_ring[DONE_MAX];
static size_t done_next;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;

/* The parts list of a Complete request as one number (part numbers and
 * ETags, quotes and case aside); -1 when it does not parse. */
static int
parts_key(const struct bb_xml *doc, uint64_t *h)
{
	const struct bb_xml *part;
	struct bb_buf b = BB_BUF_INIT;
	const char *pnum, *etag;
	size_t n, i;

	for (part = bb_xml_child(doc, "Part"); part != NULL; part = bb_xml_next(part, "Part")) {
		if (xml_value(part, "PartNumber", &pnum) != 1 || xml_value(part, "ETag", &etag) != 1) {
			bb_buf_release(&b);
			return -1;
		}
		n = strlen(etag);
		if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
			etag++;
			n -= 2;
		}
		bb_buf_addf(&b, "%s:", pnum);
		for (i = 0; i < n; i++)
			bb_buf_addc(&b, (char)(etag[i] >= 'A' && etag[i] <= 'Z' ? etag[i] + 32 : etag[i]));
		bb_buf_addc(&b, ';');
	}
	*h = bb_hash64(b.data ? b.data : "", b.len);
	bb_buf_release(&b);
	return 0;
}

static void
done_remember(const char *id, uint64_t parts, const char *bucket, const char *key,
    const struct bb_buf *xml)
{
	struct done_upload *d;

	pthread_mutex_lock(&done_lock);
	d = &done_ring[done_next++ % DONE_MAX];
	free(d->bucket);
	free(d->key);
	free(d->xml);
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->parts = parts;
	d->bucket = strdup(bucket);
	d->key = strdup(key);
	d->xml = strndup(xml->data ? xml->data : "", xml->len);
	if (d->bucket == NULL || d->key == NULL || d->xml == NULL)
		d->id[0] = '\0';   /* out of memory: not remembered */
	pthread_mutex_unlock(&done_lock);
}

/* 1 with the first answer in out when id was completed here as bucket/key
 * with these parts, else 0. */
static int
done_replay(const char *id, uint64_t parts, const char *bucket, const char *key,
    struct bb_buf *out)
{
	size_t i;
	int found = 0;

	pthread_mutex_lock(&done_lock);
	for (i = 0; i < DONE_MAX && !found; i++) {
		const struct done_upload *d = &done_ring[i];

		if (d->id[0] && strcmp(d->id, id) == 0 && d->parts == parts &&
		    strcmp(d->bucket, bucket) == 0 && strcmp(d->key, key) == 0) {
			bb_buf_adds(out, d->xml);
			found = 1;
		}
	}
	pthread_mutex_unlock(&done_lock);
	return found;
}

static void
complete_upload(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *bucket, const char *key, const char *id)
{
	struct emu_object_info proto, info;
	struct emu_part_info *stored = NULL, *chosen = NULL;
	size_t nstored = 0, nchosen = 0, cap = 0, i;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf out = BB_BUF_INIT;
	struct bb_md5 m = { NULL };
	struct bb_xml *doc = NULL;
	const struct bb_xml *part;
	unsigned char md[16];
	uint64_t parts = 0;
	long prev = 0;

	memset(&proto, 0, sizeof(proto));
	memset(&info, 0, sizeof(info));
	if (need_upload(e, req, resp, id, bucket, key, &proto) < 0) {
		/* not in progress: completed already, with these parts? */
		if (resp->status == 404 && (doc = xml_body(req, "CompleteMultipartUpload")) != NULL &&
		    parts_key(doc, &parts) == 0 && done_replay(id, parts, bucket, key, &out)) {
			bb_http_headers_release(&resp->headers);
			bb_http_headers_init(&resp->headers);
			xml_ok(resp, &out);
		}
		goto out;
	}
	if ((doc = xml_body(req, "CompleteMultipartUpload")) == NULL || parts_key(doc, &parts) < 0)
		goto malformed;
	if (emu_store_upload_parts(e->store, id, &stored, &nstored, &err) < 0) {
		store_failed(resp, req, &err);
		goto out;
	}
	for (part = bb_xml_child(doc, "Part"); part != NULL; part = bb_xml_next(part, "Part")) {
		const char *pnum, *etag, *ck = "";
		char *numend;
		long num;
		int idx;
		char ckname[40];

		if (xml_value(part, "PartNumber", &pnum) != 1 || xml_value(part, "ETag", &etag) != 1)
			goto malformed;
		if (proto.checksum_alg[0]) {
			snprintf(ckname, sizeof(ckname), "Checksum%s", proto.checksum_alg);
			if (xml_value(part, ckname, &ck) < 0)
				goto malformed;
		}
		errno = 0;
		num = strtol(pnum, &numend, 10);
		if (errno || *numend || numend == pnum || num < 1 || num > MAX_PARTS) {
			emu_s3_error(resp, req, 400, "InvalidArgument",
			    "Part number must be an integer between 1 and 10000, inclusive");
			goto out;
		}
		if (num <= prev) {
			emu_s3_error(resp, req, 400, "InvalidPartOrder",
			    "The list of parts was not in ascending order. The parts list must be "
			    "specified in order by part number.");
			goto out;
		}
		prev = num;
		idx = find_part(stored, nstored, num);
		if (idx < 0 || !etag_matches(etag, stored[idx].md5) ||
		    (ck[0] && strcmp(ck, stored[idx].checksum) != 0)) {
			emu_s3_error(resp, req, 400, "InvalidPart",
			    "One or more of the specified parts could not be found. The part may not "
			    "have been uploaded, or the specified entity tag may not match the part's "
			    "entity tag.");
			goto out;
		}
		if (nchosen == cap) {
			struct emu_part_info *nc;

			cap = cap ? cap * 2 : 64;
			if ((nc = realloc(chosen, cap * sizeof(*nc))) == NULL) {
				emu_s3_error(resp, req, 500, "InternalError", "out of memory");
				goto out;
			}
			chosen = nc;
		}
		chosen[nchosen++] = stored[idx];
	}
	if (nchosen == 0)
		goto malformed;
	for (i = 0; i + 1 < nchosen; i++)
		if (chosen[i].size < MIN_PART_SIZE) {
			emu_s3_error(resp, req, 400, "EntityTooSmall",
			    "Your proposed upload is smaller than the minimum allowed object size.");
			goto out;
		}
	/* The ETag S3 gives: MD5 of the parts' raw MD5s, then "-N". */
	if (bb_md5_init(&m) < 0) {
		emu_s3_error(resp, req, 500, "InternalError", "out of memory");
		goto out;
	}
	for (i = 0; i < nchosen; i++) {
		bb_md5_update(&m, chosen[i].md5, 16);
		info.size += chosen[i].size;
	}
	bb_md5_final(&m, md);
	info.etag[0] = '"';
	bb_hex_encode(md, 16, info.etag + 1);
	snprintf(info.etag + 33, sizeof(info.etag) - 33, "-%zu\"", nchosen);
	info.mtime = emu_wall_now();
	info.parts = (long)nchosen;
	if (proto.checksum_alg[0])
		composite_checksum(&proto, chosen, nchosen, &info);
	snprintf(info.content_type, sizeof(info.content_type), "%s", proto.content_type);
	info.meta_json = proto.meta_json;
	proto.meta_json = NULL;
	if (emu_store_upload_complete(e->store, id, bucket, key, chosen, nchosen, &info, &err) < 0) {
		store_failed(resp, req, &err);
		goto out;
	}
	bb_buf_addf(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<CompleteMultipartUploadResult xmlns=\"%s\">", S3_NS);
	{
		struct bb_buf loc = BB_BUF_INIT;
		const char *host = bb_http_headers_get(&req->headers, "Host");

		bb_buf_addf(&loc, "http://%s/%s/", host ? host : "localhost", bucket);
		url_encode(&loc, key, 0);
		xml_elem(&out, "Location", bb_buf_str(&loc));
		bb_buf_release(&loc);
	}
	xml_elem(&out, "Bucket", bucket);
	xml_elem(&out, "Key", key);
	xml_elem(&out, "ETag", info.etag);
	if (info.checksum[0]) {
		char cname[40];

		snprintf(cname, sizeof(cname), "Checksum%s", info.checksum_alg);
		xml_elem(&out, cname, info.checksum);
		xml_elem(&out, "ChecksumType", "COMPOSITE");
	}
	bb_buf_adds(&out, "</CompleteMultipartUploadResult>");
	done_remember(id, parts, bucket, key, &out);
	xml_ok(resp, &out);
	goto out;
malformed:
	emu_s3_error(resp, req, 400, "MalformedXML",
	    "The XML you provided was not well-formed or did not validate against our published schema");
out:
	bb_md5_release(&m);
	free(stored);
	free(chosen);
	emu_object_info_release(&proto);
	emu_object_info_release(&info);
	bb_xml_free(doc);
	bb_buf_release(&out);
}

static void
abort_upload(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *bucket, const char *key, const char *id)
{
	if (need_upload(e, req, resp, id, bucket, key, NULL) < 0)
		return;
	emu_store_upload_abort(e->store, id, NULL);
	resp->status = 204;
}

static void
list_parts(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *bucket, const char *key, const char *id)
{
	struct emu_object_info proto;
	struct emu_part_info *parts = NULL;
	struct bb_buf out = BB_BUF_INIT, v = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	size_t n = 0, i;
	long max = 1000, marker = 0, shown = 0, last = 0;
	char num[48], ts[32];
	int truncated = 0;

	memset(&proto, 0, sizeof(proto));
	if (need_upload(e, req, resp, id, bucket, key, &proto) < 0)
		goto out;
	if (emu_query_param(req->query, "max-parts", &v) == 1) {
		max = strtol(bb_buf_str(&v), NULL, 10);
		if (max < 0 || max > 1000)
			max = 1000;
	}
	if (emu_query_param(req->query, "part-number-marker", &v) == 1)
		marker = strtol(bb_buf_str(&v), NULL, 10);
	if (emu_store_upload_parts(e->store, id, &parts, &n, &err) < 0) {
		store_failed(resp, req, &err);
		goto out;
	}
	bb_buf_addf(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListPartsResult xmlns=\"%s\">",
	    S3_NS);
	xml_elem(&out, "Bucket", bucket);
	xml_elem(&out, "Key", key);
	xml_elem(&out, "UploadId", id);
	snprintf(num, sizeof(num), "%ld", marker);
	xml_elem(&out, "PartNumberMarker", num);
	for (i = 0; i < n; i++) {
		char etag[35];

		if (parts[i].part_number <= marker)
			continue;
		if (shown == max) {
			truncated = 1;
			break;
		}
		emu_etag(parts[i].md5, etag);
		emu_format_iso8601(parts[i].mtime, ts);
		bb_buf_adds(&v, "");
		bb_buf_addf(&out, "<Part><PartNumber>%ld</PartNumber>", parts[i].part_number);
		xml_elem(&out, "LastModified", ts);
		xml_elem(&out, "ETag", etag);
		bb_buf_addf(&out, "<Size>%" PRIu64 "</Size>", parts[i].size);
		if (parts[i].checksum_alg[0]) {
			char cname[40];

			snprintf(cname, sizeof(cname), "Checksum%s", parts[i].checksum_alg);
			xml_elem(&out, cname, parts[i].checksum);
		}
		bb_buf_adds(&out, "</Part>");
		last = parts[i].part_number;
		shown++;
	}
	snprintf(num, sizeof(num), "%ld", last);
	xml_elem(&out, "NextPartNumberMarker", num);
	snprintf(num, sizeof(num), "%ld", max);
	xml_elem(&out, "MaxParts", num);
	xml_elem(&out, "IsTruncated", truncated ? "true" : "false");
	if (proto.checksum_alg[0])
		xml_elem(&out, "ChecksumAlgorithm", proto.checksum_alg);
	bb_buf_addf(&out, "<Initiator><ID>%s</ID></Initiator><Owner><ID>%s</ID></Owner>"
	    "<StorageClass>STANDARD</StorageClass></ListPartsResult>", e->account, e->account);
	xml_ok(resp, &out);
out:
	free(parts);
	emu_object_info_release(&proto);
	bb_buf_release(&out);
	bb_buf_release(&v);
}

/* ---- ListMultipartUploads ---- */

struct upload_ent {
	char *key;
	char id[33];
	double initiated;
};

struct upload_list {
	const char *prefix;
	struct upload_ent *v;
	size_t n, cap;
	int failed;
};

static int
upload_cb(const char *key, const char *upload_id, double initiated, void *ctx)
{
	struct upload_list *l = ctx;
	struct upload_ent *nv;

	if (strncmp(key, l->prefix, strlen(l->prefix)) != 0)
		return 0;
	if (l->n == l->cap) {
		nv = realloc(l->v, (l->cap ? 2 * l->cap : 16) * sizeof(*nv));
		if (nv == NULL)
			return l->failed = 1;
		l->v = nv;
		l->cap = l->cap ? 2 * l->cap : 16;
	}
	if ((l->v[l->n].key = strdup(key)) == NULL)
		return l->failed = 1;
	snprintf(l->v[l->n].id, sizeof(l->v[l->n].id), "%s", upload_id);
	l->v[l->n].initiated = initiated;
	l->n++;
	return 0;
}

/* S3's order: by key, then by initiation time. */
static int
upload_cmp(const void *a, const void *b)
{
	const struct upload_ent *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c == 0 && x->initiated != y->initiated)
		c = x->initiated < y->initiated ? -1 : 1;
	return c ? c : strcmp(x->id, y->id);
}

/* GET /bucket?uploads with prefix, key-marker, upload-id-marker,
 * max-uploads and encoding-type (no delimiter). */
static void
list_uploads(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *bucket)
{
	struct bb_buf prefix = BB_BUF_INIT, kmark = BB_BUF_INIT, umark = BB_BUF_INIT,
	    maxu = BB_BUF_INIT, enc = BB_BUF_INIT, out = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	struct upload_list l;
	size_t i, first = 0, end;
	long max = 1000;
	int enc_url = 0;
	char num[32], ts[32];

	memset(&l, 0, sizeof(l));
	if (emu_query_param(req->query, "prefix", &prefix) < 0 ||
	    emu_query_param(req->query, "key-marker", &kmark) < 0 ||
	    emu_query_param(req->query, "upload-id-marker", &umark) < 0) {
		emu_s3_error(resp, req, 400, "InvalidArgument", "Badly encoded query parameter");
		goto out;
	}
	if (emu_query_param(req->query, "max-uploads", &maxu) == 1) {
		char *endp;

		errno = 0;
		max = strtol(bb_buf_str(&maxu), &endp, 10);
		if (errno || *endp || endp == maxu.data || max < 0) {
			emu_s3_error(resp, req, 400, "InvalidArgument",
			    "Provided max-uploads not an integer or within integer range");
			goto out;
		}
		if (max > 1000)
			max = 1000;
	}
	if (emu_query_param(req->query, "encoding-type", &enc) == 1) {
		if (strcmp(bb_buf_str(&enc), "url") != 0) {
			emu_s3_error(resp, req, 400, "InvalidArgument", "Invalid Encoding Method specified in Request");
			goto out;
		}
		enc_url = 1;
	}
	if (need_bucket(e, resp, req, bucket) < 0)
		goto out;
	l.prefix = bb_buf_str(&prefix);
	if (emu_store_upload_list(e->store, bucket, upload_cb, &l, &err) < 0 || l.failed) {
		if (l.failed)
			bb_error_set(&err, BB_ERR_SYSTEM, "out of memory");
		store_failed(resp, req, &err);
		goto out;
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), upload_cmp);
	/* Start after key-marker, or after upload-id-marker among its uploads. */
	if (kmark.len) {
		while (first < l.n && strcmp(l.v[first].key, kmark.data) < 0)
			first++;
		for (end = first; end < l.n && strcmp(l.v[end].key, kmark.data) == 0; end++)
			;
		for (i = first; umark.len && i < end; i++)
			if (strcmp(l.v[i].id, umark.data) == 0)
				break;
		first = umark.len && i < end ? i + 1 : end;
	}
	end = l.n - first > (size_t)max ? first + (size_t)max : l.n;
	bb_buf_addf(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListMultipartUploadsResult xmlns=\"%s\">", S3_NS);
	xml_elem(&out, "Bucket", bucket);
	key_elem(&out, "KeyMarker", bb_buf_str(&kmark), enc_url);
	xml_elem(&out, "UploadIdMarker", bb_buf_str(&umark));
	key_elem(&out, "NextKeyMarker", end > first ? l.v[end - 1].key : "", enc_url);
	key_elem(&out, "Prefix", l.prefix, enc_url);
	xml_elem(&out, "NextUploadIdMarker", end > first ? l.v[end - 1].id : "");
	snprintf(num, sizeof(num), "%ld", max);
	xml_elem(&out, "MaxUploads", num);
	xml_elem(&out, "IsTruncated", end < l.n ? "true" : "false");
	for (i = first; i < end; i++) {
		bb_buf_adds(&out, "<Upload>");
		key_elem(&out, "Key", l.v[i].key, enc_url);
		xml_elem(&out, "UploadId", l.v[i].id);
		bb_buf_addf(&out, "<Initiator><ID>%s</ID></Initiator><Owner><ID>%s</ID></Owner>"
		    "<StorageClass>STANDARD</StorageClass>", e->account, e->account);
		emu_format_iso8601(l.v[i].initiated, ts);
		xml_elem(&out, "Initiated", ts);
		bb_buf_adds(&out, "</Upload>");
	}
	if (enc_url)
		xml_elem(&out, "EncodingType", "url");
	bb_buf_adds(&out, "</ListMultipartUploadsResult>");
	xml_ok(resp, &out);
out:
	for (i = 0; i < l.n; i++)
		free(l.v[i].key);
	free(l.v);
	bb_buf_release(&prefix);
	bb_buf_release(&kmark);
	bb_buf_release(&umark);
	bb_buf_release(&maxu);
	bb_buf_release(&enc);
	bb_buf_release(&out);
}

/* POST /bucket?delete */
static void
delete_objects(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *bucket)
{
	struct bb_buf out = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_xml *doc;
	const struct bb_xml *obj;
	const char *quiet, *key;
	int n = 0, is_quiet;

	if (need_bucket(e, resp, req, bucket) < 0)
		return;
	if ((doc = xml_body(req, "Delete")) == NULL) {
		emu_s3_error(resp, req, 400, "MalformedXML",
		    "The XML you provided was not well-formed or did not validate against our published schema");
		return;
	}
	is_quiet = xml_value(doc, "Quiet", &quiet) == 1 && strcmp(quiet, "true") == 0;
	bb_buf_addf(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"%s\">", S3_NS);
	for (obj = bb_xml_child(doc, "Object"); obj != NULL; obj = bb_xml_next(obj, "Object")) {
		int r = xml_value(obj, "Key", &key);

		if (r == 0)
			continue;
		if (r < 0 || ++n > 1000) {
			emu_s3_error(resp, req, 400, "MalformedXML", "Bad Delete request");
			goto out;
		}
		if (emu_store_delete(e->store, bucket, key, &err) < 0) {
			bb_buf_adds(&out, "<Error>");
			xml_elem(&out, "Key", key);
			bb_buf_adds(&out, "<Code>InternalError</Code><Message>delete failed</Message></Error>");
		} else if (!is_quiet) {
			bb_buf_adds(&out, "<Deleted>");
			xml_elem(&out, "Key", key);
			bb_buf_adds(&out, "</Deleted>");
		}
	}
	bb_buf_adds(&out, "</DeleteResult>");
	xml_ok(resp, &out);
out:
	bb_xml_free(doc);
	bb_buf_release(&out);
}

/* ---- routing ---- */

void
emu_s3_handle(struct emu *e, const struct emu_request *req, struct emu_response *resp)
{
	struct bb_buf bucket = BB_BUF_INIT, key = BB_BUF_INIT, id = BB_BUF_INIT;
	const char *m = req->method;
	const char *b, *k;
	int has_upload;

	if (emu_s3_parse_target(req, &bucket, &key) < 0) {
		emu_s3_error(resp, req, 400, "InvalidURI", "Couldn't parse the specified URI.");
		goto out;
	}
	b = bb_buf_str(&bucket);
	k = bb_buf_str(&key);
	has_upload = upload_id_of(req, &id);
	if (bucket.len == 0) {
		if (strcmp(m, "GET") == 0)
			list_buckets(e, req, resp);
		else
			emu_s3_error(resp, req, 405, "MethodNotAllowed",
			    "The specified method is not allowed against this resource.");
		goto out;
	}
	if (!emu_store_valid_bucket(b) && strcmp(m, "PUT") != 0) {
		emu_s3_error(resp, req, 404, "NoSuchBucket", "The specified bucket does not exist");
		goto out;
	}
	if (key.len == 0) {
		if (strcmp(m, "PUT") == 0 && req->query[0] == '\0')
			create_bucket(e, req, resp, b);
		else if (strcmp(m, "HEAD") == 0) {
			if (need_bucket(e, resp, req, b) == 0) {
				resp->status = 200;
				bb_http_headers_set(&resp->headers, "x-amz-bucket-region", e->region);
			}
		} else if (strcmp(m, "DELETE") == 0 && req->query[0] == '\0')
			delete_bucket(e, req, resp, b);
		else if (strcmp(m, "GET") == 0 && has_param(req, "location")) {
			if (need_bucket(e, resp, req, b) == 0) {
				struct bb_buf out = BB_BUF_INIT;

				bb_buf_addf(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
				    "<LocationConstraint xmlns=\"%s\">%s</LocationConstraint>", S3_NS,
				    strcmp(e->region, "us-east-1") == 0 ? "" : e->region);
				xml_ok(resp, &out);
			}
		} else if (strcmp(m, "GET") == 0 && has_param(req, "list-type")) {
			struct bb_buf lt = BB_BUF_INIT;

			emu_query_param(req->query, "list-type", &lt);
			if (strcmp(bb_buf_str(&lt), "2") == 0)
				list_objects(e, req, resp, b, 1);
			else
				emu_s3_error(resp, req, 400, "InvalidArgument", "Invalid list-type");
			bb_buf_release(&lt);
		} else if (strcmp(m, "GET") == 0 && has_param(req, "uploads"))
			list_uploads(e, req, resp, b);
		else if (strcmp(m, "GET") == 0 && (has_param(req, "versioning") ||
		    has_param(req, "versions") || has_param(req, "policy") || has_param(req, "acl")))
			emu_s3_error(resp, req, 501, "NotImplemented",
			    "A header or query you provided implies functionality that is not implemented");
		else if (strcmp(m, "GET") == 0)
			list_objects(e, req, resp, b, 0);
		else if (strcmp(m, "POST") == 0 && has_param(req, "delete"))
			delete_objects(e, req, resp, b);
		else
			emu_s3_error(resp, req, 501, "NotImplemented",
			    "A header or query you provided implies functionality that is not implemented");
		goto out;
	}
	if (check_key(resp, req, k) < 0)
		goto out;
	if (strcmp(m, "PUT") == 0 && has_upload)
		upload_part(e, req, resp, b, k, bb_buf_str(&id));
	else if (strcmp(m, "PUT") == 0)
		put_object(e, req, resp, b, k);
	else if ((strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) && has_upload)
		list_parts(e, req, resp, b, k, bb_buf_str(&id));
	else if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		get_object(e, req, resp, b, k);
	else if (strcmp(m, "DELETE") == 0 && has_upload)
		abort_upload(e, req, resp, b, k, bb_buf_str(&id));
	else if (strcmp(m, "DELETE") == 0)
		delete_object(e, req, resp, b, k);
	else if (strcmp(m, "POST") == 0 && has_param(req, "uploads"))
		create_upload(e, req, resp, b, k);
	else if (strcmp(m, "POST") == 0 && has_upload)
		complete_upload(e, req, resp, b, k, bb_buf_str(&id));
	else
		emu_s3_error(resp, req, 405, "MethodNotAllowed",
		    "The specified method is not allowed against this resource.");
out:
	bb_buf_release(&bucket);
	bb_buf_release(&key);
	bb_buf_release(&id);
}
