/*
 * Encoder architectures (bert, nomic-bert, jina-bert-v2): read the `<arch>.*` keys and bind the tensors of the embedding
 * stage, the post-norm blocks and the optional classification (rank) head. Kept apart from
 * arch.c because an encoder shares none of a decoder's tensors beyond the names.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

bool llm_enc_is_arch(const char *arch) {
    return !strcmp(arch, "bert") || !strcmp(arch, "nomic-bert") || !strcmp(arch, "jina-bert-v2");
}

static int key_u32(const gguf *g, const char *A, const char *suffix, bool required,
                   uint32_t def, uint32_t *out, err_buf *eb) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", A, suffix);
    int rc = gguf_get_u32(g, key, out, eb);
    if (rc == BASE_ENOTFOUND) {
        if (required) return err_set(eb, rc, "model is missing required key %s", key);
        *out = def;
        return 0;
    }
    return rc;
}

/* Find a tensor, check its shape (ne1 0: a vector, which must be F32) and that its type can
 * be computed with (matrices) or decoded row by row (lookup tables). */
static int bind(const gguf *g, const char *name, int64_t ne0, int64_t ne1, bool required,
                const gguf_tensor **out, err_buf *eb) {
    const gguf_tensor *t = gguf_find_tensor(g, name);
    *out = t;
    if (!t) return required ? err_set(eb, BASE_EFORMAT, "model is missing tensor %s", name) : 0;
    int64_t want1 = ne1 ? ne1 : 1;
    if (t->ne[0] != ne0 || (ne1 >= 0 && t->ne[1] != want1) || t->ne[2] != 1 || t->ne[3] != 1)
        return err_set(eb, BASE_EFORMAT,
                       "tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                       name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                       (long long)t->ne[3], (long long)ne0, (long long)want1);
    if (ne1 == 0 && t->type != GGUF_TYPE_F32)
        return err_set(eb, BASE_EUNSUPPORTED, "tensor %s: vectors must be F32", name);
    const kern_traits *tt = kern_traits_of(t->type);
    if (!tt || !tt->to_float || !tt->vec_dot) {
        char msg[sizeof eb->msg];
        kern_check_type(t->type, eb);
        snprintf(msg, sizeof msg, "%s", eb ? eb->msg : "");
        return err_set(eb, BASE_EUNSUPPORTED, "%s: %s", name, tt ? "type cannot be used" : msg);
    }
    return 0;
}

static int bind_layer(llm_model *m, int il, err_buf *eb) {
    const llm_hparams *hp = &m->hp;
    llm_enc_layer *L = &m->enc->layers[il];
    int64_t E = hp->n_embd, F = hp->n_ff;
    bool nomic = m->arch == LLM_ARCH_NOMIC_BERT;
    if (m->arch == LLM_ARCH_JINA_BERT_V2) {
        /* GEGLU: gelu(gate x) * (up x); optional LayerNorms of q and k (the code models). */
        char nm[96];
        int rc;
        snprintf(nm, sizeof nm, "blk.%d.ffn_gate.weight", il);
        if ((rc = bind(m->g, nm, E, F, true, &L->w_gate, eb))) return rc;
        const struct {
            const char *fmt;
            const gguf_tensor **dst;
        } qk[] = {{"blk.%d.attn_q_norm.weight", &L->q_norm},
                  {"blk.%d.attn_q_norm.bias", &L->q_norm_b},
                  {"blk.%d.attn_k_norm.weight", &L->k_norm},
                  {"blk.%d.attn_k_norm.bias", &L->k_norm_b}};
        for (size_t i = 0; i < sizeof qk / sizeof qk[0]; i++) {
            snprintf(nm, sizeof nm, qk[i].fmt, il);
            if ((rc = bind(m->g, nm, E, 0, false, qk[i].dst, eb))) return rc;
        }
        if ((!L->q_norm) != (!L->k_norm))
            return err_set(eb, BASE_EFORMAT, "layer %d has only one of attn_q_norm, attn_k_norm", il);
        snprintf(nm, sizeof nm, "blk.%d.attn_norm_2.weight", il);
        if (gguf_find_tensor(m->g, nm))
            return err_set(eb, BASE_EUNSUPPORTED, "tensor %s (a second attention norm) is not supported", nm);
    }
    if (nomic) {
        /* Fused q|k|v (rows: all of q, then k, then v) and a SwiGLU gate; biases optional. */
        char nm[96];
        int rc;
        snprintf(nm, sizeof nm, "blk.%d.attn_qkv.weight", il);
        if ((rc = bind(m->g, nm, E, 3 * E, true, &L->wqkv, eb))) return rc;
        snprintf(nm, sizeof nm, "blk.%d.attn_qkv.bias", il);
        if ((rc = bind(m->g, nm, 3 * E, 0, false, &L->bqkv, eb))) return rc;
        snprintf(nm, sizeof nm, "blk.%d.ffn_gate.weight", il);
        if ((rc = bind(m->g, nm, E, F, true, &L->w_gate, eb))) return rc;
    }
    const struct {
        const char *fmt;
        int64_t ne0, ne1;
        const gguf_tensor **dst;
    } t[] = {
        {"blk.%d.attn_q.weight", E, E, &L->wq},
        {"blk.%d.attn_q.bias", E, 0, &L->bq},
        {"blk.%d.attn_k.weight", E, E, &L->wk},
        {"blk.%d.attn_k.bias", E, 0, &L->bk},
        {"blk.%d.attn_v.weight", E, E, &L->wv},
        {"blk.%d.attn_v.bias", E, 0, &L->bv},
        {"blk.%d.attn_output.weight", E, E, &L->wo},
        {"blk.%d.attn_output.bias", E, 0, &L->bo},
        {"blk.%d.attn_output_norm.weight", E, 0, &L->attn_norm},
        {"blk.%d.attn_output_norm.bias", E, 0, &L->attn_norm_b},
        {"blk.%d.ffn_up.weight", E, F, &L->w_up},
        {"blk.%d.ffn_up.bias", F, 0, &L->b_up},
        {"blk.%d.ffn_down.weight", F, E, &L->w_down},
        {"blk.%d.ffn_down.bias", E, 0, &L->b_down},
        {"blk.%d.layer_output_norm.weight", E, 0, &L->out_norm},
        {"blk.%d.layer_output_norm.bias", E, 0, &L->out_norm_b},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char nm[96];
        snprintf(nm, sizeof nm, t[i].fmt, il);
        /* Biases are optional (llama.cpp treats them so); weights and norms are not. */
        bool req = t[i].ne1 != 0 || strstr(nm, "norm.weight") != NULL;
        if (nomic && (strstr(nm, "attn_q.") || strstr(nm, "attn_k.") || strstr(nm, "attn_v.")))
            continue;
        int rc = bind(m->g, nm, t[i].ne0, t[i].ne1, req, t[i].dst, eb);
        if (rc) return rc;
    }
    return 0;
}

int llm_enc_load(llm_model *m, err_buf *eb) {
    llm_hparams *hp = &m->hp;
    const char *A = hp->arch;
    m->arch = !strcmp(A, "nomic-bert")     ? LLM_ARCH_NOMIC_BERT
              : !strcmp(A, "jina-bert-v2") ? LLM_ARCH_JINA_BERT_V2
                                           : LLM_ARCH_BERT;
    m->enc = mem_calloc(1, sizeof *m->enc);
    if (!m->enc) return err_set(eb, BASE_ENOMEM, "out of memory");
    llm_encoder *enc = m->enc;
    uint32_t ctx, embd, nl, nh, ff, pool = 0;
    int rc;
    if ((rc = key_u32(m->g, A, "context_length", false, 512, &ctx, eb)) ||
        (rc = key_u32(m->g, A, "embedding_length", true, 0, &embd, eb)) ||
        (rc = key_u32(m->g, A, "block_count", true, 0, &nl, eb)) ||
        (rc = key_u32(m->g, A, "feed_forward_length", true, 0, &ff, eb)) ||
        (rc = key_u32(m->g, A, "attention.head_count", true, 0, &nh, eb)) ||
        (rc = key_u32(m->g, A, "pooling_type", false, 0, &pool, eb)))
        return rc;
    if (!embd || !nl || !nh || !ff || !ctx || nl > 4096 || embd > (1u << 16) || embd % nh ||
        ff > (1u << 18) || ctx > (1u << 20))
        return err_set(eb, BASE_EFORMAT,
                       "implausible encoder dimensions (embd %u, layers %u, heads %u, ff %u, ctx %u)",
                       embd, nl, nh, ff, ctx);
    if (pool > LLM_POOL_RANK)
        return err_set(eb, BASE_EUNSUPPORTED, "%s.pooling_type %u is not supported", A, pool);
    enc->pooling = (int)pool;
    char key[128];
    snprintf(key, sizeof key, "%s.attention.causal", A);
    rc = gguf_get_bool(m->g, key, &enc->causal, eb);
    if (rc == BASE_ENOTFOUND) enc->causal = false;
    else if (rc) return rc;
    snprintf(key, sizeof key, "%s.attention.layer_norm_epsilon", A);
    rc = gguf_get_f32(m->g, key, &hp->norm_eps, eb);
    if (rc == BASE_ENOTFOUND) hp->norm_eps = 1e-12f;
    else if (rc) return rc;

    if (m->arch == LLM_ARCH_NOMIC_BERT) {
        enc->rope = true;
        snprintf(key, sizeof key, "%s.rope.freq_base", A);
        rc = gguf_get_f32(m->g, key, &enc->rope_base, eb);
        if (rc == BASE_ENOTFOUND) enc->rope_base = 10000.0f;
        else if (rc) return rc;
        hp->rope_base = enc->rope_base;
        hp->rope_neox = 1;
    }
    if (m->arch == LLM_ARCH_JINA_BERT_V2) {
        /* ALiBi with the key llama.cpp's converter writes (8 when absent, as jina uses). */
        enc->alibi = true;
        snprintf(key, sizeof key, "%s.attention.max_alibi_bias", A);
        rc = gguf_get_f32(m->g, key, &enc->max_alibi_bias, eb);
        if (rc == BASE_ENOTFOUND) enc->max_alibi_bias = 8.0f;
        else if (rc) return rc;
        if (!(enc->max_alibi_bias > 0) || enc->max_alibi_bias > 1024)
            return err_set(eb, BASE_EFORMAT, "%s is %g", key, enc->max_alibi_bias);
    }
    hp->n_ctx_train = (int)ctx;
    hp->n_embd = (int)embd;
    hp->n_layer = (int)nl;
    hp->n_head = hp->n_head_kv = (int)nh;
    hp->head_dim = (int)(embd / nh);
    hp->n_rot = hp->head_dim;
    hp->n_ff = (int)ff;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    m->embd_scale = 1.0f;
    m->act = LLM_ACT_GELU;

    const gguf_tensor *te = gguf_find_tensor(m->g, "token_embd.weight");
    if (!te) return err_set(eb, BASE_EFORMAT, "model is missing tensor token_embd.weight");
    if (te->ne[1] < 1 || te->ne[1] > (1 << 24))
        return err_set(eb, BASE_EFORMAT, "token_embd.weight has %lld rows", (long long)te->ne[1]);
    hp->n_vocab = (int)te->ne[1];
    if ((rc = bind(m->g, "token_embd.weight", embd, te->ne[1], true, &enc->tok_embd, eb)) ||
        (rc = bind(m->g, "position_embd.weight", embd, -1, !enc->rope && !enc->alibi,
                   &enc->pos_embd, eb)) ||
        (rc = bind(m->g, "token_types.weight", embd, -1, false, &enc->type_embd, eb)) ||
        (rc = bind(m->g, "token_embd_norm.weight", embd, 0, true, &enc->embd_norm, eb)) ||
        (rc = bind(m->g, "token_embd_norm.bias", embd, 0, false, &enc->embd_norm_b, eb)))
        return rc;
    if (enc->alibi) enc->pos_embd = NULL; /* positions live in the ALiBi biases only */
    /* Positions beyond the table cannot be embedded, whatever context_length says. */
    if (enc->pos_embd && enc->pos_embd->ne[1] < hp->n_ctx_train)
        hp->n_ctx_train = (int)enc->pos_embd->ne[1];
    enc->n_types = enc->type_embd ? (int)enc->type_embd->ne[1] : 0;
    m->tok_embd = enc->tok_embd;

    /* The classification head of cross-encoders: cls (dense + tanh) then cls.output. */
    if ((rc = bind(m->g, "cls.weight", embd, embd, false, &enc->cls, eb)) ||
        (rc = bind(m->g, "cls.bias", embd, 0, false, &enc->cls_b, eb)) ||
        (rc = bind(m->g, "cls.output.weight", embd, -1, false, &enc->cls_out, eb)))
        return rc;
    if (enc->cls_out) {
        enc->n_cls_out = (int)enc->cls_out->ne[1];
        if (enc->n_cls_out < 1 || enc->n_cls_out > 4096)
            return err_set(eb, BASE_EFORMAT, "cls.output.weight has %d outputs", enc->n_cls_out);
        if ((rc = bind(m->g, "cls.output.bias", enc->n_cls_out, 0, false, &enc->cls_out_b, eb)))
            return rc;
    }
    if (enc->pooling == LLM_POOL_RANK && !enc->cls_out)
        return err_set(eb, BASE_EFORMAT, "pooling_type rank needs tensor cls.output.weight");

    enc->layers = mem_calloc(nl, sizeof *enc->layers);
    if (!enc->layers) return err_set(eb, BASE_ENOMEM, "out of memory");
    for (int il = 0; il < (int)nl; il++)
        if ((rc = bind_layer(m, il, eb))) return rc;
    return 0;
}

void llm_enc_free(llm_model *m) {
    if (!m->enc) return;
    mem_free(m->enc->layers);
    mem_free(m->enc);
    m->enc = NULL;
}
