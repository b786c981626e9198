/*
 * tts: text to speech with espeak-ng, the built-in voices (every language espeak-ng-data
 * has). Speech comes out as mono 16-bit PCM at tts_sample_rate() Hz, one sentence at a time,
 * so a caller can encode and send the first sentence while the rest is still being spoken.
 *
 *   tts_params p = tts_default_params();
 *   p.voice = "en-us"; p.speed = 1.0f;
 *   if (tts_synthesize(&p, "Hello there. How are you?", on_pcm, ud, &eb)) ...;
 *
 * espeak-ng keeps global state and is not thread-safe: every call into it is serialized by
 * one process-wide mutex, held only while a sentence is synthesized (not while on_pcm runs).
 */
#ifndef TTS_H
#define TTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define TTS_DEFAULT_VOICE "en-us"
#define TTS_MAX_INPUT 65536 /* bytes of text per request */

typedef struct tts_params {
    const char *voice; /* an espeak-ng voice or language ("en-us", "de", "fr+f2"), an OpenAI
                          voice name (alloy, nova ...), or NULL for TTS_DEFAULT_VOICE */
    float speed;       /* 0.25 .. 4.0, 1 = espeak's normal 175 words a minute */
} tts_params;

tts_params tts_default_params(void);

/* Start espeak-ng (once per process; later calls are cheap). BASE_ENOTFOUND when its data
 * is missing. */
int tts_init(err_buf *eb);
/* The sample rate of the PCM tts_synthesize produces (tts_init first; 22050 for espeak-ng). */
int tts_sample_rate(void);

/* Whether voice names a voice (after mapping OpenAI names), without synthesizing. */
bool tts_voice_exists(const char *voice);

/* Receives one sentence's samples; nonzero stops the synthesis (BASE_ECANCELED). */
typedef int (*tts_pcm_fn)(const int16_t *pcm, size_t n, void *ud);

/* Speak text (UTF-8) sentence by sentence. BASE_EINVAL for an empty or too long text,
 * BASE_ENOTFOUND for an unknown voice, with a message. */
int tts_synthesize(const tts_params *p, const char *text, tts_pcm_fn fn, void *ud, err_buf *eb);

/* The end of the first sentence of text[0..len): after its closing punctuation (. ! ? and
 * their CJK forms) and any closing quotes, or at a blank line, or len. Exposed for tests. */
size_t tts_sentence_end(const char *text, size_t len);

typedef struct tts_voice {
    char *id;       /* what to pass as tts_params.voice */
    char *name;     /* espeak-ng's name, e.g. "English_(America)" */
    char *language; /* BCP 47-ish code, e.g. "en-us" */
    char *gender;   /* "male", "female" or "" */
} tts_voice;

/* Every voice espeak-ng has, sorted by id. *out is mem_alloc'd; free with tts_voices_free. */
int tts_voices(tts_voice **out, int *n, err_buf *eb);
void tts_voices_free(tts_voice *v, int n);

#endif
