/*
 * The grammar against real vocabularies: the trie mask agrees token for token with checking
 * each token alone (qwen2's 152k BPE tokens and llama's 32k SPM tokens), end-of-generation
 * rules, and the budget.
 */
#include <math.h>

#include "grammar/grammar.h"
#include "test.h"

static tok *load_vocab(const char *rel) {
    gguf *g;
    tok *t;
    err_buf eb = {0};
    ASSERT_OK(gguf_open(test_shared_file(rel), &g, &eb), &eb);
    ASSERT_OK(tok_load(g, &t, &eb), &eb);
    gguf_close(g);
    return t;
}

static grammar *must_parse(const char *text) {
    grammar *g = NULL;
    err_buf eb = {0};
    if (grammar_parse(text, strlen(text), &g, &eb)) test_fail(__FILE__, __LINE__, "%s", eb.msg);
    return g;
}

/* For the state after `prefix`, the mask equals the per-token answers; returns #allowed. */
static int mask_agrees(const tok *t, const gtrie *tr, const grammar *g, const char *prefix, int left) {
    gstate *st = gstate_new(g);
    ASSERT_NOT_NULL(st);
    ASSERT_OK(gstate_accept_bytes(st, prefix, strlen(prefix)), NULL);
    int nv = tok_n_vocab(t);
    float *l = mem_alloc((size_t)nv * sizeof *l);
    for (int i = 0; i < nv; i++) l[i] = 0;
    int n = grammar_mask_logits(st, tr, l, left);
    ASSERT_CMP_INT(n, >=, 0);
    int count = 0;
    for (int i = 0; i < nv; i++) {
        bool a = gstate_allows_token(st, tr, i, left);
        if (a != (l[i] == 0)) {
            buf b = {0};
            tok_token_bytes(t, i, false, &b);
            test_fail(__FILE__, __LINE__, "after \"%s\": token %d \"%s\": mask %d, check %d", prefix, i,
                      b.data ? b.data : "", l[i] == 0, a);
        }
        count += a;
    }
    ASSERT_EQ_INT(n, count);
    mem_free(l);
    gstate_free(st);
    return count;
}

static void vocab_mask_run(const char *rel) {
    tok *t = load_vocab(rel);
    gtrie *tr;
    err_buf eb = {0};
    ASSERT_OK(gtrie_build(t, &tr, &eb), &eb);
    ASSERT_EQ_INT(gtrie_n_vocab(tr), tok_n_vocab(t));
    grammar *g = NULL;
    ASSERT_OK(grammar_json_object(&g, &eb), &eb);
    int all = mask_agrees(t, tr, g, "{\"text\": \"caf", 0);         /* inside a string */
    ASSERT_CMP_INT(all, >, tok_n_vocab(t) / 2);
    int few = mask_agrees(t, tr, g, "{\"a\": [1, 2", 0);            /* inside a number */
    ASSERT_CMP_INT(few, <, all);
    mask_agrees(t, tr, g, "{\"a\": tr", 0);
    mask_agrees(t, tr, g, "{\"k\": \"\xe4\xb8", 0);                  /* mid-character */
    int done = mask_agrees(t, tr, g, "{}", 0);                       /* complete: ws or EOG */
    ASSERT_CMP_INT(done, >=, 1);
    /* With 3 tokens left inside {"a": [1, the budget forces closing: only "]" "}" paths. */
    int tight = mask_agrees(t, tr, g, "{\"a\": [1", 3);
    ASSERT_CMP_INT(tight, <, few);
    grammar_free(g);
    g = must_parse("root ::= \"\\u4e2d\\u6587\" | [0-9]{2} \"!\"\n");
    mask_agrees(t, tr, g, "", 0);
    mask_agrees(t, tr, g, "\xe4", 0);
    mask_agrees(t, tr, g, "4", 2);
    grammar_free(g);
    gtrie_free(tr);
    tok_free(t);
}

TEST(grammar_vocab_mask_matches_checks_qwen2) { vocab_mask_run("testdata/tokenizer/ggml-vocab-qwen2.gguf"); }
TEST(grammar_vocab_mask_matches_checks_llama_spm) { vocab_mask_run("testdata/tokenizer/ggml-vocab-llama-spm.gguf"); }

TEST(grammar_vocab_eog_only_when_complete) {
    tok *t = load_vocab("testdata/tokenizer/ggml-vocab-llama-spm.gguf");
    gtrie *tr;
    err_buf eb = {0};
    ASSERT_OK(gtrie_build(t, &tr, &eb), &eb);
    grammar *g = must_parse("root ::= \"ab\" \"c\"?");
    gstate *st = gstate_new(g);
    int32_t eos = tok_eos(t), bos = tok_bos(t);
    ASSERT_FALSE(gstate_allows_token(st, tr, eos, 0));
    ASSERT_FALSE(gstate_allows_token(st, tr, bos, 0)); /* no bytes: never */
    ASSERT_EQ_INT(gstate_accept_token(st, tr, eos), BASE_EINVAL);
    ASSERT_OK(gstate_accept_bytes(st, "ab", 2), NULL);
    ASSERT_TRUE(gstate_allows_token(st, tr, eos, 0));
    ASSERT_OK(gstate_accept_token(st, tr, eos), NULL);
    /* After "abc" nothing can follow: the mask leaves only end-of-generation tokens. */
    int32_t c = tok_find(t, "c", 1);
    ASSERT_NE_INT(c, TOK_NULL);
    ASSERT_OK(gstate_accept_token(st, tr, c), NULL);
    ASSERT_TRUE(gstate_is_done(st));
    float *l = mem_calloc((size_t)tok_n_vocab(t), sizeof *l);
    int n = grammar_mask_logits(st, tr, l, 0);
    ASSERT_CMP_INT(n, >=, 1);
    for (int i = 0; i < tok_n_vocab(t); i++)
        if (l[i] == 0) ASSERT_TRUE(tok_is_eog(t, i));
    ASSERT_TRUE(l[eos] == 0);
    mem_free(l);
    ASSERT_EQ_INT(gstate_accept_token(st, tr, -1), BASE_EINVAL);
    ASSERT_FALSE(gstate_allows_token(st, tr, tok_n_vocab(t), 0));
    gstate_free(st);
    grammar_free(g);
    gtrie_free(tr);
    tok_free(t);
}

TEST(grammar_vocab_sample_lazy_and_masked) {
    tok *t = load_vocab("testdata/tokenizer/ggml-vocab-llama-spm.gguf");
    gtrie *tr;
    err_buf eb = {0};
    ASSERT_OK(gtrie_build(t, &tr, &eb), &eb);
    grammar *g = must_parse("root ::= [0-9]+ \".\"");
    int nv = tok_n_vocab(t);
    float *l = mem_alloc((size_t)nv * sizeof *l);
    /* Greedy with the argmax allowed: the lazy path returns it. With it banned: the best
     * allowed token. */
    int32_t seven = tok_find(t, "7", 1), word = tok_find(t, "\xe2\x96\x81the", 4);
    ASSERT_NE_INT(seven, TOK_NULL);
    ASSERT_NE_INT(word, TOK_NULL);
    for (int i = 0; i < nv; i++) l[i] = (float)(i % 13) * 0.01f;
    smp_params p = smp_default_params();
    p.temperature = 0;
    smp *sm;
    ASSERT_OK(smp_new(&p, nv, &sm, &eb), &eb);
    gstate *st = gstate_new(g);
    l[seven] = 5;
    int32_t id;
    ASSERT_OK(grammar_sample(st, tr, sm, l, 0, NULL, 0, &id), NULL);
    ASSERT_EQ_INT(id, seven);
    l[word] = 9;
    ASSERT_OK(grammar_sample(st, tr, sm, l, 0, NULL, 0, &id), NULL);
    ASSERT_EQ_INT(id, seven);
    ASSERT_TRUE(l[word] == 9); /* the caller's logits are untouched */
    ASSERT_OK(gstate_accept_token(st, tr, id), NULL);
    /* Budget: one token left, so it must finish: "." (or a token ending in "."). */
    ASSERT_OK(grammar_sample(st, tr, sm, l, 1, NULL, 0, &id), NULL);
    buf b = {0};
    tok_token_bytes(t, id, false, &b);
    ASSERT_TRUE(b.len > 0 && b.data[b.len - 1] == '.');
    buf_free(&b);
    ASSERT_OK(gstate_accept_token(st, tr, id), NULL);
    ASSERT_TRUE(gstate_is_done(st));
    smp_free(sm);
    gstate_free(st);
    mem_free(l);
    grammar_free(g);
    gtrie_free(tr);
    tok_free(t);
}

/* Fewer tokens than the shortest completion: sampling still heads for the end (each token
 * shortens the way) instead of failing. */
TEST(grammar_vocab_budget_too_small_still_progresses) {
    tok *t = load_vocab("testdata/tokenizer/ggml-vocab-llama-spm.gguf");
    gtrie *tr;
    err_buf eb = {0};
    ASSERT_OK(gtrie_build(t, &tr, &eb), &eb);
    grammar *g = must_parse("root ::= \"{\" [a-z]* \"}\"");
    gstate *st = gstate_new(g);
    int nv = tok_n_vocab(t);
    float *l = mem_calloc((size_t)nv, sizeof *l);
    smp_params p = smp_default_params();
    p.seed = 3;
    smp *sm;
    ASSERT_OK(smp_new(&p, nv, &sm, &eb), &eb);
    for (int step = 0; step < 4 && !gstate_is_done(st); step++) {
        uint32_t before = gstate_min_bytes_left(st);
        int32_t id;
        ASSERT_OK(grammar_sample(st, tr, sm, l, 1, NULL, 0, &id), NULL);
        ASSERT_OK(gstate_accept_token(st, tr, id), NULL);
        ASSERT_CMP_INT(gstate_min_bytes_left(st), <, before);
    }
    ASSERT_TRUE(gstate_is_done(st));
    smp_free(sm);
    mem_free(l);
    gstate_free(st);
    grammar_free(g);
    gtrie_free(tr);
    tok_free(t);
}
