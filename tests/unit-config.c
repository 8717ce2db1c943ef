/* unit-config.c - AWS shared config: files, profile, region, endpoints. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "awsconfig.h"
#include "tap.h"
#include "awsenv.h"


static char home[256];
static char cfgpath[400], credpath[400];

static void
write_file(const char *path, const char *text)
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
}

static int
is_opt(const char *got, const char *want, const char *name)
{
	if (want == NULL) {
		ok(got == NULL, "%s: unset", name);
		if (got)
			diag("got '%s'", got);
		return got == NULL;
	}
	return is_str(got, want, name);
}

struct ccase {
	const char *name;
	const char *config;      /* ~/.aws/config text; NULL: no file */
	const char *creds;       /* ~/.aws/credentials text */
	const char *env;         /* "K=V\n..." */
	const char *profile;     /* --profile */
	const char *region;      /* --region */
	const char *err;         /* expected load error (substring) */
	const char *want_profile;
	const char *want_region; /* NULL: none */
	const char *s3;          /* s3 endpoint; "!text": error containing text */
	int s3_custom;
	const char *bedrock;     /* bedrock endpoint (NULL: not checked) */
	const char *key;         /* bb_config_get(key) == val */
	const char *val;
};

static const struct ccase cases[] = {
	{ "nothing configured", NULL, NULL, NULL, NULL, NULL, NULL,
	  "default", NULL, "!no region: use --region or set AWS_REGION", 0, NULL, NULL, NULL },
	{ "AWS_REGION", NULL, NULL, "AWS_REGION=eu-west-1", NULL, NULL, NULL,
	  "default", "eu-west-1", "https://s3.eu-west-1.amazonaws.com", 0,
	  "https://bedrock.eu-west-1.amazonaws.com", NULL, NULL },
	{ "AWS_REGION beats AWS_DEFAULT_REGION", NULL, NULL,
	  "AWS_REGION=eu-west-1\nAWS_DEFAULT_REGION=us-east-2", NULL, NULL, NULL,
	  "default", "eu-west-1", NULL, 0, NULL, NULL, NULL },
	{ "AWS_DEFAULT_REGION beats the profile", "[default]\nregion = ap-south-1\n", NULL,
	  "AWS_DEFAULT_REGION=us-east-2", NULL, NULL, NULL,
	  "default", "us-east-2", NULL, 0, NULL, NULL, NULL },
	{ "--region beats the environment", NULL, NULL, "AWS_REGION=eu-west-1", NULL,
	  "us-west-1", NULL, "default", "us-west-1", NULL, 0, NULL, NULL, NULL },
	{ "profile region", "[default]\nregion = us-west-2\n", NULL, NULL, NULL, NULL, NULL,
	  "default", "us-west-2", "https://s3.us-west-2.amazonaws.com", 0, NULL, NULL, NULL },
	{ "empty AWS_REGION is unset", "[default]\nregion = us-west-2\n", NULL,
	  "AWS_REGION=", NULL, NULL, NULL, "default", "us-west-2", NULL, 0, NULL, NULL, NULL },
	{ "AWS_PROFILE selects [profile dev]",
	  "[default]\nregion = us-west-2\n[profile dev]\nregion = eu-central-1\n", NULL,
	  "AWS_PROFILE=dev", NULL, NULL, NULL, "dev", "eu-central-1", NULL, 0, NULL, NULL, NULL },
	{ "AWS_DEFAULT_PROFILE when AWS_PROFILE is unset",
	  "[profile dev]\nregion = eu-central-1\n", NULL,
	  "AWS_DEFAULT_PROFILE=dev", NULL, NULL, NULL, "dev", "eu-central-1", NULL, 0, NULL,
	  NULL, NULL },
	{ "AWS_PROFILE beats AWS_DEFAULT_PROFILE",
	  "[profile a]\nregion = eu-west-3\n[profile b]\nregion = eu-north-1\n", NULL,
	  "AWS_PROFILE=a\nAWS_DEFAULT_PROFILE=b", NULL, NULL, NULL, "a", "eu-west-3", NULL, 0,
	  NULL, NULL, NULL },
	{ "--profile beats AWS_PROFILE",
	  "[profile a]\nregion = eu-west-3\n[profile b]\nregion = eu-north-1\n", NULL,
	  "AWS_PROFILE=a", "b", NULL, NULL, "b", "eu-north-1", NULL, 0, NULL, NULL, NULL },
	{ "--profile naming a missing profile", "[profile a]\n", NULL, NULL, "nope", NULL,
	  "the profile 'nope' (from --profile)", NULL, NULL, NULL, 0, NULL, NULL, NULL },
	{ "AWS_PROFILE naming a missing profile", "[profile a]\n", NULL, "AWS_PROFILE=gone",
	  NULL, NULL, "the profile 'gone' (from AWS_PROFILE)", NULL, NULL, NULL, 0, NULL,
	  NULL, NULL },
	{ "a missing default profile is fine", "[profile a]\n", NULL, NULL, NULL, NULL, NULL,
	  "default", NULL, NULL, 0, NULL, NULL, NULL },
	{ "profile only in the credentials file", NULL,
	  "[ci]\naws_access_key_id = AKIDCI\n", NULL, "ci", NULL, NULL, "ci", NULL, NULL, 0,
	  NULL, "aws_access_key_id", "AKIDCI" },
	{ "[profile x] in the credentials file is named 'profile x'", NULL,
	  "[profile x]\naws_access_key_id = A\n", NULL, "x", NULL, "the profile 'x'", NULL,
	  NULL, NULL, 0, NULL, NULL, NULL },
	{ "bare [x] in the config file is not a profile", "[x]\nregion = eu-west-1\n", NULL,
	  NULL, "x", NULL, "the profile 'x'", NULL, NULL, NULL, 0, NULL, NULL, NULL },
	{ "credentials file wins over config for the same key",
	  "[default]\nregion = us-west-2\n", "[default]\nregion = eu-west-2\n", NULL, NULL,
	  NULL, NULL, "default", "eu-west-2", NULL, 0, NULL, NULL, NULL },
	{ "comments, blank lines, CRLF, spacing",
	  "# top comment\r\n; another\r\n\r\n[default]\r\n   # indented comment\r\n"
	  "region=us-east-1   ; inline comment\r\noutput = json # inline\r\n"
	  "note = a#b;c\r\n", NULL, NULL, NULL, NULL, NULL,
	  "default", "us-east-1", NULL, 0, NULL, "note", "a#b;c" },
	{ "header with spaces, quotes and a trailing comment",
	  "[  profile   \"my dev\"  ]  # comment\nregion = sa-east-1\n", NULL, NULL, "my dev",
	  NULL, NULL, "my dev", "sa-east-1", NULL, 0, NULL, NULL, NULL },
	{ "keys are case-insensitive; colon separator",
	  "[default]\nRegion: ca-central-1\n", NULL, NULL, NULL, NULL, NULL,
	  "default", "ca-central-1", NULL, 0, NULL, NULL, NULL },
	{ "continuation lines join with a newline",
	  "[default]\nregion = us-east-1\nnote = first\n  second\n\tthird\n", NULL, NULL, NULL,
	  NULL, NULL, "default", "us-east-1", NULL, 0, NULL, "note", "first\nsecond\nthird" },
	{ "later duplicate wins", "[default]\nregion = us-east-1\nregion = us-east-2\n", NULL,
	  NULL, NULL, NULL, NULL, "default", "us-east-2", NULL, 0, NULL, NULL, NULL },
	{ "parse error: line without '='", "[default]\nregion us-east-1\n", NULL, NULL, NULL,
	  NULL, ":2: expected 'name = value'", NULL, NULL, NULL, 0, NULL, NULL, NULL },
	{ "parse error: setting before a section", "region = us-east-1\n", NULL, NULL, NULL,
	  NULL, ":1: setting before the first [section]", NULL, NULL, NULL, 0, NULL, NULL,
	  NULL },
	{ "parse error: unterminated header", "[default\n", NULL, NULL, NULL, NULL,
	  ":1: unterminated section header", NULL, NULL, NULL, 0, NULL, NULL, NULL },
	{ "parse error in the credentials file names it", NULL, "[default]\n=x\n", NULL, NULL,
	  NULL, "/.aws/credentials:2: empty setting name", NULL, NULL, NULL, 0, NULL, NULL,
	  NULL },
	{ "invalid region", NULL, NULL, "AWS_REGION=us east", NULL, NULL,
	  "invalid region 'us east' (from AWS_REGION)", NULL, NULL, NULL, 0, NULL, NULL, NULL },
	{ "China regions", NULL, NULL, "AWS_REGION=cn-north-1", NULL, NULL, NULL, "default",
	  "cn-north-1", "https://s3.cn-north-1.amazonaws.com.cn", 0, NULL, NULL, NULL },
	/* Endpoints (spec 5.5). */
	{ "services section",
	  "[default]\nregion = us-east-1\nservices = emu\n"
	  "[services emu]\ns3 =\n  endpoint_url = http://127.0.0.1:9000/ ; c\n"
	  "bedrock =\n  endpoint_url = http://127.0.0.1:8080\n", NULL, NULL, NULL, NULL, NULL,
	  "default", "us-east-1", "http://127.0.0.1:9000", 1, "http://127.0.0.1:8080", NULL,
	  NULL },
	{ "services section beats profile endpoint_url",
	  "[default]\nregion = us-east-1\nservices = emu\nendpoint_url = http://global:1\n"
	  "[services emu]\ns3 =\n  endpoint_url = http://s3.local:9000\n", NULL, NULL, NULL,
	  NULL, NULL, "default", "us-east-1", "http://s3.local:9000", 1, "http://global:1",
	  NULL, NULL },
	{ "AWS_ENDPOINT_URL beats the services section",
	  "[default]\nregion = us-east-1\nservices = emu\n"
	  "[services emu]\ns3 =\n  endpoint_url = http://s3.local:9000\n", NULL,
	  "AWS_ENDPOINT_URL=http://envglobal:2", NULL, NULL, NULL, "default", "us-east-1",
	  "http://envglobal:2", 1, "http://envglobal:2", NULL, NULL },
	{ "AWS_ENDPOINT_URL_S3 beats AWS_ENDPOINT_URL", NULL, NULL,
	  "AWS_REGION=us-east-1\nAWS_ENDPOINT_URL=http://g:2\nAWS_ENDPOINT_URL_S3=http://s:3",
	  NULL, NULL, NULL, "default", "us-east-1", "http://s:3", 1, "http://g:2", NULL, NULL },
	{ "AWS_ENDPOINT_URL_BEDROCK", NULL, NULL,
	  "AWS_REGION=us-east-1\nAWS_ENDPOINT_URL_BEDROCK=https://b.example:8443/", NULL, NULL,
	  NULL, "default", "us-east-1", "https://s3.us-east-1.amazonaws.com", 0,
	  "https://b.example:8443", NULL, NULL },
	{ "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	  "[default]\nregion = us-east-1\nendpoint_url = http://x:1\n", NULL,
	  "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=TRUE\nAWS_ENDPOINT_URL_S3=http://s:3", NULL, NULL,
	  NULL, "default", "us-east-1", "https://s3.us-east-1.amazonaws.com", 0,
	  "https://bedrock.us-east-1.amazonaws.com", NULL, NULL },
	{ "ignore_configured_endpoint_urls in the profile",
	  "[default]\nregion = us-east-1\nendpoint_url = http://x:1\n"
	  "ignore_configured_endpoint_urls = true\n", NULL, NULL, NULL, NULL, NULL, "default",
	  "us-east-1", "https://s3.us-east-1.amazonaws.com", 0, NULL, NULL, NULL },
	{ "env false overrides the profile's true",
	  "[default]\nregion = us-east-1\nendpoint_url = http://x:1\n"
	  "ignore_configured_endpoint_urls = true\n", NULL,
	  "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=false", NULL, NULL, NULL, "default",
	  "us-east-1", "http://x:1", 1, NULL, NULL, NULL },
	{ "custom endpoint needs no region", NULL, NULL, "AWS_ENDPOINT_URL=http://e:1", NULL,
	  NULL, NULL, "default", NULL, "http://e:1", 1, "http://e:1", NULL, NULL },
	{ "endpoint without a scheme", NULL, NULL, "AWS_ENDPOINT_URL_S3=localhost:9000", NULL,
	  "us-east-1", NULL, "default", "us-east-1",
	  "!invalid endpoint URL 'localhost:9000' for s3", 0, NULL, NULL, NULL },
	{ "profile selection applies to endpoints",
	  "[default]\nendpoint_url = http://d:1\n[profile emu]\nendpoint_url = http://e:2\n",
	  NULL, "AWS_PROFILE=emu", NULL, NULL, NULL, "emu", NULL, "http://e:2", 1,
	  "http://e:2", NULL, NULL },
};

static void
run_case(const struct ccase *t)
{
	struct bb_config_opts o = { t->profile, t->region };
	struct bb_config c;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_endpoint ep;
	char name[300];
	int rc;

	clear_aws_env(home);
	write_file(cfgpath, t->config);
	write_file(credpath, t->creds);
	set_env_list(t->env);
	rc = bb_config_load(&c, &o, &err);
	if (t->err) {
		snprintf(name, sizeof(name), "%s: load fails", t->name);
		ok(rc == -1 && strstr(err.msg, t->err) != NULL, "%s", name);
		if (rc == 0 || strstr(err.msg, t->err) == NULL)
			diag("got '%s', want '...%s...'", rc == 0 ? "success" : err.msg, t->err);
		if (rc == 0)
			bb_config_release(&c);
		return;
	}
	snprintf(name, sizeof(name), "%s: loads", t->name);
	if (!ok(rc == 0, "%s", name)) {
		diag("%s", err.msg);
		return;
	}
	snprintf(name, sizeof(name), "%s: profile", t->name);
	is_str(c.profile, t->want_profile, name);
	snprintf(name, sizeof(name), "%s: region", t->name);
	is_opt(c.region, t->want_region, name);
	if (t->s3) {
		snprintf(name, sizeof(name), "%s: s3 endpoint", t->name);
		rc = bb_config_endpoint(&c, "s3", NULL, &ep, &err);
		if (t->s3[0] == '!') {
			ok(rc == -1 && strstr(err.msg, t->s3 + 1) != NULL, "%s fails", name);
			if (rc == 0 || strstr(err.msg, t->s3 + 1) == NULL)
				diag("got '%s'", rc == 0 ? ep.url : err.msg);
		} else {
			if (rc)
				diag("%s", err.msg);
			is_str(rc == 0 ? ep.url : NULL, t->s3, name);
			snprintf(name, sizeof(name), "%s: s3 custom flag", t->name);
			is_int(ep.custom, t->s3_custom, name);
		}
		bb_endpoint_release(&ep);
	}
	if (t->bedrock) {
		snprintf(name, sizeof(name), "%s: bedrock endpoint", t->name);
		rc = bb_config_endpoint(&c, "bedrock", NULL, &ep, &err);
		if (rc)
			diag("%s", err.msg);
		is_str(rc == 0 ? ep.url : NULL, t->bedrock, name);
		bb_endpoint_release(&ep);
	}
	if (t->key) {
		snprintf(name, sizeof(name), "%s: %s", t->name, t->key);
		is_opt(bb_config_get(&c, t->key), t->val, name);
	}
	bb_config_release(&c);
}

static void
test_files_from_env(void)
{
	char alt[400];
	struct bb_config c;
	struct bb_error err = BB_ERROR_INIT;

	clear_aws_env(home);
	write_file(cfgpath, "[default]\nregion = us-west-2\n");
	write_file(credpath, NULL);
	snprintf(alt, sizeof(alt), "%s/alt-config", home);
	write_file(alt, "[default]\nregion = eu-south-1\n");
	setenv("AWS_CONFIG_FILE", alt, 1);
	ok(bb_config_load(&c, NULL, &err) == 0, "AWS_CONFIG_FILE: loads");
	is_opt(c.region, "eu-south-1", "AWS_CONFIG_FILE replaces ~/.aws/config");
	is_str(c.config_path, alt, "config_path reports the file used");
	bb_config_release(&c);

	setenv("AWS_CONFIG_FILE", "~/alt-config", 1);
	ok(bb_config_load(&c, NULL, &err) == 0, "AWS_CONFIG_FILE with ~/");
	is_str(c.config_path, alt, "~/ expands to HOME");
	bb_config_release(&c);

	setenv("AWS_CONFIG_FILE", home, 1);   /* a directory */
	ok(bb_config_load(&c, NULL, &err) == -1 && strstr(err.msg, home) != NULL,
	    "an unreadable config file is an error naming it");
	unsetenv("AWS_CONFIG_FILE");

	snprintf(alt, sizeof(alt), "%s/alt-creds", home);
	write_file(alt, "[default]\nregion = af-south-1\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", alt, 1);
	ok(bb_config_load(&c, NULL, &err) == 0, "AWS_SHARED_CREDENTIALS_FILE: loads");
	is_opt(c.region, "af-south-1", "AWS_SHARED_CREDENTIALS_FILE used");
	is_str(c.creds_path, alt, "creds_path reports the file used");
	bb_config_release(&c);
	unlink(alt);
	snprintf(alt, sizeof(alt), "%s/alt-config", home);
	unlink(alt);
}

static void
test_settings(void)
{
	struct bb_config c;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_endpoint ep;
	char want[400];

	clear_aws_env(home);
	write_file(cfgpath, "[default]\nregion = us-east-1\nmax_attempts = 7\n"
	    "ca_bundle = ~/ca.pem\nservices = s\n"
	    "[services s]\nbedrock_runtime =\n  endpoint_url = http://rt:1\n"
	    "[sso-session corp]\nsso_region = eu-west-1\n");
	write_file(credpath, NULL);
	ok(bb_config_load(&c, NULL, &err) == 0, "settings: loads");
	is_int(c.max_attempts, 7, "max_attempts from the profile");
	snprintf(want, sizeof(want), "%s/ca.pem", home);
	is_opt(c.ca_bundle, want, "ca_bundle from the profile, ~ expanded");
	is_opt(bb_config_section_get(&c, "sso-session", "corp", "sso_region", NULL), "eu-west-1",
	    "an sso-session setting");
	ok(bb_config_endpoint(&c, "bedrock-runtime", NULL, &ep, &err) == 0 &&
	    strcmp(ep.url, "http://rt:1") == 0, "bedrock-runtime uses the bedrock_runtime key");
	bb_endpoint_release(&ep);
	ok(bb_config_endpoint(&c, "s3", "http://cli:5", &ep, &err) == 0 &&
	    strcmp(ep.url, "http://cli:5") == 0 && ep.custom &&
	    strcmp(ep.source, "--endpoint-url") == 0, "an explicit endpoint wins");
	bb_endpoint_release(&ep);
	bb_config_release(&c);

	setenv("AWS_MAX_ATTEMPTS", "3", 1);
	setenv("AWS_CA_BUNDLE", "/etc/ca.pem", 1);
	setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://envrt:2", 1);
	ok(bb_config_load(&c, NULL, &err) == 0, "settings from env: loads");
	is_int(c.max_attempts, 3, "AWS_MAX_ATTEMPTS beats the profile");
	is_opt(c.ca_bundle, "/etc/ca.pem", "AWS_CA_BUNDLE beats the profile");
	ok(bb_config_endpoint(&c, "bedrock-runtime", NULL, &ep, &err) == 0 &&
	    strcmp(ep.url, "http://envrt:2") == 0, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME");
	bb_endpoint_release(&ep);
	bb_config_release(&c);

	setenv("AWS_MAX_ATTEMPTS", "0", 1);
	ok(bb_config_load(&c, NULL, &err) == -1 && strstr(err.msg, "AWS_MAX_ATTEMPTS '0'"),
	    "AWS_MAX_ATTEMPTS=0 is an error");
	setenv("AWS_MAX_ATTEMPTS", "3x", 1);
	ok(bb_config_load(&c, NULL, &err) == -1, "AWS_MAX_ATTEMPTS=3x is an error");
	clear_aws_env(home);
}

static void
test_s3_urls(void)
{
	static const struct {
		const char *bucket;
		int dns_ok;
	} names[] = {
		{ "my-bucket", 1 }, { "abc", 1 }, { "ab", 0 }, { "a.b.c", 0 }, { "My-Bucket", 0 },
		{ "-bucket", 0 }, { "bucket-", 0 }, { "bucket_x", 0 }, { "123", 1 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0 },
	};
	struct bb_endpoint def = { "https://s3.eu-west-1.amazonaws.com", 0, "default", NULL };
	struct bb_endpoint emu = { "http://127.0.0.1:9000", 1, "AWS_ENDPOINT_URL", NULL };
	struct bb_buf b = BB_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		is_int(bb_s3_bucket_dns_ok(names[i].bucket), names[i].dns_ok, names[i].bucket);
	bb_s3_bucket_url(&def, "my-bucket", &b);
	is_str(bb_buf_str(&b), "https://my-bucket.s3.eu-west-1.amazonaws.com",
	    "default endpoint: virtual-hosted");
	bb_buf_reset(&b);
	bb_s3_bucket_url(&def, "my.bucket", &b);
	is_str(bb_buf_str(&b), "https://s3.eu-west-1.amazonaws.com/my.bucket",
	    "dotted bucket: path style");
	bb_buf_reset(&b);
	bb_s3_bucket_url(&emu, "my-bucket", &b);
	is_str(bb_buf_str(&b), "http://127.0.0.1:9000/my-bucket", "custom endpoint: path style");
	bb_buf_release(&b);
}

int
main(void)
{
	char dir[280];
	size_t i;

	snprintf(home, sizeof(home), "%s/bb-unit-config.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(home) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(dir, sizeof(dir), "%s/.aws", home);
	snprintf(cfgpath, sizeof(cfgpath), "%s/config", dir);
	snprintf(credpath, sizeof(credpath), "%s/credentials", dir);
	if (mkdir(dir, 0700) != 0) {
		perror("mkdir");
		return 99;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	test_files_from_env();
	test_settings();
	test_s3_urls();
	unlink(cfgpath);
	unlink(credpath);
	rmdir(dir);
	rmdir(home);
	return done_testing();
}
