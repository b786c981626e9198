/*
 * sphinx: speech to text with CMU pocketsphinx and Debian's US-English model
 * (pocketsphinx-en-us). It is the offline default: it needs no download, so a fresh machine
 * can transcribe before any Whisper model is installed. English only; much less accurate
 * than Whisper. Same call shape as whisper/whisper.h, results in stt/stt.h's types.
 *
 *   sphinx_model *m;
 *   if (sphinx_model_load(&m, NULL, &eb)) ...;    // NULL: the Debian model directory
 *   stt_opts o; stt_opts_init(&o);
 *   stt_result r = {0};
 *   if (sphinx_transcribe(m, pcm16k, n, &o, on_segment, ud, &r, &eb)) ...;
 *   stt_result_free(&r);
 *   sphinx_model_free(m);
 *
 * One decoder per model: transcriptions of the same model run one at a time (a mutex), since
 * a pocketsphinx decoder is not thread-safe. Segments are the utterances pocketsphinx's voice
 * activity detector finds, with word times; tokens stay empty (no token ids to report).
 */
#ifndef SPHINX_H
#define SPHINX_H

#include "stt/stt.h"

/* Where Debian's pocketsphinx-en-us puts the model (hmm dir, en-us.lm.bin, the dictionary). */
#define SPHINX_DEFAULT_DIR "/usr/share/pocketsphinx/model/en-us"

typedef struct sphinx_model sphinx_model;

/* dir: a directory holding en-us/ (acoustic model), en-us.lm.bin and cmudict-en-us.dict;
 * NULL: $LOCALAI_SPHINX_MODEL or SPHINX_DEFAULT_DIR. BASE_ENOTFOUND when it is missing. */
int sphinx_model_load(sphinx_model **out, const char *dir, err_buf *eb);
void sphinx_model_free(sphinx_model *m); /* NULL is fine */
/* Whether the default model is installed (no loading). */
bool sphinx_available(void);

/* Transcribe n samples of 16 kHz mono float PCM. o->language must be NULL, "auto" or
 * English (BASE_EUNSUPPORTED otherwise); translate is accepted (English to English).
 * on_segment (may be NULL) gets each utterance as soon as it ends; returning nonzero
 * cancels (BASE_ECANCELED). out is filled on success; free it with stt_result_free. */
int sphinx_transcribe(sphinx_model *m, const float *pcm16k, size_t n_samples, const stt_opts *o,
                      stt_segment_fn on_segment, void *ud, stt_result *out, err_buf *eb);

#endif
