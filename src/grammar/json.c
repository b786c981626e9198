/*
 * Fixed JSON grammars: the building blocks the schema converter reuses, and "any JSON object"
 * for response_format json_object. Strings exclude escapes jansson refuses (\u0000 and lone
 * surrogates) and numbers are bounded (15 integer digits, 2 exponent digits), so everything the
 * grammar accepts also parses.
 */
#include "grammar_int.h"

#include <string.h>

const char grammar_json_prims[] =
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n"
    "json-hex ::= [0-9a-fA-F]\n"
    "json-hex4 ::= [1-9a-cA-Ce-fE-F] json-hex json-hex json-hex | [dD] [0-7] json-hex json-hex"
    " | \"0\" ([1-9a-fA-F] json-hex json-hex | \"0\" ([1-9a-fA-F] json-hex | \"0\" [1-9a-fA-F]))\n"
    "json-char ::= [^\"\\\\\\x00-\\x1F\\x7F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" json-hex4)\n"
    "json-string ::= \"\\\"\" json-char* \"\\\"\" ws\n"
    "json-int ::= \"-\"? ([0-9] | [1-9] [0-9]{1,14})\n"
    "json-number ::= json-int (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})? ws\n"
    "json-integer ::= json-int ws\n"
    "json-boolean ::= (\"true\" | \"false\") ws\n"
    "json-null ::= \"null\" ws\n"
    "json-value ::= json-object | json-array | json-string | json-number | json-boolean | json-null\n"
    "json-object ::= \"{\" ws (json-string \":\" ws json-value (\",\" ws json-string \":\" ws "
    "json-value)*)? \"}\" ws\n"
    "json-array ::= \"[\" ws (json-value (\",\" ws json-value)*)? \"]\" ws\n";

int grammar_json_object(grammar **out, err_buf *eb) {
    buf b = {0};
    buf_append_str(&b, "root ::= json-object\n");
    buf_append_str(&b, grammar_json_prims);
    if (b.oom) {
        buf_free(&b);
        return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    int rc = grammar_parse(b.data, b.len, out, eb);
    buf_free(&b);
    return rc;
}
