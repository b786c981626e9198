/*
 * `local-ai users`: manage the users of the user database the server uses (the same
 * --database, or the SQLite file in --data-path), so an admin can bootstrap before any key
 * exists.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cmd_users_usage(FILE *f) {
    fprintf(f,
            "usage: local-ai users create NAME [--admin] [settings]\n"
            "       local-ai users list [--json]\n"
            "       local-ai users update NAME|ID [--role admin|user] [--state active|disabled]\n"
            "                             [settings]\n"
            "       local-ai users delete NAME|ID     (revokes the user's keys too)\n\n"
            "settings (the defaults of the user's keys; 'none' for unlimited):\n"
            "  --capabilities LIST   chat,completions,embeddings,audio,images,rerank,models,admin\n"
            "  --models GLOB,...     model names or globs the user may use\n"
            "  --rpm N  --tpm N  --tokens-per-day N  --tokens-per-month N  --requests-per-day N\n\n"
            "flags:\n"
            "  --database URL        postgres://... or a SQLite file [LOCALAI_DATABASE_URL]\n"
            "  --data-path DIR       the default database is DIR/local-ai.db\n"
            "                        [LOCALAI_DATA_PATH] (default ./data)\n");
}

/* The settings flags shared with `keys`: long option name and JSON field. */
static void print_users(const json_t *list) {
    printf("%-16s  %-20s  %-6s  %-8s  %s\n", "ID", "NAME", "ROLE", "STATE", "CREATED");
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(list, "data"), i, u)
        printf("%-16s  %-20s  %-6s  %-8s  %s\n", json_string_value(json_object_get(u, "id")),
               json_string_value(json_object_get(u, "name")),
               json_string_value(json_object_get(u, "role")),
               json_string_value(json_object_get(u, "state")),
               json_string_value(json_object_get(u, "created_at")));
}

int cmd_users(int argc, char **argv) {
    const cli_command *self = cli_find("users");
    const char *database = cli_env("LOCALAI_DATABASE_URL", NULL);
    const char *data_path = cli_env("LOCALAI_DATA_PATH", "./data");
    bool as_json = false;
    json_t *spec = json_object();
    enum { OPT_DB = 1, OPT_DATA, OPT_ADMIN, OPT_ROLE, OPT_STATE, OPT_JSON, OPT_SET = 1000 };
    struct option opts[] = {
        {"database", required_argument, NULL, OPT_DB},
        {"data-path", required_argument, NULL, OPT_DATA},
        {"admin", no_argument, NULL, OPT_ADMIN},
        {"role", required_argument, NULL, OPT_ROLE},
        {"state", required_argument, NULL, OPT_STATE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        CLI_LIMIT_OPTIONS(OPT_SET),
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c, rc = 0;
    while (!rc && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: database = optarg; break;
        case OPT_DATA: data_path = optarg; break;
        case OPT_ADMIN: json_object_set_new(spec, "role", json_string("admin")); break;
        case OPT_ROLE: json_object_set_new(spec, "role", json_string(optarg)); break;
        case OPT_STATE: json_object_set_new(spec, "state", json_string(optarg)); break;
        case OPT_JSON: as_json = true; break;
        case 'h':
            cmd_users_usage(stdout);
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
    if (!rc && !sub) rc = cli_usage_error(self, "no subcommand given");
    if (!rc && strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "update") &&
        strcmp(sub, "delete"))
        rc = cli_usage_error(self, "unknown subcommand '%s'", sub);
    bool needs_arg = sub && strcmp(sub, "list");
    if (!rc && needs_arg && !arg) rc = cli_usage_error(self, "'%s' needs a user name", sub);
    if (!rc && optind + (needs_arg ? 2 : 1) < argc)
        rc = cli_usage_error(self, "unexpected argument '%s'", argv[optind + (needs_arg ? 2 : 1)]);
    auth *a = NULL;
    if (rc || (rc = cli_auth_open(database, data_path, NULL, 0, 0, &a))) {
        json_decref(spec);
        return rc;
    }
    err_buf eb = {0};
    json_t *out = NULL;
    int err;
    if (!strcmp(sub, "create")) {
        json_object_set_new(spec, "name", json_string(arg));
        err = auth_user_create(a, cli_actor(), spec, &out, &eb);
    } else if (!strcmp(sub, "list")) {
        err = auth_user_list(a, &out, &eb);
    } else if (!strcmp(sub, "update")) {
        err = auth_user_update(a, cli_actor(), arg, spec, &out, &eb);
    } else {
        err = auth_user_delete(a, cli_actor(), arg, &eb);
    }
    if (err) {
        fprintf(stderr, "local-ai users %s: %s\n", sub, err_msg(&eb));
        rc = 1;
    } else if (out && (as_json || strcmp(sub, "list"))) {
        char *s = json_dumps(out, JSON_INDENT(2));
        if (s) puts(s);
        free(s);
    } else if (out) {
        print_users(out);
    } else {
        printf("deleted user %s\n", arg);
    }
    json_decref(out);
    json_decref(spec);
    auth_close(a);
    return rc;
}
