/* awserror.c - AWS error responses; see awserror.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "awserror.h"
#include "json.h"
#include "xml.h"

static const struct {
	long status;
	const char *code, *reason;
} statuses[] = {
	{ 301, "PermanentRedirect", "Moved Permanently" },
	{ 302, "Found", "Found" },
	{ 304, "NotModified", "Not Modified" },
	{ 307, "TemporaryRedirect", "Temporary Redirect" },
	{ 400, "BadRequest", "Bad Request" },
	{ 401, "Unauthorized", "Unauthorized" },
	{ 403, "Forbidden", "Forbidden" },
	{ 404, "NotFound", "Not Found" },
	{ 405, "MethodNotAllowed", "Method Not Allowed" },
	{ 408, "RequestTimeout", "Request Timeout" },
	{ 409, "Conflict", "Conflict" },
	{ 411, "MissingContentLength", "Length Required" },
	{ 412, "PreconditionFailed", "Precondition Failed" },
	{ 413, "EntityTooLarge", "Payload Too Large" },
	{ 416, "InvalidRange", "Range Not Satisfiable" },
	{ 429, "TooManyRequests", "Too Many Requests" },
	{ 500, "InternalError", "Internal Server Error" },
	{ 501, "NotImplemented", "Not Implemented" },
	{ 502, "BadGateway", "Bad Gateway" },
	{ 503, "ServiceUnavailable", "Service Unavailable" },
	{ 504, "GatewayTimeout", "Gateway Timeout" },
};

/* botocore retries/standard.py, plus the S3 and Bedrock spellings. */
static const char *const throttling[] = {
	"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
	"TooManyRequestsException", "ProvisionedThroughputExceededException",
	"TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
	"LimitExceededException", "RequestThrottled", "SlowDown", "EC2ThrottledException",
	"TooManyRequests", NULL
};
static const char *const transient[] = {
	"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
	"InternalError", "InternalFailure", "InternalServerError", "InternalServerException",
	"ServiceUnavailable", "ServiceUnavailableException", "ServiceException",
	"BadGateway", "GatewayTimeout", "IDPCommunicationError", "EC2MetadataTimeout", NULL
};
static const char *const auth[] = {
	"AccessDenied", "AccessDeniedException", "UnrecognizedClientException",
	"InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
	"InvalidAccessKeyId", "ExpiredToken", "ExpiredTokenException", "RequestExpired",
	"RequestTimeTooSkewed", "IncompleteSignature", "MissingAuthenticationToken",
	"NotAuthorized", "InvalidToken", "AuthFailure", "Unauthorized", "Forbidden",
	"OptInRequired", "UnauthorizedException", NULL
};
static const char *const notfound[] = {
	"NoSuchKey", "NoSuchBucket", "NoSuchUpload", "NoSuchVersion",
	"ResourceNotFoundException", "NotFound", NULL
};

static int
in_list(const char *const *list, const char *code)
{
	size_t i;

	if (code == NULL || *code == '\0')
		return 0;
	for (i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], code) == 0)
			return 1;
	return 0;
}

int
bb_awserror_is_throttling(const char *code)
{
	return in_list(throttling, code);
}

int
bb_awserror_is_transient(const char *code, long status)
{
	return in_list(transient, code) || status == 408 || status == 500 || status == 502 ||
	    status == 503 || status == 504;
}

enum bb_awserror_class
bb_awserror_classify(const char *code, long status)
{
	if (bb_awserror_is_throttling(code))
		return BB_AWSERR_THROTTLING;
	if (in_list(transient, code))
		return BB_AWSERR_TRANSIENT;
	if (in_list(auth, code))
		return BB_AWSERR_AUTH;
	if (in_list(notfound, code))
		return BB_AWSERR_NOTFOUND;
	/* a code we do not know: the status decides */
	if (status == 429)
		return BB_AWSERR_THROTTLING;
	if (bb_awserror_is_transient(NULL, status))
		return BB_AWSERR_TRANSIENT;
	if (status == 401 || status == 403)
		return BB_AWSERR_AUTH;
	if (status == 404)
		return BB_AWSERR_NOTFOUND;
	return BB_AWSERR_CLIENT;
}

/* Copy s[0..n) into dst (size cap), cut at a UTF-8 character boundary. */
static void
set(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void
sets(char *dst, size_t cap, const char *s)
{
	set(dst, cap, s, strlen(s));
}

/* "ValidationException:http://..." and "ns#FooError" -> the bare name. */
static void
set_code(struct bb_awserror *e, const char *s)
{
	size_t n = strcspn(s, ":");
	const char *h = memchr(s, '#', n);

	if (h != NULL) {
		n -= (size_t)(h + 1 - s);
		s = h + 1;
	}
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	set(e->code, sizeof(e->code), s, n);
}

static void
code_from_status(struct bb_awserror *e, int set_message)
{
	size_t i;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].status == e->status) {
			sets(e->code, sizeof(e->code), statuses[i].code);
			if (set_message)
				sets(e->message, sizeof(e->message), statuses[i].reason);
			return;
		}
	snprintf(e->code, sizeof(e->code), "%ld", e->status);
	if (set_message)
		snprintf(e->message, sizeof(e->message), "HTTP status %ld", e->status);
}

/* The body as the message, trimmed. */
static void
body_message(struct bb_awserror *e, const char *body, size_t len)
{
	while (len > 0 && (*body == ' ' || *body == '\t' || *body == '\n' || *body == '\r')) {
		body++;
		len--;
	}
	while (len > 0 && (body[len - 1] == ' ' || body[len - 1] == '\t' ||
	    body[len - 1] == '\n' || body[len - 1] == '\r'))
		len--;
	set(e->message, sizeof(e->message), body, len);
}

static const char *
json_member_str(const struct bb_json *j, const char *a, const char *b)
{
	const char *s = bb_json_str(bb_json_get(j, a));

	if (s == NULL && b != NULL)
		s = bb_json_str(bb_json_get(j, b));
	return s;
}

/* restJson1, botocore's algorithm (spec 1.8). */
static void
parse_json(struct bb_awserror *e, const char *body, size_t len)
{
	struct bb_json *j = NULL;
	const char *s;
	char num[24];

	if (bb_json_parse(body, len, 32, &j, NULL) != 0 || !bb_json_is(j, BB_JSON_OBJECT)) {
		body_message(e, body, len);
		snprintf(num, sizeof(num), "%ld", e->status);
		sets(e->code, sizeof(e->code), num);
		goto out;
	}
	if ((s = json_member_str(j, "message", "Message")) != NULL)
		sets(e->message, sizeof(e->message), s);
	if ((s = bb_json_str(bb_json_get(j, "__type"))) != NULL)
		set_code(e, s);
	else {
		snprintf(num, sizeof(num), "%ld", e->status);
		sets(e->code, sizeof(e->code), num);
	}
	if ((s = json_member_str(j, "code", "Code")) != NULL)
		set_code(e, s);
out:
	bb_json_free(j);
}

/* S3 <Error>, or the query protocol's <ErrorResponse><Error>. 1 if either. */
static int
parse_xml(struct bb_awserror *e, const struct bb_xml *root)
{
	const struct bb_xml *er = root;
	const char *s;

	if (strcmp(bb_xml_name(root), "ErrorResponse") == 0 &&
	    (er = bb_xml_child(root, "Error")) == NULL)
		return 0;
	if (strcmp(bb_xml_name(er), "Error") != 0)
		return 0;
	if ((s = bb_xml_child_text(er, "Code")) != NULL && *s != '\0')
		set_code(e, s);
	else
		code_from_status(e, 0);
	if ((s = bb_xml_child_text(er, "Message")) != NULL)
		sets(e->message, sizeof(e->message), s);
	if (e->request_id[0] == '\0' &&
	    ((s = bb_xml_child_text(er, "RequestId")) != NULL ||
	    (s = bb_xml_child_text(root, "RequestId")) != NULL))
		sets(e->request_id, sizeof(e->request_id), s);
	if (e->region[0] == '\0' && (s = bb_xml_child_text(er, "Region")) != NULL)
		sets(e->region, sizeof(e->region), s);
	return 1;
}

int
bb_awserror_parse(struct bb_awserror *e, long status, const struct bb_http_headers *headers,
    const char *body, size_t len)
{
	struct bb_xml *root = NULL;
	const char *s, *type = NULL;
	size_t k = 0;
	int is_error = status < 200 || status >= 300;

	memset(e, 0, sizeof(*e));
	e->status = status;
	if (body == NULL)
		len = 0;
	while (k < len && (body[k] == ' ' || body[k] == '\t' || body[k] == '\n' ||
	    body[k] == '\r'))
		k++;
	if (k < len && body[k] == '<' && bb_xml_parse(body, len, &root, NULL) == 0 &&
	    !is_error && strcmp(bb_xml_name(root), "Error") == 0)
		is_error = 1;   /* S3's 200 with an <Error> body */
	if (!is_error)
		goto out;
	if (status == 0) {
		sets(e->message, sizeof(e->message), "no response");
		goto classify;
	}
	if (headers != NULL) {
		if ((s = bb_http_headers_get(headers, "x-amzn-RequestId")) != NULL ||
		    (s = bb_http_headers_get(headers, "x-amz-request-id")) != NULL)
			sets(e->request_id, sizeof(e->request_id), s);
		if ((s = bb_http_headers_get(headers, "x-amz-bucket-region")) != NULL)
			sets(e->region, sizeof(e->region), s);
		type = bb_http_headers_get(headers, "x-amzn-ErrorType");
	}
	if (k == len)
		code_from_status(e, 1);
	else if (body[k] == '{')
		parse_json(e, body + k, len - k);
	else if (root == NULL || !parse_xml(e, root)) {
		body_message(e, body + k, len - k);
		code_from_status(e, 0);
	}
	if (type != NULL && *type != '\0')
		set_code(e, type);
classify:
	e->cls = bb_awserror_classify(e->code, status);
	e->retryable = e->cls == BB_AWSERR_THROTTLING || e->cls == BB_AWSERR_TRANSIENT;
out:
	bb_xml_free(root);
	return is_error;
}

int
bb_awserror_from_resp(struct bb_awserror *e, const struct bb_http_resp *resp)
{
	return bb_awserror_parse(e, resp->status, &resp->headers, resp->body.data, resp->body.len);
}

/* Remote text with control characters made visible. */
static void
add_escaped(struct bb_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			bb_buf_addf(b, "\\x%02x", (unsigned char)*s);
		else
			bb_buf_addc(b, *s);
	}
}

int
bb_awserror_to_error(const struct bb_awserror *e, const char *what, struct bb_error *err)
{
	struct bb_buf b = BB_BUF_INIT;
	enum bb_error_kind kind;

	if (what != NULL)
		bb_buf_addf(&b, "%s: ", what);
	if (e->code[0] != '\0') {
		add_escaped(&b, e->code);
		if (e->message[0] != '\0')
			bb_buf_adds(&b, ": ");
	}
	add_escaped(&b, e->message);
	bb_buf_addf(&b, " (HTTP %ld", e->status);
	if (e->request_id[0] != '\0') {
		bb_buf_adds(&b, ", request id ");
		add_escaped(&b, e->request_id);
	}
	bb_buf_addc(&b, ')');
	if (e->region[0] != '\0') {
		bb_buf_adds(&b, "; the bucket is in region '");
		add_escaped(&b, e->region);
		bb_buf_addc(&b, '\'');
	}
	switch (e->cls) {
	case BB_AWSERR_AUTH: kind = BB_ERR_AUTH; break;
	case BB_AWSERR_NOTFOUND: kind = BB_ERR_NOTFOUND; break;
	default: kind = BB_ERR_REMOTE; break;
	}
	bb_error_set(err, kind, "%s", bb_buf_str(&b));
	bb_buf_release(&b);
	return -1;
}
