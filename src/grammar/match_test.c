/* The matcher: whole strings, byte by byte, token-sized pieces, partial UTF-8, cloning,
 * completion and the distance to completion. */
#include "grammar.h"
#include "test.h"

static grammar *must_parse(const char *text) {
    grammar *g = NULL;
    err_buf eb = {0};
    int rc = grammar_parse(text, strlen(text), &g, &eb);
    if (rc) test_fail(__FILE__, __LINE__, "parse failed: %s", eb.msg);
    return g;
}

/* Feed s in pieces of `step` bytes (0: all at once); true when all accepted and complete. */
static bool feed(const grammar *g, const char *s, size_t step) {
    gstate *st = gstate_new(g);
    ASSERT_NOT_NULL(st);
    size_t n = strlen(s);
    bool ok = true;
    for (size_t i = 0; i < n && ok;) {
        size_t k = step && n - i > step ? step : n - i;
        ok = gstate_can_accept_bytes(st, s + i, k) && gstate_accept_bytes(st, s + i, k) == 0;
        i += k;
    }
    ok = ok && gstate_is_complete(st);
    gstate_free(st);
    return ok;
}

static bool feed_all_ways(const grammar *g, const char *s) {
    bool r = feed(g, s, 0);
    for (size_t step = 1; step <= 5; step++)
        if (feed(g, s, step) != r) test_fail(__FILE__, __LINE__, "step %zu disagrees on \"%s\"", step, s);
    return r;
}

TEST(grammar_match_pieces_agree) {
    grammar *g = must_parse(
        "root ::= (word \" \")* word \".\"\n"
        "word ::= [a-zA-Z\\u00C0-\\u024F]+ | \"\\u4e2d\\u6587\" | \"\\U0001F600\"\n");
    ASSERT_TRUE(feed_all_ways(g, "Hello w\xc3\xb6rld."));
    ASSERT_TRUE(feed_all_ways(g, "\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80."));
    ASSERT_FALSE(feed_all_ways(g, "Hello w\xc3\xb6rld"));
    ASSERT_FALSE(feed_all_ways(g, "Hello  world."));
    ASSERT_FALSE(feed_all_ways(g, "\xe4\xb8\xad\xe6\x96\x88."));   /* the wrong last char */
    ASSERT_FALSE(feed_all_ways(g, "\xc3\x28."));                   /* invalid UTF-8 */
    ASSERT_FALSE(feed_all_ways(g, "\xc0\xae."));                   /* overlong */
    ASSERT_FALSE(feed_all_ways(g, "\xed\xa0\x80."));               /* a surrogate */
    grammar_free(g);
}

TEST(grammar_match_partial_utf8) {
    grammar *g = must_parse("root ::= \"a\" [\\u00e0-\\u00ef] \"\\u4e2d\"");
    gstate *st = gstate_new(g);
    ASSERT_OK(gstate_accept_bytes(st, "a\xc3", 2), NULL);  /* ends mid-character */
    ASSERT_FALSE(gstate_is_complete(st));
    /* U+00E9 fits; U+00F9 (\xc3\xb9) does not; neither does a fresh ASCII byte. */
    ASSERT_TRUE(gstate_can_accept_bytes(st, "\xa9", 1));
    ASSERT_FALSE(gstate_can_accept_bytes(st, "\xb9", 1));
    ASSERT_FALSE(gstate_can_accept_bytes(st, "x", 1));
    ASSERT_EQ_INT(gstate_accept_bytes(st, "\xb9", 1), BASE_EINVAL); /* unchanged */
    ASSERT_OK(gstate_accept_bytes(st, "\xa9\xe4", 2), NULL);
    /* A prefix byte whose characters cannot match is rejected at once. */
    ASSERT_TRUE(gstate_can_accept_bytes(st, "\xb8", 1));
    ASSERT_FALSE(gstate_can_accept_bytes(st, "\xbf", 1)); /* U+4FC0.. cannot be U+4E2D */
    gstate *c = gstate_clone(st);
    ASSERT_NOT_NULL(c);
    ASSERT_OK(gstate_accept_bytes(st, "\xb8\xad", 2), NULL);
    ASSERT_TRUE(gstate_is_complete(st));
    ASSERT_TRUE(gstate_is_done(st));
    /* The clone is independent and still one character short. */
    ASSERT_FALSE(gstate_is_complete(c));
    ASSERT_FALSE(gstate_can_accept_bytes(c, "\xb8\xae", 2));
    ASSERT_OK(gstate_accept_bytes(c, "\xb8", 1), NULL);
    ASSERT_OK(gstate_accept_bytes(c, "\xad", 1), NULL);
    ASSERT_TRUE(gstate_is_done(c));
    gstate_free(c);
    gstate_reset(st);
    ASSERT_FALSE(gstate_is_complete(st));
    ASSERT_OK(gstate_accept_bytes(st, "a\xc3\xa0\xe4\xb8\xad", 6), NULL);
    ASSERT_TRUE(gstate_is_done(st));
    gstate_free(st);
    grammar_free(g);
}

/* Lead bytes whose characters cannot match are rejected at once (bugs found by sampling). */
TEST(grammar_match_partial_prefix_ranges) {
    grammar *g = must_parse("root ::= [^\"]* \"{\"");
    gstate *st = gstate_new(g);
    ASSERT_TRUE(gstate_can_accept_bytes(st, "\xf0", 1));
    ASSERT_TRUE(gstate_can_accept_bytes(st, "\xed\x9f", 2));  /* U+D7C0.. is fine */
    ASSERT_FALSE(gstate_can_accept_bytes(st, "\xed\xa0", 2)); /* surrogates never complete */
    ASSERT_FALSE(gstate_can_accept_bytes(st, "\xe0\x80", 2)); /* overlong */
    ASSERT_FALSE(gstate_can_accept_bytes(st, "\xf4\x90", 2)); /* above U+10FFFF */
    gstate_free(st);
    grammar_free(g);
    /* "{" is U+007B: a 4-byte lead (U+10000 and up) cannot start it. */
    g = must_parse("root ::= [\\x00-\\x7F] | \"\\u00e9\"");
    st = gstate_new(g);
    ASSERT_FALSE(gstate_can_accept_bytes(st, "\xf0", 1));
    ASSERT_FALSE(gstate_can_accept_bytes(st, "\xe0", 1));
    ASSERT_TRUE(gstate_can_accept_bytes(st, "\xc3", 1));
    ASSERT_FALSE(gstate_can_accept_bytes(st, "\xc2", 1));
    gstate_free(st);
    grammar_free(g);
}

/* Found by fuzzing: an empty root has no frames at all. */
TEST(grammar_match_empty_root) {
    grammar *g = must_parse("root ::= # nothing but a comment\n");
    gstate *st = gstate_new(g);
    ASSERT_TRUE(gstate_is_done(st));
    ASSERT_OK(gstate_accept_bytes(st, "", 0), NULL);
    ASSERT_EQ_INT(gstate_accept_bytes(st, "a", 1), BASE_EINVAL);
    gstate *c = gstate_clone(st);
    ASSERT_NOT_NULL(c);
    ASSERT_TRUE(gstate_is_done(c));
    gstate_free(c);
    gstate_free(st);
    grammar_free(g);
}

TEST(grammar_match_complete_vs_done) {
    grammar *g = must_parse("root ::= [0-9]+ (\"!\")?");
    gstate *st = gstate_new(g);
    ASSERT_FALSE(gstate_is_complete(st));
    ASSERT_OK(gstate_accept_bytes(st, "12", 2), NULL);
    ASSERT_TRUE(gstate_is_complete(st));
    ASSERT_FALSE(gstate_is_done(st));
    ASSERT_OK(gstate_accept_bytes(st, "!", 1), NULL);
    ASSERT_TRUE(gstate_is_done(st));
    ASSERT_FALSE(gstate_can_accept_bytes(st, "1", 1));
    gstate_free(st);
    grammar_free(g);
}

TEST(grammar_match_min_bytes_left) {
    grammar *g = must_parse(
        "root ::= \"{\" item (\",\" item)* \"}\"\n"
        "item ::= \"\\\"\" [a-z]+ \"\\\"\" | \"\\u00e9\"\n");
    gstate *st = gstate_new(g);
    ASSERT_EQ_INT(gstate_min_bytes_left(st), 4); /* {é} is 4 bytes */
    ASSERT_OK(gstate_accept_bytes(st, "{\"", 2), NULL);
    ASSERT_EQ_INT(gstate_min_bytes_left(st), 3); /* a"} */
    ASSERT_OK(gstate_accept_bytes(st, "ab\",\xc3", 5), NULL);
    ASSERT_EQ_INT(gstate_min_bytes_left(st), 2); /* \xa9} */
    ASSERT_OK(gstate_accept_bytes(st, "\xa9}", 2), NULL);
    ASSERT_EQ_INT(gstate_min_bytes_left(st), 0);
    gstate_free(st);
    grammar_free(g);
}

TEST(grammar_match_deep_recursion_and_ambiguity) {
    grammar *g = must_parse("root ::= \"[\" root \"]\" | \"x\"\n");
    char s[4002];
    memset(s, '[', 2000);
    s[2000] = 'x';
    memset(s + 2001, ']', 2000);
    s[4001] = 0;
    ASSERT_TRUE(feed(g, s, 1));
    s[1000] = ']';
    ASSERT_FALSE(feed(g, s, 7));
    grammar_free(g);
    /* Highly ambiguous: (a | a | aa)* — duplicates are merged, so this stays small. */
    g = must_parse("root ::= (\"a\" | \"a\" | \"aa\" | x)* \"b\"\nx ::= \"a\"+\n");
    char t[502];
    memset(t, 'a', 500);
    t[500] = 'b';
    t[501] = 0;
    ASSERT_TRUE(feed(g, t, 1));
    grammar_free(g);
}

TEST(grammar_match_fault_loop) {
    grammar *g = must_parse("root ::= (\"ab\" | [a-z] x)+ \".\"\nx ::= \"\" | \"-\" x");
    for (long n = 0;; n++) {
        mem_fail_after(n);
        gstate *st = gstate_new(g);
        int rc = st ? gstate_accept_bytes(st, "xyzab", 5) : BASE_ENOMEM;
        gstate *c = !rc ? gstate_clone(st) : NULL;
        if (!rc && !c) rc = BASE_ENOMEM;
        if (!rc) rc = gstate_accept_bytes(c, "ab.", 3);
        mem_fail_after(-1);
        if (rc == 0) {
            ASSERT_TRUE(gstate_is_complete(c));
            gstate_free(c);
            gstate_free(st);
            break;
        }
        ASSERT_EQ_INT(rc, BASE_ENOMEM);
        gstate_free(c);
        gstate_free(st);
        ASSERT_CMP_INT(n, <, 1000);
    }
    grammar_free(g);
}

/* Found by fuzzing: 200 nullable repetitions in a row make every character parse hundreds of
 * ways. The work per step is bounded: a clean error (or success), quickly. */
TEST(grammar_match_ambiguity_is_bounded) {
    grammar *g = must_parse("root ::= \"a\" (\"x\" | y){200}\ny ::= [^z]*\n");
    gstate *st = gstate_new(g);
    ASSERT_NOT_NULL(st);
    int rc = 0;
    for (int i = 0; i < 20 && rc == 0; i++) rc = gstate_accept_bytes(st, i ? "q" : "a", 1);
    ASSERT_TRUE(rc == 0 || rc == BASE_ENOMEM);
    gstate_free(st);
    grammar_free(g);
}
