// The status bar item: index progress, server state, and `lsp-ai.status` as the tooltip.

import { MarkdownString, StatusBarAlignment, window, type Disposable } from 'vscode';
import {
  ExecuteCommandRequest,
  State,
  type LanguageClient,
  type ProgressToken,
} from 'vscode-languageclient/node';
import {
  IndexProgress,
  statusText,
  statusTooltip,
  type ProgressValue,
  type ServerStatus,
} from './status';

const TOOLTIP_REFRESH_MS = 30_000;

export class StatusBar implements Disposable {
  private readonly item = window.createStatusBarItem(
    'lsp-ai.status',
    StatusBarAlignment.Right,
    100,
  );
  private readonly progress = new IndexProgress();
  private readonly timer = setInterval(() => void this.refreshTooltip(), TOOLTIP_REFRESH_MS);
  private client?: LanguageClient;

  constructor() {
    this.item.name = 'lsp-ai';
    this.item.command = 'lsp-ai.chat.focus';
    this.showState(State.Stopped);
    this.item.show();
  }

  /** Follow a (new) client's state; called for every client the extension starts. */
  attach(client: LanguageClient): Disposable {
    this.client = client;
    this.progress.clear();
    this.showState(client.state);
    return client.onDidChangeState(({ newState }) => {
      this.progress.clear();
      this.showState(newState);
      if (newState === State.Running) void this.refreshTooltip();
    });
  }

  onWorkDoneProgress(token: ProgressToken, value: ProgressValue): void {
    if (!this.progress.update(token, value)) return;
    this.item.text = statusText(this.progress.percentage);
    if (value.kind === 'end') void this.refreshTooltip();
  }

  private showState(state: State): void {
    if (state === State.Running) {
      this.item.text = statusText(this.progress.percentage);
    } else {
      this.item.text = state === State.Starting ? '$(loading~spin) lsp-ai' : '$(error) lsp-ai';
      this.item.tooltip =
        state === State.Starting ? 'lsp-ai: starting' : 'lsp-ai: server not running';
    }
  }

  private async refreshTooltip(): Promise<void> {
    const client = this.client;
    if (client?.state !== State.Running) return;
    try {
      const status: ServerStatus = await client.sendRequest(ExecuteCommandRequest.type, {
        command: 'lsp-ai.status',
        arguments: [],
      });
      if (client === this.client && client.state === State.Running) {
        this.item.tooltip = new MarkdownString(statusTooltip(status));
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.item.tooltip = `lsp-ai: status unavailable (${reason})`;
    }
  }

  dispose(): void {
    clearInterval(this.timer);
    this.item.dispose();
  }
}
