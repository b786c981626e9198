/*
 * AVX2 kernel for Q4_K weights repacked 8 rows at a time (block_q4_Kx8): one row per 32-bit
 * lane, Q8_K tokens read in place.
 *
 * Per super-block, the 8 rows' 6-bit scales and mins are unpacked together (lane-wise shifts
 * and masks of the 3 scale words, as a row's 12 bytes are defined), and each sub-block's
 * scale becomes an int16 pair [sc, sc] per lane with one pshufb. A piece of nibbles (4 bytes
 * of each row, both nibbles of one sub-block) is unpacked once for every token; the token's
 * quants are broadcast 4 at a time. The maddubs products of a sub-block are summed in int16
 * (4 pieces x 2 x 2 x 15 x 128 = 30720 fits), then one madd with the scale pair gives
 * sc * sum as int32. The mins: 4 madds of [m_2p, m_2p+1] pairs with the token's sub-block
 * sums (from bsums), one row per lane as well.
 */
#include "avx2_int.h"

#define INLINE static inline __attribute__((always_inline))

/* Keeps v in a register here: stops GCC from reassociating a chain of integer sums into a
 * tree, which would hoist every product of a sub-block and spill them. */
#define KEEP(v) __asm__("" : "+x"(v))

/* pshufb controls picking bytes (a, b, c, d) of every 32-bit lane; 0x80 and up give zero. */
#define Z 0x80
#define LANES(a, b, c, d)                                                                          \
    a, b, c, d, (a) + 4, (b) + 4, (c) + 4, (d) + 4, (a) + 8, (b) + 8, (c) + 8, (d) + 8, (a) + 12,  \
        (b) + 12, (c) + 12, (d) + 12
#define CTL(a, b, c, d)                                                                            \
    { LANES(a, b, c, d), LANES(a, b, c, d) }
/* 0..3: byte k as the int16 pair [k, k] (a scale for both halves of a madd pair);
 * 4, 5: bytes (0, 1) and (2, 3) as int16 (two mins). */
static const uint8_t ctl[6][32] __attribute__((aligned(32))) = {
    CTL(0, Z, 0, Z), CTL(1, Z, 1, Z), CTL(2, Z, 2, Z),
    CTL(3, Z, 3, Z), CTL(0, Z, 1, Z), CTL(2, Z, 3, Z),
};
#undef Z

INLINE __m256i shuf(__m256i v, int k) {
    return _mm256_shuffle_epi8(v, _mm256_load_si256((const __m256i *)ctl[k]));
}

/* Scales of sub-blocks 0-3 and 4-7, mins likewise, one byte each, row r in lane r. */
typedef struct {
    __m256i sc[2], m[2];
} q4k_sm;

INLINE q4k_sm unpack_scales(const block_q4_Kx8 *w) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i *)w->scales[0]);
    const __m256i w1 = _mm256_loadu_si256((const __m256i *)w->scales[1]);
    const __m256i w2 = _mm256_loadu_si256((const __m256i *)w->scales[2]);
    const __m256i k3f = _mm256_set1_epi8(0x3F), k0f = _mm256_set1_epi8(0xF);
    const __m256i k30 = _mm256_set1_epi8(0x30);
    q4k_sm o;
    o.sc[0] = _mm256_and_si256(w0, k3f);
    o.m[0] = _mm256_and_si256(w1, k3f);
    /* 4-7: low 4 bits from the third word, the top 2 from the top bits of the first two. */
    o.sc[1] =
        _mm256_or_si256(_mm256_and_si256(w2, k0f), _mm256_and_si256(_mm256_srli_epi32(w0, 2), k30));
    o.m[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(w2, 4), k0f),
                             _mm256_and_si256(_mm256_srli_epi32(w1, 2), k30));
    return o;
}

/* sum_s m_s * (token's sum of sub-block s) per row lane: bsums pairs added to the 8
 * sub-block sums, broadcast two at a time. */
INLINE __m256i mins_dot(const __m256i mp[4], const block_q8_K *y) {
    const __m128i s = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y->bsums),
                                     _mm_loadu_si128((const __m128i *)(y->bsums + 8)));
    const __m256i sb = _mm256_broadcastsi128_si256(s);
    const __m256i a = _mm256_add_epi32(_mm256_madd_epi16(mp[0], _mm256_shuffle_epi32(sb, 0x00)),
                                       _mm256_madd_epi16(mp[1], _mm256_shuffle_epi32(sb, 0x55)));
    const __m256i b = _mm256_add_epi32(_mm256_madd_epi16(mp[2], _mm256_shuffle_epi32(sb, 0xAA)),
                                       _mm256_madd_epi16(mp[3], _mm256_shuffle_epi32(sb, 0xFF)));
    return _mm256_add_epi32(a, b);
}

/* A single token (generation) streams the weights from memory, where the hardware
 * prefetcher alone leaves the bus idle part of the time: the next super-block's 18 lines are
 * asked for 2 at a time, at the start and with each sub-block (prefetch_l1). */
INLINE void prefetch_next(const block_q4_Kx8 *w, int part) {
    const uintptr_t p = (uintptr_t)(w + 1) + 128 * (uintptr_t)part;
    prefetch_l1(p);
    prefetch_l1(p + 64);
}

/* sumi[t] += sc_s * (sub-block s of the 8 rows . token t's quants), sc as [sc, sc] pairs. */
INLINE void sub_block(const block_q4_Kx8 *w, const block_q8_K *const *y, int s, __m256i sc,
                      __m256i *sumi, const int NT) {
    const __m256i m4 = _mm256_set1_epi8(0xF);
    if (NT == 1) prefetch_next(w, 1 + s);
    __m256i a[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) a[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)w->qs[4 * s + p]);
        const __m256i lo = _mm256_and_si256(v, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            const int8_t *q = y[t]->qs + 32 * s + 4 * p;
            a[t] = _mm256_add_epi16(a[t], _mm256_maddubs_epi16(lo, bcast4(q)));
            a[t] = _mm256_add_epi16(a[t], _mm256_maddubs_epi16(hi, bcast4(q + 16)));
            KEEP(a[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(a[t], sc));
        KEEP(sumi[t]);
    }
}

/* One super-block of the 8 rows times NT tokens, added to acc[t]. */
INLINE void super_block(const block_q4_Kx8 *w, const block_q8_K *const *y, __m256 *acc,
                        const int NT) {
    if (NT == 1) prefetch_next(w, 0); /* d, dmin, scales */
    const q4k_sm sm = unpack_scales(w);
    __m256i sumi[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
    /* Sub-blocks 0-3 then 4-7: one copy of the code, the scales' register picked by h. */
    for (int h = 0; h < 2; h++) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) sub_block(w, y, 4 * h + k, shuf(sm.sc[h], k), sumi, NT);
    }
    const __m256i mp[4] = {shuf(sm.m[0], 4), shuf(sm.m[0], 5), shuf(sm.m[1], 4), shuf(sm.m[1], 5)};
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w->d));
    const __m256 dmw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w->dmin));
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        const __m256 yd = _mm256_set1_ps(y[t]->d);
        const __m256 mins = _mm256_cvtepi32_ps(mins_dot(mp, y[t]));
        acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, yd), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        acc[t] = _mm256_fnmadd_ps(_mm256_mul_ps(dmw, yd), mins, acc[t]);
    }
}

INLINE void q4_Kr8(int64_t nb, const block_q4_Kx8 *W, const uint8_t *xq, size_t x_row, float *Y,
                   size_t ldy, const int NT) {
    __m256 acc[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const block_q8_K *y[KERN_R8_NT];
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) y[t] = (const block_q8_K *)(xq + (size_t)t * x_row) + i;
        super_block(W + i, y, acc, NT);
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(Y + (size_t)t * ldy, acc[t]);
}

static void q4_Kr8_avx2(int64_t nb, const void *W, const uint8_t *xq, size_t x_row, const float *dc,
                        float *Y, size_t ldy, int nt) {
    (void)dc;
    const block_q4_Kx8 *w = W;
    switch (nt) {
    case 1: q4_Kr8(nb, w, xq, x_row, Y, ldy, 1); break;
    case 2: q4_Kr8(nb, w, xq, x_row, Y, ldy, 2); break;
    case 3: q4_Kr8(nb, w, xq, x_row, Y, ldy, 3); break;
    default: q4_Kr8(nb, w, xq, x_row, Y, ldy, 4); break;
    }
}

void kern_patch_avx2_r8k(kern_r8_fn *table) {
    table[KERN_TYPE_Q4_K_R8 - KERN_R8_FIRST] = q4_Kr8_avx2;
}
