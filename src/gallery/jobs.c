/*
 * Background installs and the LocalAI-compatible endpoints that drive them:
 * GET /models/available, POST /models/apply, GET /models/jobs[/{uuid}],
 * POST /models/delete/{name}, and cancelling a job (DELETE /models/jobs/{uuid} or
 * POST /models/jobs/{uuid}/cancel). Each apply runs gal_install on its own thread; the job
 * record is updated from the progress callback and read by the HTTP threads under one mutex.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "gallery_int.h"
#include "server/server.h"

#define MAX_JOBS 1024

typedef struct job {
    char uuid[37];
    char *id, *name;
    uint64_t done, total;
    uint64_t done_before, total_before; /* files of this job already fetched */
    uint64_t file_done, file_total;     /* the file being fetched */
    char file[128];                     /* its name */
    bool processed, deletion, failed, cancelled;
    _Atomic int cancel;
    char message[64];
    char error[256];
    pthread_t th;
    bool started;
    gal_jobs *owner;
    struct job *next;
} job;

struct gal_jobs {
    gal_opts o;
    const gal_catalog *cat;
    pthread_mutex_t mu;
    job *head;
    int n;
    void (*on_change)(void *ud); /* after an install or a removal */
    void *change_ud;
};

int gal_jobs_new(const gal_opts *o, const gal_catalog *cat, gal_jobs **out, err_buf *eb) {
    gal_jobs *j = mem_calloc(1, sizeof *j);
    if (!j) return err_set(eb, BASE_ENOMEM, "out of memory");
    /* libcurl's global state must exist before the first job thread uses it. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    j->o = *o;
    j->cat = cat;
    pthread_mutex_init(&j->mu, NULL);
    *out = j;
    return BASE_OK;
}

static void job_free(job *b) {
    mem_free(b->id);
    mem_free(b->name);
    mem_free(b);
}

void gal_jobs_on_change(gal_jobs *j, void (*fn)(void *ud), void *ud) {
    j->on_change = fn;
    j->change_ud = ud;
}

void gal_jobs_free(gal_jobs *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    for (job *b = j->head; b; b = b->next) b->cancel = 1;
    pthread_mutex_unlock(&j->mu);
    for (job *b = j->head; b; b = b->next)
        if (b->started) pthread_join(b->th, NULL);
    for (job *b = j->head, *nx; b; b = nx) {
        nx = b->next;
        job_free(b);
    }
    pthread_mutex_destroy(&j->mu);
    curl_global_cleanup();
    mem_free(j);
}

/* Progress of the job's current file; the bytes of the files before it add up, so a model
 * of several files reports one progress (it can only know the sizes fetched so far). */
static void on_progress(void *ud, const gal_progress *p) {
    job *b = ud;
    pthread_mutex_lock(&b->owner->mu);
    if (strcmp(b->file, p->file)) {
        b->done_before += b->file_done;
        b->total_before += b->file_total ? b->file_total : b->file_done;
        b->file_done = b->file_total = 0;
        snprintf(b->file, sizeof b->file, "%s", p->file);
    }
    b->file_done = p->done;
    b->file_total = p->total;
    b->done = b->done_before + p->done;
    b->total = p->total ? b->total_before + p->total : 0;
    snprintf(b->message, sizeof b->message, "downloading %s", p->file);
    pthread_mutex_unlock(&b->owner->mu);
}

static void *job_main(void *arg) {
    job *b = arg;
    gal_jobs *j = b->owner;
    gal_opts o = j->o;
    o.on_progress = on_progress;
    o.ud = b;
    o.cancel = &b->cancel;
    err_buf eb = {0};
    char *name = NULL;
    int rc = gal_install(&o, j->cat, b->id, b->name, &name, &eb);
    if (!rc && j->on_change) j->on_change(j->change_ud);
    pthread_mutex_lock(&j->mu);
    b->processed = true;
    if (rc == BASE_ECANCELED) {
        b->failed = b->cancelled = true;
        snprintf(b->error, sizeof b->error, "cancelled");
        snprintf(b->message, sizeof b->message, "cancelled");
        log_info("gallery: job %s (%s) cancelled", b->uuid, b->id);
    } else if (rc) {
        b->failed = true;
        snprintf(b->error, sizeof b->error, "%s", err_msg(&eb));
        snprintf(b->message, sizeof b->message, "error");
        log_error("gallery: job %s (%s): %s", b->uuid, b->id, err_msg(&eb));
    } else {
        snprintf(b->message, sizeof b->message, "completed");
        if (b->total == 0 || b->done < b->total) b->done = b->total = b->total ? b->total : 1;
    }
    pthread_mutex_unlock(&j->mu);
    mem_free(name);
    return NULL;
}

/* A new job record in the list (under no lock); NULL when full or out of memory. */
static job *job_add(gal_jobs *j, const char *id, const char *name) {
    job *b = mem_calloc(1, sizeof *b);
    if (!b) return NULL;
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = time_now_ns();
        for (int i = 0; i < 16; i++) r[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)i;
    }
    r[6] = (r[6] & 0x0f) | 0x40; /* a version 4 UUID */
    r[8] = (r[8] & 0x3f) | 0x80;
    char hex[33];
    gal_hex(r, 16, hex);
    snprintf(b->uuid, sizeof b->uuid, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
    b->id = mem_strdup(id);
    b->name = name ? mem_strdup(name) : NULL;
    b->owner = j;
    snprintf(b->message, sizeof b->message, "queued");
    if (!b->id || (name && !b->name)) {
        job_free(b);
        return NULL;
    }
    pthread_mutex_lock(&j->mu);
    if (j->n >= MAX_JOBS) {
        pthread_mutex_unlock(&j->mu);
        job_free(b);
        return NULL;
    }
    b->next = j->head;
    j->head = b;
    j->n++;
    pthread_mutex_unlock(&j->mu);
    return b;
}

/* ---- HTTP ---- */

static void respond_json(srv_req *r, int status, json_t *v) {
    char *s = json_dumps(v, JSON_COMPACT);
    if (s) srv_respond(r, status, "application/json", s, strlen(s));
    else srv_respond_error(r, 500, "server_error", "out of memory");
    free(s);
    json_decref(v);
}

static json_t *str_array(char **s, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_string(s[i]));
    return a;
}

static void on_available(srv_req *r, void *ud) {
    gal_jobs *j = ud;
    json_t *a = json_array();
    for (int i = 0; i < gal_catalog_size(j->cat); i++) {
        const gal_entry *e = gal_catalog_at(j->cat, i);
        json_t *o = json_object(), *g = json_object();
        json_object_set_new(g, "name", json_string(e->gallery));
        json_object_set_new(o, "id", json_sprintf("%s@%s", e->gallery, e->name));
        json_object_set_new(o, "name", json_string(e->name));
        json_object_set_new(o, "description", e->description ? json_string(e->description) : json_null());
        json_object_set_new(o, "license", e->license ? json_string(e->license) : json_null());
        json_object_set_new(o, "urls", str_array(e->urls, e->n_urls));
        json_object_set_new(o, "tags", str_array(e->tags, e->n_tags));
        json_object_set_new(o, "gallery", g);
        json_object_set_new(o, "installed", json_boolean(gal_is_installed(j->o.models_path, e->name)));
        json_array_append_new(a, o);
    }
    respond_json(r, 200, a);
}

static void reply_job(srv_req *r, job *b) {
    const char *host = srv_req_header(r, "Host");
    json_t *o = json_object();
    json_object_set_new(o, "uuid", json_string(b->uuid));
    json_object_set_new(o, "status", json_sprintf("http://%s/models/jobs/%s", host ? host : "localhost", b->uuid));
    respond_json(r, 200, o);
}

static void on_apply(srv_req *r, void *ud) {
    gal_jobs *j = ud;
    str_slice body = srv_req_body(r);
    json_t *req = json_loadb(body.ptr ? body.ptr : "", body.len, 0, NULL);
    const char *id = json_string_value(json_object_get(req, "id"));
    const char *url = json_string_value(json_object_get(req, "url"));
    const char *name = json_string_value(json_object_get(req, "name"));
    if (!json_is_object(req) || (!id && !url)) {
        json_decref(req);
        srv_respond_error(r, 400, "invalid_request_error", "expected a JSON object with \"id\" or \"url\"");
        return;
    }
    const char *what = id ? id : url;
    /* Over HTTP, a client must not make the server copy its own files around. */
    if (!strncasecmp(what, "file:", 5)) {
        srv_respond_error(r, 400, "invalid_request_error", "file:// URIs are for the command line");
        json_decref(req);
        return;
    }
    if (name && !gal_safe_name(name)) {
        srv_respond_error(r, 400, "invalid_request_error", "'%s' cannot be a model name", name);
        json_decref(req);
        return;
    }
    if (!gal_is_uri(what) && !gal_catalog_find(j->cat, what)) {
        srv_respond_error(r, 404, "invalid_request_error", "no model '%s' in the galleries", what);
        json_decref(req);
        return;
    }
    job *b = job_add(j, what, name);
    json_decref(req);
    if (!b) {
        srv_respond_error(r, 503, "server_error", "too many jobs");
        return;
    }
    /* started is written before the thread can be joined (only at gal_jobs_free). */
    pthread_mutex_lock(&j->mu);
    b->started = pthread_create(&b->th, NULL, job_main, b) == 0;
    if (!b->started) {
        b->processed = b->failed = true;
        snprintf(b->error, sizeof b->error, "cannot start a thread");
    }
    pthread_mutex_unlock(&j->mu);
    reply_job(r, b);
}

static char *human(char *out, size_t cap, uint64_t n) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int i = 0;
    while (v >= 1024 && i < 4) v /= 1024, i++;
    snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", v, u[i]);
    return out;
}

static json_t *job_json(job *b) {
    char fs[32], ds[32];
    json_t *o = json_object();
    json_object_set_new(o, "uuid", json_string(b->uuid));
    json_object_set_new(o, "id", json_string(b->id));
    json_object_set_new(o, "deletion", json_boolean(b->deletion));
    json_object_set_new(o, "processed", json_boolean(b->processed));
    json_object_set_new(o, "cancelled", json_boolean(b->cancelled));
    json_object_set_new(o, "file_name", json_string(b->file));
    json_object_set_new(o, "message", json_string(b->message));
    json_object_set_new(o, "error", b->failed ? json_string(b->error) : json_null());
    double pct = b->total ? 100.0 * (double)b->done / (double)b->total : 0;
    if (b->processed && !b->failed) pct = 100;
    json_object_set_new(o, "progress", json_real(pct));
    json_object_set_new(o, "file_size", json_string(human(fs, sizeof fs, b->total)));
    json_object_set_new(o, "downloaded_size", json_string(human(ds, sizeof ds, b->done)));
    json_object_set_new(o, "file_size_bytes", json_integer((json_int_t)b->total));
    json_object_set_new(o, "downloaded_bytes", json_integer((json_int_t)b->done));
    return o;
}

static void on_job(srv_req *r, void *ud) {
    gal_jobs *j = ud;
    const char *uuid = srv_req_path_rest(r);
    pthread_mutex_lock(&j->mu);
    json_t *o = NULL;
    if (!*uuid) {
        o = json_object();
        for (job *b = j->head; b; b = b->next) json_object_set_new(o, b->uuid, job_json(b));
    }
    for (job *b = j->head; *uuid && b; b = b->next)
        if (!strcmp(b->uuid, uuid)) o = job_json(b);
    pthread_mutex_unlock(&j->mu);
    if (!o) srv_respond_error(r, 404, "invalid_request_error", "no job '%s'", uuid);
    else respond_json(r, 200, o);
}

static void on_delete(srv_req *r, void *ud) {
    gal_jobs *j = ud;
    const char *name = srv_req_path_rest(r);
    err_buf eb = {0};
    int rc = gal_remove(j->o.models_path, name, &eb);
    if (rc) {
        srv_respond_error(r, rc == BASE_ENOTFOUND ? 404 : rc == BASE_EINVAL ? 400 : 500,
                          "invalid_request_error", "%s", err_msg(&eb));
        return;
    }
    if (j->on_change) j->on_change(j->change_ud);
    /* LocalAI answers deletions with a job too; ours is done already. */
    job *b = job_add(j, name, NULL);
    if (!b) {
        srv_respond(r, 200, "application/json", "{}", 2);
        return;
    }
    pthread_mutex_lock(&j->mu);
    b->deletion = b->processed = true;
    snprintf(b->message, sizeof b->message, "completed");
    pthread_mutex_unlock(&j->mu);
    reply_job(r, b);
}

/* DELETE /models/jobs/{uuid} or POST /models/jobs/{uuid}/cancel: stop a running install.
 * The job ends soon after (the download checks between chunks) with "cancelled"; what was
 * fetched stays as a .partial file that the next install of the model resumes. */
static void on_cancel(srv_req *r, void *ud) {
    gal_jobs *j = ud;
    const char *rest = srv_req_path_rest(r);
    size_t n = strlen(rest);
    bool post = !strcmp(srv_req_method(r), "POST");
    if (post) {
        if (n < 7 || strcmp(rest + n - 7, "/cancel")) {
            srv_respond_error(r, 404, "invalid_request_error", "no route for POST %s", srv_req_path(r));
            return;
        }
        n -= 7;
    }
    pthread_mutex_lock(&j->mu);
    job *b = j->head;
    while (b && (strlen(b->uuid) != n || strncmp(b->uuid, rest, n))) b = b->next;
    json_t *o = NULL;
    bool done = b && b->processed;
    if (b && !done) {
        b->cancel = 1;
        snprintf(b->message, sizeof b->message, "cancelling");
    }
    if (b) o = job_json(b);
    pthread_mutex_unlock(&j->mu);
    if (!b) srv_respond_error(r, 404, "invalid_request_error", "no job '%.*s'", (int)n, rest);
    else if (done) {
        json_decref(o);
        srv_respond_error(r, 409, "invalid_request_error", "job '%.*s' has already finished", (int)n, rest);
    } else respond_json(r, 200, o);
}

int gal_register_routes(server *s, gal_jobs *j) {
    static const struct {
        const char *method, *path;
        srv_handler h;
    } routes[] = {
        {"GET", "/models/available", on_available}, {"POST", "/models/apply", on_apply},
        {"GET", "/models/jobs", on_job},            {"GET", "/models/jobs/*", on_job},
        {"POST", "/models/delete/*", on_delete},   {"DELETE", "/models/jobs/*", on_cancel},
        {"POST", "/models/jobs/*", on_cancel},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        char v1[64];
        snprintf(v1, sizeof v1, "/v1%s", routes[i].path);
        int rc = server_route(s, routes[i].method, routes[i].path, routes[i].h, j);
        if (!rc) rc = server_route(s, routes[i].method, v1, routes[i].h, j);
        if (rc) return rc;
    }
    return BASE_OK;
}
