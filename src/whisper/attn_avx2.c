/* AVX2 tiles of the encoder's attention (see attn.c): scores in 4 query rows x 16 keys, the
 * weighted sum in 4 rows x 16 channels, the eight accumulators spelled out so that they stay in
 * registers. */
#include <immintrin.h>

#include "whisper_int.h"

static void store_row(float *s, __m256 lo, __m256 hi, int n) {
    if (n >= WH_KB) {
        _mm256_storeu_ps(s, lo);
        _mm256_storeu_ps(s + 8, hi);
        return;
    }
    float tmp[WH_KB]; /* the zero-padded last block */
    _mm256_storeu_ps(tmp, lo);
    _mm256_storeu_ps(tmp + 8, hi);
    for (int i = 0; i < n; i++) s[i] = tmp[i];
}

void wh_qk_rows_avx2(const float *Q, int ldq, const float *Kt, int n_k, int hd, float *S, int lds,
                     int q0, int q1) {
    int t = q0;
    for (; t + 4 <= q1; t += 4) {
        const float *q0r = Q + (size_t)t * ldq, *q1r = q0r + ldq, *q2r = q1r + ldq;
        const float *q3r = q2r + ldq;
        for (int j = 0; j < n_k; j += WH_KB) {
            const float *kb = Kt + (size_t)(j / WH_KB) * hd * WH_KB;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0;
            __m256 d0 = a0, d1 = a0;
            for (int d = 0; d < hd; d++) {
                const __m256 k0 = _mm256_loadu_ps(kb + (size_t)d * WH_KB);
                const __m256 k1 = _mm256_loadu_ps(kb + (size_t)d * WH_KB + 8);
                __m256 v = _mm256_broadcast_ss(q0r + d);
                a0 = _mm256_fmadd_ps(v, k0, a0), a1 = _mm256_fmadd_ps(v, k1, a1);
                v = _mm256_broadcast_ss(q1r + d);
                b0 = _mm256_fmadd_ps(v, k0, b0), b1 = _mm256_fmadd_ps(v, k1, b1);
                v = _mm256_broadcast_ss(q2r + d);
                c0 = _mm256_fmadd_ps(v, k0, c0), c1 = _mm256_fmadd_ps(v, k1, c1);
                v = _mm256_broadcast_ss(q3r + d);
                d0 = _mm256_fmadd_ps(v, k0, d0), d1 = _mm256_fmadd_ps(v, k1, d1);
            }
            float *s = S + (size_t)t * lds + j;
            store_row(s, a0, a1, n_k - j);
            store_row(s + lds, b0, b1, n_k - j);
            store_row(s + 2 * (size_t)lds, c0, c1, n_k - j);
            store_row(s + 3 * (size_t)lds, d0, d1, n_k - j);
        }
    }
    if (t < q1) wh_qk_rows_ref(Q, ldq, Kt, n_k, hd, S, lds, t, q1);
}

void wh_pv_rows_avx2(const float *P, int ldp, int n_k, const float *V, int ldv, int hd, float *O,
                     int ldo, int q0, int q1) {
    int t = q0;
    for (; t + 4 <= q1; t += 4) {
        const float *p0 = P + (size_t)t * ldp, *p1 = p0 + ldp, *p2 = p1 + ldp, *p3 = p2 + ldp;
        for (int c = 0; c < hd; c += 16) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0;
            __m256 d0 = a0, d1 = a0;
            for (int j = 0; j < n_k; j++) {
                const __m256 v0 = _mm256_loadu_ps(V + (size_t)j * ldv + c);
                const __m256 v1 = _mm256_loadu_ps(V + (size_t)j * ldv + c + 8);
                __m256 w = _mm256_broadcast_ss(p0 + j);
                a0 = _mm256_fmadd_ps(w, v0, a0), a1 = _mm256_fmadd_ps(w, v1, a1);
                w = _mm256_broadcast_ss(p1 + j);
                b0 = _mm256_fmadd_ps(w, v0, b0), b1 = _mm256_fmadd_ps(w, v1, b1);
                w = _mm256_broadcast_ss(p2 + j);
                c0 = _mm256_fmadd_ps(w, v0, c0), c1 = _mm256_fmadd_ps(w, v1, c1);
                w = _mm256_broadcast_ss(p3 + j);
                d0 = _mm256_fmadd_ps(w, v0, d0), d1 = _mm256_fmadd_ps(w, v1, d1);
            }
            float *o = O + (size_t)t * ldo + c;
            _mm256_storeu_ps(o, a0), _mm256_storeu_ps(o + 8, a1);
            _mm256_storeu_ps(o + ldo, b0), _mm256_storeu_ps(o + ldo + 8, b1);
            _mm256_storeu_ps(o + 2 * (size_t)ldo, c0),
                _mm256_storeu_ps(o + 2 * (size_t)ldo + 8, c1);
            _mm256_storeu_ps(o + 3 * (size_t)ldo, d0),
                _mm256_storeu_ps(o + 3 * (size_t)ldo + 8, d1);
        }
    }
    if (t < q1) wh_pv_rows_ref(P, ldp, n_k, V, ldv, hd, O, ldo, t, q1);
}
