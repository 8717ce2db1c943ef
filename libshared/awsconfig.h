/*
 * awsconfig.h - AWS shared configuration as the AWS CLI resolves it: the
 * config and credentials files, the profile, the region, per-service
 * endpoints, retries and the CA bundle (spec/BEDROCK.md section 5).
 *
 * (The file is not called config.h: that name is autoconf's, and a
 * libshared/config.h would shadow it for every file of the library.)
 *
 * Files: AWS_CONFIG_FILE (default ~/.aws/config) and
 * AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials); a missing file
 * is an empty one. INI syntax: `[default]`, `[profile NAME]`,
 * `[sso-session NAME]`, `[services NAME]` in the config file, bare profile
 * names in the credentials file; `key = value` (or `key: value`); full-line
 * comments start with `#` or `;`, and ` #` / ` ;` after a value start an
 * inline comment; an indented line after `key =` (empty value) is a
 * sub-setting (`s3 =\n  endpoint_url = ...`), after a non-empty value it
 * continues that value. Keys are compared case-insensitively.
 *
 * Profile: explicit option > AWS_PROFILE > AWS_DEFAULT_PROFILE > "default".
 * A named profile (any of the first three) that exists in neither file is
 * an error. A profile's settings come from the credentials file first,
 * then the config file.
 *
 * Lifecycle: bb_config_load() fills a struct bb_config from the
 * environment and the files; bb_config_release() frees it. Strings
 * returned by the lookup functions live as long as the struct.
 */
#ifndef BB_AWSCONFIG_H
#define BB_AWSCONFIG_H

#include "buf.h"
#include "error.h"

struct bb_ini;   /* a parsed file (private) */

/* Values given on the command line; NULL when not given. */
struct bb_config_opts {
	const char *profile;   /* --profile */
	const char *region;    /* --region */
};

struct bb_config {
	char *profile;             /* selected profile name (never NULL) */
	int profile_explicit;      /* given with --profile (skips env credentials) */
	int profile_found;         /* present in at least one file */
	char *config_path;         /* file locations actually used */
	char *creds_path;
	struct bb_ini *config_file;
	struct bb_ini *creds_file;
	char *region;              /* NULL: none configured */
	const char *region_source; /* "--region", "AWS_REGION", ... */
	int max_attempts;          /* 0: not configured */
	char *ca_bundle;           /* NULL: the system's */
};

/*
 * Read the environment and both files. Errors: a file that exists but
 * cannot be read or parsed (with its name and line), a named profile that
 * does not exist, a bad max_attempts. A missing region is not an error
 * here (see bb_config_region). On error *c is left released.
 */
int bb_config_load(struct bb_config *c, const struct bb_config_opts *opts,
    struct bb_error *err);
void bb_config_release(struct bb_config *c);

/* The region, or NULL with "no region: use --region or set AWS_REGION". */
const char *bb_config_region(const struct bb_config *c, struct bb_error *err);

/* A setting of the selected profile (credentials file first, then the
 * config file), or NULL. */
const char *bb_config_get(const struct bb_config *c, const char *key);
/* The same from one file only (which: 0 config, 1 credentials). */
const char *bb_config_get_in(const struct bb_config *c, int which, const char *key);
/* A setting of another section of the config file: kind is "profile",
 * "sso-session" or "services"; sub is the sub-setting name or NULL. */
const char *bb_config_section_get(const struct bb_config *c, const char *kind,
    const char *name, const char *key, const char *sub);
/* 1 for "true" (any case), 0 for anything else or NULL. */
int bb_config_is_true(const char *v);

/*
 * Endpoint of a service ("s3", "bedrock", "bedrock-runtime", ...):
 * explicit > AWS_ENDPOINT_URL_<SERVICE> > AWS_ENDPOINT_URL > the profile's
 * `services` section entry > the profile's endpoint_url > AWS's default
 * (https://<service>.<region>.amazonaws.com; .com.cn for cn- regions).
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (or ignore_configured_endpoint_urls)
 * true skips the configured ones (not the explicit one). The default needs
 * a region (error otherwise). A trailing '/' is removed.
 */
struct bb_endpoint {
	char *url;            /* owned */
	int custom;           /* 1: not AWS's default (S3 then uses path style) */
	const char *source;   /* "--endpoint-url", "AWS_ENDPOINT_URL_S3", "default", ... */
	char *region;         /* owned copy of the region (may be NULL if custom) */
};
/* _init before use; _release frees url and region and zeroes the struct. */
void bb_endpoint_init(struct bb_endpoint *ep);
void bb_endpoint_release(struct bb_endpoint *ep);
int bb_config_endpoint(const struct bb_config *c, const char *service, const char *explicit_url,
    struct bb_endpoint *ep, struct bb_error *err);

/* 1 when an S3 bucket name can be a DNS label for virtual-hosted style:
 * 3-63 of [a-z0-9-], starting and ending with a letter or digit, no dots,
 * not shaped like an IP address. */
int bb_s3_bucket_dns_ok(const char *bucket);
/*
 * Append to out the URL of an S3 bucket, without a trailing '/': with AWS's
 * default endpoint and a DNS-compatible name, virtual-hosted
 * "https://BUCKET.s3.REGION.amazonaws.com"; otherwise path style
 * "ENDPOINT/BUCKET". Object URLs are this plus "/" and the encoded key.
 */
int bb_s3_bucket_url(const struct bb_endpoint *ep, const char *bucket, struct bb_buf *out);

#endif
