/*
 * A start-up check of SIMD dot products against the reference, run by kern_init before it
 * switches to an ISA whose kernels could not be tested on our own machines (AVX-512). A kernel
 * that disagrees is reported and its ISA is not used, so a bug there costs speed, not wrong
 * answers. Deterministic data, a few microseconds.
 */
#include "kernels_int.h"

#include <math.h>

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static float rnd(uint32_t *s) { return (float)lcg(s) / 8388608.0f - 1.0f; } /* [-1, 1) */

/* One row of n elements of type t (random quants, finite scales). */
static void make_row(const kern_traits *r, void *w, int64_t n, uint32_t *s) {
    float x[4 * QK_K];
    for (int64_t i = 0; i < n; i++) x[i] = rnd(s);
    if (r->from_float) {
        r->from_float(x, w, n);
        return;
    }
    uint8_t *p = w;
    const int64_t nb = n / r->block_size;
    for (size_t i = 0; i < (size_t)nb * r->type_size; i++) p[i] = (uint8_t)lcg(s);
    /* Overwrite the half scales (d, and dmin or m where the type has one) with finite ones. */
    size_t off, count = 1;
    switch (r->type) {
    case GGUF_TYPE_Q4_1:
    case GGUF_TYPE_Q5_1:
    case GGUF_TYPE_Q4_K:
    case GGUF_TYPE_Q5_K: off = 0, count = 2; break;
    case GGUF_TYPE_Q2_K: off = offsetof(block_q2_K, d), count = 2; break;
    case GGUF_TYPE_Q3_K: off = offsetof(block_q3_K, d); break;
    case GGUF_TYPE_Q6_K: off = offsetof(block_q6_K, d); break;
    default: off = 0; break; /* Q5_0, IQ4_NL, IQ4_XS: d first */
    }
    for (int64_t b = 0; b < nb; b++) {
        for (size_t k = 0; k < count; k++) {
            const uint16_t h = kern_f32_to_f16(0.01f * (1.0f + rnd(s)));
            memcpy(p + b * r->type_size + off + 2 * k, &h, 2);
        }
    }
}

bool kern_selfcheck(const kern_traits *table, int type) {
    const kern_traits *r = kern_traits_ref(type), *t = &table[type];
    const kern_traits *v = kern_traits_ref(r->vec_dot_type);
    if (!r->vec_dot || (t->vec_dot == r->vec_dot)) return true;
    const int64_t n = 3 * QK_K + (r->block_size == QK_K ? 0 : r->block_size); /* odd blocks */
    uint8_t w[4 * QK_K * 4], a[4 * QK_K * 4]; /* the largest row: 769 floats */
    float wf[4 * QK_K], af[4 * QK_K], x[4 * QK_K];
    uint32_t s = 12345u + (uint32_t)type;
    for (int rep = 0; rep < 3; rep++) {
        make_row(r, w, n, &s);
        for (int64_t i = 0; i < n; i++) x[i] = rnd(&s);
        v->from_float(x, a, n);
        r->to_float(w, wf, n);
        v->to_float(a, af, n);
        double abs_sum = 0;
        for (int64_t i = 0; i < n; i++) abs_sum += fabs((double)wf[i] * af[i]);
        float got, want;
        t->vec_dot(n, &got, w, a);
        r->vec_dot(n, &want, w, a);
        if (!(fabs((double)got - want) <= 1e-4 * abs_sum + 1e-30)) {
            log_warn("kernels: %s vec_dot self-check failed (%g, reference %g)", r->name, got,
                     want);
            return false;
        }
    }
    return true;
}
