/*
 * Element-wise op tests: the references against formulas evaluated in double, the AVX2 versions
 * against the references on odd lengths (tails included), and RoPE against an independent
 * double-precision evaluation of llama.cpp's definition.
 */
#include "kernels.h"
#include "ops_int.h"
#include "test.h"

#include <math.h>

static const int64_t lens[] = {1, 3, 7, 8, 9, 15, 16, 31, 33, 64, 100, 257, 1027, 4099};
#define N_LENS ((int)(sizeof lens / sizeof lens[0]))
#define MAXN 4099

static void rand_fill(float *x, int64_t n, float scale, uint64_t *rng) {
    for (int64_t i = 0; i < n; i++) x[i] = test_rand_f32(rng) * scale;
}

static double gelu_d(double x) {
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * x * (1.0 + 0.044715 * x * x)));
}
static double silu_d(double x) { return x / (1.0 + exp(-x)); }

/* |a - b| <= abs + rel * |b| for every element. */
static void assert_close(const float *a, const float *b, int64_t n, double abs, double rel,
                         const char *what, int64_t len) {
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= abs + rel * fabs((double)b[i])))
            test_fail(__FILE__, __LINE__, "%s n=%lld: element %lld: %.9g vs %.9g", what,
                      (long long)len, (long long)i, a[i], b[i]);
    }
}

TEST(ops_ref_match_double_formulas) {
    uint64_t rng = 1;
    static float x[MAXN], g[MAXN], u[MAXN], w[MAXN], y[MAXN];
    for (int li = 0; li < N_LENS; li++) {
        const int64_t n = lens[li];
        rand_fill(x, n, 6.0f, &rng);
        rand_fill(g, n, 6.0f, &rng);
        rand_fill(u, n, 2.0f, &rng);
        rand_fill(w, n, 1.5f, &rng);
        double ss = 0, sum = 0;
        for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i], sum += x[i];
        const double rs = 1.0 / sqrt(ss / n + 1e-5);
        kern_rmsnorm_ref(y, x, w, n, 1e-5f);
        for (int64_t i = 0; i < n; i++) ASSERT_NEAR(y[i], x[i] * rs * w[i], 1e-5 * fabs(x[i] * rs * w[i]) + 1e-6);
        const double mean = sum / n;
        double var = 0;
        for (int64_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
        const double ls = 1.0 / sqrt(var / n + 1e-5);
        kern_layernorm_ref(y, x, w, u, n, 1e-5f);
        for (int64_t i = 0; i < n; i++) ASSERT_NEAR(y[i], (x[i] - mean) * ls * w[i] + u[i], 1e-4);
        kern_gelu_ref(y, x, n);
        for (int64_t i = 0; i < n; i++) ASSERT_NEAR(y[i], gelu_d(x[i]), 2e-6 * (1 + fabs(x[i])));
        kern_silu_ref(y, x, n);
        for (int64_t i = 0; i < n; i++) ASSERT_NEAR(y[i], silu_d(x[i]), 2e-6 * (1 + fabs(x[i])));
        kern_swiglu_ref(y, g, u, n);
        for (int64_t i = 0; i < n; i++) ASSERT_NEAR(y[i], silu_d(g[i]) * u[i], 1e-5);
        kern_geglu_ref(y, g, u, n);
        for (int64_t i = 0; i < n; i++) ASSERT_NEAR(y[i], gelu_d(g[i]) * u[i], 1e-5);
        double dot = 0;
        for (int64_t i = 0; i < n; i++) dot += (double)x[i] * w[i];
        ASSERT_NEAR(kern_dot_f32_ref(x, w, n), dot, 1e-5 * (1 + fabs(dot)));
        double mx = -1e30, se = 0;
        for (int64_t i = 0; i < n; i++) mx = fmax(mx, x[i]);
        for (int64_t i = 0; i < n; i++) se += exp(x[i] - mx);
        for (int64_t i = 0; i < n; i++) y[i] = x[i];
        kern_softmax_ref(y, n);
        for (int64_t i = 0; i < n; i++) ASSERT_NEAR(y[i], exp(x[i] - mx) / se, 1e-6);
    }
    /* Known values of the tanh GELU, SiLU, and soft-capping. */
    float v[3] = {-1.0f, 0.0f, 1.0f}, o[3];
    kern_gelu_ref(o, v, 3);
    ASSERT_NEAR(o[0], -0.158808, 1e-5);
    ASSERT_NEAR(o[1], 0.0, 0);
    ASSERT_NEAR(o[2], 0.841192, 1e-5);
    kern_silu_ref(o, v, 3);
    ASSERT_NEAR(o[2], 0.731059, 1e-5);
    float c[2] = {100.0f, -1.0f};
    kern_softcap_ref(c, 30.0f, 2);
    ASSERT_NEAR(c[0], 30.0 * tanh(100.0 / 30.0), 1e-4);
    ASSERT_NEAR(c[1], 30.0 * tanh(-1.0 / 30.0), 1e-6);
}

TEST(ops_softmax_edge_cases) {
    float a[5] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    kern_softmax_ref(a, 5);
    for (int i = 0; i < 5; i++) ASSERT_EQ_INT(a[i] == 0.0f, 1);
    float b[9] = {1000, -INFINITY, 1000, 0, 0, 0, 0, 0, 0};
    kern_init(KERN_ISA_AUTO);
    kern_softmax(b, 9);
    ASSERT_NEAR(b[0], 0.5, 1e-6);
    ASSERT_NEAR(b[1], 0.0, 0);
    ASSERT_NEAR(b[2], 0.5, 1e-6);
    ASSERT_NEAR(b[3], 0.0, 1e-30);
    float z[11];
    for (int i = 0; i < 11; i++) z[i] = -INFINITY;
    kern_softmax(z, 11);
    for (int i = 0; i < 11; i++) ASSERT_EQ_INT(z[i] == 0.0f, 1);
}

#if defined(__x86_64__) /* the *_avx2 functions exist only there */
TEST(ops_avx2_match_ref) {
    if (!kern_cpu_supports(KERN_ISA_AVX2)) TEST_SKIP("no AVX2 on this CPU");
    uint64_t rng = 7;
    static float x[MAXN], g[MAXN], u[MAXN], w[MAXN], y1[MAXN], y2[MAXN];
    static uint16_t h[MAXN];
    for (int li = 0; li < N_LENS; li++) {
        const int64_t n = lens[li];
        rand_fill(x, n, 8.0f, &rng);
        rand_fill(g, n, 8.0f, &rng);
        rand_fill(u, n, 2.0f, &rng);
        rand_fill(w, n, 1.5f, &rng);
        for (int64_t i = 0; i < n; i++) h[i] = kern_f32_to_f16(test_rand_f32(&rng));

        /* Float accumulation over n elements: relative error ~1e-6 on these sizes. */
        kern_rmsnorm_ref(y1, x, w, n, 1e-6f);
        kern_rmsnorm_avx2(y2, x, w, n, 1e-6f);
        assert_close(y2, y1, n, 1e-6, 1e-5, "rmsnorm", n);
        kern_rmsnorm_ref(y1, x, NULL, n, 1e-6f);
        kern_rmsnorm_avx2(y2, x, NULL, n, 1e-6f);
        assert_close(y2, y1, n, 1e-6, 1e-5, "rmsnorm (no w)", n);
        kern_layernorm_ref(y1, x, w, u, n, 1e-5f);
        kern_layernorm_avx2(y2, x, w, u, n, 1e-5f);
        assert_close(y2, y1, n, 0, 0, "layernorm", n);

        /* exp/tanh approximations: a few ulp, plus ~1e-7 absolute from tanh's form. */
        kern_silu_ref(y1, x, n);
        kern_silu_avx2(y2, x, n);
        assert_close(y2, y1, n, 1e-6, 2e-6, "silu", n);
        kern_gelu_ref(y1, x, n);
        kern_gelu_avx2(y2, x, n);
        assert_close(y2, y1, n, 1e-6, 2e-6, "gelu", n);
        kern_swiglu_ref(y1, g, u, n);
        kern_swiglu_avx2(y2, g, u, n);
        assert_close(y2, y1, n, 1e-6, 2e-6, "swiglu", n);
        kern_geglu_ref(y1, g, u, n);
        kern_geglu_avx2(y2, g, u, n);
        assert_close(y2, y1, n, 1e-6, 2e-6, "geglu", n);
        for (int64_t i = 0; i < n; i++) y1[i] = y2[i] = x[i] * 4;
        kern_softmax_ref(y1, n);
        kern_softmax_avx2(y2, n);
        assert_close(y2, y1, n, 1e-9, 1e-5, "softmax", n);
        for (int64_t i = 0; i < n; i++) y1[i] = y2[i] = x[i] * 10;
        kern_softcap_ref(y1, 30.0f, n);
        kern_softcap_avx2(y2, 30.0f, n);
        assert_close(y2, y1, n, 30 * 2e-7, 2e-6, "softcap", n);

        /* Exact: the same float operations in the same order. */
        kern_add_ref(y1, x, g, n);
        kern_add_avx2(y2, x, g, n);
        assert_close(y2, y1, n, 0, 0, "add", n);
        kern_mul_ref(y1, x, g, n);
        kern_mul_avx2(y2, x, g, n);
        assert_close(y2, y1, n, 0, 0, "mul", n);
        kern_scale_ref(y1, x, 0.37f, n);
        kern_scale_avx2(y2, x, 0.37f, n);
        assert_close(y2, y1, n, 0, 0, "scale", n);
        /* FMA rounds once where the reference rounds twice. */
        for (int64_t i = 0; i < n; i++) y1[i] = y2[i] = u[i];
        kern_axpy_ref(y1, -0.7f, x, n);
        kern_axpy_avx2(y2, -0.7f, x, n);
        assert_close(y2, y1, n, 1e-6, 1e-6, "axpy", n);
        for (int64_t i = 0; i < n; i++) y1[i] = y2[i] = u[i];
        kern_axpy_f16_ref(y1, 1.3f, h, n);
        kern_axpy_f16_avx2(y2, 1.3f, h, n);
        assert_close(y2, y1, n, 1e-6, 1e-6, "axpy_f16", n);

        /* Dots: relative to the sum of |a_i b_i|. */
        double mag = 0, magh = 0;
        for (int64_t i = 0; i < n; i++) {
            mag += fabs((double)x[i] * w[i]);
            magh += fabs((double)kern_f16_to_f32(h[i]) * w[i]);
        }
        ASSERT_NEAR(kern_dot_f32_avx2(x, w, n), kern_dot_f32_ref(x, w, n), 1e-6 * mag);
        ASSERT_NEAR(kern_dot_f16_f32_avx2(h, w, n), kern_dot_f16_f32_ref(h, w, n), 1e-6 * magh);
    }
}

#endif

/* The public functions follow kern_init: ref gives exactly the reference. */
TEST(ops_dispatch_follows_kern_init) {
    uint64_t rng = 3;
    float x[37], a[37], b[37];
    rand_fill(x, 37, 5.0f, &rng);
    kern_init(KERN_ISA_REF);
    kern_gelu(a, x, 37);
    kern_gelu_ref(b, x, 37);
    ASSERT_EQ_INT(memcmp(a, b, sizeof a), 0);
    ASSERT_EQ_INT(kern_dot_f32(x, x, 37) == kern_dot_f32_ref(x, x, 37), 1);
#if defined(__x86_64__)
    if (kern_init(KERN_ISA_AVX2) == KERN_ISA_AVX2) {
        kern_gelu(a, x, 37);
        kern_gelu_avx2(b, x, 37);
        ASSERT_EQ_INT(memcmp(a, b, sizeof a), 0);
    }
#endif
    kern_init(KERN_ISA_AUTO);
}

/* ---- RoPE ---- */

/* llama.cpp's definition evaluated in double, with the angle from pow directly. */
static void rope_double(double *x, int n_heads, int head_dim, int pos, const kern_rope_params *p) {
    const int n_rot = p->n_rot, half = n_rot / 2;
    double lo = 0, hi = 0;
    if (p->ext_factor != 0) {
        double cd_fast = n_rot * log(p->n_ctx_orig / (p->beta_fast * 2 * M_PI)) / (2 * log(p->freq_base));
        double cd_slow = n_rot * log(p->n_ctx_orig / (p->beta_slow * 2 * M_PI)) / (2 * log(p->freq_base));
        lo = fmax(0, floor(cd_fast));
        hi = fmin(n_rot - 1, ceil(cd_slow));
    }
    for (int i = 0; i < half; i++) {
        double ext = pos * pow(p->freq_base, -2.0 * i / n_rot);
        if (p->freq_factors) ext /= p->freq_factors[i];
        double th = ext * p->freq_scale, ms = p->attn_factor;
        if (p->ext_factor != 0) {
            double ramp = 1 - fmin(1, fmax(0, (i - lo) / fmax(0.001, hi - lo)));
            double mix = ramp * p->ext_factor;
            th = th * (1 - mix) + ext * mix;
            ms *= 1 + 0.1 * log(1 / p->freq_scale);
        }
        for (int h = 0; h < n_heads; h++) {
            double *v = x + h * head_dim;
            int ia = p->neox ? i : 2 * i, ib = p->neox ? i + half : 2 * i + 1;
            double x0 = v[ia], x1 = v[ib];
            v[ia] = (x0 * cos(th) - x1 * sin(th)) * ms;
            v[ib] = (x0 * sin(th) + x1 * cos(th)) * ms;
        }
    }
}

static void rope_check(const kern_rope_params *p, int n_heads, int head_dim, int pos) {
    uint64_t rng = 11 + pos;
    float x[4 * 160];
    double xd[4 * 160];
    for (int i = 0; i < n_heads * head_dim; i++) xd[i] = x[i] = test_rand_f32(&rng);
    float orig[4 * 160];
    memcpy(orig, x, sizeof orig);
    kern_rope(x, n_heads, head_dim, pos, p);
    rope_double(xd, n_heads, head_dim, pos, p);
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < head_dim; i++) {
            int k = h * head_dim + i;
            if (i >= p->n_rot) ASSERT_EQ_INT(x[k] == orig[k], 1); /* untouched, bit for bit */
            /* Angles up to pos radians built in float: ~1e-7 * pos * (pairs) of error. */
            else ASSERT_NEAR(x[k], xd[k], 2e-6 * (1 + pos) * 4);
        }
}

TEST(ops_rope_normal_and_neox) {
    kern_rope_params p = kern_rope_default_params();
    ASSERT_NEAR(p.freq_base, 10000, 0);
    ASSERT_NEAR(p.freq_scale, 1, 0);
    ASSERT_NEAR(p.attn_factor, 1, 0);
    for (int neox = 0; neox < 2; neox++) {
        p.neox = neox;
        p.n_rot = 64;
        rope_check(&p, 4, 64, 0);
        rope_check(&p, 4, 64, 1);
        rope_check(&p, 3, 64, 17);
        rope_check(&p, 2, 128, 50); /* n_rot < head_dim: the rest untouched */
        p.n_rot = 32;
        p.freq_base = 1e6f;
        rope_check(&p, 2, 80, 33);
        p.freq_base = 10000;
    }
}

TEST(ops_rope_pairs_and_position_zero) {
    kern_rope_params p = kern_rope_default_params();
    p.n_rot = 8;
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8];
    memcpy(y, x, sizeof x);
    kern_rope(y, 1, 8, 0, &p); /* angle 0: identity */
    for (int i = 0; i < 8; i++) ASSERT_NEAR(y[i], x[i], 0);
    /* Pair 0 has theta = pos: normal mode rotates (x0, x1), NeoX (x0, x4). */
    memcpy(y, x, sizeof x);
    kern_rope(y, 1, 8, 1, &p);
    ASSERT_NEAR(y[0], cos(1.0) * 1 - sin(1.0) * 2, 1e-6);
    ASSERT_NEAR(y[1], sin(1.0) * 1 + cos(1.0) * 2, 1e-6);
    p.neox = true;
    memcpy(y, x, sizeof x);
    kern_rope(y, 1, 8, 1, &p);
    ASSERT_NEAR(y[0], cos(1.0) * 1 - sin(1.0) * 5, 1e-6);
    ASSERT_NEAR(y[4], sin(1.0) * 1 + cos(1.0) * 5, 1e-6);
}

TEST(ops_rope_freq_factors_and_linear_scaling) {
    kern_rope_params p = kern_rope_default_params();
    float ff[32];
    for (int i = 0; i < 32; i++) ff[i] = 1.0f + (float)i / 4;
    p.n_rot = 64;
    p.freq_base = 500000;
    p.freq_factors = ff;
    rope_check(&p, 2, 64, 23);
    p.freq_factors = NULL;
    p.freq_scale = 0.25f;
    rope_check(&p, 2, 64, 40);
    p.attn_factor = 0.5f;
    rope_check(&p, 2, 64, 40);
}

TEST(ops_rope_yarn) {
    kern_rope_params p = kern_rope_default_params();
    p.n_rot = 64;
    p.freq_scale = 0.25f;
    p.ext_factor = 1.0f;
    p.n_ctx_orig = 4096;
    for (int neox = 0; neox < 2; neox++) {
        p.neox = neox;
        rope_check(&p, 2, 64, 1);
        rope_check(&p, 3, 64, 45);
        p.ext_factor = 0.5f;
        p.attn_factor = 1.1f;
        rope_check(&p, 2, 96, 30);
        p.ext_factor = 1.0f;
        p.attn_factor = 1.0f;
    }
    /* With YaRN the magnitude grows by 1 + 0.1 ln 4 for freq_scale 1/4. */
    float x[64] = {0}, y[64];
    x[62] = 1.0f;
    memcpy(y, x, sizeof x);
    kern_rope(y, 1, 64, 3, &p);
    ASSERT_NEAR(sqrt((double)y[62] * y[62] + (double)y[63] * y[63]), 1 + 0.1 * log(4.0), 1e-6);
}
