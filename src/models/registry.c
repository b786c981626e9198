/*
 * The model registry: what the models directory offers, and which of it is loaded.
 * Loading happens on the first request for a model, outside the registry lock (it reads a
 * whole file); requests for a model being loaded wait for it. Loaded models stay until the
 * registry is freed or the LRU rule unloads an idle one to make room.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
};

struct mdl_registry {
    mdl_registry_params p;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a load finished */
    mdl_handle **entries;
    int n, cap;
    uint64_t clock;
    char **seen; /* directory entries already looked at, so a rescan reads only new files */
    int n_seen, cap_seen;
};

mdl_registry_params mdl_registry_default_params(void) {
    return (mdl_registry_params){.models_path = "./models"};
}

static void entry_free(mdl_handle *e) {
    if (!e) return;
    mdl_config_free(e->cfg);
    mem_free(e->alias);
    mem_free(e);
}

static mdl_handle *find_locked(mdl_registry *r, const char *name) {
    for (int i = 0; i < r->n; i++) {
        mdl_handle *e = r->entries[i];
        if (!strcmp(e->cfg->name, name) || (e->alias && !strcmp(e->alias, name))) return e;
    }
    return NULL;
}

/* Takes ownership of cfg (and frees it when the name is taken or on error). */
static int add_entry(mdl_registry *r, mdl_config *cfg, const char *alias) {
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
    if (!e || (alias && !(e->alias = mem_strdup(alias)))) {
        mem_free(e);
        mdl_config_free(cfg);
        return BASE_ENOMEM;
    }
    e->reg = r;
    e->cfg = cfg;
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
        if (r->entries[i]->cfg->model_path && !strcmp(r->entries[i]->cfg->model_path, path))
            return true;
    return false;
}

/* Whether fn was looked at before; remembers it otherwise. */
static bool seen_before(mdl_registry *r, const char *fn) {
    for (int i = 0; i < r->n_seen; i++)
        if (!strcmp(r->seen[i], fn)) return true;
    if (r->n_seen == r->cap_seen) {
        int cap = r->cap_seen ? r->cap_seen * 2 : 16;
        char **ns = mem_realloc(r->seen, (size_t)cap * sizeof *ns);
        if (!ns) return false;
        r->seen = ns;
        r->cap_seen = cap;
    }
    char *copy = mem_strdup(fn);
    if (copy) r->seen[r->n_seen++] = copy;
    return false;
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
        } else if (add_entry(r, cfg, NULL)) {
            log_warn("models: out of memory adding %s", fn);
        }
        buf_free(&path);
    }
}

static void scan_gguf(mdl_registry *r, DIR *d) {
    const char *dir = r->p.models_path;
    for (struct dirent *de; (de = readdir(d));) {
        const char *fn = de->d_name;
        if (fn[0] == '.' || !has_suffix(fn, ".gguf")) continue;
        if (seen_before(r, fn)) continue;
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
        if (file_claimed(r, cfg->model_path)) {
            mdl_config_free(cfg);
            continue;
        }
        char *stem = mem_strndup(fn, strlen(fn) - 5);
        if (!stem || add_entry(r, cfg, stem)) log_warn("models: out of memory adding %s", fn);
        mem_free(stem);
    }
}

/* whisper.cpp ggml files (ggml-base.en.bin ...): served by the whisper backend, under the
 * file name with and without .bin. */
static void scan_whisper(mdl_registry *r, DIR *d) {
    const char *dir = r->p.models_path;
    for (struct dirent *de; (de = readdir(d));) {
        const char *fn = de->d_name;
        if (fn[0] == '.' || !has_suffix(fn, ".bin") || seen_before(r, fn)) continue;
        buf path = {0};
        buf_printf(&path, "%s/%s", dir, fn);
        if (path.oom || file_claimed(r, path.data) || !speech_file_is_whisper(path.data)) {
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
        if (!stem || add_entry(r, cfg, stem)) log_warn("models: out of memory adding %s", fn);
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

static void add_builtins(mdl_registry *r) {
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++) {
        if (find_locked(r, builtins[i].name)) continue;
        mdl_config *cfg = mem_calloc(1, sizeof *cfg);
        if (!cfg || !(cfg->name = mem_strdup(builtins[i].name)) ||
            !(cfg->backend = mem_strdup(builtins[i].backend)) || add_entry(r, cfg, NULL))
            log_warn("models: out of memory adding %s", builtins[i].name);
    }
}

bool mdl_backend_is_speech(const char *backend) {
    return backend && (!strcmp(backend, "whisper") || !strcmp(backend, "sphinx") ||
                       !strcmp(backend, "pocketsphinx") || !strcmp(backend, "espeak") ||
                       !strcmp(backend, "espeak-ng"));
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp((*(mdl_handle *const *)a)->cfg->name, (*(mdl_handle *const *)b)->cfg->name);
}

static void rescan_locked(mdl_registry *r) {
    DIR *d = opendir(r->p.models_path);
    if (!d) {
        add_builtins(r);
        qsort(r->entries, (size_t)r->n, sizeof *r->entries, cmp_entry);
        return;
    }
    scan_configs(r, d);
    rewinddir(d);
    scan_gguf(r, d);
    rewinddir(d);
    scan_whisper(r, d);
    closedir(d);
    add_builtins(r);
    qsort(r->entries, (size_t)r->n, sizeof *r->entries, cmp_entry);
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
    return rc;
}

int mdl_registry_open(const mdl_registry_params *p, mdl_registry **out, err_buf *eb) {
    mdl_registry *r = mem_calloc(1, sizeof *r);
    if (!r) return err_set(eb, BASE_ENOMEM, "out of memory");
    r->p = *p;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
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
    for (int i = 0; i < r->n; i++) {
        mdl_handle *e = r->entries[i];
        if (e->state == ENTRY_LOADED) unload_parts(r, e->attach, e->tmpl, e->tok, e->model);
        entry_free(e);
    }
    mem_free(r->entries);
    for (int i = 0; i < r->n_seen; i++) mem_free(r->seen[i]);
    mem_free(r->seen);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
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
    bool found = find_locked(r, name) != NULL;
    if (!found) {
        rescan_locked(r);
        found = find_locked(r, name) != NULL;
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

int mdl_registry_n_loaded(mdl_registry *r) {
    pthread_mutex_lock(&r->mu);
    int k = 0;
    for (int i = 0; i < r->n; i++) k += r->entries[i]->state != ENTRY_UNLOADED;
    pthread_mutex_unlock(&r->mu);
    return k;
}

/* Make room for one more model: unload idle models, least recently used first. Called with
 * the lock held; drops it while freeing. */
static void make_room_locked(mdl_registry *r) {
    if (r->p.max_active <= 0) return;
    for (;;) {
        int loaded = 0;
        mdl_handle *victim = NULL;
        for (int i = 0; i < r->n; i++) {
            mdl_handle *e = r->entries[i];
            if (e->state == ENTRY_UNLOADED) continue;
            loaded++;
            if (e->state == ENTRY_LOADED && e->refs == 0 &&
                (!victim || e->last_used < victim->last_used))
                victim = e;
        }
        if (loaded < r->p.max_active || !victim) return;
        log_info("models: unloading %s (least recently used)", victim->cfg->name);
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
        log_warn("models: %s: chat template does not compile (%s); using ChatML", e->cfg->name,
                 err_msg(&teb));
    }
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
    mdl_handle *e = find_locked(r, name);
    if (!e) {
        rescan_locked(r);
        e = find_locked(r, name);
    }
    if (!e) {
        pthread_mutex_unlock(&r->mu);
        return err_set(eb, BASE_ENOTFOUND, "model '%s' not found", name);
    }
    e->refs++;
    for (;;) {
        while (e->state == ENTRY_LOADING) pthread_cond_wait(&r->cv, &r->mu);
        if (e->state == ENTRY_LOADED) break;
        make_room_locked(r);
        /* make_room may drop the lock: someone else may have begun loading meanwhile. */
        if (e->state != ENTRY_UNLOADED) continue;
        e->state = ENTRY_LOADING;
        pthread_mutex_unlock(&r->mu);
        int rc = load_entry(e, eb);
        pthread_mutex_lock(&r->mu);
        e->state = rc ? ENTRY_UNLOADED : ENTRY_LOADED;
        pthread_cond_broadcast(&r->cv);
        if (rc) {
            e->refs--;
            pthread_mutex_unlock(&r->mu);
            log_error("models: cannot load %s: %s", name, err_msg(eb));
            return rc;
        }
        break;
    }
    e->last_used = ++r->clock;
    pthread_mutex_unlock(&r->mu);
    *out = e;
    return BASE_OK;
}

void mdl_release(mdl_handle *h) {
    if (!h) return;
    mdl_registry *r = h->reg;
    pthread_mutex_lock(&r->mu);
    h->refs--;
    h->last_used = ++r->clock;
    pthread_mutex_unlock(&r->mu);
}

const char *mdl_handle_name(const mdl_handle *h) { return h->cfg->name; }
const mdl_config *mdl_handle_config(const mdl_handle *h) { return h->cfg; }
const llm_model *mdl_handle_model(const mdl_handle *h) { return h->model; }
const tok *mdl_handle_tok(const mdl_handle *h) { return h->tok; }
const tmpl *mdl_handle_tmpl(const mdl_handle *h) { return h->tmpl; }
int mdl_handle_tool_format(const mdl_handle *h) { return h->tool_format; }
void *mdl_handle_attach(const mdl_handle *h) { return h->attach; }
