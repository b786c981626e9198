/* The access pages against the real admin API (the auth module): `local-ai users create` and
 * `local-ai keys create` make an admin and its key in a data directory, `local-ai run
 * --data-path` serves it, and tests/ui/access.mjs checks in chromium that a bad key is refused,
 * the admin's key opens the admin pages, and a key the admin creates there works through the
 * API (and stops working once revoked). Skipped in a build without the auth module. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_util.h"

static const char *find_node(void) {
    static const char *const where[] = {"/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++)
        if (access(where[i], X_OK) == 0) return where[i];
    return NULL;
}

/* Run local-ai with args; the exit status, stdout in *out (free it). */
static int cli(char **out, const char *a0, const char *a1, const char *a2, const char *a3,
               const char *a4, const char *a5, const char *a6, const char *a7) {
    char *argv[10] = {(char *)test_bin_path()};
    const char *a[] = {a0, a1, a2, a3, a4, a5, a6, a7};
    int n = 1;
    for (int i = 0; i < 8 && a[i]; i++) argv[n++] = (char *)a[i];
    argv[n] = NULL;
    char *err = NULL;
    int st = test_run(argv, NULL, out, &err);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) fprintf(stderr, "%s", err ? err : "");
    free(err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(ui_access_e2e) {
    const char *node = find_node();
    const char *chromium = getenv("CHROMIUM") ? getenv("CHROMIUM") : "/usr/bin/chromium";
    if (!node) TEST_SKIP("node is not installed (scripts/install-deps installs it)");
    if (access(chromium, X_OK) != 0)
        TEST_SKIP("chromium is not installed (scripts/install-deps installs it)");
    if (access("tests/ui/access.mjs", R_OK) != 0) TEST_SKIP("run from the repository root");
    char *out = NULL;
    if (cli(&out, "users", "--help", NULL, NULL, NULL, NULL, NULL, NULL) != 0) {
        free(out);
        TEST_SKIP("this build has no auth module (`local-ai users` is not a command): "
                  "runs once branch auth is merged");
    }
    free(out);

    char data[1024];
    snprintf(data, sizeof data, "%s/data", test_tmpdir());
    mkdir(data, 0755);
    ASSERT_EQ_INT(cli(&out, "users", "create", "admin", "--admin", "--data-path", data, NULL, NULL),
                  0);
    free(out);
    ASSERT_EQ_INT(
        cli(&out, "keys", "create", "--name", "admin-key", "--user", "admin", "--data-path", data),
        0);
    /* The new key alone on the last line. */
    char key[256] = "";
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (*l) snprintf(key, sizeof key, "%s", l);
    free(out);
    ASSERT_TRUE(strlen(key) > 8);

    const char *flags[] = {"--data-path", data, NULL};
    api_server s;
    api_server_start(&s, flags);
    char *argv[] = {
        "/usr/bin/timeout",     "-k", "5", "90", (char *)node, "tests/ui/access.mjs", s.base, key,
        "build/ui-screenshots", NULL};
    char *err = NULL;
    int st = test_run(argv, NULL, &out, &err);
    if (st != 0) {
        fprintf(stderr, "%s%s", out ? out : "", err ? err : "");
        kill(s.pid, SIGKILL);
        test_fail(__FILE__, __LINE__, "the access browser test failed (status %d)", st);
    }
    free(out);
    free(err);
    api_server_stop(&s);
}
