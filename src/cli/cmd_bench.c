/*
 * `local-ai bench`: prompt processing and generation speed, measured like llama-bench's pp
 * and tg tests (random tokens, an empty cache for each repetition, one warm-up run).
 */
#include <getopt.h>
#include <math.h>
#include <string.h>

#include "cli.h"

void cmd_bench_usage(FILE *f) {
    fprintf(f, "usage: local-ai bench -m MODEL [flags]\n\n"
               "Measure prompt (pp) and generation (tg) speed in tokens per second.\n\n"
               "flags:\n"
               "  -m, --model FILE      GGUF model\n"
               "  -p, --n-prompt N      prompt tokens, one batch (default 128; 0 skips)\n"
               "  -n, --n-gen N         generated tokens, one at a time (default 32; 0 skips)\n"
               "  -t, --threads N       compute threads (default: all CPUs)\n"
               "  -r, --repetitions N   repetitions of each test (default 3)\n"
               "  --kv f16|f32          KV cache type (default f16)\n"
               "  --json                print JSON instead of a table\n"
               "  -h, --help            show this help\n");
}

typedef struct result {
    const char *name;
    int n;
    double mean, sd; /* tokens per second */
} result;

static void stats(const double *ts, int r, int n, result *out) {
    double sum = 0, sq = 0;
    for (int i = 0; i < r; i++) {
        double v = n / ts[i];
        sum += v;
        sq += v * v;
    }
    out->mean = sum / r;
    out->sd = r > 1 ? sqrt(fmax(0, (sq - sum * sum / r) / (r - 1))) : 0;
}

/* Seconds for one run: pp decodes n tokens as one batch, tg n single tokens. */
static int run_once(llm_session *s, const int32_t *toks, int n, bool batch, double *secs, err_buf *eb) {
    llm_session_truncate(s, 0);
    uint64_t t0 = time_now_ns();
    if (batch) {
        if (llm_decode(s, toks, n, false, eb)) return 1;
    } else {
        for (int i = 0; i < n; i++)
            if (llm_decode(s, toks + i, 1, false, eb)) return 1;
    }
    *secs = (double)(time_now_ns() - t0) / 1e9;
    return 0;
}

int cmd_bench(int argc, char **argv) {
    const cli_command *self = cli_find("bench");
    const char *model = NULL, *kv = "f16";
    unsigned threads = cli_default_threads(), np = 128, ng = 32, reps = 3;
    bool json = false;
    enum { OPT_KV = 1, OPT_JSON };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},  {"n-prompt", required_argument, NULL, 'p'},
        {"n-gen", required_argument, NULL, 'n'},  {"threads", required_argument, NULL, 't'},
        {"repetitions", required_argument, NULL, 'r'}, {"kv", required_argument, NULL, OPT_KV},
        {"json", no_argument, NULL, OPT_JSON},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":m:p:n:t:r:h", opts, NULL)) != -1) {
        unsigned *dst = NULL;
        unsigned lo = 0, hi = 1u << 20;
        const char *what = NULL;
        switch (c) {
        case 'm': model = optarg; continue;
        case OPT_KV: kv = optarg; continue;
        case OPT_JSON: json = true; continue;
        case 'p': dst = &np, what = "prompt size"; break;
        case 'n': dst = &ng, what = "generation count"; break;
        case 't': dst = &threads, lo = 1, hi = 1024, what = "thread count"; break;
        case 'r': dst = &reps, lo = 1, hi = 1000, what = "repetition count"; break;
        case 'h': cmd_bench_usage(stdout); return 0;
        case ':': return cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]);
        }
        if (cli_parse_uint(optarg, lo, hi, dst)) return cli_usage_error(self, "bad %s '%s'", what, optarg);
    }
    if (optind < argc) return cli_usage_error(self, "unexpected argument '%s'", argv[optind]);
    if (!model) return cli_usage_error(self, "missing -m MODEL");
    if (strcmp(kv, "f16") && strcmp(kv, "f32")) return cli_usage_error(self, "bad --kv '%s' (f16 or f32)", kv);
    if (!np && !ng) return cli_usage_error(self, "nothing to measure (-p 0 and -n 0)");

    llm_model *m;
    tpool *pool;
    uint64_t t_load = time_now_ns();
    if (cli_open_model(model, threads, &m, &pool)) return 1;
    t_load = time_now_ns() - t_load;
    llm_model_settle(m); /* no cache write running while we measure */
    const llm_hparams *hp = llm_model_hparams(m);
    err_buf eb = {0};
    llm_session_params sp = llm_session_default_params();
    sp.n_ctx = (int)(np > ng ? np : ng) + 1;
    sp.n_batch = np ? (int)np : 1;
    sp.kv_f32 = !strcmp(kv, "f32");
    llm_session *s = NULL;
    int rc = 1;
    int32_t *toks = mem_alloc((size_t)(np > ng ? np : ng) * sizeof *toks);
    double *ts = mem_alloc(reps * sizeof *ts);
    if (!toks || !ts || llm_session_new(m, &sp, pool, &s, &eb)) {
        fprintf(stderr, "local-ai bench: %s\n", eb.msg[0] ? err_msg(&eb) : "out of memory");
        goto done;
    }
    uint64_t seed = 12345;
    for (unsigned i = 0; i < (np > ng ? np : ng); i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((seed >> 33) % (uint64_t)hp->n_vocab);
    }
    result res[2];
    int nres = 0;
    for (int test = 0; test < 2; test++) {
        unsigned n = test == 0 ? np : ng;
        if (!n) continue;
        double warm;
        if (run_once(s, toks, (int)n, test == 0, &warm, &eb)) goto fail;
        for (unsigned r = 0; r < reps; r++)
            if (run_once(s, toks, (int)n, test == 0, &ts[r], &eb)) goto fail;
        res[nres].name = test == 0 ? "pp" : "tg";
        res[nres].n = (int)n;
        stats(ts, (int)reps, (int)n, &res[nres]);
        nres++;
    }
    const char *desc = llm_model_describe(m);
    double gib = (double)hp->weight_bytes / (1024.0 * 1024 * 1024);
    if (json) {
        printf("[");
        for (int i = 0; i < nres; i++)
            printf("%s\n  {\"model\": \"%s\", \"model_size\": %llu, \"threads\": %u, \"kv\": \"%s\", "
                   "\"load_ms\": %.1f, \"test\": \"%s%d\", \"n_tokens\": %d, \"avg_ts\": %.3f, \"stddev_ts\": %.3f}",
                   i ? "," : "", model, (unsigned long long)hp->weight_bytes, threads, kv, t_load / 1e6,
                   res[i].name, res[i].n, res[i].n, res[i].mean, res[i].sd);
        printf("\n]\n");
    } else {
        printf("model: %s (loaded in %.1f ms)\n", desc, t_load / 1e6);
        printf("| %-40s | %10s | %7s | %6s | %18s |\n", "model", "size", "threads", "test", "t/s");
        for (int i = 0; i < nres; i++) {
            char name[16];
            snprintf(name, sizeof name, "%s%d", res[i].name, res[i].n);
            printf("| %-40.40s | %6.2f GiB | %7u | %6s | %9.2f ± %6.2f |\n", model, gib, threads, name,
                   res[i].mean, res[i].sd);
        }
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "local-ai bench: %s\n", err_msg(&eb));
done:
    llm_session_free(s);
    mem_free(toks);
    mem_free(ts);
    cli_close_model(m, pool);
    return rc;
}
