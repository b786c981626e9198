/*
 * The decoder's matrix weights repacked at load for the kernels that read 8 interleaved rows
 * (kern_repack: Q4_0 and Q8_0 on AVX2, where generation then streams weights at a higher
 * share of the memory bandwidth and prompts run faster). The packed copies take the bytes
 * the file's tensors took: once a tensor is packed its pages of the mapping are released
 * (gguf_release_range), so resident memory stays about the weights' size. The token
 * embeddings are packed only when they are the tied output (lookups read them through
 * kern_get_row).
 * LOCALAI_REPACK=off keeps every tensor in place.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine_int.h"

typedef struct repack_job {
    const gguf_tensor *src;
    gguf_tensor *dst;
    int64_t n_groups;
} repack_job;

static void repack_fn(void *ctx, int ith, int nth) {
    const repack_job *j = ctx;
    const int64_t g0 = j->n_groups * ith / nth, g1 = j->n_groups * (ith + 1) / nth;
    const int64_t n_out = j->src->ne[1];
    kern_repack(j->src->type, j->src->data, j->src->ne[0], n_out, (void *)j->dst->data, 8 * g0,
                ith == nth - 1 ? n_out : 8 * g1); /* the last thread takes the tail rows */
}

/* The layer and output weights that go only through kern_matmul. */
static int weight_slots(llm_model *m, const gguf_tensor ***slots, int cap) {
    int n = 0;
    for (int il = 0; il < m->hp.n_layer; il++) {
        llm_layer *L = &m->layers[il];
        const gguf_tensor **ls[] = {&L->wq, &L->wk, &L->wv, &L->wqkv,
                                    &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t k = 0; k < sizeof ls / sizeof ls[0]; k++)
            if (*ls[k] && n < cap) slots[n++] = ls[k];
    }
    /* Tied embeddings: one packed copy serves the lm head and the lookups (kern_get_row). */
    if (m->output && n < cap) slots[n++] = m->output == m->tok_embd ? &m->tok_embd : &m->output;
    return n;
}

int llm_repack_weights(llm_model *m, err_buf *eb) {
    if (m->enc || !m->layers) return 0;
    const int cap = 8 * m->hp.n_layer + 1;
    const gguf_tensor ***slots = mem_calloc((size_t)cap, sizeof *slots);
    if (!slots) return err_set(eb, BASE_ENOMEM, "out of memory");
    const int n_slots = weight_slots(m, slots, cap);
    const bool tied = m->output == m->tok_embd;
    size_t total = 0;
    int n = 0;
    for (int i = 0; i < n_slots; i++) {
        const gguf_tensor *t = *slots[i];
        if (kern_repack_type(t->type, t->ne[0], t->ne[1]) < 0) {
            slots[i] = NULL;
            continue;
        }
        total += (t->nbytes + 63) & ~(size_t)63;
        n++;
    }
    if (!n) {
        mem_free(slots);
        return 0;
    }
    m->packed = mem_calloc((size_t)n, sizeof *m->packed);
    /* Anonymous memory, with transparent huge pages where the system allows them (fewer TLB
     * misses while streaming the weights). */
    void *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!m->packed || mem == MAP_FAILED) {
        mem_free(m->packed);
        m->packed = NULL;
        mem_free(slots);
        log_warn("engine: no memory to repack the weights (%.1f MiB): using them as they are",
                 total / 1048576.0);
        return 0;
    }
#ifdef MADV_HUGEPAGE
    madvise(mem, total, MADV_HUGEPAGE);
#endif
    m->packed_mem = mem;
    m->packed_len = total;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    tpool *pool = tpool_new(ncpu < 1 ? 1 : ncpu > 16 ? 16 : (int)ncpu);
    uint8_t *p = mem;
    for (int i = 0; i < n_slots; i++) {
        if (!slots[i]) continue;
        const gguf_tensor *t = *slots[i];
        gguf_tensor *d = &m->packed[m->n_packed++];
        *d = *t;
        d->type = kern_repack_type(t->type, t->ne[0], t->ne[1]);
        d->data = p;
        repack_job j = {.src = t, .dst = d, .n_groups = t->ne[1] / 8};
        tpool_run(pool, repack_fn, &j);
        gguf_release_range(m->g, t->data, t->nbytes);
        p += (t->nbytes + 63) & ~(size_t)63;
        *slots[i] = d;
    }
    tpool_free(pool);
    if (tied) m->output = m->tok_embd;
    mprotect(mem, total, PROT_READ); /* shared by every session, written by none */
    mem_free(slots);
    return 0;
}

void llm_repack_free(llm_model *m) {
    if (m->packed_mem) munmap(m->packed_mem, m->packed_len);
    mem_free(m->packed);
    m->packed = NULL;
    m->packed_mem = NULL;
}
