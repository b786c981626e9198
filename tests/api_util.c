/* Helpers for the end-to-end API tests (see api_util.h). */
#include "api_util.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

void api_server_start(api_server *s, const char *const *extra) {
    char stories[PATH_MAX];
    /* test_shared_file gives a relative path: the server runs elsewhere, so make it absolute. */
    if (!realpath(test_shared_file("testdata/llm/stories260K.gguf"), stories))
        test_fail(__FILE__, __LINE__, "cannot resolve stories260K.gguf");
    const char *dir = test_tmpdir();
    char path[PATH_MAX + 64], yaml[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/stories260K.gguf", dir);
    /* A second server in one test (replicas) shares the directory. */
    if (symlink(stories, path) != 0) ASSERT_EQ_INT(errno, EEXIST);
    snprintf(path, sizeof path, "%s/tiny.yaml", dir);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    snprintf(yaml, sizeof yaml, "name: tiny\nparameters:\n  model: %s\n  temperature: 0\n", stories);
    fputs(yaml, f);
    fclose(f);

    char *argv[32] = {(char *)test_bin_path(), "run", "--address", "127.0.0.1:0",
                      "--models-path", (char *)dir, "--threads", "1"};
    int n = 8;
    for (int i = 0; extra && extra[i] && n < 31; i++) argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    ASSERT_EQ_INT(test_spawn(argv, NULL, &s->pid, &s->fd), 0);
    char line[1024];
    if (test_wait_line(s->fd, "listening on http://", 20000, line, sizeof line) != 0) {
        kill(s->pid, SIGKILL);
        test_fail(__FILE__, __LINE__, "server did not report listening");
    }
    const char *p = strstr(line, "http://127.0.0.1:");
    ASSERT_NOT_NULL(p);
    s->port = (unsigned)atoi(p + strlen("http://127.0.0.1:"));
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", s->port);
}

void api_server_stop(api_server *s) {
    kill(s->pid, SIGTERM);
    int st = 0;
    waitpid(s->pid, &st, 0);
    /* A clean exit: no crash, no leak report under ASan. Otherwise show what it said last. */
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char tail[16384];
        ssize_t n, len = 0;
        while (len < (ssize_t)sizeof tail - 1 && (n = read(s->fd, tail + len, sizeof tail - 1 - (size_t)len)) > 0)
            len += n;
        tail[len] = 0;
        test_fail(__FILE__, __LINE__, "the server exited with status %d:\n%s", st, tail);
    }
    close(s->fd);
}

static size_t collect(char *p, size_t sz, size_t n, void *ud) {
    buf_append(ud, p, sz * n);
    return sz * n;
}

void api_http(api_server *s, const char *method, const char *path, const char *body,
              const char *const *headers, api_resp *r) {
    memset(r, 0, sizeof *r);
    char url[512];
    snprintf(url, sizeof url, "%s%s", s->base, path);
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, "Content-Type: application/json");
    for (int i = 0; headers && headers[i]; i++) hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        test_fail(__FILE__, __LINE__, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    if (r->body.data) r->json = json_loads(r->body.data, 0, NULL);
}

void api_resp_free(api_resp *r) {
    buf_free(&r->body);
    buf_free(&r->headers);
    json_decref(r->json);
}

json_t *api_sse_events(const char *body) {
    json_t *events = json_array();
    const char *p = body;
    bool done = false;
    ASSERT_NOT_NULL(p);
    while (*p) {
        if (done) test_fail(__FILE__, __LINE__, "data after [DONE]: %s", p);
        if (strncmp(p, "data: ", 6)) test_fail(__FILE__, __LINE__, "not an SSE data line: %.80s", p);
        p += 6;
        const char *end = strstr(p, "\n\n");
        if (!end) test_fail(__FILE__, __LINE__, "event without a blank line after it: %.80s", p);
        if (end - p == 6 && !strncmp(p, "[DONE]", 6)) {
            done = true;
        } else {
            json_error_t je;
            json_t *v = json_loadb(p, (size_t)(end - p), 0, &je);
            if (!v) test_fail(__FILE__, __LINE__, "event is not JSON (%s): %.*s", je.text, (int)(end - p), p);
            json_array_append_new(events, v);
        }
        p = end + 2;
    }
    if (!done) test_fail(__FILE__, __LINE__, "the stream did not end with [DONE]");
    return events;
}

const char *api_greedy_text(void) {
    static char text[4096];
    if (text[0]) return text;
    json_t *v = json_load_file(test_shared_file("testdata/llm/stories260K.greedy.json"), 0, NULL);
    ASSERT_NOT_NULL(v);
    snprintf(text, sizeof text, "%s", json_string_value(json_object_get(v, "generated_text")));
    json_decref(v);
    return text;
}

json_t *api_jget(json_t *v, const char *path) {
    char part[128];
    while (v && *path) {
        size_t n = strcspn(path, ".");
        snprintf(part, sizeof part, "%.*s", (int)n, path);
        path += n + (path[n] == '.');
        if (json_is_array(v)) v = json_array_get(v, (size_t)atoi(part));
        else v = json_object_get(v, part);
    }
    return v;
}

const char *api_jstr(json_t *v, const char *path) { return json_string_value(api_jget(v, path)); }

long long api_jint(json_t *v, const char *path) {
    json_t *x = api_jget(v, path);
    if (!json_is_integer(x)) test_fail(__FILE__, __LINE__, "%s is not an integer", path);
    return json_integer_value(x);
}
