/*
 * `local-ai tts TEXT -o FILE`: speak TEXT with espeak-ng into an audio file (wav, mp3, opus,
 * flac or raw pcm; by default the file's extension says which). "-o -" writes to stdout.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "audio/audio.h"
#include "cli.h"
#include "tts/tts.h"

void cmd_tts_usage(FILE *f) {
    fprintf(f, "usage: local-ai tts TEXT -o FILE [--voice V] [--format F] [--speed S]\n\n"
               "Speak TEXT with espeak-ng into FILE.\n\n"
               "flags:\n"
               "  -o, --output FILE     where to write the audio ('-': stdout)\n"
               "  -v, --voice V         an espeak-ng voice or language: en-us, de, fr+f2 ...,\n"
               "                        or an OpenAI voice name (default en-us)\n"
               "  -f, --format F        wav, mp3, opus, flac or pcm (default: from FILE's\n"
               "                        extension, else wav)\n"
               "  -s, --speed S         0.25 to 4.0 (default 1)\n"
               "  --list-voices         print the voices and exit\n"
               "  -h, --help            show this help\n");
}

/* Stdout gets each sentence as it is spoken; a file is written whole at the end, so its
 * header carries the real length (a stream's wav header says "unknown"). */
typedef struct sink {
    audio_enc *enc; /* stdout */
    buf pcm;        /* a file: every sample */
    err_buf eb;
} sink;

static int on_pcm(const int16_t *pcm, size_t n, void *ud) {
    sink *s = ud;
    if (!s->enc) return buf_append(&s->pcm, pcm, n * sizeof *pcm);
    return audio_enc_write(s->enc, pcm, n, &s->eb);
}

static int to_file(const void *data, size_t len, void *ud) {
    return fwrite(data, 1, len, ud) == len ? 0 : 1;
}

static int list_voices(void) {
    tts_voice *v;
    int n;
    err_buf eb = {0};
    if (tts_voices(&v, &n, &eb)) {
        fprintf(stderr, "local-ai tts: %s\n", err_msg(&eb));
        return 1;
    }
    for (int i = 0; i < n; i++) printf("%-16s %s\n", v[i].id, v[i].name);
    tts_voices_free(v, n);
    return 0;
}

int cmd_tts(int argc, char **argv) {
    const cli_command *self = cli_find("tts");
    const char *out = NULL, *format = NULL;
    tts_params p = tts_default_params();
    enum { OPT_LIST = 1 };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"voice", required_argument, NULL, 'v'},
        {"format", required_argument, NULL, 'f'},
        {"speed", required_argument, NULL, 's'},
        {"list-voices", no_argument, NULL, OPT_LIST},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, ":o:v:f:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'v': p.voice = optarg; break;
        case 'f': format = optarg; break;
        case 's':
            p.speed = strtof(optarg, &end);
            if (*end || p.speed < 0.25f || p.speed > 4.0f)
                return cli_usage_error(self, "--speed must be a number from 0.25 to 4.0");
            break;
        case OPT_LIST: return list_voices();
        case 'h': cmd_tts_usage(stdout); return 0;
        case ':': return cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_usage_error(self, "no text given");
    if (optind + 1 < argc)
        return cli_usage_error(self, "unexpected argument '%s' (quote the text)", argv[optind + 1]);
    if (!out) return cli_usage_error(self, "no output file given (-o FILE)");
    audio_format f = AUDIO_FMT_WAV;
    const char *dot = strrchr(out, '.');
    if (format) {
        if (audio_format_parse(format, &f))
            return cli_usage_error(self, "--format must be wav, mp3, opus, flac or pcm");
    } else if (dot && audio_format_parse(dot + 1, &f)) {
        if (!strcmp(dot + 1, "ogg"))
            f = AUDIO_FMT_OPUS;
        else if (!strcmp(dot + 1, "raw"))
            f = AUDIO_FMT_PCM;
        else
            f = AUDIO_FMT_WAV;
    }
    err_buf eb = {0};
    if (tts_init(&eb)) {
        fprintf(stderr, "local-ai tts: %s\n", err_msg(&eb));
        return 1;
    }
    if (!tts_voice_exists(p.voice)) {
        fprintf(stderr, "local-ai tts: unknown voice '%s' (local-ai tts --list-voices)\n", p.voice);
        return 1;
    }
    FILE *fp = strcmp(out, "-") ? fopen(out, "wb") : stdout;
    if (!fp) {
        fprintf(stderr, "local-ai tts: cannot write %s\n", out);
        return 1;
    }
    audio_enc_params ep = audio_enc_default_params(f, tts_sample_rate());
    ep.streaming = fp == stdout;
    sink s = {0};
    buf file = {0};
    int rc = ep.streaming ? audio_enc_new(&ep, to_file, fp, &s.enc, &eb) : 0;
    if (!rc) rc = tts_synthesize(&p, argv[optind], on_pcm, &s, &eb);
    if (!rc && s.enc) rc = audio_enc_finish(s.enc, &eb);
    if (!rc && !s.enc)
        rc = audio_encode(&ep, (const int16_t *)s.pcm.data, s.pcm.len / 2, &file, &eb);
    if (!rc && file.len && fwrite(file.data, 1, file.len, fp) != file.len)
        rc = err_set(&eb, BASE_EIO, "cannot write %s", out);
    audio_enc_free(s.enc);
    buf_free(&s.pcm);
    buf_free(&file);
    if (rc) fprintf(stderr, "local-ai tts: %s\n", err_msg(s.eb.code ? &s.eb : &eb));
    if (fp != stdout && fclose(fp))
        rc = rc ? rc : BASE_EIO;
    else if (fp == stdout && fflush(fp))
        rc = rc ? rc : BASE_EIO;
    return rc ? 1 : 0;
}
