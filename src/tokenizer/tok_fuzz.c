/*
 * libFuzzer target: arbitrary bytes through every tokenizer family. The first input byte picks
 * the vocabulary (low nibble) and the flags (0x10 add_special, 0x20 parse_special, 0x40 render
 * specials when decoding); the rest is the text. Checks: encoding never fails on any
 * bytes, byte-level BPE gives back exactly the input bytes when they are valid UTF-8 (some
 * vocabularies lack the bytes UTF-8 never uses, like 0xFF), and the streaming decoder accepts
 * every id and emits valid UTF-8.
 *   make fuzz && build/fuzz/tokenizer/tok_fuzz tests/corpus/tokenizer
 * The vocabularies come from $LOCALAI_SHARED (default ../shared)/testdata/tokenizer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static const char *const names[] = {"llama-spm", "gpt-2", "llama-bpe", "bert-bge", "mpt", "phi-3"};
#define N_VOCAB (sizeof names / sizeof *names)
static tok *vocabs[N_VOCAB];

static tok *get_vocab(size_t i) {
    static bool tried[N_VOCAB];
    if (tried[i]) return vocabs[i];
    tried[i] = true;
    const char *root = getenv("LOCALAI_SHARED");
    char path[512];
    snprintf(path, sizeof path, "%s/testdata/tokenizer/ggml-vocab-%s.gguf",
             root ? root : "../shared", names[i]);
    gguf *g = NULL;
    if (gguf_open(path, &g, NULL) == 0) tok_load(g, &vocabs[i], NULL);
    gguf_close(g);
    return vocabs[i];
}

static bool valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3
                                                      : c >= 0xF0 && c < 0xF5 ? 4 : 0;
        if (!k || i + k > n) return false;
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)s[i + j] & 0xC0) != 0x80) return false;
        i += k;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    tok *t = get_vocab((data[0] & 0x0F) % N_VOCAB);
    if (!t) return 0;
    bool add_special = data[0] & 0x10, parse_special = data[0] & 0x20;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int32_t *ids = NULL;
    size_t n = 0;
    if (tok_encode(t, text, len, add_special, parse_special, &ids, &n, NULL)) abort();
    if (tok_get_type(t) == TOK_VOCAB_BPE && !add_special && !parse_special && valid_utf8(text, len)) {
        buf raw = {0};
        for (size_t i = 0; i < n; i++)
            if (tok_token_bytes(t, ids[i], false, &raw)) abort();
        if (raw.len != len || (len && memcmp(raw.data, text, len))) abort();
        buf_free(&raw);
    }
    buf out = {0};
    if (tok_detokenize(t, ids, n, data[0] & 0x40, &out)) abort();
    if (!valid_utf8(out.data ? out.data : "", out.len)) abort();
    buf_free(&out);
    mem_free(ids);
    return 0;
}
