/* End to end: streamed (SSE) chat and completions, concurrent clients, and a client that
 * goes away mid-stream. */
#include "api_util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

/* Concatenate the streamed text of choice 0 (chat deltas or completion text). */
static void stream_text(json_t *events, bool chat, buf *out) {
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        json_t *ch = api_jget(ev, "choices.0");
        if (!ch) continue;
        const char *t = api_jstr(ch, chat ? "delta.content" : "text");
        if (t) buf_append_str(out, t);
    }
    if (!out->data) buf_append(out, "", 0);
}

TEST(api_chat_stream_matches_plain) {
    api_server s;
    api_server_start(&s, NULL);
    const char *req = "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story\"}],"
                      "\"max_tokens\":12%s}";
    char body[512];
    api_resp plain, st;
    snprintf(body, sizeof body, req, "");
    api_http(&s, "POST", "/v1/chat/completions", body, NULL, &plain);
    ASSERT_EQ_INT(plain.status, 200);
    snprintf(body, sizeof body, req, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    api_http(&s, "POST", "/v1/chat/completions", body, NULL, &st);
    ASSERT_EQ_INT(st.status, 200);
    ASSERT_CONTAINS(st.headers.data, "text/event-stream");
    json_t *events = api_sse_events(st.body.data);
    size_t n = json_array_size(events);
    ASSERT_TRUE(n >= 4);
    /* Every chunk: same id, the chunk object, the model. */
    const char *id = api_jstr(events, "0.id");
    ASSERT_TRUE(strncmp(id, "chatcmpl-", 9) == 0);
    for (size_t i = 0; i < n; i++) {
        json_t *ev = json_array_get(events, i);
        ASSERT_EQ_STR(api_jstr(ev, "id"), id);
        ASSERT_EQ_STR(api_jstr(ev, "object"), "chat.completion.chunk");
        ASSERT_EQ_STR(api_jstr(ev, "model"), "tiny");
        /* Only the last carries usage. */
        ASSERT_TRUE((api_jget(ev, "usage") != NULL) == (i == n - 1));
    }
    /* The role first; the finish reason in the chunk before the usage. */
    ASSERT_EQ_STR(api_jstr(events, "0.choices.0.delta.role"), "assistant");
    ASSERT_TRUE(json_is_null(api_jget(events, "0.choices.0.finish_reason")));
    json_t *fin = json_array_get(events, n - 2);
    ASSERT_EQ_STR(api_jstr(fin, "choices.0.finish_reason"), api_jstr(plain.json, "choices.0.finish_reason"));
    json_t *usage = json_array_get(events, n - 1);
    ASSERT_EQ_INT(json_array_size(api_jget(usage, "choices")), 0);
    ASSERT_EQ_INT(api_jint(usage, "usage.completion_tokens"), api_jint(plain.json, "usage.completion_tokens"));
    ASSERT_EQ_INT(api_jint(usage, "usage.prompt_tokens"), api_jint(plain.json, "usage.prompt_tokens"));
    /* Greedy: the streamed text is the plain text. */
    buf text = {0};
    stream_text(events, true, &text);
    ASSERT_EQ_STR(text.data, api_jstr(plain.json, "choices.0.message.content"));
    buf_free(&text);
    json_decref(events);
    api_resp_free(&plain);
    api_resp_free(&st);
    api_server_stop(&s);
}

TEST(api_completion_stream_matches_plain) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp plain, st;
    api_http(&s, "POST", "/completions",
             "{\"model\":\"tiny\",\"prompt\":\"\",\"max_tokens\":40,\"stop\":\"Lily\"}", NULL, &plain);
    api_http(&s, "POST", "/completions",
             "{\"model\":\"tiny\",\"prompt\":\"\",\"max_tokens\":40,\"stop\":\"Lily\",\"stream\":true}",
             NULL, &st);
    json_t *events = api_sse_events(st.body.data);
    size_t n = json_array_size(events);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ_STR(api_jstr(json_array_get(events, i), "object"), "text_completion");
        ASSERT_NULL(api_jget(json_array_get(events, i), "usage")); /* not asked for */
    }
    ASSERT_EQ_STR(api_jstr(json_array_get(events, n - 1), "choices.0.finish_reason"), "stop");
    buf text = {0};
    stream_text(events, false, &text);
    ASSERT_EQ_STR(text.data, "Once upon a time, there was a little girl named ");
    ASSERT_EQ_STR(text.data, api_jstr(plain.json, "choices.0.text"));
    buf_free(&text);
    json_decref(events);
    api_resp_free(&plain);
    api_resp_free(&st);
    api_server_stop(&s);
}

static size_t collect(char *p, size_t sz, size_t n, void *ud) {
    buf_append(ud, p, sz * n);
    return sz * n;
}

TEST(api_four_concurrent_streams) {
    api_server s;
    const char *extra[] = {"--parallel", "2", NULL};
    api_server_start(&s, extra);
    const char *prompts[4] = {"Once upon a time", "The dog", "Once upon a time", "Lily saw"};
    CURLM *m = curl_multi_init();
    CURL *h[4];
    buf bodies[4] = {{0}};
    char reqs[4][256], url[128];
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(url, sizeof url, "%s/v1/completions", s.base);
    for (int i = 0; i < 4; i++) {
        snprintf(reqs[i], sizeof reqs[i],
                 "{\"model\":\"tiny\",\"prompt\":\"%s\",\"max_tokens\":30,\"stream\":true}", prompts[i]);
        h[i] = curl_easy_init();
        curl_easy_setopt(h[i], CURLOPT_URL, url);
        curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(h[i], CURLOPT_POSTFIELDS, reqs[i]);
        curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(h[i], CURLOPT_WRITEDATA, &bodies[i]);
        curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 120L);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    while (running) {
        ASSERT_EQ_INT(curl_multi_perform(m, &running), CURLM_OK);
        if (running) curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    for (int i = 0; i < 4; i++) {
        long status = 0;
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &status);
        ASSERT_EQ_INT(status, 200);
        json_t *events = api_sse_events(bodies[i].data);
        buf text = {0};
        stream_text(events, false, &text);
        /* Each matches the same request made alone. */
        api_resp plain;
        char req[256];
        snprintf(req, sizeof req, "{\"model\":\"tiny\",\"prompt\":\"%s\",\"max_tokens\":30}", prompts[i]);
        api_http(&s, "POST", "/v1/completions", req, NULL, &plain);
        ASSERT_EQ_STR(text.data, api_jstr(plain.json, "choices.0.text"));
        ASSERT_EQ_STR(api_jstr(json_array_get(events, json_array_size(events) - 1),
                               "choices.0.finish_reason"), "length");
        api_resp_free(&plain);
        buf_free(&text);
        json_decref(events);
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
        buf_free(&bodies[i]);
    }
    curl_slist_free_all(hl);
    curl_multi_cleanup(m);
    api_server_stop(&s);
}

/* Abort the transfer as soon as the first content arrives. */
static size_t hang_up(char *p, size_t sz, size_t n, void *ud) {
    buf *b = ud;
    buf_append(b, p, sz * n);
    return strstr(b->data, "\"text\"") ? 0 : sz * n;
}

TEST(api_client_gone_frees_slot) {
    api_server s;
    const char *extra[] = {"--parallel", "1", NULL};
    api_server_start(&s, extra);
    /* No max_tokens: left alone it would fill the whole context. */
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "%s/v1/completions", s.base);
    buf got = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"model\":\"tiny\",\"prompt\":\"Once\",\"stream\":true}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hang_up);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    ASSERT_EQ_INT(curl_easy_perform(c), CURLE_WRITE_ERROR);
    curl_easy_cleanup(c);
    buf_free(&got);
    /* The server notices, cancels the generation well before the context is full... */
    char line[1024];
    if (test_wait_line(s.fd, "cancelled after", 30000, line, sizeof line))
        test_fail(__FILE__, __LINE__, "the generation was not cancelled");
    const char *p = strstr(line, "cancelled after ");
    ASSERT_TRUE(atoi(p + 16) < 1000);
    /* ...and the only slot serves the next request. */
    api_resp r;
    api_http(&s, "POST", "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"Once\",\"max_tokens\":5}", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(api_jint(r.json, "usage.completion_tokens"), 5);
    api_resp_free(&r);
    api_server_stop(&s);
}

/* Stop reading after the first content so the stream is left waiting on the server. */
static size_t read_one(char *p, size_t sz, size_t n, void *ud) {
    buf *b = ud;
    buf_append(b, p, sz * n);
    return sz * n;
}

TEST(api_shutdown_with_a_stream_in_flight) {
    api_server s;
    api_server_start(&s, NULL);
    CURLM *m = curl_multi_init();
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "%s/v1/chat/completions", s.base);
    buf got = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                     "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Go\"}],\"stream\":true}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, read_one);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_multi_add_handle(m, c);
    int running = 1;
    while (running && !(got.data && strstr(got.data, "\"content\""))) {
        curl_multi_perform(m, &running);
        if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    ASSERT_TRUE(running); /* still generating: no max_tokens */
    /* SIGTERM now: the server must stop cleanly (api_server_stop checks exit status 0). */
    api_server_stop(&s);
    while (running) {
        curl_multi_perform(m, &running);
        if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    curl_multi_remove_handle(m, c);
    curl_easy_cleanup(c);
    curl_multi_cleanup(m);
    buf_free(&got);
}

/* Start a streamed chat on m and run until its first bytes arrive: the role chunk, sent as
 * soon as the request is queued. */
static CURL *start_stream(CURLM *m, const char *url, buf *got) {
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                     "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Go\"}],\"stream\":true}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, read_one);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, got);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_multi_add_handle(m, c);
    int running = 1;
    while (running && !got->len) {
        curl_multi_perform(m, &running);
        if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    ASSERT_TRUE(running);
    return c;
}

TEST(api_full_queue_is_503_with_retry_after) {
    api_server s;
    const char *extra[] = {"--parallel", "1", "--queue-size", "1", NULL};
    api_server_start(&s, extra);
    char url[128];
    snprintf(url, sizeof url, "%s/v1/chat/completions", s.base);
    CURLM *m = curl_multi_init();
    buf ga = {0}, gb = {0};
    /* a takes the only slot; b (its headers already sent) waits in the queue. */
    CURL *a = start_stream(m, url, &ga);
    CURL *b = start_stream(m, url, &gb);
    api_resp r;
    api_http(&s, "POST", "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"Once\",\"max_tokens\":2}", NULL, &r);
    ASSERT_EQ_INT(r.status, 503);
    ASSERT_CONTAINS(r.headers.data, "Retry-After: 1");
    ASSERT_EQ_STR(api_jstr(r.json, "error.type"), "server_error");
    ASSERT_CONTAINS(api_jstr(r.json, "error.message"), "busy");
    api_resp_free(&r);
    /* Hang up both: the server cancels them and serves again. */
    curl_multi_remove_handle(m, a);
    curl_multi_remove_handle(m, b);
    curl_easy_cleanup(a);
    curl_easy_cleanup(b);
    curl_multi_cleanup(m);
    char line[1024];
    ASSERT_EQ_INT(test_wait_line(s.fd, "cancelled after", 30000, line, sizeof line), 0);
    ASSERT_EQ_INT(test_wait_line(s.fd, "cancelled after", 30000, line, sizeof line), 0);
    api_http(&s, "POST", "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"Once\",\"max_tokens\":2}", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    buf_free(&ga);
    buf_free(&gb);
    api_server_stop(&s);
}
