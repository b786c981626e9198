/*
 * AVX-512 VNNI mat-vec kernels (1..4 tokens) for Q4_K and Q5_K weights repacked 8 rows at a
 * time (block_q4_Kx8, block_q5_Kx8): gemm_r8k_avx2.c and gemm_r8q5k_avx2.c on the same
 * layouts, with the lanes of gemm_r8_avx512.c. Batches call them 4 tokens at a time.
 * NOTE: written without AVX-512 hardware at hand; verified through the SIMDe build of this
 * file (avx512_emu.h) against the unpacked product and the golden logits (repack_test.c,
 * engine_golden_test.c), and checked once more at start-up (kern_selfcheck_r8) on the CPU
 * that runs them.
 *
 * Lanes: a 64-byte load holds pieces p, p + 1 of a sub-block of the 8 rows; one vpermd per
 * load, shared by the tokens, puts row r's piece p in lane 2r and piece p + 1 in lane 2r + 1,
 * so that a token's matching 8 quants are a plain 64-bit broadcast (a load). The unsigned
 * 4-bit (5-bit) quants go straight into vpdpbusd. A lane's products of one sub-block fit
 * int16 (Q4_K: 16 x 15 x 128 = 30720; Q5_K in two halves of 8 x 31 x 128 = 31744), so one
 * vpdpwssd with the sub-block's scale as [sc, 0] word pairs multiplies it by the scale and
 * adds it to the super-block's int32 sum, exactly. The mins: vpdpwssd of [m, m] pairs with the
 * token's bsums (4 per 64-bit broadcast: 2 per sub-block). Both lanes of a row carry the same
 * scales, and are summed once per call.
 *
 * Instructions per token and super-block (8 rows x 256 elements), not counting loads:
 *   Q4_K: 32 vpdpbusd + 8 vpdpwssd (scales) + 4 vpdpwssd (mins) + 2 cvt + mul + 2 FMA = 49
 *         (AVX2: 8 x (8 maddubs + 8 adds + madd + add) = 144, and about 20 for the mins and
 *         the floats: 164).
 *   Q5_K: 32 vpdpbusd + 16 vpdpwssd + 4 + 5 = 57 (AVX2: 8 x (8 maddubs + 8 adds + 2 madds +
 *         2 adds) = 160, + 20 = 180).
 * The token's 37 broadcasts (32 of quants, 4 of bsums, d) are loads. Per super-block, shared
 * by the tokens: 16 vpermd + 48 nibble ops (Q5_K: + 8 vpermd and 64 ops for the fifth bits),
 * about 25 for the scales and mins. About 3.3x (Q4_K) and 3.2x (Q5_K) fewer instructions per
 * token-block; a single token is bound by memory bandwidth either way. Unmeasured.
 */
#include "avx512_int.h"

#include <stddef.h>

/* Every kernel here uses VNNI and is installed only where the CPU has it. */
#define INLINE KERN_AVX512_INLINE KERN_TARGET_VNNI

/* As the AVX2 kernels: a single token streams the weights, so the nl lines of the super-block
 * KERN_AVX512_PF_AHEAD bytes ahead (rounded up to a block) are asked for, into L2, a few at a
 * time: 2 (d, dmin, scales) with part 0, the rest spread over parts 1..8 (the sub-blocks). */
INLINE void prefetch_part(const void *next, int nl, int part) {
    const int l0 = part == 0 ? 0 : 2 + (nl - 2) * (part - 1) / 8;
    const int l1 = part == 0 ? 2 : 2 + (nl - 2) * part / 8;
    for (int l = l0; l < l1; l++) prefetch_l2((uintptr_t)next + 64 * (uintptr_t)l);
}

/* A super-block's scales, mins, d and dmin, each row's in both of its lanes. */
typedef struct {
    __m512i sc[2]; /* lanes 2r, 2r + 1: row r's scales of sub-blocks 4h..4h+3, a byte each */
    __m512i m[2];  /* the same for the mins */
    __m512 d, dmin;
} r8k_scales;

/* Words 0 and 1 of the 3 scale words give sub-blocks 0-3's scales and mins (6 bits each);
 * 4-7 take their low 4 bits from word 2 (scales' in its low nibbles, mins' in the high ones)
 * and their top 2 from the top bits of words 0 (scales) and 1 (mins): as a row's 12 bytes
 * are defined (kern_scale_min_k4), on 8 rows, scales in the low half, mins in the high. */
INLINE r8k_scales unpack_scales(const uint16_t *d_dmin, const uint8_t scales[3][32]) {
    const __m512i lo_i = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i hi_i = _mm512_add_epi32(lo_i, _mm512_set1_epi32(8));
    const __m512i w01 = _mm512_loadu_si512(scales[0]);
    const __m512i w22 = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)scales[2]));
    const __m512i nib =
        _mm512_srlv_epi32(w22, _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4));
    const __m512i lo = _mm512_and_si512(w01, _mm512_set1_epi8(0x3F));
    /* (nib & 0x0F) | ((w01 >> 2) & 0x30) */
    const __m512i hi =
        _mm512_ternarylogic_epi32(_mm512_and_si512(nib, _mm512_set1_epi8(0xF)),
                                  _mm512_srli_epi32(w01, 2), _mm512_set1_epi8(0x30), 0xF8);
    const __m512 dd = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d_dmin));
    r8k_scales o;
    o.sc[0] = _mm512_permutexvar_epi32(lo_i, lo);
    o.sc[1] = _mm512_permutexvar_epi32(lo_i, hi);
    o.m[0] = _mm512_permutexvar_epi32(hi_i, lo);
    o.m[1] = _mm512_permutexvar_epi32(hi_i, hi);
    o.d = _mm512_permutexvar_ps(lo_i, dd);
    o.dmin = _mm512_permutexvar_ps(hi_i, dd);
    return o;
}

/* A vpshufb control, the same in every 128-bit lane: c0..c3 for its dwords 0..3. */
INLINE __m512i ctl4(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3) {
    return _mm512_set4_epi32((int)c3, (int)c2, (int)c1, (int)c0);
}

/* Sub-block s's scale as an int32 in both lanes of its row ([sc, 0] as words). */
INLINE __m512i sub_scale(const r8k_scales *S, int s) {
    const uint32_t k = (uint32_t)(s % 4), z = 0x80808000u;
    return _mm512_shuffle_epi8(S->sc[s / 4], ctl4(z | k, z | (4 + k), z | (8 + k), z | (12 + k)));
}

/* Mins of sub-blocks 2j (even lanes) and 2j + 1 (odd lanes) of each row as [m, m] word pairs,
 * for a token's bsums 4j..4j+3 (2 per sub-block). */
INLINE __m512i min_pairs(const r8k_scales *S, int j) {
    const uint32_t k = 2 * (uint32_t)(j % 2), z = 0x80008000u, two = 0x10001u;
    return _mm512_shuffle_epi8(
        S->m[j / 2], ctl4(z | k * two, z | (5 + k) * two, z | (8 + k) * two, z | (13 + k) * two));
}

/* The token's sum over sub-blocks of mins times its sums of the sub-block's quants. */
INLINE __m512i mins_dot(const __m512i mp[4], const block_q8_K *y) {
    __m512i s = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mp[0], bcast8(y->bsums));
#pragma GCC unroll 3
    for (int j = 1; j < 4; j++) s = _mm512_dpwssd_epi32(s, mp[j], bcast8(y->bsums + 4 * j));
    return s;
}

/* A super-block's end for NT tokens: acc[t] += d_t * (d * sumi[t] - dmin * mins_t). */
INLINE void finish_block(const r8k_scales *S, const __m512i *sumi, const block_q8_K *const *y,
                         __m512 *acc, const int NT) {
    const __m512i mp[4] = {min_pairs(S, 0), min_pairs(S, 1), min_pairs(S, 2), min_pairs(S, 3)};
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        const __m512 m = _mm512_mul_ps(S->dmin, _mm512_cvtepi32_ps(mins_dot(mp, y[t])));
        const __m512 v = _mm512_fmsub_ps(S->d, _mm512_cvtepi32_ps(sumi[t]), m);
        acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(y[t]->d), v, acc[t]);
    }
}

/* ---- Q4_K ---- */

/* Sub-block s of the 8 rows: q[0], q[1] the low and high nibbles of pieces 0, 1 (elements
 * 0-7 and 16-23), q[2], q[3] those of pieces 2, 3 (8-15, 24-31). */
INLINE void q4k_unpack(const block_q4_Kx8 *w, int s, __m512i q[4]) {
    const __m512i m4 = _mm512_set1_epi8(0xF);
    const __m512i a = load_pair(w->qs[4 * s]), b = load_pair(w->qs[4 * s + 2]);
    q[0] = _mm512_and_si512(a, m4);
    q[1] = _mm512_and_si512(_mm512_srli_epi16(a, 4), m4);
    q[2] = _mm512_and_si512(b, m4);
    q[3] = _mm512_and_si512(_mm512_srli_epi16(b, 4), m4);
}

/* ---- Q5_K ---- */

/* Sub-block s with the fifth bits: row r's 4 bytes of qh[s] in both of its lanes; piece p's
 * bits (bit p for the low nibbles, 4 + p for the high ones) move to bit 4 with one variable
 * shift (by lane: pieces p, p + 1) and a mask, and join the nibbles in one vpternlogd. */
INLINE void q5k_unpack(const block_q5_Kx8 *w, int s, __m512i q[4]) {
    const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i m4 = _mm512_set1_epi8(0xF), b4 = _mm512_set1_epi8(0x10);
    const __m512i hb = _mm512_permutexvar_epi32(
        dup, _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)w->qh[s])));
#pragma GCC unroll 2
    for (int p = 0; p < 4; p += 2) {
        const __m512i v = load_pair(w->qs[4 * s + p]);
        const __m512i up =
            _mm512_setr_epi32(4 - p, 3 - p, 4 - p, 3 - p, 4 - p, 3 - p, 4 - p, 3 - p, 4 - p, 3 - p,
                              4 - p, 3 - p, 4 - p, 3 - p, 4 - p, 3 - p);
        const __m512i down = _mm512_setr_epi32(p, p + 1, p, p + 1, p, p + 1, p, p + 1, p, p + 1, p,
                                               p + 1, p, p + 1, p, p + 1);
        /* (nibbles & 0x0F) | (bits & 0x10) */
        q[p] =
            _mm512_ternarylogic_epi32(v, m4, _mm512_and_si512(_mm512_sllv_epi32(hb, up), b4), 0xEA);
        q[p + 1] = _mm512_ternarylogic_epi32(
            _mm512_srli_epi16(v, 4), m4, _mm512_and_si512(_mm512_srlv_epi32(hb, down), b4), 0xEA);
    }
}

/* ---- one super-block of the 8 rows times NT tokens, added to acc[t] ---- */

/* Q4_K and Q5_K alike but for the unpacking and the sums' bound: a Q4_K lane's products of
 * a sub-block fit int16 together (30720), Q5_K's in two halves (31744 each). PF: prefetch
 * (a single token's one stream). */
INLINE void r8k_block(const void *wv, size_t bsize, const block_q8_K *const *y, __m512 *acc,
                      const int NT, const bool Q5, const bool PF) {
    const block_q4_Kx8 *w4 = wv;
    const block_q5_Kx8 *w5 = wv;
    /* The super-block about KERN_AVX512_PF_AHEAD bytes ahead. */
    const void *next = (const uint8_t *)wv + bsize * (KERN_AVX512_PF_AHEAD / bsize + 1);
    const int nl = (int)(bsize / 64);
    if (PF) prefetch_part(next, nl, 0);
    const r8k_scales S = Q5 ? unpack_scales(w5->d, w5->scales) : unpack_scales(w4->d, w4->scales);
    __m512i sumi[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < KERN_R8_NT; t++) sumi[t] = _mm512_setzero_si512(); /* all: else GCC warns */
#pragma GCC unroll 8
    for (int s = 0; s < 8; s++) {
        if (PF) prefetch_part(next, nl, 1 + s);
        __m512i q[4];
        if (Q5) q5k_unpack(w5, s, q);
        else q4k_unpack(w4, s, q);
        const __m512i sc = sub_scale(&S, s);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            const int8_t *v = y[t]->qs + 32 * s;
            const __m512i a = _mm512_dpbusd_epi32(
                _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[0], bcast8(v)), q[1], bcast8(v + 16));
            if (Q5) {
                const __m512i b = _mm512_dpbusd_epi32(
                    _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[2], bcast8(v + 8)), q[3],
                    bcast8(v + 24));
                sumi[t] = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(sumi[t], a, sc), b, sc);
            } else {
                const __m512i p = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(a, q[2], bcast8(v + 8)),
                                                      q[3], bcast8(v + 24));
                sumi[t] = _mm512_dpwssd_epi32(sumi[t], p, sc);
            }
        }
    }
    finish_block(&S, sumi, y, acc, NT);
}

INLINE void q4k_block(const block_q4_Kx8 *w, const block_q8_K *const *y, __m512 *acc,
                      const int NT) {
    r8k_block(w, sizeof *w, y, acc, NT, false, NT == 1);
}

INLINE void q5k_block(const block_q5_Kx8 *w, const block_q8_K *const *y, __m512 *acc,
                      const int NT) {
    r8k_block(w, sizeof *w, y, acc, NT, true, NT == 1);
}

/* ---- the kern_r8_fn drivers (avx2_int.h's, on 16-lane accumulators) ---- */

#define DEFINE_R8K(name, block_t, block_fn)                                                        \
    DEFINE_R8_Q8K_WITH(name, block_t, block_fn, __m512, _mm512_setzero_ps, store_rows, INLINE,     \
                       KERN_TARGET_VNNI)

DEFINE_R8K(q4_Kr8_vnni, block_q4_Kx8, q4k_block)
DEFINE_R8K(q5_Kr8_vnni, block_q5_Kx8, q5k_block)

/* ---- one token, S groups (kern_r8v_fn): super-block i of each group in turn ----
 * Unlike the 32-element types' (gemm_r8_avx512.c), each stream is also prefetched as the
 * one-group kernel does: a super-block takes longer to compute. TinyLlama-shape Q4_K_M
 * generation, 6 alternated rounds: 30.3 tokens/s with one stream, 32.5 with these (faster in
 * every round); without the prefetch they were slower than one stream (28.7 against 30.6). */

INLINE void q4k_v_block(const block_q4_Kx8 *w, const block_q8_K *y, __m512 *acc) {
    r8k_block(w, sizeof *w, &y, acc, 1, false, true);
}

INLINE void q5k_v_block(const block_q5_Kx8 *w, const block_q8_K *y, __m512 *acc) {
    r8k_block(w, sizeof *w, &y, acc, 1, true, true);
}

KERN_DEFINE_R8V_Q8K(q4_Kr8v_vnni, block_q4_Kx8, q4k_v_block)
KERN_DEFINE_R8V_Q8K(q5_Kr8v_vnni, block_q5_Kx8, q5k_v_block)

void kern_patch_avx512_r8k(kern_r8_fn *r8, kern_r8v_fn *r8v, bool vnni) {
    if (!vnni) return; /* AVX-512 without VNNI: the AVX2 kernels stay */
    r8v[KERN_TYPE_Q4_K_R8 - KERN_R8_FIRST] = q4_Kr8v_vnni;
    r8v[KERN_TYPE_Q5_K_R8 - KERN_R8_FIRST] = q5_Kr8v_vnni;
    r8[KERN_TYPE_Q4_K_R8 - KERN_R8_FIRST] = q4_Kr8_vnni;
    r8[KERN_TYPE_Q5_K_R8 - KERN_R8_FIRST] = q5_Kr8_vnni;
}
