/*
 * speech: the speech-to-text dispatch. A model's backend (whisper for a whisper.cpp ggml
 * file, sphinx for the built-in pocketsphinx model) picks the engine; callers see one handle
 * and stt/stt.h's result types whichever engine runs.
 *
 *   speech_model *m;
 *   if (speech_model_open(SPEECH_WHISPER, "models/ggml-base.en.bin", &m, &eb)) ...;
 *   if (speech_transcribe(m, pcm16k, n, &opts, on_segment, ud, &res, &eb)) ...;
 *   speech_model_free(m);
 */
#ifndef SPEECH_H
#define SPEECH_H

#include "stt/stt.h"

typedef enum speech_backend {
    SPEECH_SPHINX = 1, /* pocketsphinx with Debian's en-us model; path ignored */
    SPEECH_WHISPER,    /* a whisper.cpp ggml model file */
} speech_backend;

/* "sphinx" / "pocketsphinx" and "whisper" (LocalAI's backend names). BASE_EINVAL otherwise. */
int speech_backend_parse(const char *name, speech_backend *out);
const char *speech_backend_name(speech_backend b);
/* Whether this build has the Whisper engine (always, since src/whisper was merged; kept so
 * callers need not change if an engine becomes optional). */
bool speech_whisper_built(void);
/* Whether path is a whisper.cpp ggml model (cheap: reads the header). */
bool speech_file_is_whisper(const char *path);

typedef struct speech_model speech_model;

int speech_model_open(speech_backend b, const char *path, speech_model **out, err_buf *eb);
void speech_model_free(speech_model *m); /* NULL is fine */
speech_backend speech_model_backend(const speech_model *m);

/* Transcribe 16 kHz mono float PCM (see sphinx_transcribe / whisper_transcribe: the same
 * contract). Safe to call from several threads; each engine serializes what it must. */
int speech_transcribe(speech_model *m, const float *pcm16k, size_t n, const stt_opts *o,
                      stt_segment_fn on_segment, void *ud, stt_result *out, err_buf *eb);

#endif
