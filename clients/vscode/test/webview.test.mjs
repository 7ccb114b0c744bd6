// The chat webview in headless Chromium: the real HTML (html.ts), script (dist/webview.js) and
// stylesheet, with a stub of VS Code's webview API and its dark theme's CSS variables.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chatHtml } from '../dist/test-modules/webview/html.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const screenshotPath = process.env.LSP_AI_SCREENSHOT || `${root}test-output/vscode-chat.png`;

const files = {
  '/dist/webview.js': 'text/javascript',
  '/media/chat.css': 'text/css',
  '/test/fixtures/vscode-dark.css': 'text/css',
};

// What VS Code's `acquireVsCodeApi()` offers, recording posted messages; the state lives in
// sessionStorage so that it survives a reload, as VS Code keeps it across hide/show.
function stubVsCodeApi() {
  window.__posted = [];
  window.acquireVsCodeApi = () => ({
    postMessage: (message) => window.__posted.push(message),
    getState: () => JSON.parse(sessionStorage.getItem('vscode-state') ?? 'null') ?? undefined,
    setState: (state) => sessionStorage.setItem('vscode-state', JSON.stringify(state)),
  });
}

const SOURCES = [
  {
    uri: 'file:///repo/lsp_ai/server.py',
    path: 'lsp_ai/server.py',
    startLine: 171,
    endLine: 183,
    symbol: 'LspAiServer.run_cancellable',
    score: 0.82,
  },
  {
    uri: 'file:///repo/lsp_ai/concurrency.py',
    path: 'lsp_ai/concurrency.py',
    startLine: 17,
    endLine: 40,
    symbol: 'CancelToken',
    score: 0.77,
  },
  {
    uri: 'file:///repo/lsp_ai/chat/service.py',
    path: 'lsp_ai/chat/service.py',
    startLine: 95,
    endLine: 150,
    symbol: null,
    score: 0.61,
  },
];

describe(
  'chat webview',
  {
    skip:
      !existsSync(chromiumPath) &&
      `no Chromium at ${chromiumPath}: apt-get install chromium, or set CHROMIUM_PATH`,
  },
  () => {
    let server;
    let origin;
    let browser;

    before(async () => {
      server = createServer((request, response) => {
        const path = new URL(request.url, 'http://localhost').pathname;
        if (path === '/') {
          const html = chatHtml({
            cspSource: origin,
            nonce: 'test-nonce',
            scriptUri: `${origin}/dist/webview.js`,
            styleUri: `${origin}/media/chat.css`,
          }).replace(
            '</head>',
            `  <link rel="stylesheet" href="${origin}/test/fixtures/vscode-dark.css">\n</head>`,
          );
          response.writeHead(200, { 'content-type': 'text/html' }).end(html);
        } else if (files[path]) {
          response
            .writeHead(200, { 'content-type': files[path] })
            .end(readFileSync(`${root}${path.slice(1)}`));
        } else {
          response.writeHead(404).end();
        }
      });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `http://127.0.0.1:${server.address().port}`;
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({
        executablePath: chromiumPath,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-quic',
          '--no-first-run',
          '--disable-sync',
        ],
      });
    });

    after(async () => {
      await browser?.close();
      server?.close();
    });

    /** A fresh sidebar-sized page; collects dialogs and errors (CSP violations log errors). */
    async function openChat() {
      const page = await browser.newPage({ viewport: { width: 420, height: 640 } });
      page.setDefaultTimeout(5000); // everything here is local: fail fast
      const problems = { dialogs: [], errors: [] };
      page.on('dialog', (dialog) => {
        problems.dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      page.on('pageerror', (error) => problems.errors.push(error.message));
      page.on(
        'console',
        (message) => message.type() === 'error' && problems.errors.push(message.text()),
      );
      await page.addInitScript(stubVsCodeApi);
      await page.goto(origin);
      await waitForPosted(page, 'ready');
      return { page, problems };
    }

    const posted = (page) => page.evaluate(() => window.__posted);
    const send = (page, message) => page.evaluate((m) => window.postMessage(m, '*'), message);
    const waitForPosted = (page, type) =>
      page.waitForFunction((t) => window.__posted.some((m) => m.type === t), type);
    const answer = (page) => page.locator('.assistant .markdown').last();

    test('answers stream in as safe Markdown with sources; state survives a reload', async () => {
      const { page, problems } = await openChat();
      assert.equal(await page.locator('#empty').isVisible(), true);

      await page.locator('#input').fill('How does the server cancel a chat?');
      await page.locator('#input').press('Enter');
      assert.deepEqual((await posted(page)).at(-1), {
        type: 'send',
        text: 'How does the server cancel a chat?',
      });
      assert.equal(await page.locator('#input').inputValue(), '');

      await send(page, { type: 'start', id: 't1', question: 'How does the server cancel a chat?' });
      await page
        .locator('.user .text', { hasText: 'How does the server cancel a chat?' })
        .waitFor();
      assert.equal(await page.locator('#send').textContent(), 'Stop');
      assert.equal(await page.locator('#empty').isVisible(), false);
      await page.locator('.markdown.pending').waitFor();

      await send(page, { type: 'delta', id: 't1', text: '# Cancellation\n\nThe handler **sets' });
      await page.locator('.markdown h1', { hasText: 'Cancellation' }).waitFor();
      assert.equal(await page.locator('.markdown.pending').count(), 0);
      assert.equal(await answer(page).locator('strong').count(), 0, 'unclosed emphasis stays text');

      for (const text of [
        '** a token:\n\n```python\ndef stop(token):\n',
        '    token.cancel()\n```\n\n',
        '- checked after every token\n- and during prompt evaluation\n',
      ]) {
        await send(page, { type: 'delta', id: 't1', text });
      }
      await answer(page).locator('ul li').nth(1).waitFor();
      assert.equal(await answer(page).locator('strong').textContent(), 'sets');
      assert.equal(
        await answer(page).locator('pre code.language-python').textContent(),
        'def stop(token):\n    token.cancel()\n',
      );
      assert.deepEqual(await answer(page).locator('ul li').allTextContents(), [
        'checked after every token',
        'and during prompt evaluation',
      ]);

      // Model output that looks like HTML stays text: no element, no script, no dialog.
      const hostile =
        '\n<img src=x onerror="window.__xss=1;alert(1)"> <script>window.__xss=2;alert(2)</script>\n';
      await send(page, { type: 'delta', id: 't1', text: hostile });
      await page.waitForFunction(() =>
        document.querySelector('.markdown').textContent.includes('<script>'),
      );
      assert.match(
        await answer(page).textContent(),
        /<img src=x onerror="window.__xss=1;alert\(1\)">/,
      );
      assert.equal(await page.locator('.markdown img, .markdown script').count(), 0);
      assert.equal(await page.evaluate(() => window.__xss), undefined);

      await page.locator('#send').click();
      assert.deepEqual((await posted(page)).at(-1), { type: 'stop' });

      const content = `# Cancellation\n\nThe handler **sets** a token.${hostile}`;
      await send(page, { type: 'done', id: 't1', content, sources: SOURCES.slice(0, 2) });
      await page.locator('.source').nth(1).waitFor();
      assert.deepEqual(await page.locator('.source').allTextContents(), [
        'lsp_ai/server.py:172-184 (LspAiServer.run_cancellable)',
        'lsp_ai/concurrency.py:18-41 (CancelToken)',
      ]);
      assert.equal(await page.locator('#send').textContent(), 'Send');
      await page.locator('.source').nth(1).click();
      assert.deepEqual((await posted(page)).at(-1), { type: 'openSource', source: SOURCES[1] });

      await page.locator('#input').fill('half-typed follow-up');
      await page.reload();
      await waitForPosted(page, 'ready');
      assert.equal(
        await page.locator('.user .text').textContent(),
        'How does the server cancel a chat?',
      );
      assert.equal(await page.locator('.markdown h1').textContent(), 'Cancellation');
      assert.equal(await page.locator('.markdown img, .markdown script').count(), 0);
      assert.equal(await page.locator('.source').count(), 2);
      assert.equal(await page.locator('#input').inputValue(), 'half-typed follow-up');

      assert.deepEqual(problems, { dialogs: [], errors: [] });
      await page.close();
    });

    test('stopped and failed answers, prefill, and New chat', async () => {
      const { page, problems } = await openChat();
      await send(page, { type: 'start', id: 'a', question: 'first' });
      await send(page, { type: 'delta', id: 'a', text: 'Partial' });
      await send(page, { type: 'stopped', id: 'a' });
      await page.locator('.note', { hasText: 'stopped' }).waitFor();
      assert.equal(await page.locator('.markdown').first().textContent(), 'Partial\n');
      assert.equal(await page.locator('#send').textContent(), 'Send');

      await send(page, { type: 'start', id: 'b', question: 'second' });
      await send(page, {
        type: 'error',
        id: 'b',
        message: 'models.chat: <b>model</b> failed to load',
      });
      await page.locator('.error').waitFor();
      assert.equal(
        await page.locator('.error').textContent(),
        'models.chat: <b>model</b> failed to load',
      );
      assert.equal(await page.locator('.error b').count(), 0);

      // While streaming, Enter does not send a second question.
      await send(page, { type: 'start', id: 'c', question: 'third' });
      await page.locator('#input').fill('not now');
      await page.locator('#input').press('Enter');
      assert.equal((await posted(page)).filter((m) => m.type === 'send').length, 0);
      await send(page, { type: 'stopped', id: 'c' });

      await send(page, {
        type: 'prefill',
        text: 'About this code from a.py (line 1):\n\n```python\nx = 1\n```\n\n',
      });
      await page.waitForFunction(() =>
        document.getElementById('input').value.startsWith('About this code'),
      );
      assert.equal(await page.evaluate(() => document.activeElement.id), 'input');

      await page.locator('#new-chat').click();
      assert.deepEqual((await posted(page)).at(-1), { type: 'newSession' });
      await send(page, { type: 'cleared' });
      await page.locator('#empty').waitFor();
      assert.equal(await page.locator('.turn').count(), 0);
      // A late message for a cleared turn is ignored.
      await send(page, { type: 'done', id: 'b', content: 'late', sources: [] });
      await page.waitForTimeout(50);
      assert.equal(await page.locator('.turn').count(), 0);

      assert.deepEqual(problems, { dialogs: [], errors: [] });
      await page.close();
    });

    test('screenshot of a realistic answer', async () => {
      const { page, problems } = await openChat();
      const question = 'How does the server stop a chat generation when I press Stop?';
      const content = [
        "VS Code sends `$/cancelRequest`, and pygls cancels the handler's asyncio task. " +
          '`run_cancellable` turns that into a `CancelToken` the worker thread polls:',
        '',
        '```python',
        'try:',
        '    return await loop.run_in_executor(pool, fn, token)',
        'except asyncio.CancelledError:',
        '    token.cancel("$/cancelRequest")',
        '    raise',
        '```',
        '',
        'The generation loop then stops:',
        '- after the current token (`raise_if_cancelled`), or',
        "- during prompt evaluation, via llama.cpp's abort callback.",
        '',
        'The request fails with **RequestCancelled** (-32800), which the chat shows as *stopped*.',
      ].join('\n');
      await send(page, { type: 'start', id: 's', question });
      await send(page, { type: 'done', id: 's', content, sources: SOURCES });
      await page.locator('.source').nth(2).waitFor();
      await page.locator('#input').fill('And for ghost text?');
      await page.evaluate(() => {
        const transcript = document.getElementById('transcript');
        transcript.scrollTop = 0;
      });
      mkdirSync(dirname(screenshotPath), { recursive: true });
      await page.screenshot({ path: screenshotPath });
      assert.deepEqual(problems, { dialogs: [], errors: [] });
      await page.close();
    });
  },
);
