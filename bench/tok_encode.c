/*
 * Tokenizer speed: load time, and encode / decode throughput on a ~50 KB text (the llama.cpp
 * test strings repeated) for one vocabulary of each family. Encoding a 10k-token text should
 * take milliseconds. Run with `make bench` from the repository root.
 */
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double ms_since(uint64_t t0) { return (double)(time_now_ns() - t0) / 1e6; }

static const char *shared(void) {
    const char *root = getenv("LOCALAI_SHARED");
    return root && *root ? root : "../shared";
}

static int bench_vocab(const char *name, const char *text, size_t len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/testdata/tokenizer/ggml-vocab-%s.gguf", shared(), name);
    gguf *g;
    tok *t;
    err_buf eb = {0};
    if (gguf_open(path, &g, &eb)) {
        printf("%-14s skipped (%s)\n", name, eb.msg);
        return 0;
    }
    uint64_t t0 = time_now_ns();
    int rc = tok_load(g, &t, &eb);
    double load_ms = ms_since(t0);
    gguf_close(g);
    if (rc) {
        printf("%-14s tok_load: %s\n", name, eb.msg);
        return 1;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    enum { N = 5 };
    t0 = time_now_ns();
    for (int i = 0; i < N; i++) {
        mem_free(ids);
        if (tok_encode(t, text, len, true, false, &ids, &n, &eb)) return 1;
    }
    double enc_ms = ms_since(t0) / N;
    buf out = {0};
    t0 = time_now_ns();
    if (tok_detokenize(t, ids, n, false, &out)) return 1;
    double dec_ms = ms_since(t0);
    printf("%-14s load %7.1f ms | %zu bytes -> %6zu tokens: encode %6.2f ms, decode %5.2f ms\n",
           name, load_ms, len, n, enc_ms, dec_ms);
    buf_free(&out);
    mem_free(ids);
    tok_free(t);
    return 0;
}

int main(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/testdata/tokenizer/ggml-vocab-gpt-2.gguf.inp", shared());
    char *one;
    size_t one_len;
    err_buf eb = {0};
    if (file_read_all(path, &one, &one_len, &eb)) {
        printf("tok_encode: skipped (%s)\n", eb.msg);
        return 0;
    }
    buf text = {0};
    for (int i = 0; i < 25; i++) buf_append(&text, one, one_len);
    mem_free(one);
    static const char *const names[] = {"llama-spm", "gpt-2", "llama-bpe", "qwen2",
                                        "deepseek-llm", "bert-bge"};
    int rc = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names && !rc; i++)
        rc = bench_vocab(names[i], text.data, text.len);
    buf_free(&text);
    return rc;
}
