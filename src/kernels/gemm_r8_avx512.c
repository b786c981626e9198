/*
 * AVX-512 VNNI kernels for weights repacked 8 rows at a time (block_q4_0x8, block_q5_0x8,
 * block_q8_0x8, block_q4_1x8, block_q5_1x8, and IQ4_NL's, which is Q4_0's): the mat-vec
 * (1..4 tokens) and batch kinds of gemm_r8_avx2.c, on the same packed layout, and a single
 * token against up to 8 groups at once (kern_r8v_fn). Q6_K's are in gemm_r8q6k_avx512.c.
 * NOTE: written without AVX-512 hardware at hand; verified through the SIMDe build of this
 * file (avx512_emu.h) against the unpacked product and the golden logits (repack_test.c,
 * engine_golden_test.c), and checked once more at start-up (kern_selfcheck_r8) on the CPU
 * that runs them.
 *
 * Lanes: a 512-bit load of 64 packed bytes holds pieces j (lanes 0-7) and j + 1 (lanes 8-15)
 * of the 8 rows. One vpermd per weight register, shared by every token, interleaves them
 * (lane 2r: row r's piece j, lane 2r + 1: its piece j + 1), so that a token's matching 8
 * bytes are a plain 64-bit broadcast, which is a load and no shuffle. The two lanes of a row
 * are summed in float, once per call (acc 16 lanes wide, row scales duplicated per pair).
 * These helpers are in avx512_int.h.
 * Q4_0: the unsigned nibbles (0..15) go straight into vpdpbusd; the -8 offset comes off with
 * the token's precomputed -8 * d * sum, added to the even lane of each row only (masked).
 * Q5_0: the same with the fifth bits added to the nibbles first (0..31) and -16.
 * Q4_1 / Q5_1: Q4_0's / Q5_0's integer sums; the rows' minimums times the token's s (Q8_1)
 * instead of the offset, on the even lanes.
 * Q8_0: the sign trick, |w| (u8) times y with w's sign, w's signs kept in mask registers.
 * IQ4_NL: its levels (one vpshufb per nibble half), then Q8_0's sign trick.
 *
 * Instructions per token and block (8 rows x 32 elements), not counting loads:
 *   Q4_0: 4 vpdpbusd + cvt + masked broadcast + 2 FMA = 8 (AVX2: 8 maddubs, 7 adds, madd,
 *         cvt, 2 FMA = 19); the token's 4 broadcasts are loads.
 *   Q5_0: as Q4_0, 8 (AVX2: 8 maddubs, 8 adds, 2 madd, add, cvt, 2 FMA = 22).
 *   Q8_0: 4 masked negations + 4 vpdpbusd + cvt + mul + FMA = 11 (AVX2: 8 x (sign, maddubs,
 *         madd, add) + mul + cvt + FMA = 35).
 * Per block and shared by the tokens: Q4_0 2 vpermd + 6 nibble ops, Q5_0 those + 2 vpshufb +
 * 4 bit tests + 4 masked adds for the fifth bits (AVX2: 48), Q8_0 4 vpermd + 4 abs + 4 mask
 * moves, and 2 for the scales. About 2.4x (Q4_0), 2.75x (Q5_0) and 3x (Q8_0) fewer
 * instructions per token-block; a single token is bound by memory bandwidth either way.
 * Unmeasured.
 */
#include "avx512_int.h"

#include <stddef.h>

/* Every kernel here uses VNNI and is installed only where the CPU has it. */
#define INLINE KERN_AVX512_INLINE KERN_TARGET_VNNI

/* As gemm_r8_avx2.c: a single token streams the weights, so with each block ask for the
 * lines KERN_AVX512_PF_AHEAD bytes ahead that start in the block's bytes, each line once. */
INLINE void prefetch_lines(const void *w, size_t bytes) {
    const uintptr_t ahead = (uintptr_t)w + KERN_AVX512_PF_AHEAD;
    for (uintptr_t a = (ahead + 63) & ~(uintptr_t)63; a < ahead + bytes; a += 64) prefetch_l2(a);
}

/* The kernels by runs of groups (kern_r8v_fn) leave a 64-byte load as it is: lanes 0-7 hold
 * piece j of the 8 rows, lanes 8-15 piece j + 1 ("halves", HL). The token's pieces are put
 * to match once per block (bcast_hl), for all the groups, instead of each group's weights
 * being permuted (load_pair); the scales and the end follow (row_scales_hl, store_rows_hl).
 * The integer sums per row and piece parity are the same as load_pair's, so the results are
 * bit for bit the same. */
INLINE __m512i load_w(const void *p, const bool HL) {
    return HL ? _mm512_loadu_si512(p) : load_pair(p);
}
/* The 8 bytes at p: the first 4 in lanes 0-7, the next 4 in lanes 8-15. */
INLINE __m512i bcast_hl(const void *p) {
    const __m512i lohi = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    return _mm512_permutexvar_epi32(lohi, bcast8(p));
}
/* The 8 rows' half scales, row r's in lanes r and 8 + r. */
INLINE __m512 row_scales_hl(const void *d) {
    const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
    return _mm512_insertf32x8(_mm512_castps256_ps512(d8), d8, 1);
}
/* Lanes r and 8 + r summed: 8 floats to Y. */
INLINE void store_rows_hl(float *Y, __m512 acc) {
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1));
    _mm256_storeu_ps(Y, _mm256_add_ps(_mm512_castps512_ps256(acc), hi));
}

/* A Q4_0, Q5_0, Q4_1 or Q5_1 block's quants (kern_qx_r8_bytes), unsigned (0..15, 0..31):
 * q[0], q[1] the low and high nibbles of pieces 0, 1 (elements 0-7 and 16-23), q[2], q[3]
 * those of pieces 2, 3 (8-15, 24-31).
 * Q5_0 adds 16 where the fifth bit is set: hb[j], hb[j + 1] in every 128-bit lane, each
 * 32-bit lane's 4 bytes get its row's byte of its piece (vpshufb), and byte c tests bit c
 * (low nibbles) or 4 + c (high nibbles). */
INLINE void qx_0_unpack(const uint8_t *w, const bool Q5, const bool MIN, const bool HL,
                        __m512i q[4]) {
    const __m512i m4 = _mm512_set1_epi8(0xF), b4 = _mm512_set1_epi8(0x10);
    /* Lane 2r: byte r (hb[j][r]), lane 2r + 1: byte 8 + r (hb[j + 1][r]). */
    const __m512i spread = _mm512_setr_epi32(
        0x00000000, 0x08080808, 0x01010101, 0x09090909, 0x02020202, 0x0A0A0A0A, 0x03030303,
        0x0B0B0B0B, 0x04040404, 0x0C0C0C0C, 0x05050505, 0x0D0D0D0D, 0x06060606, 0x0E0E0E0E,
        0x07070707, 0x0F0F0F0F);
    /* HL: lane r byte r, lane 8 + r byte 8 + r. */
    const __m512i spread_hl = _mm512_setr_epi32(
        0x00000000, 0x01010101, 0x02020202, 0x03030303, 0x04040404, 0x05050505, 0x06060606,
        0x07070707, 0x08080808, 0x09090909, 0x0A0A0A0A, 0x0B0B0B0B, 0x0C0C0C0C, 0x0D0D0D0D,
        0x0E0E0E0E, 0x0F0F0F0F);
    const __m512i sel_lo = _mm512_set1_epi32(0x08040201);
    const __m512i sel_hi = _mm512_set1_epi32((int)0x80402010u);
    const uint8_t *qs = w + kern_qx_r8_qs(Q5, MIN);
#pragma GCC unroll 2
    for (int p = 0; p < 2; p++) {
        const __m512i v = load_w(qs + 64 * p, HL);
        q[2 * p] = _mm512_and_si512(v, m4);
        q[2 * p + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        if (!Q5) continue;
        const uint8_t(*hb)[8] = MIN ? ((const block_q5_1x8 *)w)->hb : ((const block_q5_0x8 *)w)->hb;
        const __m128i hb2 = _mm_loadu_si128((const __m128i *)hb[2 * p]); /* hb[j], hb[j + 1] */
        const __m512i h = _mm512_shuffle_epi8(_mm512_broadcast_i32x4(hb2), HL ? spread_hl : spread);
        q[2 * p] = _mm512_mask_add_epi8(q[2 * p], _mm512_test_epi8_mask(h, sel_lo), q[2 * p], b4);
        q[2 * p + 1] = _mm512_mask_add_epi8(q[2 * p + 1], _mm512_test_epi8_mask(h, sel_hi),
                                            q[2 * p + 1], b4);
    }
}

/* A token's block y as the kernels multiply it: b[k] holds its quants 8k..8k+7, in the
 * lanes of load_pair's weights (bcast8) or of the halves (HL, bcast_hl). */
INLINE void token_b(const int8_t *y, const bool HL, __m512i b[4]) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) b[k] = HL ? bcast_hl(y + 8 * k) : bcast8(y + 8 * k);
}

/* Sum of quant times the token's quant for one token's block (token_b), per lane. */
INLINE __m512i qx_0_dot(const __m512i q[4], const __m512i b[4]) {
    __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[0], b[0]);
    s = _mm512_dpbusd_epi32(s, q[1], b[2]);
    s = _mm512_dpbusd_epi32(s, q[2], b[1]);
    return _mm512_dpbusd_epi32(s, q[3], b[3]);
}

/* acc + dw * (d * s + c), c (the token's offset term) on the even lane of each row only.
 * Q4_1 / Q5_1 (MIN): acc + dw * d * s + dm * c, c the token's s (Q8_1), dm the rows'
 * minimums, again on the even lanes only. */
INLINE __m512 qx_0_acc(__m512 acc, __m512 dw, __m512 dm, const float *dc, __m512i s,
                       const bool MIN, const bool HL) {
    const __m512 c = _mm512_maskz_mov_ps(HL ? 0x00FF : 0x5555, _mm512_set1_ps(dc[1]));
    if (MIN)
        return _mm512_fmadd_ps(dm, c, _mm512_fmadd_ps(dw, _mm512_mul_ps(_mm512_set1_ps(dc[0]),
                                                                         _mm512_cvtepi32_ps(s)),
                                                       acc));
    const __m512 v = _mm512_fmadd_ps(_mm512_set1_ps(dc[0]), _mm512_cvtepi32_ps(s), c);
    return _mm512_fmadd_ps(dw, v, acc);
}
/* The rows' minimums (Q4_1 / Q5_1), after their scales. */
INLINE __m512 qx_0_mins(const uint8_t *w, const bool MIN, const bool HL) {
    return !MIN ? _mm512_setzero_ps() : HL ? row_scales_hl(w + 16) : row_scales(w + 16);
}

/* A Q8_0 block: |w| of pieces 2k, 2k + 1 in a[k] (elements 8k..8k+7), w's signs in neg[k]. */
INLINE void q8_0_unpack(const block_q8_0x8 *w, const bool HL, __m512i a[4], __mmask64 neg[4]) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        const __m512i v = load_w(w->qs + 64 * k, HL);
        a[k] = _mm512_abs_epi8(v);
        neg[k] = _mm512_movepi8_mask(v);
    }
}

INLINE __m512i q8_0_dot(const __m512i a[4], const __mmask64 neg[4], const __m512i b[4]) {
    __m512i s = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
        s = _mm512_dpbusd_epi32(
            s, a[k], _mm512_mask_sub_epi8(b[k], neg[k], _mm512_setzero_si512(), b[k]));
    return s;
}

/* An IQ4_NL block (Q4_0's bytes) as q8_0_unpack gives a Q8_0 one: the nibbles' levels by one
 * vpshufb each (the 16 levels in every 128-bit lane); pieces 2p, 2p + 1 hold elements 8p..
 * (low nibbles, a[p]) and 16 + 8p.. (high nibbles, a[2 + p]). */
INLINE void iq4_nl_unpack(const block_q4_0x8 *w, const bool HL, __m512i a[4], __mmask64 neg[4]) {
    const __m512i lv =
        _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kern_iq4nl_values));
    const __m512i m4 = _mm512_set1_epi8(0xF);
#pragma GCC unroll 2
    for (int p = 0; p < 2; p++) {
        const __m512i v = load_w(w->qs + 64 * p, HL);
        const __m512i lo = _mm512_shuffle_epi8(lv, _mm512_and_si512(v, m4));
        const __m512i hi = _mm512_shuffle_epi8(lv, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
        a[p] = _mm512_abs_epi8(lo);
        neg[p] = _mm512_movepi8_mask(lo);
        a[2 + p] = _mm512_abs_epi8(hi);
        neg[2 + p] = _mm512_movepi8_mask(hi);
    }
}

/* Q8_0 (IQ4 false) and IQ4_NL (IQ4 true), the types of the sign trick. */
INLINE size_t signed_bsize(const bool IQ4) {
    return IQ4 ? sizeof(block_q4_0x8) : sizeof(block_q8_0x8);
}
INLINE void signed_unpack(const uint8_t *w, const bool IQ4, const bool HL, __m512i a[4],
                          __mmask64 neg[4]) {
    if (IQ4) iq4_nl_unpack((const block_q4_0x8 *)w, HL, a, neg);
    else q8_0_unpack((const block_q8_0x8 *)w, HL, a, neg);
}

/* ---- mat-vec: NT (1..4) tokens share each unpacked block ---- */

/* Q4_0 / Q4_1 (Q5 false) and Q5_0 / Q5_1 (Q5 true); d[8] leads every block type. Q4_1 and
 * Q5_1 (MIN) read Q8_1 tokens. */
INLINE void qx_0r8(int64_t nb, const uint8_t *W, const uint8_t *xq, size_t x_row,
                   const float *dc, float *Y, size_t ldy, const int NT, const bool Q5,
                   const bool MIN) {
    const size_t bsize = kern_qx_r8_bytes(Q5, MIN);
    const size_t ysize = MIN ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t yqs = MIN ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    __m512 acc[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *w = W + (size_t)i * bsize;
        if (NT == 1) prefetch_lines(w, bsize);
        __m512i q[4];
        qx_0_unpack(w, Q5, MIN, false, q);
        const __m512 dw = row_scales(w), dm = qx_0_mins(w, MIN, false);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            const int8_t *y = (const int8_t *)(xq + (size_t)t * x_row + (size_t)i * ysize + yqs);
            __m512i b[4];
            token_b(y, false, b);
            acc[t] = qx_0_acc(acc[t], dw, dm, dc + 2 * nb * t + 2 * i, qx_0_dot(q, b), MIN, false);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) store_rows(Y + (size_t)t * ldy, acc[t]);
}

/* Q8_0 and IQ4_NL: the sign trick; only the tokens' scales are read. */
INLINE void signed_r8(int64_t nb, const uint8_t *W, const uint8_t *xq, size_t x_row,
                      const float *dc, float *Y, size_t ldy, const int NT, const bool IQ4) {
    const size_t bsize = signed_bsize(IQ4);
    __m512 acc[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *w = W + (size_t)i * bsize;
        if (NT == 1) prefetch_lines(w, bsize);
        __m512i a[4];
        __mmask64 neg[4];
        signed_unpack(w, IQ4, false, a, neg);
        const __m512 dw = row_scales(w); /* d[8] leads both block types */
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            __m512i b[4];
            token_b(((const block_q8_0 *)(xq + (size_t)t * x_row))[i].qs, false, b);
            const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(dc[2 * nb * t + 2 * i]));
            acc[t] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(q8_0_dot(a, neg, b)), acc[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) store_rows(Y + (size_t)t * ldy, acc[t]);
}

/* The kern_r8_fn entries (KERN_DEFINE_R8): the kernel for NT tokens. */
#define Q4_0(NT) qx_0r8(nb, W, xq, x_row, dc, Y, ldy, NT, false, false)
#define Q5_0(NT) qx_0r8(nb, W, xq, x_row, dc, Y, ldy, NT, true, false)
#define Q4_1(NT) qx_0r8(nb, W, xq, x_row, dc, Y, ldy, NT, false, true)
#define Q5_1(NT) qx_0r8(nb, W, xq, x_row, dc, Y, ldy, NT, true, true)
#define Q8_0(NT) signed_r8(nb, W, xq, x_row, dc, Y, ldy, NT, false)
#define IQ4_NL(NT) signed_r8(nb, W, xq, x_row, dc, Y, ldy, NT, true)
KERN_DEFINE_R8(q4_0r8_vnni, KERN_TARGET_VNNI, Q4_0)
KERN_DEFINE_R8(q5_0r8_vnni, KERN_TARGET_VNNI, Q5_0)
KERN_DEFINE_R8(q4_1r8_vnni, KERN_TARGET_VNNI, Q4_1)
KERN_DEFINE_R8(q5_1r8_vnni, KERN_TARGET_VNNI, Q5_1)
KERN_DEFINE_R8(q8_0r8_vnni, KERN_TARGET_VNNI, Q8_0)
KERN_DEFINE_R8(iq4_nlr8_vnni, KERN_TARGET_VNNI, IQ4_NL)
#undef Q4_0
#undef Q5_0
#undef Q4_1
#undef Q5_1
#undef Q8_0
#undef IQ4_NL

/* ---- one token, S groups (kern_r8v_fn): block i of each group in turn, S streams ----
 * The token's broadcasts are made once per block for all S groups. No software prefetch: the
 * streams keep the bus busy, and prefetching each of them as the one-group kernels do was no
 * faster (TinyLlama-shape Q8_0 generation, 4 alternated rounds: median 23.5 tokens/s with,
 * 25.3 without). The K-quants' (gemm_r8k_avx512.c, gemm_r8q6k_avx512.c) do prefetch. */

INLINE void qx_0r8v(int64_t nb, const uint8_t *W, size_t w_step, const uint8_t *xq,
                    const float *dc, float *Y, size_t y_step, const int S, const bool Q5,
                    const bool MIN) {
    const size_t bsize = kern_qx_r8_bytes(Q5, MIN);
    const size_t ysize = MIN ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t yqs = MIN ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    __m512 acc[KERN_R8V_MAXG];
#pragma GCC unroll 8
    for (int g = 0; g < KERN_R8V_MAXG; g++) acc[g] = _mm512_setzero_ps(); /* all: else GCC warns */
    for (int64_t i = 0; i < nb; i++) {
        __m512i b[4];
        token_b((const int8_t *)(xq + (size_t)i * ysize + yqs), true, b);
#pragma GCC unroll 8
        for (int g = 0; g < S; g++) {
            const uint8_t *w = W + (size_t)g * w_step + (size_t)i * bsize;
            __m512i q[4];
            qx_0_unpack(w, Q5, MIN, true, q);
            acc[g] = qx_0_acc(acc[g], row_scales_hl(w), qx_0_mins(w, MIN, true), dc + 2 * i,
                              qx_0_dot(q, b), MIN, true);
        }
    }
#pragma GCC unroll 8
    for (int g = 0; g < S; g++) store_rows_hl(Y + (size_t)g * y_step, acc[g]);
}

INLINE void signed_r8v(int64_t nb, const uint8_t *W, size_t w_step, const uint8_t *xq,
                       const float *dc, float *Y, size_t y_step, const int S, const bool IQ4) {
    const size_t bsize = signed_bsize(IQ4);
    __m512 acc[KERN_R8V_MAXG];
#pragma GCC unroll 8
    for (int g = 0; g < KERN_R8V_MAXG; g++) acc[g] = _mm512_setzero_ps(); /* all: else GCC warns */
    for (int64_t i = 0; i < nb; i++) {
        __m512i b[4];
        token_b(((const block_q8_0 *)xq)[i].qs, true, b);
        const __m512 dy = _mm512_set1_ps(dc[2 * i]);
#pragma GCC unroll 8
        for (int g = 0; g < S; g++) {
            const uint8_t *w = W + (size_t)g * w_step + (size_t)i * bsize;
            __m512i a[4];
            __mmask64 neg[4];
            signed_unpack(w, IQ4, true, a, neg);
            acc[g] = _mm512_fmadd_ps(_mm512_mul_ps(row_scales_hl(w), dy),
                                     _mm512_cvtepi32_ps(q8_0_dot(a, neg, b)), acc[g]);
        }
    }
#pragma GCC unroll 8
    for (int g = 0; g < S; g++) store_rows_hl(Y + (size_t)g * y_step, acc[g]);
}

#define Q4_0(S) qx_0r8v(nb, W, w_step, xq, dc, Y, y_step, S, false, false)
#define Q5_0(S) qx_0r8v(nb, W, w_step, xq, dc, Y, y_step, S, true, false)
#define Q4_1(S) qx_0r8v(nb, W, w_step, xq, dc, Y, y_step, S, false, true)
#define Q5_1(S) qx_0r8v(nb, W, w_step, xq, dc, Y, y_step, S, true, true)
#define Q8_0(S) signed_r8v(nb, W, w_step, xq, dc, Y, y_step, S, false)
#define IQ4_NL(S) signed_r8v(nb, W, w_step, xq, dc, Y, y_step, S, true)
KERN_DEFINE_R8V(q4_0r8v_vnni, KERN_TARGET_VNNI, Q4_0)
KERN_DEFINE_R8V(q5_0r8v_vnni, KERN_TARGET_VNNI, Q5_0)
KERN_DEFINE_R8V(q4_1r8v_vnni, KERN_TARGET_VNNI, Q4_1)
KERN_DEFINE_R8V(q5_1r8v_vnni, KERN_TARGET_VNNI, Q5_1)
KERN_DEFINE_R8V(q8_0r8v_vnni, KERN_TARGET_VNNI, Q8_0)
KERN_DEFINE_R8V(iq4_nlr8v_vnni, KERN_TARGET_VNNI, IQ4_NL)
#undef Q4_0
#undef Q5_0
#undef Q4_1
#undef Q5_1
#undef Q8_0
#undef IQ4_NL

/* ---- batches: a block unpacked into registers once, then every token (block-major xt) ----
 * The accumulators are 16 lanes per token, so they live here rather than in the caller's
 * 8-float acc. */

INLINE void qx_0r8b(int64_t nb, const uint8_t *W, const int8_t *xt, const float *dct, int64_t ld,
                    int nt, float *Y, size_t ldy, const bool Q5, const bool MIN) {
    const size_t bsize = kern_qx_r8_bytes(Q5, MIN);
    float acc[KERN_R8B_MAXT][16] __attribute__((aligned(64)));
    for (int t = 0; t < nt; t++) _mm512_store_ps(acc[t], _mm512_setzero_ps());
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *w = W + (size_t)i * bsize;
        __m512i q[4];
        qx_0_unpack(w, Q5, MIN, false, q);
        const __m512 dw = row_scales(w), dm = qx_0_mins(w, MIN, false);
        const int8_t *y = xt + 32 * i * ld;
        const float *dc = dct + 2 * i * ld;
        for (int t = 0; t < nt; t++, y += 32, dc += 2) {
            __m512i b[4];
            token_b(y, false, b);
            _mm512_store_ps(acc[t],
                            qx_0_acc(_mm512_load_ps(acc[t]), dw, dm, dc, qx_0_dot(q, b), MIN,
                                     false));
        }
    }
    for (int t = 0; t < nt; t++) store_rows(Y + (size_t)t * ldy, _mm512_load_ps(acc[t]));
}

#define DEFINE_R8B(name, Q5, MIN)                                                                  \
    KERN_TARGET_VNNI static void name(int64_t nb, const void *W, const int8_t *xt,                \
                                      const float *dct, int64_t ld, int nt, float *acc8, float *Y, \
                                      size_t ldy) {                                                \
        (void)acc8;                                                                                \
        qx_0r8b(nb, W, xt, dct, ld, nt, Y, ldy, Q5, MIN);                                          \
    }
DEFINE_R8B(q4_0r8b_vnni, false, false)
DEFINE_R8B(q5_0r8b_vnni, true, false)
DEFINE_R8B(q4_1r8b_vnni, false, true)
DEFINE_R8B(q5_1r8b_vnni, true, true)

/* Q8_0 and IQ4_NL batches. */
INLINE void signed_r8b(int64_t nb, const uint8_t *W, const int8_t *xt, const float *dct,
                       int64_t ld, int nt, float *Y, size_t ldy, const bool IQ4) {
    const size_t bsize = signed_bsize(IQ4);
    float acc[KERN_R8B_MAXT][16] __attribute__((aligned(64)));
    for (int t = 0; t < nt; t++) _mm512_store_ps(acc[t], _mm512_setzero_ps());
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *w = W + (size_t)i * bsize;
        __m512i a[4];
        __mmask64 neg[4];
        signed_unpack(w, IQ4, false, a, neg);
        const __m512 dw = row_scales(w);
        const int8_t *y = xt + 32 * i * ld;
        const float *dc = dct + 2 * i * ld;
        for (int t = 0; t < nt; t++, y += 32, dc += 2) {
            __m512i b[4];
            token_b(y, false, b);
            const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(dc[0]));
            _mm512_store_ps(acc[t], _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(q8_0_dot(a, neg, b)),
                                                    _mm512_load_ps(acc[t])));
        }
    }
    for (int t = 0; t < nt; t++) store_rows(Y + (size_t)t * ldy, _mm512_load_ps(acc[t]));
}

#define DEFINE_SIGNED_R8B(name, IQ4)                                                               \
    KERN_TARGET_VNNI static void name(int64_t nb, const void *W, const int8_t *xt,                \
                                      const float *dct, int64_t ld, int nt, float *acc8, float *Y, \
                                      size_t ldy) {                                                \
        (void)acc8;                                                                                \
        signed_r8b(nb, W, xt, dct, ld, nt, Y, ldy, IQ4);                                           \
    }
DEFINE_SIGNED_R8B(q8_0r8b_vnni, false)
DEFINE_SIGNED_R8B(iq4_nlr8b_vnni, true)

void kern_patch_avx512_r8(kern_r8_fn *r8, kern_r8b_fn *r8b, kern_r8v_fn *r8v, bool vnni) {
    if (!vnni) return; /* AVX-512 without VNNI (Skylake-X): the AVX2 kernels stay */
    r8v[KERN_TYPE_Q4_0_R8 - KERN_R8_FIRST] = q4_0r8v_vnni;
    r8v[KERN_TYPE_Q5_0_R8 - KERN_R8_FIRST] = q5_0r8v_vnni;
    r8v[KERN_TYPE_Q4_1_R8 - KERN_R8_FIRST] = q4_1r8v_vnni;
    r8v[KERN_TYPE_Q5_1_R8 - KERN_R8_FIRST] = q5_1r8v_vnni;
    r8v[KERN_TYPE_Q8_0_R8 - KERN_R8_FIRST] = q8_0r8v_vnni;
    r8v[KERN_TYPE_IQ4_NL_R8 - KERN_R8_FIRST] = iq4_nlr8v_vnni;
    r8[KERN_TYPE_Q4_0_R8 - KERN_R8_FIRST] = q4_0r8_vnni;
    r8[KERN_TYPE_Q8_0_R8 - KERN_R8_FIRST] = q8_0r8_vnni;
    r8[KERN_TYPE_Q5_0_R8 - KERN_R8_FIRST] = q5_0r8_vnni;
    r8b[KERN_TYPE_Q4_0_R8 - KERN_R8_FIRST] = q4_0r8b_vnni;
    r8b[KERN_TYPE_Q8_0_R8 - KERN_R8_FIRST] = q8_0r8b_vnni;
    r8b[KERN_TYPE_Q5_0_R8 - KERN_R8_FIRST] = q5_0r8b_vnni;
    r8[KERN_TYPE_Q4_1_R8 - KERN_R8_FIRST] = q4_1r8_vnni;
    r8[KERN_TYPE_Q5_1_R8 - KERN_R8_FIRST] = q5_1r8_vnni;
    r8b[KERN_TYPE_Q4_1_R8 - KERN_R8_FIRST] = q4_1r8b_vnni;
    r8b[KERN_TYPE_Q5_1_R8 - KERN_R8_FIRST] = q5_1r8b_vnni;
    r8[KERN_TYPE_IQ4_NL_R8 - KERN_R8_FIRST] = iq4_nlr8_vnni;
    r8b[KERN_TYPE_IQ4_NL_R8 - KERN_R8_FIRST] = iq4_nlr8b_vnni;
    kern_patch_avx512_r8q6k(r8, r8b, r8v);
    kern_patch_avx512_r8k(r8, r8v, vnni);
}
