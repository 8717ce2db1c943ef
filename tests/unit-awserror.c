/* unit-awserror.c - AWS error responses, from the shapes in the spec. */
#include "config.h"

#include <string.h>

#include "awserror.h"
#include "tap.h"

#define C BB_AWSERR_CLIENT
#define T BB_AWSERR_THROTTLING
#define R BB_AWSERR_TRANSIENT
#define A BB_AWSERR_AUTH
#define N BB_AWSERR_NOTFOUND

static const struct {
	const char *name;
	long status;
	const char *headers;     /* "Name: value\n..." */
	const char *body;
	int is_error;
	const char *code, *message, *request_id, *region;
	enum bb_awserror_class cls;
} cases[] = {
	{ "bedrock 404 with x-amzn-ErrorType", 404,
	  "x-amzn-RequestId: 6f1b-uuid\nx-amzn-ErrorType: ResourceNotFoundException:"
	  "http://internal.amazon.com/coral/com.amazon.bedrock/\n",
	  "{\"message\":\"Could not find model invocation job abcdefghij12\"}", 1,
	  "ResourceNotFoundException", "Could not find model invocation job abcdefghij12",
	  "6f1b-uuid", "", N },
	{ "__type with namespace", 400, "",
	  "{\"__type\":\"com.amazon.bedrock#ValidationException\",\"message\":\"bad\"}", 1,
	  "ValidationException", "bad", "", "", C },
	{ "no type anywhere: the status", 400, "", "{\"message\":\"x\"}", 1,
	  "400", "x", "", "", C },
	{ "Message capitalised, code member", 400, "",
	  "{\"code\":\"ConflictException\",\"Message\":\"in use\"}", 1,
	  "ConflictException", "in use", "", "", C },
	{ "header wins over body", 429, "X-Amzn-Errortype: ThrottlingException\n",
	  "{\"__type\":\"Other\",\"code\":\"Another\",\"message\":\"Too many requests, please wait"
	  " before trying again.\"}", 1,
	  "ThrottlingException", "Too many requests, please wait before trying again.", "", "", T },
	{ "type with both ':' and '#'", 500,
	  "x-amzn-ErrorType: aws#InternalServerException:http://x/\n", "{}", 1,
	  "InternalServerException", "", "", "", R },
	{ "quota is 400 and not retryable", 400, "",
	  "{\"__type\":\"ServiceQuotaExceededException\",\"message\":\"quota\"}", 1,
	  "ServiceQuotaExceededException", "quota", "", "", C },
	{ "bad signature", 403, "",
	  "{\"__type\":\"InvalidSignatureException\",\"message\":\"The request signature we "
	  "calculated does not match the signature you provided.\"}", 1,
	  "InvalidSignatureException", "The request signature we calculated does not match the "
	  "signature you provided.", "", "", A },
	{ "body not JSON: the text is the message", 502, "", "{oops", 1,
	  "502", "{oops", "", "", R },
	{ "S3 NoSuchKey", 404, "x-amz-request-id: 4442587FB7D0A2F9\nx-amz-id-2: abc\n",
	  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The "
	  "specified key does not exist.</Message><Key>a/b</Key><RequestId>4442587FB7D0A2F9"
	  "</RequestId><HostId>h</HostId></Error>", 1,
	  "NoSuchKey", "The specified key does not exist.", "4442587FB7D0A2F9", "", N },
	{ "S3 SlowDown is throttling", 503, "",
	  "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
	  "<RequestId>R1</RequestId></Error>", 1,
	  "SlowDown", "Please reduce your request rate.", "R1", "", T },
	{ "S3 400 RequestTimeout is transient", 400, "",
	  "<Error><Code>RequestTimeout</Code><Message>Your socket connection to the server was "
	  "not read from or written to within the timeout period.</Message></Error>", 1,
	  "RequestTimeout", "Your socket connection to the server was not read from or written "
	  "to within the timeout period.", "", "", R },
	{ "S3 wrong region", 301, "x-amz-bucket-region: eu-west-1\n",
	  "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access "
	  "must be addressed using the specified endpoint.</Message><Endpoint>b.s3.eu-west-1."
	  "amazonaws.com</Endpoint></Error>", 1,
	  "PermanentRedirect", "The bucket you are attempting to access must be addressed using "
	  "the specified endpoint.", "", "eu-west-1", C },
	{ "S3 region from the body", 400, "",
	  "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is "
	  "wrong; expecting 'us-west-2'</Message><Region>us-west-2</Region></Error>", 1,
	  "AuthorizationHeaderMalformed", "the region 'us-east-1' is wrong; expecting "
	  "'us-west-2'", "", "us-west-2", C },
	{ "S3 entities in the message", 400, "",
	  "<Error><Code>InvalidPart</Code><Message>One or more of the specified parts could not "
	  "be found. ETag &quot;e1&quot; &amp; part 2</Message></Error>", 1,
	  "InvalidPart", "One or more of the specified parts could not be found. ETag \"e1\" & "
	  "part 2", "", "", C },
	{ "S3 200 with <Error> (Complete)", 200, "",
	  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n<Error><Code>InternalError</Code>"
	  "<Message>We encountered an internal error. Please try again.</Message><RequestId>"
	  "656c76696e6727732072657175657374</RequestId></Error>", 1,
	  "InternalError", "We encountered an internal error. Please try again.",
	  "656c76696e6727732072657175657374", "", R },
	{ "S3 200 Complete result is a success", 200, "",
	  "<CompleteMultipartUploadResult><Location>l</Location><Bucket>b</Bucket><Key>k</Key>"
	  "<ETag>&quot;x-2&quot;</ETag></CompleteMultipartUploadResult>", 0,
	  "", "", "", "", C },
	{ "200 with JSON is a success", 200, "", "{\"jobArn\":\"arn\"}", 0, "", "", "", "", C },
	{ "204 without body is a success", 204, "", "", 0, "", "", "", "", C },
	{ "HEAD 404 without body", 404, "x-amz-request-id: HR\n", "", 1,
	  "NotFound", "Not Found", "HR", "", N },
	{ "HEAD 403 without body", 403, "", "", 1, "Forbidden", "Forbidden", "", "", A },
	{ "HEAD 412", 412, "", "", 1, "PreconditionFailed", "Precondition Failed", "", "", C },
	{ "503 without body", 503, "", "", 1, "ServiceUnavailable", "Service Unavailable", "",
	  "", R },
	{ "429 without body", 429, "", "", 1, "TooManyRequests", "Too Many Requests", "", "", T },
	{ "odd status without body", 418, "", "", 1, "418", "HTTP status 418", "", "", C },
	{ "HTML from a proxy", 502, "", "  <html><body>Bad Gateway</body></html>\n", 1,
	  "BadGateway", "<html><body>Bad Gateway</body></html>", "", "", R },
	{ "plain text body", 500, "", "upstream connect error\n", 1,
	  "InternalError", "upstream connect error", "", "", R },
	{ "broken XML", 500, "", "<Error><Code>x", 1, "InternalError", "<Error><Code>x", "", "",
	  R },
	{ "STS ErrorResponse", 403, "",
	  "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender"
	  "</Type><Code>ExpiredTokenException</Code><Message>Token expired</Message></Error>"
	  "<RequestId>sts-1</RequestId></ErrorResponse>", 1,
	  "ExpiredTokenException", "Token expired", "sts-1", "", A },
	{ "XML error without Code", 404, "", "<Error><Message>m</Message></Error>", 1,
	  "NotFound", "m", "", "", N },
	{ "no response", 0, "", "", 1, "", "no response", "", "", C },
};

static void
test_parse(void)
{
	struct bb_http_headers h;
	struct bb_awserror e;
	char line[512], *colon, *nl;
	const char *p;
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bb_http_headers_init(&h);
		for (p = cases[i].headers; *p != '\0'; p = nl + 1) {
			nl = strchr(p, '\n');
			snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
			colon = strchr(line, ':');
			*colon = '\0';
			bb_http_headers_add(&h, line, colon + 2);
		}
		r = bb_awserror_parse(&e, cases[i].status, &h, cases[i].body,
		    strlen(cases[i].body));
		is_int(r, cases[i].is_error, cases[i].name);
		is_str(e.code, cases[i].code, "  code");
		is_str(e.message, cases[i].message, "  message");
		is_str(e.request_id, cases[i].request_id, "  request id");
		is_str(e.region, cases[i].region, "  region");
		is_int(e.cls, cases[i].cls, "  class");
		is_int(e.retryable, cases[i].cls == T || cases[i].cls == R, "  retryable");
		is_int(e.status, cases[i].status, "  status");
		bb_http_headers_release(&h);
	}
}

static void
test_classify(void)
{
	static const struct {
		const char *code;
		long status;
		enum bb_awserror_class cls;
	} t[] = {
		{ "ThrottlingException", 429, T }, { "Throttling", 400, T }, { "SlowDown", 503, T },
		{ "TooManyRequestsException", 429, T }, { "RequestLimitExceeded", 400, T },
		{ "ProvisionedThroughputExceededException", 400, T },
		{ "InternalError", 500, R }, { "ServiceUnavailable", 503, R },
		{ "RequestTimeout", 400, R }, { "RequestTimeoutException", 408, R },
		{ "PriorRequestNotComplete", 400, R }, { "InternalServerException", 500, R },
		{ "AccessDeniedException", 403, A }, { "ExpiredToken", 400, A },
		{ "RequestTimeTooSkewed", 403, A }, { "UnrecognizedClientException", 403, A },
		{ "NoSuchUpload", 404, N }, { "NoSuchBucket", 404, N },
		{ "ValidationException", 400, C }, { "EntityTooSmall", 400, C },
		{ "MalformedXML", 400, C }, { "NotImplemented", 501, C },
		{ "SomethingNew", 503, R }, { "SomethingNew", 429, T }, { "SomethingNew", 403, A },
		{ "SomethingNew", 404, N }, { "SomethingNew", 409, C }, { "", 504, R },
		{ NULL, 400, C },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(bb_awserror_classify(t[i].code, t[i].status), t[i].cls,
		    t[i].code ? t[i].code : "(null)");
	ok(bb_awserror_is_throttling("SlowDown") && !bb_awserror_is_throttling("InternalError") &&
	    !bb_awserror_is_throttling(NULL), "is_throttling");
	ok(bb_awserror_is_transient("InternalError", 200) && bb_awserror_is_transient("x", 504) &&
	    !bb_awserror_is_transient("x", 400), "is_transient");
}

static void
test_to_error(void)
{
	struct bb_awserror e;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_http_resp resp;
	static const char body[] = "<Error><Code>NoSuchKey</Code><Message>bad\nkey\x1b[31m</Message>"
	    "<RequestId>R9</RequestId></Error>";

	bb_http_resp_init(&resp);
	resp.status = 404;
	bb_buf_adds(&resp.body, body);
	ok(bb_awserror_from_resp(&e, &resp) == 1, "from_resp");
	ok(bb_awserror_to_error(&e, "GET s3://b/k", &err) == -1, "to_error returns -1");
	is_str(err.msg, "GET s3://b/k: NoSuchKey: bad\\x0akey\\x1b[31m (HTTP 404, request id R9)",
	    "message with control characters escaped");
	is_int(err.kind, BB_ERR_NOTFOUND, "kind notfound");
	bb_http_resp_release(&resp);

	{
		static const char redirect[] = "<Error><Code>PermanentRedirect</Code><Message>m"
		    "</Message><Region>eu-west-1</Region></Error>";

		bb_awserror_parse(&e, 301, NULL, redirect, strlen(redirect));
	}
	bb_awserror_to_error(&e, NULL, &err);
	is_str(err.msg, "PermanentRedirect: m (HTTP 301); the bucket is in region 'eu-west-1'",
	    "wrong region named");
	is_int(err.kind, BB_ERR_REMOTE, "kind remote");
	bb_awserror_parse(&e, 403, NULL, "", 0);
	bb_awserror_to_error(&e, "HEAD s3://b/k", &err);
	is_int(err.kind, BB_ERR_AUTH, "403: kind auth");
}

static void
test_truncation(void)
{
	struct bb_awserror e;
	struct bb_buf b = BB_BUF_INIT;
	int i;

	bb_buf_adds(&b, "{\"__type\":\"X\",\"message\":\"");
	for (i = 0; i < 2000; i++)
		bb_buf_adds(&b, "\xc3\xa9");   /* 2 bytes each */
	bb_buf_adds(&b, "\"}");
	bb_awserror_parse(&e, 400, NULL, b.data, b.len);
	ok(strlen(e.message) == 1022 && (e.message[1021] & 0xc0) == 0x80,
	    "long message cut at a character boundary (%zu bytes)", strlen(e.message));
	bb_buf_release(&b);
}

int
main(void)
{
	test_parse();
	test_classify();
	test_to_error();
	test_truncation();
	return done_testing();
}
