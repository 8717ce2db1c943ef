/*
 * modelinput.h - build the modelInput of a batch record for a model family
 * (spec/BEDROCK.md 3.7) from a prompt, a system text and inference
 * parameters, each placed where the family expects it:
 *
 *   family        prompt                       system          max tokens / temp / top p / stop
 *   anthropic     messages[].content[].text    system          max_tokens (default 1024) /
 *                                                              temperature / top_p / stop_sequences
 *   nova          messages[].content[].text    system[].text   inferenceConfig.maxTokens /
 *   converse      (nova adds schemaVersion)                    temperature / topP / stopSequences
 *   llama         prompt (Llama 3 chat format)  in the prompt   max_gen_len / temperature / top_p
 *   mistral       prompt ("<s>[INST] ... [/INST]") in the prompt max_tokens / temperature / top_p / stop
 *   mistral-chat  messages[].content           messages[0]     max_tokens / temperature / top_p
 *   titan-embed   inputText                    -               (dimensions, normalize: v2 only)
 *   cohere-embed  texts[0]                     -               (input_type, default search_document)
 *
 * Parameters a family does not take are an error, not dropped. Extra
 * parameters come as a JSON object (`params`) merged in last: objects
 * are merged key by key (recursively), anything else replaces.
 *
 * Template path (one prompt per row, everything else constant): after
 * bb_modelinput_init() the body is a fixed prefix, the row's prompt as a
 * JSON string body, and a fixed suffix, so building a row costs two
 * copies. init checks that body (with a sample prompt) against the
 * family's schema (bb_family_check_input) once; the prompt is the only
 * part that varies, and bb_modelinput_prompt() checks it per row (not
 * empty).
 *
 * Chat path (one conversation per row, e.g. OpenAI batch lines):
 * bb_modelinput_chat() builds the body from messages and per-row
 * parameters and checks the result against the family's schema.
 *
 * Request lines (bb_modelinput_openai_line, bb_modelinput_bedrock_line):
 * a whole input line that is an OpenAI batch request or a Bedrock record
 * becomes a recordId and a modelInput.
 *
 * Lifecycle: bb_modelinput_init() / bb_modelinput_release(). The strings
 * in the options must outlive the struct.
 */
#ifndef BB_MODELINPUT_H
#define BB_MODELINPUT_H

#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "family.h"

/* Inference parameters; the "unset" values leave the key out. */
struct bb_mi_params {
	long long max_tokens;         /* -1: unset */
	int has_temperature;
	double temperature;
	int has_top_p;
	double top_p;
	const char *const *stop;      /* raw UTF-8 strings */
	size_t nstop;
};

struct bb_mi_opts {
	const char *model;            /* model id (Titan v1 and v2 differ) */
	enum bb_family family;
	const char *system;           /* raw UTF-8, NULL: none */
	struct bb_mi_params p;
	long long dimensions;         /* -1: unset (embeddings) */
	int normalize;                /* -1: unset, 0, 1 */
	const char *input_type;       /* Cohere; NULL: "search_document" */
	const char *params;           /* JSON object text merged in, or NULL */
	size_t params_len;
};

void bb_mi_params_init(struct bb_mi_params *p);
/* Zero the options with every parameter unset. */
void bb_mi_opts_init(struct bb_mi_opts *o);

/* A message; text is a JSON string body (already escaped). */
struct bb_mi_message {
	const char *role;             /* "system", "user" or "assistant" */
	const char *text;
	size_t len;
};

struct bb_modelinput {
	struct bb_mi_opts o;
	struct bb_json *params;       /* parsed o.params */
	struct bb_buf system;         /* o.system as a JSON string body */
	struct bb_buf prefix, suffix; /* template path */
};

/*
 * Check the options for the family (BB_ERR_USAGE), build the template
 * path's prefix and suffix and check them against the family schema.
 */
int bb_modelinput_init(struct bb_modelinput *mi, const struct bb_mi_opts *o,
    struct bb_error *err);
void bb_modelinput_release(struct bb_modelinput *mi);

/* Append prefix + prompt (a JSON string body) + suffix. An empty prompt
 * is an error (BB_ERR_INPUT); on error out is unchanged. */
int bb_modelinput_prompt(const struct bb_modelinput *mi, const char *prompt, size_t len,
    struct bb_buf *out, struct bb_error *err);

/*
 * The same in two steps, for a caller that renders the prompt straight
 * into out (no copy of the prompt): bb_modelinput_prompt_begin() appends
 * the prefix; the caller appends the prompt (a JSON string body);
 * bb_modelinput_prompt_end() appends the suffix, given the prompt's length
 * in bytes. An empty prompt is an error (BB_ERR_INPUT); on any error the
 * caller resets out to its length before _begin.
 */
int bb_modelinput_prompt_begin(const struct bb_modelinput *mi, struct bb_buf *out,
    struct bb_error *err);
int bb_modelinput_prompt_end(const struct bb_modelinput *mi, struct bb_buf *out,
    size_t prompt_len, struct bb_error *err);

/*
 * Append the modelInput for a conversation: system messages go where the
 * family takes a system text (the options' system text when there is
 * none), the others in order. `p` overrides the
 * parameters of the options where set (NULL: none). The result is checked
 * with bb_family_check_input. Errors are BB_ERR_INPUT; out is unchanged.
 */
int bb_modelinput_chat(const struct bb_modelinput *mi, const struct bb_mi_message *msgs,
    size_t n, const struct bb_mi_params *p, struct bb_buf *out, struct bb_error *err);

/* Parse text as JSON and check it against the family (any modelInput). */
int bb_modelinput_check(enum bb_family f, const char *text, size_t len,
    struct bb_error *err);

/*
 * Whole input lines that already are requests. Each appends the line's
 * id to `id` by the recordId rules (recordid.h; nothing when the line has
 * none: the caller generates one), its modelInput to `out`, and sets
 * *text_len to the bytes of text in it, for a token estimate. Errors are
 * BB_ERR_INPUT (BB_ERR_SYSTEM when memory runs out); id and out are then
 * unchanged.
 *
 * bb_modelinput_openai_line(): an OpenAI batch request line
 * ({"custom_id", "body": {"messages" or "input", "max_tokens" or
 * "max_completion_tokens", "temperature", "top_p", "stop"}}): text parts
 * only, role "developer" taken as "system", built with
 * bb_modelinput_chat(); *text_len is the length of the messages' texts.
 *
 * bb_modelinput_bedrock_line(): a Bedrock record line ({"recordId",
 * "modelInput"}): the modelInput as it is, checked against the family
 * (bb_modelinput_check); an alphanumeric recordId is kept
 * (BB_RECORDID_KEEP_ALNUM); *text_len is the modelInput's length.
 */
int bb_modelinput_openai_line(const struct bb_modelinput *mi, const char *line, size_t len,
    struct bb_buf *id, struct bb_buf *out, size_t *text_len, struct bb_error *err);
int bb_modelinput_bedrock_line(enum bb_family f, const char *line, size_t len,
    struct bb_buf *id, struct bb_buf *out, size_t *text_len, struct bb_error *err);

#endif
