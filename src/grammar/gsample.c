/*
 * Grammar-constrained sampling over a vocabulary trie.
 *
 * The lazy path: let the sampler choose from the raw logits and check only that token. If the
 * grammar allows it we are done; otherwise mask every rejected token and sample again. Drawing
 * t first with probability p(t) and, on a rejection (probability 1 - Z, Z the allowed mass),
 * from the masked distribution p(t)/Z gives p(t) + (1 - Z) p(t)/Z = p(t)/Z: the masked
 * distribution, as if we had masked first (up to top-k/top-p truncation, which sees the raw
 * logits on the first draw).
 *
 * The mask walks the trie in preorder with one parse-stack set per depth, all in the state's
 * pool above a mark: a byte the grammar rejects skips its whole subtree.
 */
#include "grammar_int.h"

#include <math.h>
#include <string.h>

static bool token_bytes(const gtrie *tr, int32_t id, const uint8_t **b, size_t *n) {
    *b = tr->bytes + tr->bytes_off[id];
    *n = tr->bytes_off[id + 1] - tr->bytes_off[id];
    return *n > 0;
}

static bool fits(uint32_t dist, int tokens_left) {
    return tokens_left <= 0 || dist <= (uint32_t)(tokens_left - 1);
}

bool gstate_allows_token(gstate *s, const gtrie *tr, int32_t id, int tokens_left) {
    if (id < 0 || id >= tr->n_vocab) return false;
    if (tr->eog[id]) return gstate_is_complete(s);
    const uint8_t *b;
    size_t n;
    if (!token_bytes(tr, id, &b, &n)) return false;
    uint32_t dist = 0;
    if (gstate_step(s, b, n, false, tokens_left > 0 ? &dist : NULL)) return false;
    return fits(dist, tokens_left);
}

int gstate_accept_token(gstate *s, const gtrie *tr, int32_t id) {
    if (id < 0 || id >= tr->n_vocab) return BASE_EINVAL;
    if (tr->eog[id]) return gstate_is_complete(s) ? 0 : BASE_EINVAL;
    const uint8_t *b;
    size_t n;
    if (!token_bytes(tr, id, &b, &n)) return BASE_EINVAL;
    return gstate_step(s, b, n, true, NULL);
}

static void ban_range(const gtrie *tr, uint32_t from, uint32_t to, float *logits) {
    for (uint32_t k = from; k < to; k++) logits[tr->ids[k]] = -INFINITY;
}

/* What a code point does to the state's current set during a walk (walk_memo). */
enum { MEMO_UNKNOWN = 0, MEMO_REJECT = 1, MEMO_SAME = 2, MEMO_OTHER = 3 };

int grammar_mask_logits(gstate *s, const gtrie *tr, float *logits, int tokens_left) {
    if (s->cap_lv < (size_t)tr->max_depth + 1) {
        gwalk_level *lv = mem_realloc(s->lv, ((size_t)tr->max_depth + 1) * sizeof *lv);
        if (!lv) return BASE_ENOMEM;
        s->lv = lv;
        s->cap_lv = (size_t)tr->max_depth + 1;
    }
    if (!s->walk_memo && !(s->walk_memo = mem_alloc(GWALK_MEMO))) return BASE_ENOMEM;
    memset(s->walk_memo, MEMO_UNKNOWN, GWALK_MEMO);
    const grammar *g = s->g;
    gpool *p = &s->pool;
    int allowed = 0;
    bool complete = gstate_is_complete(s);
    for (uint32_t k = 0; k < tr->n_root; k++) {
        int32_t id = tr->ids[k];
        if (tr->eog[id] && complete) allowed++;
        else logits[id] = -INFINITY;
    }
    size_t base_node = p->n_node, base_set = p->n_set;
    const size_t root_from = s->cur_from, root_to = s->cur_to;
    s->lv[0] = (gwalk_level){root_from, root_to, base_node, base_set, s->part};
    /* Loops such as the characters of a string bring the walk back to the set it started
     * from. Such a set is recognized once per code point and then reused without advancing
     * (MEMO_SAME), so a walk through string content costs a table lookup per byte. */
    bool memo_ok = s->part.need == 0;
    uint32_t root_dist = GRAMMAR_DIST_INF + 1;
    int rc = 0;
    for (uint32_t i = 1; i < tr->n_node;) {
        const gtrie_node *nd = &tr->node[i];
        const gwalk_level *up = &s->lv[nd->depth - 1];
        gwalk_level *me = &s->lv[nd->depth];
        p->n_node = up->n_node;
        p->n_set = up->n_set;
        *me = *up;
        uint32_t cp, lo = 0, hi = 0;
        int r = gutf8_push(&me->u, nd->byte, &cp);
        bool ok;
        if (r == GUTF8_BAD) {
            ok = false;
        } else if (r == GUTF8_DONE) {
            bool at_root = memo_ok && up->from == root_from && cp < GWALK_MEMO;
            uint8_t memo = at_root ? s->walk_memo[cp] : MEMO_UNKNOWN;
            if (memo == MEMO_REJECT) {
                ok = false;
            } else if (memo == MEMO_SAME) {
                ok = true;
            } else {
                size_t at = p->n_set;
                gm_advance(g, p, up->from, up->to, cp);
                if (p->oom) {
                    rc = BASE_ENOMEM;
                    break;
                }
                me->from = at;
                me->to = p->n_set;
                ok = me->from < me->to;
                if (at_root) {
                    if (!ok) {
                        s->walk_memo[cp] = MEMO_REJECT;
                    } else if (gm_same_set(p, at, p->n_set, root_from, root_to)) {
                        s->walk_memo[cp] = MEMO_SAME;
                        p->n_node = up->n_node;
                        p->n_set = up->n_set;
                        me->from = root_from;
                        me->to = root_to;
                    } else {
                        s->walk_memo[cp] = MEMO_OTHER;
                    }
                }
            }
        } else {
            gutf8_range(&me->u, &lo, &hi);
            ok = gm_can_take_range(g, p, up->from, up->to, lo, hi);
        }
        if (!ok) {
            ban_range(tr, nd->tok, tr->node[nd->end].tok, logits);
            i = nd->end;
            continue;
        }
        me->n_node = p->n_node;
        me->n_set = p->n_set;
        if (nd->n_here) {
            uint32_t dist = 0;
            if (tokens_left > 0) {
                bool root = me->from == root_from && me->u.need == 0 && memo_ok;
                if (root && root_dist <= GRAMMAR_DIST_INF) dist = root_dist;
                else dist = gm_dist(g, p, me->from, me->to, me->u.need, lo, hi);
                if (root) root_dist = dist;
            }
            if (fits(dist, tokens_left)) allowed += nd->n_here;
            else ban_range(tr, nd->tok, nd->tok + nd->n_here, logits);
        }
        i++;
    }
    p->n_node = base_node;
    p->n_set = base_set;
    p->oom = false;
    return rc ? rc : allowed;
}

int grammar_sample(gstate *s, const gtrie *tr, smp *sm, const float *logits, int tokens_left,
                   smp_logprobs *lp, int n_top, int32_t *out_id) {
    *out_id = TOK_NULL;
    int32_t id = smp_sample(sm, logits, lp, n_top);
    if (gstate_allows_token(s, tr, id, tokens_left)) {
        *out_id = id;
        return 0;
    }
    size_t nv = (size_t)tr->n_vocab;
    if (s->n_scratch < nv) {
        float *f = mem_realloc(s->scratch, nv * sizeof *f);
        if (!f) return BASE_ENOMEM;
        s->scratch = f;
        s->n_scratch = nv;
    }
    memcpy(s->scratch, logits, nv * sizeof *logits);
    int n = grammar_mask_logits(s, tr, s->scratch, tokens_left);
    if (n == 0 && tokens_left > 0) {
        /* The budget is already too small to finish: still head for the end, allowing only
         * tokens that bring it closer; failing that, drop the budget. */
        uint32_t d = gstate_min_bytes_left(s);
        int tl = d > 0 && d < GRAMMAR_DIST_INF ? (int)d : 0;
        memcpy(s->scratch, logits, nv * sizeof *logits);
        n = grammar_mask_logits(s, tr, s->scratch, tl);
        if (n == 0 && tl) {
            memcpy(s->scratch, logits, nv * sizeof *logits);
            n = grammar_mask_logits(s, tr, s->scratch, 0);
        }
    }
    if (n < 0) return n;
    if (n == 0) return BASE_EINVAL;
    id = smp_sample(sm, s->scratch, lp, n_top);
    if (id < 0 || id >= tr->n_vocab || s->scratch[id] == -INFINITY) {
        /* The sampler's own bias or penalties can push every allowed token out of its
         * truncated set; fall back to the best allowed token. */
        id = -1;
        for (size_t i = 0; i < nv; i++)
            if (s->scratch[i] != -INFINITY && (id < 0 || s->scratch[i] > s->scratch[id])) id = (int32_t)i;
        if (id < 0) return BASE_EINVAL;
    }
    *out_id = id;
    return 0;
}
