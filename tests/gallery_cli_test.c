/* End to end: `local-ai models ...` and `local-ai run NAME|URI ...` against the local test
 * server (gallery index, Hugging Face and Ollama hosts all at 127.0.0.1), and the
 * LocalAI-compatible gallery endpoints (available, apply, jobs, delete). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_util.h"
#include "models/models.h"
#include "gallery/gallery.h"
#include "gallery_srv.h"

typedef struct env {
    char hf[96], ol[96], gal[128];
    char *vars[4];
} env;

static void env_init(env *e, gsrv *s) {
    snprintf(e->hf, sizeof e->hf, "LOCALAI_HF_ENDPOINT=%s", s->base);
    snprintf(e->ol, sizeof e->ol, "LOCALAI_OLLAMA_REGISTRY=%s", s->base);
    snprintf(e->gal, sizeof e->gal, "LOCALAI_GALLERIES=%s/index.yaml", s->base);
    e->vars[0] = e->hf;
    e->vars[1] = e->ol;
    e->vars[2] = e->gal;
    e->vars[3] = NULL;
}

/* Run `local-ai models ARGS... --models-path dir`; returns the exit code. */
static int models_cmd(env *e, const char *dir, const char *a1, const char *a2, const char *a3,
                      const char *a4, char **out, char **err) {
    char *argv[12] = {(char *)test_bin_path(), "models", "--models-path", (char *)dir};
    int n = 4;
    const char *a[] = {a1, a2, a3, a4};
    for (int i = 0; i < 4 && a[i]; i++) argv[n++] = (char *)a[i];
    argv[n] = NULL;
    int st = test_run(argv, e->vars, out, err);
    ASSERT_TRUE(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static bool exists(const char *dir, const char *name) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

/* `local-ai run` over dir with the models in extra installed first. */
static void run_start(api_server *s, env *e, const char *dir, const char *const *extra) {
    char *argv[24] = {(char *)test_bin_path(), "run", "--address", "127.0.0.1:0",
                      "--models-path", (char *)dir, "--threads", "1"};
    int n = 8;
    for (int i = 0; extra && extra[i] && n < 23; i++) argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    ASSERT_EQ_INT(test_spawn(argv, e->vars, &s->pid, &s->fd), 0);
    char line[1024];
    if (test_wait_line(s->fd, "listening on http://", 60000, line, sizeof line) != 0) {
        kill(s->pid, SIGKILL);
        test_fail(__FILE__, __LINE__, "server did not report listening");
    }
    const char *p = strstr(line, "http://127.0.0.1:");
    ASSERT_NOT_NULL(p);
    s->port = (unsigned)atoi(p + strlen("http://127.0.0.1:"));
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", s->port);
}

/* A chat completion from model answers with some text. */
static void assert_answers(api_server *s, const char *model) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon\"}],"
             "\"max_tokens\":8,\"temperature\":0}", model);
    api_resp r;
    api_http(s, "POST", "/v1/chat/completions", body, NULL, &r);
    if (r.status != 200) test_fail(__FILE__, __LINE__, "%s: %ld %s", model, r.status, r.body.data);
    const char *text = api_jstr(r.json, "choices.0.message.content");
    ASSERT_NOT_NULL(text);
    ASSERT_TRUE(strlen(text) > 0);
    ASSERT_EQ_INT(api_jint(r.json, "usage.completion_tokens"), 8);
    api_resp_free(&r);
}

TEST(gallery_cli_install_list_remove) {
    gsrv s;
    gsrv_start(&s);
    env e;
    env_init(&e, &s);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    char *out, *err;
    ASSERT_EQ_INT(models_cmd(&e, dir, "install", "stories", NULL, NULL, &out, &err), 0);
    ASSERT_CONTAINS(out, "installed stories");
    ASSERT_NULL(strchr(err, '\r')); /* no progress bar when stderr is not a terminal */
    free(out), free(err);
    ASSERT_TRUE(exists(dir, "stories260K.gguf"));
    ASSERT_EQ_INT(models_cmd(&e, dir, "install", "badsum", NULL, NULL, &out, &err), 1);
    ASSERT_CONTAINS(err, "cannot install badsum: sha256 mismatch for badsum.gguf");
    free(out), free(err);
    ASSERT_FALSE(exists(dir, "badsum.gguf"));
    ASSERT_FALSE(exists(dir, "badsum.gguf.partial"));
    ASSERT_EQ_INT(models_cmd(&e, dir, "install", "missing", NULL, NULL, &out, &err), 1);
    ASSERT_CONTAINS(err, "HTTP 404");
    free(out), free(err);
    ASSERT_EQ_INT(models_cmd(&e, dir, "install", "nope", NULL, NULL, &out, &err), 1);
    ASSERT_CONTAINS(err, "no model 'nope' in the galleries");
    free(out), free(err);
    char uri[128];
    snprintf(uri, sizeof uri, "%s/files/other.gguf", s.base);
    ASSERT_EQ_INT(models_cmd(&e, dir, "install", uri, "--name", "mine", &out, &err), 0);
    ASSERT_CONTAINS(out, "installed mine");
    free(out), free(err);
    /* The flag works as the variable does. */
    char gal[128];
    snprintf(gal, sizeof gal, "%s/index.yaml", s.base);
    env flag = e;
    flag.vars[2] = NULL;
    ASSERT_EQ_INT(models_cmd(&flag, dir, "list", "--galleries", gal, NULL, &out, &err), 0);
    ASSERT_CONTAINS(out, "stories                          installed  A tiny story model");
    ASSERT_CONTAINS(out, "qwen2.5-0.5b-instruct            -");
    ASSERT_CONTAINS(out, "mine                             installed");
    free(out), free(err);
    ASSERT_EQ_INT(models_cmd(&e, dir, "remove", "stories", NULL, NULL, &out, &err), 0);
    ASSERT_CONTAINS(out, "removed stories");
    free(out), free(err);
    ASSERT_FALSE(exists(dir, "stories260K.gguf"));
    ASSERT_FALSE(exists(dir, "stories.yaml"));
    ASSERT_EQ_INT(models_cmd(&e, dir, "remove", "stories", NULL, NULL, &out, &err), 1);
    ASSERT_CONTAINS(err, "model 'stories' is not installed");
    free(out), free(err);
    ASSERT_EQ_INT(models_cmd(&e, dir, NULL, NULL, NULL, NULL, &out, &err), 2);
    free(out), free(err);
    ASSERT_EQ_INT(models_cmd(&e, dir, "frob", NULL, NULL, NULL, &out, &err), 2);
    ASSERT_CONTAINS(err, "unknown subcommand 'frob'");
    free(out), free(err);
    ASSERT_EQ_INT(models_cmd(&e, dir, "install", NULL, NULL, NULL, &out, &err), 2);
    free(out), free(err);
    gsrv_stop(&s);
}

TEST(gallery_run_installs_hf_ollama_and_gallery_models) {
    gsrv s;
    gsrv_start(&s);
    s.cut_after = 200000; /* the first download is cut and resumed */
    env e;
    env_init(&e, &s);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    const char *extra[] = {"stories", "huggingface://test/tiny-GGUF/tiny-Q8_0.gguf",
                           "hf.co/test/tiny-GGUF:Q4_0", "ollama://tiny:latest", NULL};
    api_server srv;
    run_start(&srv, &e, dir, extra);
    ASSERT_TRUE(s.n_range >= 1);
    ASSERT_EQ_INT(s.n_manifest_accept, 2); /* resolved for the name, then under the lock */
    const char *names[] = {"stories", "tiny-Q8_0", "tiny-Q4_0", "tiny-latest"};
    for (int i = 0; i < 4; i++) assert_answers(&srv, names[i]);
    api_server_stop(&srv);
    /* Again, with the hosts down: everything is installed, so nothing is asked for. */
    gsrv_stop(&s);
    e.vars[2] = NULL; /* the built-in gallery only: "stories" is known as installed */
    run_start(&srv, &e, dir, extra);
    for (int i = 0; i < 4; i++) assert_answers(&srv, names[i]);
    api_server_stop(&srv);
}

static json_t *find_model(json_t *arr, const char *name) {
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (!strcmp(api_jstr(v, "name"), name)) return v;
    return NULL;
}

/* Poll a job until processed (bounded). */
static void wait_job(api_server *srv, const char *uuid, api_resp *r) {
    char path[128];
    snprintf(path, sizeof path, "/models/jobs/%s", uuid);
    for (int i = 0; i < 400; i++) {
        api_http(srv, "GET", path, NULL, NULL, r);
        ASSERT_EQ_INT(r->status, 200);
        if (json_is_true(api_jget(r->json, "processed"))) return;
        api_resp_free(r);
        usleep(25000);
    }
    test_fail(__FILE__, __LINE__, "job %s did not finish", uuid);
}

TEST(gallery_api_available_apply_jobs_delete) {
    gsrv s;
    gsrv_start(&s);
    s.throttle_us = 500;
    env e;
    env_init(&e, &s);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    api_server srv;
    run_start(&srv, &e, dir, NULL);
    api_resp r;
    api_http(&srv, "GET", "/models/available", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    json_t *m = find_model(r.json, "stories");
    ASSERT_NOT_NULL(m);
    ASSERT_TRUE(json_is_false(api_jget(m, "installed")));
    ASSERT_EQ_STR(api_jstr(m, "gallery.name"), "gallery1");
    ASSERT_NOT_NULL(find_model(r.json, "qwen3-0.6b"));
    api_resp_free(&r);

    api_http(&srv, "POST", "/models/apply", "{\"id\":\"gallery1@stories\"}", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    char uuid[64];
    snprintf(uuid, sizeof uuid, "%s", api_jstr(r.json, "uuid"));
    ASSERT_EQ_INT(strlen(uuid), 36);
    ASSERT_CONTAINS(api_jstr(r.json, "status"), uuid);
    api_resp_free(&r);
    wait_job(&srv, uuid, &r);
    ASSERT_TRUE(json_is_null(api_jget(r.json, "error")));
    ASSERT_NEAR(json_number_value(api_jget(r.json, "progress")), 100, 0.01);
    ASSERT_EQ_INT(api_jint(r.json, "downloaded_bytes"), s.len);
    ASSERT_EQ_STR(api_jstr(r.json, "message"), "completed");
    ASSERT_NOT_NULL(api_jstr(r.json, "file_size"));
    api_resp_free(&r);
    assert_answers(&srv, "stories");

    /* By URL with a name; a bad checksum fails with a clear error; unknown ids are 404. */
    char body[256];
    snprintf(body, sizeof body, "{\"url\":\"%s/files/u.gguf\",\"name\":\"byurl\"}", s.base);
    api_http(&srv, "POST", "/v1/models/apply", body, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    snprintf(uuid, sizeof uuid, "%s", api_jstr(r.json, "uuid"));
    api_resp_free(&r);
    wait_job(&srv, uuid, &r);
    ASSERT_TRUE(json_is_null(api_jget(r.json, "error")));
    api_resp_free(&r);
    assert_answers(&srv, "byurl");
    api_http(&srv, "POST", "/models/apply", "{\"id\":\"badsum\"}", NULL, &r);
    snprintf(uuid, sizeof uuid, "%s", api_jstr(r.json, "uuid"));
    api_resp_free(&r);
    wait_job(&srv, uuid, &r);
    ASSERT_CONTAINS(api_jstr(r.json, "error"), "sha256 mismatch");
    api_resp_free(&r);
    ASSERT_FALSE(exists(dir, "badsum.gguf"));
    api_http(&srv, "POST", "/models/apply", "{\"id\":\"nope\"}", NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    api_resp_free(&r);
    api_http(&srv, "POST", "/models/apply", "{\"url\":\"file:///etc/passwd\"}", NULL, &r);
    ASSERT_EQ_INT(r.status, 400);
    api_resp_free(&r);
    api_http(&srv, "POST", "/models/apply", "{}", NULL, &r);
    ASSERT_EQ_INT(r.status, 400);
    api_resp_free(&r);
    api_http(&srv, "GET", "/models/jobs/00000000-0000-0000-0000-000000000000", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    api_resp_free(&r);

    api_http(&srv, "GET", "/models/available", NULL, NULL, &r);
    ASSERT_TRUE(json_is_true(api_jget(find_model(r.json, "stories"), "installed")));
    api_resp_free(&r);
    api_http(&srv, "POST", "/models/delete/stories", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_NOT_NULL(api_jstr(r.json, "uuid"));
    api_resp_free(&r);
    ASSERT_FALSE(exists(dir, "stories.yaml"));
    ASSERT_FALSE(exists(dir, "stories260K.gguf"));
    api_http(&srv, "GET", "/models/available", NULL, NULL, &r);
    ASSERT_TRUE(json_is_false(api_jget(find_model(r.json, "stories"), "installed")));
    api_resp_free(&r);
    api_http(&srv, "POST", "/models/delete/stories", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    api_resp_free(&r);
    api_server_stop(&srv);
    gsrv_stop(&s);
}

TEST(gallery_api_shutdown_cancels_running_job) {
    gsrv s;
    gsrv_start(&s);
    s.throttle_us = 200000; /* about 6 KiB/s: far from done when the server stops */
    env e;
    env_init(&e, &s);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    api_server srv;
    run_start(&srv, &e, dir, NULL);
    api_resp r;
    api_http(&srv, "POST", "/models/apply", "{\"id\":\"stories\"}", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    usleep(300000);
    uint64_t t0 = time_now_ns();
    api_server_stop(&srv); /* a clean exit, soon */
    ASSERT_TRUE(time_now_ns() - t0 < 5000000000ull);
    ASSERT_FALSE(exists(dir, "stories260K.gguf"));
    ASSERT_TRUE(exists(dir, "stories260K.gguf.partial"));
    gsrv_stop(&s);
}

TEST(gallery_cli_progress_bar_on_a_terminal) {
    gsrv s;
    gsrv_start(&s);
    s.throttle_us = 6000;
    env e;
    env_init(&e, &s);
    char dir[512], uri[128];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    snprintf(uri, sizeof uri, "%s/files/stories260K.gguf", s.base);
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    ASSERT_TRUE(m >= 0);
    ASSERT_EQ_INT(grantpt(m), 0);
    ASSERT_EQ_INT(unlockpt(m), 0);
    char *slave = ptsname(m);
    ASSERT_NOT_NULL(slave);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        setsid();
        int t = open(slave, O_RDWR);
        int nul = open("/dev/null", O_WRONLY);
        if (t < 0 || nul < 0) _exit(127);
        dup2(t, 2);
        dup2(nul, 1);
        for (int i = 0; e.vars[i]; i++) putenv(e.vars[i]);
        execl(test_bin_path(), test_bin_path(), "models", "install", uri, "--models-path", dir,
              (char *)NULL);
        _exit(127);
    }
    char out[65536];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(m, out + len, sizeof out - 1 - len);
        if (n > 0) len += (size_t)n;
        else if (n < 0 && errno == EINTR) continue;
        else break; /* EIO once the child has closed the terminal */
        if (len == sizeof out - 1) break;
    }
    out[len] = 0;
    int st;
    waitpid(pid, &st, 0);
    close(m);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);
    ASSERT_CONTAINS(out, "\rstories260K.gguf");
    ASSERT_CONTAINS(out, "100.0% [==============================]");
    ASSERT_CONTAINS(out, "MiB/s");
    ASSERT_CONTAINS(out, "ETA");
    gsrv_stop(&s);
}

TEST(gallery_cli_concurrent_installs_across_processes) {
    gsrv s;
    gsrv_start(&s);
    s.throttle_us = 1000;
    env e;
    env_init(&e, &s);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    /* The same model twice, and a second name for the same file. */
    const char *names[3][2] = {{"stories", NULL}, {"stories", NULL}, {"stories", "again"}};
    int pid[3], fd[3];
    for (int i = 0; i < 3; i++) {
        char *argv[10] = {(char *)test_bin_path(), "models", "install", (char *)names[i][0],
                          "--models-path", dir, NULL, NULL, NULL};
        if (names[i][1]) argv[6] = "--name", argv[7] = (char *)names[i][1];
        ASSERT_EQ_INT(test_spawn(argv, e.vars, &pid[i], &fd[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        char line[512];
        test_wait_line(fd[i], "installed", 20000, line, sizeof line);
        int st;
        waitpid(pid[i], &st, 0);
        close(fd[i]);
        ASSERT_TRUE(WIFEXITED(st));
        ASSERT_EQ_INT(WEXITSTATUS(st), 0);
    }
    ASSERT_EQ_INT(s.n_file, 1);
    char p[1024], hex[65];
    snprintf(p, sizeof p, "%s/stories260K.gguf", dir);
    err_buf eb = {0};
    ASSERT_OK(gal_sha256_file(p, hex, &eb), &eb);
    ASSERT_EQ_STR(hex, s.sha);
    ASSERT_TRUE(exists(dir, "stories.yaml"));
    ASSERT_TRUE(exists(dir, "again.yaml"));
    ASSERT_FALSE(exists(dir, "stories260K.gguf.partial"));
    gsrv_stop(&s);
}

TEST(gallery_run_starts_with_an_unreachable_gallery) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    env e = {.vars = {"LOCALAI_GALLERIES=http://127.0.0.1:1/index.yaml", NULL}};
    api_server srv;
    run_start(&srv, &e, dir, NULL);
    api_resp r;
    api_http(&srv, "GET", "/models/available", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_NOT_NULL(find_model(r.json, "qwen2.5-0.5b-instruct"));
    api_resp_free(&r);
    api_server_stop(&srv);
}

TEST(gallery_api_needs_the_api_key) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    env e = {.vars = {NULL}};
    const char *extra[] = {"--api-key", "sekret", NULL};
    api_server srv;
    run_start(&srv, &e, dir, extra);
    api_resp r;
    api_http(&srv, "POST", "/models/apply", "{\"id\":\"qwen3-0.6b\"}", NULL, &r);
    ASSERT_EQ_INT(r.status, 401);
    api_resp_free(&r);
    api_http(&srv, "POST", "/models/delete/x", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 401);
    api_resp_free(&r);
    const char *auth[] = {"Authorization: Bearer sekret", NULL};
    api_http(&srv, "GET", "/v1/models/available", NULL, auth, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    api_server_stop(&srv);
}

/* The ids of /v1/models as one string: "a,b". */
static const char *model_ids(api_server *srv) {
    static char out[1024];
    api_resp r;
    api_http(srv, "GET", "/v1/models", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    out[0] = 0;
    size_t i;
    json_t *v;
    json_array_foreach(api_jget(r.json, "data"), i, v) /* built-in speech models left out */
        if (!mdl_name_is_builtin(api_jstr(v, "id")))
            snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", *out ? "," : "", api_jstr(v, "id"));
    api_resp_free(&r);
    return out;
}

/* Installed models are listed at once, removed ones vanish at once (a loaded one is unloaded);
 * a model of several files is one job with one progress, and removing it removes them all. */
TEST(gallery_api_install_and_delete_show_in_models_at_once) {
    gsrv s;
    gsrv_start(&s);
    env e;
    env_init(&e, &s);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    api_server srv;
    run_start(&srv, &e, dir, NULL);
    ASSERT_EQ_STR(model_ids(&srv), "");
    api_resp r;
    api_http(&srv, "POST", "/models/apply", "{\"id\":\"multi\"}", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    char uuid[64];
    snprintf(uuid, sizeof uuid, "%s", api_jstr(r.json, "uuid"));
    api_resp_free(&r);
    wait_job(&srv, uuid, &r);
    ASSERT_TRUE(json_is_null(api_jget(r.json, "error")));
    ASSERT_EQ_INT(api_jint(r.json, "downloaded_bytes"), 2 * s.len); /* both files counted */
    ASSERT_NEAR(json_number_value(api_jget(r.json, "progress")), 100, 0.01);
    api_resp_free(&r);
    ASSERT_EQ_INT(s.n_file, 2);
    ASSERT_TRUE(exists(dir, "multi.gguf") && exists(dir, "multi-extra.bin"));
    ASSERT_EQ_STR(model_ids(&srv), "multi");
    assert_answers(&srv, "multi");

    /* The extended listing says it is loaded, with its memory and context. */
    api_http(&srv, "GET", "/api/models", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(api_jstr(r.json, "data.0.id"), "multi");
    ASSERT_EQ_STR(api_jstr(r.json, "data.0.state"), "loaded");
    ASSERT_TRUE(api_jint(r.json, "data.0.memory_bytes") > 0);
    ASSERT_TRUE(api_jint(r.json, "data.0.context_size") > 0);
    api_resp_free(&r);

    /* Deleting it while loaded: gone from /v1/models and the extended listing at once. */
    api_http(&srv, "POST", "/models/delete/multi", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    ASSERT_FALSE(exists(dir, "multi.gguf") || exists(dir, "multi-extra.bin"));
    ASSERT_EQ_STR(model_ids(&srv), "");
    api_http(&srv, "GET", "/api/models", NULL, NULL, &r);
    size_t k;
    json_t *v;
    json_array_foreach(api_jget(r.json, "data"), k, v) /* only the built-in speech models */
        ASSERT_TRUE(mdl_name_is_builtin(api_jstr(v, "id")));
    api_resp_free(&r);
    const char *chat = "{\"model\":\"multi\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    api_http(&srv, "POST", "/v1/chat/completions", chat, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    api_resp_free(&r);

    /* `local-ai models remove` from another process: gone from the running server too. */
    char *out, *err;
    ASSERT_EQ_INT(models_cmd(&e, dir, "install", "stories", NULL, NULL, &out, &err), 0);
    free(out), free(err);
    ASSERT_EQ_STR(model_ids(&srv), "stories");
    assert_answers(&srv, "stories");
    ASSERT_EQ_INT(models_cmd(&e, dir, "remove", "stories", NULL, NULL, &out, &err), 0);
    free(out), free(err);
    ASSERT_EQ_STR(model_ids(&srv), "");
    api_server_stop(&srv);
    gsrv_stop(&s);
}

TEST(gallery_api_cancel_a_job) {
    gsrv s;
    gsrv_start(&s);
    s.throttle_us = 200000; /* slow: still running when cancelled */
    env e;
    env_init(&e, &s);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    api_server srv;
    run_start(&srv, &e, dir, NULL);
    api_resp r;
    char uuid[64], path[160];
    for (int form = 0; form < 2; form++) {
        api_http(&srv, "POST", "/models/apply", "{\"id\":\"stories\"}", NULL, &r);
        ASSERT_EQ_INT(r.status, 200);
        snprintf(uuid, sizeof uuid, "%s", api_jstr(r.json, "uuid"));
        api_resp_free(&r);
        usleep(300000);
        if (form == 0) {
            snprintf(path, sizeof path, "/models/jobs/%s", uuid);
            api_http(&srv, "DELETE", path, NULL, NULL, &r);
        } else {
            snprintf(path, sizeof path, "/v1/models/jobs/%s/cancel", uuid);
            api_http(&srv, "POST", path, NULL, NULL, &r);
        }
        ASSERT_EQ_INT(r.status, 200);
        ASSERT_EQ_STR(api_jstr(r.json, "uuid"), uuid);
        api_resp_free(&r);
        uint64_t t0 = time_now_ns();
        wait_job(&srv, uuid, &r);
        ASSERT_TRUE(time_now_ns() - t0 < 3000000000ull);
        ASSERT_TRUE(json_is_true(api_jget(r.json, "cancelled")));
        ASSERT_EQ_STR(api_jstr(r.json, "error"), "cancelled");
        ASSERT_EQ_STR(api_jstr(r.json, "message"), "cancelled");
        api_resp_free(&r);
        ASSERT_FALSE(exists(dir, "stories.yaml"));
        ASSERT_FALSE(exists(dir, "stories260K.gguf"));
        /* A finished job cannot be cancelled; an unknown one is 404. */
        snprintf(path, sizeof path, "/models/jobs/%s", uuid);
        api_http(&srv, "DELETE", path, NULL, NULL, &r);
        ASSERT_EQ_INT(r.status, 409);
        api_resp_free(&r);
    }
    api_http(&srv, "DELETE", "/models/jobs/00000000-0000-0000-0000-000000000000", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    api_resp_free(&r);
    /* The next install resumes what the cancelled one fetched. */
    s.throttle_us = 0;
    int ranges = s.n_range;
    api_http(&srv, "POST", "/models/apply", "{\"id\":\"stories\"}", NULL, &r);
    snprintf(uuid, sizeof uuid, "%s", api_jstr(r.json, "uuid"));
    api_resp_free(&r);
    wait_job(&srv, uuid, &r);
    ASSERT_TRUE(json_is_null(api_jget(r.json, "error")));
    api_resp_free(&r);
    ASSERT_TRUE(s.n_range > ranges);
    assert_answers(&srv, "stories");
    api_server_stop(&srv);
    gsrv_stop(&s);
}
