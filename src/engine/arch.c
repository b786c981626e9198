/*
 * Architectures: read the hyper-parameters from GGUF metadata (with llama.cpp's defaults)
 * and bind every tensor a layer needs, checking its shape and that we can compute with its
 * type. What differs between the families is recorded as data (flags, norms, scales) so
 * that forward.c runs one decoder block for all of them.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

static const struct {
    const char *name;
    llm_arch arch;
} arch_names[] = {
    {"llama", LLM_ARCH_LLAMA},   {"qwen2", LLM_ARCH_QWEN2},   {"qwen3", LLM_ARCH_QWEN3},
    {"gemma", LLM_ARCH_GEMMA},   {"gemma2", LLM_ARCH_GEMMA2}, {"gemma3", LLM_ARCH_GEMMA3},
    {"phi3", LLM_ARCH_PHI3},
};

/* Optional keys: absent gives the default, a wrong type is an error. */
static int opt_u32(const gguf *g, const char *arch, const char *suffix, uint32_t def,
                   uint32_t *out, err_buf *eb) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int rc = gguf_get_u32(g, key, out, eb);
    if (rc == BASE_ENOTFOUND) {
        *out = def;
        return 0;
    }
    return rc;
}

static int opt_f32(const gguf *g, const char *arch, const char *suffix, float def, float *out,
                   err_buf *eb) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int rc = gguf_get_f32(g, key, out, eb);
    if (rc == BASE_ENOTFOUND) {
        *out = def;
        return 0;
    }
    return rc;
}

static int req_u32(const gguf *g, const char *arch, const char *suffix, uint32_t *out,
                   err_buf *eb) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int rc = gguf_get_u32(g, key, out, eb);
    if (rc == BASE_ENOTFOUND) return err_set(eb, rc, "model is missing required key %s", key);
    return rc;
}

/* Find a tensor and check its shape (ne1 0 for a vector) and type. */
static int bind(const llm_model *m, const char *name, int64_t ne0, int64_t ne1, bool required,
                const gguf_tensor **out, err_buf *eb) {
    const gguf_tensor *t = gguf_find_tensor(m->g, name);
    *out = t;
    if (!t) return required ? err_set(eb, BASE_EFORMAT, "model is missing tensor %s", name) : 0;
    int64_t want1 = ne1 ? ne1 : 1;
    int dims_ok = t->ne[0] == ne0 && t->ne[1] == want1 && t->ne[2] == 1 && t->ne[3] == 1;
    if (!dims_ok)
        return err_set(eb, BASE_EFORMAT,
                       "tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                       name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                       (long long)t->ne[3], (long long)ne0, (long long)want1);
    if (ne1 == 0 && t->type != GGUF_TYPE_F32)
        return err_set(eb, BASE_EUNSUPPORTED, "tensor %s: vectors must be F32, found %s", name,
                       gguf_type_name(t->type) ? gguf_type_name(t->type) : "unknown");
    if (kern_check_type(t->type, eb)) {
        char msg[sizeof eb->msg];
        snprintf(msg, sizeof msg, "%s", eb->msg);
        return err_set(eb, BASE_EUNSUPPORTED, "%s: %s", name, msg);
    }
    return 0;
}

#define BIND(name, ne0, ne1, req, dst)                                                     \
    do {                                                                                   \
        snprintf(nm, sizeof nm, name, il);                                                 \
        if ((rc = bind(m, nm, ne0, ne1, req, dst, eb))) return rc;                         \
    } while (0)

static int bind_layer(llm_model *m, int il, err_buf *eb) {
    const llm_hparams *hp = &m->hp;
    llm_layer *L = &m->layers[il];
    char nm[96];
    int rc;
    int64_t E = hp->n_embd, QD = (int64_t)hp->n_head * hp->head_dim,
            KD = (int64_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff;
    bool qk_norm = m->arch == LLM_ARCH_QWEN3 || m->arch == LLM_ARCH_GEMMA3;
    bool post_norms = m->arch == LLM_ARCH_GEMMA2 || m->arch == LLM_ARCH_GEMMA3;

    BIND("blk.%d.attn_norm.weight", E, 0, true, &L->attn_norm);
    if (m->arch == LLM_ARCH_PHI3) {
        BIND("blk.%d.attn_qkv.weight", E, QD + 2 * KD, false, &L->wqkv);
    }
    if (!L->wqkv) {
        BIND("blk.%d.attn_q.weight", E, QD, true, &L->wq);
        BIND("blk.%d.attn_k.weight", E, KD, true, &L->wk);
        BIND("blk.%d.attn_v.weight", E, KD, true, &L->wv);
    }
    BIND("blk.%d.attn_output.weight", QD, E, true, &L->wo);
    /* Biases: required for qwen2, used when present elsewhere (llama.cpp does the same). */
    bool need_bias = m->arch == LLM_ARCH_QWEN2;
    BIND("blk.%d.attn_q.bias", QD, 0, need_bias, &L->bq);
    BIND("blk.%d.attn_k.bias", KD, 0, need_bias, &L->bk);
    BIND("blk.%d.attn_v.bias", KD, 0, need_bias, &L->bv);
    if (qk_norm) {
        BIND("blk.%d.attn_q_norm.weight", hp->head_dim, 0, true, &L->q_norm);
        BIND("blk.%d.attn_k_norm.weight", hp->head_dim, 0, true, &L->k_norm);
    }
    if (post_norms) {
        BIND("blk.%d.post_attention_norm.weight", E, 0, true, &L->post_attn_norm);
        BIND("blk.%d.post_ffw_norm.weight", E, 0, true, &L->post_ffw_norm);
    }
    BIND("blk.%d.ffn_norm.weight", E, 0, true, &L->ffn_norm);
    if (m->arch == LLM_ARCH_PHI3) {
        BIND("blk.%d.ffn_up.weight", E, 2 * F, true, &L->w_up);
    } else {
        BIND("blk.%d.ffn_gate.weight", E, F, true, &L->w_gate);
        BIND("blk.%d.ffn_up.weight", E, F, true, &L->w_up);
    }
    BIND("blk.%d.ffn_down.weight", F, E, true, &L->w_down);
    return 0;
}

/* Which layers use sliding-window attention, and their RoPE base. */
static int layer_windows(llm_model *m, err_buf *eb) {
    llm_hparams *hp = &m->hp;
    uint32_t pattern = 6;
    if (m->arch == LLM_ARCH_GEMMA3) {
        int rc = opt_u32(m->g, hp->arch, "attention.sliding_window_pattern", 6, &pattern, eb);
        if (rc) return rc;
    }
    for (int il = 0; il < hp->n_layer; il++) {
        llm_layer *L = &m->layers[il];
        L->rope_base = hp->rope_base;
        if (hp->sliding_window <= 0) continue;
        switch (m->arch) {
        case LLM_ARCH_GEMMA2: L->sliding = il % 2 == 0; break;
        case LLM_ARCH_GEMMA3:
            L->sliding = pattern == 0 || (uint32_t)il % pattern < pattern - 1;
            if (L->sliding) L->rope_base = hp->rope_base_swa;
            break;
        case LLM_ARCH_PHI3: L->sliding = true; break;
        default: break;
        }
    }
    return 0;
}

static int read_rope_scaling(llm_model *m, err_buf *eb) {
    llm_hparams *hp = &m->hp;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", hp->arch);
    str_slice type = {"none", 4};
    int rc = gguf_get_str(m->g, key, &type, eb);
    if (rc && rc != BASE_ENOTFOUND) return rc;
    float factor;
    if ((rc = opt_f32(m->g, hp->arch, "rope.scaling.factor", 0.0f, &factor, eb))) return rc;
    hp->rope_freq_scale = 1.0f;
    hp->yarn_ext_factor = 0.0f;
    hp->yarn_attn_factor = 1.0f;
    hp->yarn_beta_fast = 32.0f;
    hp->yarn_beta_slow = 1.0f;
    hp->yarn_n_ctx_orig = hp->n_ctx_train;
    if (str_eq_cstr(type, "none") || str_eq_cstr(type, "llama3")) {
        /* llama3 scaling lives in the rope_freqs tensor. */
        return 0;
    }
    if (!str_eq_cstr(type, "linear") && !str_eq_cstr(type, "yarn"))
        return err_set(eb, BASE_EUNSUPPORTED, "unsupported %s '%.*s'", key, (int)type.len,
                       type.ptr);
    if (factor > 0) hp->rope_freq_scale = 1.0f / factor;
    if (str_eq_cstr(type, "yarn")) {
        uint32_t orig;
        if ((rc = opt_u32(m->g, hp->arch, "rope.scaling.original_context_length",
                          (uint32_t)hp->n_ctx_train, &orig, eb)))
            return rc;
        hp->rope_yarn = 1;
        hp->yarn_n_ctx_orig = (int)orig;
        hp->yarn_ext_factor = 1.0f;
        if ((rc = opt_f32(m->g, hp->arch, "rope.scaling.yarn_beta_fast", 32.0f,
                          &hp->yarn_beta_fast, eb)) ||
            (rc = opt_f32(m->g, hp->arch, "rope.scaling.yarn_beta_slow", 1.0f,
                          &hp->yarn_beta_slow, eb)) ||
            (rc = opt_f32(m->g, hp->arch, "rope.scaling.attn_factor", 1.0f,
                          &hp->yarn_attn_factor, eb)))
            return rc;
    }
    return 0;
}

int llm_arch_load(llm_model *m, err_buf *eb) {
    llm_hparams *hp = &m->hp;
    str_slice a;
    int rc = gguf_get_str(m->g, "general.architecture", &a, eb);
    if (rc) return err_set(eb, rc, "model has no general.architecture: %s", err_msg(eb));
    if (a.len >= sizeof hp->arch) a.len = sizeof hp->arch - 1;
    memcpy(hp->arch, a.ptr, a.len);
    hp->arch[a.len] = 0;
    if (llm_enc_is_arch(hp->arch)) return llm_enc_load(m, eb);
    size_t i;
    for (i = 0; i < sizeof arch_names / sizeof arch_names[0]; i++)
        if (!strcmp(arch_names[i].name, hp->arch)) break;
    if (i == sizeof arch_names / sizeof arch_names[0])
        return err_set(eb, BASE_EUNSUPPORTED, "unknown model architecture '%s'", hp->arch);
    m->arch = arch_names[i].arch;
    const char *A = hp->arch;

    uint32_t ctx, embd, nl, nh, nkv, ff, kl, vl, rot, swa;
    if ((rc = opt_u32(m->g, A, "context_length", 2048, &ctx, eb)) ||
        (rc = req_u32(m->g, A, "embedding_length", &embd, eb)) ||
        (rc = req_u32(m->g, A, "block_count", &nl, eb)) ||
        (rc = req_u32(m->g, A, "feed_forward_length", &ff, eb)) ||
        (rc = req_u32(m->g, A, "attention.head_count", &nh, eb)))
        return rc;
    if (!embd || !nl || !nh || !ff || nl > 4096 || embd > (1u << 20) || nh > embd)
        return err_set(eb, BASE_EFORMAT, "implausible model dimensions (embd %u, layers %u, heads %u, ff %u)",
                       embd, nl, nh, ff);
    if ((rc = opt_u32(m->g, A, "attention.head_count_kv", nh, &nkv, eb)) ||
        (rc = opt_u32(m->g, A, "attention.key_length", embd / nh, &kl, eb)) ||
        (rc = opt_u32(m->g, A, "attention.value_length", kl, &vl, eb)) ||
        (rc = opt_u32(m->g, A, "rope.dimension_count", kl, &rot, eb)) ||
        (rc = opt_u32(m->g, A, "attention.sliding_window", 0, &swa, eb)))
        return rc;
    if (!nkv || nh % nkv) return err_set(eb, BASE_EFORMAT, "head_count %u not a multiple of head_count_kv %u", nh, nkv);
    if (kl != vl) return err_set(eb, BASE_EUNSUPPORTED, "key_length %u != value_length %u", kl, vl);
    if (!kl || kl > 1024 || rot > kl || rot % 2)
        return err_set(eb, BASE_EFORMAT, "bad head size %u / rope dimensions %u", kl, rot);
    hp->n_ctx_train = (int)ctx;
    hp->n_embd = (int)embd;
    hp->n_layer = (int)nl;
    hp->n_head = (int)nh;
    hp->n_head_kv = (int)nkv;
    hp->head_dim = (int)kl;
    hp->n_ff = (int)ff;
    hp->n_rot = (int)rot;
    hp->sliding_window = (int)swa;
    uint32_t pool;
    if ((rc = opt_u32(m->g, A, "pooling_type", LLM_POOL_NONE, &pool, eb))) return rc;
    m->dec_pooling = pool <= LLM_POOL_LAST ? (int)pool : LLM_POOL_NONE;
    if (m->arch == LLM_ARCH_GEMMA2 && !swa) hp->sliding_window = 4096;

    float eps_default = 1e-5f;
    if ((rc = opt_f32(m->g, A, "attention.layer_norm_rms_epsilon", eps_default, &hp->norm_eps, eb)) ||
        (rc = opt_f32(m->g, A, "rope.freq_base", 10000.0f, &hp->rope_base, eb)) ||
        (rc = opt_f32(m->g, A, "rope.freq_base_swa", 10000.0f, &hp->rope_base_swa, eb)))
        return rc;
    if ((rc = read_rope_scaling(m, eb))) return rc;
    hp->rope_neox = m->arch != LLM_ARCH_LLAMA;

    float cap_attn = 0, cap_final = 0;
    if (m->arch == LLM_ARCH_GEMMA2) {
        if ((rc = opt_f32(m->g, A, "attn_logit_softcapping", 50.0f, &cap_attn, eb)) ||
            (rc = opt_f32(m->g, A, "final_logit_softcapping", 30.0f, &cap_final, eb)))
            return rc;
    } else if (m->arch == LLM_ARCH_GEMMA3) {
        if ((rc = opt_f32(m->g, A, "final_logit_softcapping", 0.0f, &cap_final, eb))) return rc;
    }
    hp->attn_softcap = cap_attn;
    hp->final_softcap = cap_final;

    /* Query scale (llama.cpp's per-model rules for the gemma family). */
    float qscale_dim = (float)hp->head_dim;
    if ((m->arch == LLM_ARCH_GEMMA2 && hp->n_layer == 46) ||
        (m->arch == LLM_ARCH_GEMMA3 && hp->n_layer == 62))
        qscale_dim = (float)hp->n_embd / (float)hp->n_head;
    hp->attn_scale = 1.0f / sqrtf(qscale_dim);

    bool gemma = m->arch == LLM_ARCH_GEMMA || m->arch == LLM_ARCH_GEMMA2 || m->arch == LLM_ARCH_GEMMA3;
    m->act = gemma ? LLM_ACT_GELU : LLM_ACT_SILU;
    m->embd_scale = gemma ? sqrtf((float)hp->n_embd) : 1.0f;

    /* Global tensors. */
    const gguf_tensor *te = gguf_find_tensor(m->g, "token_embd.weight");
    if (!te) return err_set(eb, BASE_EFORMAT, "model is missing tensor token_embd.weight");
    hp->n_vocab = (int)te->ne[1];
    if ((rc = bind(m, "token_embd.weight", embd, te->ne[1], true, &m->tok_embd, eb)) ||
        (rc = bind(m, "output_norm.weight", embd, 0, true, &m->output_norm, eb)) ||
        (rc = bind(m, "output.weight", embd, hp->n_vocab, false, &m->output, eb)) ||
        (rc = bind(m, "rope_freqs.weight", hp->n_rot / 2, 0, false, &m->rope_freqs, eb)))
        return rc;
    if (m->arch == LLM_ARCH_GEMMA) m->output = NULL; /* llama.cpp always ties gemma */
    if (!m->output) m->output = m->tok_embd;

    m->layers = mem_calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return err_set(eb, BASE_ENOMEM, "out of memory");
    for (int il = 0; il < hp->n_layer; il++)
        if ((rc = bind_layer(m, il, eb))) return rc;
    return layer_windows(m, eb);
}
