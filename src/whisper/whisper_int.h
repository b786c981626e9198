/* whisper internals shared by the module's files: the loaded model and the per-call state. */
#ifndef LOCALAI_WHISPER_INT_H
#define LOCALAI_WHISPER_INT_H

#include "kernels/kernels.h"
#include "whisper.h"

#define WH_LN_EPS 1e-5f

/* A weight matrix: n_out rows of n_in elements of type (rows contiguous, 32-byte aligned). */
typedef struct wh_mat {
    int type;
    int64_t n_in, n_out;
    const void *data;
} wh_mat;

/* One transformer block; cross_* only in the decoder. Vectors are F32 of n_state (mlp0_b: 4x). */
typedef struct wh_layer {
    const float *attn_ln_w, *attn_ln_b;
    wh_mat q, k, v, o;
    const float *q_b, *v_b, *o_b;
    const float *cross_ln_w, *cross_ln_b;
    wh_mat cq, ck, cv, co;
    const float *cq_b, *cv_b, *co_b;
    const float *mlp_ln_w, *mlp_ln_b;
    wh_mat mlp0, mlp2;
    const float *mlp0_b, *mlp2_b;
} wh_layer;

struct whisper_model {
    whisper_hparams hp;
    whisper_tokens tok;
    int n_fft_bins; /* 201 */
    float *filters; /* (n_mels, n_fft_bins) */
    /* Vocabulary: the bytes of token i are words + word_off[i], word_len[i] long. */
    int n_words;
    char *words;
    uint32_t *word_off, *word_len;

    const float *enc_pos; /* (n_audio_ctx, n_audio_state) */
    wh_mat conv1, conv2;  /* (D, 3 * n_mels), (D, 3 * D): rows ordered (in channel, tap) */
    const float *conv1_b, *conv2_b;
    wh_layer *enc; /* n_audio_layer */
    const float *ln_post_w, *ln_post_b;

    const float *dec_pos; /* (n_text_ctx, n_text_state) */
    wh_mat tok_emb;       /* (n_vocab, n_text_state): lookup and the tied output */
    wh_layer *dec;        /* n_text_layer */
    const float *ln_w, *ln_b;

    void *blob;             /* every tensor's data, one aligned allocation */
    const whisper_vad *vad; /* borrowed */
};

/* Per-call state: scratch, thread pool, encoder output and KV caches. */
struct whisper_state {
    const whisper_model *m;
    tpool *pool;
    int n_threads, n_seq;
    int n_ctx;      /* audio positions (n_audio_ctx) */
    float *enc_out; /* (n_ctx, D) */
    /* Cross-attention keys per layer and head: (n_head, n_ctx, hd) F16, values transposed
     * (n_head, hd, n_ctx) F16 so both products run as matmuls. */
    uint16_t *cross_k, *cross_v;
    /* Self-attention caches per sequence and layer: (n_text_ctx, D) F16 each. */
    uint16_t *kv_k, *kv_v;
    /* Scratch, sized at creation. */
    float *x, *h, *q, *k, *v, *o, *u, *att;
    float *scores; /* per-head score rows */
    float *kt;     /* one head's K packed for wh_qk, encoder self-attention */
    float *col;    /* conv im2col */
    void *mm_scratch;
    size_t mm_scratch_size;
};

/* Matrix product with bias on the state's pool: Y (n, W.n_out) = X (n, W.n_in) W^T + b. */
void wh_matmul(whisper_state *s, const wh_mat *W, const float *b, const float *X, int n, float *Y);
/* Layer norm of n rows of len floats, in place. */
void wh_layernorm_rows(float *x, int n, int len, const float *w, const float *b);

int wh_encode_cross(whisper_state *s);

/* Attention scores S (n_q, n_k) = Q (n_q rows, stride ldq) K^T, with K packed by wh_pack_kt
 * into blocks of WH_KB keys: (ceil(n_k / WH_KB), hd, WH_KB), zero-padded. attn.c; the rows
 * functions compute rows [q0, q1). */
#define WH_KB 16
void wh_pack_kt(float *Kt, const float *K, int ldk, int n_k, int hd);
void wh_qk(tpool *pool, const float *Q, int ldq, int n_q, const float *Kt, int n_k, int hd,
           float *S);
void wh_qk_rows_ref(const float *Q, int ldq, const float *Kt, int n_k, int hd, float *S, int lds,
                    int q0, int q1);
void wh_qk_rows_avx2(const float *Q, int ldq, const float *Kt, int n_k, int hd, float *S, int lds,
                     int q0, int q1);
/* O (n_q rows, stride ldo) = P (n_q, n_k) V (n_k rows of hd, stride ldv); hd a multiple of 16
 * for the AVX2 tiles (others take the reference). */
void wh_pv(tpool *pool, const float *P, int n_q, int n_k, const float *V, int ldv, int hd, float *O,
           int ldo);
void wh_pv_rows_ref(const float *P, int ldp, int n_k, const float *V, int ldv, int hd, float *O,
                    int ldo, int q0, int q1);
void wh_pv_rows_avx2(const float *P, int ldp, int n_k, const float *V, int ldv, int hd, float *O,
                     int ldo, int q0, int q1);

/* whisper_model_load on bytes in memory (tests feed it damaged copies). */
int wh_model_load_mem(whisper_model **out, const void *data, size_t len, err_buf *eb);

/* The mel front end on a given pool (NULL: the caller's thread). */
int wh_mel_pool(const whisper_model *m, const float *pcm, size_t n, tpool *pool, float **mel_out,
                int *n_frames, int *n_frames_audio, err_buf *eb);

/* Tokenize text into the model's vocabulary (greedy longest match after GPT-2 style word
 * splitting, as whisper.cpp does). Returns the count written (at most cap) or negative. */
int wh_tokenize(const whisper_model *m, const char *text, int *out, int cap);

/* ---- decoding (sample.c, full.c) ---- */

/* One sampled token: id, best timestamp tid, its probability and log-probability, and the
 * timestamp probability mass (whisper.cpp's whisper_token_data). */
typedef struct wh_token {
    int id, tid;
    float p, plog, pt, ptsum;
} wh_token;

typedef struct wh_seq {
    wh_token *tok; /* capacity n_text_ctx */
    int n, result_len;
    double sum_logprobs_all, sum_logprobs, avg_logprobs, entropy, score;
} wh_seq;

typedef struct wh_decoder {
    wh_seq seq;
    bool failed, completed, has_ts;
    int seek_delta;
    int kv;                           /* the state's KV sequence */
    float *logits, *logprobs, *probs; /* n_vocab each */
} wh_decoder;

/* whisper_full's parameters (whisper.cpp's defaults in wh_params_default). */
typedef struct wh_params {
    int lang; /* language index, -1: detect */
    bool translate, no_timestamps, single_segment, suppress_blank, no_context;
    float temperature, temperature_inc; /* inc 0: no fallback */
    float entropy_thold, logprob_thold, no_speech_thold, max_initial_ts, length_penalty;
    int beam_size; /* > 1: beam search at temperature 0 */
    int best_of;   /* candidates at temperature > 0 */
    int n_threads;
    const int *prompt_tokens; /* initial prompt */
    int n_prompt_tokens;
    uint64_t seed;
    /* Tests: the best decoder's sampled tokens of the first window (all of them, before
     * trimming) go here. */
    int *sampled, sampled_cap, *n_sampled;
} wh_params;

/* A finished segment; everything is borrowed for the duration of the callback. Times are in
 * centiseconds of the audio passed to wh_full, exactly as whisper.cpp computes them (t0 can be
 * negative in no-timestamps mode: whisper.cpp's quirk). */
typedef struct wh_segment {
    int64_t t0, t1;
    int64_t seek; /* start of the window it came from */
    const wh_token *tok;
    int n_tok;
    const char *text;
    size_t text_len;
    float temperature, no_speech_prob;
} wh_segment;

typedef int (*wh_segment_fn)(const wh_segment *seg, void *ud);

wh_params wh_params_default(void);
int wh_full(const whisper_model *m, const float *pcm, size_t n, const wh_params *p,
            wh_segment_fn fn, void *ud, int *lang_out, err_buf *eb);

/* sample.c */
void wh_process_logits(const whisper_model *m, wh_decoder *d, const wh_params *p, float temp,
                       const float *raw);
wh_token wh_sample(const whisper_model *m, const wh_decoder *d, uint64_t *rng /* NULL: best */);
int wh_sample_topk(const whisper_model *m, const wh_decoder *d, int k, wh_token *out);
void wh_seq_score(wh_seq *s, float length_penalty);
float wh_no_speech_prob(const whisper_model *m, const float *raw);
#endif
