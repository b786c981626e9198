/*
 * The quantized paths: random models of the s64 shape written as F32, F16, Q8_0 and Q5_0 from
 * the same random values load and give logits close to the F32 model's (closer for more bits).
 */
#include <stdio.h>

#include "wh_testutil.h"
#include "whisper/whisper_int.h"

static float *logits_of(const char *path, const float *pcm, size_t n) {
    whisper_model *m;
    err_buf eb = {0};
    ASSERT_OK(whisper_model_load(&m, path, &eb), &eb);
    float *mel;
    int nf, org;
    ASSERT_OK(whisper_mel(m, pcm, n, 1, &mel, &nf, &org, &eb), &eb);
    whisper_state *s;
    ASSERT_OK(whisper_state_new(&s, m, 2, 1, &eb), &eb);
    ASSERT_OK(whisper_encode(s, mel, nf, 0, &eb), &eb);
    float *logits = mem_alloc((size_t)m->hp.n_vocab * sizeof(float));
    const int prompt[] = {50258, 50259, 50359};
    ASSERT_OK(whisper_decode(s, 0, prompt, 3, 0, logits, &eb), &eb);
    int next = 2518;
    ASSERT_OK(whisper_decode(s, 0, &next, 1, 3, logits, &eb), &eb);
    whisper_state_free(s);
    mem_free(mel);
    whisper_model_free(m);
    return logits;
}

/* The writer's Q5_0 blocks decode (with the kernels' table) to within a step (codes run
 * from -16 to 15: the side opposite the largest value clamps). */
TEST(whisper_q5_0_writer_roundtrip) {
    char path[4096];
    snprintf(path, sizeof path, "%s/q5.bin", test_tmpdir());
    whisper_hparams hp = {51865, 1500, 64, 2, 1, 448, 64, 2, 1, 80, 8};
    err_buf eb = {0};
    ASSERT_OK(whisper_write_random_model(path, &hp, GGUF_TYPE_Q5_0, 5, NULL, &eb), &eb);
    whisper_model *q, *f;
    ASSERT_OK(whisper_model_load(&q, path, &eb), &eb);
    hp.ftype = 0;
    ASSERT_OK(whisper_write_random_model(path, &hp, GGUF_TYPE_F32, 5, NULL, &eb), &eb);
    ASSERT_OK(whisper_model_load(&f, path, &eb), &eb);
    ASSERT_EQ_INT(q->enc[0].q.type, GGUF_TYPE_Q5_0);
    const kern_traits *tt = kern_traits_of(GGUF_TYPE_Q5_0);
    float row[64];
    for (int r = 0; r < 64; r++) {
        tt->to_float((const uint8_t *)q->enc[0].q.data + (size_t)r * 2 * 22, row, 64);
        const float *want = (const float *)f->enc[0].q.data + (size_t)r * 64;
        for (int b = 0; b < 2; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++)
                amax = fabsf(want[b * 32 + j]) > amax ? fabsf(want[b * 32 + j]) : amax;
            for (int j = 0; j < 32; j++)
                ASSERT_NEAR(row[b * 32 + j], want[b * 32 + j], amax / 16 * 1.01 + 1e-6);
        }
    }
    whisper_model_free(q);
    whisper_model_free(f);
}

TEST(whisper_quantized_models) {
    size_t n;
    float *pcm = wt_wav("testdata/whisper/jfk.wav", &n);
    char *vocab = wt_path("testdata/whisper/for-tests-ggml-tiny.bin");
    whisper_hparams hp = {51865, 1500, 64, 2, 2, 448, 64, 2, 3, 80, 0};
    static const struct {
        int type;
        double tol;
    } types[] = {
        {GGUF_TYPE_F32, 0},
        {GGUF_TYPE_F16, 0.01},
        {GGUF_TYPE_Q8_0, 0.05},
        {GGUF_TYPE_Q5_0, 0.25},
    };
    float *ref = NULL;
    for (int i = 0; i < 4; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/m%d.bin", test_tmpdir(), i);
        err_buf eb = {0};
        hp.ftype = types[i].type;
        ASSERT_OK(whisper_write_random_model(path, &hp, types[i].type, 7, vocab, &eb), &eb);
        ASSERT_TRUE(whisper_file_is_ggml(path));
        float *l = logits_of(path, pcm, 48000);
        if (!ref) {
            ref = l;
            continue;
        }
        wt_err e = wt_compare(l, ref, 51865);
        printf("type %d vs F32: logits nrmse %.4f maxabs %.4f\n", types[i].type, e.nrmse, e.maxabs);
        ASSERT_TRUE(e.nrmse < types[i].tol);
        mem_free(l);
    }
    /* synthetic header and vocabulary */
    char path[4096];
    snprintf(path, sizeof path, "%s/synth.bin", test_tmpdir());
    err_buf eb = {0};
    ASSERT_OK(whisper_write_random_model(path, &hp, GGUF_TYPE_F16, 3, NULL, &eb), &eb);
    mem_free(logits_of(path, pcm, 48000));
    mem_free(ref);
    free(vocab);
    mem_free(pcm);
}

/* The other vocabularies: English-only (51864: no language or task tokens, ids one lower) and
 * large-v3's (51866, 128 mels, 100 languages: timestamps start one later). */
TEST(whisper_vocab_variants) {
    size_t n;
    float *pcm = wt_wav("testdata/whisper/jfk.wav", &n);
    static const struct {
        int n_vocab, n_mels, beg, n_lang;
    } v[] = {{51864, 80, 50363, 99}, {51866, 128, 50365, 100}};
    for (int i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/v%d.bin", test_tmpdir(), i);
        whisper_hparams hp = {v[i].n_vocab, 1500, 64, 2, 1, 448, 64, 2, 2, v[i].n_mels, 1};
        err_buf eb = {0};
        ASSERT_OK(whisper_write_random_model(path, &hp, GGUF_TYPE_F16, 11, NULL, &eb), &eb);
        whisper_model *m;
        ASSERT_OK(whisper_model_load(&m, path, &eb), &eb);
        ASSERT_EQ_INT(whisper_model_tokens(m)->beg, v[i].beg);
        ASSERT_EQ_INT(whisper_model_tokens(m)->n_lang, v[i].n_lang);
        ASSERT_EQ_INT(whisper_model_is_multilingual(m), i == 1);
        stt_opts o;
        stt_opts_init(&o);
        o.language = NULL;
        o.no_fallback = 1;
        o.threads = 2;
        stt_result r;
        ASSERT_OK(whisper_transcribe(m, pcm, 48000, &o, NULL, NULL, &r, &eb), &eb);
        ASSERT_NOT_NULL(r.text);
        if (i == 0) ASSERT_EQ_STR(r.language, "en");
        for (int s = 0; s < r.n_segs; s++)
            for (int t = 0; t < r.segs[s].n_tokens; t++)
                ASSERT_TRUE(r.segs[s].tokens[t] < v[i].n_vocab);
        stt_result_free(&r);
        whisper_model_free(m);
    }
    mem_free(pcm);
}

/* The encoder's attention tiles (attn_avx2.c) against the reference, odd sizes included. */
TEST(whisper_attention_tiles) {
    uint64_t rng = 9;
    static const int shapes[][3] = {{7, 37, 64}, {13, 16, 32}, {4, 1500, 64}, {9, 5, 16}};
    for (int c = 0; c < 4; c++) {
        int nq = shapes[c][0], nk = shapes[c][1], hd = shapes[c][2];
        float *q = mem_alloc((size_t)nq * hd * 4), *k = mem_alloc((size_t)nk * hd * 4);
        float *kt = mem_alloc((size_t)(nk + WH_KB) * hd * 4);
        float *s1 = mem_alloc((size_t)nq * nk * 4), *s2 = mem_alloc((size_t)nq * nk * 4);
        float *o1 = mem_alloc((size_t)nq * hd * 4), *o2 = mem_alloc((size_t)nq * hd * 4);
        for (int i = 0; i < nq * hd; i++) q[i] = test_rand_f32(&rng);
        for (int i = 0; i < nk * hd; i++) k[i] = test_rand_f32(&rng);
        wh_pack_kt(kt, k, hd, nk, hd);
        tpool *pool = tpool_new(2);
        wh_qk(pool, q, hd, nq, kt, nk, hd, s1);
        wh_qk_rows_ref(q, hd, kt, nk, hd, s2, nk, 0, nq);
        for (int i = 0; i < nq * nk; i++) ASSERT_NEAR(s1[i], s2[i], 1e-4);
        wh_pv(pool, s1, nq, nk, k, hd, hd, o1, hd);
        wh_pv_rows_ref(s1, nk, nk, k, hd, hd, o2, hd, 0, nq);
        for (int i = 0; i < nq * hd; i++) ASSERT_NEAR(o1[i], o2[i], 1e-3);
        tpool_free(pool);
        mem_free(q), mem_free(k), mem_free(kt), mem_free(s1), mem_free(s2);
        mem_free(o1), mem_free(o2);
    }
}
