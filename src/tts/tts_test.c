/* tts: sentence splitting, the voice list, and espeak-ng speaking. */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "tts.h"

static size_t first(const char *s) { return tts_sentence_end(s, strlen(s)); }

TEST(tts_sentence_split) {
    ASSERT_EQ_INT(first("Hello there. How are you?"), 12);
    ASSERT_EQ_INT(first("It costs 3.5 euros. Fine."), 19);
    ASSERT_EQ_INT(first("Really?! Yes."), 8);
    ASSERT_EQ_INT(first("He said \"stop.\" Then left."), 15);
    ASSERT_EQ_INT(first("no end"), 6);
    ASSERT_EQ_INT(first("para one\n\npara two"), 10);
    ASSERT_EQ_INT(first("\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82\xe5\x86\x8d\xe8\xa7\x81"), 9);
}

TEST(tts_voices_list) {
    tts_voice *v;
    int n;
    err_buf eb = {0};
    ASSERT_OK(tts_voices(&v, &n, &eb), &eb);
    ASSERT_CMP_INT(n, >=, 100); /* espeak-ng-data has over a hundred languages */
    bool en = false, de = false;
    for (int i = 0; i < n; i++) {
        en |= !strcmp(v[i].id, "en-us");
        de |= !strcmp(v[i].id, "de");
        if (i) ASSERT_CMP_INT(strcmp(v[i - 1].id, v[i].id), <, 0); /* sorted, unique */
    }
    ASSERT_TRUE(en && de);
    tts_voices_free(v, n);
    ASSERT_TRUE(tts_voice_exists("en-us"));
    ASSERT_TRUE(tts_voice_exists("nova"));
    ASSERT_TRUE(tts_voice_exists("fr+f2"));
    ASSERT_FALSE(tts_voice_exists("xx-nosuch"));
}

typedef struct got {
    int calls;
    size_t samples;
} got;

static int on_pcm(const int16_t *pcm, size_t n, void *ud) {
    got *g = ud;
    g->calls++;
    g->samples += n;
    return 0;
}

static int stop_now(const int16_t *pcm, size_t n, void *ud) { return 1; }

TEST(tts_speaks_sentence_by_sentence) {
    tts_params p = tts_default_params();
    got g = {0};
    err_buf eb = {0};
    ASSERT_OK(tts_synthesize(&p, "The cat sat on the mat. It was happy! Was it?", on_pcm, &g, &eb),
              &eb);
    ASSERT_EQ_INT(g.calls, 3);
    ASSERT_EQ_INT(tts_sample_rate(), 22050);
    double secs = (double)g.samples / tts_sample_rate();
    ASSERT_TRUE(secs > 1.5 && secs < 6);
    /* Twice the speed: about half as long. */
    got fast = {0};
    p.speed = 2.0f;
    ASSERT_OK(
        tts_synthesize(&p, "The cat sat on the mat. It was happy! Was it?", on_pcm, &fast, &eb),
        &eb);
    ASSERT_TRUE(fast.samples < g.samples * 0.7);
    p.speed = 1.0f;
    ASSERT_EQ_INT(tts_synthesize(&p, "One. Two.", stop_now, NULL, &eb), BASE_ECANCELED);
}

TEST(tts_errors) {
    tts_params p = tts_default_params();
    err_buf eb = {0};
    ASSERT_EQ_INT(tts_synthesize(&p, "  \n", on_pcm, NULL, &eb), BASE_EINVAL);
    ASSERT_CONTAINS(eb.msg, "empty");
    p.voice = "xx-nosuch";
    ASSERT_EQ_INT(tts_synthesize(&p, "Hello.", on_pcm, NULL, &eb), BASE_ENOTFOUND);
    ASSERT_CONTAINS(eb.msg, "xx-nosuch");
    p.voice = NULL;
    p.speed = 9;
    ASSERT_EQ_INT(tts_synthesize(&p, "Hello.", on_pcm, NULL, &eb), BASE_EINVAL);
    ASSERT_CONTAINS(eb.msg, "speed");
}
