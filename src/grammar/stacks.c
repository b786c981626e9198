/*
 * The pushdown matcher's core: sets of parse stacks, advanced one code point at a time.
 * Stacks are linked frames that share their tails, so advancing touches only the top frames;
 * everything lives in a bump pool (gpool) that a caller can roll back to a mark, which is what
 * makes the vocabulary trie walk cheap (grammar_sample.c).
 */
#include "grammar_int.h"

/* Per set, and per step: an ambiguous grammar beyond these (thousands of live parses, say
 * many nullable repetitions in a row) is treated like running out of memory. */
#define MAX_STACKS 1024
#define MAX_WORK (1u << 20)

void gpool_free(gpool *p) {
    mem_free(p->node);
    mem_free(p->set);
    *p = (gpool){0};
}

static int32_t new_node(gpool *p, uint32_t pos, int32_t parent) {
    if (p->n_node == p->cap_node) {
        size_t cap = p->cap_node ? p->cap_node * 2 : 256;
        gnode *n = cap < INT32_MAX ? mem_realloc(p->node, cap * sizeof *n) : NULL;
        if (!n) {
            p->oom = true;
            return -2;
        }
        p->node = n;
        p->cap_node = cap;
    }
    p->node[p->n_node] = (gnode){pos, parent};
    return (int32_t)p->n_node++;
}

static void set_push(gpool *p, int32_t top) {
    if (p->n_set == p->cap_set) {
        size_t cap = p->cap_set ? p->cap_set * 2 : 256;
        int32_t *s = mem_realloc(p->set, cap * sizeof *s);
        if (!s) {
            p->oom = true;
            return;
        }
        p->set = s;
        p->cap_set = cap;
    }
    p->set[p->n_set++] = top;
}

static bool same_chain(const gpool *p, int32_t a, int32_t b) {
    while (a != b) {
        if (a < 0 || b < 0 || p->node[a].pos != p->node[b].pos) return false;
        a = p->node[a].parent;
        b = p->node[b].parent;
    }
    return true;
}

/* Add the stack (pos, parent) to the set that starts at from, unless it is there already:
 * ambiguous grammars would otherwise double their stacks at every step. */
static void add_stack(gpool *p, size_t from, uint32_t pos, int32_t parent) {
    p->work += p->n_set - from;
    for (size_t i = from; i < p->n_set; i++) {
        int32_t t = p->set[i];
        if (t >= 0 && p->node[t].pos == pos && same_chain(p, p->node[t].parent, parent)) return;
    }
    if (p->n_set - from >= MAX_STACKS) {
        p->oom = true;
        return;
    }
    int32_t n = new_node(p, pos, parent);
    if (n >= 0) set_push(p, n);
}

static void add_empty(gpool *p, size_t from) {
    for (size_t i = from; i < p->n_set; i++)
        if (p->set[i] == -1) return;
    set_push(p, -1);
}

/* Normalize the stack (pos, parent) into the set at from: follow references and finished
 * alternatives until a character element is on top. Terminates because grammar_build rejects
 * left recursion. */
static void expand(const grammar *g, gpool *p, size_t from, uint32_t pos, int32_t parent) {
    for (;;) {
        if (p->oom) return;
        if (++p->work > MAX_WORK) {
            p->oom = true;
            return;
        }
        uint32_t op = g->code[pos];
        if (op == GOP_END) {
            if (parent < 0) {
                add_empty(p, from);
                return;
            }
            pos = p->node[parent].pos;
            parent = p->node[parent].parent;
            continue;
        }
        if (op == GOP_CHARS) {
            add_stack(p, from, pos, parent);
            return;
        }
        uint32_t r = g->code[pos + 1], next = pos + 2;
        /* A reference last in its alternative needs no frame to come back to: this keeps
         * right recursion (x* and friends) from growing the stack. */
        int32_t cont = parent;
        if (g->code[next] != GOP_END) {
            cont = new_node(p, next, parent);
            if (cont < 0) return;
        }
        for (uint32_t a = g->rule_alt[r]; a < g->rule_alt[r + 1]; a++)
            expand(g, p, from, g->alts[a], cont);
        return;
    }
}

void gm_start(const grammar *g, gpool *p) {
    size_t from = p->n_set;
    p->work = 0;
    for (uint32_t a = g->rule_alt[g->root]; a < g->rule_alt[g->root + 1]; a++)
        expand(g, p, from, g->alts[a], -1);
}

void gm_advance(const grammar *g, gpool *p, size_t from, size_t to, uint32_t cp) {
    size_t out = p->n_set;
    p->work = 0;
    for (size_t i = from; i < to; i++) {
        int32_t t = p->set[i];
        if (t < 0) continue;
        uint32_t pos = p->node[t].pos;
        if (gop_chars_match(g->code, pos, cp))
            expand(g, p, out, pos + gop_size(g->code, pos), p->node[t].parent);
    }
}

bool gm_can_take_range(const grammar *g, const gpool *p, size_t from, size_t to, uint32_t lo,
                       uint32_t hi) {
    for (size_t i = from; i < to; i++) {
        int32_t t = p->set[i];
        if (t >= 0 && gop_chars_match_range(g->code, p->node[t].pos, lo, hi)) return true;
    }
    return false;
}

bool gm_has_empty(const gpool *p, size_t from, size_t to) {
    for (size_t i = from; i < to; i++)
        if (p->set[i] == -1) return true;
    return false;
}

uint32_t gm_dist(const grammar *g, const gpool *p, size_t from, size_t to, int need, uint32_t lo,
                 uint32_t hi) {
    uint32_t best = GRAMMAR_DIST_INF;
    for (size_t i = from; i < to; i++) {
        int32_t t = p->set[i];
        uint32_t d;
        if (t < 0) {
            if (need) continue;
            d = 0;
        } else {
            uint32_t pos = p->node[t].pos;
            if (need) {
                if (!gop_chars_match_range(g->code, pos, lo, hi)) continue;
                d = (uint32_t)need + g->suffix[pos + gop_size(g->code, pos)];
            } else {
                d = g->suffix[pos];
            }
            for (int32_t f = p->node[t].parent; f >= 0 && d < best; f = p->node[f].parent)
                d += g->suffix[p->node[f].pos];
        }
        if (d < best) best = d;
    }
    return best;
}

bool gm_same_set(const gpool *p, size_t a, size_t a_to, size_t b, size_t b_to) {
    if (a_to - a != b_to - b) return false;
    for (size_t i = a; i < a_to; i++) {
        int32_t x = p->set[i];
        bool found = false;
        for (size_t j = b; j < b_to && !found; j++) {
            int32_t y = p->set[j];
            found = x == y || (x >= 0 && y >= 0 && p->node[x].pos == p->node[y].pos &&
                               same_chain(p, p->node[x].parent, p->node[y].parent));
        }
        if (!found) return false;
    }
    return true;
}
