#!/usr/bin/python3
"""Render chat templates with Python's jinja2 the way transformers' apply_chat_template sets it
up (sandboxed, trim_blocks, lstrip_blocks, loop controls, {% generation %}, raise_exception,
strftime_now on a fixed clock, tojson as json.dumps), for the template tests to compare with.

usage: jinja2_render.py SCENARIO.json TEMPLATE.jinja...
Prints a JSON object: template path -> {"out": text} or {"error": "Class: message"}."""
import datetime
import json
import sys

from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.exceptions import TemplateError


class Generation(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.datetime(2025, 7, 10, 12, 0, 0).strftime(fmt)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                    extensions=[Generation, loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now

variables = json.load(open(sys.argv[1], encoding="utf-8"))
result = {}
for path in sys.argv[2:]:
    try:
        src = open(path, encoding="utf-8").read()
        result[path] = {"out": env.from_string(src).render(**variables)}
    except Exception as e:  # the tests compare error classes
        result[path] = {"error": "%s: %s" % (type(e).__name__, e)}
json.dump(result, sys.stdout, ensure_ascii=False)
