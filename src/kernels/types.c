/*
 * The tensor type table and run-time dispatch. The reference table below defines every
 * supported type; kern_init copies it and lets the ISA files (dot_avx2.c, dot_avx512.c)
 * override the entries they have faster versions of, once, from the CPU's features or the
 * LOCALAI_KERNELS environment variable.
 */
#include "kernels_int.h"

#include <pthread.h>
#include <stdatomic.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#endif
#include <stdlib.h>

#define ROW(id, nm, bs, sz, tof, fromf, vdt, dot)                                                  \
    [id] = {.type = id,                                                                            \
            .name = nm,                                                                            \
            .block_size = bs,                                                                      \
            .type_size = sz,                                                                       \
            .to_float = tof,                                                                       \
            .from_float = fromf,                                                                   \
            .vec_dot_type = vdt,                                                                   \
            .vec_dot = dot}

static const kern_traits ref_table[GGUF_TYPE_COUNT] = {
    ROW(GGUF_TYPE_F32, "F32", 1, 4, kern_to_float_f32_ref, kern_from_float_f32_ref, GGUF_TYPE_F32,
        kern_vec_dot_f32_ref),
    ROW(GGUF_TYPE_F16, "F16", 1, 2, kern_to_float_f16_ref, kern_from_float_f16_ref, GGUF_TYPE_F16,
        kern_vec_dot_f16_ref),
    ROW(GGUF_TYPE_BF16, "BF16", 1, 2, kern_to_float_bf16_ref, kern_from_float_bf16_ref,
        GGUF_TYPE_BF16, kern_vec_dot_bf16_ref),
    ROW(GGUF_TYPE_Q4_0, "Q4_0", QK4_0, sizeof(block_q4_0), kern_to_float_q4_0_ref,
        kern_from_float_q4_0_ref, GGUF_TYPE_Q8_0, kern_vec_dot_q4_0_ref),
    ROW(GGUF_TYPE_Q4_1, "Q4_1", QK4_1, sizeof(block_q4_1), kern_to_float_q4_1_ref, NULL,
        GGUF_TYPE_Q8_1, kern_vec_dot_q4_1_ref),
    ROW(GGUF_TYPE_Q5_0, "Q5_0", QK5_0, sizeof(block_q5_0), kern_to_float_q5_0_ref, NULL,
        GGUF_TYPE_Q8_0, kern_vec_dot_q5_0_ref),
    ROW(GGUF_TYPE_Q5_1, "Q5_1", QK5_1, sizeof(block_q5_1), kern_to_float_q5_1_ref, NULL,
        GGUF_TYPE_Q8_1, kern_vec_dot_q5_1_ref),
    ROW(GGUF_TYPE_Q8_0, "Q8_0", QK8_0, sizeof(block_q8_0), kern_to_float_q8_0_ref,
        kern_from_float_q8_0_ref, GGUF_TYPE_Q8_0, kern_vec_dot_q8_0_ref),
    /* Activation-only formats: no dot of their own. */
    ROW(GGUF_TYPE_Q8_1, "Q8_1", QK8_1, sizeof(block_q8_1), kern_to_float_q8_1_ref,
        kern_from_float_q8_1_ref, GGUF_TYPE_Q8_1, NULL),
    ROW(GGUF_TYPE_Q8_K, "Q8_K", QK_K, sizeof(block_q8_K), kern_to_float_q8_K_ref,
        kern_from_float_q8_K_ref, GGUF_TYPE_Q8_K, NULL),
    ROW(GGUF_TYPE_Q2_K, "Q2_K", QK_K, sizeof(block_q2_K), kern_to_float_q2_K_ref, NULL,
        GGUF_TYPE_Q8_K, kern_vec_dot_q2_K_ref),
    ROW(GGUF_TYPE_Q3_K, "Q3_K", QK_K, sizeof(block_q3_K), kern_to_float_q3_K_ref, NULL,
        GGUF_TYPE_Q8_K, kern_vec_dot_q3_K_ref),
    ROW(GGUF_TYPE_Q4_K, "Q4_K", QK_K, sizeof(block_q4_K), kern_to_float_q4_K_ref,
        kern_from_float_q4_K_ref, GGUF_TYPE_Q8_K, kern_vec_dot_q4_K_ref),
    ROW(GGUF_TYPE_Q5_K, "Q5_K", QK_K, sizeof(block_q5_K), kern_to_float_q5_K_ref, NULL,
        GGUF_TYPE_Q8_K, kern_vec_dot_q5_K_ref),
    ROW(GGUF_TYPE_Q6_K, "Q6_K", QK_K, sizeof(block_q6_K), kern_to_float_q6_K_ref, NULL,
        GGUF_TYPE_Q8_K, kern_vec_dot_q6_K_ref),
    ROW(GGUF_TYPE_IQ4_NL, "IQ4_NL", QK4_NL, sizeof(block_iq4_nl), kern_to_float_iq4_nl_ref, NULL,
        GGUF_TYPE_Q8_0, kern_vec_dot_iq4_nl_ref),
    ROW(GGUF_TYPE_IQ4_XS, "IQ4_XS", QK_K, sizeof(block_iq4_xs), kern_to_float_iq4_xs_ref, NULL,
        GGUF_TYPE_Q8_K, kern_vec_dot_iq4_xs_ref),
};

/* Names of the ids we do not compute with, for error messages (ggml's names). */
static const char *const other_names[GGUF_TYPE_COUNT] = {
    [GGUF_TYPE_IQ2_XXS] = "IQ2_XXS", [GGUF_TYPE_IQ2_XS] = "IQ2_XS", [GGUF_TYPE_IQ3_XXS] = "IQ3_XXS",
    [GGUF_TYPE_IQ1_S] = "IQ1_S",     [GGUF_TYPE_IQ3_S] = "IQ3_S",   [GGUF_TYPE_IQ2_S] = "IQ2_S",
    [GGUF_TYPE_I8] = "I8",           [GGUF_TYPE_I16] = "I16",       [GGUF_TYPE_I32] = "I32",
    [GGUF_TYPE_I64] = "I64",         [GGUF_TYPE_F64] = "F64",       [GGUF_TYPE_IQ1_M] = "IQ1_M",
    [GGUF_TYPE_TQ1_0] = "TQ1_0",     [GGUF_TYPE_TQ2_0] = "TQ2_0",
};

float kern_f16_table[65536];
kern_gemm_fn kern_gemm_table[GGUF_TYPE_COUNT];
kern_gemv_fn kern_gemv_table[GGUF_TYPE_COUNT];

static kern_traits active_table[GGUF_TYPE_COUNT];
static kern_isa active_isa = KERN_ISA_REF;
static pthread_once_t auto_once = PTHREAD_ONCE_INIT;
/* Set (release) once the table is filled, so readers on other threads see a whole table. */
static atomic_bool inited;

static void (*f16_to_f32_row_fn)(const uint16_t *, float *, int64_t) = kern_f16_to_f32_row_ref;
static void (*f32_to_f16_row_fn)(const float *, uint16_t *, int64_t) = kern_f32_to_f16_row_ref;

/* Set by the ISA files' patch functions for the row conversions. */
void kern_set_f16_rows(void (*to32)(const uint16_t *, float *, int64_t),
                       void (*to16)(const float *, uint16_t *, int64_t)) {
    f16_to_f32_row_fn = to32;
    f32_to_f16_row_fn = to16;
}

/* CPU features straight from CPUID (compilers disagree on __builtin_cpu_supports' names), and
 * XGETBV for whether the OS saves the wider registers. */
typedef struct cpu_feats {
    bool avx2, avx512, vnni, amx;
} cpu_feats;

static cpu_feats feats;
static pthread_once_t feats_once = PTHREAD_ONCE_INIT;

static void detect_cpu(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28);
    const bool f16c = c & (1u << 29);
    if (!osxsave || !avx) return;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    const bool os_ymm = (xlo & 0x6) == 0x6, os_zmm = (xlo & 0xe6) == 0xe6;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    const bool avx2 = b & (1u << 5), bmi2 = b & (1u << 8);
    const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17);
    const bool avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
    feats.avx2 = os_ymm && avx2 && fma && f16c && bmi2;
    feats.avx512 = feats.avx2 && os_zmm && avx512f && avx512dq && avx512bw && avx512vl;
    feats.vnni = feats.avx512 && (c & (1u << 11));
    /* AMX-TILE and AMX-INT8, tile state enabled in XCR0 (bits 17, 18), and Linux's
     * permission for this process to use it (ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA):
     * without it the first tile instruction faults. */
    const bool amx_tile = d & (1u << 24), amx_int8 = d & (1u << 25);
    const bool os_amx = (xlo & 0x60000) == 0x60000;
#if defined(__linux__) && defined(__x86_64__)
    feats.amx = feats.vnni && amx_tile && amx_int8 && os_amx &&
                syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#else
    (void)amx_tile, (void)amx_int8, (void)os_amx;
#endif
#endif
}

/* Set by tests only (kern_emulate_avx512): the emulated build of the AVX-512 kernels. */
static kern_avx512_patch_fn avx512_emulated;
static bool avx512_emulated_vnni;
static kern_amx_patch_fn amx_emulated; /* kern_emulate_amx */
static bool amx_active;

void kern_emulate_amx(kern_amx_patch_fn patch) {
    pthread_once(&feats_once, detect_cpu);
    amx_emulated = feats.avx2 && !feats.amx ? patch : NULL;
}

void kern_emulate_avx512(kern_avx512_patch_fn patch, bool vnni) {
    pthread_once(&feats_once, detect_cpu);
    avx512_emulated = feats.avx2 ? patch : NULL; /* the emulation itself runs on AVX2 */
    avx512_emulated_vnni = vnni;
}

bool kern_cpu_supports(kern_isa isa) {
    pthread_once(&feats_once, detect_cpu);
    switch (isa) {
    case KERN_ISA_AUTO:
    case KERN_ISA_REF: return true;
    case KERN_ISA_AVX2: return feats.avx2;
    case KERN_ISA_AVX512: return feats.avx512 || avx512_emulated;
    }
    return false;
}

#if defined(__x86_64__)
static bool cpu_has_vnni(void) {
    pthread_once(&feats_once, detect_cpu);
    return avx512_emulated ? avx512_emulated_vnni : feats.vnni;
}
#endif

const char *kern_isa_name(kern_isa isa) {
    switch (isa) {
    case KERN_ISA_AUTO: return "auto";
    case KERN_ISA_REF: return "ref";
    case KERN_ISA_AVX2: return "avx2";
    case KERN_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

static kern_isa isa_from_env(void) {
    const char *s = getenv("LOCALAI_KERNELS");
    if (!s || !*s) return KERN_ISA_AUTO;
    if (!strcmp(s, "ref")) return KERN_ISA_REF;
    if (!strcmp(s, "avx2")) return KERN_ISA_AVX2;
    if (!strcmp(s, "avx512")) return KERN_ISA_AVX512;
    log_warn("LOCALAI_KERNELS=%s is not one of ref, avx2, avx512: choosing automatically", s);
    return KERN_ISA_AUTO;
}

/* Kernel families that an environment variable set to "off" leaves out, for A/B timing:
 * LOCALAI_GEMM (products stay on the vec_dot kernels), LOCALAI_AMX (batches stay on the
 * AVX-512 kernels). */
static bool env_not_off(const char *name) {
    const char *v = getenv(name);
    return !v || strcmp(v, "off") != 0;
}
static bool gemm_enabled(void) { return env_not_off("LOCALAI_GEMM"); }
static bool amx_enabled(void) { return env_not_off("LOCALAI_AMX"); }

kern_isa kern_init(kern_isa want) {
    if (want == KERN_ISA_AUTO) want = isa_from_env();
    if (want == KERN_ISA_AUTO) want = KERN_ISA_AVX512;
    /* Fall back to the best the CPU has. */
    if (want == KERN_ISA_AVX512 && !kern_cpu_supports(KERN_ISA_AVX512)) want = KERN_ISA_AVX2;
    if (want == KERN_ISA_AVX2 && !kern_cpu_supports(KERN_ISA_AVX2)) want = KERN_ISA_REF;

    if (!atomic_load_explicit(&inited, memory_order_acquire))
        for (uint32_t h = 0; h < 65536; h++) kern_f16_table[h] = kern_f16_to_f32((uint16_t)h);
    memcpy(active_table, ref_table, sizeof active_table);
    memset(kern_gemm_table, 0, sizeof kern_gemm_table);
    memset(kern_gemv_table, 0, sizeof kern_gemv_table);
    memset(kern_r8_table, 0, sizeof kern_r8_table);
    memset(kern_r8b_table, 0, sizeof kern_r8b_table);
    memset(kern_r8b2_table, 0, sizeof kern_r8b2_table);
    memset(kern_r8v_table, 0, sizeof kern_r8v_table);
    amx_active = false;
    kern_set_f16_rows(kern_f16_to_f32_row_ref, kern_f32_to_f16_row_ref);
#if defined(__x86_64__)
    if (want == KERN_ISA_AVX2 || want == KERN_ISA_AVX512) {
        kern_patch_avx2(active_table);
        if (gemm_enabled()) kern_patch_avx2_gemm(kern_gemm_table, kern_gemv_table);
        kern_patch_avx2_r8(kern_r8_table, kern_r8b_table, kern_r8b2_table);
    }
    if (want == KERN_ISA_AVX512) {
        /* Our AVX-512 kernels could not be run where they were written: check them against
         * the reference once, and stay on AVX2 if any disagrees (AVX2's packed-weight
         * kernels if one of the AVX-512 ones does). */
        kern_r8_fn r8_avx2[KERN_R8_COUNT];
        kern_r8b_fn r8b_avx2[KERN_R8_COUNT], r8b2_avx2[KERN_R8_COUNT];
        kern_r8v_fn r8v_avx2[KERN_R8_COUNT];
        memcpy(r8_avx2, kern_r8_table, sizeof r8_avx2);
        memcpy(r8v_avx2, kern_r8v_table, sizeof r8v_avx2);
        memcpy(r8b_avx2, kern_r8b_table, sizeof r8b_avx2);
        memcpy(r8b2_avx2, kern_r8b2_table, sizeof r8b2_avx2);
        (avx512_emulated ? avx512_emulated : kern_patch_avx512)(
            active_table, kern_r8_table, kern_r8b_table, kern_r8v_table, cpu_has_vnni());
        /* An AVX-512 batch kernel replaces AVX2's pairs of groups too. */
        for (int i = 0; i < KERN_R8_COUNT; i++)
            if (kern_r8b_table[i] != r8b_avx2[i]) kern_r8b2_table[i] = NULL;
        /* Single tokens go to the AVX-512 vec_dots; batches keep the AVX2 GEMM kernels. */
        memset(kern_gemv_table, 0, sizeof kern_gemv_table);
        bool ok = true, r8_ok = true;
        for (int t = 0; t < GGUF_TYPE_COUNT; t++)
            if (ref_table[t].name && !kern_selfcheck(active_table, t)) ok = false;
        for (int i = 0; i < KERN_R8_COUNT; i++) {
            const kern_r8_fn f = kern_r8_table[i] != r8_avx2[i] ? kern_r8_table[i] : NULL;
            const kern_r8b_fn b = kern_r8b_table[i] != r8b_avx2[i] ? kern_r8b_table[i] : NULL;
            const kern_r8v_fn v = kern_r8v_table[i] != r8v_avx2[i] ? kern_r8v_table[i] : NULL;
            if (!kern_selfcheck_r8(KERN_R8_FIRST + i, f, b, v)) r8_ok = false;
        }
        if (!ok || !r8_ok) {
            if (ok) log_warn("kernels: AVX-512 packed-weight kernels disabled, using AVX2's");
            memcpy(kern_r8_table, r8_avx2, sizeof r8_avx2);
            memcpy(kern_r8b_table, r8b_avx2, sizeof r8b_avx2);
            memcpy(kern_r8b2_table, r8b2_avx2, sizeof r8b2_avx2);
            memcpy(kern_r8v_table, r8v_avx2, sizeof r8v_avx2);
        }
        if (!ok) {
            log_warn("kernels: AVX-512 kernels disabled, using AVX2");
            want = KERN_ISA_AVX2;
            memcpy(active_table, ref_table, sizeof active_table);
            kern_patch_avx2(active_table);
            if (gemm_enabled()) kern_patch_avx2_gemm(kern_gemm_table, kern_gemv_table);
        }
        /* AMX for batches, over the AVX-512 VNNI batch kernels it leaves fewer tokens to. */
        const kern_amx_patch_fn amx = amx_emulated ? amx_emulated
                                      : feats.amx && !avx512_emulated ? kern_patch_amx
                                                                      : NULL;
        if (ok && r8_ok && cpu_has_vnni() && amx && amx_enabled()) {
            kern_r8b_fn r8b2[KERN_R8_COUNT];
            memcpy(r8b2, kern_r8b2_table, sizeof r8b2);
            amx(kern_r8b_table, kern_r8b2_table);
            bool amx_ok = true;
            for (int i = 0; i < KERN_R8_COUNT; i++)
                if (kern_r8b2_table[i] != r8b2[i] &&
                    !kern_selfcheck_r8b2(KERN_R8_FIRST + i, kern_r8b2_table[i]))
                    amx_ok = false;
            if (amx_ok) amx_active = true;
            else {
                log_warn("kernels: AMX kernels disabled, using AVX-512's");
                memcpy(kern_r8b2_table, r8b2, sizeof r8b2);
            }
        }
    }
#endif
    active_isa = want;
    atomic_store_explicit(&inited, true, memory_order_release);
    return want;
}

static void init_auto(void) {
    if (!atomic_load_explicit(&inited, memory_order_acquire)) kern_init(KERN_ISA_AUTO);
}

static inline void ensure_init(void) {
    if (!atomic_load_explicit(&inited, memory_order_acquire)) pthread_once(&auto_once, init_auto);
}

bool kern_amx_active(void) {
    ensure_init();
    return amx_active;
}

kern_isa kern_active_isa(void) {
    ensure_init();
    return active_isa;
}

const kern_traits *kern_traits_of(int type) {
    if (type < 0 || type >= GGUF_TYPE_COUNT || !ref_table[type].name) return NULL;
    ensure_init();
    return &active_table[type];
}

const kern_traits *kern_traits_ref(int type) {
    if (type < 0 || type >= GGUF_TYPE_COUNT || !ref_table[type].name) return NULL;
    return &ref_table[type];
}

int kern_check_type(int type, err_buf *eb) {
    if (kern_traits_ref(type)) return 0;
    const char *name = type >= 0 && type < GGUF_TYPE_COUNT ? other_names[type] : NULL;
    if (!name) name = "unknown";
    return err_set(eb, BASE_EUNSUPPORTED, "tensor type %s (%d) is not supported", name, type);
}

void kern_vec_dot_multi(const kern_traits *t, int64_t n, float *s, size_t bs, const void *x,
                        const void *y, size_t by, int nrc) {
    if (t->vec_dot_multi) {
        t->vec_dot_multi(n, s, bs, x, y, by, nrc);
        return;
    }
    for (int r = 0; r < nrc; r++)
        t->vec_dot(n, s + (size_t)r * bs, x, (const char *)y + (size_t)r * by);
}

void kern_f16_to_f32_row(const uint16_t *x, float *y, int64_t n) {
    ensure_init();
    f16_to_f32_row_fn(x, y, n);
}

void kern_f32_to_f16_row(const float *x, uint16_t *y, int64_t n) {
    ensure_init();
    f32_to_f16_row_fn(x, y, n);
}
