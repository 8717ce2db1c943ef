/*
 * unit-s3.c - the S3 client without a network: URI parsing, bucket rules,
 * key encoding and URL building (virtual-hosted and path style), the
 * CompleteMultipartUpload body (against botocore's), ListObjectsV2 pages,
 * response headers.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "awsconfig.h"
#include "buf.h"
#include "error.h"
#include "http.h"
#include "s3.h"
#include "tap.h"

static void
test_uri(void)
{
	static const struct { const char *uri, *bucket, *key; } t[] = {
		{ "s3://my-bucket/a/b.jsonl", "my-bucket", "a/b.jsonl" },
		{ "s3://my-bucket", "my-bucket", "" },
		{ "s3://my-bucket/", "my-bucket", "" },
		{ "s3://my.bucket.1/dir/", "my.bucket.1", "dir/" },
		{ "s3://abc/with space/\xc3\xa9+%20", "abc", "with space/\xc3\xa9+%20" },
		{ "s3://abc//double", "abc", "/double" },
		{ "S3://abc/x", NULL, NULL },
		{ "s3:/abc/x", NULL, NULL },
		{ "https://abc/x", NULL, NULL },
		{ "s3:///x", NULL, NULL },
		{ "s3://ab/x", NULL, NULL },
		{ "s3://My-Bucket/x", NULL, NULL },
		{ "s3://my_bucket/x", NULL, NULL },
		{ "s3://abc/tab\there", NULL, NULL },
		{ "s3://abc/bad\xff", NULL, NULL },
	};
	struct bb_s3_uri u;
	struct bb_error err = BB_ERROR_INIT;
	char longkey[1100];
	size_t i;
	int r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		r = bb_s3_uri_parse(t[i].uri, &u, &err);
		if (t[i].bucket)
			ok(r == 0 && strcmp(u.bucket, t[i].bucket) == 0 && strcmp(u.key, t[i].key) == 0,
			    "uri '%s'", t[i].uri);
		else
			ok(r == -1 && err.kind == BB_ERR_INPUT && u.bucket == NULL && u.key == NULL,
			    "uri '%s' refused: %s", t[i].uri, err.msg);
		bb_s3_uri_release(&u);
	}
	memcpy(longkey, "s3://abc/", 9);
	memset(longkey + 9, 'k', 1024);
	longkey[9 + 1024] = '\0';
	ok(bb_s3_uri_parse(longkey, &u, &err) == 0, "1024-byte key accepted");
	bb_s3_uri_release(&u);
	longkey[9 + 1024] = 'k';
	longkey[9 + 1025] = '\0';
	ok(bb_s3_uri_parse(longkey, &u, &err) == -1, "1025-byte key refused");
}

static void
test_bucket(void)
{
	static const struct { const char *b; int valid; } t[] = {
		{ "abc", 1 }, { "a-b.c-1", 1 }, { "123", 1 },
		{ "ab", 0 }, { "a", 0 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1 },  /* 63 */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0 }, /* 64 */
		{ "-abc", 0 }, { "abc-", 0 }, { ".abc", 0 }, { "abc.", 0 }, { "a..b", 0 },
		{ "Abc", 0 }, { "a_b", 0 }, { "a b", 0 },
		{ "192.168.1.1", 0 }, { "192.168.1", 1 },
		{ "xn--abc", 0 }, { "sthree-abc", 0 }, { "abc-s3alias", 0 }, { "abc--ol-s3", 0 },
		{ "abc--x-s3", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(bb_s3_bucket_valid(t[i].b) == t[i].valid, "bucket '%s' %s", t[i].b,
		    t[i].valid ? "valid" : "invalid");
}

static void
test_encode(void)
{
	static const struct { const char *in; int slash; const char *out; } t[] = {
		{ "a/b/c.jsonl", 1, "a/b/c.jsonl" },
		{ "a/b", 0, "a%2Fb" },
		{ "AZaz09-._~", 0, "AZaz09-._~" },
		{ "with space", 1, "with%20space" },
		{ "+=&?#%:@!$'()*,;", 1, "%2B%3D%26%3F%23%25%3A%40%21%24%27%28%29%2A%2C%3B" },
		{ "\xc3\xa9", 1, "%C3%A9" },
		{ "%20", 1, "%2520" },
		{ "a//b/", 1, "a//b/" },
		{ "", 1, "" },
	};
	static const struct { const char *in; int plus; const char *out; } d[] = {
		{ "a%2Fb", 0, "a/b" }, { "a+b", 1, "a b" }, { "a+b", 0, "a+b" },
		{ "%C3%a9", 0, "\xc3\xa9" }, { "%", 0, NULL }, { "%2", 0, NULL }, { "%zz", 0, NULL },
		{ "", 0, "" },
	};
	struct bb_buf b = BB_BUF_INIT;
	size_t i;
	int r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bb_buf_reset(&b);
		ok(bb_aws_uri_encode(&b, t[i].in, strlen(t[i].in), t[i].slash) == 0,
		    "encode %zu", i);
		is_str(bb_buf_str(&b), t[i].out, t[i].out);
	}
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		bb_buf_reset(&b);
		r = bb_aws_uri_decode(&b, d[i].in, strlen(d[i].in), d[i].plus);
		if (d[i].out)
			ok(r == 0 && strcmp(bb_buf_str(&b), d[i].out) == 0, "decode '%s'", d[i].in);
		else
			ok(r == -1, "decode '%s' refused", d[i].in);
	}
	/* Round trip of every byte value. */
	{
		char all[255], *p;
		struct bb_buf e = BB_BUF_INIT;
		for (i = 0; i < 255; i++)
			all[i] = (char)(i + 1);
		bb_aws_uri_encode(&e, all, 255, 0);
		bb_buf_reset(&b);
		ok(bb_aws_uri_decode(&b, e.data, e.len, 0) == 0 && b.len == 255 &&
		    memcmp(b.data, all, 255) == 0, "encode/decode round trip of bytes 1..255");
		p = e.data;
		ok(strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%") ==
		    e.len, "encoded text uses only unreserved characters and %%");
		bb_buf_release(&e);
	}
	bb_buf_release(&b);
}

static void
test_url(void)
{
	static const struct {
		const char *ep_url; int custom; const char *region;
		const char *bucket, *key, *query, *want;
	} t[] = {
		{ "https://s3.us-east-1.amazonaws.com", 0, "us-east-1", "in-bucket",
		  "input/part-0001.jsonl", NULL,
		  "https://in-bucket.s3.us-east-1.amazonaws.com/input/part-0001.jsonl" },
		{ "http://127.0.0.1:9000", 1, "us-east-1", "in-bucket", "input/part-0001.jsonl",
		  NULL, "http://127.0.0.1:9000/in-bucket/input/part-0001.jsonl" },
		{ "http://127.0.0.1:9000", 1, NULL, "b1c", "a b/c+d", "uploads",
		  "http://127.0.0.1:9000/b1c/a%20b/c%2Bd?uploads" },
		{ "https://s3.eu-west-1.amazonaws.com", 0, "eu-west-1", "my.dotted.bucket", "k",
		  NULL, "https://s3.eu-west-1.amazonaws.com/my.dotted.bucket/k" },
		{ "https://s3.eu-west-1.amazonaws.com", 0, "eu-west-1", "bkt", "", "list-type=2",
		  "https://bkt.s3.eu-west-1.amazonaws.com/?list-type=2" },
	};
	struct bb_endpoint ep;
	struct bb_buf b = BB_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bb_endpoint_init(&ep);
		ep.url = strdup(t[i].ep_url);
		ep.custom = t[i].custom;
		ep.region = t[i].region ? strdup(t[i].region) : NULL;
		ep.source = t[i].custom ? "--endpoint-url" : "default";
		bb_buf_reset(&b);
		ok(bb_s3_object_url(&ep, t[i].bucket, t[i].key, t[i].query, &b) == 0,
		    "url %zu built", i);
		is_str(bb_buf_str(&b), t[i].want, t[i].want);
		bb_endpoint_release(&ep);
	}
	bb_buf_release(&b);
}

static void
test_complete_body(void)
{
	struct bb_s3_part parts[2];
	struct bb_buf b = BB_BUF_INIT;

	memset(parts, 0, sizeof(parts));
	parts[0].number = 1;
	strcpy(parts[0].etag, "\"e1\"");
	parts[1].number = 2;
	strcpy(parts[1].etag, "\"e2\"");
	ok(bb_s3_complete_body(parts, 2, &b) == 0, "complete body built");
	/* Exactly what botocore sends (spec section 4.3), quotes as &quot;. */
	is_str(bb_buf_str(&b),
	    "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Part><ETag>&quot;e1&quot;</ETag><PartNumber>1</PartNumber></Part>"
	    "<Part><ETag>&quot;e2&quot;</ETag><PartNumber>2</PartNumber></Part>"
	    "</CompleteMultipartUpload>", "complete body");
	bb_buf_reset(&b);
	strcpy(parts[0].checksum, "q<&>=");
	ok(bb_s3_complete_body(parts, 1, &b) == 0 &&
	    strstr(b.data, "<ChecksumSHA256>q&lt;&amp;&gt;=</ChecksumSHA256>") != NULL,
	    "part checksum included, escaped");
	bb_buf_reset(&b);
	parts[0].ck_alg = BB_CKSUM_CRC32C;
	strcpy(parts[0].checksum, "AAAAAA==");
	ok(bb_s3_complete_body(parts, 1, &b) == 0 &&
	    strstr(b.data, "<ChecksumCRC32C>AAAAAA==</ChecksumCRC32C>") != NULL,
	    "a CRC32C part checksum as ChecksumCRC32C");
	bb_buf_release(&b);
}

struct listing {
	int n, stop_at;
	struct bb_buf text;
};

static int
collect(const struct bb_s3_entry *e, void *ctx)
{
	struct listing *l = ctx;

	l->n++;
	if (e->is_prefix)
		bb_buf_addf(&l->text, "P[%s]\n", e->key);
	else
		bb_buf_addf(&l->text, "K[%s] %llu %s %s\n", e->key, (unsigned long long)e->size,
		    e->etag, e->last_modified);
	return l->stop_at && l->n == l->stop_at;
}

static void
test_list_parse(void)
{
	static const char page1[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Name>b</Name><Prefix>out%2F</Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys>"
	    "<Delimiter>%2F</Delimiter><EncodingType>url</EncodingType>"
	    "<IsTruncated>true</IsTruncated><NextContinuationToken>tok+2/=</NextContinuationToken>"
	    "<Contents><Key>out%2Fa+b.jsonl</Key><LastModified>2024-08-01T12:00:00.000Z"
	    "</LastModified><ETag>&quot;5eb63bbbe01eeed093cb22bb8f5acdc3&quot;</ETag>"
	    "<Size>11</Size><StorageClass>STANDARD</StorageClass></Contents>"
	    "<Contents><Key>out%2F%C3%A9%26x</Key><LastModified>2024-08-01T12:00:01.000Z"
	    "</LastModified><ETag>\"abc-2\"</ETag><Size>5242980</Size></Contents>"
	    "<CommonPrefixes><Prefix>out%2Fjob1%2F</Prefix></CommonPrefixes>"
	    "</ListBucketResult>";
	static const char page2[] =
	    "<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated>"
	    "<Contents><Key>plain &amp; raw</Key><Size>0</Size><ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag></Contents>"
	    "</ListBucketResult>";
	static const char *const bad[] = {
		"<Error><Code>NoSuchBucket</Code></Error>",
		"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>x</Size></Contents></ListBucketResult>",
		"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
		"<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>%zz</Key>"
		"<Size>1</Size></Contents></ListBucketResult>",
	};
	struct listing l;
	struct bb_buf tok = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	size_t i;

	memset(&l, 0, sizeof(l));
	ok(bb_s3_list_parse(page1, strlen(page1), 1, collect, &l, &tok, &err) == 0 && l.n == 3,
	    "page 1: two keys and a prefix");
	is_str(bb_buf_str(&l.text),
	    "K[out/a b.jsonl] 11 \"5eb63bbbe01eeed093cb22bb8f5acdc3\" 2024-08-01T12:00:00.000Z\n"
	    "K[out/\xc3\xa9&x] 5242980 \"abc-2\" 2024-08-01T12:00:01.000Z\n"
	    "P[out/job1/]\n", "page 1 entries decoded");
	is_str(bb_buf_str(&tok), "tok+2/=", "continuation token");
	bb_buf_release(&l.text);
	memset(&l, 0, sizeof(l));
	ok(bb_s3_list_parse(page2, strlen(page2), 1, collect, &l, &tok, &err) == 0 && l.n == 1 &&
	    tok.len == 0, "page 2: last page (no EncodingType: keys as they are)");
	is_str(bb_buf_str(&l.text), "K[plain & raw] 0 \"d41d8cd98f00b204e9800998ecf8427e\" \n",
	    "entities decoded");
	bb_buf_release(&l.text);
	memset(&l, 0, sizeof(l));
	l.stop_at = 1;
	ok(bb_s3_list_parse(page1, strlen(page1), 1, collect, &l, &tok, &err) == 1 && l.n == 1,
	    "callback stops the listing");
	bb_buf_release(&l.text);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&l, 0, sizeof(l));
		ok(bb_s3_list_parse(bad[i], strlen(bad[i]), 1, collect, &l, &tok, &err) == -1 &&
		    err.kind == BB_ERR_REMOTE, "bad page %zu: %s", i, err.msg);
		bb_buf_release(&l.text);
	}
	bb_buf_release(&tok);
}

static void
test_headers(void)
{
	struct bb_http_headers h;
	struct bb_s3_object o;

	bb_http_headers_init(&h);
	bb_s3_object_init(&o);
	bb_http_headers_add(&h, "Content-Length", "100");
	bb_http_headers_add(&h, "ETag", "\"16cafe8d6b8c1c55c3d339c8d69326c6-2\"");
	bb_http_headers_add(&h, "Content-Type", "application/jsonl");
	bb_http_headers_add(&h, "Last-Modified", "Thu, 01 Aug 2024 12:00:00 GMT");
	bb_http_headers_add(&h, "x-amz-checksum-sha256", "abc=");
	bb_http_headers_add(&h, "x-amz-mp-parts-count", "2");
	bb_http_headers_add(&h, "X-Amz-Meta-Sha256", "deadbeef");
	bb_http_headers_add(&h, "x-amz-meta-records", "100");
	ok(bb_s3_object_from_headers(&h, &o) == 0, "headers parsed");
	ok(o.size == 100 && o.parts_count == 2, "size and parts count");
	is_str(o.etag, "\"16cafe8d6b8c1c55c3d339c8d69326c6-2\"", "etag");
	is_str(o.checksum_sha256, "abc=", "checksum");
	is_str(o.content_type, "application/jsonl", "content type");
	is_str(bb_http_headers_get(&o.meta, "sha256"), "deadbeef", "metadata, prefix removed");
	is_str(bb_http_headers_get(&o.meta, "records"), "100", "metadata 2");
	ok(o.meta.n == 2, "only x-amz-meta-* in meta");
	bb_http_headers_set(&h, "Content-Range", "bytes 0-9/12345");
	bb_http_headers_set(&h, "Content-Length", "10");
	ok(bb_s3_object_from_headers(&h, &o) == 0 && o.size == 12345,
	    "ranged response: size from Content-Range");
	bb_s3_object_release(&o);
	bb_http_headers_release(&h);
}

int
main(void)
{
	test_uri();
	test_bucket();
	test_encode();
	test_url();
	test_complete_body();
	test_list_parse();
	test_headers();
	return done_testing();
}
