/*
 * The public element-wise ops: each picks the AVX2 version or the reference from the ISA that
 * kern_init chose (one predictable branch per call; these ops run on whole rows).
 */
#include "ops_int.h"

#if defined(__x86_64__)
#define USE_AVX2() (kern_active_isa() >= KERN_ISA_AVX2)
#else
#define USE_AVX2() false
#define kern_rmsnorm_avx2 kern_rmsnorm_ref
#define kern_layernorm_avx2 kern_layernorm_ref
#define kern_softmax_avx2 kern_softmax_ref
#define kern_silu_avx2 kern_silu_ref
#define kern_gelu_avx2 kern_gelu_ref
#define kern_swiglu_avx2 kern_swiglu_ref
#define kern_geglu_avx2 kern_geglu_ref
#define kern_add_avx2 kern_add_ref
#define kern_mul_avx2 kern_mul_ref
#define kern_scale_avx2 kern_scale_ref
#define kern_axpy_avx2 kern_axpy_ref
#define kern_axpy_f16_avx2 kern_axpy_f16_ref
#define kern_dot_f32_avx2 kern_dot_f32_ref
#define kern_dot_f16_f32_avx2 kern_dot_f16_f32_ref
#define kern_softcap_avx2 kern_softcap_ref
#define kern_attn_scores_f16_avx2 kern_attn_scores_f16_ref
#define kern_attn_values_f16_avx2 kern_attn_values_f16_ref
#endif

#define PICK(name, ...) (USE_AVX2() ? name##_avx2(__VA_ARGS__) : name##_ref(__VA_ARGS__))

void kern_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps) {
    PICK(kern_rmsnorm, y, x, w, n, eps);
}
void kern_layernorm(float *y, const float *x, const float *w, const float *b, int64_t n,
                    float eps) {
    PICK(kern_layernorm, y, x, w, b, n, eps);
}
void kern_softmax(float *x, int64_t n) { PICK(kern_softmax, x, n); }
void kern_silu(float *y, const float *x, int64_t n) { PICK(kern_silu, y, x, n); }
void kern_gelu(float *y, const float *x, int64_t n) { PICK(kern_gelu, y, x, n); }
void kern_swiglu(float *y, const float *gate, const float *up, int64_t n) {
    PICK(kern_swiglu, y, gate, up, n);
}
void kern_geglu(float *y, const float *gate, const float *up, int64_t n) {
    PICK(kern_geglu, y, gate, up, n);
}
void kern_add(float *y, const float *a, const float *b, int64_t n) { PICK(kern_add, y, a, b, n); }
void kern_mul(float *y, const float *a, const float *b, int64_t n) { PICK(kern_mul, y, a, b, n); }
void kern_scale(float *y, const float *x, float s, int64_t n) { PICK(kern_scale, y, x, s, n); }
void kern_axpy(float *y, float a, const float *x, int64_t n) { PICK(kern_axpy, y, a, x, n); }
void kern_axpy_f16(float *y, float a, const uint16_t *x, int64_t n) {
    PICK(kern_axpy_f16, y, a, x, n);
}
float kern_dot_f32(const float *a, const float *b, int64_t n) { return PICK(kern_dot_f32, a, b, n); }
float kern_dot_f16_f32(const uint16_t *a, const float *b, int64_t n) {
    return PICK(kern_dot_f16_f32, a, b, n);
}
void kern_softcap(float *x, float cap, int64_t n) { PICK(kern_softcap, x, cap, n); }
void kern_attn_scores_f16(const float *q, size_t q_stride, int nq, const uint16_t *K,
                          size_t k_stride, int64_t cnt, int64_t hd, float *S, size_t s_stride) {
    PICK(kern_attn_scores_f16, q, q_stride, nq, K, k_stride, cnt, hd, S, s_stride);
}
void kern_attn_values_f16(const float *S, size_t s_stride, int nq, const uint16_t *V,
                          size_t v_stride, int64_t cnt, int64_t hd, float *O, size_t o_stride) {
    PICK(kern_attn_values_f16, S, s_stride, nq, V, v_stride, cnt, hd, O, o_stride);
}
