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

#define CHUNK 2048       /* samples fed per call: 128 ms */
#define FRAME_RATE 100.0 /* pocketsphinx's default -frate */

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
    if (hmm.oom || lm.oom || dict.oom) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    else if (!is_dir(hmm.data))
        rc = err_set(eb, BASE_ENOTFOUND,
                     "no pocketsphinx model in %s (install Debian's pocketsphinx-en-us)", dir);
    sphinx_model *m = NULL;
    if (!rc && !(m = mem_calloc(1, sizeof *m))) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    if (!rc) {
        /* pocketsphinx logs every setting to stderr by default: keep the server's log ours. */
        err_set_logfp(NULL);
        cmd_ln_t *cfg = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm.data, "-lm", lm.data,
                                    "-dict", dict.data, "-logfn", "/dev/null", NULL);
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

/* Close the current utterance and turn its words into a segment (none when it was silence). */
static int take_utt(sphinx_model *m, acc *a, double t0, const stt_opts *o, stt_segment_fn fn,
                    void *ud, err_buf *eb) {
    ps_end_utt(m->ps);
    logmath_t *lmath = ps_get_logmath(m->ps);
    buf text = {0};
    stt_word *words = NULL;
    int n_words = 0, cap_words = 0, rc = 0;
    double start = -1, end = t0;
    for (ps_seg_t *s = ps_seg_iter(m->ps); s; s = ps_seg_next(s)) {
        const char *w = ps_seg_word(s);
        int sf, ef;
        ps_seg_frames(s, &sf, &ef);
        if (is_filler(w)) continue;
        size_t wl = base_len(w);
        double ws = t0 + sf / FRAME_RATE, we = t0 + (ef + 1) / FRAME_RATE;
        if (start < 0) start = ws;
        end = we;
        buf_printf(&text, "%s%.*s", text.len ? " " : "", (int)wl, w);
        if (o->word_timestamps) {
            if (n_words == cap_words) {
                cap_words = cap_words ? cap_words * 2 : 16;
                stt_word *nw = mem_realloc(words, (size_t)cap_words * sizeof *nw);
                if (!nw) {
                    rc = err_set(eb, BASE_ENOMEM, "out of memory");
                    ps_seg_free(s);
                    break;
                }
                words = nw;
            }
            int32 ascr, lscr, lback;
            stt_word *sw = &words[n_words++];
            sw->start = ws;
            sw->end = we;
            sw->prob = (float)logmath_exp(lmath, ps_seg_prob(s, &ascr, &lscr, &lback));
            if (!(sw->text = mem_strndup(w, wl))) rc = err_set(eb, BASE_ENOMEM, "out of memory");
        }
    }
    if (!rc && text.oom) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    if (rc || !text.len) {
        for (int i = 0; i < n_words; i++) mem_free(words[i].text);
        mem_free(words);
        buf_free(&text);
        return rc;
    }
    stt_result *r = a->r;
    if (r->n_segs == a->cap) {
        int cap = a->cap ? a->cap * 2 : 8;
        stt_segment *ns = mem_realloc(r->segs, (size_t)cap * sizeof *ns);
        if (!ns) {
            for (int i = 0; i < n_words; i++) mem_free(words[i].text);
            mem_free(words);
            buf_free(&text);
            return err_set(eb, BASE_ENOMEM, "out of memory");
        }
        r->segs = ns;
        a->cap = cap;
    }
    stt_segment *seg = &r->segs[r->n_segs];
    memset(seg, 0, sizeof *seg);
    seg->id = r->n_segs++;
    seg->start = start;
    seg->end = end;
    seg->text = text.data; /* taken over */
    seg->words = words;
    seg->n_words = n_words;
    seg->temperature = 0;
    seg->compression_ratio = 1;
    buf_printf(&a->text, "%s%s", a->text.len ? " " : "", seg->text);
    if (fn && fn(seg, ud)) return err_set(eb, BASE_ECANCELED, "transcription canceled");
    return 0;
}

static bool english(const char *lang) {
    if (!lang || !*lang || !strcmp(lang, "auto")) return true;
    return !strncasecmp(lang, "en", 2) && (!lang[2] || lang[2] == '-' || lang[2] == '_' ||
                                           !strcasecmp(lang, "english"));
}

int sphinx_transcribe(sphinx_model *m, const float *pcm, size_t n, const stt_opts *o,
                      stt_segment_fn fn, void *ud, stt_result *out, err_buf *eb) {
    memset(out, 0, sizeof *out);
    if (!english(o->language))
        return err_set(eb, BASE_EUNSUPPORTED,
                       "pocketsphinx only has an English model, not '%s' (install a Whisper "
                       "model for other languages)", o->language);
    int16 *chunk = mem_alloc(CHUNK * sizeof *chunk);
    if (!chunk) return err_set(eb, BASE_ENOMEM, "out of memory");
    acc a = {.r = out};
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    ps_start_utt(m->ps);
    bool in_utt = false;
    size_t utt_start = 0; /* first sample of the current utterance */
    for (size_t off = 0; off < n && !rc; off += CHUNK) {
        size_t k = n - off < CHUNK ? n - off : CHUNK;
        for (size_t i = 0; i < k; i++) {
            float v = pcm[off + i] * 32767.0f;
            chunk[i] = (int16)(v > 32767.0f ? 32767 : v < -32768.0f ? -32768 : v);
        }
        ps_process_raw(m->ps, chunk, k, FALSE, FALSE);
        bool speech = ps_get_in_speech(m->ps);
        if (speech && !in_utt) in_utt = true;
        if (!speech && in_utt) {
            rc = take_utt(m, &a, (double)utt_start / STT_SAMPLE_RATE, o, fn, ud, eb);
            ps_start_utt(m->ps);
            in_utt = false;
            utt_start = off + k;
        }
    }
    if (!rc) rc = take_utt(m, &a, (double)utt_start / STT_SAMPLE_RATE, o, fn, ud, eb);
    else ps_end_utt(m->ps);
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
