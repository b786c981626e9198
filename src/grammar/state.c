/*
 * gstate: one generation's position in a grammar. Bytes are decoded to code points as they
 * come; a token that ends inside a UTF-8 character leaves its bytes in `part` until the next
 * token completes it. After each accepted step the live stacks are copied into a fresh pool,
 * so the pool never holds more than the current stacks.
 */
#include "grammar_int.h"

#include <string.h>

static void start(gstate *s) {
    s->pool.n_node = s->pool.n_set = 0;
    s->pool.oom = false;
    gm_start(s->g, &s->pool);
    s->cur_from = 0;
    s->cur_to = s->pool.n_set;
    s->part = (gutf8){0};
}

gstate *gstate_new(const grammar *g) {
    gstate *s = mem_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->g = g;
    start(s);
    if (s->pool.oom) {
        gstate_free(s);
        return NULL;
    }
    return s;
}

void gstate_free(gstate *s) {
    if (!s) return;
    gpool_free(&s->pool);
    gpool_free(&s->spare);
    mem_free(s->remap);
    mem_free(s->scratch);
    mem_free(s->lv);
    mem_free(s->walk_memo);
    mem_free(s);
}

void gstate_reset(gstate *s) { start(s); }

gstate *gstate_clone(const gstate *src) {
    gstate *s = mem_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->g = src->g;
    s->part = src->part;
    size_t nn = src->pool.n_node, ns = src->cur_to - src->cur_from;
    s->pool.node = mem_alloc((nn ? nn : 1) * sizeof *s->pool.node);
    s->pool.set = mem_alloc((ns ? ns : 1) * sizeof *s->pool.set);
    if (!s->pool.node || !s->pool.set) {
        gstate_free(s);
        return NULL;
    }
    if (nn) memcpy(s->pool.node, src->pool.node, nn * sizeof *s->pool.node);
    if (ns) memcpy(s->pool.set, src->pool.set + src->cur_from, ns * sizeof *s->pool.set);
    s->pool.cap_node = nn ? nn : 1;
    s->pool.n_node = nn;
    s->pool.n_set = ns;
    s->pool.cap_set = ns ? ns : 1;
    s->cur_from = 0;
    s->cur_to = ns;
    return s;
}

int gstate_run_bytes(gstate *s, gutf8 *u, const uint8_t *b, size_t n, size_t *from, size_t *to) {
    for (size_t i = 0; i < n; i++) {
        uint32_t cp;
        int r = gutf8_push(u, b[i], &cp);
        if (r == GUTF8_BAD) return BASE_EINVAL;
        if (r == GUTF8_MORE) continue;
        size_t at = s->pool.n_set;
        gm_advance(s->g, &s->pool, *from, *to, cp);
        if (s->pool.oom) return BASE_ENOMEM;
        *from = at;
        *to = s->pool.n_set;
        if (*from == *to) return BASE_EINVAL;
    }
    if (u->need) {
        uint32_t lo, hi;
        gutf8_range(u, &lo, &hi);
        if (!gm_can_take_range(s->g, &s->pool, *from, *to, lo, hi)) return BASE_EINVAL;
    }
    return 0;
}

/* Copy the chain from frame t into the spare pool (memoized in remap), returning its index. */
static int32_t copy_chain(gstate *s, int32_t t) {
    gpool *src = &s->pool, *dst = &s->spare;
    int32_t cur = t, prev = -1;
    while (cur >= 0 && s->remap[cur] < 0) {
        if (dst->n_node == dst->cap_node) {
            size_t cap = dst->cap_node ? dst->cap_node * 2 : 256;
            gnode *nn = mem_realloc(dst->node, cap * sizeof *nn);
            if (!nn) return -2;
            dst->node = nn;
            dst->cap_node = cap;
        }
        int32_t k = (int32_t)dst->n_node++;
        dst->node[k] = (gnode){src->node[cur].pos, -1};
        s->remap[cur] = k;
        if (prev >= 0) dst->node[prev].parent = k;
        prev = k;
        cur = src->node[cur].parent;
    }
    if (prev >= 0) dst->node[prev].parent = cur < 0 ? -1 : s->remap[cur];
    return t < 0 ? t : s->remap[t];
}

/* Make [from, to) of the pool the current set, keeping only the frames it uses. */
static int commit(gstate *s, size_t from, size_t to) {
    if (s->cap_remap < s->pool.n_node) {
        int32_t *r = mem_realloc(s->remap, s->pool.n_node * sizeof *r);
        if (!r) return BASE_ENOMEM;
        s->remap = r;
        s->cap_remap = s->pool.n_node;
    }
    if (s->pool.n_node) memset(s->remap, 0xff, s->pool.n_node * sizeof *s->remap);
    s->spare.n_node = s->spare.n_set = 0;
    size_t n = to - from;
    if (s->spare.cap_set < n) {
        int32_t *ns = mem_realloc(s->spare.set, n * sizeof *ns);
        if (!ns) return BASE_ENOMEM;
        s->spare.set = ns;
        s->spare.cap_set = n;
    }
    for (size_t i = from; i < to; i++) {
        int32_t k = copy_chain(s, s->pool.set[i]);
        if (k < -1) return BASE_ENOMEM;
        s->spare.set[s->spare.n_set++] = k;
    }
    gpool t = s->pool;
    s->pool = s->spare;
    s->spare = t;
    s->pool.oom = false;
    s->cur_from = 0;
    s->cur_to = s->pool.n_set;
    return 0;
}

int gstate_step(gstate *s, const uint8_t *b, size_t n, bool apply, uint32_t *dist) {
    size_t mark_node = s->pool.n_node, mark_set = s->pool.n_set;
    size_t from = s->cur_from, to = s->cur_to;
    gutf8 u = s->part;
    int rc = gstate_run_bytes(s, &u, b, n, &from, &to);
    if (!rc && dist) {
        uint32_t lo = 0, hi = 0;
        if (u.need) gutf8_range(&u, &lo, &hi);
        *dist = gm_dist(s->g, &s->pool, from, to, u.need, lo, hi);
    }
    if (!rc && apply) {
        rc = commit(s, from, to);
        if (!rc) {
            s->part = u;
            return 0;
        }
    }
    s->pool.n_node = mark_node;
    s->pool.n_set = mark_set;
    s->pool.oom = false;
    return rc;
}

bool gstate_can_accept_bytes(gstate *s, const void *bytes, size_t n) {
    return gstate_step(s, bytes, n, false, NULL) == 0;
}

int gstate_accept_bytes(gstate *s, const void *bytes, size_t n) {
    return gstate_step(s, bytes, n, true, NULL);
}

bool gstate_is_complete(const gstate *s) {
    return s->part.need == 0 && gm_has_empty(&s->pool, s->cur_from, s->cur_to);
}

bool gstate_is_done(const gstate *s) {
    return gstate_is_complete(s) && s->cur_to - s->cur_from == 1;
}

uint32_t gstate_min_bytes_left(const gstate *s) {
    uint32_t lo = 0, hi = 0;
    if (s->part.need) gutf8_range(&s->part, &lo, &hi);
    return gm_dist(s->g, &s->pool, s->cur_from, s->cur_to, s->part.need, lo, hi);
}
