"""The retrieval benchmark's doc-comment extraction, on small JS, Go and Python snippets.

Real tree-sitter parsers: the point is that the benchmark finds the doc the way the grammar
lays it out, blanks exactly its lines and keeps every other line where it was.
"""

from __future__ import annotations

from lsp_ai.evaluation.docs import blank_rows, documented_functions, is_target

JS = """\
const x = 1;

/**
 * Sends a ping frame to the peer.
 * Waits for nothing.
 *
 * @param {Buffer} data the payload
 */
export function ping(data) {
  check(data);
  return send(data);
}

// A plain comment is no documentation.
function plain() {
  return 1;
}

class Socket {
  /**
   * Closes the {@link Socket} cleanly. Then frees it.
   */
  close() {
    this.a = 1;
    this.b = 2;
  }
}
"""

GO = """\
package mux

// Get adds the route `pattern` that matches a GET
// http method.
//
// More details.
func (mx *Mux) Get(pattern string, fn HandlerFunc) {
\tmx.handle(mGET, pattern, fn)
\treturn
}

// helper is short.
func helper() {}
"""

PY = '''\
def load(path):
    """Read the configuration file at path.

    Details.
    """
    with open(path) as f:
        text = f.read()
    return parse(text)
'''


def stripped(src: str, language: str) -> tuple[list[tuple[str, str, tuple[int, int]]], str]:
    lines, found = documented_functions(src, language)
    rows = {r for fn in found for r in range(fn.doc_lines[0], fn.doc_lines[1] + 1)}
    return [(fn.symbol, fn.sentence, fn.lines) for fn in found], blank_rows(lines, rows)


def test_jsdoc_blocks_are_found_and_blanked() -> None:
    found, text = stripped(JS, "javascript")
    assert found == [
        ("ping", "Sends a ping frame to the peer.", (8, 11)),
        ("Socket.close", "Closes the Socket cleanly.", (22, 25)),
    ]
    lines = text.split("\n")
    assert len(lines) == len(JS.split("\n"))  # line numbers are kept
    assert lines[2:8] == [""] * 6 and lines[19:22] == ["", "", ""]
    assert lines[8] == "export function ping(data) {"
    assert "// A plain comment is no documentation." in text
    assert "Sends a ping" not in text and "@param" not in text


def test_go_line_comments_and_the_leading_name() -> None:
    found, text = stripped(GO, "go")
    # "Get adds ..." loses its leading copy of the method's name; the doc runs over lines.
    assert found[0] == (
        "Mux.Get",
        "adds the route `pattern` that matches a GET http method.",
        (6, 9),
    )
    assert found[1][:2] == ("helper", "is short.")
    lines = text.split("\n")
    assert lines[2:6] == ["", "", "", ""] and lines[6].startswith("func (mx *Mux) Get(")
    assert lines[11] == "" and lines[12] == "func helper() {}"
    _, functions = documented_functions(GO, "go")
    assert [is_target(fn) for fn in functions] == [True, False]  # one-liner, 2-word sentence


def test_python_docstring_is_blanked_in_place() -> None:
    found, text = stripped(PY, "python")
    assert found == [("load", "Read the configuration file at path.", (0, 7))]
    assert text.split("\n")[:6] == ["def load(path):", "", "", "", "", "    with open(path) as f:"]
