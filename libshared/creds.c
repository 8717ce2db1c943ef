/* creds.c - the AWS credential chain; see creds.h. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "creds.h"
#include "http.h"
#include "json.h"

/* botocore's refresh windows (credentials.py). */
#define ADVISORY_SECS (15 * 60)
#define MANDATORY_SECS (10 * 60)

#define PROCESS_TIMEOUT_MS 60000L
#define PROCESS_MAX_OUTPUT ((size_t)1 << 20)
#define STDERR_KEEP 4096
#define META_MAX_BODY ((size_t)64 << 10)
#define CONTAINER_HOST "http://169.254.170.2"
#define IMDS_HOST "http://169.254.169.254"
#define IMDS_HOST6 "http://[fd00:ec2::254]"

enum source {
	SRC_NONE = 0, SRC_EXPLICIT, SRC_ENV, SRC_CREDS_FILE, SRC_PROCESS, SRC_CONFIG_FILE,
	SRC_CONTAINER, SRC_IMDS,
};

struct bb_creds_provider {
	const struct bb_config *cfg;
	struct bb_creds_opts opts;
	char *explicit_id, *explicit_secret, *explicit_token;
	char *bearer;            /* AWS_BEARER_TOKEN_BEDROCK */
	int prefer_sigv4;        /* auth scheme preference puts sigv4 first */
	enum source src;
	struct bb_creds cur;
	time_t clock;
};

typedef int (*fetch_fn)(struct bb_creds_provider *p, struct bb_creds *out,
    struct bb_error *err);

/* ---- small helpers ---- */

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static void
wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static char *
xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static time_t
now_of(const struct bb_creds_provider *p)
{
	return p && p->clock ? p->clock : time(NULL);
}

void
bb_creds_init(struct bb_creds *c)
{
	memset(c, 0, sizeof(*c));
}

void
bb_creds_release(struct bb_creds *c)
{
	wipe_free(c->access_key_id);
	wipe_free(c->secret_access_key);
	wipe_free(c->session_token);
	free(c->account_id);
	free(c->source);
	bb_creds_init(c);
}

/* Fill c (released first) from its parts; NULL/"" token means none. */
static int
creds_set(struct bb_creds *c, const char *id, const char *secret, const char *token,
    const char *account, time_t exp, const char *source, struct bb_error *err)
{
	bb_creds_release(c);
	c->access_key_id = xstrdup(id);
	c->secret_access_key = xstrdup(secret);
	c->session_token = token && *token ? xstrdup(token) : NULL;
	c->account_id = account && *account ? xstrdup(account) : NULL;
	c->source = xstrdup(source);
	c->expiration = exp;
	if (c->access_key_id == NULL || c->secret_access_key == NULL || c->source == NULL ||
	    (token && *token && c->session_token == NULL) ||
	    (account && *account && c->account_id == NULL)) {
		bb_creds_release(c);
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	}
	return 0;
}

int
bb_creds_copy(struct bb_creds *dst, const struct bb_creds *src, struct bb_error *err)
{
	return creds_set(dst, src->access_key_id, src->secret_access_key, src->session_token,
	    src->account_id, src->expiration, src->source, err);
}

/* Append s to b with control characters and non-ASCII shown as '?', at most max bytes. */
static void
add_escaped(struct bb_buf *b, const char *s, size_t n, size_t max)
{
	size_t i;

	for (i = 0; i < n && i < max; i++) {
		unsigned char ch = (unsigned char)s[i];

		bb_buf_addc(b, ch < 0x20 || ch >= 0x7f ? '?' : (char)ch);
	}
	if (n > max)
		bb_buf_adds(b, "...");
}

static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
bb_creds_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, off = 0;
	const char *p;
	time_t t;

	if (s == NULL || strlen(s) < 19 || digits(s, 4, &y) || s[4] != '-' ||
	    digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s + 11, 2, &h) ||
	    s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;

		if (digits(p + 1, 2, &oh) || oh > 23)
			return -1;
		if (p[3] == ':' && digits(p + 4, 2, &om) == 0 && om < 60) {
			off = oh * 3600 + om * 60;
			off = *p == '-' ? -off : off;
			p += 6;
		} else if (digits(p + 3, 2, &om) == 0 && om < 60) {
			off = oh * 3600 + om * 60;
			off = *p == '-' ? -off : off;
			p += 5;
		} else {
			return -1;
		}
	} else {
		return -1;   /* a time without a zone is ambiguous */
	}
	if (*p != '\0')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t - off;
	return 0;
}

/* Wipe every string of a JSON tree (it held secrets), then free it. */
static void
json_wipe(struct bb_json *j)
{
	size_t i;

	if (j == NULL)
		return;
	if (j->str)
		OPENSSL_cleanse(j->str, j->len);
	for (i = 0; i < j->n; i++)
		json_wipe(j->items[i]);
}

static void
json_wipe_free(struct bb_json *j)
{
	json_wipe(j);
	bb_json_free(j);
}

/* A string member, or NULL. */
static const char *
jstr(const struct bb_json *j, const char *key)
{
	const struct bb_json *m = bb_json_get(j, key);

	return bb_json_is(m, BB_JSON_STRING) ? m->str : NULL;
}

/*
 * Credentials from a JSON document: keys named id_key, secret_key,
 * token_key ("SessionToken" or "Token"), Expiration, AccountId.
 * what names the source in errors ("credential_process for profile 'x'").
 */
static int
creds_from_json(const char *text, size_t len, const char *token_key, int need_token,
    const char *what, const char *source, struct bb_creds *out, struct bb_error *err)
{
	struct bb_json *j = NULL;
	const char *id, *secret, *token, *exp;
	time_t t = 0;
	int rc = -1;

	if (bb_json_parse(text, len, 16, &j, NULL) != 0 || !bb_json_is(j, BB_JSON_OBJECT)) {
		/* No parser text: it could quote the secret. */
		bb_error_set(err, BB_ERR_AUTH, "%s: the response is not a JSON object", what);
		goto out;
	}
	id = jstr(j, "AccessKeyId");
	secret = jstr(j, "SecretAccessKey");
	token = jstr(j, token_key);
	exp = jstr(j, "Expiration");
	if (id == NULL || !*id || secret == NULL || !*secret || (need_token && !token)) {
		bb_error_set(err, BB_ERR_AUTH, "%s: the response has no %s", what,
		    id == NULL || !*id ? "AccessKeyId" :
		    secret == NULL || !*secret ? "SecretAccessKey" : token_key);
		goto out;
	}
	if (exp && bb_creds_parse_time(exp, &t) != 0) {
		struct bb_buf b = BB_BUF_INIT;

		add_escaped(&b, exp, strlen(exp), 64);
		bb_error_set(err, BB_ERR_AUTH, "%s: bad Expiration '%s'", what, bb_buf_str(&b));
		bb_buf_release(&b);
		goto out;
	}
	if (creds_set(out, id, secret, token, jstr(j, "AccountId"), t, source, err))
		goto out;
	rc = 0;
out:
	json_wipe_free(j);
	return rc;
}

/* ---- shell-style splitting ---- */

void
bb_creds_argv_free(char **argv)
{
	char **a;

	for (a = argv; a && *a; a++)
		free(*a);
	free(argv);
}

int
bb_creds_split_command(const char *cmd, char ***argvp, int *argcp, struct bb_error *err)
{
	char **argv = NULL;
	size_t argc = 0, cap = 0;
	struct bb_buf w = BB_BUF_INIT;
	const char *p = cmd;
	int inword = 0, rc = -1;

	for (;;) {
		char ch = *p;

		if (ch == '\0' || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
			if (inword) {
				if (argc + 2 > cap) {
					size_t ncap = cap ? cap * 2 : 8;
					char **nv = realloc(argv, ncap * sizeof(*nv));

					if (nv == NULL)
						goto nomem;
					argv = nv;
					cap = ncap;
				}
				if ((argv[argc] = bb_buf_detach(&w, NULL)) == NULL &&
				    (argv[argc] = strdup("")) == NULL)
					goto nomem;
				argv[++argc] = NULL;
				inword = 0;
			}
			if (ch == '\0')
				break;
			p++;
			continue;
		}
		inword = 1;
		if (ch == '\'') {
			const char *q = strchr(p + 1, '\'');

			if (q == NULL) {
				bb_error_set(err, BB_ERR_USAGE, "no closing quotation");
				goto out;
			}
			if (bb_buf_add(&w, p + 1, (size_t)(q - p - 1)))
				goto nomem;
			p = q + 1;
		} else if (ch == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0') {
					bb_error_set(err, BB_ERR_USAGE, "no closing quotation");
					goto out;
				}
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				if (bb_buf_addc(&w, *p))
					goto nomem;
			}
			p++;
		} else if (ch == '\\') {
			if (p[1] == '\0') {
				bb_error_set(err, BB_ERR_USAGE, "no escaped character after '\\'");
				goto out;
			}
			if (bb_buf_addc(&w, p[1]))
				goto nomem;
			p += 2;
		} else {
			if (bb_buf_addc(&w, ch))
				goto nomem;
			p++;
		}
	}
	if (argc == 0) {
		bb_error_set(err, BB_ERR_USAGE, "empty command");
		goto out;
	}
	*argvp = argv;
	*argcp = (int)argc;
	argv = NULL;
	rc = 0;
	goto out;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
out:
	bb_buf_release(&w);
	bb_creds_argv_free(argv);
	return rc;
}

/* ---- credential_process ---- */

/* bb_buf_add for a buffer holding secrets: when it has to grow, the old
 * block is wiped before it is freed (a plain realloc would leave a copy). */
static int
secret_add(struct bb_buf *b, const void *p, size_t n)
{
	struct bb_buf nb = BB_BUF_INIT;
	size_t need;

	if (bb_size_add(b->len, n, &need) || bb_size_add(need, 1, &need))
		return -1;
	if (need > b->cap) {
		if (bb_size_mul(need, 2, &need) || bb_buf_grow(&nb, need) ||
		    (b->len && bb_buf_add(&nb, b->data, b->len))) {
			bb_buf_release(&nb);
			return -1;
		}
		if (b->data)
			OPENSSL_cleanse(b->data, b->cap);
		bb_buf_release(b);
		*b = nb;
	}
	return bb_buf_add(b, p, n);
}

static long
ms_until(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

static void
child_exec(char **argv, int devnull, int out, int errfd, int report)
{
	int e;

	signal(SIGPIPE, SIG_DFL);   /* ignored by bb_main_init; do not pass that on */
	if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0) {
		e = errno;
	} else {
		execvp(argv[0], argv);
		e = errno;
	}
	if (write(report, &e, sizeof(e)) < 0) {
		/* nothing more to do */
	}
	_exit(127);
}

int
bb_creds_process(const char *command, const char *profile, long timeout_ms,
    size_t max_output, struct bb_creds *out, struct bb_error *err)
{
	struct bb_buf what = BB_BUF_INIT, so = BB_BUF_INIT, se = BB_BUF_INIT, src = BB_BUF_INIT;
	struct timespec deadline;
	char **argv = NULL;
	int argc, status = 0, rc = -1, killed = 0, exec_errno = 0, reaped = 0;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, pr[2] = { -1, -1 }, devnull = -1;
	pid_t pid = -1;

	if (timeout_ms <= 0)
		timeout_ms = PROCESS_TIMEOUT_MS;
	if (max_output == 0)
		max_output = PROCESS_MAX_OUTPUT;
	if (bb_buf_addf(&what, "credential_process for profile '%s'", profile) ||
	    bb_buf_addf(&src, "credential_process (profile '%s')", profile)) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	if (bb_creds_split_command(command, &argv, &argc, err)) {
		bb_error_prefix(err, "%s", bb_buf_str(&what));
		goto out;
	}
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC) || pipe2(pr, O_CLOEXEC) ||
	    (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		bb_error_errno(err, "%s: cannot create pipes", bb_buf_str(&what));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		bb_error_errno(err, "%s: cannot fork", bb_buf_str(&what));
		goto out;
	}
	if (pid == 0)
		child_exec(argv, devnull, po[1], pe[1], pr[1]);
	close(po[1]);
	close(pe[1]);
	close(pr[1]);
	po[1] = pe[1] = pr[1] = -1;

	/* The exec report pipe closes on a successful exec. */
	{
		ssize_t r;

		do
			r = read(pr[0], &exec_errno, sizeof(exec_errno));
		while (r < 0 && errno == EINTR);
		if (r != (ssize_t)sizeof(exec_errno))
			exec_errno = 0;
	}

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	while (!exec_errno && (po[0] >= 0 || pe[0] >= 0)) {
		struct pollfd fds[2];
		long left = ms_until(&deadline);
		int n, i;

		if (left <= 0) {
			killed = 1;
			break;
		}
		fds[0].fd = po[0];
		fds[1].fd = pe[0];
		fds[0].events = fds[1].events = POLLIN;
		fds[0].revents = fds[1].revents = 0;
		n = poll(fds, 2, (int)(left > INT_MAX ? INT_MAX : left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			bb_error_errno(err, "%s: poll", bb_buf_str(&what));
			goto out;
		}
		for (i = 0; i < 2; i++) {
			char tmp[4096];
			int *fdp = i == 0 ? &po[0] : &pe[0];
			ssize_t r;

			if (*fdp < 0 || fds[i].revents == 0)
				continue;
			r = read(*fdp, tmp, sizeof(tmp));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				close(*fdp);
				*fdp = -1;
				continue;
			}
			if (i == 0) {
				if (so.len + (size_t)r > max_output) {
					OPENSSL_cleanse(tmp, sizeof(tmp));
					kill(pid, SIGKILL);
					bb_error_set(err, BB_ERR_AUTH,
					    "%s printed more than %zu bytes", bb_buf_str(&what),
					    max_output);
					goto out;
				}
				if (secret_add(&so, tmp, (size_t)r)) {
					bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
					goto out;
				}
				OPENSSL_cleanse(tmp, (size_t)r);
			} else if (se.len < STDERR_KEEP) {
				size_t take = (size_t)r;

				if (take > STDERR_KEEP - se.len)
					take = STDERR_KEEP - se.len;
				bb_buf_add(&se, tmp, take);
			}
		}
	}
	/* Outputs closed (or time is up): wait for the exit within the deadline. */
	while (!killed) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid) {
			reaped = 1;
			break;
		}
		if (w < 0 && errno != EINTR) {
			bb_error_errno(err, "%s: waitpid", bb_buf_str(&what));
			goto out;
		}
		if (ms_until(&deadline) <= 0)
			killed = 1;
		else
			poll(NULL, 0, 5);
	}
	if (killed) {
		kill(pid, SIGKILL);
		bb_error_set(err, BB_ERR_AUTH, "%s timed out after %ld ms", bb_buf_str(&what),
		    timeout_ms);
		goto out;
	}
	if (exec_errno) {
		struct bb_buf a0 = BB_BUF_INIT;

		add_escaped(&a0, argv[0], strlen(argv[0]), 200);
		bb_error_set(err, BB_ERR_AUTH, "%s: cannot run '%s': %s", bb_buf_str(&what),
		    bb_buf_str(&a0), strerror(exec_errno));
		bb_buf_release(&a0);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		struct bb_buf line = BB_BUF_INIT;
		const char *s = bb_buf_str(&se);
		size_t n;

		while (*s && isspace((unsigned char)*s))
			s++;
		n = strcspn(s, "\r\n");
		add_escaped(&line, s, n, 300);
		if (WIFEXITED(status))
			bb_error_set(err, BB_ERR_AUTH, "%s exited with status %d%s%s",
			    bb_buf_str(&what), WEXITSTATUS(status), line.len ? ": " : "",
			    bb_buf_str(&line));
		else
			bb_error_set(err, BB_ERR_AUTH, "%s was killed by signal %d",
			    bb_buf_str(&what), WTERMSIG(status));
		bb_buf_release(&line);
		goto out;
	}
	{
		struct bb_json *j = NULL;
		const struct bb_json *v;

		if (bb_json_parse(bb_buf_str(&so), so.len, 16, &j, NULL) != 0 ||
		    !bb_json_is(j, BB_JSON_OBJECT)) {
			json_wipe_free(j);
			bb_error_set(err, BB_ERR_AUTH, "%s did not print a JSON object",
			    bb_buf_str(&what));
			goto out;
		}
		v = bb_json_get(j, "Version");
		if (!bb_json_is(v, BB_JSON_NUMBER) || !v->is_int || v->i != 1) {
			if (bb_json_is(v, BB_JSON_NUMBER))
				bb_error_set(err, BB_ERR_AUTH,
				    "%s: unsupported Version %.20s (expected 1)",
				    bb_buf_str(&what), v->str);
			else
				bb_error_set(err, BB_ERR_AUTH,
				    "%s: the output has no numeric Version (expected 1)",
				    bb_buf_str(&what));
			json_wipe_free(j);
			goto out;
		}
		json_wipe_free(j);
	}
	if (creds_from_json(bb_buf_str(&so), so.len, "SessionToken", 0, bb_buf_str(&what),
	    bb_buf_str(&src), out, err))
		goto out;
	rc = 0;
out:
	if (pid > 0 && !reaped) {
		/* Killed, or failed half-way: reap (exited or SIGKILLed). */
		if (rc != 0)
			kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (po[0] >= 0)
		close(po[0]);
	if (po[1] >= 0)
		close(po[1]);
	if (pe[0] >= 0)
		close(pe[0]);
	if (pe[1] >= 0)
		close(pe[1]);
	if (pr[0] >= 0)
		close(pr[0]);
	if (pr[1] >= 0)
		close(pr[1]);
	if (devnull >= 0)
		close(devnull);
	if (so.data)
		OPENSSL_cleanse(so.data, so.cap);
	bb_buf_release(&so);
	bb_buf_release(&se);
	bb_buf_release(&what);
	bb_buf_release(&src);
	bb_creds_argv_free(argv);
	return rc;
}

/* ---- HTTP for the metadata services ---- */

struct meta_http {
	struct bb_http *h;
	struct bb_http_req req;
	struct bb_http_resp resp;
};

static int
meta_init(struct meta_http *m, long timeout_ms, int attempts, const char *ca,
    struct bb_error *err)
{
	struct bb_http_opts o;

	memset(&o, 0, sizeof(o));
	o.connect_timeout_ms = timeout_ms;
	o.timeout_ms = timeout_ms;
	o.max_attempts = attempts;
	o.backoff_base = 0.05;
	o.backoff_max = 1;
	o.ca_bundle = ca;
	bb_http_req_init(&m->req);
	bb_http_resp_init(&m->resp);
	m->h = bb_http_new(&o, err);
	return m->h ? 0 : -1;
}

/* Wipe headers (tokens) and body (secrets) before freeing. */
static void
meta_reset(struct meta_http *m)
{
	size_t i;

	for (i = 0; i < m->req.headers.n; i++)
		if (m->req.headers.v[i].value)
			OPENSSL_cleanse(m->req.headers.v[i].value,
			    strlen(m->req.headers.v[i].value));
	if (m->resp.body.data)   /* all of it: a retry's shorter body leaves a tail */
		OPENSSL_cleanse(m->resp.body.data, m->resp.body.cap);
	bb_http_req_release(&m->req);
	bb_http_resp_release(&m->resp);
	bb_http_req_init(&m->req);
	bb_http_resp_init(&m->resp);
}

static void
meta_release(struct meta_http *m)
{
	meta_reset(m);
	bb_http_req_release(&m->req);
	bb_http_resp_release(&m->resp);
	bb_http_free(m->h);
	m->h = NULL;
}

static int
meta_do(struct meta_http *m, const char *method, const char *url, struct bb_error *err)
{
	m->req.method = method;
	m->req.url = url;
	m->req.max_body = META_MAX_BODY;
	m->req.flags |= BB_HTTP_NO_PROXY;
	/* Room for the largest body allowed: it never moves, so no realloc
	 * leaves a copy of the credentials behind (meta_reset wipes it). */
	if (bb_buf_grow(&m->resp.body, META_MAX_BODY) != 0)
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	return bb_http_do(m->h, &m->req, &m->resp, err);
}

/* ---- container credentials ---- */

/* 1 when the host of an http URL may serve container credentials. */
static int
container_host_ok(const char *url)
{
	const char *h = url + 7, *e;
	char host[256];
	struct in_addr a4;
	struct in6_addr a6;
	size_t n;

	if (*h == '[') {
		e = strchr(h, ']');
		if (e == NULL)
			return 0;
		h++;
	} else {
		e = h + strcspn(h, ":/?#");
	}
	n = (size_t)(e - h);
	if (n == 0 || n >= sizeof(host) || memchr(h, '@', n))
		return 0;
	memcpy(host, h, n);
	host[n] = '\0';
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1) {
		uint32_t v = ntohl(a4.s_addr);

		return (v >> 24) == 127 || strcmp(host, "169.254.170.2") == 0 ||
		    strcmp(host, "169.254.170.23") == 0;
	}
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		static const unsigned char ecs[16] = { 0xfd, 0, 0, 0xec, 2, 0, 0, 0,
		    0, 0, 0, 0, 0, 0, 0, 0x23 };

		return IN6_IS_ADDR_LOOPBACK(&a6) || memcmp(&a6, ecs, 16) == 0;
	}
	return 0;
}

static int
fetch_container(struct bb_creds_provider *p, struct bb_creds *out, struct bb_error *err)
{
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tokfile = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *ca = p->opts.ca_bundle ? p->opts.ca_bundle : p->cfg->ca_bundle;
	struct bb_buf url = BB_BUF_INIT, tok = BB_BUF_INIT, what = BB_BUF_INIT;
	struct meta_http m;
	int rc = -1;

	memset(&m, 0, sizeof(m));
	if (rel == NULL && full == NULL)
		return 0;
	if (rel) {
		if (bb_buf_adds(&url, CONTAINER_HOST) ||
		    (rel[0] != '/' && bb_buf_addc(&url, '/')) || bb_buf_adds(&url, rel))
			goto nomem;
	} else {
		if (strncasecmp(full, "https://", 8) != 0 &&
		    !(strncasecmp(full, "http://", 7) == 0 && container_host_ok(full))) {
			struct bb_buf b = BB_BUF_INIT;

			add_escaped(&b, full, strlen(full), 200);
			bb_error_set(err, BB_ERR_USAGE,
			    "AWS_CONTAINER_CREDENTIALS_FULL_URI '%s' must be https, or http on a "
			    "loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23",
			    bb_buf_str(&b));
			bb_buf_release(&b);
			goto out;
		}
		if (bb_buf_adds(&url, full))
			goto nomem;
	}
	if (bb_buf_addf(&what, "container credentials from '%s'", bb_buf_str(&url)))
		goto nomem;
	if (tokfile) {
		int fd = open(tokfile, O_RDONLY | O_CLOEXEC);
		ssize_t r = 0;

		if (fd < 0) {
			bb_error_errno(err, "%s: cannot open AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE '%s'",
			    bb_buf_str(&what), tokfile);
			goto out;
		}
		for (;;) {
			if (tok.len > 16384 || bb_buf_grow(&tok, 4096)) {
				close(fd);
				bb_error_set(err, BB_ERR_AUTH, "%s: the token file '%s' is too large",
				    bb_buf_str(&what), tokfile);
				goto out;
			}
			r = read(fd, tok.data + tok.len, tok.cap - tok.len - 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			tok.len += (size_t)r;
			tok.data[tok.len] = '\0';
		}
		close(fd);
		if (r < 0) {
			bb_error_errno(err, "%s: cannot read '%s'", bb_buf_str(&what), tokfile);
			goto out;
		}
	} else if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
		if (bb_buf_adds(&tok, env("AWS_CONTAINER_AUTHORIZATION_TOKEN")))
			goto nomem;
	}
	if (tok.len && (memchr(tok.data, '\r', tok.len) || memchr(tok.data, '\n', tok.len) ||
	    strlen(tok.data) != tok.len)) {
		bb_error_set(err, BB_ERR_USAGE,
		    "%s: the authorization token (from %s) contains a line break", bb_buf_str(&what),
		    tokfile ? "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" :
		    "AWS_CONTAINER_AUTHORIZATION_TOKEN");
		goto out;
	}
	if (meta_init(&m, 2000, 3, ca, err))
		goto out;
	if (bb_http_headers_add(&m.req.headers, "Accept", "application/json") ||
	    (tok.len && bb_http_headers_add(&m.req.headers, "Authorization", tok.data)))
		goto nomem;
	if (meta_do(&m, "GET", bb_buf_str(&url), err)) {
		bb_error_prefix(err, "%s", bb_buf_str(&what));
		goto out;
	}
	if (m.resp.status != 200) {
		struct bb_buf b = BB_BUF_INIT;

		add_escaped(&b, bb_buf_str(&m.resp.body), m.resp.body.len, 200);
		bb_error_set(err, BB_ERR_AUTH, "%s: HTTP %ld%s%s", bb_buf_str(&what),
		    m.resp.status, b.len ? ": " : "", bb_buf_str(&b));
		bb_buf_release(&b);
		goto out;
	}
	if (creds_from_json(bb_buf_str(&m.resp.body), m.resp.body.len, "Token", 0,
	    bb_buf_str(&what), "container", out, err))
		goto out;
	rc = 1;
	goto out;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
out:
	if (m.h)
		meta_release(&m);
	else {
		bb_http_req_release(&m.req);
		bb_http_resp_release(&m.resp);
	}
	if (tok.data)
		OPENSSL_cleanse(tok.data, tok.len);
	bb_buf_release(&tok);
	bb_buf_release(&url);
	bb_buf_release(&what);
	return rc;
}

/* ---- EC2 instance metadata ---- */

/* A setting from the environment, else the profile. */
static const char *
setting(const struct bb_creds_provider *p, const char *var, const char *key)
{
	const char *v = env(var);

	return v ? v : bb_config_get(p->cfg, key);
}

/* Returns 1 with creds, 0 when IMDS is disabled or unreachable (why says
 * why), -1 on an error worth reporting as such. */
static int
imds_fetch(struct bb_creds_provider *p, struct bb_creds *out, struct bb_buf *why,
    struct bb_error *err)
{
	const char *base = setting(p, "AWS_EC2_METADATA_SERVICE_ENDPOINT",
	    "ec2_metadata_service_endpoint");
	const char *mode = setting(p, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
	    "ec2_metadata_service_endpoint_mode");
	const char *tv = setting(p, "AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout");
	const char *av = setting(p, "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
	    "metadata_service_num_attempts");
	int v1_disabled = bb_config_is_true(setting(p, "AWS_EC2_METADATA_V1_DISABLED",
	    "ec2_metadata_v1_disabled"));
	struct bb_buf url = BB_BUF_INIT, token = BB_BUF_INIT, role = BB_BUF_INIT;
	struct bb_error e2 = BB_ERROR_INIT;
	struct meta_http m;
	long timeout_ms = 1000;
	int attempts = 1, rc = -1;
	size_t baselen;

	memset(&m, 0, sizeof(m));
	if (bb_config_is_true(env("AWS_EC2_METADATA_DISABLED"))) {
		bb_buf_adds(why, "disabled by AWS_EC2_METADATA_DISABLED");
		return 0;
	}
	if (tv) {
		char *e;
		double d;

		errno = 0;
		d = strtod(tv, &e);
		if (errno || *e || e == tv || !(d > 0 && d <= 3600)) {
			bb_error_set(err, BB_ERR_USAGE, "invalid metadata service timeout '%s'", tv);
			goto out;
		}
		timeout_ms = (long)(d * 1000);
		if (timeout_ms < 1)
			timeout_ms = 1;
	}
	if (av) {
		char *e;
		long n;

		errno = 0;
		n = strtol(av, &e, 10);
		if (errno || *e || e == av || n < 1 || n > 100) {
			bb_error_set(err, BB_ERR_USAGE,
			    "invalid metadata service number of attempts '%s'", av);
			goto out;
		}
		attempts = (int)n;
	}
	if (base == NULL)
		base = mode && strcasecmp(mode, "IPv6") == 0 ? IMDS_HOST6 : IMDS_HOST;
	if (bb_buf_adds(&url, base))
		goto nomem;
	while (url.len > 8 && url.data[url.len - 1] == '/')
		bb_buf_setlen(&url, url.len - 1);
	baselen = url.len;
	if (meta_init(&m, timeout_ms, attempts, NULL, err))
		goto out;
	if (attempts == 1)
		m.req.flags |= BB_HTTP_NO_RETRY;

	/* 1. the session token */
	if (bb_buf_adds(&url, "/latest/api/token") ||
	    bb_http_headers_add(&m.req.headers, "x-aws-ec2-metadata-token-ttl-seconds", "21600"))
		goto nomem;
	if (meta_do(&m, "PUT", bb_buf_str(&url), &e2)) {
		bb_buf_addf(why, "%s", e2.msg);
		rc = 0;
		goto out;
	}
	if (m.resp.status == 200) {
		const char *b = bb_buf_str(&m.resp.body);
		size_t n = strcspn(b, "\r\n");

		if (n == 0 || bb_buf_add(&token, b, n))
			goto badtoken;
	} else if (m.resp.status == 403 || m.resp.status == 404 || m.resp.status == 405) {
		if (v1_disabled) {
			bb_error_set(err, BB_ERR_AUTH,
			    "instance metadata: the token request got HTTP %ld and IMDSv1 is "
			    "disabled (AWS_EC2_METADATA_V1_DISABLED)", m.resp.status);
			goto out;
		}
	} else {
		goto badtoken;
	}

	/* 2. the role name */
	{
		unsigned flags = m.req.flags;

		meta_reset(&m);
		m.req.flags = flags;
	}
	bb_buf_setlen(&url, baselen);
	if (bb_buf_adds(&url, "/latest/meta-data/iam/security-credentials/") ||
	    (token.len && bb_http_headers_add(&m.req.headers, "x-aws-ec2-metadata-token",
	    token.data)))
		goto nomem;
	if (meta_do(&m, "GET", bb_buf_str(&url), &e2)) {
		bb_buf_addf(why, "%s", e2.msg);
		rc = 0;
		goto out;
	}
	if (m.resp.status == 404) {
		bb_buf_adds(why, "no IAM role is attached to this instance");
		rc = 0;
		goto out;
	}
	if (m.resp.status != 200) {
		bb_error_set(err, BB_ERR_AUTH, "instance metadata: listing the IAM role: HTTP %ld",
		    m.resp.status);
		goto out;
	}
	{
		const char *b = bb_buf_str(&m.resp.body);
		size_t n;

		while (*b && isspace((unsigned char)*b))
			b++;
		n = strcspn(b, "\r\n");
		while (n > 0 && isspace((unsigned char)b[n - 1]))
			n--;
		if (n == 0 || strspn(b, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789+=,.@_-") < n) {
			bb_error_set(err, BB_ERR_AUTH,
			    "instance metadata: the IAM role name is missing or malformed");
			goto out;
		}
		if (bb_buf_add(&role, b, n))
			goto nomem;
	}

	/* 3. the credentials */
	{
		unsigned flags = m.req.flags;

		meta_reset(&m);
		m.req.flags = flags;
	}
	if (bb_buf_add(&url, role.data, role.len) ||
	    (token.len && bb_http_headers_add(&m.req.headers, "x-aws-ec2-metadata-token",
	    token.data)))
		goto nomem;
	if (meta_do(&m, "GET", bb_buf_str(&url), err)) {
		bb_error_prefix(err, "instance metadata");
		goto out;
	}
	if (m.resp.status != 200) {
		bb_error_set(err, BB_ERR_AUTH,
		    "instance metadata: credentials of role '%s': HTTP %ld", role.data,
		    m.resp.status);
		goto out;
	}
	{
		struct bb_json *j = NULL;
		const char *code;

		if (bb_json_parse(bb_buf_str(&m.resp.body), m.resp.body.len, 16, &j, NULL) == 0 &&
		    (code = jstr(j, "Code")) != NULL && strcmp(code, "Success") != 0) {
			struct bb_buf b = BB_BUF_INIT;

			add_escaped(&b, code, strlen(code), 100);
			bb_error_set(err, BB_ERR_AUTH,
			    "instance metadata: credentials of role '%s': Code %s", role.data,
			    bb_buf_str(&b));
			bb_buf_release(&b);
			json_wipe_free(j);
			goto out;
		}
		json_wipe_free(j);
	}
	if (creds_from_json(bb_buf_str(&m.resp.body), m.resp.body.len, "Token", 1,
	    "instance metadata", "instance metadata", out, err))
		goto out;
	rc = 1;
	goto out;
badtoken:
	bb_error_set(err, BB_ERR_AUTH, "instance metadata: the token request got HTTP %ld%s",
	    m.resp.status, m.resp.status == 200 ? " with an empty token" : "");
	goto out;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
out:
	if (m.h)
		meta_release(&m);
	if (token.data)
		OPENSSL_cleanse(token.data, token.len);
	bb_buf_release(&token);
	bb_buf_release(&role);
	bb_buf_release(&url);
	return rc;
}

static int
fetch_imds(struct bb_creds_provider *p, struct bb_creds *out, struct bb_error *err)
{
	struct bb_buf why = BB_BUF_INIT;
	int rc = imds_fetch(p, out, &why, err);

	if (rc == 0) {
		/* Refresh of IMDS credentials that became unreachable. */
		bb_error_set(err, BB_ERR_AUTH, "instance metadata: %s", bb_buf_str(&why));
	}
	bb_buf_release(&why);
	return rc;
}

/* ---- environment, files, process ---- */

static int
fetch_explicit(struct bb_creds_provider *p, struct bb_creds *out, struct bb_error *err)
{
	if (p->explicit_id == NULL)
		return 0;
	return creds_set(out, p->explicit_id, p->explicit_secret, p->explicit_token, NULL, 0,
	    "command line", err) ? -1 : 1;
}

static int
fetch_env(struct bb_creds_provider *p, struct bb_creds *out, struct bb_error *err)
{
	const char *id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
	const char *token = env("AWS_SESSION_TOKEN"), *exp = env("AWS_CREDENTIAL_EXPIRATION");
	time_t t = 0;

	if (p->cfg->profile_explicit)
		return 0;
	if (id == NULL && secret == NULL)
		return 0;
	if (id == NULL || secret == NULL)
		return bb_error_set(err, BB_ERR_AUTH,
		    "partial credentials in the environment: %s is set but %s is not",
		    id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		    id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	if (token == NULL)
		token = env("AWS_SECURITY_TOKEN");
	if (exp && bb_creds_parse_time(exp, &t) != 0)
		return bb_error_set(err, BB_ERR_USAGE,
		    "AWS_CREDENTIAL_EXPIRATION '%s' is not an ISO 8601 date-time", exp);
	return creds_set(out, id, secret, token, env("AWS_ACCOUNT_ID"), t, "environment", err) ?
	    -1 : 1;
}

/* Static keys from one file (which: 0 config, 1 credentials). */
static int
fetch_file(struct bb_creds_provider *p, int which, struct bb_creds *out, struct bb_error *err)
{
	const struct bb_config *c = p->cfg;
	const char *id = bb_config_get_in(c, which, "aws_access_key_id");
	const char *secret = bb_config_get_in(c, which, "aws_secret_access_key");
	const char *token = bb_config_get_in(c, which, "aws_session_token");
	const char *path = which ? c->creds_path : c->config_path;
	struct bb_buf src = BB_BUF_INIT;
	int rc;

	if ((id == NULL || !*id) && (secret == NULL || !*secret))
		return 0;
	if (id == NULL || !*id || secret == NULL || !*secret)
		return bb_error_set(err, BB_ERR_AUTH,
		    "partial credentials in '%s' profile '%s': %s is missing", path, c->profile,
		    id == NULL || !*id ? "aws_access_key_id" : "aws_secret_access_key");
	if (token == NULL)
		token = bb_config_get_in(c, which, "aws_security_token");
	if (bb_buf_addf(&src, "%s '%s' profile '%s'",
	    which ? "shared credentials file" : "config file", path, c->profile))
		rc = bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	else
		rc = creds_set(out, id, secret, token, bb_config_get_in(c, which,
		    "aws_account_id"), 0, bb_buf_str(&src), err) ? -1 : 1;
	bb_buf_release(&src);
	return rc;
}

static int
fetch_creds_file(struct bb_creds_provider *p, struct bb_creds *out, struct bb_error *err)
{
	return fetch_file(p, 1, out, err);
}

static int
fetch_config_file(struct bb_creds_provider *p, struct bb_creds *out, struct bb_error *err)
{
	return fetch_file(p, 0, out, err);
}

static int
fetch_process(struct bb_creds_provider *p, struct bb_creds *out, struct bb_error *err)
{
	const char *cmd = bb_config_get(p->cfg, "credential_process");

	if (cmd == NULL || !*cmd)
		return 0;
	return bb_creds_process(cmd, p->cfg->profile, p->opts.process_timeout_ms,
	    p->opts.process_max_output, out, err) ? -1 : 1;
}

/* Profiles that need STS or SSO: refuse them clearly. */
#define UNSUPPORTED_FIX "configure credential_process = aws configure " \
	"export-credentials --profile %s --format process (in a profile of its own), " \
	"or export the credentials into the environment with: eval \"$(aws configure " \
	"export-credentials --profile %s --format env)\""

static int
check_unsupported(struct bb_creds_provider *p, struct bb_error *err)
{
	const struct bb_config *c = p->cfg;
	const char *prof = c->profile, *kind = NULL;
	char msg[600];

	if (bb_config_get(c, "role_arn")) {
		if (bb_config_get(c, "web_identity_token_file"))
			kind = "web identity (role_arn + web_identity_token_file)";
		else if (bb_config_get(c, "source_profile") ||
		    bb_config_get(c, "credential_source"))
			kind = "assume role (role_arn)";
	}
	if (kind == NULL && env("AWS_WEB_IDENTITY_TOKEN_FILE") && env("AWS_ROLE_ARN")) {
		snprintf(msg, sizeof(msg), UNSUPPORTED_FIX, prof, prof);
		return bb_error_set(err, BB_ERR_USAGE,
		    "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are set: web identity "
		    "credentials are not supported yet; %s", msg);
	}
	if (kind == NULL && (bb_config_get(c, "sso_session") ||
	    bb_config_get(c, "sso_start_url") || bb_config_get(c, "sso_account_id")))
		kind = "IAM Identity Center (SSO)";
	if (kind == NULL)
		return 0;
	snprintf(msg, sizeof(msg), UNSUPPORTED_FIX, prof, prof);
	return bb_error_set(err, BB_ERR_USAGE,
	    "profile '%s' uses %s credentials, which are not supported yet; %s", prof, kind,
	    msg);
}

/* ---- the provider ---- */

static const struct {
	enum source src;
	fetch_fn fn;
} chain[] = {
	{ SRC_EXPLICIT, fetch_explicit },
	{ SRC_ENV, fetch_env },
	{ SRC_CREDS_FILE, fetch_creds_file },
	{ SRC_PROCESS, fetch_process },
	{ SRC_CONFIG_FILE, fetch_config_file },
	{ SRC_CONTAINER, fetch_container },
};

static int
resolve(struct bb_creds_provider *p, struct bb_creds *out, struct bb_error *err)
{
	struct bb_buf why = BB_BUF_INIT;
	size_t i;
	int r;

	for (i = 0; i < sizeof(chain) / sizeof(chain[0]); i++) {
		if (chain[i].src == SRC_CREDS_FILE && check_unsupported(p, err))
			return -1;
		r = chain[i].fn(p, out, err);
		if (r < 0)
			return -1;
		if (r > 0) {
			p->src = chain[i].src;
			return 0;
		}
	}
	r = imds_fetch(p, out, &why, err);
	if (r > 0)
		p->src = SRC_IMDS;
	else if (r == 0)
		bb_error_set(err, BB_ERR_AUTH,
		    "no AWS credentials found (tried environment, shared files, container, "
		    "instance metadata: %s)", bb_buf_str(&why));
	bb_buf_release(&why);
	return r > 0 ? 0 : -1;
}

static int
refresh(struct bb_creds_provider *p, struct bb_creds *out, struct bb_error *err)
{
	size_t i;
	int r;

	if (p->src == SRC_IMDS)
		return fetch_imds(p, out, err) > 0 ? 0 : -1;
	for (i = 0; i < sizeof(chain) / sizeof(chain[0]); i++) {
		if (chain[i].src != p->src)
			continue;
		r = chain[i].fn(p, out, err);
		if (r == 0)
			bb_error_set(err, BB_ERR_AUTH, "%s no longer provides credentials",
			    p->cur.source);
		return r > 0 ? 0 : -1;
	}
	return bb_error_set(err, BB_ERR_AUTH, "no credentials source");
}

struct bb_creds_provider *
bb_creds_provider_new(const struct bb_config *cfg, const struct bb_creds_opts *opts,
    struct bb_error *err)
{
	struct bb_creds_provider *p = calloc(1, sizeof(*p));
	const char *pref;

	if (p == NULL) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		return NULL;
	}
	p->cfg = cfg;
	if (opts)
		p->opts = *opts;
	if (opts && (opts->access_key_id || opts->secret_access_key)) {
		if (!opts->access_key_id || !*opts->access_key_id || !opts->secret_access_key ||
		    !*opts->secret_access_key) {
			bb_error_set(err, BB_ERR_USAGE,
			    "explicit credentials need both an access key id and a secret key");
			goto fail;
		}
		if ((p->explicit_id = strdup(opts->access_key_id)) == NULL ||
		    (p->explicit_secret = strdup(opts->secret_access_key)) == NULL ||
		    (opts->session_token && *opts->session_token &&
		    (p->explicit_token = strdup(opts->session_token)) == NULL))
			goto nomem;
	}
	p->opts.access_key_id = p->opts.secret_access_key = p->opts.session_token = NULL;
	if (env("AWS_BEARER_TOKEN_BEDROCK")) {
		const char *t = env("AWS_BEARER_TOKEN_BEDROCK");

		if (strpbrk(t, "\r\n")) {
			bb_error_set(err, BB_ERR_USAGE,
			    "AWS_BEARER_TOKEN_BEDROCK contains a line break");
			goto fail;
		}
		if ((p->bearer = strdup(t)) == NULL)
			goto nomem;
	}
	if ((pref = env("AWS_AUTH_SCHEME_PREFERENCE")) == NULL)
		pref = bb_config_get(cfg, "auth_scheme_preference");
	while (pref && *pref) {
		size_t n = strcspn(pref, ","), s = 0, e = n, h;

		while (s < e && isspace((unsigned char)pref[s]))
			s++;
		while (e > s && isspace((unsigned char)pref[e - 1]))
			e--;
		for (h = s; h < e; h++)
			if (pref[h] == '#')
				s = h + 1;
		if (e - s == 5 && strncasecmp(pref + s, "sigv4", 5) == 0) {
			p->prefer_sigv4 = 1;
			break;
		}
		if (e - s == 14 && strncasecmp(pref + s, "httpBearerAuth", 14) == 0)
			break;
		pref += n;
		if (*pref == ',')
			pref++;
	}
	return p;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
fail:
	bb_creds_provider_free(p);
	return NULL;
}

void
bb_creds_provider_free(struct bb_creds_provider *p)
{
	if (p == NULL)
		return;
	wipe_free(p->explicit_id);
	wipe_free(p->explicit_secret);
	wipe_free(p->explicit_token);
	wipe_free(p->bearer);
	bb_creds_release(&p->cur);
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
}

void
bb_creds_provider_set_clock(struct bb_creds_provider *p, time_t now)
{
	p->clock = now;
}

int
bb_creds_get(struct bb_creds_provider *p, struct bb_creds *out, struct bb_error *err)
{
	struct bb_creds fresh;
	time_t now = now_of(p);

	bb_creds_init(&fresh);
	if (p->src == SRC_NONE) {
		if (resolve(p, &fresh, err))
			return -1;
		bb_creds_release(&p->cur);
		p->cur = fresh;
	} else if (p->cur.expiration && p->cur.expiration - now < ADVISORY_SECS) {
		if (refresh(p, &fresh, err) == 0) {
			bb_creds_release(&p->cur);
			p->cur = fresh;
		} else if (p->cur.expiration - now < MANDATORY_SECS) {
			bb_creds_release(&fresh);
			bb_error_prefix(err, "refreshing credentials");
			return -1;
		} else {
			bb_creds_release(&fresh);   /* advisory: keep the current ones */
		}
	}
	if (p->cur.expiration && p->cur.expiration <= now)
		return bb_error_set(err, BB_ERR_AUTH,
		    "the credentials from %s have expired, and refreshing did not renew them",
		    p->cur.source);
	return bb_creds_copy(out, &p->cur, err);
}

const char *
bb_creds_bearer(const struct bb_creds_provider *p, const char *service)
{
	if (p->prefer_sigv4 || service == NULL || strcmp(service, "bedrock") != 0)
		return NULL;
	return p->bearer;
}

void
bb_auth_release(struct bb_auth *a)
{
	wipe_free(a->bearer);
	bb_creds_release(&a->creds);
	memset(a, 0, sizeof(*a));
}

int
bb_creds_auth(struct bb_creds_provider *p, const char *service, struct bb_auth *out,
    struct bb_error *err)
{
	const char *t = bb_creds_bearer(p, service);

	memset(out, 0, sizeof(*out));
	if (t) {
		out->kind = BB_AUTH_BEARER;
		if ((out->bearer = strdup(t)) == NULL)
			return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		return 0;
	}
	out->kind = BB_AUTH_SIGV4;
	return bb_creds_get(p, &out->creds, err);
}
