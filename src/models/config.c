/*
 * LocalAI-style model configs (YAML, read with libyaml's document API). We read the fields
 * local-ai uses and ignore the rest, so a LocalAI models directory works unchanged; a field
 * we read with a value of the wrong kind is an error that names it.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "models_int.h"

typedef struct cfg_reader {
    yaml_document_t *doc;
    const char *dir;
    mdl_config *c;
    err_buf *eb;
} cfg_reader;

static yaml_node_t *node_at(cfg_reader *r, int i) { return yaml_document_get_node(r->doc, i); }

static const char *scalar(yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int want_scalar(cfg_reader *r, yaml_node_t *n, const char *field, const char **out) {
    *out = scalar(n);
    if (!*out) return err_set(r->eb, BASE_EFORMAT, "config field '%s' must be a scalar", field);
    return BASE_OK;
}

static int read_str(cfg_reader *r, yaml_node_t *n, const char *field, char **out) {
    const char *s;
    int rc = want_scalar(r, n, field, &s);
    if (rc) return rc;
    char *copy = mem_strdup(s);
    if (!copy) return err_set(r->eb, BASE_ENOMEM, "out of memory");
    mem_free(*out);
    *out = copy;
    return BASE_OK;
}

static int read_double(cfg_reader *r, yaml_node_t *n, const char *field, double *out) {
    const char *s;
    int rc = want_scalar(r, n, field, &s);
    if (rc) return rc;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v))
        return err_set(r->eb, BASE_EFORMAT, "config field '%s': '%s' is not a number", field, s);
    *out = v;
    return BASE_OK;
}

static int read_int(cfg_reader *r, yaml_node_t *n, const char *field, int64_t lo, int64_t hi,
                    int64_t *out) {
    const char *s;
    int rc = want_scalar(r, n, field, &s);
    if (rc) return rc;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return err_set(r->eb, BASE_EFORMAT, "config field '%s': '%s' is not an integer in %lld..%lld",
                       field, s, (long long)lo, (long long)hi);
    *out = v;
    return BASE_OK;
}

static int read_bool(cfg_reader *r, yaml_node_t *n, const char *field, bool *out) {
    const char *s;
    int rc = want_scalar(r, n, field, &s);
    if (rc) return rc;
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) return *out = true, BASE_OK;
        if (!strcasecmp(s, no[i])) return *out = false, BASE_OK;
    }
    return err_set(r->eb, BASE_EFORMAT, "config field '%s': '%s' is not a boolean", field, s);
}

static int read_float_field(cfg_reader *r, yaml_node_t *n, const char *field, double lo,
                            double hi, float *out, bool *has) {
    double v = 0;
    int rc = read_double(r, n, field, &v);
    if (rc) return rc;
    if (v < lo || v > hi)
        return err_set(r->eb, BASE_EFORMAT, "config field '%s': %g is outside %g..%g", field, v,
                       lo, hi);
    *out = (float)v;
    *has = true;
    return BASE_OK;
}

/* "path" relative to the models directory unless absolute. */
static char *join_dir(const char *dir, const char *path) {
    if (path[0] == '/' || !dir || !*dir) return mem_strdup(path);
    buf b = {0};
    buf_printf(&b, "%s/%s", dir, path);
    if (b.oom) {
        buf_free(&b);
        return NULL;
    }
    return b.data;
}

static int read_parameters(cfg_reader *r, yaml_node_t *map) {
    if (map->type != YAML_MAPPING_NODE)
        return err_set(r->eb, BASE_EFORMAT, "config field 'parameters' must be a mapping");
    mdl_sampling *sp = &r->c->sampling;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *key = scalar(node_at(r, p->key));
        yaml_node_t *v = node_at(r, p->value);
        int64_t iv;
        int rc = 0;
        if (!key) continue;
        if (!strcmp(key, "model")) {
            const char *s;
            rc = want_scalar(r, v, "parameters.model", &s);
            if (!rc) {
                mem_free(r->c->model_path);
                r->c->model_path = join_dir(r->dir, s);
                if (!r->c->model_path) rc = err_set(r->eb, BASE_ENOMEM, "out of memory");
            }
        } else if (!strcmp(key, "temperature")) {
            rc = read_float_field(r, v, "parameters.temperature", 0, 2, &sp->temperature,
                                  &sp->has_temperature);
        } else if (!strcmp(key, "top_p")) {
            rc = read_float_field(r, v, "parameters.top_p", 0, 1, &sp->top_p, &sp->has_top_p);
        } else if (!strcmp(key, "min_p")) {
            rc = read_float_field(r, v, "parameters.min_p", 0, 1, &sp->min_p, &sp->has_min_p);
        } else if (!strcmp(key, "repeat_penalty")) {
            rc = read_float_field(r, v, "parameters.repeat_penalty", 0, 10, &sp->repeat_penalty,
                                  &sp->has_repeat_penalty);
        } else if (!strcmp(key, "top_k")) {
            rc = read_int(r, v, "parameters.top_k", 0, 1 << 30, &iv);
            if (!rc) sp->top_k = (int)iv, sp->has_top_k = true;
        } else if (!strcmp(key, "max_tokens")) {
            rc = read_int(r, v, "parameters.max_tokens", 0, 1 << 30, &iv);
            if (!rc) sp->max_tokens = (int)iv, sp->has_max_tokens = true;
        } else if (!strcmp(key, "seed")) {
            /* LocalAI writes -1 for "random". */
            rc = read_int(r, v, "parameters.seed", -1, INT64_MAX, &iv);
            if (!rc && iv >= 0) sp->seed = iv, sp->has_seed = true;
        }
        if (rc) return rc;
    }
    return BASE_OK;
}

static int read_stopwords(cfg_reader *r, yaml_node_t *n) {
    mdl_config *c = r->c;
    if (n->type == YAML_SCALAR_NODE) {
        c->stopwords = mem_calloc(1, sizeof *c->stopwords);
        if (!c->stopwords) return err_set(r->eb, BASE_ENOMEM, "out of memory");
        c->n_stopwords = 1;
        return read_str(r, n, "stopwords", &c->stopwords[0]);
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return err_set(r->eb, BASE_EFORMAT, "config field 'stopwords' must be a list of strings");
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    c->stopwords = mem_calloc(count ? count : 1, sizeof *c->stopwords);
    if (!c->stopwords) return err_set(r->eb, BASE_ENOMEM, "out of memory");
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        int rc = read_str(r, node_at(r, *it), "stopwords", &c->stopwords[c->n_stopwords]);
        if (rc) return rc;
        c->n_stopwords++;
    }
    return BASE_OK;
}

/* template: a Jinja chat template, or the name of a file in the models directory holding
 * one. LocalAI's mapping form (Go templates per use) is not ours to render: we keep the
 * model's own tokenizer template then, as LocalAI's use_tokenizer_template does. */
static int read_template(cfg_reader *r, yaml_node_t *n) {
    if (n->type == YAML_MAPPING_NODE) return BASE_OK;
    const char *s;
    int rc = want_scalar(r, n, "template", &s);
    if (rc) return rc;
    if (!*s) return BASE_OK;
    if (!strchr(s, '{') && !strchr(s, '\n')) {
        const char *exts[] = {"", ".tmpl", ".jinja"};
        for (int i = 0; i < 3; i++) {
            buf name = {0};
            buf_printf(&name, "%s%s", s, exts[i]);
            char *path = name.oom ? NULL : join_dir(r->dir, name.data);
            buf_free(&name);
            if (!path) return err_set(r->eb, BASE_ENOMEM, "out of memory");
            char *text = NULL;
            size_t len;
            err_buf ignore = {0};
            rc = file_read_all(path, &text, &len, &ignore);
            mem_free(path);
            if (!rc) {
                mem_free(r->c->template_text);
                r->c->template_text = text;
                return BASE_OK;
            }
        }
    }
    return read_str(r, n, "template", &r->c->template_text);
}

static int read_pooling(cfg_reader *r, yaml_node_t *n) {
    const char *s;
    int rc = want_scalar(r, n, "pooling", &s);
    if (rc) return rc;
    static const struct { const char *name; int v; } names[] = {
        {"mean", LLM_POOL_MEAN}, {"cls", LLM_POOL_CLS}, {"first", LLM_POOL_CLS},
        {"last", LLM_POOL_LAST}, {"default", LLM_POOL_DEFAULT}, {"", LLM_POOL_DEFAULT}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(s, names[i].name)) return r->c->pooling = names[i].v, BASE_OK;
    return err_set(r->eb, BASE_EFORMAT, "config field 'pooling': '%s' is not mean, cls or last", s);
}

static int read_reasoning_format(cfg_reader *r, yaml_node_t *n, const char *field) {
    int rc = read_str(r, n, field, &r->c->reasoning_format);
    if (rc) return rc;
    const char *v = r->c->reasoning_format;
    if (strcmp(v, "none") && strcmp(v, "auto") && strcmp(v, "deepseek"))
        return err_set(r->eb, BASE_EFORMAT, "config field '%s': '%s' is not none, auto or deepseek",
                       field, v);
    return BASE_OK;
}

/* reasoning: {format, start, end} (or LocalAI's `disable: true`, the same as format none). */
static int read_reasoning(cfg_reader *r, yaml_node_t *map) {
    if (map->type != YAML_MAPPING_NODE)
        return err_set(r->eb, BASE_EFORMAT, "config field 'reasoning' must be a mapping");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *key = scalar(node_at(r, p->key));
        yaml_node_t *v = node_at(r, p->value);
        int rc = 0;
        if (!key || !v) continue;
        if (!strcmp(key, "format")) rc = read_reasoning_format(r, v, "reasoning.format");
        else if (!strcmp(key, "start")) rc = read_str(r, v, "reasoning.start", &r->c->reasoning_start);
        else if (!strcmp(key, "end")) rc = read_str(r, v, "reasoning.end", &r->c->reasoning_end);
        else if (!strcmp(key, "disable")) {
            bool off = false;
            rc = read_bool(r, v, "reasoning.disable", &off);
            if (!rc && off) {
                mem_free(r->c->reasoning_format);
                if (!(r->c->reasoning_format = mem_strdup("none")))
                    rc = err_set(r->eb, BASE_ENOMEM, "out of memory");
            }
        }
        if (rc) return rc;
    }
    const char *st = r->c->reasoning_start, *en = r->c->reasoning_end;
    if ((st && !*st) || (en && !*en) || (!st != !en))
        return err_set(r->eb, BASE_EFORMAT,
                       "config field 'reasoning': start and end must both be non-empty strings");
    return BASE_OK;
}

static int read_root(cfg_reader *r, yaml_node_t *root) {
    mdl_config *c = r->c;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const char *key = scalar(node_at(r, p->key));
        yaml_node_t *v = node_at(r, p->value);
        int64_t iv;
        int rc = 0;
        if (!key || !v) continue;
        if (!strcmp(key, "name")) rc = read_str(r, v, "name", &c->name);
        else if (!strcmp(key, "backend")) rc = read_str(r, v, "backend", &c->backend);
        else if (!strcmp(key, "parameters")) rc = read_parameters(r, v);
        else if (!strcmp(key, "context_size")) {
            rc = read_int(r, v, "context_size", 0, 1 << 24, &iv);
            c->context_size = (int)iv;
        } else if (!strcmp(key, "threads")) {
            rc = read_int(r, v, "threads", 0, 1024, &iv);
            c->threads = (int)iv;
        } else if (!strcmp(key, "stopwords")) rc = read_stopwords(r, v);
        else if (!strcmp(key, "f16")) rc = read_bool(r, v, "f16", &c->f16);
        else if (!strcmp(key, "mmap")) rc = read_bool(r, v, "mmap", &c->mmap);
        else if (!strcmp(key, "template")) rc = read_template(r, v);
        else if (!strcmp(key, "pooling")) rc = read_pooling(r, v);
        else if (!strcmp(key, "truncate")) rc = read_bool(r, v, "truncate", &c->truncate);
        else if (!strcmp(key, "reasoning")) rc = read_reasoning(r, v);
        else if (!strcmp(key, "reasoning_format"))
            rc = read_reasoning_format(r, v, "reasoning_format");
        else if (!strcmp(key, "embeddings")) {
            bool on = true;
            rc = read_bool(r, v, "embeddings", &on);
            c->no_embeddings = !on;
        }
        if (rc) return rc;
    }
    if (c->name && !*c->name) return err_set(r->eb, BASE_EFORMAT, "config field 'name' is empty");
    if (!c->backend && !(c->backend = mem_strdup("")))
        return err_set(r->eb, BASE_ENOMEM, "out of memory");
    return BASE_OK;
}

int mdl_config_parse(const char *text, size_t len, const char *dir, mdl_config **out,
                     err_buf *eb) {
    *out = NULL;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return err_set(eb, BASE_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        int rc = err_set(eb, BASE_EFORMAT, "YAML error at line %zu: %s",
                         parser.problem_mark.line + 1,
                         parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_parser_delete(&parser);
    int rc = BASE_OK;
    mdl_config *c = mem_calloc(1, sizeof *c);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!c) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    else if (!root || root->type != YAML_MAPPING_NODE)
        rc = err_set(eb, BASE_EFORMAT, "a model config must be a YAML mapping");
    else {
        c->mmap = true;
        c->pooling = LLM_POOL_DEFAULT;
        cfg_reader r = {&doc, dir, c, eb};
        rc = read_root(&r, root);
    }
    yaml_document_delete(&doc);
    if (rc) {
        mdl_config_free(c);
        return rc;
    }
    *out = c;
    return BASE_OK;
}

void mdl_config_free(mdl_config *c) {
    if (!c) return;
    mem_free(c->name);
    mem_free(c->backend);
    mem_free(c->model_path);
    mem_free(c->template_text);
    mem_free(c->reasoning_format);
    mem_free(c->reasoning_start);
    mem_free(c->reasoning_end);
    for (int i = 0; i < c->n_stopwords; i++) mem_free(c->stopwords[i]);
    mem_free(c->stopwords);
    mem_free(c);
}
