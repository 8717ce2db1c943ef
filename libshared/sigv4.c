/* sigv4.c - AWS Signature Version 4 signing and verification; see sigv4.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "sigv4.h"

/* ---- small string lists ---- */

struct kv {
	char *k;
	char *v;
	size_t idx;                     /* insertion order, for stable sorts */
};

struct kvlist {
	struct kv *v;
	size_t n, cap;
};

static void
kv_release(struct kvlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].k);
		free(l->v[i].v);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static char *
memdup0(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* Append a pair (both copied). */
static int
kv_add(struct kvlist *l, const char *k, size_t kn, const char *v, size_t vn)
{
	struct kv *nv;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 16;
		if (cap > SIZE_MAX / sizeof(*nv))
			return -1;
		nv = realloc(l->v, cap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n].k = memdup0(k, kn);
	l->v[l->n].v = memdup0(v, vn);
	if (l->v[l->n].k == NULL || l->v[l->n].v == NULL) {
		free(l->v[l->n].k);
		free(l->v[l->n].v);
		return -1;
	}
	l->v[l->n].idx = l->n;
	l->n++;
	return 0;
}

static int
kv_cmp_kv(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	if (c == 0)
		c = strcmp(x->v, y->v);
	return c;
}

static int
kv_cmp_k_stable(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	if (c == 0)
		c = x->idx < y->idx ? -1 : x->idx > y->idx;
	return c;
}

/* ---- encoding ---- */

static int
unreserved(unsigned char c)
{
	return isalnum(c) ? (c < 0x80) : (c == '-' || c == '_' || c == '.' || c == '~');
}

static int
ishex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
hexv(unsigned char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

int
bb_sigv4_uri_encode(struct bb_buf *out, const char *s, size_t n, int keep_slash)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t i;
	unsigned char c;

	if (bb_buf_grow(out, n))
		return -1;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			if (bb_buf_addc(out, (char)c))
				return -1;
		} else {
			char e[3] = { '%', hx[c >> 4], hx[c & 15] };
			if (bb_buf_add(out, e, 3))
				return -1;
		}
	}
	return 0;
}

/* S3 "encode once": keep valid %XX escapes, encode what is not allowed. */
static int
uri_encode_once(struct bb_buf *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    ishex((unsigned char)s[i + 1]) && ishex((unsigned char)s[i + 2])) {
			if (bb_buf_add(out, s + i, 3))
				return -1;
			i += 2;
		} else if (bb_sigv4_uri_encode(out, s + i, 1, 1)) {
			return -1;
		}
	}
	return 0;
}

/* Percent-decode s[0..n) ('+' kept; a stray '%' kept as is). */
static int
uri_decode(struct bb_buf *out, const char *s, size_t n)
{
	size_t i;

	bb_buf_reset(out);
	if (bb_buf_grow(out, n))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    ishex((unsigned char)s[i + 1]) && ishex((unsigned char)s[i + 2])) {
			bb_buf_addc(out, (char)(hexv((unsigned char)s[i + 1]) << 4 |
			    hexv((unsigned char)s[i + 2])));
			i += 2;
		} else {
			bb_buf_addc(out, s[i]);
		}
	}
	return 0;
}

/* botocore's normalize_url_path: drop empty and "." segments, resolve "..",
 * keep a leading and (if the path had one) a trailing slash. */
static int
path_normalize(struct bb_buf *out, const char *p, size_t n)
{
	size_t *starts = NULL, nseg = 0, i, j, segstart;
	int rc = -1;

	bb_buf_reset(out);
	if (n == 0)
		return bb_buf_addc(out, '/');
	starts = malloc((n + 1) * sizeof(*starts));
	if (starts == NULL)
		return -1;
	/* out accumulates segments as "/seg"; starts[] remembers where each began */
	for (i = 0; i <= n; i = j + 1) {
		j = i;
		while (j < n && p[j] != '/')
			j++;
		segstart = i;
		if (j == segstart || (j - segstart == 1 && p[segstart] == '.')) {
			/* empty or "." */
		} else if (j - segstart == 2 && p[segstart] == '.' && p[segstart + 1] == '.') {
			if (nseg > 0)
				bb_buf_setlen(out, starts[--nseg]);
		} else {
			starts[nseg++] = out->len;
			if (bb_buf_addc(out, '/') || bb_buf_add(out, p + segstart, j - segstart))
				goto out;
		}
	}
	if (out->len == 0) {
		if (bb_buf_addc(out, '/'))
			goto out;
	} else if (p[n - 1] == '/') {
		if (bb_buf_addc(out, '/'))
			goto out;
	}
	if (p[0] != '/') {
		/* relative input: botocore keeps no leading slash */
		memmove(out->data, out->data + 1, out->len);
		out->len--;
		if (out->len == 0 && bb_buf_addc(out, '/'))
			goto out;
	}
	rc = 0;
out:
	free(starts);
	return rc;
}

/* Canonical URI of a wire path (without the query). */
static int
canonical_uri(struct bb_buf *out, const char *path, size_t n, int s3, unsigned flags)
{
	struct bb_buf tmp = BB_BUF_INIT;
	int once, rc = -1;

	once = s3 ? !(flags & BB_SIGV4_PATH_ENCODE_ALL) : !!(flags & BB_SIGV4_PATH_ENCODE_ONCE);
	if (n == 0) {
		path = "/";
		n = 1;
	}
	if (!s3 && (flags & BB_SIGV4_NORMALIZE_PATH)) {
		if (path_normalize(&tmp, path, n))
			goto out;
		path = tmp.data;
		n = tmp.len;
	}
	if (once ? uri_encode_once(out, path, n) : bb_sigv4_uri_encode(out, path, n, 1))
		goto out;
	rc = 0;
out:
	bb_buf_release(&tmp);
	return rc;
}

/* Parse a raw query into encoded (key, value) pairs; with skip_sig, an
 * X-Amz-Signature parameter is left out (verification of presigned URLs). */
static int
query_parse(struct kvlist *l, const char *q, size_t n, int skip_sig)
{
	struct bb_buf dk = BB_BUF_INIT, dv = BB_BUF_INIT, ek = BB_BUF_INIT, ev = BB_BUF_INIT;
	size_t i = 0, j, eq;
	int rc = -1;

	while (i < n) {
		j = i;
		while (j < n && q[j] != '&')
			j++;
		if (j > i) {
			eq = i;
			while (eq < j && q[eq] != '=')
				eq++;
			if (uri_decode(&dk, q + i, eq - i) ||
			    uri_decode(&dv, q + (eq < j ? eq + 1 : j), eq < j ? j - eq - 1 : 0))
				goto out;
			if (!(skip_sig && strcmp(bb_buf_str(&dk), "X-Amz-Signature") == 0)) {
				bb_buf_reset(&ek);
				bb_buf_reset(&ev);
				if (bb_sigv4_uri_encode(&ek, dk.data ? dk.data : "", dk.len, 0) ||
				    bb_sigv4_uri_encode(&ev, dv.data ? dv.data : "", dv.len, 0) ||
				    kv_add(l, bb_buf_str(&ek), ek.len, bb_buf_str(&ev), ev.len))
					goto out;
			}
		}
		i = j + 1;
	}
	rc = 0;
out:
	bb_buf_release(&dk);
	bb_buf_release(&dv);
	bb_buf_release(&ek);
	bb_buf_release(&ev);
	return rc;
}

static int
add_encoded_param(struct kvlist *l, const char *k, const char *v)
{
	struct bb_buf ev = BB_BUF_INIT;
	int rc;

	rc = bb_sigv4_uri_encode(&ev, v, strlen(v), 0);
	if (rc == 0)
		rc = kv_add(l, k, strlen(k), bb_buf_str(&ev), ev.len);
	bb_buf_release(&ev);
	return rc;
}

static int
query_canonical(struct bb_buf *out, struct kvlist *l)
{
	size_t i;

	if (l->n > 1)
		qsort(l->v, l->n, sizeof(l->v[0]), kv_cmp_kv);
	for (i = 0; i < l->n; i++)
		if ((i && bb_buf_addc(out, '&')) || bb_buf_adds(out, l->v[i].k) ||
		    bb_buf_addc(out, '=') || bb_buf_adds(out, l->v[i].v))
			return -1;
	return 0;
}

/* Trim and collapse whitespace runs (obs-fold included) to one space. */
static int
canon_value(struct bb_buf *out, const char *v)
{
	int pending = 0;
	size_t start = out->len;

	for (; *v; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
			pending = 1;
			continue;
		}
		if (pending && out->len > start && bb_buf_addc(out, ' '))
			return -1;
		pending = 0;
		if (bb_buf_addc(out, *v))
			return -1;
	}
	return 0;
}

static int
add_header(struct kvlist *l, const char *name, const char *value)
{
	struct bb_buf n = BB_BUF_INIT, v = BB_BUF_INIT;
	size_t i;
	int rc = -1;

	if (bb_buf_adds(&n, name) || bb_buf_adds(&v, "") || canon_value(&v, value))
		goto out;
	for (i = 0; i < n.len; i++)
		n.data[i] = (char)tolower((unsigned char)n.data[i]);
	rc = kv_add(l, n.data, n.len, v.data, v.len);
out:
	bb_buf_release(&n);
	bb_buf_release(&v);
	return rc;
}

/* Sort by name (stable), merge repeated names with ','; write the
 * canonical header block and the signed header list. */
static int
headers_canonical(struct kvlist *l, struct bb_buf *block, struct bb_buf *signed_hdrs)
{
	size_t i;

	if (l->n > 1)
		qsort(l->v, l->n, sizeof(l->v[0]), kv_cmp_k_stable);
	for (i = 0; i < l->n; i++) {
		if (i > 0 && strcmp(l->v[i].k, l->v[i - 1].k) == 0) {
			if (bb_buf_addc(block, ',') || bb_buf_adds(block, l->v[i].v))
				return -1;
			continue;
		}
		if ((i > 0 && bb_buf_addc(block, '\n')) ||
		    bb_buf_adds(block, l->v[i].k) || bb_buf_addc(block, ':') ||
		    bb_buf_adds(block, l->v[i].v))
			return -1;
		if ((signed_hdrs->len && bb_buf_addc(signed_hdrs, ';')) ||
		    bb_buf_adds(signed_hdrs, l->v[i].k))
			return -1;
	}
	if (l->n > 0 && bb_buf_addc(block, '\n'))
		return -1;
	return 0;
}

/* ---- dates and keys ---- */

static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

void
bb_sigv4_format_date(time_t t, char out[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		snprintf(out, 17, "00000000T000000Z");
}

static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
bb_sigv4_parse_date(const char *s, time_t *t)
{
	int y, mo, d, h, mi, sec;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (strlen(s) == 16 && s[8] == 'T' && s[15] == 'Z') {
		if (digits(s, 4, &y) || digits(s + 4, 2, &mo) || digits(s + 6, 2, &d) ||
		    digits(s + 9, 2, &h) || digits(s + 11, 2, &mi) || digits(s + 13, 2, &sec))
			return -1;
	} else if (strlen(s) == 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' &&
	    s[13] == ':' && s[16] == ':' && s[19] == 'Z') {
		if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
		    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
			return -1;
	} else {
		return -1;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return -1;
	*t = (time_t)(days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400LL +
	    h * 3600 + mi * 60 + sec);
	return 0;
}

int
bb_sigv4_signing_key(const char *secret, const char *date8, const char *region,
    const char *service, unsigned char key[BB_SHA256_LEN])
{
	struct bb_buf k = BB_BUF_INIT;
	unsigned char a[BB_SHA256_LEN], b[BB_SHA256_LEN];
	int rc = -1;

	/* one allocation, so no copy of the secret is left behind by realloc */
	if (bb_buf_grow(&k, 4 + strlen(secret)) || bb_buf_adds(&k, "AWS4") ||
	    bb_buf_adds(&k, secret))
		goto out;
	if (bb_hmac_sha256(k.data, k.len, date8, strlen(date8), a) ||
	    bb_hmac_sha256(a, sizeof(a), region, strlen(region), b) ||
	    bb_hmac_sha256(b, sizeof(b), service, strlen(service), a) ||
	    bb_hmac_sha256(a, sizeof(a), "aws4_request", 12, key))
		goto out;
	rc = 0;
out:
	if (k.data)
		OPENSSL_cleanse(k.data, k.cap);
	bb_buf_release(&k);
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	return rc;
}

int
bb_sigv4_hmac_hex(const unsigned char key[BB_SHA256_LEN], const char *msg, size_t n,
    char out[BB_SHA256_HEX])
{
	unsigned char d[BB_SHA256_LEN];

	if (bb_hmac_sha256(key, BB_SHA256_LEN, msg, n, d))
		return -1;
	bb_hex_encode(d, sizeof(d), out);
	return 0;
}

void
bb_sigv4_stream_wipe(struct bb_sigv4_stream *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}

/* ---- shared stages ---- */

static int
string_to_sign(struct bb_buf *sts, const char *amz_date, const char *scope,
    const struct bb_buf *creq)
{
	char h[BB_SHA256_HEX];

	if (bb_sha256_hex(creq->data ? creq->data : "", creq->len, h))
		return -1;
	bb_buf_reset(sts);
	return bb_buf_addf(sts, "%s\n%s\n%s\n%s", BB_SIGV4_ALGORITHM, amz_date, scope, h);
}

static int
compute_signature(const char *secret, const char *amz_date, const char *region,
    const char *service, const struct bb_buf *sts, char sig[BB_SHA256_HEX],
    unsigned char key_out[BB_SHA256_LEN])
{
	unsigned char key[BB_SHA256_LEN];
	char date8[9];
	int rc = -1;

	memcpy(date8, amz_date, 8);
	date8[8] = '\0';
	if (bb_sigv4_signing_key(secret, date8, region, service, key))
		goto out;
	if (bb_sigv4_hmac_hex(key, sts->data, sts->len, sig))
		goto out;
	if (key_out)
		memcpy(key_out, key, sizeof(key));
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

static int
is_streaming_signed(const char *payload)
{
	return strncmp(payload, BB_SIGV4_STREAMING_PAYLOAD, strlen(BB_SIGV4_STREAMING_PAYLOAD)) == 0;
}

/* ---- signing ---- */

/* Header fields never signed (botocore's blacklist plus telemetry). */
static int
never_signed(const char *name)
{
	static const char *const skip[] = {
		"authorization", "user-agent", "expect", "transfer-encoding",
		"connection", "x-amzn-trace-id", "amz-sdk-invocation-id", "amz-sdk-request",
	};
	size_t i;

	for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (strcasecmp(name, skip[i]) == 0)
			return 1;
	return 0;
}

struct url_parts {
	const char *host;               /* authority without userinfo, or NULL */
	size_t host_len;
	int default_port;               /* host ends with the scheme's default port */
	const char *path;
	size_t path_len;
	const char *query;              /* after '?', or NULL */
	size_t query_len;
};

static int
url_split(const char *url, struct url_parts *u)
{
	const char *p = url, *a, *e, *at, *colon;
	int https = 0;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(p, "http://", 7) == 0) {
		p += 7;
	} else if (strncasecmp(p, "https://", 8) == 0) {
		p += 8;
		https = 1;
	} else if (*p != '/') {
		return -1;
	}
	if (p != url) {
		a = p;
		e = a + strcspn(a, "/?#");
		at = memchr(a, '@', (size_t)(e - a));
		if (at)
			a = at + 1;
		if (e == a)
			return -1;
		u->host = a;
		u->host_len = (size_t)(e - a);
		colon = e;
		while (colon > a && colon[-1] != ':' && colon[-1] != ']')
			colon--;
		if (colon > a && colon[-1] == ':') {
			size_t pl = (size_t)(e - colon);
			if ((https && pl == 3 && memcmp(colon, "443", 3) == 0) ||
			    (!https && pl == 2 && memcmp(colon, "80", 2) == 0)) {
				u->default_port = 1;
				u->host_len = (size_t)(colon - 1 - a);
			}
		}
		p = e;
	}
	u->path = p;
	u->path_len = strcspn(p, "?#");
	if (p[u->path_len] == '?') {
		u->query = p + u->path_len + 1;
		u->query_len = strcspn(u->query, "#");
	}
	return 0;
}

static int
result_add(struct bb_sigv4_result *r, const char *name, const char *value)
{
	if (r->nadd >= BB_SIGV4_MAX_ADD)
		return -1;
	r->add[r->nadd].name = strdup(name);
	r->add[r->nadd].value = strdup(value);
	if (r->add[r->nadd].name == NULL || r->add[r->nadd].value == NULL) {
		free(r->add[r->nadd].name);
		free(r->add[r->nadd].value);
		return -1;
	}
	r->nadd++;
	return 0;
}

void
bb_sigv4_result_init(struct bb_sigv4_result *r)
{
	memset(r, 0, sizeof(*r));
}

void
bb_sigv4_result_release(struct bb_sigv4_result *r)
{
	size_t i;

	bb_buf_release(&r->canonical_request);
	bb_buf_release(&r->string_to_sign);
	bb_buf_release(&r->signed_headers);
	bb_buf_release(&r->scope);
	bb_buf_release(&r->url);
	bb_buf_release(&r->auth_query);
	for (i = 0; i < r->nadd; i++) {
		free(r->add[i].name);
		if (r->add[i].value)
			OPENSSL_cleanse(r->add[i].value, strlen(r->add[i].value));
		free(r->add[i].value);
	}
	bb_sigv4_stream_wipe(&r->stream);
	memset(r, 0, sizeof(*r));
}

int
bb_sigv4_sign(const struct bb_sigv4_request *req, const struct bb_sigv4_params *p,
    struct bb_sigv4_result *r, struct bb_error *err)
{
	const struct bb_sigv4_creds *c = p->creds;
	struct kvlist hdrs = { NULL, 0, 0 }, params = { NULL, 0, 0 };
	struct bb_buf block = BB_BUF_INIT, tmp = BB_BUF_INIT, auth = BB_BUF_INIT;
	struct url_parts u;
	const char *payload, *token;
	unsigned char key[BB_SHA256_LEN];
	int s3 = !!(p->flags & BB_SIGV4_S3), query = !!(p->flags & BB_SIGV4_QUERY);
	int add_sha, add_token, have_host = 0;
	long expires = p->expires ? p->expires : 3600;
	size_t i;
	int rc = -1;

	bb_sigv4_result_release(r);
	if (c == NULL || c->access_key == NULL || c->secret_key == NULL ||
	    !*c->access_key || !*c->secret_key) {
		bb_error_set(err, BB_ERR_AUTH, "SigV4: no credentials to sign with");
		goto out;
	}
	if (p->region == NULL || !*p->region || p->service == NULL || !*p->service) {
		bb_error_set(err, BB_ERR_USAGE, "SigV4: region and service are required");
		goto out;
	}
	if (req->method == NULL || req->url == NULL || url_split(req->url, &u)) {
		bb_error_set(err, BB_ERR_INPUT, "SigV4: cannot sign URL '%s'",
		    req->url ? req->url : "(null)");
		goto out;
	}
	if (query && (expires < 1 || expires > BB_SIGV4_MAX_EXPIRES)) {
		bb_error_set(err, BB_ERR_INPUT, "SigV4: expiry %ld s is out of range 1..%ld",
		    expires, BB_SIGV4_MAX_EXPIRES);
		goto out;
	}
	payload = req->payload_hash;
	for (i = 0; payload == NULL && req->headers && i < req->headers->n; i++)
		if (req->headers->v[i].name && req->headers->v[i].value &&
		    strcasecmp(req->headers->v[i].name, "x-amz-content-sha256") == 0)
			payload = req->headers->v[i].value;     /* as botocore does */
	if (payload == NULL)
		payload = (s3 && query) ? BB_SIGV4_UNSIGNED_PAYLOAD : BB_SHA256_EMPTY_HEX;
	token = c->token && *c->token ? c->token : NULL;
	add_token = token && !(p->flags & BB_SIGV4_OMIT_TOKEN);
	add_sha = (p->flags & BB_SIGV4_CONTENT_SHA256) || (s3 && !query);

	bb_sigv4_format_date(p->now, r->amz_date);
	if (bb_buf_addf(&r->scope, "%.8s/%s/%s/aws4_request", r->amz_date, p->region,
	    p->service))
		goto oom;

	/* the header fields to sign */
	for (i = 0; req->headers && i < req->headers->n; i++) {
		const char *n = req->headers->v[i].name, *v = req->headers->v[i].value;
		if (n == NULL || never_signed(n) || strcasecmp(n, "x-amz-date") == 0 ||
		    (token && strcasecmp(n, "x-amz-security-token") == 0) ||
		    (add_sha && strcasecmp(n, "x-amz-content-sha256") == 0))
			continue;
		if (strcasecmp(n, "host") == 0)
			have_host = 1;
		if (add_header(&hdrs, n, v ? v : ""))
			goto oom;
	}
	if (!have_host) {
		if (u.host == NULL) {
			bb_error_set(err, BB_ERR_INPUT,
			    "SigV4: no Host header and no host in URL '%s'", req->url);
			goto out;
		}
		bb_buf_reset(&tmp);
		if (bb_buf_add(&tmp, u.host, u.host_len) || add_header(&hdrs, "host", tmp.data) ||
		    result_add(r, "Host", tmp.data))
			goto oom;
	}
	if (!query) {
		if (add_header(&hdrs, "x-amz-date", r->amz_date) ||
		    (add_sha && add_header(&hdrs, "x-amz-content-sha256", payload)) ||
		    (add_token && add_header(&hdrs, "x-amz-security-token", token)))
			goto oom;
	} else if (add_sha && (add_header(&hdrs, "x-amz-content-sha256", payload) ||
	    result_add(r, "X-Amz-Content-SHA256", payload))) {
		goto oom;
	}
	if (headers_canonical(&hdrs, &block, &r->signed_headers))
		goto oom;

	/* the query: the request's own parameters, plus the auth ones */
	if (u.query && query_parse(&params, u.query, u.query_len, 0))
		goto oom;
	if (query) {
		bb_buf_reset(&tmp);
		if (bb_buf_addf(&tmp, "%s/%s", c->access_key, r->scope.data))
			goto oom;
		if (add_encoded_param(&params, "X-Amz-Algorithm", BB_SIGV4_ALGORITHM) ||
		    add_encoded_param(&params, "X-Amz-Credential", tmp.data) ||
		    add_encoded_param(&params, "X-Amz-Date", r->amz_date) ||
		    bb_buf_addf(&auth, "X-Amz-Algorithm=%s&X-Amz-Credential=", BB_SIGV4_ALGORITHM) ||
		    bb_sigv4_uri_encode(&auth, tmp.data, tmp.len, 0) ||
		    bb_buf_addf(&auth, "&X-Amz-Date=%s&X-Amz-Expires=%ld&X-Amz-SignedHeaders=",
			r->amz_date, expires) ||
		    bb_sigv4_uri_encode(&auth, r->signed_headers.data, r->signed_headers.len, 0))
			goto oom;
		bb_buf_reset(&tmp);
		if (bb_buf_addf(&tmp, "%ld", expires) ||
		    add_encoded_param(&params, "X-Amz-Expires", tmp.data) ||
		    add_encoded_param(&params, "X-Amz-SignedHeaders", r->signed_headers.data))
			goto oom;
		if (add_token && (add_encoded_param(&params, "X-Amz-Security-Token", token) ||
		    bb_buf_adds(&auth, "&X-Amz-Security-Token=") ||
		    bb_sigv4_uri_encode(&auth, token, strlen(token), 0)))
			goto oom;
	}

	/* canonical request */
	if (bb_buf_addf(&r->canonical_request, "%s\n", req->method) ||
	    canonical_uri(&r->canonical_request, u.path, u.path_len, s3, p->flags) ||
	    bb_buf_addc(&r->canonical_request, '\n') ||
	    query_canonical(&r->canonical_request, &params) ||
	    bb_buf_addc(&r->canonical_request, '\n') ||
	    bb_buf_add(&r->canonical_request, bb_buf_str(&block), block.len) ||
	    bb_buf_addf(&r->canonical_request, "\n%s\n%s", r->signed_headers.data, payload))
		goto oom;
	if (string_to_sign(&r->string_to_sign, r->amz_date, r->scope.data, &r->canonical_request))
		goto oom;
	if (compute_signature(c->secret_key, r->amz_date, p->region, p->service,
	    &r->string_to_sign, r->signature, key)) {
		bb_error_set(err, BB_ERR_SYSTEM, "SigV4: HMAC failed");
		goto out;
	}
	if (!query && is_streaming_signed(payload)) {
		memcpy(r->stream.key, key, sizeof(key));
		memcpy(r->stream.amz_date, r->amz_date, sizeof(r->amz_date));
		snprintf(r->stream.scope, sizeof(r->stream.scope), "%s", r->scope.data);
		memcpy(r->stream.seed, r->signature, sizeof(r->signature));
		r->stream.valid = 1;
	}

	if (query) {
		if (bb_buf_addf(&auth, "&X-Amz-Signature=%s", r->signature))
			goto oom;
		if (token && !add_token && (bb_buf_adds(&auth, "&X-Amz-Security-Token=") ||
		    bb_sigv4_uri_encode(&auth, token, strlen(token), 0)))
			goto oom;
		/* URL: drop a fragment, append to an existing query */
		if (bb_buf_add(&r->url, req->url, (size_t)(u.path - req->url) + u.path_len))
			goto oom;
		if (u.query == NULL ? bb_buf_addc(&r->url, '?') :
		    (bb_buf_addc(&r->url, '?') || bb_buf_add(&r->url, u.query, u.query_len) ||
			(u.query_len > 0 && bb_buf_addc(&r->url, '&'))))
			goto oom;
		if (bb_buf_add(&r->url, auth.data, auth.len) ||
		    bb_buf_add(&r->auth_query, auth.data, auth.len))
			goto oom;
	} else {
		bb_buf_reset(&tmp);
		if (bb_buf_addf(&tmp, "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		    BB_SIGV4_ALGORITHM, c->access_key, r->scope.data, r->signed_headers.data,
		    r->signature))
			goto oom;
		if (result_add(r, "X-Amz-Date", r->amz_date) ||
		    (add_sha && result_add(r, "X-Amz-Content-SHA256", payload)) ||
		    (token && result_add(r, "X-Amz-Security-Token", token)) ||
		    result_add(r, "Authorization", tmp.data))
			goto oom;
	}
	rc = 0;
	goto out;
oom:
	bb_error_set(err, BB_ERR_SYSTEM, "SigV4: out of memory");
out:
	OPENSSL_cleanse(key, sizeof(key));
	kv_release(&hdrs);
	kv_release(&params);
	bb_buf_release(&block);
	bb_buf_release(&tmp);
	bb_buf_release(&auth);
	return rc;
}

int
bb_sigv4_apply(const struct bb_sigv4_result *r, struct bb_http_headers *h)
{
	size_t i;

	for (i = 0; i < r->nadd; i++)
		if (bb_http_headers_set(h, r->add[i].name, r->add[i].value))
			return -1;
	return 0;
}

/* ---- verification ---- */

const char *
bb_sigv4_status_code(enum bb_sigv4_status s, int presigned)
{
	switch (s) {
	case BB_SIGV4_OK:
		return "OK";
	case BB_SIGV4_MISSING_AUTH:
		return "AccessDenied";
	case BB_SIGV4_MALFORMED:
		return presigned ? "AuthorizationQueryParametersError" :
		    "AuthorizationHeaderMalformed";
	case BB_SIGV4_INVALID_ACCESS_KEY:
		return "InvalidAccessKeyId";
	case BB_SIGV4_SIGNATURE_MISMATCH:
		return "SignatureDoesNotMatch";
	case BB_SIGV4_TIME_SKEWED:
		return "RequestTimeTooSkewed";
	case BB_SIGV4_EXPIRED:
		return "AccessDenied";
	case BB_SIGV4_INVALID_TOKEN:
		return "InvalidToken";
	}
	return "AccessDenied";
}

int
bb_sigv4_status_http(enum bb_sigv4_status s)
{
	if (s == BB_SIGV4_OK)
		return 0;
	return s == BB_SIGV4_MALFORMED || s == BB_SIGV4_INVALID_TOKEN ? 400 : 403;
}

void
bb_sigv4_verify_result_init(struct bb_sigv4_verify_result *v)
{
	memset(v, 0, sizeof(*v));
}

void
bb_sigv4_verify_result_release(struct bb_sigv4_verify_result *v)
{
	bb_buf_release(&v->canonical_request);
	bb_buf_release(&v->string_to_sign);
	bb_sigv4_stream_wipe(&v->stream);
	memset(v, 0, sizeof(*v));
}

static const char *
hdr_get(const struct bb_http_headers *h, const char *name)
{
	size_t i;

	for (i = 0; h && i < h->n; i++)
		if (h->v[i].name && strcasecmp(h->v[i].name, name) == 0)
			return h->v[i].value ? h->v[i].value : "";
	return NULL;
}

/* The decoded value of query parameter `name` (exact, case-sensitive). */
static int
query_get(const char *q, const char *name, struct bb_buf *out)
{
	size_t nl = strlen(name), n, i = 0, j, eq;
	struct bb_buf dk = BB_BUF_INIT;
	int found = 0;

	if (q == NULL)
		return 0;
	n = strlen(q);
	while (i < n && !found) {
		j = i;
		while (j < n && q[j] != '&')
			j++;
		eq = i;
		while (eq < j && q[eq] != '=')
			eq++;
		if (uri_decode(&dk, q + i, eq - i) == 0 && dk.len == nl &&
		    memcmp(dk.data, name, nl) == 0) {
			found = uri_decode(out, q + (eq < j ? eq + 1 : j),
			    eq < j ? j - eq - 1 : 0) == 0 ? 1 : -1;
		}
		i = j + 1;
	}
	bb_buf_release(&dk);
	return found;
}

__attribute__((format(printf, 3, 4)))
static int
vfail(struct bb_sigv4_verify_result *v, enum bb_sigv4_status s, const char *fmt, ...)
{
	va_list ap;

	v->status = s;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof(v->message), fmt, ap);
	va_end(ap);
	return s;
}

static int
token_eq(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

int
bb_sigv4_verify(const struct bb_sigv4_verify_req *req, struct bb_sigv4_verify_result *v,
    struct bb_error *err)
{
	struct bb_buf cred = BB_BUF_INIT, shdrs = BB_BUF_INIT, sig = BB_BUF_INIT;
	struct bb_buf date = BB_BUF_INIT, exp = BB_BUF_INIT, tok = BB_BUF_INIT;
	struct bb_buf block = BB_BUF_INIT, scope = BB_BUF_INIT, val = BB_BUF_INIT;
	struct kvlist params = { NULL, 0, 0 };
	const char *auth, *s, *e, *secret = NULL, *want_token = NULL, *payload, *p;
	char got_sig[BB_SHA256_HEX], want_sig[BB_SHA256_HEX], *parts[5], *slash;
	unsigned char key[BB_SHA256_LEN];
	time_t t;
	long skew = req->max_skew > 0 ? req->max_skew : BB_SIGV4_MAX_SKEW, expires = 0;
	int s3, rc = -1, st, have_host = 0, have_sha = 0, k;
	size_t i, n;

	bb_sigv4_verify_result_release(v);
	auth = hdr_get(req->headers, "authorization");
	st = query_get(req->query, "X-Amz-Algorithm", &val);
	if (st < 0)
		goto oom;
	if (auth == NULL && st == 0) {
		rc = vfail(v, BB_SIGV4_MISSING_AUTH,
		    "Request is missing Authentication Token");
		goto out;
	}
	if (auth != NULL && st == 1) {
		rc = vfail(v, BB_SIGV4_MALFORMED,
		    "Only one auth mechanism allowed; only the X-Amz-Algorithm query "
		    "parameter or the Authorization header should be specified");
		goto out;
	}
	if (auth == NULL) {
		/* presigned URL */
		v->presigned = 1;
		if (strcmp(val.data, BB_SIGV4_ALGORITHM) != 0) {
			rc = vfail(v, BB_SIGV4_MALFORMED,
			    "X-Amz-Algorithm only supports \"%s\"", BB_SIGV4_ALGORITHM);
			goto out;
		}
		if (query_get(req->query, "X-Amz-Credential", &cred) != 1 ||
		    query_get(req->query, "X-Amz-SignedHeaders", &shdrs) != 1 ||
		    query_get(req->query, "X-Amz-Signature", &sig) != 1 ||
		    query_get(req->query, "X-Amz-Date", &date) != 1 ||
		    query_get(req->query, "X-Amz-Expires", &exp) != 1) {
			rc = vfail(v, BB_SIGV4_MALFORMED,
			    "Query-string authentication version 4 requires the X-Amz-Algorithm, "
			    "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
			    "and X-Amz-Expires parameters.");
			goto out;
		}
		k = query_get(req->query, "X-Amz-Security-Token", &tok);
		if (k < 0)
			goto oom;
		{
			char *end;
			errno = 0;
			expires = strtol(exp.data, &end, 10);
			if (errno || *end || end == exp.data || expires < 1 ||
			    expires > BB_SIGV4_MAX_EXPIRES) {
				rc = vfail(v, BB_SIGV4_MALFORMED,
				    "X-Amz-Expires must be between 1 and %ld seconds",
				    BB_SIGV4_MAX_EXPIRES);
				goto out;
			}
		}
	} else {
		/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
		s = auth;
		while (*s == ' ')
			s++;
		e = s + strcspn(s, " ");
		if ((size_t)(e - s) != strlen(BB_SIGV4_ALGORITHM) ||
		    memcmp(s, BB_SIGV4_ALGORITHM, (size_t)(e - s)) != 0) {
			rc = vfail(v, BB_SIGV4_MALFORMED,
			    "Unsupported authorization type; only %s is supported",
			    BB_SIGV4_ALGORITHM);
			goto out;
		}
		s = e;
		while (*s) {
			struct bb_buf *dst = NULL;
			while (*s == ' ' || *s == ',')
				s++;
			if (!*s)
				break;
			e = s + strcspn(s, ",");
			n = (size_t)(e - s);
			while (n > 0 && s[n - 1] == ' ')
				n--;
			if (n > 11 && memcmp(s, "Credential=", 11) == 0)
				dst = &cred, s += 11, n -= 11;
			else if (n > 14 && memcmp(s, "SignedHeaders=", 14) == 0)
				dst = &shdrs, s += 14, n -= 14;
			else if (n > 10 && memcmp(s, "Signature=", 10) == 0)
				dst = &sig, s += 10, n -= 10;
			if (dst == NULL || dst->len > 0) {
				rc = vfail(v, BB_SIGV4_MALFORMED,
				    "The authorization header is malformed; unexpected '%.*s'",
				    (int)(n > 40 ? 40 : n), s);
				goto out;
			}
			if (bb_buf_add(dst, s, n))
				goto oom;
			s = e;
		}
		if (cred.len == 0 || shdrs.len == 0 || sig.len == 0) {
			rc = vfail(v, BB_SIGV4_MALFORMED,
			    "The authorization header is malformed; it needs Credential, "
			    "SignedHeaders and Signature");
			goto out;
		}
		p = hdr_get(req->headers, "x-amz-date");
		if (p == NULL) {
			rc = vfail(v, BB_SIGV4_MALFORMED,
			    "AWS authentication requires a valid X-Amz-Date header");
			goto out;
		}
		if (bb_buf_adds(&date, p))
			goto oom;
		p = hdr_get(req->headers, "x-amz-security-token");
		k = p != NULL;
		if (p && bb_buf_adds(&tok, p))
			goto oom;
	}

	/* credential: AKID/yyyymmdd/region/service/aws4_request */
	if (cred.len >= 200) {
		rc = vfail(v, BB_SIGV4_MALFORMED, "The credential is too long");
		goto out;
	}
	memset(parts, 0, sizeof(parts));
	for (i = 4; i > 0; i--) {
		slash = strrchr(cred.data, '/');
		if (slash == NULL)
			break;
		*slash = '\0';
		parts[i] = slash + 1;
	}
	parts[0] = cred.data;
	if (i != 0 || !*parts[0] || strlen(parts[1]) != 8 || !*parts[2] || !*parts[3] ||
	    strcmp(parts[4], "aws4_request") != 0) {
		rc = vfail(v, BB_SIGV4_MALFORMED,
		    "The credential is malformed; expecting "
		    "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"");
		goto out;
	}
	snprintf(v->access_key, sizeof(v->access_key), "%s", parts[0]);
	snprintf(v->region, sizeof(v->region), "%s", parts[2]);
	snprintf(v->service, sizeof(v->service), "%s", parts[3]);
	if (bb_sigv4_parse_date(date.data, &t) || date.len != 16) {
		rc = vfail(v, BB_SIGV4_MALFORMED, "X-Amz-Date must be in the ISO8601 basic "
		    "format \"yyyyMMdd'T'HHmmss'Z'\"");
		goto out;
	}
	if (memcmp(parts[1], date.data, 8) != 0) {
		rc = vfail(v, BB_SIGV4_MALFORMED,
		    "Invalid credential date \"%s\"; this date is not the same as X-Amz-Date: "
		    "\"%.8s\"", parts[1], date.data);
		goto out;
	}
	if (req->region && strcmp(req->region, parts[2]) != 0) {
		rc = vfail(v, BB_SIGV4_MALFORMED,
		    "The authorization header is malformed; the region '%s' is wrong; "
		    "expecting '%s'", parts[2], req->region);
		goto out;
	}
	if (req->service && strcmp(req->service, parts[3]) != 0) {
		rc = vfail(v, BB_SIGV4_MALFORMED,
		    "The credential is malformed; incorrect service \"%s\"; expecting \"%s\"",
		    parts[3], req->service);
		goto out;
	}
	if (bb_buf_addf(&scope, "%s/%s/%s/aws4_request", parts[1], parts[2], parts[3]))
		goto oom;

	/* time */
	if (v->presigned) {
		if ((long long)req->now > (long long)t + expires) {
			rc = vfail(v, BB_SIGV4_EXPIRED, "Request has expired");
			goto out;
		}
		if ((long long)t - (long long)req->now > skew) {
			rc = vfail(v, BB_SIGV4_TIME_SKEWED, "Request is not valid yet");
			goto out;
		}
	} else if ((long long)req->now - (long long)t > skew ||
	    (long long)t - (long long)req->now > skew) {
		rc = vfail(v, BB_SIGV4_TIME_SKEWED,
		    "The difference between the request time and the current time is too large.");
		goto out;
	}

	/* key and token */
	if (req->lookup == NULL ||
	    req->lookup(parts[0], req->lookup_ctx, &secret, &want_token) != 0 || secret == NULL) {
		rc = vfail(v, BB_SIGV4_INVALID_ACCESS_KEY,
		    "The AWS Access Key Id you provided does not exist in our records.");
		goto out;
	}
	if (want_token ? (tok.len == 0 || !token_eq(tok.data, want_token)) : tok.len > 0) {
		rc = vfail(v, BB_SIGV4_INVALID_TOKEN,
		    "The provided token is malformed or otherwise invalid.");
		goto out;
	}

	/* signed headers */
	s3 = strcmp(parts[3], "s3") == 0;
	for (s = shdrs.data; *s; s = *e ? e + 1 : e) {
		e = s + strcspn(s, ";");
		n = (size_t)(e - s);
		if (n == 0) {
			rc = vfail(v, BB_SIGV4_MALFORMED, "SignedHeaders has an empty name");
			goto out;
		}
		if (n == 4 && memcmp(s, "host", 4) == 0)
			have_host = 1;
		if (n == 20 && memcmp(s, "x-amz-content-sha256", 20) == 0)
			have_sha = 1;
		bb_buf_reset(&val);
		if (bb_buf_add(&val, s, n))
			goto oom;
		if ((block.len && bb_buf_addc(&block, '\n')) || bb_buf_add(&block, s, n) ||
		    bb_buf_addc(&block, ':'))
			goto oom;
		k = 0;
		for (i = 0; req->headers && i < req->headers->n; i++) {
			if (req->headers->v[i].name == NULL ||
			    strcasecmp(req->headers->v[i].name, val.data) != 0)
				continue;
			if ((k++ && bb_buf_addc(&block, ',')) ||
			    canon_value(&block, req->headers->v[i].value ?
				req->headers->v[i].value : ""))
				goto oom;
		}
	}
	if (!have_host) {
		rc = vfail(v, BB_SIGV4_MALFORMED, "The host header must be signed");
		goto out;
	}
	payload = req->payload_hash;
	p = hdr_get(req->headers, "x-amz-content-sha256");
	if (payload == NULL)
		payload = p ? p : v->presigned ? BB_SIGV4_UNSIGNED_PAYLOAD : BB_SHA256_EMPTY_HEX;
	if (s3 && !v->presigned && (p == NULL || !have_sha)) {
		rc = vfail(v, BB_SIGV4_MALFORMED, p == NULL ?
		    "Missing required header for this request: x-amz-content-sha256" :
		    "x-amz-content-sha256 must be signed");
		goto out;
	}
	snprintf(v->payload_hash, sizeof(v->payload_hash), "%s", payload);

	/* canonical request */
	{
		const char *path = req->path && *req->path ? req->path : "/";
		size_t plen = strcspn(path, "?");
		if (req->query && query_parse(&params, req->query, strlen(req->query),
		    v->presigned))
			goto oom;
		if (bb_buf_addf(&v->canonical_request, "%s\n", req->method) ||
		    canonical_uri(&v->canonical_request, path, plen, s3,
			s3 ? 0 : BB_SIGV4_NORMALIZE_PATH) ||
		    bb_buf_addc(&v->canonical_request, '\n') ||
		    query_canonical(&v->canonical_request, &params) ||
		    bb_buf_addc(&v->canonical_request, '\n') ||
		    bb_buf_add(&v->canonical_request, bb_buf_str(&block), block.len) ||
		    bb_buf_addf(&v->canonical_request, "\n\n%s\n%s", shdrs.data, payload))
			goto oom;
	}
	if (string_to_sign(&v->string_to_sign, date.data, scope.data, &v->canonical_request))
		goto oom;
	if (compute_signature(secret, date.data, parts[2], parts[3], &v->string_to_sign,
	    want_sig, key)) {
		bb_error_set(err, BB_ERR_SYSTEM, "SigV4: HMAC failed");
		goto out;
	}
	snprintf(got_sig, sizeof(got_sig), "%s", sig.data);
	if (sig.len != 64 || CRYPTO_memcmp(got_sig, want_sig, 64) != 0) {
		rc = vfail(v, BB_SIGV4_SIGNATURE_MISMATCH,
		    "The request signature we calculated does not match the signature you "
		    "provided. Check your key and signing method.");
		goto out;
	}
	memcpy(v->stream.key, key, sizeof(key));
	memcpy(v->stream.amz_date, date.data, 17);
	snprintf(v->stream.scope, sizeof(v->stream.scope), "%s", scope.data);
	memcpy(v->stream.seed, want_sig, sizeof(want_sig));
	v->stream.valid = 1;
	v->status = BB_SIGV4_OK;
	rc = BB_SIGV4_OK;
	goto out;
oom:
	rc = bb_error_set(err, BB_ERR_SYSTEM, "SigV4: out of memory");
out:
	OPENSSL_cleanse(key, sizeof(key));
	kv_release(&params);
	bb_buf_release(&cred);
	bb_buf_release(&shdrs);
	bb_buf_release(&sig);
	bb_buf_release(&date);
	bb_buf_release(&exp);
	if (tok.data)
		OPENSSL_cleanse(tok.data, tok.len);
	bb_buf_release(&tok);
	bb_buf_release(&block);
	bb_buf_release(&scope);
	bb_buf_release(&val);
	return rc;
}
