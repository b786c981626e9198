/*
 * The decoder's matrix weights repacked at load for the kernels that read 8 interleaved rows
 * (kern_repack: Q4_0, Q5_0, Q8_0, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS on AVX2, where generation
 * then streams weights at a higher share of the memory bandwidth and prompts run faster). The
 * packed copies take the bytes the file's tensors took: once a tensor is packed its pages of
 * the mapping are released (gguf_release_range), so resident memory stays about the weights'
 * size. The token embeddings are packed only when they are the tied output (lookups read them
 * through kern_get_row).
 * The packed bytes are then saved to the repack cache (repack_cache.c) in the background; a
 * later load of the same file maps that copy and packs nothing.
 * LOCALAI_REPACK=off keeps every tensor in place.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine_int.h"

/* Work items of about 2 MiB of rows, taken by the threads in turn: each thread faults in the
 * pages it writes, and no tensor waits for the slowest half of a split. */
#define REPACK_ITEM_BYTES (2u << 20)

typedef struct repack_item {
    const gguf_tensor *src, *dst;
    int64_t r0, r1;
} repack_item;

typedef struct repack_ctx {
    const gguf *g;
    const repack_item *items;
    int n_items;
    atomic_int next;
} repack_ctx;

/* Rows per item: a multiple of 8, at least 8. */
static int64_t item_rows(const gguf_tensor *t) {
    const int64_t rows = (int64_t)(REPACK_ITEM_BYTES / (t->nbytes / (size_t)t->ne[1])) / 8 * 8;
    return rows < 8 ? 8 : rows;
}

static void repack_fn(void *vctx, int ith, int nth) {
    repack_ctx *c = vctx;
    (void)nth;
    for (int k = ith; k < c->n_items; k = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed)) {
        const repack_item *it = &c->items[k];
        const gguf_tensor *t = it->src;
        kern_repack(t->type, t->data, t->ne[0], t->ne[1], (void *)it->dst->data, it->r0, it->r1);
        /* Whole pages of the rows just read go back (a page shared with the next item stays). */
        const size_t rb = t->nbytes / (size_t)t->ne[1];
        gguf_release_range(c->g, (const uint8_t *)t->data + (size_t)it->r0 * rb,
                           (size_t)(it->r1 - it->r0) * rb);
    }
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

/* Repack every slot into its packed tensor (m->packed, in slot order), the rows in items of
 * about REPACK_ITEM_BYTES shared by the threads. False when out of memory. */
static bool pack_all(llm_model *m, const gguf_tensor ***slots, int n_slots, int n_items) {
    repack_item *items = mem_calloc((size_t)n_items, sizeof *items);
    if (!items) return false;
    int k = 0, j = 0;
    for (int i = 0; i < n_slots; i++) {
        if (!slots[i]) continue;
        const gguf_tensor *t = *slots[i], *d = &m->packed[j++];
        const int64_t rows = item_rows(t);
        for (int64_t r = 0; r < t->ne[1]; r += rows) {
            /* The last item of a tensor also takes its rows past the last multiple of 8. */
            const int64_t r1 = r + rows >= t->ne[1] / 8 * 8 ? t->ne[1] : r + rows;
            items[k++] = (repack_item){t, d, r, r1};
            if (r1 == t->ne[1]) break;
        }
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    tpool *pool = tpool_new(ncpu < 1 ? 1 : ncpu > 16 ? 16 : (int)ncpu);
    if (!pool) {
        mem_free(items);
        return false;
    }
    repack_ctx rc = {.g = m->g, .items = items, .n_items = k};
    atomic_init(&rc.next, tpool_size(pool));
    tpool_run(pool, repack_fn, &rc);
    tpool_free(pool);
    mem_free(items);
    return true;
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
    if (!m->packed) {
        mem_free(slots);
        log_warn("engine: out of memory: using the weights as they are");
        return 0;
    }
    /* The packed tensors' descriptors (data relative to the block for now) and the plan's
     * hash: which tensor goes where as what, what a cache entry must have been made for. */
    uint64_t plan = LLM_FNV_SEED;
    size_t off = 0;
    int n_items = 0;
    for (int i = 0; i < n_slots; i++) {
        if (!slots[i]) continue;
        const gguf_tensor *t = *slots[i];
        gguf_tensor *d = &m->packed[m->n_packed++];
        *d = *t;
        d->type = kern_repack_type(t->type, t->ne[0], t->ne[1]);
        d->data = (const void *)off;
        const uint64_t fields[] = {(uint64_t)t->type, (uint64_t)d->type, (uint64_t)t->ne[0],
                                   (uint64_t)t->ne[1], t->offset, t->nbytes, off};
        plan = llm_fnv1a(plan, t->name, strlen(t->name) + 1);
        plan = llm_fnv1a(plan, fields, sizeof fields);
        off += (t->nbytes + 63) & ~(size_t)63;
        const int64_t rows = item_rows(t);
        n_items += (int)((t->ne[1] + rows - 1) / rows);
    }
    /* A cache entry of the same model and plan is mapped as it is: no copy. */
    char cpath[2200];
    void *mem = llm_repack_cache_map(m->g, plan, total, cpath, sizeof cpath);
    m->packed_mapped = mem != NULL;
    if (!mem) {
        /* Anonymous memory, with transparent huge pages where the system allows them (fewer
         * TLB misses while streaming the weights). */
        mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) {
            llm_repack_free(m);
            mem_free(slots);
            log_warn("engine: no memory to repack the weights (%.1f MiB): using them as they are",
                     total / 1048576.0);
            return 0;
        }
#ifdef MADV_HUGEPAGE
        madvise(mem, total, MADV_HUGEPAGE);
#endif
    }
    m->packed_mem = mem;
    m->packed_len = total;
    for (int i = 0; i < m->n_packed; i++)
        m->packed[i].data = (const uint8_t *)mem + (uintptr_t)m->packed[i].data;
    if (!m->packed_mapped && !pack_all(m, slots, n_slots, n_items)) {
        llm_repack_free(m); /* nothing points at the copies yet */
        mem_free(slots);
        log_warn("engine: out of memory: using the weights as they are");
        return 0;
    }
    int j = 0;
    for (int i = 0; i < n_slots; i++)
        if (slots[i]) *slots[i] = &m->packed[j++];
    if (tied) m->output = m->tok_embd;
    mem_free(slots);
    if (m->packed_mapped) {
        log_info("engine: repacked weights (%.1f MiB) mapped from %s", total / 1048576.0, cpath);
    } else {
        mprotect(mem, total, PROT_READ); /* shared by every session, written by none */
        m->cache_writer = llm_repack_cache_save(m->g, plan, mem, total);
    }
    return 0;
}

void llm_repack_free(llm_model *m) {
    llm_repack_cache_finish(m->cache_writer, true); /* it reads packed_mem */
    m->cache_writer = NULL;
    if (m->packed_mem) munmap(m->packed_mem, m->packed_len);
    mem_free(m->packed);
    m->packed = NULL;
    m->n_packed = 0;
    m->packed_mem = NULL;
}
