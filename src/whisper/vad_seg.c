/*
 * Speech segments from Silero probabilities, with Silero's get_speech_timestamps rules as
 * whisper.cpp applies them: speech starts at a window >= threshold, ends after min_silence of
 * windows below threshold - 0.15; too short speech is dropped, gaps under 200 ms are merged,
 * long speech is split at a silence when max_speech is set; then speech_pad is added around
 * (half the gap when two segments are closer than two pads). Times are rounded to centiseconds
 * as whisper.cpp reports them.
 */
#include <math.h>

#include "whisper_int.h"

#define SR 16000
#define WIN 512

whisper_vad_params whisper_vad_default_params(void) {
    whisper_vad_params p = {
        .threshold = 0.5f,
        .min_speech_ms = 250,
        .min_silence_ms = 100,
        .max_speech_s = 0,
        .speech_pad_ms = 30,
    };
    return p;
}

typedef struct span {
    int64_t start, end;
} span;

static int add(span **v, int *n, int *cap, int64_t s, int64_t e) {
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 16;
        span *nv = mem_realloc(*v, (size_t)nc * sizeof *nv);
        if (!nv) return BASE_ENOMEM;
        *v = nv, *cap = nc;
    }
    (*v)[(*n)++] = (span){s, e};
    return 0;
}

int whisper_vad_segments_from_probs(const float *probs, int n_probs, size_t n_samples,
                                    const whisper_vad_params *p, whisper_vad_segment **segs,
                                    int *n_segs, err_buf *eb) {
    *segs = NULL, *n_segs = 0;
    (void)n_samples; /* whisper.cpp measures the audio in whole windows */
    int64_t audio_len = (int64_t)n_probs * WIN;
    int64_t min_sil = (int64_t)SR * p->min_silence_ms / 1000;
    int64_t min_speech = (int64_t)SR * p->min_speech_ms / 1000;
    int64_t pad = (int64_t)SR * p->speech_pad_ms / 1000;
    int64_t max_speech = p->max_speech_s > 0 && p->max_speech_s < 100000
                             ? (int64_t)(SR * p->max_speech_s) - WIN - 2 * pad
                             : INT64_MAX / 4;
    int64_t min_sil_at_max = (int64_t)SR * 98 / 1000;
    float neg = p->threshold - 0.15f;
    if (neg < 0.01f) neg = 0.01f;
    span *sp = NULL;
    int n = 0, cap = 0, rc = 0;
    bool in_speech = false, has = false;
    int64_t temp_end = 0, prev_end = 0, next_start = 0, start = 0;
    for (int i = 0; i < n_probs && !rc; i++) {
        float pr = probs[i];
        int64_t cur = (int64_t)WIN * i;
        if (pr >= p->threshold && temp_end) {
            temp_end = 0;
            if (next_start < prev_end) next_start = cur;
        }
        if (pr >= p->threshold && !in_speech) {
            in_speech = has = true, start = cur;
            continue;
        }
        if (in_speech && cur - start > max_speech) {
            if (prev_end) {
                rc = add(&sp, &n, &cap, start, prev_end);
                if (next_start < prev_end)
                    in_speech = has = false;
                else
                    start = next_start;
                prev_end = next_start = temp_end = 0;
            } else {
                rc = add(&sp, &n, &cap, start, cur);
                prev_end = next_start = temp_end = 0;
                in_speech = has = false;
                continue;
            }
        }
        if (pr < neg && in_speech) {
            if (!temp_end) temp_end = cur;
            if (cur - temp_end > min_sil_at_max) prev_end = temp_end;
            if (cur - temp_end < min_sil) continue;
            if (temp_end - start > min_speech) rc = add(&sp, &n, &cap, start, temp_end);
            prev_end = next_start = temp_end = 0;
            in_speech = has = false;
        }
    }
    if (!rc && has && audio_len - start > min_speech) rc = add(&sp, &n, &cap, start, audio_len);
    if (rc) {
        mem_free(sp);
        return err_set(eb, rc, "vad: out of memory");
    }
    /* Merge gaps under 200 ms, then drop what is still too short. */
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m > 0 && sp[i].start - sp[m - 1].end < SR / 5)
            sp[m - 1].end = sp[i].end;
        else
            sp[m++] = sp[i];
    }
    n = m, m = 0;
    for (int i = 0; i < n; i++)
        if (sp[i].end - sp[i].start >= min_speech) sp[m++] = sp[i];
    n = m;
    whisper_vad_segment *out = mem_calloc(n ? (size_t)n : 1, sizeof *out);
    if (!out) {
        mem_free(sp);
        return err_set(eb, BASE_ENOMEM, "vad: out of memory");
    }
    int64_t s0 = n ? (sp[0].start > pad ? sp[0].start - pad : 0) : 0;
    for (int i = 0; i < n; i++) {
        int64_t e;
        if (i + 1 < n) {
            int64_t gap = sp[i + 1].start - sp[i].end, half = gap / 2;
            if (gap < 2 * pad) {
                e = sp[i].end + half;
                sp[i + 1].start = sp[i + 1].start > half ? sp[i + 1].start - half : 0;
            } else {
                e = sp[i].end + pad < audio_len ? sp[i].end + pad : audio_len;
                sp[i + 1].start = sp[i + 1].start > pad ? sp[i + 1].start - pad : 0;
            }
        } else {
            e = sp[i].end + pad < audio_len ? sp[i].end + pad : audio_len;
        }
        int64_t st = i == 0 ? s0 : sp[i].start;
        out[i].start = round((double)st / (SR / 100)) / 100.0;
        out[i].end = round((double)e / (SR / 100)) / 100.0;
    }
    mem_free(sp);
    *segs = out, *n_segs = n;
    return 0;
}

int whisper_vad_segments(const whisper_vad *v, const float *pcm16k, size_t n,
                         const whisper_vad_params *p, whisper_vad_segment **segs, int *n_segs,
                         err_buf *eb) {
    float *probs;
    int np;
    *segs = NULL, *n_segs = 0;
    int rc = whisper_vad_probs(v, pcm16k, n, &probs, &np, eb);
    if (rc) return rc;
    rc = whisper_vad_segments_from_probs(probs, np, n, p, segs, n_segs, eb);
    mem_free(probs);
    return rc;
}
