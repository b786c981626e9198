/*
 * The repacked weights of a model kept in a cache file, so that a later load maps them (the
 * page cache then holds them once for every process, as it holds the GGUF file) instead of
 * copying and repacking them again.
 *
 * One file per model file and packing plan: <dir>/<key>.r8, a header page (the source file's
 * path and identity, the layout version, the plan's hash) then the packed bytes as they lie
 * in memory. The first load packs in memory as before and a background thread writes the
 * file (a temporary name, fsync, rename: a reader sees a whole file or none); it then removes
 * the entries whose model file is gone or changed. Any mismatch on reading is a miss.
 *
 * LOCALAI_REPACK_CACHE: the directory, or "off". Default $XDG_CACHE_HOME/local-ai/repack,
 * else $HOME/.cache/local-ai/repack.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"

#define CACHE_MAGIC "LAIR8PK1"
/* The packed bytes start here: a multiple of any page size we run with, so they can be
 * mapped directly. */
#define CACHE_DATA_OFF 65536u
#define CACHE_CHUNK (8u << 20) /* bytes per write: the writer checks for a cancel between */
#define CACHE_TMP_MAX_AGE 3600 /* seconds after which a leftover temporary file is removed */

typedef struct cache_header {
    char magic[8];
    uint32_t layout;    /* KERN_R8_LAYOUT_VERSION */
    uint32_t data_off;  /* CACHE_DATA_OFF */
    gguf_file_id src;   /* the model file */
    uint64_t plan;      /* hash of what is packed where (repack.c) */
    uint64_t data_len;  /* the packed bytes */
    char src_path[4032]; /* NUL-terminated */
} cache_header;
_Static_assert(sizeof(cache_header) == 4096, "cache_header: one small page");

struct llm_repack_cache {
    pthread_t thread;
    atomic_bool cancel;
    const void *mem;
    size_t len;
    cache_header hdr;
    char dir[2048], tmp[2200], path[2200];
};

/* The directory from the environment; false when caching is off or there is none. */
static bool cache_dir(char *out, size_t cap) {
    const char *e = getenv("LOCALAI_REPACK_CACHE"), *x = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (e && *e) {
        if (!strcmp(e, "off")) return false;
        n = snprintf(out, cap, "%s", e);
    } else if (x && *x == '/') {
        n = snprintf(out, cap, "%s/local-ai/repack", x);
    } else if (home && *home == '/') {
        n = snprintf(out, cap, "%s/.cache/local-ai/repack", home);
    } else {
        return false;
    }
    return n > 0 && (size_t)n < cap;
}

/* mkdir -p, the last levels private to the user. */
static bool make_dirs(const char *dir) {
    char p[2048];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return false;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0700) && errno != EEXIST) return false;
        *s = '/';
    }
    return !mkdir(p, 0700) || errno == EEXIST;
}

/* The header the cache entry of (g, plan, len) must have; false when g has no file. */
static bool expected_header(const gguf *g, uint64_t plan, size_t len, cache_header *h) {
    const char *path;
    gguf_file_id id;
    if (!gguf_file_identity(g, &path, &id) || strlen(path) >= sizeof h->src_path) return false;
    memset(h, 0, sizeof *h);
    memcpy(h->magic, CACHE_MAGIC, 8);
    h->layout = KERN_R8_LAYOUT_VERSION;
    h->data_off = CACHE_DATA_OFF;
    h->src = id;
    h->plan = plan;
    h->data_len = len;
    strcpy(h->src_path, path);
    return true;
}

static bool entry_path(const char *dir, const cache_header *h, char *out, size_t cap) {
    uint64_t k = llm_fnv1a(LLM_FNV_SEED, h->src_path, strlen(h->src_path));
    k = llm_fnv1a(k, &h->src, sizeof h->src);
    k = llm_fnv1a(k, &h->plan, sizeof h->plan);
    k = llm_fnv1a(k, &h->layout, sizeof h->layout);
    const int n = snprintf(out, cap, "%s/%016" PRIx64 ".r8", dir, k);
    return n > 0 && (size_t)n < cap;
}

static bool same_id(const gguf_file_id *a, const gguf_file_id *b) {
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

void *llm_repack_cache_map(const gguf *g, uint64_t plan, size_t len, char *path, size_t cap) {
    char dir[2048];
    cache_header want, have;
    if (!len || (long)CACHE_DATA_OFF % sysconf(_SC_PAGESIZE) || !cache_dir(dir, sizeof dir) ||
        !expected_header(g, plan, len, &want) || !entry_path(dir, &want, path, cap))
        return NULL;
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    void *mem = NULL;
    if (!fstat(fd, &st) && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size == (uint64_t)CACHE_DATA_OFF + len &&
        pread(fd, &have, sizeof have, 0) == (ssize_t)sizeof have &&
        !memcmp(&have, &want, sizeof have)) {
        mem = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, CACHE_DATA_OFF);
        if (mem == MAP_FAILED) mem = NULL;
    }
    close(fd);
    return mem;
}

/* Entries of models that are gone or changed, and temporary files left by writers that
 * died; never a file without our magic. */
static void prune(const struct llm_repack_cache *w) {
    DIR *d = opendir(w->dir);
    if (!d) return;
    const time_t now = time(NULL);
    const char *self = strrchr(w->path, '/') + 1;
    for (struct dirent *e; (e = readdir(d));) {
        const char *name = e->d_name;
        const size_t n = strlen(name);
        char p[2400];
        if (snprintf(p, sizeof p, "%s/%s", w->dir, name) >= (int)sizeof p) continue;
        struct stat st;
        if (strstr(name, ".r8.tmp.")) {
            if (!stat(p, &st) && now - st.st_mtime > CACHE_TMP_MAX_AGE) unlink(p);
            continue;
        }
        if (n < 4 || strcmp(name + n - 3, ".r8") || !strcmp(name, self)) continue;
        cache_header h;
        const int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        const bool ok = pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && !memcmp(h.magic, CACHE_MAGIC, 8);
        close(fd);
        if (!ok) continue;
        h.src_path[sizeof h.src_path - 1] = 0;
        bool stale = !strcmp(h.src_path, w->hdr.src_path); /* this model's older entry */
        if (!stale) {
            stale = stat(h.src_path, &st) != 0;
            if (!stale) {
                const gguf_file_id id = {(uint64_t)st.st_dev, (uint64_t)st.st_ino, (uint64_t)st.st_size,
                                         (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec};
                stale = !same_id(&id, &h.src);
            }
        }
        if (stale) unlink(p);
    }
    closedir(d);
}

static bool write_all(int fd, const void *p, size_t n, off_t off, const atomic_bool *cancel) {
    const uint8_t *b = p;
    while (n) {
        if (cancel && atomic_load_explicit(cancel, memory_order_relaxed)) return false;
        const size_t k = n < CACHE_CHUNK ? n : CACHE_CHUNK;
        const ssize_t r = pwrite(fd, b, k, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        b += r, off += r, n -= (size_t)r;
    }
    return true;
}

static void *writer_main(void *arg) {
    struct llm_repack_cache *w = arg;
#ifdef SYS_gettid
    /* Below the inference threads: this is background work. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
#endif
    const int fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return NULL;
    /* The data first, the header last, then fsync and rename: an entry is whole or absent. */
    bool ok = write_all(fd, w->mem, w->len, CACHE_DATA_OFF, &w->cancel) &&
              write_all(fd, &w->hdr, sizeof w->hdr, 0, &w->cancel) && !fsync(fd);
    ok = !close(fd) && ok;
    if (ok && !atomic_load(&w->cancel) && !rename(w->tmp, w->path)) {
        log_info("engine: repacked weights saved to %s", w->path);
        prune(w);
    } else {
        if (!atomic_load(&w->cancel)) log_warn("engine: cannot write the repack cache %s: %s", w->tmp, strerror(errno));
        unlink(w->tmp);
    }
    return NULL;
}

llm_repack_cache *llm_repack_cache_save(const gguf *g, uint64_t plan, const void *mem, size_t len) {
    struct llm_repack_cache *w = mem_calloc(1, sizeof *w);
    if (!w) return NULL;
    static atomic_uint seq;
    if (!cache_dir(w->dir, sizeof w->dir) || !expected_header(g, plan, len, &w->hdr) ||
        !entry_path(w->dir, &w->hdr, w->path, sizeof w->path) ||
        snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%d.%u", w->path, (int)getpid(),
                 atomic_fetch_add(&seq, 1)) >= (int)sizeof w->tmp) {
        mem_free(w);
        return NULL;
    }
    if (!make_dirs(w->dir)) {
        log_warn("engine: cannot create the repack cache directory %s: %s", w->dir, strerror(errno));
        mem_free(w);
        return NULL;
    }
    w->mem = mem;
    w->len = len;
    atomic_init(&w->cancel, false);
    if (pthread_create(&w->thread, NULL, writer_main, w)) {
        mem_free(w);
        return NULL;
    }
    return w;
}

void llm_repack_cache_finish(llm_repack_cache *w, bool cancel) {
    if (!w) return;
    if (cancel) atomic_store(&w->cancel, true);
    pthread_join(w->thread, NULL);
    mem_free(w);
}
