/*
 * llama.cpp's tokenizer test vectors (shared/testdata/tokenizer): every case of each
 * vocabulary's .inp must encode (no BOS, no special parsing) to exactly the ids in its .out.
 * Failing cases are printed with the text, the expected and the produced ids.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "tokenizer/tokenizer.h"

#define SEP "\n__ggml_vocab_test__\n"

typedef struct vcase {
    const char *text;
    size_t len;
    int32_t *ids;
    size_t n;
} vcase;

static void print_ids(const char *what, const int32_t *ids, size_t n) {
    fprintf(stderr, "    %s:", what);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
}

/* Parse the .inp/.out pair (name: the path under testdata/tokenizer/ less ".gguf.inp") into cases (pointers into the files' buffers). */
static size_t read_cases(const char *name, char **inp, char **outp, vcase *cases, size_t max) {
    char path[256];
    err_buf eb = {0}, *e = &eb; /* a pointer: ASSERT_OK(rc, &eb) trips -Waddress */
    size_t inp_len, out_len;
    snprintf(path, sizeof path, "testdata/tokenizer/%s.gguf.inp", name);
    ASSERT_OK(file_read_all(test_shared_file(path), inp, &inp_len, e), e);
    snprintf(path, sizeof path, "testdata/tokenizer/%s.gguf.out", name);
    ASSERT_OK(file_read_all(test_shared_file(path), outp, &out_len, e), e);
    size_t n = 0;
    for (char *p = *inp, *end = *inp + inp_len; p < end && n < max;) {
        char *s = memmem(p, (size_t)(end - p), SEP, strlen(SEP));
        if (!s) break;
        cases[n].text = p;
        cases[n].len = (size_t)(s - p);
        n++;
        p = s + strlen(SEP);
    }
    char *line = *outp;
    for (size_t i = 0; i < n; i++) {
        ASSERT_NOT_NULL(line);
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cases[i].ids = malloc(sizeof(int32_t) * (strlen(line) / 2 + 1));
        cases[i].n = 0;
        for (char *q = line, *qe; *q;) {
            long v = strtol(q, &qe, 10);
            if (qe == q) break;
            cases[i].ids[cases[i].n++] = (int32_t)v;
            q = qe;
        }
        line = nl ? nl + 1 : NULL;
    }
    return n;
}

static tok *load_vocab(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "testdata/tokenizer/ggml-vocab-%s.gguf", name);
    const char *p = test_shared_file(path);
    err_buf eb = {0}, *e = &eb; /* a pointer: ASSERT_OK(rc, &eb) trips -Waddress */
    gguf *g = NULL;
    ASSERT_OK(gguf_open(p, &g, e), e);
    tok *t = NULL;
    ASSERT_OK(tok_load(g, &t, e), e);
    gguf_close(g);
    return t;
}

/* Encode every case; also check decode(encode(text)) == text where the vocab is lossless. */
static void run_vectors_from(const char *name, const char *vectors, bool lossless) {
    char *inp = NULL, *outp = NULL;
    vcase cases[64];
    size_t n = read_cases(vectors, &inp, &outp, cases, 64);
    ASSERT_EQ_INT(n, 46);
    tok *t = load_vocab(name);
    size_t failed = 0, rt_failed = 0;
    for (size_t i = 0; i < n; i++) {
        err_buf eb = {0}, *e = &eb; /* a pointer: ASSERT_OK(rc, &eb) trips -Waddress */
        int32_t *ids;
        size_t n_ids;
        ASSERT_OK(tok_encode(t, cases[i].text, cases[i].len, false, false, &ids, &n_ids, e), e);
        if (n_ids != cases[i].n || memcmp(ids, cases[i].ids, n_ids * sizeof *ids) != 0) {
            failed++;
            fprintf(stderr, "  %s case %zu differs: \"%.*s\"\n", name, i, (int)cases[i].len,
                    cases[i].text);
            print_ids("expected", cases[i].ids, cases[i].n);
            print_ids("got     ", ids, n_ids);
        } else if (lossless) {
            buf b = {0};
            ASSERT_OK(tok_detokenize(t, ids, n_ids, false, &b), (err_buf *)NULL);
            if (b.len != cases[i].len || (b.len && memcmp(b.data, cases[i].text, b.len))) {
                rt_failed++;
                fprintf(stderr, "  %s case %zu round trip: \"%.*s\" -> \"%s\"\n", name, i,
                        (int)cases[i].len, cases[i].text, b.data ? b.data : "");
            }
            buf_free(&b);
        }
        mem_free(ids);
        free(cases[i].ids);
    }
    fprintf(stderr, "  %s: %zu/%zu cases pass\n", name, n - failed, n);
    tok_free(t);
    mem_free(inp);
    mem_free(outp);
    ASSERT_EQ_INT(failed, 0);
    ASSERT_EQ_INT(rt_failed, 0);
}

static void run_vectors(const char *name, bool lossless) {
    char vectors[128];
    snprintf(vectors, sizeof vectors, "ggml-vocab-%s", name);
    run_vectors_from(name, vectors, lossless);
}

TEST(tok_vectors_bert_bge) { run_vectors("bert-bge", false); }
TEST(tok_vectors_deepseek_coder) { run_vectors("deepseek-coder", true); }
TEST(tok_vectors_deepseek_llm) { run_vectors("deepseek-llm", true); }
TEST(tok_vectors_falcon) { run_vectors("falcon", true); }
TEST(tok_vectors_gpt_2) { run_vectors("gpt-2", true); }
TEST(tok_vectors_llama_bpe) { run_vectors("llama-bpe", true); }
TEST(tok_vectors_llama_spm) { run_vectors("llama-spm", true); }
TEST(tok_vectors_mpt) { run_vectors("mpt", true); }
TEST(tok_vectors_phi_3) { run_vectors("phi-3", true); }
TEST(tok_vectors_qwen2) { run_vectors("qwen2", true); }
TEST(tok_vectors_refact) { run_vectors("refact", true); }
TEST(tok_vectors_starcoder) { run_vectors("starcoder", true); }
/* DeepSeek-R1-Distill-Qwen shares Qwen2's vocabulary and merges (PROVENANCE.md). */
TEST(tok_vectors_deepseek_r1_qwen_on_qwen2) {
    run_vectors_from("qwen2", "no-vocab/ggml-vocab-deepseek-r1-qwen", true);
}
