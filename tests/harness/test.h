/*
 * The test harness: tiny assert macros that print both sides, tests that register
 * themselves, and a runner (main.c) that runs each test in its own process.
 *
 *   #include "test.h"
 *   TEST(arena_basic) {
 *       arena *a = arena_new(0);
 *       ASSERT_NOT_NULL(a);
 *       ASSERT_EQ_INT(arena_used(a), 0);
 *       arena_free(a);
 *   }
 *
 * A failed ASSERT ends the test at once (the process exits); TEST_SKIP("why") skips it.
 * Run `build/tests --list`, `build/tests NAME`, or `build/tests 'gguf_*'`.
 */
#ifndef TEST_H
#define TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/base.h"

typedef void (*test_fn)(void);
void test_register(const char *name, const char *file, test_fn fn);

_Noreturn void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void test_skip(const char *why);

#define TEST(name)                                                                 \
    static void test_##name(void);                                                 \
    __attribute__((constructor)) static void test_reg_##name(void) {               \
        test_register(#name, __FILE__, test_##name);                               \
    }                                                                              \
    static void test_##name(void)

#define TEST_SKIP(why) test_skip(why)

#define ASSERT_TRUE(c)                                                             \
    do { if (!(c)) test_fail(__FILE__, __LINE__, "expected true: %s", #c); } while (0)
#define ASSERT_FALSE(c)                                                            \
    do { if (c) test_fail(__FILE__, __LINE__, "expected false: %s", #c); } while (0)

#define ASSERT_EQ_INT(a, b)                                                        \
    do {                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                        \
        if (a_ != b_)                                                              \
            test_fail(__FILE__, __LINE__, "%s == %s\n    left:  %lld\n    right: %lld", \
                      #a, #b, a_, b_);                                             \
    } while (0)

#define ASSERT_NE_INT(a, b)                                                        \
    do {                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                        \
        if (a_ == b_)                                                              \
            test_fail(__FILE__, __LINE__, "%s != %s\n    both:  %lld", #a, #b, a_);  \
    } while (0)

#define ASSERT_EQ_UINT(a, b)                                                       \
    do {                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
        if (a_ != b_)                                                              \
            test_fail(__FILE__, __LINE__, "%s == %s\n    left:  %llu\n    right: %llu", \
                      #a, #b, a_, b_);                                             \
    } while (0)

#define ASSERT_CMP_INT(a, op, b)                                                   \
    do {                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                        \
        if (!(a_ op b_))                                                           \
            test_fail(__FILE__, __LINE__, "%s %s %s\n    left:  %lld\n    right: %lld", \
                      #a, #op, #b, a_, b_);                                        \
    } while (0)

#define ASSERT_EQ_STR(a, b)                                                        \
    do {                                                                           \
        const char *a_ = (a), *b_ = (b);                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                     \
            test_fail(__FILE__, __LINE__, "%s == %s\n    left:  \"%s\"\n    right: \"%s\"", \
                      #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");              \
    } while (0)

#define ASSERT_CONTAINS(hay, needle)                                               \
    do {                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                    \
        if (!h_ || !n_ || !strstr(h_, n_))                                         \
            test_fail(__FILE__, __LINE__, "%s contains %s\n    text:   \"%s\"\n    wanted: \"%s\"", \
                      #hay, #needle, h_ ? h_ : "(null)", n_ ? n_ : "(null)");       \
    } while (0)

#define ASSERT_NEAR(a, b, tol)                                                     \
    do {                                                                           \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);             \
        if (!(a_ - b_ <= t_ && b_ - a_ <= t_))                                     \
            test_fail(__FILE__, __LINE__, "|%s - %s| <= %g\n    left:  %.9g\n    right: %.9g", \
                      #a, #b, t_, a_, b_);                                         \
    } while (0)

#define ASSERT_NULL(p)                                                             \
    do { if ((p) != NULL) test_fail(__FILE__, __LINE__, "expected NULL: %s", #p); } while (0)
#define ASSERT_NOT_NULL(p)                                                         \
    do { if ((p) == NULL) test_fail(__FILE__, __LINE__, "expected non-NULL: %s", #p); } while (0)

/* Assert a base.h return code is 0; on failure print the code and the err_buf message. */
#define ASSERT_OK(rc, eb)                                                          \
    do {                                                                           \
        int rc_ = (rc);                                                            \
        const err_buf *eb_ = (eb);                                                 \
        if (rc_ != 0)                                                              \
            test_fail(__FILE__, __LINE__, "%s returned %d: %s", #rc, rc_,          \
                      eb_ ? eb_->msg : "");                                        \
    } while (0)

/* Path of a file under ../shared (or $LOCALAI_SHARED), in a static buffer valid until the
 * next call. Returns NULL when shared/ is missing; tests then TEST_SKIP. */
const char *test_shared_path(const char *rel);
/* test_shared_path or skip the test when the file does not exist. */
const char *test_shared_file(const char *rel);
/* The local-ai binary under test ($LOCALAI_BIN, else build/local-ai). */
const char *test_bin_path(void);
/* A fresh temporary directory for this test (removed by the runner afterwards). */
const char *test_tmpdir(void);
/* Run a program to completion: argv[0] is a path, env_extra a NULL-terminated list of
 * "NAME=value" added to the environment (or NULL). Its stdout and stderr are returned in
 * heap strings (free with free()). Returns the exit status as waitpid gives it, or -1. */
int test_run(char *const argv[], char *const env_extra[], char **out, char **err);
/* Start a program in the background with stderr (and stdout) on a pipe; *fd reads it. */
int test_spawn(char *const argv[], char *const env_extra[], int *pid, int *fd);
/* Read from fd until a line containing needle arrives (or timeout_ms); the line is copied
 * into line. Returns 0 when found. */
int test_wait_line(int fd, const char *needle, int timeout_ms, char *line, size_t cap);
/* Deterministic pseudo-random numbers for tests (xorshift). */
uint32_t test_rand_u32(uint64_t *state);
float test_rand_f32(uint64_t *state); /* uniform in [-1, 1) */

#endif
