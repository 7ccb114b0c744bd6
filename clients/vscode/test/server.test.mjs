// The bundled extension (dist/extension.js) against the real lsp-ai server, in plain Node: a
// stub of the `vscode` module (test/vscode-stub/) plays VS Code, and the extension starts
// `python -m lsp_ai serve` itself, with the repository's .venv or LSP_AI_PYTHON. The server is
// isolated from the user's configuration, caches and network, and indexes a small temporary
// workspace. Skipped when that Python cannot import lsp_ai.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const host = require('./vscode-stub/host.cjs');
host.install();
const vscode = require('vscode');

const root = fileURLToPath(new URL('..', import.meta.url));
const python =
  process.env.LSP_AI_PYTHON ?? fileURLToPath(new URL('../../../.venv/bin/python', import.meta.url));
const noServer = (() => {
  try {
    execFileSync(python, ['-c', 'import lsp_ai'], { stdio: 'ignore' });
    return false;
  } catch {
    return `lsp_ai is not importable with ${python} (set LSP_AI_PYTHON)`;
  }
})();

const WORKSPACE = {
  'shop/inventory.py': `"""Stock levels of the shop's items."""

from dataclasses import dataclass


@dataclass
class Item:
    name: str
    price: float
    quantity: int = 0


def restock_item(item: Item, amount: int) -> int:
    """Add amount units to the item's stock and return the new quantity."""
    item.quantity += amount
    return item.quantity


def sell_item(item: Item, amount: int) -> float:
    if amount > item.quantity:
        raise ValueError(f"only {item.quantity} {item.name} left")
    item.quantity -= amount
    return amount * item.price
`,
  'shop/pricing.py': `"""Prices after discounts and tax."""

TAX_RATE = 0.2


def discounted(price: float, percent: float) -> float:
    return price * (1 - percent / 100)


def with_tax(price: float) -> float:
    return round(price * (1 + TAX_RATE), 2)
`,
  'shop/report.py': `from shop.inventory import Item, restock_item


def restock_all(items: list[Item], amount: int) -> None:
    for item in items:
        
`,
};

// What the user set; only the last two are server settings, and only they may reach the server.
const SETTINGS = {
  'lsp-ai.client.serverPath': python,
  'lsp-ai.client.serverArgs': ['-m', 'lsp_ai', 'serve'],
  // Not an lsp-ai setting: the language client's own, to trace every message (see `traced`).
  'lsp-ai.trace.server': 'verbose',
  'lsp-ai.completion.max_tokens': 16,
  'lsp-ai.models.chat.max_tokens': 48,
};
const SERVER_SETTINGS = { completion: { max_tokens: 16 }, models: { chat: { max_tokens: 48 } } };

const MINUTE = { timeout: 60_000 };

/**
 * Poll `check` until it returns something truthy, and return that. On timeout the error names
 * `what`, adds `detail()` and the output channels' last lines (the server's log among them).
 */
async function waitFor(what, check, timeoutMs = 30_000, detail = () => '') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) {
      const log = host.state.log.filter(({ level }) => level !== 'trace').slice(-20);
      const lines = log.map(({ level, message }) => `  ${level}: ${message.slice(0, 300)}`);
      throw new Error(`timed out after ${timeoutMs} ms: ${what} ${detail()}\n${lines.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The LSP messages the language client traced whose first line starts with `head`, e.g.
 * "Sending request 'initialize", as `{ head, id, body }`: the request id (if any) and the
 * parsed params or result.
 */
function traced(head) {
  return host.state.log
    .filter(({ level, message }) => level === 'trace' && message.startsWith(head))
    .map(({ message }) => {
      const [first, ...rest] = message.split('\n');
      const body = rest.join('\n').match(/^(?:Params|Result): ([^]*)$/)?.[1];
      return {
        head: first,
        id: Number(first.match(/ - \((\d+)\)'/)?.[1]),
        body: body === undefined ? undefined : JSON.parse(body),
      };
    });
}

const cancelled = (id) =>
  traced("Sending notification '$/cancelRequest'").some(({ body }) => body.id === id);

/** Pids of the lsp-ai servers this process started. */
function serverPids() {
  try {
    const out = execFileSync('pgrep', ['-P', String(process.pid), '-f', 'lsp_ai serve'], {
      encoding: 'utf8',
    });
    return out.split('\n').filter(Boolean).map(Number);
  } catch (error) {
    if (error.status === 1) return []; // pgrep found none
    throw error;
  }
}

describe('the extension with the real server', { skip: noServer }, () => {
  let temp;
  let deactivate;
  let report;
  let statusItem;

  before(() => {
    temp = mkdtempSync(join(tmpdir(), 'lsp-ai-vscode-'));
    const home = join(temp, 'home');
    Object.assign(process.env, {
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_CACHE_HOME: join(home, '.cache'),
      XDG_STATE_HOME: join(home, '.local', 'state'),
      LSP_AI_CONFIG: join(home, 'no-such-config.toml'),
      HF_HUB_OFFLINE: '1',
      TRANSFORMERS_OFFLINE: '1',
    });
    const workspace = join(temp, 'workspace');
    for (const [path, text] of Object.entries(WORKSPACE)) {
      mkdirSync(dirname(join(workspace, path)), { recursive: true });
      writeFileSync(join(workspace, path), text);
    }
    host.state.workspaceFolders = [{ uri: vscode.Uri.file(workspace), name: 'shop', index: 0 }];
    report = host.openDocument(join(workspace, 'shop/report.py'), 'python');
    deactivate = host.activate(root, SETTINGS);
    statusItem = host.state.statusBarItems.find((item) => item.id === 'lsp-ai.status');
  });

  after(async () => {
    await deactivate?.();
    if (process.env.LSP_AI_TEST_LOG) {
      const lines = host.state.log.map(({ level, message }) => `[${level}] ${message}`);
      writeFileSync(process.env.LSP_AI_TEST_LOG, `${lines.join('\n')}\n`);
    }
    // Servers left over only when the extension failed to shut them down. The language client
    // restarts a server that dies, so kill them again and end the process after the last test.
    const kill = () => serverPids().forEach((pid) => process.kill(pid, 'SIGKILL'));
    if (serverPids().length) {
      kill();
      setTimeout(() => (kill(), process.exit(1)), 5_000).unref();
    }
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  test('the server gets only the settings set explicitly', MINUTE, async () => {
    const initialize = await waitFor('initialize', () => traced("Sending request 'initialize")[0]);
    assert.deepEqual(initialize.body.initializationOptions, SERVER_SETTINGS);
    // The server pulls section lsp-ai after `initialized`; the answer has no defaults either.
    const pull = await waitFor('the answer to workspace/configuration', () =>
      traced("Sending response 'workspace/configuration").at(0),
    );
    assert.deepEqual(pull.body, [SERVER_SETTINGS]);
    await waitFor('lsp-ai.status to be registered', () => host.state.commands.has('lsp-ai.status'));
    const status = await vscode.commands.executeCommand('lsp-ai.status');
    assert.equal(typeof status.indexedFiles, 'number');
    assert.deepEqual(Object.keys(status.models).sort(), ['chat', 'completion', 'embedding']);
    // The server reports unknown keys and bad values with window/showMessage.
    assert.deepEqual(host.state.messages, []);
  });

  test('the status bar: indexing percentage, then idle with a status tooltip', MINUTE, async () => {
    const indexing = /^\$\(sync~spin\) lsp-ai \d+%$/;
    const idle = '$(hubot) lsp-ai';
    const { texts } = statusItem;
    await waitFor(
      'indexing to finish',
      () => texts.some((text) => indexing.test(text)) && statusItem.text === idle,
      60_000,
      () => `(status bar: ${texts.join(' | ')})`,
    );
    assert.equal(texts[0], '$(error) lsp-ai', 'stopped before the first start');
    const lastIndexing = texts.findLastIndex((text) => indexing.test(text));
    assert.ok(
      texts.slice(lastIndexing + 1).every((text) => text === idle),
      texts.join(' | '),
    );
    assert.equal(statusItem.command, 'lsp-ai.chat.focus');
    // The tooltip is refreshed from lsp-ai.status when indexing ends.
    const tooltip = await waitFor(
      'the tooltip after indexing',
      () =>
        /\b3 files indexed\b/.test(statusItem.tooltip?.value) ? statusItem.tooltip : undefined,
      5_000,
      () => `(tooltip: ${JSON.stringify(statusItem.tooltip)})`,
    );
    assert.ok(tooltip instanceof vscode.MarkdownString);
    assert.match(tooltip.value, /^\*\*lsp-ai\*\*: 3 files indexed, [1-9]\d* chunks\n/);
    assert.match(tooltip.value, /^- embedding: ready/m);
  });

  test('ghost text: a newer request supersedes one already sent', MINUTE, async () => {
    const [provider] = host.state.inlineCompletionProviders;
    assert.ok(provider, 'no inline completion provider registered');
    const position = report.positionAfter('for item in items:\n        ');
    const context = { triggerKind: vscode.InlineCompletionTriggerKind.Automatic };
    const ask = () =>
      provider.provideInlineCompletionItems(
        report,
        position,
        context,
        new vscode.CancellationTokenSource().token,
      );
    const requests = () => traced("Sending request 'textDocument/inlineCompletion");
    const sentBefore = requests().length;
    const first = ask();
    // Once the first request has waited out the debounce and gone to the server, ask again.
    const sent = await waitFor('the first request to be sent', () => requests().at(sentBefore));
    const second = ask();
    const [firstResult, secondResult] = await Promise.all([first, second]);
    assert.equal(firstResult, undefined);
    assert.ok(cancelled(sent.id), 'no $/cancelRequest for the superseded request');
    const items = Array.isArray(secondResult) ? secondResult : secondResult?.items;
    assert.ok(items?.length >= 1, `no suggestion: ${JSON.stringify(secondResult)}`);
    assert.ok(items.every((item) => item instanceof vscode.InlineCompletionItem));
    assert.ok(
      items.some((item) => typeof item.insertText === 'string' && item.insertText.trim()),
      JSON.stringify(items),
    );
  });

  test('chat: an answer streams with its sources; Stop stops the next', MINUTE, async () => {
    host.showDocument(report, report.positionAfter('def restock_all'));
    const view = host.resolveWebviewView('lsp-ai.chat');
    assert.match(view.webview.html, /Content-Security-Policy/);
    view.receive({ type: 'ready' });
    const ended = () => view.posted.find((m) => ['done', 'error', 'stopped'].includes(m.type));
    const posted = () => `(posted: ${view.posted.map((m) => m.type).join(' ')})`;

    const question = 'What does restock_item do with the amount?';
    view.receive({ type: 'send', text: question });
    const done = await waitFor('the answer', ended, 50_000, posted);
    assert.equal(done.type, 'done', JSON.stringify(done));
    const [start, ...deltas] = view.posted.slice(0, -1);
    assert.deepEqual(start, { type: 'start', id: done.id, question });
    assert.ok(deltas.length >= 2, `${deltas.length} deltas`);
    assert.ok(
      deltas.every((m) => m.type === 'delta' && m.id === done.id),
      posted(),
    );
    const streamed = deltas.map((m) => m.text).join('');
    assert.ok(done.content.trim(), 'empty answer');
    assert.equal(done.content.trim(), streamed.trim());
    const paths = done.sources.map((source) => source.path);
    assert.ok(paths.includes('shop/inventory.py'), `sources: ${paths}`);

    // A follow-up question that asks for a long answer, stopped as soon as it starts to stream.
    view.posted.length = 0;
    view.onPost = (message) => message.type === 'delta' && view.receive({ type: 'stop' });
    const chats = () => traced("Sending request '$/chat");
    const chatsBefore = chats().length;
    view.receive({
      type: 'send',
      text:
        'Explain in detail, step by step, how restocking, selling, discounts and tax work ' +
        'together in this shop, with an example for each function.',
    });
    const stopped = await waitFor('the stopped answer', ended, 30_000, posted);
    assert.equal(stopped.type, 'stopped', JSON.stringify(stopped));
    assert.ok(view.posted.some((m) => m.type === 'delta'));
    const chat = chats().at(chatsBefore);
    assert.ok(chat.body.sessionId, 'the follow-up left the conversation');
    assert.ok(cancelled(chat.id), 'no $/cancelRequest for the stopped chat');
  });

  test('deactivating shuts the server down', MINUTE, async () => {
    const pids = serverPids();
    assert.equal(pids.length, 1, `server processes: ${pids}`);
    await deactivate();
    deactivate = undefined;
    await waitFor('the server to exit', () => serverPids().length === 0, 10_000);
    assert.equal(traced("Sending request 'shutdown").length, 1, 'no shutdown request');
    // Nothing popped up during the whole session, and the stub lacked nothing.
    assert.deepEqual(host.state.messages, []);
    assert.deepEqual(host.state.unimplemented, []);
  });
});

test('a server that cannot start: an error with Open Settings', MINUTE, async () => {
  host.state.messages = [];
  host.state.executed = [];
  host.state.answer = ({ items }) => items.find((item) => item === 'Open Settings');
  const deactivate = host.activate(root, {
    'lsp-ai.client.serverPath': join(tmpdir(), 'lsp-ai-vscode-test', 'no-such-lsp-ai'),
  });
  try {
    const failures = () =>
      host.state.messages.filter(({ message }) => message.includes('the server did not start'));
    const [error] = await waitFor('the error message', () => failures().length && failures());
    assert.equal(error.severity, 'error');
    assert.match(error.message, /lsp-ai\.client\.serverPath/);
    assert.deepEqual(error.items, ['Open Settings']);
    const openSettings = await waitFor('Open Settings to open the settings', () =>
      host.state.executed.find(({ id }) => id === 'workbench.action.openSettings'),
    );
    assert.deepEqual(openSettings.args, ['lsp-ai.client']);
    const item = host.state.statusBarItems.find(({ id }) => id === 'lsp-ai.status');
    assert.equal(item.text, '$(error) lsp-ai');
    // Restarting after a failed start tries again (and fails again).
    await vscode.commands.executeCommand('lsp-ai.restartServer');
    await waitFor('a second error message', () => failures().length === 2);
    assert.deepEqual(host.state.unimplemented, []);
  } finally {
    await deactivate();
  }
});
