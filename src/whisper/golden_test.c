/*
 * whisper.cpp's goldens (shared/golden/whisper, see its README): the mel spectrogram, the
 * encoder output and the decoder logits of a random-weight model on jfk.wav, within the
 * MANIFEST's tolerances. Greedy tokens and segments are in decode_golden_test.c.
 */
#include <stdio.h>

#include "wh_testutil.h"
#include "whisper/whisper_int.h"

#define GOLD "golden/whisper/"
#define MEL_NRMSE 3.2e-6
#define MEL_MAXABS 1e-4
#define ENC_NRMSE 1.8e-3
#define ENC_MAXABS 0.012
#define LOGIT_NRMSE 7.6e-3
#define LOGIT_MAXABS 0.069

static whisper_model *load_s64(void) {
    char *p = wt_path(GOLD "whisper-s64-f16.bin");
    whisper_model *m;
    err_buf eb = {0};
    ASSERT_OK(whisper_model_load(&m, p, &eb), &eb);
    free(p);
    return m;
}

/* The clip's mel; checks it against the golden's stored frames and the floor after them. */
static float *mel_checked(whisper_model *m, size_t n_samples, const char *ref, int ref_frames,
                          int *n_frames) {
    size_t n, nr;
    float *pcm = wt_wav("testdata/whisper/jfk.wav", &n);
    ASSERT_TRUE(n >= n_samples);
    float *mel;
    int org;
    err_buf eb = {0};
    ASSERT_OK(whisper_mel(m, pcm, n_samples, 2, &mel, n_frames, &org, &eb), &eb);
    ASSERT_EQ_INT(*n_frames, (int)(n_samples / 160) + 3000);
    ASSERT_EQ_INT(org, 1 + ((int)n_samples + 200 - 400) / 160);
    float *want = wt_f32(ref, &nr);
    ASSERT_EQ_INT(nr, 80 * (size_t)ref_frames);
    float *got = mem_alloc(nr * sizeof(float));
    for (int k = 0; k < 80; k++)
        memcpy(got + (size_t)k * ref_frames, mel + (size_t)k * *n_frames,
               ref_frames * sizeof(float));
    wt_err e = wt_compare(got, want, nr);
    printf("mel %s: nrmse %.3g maxabs %.3g\n", ref, e.nrmse, e.maxabs);
    ASSERT_TRUE(e.nrmse <= MEL_NRMSE);
    ASSERT_TRUE(e.maxabs <= MEL_MAXABS);
    for (int k = 0; k < 80; k++)
        for (int f = ref_frames; f < 3000; f++)
            ASSERT_NEAR(mel[(size_t)k * *n_frames + f], -0.538742f, 1e-4);
    mem_free(got);
    mem_free(want);
    mem_free(pcm);
    return mel;
}

TEST(whisper_golden_mel) {
    whisper_model *m = load_s64();
    int nf;
    mem_free(mel_checked(m, 176000, GOLD "jfk.mel.f32", 1200, &nf));
    mem_free(mel_checked(m, 48000, GOLD "jfk-0.0s-3.0s.mel.f32", 400, &nf));
    whisper_model_free(m);
}

static void check_enc(whisper_state *s, const char *ref) {
    size_t nr;
    float *want = wt_f32(ref, &nr);
    ASSERT_EQ_INT(nr, 1500 * 64);
    wt_err e = wt_compare(whisper_encoder_output(s), want, nr);
    printf("encoder %s: nrmse %.3g maxabs %.3g\n", ref, e.nrmse, e.maxabs);
    ASSERT_TRUE(e.nrmse <= ENC_NRMSE);
    ASSERT_TRUE(e.maxabs <= ENC_MAXABS);
    mem_free(want);
}

/* Teacher forcing: the prompt, then whisper.cpp's sampled tokens one by one; each logits row
 * within the bounds. */
static void check_logits(whisper_model *m, whisper_state *s, const int *prompt, int np,
                         const char *tokens_file, const char *ref, int rows) {
    size_t nr;
    float *want = wt_f32(ref, &nr);
    int V = m->hp.n_vocab;
    ASSERT_EQ_INT(nr, (size_t)rows * V);
    char *tp = wt_path(tokens_file), *txt;
    size_t tl;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(tp, &txt, &tl, &eb), &eb);
    free(tp);
    float *logits = mem_alloc((size_t)V * sizeof(float));
    ASSERT_OK(whisper_decode(s, 0, prompt, np, 0, logits, &eb), &eb);
    char *cur = txt;
    for (int r = 0; r < rows; r++) {
        if (r > 0) {
            int tok = (int)strtol(cur, &cur, 10);
            ASSERT_OK(whisper_decode(s, 0, &tok, 1, np + r - 1, logits, &eb), &eb);
        }
        wt_err e = wt_compare(logits, want + (size_t)r * V, V);
        printf("logits %s row %d: nrmse %.3g maxabs %.3g\n", ref, r, e.nrmse, e.maxabs);
        ASSERT_TRUE(e.nrmse <= LOGIT_NRMSE);
        ASSERT_TRUE(e.maxabs <= LOGIT_MAXABS);
    }
    mem_free(logits);
    mem_free(txt);
    mem_free(want);
}

static void run_clip(size_t n_samples, const char *mel_ref, int mel_frames, const char *enc_ref,
                     const char *nt_tokens, const char *nt_logits, int nt_rows,
                     const char *ts_tokens, const char *ts_logits, int ts_rows) {
    whisper_model *m = load_s64();
    int nf;
    float *mel = mel_checked(m, n_samples, mel_ref, mel_frames, &nf);
    whisper_state *s;
    err_buf eb = {0};
    ASSERT_OK(whisper_state_new(&s, m, 2, 1, &eb), &eb);
    ASSERT_OK(whisper_encode(s, mel, nf, 0, &eb), &eb);
    check_enc(s, enc_ref);
    const int nt[] = {50258, 50259, 50359, 50363};
    check_logits(m, s, nt, 4, nt_tokens, nt_logits, nt_rows);
    if (ts_logits) check_logits(m, s, nt, 3, ts_tokens, ts_logits, ts_rows);
    whisper_state_free(s);
    mem_free(mel);
    whisper_model_free(m);
}

TEST(whisper_golden_jfk) {
    run_clip(176000, GOLD "jfk.mel.f32", 1200, GOLD "s64.jfk.enc.f32", GOLD "s64.jfk.nt.tokens.txt",
             GOLD "s64.jfk.nt.logits.f32", 4, GOLD "s64.jfk.ts.tokens.txt",
             GOLD "s64.jfk.ts.logits.f32", 2);
}

TEST(whisper_golden_jfk_3s) {
    run_clip(48000, GOLD "jfk-0.0s-3.0s.mel.f32", 400, GOLD "s64.jfk-0.0s-3.0s.enc.f32",
             GOLD "s64.jfk-0.0s-3.0s.nt.tokens.txt", GOLD "s64.jfk-0.0s-3.0s.nt.logits.f32", 2,
             NULL, NULL, 0);
}
