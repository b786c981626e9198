/*
 * Speech to text with pocketsphinx on the shared clips: word error rate against the reference
 * transcripts and speed (real-time factor = compute time / audio time, one thread).
 *   build/bench/stt [SHARED_DIR]      (default ../shared)
 */
#include <stdio.h>
#include <string.h>

#include "audio/audio.h"
#include "sphinx/sphinx.h"

static const struct {
    const char *wav, *ref;
} clips[] = {
    {"librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
     "librivox/sense_and_sensibility_01_austen_64kb-0870.txt"},
    {"librivox/sense_and_sensibility_01_austen_64kb-0880.wav",
     "librivox/sense_and_sensibility_01_austen_64kb-0880.txt"},
    {"librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
     "librivox/sense_and_sensibility_01_austen_64kb-0890.txt"},
    {"librivox/sense_and_sensibility_01_austen_64kb-0920.wav",
     "librivox/sense_and_sensibility_01_austen_64kb-0920.txt"},
    {"librivox/sense_and_sensibility_01_austen_64kb-0930.wav",
     "librivox/sense_and_sensibility_01_austen_64kb-0930.txt"},
    {"cards/001.wav", "=ten of clubs"},
    {"cards/002.wav", "=four queen of clubs"},
    {"cards/003.wav", "=seven of clubs"},
    {"cards/004.wav", "=five five"},
    {"cards/005.wav", "=eight of spades four of clubs seven of hearts"},
    {"../whisper/jfk.wav", "=And so my fellow Americans, ask not what your country can do for you, "
                           "ask what you can do for your country."},
};

int main(int argc, char **argv) {
    const char *shared = argc > 1 ? argv[1] : "../shared";
    err_buf eb = {0};
    sphinx_model *m;
    uint64_t t0 = time_now_ns();
    if (sphinx_model_load(&m, NULL, &eb)) {
        fprintf(stderr, "bench/stt: %s\n", err_msg(&eb));
        return 1;
    }
    printf("pocketsphinx model load: %.2f s\n\n", (double)(time_now_ns() - t0) / 1e9);
    printf("| clip | audio s | WER | RTF | transcript |\n|---|---|---|---|---|\n");
    double audio = 0, compute = 0;
    int errs = 0, words = 0;
    for (size_t i = 0; i < sizeof clips / sizeof *clips; i++) {
        char path[1024], *data, *ref = NULL;
        size_t len, rl;
        snprintf(path, sizeof path, "%s/testdata/audio/%s", shared, clips[i].wav);
        if (file_read_all(path, &data, &len, &eb)) {
            fprintf(stderr, "bench/stt: %s\n", err_msg(&eb));
            return 1;
        }
        if (clips[i].ref[0] != '=') {
            snprintf(path, sizeof path, "%s/testdata/audio/%s", shared, clips[i].ref);
            if (file_read_all(path, &ref, &rl, &eb)) return 1;
        }
        float *pcm;
        size_t n;
        stt_opts o;
        stt_opts_init(&o);
        stt_result r;
        if (audio_decode(data, len, &pcm, &n, &eb)) return 1;
        uint64_t t = time_now_ns();
        if (sphinx_transcribe(m, pcm, n, &o, NULL, NULL, &r, &eb)) return 1;
        double secs = (double)(time_now_ns() - t) / 1e9;
        int e, w;
        stt_wer_count(ref ? ref : clips[i].ref + 1, r.text, &e, &w);
        errs += e, words += w, audio += r.duration, compute += secs;
        const char *name =
            strrchr(clips[i].wav, '/') ? strrchr(clips[i].wav, '/') + 1 : clips[i].wav;
        printf("| %s | %.2f | %d/%d = %.1f%% | %.2f | %s |\n", name, r.duration, e, w,
               100.0 * e / w, secs / r.duration, r.text);
        stt_result_free(&r);
        mem_free(pcm);
        mem_free(data);
        mem_free(ref);
    }
    printf("\nall clips: WER %d/%d = %.1f%%, RTF %.2f (%.1f s of audio in %.1f s)\n", errs, words,
           100.0 * errs / words, compute / audio, audio, compute);
    sphinx_model_free(m);
    return 0;
}
