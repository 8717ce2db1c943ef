/* family.c - Bedrock model families; see family.h and spec/BEDROCK.md 3.7. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "family.h"

/* ---- family from a model id ---- */

static int
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/*
 * Reduce an ARN or inference profile id to the base model id, written into
 * out: "arn:...:foundation-model/X" and "arn:...:inference-profile/us.X"
 * give X; "arn:...:custom-model/X/abcdefghij12" gives X; "us.X" gives X.
 */
static void
base_model(const char *id, char *out, size_t outsz)
{
	const char *p = id, *slash, *dot;
	size_t n;

	if (has_prefix(p, "arn:")) {
		if ((slash = strstr(p, ":custom-model/")) != NULL) {
			p = slash + strlen(":custom-model/");
			slash = strchr(p, '/');
			n = slash ? (size_t)(slash - p) : strlen(p);
		} else {
			slash = strrchr(p, '/');
			p = slash ? slash + 1 : p + strlen(p);
			n = strlen(p);
		}
	} else {
		n = strlen(p);
	}
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	/* A geography prefix ("us.", "eu.", "apac.", "global.", "us-gov.")
	 * is a segment before two more dotted segments: a.b.c-... */
	dot = strchr(out, '.');
	if (dot != NULL && strchr(dot + 1, '.') != NULL) {
		static const char *const geo[] = {
			"us.", "eu.", "apac.", "global.", "us-gov.", "ca.", "jp.", "au.",
			"ap.", "sa.", "me.", "af.", "il.", "mx.",
		};
		size_t i;

		for (i = 0; i < sizeof(geo) / sizeof(geo[0]); i++) {
			if (has_prefix(out, geo[i])) {
				memmove(out, dot + 1, strlen(dot + 1) + 1);
				break;
			}
		}
	}
}

enum bb_family
bb_family_of_model(const char *model_id, int converse)
{
	char base[512];

	if (converse)
		return BB_FAMILY_CONVERSE;
	if (model_id == NULL)
		return BB_FAMILY_UNKNOWN;
	base_model(model_id, base, sizeof(base));
	if (has_prefix(base, "anthropic.claude"))
		return BB_FAMILY_ANTHROPIC;
	if (has_prefix(base, "amazon.nova-"))
		return BB_FAMILY_NOVA;
	if (has_prefix(base, "amazon.titan-embed-"))
		return BB_FAMILY_TITAN_EMBED;
	if (has_prefix(base, "meta.llama"))
		return BB_FAMILY_LLAMA;
	/* Mistral Large 2 (24.07, 24.11) and Pixtral speak chat completion;
	 * the older Mistral models take a prompt. */
	if (has_prefix(base, "mistral.mistral-large-2407") ||
	    has_prefix(base, "mistral.mistral-large-2411") ||
	    has_prefix(base, "mistral.pixtral-"))
		return BB_FAMILY_MISTRAL_CHAT;
	if (has_prefix(base, "mistral."))
		return BB_FAMILY_MISTRAL;
	if (has_prefix(base, "cohere.embed-"))
		return BB_FAMILY_COHERE_EMBED;
	return BB_FAMILY_UNKNOWN;
}

const char *
bb_family_name(enum bb_family f)
{
	switch (f) {
	case BB_FAMILY_ANTHROPIC: return "anthropic";
	case BB_FAMILY_NOVA: return "nova";
	case BB_FAMILY_TITAN_EMBED: return "titan-embed";
	case BB_FAMILY_LLAMA: return "llama";
	case BB_FAMILY_MISTRAL: return "mistral";
	case BB_FAMILY_MISTRAL_CHAT: return "mistral-chat";
	case BB_FAMILY_COHERE_EMBED: return "cohere-embed";
	case BB_FAMILY_CONVERSE: return "converse";
	case BB_FAMILY_UNKNOWN: break;
	}
	return "unknown";
}

int
bb_family_is_embedding(enum bb_family f)
{
	return f == BB_FAMILY_TITAN_EMBED || f == BB_FAMILY_COHERE_EMBED;
}

/* ---- modelInput schema checks ---- */

/* Every check below names what it checks as "modelInput.<path>". */
static int
bad(struct bb_error *err, const char *path, const char *what)
{
	return bb_error_set(err, BB_ERR_INPUT, "modelInput%s%s: %s", *path ? "." : "", path, what);
}

/* Only these top-level keys are accepted (the models reject extraneous
 * keys: "extraneous key [x] is not permitted"). */
static int
chk_keys(const struct bb_json *o, const char *const *allowed, struct bb_error *err)
{
	size_t i, k;

	for (i = 0; i < o->n; i++) {
		for (k = 0; allowed[k] != NULL; k++)
			if (strcmp(o->keys[i], allowed[k]) == 0)
				break;
		if (allowed[k] == NULL)
			return bb_error_set(err, BB_ERR_INPUT,
			    "modelInput: extraneous key [%s] is not permitted", o->keys[i]);
	}
	return 0;
}

static int
chk_int(const struct bb_json *o, const char *key, int required, long long min, long long max,
    struct bb_error *err)
{
	const struct bb_json *v = bb_json_get(o, key);
	char what[128];

	if (v == NULL)
		return required ? bad(err, key, "required key not found") : 0;
	if (v->type != BB_JSON_NUMBER || !v->is_int || v->i < min || v->i > max) {
		if (max == (long long)1 << 62)
			snprintf(what, sizeof(what), "must be an integer >= %lld", min);
		else
			snprintf(what, sizeof(what), "must be an integer between %lld and %lld",
			    min, max);
		return bad(err, key, what);
	}
	return 0;
}
#define NOMAX ((long long)1 << 62)

static int
chk_num(const struct bb_json *o, const char *key, double min, double max, struct bb_error *err)
{
	const struct bb_json *v = bb_json_get(o, key);
	char what[128];

	if (v == NULL)
		return 0;
	if (v->type != BB_JSON_NUMBER || !(v->num >= min && v->num <= max)) {
		snprintf(what, sizeof(what), "must be a number between %g and %g", min, max);
		return bad(err, key, what);
	}
	return 0;
}

static int
chk_str(const struct bb_json *o, const char *key, int required, int nonempty,
    struct bb_error *err)
{
	const struct bb_json *v = bb_json_get(o, key);

	if (v == NULL)
		return required ? bad(err, key, "required key not found") : 0;
	if (v->type != BB_JSON_STRING)
		return bad(err, key, "must be a string");
	if (nonempty && v->len == 0)
		return bad(err, key, "must not be empty");
	return 0;
}

static int
chk_type(const struct bb_json *o, const char *key, int required, enum bb_json_type t,
    struct bb_error *err)
{
	const struct bb_json *v = bb_json_get(o, key);

	if (v == NULL)
		return required ? bad(err, key, "required key not found") : 0;
	if (t == BB_JSON_TRUE && (v->type == BB_JSON_TRUE || v->type == BB_JSON_FALSE))
		return 0;
	if (v->type != t)
		return bad(err, key, t == BB_JSON_ARRAY ? "must be an array" :
		    t == BB_JSON_OBJECT ? "must be an object" :
		    t == BB_JSON_TRUE ? "must be a boolean" : "has the wrong type");
	return 0;
}

/* An array of strings, each one of `vals` when vals is not NULL. */
static int
chk_str_array(const struct bb_json *o, const char *key, size_t maxn,
    const char *const *vals, struct bb_error *err)
{
	const struct bb_json *v = bb_json_get(o, key);
	size_t i, k;
	char path[96];

	if (v == NULL)
		return 0;
	if (v->type != BB_JSON_ARRAY)
		return bad(err, key, "must be an array of strings");
	if (v->n > maxn) {
		snprintf(path, sizeof(path), "must have at most %zu items", maxn);
		return bad(err, key, path);
	}
	for (i = 0; i < v->n; i++) {
		snprintf(path, sizeof(path), "%s.%zu", key, i);
		if (v->items[i]->type != BB_JSON_STRING)
			return bad(err, path, "must be a string");
		if (vals == NULL)
			continue;
		for (k = 0; vals[k] != NULL; k++)
			if (strcmp(v->items[i]->str, vals[k]) == 0)
				break;
		if (vals[k] == NULL)
			return bad(err, path, "is not an accepted value");
	}
	return 0;
}

static int
chk_enum(const struct bb_json *o, const char *key, int required, const char *const *vals,
    struct bb_error *err)
{
	const struct bb_json *v = bb_json_get(o, key);
	char what[256];
	size_t k, n = 0;

	if (v == NULL)
		return required ? bad(err, key, "required key not found") : 0;
	if (v->type == BB_JSON_STRING)
		for (k = 0; vals[k] != NULL; k++)
			if (strcmp(v->str, vals[k]) == 0)
				return 0;
	n = (size_t)snprintf(what, sizeof(what), "must be one of");
	for (k = 0; vals[k] != NULL && n < sizeof(what); k++)
		n += (size_t)snprintf(what + n, sizeof(what) - n, "%s \"%s\"", k ? "," : "",
		    vals[k]);
	return bad(err, key, what);
}

/* "messages" of the Anthropic API: [{role, content: string | [blocks]}]. */
static int
chk_anthropic_messages(const struct bb_json *m, struct bb_error *err)
{
	static const char *const roles[] = { "user", "assistant", NULL };
	char path[96];
	size_t i, k;

	if (m->n == 0)
		return bad(err, "messages", "must have at least 1 item");
	for (i = 0; i < m->n; i++) {
		const struct bb_json *msg = m->items[i], *c;

		snprintf(path, sizeof(path), "messages.%zu", i);
		if (msg->type != BB_JSON_OBJECT)
			return bad(err, path, "must be an object");
		snprintf(path, sizeof(path), "messages.%zu.role", i);
		if (bb_json_get(msg, "role") == NULL)
			return bad(err, path, "required key not found");
		if (chk_enum(msg, "role", 1, roles, NULL) < 0)
			return bad(err, path, "must be one of \"user\", \"assistant\"");
		snprintf(path, sizeof(path), "messages.%zu.content", i);
		c = bb_json_get(msg, "content");
		if (c == NULL)
			return bad(err, path, "required key not found");
		if (c->type == BB_JSON_STRING)
			continue;
		if (c->type != BB_JSON_ARRAY)
			return bad(err, path, "must be a string or an array");
		if (c->n == 0)
			return bad(err, path, "must have at least 1 item");
		for (k = 0; k < c->n; k++) {
			const struct bb_json *b = c->items[k], *t;

			snprintf(path, sizeof(path), "messages.%zu.content.%zu", i, k);
			if (b->type != BB_JSON_OBJECT)
				return bad(err, path, "must be an object");
			t = bb_json_get(b, "type");
			if (t == NULL || t->type != BB_JSON_STRING)
				return bad(err, path, "required key [type] not found");
			if (strcmp(t->str, "text") == 0 &&
			    !bb_json_is(bb_json_get(b, "text"), BB_JSON_STRING))
				return bad(err, path, "text block without a string [text]");
		}
	}
	if (strcmp(bb_json_str(bb_json_get(m->items[0], "role")), "user") != 0)
		return bad(err, "messages.0.role", "the first message must use the \"user\" role");
	return 0;
}

static int
chk_anthropic(const struct bb_json *in, struct bb_error *err)
{
	static const char *const keys[] = {
		"anthropic_version", "anthropic_beta", "max_tokens", "messages", "system",
		"temperature", "top_p", "top_k", "stop_sequences", "tools", "tool_choice",
		"metadata", "thinking", NULL,
	};
	const struct bb_json *v, *sys;

	if (chk_keys(in, keys, err) < 0)
		return -1;
	if ((v = bb_json_get(in, "anthropic_version")) == NULL)
		return bad(err, "anthropic_version", "required key not found");
	if (v->type != BB_JSON_STRING || strcmp(v->str, "bedrock-2023-05-31") != 0)
		return bad(err, "anthropic_version", "must be \"bedrock-2023-05-31\"");
	if (chk_int(in, "max_tokens", 1, 1, NOMAX, err) < 0)
		return -1;
	if (chk_type(in, "messages", 1, BB_JSON_ARRAY, err) < 0)
		return -1;
	if (chk_anthropic_messages(bb_json_get(in, "messages"), err) < 0)
		return -1;
	sys = bb_json_get(in, "system");
	if (sys != NULL && sys->type != BB_JSON_STRING && sys->type != BB_JSON_ARRAY)
		return bad(err, "system", "must be a string or an array");
	if (chk_num(in, "temperature", 0, 1, err) < 0 || chk_num(in, "top_p", 0, 1, err) < 0 ||
	    chk_int(in, "top_k", 0, 0, NOMAX, err) < 0 ||
	    chk_str_array(in, "stop_sequences", 8191, NULL, err) < 0 ||
	    chk_str_array(in, "anthropic_beta", 64, NULL, err) < 0 ||
	    chk_type(in, "tools", 0, BB_JSON_ARRAY, err) < 0 ||
	    chk_type(in, "tool_choice", 0, BB_JSON_OBJECT, err) < 0)
		return -1;
	return 0;
}

/* Nova and Converse: messages [{role, content: [objects]}], system [{text}],
 * inferenceConfig {maxTokens, temperature, topP, topK, stopSequences}. */
static int
chk_messages_v1(const struct bb_json *in, int converse, struct bb_error *err)
{
	static const char *const roles[] = { "user", "assistant", NULL };
	static const char *const ckeys[] = {
		"messages", "system", "inferenceConfig", "additionalModelRequestFields",
		"additionalModelResponseFieldPaths", "promptVariables", "requestMetadata",
		"performanceConfig", "guardrailConfig", "toolConfig", NULL,
	};
	static const char *const nkeys[] = {
		"schemaVersion", "messages", "system", "inferenceConfig", "toolConfig", NULL,
	};
	const struct bb_json *m, *ic, *sys;
	char path[96];
	size_t i, k;

	if (chk_keys(in, converse ? ckeys : nkeys, err) < 0)
		return -1;
	if (converse) {
		if (bb_json_get(in, "toolConfig") != NULL)
			return bad(err, "toolConfig", "batch inference does not support tool "
			    "calling for the Converse invocation type");
		if (chk_type(in, "additionalModelRequestFields", 0, BB_JSON_OBJECT, err) < 0)
			return -1;
	} else if (chk_str(in, "schemaVersion", 0, 1, err) < 0 ||
	    chk_type(in, "toolConfig", 0, BB_JSON_OBJECT, err) < 0) {
		return -1;
	}
	if (chk_type(in, "messages", 1, BB_JSON_ARRAY, err) < 0)
		return -1;
	m = bb_json_get(in, "messages");
	if (m->n == 0)
		return bad(err, "messages", "must have at least 1 item");
	for (i = 0; i < m->n; i++) {
		const struct bb_json *msg = m->items[i], *c;

		snprintf(path, sizeof(path), "messages.%zu", i);
		if (msg->type != BB_JSON_OBJECT)
			return bad(err, path, "must be an object");
		snprintf(path, sizeof(path), "messages.%zu.role", i);
		if (chk_enum(msg, "role", 1, roles, NULL) < 0)
			return bad(err, path, "must be one of \"user\", \"assistant\"");
		snprintf(path, sizeof(path), "messages.%zu.content", i);
		c = bb_json_get(msg, "content");
		if (c == NULL)
			return bad(err, path, "required key not found");
		if (c->type != BB_JSON_ARRAY)
			return bad(err, path, "must be an array");
		if (c->n == 0)
			return bad(err, path, "must have at least 1 item");
		for (k = 0; k < c->n; k++) {
			const struct bb_json *t;

			snprintf(path, sizeof(path), "messages.%zu.content.%zu", i, k);
			if (c->items[k]->type != BB_JSON_OBJECT || c->items[k]->n == 0)
				return bad(err, path, "must be a non-empty object");
			t = bb_json_get(c->items[k], "text");
			if (t != NULL && t->type != BB_JSON_STRING)
				return bad(err, path, "[text] must be a string");
		}
	}
	if (strcmp(bb_json_str(bb_json_get(m->items[0], "role")), "user") != 0)
		return bad(err, "messages.0.role", "the first message must use the \"user\" role");
	sys = bb_json_get(in, "system");
	if (sys != NULL) {
		if (sys->type != BB_JSON_ARRAY)
			return bad(err, "system", "must be an array");
		for (i = 0; i < sys->n; i++) {
			snprintf(path, sizeof(path), "system.%zu", i);
			if (sys->items[i]->type != BB_JSON_OBJECT)
				return bad(err, path, "must be an object");
		}
	}
	ic = bb_json_get(in, "inferenceConfig");
	if (ic != NULL) {
		if (ic->type != BB_JSON_OBJECT)
			return bad(err, "inferenceConfig", "must be an object");
		if (chk_int(ic, "maxTokens", 0, 1, NOMAX, NULL) < 0)
			return bad(err, "inferenceConfig.maxTokens", "must be an integer >= 1");
		if (chk_num(ic, "temperature", 0, 1, NULL) < 0)
			return bad(err, "inferenceConfig.temperature",
			    "must be a number between 0 and 1");
		if (chk_num(ic, "topP", 0, 1, NULL) < 0)
			return bad(err, "inferenceConfig.topP", "must be a number between 0 and 1");
		if (chk_int(ic, "topK", 0, 0, NOMAX, NULL) < 0)
			return bad(err, "inferenceConfig.topK", "must be an integer >= 0");
		if (chk_str_array(ic, "stopSequences", 4096, NULL, NULL) < 0)
			return bad(err, "inferenceConfig.stopSequences", "must be an array of strings");
	}
	return 0;
}

static int
chk_titan_embed(const struct bb_json *in, struct bb_error *err)
{
	static const char *const keys[] = {
		"inputText", "dimensions", "normalize", "embeddingTypes", "inputImage",
		"embeddingConfig", NULL,
	};
	static const char *const types[] = { "float", "binary", NULL };
	const struct bb_json *d;

	if (chk_keys(in, keys, err) < 0)
		return -1;
	if (bb_json_get(in, "inputImage") == NULL && bb_json_get(in, "inputText") == NULL)
		return bad(err, "inputText", "required key not found");
	if (chk_str(in, "inputText", 0, 1, err) < 0 || chk_str(in, "inputImage", 0, 1, err) < 0)
		return -1;
	if (bb_json_get(in, "inputText") != NULL && bb_json_get(in, "inputText")->len > 50000)
		return bad(err, "inputText", "must be at most 50000 characters");
	d = bb_json_get(in, "dimensions");
	if (d != NULL && !(d->type == BB_JSON_NUMBER && d->is_int &&
	    (d->i == 256 || d->i == 512 || d->i == 1024)))
		return bad(err, "dimensions", "must be one of 256, 512, 1024");
	if (chk_type(in, "normalize", 0, BB_JSON_TRUE, err) < 0 ||
	    chk_str_array(in, "embeddingTypes", 2, types, err) < 0 ||
	    chk_type(in, "embeddingConfig", 0, BB_JSON_OBJECT, err) < 0)
		return -1;
	return 0;
}

static int
chk_llama(const struct bb_json *in, struct bb_error *err)
{
	static const char *const keys[] = {
		"prompt", "temperature", "top_p", "max_gen_len", "images", NULL,
	};

	if (chk_keys(in, keys, err) < 0 || chk_str(in, "prompt", 1, 1, err) < 0 ||
	    chk_num(in, "temperature", 0, 1, err) < 0 || chk_num(in, "top_p", 0, 1, err) < 0 ||
	    chk_int(in, "max_gen_len", 0, 1, NOMAX, err) < 0 ||
	    chk_str_array(in, "images", 64, NULL, err) < 0)
		return -1;
	return 0;
}

static int
chk_mistral(const struct bb_json *in, struct bb_error *err)
{
	static const char *const keys[] = {
		"prompt", "max_tokens", "stop", "temperature", "top_p", "top_k", NULL,
	};

	if (chk_keys(in, keys, err) < 0 || chk_str(in, "prompt", 1, 1, err) < 0 ||
	    chk_int(in, "max_tokens", 0, 1, NOMAX, err) < 0 ||
	    chk_str_array(in, "stop", 10, NULL, err) < 0 ||
	    chk_num(in, "temperature", 0, 1, err) < 0 || chk_num(in, "top_p", 0, 1, err) < 0 ||
	    chk_int(in, "top_k", 0, 0, 200, err) < 0)
		return -1;
	return 0;
}

static int
chk_mistral_chat(const struct bb_json *in, struct bb_error *err)
{
	static const char *const keys[] = {
		"messages", "max_tokens", "temperature", "top_p", "tools", "tool_choice", NULL,
	};
	static const char *const roles[] = { "system", "user", "assistant", "tool", NULL };
	const struct bb_json *m;
	char path[96];
	size_t i;

	if (chk_keys(in, keys, err) < 0 || chk_type(in, "messages", 1, BB_JSON_ARRAY, err) < 0)
		return -1;
	m = bb_json_get(in, "messages");
	if (m->n == 0)
		return bad(err, "messages", "must have at least 1 item");
	for (i = 0; i < m->n; i++) {
		const struct bb_json *c;

		snprintf(path, sizeof(path), "messages.%zu", i);
		if (m->items[i]->type != BB_JSON_OBJECT)
			return bad(err, path, "must be an object");
		snprintf(path, sizeof(path), "messages.%zu.role", i);
		if (chk_enum(m->items[i], "role", 1, roles, NULL) < 0)
			return bad(err, path,
			    "must be one of \"system\", \"user\", \"assistant\", \"tool\"");
		snprintf(path, sizeof(path), "messages.%zu.content", i);
		c = bb_json_get(m->items[i], "content");
		if (c == NULL && bb_json_get(m->items[i], "tool_calls") == NULL)
			return bad(err, path, "required key not found");
		if (c != NULL && c->type != BB_JSON_STRING && c->type != BB_JSON_ARRAY)
			return bad(err, path, "must be a string");
	}
	if (chk_int(in, "max_tokens", 0, 1, NOMAX, err) < 0 ||
	    chk_num(in, "temperature", 0, 1, err) < 0 || chk_num(in, "top_p", 0, 1, err) < 0 ||
	    chk_type(in, "tools", 0, BB_JSON_ARRAY, err) < 0)
		return -1;
	return 0;
}

static int
chk_cohere_embed(const struct bb_json *in, struct bb_error *err)
{
	static const char *const keys[] = {
		"texts", "images", "input_type", "truncate", "embedding_types", NULL,
	};
	static const char *const itypes[] = {
		"search_document", "search_query", "classification", "clustering", "image", NULL,
	};
	static const char *const trunc[] = { "NONE", "START", "END", NULL };
	static const char *const etypes[] = { "float", "int8", "uint8", "binary", "ubinary", NULL };
	const struct bb_json *t;
	size_t i;

	if (chk_keys(in, keys, err) < 0)
		return -1;
	t = bb_json_get(in, "texts");
	if (t == NULL && bb_json_get(in, "images") == NULL)
		return bad(err, "texts", "required key not found");
	if (chk_str_array(in, "texts", 96, NULL, err) < 0 ||
	    chk_str_array(in, "images", 1, NULL, err) < 0)
		return -1;
	for (i = 0; t != NULL && i < t->n; i++) {
		if (t->items[i]->len > 2048) {
			char path[64];

			snprintf(path, sizeof(path), "texts.%zu", i);
			return bad(err, path, "must be at most 2048 characters");
		}
	}
	if (chk_enum(in, "input_type", 1, itypes, err) < 0 ||
	    chk_enum(in, "truncate", 0, trunc, err) < 0 ||
	    chk_str_array(in, "embedding_types", 5, etypes, err) < 0)
		return -1;
	return 0;
}

int
bb_family_check_input(enum bb_family f, const struct bb_json *in, struct bb_error *err)
{
	if (in == NULL || in->type != BB_JSON_OBJECT)
		return bb_error_set(err, BB_ERR_INPUT, "modelInput: must be a JSON object");
	switch (f) {
	case BB_FAMILY_ANTHROPIC: return chk_anthropic(in, err);
	case BB_FAMILY_NOVA: return chk_messages_v1(in, 0, err);
	case BB_FAMILY_CONVERSE: return chk_messages_v1(in, 1, err);
	case BB_FAMILY_TITAN_EMBED: return chk_titan_embed(in, err);
	case BB_FAMILY_LLAMA: return chk_llama(in, err);
	case BB_FAMILY_MISTRAL: return chk_mistral(in, err);
	case BB_FAMILY_MISTRAL_CHAT: return chk_mistral_chat(in, err);
	case BB_FAMILY_COHERE_EMBED: return chk_cohere_embed(in, err);
	case BB_FAMILY_UNKNOWN: break;
	}
	return 0;   /* nothing known to check against */
}

/* ---- modelOutput extraction ---- */

void
bb_family_output_init(struct bb_family_output *o)
{
	bb_buf_init(&o->text);
	bb_buf_init(&o->embedding);
	o->stop_reason[0] = '\0';
	o->input_tokens = -1;
	o->output_tokens = -1;
}

void
bb_family_output_release(struct bb_family_output *o)
{
	bb_buf_release(&o->text);
	bb_buf_release(&o->embedding);
	bb_family_output_init(o);
}

static long long
tokens_at(const struct bb_json *out, const char *path)
{
	const struct bb_json *v = bb_json_path(out, path);

	return v != NULL && v->type == BB_JSON_NUMBER && v->is_int && v->i >= 0 ? v->i : -1;
}

static void
set_stop(struct bb_family_output *o, const struct bb_json *v)
{
	if (v != NULL && v->type == BB_JSON_STRING)
		snprintf(o->stop_reason, sizeof(o->stop_reason), "%s", v->str);
}

/* Append the "text" of every object in the array `blocks`; with `type`
 * set, only blocks whose "type" equals it. */
static int
add_texts(struct bb_buf *b, const struct bb_json *blocks, const char *type)
{
	size_t i;

	for (i = 0; i < blocks->n; i++) {
		const struct bb_json *blk = blocks->items[i], *t;
		const char *bt = bb_json_str(bb_json_get(blk, "type"));

		if (type != NULL && (bt == NULL || strcmp(bt, type) != 0))
			continue;
		t = bb_json_get(blk, "text");
		if (t != NULL && t->type == BB_JSON_STRING && bb_buf_add(b, t->str, t->len) < 0)
			return -1;
	}
	return 0;
}

static int
extract_vector(struct bb_buf *b, const struct bb_json *v)
{
	size_t i;

	if (v == NULL || v->type != BB_JSON_ARRAY)
		return 1;
	for (i = 0; i < v->n; i++)
		if (v->items[i]->type != BB_JSON_NUMBER)
			return 1;
	return bb_json_write(v, b);
}

int
bb_family_extract(enum bb_family f, const struct bb_json *out, struct bb_family_output *o,
    struct bb_error *err)
{
	const struct bb_json *v;
	int rc = -1, r;

	bb_buf_reset(&o->text);
	bb_buf_reset(&o->embedding);
	o->stop_reason[0] = '\0';
	o->input_tokens = o->output_tokens = -1;
	if (out == NULL || out->type != BB_JSON_OBJECT) {
		bb_error_set(err, BB_ERR_INPUT, "modelOutput: not a JSON object");
		goto out;
	}
	switch (f) {
	case BB_FAMILY_ANTHROPIC:
		v = bb_json_get(out, "content");
		if (v == NULL || v->type != BB_JSON_ARRAY) {
			bb_error_set(err, BB_ERR_INPUT, "modelOutput.content: not an array");
			goto out;
		}
		if (add_texts(&o->text, v, "text") < 0)
			goto nomem;
		set_stop(o, bb_json_get(out, "stop_reason"));
		o->input_tokens = tokens_at(out, "usage.input_tokens");
		o->output_tokens = tokens_at(out, "usage.output_tokens");
		break;
	case BB_FAMILY_NOVA:
	case BB_FAMILY_CONVERSE:
		v = bb_json_path(out, "output.message.content");
		if (v == NULL || v->type != BB_JSON_ARRAY) {
			bb_error_set(err, BB_ERR_INPUT,
			    "modelOutput.output.message.content: not an array");
			goto out;
		}
		if (add_texts(&o->text, v, NULL) < 0)
			goto nomem;
		set_stop(o, bb_json_get(out, "stopReason"));
		o->input_tokens = tokens_at(out, "usage.inputTokens");
		o->output_tokens = tokens_at(out, "usage.outputTokens");
		break;
	case BB_FAMILY_LLAMA:
		v = bb_json_get(out, "generation");
		if (v == NULL || v->type != BB_JSON_STRING) {
			bb_error_set(err, BB_ERR_INPUT, "modelOutput.generation: not a string");
			goto out;
		}
		if (bb_buf_add(&o->text, v->str, v->len) < 0)
			goto nomem;
		set_stop(o, bb_json_get(out, "stop_reason"));
		o->input_tokens = tokens_at(out, "prompt_token_count");
		o->output_tokens = tokens_at(out, "generation_token_count");
		break;
	case BB_FAMILY_MISTRAL:
		v = bb_json_path(out, "outputs.0.text");
		if (v == NULL || v->type != BB_JSON_STRING) {
			bb_error_set(err, BB_ERR_INPUT, "modelOutput.outputs.0.text: not a string");
			goto out;
		}
		if (bb_buf_add(&o->text, v->str, v->len) < 0)
			goto nomem;
		set_stop(o, bb_json_path(out, "outputs.0.stop_reason"));
		break;
	case BB_FAMILY_MISTRAL_CHAT:
		v = bb_json_path(out, "choices.0.message.content");
		if (v == NULL || v->type != BB_JSON_STRING) {
			bb_error_set(err, BB_ERR_INPUT,
			    "modelOutput.choices.0.message.content: not a string");
			goto out;
		}
		if (bb_buf_add(&o->text, v->str, v->len) < 0)
			goto nomem;
		set_stop(o, bb_json_path(out, "choices.0.stop_reason"));
		if (o->stop_reason[0] == '\0')
			set_stop(o, bb_json_path(out, "choices.0.finish_reason"));
		o->input_tokens = tokens_at(out, "usage.prompt_tokens");
		o->output_tokens = tokens_at(out, "usage.completion_tokens");
		break;
	case BB_FAMILY_TITAN_EMBED:
		v = bb_json_get(out, "embedding");
		if (v == NULL)
			v = bb_json_path(out, "embeddingsByType.float");
		if ((r = extract_vector(&o->embedding, v)) != 0) {
			if (r < 0)
				goto nomem;
			bb_error_set(err, BB_ERR_INPUT,
			    "modelOutput.embedding: not an array of numbers");
			goto out;
		}
		o->input_tokens = tokens_at(out, "inputTextTokenCount");
		break;
	case BB_FAMILY_COHERE_EMBED:
		v = bb_json_get(out, "embeddings");
		if (v != NULL && v->type == BB_JSON_OBJECT) {
			/* embeddings_by_type: prefer float, else the first type */
			const struct bb_json *fl = bb_json_get(v, "float");

			v = fl != NULL ? fl : (v->n > 0 ? v->items[0] : NULL);
		}
		if (v == NULL || v->type != BB_JSON_ARRAY) {
			bb_error_set(err, BB_ERR_INPUT, "modelOutput.embeddings: not an array");
			goto out;
		}
		/* one text: its vector; several: the array of vectors */
		r = v->n == 1 ? extract_vector(&o->embedding, v->items[0]) :
		    bb_json_write(v, &o->embedding);
		if (r != 0) {
			if (r < 0)
				goto nomem;
			bb_error_set(err, BB_ERR_INPUT,
			    "modelOutput.embeddings.0: not an array of numbers");
			goto out;
		}
		o->input_tokens = tokens_at(out, "meta.billed_units.input_tokens");
		break;
	case BB_FAMILY_UNKNOWN:
		bb_error_set(err, BB_ERR_INPUT, "unknown model family: cannot read modelOutput");
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	bb_error_errno(err, "modelOutput");
out:
	return rc;
}
