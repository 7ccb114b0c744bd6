"""Tests for the tree-sitter chunker, with real grammars on inline sources."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import pytest

from lsp_ai.index.chunker import (
    MIN_CHUNK_LINES,
    MODULE_WINDOW_LINES,
    Chunk,
    FileChunks,
    chunk_file,
)
from lsp_ai.index.windows import split_lines

# ----------------------------------------------------------------- samples

PYTHON = '''\
"""Settings loader."""

import json
from pathlib import Path

DEFAULT_NAME = "app"


@dataclass
class Config:
    """Holds the settings."""

    retries: int = 3

    def load(self, path):
        """Read the settings file."""
        raw = Path(path).read_text()
        data = parse(raw)
        return self.helper(data)

    def name(self):
        return DEFAULT_NAME


TIMEOUT = 30


def parse_args(argv):
    """Turn argv into options."""
    options = {}
    for arg in argv:
        options[arg] = True
    return options


def tiny():
    return 1
'''

JAVASCRIPT = """\
import fs from "fs";

const DEFAULT_NAME = "app";

/** Holds the settings. */
class Config {
  retries = 3;

  load(path) {
    const raw = fs.readFileSync(path);
    const data = parse(raw);
    return this.helper(data);
  }

  name() { return DEFAULT_NAME; }
}

const TIMEOUT = 30;

export function parseArgs(argv) {
  const options = {};
  for (const arg of argv) {
    options[arg] = true;
  }
  return options;
}

const tiny = () => 1;
"""

TYPESCRIPT = """\
import { readFileSync } from "fs";

const DEFAULT_NAME: string = "app";

/** Holds the settings. */
@Injectable()
export class Config {
  retries: number = 3;

  load(path: string): Data {
    const raw = readFileSync(path);
    const data = parse(raw);
    return this.helper(data);
  }

  name(): string { return DEFAULT_NAME; }
}

const TIMEOUT = 30;

export const parseArgs = (argv: string[]): Options => {
  const options: Options = {};
  for (const arg of argv) {
    options[arg] = true;
  }
  return options;
};

function tiny(): number { return 1; }
"""

TSX = """\
import React from "react";

const DEFAULT_NAME = "app";

/** Holds the settings. */
export class Config extends React.Component<Props> {
  retries = 3;

  load(path: string) {
    const raw = readFile(path);
    const data = parse(raw);
    return this.helper(data);
  }

  name() { return DEFAULT_NAME; }
}

const TIMEOUT = 30;

export function parseArgs(argv: string[]) {
  const options: Record<string, boolean> = {};
  for (const arg of argv) {
    options[arg] = true;
  }
  return <Options value={options} />;
}

const tiny = () => <span>1</span>;
"""

GO = """\
package config

import "os"

const DefaultName = "app"

// Config holds the settings.
type Config struct {
	Retries int
	Path    string
	Verbose bool
}

// Load reads the settings file.
func (c *Config) Load(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return c.helper(parse(raw))
}

func (c *Config) Name() string { return DefaultName }

var Timeout = 30

func ParseArgs(argv []string) map[string]bool {
	options := map[string]bool{}
	for _, arg := range argv {
		options[arg] = true
	}
	return options
}

func tiny() int { return 1 }
"""

RUST = """\
use std::fs;

const DEFAULT_NAME: &str = "app";

/// Holds the settings.
#[derive(Debug, Clone)]
pub struct Config {
    retries: u32,
    path: String,
    verbose: bool,
}

impl Config {
    /// Read the settings file.
    pub fn load(&self, path: &str) -> Data {
        let raw = fs::read_to_string(path).unwrap();
        let data = parse(&raw);
        self.helper(data)
    }

    pub fn name(&self) -> &str { DEFAULT_NAME }
}

static TIMEOUT: u32 = 30;

pub fn parse_args(argv: &[String]) -> Options {
    let mut options = Options::new();
    for arg in argv {
        options.insert(arg.clone());
    }
    options
}

fn tiny() -> u32 { 1 }
"""

JAVA = """\
package app.config;

import java.nio.file.Files;

/** Holds the settings. */
@Immutable
public class Config {
    private int retries = 3;

    @Override
    public Data load(String path) {
        String raw = Files.readString(path);
        Data data = parse(raw);
        return this.helper(data);
    }

    public String name() { return DEFAULT_NAME; }

    public static Options parseArgs(String[] argv) {
        Options options = new Options();
        for (String arg : argv) {
            options.put(arg, true);
        }
        return options;
    }
}
"""

C = """\
#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_NAME "app"

/* Holds the settings. */
struct config {
    int retries;
    char *path;
    int verbose;
};

static int timeout = 30;

/* Read the settings file. */
int config_load(struct config *c, const char *path) {
    char *raw = read_file(path);
    struct data *d = parse(raw);
    free(raw);
    return helper(c, d);
}

static int tiny(void) { return 1; }
"""

CPP = """\
#include <string>

namespace app {

// Holds the settings.
class Config {
public:
    int retries = 3;

    Data load(const std::string& path) {
        auto raw = readFile(path);
        auto data = parse(raw);
        return this->helper(data);
    }

    std::string name() const { return kDefaultName; }
};

static int timeout = 30;

Options parseArgs(int argc, char** argv) {
    Options options;
    for (int i = 0; i < argc; ++i) {
        options.set(argv[i]);
    }
    return options;
}

int tiny() { return 1; }

}  // namespace app
"""

RUBY = """\
require "json"

DEFAULT_NAME = "app"

# Holds the settings.
class Config
  attr_reader :retries

  def load(path)
    raw = File.read(path)
    data = parse(raw)
    self.helper(data)
  end

  def name = DEFAULT_NAME
end

TIMEOUT = 30

def parse_args(argv)
  options = {}
  argv.each do |arg|
    options[arg] = true
  end
  options
end

def tiny; 1; end
"""

C_SHARP = """\
using System.IO;

namespace App.Settings
{
    /// <summary>Holds the settings.</summary>
    [Serializable]
    public class Config
    {
        private int retries = 3;

        public Data Load(string path)
        {
            var raw = File.ReadAllText(path);
            var data = Parse(raw);
            return this.Helper(data);
        }

        public string Name() { return DefaultName; }
    }

    public static class Cli
    {
        public static Options ParseArgs(string[] argv)
        {
            var options = new Options();
            foreach (var arg in argv) { options.Add(arg); }
            return options;
        }
    }
}
"""


@dataclass(frozen=True)
class Sample:
    """A source file and what the chunker must find in it."""

    language: str
    path: str
    source: str
    class_symbol: str  # the class (or struct/impl) chunk holding the short method
    long_method: str  # qualified name of a method with its own chunk
    short_method: str  # qualified name of a method merged into its context
    function: str  # qualified name of a function with its own chunk
    function_kind: str = "function"
    method_kind: str = "method"  # C has no methods: its "long method" is a function
    attached_line: str = ""  # a decorator/attribute/doc line that must be in a chunk's range


SAMPLES = [
    Sample("python", "app/config.py", PYTHON, "Config", "Config.load", "Config.name",
           "parse_args", attached_line="@dataclass"),
    Sample("javascript", "src/config.js", JAVASCRIPT, "Config", "Config.load", "Config.name",
           "parseArgs", attached_line="/** Holds the settings. */"),
    Sample("typescript", "src/config.ts", TYPESCRIPT, "Config", "Config.load", "Config.name",
           "parseArgs", attached_line="@Injectable()"),
    Sample("tsx", "src/config.tsx", TSX, "Config", "Config.load", "Config.name",
           "parseArgs", attached_line="/** Holds the settings. */"),
    Sample("go", "config/config.go", GO, "Config", "Config.Load", "Config.Name",
           "ParseArgs", attached_line="// Load reads the settings file."),
    Sample("rust", "src/config.rs", RUST, "Config", "Config.load", "Config.name",
           "parse_args", attached_line="#[derive(Debug, Clone)]"),
    Sample("java", "src/Config.java", JAVA, "Config", "Config.load", "Config.name",
           "Config.parseArgs", function_kind="method", attached_line="@Override"),
    Sample("c", "src/config.c", C, "config", "config_load", "tiny", "config_load",
           method_kind="function", attached_line="/* Read the settings file. */"),
    Sample("cpp", "src/config.cpp", CPP, "app.Config", "app.Config.load", "app.Config.name",
           "app.parseArgs", attached_line="// Holds the settings."),
    Sample("ruby", "lib/config.rb", RUBY, "Config", "Config.load", "Config.name",
           "parse_args", attached_line="# Holds the settings."),
    Sample("c_sharp", "src/Config.cs", C_SHARP, "App.Settings.Config",
           "App.Settings.Config.Load", "App.Settings.Config.Name",
           "App.Settings.Cli.ParseArgs", function_kind="method",
           attached_line="[Serializable]"),
]  # fmt: skip

BY_LANGUAGE = {sample.language: sample for sample in SAMPLES}


def chunk(sample: Sample) -> FileChunks:
    return chunk_file(sample.path, sample.source, sample.language)


def by_symbol(result: FileChunks, symbol: str, kind: str | None = None) -> list[Chunk]:
    return [c for c in result.chunks if c.span.symbol == symbol and kind in (None, c.kind)]


def line_of(source: str, needle: str) -> int:
    """0-based index of the first line containing `needle`."""
    return next(i for i, line in enumerate(split_lines(source)) if needle in line)


def assert_covers_every_line(result: FileChunks, text: str) -> None:
    """Every non-blank line lies in some chunk, and each chunk's text is its lines."""
    lines = split_lines(text)
    covered = [False] * len(lines)
    for c in result.chunks:
        assert 0 <= c.span.start_line <= c.span.end_line < len(lines), c
        assert c.span.text == "\n".join(lines[c.span.start_line : c.span.end_line + 1]), c
        for row in range(c.span.start_line, c.span.end_line + 1):
            covered[row] = True
    missing = [i for i, line in enumerate(lines) if line.strip() and not covered[i]]
    assert not missing, [lines[i] for i in missing]


def containing(result: FileChunks, row: int) -> list[Chunk]:
    return [c for c in result.chunks if c.span.start_line <= row <= c.span.end_line]


# ----------------------------------------------------------------- per language

LANGUAGE_IDS = [sample.language for sample in SAMPLES]


@pytest.mark.parametrize("sample", SAMPLES, ids=LANGUAGE_IDS)
def test_parses_with_real_grammar(sample: Sample) -> None:
    result = chunk(sample)
    assert result.parsed
    assert all(c.language == sample.language and c.span.path == sample.path for c in result.chunks)


@pytest.mark.parametrize("sample", SAMPLES, ids=LANGUAGE_IDS)
def test_long_method_gets_its_own_chunk(sample: Sample) -> None:
    result = chunk(sample)
    [method] = by_symbol(result, sample.long_method)
    assert method.kind == sample.method_kind
    name = sample.long_method.rpartition(".")[2]
    assert method.span.scope.startswith(f"{sample.method_kind} `")
    assert name in method.span.scope
    assert method.span.end_line - method.span.start_line + 1 >= MIN_CHUNK_LINES


@pytest.mark.parametrize("sample", SAMPLES, ids=LANGUAGE_IDS)
def test_long_function_gets_its_own_chunk(sample: Sample) -> None:
    result = chunk(sample)
    [function] = by_symbol(result, sample.function)
    assert function.kind == sample.function_kind
    assert sample.function.rpartition(".")[2] in function.span.text
    assert function.span.end_line - function.span.start_line + 1 >= MIN_CHUNK_LINES


@pytest.mark.parametrize("sample", SAMPLES, ids=LANGUAGE_IDS)
def test_short_method_joins_its_context_and_is_still_a_definition(sample: Sample) -> None:
    result = chunk(sample)
    assert not by_symbol(result, sample.short_method)
    [definition] = [d for d in result.definitions if d.qualified == sample.short_method]
    holders = containing(result, definition.line)
    assert holders, "the short method's lines must be in some chunk"
    # Inside a class it joins the class chunk; a free function (C, Go receiver) joins
    # the top-level code around it.
    assert {c.kind for c in holders} <= {"class", "module"}
    if any(c.kind == "class" for c in holders):
        assert any(c.span.symbol == sample.class_symbol for c in holders)


@pytest.mark.parametrize("sample", SAMPLES, ids=LANGUAGE_IDS)
def test_class_chunk_covers_the_header(sample: Sample) -> None:
    result = chunk(sample)
    classes = by_symbol(result, sample.class_symbol, "class")
    assert classes
    header = min(classes, key=lambda c: c.span.start_line)
    assert header.span.scope.endswith(f"`{sample.class_symbol}`")
    simple = sample.class_symbol.rpartition(".")[2]
    assert simple in header.span.text.splitlines()[0] or simple in header.span.text


@pytest.mark.parametrize("sample", SAMPLES, ids=LANGUAGE_IDS)
def test_every_non_blank_line_is_covered(sample: Sample) -> None:
    assert_covers_every_line(chunk(sample), sample.source)


@pytest.mark.parametrize("sample", SAMPLES, ids=LANGUAGE_IDS)
def test_decorators_and_doc_comments_belong_to_the_definition_below(sample: Sample) -> None:
    result = chunk(sample)
    row = line_of(sample.source, sample.attached_line)
    holders = [c for c in containing(result, row) if c.span.symbol is not None]
    assert holders, f"{sample.attached_line!r} is not in a definition's chunk"


@pytest.mark.parametrize("sample", SAMPLES, ids=LANGUAGE_IDS)
def test_top_level_statements_are_module_chunks(sample: Sample) -> None:
    result = chunk(sample)
    modules = [c for c in result.chunks if c.kind == "module"]
    assert modules
    assert all(c.span.symbol is None and c.span.scope == "top-level code" for c in modules)
    first_line = split_lines(sample.source)[0]
    assert any(first_line in c.span.text for c in modules)


@pytest.mark.parametrize("sample", SAMPLES, ids=LANGUAGE_IDS)
def test_long_method_lists_its_calls(sample: Sample) -> None:
    result = chunk(sample)
    [method] = by_symbol(result, sample.long_method)
    calls = {name.lower() for name in method.calls}
    assert {"helper", "parse"} <= calls
    assert sample.long_method.rpartition(".")[2] not in method.calls


@pytest.mark.parametrize("sample", SAMPLES, ids=LANGUAGE_IDS)
def test_definitions_have_names_lines_and_signatures(sample: Sample) -> None:
    result = chunk(sample)
    qualified = {d.qualified: d for d in result.definitions}
    for name in (sample.long_method, sample.short_method, sample.function):
        assert name in qualified, sorted(qualified)
    load = qualified[sample.long_method]
    simple = sample.long_method.rpartition(".")[2]
    assert load.name == simple
    assert simple in split_lines(sample.source)[load.line] or sample.language == "java"
    assert load.line <= load.end_line
    assert simple in load.signature
    assert "\n" not in load.signature and len(load.signature) <= 200


@pytest.mark.parametrize("sample", SAMPLES, ids=LANGUAGE_IDS)
def test_chunk_hash_and_embed_header(sample: Sample) -> None:
    for c in chunk(sample).chunks:
        assert c.embed_text == f"path: {sample.path}\n{c.span.scope}\n{c.span.text}"
        assert c.content_hash == hashlib.sha256(c.embed_text.encode()).hexdigest()


# ----------------------------------------------------------------- kinds and names


def test_python_definition_kinds_and_qualified_names() -> None:
    result = chunk(BY_LANGUAGE["python"])
    kinds = {d.qualified: d.kind for d in result.definitions}
    assert kinds == {
        "Config": "class",
        "Config.load": "method",
        "Config.name": "method",
        "parse_args": "function",
        "tiny": "function",
    }
    [method] = by_symbol(result, "Config.load")
    assert method.span.scope == "method `load` in class `Config`"
    [function] = by_symbol(result, "parse_args")
    assert function.span.scope == "function `parse_args`"


def test_python_method_calls_self_helper_and_free_function() -> None:
    source = (
        "class Loader:\n"
        "    def run(self, x):\n"
        "        value = parse(x)\n"
        "        value = self.helper(value)\n"
        "        self.run(value)\n"
        "        return pkg.mod.fn(value)\n"
    )
    result = chunk_file("loader.py", source, "python")
    [method] = by_symbol(result, "Loader.run")
    assert method.calls == ("parse", "helper", "fn")


def test_go_types_and_receiver_methods() -> None:
    result = chunk(BY_LANGUAGE["go"])
    kinds = {d.qualified: d.kind for d in result.definitions}
    assert kinds["Config"] == "struct"
    assert kinds["Config.Load"] == "method"
    assert kinds["ParseArgs"] == "function"
    [load] = by_symbol(result, "Config.Load")
    assert load.span.scope == "method `Load` in type `Config`"
    assert load.span.text.startswith("// Load reads the settings file.")


def test_go_grouped_type_specs_are_separate_definitions() -> None:
    source = "package p\n\ntype (\n\tID int\n\tLoader interface {\n\t\tLoad() error\n\t}\n)\n"
    result = chunk_file("p.go", source, "go")
    kinds = {d.qualified: (d.kind, d.line) for d in result.definitions}
    assert kinds == {"ID": ("type", 3), "Loader": ("interface", 4), "Loader.Load": ("method", 5)}
    assert_covers_every_line(result, source)


def test_rust_impl_block_names_its_type_and_trait_impls_qualify_methods() -> None:
    source = RUST + (
        "\nimpl<T: Clone> fmt::Display for Wrapper<T> {\n"
        "    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {\n"
        "        let text = self.render();\n"
        "        let text = text.trim();\n"
        '        write!(f, "{}", text)\n'
        "    }\n"
        "}\n"
    )
    result = chunk_file("src/config.rs", source, "rust")
    kinds = {d.qualified: d.kind for d in result.definitions}
    assert kinds["Config"] == "struct"
    assert kinds["Wrapper.fmt"] == "method"
    assert "Wrapper" not in kinds  # an impl block defines no new name
    scopes = [c.span.scope for c in by_symbol(result, "Config", "class")]
    # The struct, the impl header, and the impl's short method after the long one.
    assert scopes == ["struct `Config`", "impl `Config`", "impl `Config` (continued)"]
    [fmt] = by_symbol(result, "Wrapper.fmt")
    assert fmt.span.scope == "method `fmt` in impl `Wrapper`"
    assert fmt.calls == ("render", "trim", "write")
    assert_covers_every_line(result, source)


def test_c_declarators_typedefs_and_structs() -> None:
    source = (
        "typedef struct point {\n    int x;\n    int y;\n} point_t;\n\n"
        "typedef struct { int a; } anon_t;\n\n"
        "static const char **names(int n, char **out) {\n    return out;\n}\n\n"
        "int (*handler)(int);\n"
    )
    result = chunk_file("a.c", source, "c")
    kinds = {d.qualified: d.kind for d in result.definitions}
    assert kinds == {"point_t": "type", "point": "struct", "anon_t": "type", "names": "function"}
    assert_covers_every_line(result, source)


def test_cpp_out_of_class_methods_are_qualified_by_their_class() -> None:
    source = (
        "namespace app {\n"
        "int Config::size() const {\n"
        "    int total = 0;\n"
        "    for (auto& item : items_) {\n"
        "        total += item.count();\n"
        "    }\n"
        "    return total;\n"
        "}\n"
        "}\n"
    )
    result = chunk_file("a.cpp", source, "cpp")
    [size] = by_symbol(result, "app.Config.size")
    assert size.kind == "method"
    assert size.calls == ("count",)
    assert_covers_every_line(result, source)


def test_javascript_arrow_functions_and_class_fields_are_definitions() -> None:
    source = (
        "export const handler = async (event) => {\n"
        "  const body = JSON.parse(event.body);\n"
        "  await save(body);\n"
        "  return respond(200);\n"
        "};\n"
        "class Widget {\n"
        "  // Toggles the widget.\n"
        "  onClick = (e) => { this.toggle(e); };\n"
        "\n"
        "  render() { return new View(this); }\n"
        "}\n"
    )
    result = chunk_file("h.js", source, "javascript")
    kinds = {d.qualified: d.kind for d in result.definitions}
    assert kinds == {
        "handler": "function",
        "Widget": "class",
        "Widget.onClick": "method",
        "Widget.render": "method",
    }
    [handler] = by_symbol(result, "handler")
    assert handler.span.start_line == 0 and handler.span.end_line == 4
    assert handler.calls == ("parse", "save", "respond")
    [widget] = by_symbol(result, "Widget", "class")
    assert set(widget.calls) == {"toggle", "View"}


def test_ruby_modules_qualify_but_do_not_hide_top_level_code() -> None:
    source = (
        "module Billing\n"
        "  RATE = 3\n"
        "  class Invoice\n"
        "    def total\n"
        "      items.sum { |item| item.price * RATE }\n"
        "        .round(2)\n"
        "        .to_f\n"
        "    end\n"
        "  end\n"
        "end\n"
    )
    result = chunk_file("billing.rb", source, "ruby")
    kinds = {d.qualified: d.kind for d in result.definitions}
    assert kinds == {
        "Billing": "module",
        "Billing.Invoice": "class",
        "Billing.Invoice.total": "method",
    }
    assert_covers_every_line(result, source)


# ----------------------------------------------------------------- merge rules


def test_class_whose_methods_are_all_short_is_one_chunk() -> None:
    source = (
        "class Point:\n"
        "    x: int = 0\n"
        "    y: int = 0\n"
        "\n"
        "    def norm(self):\n"
        "        return abs(self.x) + abs(self.y)\n"
        "\n"
        "    def flip(self):\n"
        "        return Point(self.y, self.x)\n"
    )
    result = chunk_file("p.py", source, "python")
    assert [(c.kind, c.span.symbol, c.span.start_line, c.span.end_line) for c in result.chunks] == [
        ("class", "Point", 0, 8)
    ]
    assert set(result.chunks[0].calls) == {"abs"}  # its own name is left out


def test_short_methods_after_a_long_one_form_a_continued_class_chunk() -> None:
    source = (
        "class Store:\n"
        "    kind = 'db'\n"
        "\n"
        "    def load(self):\n"
        "        a = 1\n"
        "        b = 2\n"
        "        c = 3\n"
        "        return a + b + c\n"
        "\n"
        "    def size(self):\n"
        "        return 0\n"
    )
    result = chunk_file("s.py", source, "python")
    shape = [
        (c.kind, c.span.symbol, c.span.scope, c.span.start_line, c.span.end_line)
        for c in result.chunks
    ]
    assert shape == [
        ("class", "Store", "class `Store`", 0, 1),
        ("method", "Store.load", "method `load` in class `Store`", 3, 7),
        ("class", "Store", "class `Store` (continued)", 9, 10),
    ]


def test_short_top_level_functions_merge_with_statements_into_module_chunks() -> None:
    source = "import os\n\n\ndef a():\n    return 1\n\n\nX = a()\n\n\ndef b():\n    return 2\n"
    result = chunk_file("m.py", source, "python")
    assert [(c.kind, c.span.start_line, c.span.end_line) for c in result.chunks] == [
        ("module", 0, 11)
    ]
    assert result.chunks[0].calls == ("a",)
    assert {d.qualified for d in result.definitions} == {"a", "b"}


def test_closing_braces_join_the_chunk_before_them() -> None:
    source = (
        "public class Box {\n"
        "    public int size() {\n"
        "        int total = 0;\n"
        "        total += 1;\n"
        "        total += 2;\n"
        "        return total;\n"
        "    }\n"
        "}\n"
    )
    result = chunk_file("Box.java", source, "java")
    shape = [(c.kind, c.span.symbol, c.span.start_line, c.span.end_line) for c in result.chunks]
    assert shape == [("class", "Box", 0, 0), ("method", "Box.size", 1, 7)]


def test_section_comments_join_the_chunk_after_them() -> None:
    body = "    a = os.path.basename(path)\n    b = a.upper()\n    c = b.lower()\n    return c\n"
    source = (
        f"def main(path):\n{body}"
        "\n\n"
        "# ----------------------------------------------------------------- helpers\n"
        "\n\n"
        f"def helper(path):\n{body}"
    )
    result = chunk_file("h.py", source, "python")
    shape = [(c.span.symbol, c.span.start_line, c.span.end_line) for c in result.chunks]
    assert shape == [("main", 0, 4), ("helper", 7, 14)]
    assert_covers_every_line(result, source)


def test_a_file_of_only_closers_and_comments_is_still_covered() -> None:
    source = "// just a note\n}\n"
    result = chunk_file("odd.js", source, "javascript")
    assert_covers_every_line(result, source)


def test_nested_functions_stay_inside_their_enclosing_function() -> None:
    source = (
        "def outer(items):\n"
        "    def key(item):\n"
        "        a = item.a\n"
        "        b = item.b\n"
        "        c = item.c\n"
        "        return (a, b, c)\n"
        "    return sorted(items, key=key)\n"
    )
    result = chunk_file("n.py", source, "python")
    assert [(c.span.symbol, c.span.start_line, c.span.end_line) for c in result.chunks] == [
        ("outer", 0, 6)
    ]
    assert result.chunks[0].calls == ("sorted",)
    assert {d.qualified: d.kind for d in result.definitions} == {
        "outer": "function",
        "outer.key": "function",
    }


def test_long_top_level_code_is_split_into_windows() -> None:
    source = "".join(f"SETTING_{i} = {i}\n" for i in range(150))
    result = chunk_file("settings.py", source, "python")
    assert all(c.kind == "module" for c in result.chunks)
    assert all(
        c.span.end_line - c.span.start_line + 1 <= MODULE_WINDOW_LINES for c in result.chunks
    )
    assert len(result.chunks) == 3
    assert_covers_every_line(result, source)


def test_blank_only_stretches_are_dropped() -> None:
    source = "\n\n\ndef f():\n    a = 1\n    b = 2\n    c = 3\n    return a\n\n\n\n"
    result = chunk_file("f.py", source, "python")
    assert [(c.kind, c.span.start_line, c.span.end_line) for c in result.chunks] == [
        ("function", 3, 7)
    ]


# ----------------------------------------------------------------- summaries


def long_python_function(body_lines: int) -> str:
    body = "".join(f"    step_{i} = compute({i})\n" for i in range(body_lines))
    return f'def pipeline(data):\n    """Run every stage over the data."""\n{body}    return data\n'


def test_function_over_100_lines_also_gets_a_summary_chunk() -> None:
    source = long_python_function(120)
    result = chunk_file("pipe.py", source, "python")
    [full] = by_symbol(result, "pipeline", "function")
    [summary] = by_symbol(result, "pipeline", "summary")
    assert (summary.span.start_line, summary.span.end_line) == (
        full.span.start_line,
        full.span.end_line,
    )
    assert summary.embed_text == (
        "path: pipe.py\nsummary of function `pipeline`\n"
        'def pipeline(data):\n"""Run every stage over the data."""'
    )
    assert "step_50" in full.embed_text and "step_50" not in summary.embed_text
    assert full.calls == ("compute",)
    assert summary.content_hash != full.content_hash


def test_summary_shares_the_range_of_its_function_chunk() -> None:
    source = "class Pipeline {\n" + long_js_method(105) + "}\n"
    result = chunk_file("p.js", source, "javascript")
    [full] = by_symbol(result, "Pipeline.run", "method")
    [summary] = by_symbol(result, "Pipeline.run", "summary")
    assert full.span.end_line == len(split_lines(source)) - 1  # it took the class's `}`
    assert (summary.span.start_line, summary.span.end_line) == (
        full.span.start_line,
        full.span.end_line,
    )
    assert summary.embed_text.endswith("run(data)\n/** Runs every stage. */")


def long_js_method(body_lines: int) -> str:
    body = "".join(f"    step(data, {i});\n" for i in range(body_lines))
    return f"  /** Runs every stage. */\n  run(data) {{\n{body}  }}\n"


def test_function_of_100_lines_gets_no_summary() -> None:
    source = long_python_function(97)  # def + docstring + 97 + return = 100 lines
    result = chunk_file("pipe.py", source, "python")
    assert len(split_lines(source)) == 100
    assert not [c for c in result.chunks if c.kind == "summary"]


def test_summary_of_a_go_function_uses_the_doc_comment() -> None:
    body = "".join(f"\tstep{i} := compute({i})\n" for i in range(110))
    header = "package p\n\n// Pipeline runs every stage.\nfunc Pipeline(data []int) int {\n"
    source = f"{header}{body}\treturn 0\n}}\n"
    result = chunk_file("p.go", source, "go")
    [summary] = by_symbol(result, "Pipeline", "summary")
    assert summary.embed_text.endswith(
        "func Pipeline(data []int) int\n// Pipeline runs every stage."
    )


# ----------------------------------------------------------------- robustness


def test_unknown_language_falls_back_to_line_windows() -> None:
    text = "".join(f"line {i}\n" for i in range(100))
    result = chunk_file("notes.txt", text, "text")
    assert not result.parsed
    assert result.definitions == []
    assert [(c.span.start_line, c.span.end_line) for c in result.chunks] == [
        (0, 39),
        (30, 69),
        (60, 99),
    ]
    assert all(c.kind == "window" and c.span.symbol is None for c in result.chunks)
    assert result.chunks[0].span.scope == "lines 1-40"
    assert_covers_every_line(result, text)


def test_file_with_a_syntax_error_still_yields_chunks() -> None:
    source = PYTHON.replace("def parse_args(argv):", "def parse_args(argv:")
    result = chunk_file("broken.py", source, "python")
    assert result.chunks
    assert_covers_every_line(result, source)
    assert by_symbol(result, "Config.load")  # the intact part keeps its structure


def test_mostly_broken_file_falls_back_to_windows() -> None:
    source = "".join(f"}} ]] ) def ( class {i} :: <<\n" for i in range(50))
    result = chunk_file("junk.py", source, "python")
    assert not result.parsed
    assert_covers_every_line(result, source)


def test_binary_looking_text_never_raises() -> None:
    text = "".join(chr(c) for c in range(256)) * 20 + "\udcff\x00\ufffe"
    for language in ("python", "c", "rust", "text"):
        result = chunk_file("blob.bin", text, language)
        assert result.chunks
        assert_covers_every_line(result, text)


@pytest.mark.parametrize("language", ["python", "javascript", "c", "ruby"])
def test_deep_nesting_does_not_crash(language: str) -> None:
    depth = 10_000
    source = "x = " + "(" * depth + "1" + ")" * depth + "\n"
    result = chunk_file("deep.src", source, language)
    assert result.chunks
    assert_covers_every_line(result, source)


def test_deeply_nested_definitions_do_not_crash() -> None:
    depth = 3_000
    source = "".join(" " * i + f"def f{i}():\n" for i in range(depth)) + " " * depth + "pass\n"
    result = chunk_file("nest.py", source, "python")
    assert result.chunks
    assert len(result.definitions) in (0, depth)  # either parsed, or fell back to windows
    assert_covers_every_line(result, source)


def test_non_ascii_text_keeps_line_numbers() -> None:
    source = (
        "# Grüße, 你好, emoji 🎉 — the tree counts bytes, lines must not shift\n"
        'GREETING = "héllo wörld 🎉🎉🎉"\n'
        "\n"
        "def grüßen(name):\n"
        '    """Say hello in 中文."""\n'
        '    text = f"你好 {name} 🎉"\n'
        "    text = decorate(text)\n"
        "    return text\n"
    )
    result = chunk_file("grüße.py", source, "python")
    [function] = by_symbol(result, "grüßen")
    assert (function.span.start_line, function.span.end_line) == (3, 7)
    assert function.span.text.splitlines()[0] == "def grüßen(name):"
    assert function.calls == ("decorate",)
    [definition] = result.definitions
    assert definition.line == 3 and definition.signature == "def grüßen(name):"


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_and_lone_cr_keep_line_numbers(newline: str) -> None:
    source = PYTHON.replace("\n", newline)
    result = chunk_file("app/config.py", source, "python")
    [method] = by_symbol(result, "Config.load")
    reference = by_symbol(chunk(BY_LANGUAGE["python"]), "Config.load")[0]
    assert (method.span.start_line, method.span.end_line) == (
        reference.span.start_line,
        reference.span.end_line,
    )
    assert method.span.text == reference.span.text


def test_empty_file_has_no_chunks() -> None:
    assert chunk_file("empty.py", "", "python") == FileChunks([], [], parsed=True)
    assert chunk_file("empty.txt", "", "text").chunks == []


def test_chunking_from_many_threads_gives_the_same_result() -> None:
    expected = {s.language: chunk(s) for s in SAMPLES}
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda s: (s.language, chunk(s)), SAMPLES * 8))
    for language, result in results:
        assert result == expected[language]


# ----------------------------------------------------------------- more languages

MORE_LANGUAGES = {
    "bash": (
        "deploy.sh",
        "#!/bin/sh\nset -e\n\n# Ship it.\ndeploy() {\n  build\n  rsync -a dist/ host:\n"
        "  notify done\n}\n\ndeploy\n",
        {"deploy": "function"},
        "deploy",
    ),
    "lua": (
        "mod.lua",
        "local M = {}\n\n-- Load a file.\nfunction M.load(path)\n  local f = io.open(path)\n"
        "  local data = f:read('a')\n  f:close()\n  return parse(data)\nend\n\nreturn M\n",
        {"M.load": "function"},
        "M.load",
    ),
    "php": (
        "Config.php",
        "<?php\nnamespace App;\n\nclass Config\n{\n    private $retries = 3;\n\n"
        "    public function load($path)\n    {\n        $raw = file_get_contents($path);\n"
        "        return $this->helper(parse($raw));\n    }\n}\n",
        {"App": "module", "App.Config": "class", "App.Config.load": "method"},
        "App.Config.load",
    ),
    "kotlin": (
        "Config.kt",
        "package app\n\nclass Config(val retries: Int) {\n    fun load(path: String): Data {\n"
        "        val raw = readFile(path)\n        val data = parse(raw)\n"
        "        return this.helper(data)\n    }\n}\n",
        {"Config": "class", "Config.load": "method"},
        "Config.load",
    ),
    "scala": (
        "Config.scala",
        "package app\n\nclass Config(retries: Int) {\n  def load(path: String): Data = {\n"
        "    val raw = readFile(path)\n    val data = parse(raw)\n    this.helper(data)\n"
        "  }\n}\n",
        {"Config": "class", "Config.load": "method"},
        "Config.load",
    ),
    "swift": (
        "Config.swift",
        "import Foundation\n\nclass Config {\n    func load(path: String) -> Data {\n"
        "        let raw = readFile(path)\n        let data = parse(raw)\n"
        "        return self.helper(data)\n    }\n}\n",
        {"Config": "class", "Config.load": "method"},
        "Config.load",
    ),
}


@pytest.mark.parametrize("language", sorted(MORE_LANGUAGES))
def test_more_languages_get_definitions_and_function_chunks(language: str) -> None:
    path, source, definitions, chunked = MORE_LANGUAGES[language]
    result = chunk_file(path, source, language)
    assert result.parsed
    assert {d.qualified: d.kind for d in result.definitions} == definitions
    assert by_symbol(result, chunked)
    assert_covers_every_line(result, source)


# ----------------------------------------------------------------- coverage property

EXTRA_FILES = {
    "python": '''\
#!/usr/bin/env python3
"""A CLI with a bit of everything."""
from __future__ import annotations

import sys

if sys.version_info < (3, 11):
    raise SystemExit("too old")


class Base:
    pass


@register("x")
@other
class Handler(Base):
    """Handle things."""

    registry: dict[str, int] = {}

    class Meta:
        ordering = ["name"]
        verbose = True
        label = "h"
        extra = None

    @property
    def name(self) -> str:
        return "handler"

    @staticmethod
    def build(spec):
        parts = spec.split(",")
        cleaned = [p.strip() for p in parts]
        lookup = {p: len(p) for p in cleaned}
        return Handler(lookup)

    # trailing comment in class


def main(argv=None):
    def inner():
        return 1
    try:
        run(argv or sys.argv[1:])
    except KeyboardInterrupt:
        return 130
    return inner()


if __name__ == "__main__":
    sys.exit(main())
''',
    "javascript": """\
'use strict';
const express = require('express');
const app = express();

app.get('/', (req, res) => {
  res.send('hello');
});

describe('suite', () => {
  it('works', () => {
    expect(add(1, 2)).toBe(3);
  });
});

module.exports = function handler(req) {
  const a = 1;
  const b = 2;
  return process(req, a, b);
};

(function () {
  console.log('iife');
})();
""",
    "tsx": """\
import { useState } from "react";

type Props = { title: string };

export function Panel({ title }: Props) {
  const [open, setOpen] = useState(false);
  return (
    <section>
      <h1 onClick={() => setOpen(!open)}>{title}</h1>
      {open && <Body />}
    </section>
  );
}

const Body = () => <p>body</p>;

export default Panel;
""",
    "typescript": """\
export interface Options {
  name: string;
  retries?: number;
  verbose: boolean;
  tags: string[];
}

export type Mode = "fast" | "slow";

export enum Color {
  Red,
  Green,
  Blue,
  Alpha,
}

export namespace Util {
  export function clamp(x: number, lo: number, hi: number): number {
    if (x < lo) return lo;
    if (x > hi) return hi;
    return x;
  }
}

declare module "legacy" {
  export function old(): void;
}

export default abstract class Shape {
  abstract area(): number;
  describe(): string {
    const a = this.area();
    const text = `area ${a}`;
    return text.trim();
  }
}
""",
    "go": """\
package main

import (
	"fmt"
	"os"
)

type Shape interface {
	Area() float64
	Perimeter() float64
	Name() string
}

type Rect struct{ W, H float64 }

func (r Rect) Area() float64 { return r.W * r.H }

func main() {
	shapes := []Shape{}
	for _, s := range shapes {
		fmt.Println(s.Area())
	}
	os.Exit(0)
}

func init() {
	go func() {
		fmt.Println("background")
	}()
}
""",
    "rust": """\
//! Crate docs.
use std::collections::HashMap;

pub trait Store {
    fn get(&self, key: &str) -> Option<String>;
    fn put(&mut self, key: &str, value: String);
    fn len(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_stores() {
        let mut map = HashMap::new();
        map.insert("a", 1);
        assert_eq!(map.len(), 1);
    }
}

macro_rules! square {
    ($x:expr) => {
        $x * $x
    };
}

pub enum Event {
    Click { x: i32, y: i32 },
    Key(char),
    Quit,
}
""",
    "java": """\
package app;

import java.util.*;

public interface Repository<T> {
    Optional<T> find(long id);

    List<T> all();

    default int count() {
        int n = 0;
        for (T item : all()) {
            n++;
        }
        return n;
    }
}

enum Level {
    LOW, HIGH;

    Level flip() {
        return this == LOW ? HIGH : LOW;
    }
}

record Pair(int a, int b) {
    int sum() { return a + b; }
}
""",
    "c": """\
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

typedef enum {
    MODE_FAST,
    MODE_SLOW,
    MODE_AUTO,
    MODE_OFF,
} mode_t;

#ifdef DEBUG
static void trace(const char *msg) {
    fprintf(stderr, "%s\\n", msg);
    fflush(stderr);
    counter++;
}
#endif

size_t count_items(const char **items) {
    size_t n = 0;
    while (items[n] != NULL) {
        n++;
    }
    return n;
}

#endif /* CONFIG_H */
""",
    "cpp": """\
#pragma once
#include <vector>

template <typename T>
class Stack {
public:
    void push(const T& v) { items_.push_back(v); }
    T pop() {
        T top = items_.back();
        items_.pop_back();
        return top;
    }
    bool empty() const { return items_.empty(); }
private:
    std::vector<T> items_;
};

namespace {
int helper(int x) {
    int y = x * 2;
    y += 1;
    return y;
}
}  // namespace

struct Point {
    int x;
    int y;
    int z;
};
""",
    "ruby": """\
# frozen_string_literal: true

module Shapes
  class Circle
    include Comparable

    attr_reader :radius

    def initialize(radius)
      @radius = radius
    end

    def area
      Math::PI * radius**2
    end

    class << self
      def unit
        new(1)
      end
    end

    private

    def validate!
      raise ArgumentError, "negative" if radius.negative?
      true
    end
  end
end

puts Shapes::Circle.unit.area
""",
    "c_sharp": """\
using System;
using System.Collections.Generic;

namespace Shop;

public record Item(string Name, decimal Price);

public interface ICart
{
    void Add(Item item);
    decimal Total();
}

public class Cart : ICart
{
    private readonly List<Item> _items = new();

    public void Add(Item item) => _items.Add(item);

    public decimal Total()
    {
        decimal sum = 0;
        foreach (var item in _items) { sum += item.Price; }
        Console.WriteLine(sum);
        return sum;
    }
}

public enum Status { Open, Closed }
""",
}


@pytest.mark.parametrize("sample", SAMPLES, ids=LANGUAGE_IDS)
def test_coverage_on_more_realistic_files(sample: Sample) -> None:
    source = EXTRA_FILES[sample.language]
    result = chunk_file(sample.path, source, sample.language)
    assert result.parsed
    assert result.definitions
    assert_covers_every_line(result, source)
    # Chunks of one kind never overlap, and summaries aside no two chunks do.
    ranges = sorted(
        (c.span.start_line, c.span.end_line) for c in result.chunks if c.kind != "summary"
    )
    for (_, end), (start, _) in pairwise(ranges):
        assert end < start, ranges
