/* `local-ai transcript` and `local-ai tts` end to end: real speech to text on stdout in each
 * format, speech into files whose format follows the extension, and usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "audio/audio.h"
#include "test.h"
#include "stt/stt.h"

static int run(char **argv, char **out, char **err) {
    int st = test_run(argv, NULL, out, err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(cli_transcript_formats) {
    const char *wav = test_shared_file("testdata/whisper/jfk.wav");
    char *out, *err;
    char *a1[] = {(char *)test_bin_path(), "transcript", (char *)wav, "-m", "pocketsphinx", NULL};
    ASSERT_EQ_INT(run(a1, &out, &err), 0);
    double w = stt_wer("And so my fellow Americans, ask not what your country can do for you, ask "
                       "what you can do for your country.",
                       out);
    printf("  transcript: WER %.1f%%: %s", 100 * w, out);
    ASSERT_TRUE(w <= 0.30);
    free(out), free(err);
    char *a2[] = {(char *)test_bin_path(), "transcript",          (char *)wav, "--format", "vtt",
                  "--models-path",         (char *)test_tmpdir(), NULL};
    ASSERT_EQ_INT(run(a2, &out, &err), 0);
    ASSERT_EQ_INT(strncmp(out, "WEBVTT\n\n00:00:0", 15), 0);
    ASSERT_EQ_STR(err, ""); /* nothing but the transcript */
    free(out), free(err);
    char *a3[] = {(char *)test_bin_path(), "transcript", (char *)wav, "-f",
                  "verbose_json",          "--words",    NULL};
    ASSERT_EQ_INT(run(a3, &out, &err), 0);
    ASSERT_CONTAINS(out, "\"task\":\"transcribe\"");
    ASSERT_CONTAINS(out, "\"words\":[{\"word\":");
    ASSERT_CONTAINS(out, "\"tokens\":[]"); /* pocketsphinx has no token ids */
    free(out), free(err);
}

TEST(cli_transcript_errors) {
    char *out, *err;
    char *a1[] = {(char *)test_bin_path(), "transcript", NULL};
    ASSERT_EQ_INT(run(a1, &out, &err), 2);
    ASSERT_CONTAINS(err, "no audio file");
    free(out), free(err);
    char *a2[] = {(char *)test_bin_path(), "transcript", "x.wav", "--format", "docx", NULL};
    ASSERT_EQ_INT(run(a2, &out, &err), 2);
    free(out), free(err);
    /* Not audio: exit 1 with the decoder's reason. */
    char *a3[] = {(char *)test_bin_path(),
                  "transcript",
                  (char *)test_shared_file("testdata/audio/cards/cards.transcription"),
                  "-m",
                  "pocketsphinx",
                  NULL};
    ASSERT_EQ_INT(run(a3, &out, &err), 1);
    ASSERT_CONTAINS(err, "not audio");
    free(out), free(err);
    char *a4[] = {(char *)test_bin_path(),
                  "transcript",
                  (char *)test_shared_file("testdata/whisper/jfk.wav"),
                  "-m",
                  "pocketsphinx",
                  "-l",
                  "fr",
                  NULL};
    ASSERT_EQ_INT(run(a4, &out, &err), 1);
    ASSERT_CONTAINS(err, "English");
    free(out), free(err);
}

TEST(cli_tts_files) {
    static const char *ext[] = {"wav", "mp3", "ogg", "flac"};
    for (int i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/speech.%s", test_tmpdir(), ext[i]);
        char *out, *err;
        char *a[] = {(char *)test_bin_path(),
                     "tts",
                     "Good morning. How are you today?",
                     "-o",
                     path,
                     "--voice",
                     "en-us",
                     NULL};
        ASSERT_EQ_INT(run(a, &out, &err), 0);
        free(out), free(err);
        char *data;
        size_t len;
        err_buf eb = {0};
        ASSERT_OK(file_read_all(path, &data, &len, &eb), &eb);
        static const char *magic[] = {"RIFF", "ID3", "OggS", "fLaC"};
        ASSERT_EQ_INT(memcmp(data, magic[i], strlen(magic[i])), 0);
        float *pcm;
        size_t n;
        ASSERT_OK(audio_decode(data, len, &pcm, &n, &eb), &eb);
        ASSERT_TRUE(n > 16000 && n < 16000 * 5);
        mem_free(pcm);
        mem_free(data);
    }
    char *out, *err;
    char *bad[] = {
        (char *)test_bin_path(), "tts", "Hi.", "-o", "x.wav", "--voice", "xx-nosuch", NULL};
    ASSERT_EQ_INT(run(bad, &out, &err), 1);
    ASSERT_CONTAINS(err, "xx-nosuch");
    free(out), free(err);
    char *noout[] = {(char *)test_bin_path(), "tts", "Hi.", NULL};
    ASSERT_EQ_INT(run(noout, &out, &err), 2);
    free(out), free(err);
    char *list[] = {(char *)test_bin_path(), "tts", "--list-voices", NULL};
    ASSERT_EQ_INT(run(list, &out, &err), 0);
    ASSERT_CONTAINS(out, "en-us ");
    free(out), free(err);
}
