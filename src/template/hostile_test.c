/*
 * Hostile and broken templates: syntax errors report line:column, runaway loops, deep
 * recursion, output and memory bombs end with an error instead of a crash, and failed
 * allocations at every point of a real render give a clean error and no leak (run under
 * `make asan` for the leak half). Also the chat helper and the public API edges.
 */
#include <stdio.h>
#include <string.h>

#include "template/template.h"
#include "test.h"

/* ASSERT_OK with an err_buf pointer (taking &eb inside the macro trips -Waddress). */
#define OK(x, e) do { const err_buf *ep_ = (e); ASSERT_OK(x, ep_); } while (0)

static int render_p(const char *src, const tmpl_params *prm, buf *out, err_buf *eb) {
    tmpl *t = NULL;
    int rc = tmpl_compile(src, strlen(src), &t, eb);
    if (rc) return rc;
    rc = tmpl_render(t, NULL, prm, out, eb);
    tmpl_free(t);
    return rc;
}

static tmpl_params small_params(void) {
    tmpl_params p = tmpl_default_params();
    p.max_steps = 100000;
    p.max_output = 1 << 20;
    p.max_memory = 64u << 20;
    p.max_depth = 200;
    return p;
}

static void expect_fail(const char *src, int code) {
    buf out = {0};
    err_buf eb = {0};
    tmpl_params p = small_params();
    int rc = render_p(src, &p, &out, &eb);
    if (rc != code)
        test_fail(__FILE__, __LINE__, "%.80s: want rc %d, got %d (%s)", src, code, rc, eb.msg);
    ASSERT_TRUE(eb.msg[0] != 0);
    ASSERT_EQ_UINT(out.len, 0); /* nothing half-rendered reaches the caller */
    buf_free(&out);
}

TEST(tmpl_syntax_errors) {
    static const struct { const char *src; const char *where; } cases[] = {
        {"{{ 1 + }}", "1:8"},
        {"line\n{% if x %}\nno end", "3:7"},
        {"{% for %}{% endfor %}", "1:8"},
        {"{{ 'unterminated }}", "1:4"},
        {"a\n\n  {{ x", "3:7"},
        {"{% bogus %}", "1:4"},
        {"{% if x %}{% endfor %}", "1:14"},
        {"{{ x | }}", "1:8"},
        {"{# never closed", "1:1"},
        {"{{ (1, 2 }}", "1:12"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tmpl *t = NULL;
        err_buf eb = {0};
        int rc = tmpl_compile(cases[i].src, strlen(cases[i].src), &t, &eb);
        ASSERT_EQ_INT(rc, BASE_EFORMAT);
        ASSERT_NULL(t);
        if (strncmp(eb.msg, cases[i].where, strlen(cases[i].where)))
            test_fail(__FILE__, __LINE__, "%s: want position %s, got \"%s\"", cases[i].src, cases[i].where, eb.msg);
    }
}

TEST(tmpl_runtime_error_has_line) {
    buf out = {0};
    err_buf eb = {0};
    int rc = render_p("a\nb\n{% if true %}\n{{ raise_exception('System role not supported') }}{% endif %}", NULL, &out, &eb);
    ASSERT_EQ_INT(rc, BASE_EINVAL);
    ASSERT_EQ_STR(eb.msg, "TemplateError: System role not supported (line 4)");
    buf_free(&out);
}

TEST(tmpl_limits) {
    expect_fail("{% for i in range(100000000) %}{% endfor %}", BASE_EFULL);
    expect_fail("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", BASE_EFULL);
    expect_fail("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", BASE_ERANGE);
    expect_fail("{% macro f() %}{% call f() %}{% endcall %}{% endmacro %}{{ f() }}", BASE_ERANGE);
    expect_fail("{% macro f() %}x{{ caller() }}{% endmacro %}{% call f() %}{{ f() }}{% endcall %}", BASE_ENOTFOUND);
    expect_fail("{{ 'x' * 100000000 }}", BASE_EFULL);
    expect_fail("{{ [1] * 100000000 }}", BASE_EFULL);
    expect_fail("{% for i in range(5000) %}{{ 'abcdefghij' * 100 }}{% endfor %}", BASE_EFULL);
    expect_fail("{% set ns = namespace(s='xx') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", BASE_ENOMEM);
    expect_fail("{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", BASE_ENOMEM);
    /* Data nested deeper than the interpreter recurses: errors, no stack overflow. */
    expect_fail("{% set ns = namespace(l=[]) %}{% for i in range(20000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}", BASE_ERANGE);
    expect_fail("{% set ns = namespace(l=[]) %}{% for i in range(20000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l|tojson }}", BASE_ERANGE);
    expect_fail("{% set ns = namespace(l=[]) %}{% for i in range(20000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l < ns.l }}", BASE_ERANGE);
    /* Equality on such data answers without recursing forever. */
    buf out = {0};
    err_buf eb = {0};
    tmpl_params p = small_params();
    OK(render_p("{% set ns = namespace(l=[]) %}{% for i in range(20000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l == ns.l }}", &p, &out, &eb), &eb);
    buf_free(&out);
}

TEST(tmpl_deep_nesting_compiles_or_fails_cleanly) {
    size_t n = 100000;
    char *s = mem_alloc(n * 2 + 16);
    ASSERT_NOT_NULL(s);
    /* (((((1))))) far past the parser's depth limit */
    strcpy(s, "{{ ");
    memset(s + 3, '(', n);
    strcpy(s + 3 + n, "1");
    memset(s + 4 + n, ')', n);
    strcpy(s + 4 + 2 * n, " }}");
    tmpl *t = NULL;
    err_buf eb = {0};
    ASSERT_EQ_INT(tmpl_compile(s, strlen(s), &t, &eb), BASE_EFORMAT);
    ASSERT_CONTAINS(eb.msg, "nested too deeply");
    /* {% if %} blocks nested past the limit */
    size_t k = 0;
    for (size_t i = 0; i < 5000; i++) { memcpy(s + k, "{%if 1%}", 8); k += 8; }
    s[k] = 0;
    ASSERT_EQ_INT(tmpl_compile(s, k, &t, &eb), BASE_EFORMAT);
    /* not not not ... */
    k = 0;
    memcpy(s, "{{", 2); k = 2;
    for (size_t i = 0; i < 20000; i++) { memcpy(s + k, " not", 4); k += 4; }
    memcpy(s + k, " 1 }}", 6);
    ASSERT_EQ_INT(tmpl_compile(s, strlen(s), &t, &eb), BASE_EFORMAT);
    mem_free(s);
}

TEST(tmpl_garbage_input_never_crashes) {
    /* Deterministic random byte soup made of template syntax fragments. */
    static const char *const frags[] = {"{{", "}}", "{%", "%}", "{#", "#}", "-", "+", "if", "for",
                                        "in", "endif", "endfor", "x", "'", "\"", "(", ")", "[", "]",
                                        "|", "set", "=", ".", "1", "macro", "endmacro", " ", "\n",
                                        "raw", "endraw", "not", "is", "defined", ",", ":", "*", "~"};
    uint64_t seed = 12345;
    char src[256];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 0;
        int parts = (int)(test_rand_u32(&seed) % 24);
        for (int i = 0; i < parts; i++) {
            const char *f = frags[test_rand_u32(&seed) % (sizeof frags / sizeof frags[0])];
            size_t l = strlen(f);
            if (n + l >= sizeof src) break;
            memcpy(src + n, f, l);
            n += l;
        }
        src[n] = 0;
        tmpl *t = NULL;
        err_buf eb = {0};
        if (tmpl_compile(src, n, &t, &eb) == 0) {
            buf out = {0};
            tmpl_params p = small_params();
            p.max_steps = 1000;
            (void)tmpl_render(t, NULL, &p, &out, &eb);
            buf_free(&out);
            tmpl_free(t);
        } else {
            ASSERT_TRUE(eb.msg[0] != 0);
        }
    }
}

/* Render a real template with allocation n failing, for every n until it succeeds. */
TEST(tmpl_alloc_failures) {
    const char *path = test_shared_file("testdata/templates/Qwen-Qwen3-0.6B.jinja");
    char *src = NULL;
    size_t len = 0;
    err_buf eb = {0};
    OK(file_read_all(path, &src, &len, &eb), &eb);
    json_t *msgs = json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "system", "content", "Be brief.",
                             "role", "user", "content", "Hi");
    ASSERT_NOT_NULL(msgs);
    buf want = {0};
    tmpl *t = NULL;
    OK(tmpl_compile(src, len, &t, &eb), &eb);
    OK(tmpl_render_chat(t, msgs, NULL, true, "<s>", "</s>", NULL, &want, &eb), &eb);
    tmpl_free(t);
    bool done = false;
    for (long n = 0; n < 100000 && !done; n++) {
        buf out = {0};
        err_buf e2 = {0};
        mem_fail_after(n);
        int rc = tmpl_compile(src, len, &t, &e2);
        if (!rc) {
            rc = tmpl_render_chat(t, msgs, NULL, true, "<s>", "</s>", NULL, &out, &e2);
            tmpl_free(t);
        }
        mem_fail_after(-1);
        if (rc == 0) {
            ASSERT_EQ_STR(out.data, want.data);
            done = true;
        } else if (rc != BASE_ENOMEM) {
            test_fail(__FILE__, __LINE__, "allocation %ld failing gave rc %d: %s", n, rc, e2.msg);
        }
        buf_free(&out);
    }
    ASSERT_TRUE(done);
    buf_free(&want);
    json_decref(msgs);
    mem_free(src);
}

TEST(tmpl_render_chat_context) {
    const char *src =
        "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
        "{% if tools is not none %}T{{ tools|length }}{% endif %}{{ documents is none }}"
        "{% if add_generation_prompt %}<gen>{% endif %}{{ enable_thinking|default('u') }}{{ eos_token }}";
    tmpl *t = NULL;
    err_buf eb = {0};
    OK(tmpl_compile(src, strlen(src), &t, &eb), &eb);
    json_t *msgs = json_pack("[{s:s,s:s}]", "role", "user", "content", "hé");
    json_t *tools = json_pack("[{s:s}]", "type", "function");
    json_t *extra = json_pack("{s:b}", "enable_thinking", 0);
    buf out = {0};
    OK(tmpl_render_chat(t, msgs, NULL, true, "<s>", "</s>", NULL, &out, &eb), &eb);
    ASSERT_EQ_STR(out.data, "<s><user>héTrue<gen>u</s>");
    buf_free(&out);
    OK(tmpl_render_chat(t, msgs, tools, false, NULL, NULL, extra, &out, &eb), &eb);
    ASSERT_EQ_STR(out.data, "<user>héT1TrueFalse");
    buf_free(&out);
    /* rendering appends to what the buffer holds; errors leave it untouched */
    buf_append_str(&out, "keep:");
    json_t *bad = json_pack("[{s:s}]", "role", "user");
    OK(tmpl_render_chat(t, bad, NULL, false, "", "", NULL, &out, &eb), &eb);
    ASSERT_EQ_STR(out.data, "keep:<user>Trueu");
    buf_free(&out);
    json_decref(bad);
    json_decref(extra);
    json_decref(tools);
    json_decref(msgs);
    tmpl_free(t);
}

TEST(tmpl_api_edges) {
    tmpl *t = NULL;
    err_buf eb = {0};
    OK(tmpl_compile("", 0, &t, &eb), &eb);
    buf out = {0};
    OK(tmpl_render(t, NULL, NULL, &out, &eb), &eb);
    ASSERT_EQ_STR(out.data, "");
    json_t *arr = json_array();
    ASSERT_EQ_INT(tmpl_render(t, arr, NULL, &out, &eb), BASE_EINVAL);
    json_decref(arr);
    buf_free(&out);
    tmpl_free(t);
    tmpl_free(NULL);
    /* Not NUL-terminated source: only len bytes are read. */
    const char src[] = {'{', '{', ' ', '7', ' ', '}', '}', 'X'};
    OK(tmpl_compile(src, 7, &t, &eb), &eb);
    OK(tmpl_render(t, NULL, NULL, &out, &eb), &eb);
    ASSERT_EQ_STR(out.data, "7");
    buf_free(&out);
    tmpl_free(t);
}
