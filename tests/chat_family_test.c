/*
 * A GGUF without tokenizer.chat_template and a config without `template`: the registry picks
 * the built-in template of the family the vocabulary's special tokens name (stories260K
 * rewritten with a few of its tokens renamed), and ChatML when nothing matches.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "test.h"

/* Copy stories260K into dir/name.gguf with tokens 300.. renamed to specials[]. */
static void write_variant(const char *dir, const char *name, const char *const *specials) {
    err_buf eb = {0};
    gguf *g;
    ASSERT_OK(gguf_open(test_shared_file("testdata/llm/stories260K.gguf"), &g, &eb), &eb);
    gguf_writer *w = gguf_writer_new();
    ASSERT_NOT_NULL(w);
    ASSERT_EQ_INT(gguf_writer_copy_kv(w, g, NULL), 0);
    ASSERT_EQ_INT(gguf_find_key(g, "tokenizer.chat_template") < 0, 1);
    gguf_arr a;
    ASSERT_OK(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_VT_STRING, &a, &eb), &eb);
    char **strs = calloc(a.n, sizeof *strs);
    for (uint64_t i = 0; i < a.n; i++) {
        str_slice s = gguf_arr_str(&a, i);
        strs[i] = strndup(s.ptr, s.len);
    }
    for (int k = 0; specials && specials[k]; k++) {
        free(strs[300 + k]);
        strs[300 + k] = strdup(specials[k]);
    }
    ASSERT_EQ_INT(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)strs, a.n), 0);
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        ASSERT_EQ_INT(gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes), 0);
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.gguf", dir, name);
    ASSERT_OK(gguf_writer_write_file(w, path, &eb), &eb);
    gguf_writer_free(w);
    for (uint64_t i = 0; i < a.n; i++) free(strs[i]);
    free(strs);
    gguf_close(g);
}

static void expect_render(mdl_registry *r, const char *name, const char *needle) {
    err_buf eb = {0};
    mdl_handle *h;
    ASSERT_OK(mdl_acquire(r, name, &h, &eb), &eb);
    json_t *msgs = json_loads("[{\"role\":\"user\",\"content\":\"Hi\"}]", 0, NULL);
    buf out = {0};
    ASSERT_OK(tmpl_render_chat(mdl_handle_tmpl(h), msgs, NULL, true, "<s>", "</s>", NULL, &out, &eb), &eb);
    if (!strstr(out.data, needle))
        test_fail(__FILE__, __LINE__, "%s rendered %s, wanted %s in it", name, out.data, needle);
    buf_free(&out);
    json_decref(msgs);
    mdl_release(h);
}

TEST(models_template_family_from_vocab) {
    const char *dir = test_tmpdir();
    write_variant(dir, "l3", (const char *[]){"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", NULL});
    write_variant(dir, "gem", (const char *[]){"<start_of_turn>", "<end_of_turn>", NULL});
    write_variant(dir, "mis", (const char *[]){"[INST]", "[/INST]", NULL});
    write_variant(dir, "plain", NULL);
    mdl_registry_params p = mdl_registry_default_params();
    p.models_path = dir;
    mdl_registry *r;
    err_buf eb = {0};
    ASSERT_OK(mdl_registry_open(&p, &r, &eb), &eb);
    expect_render(r, "l3", "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
    expect_render(r, "gem", "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n");
    expect_render(r, "mis", "[INST]Hi[/INST]");
    expect_render(r, "plain", "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    mdl_registry_free(r);
}
