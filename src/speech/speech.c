/*
 * The one place that knows which speech-to-text engines exist. Whisper's call sites are
 * marked WHISPER below; they compile once src/whisper (its own branch) is in the tree.
 */
#include "speech.h"

#include <stdio.h>
#include <string.h>

#include "sphinx/sphinx.h"

#if __has_include("whisper/whisper.h")
#include "whisper/whisper.h"
#define HAVE_WHISPER 1
#else
#define HAVE_WHISPER 0
#endif

struct speech_model {
    speech_backend backend;
    sphinx_model *sphinx;
#if HAVE_WHISPER
    whisper_model *whisper;
#endif
};

int speech_backend_parse(const char *name, speech_backend *out) {
    if (!name) return BASE_EINVAL;
    if (!strcmp(name, "sphinx") || !strcmp(name, "pocketsphinx")) *out = SPEECH_SPHINX;
    else if (!strcmp(name, "whisper") || !strcmp(name, "whisper-cpp")) *out = SPEECH_WHISPER;
    else return BASE_EINVAL;
    return 0;
}

const char *speech_backend_name(speech_backend b) {
    return b == SPEECH_WHISPER ? "whisper" : "sphinx";
}

bool speech_whisper_built(void) { return HAVE_WHISPER; }

bool speech_file_is_whisper(const char *path) {
#if HAVE_WHISPER
    return whisper_file_is_ggml(path); /* WHISPER */
#else
    /* whisper.cpp's ggml files start with "lmgg" (0x67676d6c little-endian), n_vocab and
     * n_audio_ctx (1500 in every Whisper model); Silero VAD files share the magic only. */
    FILE *f = fopen(path, "rb");
    unsigned char h[12];
    bool ok = f && fread(h, 1, sizeof h, f) == sizeof h && !memcmp(h, "lmgg", 4) &&
              (h[8] | h[9] << 8 | h[10] << 16 | (unsigned)h[11] << 24) == 1500;
    if (f) fclose(f);
    return ok;
#endif
}

int speech_model_open(speech_backend b, const char *path, speech_model **out, err_buf *eb) {
    *out = NULL;
    speech_model *m = mem_calloc(1, sizeof *m);
    if (!m) return err_set(eb, BASE_ENOMEM, "out of memory");
    m->backend = b;
    int rc;
    if (b == SPEECH_SPHINX) {
        rc = sphinx_model_load(&m->sphinx, NULL, eb);
    } else if (b == SPEECH_WHISPER) {
#if HAVE_WHISPER
        rc = whisper_model_load(&m->whisper, path, eb); /* WHISPER */
#else
        rc = err_set(eb, BASE_EUNSUPPORTED,
                     "this build has no Whisper engine: cannot load %s", path ? path : "");
#endif
    } else {
        rc = err_set(eb, BASE_EINVAL, "unknown speech backend %d", (int)b);
    }
    if (rc) {
        mem_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void speech_model_free(speech_model *m) {
    if (!m) return;
    sphinx_model_free(m->sphinx);
#if HAVE_WHISPER
    whisper_model_free(m->whisper); /* WHISPER */
#endif
    mem_free(m);
}

speech_backend speech_model_backend(const speech_model *m) { return m->backend; }

int speech_transcribe(speech_model *m, const float *pcm16k, size_t n, const stt_opts *o,
                      stt_segment_fn on_segment, void *ud, stt_result *out, err_buf *eb) {
#if HAVE_WHISPER
    if (m->whisper) /* WHISPER */
        return whisper_transcribe(m->whisper, pcm16k, n, o, on_segment, ud, out, eb);
#endif
    return sphinx_transcribe(m->sphinx, pcm16k, n, o, on_segment, ud, out, eb);
}
