/*
 * unit-requestline.c - whole input lines that already are requests
 * (modelinput.h): OpenAI batch lines and Bedrock records to a recordId
 * and a modelInput, errors leaving the buffers unchanged; and CSV records
 * as JSON objects by column names (csv.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "csv.h"
#include "family.h"
#include "modelinput.h"
#include "tap.h"

#define HAIKU "anthropic.claude-3-haiku-20240307-v1:0"
#define TITAN "amazon.titan-embed-text-v2:0"
#define AV "\"anthropic_version\":\"bedrock-2023-05-31\""
#define BMI "{" AV ",\"max_tokens\":5," USER("q") "}"   /* a Bedrock modelInput */
#define USER(t) "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"" t "\"}]}]"

/* 'o': OpenAI line, 'b': Bedrock record; the id, the modelInput (NULL:
 * an error with that message) and the text length for the estimate. */
static const struct {
	char kind;
	const char *model;
	const char *line;
	const char *id;
	const char *want;
	size_t text_len;
} cases[] = {
	{ 'o', HAIKU, "{\"custom_id\":\"a-1\",\"body\":{\"max_tokens\":200,\"temperature\":0.5,"
	  "\"stop\":\"END\",\"messages\":[{\"role\":\"developer\",\"content\":\"be brief\"},"
	  "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},"
	  "{\"type\":\"text\",\"text\":\" there\"}]}]}}",
	  "x612d31", "{" AV ",\"max_tokens\":200,\"system\":\"be brief\"," USER("hi there")
	  ",\"temperature\":0.5,\"stop_sequences\":[\"END\"]}", 16 },
	{ 'o', HAIKU, "{\"body\":{\"max_completion_tokens\":7,\"top_p\":0.9,\"stop\":[\"a\",1,\"b\"],"
	  "\"messages\":[{\"role\":\"user\",\"content\":\"q\\n\"}]}}",
	  "", "{" AV ",\"max_tokens\":7," USER("q\\n") ",\"top_p\":0.9,"
	  "\"stop_sequences\":[\"a\",\"b\"]}", 3 },
	{ 'o', HAIKU, "{\"custom_id\":17,\"body\":{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}}",
	  "17", "{" AV ",\"max_tokens\":1024," USER("q") "}", 1 },
	{ 'o', TITAN, "{\"custom_id\":\"e1\",\"body\":{\"input\":\"hello\"}}",
	  "e1", "{\"inputText\":\"hello\"}", 5 },
	{ 'o', HAIKU, "{\"custom_id\":\"a\"}", NULL, "no \"body\" object", 0 },
	{ 'o', HAIKU, "{\"custom_id\":\"\",\"body\":{}}", NULL, "empty record id", 0 },
	{ 'o', HAIKU, "{\"custom_id\":true,\"body\":{}}", NULL,
	  "custom_id is not a string or a number", 0 },
	{ 'o', HAIKU, "{\"body\":{\"messages\":[]}}", NULL,
	  "body.messages: not a non-empty array", 0 },
	{ 'o', HAIKU, "{\"body\":{\"max_tokens\":0,\"messages\":[]}}", NULL,
	  "body.max_tokens: not a positive integer", 0 },
	{ 'o', HAIKU, "{\"body\":{\"messages\":[{\"content\":\"q\"}]}}", NULL,
	  "body.messages[0].role: not a string", 0 },
	{ 'o', HAIKU, "{\"body\":{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	  "\"image_url\"}]}]}}", NULL,
	  "body.messages[0].content[0]: only text parts are supported", 0 },
	{ 'o', HAIKU, "{\"body\":{\"messages\":[{\"role\":\"user\",\"content\":3}]}}", NULL,
	  "body.messages[0].content: not text", 0 },
	{ 'b', HAIKU, "{\"recordId\":\"x61\",\"modelInput\":{" AV ",\"max_tokens\":5," USER("q") "}}",
	  "x61", BMI, sizeof(BMI) - 1 },
	{ 'b', HAIKU, "{\"modelInput\":{" AV ",\"max_tokens\":5," USER("q") "}}",
	  "", BMI, sizeof(BMI) - 1 },
	{ 'b', HAIKU, "{\"recordId\":\"a b\",\"modelInput\":{" AV ",\"max_tokens\":5," USER("q") "}}",
	  "x612062", BMI, sizeof(BMI) - 1 },
	{ 'b', HAIKU, "{\"recordId\":\"a\"}", NULL, "no \"modelInput\" object", 0 },
	{ 'b', HAIKU, "{\"recordId\":\"a\",\"modelInput\":[]}", NULL, "no \"modelInput\" object", 0 },
	{ 'b', HAIKU, "{\"recordId\":null,\"modelInput\":{}}", NULL,
	  "recordId is not a string or a number", 0 },
};

static void
test_lines(void)
{
	struct bb_buf id = BB_BUF_INIT, out = BB_BUF_INIT;
	struct bb_error err = BB_ERROR_INIT;
	struct bb_modelinput mi;
	struct bb_mi_opts o;
	char name[64];
	size_t i, tl;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum bb_family f = bb_family_of_model(cases[i].model, 0);

		bb_mi_opts_init(&o);
		o.model = cases[i].model;
		o.family = f;
		if (cases[i].kind == 'o' && bb_modelinput_init(&mi, &o, &err)) {
			ok(0, "case %zu: init: %s", i, err.msg);
			continue;
		}
		bb_buf_reset(&id);
		bb_buf_reset(&out);
		bb_buf_adds(&id, "<");
		bb_buf_adds(&out, "<");
		tl = 12345;
		bb_error_clear(&err);
		rc = cases[i].kind == 'o' ?
		    bb_modelinput_openai_line(&mi, cases[i].line, strlen(cases[i].line), &id, &out,
		    &tl, &err) :
		    bb_modelinput_bedrock_line(f, cases[i].line, strlen(cases[i].line), &id, &out,
		    &tl, &err);
		snprintf(name, sizeof(name), "case %zu", i);
		if (cases[i].id == NULL) {
			ok(rc == -1 && id.len == 1 && out.len == 1, "%s refused, buffers unchanged", name);
			is_str(err.msg, cases[i].want, name);
		} else {
			ok(rc == 0, "%s converted", name);
			if (rc)
				diag("%s", err.msg);
			is_str(bb_buf_str(&id) + 1, cases[i].id, name);
			is_str(bb_buf_str(&out) + 1, cases[i].want, name);
			is_int((long long)tl, (long long)cases[i].text_len, name);
		}
		if (cases[i].kind == 'o')
			bb_modelinput_release(&mi);
	}
	bb_buf_release(&id);
	bb_buf_release(&out);
}

/* CSV records as objects by names: fewer names than fields, bad UTF-8. */
static const struct {
	const char *line;
	size_t nnames;
	const char *want;
} ccases[] = {
	{ "1,two,\"th\"\"ree\"", 3, "{\"a\":\"1\",\"b\":\"two\",\"c\":\"th\\\"ree\"}" },
	{ "1,two,three", 2, "{\"a\":\"1\",\"b\":\"two\"}" },
	{ "1", 3, "{\"a\":\"1\"}" },
	{ "\xff,x", 2, "{\"a\":null,\"b\":\"x\"}" },
	{ ",", 3, "{\"a\":\"\",\"b\":\"\"}" },
};

static void
test_csv(void)
{
	static char *const names[] = { "a", "b", "c" };
	struct bb_buf out = BB_BUF_INIT;
	struct bb_csv c;
	size_t i;

	for (i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++) {
		bb_csv_init(&c, ',');
		bb_csv_begin(&c);
		if (!ok(bb_csv_feed(&c, ccases[i].line, strlen(ccases[i].line), "\n", NULL) == 1,
		    "csv %zu parses", i))
			continue;
		bb_buf_reset(&out);
		ok(bb_csv_json_object(&c, names, ccases[i].nnames, &out) == 0, "csv %zu converts", i);
		is_str(bb_buf_str(&out), ccases[i].want, "csv object");
		bb_csv_release(&c);
	}
	bb_buf_release(&out);
}

int
main(void)
{
	test_lines();
	test_csv();
	return done_testing();
}
