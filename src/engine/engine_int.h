/* Internals shared by the engine's files: the model's tensors per layer and the session. */
#ifndef ENGINE_INT_H
#define ENGINE_INT_H

#include "engine.h"
#include "kernels/kernels.h"

/* Query heads that attention handles together per task (one KV head's, up to this many). */
#define LLM_ATT_MAXQ 8

typedef enum llm_arch {
    LLM_ARCH_LLAMA,
    LLM_ARCH_QWEN2,
    LLM_ARCH_QWEN3,
    LLM_ARCH_GEMMA,
    LLM_ARCH_GEMMA2,
    LLM_ARCH_GEMMA3,
    LLM_ARCH_PHI3,
    LLM_ARCH_BERT, /* encoders: encoder_arch.c, encoder.c */
    LLM_ARCH_NOMIC_BERT,
    LLM_ARCH_JINA_BERT_V2,
} llm_arch;

typedef enum llm_act { LLM_ACT_SILU, LLM_ACT_GELU } llm_act;

typedef struct llm_layer {
    const gguf_tensor *attn_norm;
    const gguf_tensor *wq, *wk, *wv, *wqkv, *wo; /* wqkv: phi3's fused projection */
    const gguf_tensor *bq, *bk, *bv;             /* qwen2 biases */
    const gguf_tensor *q_norm, *k_norm;          /* qwen3, gemma3: per-head RMS norm */
    const gguf_tensor *post_attn_norm;           /* gemma2, gemma3 */
    const gguf_tensor *ffn_norm;
    const gguf_tensor *w_gate, *w_up, *w_down;   /* phi3: w_up holds gate|up, no w_gate */
    const gguf_tensor *post_ffw_norm;            /* gemma2, gemma3 */
    bool sliding;                                /* sliding-window attention on this layer */
    float rope_base;
} llm_layer;

struct llm_model {
    gguf *g;
    llm_arch arch;
    llm_hparams hp;
    llm_act act;
    float embd_scale; /* 1, or sqrt(n_embd) for the gemma family */
    const gguf_tensor *tok_embd, *output_norm, *output, *rope_freqs;
    llm_layer *layers;
    struct llm_encoder *enc; /* encoder architectures only (encoder_arch.c) */
    int dec_pooling;         /* decoders: <arch>.pooling_type (LLM_POOL_NONE when absent) */
    /* repack.c: weights repacked for the kernels; the layer pointers above point here. */
    gguf_tensor *packed;
    int n_packed;
    void *packed_mem;
    size_t packed_len;
    bool packed_mapped;                  /* packed_mem maps a cache file (repack_cache.c) */
    struct llm_repack_cache *cache_writer; /* writing packed_mem to the cache, or NULL */
    char desc[256];
};

/* One row of a forward pass: the session whose cache it extends and its position there. */
typedef struct llm_row {
    llm_session *s;
    int pos;
} llm_row;

struct llm_session {
    const llm_model *m;
    tpool *pool;
    int n_ctx, n_batch, n_past;
    bool kv_f32;
    /* KV cache, per layer: n_ctx rows of n_head_kv*head_dim, F16 or F32. */
    void **k_cache, **v_cache;
    /* Scratch for one batch of up to n_batch tokens (rows). */
    float *x, *h, *q, *k, *v, *o, *a, *g, *u, *qkv;
    float *scores;   /* per thread: LLM_ATT_MAXQ rows of n_ctx floats (attention.c) */
    llm_row *rows;   /* n_batch rows of the current forward pass */
    int *out_idx;    /* n_batch: rows whose logits are wanted */
    int32_t *batch_tokens; /* n_batch: tokens of a llm_decode_batch */
    int pending;     /* rows of this session in the batch being built */
    float *logits;   /* n_batch (all_logits) rows of n_vocab */
    void *mm_scratch;
    int n_logits;    /* rows of logits valid from the last decode */
    bool logits_all; /* opened with room for a whole batch of logits */
    int logits_rows; /* rows the logits buffer holds */
};

/* arch.c: read hyper-parameters and bind tensors for m->g; fills m. */
int llm_arch_load(llm_model *m, err_buf *eb);

/* attention.c: causal attention on layer il for n rows (their K/V already stored in their
 * sessions' caches). q holds the roped queries (n rows of n_head*head_dim), o receives n rows
 * of n_head*head_dim. scratch is the session whose score buffers are used. */
void llm_attention(llm_session *scratch, const llm_row *rows, int il, int n, const float *q, float *o);

/* decoder_embed.c: pooled (per_token false) or per-token (true) final hidden states of a
 * decoder, the output norm applied (what the lm head reads). Same contract as llm_embed /
 * llm_embed_tokens. */
int llm_dec_embed(const llm_model *m, tpool *pool, const int32_t *const *inputs,
                  const int *lens, int n_inputs, int pooling, bool normalize, bool per_token,
                  float *out, err_buf *eb);
/* repack.c: repack the decoder's matrix weights where the kernels have a packed form
 * (kern_repack_type); an allocation failure leaves them as they are. */
int llm_repack_weights(llm_model *m, err_buf *eb);
void llm_repack_free(llm_model *m);
/* repack_cache.c: the packed weights in a cache file per model (LOCALAI_REPACK_CACHE).
 * _map: the cache's copy for g and plan (a hash of what is packed where) of len bytes, mapped
 * read-only, or NULL (caching off, no entry, or a stale one); path receives the entry's name.
 * _save: write mem[0, len) as that entry from a background thread (NULL: not cached).
 * _finish: wait for the writer (cancel: stop it, leaving no entry) and free it. */
typedef struct llm_repack_cache llm_repack_cache;
/* FNV-1a over n bytes, continuing from h (start with LLM_FNV_SEED): the plan's hash and the
 * cache entry's name. */
#define LLM_FNV_SEED 0xcbf29ce484222325ull
static inline uint64_t llm_fnv1a(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
void *llm_repack_cache_map(const gguf *g, uint64_t plan, size_t len, char *path, size_t cap);
llm_repack_cache *llm_repack_cache_save(const gguf *g, uint64_t plan, const void *mem, size_t len);
void llm_repack_cache_finish(llm_repack_cache *w, bool cancel);
/* forward.c: run rows s->rows[0..n) (tokens[t] at s->rows[t]) through every layer, without
 * logits; s->x then holds the last layer's residual stream of each row. */
void llm_forward_rows(llm_session *s, const int32_t *tokens, int n);

/* ---- encoders (BERT): encoder_arch.c binds, encoder.c runs ---- */

typedef struct llm_enc_layer {
    const gguf_tensor *wq, *bq, *wk, *bk, *wv, *bv; /* [E, E] and [E] */
    const gguf_tensor *wqkv, *bqkv;                 /* nomic-bert: fused [E, 3E] */
    const gguf_tensor *w_gate;                      /* nomic-bert: SwiGLU gate, jina-bert-v2:
                                                       GEGLU gate [E, F] */
    const gguf_tensor *q_norm, *q_norm_b, *k_norm, *k_norm_b; /* jina-bert-v2: LayerNorm of q, k */
    const gguf_tensor *wo, *bo;
    const gguf_tensor *attn_norm, *attn_norm_b;     /* attn_output_norm: after the residual */
    const gguf_tensor *w_up, *b_up, *w_down, *b_down;
    const gguf_tensor *out_norm, *out_norm_b;       /* layer_output_norm */
} llm_enc_layer;

typedef struct llm_encoder {
    int pooling;  /* the file's llm_pooling (LLM_POOL_NONE when it has none) */
    bool causal;  /* bert.attention.causal; false for every real BERT */
    bool rope;    /* nomic-bert: NeoX RoPE on q, k instead of position embeddings */
    bool alibi;   /* jina-bert-v2: ALiBi biases on the scores instead of position embeddings */
    float max_alibi_bias;
    float rope_base;
    int n_types;  /* rows of token_types (0: none) */
    int n_cls_out;
    const gguf_tensor *tok_embd, *pos_embd, *type_embd; /* rows looked up, any type */
    const gguf_tensor *embd_norm, *embd_norm_b;
    const gguf_tensor *cls, *cls_b, *cls_out, *cls_out_b; /* rank head, optional */
    llm_enc_layer *layers;
} llm_encoder;

/* encoder.c: the ALiBi slope of each of n_head heads for max_bias, as llama.cpp computes them. */
void llm_alibi_slopes(int n_head, float max_bias, float *out);

/* Whether arch names an encoder architecture we run. */
bool llm_enc_is_arch(const char *arch);
/* Read an encoder's hyper-parameters and bind its tensors into m->enc (freed by llm_enc_free). */
int llm_enc_load(llm_model *m, err_buf *eb);
void llm_enc_free(llm_model *m);

#endif
