/* End to end: `local-ai run` with stories260K, driven over HTTP: models, completions and
 * chat (not streamed), greedy text, seeds, stop strings, lengths and usage, tokenize. */
#include "api_util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

static void post(api_server *s, const char *path, const char *body, api_resp *r) {
    api_http(s, "POST", path, body, NULL, r);
    if (!r->json) test_fail(__FILE__, __LINE__, "POST %s: not JSON: %s", path, r->body.data);
}

TEST(api_models_list_and_get) {
    api_server s;
    api_server_start(&s, NULL);
    const char *paths[] = {"/v1/models", "/models"};
    for (int i = 0; i < 2; i++) {
        api_resp r;
        api_http(&s, "GET", paths[i], NULL, NULL, &r);
        ASSERT_EQ_INT(r.status, 200);
        ASSERT_EQ_STR(api_jstr(r.json, "object"), "list");
        json_t *data = api_jget(r.json, "data");
        /* The two files, then the built-in speech models. */
        ASSERT_EQ_INT(json_array_size(data), 7);
        ASSERT_EQ_STR(api_jstr(data, "0.id"), "stories260K.gguf");
        ASSERT_EQ_STR(api_jstr(data, "0.object"), "model");
        ASSERT_EQ_STR(api_jstr(data, "0.owned_by"), "local-ai");
        ASSERT_EQ_STR(api_jstr(data, "1.id"), "tiny");
        ASSERT_EQ_STR(api_jstr(data, "2.id"), "espeak");
        ASSERT_EQ_STR(api_jstr(data, "3.id"), "pocketsphinx");
        ASSERT_EQ_STR(api_jstr(data, "6.id"), "whisper-1");
        api_resp_free(&r);
    }
    api_resp r;
    api_http(&s, "GET", "/v1/models/tiny", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(api_jstr(r.json, "id"), "tiny");
    api_resp_free(&r);
    api_http(&s, "GET", "/models/stories260K", NULL, NULL, &r); /* without .gguf */
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    api_http(&s, "GET", "/v1/models/nope", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_EQ_STR(api_jstr(r.json, "error.code"), "model_not_found");
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(api_completion_greedy_matches_reference) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    /* An empty prompt is just BOS: the reference run's input. */
    post(&s, "/v1/completions",
         "{\"model\":\"stories260K\",\"prompt\":\"\",\"max_tokens\":24,\"temperature\":0}", &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strncmp(api_jstr(r.json, "id"), "cmpl-", 5) == 0);
    ASSERT_EQ_STR(api_jstr(r.json, "object"), "text_completion");
    ASSERT_EQ_STR(api_jstr(r.json, "model"), "stories260K");
    ASSERT_NOT_NULL(api_jstr(r.json, "system_fingerprint"));
    ASSERT_TRUE(api_jint(r.json, "created") > 1700000000);
    const char *text = api_jstr(r.json, "choices.0.text");
    ASSERT_NOT_NULL(text);
    ASSERT_TRUE(strlen(text) > 40);
    if (strncmp(api_greedy_text(), text, strlen(text)))
        test_fail(__FILE__, __LINE__, "not the reference greedy text: \"%s\"", text);
    ASSERT_EQ_INT(api_jint(r.json, "choices.0.index"), 0);
    ASSERT_TRUE(json_is_null(api_jget(r.json, "choices.0.logprobs")));
    ASSERT_EQ_STR(api_jstr(r.json, "choices.0.finish_reason"), "length");
    ASSERT_EQ_INT(api_jint(r.json, "usage.prompt_tokens"), 1);
    ASSERT_EQ_INT(api_jint(r.json, "usage.completion_tokens"), 24);
    ASSERT_EQ_INT(api_jint(r.json, "usage.total_tokens"), 25);
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(api_completion_deterministic_seeded_and_prefix_cached) {
    api_server s;
    api_server_start(&s, NULL);
    const char *greedy = "{\"model\":\"tiny\",\"prompt\":\"Once upon a time\",\"max_tokens\":16}";
    api_resp a, b;
    post(&s, "/completions", greedy, &a); /* tiny's config says temperature 0 */
    post(&s, "/completions", greedy, &b);
    ASSERT_EQ_STR(api_jstr(a.json, "choices.0.text"), api_jstr(b.json, "choices.0.text"));
    ASSERT_TRUE(strncmp(api_jstr(a.json, "choices.0.text"), ", there was", 11) == 0);
    /* The second request found its prompt in the slot's cache (all but the last token). */
    ASSERT_EQ_INT(api_jint(a.json, "usage.prompt_tokens_details.cached_tokens"), 0);
    ASSERT_EQ_INT(api_jint(b.json, "usage.prompt_tokens_details.cached_tokens"),
                  api_jint(b.json, "usage.prompt_tokens") - 1);
    api_resp_free(&a);
    api_resp_free(&b);
    const char *seeded = "{\"model\":\"stories260K\",\"prompt\":\"Once upon a time\","
                         "\"max_tokens\":24,\"temperature\":1.0,\"seed\":1234}";
    post(&s, "/v1/completions", seeded, &a);
    post(&s, "/v1/completions", seeded, &b);
    ASSERT_EQ_INT(a.status, 200);
    ASSERT_EQ_STR(api_jstr(a.json, "choices.0.text"), api_jstr(b.json, "choices.0.text"));
    api_resp_free(&a);
    api_resp_free(&b);
    api_server_stop(&s);
}

TEST(api_completion_stop_echo_logprobs_and_n) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    post(&s, "/v1/completions",
         "{\"model\":\"tiny\",\"prompt\":\"\",\"max_tokens\":60,\"stop\":[\"Lily\",\"zebra\"]}", &r);
    ASSERT_EQ_STR(api_jstr(r.json, "choices.0.text"), "Once upon a time, there was a little girl named ");
    ASSERT_EQ_STR(api_jstr(r.json, "choices.0.finish_reason"), "stop");
    api_resp_free(&r);

    post(&s, "/v1/completions",
         "{\"model\":\"tiny\",\"prompt\":\"Once upon\",\"max_tokens\":3,\"echo\":true,\"logprobs\":2}", &r);
    const char *text = api_jstr(r.json, "choices.0.text");
    ASSERT_TRUE(strncmp(text, "Once upon a time", 16) == 0);
    json_t *lp = api_jget(r.json, "choices.0.logprobs");
    ASSERT_EQ_INT(json_array_size(json_object_get(lp, "tokens")), 3);
    ASSERT_EQ_STR(api_jstr(lp, "tokens.0"), " a");
    ASSERT_TRUE(json_real_value(api_jget(lp, "token_logprobs.0")) <= 0);
    ASSERT_EQ_INT(json_object_size(api_jget(lp, "top_logprobs.0")), 2);
    ASSERT_EQ_INT(json_array_size(json_object_get(lp, "text_offset")), 3);
    api_resp_free(&r);

    /* Two prompts, two choices each: indices 0..3, prompts counted once each. */
    post(&s, "/v1/completions",
         "{\"model\":\"tiny\",\"prompt\":[\"Once\",[1,403]],\"max_tokens\":4,\"n\":2}", &r);
    json_t *ch = api_jget(r.json, "choices");
    ASSERT_EQ_INT(json_array_size(ch), 4);
    for (int i = 0; i < 4; i++) ASSERT_EQ_INT(api_jint(json_array_get(ch, (size_t)i), "index"), i);
    ASSERT_EQ_STR(api_jstr(ch, "0.text"), api_jstr(ch, "1.text")); /* greedy: the same */
    ASSERT_EQ_INT(api_jint(r.json, "usage.completion_tokens"), 16);
    ASSERT_EQ_INT(api_jint(r.json, "usage.prompt_tokens"), 2 + 2);
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(api_chat_shape_and_usage) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    post(&s, "/v1/chat/completions",
         "{\"model\":\"tiny\",\"messages\":[{\"role\":\"system\",\"content\":\"Tell a story.\"},"
         "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Once upon a time\"}]}],"
         "\"max_tokens\":8,\"logprobs\":true,\"top_logprobs\":2}",
         &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strncmp(api_jstr(r.json, "id"), "chatcmpl-", 9) == 0);
    ASSERT_EQ_STR(api_jstr(r.json, "object"), "chat.completion");
    ASSERT_EQ_STR(api_jstr(r.json, "model"), "tiny");
    ASSERT_EQ_STR(api_jstr(r.json, "choices.0.message.role"), "assistant");
    ASSERT_NOT_NULL(api_jstr(r.json, "choices.0.message.content"));
    const char *fin = api_jstr(r.json, "choices.0.finish_reason");
    long long gen = api_jint(r.json, "usage.completion_tokens");
    ASSERT_TRUE(!strcmp(fin, "length") ? gen == 8 : !strcmp(fin, "stop") && gen < 8);
    /* ChatML around two messages: well over the 4 words of content. */
    ASSERT_TRUE(api_jint(r.json, "usage.prompt_tokens") > 20);
    ASSERT_EQ_INT(api_jint(r.json, "usage.total_tokens"),
                  api_jint(r.json, "usage.prompt_tokens") + gen);
    json_t *content = api_jget(r.json, "choices.0.logprobs.content");
    ASSERT_EQ_INT(json_array_size(content), gen);
    ASSERT_EQ_INT(json_array_size(api_jget(content, "0.top_logprobs")), 2);
    ASSERT_TRUE(json_is_array(api_jget(content, "0.bytes")));
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(api_tokenize_roundtrip) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    post(&s, "/v1/tokenize", "{\"model\":\"tiny\",\"content\":\"Once upon a time\"}", &r);
    ASSERT_EQ_INT(r.status, 200);
    json_t *toks = api_jget(r.json, "tokens");
    ASSERT_TRUE(json_array_size(toks) >= 4);
    ASSERT_TRUE(api_jint(toks, "0") != 1); /* no BOS unless asked */
    char *ids = json_dumps(toks, JSON_COMPACT);
    char body[1024];
    snprintf(body, sizeof body, "{\"model\":\"tiny\",\"tokens\":%s}", ids);
    free(ids);
    api_resp_free(&r);
    post(&s, "/detokenize", body, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(api_jstr(r.json, "content"), "Once upon a time");
    api_resp_free(&r);
    post(&s, "/tokenize", "{\"model\":\"tiny\",\"content\":\"Once\",\"add_special\":true,\"with_pieces\":true}", &r);
    ASSERT_EQ_INT(api_jint(r.json, "tokens.0.id"), 1);
    ASSERT_NOT_NULL(api_jstr(r.json, "tokens.1.piece"));
    api_resp_free(&r);
    post(&s, "/detokenize", "{\"model\":\"tiny\",\"tokens\":[99999]}", &r);
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_EQ_STR(api_jstr(r.json, "error.param"), "tokens");
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(api_chat_uses_config_template_and_one_bos) {
    /* A config with its own Jinja template that writes BOS itself: the prompt must then be
     * BOS once, then the text, exactly what a completion of the same text sees. */
    char stories[4096], path[4200], yaml[8400];
    ASSERT_NOT_NULL(realpath(test_shared_file("testdata/llm/stories260K.gguf"), stories));
    snprintf(path, sizeof path, "%s/story.yaml", test_tmpdir());
    snprintf(yaml, sizeof yaml,
             "name: story\nparameters:\n  model: %s\n  temperature: 0\n"
             "template: \"{{ bos_token }}{%% for m in messages %%}{{ m['content'] }}{%% endfor %%}\"\n",
             stories);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs(yaml, f);
    fclose(f);
    api_server s;
    api_server_start(&s, NULL);
    api_resp chat, comp;
    post(&s, "/v1/chat/completions",
         "{\"model\":\"story\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],\"max_tokens\":10}",
         &chat);
    post(&s, "/v1/completions", "{\"model\":\"story\",\"prompt\":\"Once upon a time\",\"max_tokens\":10}", &comp);
    ASSERT_EQ_INT(chat.status, 200);
    ASSERT_EQ_INT(api_jint(chat.json, "usage.prompt_tokens"), api_jint(comp.json, "usage.prompt_tokens"));
    ASSERT_EQ_STR(api_jstr(chat.json, "choices.0.message.content"), api_jstr(comp.json, "choices.0.text"));
    ASSERT_TRUE(strncmp(api_jstr(comp.json, "choices.0.text"), ", there was a little girl", 25) == 0);
    api_resp_free(&chat);
    api_resp_free(&comp);
    api_server_stop(&s);
}
