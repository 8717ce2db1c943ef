/* awsconfig.c - AWS shared config and credentials files; see awsconfig.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "awsconfig.h"

/* Shared files hold a few profiles; anything this big is a mistake. */
#define INI_MAX_BYTES (16u << 20)

enum sec_kind { SEC_PROFILE, SEC_SSO, SEC_SERVICES, SEC_OTHER };

struct ini_ent {
	enum sec_kind kind;
	char *name;    /* section name (profile name for profiles) */
	char *key;     /* NULL: the entry only records that the section exists */
	char *sub;     /* sub-setting name, or NULL */
	char *value;
};

struct bb_ini {
	struct ini_ent *v;
	size_t n, cap;
};

static const char *const sec_kind_names[] = { "profile", "sso-session", "services", "" };

static void
ini_free(struct bb_ini *ini)
{
	size_t i;

	if (ini == NULL)
		return;
	for (i = 0; i < ini->n; i++) {
		free(ini->v[i].name);
		free(ini->v[i].key);
		free(ini->v[i].sub);
		if (ini->v[i].value) {
			/* Values may be secret keys. */
			OPENSSL_cleanse(ini->v[i].value, strlen(ini->v[i].value));
			free(ini->v[i].value);
		}
	}
	free(ini->v);
	free(ini);
}

static char *
dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int
ini_add(struct bb_ini *ini, enum sec_kind kind, const char *name, const char *key,
    const char *sub, const char *value, size_t vlen)
{
	struct ini_ent *e;

	if (ini->n == ini->cap) {
		size_t ncap = ini->cap ? ini->cap * 2 : 16;
		struct ini_ent *nv;

		if (ncap > SIZE_MAX / sizeof(*nv))
			return -1;
		nv = realloc(ini->v, ncap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		ini->v = nv;
		ini->cap = ncap;
	}
	e = &ini->v[ini->n];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->name = strdup(name);
	e->key = key ? strdup(key) : NULL;
	e->sub = sub ? strdup(sub) : NULL;
	e->value = value ? dupn(value, vlen) : NULL;
	if (e->name == NULL || (key && e->key == NULL) || (sub && e->sub == NULL) ||
	    (value && e->value == NULL)) {
		free(e->name);
		free(e->key);
		free(e->sub);
		free(e->value);
		return -1;
	}
	if (e->key)
		lower(e->key);
	if (e->sub)
		lower(e->sub);
	ini->n++;
	return 0;
}

/* Trim [*s, *e) of blanks on both sides. */
static void
trim(const char **s, const char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

/* Cut an inline comment: '#' or ';' preceded by a blank. */
static void
cut_comment(const char *s, const char **e)
{
	const char *p;

	for (p = s + 1; p < *e; p++) {
		if ((*p == '#' || *p == ';') && isspace((unsigned char)p[-1])) {
			*e = p;
			break;
		}
	}
	if (*e > s && (*s == '#' || *s == ';'))
		*e = s;   /* the whole value is a comment */
	trim(&s, e);
}

/* Map a section header to its kind and name. */
static int
section_name(const char *s, const char *e, int creds, enum sec_kind *kind, char **name)
{
	static const struct { const char *word; enum sec_kind kind; } words[] = {
		{ "profile", SEC_PROFILE },
		{ "sso-session", SEC_SSO },
		{ "services", SEC_SERVICES },
	};
	size_t i;

	*kind = SEC_OTHER;
	if (!creds && !((size_t)(e - s) == 7 && memcmp(s, "default", 7) == 0)) {
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
			size_t wl = strlen(words[i].word);

			if ((size_t)(e - s) > wl && memcmp(s, words[i].word, wl) == 0 &&
			    isspace((unsigned char)s[wl])) {
				*kind = words[i].kind;
				s += wl;
				trim(&s, &e);
				/* botocore splits the header shell-style: allow quotes. */
				if (e - s >= 2 && (*s == '"' || *s == '\'') && e[-1] == *s) {
					s++;
					e--;
				}
				break;
			}
		}
	} else {
		*kind = SEC_PROFILE;
	}
	*name = dupn(s, (size_t)(e - s));
	return *name ? 0 : -1;
}

static int
ini_parse(const char *path, const char *text, size_t len, int creds, struct bb_ini *ini,
    struct bb_error *err)
{
	const char *p = text, *end = text + len;
	unsigned lineno = 0;
	char *sec = NULL;
	enum sec_kind kind = SEC_OTHER;
	size_t last_key = SIZE_MAX;   /* entry index of the last top-level key */
	int nested = 0;               /* the last key had an empty value */
	int rc = -1;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *ls = p, *le = nl ? nl : end;
		int indented;

		p = nl ? nl + 1 : end;
		lineno++;
		if (memchr(ls, '\0', (size_t)(le - ls))) {
			bb_error_set(err, BB_ERR_INPUT, "%s:%u: NUL byte in line", path, lineno);
			goto out;
		}
		indented = ls < le && (*ls == ' ' || *ls == '\t');
		trim(&ls, &le);
		if (ls == le || *ls == '#' || *ls == ';')
			continue;
		if (indented && last_key != SIZE_MAX) {
			struct ini_ent *k = &ini->v[last_key];

			if (nested) {
				const char *eq = memchr(ls, '=', (size_t)(le - ls));
				const char *ks = ls, *ke, *vs, *ve = le;
				char *sub;

				if (eq == NULL) {
					bb_error_set(err, BB_ERR_INPUT,
					    "%s:%u: expected 'name = value' in the sub-section '%s'",
					    path, lineno, k->key);
					goto out;
				}
				ke = eq;
				vs = eq + 1;
				trim(&ks, &ke);
				trim(&vs, &ve);
				cut_comment(vs, &ve);
				if ((sub = dupn(ks, (size_t)(ke - ks))) == NULL)
					goto nomem;
				if (ini_add(ini, kind, sec, k->key, sub, vs, (size_t)(ve - vs))) {
					free(sub);
					goto nomem;
				}
				free(sub);
			} else {
				/* configparser: a continuation line of the value. */
				size_t ol = strlen(k->value), nlen;
				char *nv;

				cut_comment(ls, &le);
				if (bb_size_add(ol, (size_t)(le - ls) + 2, &nlen) ||
				    (nv = malloc(nlen)) == NULL)
					goto nomem;
				memcpy(nv, k->value, ol);
				nv[ol] = '\n';
				memcpy(nv + ol + 1, ls, (size_t)(le - ls));
				nv[nlen - 1] = '\0';
				OPENSSL_cleanse(k->value, ol);
				free(k->value);
				k->value = nv;
			}
			continue;
		}
		if (*ls == '[') {
			const char *close = memchr(ls, ']', (size_t)(le - ls));
			const char *ns = ls + 1, *ne, *rest;

			if (close == NULL) {
				bb_error_set(err, BB_ERR_INPUT, "%s:%u: unterminated section header",
				    path, lineno);
				goto out;
			}
			ne = close;
			trim(&ns, &ne);
			rest = close + 1;
			while (rest < le && isspace((unsigned char)*rest))
				rest++;
			if (ns == ne || (rest < le && *rest != '#' && *rest != ';')) {
				bb_error_set(err, BB_ERR_INPUT, "%s:%u: bad section header", path,
				    lineno);
				goto out;
			}
			free(sec);
			sec = NULL;
			if (section_name(ns, ne, creds, &kind, &sec) ||
			    ini_add(ini, kind, sec, NULL, NULL, NULL, 0))
				goto nomem;
			last_key = SIZE_MAX;
			continue;
		}
		{
			const char *ks = ls, *ke, *vs, *ve = le;
			size_t keq = 0;

			while (ls + keq < le && ls[keq] != '=' && ls[keq] != ':')
				keq++;
			if (ls + keq >= le) {
				bb_error_set(err, BB_ERR_INPUT, "%s:%u: expected 'name = value'",
				    path, lineno);
				goto out;
			}
			ke = ls + keq;
			vs = ke + 1;
			trim(&ks, &ke);
			trim(&vs, &ve);
			cut_comment(vs, &ve);
			if (ks == ke) {
				bb_error_set(err, BB_ERR_INPUT, "%s:%u: empty setting name", path,
				    lineno);
				goto out;
			}
			if (sec == NULL) {
				bb_error_set(err, BB_ERR_INPUT,
				    "%s:%u: setting before the first [section]", path, lineno);
				goto out;
			}
			{
				char *key = dupn(ks, (size_t)(ke - ks));

				if (key == NULL)
					goto nomem;
				if (ini_add(ini, kind, sec, key, NULL, vs, (size_t)(ve - vs))) {
					free(key);
					goto nomem;
				}
				free(key);
			}
			last_key = ini->n - 1;
			nested = ve == vs;
		}
	}
	rc = 0;
	goto out;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "%s: out of memory", path);
out:
	free(sec);
	return rc;
}

/* Read and parse a file; a missing file is an empty one. */
static int
ini_load(const char *path, int creds, struct bb_ini **out, struct bb_error *err)
{
	struct bb_ini *ini;
	struct bb_buf text = BB_BUF_INIT;
	int fd = -1, rc = -1;

	*out = NULL;
	if ((ini = calloc(1, sizeof(*ini))) == NULL) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			rc = 0;
			goto out;
		}
		bb_error_errno(err, "cannot open '%s'", path);
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (text.len >= INI_MAX_BYTES) {
			bb_error_set(err, BB_ERR_INPUT, "'%s' is too large", path);
			goto out;
		}
		if (bb_buf_grow(&text, 8192)) {
			bb_error_errno(err, "cannot read '%s'", path);
			goto out;
		}
		r = read(fd, text.data + text.len, text.cap - text.len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			bb_error_errno(err, "cannot read '%s'", path);
			goto out;
		}
		if (r == 0)
			break;
		text.len += (size_t)r;   /* bb_buf_setlen only truncates */
		text.data[text.len] = '\0';
	}
	if (ini_parse(path, bb_buf_str(&text), text.len, creds, ini, err))
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (text.data)
		OPENSSL_cleanse(text.data, text.len);
	bb_buf_release(&text);
	if (rc == 0)
		*out = ini;
	else
		ini_free(ini);
	return rc;
}

static const char *
ini_get(const struct bb_ini *ini, enum sec_kind kind, const char *name, const char *key,
    const char *sub)
{
	size_t i;

	if (ini == NULL)
		return NULL;
	for (i = ini->n; i-- > 0;) {
		const struct ini_ent *e = &ini->v[i];

		if (e->kind != kind || e->key == NULL || strcmp(e->name, name) != 0 ||
		    strcasecmp(e->key, key) != 0)
			continue;
		if (sub == NULL ? e->sub != NULL : (e->sub == NULL || strcasecmp(e->sub, sub)))
			continue;
		return e->value;
	}
	return NULL;
}

static int
ini_has(const struct bb_ini *ini, enum sec_kind kind, const char *name)
{
	size_t i;

	for (i = 0; ini && i < ini->n; i++)
		if (ini->v[i].kind == kind && strcmp(ini->v[i].name, name) == 0)
			return 1;
	return 0;
}

/* getenv, with "" meaning unset. */
static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* A path from the environment or the default under ~/.aws, "~/" expanded. */
static char *
file_path(const char *var, const char *def, struct bb_error *err)
{
	const char *v = env(var), *home;
	struct bb_buf b = BB_BUF_INIT;
	const char *rest;

	if (v == NULL)
		v = def;
	if (v[0] != '~' || (v[1] != '/' && v[1] != '\0')) {
		if (bb_buf_adds(&b, v))
			goto nomem;
		return bb_buf_detach(&b, NULL);
	}
	rest = v + 1;
	home = env("HOME");
	if (home == NULL) {
		struct passwd *pw = getpwuid(getuid());

		if (pw == NULL || pw->pw_dir == NULL) {
			bb_error_set(err, BB_ERR_USAGE,
			    "cannot find the home directory for '%s' (set HOME or %s)", v, var);
			return NULL;
		}
		home = pw->pw_dir;
	}
	if (bb_buf_adds(&b, home) || bb_buf_adds(&b, rest))
		goto nomem;
	return bb_buf_detach(&b, NULL);
nomem:
	bb_buf_release(&b);
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	return NULL;
}

int
bb_config_is_true(const char *v)
{
	return v != NULL && strcasecmp(v, "true") == 0;
}

static int
region_valid(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > 63 || r[0] == '-' || r[n - 1] == '-')
		return 0;
	return strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int
bb_config_load(struct bb_config *c, const struct bb_config_opts *opts, struct bb_error *err)
{
	static const struct bb_config_opts none = { NULL, NULL };
	const char *prof, *v, *src;
	int named;

	memset(c, 0, sizeof(*c));
	if (opts == NULL)
		opts = &none;
	if ((c->config_path = file_path("AWS_CONFIG_FILE", "~/.aws/config", err)) == NULL ||
	    (c->creds_path = file_path("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials",
	    err)) == NULL)
		goto fail;
	if (ini_load(c->config_path, 0, &c->config_file, err) ||
	    ini_load(c->creds_path, 1, &c->creds_file, err))
		goto fail;

	named = 1;
	if (opts->profile && *opts->profile) {
		prof = opts->profile;
		c->profile_explicit = 1;
	} else if ((prof = env("AWS_PROFILE")) == NULL &&
	    (prof = env("AWS_DEFAULT_PROFILE")) == NULL) {
		prof = "default";
		named = 0;
	}
	if ((c->profile = strdup(prof)) == NULL)
		goto nomem;
	c->profile_found = ini_has(c->config_file, SEC_PROFILE, prof) ||
	    ini_has(c->creds_file, SEC_PROFILE, prof);
	if (named && !c->profile_found) {
		bb_error_set(err, BB_ERR_USAGE,
		    "the profile '%s' (from %s) is in neither '%s' nor '%s'", prof,
		    c->profile_explicit ? "--profile" :
		    env("AWS_PROFILE") ? "AWS_PROFILE" : "AWS_DEFAULT_PROFILE",
		    c->config_path, c->creds_path);
		goto fail;
	}

	if (opts->region && *opts->region) {
		v = opts->region;
		src = "--region";
	} else if ((v = env("AWS_REGION")) != NULL) {
		src = "AWS_REGION";
	} else if ((v = env("AWS_DEFAULT_REGION")) != NULL) {
		src = "AWS_DEFAULT_REGION";
	} else {
		v = bb_config_get(c, "region");
		src = "profile";
		if (v && *v == '\0')
			v = NULL;
	}
	if (v) {
		if (!region_valid(v)) {
			bb_error_set(err, BB_ERR_USAGE, "invalid region '%s' (from %s)", v, src);
			goto fail;
		}
		if ((c->region = strdup(v)) == NULL)
			goto nomem;
		c->region_source = src;
	}

	if ((v = env("AWS_MAX_ATTEMPTS")) != NULL)
		src = "AWS_MAX_ATTEMPTS";
	else
		v = bb_config_get(c, "max_attempts"), src = "max_attempts";
	if (v && *v) {
		char *e;
		long n;

		errno = 0;
		n = strtol(v, &e, 10);
		if (errno || *e || e == v || n < 1 || n > 1000) {
			bb_error_set(err, BB_ERR_USAGE,
			    "invalid %s '%s': expected a whole number from 1 to 1000", src, v);
			goto fail;
		}
		c->max_attempts = (int)n;
	}

	if ((v = env("AWS_CA_BUNDLE")) == NULL)
		v = bb_config_get(c, "ca_bundle");
	if (v && *v) {
		struct bb_buf b = BB_BUF_INIT;

		if (v[0] == '~' && v[1] == '/' && env("HOME")) {
			if (bb_buf_adds(&b, env("HOME")) || bb_buf_adds(&b, v + 1))
				goto nomem;
		} else if (bb_buf_adds(&b, v)) {
			goto nomem;
		}
		c->ca_bundle = bb_buf_detach(&b, NULL);
	}
	return 0;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
fail:
	bb_config_release(c);
	return -1;
}

void
bb_config_release(struct bb_config *c)
{
	free(c->profile);
	free(c->config_path);
	free(c->creds_path);
	ini_free(c->config_file);
	ini_free(c->creds_file);
	free(c->region);
	free(c->ca_bundle);
	memset(c, 0, sizeof(*c));
}

const char *
bb_config_region(const struct bb_config *c, struct bb_error *err)
{
	if (c->region == NULL)
		bb_error_set(err, BB_ERR_USAGE, "no region: use --region or set AWS_REGION");
	return c->region;
}

const char *
bb_config_get_in(const struct bb_config *c, int which, const char *key)
{
	return ini_get(which ? c->creds_file : c->config_file, SEC_PROFILE, c->profile, key,
	    NULL);
}

const char *
bb_config_get(const struct bb_config *c, const char *key)
{
	const char *v = bb_config_get_in(c, 1, key);

	return v ? v : bb_config_get_in(c, 0, key);
}

const char *
bb_config_section_get(const struct bb_config *c, const char *kind, const char *name,
    const char *key, const char *sub)
{
	int k;

	for (k = SEC_PROFILE; k < SEC_OTHER; k++)
		if (strcmp(sec_kind_names[k], kind) == 0)
			return ini_get(c->config_file, (enum sec_kind)k, name, key, sub);
	return NULL;
}

void
bb_endpoint_init(struct bb_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
}

void
bb_endpoint_release(struct bb_endpoint *ep)
{
	free(ep->url);
	free(ep->region);
	memset(ep, 0, sizeof(*ep));
}

/* "bedrock-runtime" -> prefix + "BEDROCK_RUNTIME" (upper) or "bedrock_runtime". */
static int
service_key(struct bb_buf *b, const char *prefix, const char *service, int upper)
{
	const char *s;

	if (bb_buf_adds(b, prefix))
		return -1;
	for (s = service; *s; s++) {
		char ch = (*s == '-' || *s == ' ') ? '_' :
		    (char)(upper ? toupper((unsigned char)*s) : tolower((unsigned char)*s));

		if (bb_buf_addc(b, ch))
			return -1;
	}
	return 0;
}

int
bb_config_endpoint(const struct bb_config *c, const char *service, const char *explicit_url,
    struct bb_endpoint *ep, struct bb_error *err)
{
	struct bb_buf var = BB_BUF_INIT, key = BB_BUF_INIT, url = BB_BUF_INIT;
	const char *v = NULL, *src = NULL, *ign;
	int rc = -1;

	bb_endpoint_init(ep);
	if (service_key(&var, "AWS_ENDPOINT_URL_", service, 1) ||
	    service_key(&key, "", service, 0))
		goto nomem;
	if ((ign = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) == NULL)
		ign = bb_config_get(c, "ignore_configured_endpoint_urls");

	if (explicit_url && *explicit_url) {
		v = explicit_url;
		src = "--endpoint-url";
	} else if (!bb_config_is_true(ign)) {
		const char *svc;

		if ((v = env(bb_buf_str(&var))) != NULL) {
			src = "AWS_ENDPOINT_URL_";   /* refined below */
		} else if ((v = env("AWS_ENDPOINT_URL")) != NULL) {
			src = "AWS_ENDPOINT_URL";
		} else if ((svc = bb_config_get(c, "services")) != NULL && *svc &&
		    (v = bb_config_section_get(c, "services", svc, bb_buf_str(&key),
		    "endpoint_url")) != NULL && *v) {
			src = "services section";
		} else if ((v = bb_config_get(c, "endpoint_url")) != NULL && *v) {
			src = "profile endpoint_url";
		} else {
			v = NULL;
		}
	}
	if (v) {
		size_t n = strlen(v);

		if (strncasecmp(v, "http://", 7) != 0 && strncasecmp(v, "https://", 8) != 0) {
			bb_error_set(err, BB_ERR_USAGE,
			    "invalid endpoint URL '%s' for %s: expected http:// or https://", v,
			    service);
			goto out;
		}
		while (n > 8 && v[n - 1] == '/')
			n--;
		if (bb_buf_add(&url, v, n))
			goto nomem;
		ep->custom = 1;
		ep->source = strcmp(src, "AWS_ENDPOINT_URL_") == 0 ? "AWS_ENDPOINT_URL_<SERVICE>" :
		    src;
	} else {
		const char *r = bb_config_region(c, err);

		if (r == NULL)
			goto out;
		if (bb_buf_adds(&url, "https://") || service_key(&url, "", service, 0))
			goto nomem;
		/* Hostnames use '-', never '_'. */
		{
			char *p;

			for (p = url.data + 8; *p; p++)
				if (*p == '_')
					*p = '-';
		}
		if (bb_buf_addf(&url, ".%s.amazonaws.com%s", r,
		    strncmp(r, "cn-", 3) == 0 ? ".cn" : ""))
			goto nomem;
		ep->source = "default";
	}
	if (c->region && (ep->region = strdup(c->region)) == NULL)
		goto nomem;
	ep->url = bb_buf_detach(&url, NULL);
	rc = 0;
	goto out;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
out:
	bb_buf_release(&var);
	bb_buf_release(&key);
	bb_buf_release(&url);
	if (rc)
		bb_endpoint_release(ep);
	return rc;
}

int
bb_s3_bucket_dns_ok(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63)
		return 0;
	if (!isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
		return 0;
	return strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int
bb_s3_bucket_url(const struct bb_endpoint *ep, const char *bucket, struct bb_buf *out)
{
	if (!ep->custom && bb_s3_bucket_dns_ok(bucket) && strncmp(ep->url, "https://", 8) == 0)
		return bb_buf_addf(out, "https://%s.%s", bucket, ep->url + 8);
	return bb_buf_addf(out, "%s/%s", ep->url, bucket);
}
