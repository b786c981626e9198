/*
 * models: the models directory, its LocalAI-style YAML configs, and the registry that loads
 * models lazily, keeps them loaded, and unloads the least recently used one when more than
 * max_active are loaded (never one that a request is using).
 *
 * Every *.yaml / *.yml file in the directory describes one model (name, backend,
 * parameters.model, context_size, sampling defaults ...). Every *.gguf file no config points
 * at is also served, under its file name with and without the .gguf extension, and so is
 * every whisper.cpp ggml *.bin file (backend whisper).
 *
 *   mdl_registry_params p = mdl_registry_default_params();
 *   p.models_path = "./models";
 *   p.on_load = start_scheduler; p.on_unload = stop_scheduler; p.ud = ctx;
 *   mdl_registry *reg;
 *   if (mdl_registry_open(&p, &reg, &eb)) ...;
 *   mdl_handle *h;
 *   if (mdl_acquire(reg, "stories", &h, &eb)) ...;  // loads on first use
 *   ... mdl_handle_model(h), mdl_handle_tok(h), mdl_handle_attach(h) ...
 *   mdl_release(h);
 *   mdl_registry_free(reg);
 */
#ifndef MODELS_H
#define MODELS_H

#include "engine/engine.h"
#include "template/template.h"
#include "tokenizer/tokenizer.h"

/* ---- one model's configuration ---- */

/* Sampling defaults from a config; has_* says whether the file set the value. */
typedef struct mdl_sampling {
    bool has_temperature, has_top_p, has_top_k, has_min_p, has_max_tokens, has_repeat_penalty,
        has_seed;
    float temperature, top_p, min_p, repeat_penalty;
    int top_k, max_tokens;
    int64_t seed;
} mdl_sampling;

typedef struct mdl_config {
    char *name;          /* what requests ask for */
    char *backend;       /* "" when unset (llm) */
    char *model_path;    /* the GGUF file, absolute or relative to the working directory */
    char *template_text; /* a chat template (Jinja) overriding the GGUF's; NULL: the GGUF's */
    int context_size;    /* 0: the server's default */
    int threads;         /* 0: the server's default */
    char **stopwords;
    int n_stopwords;
    bool f16, mmap;
    mdl_sampling sampling;
} mdl_config;

/* Parse one YAML config (text[0..len)). dir is the models directory: parameters.model and a
 * template file name are resolved against it. On success *out is the config (free with
 * mdl_config_free). BASE_EFORMAT with a message naming the field for bad YAML or values. */
int mdl_config_parse(const char *text, size_t len, const char *dir, mdl_config **out,
                     err_buf *eb);
void mdl_config_free(mdl_config *c); /* NULL is fine */

/* ---- the registry ---- */

typedef struct mdl_registry mdl_registry;
typedef struct mdl_handle mdl_handle;

typedef struct mdl_registry_params {
    const char *models_path; /* borrowed for the registry's life */
    int max_active;          /* loaded models at most; 0: no limit */
    /* Called (under no registry lock, on the loading thread) once a model is loaded, to attach
     * per-model state such as its scheduler; *attach is kept with the model. on_unload gets it
     * back before the model is freed. Both may be NULL. */
    int (*on_load)(void *ud, mdl_handle *h, void **attach, err_buf *eb);
    void (*on_unload)(void *ud, void *attach);
    void *ud;
} mdl_registry_params;

mdl_registry_params mdl_registry_default_params(void);

/* Scan the models directory (a missing directory is an empty list, not an error). */
int mdl_registry_open(const mdl_registry_params *p, mdl_registry **out, err_buf *eb);
/* Unload everything (no handle may be held any more) and free the registry. NULL is fine. */
void mdl_registry_free(mdl_registry *r);

/* The model names, sorted: *names is mem_alloc'd, each name too; free with
 * mdl_names_free. Listing, and looking up an unknown name, first reads any config or GGUF
 * file added to the directory since (known models are kept). */
int mdl_registry_list(mdl_registry *r, char ***names, int *n, err_buf *eb);
void mdl_names_free(char **names, int n);
/* Whether name is a known model (no loading). */
bool mdl_registry_has(mdl_registry *r, const char *name);

/* Get a loaded model, loading it first when needed (on the calling thread; other requests
 * for the same model wait for it). BASE_ENOTFOUND for an unknown name; another code with a
 * message when the model cannot be loaded (the next acquire tries again). The handle stays
 * valid, and the model loaded, until mdl_release. */
int mdl_acquire(mdl_registry *r, const char *name, mdl_handle **out, err_buf *eb);
void mdl_release(mdl_handle *h); /* NULL is fine */

/* What a held handle gives; all borrowed until mdl_release. */
const char *mdl_handle_name(const mdl_handle *h);
const mdl_config *mdl_handle_config(const mdl_handle *h);
const llm_model *mdl_handle_model(const mdl_handle *h);
const tok *mdl_handle_tok(const mdl_handle *h);
const tmpl *mdl_handle_tmpl(const mdl_handle *h); /* the GGUF's template or a ChatML fallback */
/* The tool-call syntax the template's model emits (a chat_tool_format, see chat/chat.h). */
int mdl_handle_tool_format(const mdl_handle *h);
void *mdl_handle_attach(const mdl_handle *h);     /* what on_load attached */
/* Speech models (backend whisper, sphinx or espeak) have no llm_model, tok or tmpl: their
 * engine is what on_load attaches. mdl_backend_is_speech tells them apart. Built in, with no
 * file: "pocketsphinx" and "whisper-1" (sphinx), "espeak", "tts-1" and "tts-1-hd" (espeak). */
bool mdl_backend_is_speech(const char *backend);
/* The name of the first model (by name) with this backend and a model file, into name[cap].
 * BASE_ENOTFOUND when there is none. */
int mdl_registry_find_backend(mdl_registry *r, const char *backend, char *name, size_t cap);
/* Number of loaded models (tests). */
int mdl_registry_n_loaded(mdl_registry *r);

#endif
