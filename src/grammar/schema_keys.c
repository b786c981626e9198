/*
 * "Any JSON string except these keys", for additional properties next to declared ones: an
 * extra key equal to a declared one would be a duplicate, and JSON parsers keep only one of
 * the two values. The keys form a trie over code points; at each node the string may diverge
 * (a character that is no child, or an escape), follow a child, or end if the prefix is not a
 * key itself. Keys are compared as written: a declared key spelled with escapes ("\u0061") is
 * not caught, nor is one longer than MAX_KEY characters.
 */
#include "grammar_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_KEY 128
#define MAX_KIDS 256

typedef struct key {
    uint32_t cp[MAX_KEY];
    int n;
} key;

static bool plain(uint32_t c) { return c >= 0x20 && c != 0x7f && c != '"' && c != '\\'; }

/* Rule `name` for the strings (after the opening quote) that continue keys idx[0..m) after
 * their first d characters. */
static void emit(buf *rules, const char *name, const key *keys, const int *idx, int m, int d) {
    bool terminal = false;
    uint32_t kids[MAX_KIDS];
    int nk = 0;
    for (int i = 0; i < m; i++) {
        const key *k = &keys[idx[i]];
        if (k->n == d) { terminal = true; continue; }
        uint32_t c = k->cp[d];
        bool seen = !plain(c);
        for (int j = 0; j < nk && !seen; j++) seen = kids[j] == c;
        if (!seen && nk < MAX_KIDS) kids[nk++] = c;
    }
    buf_printf(rules, "%s ::= [^\"\\\\\\x00-\\x1F\\x7F", name);
    for (int j = 0; j < nk; j++) buf_printf(rules, "\\U%08X", kids[j]);
    buf_append_str(rules, "] json-char* \"\\\"\" | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" json-hex4) "
                          "json-char* \"\\\"\"");
    if (!terminal) buf_append_str(rules, " | \"\\\"\"");
    for (int j = 0; j < nk; j++) buf_printf(rules, " | \"\\U%08X\" %s-%d", kids[j], name, j);
    buf_append_str(rules, "\n");
    int *sub = nk ? mem_alloc((size_t)m * sizeof *sub) : NULL;
    if (nk && !sub) {
        rules->oom = true;
        return;
    }
    for (int j = 0; j < nk && !rules->oom; j++) {
        int ns = 0;
        for (int i = 0; i < m; i++) {
            const key *k = &keys[idx[i]];
            if (k->n > d && k->cp[d] == kids[j]) sub[ns++] = idx[i];
        }
        char nm[1024];
        snprintf(nm, sizeof nm, "%s-%d", name, j);
        emit(rules, nm, keys, sub, ns, d + 1);
    }
    mem_free(sub);
}

int gschema_not_keys(buf *rules, const char *name, const char *const *names, size_t n, err_buf *eb) {
    key *keys = mem_calloc(n ? n : 1, sizeof *keys);
    int *idx = mem_alloc((n ? n : 1) * sizeof *idx);
    if (!keys || !idx) {
        mem_free(keys);
        mem_free(idx);
        return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        key *k = &keys[m];
        gutf8 u = {0};
        bool ok = true;
        for (const char *p = names[i]; *p && ok; p++) {
            uint32_t cp;
            int r = gutf8_push(&u, (uint8_t)*p, &cp);
            if (r == GUTF8_BAD || (r == GUTF8_DONE && k->n == MAX_KEY)) ok = false;
            else if (r == GUTF8_DONE) k->cp[k->n++] = cp;
        }
        if (ok && !u.need) idx[m] = m, m++;
    }
    emit(rules, name, keys, idx, m, 0);
    mem_free(keys);
    mem_free(idx);
    return rules->oom ? err_set(eb, BASE_ENOMEM, "out of memory") : 0;
}
