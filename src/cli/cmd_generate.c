/*
 * `local-ai generate`: complete a prompt and stream the text to stdout as it is produced.
 * Timings go to stderr, so stdout holds only the generated text.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sample/sample.h"
#include "tokenizer/tokenizer.h"

void cmd_generate_usage(FILE *f) {
    fprintf(f, "usage: local-ai generate -m MODEL -p PROMPT [flags]\n\n"
               "Continue PROMPT and stream the text to stdout.\n\n"
               "flags:\n"
               "  -m, --model FILE        GGUF model\n"
               "  -p, --prompt TEXT       the prompt (special tokens such as <|im_start|> are parsed)\n"
               "  -f, --file FILE         read the prompt from a file\n"
               "  -n, --n-predict N       tokens to generate (default 128)\n"
               "  --temp T                temperature, 0 for greedy (default 0.8)\n"
               "  --top-k K               (default 40, 0 off)\n"
               "  --top-p P               (default 0.95, 1 off)\n"
               "  --min-p P               (default 0.05, 0 off)\n"
               "  --repeat-penalty R      (default 1.0, off)\n"
               "  --repeat-last-n N       tokens the penalty looks back (default 64)\n"
               "  --presence-penalty P    (default 0)\n"
               "  --frequency-penalty P   (default 0)\n"
               "  -s, --seed S            random seed (default: from the clock)\n"
               "  --stop TEXT             stop when TEXT is generated (repeatable)\n"
               "  -c, --ctx N             context size (default: prompt + n, capped by the model)\n"
               "  -t, --threads N         compute threads (default: all CPUs)\n"
               "  --no-bos                do not add the BOS token\n"
               "  --ignore-eos            keep going past end-of-generation tokens\n"
               "  -h, --help              show this help\n");
}

static int parse_float(const char *s, float *out) {
    char *end;
    float v = strtof(s, &end);
    if (end == s || *end) return 1;
    *out = v;
    return 0;
}

#define MAX_STOPS 16

int cmd_generate(int argc, char **argv) {
    const cli_command *self = cli_find("generate");
    const char *model = NULL, *prompt = NULL, *file = NULL;
    const char *stops[MAX_STOPS];
    int n_stops = 0;
    unsigned threads = cli_default_threads(), n_predict = 128, ctx = 0;
    bool no_bos = false, ignore_eos = false;
    smp_params sp = smp_default_params();
    enum { O_TEMP = 1, O_TOPK, O_TOPP, O_MINP, O_REP, O_REPN, O_PRES, O_FREQ, O_STOP, O_NOBOS, O_IGNEOS };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"prompt", required_argument, NULL, 'p'},
        {"file", required_argument, NULL, 'f'}, {"n-predict", required_argument, NULL, 'n'},
        {"temp", required_argument, NULL, O_TEMP}, {"top-k", required_argument, NULL, O_TOPK},
        {"top-p", required_argument, NULL, O_TOPP}, {"min-p", required_argument, NULL, O_MINP},
        {"repeat-penalty", required_argument, NULL, O_REP}, {"repeat-last-n", required_argument, NULL, O_REPN},
        {"presence-penalty", required_argument, NULL, O_PRES}, {"frequency-penalty", required_argument, NULL, O_FREQ},
        {"seed", required_argument, NULL, 's'}, {"stop", required_argument, NULL, O_STOP},
        {"ctx", required_argument, NULL, 'c'}, {"threads", required_argument, NULL, 't'},
        {"no-bos", no_argument, NULL, O_NOBOS}, {"ignore-eos", no_argument, NULL, O_IGNEOS},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":m:p:f:n:s:c:t:h", opts, NULL)) != -1) {
        const char *a = optarg;
        unsigned u;
        switch (c) {
        case 'm': model = a; break;
        case 'p': prompt = a; break;
        case 'f': file = a; break;
        case 'n':
            if (cli_parse_uint(a, 0, 1u << 24, &n_predict)) return cli_usage_error(self, "bad token count '%s'", a);
            break;
        case 'c':
            if (cli_parse_uint(a, 1, 1u << 24, &ctx)) return cli_usage_error(self, "bad context size '%s'", a);
            break;
        case 't':
            if (cli_parse_uint(a, 1, 1024, &threads)) return cli_usage_error(self, "bad thread count '%s'", a);
            break;
        case 's': {
            char *end;
            unsigned long long v = strtoull(a, &end, 10);
            if (end == a || *end) return cli_usage_error(self, "bad seed '%s'", a);
            sp.seed = v;
            break;
        }
        case O_TEMP: if (parse_float(a, &sp.temperature)) return cli_usage_error(self, "bad temperature '%s'", a); break;
        case O_TOPP: if (parse_float(a, &sp.top_p)) return cli_usage_error(self, "bad top-p '%s'", a); break;
        case O_MINP: if (parse_float(a, &sp.min_p)) return cli_usage_error(self, "bad min-p '%s'", a); break;
        case O_REP: if (parse_float(a, &sp.repeat_penalty)) return cli_usage_error(self, "bad repeat penalty '%s'", a); break;
        case O_PRES: if (parse_float(a, &sp.presence_penalty)) return cli_usage_error(self, "bad presence penalty '%s'", a); break;
        case O_FREQ: if (parse_float(a, &sp.frequency_penalty)) return cli_usage_error(self, "bad frequency penalty '%s'", a); break;
        case O_TOPK:
            if (cli_parse_uint(a, 0, 1u << 24, &u)) return cli_usage_error(self, "bad top-k '%s'", a);
            sp.top_k = (int)u;
            break;
        case O_REPN:
            if (cli_parse_uint(a, 0, 1u << 16, &u)) return cli_usage_error(self, "bad repeat-last-n '%s'", a);
            sp.repeat_last_n = (int)u;
            break;
        case O_STOP:
            if (n_stops == MAX_STOPS) return cli_usage_error(self, "at most %d --stop strings", MAX_STOPS);
            stops[n_stops++] = a;
            break;
        case O_NOBOS: no_bos = true; break;
        case O_IGNEOS: ignore_eos = true; break;
        case 'h': cmd_generate_usage(stdout); return 0;
        case ':': return cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(self, "unexpected argument '%s'", argv[optind]);
    if (!model) return cli_usage_error(self, "missing -m MODEL");
    if (!prompt && !file) return cli_usage_error(self, "missing -p PROMPT or -f FILE");
    if (prompt && file) return cli_usage_error(self, "give -p or -f, not both");

    char *file_text = NULL;
    err_buf eb = {0};
    if (file && file_read_all(file, &file_text, NULL, &eb)) {
        fprintf(stderr, "local-ai generate: %s\n", err_msg(&eb));
        return 1;
    }
    if (file) prompt = file_text;

    llm_model *m;
    tpool *pool;
    if (cli_open_model(model, threads, &m, &pool)) {
        mem_free(file_text);
        return 1;
    }
    int rc = 1;
    tok *tk = NULL;
    llm_session *s = NULL;
    smp *sm = NULL;
    smp_stop *st = NULL;
    tok_decoder *dec = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    buf piece = {0}, out = {0};
    if (tok_load(llm_model_gguf(m), &tk, &eb) ||
        tok_encode(tk, prompt, strlen(prompt), !no_bos, true, &ids, &n_ids, &eb))
        goto fail;
    if (n_ids == 0) {
        err_set(&eb, BASE_EINVAL, "the prompt is empty");
        goto fail;
    }
    llm_session_params lp = llm_session_default_params();
    lp.n_ctx = ctx ? (int)ctx : (int)(n_ids + n_predict);
    int n_train = llm_model_hparams(m)->n_ctx_train;
    if (!ctx && n_train > 0 && lp.n_ctx > n_train) lp.n_ctx = n_train;
    lp.n_batch = 512;
    if (llm_session_new(m, &lp, pool, &s, &eb) ||
        smp_new(&sp, llm_model_hparams(m)->n_vocab, &sm, &eb))
        goto fail;
    if (smp_stop_new(stops, n_stops, &st) || !(dec = tok_decoder_new(tk, false))) {
        err_set(&eb, BASE_ENOMEM, "out of memory");
        goto fail;
    }
    uint64_t t0 = time_now_ns();
    if (llm_decode(s, ids, (int)n_ids, false, &eb)) goto fail;
    for (size_t i = 0; i < n_ids; i++) smp_accept(sm, ids[i]);
    uint64_t t1 = time_now_ns();
    unsigned n_gen = 0;
    bool stopped = false;
    const char *why = "length";
    while (n_gen < n_predict) {
        int32_t t = smp_sample(sm, llm_logits(s, -1), NULL, 0);
        n_gen++;
        if (!ignore_eos && tok_is_eog(tk, t)) {
            why = "end of generation";
            break;
        }
        smp_accept(sm, t);
        piece.len = 0;
        tok_decoder_push(dec, t, &piece);
        out.len = 0;
        stopped = smp_stop_feed(st, piece.data ? piece.data : "", piece.len, &out);
        if (out.len) {
            fwrite(out.data, 1, out.len, stdout);
            fflush(stdout);
        }
        if (stopped) {
            why = "stop string";
            break;
        }
        if (n_gen == n_predict) break;
        if (llm_session_n_past(s) >= llm_session_n_ctx(s)) {
            why = "context full";
            break;
        }
        if (llm_decode(s, &t, 1, false, &eb)) goto fail;
    }
    out.len = 0;
    if (!stopped) {
        piece.len = 0;
        tok_decoder_flush(dec, &piece);
        smp_stop_feed(st, piece.data ? piece.data : "", piece.len, &out);
        smp_stop_flush(st, &out);
    }
    if (out.len) fwrite(out.data, 1, out.len, stdout);
    printf("\n");
    uint64_t t2 = time_now_ns();
    fprintf(stderr, "\nprompt: %zu tokens, %.2f tok/s; generated: %u tokens, %.2f tok/s; stopped by %s\n",
            n_ids, n_ids / ((t1 - t0) / 1e9), n_gen, n_gen / ((t2 - t1) / 1e9 + 1e-12), why);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "local-ai generate: %s\n", err_msg(&eb));
done:
    buf_free(&piece);
    buf_free(&out);
    tok_decoder_free(dec);
    smp_stop_free(st);
    smp_free(sm);
    llm_session_free(s);
    mem_free(ids);
    tok_free(tk);
    cli_close_model(m, pool);
    mem_free(file_text);
    return rc;
}
