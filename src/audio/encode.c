/*
 * Encoding synthesized speech (mono 16-bit PCM) to wav, mp3, opus, flac or raw pcm with
 * libavcodec and libavformat's muxers. Output goes through a custom AVIOContext either to a
 * growable buffer that can seek (complete files: the muxer patches sizes in its trailer) or
 * straight to the caller's callback (streaming). libswresample converts the sample rate and
 * format to what the codec wants; an AVAudioFifo cuts the input into the codec's frames.
 */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libswresample/swresample.h>
#include <pthread.h>
#include <string.h>

#include "audio.h"

#define AVIO_BUF 16384

static const struct {
    const char *name, *mime, *muxer, *codec;
} formats[] = {
    [AUDIO_FMT_WAV] = {"wav", "audio/wav", "wav", "pcm_s16le"},
    [AUDIO_FMT_MP3] = {"mp3", "audio/mpeg", "mp3", "libmp3lame"},
    [AUDIO_FMT_OPUS] = {"opus", "audio/ogg", "ogg", "libopus"},
    [AUDIO_FMT_FLAC] = {"flac", "audio/flac", "flac", "flac"},
    [AUDIO_FMT_PCM] = {"pcm", "audio/pcm", "s16le", "pcm_s16le"},
};

int audio_format_parse(const char *name, audio_format *out) {
    for (int f = AUDIO_FMT_WAV; f <= AUDIO_FMT_PCM; f++)
        if (name && !strcmp(name, formats[f].name)) {
            *out = (audio_format)f;
            return 0;
        }
    return BASE_EINVAL;
}

const char *audio_format_name(audio_format f) {
    return f >= AUDIO_FMT_WAV && f <= AUDIO_FMT_PCM ? formats[f].name : "?";
}

const char *audio_format_mime(audio_format f) {
    return f >= AUDIO_FMT_WAV && f <= AUDIO_FMT_PCM ? formats[f].mime : "application/octet-stream";
}

audio_enc_params audio_enc_default_params(audio_format f, int in_rate) {
    return (audio_enc_params){.format = f, .in_rate = in_rate};
}

struct audio_enc {
    audio_enc_params p;
    audio_write_fn fn; /* streaming: where the bytes go */
    void *ud;
    buf *mem;        /* not streaming: the file being built */
    size_t mem_base; /* where the file starts in mem (it may already hold data) */
    size_t pos;      /* write position within the file */
    bool canceled;
    AVIOContext *io;
    AVFormatContext *fmt;
    AVCodecContext *cc;
    SwrContext *swr;
    AVAudioFifo *fifo;
    AVFrame *frame;
    AVPacket *pkt;
    int64_t pts;
    bool header_done, trailer_done;
};

static int io_write(void *opaque, uint8_t *data, int len) {
    audio_enc *e = opaque;
    if (e->mem) {
        /* Overwrite at pos (after a seek back to patch a header), extending as needed. */
        size_t at = e->mem_base + e->pos, n = (size_t)len;
        size_t inside = at < e->mem->len ? e->mem->len - at : 0;
        if (inside > n) inside = n;
        if (inside) memcpy(e->mem->data + at, data, inside);
        if (inside < n && buf_append(e->mem, data + inside, n - inside)) return AVERROR(ENOMEM);
        e->pos += n;
        return len;
    }
    if (e->canceled || e->fn(data, (size_t)len, e->ud)) {
        e->canceled = true;
        return AVERROR_EXIT;
    }
    return len;
}

static int64_t io_seek(void *opaque, int64_t off, int whence) {
    audio_enc *e = opaque;
    size_t size = e->mem->len - e->mem_base;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)e->pos; break;
    case SEEK_END: base = (int64_t)size; break;
    default: return AVERROR(EINVAL);
    }
    if (base + off < 0 || base + off > (int64_t)size) return AVERROR(EINVAL);
    e->pos = (size_t)(base + off);
    return (int64_t)e->pos;
}

static const char *av_msg(int err, char *b, size_t cap) {
    if (av_strerror(err, b, cap) < 0) snprintf(b, cap, "error %d", err);
    return b;
}

static int av_fail(audio_enc *e, err_buf *eb, int rc, const char *what) {
    char m[128];
    if (e->canceled) return err_set(eb, BASE_ECANCELED, "the receiver went away");
    return err_set(eb, rc == AVERROR(ENOMEM) ? BASE_ENOMEM : BASE_EIO, "%s %s: %s", what,
                   formats[e->p.format].name, av_msg(rc, m, sizeof m));
}

/* The codec's rate nearest above want (or its highest), or want when it takes any. */
static int pick_rate(const AVCodec *c, int want) {
    if (!c->supported_samplerates) return want;
    int best = 0;
    for (const int *r = c->supported_samplerates; *r; r++) {
        if (*r == want) return want;
        if (*r > want && (!best || *r < best)) best = *r;
    }
    if (best) return best;
    for (const int *r = c->supported_samplerates; *r; r++) best = *r > best ? *r : best;
    return best;
}

static enum AVSampleFormat pick_fmt(const AVCodec *c) {
    if (!c->sample_fmts) return AV_SAMPLE_FMT_S16;
    for (const enum AVSampleFormat *f = c->sample_fmts; *f != AV_SAMPLE_FMT_NONE; f++)
        if (*f == AV_SAMPLE_FMT_S16) return *f;
    return c->sample_fmts[0];
}

static int open_codec(audio_enc *e, err_buf *eb) {
    const AVCodec *c = avcodec_find_encoder_by_name(formats[e->p.format].codec);
    if (!c)
        return err_set(eb, BASE_EUNSUPPORTED, "this FFmpeg has no %s encoder",
                       formats[e->p.format].codec);
    e->cc = avcodec_alloc_context3(c);
    if (!e->cc) return err_set(eb, BASE_ENOMEM, "out of memory");
    int rate = e->p.out_rate > 0 ? e->p.out_rate : e->p.in_rate;
    if (e->p.format == AUDIO_FMT_OPUS && e->p.out_rate <= 0) rate = 48000;
    e->cc->sample_rate = pick_rate(c, rate);
    e->cc->sample_fmt = pick_fmt(c);
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    av_channel_layout_copy(&e->cc->ch_layout, &mono);
    if (e->p.bitrate > 0) e->cc->bit_rate = e->p.bitrate;
    e->cc->time_base = (AVRational){1, e->cc->sample_rate};
    if (e->fmt->oformat->flags & AVFMT_GLOBALHEADER) e->cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int rc = avcodec_open2(e->cc, c, NULL);
    if (rc < 0) return av_fail(e, eb, rc, "cannot open the encoder for");
    AVStream *st = avformat_new_stream(e->fmt, NULL);
    if (!st) return err_set(eb, BASE_ENOMEM, "out of memory");
    st->time_base = e->cc->time_base;
    rc = avcodec_parameters_from_context(st->codecpar, e->cc);
    if (rc < 0) return av_fail(e, eb, rc, "cannot set up");
    rc = swr_alloc_set_opts2(&e->swr, &e->cc->ch_layout, e->cc->sample_fmt, e->cc->sample_rate,
                             &mono, AV_SAMPLE_FMT_S16, e->p.in_rate, 0, NULL);
    if (rc >= 0) rc = swr_init(e->swr);
    if (rc < 0) return av_fail(e, eb, rc, "cannot resample for");
    e->fifo = av_audio_fifo_alloc(e->cc->sample_fmt, 1, 4096);
    e->frame = av_frame_alloc();
    e->pkt = av_packet_alloc();
    if (!e->fifo || !e->frame || !e->pkt) return err_set(eb, BASE_ENOMEM, "out of memory");
    return 0;
}

static void quiet_ffmpeg(void) { av_log_set_level(AV_LOG_QUIET); }

int audio_enc_new(const audio_enc_params *p, audio_write_fn fn, void *ud, audio_enc **out,
                  err_buf *eb) {
    *out = NULL;
    if (p->format < AUDIO_FMT_WAV || p->format > AUDIO_FMT_PCM || p->in_rate <= 0)
        return err_set(eb, BASE_EINVAL, "bad audio encoder parameters");
    /* FFmpeg's log goes to stderr; our errors carry its messages instead. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, quiet_ffmpeg);
    audio_enc *e = mem_calloc(1, sizeof *e);
    if (!e) return err_set(eb, BASE_ENOMEM, "out of memory");
    e->p = *p;
    e->fn = fn;
    e->ud = ud;
    /* Not streaming: fn's ud is the buf to build the file in (see audio_encode). */
    if (!p->streaming) e->mem = ud, e->mem_base = e->mem->len;
    int rc = avformat_alloc_output_context2(&e->fmt, NULL, formats[p->format].muxer, NULL);
    if (rc < 0 || !e->fmt) {
        audio_enc_free(e);
        return err_set(eb, BASE_EUNSUPPORTED, "this FFmpeg has no %s muxer",
                       formats[p->format].muxer);
    }
    uint8_t *iobuf = av_malloc(AVIO_BUF);
    e->io = iobuf ? avio_alloc_context(iobuf, AVIO_BUF, 1, e, NULL, io_write,
                                       p->streaming ? NULL : io_seek)
                  : NULL;
    if (!e->io) {
        av_free(iobuf);
        audio_enc_free(e);
        return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    e->io->seekable = p->streaming ? 0 : AVIO_SEEKABLE_NORMAL;
    e->fmt->pb = e->io;
    e->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    rc = open_codec(e, eb);
    if (!rc) {
        int r = avformat_write_header(e->fmt, NULL);
        if (r < 0)
            rc = av_fail(e, eb, r, "cannot start");
        else
            e->header_done = true;
    }
    if (!rc && p->streaming) avio_flush(e->io);
    if (rc) {
        audio_enc_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

/* Send one frame (NULL: flush) and mux the packets that come out. */
static int encode_frame(audio_enc *e, AVFrame *f, err_buf *eb) {
    int rc = avcodec_send_frame(e->cc, f);
    if (rc < 0) return av_fail(e, eb, rc, "cannot encode");
    for (;;) {
        rc = avcodec_receive_packet(e->cc, e->pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return 0;
        if (rc < 0) return av_fail(e, eb, rc, "cannot encode");
        av_packet_rescale_ts(e->pkt, e->cc->time_base, e->fmt->streams[0]->time_base);
        e->pkt->stream_index = 0;
        rc = av_interleaved_write_frame(e->fmt, e->pkt);
        if (rc < 0) return av_fail(e, eb, rc, "cannot write");
    }
}

/* Encode whole frames from the fifo; at the end (last) also the partial one. */
static int pump(audio_enc *e, bool last, err_buf *eb) {
    /* PCM codecs take any frame size: send everything now, so a stream lags nothing. */
    bool any =
        e->cc->frame_size <= 0 || (e->cc->codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE);
    int fs = e->cc->frame_size > 0 ? e->cc->frame_size : 4096;
    while (av_audio_fifo_size(e->fifo) >= fs ||
           ((last || any) && av_audio_fifo_size(e->fifo) > 0)) {
        int n = av_audio_fifo_size(e->fifo) < fs ? av_audio_fifo_size(e->fifo) : fs;
        /* Codecs with a fixed frame size (except for the last) want exactly fs samples. */
        av_frame_unref(e->frame);
        e->frame->nb_samples = n;
        e->frame->format = e->cc->sample_fmt;
        e->frame->sample_rate = e->cc->sample_rate;
        av_channel_layout_copy(&e->frame->ch_layout, &e->cc->ch_layout);
        int rc = av_frame_get_buffer(e->frame, 0);
        if (rc < 0) return av_fail(e, eb, rc, "cannot encode");
        if (av_audio_fifo_read(e->fifo, (void **)e->frame->data, n) != n)
            return err_set(eb, BASE_EINTERNAL, "audio fifo short read");
        e->frame->pts = e->pts;
        e->pts += n;
        rc = encode_frame(e, e->frame, eb);
        if (rc) return rc;
    }
    return 0;
}

/* Resample in (NULL: flush the resampler) into the fifo. */
static int feed(audio_enc *e, const int16_t *pcm, size_t n, err_buf *eb) {
    int room = swr_get_out_samples(e->swr, (int)n);
    if (room <= 0) return 0;
    uint8_t **tmp = NULL;
    int rc = av_samples_alloc_array_and_samples(&tmp, NULL, 1, room, e->cc->sample_fmt, 0);
    if (rc < 0) return err_set(eb, BASE_ENOMEM, "out of memory");
    const uint8_t *in[1] = {(const uint8_t *)pcm};
    int got = swr_convert(e->swr, tmp, room, pcm ? in : NULL, (int)n);
    if (got > 0 && av_audio_fifo_write(e->fifo, (void **)tmp, got) < got) got = AVERROR(ENOMEM);
    av_freep(&tmp[0]);
    av_freep(&tmp);
    if (got < 0) return av_fail(e, eb, got, "cannot resample for");
    return 0;
}

int audio_enc_write(audio_enc *e, const int16_t *pcm, size_t n, err_buf *eb) {
    for (size_t off = 0; off < n;) {
        size_t k = n - off < 65536 ? n - off : 65536;
        int rc = feed(e, pcm + off, k, eb);
        if (!rc) rc = pump(e, false, eb);
        if (rc) return rc;
        off += k;
    }
    /* Streaming: hand out what is encoded now, not when the AVIO buffer fills. */
    if (e->p.streaming) {
        avio_flush(e->io);
        if (e->canceled) return err_set(eb, BASE_ECANCELED, "the receiver went away");
    }
    return 0;
}

int audio_enc_finish(audio_enc *e, err_buf *eb) {
    int rc = feed(e, NULL, 0, eb);
    if (!rc) rc = pump(e, true, eb);
    if (!rc) rc = encode_frame(e, NULL, eb);
    if (!rc) {
        int r = av_write_trailer(e->fmt);
        e->trailer_done = true;
        if (r < 0) rc = av_fail(e, eb, r, "cannot finish");
    }
    if (!rc) avio_flush(e->io);
    if (!rc && e->canceled) rc = err_set(eb, BASE_ECANCELED, "the receiver went away");
    return rc;
}

void audio_enc_free(audio_enc *e) {
    if (!e) return;
    if (e->header_done && !e->trailer_done) {
        /* Abandoned mid-way: let the muxer free its state without writing to anyone. */
        e->canceled = true;
        e->mem = NULL;
        av_write_trailer(e->fmt);
    }
    if (e->io) av_freep(&e->io->buffer);
    avio_context_free(&e->io);
    avformat_free_context(e->fmt);
    avcodec_free_context(&e->cc);
    swr_free(&e->swr);
    if (e->fifo) av_audio_fifo_free(e->fifo);
    av_frame_free(&e->frame);
    av_packet_free(&e->pkt);
    mem_free(e);
}

int audio_encode(const audio_enc_params *p, const int16_t *pcm, size_t n, buf *out, err_buf *eb) {
    audio_enc_params q = *p;
    q.streaming = false;
    audio_enc *e;
    int rc = audio_enc_new(&q, NULL, out, &e, eb);
    if (rc) return rc;
    rc = audio_enc_write(e, pcm, n, eb);
    if (!rc) rc = audio_enc_finish(e, eb);
    audio_enc_free(e);
    if (!rc && out->oom) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    return rc;
}
