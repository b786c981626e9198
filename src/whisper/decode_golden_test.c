/*
 * whisper.cpp's greedy decoding on the random s64 model (shared/golden/whisper): the sampled
 * tokens (the first tokens_exact must match) and, where every sampled token matches, the
 * segments (t0, t1, tokens, text) exactly.
 */
#include <stdio.h>

#include "wh_testutil.h"
#include "whisper/whisper_int.h"

#define GOLD "golden/whisper/"

typedef struct segs {
    int n;
    char lines[8][16384];
} segs;

static int on_seg(const wh_segment *s, void *ud) {
    segs *g = ud;
    if (g->n >= 8) return 0;
    char *l = g->lines[g->n++];
    size_t o = (size_t)snprintf(l, 16384, "%lld\t%lld\t", (long long)s->t0, (long long)s->t1);
    for (int i = 0; i < s->n_tok && o < 12000; i++)
        o += (size_t)snprintf(l + o, 16384 - o, i ? ",%d" : "%d", s->tok[i].id);
    o += (size_t)snprintf(l + o, 16384 - o, "\t");
    for (size_t i = 0; i < s->text_len && o < 16380; i++)
        o += (size_t)snprintf(l + o, 16384 - o, "%02x", (unsigned char)s->text[i]);
    return 0;
}

static void run(size_t n_samples, int ts, const char *tokens_file, const char *segs_file,
                int n_sampled, int exact) {
    char *mp = wt_path(GOLD "whisper-s64-f16.bin");
    whisper_model *m;
    err_buf eb = {0};
    ASSERT_OK(whisper_model_load(&m, mp, &eb), &eb);
    free(mp);
    size_t n;
    float *pcm = wt_wav("testdata/whisper/jfk.wav", &n);
    wh_params p = wh_params_default();
    p.lang = 0;
    p.no_timestamps = !ts;
    p.temperature_inc = 0;
    p.beam_size = 1;
    p.n_threads = 2;
    int got[512], n_got = 0;
    p.sampled = got, p.sampled_cap = 512, p.n_sampled = &n_got;
    segs *g = calloc(1, sizeof *g);
    int lang = -1;
    ASSERT_OK(wh_full(m, pcm, n_samples, &p, on_seg, g, &lang, &eb), &eb);
    ASSERT_EQ_INT(lang, 0);

    char *tp = wt_path(tokens_file), *txt;
    size_t tl;
    ASSERT_OK(file_read_all(tp, &txt, &tl, &eb), &eb);
    free(tp);
    char *cur = txt;
    int same = 0;
    while (same < n_got && same < n_sampled) {
        int want = (int)strtol(cur, &cur, 10);
        if (want != got[same]) break;
        same++;
    }
    printf("%s: %d of %d sampled tokens match (exact required: %d), we sampled %d\n", tokens_file,
           same, n_sampled, exact, n_got);
    ASSERT_CMP_INT(same, >=, exact);
    if (same == n_sampled && n_got == n_sampled) {
        char *sp = wt_path(segs_file), *st;
        ASSERT_OK(file_read_all(sp, &st, &tl, &eb), &eb);
        free(sp);
        char *line = strchr(st, '\n') + 1;
        for (int i = 0; i < g->n; i++) {
            char *end = strchr(line, '\n');
            ASSERT_NOT_NULL(end);
            *end = 0;
            ASSERT_EQ_STR(g->lines[i], line);
            line = end + 1;
        }
        ASSERT_EQ_INT(*line, 0);
        mem_free(st);
    }
    mem_free(txt);
    free(g);
    mem_free(pcm);
    whisper_model_free(m);
}

TEST(whisper_golden_greedy_jfk_nt) {
    run(176000, 0, GOLD "s64.jfk.nt.tokens.txt", GOLD "s64.jfk.nt.segments.tsv", 220, 13);
}
TEST(whisper_golden_greedy_jfk_ts) {
    run(176000, 1, GOLD "s64.jfk.ts.tokens.txt", GOLD "s64.jfk.ts.segments.tsv", 12, 12);
}
TEST(whisper_golden_greedy_3s_nt) {
    run(48000, 0, GOLD "s64.jfk-0.0s-3.0s.nt.tokens.txt", GOLD "s64.jfk-0.0s-3.0s.nt.segments.tsv",
        220, 4);
}
TEST(whisper_golden_greedy_3s_ts) {
    run(48000, 1, GOLD "s64.jfk-0.0s-3.0s.ts.tokens.txt", GOLD "s64.jfk-0.0s-3.0s.ts.segments.tsv",
        5, 5);
}
