"""Per-language knowledge the chunker needs, kept as tables rather than code paths.

Every grammar names its definitions, calls and comments differently (`function_definition`,
`function_item`, `method_declaration`, ...). Keeping those names here as data means the
chunker has one algorithm for all languages, and supporting another grammar is a matter of
adding a table here (and the grammar's name to its record in `lsp_ai.languages`), not a
branch. The few helpers below interpret the tables: they find a definition's name and a
call's callee the same way for every language.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, cast

from tree_sitter import Language, Node, Parser, Query, QueryError

from lsp_ai.languages import grammar_for

if TYPE_CHECKING:
    from tree_sitter_language_pack import SupportedLanguage

log = logging.getLogger(__name__)

#: How a definition takes part in chunking. A "function" gets its own chunk (nested
#: definitions stay inside it); a "container" (class, struct, impl, ...) holds methods and
#: gets a chunk for its header and non-method body; a "namespace" (C++/C# namespaces, Rust
#: `mod`, Ruby modules) only qualifies names, so its contents are chunked as top-level code.
Role = Literal["function", "container", "namespace"]


@dataclass(frozen=True)
class DefRule:
    """How to recognise one definition node type and find its name.

    `kind` is the Definition kind (function|class|struct|interface|enum|type|module; a
    function with an enclosing type becomes "method"). The name is the child at
    `name_field`; with `follow_declarators` the C-style declarator chain is followed down to
    the identifier. `qualifier_field` names a child whose last identifier qualifies the name
    (a Go method's receiver). A rule with `value_field` matches only when that child is a
    function value, which is how `const f = () => ...` becomes a function named `f`.
    `kind_field`/`kinds` refine the kind from a child's type (Go `type X struct`), and
    `requires_field` skips nodes without that child (C `struct s;` is a use, not a
    definition). With `defer_field`, a node whose child there is itself a definition only
    yields a Definition and lets that child be chunked (C `typedef struct s {...} s_t;`).
    `emit=False` chunks the node without reporting a Definition (a Rust `impl` block names
    no new symbol). `owns_qualified` says whether a qualifier in the name makes a function
    a method: `Config::size` does, while the `module` of `module.exports = function` is no
    type. `encloses_rest` marks a namespace that, written as a statement without a body
    (C#'s file-scoped `namespace App;`, PHP's `namespace App;`), holds everything after it
    up to the end of its parent.
    """

    kind: str
    role: Role = "function"
    name_field: str = "name"  # "": the first identifier child (Kotlin has no name fields)
    follow_declarators: bool = False
    qualifier_field: str | None = None
    value_field: str | None = None
    kind_field: str | None = None
    kinds: Mapping[str, str] = field(default_factory=dict)
    requires_field: str | None = None
    defer_field: str | None = None
    emit: bool = True
    owns_qualified: bool = True
    encloses_rest: bool = False


@dataclass(frozen=True)
class LanguageSpec:
    """Everything the chunker knows about one language's syntax tree.

    The grammar these node types belong to is named in `lsp_ai.languages`.

    `calls` maps a call node type to the field holding the callee expression ("" for its
    first named child, in grammars without fields). `attachments`
    are node types that, directly above a definition, belong to it (decorators, attributes,
    comments). `wrappers` are node types that wrap a definition without being one
    (`export_statement`, Python's `decorated_definition`, C++ `template_declaration`); the
    definition's chunk grows to cover them. `python_docstrings` says that a function's doc
    is the string opening its body rather than the comment above it.
    """

    definitions: Mapping[str, DefRule]
    calls: Mapping[str, str]
    comments: frozenset[str]
    attachments: frozenset[str] = frozenset()
    wrappers: frozenset[str] = frozenset()
    function_values: frozenset[str] = frozenset()
    python_docstrings: bool = False

    @property
    def attached(self) -> frozenset[str]:
        """Node types absorbed into the definition below them: attachments and comments."""
        return self.attachments | self.comments


# ----------------------------------------------------------------- tables

_FUNCTION = DefRule("function")
_CLASS = DefRule("class", role="container")
_STRUCT = DefRule("struct", role="container")
_INTERFACE = DefRule("interface", role="container")
_ENUM = DefRule("enum", role="container")
_TYPE = DefRule("type", role="container")
_NAMESPACE = DefRule("module", role="namespace")

_JS_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)

_JS_DEFINITIONS: dict[str, DefRule] = {
    "class_declaration": _CLASS,
    "function_declaration": _FUNCTION,
    "generator_function_declaration": _FUNCTION,
    "method_definition": _FUNCTION,
    # `const f = () => {}`, `handler = () => {}` in a class, `obj.f = function () {}`.
    "variable_declarator": DefRule("function", value_field="value"),
    "field_definition": DefRule("function", name_field="property", value_field="value"),
    "assignment_expression": DefRule(
        "function", name_field="left", value_field="right", owns_qualified=False
    ),
}

_TS_DEFINITIONS: dict[str, DefRule] = {
    **_JS_DEFINITIONS,
    "abstract_class_declaration": _CLASS,
    "interface_declaration": _INTERFACE,
    "type_alias_declaration": _TYPE,
    "enum_declaration": _ENUM,
    "internal_module": _NAMESPACE,
    "module": _NAMESPACE,
    "function_signature": _FUNCTION,
    "method_signature": _FUNCTION,
    "abstract_method_signature": _FUNCTION,
    "public_field_definition": DefRule("function", value_field="value"),
}

_JS_CALLS = {"call_expression": "function", "new_expression": "constructor"}
_JS_WRAPPERS = frozenset(
    {"export_statement", "lexical_declaration", "variable_declaration", "expression_statement"}
)

_C_DEFINITIONS: dict[str, DefRule] = {
    "function_definition": DefRule("function", name_field="declarator", follow_declarators=True),
    "struct_specifier": DefRule("struct", role="container", requires_field="body"),
    "union_specifier": DefRule("struct", role="container", requires_field="body"),
    "enum_specifier": DefRule("enum", role="container", requires_field="body"),
    "type_definition": DefRule(
        "type",
        role="container",
        name_field="declarator",
        follow_declarators=True,
        defer_field="type",
    ),
    "preproc_function_def": _FUNCTION,
}

_TS_SPEC = LanguageSpec(
    definitions=_TS_DEFINITIONS,
    calls=_JS_CALLS,
    comments=frozenset({"comment"}),
    attachments=frozenset({"decorator"}),
    wrappers=_JS_WRAPPERS | {"ambient_declaration"},
    function_values=_JS_FUNCTION_VALUES,
)

#: The languages covered in depth: types, methods, wrappers, doc comments.
_CORE_LANGUAGES: dict[str, LanguageSpec] = {
    "python": LanguageSpec(
        definitions={"function_definition": _FUNCTION, "class_definition": _CLASS},
        calls={"call": "function"},
        comments=frozenset({"comment"}),
        attachments=frozenset({"decorator"}),
        wrappers=frozenset({"decorated_definition"}),
        python_docstrings=True,
    ),
    "javascript": LanguageSpec(
        definitions=_JS_DEFINITIONS,
        calls=_JS_CALLS,
        comments=frozenset({"comment"}),
        attachments=frozenset({"decorator"}),
        wrappers=_JS_WRAPPERS,
        function_values=_JS_FUNCTION_VALUES,
    ),
    "typescript": _TS_SPEC,
    "tsx": LanguageSpec(
        definitions=_TS_SPEC.definitions,
        calls=_TS_SPEC.calls,
        comments=_TS_SPEC.comments,
        attachments=_TS_SPEC.attachments,
        wrappers=_TS_SPEC.wrappers,
        function_values=_TS_SPEC.function_values,
    ),
    "go": LanguageSpec(
        definitions={
            "function_declaration": _FUNCTION,
            "method_declaration": DefRule("function", qualifier_field="receiver"),
            "method_elem": _FUNCTION,
            "type_spec": DefRule(
                "type",
                role="container",
                kind_field="type",
                kinds={"struct_type": "struct", "interface_type": "interface"},
            ),
            "type_alias": _TYPE,
        },
        calls={"call_expression": "function"},
        comments=frozenset({"comment"}),
        wrappers=frozenset({"type_declaration"}),
    ),
    "rust": LanguageSpec(
        definitions={
            "function_item": _FUNCTION,
            "function_signature_item": _FUNCTION,
            "macro_definition": _FUNCTION,
            "struct_item": _STRUCT,
            "union_item": _STRUCT,
            "enum_item": _ENUM,
            "trait_item": _INTERFACE,
            "type_item": _TYPE,
            "impl_item": DefRule("impl", role="container", name_field="type", emit=False),
            "mod_item": _NAMESPACE,
        },
        calls={"call_expression": "function", "macro_invocation": "macro"},
        comments=frozenset({"line_comment", "block_comment"}),
        attachments=frozenset({"attribute_item"}),
    ),
    "java": LanguageSpec(
        definitions={
            "class_declaration": _CLASS,
            "record_declaration": _CLASS,
            "interface_declaration": _INTERFACE,
            "annotation_type_declaration": _INTERFACE,
            "enum_declaration": _ENUM,
            "method_declaration": _FUNCTION,
            "constructor_declaration": _FUNCTION,
        },
        calls={"method_invocation": "name", "object_creation_expression": "type"},
        comments=frozenset({"line_comment", "block_comment"}),
    ),
    "c": LanguageSpec(
        definitions=_C_DEFINITIONS,
        calls={"call_expression": "function"},
        comments=frozenset({"comment"}),
    ),
    "cpp": LanguageSpec(
        definitions={
            **_C_DEFINITIONS,
            "class_specifier": DefRule("class", role="container", requires_field="body"),
            "namespace_definition": _NAMESPACE,
            "alias_declaration": _TYPE,
        },
        calls={"call_expression": "function", "new_expression": "type"},
        comments=frozenset({"comment"}),
        attachments=frozenset({"template_parameter_list", "attribute_declaration"}),
        wrappers=frozenset({"template_declaration"}),
    ),
    "ruby": LanguageSpec(
        definitions={
            "method": _FUNCTION,
            "singleton_method": _FUNCTION,
            "class": _CLASS,
            "module": _NAMESPACE,
        },
        calls={"call": "method"},
        comments=frozenset({"comment"}),
    ),
    "c_sharp": LanguageSpec(
        definitions={
            "class_declaration": _CLASS,
            "record_declaration": _CLASS,
            "record_struct_declaration": _STRUCT,
            "struct_declaration": _STRUCT,
            "interface_declaration": _INTERFACE,
            "enum_declaration": _ENUM,
            "delegate_declaration": _TYPE,
            "method_declaration": _FUNCTION,
            "constructor_declaration": _FUNCTION,
            "destructor_declaration": _FUNCTION,
            "local_function_statement": _FUNCTION,
            "namespace_declaration": _NAMESPACE,
            "file_scoped_namespace_declaration": DefRule(
                "module", role="namespace", encloses_rest=True
            ),
        },
        calls={"invocation_expression": "function", "object_creation_expression": "type"},
        comments=frozenset({"comment"}),
        attachments=frozenset({"attribute_list"}),
    ),
}

_PHP_NAMESPACE = DefRule("module", role="namespace", encloses_rest=True)

#: Languages beyond the core set, with smaller tables: enough for functions and types.
_MORE_LANGUAGES: dict[str, LanguageSpec] = {
    "bash": LanguageSpec(
        definitions={"function_definition": _FUNCTION},
        calls={"command": "name"},
        comments=frozenset({"comment"}),
    ),
    "lua": LanguageSpec(
        definitions={"function_declaration": DefRule("function", owns_qualified=False)},
        calls={"function_call": "name"},
        comments=frozenset({"comment"}),
    ),
    "php": LanguageSpec(
        definitions={
            "class_declaration": _CLASS,
            "interface_declaration": _INTERFACE,
            "trait_declaration": _INTERFACE,
            "enum_declaration": _ENUM,
            "method_declaration": _FUNCTION,
            "function_definition": _FUNCTION,
            "namespace_definition": _PHP_NAMESPACE,
        },
        calls={
            "function_call_expression": "function",
            "member_call_expression": "name",
            "nullsafe_member_call_expression": "name",
            "scoped_call_expression": "name",
            "object_creation_expression": "",
        },
        comments=frozenset({"comment"}),
        attachments=frozenset({"attribute_list"}),
    ),
    "kotlin": LanguageSpec(
        definitions={
            "class_declaration": DefRule("class", role="container", name_field=""),
            "object_declaration": DefRule("class", role="container", name_field=""),
            "function_declaration": DefRule("function", name_field=""),
        },
        calls={"call_expression": ""},
        comments=frozenset({"line_comment", "multiline_comment"}),
    ),
    "scala": LanguageSpec(
        definitions={
            "class_definition": _CLASS,
            "object_definition": _CLASS,
            "trait_definition": _INTERFACE,
            "enum_definition": _ENUM,
            "type_definition": _TYPE,
            "function_definition": _FUNCTION,
            "function_declaration": _FUNCTION,
        },
        calls={"call_expression": "function"},
        comments=frozenset({"comment", "block_comment"}),
    ),
    "swift": LanguageSpec(
        definitions={
            "class_declaration": _CLASS,
            "protocol_declaration": _INTERFACE,
            "function_declaration": _FUNCTION,
            "protocol_function_declaration": _FUNCTION,
        },
        calls={"call_expression": ""},
        comments=frozenset({"comment", "multiline_comment"}),
    ),
}

#: Language specs by the names `languages.language_for` returns.
SPECS: dict[str, LanguageSpec] = {**_CORE_LANGUAGES, **_MORE_LANGUAGES}

#: Node types whose text is a name as it stands.
IDENTIFIER_TYPES: frozenset[str] = frozenset(
    {
        "identifier",
        "name",  # PHP
        "word",  # Bash
        "property_identifier",
        "private_property_identifier",
        "shorthand_property_identifier",
        "field_identifier",
        "type_identifier",
        "namespace_identifier",
        "package_identifier",
        "constant",
        "simple_identifier",
    }
)

#: Names that the identifier pattern below would mangle (`operator==`, `~Config`, `x=`).
_RAW_NAME_TYPES: frozenset[str] = frozenset(
    {"operator_name", "destructor_name", "operator", "setter"}
)

#: Fields that lead from a callee expression (`a.b`, `A::b`, `a->b`) to its last name.
_CALLEE_FIELDS: tuple[str, ...] = (
    "name",
    "field",
    "property",
    "attribute",
    "method",
    "suffix",
    "function",
)

#: A dotted or `::` path of identifiers; the last match in a text is the name it ends with.
_PATH = re.compile(r"[^\W\d]\w*(?:\s*(?:\.|::)\s*[^\W\d]\w*)*")
_GENERICS = re.compile(r"[<\[]")

#: Receivers that name the enclosing object rather than a type.
_SELF_NAMES: frozenset[str] = frozenset({"this", "self"})

#: How many declarator or member-access levels are followed before giving up.
_MAX_HOPS = 16


def spec_for(language: str) -> LanguageSpec | None:
    """Return the spec for a language name from `languages.language_for`, or None."""
    return SPECS.get(language)


# ----------------------------------------------------------------- names


def node_text(node: Node) -> str:
    """Decode a node's source text; invalid UTF-8 becomes U+FFFD instead of an error."""
    raw = node.text
    return raw.decode("utf-8", errors="replace") if raw else ""


def clean_path(raw: str) -> str:
    """Reduce a type or path expression to a dotted name: `&'a mut Vec<T>` -> `Vec`.

    Generic arguments are dropped and `::` becomes `.`, so that `Config::size`, a Go
    receiver `(c *Config)` and a Rust `impl<T> Display for Wrapper<T>` all qualify their
    members the same way.
    """
    cut = _GENERICS.search(raw)
    if cut is not None:
        raw = raw[: cut.start()]
    matches = _PATH.findall(raw.strip().strip("\"'`"))
    if not matches:
        return ""
    return re.sub(r"\s*(?:\.|::)\s*", ".", matches[-1])


def definition_name(node: Node, rule: DefRule) -> tuple[str, str] | None:
    """Return `(name, qualifier)` for a definition node, or None when it has no name.

    The qualifier is what the node's own syntax says about its owner (`Config` for
    `int Config::size()` or `func (c *Config) Load()`), and is "" otherwise; the enclosing
    definitions are added by the chunker.
    """
    if rule.name_field:
        target = node.child_by_field_name(rule.name_field)
    else:
        target = _first_identifier(node)
    if rule.follow_declarators:
        target = _innermost_declarator(target)
    if target is None:
        return None
    if target.type in IDENTIFIER_TYPES or target.type in _RAW_NAME_TYPES:
        path = node_text(target).strip()  # as written: Ruby's `valid?`, C++'s `operator==`
    else:
        path = clean_path(node_text(target))
    if not path:
        return None
    qualifier, _, name = path.rpartition(".")
    if qualifier in _SELF_NAMES:
        qualifier = ""  # `this.handler = () => ...` belongs to the enclosing class
    if rule.qualifier_field is not None:
        owner = node.child_by_field_name(rule.qualifier_field)
        if owner is not None:
            qualifier = clean_path(node_text(owner)).rpartition(".")[2]
    return name, qualifier


def _first_identifier(node: Node) -> Node | None:
    """The first named child that is an identifier."""
    for child in node.named_children:
        if child.type in IDENTIFIER_TYPES:
            return child
    return None


def _innermost_declarator(node: Node | None) -> Node | None:
    """Follow a C declarator chain (`*make(...)` -> `make(...)` -> `make`) to the name."""
    for _ in range(_MAX_HOPS):
        if node is None or node.type in IDENTIFIER_TYPES or node.type in _RAW_NAME_TYPES:
            return node
        inner = node.child_by_field_name("declarator")
        if inner is None and node.type.endswith("declarator") and node.named_child_count:
            inner = node.named_children[0]
        if inner is None:
            return node  # qualified_identifier and the like: clean_path reads the name
        node = inner
    return None


def callee_name(call: Node, callee_field: str) -> str | None:
    """Return the simple name a call invokes: `self.load(...)` -> `load`, `new Foo` -> `Foo`.

    Member accesses are followed to their last name, and generic arguments are skipped
    (`obj.M<int>()` -> `M`). Calls whose callee is itself a call or an expression with no
    name (`f()()`, `(a || b)()`) give None.
    """
    node = call.child_by_field_name(callee_field) if callee_field else call.named_child(0)
    for _ in range(_MAX_HOPS):
        if node is None:
            return None
        if node.type in IDENTIFIER_TYPES:
            return node_text(node)
        node = _callee_step(node)
    return None


def _callee_step(node: Node) -> Node | None:
    """One step from a callee expression towards its last name."""
    for name in _CALLEE_FIELDS:
        child = node.child_by_field_name(name)
        if child is not None:
            return child
    children = node.named_children
    names = [child for child in children if child.type in IDENTIFIER_TYPES]
    if names:
        return names[-1]
    # No fields and no identifier (Kotlin's `a.b` is expression + navigation_suffix): the
    # name is in the last part.
    return children[-1] if children else None


# ----------------------------------------------------------------- parsers


@dataclass(frozen=True)
class Tools:
    """A parser and the query that captures definitions, calls and errors in one pass."""

    parser: Parser
    query: Query


_local = threading.local()


def tools_for(language: str) -> Tools | None:
    """Return this thread's parser and query for a language, or None if it has none.

    Parsers keep parse state and are not thread-safe, so each thread gets its own; they
    are cached because building a parser and compiling its query costs far more than
    parsing a typical file. A grammar that fails to load is remembered as None so the
    failure is logged once per thread rather than once per file.
    """
    cache: dict[str, Tools | None] | None = getattr(_local, "tools", None)
    if cache is None:
        cache = {}
        _local.tools = cache
    if language not in cache:
        cache[language] = _build_tools(language)
    return cache[language]


def _build_tools(language: str) -> Tools | None:
    """Load a grammar from the language pack and compile the spec's capture query."""
    spec = spec_for(language)
    name = grammar_for(language)
    if spec is None or name is None:
        return None
    from tree_sitter_language_pack import get_language  # heavy import, needed only here

    try:
        grammar = get_language(cast("SupportedLanguage", name))
        return Tools(parser=Parser(grammar), query=Query(grammar, capture_query(spec, grammar)))
    except (LookupError, OSError, ValueError, QueryError) as exc:
        log.warning("no tree-sitter grammar for %s: %s", language, exc)
        return None


def capture_query(spec: LanguageSpec, grammar: Language) -> str:
    """Build the query capturing @def, @call, @comment and @error nodes for a spec.

    Node types the loaded grammar does not know are left out, so a table written for a
    newer grammar version still compiles against an older one.
    """

    def alternation(types: list[str], capture: str) -> str:
        known = [t for t in types if grammar.id_for_node_kind(t, True) is not None]
        return f"[{' '.join(f'({t})' for t in known)}] @{capture}" if known else ""

    parts = [
        alternation(list(spec.definitions), "def"),
        alternation(list(spec.calls), "call"),
        alternation(list(spec.comments), "comment"),
        "(ERROR) @error",
    ]
    return "\n".join(part for part in parts if part)
