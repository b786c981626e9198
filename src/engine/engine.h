/*
 * engine: transformer LLMs read from GGUF. A model is loaded once (read-only, shared by
 * every session); a session owns its KV cache and scratch, sized when it is opened, so the
 * per-token loop allocates nothing.
 *
 *   llm_model *m;
 *   if (llm_model_load("model.gguf", &m, &eb)) ...;
 *   llm_session_params sp = llm_session_default_params();
 *   sp.n_ctx = 2048;
 *   llm_session *s;
 *   if (llm_session_new(m, &sp, pool, &s, &eb)) ...;
 *   llm_decode(s, prompt, n_prompt, false, &eb);      // a batch; logits of the last token
 *   const float *logits = llm_logits(s, -1);           // n_vocab floats
 *   ... sample a token t ...
 *   llm_decode(s, &t, 1, false, &eb);
 *   llm_session_free(s);
 *   llm_model_free(m);
 *
 * Architectures: llama (Llama 2/3, Mistral, TinyLlama, SmolLM), qwen2, qwen3, gemma, gemma2,
 * gemma3, phi3; and the encoders bert (XLM-RoBERTa included), nomic-bert and jina-bert-v2
 * (embeddings, reranking: llm_embed, llm_rank, no sessions). Decoders embed too (llm_embed:
 * their pooled final hidden states). Anything else is an error that names the architecture.
 */
#ifndef ENGINE_H
#define ENGINE_H

#include "base/base.h"
#include "gguf/gguf.h"

typedef struct llm_model llm_model;
typedef struct llm_session llm_session;

/* What the model file says, after defaults are applied. */
typedef struct llm_hparams {
    char arch[32];       /* general.architecture */
    int n_vocab;
    int n_ctx_train;
    int n_embd;
    int n_layer;
    int n_head;
    int n_head_kv;
    int head_dim;        /* key_length (== value_length) */
    int n_ff;
    int n_rot;
    float norm_eps;
    float rope_base;
    float rope_base_swa;   /* gemma3 sliding layers */
    float rope_freq_scale; /* 1 / linear factor */
    int rope_neox;         /* 1: NeoX pairs (i, i + n_rot/2) */
    int rope_yarn;         /* 1: YaRN scaling */
    float yarn_ext_factor, yarn_attn_factor, yarn_beta_fast, yarn_beta_slow;
    int yarn_n_ctx_orig;
    float attn_softcap;    /* 0: none */
    float final_softcap;   /* 0: none */
    int sliding_window;    /* 0: none */
    float attn_scale;      /* multiplies q.k */
    uint64_t weight_bytes; /* bytes of all tensors */
} llm_hparams;

/* Map the file and check every tensor the architecture needs (names, shapes, types). */
int llm_model_load(const char *path, llm_model **out, err_buf *eb);
/* Build a model from an already open GGUF; the model takes ownership of g (even on error). */
int llm_model_from_gguf(gguf *g, llm_model **out, err_buf *eb);
void llm_model_free(llm_model *m);
/* Wait for what the load left running in the background: writing the repacked weights to
 * the repack cache (LOCALAI_REPACK_CACHE). llm_model_free stops it instead, leaving no cache
 * entry; commands that run once call this first, so that the next run maps the cache. */
void llm_model_settle(llm_model *m);
const llm_hparams *llm_model_hparams(const llm_model *m);
/* The underlying file (tokenizer and template metadata live there). Borrowed. */
const gguf *llm_model_gguf(const llm_model *m);
/* One line: "llama 2 layers, 256 embd, 4/2 heads x 64, ... Q4_K". Static storage per model. */
const char *llm_model_describe(const llm_model *m);

typedef struct llm_session_params {
    int n_ctx;     /* KV cache positions; 0: the model's training context (capped at 4096) */
    int n_batch;   /* most tokens per llm_decode call (larger calls are split) */
    bool kv_f32;   /* F32 KV cache instead of F16 */
    bool all_logits; /* room for the logits of every position of a batch (eval, perplexity) */
    int n_seq;       /* sessions one llm_decode_batch may serve with this one as items[0] */
} llm_session_params;

llm_session_params llm_session_default_params(void);

/* pool (may be NULL) runs the compute; it is borrowed and must outlive the session, and only
 * one session may use a pool at a time. */
int llm_session_new(const llm_model *m, const llm_session_params *p, tpool *pool,
                    llm_session **out, err_buf *eb);
void llm_session_free(llm_session *s);
int llm_session_n_ctx(const llm_session *s);
/* Tokens in the KV cache. */
int llm_session_n_past(const llm_session *s);
/* Forget cached positions from n_keep on (0 clears the session). */
void llm_session_truncate(llm_session *s, int n_keep);

/* Run n tokens at positions n_past .. n_past+n-1 and append them to the cache. With
 * all_logits (the session must have been opened with all_logits), the logits of every one of
 * the n positions are kept (n must then be at most n_batch); otherwise only the last. BASE_EFULL when the context has no room (nothing is
 * changed then); BASE_EINVAL for a token id outside the vocabulary. */
int llm_decode(llm_session *s, const int32_t *tokens, int n, bool all_logits, err_buf *eb);
/* Continuous batching: one forward pass over tokens of several sessions (each session's
 * items take its next positions, in order), so the weights are read once for all of them.
 * All sessions must share the model, n_ctx and pool; items[0]'s session lends its scratch and
 * its n_batch bounds n. An item with logits set must be its session's last in the batch;
 * afterwards llm_logits(s, -1) of that session returns them. Nothing changes on error. */
typedef struct llm_batch_item {
    llm_session *s;
    int32_t token;
    bool logits;
} llm_batch_item;

int llm_decode_batch(const llm_batch_item *items, int n, err_buf *eb);

/* Logits (n_vocab floats) of position i of the last llm_decode (-1: its last token).
 * Valid until the next llm_decode. NULL when that position's logits were not kept. */
const float *llm_logits(const llm_session *s, int i);

/* ---- encoders (bert): embeddings and reranking ----
 *
 *   const int32_t *in[2] = {ids0, ids1}; int lens[2] = {n0, n1};
 *   float out[2 * n_embd];
 *   llm_embed(m, pool, in, lens, 2, LLM_POOL_DEFAULT, true, out, &eb);
 *
 * Each input is a complete token sequence ([CLS] ... [SEP] for BERT) at positions 0..len-1;
 * several inputs run in one forward pass and each attends only to its own tokens. The model
 * is only read: any number of threads may call these at once, each with its own pool (or
 * NULL); a pool runs one call at a time. Scratch is allocated per call. */

typedef enum llm_pooling {
    LLM_POOL_DEFAULT = -1, /* what the file says (bert.pooling_type); mean when it says none */
    LLM_POOL_NONE = 0,     /* numbering is llama.cpp's pooling_type */
    LLM_POOL_MEAN = 1,     /* average over all tokens, [CLS] and [SEP] included */
    LLM_POOL_CLS = 2,      /* the first token */
    LLM_POOL_LAST = 3,     /* the last token */
    LLM_POOL_RANK = 4,     /* the first token through the classification head (llm_rank) */
} llm_pooling;

bool llm_model_is_encoder(const llm_model *m);
/* The file's pooling (LLM_POOL_NONE when it names none). */
int llm_model_pooling(const llm_model *m);
/* Rows of the token-type table (0: none; 1: every token is type 0, as in XLM-RoBERTa). */
int llm_model_n_token_types(const llm_model *m);
/* Outputs of the classification head (0: the model has none, llm_rank cannot be used). */
int llm_model_n_cls_out(const llm_model *m);

/* Pooled sentence embeddings: out receives n_inputs rows of n_embd floats, L2-normalized when
 * normalize. pooling is MEAN, CLS, LAST or DEFAULT (the file's pooling_type; mean when it
 * names none). For a decoder the rows are its final hidden states (after the output norm,
 * before the lm head), each input causal over its own tokens from position 0; scratch and KV
 * memory are allocated per call. BASE_EINVAL for an empty input, an input longer than the
 * context (n_ctx_train) or a token outside the vocabulary; nothing is written then. */
int llm_embed(const llm_model *m, tpool *pool, const int32_t *const *inputs, const int *lens,
              int n_inputs, int pooling, bool normalize, float *out, err_buf *eb);
/* The last layer's per-token outputs (a decoder's after its output norm), before pooling, not
 * normalized: out receives sum(lens) rows of n_embd floats, input after input. */
int llm_embed_tokens(const llm_model *m, tpool *pool, const int32_t *const *inputs,
                     const int *lens, int n_inputs, float *out, err_buf *eb);
/* Cross-encoder scores: the first token's output through the rank head (cls: dense + tanh,
 * then cls.output), raw (no sigmoid). out receives n_inputs rows of llm_model_n_cls_out
 * floats. types (NULL: all 0) gives each input's token types (BERT: 0 for [CLS] query [SEP],
 * 1 for doc [SEP]); types beyond the model's token_types table are an error. */
int llm_rank(const llm_model *m, tpool *pool, const int32_t *const *inputs,
             const int32_t *const *types, const int *lens, int n_inputs, float *out,
             err_buf *eb);

#endif
