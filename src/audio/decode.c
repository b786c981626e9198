/*
 * Decoding an upload held in memory: libavformat reads it through a custom AVIOContext (no
 * temporary file), libavcodec decodes the best audio stream, and libswresample mixes it down
 * to mono and resamples it to 16 kHz float, which is what every speech-to-text backend takes.
 */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <pthread.h>
#include <string.h>

#include "audio.h"

#define AVIO_BUF 32768

typedef struct mem_reader {
    const uint8_t *data;
    size_t len, pos;
} mem_reader;

static int mem_read(void *opaque, uint8_t *dst, int cap) {
    mem_reader *m = opaque;
    size_t left = m->len - m->pos, n = (size_t)cap < left ? (size_t)cap : left;
    if (!n) return AVERROR_EOF;
    memcpy(dst, m->data + m->pos, n);
    m->pos += n;
    return (int)n;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence) {
    mem_reader *m = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)m->len;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)m->pos; break;
    case SEEK_END: base = (int64_t)m->len; break;
    default: return AVERROR(EINVAL);
    }
    if (off > (int64_t)m->len - base || base + off < 0) return AVERROR(EINVAL);
    m->pos = (size_t)(base + off);
    return (int64_t)m->pos;
}

static const char *av_msg(int err, char *b, size_t cap) {
    if (av_strerror(err, b, cap) < 0) snprintf(b, cap, "error %d", err);
    return b;
}

/* Everything one decode holds, freed in one place. */
typedef struct dec {
    AVIOContext *io;
    AVFormatContext *fmt;
    AVCodecContext *cc;
    SwrContext *swr;
    AVPacket *pkt;
    AVFrame *frame;
    float *out;
    size_t n, cap;
} dec;

static void dec_free(dec *d) {
    if (d->io) av_freep(&d->io->buffer);
    avio_context_free(&d->io);
    avformat_close_input(&d->fmt);
    avcodec_free_context(&d->cc);
    swr_free(&d->swr);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
}

static int grow(dec *d, size_t more, err_buf *eb) {
    size_t need;
    if (!size_add(d->n, more, &need)) return err_set(eb, BASE_ENOMEM, "out of memory");
    if (need > (size_t)AUDIO_MAX_SECONDS * AUDIO_STT_RATE)
        return err_set(eb, BASE_ERANGE, "the audio is longer than %d seconds", AUDIO_MAX_SECONDS);
    if (need <= d->cap) return 0;
    size_t cap = d->cap ? d->cap : 16000;
    while (cap < need) cap *= 2;
    float *p = mem_realloc(d->out, cap * sizeof *p);
    if (!p) return err_set(eb, BASE_ENOMEM, "out of memory");
    d->out = p;
    d->cap = cap;
    return 0;
}

/* Resample frame (NULL: flush swr's delay) into d->out. */
static int convert(dec *d, const AVFrame *f, err_buf *eb) {
    int in = f ? f->nb_samples : 0;
    int room = swr_get_out_samples(d->swr, in);
    if (room < 0) return err_set(eb, BASE_EFORMAT, "cannot resample the audio");
    if (grow(d, (size_t)room, eb)) return eb->code;
    uint8_t *dst = (uint8_t *)(d->out + d->n);
    int got = swr_convert(d->swr, &dst, room, f ? (const uint8_t **)f->extended_data : NULL, in);
    if (got < 0) return err_set(eb, BASE_EFORMAT, "cannot resample the audio");
    d->n += (size_t)got;
    return 0;
}

/* Take every frame the decoder has ready. */
static int drain(dec *d, err_buf *eb) {
    char m[128];
    for (;;) {
        int rc = avcodec_receive_frame(d->cc, d->frame);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return 0;
        if (rc < 0)
            return err_set(eb, BASE_EFORMAT, "the audio cannot be decoded: %s",
                           av_msg(rc, m, sizeof m));
        rc = convert(d, d->frame, eb);
        av_frame_unref(d->frame);
        if (rc) return rc;
    }
}

static int open_input(dec *d, mem_reader *mr, err_buf *eb) {
    char m[128];
    uint8_t *iobuf = av_malloc(AVIO_BUF);
    if (!iobuf) return err_set(eb, BASE_ENOMEM, "out of memory");
    d->io = avio_alloc_context(iobuf, AVIO_BUF, 0, mr, mem_read, NULL, mem_seek);
    d->fmt = avformat_alloc_context();
    if (!d->io || !d->fmt) {
        if (!d->io) av_free(iobuf);
        return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    d->fmt->pb = d->io;
    d->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    int rc = avformat_open_input(&d->fmt, NULL, NULL, NULL);
    if (rc < 0) {
        d->fmt = NULL; /* freed by avformat_open_input on failure */
        return err_set(eb, BASE_EFORMAT, "the file is not audio in a format we can read (%s)",
                       av_msg(rc, m, sizeof m));
    }
    rc = avformat_find_stream_info(d->fmt, NULL);
    if (rc < 0)
        return err_set(eb, BASE_EFORMAT, "the audio cannot be read: %s", av_msg(rc, m, sizeof m));
    return 0;
}

static int open_decoder(dec *d, int *stream, err_buf *eb) {
    char m[128];
    const AVCodec *codec = NULL;
    int si = av_find_best_stream(d->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (si == AVERROR_STREAM_NOT_FOUND)
        return err_set(eb, BASE_EFORMAT, "the file (%s) has no audio stream",
                       d->fmt->iformat->name);
    if (si < 0 || !codec)
        return err_set(eb, BASE_EFORMAT, "the %s file's audio codec is not supported",
                       d->fmt->iformat->name);
    *stream = si;
    d->cc = avcodec_alloc_context3(codec);
    if (!d->cc) return err_set(eb, BASE_ENOMEM, "out of memory");
    int rc = avcodec_parameters_to_context(d->cc, d->fmt->streams[si]->codecpar);
    if (rc >= 0) rc = avcodec_open2(d->cc, codec, NULL);
    if (rc < 0)
        return err_set(eb, BASE_EFORMAT, "cannot open the %s decoder: %s", codec->name,
                       av_msg(rc, m, sizeof m));
    if (d->cc->sample_rate <= 0 || d->cc->ch_layout.nb_channels <= 0)
        return err_set(eb, BASE_EFORMAT, "the audio stream has no sample rate or channels");
    /* Mono: every channel mixed in with equal weight (swr's default downmix matrix). */
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    rc = swr_alloc_set_opts2(&d->swr, &mono, AV_SAMPLE_FMT_FLT, AUDIO_STT_RATE, &d->cc->ch_layout,
                             d->cc->sample_fmt, d->cc->sample_rate, 0, NULL);
    if (rc >= 0) rc = swr_init(d->swr);
    if (rc < 0)
        return err_set(eb, BASE_EFORMAT, "cannot resample this audio: %s", av_msg(rc, m, sizeof m));
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!d->pkt || !d->frame) return err_set(eb, BASE_ENOMEM, "out of memory");
    return 0;
}

/* FFmpeg's log goes to stderr; our errors carry its messages instead. */
static void quiet_ffmpeg(void) { av_log_set_level(AV_LOG_QUIET); }

int audio_decode(const void *data, size_t len, float **pcm, size_t *n, err_buf *eb) {
    *pcm = NULL;
    *n = 0;
    if (!len) return err_set(eb, BASE_EFORMAT, "the audio file is empty");
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, quiet_ffmpeg);
    mem_reader mr = {data, len, 0};
    dec d = {0};
    char m[128];
    int stream = -1, rc = open_input(&d, &mr, eb);
    if (!rc) rc = open_decoder(&d, &stream, eb);
    while (!rc) {
        int r = av_read_frame(d.fmt, d.pkt);
        if (r == AVERROR_EOF) break;
        /* A truncated file ends where the data does: keep what decoded so far. */
        if (r < 0) {
            if (d.n) break;
            rc = err_set(eb, BASE_EFORMAT, "the audio cannot be read: %s", av_msg(r, m, sizeof m));
            break;
        }
        if (d.pkt->stream_index == stream) {
            r = avcodec_send_packet(d.cc, d.pkt);
            /* One corrupt packet in an otherwise good file is skipped, as ffmpeg does. */
            if (r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_INVALIDDATA)
                rc = err_set(eb, BASE_EFORMAT, "the audio cannot be decoded: %s",
                             av_msg(r, m, sizeof m));
            if (!rc) rc = drain(&d, eb);
        }
        av_packet_unref(d.pkt);
    }
    if (!rc) {
        avcodec_send_packet(d.cc, NULL);
        rc = drain(&d, eb);
    }
    if (!rc) rc = convert(&d, NULL, eb);
    if (!rc && !d.n) rc = err_set(eb, BASE_EFORMAT, "the audio file holds no samples");
    dec_free(&d);
    if (rc) {
        mem_free(d.out);
        return rc;
    }
    *pcm = d.out;
    *n = d.n;
    return 0;
}
