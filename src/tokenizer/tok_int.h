/*
 * Internals shared by the tokenizer's files: the tok struct, the piece hash map, the id
 * vector encoders append to, the merge queue, and the Unicode helpers.
 */
#ifndef TOK_INT_H
#define TOK_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer.h"

#define TOK_MAX_REGEX 8

typedef struct tok_token {
    uint32_t off; /* of the piece in tok.pool (NUL-terminated there) */
    uint32_t len;
    float score;
    uint32_t attr; /* TOK_ATTR_* */
} tok_token;

typedef struct tok_merge {
    uint32_t off;       /* of "left right" in tok.mpool */
    uint32_t left_len;  /* bytes of left; right starts after the space */
    uint32_t right_len;
} tok_merge;

struct tok {
    tok_vocab_type type;
    int32_t n_vocab;
    tok_token *tokens; /* (n_vocab) */
    char *pool;
    size_t max_token_len;

    int32_t *map; /* piece -> id, open addressing, TOK_NULL when empty; (map_mask + 1) */
    uint32_t map_mask;

    tok_merge *merges; /* rank = index; (n_merges) */
    uint32_t n_merges;
    char *mpool;
    int32_t *mmap; /* (left, right) -> rank, like map; (mmap_mask + 1) */
    uint32_t mmap_mask;

    int32_t bos, eos, eot, eom, unk, sep, pad;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    uint8_t *eog;       /* (n_vocab) 1 for end-of-generation tokens */
    int32_t *specials;  /* CONTROL / USER_DEFINED / UNKNOWN ids, longest piece first */
    size_t n_specials;
    int32_t byte_tok[256]; /* SPM <0xNN> tokens (or TOK_NULL) */

    pcre2_general_context *gctx; /* routes PCRE2 allocations through mem_alloc */
    pcre2_code *re[TOK_MAX_REGEX]; /* BPE pre-tokenizer, applied in order */
    int n_re;
    pcre2_code *wpm_re; /* WordPiece character classes */

    /* UGM (tok_ugm.c): the precompiled charsmap (a copy): its trie and replacement pool. */
    uint8_t *charsmap;
    const uint8_t *xcda; /* xcda_n little-endian uint32 nodes */
    size_t xcda_n;
    const char *repl;
    size_t repl_n;
    double ugm_unk_score; /* the lowest normal token score minus 10 */
    bool remove_extra_ws; /* tokenizer.ggml.remove_extra_whitespaces */
};

/* ---- ids vector (encoders append here) ---- */
typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
} tok_ids;
int tok_ids_push(tok_ids *ids, int32_t id);

/* ---- hashing ---- */
uint32_t tok_hash(const char *s, size_t n, uint32_t h);
#define TOK_HASH_SEED 2166136261u
/* Merge rank of (left, right), or -1. */
int32_t tok_merge_rank(const tok *t, const char *l, size_t ll, const char *r, size_t rl);

/* ---- merge queue: highest key first, then lowest left ---- */
typedef struct tok_bigram {
    double key;
    int32_t left, right;
    uint32_t size; /* bytes of left + right when queued (stale entries are skipped) */
} tok_bigram;
typedef struct tok_heap {
    tok_bigram *v;
    size_t n, cap;
} tok_heap;
int tok_heap_push(tok_heap *h, tok_bigram b);
tok_bigram tok_heap_pop(tok_heap *h);

/* A symbol of a word being merged: text[off..off+n), linked to its neighbours. */
typedef struct tok_sym {
    int32_t prev, next;
    uint32_t off, n;
} tok_sym;

/* ---- per-model encoders (raw text fragments, no special tokens inside) ---- */
int tok_spm_encode(const tok *t, const char *text, size_t len, bool space_prefix, tok_ids *out);
int tok_bpe_encode(const tok *t, const char *text, size_t len, tok_ids *out);
int tok_wpm_encode(const tok *t, const char *text, size_t len, tok_ids *out);
int tok_ugm_encode(const tok *t, const char *text, size_t len, tok_ids *out);
/* UGM: copy the precompiled charsmap (len 0: none) and derive the <unk> score. */
int tok_ugm_setup(tok *t, const uint8_t *charsmap, size_t len, err_buf *eb);

/* Pick and compile the pre-tokenizer regexes for tokenizer.ggml.pre (BPE) and set the flags
 * llama.cpp ties to it. pre NULL or "" means "default". */
int tok_pre_setup(tok *t, const char *pre, size_t pre_len, err_buf *eb);
int tok_wpm_setup(tok *t, err_buf *eb);
pcre2_code *tok_regex_compile(tok *t, const char *pattern, err_buf *eb);

/* ---- Unicode helpers ---- */
/* Length of the UTF-8 sequence a lead byte starts (1 for stray bytes), as llama.cpp reads it. */
size_t tok_utf8_len(uint8_t lead);
/* Decode one code point at s[*i] (invalid: U+FFFD and one byte). */
uint32_t tok_utf8_decode(const char *s, size_t len, size_t *i);
/* Encode cp into out (4 bytes room); returns the byte count. */
size_t tok_utf8_encode(uint32_t cp, char *out);
/* GPT-2 byte-level mapping: the UTF-8 text byte b is written as; and back (-1: none). */
const char *tok_byte_to_unicode(uint8_t b, size_t *len);
int tok_unicode_to_byte(uint32_t cp);
/* First code point of the NFD decomposition, and simple lowercase (generated tables). */
uint32_t tok_cpt_nfd(uint32_t cp);
uint32_t tok_cpt_lower(uint32_t cp);

extern const size_t tok_nfd_count;
extern const uint32_t tok_nfd_ranges[][3];
extern const size_t tok_lower_count;
extern const uint32_t tok_lower_ranges[][4]; /* first, last, stride, delta (mod 2^32) */

#endif
