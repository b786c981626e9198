/*
 * Q2_K weights repacked 8 rows at a time (block_q2_Kx8 in kernels_int.h): the layout
 * conversions and the plain-C kernel, which reads the packed layout element by element and is
 * the definition of the packed product. The AVX2 kernel is in gemm_r8q2k_avx2.c.
 *
 * Element j of a file block: bits 2 sh, 2 sh + 1 of qs[32 (j / 128) + j % 32], sh = j / 32 % 4
 * (Q3_K's low bits); its sub-block j / 16 has the scale byte scales[j / 16] (scale in the low
 * nibble, min in the high one). A sub-block's 16 elements are thus 16 consecutive bytes at one
 * shift. The scale bytes are copied as they are.
 */
#include "kernels_int.h"

/* Sub-block s (elements 16 s..16 s + 15) of a file block: its 16 bytes of qs start at
 * qs_base(s), its bits at shift qs_shift(s) (element 16 s + i is in byte qs_base(s) + i). */
static int qs_base(int s) { return 32 * (s / 8) + 16 * (s % 2); }
static int qs_shift(int s) { return 2 * (s / 2 % 4); }

/* Element e (0..15) of sub-block s of row r of a packed block: 0..3. */
static inline int q2kr8_at(const block_q2_Kx8 *b, int r, int s, int e) {
    return (b->qs[s][4 * r + e % 4] >> 2 * (e / 4)) & 3;
}

void kern_q2_Kr8_group(const void *W, int64_t nb, int64_t g, void *dst) {
    const block_q2_K *x = W;
    block_q2_Kx8 *o = dst;
    for (int64_t i = 0; i < nb; i++)
        for (int r = 0; r < 8; r++) {
            const block_q2_K *b = x + (8 * g + r) * nb + i;
            o[i].d[r] = b->d;
            o[i].dmin[r] = b->dmin;
            for (int w = 0; w < 4; w++) memcpy(&o[i].sm[w][4 * r], b->scales + 4 * w, 4);
            /* Byte c of the packed piece word gets element 4k + c at bits 2k: a word of 4
             * source bytes at a time, each byte's 2 bits masked in place (no bit crosses a
             * byte, whatever the byte order). */
            for (int s = 0; s < 16; s++) {
                const uint8_t *src = b->qs + qs_base(s);
                const int sh = qs_shift(s);
                uint32_t v = 0;
                for (int k = 0; k < 4; k++) {
                    uint32_t w;
                    memcpy(&w, src + 4 * k, 4);
                    v |= ((w >> sh) & 0x03030303u) << 2 * k;
                }
                memcpy(&o[i].qs[s][4 * r], &v, 4);
            }
        }
}

void kern_q2_Kr8_row(const void *G, int64_t i0, int64_t i1, int r, void *dst) {
    const block_q2_Kx8 *x = G;
    block_q2_K *o = dst;
    for (int64_t i = i0; i < i1; i++, o++) {
        o->d = x[i].d[r];
        o->dmin = x[i].dmin[r];
        for (int w = 0; w < 4; w++) memcpy(o->scales + 4 * w, &x[i].sm[w][4 * r], 4);
        memset(o->qs, 0, sizeof o->qs);
        for (int s = 0; s < 16; s++)
            for (int e = 0; e < 16; e++)
                o->qs[qs_base(s) + e] |= (uint8_t)(q2kr8_at(&x[i], r, s, e) << qs_shift(s));
    }
}

/* Row r of one packed block times one token block, as vec_dot_q2_K_ref sums. */
static float q2kr8_block_dot(const void *vb, int r, const block_q8_K *y) {
    const block_q2_Kx8 *b = vb;
    int isum = 0, summs = 0;
    for (int s = 0; s < 16; s++) {
        const int sm = b->sm[s / 4][4 * r + s % 4];
        int si = 0;
        for (int e = 0; e < 16; e++) si += q2kr8_at(b, r, s, e) * y->qs[16 * s + e];
        isum += (sm & 0xF) * si;
        summs += (sm >> 4) * y->bsums[s];
    }
    const float dall = y->d * kern_f16_to_f32(b->d[r]), dmin = y->d * kern_f16_to_f32(b->dmin[r]);
    return dall * (float)isum - dmin * (float)summs;
}

void kern_q2_Kr8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row, const float *dc,
                     float *Y, size_t ldy, int nt) {
    (void)dc;
    kern_r8k_tokens_ref(nb, W, sizeof(block_q2_Kx8), q2kr8_block_dot, xq, x_row, Y, ldy, nt);
}
