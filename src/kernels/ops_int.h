/*
 * Element-wise ops internals: the reference (ops_ref.c, the definition of each op) and the
 * AVX2 versions (ops_avx2.c) that the public kern_* functions in ops.c dispatch to.
 * Not for use outside src/kernels/.
 */
#ifndef OPS_INT_H
#define OPS_INT_H

#include "kernels.h"

#define KERN_OPS_DECL(sfx)                                                                  \
    void kern_rmsnorm_##sfx(float *y, const float *x, const float *w, int64_t n, float eps); \
    void kern_layernorm_##sfx(float *y, const float *x, const float *w, const float *b,     \
                              int64_t n, float eps);                                        \
    void kern_softmax_##sfx(float *x, int64_t n);                                           \
    void kern_silu_##sfx(float *y, const float *x, int64_t n);                              \
    void kern_gelu_##sfx(float *y, const float *x, int64_t n);                              \
    void kern_swiglu_##sfx(float *y, const float *gate, const float *up, int64_t n);        \
    void kern_geglu_##sfx(float *y, const float *gate, const float *up, int64_t n);         \
    void kern_add_##sfx(float *y, const float *a, const float *b, int64_t n);               \
    void kern_mul_##sfx(float *y, const float *a, const float *b, int64_t n);               \
    void kern_scale_##sfx(float *y, const float *x, float s, int64_t n);                    \
    void kern_axpy_##sfx(float *y, float a, const float *x, int64_t n);                     \
    void kern_axpy_f16_##sfx(float *y, float a, const uint16_t *x, int64_t n);              \
    float kern_dot_f32_##sfx(const float *a, const float *b, int64_t n);                    \
    float kern_dot_f16_f32_##sfx(const uint16_t *a, const float *b, int64_t n);             \
    void kern_softcap_##sfx(float *x, float cap, int64_t n);

KERN_OPS_DECL(ref)
KERN_OPS_DECL(avx2)

/* attn.c (reference) and attn_avx2.c */
#define KERN_ATTN_DECL(sfx)                                                                     \
    void kern_attn_scores_f16_##sfx(const float *q, size_t q_stride, int nq, const uint16_t *K, \
                                    size_t k_stride, int64_t cnt, int64_t hd, float *S,        \
                                    size_t s_stride);                                          \
    void kern_attn_values_f16_##sfx(const float *S, size_t s_stride, int nq, const uint16_t *V, \
                                    size_t v_stride, int64_t cnt, int64_t hd, float *O,        \
                                    size_t o_stride);
KERN_ATTN_DECL(ref)
KERN_ATTN_DECL(avx2)

/* GELU's tanh approximation constants (llama.cpp's GELU_COEF_A and SQRT_2_OVER_PI). */
#define KERN_GELU_COEF_A 0.044715f
#define KERN_SQRT_2_OVER_PI 0.79788456080286535587989211986876f

#endif
