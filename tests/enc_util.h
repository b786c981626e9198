/* Helpers for the encoder tests: a tiny random-weight BERT written with the GGUF writer (the
 * bge tokenizer's metadata copied in), optionally with a rank head, and a plain double-precision
 * reimplementation of its forward pass to check the engine against. */
#ifndef ENC_UTIL_H
#define ENC_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#define ENC_E 32
#define ENC_H 2
#define ENC_F 64
#define ENC_L 2
#define ENC_CTX 64

typedef struct enc_tiny {
    int n_vocab;
    bool rank;
    bool nomic;                  /* nomic-bert: fused qkv, RoPE (base 1000), SwiGLU */
    bool jina;                   /* jina-bert-v2: ALiBi (max bias 8), GEGLU, no position table */
    bool qk_norm;                /* jina-bert-v2: LayerNorms of q and k */
    bool one_type;               /* a token_types table of one row (XLM-RoBERTa) */
    float *tok;                  /* n_vocab x E */
    float pos[ENC_CTX][ENC_E], types[2][ENC_E], en_w[ENC_E], en_b[ENC_E];
    struct {
        float wq[ENC_E][ENC_E], wk[ENC_E][ENC_E], wv[ENC_E][ENC_E], wo[ENC_E][ENC_E];
        float bq[ENC_E], bk[ENC_E], bv[ENC_E], bo[ENC_E];
        float n1_w[ENC_E], n1_b[ENC_E], up[ENC_F][ENC_E], bup[ENC_F], down[ENC_E][ENC_F],
            bdown[ENC_E], n2_w[ENC_E], n2_b[ENC_E], gate[ENC_F][ENC_E];
        float qn_w[ENC_E], qn_b[ENC_E], kn_w[ENC_E], kn_b[ENC_E];
    } l[ENC_L];
    float cls[ENC_E][ENC_E], cls_b[ENC_E], cls_out[ENC_E], cls_out_b;
} enc_tiny;

/* Write the model to path (pooling_type 4 "rank" with a head when rank, else 1 "mean").
 * Returns the weights (free with enc_tiny_free). Fails the test on error. */
enc_tiny *enc_tiny_write(const char *path, bool rank, uint32_t seed);
/* The same as architecture nomic-bert (mean pooling, no q/k/v biases, no position table). */
enc_tiny *enc_tiny_write_nomic(const char *path, uint32_t seed);
/* The same as architecture jina-bert-v2 (mean pooling, ALiBi, GEGLU, optional q/k norms). */
enc_tiny *enc_tiny_write_jina(const char *path, bool qk_norm, uint32_t seed);
/* A bert with the tokenizer metadata of the GGUF at vocab (other than bge's: one token type,
 * as XLM-RoBERTa models have). */
enc_tiny *enc_tiny_write_vocab(const char *path, const char *vocab, bool rank, uint32_t seed);
void enc_tiny_free(enc_tiny *w);

/* Reference forward pass of one input: per-token outputs into out (n x E). */
void enc_tiny_ref(const enc_tiny *w, const int32_t *ids, const int32_t *types, int n, double *out);
/* Reference rank score of one input (the [CLS] row through the head). */
double enc_tiny_ref_rank(const enc_tiny *w, const int32_t *ids, const int32_t *types, int n);

/* Write the SentencePiece Unigram vocabulary of tests/corpus/ugm/fixture.json as a tokenizer-only
 * GGUF ("t5", XLM-RoBERTa's special ids: <s> 0, <pad> 1, </s> 2 also the separator, <unk> 3),
 * with or without its precompiled charsmap and the add_bos / add_eos keys. Returns the fixture
 * (json_decref it). */
struct json_t;
struct json_t *enc_ugm_vocab_write(const char *path, bool with_charsmap, bool add_special_keys);

#endif
