'use strict';
// The tests' side of the vscode stub: it plays VS Code for dist/extension.js. It resolves
// `require('vscode')` to vscode.cjs, holds the settings, documents and active editor the stub
// serves, records what the extension registers and shows, and activates the extension.

const Module = require('node:module');
const fs = require('node:fs');
const nodePath = require('node:path');

const state = {
  /** `lsp-ai.*` defaults contributed by package.json, and the values the user set. */
  defaults: new Map(),
  settings: new Map(),
  workspaceFolders: [],
  textDocuments: [],
  activeTextEditor: undefined,
  /** Output channels' level: Trace (1) makes the language client log every LSP message. */
  logLevel: 1,
  /** Every line written to an output channel: `{ channel, level, message }`. */
  log: [],
  /** Shown messages, `{ severity, message, items }`; `answer` picks the item clicked. */
  messages: [],
  answer: () => undefined,
  commands: new Map(),
  /** Commands the extension executed that nobody registered (VS Code's own). */
  executed: [],
  statusBarItems: [],
  webviewViewProviders: new Map(),
  inlineCompletionProviders: [],
  /** Members of the vscode API that were used but the stub lacks (each use also throws). */
  unimplemented: [],
};

let installed = false;

/** Make `require('vscode')` load the stub, in this process. */
function install() {
  if (installed) return;
  installed = true;
  const stub = nodePath.join(__dirname, 'vscode.cjs');
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    return request === 'vscode' ? stub : resolve.call(this, request, ...rest);
  };
}

function vscode() {
  install();
  return require('vscode');
}

/** A read-only TextDocument for a file on disk. */
function openDocument(path, languageId) {
  const { Uri, Position, Range } = vscode();
  const text = fs.readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const offsetAt = (position) =>
    lines.slice(0, position.line).reduce((sum, line) => sum + line.length + 1, 0) +
    position.character;
  const document = {
    uri: Uri.file(path),
    fileName: path,
    languageId,
    version: 1,
    isUntitled: false,
    isDirty: false,
    isClosed: false,
    eol: 1,
    lineCount: lines.length,
    getText: (range) => (range ? text.slice(offsetAt(range.start), offsetAt(range.end)) : text),
    lineAt: (line) => {
      const at = typeof line === 'number' ? line : line.line;
      return { lineNumber: at, text: lines[at], range: new Range(at, 0, at, lines[at].length) };
    },
    offsetAt,
    /** The position just after the first occurrence of `marker`. */
    positionAfter(marker) {
      const offset = text.indexOf(marker);
      if (offset < 0) throw new Error(`${marker} is not in ${path}`);
      const before = text.slice(0, offset + marker.length).split('\n');
      return new Position(before.length - 1, before.at(-1).length);
    },
  };
  state.textDocuments.push(document);
  return document;
}

/** Make `document` the active editor, with the cursor at `position`. */
function showDocument(document, position) {
  const { Selection } = vscode();
  state.activeTextEditor = { document, selection: new Selection(position, position) };
}

/** A webview view for `viewId`, resolved by the provider the extension registered. */
function resolveWebviewView(viewId) {
  const { CancellationTokenSource, Disposable } = vscode();
  const registered = state.webviewViewProviders.get(viewId);
  if (!registered) throw new Error(`no webview view provider for ${viewId}`);
  let receive;
  const view = {
    /** Messages the extension posted to the webview, oldest first. */
    posted: [],
    /** Called with each posted message as it is posted. */
    onPost: undefined,
    /** Deliver a message from the webview to the extension. */
    receive: (message) => receive(message),
    webview: {
      options: {},
      html: '',
      cspSource: 'https://vscode-stub.invalid',
      asWebviewUri: (uri) => uri,
      postMessage: async (message) => {
        view.posted.push(message);
        view.onPost?.(message);
        return true;
      },
      onDidReceiveMessage: (listener) => {
        receive = listener;
        return new Disposable(() => (receive = undefined));
      },
    },
    onDidDispose: () => new Disposable(),
  };
  registered.provider.resolveWebviewView(view, {}, new CancellationTokenSource().token);
  return view;
}

/**
 * Activate the extension in `root` (its folder, holding package.json and dist/) as VS Code
 * would; `settings` are the user's explicit `lsp-ai.*` values. Returns `deactivate()`.
 */
function activate(root, settings) {
  const { Uri } = vscode();
  const packageJSON = JSON.parse(fs.readFileSync(nodePath.join(root, 'package.json'), 'utf8'));
  state.defaults.clear();
  for (const category of [packageJSON.contributes.configuration].flat()) {
    for (const [key, schema] of Object.entries(category.properties)) {
      state.defaults.set(key, schema.default);
    }
  }
  state.settings = new Map(Object.entries(settings));
  const extension = require(nodePath.join(root, 'dist', 'extension.js'));
  const context = {
    subscriptions: [],
    extensionUri: Uri.file(root),
    extension: { id: `${packageJSON.publisher}.${packageJSON.name}`, packageJSON },
  };
  extension.activate(context);
  return async () => {
    await extension.deactivate();
    for (const disposable of context.subscriptions.reverse()) disposable.dispose();
  };
}

module.exports = {
  state,
  install,
  openDocument,
  showDocument,
  resolveWebviewView,
  activate,
};
