/*
 * The gallery index: LocalAI's YAML format, a list of entries (name, description, license,
 * urls, tags, files: [{filename, uri, sha256}], config_file, overrides). The built-in index
 * comes first; galleries from --galleries / LOCALAI_GALLERIES (URLs or paths) follow.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "gallery_int.h"

#define INDEX_MAX (32u << 20)

struct gal_catalog {
    gal_entry *e;
    int n, cap;
};

/* A YAML node as JSON: mappings to objects, sequences to arrays, plain scalars that read as
 * numbers or booleans to those, every other scalar to a string. Depth-bounded. */
static json_t *gal_yaml_to_json(yaml_document_t *d, yaml_node_t *n, int depth) {
    if (!n || depth > 64) return NULL;
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = (const char *)n->data.scalar.value;
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            char *end;
            if (!strcmp(s, "true") || !strcmp(s, "false")) return json_boolean(s[0] == 't');
            if (!strcmp(s, "null") || !strcmp(s, "~")) return json_null();
            long long iv = strtoll(s, &end, 10);
            if (*s && !*end) return json_integer(iv);
            double dv = strtod(s, &end);
            if (*s && !*end) return json_real(dv);
        }
        return json_stringn(s, n->data.scalar.length);
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start; a && it < n->data.sequence.items.top; it++) {
            json_t *v = gal_yaml_to_json(d, yaml_document_get_node(d, *it), depth + 1);
            if (!v || json_array_append_new(a, v)) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    if (n->type == YAML_MAPPING_NODE) {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; o && p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(d, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) continue;
            json_t *v = gal_yaml_to_json(d, yaml_document_get_node(d, p->value), depth + 1);
            if (!v || json_object_set_new(o, (const char *)k->data.scalar.value, v)) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    return json_null();
}

json_t *gal_yaml_parse(const char *text, size_t len, err_buf *eb) {
    yaml_parser_t p;
    yaml_document_t d;
    if (!yaml_parser_initialize(&p)) {
        err_set(eb, BASE_ENOMEM, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    json_t *v = NULL;
    if (!yaml_parser_load(&p, &d)) {
        err_set(eb, BASE_EFORMAT, "bad YAML at line %zu: %s", p.problem_mark.line + 1,
                p.problem ? p.problem : "?");
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&d);
        v = root ? gal_yaml_to_json(&d, root, 0) : json_null();
        if (!v) err_set(eb, BASE_EFORMAT, "YAML too deep or out of memory");
        yaml_document_delete(&d);
    }
    yaml_parser_delete(&p);
    return v;
}

/* Set when a copy below fails, so that running out of memory is not mistaken for a bad
 * index. Per thread: catalogs may load on several threads. */
static __thread bool oom;

static char *jdup(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    char *d = s ? mem_strdup(s) : NULL;
    if (s && !d) oom = true;
    return d;
}

static char **str_list(json_t *a, int *n) {
    *n = 0;
    size_t cnt = json_array_size(a);
    char **out = cnt ? mem_calloc(cnt, sizeof *out) : NULL;
    if (cnt && !out) oom = true;
    for (size_t i = 0; out && i < cnt; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (s && !(out[*n] = mem_strdup(s))) oom = true;
        else if (s) (*n)++;
    }
    return out;
}

static void entry_free(gal_entry *e) {
    mem_free(e->name);
    mem_free(e->description);
    mem_free(e->license);
    mem_free(e->gallery);
    for (int i = 0; i < e->n_urls; i++) mem_free(e->urls[i]);
    for (int i = 0; i < e->n_tags; i++) mem_free(e->tags[i]);
    mem_free(e->urls);
    mem_free(e->tags);
    for (int i = 0; i < e->n_files; i++) {
        mem_free(e->files[i].filename);
        mem_free(e->files[i].uri);
        mem_free(e->files[i].sha256);
    }
    mem_free(e->files);
    mem_free(e->config_file);
    mem_free(e->overrides);
}

static int entry_parse(json_t *o, const char *gname, gal_entry *e, int idx, err_buf *eb);

static int entry_from_json(json_t *o, const char *gname, gal_entry *e, int idx, err_buf *eb) {
    oom = false;
    int rc = entry_parse(o, gname, e, idx, eb);
    return oom ? err_set(eb, BASE_ENOMEM, "out of memory") : rc;
}

static int entry_parse(json_t *o, const char *gname, gal_entry *e, int idx, err_buf *eb) {
    memset(e, 0, sizeof *e);
    e->name = jdup(o, "name");
    if (!e->name || !gal_safe_name(e->name))
        return err_set(eb, BASE_EFORMAT, "gallery %s: entry %d has no usable name", gname, idx);
    e->gallery = mem_strdup(gname);
    e->description = jdup(o, "description");
    e->license = jdup(o, "license");
    e->urls = str_list(json_object_get(o, "urls"), &e->n_urls);
    e->tags = str_list(json_object_get(o, "tags"), &e->n_tags);
    e->config_file = jdup(o, "config_file");
    json_t *ov = json_object_get(o, "overrides");
    if (json_is_object(ov)) {
        char *s = json_dumps(ov, JSON_COMPACT);
        e->overrides = s ? mem_strdup(s) : NULL;
        if (!e->overrides) oom = true;
        free(s);
    }
    json_t *files = json_object_get(o, "files");
    size_t nf = json_array_size(files);
    if (nf) e->files = mem_calloc(nf, sizeof *e->files);
    for (size_t i = 0; e->files && i < nf; i++) {
        json_t *f = json_array_get(files, i);
        gal_file *g = &e->files[e->n_files];
        g->filename = jdup(f, "filename");
        g->uri = jdup(f, "uri");
        g->sha256 = jdup(f, "sha256");
        if (g->sha256 && !*g->sha256) {
            mem_free(g->sha256);
            g->sha256 = NULL;
        }
        e->n_files++;
        if (!g->filename || !g->uri || !gal_safe_name(g->filename))
            return err_set(eb, BASE_EFORMAT, "gallery %s: %s: a file needs a plain filename and a uri",
                           gname, e->name);
    }
    if (!e->gallery || (nf && !e->files)) return err_set(eb, BASE_ENOMEM, "out of memory");
    return BASE_OK;
}

int gal_catalog_add_yaml(gal_catalog *cat, const char *gname, const char *text, size_t len,
                         err_buf *eb) {
    json_t *v = gal_yaml_parse(text, len, eb);
    if (!v) return eb && eb->code ? eb->code : BASE_EFORMAT;
    if (!json_is_array(v)) {
        json_decref(v);
        return err_set(eb, BASE_EFORMAT, "gallery %s: expected a list of models", gname);
    }
    int rc = BASE_OK;
    size_t i;
    json_t *o;
    json_array_foreach(v, i, o) {
        if (cat->n == cat->cap) {
            int nc = cat->cap ? cat->cap * 2 : 32;
            gal_entry *ne = mem_realloc(cat->e, (size_t)nc * sizeof *ne);
            if (!ne) {
                rc = err_set(eb, BASE_ENOMEM, "out of memory");
                break;
            }
            cat->e = ne;
            cat->cap = nc;
        }
        rc = entry_from_json(o, gname, &cat->e[cat->n], (int)i, eb);
        if (rc) {
            entry_free(&cat->e[cat->n]);
            break;
        }
        cat->n++;
    }
    json_decref(v);
    return rc;
}

int gal_catalog_load(const gal_opts *o, const char *extra, gal_catalog **out, err_buf *eb) {
    gal_catalog *cat = mem_calloc(1, sizeof *cat);
    if (!cat) return err_set(eb, BASE_ENOMEM, "out of memory");
    const char *def = gal_default_index();
    int rc = gal_catalog_add_yaml(cat, "localai", def, strlen(def), eb);
    char *list = extra && *extra ? mem_strdup(extra) : NULL;
    int k = 0;
    for (char *save = NULL, *t = list ? strtok_r(list, ",", &save) : NULL; !rc && t;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        if (!*t) continue;
        buf b = {0};
        if (strstr(t, "://")) {
            /* An index is small and startup waits for it: retry less than for a model. */
            gal_opts io = *o;
            if (io.max_retries > 2) io.max_retries = 2;
            rc = gal_fetch(&io, t, NULL, INDEX_MAX, &b, eb);
        } else {
            size_t n;
            rc = file_read_all(t, &b.data, &n, eb);
            b.len = n;
        }
        char gname[32];
        snprintf(gname, sizeof gname, "gallery%d", ++k);
        if (!rc) rc = gal_catalog_add_yaml(cat, gname, b.data, b.len, eb);
        if (rc) {
            char why[sizeof eb->msg];
            snprintf(why, sizeof why, "%s", err_msg(eb));
            err_set(eb, rc, "cannot read gallery %s: %s", t, why);
        }
        buf_free(&b);
    }
    mem_free(list);
    if (rc) {
        gal_catalog_free(cat);
        return rc;
    }
    *out = cat;
    return BASE_OK;
}

void gal_catalog_free(gal_catalog *cat) {
    if (!cat) return;
    for (int i = 0; i < cat->n; i++) entry_free(&cat->e[i]);
    mem_free(cat->e);
    mem_free(cat);
}

int gal_catalog_size(const gal_catalog *cat) { return cat ? cat->n : 0; }
const gal_entry *gal_catalog_at(const gal_catalog *cat, int i) {
    return cat && i >= 0 && i < cat->n ? &cat->e[i] : NULL;
}

const gal_entry *gal_catalog_find(const gal_catalog *cat, const char *id) {
    if (!cat || !id) return NULL;
    const char *at = strchr(id, '@');
    const char *name = at ? at + 1 : id;
    /* Later galleries win, so an extra gallery can replace a built-in entry. */
    for (int i = cat->n - 1; i >= 0; i--)
        if (!strcasecmp(cat->e[i].name, name)) return &cat->e[i];
    return NULL;
}
