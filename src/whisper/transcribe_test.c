/*
 * whisper_transcribe end to end on the random s64 model: the golden segments through the
 * public API, VAD, language detection, beam search, fallback, long audio in several windows,
 * word times, cancellation, and concurrent calls on one model.
 */
#include <pthread.h>
#include <stdio.h>

#include "wh_testutil.h"
#include "whisper/whisper_int.h"

static whisper_model *load(void) {
    char *p = wt_path("golden/whisper/whisper-s64-f16.bin");
    whisper_model *m;
    err_buf eb = {0};
    ASSERT_OK(whisper_model_load(&m, p, &eb), &eb);
    free(p);
    return m;
}

static void opts_greedy(stt_opts *o) {
    stt_opts_init(o);
    o->language = "en";
    o->no_fallback = 1;
    o->use_vad = 0;
    o->threads = 2;
}

typedef struct counter {
    int n, stop_at;
    double last_end;
} counter;

static int count_seg(const stt_segment *s, void *ud) {
    counter *c = ud;
    c->n++;
    ASSERT_TRUE(s->start <= s->end);
    c->last_end = s->end;
    return c->stop_at && c->n >= c->stop_at;
}

static void check_result(const stt_result *r) {
    ASSERT_NOT_NULL(r->text);
    ASSERT_NOT_NULL(r->language);
    for (int i = 0; i < r->n_segs; i++) {
        const stt_segment *s = &r->segs[i];
        ASSERT_EQ_INT(s->id, i);
        ASSERT_TRUE(s->start >= 0 && s->start <= s->end && s->end <= r->duration + 1e-9);
        ASSERT_NOT_NULL(s->text);
        ASSERT_TRUE(s->n_tokens > 0);
    }
}

TEST(whisper_transcribe_golden_ts) {
    whisper_model *m = load();
    size_t n;
    float *pcm = wt_wav("testdata/whisper/jfk.wav", &n);
    stt_opts o;
    opts_greedy(&o);
    stt_result r;
    counter c = {0};
    err_buf eb = {0};
    ASSERT_OK(whisper_transcribe(m, pcm, n, &o, count_seg, &c, &r, &eb), &eb);
    check_result(&r);
    ASSERT_EQ_INT(r.n_segs, 3);
    ASSERT_EQ_INT(c.n, 3);
    ASSERT_EQ_STR(r.language, "en");
    ASSERT_NEAR(r.duration, 11.0, 1e-9);
    static const double t[3][2] = {{0.88, 2.20}, {2.20, 2.20}, {2.20, 7.34}};
    for (int i = 0; i < 3; i++) {
        ASSERT_NEAR(r.segs[i].start, t[i][0], 1e-9);
        ASSERT_NEAR(r.segs[i].end, t[i][1], 1e-9);
    }
    ASSERT_EQ_STR(r.segs[0].text, "affaff");
    ASSERT_EQ_INT(r.segs[0].n_tokens, 3);
    ASSERT_EQ_INT(r.segs[0].tokens[2], 50474);
    ASSERT_TRUE(r.segs[0].avg_logprob < 0);
    stt_result_free(&r);

    /* no timestamps: one segment of the whole window, starting at 0 */
    o.no_timestamps = 1;
    ASSERT_OK(whisper_transcribe(m, pcm, n, &o, NULL, NULL, &r, &eb), &eb);
    check_result(&r);
    ASSERT_EQ_INT(r.n_segs, 1);
    ASSERT_NEAR(r.segs[0].start, 0, 1e-9);
    ASSERT_EQ_INT(r.segs[0].n_tokens, 220);
    ASSERT_TRUE(r.segs[0].compression_ratio > 2.4f); /* a repetition loop */
    stt_result_free(&r);
    mem_free(pcm);
    whisper_model_free(m);
}

TEST(whisper_transcribe_vad) {
    whisper_model *m = load();
    char *vp = wt_path("testdata/whisper/for-tests-silero-v6.2.0-ggml.bin");
    whisper_vad *v;
    err_buf eb = {0};
    ASSERT_OK(whisper_vad_load(&v, vp, &eb), &eb);
    free(vp);
    whisper_model_set_vad(m, v);
    size_t n;
    float *pcm = wt_wav("testdata/whisper/jfk.wav", &n);
    stt_opts o;
    opts_greedy(&o);
    o.use_vad = 1;
    stt_result r;
    ASSERT_OK(whisper_transcribe(m, pcm, n, &o, NULL, NULL, &r, &eb), &eb);
    check_result(&r);
    ASSERT_TRUE(r.n_segs >= 1);
    stt_result_free(&r);
    /* silence only: VAD finds nothing, no segments */
    float *zero = mem_calloc(16000 * 3, sizeof(float));
    ASSERT_OK(whisper_transcribe(m, zero, 16000 * 3, &o, NULL, NULL, &r, &eb), &eb);
    ASSERT_EQ_INT(r.n_segs, 0);
    ASSERT_EQ_STR(r.text, "");
    stt_result_free(&r);
    mem_free(zero);
    whisper_model_free(m);
    whisper_vad_free(v);
    mem_free(pcm);
}

TEST(whisper_transcribe_language_beam_words) {
    whisper_model *m = load();
    size_t n;
    float *pcm = wt_wav("testdata/whisper/jfk.wav", &n);
    stt_opts o;
    opts_greedy(&o);
    o.language = NULL;
    o.beam_size = 3;
    o.word_timestamps = 1;
    stt_result r;
    err_buf eb = {0};
    ASSERT_OK(whisper_transcribe(m, pcm, 48000, &o, NULL, NULL, &r, &eb), &eb);
    check_result(&r);
    ASSERT_TRUE(whisper_lang_id(r.language) >= 0);
    for (int i = 0; i < r.n_segs; i++)
        for (int w = 0; w < r.segs[i].n_words; w++) {
            const stt_word *wd = &r.segs[i].words[w];
            ASSERT_TRUE(wd->start >= r.segs[i].start - 1e-9 && wd->end <= r.segs[i].end + 1e-9);
            ASSERT_TRUE(wd->text[0] != 0);
        }
    stt_result_free(&r);

    /* language probabilities from the encoded window */
    whisper_state *s;
    ASSERT_OK(whisper_state_new(&s, m, 1, 1, &eb), &eb);
    float *mel;
    int nf, org;
    ASSERT_OK(whisper_mel(m, pcm, 48000, 1, &mel, &nf, &org, &eb), &eb);
    ASSERT_OK(whisper_encode(s, mel, nf, 0, &eb), &eb);
    float probs[100];
    int best = whisper_detect_language(s, probs, &eb);
    ASSERT_TRUE(best >= 0 && best < 99);
    double sum = 0;
    for (int i = 0; i < 99; i++) {
        sum += probs[i];
        ASSERT_TRUE(probs[i] <= probs[best]);
    }
    ASSERT_NEAR(sum, 1.0, 1e-4);
    ASSERT_EQ_STR(whisper_lang_code(0), "en");
    ASSERT_EQ_INT(whisper_lang_id("de"), 2);
    ASSERT_EQ_INT(whisper_lang_id("xx"), -1);
    mem_free(mel);
    whisper_state_free(s);

    o.language = "xx";
    ASSERT_EQ_INT(whisper_transcribe(m, pcm, 48000, &o, NULL, NULL, &r, &eb), BASE_EINVAL);
    mem_free(pcm);
    whisper_model_free(m);
}

TEST(whisper_transcribe_fallback) {
    whisper_model *m = load();
    size_t n;
    float *pcm = wt_wav("testdata/whisper/jfk.wav", &n);
    stt_opts o;
    opts_greedy(&o);
    o.no_fallback = 0;
    o.best_of = 2;
    o.prompt = " And so my fellow Americans";
    stt_result r;
    err_buf eb = {0};
    ASSERT_OK(whisper_transcribe(m, pcm, 48000, &o, NULL, NULL, &r, &eb), &eb);
    check_result(&r);
    /* random weights: the greedy window is improbable, so a higher temperature was tried */
    for (int i = 0; i < r.n_segs; i++)
        printf("segment %d at temperature %.1f\n", i, r.segs[i].temperature);
    ASSERT_TRUE(r.n_segs == 0 || r.segs[0].temperature > 0);
    stt_result_free(&r);
    mem_free(pcm);
    whisper_model_free(m);
}

TEST(whisper_transcribe_long_and_cancel) {
    whisper_model *m = load();
    size_t n;
    float *jfk = wt_wav("testdata/whisper/jfk.wav", &n);
    size_t total = 4 * n;
    float *pcm = mem_alloc(total * sizeof(float));
    for (int k = 0; k < 4; k++) memcpy(pcm + k * n, jfk, n * sizeof(float));
    stt_opts o;
    opts_greedy(&o);
    stt_result r;
    counter c = {0};
    err_buf eb = {0};
    ASSERT_OK(whisper_transcribe(m, pcm, total, &o, count_seg, &c, &r, &eb), &eb);
    check_result(&r);
    printf("%d segments, last ends at %.2f of %.2f s\n", r.n_segs, r.segs[r.n_segs - 1].end,
           r.duration);
    ASSERT_TRUE(r.segs[r.n_segs - 1].end > 30.0); /* more than one window */
    for (int i = 1; i < r.n_segs; i++) ASSERT_TRUE(r.segs[i].start >= r.segs[i - 1].start);
    int all = r.n_segs;
    stt_result_free(&r);
    ASSERT_TRUE(all >= 2);
    counter stop = {.stop_at = 1};
    ASSERT_EQ_INT(whisper_transcribe(m, pcm, total, &o, count_seg, &stop, &r, &eb), BASE_ECANCELED);
    ASSERT_EQ_INT(r.n_segs, 1);
    stt_result_free(&r);
    /* too short to decode (under 1 s): no segments, no error */
    ASSERT_OK(whisper_transcribe(m, pcm, 8000, &o, NULL, NULL, &r, &eb), &eb);
    ASSERT_EQ_INT(r.n_segs, 0);
    stt_result_free(&r);
    ASSERT_OK(whisper_transcribe(m, NULL, 0, &o, NULL, NULL, &r, &eb), &eb);
    stt_result_free(&r);
    mem_free(pcm);
    mem_free(jfk);
    whisper_model_free(m);
}

typedef struct job {
    whisper_model *m;
    const float *pcm;
    size_t n;
    char *text;
} job;

static void *worker(void *arg) {
    job *j = arg;
    stt_opts o;
    opts_greedy(&o);
    o.threads = 1;
    stt_result r;
    err_buf eb = {0};
    if (whisper_transcribe(j->m, j->pcm, j->n, &o, NULL, NULL, &r, &eb) == 0) {
        j->text = strdup(r.text);
        stt_result_free(&r);
    }
    return NULL;
}

TEST(whisper_transcribe_concurrent) {
    whisper_model *m = load();
    size_t n;
    float *pcm = wt_wav("testdata/whisper/jfk.wav", &n);
    job a = {m, pcm, n, NULL}, b = {m, pcm, n, NULL};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, worker, &a);
    pthread_create(&tb, NULL, worker, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ASSERT_NOT_NULL(a.text);
    ASSERT_NOT_NULL(b.text);
    ASSERT_EQ_STR(a.text, b.text);
    ASSERT_EQ_STR(a.text, "affaff\xe9\x96\x80\xe9\x96\x80\xe9\x96\x80\xe9\x96\x80");
    free(a.text), free(b.text);
    mem_free(pcm);
    whisper_model_free(m);
}

TEST(whisper_tokenize_prompt) {
    whisper_model *m = load();
    int tok[64];
    const char *text = " And so my fellow Americans, ask not";
    int n = wh_tokenize(m, text, tok, 64);
    ASSERT_TRUE(n > 3 && n < 20);
    buf b = {0};
    for (int i = 0; i < n; i++) {
        str_slice s = whisper_token_text(m, tok[i]);
        buf_append(&b, s.ptr, s.len);
    }
    ASSERT_EQ_STR(b.data, text);
    buf_free(&b);
    whisper_model_free(m);
}

/* A huge initial prompt costs no more than its end (only n_text_ctx / 2 tokens are used). */
TEST(whisper_transcribe_huge_prompt) {
    whisper_model *m = load();
    size_t n;
    float *pcm = wt_wav("testdata/whisper/jfk.wav", &n);
    size_t len = 1 << 20;
    char *prompt = mem_alloc(len + 1);
    for (size_t i = 0; i < len; i++) prompt[i] = "hello world "[i % 12];
    prompt[len] = 0;
    stt_opts o;
    opts_greedy(&o);
    o.prompt = prompt;
    stt_result r;
    err_buf eb = {0};
    ASSERT_OK(whisper_transcribe(m, pcm, 48000, &o, NULL, NULL, &r, &eb), &eb);
    check_result(&r);
    stt_result_free(&r);
    mem_free(prompt);
    mem_free(pcm);
    whisper_model_free(m);
}

/* NaN and Inf samples (hostile uploads) read as silence: no NaN in the output, no crash. */
TEST(whisper_transcribe_nonfinite_audio) {
    whisper_model *m = load();
    size_t n;
    float *pcm = wt_wav("testdata/whisper/jfk.wav", &n);
    for (size_t i = 0; i < 48000; i += 7) pcm[i] = i % 2 ? NAN : INFINITY;
    float *mel;
    int nf, org;
    err_buf eb = {0};
    ASSERT_OK(whisper_mel(m, pcm, 48000, 1, &mel, &nf, &org, &eb), &eb);
    for (size_t i = 0; i < (size_t)nf * 80; i++) ASSERT_TRUE(isfinite(mel[i]));
    mem_free(mel);
    stt_opts o;
    opts_greedy(&o);
    stt_result r;
    ASSERT_OK(whisper_transcribe(m, pcm, 48000, &o, NULL, NULL, &r, &eb), &eb);
    check_result(&r);
    stt_result_free(&r);
    mem_free(pcm);
    whisper_model_free(m);
}
