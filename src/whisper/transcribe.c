/*
 * whisper_transcribe: stt_opts in, stt_result out. Maps the options onto whisper.cpp's
 * parameters, skips silence with the attached VAD model (the speech parts are joined with
 * 0.1 s of silence between them and segment times are mapped back to the original audio), and
 * turns each decoded segment into an stt_segment: valid UTF-8 text, tokens, average
 * log-probability, a compression-ratio estimate and, when asked, word times.
 */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "whisper_int.h"

#define GAP_SAMPLES (STT_SAMPLE_RATE / 10)
#define PROMPT_BYTES 2048

/* A piece of speech: where it sits in the joined audio and in the original (samples). */
typedef struct piece {
    int64_t at, orig, len;
} piece;

typedef struct tx {
    const whisper_model *m;
    const stt_opts *o;
    stt_segment_fn fn;
    void *ud;
    stt_result *res;
    int cap;
    const piece *pieces;
    int n_pieces;
    double duration;
    buf text;
} tx;

/* Seconds in the original audio for centiseconds t of the decoded audio. */
static double map_time(const tx *x, double cs) {
    double s = cs / 100.0;
    if (s < 0) s = 0;
    if (x->n_pieces) {
        double smp = s * STT_SAMPLE_RATE;
        int k = 0;
        while (k + 1 < x->n_pieces && smp >= (double)x->pieces[k + 1].at) k++;
        const piece *p = &x->pieces[k];
        double off = smp - (double)p->at;
        off = off < 0 ? 0 : off > (double)p->len ? (double)p->len : off;
        s = ((double)p->orig + off) / STT_SAMPLE_RATE;
    }
    return s > x->duration ? x->duration : s;
}

/* Copy of (s, n) with invalid UTF-8 sequences replaced by U+FFFD. */
static char *utf8_clean(const char *s, size_t n) {
    buf b = {0};
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
        if (ok && len == 2) ok = c >= 0xc2;
        if (ok && len == 3) {
            unsigned v = ((c & 0xfu) << 12) | (((unsigned char)s[i + 1] & 0x3fu) << 6);
            ok = v >= 0x800 && (v < 0xd800 || v > 0xdfff);
        }
        if (ok && len == 4)
            ok = c <= 0xf4 && !(c == 0xf0 && (unsigned char)s[i + 1] < 0x90) &&
                 !(c == 0xf4 && (unsigned char)s[i + 1] > 0x8f);
        if (ok) {
            buf_append(&b, s + i, len);
            i += len;
        } else {
            buf_append(&b, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    if (!b.data && !b.oom) buf_append(&b, "", 0);
    if (b.oom) {
        buf_free(&b);
        return NULL;
    }
    return b.data ? b.data : mem_strdup("");
}

/* len / (cost of a greedy LZ77 parse): an estimate of zlib's compression ratio, which OpenAI
 * reports and uses (above 2.4) to flag repetition. */
static float compression_ratio(const char *s, size_t n) {
    if (n == 0) return 0;
    double cost = 0;
    size_t i = 0;
    while (i < n) {
        size_t best = 0;
        size_t lo = i > 4096 ? i - 4096 : 0;
        for (size_t j = lo; j < i; j++) {
            size_t l = 0;
            while (i + l < n && s[j + l] == s[i + l] && l < 258) l++;
            if (l > best) best = l;
        }
        if (best >= 3)
            cost += 2.5, i += best;
        else
            cost += 1, i++;
    }
    return (float)((double)n / (cost + 8));
}

/* Words: a text token starting with a space (or the first) begins one; time is shared out by
 * byte length between the segment's start and end (an estimate from the segment timestamps,
 * not cross-attention alignment). */
static int make_words(const tx *x, const wh_segment *sg, stt_segment *out, double t0, double t1) {
    const whisper_model *m = x->m;
    int cap = sg->n_tok, n = 0;
    stt_word *w = mem_calloc(cap ? (size_t)cap : 1, sizeof *w);
    int *ntok = mem_calloc(cap ? (size_t)cap : 1, sizeof *ntok);
    buf cur = {0};
    if (!w || !ntok) goto oom;
    size_t total = 0;
    for (int i = 0; i <= sg->n_tok; i++) {
        str_slice s = {"", 0};
        if (i < sg->n_tok && sg->tok[i].id < m->tok.eot) s = whisper_token_text(m, sg->tok[i].id);
        bool end = i == sg->n_tok || (s.len && s.ptr[0] == ' ' && cur.len);
        if (end && cur.len) {
            size_t a = 0;
            while (a < cur.len && cur.data[a] == ' ') a++;
            if (a < cur.len) {
                if (!(w[n].text = utf8_clean(cur.data + a, cur.len - a))) goto oom;
                w[n].start = (double)(cur.len - a); /* byte length for now */
                w[n].prob /= (float)(ntok[n] ? ntok[n] : 1);
                total += cur.len - a;
                n++;
            } else {
                w[n].prob = 0, ntok[n] = 0;
            }
            cur.len = 0;
        }
        if (i < sg->n_tok && s.len) {
            if (buf_append(&cur, s.ptr, s.len)) goto oom;
            w[n].prob += sg->tok[i].p;
            ntok[n]++;
        }
    }
    double at = t0;
    for (int i = 0; i < n; i++) {
        double len = total ? w[i].start / (double)total * (t1 - t0) : 0;
        w[i].start = at, w[i].end = at + len;
        at += len;
    }
    buf_free(&cur);
    mem_free(ntok);
    out->words = w, out->n_words = n;
    return 0;
oom:
    for (int i = 0; w && i < cap; i++) mem_free(w[i].text);
    mem_free(w);
    mem_free(ntok);
    buf_free(&cur);
    return BASE_ENOMEM;
}

static int on_segment(const wh_segment *sg, void *ud) {
    tx *x = ud;
    stt_result *r = x->res;
    if (r->n_segs == x->cap) {
        int nc = x->cap ? 2 * x->cap : 16;
        stt_segment *ns = mem_realloc(r->segs, (size_t)nc * sizeof *ns);
        if (!ns) return BASE_ENOMEM;
        r->segs = ns, x->cap = nc;
    }
    stt_segment *s = &r->segs[r->n_segs];
    memset(s, 0, sizeof *s);
    int64_t t0 = sg->t0 < sg->seek ? sg->seek : sg->t0, t1 = sg->t1 < t0 ? t0 : sg->t1;
    s->id = r->n_segs;
    s->start = map_time(x, (double)t0);
    s->end = map_time(x, (double)t1);
    s->text = utf8_clean(sg->text, sg->text_len);
    s->tokens = mem_alloc((size_t)(sg->n_tok ? sg->n_tok : 1) * sizeof(int));
    r->n_segs++; /* owned by the result from here on, even half built */
    if (!s->text || !s->tokens) return BASE_ENOMEM;
    double lp = 0;
    for (int i = 0; i < sg->n_tok; i++) s->tokens[i] = sg->tok[i].id, lp += sg->tok[i].plog;
    s->n_tokens = sg->n_tok;
    s->avg_logprob = sg->n_tok ? (float)(lp / sg->n_tok) : 0;
    s->temperature = sg->temperature;
    s->no_speech_prob = sg->no_speech_prob;
    s->compression_ratio = compression_ratio(sg->text, sg->text_len);
    if (x->o->word_timestamps && make_words(x, sg, s, s->start, s->end)) return BASE_ENOMEM;
    if (buf_append_str(&x->text, s->text)) return BASE_ENOMEM;
    if (x->fn && x->fn(s, x->ud)) return BASE_ECANCELED;
    return 0;
}

static int default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4 ? 4 : (int)n;
}

static int make_params(const whisper_model *m, const stt_opts *o, wh_params *p, int **ptok,
                       err_buf *eb) {
    *p = wh_params_default();
    *ptok = NULL;
    const char *lang = o->language;
    if (!lang || !*lang || strcmp(lang, "auto") == 0) {
        p->lang = whisper_model_is_multilingual(m) ? -1 : 0;
    } else {
        p->lang = whisper_lang_id(lang);
        if (p->lang < 0 || p->lang >= m->tok.n_lang)
            return err_set(eb, BASE_EINVAL, "whisper: unknown language '%s'", lang);
    }
    p->translate = o->translate != 0;
    p->no_timestamps = o->no_timestamps != 0;
    p->temperature = o->temperature > 0 ? o->temperature : 0;
    if (o->no_fallback) p->temperature_inc = 0;
    p->beam_size = o->beam_size > 1 ? (o->beam_size > 16 ? 16 : o->beam_size) : 1;
    p->best_of = o->best_of > 0 ? (o->best_of > 16 ? 16 : o->best_of) : 5;
    p->n_threads = o->threads > 0 ? o->threads : default_threads();
    if (o->prompt && *o->prompt) {
        /* Only the end of the prompt can be used (n_text_ctx / 2 tokens): tokenize its last
         * PROMPT_BYTES, from a word start, so a huge prompt costs no more than that. */
        const char *text = o->prompt;
        size_t len = strlen(text);
        if (len > PROMPT_BYTES) {
            text += len - PROMPT_BYTES;
            while (*text && *text != ' ') text++;
        }
        int cap = m->hp.n_text_ctx / 2;
        *ptok = mem_alloc((PROMPT_BYTES + 1) * sizeof(int));
        if (!*ptok) return err_set(eb, BASE_ENOMEM, "whisper: out of memory");
        int n = wh_tokenize(m, text, *ptok, PROMPT_BYTES + 1);
        p->prompt_tokens = *ptok + (n > cap ? n - cap : 0);
        p->n_prompt_tokens = n > cap ? cap : n;
    }
    return 0;
}

/* The speech parts of pcm joined with short silences; pieces maps them back. */
static int vad_filter(const whisper_vad *v, const float *pcm, size_t n, float **out, size_t *n_out,
                      piece **pieces, int *n_pieces, err_buf *eb) {
    whisper_vad_params vp = whisper_vad_default_params();
    whisper_vad_segment *sg;
    int ns;
    int rc = whisper_vad_segments(v, pcm, n, &vp, &sg, &ns, eb);
    if (rc) return rc;
    size_t total = 0;
    for (int i = 0; i < ns; i++) {
        size_t a = (size_t)(sg[i].start * STT_SAMPLE_RATE),
               b = (size_t)(sg[i].end * STT_SAMPLE_RATE);
        b = b > n ? n : b;
        total += (b > a ? b - a : 0) + GAP_SAMPLES;
    }
    *out = mem_calloc(total ? total : 1, sizeof(float));
    *pieces = mem_calloc(ns ? (size_t)ns : 1, sizeof **pieces);
    if (!*out || !*pieces) {
        mem_free(sg), mem_free(*out), mem_free(*pieces);
        *out = NULL, *pieces = NULL;
        return err_set(eb, BASE_ENOMEM, "whisper: out of memory");
    }
    size_t at = 0;
    for (int i = 0; i < ns; i++) {
        size_t a = (size_t)(sg[i].start * STT_SAMPLE_RATE),
               b = (size_t)(sg[i].end * STT_SAMPLE_RATE);
        b = b > n ? n : b;
        size_t len = b > a ? b - a : 0;
        memcpy(*out + at, pcm + a, len * sizeof(float));
        (*pieces)[i] = (piece){(int64_t)at, (int64_t)a, (int64_t)len};
        at += len + GAP_SAMPLES;
    }
    *n_out = total;
    *n_pieces = ns;
    mem_free(sg);
    return 0;
}

int whisper_transcribe(whisper_model *m, const float *pcm16k, size_t n_samples, const stt_opts *o,
                       stt_segment_fn on_seg, void *ud, stt_result *out, err_buf *eb) {
    memset(out, 0, sizeof *out);
    stt_opts def;
    if (!o) stt_opts_init(&def), o = &def;
    if (!pcm16k && n_samples) return err_set(eb, BASE_EINVAL, "whisper: no audio");
    wh_params p;
    int *ptok;
    int rc = make_params(m, o, &p, &ptok, eb);
    if (rc) return rc;
    tx x = {.m = m, .o = o, .fn = on_seg, .ud = ud, .res = out};
    x.duration = (double)n_samples / STT_SAMPLE_RATE;
    out->duration = x.duration;
    const float *audio = pcm16k;
    size_t n = n_samples;
    float *joined = NULL;
    piece *pieces = NULL;
    if (o->use_vad && m->vad) {
        rc = vad_filter(m->vad, pcm16k, n_samples, &joined, &n, &pieces, &x.n_pieces, eb);
        audio = joined, x.pieces = pieces;
    }
    int lang = p.lang < 0 ? 0 : p.lang;
    if (!rc && (!o->use_vad || !m->vad || x.n_pieces > 0))
        rc = wh_full(m, audio, n, &p, on_segment, &x, &lang, eb);
    if (rc == BASE_ENOMEM) err_set(eb, rc, "whisper: out of memory");
    if (rc == BASE_ECANCELED) err_set(eb, rc, "whisper: canceled");
    out->language = mem_strdup(whisper_lang_code(lang) ? whisper_lang_code(lang) : "en");
    const char *t = x.text.data ? x.text.data : "";
    while (*t == ' ') t++;
    out->text = mem_strdup(t);
    if (!rc && (!out->language || !out->text))
        rc = err_set(eb, BASE_ENOMEM, "whisper: out of memory");
    buf_free(&x.text);
    mem_free(joined);
    mem_free(pieces);
    mem_free(ptok);
    if (rc && rc != BASE_ECANCELED) stt_result_free(out);
    return rc;
}
