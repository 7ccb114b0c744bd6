// The chat view: a webview in the lsp-ai sidebar that sends `$/chat` and streams the answer.

import { randomBytes, randomUUID } from 'node:crypto';
import {
  CancellationTokenSource,
  Range,
  Uri,
  window,
  workspace,
  type WebviewView,
  type WebviewViewProvider,
} from 'vscode';
import {
  LSPErrorCodes,
  ProgressType,
  RequestType,
  ResponseError,
  type LanguageClient,
  type Position,
} from 'vscode-languageclient/node';
import { chatHtml } from './webview/html';
import type { ExtensionMessage, Source, WebviewMessage } from './webview/protocol';

interface ChatParams {
  message: string;
  sessionId?: string;
  textDocument?: { uri: string };
  position?: Position;
  partialResultToken: string;
}

interface ChatResult {
  sessionId: string;
  content: string;
  sources: Source[];
}

const chatRequest = new RequestType<ChatParams, ChatResult, void>('$/chat');
const chatDelta = new ProgressType<{ delta: string }>();

export class ChatViewProvider implements WebviewViewProvider {
  static readonly viewId = 'lsp-ai.chat';

  private view?: WebviewView;
  private ready = false;
  private pendingPrefill?: string;
  private sessionId?: string;
  private running?: { id: string; cancel: CancellationTokenSource };

  constructor(
    private readonly extensionUri: Uri,
    private readonly client: () => LanguageClient | undefined,
  ) {}

  resolveWebviewView(view: WebviewView): void {
    const dist = Uri.joinPath(this.extensionUri, 'dist');
    const media = Uri.joinPath(this.extensionUri, 'media');
    const { webview } = view;
    webview.options = { enableScripts: true, localResourceRoots: [dist, media] };
    webview.html = chatHtml({
      cspSource: webview.cspSource,
      nonce: randomBytes(16).toString('base64'),
      scriptUri: webview.asWebviewUri(Uri.joinPath(dist, 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(Uri.joinPath(media, 'chat.css')).toString(),
    });
    this.view = view;
    this.ready = false;
    const listener = webview.onDidReceiveMessage((message: WebviewMessage) =>
      this.onMessage(message),
    );
    view.onDidDispose(() => {
      listener.dispose();
      if (this.view === view) this.view = undefined;
    });
  }

  /** Put text into the chat input (once the webview has loaded). */
  prefill(text: string): void {
    if (this.view && this.ready) this.post({ type: 'prefill', text });
    else this.pendingPrefill = text;
  }

  /** Forget the conversation: the next question starts a new server-side session. */
  newSession(): void {
    this.running?.cancel.cancel();
    this.running = undefined;
    this.sessionId = undefined;
    this.post({ type: 'cleared' });
  }

  private onMessage(message: WebviewMessage): void {
    switch (message.type) {
      case 'ready':
        this.ready = true;
        if (this.pendingPrefill !== undefined) {
          this.post({ type: 'prefill', text: this.pendingPrefill });
          this.pendingPrefill = undefined;
        }
        break;
      case 'send':
        void this.ask(message.text);
        break;
      case 'stop':
        this.running?.cancel.cancel();
        break;
      case 'newSession':
        this.newSession();
        break;
      case 'openSource':
        openSource(message.source).catch((error: unknown) =>
          window.showErrorMessage(
            `lsp-ai: cannot open ${message.source.path}: ${errorText(error)}`,
          ),
        );
        break;
    }
  }

  private async ask(message: string): Promise<void> {
    this.running?.cancel.cancel(); // one answer at a time
    const id = randomUUID();
    this.post({ type: 'start', id, question: message });
    const client = this.client();
    if (!client) {
      this.post({
        type: 'error',
        id,
        message: 'The lsp-ai server is not running. Run "lsp-ai: Restart Server".',
      });
      return;
    }
    const run = { id, cancel: new CancellationTokenSource() };
    this.running = run;
    const partialResultToken = `lsp-ai-chat-${id}`;
    const deltas = client.onProgress(chatDelta, partialResultToken, ({ delta }) =>
      this.post({ type: 'delta', id, text: delta }),
    );
    try {
      const params = {
        message,
        sessionId: this.sessionId,
        ...editorContext(client),
        partialResultToken,
      };
      const result = await client.sendRequest(chatRequest, params, run.cancel.token);
      // A "New chat" while this ran started a new conversation; do not continue the old one.
      if (this.running === run) this.sessionId = result.sessionId;
      this.post({ type: 'done', id, content: result.content, sources: result.sources });
    } catch (error) {
      const cancelled =
        run.cancel.token.isCancellationRequested ||
        (error instanceof ResponseError && error.code === LSPErrorCodes.RequestCancelled);
      this.post(
        cancelled ? { type: 'stopped', id } : { type: 'error', id, message: errorText(error) },
      );
    } finally {
      deltas.dispose();
      run.cancel.dispose();
      if (this.running === run) this.running = undefined;
    }
  }

  private post(message: ExtensionMessage): void {
    void this.view?.webview.postMessage(message);
  }
}

/** The active editor's document and cursor, which the server uses as extra context. */
function editorContext(client: LanguageClient): Pick<ChatParams, 'textDocument' | 'position'> {
  const editor = window.activeTextEditor;
  // Only documents the client has opened on the server (see the document selector).
  if (!editor || !['file', 'untitled'].includes(editor.document.uri.scheme)) return {};
  const converter = client.code2ProtocolConverter;
  return {
    textDocument: { uri: converter.asUri(editor.document.uri) },
    position: converter.asPosition(editor.selection.active),
  };
}

async function openSource(source: Source): Promise<void> {
  const uri = Uri.parse(source.uri, true);
  if (uri.scheme !== 'file') throw new Error(`not a file URI: ${source.uri}`);
  const document = await workspace.openTextDocument(uri);
  // The file may have shrunk since it was indexed.
  const last = Math.max(0, Math.min(source.endLine, document.lineCount - 1));
  const first = Math.min(Math.max(0, source.startLine), last);
  const selection = new Range(first, 0, last, document.lineAt(last).text.length);
  await window.showTextDocument(document, { selection });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
