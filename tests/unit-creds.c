/*
 * unit-creds.c - the credential chain: environment, shared files,
 * credential_process (real scripts), expiry refresh, the container endpoint
 * and IMDSv2/v1 (against tests/fixtures/metadata_server.py on loopback),
 * Bedrock API keys. The real network is never used: IMDS is disabled
 * unless the endpoint points at the loopback fixture.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "awsconfig.h"
#include "creds.h"
#include "tap.h"
#include "awsenv.h"


static char home[256];
static char cfgpath[400], credpath[400], dir[300];

static void
write_file(const char *path, const char *text, int mode)
{
	FILE *f;

	unlink(path);
	if (text == NULL)
		return;
	f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		exit(99);
	}
	fputs(text, f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

static char *
read_text(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	buf[0] = '\0';
	if (f == NULL)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static double
mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Load config and resolve once: 0 and *out, or -1 with err. */
static int
resolve_once(const char *profile, struct bb_creds *out, struct bb_error *err)
{
	struct bb_config_opts o = { profile, NULL };
	struct bb_config c;
	struct bb_creds_provider *p;
	int rc = -1;

	if (bb_config_load(&c, &o, err))
		return -1;
	p = bb_creds_provider_new(&c, NULL, err);
	if (p) {
		rc = bb_creds_get(p, out, err);
		bb_creds_provider_free(p);
	}
	bb_config_release(&c);
	return rc;
}

/* ---- splitting and dates ---- */

static void
test_split(void)
{
	static const struct {
		const char *cmd;
		const char *want;   /* words joined by '|', NULL: error */
	} cases[] = {
		{ "a b  c", "a|b|c" },
		{ "  lead\ttab\n", "lead|tab" },
		{ "'a b' c", "a b|c" },
		{ "\"a \\\"q\\\" \\\\ \\x\"", "a \"q\" \\ \\x" },
		{ "a\\ b", "a b" },
		{ "''", "" },
		{ "a'b'\"c\"d", "abcd" },
		{ "'it''s'", "its" },
		{ "'$HOME' \"$HOME\"", "$HOME|$HOME" },
		{ "x \"\" y", "x||y" },
		{ "\"unclosed", NULL },
		{ "'unclosed", NULL },
		{ "trailing\\", NULL },
		{ "   ", NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bb_error err = BB_ERROR_INIT;
		char **argv = NULL, name[200], joined[400];
		int argc = 0, rc, k;

		rc = bb_creds_split_command(cases[i].cmd, &argv, &argc, &err);
		snprintf(name, sizeof(name), "split [%s]", cases[i].cmd);
		for (k = 0; name[k]; k++)
			if (name[k] == '\n' || name[k] == '\t')
				name[k] = ' ';
		if (cases[i].want == NULL) {
			ok(rc == -1 && err.msg[0], "%s fails (%s)", name, err.msg);
			continue;
		}
		joined[0] = '\0';
		for (k = 0; rc == 0 && k < argc; k++) {
			if (k)
				strcat(joined, "|");
			strcat(joined, argv[k]);
		}
		is_str(rc == 0 ? joined : NULL, cases[i].want, name);
		ok(rc != 0 || argv[argc] == NULL, "%s: NULL-terminated", name);
		bb_creds_argv_free(argv);
	}
}

static void
test_time(void)
{
	static const struct {
		const char *s;
		long long want;   /* -1: error */
	} cases[] = {
		{ "2024-01-02T03:04:05Z", 1704164645 },
		{ "2024-01-02T03:04:05.123456Z", 1704164645 },
		{ "2024-01-02T04:04:05+01:00", 1704164645 },
		{ "2024-01-02T01:04:05-0200", 1704164645 },
		{ "2024-01-02 03:04:05z", 1704164645 },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2024-01-02T03:04:05", -1 },
		{ "2024-13-02T03:04:05Z", -1 },
		{ "2024-01-02T03:04:05Zjunk", -1 },
		{ "2024-01-02", -1 },
		{ "yesterday", -1 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		time_t t = 12345;
		int rc = bb_creds_parse_time(cases[i].s, &t);

		if (cases[i].want < 0)
			ok(rc == -1, "time '%s' is rejected", cases[i].s);
		else
			ok(rc == 0 && (long long)t == cases[i].want, "time '%s' = %lld (got %lld)",
			    cases[i].s, cases[i].want, (long long)t);
	}
}

/* ---- the chain with environment and files ---- */

struct chain_case {
	const char *name;
	const char *config;
	const char *creds;
	const char *env;
	const char *profile;
	const char *want_id;      /* NULL: expect an error */
	const char *want_token;   /* NULL: none */
	const char *want_source;  /* substring; or the error substring */
};

static const struct chain_case chain_cases[] = {
	{ "environment", NULL, NULL,
	  "AWS_ACCESS_KEY_ID=AKIDENV\nAWS_SECRET_ACCESS_KEY=s\nAWS_SESSION_TOKEN=tok", NULL,
	  "AKIDENV", "tok", "environment" },
	{ "AWS_SECURITY_TOKEN alias", NULL, NULL,
	  "AWS_ACCESS_KEY_ID=AKIDENV\nAWS_SECRET_ACCESS_KEY=s\nAWS_SECURITY_TOKEN=old", NULL,
	  "AKIDENV", "old", "environment" },
	{ "AWS_SESSION_TOKEN beats AWS_SECURITY_TOKEN", NULL, NULL,
	  "AWS_ACCESS_KEY_ID=AKIDENV\nAWS_SECRET_ACCESS_KEY=s\nAWS_SECURITY_TOKEN=old\n"
	  "AWS_SESSION_TOKEN=new", NULL, "AKIDENV", "new", "environment" },
	{ "environment beats the credentials file", NULL,
	  "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n",
	  "AWS_ACCESS_KEY_ID=AKIDENV\nAWS_SECRET_ACCESS_KEY=s", NULL, "AKIDENV", NULL,
	  "environment" },
	{ "AWS_PROFILE does not skip the environment", "[profile dev]\n",
	  "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = s\n",
	  "AWS_PROFILE=dev\nAWS_ACCESS_KEY_ID=AKIDENV\nAWS_SECRET_ACCESS_KEY=s", NULL, "AKIDENV",
	  NULL, "environment" },
	{ "--profile skips the environment", NULL,
	  "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = s\n"
	  "aws_session_token = dtok\n",
	  "AWS_ACCESS_KEY_ID=AKIDENV\nAWS_SECRET_ACCESS_KEY=s", "dev", "AKIDDEV", "dtok",
	  "shared credentials file '" },
	{ "partial environment", NULL, NULL, "AWS_ACCESS_KEY_ID=AKIDENV", NULL, NULL, NULL,
	  "partial credentials in the environment: AWS_ACCESS_KEY_ID is set but "
	  "AWS_SECRET_ACCESS_KEY is not" },
	{ "bad AWS_CREDENTIAL_EXPIRATION", NULL, NULL,
	  "AWS_ACCESS_KEY_ID=A\nAWS_SECRET_ACCESS_KEY=s\nAWS_CREDENTIAL_EXPIRATION=soon", NULL,
	  NULL, NULL, "AWS_CREDENTIAL_EXPIRATION 'soon'" },
	{ "credentials file", NULL,
	  "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n"
	  "aws_security_token = ftok\n", NULL, NULL, "AKIDFILE", "ftok",
	  "/.aws/credentials' profile 'default'" },
	{ "credentials file beats config keys and credential_process",
	  "[default]\naws_access_key_id = AKIDCFG\naws_secret_access_key = s\n"
	  "credential_process = /nonexistent/never-run\n",
	  "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n", NULL, NULL,
	  "AKIDFILE", NULL, "shared credentials file" },
	{ "config file static keys", "[profile c]\naws_access_key_id = AKIDCFG\n"
	  "aws_secret_access_key = s\n", NULL, "AWS_PROFILE=c", NULL, "AKIDCFG", NULL,
	  "config file '" },
	{ "partial credentials file", NULL, "[default]\naws_access_key_id = AKIDFILE\n", NULL,
	  NULL, NULL, NULL, "partial credentials in '" },
	{ "assume-role profile is refused with the workaround",
	  "[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n", NULL,
	  NULL, "r", NULL, NULL, "profile 'r' uses assume role (role_arn) credentials, which "
	  "are not supported yet; configure credential_process = aws configure "
	  "export-credentials --profile r --format process" },
	{ "web identity profile is refused",
	  "[profile w]\nrole_arn = arn:aws:iam::1:role/x\nweb_identity_token_file = /t\n",
	  NULL, NULL, "w", NULL, NULL, "profile 'w' uses web identity" },
	{ "web identity from the environment is refused", NULL, NULL,
	  "AWS_WEB_IDENTITY_TOKEN_FILE=/t\nAWS_ROLE_ARN=arn:aws:iam::1:role/x", NULL, NULL,
	  NULL, "web identity credentials are not supported yet" },
	{ "SSO profile is refused", "[profile s]\nsso_session = corp\nsso_account_id = 1\n"
	  "sso_role_name = R\n[sso-session corp]\nsso_region = us-east-1\n", NULL, NULL, "s",
	  NULL, NULL, "profile 's' uses IAM Identity Center (SSO) credentials" },
	{ "environment still wins over an SSO profile",
	  "[default]\nsso_start_url = https://x\n", NULL,
	  "AWS_ACCESS_KEY_ID=AKIDENV\nAWS_SECRET_ACCESS_KEY=s", NULL, "AKIDENV", NULL,
	  "environment" },
	{ "nothing at all", NULL, NULL, NULL, NULL, NULL, NULL,
	  "no AWS credentials found (tried environment, shared files, container, instance "
	  "metadata: disabled by AWS_EC2_METADATA_DISABLED)" },
};

static void
test_chain(void)
{
	size_t i;

	for (i = 0; i < sizeof(chain_cases) / sizeof(chain_cases[0]); i++) {
		const struct chain_case *t = &chain_cases[i];
		struct bb_error err = BB_ERROR_INIT;
		struct bb_creds c;
		int rc;

		clear_aws_env(home);
		write_file(cfgpath, t->config, 0600);
		write_file(credpath, t->creds, 0600);
		set_env_list(t->env);
		bb_creds_init(&c);
		rc = resolve_once(t->profile, &c, &err);
		if (t->want_id == NULL) {
			ok(rc == -1 && strstr(err.msg, t->want_source) != NULL, "%s: fails", t->name);
			if (rc == 0 || strstr(err.msg, t->want_source) == NULL)
				diag("got '%s'", rc == 0 ? c.source : err.msg);
			ok(strstr(err.msg, "AKID") == NULL, "%s: no key in the message", t->name);
		} else {
			if (!ok(rc == 0, "%s: resolves", t->name)) {
				diag("%s", err.msg);
				continue;
			}
			is_str(c.access_key_id, t->want_id, t->name);
			ok(t->want_token ? c.session_token && !strcmp(c.session_token, t->want_token) :
			    c.session_token == NULL, "%s: session token", t->name);
			ok(strstr(c.source, t->want_source) != NULL, "%s: source '%s'", t->name,
			    c.source);
		}
		bb_creds_release(&c);
	}
	clear_aws_env(home);
	write_file(cfgpath, NULL, 0);
	write_file(credpath, NULL, 0);
}

/* ---- credential_process ---- */

static char script[320], counter[320], failflag[320];

/* Write the credential script: prints ISO time `exp` (may be "") and counts runs. */
static void
write_cred_script(const char *exp)
{
	char text[4000];

	snprintf(text, sizeof(text),
	    "#!/bin/sh\n"
	    "n=$(cat '%s' 2>/dev/null || echo 0); n=$((n + 1)); echo $n > '%s'\n"
	    "if test -e '%s'; then echo 'refresh broke' >&2; exit 3; fi\n"
	    "case \"$1\" in\n"
	    "ok) printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDP%%s\", "
	    "\"SecretAccessKey\": \"sek\", \"SessionToken\": \"ptok\"%s%s%s}' \"$n\";;\n"
	    "args) shift; printf '{\"Version\":1,\"AccessKeyId\":\"'; for a; do printf '[%%s]' "
	    "\"$a\"; done; printf '\",\"SecretAccessKey\":\"x\"}';;\n"
	    "badjson) printf 'SECRETSECRET not json';;\n"
	    "v2) printf '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}';;\n"
	    "nosecret) printf '{\"Version\": 1, \"AccessKeyId\": \"A\"}';;\n"
	    "noversion) printf '{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}';;\n"
	    "fail) echo '  boom: no session' >&2; echo 'second line' >&2; exit 1;;\n"
	    "quietfail) exit 4;;\n"
	    "slow) sleep 5; printf '{}';;\n"
	    "big) head -c 3000000 /dev/zero | tr '\\\\0' ' ';;\n"
	    "padded) printf '{\"Version\":1,\"AccessKeyId\":\"AKIDPAD\",'; "
	    "printf '%%300000s' ''; "
	    "printf '\"SecretAccessKey\":\"padsecret\"}';;\n"
	    "stdin) cat; printf '{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}';;\n"
	    "esac\n", counter, counter, failflag,
	    *exp ? ", \"Expiration\": \"" : "", exp, *exp ? "\"" : "");
	write_file(script, text, 0755);
	unlink(counter);
	unlink(failflag);
}

static void
iso(time_t t, char *out, size_t n)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
test_process(void)
{
	static const struct {
		const char *args;
		const char *err;   /* NULL: success */
	} cases[] = {
		{ "ok", NULL },
		{ "badjson", "credential_process for profile 'default' did not print a JSON object" },
		{ "v2", "credential_process for profile 'default': unsupported Version 2 (expected 1)" },
		{ "noversion", "has no numeric Version" },
		{ "nosecret", "credential_process for profile 'default': the response has no "
		  "SecretAccessKey" },
		{ "fail", "credential_process for profile 'default' exited with status 1: boom: no "
		  "session" },
		{ "quietfail", "credential_process for profile 'default' exited with status 4" },
		{ "big", "printed more than 1048576 bytes" },
		{ "stdin", NULL },
		{ "padded", NULL },   /* the output buffer grows many times */
	};
	char cmd[600], cfg[900];
	size_t i;

	write_cred_script("");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bb_error err = BB_ERROR_INIT;
		struct bb_creds c;
		int rc;

		clear_aws_env(home);
		snprintf(cmd, sizeof(cmd), "'%s' %s", script, cases[i].args);
		snprintf(cfg, sizeof(cfg), "[default]\ncredential_process = %s\n", cmd);
		write_file(cfgpath, cfg, 0600);
		bb_creds_init(&c);
		rc = resolve_once(NULL, &c, &err);
		if (cases[i].err) {
			ok(rc == -1 && strstr(err.msg, cases[i].err) != NULL,
			    "credential_process %s: fails", cases[i].args);
			if (rc == 0 || strstr(err.msg, cases[i].err) == NULL)
				diag("got '%s'", rc == 0 ? c.source : err.msg);
			ok(strstr(err.msg, "SECRET") == NULL && strstr(err.msg, "second") == NULL,
			    "credential_process %s: no output or later lines in the message",
			    cases[i].args);
		} else {
			ok(rc == 0 && c.access_key_id && c.secret_access_key,
			    "credential_process %s: succeeds", cases[i].args);
			if (rc)
				diag("%s", err.msg);
			else
				ok(strcmp(c.source, "credential_process (profile 'default')") == 0,
				    "credential_process %s: source '%s'", cases[i].args, c.source);
			if (rc == 0 && strcmp(cases[i].args, "padded") == 0)
				ok(strcmp(c.access_key_id, "AKIDPAD") == 0 &&
				    strcmp(c.secret_access_key, "padsecret") == 0,
				    "credential_process padded: 300 kB of output read whole");
		}
		bb_creds_release(&c);
	}

	/* Quoting: a path with a space, quoted words, escapes - no shell. */
	{
		char spaced[500], text[600];
		struct bb_error err = BB_ERROR_INIT;
		struct bb_creds c;

		snprintf(spaced, sizeof(spaced), "%s/my cred script", dir);
		snprintf(text, sizeof(text), "#!/bin/sh\nexec '%s' \"$@\"\n", script);
		write_file(spaced, text, 0755);
		snprintf(cfg, sizeof(cfg), "[default]\ncredential_process = \"%s\" args 'a b' "
		    "c\\ d \"e 'f'\" '$HOME;x' ; inline comment\n",
		    spaced);
		write_file(cfgpath, cfg, 0600);
		bb_creds_init(&c);
		ok(resolve_once(NULL, &c, &err) == 0, "quoted command runs");
		if (err.msg[0])
			diag("%s", err.msg);
		is_str(c.access_key_id, "[a b][c d][e 'f'][$HOME;x]",
		    "arguments split shell-style without a shell");
		bb_creds_release(&c);
		unlink(spaced);
	}

	/* A program that does not exist. */
	{
		struct bb_error err = BB_ERROR_INIT;
		struct bb_creds c;

		write_file(cfgpath, "[default]\ncredential_process = /nonexistent/bb-cred x\n",
		    0600);
		bb_creds_init(&c);
		ok(resolve_once(NULL, &c, &err) == -1 &&
		    strstr(err.msg, "cannot run '/nonexistent/bb-cred': No such file") != NULL,
		    "a missing program is named");
		diag("%s", err.msg);
	}

	/* The timeout. */
	{
		struct bb_error err = BB_ERROR_INIT;
		struct bb_creds c;
		double t0;
		int rc;

		snprintf(cmd, sizeof(cmd), "%s slow", script);
		bb_creds_init(&c);
		t0 = mono();
		rc = bb_creds_process(cmd, "p", 300, 0, &c, &err);
		t0 = mono() - t0;
		ok(rc == -1 && strstr(err.msg, "credential_process for profile 'p' timed out") &&
		    t0 < 2.0, "a slow credential_process is killed at its timeout (%.2f s)", t0);
	}
	write_file(cfgpath, NULL, 0);
}

static void
test_refresh(void)
{
	char exp[64], cfg[900];
	struct bb_config conf;
	struct bb_creds_provider *p;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_creds c;
	time_t now = time(NULL);

	clear_aws_env(home);
	snprintf(cfg, sizeof(cfg), "[default]\ncredential_process = %s ok\n", script);
	write_file(cfgpath, cfg, 0600);

	/* Expiring in 3 minutes: inside the mandatory window, refreshed on every get. */
	iso(now + 180, exp, sizeof(exp));
	write_cred_script(exp);
	bb_creds_init(&c);
	if (bb_config_load(&conf, NULL, &err) || (p = bb_creds_provider_new(&conf, NULL, &err)) ==
	    NULL) {
		ok(0, "refresh setup: %s", err.msg);
		return;
	}
	ok(bb_creds_get(p, &c, &err) == 0 && strcmp(c.access_key_id, "AKIDP1") == 0,
	    "first get runs the process");
	ok(c.expiration == now + 180, "expiration parsed");
	ok(bb_creds_get(p, &c, &err) == 0 && strcmp(c.access_key_id, "AKIDP2") == 0,
	    "credentials expiring in 3 minutes are refreshed on the next get");
	is_str(read_text(counter), "2\n", "the process ran twice");
	bb_creds_provider_free(p);

	/* Expiring in an hour: kept; refreshed in the advisory window. */
	iso(now + 3600, exp, sizeof(exp));
	write_cred_script(exp);
	p = bb_creds_provider_new(&conf, NULL, &err);
	ok(bb_creds_get(p, &c, &err) == 0 && strcmp(c.access_key_id, "AKIDP1") == 0 &&
	    bb_creds_get(p, &c, &err) == 0 && strcmp(c.access_key_id, "AKIDP1") == 0,
	    "credentials valid for an hour are reused");
	is_str(read_text(counter), "1\n", "the process ran once");
	bb_creds_provider_set_clock(p, now + 3600 - 14 * 60);
	ok(bb_creds_get(p, &c, &err) == 0 && strcmp(c.access_key_id, "AKIDP2") == 0,
	    "14 minutes before expiry: refreshed (advisory window)");
	/* Break the process: advisory failures keep the old ones, mandatory fail. */
	write_file(failflag, "x", 0600);
	bb_creds_provider_set_clock(p, now + 3600 - 12 * 60);
	ok(bb_creds_get(p, &c, &err) == 0 && strcmp(c.access_key_id, "AKIDP2") == 0,
	    "12 minutes left and the refresh fails: the current ones are kept");
	bb_creds_provider_set_clock(p, now + 3600 - 8 * 60);
	ok(bb_creds_get(p, &c, &err) == -1 && strstr(err.msg, "refreshing credentials: "
	    "credential_process for profile 'default' exited with status 3: refresh broke"),
	    "8 minutes left and the refresh fails: an error naming the source");
	diag("%s", err.msg);
	bb_creds_provider_free(p);

	/* Already expired and still expired after refresh. */
	iso(now - 60, exp, sizeof(exp));
	write_cred_script(exp);
	p = bb_creds_provider_new(&conf, NULL, &err);
	ok(bb_creds_get(p, &c, &err) == -1 && strstr(err.msg, "have expired"),
	    "credentials that are already expired are an error");
	bb_creds_provider_free(p);

	/* Environment credentials with AWS_CREDENTIAL_EXPIRATION are re-read. */
	iso(now + 3600, exp, sizeof(exp));
	setenv("AWS_ACCESS_KEY_ID", "AKIDE1", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
	setenv("AWS_CREDENTIAL_EXPIRATION", exp, 1);
	p = bb_creds_provider_new(&conf, NULL, &err);
	ok(bb_creds_get(p, &c, &err) == 0 && c.expiration == now + 3600,
	    "AWS_CREDENTIAL_EXPIRATION is the expiry");
	iso(now + 7200, exp, sizeof(exp));
	setenv("AWS_ACCESS_KEY_ID", "AKIDE2", 1);
	setenv("AWS_CREDENTIAL_EXPIRATION", exp, 1);
	bb_creds_provider_set_clock(p, now + 3600 - 5 * 60);
	ok(bb_creds_get(p, &c, &err) == 0 && strcmp(c.access_key_id, "AKIDE2") == 0,
	    "expiring environment credentials are re-read from the environment");
	bb_creds_provider_free(p);

	bb_creds_release(&c);
	bb_config_release(&conf);
	clear_aws_env(home);
	write_file(cfgpath, NULL, 0);
}

/* ---- the loopback metadata server ---- */

struct server {
	pid_t pid;
	int port;
	char log[400];
};

static int
server_start(struct server *s, const char *const *args)
{
	const char *srcdir = getenv("top_srcdir");
	char fixture[600], portbuf[32];
	const char *argv[20];
	int pfd[2], n = 0, k;
	ssize_t r;
	size_t got = 0;

	snprintf(fixture, sizeof(fixture), "%s/tests/fixtures/metadata_server.py",
	    srcdir ? srcdir : ".");
	snprintf(s->log, sizeof(s->log), "%s/server.log", dir);
	unlink(s->log);
	argv[n++] = "python3";
	argv[n++] = fixture;
	argv[n++] = "--log";
	argv[n++] = s->log;
	for (k = 0; args[k] && n < 18; k++)
		argv[n++] = args[k];
	argv[n] = NULL;
	if (pipe(pfd))
		return -1;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	while (got < sizeof(portbuf) - 1 &&
	    (r = read(pfd[0], portbuf + got, sizeof(portbuf) - 1 - got)) > 0) {
		got += (size_t)r;
		if (memchr(portbuf, '\n', got))
			break;
	}
	close(pfd[0]);
	portbuf[got] = '\0';
	s->port = atoi(portbuf);
	if (s->port <= 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		return -1;
	}
	return 0;
}

static void
server_stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

static int
have_python(void)
{
	const char *srcdir = getenv("top_srcdir");
	char fixture[600];

	snprintf(fixture, sizeof(fixture), "%s/tests/fixtures/metadata_server.py",
	    srcdir ? srcdir : ".");
	return access(fixture, R_OK) == 0 && system("python3 -c pass >/dev/null 2>&1") == 0;
}

static void
test_container(void)
{
	static const char *const args[] = { "--mode", "container", "--auth", "Token abc", NULL };
	struct server s;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_creds c;
	char url[200], tokfile[400];

	if (server_start(&s, args)) {
		skip("cannot start the metadata fixture");
		return;
	}
	clear_aws_env(home);
	bb_creds_init(&c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/credentials/abc", s.port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Token abc", 1);
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	ok(resolve_once(NULL, &c, &err) == 0, "container: resolves (never through the proxy)");
	unsetenv("http_proxy");
	if (err.msg[0])
		diag("%s", err.msg);
	is_str(c.access_key_id, "ASIACONTAINER1", "container: key id");
	is_str(c.session_token, "token-container-1", "container: session token from 'Token'");
	is_str(c.source, "container", "container: source");
	ok(c.expiration > time(NULL) + 3000, "container: expiration");
	is_str(read_text(s.log), "GET /v2/credentials/abc token=no auth=Token abc\n",
	    "container: one GET with the Authorization token");

	snprintf(tokfile, sizeof(tokfile), "%s/eks-token", dir);
	write_file(tokfile, "Token abc", 0600);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong", 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokfile, 1);
	ok(resolve_once(NULL, &c, &err) == 0 && !strcmp(c.access_key_id, "ASIACONTAINER2"),
	    "container: the token file wins over the variable");

	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	ok(resolve_once(NULL, &c, &err) == -1 && strstr(err.msg, "HTTP 401") &&
	    strstr(err.msg, url) && !strstr(err.msg, "wrong"),
	    "container: a refused token is an error naming the endpoint");
	diag("%s", err.msg);

	write_file(tokfile, "Token abc\n", 0600);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokfile, 1);
	ok(resolve_once(NULL, &c, &err) == -1 && strstr(err.msg, "line break"),
	    "container: a token with a line break is refused");
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	unlink(tokfile);

	{
		static const struct {
			const char *url;
			int allowed;
		} hosts[] = {
			{ "http://10.0.0.1/creds", 0 },
			{ "http://169.254.170.3/creds", 0 },
			{ "http://example.com/creds", 0 },
			{ "http://user@127.0.0.1/creds", 0 },
			{ "ftp://127.0.0.1/creds", 0 },
		};
		size_t i;

		for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
			setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", hosts[i].url, 1);
			ok(resolve_once(NULL, &c, &err) == -1 &&
			    strstr(err.msg, "must be https") != NULL,
			    "container: FULL_URI %s is refused before any request", hosts[i].url);
		}
	}
	ok(count_lines(read_text(s.log)) == 3, "container: no request for refused URIs");
	server_stop(&s);
	bb_creds_release(&c);
	clear_aws_env(home);
}

static void
test_imds(void)
{
	static const char *const v2[] = { "--mode", "imds", NULL };
	static const char *const v1[] = { "--mode", "imds", "--token-status", "405", NULL };
	static const char *const norole[] = { "--mode", "imds", "--no-role", NULL };
	static const char *const hang[] = { "--mode", "hang", NULL };
	struct server s;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_creds c;
	char url[200];
	double t0;
	int rc;

	bb_creds_init(&c);
	if (server_start(&s, v2)) {
		skip("cannot start the metadata fixture");
		return;
	}
	clear_aws_env(home);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	/* A dead proxy: libcurl would use it for 127.0.0.1 too, IMDS must not. */
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	ok(resolve_once(NULL, &c, &err) == 0, "IMDSv2: resolves (never through the proxy)");
	if (err.msg[0])
		diag("%s", err.msg);
	is_str(c.access_key_id, "ASIAIMDS2", "IMDSv2: key id");
	is_str(c.session_token, "token-imds-2", "IMDSv2: token");
	is_str(c.source, "instance metadata", "IMDSv2: source");
	is_str(read_text(s.log),
	    "PUT /latest/api/token token=no auth=-\n"
	    "GET /latest/meta-data/iam/security-credentials/ token=yes auth=-\n"
	    "GET /latest/meta-data/iam/security-credentials/bb-test-role token=yes auth=-\n",
	    "IMDSv2: token, role, credentials - every GET with the token");

	/* Refresh near expiry goes back to IMDS. */
	{
		struct bb_config conf;
		struct bb_creds_provider *p;

		unlink(s.log);
		bb_config_load(&conf, NULL, &err);
		p = bb_creds_provider_new(&conf, NULL, &err);
		ok(bb_creds_get(p, &c, &err) == 0 && !strcmp(c.access_key_id, "ASIAIMDS4"),
		    "IMDSv2: provider get");
		ok(bb_creds_get(p, &c, &err) == 0 && !strcmp(c.access_key_id, "ASIAIMDS4"),
		    "IMDSv2: fresh credentials are reused");
		bb_creds_provider_set_clock(p, time(NULL) + 3600 - 5 * 60);
		ok(bb_creds_get(p, &c, &err) == 0 && !strcmp(c.access_key_id, "ASIAIMDS6"),
		    "IMDSv2: refreshed 5 minutes before expiry");
		is_int(count_lines(read_text(s.log)), 6, "IMDSv2: 3 requests per fetch");
		bb_creds_provider_free(p);
		bb_config_release(&conf);
	}
	unsetenv("http_proxy");
	unsetenv("ALL_PROXY");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unlink(s.log);
	ok(resolve_once(NULL, &c, &err) == -1 && strstr(err.msg, "disabled by") &&
	    count_lines(read_text(s.log)) == 0, "AWS_EC2_METADATA_DISABLED: no request");
	unsetenv("AWS_EC2_METADATA_DISABLED");
	server_stop(&s);

	if (server_start(&s, v1) == 0) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d", s.port);
		setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
		ok(resolve_once(NULL, &c, &err) == 0 && !strcmp(c.access_key_id, "ASIAIMDS1"),
		    "IMDSv1 fallback after the token PUT gets 405");
		if (err.msg[0])
			diag("%s", err.msg);
		is_str(read_text(s.log),
		    "PUT /latest/api/token token=no auth=-\n"
		    "GET /latest/meta-data/iam/security-credentials/ token=no auth=-\n"
		    "GET /latest/meta-data/iam/security-credentials/bb-test-role token=no auth=-\n",
		    "IMDSv1: GETs without a token");
		setenv("AWS_EC2_METADATA_V1_DISABLED", "true", 1);
		ok(resolve_once(NULL, &c, &err) == -1 && strstr(err.msg, "IMDSv1 is disabled"),
		    "AWS_EC2_METADATA_V1_DISABLED: no fallback");
		unsetenv("AWS_EC2_METADATA_V1_DISABLED");
		server_stop(&s);
	} else {
		skip("cannot start the metadata fixture");
	}

	if (server_start(&s, norole) == 0) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d", s.port);
		setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
		ok(resolve_once(NULL, &c, &err) == -1 && strstr(err.msg, "no AWS credentials found") &&
		    strstr(err.msg, "no IAM role"), "IMDS without a role: no credentials");
		diag("%s", err.msg);
		server_stop(&s);
	} else {
		skip("cannot start the metadata fixture");
	}

	if (server_start(&s, hang) == 0) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d", s.port);
		setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
		t0 = mono();
		rc = resolve_once(NULL, &c, &err);
		t0 = mono() - t0;
		ok(rc == -1 && strstr(err.msg, "no AWS credentials found"),
		    "IMDS that never answers: no credentials");
		diag("%s", err.msg);
		ok(t0 > 0.8 && t0 < 2.5, "... after the 1 s default timeout (%.2f s)", t0);
		setenv("AWS_METADATA_SERVICE_TIMEOUT", "0.3", 1);
		setenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "2", 1);
		t0 = mono();
		rc = resolve_once(NULL, &c, &err);
		t0 = mono() - t0;
		ok(rc == -1 && t0 > 0.5 && t0 < 1.8,
		    "AWS_METADATA_SERVICE_TIMEOUT=0.3 with 2 attempts (%.2f s)", t0);
		diag("%s", err.msg);
		setenv("AWS_METADATA_SERVICE_TIMEOUT", "soon", 1);
		ok(resolve_once(NULL, &c, &err) == -1 && strstr(err.msg, "invalid metadata service "
		    "timeout 'soon'"), "a bad AWS_METADATA_SERVICE_TIMEOUT is an error");
		server_stop(&s);
	} else {
		skip("cannot start the metadata fixture");
	}
	bb_creds_release(&c);
	clear_aws_env(home);
}

static void
test_bearer(void)
{
	struct bb_config conf;
	struct bb_creds_provider *p;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_auth a;

	clear_aws_env(home);
	setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-EXAMPLE", 1);
	bb_config_load(&conf, NULL, &err);
	p = bb_creds_provider_new(&conf, NULL, &err);
	ok(bb_creds_auth(p, "bedrock", &a, &err) == 0 && a.kind == BB_AUTH_BEARER &&
	    !strcmp(a.bearer, "bedrock-api-key-EXAMPLE"),
	    "bearer token for bedrock, with no other credentials");
	bb_auth_release(&a);
	ok(bb_creds_auth(p, "s3", &a, &err) == -1 && strstr(err.msg, "no AWS credentials"),
	    "s3 never uses the bearer token");
	bb_auth_release(&a);
	bb_creds_provider_free(p);

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
	p = bb_creds_provider_new(&conf, NULL, &err);
	ok(bb_creds_auth(p, "bedrock", &a, &err) == 0 && a.kind == BB_AUTH_BEARER,
	    "bearer wins for bedrock even with SigV4 credentials");
	bb_auth_release(&a);
	ok(bb_creds_auth(p, "s3", &a, &err) == 0 && a.kind == BB_AUTH_SIGV4 &&
	    !strcmp(a.creds.access_key_id, "AKIDENV"), "s3 gets SigV4 credentials");
	bb_auth_release(&a);
	bb_creds_provider_free(p);

	setenv("AWS_AUTH_SCHEME_PREFERENCE", "sigv4, httpBearerAuth", 1);
	p = bb_creds_provider_new(&conf, NULL, &err);
	ok(bb_creds_auth(p, "bedrock", &a, &err) == 0 && a.kind == BB_AUTH_SIGV4,
	    "AWS_AUTH_SCHEME_PREFERENCE=sigv4,... prefers SigV4");
	bb_auth_release(&a);
	bb_creds_provider_free(p);

	setenv("AWS_AUTH_SCHEME_PREFERENCE", "smithy.api#httpBearerAuth,aws.auth#sigv4", 1);
	p = bb_creds_provider_new(&conf, NULL, &err);
	ok(bb_creds_auth(p, "bedrock", &a, &err) == 0 && a.kind == BB_AUTH_BEARER,
	    "namespaced httpBearerAuth first keeps the bearer token");
	bb_auth_release(&a);
	bb_creds_provider_free(p);
	bb_config_release(&conf);

	{
		struct bb_creds_opts o;

		memset(&o, 0, sizeof(o));
		o.access_key_id = "AKIDCLI";
		o.secret_access_key = "cli-secret";
		clear_aws_env(home);
		setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
		setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
		bb_config_load(&conf, NULL, &err);
		p = bb_creds_provider_new(&conf, &o, &err);
		ok(bb_creds_auth(p, "s3", &a, &err) == 0 &&
		    !strcmp(a.creds.access_key_id, "AKIDCLI"), "explicit keys beat the environment");
		bb_auth_release(&a);
		bb_creds_provider_free(p);
		o.secret_access_key = NULL;
		ok(bb_creds_provider_new(&conf, &o, &err) == NULL, "explicit id without secret");
		bb_config_release(&conf);
	}
	clear_aws_env(home);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	signal(SIGPIPE, SIG_IGN);   /* as bb_main_init does */
	snprintf(home, sizeof(home), "%s/bb-unit-creds.XXXXXX", tmp);
	if (mkdtemp(home) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(dir, sizeof(dir), "%s/.aws", home);
	snprintf(cfgpath, sizeof(cfgpath), "%s/config", dir);
	snprintf(credpath, sizeof(credpath), "%s/credentials", dir);
	snprintf(script, sizeof(script), "%s/cred.sh", dir);
	snprintf(counter, sizeof(counter), "%s/count", dir);
	snprintf(failflag, sizeof(failflag), "%s/fail", dir);
	if (mkdir(dir, 0700) != 0) {
		perror("mkdir");
		return 99;
	}
	clear_aws_env(home);
	test_split();
	test_time();
	test_chain();
	test_process();
	test_refresh();
	test_bearer();
	if (have_python()) {
		test_container();
		test_imds();
	} else {
		skip("python3 or tests/fixtures/metadata_server.py not available: no container "
		    "or IMDS tests");
	}
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
		if (system(cmd) != 0)
			diag("could not remove %s", home);
	}
	return done_testing();
}
