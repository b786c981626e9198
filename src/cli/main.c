/* local-ai: the entry point. It only dispatches to a subcommand in cli/. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int cmd_version(int argc, char **argv);
static void cmd_version_usage(FILE *f);
static int cmd_help(int argc, char **argv);
static void cmd_help_usage(FILE *f);

const cli_command cli_commands[] = {
    {"run", "Start the API server", cmd_run, cmd_run_usage},
    {"tokenize", "Print the token ids of a text", cmd_tokenize, cmd_tokenize_usage},
    {"embed", "Print the embeddings of texts (encoder models)", cmd_embed, cmd_embed_usage},
    {"eval", "Evaluate tokens and write the logits of every position", cmd_eval, cmd_eval_usage},
    {"generate", "Complete a prompt and stream the text", cmd_generate, cmd_generate_usage},
    {"bench", "Measure prompt and generation speed", cmd_bench, cmd_bench_usage},
    {"chat-template", "Render a chat with a model's template", cmd_chat_template, cmd_chat_template_usage},
    {"perplexity", "Compute the perplexity of a text", cmd_perplexity, cmd_perplexity_usage},
    {"models", "List, install and remove models from the galleries", cmd_models, cmd_models_usage},
    {"users", "Create, list, change and delete users", cmd_users, cmd_users_usage},
    {"keys", "Create, list and revoke API keys", cmd_keys, cmd_keys_usage},
    {"usage", "Show token and request usage per day, key, user and model", cmd_usage, cmd_usage_usage},
    {"transcript", "Transcribe an audio file (speech to text)", cmd_transcript, cmd_transcript_usage},
    {"tts", "Speak a text into an audio file (text to speech)", cmd_tts, cmd_tts_usage},
    {"version", "Print the version", cmd_version, cmd_version_usage},
    {"help", "Show help for a command", cmd_help, cmd_help_usage},
    {NULL, NULL, NULL, NULL},
};

static void usage(FILE *f) {
    fprintf(f, "usage: local-ai <command> [flags]\n\n"
               "A self-hosted, OpenAI-compatible AI server.\n\ncommands:\n");
    for (const cli_command *c = cli_commands; c->name; c++)
        fprintf(f, "  %-12s %s\n", c->name, c->summary);
    fprintf(f, "\nRun 'local-ai <command> --help' for the flags of a command.\n");
}

static void cmd_version_usage(FILE *f) { fprintf(f, "usage: local-ai version\n"); }

static int cmd_version(int argc, char **argv) {
    if (argc > 1) {
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
            cmd_version_usage(stdout);
            return 0;
        }
        return cli_usage_error(cli_find("version"), "unexpected argument '%s'", argv[1]);
    }
    printf("local-ai %s\n", LOCALAI_VERSION);
    return 0;
}

static void cmd_help_usage(FILE *f) { fprintf(f, "usage: local-ai help [command]\n"); }

static int cmd_help(int argc, char **argv) {
    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    const cli_command *c = cli_find(argv[1]);
    if (!c) {
        fprintf(stderr, "local-ai: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    c->usage(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "local-ai: no command given\n\n");
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version")) return cmd_version(1, argv + 1);
    const cli_command *c = cli_find(name);
    if (!c) {
        fprintf(stderr, "local-ai: unknown command '%s'\n\n", name);
        usage(stderr);
        return 2;
    }
    return c->run(argc - 1, argv + 1);
}
