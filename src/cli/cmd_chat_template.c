/*
 * `local-ai chat-template`: render a chat with a model's template (or a template file) and
 * print the prompt exactly as the engine would see it, with no newline added. Users debug
 * their models with it; tests compare it byte for byte with Python's jinja2.
 */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "cli.h"
#include "template/template.h"
#include "tokenizer/tokenizer.h"

void cmd_chat_template_usage(FILE *f) {
    fprintf(f, "usage: local-ai chat-template (-m MODEL | --template FILE) --messages FILE.json [flags]\n\n"
               "Render a chat with the model's chat template and print the prompt exactly.\n\n"
               "flags:\n"
               "  -m, --model FILE          GGUF model (its tokenizer.chat_template, BOS and EOS)\n"
               "  --template FILE           a Jinja template file instead\n"
               "  --messages FILE           JSON: an array of messages, or an object with \"messages\"\n"
               "                            (and optionally \"tools\")\n"
               "  --tools FILE              JSON array of tools (OpenAI format)\n"
               "  --no-generation-prompt    do not add the assistant turn's opening\n"
               "  --bos TEXT, --eos TEXT    bos_token / eos_token (default: the model's, or empty)\n"
               "  --var KEY=JSON            an extra template variable (repeatable),\n"
               "                            e.g. --var enable_thinking=false\n"
               "  -h, --help                show this help\n");
}

static json_t *load_json(const char *path, err_buf *eb) {
    json_error_t je;
    json_t *j = json_load_file(path, JSON_DECODE_ANY, &je);
    if (!j) err_set(eb, BASE_EFORMAT, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    return j;
}

/* The template, BOS and EOS text of a model (heap strings). */
static int model_template(const char *path, char **tpl, char **bos, char **eos, err_buf *eb) {
    gguf *g;
    int rc = gguf_open(path, &g, eb);
    if (rc) return rc;
    str_slice s;
    rc = gguf_get_str(g, "tokenizer.chat_template", &s, eb);
    if (rc) {
        gguf_close(g);
        return err_set(eb, rc, "%s has no chat template (tokenizer.chat_template)", path);
    }
    *tpl = mem_strndup(s.ptr, s.len);
    tok *t = NULL;
    if (tok_load(g, &t, eb) == 0) {
        const char *b = tok_bos(t) != TOK_NULL ? tok_piece(t, tok_bos(t), NULL) : NULL;
        const char *e = tok_eos(t) != TOK_NULL ? tok_piece(t, tok_eos(t), NULL) : NULL;
        if (!*bos) *bos = mem_strdup(b ? b : "");
        if (!*eos) *eos = mem_strdup(e ? e : "");
        tok_free(t);
    }
    gguf_close(g);
    return 0;
}

#define MAX_VARS 32

int cmd_chat_template(int argc, char **argv) {
    const cli_command *self = cli_find("chat-template");
    const char *model = NULL, *tpl_file = NULL, *msgs_file = NULL, *tools_file = NULL;
    const char *vars[MAX_VARS];
    int n_vars = 0;
    bool gen_prompt = true;
    char *bos = NULL, *eos = NULL;
    enum { O_TPL = 1, O_MSGS, O_TOOLS, O_NOGEN, O_BOS, O_EOS, O_VAR };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"template", required_argument, NULL, O_TPL},
        {"messages", required_argument, NULL, O_MSGS}, {"tools", required_argument, NULL, O_TOOLS},
        {"no-generation-prompt", no_argument, NULL, O_NOGEN}, {"bos", required_argument, NULL, O_BOS},
        {"eos", required_argument, NULL, O_EOS}, {"var", required_argument, NULL, O_VAR},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c, rc = 2;
    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case O_TPL: tpl_file = optarg; break;
        case O_MSGS: msgs_file = optarg; break;
        case O_TOOLS: tools_file = optarg; break;
        case O_NOGEN: gen_prompt = false; break;
        case O_BOS: mem_free(bos); bos = mem_strdup(optarg); break;
        case O_EOS: mem_free(eos); eos = mem_strdup(optarg); break;
        case O_VAR:
            if (n_vars == MAX_VARS || !strchr(optarg, '=')) {
                rc = cli_usage_error(self, "bad --var '%s' (KEY=JSON, at most %d)", optarg, MAX_VARS);
                goto out;
            }
            vars[n_vars++] = optarg;
            break;
        case 'h': cmd_chat_template_usage(stdout); rc = 0; goto out;
        case ':': rc = cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]); goto out;
        default: rc = cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]); goto out;
        }
    }
    if (optind < argc) { rc = cli_usage_error(self, "unexpected argument '%s'", argv[optind]); goto out; }
    if (!model == !tpl_file) { rc = cli_usage_error(self, "give one of -m MODEL or --template FILE"); goto out; }
    if (!msgs_file) { rc = cli_usage_error(self, "missing --messages FILE"); goto out; }

    rc = 1;
    err_buf eb = {0};
    char *src = NULL;
    json_t *msgs = NULL, *tools = NULL, *extra = json_object();
    tmpl *t = NULL;
    buf out = {0};
    for (int i = 0; i < n_vars; i++) {
        const char *eq = strchr(vars[i], '=');
        json_error_t je;
        json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, &je);
        if (!v) {
            err_set(&eb, BASE_EINVAL, "--var %s: not JSON: %s", vars[i], je.text);
            goto fail;
        }
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(eq - vars[i]), vars[i]);
        json_object_set_new(extra, key, v);
    }
    if (model ? model_template(model, &src, &bos, &eos, &eb) : file_read_all(tpl_file, &src, NULL, &eb)) goto fail;
    if (!(msgs = load_json(msgs_file, &eb))) goto fail;
    if (json_is_object(msgs)) {
        json_t *m = json_incref(json_object_get(msgs, "messages"));
        json_t *tl = json_object_get(msgs, "tools");
        if (tl && json_is_array(tl)) tools = json_incref(tl);
        json_decref(msgs);
        msgs = m;
    }
    if (!json_is_array(msgs)) {
        err_set(&eb, BASE_EINVAL, "%s: expected an array of messages or an object with \"messages\"", msgs_file);
        goto fail;
    }
    if (tools_file) {
        json_decref(tools);
        if (!(tools = load_json(tools_file, &eb))) goto fail;
    }
    if (tmpl_compile(src, strlen(src), &t, &eb) ||
        tmpl_render_chat(t, msgs, tools, gen_prompt, bos ? bos : "", eos ? eos : "", extra, &out, &eb))
        goto fail;
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "local-ai chat-template: %s\n", err_msg(&eb));
done:
    buf_free(&out);
    tmpl_free(t);
    json_decref(msgs);
    json_decref(tools);
    json_decref(extra);
    mem_free(src);
out:
    mem_free(bos);
    mem_free(eos);
    return rc;
}
