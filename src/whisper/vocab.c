/*
 * Language codes and text -> tokens. The language table is Whisper's, in token order: the
 * language with index i is token sot + 1 + i. The tokenizer is whisper.cpp's: split the text
 * into GPT-2 style words, then take the longest vocabulary entry at each position of a word
 * (not full BPE merges, but what whisper.cpp uses for prompts).
 */
#include <string.h>

#include "whisper_int.h"

static const char *const langs[] = {
    "en", "zh", "de", "es",  "ru", "ko", "fr", "ja", "pt", "tr",  "pl", "ca", "nl", "ar", "sv",
    "it", "id", "hi", "fi",  "vi", "he", "uk", "el", "ms", "cs",  "ro", "da", "hu", "ta", "no",
    "th", "ur", "hr", "bg",  "lt", "la", "mi", "ml", "cy", "sk",  "te", "fa", "lv", "bn", "sr",
    "az", "sl", "kn", "et",  "mk", "br", "eu", "is", "hy", "ne",  "mn", "bs", "kk", "sq", "sw",
    "gl", "mr", "pa", "si",  "km", "sn", "yo", "so", "af", "oc",  "ka", "be", "tg", "sd", "gu",
    "am", "yi", "lo", "uz",  "fo", "ht", "ps", "tk", "nn", "mt",  "sa", "lb", "my", "bo", "tl",
    "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue",
};
#define N_LANGS ((int)(sizeof langs / sizeof langs[0]))

int whisper_lang_id(const char *code) {
    if (!code) return -1;
    for (int i = 0; i < N_LANGS; i++)
        if (strcmp(langs[i], code) == 0) return i;
    return -1;
}

const char *whisper_lang_code(int id) { return id >= 0 && id < N_LANGS ? langs[id] : NULL; }

static bool is_alpha(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Length of the GPT-2 pre-tokenizer word at p (contractions, ' ?letters', ' ?digits',
 * ' ?other', spaces). */
static size_t word_len(const char *p, size_t n) {
    static const char *const contr[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    for (size_t i = 0; i < sizeof contr / sizeof contr[0]; i++) {
        size_t l = strlen(contr[i]);
        if (l <= n && memcmp(p, contr[i], l) == 0) return l;
    }
    size_t i = 0;
    const unsigned char *u = (const unsigned char *)p;
    if (u[0] == ' ' && n > 1 && !is_space(u[1])) i = 1;
    if (i < n && is_alpha(u[i])) {
        while (i < n && is_alpha(u[i])) i++;
        return i;
    }
    if (i < n && is_digit(u[i])) {
        while (i < n && is_digit(u[i])) i++;
        return i;
    }
    if (i < n && !is_space(u[i])) {
        while (i < n && !is_space(u[i]) && !is_alpha(u[i]) && !is_digit(u[i])) i++;
        return i;
    }
    /* Spaces: all but the last when a word follows (it joins that word). */
    while (i < n && is_space(u[i])) i++;
    if (i < n && i > 1) i--;
    return i ? i : 1;
}

/* Longest vocabulary entry that is a prefix of (p, n); -1 when none. */
static int longest(const whisper_model *m, const char *p, size_t n, size_t *len) {
    int best = -1;
    size_t bl = 0;
    int lim = m->n_words < m->tok.eot ? m->n_words : m->tok.eot;
    for (int i = 0; i < lim; i++) {
        size_t l = m->word_len[i];
        if (l > bl && l <= n && memcmp(m->words + m->word_off[i], p, l) == 0) best = i, bl = l;
    }
    *len = bl;
    return best;
}

int wh_tokenize(const whisper_model *m, const char *text, int *out, int cap) {
    size_t n = strlen(text), pos = 0;
    int cnt = 0;
    while (pos < n) {
        size_t wl = word_len(text + pos, n - pos), i = 0;
        while (i < wl) {
            size_t l;
            int id = longest(m, text + pos + i, wl - i, &l);
            if (id < 0) { /* a byte the vocabulary lacks: skip it, as whisper.cpp does */
                i++;
                continue;
            }
            if (cnt < cap) out[cnt] = id;
            cnt++;
            i += l;
        }
        pos += wl;
    }
    return cnt < cap ? cnt : cap;
}
