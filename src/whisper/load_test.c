/*
 * The loader against hostile input: every truncation point class, garbage, bad header values,
 * renamed, duplicated and reshaped tensors, failed allocations. Each must give a clean error,
 * never a crash or a leak (make asan).
 */
#include <stdio.h>

#include "wh_testutil.h"
#include "whisper/whisper_int.h"

#define S64 "golden/whisper/whisper-s64-f16.bin"
#define HEADER_END 575451 /* header, filters and vocabulary of the s64 model */

static char *read_model(size_t *len) {
    char *p = wt_path(S64), *data;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(p, &data, len, &eb), &eb);
    free(p);
    return data;
}

static void expect_fail(const char *data, size_t len, const char *what) {
    whisper_model *m = (whisper_model *)1;
    err_buf eb = {0};
    int rc = wh_model_load_mem(&m, data, len, &eb);
    if (rc == 0) test_fail(__FILE__, __LINE__, "%s: loaded", what);
    ASSERT_NULL(m);
    ASSERT_TRUE(eb.msg[0] != 0);
}

TEST(whisper_load_ok) {
    char *p = wt_path(S64);
    ASSERT_TRUE(whisper_file_is_ggml(p));
    whisper_model *m;
    err_buf eb = {0};
    ASSERT_OK(whisper_model_load(&m, p, &eb), &eb);
    const whisper_hparams *h = whisper_model_hparams(m);
    ASSERT_EQ_INT(h->n_text_layer, 3);
    ASSERT_EQ_INT(whisper_model_tokens(m)->beg, 50364);
    ASSERT_EQ_INT(whisper_model_tokens(m)->n_lang, 99);
    str_slice s = whisper_token_text(m, 2518);
    ASSERT_TRUE(s.len > 0);
    ASSERT_EQ_INT(whisper_token_text(m, 50257).len, 0);
    whisper_model_free(m);
    free(p);
}

TEST(whisper_load_truncated) {
    size_t len;
    char *d = read_model(&len);
    /* every byte of the first 200, then points through the vocabulary and the tensors */
    for (size_t cut = 0; cut < 200; cut++) expect_fail(d, cut, "header cut");
    for (size_t cut = 200; cut < len; cut += cut < HEADER_END + 4096 ? 997 : 65537)
        expect_fail(d, cut, "cut");
    expect_fail(d, len - 1, "last byte cut");
    mem_free(d);
}

TEST(whisper_load_garbage) {
    size_t len;
    char *d = read_model(&len);
    uint64_t rng = 42;
    /* random bytes after a valid header and filters */
    for (int round = 0; round < 20; round++) {
        size_t at = 48 + (size_t)(test_rand_u32(&rng) % (HEADER_END + 20000 - 48));
        char *c = mem_alloc(len);
        memcpy(c, d, len);
        for (size_t i = at; i < at + 64 && i < len; i++) c[i] = (char)test_rand_u32(&rng);
        whisper_model *m = NULL;
        err_buf eb = {0};
        if (wh_model_load_mem(&m, c, len, &eb) == 0)
            whisper_model_free(m); /* vocab bytes may still parse */
        mem_free(c);
    }
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)test_rand_u32(&rng);
    expect_fail(junk, sizeof junk, "junk");
    mem_free(d);
}

static void patch_i32(char *d, size_t off, int32_t v) { memcpy(d + off, &v, 4); }

TEST(whisper_load_bad_values) {
    size_t len;
    char *d = read_model(&len);
    char *c = mem_alloc(len);
    static const struct {
        size_t off;
        int32_t v;
        const char *what;
    } cases[] = {
        {0, 0x12345678, "magic"},
        {4, -1, "n_vocab"},
        {4, 1000, "n_vocab small"},
        {8, 1499, "n_audio_ctx"},
        {12, 0, "n_audio_state"},
        {16, 3, "heads do not divide"},
        {20, 1 << 30, "layers huge"},
        {24, 3, "n_text_ctx tiny"},
        {40, 81, "n_mels"},
        {48, 80000, "filter rows"},
        {52, -5, "n_fft"},
        {48 + 8 + 80 * 201 * 4, 60000, "n_words"},
        {48 + 8 + 80 * 201 * 4 + 4, 0x7fffffff, "word length"},
        {HEADER_END, 7, "tensor dims"},
        {HEADER_END + 4, -3, "name length"},
        {HEADER_END + 8, 99, "tensor type"},
        {HEADER_END + 12, 65, "tensor shape"},
        {HEADER_END + 12, -1, "negative shape"},
        {HEADER_END + 8, 8, "Q8_0 with 64-wide rows ok, but size differs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(c, d, len);
        patch_i32(c, cases[i].off, cases[i].v);
        expect_fail(c, len, cases[i].what);
    }
    /* a renamed tensor, then a duplicate (rename the second to the first's name) */
    memcpy(c, d, len);
    c[HEADER_END + 12 + 8 + 2] ^= 0x20;
    expect_fail(c, len, "renamed");
    mem_free(c);
    mem_free(d);
}

TEST(whisper_load_header_only_files) {
    /* whisper.cpp's vocabulary-only test models: no tensors, so a clean "missing" error */
    const char *files[] = {"testdata/whisper/for-tests-ggml-tiny.bin",
                           "testdata/whisper/for-tests-ggml-tiny.en.bin"};
    for (int i = 0; i < 2; i++) {
        char *p = wt_path(files[i]);
        ASSERT_TRUE(whisper_file_is_ggml(p));
        whisper_model *m;
        err_buf eb = {0};
        ASSERT_EQ_INT(whisper_model_load(&m, p, &eb), BASE_EFORMAT);
        ASSERT_CONTAINS(eb.msg, "missing");
        free(p);
    }
    char *p = wt_path("testdata/whisper/for-tests-silero-v6.2.0-ggml.bin");
    ASSERT_FALSE(whisper_file_is_ggml(p));
    free(p);
    p = wt_path("testdata/whisper/jfk.wav");
    ASSERT_FALSE(whisper_file_is_ggml(p));
    free(p);
    ASSERT_FALSE(whisper_file_is_ggml("/nonexistent/model.bin"));
}

TEST(whisper_load_alloc_failures) {
    size_t len;
    char *d = read_model(&len);
    for (long n = 0;; n++) {
        whisper_model *m = NULL;
        err_buf eb = {0};
        mem_fail_after(n);
        int rc = wh_model_load_mem(&m, d, len, &eb);
        mem_fail_after(-1);
        if (rc == 0) {
            whisper_model_free(m);
            break;
        }
        ASSERT_EQ_INT(rc, BASE_ENOMEM);
        ASSERT_TRUE(n < 100);
    }
    mem_free(d);
}

TEST(whisper_vad_load_hostile) {
    char *p = wt_path("testdata/whisper/for-tests-silero-v6.2.0-ggml.bin"), *d;
    size_t len;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(p, &d, &len, &eb), &eb);
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/vad.bin", test_tmpdir());
    for (size_t cut = 0; cut < len; cut += cut < 200 ? 1 : 20011) {
        FILE *f = fopen(tmpl, "wb");
        ASSERT_NOT_NULL(f);
        fwrite(d, 1, cut, f);
        fclose(f);
        whisper_vad *v = NULL;
        err_buf e2 = {0};
        ASSERT_TRUE(whisper_vad_load(&v, tmpl, &e2) != 0);
        ASSERT_NULL(v);
    }
    mem_free(d);
    free(p);
}
