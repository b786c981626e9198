/*
 * POST /v1/completions: each prompt (text, or token ids checked against the vocabulary) is
 * tokenized with BOS as the vocabulary asks, and the choices go to the generation driver.
 */
#include <string.h>

#include "api_int.h"
#include "grammar/grammar.h"

static void on_completions(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    api_gen_req q;
    api_err e;
    mdl_handle *h = NULL;
    if (api_parse_gen(API_COMPLETION, srv_req_body(r), srv_req_arena(r), &q, &e) ||
        api_access_model(r, q.model, &e) || api_acquire_model(ctx, q.model, &h, &e)) {
        api_respond_err(r, &e);
        grammar_free(q.grammar);
        return;
    }
    const tok *t = mdl_handle_tok(h);
    int32_t n_vocab = tok_n_vocab(t);
    int32_t *ids[API_MAX_N] = {0};
    int n_ids[API_MAX_N] = {0};
    bool own[API_MAX_N] = {0};
    int rc = 0;
    for (int i = 0; i < q.n_prompts && !rc; i++) {
        api_prompt *p = &q.prompts[i];
        if (p->text) {
            size_t n = 0;
            err_buf eb = {0};
            rc = tok_encode(t, p->text, strlen(p->text), true, false, &ids[i], &n, &eb);
            if (rc) api_fail(&e, 500, NULL, "cannot tokenize the prompt: %s", err_msg(&eb));
            n_ids[i] = (int)n;
            own[i] = true;
        } else {
            ids[i] = p->tokens;
            n_ids[i] = p->n_tokens;
            for (int k = 0; k < p->n_tokens && !rc; k++)
                if (p->tokens[k] >= n_vocab)
                    rc = api_fail(&e, 400, "prompt", "token %d is outside the vocabulary (%d tokens)",
                                  p->tokens[k], n_vocab);
        }
        if (!rc && n_ids[i] == 0)
            rc = api_fail(&e, 400, "prompt", "prompt %d is empty after tokenization", i);
    }
    if (rc) {
        mdl_release(h);
        grammar_free(q.grammar);
        api_respond_err(r, &e);
    } else {
        api_generate(r, h, &q, ids, n_ids);
    }
    for (int i = 0; i < q.n_prompts; i++)
        if (own[i]) mem_free(ids[i]);
}

int api_register_completions(server *s, api_ctx *ctx) {
    return api_route_both(s, "POST", "/completions", on_completions, ctx);
}
