/*
 * The vocabulary as a byte trie, laid out in preorder so a walk is a single forward scan that
 * skips a rejected subtree with one jump, and every subtree's tokens are one contiguous run of
 * ids[]. Built once per tokenizer by sorting the tokens' bytes.
 */
#include "grammar_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct sort_ctx {
    const uint32_t *off;
    const uint8_t *bytes;
} sort_ctx;

static int cmp_tok(const void *a, const void *b, void *ctx) {
    const sort_ctx *c = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = c->off[x + 1] - c->off[x], ly = c->off[y + 1] - c->off[y];
    int r = memcmp(c->bytes + c->off[x], c->bytes + c->off[y], lx < ly ? lx : ly);
    if (r) return r;
    if (lx != ly) return lx < ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

void gtrie_free(gtrie *tr) {
    if (!tr) return;
    mem_free(tr->node);
    mem_free(tr->ids);
    mem_free(tr->bytes_off);
    mem_free(tr->bytes);
    mem_free(tr->eog);
    mem_free(tr);
}

int32_t gtrie_n_vocab(const gtrie *tr) { return tr->n_vocab; }

int gtrie_build(const tok *t, gtrie **out, err_buf *eb) {
    *out = NULL;
    int32_t nv = tok_n_vocab(t);
    if (nv <= 0) return err_set(eb, BASE_EINVAL, "empty vocabulary");
    gtrie *tr = mem_calloc(1, sizeof *tr);
    buf all = {0};
    if (!tr) return err_set(eb, BASE_ENOMEM, "out of memory");
    tr->n_vocab = nv;
    tr->bytes_off = mem_alloc(((size_t)nv + 1) * sizeof *tr->bytes_off);
    tr->eog = mem_calloc((size_t)nv, 1);
    tr->ids = mem_alloc((size_t)nv * sizeof *tr->ids);
    if (!tr->bytes_off || !tr->eog || !tr->ids) goto oom;
    for (int32_t id = 0; id < nv; id++) {
        tr->bytes_off[id] = (uint32_t)all.len;
        tr->eog[id] = tok_is_eog(t, id);
        if (!tr->eog[id] && tok_token_bytes(t, id, false, &all)) goto oom;
        if (all.len > UINT32_MAX / 2) {
            gtrie_free(tr);
            buf_free(&all);
            return err_set(eb, BASE_ERANGE, "vocabulary too large");
        }
    }
    tr->bytes_off[nv] = (uint32_t)all.len;
    tr->bytes = (uint8_t *)all.data;
    all = (buf){0};
    if (!tr->bytes && !(tr->bytes = mem_alloc(1))) goto oom;

    /* Tokens the trie cannot hold first (they sit at the root), then the rest sorted. */
    int32_t n_root = 0, n_rest = 0;
    for (int32_t id = 0; id < nv; id++) {
        uint32_t len = tr->bytes_off[id + 1] - tr->bytes_off[id];
        if (tr->eog[id] || len == 0 || len > UINT16_MAX) tr->ids[n_root++] = id;
    }
    for (int32_t id = 0; id < nv; id++) {
        uint32_t len = tr->bytes_off[id + 1] - tr->bytes_off[id];
        if (!(tr->eog[id] || len == 0 || len > UINT16_MAX)) tr->ids[n_root + n_rest++] = id;
    }
    tr->n_root = (uint32_t)n_root;
    sort_ctx sc = {tr->bytes_off, tr->bytes};
    qsort_r(tr->ids + n_root, (size_t)n_rest, sizeof *tr->ids, cmp_tok, &sc);

    size_t cap = 2 + (size_t)tr->bytes_off[nv];
    tr->node = mem_alloc(cap * sizeof *tr->node);
    uint32_t *path = mem_alloc((UINT16_MAX + 2) * sizeof *path); /* node at each depth */
    if (!tr->node || !path) {
        mem_free(path);
        goto oom;
    }
    uint32_t n = 0, depth = 0;
    tr->node[n++] = (gtrie_node){.tok = 0};
    path[0] = 0;
    const uint8_t *prev = NULL;
    uint32_t prev_len = 0;
    for (int32_t k = n_root; k < nv; k++) {
        int32_t id = tr->ids[k];
        const uint8_t *b = tr->bytes + tr->bytes_off[id];
        uint32_t len = tr->bytes_off[id + 1] - tr->bytes_off[id], lcp = 0;
        while (prev && lcp < len && lcp < prev_len && b[lcp] == prev[lcp]) lcp++;
        for (; depth > lcp; depth--) tr->node[path[depth]].end = n; /* close finished subtrees */
        for (; depth < len; depth++) {
            tr->node[n] = (gtrie_node){.tok = (uint32_t)k, .depth = (uint16_t)(depth + 1),
                                       .byte = b[depth]};
            path[depth + 1] = n++;
        }
        tr->node[path[len]].n_here++;
        if (len > tr->max_depth) tr->max_depth = len;
        prev = b;
        prev_len = len;
    }
    for (; depth > 0; depth--) tr->node[path[depth]].end = n;
    tr->node[0].end = n;
    tr->node[n] = (gtrie_node){.end = n, .tok = (uint32_t)nv};
    tr->n_node = n;
    mem_free(path);
    *out = tr;
    return 0;
oom:
    buf_free(&all);
    gtrie_free(tr);
    return err_set(eb, BASE_ENOMEM, "out of memory");
}
