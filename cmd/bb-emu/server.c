/*
 * server.c - bb-emu's HTTP side on libmicrohttpd: one request from its
 * first header to its last body byte, SigV4 / bearer authentication,
 * body decoding (HTTP chunked by MHD, aws-chunked here), hashing and
 * checksums, fault injection, routing, the response and the log line.
 *
 * Threading: MHD_USE_THREAD_PER_CONNECTION with an internal polling
 * thread. Each connection's handler blocks on disk writes, hashing of
 * large bodies and injected delays (--slow-ms); with a thread per
 * connection none of that stalls the other transfers, which a small
 * thread pool would (a 1 GiB multipart upload runs 8-16 parallel parts).
 * The number of connections is bounded (MHD_OPTION_CONNECTION_LIMIT).
 *
 * TLS (--tls-cert/--tls-key) is libmicrohttpd's own (GnuTLS), the same
 * daemon with MHD_USE_TLS: everything above works the same over https.
 *
 * The raw request target is needed for SigV4 (the canonical URI is the
 * path as sent): an identity "unescape" callback keeps MHD from decoding
 * the path and the query arguments, and the raw query is rebuilt from
 * them in order.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "aws.h"
#include "awschunked.h"
#include "emu.h"
#include "hash.h"
#include "msg.h"
#include "sigv4.h"

#define MEM_BODY_MAX (16u << 20)               /* JSON and XML bodies */
#define FILE_BODY_MAX (5ULL << 30)             /* one PutObject / UploadPart */
#define DRAIN_MAX (16u << 20)                  /* read and drop before an error */
#define WBUF_SIZE (1u << 20)
#define PEM_MAX (1u << 20)                     /* --tls-cert / --tls-key files */

struct emu_key {
	char *access_key;
	char *secret;
	char *token;
};

struct emu_server {
	struct emu_key *keys;
	size_t nkeys;
	char **bearer;
	size_t nbearer;
	struct MHD_Daemon *daemon;
	/* --tls-cert / --tls-key: PEM text, NUL-terminated; the key is wiped
	 * and freed once the daemon has loaded it */
	char *tls_cert, *tls_key;
	size_t tls_key_len;
	uint64_t nreq;
	pthread_mutex_t log_lock;
};

enum conn_state { CONN_NEW = 0, CONN_BODY, CONN_SENT };

/*
 * Each body byte is hashed once per digest: the checksum is computed
 * over the body (CK_OWN) unless another digest already gives it - the
 * signed payload hash's SHA-256 for x-amz-checksum-sha256 (CK_FROM_SHA),
 * or the aws-chunked decoder, which computes and checks the trailer's
 * checksum itself (CK_FROM_TRAILER).
 */
enum ck_source { CK_OWN = 0, CK_FROM_SHA, CK_FROM_TRAILER };

/* One request. */
struct emu_conn {
	struct emu *e;
	enum conn_state state;
	double t0;
	char *path, *query;
	struct bb_buf querybuf;
	struct emu_request req;
	struct emu_response resp;
	char reqid[40], uuid[40];
	int is_control, is_bedrock, bearer;
	int decided;               /* resp holds an error: drop the body */
	int queued_early;
	enum emu_fault fault;
	double slow_ms;
	uint64_t drop_at;          /* DROP fault: close after this many bytes */
	uint64_t raw_bytes;        /* body bytes received (HTTP-decoded) */
	uint64_t limit;            /* decoded body bound */
	int64_t expect_len;        /* Content-Length / decoded length, -1 unknown */
	/* the decoded body */
	int spool, fd;
	struct bb_buf tmp_path, mem;
	char *wbuf;
	size_t wlen;
	uint64_t body_size;
	int want_md5, want_sha;
	struct bb_md5 md5;
	struct bb_sha256 sha;
	struct bb_checksum ck;
	enum bb_checksum_alg ck_alg;
	enum ck_source ck_src;     /* where the checksum's value comes from */
	int ck_sent;               /* an x-amz-checksum-* header or trailer came */
	char ck_expect[BB_CHECKSUM_B64 + 8];   /* from a header; "" if from trailer */
	unsigned char content_md5[16];
	int have_content_md5;
	/* aws-chunked */
	int chunked;
	struct bb_awschunked_dec dec;
	/* SigV4 */
	struct bb_sigv4_verify_result v;
	int verified;
	char payload_hash[80];
	int status;                /* for the log */
};

/* ---- small helpers shared with the handlers ---- */

double
emu_wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
emu_format_iso8601(double t, char out[32])
{
	time_t s = (time_t)t;
	struct tm tm;
	int ms = (int)((t - (double)s) * 1000.0);

	if (ms < 0 || ms > 999)
		ms = 0;
	gmtime_r(&s, &tm);
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
	    (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
	    tm.tm_sec % 100, ms % 1000);
}

void
emu_format_http_date(double t, char out[40])
{
	time_t s = (time_t)t;
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int
emu_pct_decode(const char *s, size_t n, struct bb_buf *out, int plus_space)
{
	bb_buf_reset(out);
	if (bb_aws_uri_decode(out, s, n, plus_space) < 0 || memchr(out->data, '\0', out->len))
		return -1;
	return 0;
}

int
emu_query_param(const char *query, const char *name, struct bb_buf *out)
{
	const char *p = query ? query : "";
	size_t nlen = strlen(name);
	struct bb_buf k = BB_BUF_INIT;
	int rc = 0;

	while (*p) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;

		if (emu_pct_decode(p, klen, &k, 1) < 0) {
			rc = -1;
			break;
		}
		if (k.len == nlen && memcmp(k.data ? k.data : "", name, nlen) == 0) {
			if (eq)
				rc = emu_pct_decode(eq + 1, len - klen - 1, out, 1) < 0 ? -1 : 1;
			else {
				bb_buf_reset(out);
				bb_buf_adds(out, "");
				rc = 1;
			}
			break;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	bb_buf_release(&k);
	return rc;
}

/* ---- keys ---- */

int
emu_server_init(struct emu *e, struct bb_error *err)
{
	struct emu_server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return bb_error_errno(err, "out of memory");
	pthread_mutex_init(&s->log_lock, NULL);
	e->server = s;
	return 0;
}

int
emu_server_add_key(struct emu *e, const char *access_key, const char *secret, const char *token)
{
	struct emu_server *s = e->server;
	struct emu_key *nk = realloc(s->keys, (s->nkeys + 1) * sizeof(*nk));

	if (nk == NULL)
		return -1;
	s->keys = nk;
	nk[s->nkeys].access_key = strdup(access_key);
	nk[s->nkeys].secret = strdup(secret);
	nk[s->nkeys].token = token ? strdup(token) : NULL;
	if (!nk[s->nkeys].access_key || !nk[s->nkeys].secret || (token && !nk[s->nkeys].token))
		return -1;
	s->nkeys++;
	return 0;
}

int
emu_server_add_bearer(struct emu *e, const char *token)
{
	struct emu_server *s = e->server;
	char **nb = realloc(s->bearer, (s->nbearer + 1) * sizeof(*nb));

	if (nb == NULL)
		return -1;
	s->bearer = nb;
	if ((nb[s->nbearer] = strdup(token)) == NULL)
		return -1;
	s->nbearer++;
	return 0;
}

int
emu_server_load_keys(struct emu *e, const char *path, struct bb_error *err)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int lineno = 0, rc = -1;

	if (f == NULL)
		return bb_error_errno(err, "cannot open '%s'", path);
	while (fgets(line, sizeof(line), f)) {
		char *w[4] = { NULL, NULL, NULL, NULL }, *save = NULL, *t;
		int n = 0;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			bb_error_set(err, BB_ERR_USAGE, "%s:%d: line too long", path, lineno);
			goto out;
		}
		for (t = strtok_r(line, " \t\r\n", &save); t && n < 4; t = strtok_r(NULL, " \t\r\n", &save))
			w[n++] = t;
		if (n == 0 || w[0][0] == '#')
			continue;
		if (strcmp(w[0], "bearer") == 0 && n == 2) {
			if (emu_server_add_bearer(e, w[1]) < 0)
				goto nomem;
		} else if (n == 2 || n == 3) {
			if (emu_server_add_key(e, w[0], w[1], w[2]) < 0)
				goto nomem;
		} else {
			bb_error_set(err, BB_ERR_USAGE,
			    "%s:%d: expected 'ACCESS_KEY SECRET [TOKEN]' or 'bearer TOKEN'", path, lineno);
			goto out;
		}
		OPENSSL_cleanse(line, sizeof(line));
	}
	if (ferror(f)) {
		bb_error_errno(err, "cannot read '%s'", path);
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	bb_error_errno(err, "out of memory");
out:
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return rc;
}

/* ---- TLS ---- */

/*
 * Read a whole PEM file into a new NUL-terminated string (*out, its
 * length *len). The size is taken first and the buffer never grows, so a
 * private key leaves no stray copies in freed memory.
 */
static int
read_pem(const char *what, const char *path, char **out, size_t *len, struct bb_error *err)
{
	struct stat st;
	char *p = NULL;
	size_t n = 0;
	ssize_t r;
	int fd, rc = -1;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return bb_error_errno(err, "%s: cannot open '%s'", what, path);
	if (fstat(fd, &st) < 0) {
		bb_error_errno(err, "%s: cannot read '%s'", what, path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > PEM_MAX) {
		bb_error_set(err, BB_ERR_USAGE, "%s: '%s' is not a PEM file (%s)", what, path,
		    !S_ISREG(st.st_mode) ? "not a regular file" :
		    st.st_size <= 0 ? "empty" : "larger than 1 MiB");
		goto out;
	}
	if ((p = malloc((size_t)st.st_size + 1)) == NULL) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	while (n < (size_t)st.st_size) {
		r = read(fd, p + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			bb_error_errno(err, "%s: cannot read '%s'", what, path);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	p[n] = '\0';
	*out = p;
	*len = n;
	p = NULL;
	rc = 0;
out:
	if (p) {
		OPENSSL_cleanse(p, (size_t)st.st_size + 1);
		free(p);
	}
	close(fd);
	return rc;
}

/* No passphrase prompt: an encrypted key is an error, not a question. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/*
 * Check what MHD (GnuTLS) will be given, so that a bad file is named with
 * its problem rather than a bare "cannot start": a certificate, a private
 * key, and the key belonging to the certificate.
 */
static int
check_pem(const char *cert, const char *cert_file, const char *key, size_t key_len,
    const char *key_file, struct bb_error *err)
{
	BIO *b = NULL;
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	int rc = -1;

	if ((b = BIO_new_mem_buf(cert, -1)) == NULL ||
	    (x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) == NULL) {
		bb_error_set(err, BB_ERR_USAGE,
		    "--tls-cert: '%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
		    cert_file);
		goto out;
	}
	BIO_free(b);
	if ((b = BIO_new_mem_buf(key, (int)key_len)) == NULL ||
	    (pk = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL)) == NULL) {
		bb_error_set(err, BB_ERR_USAGE,
		    "--tls-key: '%s' holds no unencrypted PEM private key", key_file);
		goto out;
	}
	if (X509_check_private_key(x, pk) != 1) {
		bb_error_set(err, BB_ERR_USAGE,
		    "--tls-key: the key in '%s' does not belong to the certificate in '%s'",
		    key_file, cert_file);
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

int
emu_server_set_tls(struct emu *e, const char *cert_file, const char *key_file,
    struct bb_error *err)
{
	struct emu_server *s = e->server;
	char *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;
	int rc = -1;

	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return bb_error_set(err, BB_ERR_USAGE, "--tls-cert: this libmicrohttpd was "
		    "built without TLS support (it needs GnuTLS): cannot serve https");
	if (read_pem("--tls-cert", cert_file, &cert, &cert_len, err) < 0 ||
	    read_pem("--tls-key", key_file, &key, &key_len, err) < 0 ||
	    check_pem(cert, cert_file, key, key_len, key_file, err) < 0)
		goto out;
	free(s->tls_cert);
	if (s->tls_key) {
		OPENSSL_cleanse(s->tls_key, s->tls_key_len);
		free(s->tls_key);
	}
	s->tls_cert = cert;
	s->tls_key = key;
	s->tls_key_len = key_len;
	cert = key = NULL;
	rc = 0;
out:
	free(cert);
	if (key) {
		OPENSSL_cleanse(key, key_len);
		free(key);
	}
	return rc;
}

int
emu_server_tls(const struct emu *e)
{
	return e->server != NULL && e->server->tls_cert != NULL;
}

/* The key is in the daemon's GnuTLS credentials now (MHD reads the PEM
 * only in MHD_start_daemon): our copy goes. */
static void
drop_tls_key(struct emu_server *s)
{
	if (s->tls_key) {
		OPENSSL_cleanse(s->tls_key, s->tls_key_len);
		free(s->tls_key);
	}
	s->tls_key = NULL;
	s->tls_key_len = 0;
}

static int
key_lookup(const char *access_key, void *ctx, const char **secret, const char **token)
{
	struct emu_server *s = ctx;
	size_t i;

	for (i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i].access_key, access_key) == 0) {
			*secret = s->keys[i].secret;
			*token = s->keys[i].token;
			return 0;
		}
	return -1;
}

/* Close or free a response body not handed to MHD. */
static void
body_drop(struct emu_response *r)
{
	if (r->body_fd >= 0)
		close(r->body_fd);
	r->body_fd = -1;
	if (r->body_free)
		r->body_free(r->body_cls);
	r->body_read = NULL;
	r->body_free = NULL;
	r->body_cls = NULL;
}

/* MHD's content reader over a handler's body_read. */
static ssize_t
body_read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct emu_response *r = cls;
	ssize_t n = r->body_read(r->body_cls, pos, buf, max);

	return n > 0 ? n : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* ---- errors of the server's own making ---- */

static void
server_error(struct emu_conn *k, int status, const char *s3code, const char *brtype,
    const char *msg)
{
	bb_http_headers_release(&k->resp.headers);
	bb_buf_reset(&k->resp.body);
	body_drop(&k->resp);
	if (k->is_control) {
		k->resp.status = status;
		bb_buf_addf(&k->resp.body, "{\"message\":\"%s\"}\n", s3code);
	} else if (k->is_bedrock)
		emu_bedrock_error(&k->resp, status, brtype, "%s", msg);
	else
		emu_s3_error(&k->resp, &k->req, status, s3code, "%s", msg);
	k->decided = 1;
}

/* The body is larger than this kind of request may send. */
static void
too_large(struct emu_conn *k)
{
	if (k->spool)
		server_error(k, 400, "EntityTooLarge", NULL,
		    "Your proposed upload exceeds the maximum allowed size");
	else
		server_error(k, 413, "MaxMessageLengthExceeded", "ValidationException",
		    "Your request was too big.");
}

/*
 * A request signed for another region than the emulator's (where its
 * buckets are): S3 answers 400 and names the bucket's region, in <Region>
 * and in x-amz-bucket-region (all a HEAD gets).
 */
static void
region_error(struct emu_conn *k)
{
	const char *want = k->e->region;
	char msg[256];

	snprintf(msg, sizeof(msg), "%s the region '%s' is wrong; expecting '%s'",
	    k->v.presigned ? "Error parsing the X-Amz-Credential parameter;" :
	    "The authorization header is malformed;", k->v.region, want);
	server_error(k, 400, k->v.presigned ? "AuthorizationQueryParametersError" :
	    "AuthorizationHeaderMalformed", NULL, msg);
	if (k->resp.body.len > 8 && strcmp(k->resp.body.data + k->resp.body.len - 8,
	    "</Error>") == 0) {
		bb_buf_setlen(&k->resp.body, k->resp.body.len - 8);
		bb_buf_addf(&k->resp.body, "<Region>%s</Region></Error>", want);
	}
	bb_http_headers_set(&k->resp.headers, "x-amz-bucket-region", want);
}

static void
auth_error(struct emu_conn *k)
{
	const struct bb_sigv4_verify_result *v = &k->v;
	const char *type, *msg = v->message[0] ? v->message : "Access Denied";

	if (!k->is_bedrock) {
		server_error(k, bb_sigv4_status_http(v->status),
		    bb_sigv4_status_code(v->status, v->presigned), NULL, msg);
		return;
	}
	switch (v->status) {
	case BB_SIGV4_MISSING_AUTH:
		type = "MissingAuthenticationTokenException";
		msg = "Missing Authentication Token";
		break;
	case BB_SIGV4_MALFORMED:
		server_error(k, 400, NULL, "IncompleteSignatureException", msg);
		return;
	case BB_SIGV4_INVALID_ACCESS_KEY:
	case BB_SIGV4_INVALID_TOKEN:
		type = "UnrecognizedClientException";
		msg = "The security token included in the request is invalid.";
		break;
	case BB_SIGV4_TIME_SKEWED:
	case BB_SIGV4_EXPIRED:
		type = "InvalidSignatureException";
		msg = "Signature expired: the request time is too far from the server time (15 min).";
		break;
	default:
		type = "InvalidSignatureException";
		msg = "The request signature we calculated does not match the signature you "
		    "provided. Check your AWS Secret Access Key and signing method.";
		break;
	}
	server_error(k, 403, NULL, type, msg);
}

/* ---- request start ---- */

static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct emu_conn *k = cls;

	bb_http_headers_add(&k->req.headers, key, value ? value : "");
	return MHD_YES;
}

static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct bb_buf *q = cls;

	if (q->len)
		bb_buf_addc(q, '&');
	bb_buf_adds(q, key);
	if (value) {
		bb_buf_addc(q, '=');
		bb_buf_adds(q, value);
	}
	return MHD_YES;
}

static size_t
identity_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static int
is_bedrock_path(const char *path)
{
	return strncmp(path, "/model-invocation-job", 21) == 0;
}

/* The service named in the credential scope ".../REGION/SERVICE/aws4_request". */
static void
scope_service(const char *cred, char *out, size_t size)
{
	const char *end = strstr(cred, "/aws4_request");
	const char *p;

	out[0] = '\0';
	if (end == NULL)
		return;
	for (p = end; p > cred && p[-1] != '/'; p--)
		;
	if ((size_t)(end - p) < size) {
		memcpy(out, p, (size_t)(end - p));
		out[end - p] = '\0';
	}
}

static void
pick_service(struct emu_conn *k)
{
	const char *auth = bb_http_headers_get(&k->req.headers, "Authorization");
	struct bb_buf cred = BB_BUF_INIT;
	char svc[32] = "";

	if (strncmp(k->path, "/_emu/", 6) == 0) {
		k->is_control = 1;
		k->req.service = "control";
		return;
	}
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
		k->bearer = 1;
	else if (auth && strstr(auth, "Credential="))
		scope_service(strstr(auth, "Credential="), svc, sizeof(svc));
	else if (emu_query_param(k->query, "X-Amz-Credential", &cred) == 1)
		scope_service(bb_buf_str(&cred), svc, sizeof(svc));
	bb_buf_release(&cred);
	if (k->bearer)
		k->is_bedrock = is_bedrock_path(k->path);
	else if (svc[0])
		k->is_bedrock = strcmp(svc, "s3") != 0;
	else
		k->is_bedrock = is_bedrock_path(k->path);
	k->req.service = k->is_bedrock ? "bedrock" : "s3";
}

static int
check_bearer(struct emu_conn *k)
{
	struct emu_server *s = k->e->server;
	const char *auth = bb_http_headers_get(&k->req.headers, "Authorization") + 7;
	size_t i, n;

	while (*auth == ' ')
		auth++;
	n = strlen(auth);
	for (i = 0; i < s->nbearer; i++)
		if (strlen(s->bearer[i]) == n && CRYPTO_memcmp(s->bearer[i], auth, n) == 0)
			return 0;
	return -1;
}

static int
verify_sigv4(struct emu_conn *k, const char *payload_hash)
{
	struct bb_sigv4_verify_req q;
	struct bb_error err = BB_ERROR_INIT;
	int st;

	memset(&q, 0, sizeof(q));
	q.method = k->req.method;
	q.path = k->path;
	q.query = k->query;
	q.headers = &k->req.headers;
	q.payload_hash = payload_hash;
	q.now = time(NULL);
	q.lookup = key_lookup;
	q.lookup_ctx = k->e->server;
	st = bb_sigv4_verify(&q, &k->v, &err);
	if (st < 0) {
		server_error(k, 500, "InternalError", "InternalServerException", err.msg);
		return -1;
	}
	if (st != BB_SIGV4_OK) {
		auth_error(k);
		return -1;
	}
	k->verified = 1;
	k->req.access_key = k->v.access_key;
	snprintf(k->payload_hash, sizeof(k->payload_hash), "%s", k->v.payload_hash);
	return 0;
}

static int
header_uint(const struct emu_conn *k, const char *name, int64_t *out)
{
	const char *v = bb_http_headers_get(&k->req.headers, name);
	char *end;
	unsigned long long n;

	*out = -1;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n > INT64_MAX)
		return -1;
	*out = (int64_t)n;
	return 1;
}

/* Decide where the body goes and what is computed over it. */
static int
setup_body(struct emu_conn *k)
{
	const struct bb_http_headers *h = &k->req.headers;
	const char *cenc = bb_http_headers_get(h, "Content-Encoding");
	const char *te = bb_http_headers_get(h, "Transfer-Encoding");
	const char *md5 = bb_http_headers_get(h, "Content-MD5");
	const char *trailer = bb_http_headers_get(h, "x-amz-trailer");
	const char *sdkalg = bb_http_headers_get(h, "x-amz-sdk-checksum-algorithm");
	struct bb_buf bucket = BB_BUF_INIT, key = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	int64_t clen, dlen;
	size_t i;
	int rc = -1;

	if (header_uint(k, "Content-Length", &clen) < 0 ||
	    header_uint(k, "x-amz-decoded-content-length", &dlen) < 0) {
		server_error(k, 400, "InvalidArgument", "ValidationException", "bad Content-Length");
		goto out;
	}
	k->expect_len = clen;
	if (!k->is_bedrock && !k->is_control && strcmp(k->req.method, "PUT") == 0 &&
	    clen < 0 && te == NULL) {
		server_error(k, 411, "MissingContentLength", NULL,
		    "You must provide the Content-Length HTTP header.");
		goto out;
	}
	/* An object body goes to a file; the rest stays in memory. */
	if (!k->is_bedrock && !k->is_control && strcmp(k->req.method, "PUT") == 0 &&
	    emu_s3_parse_target(&k->req, &bucket, &key) == 0 && key.len > 0 &&
	    bb_http_headers_get(h, "x-amz-copy-source") == NULL)
		k->spool = 1;
	k->limit = k->spool ? FILE_BODY_MAX : MEM_BODY_MAX;
	/* aws-chunked: the token may come with other encodings ("aws-chunked,gzip"). */
	if ((cenc && strstr(cenc, "aws-chunked")) || strncmp(k->payload_hash, "STREAMING-", 10) == 0) {
		enum bb_awschunked_mode mode = bb_awschunked_mode_parse(k->payload_hash);

		if (mode == 0) {
			server_error(k, 400, "InvalidRequest", NULL,
			    "aws-chunked bodies need a STREAMING-* x-amz-content-sha256.");
			goto out;
		}
		if (dlen < 0) {
			server_error(k, 411, "MissingContentLength", NULL,
			    "aws-chunked uploads need x-amz-decoded-content-length.");
			goto out;
		}
		if (bb_awschunked_dec_init(&k->dec, mode, k->v.stream.valid ? &k->v.stream : NULL,
		    trailer, (uint64_t)dlen, &err) < 0) {
			server_error(k, 400, "InvalidRequest", NULL, err.msg);
			goto out;
		}
		k->chunked = 1;
		k->expect_len = dlen;
	}
	if (k->expect_len >= 0 && (uint64_t)k->expect_len > k->limit) {
		too_large(k);
		goto out;
	}
	/* Hashes: MD5 for the ETag of objects and for Content-MD5; SHA-256
	 * when the signed payload hash must be checked (S3) or computed
	 * (Bedrock signs the body's hash without sending it). */
	k->want_md5 = k->spool || md5 != NULL;
	k->want_sha = k->is_bedrock ||
	    (k->verified && strlen(k->payload_hash) == 64);
	if (md5) {
		size_t n = 0;
		unsigned char raw[24];

		if (strlen(md5) != 24 || bb_base64_decode(md5, 24, raw, &n) < 0 || n != 16) {
			server_error(k, 400, "InvalidDigest", NULL,
			    "The Content-MD5 you specified was invalid.");
			goto out;
		}
		memcpy(k->content_md5, raw, 16);
		k->have_content_md5 = 1;
	}
	/* Checksums: a header value to compare, a trailer to come, or just
	 * an algorithm the SDK asked for. */
	for (i = 0; i < h->n; i++)
		if (strncasecmp(h->v[i].name, "x-amz-checksum-", 15) == 0 &&
		    strcasecmp(h->v[i].name, "x-amz-checksum-mode") != 0 &&
		    strcasecmp(h->v[i].name, "x-amz-checksum-algorithm") != 0 &&
		    strcasecmp(h->v[i].name, "x-amz-checksum-type") != 0) {
			k->ck_alg = bb_checksum_alg_parse(h->v[i].name);
			if (k->ck_alg == BB_CKSUM_NONE) {
				server_error(k, 400, "InvalidRequest", NULL,
				    "Unsupported checksum algorithm.");
				goto out;
			}
			snprintf(k->ck_expect, sizeof(k->ck_expect), "%s", h->v[i].value);
			k->ck_sent = 1;
			break;
		}
	if (k->ck_alg == BB_CKSUM_NONE && trailer) {
		k->ck_alg = bb_checksum_alg_parse(trailer);
		if (k->ck_alg == BB_CKSUM_NONE || !k->chunked) {
			server_error(k, 400, "InvalidRequest", NULL,
			    "The value specified in the x-amz-trailer header is not supported");
			goto out;
		}
		k->ck_sent = 1;
		if (k->dec.alg == k->ck_alg)
			k->ck_src = CK_FROM_TRAILER;
	}
	if (k->ck_alg == BB_CKSUM_NONE && sdkalg)
		k->ck_alg = bb_checksum_alg_parse(sdkalg);
	/* A signed hex payload hash is a SHA-256 of the whole decoded body:
	 * the sha256 checksum is the same digest (in base64). */
	if (k->ck_alg == BB_CKSUM_SHA256 && k->ck_src == CK_OWN && k->want_sha &&
	    !k->is_bedrock && !k->chunked)
		k->ck_src = CK_FROM_SHA;
	if ((k->want_md5 && bb_md5_init(&k->md5) < 0) ||
	    (k->want_sha && bb_sha256_init(&k->sha) < 0) ||
	    (k->ck_alg != BB_CKSUM_NONE && k->ck_src == CK_OWN &&
	    bb_checksum_init(&k->ck, k->ck_alg) < 0)) {
		server_error(k, 500, "InternalError", "InternalServerException", "out of memory");
		goto out;
	}
	if (k->spool) {
		if (emu_store_tmpfile(k->e->store, &k->tmp_path, &k->fd, &err) < 0 ||
		    (k->wbuf = malloc(WBUF_SIZE)) == NULL) {
			server_error(k, 500, "InternalError", NULL, err.msg);
			goto out;
		}
	}
	rc = 0;
out:
	bb_buf_release(&bucket);
	bb_buf_release(&key);
	return rc;
}

static void
begin(struct emu_conn *k, struct MHD_Connection *c, const char *url, const char *method)
{
	struct emu *e = k->e;
	struct emu_server *s = e->server;
	const char *auth;
	unsigned char rnd[16];
	uint64_t n;

	k->req.method = method;
	k->req.method_head = strcmp(method, "HEAD") == 0;
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, k);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &k->querybuf);
	k->path = strdup(url);
	k->query = strdup(bb_buf_str(&k->querybuf));
	k->req.path = k->path ? k->path : "/";
	k->req.query = k->query ? k->query : "";
	pthread_mutex_lock(&s->log_lock);
	n = ++s->nreq;
	pthread_mutex_unlock(&s->log_lock);
	RAND_bytes(rnd, sizeof(rnd));
	rnd[6] = (rnd[6] & 0x0f) | 0x40;
	rnd[8] = (rnd[8] & 0x3f) | 0x80;
	snprintf(k->uuid, sizeof(k->uuid),
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9],
	    rnd[10], rnd[11], rnd[12], rnd[13], rnd[14], rnd[15]);
	snprintf(k->reqid, sizeof(k->reqid), "%08" PRIX64 "%02X%02X%02X%02X", (uint64_t)(n & 0xffffffffULL),
	    rnd[0], rnd[1], rnd[2], rnd[3]);
	if (k->path == NULL || k->query == NULL) {
		server_error(k, 500, "InternalError", "InternalServerException", "out of memory");
		return;
	}
	pick_service(k);
	k->req.request_id = k->is_bedrock ? k->uuid : k->reqid;
	if (k->is_control) {
		setup_body(k);
		return;
	}
	/* Faults come before authentication, as a front end's would. */
	k->fault = emu_fault_next(e, k->req.method, k->req.path, k->req.query,
	    &k->slow_ms);
	if (k->fault == EMU_FAULT_THROTTLE) {
		if (k->is_bedrock)
			server_error(k, 429, NULL, "ThrottlingException", "Too many requests, please wait before trying again.");
		else
			server_error(k, 503, "SlowDown", NULL, "Please reduce your request rate.");
		return;
	}
	if (k->fault == EMU_FAULT_ERROR) {
		server_error(k, 500, "InternalError", "InternalServerException",
		    "We encountered an internal error. Please try again.");
		return;
	}
	auth = bb_http_headers_get(&k->req.headers, "Authorization");
	if (k->bearer) {
		if (!k->is_bedrock) {
			server_error(k, 400, "InvalidArgument", NULL, "Unsupported Authorization Type");
			return;
		}
		if (check_bearer(k) < 0) {
			server_error(k, 403, NULL, "UnrecognizedClientException",
			    "The security token included in the request is invalid.");
			return;
		}
		k->req.access_key = "";
	} else if (!k->is_bedrock) {
		/* S3 signs the payload hash (a header): verify now, before the body. */
		if (verify_sigv4(k, NULL) < 0)
			return;
		if (strcmp(k->v.region, k->e->region) != 0) {
			region_error(k);
			return;
		}
	} else if (auth == NULL && emu_query_param(k->query, "X-Amz-Signature", &k->tmp_path) != 1) {
		server_error(k, 403, NULL, "MissingAuthenticationTokenException",
		    "Missing Authentication Token");
		return;
	}
	bb_buf_reset(&k->tmp_path);
	if (setup_body(k) < 0)
		return;
	if (k->fault == EMU_FAULT_DROP) {
		k->drop_at = k->expect_len > 0 ? (uint64_t)k->expect_len / 2 : 0;
	}
	(void)auth;
}

/* ---- the body ---- */

static int
write_all(struct emu_conn *k, const char *p, size_t n)
{
	if (emu_write_all(k->fd, p, n) < 0) {
		server_error(k, 500, "InternalError", NULL, "cannot write the body to disk");
		return -1;
	}
	return 0;
}

static int
flush_wbuf(struct emu_conn *k)
{
	int rc = write_all(k, k->wbuf, k->wlen);

	k->wlen = 0;
	return rc;
}

/* Decoded body bytes. */
static int
sink(const void *vp, size_t n, void *ctx)
{
	struct emu_conn *k = ctx;
	const char *p = vp;

	if (k->decided)
		return 0;
	if (k->body_size + n > k->limit) {
		too_large(k);
		return -1;
	}
	k->body_size += n;
	if (k->want_md5)
		bb_md5_update(&k->md5, p, n);
	if (k->want_sha && !k->chunked)
		bb_sha256_update(&k->sha, p, n);
	if (k->ck_alg != BB_CKSUM_NONE && k->ck_src == CK_OWN)
		bb_checksum_update(&k->ck, p, n);
	if (!k->spool)
		return bb_buf_add(&k->mem, p, n) == 0 ? 0 : -1;
	if (k->wlen + n > WBUF_SIZE && flush_wbuf(k) < 0)
		return -1;
	if (n >= WBUF_SIZE)
		return write_all(k, p, n);   /* big pieces go straight to the file */
	memcpy(k->wbuf + k->wlen, p, n);
	k->wlen += n;
	return 0;
}

static void
chunked_error(struct emu_conn *k, const struct bb_error *err)
{
	enum bb_awschunked_status st = k->dec.status;

	if (k->decided)   /* the sink's own error */
		return;
	server_error(k, st == BB_AWSCHUNKED_BAD_SIGNATURE ? 403 : 400,
	    bb_awschunked_status_code(st), NULL, err->msg);
}

static void
feed(struct emu_conn *k, const char *p, size_t n)
{
	struct bb_error err = BB_ERROR_INIT;

	k->raw_bytes += n;
	if (k->decided)
		return;
	if (k->chunked) {
		if (bb_awschunked_dec_feed(&k->dec, p, n, sink, k, &err) < 0)
			chunked_error(k, &err);
	} else
		sink(p, n, k);
}

static int
checksum_name(enum bb_checksum_alg alg, char *out, size_t size)
{
	const char *h = bb_checksum_header(alg);   /* x-amz-checksum-crc32 */
	size_t i;

	if (strlen(h) < 15 || strlen(h) - 15 >= size)
		return -1;
	for (i = 0; h[15 + i]; i++)
		out[i] = (char)(h[15 + i] >= 'a' && h[15 + i] <= 'z' ? h[15 + i] - 32 : h[15 + i]);
	out[i] = '\0';
	return 0;
}

/* The value of the checksum trailer, which the decoder has checked. */
static int
trailer_checksum(const struct emu_conn *k, char out[BB_CHECKSUM_B64])
{
	const char *name = bb_checksum_header(k->ck_alg);
	size_t i;

	for (i = 0; i < k->dec.ntrailers; i++)
		if (strcasecmp(k->dec.trailers[i].name, name) == 0 &&
		    strlen(k->dec.trailers[i].value) < BB_CHECKSUM_B64) {
			snprintf(out, BB_CHECKSUM_B64, "%s", k->dec.trailers[i].value);
			return 0;
		}
	return -1;
}

/* The whole body is in: close it, check every digest, fill k->req. */
static void
finish_body(struct emu_conn *k)
{
	struct bb_error err = BB_ERROR_INIT;
	unsigned char md[32];
	char hex[BB_SHA256_HEX], b64[BB_CHECKSUM_B64];
	if (k->decided)
		return;
	/* (the decoder checks a trailer checksum itself) */
	if (k->chunked && bb_awschunked_dec_finish(&k->dec, &err) < 0) {
		chunked_error(k, &err);
		return;
	}
	if (k->spool && flush_wbuf(k) < 0)
		return;
	if (k->expect_len >= 0 && k->body_size != (uint64_t)k->expect_len) {
		server_error(k, 400, "IncompleteBody", "ValidationException",
		    "The request body ended before the declared length.");
		return;
	}
	if (k->want_md5) {
		bb_md5_final(&k->md5, k->req.body_md5);
		k->req.have_md5 = 1;
		if (k->have_content_md5 && memcmp(k->content_md5, k->req.body_md5, 16) != 0) {
			server_error(k, 400, "BadDigest", NULL,
			    "The Content-MD5 you specified did not match what we received.");
			return;
		}
	}
	if (k->want_sha) {
		bb_sha256_final(&k->sha, md);
		bb_hex_encode(md, 32, hex);
		if (!k->is_bedrock && !k->chunked && strcmp(hex, k->payload_hash) != 0) {
			server_error(k, 400, "XAmzContentSHA256Mismatch", NULL,
			    "The provided 'x-amz-content-sha256' header does not match what was computed.");
			return;
		}
		if (k->is_bedrock && !k->bearer && verify_sigv4(k, hex) < 0)
			return;
	}
	if (k->ck_alg != BB_CKSUM_NONE) {
		const char *want = k->ck_expect[0] ? k->ck_expect : NULL;
		char name[16];

		if (k->ck_src == CK_FROM_SHA)
			bb_base64_encode(md, sizeof(md), b64);
		else if (k->ck_src == CK_FROM_TRAILER) {
			if (trailer_checksum(k, b64) < 0) {
				server_error(k, 500, "InternalError", NULL,
				    "the trailer checksum was lost");
				return;
			}
		} else
			bb_checksum_final_base64(&k->ck, b64);
		checksum_name(k->ck_alg, name, sizeof(name));
		if (want && strcmp(want, b64) != 0) {
			char msg[128];

			snprintf(msg, sizeof(msg),
			    "The %s you specified did not match the calculated checksum.", name);
			server_error(k, 400, "BadDigest", NULL, msg);
			return;
		}
		snprintf(k->req.checksum_alg, sizeof(k->req.checksum_alg), "%s", name);
		snprintf(k->req.checksum, sizeof(k->req.checksum), "%s", b64);
	}
	k->req.body_size = k->body_size;
	if (k->spool) {
		k->req.body_file = k->tmp_path.data;
		close(k->fd);
		k->fd = -1;
	} else {
		bb_buf_addc(&k->mem, '\0');
		bb_buf_setlen(&k->mem, k->mem.len - 1);
		k->req.body = bb_buf_str(&k->mem);
		k->req.body_len = k->mem.len;
	}
}

/* ---- the response ---- */

static void
free_cb(void *p)
{
	free(p);
}

static enum MHD_Result
send_response(struct emu_conn *k, struct MHD_Connection *c)
{
	struct emu_response *r = &k->resp;
	struct MHD_Response *mr;
	enum MHD_Result ret;
	size_t i, len = 0;
	char *data;

	if (k->slow_ms > 0) {
		struct timespec ts = { (time_t)(k->slow_ms / 1000),
		    (long)((k->slow_ms - (double)(long)(k->slow_ms / 1000) * 1000) * 1e6) };

		nanosleep(&ts, NULL);
	}
	if (r->status == 0)
		r->status = 500;
	if (r->body_fd >= 0) {
		mr = MHD_create_response_from_fd_at_offset64(r->body_len, r->body_fd,
		    (uint64_t)r->body_off);
		if (mr)
			r->body_fd = -1;   /* MHD closes it */
	} else if (r->body_read) {
		/* r lives until the request completes, after MHD is done with
		 * the response; body_drop() frees body_cls then. */
		mr = MHD_create_response_from_callback(r->body_len, 256 * 1024, body_read_cb, r,
		    NULL);
	} else {
		data = bb_buf_detach(&r->body, &len);
		if (k->req.method_head) {
			free(data);
			data = NULL;
			len = 0;
		}
		mr = MHD_create_response_from_buffer_with_free_callback(len, data, free_cb);
		if (mr == NULL)
			free(data);
	}
	if (mr == NULL)
		return MHD_NO;
	for (i = 0; i < r->headers.n; i++)
		MHD_add_response_header(mr, r->headers.v[i].name, r->headers.v[i].value);
	if (k->is_bedrock)
		MHD_add_response_header(mr, "x-amzn-RequestId", k->uuid);
	else if (!k->is_control) {
		MHD_add_response_header(mr, "x-amz-request-id", k->reqid);
		MHD_add_response_header(mr, "x-amz-id-2", k->uuid);
	}
	MHD_add_response_header(mr, "Server", k->is_bedrock ? "bb-emu" : "AmazonS3");
	k->status = r->status;
	ret = MHD_queue_response(c, (unsigned)r->status, mr);
	MHD_destroy_response(mr);
	k->state = CONN_SENT;
	return ret;
}

static void
dispatch(struct emu_conn *k)
{
	if (k->decided)
		return;
	if (k->is_control)
		emu_control_handle(k->e, &k->req, &k->resp);
	else if (k->is_bedrock)
		emu_bedrock_handle(k->e, &k->req, &k->resp);
	else
		emu_s3_handle(k->e, &k->req, &k->resp);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct emu *e = cls;
	struct emu_conn *k = *con_cls;

	if (k == NULL) {
		if ((k = calloc(1, sizeof(*k))) == NULL)
			return MHD_NO;
		k->e = e;
		k->fd = -1;
		k->resp.body_fd = -1;
		k->expect_len = -1;
		k->t0 = bb_now();
		bb_sigv4_verify_result_init(&k->v);
		*con_cls = k;
		begin(k, c, url, method);
		k->state = CONN_BODY;
		/* An early error: answer now if the client waits for 100-continue
		 * or the body is too big to be worth reading. */
		if (k->decided) {
			const char *expect = bb_http_headers_get(&k->req.headers, "Expect");

			if ((expect && strcasecmp(expect, "100-continue") == 0) ||
			    (k->expect_len > (int64_t)DRAIN_MAX)) {
				k->queued_early = 1;
				return send_response(k, c);
			}
		}
		return MHD_YES;
	}
	if (k->state == CONN_SENT) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (k->fault == EMU_FAULT_DROP && k->raw_bytes + n > k->drop_at)
			return MHD_NO;   /* the connection is closed mid-body */
		if (k->decided && k->raw_bytes + n > DRAIN_MAX)
			return MHD_NO;
		feed(k, upload_data, n);
		return MHD_YES;
	}
	if (k->fault == EMU_FAULT_DROP)
		return MHD_NO;
	finish_body(k);
	dispatch(k);
	if (k->fault == EMU_FAULT_LOST) {
		/* done, as the log says, but the client never hears of it */
		k->status = k->resp.status ? k->resp.status : 500;
		return MHD_NO;
	}
	return send_response(k, c);
}

/*
 * How an S3 request's body was protected, for the log: its
 * x-amz-content-sha256 (as verified, else as sent) by kind, never the
 * value itself.
 */
static const char *
payload_kind(const struct emu_conn *k)
{
	const char *h = k->payload_hash[0] ? k->payload_hash :
	    bb_http_headers_get(&k->req.headers, "x-amz-content-sha256");
	size_t i;

	if (h == NULL || *h == '\0')
		return "none";
	if (strcmp(h, "UNSIGNED-PAYLOAD") == 0)
		return "unsigned";
	if (strcmp(h, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") == 0 ||
	    strcmp(h, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER") == 0)
		return "streaming-signed";
	if (strcmp(h, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") == 0)
		return "streaming-unsigned";
	for (i = 0; i < 64; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f') ||
		    (h[i] >= 'A' && h[i] <= 'F')))
			return "other";
	return h[64] == '\0' ? "signed" : "other";
}

static void
log_request(struct emu_conn *k)
{
	struct emu_server *s = k->e->server;
	struct bb_buf line = BB_BUF_INIT;
	const char *p = k->req.path ? k->req.path : "?";
	char alg[16];
	size_t i;

	bb_buf_addf(&line, "bb-emu: %s %s ", k->req.service ? k->req.service : "-",
	    k->req.method ? k->req.method : "?");
	for (i = 0; p[i] && i < 300; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch < 0x20 || ch >= 0x7f)
			bb_buf_addf(&line, "\\x%02x", ch);
		else
			bb_buf_addc(&line, (char)ch);
	}
	if (k->fault == EMU_FAULT_DROP && k->status == 0)
		bb_buf_adds(&line, " dropped");
	else if (k->fault == EMU_FAULT_LOST && k->state != CONN_SENT)
		bb_buf_addf(&line, " %d lost", k->status);
	else
		bb_buf_addf(&line, " %d", k->status);
	bb_buf_addf(&line, " in=%" PRIu64 " %.1fms", k->raw_bytes, (bb_now() - k->t0) * 1000);
	if (!k->is_bedrock && !k->is_control && (k->raw_bytes > 0 || k->expect_len > 0)) {
		bb_buf_addf(&line, " payload=%s", payload_kind(k));
		if (k->ck_sent && checksum_name(k->ck_alg, alg, sizeof(alg)) == 0) {
			for (i = 0; alg[i]; i++)
				if (alg[i] >= 'A' && alg[i] <= 'Z')
					alg[i] = (char)(alg[i] + 32);
			bb_buf_addf(&line, " checksum=%s", alg);
		}
	}
	bb_buf_addc(&line, '\n');
	pthread_mutex_lock(&s->log_lock);
	fputs(bb_buf_str(&line), stderr);
	fflush(stderr);
	pthread_mutex_unlock(&s->log_lock);
	bb_buf_release(&line);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct emu *e = cls;
	struct emu_conn *k = *con_cls;

	if (k == NULL)
		return;
	*con_cls = NULL;
	if (e->verbose)
		log_request(k);
	if (k->fd >= 0)
		close(k->fd);
	if (k->tmp_path.len)
		unlink(k->tmp_path.data);   /* a handler that kept it renamed it */
	body_drop(&k->resp);
	bb_md5_release(&k->md5);
	bb_sha256_release(&k->sha);
	bb_checksum_release(&k->ck);
	if (k->chunked)
		bb_awschunked_dec_release(&k->dec);
	bb_sigv4_verify_result_release(&k->v);
	bb_http_headers_release(&k->req.headers);
	bb_http_headers_release(&k->resp.headers);
	bb_buf_release(&k->resp.body);
	bb_buf_release(&k->tmp_path);
	bb_buf_release(&k->mem);
	bb_buf_release(&k->querybuf);
	free(k->wbuf);
	free(k->path);
	free(k->query);
	free(k);
}

int
emu_server_start(struct emu *e, const char *addr, unsigned port, unsigned *bound,
    struct bb_error *err)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	const union MHD_DaemonInfo *info;
	struct emu_server *s = e->server;
	struct MHD_OptionItem tls[3];
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		flags |= MHD_USE_IPv6;
	} else
		return bb_error_set(err, BB_ERR_USAGE, "'%s' is not an IP address", addr);
	/* TLS: the same options, after the certificate and key (an empty
	 * MHD_OPTION_ARRAY entry list when serving plain http). */
	memset(tls, 0, sizeof(tls));
	tls[0].option = MHD_OPTION_END;
	if (s->tls_cert) {
		flags |= MHD_USE_TLS;
		tls[0].option = MHD_OPTION_HTTPS_MEM_CERT;
		tls[0].ptr_value = s->tls_cert;
		tls[1].option = MHD_OPTION_HTTPS_MEM_KEY;
		tls[1].ptr_value = s->tls_key;
		tls[2].option = MHD_OPTION_END;
	}
	s->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, e,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, e,
	    MHD_OPTION_UNESCAPE_CALLBACK, identity_unescape, NULL,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(1u << 20),
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)256,
	    MHD_OPTION_ARRAY, tls,
	    MHD_OPTION_END);
	drop_tls_key(s);
	if (s->daemon == NULL)
		return bb_error_set(err, BB_ERR_SYSTEM, "cannot listen on %s port %u%s", addr, port,
		    s->tls_cert ? " with TLS (the certificate or key was refused by GnuTLS?)" : "");
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	*bound = info ? info->port : port;
	return 0;
}

void
emu_server_stop(struct emu *e)
{
	struct emu_server *s = e->server;
	size_t i;

	if (s == NULL)
		return;
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	for (i = 0; i < s->nkeys; i++) {
		OPENSSL_cleanse(s->keys[i].secret, strlen(s->keys[i].secret));
		if (s->keys[i].token)
			OPENSSL_cleanse(s->keys[i].token, strlen(s->keys[i].token));
		free(s->keys[i].access_key);
		free(s->keys[i].secret);
		free(s->keys[i].token);
	}
	for (i = 0; i < s->nbearer; i++) {
		OPENSSL_cleanse(s->bearer[i], strlen(s->bearer[i]));
		free(s->bearer[i]);
	}
	free(s->keys);
	free(s->bearer);
	drop_tls_key(s);
	free(s->tls_cert);
	pthread_mutex_destroy(&s->log_lock);
	free(s);
	e->server = NULL;
}
