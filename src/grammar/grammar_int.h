/*
 * Internals shared by the grammar module's files: the compiled grammar, the stack pool the
 * matcher works in, and the incremental UTF-8 decoder.
 *
 * A compiled grammar is one array of 32-bit words. Each rule is a list of alternatives; each
 * alternative a sequence of elements ended by GOP_END:
 *   GOP_CHARS neg n lo0 hi0 ... lo(n-1) hi(n-1)   one code point in (or, neg, not in) ranges
 *   GOP_REF rule                                   the rule's text
 *   GOP_END                                        end of the alternative
 * A position is an index into that array.
 */
#ifndef GRAMMAR_INT_H
#define GRAMMAR_INT_H

#include "grammar.h"

enum { GOP_END = 0, GOP_REF = 1, GOP_CHARS = 2 };

#define GRAMMAR_DIST_INF 0x3fffffffu
#define GRAMMAR_MAX_RULES 20000

struct grammar {
    uint32_t *code;
    size_t n_code;
    uint32_t *alts;     /* start positions of all alternatives, rule by rule */
    uint32_t *rule_alt; /* (n_rules + 1): rule r's alternatives are alts[rule_alt[r]..[r+1]) */
    uint32_t *suffix;   /* (n_code): fewest bytes from a position to its alternative's end */
    int n_rules;
    int root;
};

/* Elements' sizes in words. */
static inline uint32_t gop_size(const uint32_t *code, uint32_t pos) {
    switch (code[pos]) {
    case GOP_REF: return 2;
    case GOP_CHARS: return 3 + 2 * code[pos + 2];
    default: return 1;
    }
}

static inline bool gop_chars_match(const uint32_t *code, uint32_t pos, uint32_t cp) {
    uint32_t n = code[pos + 2];
    const uint32_t *r = code + pos + 3;
    bool in = false;
    for (uint32_t i = 0; i < n && !in; i++) in = cp >= r[2 * i] && cp <= r[2 * i + 1];
    return in != (code[pos + 1] != 0);
}

/* Some code point in [lo, hi] matches the element. */
bool gop_chars_match_range(const uint32_t *code, uint32_t pos, uint32_t lo, uint32_t hi);

/* Build a grammar from the code of n_rules rules (rule r's words are rules[r][0..lens[r]),
 * alternatives separated by GOP_END, the last ended by GOP_END). Checks left recursion
 * (names are used in the message) and computes the distance tables. Takes nothing over. */
int grammar_build(const uint32_t *const *rules, const size_t *lens, int n_rules, int root,
                  const char *const *names, grammar **out, err_buf *eb);

/* GBNF rules for JSON values (json.c): ws, json-string, json-number, json-integer,
 * json-boolean, json-null, json-value, json-object, json-array and their helpers. */
extern const char grammar_json_prims[];

/* Append a GBNF expression for the integers in [lo, hi] (a bound is absent unless has_*);
 * schema_num.c. BASE_EINVAL for an empty range, BASE_EUNSUPPORTED beyond 15 digits. */
int gschema_int_range(buf *o, bool has_lo, int64_t lo, bool has_hi, int64_t hi, err_buf *eb);

/* Append rule `name` (and its helpers name-0, name-1-2, ...): the rest of a JSON string after
 * its opening quote, closing quote included, that is none of names[0..n) (schema_keys.c). */
int gschema_not_keys(buf *rules, const char *name, const char *const *names, size_t n, err_buf *eb);

/* Append a GBNF expression for a JSON string (quotes and trailing ws included) whose value
 * matches the regular expression `pattern` (schema_pattern.c). BASE_EUNSUPPORTED for
 * features outside the supported subset. */
int gschema_pattern(buf *o, const char *pattern);

/* ---- parse stacks ---- */

/* A stack is a linked list of frames from the top: pos is where the frame continues, parent
 * the frame below (-1: none). Stacks share their tails. A stack whose top is -1 is empty: the
 * grammar is complete along it. Normalized stacks have a GOP_CHARS element on top. */
typedef struct gnode {
    uint32_t pos;
    int32_t parent;
} gnode;

/* Frames and stack sets (lists of top frames), both bump-allocated so that a trie walk can
 * undo everything after a mark by resetting the lengths. */
typedef struct gpool {
    gnode *node;
    size_t n_node, cap_node;
    int32_t *set;
    size_t n_set, cap_set;
    size_t work; /* steps of the current advance, bounded so ambiguous grammars stay fast */
    bool oom;    /* out of memory, or the bound on stacks or work was hit */
} gpool;

void gpool_free(gpool *p);
/* The start set (root's alternatives expanded), appended to p->set. */
void gm_start(const grammar *g, gpool *p);
/* Append the set reached from set [from, to) by code point cp. Empty when cp is rejected. */
void gm_advance(const grammar *g, gpool *p, size_t from, size_t to, uint32_t cp);
/* Some stack of [from, to) can take a code point in [lo, hi]. */
bool gm_can_take_range(const grammar *g, const gpool *p, size_t from, size_t to, uint32_t lo,
                       uint32_t hi);
/* Fewest bytes to complete from set [from, to); with a partial character (need > 0 bytes to
 * come, its code point in [lo, hi]), only stacks that can take it count. */
uint32_t gm_dist(const grammar *g, const gpool *p, size_t from, size_t to, int need, uint32_t lo,
                 uint32_t hi);
bool gm_has_empty(const gpool *p, size_t from, size_t to);

/* ---- UTF-8, one byte at a time ---- */

typedef struct gutf8 {
    uint32_t acc; /* bits so far */
    uint8_t need; /* continuation bytes still to come */
    uint8_t len;  /* bytes of the character so far */
} gutf8;

enum { GUTF8_MORE = 0, GUTF8_DONE = 1, GUTF8_BAD = -1 };

/* Feed byte b. GUTF8_DONE with *cp set when a character completes. */
static inline int gutf8_push(gutf8 *u, uint8_t b, uint32_t *cp) {
    if (u->need == 0) {
        if (b < 0x80) { *cp = b; return GUTF8_DONE; }
        if (b >= 0xC2 && b <= 0xDF) { u->acc = b & 0x1F; u->need = 1; }
        else if (b >= 0xE0 && b <= 0xEF) { u->acc = b & 0x0F; u->need = 2; }
        else if (b >= 0xF0 && b <= 0xF4) { u->acc = b & 0x07; u->need = 3; }
        else return GUTF8_BAD;
        u->len = 1;
        return GUTF8_MORE;
    }
    if ((b & 0xC0) != 0x80) return GUTF8_BAD;
    u->acc = (u->acc << 6) | (b & 0x3F);
    u->len++;
    if (--u->need) {
        /* Reject prefixes no valid character has, as early as possible. */
        if (u->len == 2 && u->need == 1 && (u->acc < 0x20 || (u->acc >= 0x360 && u->acc <= 0x37F)))
            return GUTF8_BAD; /* E0 80..9F overlong, ED A0..BF surrogates */
        if (u->len == 2 && u->need == 2 && (u->acc < 0x10 || u->acc > 0x10F)) return GUTF8_BAD;
        return GUTF8_MORE;
    }
    uint32_t c = u->acc;
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min_for_len[u->len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return GUTF8_BAD;
    *cp = c;
    return GUTF8_DONE;
}

/* The code points a partial character can still become. */
static inline void gutf8_range(const gutf8 *u, uint32_t *lo, uint32_t *hi) {
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t mn = min_for_len[u->len + u->need];
    *lo = u->acc << (6 * u->need);
    *hi = *lo | ((1u << (6 * u->need)) - 1);
    if (*lo < mn) *lo = mn; /* F0 xx.. is at least U+10000, not U+0000 */
    if (*hi > 0x10FFFF) *hi = 0x10FFFF;
}

/* ---- states ---- */

/* One level of the trie walk: the set after the bytes down to that depth, and the pool's
 * lengths right after computing it (the mark its children roll back to). */
typedef struct gwalk_level {
    size_t from, to, n_node, n_set;
    gutf8 u;
} gwalk_level;

struct gstate {
    const grammar *g;
    gpool pool;              /* the current set is pool.set[cur_from .. cur_to) */
    size_t cur_from, cur_to;
    gutf8 part;              /* an unfinished character */
    gpool spare;             /* compaction target, swapped with pool */
    int32_t *remap;          /* compaction memo, one per pool frame */
    size_t cap_remap;
    float *scratch;          /* masked logits copy (grammar_sample) */
    size_t n_scratch;
    gwalk_level *lv;         /* trie walk levels, max_depth + 1 */
    size_t cap_lv;
    uint8_t *walk_memo;      /* GWALK_MEMO: what each code point does to the current set */
};

#define GWALK_MEMO 0x10000 /* code points below this are memoized during a trie walk */

/* Whether sets [a, a_to) and [b, b_to) hold the same stacks (order aside). */
bool gm_same_set(const gpool *p, size_t a, size_t a_to, size_t b, size_t b_to);

/* Run bytes from set [*from, *to) with decoder u, updating all three; the new frames stay in
 * the pool. BASE_EINVAL when rejected (then the pool holds garbage above its old lengths). */
int gstate_run_bytes(gstate *s, gutf8 *u, const uint8_t *b, size_t n, size_t *from, size_t *to);
/* Check bytes from the current state; with apply, advance. dist (may be NULL) receives the
 * fewest bytes that complete the grammar afterwards. The state is unchanged on error. */
int gstate_step(gstate *s, const uint8_t *b, size_t n, bool apply, uint32_t *dist);

/* ---- the trie ---- */

/* Nodes in preorder: node i's subtree is [i, end); its tokens (those whose bytes pass through
 * it) are ids[node[i].tok .. node[end].tok). Node 0 is the root (no byte, depth 0). */
typedef struct gtrie_node {
    uint32_t end;
    uint32_t tok;   /* first of the tokens in the subtree (in ids[]) */
    uint16_t n_here; /* tokens ending exactly here: ids[tok .. tok + n_here) */
    uint16_t depth;  /* bytes from the root */
    uint8_t byte;
} gtrie_node;

struct gtrie {
    gtrie_node *node; /* n_node + 1: a sentinel at the end */
    uint32_t n_node;
    int32_t *ids;     /* token ids in trie order */
    int32_t n_vocab;
    uint32_t *bytes_off; /* (n_vocab + 1) token id -> its bytes in bytes[] */
    uint8_t *bytes;
    uint8_t *eog;     /* (n_vocab) 1 for end-of-generation tokens */
    uint32_t n_root;  /* tokens the trie does not hold (no bytes, or end of generation): ids[0..n_root) */
    uint32_t max_depth;
};

#endif
