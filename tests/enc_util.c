/* The tiny BERT of the encoder tests and its scalar reference (see enc_util.h). */
#include "enc_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gguf/gguf.h"
#include "test.h"

static uint32_t rng_state;

static float rnd(float std) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return ((float)(rng_state >> 8) / 16777216.0f * 2.0f - 1.0f) * std * 1.7320508f;
}

static void fill(float *p, size_t n, float std, float mean) {
    for (size_t i = 0; i < n; i++) p[i] = mean + rnd(std);
}

static void add(gguf_writer *w, const char *name, const float *data, int64_t ne0, int64_t ne1) {
    int64_t ne[2] = {ne0, ne1};
    ASSERT_EQ_INT(gguf_writer_add_tensor(w, name, GGUF_TYPE_F32, ne1 > 1 ? 2 : 1, ne, data,
                                         (size_t)(ne0 * ne1) * sizeof(float)),
                  0);
}

static enc_tiny *write_model(const char *path, bool rank, bool nomic, bool jina, bool qk_norm,
                             const char *vocab, uint32_t seed) {
    err_buf eb = {0};
    gguf *voc;
    if (!vocab) vocab = test_shared_file("testdata/tokenizer/ggml-vocab-bert-bge.gguf");
    ASSERT_OK(gguf_open(vocab, &voc, &eb), &eb);
    gguf_writer *w = gguf_writer_new();
    ASSERT_NOT_NULL(w);
    ASSERT_EQ_INT(gguf_writer_copy_kv(w, voc, "tokenizer."), 0);
    gguf_arr toks;
    ASSERT_OK(gguf_get_arr(voc, "tokenizer.ggml.tokens", GGUF_VT_STRING, &toks, &eb), &eb);
    enc_tiny *m = calloc(1, sizeof *m);
    m->n_vocab = (int)toks.n;
    m->rank = rank;
    m->nomic = nomic;
    m->jina = jina;
    m->one_type = !strstr(vocab, "bert-bge"); /* RoBERTa-style vocabularies: one token type */
    m->qk_norm = qk_norm;
    gguf_close(voc);
    m->tok = malloc((size_t)m->n_vocab * ENC_E * sizeof(float));
    rng_state = seed;
    fill(m->tok, (size_t)m->n_vocab * ENC_E, 0.5f, 0);
    fill(&m->pos[0][0], sizeof m->pos / 4, 0.2f, 0);
    fill(&m->types[0][0], sizeof m->types / 4, 0.5f, 0);
    fill(m->en_w, ENC_E, 0.1f, 1), fill(m->en_b, ENC_E, 0.1f, 0);
    for (int l = 0; l < ENC_L; l++) {
        fill(&m->l[l].wq[0][0], ENC_E * ENC_E * 4, 0.2f, 0); /* wq wk wv wo are adjacent */
        fill(m->l[l].bq, ENC_E * 4, 0.1f, 0);
        fill(m->l[l].n1_w, ENC_E, 0.1f, 1), fill(m->l[l].n1_b, ENC_E, 0.1f, 0);
        fill(&m->l[l].up[0][0], ENC_F * ENC_E, 0.2f, 0), fill(m->l[l].bup, ENC_F, 0.1f, 0);
        fill(&m->l[l].down[0][0], ENC_F * ENC_E, 0.2f, 0), fill(m->l[l].bdown, ENC_E, 0.1f, 0);
        fill(m->l[l].n2_w, ENC_E, 0.1f, 1), fill(m->l[l].n2_b, ENC_E, 0.1f, 0);
        fill(&m->l[l].gate[0][0], ENC_F * ENC_E, 0.3f, 0);
        fill(m->l[l].qn_w, ENC_E, 0.1f, 1), fill(m->l[l].qn_b, ENC_E, 0.1f, 0);
        fill(m->l[l].kn_w, ENC_E, 0.1f, 1), fill(m->l[l].kn_b, ENC_E, 0.1f, 0);
    }
    fill(&m->cls[0][0], ENC_E * ENC_E, 0.3f, 0), fill(m->cls_b, ENC_E, 0.1f, 0);
    fill(m->cls_out, ENC_E, 0.5f, 0), fill(&m->cls_out_b, 1, 0.1f, 0);

    const char *A = nomic ? "nomic-bert" : jina ? "jina-bert-v2" : "bert";
    char key[96];
#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, A), key)
    gguf_writer_set_str(w, "general.architecture", A);
    gguf_writer_set_str(w, "general.name", "tiny-bert-test");
    gguf_writer_set_u32(w, KEY("context_length"), ENC_CTX);
    gguf_writer_set_u32(w, KEY("embedding_length"), ENC_E);
    gguf_writer_set_u32(w, KEY("block_count"), ENC_L);
    gguf_writer_set_u32(w, KEY("feed_forward_length"), ENC_F);
    gguf_writer_set_u32(w, KEY("attention.head_count"), ENC_H);
    gguf_writer_set_f32(w, KEY("attention.layer_norm_epsilon"), 1e-12f);
    gguf_writer_set_bool(w, KEY("attention.causal"), false);
    gguf_writer_set_u32(w, KEY("pooling_type"), rank ? 4 : 1);
    if (nomic) gguf_writer_set_f32(w, KEY("rope.freq_base"), 1000.0f);
#undef KEY
    add(w, "token_embd.weight", m->tok, ENC_E, m->n_vocab);
    if (!nomic && !jina) add(w, "position_embd.weight", &m->pos[0][0], ENC_E, ENC_CTX);
    add(w, "token_types.weight", &m->types[0][0], ENC_E, m->one_type ? 1 : 2);
    add(w, "token_embd_norm.weight", m->en_w, ENC_E, 1);
    add(w, "token_embd_norm.bias", m->en_b, ENC_E, 1);
    for (int l = 0; l < ENC_L; l++) {
        char nm[64];
#define T(suffix, data, ne0, ne1)                                  \
    snprintf(nm, sizeof nm, "blk.%d." suffix, l);                  \
    add(w, nm, data, ne0, ne1)
        if (nomic) {
            /* wq, wk, wv are adjacent: the fused matrix's rows are q's, then k's, then v's. */
            T("attn_qkv.weight", &m->l[l].wq[0][0], ENC_E, 3 * ENC_E);
            T("ffn_gate.weight", &m->l[l].gate[0][0], ENC_E, ENC_F);
        } else {
            T("attn_q.weight", &m->l[l].wq[0][0], ENC_E, ENC_E);
            T("attn_k.weight", &m->l[l].wk[0][0], ENC_E, ENC_E);
            T("attn_v.weight", &m->l[l].wv[0][0], ENC_E, ENC_E);
            T("attn_q.bias", m->l[l].bq, ENC_E, 1);
            T("attn_k.bias", m->l[l].bk, ENC_E, 1);
            T("attn_v.bias", m->l[l].bv, ENC_E, 1);
        }
        if (jina) {
            T("ffn_gate.weight", &m->l[l].gate[0][0], ENC_E, ENC_F);
            if (qk_norm) {
                T("attn_q_norm.weight", m->l[l].qn_w, ENC_E, 1);
                T("attn_q_norm.bias", m->l[l].qn_b, ENC_E, 1);
                T("attn_k_norm.weight", m->l[l].kn_w, ENC_E, 1);
                T("attn_k_norm.bias", m->l[l].kn_b, ENC_E, 1);
            }
        }
        T("attn_output.weight", &m->l[l].wo[0][0], ENC_E, ENC_E);
        T("attn_output.bias", m->l[l].bo, ENC_E, 1);
        T("attn_output_norm.weight", m->l[l].n1_w, ENC_E, 1);
        T("attn_output_norm.bias", m->l[l].n1_b, ENC_E, 1);
        T("ffn_up.weight", &m->l[l].up[0][0], ENC_E, ENC_F);
        T("ffn_up.bias", m->l[l].bup, ENC_F, 1);
        T("ffn_down.weight", &m->l[l].down[0][0], ENC_F, ENC_E);
        T("ffn_down.bias", m->l[l].bdown, ENC_E, 1);
        T("layer_output_norm.weight", m->l[l].n2_w, ENC_E, 1);
        T("layer_output_norm.bias", m->l[l].n2_b, ENC_E, 1);
#undef T
    }
    if (rank) {
        add(w, "cls.weight", &m->cls[0][0], ENC_E, ENC_E);
        add(w, "cls.bias", m->cls_b, ENC_E, 1);
        int64_t ne[2] = {ENC_E, 1};
        ASSERT_EQ_INT(gguf_writer_add_tensor(w, "cls.output.weight", GGUF_TYPE_F32, 2, ne,
                                             m->cls_out, ENC_E * sizeof(float)),
                      0);
        add(w, "cls.output.bias", &m->cls_out_b, 1, 1);
    }
    ASSERT_OK(gguf_writer_write_file(w, path, &eb), &eb);
    gguf_writer_free(w);
    return m;
}

enc_tiny *enc_tiny_write(const char *path, bool rank, uint32_t seed) {
    return write_model(path, rank, false, false, false, NULL, seed);
}

enc_tiny *enc_tiny_write_vocab(const char *path, const char *vocab, bool rank, uint32_t seed) {
    return write_model(path, rank, false, false, false, vocab, seed);
}

enc_tiny *enc_tiny_write_jina(const char *path, bool qk_norm, uint32_t seed) {
    return write_model(path, false, false, true, qk_norm, NULL, seed);
}

enc_tiny *enc_tiny_write_nomic(const char *path, uint32_t seed) {
    return write_model(path, false, true, false, false, NULL, seed);
}

void enc_tiny_free(enc_tiny *w) {
    if (!w) return;
    free(w->tok);
    free(w);
}

static void layernorm(double *x, const float *w, const float *b) {
    double mean = 0, var = 0;
    for (int i = 0; i < ENC_E; i++) mean += x[i];
    mean /= ENC_E;
    for (int i = 0; i < ENC_E; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= ENC_E;
    for (int i = 0; i < ENC_E; i++) x[i] = (x[i] - mean) / sqrt(var + 1e-12) * w[i] + b[i];
}

/* y = W x + b for a row-major W[rows][cols] */
static void linear(double *y, const float *W, const float *b, const double *x, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        double s = b ? b[r] : 0;
        for (int c = 0; c < cols; c++) s += (double)W[r * cols + c] * x[c];
        y[r] = s;
    }
}

/* NeoX rotary embedding of every head of one row: pairs (i, i + hd/2), base 1000. */
static void rope_neox(double *row, int pos, int hd) {
    for (int h = 0; h < ENC_H; h++) {
        double *v = row + h * hd;
        for (int i = 0; i < hd / 2; i++) {
            double th = pos * pow(1000.0, -2.0 * i / hd), c = cos(th), s = sin(th);
            double a = v[i], b = v[i + hd / 2];
            v[i] = a * c - b * s;
            v[i + hd / 2] = a * s + b * c;
        }
    }
}

void enc_tiny_ref(const enc_tiny *w, const int32_t *ids, const int32_t *types, int n, double *out) {
    double (*x)[ENC_E] = (double (*)[ENC_E])out;
    double (*q)[ENC_E] = malloc(sizeof(double) * ENC_E * (size_t)n);
    double (*k)[ENC_E] = malloc(sizeof(double) * ENC_E * (size_t)n);
    double (*v)[ENC_E] = malloc(sizeof(double) * ENC_E * (size_t)n);
    double (*o)[ENC_E] = malloc(sizeof(double) * ENC_E * (size_t)n);
    double *sc = malloc(sizeof(double) * (size_t)n), hbuf[ENC_F], a[ENC_E];
    for (int p = 0; p < n; p++) {
        int ty = types ? types[p] : 0;
        for (int i = 0; i < ENC_E; i++)
            x[p][i] = (double)w->tok[(size_t)ids[p] * ENC_E + i] + w->types[ty][i] +
                      (w->nomic || w->jina ? 0.0 : w->pos[p][i]);
        layernorm(x[p], w->en_w, w->en_b);
    }
    int hd = ENC_E / ENC_H;
    for (int l = 0; l < ENC_L; l++) {
        for (int p = 0; p < n; p++) {
            linear(q[p], &w->l[l].wq[0][0], w->nomic ? NULL : w->l[l].bq, x[p], ENC_E, ENC_E);
            linear(k[p], &w->l[l].wk[0][0], w->nomic ? NULL : w->l[l].bk, x[p], ENC_E, ENC_E);
            linear(v[p], &w->l[l].wv[0][0], w->nomic ? NULL : w->l[l].bv, x[p], ENC_E, ENC_E);
            if (w->nomic) {
                rope_neox(q[p], p, hd);
                rope_neox(k[p], p, hd);
            }
            if (w->qk_norm) {
                layernorm(q[p], w->l[l].qn_w, w->l[l].qn_b);
                layernorm(k[p], w->l[l].kn_w, w->l[l].kn_b);
            }
        }
        /* ALiBi slopes, max bias 8: 2 heads (a power of two), so head h gets 2^(-8/2 * (h+1)). */
        double slope[ENC_H];
        for (int h = 0; h < ENC_H; h++) slope[h] = w->jina ? pow(2.0, -8.0 / ENC_H * (h + 1)) : 0.0;
        for (int p = 0; p < n; p++)
            for (int h = 0; h < ENC_H; h++) {
                double mx = -1e300, sum = 0;
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int d = 0; d < hd; d++) s += q[p][h * hd + d] * k[j][h * hd + d];
                    sc[j] = s / sqrt((double)hd) - slope[h] * fabs((double)(j - p));
                    if (sc[j] > mx) mx = sc[j];
                }
                for (int j = 0; j < n; j++) sum += (sc[j] = exp(sc[j] - mx));
                for (int d = 0; d < hd; d++) {
                    double s = 0;
                    for (int j = 0; j < n; j++) s += sc[j] / sum * v[j][h * hd + d];
                    o[p][h * hd + d] = s;
                }
            }
        for (int p = 0; p < n; p++) {
            linear(a, &w->l[l].wo[0][0], w->l[l].bo, o[p], ENC_E, ENC_E);
            for (int i = 0; i < ENC_E; i++) x[p][i] += a[i];
            layernorm(x[p], w->l[l].n1_w, w->l[l].n1_b);
            linear(hbuf, &w->l[l].up[0][0], w->l[l].bup, x[p], ENC_F, ENC_E);
            if (w->jina) {
                double gt[ENC_F];
                linear(gt, &w->l[l].gate[0][0], NULL, x[p], ENC_F, ENC_E);
                for (int i = 0; i < ENC_F; i++) {
                    double t = gt[i];
                    hbuf[i] *= 0.5 * t * (1 + tanh(0.7978845608028654 * (t + 0.044715 * t * t * t)));
                }
            } else if (w->nomic) {
                double gt[ENC_F];
                linear(gt, &w->l[l].gate[0][0], NULL, x[p], ENC_F, ENC_E);
                for (int i = 0; i < ENC_F; i++) hbuf[i] *= gt[i] / (1 + exp(-gt[i]));
            } else {
                for (int i = 0; i < ENC_F; i++) {
                    double t = hbuf[i];
                    hbuf[i] = 0.5 * t * (1 + tanh(0.7978845608028654 * (t + 0.044715 * t * t * t)));
                }
            }
            linear(a, &w->l[l].down[0][0], w->l[l].bdown, hbuf, ENC_E, ENC_F);
            for (int i = 0; i < ENC_E; i++) x[p][i] += a[i];
            layernorm(x[p], w->l[l].n2_w, w->l[l].n2_b);
        }
    }
    free(q), free(k), free(v), free(o), free(sc);
}

double enc_tiny_ref_rank(const enc_tiny *w, const int32_t *ids, const int32_t *types, int n) {
    double *x = malloc(sizeof(double) * ENC_E * (size_t)n), hcls[ENC_E];
    enc_tiny_ref(w, ids, types, n, x);
    linear(hcls, &w->cls[0][0], w->cls_b, x, ENC_E, ENC_E);
    double s = w->cls_out_b;
    for (int i = 0; i < ENC_E; i++) s += w->cls_out[i] * tanh(hcls[i]);
    free(x);
    return s;
}

static int b64v(char c) {
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(a, c) : NULL;
    return p ? (int)(p - a) : -1;
}

static size_t b64_decode(const char *s, uint8_t *out) {
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        int v = b64v(*s);
        ASSERT_TRUE(v >= 0);
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n;
}

json_t *enc_ugm_vocab_write(const char *path, bool with_charsmap, bool add_special_keys) {
    json_error_t je;
    json_t *d = json_load_file("tests/corpus/ugm/fixture.json", 0, &je);
    if (!d) test_fail(__FILE__, __LINE__, "fixture: %s", je.text);
    json_t *toks = json_object_get(d, "tokens"), *scores = json_object_get(d, "scores"),
           *types = json_object_get(d, "types");
    size_t n = json_array_size(toks);
    const char **strs = malloc(n * sizeof *strs);
    float *sc = malloc(n * sizeof *sc);
    int32_t *ty = malloc(n * sizeof *ty);
    for (size_t i = 0; i < n; i++) {
        strs[i] = json_string_value(json_array_get(toks, i));
        sc[i] = (float)json_number_value(json_array_get(scores, i));
        ty[i] = (int32_t)json_integer_value(json_array_get(types, i));
    }
    const char *cm64 = json_string_value(json_object_get(d, "charsmap"));
    uint8_t *cm = malloc(strlen(cm64) + 1);
    size_t cm_n = b64_decode(cm64, cm);
    gguf_writer *w = gguf_writer_new();
    ASSERT_NOT_NULL(w);
    gguf_writer_set_str(w, "tokenizer.ggml.model", "t5");
    ASSERT_EQ_INT(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, n), 0);
    ASSERT_EQ_INT(gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_F32, sc, n), 0);
    ASSERT_EQ_INT(gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_I32, ty, n), 0);
    if (with_charsmap)
        ASSERT_EQ_INT(gguf_writer_set_arr(w, "tokenizer.ggml.precompiled_charsmap", GGUF_VT_U8, cm, cm_n), 0);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", json_is_true(json_object_get(d, "add_space_prefix")));
    gguf_writer_set_bool(w, "tokenizer.ggml.remove_extra_whitespaces",
                         json_is_true(json_object_get(d, "remove_extra_whitespaces")));
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 0);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 3);
    gguf_writer_set_u32(w, "tokenizer.ggml.seperator_token_id", 2);
    gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", 1);
    if (add_special_keys) {
        gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
        gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", true);
    }
    err_buf eb = {0};
    ASSERT_OK(gguf_writer_write_file(w, path, &eb), &eb);
    gguf_writer_free(w);
    free(strs), free(sc), free(ty), free(cm);
    return d;
}
