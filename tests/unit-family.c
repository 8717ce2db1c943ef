/* unit-family.c - model family detection, modelInput checks, modelOutput
 * extraction (libshared/family.c), with tables of cases and the example
 * records of spec/batch-record-examples.json. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "family.h"
#include "json.h"
#include "tap.h"

static const struct {
	const char *id;
	int converse;
	enum bb_family want;
} model_cases[] = {
	{ "anthropic.claude-3-haiku-20240307-v1:0", 0, BB_FAMILY_ANTHROPIC },
	{ "us.anthropic.claude-3-5-sonnet-20241022-v2:0", 0, BB_FAMILY_ANTHROPIC },
	{ "eu.anthropic.claude-3-7-sonnet-20250219-v1:0", 0, BB_FAMILY_ANTHROPIC },
	{ "apac.anthropic.claude-sonnet-4-20250514-v1:0", 0, BB_FAMILY_ANTHROPIC },
	{ "global.anthropic.claude-sonnet-4-5-20250929-v1:0", 0, BB_FAMILY_ANTHROPIC },
	{ "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", 0,
	  BB_FAMILY_ANTHROPIC },
	{ "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0",
	  0, BB_FAMILY_ANTHROPIC },
	{ "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/abcdefghij12",
	  0, BB_FAMILY_NOVA },
	{ "amazon.nova-lite-v1:0", 0, BB_FAMILY_NOVA },
	{ "us.amazon.nova-pro-v1:0", 0, BB_FAMILY_NOVA },
	{ "amazon.nova-micro-v1:0", 1, BB_FAMILY_CONVERSE },
	{ "anthropic.claude-3-haiku-20240307-v1:0", 1, BB_FAMILY_CONVERSE },
	{ "amazon.titan-embed-text-v2:0", 0, BB_FAMILY_TITAN_EMBED },
	{ "amazon.titan-embed-text-v1", 0, BB_FAMILY_TITAN_EMBED },
	{ "amazon.titan-embed-image-v1", 0, BB_FAMILY_TITAN_EMBED },
	{ "meta.llama3-1-8b-instruct-v1:0", 0, BB_FAMILY_LLAMA },
	{ "us.meta.llama3-2-11b-instruct-v1:0", 0, BB_FAMILY_LLAMA },
	{ "meta.llama4-scout-17b-instruct-v1:0", 0, BB_FAMILY_LLAMA },
	{ "mistral.mistral-small-2402-v1:0", 0, BB_FAMILY_MISTRAL },
	{ "mistral.mixtral-8x7b-instruct-v0:1", 0, BB_FAMILY_MISTRAL },
	{ "mistral.mistral-large-2402-v1:0", 0, BB_FAMILY_MISTRAL },
	{ "mistral.mistral-large-2407-v1:0", 0, BB_FAMILY_MISTRAL_CHAT },
	{ "cohere.embed-english-v3", 0, BB_FAMILY_COHERE_EMBED },
	{ "cohere.embed-multilingual-v3", 0, BB_FAMILY_COHERE_EMBED },
	{ "cohere.command-r-v1:0", 0, BB_FAMILY_UNKNOWN },
	{ "ai21.jamba-1-5-large-v1:0", 0, BB_FAMILY_UNKNOWN },
	{ "", 0, BB_FAMILY_UNKNOWN },
	{ "us.", 0, BB_FAMILY_UNKNOWN },
	{ "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6", 0,
	  BB_FAMILY_UNKNOWN },
};

#define ANTH "\"anthropic_version\":\"bedrock-2023-05-31\""
#define UMSG "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}]"
#define NMSG "\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}]"

/* want == NULL: valid; otherwise the error message must contain want. */
static const struct {
	enum bb_family f;
	const char *input;
	const char *want;
} check_cases[] = {
	{ BB_FAMILY_ANTHROPIC, "{" ANTH ",\"max_tokens\":100," UMSG "}", NULL },
	{ BB_FAMILY_ANTHROPIC, "{" ANTH ",\"max_tokens\":100,\"system\":\"s\",\"temperature\":0.5,"
	  "\"top_k\":5,\"stop_sequences\":[\"x\"],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
	  "{\"role\":\"assistant\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"}]}", NULL },
	{ BB_FAMILY_ANTHROPIC, "{\"max_tokens\":100," UMSG "}",
	  "modelInput.anthropic_version: required key not found" },
	{ BB_FAMILY_ANTHROPIC, "{\"anthropic_version\":\"bedrock-2023-06-01\",\"max_tokens\":1," UMSG "}",
	  "modelInput.anthropic_version: must be \"bedrock-2023-05-31\"" },
	{ BB_FAMILY_ANTHROPIC, "{" ANTH "," UMSG "}", "modelInput.max_tokens: required key not found" },
	{ BB_FAMILY_ANTHROPIC, "{" ANTH ",\"max_tokens\":0," UMSG "}",
	  "modelInput.max_tokens: must be an integer >= 1" },
	{ BB_FAMILY_ANTHROPIC, "{" ANTH ",\"max_tokens\":1.5," UMSG "}",
	  "modelInput.max_tokens: must be an integer >= 1" },
	{ BB_FAMILY_ANTHROPIC, "{" ANTH ",\"max_tokens\":\"10\"," UMSG "}",
	  "modelInput.max_tokens: must be an integer" },
	{ BB_FAMILY_ANTHROPIC, "{" ANTH ",\"max_tokens\":10}", "modelInput.messages: required key" },
	{ BB_FAMILY_ANTHROPIC, "{" ANTH ",\"max_tokens\":10,\"messages\":[]}",
	  "modelInput.messages: must have at least 1 item" },
	{ BB_FAMILY_ANTHROPIC, "{" ANTH ",\"max_tokens\":10,\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}",
	  "modelInput.messages.0.role" },
	{ BB_FAMILY_ANTHROPIC, "{" ANTH ",\"max_tokens\":10,\"messages\":[{\"role\":\"user\"}]}",
	  "modelInput.messages.0.content: required key not found" },
	{ BB_FAMILY_ANTHROPIC, "{" ANTH ",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]}",
	  "modelInput.messages.0.content.0" },
	{ BB_FAMILY_ANTHROPIC, "{" ANTH ",\"max_tokens\":10,\"messages\":[{\"role\":\"assistant\",\"content\":\"x\"}]}",
	  "the first message must use the \"user\" role" },
	{ BB_FAMILY_ANTHROPIC, "{" ANTH ",\"max_tokens\":10,\"temperature\":1.5," UMSG "}",
	  "modelInput.temperature: must be a number between 0 and 1" },
	{ BB_FAMILY_ANTHROPIC, "{" ANTH ",\"max_tokens\":10,\"prompt\":\"x\"," UMSG "}",
	  "extraneous key [prompt] is not permitted" },
	{ BB_FAMILY_ANTHROPIC, "[1]", "modelInput: must be a JSON object" },
	{ BB_FAMILY_NOVA, "{" NMSG "}", NULL },
	{ BB_FAMILY_NOVA, "{\"schemaVersion\":\"messages-v1\",\"system\":[{\"text\":\"s\"}]," NMSG
	  ",\"inferenceConfig\":{\"maxTokens\":512,\"temperature\":0.7,\"topP\":0.9,\"topK\":20,"
	  "\"stopSequences\":[]}}", NULL },
	{ BB_FAMILY_NOVA, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	  "modelInput.messages.0.content: must be an array" },
	{ BB_FAMILY_NOVA, "{" NMSG ",\"inferenceConfig\":{\"maxTokens\":0}}",
	  "modelInput.inferenceConfig.maxTokens" },
	{ BB_FAMILY_NOVA, "{" NMSG ",\"system\":\"s\"}", "modelInput.system: must be an array" },
	{ BB_FAMILY_NOVA, "{\"inputText\":\"x\"}", "extraneous key [inputText]" },
	{ BB_FAMILY_CONVERSE, "{" NMSG ",\"inferenceConfig\":{\"maxTokens\":1024}}", NULL },
	{ BB_FAMILY_CONVERSE, "{" NMSG ",\"toolConfig\":{\"tools\":[]}}",
	  "does not support tool calling" },
	{ BB_FAMILY_CONVERSE, "{\"messages\":[]}", "modelInput.messages: must have at least 1 item" },
	{ BB_FAMILY_TITAN_EMBED, "{\"inputText\":\"Roses are red\"}", NULL },
	{ BB_FAMILY_TITAN_EMBED, "{\"inputText\":\"r\",\"dimensions\":256,\"normalize\":true,"
	  "\"embeddingTypes\":[\"float\",\"binary\"]}", NULL },
	{ BB_FAMILY_TITAN_EMBED, "{}", "modelInput.inputText: required key not found" },
	{ BB_FAMILY_TITAN_EMBED, "{\"inputText\":\"\"}", "modelInput.inputText: must not be empty" },
	{ BB_FAMILY_TITAN_EMBED, "{\"inputText\":5}", "modelInput.inputText: must be a string" },
	{ BB_FAMILY_TITAN_EMBED, "{\"inputText\":\"x\",\"dimensions\":300}",
	  "modelInput.dimensions: must be one of 256, 512, 1024" },
	{ BB_FAMILY_TITAN_EMBED, "{\"inputText\":\"x\",\"normalize\":\"yes\"}",
	  "modelInput.normalize: must be a boolean" },
	{ BB_FAMILY_TITAN_EMBED, "{\"inputText\":\"x\",\"embeddingTypes\":[\"int8\"]}",
	  "modelInput.embeddingTypes.0" },
	{ BB_FAMILY_TITAN_EMBED, "{\"texts\":[\"x\"]}", "extraneous key [texts]" },
	{ BB_FAMILY_LLAMA, "{\"prompt\":\"hi\",\"max_gen_len\":512,\"temperature\":0.5,\"top_p\":0.9}", NULL },
	{ BB_FAMILY_LLAMA, "{\"max_gen_len\":5}", "modelInput.prompt: required key not found" },
	{ BB_FAMILY_LLAMA, "{\"prompt\":\"x\",\"max_gen_len\":-1}", "modelInput.max_gen_len" },
	{ BB_FAMILY_MISTRAL, "{\"prompt\":\"<s>[INST] x [/INST]\",\"max_tokens\":400,\"stop\":[],"
	  "\"temperature\":0.7,\"top_p\":0.9,\"top_k\":50}", NULL },
	{ BB_FAMILY_MISTRAL, "{\"prompt\":\"x\",\"stop\":\"x\"}", "modelInput.stop: must be an array" },
	{ BB_FAMILY_MISTRAL, "{\"messages\":[]}", "extraneous key [messages]" },
	{ BB_FAMILY_MISTRAL_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],"
	  "\"max_tokens\":256,\"temperature\":0.7}", NULL },
	{ BB_FAMILY_MISTRAL_CHAT, "{\"messages\":[{\"role\":\"robot\",\"content\":\"Hello\"}]}",
	  "modelInput.messages.0.role" },
	{ BB_FAMILY_MISTRAL_CHAT, "{\"prompt\":\"x\"}", "extraneous key [prompt]" },
	{ BB_FAMILY_COHERE_EMBED, "{\"texts\":[\"hello world\"],\"input_type\":\"search_document\","
	  "\"truncate\":\"END\"}", NULL },
	{ BB_FAMILY_COHERE_EMBED, "{\"texts\":[\"x\"]}", "modelInput.input_type: required key" },
	{ BB_FAMILY_COHERE_EMBED, "{\"texts\":[\"x\"],\"input_type\":\"search\"}",
	  "modelInput.input_type: must be one of" },
	{ BB_FAMILY_COHERE_EMBED, "{\"texts\":[\"x\"],\"input_type\":\"clustering\","
	  "\"embedding_types\":[\"float\",\"double\"]}", "modelInput.embedding_types.1" },
	{ BB_FAMILY_UNKNOWN, "{\"anything\":1}", NULL },
	{ BB_FAMILY_UNKNOWN, "\"x\"", "modelInput: must be a JSON object" },
};

static const struct {
	enum bb_family f;
	const char *output;
	const char *text, *embedding, *stop;
	long long in, out;
	int fails;
} extract_cases[] = {
	{ BB_FAMILY_ANTHROPIC, "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
	  "\"content\":[{\"type\":\"text\",\"text\":\"Hello \"},{\"type\":\"tool_use\",\"id\":\"t\"},"
	  "{\"type\":\"text\",\"text\":\"world\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
	  "\"usage\":{\"input_tokens\":42,\"output_tokens\":17}}",
	  "Hello world", "", "end_turn", 42, 17, 0 },
	{ BB_FAMILY_ANTHROPIC, "{\"content\":\"x\"}", "", "", "", -1, -1, 1 },
	{ BB_FAMILY_NOVA, "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":\"It \"},"
	  "{\"text\":\"is\"}]}},\"stopReason\":\"max_tokens\",\"usage\":{\"inputTokens\":12,"
	  "\"outputTokens\":5,\"totalTokens\":17}}", "It is", "", "max_tokens", 12, 5, 0 },
	{ BB_FAMILY_CONVERSE, "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":\"S\"}]}},"
	  "\"stopReason\":\"end_turn\",\"usage\":{\"inputTokens\":20,\"outputTokens\":3},"
	  "\"metrics\":{\"latencyMs\":350}}", "S", "", "end_turn", 20, 3, 0 },
	{ BB_FAMILY_CONVERSE, "{\"output\":{}}", "", "", "", -1, -1, 1 },
	{ BB_FAMILY_LLAMA, "{\"generation\":\"4\",\"prompt_token_count\":18,\"generation_token_count\":2,"
	  "\"stop_reason\":\"stop\"}", "4", "", "stop", 18, 2, 0 },
	{ BB_FAMILY_MISTRAL, "{\"outputs\":[{\"text\":\" Lemon\",\"stop_reason\":\"length\"}]}",
	  " Lemon", "", "length", -1, -1, 0 },
	{ BB_FAMILY_MISTRAL_CHAT, "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	  "\"content\":\"Hi!\"},\"stop_reason\":\"stop\"}]}", "Hi!", "", "stop", -1, -1, 0 },
	{ BB_FAMILY_TITAN_EMBED, "{\"embedding\":[0.5,-0.25,1],\"inputTextTokenCount\":4,"
	  "\"embeddingsByType\":{\"float\":[0.5,-0.25,1]}}", "", "[0.5,-0.25,1]", "", 4, -1, 0 },
	{ BB_FAMILY_TITAN_EMBED, "{\"embeddingsByType\":{\"float\":[1,2]},\"inputTextTokenCount\":1}",
	  "", "[1,2]", "", 1, -1, 0 },
	{ BB_FAMILY_TITAN_EMBED, "{\"embedding\":[\"a\"]}", "", "", "", -1, -1, 1 },
	{ BB_FAMILY_COHERE_EMBED, "{\"embeddings\":[[0.01,-0.02]],\"id\":\"x\","
	  "\"response_type\":\"embeddings_floats\",\"texts\":[\"hello\"]}", "", "[0.01,-0.02]", "",
	  -1, -1, 0 },
	{ BB_FAMILY_COHERE_EMBED, "{\"embeddings\":{\"int8\":[[1,2]],\"float\":[[0.5,0.25]]},"
	  "\"response_type\":\"embeddings_by_type\"}", "", "[0.5,0.25]", "", -1, -1, 0 },
	{ BB_FAMILY_COHERE_EMBED, "{\"embeddings\":[[1],[2]]}", "", "[[1],[2]]", "", -1, -1, 0 },
	{ BB_FAMILY_UNKNOWN, "{}", "", "", "", -1, -1, 1 },
	{ BB_FAMILY_LLAMA, "[]", "", "", "", -1, -1, 1 },
};

static void
test_models(void)
{
	size_t i;

	for (i = 0; i < sizeof(model_cases) / sizeof(model_cases[0]); i++) {
		enum bb_family got = bb_family_of_model(model_cases[i].id, model_cases[i].converse);

		ok(got == model_cases[i].want, "family of '%s'%s is %s (got %s)", model_cases[i].id,
		    model_cases[i].converse ? " (Converse)" : "",
		    bb_family_name(model_cases[i].want), bb_family_name(got));
	}
	ok(bb_family_of_model(NULL, 0) == BB_FAMILY_UNKNOWN, "NULL model id");
	ok(bb_family_is_embedding(BB_FAMILY_TITAN_EMBED) && bb_family_is_embedding(BB_FAMILY_COHERE_EMBED) &&
	    !bb_family_is_embedding(BB_FAMILY_ANTHROPIC) && !bb_family_is_embedding(BB_FAMILY_CONVERSE),
	    "embedding families");
	is_str(bb_family_name(BB_FAMILY_MISTRAL_CHAT), "mistral-chat", "family name");
}

static void
test_check(void)
{
	size_t i;

	for (i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		struct bb_error err = BB_ERROR_INIT;
		struct bb_json *j = NULL;
		int rc;

		if (bb_json_parse(check_cases[i].input, strlen(check_cases[i].input), 0, &j, &err) < 0) {
			ok(0, "case %zu parses: %s", i, err.msg);
			continue;
		}
		rc = bb_family_check_input(check_cases[i].f, j, &err);
		if (check_cases[i].want == NULL) {
			ok(rc == 0, "%s: valid %s", bb_family_name(check_cases[i].f), check_cases[i].input);
			if (rc != 0)
				diag("error: %s", err.msg);
		} else {
			ok(rc == -1 && strstr(err.msg, check_cases[i].want) != NULL &&
			    err.kind == BB_ERR_INPUT,
			    "%s: refused %s", bb_family_name(check_cases[i].f), check_cases[i].input);
			if (rc != -1 || strstr(err.msg, check_cases[i].want) == NULL)
				diag("got '%s', want '%s'", rc == 0 ? "(valid)" : err.msg,
				    check_cases[i].want);
		}
		bb_json_free(j);
	}
}

static void
test_extract(void)
{
	struct bb_family_output o;
	size_t i;

	bb_family_output_init(&o);
	for (i = 0; i < sizeof(extract_cases) / sizeof(extract_cases[0]); i++) {
		struct bb_error err = BB_ERROR_INIT;
		struct bb_json *j = NULL;
		int rc;

		if (bb_json_parse(extract_cases[i].output, strlen(extract_cases[i].output), 0, &j,
		    &err) < 0) {
			ok(0, "extract case %zu parses: %s", i, err.msg);
			continue;
		}
		rc = bb_family_extract(extract_cases[i].f, j, &o, &err);
		if (extract_cases[i].fails) {
			ok(rc == -1 && err.msg[0] != '\0', "%s: extraction of %s fails (%s)",
			    bb_family_name(extract_cases[i].f), extract_cases[i].output, err.msg);
		} else {
			ok(rc == 0 && strcmp(bb_buf_str(&o.text), extract_cases[i].text) == 0 &&
			    strcmp(bb_buf_str(&o.embedding), extract_cases[i].embedding) == 0 &&
			    strcmp(o.stop_reason, extract_cases[i].stop) == 0 &&
			    o.input_tokens == extract_cases[i].in &&
			    o.output_tokens == extract_cases[i].out,
			    "%s: extract from %s", bb_family_name(extract_cases[i].f),
			    extract_cases[i].output);
			if (rc != 0)
				diag("error: %s", err.msg);
			else
				diag("text '%s' embedding '%s' stop '%s' tokens %lld/%lld",
				    bb_buf_str(&o.text), bb_buf_str(&o.embedding), o.stop_reason,
				    o.input_tokens, o.output_tokens);
		}
		bb_json_free(j);
	}
	bb_family_output_release(&o);
}

/* The spec's example lines: every inputLine's modelInput passes its
 * family's check and every outputLine's modelOutput can be read. */
static void
test_spec_examples(void)
{
	static const struct {
		const char *key;
		enum bb_family f;
	} fams[] = {
		{ "anthropic_claude_messages", BB_FAMILY_ANTHROPIC },
		{ "amazon_titan_text_embeddings_v2", BB_FAMILY_TITAN_EMBED },
		{ "amazon_nova_invoke", BB_FAMILY_NOVA },
		{ "converse_type_any_model", BB_FAMILY_CONVERSE },
		{ "meta_llama", BB_FAMILY_LLAMA },
		{ "mistral_text_completion", BB_FAMILY_MISTRAL },
		{ "mistral_large_2_chat", BB_FAMILY_MISTRAL_CHAT },
		{ "cohere_embed", BB_FAMILY_COHERE_EMBED },
	};
	struct bb_error err = BB_ERROR_INIT;
	struct bb_buf text = BB_BUF_INIT;
	struct bb_json *doc = NULL;
	struct bb_family_output o;
	const char *dir = getenv("BB_SHARED");
	char path[4096], chunk[4096];
	FILE *fp;
	size_t i, n;

	if (dir == NULL || *dir == '\0') {
		skip("BB_SHARED not set: no spec/batch-record-examples.json");
		return;
	}
	snprintf(path, sizeof(path), "%s/spec/batch-record-examples.json", dir);
	if ((fp = fopen(path, "r")) == NULL) {
		skip("spec/batch-record-examples.json not found");
		return;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		bb_buf_add(&text, chunk, n);
	fclose(fp);
	if (!ok(bb_json_parse(text.data, text.len, 0, &doc, &err) == 0, "examples parse")) {
		diag("%s", err.msg);
		bb_buf_release(&text);
		return;
	}
	bb_family_output_init(&o);
	for (i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		const struct bb_json *fam = bb_json_get(bb_json_get(doc, "families"), fams[i].key);
		const struct bb_json *id = bb_json_get(fam, "modelIdExample");
		int rc;

		if (id != NULL && fams[i].f != BB_FAMILY_CONVERSE) {
			char first[256];

			/* "amazon.nova-lite-v1:0 (or ...)": the first word */
			snprintf(first, sizeof(first), "%s", id->str);
			first[strcspn(first, " ")] = '\0';
			ok(bb_family_of_model(first, 0) == fams[i].f, "example %s: family of %s",
			    fams[i].key, first);
		}
		rc = bb_family_check_input(fams[i].f,
		    bb_json_path(fam, "inputLine.modelInput"), &err);
		ok(rc == 0, "example %s: inputLine is valid", fams[i].key);
		if (rc != 0)
			diag("%s", err.msg);
		rc = bb_family_extract(fams[i].f, bb_json_path(fam, "outputLine.modelOutput"), &o, &err);
		ok(rc == 0 && (o.text.len > 0 || o.embedding.len > 0),
		    "example %s: outputLine yields %s", fams[i].key,
		    bb_family_is_embedding(fams[i].f) ? "an embedding" : "text");
	}
	bb_family_output_release(&o);
	bb_json_free(doc);
	bb_buf_release(&text);
}

int
main(void)
{
	test_models();
	test_check();
	test_extract();
	test_spec_examples();
	return done_testing();
}
