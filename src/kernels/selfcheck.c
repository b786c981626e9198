/*
 * A start-up check of SIMD dot products, quantizers and packed-weight kernels against the
 * reference, run by kern_init before it switches to an ISA whose kernels could not be tested
 * on our own machines (AVX-512). A kernel that disagrees is reported and its ISA (or, for
 * packed-weight kernels, that ISA's set of them) is not used, so a bug there costs speed, not
 * wrong answers. Deterministic data, a few microseconds.
 */
#include "kernels_int.h"

#include <math.h>
#include <pthread.h>

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static float rnd(uint32_t *s) { return (float)lcg(s) / 8388608.0f - 1.0f; } /* [-1, 1) */

/* One row of n elements of type t (random quants, finite scales), quantized from random
 * floats where the type can be and quantize is set (Q4_K's search takes too long for the
 * packed types' check). */
static void make_row(const kern_traits *r, void *w, int64_t n, uint32_t *s, bool quantize) {
    if (r->from_float && quantize) {
        float x[4 * QK_K];
        for (int64_t i = 0; i < n; i++) x[i] = rnd(s);
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
        make_row(r, w, n, &s, true);
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

/* Packed types: R8_NB blocks of 8 rows against R8_TOK tokens, each block of the largest kind
 * (Q6_K's 210 bytes, Q8_K tokens' 292) fitting R8_BLOCK bytes. Super-block types take one
 * block, 8 sub-blocks with scales of their own: this runs at every start, and 3 of them
 * cost 130-220 us a type (1: 55-75 us; Zen 3). */
#define R8_NB 3
#define R8_TOK 5
#define R8_BLOCK sizeof(block_q8_K)

/* Y (ldy 8) against the reference's Yr within the vec_dot tolerance: mag[t][r] is the sum of
 * |w_i * y_i| of row r and token t. */
static bool r8_agree(const char *what, int wtype, const float *Y, const float *Yr,
                     const double (*mag)[8], int nt) {
    for (int t = 0; t < nt; t++)
        for (int r = 0; r < 8; r++) {
            const float got = Y[8 * t + r], want = Yr[8 * t + r];
            if (!(fabs((double)got - want) <= 1e-4 * mag[t][r] + 1e-30)) {
                log_warn("kernels: packed %s %s self-check failed (token %d row %d: %g, "
                         "reference %g)",
                         kern_traits_ref(wtype)->name, what, t, r, got, want);
                return false;
            }
        }
    return true;
}

bool kern_selfcheck_r8(int ptype, kern_r8_fn fn, kern_r8b_fn bfn, kern_r8v_fn vfn) {
    const kern_r8_desc *d = kern_r8_desc_of(ptype);
    if (!d || (!fn && !bfn && !vfn)) return true;
    const kern_traits *wt = kern_traits_ref(d->wtype), *vt = kern_traits_ref(d->vtype);
    const int64_t nb = d->block_elems == QK_K ? 1 : R8_NB, n = nb * d->block_elems;
    const int64_t vb = n / vt->block_size;
    const size_t w_row = (size_t)(n / wt->block_size) * wt->type_size;
    const size_t x_row = (size_t)vb * vt->type_size, vsize = vt->type_size;
    uint8_t w[8 * R8_NB * R8_BLOCK], p[8 * R8_NB * R8_BLOCK];
    uint8_t xq[R8_TOK * R8_NB * R8_BLOCK], xt[R8_TOK * R8_NB * R8_BLOCK];
    float dc[R8_TOK * R8_NB * 2], dct[R8_TOK * R8_NB * 2];
    float xf[R8_TOK][R8_NB * QK_K], wf[R8_NB * QK_K], acc[8 * R8_TOK], Y[8 * R8_TOK],
        Yr[8 * R8_TOK];
    double mag[R8_TOK][8];
    uint32_t s = 777u + (uint32_t)ptype;
    for (int r = 0; r < 8; r++) make_row(wt, w + (size_t)r * w_row, n, &s, false);
    d->group(w, nb, 0, p);
    /* The tokens as kern_matmul_r8 gives them: rows, Q8_0's or Q8_1's (scale, offset term)
     * pairs, and both again block-major for the batch kernel. */
    for (int t = 0; t < R8_TOK; t++) {
        uint8_t *xr = xq + (size_t)t * x_row;
        for (int64_t i = 0; i < n; i++) xf[t][i] = rnd(&s);
        vt->from_float(xf[t], xr, n);
        vt->to_float(xr, xf[t], n); /* the values the kernels see, for the tolerance */
        for (int64_t k = 0; k < vb; k++) {
            const size_t kt = (size_t)(k * R8_TOK + t);
            float *pair = dc + 2 * (t * vb + k);
            const int8_t *qs = kern_r8_token_pair(d->vtype, d->offset, xr, k, pair);
            if (!qs) { /* Q8_K: whole blocks */
                memcpy(xt + kt * vsize, xr + k * vsize, vsize);
                continue;
            }
            memcpy(dct + 2 * kt, pair, 2 * sizeof(float));
            memcpy(xt + kt * QK8_0, qs, QK8_0); /* Q8_0 / Q8_1 tokens: only the quants */
        }
    }
    for (int r = 0; r < 8; r++) {
        wt->to_float(w + (size_t)r * w_row, wf, n);
        for (int t = 0; t < R8_TOK; t++) {
            mag[t][r] = 0;
            for (int64_t i = 0; i < n; i++) mag[t][r] += fabs((double)wf[i] * xf[t][i]);
        }
    }
    const float *dcp = d->vtype == GGUF_TYPE_Q8_0 || d->vtype == GGUF_TYPE_Q8_1 ? dc : NULL;
    /* The reference, 4 tokens at a time. */
    for (int t0 = 0; t0 < R8_TOK; t0 += KERN_R8_NT) {
        const int k = R8_TOK - t0 < KERN_R8_NT ? R8_TOK - t0 : KERN_R8_NT;
        d->ref(nb, p, xq + (size_t)t0 * x_row, x_row, dcp ? dcp + 2 * vb * t0 : NULL,
               Yr + 8 * t0, 8, k);
    }
    for (int nt = 1; fn && nt <= KERN_R8_NT; nt++) {
        for (int i = 0; i < 8 * R8_TOK; i++) Y[i] = NAN;
        fn(nb, p, xq, x_row, dcp, Y, 8, nt);
        if (!r8_agree("mat-vec", d->wtype, Y, Yr, mag, nt)) return false;
    }
    if (bfn) {
        for (int i = 0; i < 8 * R8_TOK; i++) Y[i] = NAN;
        bfn(nb, p, (const int8_t *)xt, dcp ? dct : NULL, R8_TOK, R8_TOK, acc, Y, 8);
        if (!r8_agree("batch", d->wtype, Y, Yr, mag, R8_TOK)) return false;
    }
    /* Groups 0 apart: every group is this one, so each gives token 0's 8 results. */
    for (int ng = 1; vfn && ng <= KERN_R8V_MAXG; ng++) {
        float Yv[8 * KERN_R8V_MAXG], Yg[8 * KERN_R8V_MAXG];
        double magv[KERN_R8V_MAXG][8];
        for (int i = 0; i < 8 * ng; i++) {
            Yv[i] = NAN;
            Yg[i] = Yr[i % 8];
            magv[i / 8][i % 8] = mag[0][i % 8];
        }
        vfn(nb, p, 0, ng, xq, dcp, Yv, 8);
        if (!r8_agree("groups", d->wtype, Yv, Yg, magv, ng)) return false;
    }
    return true;
}

/* kern_selfcheck_r8b2: two groups (16 rows) of a few blocks (R8_NB of 32 elements, or 2
 * super-blocks) against R8B2_TOK tokens, a tile of 16 and a part of one. */
#define R8B2_TOK 21
#define R8B2_NK 2
#define R8B2_WROW (R8B2_NK * sizeof(block_q6_K)) /* bytes of the largest weight row */
#define R8B2_XROW (R8B2_NK * sizeof(block_q8_K)) /* and of a token */

bool kern_selfcheck_r8b2(int ptype, kern_r8b_fn b2fn) {
    const kern_r8_desc *d = kern_r8_desc_of(ptype);
    if (!d || !b2fn) return true;
    const kern_traits *wt = kern_traits_ref(d->wtype), *vt = kern_traits_ref(d->vtype);
    const bool pairs = d->vtype == GGUF_TYPE_Q8_0 || d->vtype == GGUF_TYPE_Q8_1;
    const int64_t nb = d->block_elems == QK_K ? R8B2_NK : R8_NB, n = nb * d->block_elems;
    const int64_t vb = n / vt->block_size;
    const size_t w_row = (size_t)(n / wt->block_size) * wt->type_size;
    const size_t x_row = (size_t)vb * vt->type_size, vsize = vt->type_size;
    if (w_row > R8B2_WROW || x_row > R8B2_XROW) return false; /* no kernel of such a type */
    static uint8_t w[16 * R8B2_WROW], p[16 * R8B2_WROW], xq[R8B2_TOK * R8B2_XROW];
    static uint8_t xt[R8B2_TOK * R8B2_XROW + 16 * sizeof(block_q8_K)]; /* + a tile's over-read */
    static float dc[R8B2_TOK * R8_NB * 2], dct[R8B2_TOK * R8_NB * 2];
    static float xf[R8B2_TOK][R8B2_NK * QK_K], wf[R8B2_NK * QK_K], acc[16 * R8B2_TOK];
    static float Y[16 * R8B2_TOK];
    static double mag[R8B2_TOK][8];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* the buffers are static */
    pthread_mutex_lock(&lock);
    uint32_t s = 991u + (uint32_t)ptype;
    memset(xt, 0, sizeof xt);
    for (int r = 0; r < 16; r++) make_row(wt, w + (size_t)r * w_row, n, &s, false);
    d->group(w, nb, 0, p);
    d->group(w, nb, 1, p + (size_t)nb * d->block_bytes);
    for (int t = 0; t < R8B2_TOK; t++) {
        uint8_t *xr = xq + (size_t)t * x_row;
        for (int64_t i = 0; i < n; i++) xf[t][i] = rnd(&s);
        vt->from_float(xf[t], xr, n);
        vt->to_float(xr, xf[t], n);
        for (int64_t k = 0; k < vb; k++) {
            if (!pairs) { /* Q8_K: whole blocks, block-major */
                memcpy(xt + (size_t)(k * R8B2_TOK + t) * vsize, xr + k * vsize, vsize);
                continue;
            }
            float *pair = dc + 2 * (t * vb + k);
            const int8_t *qs = kern_r8_token_pair(d->vtype, d->offset, xr, k, pair);
            memcpy(dct + 2 * (k * R8B2_TOK + t), pair, 2 * sizeof(float));
            memcpy(xt + (k * R8B2_TOK + t) * QK8_0, qs, QK8_0);
        }
    }
    for (int i = 0; i < 16 * R8B2_TOK; i++) Y[i] = NAN;
    b2fn(nb, p, (const int8_t *)xt, pairs ? dct : NULL, R8B2_TOK, R8B2_TOK, acc, Y, 16);
    bool ok = true;
    for (int g = 0; g < 2 && ok; g++) {
        const uint8_t *pg = p + (size_t)g * nb * d->block_bytes;
        float Yg[8 * R8B2_TOK], Yrg[8 * R8B2_TOK];
        for (int t0 = 0; t0 < R8B2_TOK; t0 += KERN_R8_NT) {
            const int k = R8B2_TOK - t0 < KERN_R8_NT ? R8B2_TOK - t0 : KERN_R8_NT;
            d->ref(nb, pg, xq + (size_t)t0 * x_row, x_row, pairs ? dc + 2 * vb * t0 : NULL,
                   Yrg + 8 * t0, 8, k);
        }
        for (int r = 0; r < 8; r++) {
            wt->to_float(w + (size_t)(8 * g + r) * w_row, wf, n);
            for (int t = 0; t < R8B2_TOK; t++) {
                mag[t][r] = 0;
                for (int64_t i = 0; i < n; i++) mag[t][r] += fabs((double)wf[i] * xf[t][i]);
                Yg[8 * t + r] = Y[16 * t + 8 * g + r];
            }
        }
        ok = r8_agree("two-group batch", d->wtype, Yg, Yrg, mag, R8B2_TOK);
    }
    pthread_mutex_unlock(&lock);
    return ok;
}
