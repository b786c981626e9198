/*
 * AVX2 (+FMA, F16C) kernels for the 32-element block types and the float types: vec_dot for
 * each, and bit-exact to_float for Q4_0, Q8_0 and F16. The int8 products use maddubs/madd
 * (exact integer sums per block), then one FMA per block into float accumulators, as ggml does;
 * only the order of the float additions differs from the reference.
 */
#include "avx2_int.h"

/* ---- Q5_0, IQ4_NL x Q8_0; Q4_1, Q5_1 x Q8_1 (Q4_0 and Q8_0 are in dot_rows_avx2.c) ----
 * Two blocks per register in nibble-major layout, as dot_rows_avx2.c does for Q4_0: lo holds
 * elements 0..15 of blocks i and i+1, hi elements 16..31; each int32 lane of the products
 * belongs to one block (lanes 0-3: i, 4-7: i+1). An odd last block goes alone. */

static inline void pair_nibbles(const uint8_t *a, const uint8_t *b, __m256i *lo, __m256i *hi) {
    const __m256i m4 = _mm256_set1_epi8(0xF);
    const __m256i bits = load_2x16(a, b);
    *lo = _mm256_and_si256(bits, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
}

static inline void pair_acts(const int8_t *a, const int8_t *b, __m256i *lo, __m256i *hi) {
    *lo = load_2x16(a, b);
    *hi = load_2x16(a + 16, b + 16);
}

/* The fifth bits of two Q5 blocks (0xFF where set) in the same layout. */
static inline void pair_high_bits(const uint8_t *a, const uint8_t *b, __m256i *lo, __m256i *hi) {
    const __m256i ha = bits_to_bytes_32(a), hb = bits_to_bytes_32(b);
    *lo = _mm256_permute2x128_si256(ha, hb, 0x20);
    *hi = _mm256_permute2x128_si256(ha, hb, 0x31);
}

/* Signed quants in [-16, 15] or unsigned in [0, 31]: lo and hi int16 pair sums add without
 * overflow, so one madd finishes both halves. */
static inline __m256i pair_dot_small_s8(__m256i lo, __m256i hi, __m256i ylo, __m256i yhi) {
    const __m256i pl = _mm256_maddubs_epi16(_mm256_sign_epi8(lo, lo), _mm256_sign_epi8(ylo, lo));
    const __m256i ph = _mm256_maddubs_epi16(_mm256_sign_epi8(hi, hi), _mm256_sign_epi8(yhi, hi));
    return _mm256_madd_epi16(_mm256_add_epi16(pl, ph), _mm256_set1_epi16(1));
}

static inline __m256i pair_dot_small_u8(__m256i lo, __m256i hi, __m256i ylo, __m256i yhi) {
    const __m256i p =
        _mm256_add_epi16(_mm256_maddubs_epi16(lo, ylo), _mm256_maddubs_epi16(hi, yhi));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

static void vec_dot_q5_0(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q5_0 *x = vx;
    const block_q8_0 *y = vy;
    const int64_t nb = n / QK5_0;
    /* (q | h << 4) - 16 is q where h is set and q | 0xF0 (as int8) where it is not. */
    const __m256i f0 = _mm256_set1_epi8((char)0xF0);
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        __m256i lo, hi, hlo, hhi, ylo, yhi;
        pair_nibbles(x[i].qs, x[i + 1].qs, &lo, &hi);
        pair_high_bits(x[i].qh, x[i + 1].qh, &hlo, &hhi);
        lo = _mm256_or_si256(lo, _mm256_andnot_si256(hlo, f0));
        hi = _mm256_or_si256(hi, _mm256_andnot_si256(hhi, f0));
        pair_acts(y[i].qs, y[i + 1].qs, &ylo, &yhi);
        const __m256 d = scales_2x4(H2F(x[i].d) * H2F(y[i].d), H2F(x[i + 1].d) * H2F(y[i + 1].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(pair_dot_small_s8(lo, hi, ylo, yhi)), acc);
    }
    for (; i < nb; i++) {
        const __m256i nh = _mm256_andnot_si256(bits_to_bytes_32(x[i].qh), f0);
        const __m256i qx = _mm256_or_si256(nibbles_32(x[i].qs), nh);
        const __m256i p = dot_s8s8_i32(qx, _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc =
            _mm256_fmadd_ps(_mm256_set1_ps(H2F(x[i].d) * H2F(y[i].d)), _mm256_cvtepi32_ps(p), acc);
    }
    *s = hsum_f32x8(acc);
}

static void vec_dot_iq4_nl(int64_t n, float *s, const void *vx, const void *vy) {
    const block_iq4_nl *x = vx;
    const block_q8_0 *y = vy;
    const int64_t nb = n / QK4_NL;
    const __m256i values =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kern_iq4nl_values));
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        __m256i lo, hi, ylo, yhi;
        pair_nibbles(x[i].qs, x[i + 1].qs, &lo, &hi);
        lo = _mm256_shuffle_epi8(values, lo);
        hi = _mm256_shuffle_epi8(values, hi);
        pair_acts(y[i].qs, y[i + 1].qs, &ylo, &yhi);
        /* |value * y| pairs reach 2 * 127 * 127: widen each half to int32 before adding. */
        const __m256i p = _mm256_add_epi32(dot_s8s8_i32(lo, ylo), dot_s8s8_i32(hi, yhi));
        const __m256 d = scales_2x4(H2F(x[i].d) * H2F(y[i].d), H2F(x[i + 1].d) * H2F(y[i + 1].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
    }
    for (; i < nb; i++) {
        const __m256i qx = _mm256_shuffle_epi8(values, nibbles_32(x[i].qs));
        const __m256i p = dot_s8s8_i32(qx, _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc =
            _mm256_fmadd_ps(_mm256_set1_ps(H2F(x[i].d) * H2F(y[i].d)), _mm256_cvtepi32_ps(p), acc);
    }
    *s = hsum_f32x8(acc);
}

/* Q4_1, Q5_1: unsigned quants; the offset m comes in through the activations' s = d * sum. */
static void vec_dot_q4_1(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q4_1 *x = vx;
    const block_q8_1 *y = vy;
    const int64_t nb = n / QK4_1;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        __m256i lo, hi, ylo, yhi;
        summs += H2F(x[i].m) * H2F(y[i].s) + H2F(x[i + 1].m) * H2F(y[i + 1].s);
        pair_nibbles(x[i].qs, x[i + 1].qs, &lo, &hi);
        pair_acts(y[i].qs, y[i + 1].qs, &ylo, &yhi);
        const __m256 d = scales_2x4(H2F(x[i].d) * H2F(y[i].d), H2F(x[i + 1].d) * H2F(y[i + 1].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(pair_dot_small_u8(lo, hi, ylo, yhi)), acc);
    }
    for (; i < nb; i++) {
        summs += H2F(x[i].m) * H2F(y[i].s);
        const __m256i p =
            dot_u8s8_i32(nibbles_32(x[i].qs), _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc =
            _mm256_fmadd_ps(_mm256_set1_ps(H2F(x[i].d) * H2F(y[i].d)), _mm256_cvtepi32_ps(p), acc);
    }
    *s = hsum_f32x8(acc) + summs;
}

static void vec_dot_q5_1(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q5_1 *x = vx;
    const block_q8_1 *y = vy;
    const int64_t nb = n / QK5_1;
    const __m256i b4 = _mm256_set1_epi8(0x10);
    __m256 acc = _mm256_setzero_ps();
    float summs = 0;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        __m256i lo, hi, hlo, hhi, ylo, yhi;
        summs += H2F(x[i].m) * H2F(y[i].s) + H2F(x[i + 1].m) * H2F(y[i + 1].s);
        pair_nibbles(x[i].qs, x[i + 1].qs, &lo, &hi);
        pair_high_bits(x[i].qh, x[i + 1].qh, &hlo, &hhi);
        lo = _mm256_or_si256(lo, _mm256_and_si256(hlo, b4));
        hi = _mm256_or_si256(hi, _mm256_and_si256(hhi, b4));
        pair_acts(y[i].qs, y[i + 1].qs, &ylo, &yhi);
        const __m256 d = scales_2x4(H2F(x[i].d) * H2F(y[i].d), H2F(x[i + 1].d) * H2F(y[i + 1].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(pair_dot_small_u8(lo, hi, ylo, yhi)), acc);
    }
    for (; i < nb; i++) {
        summs += H2F(x[i].m) * H2F(y[i].s);
        const __m256i h = _mm256_and_si256(bits_to_bytes_32(x[i].qh), b4);
        const __m256i qx = _mm256_or_si256(nibbles_32(x[i].qs), h);
        const __m256i p = dot_u8s8_i32(qx, _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc =
            _mm256_fmadd_ps(_mm256_set1_ps(H2F(x[i].d) * H2F(y[i].d)), _mm256_cvtepi32_ps(p), acc);
    }
    *s = hsum_f32x8(acc) + summs;
}

/* ---- float types ---- */

static void vec_dot_f32(int64_t n, float *s, const void *vx, const void *vy) {
    const float *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    float sum = hsum_f32x8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += x[i] * y[i];
    *s = sum;
}

static inline __m256 load_f16x8(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static void vec_dot_f16(int64_t n, float *s, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(load_f16x8(x + i), load_f16x8(y + i), a0);
        a1 = _mm256_fmadd_ps(load_f16x8(x + i + 8), load_f16x8(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(load_f16x8(x + i + 16), load_f16x8(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(load_f16x8(x + i + 24), load_f16x8(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_f16x8(x + i), load_f16x8(y + i), a0);
    float sum = hsum_f32x8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += H2F(x[i]) * H2F(y[i]);
    *s = sum;
}

static inline __m256 load_bf16x8(const uint16_t *p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

/* A bf16 is the top half of an f32: interleaving zeros below each one gives the floats. The
 * unpacks work per 128-bit lane, so elements come out permuted, identically for x and y,
 * which a dot product does not mind. */
static void vec_dot_bf16(int64_t n, float *s, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy;
    const __m256i z = _mm256_setzero_si256();
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)(x + i));
        const __m256i y0 = _mm256_loadu_si256((const __m256i *)(y + i));
        const __m256i x1 = _mm256_loadu_si256((const __m256i *)(x + i + 16));
        const __m256i y1 = _mm256_loadu_si256((const __m256i *)(y + i + 16));
        a0 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(z, x0)),
                             _mm256_castsi256_ps(_mm256_unpacklo_epi16(z, y0)), a0);
        a1 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(z, x0)),
                             _mm256_castsi256_ps(_mm256_unpackhi_epi16(z, y0)), a1);
        a2 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(z, x1)),
                             _mm256_castsi256_ps(_mm256_unpacklo_epi16(z, y1)), a2);
        a3 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(z, x1)),
                             _mm256_castsi256_ps(_mm256_unpackhi_epi16(z, y1)), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_bf16x8(x + i), load_bf16x8(y + i), a0);
    float sum = hsum_f32x8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += kern_bf16_to_f32(x[i]) * kern_bf16_to_f32(y[i]);
    *s = sum;
}

/* ---- to_float (bit-exact with the reference: one rounding per product, no FMA) ---- */

static void f16_to_f32_row(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, load_f16x8(x + i));
    for (; i < n; i++) y[i] = H2F(x[i]);
}

static void f32_to_f16_row(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = kern_f32_to_f16(x[i]);
}

static void to_float_f16(const void *x, float *y, int64_t n) { f16_to_f32_row(x, y, n); }
static void from_float_f16(const float *x, void *y, int64_t n) { f32_to_f16_row(x, y, n); }

/* 32 int8 -> 32 floats times d. */
static inline void store_i8x32_scaled(float *y, __m256i q, __m256 d) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm256_storeu_ps(y + 0, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d));
    _mm256_storeu_ps(
        y + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d));
    _mm256_storeu_ps(y + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d));
    _mm256_storeu_ps(
        y + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d));
}

static void to_float_q4_0(const void *vx, float *y, int64_t n) {
    const block_q4_0 *x = vx;
    for (int64_t i = 0; i < n / QK4_0; i++, y += QK4_0) {
        const __m256i q = _mm256_sub_epi8(nibbles_32(x[i].qs), _mm256_set1_epi8(8));
        store_i8x32_scaled(y, q, _mm256_set1_ps(H2F(x[i].d)));
    }
}

static void to_float_q8_0(const void *vx, float *y, int64_t n) {
    const block_q8_0 *x = vx;
    for (int64_t i = 0; i < n / QK8_0; i++, y += QK8_0)
        store_i8x32_scaled(y, _mm256_loadu_si256((const __m256i *)x[i].qs),
                           _mm256_set1_ps(H2F(x[i].d)));
}

void kern_patch_avx2(kern_traits *t) {
    t[GGUF_TYPE_F32].vec_dot = vec_dot_f32;
    t[GGUF_TYPE_F16].vec_dot = vec_dot_f16;
    t[GGUF_TYPE_F16].to_float = to_float_f16;
    t[GGUF_TYPE_F16].from_float = from_float_f16;
    t[GGUF_TYPE_BF16].vec_dot = vec_dot_bf16;
    t[GGUF_TYPE_Q4_0].to_float = to_float_q4_0;
    t[GGUF_TYPE_Q4_1].vec_dot = vec_dot_q4_1;
    t[GGUF_TYPE_Q5_0].vec_dot = vec_dot_q5_0;
    t[GGUF_TYPE_Q5_1].vec_dot = vec_dot_q5_1;
    t[GGUF_TYPE_Q8_0].to_float = to_float_q8_0;
    t[GGUF_TYPE_IQ4_NL].vec_dot = vec_dot_iq4_nl;
    kern_set_f16_rows(f16_to_f32_row, f32_to_f16_row);
    kern_patch_avx2_kq(t);
    kern_patch_avx2_rows(t);
    kern_patch_avx2_quant(t);
}
