/* Tests of the base module: errors, the allocation hook, arena, slices, buffers, logging. */
#include "base.h"
#include "test.h"

#include <stdio.h>

TEST(base_err_messages) {
    err_buf eb = {0};
    ASSERT_EQ_STR(err_msg(&eb), "ok");
    ASSERT_EQ_INT(err_set(&eb, BASE_EFORMAT, "bad magic at offset %d", 4), BASE_EFORMAT);
    ASSERT_EQ_INT(eb.code, BASE_EFORMAT);
    ASSERT_EQ_STR(err_msg(&eb), "bad magic at offset 4");
    ASSERT_EQ_STR(base_err_str(BASE_ENOMEM), "out of memory");
    ASSERT_EQ_STR(base_err_str(12345), "unknown error");
    ASSERT_EQ_INT(err_set(NULL, BASE_EIO, "ignored"), BASE_EIO);
}

TEST(base_mem_fail_after) {
    mem_fail_after(2);
    void *a = mem_alloc(8), *b = mem_alloc(8), *c = mem_alloc(8);
    ASSERT_NOT_NULL(a);
    ASSERT_NOT_NULL(b);
    ASSERT_NULL(c);
    ASSERT_NULL(mem_calloc(1, 1));
    ASSERT_EQ_INT(mem_alloc_count(), 4);
    mem_fail_after(-1);
    void *d = mem_alloc(8);
    ASSERT_NOT_NULL(d);
    mem_free(a);
    mem_free(b);
    mem_free(d);
}

TEST(base_arena_alloc_align_reset) {
    arena *a = arena_new(128);
    ASSERT_NOT_NULL(a);
    char *p = arena_alloc(a, 3);
    char *q = arena_alloc(a, 5);
    ASSERT_NOT_NULL(p);
    ASSERT_EQ_INT((uintptr_t)p % 16, 0);
    ASSERT_EQ_INT((uintptr_t)q % 16, 0);
    /* Bigger than a chunk: gets its own chunk. */
    char *big = arena_alloc(a, 10000);
    ASSERT_NOT_NULL(big);
    memset(big, 1, 10000);
    ASSERT_EQ_STR(arena_strdup(a, "hello"), "hello");
    ASSERT_EQ_STR(arena_printf(a, "%d-%s", 42, "x"), "42-x");
    ASSERT_CMP_INT(arena_used(a), >=, 10000);
    arena_reset(a);
    ASSERT_EQ_INT(arena_used(a), 0);
    ASSERT_NOT_NULL(arena_alloc(a, 64));
    /* Overflowing sizes fail cleanly. */
    ASSERT_NULL(arena_alloc(a, SIZE_MAX - 3));
    ASSERT_NULL(arena_calloc(a, SIZE_MAX / 2, 4));
    arena_free(a);
    arena_free(NULL);
}

TEST(base_arena_oom_loop) {
    /* Fail allocation n, n+1, ... until the sequence completes; each failure is clean. */
    for (long n = 0;; n++) {
        mem_fail_after(n);
        arena *a = arena_new(64);
        bool ok = a && arena_alloc(a, 100) && arena_alloc(a, 100) && arena_strdup(a, "x");
        arena_free(a);
        if (ok) break;
        ASSERT_CMP_INT(n, <, 10);
    }
    mem_fail_after(-1);
}

TEST(base_slices) {
    str_slice s = str_from_cstr("hello world");
    ASSERT_EQ_INT(s.len, 11);
    ASSERT_TRUE(str_starts_with(s, "hello"));
    ASSERT_FALSE(str_starts_with(s, "world"));
    ASSERT_TRUE(str_eq_cstr((str_slice){s.ptr + 6, 5}, "world"));
    ASSERT_FALSE(str_eq_cstr(s, "hello"));
    ASSERT_TRUE(str_eq((str_slice){"", 0}, (str_slice){NULL, 0}));
}

TEST(base_buf_grow_and_oom) {
    buf b = {0};
    for (int i = 0; i < 1000; i++) ASSERT_EQ_INT(buf_printf(&b, "%d,", i), 0);
    ASSERT_EQ_INT(b.len, strlen(b.data));
    ASSERT_TRUE(strncmp(b.data, "0,1,2,", 6) == 0);
    buf_free(&b);
    mem_fail_after(0);
    ASSERT_EQ_INT(buf_append_str(&b, "x"), BASE_ENOMEM);
    ASSERT_TRUE(b.oom);
    mem_fail_after(-1);
    /* Once an append failed the buffer stays failed, so a caller checks once at the end. */
    ASSERT_EQ_INT(buf_append_str(&b, "y"), BASE_ENOMEM);
    buf_free(&b);
}

TEST(base_log_levels) {
    log_level l;
    ASSERT_EQ_INT(log_level_parse("debug", &l), 0);
    ASSERT_EQ_INT(l, LOG_DEBUG);
    ASSERT_EQ_INT(log_level_parse("WARNING", &l), 0);
    ASSERT_EQ_INT(l, LOG_WARN);
    ASSERT_EQ_INT(log_level_parse("loud", &l), BASE_EINVAL);
    log_set_level(LOG_ERROR);
    ASSERT_EQ_INT(log_get_level(), LOG_ERROR);
}

TEST(base_file_read_all) {
    char path[600];
    snprintf(path, sizeof path, "%s/f.txt", test_tmpdir());
    FILE *f = fopen(path, "wb");
    ASSERT_NOT_NULL(f);
    fputs("abc\ndef", f);
    fclose(f);
    err_buf eb = {0};
    char *data = NULL;
    size_t n = 0;
    ASSERT_OK(file_read_all(path, &data, &n, &eb), &eb);
    ASSERT_EQ_INT(n, 7);
    ASSERT_EQ_STR(data, "abc\ndef");
    mem_free(data);
    ASSERT_EQ_INT(file_read_all("/nonexistent/x", &data, &n, &eb), BASE_EIO);
    ASSERT_CONTAINS(eb.msg, "/nonexistent/x");
}
