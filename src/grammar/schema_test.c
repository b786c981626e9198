/* JSON Schema -> grammar: for many schemas, instances that must match and ones that must not. */
#include "grammar.h"
#include "test.h"

static grammar *from_schema(const char *schema_text) {
    json_error_t je;
    json_t *s = json_loads(schema_text, JSON_DECODE_ANY, &je);
    if (!s) test_fail(__FILE__, __LINE__, "bad test schema: %s", je.text);
    grammar *g = NULL;
    err_buf eb = {0};
    int rc = grammar_from_json_schema(s, &g, &eb);
    if (rc) {
        buf b = {0};
        err_buf eb2 = {0};
        grammar_schema_to_gbnf(s, &b, &eb2);
        test_fail(__FILE__, __LINE__, "schema failed: %s\n%s", eb.msg, b.data ? b.data : "");
    }
    json_decref(s);
    return g;
}

static bool matches(const grammar *g, const char *s) {
    gstate *st = gstate_new(g);
    ASSERT_NOT_NULL(st);
    bool ok = gstate_accept_bytes(st, s, strlen(s)) == 0 && gstate_is_complete(st);
    gstate_free(st);
    return ok;
}

/* valid: NULL-terminated; each also parses with jansson. invalid: NULL-terminated. */
static void check(const char *schema, const char *const *valid, const char *const *invalid) {
    grammar *g = from_schema(schema);
    for (; *valid; valid++) {
        if (!matches(g, *valid)) test_fail(__FILE__, __LINE__, "schema %s\nshould accept %s", schema, *valid);
        json_t *j = json_loads(*valid, JSON_DECODE_ANY, NULL);
        if (!j) test_fail(__FILE__, __LINE__, "test instance is not JSON: %s", *valid);
        json_decref(j);
    }
    for (; *invalid; invalid++)
        if (matches(g, *invalid)) test_fail(__FILE__, __LINE__, "schema %s\nshould reject %s", schema, *invalid);
    grammar_free(g);
}

#define V(...) (const char *const[]){__VA_ARGS__, NULL}

TEST(grammar_schema_primitives) {
    check("{\"type\":\"string\"}", V("\"\"", "\"a b\"", "\"\\u00e9\\n\\\"\"", "\"\xc3\xa9\""),
          V("a", "\"\\x\"", "\"\\u0000\"", "\"\\ud800\"", "\"a", "\"\t\""));
    check("{\"type\":\"integer\"}", V("0", "-7", "123456789012345"),
          V("01", "1.5", "1234567890123456", "-", "+1"));
    check("{\"type\":\"number\"}", V("0", "-0.5", "1e10", "2.5E-3"), V(".5", "1.", "1e", "1e999"));
    check("{\"type\":\"boolean\"}", V("true", "false"), V("True", "1"));
    check("{\"type\":\"null\"}", V("null"), V("nil", "\"null\""));
    check("{\"type\":[\"string\",\"null\"]}", V("\"x\"", "null"), V("1"));
    check("{}", V("1", "\"s\"", "[1,{\"a\":null}]", "{}"), V("x"));
    check("true", V("[]"), V("]"));
}

TEST(grammar_schema_objects) {
    const char *s = "{\"type\":\"object\",\"properties\":{"
                    "\"name\":{\"type\":\"string\"},\"age\":{\"type\":\"integer\"},"
                    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},"
                    "\"required\":[\"name\"],\"additionalProperties\":false}";
    check(s,
          V("{\"name\":\"a\"}", "{\"name\":\"a\",\"age\":3}", "{\"name\":\"a\",\"tags\":[]}",
            "{ \"name\": \"a\", \"age\": 3, \"tags\": [\"x\", \"y\"] }",
            "{\n  \"name\": \"a\"\n}"),
          V("{}", "{\"age\":3}", "{\"age\":3,\"name\":\"a\"}", "{\"name\":\"a\",}",
            "{\"name\":\"a\",\"x\":1}", "{\"name\":\"a\" \"age\":3}", "{\"name\":1}"));
    /* Only optional properties, with something between them required. */
    check("{\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"integer\"},"
          "\"c\":{\"type\":\"integer\"}},\"required\":[\"b\"],\"additionalProperties\":false}",
          V("{\"b\":1}", "{\"a\":1,\"b\":2}", "{\"b\":1,\"c\":2}", "{\"a\":1,\"b\":2,\"c\":3}"),
          V("{\"a\":1}", "{\"a\":1,\"c\":2}", "{,\"b\":1}", "{\"b\":1,\"a\":2}"));
    check("{\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"integer\"}},"
          "\"additionalProperties\":false}",
          V("{}", "{\"a\":1}", "{\"b\":1}", "{\"a\":1,\"b\":2}"), V("{,}", "{\"b\":1,\"a\":1}", "{\"a\":1,}"));
    /* additionalProperties: default true, or a schema. */
    check("{\"properties\":{\"a\":{\"type\":\"integer\"}}}",
          V("{}", "{\"a\":1}", "{\"a\":1,\"zz\":[true]}", "{\"q\":null}", "{\"ab\":\"x\"}",
            "{\"\":\"x\"}", "{\"\\u0062\":1}"),
          V("{\"a\":\"x\"}", "{\"a\":1,\"a\":2}"));
    check("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"number\"}}",
          V("{}", "{\"x\":1,\"y\":2.5}"), V("{\"x\":\"1\"}"));
    /* Nested objects. */
    check("{\"type\":\"object\",\"properties\":{\"p\":{\"type\":\"object\",\"properties\":"
          "{\"q\":{\"type\":\"object\",\"properties\":{\"r\":{\"type\":\"boolean\"}},"
          "\"required\":[\"r\"],\"additionalProperties\":false}},\"required\":[\"q\"],"
          "\"additionalProperties\":false}},\"required\":[\"p\"],\"additionalProperties\":false}",
          V("{\"p\":{\"q\":{\"r\":true}}}"), V("{\"p\":{\"q\":{}}}", "{\"p\":{\"q\":{\"r\":1}}}"));
}

TEST(grammar_schema_arrays) {
    check("{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":2,\"maxItems\":3}",
          V("[1,2]", "[1, 2, 3]"), V("[]", "[1]", "[1,2,3,4]", "[1,\"a\"]"));
    check("{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":1}",
          V("[1]", "[1,2,3,4,5,6]"), V("[]"));
    check("{\"type\":\"array\",\"maxItems\":2}", V("[]", "[null]", "[1,\"x\"]"), V("[1,2,3]"));
    check("{\"type\":\"array\",\"maxItems\":0}", V("[]"), V("[1]"));
    check("{\"type\":\"array\",\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}",
          V("[\"a\",1]"), V("[\"a\"]", "[1,\"a\"]", "[\"a\",1,2]"));
}

TEST(grammar_schema_enum_const_anyof) {
    check("{\"enum\":[\"red\",\"green\",1,null,{\"a\":[1]}]}",
          V("\"red\"", "\"green\"", "1", "null", "{\"a\":[1]}"), V("\"blue\"", "\"re\"", "2", "{\"a\": [1]}"));
    check("{\"const\":\"get_weather\"}", V("\"get_weather\""), V("\"get\"", "\"x\""));
    check("{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"array\",\"items\":{\"type\":\"boolean\"}}]}",
          V("1", "[true,false]"), V("\"1\"", "[1]"));
    check("{\"oneOf\":[{\"const\":1},{\"const\":\"one\"}]}", V("1", "\"one\""), V("2"));
    check("{\"allOf\":[{\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]},"
          "{\"properties\":{\"b\":{\"type\":\"string\"}},\"required\":[\"b\"]}],"
          "\"additionalProperties\":false}",
          V("{\"a\":1,\"b\":\"x\"}"), V("{\"a\":1}", "{\"b\":\"x\"}"));
}

TEST(grammar_schema_refs_and_recursion) {
    const char *tree = "{\"$ref\":\"#/$defs/node\",\"$defs\":{\"node\":{\"type\":\"object\","
                       "\"properties\":{\"v\":{\"type\":\"integer\"},\"kids\":{\"type\":\"array\","
                       "\"items\":{\"$ref\":\"#/$defs/node\"}}},\"required\":[\"v\"],"
                       "\"additionalProperties\":false}}}";
    check(tree, V("{\"v\":1}", "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"v\":4,\"kids\":[]}]}]}"),
          V("{\"v\":1,\"kids\":[{}]}", "{\"kids\":[]}"));
    check("{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/definitions/pos\"}},"
          "\"required\":[\"a\"],\"additionalProperties\":false,"
          "\"definitions\":{\"pos\":{\"type\":\"integer\",\"minimum\":1}}}",
          V("{\"a\":1}", "{\"a\":99}"), V("{\"a\":0}", "{\"a\":-1}"));
    check("{\"type\":\"object\",\"properties\":{\"self\":{\"$ref\":\"#\"}},\"additionalProperties\":false}",
          V("{}", "{\"self\":{\"self\":{}}}"), V("{\"self\":1}"));
}

TEST(grammar_schema_formats_and_lengths) {
    check("{\"type\":\"string\",\"format\":\"date\"}", V("\"2024-02-29\""),
          V("\"2024-13-01\"", "\"2024-1-01\"", "\"x\""));
    check("{\"type\":\"string\",\"format\":\"time\"}", V("\"23:59:59Z\"", "\"00:00:00.123+02:00\""),
          V("\"24:00:00Z\"", "\"12:00:00\""));
    check("{\"type\":\"string\",\"format\":\"date-time\"}", V("\"2024-01-02T03:04:05Z\""),
          V("\"2024-01-02 03:04:05Z\""));
    check("{\"type\":\"string\",\"format\":\"uuid\"}", V("\"123e4567-e89b-12d3-a456-426614174000\""),
          V("\"123e4567e89b12d3a456426614174000\"", "\"123e4567-e89b-12d3-a456-42661417400g\""));
    check("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", V("\"ab\"", "\"a\\nc\"", "\"\xc3\xa9\xc3\xa9\""),
          V("\"a\"", "\"abcd\""));
}

TEST(grammar_schema_integer_ranges) {
    struct { long lo, hi; } cases[] = {{0, 0}, {5, 93}, {-15, 7}, {-300, -20}, {1, 1000}, {99, 101},
                                       {0, 9}, {10, 99}, {123, 4567}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char schema[128];
        snprintf(schema, sizeof schema, "{\"type\":\"integer\",\"minimum\":%ld,\"maximum\":%ld}",
                 cases[k].lo, cases[k].hi);
        grammar *g = from_schema(schema);
        for (long v = cases[k].lo - 120; v <= cases[k].hi + 120; v++) {
            char num[32];
            snprintf(num, sizeof num, "%ld", v);
            bool in = v >= cases[k].lo && v <= cases[k].hi;
            if (matches(g, num) != in) test_fail(__FILE__, __LINE__, "%s: %ld", schema, v);
        }
        grammar_free(g);
    }
    check("{\"type\":\"integer\",\"minimum\":0}", V("0", "7", "123456789"), V("-1", "01"));
    check("{\"type\":\"integer\",\"exclusiveMinimum\":0}", V("1", "10"), V("0", "-3"));
    check("{\"type\":\"integer\",\"minimum\":250}", V("250", "999", "1000", "123456"), V("249", "99", "-250"));
    check("{\"type\":\"integer\",\"maximum\":-5}", V("-5", "-100"), V("-4", "0", "5"));
    check("{\"type\":\"integer\",\"maximum\":20}", V("-1000", "20", "0"), V("21", "100"));
}

TEST(grammar_schema_errors) {
    const char *bad[][2] = {
        {"{\"$ref\":\"http://x/y.json\"}", "cannot resolve $ref"},
        {"{\"$ref\":\"#/$defs/missing\"}", "cannot resolve $ref"},
        {"{\"type\":\"integer\",\"minimum\":5,\"maximum\":1}", "range is empty"},
        {"{\"type\":\"array\",\"minItems\":3,\"maxItems\":1}", "minItems 3 > maxItems 1"},
        {"{\"type\":\"array\",\"minItems\":-1}", "non-negative integer"},
        {"{\"type\":\"string\",\"maxLength\":5000}", "maxLength above"},
        {"{\"type\":\"frob\"}", "unknown type"},
        {"{\"enum\":[]}", "non-empty array"},
        {"{\"allOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "object schemas only"},
        {"false", "must be an object"},
        {"{\"type\":[]}", "empty type list"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *s = json_loads(bad[i][0], JSON_DECODE_ANY, NULL);
        ASSERT_NOT_NULL(s);
        grammar *g = NULL;
        err_buf eb = {0};
        int rc = grammar_from_json_schema(s, &g, &eb);
        json_decref(s);
        if (rc == 0) test_fail(__FILE__, __LINE__, "expected an error for %s", bad[i][0]);
        ASSERT_NULL(g);
        ASSERT_CONTAINS(eb.msg, bad[i][1]);
    }
}

TEST(grammar_schema_json_object) {
    grammar *g = NULL;
    err_buf eb = {0};
    ASSERT_OK(grammar_json_object(&g, &eb), &eb);
    ASSERT_TRUE(matches(g, "{\"a\": [1, {\"b\": null}], \"c\": \"d\"}"));
    ASSERT_TRUE(matches(g, "{}"));
    ASSERT_FALSE(matches(g, "[]"));
    ASSERT_FALSE(matches(g, "\"x\""));
    grammar_free(g);
}

TEST(grammar_schema_fault_loop) {
    json_t *s = json_loads("{\"type\":\"object\",\"properties\":{\"a\":{\"enum\":[1,2]},"
                           "\"b\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}}}", 0, NULL);
    for (long n = 0;; n++) {
        mem_fail_after(n);
        grammar *g = NULL;
        err_buf eb = {0};
        int rc = grammar_from_json_schema(s, &g, &eb);
        mem_fail_after(-1);
        if (rc == 0) {
            ASSERT_TRUE(matches(g, "{\"a\":2,\"b\":[{}]}"));
            grammar_free(g);
            break;
        }
        ASSERT_EQ_INT(rc, BASE_ENOMEM);
        ASSERT_CMP_INT(n, <, 100000);
    }
    json_decref(s);
}

TEST(grammar_schema_patterns) {
    check("{\"type\":\"string\",\"pattern\":\"^[A-Z]{3}-\\\\d{2,4}$\"}", V("\"ABC-12\"", "\"XYZ-1234\""),
          V("\"AB-12\"", "\"ABC-1\"", "\"abc-12\"", "\"ABC-12345\""));
    check("{\"type\":\"string\",\"pattern\":\"^(cat|dog)s?( \\\\w+)*$\"}", V("\"cat\"", "\"dogs a_1 b\""),
          V("\"cow\"", "\"cats \""));
    /* Unanchored: anything around it. */
    check("{\"type\":\"string\",\"pattern\":\"ab+c\"}", V("\"abc\"", "\"xxabbbcyy\""), V("\"ac\"", "\"abx\""));
    /* JSON specials inside the pattern come out escaped. */
    check("{\"type\":\"string\",\"pattern\":\"^a\\\"b\\\\\\\\c\\\\n[^x]$\"}",
          V("\"a\\\"b\\\\c\\ny\"", "\"a\\\"b\\\\c\\n\\\"\""), V("\"a\\\"b\\\\c\\nx\"", "\"a\"b\\\\c\\ny\""));
    check("{\"type\":\"string\",\"pattern\":\"^.\\\\.[\\u00e0-\\u00ff\\\"]?$\"}",
          V("\"x.\"", "\"\\\".\xc3\xa9\"", "\"a.\\\"\""), V("\"\\n.\"", "\"ab\"", "\"a.b\""));
    /* Outside the subset (lookahead, backreference): any string. */
    check("{\"type\":\"string\",\"pattern\":\"^(?=a)\\\\1$\"}", V("\"anything\""), V("1"));
}

TEST(grammar_schema_tool_calls) {
    json_t *tools = json_loads(
        "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{"
        "\"type\":\"object\",\"properties\":{\"city\":{\"$ref\":\"#/$defs/city\"}},"
        "\"required\":[\"city\"],\"additionalProperties\":false,"
        "\"$defs\":{\"city\":{\"enum\":[\"Paris\",\"Oslo\"]}}}}},"
        " {\"type\":\"function\",\"function\":{\"name\":\"now\"}}]", 0, NULL);
    ASSERT_NOT_NULL(tools);
    json_t *schema = NULL;
    err_buf eb = {0};
    ASSERT_OK(grammar_tool_call_schema(tools, &schema, &eb), &eb);
    grammar *g = NULL;
    ASSERT_OK(grammar_from_json_schema(schema, &g, &eb), &eb);
    ASSERT_TRUE(matches(g, "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}"));
    ASSERT_TRUE(matches(g, "{\"name\":\"now\",\"arguments\":{}}"));
    ASSERT_TRUE(matches(g, "{\"name\":\"now\",\"arguments\":{\"x\":1}}"));
    ASSERT_FALSE(matches(g, "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Rome\"}}"));
    ASSERT_FALSE(matches(g, "{\"name\":\"other\",\"arguments\":{}}"));
    ASSERT_FALSE(matches(g, "{\"arguments\":{},\"name\":\"now\"}"));
    grammar_free(g);
    json_decref(schema);
    json_t *bad = json_loads("[{\"type\":\"function\",\"function\":{}}]", 0, NULL);
    ASSERT_EQ_INT(grammar_tool_call_schema(bad, &schema, &eb), BASE_EINVAL);
    ASSERT_NULL(schema);
    ASSERT_EQ_INT(grammar_tool_call_schema(json_object_get(bad, "x"), &schema, &eb), BASE_EINVAL);
    json_decref(bad);
    json_decref(tools);
}
