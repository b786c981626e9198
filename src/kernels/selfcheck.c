/*
 * A start-up check of SIMD dot products and quantizers against the reference, run by kern_init
 * before it switches to an ISA whose kernels could not be tested on our own machines
 * (AVX-512). A kernel that disagrees is reported and its ISA is not used, so a bug there costs
 * speed, not wrong answers. Deterministic data, a few microseconds.
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

/* from_float must give the reference's bytes. The data holds what tells rounding rules and
 * scale choices apart: 32-blocks whose extreme is -127 (d = 1 for Q8_0/Q8_1, and Q8_K's
 * iscale = 1, which needs the first extreme, not the later +127) with exact halves between,
 * where roundf and nearest-even differ; an all-zero block; then random values. n: an odd
 * number of 32-blocks, and whole super-blocks for 256-element types. */
static bool quant_matches(const kern_traits *r, const kern_traits *t, uint32_t *s) {
    enum { N = 3 * QK_K + QK8_0 };
    float x[N];
    uint8_t a[N * 2], b[N * 2]; /* the largest result: N halves */
    for (int j = 0; j < QK_K; j++) {
        const int k = j % 32;
        x[j] = k == 0 ? -127.0f : k == 17 ? 127.0f : (float)(k % 9 - 4) + 0.5f;
    }
    memset(x + QK_K, 0, QK_K * sizeof x[0]);
    for (int j = 2 * QK_K; j < N; j++) x[j] = rnd(s) * (j % 37 == 0 ? 8.0f : 1.0f);
    const int64_t n = r->block_size == QK_K ? 3 * QK_K : N;
    const size_t bytes = (size_t)(n / r->block_size) * r->type_size;
    assert(bytes <= sizeof a);
    t->from_float(x, a, n);
    r->from_float(x, b, n);
    return memcmp(a, b, bytes) == 0;
}

bool kern_selfcheck(const kern_traits *table, int type) {
    const kern_traits *r = kern_traits_ref(type), *t = &table[type];
    const kern_traits *v = kern_traits_ref(r->vec_dot_type);
    uint32_t s = 12345u + (uint32_t)type;
    if (r->from_float && t->from_float != r->from_float && !quant_matches(r, t, &s)) {
        log_warn("kernels: %s from_float self-check failed", r->name);
        return false;
    }
    if (!r->vec_dot || (t->vec_dot == r->vec_dot)) return true;
    /* Odd block counts; float rows end past every vector step (64, 16 and 8 wide) too. */
    const int64_t tail = r->block_size == 1 ? 31 : r->block_size == QK_K ? 0 : r->block_size;
    const int64_t n = 3 * QK_K + tail;
    uint8_t w[4 * QK_K * 4], a[4 * QK_K * 4]; /* the largest row: 799 floats */
    float wf[4 * QK_K], af[4 * QK_K], x[4 * QK_K];
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
