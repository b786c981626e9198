/*
 * `local-ai embed`: print the sentence embedding of each TEXT with an encoder (bert) model,
 * one vector per line (floats separated by spaces) or, with --json, one JSON array of
 * arrays. Vectors are pooled (the model's pooling unless --pooling) and L2-normalized, the
 * same numbers /v1/embeddings returns.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "tokenizer/tokenizer.h"

void cmd_embed_usage(FILE *f) {
    fprintf(f, "usage: local-ai embed -m MODEL [--pooling mean|cls|last] [--json] TEXT...\n\n"
               "Print the L2-normalized embedding of each TEXT, one per line.\n\n"
               "flags:\n"
               "  -m, --model PATH      an encoder GGUF (architecture bert)\n"
               "  --pooling P           mean, cls or last (default: what the model says)\n"
               "  --json                print one JSON array of vectors\n"
               "  -t, --threads N       compute threads (default: all CPUs)\n"
               "  -h, --help            show this help\n");
}

static int print_vectors(const float *v, int n, int E, bool json) {
    if (json) fputc('[', stdout);
    for (int i = 0; i < n; i++) {
        if (json) fputs(i ? ",[" : "[", stdout);
        for (int d = 0; d < E; d++)
            printf(json ? "%s%.8g" : "%s%.8g", d ? (json ? "," : " ") : "", v[(size_t)i * E + d]);
        fputs(json ? "]" : "\n", stdout);
    }
    if (json) fputs("]\n", stdout);
    return ferror(stdout) ? 1 : 0;
}

int cmd_embed(int argc, char **argv) {
    const cli_command *self = cli_find("embed");
    const char *model = NULL;
    int pooling = LLM_POOL_DEFAULT;
    bool json = false;
    unsigned threads = cli_default_threads();
    enum { OPT_POOLING = 1, OPT_JSON };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"pooling", required_argument, NULL, OPT_POOLING},
        {"json", no_argument, NULL, OPT_JSON},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":m:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case OPT_JSON: json = true; break;
        case OPT_POOLING:
            if (!strcmp(optarg, "mean")) pooling = LLM_POOL_MEAN;
            else if (!strcmp(optarg, "cls")) pooling = LLM_POOL_CLS;
            else if (!strcmp(optarg, "last")) pooling = LLM_POOL_LAST;
            else return cli_usage_error(self, "--pooling must be mean, cls or last, not '%s'", optarg);
            break;
        case 't':
            if (cli_parse_uint(optarg, 1, 1024, &threads))
                return cli_usage_error(self, "--threads must be a number from 1 to 1024");
            break;
        case 'h': cmd_embed_usage(stdout); return 0;
        case ':': return cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (!model) return cli_usage_error(self, "no model given (-m MODEL)");
    if (optind >= argc) return cli_usage_error(self, "no text given");

    llm_model *m;
    tpool *pool;
    int rc = cli_open_model(model, threads, &m, &pool);
    if (rc) return rc;
    err_buf eb = {0};
    tok *t = NULL;
    int n = argc - optind, E = llm_model_hparams(m)->n_embd, ret = 1;
    int32_t **ids = mem_calloc((size_t)n, sizeof *ids);
    int *lens = mem_calloc((size_t)n, sizeof *lens);
    float *out = mem_alloc((size_t)n * (size_t)E * sizeof *out);
    if (!ids || !lens || !out) {
        fprintf(stderr, "local-ai embed: out of memory\n");
        goto done;
    }
    if (tok_load(llm_model_gguf(m), &t, &eb)) {
        fprintf(stderr, "local-ai embed: cannot load the vocabulary: %s\n", err_msg(&eb));
        goto done;
    }
    for (int i = 0; i < n; i++) {
        size_t cnt = 0;
        const char *text = argv[optind + i];
        if (tok_encode(t, text, strlen(text), true, false, &ids[i], &cnt, &eb)) {
            fprintf(stderr, "local-ai embed: cannot tokenize text %d: %s\n", i + 1, err_msg(&eb));
            goto done;
        }
        lens[i] = (int)cnt;
    }
    if (llm_embed(m, pool, (const int32_t *const *)ids, lens, n, pooling, true, out, &eb)) {
        fprintf(stderr, "local-ai embed: %s\n", err_msg(&eb));
        goto done;
    }
    ret = print_vectors(out, n, E, json);
done:
    for (int i = 0; ids && i < n; i++) mem_free(ids[i]);
    mem_free(ids);
    mem_free(lens);
    mem_free(out);
    tok_free(t);
    cli_close_model(m, pool);
    return ret;
}
