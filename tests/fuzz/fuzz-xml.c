/*
 * fuzz-xml.c - the XML reader and escaper (xml.h) and the AWS error
 * response parser (awserror.h) on S3-style XML and restJson1 bodies.
 *
 * Input: byte 0 picks the HTTP status (from a table of the ones that
 * matter) and whether the headers carry an X-Amzn-ErrorType (then the
 * next line of the input is its value) and request/region ids; the rest
 * is the body.
 *
 * Invariants: a parsed tree can be walked (names non-empty, text lengths
 * right, lookups consistent with counts); escaping text and parsing it
 * back as an element's content gives the text again; a parsed error has
 * NUL-terminated fields, an error status iff the parser says error, and
 * a retryable flag that matches its class.
 */
#include "config.h"

#include "awserror.h"
#include "fuzz.h"
#include "http.h"
#include "xml.h"

static const long statuses[16] = {
	200, 400, 403, 404, 500, 503, 301, 0, 409, 429, 206, 204, 307, 502, 412, 999,
};

static void
walk(const struct bb_xml *x, int depth)
{
	const struct bb_xml *c;
	const char *name = bb_xml_name(x), *text = bb_xml_text(x);
	size_t n = 0;

	FUZZ_CHECK(depth <= BB_XML_MAX_DEPTH + 1);
	FUZZ_CHECK(name != NULL && name[0] != '\0');
	FUZZ_CHECK(text != NULL && strlen(text) <= bb_xml_text_len(x));
	FUZZ_CHECK(text[bb_xml_text_len(x)] == '\0');
	(void)bb_xml_attr(x, "a");
	(void)bb_xml_attr(x, "xmlns");
	(void)bb_xml_child_text(x, "Code");
	for (c = bb_xml_child(x, NULL); c != NULL; c = bb_xml_next(c, NULL)) {
		walk(c, depth + 1);
		n++;
	}
	FUZZ_CHECK(n == bb_xml_count(x, NULL));
	n = 0;
	for (c = bb_xml_child(x, name); c != NULL; c = bb_xml_next(c, name))
		n++;
	FUZZ_CHECK(n == bb_xml_count(x, name));
}

static int
plain_text(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') ||
		    (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static void
check_escape(const char *s, size_t n)
{
	struct bb_buf b = BB_BUF_INIT;
	struct bb_xml *root = NULL;
	struct bb_error err = BB_ERROR_INIT;

	bb_buf_adds(&b, "<a b=\"");
	FUZZ_CHECK(bb_xml_add_escaped(&b, s, n) == 0);
	bb_buf_adds(&b, "\">");
	FUZZ_CHECK(bb_xml_add_escaped(&b, s, n) == 0);
	bb_buf_adds(&b, "</a>");
	if (bb_xml_parse(b.data, b.len, &root, &err) == 0) {
		FUZZ_CHECK(bb_xml_text_len(root) == n && memcmp(bb_xml_text(root), s, n) == 0);
		FUZZ_CHECK(bb_xml_attr(root, "b") != NULL);
	} else {
		/* Printable ASCII and white space always make a document. */
		FUZZ_CHECK(!plain_text(s, n));
	}
	bb_xml_free(root);
	bb_buf_release(&b);
}

static void
check_awserror(unsigned b0, const char *body, size_t len)
{
	struct bb_http_headers h;
	struct bb_awserror e;
	struct bb_error err = BB_ERROR_INIT;
	const char *nl;
	char *type = NULL;
	long status = statuses[b0 & 15];
	int rc;

	bb_http_headers_init(&h);
	if (b0 & 0x10) {
		nl = memchr(body, '\n', len);
		if (nl != NULL) {
			type = fuzz_strndup(body, (size_t)(nl - body));
			bb_http_headers_add(&h, "X-Amzn-ErrorType", type);
			len -= (size_t)(nl + 1 - body);
			body = nl + 1;
		}
	}
	if (b0 & 0x20) {
		bb_http_headers_add(&h, "x-amzn-RequestId", "11111111-2222-3333-4444-555555555555");
		bb_http_headers_add(&h, "x-amz-bucket-region", "eu-west-1");
	}
	if (b0 & 0x40)
		bb_http_headers_add(&h, "Content-Type", "application/json");
	rc = bb_awserror_parse(&e, status, (b0 & 0x80) ? NULL : &h, body, len);
	FUZZ_CHECK(rc == 0 || rc == 1);
	FUZZ_CHECK(e.status == status);
	if (status >= 300 || status == 0)
		FUZZ_CHECK(rc == 1);
	if (rc == 1) {
		FUZZ_CHECK(memchr(e.code, '\0', sizeof(e.code)) != NULL);
		FUZZ_CHECK(memchr(e.message, '\0', sizeof(e.message)) != NULL);
		FUZZ_CHECK(memchr(e.request_id, '\0', sizeof(e.request_id)) != NULL);
		FUZZ_CHECK(memchr(e.region, '\0', sizeof(e.region)) != NULL);
		FUZZ_CHECK(e.retryable == (e.cls == BB_AWSERR_THROTTLING ||
		    e.cls == BB_AWSERR_TRANSIENT));
		FUZZ_CHECK(bb_awserror_to_error(&e, (b0 & 1) ? "GET s3://b/k" : NULL, &err) == -1);
		FUZZ_CHECK(err.msg[0] != '\0');
		(void)bb_awserror_classify(e.code, e.status);
	}
	bb_http_headers_release(&h);
	free(type);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data + (size > 0), *lt;
	size_t len = size - (size > 0);
	struct bb_xml *root = NULL;
	struct bb_error err = BB_ERROR_INIT;

	if (bb_xml_parse(body, len, &root, &err) == 0) {
		FUZZ_CHECK(root != NULL);
		walk(root, 1);
	} else {
		FUZZ_CHECK(err.msg[0] != '\0');
	}
	bb_xml_free(root);
	/* escape the text before the first '<' (short: it is quadratic at worst) */
	lt = memchr(body, '<', len);
	check_escape(body, lt ? (size_t)(lt - body) : len);
	check_awserror(fuzz_byte(data, size, 0), body, len);
	return 0;
}
