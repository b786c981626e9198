/*
 * `local-ai perplexity`: the perplexity of a text, computed as llama.cpp's perplexity tool
 * does: the text is cut into chunks of n_ctx tokens, each evaluated from an empty cache (BOS
 * first), and only the second half of each chunk is scored, so every scored token has at
 * least n_ctx/2 tokens of context.
 */
#include <getopt.h>
#include <math.h>
#include <string.h>

#include "cli.h"
#include "tokenizer/tokenizer.h"

void cmd_perplexity_usage(FILE *f) {
    fprintf(f, "usage: local-ai perplexity -m MODEL -f TEXT [flags]\n\n"
               "Compute the perplexity of a text file.\n\n"
               "flags:\n"
               "  -m, --model FILE      GGUF model\n"
               "  -f, --file FILE       the text\n"
               "  -c, --ctx N           tokens per chunk (default 512)\n"
               "  -t, --threads N       compute threads (default: all CPUs)\n"
               "  -h, --help            show this help\n");
}

int cmd_perplexity(int argc, char **argv) {
    const cli_command *self = cli_find("perplexity");
    const char *model = NULL, *file = NULL;
    unsigned threads = cli_default_threads(), ctx = 512;
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"file", required_argument, NULL, 'f'},
        {"ctx", required_argument, NULL, 'c'},   {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":m:f:c:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'f': file = optarg; break;
        case 'c':
            if (cli_parse_uint(optarg, 4, 1u << 20, &ctx)) return cli_usage_error(self, "bad context size '%s'", optarg);
            break;
        case 't':
            if (cli_parse_uint(optarg, 1, 1024, &threads)) return cli_usage_error(self, "bad thread count '%s'", optarg);
            break;
        case 'h': cmd_perplexity_usage(stdout); return 0;
        case ':': return cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(self, "unexpected argument '%s'", argv[optind]);
    if (!model) return cli_usage_error(self, "missing -m MODEL");
    if (!file) return cli_usage_error(self, "missing -f TEXT");

    err_buf eb = {0};
    char *text;
    size_t len;
    if (file_read_all(file, &text, &len, &eb)) {
        fprintf(stderr, "local-ai perplexity: %s\n", err_msg(&eb));
        return 1;
    }
    llm_model *m;
    tpool *pool;
    if (cli_open_model(model, threads, &m, &pool)) {
        mem_free(text);
        return 1;
    }
    int rc = 1;
    tok *tk = NULL;
    llm_session *s = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    if (tok_load(llm_model_gguf(m), &tk, &eb) || tok_encode(tk, text, len, false, false, &ids, &n, &eb))
        goto fail;
    int n_ctx = (int)ctx;
    if ((int)n < n_ctx) {
        err_set(&eb, BASE_EINVAL, "the text has %zu tokens, fewer than one chunk of %d", n, n_ctx);
        goto fail;
    }
    llm_session_params sp = llm_session_default_params();
    sp.n_ctx = n_ctx;
    sp.n_batch = n_ctx;
    sp.all_logits = true;
    if (llm_session_new(m, &sp, pool, &s, &eb)) goto fail;
    int V = llm_model_hparams(m)->n_vocab, n_chunks = (int)n / n_ctx, first = n_ctx / 2;
    int32_t bos = tok_bos(tk);
    double nll = 0;
    long count = 0;
    printf("%d chunks of %d tokens\n", n_chunks, n_ctx);
    for (int ch = 0; ch < n_chunks; ch++) {
        int32_t *chunk = ids + (size_t)ch * n_ctx;
        int32_t saved = chunk[0];
        if (bos != TOK_NULL && tok_add_bos(tk)) chunk[0] = bos;
        llm_session_truncate(s, 0);
        int r = llm_decode(s, chunk, n_ctx, true, &eb);
        chunk[0] = saved;
        if (r) goto fail;
        for (int i = first; i < n_ctx - 1; i++) {
            const float *l = llm_logits(s, i);
            float mx = l[0];
            for (int v = 1; v < V; v++) mx = l[v] > mx ? l[v] : mx;
            double sum = 0;
            for (int v = 0; v < V; v++) sum += exp((double)l[v] - mx);
            nll += -((double)l[chunk[i + 1]] - mx - log(sum));
            count++;
        }
        printf("[%d]%.4f%s", ch + 1, exp(nll / count), ch + 1 < n_chunks ? "," : "\n");
        fflush(stdout);
    }
    printf("Final estimate: PPL = %.4f\n", exp(nll / count));
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "local-ai perplexity: %s\n", err_msg(&eb));
done:
    llm_session_free(s);
    mem_free(ids);
    tok_free(tk);
    cli_close_model(m, pool);
    mem_free(text);
    return rc;
}
