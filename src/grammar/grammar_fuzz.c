/*
 * libFuzzer target for the GBNF parser and the matcher, and for JSON schemas. The input is
 * split at its first NUL: a grammar (or, when it starts with '{', a JSON schema) and text to
 * feed. Any input must give a clean error or a grammar that matches the text without crashing,
 * byte by byte and all at once alike.
 *
 *   make fuzz
 *   build/fuzz/grammar/grammar_fuzz -max_total_time=300 tests/corpus/grammar
 */
#include "grammar/grammar.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t glen = nul ? (size_t)(nul - data) : size;
    const char *text = nul ? (const char *)nul + 1 : "";
    size_t tlen = nul ? size - glen - 1 : 0;
    grammar *g = NULL;
    err_buf eb = {0};
    if (glen && data[0] == '{') {
        json_t *s = json_loadb((const char *)data, glen, 0, NULL);
        if (!s) return 0;
        grammar_from_json_schema(s, &g, &eb);
        json_decref(s);
    } else {
        grammar_parse((const char *)data, glen, &g, &eb);
    }
    if (!g) return 0;
    gstate *a = gstate_new(g), *b = gstate_new(g);
    if (a && b) {
        bool all = gstate_accept_bytes(a, text, tlen) == 0;
        bool each = true;
        for (size_t i = 0; i < tlen && each; i++) each = gstate_accept_bytes(b, text + i, 1) == 0;
        if (all != each) __builtin_trap();
        if (all && gstate_is_complete(a) != gstate_is_complete(b)) __builtin_trap();
        (void)gstate_min_bytes_left(a);
    }
    gstate_free(a);
    gstate_free(b);
    grammar_free(g);
    return 0;
}
