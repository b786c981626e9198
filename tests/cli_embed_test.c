/* End-to-end tests of `local-ai embed`: the golden BERT's vectors, JSON output, errors. */
#include "test.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

static int run_embed(char *const args[], char **out, char **err) {
    char *argv[16] = {(char *)test_bin_path(), "embed"};
    int n = 2;
    for (int i = 0; args[i] && n < 15; i++) argv[n++] = args[i];
    argv[n] = NULL;
    int st = test_run(argv, NULL, out, err);
    ASSERT_TRUE(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static float *golden(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "golden/embeddings/%s.embeddings.f32", name);
    FILE *f = fopen(test_shared_file(rel), "rb");
    ASSERT_NOT_NULL(f);
    float *v = malloc(5 * 256 * sizeof *v);
    ASSERT_EQ_UINT(fread(v, sizeof *v, 5 * 256, f), 5 * 256);
    fclose(f);
    return v;
}

TEST(cli_embed_lines_and_json) {
    char *model = strdup(test_shared_file("golden/embeddings/models/bert-mean-F32.gguf"));
    float *ref = golden("bert-mean-F32");
    char *out, *err;
    ASSERT_EQ_INT(run_embed((char *[]){"-m", model, "-t", "2", "Hello, world!",
                                       "The quick brown fox jumps over the lazy dog.", NULL},
                            &out, &err), 0);
    char *p = out;
    for (int i = 0; i < 2; i++) {
        for (int d = 0; d < 256; d++) {
            char *end;
            double v = strtod(p, &end);
            ASSERT_TRUE(end != p);
            ASSERT_NEAR(v, ref[i * 256 + d], 1.6e-4);
            p = end;
        }
        ASSERT_EQ_INT(*p, '\n');
        p++;
    }
    ASSERT_EQ_INT(*p, 0);
    free(out), free(err);
    ASSERT_EQ_INT(run_embed((char *[]){"--json", "-m", model, "Hello, world!", NULL}, &out, &err), 0);
    json_t *j = json_loads(out, 0, NULL);
    ASSERT_NOT_NULL(j);
    ASSERT_EQ_INT(json_array_size(j), 1);
    ASSERT_EQ_INT(json_array_size(json_array_get(j, 0)), 256);
    ASSERT_NEAR(json_number_value(json_array_get(json_array_get(j, 0), 5)), ref[5], 1.6e-4);
    json_decref(j);
    free(out), free(err);
    /* --pooling cls differs from the model's mean. */
    ASSERT_EQ_INT(run_embed((char *[]){"--pooling", "cls", "-m", model, "Hello, world!", NULL}, &out, &err), 0);
    ASSERT_TRUE(fabs(strtod(out, NULL) - ref[0]) > 1e-3);
    free(out), free(err);
    free(ref), free(model);
}

TEST(cli_embed_errors) {
    char *model = strdup(test_shared_file("golden/embeddings/models/bert-mean-F32.gguf"));
    char *llm = strdup(test_shared_file("testdata/llm/stories260K.gguf"));
    char *out, *err;
    ASSERT_EQ_INT(run_embed((char *[]){"-m", model, NULL}, &out, &err), 2);
    ASSERT_CONTAINS(err, "no text");
    free(out), free(err);
    ASSERT_EQ_INT(run_embed((char *[]){"-m", model, "--pooling", "max", "x", NULL}, &out, &err), 2);
    ASSERT_CONTAINS(err, "mean, cls or last");
    free(out), free(err);
    /* A decoder embeds too (its pooled final hidden state): one line of 64 numbers. */
    ASSERT_EQ_INT(run_embed((char *[]){"-m", llm, "x", NULL}, &out, &err), 0);
    int nums = 0;
    double norm = 0;
    for (char *p = out, *end; ; p = end) {
        double v = strtod(p, &end);
        if (end == p) break;
        nums++, norm += v * v;
    }
    ASSERT_EQ_INT(nums, 64);
    ASSERT_NEAR(norm, 1.0, 1e-3);
    free(out), free(err);
    free(model), free(llm);
}
