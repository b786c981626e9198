/* audio: every output format encodes and decodes back to the same tone and length; bad
 * input is refused with a message; streaming wav carries an unknown-length header. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "audio.h"
#include "test.h"

/* seconds of a 440 Hz tone at amplitude 0.5, 16-bit, at rate. */
static int16_t *tone(int rate, double seconds, size_t *n) {
    *n = (size_t)(rate * seconds);
    int16_t *p = mem_alloc(*n * sizeof *p);
    for (size_t i = 0; i < *n; i++)
        p[i] = (int16_t)(16383 * sin(2 * M_PI * 440 * (double)i / rate));
    return p;
}

static double rms(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0;
}

TEST(audio_format_names) {
    audio_format f;
    ASSERT_EQ_INT(audio_format_parse("mp3", &f), 0);
    ASSERT_EQ_INT(f, AUDIO_FMT_MP3);
    ASSERT_EQ_STR(audio_format_mime(AUDIO_FMT_OPUS), "audio/ogg");
    ASSERT_EQ_STR(audio_format_name(AUDIO_FMT_PCM), "pcm");
    ASSERT_EQ_INT(audio_format_parse("aac", &f), BASE_EINVAL);
    ASSERT_EQ_INT(audio_format_parse(NULL, &f), BASE_EINVAL);
}

TEST(audio_roundtrip_every_format) {
    size_t n;
    int16_t *pcm = tone(22050, 2.0, &n);
    for (int f = AUDIO_FMT_WAV; f <= AUDIO_FMT_FLAC; f++) {
        audio_enc_params p = audio_enc_default_params((audio_format)f, 22050);
        buf out = {0};
        err_buf eb = {0};
        ASSERT_OK(audio_encode(&p, pcm, n, &out, &eb), &eb);
        ASSERT_CMP_INT(out.len, >, 1000);
        float *dec;
        size_t m;
        ASSERT_OK(audio_decode(out.data, out.len, &dec, &m, &eb), &eb);
        /* 2 s at 16 kHz, give or take codec padding (mp3 and opus add some). */
        ASSERT_CMP_INT(m, >=, 31500);
        ASSERT_CMP_INT(m, <=, 34000);
        ASSERT_NEAR(rms(dec + 4000, 24000), 0.5 / sqrt(2), 0.05);
        printf("  %s: %zu bytes, %zu samples\n", audio_format_name((audio_format)f), out.len, m);
        mem_free(dec);
        buf_free(&out);
    }
    mem_free(pcm);
}

TEST(audio_wav_header_sizes) {
    size_t n;
    int16_t *pcm = tone(22050, 0.5, &n);
    audio_enc_params p = audio_enc_default_params(AUDIO_FMT_WAV, 22050);
    buf out = {0};
    err_buf eb = {0};
    ASSERT_OK(audio_encode(&p, pcm, n, &out, &eb), &eb);
    ASSERT_EQ_INT(memcmp(out.data, "RIFF", 4), 0);
    uint32_t riff;
    memcpy(&riff, out.data + 4, 4);
    ASSERT_EQ_UINT(riff, out.len - 8); /* a complete file: the size was patched in */
    buf_free(&out);
    mem_free(pcm);
}

static int collect(const void *d, size_t n, void *ud) { return buf_append(ud, d, n); }

TEST(audio_streaming_wav) {
    size_t n;
    int16_t *pcm = tone(22050, 1.0, &n);
    audio_enc_params p = audio_enc_default_params(AUDIO_FMT_WAV, 22050);
    p.streaming = true;
    buf out = {0};
    err_buf eb = {0};
    audio_enc *e;
    ASSERT_OK(audio_enc_new(&p, collect, &out, &e, &eb), &eb);
    ASSERT_CMP_INT(out.len, >=, 44); /* the header goes out at once */
    ASSERT_OK(audio_enc_write(e, pcm, n / 2, &eb), &eb);
    size_t half = out.len;
    ASSERT_CMP_INT(half, >=, 44 + n); /* what was written is out, not buffered */
    ASSERT_OK(audio_enc_write(e, pcm + n / 2, n - n / 2, &eb), &eb);
    ASSERT_OK(audio_enc_finish(e, &eb), &eb);
    audio_enc_free(e);
    uint32_t riff;
    memcpy(&riff, out.data + 4, 4);
    ASSERT_EQ_UINT(riff, 0xffffffffu); /* unknown length: it was a stream */
    float *dec;
    size_t m;
    ASSERT_OK(audio_decode(out.data, out.len, &dec, &m, &eb), &eb);
    ASSERT_NEAR((double)m, 16000, 50);
    mem_free(dec);
    buf_free(&out);
    mem_free(pcm);
}

TEST(audio_rates_for_elevenlabs_formats) {
    size_t n;
    int16_t *pcm = tone(22050, 1.0, &n);
    audio_enc_params p = audio_enc_default_params(AUDIO_FMT_PCM, 22050);
    p.out_rate = 16000;
    buf out = {0};
    err_buf eb = {0};
    ASSERT_OK(audio_encode(&p, pcm, n, &out, &eb), &eb);
    ASSERT_NEAR((double)out.len / 2, 16000, 64); /* raw s16le at 16 kHz */
    buf_free(&out);
    p = audio_enc_default_params(AUDIO_FMT_MP3, 22050);
    p.out_rate = 44100;
    p.bitrate = 128000;
    ASSERT_OK(audio_encode(&p, pcm, n, &out, &eb), &eb);
    ASSERT_NEAR((double)out.len, 16000, 2500); /* 128 kbit/s for 1 s */
    buf_free(&out);
    mem_free(pcm);
}

TEST(audio_decode_refuses_garbage) {
    err_buf eb = {0};
    float *pcm;
    size_t n;
    ASSERT_EQ_INT(audio_decode("", 0, &pcm, &n, &eb), BASE_EFORMAT);
    ASSERT_CONTAINS(eb.msg, "empty");
    char junk[4096];
    uint64_t s = 7;
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)test_rand_u32(&s);
    memset(&eb, 0, sizeof eb);
    ASSERT_EQ_INT(audio_decode(junk, sizeof junk, &pcm, &n, &eb), BASE_EFORMAT);
    ASSERT_CONTAINS(eb.msg, "not audio");
    ASSERT_NULL(pcm);
    const char text[] = "{\"hello\": \"this is JSON, not audio\"}";
    memset(&eb, 0, sizeof eb);
    ASSERT_EQ_INT(audio_decode(text, sizeof text - 1, &pcm, &n, &eb), BASE_EFORMAT);
}

TEST(audio_decode_truncated_and_mp3) {
    char *data;
    size_t len;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(test_shared_file("testdata/whisper/jfk.mp3"), &data, &len, &eb), &eb);
    float *pcm;
    size_t n;
    ASSERT_OK(audio_decode(data, len, &pcm, &n, &eb), &eb);
    ASSERT_NEAR((double)n / 16000, 11.0, 0.2);
    mem_free(pcm);
    /* Cut in the middle: what is there decodes. */
    ASSERT_OK(audio_decode(data, len / 2, &pcm, &n, &eb), &eb);
    ASSERT_NEAR((double)n / 16000, 5.5, 0.7);
    mem_free(pcm);
    /* Only the first bytes: an ID3 tag and nothing else. */
    int rc = audio_decode(data, 64, &pcm, &n, &eb);
    ASSERT_EQ_INT(rc, BASE_EFORMAT);
    mem_free(data);
}
