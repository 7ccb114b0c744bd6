// Entry point: starts the lsp-ai language server and wires up the chat view, status bar,
// commands and settings.
//
// `lsp-ai.reindex` is contributed in package.json but registered by vscode-languageclient, which
// turns every command the server lists in `executeCommandProvider` into a VS Code command.

import {
  commands,
  window,
  workspace,
  type ConfigurationChangeEvent,
  type Disposable,
  type ExtensionContext,
  type LogOutputChannel,
} from 'vscode';
import {
  DidChangeConfigurationNotification,
  type LanguageClient,
} from 'vscode-languageclient/node';
import { ChatViewProvider } from './chatView';
import { createClient } from './client';
import { selectionPrompt } from './selection';
import {
  SECTION,
  explicitValue,
  needsRestart,
  serverKeys,
  snapshot,
  type Snapshot,
} from './settings';
import { StatusBar } from './statusBar';

/** Owns the language client: (re)starts it and keeps the server's settings in step. */
class Server {
  client?: LanguageClient;
  private clientState?: Disposable;
  /** What initializationOptions carried, to notice settings that were unset since. */
  private sentAtStart: Snapshot = snapshot([]);
  /** Serialises start/stop so quick successive restarts do not interleave. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly keys: readonly string[],
    private readonly output: LogOutputChannel,
    private readonly status: StatusBar,
  ) {}

  /** The server settings the user set explicitly, for the first folder (the server's root). */
  settings(): Snapshot {
    const config = workspace.getConfiguration(SECTION, workspace.workspaceFolders?.[0]?.uri);
    return snapshot(this.keys.map((key) => [key, explicitValue(config.inspect(key))]));
  }

  start(): Promise<void> {
    return this.enqueue(() => this.startNow());
  }

  restart(): Promise<void> {
    return this.enqueue(async () => {
      await this.stopNow();
      await this.startNow();
    });
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.stopNow());
  }

  async onConfigurationChanged(event: ConfigurationChangeEvent): Promise<void> {
    const affects = (key: string) => event.affectsConfiguration(`${SECTION}.${key}`);
    if (affects('client.serverPath') || affects('client.serverArgs')) return this.restart();
    if (!this.keys.some(affects)) return; // only client-side settings changed
    const now = this.settings();
    if (needsRestart(this.sentAtStart, now)) return this.restart();
    // A server still starting pulls the settings itself after `initialized`.
    if (!this.client?.isRunning()) return;
    await this.client.sendNotification(DidChangeConfigurationNotification.type, {
      settings: { [SECTION]: now.settings },
    });
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(task, task);
    return this.queue;
  }

  private async startNow(): Promise<void> {
    const client = createClient(this.output, {
      initializationOptions: () => (this.sentAtStart = this.settings()).settings,
      serverSettings: () => this.settings().settings,
      onWorkDoneProgress: (token, value) => this.status.onWorkDoneProgress(token, value),
    });
    this.client = client;
    this.clientState = this.status.attach(client);
    try {
      await client.start();
    } catch (error) {
      // Not awaited: the queue must not wait for the user to dismiss the message.
      void showStartError(error);
    }
  }

  private async stopNow(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.clientState?.dispose();
    // A client whose start failed has no server to stop; its dispose() would reject, and a
    // restart (a corrected serverPath, "Restart Server") would then never start the new one.
    if (!client?.needsStop()) return;
    try {
      await client.dispose();
    } catch (error) {
      this.output.error('stopping the server failed', error);
    }
  }
}

async function showStartError(error: unknown): Promise<void> {
  const reason = error instanceof Error ? error.message : String(error);
  const choice = await window.showErrorMessage(
    `lsp-ai: the server did not start (${reason}). Install lsp-ai or set lsp-ai.client.serverPath.`,
    'Open Settings',
  );
  if (choice) await commands.executeCommand('workbench.action.openSettings', `${SECTION}.client`);
}

let server: Server | undefined;

export function activate(context: ExtensionContext): void {
  const output = window.createOutputChannel('lsp-ai', { log: true });
  const status = new StatusBar();
  // The server keys are the contributed settings minus `lsp-ai.client.*`.
  const packageJson = context.extension.packageJSON as { contributes: { configuration: unknown } };
  const current = new Server(serverKeys(packageJson.contributes.configuration), output, status);
  server = current;
  const chat = new ChatViewProvider(context.extensionUri, () => current.client);

  context.subscriptions.push(
    output,
    status,
    window.registerWebviewViewProvider(ChatViewProvider.viewId, chat, {
      // Keeps a streaming answer alive while the sidebar shows something else.
      webviewOptions: { retainContextWhenHidden: true },
    }),
    workspace.onDidChangeConfiguration((event) =>
      current
        .onConfigurationChanged(event)
        .catch((error: unknown) => output.error('settings update failed', error)),
    ),
    commands.registerCommand('lsp-ai.restartServer', () => current.restart()),
    commands.registerCommand('lsp-ai.chat.newSession', () => chat.newSession()),
    commands.registerCommand('lsp-ai.chat.askAboutSelection', async () => {
      const editor = window.activeTextEditor;
      if (!editor || editor.selection.isEmpty) {
        void window.showInformationMessage('lsp-ai: select some code first.');
        return;
      }
      const { document, selection } = editor;
      // A selection that ends at column 0 does not include that line.
      const { start, end } = selection;
      const endLine = end.character === 0 && end.line > start.line ? end.line - 1 : end.line;
      chat.prefill(
        selectionPrompt({
          path: workspace.asRelativePath(document.uri),
          languageId: document.languageId,
          startLine: start.line,
          endLine,
          text: document.getText(selection),
        }),
      );
      await commands.executeCommand(`${ChatViewProvider.viewId}.focus`);
    }),
  );
  void current.start();
}

export function deactivate(): Promise<void> | undefined {
  return server?.stop();
}
