/* Loading a model and a thread pool for the commands that run one (eval, generate, bench). */
#include "cli.h"

int cli_open_model(const char *path, unsigned threads, llm_model **m, tpool **pool) {
    err_buf eb = {0};
    *m = NULL;
    *pool = NULL;
    if (llm_model_load(path, m, &eb)) {
        fprintf(stderr, "local-ai: cannot load %s: %s\n", path, err_msg(&eb));
        return 1;
    }
    *pool = tpool_new((int)threads);
    if (!*pool) {
        fprintf(stderr, "local-ai: cannot start %u threads\n", threads);
        llm_model_free(*m);
        *m = NULL;
        return 1;
    }
    return 0;
}

void cli_close_model(llm_model *m, tpool *pool) {
    tpool_free(pool);
    llm_model_settle(m); /* the next run maps the repack cache */
    llm_model_free(m);
}
