/*
 * The engine against llama.cpp's logits (../shared/golden): every architecture and weight
 * type, all 24 prompt positions, within the NRMSE and max-abs bounds of MANIFEST.tsv.
 * Each model runs as one batch on one thread and in small batches on two threads, with an
 * F32 KV cache, and with an F16 cache where llama.cpp's F16-cache logits exist.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "kernels/kernels_testutil.h"
#include "test.h"

typedef struct golden_row {
    char name[64], model[128], tokens[128], ref[128], ref16[128];
    double nrmse_tol, maxabs_tol;
    int n_vocab, n_tokens;
} golden_row;

static int find_row(const char *name, golden_row *r) {
    const char *path = test_shared_file("golden/MANIFEST.tsv");
    FILE *f = fopen(path, "r");
    ASSERT_NOT_NULL(f);
    char line[1024];
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        char *fields[11] = {0};
        int nf = 0;
        for (char *save = NULL, *t = strtok_r(line, "\t\n", &save); t && nf < 11;
             t = strtok_r(NULL, "\t\n", &save))
            fields[nf++] = t;
        if (nf < 10 || strcmp(fields[0], name)) continue;
        snprintf(r->name, sizeof r->name, "%s", fields[0]);
        r->n_vocab = atoi(fields[3]);
        r->n_tokens = atoi(fields[4]);
        r->nrmse_tol = atof(fields[5]);
        r->maxabs_tol = atof(fields[6]);
        snprintf(r->model, sizeof r->model, "golden/%s", fields[7]);
        snprintf(r->tokens, sizeof r->tokens, "golden/%s", fields[8]);
        snprintf(r->ref, sizeof r->ref, "golden/%s", fields[9]);
        snprintf(r->ref16, sizeof r->ref16, "%s%s", nf > 10 ? "golden/" : "", nf > 10 ? fields[10] : "");
        found = 0;
    }
    fclose(f);
    return found;
}

static float *read_f32(const char *rel, size_t n) {
    const char *p = test_shared_file(rel);
    FILE *f = fopen(p, "rb");
    ASSERT_NOT_NULL(f);
    float *v = malloc(n * sizeof *v);
    ASSERT_EQ_UINT(fread(v, sizeof *v, n, f), n);
    fclose(f);
    return v;
}

static int read_ids(const char *rel, int32_t *ids, int cap) {
    FILE *f = fopen(test_shared_file(rel), "r");
    ASSERT_NOT_NULL(f);
    int n = 0, v;
    while (n < cap && fscanf(f, "%d", &v) == 1) ids[n++] = v;
    fclose(f);
    return n;
}

/* Run the prompt in batches of `batch` and compare every position's logits with ref. */
static void run_and_compare(const golden_row *r, llm_model *m, int threads, int batch,
                            bool kv_f32, const float *ref) {
    int32_t ids[64];
    int n = read_ids(r->tokens, ids, 64);
    ASSERT_EQ_INT(n, r->n_tokens);
    tpool *pool = tpool_new(threads);
    ASSERT_NOT_NULL(pool);
    llm_session_params sp = llm_session_default_params();
    sp.n_ctx = n;
    sp.n_batch = batch;
    sp.kv_f32 = kv_f32;
    sp.all_logits = true;
    llm_session *s;
    err_buf eb = {0};
    ASSERT_OK(llm_session_new(m, &sp, pool, &s, &eb), &eb);
    size_t V = (size_t)r->n_vocab;
    double se = 0, sr = 0, maxabs = 0;
    for (int off = 0; off < n; off += batch) {
        int c = n - off < batch ? n - off : batch;
        ASSERT_OK(llm_decode(s, ids + off, c, true, &eb), &eb);
        for (int i = 0; i < c; i++) {
            const float *a = llm_logits(s, i);
            ASSERT_NOT_NULL(a);
            const float *b = ref + (size_t)(off + i) * V;
            for (size_t v = 0; v < V; v++) {
                double d = (double)a[v] - b[v];
                se += d * d;
                sr += (double)b[v] * b[v];
                if (fabs(d) > maxabs || isnan(d)) maxabs = isnan(d) ? INFINITY : fabs(d);
            }
        }
    }
    double nrmse = sqrt(se / sr);
    printf("  %-18s threads %d batch %2d kv %s: nrmse %.3g (bound %g), maxabs %.3g (bound %g)\n",
           r->name, threads, batch, kv_f32 ? "f32" : "f16", nrmse, r->nrmse_tol, maxabs, r->maxabs_tol);
    ASSERT_TRUE(nrmse <= r->nrmse_tol);
    ASSERT_TRUE(maxabs <= r->maxabs_tol);
    llm_session_free(s);
    tpool_free(pool);
}

static void check_golden(const char *name) {
    golden_row r;
    if (find_row(name, &r)) test_fail(__FILE__, __LINE__, "%s not in MANIFEST.tsv", name);
    llm_model *m;
    err_buf eb = {0};
    ASSERT_OK(llm_model_load(test_shared_file(r.model), &m, &eb), &eb);
    ASSERT_EQ_INT(llm_model_hparams(m)->n_vocab, r.n_vocab);
    size_t n = (size_t)r.n_tokens * (size_t)r.n_vocab;
    float *ref = read_f32(r.ref, n);
    run_and_compare(&r, m, 1, r.n_tokens, true, ref);
    run_and_compare(&r, m, 2, 5, true, ref);
    run_and_compare(&r, m, 2, 1, true, ref);
    free(ref);
    if (r.ref16[0]) {
        ref = read_f32(r.ref16, n);
        run_and_compare(&r, m, 2, r.n_tokens, false, ref);
        free(ref);
    }
    llm_model_free(m);
}

#define GOLDEN(id, name) \
    TEST(engine_golden_##id) { check_golden(name); }

GOLDEN(llama_F32, "llama-F32")
GOLDEN(llama_F16, "llama-F16")
GOLDEN(llama_BF16, "llama-BF16")
GOLDEN(llama_Q8_0, "llama-Q8_0")
GOLDEN(llama_Q4_0, "llama-Q4_0")
GOLDEN(llama_Q4_1, "llama-Q4_1")
GOLDEN(llama_Q5_0, "llama-Q5_0")
GOLDEN(llama_Q5_1, "llama-Q5_1")
GOLDEN(llama_Q2_K, "llama-Q2_K")
GOLDEN(llama_Q3_K, "llama-Q3_K")
GOLDEN(llama_Q4_K, "llama-Q4_K")
GOLDEN(llama_Q5_K, "llama-Q5_K")
GOLDEN(llama_Q6_K, "llama-Q6_K")
GOLDEN(llama_IQ4_NL, "llama-IQ4_NL")
GOLDEN(llama_IQ4_XS, "llama-IQ4_XS")
GOLDEN(llama3rope_F32, "llama3rope-F32")
GOLDEN(llama3rope_Q4_K, "llama3rope-Q4_K")
GOLDEN(qwen2_F32, "qwen2-F32")
GOLDEN(qwen2_Q4_K, "qwen2-Q4_K")
GOLDEN(gemma_F32, "gemma-F32")
GOLDEN(gemma_Q4_K, "gemma-Q4_K")
GOLDEN(phi3_F32, "phi3-F32")
GOLDEN(phi3_Q4_K, "phi3-Q4_K")
GOLDEN(gemma2_Q4_K, "gemma2-Q4_K")
GOLDEN(qwen3_F32, "qwen3-F32")
GOLDEN(qwen3_Q4_K, "qwen3-Q4_K")
GOLDEN(gemma3_F32, "gemma3-F32")
GOLDEN(gemma3_Q4_K, "gemma3-Q4_K")

#if defined(__x86_64__)
/* The AVX-512 kernels in whole models (emulated where the CPU lacks AVX-512: see
 * src/kernels/avx512_emu.h), with the weights left as the file has them (LOCALAI_REPACK=off)
 * so that single tokens go through the AVX-512 vec_dots; batches keep the AVX2 GEMM kernels. */
static void check_golden_avx512(const char *name) {
    setenv("LOCALAI_REPACK", "off", 1);
    ktest_emulate_avx512(true);
    ASSERT_EQ_INT(kern_init(KERN_ISA_AVX512), KERN_ISA_AVX512);
    golden_row r;
    if (find_row(name, &r)) test_fail(__FILE__, __LINE__, "%s not in MANIFEST.tsv", name);
    llm_model *m;
    err_buf eb = {0};
    ASSERT_OK(llm_model_load(test_shared_file(r.model), &m, &eb), &eb);
    float *ref = read_f32(r.ref, (size_t)r.n_tokens * (size_t)r.n_vocab);
    run_and_compare(&r, m, 2, 1, true, ref);
    run_and_compare(&r, m, 1, r.n_tokens, true, ref);
    free(ref);
    llm_model_free(m);
}

#define GOLDEN512(id, name) \
    TEST(engine_golden_avx512_##id) { check_golden_avx512(name); }

GOLDEN512(F32, "llama-F32")
GOLDEN512(F16, "llama-F16")
GOLDEN512(BF16, "llama-BF16")
GOLDEN512(Q8_0, "llama-Q8_0")
GOLDEN512(Q4_0, "llama-Q4_0")
GOLDEN512(Q4_1, "llama-Q4_1")
GOLDEN512(Q5_0, "llama-Q5_0")
GOLDEN512(Q5_1, "llama-Q5_1")
GOLDEN512(Q2_K, "llama-Q2_K")
GOLDEN512(Q3_K, "llama-Q3_K")
GOLDEN512(Q4_K, "llama-Q4_K")
GOLDEN512(Q5_K, "llama-Q5_K")
GOLDEN512(Q6_K, "llama-Q6_K")
GOLDEN512(IQ4_NL, "llama-IQ4_NL")
GOLDEN512(IQ4_XS, "llama-IQ4_XS")

/* The same with the weights packed (the VNNI kernels of gemm_r8*_avx512.c): every
 * matrix of the model has a packed form, single tokens and batches go through it. */
static void check_golden_avx512_packed(const char *name, int wtype) {
    unsetenv("LOCALAI_REPACK");
    ASSERT_EQ_INT(kern_init(KERN_ISA_AVX2), KERN_ISA_AVX2);
    const int slot = kern_repack_type(wtype, 256, 8) - KERN_R8_FIRST;
    const kern_r8_fn avx2 = kern_r8_table[slot];
    ktest_emulate_avx512(true);
    ASSERT_EQ_INT(kern_init(KERN_ISA_AVX512), KERN_ISA_AVX512);
    ASSERT_TRUE(kern_r8_table[slot] != avx2); /* the AVX-512 kernel passed its start-up check */
    golden_row r;
    if (find_row(name, &r)) test_fail(__FILE__, __LINE__, "%s not in MANIFEST.tsv", name);
    llm_model *m;
    err_buf eb = {0};
    ASSERT_OK(llm_model_load(test_shared_file(r.model), &m, &eb), &eb);
    const gguf *g = llm_model_gguf(m);
    int packed = 0;
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (t->n_dims != 2) continue;
        ASSERT_EQ_INT(t->type, wtype);
        ASSERT_TRUE(kern_repack_type(t->type, t->ne[0], t->ne[1]) >= 0);
        packed++;
    }
    ASSERT_TRUE(packed > 0);
    float *ref = read_f32(r.ref, (size_t)r.n_tokens * (size_t)r.n_vocab);
    run_and_compare(&r, m, 2, 1, true, ref);
    run_and_compare(&r, m, 1, r.n_tokens, true, ref);
    run_and_compare(&r, m, 2, 5, true, ref);
    free(ref);
    llm_model_free(m);
}

TEST(engine_golden_avx512_packed_Q4_0) { check_golden_avx512_packed("llama-Q4_0", GGUF_TYPE_Q4_0); }
TEST(engine_golden_avx512_packed_Q8_0) { check_golden_avx512_packed("llama-Q8_0", GGUF_TYPE_Q8_0); }
TEST(engine_golden_avx512_packed_Q5_0) { check_golden_avx512_packed("llama-Q5_0", GGUF_TYPE_Q5_0); }
TEST(engine_golden_avx512_packed_Q6_K) { check_golden_avx512_packed("llama-Q6_K", GGUF_TYPE_Q6_K); }
TEST(engine_golden_avx512_packed_Q4_K) { check_golden_avx512_packed("llama-Q4_K", GGUF_TYPE_Q4_K); }
TEST(engine_golden_avx512_packed_Q5_K) { check_golden_avx512_packed("llama-Q5_K", GGUF_TYPE_Q5_K); }
TEST(engine_golden_avx512_packed_Q4_1) { check_golden_avx512_packed("llama-Q4_1", GGUF_TYPE_Q4_1); }
TEST(engine_golden_avx512_packed_Q5_1) { check_golden_avx512_packed("llama-Q5_1", GGUF_TYPE_Q5_1); }
TEST(engine_golden_avx512_packed_IQ4_NL) {
    check_golden_avx512_packed("llama-IQ4_NL", GGUF_TYPE_IQ4_NL);
}
TEST(engine_golden_avx512_packed_qwen2_Q4_K) {
    check_golden_avx512_packed("qwen2-Q4_K", GGUF_TYPE_Q4_K);
}
#endif

TEST(engine_unknown_arch_is_named) {
    gguf_writer *w = gguf_writer_new();
    ASSERT_NOT_NULL(w);
    gguf_writer_set_str(w, "general.architecture", "mamba9");
    char path[600];
    snprintf(path, sizeof path, "%s/m.gguf", test_tmpdir());
    err_buf eb = {0};
    ASSERT_OK(gguf_writer_write_file(w, path, &eb), &eb);
    gguf_writer_free(w);
    llm_model *m;
    ASSERT_EQ_INT(llm_model_load(path, &m, &eb), BASE_EUNSUPPORTED);
    ASSERT_CONTAINS(eb.msg, "unknown model architecture 'mamba9'");
}

TEST(engine_context_full_is_an_error) {
    llm_model *m;
    err_buf eb = {0};
    ASSERT_OK(llm_model_load(test_shared_file("golden/models/llama-Q4_0.gguf"), &m, &eb), &eb);
    llm_session_params sp = llm_session_default_params();
    sp.n_ctx = 8;
    llm_session *s;
    ASSERT_OK(llm_session_new(m, &sp, NULL, &s, &eb), &eb);
    int32_t ids[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    ASSERT_EQ_INT(llm_decode(s, ids, 9, false, &eb), BASE_EFULL);
    ASSERT_CONTAINS(eb.msg, "context full");
    ASSERT_EQ_INT(llm_session_n_past(s), 0);
    ASSERT_OK(llm_decode(s, ids, 8, false, &eb), &eb);
    ASSERT_EQ_INT(llm_decode(s, ids, 1, false, &eb), BASE_EFULL);
    int32_t bad = 512;
    llm_session_truncate(s, 4);
    ASSERT_EQ_INT(llm_decode(s, &bad, 1, false, &eb), BASE_EINVAL);
    ASSERT_CONTAINS(eb.msg, "outside the vocabulary");
    ASSERT_OK(llm_decode(s, ids, 4, false, &eb), &eb);
    llm_session_free(s);
    llm_model_free(m);
}

/* Continuous batching: two sessions advanced in one forward pass give the same logits as each
 * advanced on its own. */
TEST(engine_decode_batch_matches_single) {
    llm_model *m;
    err_buf eb = {0};
    ASSERT_OK(llm_model_load(test_shared_file("golden/models/llama-F32.gguf"), &m, &eb), &eb);
    llm_session_params sp = llm_session_default_params();
    sp.n_ctx = 32;
    sp.n_seq = 2;
    sp.kv_f32 = true;
    llm_session *a, *b, *ref;
    ASSERT_OK(llm_session_new(m, &sp, NULL, &a, &eb), &eb);
    ASSERT_OK(llm_session_new(m, &sp, NULL, &b, &eb), &eb);
    ASSERT_OK(llm_session_new(m, &sp, NULL, &ref, &eb), &eb);
    int32_t pa[] = {1, 478, 133, 17}, pb[] = {1, 245, 471};
    ASSERT_OK(llm_decode(a, pa, 4, false, &eb), &eb);
    ASSERT_OK(llm_decode(b, pb, 3, false, &eb), &eb);
    /* b gets two rows (a prompt chunk), a one. */
    llm_batch_item items[] = {{a, 79, true}, {b, 488, false}, {b, 59, true}};
    ASSERT_OK(llm_decode_batch(items, 3, &eb), &eb);
    ASSERT_EQ_INT(llm_session_n_past(a), 5);
    ASSERT_EQ_INT(llm_session_n_past(b), 5);
    int V = llm_model_hparams(m)->n_vocab;
    int32_t ra[] = {1, 478, 133, 17, 79}, rb[] = {1, 245, 471, 488, 59};
    ASSERT_OK(llm_decode(ref, ra, 5, false, &eb), &eb);
    const float *la = llm_logits(a, -1), *lr = llm_logits(ref, -1);
    for (int v = 0; v < V; v++) ASSERT_NEAR(la[v], lr[v], 1e-4);
    llm_session_truncate(ref, 0);
    ASSERT_OK(llm_decode(ref, rb, 5, false, &eb), &eb);
    const float *lb = llm_logits(b, -1);
    lr = llm_logits(ref, -1);
    for (int v = 0; v < V; v++) ASSERT_NEAR(lb[v], lr[v], 1e-4);
    /* Logits requested for a non-last item of a session are refused, and nothing moves. */
    llm_batch_item bad[] = {{a, 5, true}, {a, 6, false}};
    ASSERT_EQ_INT(llm_decode_batch(bad, 2, &eb), BASE_EINVAL);
    ASSERT_EQ_INT(llm_session_n_past(a), 5);
    llm_session_free(a);
    llm_session_free(b);
    llm_session_free(ref);
    llm_model_free(m);
}
