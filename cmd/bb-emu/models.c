/*
 * models.c - simulated model outputs for bb-emu: for each family, a
 * modelOutput of the real shape (spec/BEDROCK.md 3.7) whose content is a
 * pure function of the modelInput and the seed, with plausible usage.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jobs.h"

uint64_t
emu_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double
emu_rng_unit(uint64_t *state)
{
	return (double)(emu_rng_next(state) >> 11) / 9007199254740992.0;
}

uint64_t
emu_hash64(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return emu_rng_next(&h);
}

/* Characters of all strings in the input (the "prompt"), and a hash of them. */
static void
measure(const struct bb_json *j, size_t *chars, uint64_t *h)
{
	size_t i;

	if (j == NULL)
		return;
	if (j->type == BB_JSON_STRING) {
		*chars += j->len;
		*h = emu_hash64(j->str, j->len, *h);
	} else if (j->type == BB_JSON_NUMBER) {
		*h = emu_hash64(j->str, j->len, *h);
	}
	for (i = 0; i < j->n; i++)
		measure(j->items[i], chars, h);
}

static const char *const words[] = {
	"the", "answer", "is", "based", "on", "a", "careful", "reading", "of", "your",
	"question", "and", "it", "depends", "context", "first", "consider", "data", "then",
	"result", "follows", "clearly", "step", "by", "in", "summary", "this", "means", "that",
	"model", "records", "batch", "output", "value", "simple", "likely", "reason", "because",
	"example", "shows", "important", "point", "we", "can", "see", "here", "more", "detail",
	"overall", "good", "short", "long", "term", "plan", "costs", "half", "time", "every",
	"line", "text", "final", "note", "also", "well",
};

/* Generate the text; *otok its tokens, truncated to max_tok (> 0). */
static void
gen_text(struct bb_buf *t, uint64_t h, long long max_tok, long long *otok, int *truncated)
{
	uint64_t st = h;
	long long nwords = 8 + (long long)(emu_rng_next(&st) % 40), i, tok = 0;

	*truncated = 0;
	bb_buf_reset(t);
	bb_buf_addf(t, "Simulated response %08llx:", (unsigned long long)(h >> 32));
	tok = 5;
	for (i = 0; i < nwords; i++) {
		const char *w = words[emu_rng_next(&st) % (sizeof(words) / sizeof(words[0]))];

		if (max_tok > 0 && tok + 1 > max_tok) {
			*truncated = 1;
			break;
		}
		bb_buf_addc(t, ' ');
		bb_buf_adds(t, w);
		tok++;
	}
	if (!*truncated)
		bb_buf_addc(t, '.');
	if (max_tok > 0 && tok > max_tok)
		tok = max_tok;
	*otok = tok;
}

static long long
int_at(const struct bb_json *in, const char *path, long long def)
{
	const struct bb_json *v = bb_json_path(in, path);

	return v != NULL && v->type == BB_JSON_NUMBER && v->is_int ? v->i : def;
}

/* A pseudo-random unit vector (gaussian components, scaled to length 1
 * when normalize is set) as a JSON array. */
static void
gen_vector(struct bb_buf *out, uint64_t h, long long dims, int normalize, int binary)
{
	double v[3072], norm = 0;
	uint64_t st = h;
	long long i;

	if (dims > 3072)
		dims = 3072;
	for (i = 0; i < dims; i++) {
		double u1 = emu_rng_unit(&st), u2 = emu_rng_unit(&st);

		v[i] = sqrt(-2 * log(u1 + 1e-300)) * cos(2 * M_PI * u2);
		norm += v[i] * v[i];
	}
	norm = sqrt(norm);
	bb_buf_addc(out, '[');
	for (i = 0; i < dims; i++) {
		if (i)
			bb_buf_addc(out, ',');
		if (binary)
			bb_buf_addc(out, v[i] > 0 ? '1' : '0');
		else
			bb_buf_addf(out, "%.8g", normalize && norm > 0 ? v[i] / norm : v[i] * 0.05);
	}
	bb_buf_addc(out, ']');
}

static int
has_str(const struct bb_json *arr, const char *s)
{
	size_t i;

	for (i = 0; arr != NULL && i < arr->n; i++)
		if (bb_json_str(arr->items[i]) && strcmp(arr->items[i]->str, s) == 0)
			return 1;
	return 0;
}

/* Anthropic's "model" field: the base id without provider and version. */
static void
anthropic_model(struct bb_buf *out, const char *model_id)
{
	const char *p = strstr(model_id, "anthropic.");
	size_t n;

	p = p ? p + strlen("anthropic.") : model_id;
	n = strcspn(p, ":/");
	if (n > 3 && strncmp(p + n - 3, "-v1", 3) == 0)
		n -= 3;
	else if (n > 3 && strncmp(p + n - 3, "-v2", 3) == 0)
		n -= 3;
	bb_json_add_str(out, p, n);
}

int
emu_model_output(enum bb_family f, const char *model_id, const struct bb_json *in,
    uint64_t seed, struct bb_buf *out, long long *in_tok, long long *out_tok)
{
	struct bb_buf text = BB_BUF_INIT;
	size_t chars = 0;
	uint64_t h = seed;
	long long itok, otok = 0;
	int trunc = 0, rc = -1;

	measure(in, &chars, &h);
	itok = 1 + (long long)chars / 4;
	switch (f) {
	case BB_FAMILY_ANTHROPIC:
		itok += 7;
		gen_text(&text, h, int_at(in, "max_tokens", 0), &otok, &trunc);
		bb_buf_addf(out, "{\"id\":\"msg_bdrk_01%016llx\",\"type\":\"message\","
		    "\"role\":\"assistant\",\"model\":", (unsigned long long)h);
		anthropic_model(out, model_id);
		bb_buf_adds(out, ",\"content\":[{\"type\":\"text\",\"text\":");
		bb_json_add_str(out, text.data, text.len);
		bb_buf_addf(out, "}],\"stop_reason\":\"%s\",\"stop_sequence\":null,"
		    "\"usage\":{\"input_tokens\":%lld,\"output_tokens\":%lld}}",
		    trunc ? "max_tokens" : "end_turn", itok, otok);
		break;
	case BB_FAMILY_NOVA:
	case BB_FAMILY_CONVERSE:
		gen_text(&text, h, int_at(in, "inferenceConfig.maxTokens", 0), &otok, &trunc);
		bb_buf_adds(out, "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":"
		    "[{\"text\":");
		bb_json_add_str(out, text.data, text.len);
		bb_buf_addf(out, "}]}},\"stopReason\":\"%s\",\"usage\":{\"inputTokens\":%lld,"
		    "\"outputTokens\":%lld,\"totalTokens\":%lld}",
		    trunc ? "max_tokens" : "end_turn", itok, otok, itok + otok);
		if (f == BB_FAMILY_CONVERSE)
			bb_buf_addf(out, ",\"metrics\":{\"latencyMs\":%lld}",
			    200 + (long long)(h % 800) + otok * 10);
		bb_buf_addc(out, '}');
		break;
	case BB_FAMILY_LLAMA:
		gen_text(&text, h, int_at(in, "max_gen_len", 0), &otok, &trunc);
		bb_buf_adds(out, "{\"generation\":");
		bb_json_add_str(out, text.data, text.len);
		bb_buf_addf(out, ",\"prompt_token_count\":%lld,\"generation_token_count\":%lld,"
		    "\"stop_reason\":\"%s\"}", itok, otok, trunc ? "length" : "stop");
		break;
	case BB_FAMILY_MISTRAL:
		gen_text(&text, h, int_at(in, "max_tokens", 0), &otok, &trunc);
		bb_buf_adds(out, "{\"outputs\":[{\"text\":");
		bb_json_add_str(out, text.data, text.len);
		bb_buf_addf(out, ",\"stop_reason\":\"%s\"}]}", trunc ? "length" : "stop");
		break;
	case BB_FAMILY_MISTRAL_CHAT:
		gen_text(&text, h, int_at(in, "max_tokens", 0), &otok, &trunc);
		bb_buf_addf(out, "{\"id\":\"%016llx\",\"object\":\"chat.completion\",\"choices\":"
		    "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":",
		    (unsigned long long)h);
		bb_json_add_str(out, text.data, text.len);
		bb_buf_addf(out, "},\"stop_reason\":\"%s\"}],\"usage\":{\"prompt_tokens\":%lld,"
		    "\"completion_tokens\":%lld,\"total_tokens\":%lld}}",
		    trunc ? "length" : "stop", itok, otok, itok + otok);
		break;
	case BB_FAMILY_TITAN_EMBED: {
		int v1 = strstr(model_id, "titan-embed-text-v1") != NULL ||
		    strstr(model_id, "titan-embed-g1-text") != NULL;
		int image = strstr(model_id, "titan-embed-image") != NULL;
		const struct bb_json *types = bb_json_get(in, "embeddingTypes");
		const struct bb_json *norm = bb_json_get(in, "normalize");
		long long dims = v1 ? 1536 : int_at(in, "dimensions", 1024);
		int normalize = !v1 && !(norm != NULL && norm->type == BB_JSON_FALSE);
		int want_float = types == NULL || has_str(types, "float");

		if (image)
			dims = int_at(in, "embeddingConfig.outputEmbeddingLength", 1024);
		bb_buf_adds(out, "{");
		if (want_float) {
			bb_buf_adds(out, "\"embedding\":");
			gen_vector(out, h, dims, normalize, 0);
			bb_buf_adds(out, ",");
		}
		bb_buf_addf(out, "\"inputTextTokenCount\":%lld", itok);
		if (!v1 && !image) {
			bb_buf_adds(out, ",\"embeddingsByType\":{");
			if (want_float) {
				bb_buf_adds(out, "\"float\":");
				gen_vector(out, h, dims, normalize, 0);
			}
			if (has_str(types, "binary")) {
				bb_buf_adds(out, want_float ? ",\"binary\":" : "\"binary\":");
				gen_vector(out, h, dims, normalize, 1);
			}
			bb_buf_adds(out, "}");
		}
		bb_buf_adds(out, "}");
		otok = 0;
		break;
	}
	case BB_FAMILY_COHERE_EMBED: {
		const struct bb_json *texts = bb_json_get(in, "texts");
		const struct bb_json *types = bb_json_get(in, "embedding_types");
		size_t i, k, n = texts != NULL ? texts->n : 1;

		bb_buf_addf(out, "{\"id\":\"%08llx-%04llx-4%03llx-8%03llx-%012llx\",\"embeddings\":",
		    (unsigned long long)(h >> 32), (unsigned long long)(h >> 16) & 0xffff,
		    (unsigned long long)(h >> 4) & 0xfff, (unsigned long long)(h >> 20) & 0xfff,
		    (unsigned long long)h & 0xffffffffffffULL);
		if (types != NULL)
			bb_buf_addc(out, '{');
		for (k = 0; k < (types != NULL ? types->n : 1); k++) {
			int binary = types != NULL && (has_str(types, "binary") &&
			    strstr(types->items[k]->str, "binary") != NULL);

			if (types != NULL) {
				if (k)
					bb_buf_addc(out, ',');
				bb_json_add_str(out, types->items[k]->str, types->items[k]->len);
				bb_buf_addc(out, ':');
			}
			bb_buf_addc(out, '[');
			for (i = 0; i < n; i++) {
				uint64_t th = texts != NULL && texts->items[i]->str ?
				    emu_hash64(texts->items[i]->str, texts->items[i]->len, seed) : h;

				if (i)
					bb_buf_addc(out, ',');
				gen_vector(out, th, 1024, 1, binary);
			}
			bb_buf_addc(out, ']');
		}
		if (types != NULL)
			bb_buf_addc(out, '}');
		bb_buf_addf(out, ",\"response_type\":\"%s\",\"texts\":",
		    types != NULL ? "embeddings_by_type" : "embeddings_floats");
		if (texts != NULL)
			bb_json_write(texts, out);
		else
			bb_buf_adds(out, "[]");
		bb_buf_addf(out, ",\"meta\":{\"billed_units\":{\"input_tokens\":%lld}}}", itok);
		otok = 0;
		break;
	}
	case BB_FAMILY_UNKNOWN:
		goto out;
	}
	*in_tok = itok;
	*out_tok = otok;
	rc = 0;
out:
	bb_buf_release(&text);
	return rc;
}
