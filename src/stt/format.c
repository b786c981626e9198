/*
 * Transcription results as OpenAI's response formats: json, text, srt, vtt and verbose_json
 * (segments carry their token ids, words their times), so the API and the CLI print the same.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stt.h"

static const char *const names[] = {
    [STT_FMT_JSON] = "json",
    [STT_FMT_TEXT] = "text",
    [STT_FMT_SRT] = "srt",
    [STT_FMT_VTT] = "vtt",
    [STT_FMT_VERBOSE_JSON] = "verbose_json",
};

int stt_format_parse(const char *name, stt_format *out) {
    for (int f = STT_FMT_JSON; f <= STT_FMT_VERBOSE_JSON; f++)
        if (name && !strcmp(name, names[f])) {
            *out = (stt_format)f;
            return 0;
        }
    return BASE_EINVAL;
}

const char *stt_format_mime(stt_format f) {
    switch (f) {
    case STT_FMT_TEXT: return "text/plain; charset=utf-8";
    case STT_FMT_SRT: return "application/x-subrip; charset=utf-8";
    case STT_FMT_VTT: return "text/vtt; charset=utf-8";
    default: return "application/json";
    }
}

static const char *const languages[][2] = {
    {"en", "english"},   {"de", "german"},     {"fr", "french"},     {"es", "spanish"},
    {"it", "italian"},   {"pt", "portuguese"}, {"nl", "dutch"},      {"ru", "russian"},
    {"zh", "chinese"},   {"ja", "japanese"},   {"ko", "korean"},     {"ar", "arabic"},
    {"hi", "hindi"},     {"pl", "polish"},     {"tr", "turkish"},    {"sv", "swedish"},
    {"uk", "ukrainian"}, {"cs", "czech"},      {"el", "greek"},      {"fi", "finnish"},
    {"da", "danish"},    {"no", "norwegian"},  {"he", "hebrew"},     {"hu", "hungarian"},
    {"ro", "romanian"},  {"id", "indonesian"}, {"vi", "vietnamese"}, {"th", "thai"},
    {"ca", "catalan"},   {"fa", "persian"},
};

const char *stt_language_name(const char *code) {
    if (!code) return "";
    for (size_t i = 0; i < sizeof languages / sizeof *languages; i++)
        if (!strcmp(code, languages[i][0])) return languages[i][1];
    return code;
}

/* A JSON string of s; bytes that are not valid UTF-8 (a decoder can cut a character between
 * two tokens) become U+FFFD instead of making jansson refuse the whole string. */
static json_t *jstr(const char *s) {
    if (!s) s = "";
    json_t *v = json_string(s);
    if (v) return v;
    buf b = {0};
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        int ok = n > 0;
        for (int i = 1; ok && i < n; i++) ok = (p[i] & 0xc0) == 0x80;
        /* Whole sequences that jansson still refuses (overlong, surrogates) go too. */
        if (ok && n > 1) {
            char one[5] = {0};
            memcpy(one, p, (size_t)n);
            json_t *t = json_string(one);
            ok = t != NULL;
            json_decref(t);
        }
        if (ok) buf_append(&b, p, (size_t)n), p += n;
        else buf_append_str(&b, "\xef\xbf\xbd"), p++;
    }
    v = json_string(b.data ? b.data : "");
    buf_free(&b);
    return v;
}

/* hh:mm:ss,mmm (srt) or hh:mm:ss.mmm (vtt). */
static void stamp(buf *out, double t, char sep) {
    long ms = t > 0 ? (long)(t * 1000 + 0.5) : 0;
    buf_printf(out, "%02ld:%02ld:%02ld%c%03ld", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, sep,
               ms % 1000);
}

/* Segment text without the leading space Whisper puts before each segment. */
static const char *trimmed(const char *s) {
    while (s && *s == ' ') s++;
    return s ? s : "";
}

static json_t *verbose(const stt_result *r, const stt_format_opts *o) {
    json_t *v = json_object();
    json_object_set_new(v, "task", json_string(o->translate ? "translate" : "transcribe"));
    json_object_set_new(v, "language", json_string(stt_language_name(r->language)));
    json_object_set_new(v, "duration", json_real(r->duration));
    json_object_set_new(v, "text", jstr(r->text));
    if (o->segments) {
        json_t *segs = json_array();
        for (int i = 0; i < r->n_segs; i++) {
            const stt_segment *s = &r->segs[i];
            json_t *j = json_object(), *toks = json_array();
            for (int t = 0; t < s->n_tokens; t++)
                json_array_append_new(toks, json_integer(s->tokens[t]));
            json_object_set_new(j, "id", json_integer(s->id));
            json_object_set_new(j, "seek", json_integer((json_int_t)(s->start * 100)));
            json_object_set_new(j, "start", json_real(s->start));
            json_object_set_new(j, "end", json_real(s->end));
            json_object_set_new(j, "text", jstr(s->text));
            json_object_set_new(j, "tokens", toks);
            json_object_set_new(j, "temperature", json_real(s->temperature));
            json_object_set_new(j, "avg_logprob", json_real(s->avg_logprob));
            json_object_set_new(j, "compression_ratio", json_real(s->compression_ratio));
            json_object_set_new(j, "no_speech_prob", json_real(s->no_speech_prob));
            json_array_append_new(segs, j);
        }
        json_object_set_new(v, "segments", segs);
    }
    if (o->words) {
        json_t *words = json_array();
        for (int i = 0; i < r->n_segs; i++)
            for (int w = 0; w < r->segs[i].n_words; w++) {
                const stt_word *sw = &r->segs[i].words[w];
                json_t *j = json_object();
                json_object_set_new(j, "word", jstr(trimmed(sw->text)));
                json_object_set_new(j, "start", json_real(sw->start));
                json_object_set_new(j, "end", json_real(sw->end));
                json_array_append_new(words, j);
            }
        json_object_set_new(v, "words", words);
    }
    return v;
}

int stt_format_result(const stt_result *r, stt_format f, const stt_format_opts *o, buf *out) {
    stt_format_opts none = {0};
    if (!o) o = &none;
    const char *text = trimmed(r->text);
    json_t *j = NULL;
    switch (f) {
    case STT_FMT_TEXT: buf_printf(out, "%s\n", text); break;
    case STT_FMT_SRT:
    case STT_FMT_VTT:
        if (f == STT_FMT_VTT) buf_append_str(out, "WEBVTT\n\n");
        for (int i = 0; i < r->n_segs; i++) {
            const stt_segment *s = &r->segs[i];
            char sep = f == STT_FMT_SRT ? ',' : '.';
            if (f == STT_FMT_SRT) buf_printf(out, "%d\n", i + 1);
            stamp(out, s->start, sep);
            buf_append_str(out, " --> ");
            stamp(out, s->end, sep);
            buf_printf(out, "\n%s\n\n", trimmed(s->text));
        }
        break;
    case STT_FMT_VERBOSE_JSON: j = verbose(r, o); break;
    default:
        j = json_object();
        json_object_set_new(j, "text", jstr(text));
        break;
    }
    if (j) {
        /* Times to the millisecond, printed as such (0.29, not 0.28999999999999998). */
        char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10));
        json_decref(j);
        if (!s) return BASE_ENOMEM;
        buf_append_str(out, s);
        free(s);
    }
    return out->oom ? BASE_ENOMEM : 0;
}
