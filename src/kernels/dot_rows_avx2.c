/*
 * AVX2 dot products of the most used weight types (Q4_0, Q8_0, Q4_K, Q6_K) written for one
 * weight row against up to 4 activation rows at once: the weights are loaded and unpacked once
 * and reused for every row, which is what makes prompt batches fast. The one-row vec_dot is
 * the same code with one row, so vec_dot and vec_dot_multi give identical floats.
 */
#include "avx2_int.h"

#define INLINE static inline __attribute__((always_inline))
#define YROW(T, y, r, by) ((const T *)((const char *)(y) + (size_t)(r) * (by)))

/* 8 int32 sums of x*y over groups of 4, given ax = |x| and x (for its sign), y from memory. */
static inline __m256i dot_abs_signed(__m256i ax, __m256i x, const int8_t *y) {
    const __m256i sy = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y), x);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

/* Q4_0 takes two blocks per 256-bit register, laid out by nibble: lo = [low nibbles of block
 * i | of block i+1] (elements 0..15 of each), hi = the high nibbles (elements 16..31). The
 * activations are loaded to match, so one maddubs pair covers 64 elements and each int32 lane
 * of the result holds 4 products' sums of one block: lanes 0-3 block i, 4-7 block i+1. That
 * halves the conversions and FMAs per block, and the unpacking is 5 instructions per 2 blocks. */
/* Sum of (q - 8) * y per 4 elements: q * y - 8 * y, with lo/hi nibbles against ylo/yhi. */
static inline __m256i q4_0_pair_dot(__m256i lo, __m256i hi, __m256i ylo, __m256i yhi) {
    const __m256i eight = _mm256_set1_epi8(8);
    /* int16 sums of 4 products: |q * y| <= 4 * 15 * 127 fits. */
    const __m256i qy =
        _mm256_add_epi16(_mm256_maddubs_epi16(lo, ylo), _mm256_maddubs_epi16(hi, yhi));
    const __m256i oy =
        _mm256_add_epi16(_mm256_maddubs_epi16(eight, ylo), _mm256_maddubs_epi16(eight, yhi));
    return _mm256_madd_epi16(_mm256_sub_epi16(qy, oy), _mm256_set1_epi16(1));
}

INLINE void q4_0_rows(int64_t n, float *s, size_t bs, const void *vx, const void *vy, size_t by,
                      const int nr) {
    const block_q4_0 *x = vx;
    const int64_t nb = n / QK4_0;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    __m256 acc[4];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps();
    int64_t i = 0;
#pragma GCC unroll 2
    for (; i + 1 < nb; i += 2) {
        const __m256i bits = load_2x16(x[i].qs, x[i + 1].qs);
        const __m256i lo = _mm256_and_si256(bits, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
        const float dx0 = kern_f16_table[x[i].d], dx1 = kern_f16_table[x[i + 1].d];
        for (int r = 0; r < nr; r++) {
            const block_q8_0 *y = YROW(block_q8_0, vy, r, by) + i;
            const __m256i ylo = load_2x16(y[0].qs, y[1].qs);
            const __m256i yhi = load_2x16(y[0].qs + 16, y[1].qs + 16);
            const __m256 d = scales_2x4(dx0 * kern_f16_table[y[0].d], dx1 * kern_f16_table[y[1].d]);
            acc[r] =
                _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(q4_0_pair_dot(lo, hi, ylo, yhi)), acc[r]);
        }
    }
    if (i < nb) {
        /* The last block alone, in the low lanes (the high lanes are zero). */
        const __m256i bits = _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)x[i].qs));
        const __m256i lo = _mm256_and_si256(bits, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
        const float dx = kern_f16_table[x[i].d];
        for (int r = 0; r < nr; r++) {
            const block_q8_0 *y = YROW(block_q8_0, vy, r, by) + i;
            const __m256i ylo = _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)y->qs));
            const __m256i yhi =
                _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)(y->qs + 16)));
            const __m256 d = scales_2x4(dx * kern_f16_table[y->d], 0.0f);
            acc[r] =
                _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(q4_0_pair_dot(lo, hi, ylo, yhi)), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++) s[(size_t)r * bs] = hsum_f32x8(acc[r]);
}

INLINE void q8_0_rows(int64_t n, float *s, size_t bs, const void *vx, const void *vy, size_t by,
                      const int nr) {
    const block_q8_0 *x = vx;
    const int64_t nb = n / QK8_0;
    __m256 acc[4];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps();
    /* Blocks in pairs: acc += d0 * p0 + d1 * p1 halves the accumulator's dependency chain. */
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m256i qx0 = _mm256_loadu_si256((const __m256i *)x[i].qs);
        const __m256i ax0 = _mm256_sign_epi8(qx0, qx0);
        const float dx0 = kern_f16_table[x[i].d];
        const __m256i qx1 = _mm256_loadu_si256((const __m256i *)x[i + 1].qs);
        const __m256i ax1 = _mm256_sign_epi8(qx1, qx1);
        const float dx1 = kern_f16_table[x[i + 1].d];
        for (int r = 0; r < nr; r++) {
            const block_q8_0 *y = YROW(block_q8_0, vy, r, by) + i;
            const __m256i p0 = dot_abs_signed(ax0, qx0, y[0].qs);
            const __m256i p1 = dot_abs_signed(ax1, qx1, y[1].qs);
            const __m256 d0 = _mm256_set1_ps(dx0 * kern_f16_table[y[0].d]);
            const __m256 d1 = _mm256_set1_ps(dx1 * kern_f16_table[y[1].d]);
            const __m256 t = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(p0),
                                             _mm256_mul_ps(d1, _mm256_cvtepi32_ps(p1)));
            acc[r] = _mm256_add_ps(acc[r], t);
        }
    }
    if (i < nb) {
        const __m256i qx = _mm256_loadu_si256((const __m256i *)x[i].qs);
        const __m256i ax = _mm256_sign_epi8(qx, qx);
        const float dx = kern_f16_table[x[i].d];
        for (int r = 0; r < nr; r++) {
            const block_q8_0 *y = YROW(block_q8_0, vy, r, by) + i;
            const __m256i p = dot_abs_signed(ax, qx, y->qs);
            const __m256 d = _mm256_set1_ps(dx * kern_f16_table[y->d]);
            acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++) s[(size_t)r * bs] = hsum_f32x8(acc[r]);
}

INLINE void q4_K_rows(int64_t n, float *s, size_t bs, const void *vx, const void *vy, size_t by,
                      const int nr) {
    const block_q4_K *x = vx;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    __m256 acc[4];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float dx = H2F(x[i].d), dmx = H2F(x[i].dmin);
        const __m256i sm = _mm256_cvtepu8_epi16(k4_scales_mins(x[i].scales));
        const __m128i mins = _mm256_extracti128_si256(sm, 1);
        const __m256i sc = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
        __m256i sumi[4];
        for (int r = 0; r < nr; r++) {
            /* The mins: dmin * sum(m_j * activation sums), upper lanes zero. */
            const block_q8_K *y = YROW(block_q8_K, vy, r, by) + i;
            const __m128i prod = _mm_madd_epi16(mins, q8k_sums32(y));
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(-y->d * dmx),
                                     _mm256_cvtepi32_ps(_mm256_zextsi128_si256(prod)), acc[r]);
            sumi[r] = _mm256_setzero_si256();
        }
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            const __m256i lo = _mm256_and_si256(bits, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            const __m256i sl = bcast_pair(sc, 2 * j), sh = bcast_pair(sc, 2 * j + 1);
            for (int r = 0; r < nr; r++) {
                const int8_t *q8 = (YROW(block_q8_K, vy, r, by) + i)->qs + 64 * j;
                const __m256i pl =
                    _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
                const __m256i ph =
                    _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
                sumi[r] = _mm256_add_epi32(sumi[r], _mm256_add_epi32(_mm256_madd_epi16(sl, pl),
                                                                     _mm256_madd_epi16(sh, ph)));
            }
        }
        for (int r = 0; r < nr; r++) {
            const float d = (YROW(block_q8_K, vy, r, by) + i)->d * dx;
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++) s[(size_t)r * bs] = hsum_f32x8(acc[r]);
}

INLINE void q6_K_rows(int64_t n, float *s, size_t bs, const void *vx, const void *vy, size_t by,
                      const int nr) {
    const block_q6_K *x = vx;
    __m256 acc[4];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float dx = H2F(x[i].d);
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)x[i].scales);
        const __m256i sc = scales_even_odd(sc8), sc16 = _mm256_cvtepi8_epi16(sc8);
        __m256i sumi[4];
        for (int r = 0; r < nr; r++) {
            /* The -32 offset of every quant: -32 * sum(scale_j * activation sum_j), exact. */
            const block_q8_K *y = YROW(block_q8_K, vy, r, by) + i;
            const __m256i corr =
                _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y->bsums));
            sumi[r] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5));
        }
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++, ql += 64, qh += 32) {
            __m256i q[4];
            q6k_unpack_128(ql, qh, q);
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                const __m256i scale = bcast_pair(sc, 4 * j + k);
                for (int r = 0; r < nr; r++) {
                    const int8_t *q8 = (YROW(block_q8_K, vy, r, by) + i)->qs + 128 * j + 32 * k;
                    const __m256i p =
                        _mm256_maddubs_epi16(q[k], _mm256_loadu_si256((const __m256i *)q8));
                    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(scale, p));
                }
            }
        }
        for (int r = 0; r < nr; r++) {
            const float d = (YROW(block_q8_K, vy, r, by) + i)->d * dx;
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++) s[(size_t)r * bs] = hsum_f32x8(acc[r]);
}

/* vec_dot (one row) and vec_dot_multi (groups of G rows, then the rest) for each kernel
 * above. G is what fits the 16 vector registers without spilling. */
#define DEFINE_ROWS(t, G)                                                                          \
    static void vec_dot_##t(int64_t n, float *s, const void *x, const void *y) {                   \
        t##_rows(n, s, 1, x, y, 0, 1);                                                             \
    }                                                                                              \
    static void vec_dot_multi_##t(int64_t n, float *s, size_t bs, const void *x, const void *y,    \
                                  size_t by, int nrc) {                                            \
        int r = 0;                                                                                 \
        for (; r + G <= nrc; r += G)                                                               \
            t##_rows(n, s + (size_t)r * bs, bs, x, (const char *)y + (size_t)r * by, by, G);       \
        float *sr = s + (size_t)r * bs;                                                            \
        const void *yr = (const char *)y + (size_t)r * by;                                         \
        switch (nrc - r) {                                                                         \
        case 3: t##_rows(n, sr, bs, x, yr, by, 3); break;                                          \
        case 2: t##_rows(n, sr, bs, x, yr, by, 2); break;                                          \
        case 1: t##_rows(n, sr, bs, x, yr, by, 1); break;                                          \
        default: break;                                                                            \
        }                                                                                          \
    }

DEFINE_ROWS(q4_0, 4)
DEFINE_ROWS(q8_0, 4)
DEFINE_ROWS(q4_K, 2)
DEFINE_ROWS(q6_K, 2)

void kern_patch_avx2_rows(kern_traits *t) {
    t[GGUF_TYPE_Q4_0].vec_dot = vec_dot_q4_0;
    t[GGUF_TYPE_Q4_0].vec_dot_multi = vec_dot_multi_q4_0;
    t[GGUF_TYPE_Q8_0].vec_dot = vec_dot_q8_0;
    t[GGUF_TYPE_Q8_0].vec_dot_multi = vec_dot_multi_q8_0;
    t[GGUF_TYPE_Q4_K].vec_dot = vec_dot_q4_K;
    t[GGUF_TYPE_Q4_K].vec_dot_multi = vec_dot_multi_q4_K;
    t[GGUF_TYPE_Q6_K].vec_dot = vec_dot_q6_K;
    t[GGUF_TYPE_Q6_K].vec_dot_multi = vec_dot_multi_q6_K;
}
