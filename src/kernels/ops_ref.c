/*
 * Reference element-wise ops: plain C that defines what each op computes (the AVX2 versions
 * are tested against these). Reductions accumulate in double, as ggml's reference does with
 * ggml_float, so that these are the accurate side of every comparison.
 */
#include "ops_int.h"

#include <math.h>

void kern_rmsnorm_ref(float *y, const float *x, const float *w, int64_t n, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    const float scale = 1.0f / sqrtf((float)(ss / (double)n) + eps);
    /* (x * scale) * w in that order: llama.cpp applies the weight as a separate multiply. */
    if (w)
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
    else
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale;
}

void kern_layernorm_ref(float *y, const float *x, const float *w, const float *b, int64_t n,
                        float eps) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    const float mean = (float)(sum / (double)n);
    double var = 0;
    for (int64_t i = 0; i < n; i++) {
        const float d = x[i] - mean;
        var += (double)d * d;
    }
    const float scale = 1.0f / sqrtf((float)(var / (double)n) + eps);
    for (int64_t i = 0; i < n; i++) {
        float v = (x[i] - mean) * scale;
        if (w) v *= w[i];
        if (b) v += b[i];
        y[i] = v;
    }
}

/* A row that is -inf everywhere (fully masked) becomes all zeros rather than NaN. */
void kern_softmax_ref(float *x, int64_t n) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (x[i] > max) max = x[i];
    if (max == -INFINITY) {
        for (int64_t i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

static inline float silu1(float x) { return x / (1.0f + expf(-x)); }

/* The precise tanh formula. llama.cpp's CPU GELU on f32 may instead look the result up in a
 * table indexed by the f16 rounding of x (GGML_GELU_FP16), which differs from this by up to
 * about 1e-3 relative; the formula is the definition both approximate. */
static inline float gelu1(float x) {
    return 0.5f * x * (1.0f + tanhf(KERN_SQRT_2_OVER_PI * x * (1.0f + KERN_GELU_COEF_A * x * x)));
}

void kern_silu_ref(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = silu1(x[i]);
}

void kern_gelu_ref(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = gelu1(x[i]);
}

void kern_swiglu_ref(float *y, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = silu1(gate[i]) * up[i];
}

void kern_geglu_ref(float *y, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = gelu1(gate[i]) * up[i];
}

void kern_add_ref(float *y, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void kern_mul_ref(float *y, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}

void kern_scale_ref(float *y, const float *x, float s, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * s;
}

void kern_axpy_ref(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void kern_axpy_f16_ref(float *y, float a, const uint16_t *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * kern_f16_to_f32(x[i]);
}

float kern_dot_f32_ref(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return (float)s;
}

float kern_dot_f16_f32_ref(const uint16_t *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)kern_f16_to_f32(a[i]) * b[i];
    return (float)s;
}

/* Scale, tanh, scale: the three ops llama.cpp's graph uses for Gemma 2's soft-capping. */
void kern_softcap_ref(float *x, float cap, int64_t n) {
    const float inv = 1.0f / cap;
    for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i] * inv) * cap;
}
