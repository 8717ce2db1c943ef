/*
 * bedrock.c - the four Bedrock batch operations of bb-emu (spec/BEDROCK.md
 * section 1): routing, every constraint of the service model checked the
 * way the service reports it (Coral-style ValidationException messages),
 * and the JSON responses.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "msg.h"
#include "jobs.h"

/*
 * The model's patterns, shown in messages as the model has them, checked
 * as anchored POSIX EREs that accept the same strings (POSIX lacks \s, \S
 * and (?:), and takes backslashes inside brackets literally).
 */
enum {
	RE_JOBNAME, RE_ROLE, RE_TOKEN, RE_MODEL, RE_S3URI, RE_ACCOUNT, RE_KMS, RE_VPCID,
	RE_TAG, RE_JOBID, RE_PAGETOKEN, RE_COUNT,
};
static const struct {
	const char *shown;
	const char *ere;
} patterns[RE_COUNT] = {
	[RE_JOBNAME] = { "[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\\+\\-\\.]){0,63}",
	    /* with the length limit of 63 this is the same language */
	    "^[a-zA-Z0-9][-a-zA-Z0-9+.]*$" },
	[RE_ROLE] = { "arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+",
	    "^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+$" },
	[RE_TOKEN] = { "[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}",
	    /* with the length limit of 256 this is the same language */
	    "^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$" },
	[RE_MODEL] = { "(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:(([0-9]{12}:custom-model/"
	    "[a-z0-9-]{1,63}[.]{1}[a-z0-9-:]{1,63}/[a-z0-9]{12}$)|(:foundation-model/([a-z0-9-]"
	    "{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})|(([0-9a-"
	    "zA-Z][_-]?)+)$)|([0-9]{12}:(inference-profile|application-inference-profile)/[a-zA-"
	    "Z0-9-:.]+$)))|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-"
	    "9-]{1,63}){0,2})|(([0-9a-zA-Z][_-]?)+)",
	    "^((arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:(([0-9]{12}:custom-model/"
	    "[a-z0-9-]{1,63}[.][a-z0-9:-]{1,63}/[a-z0-9]{12})|(:foundation-model/([a-z0-9-]"
	    "{1,63}[.][a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})(:[a-z0-9-]{1,63}){0,2})|(([0-9a-"
	    "zA-Z][_-]?)+))|([0-9]{12}:(inference-profile|application-inference-profile)/[a-zA-"
	    "Z0-9:.-]+)))|([a-z0-9-]{1,63}[.][a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})(:[a-z0-"
	    "9-]{1,63}){0,2})|(([0-9a-zA-Z][_-]?)+))$" },
	[RE_S3URI] = { "s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+"
	    "(?:/[-!_*'().a-z0-9A-Z]+)*)?/?",
	    "^s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](/[-!_*'().a-z0-9A-Z]+)*/?$" },
	[RE_ACCOUNT] = { "[0-9]{12}", "^[0-9]{12}$" },
	[RE_KMS] = { "(arn:aws(-[^:]+)?:kms:[a-zA-Z0-9-]*:[0-9]{12}:((key/[a-zA-Z0-9-]{36})|"
	    "(alias/[a-zA-Z0-9-_/]+)))|([a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9-_/]+)",
	    "^((arn:aws(-[^:]+)?:kms:[a-zA-Z0-9-]*:[0-9]{12}:((key/[a-zA-Z0-9-]{36})|"
	    "(alias/[a-zA-Z0-9_/-]+)))|([a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9_/-]+))$" },
	[RE_VPCID] = { "[-0-9a-zA-Z]+", "^[-0-9a-zA-Z]+$" },
	[RE_TAG] = { "[a-zA-Z0-9\\s._:/=+@-]*", "^[a-zA-Z0-9[:space:]._:/=+@-]*$" },
	[RE_JOBID] = { "((arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:model-invocation-job/)?"
	    "[a-z0-9]{12})",
	    "^((arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:model-invocation-job/)?"
	    "[a-z0-9]{12})$" },
	[RE_PAGETOKEN] = { "\\S*", "^[^[:space:]]*$" },
};
static regex_t regexes[RE_COUNT];
static int regex_failed;
static pthread_once_t regex_once = PTHREAD_ONCE_INIT;

static void
regex_init(void)
{
	int i;

	for (i = 0; i < RE_COUNT; i++)
		if (regcomp(&regexes[i], patterns[i].ere, REG_EXTENDED | REG_NOSUB) != 0)
			regex_failed = 1;
}

static int
pattern_ok(int which, const char *s)
{
	pthread_once(&regex_once, regex_init);
	return !regex_failed && regexec(&regexes[which], s, 0, NULL, 0) == 0;
}

/* ---- Coral-style validation messages ---- */

struct verr {
	struct bb_buf list;
	int n;
};

static size_t
utf8_len(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

/* "Value 'x' at 'path' failed to satisfy constraint: Member must ..." */
static void
verr_add(struct verr *v, const struct bb_json *val, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void
verr_add(struct verr *v, const struct bb_json *val, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (v->n++ > 0)
		bb_buf_adds(&v->list, "; ");
	if (val == NULL || val->type == BB_JSON_NULL) {
		bb_buf_adds(&v->list, "Value null");
	} else if (val->type == BB_JSON_STRING) {
		bb_buf_addf(&v->list, "Value '%.*s%s'", (int)(val->len > 512 ? 512 : val->len),
		    val->str, val->len > 512 ? "..." : "");
	} else {
		struct bb_buf t = BB_BUF_INIT;

		bb_json_write(val, &t);
		bb_buf_addf(&v->list, "Value '%.*s%s'", (int)(t.len > 512 ? 512 : t.len),
		    bb_buf_str(&t), t.len > 512 ? "..." : "");
		bb_buf_release(&t);
	}
	bb_buf_addf(&v->list, " at '%s' failed to satisfy constraint: ", path);
	va_start(ap, fmt);
	bb_buf_vaddf(&v->list, fmt, ap);
	va_end(ap);
}

/* 1 when the member has a value to check; when it is absent or null, 0
 * ("Member must not be null" if it is required). */
static int
chk_present(struct verr *v, const struct bb_json *val, const char *path, int required)
{
	if (val != NULL && val->type != BB_JSON_NULL)
		return 1;
	if (required)
		verr_add(v, NULL, path, "Member must not be null");
	return 0;
}

/* A string member: presence, type, length in characters, pattern. */
static void
chk_string(struct verr *v, const struct bb_json *val, const char *path, int required,
    size_t min, size_t max, int re)
{
	size_t n;

	if (!chk_present(v, val, path, required))
		return;
	if (val->type != BB_JSON_STRING) {
		verr_add(v, val, path, "Member must be a string");
		return;
	}
	n = utf8_len(val->str, val->len);
	if (n < min)
		verr_add(v, val, path, "Member must have length greater than or equal to %zu", min);
	if (n > max)
		verr_add(v, val, path, "Member must have length less than or equal to %zu", max);
	if (re >= 0 && (strlen(val->str) != val->len || !pattern_ok(re, val->str)))
		verr_add(v, val, path, "Member must satisfy regular expression pattern: %s",
		    patterns[re].shown);
}

static void
chk_enum(struct verr *v, const struct bb_json *val, const char *path,
    const char *const *vals, const char *shown)
{
	size_t i;

	if (val == NULL || val->type == BB_JSON_NULL)
		return;
	if (val->type == BB_JSON_STRING)
		for (i = 0; vals[i] != NULL; i++)
			if (strcmp(val->str, vals[i]) == 0)
				return;
	verr_add(v, val, path, "Member must satisfy enum value set: [%s]", shown);
}

/* A list member: type and item count. 1 when it is a list to look into. */
static int
chk_list(struct verr *v, const struct bb_json *val, const char *path, int required,
    size_t min, size_t max)
{
	if (!chk_present(v, val, path, required))
		return 0;
	if (val->type != BB_JSON_ARRAY) {
		verr_add(v, val, path, "Member must be a list");
		return 0;
	}
	if (val->n < min)
		verr_add(v, val, path, "Member must have length greater than or equal to %zu", min);
	if (val->n > max)
		verr_add(v, val, path, "Member must have length less than or equal to %zu", max);
	return 1;
}

/* A structure member: 1 when it is an object to look into. */
static int
chk_struct(struct verr *v, const struct bb_json *val, const char *path, int required)
{
	if (!chk_present(v, val, path, required))
		return 0;
	if (val->type != BB_JSON_OBJECT) {
		verr_add(v, val, path, "Member must be a structure");
		return 0;
	}
	return 1;
}

/* A union: exactly one member set, and it must be `member`. */
static const struct bb_json *
chk_union(struct verr *v, const struct bb_json *val, const char *path, const char *member)
{
	char sub[128];

	if (!chk_struct(v, val, path, 1))
		return NULL;
	if (val->n != 1) {
		verr_add(v, val, path, "Member must have exactly one member set");
		return NULL;
	}
	snprintf(sub, sizeof(sub), "%s.%s", path, member);
	if (bb_json_get(val, member) == NULL) {
		verr_add(v, NULL, sub, "Member must not be null");
		return NULL;
	}
	if (!chk_struct(v, bb_json_get(val, member), sub, 1))
		return NULL;
	return bb_json_get(val, member);
}

static void
verr_message(struct verr *v, struct bb_buf *out)
{
	bb_buf_addf(out, "%d validation error%s detected: %s", v->n, v->n == 1 ? "" : "s",
	    bb_buf_str(&v->list));
}

/* ---- responses ---- */

void
emu_bedrock_error(struct emu_response *resp, int status, const char *type, const char *fmt, ...)
{
	struct bb_buf msg = BB_BUF_INIT, hdr = BB_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	bb_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	resp->status = status;
	/* the header as the service sends it; clients keep what is before ':' */
	bb_buf_addf(&hdr, "%s:http://internal.amazon.com/coral/com.amazon.bedrock/", type);
	bb_http_headers_set(&resp->headers, "x-amzn-ErrorType", hdr.data);
	bb_http_headers_set(&resp->headers, "Content-Type", "application/json");
	bb_buf_reset(&resp->body);
	bb_buf_adds(&resp->body, "{\"message\":");
	if (bb_json_add_str(&resp->body, bb_buf_str(&msg), msg.len) < 0)
		bb_buf_adds(&resp->body, "\"(message not valid UTF-8)\"");
	bb_buf_adds(&resp->body, ",\"__type\":");
	bb_json_add_str(&resp->body, type, strlen(type));
	bb_buf_addc(&resp->body, '}');
	bb_buf_release(&msg);
	bb_buf_release(&hdr);
}

static void
reply_json(const struct emu_request *req, struct emu_response *resp, int status,
    const struct bb_buf *body)
{
	resp->status = status;
	bb_http_headers_set(&resp->headers, "Content-Type", "application/json");
	if (req->request_id != NULL)
		bb_http_headers_set(&resp->headers, "x-amzn-RequestId", req->request_id);
	bb_buf_reset(&resp->body);
	if (body != NULL)
		bb_buf_add(&resp->body, body->data ? body->data : "", body->len);
}

static void
error_reply(const struct emu_request *req, struct emu_response *resp, int status,
    const char *type, const char *msg)
{
	emu_bedrock_error(resp, status, type, "%s", msg);
	if (req->request_id != NULL && bb_http_headers_get(&resp->headers, "x-amzn-RequestId") == NULL)
		bb_http_headers_set(&resp->headers, "x-amzn-RequestId", req->request_id);
}

/* ---- CreateModelInvocationJob ---- */

static void
op_create(struct emu *e, const struct emu_request *req, struct emu_response *resp)
{
	static const char *const types[] = { "InvokeModel", "Converse", NULL };
	static const char *const formats[] = { "JSONL", NULL };
	struct verr v = { BB_BUF_INIT, 0 };
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf msg = BB_BUF_INIT, in_cfg = BB_BUF_INIT, out_cfg = BB_BUF_INIT;
	struct bb_buf vpc = BB_BUF_INIT, tags = BB_BUF_INIT, body = BB_BUF_INIT;
	struct bb_json *doc = NULL;
	const struct bb_json *x, *s3in, *s3out, *t;
	struct emu_job_spec spec;
	const char *arn = NULL, *errtype = NULL;
	char path[96];
	int existed = 0;
	size_t i;

	memset(&spec, 0, sizeof(spec));
	if (bb_json_parse(req->body ? req->body : "", req->body_len, 64, &doc, &err) < 0 ||
	    doc->type != BB_JSON_OBJECT) {
		error_reply(req, resp, 400, "SerializationException",
		    "The request body is not a valid JSON object.");
		goto out;
	}
	chk_string(&v, bb_json_get(doc, "jobName"), "jobName", 1, 1, 63, RE_JOBNAME);
	chk_string(&v, bb_json_get(doc, "roleArn"), "roleArn", 1, 0, 2048, RE_ROLE);
	chk_string(&v, bb_json_get(doc, "clientRequestToken"), "clientRequestToken", 0, 1, 256,
	    RE_TOKEN);
	chk_string(&v, bb_json_get(doc, "modelId"), "modelId", 1, 1, 2048, RE_MODEL);
	s3in = chk_union(&v, bb_json_get(doc, "inputDataConfig"), "inputDataConfig",
	    "s3InputDataConfig");
	if (s3in != NULL) {
		chk_string(&v, bb_json_get(s3in, "s3Uri"), "inputDataConfig.s3InputDataConfig.s3Uri",
		    1, 1, 1024, RE_S3URI);
		chk_enum(&v, bb_json_get(s3in, "s3InputFormat"),
		    "inputDataConfig.s3InputDataConfig.s3InputFormat", formats, "JSONL");
		chk_string(&v, bb_json_get(s3in, "s3BucketOwner"),
		    "inputDataConfig.s3InputDataConfig.s3BucketOwner", 0, 0, SIZE_MAX, RE_ACCOUNT);
	}
	s3out = chk_union(&v, bb_json_get(doc, "outputDataConfig"), "outputDataConfig",
	    "s3OutputDataConfig");
	if (s3out != NULL) {
		chk_string(&v, bb_json_get(s3out, "s3Uri"),
		    "outputDataConfig.s3OutputDataConfig.s3Uri", 1, 1, 1024, RE_S3URI);
		chk_string(&v, bb_json_get(s3out, "s3EncryptionKeyId"),
		    "outputDataConfig.s3OutputDataConfig.s3EncryptionKeyId", 0, 1, 2048, RE_KMS);
		chk_string(&v, bb_json_get(s3out, "s3BucketOwner"),
		    "outputDataConfig.s3OutputDataConfig.s3BucketOwner", 0, 0, SIZE_MAX, RE_ACCOUNT);
	}
	x = bb_json_get(doc, "vpcConfig");
	if (chk_struct(&v, x, "vpcConfig", 0)) {
		static const struct { const char *key; size_t max; } lists[] = {
			{ "subnetIds", 16 }, { "securityGroupIds", 5 },
		};
		size_t l;

		for (l = 0; l < 2; l++) {
			const struct bb_json *ids = bb_json_get(x, lists[l].key);

			snprintf(path, sizeof(path), "vpcConfig.%s", lists[l].key);
			if (!chk_list(&v, ids, path, 1, 1, lists[l].max))
				continue;
			for (i = 0; i < ids->n; i++) {
				snprintf(path, sizeof(path), "vpcConfig.%s.%zu.member", lists[l].key,
				    i + 1);
				chk_string(&v, ids->items[i], path, 1, 0, 32, RE_VPCID);
			}
		}
	}
	x = bb_json_get(doc, "timeoutDurationInHours");
	if (x != NULL && x->type != BB_JSON_NULL) {
		if (x->type != BB_JSON_NUMBER || !x->is_int)
			verr_add(&v, x, "timeoutDurationInHours", "Member must be an integer");
		else if (x->i < 24)
			verr_add(&v, x, "timeoutDurationInHours",
			    "Member must have value greater than or equal to 24");
		else if (x->i > 168)
			verr_add(&v, x, "timeoutDurationInHours",
			    "Member must have value less than or equal to 168");
		else {
			spec.timeout_hours = (int)x->i;
			spec.timeout_given = 1;
		}
	}
	t = bb_json_get(doc, "tags");
	if (chk_list(&v, t, "tags", 0, 0, 200)) {
		for (i = 0; i < t->n; i++) {
			snprintf(path, sizeof(path), "tags.%zu.member", i + 1);
			if (!chk_struct(&v, t->items[i], path, 1))
				continue;
			snprintf(path, sizeof(path), "tags.%zu.member.key", i + 1);
			chk_string(&v, bb_json_get(t->items[i], "key"), path, 1, 1, 128, RE_TAG);
			snprintf(path, sizeof(path), "tags.%zu.member.value", i + 1);
			chk_string(&v, bb_json_get(t->items[i], "value"), path, 1, 0, 256, RE_TAG);
		}
	}
	chk_enum(&v, bb_json_get(doc, "modelInvocationType"), "modelInvocationType", types,
	    "InvokeModel, Converse");
	if (v.n > 0) {
		verr_message(&v, &msg);
		error_reply(req, resp, 400, "ValidationException", msg.data);
		goto out;
	}
	spec.name = bb_json_str(bb_json_get(doc, "jobName"));
	spec.role_arn = bb_json_str(bb_json_get(doc, "roleArn"));
	spec.model_id = bb_json_str(bb_json_get(doc, "modelId"));
	spec.token = bb_json_str(bb_json_get(doc, "clientRequestToken"));
	spec.input_uri = bb_json_str(bb_json_get(s3in, "s3Uri"));
	spec.output_uri = bb_json_str(bb_json_get(s3out, "s3Uri"));
	spec.converse = bb_json_str(bb_json_get(doc, "modelInvocationType")) != NULL &&
	    strcmp(bb_json_str(bb_json_get(doc, "modelInvocationType")), "Converse") == 0;
	bb_json_write(bb_json_get(doc, "inputDataConfig"), &in_cfg);
	bb_json_write(bb_json_get(doc, "outputDataConfig"), &out_cfg);
	spec.input_config = in_cfg.data;
	spec.output_config = out_cfg.data;
	if ((x = bb_json_get(doc, "vpcConfig")) != NULL && x->type == BB_JSON_OBJECT) {
		bb_json_write(x, &vpc);
		spec.vpc_config = vpc.data;
	}
	if (t != NULL && t->type == BB_JSON_ARRAY) {
		bb_json_write(t, &tags);
		spec.tags = tags.data;
	}
	if (bb_family_of_model(spec.model_id, spec.converse) == BB_FAMILY_UNKNOWN) {
		error_reply(req, resp, 400, "ValidationException",
		    "The provided model identifier is invalid.");
		goto out;
	}
	if (emu_jobs_create(e, &spec, &arn, &existed, &errtype, &err) < 0) {
		error_reply(req, resp, 400, errtype, err.msg);
		goto out;
	}
	bb_buf_adds(&body, "{\"jobArn\":");
	bb_json_add_str(&body, arn, strlen(arn));
	bb_buf_addc(&body, '}');
	reply_json(req, resp, 200, &body);
out:
	bb_json_free(doc);
	bb_buf_release(&v.list);
	bb_buf_release(&msg);
	bb_buf_release(&in_cfg);
	bb_buf_release(&out_cfg);
	bb_buf_release(&vpc);
	bb_buf_release(&tags);
	bb_buf_release(&body);
}

/* ---- Get and Stop: the job from the path segment ---- */

/* The job named by a decoded jobIdentifier, or an error reply. */
static struct emu_job *
find_job(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *ident)
{
	struct verr v = { BB_BUF_INIT, 0 };
	struct bb_buf msg = BB_BUF_INIT, want = BB_BUF_INIT;
	struct bb_json val;
	struct emu_job *j = NULL;
	size_t n = strlen(ident);

	memset(&val, 0, sizeof(val));
	val.type = BB_JSON_STRING;
	val.str = (char *)ident;
	val.len = n;
	chk_string(&v, &val, "jobIdentifier", 1, 0, 1011, RE_JOBID);
	if (v.n > 0) {
		verr_message(&v, &msg);
		error_reply(req, resp, 400, "ValidationException", msg.data);
		goto out;
	}
	j = emu_jobs_find(e, ident + n - 12);
	if (j != NULL && n > 12) {
		/* an ARN must name this region and account */
		bb_buf_addf(&want, "arn:aws:bedrock:%s:%s:model-invocation-job/", e->region,
		    e->account);
		if (strncmp(ident, want.data, n - 12) != 0 || want.len != n - 12)
			j = NULL;
	}
	if (j == NULL)
		error_reply(req, resp, 404, "ResourceNotFoundException",
		    "The specified model invocation job was not found.");
out:
	bb_buf_release(&v.list);
	bb_buf_release(&msg);
	bb_buf_release(&want);
	return j;
}

static void
op_get(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *ident)
{
	struct bb_buf body = BB_BUF_INIT;
	struct emu_job *j = find_job(e, req, resp, ident);

	if (j != NULL) {
		emu_job_write_json(j, &body);
		reply_json(req, resp, 200, &body);
	}
	bb_buf_release(&body);
}

static void
op_stop(struct emu *e, const struct emu_request *req, struct emu_response *resp,
    const char *ident)
{
	struct bb_error err = BB_ERROR_INIT;
	struct emu_job *j = find_job(e, req, resp, ident);

	if (j == NULL)
		return;
	if (emu_jobs_stop(e, j, &err) < 0) {
		error_reply(req, resp, 400, "ConflictException", err.msg);
		return;
	}
	reply_json(req, resp, 200, NULL);
}

/* ---- ListModelInvocationJobs ---- */

/* ISO 8601 ("2024-01-01T00:00:00Z", fractions, offsets) or epoch seconds. */
static int
parse_time(const char *s, double *out)
{
	int y, mo, d, h = 0, mi = 0, n = 0, oh = 0, om = 0;
	struct tm tm;
	double sec = 0;
	char *end;
	const char *p;

	errno = 0;
	*out = strtod(s, &end);
	if (*s != '\0' && *end == '\0' && errno == 0 && strchr(s, '-') == NULL)
		return 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || mo < 1 || mo > 12 || d < 1 ||
	    d > 31)
		return -1;
	p = s + n;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &n) != 2 || h > 23 || mi > 59)
			return -1;
		p += 1 + n;
		if (*p == ':') {
			sec = strtod(p + 1, &end);
			if (end == p + 1 || sec < 0 || sec >= 61)
				return -1;
			p = end;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;

		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2)
			return -1;
		p += 1 + n;
		oh *= sign;
		om *= sign;
	}
	if (*p != '\0')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	*out = (double)timegm(&tm) + h * 3600 + mi * 60 + sec - oh * 3600 - om * 60;
	return 0;
}

static int sort_sign;

/* Jobs in (submitTime in whole milliseconds, jobArn) order, or the reverse:
 * a total order, so a page boundary is a position in it. */
static int
cmp_pos(long long ams, const char *aarn, long long bms, const char *barn)
{
	int c = ams != bms ? (ams < bms ? -1 : 1) : strcmp(aarn, barn);

	return c * sort_sign;
}

static int
cmp_jobs(const void *a, const void *b)
{
	const struct emu_job *x = *(struct emu_job *const *)a, *y = *(struct emu_job *const *)b;

	return cmp_pos(llround(emu_job_submit_time(x) * 1000), emu_job_arn(x),
	    llround(emu_job_submit_time(y) * 1000), emu_job_arn(y));
}

/*
 * nextToken: the position of the last job returned, "<submitTime ms>-<job
 * id>", so that jobs created (or ended) between two pages do not shift the
 * next page as an offset would. 0, or -1 when it is not such a token.
 */
static int
parse_page_token(const char *tok, long long *ms, char id[13])
{
	char *end;
	size_t i;

	errno = 0;
	if (!isdigit((unsigned char)tok[0]))
		return -1;
	*ms = strtoll(tok, &end, 10);
	if (errno != 0 || *end != '-' || strlen(end + 1) != 12)
		return -1;
	for (i = 0; i < 12; i++) {
		char c = end[1 + i];

		if (!(isdigit((unsigned char)c) || (c >= 'a' && c <= 'z')))
			return -1;
		id[i] = c;
	}
	id[12] = '\0';
	return 0;
}

static void
op_list(struct emu *e, const struct emu_request *req, struct emu_response *resp)
{
	static const char *const sorts[] = { "CreationTime", NULL };
	static const char *const orders[] = { "Ascending", "Descending", NULL };
	static const char *const keys[] = {
		"submitTimeAfter", "submitTimeBefore", "statusEquals", "nameContains", "maxResults",
		"nextToken", "sortBy", "sortOrder",
	};
	static const char *const statuses[] = {
		"Submitted", "InProgress", "Completed", "Failed", "Stopping", "Stopped",
		"PartiallyCompleted", "Expired", "Validating", "Scheduled", NULL,
	};
	struct verr v = { BB_BUF_INIT, 0 };
	struct bb_buf vals[8], msg = BB_BUF_INIT, body = BB_BUF_INIT;
	struct bb_json jv[8];
	int have[8];
	struct emu_job **sel = NULL;
	const char *q = req->query ? req->query : "";
	double after = 0, before = 0;
	long long max = 1000, tok_ms = 0;
	char tok_id[13], tok_arn[192];
	size_t i, k, nsel = 0, start = 0, stop;
	int status = -1;

	for (k = 0; k < 8; k++) {
		bb_buf_init(&vals[k]);
		have[k] = 0;
		memset(&jv[k], 0, sizeof(jv[k]));
	}
	while (*q != '\0') {
		size_t len = strcspn(q, "&"), klen = strcspn(q, "=");
		struct bb_buf name = BB_BUF_INIT;

		if (klen > len)
			klen = len;
		if (emu_pct_decode(q, klen, &name, 0) == 0) {
			for (k = 0; k < 8; k++) {
				if (strcmp(name.data, keys[k]) != 0)
					continue;
				have[k] = 1;
				if (klen < len)
					emu_pct_decode(q + klen + 1, len - klen - 1, &vals[k], 0);
				else
					bb_buf_add(&vals[k], "", 0);
				jv[k].type = BB_JSON_STRING;
				jv[k].str = vals[k].data;
				jv[k].len = vals[k].len;
			}
		}
		bb_buf_release(&name);
		q += len;
		if (*q == '&')
			q++;
	}
	if (have[0] && parse_time(vals[0].data, &after) < 0)
		verr_add(&v, &jv[0], "submitTimeAfter", "Member must be a valid timestamp");
	if (have[1] && parse_time(vals[1].data, &before) < 0)
		verr_add(&v, &jv[1], "submitTimeBefore", "Member must be a valid timestamp");
	if (have[2])
		chk_enum(&v, &jv[2], "statusEquals", statuses, "Submitted, InProgress, Completed, "
		    "Failed, Stopping, Stopped, PartiallyCompleted, Expired, Validating, Scheduled");
	if (have[3])
		chk_string(&v, &jv[3], "nameContains", 1, 1, 63, RE_JOBNAME);
	if (have[4]) {
		char *end;

		errno = 0;
		max = strtoll(vals[4].data, &end, 10);
		if (vals[4].len == 0 || *end != '\0' || errno != 0)
			verr_add(&v, &jv[4], "maxResults", "Member must be an integer");
		else if (max < 1)
			verr_add(&v, &jv[4], "maxResults",
			    "Member must have value greater than or equal to 1");
		else if (max > 1000)
			verr_add(&v, &jv[4], "maxResults",
			    "Member must have value less than or equal to 1000");
	}
	if (have[5])
		chk_string(&v, &jv[5], "nextToken", 1, 1, 2048, RE_PAGETOKEN);
	if (have[6])
		chk_enum(&v, &jv[6], "sortBy", sorts, "CreationTime");
	if (have[7])
		chk_enum(&v, &jv[7], "sortOrder", orders, "Ascending, Descending");
	if (v.n > 0) {
		verr_message(&v, &msg);
		error_reply(req, resp, 400, "ValidationException", msg.data);
		goto out;
	}
	if (have[5] && parse_page_token(vals[5].data, &tok_ms, tok_id) < 0) {
		error_reply(req, resp, 400, "ValidationException",
		    "The provided pagination token is invalid.");
		goto out;
	}
	if (have[2])
		status = emu_job_status_parse(vals[2].data);
	sel = bb_xcalloc(emu_jobs_count(e) + 1, sizeof(*sel));
	for (i = 0; i < emu_jobs_count(e); i++) {
		struct emu_job *j = emu_jobs_at(e, i);

		/* compared in whole milliseconds, the precision of the timestamps */
		if (have[0] && !(llround(emu_job_submit_time(j) * 1000) > llround(after * 1000)))
			continue;
		if (have[1] && !(llround(emu_job_submit_time(j) * 1000) < llround(before * 1000)))
			continue;
		if (status >= 0 && (int)emu_job_status(j) != status)
			continue;
		if (have[3] && strstr(emu_job_name(j), vals[3].data) == NULL)
			continue;
		sel[nsel++] = j;
	}
	sort_sign = have[7] && strcmp(vals[7].data, "Ascending") == 0 ? 1 : -1;
	qsort(sel, nsel, sizeof(*sel), cmp_jobs);
	if (have[5]) {
		/* the first job after the token's position (the job itself may
		 * be gone from the selection, e.g. its status changed) */
		snprintf(tok_arn, sizeof(tok_arn), "arn:aws:bedrock:%s:%s:model-invocation-job/%s",
		    e->region, e->account, tok_id);
		while (start < nsel && cmp_pos(llround(emu_job_submit_time(sel[start]) * 1000),
		    emu_job_arn(sel[start]), tok_ms, tok_arn) <= 0)
			start++;
	}
	stop = nsel - start > (size_t)max ? start + (size_t)max : nsel;
	bb_buf_adds(&body, "{\"invocationJobSummaries\":[");
	for (i = start; i < stop; i++) {
		if (i > start)
			bb_buf_addc(&body, ',');
		emu_job_write_json(sel[i], &body);
	}
	bb_buf_addc(&body, ']');
	if (stop < nsel) {
		const char *arn = emu_job_arn(sel[stop - 1]);

		bb_buf_addf(&body, ",\"nextToken\":\"%lld-%s\"",
		    llround(emu_job_submit_time(sel[stop - 1]) * 1000), arn + strlen(arn) - 12);
	}
	bb_buf_addc(&body, '}');
	reply_json(req, resp, 200, &body);
out:
	free(sel);
	for (k = 0; k < 8; k++)
		bb_buf_release(&vals[k]);
	bb_buf_release(&v.list);
	bb_buf_release(&msg);
	bb_buf_release(&body);
}

/* ---- routing ---- */

void
emu_bedrock_handle(struct emu *e, const struct emu_request *req, struct emu_response *resp)
{
	static const char job[] = "/model-invocation-job/";
	struct bb_buf ident = BB_BUF_INIT;
	const char *path = req->path, *rest, *slash;
	int is_get = strcmp(req->method, "GET") == 0, is_post = strcmp(req->method, "POST") == 0;

	pthread_mutex_lock(&e->lock);
	if (strcmp(path, "/model-invocation-job") == 0 && is_post) {
		op_create(e, req, resp);
	} else if (strcmp(path, "/model-invocation-jobs") == 0 && is_get) {
		op_list(e, req, resp);
	} else if (strncmp(path, job, sizeof(job) - 1) == 0 && (is_get || is_post)) {
		rest = path + sizeof(job) - 1;
		slash = strchr(rest, '/');
		if (emu_pct_decode(rest, slash ? (size_t)(slash - rest) : strlen(rest), &ident, 0) < 0) {
			error_reply(req, resp, 400, "ValidationException",
			    "The job identifier is not correctly percent-encoded.");
		} else if (slash == NULL && is_get) {
			op_get(e, req, resp, ident.data);
		} else if (slash != NULL && strcmp(slash, "/stop") == 0 && is_post) {
			op_stop(e, req, resp, ident.data);
		} else {
			error_reply(req, resp, 404, "UnknownOperationException",
			    "The requested operation is not supported.");
		}
	} else {
		error_reply(req, resp, 404, "UnknownOperationException",
		    "The requested operation is not supported.");
	}
	pthread_mutex_unlock(&e->lock);
	bb_buf_release(&ident);
}
