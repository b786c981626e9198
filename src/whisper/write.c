/*
 * Random-weight Whisper models in whisper.cpp's ggml format, for benchmarks (speed does not
 * depend on the values) and tests of the quantized paths. Tensors follow whisper.cpp's
 * converter and quantizer: matrices and the token embedding in the chosen type, conv kernels
 * in F16, vectors and positional embeddings in F32. The header, mel filters and vocabulary
 * come from an existing model file when one is given (the filters matter for a real mel),
 * else synthetic ones are written.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "whisper_int.h"

typedef struct wr {
    FILE *f;
    uint64_t rng;
    int wtype;
    float *tmp;
    void *q;
    bool err;
} wr;

static float gauss(wr *w) {
    float s = 0;
    for (int i = 0; i < 4; i++) {
        w->rng ^= w->rng << 13, w->rng ^= w->rng >> 7, w->rng ^= w->rng << 17;
        s += (float)(w->rng >> 40) / 16777216.0f - 0.5f;
    }
    return s * 1.7320508f; /* sum of 4 uniforms: variance 1/3 */
}

static void put(wr *w, const void *p, size_t n) {
    if (!w->err && fwrite(p, 1, n, w->f) != n) w->err = true;
}

static void put_i32(wr *w, int32_t v) { put(w, &v, 4); }

/* ggml's Q5_0 reference quantizer: 32 values, scale d = max / -16, 5-bit codes. */
static void quant_q5_0(const float *x, uint8_t *out, int64_t n) {
    for (int64_t b = 0; b < n / 32; b++, x += 32, out += 22) {
        float amax = 0, mx = 0;
        for (int j = 0; j < 32; j++)
            if (fabsf(x[j]) > amax) amax = fabsf(x[j]), mx = x[j];
        float d = mx / -16, id = d ? 1.0f / d : 0;
        uint16_t dh = kern_f32_to_f16(d);
        uint32_t qh = 0;
        uint8_t *qs = out + 6;
        for (int j = 0; j < 16; j++) {
            int a = (int)(x[j] * id + 16.5f), c = (int)(x[j + 16] * id + 16.5f);
            a = a > 31 ? 31 : a, c = c > 31 ? 31 : c;
            qs[j] = (uint8_t)((a & 15) | ((c & 15) << 4));
            qh |= (uint32_t)((a >> 4) & 1) << j;
            qh |= (uint32_t)((c >> 4) & 1) << (j + 16);
        }
        memcpy(out, &dh, 2);
        memcpy(out + 2, &qh, 4);
    }
}

/* One tensor of n random values with the given std (vectors: plus `mean`), stored as type. */
static void tensor(wr *w, const char *name, int type, int nd, int64_t ne0, int64_t ne1, int64_t ne2,
                   float std, float mean) {
    int64_t ne[3] = {ne0, ne1, ne2}, n = ne0 * ne1 * ne2;
    const kern_traits *tt = kern_traits_of(type);
    put_i32(w, nd);
    put_i32(w, (int32_t)strlen(name));
    put_i32(w, type);
    for (int i = 0; i < nd; i++) put_i32(w, (int32_t)ne[i]);
    put(w, name, strlen(name));
    int64_t row = nd == 3 ? ne0 * ne1 : ne0;
    for (int64_t r = 0; r < n / row; r++) {
        for (int64_t i = 0; i < row; i++) w->tmp[i] = mean + std * gauss(w);
        size_t bytes = (size_t)(row / tt->block_size) * tt->type_size;
        if (type == GGUF_TYPE_F32) {
            put(w, w->tmp, bytes);
            continue;
        }
        if (type == GGUF_TYPE_Q5_0)
            quant_q5_0(w->tmp, w->q, row);
        else
            tt->from_float(w->tmp, w->q, row);
        put(w, w->q, bytes);
    }
}

static void block(wr *w, const char *pre, int l, int64_t D, bool cross) {
    char nm[96];
    float s = 1.0f / sqrtf((float)D), s4 = 1.0f / sqrtf(4.0f * (float)D);
    const char *att[] = {"attn", "cross_attn"};
    for (int a = 0; a < (cross ? 2 : 1); a++) {
#define T(suffix, type, nd, n0, n1, std, mean)                                                     \
    (snprintf(nm, sizeof nm, "%s.%d.%s%s", pre, l, att[a], suffix),                                \
     tensor(w, nm, type, nd, n0, n1, 1, std, mean))
        T(".query.weight", w->wtype, 2, D, D, 2 * s, 0);
        T(".query.bias", GGUF_TYPE_F32, 1, D, 1, 0.02f, 0);
        T(".key.weight", w->wtype, 2, D, D, 2 * s, 0);
        T(".value.weight", w->wtype, 2, D, D, s, 0);
        T(".value.bias", GGUF_TYPE_F32, 1, D, 1, 0.02f, 0);
        T(".out.weight", w->wtype, 2, D, D, s, 0);
        T(".out.bias", GGUF_TYPE_F32, 1, D, 1, 0.02f, 0);
        T("_ln.weight", GGUF_TYPE_F32, 1, D, 1, 0.1f, 1);
        T("_ln.bias", GGUF_TYPE_F32, 1, D, 1, 0.02f, 0);
#undef T
    }
#define M(suffix, type, nd, n0, n1, std, mean)                                                     \
    (snprintf(nm, sizeof nm, "%s.%d.%s", pre, l, suffix),                                          \
     tensor(w, nm, type, nd, n0, n1, 1, std, mean))
    M("mlp.0.weight", w->wtype, 2, D, 4 * D, s, 0);
    M("mlp.0.bias", GGUF_TYPE_F32, 1, 4 * D, 1, 0.02f, 0);
    M("mlp.2.weight", w->wtype, 2, 4 * D, D, s4, 0);
    M("mlp.2.bias", GGUF_TYPE_F32, 1, D, 1, 0.02f, 0);
    M("mlp_ln.weight", GGUF_TYPE_F32, 1, D, 1, 0.1f, 1);
    M("mlp_ln.bias", GGUF_TYPE_F32, 1, D, 1, 0.02f, 0);
#undef M
}

/* Header, filters and vocabulary: copied from src (its hparams replaced by hp) or made up. */
static int header(wr *w, const whisper_hparams *hp, const char *src, err_buf *eb) {
    put_i32(w, 0x67676d6c);
    put(w, hp, sizeof *hp);
    if (src) {
        char *d;
        size_t len;
        int rc = file_read_all(src, &d, &len, eb);
        if (rc) return rc;
        /* Reuse the loader's checks: the source must be a whisper file of these mels. */
        size_t off = 48;
        int32_t nm = 0, nf = 0, nw = 0;
        if (len >= off + 8) memcpy(&nm, d + off, 4), memcpy(&nf, d + off + 4, 4);
        bool ok = nm == hp->n_mels && nf == 201;
        off += 8 + (size_t)nm * 201 * 4;
        if (ok && len >= off + 4) memcpy(&nw, d + off, 4);
        ok = ok && len >= off + 4 && nw > 0 && nw <= hp->n_vocab;
        size_t end = off + 4;
        for (int i = 0; ok && i < nw; i++) {
            int32_t l;
            ok = len - end >= 4;
            if (ok) memcpy(&l, d + end, 4);
            ok = ok && l >= 0 && (size_t)l <= len - end - 4;
            if (ok) end += 4 + (size_t)l;
        }
        if (ok) put(w, d + 48, end - 48);
        mem_free(d);
        if (!ok) return err_set(eb, BASE_EFORMAT, "whisper: %s has no usable vocabulary", src);
        return 0;
    }
    /* Triangular filters over the 201 bins, and a vocabulary of "w<id>" words. */
    put_i32(w, hp->n_mels);
    put_i32(w, 201);
    for (int m = 0; m < hp->n_mels; m++)
        for (int k = 0; k < 201; k++) {
            float c = (m + 1) * 200.0f / (hp->n_mels + 1), v = 1.0f - fabsf(k - c) / 3.0f;
            float z = v > 0 ? v * 0.01f : 0;
            put(w, &z, 4);
        }
    int nw = hp->n_vocab >= 51865 ? 50257 : 50256;
    put_i32(w, nw);
    char word[16];
    for (int i = 0; i < nw; i++) {
        int l = snprintf(word, sizeof word, " w%d", i);
        put_i32(w, l);
        put(w, word, (size_t)l);
    }
    return 0;
}

int whisper_write_random_model(const char *path, const whisper_hparams *hp, int wtype,
                               uint64_t seed, const char *vocab_from, err_buf *eb) {
    const kern_traits *tt = kern_traits_of(wtype);
    int64_t D = hp->n_audio_state;
    if (!tt || (wtype != GGUF_TYPE_Q5_0 && wtype != GGUF_TYPE_F32 && !tt->from_float) ||
        D % tt->block_size || hp->n_audio_state != hp->n_text_state)
        return err_set(eb, BASE_EUNSUPPORTED, "whisper: cannot write type %d", wtype);
    wr w = {.rng = seed ? seed : 1, .wtype = wtype};
    size_t row = (size_t)(4 * D > 3 * hp->n_mels ? 4 * D : 3 * hp->n_mels) * 3 + 64;
    w.tmp = mem_alloc(row * sizeof(float));
    w.q = mem_alloc(row * sizeof(float));
    w.f = fopen(path, "wb");
    int rc = 0;
    if (!w.tmp || !w.q)
        rc = err_set(eb, BASE_ENOMEM, "whisper: out of memory");
    else if (!w.f)
        rc = err_set(eb, BASE_EIO, "whisper: cannot write %s", path);
    if (!rc) rc = header(&w, hp, vocab_from, eb);
    if (!rc) {
        int conv = wtype == GGUF_TYPE_F32 ? GGUF_TYPE_F32 : GGUF_TYPE_F16;
        float e = 2.0f / sqrtf((float)D);
        tensor(&w, "encoder.positional_embedding", GGUF_TYPE_F32, 2, D, hp->n_audio_ctx, 1, 0.5f,
               0);
        tensor(&w, "encoder.conv1.weight", conv, 3, 3, hp->n_mels, D,
               1.0f / sqrtf(3.0f * hp->n_mels), 0);
        tensor(&w, "encoder.conv1.bias", GGUF_TYPE_F32, 2, 1, D, 1, 0.02f, 0);
        tensor(&w, "encoder.conv2.weight", conv, 3, 3, D, D, 1.0f / sqrtf(3.0f * D), 0);
        tensor(&w, "encoder.conv2.bias", GGUF_TYPE_F32, 2, 1, D, 1, 0.02f, 0);
        for (int l = 0; l < hp->n_audio_layer; l++) block(&w, "encoder.blocks", l, D, false);
        tensor(&w, "encoder.ln_post.weight", GGUF_TYPE_F32, 1, D, 1, 1, 0.1f, 1);
        tensor(&w, "encoder.ln_post.bias", GGUF_TYPE_F32, 1, D, 1, 1, 0.02f, 0);
        tensor(&w, "decoder.positional_embedding", GGUF_TYPE_F32, 2, D, hp->n_text_ctx, 1, e, 0);
        tensor(&w, "decoder.token_embedding.weight", wtype, 2, D, hp->n_vocab, 1, e, 0);
        for (int l = 0; l < hp->n_text_layer; l++) block(&w, "decoder.blocks", l, D, true);
        tensor(&w, "decoder.ln.weight", GGUF_TYPE_F32, 1, D, 1, 1, 0.1f, 1);
        tensor(&w, "decoder.ln.bias", GGUF_TYPE_F32, 1, D, 1, 1, 0.02f, 0);
        if (w.err) rc = err_set(eb, BASE_EIO, "whisper: write to %s failed", path);
    }
    if (w.f && fclose(w.f) != 0 && !rc)
        rc = err_set(eb, BASE_EIO, "whisper: write to %s failed", path);
    mem_free(w.tmp);
    mem_free(w.q);
    return rc;
}
