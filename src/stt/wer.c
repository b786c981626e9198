/* Word error rate (see stt.h): a word-level Levenshtein distance over normalized words. */
#include "stt.h"

#include <ctype.h>
#include <string.h>

#define MAX_WORDS 512

/* Split s into normalized words (letters, digits and apostrophes, lower-cased). */
static int words(const char *s, char out[][32]) {
    int n = 0;
    while (s && *s && n < MAX_WORDS) {
        while (*s && !isalnum((unsigned char)*s) && *s != '\'') s++;
        int k = 0;
        while (*s && (isalnum((unsigned char)*s) || *s == '\'')) {
            if (k < 31) out[n][k++] = (char)tolower((unsigned char)*s);
            s++;
        }
        if (k) {
            out[n][k] = 0;
            /* Spoken and written forms of the same word. */
            if (!strcmp(out[n], "mr")) strcpy(out[n], "mister");
            if (!strcmp(out[n], "mrs")) strcpy(out[n], "missus");
            n++;
        }
    }
    return n;
}

void stt_wer_count(const char *ref, const char *hyp, int *errors, int *nwords) {
    static _Thread_local char r[MAX_WORDS][32], h[MAX_WORDS][32];
    int nr = words(ref, r), nh = words(hyp, h);
    int *prev = mem_calloc((size_t)nh + 1, sizeof *prev),
        *cur = mem_calloc((size_t)nh + 1, sizeof *cur);
    if (!prev || !cur) {
        mem_free(prev);
        mem_free(cur);
        *errors = nr;
        *nwords = nr;
        return;
    }
    for (int j = 0; j <= nh; j++) prev[j] = j;
    for (int i = 1; i <= nr; i++) {
        cur[0] = i;
        for (int j = 1; j <= nh; j++) {
            int sub = prev[j - 1] + (strcmp(r[i - 1], h[j - 1]) != 0);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        int *t = prev;
        prev = cur;
        cur = t;
    }
    *errors = prev[nh];
    *nwords = nr;
    mem_free(prev);
    mem_free(cur);
}

double stt_wer(const char *ref, const char *hyp) {
    int e, n;
    stt_wer_count(ref, hyp, &e, &n);
    return n ? (double)e / n : 1.0;
}
