/* Request validation (every error path), error shape, SSE framing and JSON strings. */
#include "api_int.h"

#include <math.h>
#include <stdlib.h>

#include "test.h"

static int parse(api_kind kind, const char *body, arena *a, api_gen_req *q, api_err *e) {
    return api_parse_gen(kind, (str_slice){body, strlen(body)}, a, q, e);
}

TEST(api_parse_chat_fields) {
    arena *a = arena_new(0);
    api_gen_req q;
    api_err e;
    const char *body =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"developer\",\"content\":\"be brief\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]},"
        "{\"role\":\"assistant\",\"content\":null}],"
        "\"max_completion_tokens\":9,\"temperature\":0,\"top_p\":0.5,\"top_k\":3,\"min_p\":0.2,"
        "\"n\":2,\"stop\":[\"x\",\"y\"],\"seed\":7,\"presence_penalty\":1,\"frequency_penalty\":-1,"
        "\"repeat_penalty\":1.3,\"logit_bias\":{\"5\":-100,\"6\":2.5},\"logprobs\":true,"
        "\"top_logprobs\":3,\"stream\":true,\"stream_options\":{\"include_usage\":true},"
        "\"user\":\"u\",\"unknown_field\":{\"ignored\":1}}";
    ASSERT_EQ_INT(parse(API_CHAT, body, a, &q, &e), 0);
    ASSERT_EQ_STR(q.model, "m");
    ASSERT_EQ_INT(json_array_size(q.messages), 3);
    json_t *m0 = json_array_get(q.messages, 0), *m1 = json_array_get(q.messages, 1);
    ASSERT_EQ_STR(json_string_value(json_object_get(m0, "role")), "system");
    ASSERT_EQ_STR(json_string_value(json_object_get(m1, "content")), "ab");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(q.messages, 2), "content")), "");
    ASSERT_EQ_INT(q.max_tokens, 9);
    ASSERT_TRUE(q.has_temperature && q.temperature == 0);
    ASSERT_NEAR(q.top_p, 0.5, 1e-6);
    ASSERT_EQ_INT(q.top_k, 3);
    ASSERT_NEAR(q.min_p, 0.2, 1e-6);
    ASSERT_EQ_INT(q.n, 2);
    ASSERT_EQ_INT(q.n_stops, 2);
    ASSERT_EQ_STR(q.stops[1], "y");
    ASSERT_TRUE(q.has_seed && q.seed == 7);
    ASSERT_NEAR(q.presence_penalty, 1, 1e-6);
    ASSERT_NEAR(q.frequency_penalty, -1, 1e-6);
    ASSERT_NEAR(q.repeat_penalty, 1.3, 1e-6);
    ASSERT_EQ_INT(q.n_bias, 2);
    ASSERT_EQ_INT(q.bias[0].token, 5);
    ASSERT_TRUE(isinf(q.bias[0].bias) && q.bias[0].bias < 0);
    ASSERT_NEAR(q.bias[1].bias, 2.5, 1e-6);
    ASSERT_EQ_INT(q.top_logprobs, 3);
    ASSERT_TRUE(q.stream && q.include_usage);
    json_decref(q.messages);
    arena_free(a);
}

TEST(api_parse_completion_prompts) {
    arena *a = arena_new(0);
    api_gen_req q;
    api_err e;
    ASSERT_EQ_INT(parse(API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"hi\",\"echo\":true,\"logprobs\":2}", a, &q, &e), 0);
    ASSERT_EQ_INT(q.n_prompts, 1);
    ASSERT_EQ_STR(q.prompts[0].text, "hi");
    ASSERT_TRUE(q.echo);
    ASSERT_EQ_INT(q.top_logprobs, 2);
    ASSERT_EQ_INT(q.n, 1);
    ASSERT_EQ_INT(q.max_tokens, 0);
    ASSERT_EQ_INT(parse(API_COMPLETION, "{\"model\":\"m\",\"prompt\":[1,2,3]}", a, &q, &e), 0);
    ASSERT_EQ_INT(q.n_prompts, 1);
    ASSERT_EQ_INT(q.prompts[0].n_tokens, 3);
    ASSERT_EQ_INT(q.prompts[0].tokens[2], 3);
    ASSERT_EQ_INT(q.top_logprobs, -1);
    ASSERT_EQ_INT(parse(API_COMPLETION, "{\"model\":\"m\",\"prompt\":[\"a\",[4,5]],\"stop\":\"s\",\"max_tokens\":null}", a, &q, &e), 0);
    ASSERT_EQ_INT(q.n_prompts, 2);
    ASSERT_EQ_STR(q.prompts[0].text, "a");
    ASSERT_EQ_INT(q.prompts[1].tokens[1], 5);
    ASSERT_EQ_INT(q.n_stops, 1);
    ASSERT_EQ_STR(q.stops[0], "s");
    arena_free(a);
}

/* Every error path: the status, the param named, and a word of the message. */
TEST(api_parse_errors) {
    static const struct {
        api_kind kind;
        const char *body, *param, *msg;
    } cases[] = {
        {API_CHAT, "{", NULL, "could not parse the JSON"},
        {API_CHAT, "[1]", NULL, "must be a JSON object"},
        {API_CHAT, "{\"model\":\"m\",\"model\":\"n\",\"messages\":[]}", NULL, "could not parse"},
        {API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model", "'model' is required"},
        {API_CHAT, "{\"model\":5,\"messages\":[]}", "model", "non-empty string"},
        {API_CHAT, "{\"model\":\"\",\"messages\":[]}", "model", "non-empty string"},
        {API_CHAT, "{\"model\":\"m\"}", "messages", "'messages' is required"},
        {API_CHAT, "{\"model\":\"m\",\"messages\":{}}", "messages", "must be an array"},
        {API_CHAT, "{\"model\":\"m\",\"messages\":[]}", "messages", "at least one"},
        {API_CHAT, "{\"model\":\"m\",\"messages\":[3]}", "messages", "messages[0] must be an object"},
        {API_CHAT, "{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}", "messages", "role must be a string"},
        {API_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}", "messages", "'robot' is not one of"},
        {API_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":7}]}", "messages", "content must be a string or an array"},
        {API_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[1]}]}", "messages", "must be an object with a 'type'"},
        {API_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", "messages", "'image_url' is not supported"},
        {API_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":1}]}]}", "messages", "text must be a string"},
#define M "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        {API_CHAT, M "\"max_tokens\":\"9\"}", "max_tokens", "must be an integer"},
        {API_CHAT, M "\"max_tokens\":0}", "max_tokens", "between 1 and"},
        {API_CHAT, M "\"max_tokens\":2.5}", "max_tokens", "must be an integer"},
        {API_CHAT, M "\"max_completion_tokens\":-1}", "max_completion_tokens", "between 1 and"},
        {API_CHAT, M "\"temperature\":\"hot\"}", "temperature", "must be a number"},
        {API_CHAT, M "\"temperature\":2.5}", "temperature", "between 0 and 2"},
        {API_CHAT, M "\"top_p\":1.5}", "top_p", "between 0 and 1"},
        {API_CHAT, M "\"min_p\":-0.1}", "min_p", "between 0 and 1"},
        {API_CHAT, M "\"top_k\":-1}", "top_k", "between 0 and"},
        {API_CHAT, M "\"n\":0}", "n", "between 1 and"},
        {API_CHAT, M "\"n\":100}", "n", "between 1 and"},
        {API_CHAT, M "\"presence_penalty\":3}", "presence_penalty", "between -2 and 2"},
        {API_CHAT, M "\"frequency_penalty\":true}", "frequency_penalty", "must be a number"},
        {API_CHAT, M "\"repeat_penalty\":11}", "repeat_penalty", "between 0 and 10"},
        {API_CHAT, M "\"seed\":\"x\"}", "seed", "must be an integer"},
        {API_CHAT, M "\"stop\":5}", "stop", "string or an array"},
        {API_CHAT, M "\"stop\":[\"a\",1]}", "stop", "stop[1] must be a string"},
        {API_CHAT, M "\"stop\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]}", "stop", "at most 16"},
        {API_CHAT, M "\"logit_bias\":[1]}", "logit_bias", "must be an object"},
        {API_CHAT, M "\"logit_bias\":{\"abc\":1}}", "logit_bias", "'abc' is not a token id"},
        {API_CHAT, M "\"logit_bias\":{\"1\":101}}", "logit_bias", "between -100 and 100"},
        {API_CHAT, M "\"logit_bias\":{\"1\":\"x\"}}", "logit_bias", "between -100 and 100"},
        {API_CHAT, M "\"logprobs\":1}", "logprobs", "must be a boolean"},
        {API_CHAT, M "\"top_logprobs\":2}", "top_logprobs", "needs 'logprobs'"},
        {API_CHAT, M "\"logprobs\":true,\"top_logprobs\":21}", "top_logprobs", "between 0 and 20"},
        {API_CHAT, M "\"stream\":\"yes\"}", "stream", "must be a boolean"},
        {API_CHAT, M "\"stream_options\":1}", "stream_options", "must be an object"},
        {API_CHAT, M "\"stream_options\":{\"include_usage\":1}}", "stream_options.include_usage", "must be a boolean"},
        {API_CHAT, M "\"user\":5}", "user", "must be a string"},
#undef M
        {API_COMPLETION, "{\"model\":\"m\"}", "prompt", "'prompt' is required"},
        {API_COMPLETION, "{\"model\":\"m\",\"prompt\":5}", "prompt", "must be a string, an array"},
        {API_COMPLETION, "{\"model\":\"m\",\"prompt\":[]}", "prompt", "must not be empty"},
        {API_COMPLETION, "{\"model\":\"m\",\"prompt\":[1,-2]}", "prompt", "token ids"},
        {API_COMPLETION, "{\"model\":\"m\",\"prompt\":[1,\"a\"]}", "prompt", "token ids"},
        {API_COMPLETION, "{\"model\":\"m\",\"prompt\":[\"a\",5]}", "prompt", "prompt[1] must be"},
        {API_COMPLETION, "{\"model\":\"m\",\"prompt\":[\"a\",[]]}", "prompt", "prompt[1] must be"},
        {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"a\",\"logprobs\":6}", "logprobs", "between 0 and 5"},
        {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"a\",\"logprobs\":true}", "logprobs", "must be an integer"},
        {API_COMPLETION, "{\"model\":\"m\",\"prompt\":\"a\",\"echo\":1}", "echo", "must be a boolean"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        arena *a = arena_new(0);
        api_gen_req q;
        api_err e;
        memset(&e, 0, sizeof e);
        int rc = parse(cases[i].kind, cases[i].body, a, &q, &e);
        if (rc == 0) test_fail(__FILE__, __LINE__, "case %zu accepted: %s", i, cases[i].body);
        ASSERT_NULL(q.messages);
        ASSERT_EQ_INT(e.status, 400);
        ASSERT_EQ_STR(e.type, "invalid_request_error");
        if (cases[i].param) ASSERT_EQ_STR(e.param, cases[i].param);
        else ASSERT_NULL(e.param);
        if (!strstr(e.msg, cases[i].msg))
            test_fail(__FILE__, __LINE__, "case %zu (%s): message \"%s\" lacks \"%s\"", i,
                      cases[i].body, e.msg, cases[i].msg);
        arena_free(a);
    }
}

TEST(api_error_json_shape) {
    api_err e;
    api_fail(&e, 404, "model", "The model '%s' does not exist", "x\"y");
    e.code = "model_not_found";
    char *s = api_error_json(&e);
    json_t *v = json_loads(s, 0, NULL);
    ASSERT_NOT_NULL(v);
    json_t *err = json_object_get(v, "error");
    ASSERT_EQ_STR(json_string_value(json_object_get(err, "message")), "The model 'x\"y' does not exist");
    ASSERT_EQ_STR(json_string_value(json_object_get(err, "type")), "invalid_request_error");
    ASSERT_EQ_STR(json_string_value(json_object_get(err, "param")), "model");
    ASSERT_EQ_STR(json_string_value(json_object_get(err, "code")), "model_not_found");
    json_decref(v);
    free(s);
    api_fail(&e, 500, NULL, "boom");
    s = api_error_json(&e);
    ASSERT_EQ_STR(s, "{\"error\":{\"message\":\"boom\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
    free(s);
}

TEST(api_sse_event_framing) {
    buf b = {0};
    json_t *v = json_pack("{s:s, s:i}", "a", "x\ny", "b", 1);
    ASSERT_EQ_INT(api_sse_event(&b, v), 0);
    ASSERT_EQ_INT(api_sse_event(&b, v), 0);
    /* One line per event (newlines in strings are escaped), a blank line after each. */
    ASSERT_EQ_STR(b.data, "data: {\"a\":\"x\\ny\",\"b\":1}\n\ndata: {\"a\":\"x\\ny\",\"b\":1}\n\n");
    json_decref(v);
    buf_free(&b);
}

TEST(api_json_string_repairs_utf8) {
    json_t *v = api_json_string("ok \xc3\xa9", 5);
    ASSERT_EQ_STR(json_string_value(v), "ok \xc3\xa9");
    json_decref(v);
    /* A lone continuation byte, a truncated sequence, an overlong form and a surrogate. */
    v = api_json_string("a\x80" "b\xe2\x82" "c\xc0\xaf" "d\xed\xa0\x80", 12);
    ASSERT_NOT_NULL(v);
    ASSERT_EQ_STR(json_string_value(v), "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd"
                                        "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(v);
    /* Embedded NUL is kept (jansson allows it with a length). */
    v = api_json_string("a\0b", 3);
    ASSERT_EQ_INT(json_string_length(v), 3);
    json_decref(v);
}

TEST(api_ids_are_unique) {
    char a[48], b[48];
    api_make_id("chatcmpl-", a, sizeof a);
    api_make_id("chatcmpl-", b, sizeof b);
    ASSERT_EQ_INT(strlen(a), 9 + 24);
    ASSERT_TRUE(strncmp(a, "chatcmpl-", 9) == 0);
    ASSERT_TRUE(strcmp(a, b) != 0);
    for (const char *p = a + 9; *p; p++)
        ASSERT_TRUE((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'));
}

/* Fail allocation N, N+1, ... until parsing succeeds: each failure is a clean 500. */
TEST(api_parse_oom_loop) {
    const char *body = "{\"model\":\"m\",\"prompt\":[\"a\",[1,2]],\"stop\":[\"x\"],\"logit_bias\":{\"3\":1}}";
    for (long n = 0;; n++) {
        arena *a = arena_new(0);
        api_gen_req q;
        api_err e;
        mem_fail_after(n);
        int rc = api_parse_gen(API_COMPLETION, (str_slice){body, strlen(body)}, a, &q, &e);
        mem_fail_after(-1);
        if (rc == 0) {
            ASSERT_EQ_INT(q.n_prompts, 2);
            ASSERT_EQ_STR(q.stops[0], "x");
            arena_free(a);
            break;
        }
        ASSERT_EQ_INT(e.status, 500);
        arena_free(a);
        ASSERT_TRUE(n < 200);
    }
}
