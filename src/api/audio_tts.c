/*
 * Text to speech with espeak-ng, in three APIs' shapes:
 *   POST /v1/audio/speech            OpenAI: {model, input, voice, response_format, speed}
 *   POST /tts                        LocalAI: {model?, input, voice?} -> wav
 *   POST /v1/text-to-speech/{voice}  ElevenLabs: {text, model_id?}, ?output_format=mp3_44100_128
 *        (and .../{voice}/stream)
 *   GET  /v1/voices                  ElevenLabs: {voices: [{voice_id, name, labels}]}
 *
 * Synthesis runs on a thread of its own. Text of one sentence is answered as one complete
 * file; longer text is streamed as a chunked response, each sentence encoded and sent as
 * soon as espeak-ng has spoken it (wav then carries an "unknown length" header).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "audio/audio.h"
#include "tts/tts.h"

typedef struct tts_job {
    srv_stream *st;
    char *text, *voice;
    float speed;
    audio_enc_params ep;
    bool stream;
    _Atomic bool gone;
    audio_enc *enc; /* streaming: opened with the first sentence */
    int16_t *all;   /* not streaming: every sample */
    size_t n_all, cap_all;
    err_buf eb;
    auth_ticket *ticket; /* the request counted against the key's limits; settled once */
} tts_job;

static void job_free(tts_job *j) {
    api_access_settle(j->ticket, 0, 0, 500); /* only when no answer settled it */
    audio_enc_free(j->enc);
    mem_free(j->text);
    mem_free(j->voice);
    mem_free(j->all);
    mem_free(j);
}

static void on_gone(void *ud) {
    tts_job *j = ud;
    j->gone = true;
}

static int to_stream(const void *data, size_t len, void *ud) {
    tts_job *j = ud;
    return srv_stream_write(j->st, data, len);
}

/* A sentence's PCM: encoded and sent at once (streaming), or kept for the end. */
static int on_pcm(const int16_t *pcm, size_t n, void *ud) {
    tts_job *j = ud;
    if (j->gone) return 1;
    if (j->stream) {
        if (!j->enc) {
            if (srv_stream_start(j->st, 200, audio_format_mime(j->ep.format))) return 1;
            j->ep.streaming = true;
            if (audio_enc_new(&j->ep, to_stream, j, &j->enc, &j->eb)) return 1;
        }
        return audio_enc_write(j->enc, pcm, n, &j->eb) ? 1 : 0;
    }
    size_t need;
    if (!size_add(j->n_all, n, &need)) return 1;
    if (need > j->cap_all) {
        size_t cap = j->cap_all ? j->cap_all * 2 : 65536;
        while (cap < need) cap *= 2;
        int16_t *p = mem_realloc(j->all, cap * sizeof *p);
        if (!p) return 1;
        j->all = p;
        j->cap_all = cap;
    }
    memcpy(j->all + j->n_all, pcm, n * sizeof *pcm);
    j->n_all = need;
    return 0;
}

/* Record the request's usage before its last bytes go out. */
static void settle(tts_job *j, int status) {
    api_access_settle(j->ticket, 0, 0, status);
    j->ticket = NULL;
}

static void *run_job(void *arg) {
    tts_job *j = arg;
    tts_params p = tts_default_params();
    p.voice = j->voice;
    p.speed = j->speed;
    err_buf eb = {0};
    int rc = tts_synthesize(&p, j->text, on_pcm, j, &eb);
    if (!rc && j->enc) rc = audio_enc_finish(j->enc, &j->eb);
    if (j->enc || j->gone) {
        /* Started streaming: an error can only cut the stream short. */
        if (rc && !j->gone)
            log_warn("tts: stream ended early: %s", err_msg(rc == BASE_ECANCELED ? &j->eb : &eb));
        settle(j, j->gone ? 499 : rc ? 500 : 200);
        srv_stream_end(j->st);
    } else if (rc) {
        api_err e;
        api_fail(&e, rc == BASE_EINVAL || rc == BASE_ENOTFOUND ? 400 : 500, "input", "%s",
                 err_msg(j->eb.code ? &j->eb : &eb));
        settle(j, e.status);
        api_stream_err(j->st, &e);
    } else {
        buf out = {0};
        j->ep.streaming = false;
        rc = audio_encode(&j->ep, j->all, j->n_all, &out, &eb);
        if (rc) {
            api_err e;
            api_fail(&e, 500, NULL, "cannot encode the speech: %s", err_msg(&eb));
            settle(j, 500);
            api_stream_err(j->st, &e);
        } else {
            settle(j, 200);
            srv_stream_respond(j->st, 200, audio_format_mime(j->ep.format), out.data, out.len);
            srv_stream_end(j->st);
        }
        buf_free(&out);
    }
    job_free(j);
    api_audio_job_done();
    return NULL;
}

/* Check the voice and start the job; answers r itself on any error. Takes over j. model (the
 * request's, borrowed for the call; NULL or not a string: espeak) is checked against the key. */
static void start(srv_req *r, tts_job *j, const json_t *model) {
    api_err e = {0};
    err_buf eb = {0};
    if (tts_init(&eb)) {
        api_fail(&e, 500, NULL, "%s", err_msg(&eb));
        goto fail;
    }
    if (!tts_voice_exists(j->voice)) {
        api_fail(&e, 400, "voice", "unknown voice '%s' (GET /v1/voices lists the voices)",
                 j->voice ? j->voice : "");
        goto fail;
    }
    /* Per-key model permission and request limits (no tokens: speech counts requests). */
    if (api_access_reserve(r, json_is_string(model) ? json_string_value(model) : "espeak", 0,
                           &j->ticket, &e))
        goto fail;
    /* More than one sentence: stream them as they are spoken. */
    size_t len = strlen(j->text), first = tts_sentence_end(j->text, len);
    while (first < len && strchr(" \t\r\n", j->text[first])) first++;
    j->stream = j->stream || first < len;
    j->ep.in_rate = tts_sample_rate();
    j->st = srv_stream_begin(r);
    if (!j->st) {
        api_fail(&e, 500, NULL, "out of memory");
        goto fail;
    }
    srv_stream_on_cancel(j->st, on_gone, j);
    if (api_audio_job_start(run_job, j)) {
        api_fail(&e, 503, NULL, "too many audio requests are running; try again later");
        e.type = "server_error";
        settle(j, 503);
        api_stream_err(j->st, &e);
        job_free(j);
    }
    return;
fail:
    api_respond_err(r, &e);
    job_free(j);
}

/* The common fields of the JSON APIs: text (required), voice, speed. */
static tts_job *new_job(const json_t *text, const char *text_field, const json_t *voice,
                        const json_t *speed, api_err *e) {
    if (!json_is_string(text) || !json_string_length(text)) {
        api_fail(e, 400, text_field, "'%s' must be a non-empty string", text_field);
        return NULL;
    }
    if (json_string_length(text) > TTS_MAX_INPUT) {
        api_fail(e, 400, text_field, "'%s' is longer than %d bytes", text_field, TTS_MAX_INPUT);
        return NULL;
    }
    if (voice && !json_is_null(voice) && !json_is_string(voice)) {
        api_fail(e, 400, "voice", "'voice' must be a string");
        return NULL;
    }
    double sp = 1.0;
    if (speed && !json_is_null(speed)) {
        if (!json_is_number(speed) || json_number_value(speed) < 0.25 ||
            json_number_value(speed) > 4.0) {
            api_fail(e, 400, "speed", "'speed' must be a number from 0.25 to 4.0");
            return NULL;
        }
        sp = json_number_value(speed);
    }
    tts_job *j = mem_calloc(1, sizeof *j);
    if (j) {
        j->speed = (float)sp;
        j->text = mem_strdup(json_string_value(text));
        j->voice = json_is_string(voice) && json_string_length(voice)
                       ? mem_strdup(json_string_value(voice))
                       : NULL;
        if (!j->text || (json_is_string(voice) && json_string_length(voice) && !j->voice)) {
            job_free(j);
            j = NULL;
        }
    }
    if (!j) api_fail(e, 500, NULL, "out of memory");
    return j;
}

/* A TTS model named by a request, when one is named: 404 unknown, 400 not a speech model. */
static int check_model(api_ctx *ctx, const json_t *model, bool required, api_err *e) {
    if (!model || json_is_null(model)) {
        if (required)
            return api_fail(e, 400, "model", "'model' is required (tts-1, tts-1-hd or espeak)");
        return 0;
    }
    if (!json_is_string(model)) return api_fail(e, 400, "model", "'model' must be a string");
    mdl_handle *h;
    if (api_acquire_speech(ctx, json_string_value(model), true, &h, e)) return BASE_EINVAL;
    mdl_release(h);
    return 0;
}

static void on_speech(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    api_err e = {0};
    tts_job *j = NULL;
    json_t *root = api_parse_body(srv_req_body(r), &e);
    if (!root) goto fail;
    if (check_model(ctx, json_object_get(root, "model"), true, &e)) goto fail;
    json_t *fmt = json_object_get(root, "response_format");
    audio_format f = AUDIO_FMT_MP3; /* OpenAI's default */
    if (fmt && !json_is_null(fmt) &&
        (!json_is_string(fmt) || audio_format_parse(json_string_value(fmt), &f))) {
        api_fail(&e, 400, "response_format",
                 "response_format must be one of wav, mp3, opus, flac, pcm");
        goto fail;
    }
    j = new_job(json_object_get(root, "input"), "input", json_object_get(root, "voice"),
                json_object_get(root, "speed"), &e);
    if (!j) goto fail;
    j->ep = audio_enc_default_params(f, 0);
    /* OpenAI's pcm is 24 kHz; clients play it assuming so. */
    if (f == AUDIO_FMT_PCM) j->ep.out_rate = 24000;
    json_t *sf = json_object_get(root, "stream_format");
    j->stream = json_is_string(sf) && !strcmp(json_string_value(sf), "audio");
    start(r, j, json_object_get(root, "model"));
    json_decref(root);
    return;
fail:
    json_decref(root);
    api_respond_err(r, &e);
}

static void on_localai_tts(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    api_err e = {0};
    json_t *root = api_parse_body(srv_req_body(r), &e);
    tts_job *j = NULL;
    if (!root || check_model(ctx, json_object_get(root, "model"), false, &e)) goto fail;
    j = new_job(json_object_get(root, "input"), "input", json_object_get(root, "voice"), NULL, &e);
    if (!j) goto fail;
    j->ep = audio_enc_default_params(AUDIO_FMT_WAV, 0);
    start(r, j, json_object_get(root, "model"));
    json_decref(root);
    return;
fail:
    json_decref(root);
    api_respond_err(r, &e);
}

/* ElevenLabs' output_format: codec_rate[_kbps], e.g. mp3_44100_128, pcm_16000, opus_48000_64. */
static int parse_output_format(const char *s, audio_enc_params *p, api_err *e) {
    char codec[16];
    int rate = 0, kbps = 0, used = 0;
    if (!s) s = "mp3_44100_128";
    int got = sscanf(s, "%15[a-z0-9]_%d%n_%d%n", codec, &rate, &used, &kbps, &used);
    audio_format f;
    if (got < 2 || s[used] || rate < 8000 || rate > 48000 || audio_format_parse(codec, &f) ||
        kbps < 0 || kbps > 320)
        return api_fail(e, 400, "output_format",
                        "output_format '%s' is not supported (e.g. mp3_44100_128, pcm_16000, "
                        "opus_48000_64, wav_22050)",
                        s);
    p->format = f;
    p->out_rate = rate;
    p->bitrate = kbps * 1000;
    return 0;
}

static void on_elevenlabs(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    api_err e = {0};
    /* The rest of the path: "{voice_id}" or "{voice_id}/stream". */
    const char *rest = srv_req_path_rest(r);
    const char *slash = strchr(rest, '/');
    bool stream = slash && !strcmp(slash, "/stream");
    size_t vl = slash ? (size_t)(slash - rest) : strlen(rest);
    json_t *root = NULL;
    tts_job *j = NULL;
    if ((slash && !stream) || !vl) {
        api_fail(&e, 404, NULL,
                 "use /v1/text-to-speech/{voice_id} or /v1/text-to-speech/{voice_id}/stream");
        goto fail;
    }
    audio_enc_params ep = audio_enc_default_params(AUDIO_FMT_MP3, 0);
    if (parse_output_format(srv_req_query(r, "output_format"), &ep, &e)) goto fail;
    root = api_parse_body(srv_req_body(r), &e);
    if (!root) goto fail;
    json_t *voice = json_stringn(rest, vl);
    j = new_job(json_object_get(root, "text"), "text", voice, NULL, &e);
    json_decref(voice);
    if (!j) goto fail;
    (void)ctx; /* model_id names an ElevenLabs model: every one is espeak here */
    j->ep = ep;
    j->stream = stream;
    json_decref(root);
    start(r, j, NULL); /* model_id names no engine of ours */
    return;
fail:
    json_decref(root);
    api_respond_err(r, &e);
}

static void on_voices(srv_req *r, void *ud) {
    tts_voice *v;
    int n;
    err_buf eb = {0};
    if (tts_voices(&v, &n, &eb)) {
        srv_respond_error(r, 500, "server_error", "%s", err_msg(&eb));
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = json_object(), *labels = json_object();
        json_object_set_new(labels, "language", json_string(v[i].language));
        if (*v[i].gender) json_object_set_new(labels, "gender", json_string(v[i].gender));
        json_object_set_new(o, "voice_id", json_string(v[i].id));
        json_object_set_new(o, "name", json_string(v[i].name));
        json_object_set_new(o, "category", json_string("premade"));
        json_object_set_new(o, "labels", labels);
        json_array_append_new(list, o);
    }
    tts_voices_free(v, n);
    json_t *root = json_object();
    json_object_set_new(root, "voices", list);
    api_respond_json(r, 200, root);
    json_decref(root);
}

int api_register_speech(server *s, api_ctx *ctx) {
    int rc = api_route_both(s, "POST", "/audio/speech", on_speech, ctx);
    if (!rc) rc = api_route_both(s, "POST", "/tts", on_localai_tts, ctx);
    if (!rc) rc = api_route_both(s, "POST", "/text-to-speech/*", on_elevenlabs, ctx);
    if (!rc) rc = api_route_both(s, "GET", "/voices", on_voices, ctx);
    return rc;
}
