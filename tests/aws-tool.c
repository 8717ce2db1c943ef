/*
 * aws-tool.c - a tiny driver of libshared's S3 and Bedrock clients for the
 * end-to-end tests (tests/client-*.sh). Not installed.
 *
 *   aws-tool [-e ENDPOINT] [-r REGION] COMMAND ARGS...
 *     put S3URI FILE              PUT a file; prints the ETag
 *     put-mem S3URI TEXT          PUT a string; prints the ETag
 *     head S3URI                  prints "size etag [checksum]"
 *     get S3URI [OFF LEN]         the object (or a range) to stdout
 *     list S3URI [DELIM]          one "key size" (or "prefix/") a line
 *     mpu S3URI FILE PARTSIZE [PARALLEL [CHECKSUM]]
 *                                 multipart upload through the http multi
 *                                 interface; prints the ETag
 *     mpu-resume S3URI FILE PARTSIZE
 *                                 create, upload part 1, find the upload by
 *                                 ListMultipartUploads, list its parts,
 *                                 upload the rest, complete
 *     mpu-abort S3URI             create an upload, abort it, check it is gone
 *     mpu-create S3URI            CreateMultipartUpload; prints the upload id
 *     mpu-list S3URI              the key's uploads (ListMultipartUploads),
 *                                 one "id initiated" a line
 *     create NAME ROLE MODEL IN OUT [TOKEN]   prints the job ARN
 *     get-job JOB                 "status name model in out token"
 *     list-jobs [STATUS [NAME]]   one "arn status" a line
 *     stop JOB
 * Exit: 0 ok, 1 error, 3 not found, 4 throttled/quota, 5 conflict or
 * validation. The error (and the AWS code) go to stderr.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws.h"
#include "bedrock.h"
#include "buf.h"
#include "error.h"
#include "http.h"
#include "s3.h"

static struct bb_aws *aws;
static struct bb_aws_error ae;
static struct bb_error err;

static int
fail(void)
{
	fprintf(stderr, "aws-tool: error: %s [code=%s status=%ld]\n", err.msg, ae.code, ae.status);
	if (err.kind == BB_ERR_NOTFOUND)
		return 3;
	if (strcmp(ae.code, "ThrottlingException") == 0 ||
	    strcmp(ae.code, "ServiceQuotaExceededException") == 0)
		return 4;
	if (strcmp(ae.code, "ConflictException") == 0 ||
	    strcmp(ae.code, "ValidationException") == 0)
		return 5;
	return 1;
}

static int
uri(const char *s, struct bb_s3_uri *u)
{
	if (bb_s3_uri_parse(s, u, &err) < 0) {
		fprintf(stderr, "aws-tool: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int
out_data(const char *p, size_t n, void *ctx)
{
	(void)ctx;
	return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

static int
out_entry(const struct bb_s3_entry *e, void *ctx)
{
	(void)ctx;
	if (e->is_prefix)
		printf("%s\n", e->key);
	else
		printf("%s %llu\n", e->key, (unsigned long long)e->size);
	return 0;
}

/* ---- multipart through the multi interface ---- */

struct mpu {
	struct bb_s3_xfer *x;
	struct bb_s3_part *parts;
	int failed;
};

struct part_ctx {
	struct mpu *m;
	int i;
};

static void
part_done(struct bb_http_req *req, struct bb_http_resp *resp, int rc,
    const struct bb_error *herr, void *ctx)
{
	struct part_ctx *pc = ctx;
	struct bb_error e = BB_ERROR_INIT;

	(void)req;
	(void)resp;
	if (bb_s3_part_finish(&pc->m->x[pc->i], rc, herr, &pc->m->parts[pc->i], &ae, &e) < 0) {
		fprintf(stderr, "aws-tool: error: %s\n", e.msg);
		pc->m->failed = 1;
	}
}

static int
file_size(const char *path, uint64_t *size)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		bb_error_errno(&err, "cannot stat '%s'", path);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

static int
cmd_mpu(const char *s3uri, const char *path, uint64_t psize, int parallel, unsigned flags)
{
	struct bb_s3_uri u;
	struct mpu m;
	struct part_ctx *pcs = NULL;
	struct bb_http_multi *multi = NULL;
	char *id = NULL, etag[128];
	struct bb_s3_put_opts o = { "application/jsonl", 0, NULL };
	uint64_t size, off;
	int n = 0, i, rc = 1;

	memset(&m, 0, sizeof(m));
	if (uri(s3uri, &u) < 0)
		return 1;
	if (file_size(path, &size) < 0)
		goto out;
	n = size == 0 ? 1 : (int)((size + psize - 1) / psize);
	m.x = calloc((size_t)n, sizeof(*m.x));
	m.parts = calloc((size_t)n, sizeof(*m.parts));
	pcs = calloc((size_t)n, sizeof(*pcs));
	o.flags = flags;
	if (bb_s3_mpu_create(aws, u.bucket, u.key, &o, &id, &ae, &err) < 0)
		goto fail;
	multi = bb_http_multi_new(bb_aws_http(aws), parallel, &err);
	if (multi == NULL)
		goto fail;
	for (i = 0, off = 0; i < n; i++, off += psize) {
		uint64_t len = size - off < psize ? size - off : psize;
		bb_s3_xfer_init(&m.x[i]);
		pcs[i].m = &m;
		pcs[i].i = i;
		if (bb_s3_part_prepare(aws, u.bucket, u.key, id, i + 1, path, off, len, flags,
		    &m.x[i], &err) < 0 ||
		    bb_http_multi_add(multi, &m.x[i].req, &m.x[i].resp, part_done, &pcs[i], &err) < 0)
			goto fail;
	}
	while (bb_http_multi_perform(multi, 1000, &err) > 0)
		;
	if (m.failed) {
		bb_s3_mpu_abort(aws, u.bucket, u.key, id, NULL, NULL);
		goto out;
	}
	if (bb_s3_mpu_complete(aws, u.bucket, u.key, id, m.parts, (size_t)n, 0, etag, &ae,
	    &err) < 0)
		goto fail;
	printf("%s %d\n", etag, n);
	rc = 0;
	goto out;
fail:
	rc = fail();
	if (id)
		bb_s3_mpu_abort(aws, u.bucket, u.key, id, NULL, NULL);
out:
	bb_http_multi_free(multi);
	for (i = 0; m.x && i < n; i++)
		bb_s3_xfer_release(&m.x[i]);
	free(m.x);
	free(m.parts);
	free(pcs);
	free(id);
	bb_s3_uri_release(&u);
	return rc;
}

struct found {
	char id[256];
	int n;
	struct bb_s3_part parts[16];
};

static int
found_upload(const struct bb_s3_upload *up, void *ctx)
{
	struct found *f = ctx;

	snprintf(f->id, sizeof(f->id), "%s", up->upload_id);
	return 0;
}

static int
found_part(const struct bb_s3_part *p, void *ctx)
{
	struct found *f = ctx;

	if (f->n < 16)
		f->parts[f->n++] = *p;
	return 0;
}

static int
cmd_mpu_resume(const char *s3uri, const char *path, uint64_t psize)
{
	struct bb_s3_uri u;
	struct found f;
	char *id = NULL, etag[128];
	uint64_t size, off;
	int n, i, rc = 1;

	memset(&f, 0, sizeof(f));
	if (uri(s3uri, &u) < 0)
		return 1;
	if (file_size(path, &size) < 0)
		goto fail;
	n = (int)((size + psize - 1) / psize);
	if (n < 2 || n > 16) {
		fprintf(stderr, "aws-tool: mpu-resume wants 2..16 parts\n");
		goto out;
	}
	if (bb_s3_mpu_create(aws, u.bucket, u.key, NULL, &id, &ae, &err) < 0 ||
	    bb_s3_upload_part(aws, u.bucket, u.key, id, 1, path, 0, psize, BB_S3_CONTENT_MD5,
	    NULL, &ae, &err) < 0)
		goto fail;
	/* "crash": find the upload and its parts again */
	if (bb_s3_mpu_list(aws, u.bucket, u.key, found_upload, &f, &ae, &err) < 0 ||
	    bb_s3_mpu_list_parts(aws, u.bucket, u.key, f.id, found_part, &f, &ae, &err) < 0)
		goto fail;
	if (strcmp(f.id, id) != 0 || f.n != 1 || f.parts[0].number != 1 ||
	    f.parts[0].size != psize) {
		fprintf(stderr, "aws-tool: resume found upload '%s' with %d parts\n", f.id, f.n);
		goto out;
	}
	for (i = 1, off = psize; i < n; i++, off += psize) {
		uint64_t len = size - off < psize ? size - off : psize;
		if (bb_s3_upload_part(aws, u.bucket, u.key, f.id, i + 1, path, off, len, 0,
		    &f.parts[i], &ae, &err) < 0)
			goto fail;
	}
	if (bb_s3_mpu_complete(aws, u.bucket, u.key, f.id, f.parts, (size_t)n, 0, etag, &ae,
	    &err) < 0)
		goto fail;
	printf("%s %d\n", etag, n);
	rc = 0;
	goto out;
fail:
	rc = fail();
out:
	free(id);
	bb_s3_uri_release(&u);
	return rc;
}

static int
cmd_mpu_abort(const char *s3uri)
{
	struct bb_s3_uri u;
	struct found f;
	char *id = NULL;
	int rc = 1;

	memset(&f, 0, sizeof(f));
	if (uri(s3uri, &u) < 0)
		return 1;
	if (bb_s3_mpu_create(aws, u.bucket, u.key, NULL, &id, &ae, &err) < 0 ||
	    bb_s3_mpu_abort(aws, u.bucket, u.key, id, &ae, &err) < 0 ||
	    bb_s3_mpu_list(aws, u.bucket, u.key, found_upload, &f, &ae, &err) < 0) {
		rc = fail();
		goto out;
	}
	if (f.id[0]) {
		fprintf(stderr, "aws-tool: upload still listed after abort\n");
		goto out;
	}
	if (bb_s3_mpu_abort(aws, u.bucket, u.key, id, &ae, &err) == 0) {
		fprintf(stderr, "aws-tool: second abort succeeded\n");
		goto out;
	}
	printf("aborted %s\n", ae.code);
	rc = 0;
out:
	free(id);
	bb_s3_uri_release(&u);
	return rc;
}

static int
out_upload(const struct bb_s3_upload *up, void *ctx)
{
	(void)ctx;
	printf("%s %s\n", up->upload_id, up->initiated);
	return 0;
}

static int
out_job(const struct bb_bedrock_job *j, void *ctx)
{
	(void)ctx;
	printf("%s %s\n", j->job_arn, j->status_text ? j->status_text : "-");
	return 0;
}

#define S(x) ((x) ? (x) : "-")

int
main(int argc, char **argv)
{
	struct bb_aws_opts o;
	struct bb_s3_uri u;
	int c, rc = 1;
	const char *cmd;

	memset(&o, 0, sizeof(o));
	while ((c = getopt(argc, argv, "e:r:")) != -1) {
		if (c == 'e')
			o.endpoint_url = optarg;
		else if (c == 'r')
			o.region = optarg;
		else
			return 2;
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return 2;
	cmd = argv[0];
	aws = bb_aws_new(&o, &err);
	if (aws == NULL)
		return fail();
	u.bucket = u.key = NULL;
	if (strcmp(cmd, "put") == 0 && argc == 3) {
		struct bb_s3_put_result r;
		struct bb_s3_put_opts po = { "application/jsonl",
		    BB_S3_CONTENT_MD5 | BB_S3_CHECKSUM_SHA256, NULL };
		if (uri(argv[1], &u) < 0)
			goto out;
		if (bb_s3_put_file(aws, u.bucket, u.key, argv[2], &po, &r, &ae, &err) < 0)
			goto fail;
		printf("%s\n", r.etag);
	} else if (strcmp(cmd, "put-mem") == 0 && argc == 3) {
		struct bb_s3_put_result r;
		struct bb_http_headers h;
		struct bb_s3_put_opts po = { NULL, BB_S3_CONTENT_MD5, NULL };
		bb_http_headers_init(&h);
		bb_http_headers_add(&h, "x-amz-meta-origin", "aws-tool");
		po.headers = &h;
		if (uri(argv[1], &u) < 0)
			goto out;
		c = bb_s3_put_mem(aws, u.bucket, u.key, argv[2], strlen(argv[2]), &po, &r, &ae, &err);
		bb_http_headers_release(&h);
		if (c < 0)
			goto fail;
		printf("%s\n", r.etag);
	} else if (strcmp(cmd, "head") == 0 && argc == 2) {
		struct bb_s3_object ob;
		bb_s3_object_init(&ob);
		if (uri(argv[1], &u) < 0)
			goto out;
		if (bb_s3_head(aws, u.bucket, u.key, &ob, &ae, &err) < 0)
			goto fail;
		printf("%llu %s %s %s\n", (unsigned long long)ob.size, ob.etag,
		    ob.checksum_sha256[0] ? ob.checksum_sha256 : "-",
		    S(bb_http_headers_get(&ob.meta, "origin")));
		bb_s3_object_release(&ob);
	} else if (strcmp(cmd, "get") == 0 && (argc == 2 || argc == 4)) {
		uint64_t off = argc == 4 ? strtoull(argv[2], NULL, 10) : 0;
		uint64_t len = argc == 4 ? strtoull(argv[3], NULL, 10) : 0;
		if (uri(argv[1], &u) < 0)
			goto out;
		if (bb_s3_get(aws, u.bucket, u.key, off, len, out_data, NULL, NULL, &ae, &err) < 0)
			goto fail;
	} else if (strcmp(cmd, "list") == 0 && (argc == 2 || argc == 3)) {
		if (uri(argv[1], &u) < 0)
			goto out;
		if (bb_s3_list_v2(aws, u.bucket, u.key, argc == 3 ? argv[2] : NULL, out_entry, NULL,
		    &ae, &err) < 0)
			goto fail;
	} else if (strcmp(cmd, "mpu") == 0 && argc >= 4 && argc <= 6) {
		rc = cmd_mpu(argv[1], argv[2], strtoull(argv[3], NULL, 10),
		    argc >= 5 ? atoi(argv[4]) : 4,
		    argc >= 6 ? BB_S3_CHECKSUM_SHA256 | BB_S3_CONTENT_MD5 : BB_S3_CONTENT_MD5);
		goto out;
	} else if (strcmp(cmd, "mpu-resume") == 0 && argc == 4) {
		rc = cmd_mpu_resume(argv[1], argv[2], strtoull(argv[3], NULL, 10));
		goto out;
	} else if (strcmp(cmd, "mpu-abort") == 0 && argc == 2) {
		rc = cmd_mpu_abort(argv[1]);
		goto out;
	} else if (strcmp(cmd, "mpu-create") == 0 && argc == 2) {
		char *id = NULL;
		if (uri(argv[1], &u) < 0)
			goto out;
		if (bb_s3_mpu_create(aws, u.bucket, u.key, NULL, &id, &ae, &err) < 0)
			goto fail;
		printf("%s\n", id);
		free(id);
	} else if (strcmp(cmd, "mpu-list") == 0 && argc == 2) {
		if (uri(argv[1], &u) < 0)
			goto out;
		if (bb_s3_mpu_list(aws, u.bucket, u.key, out_upload, NULL, &ae, &err) < 0)
			goto fail;
	} else if (strcmp(cmd, "create") == 0 && (argc == 6 || argc == 7)) {
		struct bb_bedrock_job_spec s;
		char *arn = NULL;
		memset(&s, 0, sizeof(s));
		s.job_name = argv[1];
		s.role_arn = argv[2];
		s.model_id = argv[3];
		s.input_s3_uri = argv[4];
		s.output_s3_uri = argv[5];
		s.client_request_token = argc == 7 ? argv[6] : NULL;
		s.timeout_hours = 24;
		if (bb_bedrock_create_job(aws, &s, &arn, &ae, &err) < 0)
			goto fail;
		printf("%s\n", arn);
		free(arn);
	} else if (strcmp(cmd, "get-job") == 0 && argc == 2) {
		struct bb_bedrock_job j;
		bb_bedrock_job_init(&j);
		if (bb_bedrock_get_job(aws, argv[1], &j, &ae, &err) < 0)
			goto fail;
		printf("%s %s %s %s %s %s\n", S(j.status_text), S(j.job_name), S(j.model_id),
		    S(j.input_s3_uri), S(j.output_s3_uri), S(j.client_request_token));
		bb_bedrock_job_release(&j);
	} else if (strcmp(cmd, "list-jobs") == 0 && argc <= 3) {
		struct bb_bedrock_list_filter f;
		memset(&f, 0, sizeof(f));
		f.status_equals = argc >= 2 && *argv[1] ? argv[1] : NULL;
		f.name_contains = argc >= 3 && *argv[2] ? argv[2] : NULL;
		f.max_results = 2;      /* exercise pagination */
		if (bb_bedrock_list_jobs(aws, &f, out_job, NULL, &ae, &err) < 0)
			goto fail;
	} else if (strcmp(cmd, "stop") == 0 && argc == 2) {
		if (bb_bedrock_stop_job(aws, argv[1], &ae, &err) < 0)
			goto fail;
	} else {
		fprintf(stderr, "aws-tool: bad command\n");
		rc = 2;
		goto out;
	}
	rc = 0;
	goto out;
fail:
	rc = fail();
out:
	bb_s3_uri_release(&u);
	bb_aws_free(aws);
	if (fflush(stdout) != 0)
		rc = 1;
	return rc;
}
