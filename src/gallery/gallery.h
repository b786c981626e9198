/*
 * gallery: getting models. A downloader on libcurl (resume with Range, bounded retries,
 * streaming sha256, free-disk check, atomic rename, cancellation, progress), URI resolvers
 * (http(s)://, file://, huggingface://, hf.co/owner/repo:QUANT, ollama://name:tag), the
 * gallery index (LocalAI's YAML format; a curated default is built in), installing into the
 * models directory (GGUF + YAML config) and removing, background install jobs, and the
 * LocalAI-compatible HTTP endpoints for them.
 *
 *   gal_opts o = gal_default_opts();          // hosts from LOCALAI_HF_ENDPOINT, ...
 *   o.models_path = "./models";
 *   gal_catalog *cat;
 *   if (gal_catalog_load(&o, "extra.yaml,https://x/index.yaml", &cat, &eb)) ...;
 *   char *name;
 *   if (gal_install(&o, cat, "qwen2.5-0.5b-instruct", NULL, &name, &eb)) ...;  // or a URI
 *   mem_free(name);
 *   gal_catalog_free(cat);
 *
 * Hosts always come from gal_opts, so tests point them at 127.0.0.1.
 */
#ifndef GALLERY_H
#define GALLERY_H

#include "base/base.h"

/* ---- progress and options ---- */

typedef struct gal_progress {
    uint64_t done;  /* bytes on disk for this file, resumed bytes included */
    uint64_t total; /* 0 while unknown */
    double rate;    /* bytes per second in this attempt */
    double eta_s;   /* seconds left; negative while unknown */
    const char *file; /* the file being fetched (borrowed for the call) */
} gal_progress;

typedef void (*gal_progress_fn)(void *ud, const gal_progress *p);

typedef struct gal_opts {
    const char *models_path;
    const char *hf_endpoint;     /* LOCALAI_HF_ENDPOINT, default https://huggingface.co */
    const char *ollama_registry; /* LOCALAI_OLLAMA_REGISTRY, default https://registry.ollama.ai */
    const char *hf_token;        /* HF_TOKEN: sent as a Bearer token to the HF host; may be NULL */
    int max_retries;             /* attempts after the first (default 5) */
    int backoff_ms;              /* first wait, doubled each retry up to 30 s (default 500) */
    long low_speed_s;            /* a transfer under 1 byte/s for this long is retried (60) */
    uint64_t reserve_bytes;      /* disk space to leave free after a download (default 0) */
    _Atomic int *cancel;         /* set to non-zero to stop (may be NULL) */
    gal_progress_fn on_progress; /* may be NULL */
    void *ud;
} gal_opts;

/* Defaults, with the hosts read from the environment. Strings are borrowed from it. */
gal_opts gal_default_opts(void);

/* ---- downloader ---- */

/* Fetch url into dest. The bytes go to dest + ".partial" (kept on a failure so the next call
 * resumes it with a Range request) and dest appears only when complete and, when sha256 (hex)
 * is given, verified (without one, a Hugging Face X-Linked-Etag header is used when the
 * server sends it); a mismatch removes the partial file and returns BASE_EFORMAT. Before
 * starting, free space is checked against Content-Length (BASE_EFULL). HTTP 4xx answers are
 * final (BASE_ENOTFOUND for 404/410, else BASE_EIO); transport errors and 5xx are retried with
 * back-off. BASE_ECANCELED when o->cancel was set. headers: NULL-terminated "Name: value" or
 * NULL. sha_out (65 bytes, may be NULL) receives the digest of the file. */
int gal_download(const gal_opts *o, const char *url, const char *dest, const char *sha256,
                 const char *const *headers, char *sha_out, err_buf *eb);

/* GET a small document (an index, an API listing) into memory, at most max bytes. */
int gal_fetch(const gal_opts *o, const char *url, const char *const *headers, size_t max,
              buf *out, err_buf *eb);

/* SHA-256 of a whole file as 64 hex characters into hex (65 bytes). */
int gal_sha256_file(const char *path, char *hex, err_buf *eb);

/* ---- URIs ---- */

/* What a model URI resolves to: one file to fetch. All strings mem_alloc'd. */
typedef struct gal_target {
    char *url;      /* what to GET */
    char *filename; /* a plain file name for the models directory */
    char *sha256;   /* expected hex digest, or NULL */
    char *auth;     /* an "Authorization: ..." header line, or NULL */
} gal_target;

/* Whether s looks like a URI rather than a gallery name. */
bool gal_is_uri(const char *s);
/* Resolve uri (may contact the HF API or the Ollama registry at o's hosts). */
int gal_resolve(const gal_opts *o, const char *uri, gal_target *out, err_buf *eb);
void gal_target_free(gal_target *t);

/* ---- gallery index ---- */

typedef struct gal_file {
    char *filename, *uri, *sha256; /* sha256 may be NULL */
} gal_file;

typedef struct gal_entry {
    char *name, *description, *license, *gallery;
    char **urls, **tags;
    int n_urls, n_tags;
    gal_file *files;
    int n_files;
    char *config_file; /* a YAML document (the base config), or NULL */
    char *overrides;   /* the overrides as JSON text (an object), or NULL */
} gal_entry;

typedef struct gal_catalog gal_catalog;

/* The built-in index plus every gallery in extra (comma-separated URLs or file paths; NULL or
 * "" for none). A gallery that cannot be read is an error naming it. */
int gal_catalog_load(const gal_opts *o, const char *extra, gal_catalog **out, err_buf *eb);
/* Parse one index (YAML text) into cat under gallery name gname. */
int gal_catalog_add_yaml(gal_catalog *cat, const char *gname, const char *text, size_t len,
                         err_buf *eb);
void gal_catalog_free(gal_catalog *cat);
int gal_catalog_size(const gal_catalog *cat);
/* Borrowed until gal_catalog_free. */
const gal_entry *gal_catalog_at(const gal_catalog *cat, int i);
/* By "name" or "gallery@name" (case-insensitive); NULL when absent. */
const gal_entry *gal_catalog_find(const gal_catalog *cat, const char *id);

/* The built-in index (YAML), a static string. */
const char *gal_default_index(void);

/* ---- installing ---- */

/* Install what id names: a catalog entry ("name" or "gallery@name") or a URI. name overrides
 * the model's name (NULL: the entry's name, or the URI's file name without .gguf). Writes the
 * files and NAME.yaml (name, parameters.model, the entry's config) into o->models_path. Safe
 * against a concurrent install of the same model (a lock file; the second finds it done).
 * *out_name (may be NULL) receives the model's name (mem_free it). */
int gal_install(const gal_opts *o, const gal_catalog *cat, const char *id, const char *name,
                char **out_name, err_buf *eb);
/* Whether NAME.yaml exists in the models directory. */
bool gal_is_installed(const char *models_path, const char *name);
/* The name of the installed model that was installed from uri (its config's "source"), or
 * NULL. mem_free the result. Reads only the models directory. */
char *gal_find_installed_uri(const char *models_path, const char *uri);
/* Remove NAME.yaml and the files it names inside the models directory (parameters.model and
 * every download_files entry), except files another config serves as its model.
 * BASE_ENOTFOUND when there is no such config. */
int gal_remove(const char *models_path, const char *name, err_buf *eb);

/* ---- background jobs and HTTP endpoints ---- */

typedef struct gal_jobs gal_jobs;
typedef struct server server;

/* Jobs install on their own threads. o is copied (its strings borrowed for the life of the
 * jobs); cat is borrowed. gal_jobs_free cancels running jobs and waits for them. */
int gal_jobs_new(const gal_opts *o, const gal_catalog *cat, gal_jobs **out, err_buf *eb);
void gal_jobs_free(gal_jobs *j); /* NULL is fine */

/* fn(ud) runs after each install that succeeded (on the job's thread) and each removal (on
 * an HTTP thread): the server rescans its models so they show at once. Set before serving. */
void gal_jobs_on_change(gal_jobs *j, void (*fn)(void *ud), void *ud);

/* Add GET /models/available, POST /models/apply, GET /models/jobs/{uuid},
 * POST /models/delete/{name}, DELETE /models/jobs/{uuid} and POST /models/jobs/{uuid}/cancel
 * (cancel a running install), and the /v1 forms. Register them before api_register's
 * /models/ prefix route. j must outlive the server. */
int gal_register_routes(server *s, gal_jobs *j);

#endif
