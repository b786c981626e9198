/* End-to-end tests of `local-ai tokenize`: ids printed for real vocabularies, flags, errors. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* Run `local-ai tokenize ARGS...`; returns the exit code, stdout and stderr in *out / *err. */
static int run_tokenize(char *const args[], char **out, char **err) {
    char *argv[16] = {(char *)test_bin_path(), "tokenize"};
    int n = 2;
    for (int i = 0; args[i] && n < 15; i++) argv[n++] = args[i];
    argv[n] = NULL;
    int st = test_run(argv, NULL, out, err);
    ASSERT_TRUE(WIFEXITED(st));
    return WEXITSTATUS(st);
}

#define SPM "testdata/tokenizer/ggml-vocab-llama-spm.gguf"

TEST(cli_tokenize_spm_ids) {
    char *model = strdup(test_shared_file(SPM));
    char *out, *err;
    ASSERT_EQ_INT(run_tokenize((char *[]){"-m", model, "Hello world", NULL}, &out, &err), 0);
    ASSERT_EQ_STR(out, "1 15043 3186\n"); /* BOS, '▁Hello', '▁world' */
    free(out), free(err);
    ASSERT_EQ_INT(run_tokenize((char *[]){"--no-bos", "--model", model, "Hello world", NULL},
                               &out, &err), 0);
    ASSERT_EQ_STR(out, "15043 3186\n");
    free(out), free(err);
    /* Control tokens are text unless --parse-special. */
    ASSERT_EQ_INT(run_tokenize((char *[]){"-m", model, "--no-bos", "--parse-special", "</s>",
                                          NULL}, &out, &err), 0);
    ASSERT_EQ_STR(out, "2\n");
    free(out), free(err);
    ASSERT_EQ_INT(run_tokenize((char *[]){"-m", model, "--no-bos", "</s>", NULL}, &out, &err), 0);
    ASSERT_TRUE(strcmp(out, "2\n") != 0 && strlen(out) > 2);
    free(out), free(err);
    free(model);
}

TEST(cli_tokenize_file) {
    char *model = strdup(test_shared_file("testdata/tokenizer/ggml-vocab-qwen2.gguf"));
    char path[512];
    snprintf(path, sizeof path, "%s/prompt.txt", test_tmpdir());
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs("<|im_start|>user\nHi<|im_end|>", f);
    fclose(f);
    char *out, *err;
    ASSERT_EQ_INT(run_tokenize((char *[]){"-m", model, "--parse-special", "--file", path, NULL},
                               &out, &err), 0);
    ASSERT_EQ_STR(out, "151644 872 198 13048 151645\n"); /* qwen2 adds no BOS */
    free(out), free(err);
    free(model);
}

TEST(cli_tokenize_errors) {
    char *out, *err;
    ASSERT_EQ_INT(run_tokenize((char *[]){"--help", NULL}, &out, &err), 0);
    ASSERT_CONTAINS(out, "usage: local-ai tokenize");
    free(out), free(err);
    ASSERT_EQ_INT(run_tokenize((char *[]){"text", NULL}, &out, &err), 2); /* no model */
    ASSERT_CONTAINS(err, "no model");
    ASSERT_CONTAINS(err, "usage: local-ai tokenize");
    free(out), free(err);
    ASSERT_EQ_INT(run_tokenize((char *[]){"-m", "x.gguf", NULL}, &out, &err), 2); /* no text */
    free(out), free(err);
    ASSERT_EQ_INT(run_tokenize((char *[]){"-m", "x.gguf", "a", "b", NULL}, &out, &err), 2);
    ASSERT_CONTAINS(err, "unexpected argument 'b'");
    free(out), free(err);
    ASSERT_EQ_INT(run_tokenize((char *[]){"-m", "x.gguf", "--bogus", "a", NULL}, &out, &err), 2);
    ASSERT_CONTAINS(err, "unknown flag '--bogus'");
    free(out), free(err);
    ASSERT_EQ_INT(run_tokenize((char *[]){"-m", NULL}, &out, &err), 2);
    ASSERT_CONTAINS(err, "needs a value");
    free(out), free(err);
    /* Runtime failures: exit 1 with one line. */
    ASSERT_EQ_INT(run_tokenize((char *[]){"-m", "/nonexistent/model.gguf", "a", NULL}, &out,
                               &err), 1);
    ASSERT_CONTAINS(err, "local-ai tokenize:");
    ASSERT_EQ_STR(out, "");
    free(out), free(err);
    char *model = strdup(test_shared_file(SPM));
    ASSERT_EQ_INT(run_tokenize((char *[]){"-m", model, "-f", "/nonexistent/text", NULL}, &out,
                               &err), 1);
    free(out), free(err);
    free(model);
}

TEST(cli_tokenize_stdin) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "printf 'Hello world' | '%s' tokenize -m '%s' -f -", test_bin_path(),
             test_shared_file(SPM));
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    char *out, *err;
    int st = test_run(argv, NULL, &out, &err);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);
    ASSERT_EQ_STR(out, "1 15043 3186\n");
    free(out), free(err);
}
