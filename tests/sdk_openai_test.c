/* The official openai npm SDK (pinned in package-lock.json) against `local-ai run`:
 * tests/sdk/openai_sdk.mjs holds the checks; this runs it as one test. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_util.h"

TEST(sdk_openai_node_client) {
    if (access("node_modules/openai/package.json", R_OK) != 0)
        TEST_SKIP("node_modules/openai missing (scripts/install-deps runs npm ci)");
    char node[PATH_MAX] = "/usr/bin/node";
    if (access(node, X_OK) != 0) TEST_SKIP("node is not installed");
    /* An encoder model beside stories260K, for the embeddings check. */
    char bert[PATH_MAX], link[PATH_MAX + 32];
    if (!realpath(test_shared_file("golden/embeddings/models/bert-mean-F32.gguf"), bert))
        test_fail(__FILE__, __LINE__, "cannot resolve the bert model");
    snprintf(link, sizeof link, "%s/bert.gguf", test_tmpdir());
    ASSERT_EQ_INT(symlink(bert, link), 0);
    api_server s;
    const char *flags[] = {"--parallel", "4", NULL};
    api_server_start(&s, flags);
    char *argv[] = {node, "tests/sdk/openai_sdk.mjs", s.base, NULL};
    char *out, *err;
    int st = test_run(argv, NULL, &out, &err);
    printf("%s", out);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) test_fail(__FILE__, __LINE__, "SDK checks failed:\n%s%s", out, err);
    ASSERT_CONTAINS(out, "9 of 9 SDK checks passed");
    free(out);
    free(err);
    api_server_stop(&s);
}
