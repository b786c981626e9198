/* End-to-end tests of the engine commands: eval, generate, bench, perplexity. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "test.h"

#define BIN (char *)test_bin_path()

TEST(cli_eval_writes_reference_logits) {
    char out[600];
    snprintf(out, sizeof out, "%s/logits.f32", test_tmpdir());
    /* test_shared_file returns a static buffer: copy each path. */
    char *model = strdup(test_shared_file("golden/models/llama-F32.gguf"));
    char *tokens = strdup(test_shared_file("golden/logits/llama-F32.tokens.txt"));
    char *argv[] = {BIN, "eval", "-m", model, "--tokens", tokens,
                    "--logits-out", out, "--kv", "f32", "-t", "2", "-b", "7", NULL};
    char *err;
    int st = test_run(argv, NULL, NULL, &err);
    if (WEXITSTATUS(st) != 0) test_fail(__FILE__, __LINE__, "eval failed: %s", err);
    free(err);
    FILE *a = fopen(out, "rb"), *b = fopen(test_shared_file("golden/logits/llama-F32.kvf32.f32"), "rb");
    ASSERT_NOT_NULL(a);
    ASSERT_NOT_NULL(b);
    float x, y;
    size_t n = 0;
    double maxd = 0;
    while (fread(&y, 4, 1, b) == 1) {
        ASSERT_EQ_INT(fread(&x, 4, 1, a), 1);
        maxd = fmax(maxd, fabs((double)x - y));
        n++;
    }
    ASSERT_EQ_INT(fread(&x, 4, 1, a), 0); /* same length */
    ASSERT_EQ_INT(n, 24 * 512);
    ASSERT_TRUE(maxd < 0.0021); /* llama-F32 max-abs bound */
    fclose(a);
    fclose(b);
    free(model);
    free(tokens);
}

TEST(cli_eval_errors) {
    char *argv[] = {BIN, "eval", "-m", "/nonexistent.gguf", "--tokens", "/x", "--logits-out", "/y", NULL};
    char *err;
    int st = test_run(argv, NULL, NULL, &err);
    ASSERT_EQ_INT(WEXITSTATUS(st), 1);
    free(err);
    char *argv2[] = {BIN, "eval", "--tokens", "/x", NULL};
    st = test_run(argv2, NULL, NULL, &err);
    ASSERT_EQ_INT(WEXITSTATUS(st), 2);
    ASSERT_CONTAINS(err, "missing -m MODEL");
    free(err);
}

TEST(cli_generate_greedy_stories) {
    char *argv[] = {BIN, "generate", "-m", (char *)test_shared_file("testdata/llm/stories260K.gguf"),
                    "-p", "Once upon a time", "-n", "24", "--temp", "0", "-t", "2", NULL};
    char *out, *err;
    int st = test_run(argv, NULL, &out, &err);
    if (WEXITSTATUS(st) != 0) test_fail(__FILE__, __LINE__, "generate failed: %s", err);
    /* stories260K's greedy continuation (the same text llama2.c's run.c produces from BOS). */
    ASSERT_CONTAINS(out, ", there was a little girl named Lily. She loved to play outside");
    ASSERT_CONTAINS(err, "generated: 24 tokens");
    free(out);
    free(err);
}

TEST(cli_generate_stop_string_and_seed) {
    const char *model = test_shared_file("testdata/llm/stories260K.gguf");
    char *argv[] = {BIN, "generate", "-m", (char *)model, "-p", "Once upon a time", "-n", "64",
                    "--temp", "0", "--stop", "girl", NULL};
    char *out, *err;
    int st = test_run(argv, NULL, &out, &err);
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);
    ASSERT_EQ_STR(out, ", there was a little \n");
    ASSERT_CONTAINS(err, "stopped by stop string");
    free(out);
    free(err);
    /* The same seed gives the same sampled text. */
    char *outs[2];
    for (int i = 0; i < 2; i++) {
        char *argv2[] = {BIN, "generate", "-m", (char *)model, "-p", "Once", "-n", "40", "--temp", "1.0",
                         "--seed", "1234", NULL};
        st = test_run(argv2, NULL, &outs[i], NULL);
        ASSERT_EQ_INT(WEXITSTATUS(st), 0);
    }
    ASSERT_EQ_STR(outs[0], outs[1]);
    ASSERT_TRUE(strlen(outs[0]) > 20);
    free(outs[0]);
    free(outs[1]);
}

TEST(cli_bench_json) {
    char *argv[] = {BIN, "bench", "-m", (char *)test_shared_file("golden/models/llama-Q4_0.gguf"),
                    "-p", "16", "-n", "4", "-r", "1", "-t", "1", "--json", NULL};
    char *out, *err;
    int st = test_run(argv, NULL, &out, &err);
    if (WEXITSTATUS(st) != 0) test_fail(__FILE__, __LINE__, "bench failed: %s", err);
    ASSERT_CONTAINS(out, "\"test\": \"pp16\"");
    ASSERT_CONTAINS(out, "\"test\": \"tg4\"");
    ASSERT_CONTAINS(out, "\"avg_ts\": ");
    free(out);
    free(err);
    char *argv2[] = {BIN, "bench", "-m", "x.gguf", "-p", "0", "-n", "0", NULL};
    st = test_run(argv2, NULL, NULL, &err);
    ASSERT_EQ_INT(WEXITSTATUS(st), 2);
    ASSERT_CONTAINS(err, "nothing to measure");
    free(err);
}

TEST(cli_perplexity_runs) {
    /* Perplexity of stories260K on a text it generates itself is low. */
    char path[600];
    snprintf(path, sizeof path, "%s/t.txt", test_tmpdir());
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    for (int i = 0; i < 6; i++)
        fputs("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
              "One day, she saw a big, red ball. She wanted to play with it, but it was too high. ", f);
    fclose(f);
    char *argv[] = {BIN, "perplexity", "-m", (char *)test_shared_file("testdata/llm/stories260K.gguf"),
                    "-f", path, "-c", "64", NULL};
    char *out, *err;
    int st = test_run(argv, NULL, &out, &err);
    if (WEXITSTATUS(st) != 0) test_fail(__FILE__, __LINE__, "perplexity failed: %s", err);
    const char *p = strstr(out, "Final estimate: PPL = ");
    ASSERT_NOT_NULL(p);
    double ppl = atof(p + strlen("Final estimate: PPL = "));
    ASSERT_TRUE(ppl > 1.0 && ppl < 3.0);
    free(out);
    free(err);
}
