/*
 * Built-in chat templates for models that ship none, and recognising a template's family.
 * Each source is written here so that a plain conversation renders byte for byte like the
 * family's published template (templates_test.c checks this against the real ones); unlike
 * some originals they accept a system message and null content (assistant tool-call turns)
 * instead of raising.
 */
#include <strings.h>
#include <string.h>

#include "chat_int.h"

/* clang-format off */
/* The message's text, or '' when content is null (an assistant turn with tool calls). */
#define TEXT(m) "(" m "['content'] if " m "['content'] is string else '')"

/* Gather every system message into ns.sys, joined by a blank line. */
#define JOIN_SYSTEM                                                                        \
    "{%- set ns = namespace(sys='', first=true, last_user=-1) -%}"                         \
    "{%- for m in messages -%}"                                                            \
    "{%- if m['role'] == 'system' -%}"                                                     \
    "{%- set ns.sys = ns.sys + ('\\n\\n' if ns.sys else '') + " TEXT("m") " -%}"           \
    "{%- elif m['role'] == 'user' -%}{%- set ns.last_user = loop.index0 -%}"               \
    "{%- endif -%}"                                                                        \
    "{%- endfor -%}"

static const char src_chatml[] =
    "{%- for m in messages -%}"
    "{{- '<|im_start|>' + m['role'] + '\\n' + " TEXT("m") " + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

static const char src_llama2[] =
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set sys = " TEXT("messages[0]") " -%}{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set sys = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for m in loop_messages -%}"
    "{%- set c = " TEXT("m") " -%}"
    "{%- if loop.first and sys -%}{%- set c = '<<SYS>>\\n' + sys + '\\n<</SYS>>\\n\\n' + c -%}"
    "{%- endif -%}"
    "{%- if m['role'] == 'assistant' -%}{{- ' ' + c | trim + ' ' + eos_token -}}"
    "{%- else -%}{{- bos_token + '[INST] ' + c | trim + ' [/INST]' -}}{%- endif -%}"
    "{%- endfor -%}";

static const char src_llama3[] =
    "{%- for m in messages -%}"
    "{%- if loop.first -%}{{- bos_token -}}{%- endif -%}"
    "{{- '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + " TEXT("m")
    " | trim + '<|eot_id|>' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}{%- endif -%}";

/* Mistral v1 (7B v0.1/v0.2 era): the system text opens the first user turn. */
static const char src_mistral[] =
    "{{- bos_token -}}" JOIN_SYSTEM
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'user' -%}"
    "{{- '[INST] ' + (ns.sys + '\\n\\n' if ns.first and ns.sys else '') + " TEXT("m")
    " + ' [/INST]' -}}"
    "{%- set ns.first = false -%}"
    "{%- elif m['role'] == 'assistant' -%}{{- " TEXT("m") " + eos_token -}}"
    "{%- endif -%}"
    "{%- endfor -%}";

/* Mistral v3 (Tekken, Nemo): no spaces, the system text opens the last user turn. */
static const char src_mistral_v3[] =
    "{{- bos_token -}}" JOIN_SYSTEM
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'user' -%}"
    "{{- '[INST]' + (ns.sys + '\\n\\n' if loop.index0 == ns.last_user and ns.sys else '') + "
    TEXT("m") " + '[/INST]' -}}"
    "{%- elif m['role'] == 'assistant' -%}{{- " TEXT("m") " + eos_token -}}"
    "{%- endif -%}"
    "{%- endfor -%}";

/* Mistral v7 (Small 3, Large 2411): system turns in place as [SYSTEM_PROMPT]. */
static const char src_mistral_v7[] =
    "{{- bos_token -}}"
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'system' -%}"
    "{{- '[SYSTEM_PROMPT]' + " TEXT("m") " + '[/SYSTEM_PROMPT]' -}}"
    "{%- elif m['role'] == 'user' -%}{{- '[INST]' + " TEXT("m") " + '[/INST]' -}}"
    "{%- elif m['role'] == 'assistant' -%}{{- " TEXT("m") " + eos_token -}}"
    "{%- endif -%}"
    "{%- endfor -%}";

/* Gemma (Gemma 3's way of taking a system message: it opens the first user turn). */
static const char src_gemma[] =
    "{{- bos_token -}}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set prefix = " TEXT("messages[0]") " + '\\n\\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for m in loop_messages -%}"
    "{%- set role = 'model' if m['role'] == 'assistant' else m['role'] -%}"
    "{{- '<start_of_turn>' + role + '\\n' + (prefix if loop.first else '') + " TEXT("m")
    " | trim + '<end_of_turn>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<start_of_turn>model\\n' -}}{%- endif -%}";

static const char src_phi3[] =
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'system' and m['content'] -%}"
    "{{- '<|system|>\\n' + " TEXT("m") " + '<|end|>\\n' -}}"
    "{%- elif m['role'] == 'user' -%}{{- '<|user|>\\n' + " TEXT("m") " + '<|end|>\\n' -}}"
    "{%- elif m['role'] == 'assistant' -%}"
    "{{- '<|assistant|>\\n' + " TEXT("m") " + '<|end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|assistant|>\\n' -}}"
    "{%- else -%}{{- eos_token -}}{%- endif -%}";

static const char src_zephyr[] =
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'system' -%}{{- '<|system|>\\n' + " TEXT("m") " + eos_token + '\\n' -}}"
    "{%- elif m['role'] == 'user' -%}{{- '<|user|>\\n' + " TEXT("m") " + eos_token + '\\n' -}}"
    "{%- elif m['role'] == 'assistant' -%}"
    "{{- '<|assistant|>\\n' + " TEXT("m") " + eos_token + '\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|assistant|>\\n' -}}{%- endif -%}";

/* Vicuna v1.1 (FastChat): "SYSTEM USER: q ASSISTANT: a</s>USER: ...". No published Jinja
 * template exists in our corpus; the test pins FastChat's layout. */
static const char src_vicuna[] =
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'system' -%}{{- " TEXT("m") " + ' ' -}}"
    "{%- elif m['role'] == 'user' -%}{{- 'USER: ' + " TEXT("m") " + ' ' -}}"
    "{%- elif m['role'] == 'assistant' -%}{{- 'ASSISTANT: ' + " TEXT("m") " + eos_token -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- 'ASSISTANT:' -}}{%- endif -%}";

/* DeepSeek LLM chat (v1/v2 era): "User: q\n\nAssistant: a</s>". */
static const char src_deepseek[] =
    "{{- bos_token -}}"
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'system' -%}{{- " TEXT("m") " + '\\n\\n' -}}"
    "{%- elif m['role'] == 'user' -%}{{- 'User: ' + " TEXT("m") " + '\\n\\n' -}}"
    "{%- elif m['role'] == 'assistant' -%}{{- 'Assistant: ' + " TEXT("m") " + eos_token -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- 'Assistant:' -}}{%- endif -%}";

static const char src_command_r[] =
    "{{- bos_token -}}"
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'system' -%}"
    "{{- '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + " TEXT("m") " + '<|END_OF_TURN_TOKEN|>' -}}"
    "{%- elif m['role'] == 'user' -%}"
    "{{- '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + " TEXT("m")
    " | trim + '<|END_OF_TURN_TOKEN|>' -}}"
    "{%- elif m['role'] == 'assistant' -%}"
    "{{- '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' + " TEXT("m")
    " | trim + '<|END_OF_TURN_TOKEN|>' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' -}}{%- endif -%}";

/* clang-format on */

static const struct {
    const char *name;
    const char *src;
} builtins[] = {
    {"chatml", src_chatml},         {"llama2", src_llama2},
    {"llama3", src_llama3},         {"mistral", src_mistral},
    {"mistral-v3", src_mistral_v3}, {"mistral-v7", src_mistral_v7},
    {"gemma", src_gemma},           {"phi3", src_phi3},
    {"zephyr", src_zephyr},         {"vicuna", src_vicuna},
    {"deepseek", src_deepseek},     {"command-r", src_command_r},
};

static const char *const names[] = {
    "chatml", "llama2", "llama3", "mistral",  "mistral-v3", "mistral-v7", "gemma",
    "phi3",   "zephyr", "vicuna", "deepseek", "command-r",  NULL,
};

const char *const *chat_template_names(void) { return names; }

/* Names compare ignoring case, '-' and '_' ("Llama-3", "command_r", "mistral_v7"). */
static bool name_eq(const char *a, const char *b) {
    for (;;) {
        while (*a == '-' || *a == '_') a++;
        while (*b == '-' || *b == '_') b++;
        char ca = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char cb = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (ca != cb) return false;
        if (!ca) return true;
        a++, b++;
    }
}

const char *chat_template_builtin(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (name_eq(name, builtins[i].name)) return builtins[i].src;
    return NULL;
}

int chat_template_compile(const char *name, tmpl **out, err_buf *eb) {
    if (!out) return err_set(eb, BASE_EINVAL, "chat_template_compile: out is NULL");
    *out = NULL;
    const char *src = chat_template_builtin(name);
    if (!src)
        return err_set(eb, BASE_ENOTFOUND, "no built-in chat template named '%s'",
                       name ? name : "(null)");
    return tmpl_compile(src, strlen(src), out, eb);
}

static bool has(const char *s, const char *needle) { return strstr(s, needle) != NULL; }

const char *chat_detect_family(const char *src) {
    if (!src) return NULL;
    if (has(src, "<|im_start|>")) return "chatml";
    if (has(src, "<|start_header_id|>")) return "llama3";
    if (has(src, "<start_of_turn>")) return "gemma";
    if (has(src, "<|START_OF_TURN_TOKEN|>")) return "command-r";
    if (has(src, "[SYSTEM_PROMPT]")) return "mistral-v7";
    if (has(src, "<<SYS>>")) return "llama2";
    if (has(src, "[INST]")) {
        /* v1/v2 write "[INST] " with a space; Tekken (v3) glues the text to the tag. */
        if (has(src, "[INST] ")) return "mistral";
        return "mistral-v3";
    }
    if (has(src, "<|user|>")) return has(src, "<|end|>") ? "phi3" : "zephyr";
    if (has(src, "USER: ") && has(src, "ASSISTANT:")) return "vicuna";
    if (has(src, "'User: '") && has(src, "'Assistant:")) return "deepseek";
    return NULL;
}

const char *chat_detect_family_vocab(const char *arch, bool (*has_token)(void *ud, const char *text),
                                     void *ud, const char **why) {
    /* Turn markers that are single tokens, most specific first. Mistral's v1 vocabulary
     * spells [INST] in pieces; v3 (and later) made it a control token. */
    static const struct {
        const char *token, *also, *family;
    } by_token[] = {
        {"<|im_start|>", NULL, "chatml"},
        {"<|start_header_id|>", NULL, "llama3"},
        {"<start_of_turn>", NULL, "gemma"},
        {"<|START_OF_TURN_TOKEN|>", NULL, "command-r"},
        {"[SYSTEM_PROMPT]", NULL, "mistral-v7"},
        {"[INST]", NULL, "mistral-v3"},
        {"<|user|>", "<|end|>", "phi3"},
        {"<|user|>", NULL, "zephyr"},
    };
    const char *dummy;
    if (!why) why = &dummy;
    *why = NULL;
    for (size_t i = 0; has_token && i < sizeof by_token / sizeof by_token[0]; i++) {
        if (!has_token(ud, by_token[i].token)) continue;
        if (by_token[i].also && !has_token(ud, by_token[i].also)) continue;
        *why = "vocabulary special tokens";
        return by_token[i].family;
    }
    static const struct {
        const char *prefix, *family;
    } by_arch[] = {
        {"gemma", "gemma"}, {"phi3", "phi3"},       {"qwen", "chatml"},
        {"command-r", "command-r"}, {"cohere", "command-r"},
    };
    for (size_t i = 0; arch && i < sizeof by_arch / sizeof by_arch[0]; i++)
        if (!strncmp(arch, by_arch[i].prefix, strlen(by_arch[i].prefix))) {
            *why = "general.architecture";
            return by_arch[i].family;
        }
    return NULL;
}

const char *chat_tool_format_name(chat_tool_format f) {
    switch (f) {
    case CHAT_TOOLS_NONE: return "none";
    case CHAT_TOOLS_HERMES: return "hermes";
    case CHAT_TOOLS_LLAMA3: return "llama3";
    case CHAT_TOOLS_MISTRAL: return "mistral";
    case CHAT_TOOLS_JSON: return "json";
    case CHAT_TOOLS_HARMONY: return "harmony";
    case CHAT_TOOLS_DEEPSEEK: return "deepseek";
    case CHAT_TOOLS_COMMAND_R: return "command-r";
    }
    return "none";
}

int chat_tool_format_parse(const char *name, chat_tool_format *out) {
    static const chat_tool_format all[] = {
        CHAT_TOOLS_NONE, CHAT_TOOLS_HERMES,  CHAT_TOOLS_LLAMA3,   CHAT_TOOLS_MISTRAL,
        CHAT_TOOLS_JSON, CHAT_TOOLS_HARMONY, CHAT_TOOLS_DEEPSEEK, CHAT_TOOLS_COMMAND_R};
    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++) {
        if (!strcasecmp(name, chat_tool_format_name(all[i]))) {
            *out = all[i];
            return BASE_OK;
        }
    }
    return BASE_EINVAL;
}

chat_tool_format chat_tool_format_detect(const char *src) {
    if (!src) return CHAT_TOOLS_JSON;
    if (has(src, "<|channel|>")) return CHAT_TOOLS_HARMONY;
    if (has(src, "<｜tool▁calls▁begin｜>")) return CHAT_TOOLS_DEEPSEEK;
    if (has(src, "<|START_ACTION|>")) return CHAT_TOOLS_COMMAND_R;
    if (has(src, "<tool_call>")) return CHAT_TOOLS_HERMES;
    if (has(src, "[TOOL_CALLS]")) return CHAT_TOOLS_MISTRAL;
    if (has(src, "<|python_tag|>") || has(src, "<|start_header_id|>")) return CHAT_TOOLS_LLAMA3;
    return CHAT_TOOLS_JSON;
}

chat_parser_params chat_parser_params_for(const char *template_src, const char *prompt,
                                          size_t prompt_len, const json_t *tools, bool reasoning) {
    chat_parser_params pp = chat_parser_default_params();
    chat_tool_format f = chat_tool_format_detect(template_src);
    bool has_tools = json_is_array(tools) && json_array_size(tools) > 0;
    pp.tool_format = has_tools || f == CHAT_TOOLS_HARMONY ? f : CHAT_TOOLS_NONE;
    pp.reasoning = reasoning;
    pp.starts_in_reasoning = reasoning && chat_prompt_opens_reasoning(prompt, prompt_len);
    pp.tools = has_tools ? tools : NULL;
    return pp;
}

bool chat_prompt_opens_reasoning(const char *prompt, size_t len) {
    if (!prompt) return false;
    while (len && (prompt[len - 1] == '\n' || prompt[len - 1] == ' ' || prompt[len - 1] == '\r'))
        len--;
    for (size_t i = 0; chat_reasoning_markers[i].open; i++) {
        size_t ol = strlen(chat_reasoning_markers[i].open);
        if (len >= ol && !memcmp(prompt + len - ol, chat_reasoning_markers[i].open, ol))
            return true;
    }
    return false;
}

bool chat_prompt_opens_reasoning_with(const char *prompt, size_t len, const char *open) {
    if (!prompt || !open || !*open) return false;
    while (len && (prompt[len - 1] == '\n' || prompt[len - 1] == ' ' || prompt[len - 1] == '\r'))
        len--;
    size_t ol = strlen(open);
    return len >= ol && !memcmp(prompt + len - ol, open, ol);
}
