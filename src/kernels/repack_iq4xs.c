/*
 * IQ4_XS weights repacked 8 rows at a time (block_iq4_xsx8 in kernels_int.h): the layout
 * conversions and the plain-C kernel, which reads the packed layout element by element and is
 * the definition of the packed product. The AVX2 kernel is in gemm_r8iq4xs_avx2.c.
 *
 * A file block's scale of sub-block s is ls_s = (nibble s of scales_l) | (bits 2s, 2s + 1 of
 * scales_h) << 4; its nibbles need no regrouping.
 */
#include "kernels_int.h"

static int iq4xs_ls(const block_iq4_xs *b, int s) {
    return ((b->scales_l[s / 2] >> 4 * (s % 2)) & 0xF) | ((b->scales_h >> 2 * s) & 3) << 4;
}

/* ls_s of row r of a packed block. */
static int iq4xsr8_ls(const block_iq4_xsx8 *b, int r, int s) {
    if (s < 4) return b->sc[4 * r + s] & 0x3F;
    const int j = (s - 4) / 2, lo = (b->sc4[2 * r + j] >> 4 * (s % 2)) & 0xF;
    return lo | (b->sc[4 * r + s - 4] >> 6) << 4;
}

void kern_iq4_xsr8_group(const void *W, int64_t nb, int64_t g, void *dst) {
    const block_iq4_xs *x = W;
    block_iq4_xsx8 *o = dst;
    for (int64_t i = 0; i < nb; i++)
        for (int r = 0; r < 8; r++) {
            const block_iq4_xs *b = x + (8 * g + r) * nb + i;
            o[i].d[r] = b->d;
            for (int c = 0; c < 4; c++)
                o[i].sc[4 * r + c] = (uint8_t)(iq4xs_ls(b, c) | (iq4xs_ls(b, 4 + c) >> 4) << 6);
            for (int j = 0; j < 2; j++)
                o[i].sc4[2 * r + j] =
                    (uint8_t)((iq4xs_ls(b, 4 + 2 * j) & 0xF) | (iq4xs_ls(b, 5 + 2 * j) & 0xF) << 4);
            for (int j = 0; j < QK_K / 8; j++) memcpy(&o[i].qs[j][4 * r], b->qs + 4 * j, 4);
        }
}

void kern_iq4_xsr8_row(const void *G, int64_t i0, int64_t i1, int r, void *dst) {
    const block_iq4_xsx8 *x = G;
    block_iq4_xs *o = dst;
    for (int64_t i = i0; i < i1; i++, o++) {
        o->d = x[i].d[r];
        o->scales_h = 0;
        memset(o->scales_l, 0, sizeof o->scales_l);
        for (int s = 0; s < 8; s++) {
            const int ls = iq4xsr8_ls(&x[i], r, s);
            o->scales_l[s / 2] |= (uint8_t)((ls & 0xF) << 4 * (s % 2));
            o->scales_h |= (uint16_t)((ls >> 4) << 2 * s);
        }
        for (int j = 0; j < QK_K / 8; j++) memcpy(o->qs + 4 * j, &x[i].qs[j][4 * r], 4);
    }
}

/* Element e (0..31) of sub-block s of row r: its non-linear level. */
static inline int iq4xsr8_at(const block_iq4_xsx8 *b, int r, int s, int e) {
    const uint8_t v = b->qs[4 * s + (e % 16) / 4][4 * r + e % 4];
    return kern_iq4nl_values[e < 16 ? v & 0xF : v >> 4];
}

/* Row r of one packed block times one token block, as vec_dot_iq4_xs_ref sums. */
static float iq4xsr8_block_dot(const void *vb, int r, const block_q8_K *y) {
    const block_iq4_xsx8 *b = vb;
    int isum = 0;
    for (int s = 0; s < 8; s++) {
        int si = 0;
        for (int e = 0; e < 32; e++) si += iq4xsr8_at(b, r, s, e) * y->qs[32 * s + e];
        isum += (iq4xsr8_ls(b, r, s) - 32) * si;
    }
    return kern_f16_to_f32(b->d[r]) * y->d * (float)isum;
}

void kern_iq4_xsr8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row, const float *dc,
         float *Y, size_t ldy, int nt) {
    (void)dc;
    kern_r8k_tokens_ref(nb, W, sizeof(block_iq4_xsx8), iq4xsr8_block_dot, xq, x_row, Y, ldy, nt);
}
