/*
 * `local-ai transcript FILE`: speech to text on the command line, printed to stdout in any of
 * OpenAI's response formats. The model is a whisper.cpp ggml file, a model name from the
 * models directory, or pocketsphinx; without -m, the first Whisper model of the models
 * directory, else pocketsphinx (which needs no download).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio/audio.h"
#include "cli.h"
#include "models/models.h"
#include "speech/speech.h"

void cmd_transcript_usage(FILE *f) {
    fprintf(f,
            "usage: local-ai transcript FILE [-m MODEL] [--language L] [--format F] [flags]\n\n"
            "Transcribe an audio file (wav, mp3, flac, ogg/opus, webm, m4a ...) to stdout.\n\n"
            "flags:\n"
            "  -m, --model MODEL     a whisper ggml .bin file, a model of the models directory,\n"
            "                        or pocketsphinx (default: the first Whisper model in the\n"
            "                        models directory, else pocketsphinx)\n"
            "  --models-path DIR     [LOCALAI_MODELS_PATH] (default ./models)\n"
            "  -l, --language L      spoken language, e.g. en (default: detect)\n"
            "  --translate           translate to English\n"
            "  -f, --format F        text, json, srt, vtt or verbose_json (default text)\n"
            "  --prompt TEXT         initial prompt (Whisper)\n"
            "  --temperature T       first sampling temperature (default 0)\n"
            "  --no-fallback         never raise the temperature on a failed window\n"
            "  --no-timestamps       decode without timestamps\n"
            "  --words               word times in verbose_json\n"
            "  -t, --threads N       compute threads (default: all CPUs)\n"
            "  -h, --help            show this help\n");
}

/* The backend and file of -m MODEL (or of the default), into *b and path[cap]. */
static int resolve(const char *model, const char *models_path, speech_backend *b, char *path,
                   size_t cap) {
    struct stat st;
    path[0] = 0;
    *b = SPEECH_SPHINX;
    if (model && (!strcmp(model, "pocketsphinx") || !strcmp(model, "sphinx"))) return 0;
    if (model && stat(model, &st) == 0 && S_ISREG(st.st_mode)) {
        if (!speech_file_is_whisper(model)) {
            fprintf(stderr, "local-ai transcript: %s is not a whisper ggml model\n", model);
            return 1;
        }
        *b = SPEECH_WHISPER;
        snprintf(path, cap, "%s", model);
        return 0;
    }
    /* The registry's info lines are server talk: stdout is the transcript, keep stderr quiet
     * too unless LOCALAI_LOG_LEVEL asks otherwise. */
    log_level lvl = LOG_WARN;
    if (log_level_parse(cli_env("LOCALAI_LOG_LEVEL", "warn"), &lvl)) lvl = LOG_WARN;
    log_set_level(lvl);
    mdl_registry_params p = mdl_registry_default_params();
    p.models_path = models_path;
    mdl_registry *reg;
    err_buf eb = {0};
    if (mdl_registry_open(&p, &reg, &eb)) {
        fprintf(stderr, "local-ai transcript: %s\n", err_msg(&eb));
        return 1;
    }
    char name[256];
    int rc = 0;
    if (!model || !strcmp(model, "whisper-1")) {
        /* The default: a Whisper model when one is installed. */
        if (speech_whisper_built() && !mdl_registry_find_backend(reg, "whisper", name, sizeof name))
            model = name;
        else
            model = "pocketsphinx";
    }
    mdl_handle *h;
    if (mdl_acquire(reg, model, &h, &eb)) {
        fprintf(stderr, "local-ai transcript: %s\n", err_msg(&eb));
        rc = 1;
    } else {
        const mdl_config *c = mdl_handle_config(h);
        if (speech_backend_parse(c->backend, b)) {
            fprintf(stderr,
                    "local-ai transcript: model '%s' (backend %s) is not a speech-to-text model\n",
                    model, *c->backend ? c->backend : "llm");
            rc = 1;
        } else if (c->model_path) {
            snprintf(path, cap, "%s", c->model_path);
        }
        mdl_release(h);
    }
    mdl_registry_free(reg);
    return rc;
}

int cmd_transcript(int argc, char **argv) {
    const cli_command *self = cli_find("transcript");
    const char *model = NULL, *models_path = cli_env("LOCALAI_MODELS_PATH", "./models");
    const char *format = "text";
    stt_opts o;
    stt_opts_init(&o);
    unsigned threads = cli_default_threads();
    enum {
        OPT_MODELS = 1,
        OPT_TRANSLATE,
        OPT_PROMPT,
        OPT_TEMP,
        OPT_NO_FALLBACK,
        OPT_NO_TS,
        OPT_WORDS
    };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"models-path", required_argument, NULL, OPT_MODELS},
        {"language", required_argument, NULL, 'l'},
        {"translate", no_argument, NULL, OPT_TRANSLATE},
        {"format", required_argument, NULL, 'f'},
        {"prompt", required_argument, NULL, OPT_PROMPT},
        {"temperature", required_argument, NULL, OPT_TEMP},
        {"no-fallback", no_argument, NULL, OPT_NO_FALLBACK},
        {"no-timestamps", no_argument, NULL, OPT_NO_TS},
        {"words", no_argument, NULL, OPT_WORDS},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, ":m:l:f:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case OPT_MODELS: models_path = optarg; break;
        case 'l': o.language = optarg; break;
        case OPT_TRANSLATE: o.translate = 1; break;
        case 'f': format = optarg; break;
        case OPT_PROMPT: o.prompt = optarg; break;
        case OPT_TEMP:
            o.temperature = strtof(optarg, &end);
            if (*end || o.temperature < 0 || o.temperature > 1)
                return cli_usage_error(self, "--temperature must be a number from 0 to 1");
            break;
        case OPT_NO_FALLBACK: o.no_fallback = 1; break;
        case OPT_NO_TS: o.no_timestamps = 1; break;
        case OPT_WORDS: o.word_timestamps = 1; break;
        case 't':
            if (cli_parse_uint(optarg, 1, 1024, &threads))
                return cli_usage_error(self, "--threads must be a number from 1 to 1024");
            break;
        case 'h': cmd_transcript_usage(stdout); return 0;
        case ':': return cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_usage_error(self, "no audio file given");
    if (optind + 1 < argc)
        return cli_usage_error(self, "unexpected argument '%s'", argv[optind + 1]);
    stt_format fmt;
    if (stt_format_parse(format, &fmt))
        return cli_usage_error(self, "--format must be text, json, srt, vtt or verbose_json");
    o.threads = (int)threads;
    speech_backend b;
    char path[4096];
    if (resolve(model, models_path, &b, path, sizeof path)) return 1;

    err_buf eb = {0};
    char *data = NULL;
    size_t len = 0;
    float *pcm = NULL;
    size_t n = 0;
    speech_model *m = NULL;
    stt_result res = {0};
    int rc = file_read_all(argv[optind], &data, &len, &eb);
    if (!rc) rc = audio_decode(data, len, &pcm, &n, &eb);
    mem_free(data);
    if (!rc) rc = speech_model_open(b, path, &m, &eb);
    if (!rc) rc = speech_transcribe(m, pcm, n, &o, NULL, NULL, &res, &eb);
    mem_free(pcm);
    speech_model_free(m);
    if (rc) {
        fprintf(stderr, "local-ai transcript: %s: %s\n", argv[optind], err_msg(&eb));
        return 1;
    }
    buf out = {0};
    stt_format_opts fo = {.translate = o.translate, .segments = 1, .words = o.word_timestamps};
    rc = stt_format_result(&res, fmt, &fo, &out);
    stt_result_free(&res);
    if (!rc) {
        fwrite(out.data, 1, out.len, stdout);
        if (fmt == STT_FMT_JSON || fmt == STT_FMT_VERBOSE_JSON) fputc('\n', stdout);
    }
    buf_free(&out);
    return rc || ferror(stdout) ? 1 : 0;
}
