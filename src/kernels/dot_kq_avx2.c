/*
 * AVX2 kernels for the super-block types: vec_dot of Q2_K, Q3_K, Q5_K and IQ4_XS with Q8_K (Q4_K
 * and Q6_K are in dot_rows_avx2.c), and bit-exact to_float for Q4_K and Q6_K. Per 256-element block
 * the quant products are summed exactly in int32 lanes (maddubs, then madd with the sub-block
 * scales), converted once and added with one FMA; the mins go through the activations' bsums.
 */
#include "avx2_int.h"

static void vec_dot_q5_K(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0xF), m1 = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_m = _mm_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * H2F(x[i].d), dmin = -y[i].d * H2F(x[i].dmin);
        const __m256i sm = _mm256_cvtepu8_epi16(k4_scales_mins(x[i].scales));
        const __m128i prod = _mm_madd_epi16(_mm256_extracti128_si256(sm, 1), q8k_sums32(&y[i]));
        acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod), acc_m);
        const __m256i sc = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
        const uint8_t *q4 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        /* Bit j of qh[l] is the fifth bit of element 32*j + l: shift it down as we go. */
        __m256i hb = _mm256_loadu_si256((const __m256i *)x[i].qh);
        __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++, q4 += 32, q8 += 64) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)q4);
            const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(hb, m1), 4);
            const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 1), m1), 4);
            hb = _mm256_srli_epi16(hb, 2);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(bits, m4), h0);
            const __m256i hi =
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4), h1);
            __m256i pl = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
            __m256i ph = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
            pl = _mm256_madd_epi16(bcast_pair(sc, 2 * j), pl);
            ph = _mm256_madd_epi16(bcast_pair(sc, 2 * j + 1), ph);
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    __m128 m = _mm_add_ps(acc_m, _mm_movehl_ps(acc_m, acc_m));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    *s = hsum_f32x8(acc) + _mm_cvtss_f32(m);
}

static void vec_dot_q3_K(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q3_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i m3 = _mm256_set1_epi8(3), m1 = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * H2F(x[i].d);
        const __m256i sc =
            scales_even_odd(_mm_sub_epi8(q3k_scales(x[i].scales), _mm_set1_epi8(32)));
        /* 4 where the high bit is clear: q = low - 4 * !high. */
        __m256i nh =
            _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)x[i].hmask), _mm256_set1_epi8(-1));
        const int8_t *q8 = y[i].qs;
        __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++, q8 += 32) {
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3);
                const __m256i h4 = _mm256_slli_epi16(_mm256_and_si256(nh, m1), 2);
                nh = _mm256_srli_epi16(nh, 1);
                const __m256i a = _mm256_loadu_si256((const __m256i *)q8);
                const __m256i p =
                    _mm256_sub_epi16(_mm256_maddubs_epi16(lo, a), _mm256_maddubs_epi16(h4, a));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(bcast_pair(sc, 4 * j + k), p));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum_f32x8(acc);
}

static void vec_dot_q2_K(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q2_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps(), acc_m = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float dall = y[i].d * H2F(x[i].d), dmin = y[i].d * H2F(x[i].dmin);
        const __m128i packed = _mm_loadu_si128((const __m128i *)x[i].scales);
        const __m256i mins =
            _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0xF)));
        const __m256i prod =
            _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)y[i].bsums));
        acc_m = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(prod), acc_m);
        const __m256i sc = scales_even_odd(_mm_and_si128(packed, _mm_set1_epi8(0xF)));
        const int8_t *q8 = y[i].qs;
        __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++, q8 += 32) {
                const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3);
                const __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)q8));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(bcast_pair(sc, 4 * j + k), p));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dall), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum_f32x8(acc) - hsum_f32x8(acc_m);
}

static void vec_dot_iq4_xs(int64_t n, float *s, const void *vx, const void *vy) {
    const block_iq4_xs *x = vx;
    const block_q8_K *y = vy;
    const __m256i values =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kern_iq4nl_values));
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * H2F(x[i].d);
        __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) |
                           (((x[i].scales_h >> 2 * ib) & 3) << 4);
            const __m256i q = _mm256_shuffle_epi8(values, nibbles_32(x[i].qs + 16 * ib));
            const __m256i a = _mm256_loadu_si256((const __m256i *)(y[i].qs + 32 * ib));
            const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q));
            sumi =
                _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_set1_epi16((short)(ls - 32)), p));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum_f32x8(acc);
}

/* ---- to_float ---- */

static inline __m256 u8x8_to_ps(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)); }

static void to_float_q4_K(const void *vx, float *y, int64_t n) {
    const block_q4_K *x = vx;
    const __m128i m4 = _mm_set1_epi8(0xF);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = H2F(x[i].d), dmin = H2F(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32) {
            uint8_t sc, m;
            kern_scale_min_k4(j, x[i].scales, &sc, &m);
            const __m256 d1 = _mm256_set1_ps(d * (float)sc), m1 = _mm256_set1_ps(dmin * (float)m);
            kern_scale_min_k4(j + 1, x[i].scales, &sc, &m);
            const __m256 d2 = _mm256_set1_ps(d * (float)sc), m2 = _mm256_set1_ps(dmin * (float)m);
            for (int h = 0; h < 2; h++) {
                const __m128i b = _mm_loadu_si128((const __m128i *)(q + 16 * h));
                const __m128i lo = _mm_and_si128(b, m4),
                              hi = _mm_and_si128(_mm_srli_epi16(b, 4), m4);
                float *yl = y + 16 * h, *yh = y + 32 + 16 * h;
                _mm256_storeu_ps(yl, _mm256_sub_ps(_mm256_mul_ps(d1, u8x8_to_ps(lo)), m1));
                _mm256_storeu_ps(
                    yl + 8,
                    _mm256_sub_ps(_mm256_mul_ps(d1, u8x8_to_ps(_mm_srli_si128(lo, 8))), m1));
                _mm256_storeu_ps(yh, _mm256_sub_ps(_mm256_mul_ps(d2, u8x8_to_ps(hi)), m2));
                _mm256_storeu_ps(
                    yh + 8,
                    _mm256_sub_ps(_mm256_mul_ps(d2, u8x8_to_ps(_mm_srli_si128(hi, 8))), m2));
            }
            y += 64;
        }
    }
}

static void to_float_q6_K(const void *vx, float *y, int64_t n) {
    const block_q6_K *x = vx;
    const __m256i m32 = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = H2F(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        for (int j = 0; j < 2; j++, ql += 64, qh += 32, y += 128) {
            __m256i q[4];
            q6k_unpack_128(ql, qh, q);
            for (int k = 0; k < 4; k++) {
                const __m256i v = _mm256_sub_epi8(q[k], m32);
                const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
                /* (d * scale) first, then the quant: the reference's rounding order. */
                const __m256 s0 = _mm256_set1_ps(d * (float)x[i].scales[8 * j + 2 * k]);
                const __m256 s1 = _mm256_set1_ps(d * (float)x[i].scales[8 * j + 2 * k + 1]);
                float *o = y + 32 * k;
                _mm256_storeu_ps(o,
                                 _mm256_mul_ps(s0, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))));
                _mm256_storeu_ps(o + 8, _mm256_mul_ps(s0, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
                                                              _mm_srli_si128(lo, 8)))));
                _mm256_storeu_ps(o + 16,
                                 _mm256_mul_ps(s1, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))));
                _mm256_storeu_ps(o + 24, _mm256_mul_ps(s1, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
                                                               _mm_srli_si128(hi, 8)))));
            }
        }
    }
}

void kern_patch_avx2_kq(kern_traits *t) {
    t[GGUF_TYPE_Q2_K].vec_dot = vec_dot_q2_K;
    t[GGUF_TYPE_Q3_K].vec_dot = vec_dot_q3_K;
    t[GGUF_TYPE_Q4_K].to_float = to_float_q4_K;
    t[GGUF_TYPE_Q5_K].vec_dot = vec_dot_q5_K;
    t[GGUF_TYPE_Q6_K].to_float = to_float_q6_K;
    t[GGUF_TYPE_IQ4_XS].vec_dot = vec_dot_iq4_xs;
}
