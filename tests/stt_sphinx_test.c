/*
 * pocketsphinx on real speech: the LibriVox and card clips from pocketsphinx's own test data
 * and whisper.cpp's jfk.wav, decoded through src/audio like an upload. Each clip's word error
 * rate is printed; the bounds are what we measured (bench/RESULTS.md) plus some slack, so a
 * regression in decoding, resampling or segmentation shows up.
 */
#include <stdio.h>
#include <string.h>

#include "audio/audio.h"
#include "sphinx/sphinx.h"
#include "test.h"
#include "stt/stt.h"

static sphinx_model *model(void) {
    if (!sphinx_available()) TEST_SKIP("pocketsphinx-en-us is not installed");
    sphinx_model *m;
    err_buf eb = {0};
    ASSERT_OK(sphinx_model_load(&m, NULL, &eb), &eb);
    return m;
}

/* Decode a shared file and transcribe it; returns the text (static) and its WER vs ref. */
static double run(sphinx_model *m, const char *rel, const char *ref, stt_result *r) {
    char *data;
    size_t len;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(test_shared_file(rel), &data, &len, &eb), &eb);
    float *pcm;
    size_t n;
    ASSERT_OK(audio_decode(data, len, &pcm, &n, &eb), &eb);
    mem_free(data);
    stt_opts o;
    stt_opts_init(&o);
    o.word_timestamps = 1;
    ASSERT_OK(sphinx_transcribe(m, pcm, n, &o, NULL, NULL, r, &eb), &eb);
    mem_free(pcm);
    double w = stt_wer(ref, r->text);
    printf("  %-60s WER %5.1f%%  \"%s\"\n", rel, 100 * w, r->text);
    return w;
}

static const char *ref_text(const char *rel, char *out, size_t cap) {
    char *data;
    size_t len;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(test_shared_file(rel), &data, &len, &eb), &eb);
    snprintf(out, cap, "%s", data);
    mem_free(data);
    return out;
}

TEST(stt_sphinx_librivox) {
    static const char *clips[] = {"0870", "0880", "0890", "0920", "0930"};
    sphinx_model *m = model();
    int errs = 0, words = 0;
    for (int i = 0; i < 5; i++) {
        char wav[160], txt[160], ref[512];
        snprintf(wav, sizeof wav,
                 "testdata/audio/librivox/sense_and_sensibility_01_austen_64kb-%s.wav", clips[i]);
        snprintf(txt, sizeof txt,
                 "testdata/audio/librivox/sense_and_sensibility_01_austen_64kb-%s.txt", clips[i]);
        stt_result r;
        run(m, wav, ref_text(txt, ref, sizeof ref), &r);
        int e, w;
        stt_wer_count(ref, r.text, &e, &w);
        errs += e, words += w;
        /* Segments are in order, inside the clip, and their words inside them. */
        ASSERT_CMP_INT(r.n_segs, >=, 1);
        for (int s = 0; s < r.n_segs; s++) {
            const stt_segment *g = &r.segs[s];
            ASSERT_TRUE(g->start >= 0 && g->start < g->end && g->end <= r.duration + 0.05);
            if (s) ASSERT_TRUE(g->start >= r.segs[s - 1].end - 0.01);
            ASSERT_CMP_INT(g->n_words, >=, 1);
            for (int k = 0; k < g->n_words; k++)
                ASSERT_TRUE(g->words[k].start >= g->start - 0.01 &&
                            g->words[k].end <= g->end + 0.01);
        }
        ASSERT_EQ_STR(r.language, "en");
        stt_result_free(&r);
    }
    printf("  librivox total: %d errors / %d words = %.1f%%\n", errs, words, 100.0 * errs / words);
    ASSERT_CMP_INT(100 * errs, <=, 32 * words); /* bound: 32% (measured: see bench/RESULTS.md) */
    sphinx_model_free(m);
}

TEST(stt_sphinx_jfk) {
    sphinx_model *m = model();
    stt_result r;
    double w = run(m, "testdata/whisper/jfk.wav",
                   "And so my fellow Americans, ask not what your country can do for you, ask "
                   "what you can do for your country.",
                   &r);
    ASSERT_NEAR(r.duration, 11.0, 0.01);
    ASSERT_TRUE(w <= 0.30); /* bound: 30% (measured: see bench/RESULTS.md) */
    stt_result_free(&r);
    sphinx_model_free(m);
}

TEST(stt_sphinx_cards) {
    /* Card names read out: a grammar task, here decoded with the general language model. */
    static const char *refs[] = {"ten of clubs", "four queen of clubs", "seven of clubs",
                                 "five five", "eight of spades four of clubs seven of hearts"};
    sphinx_model *m = model();
    int errs = 0, words = 0;
    for (int i = 0; i < 5; i++) {
        char wav[64];
        snprintf(wav, sizeof wav, "testdata/audio/cards/%03d.wav", i + 1);
        stt_result r;
        run(m, wav, refs[i], &r);
        int e, n;
        stt_wer_count(refs[i], r.text, &e, &n);
        errs += e, words += n;
        stt_result_free(&r);
    }
    printf("  cards total: %d errors / %d words = %.1f%%\n", errs, words, 100.0 * errs / words);
    ASSERT_CMP_INT(100 * errs, <=, 15 * words); /* bound: 15% (measured: see bench/RESULTS.md) */
    sphinx_model_free(m);
}

static int cancel_first(const stt_segment *s, void *ud) {
    (*(int *)ud)++;
    return 1;
}

TEST(stt_sphinx_refuses_and_cancels) {
    sphinx_model *m = model();
    float silence[1600] = {0};
    stt_opts o;
    stt_opts_init(&o);
    o.language = "de";
    stt_result r;
    err_buf eb = {0};
    ASSERT_EQ_INT(sphinx_transcribe(m, silence, 1600, &o, NULL, NULL, &r, &eb), BASE_EUNSUPPORTED);
    ASSERT_CONTAINS(eb.msg, "English");
    o.language = "en";
    ASSERT_OK(sphinx_transcribe(m, silence, 1600, &o, NULL, NULL, &r, &eb), &eb);
    ASSERT_EQ_STR(r.text, ""); /* silence: no words */
    stt_result_free(&r);
    char *data;
    size_t len;
    ASSERT_OK(file_read_all(test_shared_file("testdata/whisper/jfk.wav"), &data, &len, &eb), &eb);
    float *pcm;
    size_t n;
    ASSERT_OK(audio_decode(data, len, &pcm, &n, &eb), &eb);
    int calls = 0;
    ASSERT_EQ_INT(sphinx_transcribe(m, pcm, n, &o, cancel_first, &calls, &r, &eb), BASE_ECANCELED);
    ASSERT_EQ_INT(calls, 1);
    mem_free(pcm);
    mem_free(data);
    sphinx_model_free(m);
}
