/*
 * Loading a tokenizer from GGUF metadata: the vocabulary with a piece->id hash map, the BPE
 * merges with a (left, right)->rank hash map, special ids and flags with llama.cpp's defaults,
 * the end-of-generation set, and the list of special tokens matched before tokenizing.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tok_int.h"

/* tokenizer.ggml.token_type values (llama.cpp's llama_token_type). */
enum { TT_UNDEFINED, TT_NORMAL, TT_UNKNOWN, TT_CONTROL, TT_USER_DEFINED, TT_UNUSED, TT_BYTE };

uint32_t tok_hash(const char *s, size_t n, uint32_t h) {
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t merge_hash(const char *l, size_t ll, const char *r, size_t rl) {
    uint32_t h = tok_hash(l, ll, TOK_HASH_SEED);
    h = tok_hash("\xff", 1, h); /* keeps ("ab","c") apart from ("a","bc") */
    return tok_hash(r, rl, h);
}

int32_t tok_find(const tok *t, const char *text, size_t len) {
    if (!t || (!text && len)) return TOK_NULL;
    if (!text) text = ""; /* memcmp wants a pointer even for 0 bytes */
    uint32_t i = tok_hash(text, len, TOK_HASH_SEED) & t->map_mask;
    for (;; i = (i + 1) & t->map_mask) {
        int32_t id = t->map[i];
        if (id == TOK_NULL) return TOK_NULL;
        const tok_token *tk = &t->tokens[id];
        if (tk->len == len && memcmp(t->pool + tk->off, text, len) == 0) return id;
    }
}

int32_t tok_merge_rank(const tok *t, const char *l, size_t ll, const char *r, size_t rl) {
    if (!t->mmap) return -1;
    uint32_t i = merge_hash(l, ll, r, rl) & t->mmap_mask;
    for (;; i = (i + 1) & t->mmap_mask) {
        int32_t rank = t->mmap[i];
        if (rank < 0) return -1;
        const tok_merge *m = &t->merges[rank];
        const char *s = t->mpool + m->off;
        if (m->left_len == ll && m->right_len == rl && memcmp(s, l, ll) == 0 &&
            memcmp(s + ll + 1, r, rl) == 0)
            return rank;
    }
}

/* A power-of-two table with at least twice n slots, all TOK_NULL. */
static int32_t *table_new(size_t n, uint32_t *mask) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    int32_t *tab = mem_alloc(cap * sizeof *tab);
    if (!tab) return NULL;
    memset(tab, 0xff, cap * sizeof *tab); /* all -1 */
    *mask = (uint32_t)(cap - 1);
    return tab;
}

static int load_tokens(tok *t, const gguf *g, err_buf *eb) {
    gguf_arr toks, scores = {0}, types = {0};
    int rc = gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_VT_STRING, &toks, eb);
    if (rc) return rc;
    if (toks.n == 0 || toks.n > INT32_MAX / 2)
        return err_set(eb, BASE_EFORMAT, "tokenizer.ggml.tokens has %llu entries",
                       (unsigned long long)toks.n);
    bool has_scores = gguf_find_key(g, "tokenizer.ggml.scores") >= 0;
    bool has_types = gguf_find_key(g, "tokenizer.ggml.token_type") >= 0;
    if (has_scores && (rc = gguf_get_arr(g, "tokenizer.ggml.scores", -1, &scores, eb))) return rc;
    if (has_types && (rc = gguf_get_arr(g, "tokenizer.ggml.token_type", -1, &types, eb)))
        return rc;
    if ((has_scores && scores.type == GGUF_VT_STRING) || (has_types && types.type == GGUF_VT_STRING))
        return err_set(eb, BASE_EFORMAT, "tokenizer scores/token_type hold strings");
    if ((has_scores && scores.n != toks.n) || (has_types && types.n != toks.n))
        return err_set(eb, BASE_EFORMAT, "tokenizer scores/token_type length differs from tokens");

    t->n_vocab = (int32_t)toks.n;
    size_t total = 0;
    for (uint64_t i = 0; i < toks.n; i++) {
        str_slice s = gguf_arr_str(&toks, i);
        if (!size_add(total, s.len + 1, &total) || total > UINT32_MAX)
            return err_set(eb, BASE_EFORMAT, "tokenizer.ggml.tokens too large");
    }
    t->tokens = mem_calloc(toks.n, sizeof *t->tokens);
    t->pool = mem_alloc(total ? total : 1);
    t->map = table_new(toks.n, &t->map_mask);
    if (!t->tokens || !t->pool || !t->map) return err_set(eb, BASE_ENOMEM, "out of memory");
    size_t off = 0;
    for (uint64_t i = 0; i < toks.n; i++) {
        str_slice s = gguf_arr_str(&toks, i);
        tok_token *tk = &t->tokens[i];
        tk->off = (uint32_t)off;
        tk->len = (uint32_t)s.len;
        if (s.len) memcpy(t->pool + off, s.ptr, s.len);
        t->pool[off + s.len] = 0;
        off += s.len + 1;
        if (s.len > t->max_token_len) t->max_token_len = s.len;
        tk->score = has_scores ? (float)gguf_arr_float(&scores, i) : 0.0f;
        int64_t ty = has_types ? gguf_arr_int(&types, i) : TT_NORMAL;
        switch (ty) {
        case TT_UNKNOWN: tk->attr = TOK_ATTR_UNKNOWN; break;
        case TT_CONTROL: tk->attr = TOK_ATTR_CONTROL; break;
        case TT_USER_DEFINED: tk->attr = TOK_ATTR_USER_DEFINED; break;
        case TT_UNUSED: tk->attr = TOK_ATTR_UNUSED; break;
        case TT_BYTE: tk->attr = TOK_ATTR_BYTE; break;
        case TT_UNDEFINED: tk->attr = 0; break;
        default: tk->attr = TOK_ATTR_NORMAL; break;
        }
        /* Insert, a later duplicate replacing an earlier one (llama.cpp's token_to_id). */
        uint32_t h = tok_hash(s.ptr, s.len, TOK_HASH_SEED) & t->map_mask;
        for (;; h = (h + 1) & t->map_mask) {
            int32_t id = t->map[h];
            if (id == TOK_NULL) break;
            if (t->tokens[id].len == s.len && memcmp(t->pool + t->tokens[id].off, s.ptr, s.len) == 0)
                break;
        }
        t->map[h] = (int32_t)i;
    }
    return BASE_OK;
}

static int load_merges(tok *t, const gguf *g, err_buf *eb) {
    gguf_arr m;
    int rc = gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_VT_STRING, &m, eb);
    if (rc) return rc;
    if (m.n > INT32_MAX / 2) return err_set(eb, BASE_EFORMAT, "too many merges");
    size_t total = 0;
    for (uint64_t i = 0; i < m.n; i++) {
        if (!size_add(total, gguf_arr_str(&m, i).len + 1, &total) || total > UINT32_MAX)
            return err_set(eb, BASE_EFORMAT, "tokenizer.ggml.merges too large");
    }
    t->n_merges = (uint32_t)m.n;
    t->merges = mem_calloc(m.n ? m.n : 1, sizeof *t->merges);
    t->mpool = mem_alloc(total ? total : 1);
    t->mmap = table_new(m.n, &t->mmap_mask);
    if (!t->merges || !t->mpool || !t->mmap) return err_set(eb, BASE_ENOMEM, "out of memory");
    size_t off = 0;
    for (uint64_t i = 0; i < m.n; i++) {
        str_slice s = gguf_arr_str(&m, i);
        memcpy(t->mpool + off, s.ptr, s.len);
        t->mpool[off + s.len] = 0;
        tok_merge *mg = &t->merges[i];
        mg->off = (uint32_t)off;
        off += s.len + 1;
        /* Split at the first space after the first byte, as llama.cpp does. */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        if (!sp) continue; /* never matches: both sides stay empty */
        mg->left_len = (uint32_t)(sp - s.ptr);
        mg->right_len = (uint32_t)(s.len - mg->left_len - 1);
        const char *l = t->mpool + mg->off, *r = l + mg->left_len + 1;
        if (tok_merge_rank(t, l, mg->left_len, r, mg->right_len) >= 0) continue; /* first wins */
        uint32_t h = merge_hash(l, mg->left_len, r, mg->right_len) & t->mmap_mask;
        while (t->mmap[h] >= 0) h = (h + 1) & t->mmap_mask;
        t->mmap[h] = (int32_t)i;
    }
    return BASE_OK;
}

/* Override *id from key when present and in range (llama.cpp ignores out-of-range ids). */
static void read_id(tok *t, const gguf *g, const char *key, int32_t *id) {
    uint32_t v;
    if (gguf_get_u32(g, key, &v, NULL) == 0 && v < (uint32_t)t->n_vocab) *id = (int32_t)v;
}

static void read_bool(const gguf *g, const char *key, bool *v) {
    bool b;
    if (gguf_get_bool(g, key, &b, NULL) == 0) *v = b;
}

/* Tokens llama.cpp recognizes by their text: end of turn, end of message, and the
 * fill-in-the-middle pad / repo / file-separator tokens, which also end generation. */
#define DEEPSEEK_EOS "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
static const char *const eot_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                        "<|endoftext|>", "<EOT>", "_<EOT>", DEEPSEEK_EOS, NULL};
static const char *const eom_names[] = {"<|eom_id|>", NULL};
static const char *const fim_pad_names[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", NULL};
static const char *const fim_rep_names[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                            "<REPO>", NULL};
static const char *const fim_sep_names[] = {"<|file_sep|>", NULL};
static const char *const eog_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                        "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", NULL};

static int32_t find_cstr(const tok *t, const char *s) { return tok_find(t, s, strlen(s)); }

/* The first of names in the vocabulary, made a control token as llama.cpp does. */
static int32_t detect(tok *t, const char *const *names) {
    for (; *names; names++) {
        int32_t id = find_cstr(t, *names);
        if (id == TOK_NULL) continue;
        if (!(t->tokens[id].attr & TOK_ATTR_CONTROL)) t->tokens[id].attr = TOK_ATTR_CONTROL;
        return id;
    }
    return TOK_NULL;
}

static void mark_eog(tok *t, int32_t id) {
    if (id != TOK_NULL) t->eog[id] = 1;
}

static int set_eog(tok *t) {
    t->eog = mem_calloc((size_t)t->n_vocab, 1);
    if (!t->eog) return BASE_ENOMEM;
    if (t->eot == TOK_NULL) t->eot = detect(t, eot_names);
    if (t->eom == TOK_NULL) t->eom = detect(t, eom_names);
    mark_eog(t, detect(t, fim_pad_names));
    mark_eog(t, detect(t, fim_rep_names));
    mark_eog(t, detect(t, fim_sep_names));
    for (const char *const *n = eog_names; *n; n++) {
        const char *one[] = {*n, NULL};
        mark_eog(t, detect(t, one));
    }
    mark_eog(t, t->eos);
    mark_eog(t, t->eot);
    mark_eog(t, t->eom);
    return BASE_OK;
}

typedef struct special_key {
    uint32_t len;
    int32_t id;
} special_key;

static int cmp_special(const void *a, const void *b) {
    const special_key *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Special tokens longest first (llama.cpp's order; ties by id for determinism). */
static int build_specials(tok *t) {
    const uint32_t want = TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN;
    size_t n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if ((t->tokens[i].attr & want) && t->tokens[i].len) n++;
    special_key *keys = mem_alloc((n ? n : 1) * sizeof *keys);
    t->specials = mem_alloc((n ? n : 1) * sizeof *t->specials);
    if (!keys || !t->specials) {
        mem_free(keys);
        return BASE_ENOMEM;
    }
    for (int32_t i = 0; i < t->n_vocab; i++)
        if ((t->tokens[i].attr & want) && t->tokens[i].len)
            keys[t->n_specials++] = (special_key){t->tokens[i].len, i};
    qsort(keys, t->n_specials, sizeof *keys, cmp_special);
    for (size_t i = 0; i < t->n_specials; i++) t->specials[i] = keys[i].id;
    mem_free(keys);
    return BASE_OK;
}

static bool contains_ci(str_slice s, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= s.len; i++)
        if (strncasecmp(s.ptr + i, needle, n) == 0) return true;
    return false;
}

/* Per-model token attributes llama.cpp sets by name (GGUF files do not carry them): Jina v2's
 * <mask> eats whitespace on its left; Phi-3's special tokens eat whitespace on their right. */
static void set_name_attrs(tok *t, const gguf *g) {
    str_slice pre = {"", 0}, name = {"", 0};
    gguf_get_str(g, "tokenizer.ggml.pre", &pre, NULL);
    gguf_get_str(g, "general.name", &name, NULL);
    int32_t id;
    if (contains_ci(pre, "jina-v2-de") || contains_ci(pre, "jina-v2-es") ||
        contains_ci(pre, "jina-v2-code")) {
        if ((id = find_cstr(t, "<mask>")) != TOK_NULL) t->tokens[id].attr |= TOK_ATTR_LSTRIP;
        return;
    }
    if (!contains_ci(name, "phi-3") && !contains_ci(name, "phi3")) return;
    for (size_t i = 0; i < t->n_specials; i++) t->tokens[t->specials[i]].attr |= TOK_ATTR_RSTRIP;
    if ((id = find_cstr(t, "</s>")) != TOK_NULL) t->tokens[id].attr |= TOK_ATTR_RSTRIP;
    static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
    for (size_t i = 0; i < 3; i++)
        if ((id = find_cstr(t, keep[i])) != TOK_NULL) t->tokens[id].attr &= ~(uint32_t)TOK_ATTR_RSTRIP;
}

static int32_t in_vocab(const tok *t, int32_t id) { return id < t->n_vocab ? id : TOK_NULL; }

int tok_load(const gguf *g, tok **out, err_buf *eb) {
    *out = NULL;
    str_slice model;
    int rc = gguf_get_str(g, "tokenizer.ggml.model", &model, eb);
    if (rc) return rc;
    tok *t = mem_calloc(1, sizeof *t);
    if (!t) return err_set(eb, BASE_ENOMEM, "out of memory");
    if (str_eq_cstr(model, "llama")) t->type = TOK_VOCAB_SPM;
    else if (str_eq_cstr(model, "gpt2")) t->type = TOK_VOCAB_BPE;
    else if (str_eq_cstr(model, "bert")) t->type = TOK_VOCAB_WPM;
    else if (str_eq_cstr(model, "t5")) t->type = TOK_VOCAB_UGM;
    else {
        rc = err_set(eb, BASE_EUNSUPPORTED, "unsupported tokenizer model '%.*s'", (int)model.len,
                     model.ptr);
        goto fail;
    }
    if ((rc = load_tokens(t, g, eb))) goto fail;

    t->eot = t->eom = t->sep = t->pad = TOK_NULL;
    switch (t->type) {
    case TOK_VOCAB_SPM:
        t->bos = in_vocab(t, 1), t->eos = in_vocab(t, 2), t->unk = in_vocab(t, 0);
        t->add_bos = true, t->add_space_prefix = true;
        break;
    case TOK_VOCAB_BPE:
        t->bos = in_vocab(t, 11), t->eos = in_vocab(t, 11), t->unk = TOK_NULL;
        break;
    case TOK_VOCAB_WPM:
        t->bos = in_vocab(t, 101), t->unk = in_vocab(t, 100), t->sep = in_vocab(t, 102);
        t->pad = in_vocab(t, 0), t->eos = TOK_NULL;
        t->add_bos = true;
        break;
    case TOK_VOCAB_UGM: /* llama.cpp's T5 defaults */
        t->bos = TOK_NULL, t->eos = in_vocab(t, 1), t->unk = in_vocab(t, 2), t->pad = in_vocab(t, 0);
        t->add_eos = true;
        break;
    }
    read_id(t, g, "tokenizer.ggml.cls_token_id", &t->bos);
    read_id(t, g, "tokenizer.ggml.bos_token_id", &t->bos);
    read_id(t, g, "tokenizer.ggml.eos_token_id", &t->eos);
    read_id(t, g, "tokenizer.ggml.eot_token_id", &t->eot);
    read_id(t, g, "tokenizer.ggml.eom_token_id", &t->eom);
    read_id(t, g, "tokenizer.ggml.unknown_token_id", &t->unk);
    read_id(t, g, "tokenizer.ggml.seperator_token_id", &t->sep);
    read_id(t, g, "tokenizer.ggml.padding_token_id", &t->pad);

    if (t->type == TOK_VOCAB_BPE) {
        if ((rc = load_merges(t, g, eb))) goto fail;
        str_slice pre = {NULL, 0};
        gguf_get_str(g, "tokenizer.ggml.pre", &pre, NULL);
        if ((rc = tok_pre_setup(t, pre.ptr, pre.len, eb))) goto fail;
    } else if (t->type == TOK_VOCAB_WPM) {
        if ((rc = tok_wpm_setup(t, eb))) goto fail;
    } else if (t->type == TOK_VOCAB_UGM) {
        gguf_arr cm = {0};
        err_buf ignore = {0};
        rc = gguf_get_arr(g, "tokenizer.ggml.precompiled_charsmap", -1, &cm, &ignore);
        if (rc && rc != BASE_ENOTFOUND) {
            err_set(eb, rc, "tokenizer.ggml.precompiled_charsmap: %s", err_msg(&ignore));
            goto fail;
        }
        if (!rc && cm.type != GGUF_VT_U8 && cm.type != GGUF_VT_I8) {
            rc = err_set(eb, BASE_EFORMAT, "tokenizer.ggml.precompiled_charsmap must be bytes");
            goto fail;
        }
        if ((rc = tok_ugm_setup(t, rc ? NULL : cm.data, rc ? 0 : (size_t)cm.n, eb))) goto fail;
        read_bool(g, "tokenizer.ggml.remove_extra_whitespaces", &t->remove_extra_ws);
    }
    read_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos);
    read_bool(g, "tokenizer.ggml.add_eos_token", &t->add_eos);
    read_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix);

    for (int b = 0; b < 256; b++) {
        char hex[8];
        static const char digits[] = "0123456789ABCDEF";
        hex[0] = '<', hex[1] = '0', hex[2] = 'x', hex[3] = digits[b >> 4], hex[4] = digits[b & 15];
        hex[5] = '>';
        t->byte_tok[b] = tok_find(t, hex, 6);
        if (t->byte_tok[b] == TOK_NULL) {
            char c = (char)b; /* llama.cpp falls back to the byte as a one-byte piece */
            t->byte_tok[b] = tok_find(t, &c, 1);
        }
    }
    if ((rc = set_eog(t)) || (rc = build_specials(t))) {
        err_set(eb, rc, "out of memory");
        goto fail;
    }
    set_name_attrs(t, g);
    *out = t;
    return BASE_OK;
fail:
    tok_free(t);
    return rc;
}

void tok_free(tok *t) {
    if (!t) return;
    for (int i = 0; i < t->n_re; i++) pcre2_code_free(t->re[i]);
    pcre2_code_free(t->wpm_re);
    pcre2_general_context_free(t->gctx);
    mem_free(t->tokens);
    mem_free(t->pool);
    mem_free(t->map);
    mem_free(t->merges);
    mem_free(t->mpool);
    mem_free(t->mmap);
    mem_free(t->eog);
    mem_free(t->specials);
    mem_free(t->charsmap);
    mem_free(t);
}

tok_vocab_type tok_get_type(const tok *t) { return t->type; }
int32_t tok_n_vocab(const tok *t) { return t->n_vocab; }
int32_t tok_bos(const tok *t) { return t->bos; }
int32_t tok_eos(const tok *t) { return t->eos; }
int32_t tok_eot(const tok *t) { return t->eot; }
int32_t tok_unk(const tok *t) { return t->unk; }
int32_t tok_pad(const tok *t) { return t->pad; }
int32_t tok_sep(const tok *t) { return t->sep; }
bool tok_add_bos(const tok *t) { return t->add_bos && t->bos != TOK_NULL; }
bool tok_add_eos(const tok *t) { return t->add_eos && t->eos != TOK_NULL; }

bool tok_is_eog(const tok *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && t->eog[id];
}

uint32_t tok_attr(const tok *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? t->tokens[id].attr : 0;
}

const char *tok_piece(const tok *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    if (len) *len = t->tokens[id].len;
    return t->pool + t->tokens[id].off;
}
