/*
 * Reference dot products of the 32-element block types against their activation format:
 * Q4_0, Q5_0, Q8_0, IQ4_NL with Q8_0; Q4_1, Q5_1 with Q8_1 (llama.cpp's pairs, so logits
 * match it). Integer sums per block, then one float multiply-add per block.
 */
#include "kernels_int.h"

#define H2F(h) kern_f16_to_f32(h)

void kern_vec_dot_q4_0_ref(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q4_0 *x = vx;
    const block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        int si = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            si += ((x[i].qs[j] & 0x0F) - 8) * y[i].qs[j];
            si += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + QK4_0 / 2];
        }
        sum += (float)si * (H2F(x[i].d) * H2F(y[i].d));
    }
    *s = sum;
}

void kern_vec_dot_q4_1_ref(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q4_1 *x = vx;
    const block_q8_1 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_1; i++) {
        int si = 0;
        for (int j = 0; j < QK4_1 / 2; j++) {
            si += (x[i].qs[j] & 0x0F) * y[i].qs[j];
            si += (x[i].qs[j] >> 4) * y[i].qs[j + QK4_1 / 2];
        }
        sum += (H2F(x[i].d) * H2F(y[i].d)) * (float)si + H2F(x[i].m) * H2F(y[i].s);
    }
    *s = sum;
}

static inline uint32_t q5_high(const uint8_t qh[4]) {
    uint32_t h;
    memcpy(&h, qh, 4);
    return h;
}

void kern_vec_dot_q5_0_ref(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q5_0 *x = vx;
    const block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK5_0; i++) {
        const uint32_t qh = q5_high(x[i].qh);
        int si = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            const int h0 = (int)((qh >> j) << 4) & 0x10;
            const int h1 = (int)(qh >> (j + 12)) & 0x10;
            si += (((x[i].qs[j] & 0x0F) | h0) - 16) * y[i].qs[j];
            si += (((x[i].qs[j] >> 4) | h1) - 16) * y[i].qs[j + QK5_0 / 2];
        }
        sum += (float)si * (H2F(x[i].d) * H2F(y[i].d));
    }
    *s = sum;
}

void kern_vec_dot_q5_1_ref(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q5_1 *x = vx;
    const block_q8_1 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK5_1; i++) {
        const uint32_t qh = q5_high(x[i].qh);
        int si = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            const int h0 = (int)((qh >> j) << 4) & 0x10;
            const int h1 = (int)(qh >> (j + 12)) & 0x10;
            si += ((x[i].qs[j] & 0x0F) | h0) * y[i].qs[j];
            si += ((x[i].qs[j] >> 4) | h1) * y[i].qs[j + QK5_1 / 2];
        }
        sum += (H2F(x[i].d) * H2F(y[i].d)) * (float)si + H2F(x[i].m) * H2F(y[i].s);
    }
    *s = sum;
}

void kern_vec_dot_q8_0_ref(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q8_0 *x = vx;
    const block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int si = 0;
        for (int j = 0; j < QK8_0; j++) si += x[i].qs[j] * y[i].qs[j];
        sum += (float)si * (H2F(x[i].d) * H2F(y[i].d));
    }
    *s = sum;
}

void kern_vec_dot_iq4_nl_ref(int64_t n, float *s, const void *vx, const void *vy) {
    const block_iq4_nl *x = vx;
    const block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_NL; i++) {
        int si = 0;
        for (int j = 0; j < QK4_NL / 2; j++) {
            si += kern_iq4nl_values[x[i].qs[j] & 0x0F] * y[i].qs[j];
            si += kern_iq4nl_values[x[i].qs[j] >> 4] * y[i].qs[j + QK4_NL / 2];
        }
        sum += (H2F(x[i].d) * H2F(y[i].d)) * (float)si;
    }
    *s = sum;
}
