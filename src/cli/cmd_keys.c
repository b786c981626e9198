/*
 * `local-ai keys`: create, list, change and revoke API keys in the user database the server
 * uses. `keys create` prints the new key alone on the last line of its output (the only time
 * it is shown), so scripts can take it with `tail -n1`.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cmd_keys_usage(FILE *f) {
    fprintf(
        f, "usage: local-ai keys create --name NAME [--user USER] [settings] [--expires DURATION]\n"
           "       local-ai keys list [--user USER] [--json]\n"
           "       local-ai keys update ID|PREFIX [--name NAME] [settings]\n"
           "       local-ai keys revoke ID|PREFIX\n\n"
           "settings (unset: the user's defaults; 'none' for unlimited):\n"
           "  --capabilities LIST   chat,completions,embeddings,audio,images,rerank,models,admin\n"
           "  --models GLOB,...     model names or globs the key may use\n"
           "  --rpm N               requests per minute\n"
           "  --tpm N               tokens per minute\n"
           "  --tokens-per-day N  --tokens-per-month N  --requests-per-day N\n"
           "  --expires DURATION    e.g. 3600, 90m, 12h, 30d, 2w (default: never)\n\n"
           "flags:\n"
           "  --database URL        postgres://... or a SQLite file [LOCALAI_DATABASE_URL]\n"
           "  --data-path DIR       the default database is DIR/local-ai.db\n"
           "                        [LOCALAI_DATA_PATH] (default ./data)\n");
}

static const char *str_or(const json_t *o, const char *k, const char *def) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : def;
}

static void print_keys(const json_t *list) {
    printf("%-16s  %-12s  %-16s  %-12s  %-20s  %-20s  %s\n", "ID", "PREFIX", "NAME", "USER",
           "EXPIRES", "LAST USED", "REVOKED");
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(list, "data"), i, k)
        printf("%-16s  %-12s  %-16s  %-12s  %-20s  %-20s  %s\n", str_or(k, "id", ""),
               str_or(k, "prefix", ""), str_or(k, "name", ""), str_or(k, "user", "-"),
               str_or(k, "expires_at", "never"), str_or(k, "last_used_at", "never"),
               str_or(k, "revoked_at", "-"));
}

int cmd_keys(int argc, char **argv) {
    const cli_command *self = cli_find("keys");
    const char *database = cli_env("LOCALAI_DATABASE_URL", NULL);
    const char *data_path = cli_env("LOCALAI_DATA_PATH", "./data");
    const char *user = NULL;
    bool as_json = false;
    json_t *spec = json_object();
    enum { OPT_DB = 1, OPT_DATA, OPT_NAME, OPT_USER, OPT_EXPIRES, OPT_JSON, OPT_SET = 1000 };
    struct option opts[] = {
        {"database", required_argument, NULL, OPT_DB},
        {"data-path", required_argument, NULL, OPT_DATA},
        {"name", required_argument, NULL, OPT_NAME},
        {"user", required_argument, NULL, OPT_USER},
        {"expires", required_argument, NULL, OPT_EXPIRES},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        CLI_LIMIT_OPTIONS(OPT_SET),
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c, rc = 0;
    int64_t secs;
    while (!rc && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: database = optarg; break;
        case OPT_DATA: data_path = optarg; break;
        case OPT_NAME: json_object_set_new(spec, "name", json_string(optarg)); break;
        case OPT_USER:
            user = optarg;
            json_object_set_new(spec, "user", json_string(optarg));
            break;
        case OPT_EXPIRES:
            if (cli_parse_duration(optarg, &secs))
                rc = cli_usage_error(self, "bad duration '%s' (e.g. 3600, 90m, 12h, 30d)", optarg);
            else
                json_object_set_new(spec, "expires_in", json_integer(secs));
            break;
        case OPT_JSON: as_json = true; break;
        case 'h':
            cmd_keys_usage(stdout);
            json_decref(spec);
            return 0;
        case ':': rc = cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]); break;
        default:
            if (c >= OPT_SET && c < OPT_SET + CLI_N_LIMIT_OPTIONS) {
                rc = cli_limit_flag(self, spec, c - OPT_SET, optarg);
            } else {
                rc = cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]);
            }
        }
    }
    const char *sub = optind < argc ? argv[optind] : NULL;
    const char *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
    bool needs_arg = sub && (!strcmp(sub, "update") || !strcmp(sub, "revoke"));
    if (!rc && !sub) rc = cli_usage_error(self, "no subcommand given");
    if (!rc && strcmp(sub, "create") && strcmp(sub, "list") && !needs_arg)
        rc = cli_usage_error(self, "unknown subcommand '%s'", sub);
    if (!rc && needs_arg && !arg) rc = cli_usage_error(self, "'%s' needs a key id or prefix", sub);
    if (!rc && optind + (needs_arg ? 2 : 1) < argc)
        rc = cli_usage_error(self, "unexpected argument '%s'", argv[optind + (needs_arg ? 2 : 1)]);
    if (!rc && !strcmp(sub, "create") && !json_object_get(spec, "name"))
        rc = cli_usage_error(self, "'keys create' needs --name");
    auth *a = NULL;
    if (rc || (rc = cli_auth_open(database, data_path, NULL, 0, 0, &a))) {
        json_decref(spec);
        return rc;
    }
    err_buf eb = {0};
    json_t *out = NULL;
    int err;
    if (!strcmp(sub, "create"))
        err = auth_key_create(a, cli_actor(), spec, &out, &eb);
    else if (!strcmp(sub, "list"))
        err = auth_key_list(a, user, &out, &eb);
    else if (!strcmp(sub, "update"))
        err = auth_key_update(a, cli_actor(), arg, spec, &out, &eb);
    else
        err = auth_key_revoke(a, cli_actor(), arg, &eb);
    if (err) {
        fprintf(stderr, "local-ai keys %s: %s\n", sub, err_msg(&eb));
        rc = 1;
    } else if (!strcmp(sub, "create")) {
        /* Everything about the key first; the secret alone on the last line. */
        json_t *secret = json_incref(json_object_get(out, "key"));
        json_object_del(out, "key");
        printf("created key %s (%s) named '%s'%s%s\n", str_or(out, "id", ""),
               str_or(out, "prefix", ""), str_or(out, "name", ""),
               json_object_get(out, "user") && !json_is_null(json_object_get(out, "user"))
                   ? " for user "
                   : "",
               str_or(out, "user", ""));
        if (json_is_string(json_object_get(out, "expires_at")))
            printf("expires at %s\n", str_or(out, "expires_at", ""));
        printf("This is the only time the key is shown; store it now:\n%s\n",
               json_string_value(secret));
        json_decref(secret);
    } else if (!strcmp(sub, "list") && !as_json) {
        print_keys(out);
    } else if (out) {
        char *s = json_dumps(out, JSON_INDENT(2));
        if (s) puts(s);
        free(s);
    } else {
        printf("revoked key %s\n", arg);
    }
    json_decref(out);
    json_decref(spec);
    auth_close(a);
    return rc;
}
