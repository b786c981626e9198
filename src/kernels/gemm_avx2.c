/*
 * AVX2 register-blocked GEMM kernels for prompt batches (the llamafile "tinyBLAS" idea): a
 * tile of weight rows times packed groups of 4 tokens (block_q8_0x4, block_q8_0x4p,
 * block_q8_Kx4, see kernels_int.h), so each weight block is loaded and unpacked once for 4
 * tokens (8 for Q4_K) and, for Q8_0/Q4_0/Q5_0, each token block once for 4 weight rows.
 *
 * The 4 tokens' int32 products of a block are folded (unpacks and adds) into one register,
 * lanes [t0 t1 t2 t3 | t0 t1 t2 t3] (low half: elements 0-15 of each 32, high half: 16-31),
 * so one conversion and one FMA with the scale vector [d_w * d_t ...] serve 4 tokens, where
 * the mat-vec kernels spend a conversion, a scalar multiply, a broadcast and an FMA per
 * token. Integer offsets (Q4_0's -8, Q5_0's -16, Q6_K's -32) are taken off once per block
 * with the token sums the packing stored, so the weight quants go into maddubs unsigned and
 * need no sign trick.
 *
 * Also the Q4_0 mat-vec (gemv_q4_0), with the token packed the same way (block_q8_0x2v).
 *
 * The reference is vec_dot (the tests compare kern_matmul with it); lanes never mix tokens,
 * so a token's result does not depend on the rest of its batch.
 */
#include "avx2_int.h"

#define INLINE static inline __attribute__((always_inline))

/* p0..p3: 8 int32 partial sums per token -> [t0 t1 t2 t3 | t0 t1 t2 t3] */
INLINE __m256i fold4(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    /* Unpacks and adds, one uop each (two levels of hadd give the same lanes). */
    const __m256i s01 =
        _mm256_add_epi32(_mm256_unpacklo_epi32(p0, p1), _mm256_unpackhi_epi32(p0, p1));
    const __m256i s23 =
        _mm256_add_epi32(_mm256_unpacklo_epi32(p2, p3), _mm256_unpackhi_epi32(p2, p3));
    return _mm256_add_epi32(_mm256_unpacklo_epi64(s01, s23), _mm256_unpackhi_epi64(s01, s23));
}

/* The same fold from maddubs' int16 pair sums, for Q4_0/Q5_0 where the weights are small
 * (|q y| pair sums <= 2 * 31 * 127 = 7874): groups of 4 of them still fit int16, so the
 * tokens are folded in 16 bits and one madd replaces four. */
INLINE __m256i fold4_small(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    const __m256i s01 =
        _mm256_add_epi16(_mm256_unpacklo_epi32(p0, p1), _mm256_unpackhi_epi32(p0, p1));
    const __m256i s23 =
        _mm256_add_epi16(_mm256_unpacklo_epi32(p2, p3), _mm256_unpackhi_epi32(p2, p3));
    const __m256i s =
        _mm256_add_epi16(_mm256_unpacklo_epi64(s01, s23), _mm256_unpackhi_epi64(s01, s23));
    return _mm256_madd_epi16(s, _mm256_set1_epi16(1));
}

/* Y[t * ldy] = lane t + lane t + 4 of acc, for t < nt. */
INLINE void store4(float *Y, size_t ldy, __m256 acc, int nt) {
    float v[4];
    _mm_storeu_ps(v, _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)));
    for (int t = 0; t < nt; t++) Y[(size_t)t * ldy] = v[t];
}

/* ---- Q8_0 weights: sign trick, RM rows x 4 tokens ---- */

INLINE void q8_0_tile(int64_t nb, const uint8_t *W, size_t w_row, const block_q8_0x4 *xp, float *Y,
                      size_t ldy, int nt, const int RM) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    for (int r = 0; r < RM; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t k = 0; k < nb; k++) {
        const block_q8_0x4 *b = xp + k;
        const __m256 db = _mm256_broadcast_ps((const __m128 *)b->d);
        const __m256i y0 = _mm256_loadu_si256((const __m256i *)b->qs[0]);
        const __m256i y1 = _mm256_loadu_si256((const __m256i *)b->qs[1]);
        const __m256i y2 = _mm256_loadu_si256((const __m256i *)b->qs[2]);
        const __m256i y3 = _mm256_loadu_si256((const __m256i *)b->qs[3]);
#pragma GCC unroll 4
        for (int r = 0; r < RM; r++) {
            const block_q8_0 *a = (const block_q8_0 *)(W + (size_t)r * w_row) + k;
            const __m256i qa = _mm256_loadu_si256((const __m256i *)a->qs);
            const __m256i ax = _mm256_sign_epi8(qa, qa);
            const __m256i p0 =
                _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(y0, qa)), ones);
            const __m256i p1 =
                _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(y1, qa)), ones);
            const __m256i p2 =
                _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(y2, qa)), ones);
            const __m256i p3 =
                _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(y3, qa)), ones);
            const __m256 d = _mm256_mul_ps(_mm256_set1_ps(H2F(a->d)), db);
            acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(fold4(p0, p1, p2, p3)), acc[r]);
        }
    }
    for (int r = 0; r < RM; r++) store4(Y + r, ldy, acc[r], nt);
}

/* fold4 from int16 pair sums of up to 15748 (Q5_0's pairs of blocks): two of them still fit
 * int16, four do not, so two tokens are folded in 16 bits and two madds finish. */
INLINE __m256i fold4_mid(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i s01 = _mm256_madd_epi16(
        _mm256_add_epi16(_mm256_unpacklo_epi32(p0, p1), _mm256_unpackhi_epi32(p0, p1)), ones);
    const __m256i s23 = _mm256_madd_epi16(
        _mm256_add_epi16(_mm256_unpacklo_epi32(p2, p3), _mm256_unpackhi_epi32(p2, p3)), ones);
    return _mm256_add_epi32(_mm256_unpacklo_epi64(s01, s23), _mm256_unpackhi_epi64(s01, s23));
}

/* Q4_0 and Q5_0 by pairs of blocks (block_q8_0x4p): one unpacking for 64 elements, and the
 * fold's 128-bit halves are the two blocks. Per token, the low and high halves' maddubs pair
 * sums add in int16: <= 2 * (2 * 15 * 127) = 7620 for Q4_0, folded by 4 (30480) in 16 bits;
 * <= 15748 for Q5_0 (quants up to 31), folded by 2. Q5 selects Q5_0. */
INLINE void qx_0p_tile(int64_t nb, const uint8_t *W, size_t w_row, const block_q8_0x4p *xp,
                       float *Y, size_t ldy, int nt, const int RM, const bool Q5) {
    const __m256i m4 = _mm256_set1_epi8(0xF), b4 = _mm256_set1_epi8(0x10);
    const size_t bsz = Q5 ? sizeof(block_q5_0) : sizeof(block_q4_0);
    __m256 acc[4];
    for (int r = 0; r < RM; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i += 2) {
        const block_q8_0x4p *b = xp + i / 2;
        const bool pair = i + 1 < nb;
        const __m256 db = _mm256_loadu_ps(b->d);
        /* the offset (8 or 16) times the token sums */
        const __m256i off =
            _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)b->s), Q5 ? 4 : 3);
#pragma GCC unroll 4
        for (int r = 0; r < RM; r++) {
            const uint8_t *a0 = W + (size_t)r * w_row + (size_t)i * bsz, *a1 = a0 + bsz;
            /* d, then (Q5_0) qh[4], then qs[16] */
            const uint8_t *qs0 = a0 + (Q5 ? 6 : 2), *qs1 = a1 + (Q5 ? 6 : 2);
            const __m256i bits =
                pair ? load_2x16(qs0, qs1)
                     : _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)qs0));
            __m256i lo = _mm256_and_si256(bits, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            if (Q5) {
                const __m256i h0 = bits_to_bytes_32(a0 + 2);
                const __m256i h1 = pair ? bits_to_bytes_32(a1 + 2) : _mm256_setzero_si256();
                lo = _mm256_or_si256(lo,
                                     _mm256_and_si256(_mm256_permute2x128_si256(h0, h1, 0x20), b4));
                hi = _mm256_or_si256(hi,
                                     _mm256_and_si256(_mm256_permute2x128_si256(h0, h1, 0x31), b4));
            }
#define QX_0P_TOK(t)                                                                               \
    _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)b->lo[t])),      \
                     _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)b->hi[t])))
            const __m256i sum = _mm256_sub_epi32(
                Q5 ? fold4_mid(QX_0P_TOK(0), QX_0P_TOK(1), QX_0P_TOK(2), QX_0P_TOK(3))
                   : fold4_small(QX_0P_TOK(0), QX_0P_TOK(1), QX_0P_TOK(2), QX_0P_TOK(3)),
                off);
#undef QX_0P_TOK
            kern_half h0, h1 = 0;
            memcpy(&h0, a0, 2);
            if (pair) memcpy(&h1, a1, 2);
            const __m256 dx = scales_2x4(H2F(h0), pair ? H2F(h1) : 0.0f);
            acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(dx, db), _mm256_cvtepi32_ps(sum), acc[r]);
        }
    }
    for (int r = 0; r < RM; r++) store4(Y + r, ldy, acc[r], nt);
}

INLINE void q4_0p_tile(int64_t nb, const uint8_t *W, size_t w_row, const block_q8_0x4p *xp,
                       float *Y, size_t ldy, int nt, const int RM) {
    qx_0p_tile(nb, W, w_row, xp, Y, ldy, nt, RM, false);
}

INLINE void q5_0p_tile(int64_t nb, const uint8_t *W, size_t w_row, const block_q8_0x4p *xp,
                       float *Y, size_t ldy, int nt, const int RM) {
    qx_0p_tile(nb, W, w_row, xp, Y, ldy, nt, RM, true);
}

/* bcast_pair(v, m) with the shuffle control from a table: in a loop that is not unrolled, m
 * is not a constant and GCC would build the control with four scalar instructions. */
static const int16_t pair_ctl[8][16] __attribute__((aligned(32))) = {
#define PAIR_CTL(m)                                                                                \
    { [0 ... 15] = (int16_t)(((2 * (m) + 1) << 8) | (2 * (m))) }
    PAIR_CTL(0), PAIR_CTL(1), PAIR_CTL(2), PAIR_CTL(3),
    PAIR_CTL(4), PAIR_CTL(5), PAIR_CTL(6), PAIR_CTL(7),
#undef PAIR_CTL
};

INLINE __m256i bcast_pair_t(__m256i v, int m) {
    return _mm256_shuffle_epi8(v, _mm256_load_si256((const __m256i *)pair_ctl[m]));
}

/* ---- Q4_K weights: one row x 4 tokens, int32 sums over the whole 256-block ---- */

/* G groups of 4 tokens (1 or 2) per weight row: with 2, the unpacking, scales and mins of
 * the row serve 8 tokens. */
INLINE void q4_K_tile(int64_t nb, const uint8_t *W, const block_q8_Kx4 *xa, const block_q8_Kx4 *xb,
                      float *Y, size_t ldy, int nt, const int G) {
    const block_q4_K *x = (const block_q4_K *)W;
    const block_q8_Kx4 *xg[2] = {xa, xb};
    const __m256i m4 = _mm256_set1_epi8(0xF);
    __m256 acc[2];
    for (int g = 0; g < G; g++) acc[g] = _mm256_setzero_ps();
    for (int64_t k = 0; k < nb; k++) {
        const __m128i sm8 = k4_scales_mins(x[k].scales);
        const __m256i sm = _mm256_cvtepu8_epi16(sm8);
        const __m256i sc = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
        __m256i st[8];
        for (int t = 0; t < 4 * G; t++) st[t] = _mm256_setzero_si256();
            /* Not unrolled: GCC would hoist all the products and spill them. */
#pragma GCC unroll 1
        for (int j = 0; j < 4; j++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(x[k].qs + 32 * j));
            const __m256i lo = _mm256_and_si256(bits, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            const __m256i sl = bcast_pair_t(sc, 2 * j), sh = bcast_pair_t(sc, 2 * j + 1);
#pragma GCC unroll 8
            for (int t = 0; t < 4 * G; t++) {
                const int8_t *q8 = xg[t / 4][k].qs[t % 4] + 64 * j;
                const __m256i pl =
                    _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
                const __m256i ph =
                    _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
                st[t] = _mm256_add_epi32(
                    st[t], _mm256_add_epi32(_mm256_madd_epi16(sl, pl), _mm256_madd_epi16(sh, ph)));
            }
        }
        /* The mins: sum_j m_j * (sub-block sum j) per token, lanes as fold4's. */
        const __m256i mins = _mm256_castsi128_si256(_mm256_extracti128_si256(sm, 1));
        const __m256i m01 =
            _mm256_permutevar8x32_epi32(mins, _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
        const __m256i m23 =
            _mm256_permutevar8x32_epi32(mins, _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3));
        const __m256 dx = _mm256_set1_ps(H2F(x[k].d)), dmx = _mm256_set1_ps(H2F(x[k].dmin));
#pragma GCC unroll 2
        for (int g = 0; g < G; g++) {
            const block_q8_Kx4 *b = xg[g] + k;
            const __m256i msum = _mm256_add_epi32(
                _mm256_madd_epi16(m01, _mm256_loadu_si256((const __m256i *)b->msum[0])),
                _mm256_madd_epi16(m23, _mm256_loadu_si256((const __m256i *)b->msum[1])));
            const __m256 db = _mm256_broadcast_ps((const __m128 *)b->d);
            const __m256i sum = fold4(st[4 * g], st[4 * g + 1], st[4 * g + 2], st[4 * g + 3]);
            acc[g] = _mm256_fmadd_ps(_mm256_mul_ps(dx, db), _mm256_cvtepi32_ps(sum), acc[g]);
            acc[g] = _mm256_fnmadd_ps(_mm256_mul_ps(dmx, db), _mm256_cvtepi32_ps(msum), acc[g]);
        }
    }
    store4(Y, ldy, acc[0], nt < 4 ? nt : 4);
    if (G == 2) store4(Y + 4 * ldy, ldy, acc[1], nt - 4);
}

static void gemm_q4_K(int64_t n, const void *W, size_t w_row, int64_t nr, const void *xp,
                      size_t xp_group, float *Y, size_t ldy, int nt) {
    const block_q8_Kx4 *xa = xp;
    const block_q8_Kx4 *xb = nt > 4 ? (const block_q8_Kx4 *)((const uint8_t *)xp + xp_group) : xa;
    for (int64_t r = 0; r < nr; r++) {
        const uint8_t *w = (const uint8_t *)W + (size_t)r * w_row;
        if (nt > 4)
            q4_K_tile(n / QK_K, w, xa, xb, Y + r, ldy, nt, 2);
        else
            q4_K_tile(n / QK_K, w, xa, xa, Y + r, ldy, nt, 1);
    }
}

/* ---- Q6_K weights: one row x 4 tokens ---- */

INLINE void q6_K_tile(int64_t nb, const uint8_t *W, size_t w_row, const block_q8_Kx4 *xp, float *Y,
                      size_t ldy, int nt, const int RM) {
    (void)w_row, (void)RM;
    const block_q6_K *x = (const block_q6_K *)W;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t k = 0; k < nb; k++) {
        const block_q8_Kx4 *b = xp + k;
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)x[k].scales);
        const __m256i sc = scales_even_odd(sc8), sc16 = _mm256_cvtepi8_epi16(sc8);
        /* The -32 offset of every quant: -32 * sum(scale_j * activation sum_j), exact. */
        __m256i st[4];
        for (int t = 0; t < 4; t++) {
            const __m256i corr =
                _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)b->bsums[t]));
            st[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5));
        }
        const uint8_t *ql = x[k].ql, *qh = x[k].qh;
        /* Not unrolled: GCC would hoist the products and spill them. */
#pragma GCC unroll 1
        for (int j = 0; j < 2; j++, ql += 64, qh += 32) {
            __m256i q[4];
            q6k_unpack_128(ql, qh, q);
#pragma GCC unroll 4
            for (int m = 0; m < 4; m++) {
                const __m256i scale = bcast_pair_t(sc, 4 * j + m);
#pragma GCC unroll 4
                for (int t = 0; t < 4; t++) {
                    const __m256i p = _mm256_maddubs_epi16(
                        q[m], _mm256_loadu_si256((const __m256i *)(b->qs[t] + 128 * j + 32 * m)));
                    st[t] = _mm256_add_epi32(st[t], _mm256_madd_epi16(scale, p));
                }
            }
        }
        const __m256 db = _mm256_broadcast_ps((const __m128 *)b->d);
        const __m256 d = _mm256_mul_ps(_mm256_set1_ps(H2F(x[k].d)), db);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(fold4(st[0], st[1], st[2], st[3])), acc);
    }
    store4(Y, ldy, acc, nt);
}

/* The kern_gemm_fn of each 4-token kernel: tiles of RM rows, then the remaining rows one by
 * one, each against the (one or two) groups of tokens. */
#define DEFINE_GEMM(t, X4, RM)                                                                     \
    static void gemm_##t(int64_t n, const void *W, size_t w_row, int64_t nr, const void *xp,       \
                         size_t xp_group, float *Y, size_t ldy, int nt) {                          \
        const int64_t nb = n / (sizeof(((X4 *)0)->qs[0]));                                         \
        const uint8_t *w = W;                                                                      \
        const void *xb = nt > 4 ? (const uint8_t *)xp + xp_group : xp;                             \
        float *Yb = Y + 4 * ldy;                                                                   \
        int64_t r = 0;                                                                             \
        for (; r + RM <= nr; r += RM) {                                                            \
            t##_tile(nb, w + (size_t)r * w_row, w_row, xp, Y + r, ldy, nt < 4 ? nt : 4, RM);       \
            if (nt > 4) t##_tile(nb, w + (size_t)r * w_row, w_row, xb, Yb + r, ldy, nt - 4, RM);   \
        }                                                                                          \
        for (; r < nr; r++) {                                                                      \
            t##_tile(nb, w + (size_t)r * w_row, w_row, xp, Y + r, ldy, nt < 4 ? nt : 4, 1);        \
            if (nt > 4) t##_tile(nb, w + (size_t)r * w_row, w_row, xb, Yb + r, ldy, nt - 4, 1);    \
        }                                                                                          \
    }

/* nb counted in 32-blocks for every Q8_0-based layout (qs[0] of block_q8_0x4: 32 bytes). */
DEFINE_GEMM(q8_0, block_q8_0x4, 4)
DEFINE_GEMM(q4_0p, block_q8_0x4, 4)
DEFINE_GEMM(q5_0p, block_q8_0x4, 4)
DEFINE_GEMM(q6_K, block_q8_Kx4, 1)

/* ---- F16, BF16 and F32 weights: tokens as floats, 8 elements of each of the 4 side by side ----
 * RM rows x 4 tokens of accumulators (12 of the 16 registers at RM = 3): each weight chunk is
 * converted once for the 4 tokens and each token chunk loaded once for the RM rows, where
 * vec_dot converted both for every pair of row and token (and, for F32, read 4 token rows
 * too large for L1 once per weight row). */
enum { HALF_F16, HALF_BF16, HALF_F32 };

/* Elements 8k .. 8k + 7 of a weight row as floats. */
static inline __attribute__((always_inline)) __m256 half8(const uint8_t *row, int64_t k,
                                                          const int T) {
    if (T == HALF_F32) return _mm256_loadu_ps((const float *)row + 8 * k);
    const __m128i h = _mm_loadu_si128((const __m128i *)row + k);
    return T == HALF_BF16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
                          : _mm256_cvtph_ps(h);
}

static inline __attribute__((always_inline)) void half_tile(int64_t n, const uint8_t *W,
                                                            size_t w_row, const float *x,
                                                            float *Y, size_t ldy, int nt,
                                                            const int RM, const int T) {
    __m256 acc[3][4];
#pragma GCC unroll 3
    for (int r = 0; r < RM; r++)
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t k = 0; k < n / 8; k++) {
        __m256 w[3];
#pragma GCC unroll 3
        for (int r = 0; r < RM; r++) w[r] = half8(W + (size_t)r * w_row, k, T);
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++) {
            const __m256 xv = _mm256_loadu_ps(x + (k * 4 + t) * 8);
#pragma GCC unroll 3
            for (int r = 0; r < RM; r++) acc[r][t] = _mm256_fmadd_ps(w[r], xv, acc[r][t]);
        }
    }
#pragma GCC unroll 3
    for (int r = 0; r < RM; r++)
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++)
            if (t < nt) Y[(size_t)t * ldy + r] = hsum_f32x8(acc[r][t]);
}

static inline __attribute__((always_inline)) void gemm_half(int64_t n, const void *W,
                                                            size_t w_row, int64_t nr,
                                                            const void *xp, size_t xp_group,
                                                            float *Y, size_t ldy, int nt,
                                                            const int T) {
    for (int g = 0; 4 * g < nt; g++) {
        const float *x = (const float *)((const uint8_t *)xp + (size_t)g * xp_group);
        const int ntg = nt - 4 * g < 4 ? nt - 4 * g : 4;
        float *Yg = Y + (size_t)(4 * g) * ldy;
        const uint8_t *w = W;
        int64_t r = 0;
        for (; r + 3 <= nr; r += 3) half_tile(n, w + (size_t)r * w_row, w_row, x, Yg + r, ldy, ntg, 3, T);
        for (; r < nr; r++) half_tile(n, w + (size_t)r * w_row, w_row, x, Yg + r, ldy, ntg, 1, T);
    }
}

static void gemm_f16(int64_t n, const void *W, size_t w_row, int64_t nr, const void *xp,
                     size_t xp_group, float *Y, size_t ldy, int nt) {
    gemm_half(n, W, w_row, nr, xp, xp_group, Y, ldy, nt, HALF_F16);
}

static void gemm_bf16(int64_t n, const void *W, size_t w_row, int64_t nr, const void *xp,
                      size_t xp_group, float *Y, size_t ldy, int nt) {
    gemm_half(n, W, w_row, nr, xp, xp_group, Y, ldy, nt, HALF_BF16);
}

static void gemm_f32(int64_t n, const void *W, size_t w_row, int64_t nr, const void *xp,
                     size_t xp_group, float *Y, size_t ldy, int nt) {
    gemm_half(n, W, w_row, nr, xp, xp_group, Y, ldy, nt, HALF_F32);
}

/* ---- Q4_0 mat-vec with the token packed as block_q8_0x2v ---- */

static void gemv_q4_0(int64_t n, const void *W, size_t w_row, int64_t nr, const void *vxp,
                      float *Y) {
    const int64_t nb = n / QK4_0;
    const block_q8_0x2v *xp = vxp;
    const __m256i m4 = _mm256_set1_epi8(0xF), ones = _mm256_set1_epi16(1);
    for (int64_t r = 0; r < nr; r++) {
        const block_q4_0 *x = (const block_q4_0 *)((const uint8_t *)W + (size_t)r * w_row);
        /* Two accumulators: the FMA chain would otherwise bound a row read from memory. */
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        int64_t i = 0;
#define Q4_0_PAIR(acc, y, bits, dx)                                                                \
    do {                                                                                           \
        const __m256i lo = _mm256_and_si256(bits, m4);                                             \
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);                       \
        const __m256i s16 = _mm256_add_epi16(                                                      \
            _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)y->lo)),                  \
            _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)y->hi)));                 \
        const __m256i p = _mm256_sub_epi32(_mm256_madd_epi16(s16, ones),                           \
                                           _mm256_loadu_si256((const __m256i *)y->off));           \
        const __m256 t = _mm256_mul_ps(_mm256_loadu_ps(y->d), _mm256_cvtepi32_ps(p));              \
        acc = _mm256_fmadd_ps(dx, t, acc);                                                         \
    } while (0)
        for (; i + 3 < nb; i += 4) {
            const __m256i b0 = load_2x16(x[i].qs, x[i + 1].qs);
            Q4_0_PAIR(acc0, (xp + i / 2), b0, scales_2x4(H2F(x[i].d), H2F(x[i + 1].d)));
            const __m256i b1 = load_2x16(x[i + 2].qs, x[i + 3].qs);
            Q4_0_PAIR(acc1, (xp + i / 2 + 1), b1, scales_2x4(H2F(x[i + 2].d), H2F(x[i + 3].d)));
        }
        for (; i + 1 < nb; i += 2) {
            const __m256i b = load_2x16(x[i].qs, x[i + 1].qs);
            Q4_0_PAIR(acc0, (xp + i / 2), b, scales_2x4(H2F(x[i].d), H2F(x[i + 1].d)));
        }
        if (i < nb) {
            /* The last block alone (the packed pair's second half is zeros). */
            const __m256i b = _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)x[i].qs));
            Q4_0_PAIR(acc1, (xp + i / 2), b, scales_2x4(H2F(x[i].d), 0.0f));
        }
#undef Q4_0_PAIR
        Y[r] = hsum_f32x8(_mm256_add_ps(acc0, acc1));
    }
}

void kern_patch_avx2_gemm(kern_gemm_fn *g, kern_gemv_fn *v) {
    v[GGUF_TYPE_Q4_0] = gemv_q4_0;
    g[GGUF_TYPE_Q8_0] = gemm_q8_0;
    g[GGUF_TYPE_Q4_0] = gemm_q4_0p;
    g[GGUF_TYPE_Q5_0] = gemm_q5_0p;
    g[GGUF_TYPE_Q4_K] = gemm_q4_K;
    g[GGUF_TYPE_Q6_K] = gemm_q6_K;
    g[GGUF_TYPE_F16] = gemm_f16;
    g[GGUF_TYPE_BF16] = gemm_bf16;
    g[GGUF_TYPE_F32] = gemm_f32;
}
