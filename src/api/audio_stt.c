/*
 * POST /v1/audio/transcriptions and /v1/audio/translations (and without /v1), OpenAI's shape:
 * a multipart/form-data upload with file, model, language, prompt, response_format (json,
 * text, srt, vtt, verbose_json), temperature, timestamp_granularities[] and stream.
 *
 * The handler validates the fields and takes the model; the decoding and the transcription
 * run on a thread of their own (they take seconds), which answers the suspended request:
 * one body in the asked format, or with stream=true OpenAI's transcript events as SSE:
 *   data: {"type":"transcript.text.delta","delta":"..."}     one per segment, as it is final
 *   data: {"type":"transcript.text.done","text":"..."}
 *   data: [DONE]
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "audio/audio.h"

/* Audio jobs run on threads of their own; api_close waits for them (they hold model handles,
 * and server_free only cancels their streams), so the registry is never freed under one. */
#define API_AUDIO_MAX_JOBS 64

static pthread_mutex_t jobs_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_cv = PTHREAD_COND_INITIALIZER;
static int jobs_running;

int api_audio_job_start(void *(*fn)(void *), void *arg) {
    pthread_mutex_lock(&jobs_mu);
    /* A bound on threads: past it, clients are told to come back (503) rather than the
     * machine being buried under decoders that would all wait on the same mutexes. */
    bool full = jobs_running >= API_AUDIO_MAX_JOBS;
    if (!full) jobs_running++;
    pthread_mutex_unlock(&jobs_mu);
    if (full) return BASE_EBUSY;
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &at, fn, arg);
    pthread_attr_destroy(&at);
    if (rc) api_audio_job_done();
    return rc ? BASE_EBUSY : 0;
}

void api_audio_job_done(void) {
    pthread_mutex_lock(&jobs_mu);
    if (--jobs_running == 0) pthread_cond_broadcast(&jobs_cv);
    pthread_mutex_unlock(&jobs_mu);
}

void api_audio_jobs_wait(void) {
    pthread_mutex_lock(&jobs_mu);
    while (jobs_running > 0) pthread_cond_wait(&jobs_cv, &jobs_mu);
    pthread_mutex_unlock(&jobs_mu);
}

/* One transcription, owned by its thread from the start. */
typedef struct stt_job {
    srv_stream *st;
    mdl_handle *h;
    char *audio; /* the uploaded file, copied */
    size_t audio_len;
    char *language, *prompt;
    stt_opts opts;
    stt_format fmt;
    stt_format_opts fo;
    bool stream, started;
    _Atomic bool gone; /* the client went away */
    buf text;          /* streamed so far */
    auth_ticket *ticket; /* the request counted against the key's limits; settled once */
} stt_job;

/* Record the request's usage before its last bytes go out. */
static void settle(stt_job *j, int status) {
    api_access_settle(j->ticket, 0, 0, status);
    j->ticket = NULL;
}

static void job_free(stt_job *j) {
    settle(j, 500); /* only when no answer settled it */
    mdl_release(j->h);
    mem_free(j->audio);
    mem_free(j->language);
    mem_free(j->prompt);
    buf_free(&j->text);
    mem_free(j);
}

static void on_gone(void *ud) {
    stt_job *j = ud;
    j->gone = true;
}

static int send_event(stt_job *j, json_t *ev) {
    buf b = {0};
    int rc = api_sse_event(&b, ev);
    json_decref(ev);
    if (!rc) rc = srv_stream_write(j->st, b.data, b.len);
    buf_free(&b);
    return rc;
}

/* Streaming: each final segment goes out as a delta. Nonzero cancels the transcription. */
static int on_segment(const stt_segment *s, void *ud) {
    stt_job *j = ud;
    if (j->gone) return 1;
    if (!j->stream) return 0;
    if (!j->started) {
        if (srv_stream_start(j->st, 200, "text/event-stream")) return 1;
        j->started = true;
    }
    /* Segments are joined by one space, as the final text is. */
    const char *t = s->text ? s->text : "";
    while (*t == ' ') t++;
    buf d = {0};
    buf_printf(&d, "%s%s", j->text.len ? " " : "", t);
    buf_append_str(&j->text, d.data ? d.data : "");
    json_t *ev = json_object();
    json_object_set_new(ev, "type", json_string("transcript.text.delta"));
    json_object_set_new(ev, "delta", api_json_string(d.data ? d.data : "", d.len));
    buf_free(&d);
    return send_event(j, ev) ? 1 : 0;
}

static void fail(stt_job *j, int status, const char *fmt, const char *msg) {
    api_err e;
    api_fail(&e, status, status == 400 ? "file" : NULL, fmt, msg);
    settle(j, status);
    if (j->started) {
        /* The stream is open: report the error as an event, as OpenAI's streams do. */
        json_t *ev = json_object(), *err = json_object();
        json_object_set_new(err, "message", json_string(e.msg));
        json_object_set_new(err, "type", json_string(e.type));
        json_object_set_new(ev, "type", json_string("error"));
        json_object_set_new(ev, "error", err);
        send_event(j, ev);
        srv_stream_end(j->st);
    } else {
        api_stream_err(j->st, &e);
    }
}

static void *run_job(void *arg) {
    stt_job *j = arg;
    float *pcm = NULL;
    size_t n = 0;
    err_buf eb = {0};
    stt_result res = {0};
    int rc = audio_decode(j->audio, j->audio_len, &pcm, &n, &eb);
    mem_free(j->audio);
    j->audio = NULL;
    if (rc) {
        fail(j, rc == BASE_ENOMEM ? 500 : 400, "The audio file could not be decoded: %s",
             err_msg(&eb));
        goto done;
    }
    rc = speech_transcribe(api_model_speech(j->h), pcm, n, &j->opts, on_segment, j, &res, &eb);
    mem_free(pcm);
    mdl_release(j->h); /* before answering: the server may shut down right after */
    j->h = NULL;
    if (rc == BASE_ECANCELED && j->gone) {
        settle(j, 499);
        srv_stream_end(j->st);
        goto done;
    }
    if (rc) {
        int status = rc == BASE_EUNSUPPORTED || rc == BASE_EINVAL ? 400 : 500;
        fail(j, status, "Transcription failed: %s", err_msg(&eb));
        goto done;
    }
    if (j->stream) {
        if (!j->started && srv_stream_start(j->st, 200, "text/event-stream") == 0)
            j->started = true;
        json_t *ev = json_object();
        json_object_set_new(ev, "type", json_string("transcript.text.done"));
        json_object_set_new(ev, "text", api_json_string(res.text, strlen(res.text)));
        settle(j, 200);
        if (!send_event(j, ev)) srv_stream_write(j->st, "data: [DONE]\n\n", 14);
        srv_stream_end(j->st);
    } else {
        buf out = {0};
        if (stt_format_result(&res, j->fmt, &j->fo, &out)) {
            buf_free(&out);
            fail(j, 500, "%s", "out of memory");
            goto done;
        }
        settle(j, 200);
        srv_stream_respond(j->st, 200, stt_format_mime(j->fmt), out.data ? out.data : "", out.len);
        buf_free(&out);
        srv_stream_end(j->st);
    }
done:
    stt_result_free(&res);
    job_free(j);
    api_audio_job_done();
    return NULL;
}

/* Parse the form into j; 400 with the field's name for bad values. */
static int parse_form(srv_req *r, bool translate, stt_job *j, const char **model, api_err *e) {
    arena *a = srv_req_arena(r);
    api_part *parts;
    int n;
    if (api_multipart_parse(srv_req_header(r, "Content-Type"), srv_req_body(r), a, &parts, &n, e))
        return BASE_EINVAL;
    const api_part *file = api_multipart_get(parts, n, "file");
    if (!file)
        return api_fail(e, 400, "file", "the 'file' field (the audio to transcribe) is missing");
    if (!file->data.len) return api_fail(e, 400, "file", "the uploaded audio file is empty");
    *model = api_part_text(a, api_multipart_get(parts, n, "model"));
    if (!*model || !**model) *model = "whisper-1";
    const char *fmt = api_part_text(a, api_multipart_get(parts, n, "response_format"));
    j->fmt = STT_FMT_JSON;
    if (fmt && *fmt && stt_format_parse(fmt, &j->fmt))
        return api_fail(e, 400, "response_format",
                        "response_format '%s' is not one of json, text, srt, vtt, verbose_json",
                        fmt);
    const char *temp = api_part_text(a, api_multipart_get(parts, n, "temperature"));
    if (temp && *temp) {
        char *end;
        double t = strtod(temp, &end);
        if (*end || t < 0 || t > 1)
            return api_fail(e, 400, "temperature", "temperature must be a number from 0 to 1");
        j->opts.temperature = (float)t;
    }
    const char *stream = api_part_text(a, api_multipart_get(parts, n, "stream"));
    j->stream = stream && !strcmp(stream, "true");
    if (stream && *stream && strcmp(stream, "true") && strcmp(stream, "false"))
        return api_fail(e, 400, "stream", "stream must be true or false");
    j->fo.segments = 1;
    bool granular = false;
    for (int i = 0; i < n; i++) {
        if (!str_eq_cstr(parts[i].name, "timestamp_granularities[]") &&
            !str_eq_cstr(parts[i].name, "timestamp_granularities"))
            continue;
        if (!granular) j->fo.segments = 0, granular = true;
        if (str_eq_cstr(parts[i].data, "word"))
            j->fo.words = 1;
        else if (str_eq_cstr(parts[i].data, "segment"))
            j->fo.segments = 1;
        else
            return api_fail(e, 400, "timestamp_granularities[]",
                            "timestamp_granularities[] values are 'word' and 'segment'");
    }
    if (j->fo.words && j->fmt != STT_FMT_VERBOSE_JSON)
        return api_fail(e, 400, "timestamp_granularities[]",
                        "word timestamps need response_format verbose_json");
    const char *lang = translate ? NULL : api_part_text(a, api_multipart_get(parts, n, "language"));
    const char *prompt = api_part_text(a, api_multipart_get(parts, n, "prompt"));
    if ((lang && *lang && !(j->language = mem_strdup(lang))) ||
        (prompt && *prompt && !(j->prompt = mem_strdup(prompt))) ||
        !(j->audio = mem_alloc(file->data.len)))
        return api_fail(e, 500, NULL, "out of memory");
    memcpy(j->audio, file->data.ptr, file->data.len);
    j->audio_len = file->data.len;
    j->opts.language = j->language;
    j->opts.prompt = j->prompt;
    j->opts.translate = translate;
    j->opts.word_timestamps = j->fo.words;
    j->fo.translate = translate;
    return 0;
}

static void handle(srv_req *r, api_ctx *ctx, bool translate) {
    api_err e = {0};
    stt_job *j = mem_calloc(1, sizeof *j);
    if (!j) {
        srv_respond_error(r, 500, "server_error", "out of memory");
        return;
    }
    stt_opts_init(&j->opts);
    j->opts.threads = ctx->threads;
    const char *model = NULL;
    if (parse_form(r, translate, j, &model, &e) ||
        api_access_reserve(r, model, 0, &j->ticket, &e) ||
        api_acquire_speech(ctx, model, false, &j->h, &e)) {
        api_respond_err(r, &e);
        job_free(j);
        return;
    }
    j->st = srv_stream_begin(r);
    if (!j->st) {
        srv_respond_error(r, 500, "server_error", "out of memory");
        job_free(j);
        return;
    }
    srv_stream_on_cancel(j->st, on_gone, j);
    if (api_audio_job_start(run_job, j)) {
        api_fail(&e, 503, NULL, "too many audio requests are running; try again later");
        e.type = "server_error";
        api_stream_err(j->st, &e);
        job_free(j);
    }
}

static void on_transcribe(srv_req *r, void *ud) { handle(r, ud, false); }
static void on_translate(srv_req *r, void *ud) { handle(r, ud, true); }

int api_register_transcribe(server *s, api_ctx *ctx) {
    int rc = api_route_both(s, "POST", "/audio/transcriptions", on_transcribe, ctx);
    return rc ? rc : api_route_both(s, "POST", "/audio/translations", on_translate, ctx);
}
