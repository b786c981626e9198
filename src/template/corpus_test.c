/*
 * The corpus test: every real chat template in shared/testdata/templates renders the
 * README's conversation byte for byte like Python's jinja2 (rendered/NAME.txt), the
 * templates that fail in Python fail here with the same error class (manifest.json), and
 * those have their no-system variant (rendered/NAME.nosystem.txt) checked too.
 */
#include <stdio.h>
#include <string.h>

#include "template/template.h"
#include "test.h"

/* 2025-07-10 12:00:00 UTC, the README's fixed clock. */
#define FIXED_CLOCK 1752148800

static int render_file(const char *dir, const char *file, json_t *messages, json_t *tools,
                       buf *out, err_buf *eb) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *src = NULL;
    size_t len = 0;
    int rc = file_read_all(path, &src, &len, eb);
    if (rc) return rc;
    tmpl *t = NULL;
    rc = tmpl_compile(src, len, &t, eb);
    mem_free(src);
    if (rc) return rc;
    json_t *vars = json_object();
    json_object_set(vars, "messages", messages);
    json_object_set_new(vars, "tools", tools ? json_incref(tools) : json_null());
    json_object_set_new(vars, "documents", json_null());
    json_object_set_new(vars, "add_generation_prompt", json_true());
    json_object_set_new(vars, "bos_token", json_string("<s>"));
    json_object_set_new(vars, "eos_token", json_string("</s>"));
    tmpl_params prm = tmpl_default_params();
    prm.now_unix = FIXED_CLOCK;
    rc = tmpl_render(t, vars, &prm, out, eb);
    json_decref(vars);
    tmpl_free(t);
    return rc;
}

static void show_diff(const char *name, const char *got, const char *want) {
    size_t i = 0;
    while (got[i] && got[i] == want[i]) i++;
    size_t from = i > 60 ? i - 60 : 0;
    fprintf(stderr, "  MISMATCH %s at byte %zu\n    got:  \"", name, i);
    for (size_t k = from; got[k] && k < i + 60; k++) fputc(got[k] == '\n' ? '|' : got[k], stderr);
    fprintf(stderr, "\"\n    want: \"");
    for (size_t k = from; want[k] && k < i + 60; k++) fputc(want[k] == '\n' ? '|' : want[k], stderr);
    fprintf(stderr, "\"\n");
}

/* Does a render end as Python's did: "ok", or "error: Class: message"? TemplateError
 * messages must match too; other classes by class only. */
static bool same_outcome(int rc, const err_buf *eb, const char *expect) {
    if (!strcmp(expect, "ok")) return rc == 0;
    const char *want = strstr(expect, "error: ");
    want = want ? want + 7 : "";
    size_t cl = strcspn(want, ":");
    if (rc >= 0 || strncmp(eb->msg, want, cl) || eb->msg[cl] != ':') return false;
    return strncmp(want, "TemplateError", cl) || strstr(eb->msg, want + cl + 2) != NULL;
}

/* Compare one render with an expected file; returns true when identical. */
static bool check(const char *dir, const char *file, json_t *messages, const char *expect_path,
                  const char *label) {
    buf out = {0};
    err_buf eb = {0};
    int rc = render_file(dir, file, messages, NULL, &out, &eb);
    char *want = NULL;
    size_t wlen = 0;
    err_buf eb2 = {0};
    bool ok = false;
    if (file_read_all(expect_path, &want, &wlen, &eb2) < 0) {
        fprintf(stderr, "  cannot read %s\n", expect_path);
    } else if (rc) {
        fprintf(stderr, "  ERROR %s: %s\n", label, err_msg(&eb));
    } else if (out.len != wlen || memcmp(out.data, want, wlen)) {
        show_diff(label, out.data ? out.data : "", want);
    } else {
        ok = true;
    }
    mem_free(want);
    buf_free(&out);
    return ok;
}

TEST(tmpl_corpus) {
    const char *mpath = test_shared_file("testdata/templates/manifest.json");
    char dir[1024], rdir[1100];
    snprintf(dir, sizeof dir, "%s", mpath);
    *strrchr(dir, '/') = 0;
    snprintf(rdir, sizeof rdir, "%s/rendered", dir);
    json_error_t je;
    json_t *man = json_load_file(mpath, 0, &je);
    ASSERT_NOT_NULL(man);
    char cpath[1200];
    snprintf(cpath, sizeof cpath, "%s/conversation.json", rdir);
    json_t *conv = json_load_file(cpath, 0, &je);
    ASSERT_NOT_NULL(conv);
    json_t *msgs = json_object_get(conv, "messages");
    json_t *nosys = json_array();
    json_t *tools = json_loads("[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
                               "\"description\": \"Get the current weather for a city\", \"parameters\": "
                               "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"The city\"}}, "
                               "\"required\": [\"city\"]}}}]", 0, &je);
    ASSERT_NOT_NULL(tools);
    for (size_t i = 1; i < json_array_size(msgs); i++) json_array_append(nosys, json_array_get(msgs, i));

    int n_ok = 0, n_total = 0, n_fail_ok = 0, n_fail_total = 0;
    for (size_t i = 0; i < json_array_size(man); i++) {
        json_t *e = json_array_get(man, i);
        const char *file = json_string_value(json_object_get(e, "file"));
        json_t *res = json_object_get(e, "jinja2_render");
        const char *def = json_string_value(json_object_get(res, "default"));
        char base[512], exp[2048];
        snprintf(base, sizeof base, "%.*s", (int)(strlen(file) - 6), file);
        if (def && !strcmp(def, "ok")) {
            n_total++;
            snprintf(exp, sizeof exp, "%s/%s.txt", rdir, base);
            n_ok += check(dir, file, msgs, exp, base);
            continue;
        }
        /* Expected failure: same error class and, for TemplateError, the same message. */
        n_fail_total++;
        buf out = {0};
        err_buf eb = {0};
        int rc = render_file(dir, file, msgs, NULL, &out, &eb);
        buf_free(&out);
        bool same = same_outcome(rc, &eb, def ? def : "");
        if (!same)
            fprintf(stderr, "  WRONG-ERROR %s: want \"%s\", got rc=%d \"%s\"\n", base, def, rc, eb.msg);
        /* The README's tools variant: same outcome class as Python (no stored output). */
        const char *wt = json_string_value(json_object_get(res, "with_tools"));
        if (wt) {
            err_buf et = {0};
            buf o2 = {0};
            int rt = render_file(dir, file, msgs, tools, &o2, &et);
            buf_free(&o2);
            if (!same_outcome(rt, &et, wt)) {
                fprintf(stderr, "  WRONG-TOOLS-OUTCOME %s: want \"%s\", got rc=%d \"%s\"\n", base, wt, rt, et.msg);
                same = false;
            }
        }
        const char *ns = json_string_value(json_object_get(res, "without_system"));
        if (ns && !strcmp(ns, "ok")) {
            n_total++;
            snprintf(exp, sizeof exp, "%s/%s.nosystem.txt", rdir, base);
            char label[600];
            snprintf(label, sizeof label, "%s.nosystem", base);
            n_ok += check(dir, file, nosys, exp, label);
        }
        n_fail_ok += same;
    }
    fprintf(stderr, "  corpus: %d/%d renders identical, %d/%d expected errors match\n", n_ok, n_total,
            n_fail_ok, n_fail_total);
    json_decref(nosys);
    json_decref(tools);
    json_decref(conv);
    json_decref(man);
    ASSERT_EQ_INT(n_ok, n_total);
    ASSERT_EQ_INT(n_fail_ok, n_fail_total);
}
