/* Leveled logging to stderr, one line per message, with a UTC timestamp. */
#include "base.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static atomic_int cur_level = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

void log_set_level(log_level lvl) { atomic_store(&cur_level, (int)lvl); }
log_level log_get_level(void) { return (log_level)atomic_load(&cur_level); }

int log_level_parse(const char *s, log_level *out) {
    if (!s) return BASE_EINVAL;
    for (int i = 0; i <= LOG_TRACE; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (log_level)i;
            return BASE_OK;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return BASE_OK;
    }
    return BASE_EINVAL;
}

void log_msg(log_level lvl, const char *fmt, ...) {
    if ((int)lvl > atomic_load(&cur_level)) return;
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per line keeps lines from different threads whole. */
    size_t len = strlen(line);
    if (len + 1 < sizeof line) {
        line[len] = '\n';
        line[len + 1] = 0;
    }
    fputs(line, stderr);
}
