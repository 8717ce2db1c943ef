/* awschunked.c - aws-chunked request bodies; see awschunked.h. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "awschunked.h"

enum bb_awschunked_mode
bb_awschunked_mode_parse(const char *v)
{
	if (v == NULL)
		return 0;
	if (strcmp(v, BB_SIGV4_STREAMING_PAYLOAD) == 0)
		return BB_AWSCHUNKED_SIGNED;
	if (strcmp(v, BB_SIGV4_STREAMING_PAYLOAD_TRAILER) == 0)
		return BB_AWSCHUNKED_SIGNED_TRAILER;
	if (strcmp(v, BB_SIGV4_STREAMING_UNSIGNED_TRAILER) == 0)
		return BB_AWSCHUNKED_UNSIGNED_TRAILER;
	return 0;
}

/* ---- signature stages ---- */

static int
sign_sts(const struct bb_sigv4_stream *s, const char *algo, const char *prev,
    const char *extra, const char *hash, char out[BB_SHA256_HEX], struct bb_buf *sts)
{
	struct bb_buf b = BB_BUF_INIT;
	int rc = -1;

	if (bb_buf_addf(&b, "%s\n%s\n%s\n%s\n%s%s", algo, s->amz_date, s->scope, prev,
	    extra, hash))
		goto out;
	if (bb_sigv4_hmac_hex(s->key, b.data, b.len, out))
		goto out;
	if (sts) {
		bb_buf_reset(sts);
		if (bb_buf_add(sts, b.data, b.len))
			goto out;
	}
	rc = 0;
out:
	bb_buf_release(&b);
	return rc;
}

int
bb_awschunked_chunk_signature(const struct bb_sigv4_stream *s, const char *prev_sig,
    const char *data_sha256_hex, char out[BB_SHA256_HEX], struct bb_buf *sts)
{
	return sign_sts(s, "AWS4-HMAC-SHA256-PAYLOAD", prev_sig, BB_SHA256_EMPTY_HEX "\n",
	    data_sha256_hex, out, sts);
}

int
bb_awschunked_trailer_signature(const struct bb_sigv4_stream *s, const char *prev_sig,
    const char *canonical, size_t n, char out[BB_SHA256_HEX], struct bb_buf *sts)
{
	char h[BB_SHA256_HEX];

	if (bb_sha256_hex(canonical, n, h))
		return -1;
	return sign_sts(s, "AWS4-HMAC-SHA256-TRAILER", prev_sig, "", h, out, sts);
}

static int
field_cmp(const void *a, const void *b)
{
	const struct bb_sigv4_field *x = a, *y = b;

	return strcasecmp(x->name, y->name);
}

int
bb_awschunked_canonical_trailer(struct bb_buf *out, const struct bb_sigv4_field *f, size_t n)
{
	struct bb_sigv4_field *v;
	const char *s, *e;
	size_t i, j;
	int rc = -1;

	v = calloc(n ? n : 1, sizeof(*v));
	if (v == NULL)
		return -1;
	memcpy(v, f, n * sizeof(*v));
	qsort(v, n, sizeof(*v), field_cmp);
	for (i = 0; i < n; i++) {
		if (strcasecmp(v[i].name, "x-amz-trailer-signature") == 0)
			continue;
		for (j = 0; v[i].name[j]; j++)
			if (bb_buf_addc(out, (char)tolower((unsigned char)v[i].name[j])))
				goto out;
		s = v[i].value;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (bb_buf_addc(out, ':') || bb_buf_add(out, s, (size_t)(e - s)) ||
		    bb_buf_addc(out, '\n'))
			goto out;
	}
	rc = 0;
out:
	free(v);
	return rc;
}

/* ---- encoder ---- */

int
bb_awschunked_enc_init(struct bb_awschunked_enc *e, enum bb_awschunked_mode mode,
    const struct bb_sigv4_stream *s, enum bb_checksum_alg alg, struct bb_error *err)
{
	memset(e, 0, sizeof(*e));
	e->mode = mode;
	if (mode != BB_AWSCHUNKED_SIGNED && mode != BB_AWSCHUNKED_SIGNED_TRAILER &&
	    mode != BB_AWSCHUNKED_UNSIGNED_TRAILER)
		return bb_error_set(err, BB_ERR_USAGE, "aws-chunked: unknown mode");
	if (mode != BB_AWSCHUNKED_UNSIGNED_TRAILER) {
		if (s == NULL || !s->valid)
			return bb_error_set(err, BB_ERR_USAGE,
			    "aws-chunked: signed chunks need the request's signing context");
		e->stream = *s;
		memcpy(e->prev, s->seed, sizeof(e->prev));
	}
	if (mode != BB_AWSCHUNKED_SIGNED) {
		if (alg == BB_CKSUM_NONE)
			return bb_error_set(err, BB_ERR_USAGE,
			    "aws-chunked: a trailer needs a checksum algorithm");
		e->alg = alg;
		if (bb_checksum_init(&e->ck, alg))
			return bb_error_set(err, BB_ERR_SYSTEM, "aws-chunked: out of memory");
	}
	return 0;
}

int
bb_awschunked_enc_chunk(struct bb_awschunked_enc *e, const void *p, size_t n,
    struct bb_buf *out, struct bb_error *err)
{
	char h[BB_SHA256_HEX], sig[BB_SHA256_HEX];

	if (e->finished || n == 0)
		return bb_error_set(err, BB_ERR_USAGE, "aws-chunked: %s",
		    e->finished ? "chunk after the final one" : "empty chunk");
	if (e->alg != BB_CKSUM_NONE && bb_checksum_update(&e->ck, p, n))
		return bb_error_set(err, BB_ERR_SYSTEM, "aws-chunked: checksum failed");
	if (e->mode == BB_AWSCHUNKED_UNSIGNED_TRAILER) {
		if (bb_buf_addf(out, "%zx\r\n", n))
			goto oom;
	} else {
		if (bb_sha256_hex(p, n, h) ||
		    bb_awschunked_chunk_signature(&e->stream, e->prev, h, sig, NULL))
			goto oom;
		memcpy(e->prev, sig, sizeof(sig));
		if (bb_buf_addf(out, "%zx;chunk-signature=%s\r\n", n, sig))
			goto oom;
	}
	if (bb_buf_add(out, p, n) || bb_buf_add(out, "\r\n", 2))
		goto oom;
	return 0;
oom:
	return bb_error_set(err, BB_ERR_SYSTEM, "aws-chunked: out of memory");
}

int
bb_awschunked_enc_finish(struct bb_awschunked_enc *e, struct bb_buf *out, struct bb_error *err)
{
	char sig[BB_SHA256_HEX], tsig[BB_SHA256_HEX], b64[BB_CHECKSUM_B64];
	struct bb_buf canon = BB_BUF_INIT;
	struct bb_sigv4_field f;
	int rc = -1;

	if (e->finished)
		return bb_error_set(err, BB_ERR_USAGE, "aws-chunked: already finished");
	e->finished = 1;
	if (e->alg != BB_CKSUM_NONE && bb_checksum_final_base64(&e->ck, b64))
		goto oom;
	if (e->mode == BB_AWSCHUNKED_UNSIGNED_TRAILER) {
		if (bb_buf_addf(out, "0\r\n%s:%s\r\n\r\n", bb_checksum_header(e->alg), b64))
			goto oom;
	} else {
		if (bb_awschunked_chunk_signature(&e->stream, e->prev, BB_SHA256_EMPTY_HEX, sig,
		    NULL))
			goto oom;
		memcpy(e->prev, sig, sizeof(sig));
		if (bb_buf_addf(out, "0;chunk-signature=%s\r\n", sig))
			goto oom;
		if (e->mode == BB_AWSCHUNKED_SIGNED) {
			if (bb_buf_add(out, "\r\n", 2))
				goto oom;
		} else {
			f.name = (char *)bb_checksum_header(e->alg);
			f.value = b64;
			if (bb_awschunked_canonical_trailer(&canon, &f, 1) ||
			    bb_awschunked_trailer_signature(&e->stream, sig, canon.data,
				canon.len, tsig, NULL) ||
			    bb_buf_addf(out, "%s:%s\r\nx-amz-trailer-signature:%s\r\n\r\n",
				f.name, b64, tsig))
				goto oom;
		}
	}
	rc = 0;
	goto out;
oom:
	bb_error_set(err, BB_ERR_SYSTEM, "aws-chunked: out of memory");
out:
	bb_buf_release(&canon);
	return rc;
}

void
bb_awschunked_enc_release(struct bb_awschunked_enc *e)
{
	bb_checksum_release(&e->ck);
	OPENSSL_cleanse(e, sizeof(*e));
}

static size_t
hexlen(uint64_t v)
{
	size_t n = 1;

	while (v >= 16) {
		v >>= 4;
		n++;
	}
	return n;
}

static size_t
checksum_b64_len(enum bb_checksum_alg alg)
{
	switch (alg) {
	case BB_CKSUM_CRC32:
	case BB_CKSUM_CRC32C:
		return 8;
	case BB_CKSUM_CRC64NVME:
		return 12;
	case BB_CKSUM_SHA1:
		return 28;
	case BB_CKSUM_SHA256:
		return 44;
	default:
		return 0;
	}
}

int
bb_awschunked_encoded_length(enum bb_awschunked_mode mode, uint64_t decoded_len,
    size_t chunk_size, enum bb_checksum_alg alg, uint64_t *out)
{
	uint64_t full, rest, total, per, meta;
	int sig = mode != BB_AWSCHUNKED_UNSIGNED_TRAILER;

	if (chunk_size == 0)
		return -1;
	full = decoded_len / chunk_size;
	rest = decoded_len % chunk_size;
	/* per chunk: hex size [";chunk-signature=" 64] CRLF data CRLF */
	meta = (sig ? 17 + 64 : 0) + 2 + 2;
	per = hexlen(chunk_size) + meta;
	if (full > (UINT64_MAX - decoded_len) / (per ? per : 1))
		return -1;
	total = decoded_len + full * per;
	if (rest)
		total += hexlen(rest) + meta;
	/* final chunk line */
	total += 1 + (sig ? 17 + 64 : 0) + 2;
	if (mode == BB_AWSCHUNKED_SIGNED) {
		total += 2;
	} else {
		if (alg == BB_CKSUM_NONE)
			return -1;
		total += strlen(bb_checksum_header(alg)) + 1 + checksum_b64_len(alg) + 2;
		if (sig)
			total += strlen("x-amz-trailer-signature:") + 64 + 2;
		total += 2;
	}
	*out = total;
	return 0;
}

/* ---- decoder ---- */

enum {
	D_SIZE = 0,      /* reading a chunk header line */
	D_DATA,          /* chunk data */
	D_DATA_CR,       /* the CRLF after the data */
	D_DATA_LF,
	D_TRAILER,       /* trailer lines until an empty one */
	D_DONE,
	D_FAILED,
};

const char *
bb_awschunked_status_code(enum bb_awschunked_status s)
{
	switch (s) {
	case BB_AWSCHUNKED_OK:
		return "OK";
	case BB_AWSCHUNKED_INCOMPLETE:
		return "IncompleteBody";
	case BB_AWSCHUNKED_BAD_SIGNATURE:
		return "SignatureDoesNotMatch";
	case BB_AWSCHUNKED_BAD_DIGEST:
		return "BadDigest";
	case BB_AWSCHUNKED_CHUNK_TOO_SMALL:
		return "InvalidChunkSizeError";
	case BB_AWSCHUNKED_MALFORMED:
		return "InvalidRequest";
	case BB_AWSCHUNKED_SINK:
		return "InternalError";
	}
	return "InvalidRequest";
}

__attribute__((format(printf, 4, 5)))
static int
dfail(struct bb_awschunked_dec *d, struct bb_error *err, enum bb_awschunked_status s,
    const char *fmt, ...)
{
	va_list ap;

	d->status = s;
	d->state = D_FAILED;
	va_start(ap, fmt);
	bb_error_vset(err, s == BB_AWSCHUNKED_SINK ? BB_ERR_SYSTEM : BB_ERR_INPUT, fmt, ap);
	va_end(ap);
	return -1;
}

int
bb_awschunked_dec_init(struct bb_awschunked_dec *d, enum bb_awschunked_mode mode,
    const struct bb_sigv4_stream *s, const char *trailer, uint64_t decoded_len,
    struct bb_error *err)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->expect_len = decoded_len;
	if (mode != BB_AWSCHUNKED_SIGNED && mode != BB_AWSCHUNKED_SIGNED_TRAILER &&
	    mode != BB_AWSCHUNKED_UNSIGNED_TRAILER)
		return dfail(d, err, BB_AWSCHUNKED_MALFORMED, "aws-chunked: unknown mode");
	if (mode != BB_AWSCHUNKED_UNSIGNED_TRAILER) {
		if (s == NULL || !s->valid)
			return dfail(d, err, BB_AWSCHUNKED_MALFORMED,
			    "aws-chunked: signed chunks need the request's signing context");
		d->stream = *s;
		memcpy(d->prev, s->seed, sizeof(d->prev));
	}
	if (trailer && *trailer) {
		if (mode == BB_AWSCHUNKED_SIGNED)
			return dfail(d, err, BB_AWSCHUNKED_MALFORMED,
			    "aws-chunked: x-amz-trailer needs a *-TRAILER content hash");
		d->alg = bb_checksum_alg_parse(trailer);
		if (d->alg == BB_CKSUM_NONE || strncasecmp(trailer, "x-amz-checksum-", 15) != 0)
			return dfail(d, err, BB_AWSCHUNKED_MALFORMED,
			    "aws-chunked: unsupported trailer '%s'", trailer);
		if (bb_checksum_init(&d->ck, d->alg))
			return dfail(d, err, BB_AWSCHUNKED_SINK, "aws-chunked: out of memory");
	}
	if (bb_sha256_init(&d->sha))
		return dfail(d, err, BB_AWSCHUNKED_SINK, "aws-chunked: out of memory");
	d->state = D_SIZE;
	return 0;
}

/* Parse "hex[;chunk-signature=sig]" in d->line. */
static int
parse_size_line(struct bb_awschunked_dec *d, struct bb_error *err)
{
	const char *p = d->line;
	uint64_t v = 0;
	int nd = 0, hv;
	int sig = d->mode != BB_AWSCHUNKED_UNSIGNED_TRAILER;

	while (*p && *p != ';') {
		if (*p >= '0' && *p <= '9')
			hv = *p - '0';
		else if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
			hv = (*p | 0x20) - 'a' + 10;
		else
			return dfail(d, err, BB_AWSCHUNKED_MALFORMED,
			    "aws-chunked: bad chunk size line '%.40s'", d->line);
		if (++nd > 15)
			return dfail(d, err, BB_AWSCHUNKED_MALFORMED,
			    "aws-chunked: chunk size too large");
		v = v << 4 | (uint64_t)hv;
		p++;
	}
	if (nd == 0)
		return dfail(d, err, BB_AWSCHUNKED_MALFORMED,
		    "aws-chunked: missing chunk size");
	if (sig) {
		if (strncmp(p, ";chunk-signature=", 17) != 0 || strlen(p + 17) != 64)
			return dfail(d, err, BB_AWSCHUNKED_MALFORMED,
			    "aws-chunked: chunk %d has no chunk-signature", d->nchunks + 1);
		memcpy(d->chunk_sig, p + 17, 64);
		d->chunk_sig[64] = '\0';
	}
	/* every data chunk but the last must be >= 8 KiB in the signed forms */
	if (sig && v > 0 && d->nchunks > 0 && d->prev_size < BB_AWSCHUNKED_MIN_CHUNK)
		return dfail(d, err, BB_AWSCHUNKED_CHUNK_TOO_SMALL,
		    "aws-chunked: chunk %d has %llu bytes; chunks before the last must "
		    "have at least %d", d->nchunks, (unsigned long long)d->prev_size,
		    BB_AWSCHUNKED_MIN_CHUNK);
	if (d->expect_len != UINT64_MAX && v > d->expect_len - d->total)
		return dfail(d, err, BB_AWSCHUNKED_INCOMPLETE,
		    "aws-chunked: more data than x-amz-decoded-content-length (%llu)",
		    (unsigned long long)d->expect_len);
	d->chunk_size = v;
	d->remaining = v;
	d->nchunks++;
	return 0;
}

/* The chunk's data is complete: check its signature. */
static int
chunk_verify(struct bb_awschunked_dec *d, struct bb_error *err)
{
	unsigned char h[BB_SHA256_LEN];
	char hex[BB_SHA256_HEX], want[BB_SHA256_HEX];

	if (d->mode == BB_AWSCHUNKED_UNSIGNED_TRAILER)
		return 0;
	if (bb_sha256_final(&d->sha, h))
		return dfail(d, err, BB_AWSCHUNKED_SINK, "aws-chunked: sha256 failed");
	bb_hex_encode(h, sizeof(h), hex);
	if (bb_awschunked_chunk_signature(&d->stream, d->prev, hex, want, NULL))
		return dfail(d, err, BB_AWSCHUNKED_SINK, "aws-chunked: hmac failed");
	if (CRYPTO_memcmp(want, d->chunk_sig, 64) != 0)
		return dfail(d, err, BB_AWSCHUNKED_BAD_SIGNATURE,
		    "aws-chunked: the signature of chunk %d does not match", d->nchunks);
	memcpy(d->prev, want, sizeof(want));
	return 0;
}

/* A complete trailer: check the signature and the checksum. */
static int
trailer_verify(struct bb_awschunked_dec *d, struct bb_error *err)
{
	struct bb_buf canon = BB_BUF_INIT;
	char want[BB_SHA256_HEX], b64[BB_CHECKSUM_B64];
	const char *tsig = NULL, *ck = NULL;
	size_t i;
	int rc = -1;

	for (i = 0; i < d->ntrailers; i++) {
		if (strcasecmp(d->trailers[i].name, "x-amz-trailer-signature") == 0)
			tsig = d->trailers[i].value;
		else if (d->alg != BB_CKSUM_NONE &&
		    strcasecmp(d->trailers[i].name, bb_checksum_header(d->alg)) == 0)
			ck = d->trailers[i].value;
	}
	if (d->mode == BB_AWSCHUNKED_SIGNED && d->ntrailers > 0) {
		rc = dfail(d, err, BB_AWSCHUNKED_MALFORMED,
		    "aws-chunked: trailer fields without a *-TRAILER content hash");
		goto out;
	}
	if (d->mode == BB_AWSCHUNKED_SIGNED_TRAILER) {
		if (tsig == NULL) {
			rc = dfail(d, err, BB_AWSCHUNKED_MALFORMED,
			    "aws-chunked: the trailer has no x-amz-trailer-signature");
			goto out;
		}
		if (bb_awschunked_canonical_trailer(&canon, d->trailers, d->ntrailers) ||
		    bb_awschunked_trailer_signature(&d->stream, d->prev, bb_buf_str(&canon),
			canon.len, want, NULL)) {
			rc = dfail(d, err, BB_AWSCHUNKED_SINK, "aws-chunked: out of memory");
			goto out;
		}
		if (strlen(tsig) != 64 || CRYPTO_memcmp(want, tsig, 64) != 0) {
			rc = dfail(d, err, BB_AWSCHUNKED_BAD_SIGNATURE,
			    "aws-chunked: the trailer signature does not match");
			goto out;
		}
	} else if (tsig != NULL) {
		rc = dfail(d, err, BB_AWSCHUNKED_MALFORMED,
		    "aws-chunked: unexpected x-amz-trailer-signature");
		goto out;
	}
	if (d->alg != BB_CKSUM_NONE) {
		if (ck == NULL) {
			rc = dfail(d, err, BB_AWSCHUNKED_MALFORMED,
			    "aws-chunked: the trailer lacks the announced %s",
			    bb_checksum_header(d->alg));
			goto out;
		}
		if (bb_checksum_final_base64(&d->ck, b64)) {
			rc = dfail(d, err, BB_AWSCHUNKED_SINK, "aws-chunked: checksum failed");
			goto out;
		}
		if (strcmp(b64, ck) != 0) {
			rc = dfail(d, err, BB_AWSCHUNKED_BAD_DIGEST,
			    "aws-chunked: the %s you specified did not match the calculated "
			    "checksum", bb_checksum_header(d->alg));
			goto out;
		}
	}
	rc = 0;
out:
	bb_buf_release(&canon);
	return rc;
}

static int
trailer_line(struct bb_awschunked_dec *d, struct bb_error *err)
{
	char *colon = strchr(d->line, ':'), *v;
	struct bb_sigv4_field *f;

	if (colon == NULL || colon == d->line)
		return dfail(d, err, BB_AWSCHUNKED_MALFORMED,
		    "aws-chunked: bad trailer line '%.40s'", d->line);
	if (d->ntrailers == BB_AWSCHUNKED_MAX_TRAILERS)
		return dfail(d, err, BB_AWSCHUNKED_MALFORMED, "aws-chunked: too many trailers");
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	f = &d->trailers[d->ntrailers];
	f->name = strdup(d->line);
	f->value = strdup(v);
	if (f->name == NULL || f->value == NULL) {
		free(f->name);
		free(f->value);
		return dfail(d, err, BB_AWSCHUNKED_SINK, "aws-chunked: out of memory");
	}
	d->ntrailers++;
	return 0;
}

/* A complete line (CRLF stripped) in d->line. */
static int
line_done(struct bb_awschunked_dec *d, struct bb_error *err)
{
	if (d->state == D_SIZE) {
		if (parse_size_line(d, err))
			return -1;
		if (d->chunk_size > 0) {
			d->state = D_DATA;
			return 0;
		}
		/* final chunk: its signature covers the empty string */
		if (chunk_verify(d, err))
			return -1;
		d->state = D_TRAILER;
		return 0;
	}
	/* D_TRAILER */
	if (d->linelen > 0)
		return trailer_line(d, err);
	if (trailer_verify(d, err))
		return -1;
	if (d->expect_len != UINT64_MAX && d->total != d->expect_len)
		return dfail(d, err, BB_AWSCHUNKED_INCOMPLETE,
		    "aws-chunked: decoded %llu bytes, x-amz-decoded-content-length says %llu",
		    (unsigned long long)d->total, (unsigned long long)d->expect_len);
	d->state = D_DONE;
	return 0;
}

int
bb_awschunked_dec_feed(struct bb_awschunked_dec *d, const void *buf, size_t n,
    bb_awschunked_sink_fn sink, void *ctx, struct bb_error *err)
{
	const unsigned char *p = buf, *end = p + n;
	size_t k;

	if (d->state == D_FAILED)
		return bb_error_set(err, BB_ERR_INPUT, "aws-chunked: decoder already failed");
	while (p < end) {
		switch (d->state) {
		case D_SIZE:
		case D_TRAILER:
			if (*p == '\n') {
				if (d->linelen == 0 || d->line[d->linelen - 1] != '\r')
					return dfail(d, err, BB_AWSCHUNKED_MALFORMED,
					    "aws-chunked: bare LF in chunk framing");
				d->line[--d->linelen] = '\0';
				p++;
				if (line_done(d, err))
					return -1;
				d->linelen = 0;
				break;
			}
			if (d->linelen + 1 >= sizeof(d->line))
				return dfail(d, err, BB_AWSCHUNKED_MALFORMED,
				    "aws-chunked: framing line too long");
			d->line[d->linelen++] = (char)*p++;
			break;
		case D_DATA:
			k = (size_t)(end - p);
			if (k > d->remaining)
				k = (size_t)d->remaining;
			if (d->mode != BB_AWSCHUNKED_UNSIGNED_TRAILER &&
			    bb_sha256_update(&d->sha, p, k))
				return dfail(d, err, BB_AWSCHUNKED_SINK, "aws-chunked: sha256 failed");
			if (d->alg != BB_CKSUM_NONE && bb_checksum_update(&d->ck, p, k))
				return dfail(d, err, BB_AWSCHUNKED_SINK,
				    "aws-chunked: checksum failed");
			if (sink && sink(p, k, ctx))
				return dfail(d, err, BB_AWSCHUNKED_SINK,
				    "aws-chunked: cannot store the decoded data");
			d->total += k;
			d->remaining -= k;
			p += k;
			if (d->remaining == 0) {
				if (chunk_verify(d, err))
					return -1;
				d->prev_size = d->chunk_size;
				d->state = D_DATA_CR;
			}
			break;
		case D_DATA_CR:
		case D_DATA_LF:
			if (*p != (d->state == D_DATA_CR ? '\r' : '\n'))
				return dfail(d, err, BB_AWSCHUNKED_MALFORMED,
				    "aws-chunked: chunk %d is not followed by CRLF", d->nchunks);
			p++;
			d->state = d->state == D_DATA_CR ? D_DATA_LF : D_SIZE;
			break;
		case D_DONE:
			return dfail(d, err, BB_AWSCHUNKED_MALFORMED,
			    "aws-chunked: data after the final chunk");
		default:
			return -1;
		}
	}
	return 0;
}

int
bb_awschunked_dec_finish(struct bb_awschunked_dec *d, struct bb_error *err)
{
	if (d->state == D_DONE)
		return 0;
	if (d->state == D_FAILED)
		return bb_error_set(err, BB_ERR_INPUT, "aws-chunked: decoder already failed");
	return dfail(d, err, BB_AWSCHUNKED_INCOMPLETE,
	    "aws-chunked: the body ended before the final chunk%s",
	    d->mode == BB_AWSCHUNKED_SIGNED ? "" : " and trailer");
}

void
bb_awschunked_dec_release(struct bb_awschunked_dec *d)
{
	size_t i;

	for (i = 0; i < d->ntrailers; i++) {
		free(d->trailers[i].name);
		free(d->trailers[i].value);
	}
	bb_checksum_release(&d->ck);
	bb_sha256_release(&d->sha);
	OPENSSL_cleanse(d, sizeof(*d));
}
