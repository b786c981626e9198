/*
 * AVX-512 (F/BW/DQ/VL, + VNNI where the CPU has it) dot products for the most used weight
 * types: Q4_0 and Q8_0 (two 32-blocks per 512-bit register), Q4_K and Q6_K (64 elements per
 * register); Q4_1, Q5_0, Q5_1 and IQ4_NL are in dot_q_avx512.c, Q2_K, Q3_K, Q5_K and IQ4_XS
 * in dot_kq_avx512.c; dot_f_avx512.c adds the F32, F16 and BF16 dots and the Q8_0, Q8_1 and
 * Q8_K activation quantizers, gemm_r8_avx512.c the packed-weight kernels of Q4_0_R8 and
 * Q8_0_R8 (with VNNI). They follow the AVX2 kernels step for step, only wider, to keep the
 * risk low. NOTE: written without AVX-512 hardware at hand; the tests (simd_test.c,
 * repack_test.c, the engine's golden tests) check them against the reference on SIMDe's
 * emulation where the CPU lacks AVX-512 (avx512_emu.h), and kern_init checks them again at
 * start-up (selfcheck.c).
 */
#include "avx512_int.h"


/* The Makefile compiles this file with -mavx512vnni, but CPUs like Skylake-X have AVX-512
 * without VNNI: only the *_vnni functions (chosen at run time) use VNNI intrinsics, and the
 * other functions have no plain loops the compiler could vectorize into VNNI instructions
 * (checked with objdump: vpdpbusd appears only in the _vnni functions). */

/* Sum of x_i * y_i over groups of 4 int8 into 16 int32, signed by signed. */
static inline __m512i dot_s8s8_512(__m512i x, __m512i y) {
    const __m512i ax = _mm512_abs_epi8(x);
    const __m512i sy = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(x), _mm512_setzero_si512(), y);
    return _mm512_madd_epi16(_mm512_maddubs_epi16(ax, sy), _mm512_set1_epi16(1));
}

KERN_TARGET_VNNI static inline __m512i dot_s8s8_512_vnni(__m512i x,
                                                                              __m512i y) {
    const __m512i ax = _mm512_abs_epi8(x);
    const __m512i sy = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(x), _mm512_setzero_si512(), y);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), ax, sy);
}

/* One 32-block in 256 bits, for odd block counts. */
static inline float tail_block(__m256i qx, const int8_t *qy, float d) {
    const __m256i p = dot_s8s8_i32(qx, _mm256_loadu_si256((const __m256i *)qy));
    return d * hsum_f32x8(_mm256_cvtepi32_ps(p));
}

/* The Q8_0 and Q4_0 kernels exist twice, with and without VNNI; the macro keeps them one text. */
#define DEFINE_Q8_0(name, dot, attr)                                                               \
    attr static void name(int64_t n, float *s, const void *vx, const void *vy) {                   \
        const block_q8_0 *x = vx;                                                                  \
        const block_q8_0 *y = vy;                                                                  \
        const int64_t nb = n / QK8_0;                                                              \
        __m512 acc = _mm512_setzero_ps();                                                          \
        int64_t i = 0;                                                                             \
        for (; i + 1 < nb; i += 2) {                                                               \
            const __m512i qx = join256(_mm256_loadu_si256((const __m256i *)x[i].qs),               \
                                       _mm256_loadu_si256((const __m256i *)x[i + 1].qs));          \
            const __m512i qy = join256(_mm256_loadu_si256((const __m256i *)y[i].qs),               \
                                       _mm256_loadu_si256((const __m256i *)y[i + 1].qs));          \
            const __m512 d =                                                                       \
                scales2(H2F(x[i].d) * H2F(y[i].d), H2F(x[i + 1].d) * H2F(y[i + 1].d));             \
            acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot(qx, qy)), acc);                        \
        }                                                                                          \
        float sum = _mm512_reduce_add_ps(acc);                                                     \
        if (i < nb)                                                                                \
            sum += tail_block(_mm256_loadu_si256((const __m256i *)x[i].qs), y[i].qs,               \
                              H2F(x[i].d) * H2F(y[i].d));                                          \
        *s = sum;                                                                                  \
    }

#define DEFINE_Q4_0(name, dot, attr)                                                               \
    attr static void name(int64_t n, float *s, const void *vx, const void *vy) {                   \
        const block_q4_0 *x = vx;                                                                  \
        const block_q8_0 *y = vy;                                                                  \
        const int64_t nb = n / QK4_0;                                                              \
        __m512 acc = _mm512_setzero_ps();                                                          \
        int64_t i = 0;                                                                             \
        for (; i + 1 < nb; i += 2) {                                                               \
            const __m512i qx = _mm512_sub_epi8(                                                    \
                join256(nibbles_32(x[i].qs), nibbles_32(x[i + 1].qs)), _mm512_set1_epi8(8));       \
            const __m512i qy = join256(_mm256_loadu_si256((const __m256i *)y[i].qs),               \
                                       _mm256_loadu_si256((const __m256i *)y[i + 1].qs));          \
            const __m512 d =                                                                       \
                scales2(H2F(x[i].d) * H2F(y[i].d), H2F(x[i + 1].d) * H2F(y[i + 1].d));             \
            acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot(qx, qy)), acc);                        \
        }                                                                                          \
        float sum = _mm512_reduce_add_ps(acc);                                                     \
        if (i < nb)                                                                                \
            sum += tail_block(_mm256_sub_epi8(nibbles_32(x[i].qs), _mm256_set1_epi8(8)), y[i].qs,  \
                              H2F(x[i].d) * H2F(y[i].d));                                          \
        *s = sum;                                                                                  \
    }

DEFINE_Q8_0(vec_dot_q8_0, dot_s8s8_512, )
DEFINE_Q8_0(vec_dot_q8_0_vnni, dot_s8s8_512_vnni, KERN_TARGET_VNNI)
DEFINE_Q4_0(vec_dot_q4_0, dot_s8s8_512, )
DEFINE_Q4_0(vec_dot_q4_0_vnni, dot_s8s8_512_vnni, KERN_TARGET_VNNI)

/* 32 int16: a in the low 16, b in the high 16. */
static inline __m512i i16_pair(int a, int b) {
    return join256(_mm256_set1_epi16((short)a), _mm256_set1_epi16((short)b));
}

static void vec_dot_q4_K(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    __m512 acc = _mm512_setzero_ps();
    float sum_m = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * H2F(x[i].d), dmin = y[i].d * H2F(x[i].dmin);
        const __m128i sm8 = k4_scales_mins(x[i].scales);
        const __m128i prod =
            _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(sm8, 8)), q8k_sums32(&y[i]));
        sum_m += dmin * (float)hsum_i32x4(prod);
        uint8_t sc[16];
        _mm_storeu_si128((__m128i *)sc, sm8);
        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            /* Low nibbles are elements 64j..64j+31, high nibbles the next 32: y's order. */
            const __m512i q = join256(_mm256_and_si256(bits, m4),
                                      _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4));
            const __m512i a = _mm512_loadu_si512((const void *)(y[i].qs + 64 * j));
            const __m512i p = _mm512_maddubs_epi16(q, a);
            sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(i16_pair(sc[2 * j], sc[2 * j + 1]), p));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    }
    *s = _mm512_reduce_add_ps(acc) - sum_m;
}

/* permutexvar indexes: 64 elements = 4 sub-blocks of 16 = 4 groups of 8 int16 lanes. */
static const int16_t q6k_scale_idx[2][32] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
     2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5,
     6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
};

static void vec_dot_q6_K(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    const __m512i m32 = _mm512_set1_epi8(32);
    const __m512i idx0 = _mm512_loadu_si512((const void *)q6k_scale_idx[0]);
    const __m512i idx1 = _mm512_loadu_si512((const void *)q6k_scale_idx[1]);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * H2F(x[i].d);
        const __m512i sc16 = _mm512_cvtepi8_epi16(
            _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)x[i].scales)));
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *q8 = y[i].qs;
        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++, ql += 64, qh += 32, q8 += 128) {
            __m256i q[4];
            q6k_unpack_128(ql, qh, q);
            const __m512i qa = join256(q[0], q[1]), qb = join256(q[2], q[3]);
            const __m512i aa = _mm512_loadu_si512((const void *)q8);
            const __m512i ab = _mm512_loadu_si512((const void *)(q8 + 64));
            const __m512i pa =
                _mm512_sub_epi16(_mm512_maddubs_epi16(qa, aa), _mm512_maddubs_epi16(m32, aa));
            const __m512i pb =
                _mm512_sub_epi16(_mm512_maddubs_epi16(qb, ab), _mm512_maddubs_epi16(m32, ab));
            /* Sub-blocks 8j..8j+3 cover qa, 8j+4..8j+7 cover qb. */
            const __m512i sa = _mm512_permutexvar_epi16(
                _mm512_add_epi16(idx0, _mm512_set1_epi16((short)(8 * j))), sc16);
            const __m512i sb = _mm512_permutexvar_epi16(
                _mm512_add_epi16(idx1, _mm512_set1_epi16((short)(8 * j))), sc16);
            sumi = _mm512_add_epi32(
                sumi, _mm512_add_epi32(_mm512_madd_epi16(sa, pa), _mm512_madd_epi16(sb, pb)));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    }
    *s = _mm512_reduce_add_ps(acc);
}

void kern_patch_avx512(kern_traits *t, kern_r8_fn *r8, kern_r8b_fn *r8b, kern_r8v_fn *r8v,
                       bool vnni) {
    t[GGUF_TYPE_Q8_0].vec_dot = vnni ? vec_dot_q8_0_vnni : vec_dot_q8_0;
    t[GGUF_TYPE_Q4_0].vec_dot = vnni ? vec_dot_q4_0_vnni : vec_dot_q4_0;
    t[GGUF_TYPE_Q4_K].vec_dot = vec_dot_q4_K;
    t[GGUF_TYPE_Q6_K].vec_dot = vec_dot_q6_K;
    /* The AVX2 multi-row kernels would round differently from these: loop over vec_dot, so
     * batched and single results stay identical (the other files do the same). */
    t[GGUF_TYPE_Q8_0].vec_dot_multi = NULL;
    t[GGUF_TYPE_Q4_0].vec_dot_multi = NULL;
    t[GGUF_TYPE_Q4_K].vec_dot_multi = NULL;
    t[GGUF_TYPE_Q6_K].vec_dot_multi = NULL;
    kern_patch_avx512_q(t, vnni);
    kern_patch_avx512_kq(t, vnni);
    kern_patch_avx512_f(t, vnni);
    kern_patch_avx512_r8(r8, r8b, r8v, vnni);
}
