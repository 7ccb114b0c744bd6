// Bundles the extension (CommonJS for VS Code's Node host), the chat webview (a browser IIFE),
// and the vscode-free modules the tests import (ESM).
import { build } from 'esbuild';

const common = { bundle: true, target: 'es2022', logLevel: 'warning' };

await Promise.all([
  build({
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    external: ['vscode'],
  }),
  build({
    ...common,
    entryPoints: ['src/webview/chat.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    format: 'iife',
  }),
  build({
    ...common,
    entryPoints: [
      'src/settings.ts',
      'src/debounce.ts',
      'src/status.ts',
      'src/selection.ts',
      'src/webview/html.ts',
    ],
    outdir: 'dist/test-modules',
    outExtension: { '.js': '.mjs' },
    platform: 'node',
    format: 'esm',
  }),
]);
