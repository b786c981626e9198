/*
 * The one place that knows which speech-to-text engines exist: whisper and pocketsphinx.
 * A Whisper model gets voice activity detection when a Silero VAD file in whisper.cpp's
 * format (ggml-silero-*.bin) sits in the same directory: silence is then skipped.
 */
#include "speech.h"

#include <dirent.h>
#include <string.h>

#include "sphinx/sphinx.h"
#include "whisper/whisper.h"

struct speech_model {
    speech_backend backend;
    sphinx_model *sphinx;
    whisper_model *whisper;
    whisper_vad *vad; /* attached to whisper; freed after it */
};

/* Load the first *silero*.bin of path's directory as the model's VAD. None is not an
 * error; a file that does not load is logged and skipped. */
static void attach_vad(speech_model *m, const char *path) {
    const char *slash = strrchr(path, '/');
    buf dir = {0};
    buf_append(&dir, path, slash ? (size_t)(slash - path) : 0);
    if (!slash) buf_append_str(&dir, ".");
    DIR *d = dir.oom ? NULL : opendir(dir.data);
    for (struct dirent *de; d && !m->vad && (de = readdir(d));) {
        size_t n = strlen(de->d_name);
        if (!strstr(de->d_name, "silero") || n < 4 || strcmp(de->d_name + n - 4, ".bin")) continue;
        buf vp = {0};
        buf_printf(&vp, "%s/%s", dir.data, de->d_name);
        err_buf eb = {0};
        if (!vp.oom && whisper_vad_load(&m->vad, vp.data, &eb) == 0) {
            whisper_model_set_vad(m->whisper, m->vad);
            log_info("speech: %s uses voice activity detection from %s", path, vp.data);
        } else {
            log_warn("speech: cannot load the VAD %s: %s", vp.data ? vp.data : "", err_msg(&eb));
        }
        buf_free(&vp);
    }
    if (d) closedir(d);
    buf_free(&dir);
}

int speech_backend_parse(const char *name, speech_backend *out) {
    if (!name) return BASE_EINVAL;
    if (!strcmp(name, "sphinx") || !strcmp(name, "pocketsphinx"))
        *out = SPEECH_SPHINX;
    else if (!strcmp(name, "whisper") || !strcmp(name, "whisper-cpp"))
        *out = SPEECH_WHISPER;
    else
        return BASE_EINVAL;
    return 0;
}

const char *speech_backend_name(speech_backend b) {
    return b == SPEECH_WHISPER ? "whisper" : "sphinx";
}

bool speech_whisper_built(void) { return true; }

bool speech_file_is_whisper(const char *path) { return whisper_file_is_ggml(path); }

int speech_model_open(speech_backend b, const char *path, speech_model **out, err_buf *eb) {
    *out = NULL;
    speech_model *m = mem_calloc(1, sizeof *m);
    if (!m) return err_set(eb, BASE_ENOMEM, "out of memory");
    m->backend = b;
    int rc;
    if (b == SPEECH_SPHINX) {
        rc = sphinx_model_load(&m->sphinx, NULL, eb);
    } else if (b == SPEECH_WHISPER) {
        rc = whisper_model_load(&m->whisper, path, eb);
        if (!rc) attach_vad(m, path);
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
    whisper_model_free(m->whisper);
    whisper_vad_free(m->vad);
    mem_free(m);
}

speech_backend speech_model_backend(const speech_model *m) { return m->backend; }

int speech_transcribe(speech_model *m, const float *pcm16k, size_t n, const stt_opts *o,
                      stt_segment_fn on_segment, void *ud, stt_result *out, err_buf *eb) {
    if (m->whisper) return whisper_transcribe(m->whisper, pcm16k, n, o, on_segment, ud, out, eb);
    return sphinx_transcribe(m->sphinx, pcm16k, n, o, on_segment, ud, out, eb);
}
