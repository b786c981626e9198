/*
 * How long gguf_open takes on a big vocabulary (Qwen2: 152k tokens and 151k merges, so two
 * STRING arrays whose offset tables are built at open), and how fast name lookups are on a
 * file with a few thousand tensors. Run with `make bench` from the repository root.
 */
#include "gguf/gguf.h"

#include <stdio.h>
#include <stdlib.h>

static double ms_since(uint64_t t0) { return (double)(time_now_ns() - t0) / 1e6; }

static int bench_vocab(void) {
    const char *root = getenv("LOCALAI_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/testdata/tokenizer/ggml-vocab-qwen2.gguf",
             root && *root ? root : "../shared");
    gguf *g;
    err_buf eb = {0};
    if (gguf_open(path, &g, &eb)) {
        printf("gguf_open: skipped (%s)\n", eb.msg);
        return 0;
    }
    gguf_close(g);
    enum { N = 20 };
    uint64_t t0 = time_now_ns();
    for (int i = 0; i < N; i++) {
        if (gguf_open(path, &g, &eb)) return 1;
        gguf_close(g);
    }
    printf("gguf_open qwen2 vocab (5.9 MB, 152k tokens + 151k merges): %.2f ms per open\n",
           ms_since(t0) / N);
    if (gguf_open(path, &g, &eb)) return 1;
    gguf_arr a;
    if (gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_VT_STRING, &a, &eb)) return 1;
    t0 = time_now_ns();
    size_t total = 0;
    for (int r = 0; r < 10; r++)
        for (uint64_t i = 0; i < a.n; i++) total += gguf_arr_str(&a, i).len;
    printf("gguf_arr_str: %.1f ns per element (%zu bytes seen)\n",
           (double)(time_now_ns() - t0) / (10.0 * (double)a.n), total);
    gguf_close(g);
    return 0;
}

static int bench_lookup(void) {
    enum { NT = 3000 };
    gguf_writer *w = gguf_writer_new();
    float x[32] = {0};
    int64_t ne[1] = {32};
    char name[64];
    for (int i = 0; i < NT; i++) {
        snprintf(name, sizeof name, "blk.%d.ffn_up.weight", i);
        if (gguf_writer_add_tensor(w, name, GGUF_TYPE_F32, 1, ne, x, sizeof x)) return 1;
    }
    buf b = {0};
    err_buf eb = {0};
    if (gguf_writer_write_buf(w, &b, &eb)) return 1;
    gguf_writer_free(w);
    gguf *g;
    uint64_t t0 = time_now_ns();
    if (gguf_open_memory(b.data, b.len, &g, &eb)) return 1;
    printf("gguf_open_memory with %d tensors: %.3f ms\n", NT, ms_since(t0));
    enum { R = 200 };
    t0 = time_now_ns();
    int found = 0;
    for (int r = 0; r < R; r++)
        for (int i = 0; i < NT; i++) {
            snprintf(name, sizeof name, "blk.%d.ffn_up.weight", (i * 7919) % NT);
            found += gguf_find_tensor(g, name) != NULL;
        }
    printf("gguf_find_tensor: %.1f ns per lookup incl. snprintf (%d found)\n",
           (double)(time_now_ns() - t0) / (double)(R * NT), found);
    gguf_close(g);
    buf_free(&b);
    return found == R * NT ? 0 : 1;
}

int main(void) { return bench_vocab() || bench_lookup(); }
