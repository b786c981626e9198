/*
 * A real trained model end to end: stories260K (TinyStories) generates, greedily from BOS,
 * exactly the 256 tokens llama2.c's reference produces.
 */
#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "test.h"

static int read_expected(int32_t *ids, int cap) {
    char *text;
    size_t len;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(test_shared_file("testdata/llm/stories260K.greedy.json"), &text, &len, &eb), &eb);
    char *p = strstr(text, "\"generated_ids\"");
    ASSERT_NOT_NULL(p);
    p = strchr(p, '[');
    ASSERT_NOT_NULL(p);
    int n = 0;
    while (*p && *p != ']' && n < cap) {
        p++;
        while (*p == ' ' || *p == '\n') p++;
        if (*p == ']') break;
        ids[n++] = (int32_t)strtol(p, &p, 10);
    }
    mem_free(text);
    return n;
}

static void greedy_run(int threads, bool kv_f32) {
    int32_t want[300];
    int n = read_expected(want, 300);
    ASSERT_EQ_INT(n, 256);
    llm_model *m;
    err_buf eb = {0};
    ASSERT_OK(llm_model_load(test_shared_file("testdata/llm/stories260K.gguf"), &m, &eb), &eb);
    tpool *pool = tpool_new(threads);
    llm_session_params sp = llm_session_default_params();
    sp.n_ctx = 512;
    sp.kv_f32 = kv_f32;
    llm_session *s;
    ASSERT_OK(llm_session_new(m, &sp, pool, &s, &eb), &eb);
    int32_t tok = 1;
    int V = llm_model_hparams(m)->n_vocab;
    for (int i = 0; i < n; i++) {
        ASSERT_OK(llm_decode(s, &tok, 1, false, &eb), &eb);
        const float *l = llm_logits(s, -1);
        int32_t best = 0;
        for (int v = 1; v < V; v++)
            if (l[v] > l[best]) best = v;
        if (best != want[i])
            test_fail(__FILE__, __LINE__, "token %d: got %d, expected %d", i, best, want[i]);
        tok = best;
    }
    llm_session_free(s);
    tpool_free(pool);
    llm_model_free(m);
}

TEST(engine_stories260k_greedy_f32_kv) { greedy_run(1, true); }
TEST(engine_stories260k_greedy_f16_kv_2_threads) { greedy_run(2, false); }
