// The chat view's HTML. Free of `vscode` so the UI test serves exactly the same page.

export interface ChatHtmlOptions {
  /** `webview.cspSource`: the origin the script and stylesheet are loaded from. */
  cspSource: string;
  /** Fresh per page: only the script carrying it may run. */
  nonce: string;
  scriptUri: string;
  styleUri: string;
}

export function chatHtml({ cspSource, nonce, scriptUri, styleUri }: ChatHtmlOptions): string {
  // No inline styles or scripts, no remote content: model output can never load or run anything.
  const csp = [
    "default-src 'none'",
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${escapeAttribute(csp)}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${escapeAttribute(styleUri)}">
  <title>lsp-ai chat</title>
</head>
<body>
  <main id="transcript" role="log" aria-live="polite">
    <p id="empty" class="empty">Ask about your code. Answers cite the files they draw on.</p>
  </main>
  <form id="composer">
    <textarea id="input" rows="3" aria-label="Question"
      placeholder="Ask lsp-ai (Enter to send, Shift+Enter for a new line)"></textarea>
    <div class="actions">
      <button type="button" id="new-chat" class="secondary">New chat</button>
      <button type="submit" id="send">Send</button>
    </div>
  </form>
  <script nonce="${escapeAttribute(nonce)}" src="${escapeAttribute(scriptUri)}"></script>
</body>
</html>
`;
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}
