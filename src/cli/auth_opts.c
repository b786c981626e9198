/* The user database for `run`, `users`, `keys` and `usage`: --database URL, else the SQLite
 * file local-ai.db in --data-path (created with its directory when missing). */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int cli_auth_open(const char *database, const char *data_path, const char *const *shared_keys,
                  int n_shared_keys, int max_bad_keys, auth **out) {
    char path[4096];
    const char *url = database;
    if (!url) {
        if (mkdir(data_path, 0700) && errno != EEXIST) {
            fprintf(stderr, "local-ai: cannot create the data directory %s: %s\n", data_path,
                    strerror(errno));
            return 1;
        }
        snprintf(path, sizeof path, "%s/local-ai.db", data_path);
        url = path;
    }
    auth_params p = auth_default_params();
    p.db_url = url;
    p.shared_keys = shared_keys;
    p.n_shared_keys = n_shared_keys;
    if (max_bad_keys > 0) p.max_bad_keys = max_bad_keys;
    err_buf eb = {0};
    if (auth_open(&p, out, &eb)) {
        /* The URL may hold a password: name the backend only. */
        fprintf(stderr, "local-ai: cannot open the user database (%s): %s\n",
                database ? "--database" : path, err_msg(&eb));
        return 1;
    }
    return 0;
}

const char *cli_actor(void) {
    static char who[96];
    snprintf(who, sizeof who, "cli:%s", cli_env("USER", "?"));
    return who;
}

/* A duration like 3600, 90s, 30m, 12h, 7d or 2w, in seconds. */
int cli_parse_duration(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v <= 0) return BASE_EINVAL;
    long long mul = !*end || !strcmp(end, "s") ? 1
                    : !strcmp(end, "m")        ? 60
                    : !strcmp(end, "h")        ? 3600
                    : !strcmp(end, "d")        ? 86400
                    : !strcmp(end, "w")        ? 604800
                                               : 0;
    if (!mul || v > INT64_MAX / mul) return BASE_EINVAL;
    *out = v * mul;
    return BASE_OK;
}

int cli_spec_set(json_t *spec, const char *field, const char *value) {
    if (!strcmp(field, "capabilities") || !strcmp(field, "models")) {
        if (!*value || !strcmp(value, "inherit"))
            return json_object_set_new(spec, field, json_null());
        return json_object_set_new(spec, field, json_string(value));
    }
    if (!strcmp(value, "none") || !strcmp(value, "unlimited"))
        return json_object_set_new(spec, field, json_null());
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v < 0) return BASE_EINVAL;
    return json_object_set_new(spec, field, json_integer(v));
}

int cli_limit_flag(const cli_command *self, json_t *spec, int i, const char *value) {
    /* In CLI_LIMIT_OPTIONS' order: the flag, then the user/key field it sets. */
    static const char *const fields[CLI_N_LIMIT_OPTIONS][2] = {
        {"capabilities", "capabilities"},
        {"models", "models"},
        {"rpm", "rpm"},
        {"tpm", "tpm"},
        {"tokens-per-day", "tokens_per_day"},
        {"tokens-per-month", "tokens_per_month"},
        {"requests-per-day", "requests_per_day"},
    };
    if (i < 0 || i >= CLI_N_LIMIT_OPTIONS || cli_spec_set(spec, fields[i][1], value))
        return cli_usage_error(self, "bad value '%s' for --%s", value,
                               i >= 0 && i < CLI_N_LIMIT_OPTIONS ? fields[i][0] : "?");
    return 0;
}
