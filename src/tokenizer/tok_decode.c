/*
 * From ids back to text: the bytes each token stands for, and a streaming decoder that emits
 * only complete UTF-8 so a character split across byte tokens never reaches a client half
 * written. Invalid sequences become U+FFFD (one per maximal invalid subpart, as Unicode
 * recommends).
 */
#include <string.h>

#include "tok_int.h"

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int tok_token_bytes(const tok *t, int32_t id, bool special, buf *out) {
    if (id < 0 || id >= t->n_vocab) return BASE_EINVAL;
    const tok_token *tk = &t->tokens[id];
    const char *s = t->pool + tk->off;
    uint32_t attr = tk->attr;
    if (attr & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN))
        return special ? buf_append(out, s, tk->len) : BASE_OK;
    if (attr & TOK_ATTR_USER_DEFINED) return buf_append(out, s, tk->len);
    if (t->type != TOK_VOCAB_BPE) {
        if (attr & TOK_ATTR_BYTE) {
            int hi = tk->len == 6 ? hexval(s[3]) : -1, lo = tk->len == 6 ? hexval(s[4]) : -1;
            if (hi < 0 || lo < 0) return buf_append(out, s, tk->len);
            char b = (char)(hi * 16 + lo);
            return buf_append(out, &b, 1);
        }
        if (!(attr & TOK_ATTR_NORMAL)) return BASE_OK;
        /* '▁' stands for a space. */
        for (size_t i = 0; i < tk->len;) {
            const char *m = tk->len - i >= 3 ? memmem(s + i, tk->len - i, "\xe2\x96\x81", 3) : NULL;
            size_t stop = m ? (size_t)(m - s) : tk->len;
            if (stop > i && buf_append(out, s + i, stop - i)) return BASE_ENOMEM;
            if (!m) break;
            if (buf_append(out, " ", 1)) return BASE_ENOMEM;
            i = stop + 3;
        }
        return out->oom ? BASE_ENOMEM : BASE_OK;
    }
    if (!(attr & TOK_ATTR_NORMAL)) return BASE_OK;
    for (size_t i = 0; i < tk->len;) {
        size_t at = i;
        uint32_t cp = tok_utf8_decode(s, tk->len, &i);
        int b = tok_unicode_to_byte(cp);
        char c = (char)b;
        int rc = b >= 0 ? buf_append(out, &c, 1) : buf_append(out, s + at, i - at);
        if (rc) return rc;
    }
    return BASE_OK;
}

struct tok_decoder {
    const tok *t;
    bool special;
    bool at_start;
    buf acc; /* bytes not yet emitted: an incomplete UTF-8 sequence, then the new bytes */
};

tok_decoder *tok_decoder_new(const tok *t, bool special) {
    tok_decoder *d = mem_calloc(1, sizeof *d);
    if (!d) return NULL;
    d->t = t;
    d->special = special;
    d->at_start = true;
    return d;
}

void tok_decoder_free(tok_decoder *d) {
    if (!d) return;
    buf_free(&d->acc);
    mem_free(d);
}

static const char replacement[] = "\xef\xbf\xbd";

/* Length of the valid prefix of a sequence starting at p (n bytes available): the full length
 * when complete and valid, 0 when it is a valid but incomplete start, else -(bytes to replace). */
static int utf8_check(const uint8_t *p, size_t n) {
    uint8_t c = p[0];
    if (c < 0x80) return 1;
    int need = c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xF0 && c < 0xF5 ? 4 : 0;
    if (!need) return -1;
    for (int k = 1; k < need; k++) {
        if ((size_t)k >= n) return 0;
        uint8_t lo = 0x80, hi = 0xBF;
        if (k == 1) {
            if (c == 0xE0) lo = 0xA0;
            else if (c == 0xED) hi = 0x9F;
            else if (c == 0xF0) lo = 0x90;
            else if (c == 0xF4) hi = 0x8F;
        }
        if (p[k] < lo || p[k] > hi) return -k;
    }
    return need;
}

/* Emit the complete part of d->acc to out and keep an incomplete tail. */
static int drain(tok_decoder *d, buf *out) {
    const uint8_t *p = (const uint8_t *)d->acc.data;
    size_t n = d->acc.len, i = 0, run = 0; /* run: start of valid bytes not yet copied */
    if (n == 0) return BASE_OK;
    while (i < n) {
        int r = utf8_check(p + i, n - i);
        if (r > 0) {
            i += (size_t)r;
            continue;
        }
        if (i > run && buf_append(out, p + run, i - run)) return BASE_ENOMEM;
        if (r == 0) break;
        if (buf_append(out, replacement, 3)) return BASE_ENOMEM;
        i += (size_t)-r;
        run = i;
    }
    if (i >= n) {
        if (n > run && buf_append(out, p + run, n - run)) return BASE_ENOMEM;
        i = n;
    }
    memmove(d->acc.data, d->acc.data + i, n - i);
    d->acc.len = n - i;
    return BASE_OK;
}

int tok_decoder_push(tok_decoder *d, int32_t id, buf *out) {
    const tok *t = d->t;
    if (id < 0 || id >= t->n_vocab) return BASE_EINVAL;
    if (d->at_start && id == t->bos && !d->special) return BASE_OK; /* a leading BOS */
    size_t before = d->acc.len;
    int rc = tok_token_bytes(t, id, d->special, &d->acc);
    if (rc) return rc;
    if (d->at_start) {
        d->at_start = false;
        /* WordPiece marks word starts with '▁' too; its first word has no space before. */
        bool strip = t->add_space_prefix || t->type == TOK_VOCAB_WPM;
        if (strip && d->acc.len > before && d->acc.data[before] == ' ') {
            memmove(d->acc.data + before, d->acc.data + before + 1, d->acc.len - before - 1);
            d->acc.len--;
        }
    }
    return drain(d, out);
}

int tok_decoder_flush(tok_decoder *d, buf *out) {
    int rc = d->acc.len ? buf_append(out, replacement, 3) : BASE_OK;
    d->acc.len = 0;
    d->at_start = true;
    return rc;
}

int tok_detokenize(const tok *t, const int32_t *ids, size_t n, bool special, buf *out) {
    tok_decoder *d = tok_decoder_new(t, special);
    if (!d) return BASE_ENOMEM;
    int rc = BASE_OK;
    for (size_t i = 0; i < n && !rc; i++) rc = tok_decoder_push(d, ids[i], out);
    if (!rc) rc = tok_decoder_flush(d, out);
    tok_decoder_free(d);
    return rc;
}
