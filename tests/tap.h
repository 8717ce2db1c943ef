/*
 * tap.h - a tiny TAP producer for the C unit tests (header only).
 *
 *   ok(cond, "name %d", i);          one test point
 *   is_str(got, want, "name");       string equality, shows both on failure
 *   is_int(got, want, "name");
 *   nm("name %d", i)                 a printf-made name for is_str/is_int
 *   skip_all("why") / skip("why")
 *   return done_testing();           prints the plan, exit status 0/1
 *
 * The automake TAP driver counts the points; scripts/test sums them.
 */
#ifndef BB_TAP_H
#define BB_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3), unused))
static int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

/* A test point's name made with printf, for is_str/is_int/is_mem, which
 * take a plain string (valid until the next call). */
__attribute__((format(printf, 1, 2), unused))
static const char *
nm(const char *fmt, ...)
{
	static char name[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	return name;
}

__attribute__((format(printf, 1, 2), unused))
static void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Print s with control characters visible, for diagnostics. */
__attribute__((unused))
static void
tap_show(const char *label, const char *s, size_t n)
{
	size_t i;

	printf("#   %s: \"", label);
	for (i = 0; i < n && i < 2000; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			printf("\\n");
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("%s\"\n", n > 2000 ? "..." : "");
}

__attribute__((unused))
static int
is_mem(const char *got, size_t gotlen, const char *want, size_t wantlen, const char *name)
{
	int c = got != NULL && gotlen == wantlen && memcmp(got, want, wantlen) == 0;

	ok(c, "%s", name);
	if (!c) {
		if (got)
			tap_show("got ", got, gotlen);
		else
			printf("#   got : NULL\n");
		tap_show("want", want, wantlen);
	}
	return c;
}

__attribute__((unused))
static int
is_str(const char *got, const char *want, const char *name)
{
	return is_mem(got, got ? strlen(got) : 0, want, strlen(want), name);
}

__attribute__((unused))
static int
is_int(long long got, long long want, const char *name)
{
	int c = got == want;

	ok(c, "%s", name);
	if (!c)
		printf("#   got %lld, want %lld\n", got, want);
	return c;
}

__attribute__((unused))
static void
skip(const char *why)
{
	tap_n++;
	printf("ok %d # SKIP %s\n", tap_n, why);
}

__attribute__((unused, noreturn))
static void
skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(0);
}

__attribute__((unused))
static int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
