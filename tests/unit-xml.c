/* unit-xml.c - the XML reader and escaper, with S3-shaped documents. */
#include "config.h"

#include <string.h>

#include "xml.h"
#include "tap.h"

/* Parse doc; render the tree compactly as name(text)[children] for comparison. */
static void
render(const struct bb_xml *x, struct bb_buf *out)
{
	const struct bb_xml *c;

	bb_buf_adds(out, bb_xml_name(x));
	if (bb_xml_text_len(x) > 0) {
		bb_buf_addc(out, '(');
		bb_buf_add(out, bb_xml_text(x), bb_xml_text_len(x));
		bb_buf_addc(out, ')');
	}
	if (bb_xml_child(x, NULL) != NULL) {
		bb_buf_addc(out, '[');
		for (c = bb_xml_child(x, NULL); c != NULL; c = bb_xml_next(c, NULL)) {
			render(c, out);
			if (bb_xml_next(c, NULL) != NULL)
				bb_buf_addc(out, ',');
		}
		bb_buf_addc(out, ']');
	}
}

static void
test_good(void)
{
	static const struct {
		const char *doc, *tree;
	} t[] = {
		{ "<a/>", "a" },
		{ "<a></a>", "a" },
		{ "<a>x</a>", "a(x)" },
		{ "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>x</a>\n", "a(x)" },
		{ "\xef\xbb\xbf<a>bom</a>", "a(bom)" },
		{ "<!-- c --><a><!-- in -->x<?pi stuff?>y</a><!-- after -->  ", "a(xy)" },
		{ "<a>&amp;&lt;&gt;&quot;&apos;</a>", "a(&<>\"')" },
		{ "<a>&#65;&#x42;&#x20AC;&#128512;</a>", "a(AB\xe2\x82\xac\xf0\x9f\x98\x80)" },
		{ "<a><![CDATA[<not> &amp; a tag]]></a>", "a(<not> &amp; a tag)" },
		{ "<a>l1\r\nl2\rl3</a>", "a(l1\nl2\nl3)" },
		{ "<a>&#13;</a>", "a(\r)" },
		{ "<a><b>1</b><c/><b>2</b></a>", "a[b(1),c,b(2)]" },
		{ "<s3:a xmlns:s3=\"u\"><s3:b>k</s3:b></s3:a>", "s3:a[s3:b(k)]" },
		{ "<a\n  x = 'v' y=\"w\"\t/>", "a" },
		{ "<a>caf\xc3\xa9</a   >", "a(caf\xc3\xa9)" },
		{ "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist."
		  "</Message><Key>a/b</Key><RequestId>4442587FB7D0A2F9</RequestId><HostId>h"
		  "</HostId></Error>",
		  "Error[Code(NoSuchKey),Message(The specified key does not exist.),Key(a/b),"
		  "RequestId(4442587FB7D0A2F9),HostId(h)]" },
	};
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf b = BB_BUF_INIT;
	struct bb_xml *root;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rc = bb_xml_parse(t[i].doc, strlen(t[i].doc), &root, &err);
		ok(rc == 0, "parse good %zu", i);
		if (rc != 0) {
			diag("%s", err.msg);
			continue;
		}
		bb_buf_reset(&b);
		render(root, &b);
		is_str(bb_buf_str(&b), t[i].tree, "tree");
		bb_xml_free(root);
	}
	bb_buf_release(&b);
}

static void
test_bad(void)
{
	static const struct {
		const char *doc, *msg;
	} t[] = {
		{ "", "no root element" },
		{ "   ", "no root element" },
		{ "text", "expected the root element" },
		{ "<a>", "<a> not closed" },
		{ "<a></b>", "</b> does not close <a>" },
		{ "<a><b></a></b>", "</a> does not close <b>" },
		{ "<a/><b/>", "content after the root element" },
		{ "<a/>trailing", "content after the root element" },
		{ "<a>&bogus;</a>", "undefined entity '&bogus;'" },
		{ "<a>AT&T</a>", "'&' not starting an entity" },
		{ "<a>&#0;</a>", "invalid character reference" },
		{ "<a>&#xD800;</a>", "invalid character reference" },
		{ "<a>&#x110000;</a>", "out of range" },
		{ "<a>&#xZZ;</a>", "bad character reference" },
		{ "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", "DOCTYPE not allowed" },
		{ "<a><!DOCTYPE a></a>", "DOCTYPE not allowed" },
		{ "<a x='1' x='2'/>", "duplicate attribute 'x'" },
		{ "<a x=1/>", "expected a quoted attribute value" },
		{ "<a x='1'y='2'/>", "expected white space" },
		{ "<a x='<'/>", "'<' in an attribute value" },
		{ "<a x", "expected '='" },
		{ "<a", "unterminated start tag" },
		{ "<1a/>", "bad element name" },
		{ "<a><!-- never closed</a>", "unterminated comment" },
		{ "<a><![CDATA[x</a>", "unterminated CDATA" },
		{ "<a>\xff</a>", "invalid UTF-8" },
		{ "<a>x\n\n  <b>", "line 3, column 6" },
	};
	struct bb_error err = BB_ERROR_INIT;
	struct bb_xml *root;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bb_error_clear(&err);
		root = (struct bb_xml *)&err;   /* must be reset */
		rc = bb_xml_parse(t[i].doc, strlen(t[i].doc), &root, &err);
		ok(rc == -1 && root == NULL && err.kind == BB_ERR_INPUT &&
		    strstr(err.msg, t[i].msg) != NULL, "bad %zu: %s", i, err.msg);
	}
	/* a NUL byte */
	rc = bb_xml_parse("<a>\0</a>", 8, &root, &err);
	ok(rc == -1 && strstr(err.msg, "NUL") != NULL, "NUL byte refused");
}

static void
test_limits(void)
{
	struct bb_buf b = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_xml *root;
	int i, rc;

	for (i = 0; i < BB_XML_MAX_DEPTH; i++)
		bb_buf_adds(&b, "<d>");
	for (i = 0; i < BB_XML_MAX_DEPTH; i++)
		bb_buf_adds(&b, "</d>");
	rc = bb_xml_parse(b.data, b.len, &root, &err);
	ok(rc == 0, "depth %d accepted", BB_XML_MAX_DEPTH);
	bb_xml_free(root);
	bb_buf_reset(&b);
	for (i = 0; i < 100000; i++)
		bb_buf_adds(&b, "<d>");
	rc = bb_xml_parse(b.data, b.len, &root, &err);
	ok(rc == -1 && strstr(err.msg, "nested deeper") != NULL, "deep nesting refused: %s",
	    err.msg);
	ok(bb_xml_parse(b.data, BB_XML_MAX_SIZE + 1, &root, &err) == -1 &&
	    strstr(err.msg, "larger than") != NULL, "size bound");
	bb_buf_release(&b);
}

static void
test_access(void)
{
	static const char complete[] =
	    "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Part><ETag>&quot;e1&quot;</ETag><PartNumber>1</PartNumber></Part>"
	    "<Part><ETag>\"e2\"</ETag><PartNumber>2</PartNumber>"
	    "<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>"
	    "</CompleteMultipartUpload>";
	static const char list[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
	    "  <Name>b</Name><Prefix>out/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>\n"
	    "  <IsTruncated>true</IsTruncated><NextContinuationToken>tok==</NextContinuationToken>\n"
	    "  <Contents><Key>out/a%20b.jsonl.out</Key><LastModified>2024-08-01T12:00:00.000Z"
	    "</LastModified><ETag>&quot;abc&quot;</ETag><Size>10</Size>"
	    "<StorageClass>STANDARD</StorageClass></Contents>\n"
	    "  <Contents><Key>out/manifest.json.out</Key><Size>200</Size></Contents>\n"
	    "  <CommonPrefixes><Prefix>out/x/</Prefix></CommonPrefixes>\n"
	    "</ListBucketResult>\n";
	struct bb_error err = BB_ERROR_INIT;
	const struct bb_xml *p, *c;
	struct bb_xml *root;
	int n;

	ok(bb_xml_parse(complete, strlen(complete), &root, &err) == 0, "CompleteMultipartUpload");
	is_str(bb_xml_attr(root, "xmlns"), "http://s3.amazonaws.com/doc/2006-03-01/", "xmlns");
	ok(bb_xml_attr(root, "nope") == NULL, "absent attribute");
	is_int((long long)bb_xml_count(root, "Part"), 2, "two parts");
	p = bb_xml_child(root, "Part");
	is_str(bb_xml_child_text(p, "ETag"), "\"e1\"", "ETag &quot; decoded");
	is_str(bb_xml_child_text(p, "PartNumber"), "1", "part number");
	ok(bb_xml_child_text(p, "ChecksumCRC32") == NULL, "absent child: NULL");
	p = bb_xml_next(p, "Part");
	is_str(bb_xml_child_text(p, "ETag"), "\"e2\"", "second ETag");
	is_str(bb_xml_child_text(p, "ChecksumCRC32"), "AAAAAA==", "optional checksum");
	ok(bb_xml_next(p, "Part") == NULL, "no third part");
	bb_xml_free(root);

	ok(bb_xml_parse(list, strlen(list), &root, &err) == 0, "ListBucketResult");
	is_str(bb_xml_name(root), "ListBucketResult", "root name");
	is_str(bb_xml_child_text(root, "IsTruncated"), "true", "IsTruncated");
	is_str(bb_xml_child_text(root, "NextContinuationToken"), "tok==", "token");
	for (n = 0, c = bb_xml_child(root, "Contents"); c; c = bb_xml_next(c, "Contents"))
		n++;
	is_int(n, 2, "two Contents, the CommonPrefixes between not counted");
	c = bb_xml_child(root, "Contents");
	is_str(bb_xml_child_text(c, "Key"), "out/a%20b.jsonl.out", "key");
	is_str(bb_xml_child_text(c, "Size"), "10", "size");
	is_str(bb_xml_child_text(bb_xml_child(root, "CommonPrefixes"), "Prefix"), "out/x/",
	    "common prefix");
	bb_xml_free(root);

	ok(bb_xml_parse("<s3:R xmlns:s3='u'><s3:Key>k</s3:Key></s3:R>", 44, &root, &err) == 0,
	    "prefixed names");
	is_str(bb_xml_child_text(root, "Key"), "k", "unprefixed lookup matches s3:Key");
	is_str(bb_xml_child_text(root, "s3:Key"), "k", "prefixed lookup");
	ok(bb_xml_child(root, "x:Key") == NULL, "other prefix does not match");
	bb_xml_free(root);
}

static void
test_escape(void)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "plain", "plain" },
		{ "", "" },
		{ "a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e&apos;f" },
		{ "\"etag\"", "&quot;etag&quot;" },
		{ "t\tn\nr\r", "t\tn\nr&#13;" },
		{ "\x01\x1f", "&#x1;&#x1F;" },
		{ "caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80" },
	};
	struct bb_buf b = BB_BUF_INIT, doc = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_xml *root;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bb_buf_reset(&b);
		ok(bb_xml_add_escaped(&b, t[i].in, strlen(t[i].in)) == 0, "escape %zu", i);
		is_str(bb_buf_str(&b), t[i].out, "escaped");
		/* round trip through the reader, as text and as an attribute */
		bb_buf_reset(&doc);
		bb_buf_addf(&doc, "<k v=\"%s\">%s</k>", bb_buf_str(&b), bb_buf_str(&b));
		if (bb_xml_parse(doc.data, doc.len, &root, &err) == 0) {
			ok(strcmp(bb_xml_text(root), t[i].in) == 0 &&
			    strcmp(bb_xml_attr(root, "v"), t[i].in) == 0, "round trip %zu", i);
			bb_xml_free(root);
		} else
			ok(0, "round trip %zu: %s", i, err.msg);
	}
	bb_buf_reset(&b);
	ok(bb_xml_add_escaped(&b, "a\0b", 3) == 0 && strcmp(b.data, "a&#x0;b") == 0,
	    "NUL escaped (and refused by the reader)");
	bb_buf_release(&b);
	bb_buf_release(&doc);
}

int
main(void)
{
	test_good();
	test_bad();
	test_limits();
	test_access();
	test_escape();
	return done_testing();
}
