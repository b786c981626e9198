/*
 * mkmodel: write random-weight GGUF models with the shapes of real ones, for speed
 * measurements (speed does not depend on the values).
 *
 *   build/bench/mkmodel tinyllama q4_0 /tmp/tinyllama-q4_0.gguf
 *   build/bench/mkmodel qwen2.5-0.5b q8_0 /tmp/qwen-q8_0.gguf
 *
 * Types: f16 (every matrix), q8_0, q4_0 (output Q6_K, as llama.cpp's Q4_0 files), q4_k_m (Q4_K with Q6_K for the
 * output and for attn_v / ffn_down on llama.cpp's "more bits" layers; rows whose length is
 * not a multiple of 256 fall back to Q5_0, as llama.cpp does for Qwen2.5-0.5B), q5_k_m (the
 * same with Q5_K, falling back to Q5_1), iq4_nl (every matrix, as `llama-quantize --pure`;
 * the type Q2_K, Q3_K and IQ4_XS files fall back to where rows are not a multiple of 256),
 * q2_k (every matrix Q2_K but the output, Q6_K; real Q2_K files also give a few Q3_K / Q4_K).
 * Types we have a quantizer for are made from random floats; Q6_K, Q5_K, Q5_0, Q5_1, Q2_K
 * and IQ4_NL blocks are random bits with a sane scale (and min).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "kernels/kernels.h"

typedef struct shape {
    const char *name, *arch;
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab;
    bool biases, tied;
    const char *vocab_file; /* tokenizer to copy, relative to ../shared, or NULL */
} shape;

static const shape shapes[] = {
    {"tinyllama", "llama", 2048, 22, 32, 4, 5632, 32000, false, false,
     "testdata/tokenizer/ggml-vocab-llama-spm.gguf"},
    {"qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 50257, true, true,
     "testdata/tokenizer/ggml-vocab-gpt-2.gguf"},
};

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}
static float rndf(void) { return ((float)rnd() / 4294967296.0f - 0.5f) * 0.04f; }

/* A random matrix of n_out rows of n_in values, in type t. Returns heap bytes. */
static void *make_matrix(int t, int64_t n_in, int64_t n_out, size_t *nbytes) {
    int64_t ne[2] = {n_in, n_out};
    if (gguf_tensor_nbytes(t, 2, ne, nbytes)) return NULL;
    unsigned char *data = malloc(*nbytes);
    const kern_traits *tt = kern_traits_of(t);
    if (t == GGUF_TYPE_F32) {
        float *f = (float *)data;
        for (int64_t i = 0; i < n_in * n_out; i++) f[i] = rndf();
    } else if (tt && tt->from_float) {
        float *row = malloc((size_t)n_in * sizeof *row);
        size_t rb = *nbytes / (size_t)n_out;
        for (int64_t r = 0; r < n_out; r++) {
            for (int64_t i = 0; i < n_in; i++) row[i] = rndf();
            tt->from_float(row, data + (size_t)r * rb, n_in);
        }
        free(row);
    } else {
        for (size_t i = 0; i < *nbytes; i++) data[i] = (unsigned char)rnd();
        size_t bs = gguf_type_size(t);
        size_t d_off = t == GGUF_TYPE_Q6_K ? 208 : t == GGUF_TYPE_Q2_K ? 80 : 0;
        uint16_t d = kern_f32_to_f16(0.001f);
        for (size_t b = 0; b + bs <= *nbytes; b += bs) {
            memcpy(data + b + d_off, &d, 2);
            if (t == GGUF_TYPE_Q5_K || t == GGUF_TYPE_Q5_1 || t == GGUF_TYPE_Q2_K)
                memcpy(data + b + d_off + 2, &d, 2); /* dmin, m */
        }
    }
    return data;
}

static int weight_type(const char *type, const char *role, int il, int n_layer, int64_t n_in) {
    if (!strcmp(type, "q8_0")) return GGUF_TYPE_Q8_0;
    if (!strcmp(type, "f16")) return GGUF_TYPE_F16;
    if (!strcmp(type, "iq4_nl")) return GGUF_TYPE_IQ4_NL;
    if (!strcmp(type, "q2_k")) { /* IQ4_NL: llama.cpp's fallback for Q2_K */
        if (!strcmp(role, "output")) return GGUF_TYPE_Q6_K;
        return n_in % 256 ? GGUF_TYPE_IQ4_NL : GGUF_TYPE_Q2_K;
    }
    if (!strcmp(type, "q4_0")) return !strcmp(role, "output") ? GGUF_TYPE_Q6_K : GGUF_TYPE_Q4_0;
    /* q4_k_m, q5_k_m */
    const bool q5 = !strcmp(type, "q5_k_m");
    bool more_bits = il < n_layer / 8 || il >= 7 * n_layer / 8 || (il - n_layer / 8) % 3 == 2;
    int t = q5 ? GGUF_TYPE_Q5_K : GGUF_TYPE_Q4_K;
    if (!strcmp(role, "output") || ((!strcmp(role, "attn_v") || !strcmp(role, "ffn_down")) && more_bits))
        t = GGUF_TYPE_Q6_K;
    if (n_in % 256) t = t == GGUF_TYPE_Q6_K ? GGUF_TYPE_Q8_0 : q5 ? GGUF_TYPE_Q5_1 : GGUF_TYPE_Q5_0;
    return t;
}

static int add(gguf_writer *w, const char *name, int t, int64_t n_in, int64_t n_out) {
    size_t nb;
    void *d = make_matrix(t, n_in, n_out, &nb);
    if (!d) return 1;
    int64_t ne[2] = {n_in, n_out};
    int rc = gguf_writer_add_tensor(w, name, t, n_out > 1 ? 2 : 1, ne, d, nb);
    free(d);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: mkmodel tinyllama|qwen2.5-0.5b f16|q8_0|q4_0|q4_k_m|q5_k_m|iq4_nl|q2_k OUT.gguf\n");
        return 2;
    }
    const shape *sh = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(shapes[i].name, argv[1])) sh = &shapes[i];
    const char *type = argv[2];
    if (!sh || (strcmp(type, "f16") && strcmp(type, "q8_0") && strcmp(type, "q4_0") && strcmp(type, "q4_k_m") &&
                strcmp(type, "q5_k_m") && strcmp(type, "iq4_nl") && strcmp(type, "q2_k"))) {
        fprintf(stderr, "mkmodel: unknown shape or type\n");
        return 2;
    }
    kern_init(KERN_ISA_AUTO);
    gguf_writer *w = gguf_writer_new();
    err_buf eb = {0};
    char key[128];
#define KEY(s) (snprintf(key, sizeof key, "%s.%s", sh->arch, s), key)
    gguf_writer_set_str(w, "general.architecture", sh->arch);
    gguf_writer_set_str(w, "general.name", "random-weights benchmark model");
    gguf_writer_set_u32(w, KEY("context_length"), 4096);
    gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)sh->n_embd);
    gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)sh->n_layer);
    gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)sh->n_ff);
    gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)sh->n_head);
    gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)sh->n_head_kv);
    gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
    gguf_writer_set_f32(w, KEY("rope.freq_base"), 10000.0f);
    if (sh->vocab_file) {
        char path[512];
        const char *root = getenv("LOCALAI_SHARED");
        snprintf(path, sizeof path, "%s/%s", root && *root ? root : "../shared", sh->vocab_file);
        gguf *v;
        if (gguf_open(path, &v, &eb)) {
            fprintf(stderr, "mkmodel: %s\n", err_msg(&eb));
            return 1;
        }
        gguf_arr toks;
        if (gguf_get_arr(v, "tokenizer.ggml.tokens", GGUF_VT_STRING, &toks, &eb) || toks.n != (uint64_t)sh->n_vocab) {
            fprintf(stderr, "mkmodel: %s does not hold a %d-token vocabulary\n", path, sh->n_vocab);
            return 1;
        }
        gguf_writer_copy_kv(w, v, "tokenizer.");
        gguf_close(v);
    }
    int E = sh->n_embd, hd = E / sh->n_head, QD = sh->n_head * hd, KD = sh->n_head_kv * hd;
    int rc = 0;
    rc |= add(w, "token_embd.weight", weight_type(type, "token_embd", 0, sh->n_layer, E), E, sh->n_vocab);
    rc |= add(w, "output_norm.weight", GGUF_TYPE_F32, E, 1);
    if (!sh->tied) rc |= add(w, "output.weight", weight_type(type, "output", 0, sh->n_layer, E), E, sh->n_vocab);
    for (int il = 0; il < sh->n_layer && !rc; il++) {
        char nm[96];
#define T(n) (snprintf(nm, sizeof nm, "blk.%d.%s", il, n), nm)
#define W(role, n_in) weight_type(type, role, il, sh->n_layer, n_in)
        rc |= add(w, T("attn_norm.weight"), GGUF_TYPE_F32, E, 1);
        rc |= add(w, T("attn_q.weight"), W("attn_q", E), E, QD);
        rc |= add(w, T("attn_k.weight"), W("attn_k", E), E, KD);
        rc |= add(w, T("attn_v.weight"), W("attn_v", E), E, KD);
        if (sh->biases) {
            rc |= add(w, T("attn_q.bias"), GGUF_TYPE_F32, QD, 1);
            rc |= add(w, T("attn_k.bias"), GGUF_TYPE_F32, KD, 1);
            rc |= add(w, T("attn_v.bias"), GGUF_TYPE_F32, KD, 1);
        }
        rc |= add(w, T("attn_output.weight"), W("attn_output", QD), QD, E);
        rc |= add(w, T("ffn_norm.weight"), GGUF_TYPE_F32, E, 1);
        rc |= add(w, T("ffn_gate.weight"), W("ffn_gate", E), E, sh->n_ff);
        rc |= add(w, T("ffn_up.weight"), W("ffn_up", E), E, sh->n_ff);
        rc |= add(w, T("ffn_down.weight"), W("ffn_down", sh->n_ff), sh->n_ff, E);
    }
    if (rc || gguf_writer_write_file(w, argv[3], &eb)) {
        fprintf(stderr, "mkmodel: cannot write %s: %s\n", argv[3], err_msg(&eb));
        return 1;
    }
    gguf_writer_free(w);
    return 0;
}
