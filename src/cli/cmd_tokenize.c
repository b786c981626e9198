/*
 * `local-ai tokenize`: print the token ids a model's vocabulary gives a text, on one line.
 * Handy to check a prompt's length or compare our tokenizer with another implementation.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

void cmd_tokenize_usage(FILE *f) {
    fprintf(f, "usage: local-ai tokenize -m MODEL [--no-bos] [--parse-special] [--file F | TEXT]\n\n"
               "Print the token ids of TEXT (or of file F) separated by spaces.\n\n"
               "flags:\n"
               "  -m, --model PATH      GGUF file whose vocabulary to use\n"
               "  --no-bos              add no BOS/EOS (CLS/SEP) tokens (default: as the vocab says)\n"
               "  --parse-special       turn special-token text such as <|im_end|> into its token\n"
               "  -f, --file F          read the text from F ('-': standard input)\n"
               "  -h, --help            show this help\n");
}

/* All of standard input in a heap buffer (free with mem_free). */
static int read_stdin(char **out, size_t *out_len, err_buf *eb) {
    buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (buf_append(&b, chunk, n)) {
            buf_free(&b);
            return err_set(eb, BASE_ENOMEM, "out of memory reading standard input");
        }
    if (ferror(stdin)) {
        buf_free(&b);
        return err_set(eb, BASE_EIO, "cannot read standard input");
    }
    *out = b.data;
    *out_len = b.len;
    return BASE_OK;
}

int cmd_tokenize(int argc, char **argv) {
    const cli_command *self = cli_find("tokenize");
    const char *model = NULL, *file = NULL;
    bool no_bos = false, parse_special = false;
    enum { OPT_NO_BOS = 1, OPT_PARSE_SPECIAL };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, 'f'},
        {"no-bos", no_argument, NULL, OPT_NO_BOS},
        {"parse-special", no_argument, NULL, OPT_PARSE_SPECIAL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":m:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'f': file = optarg; break;
        case OPT_NO_BOS: no_bos = true; break;
        case OPT_PARSE_SPECIAL: parse_special = true; break;
        case 'h': cmd_tokenize_usage(stdout); return 0;
        case ':': return cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (!model) return cli_usage_error(self, "no model given (-m MODEL)");
    if (file && optind < argc)
        return cli_usage_error(self, "give either --file or TEXT, not both");
    if (!file && optind >= argc) return cli_usage_error(self, "no text given");
    if (optind + 1 < argc) return cli_usage_error(self, "unexpected argument '%s'", argv[optind + 1]);

    err_buf eb = {0};
    char *data = NULL;
    size_t len = 0;
    const char *text = NULL;
    if (file) {
        int rc = strcmp(file, "-") == 0 ? read_stdin(&data, &len, &eb)
                                        : file_read_all(file, &data, &len, &eb);
        if (rc) {
            fprintf(stderr, "local-ai tokenize: %s\n", err_msg(&eb));
            return 1;
        }
        text = data;
    } else {
        text = argv[optind];
        len = strlen(text);
    }

    gguf *g = NULL;
    tok *t = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = gguf_open(model, &g, &eb);
    if (!rc) rc = tok_load(g, &t, &eb);
    gguf_close(g);
    if (!rc) rc = tok_encode(t, text, len, !no_bos, parse_special, &ids, &n, &eb);
    if (rc) {
        fprintf(stderr, "local-ai tokenize: %s\n", err_msg(&eb));
    } else {
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    }
    mem_free(ids);
    tok_free(t);
    mem_free(data);
    return rc ? 1 : 0;
}
