/* `local-ai chat-template`: the rendered prompt, byte for byte, and its error paths. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "test.h"

#define BIN (char *)test_bin_path()

static char *shared(const char *rel) { return strdup(test_shared_file(rel)); }

static char *slurp(const char *path) {
    char *s;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(path, &s, NULL, &eb), &eb);
    return s;
}

/* A template file rendered on the reference conversation equals Python jinja2's output. */
static void check_template(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "testdata/templates/%s.jinja", name);
    char *tpl = shared(rel);
    char *msgs = shared("testdata/templates/rendered/conversation.json");
    snprintf(rel, sizeof rel, "testdata/templates/rendered/%s.txt", name);
    char *want = slurp(test_shared_file(rel));
    char *argv[] = {BIN, "chat-template", "--template", tpl, "--messages", msgs, "--bos", "<s>",
                    "--eos", "</s>", NULL};
    char *out, *err;
    int st = test_run(argv, NULL, &out, &err);
    if (WEXITSTATUS(st) != 0) test_fail(__FILE__, __LINE__, "%s: %s", name, err);
    ASSERT_EQ_STR(out, want);
    free(out);
    free(err);
    mem_free(want);
    free(tpl);
    free(msgs);
}

TEST(cli_chat_template_files_match_jinja2) {
    check_template("Qwen-Qwen2.5-7B-Instruct");
    check_template("HuggingFaceH4-zephyr-7b-beta");
    check_template("deepseek-ai-DeepSeek-R1");
}

TEST(cli_chat_template_from_model) {
    /* The qwen2 vocabulary file carries Qwen2's template and <|im_start|> tokens. */
    char *model = shared("testdata/tokenizer/ggml-vocab-qwen2.gguf");
    char path[600];
    snprintf(path, sizeof path, "%s/m.json", test_tmpdir());
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs("[{\"role\":\"user\",\"content\":\"Hi\"}]", f);
    fclose(f);
    char *argv[] = {BIN, "chat-template", "-m", model, "--messages", path, "--no-generation-prompt", NULL};
    char *out, *err;
    int st = test_run(argv, NULL, &out, &err);
    if (WEXITSTATUS(st) != 0) test_fail(__FILE__, __LINE__, "%s", err);
    ASSERT_EQ_STR(out, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                       "<|im_start|>user\nHi<|im_end|>\n");
    free(out);
    free(err);
    free(model);
}

TEST(cli_chat_template_errors) {
    char *model = shared("golden/models/qwen2-F32.gguf");
    char *msgs = shared("testdata/templates/rendered/conversation.json");
    char *argv[] = {BIN, "chat-template", "-m", model, "--messages", msgs, NULL};
    char *err;
    int st = test_run(argv, NULL, NULL, &err);
    ASSERT_EQ_INT(WEXITSTATUS(st), 1);
    ASSERT_CONTAINS(err, "has no chat template");
    free(err);
    char *argv2[] = {BIN, "chat-template", "--messages", msgs, NULL};
    st = test_run(argv2, NULL, NULL, &err);
    ASSERT_EQ_INT(WEXITSTATUS(st), 2);
    ASSERT_CONTAINS(err, "give one of -m MODEL or --template FILE");
    free(err);
    /* A template that raises gives its message. */
    char *tpl = shared("testdata/templates/google-gemma-7b-it.jinja");
    char *argv3[] = {BIN, "chat-template", "--template", tpl, "--messages", msgs, NULL};
    st = test_run(argv3, NULL, NULL, &err);
    ASSERT_EQ_INT(WEXITSTATUS(st), 1);
    ASSERT_CONTAINS(err, "System role not supported");
    free(err);
    free(tpl);
    free(model);
    free(msgs);
}
