/* End-to-end tests of `local-ai` itself: the command line and the server's life cycle. */
#include "test.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t collect(char *p, size_t sz, size_t n, void *ud) {
    buf *b = ud;
    buf_append(b, p, sz * n);
    return sz * n;
}

/* GET url; returns the HTTP status (0 on a transport error) and the body in *body. */
static long http_get(const char *url, buf *body) {
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

/* Start `local-ai run` on an ephemeral port; returns the port. */
static unsigned start_server(int *pid, int *fd, char *const extra_args[]) {
    char *argv[16] = {(char *)test_bin_path(), "run", "--address", "127.0.0.1:0"};
    int n = 4;
    for (int i = 0; extra_args && extra_args[i] && n < 15; i++) argv[n++] = extra_args[i];
    argv[n] = NULL;
    ASSERT_EQ_INT(test_spawn(argv, NULL, pid, fd), 0);
    char line[1024];
    if (test_wait_line(*fd, "listening on http://", 10000, line, sizeof line) != 0) {
        kill(*pid, SIGKILL);
        test_fail(__FILE__, __LINE__, "server did not report listening");
    }
    const char *p = strstr(line, "http://127.0.0.1:");
    ASSERT_NOT_NULL(p);
    return (unsigned)atoi(p + strlen("http://127.0.0.1:"));
}

static int stop_server(int pid, int sig) {
    kill(pid, sig);
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

TEST(cli_no_command_is_usage_error) {
    char *argv[] = {(char *)test_bin_path(), NULL};
    char *out, *err;
    int st = test_run(argv, NULL, &out, &err);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ_INT(WEXITSTATUS(st), 2);
    ASSERT_CONTAINS(err, "usage: local-ai");
    free(out);
    free(err);
}

TEST(cli_unknown_command) {
    char *argv[] = {(char *)test_bin_path(), "frobnicate", NULL};
    char *err;
    int st = test_run(argv, NULL, NULL, &err);
    ASSERT_EQ_INT(WEXITSTATUS(st), 2);
    ASSERT_CONTAINS(err, "unknown command 'frobnicate'");
    free(err);
}

TEST(cli_help_lists_commands) {
    char *argv[] = {(char *)test_bin_path(), "--help", NULL};
    char *out;
    int st = test_run(argv, NULL, &out, NULL);
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);
    ASSERT_CONTAINS(out, "run");
    ASSERT_CONTAINS(out, "version");
    free(out);
}

TEST(cli_run_bad_flags) {
    struct {
        const char *flag, *value, *msg;
    } cases[] = {
        {"--bogus", NULL, "unknown flag '--bogus'"},
        {"--threads", "0", "bad thread count '0'"},
        {"--threads", "abc", "bad thread count 'abc'"},
        {"--address", "nonsense", "bad address 'nonsense'"},
        {"--address", "127.0.0.1:99999", "bad port"},
        {"--log-level", "loud", "bad log level 'loud'"},
        {"--threads", NULL, "needs a value"},
        {"--max-memory", "lots", "bad max memory 'lots'"},
        {"--max-memory", "8Q", "bad max memory '8Q'"},
        {"--max-memory", "-1", "bad max memory '-1'"},
        {"--cors-origin", "", "empty --cors-origin"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[] = {(char *)test_bin_path(), "run", (char *)cases[i].flag,
                        (char *)cases[i].value, NULL};
        char *err;
        int st = test_run(argv, NULL, NULL, &err);
        ASSERT_EQ_INT(WEXITSTATUS(st), 2);
        /* One error line first, then the usage. */
        ASSERT_TRUE(strncmp(err, "local-ai run: ", 14) == 0);
        ASSERT_CONTAINS(err, cases[i].msg);
        ASSERT_CONTAINS(err, "usage: local-ai run");
        free(err);
    }
}

TEST(cli_run_env_is_checked_and_flags_win) {
    /* A bad variable is reported... */
    char *argv[] = {(char *)test_bin_path(), "run", NULL};
    char *env_bad[] = {"LOCALAI_THREADS=many", NULL};
    char *err;
    int st = test_run(argv, env_bad, NULL, &err);
    ASSERT_EQ_INT(WEXITSTATUS(st), 2);
    ASSERT_CONTAINS(err, "bad thread count 'many'");
    free(err);
    /* ...but a flag overrides it. */
    char *argv2[] = {(char *)test_bin_path(), "run", "--threads", "2", "--log-level", "bogus", NULL};
    st = test_run(argv2, env_bad, NULL, &err);
    ASSERT_EQ_INT(WEXITSTATUS(st), 2);
    ASSERT_CONTAINS(err, "bad log level 'bogus'"); /* got past the thread check */
    free(err);
}

TEST(cli_run_serves_health_and_stops_on_sigint) {
    int pid, fd;
    unsigned port = start_server(&pid, &fd, NULL);
    char url[128];
    buf body = {0};
    snprintf(url, sizeof url, "http://127.0.0.1:%u/healthz", port);
    ASSERT_EQ_INT(http_get(url, &body), 200);
    ASSERT_EQ_STR(body.data, "OK");
    buf_free(&body);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/readyz", port);
    ASSERT_EQ_INT(http_get(url, &body), 200);
    buf_free(&body);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/no/such/route", port);
    ASSERT_EQ_INT(http_get(url, &body), 404);
    ASSERT_CONTAINS(body.data, "\"error\"");
    buf_free(&body);
    int st = stop_server(pid, SIGINT);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);
    close(fd);
}

TEST(cli_run_stops_on_sigterm) {
    int pid, fd;
    start_server(&pid, &fd, NULL);
    int st = stop_server(pid, SIGTERM);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);
    close(fd);
}

TEST(cli_run_port_in_use_fails_cleanly) {
    int pid, fd;
    unsigned port = start_server(&pid, &fd, NULL);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    char *argv[] = {(char *)test_bin_path(), "run", "--address", addr, NULL};
    char *err;
    int st = test_run(argv, NULL, NULL, &err);
    ASSERT_EQ_INT(WEXITSTATUS(st), 1);
    ASSERT_CONTAINS(err, "cannot listen");
    free(err);
    stop_server(pid, SIGTERM);
    close(fd);
}
