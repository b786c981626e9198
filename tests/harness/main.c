/*
 * The test runner. Each test runs in a forked child, so a crash or a sanitizer report fails
 * that test alone, and a test that hangs is killed after TEST_TIMEOUT seconds (default 300).
 * Exit status of a child: 0 pass, 77 skip, anything else (or a signal) fail.
 * The last line printed is "N passed, N failed" (", N skipped" when any were skipped).
 */
#include "test.h"

#include <errno.h>
#include <fnmatch.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_SKIP 77
#define EXIT_FAIL 99
#define MAX_TESTS 4096

typedef struct {
    const char *name, *file;
    test_fn fn;
} test_case;

static test_case tests[MAX_TESTS];
static int n_tests;
static char tmpdir[512];

void test_register(const char *name, const char *file, test_fn fn) {
    if (n_tests == MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    tests[n_tests++] = (test_case){name, file, fn};
}

void test_fail(const char *file, int line, const char *fmt, ...) {
    fflush(stdout);
    fprintf(stderr, "  %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(EXIT_FAIL);
}

void test_skip(const char *why) {
    fflush(stdout);
    fprintf(stderr, "  skipped: %s\n", why);
    fflush(stderr);
    _exit(EXIT_SKIP);
}

const char *test_shared_path(const char *rel) {
    static char path[4096];
    const char *root = getenv("LOCALAI_SHARED");
    if (!root || !*root) root = "../shared";
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return path;
}

const char *test_shared_file(const char *rel) {
    const char *p = test_shared_path(rel);
    if (!p || access(p, R_OK) != 0) {
        static char why[600];
        snprintf(why, sizeof why, "shared file %s not present", rel);
        test_skip(why);
    }
    return p;
}

const char *test_bin_path(void) {
    const char *b = getenv("LOCALAI_BIN");
    return b && *b ? b : "build/local-ai";
}

const char *test_tmpdir(void) { return tmpdir; }

uint32_t test_rand_u32(uint64_t *s) {
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return (uint32_t)(x >> 32);
}

float test_rand_f32(uint64_t *s) { return (float)((double)test_rand_u32(s) / 2147483648.0 - 1.0); }

extern char **environ;

/* fork+exec with extra environment variables; stdout/stderr go to the given fds. */
static int spawn_with(char *const argv[], char *const env_extra[], int out_fd, int err_fd) {
    pid_t pid = fork();
    if (pid != 0) return pid;
    for (int i = 0; env_extra && env_extra[i]; i++) putenv(env_extra[i]);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execv(argv[0], argv);
    _exit(127);
}

static char *slurp_fd(int fd) {
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    for (;;) {
        if (len + 1024 > cap) s = realloc(s, cap *= 2);
        ssize_t n = read(fd, s + len, cap - len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    s[len] = 0;
    return s;
}

int test_run(char *const argv[], char *const env_extra[], char **out, char **err) {
    char tmpl_o[] = "/tmp/localai-out-XXXXXX", tmpl_e[] = "/tmp/localai-err-XXXXXX";
    int fo = mkstemp(tmpl_o), fe = mkstemp(tmpl_e);
    unlink(tmpl_o);
    unlink(tmpl_e);
    int pid = spawn_with(argv, env_extra, fo, fe);
    int st = -1;
    if (pid > 0) while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    lseek(fo, 0, SEEK_SET);
    lseek(fe, 0, SEEK_SET);
    char *o = slurp_fd(fo), *e = slurp_fd(fe);
    close(fo);
    close(fe);
    if (out) *out = o; else free(o);
    if (err) *err = e; else free(e);
    return pid > 0 ? st : -1;
}

int test_spawn(char *const argv[], char *const env_extra[], int *pid, int *fd) {
    int p[2];
    if (pipe(p)) return -1;
    int child = spawn_with(argv, env_extra, p[1], p[1]);
    close(p[1]);
    if (child < 0) {
        close(p[0]);
        return -1;
    }
    *pid = child;
    *fd = p[0];
    return 0;
}

int test_wait_line(int fd, const char *needle, int timeout_ms, char *line, size_t cap) {
    static char acc[65536];
    static size_t len;
    double end = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    end = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6 + timeout_ms;
    for (;;) {
        char *nl;
        while ((nl = memchr(acc, '\n', len)) != NULL) {
            *nl = 0;
            bool hit = strstr(acc, needle) != NULL;
            if (hit) snprintf(line, cap, "%s", acc);
            size_t used = (size_t)(nl - acc) + 1;
            memmove(acc, nl + 1, len - used);
            len -= used;
            if (hit) return 0;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double left = end - (ts.tv_sec * 1e3 + ts.tv_nsec / 1e6);
        if (left <= 0 || len == sizeof acc - 1) return -1;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0) return -1;
        ssize_t n = read(fd, acc + len, sizeof acc - 1 - len);
        if (n <= 0) return -1;
        len += (size_t)n;
    }
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static bool selected(const char *name, int argc, char **argv) {
    bool any = false;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') continue;
        any = true;
        if (fnmatch(argv[i], name, 0) == 0) return true;
    }
    return !any;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_tests(const void *a, const void *b) {
    const test_case *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv) {
    qsort(tests, (size_t)n_tests, sizeof tests[0], cmp_tests);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--list")) {
            for (int t = 0; t < n_tests; t++) printf("%s\t%s\n", tests[t].name, tests[t].file);
            return 0;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s [--list] [PATTERN ...]\n"
                   "Runs every test, or those whose name matches a shell PATTERN.\n", argv[0]);
            return 0;
        }
    }
    const char *to = getenv("TEST_TIMEOUT");
    unsigned timeout = to ? (unsigned)atoi(to) : 300;
    int passed = 0, failed = 0, skipped = 0, ran = 0;
    char failures[8192] = "";
    for (int t = 0; t < n_tests; t++) {
        if (!selected(tests[t].name, argc, argv)) continue;
        ran++;
        snprintf(tmpdir, sizeof tmpdir, "/tmp/localai-test-%d-%s", (int)getpid(), tests[t].name);
        mkdir(tmpdir, 0700);
        fflush(stdout);
        fflush(stderr);
        double t0 = now_ms();
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            alarm(timeout);
            /* Servers and CLI commands a test starts keep their user database in its tmpdir. */
            char data[600];
            snprintf(data, sizeof data, "%s/data", tmpdir);
            setenv("LOCALAI_DATA_PATH", data, 1);
            /* and their repack cache, unless the run names one (or "off"). */
            if (!getenv("LOCALAI_REPACK_CACHE")) {
                char rc[600];
                snprintf(rc, sizeof rc, "%s/repack-cache", tmpdir);
                setenv("LOCALAI_REPACK_CACHE", rc, 1);
            }
            tests[t].fn();
            fflush(stdout);
            exit(0); /* exit, not _exit: LeakSanitizer checks at exit */
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        double ms = now_ms() - t0;
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            passed++;
            printf("ok    %-48s %8.1f ms\n", tests[t].name, ms);
        } else if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_SKIP) {
            skipped++;
            printf("skip  %s\n", tests[t].name);
        } else {
            failed++;
            if (WIFSIGNALED(st))
                printf("FAIL  %s (%s)\n", tests[t].name,
                       WTERMSIG(st) == SIGALRM ? "timed out" : strsignal(WTERMSIG(st)));
            else
                printf("FAIL  %s (exit %d)\n", tests[t].name, WEXITSTATUS(st));
            size_t l = strlen(failures);
            snprintf(failures + l, sizeof failures - l, "  %s (%s)\n", tests[t].name, tests[t].file);
        }
    }
    if (ran == 0 && argc > 1) fprintf(stderr, "no test matches\n");
    if (failed) printf("\nfailed tests:\n%s", failures);
    printf("\n");
    if (skipped)
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    else
        printf("%d passed, %d failed\n", passed, failed);
    return failed || ran == 0 ? 1 : 0;
}
