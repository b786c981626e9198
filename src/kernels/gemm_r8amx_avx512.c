/*
 * AMX (Advanced Matrix Extensions, Sapphire Rapids and later) batch kernels for weights packed
 * 8 rows at a time: Q4_0, Q5_0, Q4_1, Q5_1, Q8_0, IQ4_NL, Q4_K and Q5_K, two packed groups
 * (16 rows) per call (kern_r8b2_table).
 *
 * A tile product takes 16 tokens (A: 16 rows of a block's 32 quants, straight from the
 * block-major tokens xt) times the 16 rows' block (B: 8 rows of 4-byte pieces, 64 bytes each,
 * which is how the packed layouts already interleave their rows) into 16 x 16 int32 sums of
 * one block, then AVX-512 scales them into float accumulators (one zmm per token, a lane per
 * row): acc += dw * (dx * sum + offset term). A block has its own scales, so K is 32 per
 * tile product and the scaling costs more instructions than the product; the tile unit
 * makes four blocks' sums while the vector units scale the four before (amx_tokens).
 *   Q8_0: signed x signed (tdpbssd), B copied from the two groups' blocks.
 *   IQ4_NL: the nibbles' signed levels (vpshufb), then as Q8_0.
 *   Q4_0, Q5_0: signed tokens x the unsigned nibbles (tdpbsud), with the fifth bits added
 *         for Q5_0; the -8 / -16 comes off with the token's offset term, as in the other
 *         kernels. Q4_1, Q5_1: the same quants, then the rows' minimums times the token's s.
 * The B tiles and the 16 rows' scales of a run of blocks are made once per call, for every
 * group of 16 tokens.
 *
 * Tiles: 0, 1 tokens (16 x 32 bytes); 2, 3 weights (8 x 64 bytes); 4-7 sums (16 x 64).
 * A tile of tokens always loads 16 rows: past the last token it reads other blocks' tokens
 * or the scratch's padding (kern_matmul_r8_scratch_size), whose sums are not used.
 *
 * The test build compiles this file again on SIMDe (avx512_emu.h) with the tile
 * instructions emulated in C below, so the kernels are checked on any x86-64; a CPU with AMX
 * also checks them at start-up (kern_selfcheck_r8b2).
 */
#include "avx512_int.h"

#include <stddef.h>

/* ldtilecfg's 64-byte operand, palette 1. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_cfg;
static_assert(sizeof(amx_cfg) == 64, "amx_cfg size");

#ifdef KERN_AVX512_EMU
/* The tile registers of this thread, and the instructions the kernels use. */
static _Thread_local struct {
    uint8_t t[8][16][64];
    uint8_t rows[8];
    uint16_t colsb[8];
} emu_amx;

static void emu_cfg(const amx_cfg *c) {
    memset(&emu_amx, 0, sizeof emu_amx);
    for (int i = 0; i < 8; i++) emu_amx.rows[i] = c->rows[i], emu_amx.colsb[i] = c->colsb[i];
}
static void emu_load(int t, const void *p, size_t stride) {
    for (int r = 0; r < emu_amx.rows[t]; r++)
        memcpy(emu_amx.t[t][r], (const uint8_t *)p + (size_t)r * stride, emu_amx.colsb[t]);
}
static void emu_store(int t, void *p, size_t stride) {
    for (int r = 0; r < emu_amx.rows[t]; r++)
        memcpy((uint8_t *)p + (size_t)r * stride, emu_amx.t[t][r], emu_amx.colsb[t]);
}
static void emu_zero(int t) { memset(emu_amx.t[t], 0, sizeof emu_amx.t[t]); }
/* c += a * b, 4-byte groups along K; a signed, b signed (bs) or unsigned. */
static void emu_dp(int c, int a, int b, bool bs) {
    for (int i = 0; i < emu_amx.rows[c]; i++)
        for (int j = 0; j < emu_amx.colsb[c] / 4; j++) {
            int32_t s;
            memcpy(&s, &emu_amx.t[c][i][4 * j], 4);
            for (int k = 0; k < emu_amx.colsb[a]; k++) {
                const int32_t x = (int8_t)emu_amx.t[a][i][k];
                const uint8_t wb = emu_amx.t[b][k / 4][4 * j + k % 4];
                s += x * (bs ? (int32_t)(int8_t)wb : (int32_t)wb);
            }
            memcpy(&emu_amx.t[c][i][4 * j], &s, 4);
        }
}
#define KERN_TARGET_AMX
#define TILE_CFG(c) emu_cfg(c)
#define TILE_RELEASE() ((void)0)
#define TILE_LOAD(t, p, s) emu_load(t, p, s)
#define TILE_STORE(t, p, s) emu_store(t, p, s)
#define TILE_ZERO(t) emu_zero(t)
#define TILE_DPBSSD(c, a, b) emu_dp(c, a, b, true)
#define TILE_DPBSUD(c, a, b) emu_dp(c, a, b, false)
#else
#define KERN_TARGET_AMX __attribute__((target("amx-tile,amx-int8,avx512vnni")))
#define TILE_CFG(c) _tile_loadconfig(c)
#define TILE_RELEASE() _tile_release()
#define TILE_LOAD(t, p, s) _tile_loadd(t, p, (long)(s))
#define TILE_STORE(t, p, s) _tile_stored(t, p, (long)(s))
#define TILE_ZERO(t) _tile_zero(t)
#define TILE_DPBSSD(c, a, b) _tile_dpbssd(c, a, b)
#define TILE_DPBSUD(c, a, b) _tile_dpbsud(c, a, b)
#endif

#define INLINE KERN_AVX512_INLINE KERN_TARGET_AMX

/* Blocks whose B tiles are made at a time: 32 x 576 bytes of stack. */
#define AMX_KC 32

/* The AVX-512 batch kernels, for fewer than KERN_AMX_MIN_TOKENS tokens. */
static kern_r8b_fn amx_small[KERN_R8_COUNT];

/* The types, as template constants. */
enum { AMX_Q4_0, AMX_Q5_0, AMX_Q4_1, AMX_Q5_1, AMX_Q8_0, AMX_IQ4_NL };
#define AMX_Q5(K) ((K) == AMX_Q5_0 || (K) == AMX_Q5_1)
#define AMX_MIN(K) ((K) == AMX_Q4_1 || (K) == AMX_Q5_1)
#define AMX_SIGNED(K) ((K) == AMX_Q8_0 || (K) == AMX_IQ4_NL) /* else unsigned quants + offset */

static const int amx_ptype[] = {KERN_TYPE_Q4_0_R8, KERN_TYPE_Q5_0_R8, KERN_TYPE_Q4_1_R8,
                                KERN_TYPE_Q5_1_R8, KERN_TYPE_Q8_0_R8, KERN_TYPE_IQ4_NL_R8};

INLINE size_t amx_bsize(const int K) {
    return K == AMX_Q8_0 ? sizeof(block_q8_0x8)
           : K == AMX_IQ4_NL ? sizeof(block_q4_0x8)
                             : kern_qx_r8_bytes(AMX_Q5(K), AMX_MIN(K));
}

typedef struct {
    int8_t b[8][64]; /* the B tile: row k4 = pieces k4 of the 16 rows */
    float dw[16];    /* the rows' scales */
    float dm[16];    /* Q4_1, Q5_1: the rows' minimums */
} amx_block;

INLINE void amx_config(void) {
    amx_cfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 2; t++) c.rows[t] = 16, c.colsb[t] = 32;
    for (int t = 2; t < 4; t++) c.rows[t] = 8, c.colsb[t] = 64;
    for (int t = 4; t < 8; t++) c.rows[t] = 16, c.colsb[t] = 64;
    TILE_CFG(&c);
}

INLINE __m512 amx_halves16(const uint16_t *h0, const uint16_t *h1) {
    const __m256 a = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h0));
    const __m256 b = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h1));
    return _mm512_insertf32x8(_mm512_castps256_ps512(a), b, 1);
}

/* Row r's byte of an 8-byte row vector (Q5's fifth bits hb[j]) in the 4 bytes of lane r. */
INLINE __m256i amx_spread8(const uint8_t *p) {
    int64_t v;
    memcpy(&v, p, 8);
    const __m256i idx = _mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4,
                                         4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
    return _mm256_shuffle_epi8(_mm256_set1_epi64x(v), idx);
}

/* Block i of the two groups (g0, g1 = g0 + nb blocks) as an amx_block. */
INLINE void amx_make_block(const uint8_t *g0, const uint8_t *g1, const int K, amx_block *o) {
    /* d[8] leads every block type; Q4_1 / Q5_1 have m[8] next. */
    _mm512_storeu_ps(o->dw, amx_halves16((const uint16_t *)g0, (const uint16_t *)g1));
    if (AMX_MIN(K))
        _mm512_storeu_ps(o->dm, amx_halves16((const uint16_t *)g0 + 8, (const uint16_t *)g1 + 8));
    if (K == AMX_Q8_0) {
        const int8_t *q0 = ((const block_q8_0x8 *)g0)->qs, *q1 = ((const block_q8_0x8 *)g1)->qs;
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            _mm512_storeu_si512(o->b[j],
                                join256(_mm256_loadu_si256((const __m256i *)(q0 + 32 * j)),
                                        _mm256_loadu_si256((const __m256i *)(q1 + 32 * j))));
        return;
    }
    /* Nibbles: piece j's low nibbles are elements 4j.. (B row j), its high ones 16 + 4j..
     * (B row 4 + j). */
    const size_t qs = K == AMX_IQ4_NL ? offsetof(block_q4_0x8, qs)
                                      : kern_qx_r8_qs(AMX_Q5(K), AMX_MIN(K));
    const size_t hb = K == AMX_Q5_1 ? offsetof(block_q5_1x8, hb) : offsetof(block_q5_0x8, hb);
    const __m512i m4 = _mm512_set1_epi8(0xF), b4 = _mm512_set1_epi8(0x10);
    const __m512i sel_lo = _mm512_set1_epi32(0x08040201);
    const __m512i sel_hi = _mm512_set1_epi32((int)0x80402010u);
    const __m512i lv =
        _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kern_iq4nl_values));
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const __m512i v = join256(_mm256_loadu_si256((const __m256i *)(g0 + qs + 32 * j)),
                                  _mm256_loadu_si256((const __m256i *)(g1 + qs + 32 * j)));
        __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        if (AMX_Q5(K)) {
            const __m512i h = join256(amx_spread8(g0 + hb + 8 * j), amx_spread8(g1 + hb + 8 * j));
            lo = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(h, sel_lo), lo, b4);
            hi = _mm512_mask_add_epi8(hi, _mm512_test_epi8_mask(h, sel_hi), hi, b4);
        }
        if (K == AMX_IQ4_NL) {
            lo = _mm512_shuffle_epi8(lv, lo);
            hi = _mm512_shuffle_epi8(lv, hi);
        }
        _mm512_storeu_si512(o->b[j], lo);
        _mm512_storeu_si512(o->b[4 + j], hi);
    }
}

/* The sums of tile c (stored at cs) scaled into acc for tokens 0..n-1 of the tile; dc:
 * token 0's (scale, offset term) pair of this block, the next tokens' after it. */
INLINE void amx_scale(__m512 *acc, const int32_t (*cs)[16], const float *dc,
                      const amx_block *b, int n, const int K) {
    const __m512 dw = _mm512_loadu_ps(b->dw);
    const __m512 dm = AMX_MIN(K) ? _mm512_loadu_ps(b->dm) : dw;
#pragma GCC unroll 16
    for (int i = 0; i < n; i++) {
        const __m512 s = _mm512_cvtepi32_ps(_mm512_load_si512(cs[i]));
        const __m512 x = _mm512_set1_ps(dc[2 * i]), c = _mm512_set1_ps(dc[2 * i + 1]);
        if (AMX_MIN(K)) /* dw * d * sum + the minimums times the token's s */
            acc[i] = _mm512_fmadd_ps(dm, c, _mm512_fmadd_ps(dw, _mm512_mul_ps(x, s), acc[i]));
        else if (AMX_SIGNED(K))
            acc[i] = _mm512_fmadd_ps(dw, _mm512_mul_ps(x, s), acc[i]);
        else /* dw * (d * sum + the offset term) */
            acc[i] = _mm512_fmadd_ps(dw, _mm512_fmadd_ps(x, s, c), acc[i]);
    }
}

#define AMX_DP(K, c, a, b)                                                                             do {                                                                                                   if (AMX_SIGNED(K)) TILE_DPBSSD(c, a, b);                                                           else TILE_DPBSUD(c, a, b);                                                                     } while (0)

/* Block k + u's product into C tile tc (A tile ta, B tile tb). */
#define AMX_PRODUCT(ta, tb, tc, u)                                                                \
    if (k + (u) < kc) {                                                                            \
        TILE_LOAD(ta, xt + 32 * ((k0 + k + (u)) * ld + t0), 32);                                  \
        TILE_LOAD(tb, bl[k + (u)].b, 64);                                                          \
        TILE_ZERO(tc);                                                                             \
        AMX_DP(K, tc, ta, tb);                                                                     \
    }
/* Blocks k .. k + 3's products, stored at cs[0..3]. */
#define AMX_PRODUCTS(cs)                                                                           \
    do {                                                                                           \
        AMX_PRODUCT(0, 2, 4, 0)                                                                    \
        AMX_PRODUCT(1, 3, 5, 1)                                                                    \
        AMX_PRODUCT(0, 2, 6, 2)                                                                    \
        AMX_PRODUCT(1, 3, 7, 3)                                                                    \
        TILE_STORE(4, (cs)[0], 64);                                                                \
        if (k + 1 < kc) TILE_STORE(5, (cs)[1], 64);                                                \
        if (k + 2 < kc) TILE_STORE(6, (cs)[2], 64);                                                \
        if (k + 3 < kc) TILE_STORE(7, (cs)[3], 64);                                                \
    } while (0)

/* Tokens t0 .. t0 + n - 1 (n <= 16) against blocks [k0, k0 + kc) (their amx_blocks in bl),
 * acc (n zmm) carried in and out. N: n as a constant where it is 16, else 0.
 * Software-pipelined by 4 blocks: the tile unit makes and stores the next 4 blocks' sums
 * (one buffer) while the vector units scale the last 4 (the other), so that neither waits
 * for the other and a scaling's loads come long after the stores they read. */
INLINE void amx_tokens(const amx_block *bl, int64_t k0, int kc, const int8_t *xt,
                       const float *dct, int64_t ld, int64_t t0, int n, __m512 *acc,
                       const int K, const int N) {
    int32_t cs[2][4][16][16] __attribute__((aligned(64)));
    const int nn = N ? N : n;
    int k = 0;
    AMX_PRODUCTS(cs[0]);
    for (int b = 0; k < kc; b ^= 1) {
        const int kcur = k;
        k += 4;
        if (k < kc) AMX_PRODUCTS(cs[b ^ 1]);
        for (int u = 0; u < 4 && kcur + u < kc; u++)
            amx_scale(acc, cs[b][u], dct + 2 * ((k0 + kcur + u) * ld + t0), &bl[kcur + u], nn, K);
    }
}

/* kern_r8b_fn over two groups: rows 8g .. 8g + 15 of the product, Y[t * ldy + r] for r < 16;
 * acc: nt * 16 floats. */
INLINE void amx_r8b2(int64_t nb, const uint8_t *W, const int8_t *xt, const float *dct,
                     int64_t ld, int nt, float *accm, float *Y, size_t ldy, const int K) {
    const size_t bsize = amx_bsize(K);
    const uint8_t *W1 = W + (size_t)nb * bsize;
    if (nt < KERN_AMX_MIN_TOKENS) { /* the AVX-512 kernel, a group at a time */
        const kern_r8b_fn f = amx_small[amx_ptype[K] - KERN_R8_FIRST];
        f(nb, W, xt, dct, ld, nt, accm, Y, ldy);
        f(nb, W1, xt, dct, ld, nt, accm, Y + 8, ldy);
        return;
    }
    amx_block bl[AMX_KC];
    amx_config();
    for (int t = 0; t < nt; t++) _mm512_storeu_ps(accm + 16 * t, _mm512_setzero_ps());
    for (int64_t k0 = 0; k0 < nb; k0 += AMX_KC) {
        const int kc = (int)(nb - k0 < AMX_KC ? nb - k0 : AMX_KC);
        for (int k = 0; k < kc; k++)
            amx_make_block(W + (size_t)(k0 + k) * bsize, W1 + (size_t)(k0 + k) * bsize, K,
                           &bl[k]);
        for (int t0 = 0; t0 < nt; t0 += 16) {
            const int n = nt - t0 < 16 ? nt - t0 : 16;
            __m512 acc[16];
            for (int i = 0; i < n; i++) acc[i] = _mm512_loadu_ps(accm + 16 * (t0 + i));
            if (n == 16) amx_tokens(bl, k0, kc, xt, dct, ld, t0, 16, acc, K, 16);
            else amx_tokens(bl, k0, kc, xt, dct, ld, t0, n, acc, K, 0);
            for (int i = 0; i < n; i++) _mm512_storeu_ps(accm + 16 * (t0 + i), acc[i]);
        }
    }
    TILE_RELEASE();
    for (int t = 0; t < nt; t++)
        _mm512_storeu_ps(Y + (size_t)t * ldy, _mm512_loadu_ps(accm + 16 * t));
}

#define DEFINE_AMX(name, K)                                                                            KERN_TARGET_AMX static void name(int64_t nb, const void *W, const int8_t *xt,                                                      const float *dct, int64_t ld, int nt, float *acc, float *Y,                                       size_t ldy) {                                                         amx_r8b2(nb, W, xt, dct, ld, nt, acc, Y, ldy, K);                                              }
DEFINE_AMX(q4_0r8b2_amx, AMX_Q4_0)
DEFINE_AMX(q5_0r8b2_amx, AMX_Q5_0)
DEFINE_AMX(q4_1r8b2_amx, AMX_Q4_1)
DEFINE_AMX(q5_1r8b2_amx, AMX_Q5_1)
DEFINE_AMX(q8_0r8b2_amx, AMX_Q8_0)
DEFINE_AMX(iq4_nlr8b2_amx, AMX_IQ4_NL)

/* ---- Q4_K and Q5_K: Q8_K tokens, a product per 32-element sub-block ----
 * A: 16 tokens' 32 quants of sub-block s, read in place from the block-major block_q8_K
 * tokens (their stride is the block's size). The rows' scales and mins of each sub-block
 * are made into floats once per call (d * scale, dmin * min); per token and super-block,
 * t = sum over sub-blocks of scale x sum - min x the token's sub-block sum (from its bsums),
 * then acc += d_token * t. */

#define AMXK_KC 4 /* super-blocks made at a time: 4 x 5 KiB of stack */

typedef struct {
    int8_t b[8][8][64]; /* sub-block s's B tile */
    float sc[8][16];    /* d * scale of sub-block s, per row */
    float mn[8][16];    /* dmin * min */
} amx_kblock;

/* 6-bit fields of the rows' 12 scale bytes (one row per 32-bit lane; block_q4_Kx8's words
 * w0, w1, w2 hold bytes 0-3, 4-7, 8-11), as kern_scale_min_k4 reads them. */
INLINE __m512i amxk_bits(__m512i w, int shift, int mask) {
    return _mm512_and_si512(_mm512_srlv_epi32(w, _mm512_set1_epi32(shift)), _mm512_set1_epi32(mask));
}

/* Q4_K and Q5_K (Q5) blocks share d, dmin and scales; Q5_K's fifth bits come before qs. */
static_assert(offsetof(block_q5_Kx8, scales) == offsetof(block_q4_Kx8, scales) &&
                  offsetof(block_q5_Kx8, dmin) == offsetof(block_q4_Kx8, dmin),
              "Q4_K and Q5_K packed blocks start alike");

INLINE void amx_make_kblock(const void *v0, const void *v1, const bool Q5, amx_kblock *o) {
    const block_q4_Kx8 *g0 = v0, *g1 = v1;
    const __m512 d = amx_halves16(g0->d, g1->d), dmin = amx_halves16(g0->dmin, g1->dmin);
    __m512i w[3];
    for (int i = 0; i < 3; i++)
        w[i] = join256(_mm256_loadu_si256((const __m256i *)g0->scales[i]),
                       _mm256_loadu_si256((const __m256i *)g1->scales[i]));
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const __m512i sc = amxk_bits(w[0], 8 * j, 63), mn = amxk_bits(w[1], 8 * j, 63);
        const __m512i sc2 = _mm512_or_si512(amxk_bits(w[2], 8 * j, 15),
                                            _mm512_slli_epi32(amxk_bits(w[0], 8 * j + 6, 3), 4));
        const __m512i mn2 = _mm512_or_si512(amxk_bits(w[2], 8 * j + 4, 15),
                                            _mm512_slli_epi32(amxk_bits(w[1], 8 * j + 6, 3), 4));
        _mm512_storeu_ps(o->sc[j], _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc)));
        _mm512_storeu_ps(o->mn[j], _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(mn)));
        _mm512_storeu_ps(o->sc[4 + j], _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc2)));
        _mm512_storeu_ps(o->mn[4 + j], _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(mn2)));
    }
    const size_t qs = Q5 ? offsetof(block_q5_Kx8, qs) : offsetof(block_q4_Kx8, qs);
    const uint8_t *q0 = (const uint8_t *)v0 + qs, *q1 = (const uint8_t *)v1 + qs;
    const uint8_t(*h0)[32] = ((const block_q5_Kx8 *)v0)->qh;
    const uint8_t(*h1)[32] = ((const block_q5_Kx8 *)v1)->qh;
    const __m512i m4 = _mm512_set1_epi8(0xF), b4 = _mm512_set1_epi8(0x10);
    for (int sb = 0; sb < 8; sb++) {
        /* Q5_K: bit p of a byte is the fifth bit of its low nibble of piece p, bit 4 + p of
         * its high nibble; moved to bit 4 (16-bit shifts: the masks keep each byte's own). */
        const __m512i h = Q5 ? join256(_mm256_loadu_si256((const __m256i *)h0[sb]),
                                       _mm256_loadu_si256((const __m256i *)h1[sb]))
                             : _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m512i v = join256(_mm256_loadu_si256((const __m256i *)(q0 + 32 * (4 * sb + j))),
                                      _mm256_loadu_si256((const __m256i *)(q1 + 32 * (4 * sb + j))));
            __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            if (Q5) {
                lo = _mm512_or_si512(lo, _mm512_and_si512(
                                             _mm512_srlv_epi16(_mm512_slli_epi16(h, 4),
                                                               _mm512_set1_epi16((short)j)),
                                             b4));
                hi = _mm512_or_si512(hi, _mm512_and_si512(
                                             _mm512_srlv_epi16(h, _mm512_set1_epi16((short)j)),
                                             b4));
            }
            _mm512_storeu_si512(o->b[sb][j], lo);
            _mm512_storeu_si512(o->b[sb][4 + j], hi);
        }
    }
}

/* Sub-block s of super-block k (its tokens' quants in tile ta, its B in tb) into tc. */
#define AMXK_PRODUCT(ta, tb, tc, s)                                                                \
    TILE_LOAD(ta, y0->qs + 32 * (s), sizeof(block_q8_K));                                          \
    TILE_LOAD(tb, kb_->b[s], 64);                                                                  \
    TILE_ZERO(tc);                                                                                 \
    TILE_DPBSUD(tc, ta, tb);
/* Super-block k's 8 sub-blocks' sums, stored at cs[0..7]. */
#define AMXK_PRODUCTS(k, cs)                                                                       \
    do {                                                                                           \
        const block_q8_K *y0 = xk + (k0 + (k)) * ld + t0;                                         \
        const amx_kblock *kb_ = &bl[k];                                                            \
        AMXK_PRODUCT(0, 2, 4, 0)                                                                   \
        AMXK_PRODUCT(1, 3, 5, 1)                                                                   \
        AMXK_PRODUCT(0, 2, 6, 2)                                                                   \
        AMXK_PRODUCT(1, 3, 7, 3)                                                                   \
        TILE_STORE(4, (cs)[0], 64);                                                                \
        TILE_STORE(5, (cs)[1], 64);                                                                \
        TILE_STORE(6, (cs)[2], 64);                                                                \
        TILE_STORE(7, (cs)[3], 64);                                                                \
        AMXK_PRODUCT(0, 2, 4, 4)                                                                   \
        AMXK_PRODUCT(1, 3, 5, 5)                                                                   \
        AMXK_PRODUCT(0, 2, 6, 6)                                                                   \
        AMXK_PRODUCT(1, 3, 7, 7)                                                                   \
        TILE_STORE(4, (cs)[4], 64);                                                                \
        TILE_STORE(5, (cs)[5], 64);                                                                \
        TILE_STORE(6, (cs)[6], 64);                                                                \
        TILE_STORE(7, (cs)[7], 64);                                                                \
    } while (0)

/* Super-block k's sums (cs) into the accumulators of tokens t0 .. t0 + n - 1 (accm rows). */
INLINE void amxk_scale(const amx_kblock *b, const int32_t (*cs)[16][16], const block_q8_K *y,
                       int n, float *accm) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int i = 0; i < n; i++, y++) {
        float bs[8] __attribute__((aligned(32)));
        _mm256_store_ps(bs, _mm256_cvtepi32_ps(_mm256_madd_epi16(
                                _mm256_loadu_si256((const __m256i *)y->bsums), ones)));
        __m512 t = _mm512_mul_ps(_mm512_loadu_ps(b->sc[0]),
                                 _mm512_cvtepi32_ps(_mm512_load_si512(cs[0][i])));
#pragma GCC unroll 8
        for (int s = 1; s < 8; s++)
            t = _mm512_fmadd_ps(_mm512_loadu_ps(b->sc[s]),
                                _mm512_cvtepi32_ps(_mm512_load_si512(cs[s][i])), t);
#pragma GCC unroll 8
        for (int s = 0; s < 8; s++)
            t = _mm512_fnmadd_ps(_mm512_loadu_ps(b->mn[s]), _mm512_set1_ps(bs[s]), t);
        float *a = accm + 16 * i;
        _mm512_storeu_ps(a, _mm512_fmadd_ps(_mm512_set1_ps(y->d), t, _mm512_loadu_ps(a)));
    }
}

INLINE void amxk_tokens(const amx_kblock *bl, int64_t k0, int kc, const block_q8_K *xk,
                        int64_t ld, int64_t t0, int n, float *accm) {
    int32_t cs[2][8][16][16] __attribute__((aligned(64)));
    AMXK_PRODUCTS(0, cs[0]);
    for (int k = 0, cur = 0; k < kc; k++, cur ^= 1) {
        if (k + 1 < kc) AMXK_PRODUCTS(k + 1, cs[cur ^ 1]);
        amxk_scale(&bl[k], (const int32_t(*)[16][16])cs[cur], xk + (k0 + k) * ld + t0, n, accm);
    }
}

/* kern_r8b_fn over two groups of Q4_K or Q5_K (Q5). */
INLINE void amxk_r8b2(int64_t nb, const void *W, const int8_t *xt, int64_t ld, int nt,
                      float *accm, float *Y, size_t ldy, const bool Q5) {
    const size_t bsize = Q5 ? sizeof(block_q5_Kx8) : sizeof(block_q4_Kx8);
    const uint8_t *W0 = W, *W1 = W0 + (size_t)nb * bsize;
    const block_q8_K *xk = (const block_q8_K *)(const void *)xt;
    amx_kblock bl[AMXK_KC];
    amx_config();
    memset(accm, 0, sizeof(float) * 16 * (size_t)nt);
    for (int64_t k0 = 0; k0 < nb; k0 += AMXK_KC) {
        const int kc = (int)(nb - k0 < AMXK_KC ? nb - k0 : AMXK_KC);
        for (int k = 0; k < kc; k++)
            amx_make_kblock(W0 + (size_t)(k0 + k) * bsize, W1 + (size_t)(k0 + k) * bsize, Q5,
                            &bl[k]);
        for (int t0 = 0; t0 < nt; t0 += 16)
            amxk_tokens(bl, k0, kc, xk, ld, t0, nt - t0 < 16 ? nt - t0 : 16, accm + 16 * t0);
    }
    TILE_RELEASE();
    for (int t = 0; t < nt; t++)
        _mm512_storeu_ps(Y + (size_t)t * ldy, _mm512_loadu_ps(accm + 16 * t));
}

#define DEFINE_AMXK(name, Q5)                                                                      \
    KERN_TARGET_AMX static void name(int64_t nb, const void *W, const int8_t *xt,                 \
                                     const float *dct, int64_t ld, int nt, float *acc, float *Y,  \
                                     size_t ldy) {                                                 \
        (void)dct;                                                                                 \
        amxk_r8b2(nb, W, xt, ld, nt, acc, Y, ldy, Q5);                                             \
    }
DEFINE_AMXK(q4_Kr8b2_amx, false)
DEFINE_AMXK(q5_Kr8b2_amx, true)

void kern_patch_amx(kern_r8b_fn *r8b, kern_r8b_fn *r8b2) {
    static const kern_r8b_fn fns[] = {q4_0r8b2_amx, q5_0r8b2_amx, q4_1r8b2_amx,
                                      q5_1r8b2_amx, q8_0r8b2_amx, iq4_nlr8b2_amx};
    memcpy(amx_small, r8b, sizeof amx_small);
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        const int k = amx_ptype[i] - KERN_R8_FIRST;
        if (r8b[k]) r8b2[k] = fns[i]; /* a fallback for fewer tokens is there */
    }
    r8b2[KERN_TYPE_Q4_K_R8 - KERN_R8_FIRST] = q4_Kr8b2_amx; /* no r8b: gated by repack.c */
    r8b2[KERN_TYPE_Q5_K_R8 - KERN_R8_FIRST] = q5_Kr8b2_amx;
}
