/*
 * unit-template.c - prompt templates (syntax, escaping, missing fields)
 * and the modelInput built for each family (template and chat paths,
 * parameters, params merging, options a family does not take).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "modelinput.h"
#include "tap.h"
#include "template.h"

/* Each case: template, values (NULL = missing; a leading '=' marks an
 * already escaped JSON body), the expected JSON body or "!ERR". */
static const struct {
	const char *tpl;
	const char *vals[3];
	const char *want;
	const char *fields;   /* the distinct names joined by ',' */
} tcases[] = {
	{ "plain text", { NULL }, "plain text", "" },
	{ "", { NULL }, "", "" },
	{ "{a}", { "x" }, "x", "a" },
	{ "Q: {q}\nA:", { "why?" }, "Q: why?\\nA:", "q" },
	{ "{a}{b}{a}", { "1", "2" }, "121", "a,b" },
	{ "{{literal}} {x}", { "v" }, "{literal} v", "x" },
	{ "}}{{", { NULL }, "}{", "" },
	{ "{{{x}}}", { "v" }, "{v}", "x" },
	{ "{a.b} and {c d}", { "n", "s" }, "n and s", "a.b,c d" },
	{ "say \"{q}\"\t", { "a\"b\\c\n" }, "say \\\"a\\\"b\\\\c\\n\\\"\\t", "q" },
	{ "{q}", { "=already \\\"escaped\\\"" }, "already \\\"escaped\\\"", "q" },
	{ "\xc3\xa9{q}", { "\xe2\x82\xac" }, "\xc3\xa9\xe2\x82\xac", "q" },
	{ "{q}", { "\x01" }, "\\u0001", "q" },
	{ "{a} {b}", { "x", NULL }, "!ERR", "a,b" },
	{ "{q}", { "\xff" }, "!ERR", "q" },
};

static const char *const bad_templates[] = {
	"{", "}", "a{b", "a}b", "{}", "{a{b}", "x {a", "\xff{a}",
};

static void
test_templates(void)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf out = BB_BUF_INIT, names = BB_BUF_INIT;
	size_t c, i;

	for (c = 0; c < sizeof(tcases) / sizeof(tcases[0]); c++) {
		struct bb_template_value vals[3];
		struct bb_template *t = NULL;
		int rc;

		memset(vals, 0, sizeof(vals));
		if (bb_template_compile(tcases[c].tpl, strlen(tcases[c].tpl), &t, &err)) {
			ok(0, "compile %zu: %s", c, err.msg);
			continue;
		}
		bb_buf_reset(&names);
		for (i = 0; i < bb_template_nfields(t); i++) {
			if (i)
				bb_buf_addc(&names, ',');
			bb_buf_adds(&names, bb_template_field(t, i));
			if (i < 3 && tcases[c].vals[i] != NULL) {
				const char *v = tcases[c].vals[i];

				vals[i].escaped = v[0] == '=';
				vals[i].p = v + vals[i].escaped;
				vals[i].n = strlen(vals[i].p);
			}
		}
		is_str(bb_buf_str(&names), tcases[c].fields, "fields of template");
		bb_buf_reset(&out);
		bb_buf_adds(&out, "<");
		rc = bb_template_render_json(t, vals, &out, &err);
		if (strcmp(tcases[c].want, "!ERR") == 0) {
			ok(rc == -1 && strcmp(bb_buf_str(&out), "<") == 0,
			    "render %zu fails and leaves the buffer (%s)", c, err.msg);
		} else {
			char want[256];

			snprintf(want, sizeof(want), "<%s", tcases[c].want);
			ok(rc == 0, "render %zu", c);
			is_str(bb_buf_str(&out), want, "rendering");
		}
		ok(bb_template_has_nested(t) == (strchr(tcases[c].tpl, '.') != NULL),
		    "nested flag of template %zu", c);
		bb_template_free(t);
	}
	for (c = 0; c < sizeof(bad_templates) / sizeof(bad_templates[0]); c++) {
		struct bb_template *t = NULL;

		ok(bb_template_compile(bad_templates[c], strlen(bad_templates[c]), &t, &err) == -1 &&
		    t == NULL && err.kind == BB_ERR_USAGE, "bad template %zu: %s", c, err.msg);
	}
	{
		struct bb_template *t = NULL;
		struct bb_template_value v = { NULL, 0, 0 };

		bb_template_compile("a {missing} b", 13, &t, &err);
		bb_template_render_json(t, &v, &out, &err);
		is_str(err.msg, "missing field 'missing'", "missing field message");
		bb_template_free(t);
	}
	bb_buf_release(&out);
	bb_buf_release(&names);
}

/* modelInput for each family with the prompt "Hi \"you\"" (escaped). */
static const char *const stop2[] = { "END", "\n\n" };

static const struct {
	const char *model;
	int converse;
	const char *system;
	long long max_tokens;
	double temperature;   /* < 0: unset */
	int nstop;
	long long dims;
	int normalize;
	const char *params;
	const char *want;     /* "!ERR" when init must fail */
} mcases[] = {
	{ "anthropic.claude-3-haiku-20240307-v1:0", 0, NULL, -1, -1, 0, -1, -1, NULL,
	  "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi \\\"you\\\"\"}]}]}" },
	{ "us.anthropic.claude-3-5-sonnet-20240620-v1:0", 0, "Be terse.", 200, 0.2, 2, -1, -1, NULL,
	  "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":200,\"system\":\"Be terse.\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi \\\"you\\\"\"}]}],\"temperature\":0.2,\"stop_sequences\":[\"END\",\"\\n\\n\"]}" },
	{ "anthropic.claude-3-haiku-20240307-v1:0", 0, NULL, -1, -1, 0, -1, -1,
	  "{\"top_k\":5,\"max_tokens\":77}",
	  "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":77,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi \\\"you\\\"\"}]}],\"top_k\":5}" },
	{ "amazon.nova-lite-v1:0", 0, "S", 512, 0.7, 0, -1, -1, NULL,
	  "{\"schemaVersion\":\"messages-v1\",\"system\":[{\"text\":\"S\"}],\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hi \\\"you\\\"\"}]}],\"inferenceConfig\":{\"maxTokens\":512,\"temperature\":0.7}}" },
	{ "us.amazon.nova-pro-v1:0", 0, NULL, -1, -1, 0, -1, -1, "{\"inferenceConfig\":{\"topK\":20}}",
	  "{\"schemaVersion\":\"messages-v1\",\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hi \\\"you\\\"\"}]}],\"inferenceConfig\":{\"topK\":20}}" },
	{ "amazon.nova-lite-v1:0", 0, NULL, 100, -1, 0, -1, -1, "{\"inferenceConfig\":{\"topK\":20}}",
	  "{\"schemaVersion\":\"messages-v1\",\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hi \\\"you\\\"\"}]}],\"inferenceConfig\":{\"maxTokens\":100,\"topK\":20}}" },
	{ "meta.llama3-1-8b-instruct-v1:0", 1, "Sys", 300, -1, 1, -1, -1, NULL,
	  "{\"system\":[{\"text\":\"Sys\"}],\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hi \\\"you\\\"\"}]}],\"inferenceConfig\":{\"maxTokens\":300,\"stopSequences\":[\"END\"]}}" },
	{ "meta.llama3-1-8b-instruct-v1:0", 0, "Sys", 512, 0.5, 0, -1, -1, NULL,
	  "{\"prompt\":\"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\\n\\nSys<|eot_id|><|start_header_id|>user<|end_header_id|>\\n\\nHi \\\"you\\\"<|eot_id|><|start_header_id|>assistant<|end_header_id|>\\n\\n\",\"max_gen_len\":512,\"temperature\":0.5}" },
	{ "meta.llama3-1-8b-instruct-v1:0", 0, NULL, -1, -1, 1, -1, -1, NULL, "!ERR" },
	{ "mistral.mistral-small-2402-v1:0", 0, NULL, 400, -1, 1, -1, -1, NULL,
	  "{\"prompt\":\"<s>[INST] Hi \\\"you\\\" [/INST]\",\"max_tokens\":400,\"stop\":[\"END\"]}" },
	{ "mistral.mistral-7b-instruct-v0:2", 0, "Sys", -1, -1, 0, -1, -1, NULL,
	  "{\"prompt\":\"<s>[INST] Sys\\n\\nHi \\\"you\\\" [/INST]\"}" },
	{ "mistral.mistral-large-2407-v1:0", 0, "Sys", 256, 0.7, 0, -1, -1, NULL,
	  "{\"messages\":[{\"role\":\"system\",\"content\":\"Sys\"},{\"role\":\"user\",\"content\":\"Hi \\\"you\\\"\"}],\"max_tokens\":256,\"temperature\":0.7}" },
	{ "amazon.titan-embed-text-v2:0", 0, NULL, -1, -1, 0, 256, 1, NULL,
	  "{\"inputText\":\"Hi \\\"you\\\"\",\"dimensions\":256,\"normalize\":true}" },
	{ "amazon.titan-embed-text-v2:0", 0, NULL, -1, -1, 0, -1, -1, NULL,
	  "{\"inputText\":\"Hi \\\"you\\\"\"}" },
	{ "amazon.titan-embed-text-v1", 0, NULL, -1, -1, 0, -1, -1, NULL,
	  "{\"inputText\":\"Hi \\\"you\\\"\"}" },
	{ "amazon.titan-embed-text-v1", 0, NULL, -1, -1, 0, 256, -1, NULL, "!ERR" },
	{ "amazon.titan-embed-text-v2:0", 0, NULL, -1, -1, 0, 100, -1, NULL, "!ERR" },
	{ "amazon.titan-embed-text-v2:0", 0, "Sys", -1, -1, 0, -1, -1, NULL, "!ERR" },
	{ "amazon.titan-embed-text-v2:0", 0, NULL, 10, -1, 0, -1, -1, NULL, "!ERR" },
	{ "cohere.embed-english-v3", 0, NULL, -1, -1, 0, -1, -1, NULL,
	  "{\"texts\":[\"Hi \\\"you\\\"\"],\"input_type\":\"search_document\"}" },
	{ "cohere.embed-english-v3", 0, NULL, -1, -1, 0, -1, -1, "{\"truncate\":\"END\"}",
	  "{\"texts\":[\"Hi \\\"you\\\"\"],\"input_type\":\"search_document\",\"truncate\":\"END\"}" },
	{ "mistral.mistral-large-2407-v1:0", 0, NULL, -1, -1, 1, -1, -1, NULL, "!ERR" },
	{ "anthropic.claude-3-haiku-20240307-v1:0", 0, NULL, -1, -1, 0, 256, -1, NULL, "!ERR" },
	{ "anthropic.claude-3-haiku-20240307-v1:0", 0, NULL, -1, -1, 0, -1, -1, "[1]", "!ERR" },
	{ "anthropic.claude-3-haiku-20240307-v1:0", 0, NULL, -1, -1, 0, -1, -1, "{bad", "!ERR" },
	{ "anthropic.claude-3-haiku-20240307-v1:0", 0, NULL, -1, -1, 0, -1, -1,
	  "{\"messages\":[]}", "!ERR" },
	{ "anthropic.claude-3-haiku-20240307-v1:0", 0, NULL, 0, -1, 0, -1, -1, NULL, "!ERR" },
	{ "openai.gpt-x", 0, NULL, -1, -1, 0, -1, -1, NULL, "!ERR" },
};

static void
test_modelinput(void)
{
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf out = BB_BUF_INIT;
	const char *prompt = "Hi \\\"you\\\"";
	size_t c;

	for (c = 0; c < sizeof(mcases) / sizeof(mcases[0]); c++) {
		struct bb_modelinput mi;
		struct bb_mi_opts o;
		int rc;

		bb_mi_opts_init(&o);
		o.model = mcases[c].model;
		o.family = bb_family_of_model(o.model, mcases[c].converse);
		o.system = mcases[c].system;
		o.p.max_tokens = mcases[c].max_tokens;
		if (mcases[c].temperature >= 0) {
			o.p.has_temperature = 1;
			o.p.temperature = mcases[c].temperature;
		}
		o.p.stop = stop2;
		o.p.nstop = (size_t)mcases[c].nstop;
		o.dimensions = mcases[c].dims;
		o.normalize = mcases[c].normalize;
		if (mcases[c].params) {
			o.params = mcases[c].params;
			o.params_len = strlen(o.params);
		}
		rc = bb_modelinput_init(&mi, &o, &err);
		if (strcmp(mcases[c].want, "!ERR") == 0) {
			ok(rc == -1 && err.kind == BB_ERR_USAGE, "%s case %zu refused: %s",
			    mcases[c].model, c, err.msg);
			continue;
		}
		if (!ok(rc == 0, "%s case %zu init", mcases[c].model, c)) {
			diag("%s", err.msg);
			continue;
		}
		bb_buf_reset(&out);
		ok(bb_modelinput_prompt(&mi, prompt, strlen(prompt), &out, &err) == 0,
		    "build %zu", c);
		is_str(bb_buf_str(&out), mcases[c].want, "modelInput");
		ok(bb_modelinput_check(o.family, out.data, out.len, &err) == 0,
		    "passes the family check (%s)", err.msg);
		ok(bb_modelinput_prompt(&mi, "", 0, &out, &err) == -1 &&
		    err.kind == BB_ERR_INPUT, "empty prompt refused");
		/* the two-step form gives the same bytes */
		bb_buf_reset(&out);
		ok(bb_modelinput_prompt_begin(&mi, &out, &err) == 0 &&
		    bb_buf_adds(&out, prompt) == 0 &&
		    bb_modelinput_prompt_end(&mi, &out, strlen(prompt), &err) == 0,
		    "build %zu in two steps", c);
		is_str(bb_buf_str(&out), mcases[c].want, "same modelInput in two steps");
		ok(bb_modelinput_prompt_end(&mi, &out, 0, &err) == -1 &&
		    err.kind == BB_ERR_INPUT, "empty prompt refused in two steps");
		bb_modelinput_release(&mi);
	}
	bb_buf_release(&out);
}

/* The chat path: a conversation with per-row parameters. */
static void
test_chat(void)
{
	static const struct bb_mi_message conv[] = {
		{ "system", "Be kind.", 8 },
		{ "user", "Hi", 2 },
		{ "assistant", "Hello!", 6 },
		{ "user", "Bye", 3 },
	};
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf out = BB_BUF_INIT;
	struct bb_modelinput mi;
	struct bb_mi_opts o;
	struct bb_mi_params rp;

	bb_mi_opts_init(&o);
	o.model = "anthropic.claude-3-haiku-20240307-v1:0";
	o.family = BB_FAMILY_ANTHROPIC;
	o.system = "Default system.";
	o.p.max_tokens = 99;
	if (!ok(bb_modelinput_init(&mi, &o, &err) == 0, "chat init"))
		return;
	bb_mi_params_init(&rp);
	rp.max_tokens = 10;
	rp.has_top_p = 1;
	rp.top_p = 0.5;
	ok(bb_modelinput_chat(&mi, conv, 4, &rp, &out, &err) == 0, "anthropic chat");
	is_str(bb_buf_str(&out), "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":10,"
	    "\"system\":\"Be kind.\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"Hi\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Hello!\"}]},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Bye\"}]}],"
	    "\"top_p\":0.5}", "row parameters win, system message used");
	bb_buf_reset(&out);
	ok(bb_modelinput_chat(&mi, conv + 1, 1, NULL, &out, &err) == 0, "no system message");
	is_str(bb_buf_str(&out), "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":99,"
	    "\"system\":\"Default system.\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"text\",\"text\":\"Hi\"}]}]}", "options' system text and max tokens");
	bb_buf_reset(&out);
	ok(bb_modelinput_chat(&mi, conv, 1, NULL, &out, &err) == -1 && out.len == 0 &&
	    err.kind == BB_ERR_INPUT, "only a system message: %s", err.msg);
	bb_modelinput_release(&mi);

	bb_mi_opts_init(&o);
	o.model = "mistral.mistral-7b-instruct-v0:2";
	o.family = BB_FAMILY_MISTRAL;
	bb_modelinput_init(&mi, &o, &err);
	bb_buf_reset(&out);
	ok(bb_modelinput_chat(&mi, conv, 4, NULL, &out, &err) == 0, "mistral chat");
	is_str(bb_buf_str(&out), "{\"prompt\":\"<s>[INST] Be kind.\\n\\nHi [/INST] Hello!</s>"
	    "[INST] Bye [/INST]\"}", "mistral instruct conversation");
	bb_modelinput_release(&mi);

	bb_mi_opts_init(&o);
	o.model = "meta.llama3-70b-instruct-v1:0";
	o.family = BB_FAMILY_LLAMA;
	bb_modelinput_init(&mi, &o, &err);
	bb_buf_reset(&out);
	ok(bb_modelinput_chat(&mi, conv + 1, 3, NULL, &out, &err) == 0, "llama chat");
	is_str(bb_buf_str(&out), "{\"prompt\":\"<|begin_of_text|><|start_header_id|>user"
	    "<|end_header_id|>\\n\\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
	    "\\n\\nHello!<|eot_id|><|start_header_id|>user<|end_header_id|>\\n\\nBye<|eot_id|>"
	    "<|start_header_id|>assistant<|end_header_id|>\\n\\n\"}", "llama conversation");
	bb_modelinput_release(&mi);
	bb_buf_release(&out);
}

int
main(void)
{
	test_templates();
	test_modelinput();
	test_chat();
	return done_testing();
}
