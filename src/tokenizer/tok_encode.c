/*
 * tok_encode: split the text around special tokens (longest first, as llama.cpp's
 * tokenizer_st_partition does), hand each raw fragment to the model's encoder, and add
 * BOS/EOS. Also the small containers the encoders share: the id vector and the merge queue.
 */
#include <ctype.h>
#include <string.h>

#include "tok_int.h"

int tok_ids_push(tok_ids *ids, int32_t id) {
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 64;
        int32_t *v = mem_realloc(ids->v, cap * sizeof *v);
        if (!v) return BASE_ENOMEM;
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return BASE_OK;
}

static bool bigram_before(const tok_bigram *a, const tok_bigram *b) {
    return a->key > b->key || (a->key == b->key && a->left < b->left);
}

int tok_heap_push(tok_heap *h, tok_bigram b) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        tok_bigram *v = mem_realloc(h->v, cap * sizeof *v);
        if (!v) return BASE_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!bigram_before(&b, &h->v[parent])) break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = b;
    return BASE_OK;
}

tok_bigram tok_heap_pop(tok_heap *h) {
    tok_bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && bigram_before(&h->v[c + 1], &h->v[c])) c++;
        if (!bigram_before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

/* A piece of the input: raw text to tokenize, or a special token already found. */
typedef struct frag {
    int32_t id; /* TOK_NULL for raw text */
    size_t off, len;
} frag;

typedef struct frags {
    frag *v;
    size_t n, cap;
} frags;

static int frags_push(frags *f, frag x) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        frag *v = mem_realloc(f->v, cap * sizeof *v);
        if (!v) return BASE_ENOMEM;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = x;
    return BASE_OK;
}

/* Split every raw fragment of *cur around occurrences of special token id into *next. */
static int split_on(const tok *t, const char *text, int32_t id, const frags *cur, frags *next) {
    const tok_token *tk = &t->tokens[id];
    const char *piece = t->pool + tk->off;
    next->n = 0;
    for (size_t i = 0; i < cur->n; i++) {
        frag f = cur->v[i];
        if (f.id != TOK_NULL || f.len < tk->len) {
            if (frags_push(next, f)) return BASE_ENOMEM;
            continue;
        }
        size_t off = f.off, end = f.off + f.len;
        while (off < end) {
            const char *m = memmem(text + off, end - off, piece, tk->len);
            if (!m) break;
            size_t at = (size_t)(m - text), left_len = at - off;
            if (tk->attr & TOK_ATTR_LSTRIP)
                while (left_len > 0 && isspace((unsigned char)text[off + left_len - 1])) left_len--;
            if (left_len && frags_push(next, (frag){TOK_NULL, off, left_len})) return BASE_ENOMEM;
            if (frags_push(next, (frag){id, at, tk->len})) return BASE_ENOMEM;
            off = at + tk->len;
            if (tk->attr & TOK_ATTR_RSTRIP)
                while (off < end && isspace((unsigned char)text[off])) off++;
        }
        if (off < end && frags_push(next, (frag){TOK_NULL, off, end - off})) return BASE_ENOMEM;
    }
    return BASE_OK;
}

static int partition(const tok *t, const char *text, size_t len, bool parse_special, frags *out) {
    frags other = {0};
    out->n = 0;
    /* Which byte pairs occur in the text: bit (a << 8 | b) of 65536. */
    uint64_t *pairs = t->n_specials && len >= 2 ? mem_calloc(1024, sizeof *pairs) : NULL;
    if (t->n_specials && len >= 2 && !pairs) return BASE_ENOMEM;
    for (size_t i = 0; pairs && i + 1 < len; i++) {
        unsigned k = (unsigned)(uint8_t)text[i] << 8 | (uint8_t)text[i + 1];
        pairs[k >> 6] |= 1ull << (k & 63);
    }
    int rc = len ? frags_push(out, (frag){TOK_NULL, 0, len}) : BASE_OK;
    for (size_t s = 0; !rc && s < t->n_specials && len; s++) {
        int32_t id = t->specials[s];
        /* Control and unknown tokens only when asked; user-defined ones always. */
        if (!parse_special && (t->tokens[id].attr & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN)))
            continue;
        const tok_token *tk = &t->tokens[id];
        const uint8_t *p = (const uint8_t *)t->pool + tk->off;
        /* Most special tokens are absent: their first two bytes never occur together. */
        if (tk->len > len || (tk->len >= 2 && !(pairs[p[0] << 2 | p[1] >> 6] >> (p[1] & 63) & 1)))
            continue;
        rc = split_on(t, text, id, out, &other);
        if (!rc) {
            frags tmp = *out;
            *out = other;
            other = tmp;
        }
    }
    mem_free(other.v);
    mem_free(pairs);
    return rc;
}

int tok_encode(const tok *t, const char *text, size_t len, bool add_special, bool parse_special,
               int32_t **ids, size_t *n_ids, err_buf *eb) {
    *ids = NULL;
    *n_ids = 0;
    if (!text && len) return err_set(eb, BASE_EINVAL, "tok_encode: NULL text");
    tok_ids out = {0};
    frags fr = {0};
    int rc = partition(t, text, len, parse_special, &fr);
    if (!rc && add_special && t->type == TOK_VOCAB_WPM && t->bos != TOK_NULL)
        rc = tok_ids_push(&out, t->bos); /* [CLS] */
    else if (!rc && add_special && tok_add_bos(t))
        rc = tok_ids_push(&out, t->bos);
    bool prev_special = true; /* SPM: a space prefix at the start and after special tokens */
    for (size_t i = 0; !rc && i < fr.n; i++) {
        frag f = fr.v[i];
        if (f.id != TOK_NULL) {
            rc = tok_ids_push(&out, f.id);
            prev_special = true;
            continue;
        }
        switch (t->type) {
        case TOK_VOCAB_SPM:
            rc = tok_spm_encode(t, text + f.off, f.len, t->add_space_prefix && prev_special, &out);
            break;
        case TOK_VOCAB_BPE: rc = tok_bpe_encode(t, text + f.off, f.len, &out); break;
        case TOK_VOCAB_WPM: rc = tok_wpm_encode(t, text + f.off, f.len, &out); break;
        case TOK_VOCAB_UGM: rc = tok_ugm_encode(t, text + f.off, f.len, &out); break;
        }
        prev_special = false;
    }
    if (!rc && add_special) {
        if (t->type == TOK_VOCAB_WPM) {
            if (t->sep != TOK_NULL) rc = tok_ids_push(&out, t->sep); /* [SEP] */
        } else if (tok_add_eos(t)) {
            rc = tok_ids_push(&out, t->eos);
        }
    }
    if (!rc && !out.v) rc = tok_ids_push(&out, 0), out.n = 0; /* never hand back NULL */
    mem_free(fr.v);
    if (rc) {
        mem_free(out.v);
        return err_set(eb, rc, "tokenize: %s", base_err_str(rc));
    }
    *ids = out.v;
    *n_ids = out.n;
    return BASE_OK;
}
