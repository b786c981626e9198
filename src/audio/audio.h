/*
 * audio: decoding uploads and encoding speech, through FFmpeg's libraries (libavformat,
 * libavcodec, libswresample). No hand-written codecs: whatever FFmpeg can read (wav, mp3,
 * flac, ogg/opus, webm as browsers record it, m4a ...) decodes, from memory.
 *
 *   float *pcm; size_t n;
 *   if (audio_decode(bytes, len, &pcm, &n, &eb)) ...;   // 16 kHz mono float in [-1, 1]
 *   mem_free(pcm);
 *
 *   audio_enc_params p = audio_enc_default_params(AUDIO_FMT_MP3, 22050);
 *   audio_enc *e;
 *   if (audio_enc_new(&p, write_cb, ud, &e, &eb)) ...;  // write_cb gets encoded bytes
 *   audio_enc_write(e, samples, n, &eb);                 // as many times as needed
 *   audio_enc_finish(e, &eb);                            // flushes the codec and container
 *   audio_enc_free(e);
 *
 * A streaming encoder (p.streaming) writes to a pipe it cannot seek: headers that normally
 * get their sizes at the end (wav) carry "unknown length" instead, and every audio_enc_write
 * hands out what it has encoded so far. A non-streaming one may seek back and patch them.
 */
#ifndef AUDIO_H
#define AUDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define AUDIO_STT_RATE 16000
/* Decoded audio longer than this is refused (memory: 4 bytes a sample at 16 kHz). */
#define AUDIO_MAX_SECONDS (2 * 3600)

/* Decode a whole file held in memory to 16 kHz mono float PCM. *pcm is mem_alloc'd (free
 * with mem_free), *n its sample count. BASE_EFORMAT with a message naming the problem for
 * data that is not audio, has no audio stream, or cannot be decoded; BASE_ERANGE when it is
 * longer than AUDIO_MAX_SECONDS. */
int audio_decode(const void *data, size_t len, float **pcm, size_t *n, err_buf *eb);

typedef enum audio_format {
    AUDIO_FMT_WAV = 1, /* RIFF, 16-bit PCM */
    AUDIO_FMT_MP3,     /* libmp3lame */
    AUDIO_FMT_OPUS,    /* libopus in an Ogg container */
    AUDIO_FMT_FLAC,
    AUDIO_FMT_PCM, /* raw 16-bit little-endian samples, no header */
} audio_format;

/* "wav", "mp3", "opus", "flac", "pcm" (case-sensitive). BASE_EINVAL otherwise. */
int audio_format_parse(const char *name, audio_format *out);
const char *audio_format_name(audio_format f);
const char *audio_format_mime(audio_format f);

typedef struct audio_enc_params {
    audio_format format;
    int in_rate;    /* sample rate of the PCM given to audio_enc_write */
    int out_rate;   /* 0: in_rate, or the nearest rate the codec supports (opus: 48000) */
    int bitrate;    /* bits per second for lossy codecs; 0: the codec's default */
    bool streaming; /* the output cannot seek (a socket) */
} audio_enc_params;

audio_enc_params audio_enc_default_params(audio_format f, int in_rate);

/* Receives encoded bytes in order; nonzero stops the encoder (BASE_ECANCELED). */
typedef int (*audio_write_fn)(const void *data, size_t len, void *ud);

typedef struct audio_enc audio_enc;

int audio_enc_new(const audio_enc_params *p, audio_write_fn fn, void *ud, audio_enc **out,
                  err_buf *eb);
/* Encode n mono 16-bit samples at p.in_rate. */
int audio_enc_write(audio_enc *e, const int16_t *pcm, size_t n, err_buf *eb);
/* Flush the codec and write the container's trailer. */
int audio_enc_finish(audio_enc *e, err_buf *eb);
void audio_enc_free(audio_enc *e); /* NULL is fine */

/* One call: encode all of pcm into out (appended; a seekable, complete file). */
int audio_encode(const audio_enc_params *p, const int16_t *pcm, size_t n, buf *out, err_buf *eb);

#endif
