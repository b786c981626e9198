/*
 * models: the models directory, its LocalAI-style YAML configs, and the registry that loads
 * models lazily, keeps them loaded, and unloads the least recently used one when more than
 * max_active are loaded or their files would exceed max_memory bytes (never one that a
 * request is using).
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
    /* embeddings: `embeddings: false` refuses /v1/embeddings for this model (default: served);
     * `pooling: mean|cls|last` overrides the GGUF's pooling type (LLM_POOL_DEFAULT: unset). */
    bool no_embeddings;
    int pooling;
    bool truncate; /* `truncate: true`: embeddings cut over-long texts to the context */
    /* reasoning: {format: none|auto|deepseek, start: "<think>", end: "</think>"}: format none
     * keeps thinking text in content (a request's reasoning_format still wins); start / end
     * replace the built-in reasoning markers. NULL when unset. */
    char *reasoning_format, *reasoning_start, *reasoning_end;
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
    uint64_t max_memory;     /* bytes of model files loaded at most; 0: no limit. Idle models
                                are unloaded, least recently used first, to fit a new one;
                                mdl_acquire fails with BASE_ENOMEM for a model larger than the
                                budget and BASE_EBUSY when busy models hold the rest */
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
/* Whether name is one of the built-in speech models every listing carries (pocketsphinx,
 * whisper-1, espeak, tts-1, tts-1-hd). */
bool mdl_name_is_builtin(const char *name);
/* The name of the first model (by name) with this backend and a model file, into name[cap].
 * BASE_ENOTFOUND when there is none. */
int mdl_registry_find_backend(mdl_registry *r, const char *backend, char *name, size_t cap);
/* Number of loaded models (tests). */
int mdl_registry_n_loaded(mdl_registry *r);

/* Read the directory again now: new files add models; models whose file was removed or
 * rewritten are dropped (a loaded one is unloaded, once no request holds it; a rewritten
 * config comes back as it now reads). Listing and looking up a name do this too. Returns
 * the number of models. */
int mdl_registry_rescan(mdl_registry *r);

/* A handle on name only when it is loaded already (never loads): BASE_ENOTFOUND otherwise. */
int mdl_acquire_loaded(mdl_registry *r, const char *name, mdl_handle **out);

/* Unload name now: BASE_OK (also when it was not loaded), BASE_ENOTFOUND, or BASE_EBUSY when
 * it is loading or a request holds it. It stays known and loads again on its next use. */
int mdl_unload(mdl_registry *r, const char *name, err_buf *eb);

typedef enum mdl_state { MDL_STATE_UNLOADED, MDL_STATE_LOADING, MDL_STATE_LOADED } mdl_state;

/* What the registry knows of one model, as a snapshot (strings mem_alloc'd). */
typedef struct mdl_info {
    char *name;
    char *model_path;   /* the GGUF file */
    char *backend;      /* "" when unset */
    char *source_file;  /* the directory entry it came from (a config or the GGUF); "" none */
    bool bare;          /* a GGUF without a config */
    mdl_state state;
    int in_use;         /* requests holding it */
    int context_size;   /* the config's; 0: the server's default */
    uint64_t file_bytes;   /* size of the GGUF file; 0 when missing */
    uint64_t weight_bytes; /* loaded: bytes of its tensors; else 0 */
    int n_ctx_train;       /* loaded: the model's training context; else 0 */
    char arch[32];         /* loaded: its architecture; else "" */
} mdl_info;

/* Every model, sorted by name (rescans first). Free with mdl_info_free. */
int mdl_registry_info(mdl_registry *r, mdl_info **out, int *n, err_buf *eb);
void mdl_info_free(mdl_info *v, int n);

#endif
