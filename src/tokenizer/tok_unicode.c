/*
 * Unicode helpers for the tokenizers: UTF-8 decoding the way llama.cpp reads it, the GPT-2
 * byte-to-unicode mapping byte-level BPE vocabularies are written in, and lookups into the
 * generated NFD / lowercase tables (tok_unicode_data.c).
 */
#include <pthread.h>

#include "tok_int.h"

size_t tok_utf8_len(uint8_t lead) {
    static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[lead >> 4];
}

uint32_t tok_utf8_decode(const char *s, size_t len, size_t *i) {
    const uint8_t *p = (const uint8_t *)s + *i;
    size_t left = len - *i;
    uint8_t c = p[0];
    size_t n = c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3
                                                   : c >= 0xF0 && c < 0xF5 ? 4 : 0;
    if (n == 1) {
        *i += 1;
        return c;
    }
    if (n == 0 || n > left) goto bad;
    uint32_t cp = c & (0x7F >> n);
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xC0) != 0x80) goto bad;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        goto bad;
    *i += n;
    return cp;
bad:
    *i += 1;
    return 0xFFFD;
}

size_t tok_utf8_encode(uint32_t cp, char *out) {
    uint8_t *o = (uint8_t *)out;
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* GPT-2's mapping: printable Latin-1 bytes stand for themselves, the other 68 bytes are moved
 * to U+0100.. in byte order, so every byte has a visible, non-space character. */
static uint32_t byte_cp(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    uint32_t n = 0;
    for (uint32_t x = 0; x < b; x++)
        if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE)) n++;
    return 256 + n;
}

static struct {
    char utf8[256][3];
    uint8_t len[256];
    int16_t back[324]; /* code point -> byte, -1 */
} g_bytes;

static pthread_once_t g_bytes_once = PTHREAD_ONCE_INIT;

static void bytes_build(void) {
    for (int i = 0; i < 324; i++) g_bytes.back[i] = -1;
    for (int b = 0; b < 256; b++) {
        uint32_t cp = byte_cp((uint8_t)b);
        g_bytes.len[b] = (uint8_t)tok_utf8_encode(cp, g_bytes.utf8[b]);
        g_bytes.back[cp] = (int16_t)b;
    }
}

static void bytes_init(void) { pthread_once(&g_bytes_once, bytes_build); }

const char *tok_byte_to_unicode(uint8_t b, size_t *len) {
    bytes_init();
    *len = g_bytes.len[b];
    return g_bytes.utf8[b];
}

int tok_unicode_to_byte(uint32_t cp) {
    bytes_init();
    return cp < 324 ? g_bytes.back[cp] : -1;
}

uint32_t tok_cpt_nfd(uint32_t cp) {
    if (cp < 0xC0) return cp;
    size_t lo = 0, hi = tok_nfd_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (tok_nfd_ranges[mid][1] < cp) lo = mid + 1;
        else hi = mid;
    }
    if (lo < tok_nfd_count && tok_nfd_ranges[lo][0] <= cp) return tok_nfd_ranges[lo][2];
    return cp;
}

uint32_t tok_cpt_lower(uint32_t cp) {
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    size_t lo = 0, hi = tok_lower_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (tok_lower_ranges[mid][1] < cp) lo = mid + 1;
        else hi = mid;
    }
    if (lo == tok_lower_count) return cp;
    const uint32_t *r = tok_lower_ranges[lo];
    if (cp < r[0] || (cp - r[0]) % r[2] != 0) return cp;
    return cp + r[3]; /* unsigned wrap-around gives negative deltas */
}
