/*
 * whisper: real-time factor of Whisper on random-weight models with the shapes of whisper tiny
 * (384 wide, 4 + 4 layers, 6 heads) and base (512, 6 + 6, 8), written at run time to /tmp by
 * whisper_write_random_model (F16 matrices, as ggml-tiny.bin / ggml-base.bin).
 *
 * Random weights decode garbage of random length, so the real-time factor is measured on a
 * fixed amount of work: the mel of the clip, one encoder window, a 4-token prompt and 64
 * decoded tokens (about what 11 s of speech takes), divided by the clip's duration. Each part
 * is timed too, and whisper_transcribe's own wall time on the clip (greedy, no fallback) is shown
 * with the tokens it happened to decode.
 *
 *   build/bench/whisper                    tiny and base, 1 and 2 threads (what `make bench` runs)
 *   build/bench/whisper base 2 [f16|q8_0|q5_0]
 *
 * Audio: ../shared/testdata/whisper/jfk.wav (11 s) when present, else 11 s of a synthetic signal.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gguf/gguf.h"
#include "whisper/whisper.h"

#define N_DECODE 64

typedef struct size_def {
    const char *name;
    int state, heads, layers;
} size_def;

static const size_def sizes[] = {{"tiny", 384, 6, 4}, {"base", 512, 8, 6}};

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static float *load_audio(size_t *n) {
    const char *root = getenv("LOCALAI_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/testdata/whisper/jfk.wav", root && *root ? root : "../shared");
    char *d;
    size_t len;
    err_buf eb = {0};
    if (file_read_all(path, &d, &len, &eb) == 0 && len > 44) {
        *n = (len - 44) / 2;
        float *p = malloc(*n * sizeof(float));
        for (size_t i = 0; i < *n; i++) {
            int16_t v;
            memcpy(&v, d + 44 + 2 * i, 2);
            p[i] = v / 32768.0f;
        }
        mem_free(d);
        return p;
    }
    *n = 11 * 16000;
    float *p = malloc(*n * sizeof(float));
    for (size_t i = 0; i < *n; i++) p[i] = 0.3f * sinf((float)i * 0.05f) * sinf((float)i * 0.0003f);
    return p;
}

static int run(const size_def *s, int type, const char *tname, int threads, const float *pcm,
               size_t n) {
    char path[256], vocab[1024];
    const char *root = getenv("LOCALAI_SHARED");
    snprintf(vocab, sizeof vocab, "%s/testdata/whisper/for-tests-ggml-tiny.bin",
             root && *root ? root : "../shared");
    FILE *vf = fopen(vocab, "rb");
    if (vf) fclose(vf);
    snprintf(path, sizeof path, "/tmp/whisper-bench-%s-%s.bin", s->name, tname);
    whisper_hparams hp = {51865,    1500,     s->state,  s->heads, s->layers, 448,
                          s->state, s->heads, s->layers, 80,       type};
    err_buf eb = {0};
    FILE *have = fopen(path, "rb");
    if (have) fclose(have);
    if (!have && whisper_write_random_model(path, &hp, type, 1, vf ? vocab : NULL, &eb)) {
        fprintf(stderr, "write: %s\n", err_msg(&eb));
        return 1;
    }
    whisper_model *m;
    whisper_state *st;
    double t0 = now();
    if (whisper_model_load(&m, path, &eb) || whisper_state_new(&st, m, threads, 1, &eb)) {
        fprintf(stderr, "load: %s\n", err_msg(&eb));
        return 1;
    }
    double t_load = now() - t0;
    float *mel, *logits = malloc(51865 * sizeof(float));
    int nf, org;
    t0 = now();
    whisper_mel(m, pcm, n, threads, &mel, &nf, &org, &eb);
    double t_mel = now() - t0;
    t0 = now();
    double c0 = cpu();
    whisper_encode(st, mel, nf, 0, &eb);
    double t_enc = now() - t0, c_enc = cpu() - c0;
    const int prompt[] = {50258, 50259, 50359, 50363};
    t0 = now();
    whisper_decode(st, 0, prompt, 4, 0, logits, &eb);
    for (int i = 0; i < N_DECODE; i++) {
        int tok = 220 + i * 97 % 50000;
        whisper_decode(st, 0, &tok, 1, 4 + i, logits, &eb);
    }
    double t_dec = now() - t0, c_all = cpu() - c0;
    double audio = (double)n / 16000;
    double rtf = (t_mel + t_enc + t_dec) / audio;

    stt_opts o;
    stt_opts_init(&o);
    o.language = "en", o.no_fallback = 1, o.use_vad = 0, o.threads = threads;
    stt_result r;
    t0 = now();
    int rc = whisper_transcribe(m, pcm, n, &o, NULL, NULL, &r, &eb);
    double t_full = now() - t0;
    int ntok = 0;
    for (int i = 0; !rc && i < r.n_segs; i++) ntok += r.segs[i].n_tokens;
    if (!rc) stt_result_free(&r);
    /* The machine may be shared: CPU share = CPU time / (wall time x threads) while encoding
     * and decoding; well under 100% means other processes had our cores. */
    printf("| %s | %s | %d | %.3f | %.0f | %.0f (cpu %.0f) | %.1f | **%.3f** | %.0f%% | %.2f s (%d "
           "tokens) |\n",
           s->name, tname, threads, t_load, t_mel * 1000, t_enc * 1000, c_enc * 1000,
           t_dec * 1000 / (N_DECODE + 1), rtf, 100 * c_all / ((t_enc + t_dec) * threads), t_full,
           ntok);
    fflush(stdout);
    free(logits);
    mem_free(mel);
    whisper_state_free(st);
    whisper_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    size_t n;
    float *pcm = load_audio(&n);
    int type = GGUF_TYPE_F16;
    const char *tname = "f16";
    if (argc > 3) {
        tname = argv[3];
        type = !strcmp(tname, "q8_0")   ? GGUF_TYPE_Q8_0
               : !strcmp(tname, "q5_0") ? GGUF_TYPE_Q5_0
                                        : GGUF_TYPE_F16;
    }
    printf("audio %.2f s; RTF = (mel + encode + 4-token prompt + %d tokens) / audio\n\n",
           (double)n / 16000, N_DECODE);
    printf("| model | type | threads | load s | mel ms | encode ms (CPU ms) | ms/token | RTF | "
           "CPU share | whisper_transcribe |\n|---|---|---|---|---|---|---|---|---|---|\n");
    int rc = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (argc > 1 && strcmp(argv[1], sizes[i].name)) continue;
        for (int t = 1; t <= 2; t++) {
            if (argc > 2 && atoi(argv[2]) != t) continue;
            rc |= run(&sizes[i], type, tname, t, pcm, n);
        }
    }
    free(pcm);
    return rc;
}
