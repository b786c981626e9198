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

static inline __m512i join256(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* a in the low 8 float lanes, b in the high 8. */
static inline __m512 scales2(float a, float b) {
    return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}

#endif
