/* Helpers shared by the subcommands: usage errors, environment variables, numbers. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const cli_command *cli_find(const char *name) {
    for (const cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...) {
    fprintf(stderr, "local-ai %s: ", cmd->name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    cmd->usage(stderr);
    return 2;
}

const char *cli_env(const char *var, const char *def) {
    const char *v = getenv(var);
    return v && *v ? v : def;
}

int cli_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out) {
    if (!s || !*s) return BASE_EINVAL;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || s[0] == '-' || v < lo || v > hi) return BASE_EINVAL;
    *out = (unsigned)v;
    return BASE_OK;
}

unsigned cli_default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}
