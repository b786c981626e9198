/*
 * SentencePiece Unigram ("UGM", tokenizer.ggml.model = "t5": T5, XLM-RoBERTa, bge-m3,
 * multilingual-e5) as llama.cpp runs it. The text is first normalized with the model's
 * precompiled character map (SentencePiece's XOR-compressed double-array trie of input
 * prefixes and a pool of NUL-terminated replacements), spaces become '▁' (one in front with
 * add_space_prefix, runs merged with remove_extra_whitespaces); then Viterbi picks the
 * segmentation with the highest total score, a character no token covers costing the lowest
 * score minus 10 as <unk> (consecutive <unk>s merge into one).
 *
 * The charsmap comes from the file unchecked, so every read of it is bounds-checked: a bad
 * index ends the match instead of reading outside it.
 */
#include <float.h>
#include <string.h>

#include "tok_int.h"

#define UGM_UNK_PENALTY 10.0

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int tok_ugm_setup(tok *t, const uint8_t *charsmap, size_t len, err_buf *eb) {
    double lo = DBL_MAX;
    for (int32_t id = 0; id < t->n_vocab; id++)
        if ((t->tokens[id].attr & TOK_ATTR_NORMAL) && t->tokens[id].score < lo)
            lo = t->tokens[id].score;
    t->ugm_unk_score = (lo == DBL_MAX ? 0.0 : lo) - UGM_UNK_PENALTY;
    if (!len) return BASE_OK;
    if (len < 4) return err_set(eb, BASE_EFORMAT, "precompiled_charsmap has %zu bytes", len);
    uint32_t blob = le32(charsmap);
    if (blob % 4 || blob > len - 4)
        return err_set(eb, BASE_EFORMAT, "precompiled_charsmap: trie of %u bytes in %zu", blob, len);
    t->charsmap = mem_alloc(len);
    if (!t->charsmap) return err_set(eb, BASE_ENOMEM, "out of memory");
    memcpy(t->charsmap, charsmap, len);
    t->xcda = t->charsmap + 4;
    t->xcda_n = blob / 4;
    t->repl = (const char *)t->charsmap + 4 + blob;
    t->repl_n = len - 4 - blob;
    return BASE_OK;
}

static bool xcda_node(const tok *t, uint32_t i, uint32_t *out) {
    if (i >= t->xcda_n) return false;
    *out = le32(t->xcda + (size_t)i * 4);
    return true;
}
static uint32_t xbase(uint32_t n) { return (n >> 10) << ((n & (1u << 9)) >> 6); }
static uint32_t xlcheck(uint32_t n) { return n & ((1u << 31) | 0xff); }
static bool xleaf(uint32_t n) { return (n >> 8) & 1; }
static uint32_t xvalue(uint32_t n) { return n & ((1u << 31) - 1); }

/* Whether id may be matched in text (llama.cpp's token matcher holds these). */
static bool matchable(const tok *t, int32_t id) {
    return t->tokens[id].attr & (TOK_ATTR_NORMAL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNUSED);
}

/* The normalization of the prefix of s[0..n): the replacement in out, out_len; returns the
 * input bytes it consumed (>= 1). */
static size_t norm_prefix(const tok *t, const char *s, size_t n, const char **out, size_t *out_len) {
    /* A user-defined token is kept as it is (the longest one). */
    size_t maxl = n < t->max_token_len ? n : t->max_token_len;
    for (size_t l = maxl; l > 0; l--) {
        int32_t id = tok_find(t, s, l);
        if (id != TOK_NULL && (t->tokens[id].attr & TOK_ATTR_USER_DEFINED)) {
            *out = s, *out_len = l;
            return l;
        }
    }
    size_t best_len = 0;
    uint32_t best_off = 0, node;
    if (t->xcda_n && xcda_node(t, 0, &node)) {
        uint32_t idx = xbase(node);
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == 0) break;
            idx ^= c;
            if (!xcda_node(t, idx, &node) || xlcheck(node) != c) break;
            bool leaf = xleaf(node);
            idx ^= xbase(node);
            if (leaf) {
                uint32_t vnode;
                if (!xcda_node(t, idx, &vnode)) break;
                best_len = i + 1;
                best_off = xvalue(vnode);
            }
        }
    }
    if (best_len && best_off < t->repl_n) {
        const char *r = t->repl + best_off;
        size_t rl = strnlen(r, t->repl_n - best_off);
        *out = r, *out_len = rl;
        return best_len;
    }
    /* A valid UTF-8 sequence (as llama.cpp checks it: lead byte and continuation bytes) is
     * kept; otherwise one byte is consumed as U+FFFD. */
    uint8_t b0 = (uint8_t)s[0];
    size_t cl = b0 < 0x80 ? 1 : (b0 & 0xe0) == 0xc0 ? 2 : (b0 & 0xf0) == 0xe0 ? 3 : (b0 & 0xf8) == 0xf0 ? 4 : 0;
    bool ok = cl && cl <= n;
    for (size_t k = 1; ok && k < cl; k++) ok = ((uint8_t)s[k] & 0xc0) == 0x80;
    if (!ok) {
        *out = "\xef\xbf\xbd", *out_len = 3;
        return 1;
    }
    *out = s, *out_len = cl;
    return cl;
}

static int normalize(const tok *t, const char *text, size_t len, buf *out) {
    static const char space[] = "\xe2\x96\x81";
    bool prepend = t->add_space_prefix, merge = t->remove_extra_ws;
    bool prepended = false, in_word = false;
    for (size_t off = 0; off < len;) {
        const char *r;
        size_t rl;
        off += norm_prefix(t, text + off, len - off, &r, &rl);
        for (size_t i = 0; i < rl; i++) {
            if (r[i] != ' ') {
                if (!in_word) {
                    in_word = true;
                    if ((prepend && !prepended) || merge) {
                        buf_append(out, space, 3);
                        prepended = true;
                    }
                }
                buf_append(out, &r[i], 1);
            } else {
                in_word = false;
                if (!merge) buf_append(out, space, 3);
            }
        }
    }
    return out->oom ? BASE_ENOMEM : BASE_OK;
}

typedef struct ugm_best {
    int32_t id;
    size_t from; /* input offset the token starts at */
    double score;
} ugm_best;

int tok_ugm_encode(const tok *t, const char *text, size_t len, tok_ids *out) {
    buf nb = {0};
    int rc = normalize(t, text, len, &nb);
    size_t n = nb.len;
    if (rc || n == 0) {
        buf_free(&nb);
        return rc;
    }
    const char *s = nb.data;
    ugm_best *best = mem_alloc((n + 1) * sizeof *best);
    if (!best) {
        buf_free(&nb);
        return BASE_ENOMEM;
    }
    for (size_t i = 0; i <= n; i++) best[i] = (ugm_best){t->unk, 0, -DBL_MAX};
    best[0].score = 0;
    for (size_t off = 0; off < n;) {
        size_t cl = tok_utf8_len((uint8_t)s[off]);
        if (cl > n - off) cl = n - off;
        bool whole_char = false;
        double base = best[off].score;
        size_t maxl = n - off < t->max_token_len ? n - off : t->max_token_len;
        for (size_t l = 1; l <= maxl; l++) {
            int32_t id = tok_find(t, s + off, l);
            if (id == TOK_NULL || !matchable(t, id)) continue;
            if (l == cl) whole_char = true;
            /* User-defined tokens score 0 so they win over the (negative) log probabilities. */
            double sc = base + ((t->tokens[id].attr & TOK_ATTR_USER_DEFINED) ? 0.0 : t->tokens[id].score);
            if (sc > best[off + l].score) best[off + l] = (ugm_best){id, off, sc};
        }
        if (!whole_char) {
            double sc = base + t->ugm_unk_score;
            if (sc > best[off + cl].score) best[off + cl] = (ugm_best){t->unk, off, sc};
        }
        off += cl;
    }
    /* Walk back from the end; runs of <unk> become one. */
    size_t start = out->n;
    bool prev_unk = false;
    for (size_t at = n;;) {
        const ugm_best *b = &best[at];
        bool unk = b->id == t->unk;
        if (!(prev_unk && unk) && b->id != TOK_NULL && (rc = tok_ids_push(out, b->id))) break;
        if (b->from == 0) break;
        prev_unk = unk;
        at = b->from;
    }
    for (size_t i = start, j = out->n ? out->n - 1 : 0; !rc && i < j; i++, j--) {
        int32_t tmp = out->v[i];
        out->v[i] = out->v[j];
        out->v[j] = tmp;
    }
    mem_free(best);
    buf_free(&nb);
    return rc;
}
