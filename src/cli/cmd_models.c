/*
 * `local-ai models list|install|remove`: the gallery from the command line, and the helpers
 * `run` uses to install the models named on its command line before serving.
 */
#include <dirent.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gallery/gallery.h"

void cmd_models_usage(FILE *f) {
    fprintf(f,
            "usage: local-ai models list [flags]\n"
            "       local-ai models install NAME|URI [--name N] [flags]\n"
            "       local-ai models remove NAME [flags]\n\n"
            "List the gallery's models and the installed ones, install one by gallery name\n"
            "(or gallery@name) or by URI (https://, file://, huggingface://owner/repo/file,\n"
            "hf.co/owner/repo:QUANT, ollama://name:tag), or remove an installed one.\n\n"
            "flags (environment variable in brackets):\n"
            "  --models-path DIR     where models and their configs live\n"
            "                        [LOCALAI_MODELS_PATH] (default ./models)\n"
            "  --galleries LIST      extra gallery indexes, comma-separated URLs or files\n"
            "                        [LOCALAI_GALLERIES]\n"
            "  --name N              install: the model's name (default: the gallery's)\n"
            "  -h, --help            show this help\n\n"
            "Hosts: LOCALAI_HF_ENDPOINT (default https://huggingface.co), HF_TOKEN,\n"
            "LOCALAI_OLLAMA_REGISTRY (default https://registry.ollama.ai).\n");
}

typedef struct bar {
    uint64_t last_ns;
} bar;

/* A one-line progress bar, redrawn at most ten times a second. */
static void draw_bar(void *ud, const gal_progress *p) {
    bar *b = ud;
    uint64_t now = time_now_ns();
    bool end = p->total && p->done >= p->total;
    if (!end && now - b->last_ns < 100000000ull) return;
    b->last_ns = now;
    double pct = p->total ? 100.0 * (double)p->done / (double)p->total : 0;
    char fill[31];
    int w = (int)(pct * 30 / 100);
    for (int i = 0; i < 30; i++) fill[i] = i < w ? '=' : ' ';
    fill[30] = 0;
    char eta[32] = "";
    if (p->eta_s >= 0) snprintf(eta, sizeof eta, " ETA %.0fs", p->eta_s);
    fprintf(stderr, "\r%-28.28s %5.1f%% [%s] %7.1f/%.1f MiB %6.1f MiB/s%-10s", p->file, pct,
            fill, (double)p->done / 1048576.0, (double)p->total / 1048576.0,
            p->rate / 1048576.0, eta);
    if (end) fputc('\n', stderr);
    fflush(stderr);
}

int cli_gallery_open(const char *models_path, const char *galleries, gal_opts *o,
                     gal_catalog **cat) {
    static bar b;
    *o = gal_default_opts();
    o->models_path = models_path;
    if (isatty(2)) {
        o->on_progress = draw_bar;
        o->ud = &b;
    }
    err_buf eb = {0};
    if (gal_catalog_load(o, galleries, cat, &eb)) {
        fprintf(stderr, "local-ai: %s\n", err_msg(&eb));
        return 1;
    }
    return 0;
}

int cli_install_model(const gal_opts *o, const gal_catalog *cat, const char *id,
                      const char *name) {
    err_buf eb = {0};
    char *out = NULL;
    if (gal_install(o, cat, id, name, &out, &eb)) {
        fprintf(stderr, "local-ai: cannot install %s: %s\n", id, err_msg(&eb));
        return 1;
    }
    printf("installed %s\n", out);
    fflush(stdout);
    mem_free(out);
    return 0;
}

static int list(const gal_opts *o, const gal_catalog *cat) {
    printf("%-32s %-10s %s\n", "NAME", "STATUS", "DESCRIPTION");
    for (int i = 0; i < gal_catalog_size(cat); i++) {
        const gal_entry *e = gal_catalog_at(cat, i);
        printf("%-32s %-10s %s\n", e->name,
               gal_is_installed(o->models_path, e->name) ? "installed" : "-",
               e->description ? e->description : "");
    }
    /* Installed models that no gallery lists (installed by URI, or written by hand). */
    DIR *d = opendir(o->models_path);
    for (struct dirent *de; d && (de = readdir(d));) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".yaml")) continue;
        char nm[256];
        snprintf(nm, sizeof nm, "%.*s", (int)(n - 5), de->d_name);
        if (!gal_catalog_find(cat, nm)) printf("%-32s %-10s %s\n", nm, "installed", "");
    }
    if (d) closedir(d);
    return 0;
}

int cmd_models(int argc, char **argv) {
    const cli_command *self = cli_find("models");
    const char *models_path = cli_env("LOCALAI_MODELS_PATH", "./models");
    const char *galleries = cli_env("LOCALAI_GALLERIES", NULL);
    const char *name = NULL;
    enum { OPT_MODELS = 1, OPT_GALLERIES, OPT_NAME };
    static const struct option opts[] = {
        {"models-path", required_argument, NULL, OPT_MODELS},
        {"galleries", required_argument, NULL, OPT_GALLERIES},
        {"name", required_argument, NULL, OPT_NAME},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_MODELS: models_path = optarg; break;
        case OPT_GALLERIES: galleries = optarg; break;
        case OPT_NAME: name = optarg; break;
        case 'h': cmd_models_usage(stdout); return 0;
        case ':': return cli_usage_error(self, "flag '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(self, "unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_usage_error(self, "expected list, install or remove");
    const char *verb = argv[optind++];
    int want = !strcmp(verb, "list") ? 0 : !strcmp(verb, "install") || !strcmp(verb, "remove") ? 1 : -1;
    if (want < 0) return cli_usage_error(self, "unknown subcommand '%s'", verb);
    if (argc - optind != want)
        return want ? cli_usage_error(self, "%s needs one model name", verb)
                    : cli_usage_error(self, "unexpected argument '%s'", argv[optind]);
    if (name && strcmp(verb, "install")) return cli_usage_error(self, "--name is for install");
    if (!strcmp(verb, "remove")) {
        err_buf eb = {0};
        if (gal_remove(models_path, argv[optind], &eb)) {
            fprintf(stderr, "local-ai: %s\n", err_msg(&eb));
            return 1;
        }
        printf("removed %s\n", argv[optind]);
        return 0;
    }
    gal_opts o;
    gal_catalog *cat;
    if (cli_gallery_open(models_path, galleries, &o, &cat)) return 1;
    int rc = !strcmp(verb, "list") ? list(&o, cat) : cli_install_model(&o, cat, argv[optind], name);
    gal_catalog_free(cat);
    return rc;
}
