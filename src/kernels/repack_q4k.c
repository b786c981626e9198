/*
 * Q4_K weights repacked 8 rows at a time (block_q4_Kx8 in kernels_int.h): the layout
 * conversions (8 rows to the packed layout, one row back) and the plain-C kernel, which reads
 * the packed layout element by element and is the definition of the packed product. The AVX2
 * kernel is in gemm_r8k_avx2.c.
 */
#include "kernels_int.h"

/* File sub-blocks 2k and 2k + 1 are the low and high nibbles of the bytes 32k..32k + 31. */
void kern_q4k_regroup(const uint8_t *qs, uint8_t out[QK_K / 2]) {
    for (int k = 0; k < 4; k++) {
        const uint8_t *b = qs + 32 * k;
        for (int e = 0; e < 16; e++) {
            out[32 * k + e] = (uint8_t)((b[e] & 0xF) | b[e + 16] << 4);
            out[32 * k + 16 + e] = (uint8_t)(b[e] >> 4 | (b[e + 16] & 0xF0));
        }
    }
}

void kern_q4_Kr8_group(const void *W, int64_t nb, int64_t g, void *dst) {
    const block_q4_K *x = W;
    block_q4_Kx8 *o = dst;
    uint8_t q[QK_K / 2];
    for (int64_t i = 0; i < nb; i++)
        for (int r = 0; r < 8; r++) {
            const block_q4_K *b = x + (8 * g + r) * nb + i;
            o[i].d[r] = b->d;
            o[i].dmin[r] = b->dmin;
            for (int w = 0; w < 3; w++) memcpy(&o[i].scales[w][4 * r], b->scales + 4 * w, 4);
            kern_q4k_regroup(b->qs, q);
            for (int j = 0; j < QK_K / 8; j++) memcpy(&o[i].qs[j][4 * r], q + 4 * j, 4);
        }
}

/* The inverse of the regrouping: file byte e of sub-block pair k holds element e of
 * sub-blocks 2k (low nibble) and 2k + 1 (high nibble). */
static uint8_t q4k_file_byte(const uint8_t *lo_sb, const uint8_t *hi_sb, int e) {
    const int a = e < 16 ? lo_sb[e] & 0xF : lo_sb[e - 16] >> 4;
    const int b = e < 16 ? hi_sb[e] & 0xF : hi_sb[e - 16] >> 4;
    return (uint8_t)(a | b << 4);
}

void kern_q4k_ungroup(const uint8_t *q, uint8_t qs[QK_K / 2]) {
    for (int k = 0; k < 4; k++)
        for (int e = 0; e < 32; e++) qs[32 * k + e] = q4k_file_byte(q + 32 * k, q + 32 * k + 16, e);
}

void kern_q4_Kr8_row(const void *G, int64_t i0, int64_t i1, int r, void *dst) {
    const block_q4_Kx8 *x = G;
    block_q4_K *o = dst;
    uint8_t q[QK_K / 2]; /* the row's regrouped nibbles: 16 bytes per sub-block */
    for (int64_t i = i0; i < i1; i++, o++) {
        o->d = x[i].d[r];
        o->dmin = x[i].dmin[r];
        for (int w = 0; w < 3; w++) memcpy(o->scales + 4 * w, &x[i].scales[w][4 * r], 4);
        for (int j = 0; j < QK_K / 8; j++) memcpy(q + 4 * j, &x[i].qs[j][4 * r], 4);
        kern_q4k_ungroup(q, o->qs);
    }
}

/* Element e (0..31) of sub-block s of row r in a packed block. */
static inline int q4kr8_at(const block_q4_Kx8 *b, int r, int s, int e) {
    const uint8_t v = b->qs[4 * s + (e % 16) / 4][4 * r + e % 4];
    return e < 16 ? v & 0xF : v >> 4;
}

/* Scale and min of sub-block s of row r, from the row's 12 bytes gathered back. */
static inline void q4kr8_scale_min(const block_q4_Kx8 *b, int r, int s, uint8_t *sc, uint8_t *m) {
    uint8_t q[K_SCALE_SIZE];
    for (int w = 0; w < 3; w++) memcpy(q + 4 * w, &b->scales[w][4 * r], 4);
    kern_scale_min_k4(s, q, sc, m);
}

/* Row r of one packed block times one token block, as vec_dot_q4_K_ref sums. */
static float q4kr8_block_dot(const void *vb, int r, const block_q8_K *y) {
    const block_q4_Kx8 *b = vb;
    int isum = 0, summs = 0;
    for (int s = 0; s < 8; s++) {
        uint8_t sc, m;
        q4kr8_scale_min(b, r, s, &sc, &m);
        int si = 0, ys = 0;
        for (int e = 0; e < 32; e++) {
            si += q4kr8_at(b, r, s, e) * y->qs[32 * s + e];
            ys += y->qs[32 * s + e];
        }
        isum += sc * si;
        summs += m * ys;
    }
    const float d = kern_f16_to_f32(b->d[r]) * y->d, dmin = kern_f16_to_f32(b->dmin[r]) * y->d;
    return d * (float)isum - dmin * (float)summs;
}

void kern_q4_Kr8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row, const float *dc,
         float *Y, size_t ldy, int nt) {
    (void)dc;
    kern_r8k_tokens_ref(nb, W, sizeof(block_q4_Kx8), q4kr8_block_dot, xq, x_row, Y, ldy, nt);
}
