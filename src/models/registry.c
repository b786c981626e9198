/*
 * The model registry: what the models directory offers, and which of it is loaded.
 * Loading happens on the first request for a model, outside the registry lock (it reads a
 * whole file); requests for a model being loaded wait for it. Loaded models stay until the
 * registry is freed, the LRU rule unloads an idle one to make room, mdl_unload asks for it,
 * or the model's file goes away.
 *
 * The directory is rescanned when listing and when a name is looked up: a new file adds a
 * model, a file removed or rewritten (told by its inode, size and mtime) drops the models it
 * made. A dropped model that a request still holds is detached from the list and unloaded by
 * the last mdl_release; as that may run on the model's own scheduler thread (which the
 * unload joins), the unload then runs on a short-lived reaper thread.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat/chat.h"
#include "models_int.h"
#include "speech/speech.h"

const char mdl_chatml_template[] =
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

enum { ENTRY_UNLOADED, ENTRY_LOADING, ENTRY_LOADED };

struct mdl_handle {
    mdl_registry *reg;
    char *alias;     /* a second name (a bare GGUF without its extension), or NULL */
    mdl_config *cfg; /* cfg->name is the model's name */
    int state;
    int refs;
    uint64_t last_used;
    llm_model *model;
    tok *tok;
    tmpl *tmpl;
    int tool_format; /* chat_tool_format of the template in use */
    void *attach;
    uint64_t bytes;  /* what it holds in memory while loading or loaded (its file's size) */
    char *src;    /* the directory entry it came from: "x.yaml" or "x.gguf" */
    bool bare;    /* a GGUF served under its file name (no config) */
    bool removed; /* detached from the list; the last release unloads and frees it */
    mdl_handle *next_reap;
};

/* A directory entry already looked at, and what it was then, to see it change. */
typedef struct seen_file {
    char *name;
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
} seen_file;

struct mdl_registry {
    mdl_registry_params p;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a load finished */
    mdl_handle **entries;
    int n, cap;
    uint64_t clock;
    seen_file *seen; /* directory entries already looked at: a rescan reads only new files */
    int n_seen, cap_seen;
    mdl_handle *reap; /* detached entries with no holder left, to unload and free */
    int n_reapers;    /* reaper threads running */
    pthread_cond_t reaped;
};

mdl_registry_params mdl_registry_default_params(void) {
    return (mdl_registry_params){.models_path = "./models"};
}

static void entry_free(mdl_handle *e) {
    if (!e) return;
    mdl_config_free(e->cfg);
    mem_free(e->alias);
    mem_free(e->src);
    mem_free(e);
}

static mdl_handle *find_locked(mdl_registry *r, const char *name) {
    for (int i = 0; i < r->n; i++) {
        mdl_handle *e = r->entries[i];
        if (!strcmp(e->cfg->name, name) || (e->alias && !strcmp(e->alias, name))) return e;
    }
    return NULL;
}

/* Takes ownership of cfg (and frees it when the name is taken or on error). src: the
 * directory entry it came from, or NULL for a model no file makes (never dropped by a
 * rescan). */
static int add_entry(mdl_registry *r, mdl_config *cfg, const char *alias, const char *src) {
    if (find_locked(r, cfg->name) || (alias && find_locked(r, alias))) {
        mdl_config_free(cfg);
        return BASE_OK;
    }
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        mdl_handle **ne = mem_realloc(r->entries, (size_t)cap * sizeof *ne);
        if (!ne) {
            mdl_config_free(cfg);
            return BASE_ENOMEM;
        }
        r->entries = ne;
        r->cap = cap;
    }
    mdl_handle *e = mem_calloc(1, sizeof *e);
    if (!e || (alias && !(e->alias = mem_strdup(alias))) || (src && !(e->src = mem_strdup(src)))) {
        if (e) mem_free(e->alias);
        mem_free(e);
        mdl_config_free(cfg);
        return BASE_ENOMEM;
    }
    e->reg = r;
    e->cfg = cfg;
    e->bare = alias != NULL;
    r->entries[r->n++] = e;
    return BASE_OK;
}

static bool has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n > m && !strcmp(s + n - m, suf);
}

/* Is path the model file of a config already known? Compared as written (both are joined to
 * the models directory the same way), as LocalAI compares file names: a config that points
 * at a file elsewhere, even through a link, does not hide a GGUF of the directory. */
static bool file_claimed(mdl_registry *r, const char *path) {
    for (int i = 0; i < r->n; i++)
        if (!r->entries[i]->bare && r->entries[i]->cfg->model_path &&
            !strcmp(r->entries[i]->cfg->model_path, path))
            return true;
    return false;
}

static int64_t mtime_ns(const struct stat *st) {
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int find_seen(mdl_registry *r, const char *fn) {
    for (int i = 0; i < r->n_seen; i++)
        if (!strcmp(r->seen[i].name, fn)) return i;
    return -1;
}

/* Remember fn as looked at, as st describes it. */
static void remember(mdl_registry *r, const char *fn, const struct stat *st) {
    if (r->n_seen == r->cap_seen) {
        int cap = r->cap_seen ? r->cap_seen * 2 : 16;
        seen_file *ns = mem_realloc(r->seen, (size_t)cap * sizeof *ns);
        if (!ns) return;
        r->seen = ns;
        r->cap_seen = cap;
    }
    char *copy = mem_strdup(fn);
    if (!copy) return;
    r->seen[r->n_seen++] = (seen_file){copy, st->st_dev, st->st_ino, st->st_size, mtime_ns(st)};
}

static void forget(mdl_registry *r, int i) {
    mem_free(r->seen[i].name);
    r->seen[i] = r->seen[--r->n_seen];
}

/* Whether fn, stat'ed in the directory d, is new or has changed since it was looked at. */
static bool is_new(mdl_registry *r, int dfd, const char *fn, struct stat *st) {
    if (fstatat(dfd, fn, st, 0)) return false;
    return find_seen(r, fn) < 0;
}

/* Whether directory entry fn was looked at before (or cannot be); remembers it otherwise. */
static bool seen_before(mdl_registry *r, const char *fn) {
    if (find_seen(r, fn) >= 0) return true;
    buf path = {0};
    buf_printf(&path, "%s/%s", r->p.models_path, fn);
    struct stat st;
    bool skip = path.oom || stat(path.data, &st) != 0;
    buf_free(&path);
    if (!skip) remember(r, fn, &st);
    return skip;
}

static void scan_configs(mdl_registry *r, DIR *d) {
    const char *dir = r->p.models_path;
    for (struct dirent *de; (de = readdir(d));) {
        const char *fn = de->d_name;
        if (fn[0] == '.' || !(has_suffix(fn, ".yaml") || has_suffix(fn, ".yml"))) continue;
        if (seen_before(r, fn)) continue;
        buf path = {0};
        buf_printf(&path, "%s/%s", dir, fn);
        char *text = NULL;
        size_t len = 0;
        err_buf eb = {0};
        mdl_config *cfg = NULL;
        int rc = path.oom ? BASE_ENOMEM : file_read_all(path.data, &text, &len, &eb);
        if (!rc) rc = mdl_config_parse(text, len, dir, &cfg, &eb);
        mem_free(text);
        if (!rc && !cfg->name) {
            /* No name: the file name without its extension, as LocalAI does. */
            cfg->name = mem_strndup(fn, (size_t)(strrchr(fn, '.') - fn));
            if (!cfg->name) rc = err_set(&eb, BASE_ENOMEM, "out of memory");
        }
        if (!rc && !cfg->model_path && strcmp(cfg->backend, "sphinx") &&
            strcmp(cfg->backend, "pocketsphinx") && strcmp(cfg->backend, "espeak") &&
            strcmp(cfg->backend, "espeak-ng"))
            rc = err_set(&eb, BASE_EFORMAT, "no parameters.model");
        if (rc) {
            log_warn("models: skipping %s: %s", path.data ? path.data : fn, err_msg(&eb));
            mdl_config_free(cfg);
        } else if (add_entry(r, cfg, NULL, fn)) {
            log_warn("models: out of memory adding %s", fn);
        }
        buf_free(&path);
    }
}

static void scan_gguf(mdl_registry *r, DIR *d) {
    const char *dir = r->p.models_path;
    for (struct dirent *de; (de = readdir(d));) {
        const char *fn = de->d_name;
        struct stat st;
        if (fn[0] == '.' || !has_suffix(fn, ".gguf")) continue;
        if (!is_new(r, dirfd(d), fn, &st)) continue;
        mdl_config *cfg = mem_calloc(1, sizeof *cfg);
        buf path = {0};
        buf_printf(&path, "%s/%s", dir, fn);
        if (!cfg || path.oom || !(cfg->name = mem_strdup(fn)) || !(cfg->backend = mem_strdup(""))) {
            mdl_config_free(cfg);
            buf_free(&path);
            continue;
        }
        cfg->model_path = path.data;
        cfg->mmap = true;
        cfg->pooling = LLM_POOL_DEFAULT;
        /* A file a config serves is not remembered: when the config goes, it is served. */
        if (file_claimed(r, cfg->model_path)) {
            mdl_config_free(cfg);
            continue;
        }
        remember(r, fn, &st);
        char *stem = mem_strndup(fn, strlen(fn) - 5);
        if (!stem || add_entry(r, cfg, stem, fn)) log_warn("models: out of memory adding %s", fn);
        mem_free(stem);
    }
}

/* whisper.cpp ggml files (ggml-base.en.bin ...): served by the whisper backend, under the
 * file name with and without .bin. */
static void scan_whisper(mdl_registry *r, DIR *d) {
    const char *dir = r->p.models_path;
    for (struct dirent *de; (de = readdir(d));) {
        const char *fn = de->d_name;
        struct stat st;
        if (fn[0] == '.' || !has_suffix(fn, ".bin")) continue;
        if (!is_new(r, dirfd(d), fn, &st)) continue;
        buf path = {0};
        buf_printf(&path, "%s/%s", dir, fn);
        /* As for a GGUF, a file a config serves is not remembered. */
        if (path.oom || file_claimed(r, path.data)) {
            buf_free(&path);
            continue;
        }
        remember(r, fn, &st);
        if (!speech_file_is_whisper(path.data)) {
            buf_free(&path);
            continue;
        }
        mdl_config *cfg = mem_calloc(1, sizeof *cfg);
        if (!cfg || !(cfg->name = mem_strdup(fn)) || !(cfg->backend = mem_strdup("whisper"))) {
            mdl_config_free(cfg);
            buf_free(&path);
            continue;
        }
        cfg->model_path = path.data;
        char *stem = mem_strndup(fn, strlen(fn) - 4);
        if (!stem || add_entry(r, cfg, stem, fn)) log_warn("models: out of memory adding %s", fn);
        mem_free(stem);
    }
}

/* Built-in models that need no file: pocketsphinx (speech to text, also under OpenAI's
 * whisper-1 when no Whisper model is installed) and espeak-ng (speech, under OpenAI's tts-1
 * names). A config or file of the same name wins. */
static const struct {
    const char *name, *backend;
} builtins[] = {
    {"pocketsphinx", "sphinx"}, {"whisper-1", "sphinx"}, {"espeak", "espeak"},
    {"tts-1", "espeak"},        {"tts-1-hd", "espeak"},
};

bool mdl_name_is_builtin(const char *name) {
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        if (name && !strcmp(name, builtins[i].name)) return true;
    return false;
}

static void add_builtins(mdl_registry *r) {
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++) {
        if (find_locked(r, builtins[i].name)) continue;
        mdl_config *cfg = mem_calloc(1, sizeof *cfg);
        if (!cfg || !(cfg->name = mem_strdup(builtins[i].name)) ||
            !(cfg->backend = mem_strdup(builtins[i].backend)) || add_entry(r, cfg, NULL, NULL))
            log_warn("models: out of memory adding %s", builtins[i].name);
    }
}

bool mdl_backend_is_speech(const char *backend) {
    return backend && (!strcmp(backend, "whisper") || !strcmp(backend, "sphinx") ||
                       !strcmp(backend, "pocketsphinx") || !strcmp(backend, "espeak") ||
                       !strcmp(backend, "espeak-ng"));
}

/* By name, the built-in speech models after the models of the directory. */
static int cmp_entry(const void *a, const void *b) {
    const char *x = (*(mdl_handle *const *)a)->cfg->name, *y = (*(mdl_handle *const *)b)->cfg->name;
    int bx = mdl_name_is_builtin(x), by = mdl_name_is_builtin(y);
    return bx != by ? bx - by : strcmp(x, y);
}

/* Take e out of the list. Unused, it goes to the reap list; otherwise the last release (or a
 * load that ends) sends it there. */
static void detach_locked(mdl_registry *r, int i) {
    mdl_handle *e = r->entries[i];
    memmove(&r->entries[i], &r->entries[i + 1], (size_t)(r->n - i - 1) * sizeof *r->entries);
    r->n--;
    e->removed = true;
    if (e->refs == 0 && e->state != ENTRY_LOADING) {
        e->next_reap = r->reap;
        r->reap = e;
    }
    log_info("models: %s is gone from %s%s", e->cfg->name, r->p.models_path,
             e->refs ? " (unloaded when its requests end)" : "");
}

/* Drop the models made from directory entry fn. */
static void drop_src_locked(mdl_registry *r, const char *fn) {
    for (int i = r->n - 1; i >= 0; i--)
        if (r->entries[i]->src && !strcmp(r->entries[i]->src, fn)) detach_locked(r, i);
}

/* Whether directory entry fn is no longer what was seen (removed, replaced or rewritten). */
static bool changed(const mdl_registry *r, int dfd, const seen_file *sf) {
    struct stat st;
    if (fstatat(dfd, sf->name, &st, 0)) return true;
    return st.st_dev != sf->dev || st.st_ino != sf->ino || st.st_size != sf->size ||
           mtime_ns(&st) != sf->mtime_ns;
}

static void rescan_locked(mdl_registry *r) {
    DIR *d = opendir(r->p.models_path);
    if (!d) {
        /* The whole directory went away: so did its models. */
        while (r->n_seen) {
            drop_src_locked(r, r->seen[0].name);
            forget(r, 0);
        }
        add_builtins(r);
        qsort(r->entries, (size_t)r->n, sizeof *r->entries, cmp_entry);
        return;
    }
    for (int i = r->n_seen - 1; i >= 0; i--) {
        if (!changed(r, dirfd(d), &r->seen[i])) continue;
        drop_src_locked(r, r->seen[i].name);
        forget(r, i);
    }
    scan_configs(r, d);
    rewinddir(d);
    scan_gguf(r, d);
    rewinddir(d);
    scan_whisper(r, d);
    closedir(d);
    /* A GGUF served bare until a config came to serve it: only the config's name stays. */
    for (int i = r->n - 1; i >= 0; i--) {
        mdl_handle *e = r->entries[i];
        if (!e->bare || !e->src || !file_claimed(r, e->cfg->model_path)) continue;
        int k = find_seen(r, e->src);
        if (k >= 0) forget(r, k);
        detach_locked(r, i);
    }
    add_builtins(r);
    qsort(r->entries, (size_t)r->n, sizeof *r->entries, cmp_entry);
}

/* Whether e's file is still the one it was made from (one stat: cheaper than a rescan). */
static bool entry_fresh(mdl_registry *r, const mdl_handle *e) {
    if (!e->src) return true; /* no file made it */
    int k = find_seen(r, e->src);
    if (k < 0) return false;
    int dfd = open(r->p.models_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return false;
    bool fresh = !changed(r, dfd, &r->seen[k]);
    close(dfd);
    return fresh;
}

/* The entry called name, rescanning first when it is unknown or its file has changed. */
static mdl_handle *lookup_locked(mdl_registry *r, const char *name) {
    mdl_handle *e = find_locked(r, name);
    if (e && entry_fresh(r, e)) return e;
    rescan_locked(r);
    return find_locked(r, name);
}

/* Free what a load made; the entry must be unreachable for users (refs 0, not LOADED). */
static void unload_parts(mdl_registry *r, void *attach, tmpl *t, tok *tk, llm_model *m);

/* Unload and free every entry on the reap list. Takes the lock; call with it not held, and
 * never from a model's scheduler thread (the unload joins it). */
static void reap(mdl_registry *r) {
    pthread_mutex_lock(&r->mu);
    mdl_handle *list = r->reap;
    r->reap = NULL;
    pthread_mutex_unlock(&r->mu);
    while (list) {
        mdl_handle *e = list;
        list = e->next_reap;
        if (e->state == ENTRY_LOADED) {
            log_info("models: unloading %s", e->cfg->name);
            unload_parts(r, e->attach, e->tmpl, e->tok, e->model);
        }
        entry_free(e);
    }
}

static void *reaper_main(void *arg) {
    mdl_registry *r = arg;
    reap(r);
    pthread_mutex_lock(&r->mu);
    r->n_reapers--;
    pthread_cond_broadcast(&r->reaped);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* A detached entry lost its last holder (lock held): queue it, and unload it on a thread of
 * its own, as the caller may be the model's scheduler. */
static void release_detached_locked(mdl_registry *r, mdl_handle *e) {
    e->next_reap = r->reap;
    r->reap = e;
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    r->n_reapers++;
    /* Without a thread it stays queued: the next registry call (or the free) unloads it. */
    if (pthread_create(&th, &at, reaper_main, r)) r->n_reapers--;
    pthread_attr_destroy(&at);
}

int mdl_registry_rescan(mdl_registry *r) {
    pthread_mutex_lock(&r->mu);
    rescan_locked(r);
    int n = r->n;
    pthread_mutex_unlock(&r->mu);
    reap(r);
    return n;
}

int mdl_registry_find_backend(mdl_registry *r, const char *backend, char *name, size_t cap) {
    pthread_mutex_lock(&r->mu);
    rescan_locked(r);
    int rc = BASE_ENOTFOUND;
    for (int i = 0; i < r->n && rc; i++)
        if (!strcmp(r->entries[i]->cfg->backend, backend) && r->entries[i]->cfg->model_path) {
            snprintf(name, cap, "%s", r->entries[i]->cfg->name);
            rc = 0;
        }
    pthread_mutex_unlock(&r->mu);
    reap(r);
    return rc;
}

int mdl_registry_open(const mdl_registry_params *p, mdl_registry **out, err_buf *eb) {
    mdl_registry *r = mem_calloc(1, sizeof *r);
    if (!r) return err_set(eb, BASE_ENOMEM, "out of memory");
    r->p = *p;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    pthread_cond_init(&r->reaped, NULL);
    rescan_locked(r);
    log_info("models: %d model(s) in %s", r->n, p->models_path);
    *out = r;
    return BASE_OK;
}

/* Free what a load made; the entry must be unreachable for users (refs 0, not LOADED). */
static void unload_parts(mdl_registry *r, void *attach, tmpl *t, tok *tk, llm_model *m) {
    if (attach && r->p.on_unload) r->p.on_unload(r->p.ud, attach);
    tmpl_free(t);
    tok_free(tk);
    llm_model_free(m);
}

void mdl_registry_free(mdl_registry *r) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    while (r->n_reapers) pthread_cond_wait(&r->reaped, &r->mu);
    pthread_mutex_unlock(&r->mu);
    reap(r);
    for (int i = 0; i < r->n; i++) {
        mdl_handle *e = r->entries[i];
        if (e->state == ENTRY_LOADED) unload_parts(r, e->attach, e->tmpl, e->tok, e->model);
        entry_free(e);
    }
    mem_free(r->entries);
    for (int i = 0; i < r->n_seen; i++) mem_free(r->seen[i].name);
    mem_free(r->seen);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    pthread_cond_destroy(&r->reaped);
    mem_free(r);
}

int mdl_registry_list(mdl_registry *r, char ***names, int *n, err_buf *eb) {
    pthread_mutex_lock(&r->mu);
    rescan_locked(r);
    char **v = mem_calloc(r->n ? (size_t)r->n : 1, sizeof *v);
    int k = 0;
    for (; v && k < r->n; k++)
        if (!(v[k] = mem_strdup(r->entries[k]->cfg->name))) break;
    bool ok = v && k == r->n;
    pthread_mutex_unlock(&r->mu);
    reap(r);
    if (!ok) {
        mdl_names_free(v, k);
        return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    *names = v;
    *n = k;
    return BASE_OK;
}

void mdl_names_free(char **names, int n) {
    if (!names) return;
    for (int i = 0; i < n; i++) mem_free(names[i]);
    mem_free(names);
}

bool mdl_registry_has(mdl_registry *r, const char *name) {
    pthread_mutex_lock(&r->mu);
    bool found = lookup_locked(r, name) != NULL;
    pthread_mutex_unlock(&r->mu);
    reap(r);
    return found;
}

int mdl_registry_n_loaded(mdl_registry *r) {
    pthread_mutex_lock(&r->mu);
    int k = 0;
    for (int i = 0; i < r->n; i++) k += r->entries[i]->state != ENTRY_UNLOADED;
    pthread_mutex_unlock(&r->mu);
    return k;
}

/* The memory a model takes once loaded, estimated before loading: its weights, which are
 * the bulk of the file (mapped whole). 0 when the file cannot be read (loading reports why). */
static uint64_t model_bytes(const mdl_config *c) {
    struct stat st;
    return c->model_path && !stat(c->model_path, &st) ? (uint64_t)st.st_size : 0;
}

/* Make room for e: unload idle models, least recently used first, until one more model fits
 * under max_active and e's bytes fit under max_memory. Called with the lock held; drops it
 * while freeing. BASE_EBUSY (eb says why) when the memory budget cannot be met because the
 * models still loaded are in use; the count limit is best effort as before. */
static int make_room_locked(mdl_registry *r, mdl_handle *e, err_buf *eb) {
    for (;;) {
        int loaded = 0;
        uint64_t used = 0;
        mdl_handle *victim = NULL;
        for (int i = 0; i < r->n; i++) {
            mdl_handle *x = r->entries[i];
            if (x->state == ENTRY_UNLOADED) continue;
            loaded++;
            used += x->bytes;
            if (x->state == ENTRY_LOADED && x->refs == 0 &&
                (!victim || x->last_used < victim->last_used))
                victim = x;
        }
        bool count_ok = r->p.max_active <= 0 || loaded < r->p.max_active;
        bool mem_ok = !r->p.max_memory || used + e->bytes <= r->p.max_memory;
        if (count_ok && mem_ok) return BASE_OK;
        if (!victim) {
            if (mem_ok) return BASE_OK;
            return err_set(eb, BASE_EBUSY,
                           "model '%s' needs %.1f MiB but %.1f MiB of the --max-memory budget "
                           "(%.1f MiB) are held by models in use",
                           e->cfg->name, e->bytes / 1048576.0, used / 1048576.0,
                           r->p.max_memory / 1048576.0);
        }
        log_info("models: unloading %s (least recently used%s)", victim->cfg->name,
                 count_ok ? ", to fit --max-memory" : "");
        void *attach = victim->attach;
        tmpl *t = victim->tmpl;
        tok *tk = victim->tok;
        llm_model *m = victim->model;
        victim->attach = NULL, victim->tmpl = NULL, victim->tok = NULL, victim->model = NULL;
        victim->state = ENTRY_UNLOADED;
        pthread_mutex_unlock(&r->mu);
        unload_parts(r, attach, t, tk, m);
        pthread_mutex_lock(&r->mu);
    }
}

static bool vocab_has(void *ud, const char *text) {
    return tok_find((const tok *)ud, text, strlen(text)) >= 0;
}

static int load_template(mdl_handle *e, err_buf *eb) {
    const char *src = e->cfg->template_text;
    /* A config may name a built-in template ("template: llama3"): for models whose GGUF
     * carries none, or a wrong one. */
    if (src && !strchr(src, '{') && chat_template_builtin(src)) src = chat_template_builtin(src);
    size_t len = src ? strlen(src) : 0;
    str_slice gs;
    err_buf ignore = {0};
    if (!src && !gguf_get_str(llm_model_gguf(e->model), "tokenizer.chat_template", &gs, &ignore)) {
        src = gs.ptr;
        len = gs.len;
    }
    if (src) {
        err_buf teb = {0};
        if (!tmpl_compile(src, len, &e->tmpl, &teb)) {
            char *z = mem_strndup(src, len);
            e->tool_format = z ? (int)chat_tool_format_detect(z) : (int)CHAT_TOOLS_JSON;
            mem_free(z);
            return BASE_OK;
        }
        log_warn("models: %s: chat template does not compile (%s)", e->cfg->name,
                 err_msg(&teb));
    }
    /* No usable template: the built-in of the family the GGUF's vocabulary or architecture
     * names, else ChatML. */
    const char *why = NULL;
    const char *fam = chat_detect_family_vocab(llm_model_hparams(e->model)->arch, vocab_has,
                                               e->tok, &why);
    if (fam && strcmp(fam, "chatml")) {
        src = chat_template_builtin(fam);
        if (src && !tmpl_compile(src, strlen(src), &e->tmpl, eb)) {
            log_info("models: %s has no chat template; using the built-in '%s' (from its %s)",
                     e->cfg->name, fam, why);
            e->tool_format = (int)chat_tool_format_detect(src);
            return BASE_OK;
        }
    }
    log_info("models: %s has no chat template; using the built-in 'chatml'%s%s%s", e->cfg->name,
             fam ? " (from its " : "", fam ? why : "", fam ? ")" : "");
    e->tool_format = (int)chat_tool_format_detect(mdl_chatml_template);
    return tmpl_compile(mdl_chatml_template, sizeof mdl_chatml_template - 1, &e->tmpl, eb);
}

static int load_entry(mdl_handle *e, err_buf *eb) {
    const mdl_config *c = e->cfg;
    /* Speech backends load nothing here: on_load opens their engine (api/ knows them). */
    if (mdl_backend_is_speech(c->backend)) {
        int rc = e->reg->p.on_load ? e->reg->p.on_load(e->reg->p.ud, e, &e->attach, eb) : 0;
        if (!rc) log_info("models: loaded %s (%s)", c->name, c->backend);
        return rc;
    }
    if (c->backend[0] && strcmp(c->backend, "llm") && strcmp(c->backend, "llama-cpp") &&
        strcmp(c->backend, "llama"))
        return err_set(eb, BASE_EUNSUPPORTED, "model '%s': backend '%s' is not supported",
                       c->name, c->backend);
    uint64_t t0 = time_now_ns();
    int rc = llm_model_load(c->model_path, &e->model, eb);
    if (!rc) rc = tok_load(llm_model_gguf(e->model), &e->tok, eb);
    if (!rc) rc = load_template(e, eb);
    if (!rc && e->reg->p.on_load) rc = e->reg->p.on_load(e->reg->p.ud, e, &e->attach, eb);
    if (rc) {
        unload_parts(e->reg, e->attach, e->tmpl, e->tok, e->model);
        e->attach = NULL, e->tmpl = NULL, e->tok = NULL, e->model = NULL;
        return rc;
    }
    log_info("models: loaded %s from %s in %.0f ms (%s)", c->name, c->model_path,
             (double)(time_now_ns() - t0) / 1e6, llm_model_describe(e->model));
    return BASE_OK;
}

int mdl_acquire(mdl_registry *r, const char *name, mdl_handle **out, err_buf *eb) {
    *out = NULL;
    pthread_mutex_lock(&r->mu);
    mdl_handle *e = lookup_locked(r, name);
    if (!e) {
        pthread_mutex_unlock(&r->mu);
        reap(r);
        return err_set(eb, BASE_ENOTFOUND, "model '%s' not found", name);
    }
    e->refs++;
    for (;;) {
        while (e->state == ENTRY_LOADING) pthread_cond_wait(&r->cv, &r->mu);
        if (e->state == ENTRY_LOADED) break;
        e->bytes = model_bytes(e->cfg);
        if (r->p.max_memory && e->bytes > r->p.max_memory) {
            e->refs--;
            pthread_mutex_unlock(&r->mu);
            return err_set(eb, BASE_ENOMEM, "model '%s' needs %.1f MiB, more than --max-memory (%.1f MiB)",
                           name, e->bytes / 1048576.0, r->p.max_memory / 1048576.0);
        }
        int mrc = make_room_locked(r, e, eb);
        if (mrc) {
            e->refs--;
            pthread_mutex_unlock(&r->mu);
            log_warn("models: cannot load %s: %s", name, err_msg(eb));
            return mrc;
        }
        /* make_room may drop the lock: someone else may have begun loading meanwhile. */
        if (e->state != ENTRY_UNLOADED) continue;
        e->state = ENTRY_LOADING;
        pthread_mutex_unlock(&r->mu);
        int rc = load_entry(e, eb);
        pthread_mutex_lock(&r->mu);
        e->state = rc ? ENTRY_UNLOADED : ENTRY_LOADED;
        pthread_cond_broadcast(&r->cv);
        if (rc) {
            /* Detached meanwhile: this thread is no scheduler, so it may free it itself. */
            if (--e->refs == 0 && e->removed) {
                e->next_reap = r->reap;
                r->reap = e;
            }
            pthread_mutex_unlock(&r->mu);
            log_error("models: cannot load %s: %s", name, err_msg(eb));
            reap(r);
            return rc;
        }
        break;
    }
    e->last_used = ++r->clock;
    pthread_mutex_unlock(&r->mu);
    reap(r);
    *out = e;
    return BASE_OK;
}

void mdl_release(mdl_handle *h) {
    if (!h) return;
    mdl_registry *r = h->reg;
    pthread_mutex_lock(&r->mu);
    h->refs--;
    h->last_used = ++r->clock;
    if (h->refs == 0 && h->removed) release_detached_locked(r, h);
    pthread_mutex_unlock(&r->mu);
}

const char *mdl_handle_name(const mdl_handle *h) { return h->cfg->name; }
const mdl_config *mdl_handle_config(const mdl_handle *h) { return h->cfg; }
const llm_model *mdl_handle_model(const mdl_handle *h) { return h->model; }
const tok *mdl_handle_tok(const mdl_handle *h) { return h->tok; }
const tmpl *mdl_handle_tmpl(const mdl_handle *h) { return h->tmpl; }
int mdl_handle_tool_format(const mdl_handle *h) { return h->tool_format; }
void *mdl_handle_attach(const mdl_handle *h) { return h->attach; }

int mdl_acquire_loaded(mdl_registry *r, const char *name, mdl_handle **out) {
    *out = NULL;
    pthread_mutex_lock(&r->mu);
    mdl_handle *e = find_locked(r, name);
    bool ok = e && e->state == ENTRY_LOADED;
    if (ok) {
        e->refs++;
        e->last_used = ++r->clock;
        *out = e;
    }
    pthread_mutex_unlock(&r->mu);
    return ok ? BASE_OK : BASE_ENOTFOUND;
}

int mdl_unload(mdl_registry *r, const char *name, err_buf *eb) {
    pthread_mutex_lock(&r->mu);
    mdl_handle *e = lookup_locked(r, name);
    int rc = BASE_OK;
    if (!e) {
        rc = err_set(eb, BASE_ENOTFOUND, "model '%s' not found", name);
    } else if (e->state == ENTRY_LOADING || (e->state == ENTRY_LOADED && e->refs > 0)) {
        rc = err_set(eb, BASE_EBUSY, "model '%s' is %s", name,
                     e->state == ENTRY_LOADING ? "loading" : "in use");
    } else if (e->state == ENTRY_LOADED) {
        void *attach = e->attach;
        tmpl *t = e->tmpl;
        tok *tk = e->tok;
        llm_model *m = e->model;
        e->attach = NULL, e->tmpl = NULL, e->tok = NULL, e->model = NULL;
        e->state = ENTRY_UNLOADED;
        pthread_mutex_unlock(&r->mu);
        log_info("models: unloading %s (asked)", name);
        unload_parts(r, attach, t, tk, m);
        reap(r);
        return BASE_OK;
    }
    pthread_mutex_unlock(&r->mu);
    reap(r);
    return rc;
}

int mdl_registry_info(mdl_registry *r, mdl_info **out, int *n, err_buf *eb) {
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&r->mu);
    rescan_locked(r);
    mdl_info *v = mem_calloc(r->n ? (size_t)r->n : 1, sizeof *v);
    int k = 0;
    bool oom = !v;
    for (; v && k < r->n; k++) {
        const mdl_handle *e = r->entries[k];
        mdl_info *i = &v[k];
        i->name = mem_strdup(e->cfg->name);
        i->model_path = mem_strdup(e->cfg->model_path ? e->cfg->model_path : "");
        i->backend = mem_strdup(e->cfg->backend ? e->cfg->backend : "");
        i->source_file = mem_strdup(e->src ? e->src : "");
        if (!i->name || !i->model_path || !i->backend || !i->source_file) {
            oom = true;
            k++;
            break;
        }
        i->state = e->state == ENTRY_LOADED    ? MDL_STATE_LOADED
                   : e->state == ENTRY_LOADING ? MDL_STATE_LOADING
                                               : MDL_STATE_UNLOADED;
        i->in_use = e->refs;
        i->context_size = e->cfg->context_size;
        i->bare = e->bare;
        if (e->state == ENTRY_LOADED && e->model) {
            const llm_hparams *hp = llm_model_hparams(e->model);
            i->weight_bytes = hp->weight_bytes;
            i->n_ctx_train = hp->n_ctx_train;
            snprintf(i->arch, sizeof i->arch, "%s", hp->arch);
        }
    }
    pthread_mutex_unlock(&r->mu);
    reap(r);
    if (oom) {
        mdl_info_free(v, k);
        return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    for (int i = 0; i < k; i++) {
        struct stat st;
        if (v[i].model_path[0] && !stat(v[i].model_path, &st))
            v[i].file_bytes = (uint64_t)st.st_size;
    }
    *out = v;
    *n = k;
    return BASE_OK;
}

void mdl_info_free(mdl_info *v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++) {
        mem_free(v[i].name);
        mem_free(v[i].model_path);
        mem_free(v[i].backend);
        mem_free(v[i].source_file);
    }
    mem_free(v);
}
