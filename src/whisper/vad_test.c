/* Silero VAD against whisper.cpp on jfk.wav: probabilities and speech segments. */
#include <stdio.h>

#include "wh_testutil.h"

TEST(whisper_vad_golden) {
    char *mp = wt_path("testdata/whisper/for-tests-silero-v6.2.0-ggml.bin");
    whisper_vad *v;
    err_buf eb = {0};
    ASSERT_OK(whisper_vad_load(&v, mp, &eb), &eb);
    free(mp);
    size_t n, nr;
    float *pcm = wt_wav("testdata/whisper/jfk.wav", &n);
    float *want = wt_f32("golden/whisper/jfk.silero-v6.2.0.probs.f32", &nr);
    float *probs;
    int np;
    ASSERT_OK(whisper_vad_probs(v, pcm, n, &probs, &np, &eb), &eb);
    ASSERT_EQ_INT(np, 344);
    ASSERT_EQ_INT(nr, 344);
    wt_err e = wt_compare(probs, want, nr);
    printf("vad probs: nrmse %.3g maxabs %.3g\n", e.nrmse, e.maxabs);
    ASSERT_TRUE(e.maxabs <= 2e-3);
    whisper_vad_params p = whisper_vad_default_params();
    whisper_vad_segment *segs;
    int ns;
    ASSERT_OK(whisper_vad_segments(v, pcm, n, &p, &segs, &ns, &eb), &eb);
    static const double ref[4][2] = {{0.32, 2.27}, {3.27, 4.41}, {5.38, 7.68}, {8.16, 10.62}};
    for (int i = 0; i < ns; i++) printf("segment %.2f %.2f\n", segs[i].start, segs[i].end);
    ASSERT_EQ_INT(ns, 4);
    for (int i = 0; i < 4; i++) {
        ASSERT_NEAR(segs[i].start, ref[i][0], 1e-9);
        ASSERT_NEAR(segs[i].end, ref[i][1], 1e-9);
    }
    mem_free(segs);
    mem_free(probs);
    mem_free(want);
    mem_free(pcm);
    whisper_vad_free(v);
}
