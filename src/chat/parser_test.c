/*
 * The output parser on real-looking model outputs, per format: each case is run whole and
 * streamed in pieces of every size from 1 byte to its length, and every run must give the
 * same content, reasoning and calls. Plus hold-back behaviour while streaming, calls emitted
 * as soon as complete, the OpenAI JSON shapes, and an allocation-failure loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "test.h"

enum { R = 1, S = 2, T = 4 }; /* reasoning on; prompt opened reasoning; pass TOOLS */

static const char TOOLS[] =
    "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
    "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, "
    "\"zip\": {\"type\": \"string\"}, \"days\": {\"type\": \"integer\"}}}}}]";

typedef struct pcase {
    chat_tool_format fmt;
    int flags;
    const char *in;
    const char *content;
    const char *reasoning;
    const char *calls; /* "name args\n" per call; "id=" prefix when the model gave an id */
} pcase;

#define TC "<tool_call>"
#define ETC "</tool_call>"
#define WEATHER "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"c\"}}"
#define WEATHER_CALL "get_weather {\"city\":\"Paris\",\"unit\":\"c\"}\n"

/* clang-format off */
static const pcase cases[] = {
    /* ---- Hermes / Qwen ---- */
    {CHAT_TOOLS_HERMES, R, "Hello there! How can I help?", "Hello there! How can I help?", "", ""},
    {CHAT_TOOLS_HERMES, R, TC "\n" WEATHER "\n" ETC, "", "", WEATHER_CALL},
    {CHAT_TOOLS_HERMES, R, "Let me check.\n" TC "\n" WEATHER "\n" ETC, "Let me check.", "",
     WEATHER_CALL},
    {CHAT_TOOLS_HERMES, R,
     TC "\n" WEATHER "\n" ETC "\n" TC "\n{\"name\": \"get_time\", \"arguments\": {}}\n" ETC
        "\n\nBoth requested.",
     "Both requested.", "", WEATHER_CALL "get_time {}\n"},
    {CHAT_TOOLS_HERMES, R,
     "<think>\nThe user wants the weather. I should call get_weather.\n</think>\n\n" TC "\n" WEATHER
     "\n" ETC,
     "", "The user wants the weather. I should call get_weather.", WEATHER_CALL},
    {CHAT_TOOLS_HERMES, R | S, "The user greets me.\n</think>\n\nHello! How can I help?",
     "Hello! How can I help?", "The user greets me.", ""},
    {CHAT_TOOLS_HERMES, R | S, "<think>\nhmm\n</think>\nOK", "OK", "hmm", ""},
    {CHAT_TOOLS_HERMES, R, TC "{\"name\": \"x\", \"arguments\": {bad}}" ETC " tail",
     TC "{\"name\": \"x\", \"arguments\": {bad}}" ETC " tail", "", ""},
    {CHAT_TOOLS_HERMES, R, "Sure " TC "{\"name\": \"get_weather\", \"argum",
     "Sure " TC "{\"name\": \"get_weather\", \"argum", "", ""},
    {CHAT_TOOLS_HERMES, R, TC "{\"name\":\"a\",\"arguments\":{}}", "", "", "a {}\n"},
    {CHAT_TOOLS_HERMES, R, "a < b and <tool", "a < b and <tool", "", ""},
    {CHAT_TOOLS_HERMES, R, TC "{\"name\": \"f\", \"arguments\": {\"x\": 0.1, \"y\": 1e5, \"s\": \"a b\"}}" ETC,
     "", "", "f {\"x\":0.1,\"y\":1e5,\"s\":\"a b\"}\n"},
    {CHAT_TOOLS_HERMES, R, TC "{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}" ETC, "", "",
     "f {\"a\":1}\n"},
    {CHAT_TOOLS_HERMES, R, "Voilà 你好 " TC "{\"name\": \"t\", \"arguments\": {\"q\": \"été\"}}" ETC,
     "Voilà 你好", "", "t {\"q\":\"été\"}\n"},
    {CHAT_TOOLS_HERMES, R, TC "{\"arguments\": {}}" ETC, TC "{\"arguments\": {}}" ETC, "", ""},
    {CHAT_TOOLS_HERMES, R, "<think>never closed", "", "never closed", ""},
    /* ---- Qwen3-Coder / Qwen 3.5 and GLM XML bodies ---- */
    {CHAT_TOOLS_HERMES, R | T,
     "<think>\nNeed weather.\n</think>\n\n" TC "\n<function=get_weather>\n<parameter=city>\nParis\n"
     "</parameter>\n<parameter=zip>\n75001\n</parameter>\n<parameter=days>\n3\n</parameter>\n"
     "</function>\n" ETC,
     "", "Need weather.", "get_weather {\"city\":\"Paris\",\"zip\":\"75001\",\"days\":3}\n"},
    {CHAT_TOOLS_HERMES, R,
     TC "\n<function=note>\n<parameter=text>\nline 1\nline \"2\"\n</parameter>\n<parameter=zip>\n"
     "75001\n</parameter>\n<parameter=opts>\n{\"a\": [1, 2]}\n</parameter>\n</function>\n" ETC,
     "", "", "note {\"text\":\"line 1\\nline \\\"2\\\"\",\"zip\":75001,\"opts\":{\"a\":[1,2]}}\n"},
    {CHAT_TOOLS_HERMES, R, TC "\n<function=ping>\n</function>\n" ETC, "", "", "ping {}\n"},
    {CHAT_TOOLS_HERMES, R, TC "\n<function=f>\n<parameter=a>\n1\n" ETC,
     TC "\n<function=f>\n<parameter=a>\n1\n" ETC, "", ""},
    {CHAT_TOOLS_HERMES, R | T,
     "<think>GLM thinks</think>\n" TC "get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n"
     "<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n" ETC,
     "", "GLM thinks", "get_weather {\"city\":\"Paris\",\"days\":3}\n"},
    {CHAT_TOOLS_HERMES, R, TC "get_time\n" ETC, "", "", "get_time {}\n"},
    {CHAT_TOOLS_HERMES, R, TC "hello world, no tags" ETC, TC "hello world, no tags" ETC, "", ""},
    /* ---- no tools / reasoning off ---- */
    {CHAT_TOOLS_NONE, 0, "<think>hi</think>Hello " TC, "<think>hi</think>Hello " TC, "", ""},
    {CHAT_TOOLS_NONE, R, "  <think> a </think>  b  ", "b  ", "a", ""},
    {CHAT_TOOLS_NONE, R, "<|START_THINKING|>plan<|END_THINKING|>answer", "answer", "plan", ""},
    {CHAT_TOOLS_NONE, R, "<seed:think>s</seed:think>t", "t", "s", ""},
    {CHAT_TOOLS_NONE, R, "<thinking is fun", "<thinking is fun", "", ""},
    {CHAT_TOOLS_NONE, R, "", "", "", ""},
    /* ---- Llama 3.x ---- */
    {CHAT_TOOLS_LLAMA3, R, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", "", "",
     "get_weather {\"city\":\"Paris\"}\n"},
    {CHAT_TOOLS_LLAMA3, R,
     "\n\n{\"type\": \"function\", \"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", "",
     "", "get_weather {\"city\":\"Paris\"}\n"},
    {CHAT_TOOLS_LLAMA3, R, "The answer is 4.", "The answer is 4.", "", ""},
    {CHAT_TOOLS_LLAMA3, R, "{\"answer\": 4}", "{\"answer\": 4}", "", ""},
    {CHAT_TOOLS_LLAMA3, R, "<|python_tag|>{\"name\": \"search\", \"parameters\": {\"q\": \"x\"}}", "", "",
     "search {\"q\":\"x\"}\n"},
    {CHAT_TOOLS_LLAMA3, R, "<|python_tag|>brave_search.call(query=\"weather in Paris\", n=3)", "", "",
     "brave_search {\"query\":\"weather in Paris\",\"n\":3}\n"},
    {CHAT_TOOLS_LLAMA3, R, "<|python_tag|>print('hi'", "<|python_tag|>print('hi'", "", ""},
    {CHAT_TOOLS_LLAMA3, R,
     "{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": {\"k\": [1, 2]}}", "", "",
     "a {}\nb {\"k\":[1,2]}\n"},
    {CHAT_TOOLS_LLAMA3, R, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Pa",
     "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Pa", "", ""},
    {CHAT_TOOLS_LLAMA3, R, "{\"name\": \"a\", \"parameters\": {}}\nDone.", "Done.", "", "a {}\n"},
    {CHAT_TOOLS_LLAMA3, R, "{\"name\": \"a\", \"parameters\": {}} {\"x\": 1}", "{\"x\": 1}", "", "a {}\n"},
    /* ---- Mistral ---- */
    {CHAT_TOOLS_MISTRAL, R,
     "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abc123def\"}]",
     "", "", "id=abc123def get_weather {\"city\":\"Paris\"}\n"},
    {CHAT_TOOLS_MISTRAL, R,
     "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"n\": 1}}, {\"name\": \"b\", \"arguments\": {}}]", "",
     "", "a {\"n\":1}\nb {}\n"},
    {CHAT_TOOLS_MISTRAL, R, "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}", "", "",
     "get_weather {\"city\":\"Paris\"}\n"},
    {CHAT_TOOLS_MISTRAL, R, "[TOOL_CALLS]a[ARGS]{}[TOOL_CALLS]b[ARGS]{\"x\": [1]}", "", "",
     "a {}\nb {\"x\":[1]}\n"},
    {CHAT_TOOLS_MISTRAL, R, "[TOOL_CALLS]get_weather[CALL_ID]a1b2c3d4e[ARGS]{\"city\":\"Paris\"}", "", "",
     "id=a1b2c3d4e get_weather {\"city\":\"Paris\"}\n"},
    {CHAT_TOOLS_MISTRAL, R, "Sure.\n[TOOL_CALLS]f[ARGS]{}", "Sure.", "", "f {}\n"},
    {CHAT_TOOLS_MISTRAL, R, "[TOOL_CALLS] [{\"name\": 3}]", "[TOOL_CALLS] [{\"name\": 3}]", "", ""},
    {CHAT_TOOLS_MISTRAL, R, "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Par",
     "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Par", "", ""},
    {CHAT_TOOLS_MISTRAL, R, "[TOOL_CALLS]this is not { a call", "[TOOL_CALLS]this is not { a call", "",
     ""},
    {CHAT_TOOLS_MISTRAL, R, "[THINK]Let me think.[/THINK]Answer: [1, 2]", "Answer: [1, 2]",
     "Let me think.", ""},
    /* ---- gpt-oss harmony ---- */
    {CHAT_TOOLS_HARMONY, R,
     "<|channel|>analysis<|message|>User says hi.<|end|><|start|>assistant<|channel|>final"
     "<|message|>Hello! How can I help?<|return|>",
     "Hello! How can I help?", "User says hi.", ""},
    {CHAT_TOOLS_HARMONY, R,
     "<|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant to=functions.get_weather"
     "<|channel|>commentary <|constrain|>json<|message|>{\"city\": \"Paris\"}<|call|>",
     "", "Need the weather.", "get_weather {\"city\":\"Paris\"}\n"},
    {CHAT_TOOLS_HARMONY, R,
     "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Paris\"}", "",
     "", "get_weather {\"city\":\"Paris\"}\n"},
    {CHAT_TOOLS_HARMONY, 0,
     "<|channel|>analysis<|message|>think <|end|><|start|>assistant<|channel|>final<|message|>ok ",
     "think ok ", "", ""},
    {CHAT_TOOLS_HARMONY, R,
     "<|channel|>commentary to=functions.f<|message|>not json<|call|>", "not json", "", ""},
    {CHAT_TOOLS_HARMONY, R, "Just text, no <| channels", "Just text, no <| channels", "", ""},
    {CHAT_TOOLS_HARMONY, R, "<|channel|>analysis<|message|>thinking about <|", "", "thinking about <|",
     ""},
    /* ---- DeepSeek V3 / R1 ---- */
    {CHAT_TOOLS_DEEPSEEK, R,
     "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n"
     "{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
     "", "", "get_weather {\"city\":\"Paris\"}\n"},
    {CHAT_TOOLS_DEEPSEEK, R | S,
     "Weather needed.\n</think>\n\nLet me check.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>a<｜tool▁sep｜>{}"
     "<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>b<｜tool▁sep｜>{\"x\": 1}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
     "Let me check.", "Weather needed.", "a {}\nb {\"x\":1}\n"},
    {CHAT_TOOLS_DEEPSEEK, R,
     "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>oops<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
     "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>oops<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "", ""},
    {CHAT_TOOLS_DEEPSEEK, R,
     "x <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{\"a\"",
     "x <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{\"a\"", "", ""},
    {CHAT_TOOLS_DEEPSEEK, R, "a <｜tool▁calls▁begin｜> <｜tool▁calls▁end｜> b",
     "a <｜tool▁calls▁begin｜> <｜tool▁calls▁end｜> b", "", ""},
    /* ---- Command R7B / A ---- */
    {CHAT_TOOLS_COMMAND_R, R,
     "<|START_THINKING|>I will check the weather.<|END_THINKING|><|START_ACTION|>[\n    {\"tool_call_id\": "
     "\"0\", \"tool_name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}\n]<|END_ACTION|>",
     "", "I will check the weather.", "get_weather {\"city\":\"Paris\"}\n"},
    {CHAT_TOOLS_COMMAND_R, R, "<|START_RESPONSE|>Hi there! <|END_RESPONSE|>", "Hi there! ", "", ""},
    {CHAT_TOOLS_COMMAND_R, R,
     "<|START_ACTION|>[{\"tool_name\": \"a\", \"parameters\": {}}, {\"tool_name\": \"b\", "
     "\"parameters\": {\"x\": 1}}]<|END_ACTION|>",
     "", "", "a {}\nb {\"x\":1}\n"},
    {CHAT_TOOLS_COMMAND_R, R, "<|START_ACTION|>[oops]<|END_ACTION|>", "<|START_ACTION|>[oops]<|END_ACTION|>",
     "", ""},
    /* ---- plain JSON ---- */
    {CHAT_TOOLS_JSON, R, "{\"name\": \"f\", \"arguments\": {\"a\": true}}", "", "", "f {\"a\":true}\n"},
    {CHAT_TOOLS_JSON, R,
     "[{\"name\": \"f\", \"arguments\": {}}, {\"name\": \"g\", \"arguments\": {\"z\": null}}]", "", "",
     "f {}\ng {\"z\":null}\n"},
    {CHAT_TOOLS_JSON, R, "Just text.", "Just text.", "", ""},
    {CHAT_TOOLS_JSON, R, "[1, 2, 3]", "[1, 2, 3]", "", ""},
    {CHAT_TOOLS_JSON, R, "}{][", "}{][", "", ""},
};
/* clang-format on */

typedef struct result {
    buf content, reasoning, calls;
    int begun; /* index of the call being streamed, -1: none */
    char id[64], name[64];
    buf args; /* its TOOL_ARGS joined */
    int n_calls;
} result;

static void collect(result *r, const chat_event *evs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const chat_event *e = &evs[i];
        ASSERT_TRUE(e->kind != CHAT_EV_TOOL_CALL || e->text == NULL);
        if (e->text) { /* deltas never split a UTF-8 character */
            json_t *j = json_stringn(e->text, e->len);
            ASSERT_NOT_NULL(j);
            json_decref(j);
        }
        if (e->kind == CHAT_EV_TOOL_CALL_BEGIN) {
            ASSERT_EQ_INT(e->index, r->n_calls);
            r->begun = e->index;
            snprintf(r->id, sizeof r->id, "%s", e->id);
            snprintf(r->name, sizeof r->name, "%s", e->name);
            r->args.len = 0;
            if (r->args.data) r->args.data[0] = 0;
            continue;
        }
        if (e->kind == CHAT_EV_TOOL_ARGS) {
            ASSERT_EQ_INT(e->index, r->begun);
            buf_append(&r->args, e->text, e->len);
            continue;
        }
        if (e->kind == CHAT_EV_TOOL_CALL) {
            ASSERT_EQ_INT(e->index, r->n_calls);
            r->n_calls++;
            if (e->streamed) { /* the pieces add up to the call */
                ASSERT_EQ_INT(e->index, r->begun);
                ASSERT_EQ_STR(e->id, r->id);
                ASSERT_EQ_STR(e->name, r->name);
                ASSERT_EQ_STR(r->args.data ? r->args.data : "", e->arguments);
            }
            r->begun = -1;
        }
        if (e->kind == CHAT_EV_CONTENT) {
            ASSERT_EQ_UINT(strlen(e->text), e->len);
            buf_append(&r->content, e->text, e->len);
        } else if (e->kind == CHAT_EV_REASONING) {
            buf_append(&r->reasoning, e->text, e->len);
        } else {
            const char *id = e->id;
            bool ours = strncmp(id, "call_", 5) == 0 && strlen(id) == 14;
            if (!ours) buf_printf(&r->calls, "id=%s ", id);
            buf_printf(&r->calls, "%s %s\n", e->name, e->arguments);
        }
    }
}

static void run_case(size_t ci, size_t split, bool stream_args) {
    const pcase *c = &cases[ci];
    chat_parser_params pp = chat_parser_default_params();
    pp.stream_arguments = stream_args;
    pp.tool_format = c->fmt;
    pp.reasoning = (c->flags & R) != 0;
    pp.starts_in_reasoning = (c->flags & S) != 0;
    pp.id_seed = 42;
    json_error_t jerr;
    json_t *tools = c->flags & T ? json_loads(TOOLS, 0, &jerr) : NULL;
    ASSERT_TRUE(!(c->flags & T) || tools);
    pp.tools = tools;
    chat_parser *p = NULL;
    err_buf eb = {0};
    ASSERT_OK(chat_parser_new(&pp, &p, &eb), &eb);
    result r = {0};
    r.begun = -1;
    size_t len = strlen(c->in);
    const chat_event *evs;
    size_t n;
    for (size_t off = 0; off < len; off += split) {
        size_t k = len - off < split ? len - off : split;
        ASSERT_OK(chat_parser_feed(p, c->in + off, k, &evs, &n, &eb), &eb);
        collect(&r, evs, n);
    }
    ASSERT_OK(chat_parser_finish(p, &evs, &n, &eb), &eb);
    collect(&r, evs, n);
    const char *got_c = r.content.data ? r.content.data : "";
    const char *got_r = r.reasoning.data ? r.reasoning.data : "";
    const char *got_k = r.calls.data ? r.calls.data : "";
    if (strcmp(got_c, c->content) || strcmp(got_r, c->reasoning) || strcmp(got_k, c->calls))
        test_fail(__FILE__, __LINE__,
                  "case %zu split %zu stream %d: %s\n  content   got \"%s\" want \"%s\"\n"
                  "  reasoning got \"%s\" want \"%s\"\n  calls     got \"%s\" want \"%s\"",
                  ci, split, (int)stream_args, c->in, got_c, c->content, got_r, c->reasoning, got_k,
                  c->calls);
    /* The parser's totals agree with the events. */
    ASSERT_EQ_STR(chat_parser_content(p), got_c);
    ASSERT_EQ_STR(chat_parser_reasoning(p), got_r);
    buf_free(&r.content);
    buf_free(&r.reasoning);
    buf_free(&r.calls);
    buf_free(&r.args);
    chat_parser_free(p);
    json_decref(tools);
}

TEST(chat_parser_table_every_split) {
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        size_t len = strlen(cases[ci].in);
        for (size_t split = 1; split <= len + 1; split++) {
            run_case(ci, split, false);
            run_case(ci, split, true);
        }
    }
}

/* Feed pieces and return the content / calls emitted so far, before any finish. */
static chat_parser *new_parser(chat_tool_format fmt, bool reasoning) {
    chat_parser_params pp = chat_parser_default_params();
    pp.tool_format = fmt;
    pp.reasoning = reasoning;
    pp.id_seed = 7;
    chat_parser *p = NULL;
    err_buf eb = {0};
    ASSERT_OK(chat_parser_new(&pp, &p, &eb), &eb);
    return p;
}

static void feed(chat_parser *p, const char *s) {
    const chat_event *evs;
    size_t n;
    err_buf eb = {0};
    ASSERT_OK(chat_parser_feed(p, s, strlen(s), &evs, &n, &eb), &eb);
}

TEST(chat_parser_holds_back_only_markers) {
    chat_parser *p = new_parser(CHAT_TOOLS_HERMES, true);
    feed(p, "Hello");
    ASSERT_EQ_STR(chat_parser_content(p), "Hello");
    feed(p, " world <tool_");
    ASSERT_EQ_STR(chat_parser_content(p), "Hello world");
    feed(p, "call>{\"name\": \"f\", \"arguments\": {}}");
    ASSERT_EQ_INT(chat_parser_tool_call_count(p), 0);
    feed(p, "</tool_call>");
    /* Emitted as soon as it is complete, not at finish. */
    ASSERT_EQ_INT(chat_parser_tool_call_count(p), 1);
    ASSERT_EQ_STR(chat_parser_tool_call(p, 0)->name, "f");
    chat_parser_free(p);

    p = new_parser(CHAT_TOOLS_NONE, true);
    feed(p, "<think>step one");
    ASSERT_EQ_STR(chat_parser_reasoning(p), "step one");
    feed(p, " and two</th");
    ASSERT_EQ_STR(chat_parser_reasoning(p), "step one and two");
    feed(p, "ink>Answer");
    ASSERT_EQ_STR(chat_parser_content(p), "Answer");
    chat_parser_free(p);

    p = new_parser(CHAT_TOOLS_LLAMA3, true);
    feed(p, "{\"name\": \"f\", \"parameters\": {\"a\": {\"b\": 1}}");
    ASSERT_EQ_INT(chat_parser_tool_call_count(p), 0);
    feed(p, "}");
    ASSERT_EQ_INT(chat_parser_tool_call_count(p), 1);
    chat_parser_free(p);

    p = new_parser(CHAT_TOOLS_MISTRAL, true);
    feed(p, "[TOOL_CALLS]f[ARGS]{\"a\": \"}\"");
    ASSERT_EQ_INT(chat_parser_tool_call_count(p), 0);
    feed(p, "}");
    ASSERT_EQ_INT(chat_parser_tool_call_count(p), 1);
    ASSERT_EQ_STR(chat_parser_tool_call(p, 0)->arguments, "{\"a\":\"}\"}");
    chat_parser_free(p);
}

TEST(chat_parser_ids_and_misuse) {
    chat_parser *p = new_parser(CHAT_TOOLS_JSON, true);
    feed(p, "[{\"name\": \"f\", \"arguments\": {}}, {\"name\": \"f\", \"arguments\": {}}]");
    const chat_event *evs;
    size_t n;
    err_buf eb = {0};
    ASSERT_OK(chat_parser_finish(p, &evs, &n, &eb), &eb);
    ASSERT_EQ_INT(chat_parser_tool_call_count(p), 2);
    const chat_event *a = chat_parser_tool_call(p, 0), *b = chat_parser_tool_call(p, 1);
    ASSERT_EQ_INT(a->index, 0);
    ASSERT_EQ_INT(b->index, 1);
    ASSERT_TRUE(strncmp(a->id, "call_", 5) == 0);
    ASSERT_TRUE(strcmp(a->id, b->id) != 0);
    ASSERT_NULL(chat_parser_tool_call(p, 2));
    ASSERT_EQ_INT(chat_parser_feed(p, "x", 1, &evs, &n, &eb), BASE_EINVAL);
    ASSERT_EQ_INT(chat_parser_finish(p, &evs, &n, &eb), BASE_EINVAL);
    chat_parser_free(p);
    chat_parser_free(NULL);

    chat_parser_params pp = chat_parser_default_params();
    pp.tool_format = (chat_tool_format)99;
    ASSERT_EQ_INT(chat_parser_new(&pp, &p, &eb), BASE_EINVAL);
    ASSERT_EQ_INT(chat_parser_new(&pp, NULL, &eb), BASE_EINVAL);
}

static char *dumps(json_t *j) {
    ASSERT_NOT_NULL(j);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

TEST(chat_json_shapes) {
    chat_parser *p = new_parser(CHAT_TOOLS_HERMES, true);
    const chat_event *evs;
    size_t n;
    err_buf eb = {0};
    const char *out = "<think>plan</think>Checking.<tool_call>{\"name\": \"w\", \"arguments\": "
                      "{\"c\": \"P\"}}</tool_call>";
    ASSERT_OK(chat_parser_feed(p, out, strlen(out), &evs, &n, &eb), &eb);
    ASSERT_EQ_INT(n, 3);
    char *s = dumps(chat_delta_json(&evs[0]));
    ASSERT_EQ_STR(s, "{\"reasoning_content\":\"plan\"}");
    free(s);
    s = dumps(chat_delta_json(&evs[1]));
    ASSERT_EQ_STR(s, "{\"content\":\"Checking.\"}");
    free(s);
    char want[512];
    snprintf(want, sizeof want,
             "{\"tool_calls\":[{\"id\":\"%s\",\"type\":\"function\",\"function\":{\"name\":\"w\","
             "\"arguments\":\"{\\\"c\\\":\\\"P\\\"}\"},\"index\":0}]}",
             evs[2].id);
    s = dumps(chat_delta_json(&evs[2]));
    ASSERT_EQ_STR(s, want);
    free(s);
    ASSERT_NULL(chat_tool_call_json(&evs[0], false));
    ASSERT_OK(chat_parser_finish(p, &evs, &n, &eb), &eb);
    snprintf(want, sizeof want,
             "{\"role\":\"assistant\",\"content\":\"Checking.\",\"reasoning_content\":\"plan\","
             "\"tool_calls\":[{\"id\":\"%s\",\"type\":\"function\",\"function\":{\"name\":\"w\","
             "\"arguments\":\"{\\\"c\\\":\\\"P\\\"}\"}}]}",
             chat_parser_tool_call(p, 0)->id);
    s = dumps(chat_message_json(p));
    ASSERT_EQ_STR(s, want);
    free(s);
    chat_parser_free(p);

    /* Only calls: content is null. Only text: no tool_calls key. */
    p = new_parser(CHAT_TOOLS_HERMES, false);
    feed(p, "\n<tool_call>{\"name\": \"w\", \"arguments\": {}}</tool_call>\n");
    ASSERT_OK(chat_parser_finish(p, &evs, &n, &eb), &eb);
    json_t *m = chat_message_json(p);
    ASSERT_TRUE(json_is_null(json_object_get(m, "content")));
    ASSERT_EQ_INT(json_array_size(json_object_get(m, "tool_calls")), 1);
    json_decref(m);
    chat_parser_free(p);
    p = new_parser(CHAT_TOOLS_HERMES, false);
    feed(p, "Hi");
    ASSERT_OK(chat_parser_finish(p, &evs, &n, &eb), &eb);
    s = dumps(chat_message_json(p));
    ASSERT_EQ_STR(s, "{\"role\":\"assistant\",\"content\":\"Hi\"}");
    free(s);
    s = dumps(chat_tool_calls_json(p));
    ASSERT_EQ_STR(s, "[]");
    free(s);
    chat_parser_free(p);
    /* Content is exact: a code reply keeps its first line's indentation. */
    p = new_parser(CHAT_TOOLS_HERMES, true);
    feed(p, "    def f():\n        pass\n");
    ASSERT_OK(chat_parser_finish(p, &evs, &n, &eb), &eb);
    m = chat_message_json(p);
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "content")), "    def f():\n        pass\n");
    json_decref(m);
    chat_parser_free(p);
}

/* Fail allocation n, n+1, ... until a whole run succeeds: a clean error each time, no leak. */
TEST(chat_parser_alloc_failures) {
    const char *out =
        "<think>why</think>Text <tool_call>{\"name\": \"a\", \"arguments\": {\"k\": 1}}"
        "</tool_call><tool_call>{\"name\": \"b\", \"arguments\": {}}</tool_call>";
    for (int stream = 0; stream < 2; stream++)
        for (long fail = 0;; fail++) {
            mem_fail_after(fail);
            chat_parser_params pp = chat_parser_default_params();
            pp.tool_format = CHAT_TOOLS_HERMES;
            pp.stream_arguments = stream;
            chat_parser *p = NULL;
            err_buf eb = {0};
            int rc = chat_parser_new(&pp, &p, &eb);
            const chat_event *evs;
            size_t n;
            for (size_t off = 0; !rc && off < strlen(out); off += 5) {
                size_t k = strlen(out) - off < 5 ? strlen(out) - off : 5;
                rc = chat_parser_feed(p, out + off, k, &evs, &n, &eb);
            }
            if (!rc) rc = chat_parser_finish(p, &evs, &n, &eb);
            json_t *m = rc ? NULL : chat_message_json(p);
            mem_fail_after(-1);
            if (rc) {
                ASSERT_EQ_INT(rc, BASE_ENOMEM);
                if (p) ASSERT_EQ_INT(chat_parser_feed(p, "x", 1, &evs, &n, &eb), BASE_ENOMEM);
                chat_parser_free(p);
                continue;
            }
            ASSERT_EQ_INT(chat_parser_tool_call_count(p), 2);
            ASSERT_EQ_STR(chat_parser_content(p), "Text");
            json_decref(m);
            chat_parser_free(p);
            ASSERT_CMP_INT(fail, >, 3);
            break;
        }
}

/* Random text built from marker fragments, fed in random pieces: never a crash, the same
 * result for every split, and with reasoning off and no call found the content is exactly
 * the input (nothing lost or invented). */
/* clang-format off */
static const char *const frags[] = {
    "<tool_call>", "</tool_call>", "[TOOL_CALLS]", "[ARGS]", "<|python_tag|>", "<think>",
    "</think>", "{", "}", "[", "]", "\"", "\\", ":", ",", " ", "\n", "name", "arguments",
    "\"name\": \"f\"", "\"arguments\": {}", "<function=", "<parameter=", "</function>", "x",
    "é", "<", "call(", ")", "=", "<|channel|>", "<|message|>", "<|end|>", "analysis",
    " to=functions.f", "<|call|>", "<|start|>", "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>",
    "<｜tool▁sep｜>", "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>", "function", "```json\n", "```",
    "<|START_ACTION|>", "<|END_ACTION|>", "<|START_RESPONSE|>", "<|END_RESPONSE|>", "\"tool_name\": \"t\"",
};
/* clang-format on */

static void fuzz_run(chat_tool_format fmt, bool reasoning, bool stream, const char *in, size_t len,
                     uint64_t *rng, buf *content, size_t *n_calls) {
    chat_parser_params pp = chat_parser_default_params();
    pp.stream_arguments = stream;
    pp.tool_format = fmt;
    pp.reasoning = reasoning;
    pp.id_seed = 1;
    chat_parser *p = NULL;
    err_buf eb = {0};
    ASSERT_OK(chat_parser_new(&pp, &p, &eb), &eb);
    const chat_event *evs;
    size_t n;
    for (size_t off = 0; off < len;) {
        size_t k = rng ? 1 + test_rand_u32(rng) % 7 : len;
        if (k > len - off) k = len - off;
        ASSERT_OK(chat_parser_feed(p, in + off, k, &evs, &n, &eb), &eb);
        off += k;
    }
    ASSERT_OK(chat_parser_finish(p, &evs, &n, &eb), &eb);
    buf_append_str(content, chat_parser_content(p));
    buf_printf(content, "|%s", chat_parser_reasoning(p));
    for (size_t i = 0; i < chat_parser_tool_call_count(p); i++) {
        const chat_event *c = chat_parser_tool_call(p, i);
        json_error_t jerr;
        json_t *args = json_loads(c->arguments, 0, &jerr);
        ASSERT_TRUE(json_is_object(args)); /* arguments are always a JSON object */
        json_decref(args);
        buf_printf(content, "|%s %s", c->name, c->arguments);
    }
    *n_calls = chat_parser_tool_call_count(p);
    chat_parser_free(p);
}

#ifndef FUZZ_ITERS
#define FUZZ_ITERS 3000
#endif
TEST(chat_parser_fuzz) {
#ifndef FUZZ_SEED
#define FUZZ_SEED 0x1234567
#endif
    uint64_t rng = FUZZ_SEED;
    for (int iter = 0; iter < FUZZ_ITERS; iter++) {
        buf in = {0};
        chat_tool_format fmt = (chat_tool_format)(test_rand_u32(&rng) % 8);
        if (iter % 2) {
            /* A real-looking output with one mutation: a byte dropped, a fragment inserted,
             * or the end cut off. */
            const pcase *c = &cases[test_rand_u32(&rng) % (sizeof cases / sizeof cases[0])];
            size_t len = strlen(c->in), at = len ? test_rand_u32(&rng) % len : 0;
            fmt = c->fmt;
            switch (test_rand_u32(&rng) % 3) {
            case 0:
                buf_append(&in, c->in, at);
                buf_append_str(&in, len ? c->in + at + 1 : "");
                break;
            case 1:
                buf_append(&in, c->in, at);
                buf_append_str(&in, frags[test_rand_u32(&rng) % (sizeof frags / sizeof frags[0])]);
                buf_append_str(&in, c->in + at);
                break;
            default: buf_append(&in, c->in, at); break;
            }
            if (!in.data) buf_append_str(&in, "");
        } else {
            int nf = 1 + (int)(test_rand_u32(&rng) % 12);
            for (int i = 0; i < nf; i++)
                buf_append_str(&in, frags[test_rand_u32(&rng) % (sizeof frags / sizeof frags[0])]);
        }
        bool reasoning = test_rand_u32(&rng) % 2;
        buf whole = {0}, split = {0};
        size_t calls_whole, calls_split;
        bool stream = test_rand_u32(&rng) % 2;
        fuzz_run(fmt, reasoning, stream, in.data, in.len, NULL, &whole, &calls_whole);
        fuzz_run(fmt, reasoning, !stream, in.data, in.len, &rng, &split, &calls_split);
        if (strcmp(whole.data, split.data))
            test_fail(__FILE__, __LINE__, "fmt %d input \"%s\"\n  whole \"%s\"\n  split \"%s\"",
                      (int)fmt, in.data, whole.data, split.data);
        if (!reasoning && calls_whole == 0 && fmt != CHAT_TOOLS_HARMONY &&
            fmt != CHAT_TOOLS_COMMAND_R) {
            buf want = {0};
            buf_append_str(&want, in.data);
            buf_append_str(&want, "|");
            ASSERT_EQ_STR(whole.data, want.data);
            buf_free(&want);
        }
        buf_free(&in);
        buf_free(&whole);
        buf_free(&split);
    }
}

/* stream_arguments: the call is announced once its name is known, and its arguments flow. */
TEST(chat_parser_streams_arguments) {
    chat_parser_params pp = chat_parser_default_params();
    pp.tool_format = CHAT_TOOLS_HERMES;
    pp.stream_arguments = true;
    pp.id_seed = 3;
    chat_parser *p = NULL;
    err_buf eb = {0};
    ASSERT_OK(chat_parser_new(&pp, &p, &eb), &eb);
    const chat_event *evs;
    size_t n;
    const char *a = "<tool_call>\n{\"name\": \"get_weather\", \"argu";
    ASSERT_OK(chat_parser_feed(p, a, strlen(a), &evs, &n, &eb), &eb);
    ASSERT_EQ_INT(n, 0);
    const char *b = "ments\": {\"city\": \"Par";
    ASSERT_OK(chat_parser_feed(p, b, strlen(b), &evs, &n, &eb), &eb);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(evs[0].kind, CHAT_EV_TOOL_CALL_BEGIN);
    ASSERT_EQ_STR(evs[0].name, "get_weather");
    ASSERT_EQ_INT(evs[1].kind, CHAT_EV_TOOL_ARGS);
    ASSERT_EQ_STR(evs[1].text, "{\"city\":\"Par");
    char *d = dumps(chat_delta_json(&evs[1]));
    ASSERT_EQ_STR(
        d,
        "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\\\"Par\"}}]}");
    free(d);
    const char *c = "is\"}}\n</tool_call>";
    ASSERT_OK(chat_parser_feed(p, c, strlen(c), &evs, &n, &eb), &eb);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_STR(evs[0].text, "is\"}");
    ASSERT_EQ_INT(evs[1].kind, CHAT_EV_TOOL_CALL);
    ASSERT_TRUE(evs[1].streamed);
    ASSERT_NULL(chat_delta_json(&evs[1]));
    ASSERT_EQ_STR(evs[1].arguments, "{\"city\":\"Paris\"}");
    chat_parser_free(p);
}

/* A model's own reasoning markers (from its config) replace the built-in ones. */
TEST(chat_parser_custom_reasoning_markers) {
    static const struct {
        const char *in;
        bool opened;
        const char *content, *reasoning;
    } rcases[] = {
        {"<reason>\nweighing it\n</reason>\n\nThe answer.", false, "The answer.", "weighing it"},
        {"<think>not ours</think>after", false, "<think>not ours</think>after", ""},
        {"still thinking</reason>done", true, "done", "still thinking"},
        {"no close marker at all", true, "", "no close marker at all"},
    };
    for (size_t i = 0; i < sizeof rcases / sizeof rcases[0]; i++) {
        size_t n = strlen(rcases[i].in);
        for (size_t step = 1; step <= n; step++) {
            chat_parser_params pp = chat_parser_default_params();
            pp.reasoning_open = "<reason>";
            pp.reasoning_close = "</reason>";
            pp.starts_in_reasoning = rcases[i].opened;
            chat_parser *p;
            err_buf eb = {0};
            ASSERT_OK(chat_parser_new(&pp, &p, &eb), &eb);
            const chat_event *ev;
            size_t nev;
            for (size_t off = 0; off < n; off += step)
                ASSERT_OK(chat_parser_feed(p, rcases[i].in + off, off + step < n ? step : n - off, &ev, &nev, &eb), &eb);
            ASSERT_OK(chat_parser_finish(p, &ev, &nev, &eb), &eb);
            ASSERT_EQ_STR(chat_parser_content(p), rcases[i].content);
            ASSERT_EQ_STR(chat_parser_reasoning(p), rcases[i].reasoning);
            chat_parser_free(p);
        }
    }
    ASSERT_TRUE(chat_prompt_opens_reasoning_with("x<reason>\n", 10, "<reason>"));
    ASSERT_FALSE(chat_prompt_opens_reasoning_with("x<think>\n", 9, "<reason>"));
    ASSERT_FALSE(chat_prompt_opens_reasoning_with("x<reason>", 9, ""));
}
