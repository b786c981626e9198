/*
 * AVX-512 kernels for the float weights and the activation quantizers: vec_dot of F32, F16
 * and BF16 rows (16 floats per register, four accumulators, a scalar tail), and from_float of
 * Q8_0 / Q8_1 (two 32-blocks per pass: four registers of floats in, one of 64 quants out) and
 * Q8_K (64 quants per register). They follow the AVX2 ones (dot_avx2.c, quant_avx2.c) step
 * for step, only wider; the quantizers are bit-exact with the reference, with its rounding
 * rules (roundf's halves away from zero for Q8_0/Q8_1, nearest even for Q8_K).
 * NOTE: written without AVX-512 hardware at hand; verified through the SIMDe build of this
 * file (avx512_emu.h): simd_test.c and the engine golden tests run it against the reference.
 */
#include "avx512_int.h"

/* ---- vec_dot of float rows: products in float, sums in another order than the reference's
 * double (within the tests' 1e-5 * sum |x_i * y_i|) ---- */

/* 16 elements of x from index i as floats: F32, or F16 (vcvtph2ps is exact). */
KERN_AVX512_INLINE __m512 load16(const void *x, int64_t i, bool half) {
    return half ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)x + i)))
                : _mm512_loadu_ps((const float *)x + i);
}

KERN_AVX512_INLINE float elem(const void *x, int64_t i, bool half) {
    return half ? H2F(((const uint16_t *)x)[i]) : ((const float *)x)[i];
}

/* The F32 and F16 dots: 4 accumulators of 16 floats, then 16 at a time, then one by one. */
KERN_AVX512_INLINE float dot_f(int64_t n, const void *x, const void *y,
                                                         bool half) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(load16(x, i, half), load16(y, i, half), a0);
        a1 = _mm512_fmadd_ps(load16(x, i + 16, half), load16(y, i + 16, half), a1);
        a2 = _mm512_fmadd_ps(load16(x, i + 32, half), load16(y, i + 32, half), a2);
        a3 = _mm512_fmadd_ps(load16(x, i + 48, half), load16(y, i + 48, half), a3);
    }
    for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(load16(x, i, half), load16(y, i, half), a0);
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    for (; i < n; i++) sum += elem(x, i, half) * elem(y, i, half);
    return sum;
}

static void vec_dot_f32(int64_t n, float *s, const void *vx, const void *vy) {
    *s = dot_f(n, vx, vy, false);
}

static void vec_dot_f16(int64_t n, float *s, const void *vx, const void *vy) {
    *s = dot_f(n, vx, vy, true);
}

/* A bf16 is the top half of an f32: zeros interleaved below each one give the floats. The
 * unpacks work per 128-bit lane, so elements come out permuted, identically for x and y,
 * which a dot product does not mind. */
static inline __m512 bf16_lo(__m512i v) {
    return _mm512_castsi512_ps(_mm512_unpacklo_epi16(_mm512_setzero_si512(), v));
}
static inline __m512 bf16_hi(__m512i v) {
    return _mm512_castsi512_ps(_mm512_unpackhi_epi16(_mm512_setzero_si512(), v));
}

/* 16 bf16 -> 16 floats (permuted as above). */
static inline __m512 load_bf16x16(const uint16_t *p) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)p), z = _mm256_setzero_si256();
    return _mm512_castsi512_ps(_mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_unpacklo_epi16(z, v)), _mm256_unpackhi_epi16(z, v), 1));
}

static void vec_dot_bf16(int64_t n, float *s, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const __m512i x0 = _mm512_loadu_si512((const void *)(x + i));
        const __m512i y0 = _mm512_loadu_si512((const void *)(y + i));
        const __m512i x1 = _mm512_loadu_si512((const void *)(x + i + 32));
        const __m512i y1 = _mm512_loadu_si512((const void *)(y + i + 32));
        a0 = _mm512_fmadd_ps(bf16_lo(x0), bf16_lo(y0), a0);
        a1 = _mm512_fmadd_ps(bf16_hi(x0), bf16_hi(y0), a1);
        a2 = _mm512_fmadd_ps(bf16_lo(x1), bf16_lo(y1), a2);
        a3 = _mm512_fmadd_ps(bf16_hi(x1), bf16_hi(y1), a3);
    }
    for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(load_bf16x16(x + i), load_bf16x16(y + i), a0);
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    for (; i < n; i++) sum += kern_bf16_to_f32(x[i]) * kern_bf16_to_f32(y[i]);
    *s = sum;
}

/* ---- activation quantizers: the reference's scalar scale arithmetic (IEEE division is the
 * same in a vector lane), one multiply per element ---- */

/* roundf: truncate, then step away from zero where the dropped fraction (exact) is >= 0.5. */
static inline __m512i roundf_epi32(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __mmask16 up =
        _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
    return _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, one));
}

/* 4 x 16 int32 (each in [-128, 127]) -> 64 int8 in order. The packs work per 128-bit lane,
 * leaving 4-byte group 4L + k = group L of input k; the permute puts group j = 4k + L back. */
static inline __m512i pack_i32x4_i8(__m512i a, __m512i b, __m512i c, __m512i d) {
    const __m512i v = _mm512_packs_epi16(_mm512_packs_epi32(a, b), _mm512_packs_epi32(c, d));
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(idx, v);
}

/* Each 128-bit lane -> [a0+a1, a2+a3, b0+b1, b2+b3] (int32; hadd, which AVX-512 lacks). */
static inline __m512i hadd_epi32(__m512i a, __m512i b) {
    const __m512 fa = _mm512_castsi512_ps(a), fb = _mm512_castsi512_ps(b);
    return _mm512_add_epi32(
        _mm512_castps_si512(_mm512_shuffle_ps(fa, fb, _MM_SHUFFLE(2, 0, 2, 0))),
        _mm512_castps_si512(_mm512_shuffle_ps(fa, fb, _MM_SHUFFLE(3, 1, 3, 1))));
}

/* The maxima of a and of b: a's in lanes 0..7, b's in lanes 8..15. */
static inline __m512 hmax_pair(__m512 a, __m512 b) {
    __m512 r = _mm512_max_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
    r = _mm512_max_ps(r, _mm512_shuffle_f32x4(r, r, _MM_SHUFFLE(2, 3, 0, 1)));
    r = _mm512_max_ps(r, _mm512_shuffle_ps(r, r, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm512_max_ps(r, _mm512_shuffle_ps(r, r, _MM_SHUFFLE(2, 3, 0, 1)));
}

/* The sums of a and of b (int32): a's in lane 0, b's in lane 1. */
static inline __m256i hsum_pair(__m512i a, __m512i b) {
    const __m512i s = hadd_epi32(hadd_epi32(a, b), _mm512_setzero_si512());
    /* Lane L: [a_L, b_L, 0, 0]; add the four lanes. */
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    return _mm256_add_epi32(h, _mm256_permute2x128_si256(h, h, 1));
}

static inline float lane0(__m512 v) { return _mm_cvtss_f32(_mm512_castps512_ps128(v)); }
static inline float lane8(__m512 v) { return _mm_cvtss_f32(_mm512_extractf32x4_ps(v, 2)); }

/* Two 32-blocks of Q8_0/Q8_1 at xa and xb: their 64 quants (xa's in the low half), their d
 * (unrounded) and, where sums is not NULL, their quant sums. */
static inline __m512i q8_pair(const float *xa, const float *xb, float d[2], int sums[2]) {
    const __m512 v0 = _mm512_loadu_ps(xa), v1 = _mm512_loadu_ps(xa + 16);
    const __m512 v2 = _mm512_loadu_ps(xb), v3 = _mm512_loadu_ps(xb + 16);
    const __m512 amax = hmax_pair(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)),
                                  _mm512_max_ps(_mm512_abs_ps(v2), _mm512_abs_ps(v3)));
    /* d = amax / 127, id = d != 0 ? 1 / d : 0, per lane as the reference does per block. */
    const __m512 vd = _mm512_div_ps(amax, _mm512_set1_ps(127.0f));
    const __mmask16 nz = _mm512_cmp_ps_mask(vd, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    const __m512 id = _mm512_maskz_div_ps(nz, _mm512_set1_ps(1.0f), vd);
    const __m512 ida = _mm512_shuffle_f32x4(id, id, 0x00), idb = _mm512_shuffle_f32x4(id, id, 0xAA);
    const __m512i i0 = roundf_epi32(_mm512_mul_ps(v0, ida)),
                  i1 = roundf_epi32(_mm512_mul_ps(v1, ida));
    const __m512i i2 = roundf_epi32(_mm512_mul_ps(v2, idb)),
                  i3 = roundf_epi32(_mm512_mul_ps(v3, idb));
    d[0] = lane0(vd);
    d[1] = lane8(vd);
    if (sums) {
        const __m256i s = hsum_pair(_mm512_add_epi32(i0, i1), _mm512_add_epi32(i2, i3));
        sums[0] = _mm256_extract_epi32(s, 0);
        sums[1] = _mm256_extract_epi32(s, 1);
    }
    return pack_i32x4_i8(i0, i1, i2, i3);
}

static void from_float_q8_0(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i += 2) {
        /* An odd last block is quantized twice, as both halves; its copy is not stored. */
        const bool two = i + 1 < nb;
        float d[2];
        const __m512i q = q8_pair(x + i * QK8_0, x + (i + two) * QK8_0, d, NULL);
        _mm256_storeu_si256((__m256i *)y[i].qs, _mm512_castsi512_si256(q));
        y[i].d = kern_f32_to_f16(d[0]);
        if (!two) break;
        _mm256_storeu_si256((__m256i *)y[i + 1].qs, _mm512_extracti64x4_epi64(q, 1));
        y[i + 1].d = kern_f32_to_f16(d[1]);
    }
}

static void from_float_q8_1(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    const int64_t nb = n / QK8_1;
    for (int64_t i = 0; i < nb; i += 2) {
        const bool two = i + 1 < nb;
        float d[2];
        int sum[2];
        const __m512i q = q8_pair(x + i * QK8_1, x + (i + two) * QK8_1, d, sum);
        _mm256_storeu_si256((__m256i *)y[i].qs, _mm512_castsi512_si256(q));
        y[i].d = kern_f32_to_f16(d[0]);
        y[i].s = kern_f32_to_f16((float)sum[0] * d[0]);
        if (!two) break;
        _mm256_storeu_si256((__m256i *)y[i + 1].qs, _mm512_extracti64x4_epi64(q, 1));
        y[i + 1].d = kern_f32_to_f16(d[1]);
        y[i + 1].s = kern_f32_to_f16((float)sum[1] * d[1]);
    }
}

static inline float hmax_ps(__m512 v) {
    const __m256 h =
        _mm256_max_ps(_mm512_castps512_ps256(v),
                      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static void from_float_q8_K(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m512 m = _mm512_setzero_ps();
        for (int j = 0; j < QK_K; j += 16)
            m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
        const float amax = hmax_ps(m);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        /* The reference keeps the first element of largest magnitude (its sign matters). */
        float max = 0;
        for (int j = 0; j < QK_K; j += 16) {
            const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)),
                                                     _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (hit) {
                max = x[j + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m512 vs = _mm512_set1_ps(iscale);
        const __m512i lim = _mm512_set1_epi32(127);
        __m512i s4[4];
        for (int c = 0; c < 4; c++) {
            __m512i q[4];
            for (int k = 0; k < 4; k++) {
                /* cvtps rounds to nearest even (the current mode), like nearest_int. */
                const __m512i v =
                    _mm512_cvtps_epi32(_mm512_mul_ps(vs, _mm512_loadu_ps(x + 64 * c + 16 * k)));
                q[k] = _mm512_min_epi32(v, lim);
            }
            const __m512i b = pack_i32x4_i8(q[0], q[1], q[2], q[3]);
            _mm512_storeu_si512((void *)(y[i].qs + 64 * c), b);
            /* Quad sums: 128-bit lane L holds the 4 partial sums of bsum 4c + L. */
            s4[c] = _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_set1_epi8(1), b),
                                      _mm512_set1_epi16(1));
        }
        /* Lane L of e: [bsum L, bsum 4 + L, bsum 8 + L, bsum 12 + L]; into order, to int16. */
        const __m512i e = hadd_epi32(hadd_epi32(s4[0], s4[1]), hadd_epi32(s4[2], s4[3]));
        const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        _mm256_storeu_si256((__m256i *)y[i].bsums,
                            _mm512_cvtsepi32_epi16(_mm512_permutexvar_epi32(idx, e)));
        y[i].d = 1 / iscale;
    }
}

void kern_patch_avx512_f(kern_traits *t, bool vnni) {
    (void)vnni; /* nothing here has a VNNI form */
    t[GGUF_TYPE_F32].vec_dot = vec_dot_f32;
    t[GGUF_TYPE_F16].vec_dot = vec_dot_f16;
    t[GGUF_TYPE_BF16].vec_dot = vec_dot_bf16;
    /* Batches loop over vec_dot, so batched and single results stay identical. */
    t[GGUF_TYPE_F32].vec_dot_multi = NULL;
    t[GGUF_TYPE_F16].vec_dot_multi = NULL;
    t[GGUF_TYPE_BF16].vec_dot_multi = NULL;
    t[GGUF_TYPE_Q8_0].from_float = from_float_q8_0;
    t[GGUF_TYPE_Q8_1].from_float = from_float_q8_1;
    t[GGUF_TYPE_Q8_K].from_float = from_float_q8_K;
}
