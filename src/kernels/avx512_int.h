/*
 * Helpers shared by the AVX-512 kernel files (*_avx512.c, compiled with -mavx512f/bw/dq/vl
 * and -mavx512vnni; VNNI code only behind KERN_TARGET_VNNI functions picked at run time).
 */
#ifndef AVX512_INT_H
#define AVX512_INT_H

#include "avx2_int.h"

/* The attribute of the functions that use VNNI instructions. The emulated test build
 * (avx512_emu.h) defines it empty, so that nothing there becomes a real AVX-512 instruction. */
#ifndef KERN_TARGET_VNNI
#define KERN_TARGET_VNNI __attribute__((target("avx512vnni")))
#endif

/* The kernels' helpers are forced inline. Not in the emulated build: there every intrinsic is
 * a SIMDe function, and forcing whole unrolled kernels inline made one file take minutes to
 * compile. */
#ifdef KERN_AVX512_EMU
#define KERN_AVX512_INLINE static inline
#else
#define KERN_AVX512_INLINE static inline __attribute__((always_inline))
#endif

static inline __m512i join256(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* a in the low 8 float lanes, b in the high 8. */
static inline __m512 scales2(float a, float b) {
    return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}

/* ---- the kernels of weights packed 8 rows at a time (gemm_r8_avx512.c, gemm_r8q6k_avx512.c)
 * A 64-byte load holds pieces j, j + 1 (4 bytes of each row) of the 8 rows; load_pair
 * interleaves them (lane 2r: row r's piece j, lane 2r + 1: its piece j + 1), so that a
 * token's matching 8 bytes are one 64-bit broadcast. Each row's two lanes are summed at the
 * end (store_rows). */

/* Single tokens stream the weights. On the AVX-512 machine we measured (an Intel Xeon with
 * AMX), asking for the lines about 7 KiB ahead into L2 (prefetcht1) streamed 7-10% faster in
 * whole-model generation than asking for them 2 KiB ahead into L1 (bench/RESULTS.md). */
#define KERN_AVX512_PF_AHEAD 6912
KERN_AVX512_INLINE void prefetch_l2(uintptr_t a) {
    __asm__ volatile("prefetcht1 %0" : : "m"(*(const char *)a));
}

KERN_AVX512_INLINE __m512i load_pair(const void *p) {
    const __m512i il = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    return _mm512_permutexvar_epi32(il, _mm512_loadu_si512(p));
}

/* The 8 bytes at p in every 64-bit lane: 4 for lane 2r, 4 for lane 2r + 1. */
KERN_AVX512_INLINE __m512i bcast8(const void *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return _mm512_set1_epi64(v);
}

/* The 8 rows' half scales d[8] as floats, each in both lanes of its row. */
KERN_AVX512_INLINE __m512 row_scales(const void *d) {
    const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
    return _mm512_permutexvar_ps(dup, _mm512_castps256_ps512(d8));
}

/* The two lanes of each row summed: 8 floats to Y. */
KERN_AVX512_INLINE void store_rows(float *Y, __m512 acc) {
    const __m512 s = _mm512_add_ps(acc, _mm512_shuffle_ps(acc, acc, 0xB1));
    _mm256_storeu_si256((__m256i *)Y, _mm512_cvtepi64_epi32(_mm512_castps_si512(s)));
}

/* A kern_r8v_fn called name for a packed type with Q8_K tokens (dc unused): super-block i of
 * each of the S groups in turn, block_fn(w, y, acc) adding block w (a block_t) times the
 * token's block y to *acc. name##_s is the kernel for a constant S. */
#define KERN_DEFINE_R8V_Q8K(name, block_t, block_fn)                                               \
    KERN_AVX512_INLINE KERN_TARGET_VNNI void name##_s(int64_t nb, const uint8_t *W,                \
                                                      size_t w_step, const uint8_t *xq, float *Y,  \
                                                      size_t y_step, const int S) {                \
        __m512 acc[KERN_R8V_MAXG];                                                                 \
        _Pragma("GCC unroll 8") for (int g = 0; g < KERN_R8V_MAXG; g++) acc[g] =                   \
            _mm512_setzero_ps();                                                                   \
        for (int64_t i = 0; i < nb; i++) {                                                         \
            const block_q8_K *y = (const block_q8_K *)xq + i;                                      \
            _Pragma("GCC unroll 8") for (int g = 0; g < S; g++)                                    \
                block_fn((const block_t *)(W + (size_t)g * w_step) + i, y, &acc[g]);               \
        }                                                                                          \
        _Pragma("GCC unroll 8") for (int g = 0; g < S; g++)                                        \
            store_rows(Y + (size_t)g * y_step, acc[g]);                                            \
    }                                                                                              \
    KERN_TARGET_VNNI static void name(int64_t nb, const void *W, size_t w_step, int ng,           \
                                      const uint8_t *xq, const float *dc, float *Y,              \
                                      size_t y_step) {                                             \
        (void)dc;                                                                                  \
        KERN_CASES_1_8(ng, name##_s KERN_R8V_Q8K_ARGS)                                             \
    }
/* name##_s's arguments in name, for KERN_CASES_1_8. */
#define KERN_R8V_Q8K_ARGS(S) (nb, (const uint8_t *)W, w_step, xq, Y, y_step, S)

#endif
