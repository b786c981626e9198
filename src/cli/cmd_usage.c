/* `local-ai usage`: token and request usage per day, key, user and model, from the user
 * database the server records it in. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cmd_usage_usage(FILE *f) {
    fprintf(f, "usage: local-ai usage [--key ID|PREFIX] [--user NAME] [--model NAME]\n"
               "                      [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--json]\n\n"
               "flags:\n"
               "  --database URL        postgres://... or a SQLite file [LOCALAI_DATABASE_URL]\n"
               "  --data-path DIR       the default database is DIR/local-ai.db\n"
               "                        [LOCALAI_DATA_PATH] (default ./data)\n");
}

static const char *s_or(const json_t *o, const char *k, const char *def) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : def;
}

int cmd_usage(int argc, char **argv) {
    const cli_command *self = cli_find("usage");
    const char *database = cli_env("LOCALAI_DATABASE_URL", NULL);
    const char *data_path = cli_env("LOCALAI_DATA_PATH", "./data");
    auth_usage_filter f = {0};
    bool as_json = false;
    enum { OPT_DB = 1, OPT_DATA, OPT_KEY, OPT_USER, OPT_MODEL, OPT_SINCE, OPT_UNTIL, OPT_JSON };
    static const struct option opts[] = {
        {"database", required_argument, NULL, OPT_DB},
        {"data-path", required_argument, NULL, OPT_DATA},
        {"key", required_argument, NULL, OPT_KEY},
        {"user", required_argument, NULL, OPT_USER},
        {"model", required_argument, NULL, OPT_MODEL},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: database = optarg; break;
        case OPT_DATA: data_path = optarg; break;
        case OPT_KEY: f.key = optarg; break;
        case OPT_USER: f.user = optarg; break;
        case OPT_MODEL: f.model = optarg; break;
        case OPT_SINCE: f.since = optarg; break;
        case OPT_UNTIL: f.until = optarg; break;
        case OPT_JSON: as_json = true; break;
        case 'h': cmd_usage_usage(stdout); return 0;
        case ':': return cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(self, "unexpected argument '%s'", argv[optind]);
    auth *a;
    int rc = cli_auth_open(database, data_path, NULL, 0, 0, &a);
    if (rc) return rc;
    json_t *out = NULL;
    err_buf eb = {0};
    if (auth_usage_query(a, &f, &out, &eb)) {
        fprintf(stderr, "local-ai usage: %s\n", err_msg(&eb));
        auth_close(a);
        return 1;
    }
    if (as_json) {
        char *s = json_dumps(out, JSON_INDENT(2));
        if (s) puts(s);
        free(s);
    } else {
        printf("%-10s  %-12s  %-12s  %-16s  %8s  %10s  %10s  %10s\n", "DAY", "KEY", "USER", "MODEL",
               "REQUESTS", "PROMPT", "COMPLETION", "TOTAL");
        size_t i;
        json_t *u;
        json_array_foreach(json_object_get(out, "data"), i, u) printf(
            "%-10s  %-12s  %-12s  %-16s  %8lld  %10lld  %10lld  %10lld\n", s_or(u, "day", ""),
            s_or(u, "key_prefix", "-"), s_or(u, "user", "-"), s_or(u, "model", "-"),
            (long long)json_integer_value(json_object_get(u, "requests")),
            (long long)json_integer_value(json_object_get(u, "prompt_tokens")),
            (long long)json_integer_value(json_object_get(u, "completion_tokens")),
            (long long)json_integer_value(json_object_get(u, "total_tokens")));
        json_t *t = json_object_get(out, "totals");
        printf("%-10s  %-12s  %-12s  %-16s  %8lld  %10lld  %10lld  %10lld\n", "total", "", "", "",
               (long long)json_integer_value(json_object_get(t, "requests")),
               (long long)json_integer_value(json_object_get(t, "prompt_tokens")),
               (long long)json_integer_value(json_object_get(t, "completion_tokens")),
               (long long)json_integer_value(json_object_get(t, "total_tokens")));
    }
    json_decref(out);
    auth_close(a);
    return 0;
}
