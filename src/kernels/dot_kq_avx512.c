/*
 * AVX-512 dot products of Q2_K, Q3_K, Q5_K and IQ4_XS weights with Q8_K activations (Q4_K and
 * Q6_K are in dot_avx512.c). They follow the AVX2 kernels of dot_kq_avx2.c with 64 elements per
 * register: per super-block the quant products are summed exactly in int32 lanes (maddubs,
 * then madd with the sub-block scales), converted once and added with one FMA; the mins go
 * through the activations' bsums. A register then holds one 16-element sub-block per 128-bit
 * lane (Q2_K, Q3_K) or one 32-element sub-block per half (Q5_K, IQ4_XS), and the int16 scales
 * come from one table per super-block, one in-lane shuffle per register.
 * Q3_K takes its quants as q + 4 (0..7, unsigned) and subtracts 4 * scale * bsum, which saves
 * the AVX2 kernel's second maddubs. VNNI only in Q2_K: there scale (0..15) times quant (0..3)
 * fits an unsigned byte, so a table lookup and dpbusd replace maddubs, madd and add; in the
 * other types that product does not fit one, and dpbusd would still need a multiply by the
 * scales.
 * NOTE: written without AVX-512 hardware at hand; verified through the SIMDe build of the
 * tests (avx512_emu.h), which runs these kernels against the reference on AVX2 CPUs.
 */
#include "avx512_int.h"


/* Which of the 16 scale bytes lane_scales puts where: byte 8L + r becomes word r of 128-bit
 * lane L, the scale register r needs in lane L: that of sub-block 4r + L where sub-blocks have
 * 16 elements, of sub-block 2r + L / 2 where they have 32. Words 4..7 are unused. */
static const int8_t lanes_16[32] = {0, 4, 8,  12, 0, 0, 0, 0, 1, 5, 9,  13, 0, 0, 0, 0,
                                    2, 6, 10, 14, 0, 0, 0, 0, 3, 7, 11, 15, 0, 0, 0, 0};
static const int8_t lanes_32[32] = {0, 2, 4, 6, 0, 0, 0, 0, 0, 2, 4, 6, 0, 0, 0, 0,
                                    1, 3, 5, 7, 0, 0, 0, 0, 1, 3, 5, 7, 0, 0, 0, 0};

/* The int8 scales sc8 picked by sel (lanes_16 or lanes_32) and widened to int16. */
static inline __m512i lane_scales(__m128i sc8, const int8_t sel[32]) {
    const __m256i picked = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(sc8),
                                               _mm256_loadu_si256((const __m256i *)sel));
    return _mm512_cvtepi8_epi16(picked);
}

/* Word r of each 128-bit lane in all its 8 words: register r's scales from lane_scales. */
static inline __m512i lane_word(__m512i v, int r) {
    return _mm512_shuffle_epi8(v, _mm512_set1_epi16((short)(((2 * r + 1) << 8) | (2 * r))));
}

/* Q3_K's hmask and Q5_K's qh: bit b of byte l belongs to element 32b + l. Register r
 * (elements 64r..64r+63) takes bits 2r (low half) and 2r + 1 (high half); hb is the 32 bytes
 * in both halves. */
static inline __mmask64 high_bits(__m512i hb, int r) {
    const __m512i bit =
        join256(_mm256_set1_epi8((char)(1 << 2 * r)), _mm256_set1_epi8((char)(2 << 2 * r)));
    return _mm512_test_epi8_mask(hb, bit);
}

static inline float hsum_f32x4(__m128 x) {
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

/* Q2_K, with and without VNNI. Register r = 2h + m holds elements 128h + 64m .. + 63: bit
 * pairs 2m (low half) and 2m + 1 (high half) of the 32 bytes of half h. So b holds those
 * bytes in its low half and the same shifted right by 2 in its high half, and register r is
 * (b >> 4m) & 3. tab(sc) makes the table that step(sumi, q, a, t, r) uses to add register r's
 * scaled products to sumi. */
#define DEFINE_Q2_K(name, tab, step, attr)                                                         \
    attr static void name(int64_t n, float *s, const void *vx, const void *vy) {                   \
        const block_q2_K *x = vx;                                                                  \
        const block_q8_K *y = vy;                                                                  \
        const __m512i m3 = _mm512_set1_epi8(3);                                                    \
        __m512 acc = _mm512_setzero_ps();                                                          \
        __m256 acc_m = _mm256_setzero_ps();                                                        \
        for (int64_t i = 0; i < n / QK_K; i++) {                                                   \
            const float dall = y[i].d * H2F(x[i].d), dmin = y[i].d * H2F(x[i].dmin);               \
            const __m128i packed = _mm_loadu_si128((const __m128i *)x[i].scales);                  \
            const __m256i mins = _mm256_cvtepu8_epi16(                                             \
                _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0xF)));                     \
            const __m256i prod =                                                                   \
                _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)y[i].bsums));          \
            acc_m = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(prod), acc_m);        \
            const __m512i t =                                                                      \
                tab(lane_scales(_mm_and_si128(packed, _mm_set1_epi8(0xF)), lanes_16));             \
            const int8_t *q8 = y[i].qs;                                                            \
            __m512i sumi = _mm512_setzero_si512();                                                 \
            _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++) {                                  \
                const __m256i bits = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));      \
                const __m512i b = join256(bits, _mm256_srli_epi16(bits, 2));                       \
                _Pragma("GCC unroll 2") for (int m = 0; m < 2; m++, q8 += 64) {                    \
                    const __m512i q = _mm512_and_si512(_mm512_srli_epi16(b, 4 * m), m3);           \
                    sumi = step(sumi, q, _mm512_loadu_si512((const void *)q8), t, 2 * h + m);      \
                }                                                                                  \
            }                                                                                      \
            acc = _mm512_fmadd_ps(_mm512_set1_ps(dall), _mm512_cvtepi32_ps(sumi), acc);            \
        }                                                                                          \
        *s = _mm512_reduce_add_ps(acc) - hsum_f32x8(acc_m);                                        \
    }

static inline __m512i q2k_tab(__m512i sc) { return sc; }

static inline __m512i q2k_step(__m512i sumi, __m512i q, __m512i a, __m512i sc, int r) {
    return _mm512_add_epi32(sumi, _mm512_madd_epi16(lane_word(sc, r), _mm512_maddubs_epi16(q, a)));
}

/* Byte 4r + q of lane L: q * (register r's scale in lane L), from word r = s: the words
 * (s, s) times (0x0100, 0x0302) are the bytes 0, s, 2s, 3s. */
static inline __m512i q2k_tab_vnni(__m512i sc) {
    return _mm512_mullo_epi16(_mm512_unpacklo_epi16(sc, sc), _mm512_set1_epi32(0x03020100));
}

KERN_TARGET_VNNI static inline __m512i q2k_step_vnni(__m512i sumi, __m512i q, __m512i a,
                                                     __m512i tab, int r) {
    const __m512i w = _mm512_shuffle_epi8(tab, _mm512_or_si512(q, _mm512_set1_epi8((char)(4 * r))));
    return _mm512_dpbusd_epi32(sumi, w, a);
}

DEFINE_Q2_K(vec_dot_q2_K, q2k_tab, q2k_step, )
DEFINE_Q2_K(vec_dot_q2_K_vnni, q2k_tab_vnni, q2k_step_vnni, KERN_TARGET_VNNI)

static void vec_dot_q3_K(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q3_K *x = vx;
    const block_q8_K *y = vy;
    const __m512i m3 = _mm512_set1_epi8(3), m4 = _mm512_set1_epi8(4);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * H2F(x[i].d);
        const __m128i sc8 = _mm_sub_epi8(q3k_scales(x[i].scales), _mm_set1_epi8(32));
        const __m512i sc = lane_scales(sc8, lanes_16);
        /* q = u - 4 with u = low bits + 4 * high bit: sum scale * u * a - 4 * scale * bsum. */
        const __m256i corr = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8),
                                               _mm256_loadu_si256((const __m256i *)y[i].bsums));
        __m512i sumi = _mm512_inserti64x4(
            _mm512_setzero_si512(),
            _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 2)), 0);
        const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x[i].hmask));
        const int8_t *q8 = y[i].qs;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            /* The low bits as in Q2_K. */
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
            const __m512i b = join256(bits, _mm256_srli_epi16(bits, 2));
#pragma GCC unroll 2
            for (int m = 0; m < 2; m++, q8 += 64) {
                const int r = 2 * h + m;
                const __m512i lo = _mm512_and_si512(_mm512_srli_epi16(b, 4 * m), m3);
                const __m512i u = _mm512_mask_add_epi8(lo, high_bits(hb, r), lo, m4);
                const __m512i p = _mm512_maddubs_epi16(u, _mm512_loadu_si512((const void *)q8));
                sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(lane_word(sc, r), p));
            }
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    }
    *s = _mm512_reduce_add_ps(acc);
}

static void vec_dot_q5_K(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    const __m512i m4 = _mm512_set1_epi8(0xF), m16 = _mm512_set1_epi8(16);
    __m512 acc = _mm512_setzero_ps();
    __m128 acc_m = _mm_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * H2F(x[i].d), dmin = -y[i].d * H2F(x[i].dmin);
        const __m128i sm = k4_scales_mins(x[i].scales);
        const __m128i prod =
            _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)), q8k_sums32(&y[i]));
        acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod), acc_m);
        const __m512i sc = lane_scales(sm, lanes_32);
        /* qh holds the fifth bits. */
        const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x[i].qh));
        const uint8_t *q4 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++, q4 += 32, q8 += 64) {
            /* Low nibbles are elements 64r..64r+31, high nibbles the next 32: y's order. */
            const __m256i bits = _mm256_loadu_si256((const __m256i *)q4);
            const __m512i lo = _mm512_and_si512(join256(bits, _mm256_srli_epi16(bits, 4)), m4);
            const __m512i q = _mm512_mask_add_epi8(lo, high_bits(hb, r), lo, m16);
            const __m512i p = _mm512_maddubs_epi16(q, _mm512_loadu_si512((const void *)q8));
            sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(lane_word(sc, r), p));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    }
    *s = _mm512_reduce_add_ps(acc) + hsum_f32x4(acc_m);
}

static void vec_dot_iq4_xs(int64_t n, float *s, const void *vx, const void *vy) {
    const block_iq4_xs *x = vx;
    const block_q8_K *y = vy;
    /* |value| by index; the values of indexes 0..7 are negative, 8..15 positive. */
    const __m512i mag =
        _mm512_broadcast_i32x4(_mm_abs_epi8(_mm_loadu_si128((const __m128i *)kern_iq4nl_values)));
    const __m512i m4 = _mm512_set1_epi8(0xF), eight = _mm512_set1_epi8(8);
    /* lo and hi: the low and high nibbles of 4 sub-blocks, 16 bytes each. Register 2h + t
     * takes sub-block 2t's low then high nibbles, then sub-block 2t + 1's: y's order. */
    const __m512i pick[2] = {_mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11),
                             _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15)};
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * H2F(x[i].d);
        /* The 8 six-bit scales, one a byte: 4 bits from scales_l, 2 from scales_h. */
        uint32_t sl;
        memcpy(&sl, x[i].scales_l, 4);
        const uint64_t ls =
            _pdep_u64(sl, 0x0F0F0F0F0F0F0F0FULL) | _pdep_u64(x[i].scales_h, 0x3030303030303030ULL);
        const __m512i sc = lane_scales(
            _mm_sub_epi8(_mm_cvtsi64_si128((long long)ls), _mm_set1_epi8(32)), lanes_32);
        const int8_t *q8 = y[i].qs;
        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m512i bits = _mm512_loadu_si512((const void *)(x[i].qs + 64 * h));
            const __m512i lo = _mm512_and_si512(bits, m4);
            const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(bits, 4), m4);
#pragma GCC unroll 2
            for (int t = 0; t < 2; t++, q8 += 64) {
                const __m512i idx = _mm512_permutex2var_epi64(lo, pick[t], hi);
                const __m512i a = _mm512_loadu_si512((const void *)q8);
                /* maddubs takes |value| and a with the value's sign. */
                const __m512i sa = _mm512_mask_sub_epi8(a, _mm512_cmplt_epi8_mask(idx, eight),
                                                        _mm512_setzero_si512(), a);
                const __m512i p = _mm512_maddubs_epi16(_mm512_shuffle_epi8(mag, idx), sa);
                sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(lane_word(sc, 2 * h + t), p));
            }
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    }
    *s = _mm512_reduce_add_ps(acc);
}

void kern_patch_avx512_kq(kern_traits *t, bool vnni) {
    t[GGUF_TYPE_Q2_K].vec_dot = vnni ? vec_dot_q2_K_vnni : vec_dot_q2_K;
    t[GGUF_TYPE_Q3_K].vec_dot = vec_dot_q3_K;
    t[GGUF_TYPE_Q5_K].vec_dot = vec_dot_q5_K;
    t[GGUF_TYPE_IQ4_XS].vec_dot = vec_dot_iq4_xs;
    /* As in kern_patch_avx512: batched and single results stay identical. */
    t[GGUF_TYPE_Q2_K].vec_dot_multi = NULL;
    t[GGUF_TYPE_Q3_K].vec_dot_multi = NULL;
    t[GGUF_TYPE_Q5_K].vec_dot_multi = NULL;
    t[GGUF_TYPE_IQ4_XS].vec_dot_multi = NULL;
}
