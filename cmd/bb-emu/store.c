/*
 * store.c - S3 objects and multipart uploads on disk under --data-dir.
 *
 * Layout (everything below DATA_DIR, nothing ever named after a key):
 *   s3/BUCKET/                   a bucket (its name is validated first)
 *   s3/BUCKET/H.meta             one object: H = hex SHA-256 of the key;
 *                                lines "field value" (values %-encoded)
 *   s3/BUCKET/H-GEN.data         its bytes; the .meta file names it
 *   s3/BUCKET/H-GEN.mp.1 .. .mp.N  or, for an object made by a multipart
 *                                upload, its parts in order (the .meta has
 *                                "data H-GEN.mp" and "extents SIZE,...")
 *   uploads/ID/upload            a multipart upload (bucket, key, ...)
 *   uploads/ID/N.part, N.info    its parts
 *   tmp/                         request bodies being received
 *
 * A key is never a path: file names are hashes, so no key (with "..", a
 * leading "/", NUL, or 1000 bytes) can name a file outside the data dir.
 * Writing the .meta file (to a temporary name, then rename) is the commit
 * point of an object: a crash leaves either the old object or the new one,
 * and data files that no .meta names are removed at start-up.
 *
 * CompleteMultipartUpload does not copy: the parts become the object's
 * files (hard links, or copies where links fail) and readers read across
 * them (struct emu_store_reader). A reader holds a reference on the part
 * set, so an object replaced or deleted during a GET keeps its files
 * until the last reader is done.
 *
 * An index of every bucket's keys, sorted in byte order, is kept in memory
 * (loaded at open) for lookups and listings. The store has its own mutex;
 * callers need no other lock.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "emu.h"
#include "hash.h"
#include "json.h"

/* The files of an object kept as its multipart upload's parts. */
struct emu_parts {
	int refs;                  /* the index entry's and readers' (s->lock) */
	int dead;                  /* no longer in the index: the last ref unlinks */
	char *dir;                 /* the bucket directory (NULL until known) */
	char *stem;                /* files stem.1 .. stem.n in dir */
	size_t n;
	uint64_t *end;             /* end offset of file i in the object */
};

struct emu_obj {
	char *key;
	char *data_name;           /* file name of the bytes inside the bucket dir */
	struct emu_parts *mp;      /* or NULL: data_name is the stem of these */
	struct emu_object_info info;
};

struct emu_store_reader {
	struct emu_store *s;
	struct emu_parts *mp;      /* a reference, or NULL for one file: */
	int fd;                    /* the open file: the object's or extent cur's */
	size_t cur;
};

struct emu_bucket {
	char *name;
	double ctime;
	struct emu_obj *v;         /* sorted by key (byte order) */
	size_t n, cap;
};

struct emu_store {
	pthread_mutex_t lock;
	char *dir;                 /* the data dir */
	struct emu_bucket *b;      /* sorted by name */
	size_t nb, capb;
	uint64_t gen;              /* makes data file names unique */
};

/* ---- small helpers ---- */

int
emu_store_valid_bucket(const char *bucket)
{
	size_t i, n = strlen(bucket);
	int digits_dots = 1;

	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = bucket[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return 0;
		if (!((c >= '0' && c <= '9') || c == '.'))
			digits_dots = 0;
	}
	if (bucket[0] == '.' || bucket[0] == '-' || bucket[n - 1] == '.' || bucket[n - 1] == '-')
		return 0;
	if (strstr(bucket, "..") != NULL || digits_dots)   /* no IP-address look-alikes */
		return 0;
	return 1;
}

int
emu_store_valid_key(const char *key)
{
	size_t i, n = strlen(key);
	const char *seg;

	if (n == 0 || n > 1024 || key[0] == '/')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)key[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	if (!bb_utf8_valid(key, n))
		return 0;
	/* No "." or ".." path segment: S3 would store them, but no tool of
	 * ours needs them and they are what path traversal is made of. */
	for (seg = key; seg != NULL; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL) {
		size_t len = strcspn(seg, "/");

		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
	}
	return 1;
}

static void
key_hash(const char *key, char out[BB_SHA256_HEX])
{
	bb_sha256_hex(key, strlen(key), out);
}

/* %-encode everything but printable ASCII (and '%') so a value is one line. */
static int
pct_add(struct bb_buf *b, const char *s)
{
	static const char hx[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (*p > 0x20 && *p < 0x7f && *p != '%') {
			if (bb_buf_addc(b, (char)*p))
				return -1;
		} else {
			char e[3] = { '%', hx[*p >> 4], hx[*p & 15] };

			if (bb_buf_add(b, e, 3))
				return -1;
		}
	}
	return 0;
}

/* Decode in place; 0, or -1 on a bad escape or an encoded NUL. */
static int
pct_decode(char *s)
{
	unsigned char byte;
	char *r, *w;

	for (r = w = s; *r; r++) {
		if (*r == '%') {
			if (r[1] == '\0' || bb_hex_decode(r + 1, 2, &byte, 1) < 0 || byte == 0)
				return -1;
			*w++ = (char)byte;
			r += 2;
		} else
			*w++ = *r;
	}
	*w = '\0';
	return 0;
}

static int
path_of(struct bb_buf *b, const struct emu_store *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
path_of(struct bb_buf *b, const struct emu_store *s, const char *fmt, ...)
{
	va_list ap;
	int rc;

	bb_buf_reset(b);
	if (bb_buf_adds(b, s->dir) || bb_buf_addc(b, '/'))
		return -1;
	va_start(ap, fmt);
	rc = bb_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int
emu_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

void
emu_etag(const unsigned char md5[16], char out[35])
{
	out[0] = '"';
	bb_hex_encode(md5, 16, out + 1);
	out[33] = '"';
	out[34] = '\0';
}

int
emu_write_file(const char *path, const void *text, size_t len, struct bb_error *err)
{
	struct bb_buf tmp = BB_BUF_INIT;
	int fd = -1, rc = -1;

	if (bb_buf_addf(&tmp, "%s.tmp%lx", path, (unsigned long)pthread_self() & 0xffffff)) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		bb_error_errno(err, "cannot create '%s'", tmp.data);
		goto out;
	}
	if (emu_write_all(fd, text, len) < 0) {
		bb_error_errno(err, "cannot write '%s'", tmp.data);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		bb_error_errno(err, "cannot write '%s'", tmp.data);
		goto out;
	}
	fd = -1;
	if (rename(tmp.data, path) < 0) {
		bb_error_errno(err, "cannot rename '%s'", tmp.data);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp.data)
		unlink(tmp.data);
	bb_buf_release(&tmp);
	return rc;
}

int
emu_read_file(const char *path, struct bb_buf *out, size_t max)
{
	char chunk[4096];
	int fd, rc = -1;
	ssize_t r;

	bb_buf_reset(out);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (out->len + (size_t)r > max || bb_buf_add(out, chunk, (size_t)r))
			goto out;
	}
	rc = bb_buf_grow(out, 0);   /* out->data is never NULL */
out:
	close(fd);
	return rc;
}

/* Iterate "name value\n" lines: returns the next line's name and value
 * (both NUL-terminated in place), or 0 at the end. */
static int
next_field(char **cursor, char **name, char **value)
{
	char *p = *cursor, *nl, *sp;

	while (*p == '\n')
		p++;
	if (*p == '\0')
		return 0;
	nl = p + strcspn(p, "\n");
	*cursor = *nl != '\0' ? nl + 1 : nl;   /* the last line may lack its newline */
	*nl = '\0';
	sp = strchr(p, ' ');
	*name = p;
	if (sp) {
		*sp = '\0';
		*value = sp + 1;
	} else
		*value = nl;   /* "" */
	return 1;
}

void
emu_object_info_release(struct emu_object_info *info)
{
	free(info->meta_json);
	info->meta_json = NULL;
}

static int
info_copy(struct emu_object_info *dst, const struct emu_object_info *src)
{
	*dst = *src;
	dst->meta_json = NULL;
	if (src->meta_json && (dst->meta_json = strdup(src->meta_json)) == NULL)
		return -1;
	return 0;
}

/* ---- the files of multipart objects ---- */

/* A part set of n files (sizes filled by the caller), one reference. */
static struct emu_parts *
parts_new(size_t n)
{
	struct emu_parts *mp;

	if (n == 0 || n > 100000 || (mp = calloc(1, sizeof(*mp))) == NULL)
		return NULL;
	if ((mp->end = calloc(n, sizeof(*mp->end))) == NULL) {
		free(mp);
		return NULL;
	}
	mp->n = n;
	mp->refs = 1;
	return mp;
}

/* The path of file i (0-based) of mp. */
static int
parts_path(struct bb_buf *b, const struct emu_parts *mp, size_t i)
{
	bb_buf_reset(b);
	return bb_buf_addf(b, "%s/%s.%zu", mp->dir, mp->stem, i + 1);
}

static uint64_t
parts_size(const struct emu_parts *mp, size_t i)
{
	return mp->end[i] - (i > 0 ? mp->end[i - 1] : 0);
}

/* The file holding byte pos: the first whose end is past it (n if none). */
static size_t
parts_find(const struct emu_parts *mp, uint64_t pos)
{
	size_t lo = 0, hi = mp->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mp->end[mid] > pos)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Drop a reference (with the store's lock held, or single-threaded); the
 * last one of a dead set removes its files. */
static void
parts_unref(struct emu_parts *mp)
{
	struct bb_buf path = BB_BUF_INIT;
	size_t i;

	if (mp == NULL || --mp->refs > 0)
		return;
	if (mp->dead && mp->dir && mp->stem)
		for (i = 0; i < mp->n; i++)
			if (parts_path(&path, mp, i) == 0)
				unlink(path.data);
	bb_buf_release(&path);
	free(mp->dir);
	free(mp->stem);
	free(mp->end);
	free(mp);
}

/* "extents 5242880,5242880,17" */
static int
parts_format(struct bb_buf *out, const struct emu_parts *mp)
{
	size_t i;

	if (bb_buf_adds(out, "extents "))
		return -1;
	for (i = 0; i < mp->n; i++)
		if (bb_buf_addf(out, "%s%" PRIu64, i ? "," : "", parts_size(mp, i)))
			return -1;
	return bb_buf_addc(out, '\n');
}

static struct emu_parts *
parts_parse(const char *value)
{
	struct emu_parts *mp;
	const char *p;
	uint64_t total = 0;
	size_t n = 1, i;

	for (p = value; *p; p++)
		n += *p == ',';
	if ((mp = parts_new(n)) == NULL)
		return NULL;
	for (p = value, i = 0; i < n; i++) {
		char *end;
		uint64_t v;

		if (*p < '0' || *p > '9')
			goto bad;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno || (*end != ',' && *end != '\0') || v > UINT64_MAX - total)
			goto bad;
		total += v;
		mp->end[i] = total;
		p = *end ? end + 1 : end;
	}
	return mp;
bad:
	parts_unref(mp);
	return NULL;
}

/* ---- the index ---- */

static struct emu_bucket *
bucket_find(const struct emu_store *s, const char *name)
{
	size_t lo = 0, hi = s->nb;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->b[mid].name, name);

		if (c == 0)
			return &s->b[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* bucket_find, or NULL with BB_ERR_NOTFOUND in err. */
static struct emu_bucket *
bucket_get(const struct emu_store *s, const char *name, struct bb_error *err)
{
	struct emu_bucket *b = bucket_find(s, name);

	if (b == NULL)
		bb_error_set(err, BB_ERR_NOTFOUND, "no such bucket");
	return b;
}

static struct emu_bucket *
bucket_add(struct emu_store *s, const char *name, double ctime)
{
	size_t pos = 0;
	struct emu_bucket *nb;

	while (pos < s->nb && strcmp(s->b[pos].name, name) < 0)
		pos++;
	if (s->nb == s->capb) {
		size_t cap = s->capb ? s->capb * 2 : 8;

		nb = realloc(s->b, cap * sizeof(*nb));
		if (nb == NULL)
			return NULL;
		s->b = nb;
		s->capb = cap;
	}
	memmove(&s->b[pos + 1], &s->b[pos], (s->nb - pos) * sizeof(*s->b));
	memset(&s->b[pos], 0, sizeof(*s->b));
	if ((s->b[pos].name = strdup(name)) == NULL) {
		memmove(&s->b[pos], &s->b[pos + 1], (s->nb - pos) * sizeof(*s->b));
		return NULL;
	}
	s->b[pos].ctime = ctime;
	s->nb++;
	return &s->b[pos];
}

/* Position of key in b, or where it would go (*found = 0). */
static size_t
obj_pos(const struct emu_bucket *b, const char *key, int *found)
{
	size_t lo = 0, hi = b->n;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(b->v[mid].key, key);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Free o's contents and leave it zeroed (safe to release again). */
static void
obj_release(struct emu_obj *o)
{
	free(o->key);
	free(o->data_name);
	parts_unref(o->mp);
	emu_object_info_release(&o->info);
	memset(o, 0, sizeof(*o));
}

/* Put (or replace) an entry; takes ownership of o's contents. *old gets
 * the entry replaced (zeroed if none) for the caller to dispose of. */
static int
obj_insert(struct emu_bucket *b, struct emu_obj *o, struct emu_obj *old)
{
	int found;
	size_t pos = obj_pos(b, o->key, &found);

	memset(old, 0, sizeof(*old));
	if (found) {
		*old = b->v[pos];
		b->v[pos] = *o;
		return 0;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct emu_obj *nv = realloc(b->v, cap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		b->v = nv;
		b->cap = cap;
	}
	memmove(&b->v[pos + 1], &b->v[pos], (b->n - pos) * sizeof(*b->v));
	b->v[pos] = *o;
	b->n++;
	return 0;
}

/* Remove the files of an entry taken out of the index, and release it.
 * Files of a multipart object go with its last reader. */
static void
obj_dispose(struct emu_store *s, const char *bucket, struct emu_obj *o)
{
	struct bb_buf path = BB_BUF_INIT;

	if (o->mp)
		o->mp->dead = 1;
	else if (o->data_name && path_of(&path, s, "s3/%s/%s", bucket, o->data_name) == 0)
		unlink(path.data);
	bb_buf_release(&path);
	obj_release(o);
}

/* 1 if the file name is one of o's files. */
static int
obj_owns(const struct emu_obj *o, const char *name)
{
	size_t len = strlen(o->data_name);
	unsigned long i;
	char *end;

	if (o->mp == NULL)
		return strcmp(o->data_name, name) == 0;
	if (strncmp(o->data_name, name, len) != 0 || name[len] != '.' ||
	    name[len + 1] < '1' || name[len + 1] > '9')
		return 0;
	errno = 0;
	i = strtoul(name + len + 1, &end, 10);
	return errno == 0 && *end == '\0' && i >= 1 && i <= o->mp->n;
}

/* ---- .meta files ---- */

static int
meta_format(struct bb_buf *out, const char *key, const char *data_name,
    const struct emu_parts *mp, const struct emu_object_info *info)
{
	int rc = 0;

	rc |= bb_buf_adds(out, "key ");
	rc |= pct_add(out, key);
	rc |= bb_buf_addf(out, "\ndata %s\nsize %" PRIu64 "\netag ", data_name, info->size);
	rc |= pct_add(out, info->etag);
	rc |= bb_buf_addf(out, "\nmtime %.3f\nparts %ld\nctype ", info->mtime, info->parts);
	rc |= pct_add(out, info->content_type);
	rc |= bb_buf_adds(out, "\ncalg ");
	rc |= pct_add(out, info->checksum_alg);
	rc |= bb_buf_adds(out, "\ncsum ");
	rc |= pct_add(out, info->checksum);
	if (info->meta_json) {
		rc |= bb_buf_adds(out, "\nmeta ");
		rc |= pct_add(out, info->meta_json);
	}
	rc |= bb_buf_addc(out, '\n');
	if (mp)
		rc |= parts_format(out, mp);
	return rc ? -1 : 0;
}

/* Parse a .meta text (modified in place) into o; 0 or -1 when malformed. */
static int
meta_parse(char *text, struct emu_obj *o)
{
	char *cur = text, *name, *value;
	char *end;

	memset(o, 0, sizeof(*o));
	while (next_field(&cur, &name, &value)) {
		if (pct_decode(value) < 0)
			goto bad;
		if (strcmp(name, "key") == 0) {
			free(o->key);
			o->key = strdup(value);
		} else if (strcmp(name, "data") == 0) {
			if (strchr(value, '/') || value[0] == '.' || value[0] == '\0')
				goto bad;
			free(o->data_name);
			o->data_name = strdup(value);
		} else if (strcmp(name, "size") == 0) {
			errno = 0;
			o->info.size = strtoull(value, &end, 10);
			if (errno || *end || end == value)
				goto bad;
		} else if (strcmp(name, "etag") == 0)
			snprintf(o->info.etag, sizeof(o->info.etag), "%s", value);
		else if (strcmp(name, "mtime") == 0)
			o->info.mtime = strtod(value, NULL);
		else if (strcmp(name, "parts") == 0)
			o->info.parts = strtol(value, NULL, 10);
		else if (strcmp(name, "ctype") == 0)
			snprintf(o->info.content_type, sizeof(o->info.content_type), "%s", value);
		else if (strcmp(name, "calg") == 0)
			snprintf(o->info.checksum_alg, sizeof(o->info.checksum_alg), "%s", value);
		else if (strcmp(name, "csum") == 0)
			snprintf(o->info.checksum, sizeof(o->info.checksum), "%s", value);
		else if (strcmp(name, "meta") == 0) {
			free(o->info.meta_json);
			o->info.meta_json = strdup(value);
		} else if (strcmp(name, "extents") == 0) {
			parts_unref(o->mp);
			if ((o->mp = parts_parse(value)) == NULL)
				goto bad;
		}
	}
	if (o->key == NULL || o->data_name == NULL || !emu_store_valid_key(o->key))
		goto bad;
	if (o->mp && (o->mp->end[o->mp->n - 1] != o->info.size ||
	    (o->mp->stem = strdup(o->data_name)) == NULL))
		goto bad;
	return 0;
bad:
	obj_release(o);
	return -1;
}

/* Load one bucket directory; stray and temporary files are removed. */
static int
load_bucket(struct emu_store *s, const char *name, struct bb_error *err)
{
	struct bb_buf path = BB_BUF_INIT, text = BB_BUF_INIT;
	struct emu_bucket *b;
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	int rc = -1, pass;

	if (path_of(&path, s, "s3/%s", name) || stat(path.data, &st) < 0) {
		bb_error_errno(err, "cannot stat bucket '%s'", name);
		goto out;
	}
	if ((b = bucket_add(s, name, (double)st.st_mtime)) == NULL) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	/* Pass 1 reads the .meta files; pass 2 removes what they do not name. */
	for (pass = 1; pass <= 2; pass++) {
		if ((d = opendir(path.data)) == NULL) {
			bb_error_errno(err, "cannot open '%s'", path.data);
			goto out;
		}
		while ((de = readdir(d)) != NULL) {
			const char *dot = strrchr(de->d_name, '.');
			struct bb_buf fp = BB_BUF_INIT;
			struct emu_obj o, old;
			int found = 0;
			size_t i;

			if (de->d_name[0] == '.')
				continue;
			if (path_of(&fp, s, "s3/%s/%s", name, de->d_name)) {
				bb_buf_release(&fp);
				continue;
			}
			if (pass == 1 && dot && strcmp(dot, ".meta") == 0) {
				if (emu_read_file(fp.data, &text, 1 << 20) == 0 &&
				    meta_parse(text.data, &o) == 0) {
					char h[65];

					key_hash(o.key, h);
					if (strncmp(h, de->d_name, 64) != 0 ||
					    (o.mp && (o.mp->dir = strdup(path.data)) == NULL) ||
					    obj_insert(b, &o, &old) < 0)
						obj_release(&o);
					else
						obj_release(&old);
				}
			} else if (pass == 2 && (dot == NULL || strcmp(dot, ".meta") != 0)) {
				for (i = 0; i < b->n && !found; i++)
					found = obj_owns(&b->v[i], de->d_name);
				if (!found)
					unlink(fp.data);
			}
			bb_buf_release(&fp);
		}
		closedir(d);
		d = NULL;
	}
	/* Forget entries whose data files went missing or changed size. */
	{
		size_t i, j, w = 0;

		for (i = 0; i < b->n; i++) {
			struct emu_parts *mp = b->v[i].mp;
			struct bb_buf fp = BB_BUF_INIT;
			int keep;

			if (mp == NULL)
				keep = path_of(&fp, s, "s3/%s/%s", name, b->v[i].data_name) == 0 &&
				    stat(fp.data, &st) == 0 && (uint64_t)st.st_size == b->v[i].info.size;
			else
				for (j = 0, keep = 1; j < mp->n && keep; j++)
					keep = parts_path(&fp, mp, j) == 0 && stat(fp.data, &st) == 0 &&
					    (uint64_t)st.st_size == parts_size(mp, j);
			bb_buf_release(&fp);
			if (keep)
				b->v[w++] = b->v[i];
			else
				obj_release(&b->v[i]);
		}
		b->n = w;
	}
	rc = 0;
out:
	if (d)
		closedir(d);
	bb_buf_release(&path);
	bb_buf_release(&text);
	return rc;
}

static int
mkdir_p1(const char *path, struct bb_error *err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return bb_error_errno(err, "cannot create directory '%s'", path);
	return 0;
}

static void
rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (d == NULL) {
		unlink(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct bb_buf p = BB_BUF_INIT;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (bb_buf_addf(&p, "%s/%s", path, de->d_name) == 0) {
			if (de->d_type == DT_DIR)
				rm_tree(p.data);
			else
				unlink(p.data);
		}
		bb_buf_release(&p);
	}
	closedir(d);
	rmdir(path);
}

int
emu_store_open(struct emu_store **out, const char *data_dir, struct bb_error *err)
{
	struct emu_store *s;
	struct bb_buf path = BB_BUF_INIT;
	struct dirent *de;
	DIR *d = NULL;
	int rc = -1;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->dir = strdup(data_dir)) == NULL) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	pthread_mutex_init(&s->lock, NULL);
	RAND_bytes((unsigned char *)&s->gen, sizeof(s->gen));
	s->gen &= 0xffffffffffffULL;
	if (mkdir_p1(data_dir, err) < 0)
		goto out;
	if (path_of(&path, s, "s3") || mkdir_p1(path.data, err) < 0)
		goto out;
	if (path_of(&path, s, "uploads") || mkdir_p1(path.data, err) < 0)
		goto out;
	/* Bodies half-received when the last run ended are garbage. */
	if (path_of(&path, s, "tmp") < 0)
		goto out;
	rm_tree(path.data);
	if (mkdir_p1(path.data, err) < 0)
		goto out;
	if (path_of(&path, s, "s3") < 0 || (d = opendir(path.data)) == NULL) {
		bb_error_errno(err, "cannot open '%s'", path.data);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !emu_store_valid_bucket(de->d_name))
			continue;
		if (load_bucket(s, de->d_name, err) < 0)
			goto out;
	}
	rc = 0;
	*out = s;
	s = NULL;
out:
	if (d)
		closedir(d);
	bb_buf_release(&path);
	emu_store_close(s);
	return rc;
}

void
emu_store_close(struct emu_store *s)
{
	size_t i, j;

	if (s == NULL)
		return;
	for (i = 0; i < s->nb; i++) {
		for (j = 0; j < s->b[i].n; j++)
			obj_release(&s->b[i].v[j]);
		free(s->b[i].v);
		free(s->b[i].name);
	}
	free(s->b);
	free(s->dir);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int
emu_store_bucket_exists(struct emu_store *s, const char *bucket)
{
	int r;

	pthread_mutex_lock(&s->lock);
	r = bucket_find(s, bucket) != NULL;
	pthread_mutex_unlock(&s->lock);
	return r;
}

int
emu_store_create_bucket(struct emu_store *s, const char *bucket, struct bb_error *err)
{
	struct bb_buf path = BB_BUF_INIT;
	int rc = -1;

	if (!emu_store_valid_bucket(bucket))
		return bb_error_set(err, BB_ERR_INPUT, "invalid bucket name");
	pthread_mutex_lock(&s->lock);
	if (bucket_find(s, bucket)) {
		rc = 0;
		goto out;
	}
	if (path_of(&path, s, "s3/%s", bucket) < 0) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	if (mkdir(path.data, 0755) < 0 && errno != EEXIST) {
		bb_error_errno(err, "cannot create '%s'", path.data);
		goto out;
	}
	if (bucket_add(s, bucket, emu_wall_now()) == NULL) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&s->lock);
	bb_buf_release(&path);
	return rc;
}

int
emu_store_delete_bucket(struct emu_store *s, const char *bucket, struct bb_error *err)
{
	struct bb_buf path = BB_BUF_INIT;
	struct emu_bucket *b;
	int rc = -1;

	pthread_mutex_lock(&s->lock);
	if ((b = bucket_get(s, bucket, err)) == NULL)
		goto out;
	if (b->n > 0) {
		bb_error_set(err, BB_ERR_INPUT, "bucket not empty");
		goto out;
	}
	if (path_of(&path, s, "s3/%s", bucket) == 0)
		rm_tree(path.data);
	free(b->v);
	free(b->name);
	memmove(b, b + 1, (size_t)(&s->b[s->nb] - (b + 1)) * sizeof(*b));
	s->nb--;
	rc = 0;
out:
	pthread_mutex_unlock(&s->lock);
	bb_buf_release(&path);
	return rc;
}

int
emu_store_list_buckets(struct emu_store *s, emu_store_bucket_fn fn, void *ctx)
{
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nb; i++)
		if (fn(s->b[i].name, s->b[i].ctime, ctx))
			break;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static struct emu_obj *
lookup(struct emu_store *s, const char *bucket, const char *key, struct bb_error *err)
{
	struct emu_bucket *b = bucket_get(s, bucket, err);
	int found;
	size_t pos;

	if (b == NULL)
		return NULL;
	pos = obj_pos(b, key, &found);
	if (!found) {
		bb_error_set(err, BB_ERR_NOTFOUND, "no such key");
		return NULL;
	}
	return &b->v[pos];
}

int
emu_store_stat(struct emu_store *s, const char *bucket, const char *key,
    struct emu_object_info *info, struct bb_error *err)
{
	struct emu_obj *o;
	int rc = -1;

	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&s->lock);
	if ((o = lookup(s, bucket, key, err)) == NULL)
		goto out;
	if (info_copy(info, &o->info) < 0) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Append the whole file `src` to fd `out` (in-kernel copy when possible). */
static int
append_file(int out, const char *src, uint64_t size, struct bb_error *err)
{
	static const size_t bufsz = 1 << 20;
	char *buf = NULL;
	int in, rc = -1;
	uint64_t done = 0;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return bb_error_errno(err, "cannot open '%s'", src);
	while (done < size) {
		ssize_t r;
		size_t want = size - done > (1u << 30) ? (1u << 30) : (size_t)(size - done);

#ifdef __linux__
		if (buf == NULL) {
			r = copy_file_range(in, NULL, out, NULL, want, 0);
			if (r > 0) {
				done += (uint64_t)r;
				continue;
			}
			if (r == 0) {
				bb_error_set(err, BB_ERR_SYSTEM, "'%s' is shorter than recorded", src);
				goto out;
			}
			if (errno == EINTR)
				continue;
		}
#endif
		if (buf == NULL && (buf = malloc(bufsz)) == NULL) {
			bb_error_errno(err, "out of memory");
			goto out;
		}
		r = read(in, buf, want < bufsz ? want : bufsz);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			bb_error_errno(err, "cannot read '%s'", src);
			goto out;
		}
		if (emu_write_all(out, buf, (size_t)r) < 0) {
			bb_error_errno(err, "cannot write");
			goto out;
		}
		done += (uint64_t)r;
	}
	rc = 0;
out:
	free(buf);
	close(in);
	return rc;
}

int
emu_store_reader_open(struct emu_store *s, const char *bucket, const char *key,
    struct emu_store_reader **out, struct emu_object_info *info, struct bb_error *err)
{
	struct emu_store_reader *r;
	struct bb_buf path = BB_BUF_INIT;
	struct emu_obj *o;
	int rc = -1;

	*out = NULL;
	memset(info, 0, sizeof(*info));
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return bb_error_errno(err, "out of memory");
	r->s = s;
	r->fd = -1;
	pthread_mutex_lock(&s->lock);
	if ((o = lookup(s, bucket, key, err)) == NULL)
		goto out;
	if (info_copy(info, &o->info) < 0) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	if (o->mp) {
		/* The files stay while this reference is held. */
		o->mp->refs++;
		r->mp = o->mp;
	} else {
		if (path_of(&path, s, "s3/%s/%s", bucket, o->data_name) < 0) {
			bb_error_errno(err, "out of memory");
			goto out;
		}
		/* Opened under the lock: a concurrent overwrite renames a new
		 * file into place, and this fd keeps reading the old one. */
		if ((r->fd = open(path.data, O_RDONLY | O_CLOEXEC)) < 0) {
			bb_error_errno(err, "cannot open '%s'", path.data);
			goto out;
		}
	}
	rc = 0;
out:
	pthread_mutex_unlock(&s->lock);
	bb_buf_release(&path);
	if (rc < 0) {
		emu_object_info_release(info);
		emu_store_reader_free(r);
	} else
		*out = r;
	return rc;
}

/* Make fd of r the one of file i of its part set. */
static int
reader_seek_file(struct emu_store_reader *r, size_t i)
{
	struct bb_buf path = BB_BUF_INIT;
	int rc = -1;

	if (r->fd >= 0 && r->cur == i)
		return 0;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	if (parts_path(&path, r->mp, i) == 0 &&
	    (r->fd = open(path.data, O_RDONLY | O_CLOEXEC)) >= 0) {
		r->cur = i;
		rc = 0;
	}
	bb_buf_release(&path);
	return rc;
}

ssize_t
emu_store_reader_pread(struct emu_store_reader *r, void *buf, size_t n, uint64_t pos)
{
	uint64_t start;
	ssize_t got;
	size_t i;

	if (r->mp == NULL) {
		if (pos > (uint64_t)INT64_MAX) {
			errno = EINVAL;
			return -1;
		}
		do
			got = pread(r->fd, buf, n, (off_t)pos);
		while (got < 0 && errno == EINTR);
		return got;
	}
	if ((i = parts_find(r->mp, pos)) >= r->mp->n)
		return 0;
	start = i > 0 ? r->mp->end[i - 1] : 0;
	if (r->mp->end[i] - pos < n)
		n = (size_t)(r->mp->end[i] - pos);
	if (reader_seek_file(r, i) < 0)
		return -1;
	do
		got = pread(r->fd, buf, n, (off_t)(pos - start));
	while (got < 0 && errno == EINTR);
	if (got == 0) {   /* a file shorter than recorded */
		errno = EIO;
		got = -1;
	}
	return got;
}

int
emu_store_reader_fd(struct emu_store_reader *r, uint64_t pos, uint64_t len, int *fd, off_t *off)
{
	size_t i;

	*fd = -1;
	*off = 0;
	if (r->mp == NULL) {
		if ((*fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0)) < 0)
			return -1;
		*off = (off_t)pos;
		return 1;
	}
	i = parts_find(r->mp, pos);
	if (i >= r->mp->n || len > r->mp->end[i] - pos)
		return 0;
	if (reader_seek_file(r, i) < 0 || (*fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -1;
	*off = (off_t)(pos - (i > 0 ? r->mp->end[i - 1] : 0));
	return 1;
}

void
emu_store_reader_free(struct emu_store_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	if (r->mp) {
		pthread_mutex_lock(&r->s->lock);
		parts_unref(r->mp);
		pthread_mutex_unlock(&r->s->lock);
	}
	free(r);
}

int
emu_store_tmpfile(struct emu_store *s, struct bb_buf *path, int *fd, struct bb_error *err)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = ++s->gen;
	pthread_mutex_unlock(&s->lock);
	if (path_of(path, s, "tmp/body-%" PRIx64, n) < 0)
		return bb_error_errno(err, "out of memory");
	*fd = open(path->data, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (*fd < 0)
		return bb_error_errno(err, "cannot create '%s'", path->data);
	return 0;
}

/*
 * Make o (key, data_name, mp and info set, its files in place) the entry
 * of its key in bucket b, with s->lock held: write the .meta (the commit
 * point), put it in the index, dispose of the entry it replaces. o is
 * taken (zeroed) on success, left to the caller on failure.
 */
static int
obj_publish(struct emu_store *s, struct emu_bucket *b, const char *bucket, struct emu_obj *o,
    struct bb_error *err)
{
	struct bb_buf meta = BB_BUF_INIT, mpath = BB_BUF_INIT;
	struct emu_obj old;
	char h[65];
	int rc = -1;

	key_hash(o->key, h);
	if (path_of(&mpath, s, "s3/%s/%s.meta", bucket, h) < 0 ||
	    meta_format(&meta, o->key, o->data_name, o->mp, &o->info) < 0) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	if (emu_write_file(mpath.data, meta.data, meta.len, err) < 0)
		goto out;
	if (obj_insert(b, o, &old) < 0) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	memset(o, 0, sizeof(*o));
	obj_dispose(s, bucket, &old);
	rc = 0;
out:
	bb_buf_release(&meta);
	bb_buf_release(&mpath);
	return rc;
}

int
emu_store_commit(struct emu_store *s, const char *bucket, const char *key,
    const char *tmp_path, const struct emu_object_info *info, struct bb_error *err)
{
	struct bb_buf dpath = BB_BUF_INIT;
	struct emu_bucket *b;
	struct emu_obj o;
	char h[65], dname[96];
	int rc = -1, renamed = 0;

	memset(&o, 0, sizeof(o));
	if (!emu_store_valid_key(key))
		return bb_error_set(err, BB_ERR_INPUT, "invalid key");
	key_hash(key, h);
	pthread_mutex_lock(&s->lock);
	if ((b = bucket_get(s, bucket, err)) == NULL)
		goto out;
	snprintf(dname, sizeof(dname), "%s-%" PRIx64 ".data", h, ++s->gen);
	if (path_of(&dpath, s, "s3/%s/%s", bucket, dname) < 0 ||
	    info_copy(&o.info, info) < 0 ||
	    (o.key = strdup(key)) == NULL || (o.data_name = strdup(dname)) == NULL) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	if (rename(tmp_path, dpath.data) < 0) {
		bb_error_errno(err, "cannot rename '%s'", tmp_path);
		goto out;
	}
	renamed = 1;
	if (obj_publish(s, b, bucket, &o, err) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0 && renamed)
		unlink(dpath.data);
	pthread_mutex_unlock(&s->lock);
	obj_release(&o);
	bb_buf_release(&dpath);
	return rc;
}

int
emu_store_put_mem(struct emu_store *s, const char *bucket, const char *key,
    const void *data, size_t len, const char *content_type, struct bb_error *err)
{
	struct bb_buf tmp = BB_BUF_INIT;
	struct emu_object_info info;
	unsigned char md[BB_MD5_LEN];
	int fd = -1, rc = -1;

	memset(&info, 0, sizeof(info));
	if (emu_store_tmpfile(s, &tmp, &fd, err) < 0)
		goto out;
	if (emu_write_all(fd, data, len) < 0) {
		bb_error_errno(err, "cannot write '%s'", tmp.data);
		goto out;
	}
	close(fd);
	fd = -1;
	if (bb_md5(data, len, md) < 0) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	emu_etag(md, info.etag);
	info.size = len;
	info.mtime = emu_wall_now();
	snprintf(info.content_type, sizeof(info.content_type), "%s",
	    content_type ? content_type : "application/octet-stream");
	rc = emu_store_commit(s, bucket, key, tmp.data, &info, err);
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp.data)
		unlink(tmp.data);
	bb_buf_release(&tmp);
	return rc;
}

int
emu_store_delete(struct emu_store *s, const char *bucket, const char *key, struct bb_error *err)
{
	struct bb_buf path = BB_BUF_INIT;
	struct emu_bucket *b;
	char h[65];
	int found, rc = -1;
	size_t pos;

	pthread_mutex_lock(&s->lock);
	if ((b = bucket_get(s, bucket, err)) == NULL)
		goto out;
	pos = obj_pos(b, key, &found);
	if (!found) {
		rc = 0;   /* S3 deletes are idempotent */
		goto out;
	}
	key_hash(key, h);
	if (path_of(&path, s, "s3/%s/%s.meta", bucket, h) == 0)
		unlink(path.data);
	obj_dispose(s, bucket, &b->v[pos]);
	memmove(&b->v[pos], &b->v[pos + 1], (b->n - pos - 1) * sizeof(*b->v));
	b->n--;
	rc = 0;
out:
	pthread_mutex_unlock(&s->lock);
	bb_buf_release(&path);
	return rc;
}

int
emu_store_list(struct emu_store *s, const char *bucket, const char *prefix,
    const char *start_after, emu_store_list_fn fn, void *ctx, struct bb_error *err)
{
	struct emu_bucket *b;
	size_t pos, plen = prefix ? strlen(prefix) : 0;
	int found, rc = -1;

	pthread_mutex_lock(&s->lock);
	if ((b = bucket_get(s, bucket, err)) == NULL)
		goto out;
	pos = 0;
	if (plen)
		pos = obj_pos(b, prefix, &found);
	if (start_after && *start_after) {
		size_t p2 = obj_pos(b, start_after, &found);

		if (found)
			p2++;
		if (p2 > pos)
			pos = p2;
	}
	for (; pos < b->n; pos++) {
		if (plen && strncmp(b->v[pos].key, prefix, plen) != 0)
			break;
		if (fn(b->v[pos].key, &b->v[pos].info, ctx))
			break;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- multipart uploads ---- */

static int
valid_upload_id(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return i == 32;
}

/*
 * Read uploads/ID/upload: "bucket NAME" then the object's .meta fields,
 * into o (released by the caller) with *bucket pointing into text;
 * *initiated (may be NULL) gets the file's time. -1 when the id is not
 * well-formed or the upload is absent or unreadable.
 */
static int
upload_read(struct emu_store *s, const char *upload_id, struct bb_buf *text,
    struct emu_obj *o, const char **bucket, double *initiated)
{
	struct bb_buf path = BB_BUF_INIT;
	struct stat st;
	char *nl;
	int rc = -1;

	if (!valid_upload_id(upload_id) ||
	    path_of(&path, s, "uploads/%s/upload", upload_id) < 0 ||
	    (initiated != NULL && stat(path.data, &st) < 0) ||
	    emu_read_file(path.data, text, 1 << 20) < 0 ||
	    strncmp(text->data, "bucket ", 7) != 0 || (nl = strchr(text->data, '\n')) == NULL)
		goto out;
	*nl = '\0';
	if (meta_parse(nl + 1, o) < 0)
		goto out;
	*bucket = text->data + 7;
	if (initiated != NULL)
		*initiated = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
	rc = 0;
out:
	bb_buf_release(&path);
	return rc;
}

int
emu_store_upload_create(struct emu_store *s, const char *bucket, const char *key,
    const struct emu_object_info *proto, char upload_id[33], struct bb_error *err)
{
	struct bb_buf path = BB_BUF_INIT, text = BB_BUF_INIT;
	unsigned char rnd[16];
	int rc = -1, made = 0;

	if (!emu_store_bucket_exists(s, bucket))
		return bb_error_set(err, BB_ERR_NOTFOUND, "no such bucket");
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return bb_error_set(err, BB_ERR_SYSTEM, "no random bytes");
	bb_hex_encode(rnd, sizeof(rnd), upload_id);
	if (path_of(&path, s, "uploads/%s", upload_id) < 0)
		goto nomem;
	if (mkdir(path.data, 0755) < 0) {
		bb_error_errno(err, "cannot create '%s'", path.data);
		goto out;
	}
	made = 1;
	if (bb_buf_addf(&text, "bucket %s\n", bucket) < 0 || meta_format(&text, key, "-", NULL, proto) < 0 ||
	    bb_buf_adds(&path, "/upload") < 0)
		goto nomem;
	if (emu_write_file(path.data, text.data, text.len, err) < 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	bb_error_errno(err, "out of memory");
out:
	if (rc < 0 && made && path_of(&path, s, "uploads/%s", upload_id) == 0)
		rm_tree(path.data);
	bb_buf_release(&path);
	bb_buf_release(&text);
	return rc;
}

int
emu_store_upload_get(struct emu_store *s, const char *upload_id, const char *bucket,
    const char *key, struct emu_object_info *proto, struct bb_error *err)
{
	struct bb_buf text = BB_BUF_INIT;
	struct emu_obj o;
	const char *obucket;
	int rc = -1;

	memset(&o, 0, sizeof(o));
	if (proto)
		memset(proto, 0, sizeof(*proto));
	if (upload_read(s, upload_id, &text, &o, &obucket, NULL) < 0 ||
	    strcmp(obucket, bucket) != 0 || strcmp(o.key, key) != 0) {
		bb_error_set(err, BB_ERR_NOTFOUND, "no such upload");
		goto out;
	}
	if (proto) {
		*proto = o.info;
		o.info.meta_json = NULL;
	}
	rc = 0;
out:
	obj_release(&o);
	bb_buf_release(&text);
	return rc;
}

int
emu_store_upload_put_part(struct emu_store *s, const char *upload_id, long part_number,
    const char *tmp_path, const struct emu_part_info *part, struct bb_error *err)
{
	struct bb_buf path = BB_BUF_INIT, text = BB_BUF_INIT;
	char md5hex[33];
	int rc = -1;

	bb_hex_encode(part->md5, 16, md5hex);
	if (!valid_upload_id(upload_id))
		return bb_error_set(err, BB_ERR_NOTFOUND, "no such upload");
	if (bb_buf_addf(&text, "size %" PRIu64 "\nmd5 %s\nmtime %.3f\ncalg ", part->size, md5hex,
	    part->mtime) < 0 || pct_add(&text, part->checksum_alg) < 0 ||
	    bb_buf_adds(&text, "\ncsum ") < 0 || pct_add(&text, part->checksum) < 0 ||
	    bb_buf_addc(&text, '\n') < 0) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	/* The part file first, then its info: list_parts only shows a part
	 * whose info exists, so a half-written part is never listed. */
	if (path_of(&path, s, "uploads/%s/%ld.part", upload_id, part_number) < 0)
		goto out;
	if (rename(tmp_path, path.data) < 0) {
		if (errno == ENOENT)
			bb_error_set(err, BB_ERR_NOTFOUND, "no such upload");
		else
			bb_error_errno(err, "cannot rename '%s'", tmp_path);
		goto out;
	}
	if (path_of(&path, s, "uploads/%s/%ld.info", upload_id, part_number) < 0)
		goto out;
	if (emu_write_file(path.data, text.data, text.len, err) < 0)
		goto out;
	rc = 0;
out:
	bb_buf_release(&path);
	bb_buf_release(&text);
	return rc;
}

static int
read_part_info(struct emu_store *s, const char *upload_id, long n, struct emu_part_info *p)
{
	struct bb_buf path = BB_BUF_INIT, text = BB_BUF_INIT;
	char *cur, *name, *value;
	int rc = -1, have_md5 = 0;

	memset(p, 0, sizeof(*p));
	p->part_number = n;
	if (path_of(&path, s, "uploads/%s/%ld.info", upload_id, n) < 0 ||
	    emu_read_file(path.data, &text, 4096) < 0)
		goto out;
	cur = text.data;
	while (next_field(&cur, &name, &value)) {
		if (pct_decode(value) < 0)
			goto out;
		if (strcmp(name, "size") == 0)
			p->size = strtoull(value, NULL, 10);
		else if (strcmp(name, "mtime") == 0)
			p->mtime = strtod(value, NULL);
		else if (strcmp(name, "md5") == 0 &&
		    bb_hex_decode(value, strlen(value), p->md5, sizeof(p->md5)) == 0)
			have_md5 = 1;
		else if (strcmp(name, "calg") == 0)
			snprintf(p->checksum_alg, sizeof(p->checksum_alg), "%s", value);
		else if (strcmp(name, "csum") == 0)
			snprintf(p->checksum, sizeof(p->checksum), "%s", value);
	}
	rc = have_md5 ? 0 : -1;
out:
	bb_buf_release(&path);
	bb_buf_release(&text);
	return rc;
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

int
emu_store_upload_parts(struct emu_store *s, const char *upload_id,
    struct emu_part_info **parts, size_t *nparts, struct bb_error *err)
{
	struct bb_buf path = BB_BUF_INIT;
	struct dirent *de;
	long *nums = NULL;
	size_t n = 0, cap = 0, i, w = 0;
	DIR *d = NULL;
	int rc = -1;

	*parts = NULL;
	*nparts = 0;
	if (!valid_upload_id(upload_id) || path_of(&path, s, "uploads/%s", upload_id) < 0 ||
	    (d = opendir(path.data)) == NULL) {
		bb_error_set(err, BB_ERR_NOTFOUND, "no such upload");
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (end == de->d_name || strcmp(end, ".info") != 0 || v < 1 || v > 10000)
			continue;
		if (n == cap) {
			long *nn;

			cap = cap ? cap * 2 : 64;
			if ((nn = realloc(nums, cap * sizeof(*nn))) == NULL) {
				bb_error_errno(err, "out of memory");
				goto out;
			}
			nums = nn;
		}
		nums[n++] = v;
	}
	if (n > 0) {
		qsort(nums, n, sizeof(*nums), cmp_long);
		if ((*parts = calloc(n, sizeof(**parts))) == NULL) {
			bb_error_errno(err, "out of memory");
			goto out;
		}
		for (i = 0; i < n; i++)
			if (read_part_info(s, upload_id, nums[i], &(*parts)[w]) == 0)
				w++;
	}
	*nparts = w;
	rc = 0;
out:
	if (d)
		closedir(d);
	free(nums);
	bb_buf_release(&path);
	return rc;
}

/*
 * Give the object the part file src as its file dst: a hard link (the
 * part is never written again), or a copy where the file system has none.
 */
static int
link_part(const char *src, const char *dst, uint64_t size, struct bb_error *err)
{
	struct stat st;
	int fd, rc = -1;

	if (link(src, dst) == 0) {
		if (stat(dst, &st) < 0 || (uint64_t)st.st_size != size) {
			unlink(dst);
			return bb_error_set(err, BB_ERR_SYSTEM, "'%s' is not of its recorded size", src);
		}
		return 0;
	}
	if (errno == ENOENT)
		return bb_error_set(err, BB_ERR_NOTFOUND, "no such upload");
	if ((fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return bb_error_errno(err, "cannot create '%s'", dst);
	if (append_file(fd, src, size, err) == 0) {
		if (close(fd) == 0)
			rc = 0;
		else
			bb_error_errno(err, "cannot write '%s'", dst);
	} else
		close(fd);
	if (rc < 0)
		unlink(dst);
	return rc;
}

int
emu_store_upload_complete(struct emu_store *s, const char *upload_id, const char *bucket,
    const char *key, const struct emu_part_info *parts, size_t nparts,
    const struct emu_object_info *info, struct bb_error *err)
{
	struct bb_buf src = BB_BUF_INIT, dst = BB_BUF_INIT;
	struct emu_parts *mp = NULL;
	struct emu_bucket *b;
	struct emu_obj o;
	char h[65], stem[96];
	uint64_t gen, total = 0;
	size_t i, made = 0;
	int rc = -1;

	memset(&o, 0, sizeof(o));
	if (!emu_store_valid_key(key))
		return bb_error_set(err, BB_ERR_INPUT, "invalid key");
	if (!valid_upload_id(upload_id))
		return bb_error_set(err, BB_ERR_NOTFOUND, "no such upload");
	if (nparts == 0)
		return bb_error_set(err, BB_ERR_INPUT, "no parts");
	key_hash(key, h);
	pthread_mutex_lock(&s->lock);
	gen = ++s->gen;
	pthread_mutex_unlock(&s->lock);
	snprintf(stem, sizeof(stem), "%s-%" PRIx64 ".mp", h, gen);
	if ((mp = parts_new(nparts)) == NULL || path_of(&dst, s, "s3/%s", bucket) < 0 ||
	    (mp->dir = strdup(dst.data)) == NULL || (mp->stem = strdup(stem)) == NULL) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	/* No copy: the parts become the object's files. */
	for (i = 0; i < nparts; i++) {
		if (parts[i].size > UINT64_MAX - total) {
			bb_error_set(err, BB_ERR_INPUT, "object too large");
			goto out;
		}
		total += parts[i].size;
		mp->end[i] = total;
		if (path_of(&src, s, "uploads/%s/%ld.part", upload_id, parts[i].part_number) < 0 ||
		    parts_path(&dst, mp, i) < 0) {
			bb_error_errno(err, "out of memory");
			goto out;
		}
		if (link_part(src.data, dst.data, parts[i].size, err) < 0)
			goto out;
		made = i + 1;
	}
	if (total != info->size) {
		bb_error_set(err, BB_ERR_SYSTEM, "parts of %" PRIu64 " bytes for an object of %"
		    PRIu64, total, info->size);
		goto out;
	}
	pthread_mutex_lock(&s->lock);
	if ((b = bucket_get(s, bucket, err)) == NULL) {
		pthread_mutex_unlock(&s->lock);
		goto out;
	}
	if (info_copy(&o.info, info) < 0 || (o.key = strdup(key)) == NULL ||
	    (o.data_name = strdup(stem)) == NULL) {
		pthread_mutex_unlock(&s->lock);
		bb_error_errno(err, "out of memory");
		goto out;
	}
	o.mp = mp;
	mp = NULL;
	if (obj_publish(s, b, bucket, &o, err) < 0) {
		mp = o.mp;
		o.mp = NULL;
		pthread_mutex_unlock(&s->lock);
		goto out;
	}
	pthread_mutex_unlock(&s->lock);
	if (path_of(&src, s, "uploads/%s", upload_id) == 0)
		rm_tree(src.data);
	rc = 0;
out:
	for (i = 0; rc < 0 && i < made; i++)
		if (parts_path(&dst, mp, i) == 0)
			unlink(dst.data);
	parts_unref(mp);   /* not shared: no lock needed */
	obj_release(&o);
	bb_buf_release(&src);
	bb_buf_release(&dst);
	return rc;
}

int
emu_store_upload_abort(struct emu_store *s, const char *upload_id, struct bb_error *err)
{
	struct bb_buf path = BB_BUF_INIT;
	struct stat st;
	int rc = -1;

	if (!valid_upload_id(upload_id) || path_of(&path, s, "uploads/%s", upload_id) < 0 ||
	    stat(path.data, &st) < 0) {
		bb_error_set(err, BB_ERR_NOTFOUND, "no such upload");
		goto out;
	}
	rm_tree(path.data);
	rc = 0;
out:
	bb_buf_release(&path);
	return rc;
}

int
emu_store_upload_list(struct emu_store *s, const char *bucket, emu_store_upload_fn fn,
    void *ctx, struct bb_error *err)
{
	struct bb_buf path = BB_BUF_INIT, text = BB_BUF_INIT;
	struct emu_obj o;
	struct dirent *de;
	DIR *d = NULL;
	const char *obucket;
	double initiated;
	int rc = -1;

	memset(&o, 0, sizeof(o));
	if (path_of(&path, s, "uploads") < 0) {
		bb_error_errno(err, "out of memory");
		goto out;
	}
	if ((d = opendir(path.data)) == NULL) {
		bb_error_errno(err, "cannot read '%s'", path.data);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		/* an upload completed or aborted meanwhile is skipped */
		obj_release(&o);
		if (upload_read(s, de->d_name, &text, &o, &obucket, &initiated) < 0 ||
		    strcmp(obucket, bucket) != 0)
			continue;
		if (fn(o.key, de->d_name, initiated, ctx))
			break;
	}
	rc = 0;
out:
	if (d)
		closedir(d);
	obj_release(&o);
	bb_buf_release(&path);
	bb_buf_release(&text);
	return rc;
}
