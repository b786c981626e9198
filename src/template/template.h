/*
 * template: a Jinja2 interpreter for the subset that model chat templates use, so that a
 * model's own tokenizer.chat_template renders exactly as Python's jinja2 renders it under
 * transformers' apply_chat_template (trim_blocks, lstrip_blocks, loopcontrols,
 * raise_exception, strftime_now, json.dumps-style tojson, {% generation %}).
 *
 * Usage:
 *   tmpl *t = NULL;
 *   err_buf eb = {0};
 *   if (tmpl_compile(src, strlen(src), &t, &eb) < 0) { ... eb.msg has "line:col: ..." }
 *   buf out = {0};
 *   int rc = tmpl_render_chat(t, messages, tools, true, "<s>", "</s>", NULL, &out, &eb);
 *   ... out.data holds the prompt; buf_free(&out); tmpl_free(t);
 *
 * Values: template variables come in as JSON (jansson); inside the interpreter they become
 * Python-like values (undefined, none, bool, int, float, string, list, insertion-ordered
 * dict, plus callables, macros and namespaces) that live in a per-render arena.
 *
 * Errors are BASE_E* codes with a message in eb. Syntax errors start with "line:col: ";
 * runtime messages name the Python error class and the template line, e.g.
 * "TemplateError: System role not supported (line 3)" (raise_exception), "UndefinedError:
 * 'x' is undefined (line 7)", "TypeError: 'NoneType' object is not iterable (line 2)".
 * Runaway templates end with BASE_EFULL (steps, output), BASE_ERANGE (depth) or
 * BASE_ENOMEM (memory budget); see tmpl_params.
 * A compiled template is immutable: several threads may render it at once.
 *
 * Known differences from Python's jinja2 (all where Python fails or prints an object
 * address): list.append/pop/extend and dict.update/pop work (the sandbox raises
 * SecurityError; llama.cpp-flavoured templates need them); map/select/reject/unique/
 * reverse return lists, not generators (so they can be printed, counted and tojson'd);
 * dict.keys()/values() print as lists; ints overflowing 64 bits become floats; case
 * mapping covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic only. Not supported:
 * template inheritance and includes (extends/block/include/import), the batch, slice,
 * groupby, truncate, wordwrap, urlize and xmlattr filters.
 */
#ifndef TEMPLATE_H
#define TEMPLATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

typedef struct tmpl tmpl;

/* Limits and knobs for one render. Get the defaults from tmpl_default_params(). */
typedef struct tmpl_params {
    int64_t now_unix;        /* clock for strftime_now(), seconds since epoch; 0: real time */
    size_t max_output;       /* bytes of output before BASE_EFULL */
    size_t max_steps;        /* loop iterations + calls before BASE_EFULL (runaway templates) */
    int max_depth;           /* macro / expression nesting before BASE_ERANGE */
    size_t max_memory;       /* arena bytes per render before BASE_ENOMEM */
} tmpl_params;

tmpl_params tmpl_default_params(void);

/* Parse src (len bytes, need not be NUL-terminated). On success *out owns a compiled
 * template (free with tmpl_free); on failure returns BASE_EFORMAT with "line:col: message". */
int tmpl_compile(const char *src, size_t len, tmpl **out, err_buf *eb);
void tmpl_free(tmpl *t); /* NULL is fine */

/* Render with the variables of the JSON object vars (borrowed; NULL: none). The globals
 * raise_exception, strftime_now, namespace, range and dict are always there. Appends the
 * output to out (on error out keeps what it had before). params may be NULL (defaults). */
int tmpl_render(const tmpl *t, const json_t *vars, const tmpl_params *params, buf *out,
                err_buf *eb);

/* Render a chat the way transformers' apply_chat_template does: messages (array, borrowed),
 * tools (array or NULL: None), documents=None, add_generation_prompt, bos_token, eos_token
 * (NULL: ""), and any extra variables from the object extra (e.g. enable_thinking; NULL:
 * none; they override the others). */
int tmpl_render_chat(const tmpl *t, const json_t *messages, const json_t *tools,
                     bool add_generation_prompt, const char *bos, const char *eos,
                     const json_t *extra, buf *out, err_buf *eb);

#endif
