/* modelinput.c - modelInput per model family; see modelinput.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "modelinput.h"
#include "recordid.h"

/* Marks the prompt's place while the template path's body is built; plain
 * ASCII so that no JSON writer changes it. */
#define SENTINEL "@@bb-shard-prompt-5f1c9e@@"

void
bb_mi_params_init(struct bb_mi_params *p)
{
	memset(p, 0, sizeof(*p));
	p->max_tokens = -1;
}

void
bb_mi_opts_init(struct bb_mi_opts *o)
{
	memset(o, 0, sizeof(*o));
	bb_mi_params_init(&o->p);
	o->dimensions = -1;
	o->normalize = -1;
}

static int
titan_v2(const char *model)
{
	return model != NULL && strstr(model, "titan-embed-text-v2") != NULL;
}

/* The effective parameters: row values where set, else the options'. */
static void
merge_params(const struct bb_mi_params *base, const struct bb_mi_params *row,
    struct bb_mi_params *out)
{
	*out = *base;
	if (row == NULL)
		return;
	if (row->max_tokens >= 0)
		out->max_tokens = row->max_tokens;
	if (row->has_temperature) {
		out->has_temperature = 1;
		out->temperature = row->temperature;
	}
	if (row->has_top_p) {
		out->has_top_p = 1;
		out->top_p = row->top_p;
	}
	if (row->nstop) {
		out->stop = row->stop;
		out->nstop = row->nstop;
	}
}

static int
add_str_array(struct bb_buf *o, const char *const *s, size_t n)
{
	size_t i;

	if (bb_buf_addc(o, '['))
		return -1;
	for (i = 0; i < n; i++)
		if ((i && bb_buf_addc(o, ',')) || bb_json_add_str(o, s[i], strlen(s[i])))
			return -1;
	return bb_buf_addc(o, ']');
}

/* The system text: the system messages' bodies joined by a blank line. */
static int
system_text(const struct bb_mi_message *m, size_t n, struct bb_buf *sys)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(m[i].role, "system") != 0)
			continue;
		if ((sys->len && bb_buf_adds(sys, "\\n\\n")) || bb_buf_add(sys, m[i].text, m[i].len))
			return -1;
	}
	return 0;
}

static int
param_error(struct bb_error *err, const char *what, enum bb_family f)
{
	return bb_error_set(err, BB_ERR_USAGE, "%s is not a parameter of %s models", what,
	    bb_family_name(f));
}

/*
 * The body for family f without the merged params. Message texts are JSON
 * string bodies. Roles other than user and assistant (and system) are
 * refused.
 */
static int
build(const struct bb_modelinput *mi, const struct bb_mi_message *m, size_t n,
    const struct bb_mi_params *p, struct bb_buf *o, struct bb_error *err)
{
	enum bb_family f = mi->o.family;
	struct bb_buf sys = BB_BUF_INIT;
	size_t i, nturns = 0;
	int rc = -1, r = 0, first_user = 1;

	for (i = 0; i < n; i++) {
		if (strcmp(m[i].role, "system") == 0)
			continue;
		if (strcmp(m[i].role, "user") != 0 && strcmp(m[i].role, "assistant") != 0) {
			bb_error_set(err, BB_ERR_USAGE, "unsupported message role '%s'", m[i].role);
			goto out;
		}
		nturns++;
	}
	if (nturns == 0) {
		bb_error_set(err, BB_ERR_USAGE, "no user message");
		goto out;
	}
	if (system_text(m, n, &sys))
		goto nomem;
	if (bb_family_is_embedding(f)) {
		if (sys.len) {
			bb_error_set(err, BB_ERR_USAGE, "embedding models take no system text");
			goto out;
		}
		if (nturns != 1) {
			bb_error_set(err, BB_ERR_USAGE, "embedding models take one text");
			goto out;
		}
		if (p->max_tokens >= 0 || p->has_temperature || p->has_top_p || p->nstop) {
			param_error(err, "a generation parameter (max tokens, temperature, top p, stop)", f);
			goto out;
		}
	} else if (mi->o.dimensions >= 0 || mi->o.normalize >= 0) {
		param_error(err, "dimensions/normalize", f);
		goto out;
	}
	switch (f) {
	case BB_FAMILY_ANTHROPIC:
		r |= bb_buf_adds(o, "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":");
		r |= bb_json_add_int(o, p->max_tokens >= 0 ? p->max_tokens : 1024);
		if (sys.len) {
			r |= bb_buf_adds(o, ",\"system\":\"");
			r |= bb_buf_add(o, sys.data, sys.len);
			r |= bb_buf_addc(o, '"');
		}
		r |= bb_buf_adds(o, ",\"messages\":[");
		for (i = 0; i < n; i++) {
			if (strcmp(m[i].role, "system") == 0)
				continue;
			r |= bb_buf_addf(o, "%s{\"role\":\"%s\",\"content\":[{\"type\":\"text\",\"text\":\"",
			    first_user ? "" : ",", m[i].role);
			r |= bb_buf_add(o, m[i].text, m[i].len);
			r |= bb_buf_adds(o, "\"}]}");
			first_user = 0;
		}
		r |= bb_buf_addc(o, ']');
		if (p->has_temperature) {
			r |= bb_buf_adds(o, ",\"temperature\":");
			r |= bb_json_add_double(o, p->temperature);
		}
		if (p->has_top_p) {
			r |= bb_buf_adds(o, ",\"top_p\":");
			r |= bb_json_add_double(o, p->top_p);
		}
		if (p->nstop) {
			r |= bb_buf_adds(o, ",\"stop_sequences\":");
			r |= add_str_array(o, p->stop, p->nstop);
		}
		r |= bb_buf_addc(o, '}');
		break;
	case BB_FAMILY_NOVA:
	case BB_FAMILY_CONVERSE:
		r |= bb_buf_addc(o, '{');
		if (f == BB_FAMILY_NOVA)
			r |= bb_buf_adds(o, "\"schemaVersion\":\"messages-v1\",");
		if (sys.len) {
			r |= bb_buf_adds(o, "\"system\":[{\"text\":\"");
			r |= bb_buf_add(o, sys.data, sys.len);
			r |= bb_buf_adds(o, "\"}],");
		}
		r |= bb_buf_adds(o, "\"messages\":[");
		for (i = 0; i < n; i++) {
			if (strcmp(m[i].role, "system") == 0)
				continue;
			r |= bb_buf_addf(o, "%s{\"role\":\"%s\",\"content\":[{\"text\":\"",
			    first_user ? "" : ",", m[i].role);
			r |= bb_buf_add(o, m[i].text, m[i].len);
			r |= bb_buf_adds(o, "\"}]}");
			first_user = 0;
		}
		r |= bb_buf_addc(o, ']');
		if (p->max_tokens >= 0 || p->has_temperature || p->has_top_p || p->nstop) {
			const char *sep = "";

			r |= bb_buf_adds(o, ",\"inferenceConfig\":{");
			if (p->max_tokens >= 0) {
				r |= bb_buf_adds(o, "\"maxTokens\":");
				r |= bb_json_add_int(o, p->max_tokens);
				sep = ",";
			}
			if (p->has_temperature) {
				r |= bb_buf_addf(o, "%s\"temperature\":", sep);
				r |= bb_json_add_double(o, p->temperature);
				sep = ",";
			}
			if (p->has_top_p) {
				r |= bb_buf_addf(o, "%s\"topP\":", sep);
				r |= bb_json_add_double(o, p->top_p);
				sep = ",";
			}
			if (p->nstop) {
				r |= bb_buf_addf(o, "%s\"stopSequences\":", sep);
				r |= add_str_array(o, p->stop, p->nstop);
			}
			r |= bb_buf_addc(o, '}');
		}
		r |= bb_buf_addc(o, '}');
		break;
	case BB_FAMILY_LLAMA:
		if (p->nstop) {
			param_error(err, "stop", f);
			goto out;
		}
		r |= bb_buf_adds(o, "{\"prompt\":\"<|begin_of_text|>");
		if (sys.len) {
			r |= bb_buf_adds(o, "<|start_header_id|>system<|end_header_id|>\\n\\n");
			r |= bb_buf_add(o, sys.data, sys.len);
			r |= bb_buf_adds(o, "<|eot_id|>");
		}
		for (i = 0; i < n; i++) {
			if (strcmp(m[i].role, "system") == 0)
				continue;
			r |= bb_buf_addf(o, "<|start_header_id|>%s<|end_header_id|>\\n\\n", m[i].role);
			r |= bb_buf_add(o, m[i].text, m[i].len);
			r |= bb_buf_adds(o, "<|eot_id|>");
		}
		r |= bb_buf_adds(o, "<|start_header_id|>assistant<|end_header_id|>\\n\\n\"");
		if (p->max_tokens >= 0) {
			r |= bb_buf_adds(o, ",\"max_gen_len\":");
			r |= bb_json_add_int(o, p->max_tokens);
		}
		goto temp_top_p;
	case BB_FAMILY_MISTRAL:
		r |= bb_buf_adds(o, "{\"prompt\":\"<s>");
		for (i = 0; i < n; i++) {
			if (strcmp(m[i].role, "system") == 0)
				continue;
			if (strcmp(m[i].role, "user") == 0) {
				r |= bb_buf_adds(o, "[INST] ");
				if (first_user && sys.len) {
					r |= bb_buf_add(o, sys.data, sys.len);
					r |= bb_buf_adds(o, "\\n\\n");
				}
				r |= bb_buf_add(o, m[i].text, m[i].len);
				r |= bb_buf_adds(o, " [/INST]");
				first_user = 0;
			} else {
				r |= bb_buf_addc(o, ' ');
				r |= bb_buf_add(o, m[i].text, m[i].len);
				r |= bb_buf_adds(o, "</s>");
			}
		}
		r |= bb_buf_addc(o, '"');
		if (p->max_tokens >= 0) {
			r |= bb_buf_adds(o, ",\"max_tokens\":");
			r |= bb_json_add_int(o, p->max_tokens);
		}
		if (p->nstop) {
			r |= bb_buf_adds(o, ",\"stop\":");
			r |= add_str_array(o, p->stop, p->nstop);
		}
		goto temp_top_p;
	case BB_FAMILY_MISTRAL_CHAT:
		if (p->nstop) {
			param_error(err, "stop", f);
			goto out;
		}
		r |= bb_buf_adds(o, "{\"messages\":[");
		if (sys.len) {
			r |= bb_buf_adds(o, "{\"role\":\"system\",\"content\":\"");
			r |= bb_buf_add(o, sys.data, sys.len);
			r |= bb_buf_adds(o, "\"}");
			first_user = 0;
		}
		for (i = 0; i < n; i++) {
			if (strcmp(m[i].role, "system") == 0)
				continue;
			r |= bb_buf_addf(o, "%s{\"role\":\"%s\",\"content\":\"",
			    first_user ? "" : ",", m[i].role);
			r |= bb_buf_add(o, m[i].text, m[i].len);
			r |= bb_buf_adds(o, "\"}");
			first_user = 0;
		}
		r |= bb_buf_addc(o, ']');
		if (p->max_tokens >= 0) {
			r |= bb_buf_adds(o, ",\"max_tokens\":");
			r |= bb_json_add_int(o, p->max_tokens);
		}
temp_top_p:
		if (p->has_temperature) {
			r |= bb_buf_adds(o, ",\"temperature\":");
			r |= bb_json_add_double(o, p->temperature);
		}
		if (p->has_top_p) {
			r |= bb_buf_adds(o, ",\"top_p\":");
			r |= bb_json_add_double(o, p->top_p);
		}
		r |= bb_buf_addc(o, '}');
		break;
	case BB_FAMILY_TITAN_EMBED:
		if ((mi->o.dimensions >= 0 || mi->o.normalize >= 0) && !titan_v2(mi->o.model)) {
			bb_error_set(err, BB_ERR_USAGE,
			    "dimensions/normalize need Titan Text Embeddings V2");
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (strcmp(m[i].role, "system") == 0)
				continue;
			r |= bb_buf_adds(o, "{\"inputText\":\"");
			r |= bb_buf_add(o, m[i].text, m[i].len);
			r |= bb_buf_addc(o, '"');
		}
		if (mi->o.dimensions >= 0) {
			r |= bb_buf_adds(o, ",\"dimensions\":");
			r |= bb_json_add_int(o, mi->o.dimensions);
		}
		if (mi->o.normalize >= 0)
			r |= bb_buf_adds(o, mi->o.normalize ? ",\"normalize\":true" :
			    ",\"normalize\":false");
		r |= bb_buf_addc(o, '}');
		break;
	case BB_FAMILY_COHERE_EMBED:
		if (mi->o.dimensions >= 0 || mi->o.normalize >= 0) {
			param_error(err, "dimensions/normalize", f);
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (strcmp(m[i].role, "system") == 0)
				continue;
			r |= bb_buf_adds(o, "{\"texts\":[\"");
			r |= bb_buf_add(o, m[i].text, m[i].len);
			r |= bb_buf_adds(o, "\"],\"input_type\":");
		}
		r |= bb_json_add_str(o, mi->o.input_type ? mi->o.input_type : "search_document",
		    strlen(mi->o.input_type ? mi->o.input_type : "search_document"));
		r |= bb_buf_addc(o, '}');
		break;
	default:
		bb_error_set(err, BB_ERR_USAGE, "unknown model family");
		goto out;
	}
	if (r)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
out:
	bb_buf_release(&sys);
	return rc;
}

/* Write a with b merged over it: objects key by key, else b wins. */
static int
write_merged(const struct bb_json *a, const struct bb_json *b, struct bb_buf *o)
{
	size_t i, k;
	int first = 1;

	if (a == NULL)
		return bb_json_write(b, o);
	if (b == NULL)
		return bb_json_write(a, o);
	if (a->type != BB_JSON_OBJECT || b->type != BB_JSON_OBJECT)
		return bb_json_write(b, o);
	if (bb_buf_addc(o, '{'))
		return -1;
	for (i = 0; i < a->n; i++) {
		if ((!first && bb_buf_addc(o, ',')) ||
		    bb_json_add_str(o, a->keys[i], a->keylens[i]) || bb_buf_addc(o, ':') ||
		    write_merged(a->items[i], bb_json_get(b, a->keys[i]), o))
			return -1;
		first = 0;
	}
	for (k = 0; k < b->n; k++) {
		if (bb_json_get(a, b->keys[k]) != NULL)
			continue;
		if ((!first && bb_buf_addc(o, ',')) ||
		    bb_json_add_str(o, b->keys[k], b->keylens[k]) || bb_buf_addc(o, ':') ||
		    bb_json_write(b->items[k], o))
			return -1;
		first = 0;
	}
	return bb_buf_addc(o, '}');
}

/* Build and merge the params into out (appended). */
static int
build_full(const struct bb_modelinput *mi, const struct bb_mi_message *m, size_t n,
    const struct bb_mi_params *p, struct bb_buf *out, struct bb_error *err)
{
	struct bb_buf body = BB_BUF_INIT;
	struct bb_json *tree = NULL;
	int rc = -1;

	if (mi->params == NULL)
		return build(mi, m, n, p, out, err);
	if (build(mi, m, n, p, &body, err))
		goto out;
	if (bb_json_parse(body.data, body.len, 0, &tree, err))
		goto out;
	if (write_merged(tree, mi->params, out)) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	bb_json_free(tree);
	bb_buf_release(&body);
	return rc;
}

int
bb_modelinput_check(enum bb_family f, const char *text, size_t len, struct bb_error *err)
{
	struct bb_json *tree = NULL;
	int rc = -1;

	if (bb_json_parse(text, len, 0, &tree, err))
		goto out;
	if (bb_family_check_input(f, tree, err))
		goto out;
	rc = 0;
out:
	bb_json_free(tree);
	return rc;
}

int
bb_modelinput_init(struct bb_modelinput *mi, const struct bb_mi_opts *o, struct bb_error *err)
{
	struct bb_buf body = BB_BUF_INIT, sample = BB_BUF_INIT;
	struct bb_mi_message msgs[2];
	size_t nmsg = 0;
	const char *at;
	int rc = -1;

	memset(mi, 0, sizeof(*mi));
	mi->o = *o;
	bb_buf_init(&mi->system);
	bb_buf_init(&mi->prefix);
	bb_buf_init(&mi->suffix);
	if (o->family == BB_FAMILY_UNKNOWN) {
		bb_error_set(err, BB_ERR_USAGE, "unknown model family");
		goto out;
	}
	if (o->params != NULL) {
		if (bb_json_parse(o->params, o->params_len, 0, &mi->params, err)) {
			bb_error_prefix(err, "params");
			err->kind = BB_ERR_USAGE;
			goto out;
		}
		if (mi->params->type != BB_JSON_OBJECT) {
			bb_error_set(err, BB_ERR_USAGE, "params: not a JSON object");
			goto out;
		}
	}
	if (o->system != NULL) {
		if (bb_json_add_str_body(&mi->system, o->system, strlen(o->system))) {
			bb_error_set(err, BB_ERR_USAGE, "system text is not valid UTF-8");
			goto out;
		}
		if (strstr(o->system, SENTINEL) != NULL) {
			bb_error_set(err, BB_ERR_USAGE, "system text holds a reserved string");
			goto out;
		}
		msgs[nmsg].role = "system";
		msgs[nmsg].text = bb_buf_str(&mi->system);
		msgs[nmsg].len = mi->system.len;
		nmsg++;
	}
	msgs[nmsg].role = "user";
	msgs[nmsg].text = SENTINEL;
	msgs[nmsg].len = strlen(SENTINEL);
	nmsg++;
	if (build_full(mi, msgs, nmsg, &o->p, &body, err))
		goto out;
	at = strstr(bb_buf_str(&body), SENTINEL);
	if (at == NULL || strstr(at + 1, SENTINEL) != NULL) {
		bb_error_set(err, BB_ERR_USAGE, "params must not replace the prompt");
		goto out;
	}
	if (bb_buf_add(&mi->prefix, body.data, (size_t)(at - body.data)) ||
	    bb_buf_adds(&mi->suffix, at + strlen(SENTINEL))) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	if (bb_modelinput_prompt(mi, "x", 1, &sample, err))
		goto out;
	if (bb_modelinput_check(o->family, sample.data, sample.len, err)) {
		err->kind = BB_ERR_USAGE;
		goto out;
	}
	rc = 0;
out:
	bb_buf_release(&body);
	bb_buf_release(&sample);
	if (rc)
		bb_modelinput_release(mi);
	return rc;
}

void
bb_modelinput_release(struct bb_modelinput *mi)
{
	bb_json_free(mi->params);
	mi->params = NULL;
	bb_buf_release(&mi->system);
	bb_buf_release(&mi->prefix);
	bb_buf_release(&mi->suffix);
}

int
bb_modelinput_prompt(const struct bb_modelinput *mi, const char *prompt, size_t len,
    struct bb_buf *out, struct bb_error *err)
{
	size_t old = out->len;

	if (len == 0)
		return bb_error_set(err, BB_ERR_INPUT, "empty prompt");
	if (bb_buf_add(out, mi->prefix.data, mi->prefix.len) ||
	    bb_buf_add(out, prompt, len) ||
	    bb_buf_add(out, mi->suffix.data, mi->suffix.len)) {
		bb_buf_setlen(out, old);
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	}
	return 0;
}

int
bb_modelinput_prompt_begin(const struct bb_modelinput *mi, struct bb_buf *out,
    struct bb_error *err)
{
	if (bb_buf_add(out, mi->prefix.data, mi->prefix.len))
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	return 0;
}

int
bb_modelinput_prompt_end(const struct bb_modelinput *mi, struct bb_buf *out,
    size_t prompt_len, struct bb_error *err)
{
	if (prompt_len == 0)
		return bb_error_set(err, BB_ERR_INPUT, "empty prompt");
	if (bb_buf_add(out, mi->suffix.data, mi->suffix.len))
		return bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
	return 0;
}

int
bb_modelinput_chat(const struct bb_modelinput *mi, const struct bb_mi_message *msgs,
    size_t n, const struct bb_mi_params *p, struct bb_buf *out, struct bb_error *err)
{
	struct bb_mi_message *all = NULL;
	struct bb_mi_params eff;
	size_t old = out->len, i;
	int rc = -1, has_system = 0;

	for (i = 0; i < n; i++)
		if (strcmp(msgs[i].role, "system") == 0)
			has_system = 1;
	if (!has_system && mi->o.system != NULL) {
		if ((all = malloc((n + 1) * sizeof(*all))) == NULL) {
			bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
			goto out;
		}
		all[0].role = "system";
		all[0].text = bb_buf_str(&mi->system);
		all[0].len = mi->system.len;
		memcpy(all + 1, msgs, n * sizeof(*all));
		msgs = all;
		n++;
	}
	merge_params(&mi->o.p, p, &eff);
	if (build_full(mi, msgs, n, &eff, out, err))
		goto out;
	if (bb_modelinput_check(mi->o.family, out->data + old, out->len - old, err))
		goto out;
	rc = 0;
out:
	free(all);
	if (rc) {
		bb_buf_setlen(out, old);
		if (err && err->kind == BB_ERR_USAGE)
			err->kind = BB_ERR_INPUT;
	}
	return rc;
}

/* ---- request lines ---- */

/* The texts of an OpenAI body's messages (or its embeddings "input") as
 * JSON string bodies in texts, one message each in m (n of them). */
static int
openai_messages(const struct bb_json *body, struct bb_buf *texts, struct bb_mi_message **mp,
    size_t *np, struct bb_error *err)
{
	const struct bb_json *msgs, *v;
	struct bb_mi_message *m = NULL;
	size_t *offs = NULL, i, k, nm = 0, nalloc;
	int rc = -1;

	msgs = bb_json_get(body, "messages");
	if (msgs == NULL && (v = bb_json_get(body, "input")) != NULL &&
	    v->type == BB_JSON_STRING) {
		/* an embeddings request */
		if ((m = malloc(sizeof(*m))) == NULL || (offs = malloc(sizeof(*offs))) == NULL)
			goto nomem;
		offs[0] = 0;
		if (bb_json_add_str_body(texts, v->str, v->len)) {
			bb_error_set(err, BB_ERR_INPUT, "body.input: bad text");
			goto out;
		}
		m[0].role = "user";
		nm = 1;
	} else {
		if (msgs == NULL || msgs->type != BB_JSON_ARRAY || msgs->n == 0) {
			bb_error_set(err, BB_ERR_INPUT, "body.messages: not a non-empty array");
			goto out;
		}
		if (bb_size_add(msgs->n, 1, &nalloc) ||
		    (m = calloc(msgs->n, sizeof(*m))) == NULL ||
		    (offs = calloc(nalloc, sizeof(*offs))) == NULL)
			goto nomem;
		for (i = 0; i < msgs->n; i++) {
			const struct bb_json *role = bb_json_get(msgs->items[i], "role");
			const struct bb_json *content = bb_json_get(msgs->items[i], "content");

			if (bb_json_str(role) == NULL) {
				bb_error_set(err, BB_ERR_INPUT, "body.messages[%zu].role: not a string", i);
				goto out;
			}
			m[nm].role = strcmp(role->str, "developer") == 0 ? "system" : role->str;
			offs[nm] = texts->len;
			if (content != NULL && content->type == BB_JSON_STRING) {
				if (bb_json_add_str_body(texts, content->str, content->len))
					goto nomem;   /* parsed text is valid UTF-8 */
			} else if (content != NULL && content->type == BB_JSON_ARRAY) {
				for (k = 0; k < content->n; k++) {
					const struct bb_json *t = bb_json_get(content->items[k], "text");
					const struct bb_json *ty = bb_json_get(content->items[k], "type");

					if (bb_json_str(ty) == NULL || strcmp(ty->str, "text") != 0 ||
					    bb_json_str(t) == NULL) {
						bb_error_set(err, BB_ERR_INPUT,
						    "body.messages[%zu].content[%zu]: only text parts are supported",
						    i, k);
						goto out;
					}
					if (bb_json_add_str_body(texts, t->str, t->len))
						goto nomem;
				}
			} else {
				bb_error_set(err, BB_ERR_INPUT, "body.messages[%zu].content: not text", i);
				goto out;
			}
			nm++;
		}
	}
	for (i = 0; i < nm; i++) {
		m[i].text = texts->data + offs[i];
		m[i].len = (i + 1 < nm ? offs[i + 1] : texts->len) - offs[i];
	}
	*mp = m;
	*np = nm;
	m = NULL;
	rc = 0;
	goto out;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
out:
	free(m);
	free(offs);
	return rc;
}

int
bb_modelinput_openai_line(const struct bb_modelinput *mi, const char *line, size_t len,
    struct bb_buf *id, struct bb_buf *out, size_t *text_len, struct bb_error *err)
{
	static const char *const okeys[] = { "custom_id", "body" };
	struct bb_json_span sp[2];
	struct bb_json *body = NULL;
	const struct bb_json *v;
	struct bb_mi_message *m = NULL;
	struct bb_mi_params p;
	struct bb_buf texts = BB_BUF_INIT;
	const char **stop = NULL;
	size_t i, nm = 0, nstop = 0, idmark = id->len;
	int rc = -1;

	if (bb_json_fields(line, len, okeys, 2, sp, err))
		goto out;
	if (sp[0].p != NULL && bb_recordid_from_json(&sp[0], 0, "custom_id", id, err))
		goto out;
	if (sp[1].p == NULL || sp[1].type != BB_JSON_OBJECT) {
		bb_error_set(err, BB_ERR_INPUT, "no \"body\" object");
		goto out;
	}
	if (bb_json_parse(sp[1].p, sp[1].n, 0, &body, err))
		goto out;
	bb_mi_params_init(&p);
	if ((v = bb_json_get(body, "max_completion_tokens")) == NULL)
		v = bb_json_get(body, "max_tokens");
	if (v != NULL) {
		if (v->type != BB_JSON_NUMBER || !v->is_int || v->i < 1) {
			bb_error_set(err, BB_ERR_INPUT, "body.max_tokens: not a positive integer");
			goto out;
		}
		p.max_tokens = v->i;
	}
	if ((v = bb_json_get(body, "temperature")) != NULL && v->type == BB_JSON_NUMBER) {
		p.has_temperature = 1;
		p.temperature = v->num;
	}
	if ((v = bb_json_get(body, "top_p")) != NULL && v->type == BB_JSON_NUMBER) {
		p.has_top_p = 1;
		p.top_p = v->num;
	}
	if ((v = bb_json_get(body, "stop")) != NULL) {
		if (v->type == BB_JSON_STRING) {
			if ((stop = malloc(sizeof(*stop))) == NULL)
				goto nomem;
			stop[nstop++] = v->str;
		} else if (v->type == BB_JSON_ARRAY) {
			if ((stop = calloc(v->n + 1, sizeof(*stop))) == NULL)
				goto nomem;
			for (i = 0; i < v->n; i++)
				if (v->items[i]->type == BB_JSON_STRING)
					stop[nstop++] = v->items[i]->str;
		}
		p.stop = stop;
		p.nstop = nstop;
	}
	if (openai_messages(body, &texts, &m, &nm, err))
		goto out;
	if (bb_modelinput_chat(mi, m, nm, &p, out, err))
		goto out;
	*text_len = texts.len;
	rc = 0;
	goto out;
nomem:
	bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
out:
	if (rc)
		bb_buf_setlen(id, idmark);
	bb_json_free(body);
	bb_buf_release(&texts);
	free(m);
	free(stop);
	return rc;
}

int
bb_modelinput_bedrock_line(enum bb_family f, const char *line, size_t len,
    struct bb_buf *id, struct bb_buf *out, size_t *text_len, struct bb_error *err)
{
	static const char *const bkeys[] = { "recordId", "modelInput" };
	struct bb_json_span sp[2];
	size_t idmark = id->len;
	int rc = -1;

	if (bb_json_fields(line, len, bkeys, 2, sp, err))
		goto out;
	if (sp[0].p != NULL &&
	    bb_recordid_from_json(&sp[0], BB_RECORDID_KEEP_ALNUM, "recordId", id, err))
		goto out;
	if (sp[1].p == NULL || sp[1].type != BB_JSON_OBJECT) {
		bb_error_set(err, BB_ERR_INPUT, "no \"modelInput\" object");
		goto out;
	}
	if (bb_modelinput_check(f, sp[1].p, sp[1].n, err))
		goto out;
	if (bb_buf_add(out, sp[1].p, sp[1].n)) {
		bb_error_set(err, BB_ERR_SYSTEM, "out of memory");
		goto out;
	}
	*text_len = sp[1].n;
	rc = 0;
out:
	if (rc)
		bb_buf_setlen(id, idmark);
	return rc;
}
