/*
 * stt: speech to text. One result shape for every backend (our Whisper, pocketsphinx), so the
 * API and CLI format json / text / srt / vtt / verbose_json the same way whichever decoded it.
 *
 * Audio in is always 16 kHz mono float PCM in [-1, 1] (src/audio decodes and resamples uploads).
 * A backend fills an stt_result; segments may also be handed to a callback as soon as they are
 * final (streaming). Everything in an stt_result is owned by it: stt_result_free releases it.
 */
#ifndef LOCALAI_STT_H
#define LOCALAI_STT_H

#include <stddef.h>

#include "base/base.h"

#define STT_SAMPLE_RATE 16000

typedef struct stt_opts {
    const char *language;     /* ISO 639-1 ("en"), NULL or "auto": detect */
    int translate;            /* 1: task translate (to English) instead of transcribe */
    const char *prompt;       /* initial prompt text, NULL for none */
    float temperature;        /* first temperature; 0 = greedy */
    int no_fallback;          /* 1: never raise the temperature on a failed window */
    int no_timestamps;        /* 1: decode without timestamp tokens (one segment per window) */
    int word_timestamps;      /* 1: fill stt_segment.words */
    int beam_size;            /* 0 or 1: greedy; >1: beam search at temperature 0 */
    int best_of;              /* candidates sampled at temperature > 0 (0: backend default) */
    int use_vad;              /* 1: skip silence with the VAD model when the backend has one */
    int threads;              /* 0: backend default */
} stt_opts;

typedef struct stt_word {
    double start, end;        /* seconds from the start of the audio */
    char *text;
    float prob;
} stt_word;

typedef struct stt_segment {
    int id;
    double start, end;        /* seconds */
    char *text;
    int *tokens;              /* decoder token ids of this segment (OpenAI's verbose_json) */
    int n_tokens;
    float temperature;        /* temperature the segment was decoded at */
    float avg_logprob;
    float compression_ratio;
    float no_speech_prob;
    stt_word *words;          /* NULL unless word_timestamps */
    int n_words;
} stt_segment;

typedef struct stt_result {
    char *text;               /* all segments joined */
    char *language;           /* detected or requested language code */
    double duration;          /* seconds of audio */
    stt_segment *segs;
    int n_segs;
} stt_result;

/* Called with each final segment, in order; return nonzero to cancel the transcription. */
typedef int (*stt_segment_fn)(const stt_segment *seg, void *ud);

void stt_opts_init(stt_opts *o);
void stt_result_free(stt_result *r);

/* ---- output formats (format.c): OpenAI's response_format values, shared by the API and the
 * `transcript` command ---- */

typedef enum stt_format {
    STT_FMT_JSON = 1,     /* {"text": ...} */
    STT_FMT_TEXT,         /* the text and a newline */
    STT_FMT_SRT,          /* SubRip subtitles, one cue a segment */
    STT_FMT_VTT,          /* WebVTT */
    STT_FMT_VERBOSE_JSON, /* task, language, duration, text, segments (with tokens), words */
} stt_format;

/* "json", "text", "srt", "vtt", "verbose_json"; BASE_EINVAL otherwise. */
int stt_format_parse(const char *name, stt_format *out);
const char *stt_format_mime(stt_format f);

typedef struct stt_format_opts {
    int translate;     /* verbose_json's task: "translate" instead of "transcribe" */
    int segments;      /* verbose_json: include "segments" */
    int words;         /* verbose_json: include "words" (needs stt_opts.word_timestamps) */
} stt_format_opts;

/* Append r in format f to out. BASE_ENOMEM when out ran out of memory. */
int stt_format_result(const stt_result *r, stt_format f, const stt_format_opts *o, buf *out);
/* The English name of a language code as OpenAI's verbose_json reports it ("en" ->
 * "english"); the code itself when it is not in the table. */
const char *stt_language_name(const char *code);

/* Word error rate (wer.c), for tests and benchmarks: the word edit distance between ref and
 * hyp into *errors and ref's word count into *words, after lower-casing, dropping punctuation
 * and spelling out "mr"/"mrs" (at most 512 words each). stt_wer: errors / words (1 when ref
 * has no words). */
void stt_wer_count(const char *ref, const char *hyp, int *errors, int *words);
double stt_wer(const char *ref, const char *hyp);

#endif
