/*
 * Q6_K repacked 8 rows at a time (block_q6_Kx8): the layout conversion and the plain-C
 * product, written from the packed layout so that it defines it independently of the AVX2
 * kernel (gemm_r8q6k_avx2.c).
 *
 * In a row's Q6_K block, ql byte o (0..63) of half h holds elements 128 h + o (low nibble)
 * and 128 h + o + 64 (high nibble); qh byte l (0..31) holds the two high bits of elements
 * 128 h + l, + 32, + 64, + 96 (bits 0-1, 2-3, 4-5, 6-7). Sub-block s (16 elements) has scale
 * scales[s]. The packing only moves bytes: pieces of 4 bytes, 8 rows side by side.
 */
#include "kernels_int.h"

#include <string.h>

void kern_r8_q6_K_group(const void *W, int64_t nb, int64_t g, void *dst) {
    const block_q6_K *x = W;
    block_q6_Kx8 *o = dst;
    for (int64_t i = 0; i < nb; i++)
        for (int r = 0; r < 8; r++) {
            const block_q6_K *s = x + (8 * g + r) * nb + i;
            o[i].d[r] = s->d;
            for (int k = 0; k < QK_K / 16; k++) o[i].sc[k / 2][r][k % 2] = s->scales[k];
            for (int p = 0; p < 32; p++) memcpy(o[i].ql + 32 * p + 4 * r, s->ql + 4 * p, 4);
            for (int p = 0; p < 16; p++) memcpy(o[i].qh + 32 * p + 4 * r, s->qh + 4 * p, 4);
        }
}

void kern_r8_q6_K_row(const void *G, int64_t i0, int64_t i1, int r, void *dst) {
    const block_q6_Kx8 *x = G;
    block_q6_K *o = dst;
    for (int64_t i = i0; i < i1; i++, o++) {
        o->d = x[i].d[r];
        for (int k = 0; k < QK_K / 16; k++) o->scales[k] = x[i].sc[k / 2][r][k % 2];
        for (int p = 0; p < 32; p++) memcpy(o->ql + 4 * p, x[i].ql + 32 * p + 4 * r, 4);
        for (int p = 0; p < 16; p++) memcpy(o->qh + 4 * p, x[i].qh + 32 * p + 4 * r, 4);
    }
}

/* Element e (0..255) of row r, from the packed block: its 6-bit value minus 32. */
static int q6_at(const block_q6_Kx8 *b, int r, int e) {
    const int h = e / 128, f = e % 128;       /* half, element within it */
    const int o = f % 64, upper = f >= 64;    /* ql byte within the half, which nibble */
    const int l = f % 32, shift = 2 * (f / 32); /* qh byte, bit pair */
    const uint8_t ql = b->ql[32 * (16 * h + o / 4) + 4 * r + o % 4];
    const uint8_t qh = b->qh[32 * (8 * h + l / 4) + 4 * r + l % 4];
    return ((upper ? ql >> 4 : ql & 0xF) | ((qh >> shift) & 3) << 4) - 32;
}

/* Row r of one packed block times one token block, as vec_dot_q6_K_ref sums. */
static float q6kr8_block_dot(const void *vb, int r, const block_q8_K *y) {
    const block_q6_Kx8 *x = vb;
    int isum = 0;
    for (int s = 0; s < QK_K / 16; s++) {
        int d16 = 0;
        for (int e = 16 * s; e < 16 * s + 16; e++) d16 += q6_at(x, r, e) * y->qs[e];
        isum += x->sc[s / 2][r][s % 2] * d16;
    }
    return kern_f16_to_f32(x->d[r]) * y->d * (float)isum;
}

void kern_r8_q6_K_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,
                      const float *dc, float *Y, size_t ldy, int nt) {
    (void)dc;
    kern_r8k_tokens_ref(nb, W, sizeof(block_q6_Kx8), q6kr8_block_dot, xq, x_row, Y, ldy, nt);
}
