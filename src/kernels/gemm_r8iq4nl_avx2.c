/*
 * AVX2 kernels for IQ4_NL weights repacked 8 rows at a time (Q4_0's packed layout,
 * block_q4_0x8: one row per 32-bit lane), with Q8_0 tokens.
 *
 * A piece (4 bytes of each row: elements 4j..4j+3 in the low nibbles, 16+4j.. in the high)
 * becomes its signed levels (-127..113) with one pshufb per nibble half, and their magnitudes
 * with a second table, once for every token. maddubs takes the magnitudes and the token's
 * quants given the levels' signs (the sign trick). Its pair sums reach 2 x 127 x 127, so two
 * of them do not fit int16: each is widened at once by a madd. The kernels read only the
 * tokens' scales (the pair's offset term is not theirs), so IQ4_NL shares converted tokens
 * with Q4_0, Q5_0 and Q8_0.
 */
#include "avx2_int.h"

#define INLINE static inline __attribute__((always_inline))

/* The 16 levels and their magnitudes, in both 128-bit lanes. */
INLINE void level_tables(__m256i *lv, __m256i *mag) {
    *lv = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kern_iq4nl_values));
    *mag = _mm256_abs_epi8(*lv);
}

/* Piece j of a block: levels (wl, wh) and magnitudes (al, ah) of its low and high nibbles. */
INLINE void piece(const block_q4_0x8 *w, int j, __m256i lv, __m256i mag, __m256i *wl,
                  __m256i *wh, __m256i *al, __m256i *ah) {
    const __m256i m4 = _mm256_set1_epi8(0xF);
    const __m256i v = _mm256_loadu_si256((const __m256i *)(w->qs + 32 * j));
    const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    *wl = _mm256_shuffle_epi8(lv, lo);
    *wh = _mm256_shuffle_epi8(lv, hi);
    *al = _mm256_shuffle_epi8(mag, lo);
    *ah = _mm256_shuffle_epi8(mag, hi);
}

/* The int32 sums of a piece and a token's quants y (elements 4j.. at y, 16+4j.. at y + 16). */
INLINE __m256i piece_dot(__m256i wl, __m256i wh, __m256i al, __m256i ah, const int8_t *y) {
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i pl = _mm256_maddubs_epi16(al, _mm256_sign_epi8(bcast4(y), wl));
    const __m256i ph = _mm256_maddubs_epi16(ah, _mm256_sign_epi8(bcast4(y + 16), wh));
    return _mm256_add_epi32(_mm256_madd_epi16(pl, ones), _mm256_madd_epi16(ph, ones));
}

/* A single token streams the weights from memory: ask for the next blocks' lines ahead, as
 * the Q4_0 kernel does (gemm_r8_avx2.c). */
#define PF_BYTES 2304
INLINE void prefetch_block(const block_q4_0x8 *w) {
    const uintptr_t ahead = (uintptr_t)w + PF_BYTES;
    for (uintptr_t a = (ahead + 63) & ~(uintptr_t)63; a < ahead + sizeof *w; a += 64)
        prefetch_l1(a);
}

/* Up to 4 tokens (kern_r8_fn): a block's pieces unpacked once for all of them. */
INLINE void iq4_nlr8(int64_t nb, const block_q4_0x8 *W, const uint8_t *xq, size_t x_row,
                     const float *dc, float *Y, size_t ldy, const int NT) {
    __m256i lv, mag;
    level_tables(&lv, &mag);
    __m256 acc[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const block_q4_0x8 *w = W + i;
        if (NT == 1) prefetch_block(w);
        __m256i s[KERN_R8_NT];
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) s[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            __m256i wl, wh, al, ah;
            piece(w, j, lv, mag, &wl, &wh, &al, &ah);
#pragma GCC unroll 4
            for (int t = 0; t < NT; t++) {
                const int8_t *y = ((const block_q8_0 *)(xq + (size_t)t * x_row))[i].qs;
                s[t] = _mm256_add_epi32(s[t], piece_dot(wl, wh, al, ah, y + 4 * j));
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w->d));
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(dc[2 * nb * t + 2 * i]));
            acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s[t]), acc[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(Y + (size_t)t * ldy, acc[t]);
}

static void iq4_nlr8_avx2(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,
                          const float *dc, float *Y, size_t ldy, int nt) {
    switch (nt) {
    case 1: iq4_nlr8(nb, W, xq, x_row, dc, Y, ldy, 1); break;
    case 2: iq4_nlr8(nb, W, xq, x_row, dc, Y, ldy, 2); break;
    case 3: iq4_nlr8(nb, W, xq, x_row, dc, Y, ldy, 3); break;
    default: iq4_nlr8(nb, W, xq, x_row, dc, Y, ldy, 4); break;
    }
}

/* Batches (kern_r8b_fn): a block in two halves of 2 pieces, each piece's levels and
 * magnitudes in 4 registers; the first half's int32 sums wait in isum. */
static void iq4_nlr8b_avx2(int64_t nb, const void *vW, const int8_t *xt, const float *dct,
                           int64_t ld, int nt, float *acc, float *Y, size_t ldy) {
    const block_q4_0x8 *W = vW;
    __m256i lv, mag;
    level_tables(&lv, &mag);
    int32_t isum[KERN_R8B_MAXT * 8] __attribute__((aligned(32)));
    memset(acc, 0, sizeof(float) * 8 * (size_t)nt);
    for (int64_t i = 0; i < nb; i++) {
        const block_q4_0x8 *w = W + i;
        const int8_t *y0 = xt + 32 * i * ld;
        const float *dc = dct + 2 * i * ld;
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w->d));
#pragma GCC unroll 2
        for (int half = 0; half < 2; half++) {
            __m256i wl0, wh0, al0, ah0, wl1, wh1, al1, ah1;
            piece(w, 2 * half, lv, mag, &wl0, &wh0, &al0, &ah0);
            piece(w, 2 * half + 1, lv, mag, &wl1, &wh1, &al1, &ah1);
            const int8_t *y = y0 + 8 * half;
            for (int t = 0; t < nt; t++, y += 32) {
                __m256i p = _mm256_add_epi32(piece_dot(wl0, wh0, al0, ah0, y),
                                             piece_dot(wl1, wh1, al1, ah1, y + 4));
                if (half == 0) {
                    _mm256_store_si256((__m256i *)(isum + 8 * t), p);
                } else {
                    p = _mm256_add_epi32(p, _mm256_load_si256((const __m256i *)(isum + 8 * t)));
                    const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(dc[2 * t]));
                    _mm256_storeu_ps(acc + 8 * t, _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p),
                                                                  _mm256_loadu_ps(acc + 8 * t)));
                }
            }
        }
    }
    for (int t = 0; t < nt; t++)
        _mm256_storeu_ps(Y + (size_t)t * ldy, _mm256_loadu_ps(acc + 8 * t));
}

void kern_patch_avx2_r8iq4nl(kern_r8_fn *table, kern_r8b_fn *batch) {
    table[KERN_TYPE_IQ4_NL_R8 - KERN_R8_FIRST] = iq4_nlr8_avx2;
    batch[KERN_TYPE_IQ4_NL_R8 - KERN_R8_FIRST] = iq4_nlr8b_avx2;
}
