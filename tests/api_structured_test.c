/* Structured output through the API: response_format json_schema / json_object and GBNF
 * grammars constrain what even a tiny story model writes. */
#include <stdio.h>
#include <stdlib.h>

#include "api_util.h"

#define SCHEMA "{\"type\":\"object\",\"properties\":{" \
               "\"name\":{\"type\":\"string\",\"maxLength\":12}," \
               "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":120}," \
               "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"red\",\"green\",\"blue\"]},\"minItems\":1,\"maxItems\":3}}," \
               "\"required\":[\"name\",\"age\",\"tags\"],\"additionalProperties\":false}"

/* JSON Schema lengths count code points, not bytes. */
static size_t code_points(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void check_instance(const char *text) {
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v) test_fail(__FILE__, __LINE__, "not JSON (%s): %s", je.text, text);
    ASSERT_TRUE(json_is_object(v));
    ASSERT_EQ_INT(json_object_size(v), 3);
    json_t *name = json_object_get(v, "name"), *age = json_object_get(v, "age"), *tags = json_object_get(v, "tags");
    if (!json_is_string(name) || code_points(json_string_value(name)) > 12) test_fail(__FILE__, __LINE__, "bad name in %s", text);
    ASSERT_TRUE(json_is_integer(age) && json_integer_value(age) >= 0 && json_integer_value(age) <= 120);
    ASSERT_TRUE(json_is_array(tags) && json_array_size(tags) >= 1 && json_array_size(tags) <= 3);
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        const char *s = json_string_value(t);
        ASSERT_TRUE(s && (!strcmp(s, "red") || !strcmp(s, "green") || !strcmp(s, "blue")));
    }
    json_decref(v);
}

TEST(api_structured_json_schema_always_valid) {
    api_server s;
    api_server_start(&s, NULL);
    for (int seed = 1; seed <= 12; seed++) {
        char body[2048];
        snprintf(body, sizeof body,
                 "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"A person\"}],"
                 "\"temperature\":1.0,\"seed\":%d,\"max_tokens\":120,"
                 "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"p\",\"schema\":" SCHEMA "}}}",
                 seed);
        api_resp r;
        api_http(&s, "POST", "/v1/chat/completions", body, NULL, &r);
        ASSERT_EQ_INT(r.status, 200);
        check_instance(api_jstr(r.json, "choices.0.message.content"));
        api_resp_free(&r);
    }
    api_server_stop(&s);
}

TEST(api_structured_json_object_and_gbnf) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    api_http(&s, "POST", "/v1/completions",
             "{\"model\":\"tiny\",\"prompt\":\"Once upon a time\",\"temperature\":0.8,\"seed\":3,\"max_tokens\":60,"
             "\"response_format\":{\"type\":\"json_object\"}}", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    json_t *v = json_loads(api_jstr(r.json, "choices.0.text"), 0, NULL);
    if (!v) test_fail(__FILE__, __LINE__, "not a JSON object: %s", api_jstr(r.json, "choices.0.text"));
    ASSERT_TRUE(json_is_object(v));
    json_decref(v);
    api_resp_free(&r);
    for (int seed = 1; seed <= 6; seed++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"model\":\"tiny\",\"prompt\":\"Once upon a time\",\"temperature\":1.0,\"seed\":%d,"
                 "\"max_tokens\":10,\"grammar\":\"root ::= (\\\"yes\\\" | \\\"no\\\") \\\".\\\"\"}", seed);
        api_http(&s, "POST", "/v1/completions", body, NULL, &r);
        ASSERT_EQ_INT(r.status, 200);
        const char *t = api_jstr(r.json, "choices.0.text");
        ASSERT_TRUE(!strcmp(t, "yes.") || !strcmp(t, "no."));
        ASSERT_EQ_STR(api_jstr(r.json, "choices.0.finish_reason"), "stop");
        api_resp_free(&r);
    }
    api_server_stop(&s);
}

TEST(api_structured_errors) {
    api_server s;
    api_server_start(&s, NULL);
    const char *bad[][2] = {
        {"\"grammar\":\"root ::= (\"", "bad grammar"},
        {"\"grammar\":5", "'grammar' must be a string"},
        {"\"response_format\":{\"type\":\"xml\"}", "is not one of text, json_object, json_schema"},
        {"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{}}", "schema must be an object"},
        {"\"response_format\":{\"type\":\"json_object\"},\"grammar\":\"root ::= \\\"a\\\"\"", "not both"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[1024];
        snprintf(body, sizeof body, "{\"model\":\"tiny\",\"prompt\":\"x\",%s}", bad[i][0]);
        api_resp r;
        api_http(&s, "POST", "/v1/completions", body, NULL, &r);
        ASSERT_EQ_INT(r.status, 400);
        ASSERT_CONTAINS(api_jstr(r.json, "error.message"), bad[i][1]);
        api_resp_free(&r);
    }
    api_server_stop(&s);
}
