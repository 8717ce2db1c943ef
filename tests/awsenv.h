/*
 * awsenv.h - environment helpers for the C tests of the AWS configuration
 * and credentials (header only): a clean AWS environment with a private
 * HOME, and "K=V" lists put into the environment.
 */
#ifndef BB_TEST_AWSENV_H
#define BB_TEST_AWSENV_H

#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Remove every AWS_* variable so the machine's setup cannot leak in, set
 * HOME to home and keep instance metadata off. */
__attribute__((unused))
static void
clear_aws_env(const char *home)
{
	char name[256];
	size_t i;

	for (;;) {
		int found = 0;

		for (i = 0; environ[i]; i++) {
			if (strncmp(environ[i], "AWS_", 4) == 0) {
				size_t n = strcspn(environ[i], "=");

				if (n >= sizeof(name))
					n = sizeof(name) - 1;
				memcpy(name, environ[i], n);
				name[n] = '\0';
				found = 1;
				break;
			}
		}
		if (!found)
			break;
		unsetenv(name);
	}
	setenv("HOME", home, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

/* "K=V\nK=V" into the environment. */
__attribute__((unused))
static void
set_env_list(const char *list)
{
	char line[1024];
	const char *p = list;

	while (p && *p) {
		size_t n = strcspn(p, "\n");
		char *eq;

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		p += n;
		if (*p == '\n')
			p++;
		if ((eq = strchr(line, '=')) != NULL) {
			*eq = '\0';
			setenv(line, eq + 1, 1);
		}
	}
}

#endif
