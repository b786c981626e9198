/*
 * Q3_K weights repacked 8 rows at a time (block_q3_Kx8 in kernels_int.h): the layout
 * conversions and the plain-C kernel, which reads the packed layout element by element and is
 * the definition of the packed product. The AVX2 kernel is in gemm_r8q3k_avx2.c.
 *
 * Element j of a file block: its low 2 bits are bits 2 sh, 2 sh + 1 of qs[32 (j / 128) + l],
 * its high bit bit 4 (j / 128) + sh of hmask[l] (sh = j / 32 % 4, l = j % 32); the value is
 * the low bits, less 4 where the high bit is clear. The scale bytes are copied as they are.
 */
#include "kernels_int.h"

/* Byte, bit of element j's low bits (bits 2 sh, 2 sh + 1 of qs) and high bit (of hmask). */
static int q3k_qs_byte(int j) { return 32 * (j / 128) + j % 32; }
static int q3k_sh(int j) { return j / 32 % 4; }
static int q3k_hm_bit(int j) { return 4 * (j / 128) + q3k_sh(j); }

/* Element e (0..15) of sub-block s of row r of a packed block: q + 4, 0..7. */
static inline int q3kr8_at(const block_q3_Kx8 *b, int r, int s, int e) {
    const int k = e / 4, c = e % 4;
    const int lo = (b->qs[s][4 * r + c] >> 2 * k) & 3;
    const int hi = (b->hm[s / 2][4 * r + c] >> (4 * (s % 2) + k)) & 1;
    return lo | hi << 2;
}

void kern_q3_Kr8_group(const void *W, int64_t nb, int64_t g, void *dst) {
    const block_q3_K *x = W;
    block_q3_Kx8 *o = dst;
    for (int64_t i = 0; i < nb; i++) {
        memset(o[i].hm, 0, sizeof o[i].hm); /* two sub-blocks per word: ORed in */
        for (int r = 0; r < 8; r++) {
            const block_q3_K *b = x + (8 * g + r) * nb + i;
            o[i].d[r] = b->d;
            for (int w = 0; w < 3; w++) memcpy(&o[i].scales[w][4 * r], b->scales + 4 * w, 4);
            /* Sub-block s is elements j = 16 s + 4k + c: 16 consecutive bytes of qs at one
             * shift, and of hmask at one bit. Byte c of the packed words gets element 4k + c,
             * a word of 4 source bytes at a time, each byte's bits masked in place (no bit
             * crosses a byte, whatever the byte order). */
            for (int s = 0; s < 16; s++) {
                const int j0 = 16 * s, sh = q3k_sh(j0), hb = q3k_hm_bit(j0);
                uint32_t lo = 0, hi = 0, w;
                for (int k = 0; k < 4; k++) {
                    memcpy(&w, b->qs + q3k_qs_byte(j0) + 4 * k, 4);
                    lo |= ((w >> 2 * sh) & 0x03030303u) << 2 * k;
                    memcpy(&w, b->hmask + j0 % 32 + 4 * k, 4);
                    hi |= ((w >> hb) & 0x01010101u) << (4 * (s % 2) + k);
                }
                memcpy(&o[i].qs[s][4 * r], &lo, 4);
                uint32_t h;
                memcpy(&h, &o[i].hm[s / 2][4 * r], 4);
                h |= hi;
                memcpy(&o[i].hm[s / 2][4 * r], &h, 4);
            }
        }
    }
}

void kern_q3_Kr8_row(const void *G, int64_t i0, int64_t i1, int r, void *dst) {
    const block_q3_Kx8 *x = G;
    block_q3_K *o = dst;
    for (int64_t i = i0; i < i1; i++, o++) {
        o->d = x[i].d[r];
        for (int w = 0; w < 3; w++) memcpy(o->scales + 4 * w, &x[i].scales[w][4 * r], 4);
        memset(o->hmask, 0, sizeof o->hmask);
        memset(o->qs, 0, sizeof o->qs);
        for (int j = 0; j < QK_K; j++) {
            const int v = q3kr8_at(&x[i], r, j / 16, j % 16);
            o->qs[q3k_qs_byte(j)] |= (uint8_t)((v & 3) << 2 * q3k_sh(j));
            o->hmask[j % 32] |= (uint8_t)((v >> 2) << q3k_hm_bit(j));
        }
    }
}

/* Row r of one packed block times one token block, as vec_dot_q3_K_ref sums. */
static float q3kr8_block_dot(const void *vb, int r, const block_q8_K *y) {
    const block_q3_Kx8 *b = vb;
    uint8_t packed[12], sc[16];
    for (int w = 0; w < 3; w++) memcpy(packed + 4 * w, &b->scales[w][4 * r], 4);
    kern_q3k_unpack_scales(packed, sc);
    int isum = 0;
    for (int s = 0; s < 16; s++) {
        int si = 0;
        for (int e = 0; e < 16; e++) si += (q3kr8_at(b, r, s, e) - 4) * y->qs[16 * s + e];
        isum += ((int)sc[s] - 32) * si;
    }
    return kern_f16_to_f32(b->d[r]) * y->d * (float)isum;
}

void kern_q3_Kr8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row, const float *dc,
         float *Y, size_t ldy, int nt) {
    (void)dc;
    kern_r8k_tokens_ref(nb, W, sizeof(block_q3_Kx8), q3kr8_block_dot, xq, x_row, Y, ldy, nt);
}
