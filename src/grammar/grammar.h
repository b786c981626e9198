/*
 * grammar: constrained generation. GBNF grammars (llama.cpp's format), JSON Schema -> grammar,
 * a pushdown matcher over Unicode code points, and grammar-aware sampling.
 *
 *   grammar   parsed, read-only, shareable between threads and requests.
 *   gstate    one generation's position in a grammar (a set of parse stacks, plus the bytes
 *             of a UTF-8 character a token left unfinished). Owned by one thread.
 *   gtrie     the vocabulary as a byte trie, built once per tokenizer, read-only and shared:
 *             filtering the vocabulary walks common prefixes once.
 *
 *   grammar *g;
 *   if (grammar_parse(text, strlen(text), &g, &eb)) ...;     // or grammar_from_json_schema
 *   gtrie *tr;
 *   if (gtrie_build(tk, &tr, &eb)) ...;                       // once per tokenizer
 *   gstate *st;
 *   if (gstate_new(g, &st)) ...;
 *   for (left = max_tokens; left > 0; left--) {
 *       int32_t id;
 *       if (grammar_sample(st, tr, smp, logits, left, NULL, 0, &id)) break;  // dead grammar
 *       if (tok_is_eog(tk, id)) break;                        // offered only when complete
 *       gstate_accept_token(st, tr, id);  smp_accept(smp, id);
 *       ... decode id ...
 *   }
 *   gstate_free(st); gtrie_free(tr); grammar_free(g);
 *
 * grammar_sample first lets the normal sampler choose from the unmodified logits and keeps the
 * token when the grammar accepts it ("lazy" checking, usually one cheap check); only when it
 * is rejected are all tokens filtered through the trie, the rejected ones masked and the
 * sampler asked again. The result has the same distribution as masking first.
 *
 * Budget: given tokens_left (the tokens that may still be generated, this one included), a
 * token is allowed only when the grammar can still be completed within the tokens left after
 * it (counting one token per byte, which byte-fallback vocabularies guarantee). So a
 * generation that runs to its token limit ends with text the grammar accepts. Pass 0 for no
 * budget. The caller must allow at least gstate_min_bytes_left() tokens at the start (the
 * schema's shortest instance); with fewer, grammar_sample still moves toward the end (only
 * tokens that shorten the way are allowed) but the text will be cut short. A vocabulary
 * without single-byte tokens for the needed characters (WordPiece) may also run out.
 *
 * Stop when the sampled token is end-of-generation (offered only once the grammar is
 * complete) or when gstate_is_done() says nothing more can follow: a vocabulary without
 * end-of-generation tokens would otherwise have no token left to offer.
 */
#ifndef GRAMMAR_H
#define GRAMMAR_H

#include <jansson.h>

#include "base/base.h"
#include "sample/sample.h"
#include "tokenizer/tokenizer.h"

typedef struct grammar grammar;
typedef struct gstate gstate;
typedef struct gtrie gtrie;

/* ---- grammars ---- */

/* Parse GBNF text[0..len): rules `name ::= alternatives`, "literals" with escapes
 * (\n \r \t \" \\ \xHH \uHHHH \UHHHHHHHH), [classes], [^negated], `.`, groups, * + ? {m} {m,}
 * {m,n}, # comments; `root` is the start rule. Errors (BASE_EFORMAT) say "line L, column C:
 * ...". Free the result with grammar_free. */
int grammar_parse(const char *text, size_t len, grammar **out, err_buf *eb);
void grammar_free(grammar *g); /* NULL is fine */
/* A grammar for any JSON object (response_format {"type": "json_object"}). */
int grammar_json_object(grammar **out, err_buf *eb);

/* JSON Schema -> GBNF text (appended to out) or straight to a grammar. Supported: type (also
 * lists), properties (declared order; required ones must appear, the others may),
 * additionalProperties (false / a schema / default true; extra keys differ from the declared
 * ones), enum, const, items, prefixItems (an exact tuple), minItems, maxItems, anyOf, oneOf
 * (as anyOf), allOf (objects merged), $ref to "#/..." ($defs, definitions; recursion
 * allowed), string minLength/maxLength, format date, time, date-time, uuid, pattern (a regex
 * subset: literals, classes, \d \w \s, groups, |, quantifiers, ^ $ at the ends), integer
 * minimum/maximum/exclusiveMinimum/exclusiveMaximum (exact ranges, up to 15 digits).
 * Ignored, so the output is wider than the schema: other formats, patterns outside the
 * subset, number (non-integer) bounds, multipleOf, uniqueItems, min/maxProperties; oneOf is
 * not exclusive. Whitespace between tokens is limited (at most one newline and 20 spaces or
 * tabs) so a model cannot loop on spaces. BASE_EUNSUPPORTED for what cannot be expressed
 * (remote $ref, allOf of non-objects, counts above 1000), BASE_EINVAL for a malformed schema. */
int grammar_schema_to_gbnf(const json_t *schema, buf *out, err_buf *eb);
int grammar_from_json_schema(const json_t *schema, grammar **out, err_buf *eb);

/* The JSON Schema of one call to any tool of an OpenAI `tools` array (items {"type":
 * "function", "function": {"name", "parameters"}}, or the bare function objects):
 * {"name": <a tool's name>, "arguments": <its parameters>}, no other keys. Feed it to
 * grammar_from_json_schema. *out is a new reference the caller json_decref's. */
int grammar_tool_call_schema(const json_t *tools, json_t **out, err_buf *eb);

/* ---- matching ---- */

/* A state at the grammar's start. g is borrowed and must outlive the state. NULL when out of
 * memory. Free with gstate_free. */
gstate *gstate_new(const grammar *g);
void gstate_free(gstate *s); /* NULL is fine */
/* An independent copy (NULL when out of memory). */
gstate *gstate_clone(const gstate *s);
/* Back to the start. */
void gstate_reset(gstate *s);

/* Whether the grammar accepts bytes[0..n) from here (the bytes may end inside a UTF-8
 * character: the character must then be able to continue). The state is not changed. */
bool gstate_can_accept_bytes(gstate *s, const void *bytes, size_t n);
/* Advance over bytes[0..n). BASE_EINVAL (state unchanged) when the grammar rejects them,
 * BASE_ENOMEM when out of memory or when the grammar is too ambiguous here (more than about a
 * thousand simultaneous parses, e.g. a long run of nullable repetitions). */
int gstate_accept_bytes(gstate *s, const void *bytes, size_t n);
/* The text so far is a complete sentence of the grammar (no unfinished character). */
bool gstate_is_complete(const gstate *s);
/* Complete and nothing more can follow: only end-of-generation remains. */
bool gstate_is_done(const gstate *s);
/* The fewest bytes that complete the grammar from here (0 when complete). */
uint32_t gstate_min_bytes_left(const gstate *s);

/* ---- the vocabulary and sampling ---- */

/* Build the trie of t's token bytes (tok_token_bytes without specials). Tokens with no bytes
 * (control tokens) are never allowed by the grammar, except end-of-generation tokens once the
 * grammar is complete. The trie copies what it needs (t may be freed afterwards) and is
 * read-only: share it between any number of states and threads. Free with gtrie_free. */
int gtrie_build(const tok *t, gtrie **out, err_buf *eb);
void gtrie_free(gtrie *tr);
int32_t gtrie_n_vocab(const gtrie *tr);

/* Whether token id may come next (grammar, end-of-generation rule and budget as above). */
bool gstate_allows_token(gstate *s, const gtrie *tr, int32_t id, int tokens_left);
/* Advance over token id: its bytes, or nothing for an end-of-generation token when the grammar
 * is complete. BASE_EINVAL (state unchanged) when not allowed. */
int gstate_accept_token(gstate *s, const gtrie *tr, int32_t id);
/* Set logits[i] = -INFINITY for every token the grammar does not allow now (logits holds
 * gtrie_n_vocab(tr) floats; a model whose logits are longer than its vocabulary, padded rows,
 * passes the first gtrie_n_vocab of them).
 * Returns the number of tokens still allowed (0: the grammar is stuck), or BASE_ENOMEM. */
int grammar_mask_logits(gstate *s, const gtrie *tr, float *logits, int tokens_left);
/* Sample the next token under the grammar (lazy check; see the top of this file). sm must have
 * been created with n_vocab == gtrie_n_vocab(tr), the size of logits. logits are
 * not modified (a scratch copy owned by s is used when masking is needed). lp, n_top as for
 * smp_sample (from the raw logits when the first draw is kept, else from the masked ones).
 * Does not accept the token: call gstate_accept_token and smp_accept. BASE_EINVAL when no
 * token is allowed (the grammar is done and the vocabulary has no end-of-generation token),
 * BASE_ENOMEM. */
int grammar_sample(gstate *s, const gtrie *tr, smp *sm, const float *logits, int tokens_left,
                   smp_logprobs *lp, int n_top, int32_t *out_id);

#endif
