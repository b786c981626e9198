/* GET /metrics: Prometheus text whose counters follow the requests the server served. */
#include <stdlib.h>
#include <unistd.h>

#include "api_util.h"

/* The value of the first sample line starting with `name` (exact up to a space or '{...} '). */
static double metric(const char *text, const char *name) {
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (*p == '#' || strncmp(p, name, n) != 0 || (p[n] != ' ' && p[n] != '{')) continue;
        const char *sp = strchr(p, ' ');
        return sp ? atof(sp + 1) : -1;
    }
    test_fail(__FILE__, __LINE__, "metric %s not found in:\n%s", name, text);
}

TEST(api_metrics_counts_requests_and_tokens) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    api_http(&s, "GET", "/metrics", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_CONTAINS(r.body.data, "# TYPE localai_generated_tokens_total counter");
    ASSERT_EQ_INT(metric(r.body.data, "localai_generated_tokens_total"), 0);
    ASSERT_EQ_INT(metric(r.body.data, "localai_models_loaded"), 0);
    api_resp_free(&r);

    api_http(&s, "POST", "/v1/completions",
             "{\"model\":\"tiny\",\"prompt\":\"Once upon a time\",\"max_tokens\":7,\"temperature\":0}", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    long prompt = api_jint(r.json, "usage.prompt_tokens");
    api_resp_free(&r);
    api_http(&s, "GET", "/v1/models/nope", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    api_resp_free(&r);

    /* A request is counted when its connection completes, which may be just after the client
     * has the response: poll (bounded) until the completion (2xx) and the 404 both show. */
    for (int tries = 0;; tries++) {
        api_http(&s, "GET", "/metrics", NULL, NULL, &r);
        ASSERT_EQ_INT(r.status, 200);
        if ((strstr(r.body.data, "localai_http_requests_total{code=\"4xx\"} 1\n") &&
             metric(r.body.data, "localai_http_requests_total") >= 2) || tries == 100)
            break;
        api_resp_free(&r);
        usleep(20000);
    }
    const char *t = r.body.data;
    ASSERT_EQ_INT(metric(t, "localai_generated_tokens_total"), 7);
    ASSERT_EQ_INT(metric(t, "localai_prompt_tokens_total") + metric(t, "localai_prompt_tokens_cached_total"), prompt);
    ASSERT_EQ_INT(metric(t, "localai_time_to_first_token_seconds_count"), 1);
    ASSERT_TRUE(metric(t, "localai_time_to_first_token_seconds_sum") > 0);
    ASSERT_EQ_INT(metric(t, "localai_models_loaded"), 1);
    ASSERT_EQ_INT(metric(t, "localai_queue_depth"), 0);
    ASSERT_EQ_INT(metric(t, "localai_slots_busy"), 0);
    ASSERT_CONTAINS(t, "localai_generations_total{finish=\"length\"} 1\n");
    ASSERT_CONTAINS(t, "localai_http_requests_total{code=\"4xx\"} 1\n");
    /* At least the first /metrics and the completion; this request is still in flight. */
    ASSERT_TRUE(metric(t, "localai_http_requests_total") >= 2);
    ASSERT_TRUE(metric(t, "localai_http_requests_in_flight") >= 1);
    ASSERT_TRUE(metric(t, "localai_resident_memory_bytes") > 1e6);
    api_resp_free(&r);
    api_server_stop(&s);
}
