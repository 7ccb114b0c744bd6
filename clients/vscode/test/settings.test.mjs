import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  explicitValue,
  needsRestart,
  serverKeys,
  snapshot,
} from '../dist/test-modules/settings.mjs';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const contributed = packageJson.contributes.configuration;
const properties = Object.assign({}, ...contributed.map((category) => category.properties));

test('server keys come from package.json, without the client-only ones', () => {
  const keys = serverKeys(contributed);
  assert.ok(keys.includes('completion.max_tokens'));
  assert.ok(keys.includes('models.embedding.query_prefix'));
  assert.ok(keys.includes('index.exclude'));
  assert.ok(!keys.some((key) => key.startsWith('client.')));
  const clientKeys = Object.keys(properties).filter((name) => name.startsWith('lsp-ai.client.'));
  assert.deepEqual(clientKeys.sort(), [
    'lsp-ai.client.completionItems',
    'lsp-ai.client.debounceMs',
    'lsp-ai.client.serverArgs',
    'lsp-ai.client.serverPath',
  ]);
  assert.equal(keys.length + clientKeys.length, Object.keys(properties).length);
});

test('a single configuration object works as well as categories', () => {
  assert.deepEqual(
    serverKeys({ properties: { 'lsp-ai.chat.top_k': {}, 'lsp-ai.client.debounceMs': {} } }),
    ['chat.top_k'],
  );
});

test('the explicit value: folder beats workspace beats user; defaults never count', () => {
  assert.equal(explicitValue(undefined), undefined);
  assert.equal(explicitValue({ defaultValue: 64 }), undefined);
  assert.equal(explicitValue({ defaultValue: 64, globalValue: 32 }), 32);
  assert.equal(explicitValue({ globalValue: 32, workspaceValue: 16 }), 16);
  assert.equal(explicitValue({ globalValue: 32, workspaceValue: 16, workspaceFolderValue: 8 }), 8);
  assert.equal(explicitValue({ globalValue: false }), false);
});

test('dotted keys nest into TOML-shaped objects; unset values are left out', () => {
  const result = snapshot([
    ['completion.max_tokens', 32],
    ['completion.multiline', undefined],
    ['models.completion.model', '/models/qwen.gguf'],
    ['models.completion.n_gpu_layers', -1],
    ['models.chat.backend', 'openai'],
    ['models.reranker.enabled', false],
    ['index.exclude', ['*.min.js']],
    ['chat.top_k', null],
  ]);
  assert.deepEqual(result.settings, {
    completion: { max_tokens: 32 },
    models: {
      completion: { model: '/models/qwen.gguf', n_gpu_layers: -1 },
      chat: { backend: 'openai' },
      reranker: { enabled: false },
    },
    index: { exclude: ['*.min.js'] },
  });
  assert.deepEqual(result.keys, [
    'completion.max_tokens',
    'models.completion.model',
    'models.completion.n_gpu_layers',
    'models.chat.backend',
    'models.reranker.enabled',
    'index.exclude',
  ]);
  assert.deepEqual(snapshot([]).settings, {});
});

test('unsetting a key sent at start needs a restart; changing or adding one does not', () => {
  const start = snapshot([['completion.max_tokens', 32]]);
  assert.equal(needsRestart(start, snapshot([['completion.max_tokens', 16]])), false);
  assert.equal(
    needsRestart(
      start,
      snapshot([
        ['completion.max_tokens', 32],
        ['chat.top_k', 4],
      ]),
    ),
    false,
  );
  assert.equal(needsRestart(start, snapshot([['chat.top_k', 4]])), true);
  assert.equal(needsRestart(snapshot([]), snapshot([['chat.top_k', 4]])), false);
});

// The contributed settings mirror the server's schema: same names, same defaults. Checked
// against the Python package when it is importable (the repository's .venv, or LSP_AI_PYTHON).
const python =
  process.env.LSP_AI_PYTHON ?? fileURLToPath(new URL('../../../.venv/bin/python', import.meta.url));
const serverDefaults = (() => {
  if (!existsSync(python)) return undefined;
  try {
    const script = [
      'import json',
      'from lsp_ai.config import Config, config_to_dict',
      'print(json.dumps(config_to_dict(Config())))',
    ].join('\n');
    return JSON.parse(execFileSync(python, ['-c', script], { encoding: 'utf8' }));
  } catch {
    return undefined;
  }
})();

test(
  'contributed defaults equal the server defaults',
  { skip: serverDefaults ? false : `lsp_ai is not importable with ${python} (set LSP_AI_PYTHON)` },
  () => {
    for (const key of serverKeys(contributed)) {
      const serverDefault = key.split('.').reduce((table, part) => table?.[part], serverDefaults);
      assert.notEqual(serverDefault, undefined, `${key} is not a server setting`);
      assert.deepEqual(properties[`lsp-ai.${key}`].default, serverDefault, key);
    }
  },
);
