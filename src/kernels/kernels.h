/*
 * kernels: the numeric core. One table of tensor types (block size, bytes, to-float,
 * quantize, dot product), matrix products split across a thread pool, and the element-wise
 * ops the models need.
 *
 * Every op and type has a plain-C reference (*_ref, in *_ref.c files) that defines it; SIMD
 * versions live in per-ISA files (*_avx2.c, *_avx512.c) and are picked once at start-up by
 * kern_init from the CPU's features. LOCALAI_KERNELS=ref (or kern_init(KERN_ISA_REF)) forces
 * the reference. Batches of tokens use register-blocked GEMM kernels where the ISA has one for
 * the weight type (results equal vec_dot's to float rounding); LOCALAI_GEMM=off turns them off,
 * for A/B timing.
 *
 *   kern_init(KERN_ISA_AUTO);
 *   const kern_traits *tt = kern_traits_of(GGUF_TYPE_Q4_K);       // NULL: unsupported type
 *   size_t sc = kern_matmul_scratch_size(GGUF_TYPE_Q4_K, n_in, n_tok);
 *   kern_matmul(pool, GGUF_TYPE_Q4_K, W, n_in, n_out, X, n_tok, Y, scratch);
 *
 * Layouts are ggml's, bit for bit: a GGUF file's quantized tensors are used in place.
 */
#ifndef KERNELS_H
#define KERNELS_H

#include "base/base.h"
#include "gguf/gguf.h"

/* ---- dispatch ---- */

typedef enum kern_isa {
    KERN_ISA_AUTO = 0, /* the best the CPU supports (or LOCALAI_KERNELS=ref|avx2|avx512) */
    KERN_ISA_REF,
    KERN_ISA_AVX2,     /* AVX2 + FMA + F16C */
    KERN_ISA_AVX512,   /* AVX-512 F/BW/DQ/VL (+VNNI where present) */
} kern_isa;

/* Choose implementations; returns the ISA in use. Asking for an ISA the CPU lacks falls back
 * to the best it has. Safe to call again (tests switch between ref and SIMD). Not thread-safe:
 * call it before starting compute. kern_traits_of calls it with KERN_ISA_AUTO if nobody has.
 * Before using AVX-512 it checks those kernels against the reference on fixed data and stays
 * on AVX2 (with a warning) if one disagrees. */
kern_isa kern_init(kern_isa want);
kern_isa kern_active_isa(void);
const char *kern_isa_name(kern_isa isa);
bool kern_cpu_supports(kern_isa isa);

/* ---- the type table ---- */

/* x: n elements' worth of blocks of the type; y: n floats. n is a multiple of block_size. */
typedef void (*kern_to_float_fn)(const void *x, float *y, int64_t n);
typedef void (*kern_from_float_fn)(const float *x, void *y, int64_t n);
/* *s = dot(x, y) over n elements: x a row of this type, y a row of vec_dot_type. */
typedef void (*kern_vec_dot_fn)(int64_t n, float *s, const void *x, const void *y);
/* One weight row x against nrc activation rows: s[r * bs] = dot(x, y + r * by) for r < nrc
 * (bs in floats, by in bytes; each y row is n elements of vec_dot_type). Gives the same
 * floats, bit for bit, as nrc calls of vec_dot, so results do not depend on how a batch is
 * grouped; faster where a type has a multi-row kernel because the weight row is unpacked once
 * for all rows (prompt batches: pass 4-8 token rows per weight row). Call it through
 * kern_vec_dot_multi, which loops over vec_dot where the table has no multi-row kernel. */
typedef void (*kern_vec_dot_multi_fn)(int64_t n, float *s, size_t bs, const void *x,
                                      const void *y, size_t by, int nrc);

typedef struct kern_traits {
    int type;            /* gguf_type */
    const char *name;
    int block_size;      /* elements per block */
    size_t type_size;    /* bytes per block */
    kern_to_float_fn to_float;
    kern_from_float_fn from_float; /* quantizer; NULL where we have none */
    int vec_dot_type;    /* what activations are converted to for vec_dot (Q8_0, Q8_K, F32...) */
    kern_vec_dot_fn vec_dot;
    kern_vec_dot_multi_fn vec_dot_multi; /* NULL where there is no multi-row kernel */
} kern_traits;

/* The active table's entry, or NULL when this type cannot be computed with. */
const kern_traits *kern_traits_of(int type);
/* The reference entry, whatever ISA is active (tests compare against it). */
const kern_traits *kern_traits_ref(int type);
/* t->vec_dot_multi, or nrc calls of t->vec_dot where it is NULL (same results either way). */
void kern_vec_dot_multi(const kern_traits *t, int64_t n, float *s, size_t bs, const void *x,
                        const void *y, size_t by, int nrc);
/* 0, or BASE_EUNSUPPORTED with "tensor type IQ2_XXS (16) is not supported" in eb. */
int kern_check_type(int type, err_buf *eb);

/* ---- scalar conversions ---- */

float kern_f16_to_f32(uint16_t h);
uint16_t kern_f32_to_f16(float f);   /* round to nearest even */
float kern_bf16_to_f32(uint16_t h);
uint16_t kern_f32_to_bf16(float f);  /* round to nearest even, NaN kept quiet */
void kern_f16_to_f32_row(const uint16_t *x, float *y, int64_t n);
void kern_f32_to_f16_row(const float *x, uint16_t *y, int64_t n);

/* ---- matrix products ---- */

/* Y = X W^T. W: n_out rows of n_in elements of wtype (a GGUF matrix [ne0 = n_in, ne1 = n_out],
 * rows contiguous). X: n_tok rows of n_in floats. Y: n_tok rows of n_out floats.
 * Y[t*n_out + o] = sum_i W[o][i] * X[t*n_in + i].
 * scratch holds X converted to the type's vec_dot_type: kern_matmul_scratch_size bytes, owned
 * by the caller (no allocation here). pool may be NULL (single thread). */
size_t kern_matmul_scratch_size(int wtype, int64_t n_in, int64_t n_tok);
int kern_matmul(tpool *pool, int wtype, const void *W, int64_t n_in, int64_t n_out,
                const float *X, int64_t n_tok, float *Y, void *scratch);
/* Several products of the same X: Y_i = X W_i^T for each item (q, k and v of an attention
 * block; gate and up of an FFN). Where packed matrices convert the tokens alike, X is
 * converted once and one run of the pool covers their products, so that the threads' work
 * evens out over all of them; any other item goes through kern_matmul. scratch: the largest
 * kern_matmul_scratch_size of the items. The results are those of kern_matmul, bit for bit. */
#define KERN_MM_MAX 4
typedef struct kern_mm_item {
    int wtype;
    const void *W; /* n_out rows of n_in elements */
    int64_t n_out;
    float *Y; /* n_tok rows of n_out */
} kern_mm_item;
int kern_matmul_multi(tpool *pool, const kern_mm_item *items, int n_items, int64_t n_in,
                      const float *X, int64_t n_tok, void *scratch);

/* ---- repacked weights ----
 * Where the ISA has kernels for it (Q4_0, Q5_0, Q8_0, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS on
 * AVX2), a matrix can be repacked once at load with its rows interleaved by 8: block i of 8
 * consecutive rows side by side, their 8 scales together. The kernels then read 8 rows' scales
 * with one load and keep one row per SIMD lane, with no horizontal sums and no per-row scale
 * arithmetic. The packed matrix takes the same bytes, has its own type id and goes to
 * kern_matmul / kern_matmul_scratch_size like any other (on any ISA: kern_init(KERN_ISA_REF)
 * afterwards runs a plain-C version).
 * LOCALAI_REPACK=off turns repacking off (kern_repack_type says -1); LOCALAI_REPACK=q4_k,q6_k
 * (type names, comma-separated) repacks only those types. */
/* Bumped whenever a packed layout changes: copies kept on disk (the engine's repack cache)
 * from another version are not used. */
#define KERN_R8_LAYOUT_VERSION 1
enum {
    KERN_TYPE_Q4_0_R8 = 100,
    KERN_TYPE_Q8_0_R8,
    KERN_TYPE_Q5_0_R8,
    KERN_TYPE_Q4_K_R8,
    KERN_TYPE_Q6_K_R8,
    KERN_TYPE_Q5_K_R8,
    KERN_TYPE_IQ4_XS_R8,
    KERN_TYPE_Q3_K_R8,
    KERN_TYPE_Q4_1_R8,
    KERN_TYPE_Q5_1_R8,
    KERN_TYPE_IQ4_NL_R8,
    KERN_TYPE_Q2_K_R8,
};
/* True for the packed type ids above. */
static inline bool kern_is_repacked(int type) {
    return type >= KERN_TYPE_Q4_0_R8 && type <= KERN_TYPE_Q2_K_R8;
}
/* The packed type for a matrix of n_out rows of n_in wtype elements on the active ISA, or -1
 * (no kernel, fewer than 8 rows, or repacking off). Rows past the last multiple of 8 stay as
 * they are, after the packed ones. */
int kern_repack_type(int wtype, int64_t n_in, int64_t n_out);
/* W repacked into dst (the same byte count as W; they must not overlap). Rows [r0, r1) only,
 * r0 a multiple of 8 and r1 a multiple of 8 or n_out, so that threads can share the work. */
int kern_repack(int wtype, const void *W, int64_t n_in, int64_t n_out, void *dst, int64_t r0,
                int64_t r1);
/* Row `row` of a matrix (n_out rows of n_in elements of type, packed or not) as floats: what an
 * embedding lookup reads. */
int kern_get_row(int type, const void *W, int64_t n_in, int64_t n_out, int64_t row, float *out);

/* ---- element-wise ops (f32) ---- */

/* y = x / sqrt(mean(x^2) + eps) * w; w NULL means no scale. y may alias x. */
void kern_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps);
/* y = (x - mean) / sqrt(var + eps) * w + b; w, b may be NULL. */
void kern_layernorm(float *y, const float *x, const float *w, const float *b, int64_t n, float eps);
/* In place, numerically stable. */
void kern_softmax(float *x, int64_t n);
void kern_silu(float *y, const float *x, int64_t n);
/* GELU as llama.cpp computes it (tanh approximation). */
void kern_gelu(float *y, const float *x, int64_t n);
/* y = silu(gate) * up and y = gelu(gate) * up. */
void kern_swiglu(float *y, const float *gate, const float *up, int64_t n);
void kern_geglu(float *y, const float *gate, const float *up, int64_t n);
void kern_add(float *y, const float *a, const float *b, int64_t n);
void kern_mul(float *y, const float *a, const float *b, int64_t n);
void kern_scale(float *y, const float *x, float s, int64_t n);
/* y += a * x */
void kern_axpy(float *y, float a, const float *x, int64_t n);
void kern_axpy_f16(float *y, float a, const uint16_t *x, int64_t n);
float kern_dot_f32(const float *a, const float *b, int64_t n);
float kern_dot_f16_f32(const uint16_t *a, const float *b, int64_t n);
/* x = cap * tanh(x / cap) */
void kern_softcap(float *x, float cap, int64_t n);

/* Attention over an F16 cache, for nq query heads that share one KV head (grouped-query
 * attention): each cache row is read and converted once for all nq heads.
 * Scores: S[h * s_stride + p] = q_h . K_p, q_h = q + h * q_stride, K_p = K + p * k_stride,
 * for h < nq and p < cnt; hd elements each.
 * Values: O[h * o_stride + i] = sum over p < cnt of S[h * s_stride + p] * V_p[i], i < hd. */
void kern_attn_scores_f16(const float *q, size_t q_stride, int nq, const uint16_t *K,
                          size_t k_stride, int64_t cnt, int64_t hd, float *S, size_t s_stride);
void kern_attn_values_f16(const float *S, size_t s_stride, int nq, const uint16_t *V,
                          size_t v_stride, int64_t cnt, int64_t hd, float *O, size_t o_stride);

/* Rotary position embedding, in place, on n_heads consecutive heads of head_dim floats. */
typedef struct kern_rope_params {
    int n_rot;                 /* rotated dimensions per head (<= head_dim, even) */
    bool neox;                 /* NeoX style: pairs (i, i + n_rot/2) instead of (2i, 2i+1) */
    float freq_base;           /* theta base, e.g. 10000 */
    float freq_scale;          /* 1 / linear scaling factor */
    const float *freq_factors; /* n_rot/2 divisors of the frequencies (Llama 3), or NULL */
    /* YaRN; ext_factor 0 disables it (llama.cpp's semantics). */
    float ext_factor, attn_factor, beta_fast, beta_slow;
    int n_ctx_orig;
} kern_rope_params;

kern_rope_params kern_rope_default_params(void);
void kern_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t pos,
               const kern_rope_params *p);

#endif
