/*
 * AVX2 activation quantizers (Q8_0, Q8_1, Q8_K), bit-exact with the reference: the same scalar
 * scale arithmetic, one vector multiply per element (one rounding, as in C), and the
 * reference's rounding rules (roundf's halves away from zero for Q8_0/Q8_1, nearest-even for
 * Q8_K). Activations are quantized once per matrix product, which matters for small models.
 */
#include "avx2_int.h"

static inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* roundf: truncate, then step away from zero when the dropped fraction (exact) is >= 0.5. */
static inline __m256i roundf_epi32(__m256 v) {
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = abs_ps(_mm256_sub_ps(v, t));
    const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, _mm256_set1_ps(-0.0f)));
    return _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(up, one)));
}

/* 4 x 8 int32 (each in [-128, 127]) -> 32 int8 in order. */
static inline __m256i pack_i32x4_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    const __m256i v = _mm256_packs_epi16(ab, cd);
    /* The packs work per 128-bit lane; put the 4-byte groups back in order. */
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* One 32-block of Q8_0/Q8_1: the quants, and d (unrounded) through *dout. */
static inline __m256i q8_block(const float *x, float *dout, __m256i *sum) {
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    const __m256 m =
        _mm256_max_ps(_mm256_max_ps(abs_ps(v0), abs_ps(v1)), _mm256_max_ps(abs_ps(v2), abs_ps(v3)));
    const float amax = hmax_ps(m);
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    const __m256i i0 = roundf_epi32(_mm256_mul_ps(v0, vid)),
                  i1 = roundf_epi32(_mm256_mul_ps(v1, vid));
    const __m256i i2 = roundf_epi32(_mm256_mul_ps(v2, vid)),
                  i3 = roundf_epi32(_mm256_mul_ps(v3, vid));
    *dout = d;
    *sum = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
    return pack_i32x4_i8(i0, i1, i2, i3);
}

static void from_float_q8_0(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0) {
        float d;
        __m256i sum;
        _mm256_storeu_si256((__m256i *)y[i].qs, q8_block(x, &d, &sum));
        y[i].d = kern_f32_to_f16(d);
    }
}

static void from_float_q8_1(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / QK8_1; i++, x += QK8_1) {
        float d;
        __m256i sum;
        _mm256_storeu_si256((__m256i *)y[i].qs, q8_block(x, &d, &sum));
        y[i].d = kern_f32_to_f16(d);
        y[i].s = kern_f32_to_f16((float)hsum_i32x8(sum) * d);
    }
}

static void from_float_q8_K(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8) m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(x + j)));
        const float amax = hmax_ps(m);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        /* The reference keeps the first element of largest magnitude (its sign matters). */
        float max = 0;
        for (int j = 0; j < QK_K; j += 8) {
            const int hit = _mm256_movemask_ps(
                _mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + j)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
            if (hit) {
                max = x[j + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m256 vs = _mm256_set1_ps(iscale);
        const __m256i lim = _mm256_set1_epi32(127);
        for (int j = 0; j < QK_K; j += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                /* cvtps rounds to nearest even, like the reference's nearest_int. */
                const __m256i v =
                    _mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(x + j + 8 * k)));
                q[k] = _mm256_min_epi32(v, lim);
            }
            const __m256i b = pack_i32x4_i8(q[0], q[1], q[2], q[3]);
            _mm256_storeu_si256((__m256i *)(y[i].qs + j), b);
            /* Sums of each 16 quants: bytes -> pairs -> quads, then the two 16-groups of
             * this 32-byte vector are the two 128-bit lanes. */
            const __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), b),
                                                 _mm256_set1_epi16(1));
            const __m128i lo = _mm256_castsi256_si128(s4), hi = _mm256_extracti128_si256(s4, 1);
            y[i].bsums[j / 16] = (int16_t)hsum_i32x4(lo);
            y[i].bsums[j / 16 + 1] = (int16_t)hsum_i32x4(hi);
        }
        y[i].d = 1 / iscale;
    }
}

void kern_patch_avx2_quant(kern_traits *t) {
    t[GGUF_TYPE_Q8_0].from_float = from_float_q8_0;
    t[GGUF_TYPE_Q8_1].from_float = from_float_q8_1;
    t[GGUF_TYPE_Q8_K].from_float = from_float_q8_K;
}
