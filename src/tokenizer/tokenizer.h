/*
 * tokenizer: text <-> token ids for the vocabularies GGUF files carry, matching llama.cpp.
 *
 *   - SPM  (tokenizer.ggml.model = "llama"): score-ordered bigram merging, '▁' for spaces,
 *          byte fallback to <0xNN> tokens.
 *   - BPE  (model "gpt2"): a pre-tokenizer (PCRE2 split patterns chosen by tokenizer.ggml.pre),
 *          GPT-2 byte-to-unicode mapping, merges applied by rank.
 *   - WPM  (model "bert"): BERT basic tokenization (lowercase, accents stripped, punctuation and
 *          CJK split), greedy longest-match-first pieces.
 *   - UGM  (model "t5"): SentencePiece Unigram: the precompiled charsmap normalization, '▁' for
 *          spaces, then the highest-scoring segmentation (Viterbi).
 * Special tokens (CONTROL) are matched in the text only when asked (parse_special);
 * USER_DEFINED tokens are always matched first, as llama.cpp does.
 *
 * A loaded tok is read-only: any number of threads may encode and decode with it at once.
 *
 *   tok *t;
 *   if (tok_load(g, &t, &eb)) ...;          // g may be closed afterwards
 *   int32_t *ids; size_t n;
 *   if (tok_encode(t, text, strlen(text), true, false, &ids, &n, &eb)) ...;
 *   tok_decoder *d = tok_decoder_new(t, false);
 *   buf out = {0};
 *   for (size_t i = 0; i < n; i++) tok_decoder_push(d, ids[i], &out);  // complete UTF-8 only
 *   tok_decoder_flush(d, &out);
 *   tok_decoder_free(d); mem_free(ids); buf_free(&out); tok_free(t);
 */
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include "base/base.h"
#include "gguf/gguf.h"

typedef struct tok tok;

typedef enum tok_vocab_type {
    TOK_VOCAB_SPM = 1, /* SentencePiece-style ("llama") */
    TOK_VOCAB_BPE = 2, /* byte-level BPE ("gpt2") */
    TOK_VOCAB_WPM = 3, /* WordPiece ("bert") */
    TOK_VOCAB_UGM = 4, /* SentencePiece Unigram ("t5": T5, XLM-RoBERTa, bge-m3) */
} tok_vocab_type;

/* Token attributes, from tokenizer.ggml.token_type (bits, as several can be set). */
enum {
    TOK_ATTR_UNKNOWN = 1 << 0,
    TOK_ATTR_UNUSED = 1 << 1,
    TOK_ATTR_NORMAL = 1 << 2,
    TOK_ATTR_CONTROL = 1 << 3,
    TOK_ATTR_USER_DEFINED = 1 << 4,
    TOK_ATTR_BYTE = 1 << 5,
    TOK_ATTR_LSTRIP = 1 << 6, /* matching eats whitespace to the left */
    TOK_ATTR_RSTRIP = 1 << 7, /* and to the right */
};

#define TOK_NULL (-1) /* "no such token" */

/* Build a tokenizer from a GGUF's tokenizer.ggml.* metadata. Everything needed is copied,
 * so g may be closed afterwards. BASE_EUNSUPPORTED for an unknown model or pre-tokenizer,
 * BASE_EFORMAT for inconsistent metadata. Free with tok_free. */
int tok_load(const gguf *g, tok **out, err_buf *eb);
void tok_free(tok *t); /* NULL is fine */

tok_vocab_type tok_get_type(const tok *t);
int32_t tok_n_vocab(const tok *t);
/* Special ids, TOK_NULL when the vocabulary has none. */
int32_t tok_bos(const tok *t);
int32_t tok_eos(const tok *t);
int32_t tok_eot(const tok *t);
int32_t tok_unk(const tok *t);
int32_t tok_pad(const tok *t);
int32_t tok_sep(const tok *t);
/* Whether encoding with add_special prepends BOS / appends EOS (from the GGUF or defaults). */
bool tok_add_bos(const tok *t);
bool tok_add_eos(const tok *t);
/* End of generation: eos, eot, eom, and the tokens llama.cpp treats so by their text
 * (<|im_end|>, <|eot_id|>, <end_of_turn>, <|end|>, <|endoftext|>, <|eom_id|>, <EOT>, and the
 * fill-in-the-middle pad/repo/file-separator tokens). False for bad ids. */
bool tok_is_eog(const tok *t, int32_t id);
/* TOK_ATTR_* bits of a token, 0 for an id out of range. */
uint32_t tok_attr(const tok *t, int32_t id);

/* The raw piece as stored in the vocabulary (e.g. "▁Hello", "Ġworld", "<0x0A>"), NUL-terminated,
 * owned by t and valid until tok_free. NULL for an id out of range; *len may be NULL. */
const char *tok_piece(const tok *t, int32_t id, size_t *len);
/* The id whose piece is exactly text[0..len), or TOK_NULL. */
int32_t tok_find(const tok *t, const char *text, size_t len);

/* Append the bytes token id stands for to out: byte tokens become their byte, SPM '▁' a space,
 * GPT-2 byte-level characters their bytes. Control and unknown tokens give nothing unless
 * special is true (then their text). The bytes may be part of a UTF-8 character.
 * BASE_EINVAL for an id out of range, BASE_ENOMEM. */
int tok_token_bytes(const tok *t, int32_t id, bool special, buf *out);

/* Encode text[0..len) (any bytes; invalid UTF-8 is encoded byte by byte where the vocabulary
 * can). add_special adds BOS/EOS (CLS/SEP for WordPiece) as the vocabulary says; parse_special
 * lets control-token text such as "<|im_end|>" become that token. On success *ids is a
 * mem_alloc'd array of *n_ids ids the caller frees with mem_free (non-NULL even when empty).
 * On error *ids is NULL. */
int tok_encode(const tok *t, const char *text, size_t len, bool add_special, bool parse_special,
               int32_t **ids, size_t *n_ids, err_buf *eb);

/* ---- streaming detokenizer ---- */

/* Turns ids, one at a time, into text, emitting only complete UTF-8: a multi-byte character
 * split across tokens is held back until it completes. A sequence that can never complete
 * becomes U+FFFD at once; one still incomplete at flush becomes U+FFFD then.
 * Like llama.cpp, a leading BOS is skipped (unless special) and, when the vocabulary adds a
 * space prefix (SPM) or marks word starts (WordPiece), the leading space of the first piece is
 * dropped. special: render control and unknown tokens as their text.
 * llama.cpp's optional clean-up of spaces before punctuation is not applied, so BPE and SPM
 * decode back to the exact input text; WordPiece decoding is lossy (lowercase, no accents,
 * "hello , world"). A decoder belongs to one thread; several may share one tok. */
typedef struct tok_decoder tok_decoder;

tok_decoder *tok_decoder_new(const tok *t, bool special); /* NULL when out of memory */
void tok_decoder_free(tok_decoder *d);                    /* NULL is fine */
/* Append what id completes to out. BASE_EINVAL for a bad id, BASE_ENOMEM. */
int tok_decoder_push(tok_decoder *d, int32_t id, buf *out);
/* Append what is held back (as U+FFFD) and reset the decoder to its start state. */
int tok_decoder_flush(tok_decoder *d, buf *out);

/* Decode a whole id list into out (a decoder run over ids, then flushed). */
int tok_detokenize(const tok *t, const int32_t *ids, size_t n, bool special, buf *out);

#endif
