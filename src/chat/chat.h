/*
 * chat: what sits between a model's chat template and the OpenAI chat API.
 *
 *   - Built-in chat templates (Jinja sources for template/) for models that ship none:
 *     chatml, llama2, llama3, mistral, mistral-v3, mistral-v7, gemma, phi3, zephyr, vicuna,
 *     deepseek, command-r. chat_detect_family() names the family of a template text.
 *   - chat_tool_format_detect(): which tool-call syntax a template's model emits.
 *   - chat_parser: an incremental parser fed the generated text piece by piece. It splits the
 *     output into content, reasoning ("<think>...</think>" and friends) and tool calls, and
 *     returns events that map one to one onto OpenAI streaming deltas.
 *   - JSON helpers that build the OpenAI shapes (message, delta, tool_calls) with jansson.
 *
 * How the chat endpoint uses it
 * -----------------------------
 * Prompt side:
 *   1. Template: the model's own (GGUF tokenizer.chat_template or config), else
 *      chat_template_builtin(cfg_name or "chatml") compiled with tmpl_compile.
 *   2. Render with tmpl_render_chat(t, messages, tools, true, bos, eos, extra, &prompt, &eb),
 *      passing the request's `tools` array (NULL when it has none) so the template tells the
 *      model about them. Assistant messages in the history keep their `tool_calls` and tool
 *      messages their `tool_call_id`: templates read them.
 * Output side (once per request):
 *   3. chat_parser_params pp = chat_parser_params_for(template_src, prompt.data, prompt.len,
 *                                                     tools, reasoning);
 *      (template_src: the text the model's template was compiled from, or the built-in's
 *      source; reasoning false when the request or config turns reasoning parsing off;
 *      tools the request's array or NULL; it must outlive the parser.) Config may then
 *      override pp.tool_format (chat_tool_format_parse) or set pp.stream_arguments.
 *      chat_parser *p = NULL; chat_parser_new(&pp, &p, &eb);
 *   4. For every detokenized piece: chat_parser_feed(p, piece, len, &evs, &n, &eb); for each
 *      event, streaming: send a chunk whose choices[0].delta is chat_delta_json(&evs[i]).
 *      Events point into the parser and stay valid until the next feed/finish/free.
 *   5. At the end (EOS, stop string, length): chat_parser_finish(p, &evs, &n, &eb) and send
 *      those events too. Text held back (a possible marker prefix) comes out here.
 *   6. Non-streaming: the message is chat_message_json(p) (role, content, reasoning_content,
 *      tool_calls), built from everything the parser emitted.
 *   7. finish_reason: "tool_calls" when chat_parser_tool_call_count(p) > 0 (and generation
 *      ended normally), else "stop" / "length" as usual. chat_parser_free(p).
 * Stop strings are applied to the raw text before it reaches the parser. The markers the
 * parser looks for (<tool_call>, [TOOL_CALLS], <|python_tag|>, <think>, <|channel|>...) are
 * special tokens in many vocabularies: the detokenizer must render them as text for the
 * parser to see them (the model's EOS / end-of-turn tokens should still stop generation and
 * not be fed).
 *
 * What the parser does with text:
 *   - Reasoning is recognised at the start of the output (after leading whitespace), or from
 *     the very start when the prompt opened the block; a <think> later on is content. Text
 *     after the closing marker starts the content; whitespace next to the markers is trimmed.
 *   - Tool calls: whitespace between and after calls is dropped; otherwise content is the
 *     model's text byte for byte (reasoning off and no call found: exactly the model's text,
 *     harmony aside, whose message headers are never content).
 *   - Held back while streaming: a partial marker at the end, trailing whitespace, a partial
 *     UTF-8 character, a tool-call body until it is complete, and (JSON formats) a reply that
 *     starts with '{' or '[' until the value closes.
 *   - The result does not depend on how the text was split into pieces (tested by feeding
 *     every split size and by a fuzz test).
 *
 * Threads: a parser belongs to one request. Templates and detect functions are pure.
 */
#ifndef CHAT_H
#define CHAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "template/template.h"

/* ---- built-in templates ----------------------------------------------------------------- */

/* The Jinja source of a built-in template by family name ("chatml", "llama3", ...; see the
 * list above; "mistral" is the v1 [INST] style, "llama-2"/"llama-3"/"command_r" aliases are
 * accepted, case-insensitively). Returns a static string, or NULL when the name is unknown. */
const char *chat_template_builtin(const char *name);
/* The names chat_template_builtin knows, NULL-terminated (static). */
const char *const *chat_template_names(void);
/* Compile a built-in template: tmpl_compile on chat_template_builtin(name). *out is freed with
 * tmpl_free. BASE_ENOTFOUND when the name is unknown. */
int chat_template_compile(const char *name, tmpl **out, err_buf *eb);

/* The family of a template text, from its markers: "chatml", "llama3", "llama2", "mistral",
 * "mistral-v3", "mistral-v7", "gemma", "phi3", "zephyr", "vicuna", "deepseek", "command-r",
 * or NULL when none is recognised. The name is one chat_template_builtin accepts. A family
 * names the turn layout only: Qwen 2.5 and Qwen 3 are both "chatml", Command A is
 * "command-r", and DeepSeek V3/R1 (<｜User｜>) are not "deepseek" (the v1/v2 "User: " style). */
const char *chat_detect_family(const char *template_src);

/* The family of a model that ships no chat template, from what its GGUF says: the special
 * tokens of its vocabulary (has_token(ud, text): whether one token is spelled text exactly;
 * <|im_start|>, <|start_header_id|>, <start_of_turn>, [INST], <|user|> ...) first, then its
 * general.architecture (arch may be NULL) for families whose turn layout the architecture
 * settles (gemma*, phi3, qwen*, command-r / cohere2). A name chat_template_builtin accepts, or
 * NULL when nothing is recognised (callers fall back to ChatML). *why (may be NULL) receives
 * a static phrase naming the evidence, for the log. */
const char *chat_detect_family_vocab(const char *arch, bool (*has_token)(void *ud, const char *text),
                                     void *ud, const char **why);

/* ---- formats ---------------------------------------------------------------------------- */

typedef enum chat_tool_format {
    CHAT_TOOLS_NONE = 0, /* no tool-call parsing: all non-reasoning text is content */
    CHAT_TOOLS_HERMES,   /* <tool_call>BODY</tool_call>, BODY one of: Hermes / Qwen 2.5 / Qwen 3
                            {"name":..,"arguments":{..}}; Qwen3-Coder / Qwen 3.5
                            <function=f><parameter=k>\nv\n</parameter></function>; GLM 4.5+
                            f<arg_key>k</arg_key><arg_value>v</arg_value> */
    CHAT_TOOLS_LLAMA3,   /* Llama 3.x: a reply that is {"name":..,"parameters":{..}} (or
                            "arguments"), and <|python_tag|>{...} / <|python_tag|>f.call(k=v) */
    CHAT_TOOLS_MISTRAL,  /* [TOOL_CALLS][{"name":..,"arguments":{..}}] and
                            [TOOL_CALLS]name[ARGS]{...} (optionally [CALL_ID]id before [ARGS]) */
    CHAT_TOOLS_JSON,     /* a reply that is a JSON object {name, arguments} or an array of them */
    CHAT_TOOLS_HARMONY,  /* gpt-oss: <|channel|>analysis (reasoning), final (content), and
                            to=functions.f ... <|message|>{args}<|call|>. Set it for gpt-oss
                            even without tools: it is also how its reasoning is split. */
    CHAT_TOOLS_DEEPSEEK, /* DeepSeek V3 / R1: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>
                            function<｜tool▁sep｜>name\n```json\n{..}\n```<｜tool▁call▁end｜>
                            ...<｜tool▁calls▁end｜> (V3.1: name<｜tool▁sep｜>{..}) */
    CHAT_TOOLS_COMMAND_R, /* Command R7B / A: <|START_ACTION|>[{"tool_call_id":..,"tool_name":..,
                            "parameters":{..}}]<|END_ACTION|>; text in <|START_RESPONSE|>..
                            <|END_RESPONSE|> becomes content without those markers */
} chat_tool_format;

/* "none", "hermes", "llama3", "mistral", "json", "harmony", "deepseek", "command-r". */
const char *chat_tool_format_name(chat_tool_format f);
/* Parse a name as chat_tool_format_name gives it. BASE_EINVAL when unknown. */
int chat_tool_format_parse(const char *name, chat_tool_format *out);
/* The tool-call format of the model whose template is template_src (NULL: CHAT_TOOLS_JSON).
 * Templates that mention no tool syntax get CHAT_TOOLS_JSON, the generic fallback. */
chat_tool_format chat_tool_format_detect(const char *template_src);

/* True when a rendered prompt ends inside an open reasoning block (the template put
 * "<think>\n" after the assistant header), so the output starts in reasoning. */
bool chat_prompt_opens_reasoning(const char *prompt, size_t len);
/* The same for one given open marker (a model's own, from its config). */
bool chat_prompt_opens_reasoning_with(const char *prompt, size_t len, const char *open);

/* ---- the output parser ------------------------------------------------------------------ */

typedef struct chat_parser chat_parser;

typedef struct chat_parser_params {
    chat_tool_format tool_format; /* CHAT_TOOLS_NONE: no tool parsing */
    bool reasoning;               /* split reasoning out; false: everything is content */
    bool starts_in_reasoning;     /* the prompt opened the reasoning block already */
    uint64_t id_seed;             /* tool-call ids: 0 picks a random seed; tests fix it */
    const json_t *tools;          /* the request's tools (borrowed; must outlive the parser)
                                     or NULL: tells XML-style arguments' string parameters
                                     from JSON ones */
    bool stream_arguments;        /* also announce a call (TOOL_CALL_BEGIN) as soon as its
                                     name is known and stream its arguments (TOOL_ARGS) */
    const char *reasoning_open;   /* a model's own reasoning markers (both non-empty, borrowed:
                                     they must outlive the parser) replacing the built-in pairs
                                     (<think>..</think> and friends); NULL: the built-ins */
    const char *reasoning_close;
} chat_parser_params;

chat_parser_params chat_parser_default_params(void); /* NONE, reasoning on, random ids */

/* The parameters for one request, all decided here: the tool format from the template text
 * (CHAT_TOOLS_NONE when tools is NULL or empty, except harmony, which also carries the
 * reasoning), reasoning as given, starts_in_reasoning from the rendered prompt, and tools
 * (borrowed: it must outlive the parser). template_src and prompt may be NULL. */
chat_parser_params chat_parser_params_for(const char *template_src, const char *prompt,
                                          size_t prompt_len, const json_t *tools, bool reasoning);

typedef enum chat_event_kind {
    CHAT_EV_CONTENT = 0,     /* text: a content delta */
    CHAT_EV_REASONING,       /* text: a reasoning_content delta */
    CHAT_EV_TOOL_CALL,       /* one complete tool call */
    CHAT_EV_TOOL_CALL_BEGIN, /* stream_arguments: a call's index, id and name are known */
    CHAT_EV_TOOL_ARGS,       /* stream_arguments: text: the next piece of its arguments */
} chat_event_kind;

/* With stream_arguments, a call whose JSON puts "name" before its arguments object (Hermes
 * JSON bodies, Llama 3 / plain JSON objects, Mistral name[ARGS]{..}) comes as TOOL_CALL_BEGIN,
 * TOOL_ARGS..., then its TOOL_CALL with `streamed` set (the pieces joined equal `arguments`).
 * Other calls come as one TOOL_CALL as usual. A call announced and then found malformed
 * cannot be taken back: its text comes out as content too, and the next call reuses its
 * index. Without stream_arguments only TOOL_CALL events are produced. */
typedef struct chat_event {
    chat_event_kind kind;
    const char *text; /* CONTENT / REASONING / TOOL_ARGS: the delta (NUL-terminated) */
    size_t len;
    int index;             /* TOOL_*: 0-based position among this reply's calls */
    const char *id;        /* TOOL_CALL, _BEGIN: "call_..." (or the id the model wrote) */
    const char *name;      /* TOOL_CALL, _BEGIN: function name */
    const char *arguments; /* TOOL_CALL: the arguments as compact JSON text (an object) */
    bool streamed;         /* TOOL_CALL: already sent as TOOL_CALL_BEGIN + TOOL_ARGS */
} chat_event;

/* A new parser. *out is freed with chat_parser_free. BASE_ENOMEM / BASE_EINVAL. */
int chat_parser_new(const chat_parser_params *params, chat_parser **out, err_buf *eb);
void chat_parser_free(chat_parser *p); /* NULL is fine */

/* Feed len bytes of generated text. *events receives an array of *n_events events, owned by
 * the parser and valid until the next feed, finish or free. Text that might still become a
 * marker is held back. Returns 0 or BASE_ENOMEM (the parser is then unusable). */
int chat_parser_feed(chat_parser *p, const char *text, size_t len, const chat_event **events,
                     size_t *n_events, err_buf *eb);
/* The end of the output: everything still held back comes out, as a tool call when it is a
 * complete one, else as plain content (malformed or truncated calls are never lost). Feeding
 * after finish is BASE_EINVAL. */
int chat_parser_finish(chat_parser *p, const chat_event **events, size_t *n_events, err_buf *eb);

/* Totals of everything emitted so far (borrowed, valid until the next feed/finish/free). */
const char *chat_parser_content(const chat_parser *p);
const char *chat_parser_reasoning(const chat_parser *p);
size_t chat_parser_tool_call_count(const chat_parser *p);
/* Call i (0 <= i < count) as a TOOL_CALL event, or NULL. */
const chat_event *chat_parser_tool_call(const chat_parser *p, size_t i);

/* ---- OpenAI JSON ------------------------------------------------------------------------ */

/* {"id":..,"type":"function","function":{"name":..,"arguments":"<json text>"}} for a
 * TOOL_CALL event; with_index adds "index" (streaming deltas need it). New reference, NULL
 * when out of memory or ev is not a tool call. */
json_t *chat_tool_call_json(const chat_event *ev, bool with_index);
/* The "tool_calls" array of everything the parser emitted (new reference; [] when none). */
json_t *chat_tool_calls_json(const chat_parser *p);
/* The delta object of a streamed chunk for one event: {"content":..}, {"reasoning_content":..}
 * or {"tool_calls":[{index, id, type, function:{name, arguments}}]} (BEGIN: arguments "";
 * TOOL_ARGS: {"tool_calls":[{index, function:{arguments: piece}}]}). New reference. NULL
 * for a TOOL_CALL with `streamed` set (nothing left to send), when out of memory, or when the
 * text is not valid UTF-8 (the parser never splits a character; the model may still emit
 * invalid bytes). */
json_t *chat_delta_json(const chat_event *ev);
/* The non-streamed message: {"role":"assistant","content":..} plus "reasoning_content" when
 * there was reasoning and "tool_calls" when there were calls. content is the streamed
 * content joined (exact), or null when there were calls and no text but whitespace
 * (OpenAI's shape); reasoning is trimmed. New reference. NULL when out of memory. */
json_t *chat_message_json(const chat_parser *p);

#endif
