/*
 * `local-ai run`: start the API server and serve until SIGINT or SIGTERM.
 * Flags win over the LOCALAI_* environment variables, which win over the defaults.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli.h"
#include "gallery/gallery.h"
#include "server/server.h"
#include "ui/ui.h"

#define MAX_KEYS 64

void cmd_run_usage(FILE *f) {
    fprintf(f,
            "usage: local-ai run [flags] [NAME|URI ...]\n\n"
            "Start the API server, first installing the models named (gallery names or URIs,\n"
            "as for `local-ai models install`) that are not installed yet.\n\n"
            "flags (environment variable in brackets):\n"
            "  --address HOST:PORT   listen address, ':PORT' for all interfaces\n"
            "                        [LOCALAI_ADDRESS] (default 127.0.0.1:8080)\n"
            "  --models-path DIR     where models and their configs live\n"
            "                        [LOCALAI_MODELS_PATH] (default ./models)\n"
            "  --threads N           compute threads [LOCALAI_THREADS] (default: all CPUs)\n"
            "  --parallel N          requests decoded at once per model [LOCALAI_PARALLEL]\n"
            "                        (default 1)\n"
            "  --context-size N      context (tokens) of each request slot; 0: the model's\n"
            "                        [LOCALAI_CONTEXT_SIZE] (default 0, capped at 4096)\n"
            "  --queue-size N        requests waiting per model before 503 + Retry-After\n"
            "                        [LOCALAI_QUEUE_SIZE] (default 64)\n"
            "  --max-active-models N models kept loaded at most; the least recently used\n"
            "                        idle one is unloaded [LOCALAI_MAX_ACTIVE_MODELS]\n"
            "                        (default 0: no limit)\n"
            "  --max-memory SIZE     model files kept loaded at most, in bytes or with K, M,\n"
            "                        G (e.g. 8G); least recently used idle models are\n"
            "                        unloaded to fit [LOCALAI_MAX_MEMORY] (default 0: no limit)\n"
            "  --cors-origin ORIGIN  Access-Control-Allow-Origin sent with every response;\n"
            "                        'none' sends no CORS headers [LOCALAI_CORS_ORIGIN]\n"
            "                        (default *)\n"
            "  --api-key KEY[,KEY]   shared keys with full access, as a Bearer token,\n"
            "                        x-api-key or xi-api-key [LOCALAI_API_KEY]\n"
            "  --database URL        the user database: postgres://... or a SQLite file\n"
            "                        [LOCALAI_DATABASE_URL] (default DATA_PATH/local-ai.db)\n"
            "  --data-path DIR       where local state lives [LOCALAI_DATA_PATH]\n"
            "                        (default ./data)\n"
            "  --max-bad-keys N      wrong keys per address per minute before it is made\n"
            "                        to wait [LOCALAI_MAX_BAD_KEYS] (default 10)\n"
            "  --galleries LIST      extra gallery indexes, comma-separated URLs or files\n"
            "                        [LOCALAI_GALLERIES]\n"
            "  --log-level LEVEL     error, warn, info, debug or trace\n"
            "                        [LOCALAI_LOG_LEVEL] (default info)\n"
            "  -h, --help            show this help\n");
}

/* Split a comma-separated key list in place. */
/* "8G", "512M", "1048576": a byte count (K, M, G, T are powers of 1024). */
static int parse_size(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || *s == '-') return BASE_EINVAL;
    int shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if ((*end == 'B' || *end == 'b') && shift) end++;
    if (*end || (shift && v > (UINT64_MAX >> shift))) return BASE_EINVAL;
    *out = (uint64_t)v << shift;
    return BASE_OK;
}

static int split_keys(char *s, const char **keys) {
    int n = 0;
    for (char *save = NULL, *t = strtok_r(s, ",", &save); t && n < MAX_KEYS;
         t = strtok_r(NULL, ",", &save))
        if (*t) keys[n++] = t;
    return n;
}

int cmd_run(int argc, char **argv) {
    const cli_command *self = cli_find("run");
    const char *address = cli_env("LOCALAI_ADDRESS", "127.0.0.1:8080");
    const char *models_path = cli_env("LOCALAI_MODELS_PATH", "./models");
    const char *threads_s = cli_env("LOCALAI_THREADS", NULL);
    const char *api_key = cli_env("LOCALAI_API_KEY", NULL);
    const char *log_level_s = cli_env("LOCALAI_LOG_LEVEL", "info");
    const char *parallel_s = cli_env("LOCALAI_PARALLEL", NULL);
    const char *ctx_s = cli_env("LOCALAI_CONTEXT_SIZE", NULL);
    const char *max_models_s = cli_env("LOCALAI_MAX_ACTIVE_MODELS", NULL);
    const char *max_mem_s = cli_env("LOCALAI_MAX_MEMORY", NULL);
    const char *cors = cli_env("LOCALAI_CORS_ORIGIN", "*");
    const char *queue_s = cli_env("LOCALAI_QUEUE_SIZE", NULL);
    const char *galleries = cli_env("LOCALAI_GALLERIES", NULL);
    const char *database = cli_env("LOCALAI_DATABASE_URL", NULL);
    const char *data_path = cli_env("LOCALAI_DATA_PATH", "./data");
    const char *bad_keys_s = cli_env("LOCALAI_MAX_BAD_KEYS", NULL);

    enum { OPT_ADDRESS = 1, OPT_MODELS, OPT_THREADS, OPT_KEY, OPT_LOG, OPT_PARALLEL, OPT_CTX,
           OPT_MAX_MODELS, OPT_QUEUE, OPT_GALLERIES, OPT_DATABASE, OPT_DATA_PATH, OPT_BAD_KEYS,
           OPT_MAX_MEM, OPT_CORS };
    static const struct option opts[] = {
        {"address", required_argument, NULL, OPT_ADDRESS},
        {"models-path", required_argument, NULL, OPT_MODELS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"api-key", required_argument, NULL, OPT_KEY},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"parallel", required_argument, NULL, OPT_PARALLEL},
        {"context-size", required_argument, NULL, OPT_CTX},
        {"max-active-models", required_argument, NULL, OPT_MAX_MODELS},
        {"max-memory", required_argument, NULL, OPT_MAX_MEM},
        {"cors-origin", required_argument, NULL, OPT_CORS},
        {"queue-size", required_argument, NULL, OPT_QUEUE},
        {"galleries", required_argument, NULL, OPT_GALLERIES},
        {"database", required_argument, NULL, OPT_DATABASE},
        {"data-path", required_argument, NULL, OPT_DATA_PATH},
        {"max-bad-keys", required_argument, NULL, OPT_BAD_KEYS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_ADDRESS: address = optarg; break;
        case OPT_MODELS: models_path = optarg; break;
        case OPT_THREADS: threads_s = optarg; break;
        case OPT_KEY: api_key = optarg; break;
        case OPT_LOG: log_level_s = optarg; break;
        case OPT_PARALLEL: parallel_s = optarg; break;
        case OPT_CTX: ctx_s = optarg; break;
        case OPT_MAX_MODELS: max_models_s = optarg; break;
        case OPT_MAX_MEM: max_mem_s = optarg; break;
        case OPT_CORS: cors = optarg; break;
        case OPT_QUEUE: queue_s = optarg; break;
        case OPT_GALLERIES: galleries = optarg; break;
        case OPT_DATABASE: database = optarg; break;
        case OPT_DATA_PATH: data_path = optarg; break;
        case OPT_BAD_KEYS: bad_keys_s = optarg; break;
        case 'h': cmd_run_usage(stdout); return 0;
        case ':': return cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]);
        }
    }

    log_level lvl;
    if (log_level_parse(log_level_s, &lvl))
        return cli_usage_error(self, "bad log level '%s'", log_level_s);
    log_set_level(lvl);
    unsigned threads = cli_default_threads();
    if (threads_s && cli_parse_uint(threads_s, 1, 1024, &threads))
        return cli_usage_error(self, "bad thread count '%s' (1..1024)", threads_s);
    unsigned parallel = 1, ctx_size = 0, max_models = 0, queue = 64;
    if (parallel_s && cli_parse_uint(parallel_s, 1, 64, &parallel))
        return cli_usage_error(self, "bad parallel count '%s' (1..64)", parallel_s);
    if (ctx_s && cli_parse_uint(ctx_s, 0, 1u << 20, &ctx_size))
        return cli_usage_error(self, "bad context size '%s' (0..1048576)", ctx_s);
    if (max_models_s && cli_parse_uint(max_models_s, 0, 1024, &max_models))
        return cli_usage_error(self, "bad max active models '%s' (0..1024)", max_models_s);
    if (queue_s && cli_parse_uint(queue_s, 1, 1u << 20, &queue))
        return cli_usage_error(self, "bad queue size '%s' (1..1048576)", queue_s);
    unsigned bad_keys = 10;
    if (bad_keys_s && cli_parse_uint(bad_keys_s, 1, 1u << 20, &bad_keys))
        return cli_usage_error(self, "bad --max-bad-keys '%s' (1..1048576)", bad_keys_s);
    uint64_t max_mem = 0;
    if (max_mem_s && parse_size(max_mem_s, &max_mem))
        return cli_usage_error(self, "bad max memory '%s' (bytes, or a number with K, M or G)", max_mem_s);
    if (!*cors) return cli_usage_error(self, "empty --cors-origin (use 'none' to send no CORS headers)");

    err_buf eb = {0};
    char host[256];
    unsigned port;
    if (server_parse_address(address, host, sizeof host, &port, &eb))
        return cli_usage_error(self, "%s", err_msg(&eb));

    /* Positional arguments are models to install before serving. */
    gal_opts gopts;
    gal_catalog *cat = NULL;
    if (cli_gallery_open(models_path, galleries, &gopts, &cat)) {
        /* An unreachable extra gallery should not keep the server down. */
        log_warn("serving with the built-in gallery only");
        if (cli_gallery_open(models_path, NULL, &gopts, &cat)) return 1;
    }
    for (int i = optind; i < argc; i++) {
        bool uri = gal_is_uri(argv[i]);
        const gal_entry *ge = uri ? NULL : gal_catalog_find(cat, argv[i]);
        char *have = uri ? gal_find_installed_uri(models_path, argv[i]) : NULL;
        bool installed = have || (ge && gal_is_installed(models_path, ge->name)) ||
                         (!ge && !uri && gal_is_installed(models_path, argv[i]));
        mem_free(have);
        if (installed) continue;
        if (cli_install_model(&gopts, cat, argv[i], NULL)) {
            gal_catalog_free(cat);
            return 1;
        }
    }
    gopts.on_progress = NULL; /* API jobs report through /models/jobs, not the terminal */
    gal_jobs *jobs = NULL;

    char *keybuf = api_key ? mem_strdup(api_key) : NULL;
    const char *keys[MAX_KEYS];
    int n_keys = keybuf ? split_keys(keybuf, keys) : 0;

    /* Block the stop signals in every thread; this one collects them with sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    auth *au = NULL;
    if (cli_auth_open(database, data_path, keys, n_keys, (int)bad_keys, &au)) {
        gal_catalog_free(cat);
        mem_free(keybuf);
        return 1;
    }
    api_ctx ctx = {.auth = au, .models_path = models_path, .api_keys = keys, .n_api_keys = n_keys,
                   .parallel = (int)parallel, .context_size = (int)ctx_size,
                   .threads = (int)threads, .max_active_models = (int)max_models,
                   .queue_size = (int)queue, .max_memory = max_mem};
    server_params sp = server_default_params();
    sp.address = address;
    sp.auth_hook = api_access_hook; /* users, keys and limits; shared keys included */
    sp.auth_ud = &ctx;
    sp.cors_origin = strcmp(cors, "none") ? cors : NULL;
    server *srv = NULL;
    int rc = api_open(&ctx, &eb);
    if (!rc) rc = server_new(&sp, &srv, &eb);
    if (!rc) rc = gal_jobs_new(&gopts, cat, &jobs, &eb);
    if (!rc) gal_jobs_on_change(jobs, api_models_changed, &ctx);
    if (!rc) rc = gal_register_routes(srv, jobs); /* before api's /models/ prefix route */
    if (!rc) rc = api_register(srv, &ctx);
    if (!rc) rc = ui_register(srv);
    if (!rc) rc = server_start(srv, &eb);
    if (rc) {
        log_error("cannot start the server: %s", err_msg(&eb));
        server_free(srv);
        gal_jobs_free(jobs);
        gal_catalog_free(cat);
        api_close(&ctx);
        auth_close(au);
        mem_free(keybuf);
        return 1;
    }
    ctx.ready = 1;
    auth_mode mode = auth_get_mode(au);
    bool loopback = !strncmp(host, "127.", 4) || !strcmp(host, "::1") || !strcmp(host, "localhost");
    if (mode == AUTH_MODE_OPEN && !loopback)
        log_warn("no API keys: anyone who can reach %s:%u can use this server (create keys with "
                 "`local-ai keys create` or set LOCALAI_API_KEY)", host[0] ? host : "*", server_port(srv));
    log_info("auth: %s mode", auth_mode_name(mode));
    log_info("local-ai %s listening on http://%s:%u (models: %s, threads: %u, parallel: %u%s)",
             LOCALAI_VERSION, host[0] ? host : "0.0.0.0", server_port(srv), models_path,
             threads, parallel, n_keys ? ", API keys required" : "");

    int sig = 0;
    sigwait(&stop, &sig);
    log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    ctx.ready = 0;
    server_free(srv); /* first: no request runs on after this */
    gal_jobs_free(jobs); /* cancels running installs and waits for them */
    gal_catalog_free(cat);
    api_close(&ctx);
    auth_close(au);
    mem_free(keybuf);
    log_info("stopped");
    return 0;
}
