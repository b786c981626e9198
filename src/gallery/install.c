/*
 * Installing a model: fetch its files into the models directory and write NAME.yaml (name,
 * parameters.model and the gallery entry's config), so models/ serves it. A lock file per
 * model (flock) serialises concurrent installs, across threads and processes; the downloader
 * and the config both appear by rename only when complete, so a reader never sees half a file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gallery_int.h"
#include "models/models.h"

static char *path_join(const char *dir, const char *name) {
    buf b = {0};
    buf_printf(&b, "%s/%s", dir, name);
    if (b.oom) {
        buf_free(&b);
        return NULL;
    }
    return b.data;
}

bool gal_is_installed(const char *models_path, const char *name) {
    if (!gal_safe_name(name)) return false;
    buf b = {0};
    buf_printf(&b, "%s/%s.yaml", models_path, name);
    struct stat st;
    bool ok = !b.oom && stat(b.data, &st) == 0;
    buf_free(&b);
    return ok;
}

/* Merge src into dst, objects recursively; src wins. */
static void merge(json_t *dst, json_t *src) {
    const char *k;
    json_t *v;
    json_object_foreach(src, k, v) {
        json_t *d = json_object_get(dst, k);
        if (json_is_object(d) && json_is_object(v)) merge(d, v);
        else json_object_set(dst, k, v);
    }
}

static bool plain_key(const char *k) {
    if (!*k) return false;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
              *k == '_' || *k == '-' || *k == '.'))
            return false;
    return true;
}

/* JSON is YAML's flow style, so scalars and lists are written as JSON; mappings as blocks to
 * keep the file readable. */
static void emit(buf *b, json_t *o, int indent) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (plain_key(k)) buf_printf(b, "%*s%s:", indent, "", k);
        else {
            json_t *js = json_string(k);
            char *q = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
            json_decref(js);
            buf_printf(b, "%*s%s:", indent, "", q ? q : "\"\"");
            free(q);
        }
        if (json_is_object(v) && json_object_size(v)) {
            buf_append_str(b, "\n");
            emit(b, v, indent + 2);
            continue;
        }
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        buf_printf(b, " %s\n", s ? s : "null");
        free(s);
    }
}

/* The config document for model name whose main file is model_file. */
static int build_config(const gal_entry *e, const char *name, const char *model_file,
                        const char *source, buf *out, err_buf *eb) {
    json_t *cfg = NULL;
    if (e && e->config_file) {
        cfg = gal_yaml_parse(e->config_file, strlen(e->config_file), eb);
        if (!cfg) {
            char why[sizeof eb->msg];
            snprintf(why, sizeof why, "%s", err_msg(eb));
            return err_set(eb, BASE_EFORMAT, "%s: bad config_file: %s", e->name, why);
        }
        if (!json_is_object(cfg)) {
            json_decref(cfg);
            cfg = NULL;
        }
    }
    if (!cfg) cfg = json_object();
    if (e && e->overrides) {
        json_t *ov = json_loads(e->overrides, 0, NULL);
        if (json_is_object(ov)) merge(cfg, ov);
        json_decref(ov);
    }
    json_object_set_new(cfg, "name", json_string(name));
    /* Every file the install fetched (LocalAI's download_files), so removing takes them all. */
    if (e && e->n_files) {
        json_t *files = json_array();
        for (int i = 0; i < e->n_files; i++) {
            json_t *f = json_object();
            json_object_set_new(f, "filename", json_string(e->files[i].filename));
            json_object_set_new(f, "uri", json_string(e->files[i].uri));
            if (e->files[i].sha256) json_object_set_new(f, "sha256", json_string(e->files[i].sha256));
            json_array_append_new(files, f);
        }
        json_object_set_new(cfg, "download_files", files);
    }
    /* Where it came from, so `run URI` finds it installed without asking the network again. */
    if (source) json_object_set_new(cfg, "source", json_string(source));
    json_t *params = json_object_get(cfg, "parameters");
    if (!json_is_object(params)) {
        params = json_object();
        json_object_set_new(cfg, "parameters", params);
    }
    if (!json_is_string(json_object_get(params, "model")) && model_file)
        json_object_set_new(params, "model", json_string(model_file));
    buf_printf(out, "# Installed by local-ai%s%s.\n", e ? " from gallery " : "",
               e ? e->gallery : "");
    emit(out, cfg, 0);
    json_decref(cfg);
    return out->oom ? err_set(eb, BASE_ENOMEM, "out of memory") : BASE_OK;
}

static int write_atomic(const char *path, const char *text, size_t len, err_buf *eb) {
    char *tmp = mem_alloc(strlen(path) + 5);
    if (!tmp) return err_set(eb, BASE_ENOMEM, "out of memory");
    sprintf(tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = BASE_OK;
    if (!f || fwrite(text, 1, len, f) != len || fflush(f) || fsync(fileno(f)))
        rc = err_set(eb, BASE_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (f && fclose(f) && !rc) rc = err_set(eb, BASE_EIO, "cannot write %s", tmp);
    if (!rc && rename(tmp, path)) rc = err_set(eb, BASE_EIO, "cannot rename %s", tmp);
    if (rc) unlink(tmp);
    mem_free(tmp);
    return rc;
}

/* An exclusive flock on models_path/.NAME.lock: the fd to close, or -1 with eb set. The lock
 * file stays: removing it would let a waiter lock a file nobody else sees. */
static int lock_name(const char *models_path, const char *name, err_buf *eb) {
    buf lb = {0};
    buf_printf(&lb, "%s/.%s.lock", models_path, name);
    if (lb.oom) {
        buf_free(&lb);
        err_set(eb, BASE_ENOMEM, "out of memory");
        return -1;
    }
    int fd = open(lb.data, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX)) {
        err_set(eb, BASE_EIO, "cannot lock %s: %s", lb.data, strerror(errno));
        if (fd >= 0) close(fd);
        fd = -1;
    }
    buf_free(&lb);
    return fd;
}

/* Fetch one file unless a good copy is already there. The file has its own lock, as models
 * installed under different names may share it. */
static int fetch_file(const gal_opts *o, const char *uri, const char *filename,
                      const char *sha256, err_buf *eb) {
    gal_target t;
    int rc = gal_resolve(o, uri, &t, eb);
    if (rc) return rc;
    const char *fname = filename ? filename : t.filename;
    const char *want = sha256 ? sha256 : t.sha256;
    char *dest = path_join(o->models_path, fname);
    int lock = -1;
    if (!dest) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    else if ((lock = lock_name(o->models_path, fname, eb)) < 0) rc = eb ? eb->code : BASE_EIO;
    struct stat st;
    if (!rc && stat(dest, &st) == 0) {
        char hex[65];
        if (!want || (!gal_sha256_file(dest, hex, NULL) && !strcasecmp(hex, want))) {
            log_info("gallery: %s is already there", fname);
            goto out;
        }
    }
    if (!rc) {
        const char *hdr[] = {t.auth, NULL};
        log_info("gallery: downloading %s from %s", fname, t.url);
        rc = gal_download(o, t.url, dest, want, hdr, NULL, eb);
    }
out:
    if (lock >= 0) close(lock);
    mem_free(dest);
    gal_target_free(&t);
    return rc;
}

int gal_install(const gal_opts *o, const gal_catalog *cat, const char *id, const char *name,
                char **out_name, err_buf *eb) {
    const gal_entry *e = NULL;
    gal_target t = {0};
    char *model_name = NULL, *lock_path = NULL, *cfg_path = NULL;
    int rc = BASE_OK, lock = -1;
    buf cfg = {0};
    if (!id || !*id) return err_set(eb, BASE_EINVAL, "no model named");
    if (gal_is_uri(id)) {
        /* Resolve once for the file name; fetch_file resolves again under the lock. */
        rc = gal_resolve(o, id, &t, eb);
        if (rc) return rc;
        model_name = name ? mem_strdup(name) : gal_strip_gguf(t.filename);
    } else {
        e = gal_catalog_find(cat, id);
        if (!e) return err_set(eb, BASE_ENOTFOUND, "no model '%s' in the galleries", id);
        model_name = mem_strdup(name ? name : e->name);
    }
    if (!model_name) {
        rc = err_set(eb, BASE_ENOMEM, "out of memory");
        goto out;
    }
    if (!gal_safe_name(model_name)) {
        rc = err_set(eb, BASE_EINVAL, "'%s' cannot be a model name", model_name);
        goto out;
    }
    if (mkdir(o->models_path, 0755) && errno != EEXIST) {
        rc = err_set(eb, BASE_EIO, "cannot create %s: %s", o->models_path, strerror(errno));
        goto out;
    }
    /* The config's lock is "..NAME.lock": never a file's ".FILE.lock", as no file name
     * starts with a dot (a process blocks on its own flock through a second descriptor). */
    buf lb = {0};
    buf_printf(&lb, ".%s", model_name);
    lock_path = lb.data;
    if (lb.oom) {
        rc = err_set(eb, BASE_ENOMEM, "out of memory");
        goto out;
    }
    if ((lock = lock_name(o->models_path, lock_path, eb)) < 0) {
        rc = eb ? eb->code : BASE_EIO;
        goto out;
    }
    const char *main_file = t.filename;
    if (e) {
        for (int i = 0; !rc && i < e->n_files; i++)
            rc = fetch_file(o, e->files[i].uri, e->files[i].filename, e->files[i].sha256, eb);
        main_file = e->n_files ? e->files[0].filename : NULL;
    } else {
        rc = fetch_file(o, id, t.filename, t.sha256, eb);
    }
    if (!rc) rc = build_config(e, model_name, main_file, e ? NULL : id, &cfg, eb);
    mdl_config *mc = NULL;
    /* Only write a config that the models registry will accept. */
    if (!rc) rc = mdl_config_parse(cfg.data, cfg.len, o->models_path, &mc, eb);
    mdl_config_free(mc);
    if (!rc) {
        buf cb = {0};
        buf_printf(&cb, "%s/%s.yaml", o->models_path, model_name);
        cfg_path = cb.data;
        rc = cb.oom ? err_set(eb, BASE_ENOMEM, "out of memory")
                    : write_atomic(cfg_path, cfg.data, cfg.len, eb);
    }
    if (!rc) log_info("gallery: installed %s", model_name);
out:
    if (lock >= 0) close(lock); /* releases the flock; the file stays for the next install */
    if (!rc && out_name) {
        *out_name = model_name;
        model_name = NULL;
    }
    mem_free(model_name);
    mem_free(lock_path);
    mem_free(cfg_path);
    buf_free(&cfg);
    gal_target_free(&t);
    return rc;
}

/* The name (heap, without .yaml) of the first config in the models directory, other than
 * skip.yaml, whose string at key (within parameters when in_params) equals value; NULL if
 * none. */
static char *find_config(const char *models_path, const char *skip, bool in_params,
                         const char *key, const char *value) {
    DIR *d = opendir(models_path);
    char *found = NULL;
    for (struct dirent *de; d && !found && (de = readdir(d));) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".yaml") ||
            (skip && n - 5 == strlen(skip) && !strncmp(de->d_name, skip, n - 5)))
            continue;
        char *p = path_join(models_path, de->d_name), *text = NULL;
        size_t len;
        err_buf ignore = {0};
        if (p && !file_read_all(p, &text, &len, &ignore)) {
            json_t *cfg = gal_yaml_parse(text, len, &ignore);
            json_t *obj = in_params ? json_object_get(cfg, "parameters") : cfg;
            const char *v = json_string_value(json_object_get(obj, key));
            if (v && !strcmp(v, value)) found = mem_strndup(de->d_name, n - 5);
            json_decref(cfg);
        }
        mem_free(text);
        mem_free(p);
    }
    if (d) closedir(d);
    return found;
}

/* Whether a config other than NAME.yaml names file as its parameters.model. */
static bool shared_file(const char *models_path, const char *name, const char *file) {
    char *other = find_config(models_path, name, true, "model", file);
    mem_free(other);
    return other != NULL;
}

/* Delete file (of model name's config) from the models directory. Only files inside it are
 * ours to delete, and only when no other config serves the same file as its model. */
static void remove_file(const char *models_path, const char *name, const char *file) {
    if (!file || !gal_safe_name(file) || shared_file(models_path, name, file)) return;
    char *mp = path_join(models_path, file);
    if (mp && unlink(mp) && errno != ENOENT) log_warn("gallery: cannot remove %s", mp);
    mem_free(mp);
}

char *gal_find_installed_uri(const char *models_path, const char *uri) {
    return find_config(models_path, NULL, false, "source", uri);
}

int gal_remove(const char *models_path, const char *name, err_buf *eb) {
    if (!gal_safe_name(name)) return err_set(eb, BASE_EINVAL, "'%s' is not a model name", name);
    buf p = {0};
    buf_printf(&p, "%s/%s.yaml", models_path, name);
    if (p.oom) return err_set(eb, BASE_ENOMEM, "out of memory");
    char *text = NULL;
    size_t len = 0;
    err_buf ignore = {0};
    int rc = file_read_all(p.data, &text, &len, &ignore);
    if (rc) {
        buf_free(&p);
        return err_set(eb, BASE_ENOTFOUND, "model '%s' is not installed", name);
    }
    json_t *cfg = gal_yaml_parse(text, len, &ignore);
    mem_free(text);
    const char *model = json_string_value(json_object_get(json_object_get(cfg, "parameters"), "model"));
    remove_file(models_path, name, model);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(cfg, "download_files"), i, f) {
        const char *fn = json_string_value(json_object_get(f, "filename"));
        if (fn && (!model || strcmp(fn, model))) remove_file(models_path, name, fn);
    }
    json_decref(cfg);
    if (unlink(p.data)) rc = err_set(eb, BASE_EIO, "cannot remove %s: %s", p.data, strerror(errno));
    buf_free(&p);
    if (!rc) log_info("gallery: removed %s", name);
    return rc;
}
