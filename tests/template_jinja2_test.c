/*
 * Every real chat template against Python's jinja2 (Debian's python3-jinja2, driven as
 * transformers drives it, by tests/template/jinja2_render.py) on conversations beyond the
 * corpus one: tool calls with dict and string arguments, tool results, several turns, and the
 * generation prompt on and off. Output must be identical byte for byte; where Python fails, we
 * must fail too, except for two documented liberties (below).
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "template/template.h"
#include "test.h"

#define MAX_TEMPLATES 256

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void check_scenario(const char *scenario) {
    if (access("/usr/bin/python3", X_OK) != 0) TEST_SKIP("no /usr/bin/python3");
    char *probe[] = {"/usr/bin/python3", "-c", "import jinja2", NULL};
    if (test_run(probe, NULL, NULL, NULL) != 0) TEST_SKIP("python3-jinja2 is not installed");
    const char *dir0 = test_shared_path("testdata/templates");
    if (!dir0) TEST_SKIP("shared/ not present");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", dir0);
    DIR *d = opendir(dir);
    if (!d) TEST_SKIP("no templates");
    static char *paths[MAX_TEMPLATES];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < MAX_TEMPLATES;) {
        size_t l = strlen(e->d_name);
        if (l > 6 && !strcmp(e->d_name + l - 6, ".jinja")) {
            char p[2048];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            paths[n++] = strdup(p);
        }
    }
    closedir(d);
    qsort(paths, (size_t)n, sizeof *paths, cmp_str);
    ASSERT_CMP_INT(n, >, 100);

    char scen[256];
    snprintf(scen, sizeof scen, "tests/template/%s.json", scenario);
    static char *argv[MAX_TEMPLATES + 4];
    argv[0] = "/usr/bin/python3";
    argv[1] = "tests/template/jinja2_render.py";
    argv[2] = scen;
    for (int i = 0; i < n; i++) argv[3 + i] = paths[i];
    argv[3 + n] = NULL;
    char *out, *err;
    int st = test_run(argv, NULL, &out, &err);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) test_fail(__FILE__, __LINE__, "jinja2_render.py failed: %s", err);
    json_error_t je;
    json_t *py = json_loads(out, 0, &je);
    if (!py) test_fail(__FILE__, __LINE__, "bad JSON from jinja2_render.py: %s", je.text);
    json_t *vars = json_load_file(scen, 0, &je);
    ASSERT_NOT_NULL(vars);

    int same = 0, both_fail = 0, liberties = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        json_t *ref = json_object_get(py, paths[i]);
        ASSERT_NOT_NULL(ref);
        const char *want = json_string_value(json_object_get(ref, "out"));
        const char *perr = json_string_value(json_object_get(ref, "error"));
        char *src;
        size_t len;
        err_buf eb = {0};
        ASSERT_OK(file_read_all(paths[i], &src, &len, &eb), &eb);
        tmpl *t = NULL;
        buf got = {0};
        int rc = tmpl_compile(src, len, &t, &eb);
        /* The scenario holds every variable; the clock is the fixed one Python uses. */
        tmpl_params tp = tmpl_default_params();
        tp.now_unix = 1752148800; /* 2025-07-10 12:00:00 UTC */
        if (!rc) rc = tmpl_render(t, vars, &tp, &got, &eb);
        const char *name = strrchr(paths[i], '/') + 1;
        if (want && !rc && !strcmp(want, got.data ? got.data : "")) {
            same++;
        } else if (perr && rc) {
            both_fail++;
        } else if (perr && !rc &&
                   (!strncmp(perr, "SecurityError", 13) || strstr(perr, "is not JSON serializable"))) {
            /* Our liberties: list.append / dict.update are allowed (templates written for
             * llama.cpp use them; Python's sandbox refuses), and map()/select() give lists
             * that tojson can print (Python's give generators). */
            liberties++;
        } else {
            bad++;
            if (want && !rc) {
                size_t k = 0;
                const char *g = got.data ? got.data : "";
                while (want[k] && want[k] == g[k]) k++;
                printf("  %s: differs at byte %zu\n    python: \"%.60s\"\n    ours:   \"%.60s\"\n", name, k,
                       want + k, g + k);
            } else if (want) {
                printf("  %s: python renders, we fail: %s\n", name, err_msg(&eb));
            } else {
                printf("  %s: python fails (%s), we render\n", name, perr);
            }
        }
        buf_free(&got);
        tmpl_free(t);
        mem_free(src);
    }
    printf("  %s: %d identical, %d fail in both, %d liberties, %d differ (of %d templates)\n", scenario,
           same, both_fail, liberties, bad, n);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_CMP_INT(same, >, n / 3); /* many templates cannot take tool messages at all */
    json_decref(vars);
    json_decref(py);
    free(out);
    free(err);
    for (int i = 0; i < n; i++) free(paths[i]);
}

TEST(tmpl_jinja2_tool_calls_dict_args) { check_scenario("tools_dict"); }
TEST(tmpl_jinja2_tool_calls_string_args_no_generation_prompt) { check_scenario("tools_str_nogen"); }
TEST(tmpl_jinja2_multiturn_no_generation_prompt) { check_scenario("multiturn_nogen"); }
