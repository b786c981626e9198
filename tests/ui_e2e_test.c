/* The web UI in a real browser: tests/ui/e2e.mjs drives Debian's chromium with playwright-core
 * against two `local-ai run` servers (one open, with a test gallery served by a throttled
 * local file server, one with --api-key) over stories260K. Screenshots go to
 * build/ui-screenshots/. Skipped only when node or chromium is missing (scripts/install-deps
 * installs both). Also the Markdown renderer's unit tests in Node. */
#include "api_util.h"
#include "gallery_srv.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define E2E_KEY "e2e-secret-key"

/* A second server over the models directory api_server_start made, with an API key. */
static void keyed_server_start(api_server *s) {
    char *argv[] = {(char *)test_bin_path(),
                    "run",
                    "--address",
                    "127.0.0.1:0",
                    "--models-path",
                    (char *)test_tmpdir(),
                    "--threads",
                    "1",
                    "--api-key",
                    E2E_KEY,
                    NULL};
    ASSERT_EQ_INT(test_spawn(argv, NULL, &s->pid, &s->fd), 0);
    char line[1024];
    if (test_wait_line(s->fd, "listening on http://", 20000, line, sizeof line) != 0) {
        kill(s->pid, SIGKILL);
        test_fail(__FILE__, __LINE__, "the keyed server did not report listening");
    }
    const char *p = strstr(line, "http://127.0.0.1:");
    ASSERT_NOT_NULL(p);
    s->port = (unsigned)atoi(p + strlen("http://127.0.0.1:"));
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", s->port);
}

static const char *find_node(void) {
    static const char *const where[] = {"/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++)
        if (access(where[i], X_OK) == 0) return where[i];
    return NULL;
}

TEST(ui_browser_e2e) {
    const char *node = find_node();
    const char *chromium = getenv("CHROMIUM") ? getenv("CHROMIUM") : "/usr/bin/chromium";
    if (!node) TEST_SKIP("node is not installed (scripts/install-deps installs it)");
    if (access(chromium, X_OK) != 0)
        TEST_SKIP("chromium is not installed (scripts/install-deps installs it)");
    if (access("tests/ui/e2e.mjs", R_OK) != 0) TEST_SKIP("run from the repository root");

    gsrv g;
    gsrv_start(&g);
    g.throttle_us = 20000; /* two files of 1.1 MB in about 3 s: the progress bar is seen */
    char gal[128];
    snprintf(gal, sizeof gal, "%s/index.yaml", g.base);
    const char *gal_flags[] = {"--galleries", gal, NULL};
    api_server open, keyed;
    api_server_start(&open, gal_flags);
    keyed_server_start(&keyed);
    /* Generous: under ASan the servers are several times slower. */
    char *argv[] = {"/usr/bin/timeout",
                    "-k",
                    "5",
                    "180",
                    (char *)node,
                    "tests/ui/e2e.mjs",
                    open.base,
                    keyed.base,
                    E2E_KEY,
                    "build/ui-screenshots",
                    NULL};
    char *out = NULL, *err = NULL;
    int st = test_run(argv, NULL, &out, &err);
    bool ok = st == 0;
    if (!ok) {
        fprintf(stderr, "%s%s", out ? out : "", err ? err : "");
        kill(keyed.pid, SIGKILL);
        kill(open.pid, SIGKILL);
        test_fail(__FILE__, __LINE__, "the browser test failed (status %d)", st);
    }
    free(out);
    free(err);
    api_server_stop(&keyed);
    api_server_stop(&open);
    gsrv_stop(&g);
}

/* The Markdown renderer's unit tests (structure, and no markup or script URL gets through),
 * in Node without a browser. */
TEST(ui_markdown_unit) {
    const char *node = find_node();
    if (!node) TEST_SKIP("node is not installed (scripts/install-deps installs it)");
    if (access("tests/ui/markdown.test.mjs", R_OK) != 0) TEST_SKIP("run from the repository root");
    char *argv[] = {"/usr/bin/timeout",           "-k", "5", "60", (char *)node,
                    "tests/ui/markdown.test.mjs", NULL};
    char *out = NULL, *err = NULL;
    int st = test_run(argv, NULL, &out, &err);
    if (st != 0) {
        fprintf(stderr, "%s%s", out ? out : "", err ? err : "");
        test_fail(__FILE__, __LINE__, "the Markdown tests failed (status %d)", st);
    }
    ASSERT_CONTAINS(out, "checks passed");
    free(out);
    free(err);
}
