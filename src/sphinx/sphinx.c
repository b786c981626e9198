/*
 * pocketsphinx (Debian's 0.8+5prealpha) behind the stt API. Audio is fed in small chunks;
 * whenever the decoder's voice activity detector sees speech end, the utterance is closed,
 * its words (ps_seg_iter) become one segment, and a new utterance starts, as
 * pocketsphinx_continuous does for a file. Word times are the utterance's start plus the
 * word's frames (100 frames a second).
 */
#include "sphinx.h"

#include <ctype.h>
#include <pocketsphinx.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* From sphinxbase/err.h, which cannot be included: its err_msg clashes with base.h's. */
void err_set_logfp(FILE *stream);

#define MIN_CHUNK 20 /* seconds: long audio is decoded in chunks of 20 to 30 s */
#define MAX_CHUNK 30
#define PAUSE_FRAMES 40  /* a pause of 0.4 s or more ends a segment */
#define FRAME_RATE 100.0 /* pocketsphinx's default -frate */
#ifndef CMN
#define CMN "batch"
#endif

struct sphinx_model {
    pthread_mutex_t mu; /* the decoder is not thread-safe */
    ps_decoder_t *ps;
};

static const char *model_dir(const char *dir) {
    if (dir) return dir;
    const char *env = getenv("LOCALAI_SPHINX_MODEL");
    return env && *env ? env : SPHINX_DEFAULT_DIR;
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

bool sphinx_available(void) {
    buf p = {0};
    buf_printf(&p, "%s/en-us", model_dir(NULL));
    bool ok = !p.oom && is_dir(p.data);
    buf_free(&p);
    return ok;
}

int sphinx_model_load(sphinx_model **out, const char *dir, err_buf *eb) {
    *out = NULL;
    dir = model_dir(dir);
    buf hmm = {0}, lm = {0}, dict = {0};
    buf_printf(&hmm, "%s/en-us", dir);
    buf_printf(&lm, "%s/en-us.lm.bin", dir);
    buf_printf(&dict, "%s/cmudict-en-us.dict", dir);
    int rc = 0;
    if (hmm.oom || lm.oom || dict.oom)
        rc = err_set(eb, BASE_ENOMEM, "out of memory");
    else if (!is_dir(hmm.data))
        rc = err_set(eb, BASE_ENOTFOUND,
                     "no pocketsphinx model in %s (install Debian's pocketsphinx-en-us)", dir);
    sphinx_model *m = NULL;
    if (!rc && !(m = mem_calloc(1, sizeof *m))) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    if (!rc) {
        /* pocketsphinx logs every setting to stderr by default: keep the server's log ours. */
        err_set_logfp(NULL);
        cmd_ln_t *cfg =
            cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm.data, "-lm", lm.data, "-dict", dict.data,
                        "-logfn", "/dev/null", "-cmn", CMN, "-remove_silence", "no", NULL);
        m->ps = cfg ? ps_init(cfg) : NULL;
        cmd_ln_free_r(cfg); /* ps_init keeps its own reference */
        if (!m->ps) rc = err_set(eb, BASE_EFORMAT, "pocketsphinx cannot load the model in %s", dir);
    }
    buf_free(&hmm);
    buf_free(&lm);
    buf_free(&dict);
    if (rc) {
        mem_free(m);
        return rc;
    }
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return 0;
}

void sphinx_model_free(sphinx_model *m) {
    if (!m) return;
    ps_free(m->ps);
    pthread_mutex_destroy(&m->mu);
    mem_free(m);
}

/* Fillers and sentence marks are not words of the transcript. */
static bool is_filler(const char *w) {
    return !*w || w[0] == '<' || w[0] == '[' || (w[0] == '+' && w[1] == '+');
}

/* "read(2)" is the dictionary's second pronunciation of "read". */
static size_t base_len(const char *w) {
    size_t n = strlen(w);
    if (n > 3 && w[n - 1] == ')') {
        size_t i = n - 2;
        while (i > 0 && isdigit((unsigned char)w[i])) i--;
        if (w[i] == '(' && i < n - 2) return i;
    }
    return n;
}

typedef struct acc {
    stt_result *r;
    int cap;
    buf text; /* all segments joined */
} acc;

/* A segment being gathered from an utterance's words. */
typedef struct pending {
    buf text;
    stt_word *words;
    int n_words, cap_words;
    double start, end;
} pending;

static void pending_clear(pending *p) {
    for (int i = 0; i < p->n_words; i++) mem_free(p->words[i].text);
    mem_free(p->words);
    buf_free(&p->text);
    memset(p, 0, sizeof *p);
}

/* Make p a segment of the result (p is left empty) and hand it to fn. */
static int flush_seg(acc *a, pending *p, stt_segment_fn fn, void *ud, err_buf *eb) {
    if (!p->text.len) return 0;
    if (p->text.oom) return err_set(eb, BASE_ENOMEM, "out of memory");
    stt_result *r = a->r;
    if (r->n_segs == a->cap) {
        int cap = a->cap ? a->cap * 2 : 8;
        stt_segment *ns = mem_realloc(r->segs, (size_t)cap * sizeof *ns);
        if (!ns) return err_set(eb, BASE_ENOMEM, "out of memory");
        r->segs = ns;
        a->cap = cap;
    }
    stt_segment *seg = &r->segs[r->n_segs];
    memset(seg, 0, sizeof *seg);
    seg->id = r->n_segs++;
    seg->start = p->start;
    seg->end = p->end;
    seg->text = p->text.data; /* taken over, with the words */
    seg->words = p->words;
    seg->n_words = p->n_words;
    seg->compression_ratio = 1;
    memset(p, 0, sizeof *p);
    buf_printf(&a->text, "%s%s", a->text.len ? " " : "", seg->text);
    if (fn && fn(seg, ud)) return err_set(eb, BASE_ECANCELED, "transcription canceled");
    return 0;
}

/* One entry of the utterance's best path: a word joins p, a long pause flushes it. */
static int add_word(logmath_t *lmath, ps_seg_t *s, double t0, const stt_opts *o, acc *a, pending *p,
                    stt_segment_fn fn, void *ud, err_buf *eb) {
    const char *w = ps_seg_word(s);
    int sf, ef;
    ps_seg_frames(s, &sf, &ef);
    if (is_filler(w)) return ef - sf + 1 >= PAUSE_FRAMES ? flush_seg(a, p, fn, ud, eb) : 0;
    size_t wl = base_len(w);
    double ws = t0 + sf / FRAME_RATE, we = t0 + (ef + 1) / FRAME_RATE;
    if (!p->text.len) p->start = ws;
    p->end = we;
    buf_printf(&p->text, "%s%.*s", p->text.len ? " " : "", (int)wl, w);
    if (!o->word_timestamps) return 0;
    if (p->n_words == p->cap_words) {
        int cap = p->cap_words ? p->cap_words * 2 : 16;
        stt_word *nw = mem_realloc(p->words, (size_t)cap * sizeof *nw);
        if (!nw) return err_set(eb, BASE_ENOMEM, "out of memory");
        p->words = nw;
        p->cap_words = cap;
    }
    int32 ascr, lscr, lback;
    stt_word *sw = &p->words[p->n_words];
    sw->start = ws;
    sw->end = we;
    sw->prob = (float)logmath_exp(lmath, ps_seg_prob(s, &ascr, &lscr, &lback));
    if (!(sw->text = mem_strndup(w, wl))) return err_set(eb, BASE_ENOMEM, "out of memory");
    p->n_words++;
    return 0;
}

/* Close the current utterance (which began t0 seconds into the audio) and turn its words
 * into segments, split where the speaker pauses. */
static int take_utt(sphinx_model *m, acc *a, double t0, const stt_opts *o, stt_segment_fn fn,
                    void *ud, err_buf *eb) {
    ps_end_utt(m->ps);
    logmath_t *lmath = ps_get_logmath(m->ps);
    pending p = {0};
    int rc = 0;
    for (ps_seg_t *s = ps_seg_iter(m->ps); s; s = ps_seg_next(s)) {
        rc = add_word(lmath, s, t0, o, a, &p, fn, ud, eb);
        if (rc) {
            ps_seg_free(s); /* ps_seg_next frees the iterator only at its end */
            break;
        }
    }
    if (!rc) rc = flush_seg(a, &p, fn, ud, eb);
    pending_clear(&p);
    return rc;
}

static bool english(const char *lang) {
    if (!lang || !*lang || !strcmp(lang, "auto")) return true;
    return !strncasecmp(lang, "en", 2) &&
           (!lang[2] || lang[2] == '-' || lang[2] == '_' || !strcasecmp(lang, "english"));
}

/* Where to end the chunk that starts at off: all of it when short, else at the quietest
 * 100 ms between MIN_CHUNK and MAX_CHUNK seconds on, so words are rarely cut. */
static size_t chunk_end(const float *pcm, size_t n, size_t off) {
    const size_t lo = off + MIN_CHUNK * STT_SAMPLE_RATE, hi = off + MAX_CHUNK * STT_SAMPLE_RATE;
    const size_t win = STT_SAMPLE_RATE / 10;
    if (n <= hi) return n;
    size_t best = hi;
    double best_e = -1;
    for (size_t w = lo; w + win <= hi; w += win / 2) {
        double e = 0;
        for (size_t i = w; i < w + win; i++) e += (double)pcm[i] * pcm[i];
        if (best_e < 0 || e < best_e) best_e = e, best = w + win / 2;
    }
    return best;
}

int sphinx_transcribe(sphinx_model *m, const float *pcm, size_t n, const stt_opts *o,
                      stt_segment_fn fn, void *ud, stt_result *out, err_buf *eb) {
    memset(out, 0, sizeof *out);
    if (!english(o->language))
        return err_set(eb, BASE_EUNSUPPORTED,
                       "pocketsphinx only has an English model, not '%s' (install a Whisper "
                       "model for other languages)",
                       o->language);
    size_t cap = n < (size_t)MAX_CHUNK * STT_SAMPLE_RATE ? n : (size_t)MAX_CHUNK * STT_SAMPLE_RATE;
    int16 *chunk = mem_alloc((cap ? cap : 1) * sizeof *chunk);
    if (!chunk) return err_set(eb, BASE_ENOMEM, "out of memory");
    acc a = {.r = out};
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    /* Each chunk is one whole utterance: the decoder normalizes it with its own cepstral
     * mean (batch CMN), so a result never depends on what was transcribed before. */
    for (size_t off = 0; off < n && !rc;) {
        size_t end = chunk_end(pcm, n, off);
        for (size_t i = off; i < end; i++) {
            float v = pcm[i] * 32767.0f;
            chunk[i - off] = (int16)(v > 32767.0f ? 32767 : v < -32768.0f ? -32768 : v);
        }
        ps_start_utt(m->ps);
        ps_process_raw(m->ps, chunk, end - off, FALSE, TRUE);
        rc = take_utt(m, &a, (double)off / STT_SAMPLE_RATE, o, fn, ud, eb);
        off = end;
    }
    pthread_mutex_unlock(&m->mu);
    mem_free(chunk);
    if (!rc && a.text.oom) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    if (!rc) {
        out->text = a.text.data ? a.text.data : mem_strdup("");
        a.text.data = NULL;
        out->language = mem_strdup("en");
        out->duration = (double)n / STT_SAMPLE_RATE;
        if (!out->text || !out->language) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    }
    buf_free(&a.text);
    if (rc) stt_result_free(out);
    return rc;
}
