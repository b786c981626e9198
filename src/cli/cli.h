/*
 * cli: one file per subcommand; main.c only dispatches. Each command parses its own flags
 * (flags win over LOCALAI_* variables) and returns the process exit code:
 * 0 success, 1 a runtime failure, 2 a bad command line.
 */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

#include "auth/auth.h"
#include "base/base.h"
#include "engine/engine.h"

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*usage)(FILE *f);
} cli_command;

/* The table of subcommands (NULL-terminated), defined in main.c. */
extern const cli_command cli_commands[];

int cmd_run(int argc, char **argv);
void cmd_run_usage(FILE *f);
int cmd_tokenize(int argc, char **argv);
void cmd_tokenize_usage(FILE *f);
int cmd_eval(int argc, char **argv);
void cmd_eval_usage(FILE *f);
int cmd_bench(int argc, char **argv);
void cmd_bench_usage(FILE *f);
int cmd_generate(int argc, char **argv);
void cmd_generate_usage(FILE *f);
int cmd_chat_template(int argc, char **argv);
void cmd_chat_template_usage(FILE *f);
int cmd_perplexity(int argc, char **argv);
void cmd_perplexity_usage(FILE *f);
int cmd_embed(int argc, char **argv);
void cmd_embed_usage(FILE *f);
int cmd_models(int argc, char **argv);
void cmd_models_usage(FILE *f);
int cmd_users(int argc, char **argv);
void cmd_users_usage(FILE *f);
int cmd_keys(int argc, char **argv);
void cmd_keys_usage(FILE *f);
int cmd_usage(int argc, char **argv);
void cmd_usage_usage(FILE *f);

/* Open the user database (auth_opts.c): database is a URL or NULL for the SQLite file
 * local-ai.db in data_path. Prints errors; returns an exit code. */
int cli_auth_open(const char *database, const char *data_path, const char *const *shared_keys,
                  int n_shared_keys, int max_bad_keys, auth **out);
/* A duration (3600, 90s, 30m, 12h, 7d, 2w) in seconds. */
int cli_parse_duration(const char *s, int64_t *out);
/* Set a user or key setting from a flag's text: capabilities and models as CSV ("" or
 * "inherit": null), limits as integers ("none"/"unlimited": null). BASE_EINVAL when bad. */
int cli_spec_set(json_t *spec, const char *field, const char *value);
/* The permission and limit flags `users` and `keys` share, as getopt_long entries returning
 * base + 0 .. base + CLI_N_LIMIT_OPTIONS - 1; cli_limit_flag applies flag i to spec (an error
 * line and exit code 2 for a bad value, else 0). */
#define CLI_N_LIMIT_OPTIONS 7
#define CLI_LIMIT_OPTIONS(base)                                                                    \
    {"capabilities", required_argument, NULL, (base) + 0},                                         \
        {"models", required_argument, NULL, (base) + 1},                                           \
        {"rpm", required_argument, NULL, (base) + 2},                                              \
        {"tpm", required_argument, NULL, (base) + 3},                                              \
        {"tokens-per-day", required_argument, NULL, (base) + 4},                                   \
        {"tokens-per-month", required_argument, NULL, (base) + 5},                                 \
        {"requests-per-day", required_argument, NULL, (base) + 6}
int cli_limit_flag(const cli_command *self, json_t *spec, int i, const char *value);
/* "cli:$USER", who the audit log says acted from the command line (static buffer). */
const char *cli_actor(void);
int cmd_transcript(int argc, char **argv);
void cmd_transcript_usage(FILE *f);
int cmd_tts(int argc, char **argv);
void cmd_tts_usage(FILE *f);

/* Gallery helpers (cmd_models.c): default options for models_path (a progress bar when stderr
 * is a terminal) and the catalog with the extra galleries; print errors, return exit codes. */
typedef struct gal_opts gal_opts;
typedef struct gal_catalog gal_catalog;
int cli_gallery_open(const char *models_path, const char *galleries, gal_opts *o,
                     gal_catalog **cat);
int cli_install_model(const gal_opts *o, const gal_catalog *cat, const char *id,
                      const char *name);

/* Print "local-ai CMD: MESSAGE" and the command's usage to stderr; return 2. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const cli_command *cli_find(const char *name);
/* The value of environment variable var, or def when unset or empty. */
const char *cli_env(const char *var, const char *def);
/* Parse a whole decimal number in [lo, hi]. */
int cli_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out);
/* Number of online CPUs (at least 1). */
unsigned cli_default_threads(void);

/* Load a model (errors printed) and start a pool of threads; returns an exit code. */
int cli_open_model(const char *path, unsigned threads, llm_model **m, tpool **pool);
void cli_close_model(llm_model *m, tpool *pool);

#define LOCALAI_VERSION "0.1.0"

#endif
