/*
 * Attention scores for the encoder: S = Q K^T over head_dim (64) for 1500 x 1500 positions.
 * Dot products of 64 are too short for the matmul kernels (their horizontal sums dominate), so
 * K is kept transposed in blocks of 16 keys, (n_k / 16, head_dim, 16) with the last block
 * zero-padded, and tiles of 4 query rows x 16 keys accumulate in registers, one broadcast query
 * value times 16 keys at a time, reading each block's 4 KiB in order. The AVX2 version lives
 * in attn_avx2.c; this file has the reference, the packing and the dispatch.
 *
 * The weighted sum O = P V (P the softmaxed scores, V one head's (n_k, hd) rows) runs the same
 * way: tiles of 4 rows x 16 channels, one broadcast probability times 16 channels of a V row.
 */
#include "whisper_int.h"

void wh_qk_rows_ref(const float *Q, int ldq, const float *Kt, int n_k, int hd, float *S, int lds,
                    int q0, int q1) {
    for (int t = q0; t < q1; t++) {
        float *s = S + (size_t)t * lds;
        for (int j = 0; j < n_k; j++) {
            const float *k = Kt + ((size_t)(j / WH_KB) * hd) * WH_KB + j % WH_KB;
            float acc = 0;
            for (int d = 0; d < hd; d++) acc += Q[(size_t)t * ldq + d] * k[(size_t)d * WH_KB];
            s[j] = acc;
        }
    }
}

void wh_pv_rows_ref(const float *P, int ldp, int n_k, const float *V, int ldv, int hd, float *O,
                    int ldo, int q0, int q1) {
    for (int t = q0; t < q1; t++) {
        float *o = O + (size_t)t * ldo;
        for (int d = 0; d < hd; d++) o[d] = 0;
        for (int j = 0; j < n_k; j++) {
            float p = P[(size_t)t * ldp + j];
            for (int d = 0; d < hd; d++) o[d] += p * V[(size_t)j * ldv + d];
        }
    }
}

typedef struct qk_job {
    const float *Q, *Kt;
    float *S;
    int ldq, n_q, n_k, hd, lds;
    const float *V; /* set: O = P V instead (Q is P, S is O) */
    int ldv, ldo;
} qk_job;

static void qk_fn(void *c, int ith, int nth) {
    const qk_job *j = c;
    /* Row blocks of 4 so that the AVX2 tiles stay whole. */
    int blocks = (j->n_q + 3) / 4;
    int b0 = blocks * ith / nth, b1 = blocks * (ith + 1) / nth;
    int q0 = b0 * 4, q1 = b1 * 4 < j->n_q ? b1 * 4 : j->n_q;
    if (q0 >= q1) return;
    bool avx2 = false;
#if defined(__x86_64__)
    avx2 = kern_active_isa() >= KERN_ISA_AVX2 && j->hd % WH_KB == 0;
    if (avx2 && j->V)
        wh_pv_rows_avx2(j->Q, j->ldq, j->n_k, j->V, j->ldv, j->hd, j->S, j->ldo, q0, q1);
    if (avx2 && !j->V) wh_qk_rows_avx2(j->Q, j->ldq, j->Kt, j->n_k, j->hd, j->S, j->lds, q0, q1);
#endif
    if (!avx2 && j->V)
        wh_pv_rows_ref(j->Q, j->ldq, j->n_k, j->V, j->ldv, j->hd, j->S, j->ldo, q0, q1);
    if (!avx2 && !j->V) wh_qk_rows_ref(j->Q, j->ldq, j->Kt, j->n_k, j->hd, j->S, j->lds, q0, q1);
}

void wh_pack_kt(float *Kt, const float *K, int ldk, int n_k, int hd) {
    int nb = (n_k + WH_KB - 1) / WH_KB;
    for (int b = 0; b < nb; b++)
        for (int d = 0; d < hd; d++) {
            float *dst = Kt + ((size_t)b * hd + d) * WH_KB;
            for (int i = 0; i < WH_KB; i++) {
                int j = b * WH_KB + i;
                dst[i] = j < n_k ? K[(size_t)j * ldk + d] : 0.0f;
            }
        }
}

void wh_qk(tpool *pool, const float *Q, int ldq, int n_q, const float *Kt, int n_k, int hd,
           float *S) {
    qk_job j = {Q, Kt, S, ldq, n_q, n_k, hd, n_k, NULL, 0, 0};
    tpool_run(pool, qk_fn, &j);
}

void wh_pv(tpool *pool, const float *P, int n_q, int n_k, const float *V, int ldv, int hd, float *O,
           int ldo) {
    qk_job j = {P, NULL, O, n_k, n_q, n_k, hd, 0, V, ldv, ldo};
    tpool_run(pool, qk_fn, &j);
}
