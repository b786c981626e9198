/*
 * AVX-512 (F/BW/DQ/VL, + VNNI where the CPU has it) dot products for the other 32-element
 * block types: Q5_0 and IQ4_NL against Q8_0, Q4_1 and Q5_1 against Q8_1 (types.c's pairs).
 * As dot_avx512.c does for Q4_0: two blocks per 512-bit register in element order (bytes
 * 0..31 block i, 32..63 block i + 1, so that int32 lanes 0-7 belong to i and 8-15 to i + 1),
 * one FMA per pair of blocks, and an odd last block alone in 256 bits, as the AVX2 kernels
 * (dot_avx2.c) do it. The fifth bits of Q5_0/Q5_1 go in as a 64-bit byte mask (bit e of qh is
 * element e's), one masked add or subtract per pair. Q4_1/Q5_1 take their block scales and
 * offsets (d, m; Q8_1's d, s) with F16C, two halves per load, instead of four table look-ups
 * per block: the loop was bound by its loads. Each kernel exists twice, with and without VNNI
 * (one dpbusd for maddubs + madd); kern_patch_avx512 picks them. Like dot_avx512.c, written
 * without AVX-512 hardware at hand: checked against the reference through the SIMDe build
 * (simd_test.c) and, at kern_init, by kern_selfcheck.
 */
#include "avx512_int.h"

#include <stddef.h>


/* As in dot_avx512.c: only the *_vnni functions use VNNI intrinsics, and nothing else has a
 * plain integer loop the compiler could turn into VNNI instructions. */

/* Sums of 4 products into 16 int32: unsigned quants (0..31) by signed activations, and
 * signed by signed (x's sign moved onto y). maddubs cannot saturate here: its pairs reach
 * 2 * 31 * 127 unsigned, 2 * 127 * 127 signed (IQ4_NL's -127 by a Q8 quant of +-127). */
static inline __m512i dot_u8s8_512(__m512i u, __m512i s) {
    return _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1));
}

KERN_TARGET_VNNI static inline __m512i dot_u8s8_512_vnni(__m512i u, __m512i s) {
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, s);
}

static inline __m512i dot_s8s8_512(__m512i x, __m512i y) {
    const __m512i sy = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(x), _mm512_setzero_si512(), y);
    return dot_u8s8_512(_mm512_abs_epi8(x), sy);
}

KERN_TARGET_VNNI static inline __m512i dot_s8s8_512_vnni(__m512i x, __m512i y) {
    const __m512i sy = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(x), _mm512_setzero_si512(), y);
    return dot_u8s8_512_vnni(_mm512_abs_epi8(x), sy);
}

/* The nibbles of two blocks (16 bytes each at a and b) as 64 bytes in element order: low
 * nibbles of a, high nibbles of a, then b's. [a, a, b, b] from two broadcast loads, the
 * second and fourth quarters shifted by 4: no shuffle but the join. */
static inline __m512i nibbles_64(const uint8_t *a, const uint8_t *b) {
    const __m512i w = join256(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)a)),
                              _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)b)));
    const __m512i sh = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);
    return _mm512_and_si512(_mm512_srlv_epi64(w, sh), _mm512_set1_epi8(0x0F));
}

/* The fifth bits of two Q5 blocks: bit e of the mask is that of byte e of nibbles_64. */
static inline __mmask64 high_bits_64(const uint8_t *a, const uint8_t *b) {
    uint32_t ha, hb;
    memcpy(&ha, a, 4);
    memcpy(&hb, b, 4);
    return (__mmask64)((uint64_t)ha | (uint64_t)hb << 32);
}

static inline __m512i iq4nl_levels_512(void) {
    return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kern_iq4nl_values));
}

/* ---- per type: a pair of blocks as 64 int8 (pair), a single block as 32 (one) ---- */

/* Q5_0: q - 16 where the fifth bit is clear (a signed quant in [-16, 15]). */
static inline __m512i pair_q5_0(const block_q5_0 *x) {
    const __m512i q = nibbles_64(x[0].qs, x[1].qs);
    return _mm512_mask_sub_epi8(q, (__mmask64)~high_bits_64(x[0].qh, x[1].qh), q,
                                _mm512_set1_epi8(16));
}

static inline __m256i one_q5_0(const block_q5_0 *x) {
    /* (q | h << 4) - 16 is q where h is set and q | 0xF0 (as int8) where it is not. */
    const __m256i nh = _mm256_andnot_si256(bits_to_bytes_32(x->qh), _mm256_set1_epi8((char)0xF0));
    return _mm256_or_si256(nibbles_32(x->qs), nh);
}

/* Q5_1: q + 16 where the fifth bit is set (unsigned, 0..31). */
static inline __m512i pair_q5_1(const block_q5_1 *x) {
    const __m512i q = nibbles_64(x[0].qs, x[1].qs);
    return _mm512_mask_add_epi8(q, high_bits_64(x[0].qh, x[1].qh), q, _mm512_set1_epi8(16));
}

static inline __m256i one_q5_1(const block_q5_1 *x) {
    const __m256i h = _mm256_and_si256(bits_to_bytes_32(x->qh), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(nibbles_32(x->qs), h);
}

static inline __m512i pair_q4_1(const block_q4_1 *x) { return nibbles_64(x[0].qs, x[1].qs); }
static inline __m256i one_q4_1(const block_q4_1 *x) { return nibbles_32(x->qs); }

static inline __m512i pair_iq4_nl(const block_iq4_nl *x) {
    return _mm512_shuffle_epi8(iq4nl_levels_512(), nibbles_64(x[0].qs, x[1].qs));
}

static inline __m256i one_iq4_nl(const block_iq4_nl *x) {
    const __m256i levels =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kern_iq4nl_values));
    return _mm256_shuffle_epi8(levels, nibbles_32(x->qs));
}

/* The scales of a pair of blocks: d_x * d_y of block 0 in the low 8 float lanes, block 1's in
 * the high 8. Q8_0 pairs: from kern_f16_table. Q4_1/Q5_1 with Q8_1 begin with two halves, d
 * and m (d and s for Q8_1): both pairs of a block in one 32-bit load and one conversion
 * (F16C, exact as the table), a quarter of the loads of four table look-ups per block; their
 * products m * s (lanes 1 and 3) are summed in *ms. */
static_assert(offsetof(block_q4_1, m) == 2 && offsetof(block_q5_1, m) == 2 &&
                  offsetof(block_q8_1, s) == 2,
              "d and m (s) side by side at the start of the block");

static inline __m512 scales_dm(const void *xa, const void *xb, const void *ya, const void *yb,
                               __m128 *ms) {
    int32_t h[4];
    memcpy(&h[0], xa, 4);
    memcpy(&h[1], xb, 4);
    memcpy(&h[2], ya, 4);
    memcpy(&h[3], yb, 4);
    /* cvtph_ps reads the low 64 bits only: no zeroing of the rest. */
    const __m128 fx = _mm_cvtph_ps(_mm_insert_epi32(_mm_cvtsi32_si128(h[0]), h[1], 1));
    const __m128 fy = _mm_cvtph_ps(_mm_insert_epi32(_mm_cvtsi32_si128(h[2]), h[3], 1));
    const __m128 p = _mm_mul_ps(fx, fy); /* da, ma * sa, db, mb * sb */
    *ms = _mm_add_ps(*ms, p);
    const __m512i idx = _mm512_set_epi32(2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(p));
}

/* Lanes 1 and 3 of scales_dm's sums (0 where SCALES_D left them zero). */
static inline float odd_lanes_sum(__m128 ms) {
    const __m128 odd = _mm_movehdup_ps(ms); /* ms1 ms1 ms3 ms3 */
    return _mm_cvtss_f32(odd) + _mm_cvtss_f32(_mm_movehl_ps(odd, odd));
}

#define SCALES_D(x, y, ms) scales2(H2F((x)[0].d) * H2F((y)[0].d), H2F((x)[1].d) * H2F((y)[1].d))
#define SCALES_DM(x, y, ms) scales_dm(&(x)[0], &(x)[1], &(y)[0], &(y)[1], &(ms))
/* A single block's offset term (the odd last block). */
#define OFFSET_NONE(xb, yb) 0.0f
#define OFFSET_M(xb, yb) (H2F((xb).m) * H2F((yb).s))

/* The kernel `name` for weight blocks xblock_t against yblock_t: pair/one from above, dot the
 * 512-bit product (signedness and VNNI), tdot the AVX2 one for the odd block, SCALES and
 * OFFSET those of the type (D and NONE, or DM and M). */
#define DEFINE_DOT(name, xblock_t, yblock_t, pair, one, dot, tdot, SCALES, OFFSET, attr)           \
    attr static void name(int64_t n, float *s, const void *vx, const void *vy) {                   \
        const xblock_t *x = vx;                                                                    \
        const yblock_t *y = vy;                                                                    \
        const int64_t nb = n / 32;                                                                 \
        __m512 acc = _mm512_setzero_ps();                                                          \
        __m128 ms = _mm_setzero_ps();                                                              \
        int64_t i = 0;                                                                             \
        for (; i + 1 < nb; i += 2) {                                                               \
            const __m512i qx = pair(x + i);                                                        \
            const __m512i qy = join256(_mm256_loadu_si256((const __m256i *)y[i].qs),               \
                                       _mm256_loadu_si256((const __m256i *)y[i + 1].qs));          \
            const __m512 d = SCALES(x + i, y + i, ms);                                             \
            acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot(qx, qy)), acc);                        \
        }                                                                                          \
        float sum = _mm512_reduce_add_ps(acc) + odd_lanes_sum(ms);                                 \
        if (i < nb) {                                                                              \
            const __m256i p = tdot(one(x + i), _mm256_loadu_si256((const __m256i *)y[i].qs));      \
            sum += H2F(x[i].d) * H2F(y[i].d) * hsum_f32x8(_mm256_cvtepi32_ps(p)) +                 \
                   OFFSET(x[i], y[i]);                                                             \
        }                                                                                          \
        *s = sum;                                                                                  \
    }

DEFINE_DOT(vec_dot_q5_0, block_q5_0, block_q8_0, pair_q5_0, one_q5_0, dot_s8s8_512, dot_s8s8_i32,
           SCALES_D, OFFSET_NONE, )
DEFINE_DOT(vec_dot_q5_0_vnni, block_q5_0, block_q8_0, pair_q5_0, one_q5_0, dot_s8s8_512_vnni,
           dot_s8s8_i32, SCALES_D, OFFSET_NONE, KERN_TARGET_VNNI)
DEFINE_DOT(vec_dot_iq4_nl, block_iq4_nl, block_q8_0, pair_iq4_nl, one_iq4_nl, dot_s8s8_512,
           dot_s8s8_i32, SCALES_D, OFFSET_NONE, )
DEFINE_DOT(vec_dot_iq4_nl_vnni, block_iq4_nl, block_q8_0, pair_iq4_nl, one_iq4_nl,
           dot_s8s8_512_vnni, dot_s8s8_i32, SCALES_D, OFFSET_NONE, KERN_TARGET_VNNI)
DEFINE_DOT(vec_dot_q4_1, block_q4_1, block_q8_1, pair_q4_1, one_q4_1, dot_u8s8_512, dot_u8s8_i32,
           SCALES_DM, OFFSET_M, )
DEFINE_DOT(vec_dot_q4_1_vnni, block_q4_1, block_q8_1, pair_q4_1, one_q4_1, dot_u8s8_512_vnni,
           dot_u8s8_i32, SCALES_DM, OFFSET_M, KERN_TARGET_VNNI)
DEFINE_DOT(vec_dot_q5_1, block_q5_1, block_q8_1, pair_q5_1, one_q5_1, dot_u8s8_512, dot_u8s8_i32,
           SCALES_DM, OFFSET_M, )
DEFINE_DOT(vec_dot_q5_1_vnni, block_q5_1, block_q8_1, pair_q5_1, one_q5_1, dot_u8s8_512_vnni,
           dot_u8s8_i32, SCALES_DM, OFFSET_M, KERN_TARGET_VNNI)

void kern_patch_avx512_q(kern_traits *t, bool vnni) {
    t[GGUF_TYPE_Q4_1].vec_dot = vnni ? vec_dot_q4_1_vnni : vec_dot_q4_1;
    t[GGUF_TYPE_Q5_0].vec_dot = vnni ? vec_dot_q5_0_vnni : vec_dot_q5_0;
    t[GGUF_TYPE_Q5_1].vec_dot = vnni ? vec_dot_q5_1_vnni : vec_dot_q5_1;
    t[GGUF_TYPE_IQ4_NL].vec_dot = vnni ? vec_dot_iq4_nl_vnni : vec_dot_iq4_nl;
    /* No AVX2 multi-row kernels for these (vec_dot_multi loops over vec_dot); kept NULL in
     * case one comes, so that batched and single results stay identical. */
    t[GGUF_TYPE_Q4_1].vec_dot_multi = NULL;
    t[GGUF_TYPE_Q5_0].vec_dot_multi = NULL;
    t[GGUF_TYPE_Q5_1].vec_dot_multi = NULL;
    t[GGUF_TYPE_IQ4_NL].vec_dot_multi = NULL;
}
