/*
 * Q5_K weights repacked 8 rows at a time (block_q5_Kx8 in kernels_int.h): the layout
 * conversions and the plain-C kernel, which reads the packed layout element by element and is
 * the definition of the packed product. The AVX2 kernel is in gemm_r8q5k_avx2.c.
 *
 * A Q5_K block is a Q4_K block (scales and nibbles alike, packed as Q4_K's) plus qh: bit s of
 * qh[l] is the fifth bit of element l of sub-block s.
 */
#include "kernels_int.h"

/* A row's fifth-bit word for sub-block s (block_q5_Kx8's qh; byte c at c), from its file
 * qh: 4 source bytes at a time, each byte's bit s masked in place (no bit crosses a byte,
 * whatever the byte order). */
static uint32_t q5k_hb_word(const uint8_t *qh, int s) {
    uint32_t v = 0, w;
    for (int p = 0; p < 4; p++) {
        memcpy(&w, qh + 4 * p, 4);
        v |= ((w >> s) & 0x01010101u) << p;
        memcpy(&w, qh + 16 + 4 * p, 4);
        v |= ((w >> s) & 0x01010101u) << (4 + p);
    }
    return v;
}

void kern_q5_Kr8_group(const void *W, int64_t nb, int64_t g, void *dst) {
    const block_q5_K *x = W;
    block_q5_Kx8 *o = dst;
    uint8_t q[QK_K / 2];
    for (int64_t i = 0; i < nb; i++)
        for (int r = 0; r < 8; r++) {
            const block_q5_K *b = x + (8 * g + r) * nb + i;
            o[i].d[r] = b->d;
            o[i].dmin[r] = b->dmin;
            for (int w = 0; w < 3; w++) memcpy(&o[i].scales[w][4 * r], b->scales + 4 * w, 4);
            for (int s = 0; s < 8; s++) {
                const uint32_t v = q5k_hb_word(b->qh, s);
                memcpy(&o[i].qh[s][4 * r], &v, 4);
            }
            kern_q4k_regroup(b->qs, q);
            for (int j = 0; j < QK_K / 8; j++) memcpy(&o[i].qs[j][4 * r], q + 4 * j, 4);
        }
}

/* Element e (0..31) of sub-block s of row r: the nibble and the fifth bit, 0..31. */
static inline int q5kr8_at(const block_q5_Kx8 *b, int r, int s, int e) {
    const int p = (e % 16) / 4, c = e % 4, hi = e >= 16;
    const uint8_t v = b->qs[4 * s + p][4 * r + c];
    const int h = (b->qh[s][4 * r + c] >> (4 * hi + p)) & 1;
    return (hi ? v >> 4 : v & 0xF) | h << 4;
}

void kern_q5_Kr8_row(const void *G, int64_t i0, int64_t i1, int r, void *dst) {
    const block_q5_Kx8 *x = G;
    block_q5_K *o = dst;
    uint8_t q[QK_K / 2];
    for (int64_t i = i0; i < i1; i++, o++) {
        o->d = x[i].d[r];
        o->dmin = x[i].dmin[r];
        for (int w = 0; w < 3; w++) memcpy(o->scales + 4 * w, &x[i].scales[w][4 * r], 4);
        for (int j = 0; j < QK_K / 8; j++) memcpy(q + 4 * j, &x[i].qs[j][4 * r], 4);
        kern_q4k_ungroup(q, o->qs);
        memset(o->qh, 0, sizeof o->qh);
        for (int s = 0; s < 8; s++)
            for (int l = 0; l < 32; l++)
                o->qh[l] |= (uint8_t)((q5kr8_at(&x[i], r, s, l) >> 4) << s);
    }
}

/* Row r of one packed block times one token block, as vec_dot_q5_K_ref sums. */
static float q5kr8_block_dot(const void *vb, int r, const block_q8_K *y) {
    const block_q5_Kx8 *b = vb;
    uint8_t scales[K_SCALE_SIZE];
    for (int w = 0; w < 3; w++) memcpy(scales + 4 * w, &b->scales[w][4 * r], 4);
    int isum = 0, summs = 0;
    for (int s = 0; s < 8; s++) {
        uint8_t sc, m;
        kern_scale_min_k4(s, scales, &sc, &m);
        int si = 0, ys = 0;
        for (int e = 0; e < 32; e++) {
            si += q5kr8_at(b, r, s, e) * y->qs[32 * s + e];
            ys += y->qs[32 * s + e];
        }
        isum += sc * si;
        summs += m * ys;
    }
    const float d = kern_f16_to_f32(b->d[r]) * y->d, dmin = kern_f16_to_f32(b->dmin[r]) * y->d;
    return d * (float)isum - dmin * (float)summs;
}

void kern_q5_Kr8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row, const float *dc,
         float *Y, size_t ldy, int nt) {
    (void)dc;
    kern_r8k_tokens_ref(nb, W, sizeof(block_q5_Kx8), q5kr8_block_dot, xq, x_row, Y, ldy, nt);
}
