/*
 * Matrix products Y = X W^T on the thread pool, for every type in the table.
 *
 * The activations X are first converted to the weight type's vec_dot_type (Q8_0, Q8_K, F16...)
 * in the caller's scratch, then each thread computes its share of Y with the type's vec_dot.
 *   - Mat-vec (one token, the generation hot path) is bound by reading W once from memory:
 *     each thread takes one contiguous chunk of W's rows, so the hardware prefetchers see one
 *     long stream per core. For Q4_0 (kern_gemv_table) the token is also repacked so that
 *     the weights' offset costs one subtraction per block (block_q8_0x2v).
 *   - Mat-mat (prompt batches): W is walked in tiles of rows small enough to stay in L2 while
 *     every token row is dotted with them, so W comes from memory once per call rather than
 *     once per token. Where the ISA has a register-blocked GEMM kernel for the weight type
 *     (kern_gemm_table: Q8_0, Q4_0, Q5_0, Q4_K, Q6_K on AVX2), the converted rows are also
 *     packed by groups of 4 tokens (block_q8_0x4, block_q8_0x4p, block_q8_Kx4) and each tile is multiplied
 *     with every group by that kernel; other types dot one weight row with 4 token rows at a
 *     time (kern_vec_dot_multi).
 */
#include "kernels_int.h"

#include <stdatomic.h>

/* Bytes of weight rows per chunk in mat-vec: large enough for the prefetchers to stream, small
 * enough that a thread slowed down by another process (the machine may be shared) leaves its
 * chunks to the others instead of holding everyone up at the end of the run. */
#define MV_CHUNK_BYTES (256 * 1024)

/* Bytes of weight rows per tile in mat-mat: well inside a 512 KiB-1 MiB L2 with room for the
 * token row being dotted and the output. */
#define MM_TILE_BYTES (192 * 1024)

typedef struct mm_ctx {
    const kern_traits *wt;   /* weight type */
    const kern_traits *vt;   /* activation (vec_dot) type */
    const uint8_t *W;        /* (n_out, n_in) of wt */
    size_t w_row;            /* bytes per weight row */
    const float *X;          /* (n_tok, n_in) */
    uint8_t *xq;             /* (n_tok, n_in) of vt: X converted, or X itself for F32 */
    size_t x_row;            /* bytes per converted row */
    float *Y;                /* (n_tok, n_out) */
    kern_gemm_fn gemm;       /* NULL: vec_dot_multi */
    kern_gemv_fn gemv;       /* one token: NULL means vec_dot */
    uint8_t *xp;             /* (n_groups) groups of 4 packed tokens (gemm) or the token (gemv) */
    size_t xp_group;         /* bytes per packed group */
    int64_t n_groups;
    int64_t n_in, n_out, n_tok;
    /* Rows of W are handed out in chunks: thread i starts with chunk i, then takes the next
     * unclaimed one from next_chunk (which starts at the thread count). */
    int64_t chunk_rows, n_chunks;
    atomic_llong next_chunk;
} mm_ctx;

static inline void split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    *lo = n * ith / nth;
    *hi = n * (ith + 1) / nth;
}

static void convert_rows(const mm_ctx *c, int64_t t0, int64_t t1) {
    if (c->vt->type == GGUF_TYPE_F32) return; /* X is used as it is */
    for (int64_t t = t0; t < t1; t++)
        c->vt->from_float(c->X + t * c->n_in, c->xq + (size_t)t * c->x_row, c->n_in);
}

/* Tokens [4 g0, 4 g1) of the converted rows regrouped for the GEMM kernels (kernels_int.h);
 * the missing tokens of a last, short group are zero blocks. */
static void pack_groups(const mm_ctx *c, int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; g++) {
        const int64_t t0 = g * KERN_GEMM_NT;
        const int nt = (int)(c->n_tok - t0 < KERN_GEMM_NT ? c->n_tok - t0 : KERN_GEMM_NT);
        uint8_t *out = c->xp + (size_t)g * c->xp_group;
        memset(out, 0, c->xp_group);
        if (c->vt->type == GGUF_TYPE_F16 || c->vt->type == GGUF_TYPE_BF16 ||
            c->vt->type == GGUF_TYPE_F32) {
            /* The rows as F16 / BF16 (the rounding vec_dot sees) back to floats, or the F32
             * rows themselves. */
            float *o = (float *)out;
            for (int t = 0; t < nt; t++) {
                const uint8_t *x = c->xq + (size_t)(t0 + t) * c->x_row;
                for (int64_t k = 0; k < c->n_in / 8; k++) {
                    float *dst = o + (k * KERN_GEMM_NT + t) * 8;
                    if (c->vt->type == GGUF_TYPE_F32) memcpy(dst, (const float *)x + 8 * k, 8 * sizeof(float));
                    else c->vt->to_float(x + 16 * k, dst, 8);
                }
            }
        } else if (c->wt->type == GGUF_TYPE_Q4_0 || c->wt->type == GGUF_TYPE_Q5_0) {
            block_q8_0x4p *o = (block_q8_0x4p *)out;
            for (int t = 0; t < nt; t++) {
                const block_q8_0 *x = (const block_q8_0 *)(c->xq + (size_t)(t0 + t) * c->x_row);
                for (int64_t k = 0; k < c->n_in / QK8_0; k++) {
                    block_q8_0x4p *p = o + k / 2;
                    const int h = (int)(k & 1);
                    int32_t sum = 0;
                    for (int i = 0; i < QK8_0; i++) sum += x[k].qs[i];
                    p->d[4 * h + t] = kern_f16_to_f32(x[k].d);
                    p->s[4 * h + t] = sum;
                    memcpy(p->lo[t] + 16 * h, x[k].qs, 16);
                    memcpy(p->hi[t] + 16 * h, x[k].qs + 16, 16);
                }
            }
        } else if (c->vt->type == GGUF_TYPE_Q8_0) {
            block_q8_0x4 *o = (block_q8_0x4 *)out;
            for (int t = 0; t < nt; t++) {
                const block_q8_0 *x = (const block_q8_0 *)(c->xq + (size_t)(t0 + t) * c->x_row);
                for (int64_t k = 0; k < c->n_in / QK8_0; k++) {
                    int32_t sum = 0;
                    for (int i = 0; i < QK8_0; i++) sum += x[k].qs[i];
                    o[k].d[t] = kern_f16_to_f32(x[k].d);
                    o[k].s[t] = sum;
                    memcpy(o[k].qs[t], x[k].qs, QK8_0);
                }
            }
        } else {
            block_q8_Kx4 *o = (block_q8_Kx4 *)out;
            for (int t = 0; t < nt; t++) {
                const block_q8_K *x = (const block_q8_K *)(c->xq + (size_t)(t0 + t) * c->x_row);
                for (int64_t k = 0; k < c->n_in / QK_K; k++) {
                    o[k].d[t] = x[k].d;
                    memcpy(o[k].bsums[t], x[k].bsums, sizeof x[k].bsums);
                    memcpy(o[k].qs[t], x[k].qs, QK_K);
                    for (int h = 0; h < 2; h++)
                        for (int l = 0; l < 2; l++) {
                            const int j = 4 * h + 2 * l; /* sub-blocks of 32: j and j + 1 */
                            o[k].msum[h][l][t][0] =
                                (int16_t)(x[k].bsums[2 * j] + x[k].bsums[2 * j + 1]);
                            o[k].msum[h][l][t][1] =
                                (int16_t)(x[k].bsums[2 * j + 2] + x[k].bsums[2 * j + 3]);
                        }
                }
            }
        }
    }
}

/* The single token's Q8_0 row as block_q8_0x2v pairs, for gemv. */
static void pack_gemv(const mm_ctx *c) {
    const block_q8_0 *x = (const block_q8_0 *)c->xq;
    const int64_t nb = c->n_in / QK8_0;
    block_q8_0x2v *o = (block_q8_0x2v *)c->xp;
    memset(o, 0, (size_t)((nb + 1) / 2) * sizeof *o);
    for (int64_t k = 0; k < nb; k++) {
        block_q8_0x2v *p = o + k / 2;
        const int h = (int)(k & 1);
        int32_t sum = 0;
        for (int i = 0; i < QK8_0; i++) sum += x[k].qs[i];
        for (int l = 0; l < 4; l++) p->d[4 * h + l] = kern_f16_to_f32(x[k].d);
        p->off[4 * h] = 8 * sum;
        memcpy(p->lo + 16 * h, x[k].qs, 16);
        memcpy(p->hi + 16 * h, x[k].qs + 16, 16);
    }
}

/* Convert (and pack, for the GEMM) whole groups of tokens per thread. */
static void convert_fn(void *vctx, int ith, int nth) {
    const mm_ctx *c = vctx;
    int64_t g0, g1;
    split(c->n_groups, ith, nth, &g0, &g1);
    const int64_t t1 = g1 * KERN_GEMM_NT < c->n_tok ? g1 * KERN_GEMM_NT : c->n_tok;
    convert_rows(c, g0 * KERN_GEMM_NT, t1);
    if (c->gemm) pack_groups(c, g0, g1);
}

/* Token rows dotted with each weight row at once (kern_vec_dot_multi unpacks the weight row
 * once for all of them); 4 converted rows of 4096 Q8_0 take 17 KiB, inside L1. */
#define MM_TOK_GROUP 4

/* Y[t][o] for o in [o0, o1), t in [t0, t1), W tile by W tile. */
static void mm_block(const mm_ctx *c, int64_t o0, int64_t o1, int64_t t0, int64_t t1) {
    int64_t tile = (int64_t)(MM_TILE_BYTES / c->w_row);
    if (tile < 1) tile = 1;
    for (int64_t ob = o0; ob < o1; ob += tile) {
        const int64_t oe = ob + tile < o1 ? ob + tile : o1;
        for (int64_t t = t0; t < t1; t += MM_TOK_GROUP) {
            const int nrc = (int)(t1 - t < MM_TOK_GROUP ? t1 - t : MM_TOK_GROUP);
            const uint8_t *x = c->xq + (size_t)t * c->x_row;
            float *y = c->Y + t * c->n_out;
            for (int64_t o = ob; o < oe; o++)
                kern_vec_dot_multi(c->wt, c->n_in, &y[o], (size_t)c->n_out,
                                   c->W + (size_t)o * c->w_row, x, c->x_row, nrc);
        }
    }
}

/* Y[t][o] for o in [o0, o1), tokens of groups [g0, g1), W tile by W tile, with the GEMM. */
static void gemm_block(const mm_ctx *c, int64_t o0, int64_t o1, int64_t g0, int64_t g1) {
    int64_t tile = (int64_t)(MM_TILE_BYTES / c->w_row);
    if (tile < 1) tile = 1;
    for (int64_t ob = o0; ob < o1; ob += tile) {
        const int64_t oe = ob + tile < o1 ? ob + tile : o1;
        /* Two groups per call: kernels that can use the weight row for 8 tokens do. */
        for (int64_t g = g0; g < g1; g += 2) {
            const int64_t t0 = g * KERN_GEMM_NT;
            const int64_t t1 = (g + 2 < g1 ? g + 2 : g1) * KERN_GEMM_NT;
            const int nt = (int)((t1 < c->n_tok ? t1 : c->n_tok) - t0);
            c->gemm(c->n_in, c->W + (size_t)ob * c->w_row, c->w_row, oe - ob,
                    c->xp + (size_t)g * c->xp_group, c->xp_group, c->Y + t0 * c->n_out + ob,
                    (size_t)c->n_out, nt);
        }
    }
}

/* Chunks of rows, each claimed by exactly one thread; the rows' results do not depend on
 * which thread computes them, so the output is the same whatever the timing. */
static inline bool next_rows(mm_ctx *c, int64_t *k, int64_t *o0, int64_t *o1) {
    if (*k >= c->n_chunks) return false;
    *o0 = *k * c->chunk_rows;
    *o1 = *o0 + c->chunk_rows < c->n_out ? *o0 + c->chunk_rows : c->n_out;
    return true;
}

/* Software prefetch of the next rows, and several interleaved row streams per thread, were
 * tried here and made no difference or worse: the hardware prefetchers follow each chunk. */
static void matvec_fn(void *vctx, int ith, int nth) {
    mm_ctx *c = vctx;
    const kern_vec_dot_fn dot = c->wt->vec_dot;
    int64_t o0, o1;
    for (int64_t k = ith; next_rows(c, &k, &o0, &o1);
         k = atomic_fetch_add_explicit(&c->next_chunk, 1, memory_order_relaxed)) {
        const uint8_t *w = c->W + (size_t)o0 * c->w_row;
        if (c->gemv) {
            c->gemv(c->n_in, w, c->w_row, o1 - o0, c->xp, c->Y + o0);
            continue;
        }
        for (int64_t o = o0; o < o1; o++, w += c->w_row) dot(c->n_in, &c->Y[o], w, c->xq);
    }
}

static void matmat_fn(void *vctx, int ith, int nth) {
    mm_ctx *c = vctx;
    int64_t lo, hi;
    /* Split the weight rows while there are enough to go round (each thread then reads only
     * its part of W); otherwise split the tokens. */
    if (c->n_out >= 8 * (int64_t)nth) {
        for (int64_t k = ith; next_rows(c, &k, &lo, &hi);
             k = atomic_fetch_add_explicit(&c->next_chunk, 1, memory_order_relaxed)) {
            if (c->gemm) gemm_block(c, lo, hi, 0, c->n_groups);
            else mm_block(c, lo, hi, 0, c->n_tok);
        }
    } else if (c->gemm) {
        split(c->n_groups, ith, nth, &lo, &hi);
        gemm_block(c, 0, c->n_out, lo, hi);
    } else {
        split(c->n_tok, ith, nth, &lo, &hi);
        mm_block(c, 0, c->n_out, lo, hi);
    }
}

/* The weight type's traits and its activation type's, or NULL when W cannot be computed with. */
static bool mm_types(int wtype, const kern_traits **wt, const kern_traits **vt) {
    *wt = kern_traits_of(wtype);
    if (!*wt || !(*wt)->vec_dot) return false;
    *vt = kern_traits_of((*wt)->vec_dot_type);
    return *vt && (*vt)->from_float;
}

static bool mm_shape_ok(const kern_traits *wt, const kern_traits *vt, int64_t n_in) {
    return n_in > 0 && n_in % wt->block_size == 0 && n_in % vt->block_size == 0;
}

/* Bytes of one packed group of 4 tokens for the GEMM, or 0 where vt has no packed form. */
static size_t packed_group_size(const kern_traits *wt, const kern_traits *vt, int64_t n_in) {
    if ((wt->type == GGUF_TYPE_F16 || wt->type == GGUF_TYPE_BF16 || wt->type == GGUF_TYPE_F32) &&
        vt->type == wt->type)
        return n_in % 8 ? 0 : (size_t)n_in * KERN_GEMM_NT * sizeof(float); /* floats, 8 per token */
    if (wt->type == GGUF_TYPE_Q4_0 || wt->type == GGUF_TYPE_Q5_0)
        return (size_t)((n_in / QK8_0 + 1) / 2) * sizeof(block_q8_0x4p);
    if (vt->type == GGUF_TYPE_Q8_0) return (size_t)(n_in / QK8_0) * sizeof(block_q8_0x4);
    if (vt->type == GGUF_TYPE_Q8_K) return (size_t)(n_in / QK_K) * sizeof(block_q8_Kx4);
    return 0;
}

/* The converted rows (none for F32: X itself), rounded up to 64 bytes, then (batches of 2
 * or more tokens whose activation type has a packed form) the packed groups. */
static size_t scratch_layout(const kern_traits *wt, const kern_traits *vt, int64_t n_in,
                             int64_t n_tok, size_t *xp_off) {
    size_t row, total = 0; /* F32 rows: X itself */
    if (vt->type != GGUF_TYPE_F32 &&
        (!size_mul((size_t)(n_in / vt->block_size), vt->type_size, &row) ||
         !size_mul(row, (size_t)n_tok, &total) || total > SIZE_MAX / 4))
        return 0;
    *xp_off = (total + 63) & ~(size_t)63;
    if (n_tok == 1 && vt->type == GGUF_TYPE_Q8_0) /* the token packed for gemv */
        return *xp_off + (size_t)((n_in / QK8_0 + 1) / 2) * sizeof(block_q8_0x2v);
    const size_t group = packed_group_size(wt, vt, n_in);
    if (n_tok < 2 || !group) return total;
    size_t packed;
    const size_t n_groups = (size_t)((n_tok + KERN_GEMM_NT - 1) / KERN_GEMM_NT);
    if (!size_mul(group, n_groups, &packed) || packed > SIZE_MAX / 4) return 0;
    return *xp_off + packed;
}

size_t kern_matmul_scratch_size(int wtype, int64_t n_in, int64_t n_tok) {
    if (kern_is_repacked(wtype))
        return kern_matmul_r8_scratch_size(wtype, n_in, n_tok);
    const kern_traits *wt, *vt;
    if (!mm_types(wtype, &wt, &vt) || !mm_shape_ok(wt, vt, n_in) || n_tok <= 0) return 0;
    size_t xp_off;
    return scratch_layout(wt, vt, n_in, n_tok, &xp_off);
}

int kern_matmul(tpool *pool, int wtype, const void *W, int64_t n_in, int64_t n_out,
                const float *X, int64_t n_tok, float *Y, void *scratch) {
    if (kern_is_repacked(wtype))
        return kern_matmul_r8(pool, wtype, W, n_in, n_out, X, n_tok, Y, scratch);
    const kern_traits *wt, *vt;
    if (!mm_types(wtype, &wt, &vt)) return BASE_EUNSUPPORTED;
    if (!mm_shape_ok(wt, vt, n_in) || n_out < 0 || n_tok < 0) return BASE_EINVAL;
    if (n_out == 0 || n_tok == 0) return BASE_OK;
    if (!W || !X || !Y || (vt->type != GGUF_TYPE_F32 && !scratch)) return BASE_EINVAL;

    mm_ctx c = {
        .wt = wt,
        .vt = vt,
        .W = W,
        .w_row = (size_t)(n_in / wt->block_size) * wt->type_size,
        .X = X,
        .x_row = (size_t)(n_in / vt->block_size) * vt->type_size,
        .Y = Y,
        .n_in = n_in,
        .n_out = n_out,
        .n_tok = n_tok,
    };
    c.n_groups = (n_tok + KERN_GEMM_NT - 1) / KERN_GEMM_NT;
    /* F32: X is used as it is, and only a batch given scratch is regrouped for the GEMM. */
    const bool f32 = vt->type == GGUF_TYPE_F32;
    c.xq = f32 ? (uint8_t *)(uintptr_t)X : scratch;
    if (scratch) {
        size_t xp_off;
        if (n_tok >= 2 && kern_gemm_table[wtype] && packed_group_size(wt, vt, n_in) &&
            scratch_layout(wt, vt, n_in, n_tok, &xp_off)) {
            c.gemm = kern_gemm_table[wtype];
            c.xp = (uint8_t *)scratch + xp_off;
            c.xp_group = packed_group_size(wt, vt, n_in);
        } else if (n_tok == 1 && kern_gemv_table[wtype] && vt->type == GGUF_TYPE_Q8_0 &&
                   scratch_layout(wt, vt, n_in, n_tok, &xp_off)) {
            c.gemv = kern_gemv_table[wtype];
            c.xp = (uint8_t *)scratch + xp_off;
        }
    }
    if (!f32 || c.gemm) {
        /* A single row converts in about a microsecond: cheaper than waking the pool twice. */
        if (n_tok < 2 * tpool_size(pool)) {
            convert_rows(&c, 0, n_tok);
            if (c.gemm) pack_groups(&c, 0, c.n_groups);
            if (c.gemv) pack_gemv(&c);
        } else {
            tpool_run(pool, convert_fn, &c);
        }
    }
    /* Chunks of MV_CHUNK_BYTES (mat-vec) or one L2 tile (mat-mat), but at least 4 per thread
     * where there are rows enough, so that the load can even out. */
    const int nth = tpool_size(pool);
    int64_t rows = (int64_t)((n_tok == 1 ? MV_CHUNK_BYTES : MM_TILE_BYTES) / c.w_row);
    const int64_t balanced = n_out / (4 * (int64_t)nth);
    if (balanced >= 1 && balanced < rows) rows = balanced;
    if (c.gemm && rows >= 8) rows &= ~(int64_t)3; /* whole tiles of the 4-row kernels */
    c.chunk_rows = rows < 1 ? 1 : rows;
    c.n_chunks = (n_out + c.chunk_rows - 1) / c.chunk_rows;
    atomic_init(&c.next_chunk, nth);
    tpool_run(pool, n_tok == 1 ? matvec_fn : matmat_fn, &c);
    return BASE_OK;
}

int kern_matmul_multi(tpool *pool, const kern_mm_item *items, int n_items, int64_t n_in,
                      const float *X, int64_t n_tok, void *scratch) {
    if (n_items < 0 || n_items > KERN_MM_MAX || (n_items && !items)) return BASE_EINVAL;
    bool done[KERN_MM_MAX] = {false};
    for (int i = 0; i < n_items; i++) {
        if (done[i]) continue;
        /* Packed items that convert the tokens alike, with this one and with each other. */
        kern_mm_item group[KERN_MM_MAX];
        int n = 0;
        if (kern_is_repacked(items[i].wtype))
            for (int j = i; j < n_items; j++) {
                bool ok = !done[j] && kern_is_repacked(items[j].wtype);
                for (int k = 0; ok && k < n; k++) ok = kern_matmul_r8_shares(group[k].wtype, items[j].wtype);
                if (ok) {
                    group[n++] = items[j];
                    done[j] = true;
                }
            }
        int rc;
        if (n > 1) {
            rc = kern_matmul_r8_multi(pool, group, n, n_in, X, n_tok, scratch);
        } else {
            done[i] = true;
            rc = kern_matmul(pool, items[i].wtype, items[i].W, n_in, items[i].n_out, X, n_tok,
                             items[i].Y, scratch);
        }
        if (rc) return rc;
    }
    return BASE_OK;
}
