/*
 * Reasoning configured per model in its YAML: a template that ends the prompt with the
 * model's own open marker makes stories260K's whole (greedy) reply reasoning_content;
 * `format: none` in the config keeps it in content, and a request's reasoning_format wins
 * over the config.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"

static void write_yaml(const char *name, const char *extra) {
    char stories[PATH_MAX], path[PATH_MAX + 64];
    if (!realpath(test_shared_file("testdata/llm/stories260K.gguf"), stories))
        test_fail(__FILE__, __LINE__, "cannot resolve stories260K.gguf");
    snprintf(path, sizeof path, "%s/%s.yaml", test_tmpdir(), name);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fprintf(f, "name: %s\nparameters:\n  model: %s\n  temperature: 0\n"
               "template: \"{%% for m in messages %%}{{ m['content'] }}{%% endfor %%}<reason>\"\n%s",
            name, stories, extra);
    fclose(f);
}

/* content without the leading whitespace the reasoning split trims */
static const char *content_of(json_t *m) {
    const char *c = api_jstr(m, "content");
    ASSERT_NOT_NULL(c);
    while (*c == ' ' || *c == '\n') c++;
    return c;
}

static json_t *chat(api_server *s, const char *model, const char *extra_field) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"model\":\"%s\",\"max_tokens\":12,\"messages\":[{\"role\":\"user\",\"content\":\"Once\"}]%s}",
             model, extra_field);
    api_resp r;
    api_http(s, "POST", "/v1/chat/completions", body, NULL, &r);
    if (r.status != 200) test_fail(__FILE__, __LINE__, "status %ld: %s", r.status, r.body.data);
    json_t *msg = json_deep_copy(api_jget(r.json, "choices.0.message"));
    api_resp_free(&r);
    return msg;
}

TEST(api_reasoning_from_config) {
    write_yaml("r-on", "reasoning:\n  start: \"<reason>\"\n  end: \"</reason>\"\n");
    write_yaml("r-off", "reasoning:\n  format: none\n  start: \"<reason>\"\n  end: \"</reason>\"\n");
    write_yaml("r-builtin", "");
    api_server s;
    api_server_start(&s, NULL);
    /* Custom markers: the prompt opened <reason>, so the reply is reasoning. */
    json_t *m = chat(&s, "r-on", "");
    const char *reasoning = api_jstr(m, "reasoning_content");
    ASSERT_NOT_NULL(reasoning);
    ASSERT_TRUE(strlen(reasoning) > 5);
    ASSERT_TRUE(!json_is_string(json_object_get(m, "content")) ||
                !*json_string_value(json_object_get(m, "content")));
    char *text = strdup(reasoning);
    json_decref(m);
    /* format none in the config: the same text is content. */
    m = chat(&s, "r-off", "");
    ASSERT_NULL(json_object_get(m, "reasoning_content"));
    ASSERT_EQ_STR(content_of(m), text);
    json_decref(m);
    /* The request's reasoning_format wins over the config's. */
    m = chat(&s, "r-off", ",\"reasoning_format\":\"auto\"");
    ASSERT_EQ_STR(api_jstr(m, "reasoning_content"), text);
    json_decref(m);
    m = chat(&s, "r-on", ",\"reasoning_format\":\"none\"");
    ASSERT_EQ_STR(content_of(m), text);
    json_decref(m);
    /* Without the config's markers <reason> is nothing special: all content. */
    m = chat(&s, "r-builtin", "");
    ASSERT_NULL(json_object_get(m, "reasoning_content"));
    ASSERT_EQ_STR(content_of(m), text);
    json_decref(m);
    free(text);
    api_server_stop(&s);
}
