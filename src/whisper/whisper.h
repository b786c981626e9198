/*
 * whisper: speech to text with OpenAI's Whisper, reading whisper.cpp's ggml model files (the
 * `ggml-*.bin` files users download for whisper.cpp and LocalAI; F32, F16 and the quantized
 * types of the tensor core), and Silero voice activity detection from whisper.cpp's ggml
 * Silero file. Results come in the shared stt.h shapes.
 *
 *   whisper_model *m; whisper_vad *v; err_buf eb = {0};
 *   if (whisper_model_load(&m, "ggml-base.bin", &eb)) fail(err_msg(&eb));
 *   if (whisper_vad_load(&v, "ggml-silero-v6.2.0.bin", &eb) == 0)
 *       whisper_model_set_vad(m, v);              // the model borrows v: free v after m
 *   stt_opts o; stt_opts_init(&o); o.language = "en";
 *   stt_result r;
 *   if (whisper_transcribe(m, pcm16k, n, &o, on_segment, ud, &r, &eb)) fail(err_msg(&eb));
 *   ... r.text, r.segs[i] ...
 *   stt_result_free(&r);
 *   whisper_model_free(m); whisper_vad_free(v);
 *
 * A loaded model is read-only: any number of whisper_transcribe calls may run on it at once
 * (each call makes its own state: KV caches, scratch and thread pool).
 *
 * The lower layers are public for tests and tools: the log-mel front end, a state that
 * encodes one 30 s window and decodes tokens (with per-sequence KV caches), and language
 * detection.
 */
#ifndef LOCALAI_WHISPER_H
#define LOCALAI_WHISPER_H

#include <stddef.h>

#include "base/base.h"
#include "stt/stt.h"

#define WHISPER_N_FFT 400
#define WHISPER_HOP 160
#define WHISPER_WINDOW_FRAMES 3000 /* mel frames in one 30 s window */

typedef struct whisper_model whisper_model;
typedef struct whisper_vad whisper_vad;
typedef struct whisper_state whisper_state;

/* ---- model ---- */

/* True when path starts like a whisper.cpp ggml model (magic "lmgg" and sane hyper-parameters).
 * Reads only the first bytes; never fails loudly. */
bool whisper_file_is_ggml(const char *path);

/* Load a whisper.cpp ggml .bin. Every length and shape is checked against the file (model
 * files are hostile). *out is freed with whisper_model_free. */
int whisper_model_load(whisper_model **out, const char *path, err_buf *eb);
void whisper_model_free(whisper_model *m); /* NULL is fine */

/* Attach a VAD model used when stt_opts.use_vad is set (NULL detaches). The model keeps a
 * borrowed pointer: vad must outlive m or be detached first. */
void whisper_model_set_vad(whisper_model *m, const whisper_vad *vad);

typedef struct whisper_hparams {
    int n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer;
    int n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype;
} whisper_hparams;

const whisper_hparams *whisper_model_hparams(const whisper_model *m);
bool whisper_model_is_multilingual(const whisper_model *m);

/* Special tokens of this vocabulary. */
typedef struct whisper_tokens {
    int eot, sot, translate, transcribe, solm, prev, nosp, notimestamps, beg;
    int n_lang; /* language tokens are sot + 1 .. sot + n_lang */
} whisper_tokens;
const whisper_tokens *whisper_model_tokens(const whisper_model *m);

/* Bytes of token id (borrowed from the model; not NUL-terminated; may be invalid UTF-8).
 * Special tokens give an empty slice. */
str_slice whisper_token_text(const whisper_model *m, int id);

/* Language code <-> index (0 = "en"); -1 / NULL when unknown. */
int whisper_lang_id(const char *code);
const char *whisper_lang_code(int id);

/* Write a random-weight model of the given shape (benchmarks, tests): matrices and the token
 * embedding in wtype (F32, F16, Q8_0, Q5_0...), as whisper.cpp's converter and quantizer lay
 * them out. Header, mel filters and vocabulary come from vocab_from (a whisper .bin) or are
 * synthetic when it is NULL. */
int whisper_write_random_model(const char *path, const whisper_hparams *hp, int wtype,
                               uint64_t seed, const char *vocab_from, err_buf *eb);

/* ---- front end ---- */

/* Log-mel spectrogram as whisper.cpp computes it: n_mels rows of *n_frames values
 * ([n_mels][n_frames], n_frames = n/160 + 3000: the audio followed by 30 s of silence).
 * *n_frames_audio is the number of frames of real audio (1 + (n - 200) / 160).
 * *mel_out is freed with mem_free. threads: 0 or 1 = on the caller. */
int whisper_mel(const whisper_model *m, const float *pcm, size_t n, int threads, float **mel_out,
                int *n_frames, int *n_frames_audio, err_buf *eb);

/* ---- state: encoder and decoder ---- */

/* A state for n_seq decoding sequences (beam search, best-of) on n_threads threads.
 * Free with whisper_state_free. */
int whisper_state_new(whisper_state **out, const whisper_model *m, int n_threads, int n_seq,
                      err_buf *eb);
void whisper_state_free(whisper_state *s);

/* Encode the 30 s window (3000 frames) of mel ([n_mels][n_frames]) starting at frame offset;
 * frames past n_frames read as zeros, as in whisper.cpp. Also projects every decoder layer's
 * cross-attention keys and values from the result. */
int whisper_encode(whisper_state *s, const float *mel, int n_frames, int offset, err_buf *eb);
/* The last encoder output: [n_audio_ctx][n_audio_state], valid until the next encode. */
const float *whisper_encoder_output(const whisper_state *s);

/* Decode n tokens of sequence seq at positions n_past.. (the KV cache of seq holds the n_past
 * before). logits: n_vocab floats for the last token (may be NULL). */
int whisper_decode(whisper_state *s, int seq, const int *tokens, int n, int n_past, float *logits,
                   err_buf *eb);
/* Copy the first n cache positions of sequence src to dst (beam search). */
void whisper_state_copy_seq(whisper_state *s, int dst, int src, int n);

/* Language detection on the encoded window: probs (may be NULL) gets n_lang probabilities;
 * returns the index of the most likely language, or a negative error. */
int whisper_detect_language(whisper_state *s, float *probs, err_buf *eb);

/* ---- transcription ---- */

/* Transcribe 16 kHz mono PCM. Segments go to on_segment (may be NULL) as they become final and
 * all of them into *out (free with stt_result_free). Long audio is decoded in 30 s windows,
 * each prompted with the text before it. Segment times follow whisper.cpp's timestamp tokens
 * (a start before its window is moved to the window's start); word times (word_timestamps)
 * share a segment's span out by word length: an estimate, not an alignment. Non-finite samples
 * read as silence. Returns 0 or a negative BASE_E* code (BASE_ECANCELED when on_segment asked
 * to stop; *out then holds the segments so far). */
int whisper_transcribe(whisper_model *m, const float *pcm16k, size_t n_samples, const stt_opts *o,
                       stt_segment_fn on_segment, void *ud, stt_result *out, err_buf *eb);

/* ---- voice activity detection (Silero) ---- */

typedef struct whisper_vad_params {
    float threshold;    /* speech when prob >= threshold (0.5) */
    int min_speech_ms;  /* shorter speech is dropped (250) */
    int min_silence_ms; /* silence shorter than this does not end speech (100) */
    float max_speech_s; /* longer speech is split (0 or less: no limit) */
    int speech_pad_ms;  /* padding added around speech (30) */
} whisper_vad_params;

typedef struct whisper_vad_segment {
    double start, end; /* seconds */
} whisper_vad_segment;

whisper_vad_params whisper_vad_default_params(void);
int whisper_vad_load(whisper_vad **out, const char *path, err_buf *eb);
void whisper_vad_free(whisper_vad *v); /* NULL is fine */
/* Speech probability per 512-sample window (ceil(n / 512) of them): *probs freed with mem_free. */
int whisper_vad_probs(const whisper_vad *v, const float *pcm16k, size_t n, float **probs,
                      int *n_probs, err_buf *eb);
/* Speech segments from those probabilities (Silero's rules, as whisper.cpp applies them). */
int whisper_vad_segments_from_probs(const float *probs, int n_probs, size_t n_samples,
                                    const whisper_vad_params *p, whisper_vad_segment **segs,
                                    int *n_segs, err_buf *eb);
/* Both steps: *segs freed with mem_free. */
int whisper_vad_segments(const whisper_vad *v, const float *pcm16k, size_t n,
                         const whisper_vad_params *p, whisper_vad_segment **segs, int *n_segs,
                         err_buf *eb);

#endif
