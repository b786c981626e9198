/*
 * base: the ground every other module stands on.
 *
 *   - errors:  int return codes (0 ok, negative BASE_E*), base_err_str(code), and
 *              an err_buf the caller passes in to receive a one-line message.
 *   - memory:  mem_alloc/mem_calloc/mem_realloc/mem_free go through one hook, so tests can
 *              make the Nth allocation fail (mem_fail_after).
 *   - arena:   bump allocator for request-lifetime memory, freed in one call.
 *   - slices:  str_slice (ptr, len) views of text that is owned elsewhere.
 *   - log:     leveled logging to stderr (LOCALAI_LOG_LEVEL).
 *   - time:    monotonic clock.
 *
 * Usage:
 *   err_buf eb = {0};
 *   arena *a = arena_new(0);
 *   char *s = arena_strdup(a, "hello");
 *   if (!s) { err_set(&eb, BASE_ENOMEM, "out of memory"); }
 *   arena_free(a);
 */
#ifndef BASE_H
#define BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors ----------------------------------------------------------------------------- */

enum {
    BASE_OK = 0,
    BASE_ENOMEM = -1,       /* allocation failed */
    BASE_EINVAL = -2,       /* bad argument or input */
    BASE_EIO = -3,          /* read/write/open failed */
    BASE_EFORMAT = -4,      /* malformed file or data */
    BASE_EUNSUPPORTED = -5, /* valid but not supported (a type, an architecture) */
    BASE_ENOTFOUND = -6,    /* a key, file or name does not exist */
    BASE_ERANGE = -7,       /* a value out of range, a buffer too small */
    BASE_ETYPE = -8,        /* a value exists with another type */
    BASE_EBUSY = -9,        /* resource in use, try later */
    BASE_EPERM = -10,       /* not allowed */
    BASE_ETIMEDOUT = -11,   /* gave up waiting */
    BASE_EFULL = -12,       /* a fixed capacity (context, queue) is exhausted */
    BASE_ECANCELED = -13,   /* the caller went away */
    BASE_EINTERNAL = -14,   /* our own bug */
};

/* A short, static description of an error code ("out of memory"). Never NULL. */
const char *base_err_str(int code);

/* Where a failing function writes its one-line message. Zero-initialize it. */
typedef struct err_buf {
    int code;
    char msg[256];
} err_buf;

/* Record code and a printf-style message in eb (which may be NULL). Returns code, so that
 * `return err_set(eb, BASE_EFORMAT, "bad magic at offset %zu", off);` reads naturally. */
int err_set(err_buf *eb, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The message, or base_err_str(code) when no message was set. */
const char *err_msg(const err_buf *eb);

/* ---- memory hook ------------------------------------------------------------------------ */

/* All heap allocation in the project goes through these. They behave like malloc & co, and
 * return NULL when the hook says so (tests) or the system is out of memory. */
void *mem_alloc(size_t n);
void *mem_calloc(size_t count, size_t size);
void *mem_realloc(void *p, size_t n);
void mem_free(void *p);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
/* Aligned allocation (align a power of two >= sizeof(void*)); free with mem_free_aligned. */
void *mem_alloc_aligned(size_t align, size_t n);
void mem_free_aligned(void *p);

/* Tests: make allocation number n (0-based, counted from this call) and every later one fail.
 * n < 0 switches failures off. mem_alloc_count() tells how many allocations were attempted
 * since the last mem_fail_after call, so a fault loop knows when it has covered them all. */
void mem_fail_after(long n);
long mem_alloc_count(void);

/* Overflow-checked arithmetic on sizes: return false on overflow. */
static inline bool size_mul(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool size_add(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* ---- arena ------------------------------------------------------------------------------ */

typedef struct arena arena;

/* A new arena whose chunks are at least chunk_size bytes (0: a default of 64 KiB).
 * Returns NULL when out of memory. Free with arena_free. */
arena *arena_new(size_t chunk_size);
/* Free the arena and every allocation made from it. NULL is fine. */
void arena_free(arena *a);
/* Forget all allocations but keep the first chunk for reuse. */
void arena_reset(arena *a);
/* n bytes aligned to 16, valid until arena_free/arena_reset. NULL when out of memory. */
void *arena_alloc(arena *a, size_t n);
void *arena_calloc(arena *a, size_t count, size_t size);
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Total bytes handed out since creation or the last reset. */
size_t arena_used(const arena *a);

/* ---- slices ----------------------------------------------------------------------------- */

/* A borrowed view of text: valid as long as the memory it points into. Not NUL-terminated. */
typedef struct str_slice {
    const char *ptr;
    size_t len;
} str_slice;

static inline str_slice str_from_cstr(const char *s) {
    str_slice r = {s, 0};
    if (s)
        while (s[r.len]) r.len++;
    return r;
}
bool str_eq(str_slice a, str_slice b);
bool str_eq_cstr(str_slice a, const char *b);
bool str_starts_with(str_slice s, const char *prefix);

/* A growable byte buffer (for building text and binary blobs). Zero-initialize it. */
typedef struct buf {
    char *data; /* NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    bool oom; /* an append failed: the content is incomplete */
} buf;

int buf_append(buf *b, const void *data, size_t n);
int buf_append_str(buf *b, const char *s);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf *b, const char *fmt, va_list ap);
void buf_free(buf *b);

/* ---- logging ---------------------------------------------------------------------------- */

typedef enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
    LOG_TRACE = 4,
} log_level;

void log_set_level(log_level lvl);
log_level log_get_level(void);
/* Parse "error", "warn", "info", "debug", "trace" (LocalAI's names). Returns 0 or BASE_EINVAL. */
int log_level_parse(const char *s, log_level *out);
void log_msg(log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) \
    do { if (log_get_level() >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

/* ---- time ------------------------------------------------------------------------------- */

/* Monotonic nanoseconds since an arbitrary point. */
uint64_t time_now_ns(void);
/* Wall clock, seconds since the epoch. */
int64_t time_unix(void);

/* ---- thread pool ------------------------------------------------------------------------ */

/* A persistent pool for compute: n_threads in all, the caller being thread 0. tpool_run
 * wakes the workers, runs fn(ctx, ith, nth) on every thread and returns when all are done.
 * Workers spin briefly between runs (a forward pass issues many short runs), then sleep. */
typedef struct tpool tpool;
typedef void (*tpool_fn)(void *ctx, int ith, int nth);

tpool *tpool_new(int n_threads); /* NULL when out of memory or threads cannot start */
void tpool_free(tpool *p);       /* NULL is fine */
int tpool_size(const tpool *p);  /* 1 for a NULL pool */
/* Run fn on every thread of p (p NULL: once, on the caller, as fn(ctx, 0, 1)).
 * Not reentrant: one tpool_run at a time per pool. */
void tpool_run(tpool *p, tpool_fn fn, void *ctx);

/* ---- files ------------------------------------------------------------------------------ */

/* Read a whole file into a NUL-terminated heap buffer (free with mem_free). */
int file_read_all(const char *path, char **out, size_t *out_len, err_buf *eb);

#endif
