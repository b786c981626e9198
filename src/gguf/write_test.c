/*
 * Writer tests: every value type and array kind round-trips through the reader, tensors
 * keep their bytes and alignment, bad arguments are refused, and a real model rebuilt
 * from its own keys and tensors comes out byte for byte the same.
 */
#include "gguf/gguf.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static err_buf *EB(err_buf *e) { return e; } /* see read_test.c: gcc -Waddress */

static gguf *reopen(gguf_writer *w, buf *out) {
    err_buf eb = {0};
    *out = (buf){0};
    ASSERT_OK(gguf_writer_write_buf(w, out, &eb), EB(&eb));
    gguf *g = NULL;
    ASSERT_OK(gguf_open_memory(out->data, out->len, &g, &eb), EB(&eb));
    return g;
}

TEST(gguf_write_roundtrip_values) {
    gguf_writer *w = gguf_writer_new();
    ASSERT_NOT_NULL(w);
    ASSERT_OK(gguf_writer_set_u8(w, "v.u8", 200), EB(NULL));
    ASSERT_OK(gguf_writer_set_i8(w, "v.i8", -100), EB(NULL));
    ASSERT_OK(gguf_writer_set_u16(w, "v.u16", 60000), EB(NULL));
    ASSERT_OK(gguf_writer_set_i16(w, "v.i16", -30000), EB(NULL));
    ASSERT_OK(gguf_writer_set_u32(w, "v.u32", 4000000000u), EB(NULL));
    ASSERT_OK(gguf_writer_set_i32(w, "v.i32", -2000000000), EB(NULL));
    ASSERT_OK(gguf_writer_set_u64(w, "v.u64", UINT64_MAX), EB(NULL));
    ASSERT_OK(gguf_writer_set_i64(w, "v.i64", INT64_MIN), EB(NULL));
    ASSERT_OK(gguf_writer_set_f32(w, "v.f32", 1.5f), EB(NULL));
    ASSERT_OK(gguf_writer_set_f64(w, "v.f64", 1e-300), EB(NULL));
    ASSERT_OK(gguf_writer_set_bool(w, "v.bool", true), EB(NULL));
    ASSERT_OK(gguf_writer_set_str(w, "v.str", "héllo"), EB(NULL));
    ASSERT_OK(gguf_writer_set_str(w, "v.empty", ""), EB(NULL));
    ASSERT_OK(gguf_writer_set_strn(w, "v.nul", "a\0b", 3), EB(NULL));
    ASSERT_OK(gguf_writer_set_u32(w, "v.replaced", 1), EB(NULL));
    ASSERT_OK(gguf_writer_set_str(w, "v.replaced", "now a string"), EB(NULL));

    const int32_t i32s[] = {1, -2, 3, INT32_MIN};
    const uint64_t u64s[] = {0, UINT64_MAX};
    const float f32s[] = {0.25f, -8.0f, INFINITY};
    const double f64s[] = {3.5, -1e200};
    const uint8_t bools[] = {1, 0, 1};
    const int8_t i8s[] = {-128, 127};
    const char *const strs[] = {"alpha", "", "gamma with spaces", "\xe2\x96\x81x"};
    ASSERT_OK(gguf_writer_set_arr(w, "a.i32", GGUF_VT_I32, i32s, 4), EB(NULL));
    ASSERT_OK(gguf_writer_set_arr(w, "a.u64", GGUF_VT_U64, u64s, 2), EB(NULL));
    ASSERT_OK(gguf_writer_set_arr(w, "a.f32", GGUF_VT_F32, f32s, 3), EB(NULL));
    ASSERT_OK(gguf_writer_set_arr(w, "a.f64", GGUF_VT_F64, f64s, 2), EB(NULL));
    ASSERT_OK(gguf_writer_set_arr(w, "a.bool", GGUF_VT_BOOL, bools, 3), EB(NULL));
    ASSERT_OK(gguf_writer_set_arr(w, "a.i8", GGUF_VT_I8, i8s, 2), EB(NULL));
    ASSERT_OK(gguf_writer_set_arr(w, "a.empty", GGUF_VT_U16, NULL, 0), EB(NULL));
    ASSERT_OK(gguf_writer_set_arr_str(w, "a.str", strs, 4), EB(NULL));
    ASSERT_OK(gguf_writer_set_arr_str(w, "a.str0", NULL, 0), EB(NULL));

    buf out;
    gguf *g = reopen(w, &out);
    err_buf eb = {0};
    ASSERT_EQ_INT(gguf_version(g), 3);
    ASSERT_EQ_INT(gguf_n_kv(g), 24);
    ASSERT_EQ_INT(gguf_n_tensors(g), 0);
    ASSERT_EQ_STR(gguf_kv_key(g, 0), "v.u8");
    ASSERT_EQ_INT(gguf_kv_type(g, 0), GGUF_VT_U8);
    ASSERT_EQ_INT(gguf_kv_type(g, 1), GGUF_VT_I8);
    ASSERT_EQ_INT(gguf_kv_type(g, 9), GGUF_VT_F64);
    ASSERT_EQ_INT(gguf_kv_type(g, 14), GGUF_VT_STRING); /* replaced in place */
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    int64_t i64;
    float f;
    bool b;
    str_slice s;
    ASSERT_OK(gguf_get_u32(g, "v.u8", &u32, &eb), EB(&eb));
    ASSERT_EQ_INT(u32, 200);
    ASSERT_OK(gguf_get_i32(g, "v.i8", &i32, &eb), EB(&eb));
    ASSERT_EQ_INT(i32, -100);
    ASSERT_EQ_INT(gguf_get_u32(g, "v.i8", &u32, &eb), BASE_ERANGE);
    ASSERT_OK(gguf_get_u32(g, "v.u16", &u32, &eb), EB(&eb));
    ASSERT_EQ_INT(u32, 60000);
    ASSERT_OK(gguf_get_i32(g, "v.i16", &i32, &eb), EB(&eb));
    ASSERT_EQ_INT(i32, -30000);
    ASSERT_OK(gguf_get_u32(g, "v.u32", &u32, &eb), EB(&eb));
    ASSERT_EQ_UINT(u32, 4000000000u);
    ASSERT_EQ_INT(gguf_get_i32(g, "v.u32", &i32, &eb), BASE_ERANGE);
    ASSERT_OK(gguf_get_i64(g, "v.i32", &i64, &eb), EB(&eb));
    ASSERT_EQ_INT(i64, -2000000000);
    ASSERT_OK(gguf_get_u64(g, "v.u64", &u64, &eb), EB(&eb));
    ASSERT_EQ_UINT(u64, UINT64_MAX);
    ASSERT_EQ_INT(gguf_get_i64(g, "v.u64", &i64, &eb), BASE_ERANGE);
    ASSERT_CONTAINS(eb.msg, "18446744073709551615");
    ASSERT_OK(gguf_get_i64(g, "v.i64", &i64, &eb), EB(&eb));
    ASSERT_EQ_INT(i64, INT64_MIN);
    ASSERT_EQ_INT(gguf_get_u64(g, "v.i64", &u64, &eb), BASE_ERANGE);
    ASSERT_OK(gguf_get_f32(g, "v.f32", &f, &eb), EB(&eb));
    ASSERT_NEAR(f, 1.5, 0);
    ASSERT_OK(gguf_get_f32(g, "v.f64", &f, &eb), EB(&eb)); /* f64 accepted, narrowed */
    ASSERT_NEAR(f, 0, 0);
    ASSERT_OK(gguf_get_bool(g, "v.bool", &b, &eb), EB(&eb));
    ASSERT_TRUE(b);
    ASSERT_EQ_INT(gguf_get_u32(g, "v.bool", &u32, &eb), BASE_ETYPE);
    ASSERT_OK(gguf_get_str(g, "v.str", &s, &eb), EB(&eb));
    ASSERT_TRUE(str_eq_cstr(s, "héllo"));
    ASSERT_OK(gguf_get_str(g, "v.empty", &s, &eb), EB(&eb));
    ASSERT_EQ_INT(s.len, 0);
    ASSERT_OK(gguf_get_str(g, "v.nul", &s, &eb), EB(&eb));
    ASSERT_EQ_INT(s.len, 3);
    ASSERT_TRUE(memcmp(s.ptr, "a\0b", 3) == 0);
    ASSERT_OK(gguf_get_str(g, "v.replaced", &s, &eb), EB(&eb));
    ASSERT_TRUE(str_eq_cstr(s, "now a string"));

    gguf_arr a;
    ASSERT_OK(gguf_get_arr(g, "a.i32", GGUF_VT_I32, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(a.n, 4);
    for (int i = 0; i < 4; i++) ASSERT_EQ_INT(gguf_arr_int(&a, i), i32s[i]);
    ASSERT_EQ_INT(gguf_arr_int(&a, 4), 0); /* out of range */
    ASSERT_OK(gguf_get_arr(g, "a.u64", GGUF_VT_U64, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(gguf_arr_int(&a, 1), -1); /* documented wrap */
    ASSERT_NEAR(gguf_arr_float(&a, 1), 18446744073709551615.0, 0);
    ASSERT_OK(gguf_get_arr(g, "a.f32", GGUF_VT_F32, &a, &eb), EB(&eb));
    ASSERT_NEAR(gguf_arr_float(&a, 0), 0.25, 0);
    ASSERT_NEAR(gguf_arr_float(&a, 1), -8.0, 0);
    ASSERT_TRUE(isinf(gguf_arr_float(&a, 2)));
    ASSERT_OK(gguf_get_arr(g, "a.f64", -1, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(a.type, GGUF_VT_F64);
    ASSERT_NEAR(gguf_arr_float(&a, 1), -1e200, 0);
    ASSERT_OK(gguf_get_arr(g, "a.bool", GGUF_VT_BOOL, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(gguf_arr_int(&a, 0), 1);
    ASSERT_EQ_INT(gguf_arr_int(&a, 1), 0);
    ASSERT_OK(gguf_get_arr(g, "a.i8", GGUF_VT_I8, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(gguf_arr_int(&a, 0), -128);
    ASSERT_OK(gguf_get_arr(g, "a.empty", GGUF_VT_U16, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(a.n, 0);
    ASSERT_OK(gguf_get_arr(g, "a.str", GGUF_VT_STRING, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(a.n, 4);
    for (int i = 0; i < 4; i++) ASSERT_TRUE(str_eq_cstr(gguf_arr_str(&a, i), strs[i]));
    ASSERT_OK(gguf_get_arr(g, "a.str0", GGUF_VT_STRING, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(a.n, 0);
    gguf_close(g);

    /* Writing to a file gives the same bytes as writing to a buffer. */
    char path[512];
    snprintf(path, sizeof path, "%s/v.gguf", test_tmpdir());
    ASSERT_OK(gguf_writer_write_file(w, path, &eb), EB(&eb));
    char *file;
    size_t len;
    ASSERT_OK(file_read_all(path, &file, &len, &eb), EB(&eb));
    ASSERT_EQ_UINT(len, out.len);
    ASSERT_TRUE(memcmp(file, out.data, len) == 0);
    mem_free(file);
    buf_free(&out);
    gguf_writer_free(w);
}

TEST(gguf_write_tensors_and_alignment) {
    gguf_writer *w = gguf_writer_new();
    float f[5] = {1, 2, 3, 4, 5};
    uint8_t q4k[2 * 144];
    uint8_t q8[3 * 34];
    for (size_t i = 0; i < sizeof q4k; i++) q4k[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < sizeof q8; i++) q8[i] = (uint8_t)(i * 13);
    int64_t ne_f[1] = {5}, ne_k[2] = {256, 2}, ne_q[3] = {32, 1, 3};
    ASSERT_OK(gguf_writer_set_str(w, "general.architecture", "test"), EB(NULL));
    ASSERT_OK(gguf_writer_add_tensor(w, "f", GGUF_TYPE_F32, 1, ne_f, f, sizeof f), EB(NULL));
    ASSERT_OK(gguf_writer_add_tensor(w, "k", GGUF_TYPE_Q4_K, 2, ne_k, q4k, sizeof q4k), EB(NULL));
    ASSERT_OK(gguf_writer_add_tensor(w, "q", GGUF_TYPE_Q8_0, 3, ne_q, q8, sizeof q8), EB(NULL));
    /* Refused: duplicate name, wrong size, bad shape, unknown type, bad alignment. */
    ASSERT_EQ_INT(gguf_writer_add_tensor(w, "f", GGUF_TYPE_F32, 1, ne_f, f, sizeof f), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_writer_add_tensor(w, "g", GGUF_TYPE_F32, 1, ne_f, f, 16), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_writer_add_tensor(w, "g", GGUF_TYPE_Q8_0, 1, ne_f, f, 20), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_writer_add_tensor(w, "g", 4, 1, ne_f, f, 20), BASE_EUNSUPPORTED);
    ASSERT_EQ_INT(gguf_writer_add_tensor(w, "g", GGUF_TYPE_F32, 0, ne_f, f, 20), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_writer_add_tensor(w, "", GGUF_TYPE_F32, 1, ne_f, f, 20), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_writer_set_u32(w, "general.alignment", 3), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_writer_set_u32(w, "general.alignment", 0), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_writer_set_u64(w, "general.alignment", 64), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_writer_set_u32(w, "", 1), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_writer_set_arr(w, "x", GGUF_VT_STRING, f, 1), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_writer_set_arr(w, "x", GGUF_VT_ARRAY, f, 1), BASE_EINVAL);

    for (int pass = 0; pass < 2; pass++) {
        size_t align = pass == 0 ? 32 : 128;
        if (pass == 1) ASSERT_OK(gguf_writer_set_u32(w, "general.alignment", 128), EB(NULL));
        buf out;
        gguf *g = reopen(w, &out);
        ASSERT_EQ_INT(gguf_alignment(g), align);
        ASSERT_EQ_INT(gguf_data_offset(g) % align, 0);
        ASSERT_EQ_INT(gguf_n_tensors(g), 3);
        const gguf_tensor *t = gguf_find_tensor(g, "f");
        ASSERT_EQ_INT(t->offset, 0);
        ASSERT_EQ_INT(t->nbytes, sizeof f);
        ASSERT_TRUE(memcmp(t->data, f, sizeof f) == 0);
        t = gguf_find_tensor(g, "k");
        ASSERT_EQ_INT(t->offset, align); /* 20 bytes of f, padded */
        ASSERT_EQ_INT(t->type, GGUF_TYPE_Q4_K);
        ASSERT_EQ_INT(t->n_dims, 2);
        ASSERT_EQ_INT(t->ne[1], 2);
        ASSERT_TRUE(memcmp(t->data, q4k, sizeof q4k) == 0);
        t = gguf_find_tensor(g, "q");
        ASSERT_EQ_INT(t->offset % align, 0);
        ASSERT_EQ_INT(t->n_dims, 3);
        ASSERT_EQ_INT(t->ne[0], 32);
        ASSERT_EQ_INT(t->ne[1], 1);
        ASSERT_EQ_INT(t->ne[2], 3);
        ASSERT_EQ_INT(t->ne[3], 1);
        ASSERT_TRUE(memcmp(t->data, q8, sizeof q8) == 0);
        /* Each tensor is padded, the last one too. */
        ASSERT_EQ_INT(out.len, gguf_data_offset(g) + t->offset + 128);
        gguf_close(g);
        buf_free(&out);
    }
    gguf_writer_free(w);
}

/* Rebuild a real file from its own metadata and tensors: the same bytes come out. */
TEST(gguf_write_rebuild_golden) {
    const char *names[] = {"golden/models/llama-Q4_K.gguf", "testdata/llm/stories260K.gguf",
                           "testdata/tokenizer/ggml-vocab-bert-bge.gguf"};
    for (int f = 0; f < 3; f++) {
        const char *path = test_shared_file(names[f]);
        err_buf eb = {0};
        gguf *g;
        ASSERT_OK(gguf_open(path, &g, &eb), EB(&eb));
        gguf_writer *w = gguf_writer_new();
        ASSERT_OK(gguf_writer_copy_kv(w, g, NULL), EB(NULL));
        for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
            const gguf_tensor *t = gguf_tensor_at(g, i);
            ASSERT_OK(gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data,
                                             t->nbytes), EB(NULL));
        }
        buf out = {0};
        ASSERT_OK(gguf_writer_write_buf(w, &out, &eb), EB(&eb));
        char *orig;
        size_t len;
        ASSERT_OK(file_read_all(path, &orig, &len, &eb), EB(&eb));
        ASSERT_EQ_UINT(out.len, len);
        ASSERT_TRUE(memcmp(out.data, orig, len) == 0);
        mem_free(orig);
        buf_free(&out);
        gguf_writer_free(w);

        /* Copy with a prefix: only the tokenizer keys. */
        w = gguf_writer_new();
        ASSERT_OK(gguf_writer_copy_kv(w, g, "tokenizer."), EB(NULL));
        gguf *h = reopen(w, &out);
        ASSERT_EQ_INT(gguf_find_key(h, "general.architecture"), -1);
        gguf_arr a, b;
        ASSERT_OK(gguf_get_arr(h, "tokenizer.ggml.tokens", GGUF_VT_STRING, &a, &eb), EB(&eb));
        ASSERT_OK(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_VT_STRING, &b, &eb), EB(&eb));
        ASSERT_EQ_INT(a.n, b.n);
        for (uint64_t i = 0; i < a.n; i++)
            ASSERT_TRUE(str_eq(gguf_arr_str(&a, i), gguf_arr_str(&b, i)));
        int64_t n_tok = 0;
        for (int64_t i = 0; i < gguf_n_kv(g); i++)
            n_tok += strncmp(gguf_kv_key(g, i), "tokenizer.", 10) == 0;
        ASSERT_EQ_INT(gguf_n_kv(h), n_tok);
        gguf_close(h);
        buf_free(&out);
        gguf_writer_free(w);
        gguf_close(g);
    }
}

/* Out of memory at every allocation while building and serializing: a clean error. */
TEST(gguf_write_oom_loop) {
    const char *const strs[] = {"a", "bb"};
    const float f[8] = {0};
    int64_t ne[1] = {8};
    for (long n = 0;; n++) {
        mem_fail_after(n);
        int rc = 0;
        gguf_writer *w = gguf_writer_new();
        if (!w) {
            rc = BASE_ENOMEM;
        } else {
            char key[32];
            for (int i = 0; i < 20 && !rc; i++) { /* enough keys to grow the table */
                snprintf(key, sizeof key, "k.%d", i);
                rc = gguf_writer_set_u32(w, key, (uint32_t)i);
            }
            if (!rc) rc = gguf_writer_set_str(w, "s", "text");
            if (!rc) rc = gguf_writer_set_arr_str(w, "as", strs, 2);
            if (!rc) rc = gguf_writer_add_tensor(w, "t", GGUF_TYPE_F32, 1, ne, f, sizeof f);
            buf out = {0};
            err_buf eb = {0};
            if (!rc) rc = gguf_writer_write_buf(w, &out, &eb);
            buf_free(&out);
            gguf_writer_free(w);
        }
        mem_fail_after(-1);
        if (rc == 0) {
            ASSERT_CMP_INT(n, >, 20);
            break;
        }
        ASSERT_EQ_INT(rc, BASE_ENOMEM);
        ASSERT_CMP_INT(n, <, 10000);
    }
}
