/*
 * family.h - Bedrock model families: which request body (modelInput) a
 * model takes and which response body (modelOutput) it gives
 * (spec/BEDROCK.md 3.7). Shared by bb-shard (build and check modelInput),
 * bb-emu (check modelInput, simulate modelOutput) and bb-join (take the
 * text, embedding, stop reason and token counts out of modelOutput).
 */
#ifndef BB_FAMILY_H
#define BB_FAMILY_H

#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "json.h"

enum bb_family {
	BB_FAMILY_UNKNOWN = 0,
	BB_FAMILY_ANTHROPIC,      /* anthropic.claude-* messages API */
	BB_FAMILY_NOVA,           /* amazon.nova-* */
	BB_FAMILY_TITAN_EMBED,    /* amazon.titan-embed-text-v1 / v2 */
	BB_FAMILY_LLAMA,          /* meta.llama* */
	BB_FAMILY_MISTRAL,        /* mistral.* text completion */
	BB_FAMILY_MISTRAL_CHAT,   /* mistral.mistral-large-2407 chat completion */
	BB_FAMILY_COHERE_EMBED,   /* cohere.embed-* */
	BB_FAMILY_CONVERSE,       /* modelInvocationType Converse, any model */
};

/*
 * The family of a model id: a base model id ("anthropic.claude-3-haiku-
 * 20240307-v1:0"), an inference profile id ("us.anthropic...", "global...."),
 * or an ARN of either. `converse` selects BB_FAMILY_CONVERSE for any model.
 * BB_FAMILY_UNKNOWN when the provider is not recognised.
 */
enum bb_family bb_family_of_model(const char *model_id, int converse);
const char *bb_family_name(enum bb_family f);
/* 1 for embedding families (output is a vector, not text). */
int bb_family_is_embedding(enum bb_family f);

/*
 * Check a modelInput against its family's schema: required keys, types,
 * ranges (e.g. Anthropic: anthropic_version "bedrock-2023-05-31", max_tokens
 * integer >= 1, messages non-empty array of {role, content}). 0 when valid;
 * -1 with err naming the offending key ("modelInput.max_tokens: must be an
 * integer >= 1").
 */
int bb_family_check_input(enum bb_family f, const struct bb_json *model_input,
    struct bb_error *err);

/* What bb-join takes out of one modelOutput. */
struct bb_family_output {
	struct bb_buf text;        /* text families: the concatenated text */
	struct bb_buf embedding;   /* embedding families: the vector as JSON array text */
	char stop_reason[64];      /* "" when the family has none */
	long long input_tokens;    /* -1 when unknown */
	long long output_tokens;   /* -1 when unknown */
};
/* _init before use; _release frees text and embedding and leaves it as
 * after _init (reusable). */
void bb_family_output_init(struct bb_family_output *o);
void bb_family_output_release(struct bb_family_output *o);
int bb_family_extract(enum bb_family f, const struct bb_json *model_output,
    struct bb_family_output *o, struct bb_error *err);

#endif
