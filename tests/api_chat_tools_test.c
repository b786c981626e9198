/* Chat requests with tools and reasoning: the request side (validation, tools reaching the
 * template) and the output side (text inside an open reasoning block goes to
 * reasoning_content). Tool-call parsing itself is tested in src/chat/. */
#include <stdio.h>
#include <stdlib.h>

#include "api_util.h"

/* A model config over stories260K with a template of our own. */
static void write_config(const char *name, const char *tpl) {
    char stories[4096], path[4200];
    if (!realpath(test_shared_file("testdata/llm/stories260K.gguf"), stories))
        test_fail(__FILE__, __LINE__, "cannot resolve stories260K.gguf");
    snprintf(path, sizeof path, "%s/%s.yaml", test_tmpdir(), name);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fprintf(f, "name: %s\nparameters:\n  model: %s\n  temperature: 0\ntemplate: |\n  %s\n", name, stories, tpl);
    fclose(f);
}

#define TOOLS "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather of a city\"," \
              "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}]"

TEST(api_chat_reasoning_goes_to_reasoning_content) {
    /* The template opens <think> after the prompt, as DeepSeek-R1-style templates do. */
    write_config("thinker", "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}<think>");
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"thinker\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],\"max_tokens\":12}",
             NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    const char *rs = api_jstr(r.json, "choices.0.message.reasoning_content");
    ASSERT_NOT_NULL(rs);
    char *reasoning = strdup(rs);
    ASSERT_TRUE(strlen(reasoning) > 10);
    json_t *content = api_jget(r.json, "choices.0.message.content");
    ASSERT_TRUE(content == NULL || json_is_null(content) || !strcmp(json_string_value(content), ""));
    api_resp_free(&r);
    /* Streamed, the same text arrives as reasoning_content deltas. */
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"thinker\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],\"max_tokens\":12}",
             NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    json_t *evs = api_sse_events(r.body.data);
    buf streamed = {0};
    size_t i;
    json_t *ev;
    json_array_foreach(evs, i, ev) {
        const char *d = api_jstr(ev, "choices.0.delta.reasoning_content");
        if (d) buf_append_str(&streamed, d);
        ASSERT_NULL(api_jstr(ev, "choices.0.delta.content") && *api_jstr(ev, "choices.0.delta.content") ? "content" : NULL);
    }
    ASSERT_EQ_STR(streamed.data, reasoning);
    free(reasoning);
    buf_free(&streamed);
    json_decref(evs);
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(api_chat_tools_reach_the_template) {
    write_config("tooly", "{% if tools %}Tools: {{ tools | tojson }}\\n{% endif %}{% for m in messages %}{{ m.content }}{% endfor %}");
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    long with_tools, without;
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"tooly\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":1,\"tools\":" TOOLS "}",
             NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    with_tools = api_jint(r.json, "usage.prompt_tokens");
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"tooly\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":1}", NULL, &r);
    without = api_jint(r.json, "usage.prompt_tokens");
    api_resp_free(&r);
    ASSERT_CMP_INT(with_tools, >, without + 20);
    /* tool_choice "none": the model is not told about the tools. */
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"tooly\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":1,\"tool_choice\":\"none\",\"tools\":" TOOLS "}",
             NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(api_jint(r.json, "usage.prompt_tokens"), without);
    ASSERT_EQ_STR(api_jstr(r.json, "choices.0.finish_reason"), "length");
    api_resp_free(&r);
    /* History with an assistant tool call and a tool result is accepted. */
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"tooly\",\"max_tokens\":1,\"tools\":" TOOLS ",\"messages\":["
             "{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
             "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
             "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
             "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}]}",
             NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(api_chat_tools_validation) {
    api_server s;
    api_server_start(&s, NULL);
    const char *bad[][2] = {
        {"\"tools\":{}", "'tools' must be an array"},
        {"\"tools\":[{\"type\":\"retrieval\"}]", "tools[0] must be an object with type 'function'"},
        {"\"tools\":[{\"type\":\"function\",\"function\":{}}]", "tools[0].function must be an object with a string 'name'"},
        {"\"tools\":" TOOLS ",\"tool_choice\":\"sometimes\"", "'tool_choice' must be"},
        {"\"tools\":" TOOLS ",\"tool_choice\":{\"type\":\"function\"}", "'tool_choice' must be"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[2048];
        snprintf(body, sizeof body, "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],%s}", bad[i][0]);
        api_resp r;
        api_http(&s, "POST", "/v1/chat/completions", body, NULL, &r);
        ASSERT_EQ_INT(r.status, 400);
        ASSERT_CONTAINS(api_jstr(r.json, "error.message"), bad[i][1]);
        api_resp_free(&r);
    }
    api_server_stop(&s);
}

#define TWO_TOOLS "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"," \
                  "\"properties\":{\"city\":{\"type\":\"string\",\"maxLength\":20}},\"required\":[\"city\"]}}}," \
                  "{\"type\":\"function\",\"function\":{\"name\":\"add\",\"parameters\":{\"type\":\"object\"," \
                  "\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"integer\"}},\"required\":[\"a\",\"b\"]}}}]"

/* Even a model that knows nothing of tools returns a valid call when one is required. */
TEST(api_chat_tool_choice_required_gives_a_valid_call) {
    api_server s;
    api_server_start(&s, NULL);
    for (int seed = 1; seed <= 8; seed++) {
        char body[4096];
        const char *choice = seed % 2 ? "\"required\"" : "{\"type\":\"function\",\"function\":{\"name\":\"add\"}}";
        snprintf(body, sizeof body,
                 "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Help\"}],\"temperature\":1.0,"
                 "\"seed\":%d,\"max_tokens\":100,\"tools\":" TWO_TOOLS ",\"tool_choice\":%s}", seed, choice);
        api_resp r;
        api_http(&s, "POST", "/v1/chat/completions", body, NULL, &r);
        ASSERT_EQ_INT(r.status, 200);
        ASSERT_EQ_STR(api_jstr(r.json, "choices.0.finish_reason"), "tool_calls");
        ASSERT_EQ_STR(api_jstr(r.json, "choices.0.message.tool_calls.0.type"), "function");
        const char *name = api_jstr(r.json, "choices.0.message.tool_calls.0.function.name");
        ASSERT_NOT_NULL(name);
        if (seed % 2 == 0) ASSERT_EQ_STR(name, "add");
        json_t *args = json_loads(api_jstr(r.json, "choices.0.message.tool_calls.0.function.arguments"), 0, NULL);
        ASSERT_TRUE(json_is_object(args));
        if (!strcmp(name, "add")) {
            ASSERT_TRUE(json_is_integer(json_object_get(args, "a")) && json_is_integer(json_object_get(args, "b")));
        } else {
            ASSERT_EQ_STR(name, "get_weather");
            ASSERT_TRUE(json_is_string(json_object_get(args, "city")));
        }
        json_decref(args);
        api_resp_free(&r);
    }
    /* A named function that is not among the tools. */
    api_resp r;
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"tools\":" TWO_TOOLS ","
             "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}}", NULL, &r);
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_CONTAINS(api_jstr(r.json, "error.message"), "not among the tools");
    api_resp_free(&r);
    api_server_stop(&s);
}

/* reasoning_format "none" keeps thinking text in content; chat_template_kwargs reach the
 * template. */
TEST(api_chat_reasoning_format_and_template_kwargs) {
    write_config("thinker2", "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}{% if think %}<think>{% endif %}");
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"thinker2\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],\"max_tokens\":8,"
             "\"chat_template_kwargs\":{\"think\":true}}", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_NOT_NULL(api_jstr(r.json, "choices.0.message.reasoning_content"));
    long with_think = api_jint(r.json, "usage.prompt_tokens");
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"thinker2\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],\"max_tokens\":8,"
             "\"chat_template_kwargs\":{\"think\":true},\"reasoning_format\":\"none\"}", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_NULL(api_jstr(r.json, "choices.0.message.reasoning_content"));
    ASSERT_TRUE(strlen(api_jstr(r.json, "choices.0.message.content")) > 5);
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"thinker2\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],\"max_tokens\":8}", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_CMP_INT(api_jint(r.json, "usage.prompt_tokens"), <, with_think); /* no <think> opened */
    ASSERT_NULL(api_jstr(r.json, "choices.0.message.reasoning_content"));
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"thinker2\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"reasoning_format\":\"loud\"}", NULL, &r);
    ASSERT_EQ_INT(r.status, 400);
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"thinker2\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"chat_template_kwargs\":[1]}", NULL, &r);
    ASSERT_EQ_INT(r.status, 400);
    api_resp_free(&r);
    api_server_stop(&s);
}
