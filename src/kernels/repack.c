/*
 * Weights repacked 8 rows at a time (kernels.h; the block_*x8 layouts in kernels_int.h) and
 * their matrix products. Here: the table of packed types, the Q4_0 (and IQ4_NL), Q5_0, Q8_0,
 * Q4_1 and Q5_1 layouts and plain-C kernels (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS have
 * theirs in repack_q2k.c, repack_q3k.c, repack_q4k.c, repack_q5k.c, repack_q6k.c and
 * repack_iq4xs.c), the public calls (kern_repack_type, kern_repack, kern_get_row) and the
 * product. The SIMD kernels are in gemm_r8*_avx2.c and gemm_r8*_avx512.c.
 *
 * Products: the tokens are quantized as for the unpacked types (Q8_0; Q8_1 for Q4_1 and
 * Q5_1; Q8_K for the K-quants and IQ4_XS), Q8_0 and Q8_1 tokens with one float pair per block
 * (scale, offset term: offset * scale * sum, or Q8_1's own s). Threads take chunks of 8-row
 * groups; within a chunk, a batch goes through the ISA's batch kernel (a block unpacked once
 * for up to KERN_R8B_MAXT tokens, which read a block-major copy of the tokens) or 4 tokens at
 * a time, so a chunk of weights (one L2 tile) is read from memory once per batch. The last
 * n_out % 8 rows stay in the file's layout after the groups and go through the type's
 * vec_dot.
 */
#include "kernels_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

kern_r8_fn kern_r8_table[KERN_R8_COUNT];
kern_r8b_fn kern_r8b_table[KERN_R8_COUNT];
kern_r8b_fn kern_r8b2_table[KERN_R8_COUNT];
kern_r8v_fn kern_r8v_table[KERN_R8_COUNT];

/* LOCALAI_REPACK=off keeps weights as the file has them; a comma-separated list of type names
 * (q4_0,q4_k,...) repacks only those (for A/B timing). */
static bool repack_enabled(int wtype) {
    const char *s = getenv("LOCALAI_REPACK");
    if (!s || !*s) return true;
    if (!strcmp(s, "off")) return false;
    const char *name = gguf_type_name(wtype);
    const size_t n = name ? strlen(name) : 0;
    for (const char *p = s; n && *p;) {
        const size_t len = strcspn(p, ",");
        if (len == n && !strncasecmp(p, name, n)) return true;
        p += len + (p[len] == ',');
    }
    return false;
}

/* ---- Q4_0, Q5_0, Q8_0, Q4_1, Q5_1, IQ4_NL: layouts and plain-C kernels ---- */

/* A row's 16 nibble bytes to and from piece j of a packed block (4 bytes at qs + 32 j + 4 r). */
static void put_nibbles(uint8_t *qs, const uint8_t *src, int r) {
    for (int j = 0; j < 4; j++) memcpy(qs + 32 * j + 4 * r, src + 4 * j, 4);
}
static void get_nibbles(uint8_t *dst, const uint8_t *qs, int r) {
    for (int j = 0; j < 4; j++) memcpy(dst + 4 * j, qs + 32 * j + 4 * r, 4);
}
/* A row's 32 fifth bits (qh) to and from hb[j][r] (block_q5_0x8). */
static void put_fifth_bits(uint8_t (*hb)[8], const uint8_t qh4[4], int r) {
    uint32_t qh;
    memcpy(&qh, qh4, 4);
    for (int j = 0; j < 4; j++)
        hb[j][r] = (uint8_t)(((qh >> (4 * j)) & 0xF) | (((qh >> (16 + 4 * j)) & 0xF) << 4));
}
static void get_fifth_bits(uint8_t qh4[4], const uint8_t (*hb)[8], int r) {
    uint32_t qh = 0;
    for (int j = 0; j < 4; j++) {
        qh |= (uint32_t)(hb[j][r] & 0xF) << (4 * j);
        qh |= (uint32_t)(hb[j][r] >> 4) << (16 + 4 * j);
    }
    memcpy(qh4, &qh, 4);
}

/* Block i of row r of a group: the source block of rows 8 g.. of W (nb blocks per row). */
#define SRC_BLOCK(T, W, nb, g, r, i) ((const T *)(W) + (8 * (g) + (r)) * (nb) + (i))

static void q4_0_group(const void *W, int64_t nb, int64_t g, void *dst) {
    block_q4_0x8 *o = dst;
    for (int64_t i = 0; i < nb; i++)
        for (int r = 0; r < 8; r++) {
            const block_q4_0 *s = SRC_BLOCK(block_q4_0, W, nb, g, r, i);
            o[i].d[r] = s->d;
            put_nibbles(o[i].qs, s->qs, r);
        }
}

static void q4_1_group(const void *W, int64_t nb, int64_t g, void *dst) {
    block_q4_1x8 *o = dst;
    for (int64_t i = 0; i < nb; i++)
        for (int r = 0; r < 8; r++) {
            const block_q4_1 *s = SRC_BLOCK(block_q4_1, W, nb, g, r, i);
            o[i].d[r] = s->d;
            o[i].m[r] = s->m;
            put_nibbles(o[i].qs, s->qs, r);
        }
}

static void q8_0_group(const void *W, int64_t nb, int64_t g, void *dst) {
    block_q8_0x8 *o = dst;
    for (int64_t i = 0; i < nb; i++)
        for (int r = 0; r < 8; r++) {
            const block_q8_0 *s = SRC_BLOCK(block_q8_0, W, nb, g, r, i);
            o[i].d[r] = s->d;
            for (int j = 0; j < 8; j++) memcpy(o[i].qs + 32 * j + 4 * r, s->qs + 4 * j, 4);
        }
}

static void q5_0_group(const void *W, int64_t nb, int64_t g, void *dst) {
    block_q5_0x8 *o = dst;
    for (int64_t i = 0; i < nb; i++)
        for (int r = 0; r < 8; r++) {
            const block_q5_0 *s = SRC_BLOCK(block_q5_0, W, nb, g, r, i);
            o[i].d[r] = s->d;
            put_nibbles(o[i].qs, s->qs, r);
            put_fifth_bits(o[i].hb, s->qh, r);
        }
}

static void q5_1_group(const void *W, int64_t nb, int64_t g, void *dst) {
    block_q5_1x8 *o = dst;
    for (int64_t i = 0; i < nb; i++)
        for (int r = 0; r < 8; r++) {
            const block_q5_1 *s = SRC_BLOCK(block_q5_1, W, nb, g, r, i);
            o[i].d[r] = s->d;
            o[i].m[r] = s->m;
            put_nibbles(o[i].qs, s->qs, r);
            put_fifth_bits(o[i].hb, s->qh, r);
        }
}

static void q4_0_row(const void *G, int64_t i0, int64_t i1, int r, void *dst) {
    const block_q4_0x8 *x = G;
    block_q4_0 *o = dst;
    for (int64_t i = i0; i < i1; i++, o++) {
        o->d = x[i].d[r];
        get_nibbles(o->qs, x[i].qs, r);
    }
}

static void q4_1_row(const void *G, int64_t i0, int64_t i1, int r, void *dst) {
    const block_q4_1x8 *x = G;
    block_q4_1 *o = dst;
    for (int64_t i = i0; i < i1; i++, o++) {
        o->d = x[i].d[r];
        o->m = x[i].m[r];
        get_nibbles(o->qs, x[i].qs, r);
    }
}

static void q5_0_row(const void *G, int64_t i0, int64_t i1, int r, void *dst) {
    const block_q5_0x8 *x = G;
    block_q5_0 *o = dst;
    for (int64_t i = i0; i < i1; i++, o++) {
        o->d = x[i].d[r];
        get_nibbles(o->qs, x[i].qs, r);
        get_fifth_bits(o->qh, x[i].hb, r);
    }
}

static void q5_1_row(const void *G, int64_t i0, int64_t i1, int r, void *dst) {
    const block_q5_1x8 *x = G;
    block_q5_1 *o = dst;
    for (int64_t i = i0; i < i1; i++, o++) {
        o->d = x[i].d[r];
        o->m = x[i].m[r];
        get_nibbles(o->qs, x[i].qs, r);
        get_fifth_bits(o->qh, x[i].hb, r);
    }
}

static void q8_0_row(const void *G, int64_t i0, int64_t i1, int r, void *dst) {
    const block_q8_0x8 *x = G;
    block_q8_0 *o = dst;
    for (int64_t i = i0; i < i1; i++, o++) {
        o->d = x[i].d[r];
        for (int j = 0; j < 8; j++) memcpy(o->qs + 4 * j, x[i].qs + 32 * j + 4 * r, 4);
    }
}

/* Weight element e (0..31) of row r in a packed block: its nibble and its fifth bit. */
static inline int nibble_at(const uint8_t *qs, int r, int e) {
    const uint8_t v = qs[32 * ((e % 16) / 4) + 4 * r + e % 4];
    return e < 16 ? v & 0xF : v >> 4;
}
static inline int fifth_bit_at(const uint8_t (*hb)[8], int r, int e) {
    return (hb[(e % 16) / 4][r] >> (4 * (e >= 16) + e % 4)) & 1;
}
static inline int q4_0r8_at(const void *vb, int r, int e) {
    return nibble_at(((const block_q4_0x8 *)vb)->qs, r, e) - 8;
}
static inline int q5_0r8_at(const void *vb, int r, int e) {
    const block_q5_0x8 *b = vb;
    return (nibble_at(b->qs, r, e) | fifth_bit_at(b->hb, r, e) << 4) - 16;
}
static inline int q4_1r8_at(const void *vb, int r, int e) {
    return nibble_at(((const block_q4_1x8 *)vb)->qs, r, e);
}
static inline int q5_1r8_at(const void *vb, int r, int e) {
    const block_q5_1x8 *b = vb;
    return nibble_at(b->qs, r, e) | fifth_bit_at(b->hb, r, e) << 4;
}
static inline int iq4_nlr8_at(const void *vb, int r, int e) {
    return kern_iq4nl_values[nibble_at(((const block_q4_0x8 *)vb)->qs, r, e)];
}
static inline int q8_0r8_at(const void *vb, int r, int e) {
    const block_q8_0x8 *b = vb;
    return b->qs[32 * (e / 4) + 4 * r + e % 4];
}

/* Y[t][r] = sum over blocks of d_w d_y sum_e w_e y_e, the way vec_dot_ref sums. */
static inline void q8_0_tokens_ref(int64_t nb, const void *W, size_t bbytes,
                                   int (*at)(const void *, int, int), const uint8_t *xq,
                                   size_t x_row, float *Y, size_t ldy, int nt) {
    for (int t = 0; t < nt; t++) {
        const block_q8_0 *y = (const block_q8_0 *)(xq + (size_t)t * x_row);
        for (int r = 0; r < 8; r++) {
            float sum = 0;
            for (int64_t i = 0; i < nb; i++) {
                const void *b = (const uint8_t *)W + (size_t)i * bbytes;
                int isum = 0;
                for (int e = 0; e < QK8_0; e++) isum += at(b, r, e) * y[i].qs[e];
                const uint16_t dw = ((const uint16_t *)b)[r]; /* d[8] leads every block */
                sum += (float)isum * (kern_f16_to_f32(dw) * kern_f16_to_f32(y[i].d));
            }
            Y[(size_t)t * ldy + r] = sum;
        }
    }
}

/* Q4_1, Q5_1 with Q8_1 tokens: Y[t][r] = sum over blocks of d_w d_y sum_e w_e y_e + m_w s_y,
 * the way their vec_dot_ref sums. */
static inline void q8_1_tokens_ref(int64_t nb, const void *W, size_t bbytes,
                                   int (*at)(const void *, int, int), const uint8_t *xq,
                                   size_t x_row, float *Y, size_t ldy, int nt) {
    for (int t = 0; t < nt; t++) {
        const block_q8_1 *y = (const block_q8_1 *)(xq + (size_t)t * x_row);
        for (int r = 0; r < 8; r++) {
            float sum = 0;
            for (int64_t i = 0; i < nb; i++) {
                const void *b = (const uint8_t *)W + (size_t)i * bbytes;
                int isum = 0;
                for (int e = 0; e < QK8_1; e++) isum += at(b, r, e) * y[i].qs[e];
                const uint16_t *dm = b; /* d[8], m[8] lead both blocks */
                sum += (kern_f16_to_f32(dm[r]) * kern_f16_to_f32(y[i].d)) * (float)isum +
                       kern_f16_to_f32(dm[8 + r]) * kern_f16_to_f32(y[i].s);
            }
            Y[(size_t)t * ldy + r] = sum;
        }
    }
}

void kern_r8k_tokens_ref(int64_t nb, const void *W, size_t bbytes, kern_r8k_block_dot dot,
                         const uint8_t *xq, size_t x_row, float *Y, size_t ldy, int nt) {
    for (int t = 0; t < nt; t++) {
        const block_q8_K *y = (const block_q8_K *)(xq + (size_t)t * x_row);
        for (int r = 0; r < 8; r++) {
            float sum = 0;
            for (int64_t i = 0; i < nb; i++) sum += dot((const uint8_t *)W + (size_t)i * bbytes, r, y + i);
            Y[(size_t)t * ldy + r] = sum;
        }
    }
}

static void q4_0r8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,
                       const float *dc, float *Y, size_t ldy, int nt) {
    (void)dc;
    q8_0_tokens_ref(nb, W, sizeof(block_q4_0x8), q4_0r8_at, xq, x_row, Y, ldy, nt);
}
static void q5_0r8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,
                       const float *dc, float *Y, size_t ldy, int nt) {
    (void)dc;
    q8_0_tokens_ref(nb, W, sizeof(block_q5_0x8), q5_0r8_at, xq, x_row, Y, ldy, nt);
}
static void q8_0r8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,
                       const float *dc, float *Y, size_t ldy, int nt) {
    (void)dc;
    q8_0_tokens_ref(nb, W, sizeof(block_q8_0x8), q8_0r8_at, xq, x_row, Y, ldy, nt);
}
static void iq4_nlr8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,
                         const float *dc, float *Y, size_t ldy, int nt) {
    (void)dc;
    q8_0_tokens_ref(nb, W, sizeof(block_q4_0x8), iq4_nlr8_at, xq, x_row, Y, ldy, nt);
}
static void q4_1r8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,
                       const float *dc, float *Y, size_t ldy, int nt) {
    (void)dc;
    q8_1_tokens_ref(nb, W, sizeof(block_q4_1x8), q4_1r8_at, xq, x_row, Y, ldy, nt);
}
static void q5_1r8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,
                       const float *dc, float *Y, size_t ldy, int nt) {
    (void)dc;
    q8_1_tokens_ref(nb, W, sizeof(block_q5_1x8), q5_1r8_at, xq, x_row, Y, ldy, nt);
}

/* ---- the packed types ---- */

static const kern_r8_desc r8_descs[KERN_R8_COUNT] = {
    [KERN_TYPE_Q4_0_R8 - KERN_R8_FIRST] = {GGUF_TYPE_Q4_0, GGUF_TYPE_Q8_0, QK4_0,
                                           sizeof(block_q4_0x8), -8.0f, q4_0_group, q4_0_row,
                                           q4_0r8_ref},
    [KERN_TYPE_Q8_0_R8 - KERN_R8_FIRST] = {GGUF_TYPE_Q8_0, GGUF_TYPE_Q8_0, QK8_0,
                                           sizeof(block_q8_0x8), 0.0f, q8_0_group, q8_0_row,
                                           q8_0r8_ref},
    [KERN_TYPE_Q5_0_R8 - KERN_R8_FIRST] = {GGUF_TYPE_Q5_0, GGUF_TYPE_Q8_0, QK5_0,
                                           sizeof(block_q5_0x8), -16.0f, q5_0_group, q5_0_row,
                                           q5_0r8_ref},
    [KERN_TYPE_Q6_K_R8 - KERN_R8_FIRST] = {GGUF_TYPE_Q6_K, GGUF_TYPE_Q8_K, QK_K,
                                           sizeof(block_q6_Kx8), 0.0f, kern_r8_q6_K_group,
                                           kern_r8_q6_K_row, kern_r8_q6_K_ref},
    [KERN_TYPE_Q4_K_R8 - KERN_R8_FIRST] = {GGUF_TYPE_Q4_K, GGUF_TYPE_Q8_K, QK_K,
                                           sizeof(block_q4_Kx8), 0.0f, kern_q4_Kr8_group,
                                           kern_q4_Kr8_row, kern_q4_Kr8_ref},
    [KERN_TYPE_Q5_K_R8 - KERN_R8_FIRST] = {GGUF_TYPE_Q5_K, GGUF_TYPE_Q8_K, QK_K,
                                           sizeof(block_q5_Kx8), 0.0f, kern_q5_Kr8_group,
                                           kern_q5_Kr8_row, kern_q5_Kr8_ref},
    [KERN_TYPE_IQ4_XS_R8 - KERN_R8_FIRST] = {GGUF_TYPE_IQ4_XS, GGUF_TYPE_Q8_K, QK_K,
                                             sizeof(block_iq4_xsx8), 0.0f, kern_iq4_xsr8_group,
                                             kern_iq4_xsr8_row, kern_iq4_xsr8_ref},
    [KERN_TYPE_Q3_K_R8 - KERN_R8_FIRST] = {GGUF_TYPE_Q3_K, GGUF_TYPE_Q8_K, QK_K,
                                           sizeof(block_q3_Kx8), 0.0f, kern_q3_Kr8_group,
                                           kern_q3_Kr8_row, kern_q3_Kr8_ref},
    [KERN_TYPE_Q4_1_R8 - KERN_R8_FIRST] = {GGUF_TYPE_Q4_1, GGUF_TYPE_Q8_1, QK4_1,
                                           sizeof(block_q4_1x8), 1.0f, q4_1_group, q4_1_row,
                                           q4_1r8_ref},
    [KERN_TYPE_Q5_1_R8 - KERN_R8_FIRST] = {GGUF_TYPE_Q5_1, GGUF_TYPE_Q8_1, QK5_1,
                                           sizeof(block_q5_1x8), 1.0f, q5_1_group, q5_1_row,
                                           q5_1r8_ref},
    /* IQ4_NL: Q4_0's bytes (kernels_int.h), levels instead of offset nibbles. */
    [KERN_TYPE_IQ4_NL_R8 - KERN_R8_FIRST] = {GGUF_TYPE_IQ4_NL, GGUF_TYPE_Q8_0, QK4_NL,
                                             sizeof(block_q4_0x8), 0.0f, q4_0_group, q4_0_row,
                                             iq4_nlr8_ref},
    [KERN_TYPE_Q2_K_R8 - KERN_R8_FIRST] = {GGUF_TYPE_Q2_K, GGUF_TYPE_Q8_K, QK_K,
                                           sizeof(block_q2_Kx8), 0.0f, kern_q2_Kr8_group,
                                           kern_q2_Kr8_row, kern_q2_Kr8_ref},
};

static const kern_r8_desc *desc_of(int ptype) {
    if (ptype < KERN_R8_FIRST || ptype >= KERN_R8_FIRST + KERN_R8_COUNT) return NULL;
    const kern_r8_desc *d = &r8_descs[ptype - KERN_R8_FIRST];
    return d->group ? d : NULL;
}

const kern_r8_desc *kern_r8_desc_of(int ptype) { return desc_of(ptype); }

static int ptype_of(int wtype) {
    for (int i = 0; i < KERN_R8_COUNT; i++)
        if (r8_descs[i].group && r8_descs[i].wtype == wtype) return KERN_R8_FIRST + i;
    return -1;
}

int kern_repack_type(int wtype, int64_t n_in, int64_t n_out) {
    const int ptype = ptype_of(wtype);
    if (ptype < 0) return -1;
    const kern_r8_desc *d = desc_of(ptype);
    if (n_in <= 0 || n_in % d->block_elems || n_out < 8) return -1;
    (void)kern_traits_of(wtype); /* initializes the tables on first use */
    if (!kern_r8_table[ptype - KERN_R8_FIRST] || !repack_enabled(wtype)) return -1;
    return ptype;
}

/* Bytes of one row as the file has it (the rows after the packed groups). */
static size_t file_row_bytes(const kern_r8_desc *d, int64_t n_in) {
    const kern_traits *t = kern_traits_of(d->wtype);
    return (size_t)(n_in / t->block_size) * t->type_size;
}

int kern_repack(int wtype, const void *W, int64_t n_in, int64_t n_out, void *dst, int64_t r0,
                int64_t r1) {
    const int ptype = ptype_of(wtype);
    if (ptype < 0) return BASE_EUNSUPPORTED;
    const kern_r8_desc *d = desc_of(ptype);
    if (!W || !dst || n_in <= 0 || n_in % d->block_elems || n_out < 8 || r0 < 0 || r0 > r1 ||
        r1 > n_out || r0 % 8 || (r1 % 8 && r1 != n_out))
        return BASE_EINVAL;
    const int64_t nb = n_in / d->block_elems, full = n_out / 8 * 8;
    const size_t group = (size_t)nb * d->block_bytes;
    for (int64_t g = r0 / 8; g < (r1 < full ? r1 : full) / 8; g++)
        d->group(W, nb, g, (uint8_t *)dst + (size_t)g * group);
    if (r1 == n_out && full < n_out) { /* the last rows, unpacked, after the groups */
        const size_t rb = file_row_bytes(d, n_in);
        memcpy((uint8_t *)dst + (size_t)(full / 8) * group, (const uint8_t *)W + (size_t)full * rb,
               (size_t)(n_out - full) * rb);
    }
    return BASE_OK;
}

int kern_get_row(int type, const void *W, int64_t n_in, int64_t n_out, int64_t row, float *out) {
    if (!W || !out || row < 0 || row >= n_out || n_in <= 0) return BASE_EINVAL;
    if (!kern_is_repacked(type)) {
        const kern_traits *t = kern_traits_of(type);
        if (!t || !t->to_float) return BASE_EUNSUPPORTED;
        if (n_in % t->block_size) return BASE_EINVAL;
        const size_t rb = (size_t)(n_in / t->block_size) * t->type_size;
        t->to_float((const uint8_t *)W + (size_t)row * rb, out, n_in);
        return BASE_OK;
    }
    const kern_r8_desc *d = desc_of(type);
    if (!d) return BASE_EUNSUPPORTED;
    if (n_in % d->block_elems) return BASE_EINVAL;
    const kern_traits *t = kern_traits_of(d->wtype);
    const int64_t nb = n_in / d->block_elems, full = n_out / 8 * 8;
    const size_t group = (size_t)nb * d->block_bytes;
    if (row >= full) {
        t->to_float((const uint8_t *)W + (size_t)(full / 8) * group +
                        (size_t)(row - full) * file_row_bytes(d, n_in),
                    out, n_in);
        return BASE_OK;
    }
    /* Blocks back in the file's layout a few at a time, then to floats. */
    uint8_t blocks[4096] __attribute__((aligned(64)));
    const int64_t per = (int64_t)(sizeof blocks / t->type_size);
    const uint8_t *G = (const uint8_t *)W + (size_t)(row / 8) * group;
    for (int64_t i0 = 0; i0 < nb; i0 += per) {
        const int64_t i1 = i0 + per < nb ? i0 + per : nb;
        d->row(G, i0, i1, (int)(row % 8), blocks);
        t->to_float(blocks, out + i0 * d->block_elems, (i1 - i0) * d->block_elems);
    }
    return BASE_OK;
}

/* ---- the product ---- */

#define R8_TILE_BYTES (192 * 1024) /* weights per chunk of a batch: an L2 tile */
#define R8_CHUNK_BYTES (256 * 1024) /* per chunk of a mat-vec */
/* The same with a kernel of several streams (kern_r8v_fn): longer chunks, longer streams.
 * 1 MiB against 256 KiB: TinyLlama-shape Q8_0 and Q4_0 generation 12-13% faster, the
 * Qwen2.5-0.5B shape's the same (bench/RESULTS.md). */
#define R8V_CHUNK_BYTES (1024 * 1024)

/* One matrix of a product: its kernels, its chunks of 8-row groups and its output. */
typedef struct {
    const kern_r8_desc *d;
    kern_r8_fn fn;   /* the ISA's kernel, or d->ref */
    kern_r8b_fn bfn; /* batches: the ISA's batch kernel, or NULL */
    kern_r8b_fn b2fn; /* batches by pairs of groups, or NULL */
    kern_r8v_fn vfn;  /* a single token by runs of groups, or NULL */
    const uint8_t *W;
    size_t group_bytes; /* one group of 8 rows */
    int64_t n_out;
    float *Y;
    int64_t chunk_groups, n_chunks, first_chunk; /* first_chunk: its chunks' place in the run */
} r8_mat;

/* A product: the tokens, converted once, against up to KERN_MM_MAX matrices in one run. */
typedef struct {
    r8_mat m[KERN_MM_MAX];
    float offset; /* Q8_0 / Q8_1 tokens: see dc below */
    const kern_traits *vt; /* the tokens' type */
    int64_t nb, n_in, n_tok;
    const float *X;
    uint8_t *xq;
    size_t x_row;
    float *dc;  /* Q8_0 / Q8_1 tokens: n_tok rows of 2 * nb floats */
    int8_t *xt; /* batch kernels: the tokens transposed (kern_r8b_fn) */
    size_t xt_tok; /* bytes of a token's block there */
    float *dct;
    int64_t n_chunks; /* all the matrices' */
    atomic_llong next_chunk;
} r8_ctx;

#define R8_TILE_OVERREAD (16 * sizeof(block_q8_K))

/* Tokens that come with a float pair per block (kern_r8_fn's dc). */
static bool has_pairs(int vtype) { return vtype == GGUF_TYPE_Q8_0 || vtype == GGUF_TYPE_Q8_1; }

/* Converted token rows (rounded up to 64 bytes), then for Q8_0 / Q8_1 tokens the float pairs,
 * then for batches the same transposed (block-major). */
static bool r8_layout(const kern_r8_desc *d, int64_t n_in, int64_t n_tok, size_t *x_row,
                      size_t *dc_off, size_t *xt_off, size_t *total) {
    const kern_traits *vt = kern_traits_of(d->vtype);
    size_t xq, dc = 0;
    *x_row = (size_t)(n_in / vt->block_size) * vt->type_size;
    if (!size_mul(*x_row, (size_t)n_tok, &xq) || xq > SIZE_MAX / 8) return false;
    if (has_pairs(d->vtype) &&
        (!size_mul((size_t)(n_in / QK8_0) * 2 * sizeof(float), (size_t)n_tok, &dc) ||
         dc > SIZE_MAX / 8))
        return false;
    *dc_off = (xq + 63) & ~(size_t)63;
    *xt_off = (*dc_off + dc + 63) & ~(size_t)63;
    *total = *dc_off + dc;
    /* The transposed copy: n_in quants and 2 floats per block per token (Q8_K: whole blocks,
     * block-major), and room for the AMX kernels' tiles of 16 tokens to read past the last
     * token (gemm_r8amx_avx512.c). */
    if (n_tok >= 2) *total = *xt_off + xq + dc + R8_TILE_OVERREAD;
    return true;
}

size_t kern_matmul_r8_scratch_size(int ptype, int64_t n_in, int64_t n_tok) {
    const kern_r8_desc *d = desc_of(ptype);
    size_t x_row, dc_off, xt_off, total;
    if (!d || n_in <= 0 || n_in % d->block_elems || n_tok <= 0 ||
        !r8_layout(d, n_in, n_tok, &x_row, &dc_off, &xt_off, &total))
        return 0;
    return total;
}

static void convert_tokens(const r8_ctx *c, int64_t t0, int64_t t1) {
    const int64_t nb = c->n_in / QK8_0;
    for (int64_t t = t0; t < t1; t++) {
        uint8_t *xr = c->xq + (size_t)t * c->x_row;
        c->vt->from_float(c->X + t * c->n_in, xr, c->n_in);
        if (!c->dc) {
            if (c->xt)
                for (int64_t k = 0; k < c->nb; k++)
                    memcpy((block_q8_K *)c->xt + (k * c->n_tok + t), (const block_q8_K *)xr + k,
                           sizeof(block_q8_K));
            continue;
        }
        float *dc = c->dc + (size_t)(2 * nb * t);
        for (int64_t k = 0; k < nb; k++) {
            const int8_t *qs = kern_r8_token_pair(c->vt->type, c->offset, xr, k, dc + 2 * k);
            if (c->xt) {
                memcpy(c->xt + 32 * (k * c->n_tok + t), qs, 32);
                memcpy(c->dct + 2 * (k * c->n_tok + t), dc + 2 * k, 2 * sizeof(float));
            }
        }
    }
}

static void convert_fn(void *vctx, int ith, int nth) {
    const r8_ctx *c = vctx;
    convert_tokens(c, c->n_tok * ith / nth, c->n_tok * (ith + 1) / nth);
}

static void r8_tokens(const r8_ctx *c, const r8_mat *m, int64_t g0, int64_t g1, int64_t ta,
                      int64_t tb);

/* Groups [g0, g1) of m times every token, 4 tokens at a time (or up to KERN_R8B_MAXT with a
 * batch kernel: each weight block is unpacked once per KERN_R8B_MAXT tokens). */
static void r8_block(const r8_ctx *c, const r8_mat *m, int64_t g0, int64_t g1) {
    if (m->bfn || m->b2fn) {
        float acc[KERN_R8B_MAXT * 16];
        for (int64_t t0 = 0; t0 < c->n_tok; t0 += KERN_R8B_MAXT) {
            const int nt = (int)(c->n_tok - t0 < KERN_R8B_MAXT ? c->n_tok - t0 : KERN_R8B_MAXT);
            for (int64_t g = g0; g < g1;) {
                const kern_r8b_fn f = m->b2fn && g + 1 < g1 ? m->b2fn : m->bfn;
                if (!f) { /* an odd last group without a one-group batch kernel */
                    r8_tokens(c, m, g, g + 1, t0, t0 + nt);
                    g++;
                    continue;
                }
                f(c->nb, m->W + (size_t)g * m->group_bytes, c->xt + c->xt_tok * t0,
                  c->dct ? c->dct + 2 * t0 : NULL, c->n_tok, nt, acc,
                  m->Y + t0 * m->n_out + 8 * g, (size_t)m->n_out);
                g += f == m->bfn ? 1 : 2;
            }
        }
        return;
    }
    r8_tokens(c, m, g0, g1, 0, c->n_tok);
}

/* Groups [g0, g1) times tokens [ta, tb) by the mat-vec kernel, KERN_R8_NT tokens a call (a
 * single token: up to KERN_R8V_MAXG groups a call where the type has such a kernel). */
static void r8_tokens(const r8_ctx *c, const r8_mat *m, int64_t g0, int64_t g1, int64_t ta,
                      int64_t tb) {
    if (m->vfn && tb - ta == 1) {
        /* S runs of k groups, a stream each (kern_r8v_fn), then the groups left over. */
        const uint8_t *xq = c->xq + (size_t)ta * c->x_row;
        const float *dc = c->dc ? c->dc + (size_t)(2 * (c->n_in / QK8_0) * ta) : NULL;
        float *Y = m->Y + ta * m->n_out;
        const int64_t n = g1 - g0, S = n < KERN_R8V_MAXG ? n : KERN_R8V_MAXG, k = n / S;
        for (int64_t j = 0; j < k; j++)
            m->vfn(c->nb, m->W + (size_t)(g0 + j) * m->group_bytes, (size_t)k * m->group_bytes,
                   (int)S, xq, dc, Y + 8 * (g0 + j), (size_t)(8 * k));
        if (n > S * k)
            m->vfn(c->nb, m->W + (size_t)(g0 + S * k) * m->group_bytes, m->group_bytes,
                   (int)(n - S * k), xq, dc, Y + 8 * (g0 + S * k), 8);
        return;
    }
    for (int64_t t0 = ta; t0 < tb; t0 += KERN_R8_NT) {
        const int nt = (int)(tb - t0 < KERN_R8_NT ? tb - t0 : KERN_R8_NT);
        const uint8_t *xq = c->xq + (size_t)t0 * c->x_row;
        const float *dc = c->dc ? c->dc + (size_t)(2 * (c->n_in / QK8_0) * t0) : NULL;
        for (int64_t g = g0; g < g1; g++) {
            const uint8_t *w = m->W + (size_t)g * m->group_bytes;
            m->fn(c->nb, w, xq, c->x_row, dc, m->Y + t0 * m->n_out + 8 * g, (size_t)m->n_out, nt);
        }
    }
}

/* Chunk k of the run: the matrices' chunks one after the other. */
static void r8_fn(void *vctx, int ith, int nth) {
    r8_ctx *c = vctx;
    (void)nth;
    const r8_mat *m = c->m;
    for (int64_t k = ith; k < c->n_chunks;
         k = atomic_fetch_add_explicit(&c->next_chunk, 1, memory_order_relaxed)) {
        while (k >= m->first_chunk + m->n_chunks) m++;
        const int64_t n_groups = m->n_out / 8, g0 = (k - m->first_chunk) * m->chunk_groups;
        r8_block(c, m, g0, g0 + m->chunk_groups < n_groups ? g0 + m->chunk_groups : n_groups);
    }
}

/* Q8_0 tokens carry one offset term per block (dc): tokens converted for offset a serve
 * offset b where the two agree or one is 0 (Q8_0's kernels, and the Q8_K types', read no
 * offset term). Q8_1 tokens (Q4_1, Q5_1) share only with each other. */
static bool offsets_agree(float a, float b) { return a == b || a == 0.0f || b == 0.0f; }

static bool r8_shares_tokens(const kern_r8_desc *a, const kern_r8_desc *b) {
    return a->vtype == b->vtype && a->block_elems == b->block_elems &&
           offsets_agree(a->offset, b->offset);
}

bool kern_matmul_r8_shares(int ptype_a, int ptype_b) {
    const kern_r8_desc *a = desc_of(ptype_a), *b = desc_of(ptype_b);
    return a && b && r8_shares_tokens(a, b);
}

int kern_matmul_r8_multi(tpool *pool, const kern_mm_item *items, int n_items, int64_t n_in,
                         const float *X, int64_t n_tok, void *scratch) {
    if (n_items < 1 || n_items > KERN_MM_MAX || !items) return BASE_EINVAL;
    const kern_r8_desc *d0 = desc_of(items[0].wtype);
    if (!d0) return BASE_EUNSUPPORTED;
    if (n_in <= 0 || n_in % d0->block_elems || n_tok < 0) return BASE_EINVAL;
    if (n_tok == 0) return BASE_OK;
    if (!X || !scratch) return BASE_EINVAL;
    (void)kern_traits_of(GGUF_TYPE_Q8_0); /* initializes the tables on first use */
    size_t x_row, dc_off, xt_off, total;
    if (!r8_layout(d0, n_in, n_tok, &x_row, &dc_off, &xt_off, &total)) return BASE_EINVAL;
    const int64_t nb = n_in / d0->block_elems;
    r8_ctx c = {
        .offset = d0->offset,
        .vt = kern_traits_of(d0->vtype),
        .nb = nb,
        .n_in = n_in,
        .n_tok = n_tok,
        .X = X,
        .xq = scratch,
        .x_row = x_row,
        .dc = has_pairs(d0->vtype) ? (float *)((uint8_t *)scratch + dc_off) : NULL,
    };
    const int nth = tpool_size(pool);
    bool batch = false;
    for (int i = 0; i < n_items; i++) {
        const kern_mm_item *it = &items[i];
        const kern_r8_desc *d = desc_of(it->wtype);
        if (!d) return BASE_EUNSUPPORTED;
        if (!r8_shares_tokens(d0, d) || !offsets_agree(c.offset, d->offset) || it->n_out < 0)
            return BASE_EINVAL;
        if (it->n_out > 0 && (!it->W || !it->Y)) return BASE_EINVAL;
        if (d->offset != 0.0f) c.offset = d->offset;
        const int p = it->wtype - KERN_R8_FIRST;
        r8_mat *m = &c.m[i];
        *m = (r8_mat){
            .d = d,
            .fn = kern_r8_table[p] ? kern_r8_table[p] : d->ref,
            .vfn = kern_r8v_table[p],
            .W = it->W,
            .group_bytes = (size_t)nb * d->block_bytes,
            .n_out = it->n_out,
            .Y = it->Y,
        };
        if (n_tok >= 2 && kern_r8b_table[p]) {
            m->bfn = kern_r8b_table[p];
            m->b2fn = kern_r8b2_table[p];
            batch = true;
        } else if (n_tok >= KERN_AMX_MIN_TOKENS && kern_r8b2_table[p]) {
            /* Pairs of groups without a one-group batch kernel (AMX's Q4_K, Q5_K); an odd
             * group goes by fn. */
            m->b2fn = kern_r8b2_table[p];
            batch = true;
        }
        /* Chunks of one L2 tile (batches) or of MV chunk bytes, but at least 4 per thread
         * where there are groups enough, so that the load evens out. */
        const int64_t n_groups = it->n_out / 8;
        const size_t chunk = n_tok > 1 ? R8_TILE_BYTES : m->vfn ? R8V_CHUNK_BYTES : R8_CHUNK_BYTES;
        int64_t groups = (int64_t)(chunk / m->group_bytes);
        const int64_t balanced = n_groups / (4 * (int64_t)nth);
        if (balanced >= 1 && balanced < groups) groups = balanced;
        if (m->b2fn && groups > 1) groups &= ~(int64_t)1; /* whole pairs */
        m->chunk_groups = groups < 1 ? 1 : groups;
        m->n_chunks = (n_groups + m->chunk_groups - 1) / m->chunk_groups;
        m->first_chunk = c.n_chunks;
        c.n_chunks += m->n_chunks;
    }
    if (batch) {
        c.xt = (int8_t *)scratch + xt_off;
        c.xt_tok = has_pairs(d0->vtype) ? QK8_0 : sizeof(block_q8_K);
        if (has_pairs(d0->vtype))
            c.dct = (float *)((uint8_t *)scratch + xt_off + (size_t)n_in * (size_t)n_tok);
    }
    if (n_tok < 2 * nth) convert_tokens(&c, 0, n_tok);
    else tpool_run(pool, convert_fn, &c);

    atomic_init(&c.next_chunk, nth);
    if (c.n_chunks > 0) tpool_run(pool, r8_fn, &c);
    /* The last n_out % 8 rows of each matrix, as the file has them: the type's own dot
     * product. */
    for (int i = 0; i < n_items; i++) {
        const r8_mat *m = &c.m[i];
        const int64_t full = m->n_out / 8 * 8;
        if (full == m->n_out) continue;
        const kern_traits *wt = kern_traits_of(m->d->wtype);
        const size_t rb = file_row_bytes(m->d, n_in);
        const uint8_t *tail = m->W + (size_t)(full / 8) * m->group_bytes;
        for (int64_t t = 0; t < n_tok; t++)
            for (int64_t o = full; o < m->n_out; o++)
                wt->vec_dot(n_in, &m->Y[t * m->n_out + o], tail + (size_t)(o - full) * rb,
                            c.xq + (size_t)t * c.x_row);
    }
    return BASE_OK;
}

int kern_matmul_r8(tpool *pool, int ptype, const void *W, int64_t n_in, int64_t n_out,
                   const float *X, int64_t n_tok, float *Y, void *scratch) {
    const kern_r8_desc *d = desc_of(ptype);
    if (!d) return BASE_EUNSUPPORTED;
    if (n_in <= 0 || n_in % d->block_elems || n_out < 0 || n_tok < 0) return BASE_EINVAL;
    if (n_out == 0 || n_tok == 0) return BASE_OK;
    if (!W || !X || !Y || !scratch) return BASE_EINVAL;
    const kern_mm_item it = {ptype, W, n_out, Y};
    return kern_matmul_r8_multi(pool, &it, 1, n_in, X, n_tok, scratch);
}
