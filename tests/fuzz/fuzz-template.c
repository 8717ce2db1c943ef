/*
 * fuzz-template.c - prompt templates (template.h): compile, then render
 * with a row.
 *
 * Input: the template text up to the first NUL byte; after it, one value
 * per field separated by NUL bytes (a value starting with 0x01 is passed
 * as already escaped, one of exactly 0x02 as missing; values run out:
 * missing too).
 *
 * Invariants: compiled field names are non-empty and brace-free, listed
 * once; a render with every value present and raw gives a JSON string
 * body (valid once quoted) and an error leaves the output as it was;
 * a missing value is an error.
 */
#include "config.h"

#include "fuzz.h"
#include "json.h"
#include "template.h"

#define MAXV 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *z, *name;
	struct bb_template *t = NULL;
	struct bb_template_value vals[MAXV];
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf out = BB_BUF_INIT, q = BB_BUF_INIT;
	size_t tlen, nf, i, j, n;
	int all_raw = 1, missing = 0, rc;

	z = memchr(p, '\0', size);
	tlen = z ? (size_t)(z - p) : size;
	if (bb_template_compile(p, tlen, &t, &err) < 0) {
		FUZZ_CHECK(err.msg[0] != '\0');
		goto out;
	}
	nf = bb_template_nfields(t);
	for (i = 0; i < nf; i++) {
		name = bb_template_field(t, i);
		FUZZ_CHECK(name != NULL && name[0] != '\0');
		FUZZ_CHECK(strpbrk(name, "{}") == NULL);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(name, bb_template_field(t, j)) != 0);
	}
	(void)bb_template_has_nested(t);
	if (nf > MAXV)
		goto out;
	p = z ? z + 1 : end;
	for (i = 0; i < nf; i++) {
		memset(&vals[i], 0, sizeof(vals[i]));
		if (p >= end) {
			missing = 1;
			continue;
		}
		z = memchr(p, '\0', (size_t)(end - p));
		n = z ? (size_t)(z - p) : (size_t)(end - p);
		if (n == 1 && p[0] == 0x02) {
			missing = 1;
		} else if (n > 0 && p[0] == 0x01) {
			vals[i].p = p + 1;
			vals[i].n = n - 1;
			vals[i].escaped = 1;
			all_raw = 0;
		} else {
			vals[i].p = p;
			vals[i].n = n;
		}
		p = z ? z + 1 : end;
	}
	bb_buf_adds(&out, "prefix");
	rc = bb_template_render_json(t, vals, &out, &err);
	if (missing)
		FUZZ_CHECK(rc < 0);
	if (rc < 0) {
		FUZZ_CHECK(out.len == 6 && memcmp(out.data, "prefix", 6) == 0);
		goto out;
	}
	if (all_raw) {
		bb_buf_addc(&q, '"');
		bb_buf_add(&q, out.data + 6, out.len - 6);
		bb_buf_addc(&q, '"');
		FUZZ_CHECK(bb_json_validate(q.data, q.len, 0, &err) == 0);
	}
out:
	bb_template_free(t);
	bb_buf_release(&out);
	bb_buf_release(&q);
	return 0;
}
