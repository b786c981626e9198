/*
 * libFuzzer target for the GGUF reader (and, on what it accepts, the writer). Any input
 * must give an error or a file whose every key, array element and tensor can be read
 * through the public API; an accepted file copied through the writer must read back with
 * the same keys and tensors.
 *
 *   make fuzz
 *   build/fuzz/gguf/gguf_fuzz -max_total_time=300 tests/corpus/gguf
 *
 * (add -dict or -max_len=65536 as needed; a crash leaves crash-<sha1> in the current
 * directory: turn it into a test in hostile_test.c.)
 */
#include "gguf/gguf.h"

#include <stdlib.h>
#include <string.h>

static volatile uint64_t sink; /* keeps the reads from being optimized away */

static void walk_kv(const gguf *g, int64_t i) {
    const char *key = gguf_kv_key(g, i);
    if (!key || gguf_find_key(g, key) != i) __builtin_trap();
    err_buf eb = {0};
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    int64_t i64;
    float f;
    bool b;
    str_slice s;
    gguf_arr a;
    int t = gguf_kv_type(g, i);
    int ok = 0;
    ok += gguf_get_u32(g, key, &u32, &eb) == 0;
    ok += gguf_get_i32(g, key, &i32, &eb) == 0;
    ok += gguf_get_u64(g, key, &u64, &eb) == 0;
    ok += gguf_get_i64(g, key, &i64, &eb) == 0;
    ok += gguf_get_f32(g, key, &f, &eb) == 0;
    ok += gguf_get_bool(g, key, &b, &eb) == 0;
    if (gguf_get_str(g, key, &s, &eb) == 0) {
        if (t != GGUF_VT_STRING) __builtin_trap();
        if (s.len) sink += (uint8_t)s.ptr[0] + (uint8_t)s.ptr[s.len - 1];
    }
    if (gguf_get_arr(g, key, -1, &a, &eb) == 0) {
        if (t != GGUF_VT_ARRAY || a.type == GGUF_VT_ARRAY) __builtin_trap();
        for (uint64_t j = 0; j < a.n; j++) {
            if (a.type == GGUF_VT_STRING) {
                str_slice e = gguf_arr_str(&a, j);
                if (e.len) sink += (uint8_t)e.ptr[0] + (uint8_t)e.ptr[e.len - 1];
            } else {
                sink += (uint64_t)gguf_arr_int(&a, j);
                sink += (uint64_t)gguf_arr_float(&a, j);
            }
        }
    }
    sink += (uint64_t)ok;
}

static void walk_tensors(const gguf *g) {
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (!t || gguf_find_tensor(g, t->name) != t) __builtin_trap();
        if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS || t->nbytes == 0) __builtin_trap();
        const uint8_t *d = t->data;
        sink += d[0] + d[t->nbytes - 1];
    }
}

/* Copy through the writer and read back. */
static void roundtrip(const gguf *g) {
    gguf_writer *w = gguf_writer_new();
    if (!w) return;
    if (gguf_writer_copy_kv(w, g, NULL) != 0) __builtin_trap();
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes))
            __builtin_trap();
    }
    buf out = {0};
    err_buf eb = {0};
    if (gguf_writer_write_buf(w, &out, &eb) != 0) __builtin_trap();
    gguf *h = NULL;
    if (gguf_open_memory(out.data, out.len, &h, &eb) != 0) __builtin_trap();
    if (gguf_n_kv(h) != gguf_n_kv(g) || gguf_n_tensors(h) != gguf_n_tensors(g)) __builtin_trap();
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *a = gguf_tensor_at(g, i), *b = gguf_tensor_at(h, i);
        if (strcmp(a->name, b->name) != 0 || a->nbytes != b->nbytes ||
            memcmp(a->data, b->data, a->nbytes) != 0)
            __builtin_trap();
    }
    gguf_close(h);
    buf_free(&out);
    gguf_writer_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gguf *g = NULL;
    err_buf eb = {0};
    if (gguf_open_memory(data, size, &g, &eb) != 0) {
        if (g || !eb.msg[0]) __builtin_trap();
        return 0;
    }
    for (int64_t i = 0; i < gguf_n_kv(g); i++) walk_kv(g, i);
    walk_tensors(g);
    roundtrip(g);
    gguf_close(g);
    return 0;
}
