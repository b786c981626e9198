/*
 * GET /metrics: Prometheus text exposition of the server's counters (requests, statuses,
 * latency), the schedulers' (tokens in and out, time to first token, time in forward passes,
 * queue depth, busy slots), loaded models and resident memory.
 */
#include <stdio.h>
#include <unistd.h>

#include "api_int.h"
#include "sched/sched.h"

static long resident_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

#define METRIC(b, type, name, help, fmt, ...)                                               \
    buf_printf(b, "# HELP localai_" name " " help "\n# TYPE localai_" name " " type "\n"         \
                  "localai_" name fmt "\n", __VA_ARGS__)

static void on_metrics(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    server_stats ss;
    server_get_stats(srv_req_server(r), &ss);
    sched_metrics sm;
    sched_metrics_get(&sm);
    buf b = {0};
    buf_printf(&b, "# HELP localai_http_requests_total HTTP requests answered, by status class.\n"
                   "# TYPE localai_http_requests_total counter\n");
    buf_printf(&b, "localai_http_requests_total{code=\"2xx\"} %ld\n", ss.status_2xx);
    buf_printf(&b, "localai_http_requests_total{code=\"4xx\"} %ld\n", ss.status_4xx);
    buf_printf(&b, "localai_http_requests_total{code=\"5xx\"} %ld\n", ss.status_5xx);
    buf_printf(&b, "localai_http_requests_total{code=\"other\"} %ld\n", ss.status_other);
    METRIC(&b, "counter", "http_request_duration_seconds_sum", "Time spent serving requests.", " %.6f", ss.seconds);
    METRIC(&b, "counter", "http_request_duration_seconds_count", "Requests timed.", " %ld", ss.requests);
    METRIC(&b, "counter", "http_requests_aborted_total", "Connections that ended before the response did.", " %ld", ss.client_gone);
    METRIC(&b, "gauge", "http_requests_in_flight", "Requests being served.", " %ld", ss.in_flight);
    buf_printf(&b, "# HELP localai_generations_total Generations ended, by reason.\n"
                   "# TYPE localai_generations_total counter\n");
    buf_printf(&b, "localai_generations_total{finish=\"stop\"} %ld\n", sm.jobs_done);
    buf_printf(&b, "localai_generations_total{finish=\"length\"} %ld\n", sm.jobs_length);
    buf_printf(&b, "localai_generations_total{finish=\"cancelled\"} %ld\n", sm.jobs_cancelled);
    buf_printf(&b, "localai_generations_total{finish=\"error\"} %ld\n", sm.jobs_failed);
    METRIC(&b, "counter", "prompt_tokens_total", "Prompt tokens evaluated.", " %ld", sm.prompt_tokens);
    METRIC(&b, "counter", "prompt_tokens_cached_total", "Prompt tokens reused from a slot's cache.", " %ld", sm.prompt_tokens_cached);
    METRIC(&b, "counter", "generated_tokens_total", "Tokens generated.", " %ld", sm.generated_tokens);
    METRIC(&b, "counter", "time_to_first_token_seconds_sum", "Submit to first token, summed.", " %.6f", sm.ttft_seconds);
    METRIC(&b, "counter", "time_to_first_token_seconds_count", "Generations with a first token.", " %ld", sm.ttft_count);
    METRIC(&b, "counter", "forward_seconds_total", "Time in forward passes.", " %.6f", sm.decode_seconds);
    METRIC(&b, "counter", "forward_passes_total", "Forward passes.", " %ld", sm.decode_calls);
    METRIC(&b, "counter", "forward_rows_total", "Token rows over all forward passes.", " %ld", sm.decode_rows);
    METRIC(&b, "gauge", "tokens_per_second", "Rows per second of forward-pass time since start.", " %.3f",
           sm.decode_seconds > 0 ? sm.decode_rows / sm.decode_seconds : 0.0);
    METRIC(&b, "gauge", "queue_depth", "Requests waiting for a slot.", " %ld", sm.queued);
    METRIC(&b, "gauge", "slots_busy", "Slots generating.", " %ld", sm.active);
    METRIC(&b, "gauge", "models_loaded", "Models in memory.", " %d", ctx->models ? mdl_registry_n_loaded(ctx->models) : 0);
    METRIC(&b, "gauge", "resident_memory_bytes", "Resident memory of the process.", " %ld", resident_bytes());
    if (b.oom) srv_respond_error(r, 500, "server_error", "out of memory");
    else srv_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    buf_free(&b);
}

int api_register_metrics(server *s, api_ctx *ctx) {
    return server_route(s, "GET", "/metrics", on_metrics, ctx);
}
