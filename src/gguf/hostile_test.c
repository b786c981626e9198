/*
 * Crafted hostile files: each breaks one rule of the format and must give a clean error
 * naming the field (and, where there is one, the offset). The files are built byte by
 * byte here because the writer refuses to make them.
 */
#include "gguf/gguf.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>

static err_buf *EB(err_buf *e) { return e; } /* see read_test.c: gcc -Waddress */

static void put(buf *b, const void *p, size_t n) { ASSERT_EQ_INT(buf_append(b, p, n), 0); }
static void u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void str(buf *b, const char *s) {
    u64(b, strlen(s));
    put(b, s, strlen(s));
}

static void header(buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    put(b, "GGUF", 4);
    u32(b, version);
    u64(b, n_tensors);
    u64(b, n_kv);
}

static void kv_u32(buf *b, const char *k, uint32_t v) {
    str(b, k);
    u32(b, GGUF_VT_U32);
    u32(b, v);
}

static void kv_str(buf *b, const char *k, const char *v) {
    str(b, k);
    u32(b, GGUF_VT_STRING);
    str(b, v);
}

static void tinfo(buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                  uint64_t off) {
    str(b, name);
    u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) u64(b, ne[d]);
    u32(b, type);
    u64(b, off);
}

/* Pad to the alignment, then n bytes of tensor data. */
static void data(buf *b, size_t align, size_t n) {
    while (b->len % align) put(b, "", 1);
    for (size_t i = 0; i < n; i++) put(b, "\x3f", 1);
}

/* Open an exact-size heap copy (so ASan sees any read past the end). */
static int try_open(const buf *b, err_buf *eb) {
    void *copy = malloc(b->len ? b->len : 1);
    ASSERT_NOT_NULL(copy);
    if (b->len) memcpy(copy, b->data, b->len);
    gguf *g = (gguf *)1;
    *eb = (err_buf){0};
    int rc = gguf_open_memory(copy, b->len, &g, eb);
    if (rc) ASSERT_NULL(g);
    gguf_close(g);
    free(copy);
    return rc;
}

static void expect_fail(buf *b, int code, const char *msg) {
    err_buf eb;
    int rc = try_open(b, &eb);
    if (rc != code) test_fail(__FILE__, __LINE__, "want %d, got %d: %s", code, rc, eb.msg);
    ASSERT_CONTAINS(eb.msg, msg);
    buf_free(b);
}

static const uint64_t NE8[1] = {8};

/* The valid base case the others mutate: one kv, one F32 tensor of 8 elements. */
static void valid(buf *b) {
    header(b, 3, 1, 1);
    kv_str(b, "general.architecture", "llama");
    tinfo(b, "t", 1, NE8, GGUF_TYPE_F32, 0);
    data(b, 32, 32);
}

TEST(gguf_hostile_valid_base) {
    buf b = {0};
    valid(&b);
    err_buf eb;
    ASSERT_OK(try_open(&b, &eb), EB(&eb));
    buf_free(&b);
    /* Version 2 is read too. */
    header(&b, 2, 0, 1);
    kv_u32(&b, "x", 1);
    ASSERT_OK(try_open(&b, &eb), EB(&eb));
    buf_free(&b);
    /* No tensors, no kvs: a 24-byte file. */
    header(&b, 3, 0, 0);
    ASSERT_OK(try_open(&b, &eb), EB(&eb));
    buf_free(&b);
}

TEST(gguf_hostile_magic_version) {
    buf b = {0};
    expect_fail(&b, BASE_EFORMAT, "file too small (0 bytes)");
    put(&b, "GGU", 3);
    expect_fail(&b, BASE_EFORMAT, "file too small (3 bytes)");
    put(&b, "GGML", 4);
    u32(&b, 3);
    expect_fail(&b, BASE_EFORMAT, "bad magic 47 47 4d 4c at offset 0");
    put(&b, "GGUF", 4);
    expect_fail(&b, BASE_EFORMAT, "version at offset 4: truncated");
    header(&b, 1, 0, 0);
    expect_fail(&b, BASE_EUNSUPPORTED, "GGUF version 1 at offset 4 is not supported");
    header(&b, 4, 0, 0);
    expect_fail(&b, BASE_EUNSUPPORTED, "GGUF version 4 at offset 4 is not supported");
    header(&b, 0x03000000u, 0, 0); /* a big-endian version 3 */
    expect_fail(&b, BASE_EUNSUPPORTED, "big-endian");
    header(&b, 0, 0, 0);
    expect_fail(&b, BASE_EUNSUPPORTED, "version 0");
}

TEST(gguf_hostile_huge_counts) {
    buf b = {0};
    for (int which = 0; which < 4; which++) {
        uint64_t huge = which & 1 ? UINT64_MAX : UINT64_C(1) << 60;
        header(&b, 3, which < 2 ? huge : 0, which < 2 ? 0 : huge);
        kv_u32(&b, "x", 1);
        /* Rejected before anything is allocated: the count alone is impossible. */
        mem_fail_after(-1);
        err_buf eb;
        int rc = try_open(&b, &eb);
        long allocs = mem_alloc_count();
        ASSERT_EQ_INT(rc, BASE_EFORMAT);
        ASSERT_CMP_INT(allocs, <=, 1); /* the handle itself */
        ASSERT_CONTAINS(eb.msg, which < 2 ? "n_tensors" : "n_kv");
        ASSERT_CONTAINS(eb.msg, "cannot fit");
        buf_free(&b);
    }
    /* Plausible alone, but not together with the kvs. */
    header(&b, 3, 1, 2);
    kv_u32(&b, "x", 1);
    kv_u32(&b, "y", 1);
    expect_fail(&b, BASE_EFORMAT, "n_tensors 1 at offset 8 cannot fit");
}

TEST(gguf_hostile_strings) {
    buf b = {0};
    header(&b, 3, 0, 1);
    u64(&b, UINT64_MAX); /* key length */
    put(&b, "abcdefgh", 8);
    expect_fail(&b, BASE_EFORMAT, "kv 0: key length 18446744073709551615 at offset 24 exceeds");
    header(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, GGUF_VT_STRING);
    u64(&b, 1000); /* value length */
    put(&b, "short", 5);
    expect_fail(&b, BASE_EFORMAT, "kv 0 ('k'): string length 1000 at offset 37 exceeds file");
    header(&b, 3, 0, 1);
    u64(&b, 3);
    put(&b, "a\0b", 3);
    u32(&b, GGUF_VT_U8);
    put(&b, "\x01", 1);
    expect_fail(&b, BASE_EFORMAT, "kv 0: key at offset 24 contains a NUL byte");
    header(&b, 3, 0, 1);
    u64(&b, 0);
    u32(&b, GGUF_VT_U32);
    u32(&b, 1);
    u32(&b, 1);
    expect_fail(&b, BASE_EFORMAT, "kv 0: empty key at offset 24");
    header(&b, 3, 1, 0);
    tinfo(&b, "", 1, NE8, GGUF_TYPE_F32, 0);
    data(&b, 32, 32);
    expect_fail(&b, BASE_EFORMAT, "tensor 0: empty name");
    header(&b, 3, 1, 0);
    u64(&b, 2);
    put(&b, "t\0", 2);
    u32(&b, 1);
    u64(&b, 8);
    u32(&b, 0);
    u64(&b, 0);
    data(&b, 32, 32);
    expect_fail(&b, BASE_EFORMAT, "tensor 0: name at offset 24 contains a NUL byte");
    header(&b, 3, 1, 0);
    u64(&b, UINT64_MAX - 3);
    put(&b, "t", 1);
    for (int i = 0; i < 40; i++) put(&b, "", 1);
    expect_fail(&b, BASE_EFORMAT, "tensor 0: name length 18446744073709551612 at offset 24");
}

TEST(gguf_hostile_values) {
    buf b = {0};
    header(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, 13);
    u32(&b, 0);
    u32(&b, 0);
    expect_fail(&b, BASE_EFORMAT, "kv 0 ('k'): unknown value type 13 at offset 33");
    header(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, GGUF_VT_ARRAY);
    u32(&b, 77);
    u64(&b, 0);
    expect_fail(&b, BASE_EFORMAT, "unknown array element type 77");
    header(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, GGUF_VT_ARRAY);
    u32(&b, GGUF_VT_U32);
    u64(&b, UINT64_C(1) << 62);
    u64(&b, 0);
    expect_fail(&b, BASE_EFORMAT, "kv 0 ('k'): array of 4611686018427387904 u32 at offset 37");
    header(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, GGUF_VT_ARRAY);
    u32(&b, GGUF_VT_STRING);
    u64(&b, UINT64_C(1) << 61); /* would need a 16 EiB offset table */
    u64(&b, 0);
    expect_fail(&b, BASE_EFORMAT, "array of 2305843009213693952 string");
    header(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, GGUF_VT_ARRAY);
    u32(&b, GGUF_VT_STRING);
    u64(&b, 2);
    str(&b, "ok");
    u64(&b, 99);
    put(&b, "x", 1);
    expect_fail(&b, BASE_EFORMAT, "kv 0 ('k'): string 1: length 99 at offset 59 exceeds");
    header(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, GGUF_VT_U64);
    u32(&b, 0);
    expect_fail(&b, BASE_EFORMAT, "kv 0 ('k'): u64 value at offset 37: truncated");
    header(&b, 3, 0, 2);
    kv_u32(&b, "dup", 1);
    kv_u32(&b, "dup", 2);
    expect_fail(&b, BASE_EFORMAT, "kv 1 at offset 43: duplicate key 'dup' (first is kv 0)");
}

TEST(gguf_hostile_nested_arrays) {
    /* [[1, 2], ["a", "bc"]]: legal, skipped by the reader, refused by gguf_get_arr. */
    buf b = {0};
    header(&b, 3, 0, 2);
    str(&b, "nested");
    u32(&b, GGUF_VT_ARRAY);
    u32(&b, GGUF_VT_ARRAY);
    u64(&b, 2);
    u32(&b, GGUF_VT_U16);
    u64(&b, 2);
    put(&b, "\x01\x00\x02\x00", 4);
    u32(&b, GGUF_VT_STRING);
    u64(&b, 2);
    str(&b, "a");
    str(&b, "bc");
    kv_u32(&b, "after", 42);
    gguf *g;
    err_buf eb = {0};
    ASSERT_OK(gguf_open_memory(b.data, b.len, &g, &eb), EB(&eb));
    ASSERT_EQ_INT(gguf_kv_type(g, 0), GGUF_VT_ARRAY);
    gguf_arr a;
    ASSERT_EQ_INT(gguf_get_arr(g, "nested", -1, &a, &eb), BASE_ETYPE);
    ASSERT_CONTAINS(eb.msg, "array of arrays");
    uint32_t v;
    ASSERT_OK(gguf_get_u32(g, "after", &v, &eb), EB(&eb));
    ASSERT_EQ_INT(v, 42);
    /* The writer copies it byte for byte. */
    gguf_writer *w = gguf_writer_new();
    ASSERT_OK(gguf_writer_copy_kv(w, g, NULL), EB(&eb));
    buf out = {0};
    ASSERT_OK(gguf_writer_write_buf(w, &out, &eb), EB(&eb));
    ASSERT_EQ_UINT(out.len, b.len);
    ASSERT_TRUE(memcmp(out.data, b.data, b.len) == 0);
    buf_free(&out);
    gguf_writer_free(w);
    gguf_close(g);
    buf_free(&b);

    /* Nesting without end is cut off. */
    header(&b, 3, 0, 1);
    str(&b, "deep");
    u32(&b, GGUF_VT_ARRAY);
    for (int i = 0; i < 20; i++) {
        u32(&b, GGUF_VT_ARRAY);
        u64(&b, 1);
    }
    u32(&b, GGUF_VT_U8);
    u64(&b, 0);
    expect_fail(&b, BASE_EFORMAT, "arrays nested deeper than");
}

TEST(gguf_hostile_tensor_shapes) {
    buf b = {0};
    uint64_t ne[5] = {8, 8, 8, 8, 8};
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 0, ne, GGUF_TYPE_F32, 0);
    data(&b, 32, 64);
    expect_fail(&b, BASE_EFORMAT, "tensor 0 ('t'): n_dims 0 at offset 33 (must be 1..4)");
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 5, ne, GGUF_TYPE_F32, 0);
    data(&b, 32, 64);
    expect_fail(&b, BASE_EFORMAT, "n_dims 5");
    uint64_t zero[2] = {8, 0};
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 2, zero, GGUF_TYPE_F32, 0);
    data(&b, 32, 64);
    expect_fail(&b, BASE_EFORMAT, "tensor 0 ('t'): ne[1] = 0 at offset 45 (must be > 0)");
    uint64_t neg[2] = {8, (uint64_t)-5};
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 2, neg, GGUF_TYPE_F32, 0);
    data(&b, 32, 64);
    expect_fail(&b, BASE_EFORMAT, "ne[1] = -5");
    uint64_t big[3] = {UINT64_C(1) << 30, UINT64_C(1) << 30, UINT64_C(1) << 30};
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 3, big, GGUF_TYPE_F32, 0);
    data(&b, 32, 64);
    expect_fail(&b, BASE_EFORMAT, "shape [1073741824, 1073741824, 1073741824, 1] of F32 overflows");
    uint64_t odd[1] = {48};
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 1, odd, GGUF_TYPE_Q4_0, 0);
    data(&b, 32, 64);
    expect_fail(&b, BASE_EFORMAT, "ne[0] = 48 is not a multiple of the Q4_0 block size 32");
    static const uint32_t bad_types[] = {4, 31, 40, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        header(&b, 3, 1, 0);
        tinfo(&b, "t", 1, NE8, bad_types[i], 0);
        data(&b, 32, 64);
        char want[64];
        snprintf(want, sizeof want, "unknown tensor type %u at offset 45", bad_types[i]);
        expect_fail(&b, BASE_EUNSUPPORTED, want);
    }
    header(&b, 3, 2, 0);
    tinfo(&b, "same", 1, NE8, GGUF_TYPE_F32, 0);
    tinfo(&b, "same", 1, NE8, GGUF_TYPE_F32, 32);
    data(&b, 32, 64);
    expect_fail(&b, BASE_EFORMAT, "tensor 1: duplicate name 'same' (first is tensor 0)");
}

TEST(gguf_hostile_tensor_data) {
    buf b = {0};
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 1, NE8, GGUF_TYPE_F32, 4);
    data(&b, 32, 64);
    expect_fail(&b, BASE_EFORMAT, "tensor 0 ('t'): data offset 4 is not a multiple of the "
                "alignment 32");
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 1, NE8, GGUF_TYPE_F32, 1024);
    data(&b, 32, 64);
    expect_fail(&b, BASE_EFORMAT, "tensor 0 ('t'): data [1024, 1024 + 32) past end of file "
                "(size 128, data section at 64)");
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 1, NE8, GGUF_TYPE_F32, UINT64_MAX - 31);
    data(&b, 32, 64);
    expect_fail(&b, BASE_EFORMAT, "past end of file");
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 1, NE8, GGUF_TYPE_F32, 0);
    data(&b, 32, 31); /* one byte short */
    expect_fail(&b, BASE_EFORMAT, "data [0, 0 + 32) past end of file (size 95");
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 1, NE8, GGUF_TYPE_F32, 0); /* header ends at 57: no room for padding */
    expect_fail(&b, BASE_EFORMAT, "data section at 64 (header end 57 aligned to 32) past end");
    /* Overlap, in order and out of order (the sorted path). */
    uint64_t ne16[1] = {16};
    header(&b, 3, 2, 0);
    tinfo(&b, "a", 1, ne16, GGUF_TYPE_F32, 0);
    tinfo(&b, "b", 1, NE8, GGUF_TYPE_F32, 32);
    data(&b, 32, 128);
    expect_fail(&b, BASE_EFORMAT, "tensor 'a' data [0, 64) overlaps tensor 'b' data at 32");
    header(&b, 3, 3, 0);
    tinfo(&b, "c", 1, NE8, GGUF_TYPE_F32, 128);
    tinfo(&b, "b", 1, NE8, GGUF_TYPE_F32, 64);
    tinfo(&b, "a", 1, ne16, GGUF_TYPE_F32, 32);
    data(&b, 32, 192);
    expect_fail(&b, BASE_EFORMAT, "tensor 'a' data [32, 96) overlaps tensor 'b' data at 64");
    /* Out of order without overlap is fine. */
    header(&b, 3, 2, 0);
    tinfo(&b, "b", 1, NE8, GGUF_TYPE_F32, 32);
    tinfo(&b, "a", 1, NE8, GGUF_TYPE_F32, 0);
    data(&b, 32, 64);
    err_buf eb;
    ASSERT_OK(try_open(&b, &eb), EB(&eb));
    buf_free(&b);
}

TEST(gguf_hostile_alignment) {
    buf b = {0};
    static const uint32_t bad[] = {0, 3, 48, 0x80000001u};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        header(&b, 3, 0, 1);
        kv_u32(&b, "general.alignment", bad[i]);
        char want[96];
        snprintf(want, sizeof want, "kv 0 ('general.alignment') at offset 53: %u is not a power "
                 "of two", bad[i]);
        expect_fail(&b, BASE_EFORMAT, want);
    }
    header(&b, 3, 0, 1);
    str(&b, "general.alignment");
    u32(&b, GGUF_VT_U64);
    u64(&b, 64);
    expect_fail(&b, BASE_EFORMAT, "has type u64, expected u32");
    /* A valid 64: offsets must follow it. */
    header(&b, 3, 1, 1);
    kv_u32(&b, "general.alignment", 64);
    tinfo(&b, "t", 1, NE8, GGUF_TYPE_F32, 32);
    data(&b, 64, 128);
    expect_fail(&b, BASE_EFORMAT, "data offset 32 is not a multiple of the alignment 64");
    header(&b, 3, 1, 1);
    kv_u32(&b, "general.alignment", 64);
    tinfo(&b, "t", 1, NE8, GGUF_TYPE_F32, 64);
    data(&b, 64, 128);
    gguf *g;
    err_buf eb = {0};
    ASSERT_OK(gguf_open_memory(b.data, b.len, &g, &eb), EB(&eb));
    ASSERT_EQ_INT(gguf_alignment(g), 64);
    ASSERT_EQ_INT(gguf_data_offset(g), 128);
    ASSERT_TRUE((const char *)gguf_tensor_at(g, 0)->data == b.data + 192);
    gguf_close(g);
    buf_free(&b);
}
