/*
 * creds.h - AWS credentials as the AWS CLI finds them (spec/BEDROCK.md
 * section 5.3-5.4), and Bedrock API keys (section 2).
 *
 * The chain, first match wins:
 *   1. explicit keys (struct bb_creds_opts)
 *   2. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, with
 *      AWS_SESSION_TOKEN (or AWS_SECURITY_TOKEN) and AWS_CREDENTIAL_EXPIRATION;
 *      skipped when the profile was given with --profile
 *   3. the profile: assume-role, web identity and SSO profiles are detected
 *      and refused with the workaround; then the credentials file's keys,
 *      then credential_process, then static keys in the config file
 *   4. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI
 *   5. EC2 instance metadata (IMDSv2, IMDSv1 fallback on 403/404/405)
 * A provider that is configured but fails is an error naming it (the chain
 * does not go on past a broken credential_process or container endpoint);
 * instance metadata that cannot be reached means "no credentials found".
 *
 * Secrets never appear in error messages, and are wiped (OPENSSL_cleanse)
 * when released.
 */
#ifndef BB_CREDS_H
#define BB_CREDS_H

#include <time.h>

#include "awsconfig.h"
#include "error.h"

struct bb_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;   /* NULL: none */
	char *account_id;      /* NULL: not given */
	time_t expiration;     /* 0: does not expire */
	char *source;          /* "environment", "credential_process (profile 'x')", ... */
};

void bb_creds_init(struct bb_creds *c);
/* Wipe and free the contents; the struct is left empty (init state). */
void bb_creds_release(struct bb_creds *c);
/* Deep copy into dst (released first). */
int bb_creds_copy(struct bb_creds *dst, const struct bb_creds *src, struct bb_error *err);

struct bb_creds_opts {
	/* Explicit keys (all NULL: none); both id and secret or neither. */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
	long process_timeout_ms;    /* credential_process run time; 0: 60 s */
	size_t process_max_output;  /* credential_process stdout bound; 0: 1 MiB */
	const char *ca_bundle;      /* https container endpoints; NULL: cfg's */
};

/*
 * A provider: resolves the chain on the first bb_creds_get() and then
 * keeps the credentials, refreshing them from the same source when fewer
 * than 15 minutes remain (advisory: on failure the old ones are kept)
 * or 10 minutes (mandatory: failure is an error).
 *
 * cfg must outlive the provider. bb_creds_provider_new() fails only on a
 * bad option or memory; credentials problems show up in bb_creds_get().
 * A provider is not thread-safe (one per thread, like struct bb_http).
 */
struct bb_creds_provider;
struct bb_creds_provider *bb_creds_provider_new(const struct bb_config *cfg,
    const struct bb_creds_opts *opts, struct bb_error *err);
/* Wipe the credentials and explicit keys it holds, then free it. NULL is ok. */
void bb_creds_provider_free(struct bb_creds_provider *p);
/* Current credentials, copied into out (caller releases it). Errors
 * (kind BB_ERR_AUTH or BB_ERR_USAGE) name the source that failed, or say
 * "no AWS credentials found (tried environment, shared files, container,
 * instance metadata)". */
int bb_creds_get(struct bb_creds_provider *p, struct bb_creds *out, struct bb_error *err);
/* Tests: use this clock instead of time(NULL) (0: real clock). */
void bb_creds_provider_set_clock(struct bb_creds_provider *p, time_t now);

/*
 * How to authenticate calls to a service (by signing name: "s3",
 * "bedrock"): a Bedrock API key from AWS_BEARER_TOKEN_BEDROCK wins for
 * "bedrock" unless AWS_AUTH_SCHEME_PREFERENCE (or auth_scheme_preference)
 * puts sigv4 before httpBearerAuth; everything else is SigV4 with the
 * provider's credentials.
 */
enum bb_auth_kind { BB_AUTH_SIGV4 = 0, BB_AUTH_BEARER };
struct bb_auth {
	enum bb_auth_kind kind;
	char *bearer;            /* BB_AUTH_BEARER: the token */
	struct bb_creds creds;   /* BB_AUTH_SIGV4 */
};
int bb_creds_auth(struct bb_creds_provider *p, const char *service, struct bb_auth *out,
    struct bb_error *err);
/* Wipe and free. */
void bb_auth_release(struct bb_auth *a);
/* The bearer token that bb_creds_auth would use for service, or NULL
 * (lives as long as p). */
const char *bb_creds_bearer(const struct bb_creds_provider *p, const char *service);

/* ---- pieces, exposed for tests and for tools that need them ---- */

/*
 * Split a command line as POSIX shells (and Python's shlex) do, without
 * running a shell: blanks separate words; '...' is literal; in "..." a
 * backslash escapes only '"' and '\'; elsewhere a backslash escapes the
 * next character. An unclosed quote or a trailing backslash is an error.
 * *argv (NULL-terminated, *argc words) is freed with bb_creds_argv_free.
 */
int bb_creds_split_command(const char *cmd, char ***argv, int *argc, struct bb_error *err);
void bb_creds_argv_free(char **argv);

/*
 * Run a credential_process command (stdin /dev/null; stdout: the JSON
 * document, at most max_output bytes; killed after timeout_ms) and parse
 * its output. profile names it in errors.
 */
int bb_creds_process(const char *command, const char *profile, long timeout_ms,
    size_t max_output, struct bb_creds *out, struct bb_error *err);

/* ISO 8601 date-time ("2024-05-01T12:00:00Z", fractions and +hh:mm
 * offsets accepted) to a time_t; 0 or -1. */
int bb_creds_parse_time(const char *s, time_t *out);

#endif
