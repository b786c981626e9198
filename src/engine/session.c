/*
 * Sessions: the KV cache and every scratch buffer, sized once when the session opens so the
 * per-token loop never allocates.
 */
#include <string.h>

#include "engine_int.h"

llm_session_params llm_session_default_params(void) {
    return (llm_session_params){.n_ctx = 0, .n_batch = 256, .kv_f32 = false};
}

static float *fbuf(size_t n, bool *ok) {
    float *p = mem_alloc_aligned(64, n * sizeof(float));
    if (!p) *ok = false;
    return p;
}

int llm_session_new(const llm_model *m, const llm_session_params *p, tpool *pool,
                    llm_session **out, err_buf *eb) {
    *out = NULL;
    if (m->enc)
        return err_set(eb, BASE_EUNSUPPORTED,
                       "model '%s' is an encoder: it makes embeddings, not text", m->hp.arch);
    const llm_hparams *hp = &m->hp;
    llm_session *s = mem_calloc(1, sizeof *s);
    if (!s) return err_set(eb, BASE_ENOMEM, "out of memory");
    s->m = m;
    s->pool = pool;
    s->n_ctx = p->n_ctx > 0 ? p->n_ctx : (hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    if (s->n_ctx > hp->n_ctx_train && hp->n_ctx_train > 0) s->n_ctx = hp->n_ctx_train;
    s->n_batch = p->n_batch > 0 ? p->n_batch : 256;
    if (s->n_batch > s->n_ctx) s->n_batch = s->n_ctx;
    s->kv_f32 = p->kv_f32;
    s->logits_all = p->all_logits;

    size_t B = (size_t)s->n_batch, E = (size_t)hp->n_embd, hd = (size_t)hp->head_dim;
    size_t QD = (size_t)hp->n_head * hd, KD = (size_t)hp->n_head_kv * hd, F = (size_t)hp->n_ff;
    size_t V = (size_t)hp->n_vocab, nth = (size_t)tpool_size(pool);
    bool ok = true;
    s->x = fbuf(B * E, &ok);
    s->h = fbuf(B * E, &ok);
    s->a = fbuf(B * E, &ok);
    s->q = fbuf(B * QD, &ok);
    s->k = fbuf(B * KD, &ok);
    s->v = fbuf(B * KD, &ok);
    s->o = fbuf(B * QD, &ok);
    s->g = fbuf(B * F, &ok);
    s->u = fbuf(B * 2 * F, &ok);
    if (m->layers[0].wqkv) s->qkv = fbuf(B * (QD + 2 * KD), &ok);
    s->scores = fbuf(nth * (size_t)LLM_ATT_MAXQ * (size_t)s->n_ctx, &ok);
    s->logits_rows = s->logits_all ? (int)B : (p->n_seq > 1 ? p->n_seq : 1);
    if (s->logits_rows > (int)B) s->logits_rows = (int)B;
    s->logits = fbuf((size_t)s->logits_rows * V, &ok);

    /* Matmul scratch: the largest activation conversion any weight needs. */
    size_t mm = kern_matmul_scratch_size(m->output->type, hp->n_embd, (int64_t)B);
    for (int il = 0; il < hp->n_layer; il++) {
        const llm_layer *L = &m->layers[il];
        const gguf_tensor *ws[] = {L->wq, L->wk, L->wv, L->wqkv, L->wo, L->w_gate, L->w_up, L->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            if (!ws[i]) continue;
            size_t sz = kern_matmul_scratch_size(ws[i]->type, ws[i]->ne[0], (int64_t)B);
            if (sz > mm) mm = sz;
        }
    }
    s->mm_scratch = mem_alloc_aligned(64, mm ? mm : 64);
    s->rows = mem_alloc(B * sizeof *s->rows);
    s->out_idx = mem_alloc(B * sizeof *s->out_idx);
    s->batch_tokens = mem_alloc(B * sizeof *s->batch_tokens);
    if (!s->mm_scratch || !s->rows || !s->out_idx || !s->batch_tokens) ok = false;

    size_t esz = s->kv_f32 ? sizeof(float) : sizeof(uint16_t);
    s->k_cache = mem_calloc((size_t)hp->n_layer, sizeof(void *));
    s->v_cache = mem_calloc((size_t)hp->n_layer, sizeof(void *));
    if (!s->k_cache || !s->v_cache) ok = false;
    for (int il = 0; ok && il < hp->n_layer; il++) {
        s->k_cache[il] = mem_alloc_aligned(64, (size_t)s->n_ctx * KD * esz);
        s->v_cache[il] = mem_alloc_aligned(64, (size_t)s->n_ctx * KD * esz);
        if (!s->k_cache[il] || !s->v_cache[il]) ok = false;
    }
    if (!ok) {
        llm_session_free(s);
        return err_set(eb, BASE_ENOMEM, "out of memory allocating a session (n_ctx %d, n_batch %d)",
                       p->n_ctx, p->n_batch);
    }
    *out = s;
    return 0;
}

void llm_session_free(llm_session *s) {
    if (!s) return;
    float *bufs[] = {s->x, s->h, s->a, s->q, s->k, s->v, s->o, s->g, s->u, s->qkv, s->scores, s->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mem_free_aligned(bufs[i]);
    mem_free_aligned(s->mm_scratch);
    mem_free(s->rows);
    mem_free(s->out_idx);
    mem_free(s->batch_tokens);
    for (int il = 0; il < s->m->hp.n_layer; il++) {
        if (s->k_cache) mem_free_aligned(s->k_cache[il]);
        if (s->v_cache) mem_free_aligned(s->v_cache[il]);
    }
    mem_free(s->k_cache);
    mem_free(s->v_cache);
    mem_free(s);
}

int llm_session_n_ctx(const llm_session *s) { return s->n_ctx; }
int llm_session_n_past(const llm_session *s) { return s->n_past; }

void llm_session_truncate(llm_session *s, int n_keep) {
    if (n_keep < 0) n_keep = 0;
    if (n_keep < s->n_past) s->n_past = n_keep;
    s->n_logits = 0;
}

const float *llm_logits(const llm_session *s, int i) {
    if (s->n_logits == 0) return NULL;
    if (i < 0) i = s->n_logits - 1;
    if (i >= s->n_logits) return NULL;
    return s->logits + (size_t)i * (size_t)s->m->hp.n_vocab;
}
