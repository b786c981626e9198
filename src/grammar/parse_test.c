/* GBNF parsing: valid grammars (llama.cpp-style examples written here) and every error path,
 * with the line and column it reports. */
#include "grammar.h"
#include "test.h"

static grammar *must_parse(const char *text) {
    grammar *g = NULL;
    err_buf eb = {0};
    int rc = grammar_parse(text, strlen(text), &g, &eb);
    if (rc) test_fail(__FILE__, __LINE__, "parse failed: %s\n%s", eb.msg, text);
    return g;
}

/* Whole-string match. */
static bool matches(const grammar *g, const char *s) {
    gstate *st = gstate_new(g);
    ASSERT_NOT_NULL(st);
    bool ok = gstate_accept_bytes(st, s, strlen(s)) == 0 && gstate_is_complete(st);
    gstate_free(st);
    return ok;
}

static void expect_error(const char *text, const char *msg) {
    grammar *g = NULL;
    err_buf eb = {0};
    int rc = grammar_parse(text, strlen(text), &g, &eb);
    if (rc == 0) test_fail(__FILE__, __LINE__, "expected an error for:\n%s", text);
    ASSERT_NULL(g);
    ASSERT_EQ_INT(rc, BASE_EFORMAT);
    if (!strstr(eb.msg, msg))
        test_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", eb.msg, msg);
}

TEST(grammar_parse_arithmetic) {
    grammar *g = must_parse(
        "# arithmetic, as in llama.cpp's examples\n"
        "root  ::= (expr \"=\" ws term \"\\n\")+\n"
        "expr  ::= term ([-+*/] term)*\n"
        "term  ::= ident | num | \"(\" ws expr \")\" ws\n"
        "ident ::= [a-z] [a-z0-9_]* ws\n"
        "num   ::= [0-9]+ ws\n"
        "ws    ::= [ \\t\\n]*\n");
    ASSERT_TRUE(matches(g, "1+2=3\n"));
    ASSERT_TRUE(matches(g, "(a +b)*c=x_1\n2=2\n"));
    ASSERT_FALSE(matches(g, "1+2=3"));
    ASSERT_FALSE(matches(g, "1+=3\n"));
    ASSERT_FALSE(matches(g, "A=1\n"));
    grammar_free(g);
}

TEST(grammar_parse_lists_and_repetitions) {
    grammar *g = must_parse("root ::= item{2,4}\nitem ::= \"- \" [^\\n]+ \"\\n\"\n");
    ASSERT_FALSE(matches(g, "- a\n"));
    ASSERT_TRUE(matches(g, "- a\n- bc\n"));
    ASSERT_TRUE(matches(g, "- a\n- b\n- c\n- d\n"));
    ASSERT_FALSE(matches(g, "- a\n- b\n- c\n- d\n- e\n"));
    grammar_free(g);
    g = must_parse("root ::= \"ab\"{3} \"c\"{2,} \"d\"? \"e\"{0,2}");
    ASSERT_TRUE(matches(g, "abababcc"));
    ASSERT_TRUE(matches(g, "abababccccdee"));
    ASSERT_FALSE(matches(g, "ababcc"));
    ASSERT_FALSE(matches(g, "abababc"));
    ASSERT_FALSE(matches(g, "abababcceee"));
    grammar_free(g);
    g = must_parse("root ::= (\"x\" | \"yz\")* \"!\"");
    ASSERT_TRUE(matches(g, "!"));
    ASSERT_TRUE(matches(g, "xyzyzx!"));
    ASSERT_FALSE(matches(g, "xy!"));
    grammar_free(g);
}

TEST(grammar_parse_escapes_classes_and_any) {
    grammar *g = must_parse(
        "root ::= \"\\x41\\u00e9\\U0001F600\\t\\\"\\\\\" [\\]\\-a] [^a-c] . \"\\n\"");
    ASSERT_TRUE(matches(g, "A\xc3\xa9\xf0\x9f\x98\x80\t\"\\]d\xe2\x82\xac\n"));
    ASSERT_TRUE(matches(g, "A\xc3\xa9\xf0\x9f\x98\x80\t\"\\-zz\n"));
    ASSERT_FALSE(matches(g, "A\xc3\xa9\xf0\x9f\x98\x80\t\"\\]bz\n"));
    grammar_free(g);
    /* UTF-8 in literals and classes is read as code points. */
    g = must_parse("root ::= \"\xc3\xa9\" [\xce\xb1-\xcf\x89]+");
    ASSERT_TRUE(matches(g, "\xc3\xa9\xce\xb1\xce\xb2\xcf\x89"));
    ASSERT_FALSE(matches(g, "\xc3\xa9" "a"));
    grammar_free(g);
}

TEST(grammar_parse_layout) {
    /* Comments, blank lines, multi-line groups, alternatives continued on the next line,
     * rules used before they are defined. */
    grammar *g = must_parse(
        "\n# leading comment\n\n"
        "root ::= greeting (\n"
        "   \" \" name  # inside a group\n"
        "  | \"!\"\n"
        ")\n"
        "greeting ::= \"hi\"\n"
        "  | \"hello\"\n"
        "\n"
        "name ::= [A-Z] [a-z]*   # trailing comment\n");
    ASSERT_TRUE(matches(g, "hi Bob"));
    ASSERT_TRUE(matches(g, "hello!"));
    ASSERT_FALSE(matches(g, "hello bob"));
    grammar_free(g);
}

TEST(grammar_parse_json_example) {
    grammar *g = must_parse(
        "root   ::= object\n"
        "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
        "object ::= \"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws\n"
        "array  ::= \"[\" ws ( value (\",\" ws value)* )? \"]\" ws\n"
        "string ::= \"\\\"\" ( [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\bfnrt] | \"u\" [0-9a-fA-F]{4}) )* \"\\\"\" ws\n"
        "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9]+)? ws\n"
        "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n");
    ASSERT_TRUE(matches(g, "{\"a\": [1, 2.5, -3e10, true, null, {\"b\": \"x\\n\\u00e9\"}]}"));
    ASSERT_TRUE(matches(g, "{}"));
    ASSERT_FALSE(matches(g, "[1]"));
    ASSERT_FALSE(matches(g, "{\"a\": 01}"));
    ASSERT_FALSE(matches(g, "{\"a\" 1}"));
    grammar_free(g);
}

TEST(grammar_parse_errors_have_line_and_column) {
    expect_error("", "empty grammar");
    expect_error("# only a comment\n", "line 2, column 1: empty grammar");
    expect_error("root ::= \"abc", "line 1, column 10: unterminated string");
    expect_error("root ::= [abc", "line 1, column 10: unterminated character class");
    expect_error("root ::= [z-a]", "line 1, column 11: character range is backwards");
    expect_error("root ::= \"a\"\nroot ::= \"b\"", "line 2, column 1: rule 'root' is defined twice");
    expect_error("root ::= item\n", "line 1, column 10: undefined rule 'item'");
    expect_error("item ::= \"x\"\n", "no rule named 'root'");
    expect_error("root = \"x\"", "line 1, column 6: expected '::=' after rule name");
    expect_error("root ::= \"x\"\n  ::= \"y\"", "line 2, column 3: expected a rule name");
    expect_error("root ::= (\"x\"", "line 1, column 10: unclosed '('");
    expect_error("root ::= \"x\")", "line 1, column 13: unmatched ')'");
    expect_error("root ::= \"x\" }", "line 1, column 14: unexpected character '}'");
    expect_error("root ::= * \"x\"", "line 1, column 10: '*' has nothing to repeat");
    expect_error("root ::= \"x\"{3,1}", "line 1, column 13: repetition {3,1}: max below min");
    expect_error("root ::= \"x\"{2", "line 1, column 15: expected '}'");
    expect_error("root ::= \"x\"{a}", "line 1, column 14: expected a number");
    expect_error("root ::= \"x\"{5000}", "repetition count above 1000");
    expect_error("root ::= \"\\q\"", "line 1, column 11: unknown escape \\q");
    expect_error("root ::= \"\\x4\"", "expected 2 hex digits after \\x");
    expect_error("root ::= \"\\U00110000\"", "out of range");
    expect_error("root ::= \"\xff\"", "line 1, column 11: invalid UTF-8");
    expect_error("root ::= \"\xc3\xa9\" \"\\", "line 1, column 15: unfinished escape");
    expect_error("root ::= a\na ::= a \"x\" | \"y\"", "left recursion");
    expect_error("root ::= b \"x\"\nb ::= \"\" | root", "left recursion");
    expect_error("root ::= (\"a\"?)*", "left recursion");
    expect_error("root ::= \"a\" root", "can never finish");
    expect_error("root ::= [^\\x00-\\U0010FFFF]", "can never finish");
}

TEST(grammar_parse_fault_loop) {
    const char *text = "root ::= (\"a\" | [b-d]+ x){1,3}\nx ::= \"e\"*";
    for (long n = 0;; n++) {
        mem_fail_after(n);
        grammar *g = NULL;
        err_buf eb = {0};
        int rc = grammar_parse(text, strlen(text), &g, &eb);
        mem_fail_after(-1);
        if (rc == 0) {
            ASSERT_TRUE(matches(g, "bcdeee"));
            grammar_free(g);
            break;
        }
        ASSERT_EQ_INT(rc, BASE_ENOMEM);
        ASSERT_CMP_INT(n, <, 10000);
    }
}
