/*
 * WordPiece (BERT) encoding as llama.cpp does it. Basic tokenization: accents stripped (each
 * code point replaced by the first of its NFD decomposition), whitespace splits words, control
 * characters vanish, punctuation, ASCII symbols and CJK ideographs become one-character words,
 * the rest is lowercased. Then each word, with the '▁' the converted vocabularies put at word
 * starts, is cut greedily into the longest pieces in the vocabulary; a word with an uncut
 * remainder becomes [UNK].
 */
#include <string.h>

#include "tok_int.h"

/* Character classes for non-ASCII code points; the group that matches names the class. */
static const char wpm_pattern[] =
    "(\\s)|([\\x{FFFD}\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}])|([\\p{P}\\x{4E00}-\\x{9FFF}"
    "\\x{3400}-\\x{4DBF}\\x{20000}-\\x{2A6DF}\\x{2A700}-\\x{2B73F}\\x{2B740}-\\x{2B81F}"
    "\\x{2B920}-\\x{2CEAF}\\x{F900}-\\x{FAFF}\\x{2F800}-\\x{2FA1F}])";

enum { CL_OTHER, CL_SPACE, CL_CONTROL, CL_SPLIT };

int tok_wpm_setup(tok *t, err_buf *eb) {
    t->wpm_re = tok_regex_compile(t, wpm_pattern, eb);
    return t->wpm_re ? BASE_OK : (eb ? eb->code : BASE_ENOMEM);
}

static int classify(const tok *t, pcre2_match_data *md, uint32_t cp) {
    if (cp < 0x80) {
        if (cp == ' ' || (cp >= '\t' && cp <= '\r')) return CL_SPACE;
        if (cp < 0x20 || cp == 0x7F) return CL_CONTROL;
        if ((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
            return CL_OTHER;
        return CL_SPLIT; /* ASCII punctuation and symbols */
    }
    char u[4];
    size_t n = tok_utf8_encode(cp, u);
    int rc = pcre2_match(t->wpm_re, (PCRE2_SPTR)u, n, 0, PCRE2_ANCHORED, md, NULL);
    if (rc <= 0) return CL_OTHER;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    for (int g = 3; g >= 1; g--)
        if (g < rc && ov[2 * g] != PCRE2_UNSET) return g;
    return CL_OTHER;
}

/* Greedy longest-match-first over "▁" + word (w has the '▁' already). */
static int encode_word(const tok *t, const char *w, size_t n, tok_ids *out) {
    size_t start = out->n;
    for (size_t i = 0; i < n;) {
        size_t j = i + t->max_token_len + 1 < n ? i + t->max_token_len + 1 : n;
        int32_t id = TOK_NULL;
        for (; j > i; j--)
            if ((id = tok_find(t, w + i, j - i)) != TOK_NULL) break;
        if (id == TOK_NULL) {
            out->n = start; /* the whole word becomes [UNK] */
            break;
        }
        if (tok_ids_push(out, id)) return BASE_ENOMEM;
        i = j;
    }
    if (out->n == start && t->unk != TOK_NULL) return tok_ids_push(out, t->unk);
    return BASE_OK;
}

int tok_wpm_encode(const tok *t, const char *text, size_t len, tok_ids *out) {
    /* Each input byte yields at most 4 output bytes, plus '▁' before each word. */
    char *w = mem_alloc(len * 4 + 4);
    pcre2_match_data *md = pcre2_match_data_create(4, t->gctx);
    int rc = w && md ? BASE_OK : BASE_ENOMEM;
    size_t n = 3; /* w[0..3) = '▁' */
    if (w) memcpy(w, "\xe2\x96\x81", 3);
    for (size_t i = 0; !rc && i < len;) {
        uint32_t cp = tok_cpt_nfd(tok_utf8_decode(text, len, &i));
        int cl = classify(t, md, cp);
        if (cl == CL_SPACE || cl == CL_SPLIT) {
            if (n > 3) rc = encode_word(t, w, n, out);
            n = 3;
        }
        if (rc || cl == CL_SPACE || cl == CL_CONTROL || cp == 0) continue;
        n += tok_utf8_encode(tok_cpt_lower(cp), w + n);
        if (cl == CL_SPLIT) {
            rc = encode_word(t, w, n, out);
            n = 3;
        }
    }
    if (!rc && n > 3) rc = encode_word(t, w, n, out);
    pcre2_match_data_free(md);
    mem_free(w);
    return rc;
}
