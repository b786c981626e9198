/*
 * sample: turning logits into the next token, and stop strings.
 *
 * The sampler chain follows llama.cpp's order: logit bias, repetition / presence / frequency
 * penalties over the recent tokens, then either greedy (temperature <= 0) or top-k, top-p,
 * min-p, temperature and a draw from a seeded generator, so a seed reproduces the output.
 *
 *   smp_params p = smp_default_params();
 *   p.temperature = 0.7f; p.seed = 42;
 *   smp *s;
 *   smp_new(&p, n_vocab, &s, &eb);
 *   int32_t tok = smp_sample(s, logits, NULL);
 *   smp_accept(s, tok);              // feeds the penalties
 *   smp_free(s);
 */
#ifndef SAMPLE_H
#define SAMPLE_H

#include "base/base.h"

typedef struct smp_bias {
    int32_t token;
    float bias; /* added to the logit; -INFINITY bans the token */
} smp_bias;

typedef struct smp_params {
    float temperature;       /* <= 0: greedy */
    int top_k;               /* <= 0: off */
    float top_p;             /* >= 1: off */
    float min_p;             /* <= 0: off */
    float repeat_penalty;    /* 1: off */
    int repeat_last_n;       /* how many recent tokens the penalties look at (-1: all) */
    float presence_penalty;  /* 0: off (OpenAI semantics) */
    float frequency_penalty; /* 0: off */
    uint64_t seed;           /* SMP_SEED_RANDOM: from the clock */
    const smp_bias *bias;    /* borrowed for the sampler's life */
    int n_bias;
} smp_params;

#define SMP_SEED_RANDOM UINT64_MAX

smp_params smp_default_params(void);

typedef struct smp smp;

int smp_new(const smp_params *p, int n_vocab, smp **out, err_buf *eb);
void smp_free(smp *s);
/* Forget the token history (penalties) and reseed. */
void smp_reset(smp *s);

/* Log-probabilities of the chosen token and the most likely alternatives, computed from the
 * logits after bias and penalties, before temperature and truncation. */
#define SMP_MAX_TOP 20
typedef struct smp_logprobs {
    int32_t token;
    float logprob;
    int n_top;                    /* as asked by smp_sample's n_top */
    int32_t top_token[SMP_MAX_TOP];
    float top_logprob[SMP_MAX_TOP];
} smp_logprobs;

/* Choose the next token from n_vocab logits (not modified). lp (may be NULL) receives
 * log-probabilities with n_top (0..SMP_MAX_TOP) alternatives. */
int32_t smp_sample(smp *s, const float *logits, smp_logprobs *lp, int n_top);
/* Record a token that is now part of the context (prompt or generated). */
void smp_accept(smp *s, int32_t token);

/* ---- stop strings ---- */

/* Holds back generated text while it might still become a stop string, so a stop string
 * never reaches the client. */
typedef struct smp_stop smp_stop;

/* stops: n NUL-terminated strings (copied). Empty strings are ignored. */
int smp_stop_new(const char *const *stops, int n, smp_stop **out);
void smp_stop_free(smp_stop *st);
/* Feed new text; text that is safe to emit is appended to out. Returns true when a stop
 * string was found (out then holds everything before it; later feeds emit nothing). */
bool smp_stop_feed(smp_stop *st, const char *text, size_t len, buf *out);
/* At the end of generation: emit whatever was held back (no stop matched). */
void smp_stop_flush(smp_stop *st, buf *out);

#endif
