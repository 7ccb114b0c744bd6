import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectionPrompt } from '../dist/test-modules/selection.mjs';
import { IndexProgress, statusText, statusTooltip } from '../dist/test-modules/status.mjs';

test('index progress follows the Indexing token only', () => {
  const progress = new IndexProgress();
  assert.equal(progress.percentage, undefined);
  assert.equal(progress.update('chat', { kind: 'begin', title: 'lsp-ai chat' }), false);
  assert.equal(progress.update('chat', { kind: 'report', percentage: 50 }), false);
  assert.equal(progress.update('idx', { kind: 'begin', title: 'Indexing', percentage: 0 }), true);
  assert.equal(progress.percentage, 0);
  assert.equal(
    progress.update('idx', { kind: 'report', message: '21/50 files', percentage: 42 }),
    true,
  );
  assert.equal(progress.percentage, 42);
  assert.equal(statusText(progress.percentage), '$(sync~spin) lsp-ai 42%');
  assert.equal(progress.update('idx', { kind: 'end', message: '50 files indexed' }), true);
  assert.equal(progress.percentage, undefined);
  assert.equal(statusText(progress.percentage), '$(hubot) lsp-ai');
});

test('the tooltip summarises the index and the models', () => {
  const tooltip = statusTooltip({
    indexedFiles: 120,
    chunks: 860,
    pending: 2,
    models: {
      completion: { state: 'ready', backend: 'llama_cpp', path: '/m/SmolLM2-135M.Q8_0.gguf' },
      chat: { state: 'loading' },
      embedding: { state: 'error', error: 'models.embedding: not found' },
    },
  });
  assert.match(tooltip, /120 files indexed, 860 chunks, 2 pending/);
  assert.match(tooltip, /^- completion: ready `SmolLM2-135M\.Q8_0\.gguf`$/m);
  assert.match(tooltip, /^- chat: loading$/m);
  assert.match(tooltip, /^- embedding: error `models\.embedding: not found`$/m);
});

test('ask-about-selection quotes the code in a fence it cannot close', () => {
  const prompt = selectionPrompt({
    path: 'src/app.md',
    languageId: 'markdown',
    startLine: 9,
    endLine: 11,
    text: 'Run:\n```sh\nmake\n```\n',
  });
  assert.equal(
    prompt,
    'About this code from src/app.md (lines 10-12):\n\n````markdown\nRun:\n```sh\nmake\n```\n````\n\n',
  );
  assert.match(
    selectionPrompt({
      path: 'a.py',
      languageId: 'python',
      startLine: 0,
      endLine: 0,
      text: 'x = 1',
    }),
    /^About this code from a\.py \(line 1\):\n\n```python\nx = 1\n```\n\n$/,
  );
});
