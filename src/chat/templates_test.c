/*
 * Built-in templates against the real ones: each renders the same conversations byte for
 * byte like its family's published template (rendered by our own Jinja interpreter), and
 * family / tool-format detection names the real templates in shared/testdata/templates.
 */
#include <stdio.h>
#include <string.h>

#include "chat/chat.h"
#include "test.h"

enum { CONV_SYSTEM, CONV_NOSYSTEM, CONV_SPACES, CONV_NOGEN };

static json_t *conversation(int kind) {
    const char *sys =
        kind == CONV_SPACES ? "  Be brief.\nReally. " : "You are a helpful assistant.";
    const char *u1 = kind == CONV_SPACES ? " Hello!\n" : "Hello!";
    const char *a1 =
        kind == CONV_SPACES ? "\nHi! How can I help you today?  " : "Hi! How can I help you today?";
    json_t *m = json_array();
    if (kind != CONV_NOSYSTEM)
        json_array_append_new(m, json_pack("{s:s, s:s}", "role", "system", "content", sys));
    json_array_append_new(m, json_pack("{s:s, s:s}", "role", "user", "content", u1));
    json_array_append_new(m, json_pack("{s:s, s:s}", "role", "assistant", "content", a1));
    json_array_append_new(m, json_pack("{s:s, s:s}", "role", "user", "content", "What is 2+2?"));
    return m;
}

static void render_src(const char *src, size_t len, int kind, buf *out) {
    tmpl *t = NULL;
    err_buf eb = {0};
    ASSERT_OK(tmpl_compile(src, len, &t, &eb), &eb);
    json_t *m = conversation(kind);
    ASSERT_OK(tmpl_render_chat(t, m, NULL, kind != CONV_NOGEN, "<s>", "</s>", NULL, out, &eb), &eb);
    json_decref(m);
    tmpl_free(t);
}

static char *read_template(const char *file) {
    char rel[256];
    snprintf(rel, sizeof rel, "testdata/templates/%s", file);
    const char *path = test_shared_file(rel);
    char *src = NULL;
    size_t len = 0;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(path, &src, &len, &eb), &eb);
    return src;
}

/* The built-in `name` renders conversation `kind` exactly like the real template `file`. */
static void same_as(const char *name, const char *file, int kind) {
    char *real = read_template(file);
    const char *mine = chat_template_builtin(name);
    ASSERT_NOT_NULL(mine);
    buf want = {0}, got = {0};
    render_src(real, strlen(real), kind, &want);
    render_src(mine, strlen(mine), kind, &got);
    if (strcmp(want.data, got.data) != 0)
        test_fail(__FILE__, __LINE__, "%s vs %s (conversation %d)\n  want: \"%s\"\n  got:  \"%s\"",
                  name, file, kind, want.data, got.data);
    buf_free(&want);
    buf_free(&got);
    mem_free(real);
}

TEST(chat_builtin_chatml) {
    for (int k = 0; k <= CONV_NOGEN; k++)
        same_as("chatml", "teknium-OpenHermes-2.5-Mistral-7B.jinja", k);
}
TEST(chat_builtin_llama2) {
    for (int k = 0; k <= CONV_NOGEN; k++)
        same_as("llama2", "meta-llama-Llama-2-7b-chat-hf.jinja", k);
}
TEST(chat_builtin_llama3) {
    for (int k = 0; k <= CONV_NOGEN; k++)
        same_as("llama3", "meta-llama-Meta-Llama-3-8B-Instruct.jinja", k);
}
TEST(chat_builtin_mistral) {
    for (int k = 0; k <= CONV_NOGEN; k++)
        same_as("mistral", "mistralai-mistral-common-v1.jinja", k);
    same_as("mistral", "mistralai-Mixtral-8x7B-Instruct-v0.1.jinja", CONV_NOSYSTEM);
}
TEST(chat_builtin_mistral_v3) {
    for (int k = 0; k <= CONV_NOGEN; k++) {
        same_as("mistral-v3", "mistralai-mistral-common-v3.jinja", k);
        same_as("mistral-v3", "mistralai-Mistral-Nemo-Instruct-2407.jinja", k);
    }
}
TEST(chat_builtin_mistral_v7) {
    for (int k = 0; k <= CONV_NOGEN; k++)
        same_as("mistral-v7", "mistralai-mistral-common-v7.jinja", k);
}
TEST(chat_builtin_gemma) {
    for (int k = 0; k <= CONV_NOGEN; k++) same_as("gemma", "google-gemma-3-it.jinja", k);
    same_as("gemma", "google-gemma-2-2b-it.jinja", CONV_NOSYSTEM);
}
TEST(chat_builtin_phi3) {
    for (int k = 0; k <= CONV_NOGEN; k++)
        same_as("phi3", "microsoft-Phi-3.5-mini-instruct.jinja", k);
}
TEST(chat_builtin_zephyr) {
    for (int k = 0; k <= CONV_NOGEN; k++)
        same_as("zephyr", "HuggingFaceH4-zephyr-7b-beta.jinja", k);
}
TEST(chat_builtin_deepseek) {
    for (int k = 0; k <= CONV_NOGEN; k++)
        same_as("deepseek", "deepseek-ai-deepseek-llm-7b-chat.jinja", k);
}
TEST(chat_builtin_command_r) {
    for (int k = 0; k <= CONV_NOGEN; k++)
        same_as("command-r", "CohereForAI-c4ai-command-r-plus.jinja", k);
}

/* No Jinja original in the corpus: FastChat's vicuna_v1.1 layout, written out. */
TEST(chat_builtin_vicuna) {
    buf got = {0};
    const char *src = chat_template_builtin("vicuna");
    render_src(src, strlen(src), CONV_SYSTEM, &got);
    ASSERT_EQ_STR(got.data,
                  "You are a helpful assistant. USER: Hello! ASSISTANT: Hi! How can I help "
                  "you today?</s>USER: What is 2+2? ASSISTANT:");
    buf_free(&got);
}

/* Every built-in survives a tool-call turn (content null) and a tool message. */
TEST(chat_builtin_tool_turns) {
    json_error_t jerr;
    json_t *m = json_loads(
        "[{\"role\":\"user\",\"content\":\"Weather?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"w\",\"arguments\":\"{}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"},"
        "{\"role\":\"user\",\"content\":\"Thanks\"}]",
        0, &jerr);
    ASSERT_NOT_NULL(m);
    for (const char *const *n = chat_template_names(); *n; n++) {
        tmpl *t = NULL;
        err_buf eb = {0};
        ASSERT_OK(chat_template_compile(*n, &t, &eb), &eb);
        buf out = {0};
        ASSERT_OK(tmpl_render_chat(t, m, NULL, true, "<s>", "</s>", NULL, &out, &eb), &eb);
        ASSERT_CONTAINS(out.data, "Thanks");
        buf_free(&out);
        tmpl_free(t);
    }
    json_decref(m);
}

TEST(chat_builtin_names) {
    ASSERT_NOT_NULL(chat_template_builtin("Llama-3"));
    ASSERT_NOT_NULL(chat_template_builtin("command_r"));
    ASSERT_NOT_NULL(chat_template_builtin("MISTRAL_V7"));
    ASSERT_NULL(chat_template_builtin("nope"));
    ASSERT_NULL(chat_template_builtin(NULL));
    tmpl *t = (tmpl *)1;
    err_buf eb = {0};
    ASSERT_EQ_INT(chat_template_compile("nope", &t, &eb), BASE_ENOTFOUND);
    ASSERT_NULL(t);
    ASSERT_CONTAINS(eb.msg, "nope");
    /* Each built-in is recognised as its own family. */
    for (const char *const *n = chat_template_names(); *n; n++)
        ASSERT_EQ_STR(chat_detect_family(chat_template_builtin(*n)), *n);
}

static const struct {
    const char *file;
    const char *family;
} families[] = {
    {"Qwen-Qwen2.5-7B-Instruct.jinja", "chatml"},
    {"Qwen-Qwen3-0.6B.jinja", "chatml"},
    {"teknium-OpenHermes-2.5-Mistral-7B.jinja", "chatml"},
    {"ollama-05-chatml.jinja", "chatml"},
    {"meta-llama-Llama-3.1-8B-Instruct.jinja", "llama3"},
    {"meta-llama-Llama-3.2-3B-Instruct.jinja", "llama3"},
    {"meta-llama-Meta-Llama-3-8B-Instruct.jinja", "llama3"},
    {"meta-llama-Llama-2-7b-chat-hf.jinja", "llama2"},
    {"ollama-12-llama2-chat-trim.jinja", "llama2"},
    {"mistralai-Mistral-7B-Instruct-v0.3.jinja", "mistral"},
    {"mistralai-Mixtral-8x7B-Instruct-v0.1.jinja", "mistral"},
    {"mistralai-mistral-common-v1.jinja", "mistral"},
    {"mistralai-mistral-common-v3.jinja", "mistral-v3"},
    {"mistralai-Mistral-Nemo-Instruct-2407.jinja", "mistral-v3"},
    {"mistralai-mistral-common-v7.jinja", "mistral-v7"},
    {"mistralai-Mistral-Small-3.2-24B-Instruct-2506.jinja", "mistral-v7"},
    {"google-gemma-7b-it.jinja", "gemma"},
    {"google-gemma-3-it.jinja", "gemma"},
    {"microsoft-Phi-3-mini.jinja", "phi3"},
    {"microsoft-Phi-3.5-mini-instruct.jinja", "phi3"},
    {"HuggingFaceH4-zephyr-7b-beta.jinja", "zephyr"},
    {"deepseek-ai-deepseek-llm-7b-chat.jinja", "deepseek"},
    {"CohereForAI-c4ai-command-r-plus.jinja", "command-r"},
    {"CohereLabs-c4ai-command-a-03-2025.jinja", "command-r"},
};

TEST(chat_detect_family_real) {
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char *src = read_template(families[i].file);
        const char *got = chat_detect_family(src);
        if (!got || strcmp(got, families[i].family))
            test_fail(__FILE__, __LINE__, "%s: got %s, want %s", families[i].file,
                      got ? got : "(null)", families[i].family);
        mem_free(src);
    }
    ASSERT_NULL(chat_detect_family("{{ messages }}"));
    ASSERT_NULL(chat_detect_family(NULL));
}

static const struct {
    const char *file;
    chat_tool_format fmt;
} formats[] = {
    {"Qwen-Qwen2.5-7B-Instruct.jinja", CHAT_TOOLS_HERMES},
    {"Qwen-Qwen3-0.6B.jinja", CHAT_TOOLS_HERMES},
    {"Qwen-QwQ-32B.jinja", CHAT_TOOLS_HERMES},
    {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", CHAT_TOOLS_HERMES},
    {"vllm-hermes.jinja", CHAT_TOOLS_HERMES},
    {"meta-llama-Llama-3.1-8B-Instruct.jinja", CHAT_TOOLS_LLAMA3},
    {"meta-llama-Llama-3.2-3B-Instruct.jinja", CHAT_TOOLS_LLAMA3},
    {"meta-llama-Llama-3.2-11B-Vision-Instruct.jinja", CHAT_TOOLS_LLAMA3},
    {"mistralai-Mistral-7B-Instruct-v0.3.jinja", CHAT_TOOLS_MISTRAL},
    {"mistralai-Mistral-Nemo-Instruct-2407.jinja", CHAT_TOOLS_MISTRAL},
    {"mistralai-Mistral-Small-3.2-24B-Instruct-2506.jinja", CHAT_TOOLS_MISTRAL},
    {"mistralai-mistral-common-v13.jinja", CHAT_TOOLS_MISTRAL},
    {"microsoft-Phi-3.5-mini-instruct.jinja", CHAT_TOOLS_JSON},
    {"openai-gpt-oss-120b.jinja", CHAT_TOOLS_HARMONY},
    {"Qwen-Qwen3.5-4B.jinja", CHAT_TOOLS_HERMES},
    {"Qwen-Qwen3-Coder.jinja", CHAT_TOOLS_HERMES},
    {"zai-org-GLM-4.6.jinja", CHAT_TOOLS_HERMES},
    {"deepseek-ai-DeepSeek-R1.jinja", CHAT_TOOLS_DEEPSEEK},
    {"deepseek-ai-DeepSeek-V3.1.jinja", CHAT_TOOLS_DEEPSEEK},
    {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", CHAT_TOOLS_DEEPSEEK},
    {"CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja", CHAT_TOOLS_COMMAND_R},
    {"CohereLabs-c4ai-command-a-03-2025.jinja", CHAT_TOOLS_COMMAND_R},
};

TEST(chat_tool_format_detect_real) {
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        char *src = read_template(formats[i].file);
        chat_tool_format got = chat_tool_format_detect(src);
        if (got != formats[i].fmt)
            test_fail(__FILE__, __LINE__, "%s: got %s, want %s", formats[i].file,
                      chat_tool_format_name(got), chat_tool_format_name(formats[i].fmt));
        mem_free(src);
    }
    ASSERT_EQ_INT(chat_tool_format_detect(NULL), CHAT_TOOLS_JSON);
    chat_tool_format f;
    ASSERT_OK(chat_tool_format_parse("Mistral", &f), NULL);
    ASSERT_EQ_INT(f, CHAT_TOOLS_MISTRAL);
    ASSERT_EQ_INT(chat_tool_format_parse("xml", &f), BASE_EINVAL);
}

/* Templates that open <think> in the generation prompt make the output start in reasoning. */
TEST(chat_prompt_opens_reasoning_real) {
    char *src = read_template("deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja");
    tmpl *t = NULL;
    err_buf eb = {0};
    ASSERT_OK(tmpl_compile(src, strlen(src), &t, &eb), &eb);
    json_t *m = conversation(CONV_NOSYSTEM);
    buf out = {0};
    ASSERT_OK(tmpl_render_chat(t, m, NULL, true, "<s>", "</s>", NULL, &out, &eb), &eb);
    ASSERT_TRUE(chat_prompt_opens_reasoning(out.data, out.len));
    buf_free(&out);
    tmpl_free(t);
    json_decref(m);
    mem_free(src);
    ASSERT_FALSE(chat_prompt_opens_reasoning("<|im_start|>assistant\n", 22));
    ASSERT_TRUE(chat_prompt_opens_reasoning("<|im_start|>assistant\n<think>\n", 30));
    ASSERT_FALSE(chat_prompt_opens_reasoning("<think>\n</think>\n\n", 18));
    ASSERT_FALSE(chat_prompt_opens_reasoning(NULL, 0));
}

TEST(chat_parser_params_for_request) {
    char *qwen = read_template("Qwen-Qwen3-0.6B.jinja");
    json_error_t jerr;
    json_t *tools = json_loads("[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]", 0, &jerr);
    json_t *none = json_array();
    const char *prompt = "<|im_start|>assistant\n<think>\n";
    chat_parser_params pp = chat_parser_params_for(qwen, prompt, strlen(prompt), tools, true);
    ASSERT_EQ_INT(pp.tool_format, CHAT_TOOLS_HERMES);
    ASSERT_TRUE(pp.reasoning);
    ASSERT_TRUE(pp.starts_in_reasoning);
    ASSERT_TRUE(pp.tools == tools);
    pp = chat_parser_params_for(qwen, prompt, strlen(prompt), none, false);
    ASSERT_EQ_INT(pp.tool_format, CHAT_TOOLS_NONE);
    ASSERT_FALSE(pp.reasoning);
    ASSERT_FALSE(pp.starts_in_reasoning);
    ASSERT_NULL(pp.tools);
    char *oss = read_template("openai-gpt-oss-120b.jinja");
    pp = chat_parser_params_for(oss, NULL, 0, NULL, true);
    ASSERT_EQ_INT(pp.tool_format, CHAT_TOOLS_HARMONY);
    pp = chat_parser_params_for(NULL, NULL, 0, tools, true);
    ASSERT_EQ_INT(pp.tool_format, CHAT_TOOLS_JSON);
    json_decref(tools);
    json_decref(none);
    mem_free(qwen);
    mem_free(oss);
}

/* A vocabulary as a NULL-terminated list of token texts. */
static bool list_has(void *ud, const char *text) {
    for (const char *const *p = ud; *p; p++)
        if (!strcmp(*p, text)) return true;
    return false;
}

TEST(chat_detect_family_vocab) {
    static const struct {
        const char *arch;
        const char *vocab[4];
        const char *want, *why;
    } cases[] = {
        {"llama", {"<|start_header_id|>", "<|eot_id|>", NULL}, "llama3", "vocabulary special tokens"},
        {"qwen2", {"<|im_start|>", "<|im_end|>", NULL}, "chatml", "vocabulary special tokens"},
        {"llama", {"<|im_start|>", NULL}, "chatml", "vocabulary special tokens"},
        {"gemma2", {"<start_of_turn>", NULL}, "gemma", "vocabulary special tokens"},
        {"llama", {"[INST]", "[/INST]", NULL}, "mistral-v3", "vocabulary special tokens"},
        {"llama", {"[SYSTEM_PROMPT]", "[INST]", NULL}, "mistral-v7", "vocabulary special tokens"},
        {"phi3", {"<|user|>", "<|end|>", NULL}, "phi3", "vocabulary special tokens"},
        {"llama", {"<|user|>", "</s>", NULL}, "zephyr", "vocabulary special tokens"},
        {"command-r", {"<|START_OF_TURN_TOKEN|>", NULL}, "command-r", "vocabulary special tokens"},
        {"gemma3", {"<s>", NULL}, "gemma", "general.architecture"},
        {"phi3", {NULL}, "phi3", "general.architecture"},
        {"qwen3", {NULL}, "chatml", "general.architecture"},
        {"cohere2", {NULL}, "command-r", "general.architecture"},
        {"llama", {"<s>", "</s>", NULL}, NULL, NULL},
        {NULL, {NULL}, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = "unset";
        const char *got = chat_detect_family_vocab(cases[i].arch, list_has, (void *)cases[i].vocab, &why);
        if (!cases[i].want) {
            ASSERT_NULL(got);
            ASSERT_NULL(why);
            continue;
        }
        ASSERT_EQ_STR(got, cases[i].want);
        ASSERT_EQ_STR(why, cases[i].why);
        ASSERT_NOT_NULL(chat_template_builtin(got)); /* every answer is a built-in */
    }
}
