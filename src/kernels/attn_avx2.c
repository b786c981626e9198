/*
 * AVX2 attention products over an F16 cache (kernels.h): a cache row is loaded and converted
 * once for up to 8 query heads of a group, against once per head before. Scores: one
 * accumulator per (head, position) over the row, summed across lanes at the end; values:
 * the heads' output chunks stay in registers over all positions, added in position order
 * (the same FMAs as kern_axpy_f16's AVX2 loop, so the same results bit for bit). Few heads take more
 * positions (scores) or more chunks (values) per pass, so that enough FMAs are in flight.
 */
#include "avx2_int.h"
#include "ops_int.h"

#define INLINE static inline __attribute__((always_inline))
#define MAXQ 8

INLINE __m256 load_f16x8(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

/* NQ heads x P positions (p0 .. p0 + P - 1) per pass. */
INLINE void scores_pass(const float *q, size_t qs, const uint16_t *K, size_t ks, int64_t p0,
                        int64_t hd, float *S, size_t ss, const int NQ, const int P) {
    __m256 acc[MAXQ * 4];
#pragma GCC unroll 32
    for (int a = 0; a < NQ * P; a++) acc[a] = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd; d += 8) {
#pragma GCC unroll 4
        for (int j = 0; j < P; j++) {
            const __m256 k = load_f16x8(K + (size_t)(p0 + j) * ks + d);
#pragma GCC unroll 8
            for (int h = 0; h < NQ; h++)
                acc[j * NQ + h] = _mm256_fmadd_ps(k, _mm256_loadu_ps(q + h * qs + d), acc[j * NQ + h]);
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < P; j++)
#pragma GCC unroll 8
        for (int h = 0; h < NQ; h++) S[h * ss + (size_t)(p0 + j)] = hsum_f32x8(acc[j * NQ + h]);
}

INLINE void scores_n(const float *q, size_t qs, const uint16_t *K, size_t ks, int64_t cnt,
                     int64_t hd, float *S, size_t ss, const int NQ) {
    const int P = NQ <= 2 ? 4 : NQ <= 4 ? 2 : 1;
    int64_t p = 0;
    for (; p + P <= cnt; p += P) scores_pass(q, qs, K, ks, p, hd, S, ss, NQ, P);
    for (; p < cnt; p++) scores_pass(q, qs, K, ks, p, hd, S, ss, NQ, 1);
}

/* Output elements d .. d + 8 CH - 1 of NQ heads, over every position. */
INLINE void values_pass(const float *S, size_t ss, const uint16_t *V, size_t vs, int64_t cnt,
                        int64_t d, float *O, size_t os, const int NQ, const int CH) {
    __m256 acc[MAXQ * 4];
#pragma GCC unroll 32
    for (int a = 0; a < NQ * CH; a++) acc[a] = _mm256_setzero_ps();
    for (int64_t p = 0; p < cnt; p++) {
        __m256 v[4];
#pragma GCC unroll 4
        for (int c = 0; c < CH; c++) v[c] = load_f16x8(V + (size_t)p * vs + d + 8 * c);
#pragma GCC unroll 8
        for (int h = 0; h < NQ; h++) {
            const __m256 s = _mm256_set1_ps(S[h * ss + (size_t)p]);
#pragma GCC unroll 4
            for (int c = 0; c < CH; c++) acc[h * CH + c] = _mm256_fmadd_ps(s, v[c], acc[h * CH + c]);
        }
    }
#pragma GCC unroll 8
    for (int h = 0; h < NQ; h++)
#pragma GCC unroll 4
        for (int c = 0; c < CH; c++) _mm256_storeu_ps(O + h * os + d + 8 * c, acc[h * CH + c]);
}

INLINE void values_n(const float *S, size_t ss, const uint16_t *V, size_t vs, int64_t cnt,
                     int64_t hd, float *O, size_t os, const int NQ) {
    const int CH = NQ <= 2 ? 4 : NQ <= 4 ? 2 : 1;
    int64_t d = 0;
    for (; d + 8 * CH <= hd; d += 8 * CH) values_pass(S, ss, V, vs, cnt, d, O, os, NQ, CH);
    for (; d < hd; d += 8) values_pass(S, ss, V, vs, cnt, d, O, os, NQ, 1);
}

/* Runs of up to MAXQ heads: in and out (rows in_stride, out_stride apart) advanced to the run,
 * n its head count, call(N) with N a constant. */
#define BY_RUNS(in0, in_stride, out0, out_stride, call)                                           \
    for (int h0 = 0; h0 < nq; h0 += MAXQ) {                                                        \
        const int n = nq - h0 < MAXQ ? nq - h0 : MAXQ;                                             \
        const float *in = (in0) + h0 * (in_stride);                                                \
        float *out = (out0) + h0 * (out_stride);                                                   \
        KERN_CASES_1_8(n, call)                                                                    \
    }

void kern_attn_scores_f16_avx2(const float *q, size_t q_stride, int nq, const uint16_t *K,
                               size_t k_stride, int64_t cnt, int64_t hd, float *S,
                               size_t s_stride) {
    if (hd % 8) { /* per head and row, as before */
        for (int h = 0; h < nq; h++)
            for (int64_t p = 0; p < cnt; p++)
                S[h * s_stride + (size_t)p] = kern_dot_f16_f32_avx2(K + (size_t)p * k_stride, q + h * q_stride, hd);
        return;
    }
#define SCORES(N) scores_n(in, q_stride, K, k_stride, cnt, hd, out, s_stride, N)
    BY_RUNS(q, q_stride, S, s_stride, SCORES)
}

void kern_attn_values_f16_avx2(const float *S, size_t s_stride, int nq, const uint16_t *V,
                               size_t v_stride, int64_t cnt, int64_t hd, float *O,
                               size_t o_stride) {
    if (hd % 8) {
        for (int h = 0; h < nq; h++) {
            float *o = O + h * o_stride;
            for (int64_t i = 0; i < hd; i++) o[i] = 0.0f;
            for (int64_t p = 0; p < cnt; p++)
                kern_axpy_f16_avx2(o, S[h * s_stride + (size_t)p], V + (size_t)p * v_stride, hd);
        }
        return;
    }
#define VALUES(N) values_n(in, s_stride, V, v_stride, cnt, hd, out, o_stride, N)
    BY_RUNS(S, s_stride, O, o_stride, VALUES)
}
