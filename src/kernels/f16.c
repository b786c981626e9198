/*
 * Scalar half (IEEE binary16) and bfloat16 conversions, plus the F32/F16/BF16 rows of the
 * type table. Bit manipulation only, so results do not depend on the compiler's flags or the
 * CPU: these define what the SIMD rows (F16C) must reproduce.
 */
#include "kernels_int.h"

static inline uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float kern_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0) {
        /* Zero or subnormal: mant * 2^-24 is exact in float. */
        float f = (float)mant * u2f(0x33800000u);
        return u2f(f2u(f) | sign);
    }
    /* NaNs come out quiet, as F16C converts them (so scalar and SIMD rows agree). */
    if (exp == 31) return u2f(sign | 0x7f800000u | (mant << 13) | (mant ? 0x00400000u : 0));
    return u2f(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t kern_f32_to_f16(float f) {
    uint32_t u = f2u(f);
    uint32_t sign = (u >> 16) & 0x8000;
    u &= 0x7fffffffu;
    if (u >= 0x47800000u) { /* >= 2^16 (always infinite as half), inf or NaN */
        if (u > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | ((u >> 13) & 0x3ff));
        return (uint16_t)(sign | 0x7c00);
    }
    if (u < 0x38800000u) {
        /* Below the smallest normal half: adding 0.5 (2^-1) puts the half's subnormal units in
         * the float's low mantissa bits, and the FPU's own round-to-nearest-even does the
         * rounding. */
        float g = u2f(u) + 0.5f;
        return (uint16_t)(sign | (f2u(g) - 0x3f000000u));
    }
    /* Normal: rebias the exponent and round the 13 dropped bits to nearest even; a carry out
     * of the mantissa correctly bumps the exponent (up to infinity for >= 65520). */
    uint32_t odd = (u >> 13) & 1;
    u += 0xc8000000u + 0xfff + odd; /* (15 - 127) << 23, wrapped */
    return (uint16_t)(sign | (u >> 13));
}

float kern_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

uint16_t kern_f32_to_bf16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64); /* quiet NaN */
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

void kern_f16_to_f32_row_ref(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kern_f16_to_f32(x[i]);
}

void kern_f32_to_f16_row_ref(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kern_f32_to_f16(x[i]);
}

/* ---- table rows for the float types ---- */

void kern_to_float_f32_ref(const void *x, float *y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}

void kern_from_float_f32_ref(const float *x, void *y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}

void kern_to_float_f16_ref(const void *x, float *y, int64_t n) { kern_f16_to_f32_row_ref(x, y, n); }

void kern_from_float_f16_ref(const float *x, void *y, int64_t n) {
    kern_f32_to_f16_row_ref(x, y, n);
}

void kern_to_float_bf16_ref(const void *x, float *y, int64_t n) {
    const uint16_t *h = x;
    for (int64_t i = 0; i < n; i++) y[i] = kern_bf16_to_f32(h[i]);
}

void kern_from_float_bf16_ref(const float *x, void *y, int64_t n) {
    uint16_t *h = y;
    for (int64_t i = 0; i < n; i++) h[i] = kern_f32_to_bf16(x[i]);
}

/* The float dots accumulate in double, as ggml's scalar path does. */
void kern_vec_dot_f32_ref(int64_t n, float *s, const void *x, const void *y) {
    const float *a = x, *b = y;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)(a[i] * b[i]);
    *s = (float)sum;
}

void kern_vec_dot_f16_ref(int64_t n, float *s, const void *x, const void *y) {
    const uint16_t *a = x, *b = y;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)(kern_f16_to_f32(a[i]) * kern_f16_to_f32(b[i]));
    *s = (float)sum;
}

void kern_vec_dot_bf16_ref(int64_t n, float *s, const void *x, const void *y) {
    const uint16_t *a = x, *b = y;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)(kern_bf16_to_f32(a[i]) * kern_bf16_to_f32(b[i]));
    *s = (float)sum;
}
