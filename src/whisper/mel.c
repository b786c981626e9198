/*
 * The log-mel front end, computed as whisper.cpp does so that the encoder sees the same input:
 * 200 samples of reflection in front, 30 s of zeros behind, periodic Hann window of 400, hop
 * 160, power spectrum from a mixed-radix FFT in float (radix 2 down to a 25-point DFT), mel
 * energies summed in double, log10, clamp at the global maximum - 8, then (x + 4) / 4.
 */
#include <math.h>
#include <string.h>

#include "whisper_int.h"

#define NFFT WHISPER_N_FFT
#define PAD (NFFT / 2)
#define NBINS (NFFT / 2 + 1)

typedef struct mel_run {
    const whisper_model *m;
    const float *pcm;
    size_t n;   /* samples of audio */
    int n_len;  /* frames */
    float *mel; /* (n_mels, n_len) */
    float hann[NFFT], cos_t[NFFT], sin_t[NFFT];
} mel_run;

/* Sample i of the padded signal: reflection in front, audio, then zeros. */
static float padded(const mel_run *r, int64_t i) {
    int64_t j = i - PAD;
    if (j < 0) j = -j; /* x[200] .. x[1]: sample 0 is not repeated */
    float v = j < (int64_t)r->n ? r->pcm[j] : 0.0f;
    return isfinite(v) ? v : 0.0f; /* audio comes from outside: NaN or Inf reads as silence */
}

/* out: n complex values (re, im interleaved) of the DFT of the n reals in. */
static void fft(const mel_run *r, const float *in, int n, float *out) {
    if (n == 1) {
        out[0] = in[0], out[1] = 0;
        return;
    }
    int step = NFFT / n;
    if (n % 2) {
        for (int k = 0; k < n; k++) {
            float re = 0, im = 0;
            for (int j = 0; j < n; j++) {
                int idx = (k * j % n) * step;
                re += in[j] * r->cos_t[idx];
                im -= in[j] * r->sin_t[idx];
            }
            out[2 * k] = re, out[2 * k + 1] = im;
        }
        return;
    }
    int h = n / 2;
    float even[NFFT / 2] = {0}, odd[NFFT / 2] = {0}, fe[NFFT], fo[NFFT];
    for (int i = 0; i < h; i++) even[i] = in[2 * i], odd[i] = in[2 * i + 1];
    fft(r, even, h, fe);
    fft(r, odd, h, fo);
    for (int k = 0; k < h; k++) {
        float c = r->cos_t[k * step], s = -r->sin_t[k * step];
        float re = c * fo[2 * k] - s * fo[2 * k + 1], im = c * fo[2 * k + 1] + s * fo[2 * k];
        out[2 * k] = fe[2 * k] + re, out[2 * k + 1] = fe[2 * k + 1] + im;
        out[2 * (k + h)] = fe[2 * k] - re, out[2 * (k + h) + 1] = fe[2 * k + 1] - im;
    }
}

static void mel_frames(void *ctx, int ith, int nth) {
    mel_run *r = ctx;
    const whisper_model *m = r->m;
    int nm = m->hp.n_mels;
    /* Frames that start past the audio see only zeros: their energy is 0. */
    int64_t last = ((int64_t)r->n + PAD) / WHISPER_HOP + 1;
    float in[NFFT], out[2 * NFFT], pw[NBINS];
    int f0 = (int)((int64_t)r->n_len * ith / nth), f1 = (int)((int64_t)r->n_len * (ith + 1) / nth);
    for (int f = f0; f < f1; f++) {
        if (f > last) {
            for (int k = 0; k < nm; k++) r->mel[(size_t)k * r->n_len + f] = -10.0f;
            continue;
        }
        for (int j = 0; j < NFFT; j++) in[j] = r->hann[j] * padded(r, (int64_t)f * WHISPER_HOP + j);
        fft(r, in, NFFT, out);
        for (int k = 0; k < NBINS; k++)
            pw[k] = out[2 * k] * out[2 * k] + out[2 * k + 1] * out[2 * k + 1];
        for (int k = 0; k < nm; k++) {
            const float *flt = m->filters + (size_t)k * NBINS;
            double sum = 0;
            for (int b = 0; b < NBINS; b++) sum += pw[b] * flt[b];
            r->mel[(size_t)k * r->n_len + f] = (float)log10(sum > 1e-10 ? sum : 1e-10);
        }
    }
}

int wh_mel_pool(const whisper_model *m, const float *pcm, size_t n, tpool *pool, float **mel_out,
                int *n_frames, int *n_frames_audio, err_buf *eb) {
    *mel_out = NULL;
    if (n > (size_t)1 << 34) return err_set(eb, BASE_EINVAL, "whisper: audio too long");
    mel_run *r = mem_calloc(1, sizeof *r);
    if (!r) return err_set(eb, BASE_ENOMEM, "whisper: out of memory");
    r->m = m, r->pcm = pcm, r->n = n;
    r->n_len = (int)(n / WHISPER_HOP) + WHISPER_WINDOW_FRAMES;
    size_t cnt;
    if (!size_mul((size_t)r->n_len, (size_t)m->hp.n_mels, &cnt) ||
        !(r->mel = mem_alloc(cnt * sizeof(float)))) {
        mem_free(r);
        return err_set(eb, BASE_ENOMEM, "whisper: out of memory for the mel spectrogram");
    }
    for (int i = 0; i < NFFT; i++) {
        double a = 2.0 * M_PI * i / NFFT;
        r->hann[i] = (float)(0.5 * (1.0 - cos(a)));
        r->cos_t[i] = (float)cos(a), r->sin_t[i] = (float)sin(a);
    }
    tpool_run(pool, mel_frames, r);
    float mx = -1e20f;
    for (size_t i = 0; i < cnt; i++) mx = r->mel[i] > mx ? r->mel[i] : mx;
    double floor = (double)mx - 8.0;
    for (size_t i = 0; i < cnt; i++) {
        double v = r->mel[i] < floor ? floor : r->mel[i];
        r->mel[i] = (float)((v + 4.0) / 4.0);
    }
    *mel_out = r->mel;
    *n_frames = r->n_len;
    int64_t org = 1 + ((int64_t)n + PAD - NFFT) / WHISPER_HOP;
    *n_frames_audio = org > 0 ? (int)org : 0;
    mem_free(r);
    return 0;
}

int whisper_mel(const whisper_model *m, const float *pcm, size_t n, int threads, float **mel_out,
                int *n_frames, int *n_frames_audio, err_buf *eb) {
    tpool *pool = threads > 1 ? tpool_new(threads) : NULL;
    int rc = wh_mel_pool(m, pcm, n, pool, mel_out, n_frames, n_frames_audio, eb);
    tpool_free(pool);
    return rc;
}
