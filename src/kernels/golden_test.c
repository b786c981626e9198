/*
 * Golden tests against llama.cpp's data in ../shared/golden: dequantized tensors bit for bit
 * (reference and active ISA), F16/BF16 models against the F32 model's values, and our
 * quantizers against the bytes llama-quantize wrote from the same F32 weights.
 */
#include "kernels_testutil.h"

#include <stdio.h>

static const char *const tensors[2] = {"blk.0.attn_q.weight", "blk.0.ffn_down.weight"};
static const char *const golden_names[2] = {"attn_q", "ffn_down"};

static gguf *open_model(const char *type_name) {
    char rel[128];
    snprintf(rel, sizeof rel, "golden/models/llama-%s.gguf", type_name);
    const char *path = test_shared_file(rel);
    gguf *g = NULL;
    err_buf eb = {0};
    ASSERT_OK(gguf_open(path, &g, &eb), &eb);
    return g;
}

static const gguf_tensor *find(gguf *g, const char *name, int type) {
    const gguf_tensor *t = gguf_find_tensor(g, name);
    ASSERT_NOT_NULL(t);
    ASSERT_EQ_INT(t->type, type);
    return t;
}

static void check_dequant(int type) {
    const kern_traits *r = kern_traits_ref(type);
    gguf *g = open_model(r->name);
    for (int k = 0; k < 2; k++) {
        const gguf_tensor *t = find(g, tensors[k], type);
        const int64_t n = t->ne[0] * t->ne[1];
        char rel[128];
        snprintf(rel, sizeof rel, "golden/dequant/llama-%s.blk0.%s.f32", r->name, golden_names[k]);
        char *want;
        size_t want_len;
        err_buf eb = {0};
        ASSERT_OK(file_read_all(test_shared_file(rel), &want, &want_len, &eb), &eb);
        ASSERT_EQ_UINT(want_len, (size_t)n * 4);
        float *y = mem_alloc((size_t)n * 4);
        /* Row by row, as the engine uses it, with the reference and every ISA we have. */
        static const kern_isa isas[] = {KERN_ISA_REF, KERN_ISA_AVX2, KERN_ISA_AVX512};
        for (int ii = 0; ii < 3; ii++) {
            if (!kern_cpu_supports(isas[ii])) continue;
            kern_init(isas[ii]);
            const kern_traits *tt = kern_traits_of(type);
            const size_t row_bytes = (size_t)(t->ne[0] / tt->block_size) * tt->type_size;
            memset(y, 0xff, (size_t)n * 4);
            for (int64_t row = 0; row < t->ne[1]; row++)
                tt->to_float((const uint8_t *)t->data + row * row_bytes, y + row * t->ne[0],
                             t->ne[0]);
            if (memcmp(y, want, (size_t)n * 4) != 0) {
                int64_t i = 0;
                while (memcmp(&y[i], want + 4 * i, 4) == 0) i++;
                float w;
                memcpy(&w, want + 4 * i, 4);
                test_fail(__FILE__, __LINE__, "%s %s (%s): element %lld is %.9g, golden %.9g",
                          r->name, tensors[k], kern_isa_name(isas[ii]), (long long)i, y[i], w);
            }
        }
        mem_free(y);
        mem_free(want);
    }
    gguf_close(g);
}

TEST(kern_golden_dequant_q4_0) { check_dequant(GGUF_TYPE_Q4_0); }
TEST(kern_golden_dequant_q4_1) { check_dequant(GGUF_TYPE_Q4_1); }
TEST(kern_golden_dequant_q5_0) { check_dequant(GGUF_TYPE_Q5_0); }
TEST(kern_golden_dequant_q5_1) { check_dequant(GGUF_TYPE_Q5_1); }
TEST(kern_golden_dequant_q8_0) { check_dequant(GGUF_TYPE_Q8_0); }
TEST(kern_golden_dequant_q2_K) { check_dequant(GGUF_TYPE_Q2_K); }
TEST(kern_golden_dequant_q3_K) { check_dequant(GGUF_TYPE_Q3_K); }
TEST(kern_golden_dequant_q4_K) { check_dequant(GGUF_TYPE_Q4_K); }
TEST(kern_golden_dequant_q5_K) { check_dequant(GGUF_TYPE_Q5_K); }
TEST(kern_golden_dequant_q6_K) { check_dequant(GGUF_TYPE_Q6_K); }
TEST(kern_golden_dequant_iq4_nl) { check_dequant(GGUF_TYPE_IQ4_NL); }
TEST(kern_golden_dequant_iq4_xs) { check_dequant(GGUF_TYPE_IQ4_XS); }

/* The F16 and BF16 models hold the F32 model's weights rounded to nearest even. Compare every
 * 2-D tensor; also quantize the F32 values ourselves and expect the file's bytes. */
static void check_float_model(int type) {
    const kern_traits *r = kern_traits_ref(type);
    gguf *g32 = open_model("F32"), *g = open_model(r->name);
    int n_checked = 0;
    for (int k = 0; k < 2; k++) {
        const gguf_tensor *t32 = find(g32, tensors[k], GGUF_TYPE_F32);
        const gguf_tensor *t = find(g, tensors[k], type);
        const int64_t n = t->ne[0] * t->ne[1];
        ASSERT_EQ_INT(n, t32->ne[0] * t32->ne[1]);
        const float *x = t32->data;
        float *y = mem_alloc((size_t)n * 4);
        uint16_t *q = mem_alloc((size_t)n * 2);
        r->to_float(t->data, y, n);
        r->from_float(x, q, n);
        ASSERT_EQ_INT(memcmp(q, t->data, (size_t)n * 2), 0);
        for (int64_t i = 0; i < n; i++) {
            float want = type == GGUF_TYPE_F16 ? kern_f16_to_f32(kern_f32_to_f16(x[i]))
                                               : kern_bf16_to_f32(kern_f32_to_bf16(x[i]));
            if (memcmp(&want, &y[i], 4) != 0)
                test_fail(__FILE__, __LINE__, "%s %s[%lld]: %.9g, want %.9g", r->name, tensors[k],
                          (long long)i, y[i], want);
            n_checked++;
        }
        mem_free(y);
        mem_free(q);
    }
    ASSERT_EQ_INT(n_checked, 65536 + 131072);
    gguf_close(g);
    gguf_close(g32);
}

TEST(kern_golden_f16_model) { check_float_model(GGUF_TYPE_F16); }
TEST(kern_golden_bf16_model) { check_float_model(GGUF_TYPE_BF16); }

/* Our weight quantizers against llama-quantize's output for the same F32 weights. */
static void check_quantizer(int type) {
    const kern_traits *r = kern_traits_ref(type);
    gguf *g32 = open_model("F32"), *g = open_model(r->name);
    for (int k = 0; k < 2; k++) {
        const gguf_tensor *t32 = find(g32, tensors[k], GGUF_TYPE_F32);
        const gguf_tensor *t = find(g, tensors[k], type);
        uint8_t *q = mem_alloc(t->nbytes);
        const size_t row_bytes = (size_t)(t->ne[0] / r->block_size) * r->type_size;
        for (int64_t row = 0; row < t->ne[1]; row++)
            r->from_float((const float *)t32->data + row * t->ne[0], q + row * row_bytes, t->ne[0]);
        size_t n_diff = 0, first = 0;
        for (size_t i = 0; i < t->nbytes; i++)
            if (q[i] != ((const uint8_t *)t->data)[i] && !n_diff++) first = i;
        if (n_diff)
            test_fail(__FILE__, __LINE__,
                      "%s %s: %zu of %zu bytes differ, first at %zu (block %zu)", r->name,
                      tensors[k], n_diff, t->nbytes, first, first / r->type_size);
        mem_free(q);
    }
    gguf_close(g);
    gguf_close(g32);
}

TEST(kern_golden_quantize_q8_0) { check_quantizer(GGUF_TYPE_Q8_0); }
TEST(kern_golden_quantize_q4_0) { check_quantizer(GGUF_TYPE_Q4_0); }
TEST(kern_golden_quantize_q4_K) { check_quantizer(GGUF_TYPE_Q4_K); }
