/*
 * AVX2 kernel for Q6_K repacked 8 rows at a time (block_q6_Kx8, repack_q6k.c), one row per
 * 32-bit lane, up to 4 tokens (Q8_K) per unpacked weight register.
 *
 * A ql piece (4 bytes of each row) and the qh piece at the same offset give 4 runs of 4
 * elements each (low nibbles + qh bits 0-1, ... high nibbles + bits 6-7), unsigned 6-bit
 * values (q + 32). maddubs with the token's quants: pair sums <= 2 * 63 * 127, two pieces
 * still fit int16; one madd per 2 pieces with the sub-block's scales as int16 pairs [sc, sc]
 * per lane does the scale multiply. The +32 comes off once per block: 32 * sum_s sc_s *
 * bsum_s, a madd of [sc_s, sc_s+1] pairs with the token's bsums pairs.
 */
#include "avx2_int.h"

#define INLINE static inline __attribute__((always_inline))

/* Lane r = [scale 2p, scale 2p + 1] of row r as int16 (sign-extended). */
INLINE __m256i scale_pair(const int8_t *p) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
}

/* From scale_pair: lane r = [scale, scale] of the even (odd 0) or odd (odd 1) sub-block. */
INLINE __m256i scale_dup(__m256i pair, int odd) {
    const __m256i even_ctl = _mm256_setr_epi8(0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13,
                                              0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13);
    const __m256i odd_ctl = _mm256_setr_epi8(2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11, 14, 15, 14, 15,
                                             2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11, 14, 15, 14, 15);
    return _mm256_shuffle_epi8(pair, odd ? odd_ctl : even_ctl);
}

/* 6-bit quants: 4 low bits from nib, the 2 high bits already at bits 4-5 of hb. */
INLINE __m256i q6_quants(__m256i nib, __m256i hb) {
    return _mm256_or_si256(_mm256_and_si256(nib, _mm256_set1_epi8(0xF)),
                           _mm256_and_si256(hb, _mm256_set1_epi8(0x30)));
}

/* Two pieces of one run against the token's quants at y and y + 4. */
INLINE __m256i pair_dot(__m256i e0, __m256i e1, const int8_t *y) {
    return _mm256_add_epi16(_mm256_maddubs_epi16(e0, bcast4(y)),
                            _mm256_maddubs_epi16(e1, bcast4(y + 4)));
}

/* A single token streams the weights from memory, where the hardware prefetcher alone leaves
 * the bus idle part of the time: the next block's lines are asked for 4 at a time, one step
 * of the 8 (half, run, piece pair) steps each (prefetch_l1). */
#define R8Q6_PF_LINES 4 /* per step: 8 x 4 lines cover the 1680-byte block */
INLINE void prefetch_part(const block_q6_Kx8 *w, int step) {
    const uintptr_t p = (uintptr_t)(w + 1) + 64 * R8Q6_PF_LINES * (uintptr_t)step;
    for (int l = 0; l < R8Q6_PF_LINES; l++) prefetch_l1(p + 64 * (uintptr_t)l);
}

INLINE void q6_Kr8(int64_t nb, const block_q6_Kx8 *W, const uint8_t *xq, size_t x_row, float *Y,
                   size_t ldy, const int NT) {
    __m256 acc[KERN_R8_NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const block_q6_Kx8 *w = W + i;
        const block_q8_K *y[KERN_R8_NT];
        __m256i isum[KERN_R8_NT];
#pragma GCC unroll 8
        for (int t = 0; t < NT; t++) {
            y[t] = (const block_q8_K *)(xq + (size_t)t * x_row) + i;
            isum[t] = _mm256_setzero_si256();
        }
        /* The +32 of every quant: - 32 * sum_s sc_s * bsum_s. */
#pragma GCC unroll 8
        for (int p = 0; p < QK_K / 32; p++) {
            const __m256i sp = _mm256_slli_epi16(scale_pair(w->sc[p][0]), 5);
#pragma GCC unroll 8
            for (int t = 0; t < NT; t++)
                isum[t] = _mm256_sub_epi32(isum[t], _mm256_madd_epi16(sp, bcast4(y[t]->bsums + 2 * p)));
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++)
#pragma GCC unroll 2
            for (int kk = 0; kk < 2; kk++) {
                /* Runs at 0, 32, 64, 96 of the half: sub-blocks 8h + kk + 0, 2, 4, 6. */
                const __m256i sc0 = scale_dup(scale_pair(w->sc[4 * h][0]), kk);
                const __m256i sc1 = scale_dup(scale_pair(w->sc[4 * h + 1][0]), kk);
                const __m256i sc2 = scale_dup(scale_pair(w->sc[4 * h + 2][0]), kk);
                const __m256i sc3 = scale_dup(scale_pair(w->sc[4 * h + 3][0]), kk);
#pragma GCC unroll 2
                for (int pp = 0; pp < 2; pp++) {
                    const int k = 4 * kk + 2 * pp; /* pieces k, k + 1: elements 4k.. of a run */
                    if (NT == 1) prefetch_part(w, 4 * h + 2 * kk + pp);
                    const __m256i *qa = (const __m256i *)(w->ql + 32 * (16 * h + k));
                    const __m256i *qb = (const __m256i *)(w->ql + 32 * (16 * h + 8 + k));
                    const __m256i *qh = (const __m256i *)(w->qh + 32 * (8 * h + k));
                    const __m256i h0 = _mm256_loadu_si256(qh), h1 = _mm256_loadu_si256(qh + 1);
                    {
                        const __m256i a0 = _mm256_loadu_si256(qa), a1 = _mm256_loadu_si256(qa + 1);
                        const __m256i r0a = q6_quants(a0, _mm256_slli_epi16(h0, 4));
                        const __m256i r0b = q6_quants(a1, _mm256_slli_epi16(h1, 4));
                        const __m256i r2a = q6_quants(_mm256_srli_epi16(a0, 4), h0);
                        const __m256i r2b = q6_quants(_mm256_srli_epi16(a1, 4), h1);
#pragma GCC unroll 8
                        for (int t = 0; t < NT; t++) {
                            const int8_t *q = y[t]->qs + 128 * h + 4 * k;
                            isum[t] = _mm256_add_epi32(
                                isum[t], _mm256_add_epi32(_mm256_madd_epi16(pair_dot(r0a, r0b, q), sc0),
                                                          _mm256_madd_epi16(pair_dot(r2a, r2b, q + 64), sc2)));
                        }
                    }
                    {
                        const __m256i b0 = _mm256_loadu_si256(qb), b1 = _mm256_loadu_si256(qb + 1);
                        const __m256i r1a = q6_quants(b0, _mm256_slli_epi16(h0, 2));
                        const __m256i r1b = q6_quants(b1, _mm256_slli_epi16(h1, 2));
                        const __m256i r3a = q6_quants(_mm256_srli_epi16(b0, 4), _mm256_srli_epi16(h0, 2));
                        const __m256i r3b = q6_quants(_mm256_srli_epi16(b1, 4), _mm256_srli_epi16(h1, 2));
#pragma GCC unroll 8
                        for (int t = 0; t < NT; t++) {
                            const int8_t *q = y[t]->qs + 128 * h + 32 + 4 * k;
                            isum[t] = _mm256_add_epi32(
                                isum[t], _mm256_add_epi32(_mm256_madd_epi16(pair_dot(r1a, r1b, q), sc1),
                                                          _mm256_madd_epi16(pair_dot(r3a, r3b, q + 64), sc3)));
                        }
                    }
                }
            }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w->d));
#pragma GCC unroll 8
        for (int t = 0; t < NT; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(y[t]->d)),
                                     _mm256_cvtepi32_ps(isum[t]), acc[t]);
    }
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(Y + (size_t)t * ldy, acc[t]);
}

/* The kern_r8_fn entry (dc unused: Q8_K tokens carry their own scale). */
#define Q6_K(NT) ((void)dc, q6_Kr8(nb, W, xq, x_row, Y, ldy, NT))
KERN_DEFINE_R8(q6_Kr8_avx2, , Q6_K)
#undef Q6_K

/* Batches: per super-block, the offset term per token, then each (half, run, piece pair)
 * unpacked once (two streams of 4 registers, to stay within 16) for every token; the int32
 * sums wait in isum between pieces. */
INLINE void q6_K_stream(const block_q8_K *yb, int nt, int32_t *isum, int off, __m256i ra,
                        __m256i rb, __m256i sa, __m256i rc, __m256i rd, __m256i sb) {
    for (int t = 0; t < nt; t++) {
        const int8_t *q = yb[t].qs + off;
        const __m256i v = _mm256_add_epi32(_mm256_madd_epi16(pair_dot(ra, rb, q), sa),
                                           _mm256_madd_epi16(pair_dot(rc, rd, q + 64), sb));
        __m256i *p = (__m256i *)(isum + 8 * t);
        _mm256_store_si256(p, _mm256_add_epi32(_mm256_load_si256(p), v));
    }
}

static void q6_Kr8b_avx2(int64_t nb, const void *vW, const int8_t *xt, const float *dct,
                         int64_t ld, int nt, float *acc, float *Y, size_t ldy) {
    (void)dct;
    const block_q6_Kx8 *W = vW;
    int32_t isum[KERN_R8B_MAXT * 8] __attribute__((aligned(32)));
    memset(acc, 0, sizeof(float) * 8 * (size_t)nt);
    for (int64_t i = 0; i < nb; i++) {
        const block_q6_Kx8 *w = W + i;
        const block_q8_K *yb = (const block_q8_K *)xt + i * ld;
        __m256i sp[QK_K / 32];
        for (int p = 0; p < QK_K / 32; p++) sp[p] = _mm256_slli_epi16(scale_pair(w->sc[p][0]), 5);
        for (int t = 0; t < nt; t++) {
            __m256i o = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int s = 0; s < QK_K / 32; s++)
                o = _mm256_sub_epi32(o, _mm256_madd_epi16(sp[s], bcast4(yb[t].bsums + 2 * s)));
            _mm256_store_si256((__m256i *)(isum + 8 * t), o);
        }
        for (int h = 0; h < 2; h++)
            for (int kk = 0; kk < 2; kk++) {
                const __m256i sc0 = scale_dup(scale_pair(w->sc[4 * h][0]), kk);
                const __m256i sc1 = scale_dup(scale_pair(w->sc[4 * h + 1][0]), kk);
                const __m256i sc2 = scale_dup(scale_pair(w->sc[4 * h + 2][0]), kk);
                const __m256i sc3 = scale_dup(scale_pair(w->sc[4 * h + 3][0]), kk);
                for (int pp = 0; pp < 2; pp++) {
                    const int k = 4 * kk + 2 * pp;
                    const __m256i *qa = (const __m256i *)(w->ql + 32 * (16 * h + k));
                    const __m256i *qb = (const __m256i *)(w->ql + 32 * (16 * h + 8 + k));
                    const __m256i *qh = (const __m256i *)(w->qh + 32 * (8 * h + k));
                    const __m256i h0 = _mm256_loadu_si256(qh), h1 = _mm256_loadu_si256(qh + 1);
                    const __m256i a0 = _mm256_loadu_si256(qa), a1 = _mm256_loadu_si256(qa + 1);
                    q6_K_stream(yb, nt, isum, 128 * h + 4 * k,
                                q6_quants(a0, _mm256_slli_epi16(h0, 4)),
                                q6_quants(a1, _mm256_slli_epi16(h1, 4)),
                                sc0,
                                q6_quants(_mm256_srli_epi16(a0, 4), h0),
                                q6_quants(_mm256_srli_epi16(a1, 4), h1),
                                sc2);
                    const __m256i b0 = _mm256_loadu_si256(qb), b1 = _mm256_loadu_si256(qb + 1);
                    q6_K_stream(yb, nt, isum, 128 * h + 32 + 4 * k,
                                q6_quants(b0, _mm256_slli_epi16(h0, 2)),
                                q6_quants(b1, _mm256_slli_epi16(h1, 2)),
                                sc1,
                                q6_quants(_mm256_srli_epi16(b0, 4), _mm256_srli_epi16(h0, 2)),
                                q6_quants(_mm256_srli_epi16(b1, 4), _mm256_srli_epi16(h1, 2)),
                                sc3);
                }
            }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w->d));
        for (int t = 0; t < nt; t++) {
            const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(yb[t].d));
            const __m256i v = _mm256_load_si256((const __m256i *)(isum + 8 * t));
            _mm256_storeu_ps(acc + 8 * t,
                             _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(v), _mm256_loadu_ps(acc + 8 * t)));
        }
    }
    for (int t = 0; t < nt; t++) _mm256_storeu_ps(Y + (size_t)t * ldy, _mm256_loadu_ps(acc + 8 * t));
}

void kern_patch_avx2_r8q6k(kern_r8_fn *table, kern_r8b_fn *batch) {
    table[KERN_TYPE_Q6_K_R8 - KERN_R8_FIRST] = q6_Kr8_avx2;
    batch[KERN_TYPE_Q6_K_R8 - KERN_R8_FIRST] = q6_Kr8b_avx2;
}
