/*
 * `local-ai eval`: run a list of token ids through a model and write the logits of every
 * position (float32, n_tokens x n_vocab, row-major). This is how the engine is checked
 * against reference logits.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cmd_eval_usage(FILE *f) {
    fprintf(f, "usage: local-ai eval -m MODEL --tokens FILE --logits-out OUT.f32 [flags]\n\n"
               "Evaluate token ids (one per line) and write the logits of every position as\n"
               "little-endian float32, n_tokens x n_vocab, row-major.\n\n"
               "flags:\n"
               "  -m, --model FILE      GGUF model\n"
               "  --tokens FILE         token ids, one per line\n"
               "  --logits-out FILE     where to write the logits\n"
               "  -t, --threads N       compute threads (default: all CPUs)\n"
               "  -b, --batch N         tokens per forward pass (default 512)\n"
               "  -c, --ctx N           context size (default: the number of tokens)\n"
               "  --kv f16|f32          KV cache type (default f16)\n"
               "  -h, --help            show this help\n");
}

/* Read whitespace-separated token ids. */
static int read_tokens(const char *path, int32_t **out, int *n) {
    err_buf eb = {0};
    char *text;
    size_t len;
    if (file_read_all(path, &text, &len, &eb)) {
        fprintf(stderr, "local-ai eval: %s\n", err_msg(&eb));
        return 1;
    }
    int cap = 256, cnt = 0;
    int32_t *ids = mem_alloc((size_t)cap * sizeof *ids);
    char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
        if (!*p) break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > INT32_MAX) {
            fprintf(stderr, "local-ai eval: %s: bad token id near '%.20s'\n", path, p);
            mem_free(ids);
            mem_free(text);
            return 1;
        }
        if (cnt == cap) ids = mem_realloc(ids, (size_t)(cap *= 2) * sizeof *ids);
        ids[cnt++] = (int32_t)v;
        p = end;
    }
    mem_free(text);
    *out = ids;
    *n = cnt;
    return 0;
}

int cmd_eval(int argc, char **argv) {
    const cli_command *self = cli_find("eval");
    const char *model = NULL, *tokens_path = NULL, *out_path = NULL, *kv = "f16";
    unsigned threads = cli_default_threads(), batch = 512, ctx = 0;
    enum { OPT_TOKENS = 1, OPT_OUT, OPT_KV };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},  {"tokens", required_argument, NULL, OPT_TOKENS},
        {"logits-out", required_argument, NULL, OPT_OUT}, {"threads", required_argument, NULL, 't'},
        {"batch", required_argument, NULL, 'b'},  {"ctx", required_argument, NULL, 'c'},
        {"kv", required_argument, NULL, OPT_KV},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":m:t:b:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case OPT_TOKENS: tokens_path = optarg; break;
        case OPT_OUT: out_path = optarg; break;
        case OPT_KV: kv = optarg; break;
        case 't':
            if (cli_parse_uint(optarg, 1, 1024, &threads)) return cli_usage_error(self, "bad thread count '%s'", optarg);
            break;
        case 'b':
            if (cli_parse_uint(optarg, 1, 65536, &batch)) return cli_usage_error(self, "bad batch size '%s'", optarg);
            break;
        case 'c':
            if (cli_parse_uint(optarg, 1, 1u << 24, &ctx)) return cli_usage_error(self, "bad context size '%s'", optarg);
            break;
        case 'h': cmd_eval_usage(stdout); return 0;
        case ':': return cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(self, "unexpected argument '%s'", argv[optind]);
    if (!model) return cli_usage_error(self, "missing -m MODEL");
    if (!tokens_path) return cli_usage_error(self, "missing --tokens FILE");
    if (!out_path) return cli_usage_error(self, "missing --logits-out FILE");
    if (strcmp(kv, "f16") && strcmp(kv, "f32")) return cli_usage_error(self, "bad --kv '%s' (f16 or f32)", kv);

    int32_t *ids;
    int n;
    if (read_tokens(tokens_path, &ids, &n)) return 1;
    if (n == 0) {
        fprintf(stderr, "local-ai eval: %s holds no token ids\n", tokens_path);
        mem_free(ids);
        return 1;
    }
    llm_model *m;
    tpool *pool;
    if (cli_open_model(model, threads, &m, &pool)) {
        mem_free(ids);
        return 1;
    }
    int rc = 1;
    err_buf eb = {0};
    llm_session_params sp = llm_session_default_params();
    sp.n_ctx = ctx ? (int)ctx : n;
    sp.n_batch = (int)batch;
    sp.kv_f32 = !strcmp(kv, "f32");
    sp.all_logits = true;
    llm_session *s = NULL;
    FILE *f = NULL;
    if (llm_session_new(m, &sp, pool, &s, &eb)) {
        fprintf(stderr, "local-ai eval: %s\n", err_msg(&eb));
        goto done;
    }
    f = fopen(out_path, "wb");
    if (!f) {
        fprintf(stderr, "local-ai eval: cannot write %s\n", out_path);
        goto done;
    }
    int n_vocab = llm_model_hparams(m)->n_vocab, nb = llm_session_n_ctx(s) < (int)batch ? llm_session_n_ctx(s) : (int)batch;
    for (int off = 0; off < n; off += nb) {
        int cnt = n - off < nb ? n - off : nb;
        if (llm_decode(s, ids + off, cnt, true, &eb)) {
            fprintf(stderr, "local-ai eval: %s\n", err_msg(&eb));
            goto done;
        }
        for (int i = 0; i < cnt; i++)
            if (fwrite(llm_logits(s, i), sizeof(float), (size_t)n_vocab, f) != (size_t)n_vocab) {
                fprintf(stderr, "local-ai eval: write error on %s\n", out_path);
                goto done;
            }
    }
    rc = 0;
done:
    if (f && fclose(f) && !rc) {
        fprintf(stderr, "local-ai eval: write error on %s\n", out_path);
        rc = 1;
    }
    llm_session_free(s);
    cli_close_model(m, pool);
    mem_free(ids);
    return rc;
}
