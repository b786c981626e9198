/*
 * Silero VAD (v5/v6, 16 kHz) from whisper.cpp's ggml file, computed as whisper.cpp does: each
 * 512-sample window (the last one zero-padded) is reflect-padded by 64 on both sides, turned
 * into a 129-bin magnitude spectrum by the model's STFT basis (4 frames, hop 128), passed
 * through four conv+ReLU layers (strides 1, 2, 2, 1), one LSTM cell whose state carries over
 * from window to window, ReLU, a 1x1 conv and a sigmoid: the speech probability.
 * The F16 weights are used as ggml uses them: the inputs of the F16 convolutions are rounded
 * to F16 (ggml's im2col), everything else is float.
 */
#include <fcntl.h>
#include <stdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "whisper_int.h"

#define N_ENC 4
#define MAX_CH 1024

typedef struct vad_conv {
    int in, out, k, stride;
    float *w; /* (out, in, k) */
    float *b; /* out */
    bool f16;
} vad_conv;

struct whisper_vad {
    int window, context, n_bins, n_taps, hidden;
    vad_conv stft; /* (2 * n_bins, 1, n_taps), no bias */
    vad_conv enc[N_ENC];
    float *w_ih, *w_hh, *b_ih, *b_hh; /* (4H, in), (4H, H), 4H, 4H */
    float *out_w, out_b;
    bool out_f16;
};

typedef struct vrd {
    const uint8_t *p;
    size_t len, off;
} vrd;

static bool vi32(vrd *r, int32_t *v) {
    if (r->len - r->off < 4) return false;
    memcpy(v, r->p + r->off, 4);
    r->off += 4;
    return true;
}

/* Read the tensor called name with the expected element count into a new F32 array. */
static int vad_tensor(vrd *r, const char *name, int64_t want, float **out, bool *f16, err_buf *eb) {
    int32_t nd, nl, type;
    if (!vi32(r, &nd) || !vi32(r, &nl) || !vi32(r, &type) || nd < 0 || nd > 4 || nl <= 0 ||
        nl > 200 || (type != GGUF_TYPE_F32 && type != GGUF_TYPE_F16))
        return err_set(eb, BASE_EFORMAT, "vad: bad tensor header before %s", name);
    int64_t n = 1;
    for (int i = 0; i < nd; i++) {
        int32_t v;
        if (!vi32(r, &v) || v <= 0 || v > (1 << 20))
            return err_set(eb, BASE_EFORMAT, "vad: bad shape of %s", name);
        n *= v;
    }
    if ((size_t)nl > r->len - r->off || strlen(name) != (size_t)nl ||
        memcmp(r->p + r->off, name, (size_t)nl) != 0)
        return err_set(eb, BASE_EFORMAT, "vad: expected tensor %s", name);
    r->off += (size_t)nl;
    if (n != want)
        return err_set(eb, BASE_EFORMAT, "vad: %s has %lld elements, expected %lld", name,
                       (long long)n, (long long)want);
    size_t bytes = (size_t)n * (type == GGUF_TYPE_F16 ? 2 : 4);
    if (bytes > r->len - r->off) return err_set(eb, BASE_EFORMAT, "vad: %s truncated", name);
    *out = mem_alloc((size_t)n * sizeof(float));
    if (!*out) return err_set(eb, BASE_ENOMEM, "vad: out of memory");
    for (int64_t i = 0; i < n; i++) {
        if (type == GGUF_TYPE_F16) {
            uint16_t h;
            memcpy(&h, r->p + r->off + 2 * i, 2);
            (*out)[i] = kern_f16_to_f32(h);
        } else {
            memcpy(&(*out)[i], r->p + r->off + 4 * i, 4);
        }
    }
    if (f16) *f16 = type == GGUF_TYPE_F16;
    r->off += bytes;
    return 0;
}

static int vad_parse(whisper_vad *v, vrd *r, err_buf *eb) {
    int32_t magic, len, hp[22];
    if (!vi32(r, &magic) || (uint32_t)magic != 0x67676d6cu)
        return err_set(eb, BASE_EFORMAT, "vad: not a ggml file (bad magic)");
    if (!vi32(r, &len) || len <= 0 || len > 64 || (size_t)len > r->len - r->off)
        return err_set(eb, BASE_EFORMAT, "vad: bad model type");
    if (len != 10 || memcmp(r->p + r->off, "silero-16k", 10) != 0)
        return err_set(eb, BASE_EUNSUPPORTED, "vad: model type '%.*s' is not silero-16k", len,
                       (const char *)r->p + r->off);
    r->off += (size_t)len;
    for (int i = 0; i < 22; i++)
        if (!vi32(r, &hp[i])) return err_set(eb, BASE_EFORMAT, "vad: truncated header");
    /* hp: version x3, window, context, n_enc, (in, out, k) x n_enc, lstm in, hidden, final in, out
     */
    v->window = hp[3], v->context = hp[4];
    if (v->window != 512 || hp[5] != N_ENC)
        return err_set(eb, BASE_EUNSUPPORTED, "vad: window %d / %d layers (512 / 4 supported)",
                       hp[3], hp[5]);
    static const int strides[N_ENC] = {1, 2, 2, 1};
    for (int i = 0; i < N_ENC; i++) {
        vad_conv *c = &v->enc[i];
        c->in = hp[6 + 3 * i], c->out = hp[7 + 3 * i], c->k = hp[8 + 3 * i], c->stride = strides[i];
        if (c->in <= 0 || c->in > MAX_CH || c->out <= 0 || c->out > MAX_CH || c->k != 3 ||
            (i > 0 && c->in != v->enc[i - 1].out))
            return err_set(eb, BASE_EFORMAT, "vad: bad encoder layer %d", i);
    }
    v->hidden = hp[19];
    if (hp[18] != v->enc[N_ENC - 1].out || v->hidden <= 0 || v->hidden > MAX_CH ||
        hp[20] != v->hidden || hp[21] != 1)
        return err_set(eb, BASE_EFORMAT, "vad: bad LSTM / output sizes");
    v->n_bins = v->enc[0].in;
    v->n_taps = 2 * (v->n_bins - 1);
    char name[64];
    int rc = 0;
    for (int i = 0; i < N_ENC && !rc; i++) {
        vad_conv *c = &v->enc[i];
        snprintf(name, sizeof name, "_model.encoder.%d.reparam_conv.weight", i);
        rc = vad_tensor(r, name, (int64_t)c->out * c->in * c->k, &c->w, &c->f16, eb);
        snprintf(name, sizeof name, "_model.encoder.%d.reparam_conv.bias", i);
        if (!rc) rc = vad_tensor(r, name, c->out, &c->b, NULL, eb);
    }
    int64_t H = v->hidden, G = 4 * H, in = v->enc[N_ENC - 1].out;
    if (!rc) rc = vad_tensor(r, "_model.decoder.rnn.weight_ih", G * in, &v->w_ih, NULL, eb);
    if (!rc) rc = vad_tensor(r, "_model.decoder.rnn.weight_hh", G * H, &v->w_hh, NULL, eb);
    if (!rc) rc = vad_tensor(r, "_model.decoder.rnn.bias_ih", G, &v->b_ih, NULL, eb);
    if (!rc) rc = vad_tensor(r, "_model.decoder.rnn.bias_hh", G, &v->b_hh, NULL, eb);
    if (!rc) rc = vad_tensor(r, "_model.decoder.decoder.2.weight", H, &v->out_w, &v->out_f16, eb);
    float *ob = NULL;
    if (!rc) rc = vad_tensor(r, "_model.decoder.decoder.2.bias", 1, &ob, NULL, eb);
    if (ob) v->out_b = ob[0];
    mem_free(ob);
    vad_conv *s = &v->stft;
    s->in = 1, s->out = 2 * v->n_bins, s->k = v->n_taps, s->stride = v->n_taps / 2;
    if (!rc)
        rc = vad_tensor(r, "_model.stft.forward_basis_buffer", (int64_t)s->out * s->k, &s->w,
                        &s->f16, eb);
    return rc;
}

int whisper_vad_load(whisper_vad **out, const char *path, err_buf *eb) {
    *out = NULL;
    char *data;
    size_t len;
    int rc = file_read_all(path, &data, &len, eb);
    if (rc) return rc;
    whisper_vad *v = mem_calloc(1, sizeof *v);
    if (!v) {
        mem_free(data);
        return err_set(eb, BASE_ENOMEM, "vad: out of memory");
    }
    vrd r = {(const uint8_t *)data, len, 0};
    rc = vad_parse(v, &r, eb);
    mem_free(data);
    if (rc) {
        whisper_vad_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

void whisper_vad_free(whisper_vad *v) {
    if (!v) return;
    for (int i = 0; i < N_ENC; i++) mem_free(v->enc[i].w), mem_free(v->enc[i].b);
    mem_free(v->stft.w);
    mem_free(v->w_ih), mem_free(v->w_hh), mem_free(v->b_ih), mem_free(v->b_hh);
    mem_free(v->out_w);
    mem_free(v);
}

static float f16r(float x) { return kern_f16_to_f32(kern_f32_to_f16(x)); }

/* y (out, n_out) = conv1d(x (in, n_in)) with padding pad; inputs rounded to F16 when the weight
 * is F16 (ggml's im2col). Returns n_out. */
static int conv1d(const vad_conv *c, const float *x, int n_in, int pad, float *y, float *tmp) {
    int n_out = (n_in + 2 * pad - c->k) / c->stride + 1;
    for (int t = 0; t < n_out; t++) {
        /* the receptive field of output t, laid out (in, k) like the weight rows */
        for (int i = 0; i < c->in; i++)
            for (int k = 0; k < c->k; k++) {
                int src = t * c->stride + k - pad;
                float v = src >= 0 && src < n_in ? x[(size_t)i * n_in + src] : 0.0f;
                tmp[(size_t)i * c->k + k] = c->f16 ? f16r(v) : v;
            }
        for (int o = 0; o < c->out; o++)
            y[(size_t)o * n_out + t] =
                kern_dot_f32(c->w + (size_t)o * c->in * c->k, tmp, (int64_t)c->in * c->k) +
                (c->b ? c->b[o] : 0);
    }
    return n_out;
}

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

int whisper_vad_probs(const whisper_vad *v, const float *pcm, size_t n, float **probs, int *n_probs,
                      err_buf *eb) {
    *probs = NULL, *n_probs = 0;
    size_t nw = (n + (size_t)v->window - 1) / (size_t)v->window;
    if (nw > (size_t)1 << 30) return err_set(eb, BASE_EINVAL, "vad: audio too long");
    int pad = v->n_taps / 4, H = v->hidden, W = v->window, L = W + 2 * pad;
    int frames = (L - v->n_taps) / v->stft.stride + 1;
    size_t big = (size_t)MAX_CH * (size_t)(frames + 2) * 2;
    float *p = mem_alloc((nw ? nw : 1) * sizeof(float));
    float *x = mem_alloc((size_t)L * sizeof(float)), *a = mem_alloc(big * sizeof(float));
    float *b = mem_alloc(big * sizeof(float)),
          *tmp = mem_alloc((size_t)MAX_CH * 256 * sizeof(float));
    float *h = mem_calloc((size_t)H, sizeof(float)), *c = mem_calloc((size_t)H, sizeof(float));
    float *g = mem_alloc((size_t)4 * H * sizeof(float));
    int rc = 0;
    if (!p || !x || !a || !b || !tmp || !h || !c || !g) {
        rc = err_set(eb, BASE_ENOMEM, "vad: out of memory");
        goto done;
    }
    for (size_t w = 0; w < nw; w++) {
        /* the window, zero-padded at the end, then reflected by pad on both sides */
        size_t s0 = w * (size_t)W;
        for (int i = 0; i < W; i++) {
            float smp = s0 + (size_t)i < n ? pcm[s0 + (size_t)i] : 0.0f;
            x[pad + i] = isfinite(smp) ? smp : 0.0f;
        }
        for (int i = 0; i < pad; i++)
            x[pad - 1 - i] = x[pad + 1 + i], x[pad + W + i] = x[pad + W - 2 - i];
        int nf = conv1d(&v->stft, x, L, 0, a, tmp);
        for (int k = 0; k < v->n_bins; k++)
            for (int f = 0; f < nf; f++) {
                float re = a[(size_t)k * nf + f], im = a[(size_t)(k + v->n_bins) * nf + f];
                b[(size_t)k * nf + f] = sqrtf(re * re + im * im);
            }
        float *cur = b, *nxt = a;
        for (int l = 0; l < N_ENC; l++) {
            nf = conv1d(&v->enc[l], cur, nf, 1, nxt, tmp);
            for (size_t i = 0; i < (size_t)v->enc[l].out * nf; i++)
                nxt[i] = nxt[i] > 0 ? nxt[i] : 0;
            float *t = cur;
            cur = nxt, nxt = t;
        }
        /* LSTM cell on the last frame (the encoder leaves one), gates i, f, g, o. */
        int in = v->enc[N_ENC - 1].out;
        for (int j = 0; j < in; j++) tmp[j] = cur[(size_t)j * nf + nf - 1];
        for (int r = 0; r < 4 * H; r++)
            g[r] = kern_dot_f32(v->w_ih + (size_t)r * in, tmp, in) + v->b_ih[r] +
                   kern_dot_f32(v->w_hh + (size_t)r * H, h, H) + v->b_hh[r];
        float out = v->out_b;
        for (int j = 0; j < H; j++) {
            float ig = sigm(g[j]), fg = sigm(g[H + j]), gg = tanhf(g[2 * H + j]),
                  og = sigm(g[3 * H + j]);
            c[j] = fg * c[j] + ig * gg;
            h[j] = og * tanhf(c[j]);
            float r = h[j] > 0 ? h[j] : 0;
            out += v->out_w[j] * (v->out_f16 ? f16r(r) : r);
        }
        p[w] = sigm(out);
    }
    *probs = p, *n_probs = (int)nw;
    p = NULL;
done:
    mem_free(p), mem_free(x), mem_free(a), mem_free(b), mem_free(tmp);
    mem_free(h), mem_free(c), mem_free(g);
    return rc;
}
