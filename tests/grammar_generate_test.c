/*
 * The end-to-end property: a random-weight model sampling at temperature 1 under a JSON-schema
 * grammar always produces JSON that parses and validates, for 100 seeds, within a token budget
 * (the budget makes the grammar finish in time). A small validator for the schema subset used
 * here checks the output.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "grammar/grammar.h"
#include "test.h"

/* type, properties, required, additionalProperties: false, enum, const, items, minItems,
 * maxItems, minimum, maximum, maxLength (in code points). Returns NULL or what failed. */
static const char *validate(const json_t *v, const json_t *s) {
    const json_t *x;
    if ((x = json_object_get(s, "const")) && !json_equal((json_t *)x, (json_t *)v)) return "const";
    if ((x = json_object_get(s, "enum"))) {
        size_t i;
        json_t *e;
        bool found = false;
        json_array_foreach(x, i, e) found = found || json_equal(e, (json_t *)v);
        if (!found) return "enum";
    }
    const char *type = json_string_value(json_object_get(s, "type"));
    if (!type) return NULL;
    if (strcmp(type, "object") == 0) {
        if (!json_is_object(v)) return "object type";
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(s, "required"), i, r)
            if (!json_object_get(v, json_string_value(r))) return "required";
        const char *k;
        json_t *val;
        const json_t *props = json_object_get(s, "properties");
        json_object_foreach((json_t *)v, k, val) {
            const json_t *ps = json_object_get(props, k);
            if (!ps && json_is_false(json_object_get(s, "additionalProperties"))) return "additional";
            if (ps) {
                const char *why = validate(val, ps);
                if (why) return why;
            }
        }
    } else if (strcmp(type, "array") == 0) {
        if (!json_is_array(v)) return "array type";
        const json_t *mn = json_object_get(s, "minItems"), *mx = json_object_get(s, "maxItems");
        if (mn && json_array_size(v) < (size_t)json_integer_value(mn)) return "minItems";
        if (mx && json_array_size(v) > (size_t)json_integer_value(mx)) return "maxItems";
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            const char *why = validate(e, json_object_get(s, "items"));
            if (why) return why;
        }
    } else if (strcmp(type, "string") == 0) {
        if (!json_is_string(v)) return "string type";
        const json_t *mx = json_object_get(s, "maxLength");
        size_t cps = 0;
        for (const char *p = json_string_value(v); *p; p++) cps += ((unsigned char)*p & 0xC0) != 0x80;
        if (mx && cps > (size_t)json_integer_value(mx)) return "maxLength";
    } else if (strcmp(type, "integer") == 0) {
        if (!json_is_integer(v)) return "integer type";
        const json_t *mn = json_object_get(s, "minimum"), *mx = json_object_get(s, "maximum");
        if (mn && json_integer_value(v) < json_integer_value(mn)) return "minimum";
        if (mx && json_integer_value(v) > json_integer_value(mx)) return "maximum";
    } else if (strcmp(type, "boolean") == 0) {
        if (!json_is_boolean(v)) return "boolean type";
    } else if (strcmp(type, "number") == 0) {
        if (!json_is_number(v)) return "number type";
    }
    return NULL;
}

typedef struct run_stats {
    int finished_eog, hit_budget, masked;
} run_stats;

/* json_object: use grammar_json_object() (schema_text then only validates). */
static void generate_many(const char *model_rel, const char *schema_text, bool json_object,
                          int max_tokens, int n_seeds, run_stats *stats) {
    json_error_t je;
    json_t *schema = json_loads(schema_text, 0, &je);
    if (!schema) test_fail(__FILE__, __LINE__, "bad schema: %s", je.text);
    err_buf eb = {0};
    grammar *g;
    if (json_object) ASSERT_OK(grammar_json_object(&g, &eb), &eb);
    else ASSERT_OK(grammar_from_json_schema(schema, &g, &eb), &eb);
    llm_model *m;
    ASSERT_OK(llm_model_load(test_shared_file(model_rel), &m, &eb), &eb);
    tok *t;
    ASSERT_OK(tok_load(llm_model_gguf(m), &t, &eb), &eb);
    gtrie *tr;
    ASSERT_OK(gtrie_build(t, &tr, &eb), &eb);
    llm_session_params sp = llm_session_default_params();
    sp.n_ctx = max_tokens + 16;
    llm_session *s;
    ASSERT_OK(llm_session_new(m, &sp, NULL, &s, &eb), &eb);
    int nv = tok_n_vocab(t);
    gstate *st = gstate_new(g);
    ASSERT_NOT_NULL(st);
    for (int seed = 0; seed < n_seeds; seed++) {
        smp_params p = smp_default_params();
        p.temperature = 1.0f;
        p.top_k = 0;
        p.top_p = 1.0f;
        p.min_p = 0;
        p.seed = (uint64_t)seed;
        smp *sm;
        ASSERT_OK(smp_new(&p, nv, &sm, &eb), &eb);
        llm_session_truncate(s, 0);
        gstate_reset(st);
        int32_t cur = tok_bos(t) >= 0 ? tok_bos(t) : 0;
        buf text = {0};
        int used = 0;
        for (; used < max_tokens; used++) {
            ASSERT_OK(llm_decode(s, &cur, 1, false, &eb), &eb);
            int32_t id;
            int rc = grammar_sample(st, tr, sm, llm_logits(s, -1), max_tokens - used, NULL, 0, &id);
            if (rc) test_fail(__FILE__, __LINE__, "seed %d: grammar_sample: %d after \"%s\"", seed, rc,
                              text.data ? text.data : "");
            if (tok_is_eog(t, id)) {
                ASSERT_TRUE(gstate_is_complete(st));
                stats->finished_eog++;
                break;
            }
            ASSERT_OK(gstate_accept_token(st, tr, id), NULL);
            smp_accept(sm, id);
            ASSERT_OK(tok_token_bytes(t, id, false, &text), NULL);
            cur = id;
            if (gstate_is_done(st)) break;
        }
        if (used == max_tokens) stats->hit_budget++;
        if (!gstate_is_complete(st))
            test_fail(__FILE__, __LINE__, "seed %d: incomplete after %d tokens: %s", seed, used, text.data);
        json_t *v = json_loadb(text.data ? text.data : "", text.len, 0, &je);
        if (!v) test_fail(__FILE__, __LINE__, "seed %d: not JSON (%s): %s", seed, je.text, text.data);
        const char *why = validate(v, schema);
        if (why) test_fail(__FILE__, __LINE__, "seed %d: fails %s: %s", seed, why, text.data);
        if (seed == 0) {
            json_t *compact = json_deep_copy(v);
            char *one = json_dumps(compact, JSON_COMPACT);
            printf("    seed 0 (%d tokens): %.200s\n", used, one ? one : "");
            free(one);
            json_decref(compact);
        }
        json_decref(v);
        buf_free(&text);
        smp_free(sm);
    }
    gstate_free(st);
    llm_session_free(s);
    gtrie_free(tr);
    tok_free(t);
    llm_model_free(m);
    grammar_free(g);
    json_decref(schema);
}

static const char person_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\",\"maxLength\":12},"
    "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":120},"
    "\"color\":{\"enum\":[\"red\",\"green\",\"blue\"]},"
    "\"address\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
    "\"zip\":{\"type\":\"integer\"}},\"required\":[\"city\"],\"additionalProperties\":false},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":8},"
    "\"minItems\":1,\"maxItems\":3},"
    "\"ok\":{\"type\":\"boolean\"}},"
    "\"required\":[\"name\",\"color\",\"address\",\"tags\"],\"additionalProperties\":false}";

static const char tool_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"const\":\"get_weather\"},"
    "\"arguments\":{\"type\":\"object\",\"properties\":{"
    "\"location\":{\"type\":\"string\"},"
    "\"unit\":{\"enum\":[\"celsius\",\"fahrenheit\"]},"
    "\"days\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":14}},"
    "\"required\":[\"location\",\"unit\"],\"additionalProperties\":false}},"
    "\"required\":[\"name\",\"arguments\"],\"additionalProperties\":false}";

TEST(grammar_generate_schema_100_seeds) {
    run_stats st = {0};
    generate_many("golden/models/llama-Q4_0.gguf", person_schema, false, 120, 100, &st);
    printf("    %d ended with EOG, %d ran to the budget\n", st.finished_eog, st.hit_budget);
}

TEST(grammar_generate_tool_call_100_seeds) {
    run_stats st = {0};
    generate_many("golden/models/llama-Q4_0.gguf", tool_schema, false, 120, 100, &st);
    printf("    %d ended with EOG, %d ran to the budget\n", st.finished_eog, st.hit_budget);
}

TEST(grammar_generate_stories260k_schema) {
    run_stats st = {0};
    generate_many("testdata/llm/stories260K.gguf", person_schema, false, 120, 20, &st);
}

TEST(grammar_generate_json_object_mode) {
    run_stats st = {0};
    generate_many("golden/models/llama-Q4_0.gguf", "{\"type\":\"object\"}", true, 100, 30, &st);
}
