/*
 * awserror.h - AWS error responses: parse them, classify them.
 *
 * Understands the restJson1 error shape (Bedrock: header X-Amzn-ErrorType,
 * body __type / code / Code, message / Message; botocore's algorithm, spec
 * 1.8), the S3 XML shape (<Error><Code/><Message/><RequestId/></Error>, also
 * when S3 sends it with status 200, spec 4.3), the query-protocol
 * <ErrorResponse><Error>...</Error><RequestId/></ErrorResponse> shape (STS),
 * and responses without a body (HEAD): the code then comes from the status
 * ("NotFound" for 404, "Forbidden" for 403, ...).
 *
 * The classification lets callers decide what to do; bb_http already
 * retries by status, this adds the codes (S3's 503 SlowDown, 400
 * RequestTimeout, Bedrock's ThrottlingException...).
 *
 * struct bb_awserror holds only fixed-size arrays: nothing to release.
 */
#ifndef BB_AWSERROR_H
#define BB_AWSERROR_H

#include <stddef.h>

#include "error.h"
#include "http.h"

enum bb_awserror_class {
	BB_AWSERR_CLIENT = 0,   /* the request is wrong: do not retry */
	BB_AWSERR_THROTTLING,   /* throttled: retry after a backoff */
	BB_AWSERR_TRANSIENT,    /* server-side or timing trouble: retry */
	BB_AWSERR_AUTH,         /* credentials, signature, token, clock skew */
	BB_AWSERR_NOTFOUND,     /* no such bucket, key, upload, job */
};

struct bb_awserror {
	long status;              /* HTTP status (200 for S3's 200-with-<Error>) */
	char code[128];           /* "NoSuchKey", "ThrottlingException", "NotFound", "400" */
	char message[1024];       /* the service's text, as sent (may hold control chars) */
	char request_id[128];     /* x-amzn-RequestId / x-amz-request-id / <RequestId> */
	char region[64];          /* S3: x-amz-bucket-region or <Region>, else "" */
	enum bb_awserror_class cls;
	int retryable;            /* cls is THROTTLING or TRANSIENT */
};

/*
 * Parse a response. Returns 1 when it is an error (e filled: status >= 300,
 * or no response (status 0), or a 2xx whose body's root element is
 * <Error>), 0 when it is a success (e cleared, e->status set). headers may
 * be NULL. Truncates long texts at a UTF-8 character boundary. A body that
 * cannot be parsed becomes the message (code from the status).
 */
int bb_awserror_parse(struct bb_awserror *e, long status, const struct bb_http_headers *headers,
    const char *body, size_t len);
/* The same for a struct bb_http_resp. */
int bb_awserror_from_resp(struct bb_awserror *e, const struct bb_http_resp *resp);

/* The class of an error code with its status (code may be "" or NULL). */
enum bb_awserror_class bb_awserror_classify(const char *code, long status);
/* 1 for throttling codes (ThrottlingException, Throttling, SlowDown,
 * TooManyRequestsException, RequestLimitExceeded, ...). */
int bb_awserror_is_throttling(const char *code);
/* 1 for transient codes (InternalError, ServiceUnavailable, RequestTimeout,
 * ...) or statuses (408, 500, 502, 503, 504). */
int bb_awserror_is_transient(const char *code, long status);

/*
 * Describe e in err: "<what>: <Code>: <Message> (HTTP <status>, request id
 * <id>)", control characters of the remote text escaped, plus the right
 * region when S3 named one; kind BB_ERR_AUTH, BB_ERR_NOTFOUND or
 * BB_ERR_REMOTE by class. what may be NULL. Returns -1.
 */
int bb_awserror_to_error(const struct bb_awserror *e, const char *what, struct bb_error *err);

#endif
