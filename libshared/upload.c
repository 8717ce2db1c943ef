/*
 * upload.c - the upload scheduler (see upload.h).
 *
 * One thread drives everything: each object is a small state machine
 * (HEAD for the skip check, a digest of the local file when the sizes
 * agree, then one PUT or create/parts/complete), its parts go through
 * hashing (digest.h's pool of threads) and sending (the http multi). The
 * multi's done callbacks only record the outcome; pump() acts on it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws.h"
#include "awsconfig.h"
#include "buf.h"
#include "digest.h"
#include "error.h"
#include "hash.h"
#include "http.h"
#include "s3.h"
#include "upload.h"

#define DEF_PART (16ULL << 20)
#define DEF_THRESHOLD (64ULL << 20)
/* ---- objects and parts ---- */

enum pstate { P_FILLING, P_NEW, P_HASHING, P_HASHED, P_SENDING, P_DONE };

struct file;

struct part {
	struct file *f;
	int number;                    /* 1..10000; 0 for a single PUT */
	uint64_t off, len;
	enum pstate st;
	unsigned char *buf;            /* stream data (owned) */
	uint64_t cap;
	struct bb_digest_job job;
	char md5_hex[BB_MD5_HEX];      /* "" when no MD5 was computed */
	char sha256_hex[BB_SHA256_HEX];
	char ck[BB_CHECKSUM_B64];
	char old_etag[128];            /* from ListParts (resume) */
	char old_ck[BB_CHECKSUM_B64];  /* its checksum (the file's ck), or "" */
	struct bb_s3_part res;
	int tries;
	int unsigned_payload;          /* sent as UNSIGNED-PAYLOAD */
	int finished, xrc;             /* set by the done callback */
	struct bb_error xerr;
	struct bb_s3_xfer x;
};

/* F_LIST, F_LISTPARTS, F_CREATE, F_COMPLETE: a multipart control call
 * in flight on the multi like any transfer (the loop never blocks on one) */
enum fstate { F_NEW, F_HEAD, F_CHECK, F_START, F_LIST, F_LISTPARTS, F_CREATE, F_PARTS,
	F_COMPLETE, F_FAIL, F_END };

struct found;

struct file {
	struct bb_upload *u;
	struct file *next;
	char *path, *bucket, *key;
	void *user;
	int fd, own_fd, is_stream;
	uint64_t size;
	enum fstate st;
	int multipart;
	uint64_t part_size;
	struct part **parts;
	size_t nparts, cap;
	size_t ndone;
	int inflight;                  /* hash jobs and transfers */
	char *upload_id;
	int upload_ours;               /* abort it on failure or cancel */
	int no_ck;                     /* no checksums (option, or a resumed
	                                  upload made without them) */
	enum bb_checksum_alg ck;       /* SHA256 or CRC32C (a resumed upload's) */
	int reused;
	uint64_t sent;
	int eof;                       /* stream */
	/* HEAD (skip check) */
	struct bb_http_req hreq;
	struct bb_http_resp hresp;
	struct bb_aws_sign hsign;
	struct bb_buf hurl;
	int hfinished, hrc;
	int htries;                    /* HEADs sent again after a failure */
	int ctries;                    /* create or complete calls sent again */
	struct bb_error herr;
	struct bb_s3_object obj;
	char obj_ck[BB_CHECKSUM_B64 + 16]; /* its x-amz-checksum-sha256 whole:
	                                      a composite one has "-<parts>" */
	struct bb_digest_job cjob;
	int check_multipart;
	/* the multipart control call in flight */
	struct bb_s3_call call;
	int cfinished, crc;
	struct bb_error cerr;
	struct found *found;           /* resume: what the listings found */
	struct bb_upload_result r;
};

struct bb_upload {
	struct bb_aws *aws;
	struct bb_upload_opts o;
	struct bb_http_headers hdrs;
	bb_upload_done_fn done;
	void *ctx;
	struct bb_http_multi *m;
	struct bb_digest_pool pool;
	struct file *head, *tail;
	size_t pending;
	int xfers;                     /* transfers in the multi */
	int hashing;                   /* jobs in the pool */
	int buffers;                   /* stream buffers held */
	int ready;                     /* work could start now: poll again soon */
	int backlog;                   /* work waits for a transfer slot */
	int streaming;                 /* a stream is being read */
	int kms;                       /* SSE-KMS: ETags are not MD5s */
	int tls;                       /* the S3 endpoint is https */
	enum bb_checksum_alg ck;       /* SHA256 or CRC32C, for new uploads */
	int no_echo;                   /* a checksum was not echoed: sign payloads */
	struct bb_upload_progress prog;
};

/* An upload of the key left by an earlier run, and its parts. */
struct found {
	char *id;                      /* the latest one listed */
	char initiated[64];
	uint64_t *sizes;               /* [10000], 0 = absent */
	char (*etags)[128];
	char (*cks)[BB_CHECKSUM_B64];
	int max;
	enum bb_checksum_alg alg;      /* the upload's (ListParts), or NONE */
	int failed;                    /* out of memory while listing */
};

static void
found_free(struct found *fd)
{
	if (fd == NULL)
		return;
	free(fd->id);
	free(fd->sizes);
	free(fd->etags);
	free(fd->cks);
	free(fd);
}

uint64_t
bb_upload_part_size(uint64_t size, uint64_t want)
{
	uint64_t ps = want ? want : DEF_PART, min;

	if (ps < BB_UPLOAD_MIN_PART)
		ps = BB_UPLOAD_MIN_PART;
	min = size / BB_UPLOAD_MAX_PARTS + (size % BB_UPLOAD_MAX_PARTS != 0);
	if (ps < min)
		ps = (min + (1ULL << 20) - 1) & ~((1ULL << 20) - 1);
	if (ps > BB_UPLOAD_MAX_PART)
		ps = BB_UPLOAD_MAX_PART;
	return ps;
}

static void
etag_of(const unsigned char md5[BB_MD5_LEN], int nparts, int multipart, char *out)
{
	char hex[BB_MD5_HEX];

	bb_hex_encode(md5, BB_MD5_LEN, hex);
	if (multipart)
		snprintf(out, 128, "\"%s-%d\"", hex, nparts);
	else
		snprintf(out, 128, "\"%s\"", hex);
}

int
bb_upload_local_etag(int fd, uint64_t len, uint64_t part_size, int multipart, char *out,
    char *sha256_b64, struct bb_error *err)
{
	struct bb_digest_job j;

	memset(&j, 0, sizeof(j));
	j.fd = fd;
	j.len = len;
	j.part_size = part_size;
	j.multipart = multipart;
	j.want_md5 = 1;
	j.want_sha = sha256_b64 != NULL;
	if (bb_digest_run(&j, err) < 0)
		return -1;
	etag_of(j.md5, j.nparts, multipart, out);
	if (sha256_b64)
		bb_base64_encode(j.sha, sizeof(j.sha), sha256_b64);
	return 0;
}

int
bb_upload_local_checksum(int fd, uint64_t len, uint64_t part_size, enum bb_checksum_alg alg,
    char *out, struct bb_error *err)
{
	struct bb_digest_job j;

	if (alg != BB_CKSUM_SHA256 && alg != BB_CKSUM_CRC32C)
		return bb_error_set(err, BB_ERR_USAGE, "checksum: SHA-256 or CRC32C only");
	memset(&j, 0, sizeof(j));
	j.fd = fd;
	j.len = len;
	j.part_size = part_size;
	j.composite = part_size > 0;
	j.want_sha = alg == BB_CKSUM_SHA256;
	j.want_crc = alg == BB_CKSUM_CRC32C;
	if (bb_digest_run(&j, err) < 0)
		return -1;
	if (j.want_crc)
		bb_crc32_base64(j.crc, out);
	else
		bb_base64_encode(j.sha, sizeof(j.sha), out);
	if (j.composite)
		snprintf(out + strlen(out), 8, "-%d", j.nparts);
	return 0;
}

static struct part *
part_new(struct file *f, int number, uint64_t off, uint64_t len)
{
	struct part *p;
	struct part **v;
	size_t ncap;

	if (f->nparts == f->cap) {
		ncap = f->cap ? f->cap * 2 : 8;
		v = realloc(f->parts, ncap * sizeof(*v));
		if (v == NULL)
			return NULL;
		f->parts = v;
		f->cap = ncap;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->f = f;
	p->number = number;
	p->off = off;
	p->len = len;
	p->st = P_NEW;
	bb_s3_xfer_init(&p->x);
	f->parts[f->nparts++] = p;
	return p;
}

static void
part_free(struct bb_upload *u, struct part *p)
{
	bb_s3_xfer_release(&p->x);
	if (p->buf) {
		free(p->buf);
		u->buffers--;
	}
	free(p);
}

static void
file_free(struct bb_upload *u, struct file *f)
{
	size_t i;

	for (i = 0; i < f->nparts; i++)
		part_free(u, f->parts[i]);
	free(f->parts);
	if (f->own_fd && f->fd >= 0)
		close(f->fd);
	bb_http_req_release(&f->hreq);
	bb_http_resp_release(&f->hresp);
	bb_buf_release(&f->hurl);
	bb_s3_object_release(&f->obj);
	bb_s3_call_release(&f->call);
	found_free(f->found);
	free(f->upload_id);
	free(f->path);
	free(f->bucket);
	free(f->key);
	free(f);
}

/* Stop the file: what is in flight finishes first (F_FAIL), then the
 * multipart upload is aborted and the failure reported. */
static void
file_fail(struct file *f, const struct bb_error *e, const struct bb_aws_error *ae)
{
	if (f->st == F_FAIL || f->st == F_END)
		return;
	f->r.ok = 0;
	if (e)
		f->r.err = *e;
	if (ae)
		f->r.ae = *ae;
	f->st = F_FAIL;
}

/* ---- transfers ---- */

/* What a transfer's done callback records for pump() to act on (the
 * callbacks run inside the multi: they only note the outcome). */
static void
note_done(struct file *f, int *finished, int *rcp, struct bb_error *e, int rc,
    const struct bb_error *err)
{
	*finished = 1;
	*rcp = rc;
	bb_error_clear(e);
	if (rc < 0 && err)
		*e = *err;
	f->u->xfers--;
	f->inflight--;
}

static void
head_done(struct bb_http_req *req, struct bb_http_resp *resp, int rc,
    const struct bb_error *err, void *ctx)
{
	struct file *f = ctx;

	(void)req;
	(void)resp;
	note_done(f, &f->hfinished, &f->hrc, &f->herr, rc, err);
}

static void
part_done(struct bb_http_req *req, struct bb_http_resp *resp, int rc,
    const struct bb_error *err, void *ctx)
{
	struct part *p = ctx;

	(void)req;
	(void)resp;
	note_done(p->f, &p->finished, &p->xrc, &p->xerr, rc, err);
}

static size_t
part_read(char *buf, size_t n, void *ctx)
{
	struct part *p = ctx;
	uint64_t left = p->len - p->x.pos;
	ssize_t r;

	if (left == 0)
		return 0;
	if (n > left)
		n = (size_t)left;
	do
		r = pread(p->f->fd, buf, n, (off_t)(p->off + p->x.pos));
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return (size_t)-1;
	p->x.pos += (uint64_t)r;
	return (size_t)r;
}

static int
part_rewind(void *ctx)
{
	struct part *p = ctx;

	p->x.pos = 0;
	return 0;
}

static int
start_head(struct bb_upload *u, struct file *f, struct bb_error *err)
{
	const struct bb_endpoint *ep = bb_aws_endpoint(u->aws, "s3", err);

	if (ep == NULL)
		return -1;
	bb_http_req_release(&f->hreq);
	bb_http_resp_release(&f->hresp);
	bb_buf_reset(&f->hurl);
	if (bb_s3_object_url(ep, f->bucket, f->key, NULL, &f->hurl) < 0 ||
	    bb_http_headers_set(&f->hreq.headers, "x-amz-checksum-mode", "ENABLED") < 0)
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	f->hreq.method = "HEAD";
	f->hreq.url = f->hurl.data;
	f->hreq.flags = BB_HTTP_HEAD;
	if (bb_aws_sign_setup(u->aws, "s3", &f->hreq, BB_AWS_PAYLOAD_SHA256, NULL, &f->hsign,
	    err) < 0)
		return -1;
	f->hfinished = 0;
	if (bb_http_multi_add(u->m, &f->hreq, &f->hresp, head_done, f, err) < 0)
		return -1;
	u->xfers++;
	f->inflight++;
	return 0;
}

static int
add_header(struct bb_http_headers *h, const char *name, const char *value,
    struct bb_error *err)
{
	if (bb_http_headers_set(h, name, value) < 0)
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	return 0;
}

/* 1 when the parts of f go with a signed payload SHA-256 (to be hashed). */
static int
payload_signed(const struct bb_upload *u, const struct file *f)
{
	return !u->tls || f->no_ck || u->no_echo;
}

/* Build the PUT (object or part) of a hashed part and queue it. */
static int
start_part(struct bb_upload *u, struct part *p, struct bb_error *err)
{
	struct file *f = p->f;
	struct bb_s3_xfer *x = &p->x;
	const struct bb_endpoint *ep = bb_aws_endpoint(u->aws, "s3", err);
	struct bb_buf q = BB_BUF_INIT;
	struct bb_aws_query aq;
	unsigned char m[BB_MD5_LEN];
	char num[32], b64[32];
	size_t i;
	int rc = -1;

	if (ep == NULL)
		return -1;
	bb_s3_xfer_release(x);
	x->flags = p->md5_hex[0] ? BB_S3_CONTENT_MD5 : 0;
	x->part_number = p->number;
	x->off = p->off;
	x->len = p->len;
	memcpy(x->md5_hex, p->md5_hex, sizeof(x->md5_hex));
	memcpy(x->sha256_hex, p->sha256_hex, sizeof(x->sha256_hex));
	if (!f->no_ck) {
		x->ck_alg = f->ck;
		memcpy(x->checksum, p->ck, sizeof(x->checksum));
	}
	if (p->number > 0) {
		bb_buf_addf(&x->what, "UploadPart %d of s3://%s/%s", p->number, f->bucket, f->key);
		snprintf(num, sizeof(num), "%d", p->number);
		bb_aws_query_init(&aq, &q);
		if (bb_aws_query_add(&aq, "partNumber", num) < 0 ||
		    bb_aws_query_add(&aq, "uploadId", f->upload_id) < 0)
			goto nomem;
	} else {
		bb_buf_addf(&x->what, "PUT s3://%s/%s", f->bucket, f->key);
		if (add_header(&x->req.headers, "Content-Type", u->o.content_type ?
		    u->o.content_type : "application/octet-stream", err) < 0)
			goto out;
		for (i = 0; i < u->hdrs.n; i++)
			if (bb_http_headers_add(&x->req.headers, u->hdrs.v[i].name,
			    u->hdrs.v[i].value) < 0)
				goto nomem;
	}
	if (bb_s3_object_url(ep, f->bucket, f->key, p->number > 0 ? q.data : NULL, &x->url) < 0)
		goto nomem;
	snprintf(num, sizeof(num), "%" PRIu64, p->len);
	if (add_header(&x->req.headers, "Content-Length", num, err) < 0 ||
	    (!f->no_ck && add_header(&x->req.headers, bb_checksum_header(f->ck), p->ck,
	    err) < 0))
		goto out;
	if (p->md5_hex[0]) {
		bb_hex_decode(p->md5_hex, 32, m, sizeof(m));
		bb_base64_encode(m, sizeof(m), b64);
		if (add_header(&x->req.headers, "Content-MD5", b64, err) < 0)
			goto out;
	}
	x->req.method = "PUT";
	x->req.url = x->url.data;
	if (p->buf || p->len == 0) {
		x->req.body = p->len ? (const void *)p->buf : "";
		x->req.body_len = (size_t)p->len;
	} else {
		x->req.read = part_read;
		x->req.rewind = part_rewind;
		x->req.read_ctx = p;
		x->req.body_size = (int64_t)p->len;
	}
	/* Over TLS the payload goes UNSIGNED with the signed checksum, which S3
	 * checks the body against (and TLS keeps it from being changed on
	 * the way). Over plain HTTP the payload is signed: its SHA-256 (the
	 * same digest as a SHA-256 checksum: nothing more to compute). */
	p->unsigned_payload = !payload_signed(u, f);
	if (bb_aws_sign_setup(u->aws, "s3", &x->req, p->unsigned_payload ?
	    BB_AWS_PAYLOAD_UNSIGNED : BB_AWS_PAYLOAD_HEX, p->sha256_hex, &x->sign, err) < 0)
		goto out;
	p->finished = 0;
	if (bb_http_multi_add(u->m, &x->req, &x->resp, part_done, p, err) < 0)
		goto out;
	u->xfers++;
	f->inflight++;
	p->st = P_SENDING;
	rc = 0;
	goto out;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
out:
	bb_buf_release(&q);
	return rc;
}

/* ---- multipart: create, resume, complete ---- */

static int
found_upload(const struct bb_s3_upload *up, void *ctx)
{
	struct found *fd = ctx;

	if (fd->id == NULL || strcmp(up->initiated ? up->initiated : "", fd->initiated) > 0) {
		free(fd->id);
		fd->id = strdup(up->upload_id);
		snprintf(fd->initiated, sizeof(fd->initiated), "%s",
		    up->initiated ? up->initiated : "");
		if (fd->id == NULL) {
			fd->failed = 1;
			return 1;
		}
	}
	return 0;
}

static int
found_part(const struct bb_s3_part *pt, void *ctx)
{
	struct found *fd = ctx;

	if (pt->number >= 1 && pt->number <= BB_UPLOAD_MAX_PARTS) {
		fd->sizes[pt->number - 1] = pt->size;
		snprintf(fd->etags[pt->number - 1], 128, "%s", pt->etag);
		snprintf(fd->cks[pt->number - 1], BB_CHECKSUM_B64, "%s", pt->checksum);
		if (pt->ck_alg != BB_CKSUM_NONE && fd->alg == BB_CKSUM_NONE)
			fd->alg = pt->ck_alg;
		if (pt->number > fd->max)
			fd->max = pt->number;
	}
	return 0;
}

/* Lay out the parts of a file; returns -1 on ENOMEM. */
static int
layout_parts(struct file *f)
{
	uint64_t off;
	int n = 1;

	for (off = 0; off < f->size || (off == 0 && f->size == 0); off += f->part_size, n++) {
		uint64_t len = f->size - off < f->part_size ? f->size - off : f->part_size;
		if (part_new(f, n, off, len) == NULL)
			return -1;
		if (f->size == 0)
			break;
	}
	return 0;
}

/*
 * Take over the upload f->found lists: lay out the parts in the earlier
 * run's part size and note the ETags and checksums of those S3 holds (a
 * part is kept when the local bytes match them, see part_hashed). 0, or
 * -1 on ENOMEM.
 */
static int
take_over(struct file *f)
{
	struct found *fd = f->found;
	uint64_t ps = f->part_size;
	size_t i;

	/* The part size of the earlier run: the size of any part it sent
	 * but the last (all the others are that size), part 1 or a later
	 * one when part 1 never made it. */
	for (i = 0; i < (size_t)fd->max; i++)
		if (fd->sizes[i] >= BB_UPLOAD_MIN_PART && (i + 1) * fd->sizes[i] < f->size &&
		    f->size / fd->sizes[i] < BB_UPLOAD_MAX_PARTS) {
			ps = fd->sizes[i];
			break;
		}
	f->part_size = ps;
	if (layout_parts(f) < 0)
		return -1;
	/* S3 wants every part of an upload with the checksum kind it was
	 * made with ("Checksum Type mismatch" otherwise): made with one, its
	 * parts go with that one, even under BB_UPLOAD_NO_CHECKSUM (the store
	 * took it); made without x-amz-checksum-algorithm (an older run, or
	 * one killed before its first part), or holding a part without a
	 * checksum, its parts go without (the signed payload still is one) */
	f->no_ck = fd->alg == BB_CKSUM_NONE;
	for (i = 0; i < (size_t)fd->max; i++)
		if (fd->sizes[i] && fd->cks[i][0] == '\0')
			f->no_ck = 1;
	if (fd->alg != BB_CKSUM_NONE)
		f->ck = fd->alg;
	for (i = 0; i < f->nparts; i++) {
		struct part *p = f->parts[i];
		if (p->number <= fd->max && fd->sizes[p->number - 1] == p->len && p->len > 0) {
			memcpy(p->old_etag, fd->etags[p->number - 1], sizeof(p->old_etag));
			memcpy(p->old_ck, fd->cks[p->number - 1], sizeof(p->old_ck));
		}
	}
	f->upload_id = fd->id;
	fd->id = NULL;
	return 0;
}

static void
call_done(struct bb_http_req *req, struct bb_http_resp *resp, int rc,
    const struct bb_error *err, void *ctx)
{
	struct file *f = ctx;

	(void)req;
	(void)resp;
	note_done(f, &f->cfinished, &f->crc, &f->cerr, rc, err);
}

/* Send the control call prepared in f->call; st is the state to wait in. */
static int
call_start(struct bb_upload *u, struct file *f, enum fstate st, struct bb_error *err)
{
	f->cfinished = 0;
	if (bb_http_multi_add(u->m, &f->call.req, &f->call.resp, call_done, f, err) < 0)
		return -1;
	u->xfers++;
	f->inflight++;
	f->st = st;
	return 0;
}

/* A create or complete that failed in a way that may pass, after the HTTP
 * layer's retries: 1 to send it again (a few rounds, as for a part). */
static int
again(struct bb_upload *u, struct file *f, const struct bb_aws_error *ae,
    const struct bb_error *e)
{
	if (!bb_aws_failure_transient(ae, e) || f->ctries >= u->o.retries)
		return 0;
	f->ctries++;
	return 1;
}

static void
start_create(struct bb_upload *u, struct file *f)
{
	struct bb_s3_put_opts po;
	struct bb_http_headers h;
	struct bb_error e = BB_ERROR_INIT;
	char num[32];
	size_t i;

	bb_http_headers_init(&h);
	for (i = 0; i < u->hdrs.n; i++)
		if (bb_http_headers_add(&h, u->hdrs.v[i].name, u->hdrs.v[i].value) < 0)
			goto nomem;
	snprintf(num, sizeof(num), "%" PRIu64, f->part_size);
	if (bb_http_headers_set(&h, "x-amz-meta-bb-part-size", num) < 0)
		goto nomem;
	po.content_type = u->o.content_type;
	po.flags = f->no_ck ? 0 : f->ck == BB_CKSUM_CRC32C ? BB_S3_CHECKSUM_CRC32C :
	    BB_S3_CHECKSUM_SHA256;
	po.headers = &h;
	if (bb_s3_mpu_create_prepare(u->aws, f->bucket, f->key, &po, &f->call, &e) < 0 ||
	    call_start(u, f, F_CREATE, &e) < 0)
		file_fail(f, &e, NULL);
	goto out;
nomem:
	bb_error_set(&e, BB_ERR_SYSTEM, "out of memory");
	file_fail(f, &e, NULL);
out:
	bb_http_headers_release(&h);
}

/* CreateMultipartUpload answered: the upload is ours (aborted if the file
 * fails); a file's parts are laid out. */
static void
create_result(struct bb_upload *u, struct file *f)
{
	struct bb_aws_error ae;
	struct bb_error e = BB_ERROR_INIT;

	if (bb_s3_mpu_create_finish(&f->call, f->crc, &f->cerr, &f->upload_id, &ae, &e) < 0) {
		if (again(u, f, &ae, &e))
			start_create(u, f);
		else
			file_fail(f, &e, &ae);
		return;
	}
	f->upload_ours = 1;
	if (!f->is_stream && layout_parts(f) < 0) {
		bb_error_set(&e, BB_ERR_SYSTEM, "out of memory");
		file_fail(f, &e, NULL);
		return;
	}
	f->st = F_PARTS;
}

/* A file's multipart upload begins: look for one an interrupted run left
 * (ListMultipartUploads, then ListParts), else create one. */
static void
start_multipart(struct bb_upload *u, struct file *f)
{
	struct bb_error e = BB_ERROR_INIT;

	f->multipart = 1;
	if (f->is_stream || (u->o.flags & BB_UPLOAD_NO_RESUME)) {
		start_create(u, f);
		return;
	}
	if ((f->found = calloc(1, sizeof(*f->found))) == NULL) {
		bb_error_set(&e, BB_ERR_SYSTEM, "out of memory");
		file_fail(f, &e, NULL);
		return;
	}
	if (bb_s3_mpu_list_prepare(u->aws, f->bucket, f->key, &f->call, &e) < 0 ||
	    call_start(u, f, F_LIST, &e) < 0)
		start_create(u, f);     /* as when the listing fails: a new upload */
}

/*
 * A page of the listing answered. Resuming is an optimisation: when a
 * listing fails, a new upload is made instead.
 */
static void
list_result(struct bb_upload *u, struct file *f)
{
	struct found *fd = f->found;
	struct bb_aws_error ae;
	struct bb_error e = BB_ERROR_INIT;
	int more = 0, rc;

	if (f->st == F_LIST)
		rc = bb_s3_mpu_list_finish(&f->call, f->crc, &f->cerr, f->key, found_upload, fd,
		    &more, &ae, &e);
	else
		rc = bb_s3_mpu_list_parts_finish(&f->call, f->crc, &f->cerr, found_part, fd,
		    &more, &fd->alg, &ae, &e);
	if (rc < 0 || fd->failed)
		goto create;
	if (more) {
		rc = f->st == F_LIST ?
		    bb_s3_mpu_list_prepare(u->aws, f->bucket, f->key, &f->call, &e) :
		    bb_s3_mpu_list_parts_prepare(u->aws, f->bucket, f->key, fd->id, &f->call, &e);
		if (rc < 0 || call_start(u, f, f->st, &e) < 0)
			goto create;
		return;
	}
	if (f->st == F_LIST) {
		if (fd->id == NULL)
			goto create;
		fd->sizes = calloc(BB_UPLOAD_MAX_PARTS, sizeof(*fd->sizes));
		fd->etags = calloc(BB_UPLOAD_MAX_PARTS, sizeof(*fd->etags));
		fd->cks = calloc(BB_UPLOAD_MAX_PARTS, sizeof(*fd->cks));
		if (fd->sizes == NULL || fd->etags == NULL || fd->cks == NULL ||
		    bb_s3_mpu_list_parts_prepare(u->aws, f->bucket, f->key, fd->id, &f->call,
		    &e) < 0 || call_start(u, f, F_LISTPARTS, &e) < 0)
			goto create;
		return;
	}
	if (take_over(f) == 0) {
		f->upload_ours = 1;
		f->st = F_PARTS;
		found_free(f->found);
		f->found = NULL;
		return;
	}
create:
	found_free(f->found);
	f->found = NULL;
	start_create(u, f);
}

/*
 * The parts are all in; each was checked by S3 against its SHA-256 (the
 * signed x-amz-checksum-sha256, or the signed payload hash), and its ETag
 * against the local MD5 when one was computed. Complete the upload; the
 * object's ETag is then checked (complete_result).
 */
static void
start_complete(struct bb_upload *u, struct file *f)
{
	struct bb_s3_part *v;
	struct bb_error e = BB_ERROR_INIT;
	size_t i;

	v = calloc(f->nparts ? f->nparts : 1, sizeof(*v));
	if (v == NULL) {
		bb_error_set(&e, BB_ERR_SYSTEM, "out of memory");
		file_fail(f, &e, NULL);
		return;
	}
	for (i = 0; i < f->nparts; i++) {
		struct part *p = f->parts[i];
		v[i] = p->res;
		v[i].number = p->number;
		if (f->no_ck) {
			v[i].checksum[0] = '\0';
			v[i].ck_alg = BB_CKSUM_NONE;
		} else if (v[i].checksum[0] == '\0') {
			memcpy(v[i].checksum, p->ck, sizeof(p->ck));
			v[i].ck_alg = f->ck;
		}
	}
	if (bb_s3_mpu_complete_prepare(u->aws, f->bucket, f->key, f->upload_id, v, f->nparts, 0,
	    &f->call, &e) < 0 || call_start(u, f, F_COMPLETE, &e) < 0)
		file_fail(f, &e, NULL);
	free(v);
}

/* The object's ETag must be the MD5 of the part ETags S3 gave: the object
 * is exactly those parts. */
static void
complete_result(struct bb_upload *u, struct file *f)
{
	struct bb_md5 m = { NULL };
	struct bb_aws_error ae;
	struct bb_error e = BB_ERROR_INIT;
	struct bb_s3_object o;
	unsigned char d[BB_MD5_LEN];
	char want[128], etag[128];
	size_t i;
	int md5s = !u->kms;

	bb_s3_object_init(&o);
	etag[0] = '\0';
	if (bb_s3_mpu_complete_finish(&f->call, f->crc, &f->cerr, etag, &ae, &e) < 0) {
		if (again(u, f, &ae, &e))
			start_complete(u, f);   /* S3 answers a repeated Complete as the first */
		else
			file_fail(f, &e, &ae);
		goto out;
	}
	f->upload_ours = 0;
	if (bb_md5_init(&m) < 0) {
		bb_error_set(&e, BB_ERR_SYSTEM, "out of memory");
		file_fail(f, &e, NULL);
		goto out;
	}
	for (i = 0; i < f->nparts; i++) {
		const char *pe = f->parts[i]->res.etag;

		if (strlen(pe) != 34 || pe[0] != '"' || bb_hex_decode(pe + 1, 32, d, sizeof(d)) < 0)
			md5s = 0;
		else
			bb_md5_update(&m, d, sizeof(d));
	}
	bb_md5_final(&m, d);
	etag_of(d, (int)f->nparts, 1, want);
	if (etag[0] == '\0' || strcmp(etag, "\"\"") == 0) {
		/* radosgw returns an empty ETag: ask for the object's (rare
		 * enough to be a blocking call) */
		if (bb_s3_head(u->aws, f->bucket, f->key, &o, &ae, &e) < 0) {
			file_fail(f, &e, &ae);
			goto out;
		}
		snprintf(etag, sizeof(etag), "%s", o.etag);
	}
	if (md5s && strcmp(etag, want) != 0) {
		bb_error_set(&e, BB_ERR_REMOTE, "CompleteMultipartUpload of s3://%s/%s: the "
		    "object's ETag %s does not match the parts sent (%s)", f->bucket, f->key,
		    etag, want);
		file_fail(f, &e, NULL);
		goto out;
	}
	snprintf(f->r.etag, sizeof(f->r.etag), "%s", etag);
	f->r.ok = 1;
	f->st = F_END;
out:
	bb_md5_release(&m);
	bb_s3_object_release(&o);
}

/* ---- the state machine ---- */

static int
open_file(struct bb_upload *u, struct file *f)
{
	struct stat st;
	struct bb_error e = BB_ERROR_INIT;

	f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		bb_error_errno(&e, "cannot open '%s'", f->path);
		e.kind = BB_ERR_INPUT;
		file_fail(f, &e, NULL);
		return -1;
	}
	f->own_fd = 1;
	if (fstat(f->fd, &st) < 0) {
		bb_error_errno(&e, "cannot stat '%s'", f->path);
		file_fail(f, &e, NULL);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		bb_error_set(&e, BB_ERR_INPUT, "'%s' is not a regular file", f->path);
		file_fail(f, &e, NULL);
		return -1;
	}
	f->size = (uint64_t)st.st_size;
	f->r.size = f->size;
	u->prog.bytes_total += f->size;
	return 0;
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* After the HEAD: 1 when a digest of the local file was started, 0 to
 * upload. */
static int
head_result(struct bb_upload *u, struct file *f)
{
	struct bb_aws_error ae;
	struct bb_error e = BB_ERROR_INIT;
	const char *et, *ck, *meta;
	uint64_t ps = 0, v;
	enum bb_checksum_alg alt;
	int rc, crc;

	bb_aws_error_clear(&ae);
	if (f->hrc < 0) {
		e = f->herr;
		rc = -1;
	} else
		rc = bb_aws_check_response("s3", NULL, &f->hresp, &ae, &e);
	if (rc < 0) {
		/* absent, or HEAD not allowed (s3:GetObject): just upload */
		if (f->hrc == 0 && (e.kind == BB_ERR_NOTFOUND || ae.status == 403))
			return 0;
		/* a failure that may pass (the HTTP layer has retried already):
		 * a few more rounds, as for a part */
		if (bb_aws_failure_transient(&ae, &e) && f->htries < u->o.retries) {
			f->htries++;
			f->st = F_NEW;
			return 0;
		}
		if (f->hrc == 0)
			bb_error_prefix(&e, "HEAD s3://%s/%s", f->bucket, f->key);
		file_fail(f, &e, &ae);
		return 0;
	}
	bb_s3_object_release(&f->obj);
	if (bb_s3_object_from_headers(&f->hresp.headers, &f->obj) < 0 ||
	    f->obj.size != f->size)
		return 0;
	et = f->obj.etag;
	/* the object's checksum of a kind computed here: this run's kind
	 * first, else the other one */
	alt = u->ck == BB_CKSUM_CRC32C ? BB_CKSUM_SHA256 : BB_CKSUM_CRC32C;
	crc = u->ck == BB_CKSUM_CRC32C;
	if ((ck = bb_http_headers_get(&f->hresp.headers, bb_checksum_header(u->ck))) == NULL &&
	    (ck = bb_http_headers_get(&f->hresp.headers, bb_checksum_header(alt))) != NULL)
		crc = alt == BB_CKSUM_CRC32C;
	if (ck == NULL || strlen(ck) >= sizeof(f->obj_ck))
		ck = "";
	memcpy(f->obj_ck, ck, strlen(ck) + 1);
	ck = f->obj_ck;
	memset(&f->cjob, 0, sizeof(f->cjob));
	f->cjob.fd = f->fd;
	f->cjob.len = f->size;
	meta = bb_http_headers_get(&f->obj.meta, "bb-part-size");
	if (meta && parse_u64(meta, &v) == 0 && v > 0)
		ps = v;
	else
		ps = bb_upload_part_size(f->size, u->o.part_size);
	/* The object's checksum when it has one (cheaper than MD5), else its
	 * ETag, which is an MD5 unless SSE-KMS encrypted it. */
	if (ck[0]) {
		f->cjob.want_sha = !crc;
		f->cjob.want_crc = crc;
		/* a multipart object's is composite (moto leaves out the
		 * "-<parts>" that S3 appends) */
		if (strchr(ck, '-') || strchr(et, '-')) {
			f->cjob.composite = 1;
			f->cjob.part_size = ps;
		}
	} else if (!u->kms && strchr(et, '-')) {
		f->cjob.want_md5 = 1;
		f->cjob.multipart = 1;
		f->cjob.part_size = ps;
	} else if (!u->kms && strlen(et) == 34) {
		f->cjob.want_md5 = 1;
	} else {
		return 0;
	}
	bb_digest_pool_submit(&u->pool, &f->cjob);
	u->hashing++;
	f->inflight++;
	return 1;
}

static int
check_result(struct bb_upload *u, struct file *f)
{
	char etag[128], ck[BB_CHECKSUM_B64 + 16];

	(void)u;
	if (f->cjob.rc < 0)
		return 0;              /* cannot tell: upload (which reports it) */
	if (f->cjob.want_sha || f->cjob.want_crc) {
		/* a CRC without "-<parts>" on a multipart object is S3's
		 * FULL_OBJECT kind: the CRC of all the bytes */
		if (f->cjob.want_crc)
			bb_crc32_base64(strchr(f->obj_ck, '-') ? f->cjob.crc : f->cjob.crc_whole, ck);
		else
			bb_base64_encode(f->cjob.sha, sizeof(f->cjob.sha), ck);
		if (f->cjob.composite && strchr(f->obj_ck, '-'))
			snprintf(ck + strlen(ck), sizeof(ck) - strlen(ck), "-%d", f->cjob.nparts);
		if (strcmp(ck, f->obj_ck) != 0)
			return 0;
	}
	if (f->cjob.want_md5) {
		etag_of(f->cjob.md5, f->cjob.nparts, f->cjob.multipart, etag);
		if (strcmp(etag, f->obj.etag) != 0)
			return 0;
	}
	f->r.ok = 1;
	f->r.skipped = 1;
	snprintf(f->r.etag, sizeof(f->r.etag), "%s", f->obj.etag);
	return 1;
}

/* Read what the stream has ready into its parts (never blocks). */
static void
read_stream(struct bb_upload *u, struct file *f)
{
	struct pollfd pfd;
	struct part *p;
	struct bb_error e = BB_ERROR_INIT;
	ssize_t r;
	size_t want;
	char c;

	for (;;) {
		p = f->nparts ? f->parts[f->nparts - 1] : NULL;
		if (p == NULL || p->st != P_FILLING) {
			if (f->eof)
				return;
			/* a new buffer: bounded by the transfers allowed */
			if (u->buffers >= u->o.jobs + 2 ||
			    (f->nparts >= 2 && f->upload_id == NULL))
				return;
			if (f->nparts >= BB_UPLOAD_MAX_PARTS) {
				/* 10,000 full parts: right if the stream ends here */
				pfd.fd = f->fd;
				pfd.events = POLLIN;
				pfd.revents = 0;
				if (poll(&pfd, 1, 0) <= 0)
					return;
				r = read(f->fd, &c, 1);
				if (r < 0 && (errno == EINTR || errno == EAGAIN))
					return;
				if (r == 0) {
					f->eof = 1;
					return;
				}
				if (r < 0)
					bb_error_errno(&e, "cannot read '%s'", f->path);
				else
					bb_error_set(&e, BB_ERR_INPUT, "'%s': more than 10000 parts: "
					    "use a larger --part-size", f->path);
				file_fail(f, &e, NULL);
				return;
			}
			p = part_new(f, (int)f->nparts + 1, (uint64_t)f->nparts * f->part_size, 0);
			if (p == NULL || (p->buf = malloc((size_t)f->part_size)) == NULL) {
				bb_error_set(&e, BB_ERR_SYSTEM, "out of memory");
				file_fail(f, &e, NULL);
				return;
			}
			u->buffers++;
			p->cap = f->part_size;
			p->st = P_FILLING;
		}
		pfd.fd = f->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) <= 0)
			return;
		want = (size_t)(p->cap - p->len);
		r = read(f->fd, p->buf + p->len, want);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		if (r < 0) {
			bb_error_errno(&e, "cannot read '%s'", f->path);
			file_fail(f, &e, NULL);
			return;
		}
		if (r == 0) {
			f->eof = 1;
			p->st = P_NEW;
			if (p->len == 0 && f->nparts > 1) {
				f->nparts--;
				part_free(u, p);
			}
			return;
		}
		p->len += (uint64_t)r;
		f->size += (uint64_t)r;
		f->r.size = f->size;
		u->prog.bytes_total += (uint64_t)r;
		if (p->len == p->cap)
			p->st = P_NEW;
	}
}

static void
part_hashed(struct bb_upload *u, struct part *p)
{
	struct bb_error e = BB_ERROR_INIT;

	(void)u;
	if (p->job.rc < 0) {
		if (p->job.short_read)
			bb_error_set(&e, BB_ERR_INPUT, "'%s' is shorter than expected (changed "
			    "while uploading?)", p->f->path);
		else {
			errno = p->job.errnum;
			bb_error_errno(&e, "cannot read '%s'", p->f->path);
		}
		file_fail(p->f, &e, NULL);
		p->st = P_NEW;
		return;
	}
	p->md5_hex[0] = '\0';
	if (p->job.want_md5)
		bb_hex_encode(p->job.md5, BB_MD5_LEN, p->md5_hex);
	p->sha256_hex[0] = '\0';
	if (p->job.want_sha)
		bb_hex_encode(p->job.sha, BB_SHA256_LEN, p->sha256_hex);
	if (p->f->ck == BB_CKSUM_CRC32C)
		bb_crc32_base64(p->job.crc, p->ck);
	else
		bb_base64_encode(p->job.sha, BB_SHA256_LEN, p->ck);
	p->st = P_HASHED;
	/* resumed: S3 already holds this part when its checksum, or else its
	 * ETag, is that of the local bytes */
	if (p->old_etag[0] && (p->old_ck[0] ? strcmp(p->old_ck, p->ck) == 0 :
	    p->md5_hex[0] && strlen(p->old_etag) == 34 &&
	    strncmp(p->old_etag + 1, p->md5_hex, 32) == 0)) {
		/* resumed: S3 already holds this part */
		memcpy(p->res.etag, p->old_etag, sizeof(p->res.etag));
		memcpy(p->res.checksum, p->old_ck, sizeof(p->res.checksum));
		p->res.ck_alg = p->old_ck[0] ? p->f->ck : BB_CKSUM_NONE;
		p->res.number = p->number;
		p->res.size = p->len;
		p->st = P_DONE;
		p->f->ndone++;
		p->f->reused++;
	}
}

static void
part_sent(struct bb_upload *u, struct part *p)
{
	struct file *f = p->f;
	struct bb_s3_put_result pr;
	struct bb_aws_error ae;
	struct bb_error e = BB_ERROR_INIT;
	int rc;
	int retry;

	bb_aws_error_clear(&ae);
	if (p->number > 0)
		rc = bb_s3_part_finish(&p->x, p->xrc, &p->xerr, &p->res, &ae, &e);
	else {
		rc = bb_s3_put_finish(&p->x, p->xrc, &p->xerr, &pr, &ae, &e);
		if (rc == 0)
			memcpy(p->res.etag, pr.etag, sizeof(p->res.etag));
	}
	if (rc == 0 && p->unsigned_payload &&
	    bb_http_headers_get(&p->x.resp.headers, bb_checksum_header(f->ck)) == NULL) {
		/* The store did not echo the checksum: it may not have checked
		 * it. This part and all later ones go with a signed payload
		 * (hashed again for it where only a CRC was computed). */
		u->no_echo = 1;
		p->st = p->sha256_hex[0] ? P_HASHED : P_NEW;
		return;
	}
	if (rc == 0) {
		p->st = P_DONE;
		f->ndone++;
		f->sent += p->len;
		u->prog.bytes_sent += p->len;
		bb_s3_xfer_release(&p->x);
		if (p->buf) {
			free(p->buf);
			p->buf = NULL;
			u->buffers--;
		}
		return;
	}
	/* a mismatch, a dropped connection after the HTTP retries, or a
	 * retryable code: send again a few times; never a local read error
	 * or a configuration one (a certificate not trusted, credentials
	 * that cannot be had), which the next try meets again */
	retry = ae.code[0] == '\0' || bb_aws_error_retryable(&ae) ||
	    strcmp(ae.code, "BadDigest") == 0 || strcmp(ae.code, "XAmzContentSHA256Mismatch") == 0 ||
	    strcmp(ae.code, "IncompleteBody") == 0 || strcmp(ae.code, "RequestTimeout") == 0;
	if (e.kind == BB_ERR_INPUT || e.kind == BB_ERR_USAGE || e.kind == BB_ERR_AUTH)
		retry = 0;
	if (retry && p->tries < u->o.retries) {
		p->tries++;
		p->st = P_HASHED;
		return;
	}
	file_fail(f, &e, &ae);
}

static void
report(struct bb_upload *u, struct file *f)
{
	f->r.user = f->user;
	f->r.path = f->path;
	f->r.bucket = f->bucket;
	f->r.key = f->key;
	f->r.multipart = f->multipart;
	f->r.parts_reused = f->reused;
	f->r.sent = f->sent;
	u->prog.files_done++;
	if (!f->r.ok)
		u->prog.files_failed++;
	if (f->r.skipped)
		u->prog.files_skipped++;
	if (u->done)
		u->done(&f->r, u->ctx);
}

/* The abort after a failure failed too (the store is failing): the
 * failure says that the upload is left, which a re-run of the same key
 * resumes (else it holds its parts, and costs, until aborted). */
static void
note_left(struct file *f, const struct bb_error *e)
{
	size_t n = strlen(f->r.err.msg);

	snprintf(f->r.err.msg + n, sizeof(f->r.err.msg) - n, "; the multipart upload %s is "
	    "left in place (%s): a re-run resumes it", f->upload_id, e->msg);
}

/* Advance one file as far as it goes now. */
static void
step(struct bb_upload *u, struct file *f)
{
	struct bb_error e = BB_ERROR_INIT;
	struct bb_aws_error ae;
	struct part *p;
	size_t i;
	int hashed_waiting;

	switch (f->st) {
	case F_NEW:
		if (f->is_stream) {
			f->part_size = u->o.part_size ? u->o.part_size : DEF_PART;
			if (f->part_size < BB_UPLOAD_MIN_PART)
				f->part_size = BB_UPLOAD_MIN_PART;
			f->st = F_START;
			u->streaming = 1;
			break;
		}
		if (f->fd < 0 && open_file(u, f) < 0)
			return;
		if (u->o.flags & BB_UPLOAD_FORCE) {
			f->st = F_START;
			break;
		}
		if (u->xfers >= u->o.jobs) {
			u->backlog = 1;
			return;
		}
		if (start_head(u, f, &e) < 0) {
			file_fail(f, &e, NULL);
			return;
		}
		f->st = F_HEAD;
		return;
	case F_HEAD:
		if (!f->hfinished)
			return;
		if (head_result(u, f))
			f->st = F_CHECK;
		else if (f->st == F_HEAD)
			f->st = F_START;
		u->ready = 1;
		return;
	case F_CHECK:
		if (!bb_digest_pool_done(&u->pool, &f->cjob))
			return;
		u->hashing--;
		f->inflight--;
		if (check_result(u, f))
			f->st = F_END;
		else
			f->st = F_START;
		u->ready = 1;
		return;
	default:
		break;
	}

	if (f->st == F_START) {
		if (f->is_stream) {
			read_stream(u, f);
			if (f->st != F_START)
				return;
			if (f->eof && f->nparts == 1) {
				/* it all fit in one part: one PUT */
				f->parts[0]->number = 0;
				f->st = F_PARTS;
			} else if (f->nparts >= 2 && f->parts[1]->len > 0) {
				start_multipart(u, f);
			} else {
				return;
			}
		} else if (f->size < u->o.threshold) {
			if (part_new(f, 0, 0, f->size) == NULL) {
				bb_error_set(&e, BB_ERR_SYSTEM, "out of memory");
				file_fail(f, &e, NULL);
				return;
			}
			f->st = F_PARTS;
		} else {
			f->part_size = bb_upload_part_size(f->size, u->o.part_size);
			start_multipart(u, f);
		}
		u->ready = 1;
	}
	if ((f->st == F_LIST || f->st == F_LISTPARTS || f->st == F_CREATE ||
	    f->st == F_COMPLETE) && f->cfinished) {
		f->cfinished = 0;
		if (f->st == F_CREATE)
			create_result(u, f);
		else if (f->st == F_COMPLETE)
			complete_result(u, f);
		else
			list_result(u, f);
		u->ready = 1;
	}
	if (f->st == F_PARTS) {
		if (f->is_stream && !f->eof)
			read_stream(u, f);
		hashed_waiting = 0;
		for (i = 0; i < f->nparts && f->st == F_PARTS; i++) {
			p = f->parts[i];
			if (p->st == P_HASHING && bb_digest_pool_done(&u->pool, &p->job)) {
				u->hashing--;
				f->inflight--;
				part_hashed(u, p);
				u->ready = 1;
			}
			if (p->st == P_SENDING && p->finished) {
				part_sent(u, p);
				u->ready = 1;
			}
			if (p->st == P_NEW && u->hashing < 2 * u->pool.nthreads &&
			    hashed_waiting < u->o.jobs) {
				memset(&p->job, 0, sizeof(p->job));
				p->job.fd = f->fd;
				p->job.mem = p->buf;
				p->job.off = p->buf ? 0 : p->off;
				p->job.len = p->len;
				p->job.want_sha = f->ck == BB_CKSUM_SHA256 ||
				    payload_signed(u, f);
				p->job.want_crc = f->ck == BB_CKSUM_CRC32C;
				/* MD5 only for Content-MD5, or to match a part
				 * left without a checksum by an earlier run */
				p->job.want_md5 = (u->o.flags & BB_UPLOAD_CONTENT_MD5) ||
				    (p->old_etag[0] && !p->old_ck[0]);
				bb_digest_pool_submit(&u->pool, &p->job);
				u->hashing++;
				f->inflight++;
				p->st = P_HASHING;
			}
			if (p->st == P_HASHED && !p->sha256_hex[0] && payload_signed(u, f)) {
				p->st = P_NEW;  /* hashed for a CRC only: the SHA-256 too */
				u->ready = 1;
			}
			if (p->st == P_HASHED) {
				if (u->xfers < u->o.jobs) {
					if (start_part(u, p, &e) < 0) {
						file_fail(f, &e, NULL);
						break;
					}
				} else {
					hashed_waiting++;
					u->backlog = 1;
				}
			}
		}
		if (f->st == F_PARTS && f->ndone == f->nparts && (!f->is_stream || f->eof)) {
			if (f->multipart) {
				start_complete(u, f);
			} else {
				memcpy(f->r.etag, f->parts[0]->res.etag, sizeof(f->r.etag));
				f->r.ok = 1;
				f->st = F_END;
			}
			u->ready = 1;
		}
	}
	if (f->st == F_FAIL)
		for (i = 0; i < f->nparts; i++)
			if (f->parts[i]->st == P_HASHING && bb_digest_pool_done(&u->pool, &f->parts[i]->job)) {
				f->parts[i]->st = P_NEW;
				u->hashing--;
				f->inflight--;
			}
	if (f->st == F_FAIL && f->inflight == 0) {
		if (f->upload_id && f->upload_ours) {
			if (bb_s3_mpu_abort(u->aws, f->bucket, f->key, f->upload_id, &ae, &e) == 0)
				f->upload_ours = 0;
			else
				note_left(f, &e);
		}
		f->st = F_END;
	}
}

static void
pump(struct bb_upload *u)
{
	struct file *f, *prev = NULL, *next;

	u->ready = 0;
	u->backlog = 0;
	for (f = u->head; f; f = next) {
		next = f->next;
		step(u, f);
		if (f->st == F_END) {
			if (f->is_stream)
				u->streaming = 0;
			report(u, f);
			if (prev)
				prev->next = next;
			else
				u->head = next;
			if (u->tail == f)
				u->tail = prev;
			u->pending--;
			file_free(u, f);
			continue;
		}
		prev = f;
	}
}

/* ---- public ---- */

struct bb_upload *
bb_upload_new(struct bb_aws *aws, const struct bb_upload_opts *opts, bb_upload_done_fn done,
    void *ctx, struct bb_error *err)
{
	struct bb_upload *u;
	const struct bb_endpoint *ep;
	const char *sse;
	long ncpu;
	int n;
	size_t i;

	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		return NULL;
	}
	u->aws = aws;
	u->done = done;
	u->ctx = ctx;
	if (opts)
		u->o = *opts;
	if (u->o.jobs < 1)
		u->o.jobs = 8;
	if (u->o.threshold == 0)
		u->o.threshold = DEF_THRESHOLD;
	if (u->o.retries == 0)
		u->o.retries = 3;
	else if (u->o.retries < 0)
		u->o.retries = 0;
	bb_http_headers_init(&u->hdrs);
	if (opts && opts->headers)
		for (i = 0; i < opts->headers->n; i++)
			if (bb_http_headers_add(&u->hdrs, opts->headers->v[i].name,
			    opts->headers->v[i].value) < 0)
				goto nomem;
	u->o.headers = NULL;
	sse = bb_http_headers_get(&u->hdrs, "x-amz-server-side-encryption");
	u->kms = sse && strncmp(sse, "aws:kms", 7) == 0;
	if ((ep = bb_aws_endpoint(aws, "s3", err)) == NULL)
		goto fail;
	u->tls = strncasecmp(ep->url, "https://", 8) == 0;
	/* Automatic: over TLS, CRC32C (the CPU computes it at memory speed;
	 * the payload goes unsigned); over plain HTTP the payload must be
	 * signed, with its SHA-256, which then is the checksum too. */
	if (u->o.checksum == BB_CKSUM_SHA256 || u->o.checksum == BB_CKSUM_CRC32C)
		u->ck = u->o.checksum;
	else if (u->o.checksum == BB_CKSUM_NONE)
		u->ck = u->tls ? BB_CKSUM_CRC32C : BB_CKSUM_SHA256;
	else {
		bb_error_set(err, BB_ERR_USAGE, "checksum: SHA-256 or CRC32C only");
		goto fail;
	}
	u->m = bb_http_multi_new(bb_aws_http(aws), u->o.jobs, err);
	if (u->m == NULL)
		goto fail;
	n = u->o.hash_threads;
	if (n <= 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		n = ncpu > 0 ? (int)ncpu : 1;
		if (n > u->o.jobs)
			n = u->o.jobs;
		if (n > 4)
			n = 4;
	}
	if (bb_digest_pool_start(&u->pool, n) < 0) {
		bb_error_set(err, BB_ERR_SYSTEM, "cannot start the hashing threads");
		goto fail;
	}
	return u;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
fail:
	bb_upload_free(u);
	return NULL;
}

static struct file *
file_add(struct bb_upload *u, const char *path, const char *bucket, const char *key,
    void *user, struct bb_error *err)
{
	struct file *f;

	if (!bb_s3_bucket_valid(bucket)) {
		bb_error_set(err, BB_ERR_INPUT, "invalid bucket name '%.63s'", bucket);
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		goto nomem;
	f->u = u;
	f->fd = -1;
	f->user = user;
	f->no_ck = (u->o.flags & BB_UPLOAD_NO_CHECKSUM) != 0;
	f->ck = u->ck;
	bb_http_req_init(&f->hreq);
	bb_http_resp_init(&f->hresp);
	bb_buf_init(&f->hurl);
	bb_s3_object_init(&f->obj);
	f->path = strdup(path);
	f->bucket = strdup(bucket);
	f->key = strdup(key);
	if (f->path == NULL || f->bucket == NULL || f->key == NULL) {
		file_free(u, f);
		goto nomem;
	}
	if (u->tail)
		u->tail->next = f;
	else
		u->head = f;
	u->tail = f;
	u->pending++;
	u->prog.files_total++;
	return f;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	return NULL;
}

int
bb_upload_add_file(struct bb_upload *u, const char *path, const char *bucket, const char *key,
    void *user, struct bb_error *err)
{
	return file_add(u, path, bucket, key, user, err) ? 0 : -1;
}

int
bb_upload_add_stream(struct bb_upload *u, int fd, const char *name, const char *bucket,
    const char *key, void *user, struct bb_error *err)
{
	struct file *f;
	struct file *g;

	for (g = u->head; g; g = g->next)
		if (g->is_stream)
			return bb_error_set(err, BB_ERR_USAGE, "only one stream at a time");
	f = file_add(u, name, bucket, key, user, err);
	if (f == NULL)
		return -1;
	f->fd = fd;
	f->is_stream = 1;
	return 0;
}

size_t
bb_upload_pending(const struct bb_upload *u)
{
	return u->pending;
}

void
bb_upload_get_progress(const struct bb_upload *u, struct bb_upload_progress *p)
{
	const struct file *f;
	size_t i;

	*p = u->prog;
	for (f = u->head; f; f = f->next)
		for (i = 0; i < f->nparts; i++)
			if (f->parts[i]->st == P_SENDING && f->parts[i]->buf == NULL)
				p->bytes_sent += f->parts[i]->x.pos;
}

int
bb_upload_run(struct bb_upload *u, long timeout_ms, struct bb_error *err)
{
	double end = 0, now;
	struct timespec ts;
	long wait;
	struct pollfd pfd;
	struct file *f;

	if (u->m == NULL)
		return bb_error_set(err, BB_ERR_USAGE, "the upload was cancelled");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	if (timeout_ms >= 0)
		end = now + timeout_ms / 1000.0;
	for (;;) {
		pump(u);
		if (u->pending == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
		if (timeout_ms >= 0 && now >= end)
			break;
		if (u->ready)
			continue;
		wait = (u->hashing > 0 || u->streaming || u->backlog) ? 2 : 100;
		if (timeout_ms >= 0 && (end - now) * 1000 < wait)
			wait = (long)((end - now) * 1000) + 1;
		if (bb_http_multi_pending(u->m) > 0) {
			if (bb_http_multi_wait(u->m, wait, err) < 0)
				return -1;
		} else if (u->hashing > 0) {
			bb_digest_pool_wait(&u->pool, wait);
		} else if (u->streaming) {
			for (f = u->head; f && !f->is_stream; f = f->next)
				;
			pfd.fd = f ? f->fd : -1;
			pfd.events = POLLIN;
			if (poll(&pfd, f ? 1 : 0, (int)wait) < 0 && errno != EINTR)
				return bb_error_errno(err, "poll");
		} else {
			/* blocked on nothing: should not happen; do not spin */
			poll(NULL, 0, (int)wait);
		}
	}
	return (int)u->pending;
}

static int
settling(const struct bb_upload *u)
{
	const struct file *f;

	for (f = u->head; f; f = f->next)
		if ((f->st == F_CREATE || f->st == F_COMPLETE) && !f->cfinished)
			return 1;
	return 0;
}

static void
settle(struct bb_upload *u)
{
	struct bb_error e = BB_ERROR_INIT;
	struct timespec t0, t;
	struct file *f;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (settling(u)) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= 10 ||
		    bb_http_multi_perform(u->m, 100, &e) < 0)
			break;
	}
	for (f = u->head; f; f = f->next) {
		if (!f->cfinished)
			continue;
		f->cfinished = 0;
		if (f->st == F_CREATE && bb_s3_mpu_create_finish(&f->call, f->crc, &f->cerr,
		    &f->upload_id, NULL, &e) == 0)
			f->upload_ours = 1;
		else if (f->st == F_COMPLETE)
			complete_result(u, f);
	}
}

int
bb_upload_cancel(struct bb_upload *u, struct bb_error *err)
{
	struct file *f;
	struct bb_aws_error ae;
	struct bb_error e = BB_ERROR_INIT;
	int rc = 0;

	/* A CreateMultipartUpload or CompleteMultipartUpload in flight
	 * changes what S3 holds whether or not its answer is read: let those
	 * finish (for a few seconds at most), so that an upload created is
	 * aborted below and a completed object is reported as such. */
	if (u->m)
		settle(u);
	/* cancel the transfers (their callbacks run now) and the hashing */
	if (u->m) {
		bb_http_multi_free(u->m);
		u->m = NULL;
	}
	if (u->pool.threads)
		bb_digest_pool_drain(&u->pool);
	while ((f = u->head) != NULL) {
		u->head = f->next;
		if (f->upload_id && f->upload_ours) {
			if (bb_s3_mpu_abort(u->aws, f->bucket, f->key, f->upload_id, &ae, &e) < 0 &&
			    rc == 0) {
				if (err)
					*err = e;
				rc = -1;
			}
			f->upload_ours = 0;
		}
		if (f->st != F_END) {
			f->r.ok = 0;
			bb_error_set(&f->r.err, BB_ERR_SYSTEM, "s3://%s/%s: cancelled", f->bucket,
			    f->key);
		}
		report(u, f);
		u->pending--;
		file_free(u, f);
	}
	u->tail = NULL;
	u->streaming = 0;
	return rc;
}

void
bb_upload_free(struct bb_upload *u)
{
	if (u == NULL)
		return;
	if (u->head)
		bb_upload_cancel(u, NULL);
	if (u->m)
		bb_http_multi_free(u->m);
	bb_digest_pool_stop(&u->pool);
	bb_http_headers_release(&u->hdrs);
	free(u);
}
