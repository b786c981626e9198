/*
 * Attention's two products over an F16 cache for a group of query heads that share a KV head
 * (kernels.h). The reference is the per-head dot product and axpy the engine used before;
 * attn_avx2.c reads each cache row once for the whole group. ops.c dispatches.
 */
#include "ops_int.h"

#include <string.h>

void kern_attn_scores_f16_ref(const float *q, size_t q_stride, int nq, const uint16_t *K,
                              size_t k_stride, int64_t cnt, int64_t hd, float *S,
                              size_t s_stride) {
    for (int h = 0; h < nq; h++)
        for (int64_t p = 0; p < cnt; p++)
            S[h * s_stride + (size_t)p] = kern_dot_f16_f32_ref(K + (size_t)p * k_stride, q + h * q_stride, hd);
}

void kern_attn_values_f16_ref(const float *S, size_t s_stride, int nq, const uint16_t *V,
                              size_t v_stride, int64_t cnt, int64_t hd, float *O,
                              size_t o_stride) {
    for (int h = 0; h < nq; h++) {
        float *o = O + h * o_stride;
        memset(o, 0, (size_t)hd * sizeof *o);
        for (int64_t p = 0; p < cnt; p++)
            kern_axpy_f16_ref(o, S[h * s_stride + (size_t)p], V + (size_t)p * v_stride, hd);
    }
}
