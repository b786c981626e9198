/*
 * AVX2 kernels for weights repacked 8 rows at a time (block_q4_0x8, block_q8_0x8 and the
 * Q5_0, Q4_1 and Q5_1 ones): one row per 32-bit lane, so each 256-bit load of weights serves
 * 8 rows, a token's 4 quants are broadcast to every lane, the 8 rows' scales come in with one
 * load and one F16C conversion, and the results are stored with one store per token: no
 * horizontal sums, no scalar scale arithmetic. Up to 4 tokens share each unpacked weight
 * register.
 *
 * Q4_0: maddubs of the unsigned nibbles (0..15) with the token's int8 quants; the -8 offset is
 * taken off once per block with the token's precomputed -8 * d * sum. |pair sums| <= 2 * 15 *
 * 127, and 8 of them (a block per row) still fit int16, so one madd per block and token.
 * Q4_1 / Q5_1: the same integer sums; the rows' minimums times the token's s (Q8_1) instead
 * of the offset. Q8_0: the sign trick (|w| times y with w's sign), int32 sums per piece.
 */
#include "avx2_int.h"

#include <stddef.h>

#define INLINE static inline __attribute__((always_inline))

/* A single token streams the weights from memory, where the hardware prefetcher alone
 * leaves the bus idle part of the time (Q4_0 mat-vec at 65-72% of the plain read on one
 * thread, 82-92% with this): with each block, ask for the lines that start in the block's
 * bytes about 2 KiB ahead, each line once (prefetch_l1). Batches reread their tile from L2
 * and skip it. */
#define R8_PF_BYTES 2304 /* 16 Q4_0 blocks, 8 Q8_0 blocks */
INLINE void prefetch_lines(const void *w, size_t bytes) {
    const uintptr_t ahead = (uintptr_t)w + R8_PF_BYTES;
    for (uintptr_t a = (ahead + 63) & ~(uintptr_t)63; a < ahead + bytes; a += 64) prefetch_l1(a);
}

/* Piece j (4 bytes of each of the 8 rows) of a Q4_0 or Q5_0 block as unsigned quants: lo =
 * elements 4j..4j+3, hi = 16+4j..16+4j+3. Q5_0 (hb non-NULL) merges the fifth bits of hb[j]:
 * lane r's 4 bytes all get byte r (pshufb), then bit b (low) / 4 + b (high) selects. */
INLINE void qx_0_piece(const uint8_t *qs, const uint8_t (*hb)[8], int j, __m256i *lo,
                       __m256i *hi) {
    const __m256i m4 = _mm256_set1_epi8(0xF);
    const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
    *lo = _mm256_and_si256(v, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    if (!hb) return;
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4,
                                            4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
    const __m256i sel_lo = _mm256_set1_epi32(0x08040201);
    const __m256i sel_hi = _mm256_set1_epi32((int)0x80402010u), b4 = _mm256_set1_epi8(0x10);
    int64_t bits;
    memcpy(&bits, hb[j], 8);
    const __m256i h = _mm256_shuffle_epi8(_mm256_set1_epi64x(bits), spread);
    *lo = _mm256_or_si256(*lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, sel_lo), sel_lo), b4));
    *hi = _mm256_or_si256(*hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, sel_hi), sel_hi), b4));
}

/* The nibble types' blocks (kern_qx_r8_bytes): Q5_0's / Q5_1's fifth bits, else NULL. */
INLINE const uint8_t (*qx_hb(const uint8_t *w, const bool Q5, const bool MIN))[8] {
    if (!Q5) return NULL;
    return MIN ? ((const block_q5_1x8 *)w)->hb : ((const block_q5_0x8 *)w)->hb;
}
/* The 8 rows' scales, and minimums (MIN). */
INLINE __m256 qx_scales(const uint8_t *w) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w));
}
INLINE __m256 qx_mins(const uint8_t *w, const bool MIN) {
    return MIN ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + 16))) : _mm256_setzero_ps();
}

/* acc (a token's 8 rows) plus a block: p32 its integer sums, dc the token's (scale, offset
 * term). Q4_0 / Q5_0: dw * (d p + offset d sum). Q4_1 / Q5_1: dw d p + dm s, dm the rows'
 * minimums. */
INLINE __m256 qx_fold(__m256 acc, __m256 dw, __m256 dm, const float *dc, __m256i p32,
                      const bool MIN) {
    const __m256 p = _mm256_cvtepi32_ps(p32);
    if (MIN)
        return _mm256_fmadd_ps(dm, _mm256_set1_ps(dc[1]),
                               _mm256_fmadd_ps(dw, _mm256_mul_ps(_mm256_set1_ps(dc[0]), p), acc));
    return _mm256_fmadd_ps(dw, _mm256_fmadd_ps(_mm256_set1_ps(dc[0]), p, _mm256_set1_ps(dc[1])), acc);
}

/* Q4_0 / Q4_1 (Q5 false) and Q5_0 / Q5_1 (Q5 true): maddubs of the unsigned quants with the
 * token's int8 quants; Q4_0 / Q5_0 take their offset (-8 or -16) off once per block with
 * the token's precomputed offset * d * sum, Q4_1 / Q5_1 (MIN, Q8_1 tokens) add their
 * minimums times the token's s. |pair sums| <= 2 * 15 * 127 (4 bits): a block's 8 maddubs
 * fit int16; 2 * 31 * 127 (5 bits): pairs of pieces are summed apart. */
INLINE void qx_r8(int64_t nb, const uint8_t *W, const uint8_t *xq, size_t x_row,
                  const float *dc, float *Y, size_t ldy, const int NT, const bool Q5,
                  const bool MIN) {
    const size_t bsize = kern_qx_r8_bytes(Q5, MIN), qs_off = kern_qx_r8_qs(Q5, MIN);
    /* Token blocks: Q8_1's for MIN, else Q8_0's. */
    const size_t ysize = MIN ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t yqs = MIN ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[KERN_R8_NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *w = W + (size_t)i * bsize;
        const uint8_t(*hb)[8] = qx_hb(w, Q5, MIN);
        if (NT == 1) prefetch_lines(w, bsize);
        __m256i s[KERN_R8_NT][2];
#pragma GCC unroll 8
        for (int t = 0; t < NT; t++) s[t][0] = s[t][1] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int j = 0; j < 4; j++) {
            __m256i lo, hi;
            qx_0_piece(w + qs_off, hb, j, &lo, &hi);
#pragma GCC unroll 8
            for (int t = 0; t < NT; t++) {
                const int8_t *y = (const int8_t *)(xq + (size_t)t * x_row + (size_t)i * ysize + yqs);
                const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(y + 4 * j)),
                                                   _mm256_maddubs_epi16(hi, bcast4(y + 16 + 4 * j)));
                s[t][Q5 ? j / 2 : 0] = _mm256_add_epi16(s[t][Q5 ? j / 2 : 0], p);
            }
        }
        const __m256 dw = qx_scales(w), dm = qx_mins(w, MIN);
#pragma GCC unroll 8
        for (int t = 0; t < NT; t++) {
            __m256i q = _mm256_madd_epi16(s[t][0], ones);
            if (Q5) q = _mm256_add_epi32(q, _mm256_madd_epi16(s[t][1], ones));
            acc[t] = qx_fold(acc[t], dw, dm, dc + 2 * nb * t + 2 * i, q, MIN);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(Y + (size_t)t * ldy, acc[t]);
}

/* Q8_0 (IQ4 false) and IQ4_NL (IQ4 true: Q4_0's bytes), the types of the sign trick. Piece
 * j (0..7) of a block: elements 4j..4j+3 of the 8 rows, signed (v), and their magnitudes
 * (av). IQ4_NL's are its nibbles' levels and their magnitudes (lv, mag: the 16 of each in both
 * 128-bit lanes), by pshufb: pieces 0-3 the low nibbles of its 4 qs pieces, 4-7 the high ones.
 * Its levels reach -127..113, so two pair sums may not share an int16 either. */
INLINE size_t signed_bsize(const bool IQ4) {
    return IQ4 ? sizeof(block_q4_0x8) : sizeof(block_q8_0x8);
}
INLINE void signed_tables(__m256i *lv, __m256i *mag) {
    *lv = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kern_iq4nl_values));
    *mag = _mm256_abs_epi8(*lv);
}
INLINE void signed_piece(const uint8_t *w, int j, const bool IQ4, __m256i lv, __m256i mag,
                         __m256i *v, __m256i *av) {
    if (!IQ4) {
        *v = _mm256_loadu_si256((const __m256i *)(((const block_q8_0x8 *)w)->qs + 32 * j));
        *av = _mm256_sign_epi8(*v, *v);
        return;
    }
    const __m256i m4 = _mm256_set1_epi8(0xF);
    const __m256i q = _mm256_loadu_si256((const __m256i *)(((const block_q4_0x8 *)w)->qs + 32 * (j & 3)));
    const __m256i n = _mm256_and_si256(j < 4 ? q : _mm256_srli_epi16(q, 4), m4);
    *v = _mm256_shuffle_epi8(lv, n);
    *av = _mm256_shuffle_epi8(mag, n);
}

INLINE void signed_r8(int64_t nb, const uint8_t *W, const uint8_t *xq, size_t x_row,
                      const float *dc, float *Y, size_t ldy, const int NT, const bool IQ4) {
    const size_t bsize = signed_bsize(IQ4);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i lv, mag;
    signed_tables(&lv, &mag);
    __m256 acc[KERN_R8_NT];
    #pragma GCC unroll 8
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *w = W + (size_t)i * bsize;
        if (NT == 1) prefetch_lines(w, bsize);
        __m256i s[KERN_R8_NT];
        #pragma GCC unroll 8
        for (int t = 0; t < NT; t++) s[t] = _mm256_setzero_si256();
        #pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            __m256i v, av;
            signed_piece(w, j, IQ4, lv, mag, &v, &av);
            #pragma GCC unroll 8
            for (int t = 0; t < NT; t++) {
                const int8_t *y = ((const block_q8_0 *)(xq + (size_t)t * x_row))[i].qs;
                const __m256i sy = _mm256_sign_epi8(bcast4(y + 4 * j), v);
                s[t] = _mm256_add_epi32(s[t], _mm256_madd_epi16(_mm256_maddubs_epi16(av, sy), ones));
            }
        }
        const __m256 dw = qx_scales(w); /* d[8] leads both block types */
        #pragma GCC unroll 8
        for (int t = 0; t < NT; t++) {
            const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(dc[2 * nb * t + 2 * i]));
            acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s[t]), acc[t]);
        }
    }
    #pragma GCC unroll 8
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(Y + (size_t)t * ldy, acc[t]);
}

/* ---- batches: a block's weights unpacked into registers once, then every token ---- */

/* acc[t] (8 floats, one per row) plus a block (qx_fold). */
INLINE void acc_token(float *acc, __m256 dw, __m256 dm, const float *dc, __m256i p32,
                      const bool MIN) {
    _mm256_storeu_ps(acc, qx_fold(_mm256_loadu_ps(acc), dw, dm, dc, p32, MIN));
}

static void r8b_begin(float *acc, int nt) { memset(acc, 0, sizeof(float) * 8 * (size_t)nt); }

static void r8b_end(const float *acc, int nt, float *Y, size_t ldy) {
    for (int t = 0; t < nt; t++) _mm256_storeu_ps(Y + (size_t)t * ldy, _mm256_loadu_ps(acc + 8 * t));
}

/* Q4_0 / Q5_0 / Q4_1 / Q5_1 batches: the block's 4 pieces unpacked into 8 registers, then
 * every token. */
INLINE void qx_r8b(int64_t nb, const uint8_t *W, const int8_t *xt, const float *dct, int64_t ld,
                   int nt, float *acc, float *Y, size_t ldy, const bool Q5, const bool MIN) {
    const size_t bsize = kern_qx_r8_bytes(Q5, MIN), qs_off = kern_qx_r8_qs(Q5, MIN);
    const __m256i ones = _mm256_set1_epi16(1);
    r8b_begin(acc, nt);
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *w = W + (size_t)i * bsize;
        const uint8_t(*hb)[8] = qx_hb(w, Q5, MIN);
        __m256i lo[4], hi[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) qx_0_piece(w + qs_off, hb, j, &lo[j], &hi[j]);
        const __m256 dw = qx_scales(w), dm = qx_mins(w, MIN);
        const int8_t *y = xt + 32 * i * ld;
        const float *dc = dct + 2 * i * ld;
        for (int t = 0; t < nt; t++, y += 32, dc += 2) {
            const __m256i s01 = _mm256_add_epi16(
                _mm256_add_epi16(_mm256_maddubs_epi16(lo[0], bcast4(y)), _mm256_maddubs_epi16(hi[0], bcast4(y + 16))),
                _mm256_add_epi16(_mm256_maddubs_epi16(lo[1], bcast4(y + 4)), _mm256_maddubs_epi16(hi[1], bcast4(y + 20))));
            const __m256i s23 = _mm256_add_epi16(
                _mm256_add_epi16(_mm256_maddubs_epi16(lo[2], bcast4(y + 8)), _mm256_maddubs_epi16(hi[2], bcast4(y + 24))),
                _mm256_add_epi16(_mm256_maddubs_epi16(lo[3], bcast4(y + 12)), _mm256_maddubs_epi16(hi[3], bcast4(y + 28))));
            /* 4-bit sums fit int16 all together; 5-bit ones in halves. */
            const __m256i q = Q5 ? _mm256_add_epi32(_mm256_madd_epi16(s01, ones), _mm256_madd_epi16(s23, ones))
                                 : _mm256_madd_epi16(_mm256_add_epi16(s01, s23), ones);
            acc_token(acc + 8 * t, dw, dm, dc, q, MIN);
        }
    }
    r8b_end(acc, nt, Y, ldy);
}


/* Q4_0 / Q5_0 / Q4_1 / Q5_1 batches, two groups (16 rows) at a time. A group's whole block takes 8
 * registers, so one group per pass needs a broadcast of the token's quants for every maddubs,
 * and the broadcasts, not the arithmetic, bound that loop (measured on Zen 3). Here a pass
 * holds half a block (pieces h, h + 1) of both groups in the 8 registers, so that each
 * broadcast feeds two maddubs: half 0 leaves the tokens' partial sums in part, half 1 adds
 * its own and converts to int32, and a last pass over the tokens does the float work. Same
 * integer sums as qx_r8b (4 bits in int16 for the whole block, 5 bits per half), same floats. */
INLINE void qx_r8b2(int64_t nb, const uint8_t *W, const int8_t *xt, const float *dct,
                    int64_t ld, int nt, float *acc, float *Y, size_t ldy, const bool Q5,
                    const bool MIN) {
    const size_t bsize = kern_qx_r8_bytes(Q5, MIN), qs_off = kern_qx_r8_qs(Q5, MIN);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i part[2 * KERN_R8B_MAXT];
    float *acc1 = acc + 8 * (size_t)nt;
    r8b_begin(acc, 2 * nt);
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *w0 = W + (size_t)i * bsize, *w1 = w0 + (size_t)nb * bsize;
        const uint8_t(*hb0)[8] = qx_hb(w0, Q5, MIN), (*hb1)[8] = qx_hb(w1, Q5, MIN);
        const int8_t *y0 = xt + 32 * i * ld;
#pragma GCC unroll 2
        for (int half = 0; half < 2; half++) {
            __m256i a[4], b[4]; /* lo, hi of pieces 2 half and 2 half + 1, groups 0 and 1 */
            qx_0_piece(w0 + qs_off, hb0, 2 * half, &a[0], &a[1]);
            qx_0_piece(w0 + qs_off, hb0, 2 * half + 1, &a[2], &a[3]);
            qx_0_piece(w1 + qs_off, hb1, 2 * half, &b[0], &b[1]);
            qx_0_piece(w1 + qs_off, hb1, 2 * half + 1, &b[2], &b[3]);
            const int8_t *y = y0 + 8 * half;
            for (int t = 0; t < nt; t++, y += 32) {
                const __m256i x0 = bcast4(y), x1 = bcast4(y + 16), x2 = bcast4(y + 4), x3 = bcast4(y + 20);
                __m256i pa = _mm256_add_epi16(
                    _mm256_add_epi16(_mm256_maddubs_epi16(a[0], x0), _mm256_maddubs_epi16(a[1], x1)),
                    _mm256_add_epi16(_mm256_maddubs_epi16(a[2], x2), _mm256_maddubs_epi16(a[3], x3)));
                __m256i pb = _mm256_add_epi16(
                    _mm256_add_epi16(_mm256_maddubs_epi16(b[0], x0), _mm256_maddubs_epi16(b[1], x1)),
                    _mm256_add_epi16(_mm256_maddubs_epi16(b[2], x2), _mm256_maddubs_epi16(b[3], x3)));
                if (half == 0) {
                    part[2 * t] = Q5 ? _mm256_madd_epi16(pa, ones) : pa;
                    part[2 * t + 1] = Q5 ? _mm256_madd_epi16(pb, ones) : pb;
                } else if (Q5) {
                    part[2 * t] = _mm256_add_epi32(part[2 * t], _mm256_madd_epi16(pa, ones));
                    part[2 * t + 1] = _mm256_add_epi32(part[2 * t + 1], _mm256_madd_epi16(pb, ones));
                } else {
                    part[2 * t] = _mm256_madd_epi16(_mm256_add_epi16(part[2 * t], pa), ones);
                    part[2 * t + 1] = _mm256_madd_epi16(_mm256_add_epi16(part[2 * t + 1], pb), ones);
                }
            }
        }
        const __m256 dw0 = qx_scales(w0), dw1 = qx_scales(w1);
        const __m256 dm0 = qx_mins(w0, MIN), dm1 = qx_mins(w1, MIN);
        const float *dc = dct + 2 * i * ld;
        for (int t = 0; t < nt; t++, dc += 2) {
            acc_token(acc + 8 * t, dw0, dm0, dc, part[2 * t], MIN);
            acc_token(acc1 + 8 * t, dw1, dm1, dc, part[2 * t + 1], MIN);
        }
    }
    r8b_end(acc, nt, Y, ldy);
    r8b_end(acc1, nt, Y + 8, ldy);
}

/* The kern_r8b_fn entries: Q4_0, Q5_0, Q4_1 and Q5_1, one group or two per call. */
#define DEFINE_R8B(name, impl, Q5, MIN)                                                             \
    static void name(int64_t nb, const void *W, const int8_t *xt, const float *dct, int64_t ld,    \
                     int nt, float *acc, float *Y, size_t ldy) {                                   \
        impl(nb, W, xt, dct, ld, nt, acc, Y, ldy, Q5, MIN);                                        \
    }
DEFINE_R8B(q4_0r8b_avx2, qx_r8b, false, false)
DEFINE_R8B(q5_0r8b_avx2, qx_r8b, true, false)
DEFINE_R8B(q4_1r8b_avx2, qx_r8b, false, true)
DEFINE_R8B(q5_1r8b_avx2, qx_r8b, true, true)
DEFINE_R8B(q4_0r8b2_avx2, qx_r8b2, false, false)
DEFINE_R8B(q5_0r8b2_avx2, qx_r8b2, true, false)
DEFINE_R8B(q4_1r8b2_avx2, qx_r8b2, false, true)
DEFINE_R8B(q5_1r8b2_avx2, qx_r8b2, true, true)

/* Q8_0 and IQ4_NL batches: a block in two halves of 4 pieces, each w and |w| in registers
 * (the sign trick needs both); the first half's int32 sums wait in isum. */
INLINE void signed_r8b(int64_t nb, const uint8_t *W, const int8_t *xt, const float *dct,
                       int64_t ld, int nt, float *acc, float *Y, size_t ldy, const bool IQ4) {
    const size_t bsize = signed_bsize(IQ4);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i lv, mag;
    signed_tables(&lv, &mag);
    int32_t isum[KERN_R8B_MAXT * 8] __attribute__((aligned(32)));
    r8b_begin(acc, nt);
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *w = W + (size_t)i * bsize;
        const int8_t *y0 = xt + 32 * i * ld;
        const float *dc = dct + 2 * i * ld;
        const __m256 dw = qx_scales(w);
#pragma GCC unroll 2
        for (int half = 0; half < 2; half++) {
            __m256i v[4], a[4];
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) signed_piece(w, 4 * half + j, IQ4, lv, mag, &v[j], &a[j]);
            const int8_t *y = y0 + 16 * half;
            for (int t = 0; t < nt; t++, y += 32) {
                __m256i p = _mm256_setzero_si256();
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++)
                    p = _mm256_add_epi32(p, _mm256_madd_epi16(_mm256_maddubs_epi16(
                                                a[j], _mm256_sign_epi8(bcast4(y + 4 * j), v[j])), ones));
                if (half == 0) _mm256_store_si256((__m256i *)(isum + 8 * t), p);
                else {
                    p = _mm256_add_epi32(p, _mm256_load_si256((const __m256i *)(isum + 8 * t)));
                    const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(dc[2 * t]));
                    _mm256_storeu_ps(acc + 8 * t, _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p),
                                                                  _mm256_loadu_ps(acc + 8 * t)));
                }
            }
        }
    }
    r8b_end(acc, nt, Y, ldy);
}

#define DEFINE_SIGNED_R8B(name, IQ4)                                                               \
    static void name(int64_t nb, const void *W, const int8_t *xt, const float *dct, int64_t ld,    \
                     int nt, float *acc, float *Y, size_t ldy) {                                   \
        signed_r8b(nb, W, xt, dct, ld, nt, acc, Y, ldy, IQ4);                                      \
    }
DEFINE_SIGNED_R8B(q8_0r8b_avx2, false)
DEFINE_SIGNED_R8B(iq4_nlr8b_avx2, true)

/* The kern_r8_fn entries (KERN_DEFINE_R8): the kernel for NT tokens. */
#define Q4_0(NT) qx_r8(nb, W, xq, x_row, dc, Y, ldy, NT, false, false)
#define Q5_0(NT) qx_r8(nb, W, xq, x_row, dc, Y, ldy, NT, true, false)
#define Q4_1(NT) qx_r8(nb, W, xq, x_row, dc, Y, ldy, NT, false, true)
#define Q5_1(NT) qx_r8(nb, W, xq, x_row, dc, Y, ldy, NT, true, true)
#define Q8_0(NT) signed_r8(nb, W, xq, x_row, dc, Y, ldy, NT, false)
#define IQ4_NL(NT) signed_r8(nb, W, xq, x_row, dc, Y, ldy, NT, true)
KERN_DEFINE_R8(q4_0r8_avx2, , Q4_0)
KERN_DEFINE_R8(q5_0r8_avx2, , Q5_0)
KERN_DEFINE_R8(q4_1r8_avx2, , Q4_1)
KERN_DEFINE_R8(q5_1r8_avx2, , Q5_1)
KERN_DEFINE_R8(q8_0r8_avx2, , Q8_0)
KERN_DEFINE_R8(iq4_nlr8_avx2, , IQ4_NL)
#undef Q4_0
#undef Q5_0
#undef Q4_1
#undef Q5_1
#undef Q8_0
#undef IQ4_NL

void kern_patch_avx2_r8(kern_r8_fn *table, kern_r8b_fn *batch, kern_r8b_fn *batch2) {
    batch[KERN_TYPE_Q4_0_R8 - KERN_R8_FIRST] = q4_0r8b_avx2;
    batch[KERN_TYPE_Q5_0_R8 - KERN_R8_FIRST] = q5_0r8b_avx2;
    batch2[KERN_TYPE_Q4_0_R8 - KERN_R8_FIRST] = q4_0r8b2_avx2;
    batch2[KERN_TYPE_Q5_0_R8 - KERN_R8_FIRST] = q5_0r8b2_avx2;
    batch[KERN_TYPE_Q8_0_R8 - KERN_R8_FIRST] = q8_0r8b_avx2;
    table[KERN_TYPE_Q4_0_R8 - KERN_R8_FIRST] = q4_0r8_avx2;
    table[KERN_TYPE_Q8_0_R8 - KERN_R8_FIRST] = q8_0r8_avx2;
    table[KERN_TYPE_Q5_0_R8 - KERN_R8_FIRST] = q5_0r8_avx2;
    table[KERN_TYPE_Q4_1_R8 - KERN_R8_FIRST] = q4_1r8_avx2;
    table[KERN_TYPE_Q5_1_R8 - KERN_R8_FIRST] = q5_1r8_avx2;
    batch[KERN_TYPE_Q4_1_R8 - KERN_R8_FIRST] = q4_1r8b_avx2;
    batch[KERN_TYPE_Q5_1_R8 - KERN_R8_FIRST] = q5_1r8b_avx2;
    batch2[KERN_TYPE_Q4_1_R8 - KERN_R8_FIRST] = q4_1r8b2_avx2;
    batch2[KERN_TYPE_Q5_1_R8 - KERN_R8_FIRST] = q5_1r8b2_avx2;
    kern_patch_avx2_r8q6k(table, batch);
    table[KERN_TYPE_IQ4_NL_R8 - KERN_R8_FIRST] = iq4_nlr8_avx2;
    batch[KERN_TYPE_IQ4_NL_R8 - KERN_R8_FIRST] = iq4_nlr8b_avx2;
    kern_patch_avx2_r8k(table);
    kern_patch_avx2_r8q5k(table);
    kern_patch_avx2_r8iq4xs(table);
    kern_patch_avx2_r8q3k(table);
    kern_patch_avx2_r8q2k(table);
}
