/*
 * whisper_full as whisper.cpp runs it: the audio's mel, then 30 s windows from seek = 0; each
 * window is encoded and decoded (greedy, best-of sampling or beam search) with the text of the
 * windows before it as prompt, falling back to higher temperatures when the best candidate
 * failed (repetition loop, low entropy) or is improbable; its timestamp tokens cut it into
 * segments and say where the next window starts.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "whisper_int.h"

#define DELTA_MIN 10 /* frames: audio ends when a timestamp reaches within 100 ms of it */

typedef struct run {
    const whisper_model *m;
    const wh_params *p;
    whisper_state *st;
    wh_decoder *dec;
    int n_dec_max;
    wh_token *seq_tmp; /* n_dec_max sequences (beam reordering) */
    float *raw;        /* n_vocab */
    float no_speech;
    uint64_t rng;
    buf text;
} run;

typedef struct cand {
    int src;
    wh_token tok;
    double sum;
} cand;

wh_params wh_params_default(void) {
    wh_params p = {
        .lang = 0,
        .suppress_blank = true,
        .no_context = true,
        .temperature = 0.0f,
        .temperature_inc = 0.2f,
        .entropy_thold = 2.4f,
        .logprob_thold = -1.0f,
        .no_speech_thold = 0.6f,
        .max_initial_ts = 1.0f,
        .length_penalty = -1.0f,
        .beam_size = 1,
        .best_of = 5,
        .n_threads = 1,
        .seed = 0x9e3779b97f4a7c15ull,
    };
    return p;
}

static bool active(const wh_decoder *d) { return !d->completed && !d->failed; }

static void push(const run *r, wh_decoder *d, wh_token t) {
    if (d->seq.n < r->m->hp.n_text_ctx) d->seq.tok[d->seq.n++] = t;
    d->seq.sum_logprobs_all += t.plog;
}

/* Beam search step: every live beam proposes its beam_size best tokens; the best candidates
 * by total log-probability become the new beams (KV caches copied from their parents). */
static void beam_step(run *r, int n_dec, int i, int n_past) {
    int k = r->p->beam_size, nc = 0;
    cand *c = (cand *)r->raw; /* the raw logits are consumed: reuse them */
    wh_token top[16];
    for (int j = 0; j < n_dec; j++) {
        wh_decoder *d = &r->dec[j];
        if (!active(d) || (i == 0 && j > 0)) continue; /* step 0: every beam is the same */
        int n = wh_sample_topk(r->m, d, k, top);
        for (int t = 0; t < n; t++)
            c[nc++] = (cand){j, top[t], d->seq.sum_logprobs_all + top[t].plog};
    }
    /* Stable sort, best first (n is at most 16 x 16). */
    for (int a = 1; a < nc; a++)
        for (int b = a; b > 0 && c[b - 1].sum < c[b].sum; b--) {
            cand t = c[b];
            c[b] = c[b - 1], c[b - 1] = t;
        }
    int cur = 0, ctx = r->m->hp.n_text_ctx;
    int pick[64];
    wh_decoder saved[64];
    for (int j = 0; j < n_dec; j++) {
        if (!active(&r->dec[j])) continue;
        if (cur >= nc) cur = 0;
        pick[j] = cur++;
        while (cur < nc && c[cur].sum == c[pick[j]].sum && i > 0) cur++;
    }
    /* Copy the parents first (a parent may be replaced by another's child). */
    for (int j = 0; j < n_dec; j++) {
        saved[j] = r->dec[j];
        if (!active(&r->dec[j])) continue;
        memcpy(r->seq_tmp + (size_t)j * ctx, r->dec[j].seq.tok,
               (size_t)r->dec[j].seq.n * sizeof(wh_token));
        whisper_state_copy_seq(r->st, n_dec + j, j, n_past);
    }
    for (int j = 0; j < n_dec; j++) {
        wh_decoder *d = &r->dec[j];
        if (!active(d)) continue;
        const cand *cc = &c[pick[j]];
        const wh_decoder *src = &saved[cc->src];
        wh_token *tok = d->seq.tok;
        d->seq = src->seq;
        d->seq.tok = tok;
        memcpy(tok, r->seq_tmp + (size_t)cc->src * ctx, (size_t)src->seq.n * sizeof(wh_token));
        d->has_ts = src->has_ts, d->seek_delta = src->seek_delta;
        whisper_state_copy_seq(r->st, j, n_dec + cc->src, n_past);
        push(r, d, cc->tok);
    }
}

/* whisper.cpp's per-token end conditions for decoder d after step i. */
static void check_end(run *r, wh_decoder *d, int i, int n_max, int seek, int seek_end) {
    const wh_params *p = r->p;
    int beg = r->m->tok.beg;
    wh_token t = d->seq.tok[d->seq.n - 1];
    int *rl = &d->seq.result_len;
    if (t.id > beg) {
        int nd = 2 * (t.id - beg);
        if (d->has_ts && d->seek_delta > nd && *rl < i) { /* never go back in time */
            d->failed = true;
            return;
        }
        d->seek_delta = nd, *rl = i + 1, d->has_ts = true;
    }
    if (t.id == r->m->tok.eot || (d->has_ts && seek + d->seek_delta + DELTA_MIN >= seek_end)) {
        if (*rl == 0 && !p->no_timestamps) {
            if (seek + d->seek_delta + DELTA_MIN >= seek_end) {
                *rl = i + 1;
            } else {
                d->failed = true;
                return;
            }
        }
        if (p->single_segment || p->no_timestamps) *rl = i + 1, d->seek_delta = 100 * 30;
        d->completed = true;
        return;
    }
    /* A repetition loop: the window filled without a usable timestamp. */
    if (i == n_max - 1 && (*rl == 0 || d->seek_delta < 100 * 30 / 2)) d->failed = true;
}

/* Decode the encoded window at temperature t with the given prompt; returns the best decoder
 * (or a negative error). */
static int decode_window(run *r, int seek, int seek_end, const int *prompt, int np, float t,
                         err_buf *eb) {
    const wh_params *p = r->p;
    const whisper_model *m = r->m;
    bool beam = t == 0 && p->beam_size > 1;
    int n_dec = t > 0 ? (p->best_of > 1 ? p->best_of : 1) : (beam ? p->beam_size : 1);
    if (n_dec > r->n_dec_max) n_dec = r->n_dec_max;
    int rc = whisper_decode(r->st, 0, prompt, np, 0, r->raw, eb);
    if (rc) return rc;
    r->no_speech = wh_no_speech_prob(m, r->raw);
    for (int j = 0; j < n_dec; j++) {
        wh_decoder *d = &r->dec[j];
        wh_token *tok = d->seq.tok;
        memset(&d->seq, 0, sizeof d->seq);
        d->seq.tok = tok;
        d->failed = d->completed = d->has_ts = false;
        d->seek_delta = 100 * 30;
        whisper_state_copy_seq(r->st, j, 0, np);
        wh_process_logits(m, d, p, t, r->raw);
    }
    int n_max = m->hp.n_text_ctx / 2 - 4;
    for (int i = 0; i < n_max; i++) {
        if (beam) {
            beam_step(r, n_dec, i, np + i);
        } else {
            for (int j = 0; j < n_dec; j++)
                if (active(&r->dec[j]))
                    push(r, &r->dec[j], wh_sample(m, &r->dec[j], t > 0 ? &r->rng : NULL));
        }
        bool any = false;
        for (int j = 0; j < n_dec; j++) {
            if (!active(&r->dec[j])) continue;
            check_end(r, &r->dec[j], i, n_max, seek, seek_end);
            any |= active(&r->dec[j]);
        }
        if (!any || i == n_max - 1) break;
        for (int j = 0; j < n_dec; j++) {
            wh_decoder *d = &r->dec[j];
            if (!active(d)) continue;
            int tok = d->seq.tok[d->seq.n - 1].id;
            if (whisper_decode(r->st, j, &tok, 1, np + d->seq.n - 1, r->raw, NULL) != 0) {
                d->failed = true; /* the text context is full */
                continue;
            }
            wh_process_logits(m, d, p, t, r->raw);
        }
    }
    int best = 0;
    double best_score = -INFINITY;
    for (int j = 0; j < n_dec; j++) {
        wh_decoder *d = &r->dec[j];
        if (d->failed) continue;
        d->seq.n = d->seq.result_len;
        wh_seq_score(&d->seq, p->length_penalty);
        if (d->seq.result_len > 32 && d->seq.entropy < p->entropy_thold) {
            d->failed = true;
            continue;
        }
        if (best_score < d->seq.score) best_score = d->seq.score, best = j;
    }
    return best;
}

/* Cut the best decoder's tokens into segments at timestamp tokens (whisper.cpp's rules). */
static int emit_segments(run *r, const wh_decoder *d, int seek, float t, wh_segment_fn fn,
                         void *ud) {
    const whisper_model *m = r->m;
    int beg = m->tok.beg, n = d->seq.n, i0 = 0;
    const wh_token *tok = d->seq.tok;
    if (n == 0) return 0;
    int64_t t0 = seek + 2 * (int64_t)(tok[0].tid - beg);
    r->text.len = 0;
    for (int i = 0; i < n; i++) {
        if (tok[i].id < m->tok.eot) {
            str_slice s = whisper_token_text(m, tok[i].id);
            if (s.len && buf_append(&r->text, s.ptr, s.len)) return BASE_ENOMEM;
        }
        if (tok[i].id > beg && !r->p->single_segment) {
            int64_t t1 = seek + 2 * (int64_t)(tok[i].tid - beg);
            if (r->text.len) {
                wh_segment sg = {t0,           t1,          seek, tok + i0,    i - i0 + 1,
                                 r->text.data, r->text.len, t,    r->no_speech};
                int cr = fn ? fn(&sg, ud) : 0;
                if (cr) return cr < 0 ? cr : BASE_ECANCELED;
            }
            r->text.len = 0;
            t0 = t1;
            while (i + 1 < n && tok[i + 1].id > beg)
                i++, t0 = seek + 2 * (int64_t)(tok[i].tid - beg);
            i0 = i + 1;
        }
    }
    if (r->text.len) {
        wh_segment sg = {t0,           seek + d->seek_delta, seek, tok + i0,    n - i0,
                         r->text.data, r->text.len,          t,    r->no_speech};
        int cr = fn ? fn(&sg, ud) : 0;
        if (cr) return cr < 0 ? cr : BASE_ECANCELED;
    }
    return 0;
}

static int run_init(run *r, const whisper_model *m, const wh_params *p, err_buf *eb) {
    memset(r, 0, sizeof *r);
    r->m = m, r->p = p, r->rng = p->seed ? p->seed : 1;
    int nd = p->best_of > p->beam_size ? p->best_of : p->beam_size;
    r->n_dec_max = nd < 1 ? 1 : nd > 16 ? 16 : nd;
    /* One KV cache per decoder, plus scratch copies for reordering beams. */
    int beams = p->beam_size > 1 ? (p->beam_size < r->n_dec_max ? p->beam_size : r->n_dec_max) : 0;
    int rc = whisper_state_new(&r->st, m, p->n_threads, r->n_dec_max + beams, eb);
    if (rc) return rc;
    size_t ctx = (size_t)m->hp.n_text_ctx, V = (size_t)m->hp.n_vocab;
    r->dec = mem_calloc((size_t)r->n_dec_max, sizeof *r->dec);
    r->seq_tmp = mem_alloc((size_t)r->n_dec_max * ctx * sizeof(wh_token));
    /* raw doubles as the beam candidate list: make sure it is big enough. */
    size_t raw =
        V * sizeof(float) > 16 * 16 * sizeof(cand) ? V * sizeof(float) : 16 * 16 * sizeof(cand);
    r->raw = mem_alloc(raw);
    if (!r->dec || !r->seq_tmp || !r->raw)
        return err_set(eb, BASE_ENOMEM, "whisper: out of memory");
    for (int j = 0; j < r->n_dec_max; j++) {
        wh_decoder *d = &r->dec[j];
        d->kv = j;
        d->seq.tok = mem_alloc(ctx * sizeof(wh_token));
        d->logits = mem_alloc(V * sizeof(float));
        d->logprobs = mem_alloc(V * sizeof(float));
        d->probs = mem_alloc(V * sizeof(float));
        if (!d->seq.tok || !d->logits || !d->logprobs || !d->probs)
            return err_set(eb, BASE_ENOMEM, "whisper: out of memory");
    }
    return 0;
}

static void run_free(run *r) {
    for (int j = 0; r->dec && j < r->n_dec_max; j++) {
        mem_free(r->dec[j].seq.tok);
        mem_free(r->dec[j].logits);
        mem_free(r->dec[j].logprobs);
        mem_free(r->dec[j].probs);
    }
    mem_free(r->dec);
    mem_free(r->seq_tmp);
    mem_free(r->raw);
    buf_free(&r->text);
    whisper_state_free(r->st);
}

/* The windows loop. */
static int full_loop(run *r, const float *mel, int n_frames, int seek_end, wh_segment_fn fn,
                     void *ud, int *lang_out, err_buf *eb) {
    const whisper_model *m = r->m;
    const wh_params *p = r->p;
    const whisper_tokens *tk = &m->tok;
    int half = m->hp.n_text_ctx / 2, rc = 0;
    int lang = p->lang;
    bool multi = whisper_model_is_multilingual(m);
    if (!multi) lang = 0;
    if (lang < 0) {
        if ((rc = whisper_encode(r->st, mel, n_frames, 0, eb))) return rc;
        if ((lang = whisper_detect_language(r->st, NULL, eb)) < 0) return lang;
    }
    if (lang >= tk->n_lang) return err_set(eb, BASE_EINVAL, "whisper: language not in this model");
    *lang_out = lang;
    int init[4], n_init = 0;
    init[n_init++] = tk->sot;
    if (multi) {
        init[n_init++] = tk->sot + 1 + lang;
        init[n_init++] = p->translate ? tk->translate : tk->transcribe;
    }
    if (p->no_timestamps) init[n_init++] = tk->notimestamps;
    /* Past text, newest last; only the last n_text_ctx / 2 tokens are ever used. */
    int *past = mem_alloc((size_t)(2 * half + 8) * sizeof(int));
    int *prompt = mem_alloc((size_t)(half + 8) * sizeof(int));
    if (!past || !prompt) {
        mem_free(past), mem_free(prompt);
        return err_set(eb, BASE_ENOMEM, "whisper: out of memory");
    }
    int n_past = 0;
    for (int i = 0; i < p->n_prompt_tokens; i++) {
        if (n_past == 2 * half)
            memmove(past, past + half, (size_t)half * sizeof(int)), n_past = half;
        past[n_past++] = p->prompt_tokens[i];
    }
    bool first = true;
    int seek = 0;
    while (seek + 100 < seek_end) {
        if ((rc = whisper_encode(r->st, mel, n_frames, seek, eb))) break;
        if (seek > 0 && seek + 500 >= seek_end) n_past = 0;
        int best = 0, np = 0;
        float t = p->temperature;
        for (;;) {
            np = 0;
            if (n_past > 0 && t < 0.5f) {
                int take = n_past < half ? n_past : half;
                prompt[np++] = tk->prev;
                memcpy(prompt + np, past + n_past - take, (size_t)take * sizeof(int));
                np += take;
            }
            memcpy(prompt + np, init, (size_t)n_init * sizeof(int));
            np += n_init;
            best = decode_window(r, seek, seek_end, prompt, np, t, eb);
            if (best < 0) {
                rc = best;
                break;
            }
            const wh_decoder *d = &r->dec[best];
            bool last = p->temperature_inc <= 0 || t + p->temperature_inc > 1.0f + 1e-6f;
            if (last || !(d->failed || (d->seq.avg_logprobs < p->logprob_thold &&
                                        r->no_speech < p->no_speech_thold)))
                break;
            t += p->temperature_inc;
        }
        if (rc) break;
        wh_decoder *d = &r->dec[best];
        if (first && p->sampled) {
            int cnt = d->seq.n < p->sampled_cap ? d->seq.n : p->sampled_cap;
            for (int i = 0; i < cnt; i++) p->sampled[i] = d->seq.tok[i].id;
            *p->n_sampled = cnt;
        }
        first = false;
        bool no_speech =
            r->no_speech > p->no_speech_thold && d->seq.avg_logprobs < p->logprob_thold;
        /* The next window's past: this prompt's past part, then this window's tokens. */
        int keep = np - n_init - (prompt[0] == tk->prev ? 1 : 0);
        if (prompt[0] == tk->prev) memmove(past, prompt + 1, (size_t)keep * sizeof(int));
        n_past = prompt[0] == tk->prev ? keep : 0;
        for (int i = 0; i < d->seq.result_len && !no_speech; i++) {
            if (n_past == 2 * half)
                memmove(past, past + half, (size_t)half * sizeof(int)), n_past = half;
            past[n_past++] = d->seq.tok[i].id;
        }
        if (!no_speech && (rc = emit_segments(r, d, seek, t, fn, ud))) break;
        int n = d->seq.n, delta = d->seek_delta;
        if (n > 1 && d->seq.tok[n - 2].id < tk->beg && d->seq.tok[n - 1].id > tk->beg)
            delta = seek_end - seek < 3000 ? seek_end - seek : 3000; /* single timestamp ending */
        if (delta <= 0) delta = 3000;                                /* never stall */
        seek += delta;
    }
    mem_free(past);
    mem_free(prompt);
    return rc;
}

int wh_full(const whisper_model *m, const float *pcm, size_t n, const wh_params *p,
            wh_segment_fn fn, void *ud, int *lang_out, err_buf *eb) {
    run r;
    float *mel = NULL;
    int n_frames, n_org;
    int rc = run_init(&r, m, p, eb);
    if (!rc) rc = wh_mel_pool(m, pcm, n, r.st->pool, &mel, &n_frames, &n_org, eb);
    if (!rc) rc = full_loop(&r, mel, n_frames, n_org, fn, ud, lang_out, eb);
    mem_free(mel);
    run_free(&r);
    return rc;
}
