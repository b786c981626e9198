/*
 * From parsed rules to a grammar: one code array, the alternatives' start positions, a check
 * that no rule can reach itself without consuming a character (left recursion would make the
 * matcher expand forever), and the distance tables the token budget uses (fewest bytes that
 * finish an alternative from each position).
 */
#include "grammar_int.h"

#include <string.h>

static uint32_t utf8_len(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

bool gop_chars_match_range(const uint32_t *code, uint32_t pos, uint32_t lo, uint32_t hi) {
    uint32_t n = code[pos + 2];
    const uint32_t *r = code + pos + 3;
    if (!code[pos + 1]) {
        for (uint32_t i = 0; i < n; i++)
            if (r[2 * i] <= hi && r[2 * i + 1] >= lo) return true;
        return false;
    }
    /* Negated: some point of [lo, hi] escapes every range. Walk lo upwards past covering ranges. */
    uint32_t cp = lo;
    for (bool moved = true; moved && cp <= hi;) {
        moved = false;
        for (uint32_t i = 0; i < n; i++)
            if (cp >= r[2 * i] && cp <= r[2 * i + 1]) {
                if (r[2 * i + 1] >= hi) return false;
                cp = r[2 * i + 1] + 1;
                moved = true;
            }
    }
    return cp <= hi;
}

/* Fewest bytes of a character the element matches (GRAMMAR_DIST_INF when none). */
static uint32_t chars_min_bytes(const uint32_t *code, uint32_t pos) {
    uint32_t n = code[pos + 2];
    const uint32_t *r = code + pos + 3;
    uint32_t best = GRAMMAR_DIST_INF;
    if (!code[pos + 1]) {
        for (uint32_t i = 0; i < n; i++) {
            uint32_t l = utf8_len(r[2 * i]);
            if (r[2 * i] <= r[2 * i + 1] && l < best) best = l;
        }
        return best;
    }
    static const uint32_t starts[4] = {0, 0x80, 0x800, 0x10000};
    static const uint32_t ends[4] = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    for (int l = 0; l < 4; l++) {
        if (gop_chars_match_range(code, pos, starts[l], ends[l])) return (uint32_t)l + 1;
    }
    return best;
}

static uint32_t sat_add(uint32_t a, uint32_t b) {
    uint32_t s = a + b;
    return s > GRAMMAR_DIST_INF || s < a ? GRAMMAR_DIST_INF : s;
}

void grammar_free(grammar *g) {
    if (!g) return;
    mem_free(g->code);
    mem_free(g->alts);
    mem_free(g->rule_alt);
    mem_free(g->suffix);
    mem_free(g);
}

/* Depth-first search over "r can start with q" edges; color 1 = on the path, 2 = done. */
static int left_rec(const grammar *g, const uint32_t *minlen, uint8_t *color, int r,
                    const char *const *names, err_buf *eb) {
    color[r] = 1;
    for (uint32_t a = g->rule_alt[r]; a < g->rule_alt[r + 1]; a++) {
        for (uint32_t pos = g->alts[a]; g->code[pos] == GOP_REF; pos += 2) {
            int q = (int)g->code[pos + 1];
            if (color[q] == 1)
                return err_set(eb, BASE_EFORMAT,
                               "left recursion: rule '%s' can reach '%s' without matching a "
                               "character",
                               names[q], names[r]);
            if (color[q] == 0) {
                int rc = left_rec(g, minlen, color, q, names, eb);
                if (rc) return rc;
            }
            if (minlen[q] != 0) break;
        }
    }
    color[r] = 2;
    return 0;
}

int grammar_build(const uint32_t *const *rules, const size_t *lens, int n_rules, int root,
                  const char *const *names, grammar **out, err_buf *eb) {
    *out = NULL;
    /* The checks below recurse once per rule in a chain; a bound keeps hostile grammars from
     * exhausting the stack. */
    if (n_rules > GRAMMAR_MAX_RULES)
        return err_set(eb, BASE_EUNSUPPORTED, "grammar has %d rules (at most %d)", n_rules, GRAMMAR_MAX_RULES);
    grammar *g = mem_calloc(1, sizeof *g);
    size_t n_code = 0, n_alts = 0;
    for (int r = 0; r < n_rules; r++) {
        n_code += lens[r];
        for (uint32_t pos = 0; pos < lens[r]; pos += gop_size(rules[r], pos))
            if (rules[r][pos] == GOP_END) n_alts++;
    }
    uint32_t *minlen = mem_alloc(((size_t)n_rules + 1) * sizeof *minlen);
    uint8_t *color = mem_calloc((size_t)n_rules + 1, 1);
    if (g) {
        g->code = mem_alloc((n_code + 1) * sizeof *g->code);
        g->suffix = mem_alloc((n_code + 1) * sizeof *g->suffix);
        g->alts = mem_alloc((n_alts + 1) * sizeof *g->alts);
        g->rule_alt = mem_alloc(((size_t)n_rules + 1) * sizeof *g->rule_alt);
    }
    if (!g || !g->code || !g->suffix || !g->alts || !g->rule_alt || !minlen || !color) {
        grammar_free(g);
        mem_free(minlen);
        mem_free(color);
        return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    g->n_code = n_code;
    g->n_rules = n_rules;
    g->root = root;
    size_t at = 0, na = 0;
    for (int r = 0; r < n_rules; r++) {
        g->rule_alt[r] = (uint32_t)na;
        memcpy(g->code + at, rules[r], lens[r] * sizeof *g->code);
        g->alts[na++] = (uint32_t)at;
        for (uint32_t pos = 0; pos < lens[r]; pos += gop_size(rules[r], pos))
            if (rules[r][pos] == GOP_END && pos + 1 < lens[r]) g->alts[na++] = (uint32_t)(at + pos + 1);
        at += lens[r];
    }
    g->rule_alt[n_rules] = (uint32_t)na;

    /* Fewest bytes per rule: a fixpoint, as rules refer to each other in cycles. */
    for (int r = 0; r < n_rules; r++) minlen[r] = GRAMMAR_DIST_INF;
    for (bool changed = true; changed;) {
        changed = false;
        for (int r = 0; r < n_rules; r++) {
            for (uint32_t a = g->rule_alt[r]; a < g->rule_alt[r + 1]; a++) {
                uint32_t sum = 0;
                for (uint32_t pos = g->alts[a]; g->code[pos] != GOP_END; pos += gop_size(g->code, pos))
                    sum = sat_add(sum, g->code[pos] == GOP_REF ? minlen[g->code[pos + 1]]
                                                               : chars_min_bytes(g->code, pos));
                if (sum < minlen[r]) { minlen[r] = sum; changed = true; }
            }
        }
    }
    /* Suffix distances, each alternative from its end backwards. */
    for (size_t a = 0; a < na; a++) {
        uint32_t idx[4096];
        size_t n = 0;
        uint32_t pos = g->alts[a];
        for (; g->code[pos] != GOP_END; pos += gop_size(g->code, pos)) {
            if (n < sizeof idx / sizeof *idx) idx[n++] = pos;
        }
        g->suffix[pos] = 0;
        uint32_t d = 0;
        if (n == sizeof idx / sizeof *idx) {
            /* Very long alternative: fill forwards with a second pass, quadratic but rare. */
            for (uint32_t q = g->alts[a]; g->code[q] != GOP_END; q += gop_size(g->code, q)) {
                uint32_t s = 0;
                for (uint32_t t = q; g->code[t] != GOP_END; t += gop_size(g->code, t))
                    s = sat_add(s, g->code[t] == GOP_REF ? minlen[g->code[t + 1]] : chars_min_bytes(g->code, t));
                g->suffix[q] = s;
            }
            continue;
        }
        while (n--) {
            uint32_t q = idx[n];
            d = sat_add(d, g->code[q] == GOP_REF ? minlen[g->code[q + 1]] : chars_min_bytes(g->code, q));
            g->suffix[q] = d;
        }
    }
    int rc = 0;
    for (int r = 0; r < n_rules && !rc; r++)
        if (color[r] == 0) rc = left_rec(g, minlen, color, r, names, eb);
    if (!rc && minlen[root] == GRAMMAR_DIST_INF)
        rc = err_set(eb, BASE_EFORMAT, "rule 'root' can never finish (it matches no text)");
    mem_free(minlen);
    mem_free(color);
    if (rc) {
        grammar_free(g);
        return rc;
    }
    *out = g;
    return 0;
}
