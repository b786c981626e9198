/*
 * End to end: the audio endpoints of `local-ai run`. Real speech (jfk.wav, a LibriVox clip)
 * uploaded as wav, mp3 (made with our encoder) and webm/opus (made with the ffmpeg CLI, as a
 * browser's MediaRecorder would send it) is transcribed by pocketsphinx within a word error
 * rate bound; espeak-ng speaks five sentences in every format, each decodes to the expected
 * length, and the wav transcribes back. Every error is a 400 (or 404) naming the problem.
 */
#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_util.h"
#include "audio/audio.h"
#include "stt/stt.h"

#define ASSERT_STATUS(r, want)                                                                     \
    do {                                                                                           \
        if ((r).status != (want))                                                                  \
            test_fail(__FILE__, __LINE__, "status %ld, wanted %d: %.300s", (r).status, (want),     \
                      (r).body.data ? (r).body.data : "");                                         \
    } while (0)

static const char jfk_ref[] = "And so my fellow Americans, ask not what your country can do for "
                              "you, ask what you can do for your country.";

/* POST a multipart form: fields are name, value pairs (NULL-terminated); the file part is
 * data[0..len) named filename (data NULL: no file part). */
static void post_form(api_server *s, const char *path, const char *const *fields, const void *data,
                      size_t len, const char *filename, api_resp *r) {
    memset(r, 0, sizeof *r);
    char url[512];
    snprintf(url, sizeof url, "%s%s", s->base, path);
    CURL *c = curl_easy_init();
    curl_mime *m = curl_mime_init(c);
    for (int i = 0; fields && fields[i]; i += 2) {
        curl_mimepart *p = curl_mime_addpart(m);
        curl_mime_name(p, fields[i]);
        curl_mime_data(p, fields[i + 1], CURL_ZERO_TERMINATED);
    }
    if (data) {
        curl_mimepart *p = curl_mime_addpart(m);
        curl_mime_name(p, "file");
        curl_mime_data(p, data, len);
        curl_mime_filename(p, filename);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, m);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, NULL);
    FILE *body = open_memstream(&r->body.data, &r->body.len);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    CURLcode rc = curl_easy_perform(c);
    fclose(body);
    if (rc != CURLE_OK) test_fail(__FILE__, __LINE__, "POST %s: %s", path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_mime_free(m);
    curl_easy_cleanup(c);
    /* open_memstream's buffer came from malloc: move it into a buf of ours. */
    char *raw = r->body.data;
    size_t n = r->body.len;
    memset(&r->body, 0, sizeof r->body);
    buf_append(&r->body, raw ? raw : "", n);
    free(raw);
    if (r->body.data) r->json = json_loads(r->body.data, 0, NULL);
}

static char *read_shared(const char *rel, size_t *len) {
    char *d;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(test_shared_file(rel), &d, len, &eb), &eb);
    return d;
}

/* Transcribe data as filename and return the WER of the json text against ref. */
static double transcribe(api_server *s, const void *data, size_t len, const char *filename,
                         const char *ref) {
    api_resp r;
    const char *f[] = {"model", "whisper-1", NULL};
    post_form(s, "/v1/audio/transcriptions", f, data, len, filename, &r);
    if (r.status != 200)
        test_fail(__FILE__, __LINE__, "%s: %ld %s", filename, r.status, r.body.data);
    const char *text = api_jstr(r.json, "text");
    ASSERT_NOT_NULL(text);
    double w = stt_wer(ref, text);
    printf("  %-10s WER %5.1f%%  \"%s\"\n", filename, 100 * w, text);
    api_resp_free(&r);
    return w;
}

TEST(api_audio_transcribe_wav_mp3_webm) {
    api_server s;
    api_server_start(&s, NULL);
    size_t len;
    char *wav = read_shared("testdata/whisper/jfk.wav", &len);
    ASSERT_TRUE(transcribe(&s, wav, len, "jfk.wav", jfk_ref) <= 0.30);
    /* mp3 from our own encoder. */
    float *pcm;
    size_t n;
    err_buf eb = {0};
    ASSERT_OK(audio_decode(wav, len, &pcm, &n, &eb), &eb);
    int16_t *s16 = mem_alloc(n * sizeof *s16);
    for (size_t i = 0; i < n; i++) s16[i] = (int16_t)(pcm[i] * 32767);
    audio_enc_params p = audio_enc_default_params(AUDIO_FMT_MP3, 16000);
    p.bitrate = 64000;
    buf mp3 = {0};
    ASSERT_OK(audio_encode(&p, s16, n, &mp3, &eb), &eb);
    ASSERT_TRUE(transcribe(&s, mp3.data, mp3.len, "jfk.mp3", jfk_ref) <= 0.35);
    buf_free(&mp3);
    mem_free(s16);
    mem_free(pcm);
    /* webm/opus from the ffmpeg CLI, as browsers record it. */
    char webm[PATH_MAX];
    snprintf(webm, sizeof webm, "%s/jfk.webm", test_tmpdir());
    char *argv[] = {"/usr/bin/ffmpeg",
                    "-v",
                    "error",
                    "-y",
                    "-i",
                    (char *)test_shared_file("testdata/whisper/jfk.wav"),
                    "-c:a",
                    "libopus",
                    "-b:a",
                    "48k",
                    webm,
                    NULL};
    char *out = NULL, *err = NULL;
    int st = test_run(argv, NULL, &out, &err);
    if (st != 0) test_fail(__FILE__, __LINE__, "ffmpeg failed: %s", err ? err : "");
    free(out);
    free(err);
    char *wb;
    size_t wl;
    ASSERT_OK(file_read_all(webm, &wb, &wl, &eb), &eb);
    ASSERT_EQ_INT(memcmp(wb, "\x1a\x45\xdf\xa3", 4), 0); /* EBML: a real webm */
    ASSERT_TRUE(transcribe(&s, wb, wl, "jfk.webm", jfk_ref) <= 0.45);
    mem_free(wb);
    mem_free(wav);
    /* A LibriVox clip. */
    char *lv =
        read_shared("testdata/audio/librivox/sense_and_sensibility_01_austen_64kb-0930.wav", &len);
    size_t rl;
    char *ref =
        read_shared("testdata/audio/librivox/sense_and_sensibility_01_austen_64kb-0930.txt", &rl);
    ASSERT_TRUE(transcribe(&s, lv, len, "0930.wav", ref) <= 0.30);
    mem_free(lv);
    mem_free(ref);
    api_server_stop(&s);
}

TEST(api_audio_response_formats) {
    api_server s;
    api_server_start(&s, NULL);
    size_t len;
    char *wav = read_shared("testdata/whisper/jfk.wav", &len);
    api_resp r;
    const char *text[] = {"model", "pocketsphinx", "response_format", "text", NULL};
    post_form(&s, "/audio/transcriptions", text, wav, len, "a.wav", &r); /* LocalAI's path */
    ASSERT_STATUS(r, 200);
    ASSERT_CONTAINS(r.body.data, "your country");
    ASSERT_EQ_INT(r.body.data[r.body.len - 1], '\n');
    api_resp_free(&r);
    const char *srt[] = {"model", "whisper-1", "response_format", "srt", NULL};
    post_form(&s, "/v1/audio/transcriptions", srt, wav, len, "a.wav", &r);
    ASSERT_STATUS(r, 200);
    ASSERT_EQ_INT(strncmp(r.body.data, "1\n00:00:0", 9), 0);
    ASSERT_CONTAINS(r.body.data, " --> ");
    ASSERT_CONTAINS(r.body.data, ",");
    api_resp_free(&r);
    const char *vtt[] = {"model", "whisper-1", "response_format", "vtt", NULL};
    post_form(&s, "/v1/audio/transcriptions", vtt, wav, len, "a.wav", &r);
    ASSERT_EQ_INT(strncmp(r.body.data, "WEBVTT\n\n00:00:0", 15), 0);
    api_resp_free(&r);
    const char *vj[] = {"model",
                        "whisper-1",
                        "response_format",
                        "verbose_json",
                        "timestamp_granularities[]",
                        "word",
                        "timestamp_granularities[]",
                        "segment",
                        NULL};
    post_form(&s, "/v1/audio/transcriptions", vj, wav, len, "a.wav", &r);
    ASSERT_STATUS(r, 200);
    ASSERT_EQ_STR(api_jstr(r.json, "task"), "transcribe");
    ASSERT_EQ_STR(api_jstr(r.json, "language"), "english");
    ASSERT_NEAR(json_real_value(api_jget(r.json, "duration")), 11.0, 0.01);
    json_t *segs = api_jget(r.json, "segments"), *words = api_jget(r.json, "words");
    ASSERT_CMP_INT(json_array_size(segs), >=, 2);
    ASSERT_TRUE(json_is_array(api_jget(segs, "0.tokens")));
    ASSERT_TRUE(json_is_number(api_jget(segs, "0.avg_logprob")));
    ASSERT_CMP_INT(json_array_size(words), >=, 15);
    double prev = 0;
    for (size_t i = 0; i < json_array_size(words); i++) {
        double st = json_real_value(api_jget(words, "0.start"));
        json_t *w = json_array_get(words, i);
        st = json_real_value(json_object_get(w, "start"));
        ASSERT_TRUE(st >= prev && st < json_real_value(json_object_get(w, "end")));
        prev = st;
    }
    api_resp_free(&r);
    /* Translation: English in, English out; the task says so. */
    const char *tr[] = {"model", "whisper-1", "response_format", "verbose_json", NULL};
    post_form(&s, "/v1/audio/translations", tr, wav, len, "a.wav", &r);
    ASSERT_STATUS(r, 200);
    ASSERT_EQ_STR(api_jstr(r.json, "task"), "translate");
    ASSERT_NULL(api_jget(r.json, "words"));
    api_resp_free(&r);
    mem_free(wav);
    api_server_stop(&s);
}

TEST(api_audio_transcribe_stream) {
    api_server s;
    api_server_start(&s, NULL);
    size_t len;
    char *wav = read_shared("testdata/whisper/jfk.wav", &len);
    api_resp r;
    const char *f[] = {"model", "whisper-1", "stream", "true", NULL};
    post_form(&s, "/v1/audio/transcriptions", f, wav, len, "a.wav", &r);
    ASSERT_STATUS(r, 200);
    json_t *ev = api_sse_events(r.body.data);
    size_t n = json_array_size(ev);
    ASSERT_CMP_INT(n, >=, 3); /* jfk.wav has pauses: several segments, then done */
    buf joined = {0};
    for (size_t i = 0; i + 1 < n; i++) {
        ASSERT_EQ_STR(api_jstr(json_array_get(ev, i), "type"), "transcript.text.delta");
        buf_append_str(&joined, api_jstr(json_array_get(ev, i), "delta"));
    }
    json_t *done = json_array_get(ev, n - 1);
    ASSERT_EQ_STR(api_jstr(done, "type"), "transcript.text.done");
    ASSERT_EQ_STR(api_jstr(done, "text"), joined.data);
    ASSERT_TRUE(stt_wer(jfk_ref, joined.data) <= 0.30);
    buf_free(&joined);
    json_decref(ev);
    api_resp_free(&r);
    mem_free(wav);
    api_server_stop(&s);
}

static void expect_error(api_resp *r, long status, const char *param, const char *text) {
    if (r->status != status)
        test_fail(__FILE__, __LINE__, "status %ld, wanted %ld: %s", r->status, status,
                  r->body.data);
    ASSERT_NOT_NULL(r->json);
    if (param) ASSERT_EQ_STR(api_jstr(r->json, "error.param"), param);
    ASSERT_CONTAINS(api_jstr(r->json, "error.message"), text);
    api_resp_free(r);
}

TEST(api_audio_transcribe_errors) {
    api_server s;
    api_server_start(&s, NULL);
    size_t len;
    char *wav = read_shared("testdata/whisper/jfk.wav", &len);
    api_resp r;
    const char *m[] = {"model", "whisper-1", NULL};
    const char junk[] = "this is plain text, not audio at all........................";
    post_form(&s, "/v1/audio/transcriptions", m, junk, sizeof junk - 1, "a.wav", &r);
    expect_error(&r, 400, "file", "could not be decoded");
    post_form(&s, "/v1/audio/transcriptions", m, wav, 30, "cut.wav", &r); /* part of a header */
    expect_error(&r, 400, "file", "decoded");
    post_form(&s, "/v1/audio/transcriptions", m, NULL, 0, NULL, &r);
    expect_error(&r, 400, "file", "'file'");
    const char *bad_fmt[] = {"model", "whisper-1", "response_format", "docx", NULL};
    post_form(&s, "/v1/audio/transcriptions", bad_fmt, wav, len, "a.wav", &r);
    expect_error(&r, 400, "response_format", "docx");
    const char *bad_t[] = {"model", "whisper-1", "temperature", "7", NULL};
    post_form(&s, "/v1/audio/transcriptions", bad_t, wav, len, "a.wav", &r);
    expect_error(&r, 400, "temperature", "temperature");
    const char *words_json[] = {"model", "whisper-1", "timestamp_granularities[]", "word", NULL};
    post_form(&s, "/v1/audio/transcriptions", words_json, wav, len, "a.wav", &r);
    expect_error(&r, 400, "timestamp_granularities[]", "verbose_json");
    const char *nope[] = {"model", "nope", NULL};
    post_form(&s, "/v1/audio/transcriptions", nope, wav, len, "a.wav", &r);
    expect_error(&r, 404, "model", "nope");
    const char *llm[] = {"model", "tiny", NULL};
    post_form(&s, "/v1/audio/transcriptions", llm, wav, len, "a.wav", &r);
    expect_error(&r, 400, "model", "cannot transcribe");
    const char *de[] = {"model", "pocketsphinx", "language", "de", NULL};
    post_form(&s, "/v1/audio/transcriptions", de, wav, len, "a.wav", &r);
    expect_error(&r, 400, NULL, "English");
    api_http(&s, "POST", "/v1/audio/transcriptions", "{\"file\": \"x\"}", NULL, &r);
    expect_error(&r, 400, NULL, "multipart/form-data");
    /* A speech model where a chat model belongs. */
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"whisper-1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
             NULL, &r);
    expect_error(&r, 400, "model", "speech model");
    mem_free(wav);
    api_server_stop(&s);
}

static const char five[] = "The weather is nice today. I would like a cup of coffee. Please open "
                           "the door. We are going to the store. Thank you very much.";

TEST(api_audio_speech_every_format) {
    api_server s;
    api_server_start(&s, NULL);
    static const char *fmts[] = {"wav", "mp3", "opus", "flac", "pcm"};
    static const char *mimes[] = {"audio/wav", "audio/mpeg", "audio/ogg", "audio/flac",
                                  "audio/pcm"};
    for (int i = 0; i < 5; i++) {
        char body[512];
        snprintf(
            body, sizeof body,
            "{\"model\":\"tts-1\",\"input\":\"%s\",\"voice\":\"alloy\",\"response_format\":\"%s\"}",
            five, fmts[i]);
        api_resp r;
        api_http(&s, "POST", "/v1/audio/speech", body, NULL, &r);
        ASSERT_STATUS(r, 200);
        ASSERT_CONTAINS(r.headers.data, mimes[i]);
        /* Five sentences are streamed as they are spoken (chunked). */
        ASSERT_CONTAINS(r.headers.data, "chunked");
        double secs;
        if (!strcmp(fmts[i], "pcm")) {
            secs = (double)r.body.len / 2 / 24000; /* OpenAI's pcm: 24 kHz s16le */
        } else {
            float *pcm;
            size_t n;
            err_buf eb = {0};
            ASSERT_OK(audio_decode(r.body.data, r.body.len, &pcm, &n, &eb), &eb);
            secs = (double)n / 16000;
            if (!strcmp(fmts[i], "wav")) {
                /* The wav back through speech to text. */
                api_resp t;
                const char *f[] = {"model", "whisper-1", NULL};
                post_form(&s, "/v1/audio/transcriptions", f, r.body.data, r.body.len, "tts.wav",
                          &t);
                ASSERT_STATUS(t, 200);
                double w = stt_wer(five, api_jstr(t.json, "text"));
                printf("  round trip WER %.1f%%: \"%s\"\n", 100 * w, api_jstr(t.json, "text"));
                ASSERT_TRUE(w <= 0.40);
                api_resp_free(&t);
            }
            mem_free(pcm);
        }
        printf("  %-4s %7zu bytes, %.2f s\n", fmts[i], r.body.len, secs);
        ASSERT_TRUE(secs > 5 && secs < 12);
        api_resp_free(&r);
    }
    /* One sentence: a complete file, its RIFF size filled in. */
    api_resp r;
    api_http(&s, "POST", "/v1/audio/speech",
             "{\"model\":\"tts-1-hd\",\"input\":\"Hello "
             "there.\",\"response_format\":\"wav\",\"speed\":1.5}",
             NULL, &r);
    ASSERT_STATUS(r, 200);
    uint32_t riff;
    memcpy(&riff, r.body.data + 4, 4);
    ASSERT_EQ_UINT(riff, r.body.len - 8);
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(api_audio_speech_other_apis) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    api_http(&s, "POST", "/tts", "{\"input\":\"Hallo Welt.\",\"voice\":\"de\"}", NULL, &r);
    ASSERT_STATUS(r, 200);
    ASSERT_EQ_INT(memcmp(r.body.data, "RIFF", 4), 0);
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/text-to-speech/en-us?output_format=pcm_16000",
             "{\"text\":\"Hello world.\",\"model_id\":\"eleven_multilingual_v2\"}", NULL, &r);
    ASSERT_STATUS(r, 200);
    double secs = (double)r.body.len / 2 / 16000;
    ASSERT_TRUE(secs > 0.5 && secs < 3);
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/text-to-speech/fr/stream", "{\"text\":\"Bonjour. Merci beaucoup.\"}",
             NULL, &r);
    ASSERT_STATUS(r, 200);
    ASSERT_CONTAINS(r.headers.data, "audio/mpeg");
    ASSERT_CMP_INT(r.body.len, >, 2000);
    api_resp_free(&r);
    api_http(&s, "GET", "/v1/voices", NULL, NULL, &r);
    ASSERT_STATUS(r, 200);
    json_t *v = api_jget(r.json, "voices");
    ASSERT_CMP_INT(json_array_size(v), >=, 100);
    bool en = false;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!strcmp(api_jstr(json_array_get(v, i), "voice_id"), "en-us")) {
            en = true;
            ASSERT_EQ_STR(api_jstr(json_array_get(v, i), "labels.language"), "en-us");
        }
    ASSERT_TRUE(en);
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(api_audio_speech_errors) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    api_http(&s, "POST", "/v1/audio/speech", "{\"model\":\"tts-1\"}", NULL, &r);
    expect_error(&r, 400, "input", "input");
    api_http(&s, "POST", "/v1/audio/speech",
             "{\"model\":\"tts-1\",\"input\":\"Hi.\",\"response_format\":\"aac\"}", NULL, &r);
    expect_error(&r, 400, "response_format", "response_format");
    api_http(&s, "POST", "/v1/audio/speech",
             "{\"model\":\"tts-1\",\"input\":\"Hi.\",\"voice\":\"xx-nosuch\"}", NULL, &r);
    expect_error(&r, 400, "voice", "xx-nosuch");
    api_http(&s, "POST", "/v1/audio/speech", "{\"model\":\"tts-1\",\"input\":\"Hi.\",\"speed\":10}",
             NULL, &r);
    expect_error(&r, 400, "speed", "speed");
    api_http(&s, "POST", "/v1/audio/speech", "{\"model\":\"nope\",\"input\":\"Hi.\"}", NULL, &r);
    expect_error(&r, 404, "model", "nope");
    api_http(&s, "POST", "/v1/audio/speech", "{\"model\":\"tiny\",\"input\":\"Hi.\"}", NULL, &r);
    expect_error(&r, 400, "model", "cannot synthesize");
    api_http(&s, "POST", "/v1/audio/speech", "{\"input\":\"Hi.\"}", NULL, &r);
    expect_error(&r, 400, "model", "required");
    api_http(&s, "POST", "/v1/text-to-speech/en-us?output_format=ulaw_8000", "{\"text\":\"Hi.\"}",
             NULL, &r);
    expect_error(&r, 400, "output_format", "ulaw_8000");
    api_server_stop(&s);
}

TEST(api_audio_models) {
    /* A whisper.cpp ggml file in the models directory is listed; the test file has no
     * weights, so using it fails cleanly. */
    api_server s;
    api_server_start(&s, NULL);
    char src[PATH_MAX], dst[PATH_MAX + 64];
    if (!realpath(test_shared_file("testdata/whisper/for-tests-ggml-tiny.bin"), src))
        TEST_SKIP("no ggml file");
    snprintf(dst, sizeof dst, "%s/ggml-tiny.bin", test_tmpdir());
    ASSERT_EQ_INT(symlink(src, dst), 0);
    api_resp r;
    api_http(&s, "GET", "/v1/models", NULL, NULL, &r);
    ASSERT_STATUS(r, 200);
    const char *want[] = {"espeak", "ggml-tiny.bin", "pocketsphinx",
                          "tts-1",  "tts-1-hd",      "whisper-1"};
    json_t *data = api_jget(r.json, "data");
    for (size_t w = 0; w < sizeof want / sizeof *want; w++) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(data); i++)
            found |= !strcmp(api_jstr(json_array_get(data, i), "id"), want[w]);
        if (!found) test_fail(__FILE__, __LINE__, "/v1/models lacks %s: %s", want[w], r.body.data);
    }
    api_resp_free(&r);
    size_t len;
    char *wav = read_shared("testdata/whisper/jfk.wav", &len);
    const char *f[] = {"model", "ggml-tiny", NULL};
    post_form(&s, "/v1/audio/transcriptions", f, wav, len, "a.wav", &r);
    ASSERT_STATUS(r, 500);
    ASSERT_EQ_STR(api_jstr(r.json, "error.code"), "model_load_failed");
    api_resp_free(&r);
    mem_free(wav);
    api_server_stop(&s);
}

#include "speech/speech.h"
#include "whisper/whisper.h"

TEST(api_audio_whisper_dispatch) {
    /* A Whisper model in the models directory (random weights, tiny shape: the words are
     * nonsense) serves its own name and OpenAI's whisper-1, through the same endpoint and
     * formats; pocketsphinx stays available by name. */
    char vocab[PATH_MAX], path[PATH_MAX + 64];
    if (!realpath(test_shared_file("testdata/whisper/for-tests-ggml-tiny.en.bin"), vocab))
        TEST_SKIP("no vocab");
    api_server s;
    api_server_start(&s, NULL);
    snprintf(path, sizeof path, "%s/ggml-random.en.bin", test_tmpdir());
    whisper_hparams hp = {.n_vocab = 51864,
                          .n_audio_ctx = 1500,
                          .n_audio_state = 64,
                          .n_audio_head = 2,
                          .n_audio_layer = 1,
                          .n_text_ctx = 448,
                          .n_text_state = 64,
                          .n_text_head = 2,
                          .n_text_layer = 1,
                          .n_mels = 80,
                          .ftype = 1};
    err_buf eb = {0};
    ASSERT_OK(whisper_write_random_model(path, &hp, 1, 42, vocab, &eb), &eb);
    ASSERT_TRUE(speech_file_is_whisper(path));
    /* With the Silero VAD beside it (loaded with the model, used by default). */
    char vad[PATH_MAX], vdst[PATH_MAX + 64];
    if (realpath(test_shared_file("testdata/whisper/for-tests-silero-v6.2.0-ggml.bin"), vad)) {
        snprintf(vdst, sizeof vdst, "%s/ggml-silero-v6.2.0.bin", test_tmpdir());
        ASSERT_EQ_INT(symlink(vad, vdst), 0);
        ASSERT_FALSE(speech_file_is_whisper(vdst)); /* not listed as a model */
    }
    size_t len;
    char *wav =
        read_shared("testdata/audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav", &len);
    const char *names[] = {"ggml-random.en", "whisper-1"};
    for (int i = 0; i < 2; i++) {
        api_resp r;
        const char *f[] = {"model", names[i], "response_format", "verbose_json", "temperature",
                           "0",     NULL};
        post_form(&s, "/v1/audio/transcriptions", f, wav, len, "a.wav", &r);
        ASSERT_STATUS(r, 200);
        ASSERT_NEAR(json_real_value(api_jget(r.json, "duration")), 2.99, 0.01);
        ASSERT_TRUE(json_is_string(api_jget(r.json, "text")));
        ASSERT_TRUE(json_is_array(api_jget(r.json, "segments")));
        printf("  %s: %zu segment(s), \"%.60s\"\n", names[i],
               json_array_size(api_jget(r.json, "segments")), api_jstr(r.json, "text"));
        /* Whisper's segments carry token ids (pocketsphinx's are empty). */
        json_t *seg0 = api_jget(r.json, "segments.0");
        if (seg0) ASSERT_CMP_INT(json_array_size(json_object_get(seg0, "tokens")), >, 0);
        api_resp_free(&r);
        char line[1024];
        if (i == 0)
            ASSERT_EQ_INT(test_wait_line(s.fd, "uses voice activity detection", 5000, line, sizeof line), 0);
    }
    api_resp r;
    const char *f[] = {"model", "pocketsphinx", NULL};
    post_form(&s, "/v1/audio/transcriptions", f, wav, len, "a.wav", &r);
    ASSERT_STATUS(r, 200);
    ASSERT_CONTAINS(api_jstr(r.json, "text"), "young man");
    api_resp_free(&r);
    api_http(&s, "GET", "/v1/models", NULL, NULL, &r);
    ASSERT_TRUE(strstr(r.body.data, "ggml-random.en.bin") && !strstr(r.body.data, "silero"));
    api_resp_free(&r);
    mem_free(wav);
    api_server_stop(&s);
}

TEST(api_audio_shutdown_mid_transcription) {
    /* SIGTERM while a transcription runs: the server waits for the job (which sees its
     * stream canceled) before freeing the models, and exits cleanly. */
    api_server s;
    api_server_start(&s, NULL);
    size_t len;
    char *wav = read_shared("testdata/whisper/jfk.wav", &len);
    pid_t kid = fork();
    ASSERT_TRUE(kid >= 0);
    if (kid == 0) {
        /* The reply is cut short by the shutdown: what the client says does not matter. */
        if (!freopen("/dev/null", "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(0);
        api_resp r;
        const char *f[] = {"model", "whisper-1", NULL};
        post_form(&s, "/v1/audio/transcriptions", f, wav, len, "a.wav", &r);
        _exit(0);
    }
    usleep(700 * 1000);  /* the upload is in and the job has started */
    api_server_stop(&s); /* fails the test unless the exit is clean */
    int st;
    waitpid(kid, &st, 0);
    mem_free(wav);
}
