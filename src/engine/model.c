/* Loading a model: map the GGUF, read its architecture and bind its tensors (arch.c). */
#include <stdio.h>

#include "engine_int.h"

int llm_model_from_gguf(gguf *g, llm_model **out, err_buf *eb) {
    *out = NULL;
    kern_init(KERN_ISA_AUTO);
    llm_model *m = mem_calloc(1, sizeof *m);
    if (!m) {
        gguf_close(g);
        return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    m->g = g;
    int rc = llm_arch_load(m, eb);
    if (rc) {
        llm_model_free(m);
        return rc;
    }
    const llm_hparams *hp = &m->hp;
    uint64_t bytes = 0;
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) bytes += gguf_tensor_at(g, i)->nbytes;
    m->hp.weight_bytes = bytes;
    const gguf_tensor *wd = m->enc ? m->enc->layers[0].w_down : m->layers[0].w_down;
    const char *wt = gguf_type_name(wd->type);
    snprintf(m->desc, sizeof m->desc,
             "%s: %d layers, %d embd, %d/%d heads x %d, ff %d, vocab %d, ctx %d, %s, %.1f MiB",
             hp->arch, hp->n_layer, hp->n_embd, hp->n_head, hp->n_head_kv, hp->head_dim,
             hp->n_ff, hp->n_vocab, hp->n_ctx_train, wt ? wt : "?", bytes / 1048576.0);
    rc = llm_repack_weights(m, eb);
    if (rc) {
        llm_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int llm_model_load(const char *path, llm_model **out, err_buf *eb) {
    gguf *g;
    *out = NULL;
    int rc = gguf_open(path, &g, eb);
    if (rc) return rc;
    return llm_model_from_gguf(g, out, eb);
}

void llm_model_free(llm_model *m) {
    if (!m) return;
    llm_repack_free(m);
    mem_free(m->layers);
    llm_enc_free(m);
    gguf_close(m->g);
    mem_free(m);
}

void llm_model_settle(llm_model *m) {
    if (!m) return;
    llm_repack_cache_finish(m->cache_writer, false);
    m->cache_writer = NULL;
}

const llm_hparams *llm_model_hparams(const llm_model *m) { return &m->hp; }
const gguf *llm_model_gguf(const llm_model *m) { return m->g; }
const char *llm_model_describe(const llm_model *m) { return m->desc; }
