/*
 * `local-ai run`: start the API server and serve until SIGINT or SIGTERM.
 * Flags win over the LOCALAI_* environment variables, which win over the defaults.
 */
#include <getopt.h>
#include <signal.h>
#include <string.h>

#include "api/api.h"
#include "cli.h"
#include "server/server.h"

#define MAX_KEYS 64

void cmd_run_usage(FILE *f) {
    fprintf(f,
            "usage: local-ai run [flags]\n\n"
            "Start the API server.\n\n"
            "flags (environment variable in brackets):\n"
            "  --address HOST:PORT   listen address, ':PORT' for all interfaces\n"
            "                        [LOCALAI_ADDRESS] (default 127.0.0.1:8080)\n"
            "  --models-path DIR     where models and their configs live\n"
            "                        [LOCALAI_MODELS_PATH] (default ./models)\n"
            "  --threads N           compute threads [LOCALAI_THREADS] (default: all CPUs)\n"
            "  --api-key KEY[,KEY]   require one of these keys as a Bearer token\n"
            "                        [LOCALAI_API_KEY] (default: none, the API is open)\n"
            "  --log-level LEVEL     error, warn, info, debug or trace\n"
            "                        [LOCALAI_LOG_LEVEL] (default info)\n"
            "  -h, --help            show this help\n");
}

/* Split a comma-separated key list in place. */
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

    enum { OPT_ADDRESS = 1, OPT_MODELS, OPT_THREADS, OPT_KEY, OPT_LOG };
    static const struct option opts[] = {
        {"address", required_argument, NULL, OPT_ADDRESS},
        {"models-path", required_argument, NULL, OPT_MODELS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"api-key", required_argument, NULL, OPT_KEY},
        {"log-level", required_argument, NULL, OPT_LOG},
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
        case 'h': cmd_run_usage(stdout); return 0;
        case ':': return cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(self, "unexpected argument '%s'", argv[optind]);

    log_level lvl;
    if (log_level_parse(log_level_s, &lvl))
        return cli_usage_error(self, "bad log level '%s'", log_level_s);
    log_set_level(lvl);
    unsigned threads = cli_default_threads();
    if (threads_s && cli_parse_uint(threads_s, 1, 1024, &threads))
        return cli_usage_error(self, "bad thread count '%s' (1..1024)", threads_s);

    err_buf eb = {0};
    char host[256];
    unsigned port;
    if (server_parse_address(address, host, sizeof host, &port, &eb))
        return cli_usage_error(self, "%s", err_msg(&eb));

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

    api_ctx ctx = {.models_path = models_path, .api_keys = keys, .n_api_keys = n_keys};
    server_params sp = server_default_params();
    sp.address = address;
    server *srv = NULL;
    int rc = server_new(&sp, &srv, &eb);
    if (!rc) rc = api_register(srv, &ctx);
    if (!rc) rc = server_start(srv, &eb);
    if (rc) {
        log_error("cannot start the server: %s", err_msg(&eb));
        server_free(srv);
        mem_free(keybuf);
        return 1;
    }
    ctx.ready = 1;
    log_info("local-ai %s listening on http://%s:%u (models: %s, threads: %u%s)",
             LOCALAI_VERSION, host[0] ? host : "0.0.0.0", server_port(srv), models_path,
             threads, n_keys ? ", API keys required" : "");

    int sig = 0;
    sigwait(&stop, &sig);
    log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    ctx.ready = 0;
    server_free(srv);
    mem_free(keybuf);
    log_info("stopped");
    return 0;
}
