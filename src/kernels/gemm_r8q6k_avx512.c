/*
 * AVX-512 VNNI kernels for Q6_K repacked 8 rows at a time (block_q6_Kx8, repack_q6k.c): the
 * mat-vec (1..4 tokens) and batch kinds of gemm_r8q6k_avx2.c on the same layout, Q8_K tokens.
 * NOTE: written without AVX-512 hardware at hand; verified through the SIMDe build of this
 * file (avx512_emu.h) against the unpacked product and the golden logits (repack_test.c,
 * engine_golden_test.c), and checked once more at start-up (kern_selfcheck_r8) on the CPU
 * that runs them.
 *
 * Lanes as gemm_r8_avx512.c's: load_pair puts pieces j, j + 1 of row r in lanes 2r, 2r + 1,
 * so a token's 8 matching quants are one 64-bit broadcast. A pair of ql pieces and the qh
 * pair at the same offset unpack to 4 registers of 6-bit quants kept biased (q + 32, 0..63,
 * unsigned): 8 elements of each of the half's 4 runs of 32 (ql's low nibbles: runs 0 and 1,
 * high nibbles: runs 2 and 3), each register within one 16-element sub-block.
 *
 * Products: the two registers of a sub-block (its elements 0-7 and 8-15) against the token by
 * vpmaddubsw, added in int16 (|sum| <= 4 * 63 * 128 = 32256: exact), then one vpdpwssd with
 * the sub-block's int8 scale in every word multiplies and adds them to the token's int32 sums.
 * The bias comes off with the token's bsums: 4 vpdpwssd of -32 * (scale pairs), sub-blocks
 * 4m, 4m + 1 in lane 2r and 4m + 2, 4m + 3 in lane 2r + 1, times bsums 4m..4m+3 broadcast.
 * Every integer sum is exact (|per lane| < 2^28); the two lanes of a row are summed in float
 * once per call.
 *
 * Instructions per token and super-block (8 rows x 256 elements), not counting loads:
 *   32 maddubs + 16 adds + 16 vpdpwssd for the scales + 4 vpdpwssd for the bias + mul + cvt +
 *   FMA = 71 (AVX2: 64 maddubs + 32 adds + 32 madd + 32 adds, 8 madd + 8 subs for the bias,
 *   mul + cvt + FMA = 179); the token's 36 broadcasts are loads in both.
 * Per super-block, shared by the tokens: 24 vpermd + 88 ops to unpack the quants, 4 sign
 * extensions + 16 vpermw for the scales, 4 vpermd + 4 multiplies by -32 for the bias scales
 * (AVX2: 272 and 48). About 2.5x fewer instructions per token-block, 2.3x per block for a
 * single token; that one is bound by memory bandwidth either way. Unmeasured.
 */
#include "avx512_int.h"

/* Every kernel here uses VNNI and is installed only where the CPU has it. */
#define INLINE KERN_AVX512_INLINE KERN_TARGET_VNNI

/* Bits 0-3 of lo and 4-7 of hi per byte (vpternlog with a 0x0F mask). vpternlog overwrites
 * its first operand: that is the caller's temporary, hi (hi_lo) or lo (lo_hi), so the mask
 * needs no copy. */
INLINE __m512i hi_lo(__m512i hi, __m512i lo) {
    return _mm512_ternarylogic_epi32(hi, lo, _mm512_set1_epi8(0x0F), 0xD8); /* c ? b : a */
}
INLINE __m512i lo_hi(__m512i lo, __m512i hi) {
    return _mm512_ternarylogic_epi32(lo, hi, _mm512_set1_epi8(0x0F), 0xE4); /* c ? a : b */
}

/* Step s (0..3: half h = s / 2, kk = s % 2) of a super-block: pieces 4kk..4kk+3 of each run of
 * half h, q[2 rho + pp] = run rho's pieces 4kk + 2pp, + 1 (elements 32 rho + 16kk + 8pp ..
 * + 7 of the half: sub-block 8h + 2 rho + kk). qh bits 2 rho, 2 rho + 1 are run rho's: masked
 * to 0x33 after a shift of 0 or 2 (runs 0, 2 or 1, 3) so that the ones needed sit at bits 0-1
 * and 4-5 with zeros above each pair; the 16-bit shifts' spill between bytes lands in bits
 * that the select drops. */
INLINE void q6_unpack(const block_q6_Kx8 *w, int s, __m512i q[8]) {
    const int h = s / 2, kk = s % 2;
    const __m512i m33 = _mm512_set1_epi8(0x33);
#pragma GCC unroll 2
    for (int pp = 0; pp < 2; pp++) {
        const int k = 4 * kk + 2 * pp;
        const __m512i a = load_pair(w->ql + 32 * (16 * h + k));     /* runs 0, 2 */
        const __m512i b = load_pair(w->ql + 32 * (16 * h + 8 + k)); /* runs 1, 3 */
        const __m512i hq = load_pair(w->qh + 32 * (8 * h + k));
        const __m512i h02 = _mm512_and_si512(hq, m33);
        const __m512i h13 = _mm512_and_si512(_mm512_srli_epi16(hq, 2), m33);
        q[pp] = hi_lo(_mm512_slli_epi16(h02, 4), a);
        q[2 + pp] = hi_lo(_mm512_slli_epi16(h13, 4), b);
        q[4 + pp] = lo_hi(_mm512_srli_epi16(a, 4), h02);
        q[6 + pp] = lo_hi(_mm512_srli_epi16(b, 4), h13);
    }
}

/* The 16 scales of the 8 rows as int16: z[m] from sc[2m], sc[2m + 1] (sub-blocks 4m..4m+3),
 * row r's pair of sc[2m] in dword r, its pair of sc[2m + 1] in dword 8 + r. */
INLINE void q6_scales(const block_q6_Kx8 *w, __m512i z[4]) {
#pragma GCC unroll 4
    for (int m = 0; m < 4; m++)
        z[m] = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)w->sc[2 * m]));
}

/* Step s's scales: sc[rho] = sub-block 8h + 2 rho + kk's scale of row r in every word of
 * lanes 2r, 2r + 1; it is word 16 (rho % 2) + 2r + kk of z[2h + rho / 2]. */
INLINE void q6_step_scales(const __m512i z[4], int s, __m512i sc[4]) {
    static const int16_t rows[32] = {0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6,
                                     8, 8, 8, 8, 10, 10, 10, 10, 12, 12, 12, 12, 14, 14, 14, 14};
    const int h = s / 2, kk = s % 2;
    const __m512i base = _mm512_loadu_si512(rows);
#pragma GCC unroll 4
    for (int rho = 0; rho < 4; rho++) {
        const __m512i idx = _mm512_add_epi16(base, _mm512_set1_epi16((short)(16 * (rho % 2) + kk)));
        sc[rho] = _mm512_permutexvar_epi16(idx, z[2 * h + rho / 2]);
    }
}

/* The bias's scales: off[m] = -32 * (row r's scales 4m, 4m + 1 in lane 2r, 4m + 2, 4m + 3 in
 * lane 2r + 1), the lanes of a token's bsums 4m..4m+3 broadcast. */
INLINE void q6_bias_scales(const __m512i z[4], __m512i off[4]) {
    const __m512i il = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
#pragma GCC unroll 4
    for (int m = 0; m < 4; m++)
        off[m] = _mm512_mullo_epi16(_mm512_permutexvar_epi32(il, z[m]), _mm512_set1_epi16(-32));
}

/* isum - 32 * sum_s scale_s * bsum_s, per lane. */
INLINE __m512i q6_bias(const __m512i off[4], const int16_t *bsums, __m512i isum) {
#pragma GCC unroll 4
    for (int m = 0; m < 4; m++) isum = _mm512_dpwssd_epi32(isum, off[m], bcast8(bsums + 4 * m));
    return isum;
}

/* isum + step s's products with one token's quants qs (the whole block's 256). */
INLINE __m512i q6_dot(const __m512i q[8], const __m512i sc[4], const int8_t *qs, int s,
                      __m512i isum) {
    const int8_t *y = qs + 128 * (s / 2) + 16 * (s % 2);
#pragma GCC unroll 4
    for (int rho = 0; rho < 4; rho++) {
        const int8_t *yr = y + 32 * rho;
        const __m512i p = _mm512_add_epi16(_mm512_maddubs_epi16(q[2 * rho], bcast8(yr)),
                                           _mm512_maddubs_epi16(q[2 * rho + 1], bcast8(yr + 8)));
        isum = _mm512_dpwssd_epi32(isum, p, sc[rho]);
    }
    return isum;
}

/* A single token streams the weights: with each step, ask for 7 lines of the block about
 * KERN_AVX512_PF_AHEAD bytes ahead (4 x 7 lines cover its 1680 bytes), into L2. */
#define R8Q6_PF_LINES 7
INLINE void prefetch_step(const block_q6_Kx8 *w, int s) {
    const uintptr_t p = (uintptr_t)(w + KERN_AVX512_PF_AHEAD / sizeof *w + 1) +
                        64 * R8Q6_PF_LINES * (uintptr_t)s;
    for (int l = 0; l < R8Q6_PF_LINES; l++) prefetch_l2(p + 64 * (uintptr_t)l);
}

/* Block w of the 8 rows times NT tokens y[t], added to acc[t]; PF: prefetch (a single
 * token's one stream). */
INLINE void q6_block(const block_q6_Kx8 *w, const block_q8_K *const *y, __m512 *acc,
                     const int NT, const bool PF) {
    __m512i isum[KERN_R8_NT], z[4], off[4];
    q6_scales(w, z);
    q6_bias_scales(z, off);
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) isum[t] = q6_bias(off, y[t]->bsums, _mm512_setzero_si512());
#pragma GCC unroll 4
    for (int s = 0; s < 4; s++) {
        if (PF) prefetch_step(w, s);
        __m512i q[8], sc[4];
        q6_unpack(w, s, q);
        q6_step_scales(z, s, sc);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) isum[t] = q6_dot(q, sc, y[t]->qs, s, isum[t]);
    }
    const __m512 dw = row_scales(w->d);
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++)
        acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(y[t]->d)),
                                 _mm512_cvtepi32_ps(isum[t]), acc[t]);
}

INLINE void q6_Kr8(int64_t nb, const block_q6_Kx8 *W, const uint8_t *xq, size_t x_row, float *Y,
                   size_t ldy, const int NT) {
    __m512 acc[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const block_q8_K *y[KERN_R8_NT];
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) y[t] = (const block_q8_K *)(xq + (size_t)t * x_row) + i;
        q6_block(W + i, y, acc, NT, NT == 1);
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) store_rows(Y + (size_t)t * ldy, acc[t]);
}

/* One token, S groups (kern_r8v_fn): block i of each group in turn, each stream prefetched
 * as the one-group kernel does (gemm_r8k_avx512.c says why). */
INLINE void q6_v_block(const block_q6_Kx8 *w, const block_q8_K *y, __m512 *acc) {
    q6_block(w, &y, acc, 1, true);
}
KERN_DEFINE_R8V_Q8K(q6_Kr8v_vnni, block_q6_Kx8, q6_v_block)

/* The kern_r8_fn entry (dc unused: Q8_K tokens carry their own scale). */
#define Q6_K(NT) ((void)dc, q6_Kr8(nb, W, xq, x_row, Y, ldy, NT))
KERN_DEFINE_R8(q6_Kr8_vnni, KERN_TARGET_VNNI, Q6_K)
#undef Q6_K

/* Batches: each step's 8 registers of quants unpacked once for every token; a token's int32
 * sums wait in isum between steps (the bias starts them, the last step ends the block). */
KERN_TARGET_VNNI static void q6_Kr8b_vnni(int64_t nb, const void *vW, const int8_t *xt,
                                          const float *dct, int64_t ld, int nt, float *acc8,
                                          float *Y, size_t ldy) {
    const block_q6_Kx8 *W = vW;
    float acc[KERN_R8B_MAXT][16] __attribute__((aligned(64)));
    int32_t isum[KERN_R8B_MAXT][16] __attribute__((aligned(64)));
    (void)dct;
    (void)acc8;
    for (int t = 0; t < nt; t++) _mm512_store_ps(acc[t], _mm512_setzero_ps());
    for (int64_t i = 0; i < nb; i++) {
        const block_q6_Kx8 *w = W + i;
        const block_q8_K *yb = (const block_q8_K *)xt + i * ld;
        __m512i z[4], off[4];
        q6_scales(w, z);
        q6_bias_scales(z, off);
        const __m512 dw = row_scales(w->d);
#pragma GCC unroll 4
        for (int s = 0; s < 4; s++) {
            __m512i q[8], sc[4];
            q6_unpack(w, s, q);
            q6_step_scales(z, s, sc);
            for (int t = 0; t < nt; t++) {
                __m512i v = s == 0 ? q6_bias(off, yb[t].bsums, _mm512_setzero_si512())
                                   : _mm512_load_si512(isum[t]);
                v = q6_dot(q, sc, yb[t].qs, s, v);
                if (s < 3) {
                    _mm512_store_si512(isum[t], v);
                    continue;
                }
                const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(yb[t].d));
                _mm512_store_ps(acc[t],
                                _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(v), _mm512_load_ps(acc[t])));
            }
        }
    }
    for (int t = 0; t < nt; t++) store_rows(Y + (size_t)t * ldy, _mm512_load_ps(acc[t]));
}

void kern_patch_avx512_r8q6k(kern_r8_fn *r8, kern_r8b_fn *r8b, kern_r8v_fn *r8v) {
    r8v[KERN_TYPE_Q6_K_R8 - KERN_R8_FIRST] = q6_Kr8v_vnni;
    r8[KERN_TYPE_Q6_K_R8 - KERN_R8_FIRST] = q6_Kr8_vnni;
    r8b[KERN_TYPE_Q6_K_R8 - KERN_R8_FIRST] = q6_Kr8b_vnni;
}
