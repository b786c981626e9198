/*
 * espeak-ng in synchronous mode: espeak_Synth calls our callback with PCM as it goes, which
 * we gather per sentence and hand to the caller once the sentence is done and espeak's mutex
 * released. Voices are named by language code ("en-us", "de") with optional espeak variants
 * ("en-us+f3"); OpenAI's voice names map onto English variants so their clients just work.
 */
#include "tts.h"

#include <espeak-ng/speak_lib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int rate;        /* 0 until espeak is initialized */
static buf *collecting; /* where the callback appends (under mu) */
static bool collect_oom;

static const struct {
    const char *openai, *espeak;
} openai_voices[] = {
    /* The variants pocketsphinx understands best (bench/RESULTS.md) get the common names. */
    {"alloy", "en-us+f2"},    {"echo", "en-us+edward2"}, {"fable", "en-gb-x-rp"},
    {"onyx", "en-us+m1"},     {"nova", "en-us+f3"},      {"shimmer", "en-us+f4"},
    {"ash", "en-us+edward"},  {"ballad", "en-gb+m3"},    {"coral", "en-us+f1"},
    {"sage", "en-us+klatt3"}, {"verse", "en-us+m3"},
};

tts_params tts_default_params(void) { return (tts_params){.voice = NULL, .speed = 1.0f}; }

static int on_synth(short *wav, int n, espeak_EVENT *ev) {
    (void)ev;
    if (wav && n > 0 && collecting && buf_append(collecting, wav, (size_t)n * sizeof *wav))
        collect_oom = true;
    return 0;
}

static int init_locked(err_buf *eb) {
    if (rate > 0) return 0;
    int r = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, NULL, espeakINITIALIZE_DONT_EXIT);
    if (r <= 0)
        return err_set(eb, BASE_ENOTFOUND, "espeak-ng cannot start (is espeak-ng-data installed?)");
    espeak_SetSynthCallback(on_synth);
    rate = r;
    return 0;
}

int tts_init(err_buf *eb) {
    pthread_mutex_lock(&mu);
    int rc = init_locked(eb);
    pthread_mutex_unlock(&mu);
    return rc;
}

int tts_sample_rate(void) { return rate; }

static const char *map_voice(const char *v) {
    if (!v || !*v) return TTS_DEFAULT_VOICE;
    for (size_t i = 0; i < sizeof openai_voices / sizeof *openai_voices; i++)
        if (!strcasecmp(v, openai_voices[i].openai)) return openai_voices[i].espeak;
    return v;
}

static int set_voice_locked(const char *voice, err_buf *eb) {
    const char *v = map_voice(voice);
    if (strlen(v) > 64) return err_set(eb, BASE_ENOTFOUND, "unknown voice '%.64s...'", v);
    if (espeak_SetVoiceByName(v) != EE_OK)
        return err_set(eb, BASE_ENOTFOUND, "unknown voice '%s' (GET /v1/voices lists them)", v);
    return 0;
}

bool tts_voice_exists(const char *voice) {
    err_buf eb = {0};
    pthread_mutex_lock(&mu);
    bool ok = !init_locked(&eb) && !set_voice_locked(voice, &eb);
    pthread_mutex_unlock(&mu);
    return ok;
}

/* Length of the UTF-8 sequence that starts with byte c (1 for bytes that start none). */
static size_t u8len(unsigned char c) { return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1; }

size_t tts_sentence_end(const char *t, size_t len) {
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)t[i];
        if (c == '\n' && i + 1 < len && t[i + 1] == '\n') return i + 2;
        bool stop = c == '.' || c == '!' || c == '?';
        size_t k = u8len(c);
        if (k > len - i) k = len - i;
        /* 。！？ end a sentence with no space after them. */
        if (k == 3 && (!memcmp(t + i, "\xe3\x80\x82", 3) || !memcmp(t + i, "\xef\xbc\x81", 3) ||
                       !memcmp(t + i, "\xef\xbc\x9f", 3)))
            return i + 3;
        i += k;
        if (!stop) continue;
        while (i < len && (t[i] == '.' || t[i] == '!' || t[i] == '?' || t[i] == '"' ||
                           t[i] == '\'' || t[i] == ')'))
            i++;
        /* "3.5" or "e.g.x" is not an end: a sentence ends before whitespace or the text's end. */
        if (i == len || t[i] == ' ' || t[i] == '\n' || t[i] == '\t' || t[i] == '\r') return i;
    }
    return len;
}

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\n' && s[i] != '\t' && s[i] != '\r') return false;
    return true;
}

/* Synthesize one sentence into out (under mu). */
static int speak_locked(const tts_params *p, const char *s, size_t n, buf *out, err_buf *eb) {
    char *z = mem_strndup(s, n);
    if (!z) return err_set(eb, BASE_ENOMEM, "out of memory");
    int rc = set_voice_locked(p->voice, eb);
    if (!rc) {
        float sp = p->speed > 0 ? p->speed : 1.0f;
        int wpm = (int)(espeakRATE_NORMAL * sp + 0.5f);
        wpm = wpm < espeakRATE_MINIMUM   ? espeakRATE_MINIMUM
              : wpm > espeakRATE_MAXIMUM ? espeakRATE_MAXIMUM
                                         : wpm;
        espeak_SetParameter(espeakRATE, wpm, 0);
        collecting = out;
        collect_oom = false;
        espeak_ERROR er = espeak_Synth(z, n + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, NULL);
        collecting = NULL;
        if (er != EE_OK)
            rc = err_set(eb, BASE_EIO, "espeak-ng failed to synthesize the text");
        else if (collect_oom)
            rc = err_set(eb, BASE_ENOMEM, "out of memory");
    }
    mem_free(z);
    return rc;
}

int tts_synthesize(const tts_params *p, const char *text, tts_pcm_fn fn, void *ud, err_buf *eb) {
    size_t len = text ? strlen(text) : 0;
    if (!len || blank(text, len)) return err_set(eb, BASE_EINVAL, "the text to speak is empty");
    if (len > TTS_MAX_INPUT)
        return err_set(eb, BASE_EINVAL, "the text is %zu bytes; at most %d are allowed", len,
                       TTS_MAX_INPUT);
    if (p->speed != 0 && (p->speed < 0.25f || p->speed > 4.0f))
        return err_set(eb, BASE_EINVAL, "speed %g is outside 0.25 .. 4.0", (double)p->speed);
    int rc = tts_init(eb);
    if (rc) return rc;
    /* Check the voice before the first sentence so an unknown one fails cleanly. */
    pthread_mutex_lock(&mu);
    rc = set_voice_locked(p->voice, eb);
    pthread_mutex_unlock(&mu);
    buf pcm = {0};
    for (size_t off = 0; !rc && off < len;) {
        size_t end = off + tts_sentence_end(text + off, len - off);
        if (!blank(text + off, end - off)) {
            pcm.len = 0;
            pthread_mutex_lock(&mu);
            rc = speak_locked(p, text + off, end - off, &pcm, eb);
            pthread_mutex_unlock(&mu);
            if (!rc && pcm.len && fn((const int16_t *)pcm.data, pcm.len / 2, ud))
                rc = err_set(eb, BASE_ECANCELED, "speech canceled");
        }
        off = end;
    }
    buf_free(&pcm);
    return rc;
}

static int cmp_voice(const void *a, const void *b) {
    return strcmp(((const tts_voice *)a)->id, ((const tts_voice *)b)->id);
}

void tts_voices_free(tts_voice *v, int n) {
    for (int i = 0; v && i < n; i++) {
        mem_free(v[i].id);
        mem_free(v[i].name);
        mem_free(v[i].language);
        mem_free(v[i].gender);
    }
    mem_free(v);
}

int tts_voices(tts_voice **out, int *n_out, err_buf *eb) {
    *out = NULL;
    *n_out = 0;
    int rc = tts_init(eb);
    if (rc) return rc;
    pthread_mutex_lock(&mu);
    const espeak_VOICE **list = espeak_ListVoices(NULL);
    int n = 0;
    while (list && list[n]) n++;
    tts_voice *v = mem_calloc(n ? (size_t)n : 1, sizeof *v);
    int k = 0;
    for (int i = 0; v && i < n; i++) {
        const espeak_VOICE *ev = list[i];
        /* languages: a priority byte, then a NUL-terminated code, repeated. */
        const char *lang = ev->languages && ev->languages[0] ? ev->languages + 1 : "";
        if (!*lang) continue;
        bool dup = false;
        for (int j = 0; j < k; j++) dup |= !strcmp(v[j].id, lang);
        tts_voice *t = &v[k++];
        t->id = mem_strdup(dup && ev->identifier ? ev->identifier : lang);
        t->name = mem_strdup(ev->name ? ev->name : lang);
        t->language = mem_strdup(lang);
        t->gender = mem_strdup(ev->gender == 1 ? "male" : ev->gender == 2 ? "female" : "");
        if (!t->id || !t->name || !t->language || !t->gender) {
            rc = err_set(eb, BASE_ENOMEM, "out of memory");
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    if (!v) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    if (rc) {
        tts_voices_free(v, k);
        return rc;
    }
    qsort(v, (size_t)k, sizeof *v, cmp_voice);
    *out = v;
    *n_out = k;
    return 0;
}
