/*
 * POST /v1/chat/completions: render the messages with the model's chat template, tokenize
 * the prompt (special tokens parsed, BOS added only when the template did not write it), and
 * hand it to the generation driver.
 */
#include <string.h>

#include "api_int.h"
#include "chat/chat.h"
#include "grammar/grammar.h"

/* The prompt token ids of a chat request; *ids is mem_alloc'd. 400 for a template that
 * refuses the messages (e.g. "System role not supported"). */
static int chat_prompt(mdl_handle *h, api_gen_req *q, int32_t **ids, int *n, api_err *e) {
    const tok *t = mdl_handle_tok(h);
    int32_t bos = tok_bos(t), eos = tok_eos(t);
    const char *bos_text = bos != TOK_NULL ? tok_piece(t, bos, NULL) : "";
    const char *eos_text = eos != TOK_NULL ? tok_piece(t, eos, NULL) : "";
    buf text = {0};
    err_buf eb = {0};
    int rc = tmpl_render_chat(mdl_handle_tmpl(h), q->messages, q->tools, true, bos_text, eos_text,
                              q->template_kwargs, &text, &eb);
    if (rc) {
        buf_free(&text);
        return api_fail(e, rc == BASE_ENOMEM ? 500 : 400, "messages",
                        "the chat template of model '%s' failed: %s", q->model, err_msg(&eb));
    }
    q->opens_reasoning = chat_prompt_opens_reasoning(text.data ? text.data : "", text.len);
    bool add_bos = bos != TOK_NULL && tok_add_bos(t) &&
                   !(text.data && *bos_text && !strncmp(text.data, bos_text, strlen(bos_text)));
    int32_t *raw = NULL;
    size_t n_raw = 0;
    rc = tok_encode(t, text.data ? text.data : "", text.len, false, true, &raw, &n_raw, &eb);
    buf_free(&text);
    if (rc) return api_fail(e, 500, NULL, "cannot tokenize the prompt: %s", err_msg(&eb));
    int32_t *out = mem_alloc((n_raw + 1) * sizeof *out);
    if (!out) {
        mem_free(raw);
        return api_fail(e, 500, NULL, "out of memory");
    }
    size_t k = 0;
    if (add_bos) out[k++] = bos;
    memcpy(out + k, raw, n_raw * sizeof *raw);
    mem_free(raw);
    *ids = out;
    *n = (int)(k + n_raw);
    return BASE_OK;
}

static void on_chat(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    api_gen_req q;
    api_err e;
    mdl_handle *h = NULL;
    int32_t *ids = NULL;
    int n = 0;
    if (api_parse_gen(API_CHAT, srv_req_body(r), srv_req_arena(r), &q, &e) ||
        api_access_model(r, q.model, &e) || api_acquire_model(ctx, q.model, &h, &e))
        goto fail;
    if (q.tool_required && q.grammar) {
        api_fail(&e, 400, "tool_choice", "a required tool call cannot be combined with response_format or grammar");
        goto fail;
    }
    if (q.tool_required && api_tool_grammar(q.tools, q.tool_name, mdl_handle_tool_format(h), &q.grammar, &e))
        goto fail;
    if (chat_prompt(h, &q, &ids, &n, &e)) goto fail;
    api_generate(r, h, &q, &ids, &n); /* takes over h and q.grammar */
    goto done;
fail:
    mdl_release(h);
    grammar_free(q.grammar);
    api_respond_err(r, &e);
done:
    mem_free(ids);
    json_decref(q.messages);
    json_decref(q.tools);
    json_decref(q.template_kwargs);
}

int api_register_chat(server *s, api_ctx *ctx) {
    return api_route_both(s, "POST", "/chat/completions", on_chat, ctx);
}
