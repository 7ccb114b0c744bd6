// The language client for `lsp-ai serve` and the middleware that adapts it to VS Code.

import { InlineCompletionTriggerKind, workspace, type LogOutputChannel } from 'vscode';
import {
  LanguageClient,
  ResponseError,
  type LanguageClientOptions,
  type ProgressToken,
  type WorkDoneProgressBegin,
  type WorkDoneProgressEnd,
  type WorkDoneProgressReport,
} from 'vscode-languageclient/node';
import { Debouncer } from './debounce';
import { SECTION, type SettingsObject } from './settings';

/** `lsp-ai.client.*`: settings for this extension only, never sent to the server. */
export interface ClientSettings {
  serverPath: string;
  serverArgs: string[];
  debounceMs: number;
  completionItems: boolean;
}

export function clientSettings(): ClientSettings {
  const config = workspace.getConfiguration(`${SECTION}.client`);
  return {
    serverPath: config.get('serverPath', 'lsp-ai'),
    serverArgs: config.get('serverArgs', ['serve']),
    debounceMs: config.get('debounceMs', 300),
    completionItems: config.get('completionItems', false),
  };
}

export interface ClientHooks {
  /** The server settings the user set explicitly, nested; called at every (re)start. */
  initializationOptions(): SettingsObject;
  /** The same, for the server's `workspace/configuration` pull. */
  serverSettings(): SettingsObject;
  /** Every work-done progress notification, before the client's own progress UI sees it. */
  onWorkDoneProgress(
    token: ProgressToken,
    value: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd,
  ): void;
}

export function createClient(output: LogOutputChannel, hooks: ClientHooks): LanguageClient {
  const { serverPath, serverArgs } = clientSettings();
  const debouncer = new Debouncer();
  const options: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    outputChannel: output,
    // A function, so a restart sends the settings of that moment. There is deliberately no
    // `synchronize.configurationSection`: it would send every default (see settings.ts).
    initializationOptions: () => hooks.initializationOptions(),
    middleware: {
      // VS Code asks on every keystroke; wait for a pause, and drop requests a newer one made
      // pointless. An explicit trigger (Alt+\) asks at once.
      provideInlineCompletionItems: (document, position, context, token, next) => {
        const delay =
          context.triggerKind === InlineCompletionTriggerKind.Invoke
            ? 0
            : clientSettings().debounceMs;
        return debouncer.run(delay, token, async (latest) =>
          next(document, position, context, latest),
        );
      },
      // Ghost text already shows these suggestions; asking twice per keystroke would also make
      // the server cancel one request with the other.
      provideCompletionItem: (document, position, context, token, next) =>
        clientSettings().completionItems ? next(document, position, context, token) : undefined,
      handleWorkDoneProgress: (token, value, next) => {
        hooks.onWorkDoneProgress(token, value);
        next(token, value);
      },
      workspace: {
        // The server pulls section `lsp-ai` after `initialized`: answer with the explicit
        // settings, as pushed, not the full section with its defaults and `client.*` keys.
        configuration: async (params, token, next) => {
          const answers = await next(params, token);
          if (answers instanceof ResponseError) return answers;
          return params.items.map((item, i) =>
            item.section === SECTION ? hooks.serverSettings() : answers[i],
          );
        },
      },
    },
  };
  return new LanguageClient(SECTION, 'lsp-ai', { command: serverPath, args: serverArgs }, options);
}
