/*
 * embed: embeddings per second of a bge-small-shaped BERT (n_embd 384, 12 layers, 12 heads,
 * n_ff 1536, the bge vocabulary of 30522), random weights written at run time to /tmp, one
 * input at a time and 32 inputs per call, each ~16 tokens.
 *
 *   build/bench/embed                 F16 matrices, 2 threads (what `make bench` runs)
 *   build/bench/embed q8_0 1          Q8_0 matrices, 1 thread
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"

enum { E = 384, L = 12, H = 12, FF = 1536, CTX = 512, N_IN = 32 };

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float rndf(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return ((float)(rng >> 40) / 16777216.0f - 0.5f) * 0.1f;
}

/* A random tensor [ne0, ne1] of type t (vectors are F32). */
static int add(gguf_writer *w, const char *name, int t, int64_t ne0, int64_t ne1) {
    int64_t ne[2] = {ne0, ne1};
    size_t n = (size_t)(ne0 * ne1), nbytes;
    if (ne1 == 1) t = GGUF_TYPE_F32;
    if (gguf_tensor_nbytes(t, ne1 > 1 ? 2 : 1, ne, &nbytes)) return -1;
    float *f = malloc(n * sizeof *f);
    void *data = malloc(nbytes);
    float mean = strstr(name, "norm.weight") ? 1.0f : 0.0f;
    for (size_t i = 0; i < n; i++) f[i] = rndf() + mean;
    if (t == GGUF_TYPE_F32) memcpy(data, f, nbytes);
    else if (t == GGUF_TYPE_F16) kern_f32_to_f16_row(f, data, (int64_t)n);
    else kern_traits_of(t)->from_float(f, data, (int64_t)n);
    int rc = gguf_writer_add_tensor(w, name, t, ne1 > 1 ? 2 : 1, ne, data, nbytes);
    free(f), free(data);
    return rc;
}

static int make_model(const char *path, int t) {
    err_buf eb = {0};
    gguf *voc;
    if (gguf_open("../shared/testdata/tokenizer/ggml-vocab-bert-bge.gguf", &voc, &eb)) {
        fprintf(stderr, "embed: %s\n", err_msg(&eb));
        return -1;
    }
    gguf_writer *w = gguf_writer_new();
    gguf_writer_copy_kv(w, voc, "tokenizer.");
    gguf_close(voc);
    gguf_writer_set_str(w, "general.architecture", "bert");
    gguf_writer_set_u32(w, "bert.context_length", CTX);
    gguf_writer_set_u32(w, "bert.embedding_length", E);
    gguf_writer_set_u32(w, "bert.block_count", L);
    gguf_writer_set_u32(w, "bert.feed_forward_length", FF);
    gguf_writer_set_u32(w, "bert.attention.head_count", H);
    gguf_writer_set_f32(w, "bert.attention.layer_norm_epsilon", 1e-12f);
    gguf_writer_set_u32(w, "bert.pooling_type", 2);
    int rc = add(w, "token_embd.weight", GGUF_TYPE_F16, E, 30522) |
             add(w, "position_embd.weight", GGUF_TYPE_F32, E, CTX) |
             add(w, "token_types.weight", GGUF_TYPE_F32, E, 2) |
             add(w, "token_embd_norm.weight", t, E, 1) | add(w, "token_embd_norm.bias", t, E, 1);
    static const struct { const char *n; int ne0, ne1; } lt[] = {
        {"attn_q.weight", E, E}, {"attn_q.bias", E, 1}, {"attn_k.weight", E, E},
        {"attn_k.bias", E, 1}, {"attn_v.weight", E, E}, {"attn_v.bias", E, 1},
        {"attn_output.weight", E, E}, {"attn_output.bias", E, 1},
        {"attn_output_norm.weight", E, 1}, {"attn_output_norm.bias", E, 1},
        {"ffn_up.weight", E, FF}, {"ffn_up.bias", FF, 1}, {"ffn_down.weight", FF, E},
        {"ffn_down.bias", E, 1}, {"layer_output_norm.weight", E, 1},
        {"layer_output_norm.bias", E, 1},
    };
    for (int l = 0; l < L; l++)
        for (size_t i = 0; i < sizeof lt / sizeof lt[0]; i++) {
            char nm[96];
            snprintf(nm, sizeof nm, "blk.%d.%s", l, lt[i].n);
            rc |= add(w, nm, t, lt[i].ne0, lt[i].ne1);
        }
    if (!rc) rc = gguf_writer_write_file(w, path, &eb);
    gguf_writer_free(w);
    if (rc) fprintf(stderr, "embed: cannot write %s: %s\n", path, err_msg(&eb));
    return rc;
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run calls of n inputs for at least min_s seconds; returns inputs per second. *share is the
 * CPU time we got over wall time x threads: below 1 when the machine is shared. */
static double measure(const llm_model *m, tpool *pool, int32_t **in, int *lens, int n,
                      double min_s, int *calls, double *share) {
    static float out[N_IN * E];
    err_buf eb = {0};
    llm_embed(m, pool, (const int32_t *const *)in, lens, n, LLM_POOL_DEFAULT, true, out, &eb);
    uint64_t t0 = time_now_ns();
    double c0 = cpu_s();
    int c = 0;
    double el;
    do {
        if (llm_embed(m, pool, (const int32_t *const *)in, lens, n, LLM_POOL_DEFAULT, true, out, &eb)) {
            fprintf(stderr, "embed: %s\n", err_msg(&eb));
            return 0;
        }
        c++;
        el = (double)(time_now_ns() - t0) / 1e9;
    } while (el < min_s);
    *calls = c;
    *share = (cpu_s() - c0) / (el * tpool_size(pool));
    return (double)c * n / el;
}

int main(int argc, char **argv) {
    int t = argc > 1 && !strcmp(argv[1], "q8_0") ? GGUF_TYPE_Q8_0 : GGUF_TYPE_F16;
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    if (threads < 1) threads = 1;
    kern_init(KERN_ISA_AUTO);
    char path[64];
    snprintf(path, sizeof path, "/tmp/localai-bench-bge-%s.gguf", t == GGUF_TYPE_F16 ? "f16" : "q8_0");
    if (make_model(path, t)) return 1;
    err_buf eb = {0};
    llm_model *m;
    if (llm_model_load(path, &m, &eb)) {
        fprintf(stderr, "embed: %s\n", err_msg(&eb));
        return 1;
    }
    tpool *pool = threads > 1 ? tpool_new(threads) : NULL;
    static int32_t ids[N_IN][20];
    int32_t *in[N_IN];
    int lens[N_IN], total = 0;
    for (int i = 0; i < N_IN; i++) {
        lens[i] = 14 + i % 5; /* 14..18 tokens, ~16 on average */
        ids[i][0] = 101;
        for (int p = 1; p < lens[i] - 1; p++) ids[i][p] = 1000 + (int32_t)((i * 131 + p * 977) % 28000);
        ids[i][lens[i] - 1] = 102;
        in[i] = ids[i];
        total += lens[i];
    }
    printf("%s, %s matrices, %d thread(s), ISA %s\n", llm_model_describe(m),
           t == GGUF_TYPE_F16 ? "F16" : "Q8_0", threads, kern_isa_name(kern_active_isa()));
    int c1, c32;
    double s1, s32;
    double r1 = measure(m, pool, in, lens, 1, 1.5, &c1, &s1);
    double r32 = measure(m, pool, in, lens, N_IN, 2.0, &c32, &s32);
    printf("batch  1 (%d tokens):      %7.1f embeddings/s  (%d calls, cpu share %.0f%%)\n",
           lens[0], r1, c1, 100 * s1);
    printf("batch 32 (%d tokens):     %7.1f embeddings/s, %.0f tokens/s  (%d calls, cpu share %.0f%%)\n",
           total, r32, r32 * total / N_IN, c32, 100 * s32);
    tpool_free(pool);
    llm_model_free(m);
    remove(path);
    return 0;
}
