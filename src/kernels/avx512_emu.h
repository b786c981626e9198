/*
 * Test builds only: the *_avx512.c files compiled a second time for CPUs without AVX-512, on
 * SIMDe's portable versions of the intrinsics (libsimde-dev), so their kernels are checked
 * against the reference on any x86-64. The Makefile force-includes this header (-include)
 * with -DKERN_AVX512_EMU and AVX2 flags only, then renames every global the objects define to
 * NAME_emu (tests call kern_patch_avx512_emu through kern_emulate_avx512).
 *
 * SIMDe's native aliases map _mm512_* to its own functions; GCC still declares the real ones,
 * so an intrinsic SIMDe lacks fails the build ("target specific option mismatch") instead of
 * running a real AVX-512 instruction. The few the kernels use that SIMDe 0.7 lacks are below.
 */
#ifndef AVX512_EMU_H
#define AVX512_EMU_H

#include <immintrin.h>

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

/* SIMDe 0.7.4 aliases this one with the masked form's four arguments. */
#undef _mm512_madd_epi16
#define _mm512_madd_epi16(a, b) simde_mm512_madd_epi16(a, b)

/* Function attributes that would let the compiler emit AVX-512 code: none here. */
#define KERN_TARGET_VNNI

static inline simde__m512 emu_mm512_cvtepi32_ps(simde__m512i a) {
    const __m256 lo = _mm256_cvtepi32_ps(simde_mm512_castsi512_si256(a));
    const __m256 hi = _mm256_cvtepi32_ps(simde_mm512_extracti64x4_epi64(a, 1));
    return simde_mm512_insertf32x8(simde_mm512_castps256_ps512(lo), hi, 1);
}
#define _mm512_cvtepi32_ps(a) emu_mm512_cvtepi32_ps(a)

/* The order of GCC's _mm512_reduce_add_ps: halves added pairwise down to one lane. */
static inline float emu_mm512_reduce_add_ps(simde__m512 a) {
    __m256 r = _mm256_add_ps(simde_mm512_castps512_ps256(a), _mm256_castpd_ps(simde_mm512_extractf64x4_pd(simde_mm512_castps_pd(a), 1)));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(r), _mm256_extractf128_ps(r, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}
#define _mm512_reduce_add_ps(a) emu_mm512_reduce_add_ps(a)

/* Conversions SIMDe 0.7.4 lacks, on AVX2/F16C halves: the same results, and cvtps_epi32
 * follows the current rounding mode as the hardware does. */
static inline simde__m512 emu_mm512_cvtph_ps(__m256i a) {
    const __m256 lo = _mm256_cvtph_ps(_mm256_castsi256_si128(a));
    const __m256 hi = _mm256_cvtph_ps(_mm256_extracti128_si256(a, 1));
    return simde_mm512_insertf32x8(simde_mm512_castps256_ps512(lo), hi, 1);
}
#define _mm512_cvtph_ps(a) emu_mm512_cvtph_ps(a)

static inline simde__m512i emu_mm512_cvtps_epi32(simde__m512 a) {
    const __m256i lo = _mm256_cvtps_epi32(simde_mm512_castps512_ps256(a));
    const __m256i hi = _mm256_cvtps_epi32(
        _mm256_castpd_ps(simde_mm512_extractf64x4_pd(simde_mm512_castps_pd(a), 1)));
    return simde_mm512_inserti64x4(simde_mm512_castsi256_si512(lo), hi, 1);
}
#define _mm512_cvtps_epi32(a) emu_mm512_cvtps_epi32(a)

static inline simde__m512i emu_mm512_cvttps_epi32(simde__m512 a) {
    const __m256i lo = _mm256_cvttps_epi32(simde_mm512_castps512_ps256(a));
    const __m256i hi = _mm256_cvttps_epi32(
        _mm256_castpd_ps(simde_mm512_extractf64x4_pd(simde_mm512_castps_pd(a), 1)));
    return simde_mm512_inserti64x4(simde_mm512_castsi256_si512(lo), hi, 1);
}
#define _mm512_cvttps_epi32(a) emu_mm512_cvttps_epi32(a)

/* SIMDe has this one but no native alias for it. */
#define _mm512_shuffle_f32x4(a, b, imm) simde_mm512_shuffle_f32x4(a, b, imm)

/* SIMDe 0.7.4's roundscale macros shift imm8 without parentheses: (A | B) >> 4 became
 * A | (B >> 4), a scale of 2^-3 for truncation. Passing it parenthesized fixes that. */
#undef _mm512_roundscale_ps
#define _mm512_roundscale_ps(a, imm) simde_mm512_roundscale_ps(a, (imm))

#endif
