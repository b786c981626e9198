/*
 * Byte-level BPE encoding as llama.cpp does it: the pre-tokenizer splits the text into words,
 * each word's bytes are written in GPT-2's byte-to-unicode alphabet, and within a word the
 * adjacent pair with the lowest merge rank is merged until no pair has a rank.
 */
#include <string.h>

#include "tok_int.h"

typedef struct span {
    size_t off, len;
} span;

typedef struct spans {
    span *v;
    size_t n, cap;
} spans;

static int spans_push(spans *s, size_t off, size_t len) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        span *v = mem_realloc(s->v, cap * sizeof *v);
        if (!v) return BASE_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (span){off, len};
    return BASE_OK;
}

/* Split each span of in with re into out: matches and the gaps between them. */
static int split_spans(const pcre2_code *re, pcre2_match_data *md, const char *text,
                       const spans *in, spans *out) {
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        const char *s = text + in->v[i].off;
        size_t len = in->v[i].len, pos = 0, prev = 0;
        while (pos < len) {
            int rc = pcre2_match(re, (PCRE2_SPTR)s, len, pos, 0, md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) return rc == PCRE2_ERROR_NOMEMORY ? BASE_ENOMEM : BASE_EINTERNAL;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t ms = ov[0], me = ov[1];
            if (me == ms) { /* an empty match splits nothing; step over one character */
                pos = ms + tok_utf8_len((uint8_t)s[ms]);
                continue;
            }
            if (ms > prev && spans_push(out, in->v[i].off + prev, ms - prev)) return BASE_ENOMEM;
            if (spans_push(out, in->v[i].off + ms, me - ms)) return BASE_ENOMEM;
            prev = pos = me;
        }
        if (prev < len && spans_push(out, in->v[i].off + prev, len - prev)) return BASE_ENOMEM;
    }
    return BASE_OK;
}

typedef struct bpe_ctx {
    const tok *t;
    char *word; /* the byte-encoded word */
    size_t word_cap;
    tok_sym *sym;
    size_t sym_cap;
    tok_heap heap;
} bpe_ctx;

static int add_bigram(bpe_ctx *c, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return BASE_OK;
    const tok_sym *l = &c->sym[left], *r = &c->sym[right];
    int32_t rank = tok_merge_rank(c->t, c->word + l->off, l->n, c->word + r->off, r->n);
    if (rank < 0) return BASE_OK;
    tok_bigram b = {-(double)rank, left, right, l->n + r->n};
    return tok_heap_push(&c->heap, b);
}

static int emit(const tok *t, const char *s, size_t n, tok_ids *out) {
    int32_t id = tok_find(t, s, n);
    if (id != TOK_NULL) return tok_ids_push(out, id);
    for (size_t i = 0; i < n; i++) { /* llama.cpp's fallback: single bytes that are tokens */
        id = tok_find(t, s + i, 1);
        if (id != TOK_NULL && tok_ids_push(out, id)) return BASE_ENOMEM;
    }
    return BASE_OK;
}

static int encode_word(bpe_ctx *c, const char *raw, size_t len, tok_ids *out) {
    const tok *t = c->t;
    if (len * 2 > c->word_cap) {
        char *w = mem_realloc(c->word, len * 2);
        if (!w) return BASE_ENOMEM;
        c->word = w, c->word_cap = len * 2;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        size_t bl;
        const char *b = tok_byte_to_unicode((uint8_t)raw[i], &bl);
        memcpy(c->word + n, b, bl);
        n += bl;
    }
    if (t->ignore_merges) {
        int32_t id = tok_find(t, c->word, n);
        if (id != TOK_NULL) return tok_ids_push(out, id);
    }
    if (n > c->sym_cap) {
        tok_sym *s = mem_realloc(c->sym, n * sizeof *s);
        if (!s) return BASE_ENOMEM;
        c->sym = s, c->sym_cap = n;
    }
    tok_sym *sym = c->sym;
    int32_t n_sym = 0;
    for (size_t off = 0; off < n; n_sym++) {
        size_t cl = tok_utf8_len((uint8_t)c->word[off]);
        if (cl > n - off) cl = n - off;
        sym[n_sym] = (tok_sym){n_sym - 1, off + cl == n ? -1 : n_sym + 1, (uint32_t)off,
                               (uint32_t)cl};
        off += cl;
    }
    c->heap.n = 0;
    int rc = BASE_OK;
    for (int32_t i = 1; i < n_sym && !rc; i++) rc = add_bigram(c, i - 1, i);
    while (!rc && c->heap.n) {
        tok_bigram b = tok_heap_pop(&c->heap);
        tok_sym *l = &sym[b.left], *r = &sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        rc = add_bigram(c, l->prev, b.left);
        if (!rc) rc = add_bigram(c, b.left, l->next);
    }
    for (int32_t i = n_sym ? 0 : -1; !rc && i != -1; i = sym[i].next)
        rc = emit(t, c->word + sym[i].off, sym[i].n, out);
    return rc;
}

int tok_bpe_encode(const tok *t, const char *text, size_t len, tok_ids *out) {
    spans a = {0}, b = {0};
    bpe_ctx c = {t, NULL, 0, NULL, 0, {0}};
    pcre2_match_data *md = pcre2_match_data_create(16, t->gctx);
    int rc = md ? spans_push(&a, 0, len) : BASE_ENOMEM;
    for (int i = 0; !rc && i < t->n_re; i++) {
        rc = split_spans(t->re[i], md, text, &a, &b);
        spans tmp = a;
        a = b, b = tmp;
    }
    for (size_t i = 0; !rc && i < a.n; i++) rc = encode_word(&c, text + a.v[i].off, a.v[i].len, out);
    pcre2_match_data_free(md);
    mem_free(a.v);
    mem_free(b.v);
    mem_free(c.word);
    mem_free(c.sym);
    mem_free(c.heap.v);
    return rc;
}
