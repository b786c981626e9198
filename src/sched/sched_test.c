/* Scheduler tests on the real tiny stories260K model: greedy text, slots, prefix reuse,
 * stop strings, cancellation, the bounded queue. */
#include "sched.h"

#include "test.h"

static const char *GREEDY = "Once upon a time, there was a little girl named Lily. She loved to "
                            "play outside in the park.";

typedef struct fixture {
    llm_model *m;
    tok *t;
    sched *s;
} fixture;

static void fx_open_chunk(fixture *f, int n_slots, int queue_cap, int n_chunk) {
    const char *path = test_shared_file("testdata/llm/stories260K.gguf");
    err_buf eb = {0};
    ASSERT_OK(llm_model_load(path, &f->m, &eb), &eb);
    ASSERT_OK(tok_load(llm_model_gguf(f->m), &f->t, &eb), &eb);
    sched_params sp = sched_default_params();
    sp.n_slots = n_slots;
    sp.n_ctx = 128;
    sp.queue_cap = queue_cap;
    if (n_chunk) sp.n_chunk = n_chunk;
    ASSERT_OK(sched_new(f->m, f->t, &sp, &f->s, &eb), &eb);
}

static void fx_open(fixture *f, int n_slots, int queue_cap) { fx_open_chunk(f, n_slots, queue_cap, 0); }

static void fx_close(fixture *f) {
    sched_free(f->s);
    tok_free(f->t);
    llm_model_free(f->m);
}

/* Run a job to its end; returns the DONE event (caller frees), text collected in out. */
static sched_event *collect(sched_job *j, buf *out) {
    for (;;) {
        sched_event *ev;
        ASSERT_EQ_INT(sched_job_wait(j, 20000, &ev), 0);
        buf_append(out, ev->text, ev->len);
        if (ev->kind != SCHED_EV_TOKEN) return ev;
        sched_event_free(ev);
    }
}

static sched_job *submit_text(fixture *f, const char *text, int max_tokens, const char *stop) {
    int32_t *ids;
    size_t n;
    err_buf eb = {0};
    ASSERT_OK(tok_encode(f->t, text, strlen(text), true, false, &ids, &n, &eb), &eb);
    sched_job_params jp = sched_job_default_params();
    jp.prompt = ids;
    jp.n_prompt = (int)n;
    jp.sampling.temperature = 0;
    jp.max_tokens = max_tokens;
    const char *stops[1] = {stop};
    jp.stops = stops;
    jp.n_stops = stop ? 1 : 0;
    sched_job *j;
    ASSERT_OK(sched_submit(f->s, &jp, &j, &eb), &eb);
    mem_free(ids);
    return j;
}

TEST(sched_greedy_from_bos_matches_reference) {
    fixture f = {0};
    fx_open(&f, 1, 4);
    sched_job *j = submit_text(&f, "", 20, NULL);
    buf out = {0};
    sched_event *done = collect(j, &out);
    ASSERT_EQ_INT(done->kind, SCHED_EV_DONE);
    ASSERT_EQ_INT(done->finish, SCHED_FINISH_LENGTH);
    ASSERT_EQ_INT(done->n_gen, 20);
    ASSERT_EQ_INT(done->n_prompt, 1);
    ASSERT_TRUE(out.len > 10);
    ASSERT_TRUE(strncmp(GREEDY, out.data, out.len) == 0);
    sched_event_free(done);
    sched_job_free(j);
    buf_free(&out);
    fx_close(&f);
}

TEST(sched_prefix_reuse_and_same_text) {
    fixture f = {0};
    fx_open(&f, 2, 4);
    buf a = {0}, b = {0};
    sched_job *j = submit_text(&f, "Once upon a time", 12, NULL);
    sched_event *d1 = collect(j, &a);
    ASSERT_EQ_INT(d1->n_cached, 0);
    ASSERT_TRUE(a.len > 0 && a.data[0] == ',');
    sched_job_free(j);
    j = submit_text(&f, "Once upon a time", 12, NULL);
    sched_event *d2 = collect(j, &b);
    /* Everything but the last prompt token came from the cache. */
    ASSERT_EQ_INT(d2->n_cached, d2->n_prompt - 1);
    ASSERT_EQ_STR(a.data, b.data);
    sched_stats st;
    sched_get_stats(f.s, &st);
    ASSERT_EQ_INT(st.completed, 2);
    ASSERT_EQ_INT(st.active, 0);
    sched_event_free(d1);
    sched_event_free(d2);
    sched_job_free(j);
    buf_free(&a);
    buf_free(&b);
    fx_close(&f);
}

TEST(sched_stop_string_is_held_back) {
    fixture f = {0};
    fx_open(&f, 1, 4);
    buf out = {0};
    sched_job *j = submit_text(&f, "", 60, "Lily");
    sched_event *d = collect(j, &out);
    ASSERT_EQ_INT(d->finish, SCHED_FINISH_STOP);
    ASSERT_EQ_STR(out.data, "Once upon a time, there was a little girl named ");
    sched_event_free(d);
    sched_job_free(j);
    buf_free(&out);
    fx_close(&f);
}

TEST(sched_cancel_and_queue_full) {
    fixture f = {0};
    fx_open(&f, 1, 1);
    sched_job *a = submit_text(&f, "", 0, NULL); /* runs until the context is full */
    /* Wait until a is running so the queue is empty again. */
    sched_event *ev;
    ASSERT_EQ_INT(sched_job_wait(a, 20000, &ev), 0);
    sched_event_free(ev);
    sched_job *b = submit_text(&f, "Once", 4, NULL); /* queued */
    int32_t one = 1;
    sched_job_params jp = sched_job_default_params();
    jp.prompt = &one;
    jp.n_prompt = 1;
    sched_job *c;
    err_buf eb = {0};
    ASSERT_EQ_INT(sched_submit(f.s, &jp, &c, &eb), BASE_EBUSY);
    sched_job_cancel(a);
    buf out = {0};
    sched_event *d = collect(a, &out);
    ASSERT_EQ_INT(d->finish, SCHED_FINISH_CANCELLED);
    sched_event_free(d);
    d = collect(b, &out);
    ASSERT_EQ_INT(d->finish, SCHED_FINISH_LENGTH);
    sched_event_free(d);
    sched_job_free(a);
    sched_job_free(b);
    /* A prompt longer than the context is refused up front. */
    int32_t big[200] = {0};
    jp.prompt = big;
    jp.n_prompt = 200;
    ASSERT_EQ_INT(sched_submit(f.s, &jp, &c, &eb), BASE_EFULL);
    buf_free(&out);
    fx_close(&f);
}

TEST(sched_slots_batched_together_match_alone) {
    fixture f = {0};
    /* Three slots in one forward pass per step, prompts fed two tokens at a time. */
    fx_open_chunk(&f, 3, 4, 2);
    sched_job *a = submit_text(&f, "", 20, NULL);
    sched_job *b = submit_text(&f, "Once upon a time", 12, NULL);
    sched_job *c = submit_text(&f, "Once upon a time", 12, NULL);
    buf ta = {0}, tb = {0}, tc = {0};
    sched_event_free(collect(a, &ta));
    sched_event_free(collect(b, &tb));
    sched_event_free(collect(c, &tc));
    ASSERT_TRUE(strncmp(GREEDY, ta.data, ta.len) == 0);
    ASSERT_TRUE(strncmp(GREEDY + strlen("Once upon a time"), tb.data, tb.len) == 0);
    ASSERT_EQ_STR(tb.data, tc.data);
    sched_job_free(a);
    sched_job_free(b);
    sched_job_free(c);
    buf_free(&ta);
    buf_free(&tb);
    buf_free(&tc);
    fx_close(&f);
}

TEST(sched_picks_the_slot_with_the_longest_prefix) {
    fixture f = {0};
    fx_open(&f, 2, 4);
    /* Two requests at once fill both slots with different histories. */
    sched_job *a = submit_text(&f, "Once upon a time", 4, NULL);
    sched_job *b = submit_text(&f, "The dog ran to the park", 4, NULL);
    buf t = {0};
    sched_event *d = collect(a, &t);
    sched_event_free(d);
    d = collect(b, &t);
    sched_event_free(d);
    sched_job_free(a);
    sched_job_free(b);
    /* Both free now: each new request goes where its prefix is. */
    const char *again[] = {"The dog ran to the park and", "Once upon a time there"};
    for (int i = 0; i < 2; i++) {
        sched_job *j = submit_text(&f, again[i], 2, NULL);
        d = collect(j, &t);
        int32_t *ids;
        size_t n_short;
        err_buf eb = {0};
        const char *prefix = i == 0 ? "The dog ran to the park" : "Once upon a time";
        ASSERT_OK(tok_encode(f.t, prefix, strlen(prefix), true, false, &ids, &n_short, &eb), &eb);
        mem_free(ids);
        ASSERT_TRUE(d->n_cached >= (int)n_short - 1);
        ASSERT_TRUE(d->n_cached < d->n_prompt);
        sched_event_free(d);
        sched_job_free(j);
    }
    sched_stats st;
    sched_get_stats(f.s, &st);
    ASSERT_TRUE(st.prompt_tokens_reused > 0);
    buf_free(&t);
    fx_close(&f);
}
