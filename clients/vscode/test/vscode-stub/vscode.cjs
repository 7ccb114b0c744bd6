'use strict';
// A stand-in for the `vscode` module, enough to run dist/extension.js (and the
// vscode-languageclient bundled into it) in plain Node. It holds only what the extension and the
// language client touch on the paths the tests drive; any other member throws, naming itself,
// so a new use of the VS Code API fails loudly here instead of misbehaving quietly (and is
// listed in `state.unimplemented`).
// What the extension registers and shows is recorded in host.cjs, which the tests read.

const { fileURLToPath, pathToFileURL } = require('node:url');
const nodePath = require('node:path');
const { state } = require('./host.cjs');

// Probes that bundlers and `await` make on any module or object; they are not API uses.
const PROBES = new Set(['__esModule', 'default', 'then', 'toJSON']);

function strict(name, target) {
  return new Proxy(target, {
    get(object, key, receiver) {
      if (typeof key === 'symbol' || key in object || PROBES.has(key)) {
        return Reflect.get(object, key, receiver);
      }
      // Recorded as well, in case the caller swallows the error.
      state.unimplemented.push(`${name}${key}`);
      throw new Error(`vscode stub: ${name}${key} is not implemented (see test/vscode-stub/)`);
    },
  });
}

class Disposable {
  constructor(callOnDispose) {
    this.callOnDispose = callOnDispose;
  }
  static from(...disposables) {
    return new Disposable(() => disposables.forEach((d) => d?.dispose()));
  }
  dispose() {
    const callback = this.callOnDispose;
    this.callOnDispose = undefined;
    callback?.();
  }
}

class EventEmitter {
  listeners = new Set();
  event = (listener, thisArgs, disposables) => {
    const entry = (value) => listener.call(thisArgs, value);
    this.listeners.add(entry);
    const disposable = new Disposable(() => this.listeners.delete(entry));
    if (Array.isArray(disposables)) disposables.push(disposable);
    return disposable;
  };
  fire(value) {
    for (const listener of [...this.listeners]) listener(value);
  }
  dispose() {
    this.listeners.clear();
  }
}

/** An event that never fires, for the many the language client subscribes to. */
const never = new EventEmitter().event;

class CancellationTokenSource {
  #emitter = new EventEmitter();
  #cancelled = false;
  token = {
    isCancellationRequested: false,
    onCancellationRequested: this.#emitter.event,
  };
  cancel() {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.token.isCancellationRequested = true;
    this.#emitter.fire();
  }
  dispose() {
    this.#emitter.dispose();
  }
}

class CancellationError extends Error {
  constructor() {
    super('Canceled');
    this.name = 'Canceled';
  }
}

class Uri {
  constructor(scheme, path) {
    this.scheme = scheme;
    this.authority = '';
    this.path = path;
    this.query = '';
    this.fragment = '';
  }
  static file(path) {
    return new Uri('file', nodePath.resolve(path));
  }
  static parse(value) {
    const url = new URL(value);
    return url.protocol === 'file:'
      ? Uri.file(fileURLToPath(url))
      : new Uri(url.protocol.slice(0, -1), decodeURIComponent(url.pathname));
  }
  static joinPath(base, ...segments) {
    return new Uri(base.scheme, nodePath.posix.join(base.path, ...segments));
  }
  get fsPath() {
    return this.path;
  }
  toString() {
    return this.scheme === 'file' ? pathToFileURL(this.path).href : `${this.scheme}:${this.path}`;
  }
}

class Position {
  constructor(line, character) {
    this.line = line;
    this.character = character;
  }
}

class Range {
  constructor(...args) {
    const [start, end] =
      typeof args[0] === 'number'
        ? [new Position(args[0], args[1]), new Position(args[2], args[3])]
        : args;
    this.start = start;
    this.end = end;
  }
  get isEmpty() {
    return this.start.line === this.end.line && this.start.character === this.end.character;
  }
}

class Selection extends Range {
  constructor(anchor, active) {
    super(anchor, active);
    this.anchor = anchor;
    this.active = active;
  }
}

class MarkdownString {
  constructor(value = '') {
    this.value = value;
  }
}

class InlineCompletionItem {
  constructor(insertText, range, command) {
    this.insertText = insertText;
    this.range = range;
    this.command = command;
  }
}

class InlineCompletionList {
  constructor(items) {
    this.items = items;
  }
}

class CodeActionKind {
  constructor(value) {
    this.value = value;
  }
  append(part) {
    return new CodeActionKind(this.value ? `${this.value}.${part}` : part);
  }
}
for (const [name, value] of Object.entries({
  Empty: '',
  QuickFix: 'quickfix',
  Refactor: 'refactor',
  RefactorExtract: 'refactor.extract',
  RefactorInline: 'refactor.inline',
  RefactorRewrite: 'refactor.rewrite',
  Source: 'source',
  SourceOrganizeImports: 'source.organizeImports',
})) {
  CodeActionKind[name] = new CodeActionKind(value);
}

// The language client subclasses these when it loads; the tests never construct them.
class CallHierarchyItem {}
class CodeAction {}
class CodeLens {}
class CompletionItem {}
class Diagnostic {}
class DocumentLink {}
class InlayHint {}
class SymbolInformation {}
class TypeHierarchyItem {}

// Settings: explicit values (user settings) over contributed defaults, as VS Code resolves them.
function lookup(full) {
  if (state.settings.has(full)) return state.settings.get(full);
  if (state.defaults.has(full)) return state.defaults.get(full);
  // A section (`lsp-ai`, `lsp-ai.models`) reads as the object of the keys under it.
  let table;
  for (const source of [state.defaults, state.settings]) {
    for (const [key, value] of source) {
      if (!key.startsWith(`${full}.`)) continue;
      const path = key.slice(full.length + 1).split('.');
      const leaf = path.pop();
      let node = (table ??= {});
      for (const part of path) node = node[part] ??= {};
      node[leaf] = value;
    }
  }
  return table;
}

function getConfiguration(section) {
  const full = (key) => (section ? `${section}.${key}` : key);
  return {
    get: (key, fallback) => lookup(full(key)) ?? fallback,
    has: (key) => lookup(full(key)) !== undefined,
    inspect: (key) => ({
      key: full(key),
      defaultValue: state.defaults.get(full(key)),
      globalValue: state.settings.get(full(key)),
    }),
  };
}

const LogLevel = { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 };

function createOutputChannel(name) {
  const record = (level) => (message) => state.log.push({ channel: name, level, message });
  return {
    name,
    logLevel: state.logLevel,
    onDidChangeLogLevel: never,
    trace: record('trace'),
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: (message, ...args) => record('error')([message, ...args].join(' ')),
    append: record('text'),
    appendLine: record('text'),
    replace: record('text'),
    clear() {},
    show() {},
    hide() {},
    dispose() {},
  };
}

function createStatusBarItem(id, alignment, priority) {
  let text = '';
  const item = {
    id,
    alignment,
    priority,
    name: undefined,
    tooltip: undefined,
    command: undefined,
    /** Every text the item showed, oldest first. */
    texts: [],
    visible: false,
    get text() {
      return text;
    },
    set text(value) {
      text = value;
      item.texts.push(value);
    },
    show: () => (item.visible = true),
    hide: () => (item.visible = false),
  };
  const registration = register(state.statusBarItems, item);
  item.dispose = () => registration.dispose();
  return item;
}

function showMessage(severity) {
  return async (message, ...rest) => {
    // An optional MessageOptions object comes before the items.
    const items = rest.filter((item) => typeof item === 'string' || item?.title !== undefined);
    const shown = { severity, message, items };
    state.messages.push(shown);
    return state.answer(shown);
  };
}

async function withProgress(options, task) {
  return task({ report() {} }, new CancellationTokenSource().token);
}

function register(list, value) {
  list.push(value);
  return new Disposable(() => list.includes(value) && list.splice(list.indexOf(value), 1));
}

const window = strict('window.', {
  get activeTextEditor() {
    return state.activeTextEditor;
  },
  get visibleTextEditors() {
    return state.activeTextEditor ? [state.activeTextEditor] : [];
  },
  onDidChangeVisibleTextEditors: never,
  tabGroups: strict('window.tabGroups.', { all: [], onDidChangeTabs: never }),
  createOutputChannel,
  createStatusBarItem,
  registerWebviewViewProvider(viewId, provider, options) {
    state.webviewViewProviders.set(viewId, { provider, options });
    return new Disposable(() => state.webviewViewProviders.delete(viewId));
  },
  showErrorMessage: showMessage('error'),
  showWarningMessage: showMessage('warning'),
  showInformationMessage: showMessage('info'),
  withProgress,
});

const workspace = strict('workspace.', {
  get workspaceFolders() {
    return state.workspaceFolders;
  },
  get textDocuments() {
    return state.textDocuments;
  },
  getConfiguration,
  onDidChangeConfiguration: never,
  onDidChangeWorkspaceFolders: never,
  onDidOpenTextDocument: never,
  onDidChangeTextDocument: never,
  onDidCloseTextDocument: never,
  onDidSaveTextDocument: never,
  onWillSaveTextDocument: never,
  onDidCreateFiles: never,
  onDidRenameFiles: never,
  onDidDeleteFiles: never,
  onWillCreateFiles: never,
  onWillRenameFiles: never,
  onWillDeleteFiles: never,
});

const commands = strict('commands.', {
  registerCommand(id, callback, thisArg) {
    if (state.commands.has(id)) throw new Error(`command '${id}' already exists`);
    state.commands.set(id, callback.bind(thisArg));
    return new Disposable(() => state.commands.delete(id));
  },
  async executeCommand(id, ...args) {
    const command = state.commands.get(id);
    if (command) return command(...args);
    state.executed.push({ id, args }); // one of VS Code's own commands
  },
});

const languages = strict('languages.', {
  // Enough for the extension's selector: [{ scheme: 'file' }, { scheme: 'untitled' }].
  match: (selector, document) =>
    [selector].flat().some((filter) => filter.scheme === document.uri.scheme) ? 10 : 0,
  registerInlineCompletionItemProvider: (selector, provider) =>
    register(state.inlineCompletionProviders, provider),
  registerCompletionItemProvider: () => new Disposable(),
  registerCodeActionsProvider: () => new Disposable(),
});

module.exports = strict('vscode.', {
  version: '1.91.0',
  env: strict('env.', { appName: 'vscode-stub', language: 'en' }),
  Disposable,
  EventEmitter,
  CancellationTokenSource,
  CancellationError,
  Uri,
  Position,
  Range,
  Selection,
  MarkdownString,
  InlineCompletionItem,
  InlineCompletionList,
  CodeActionKind,
  CallHierarchyItem,
  CodeAction,
  CodeLens,
  CompletionItem,
  Diagnostic,
  DocumentLink,
  InlayHint,
  SymbolInformation,
  TypeHierarchyItem,
  InlineCompletionTriggerKind: { Invoke: 0, Automatic: 1 },
  StatusBarAlignment: { Left: 1, Right: 2 },
  ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
  LogLevel,
  window,
  workspace,
  commands,
  languages,
});
