/*
 * libFuzzer target: compile arbitrary bytes as a template and, when that works, render it
 * with a small chat context and tight limits. Any crash, leak or sanitizer report is a bug.
 */
#include <stddef.h>
#include <stdint.h>

#include "template/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tmpl *t = NULL;
    err_buf eb = {0};
    if (tmpl_compile((const char *)data, size, &t, &eb) < 0) return 0;
    json_t *vars = json_pack("{s:[{s:s,s:s},{s:s,s:s}],s:n,s:b,s:s,s:s}", "messages", "role",
                             "system", "content", "Be brief.", "role", "user", "content", "Hi",
                             "tools", "add_generation_prompt", 1, "bos_token", "<s>",
                             "eos_token", "</s>");
    tmpl_params p = tmpl_default_params();
    p.now_unix = 1752148800;
    p.max_steps = 20000;
    p.max_output = 1 << 16;
    p.max_memory = 16u << 20;
    p.max_depth = 100;
    buf out = {0};
    (void)tmpl_render(t, vars, &p, &out, &eb);
    buf_free(&out);
    json_decref(vars);
    tmpl_free(t);
    return 0;
}
