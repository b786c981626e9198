/*
 * SentencePiece-style encoding as llama.cpp does it: spaces become '▁' (with one in front
 * when the vocabulary adds a space prefix), the text starts as one symbol per UTF-8
 * character, and the adjacent pair whose concatenation is the highest-scoring token is merged
 * until no pair is a token. Symbols that are not tokens fall back to <0xNN> byte tokens.
 */
#include <string.h>

#include "tok_int.h"

typedef struct spm_ctx {
    const tok *t;
    const char *text;
    tok_sym *sym;
    tok_heap heap;
} spm_ctx;

static int try_bigram(spm_ctx *c, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return BASE_OK;
    const tok_sym *l = &c->sym[left], *r = &c->sym[right];
    int32_t id = tok_find(c->t, c->text + l->off, l->n + r->n);
    if (id == TOK_NULL) return BASE_OK;
    tok_bigram b = {c->t->tokens[id].score, left, right, l->n + r->n};
    return tok_heap_push(&c->heap, b);
}

static int emit_symbol(const tok *t, const char *s, size_t n, tok_ids *out) {
    int32_t id = tok_find(t, s, n);
    if (id != TOK_NULL) return tok_ids_push(out, id);
    bool unk_done = false; /* a vocabulary without byte tokens: one <unk> per symbol */
    for (size_t i = 0; i < n; i++) {
        int32_t b = t->byte_tok[(uint8_t)s[i]];
        if (b == TOK_NULL && !unk_done) b = t->unk, unk_done = true;
        if (b != TOK_NULL && tok_ids_push(out, b)) return BASE_ENOMEM;
    }
    return BASE_OK;
}

int tok_spm_encode(const tok *t, const char *text, size_t len, bool space_prefix, tok_ids *out) {
    static const char ws[] = "\xe2\x96\x81"; /* '▁' */
    size_t n_spaces = space_prefix ? 1 : 0;
    for (size_t i = 0; i < len; i++) n_spaces += text[i] == ' ';
    size_t cap = len + 2 * n_spaces + 1;
    char *s = mem_alloc(cap);
    tok_sym *sym = mem_alloc((len + n_spaces + 1) * sizeof *sym);
    spm_ctx c = {t, s, sym, {0}};
    int rc = s && sym ? BASE_OK : BASE_ENOMEM;
    if (rc) goto done;
    size_t n = 0;
    if (space_prefix) memcpy(s, ws, 3), n = 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') memcpy(s + n, ws, 3), n += 3;
        else s[n++] = text[i];
    }
    int32_t n_sym = 0;
    for (size_t off = 0; off < n; n_sym++) {
        size_t cl = tok_utf8_len((uint8_t)s[off]);
        if (cl > n - off) cl = n - off;
        sym[n_sym] = (tok_sym){n_sym - 1, off + cl == n ? -1 : n_sym + 1, (uint32_t)off,
                               (uint32_t)cl};
        off += cl;
    }
    for (int32_t i = 1; i < n_sym && !rc; i++) rc = try_bigram(&c, i - 1, i);
    while (!rc && c.heap.n) {
        tok_bigram b = tok_heap_pop(&c.heap);
        tok_sym *l = &sym[b.left], *r = &sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        rc = try_bigram(&c, l->prev, b.left);
        if (!rc) rc = try_bigram(&c, b.left, l->next);
    }
    for (int32_t i = n_sym ? 0 : -1; !rc && i != -1; i = sym[i].next)
        rc = emit_symbol(t, s + sym[i].off, sym[i].n, out);
done:
    mem_free(c.heap.v);
    mem_free(sym);
    mem_free(s);
    return rc;
}
