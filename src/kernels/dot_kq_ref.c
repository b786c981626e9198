/*
 * Reference dot products of the super-block types (Q2_K..Q6_K, IQ4_XS) with Q8_K activations.
 * Per super-block: exact integer sums of quant products weighted by the sub-block scales, then
 * one float step d_x * d_y * sum (minus dmin_x * d_y * sum(mins * bsums) for the types with
 * mins, which the activations' bsums make cheap).
 */
#include "kernels_int.h"

#define H2F(h) kern_f16_to_f32(h)

static inline int dot16(const int8_t *q, const int8_t *a) {
    int s = 0;
    for (int l = 0; l < 16; l++) s += q[l] * a[l];
    return s;
}

void kern_vec_dot_q2_K_ref(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q2_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t q[QK_K];
        const uint8_t *qs = x[i].qs;
        int8_t *p = q;
        for (int half = 0; half < 2; half++, qs += 32)
            for (int shift = 0; shift < 8; shift += 2)
                for (int l = 0; l < 32; l++) *p++ = (int8_t)((qs[l] >> shift) & 3);
        int isum = 0, summs = 0;
        for (int j = 0; j < 16; j++) {
            isum += (x[i].scales[j] & 0xF) * dot16(q + 16 * j, y[i].qs + 16 * j);
            summs += (x[i].scales[j] >> 4) * y[i].bsums[j];
        }
        const float dall = y[i].d * H2F(x[i].d), dmin = y[i].d * H2F(x[i].dmin);
        sum += dall * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

void kern_vec_dot_q3_K_ref(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q3_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t q[QK_K];
        uint8_t sc[16];
        kern_q3k_unpack_scales(x[i].scales, sc);
        const uint8_t *qs = x[i].qs;
        int8_t *p = q;
        uint8_t m = 1;
        for (int half = 0; half < 2; half++, qs += 32)
            for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1))
                for (int l = 0; l < 32; l++)
                    *p++ = (int8_t)(((qs[l] >> shift) & 3) - ((x[i].hmask[l] & m) ? 0 : 4));
        int isum = 0;
        for (int j = 0; j < 16; j++)
            isum += ((int)sc[j] - 32) * dot16(q + 16 * j, y[i].qs + 16 * j);
        sum += H2F(x[i].d) * y[i].d * (float)isum;
    }
    *s = sum;
}

void kern_vec_dot_q4_K_ref(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const int8_t *a = y[i].qs;
        int isum = 0, summs = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            kern_scale_min_k4(j, x[i].scales, &sc, &m);
            const uint8_t *q = x[i].qs + 32 * (j / 2);
            const int shift = 4 * (j & 1);
            int si = 0;
            for (int l = 0; l < 32; l++) si += ((q[l] >> shift) & 0xF) * a[32 * j + l];
            isum += sc * si;
            summs += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        }
        const float d = H2F(x[i].d) * y[i].d, dmin = H2F(x[i].dmin) * y[i].d;
        sum += d * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

void kern_vec_dot_q5_K_ref(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const int8_t *a = y[i].qs;
        int isum = 0, summs = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            kern_scale_min_k4(j, x[i].scales, &sc, &m);
            const uint8_t *q = x[i].qs + 32 * (j / 2);
            const int shift = 4 * (j & 1);
            int si = 0;
            for (int l = 0; l < 32; l++) {
                const int v = ((q[l] >> shift) & 0xF) | (((x[i].qh[l] >> j) & 1) << 4);
                si += v * a[32 * j + l];
            }
            isum += sc * si;
            summs += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        }
        const float d = H2F(x[i].d) * y[i].d, dmin = H2F(x[i].dmin) * y[i].d;
        sum += d * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

void kern_vec_dot_q6_K_ref(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t q[QK_K];
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        for (int half = 0; half < 2; half++, ql += 64, qh += 32) {
            int8_t *p = q + 128 * half;
            for (int l = 0; l < 32; l++) {
                p[l + 0] = (int8_t)(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                p[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                p[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                p[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        int isum = 0;
        for (int j = 0; j < 16; j++) isum += x[i].scales[j] * dot16(q + 16 * j, y[i].qs + 16 * j);
        sum += H2F(x[i].d) * y[i].d * (float)isum;
    }
    *s = sum;
}

void kern_vec_dot_iq4_xs_ref(int64_t n, float *s, const void *vx, const void *vy) {
    const block_iq4_xs *x = vx;
    const block_q8_K *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *qs = x[i].qs;
        const int8_t *a = y[i].qs;
        int isum = 0;
        for (int ib = 0; ib < QK_K / 32; ib++, qs += 16, a += 32) {
            const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) |
                           (((x[i].scales_h >> 2 * ib) & 3) << 4);
            int si = 0;
            for (int j = 0; j < 16; j++) {
                si += kern_iq4nl_values[qs[j] & 0xF] * a[j];
                si += kern_iq4nl_values[qs[j] >> 4] * a[j + 16];
            }
            isum += (ls - 32) * si;
        }
        sum += H2F(x[i].d) * y[i].d * (float)isum;
    }
    *s = sum;
}
