// Messages between the chat webview and the extension, both directions.

/** A retrieved code chunk the answer drew on; lines are 0-based and inclusive. */
export interface Source {
  uri: string;
  path: string;
  startLine: number;
  endLine: number;
  symbol?: string | null;
  score: number;
}

/** Webview → extension. */
export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'send'; text: string }
  | { type: 'stop' }
  | { type: 'newSession' }
  | { type: 'openSource'; source: Source };

/** Extension → webview; `id` names one question/answer turn. */
export type ExtensionMessage =
  | { type: 'start'; id: string; question: string }
  | { type: 'delta'; id: string; text: string }
  | { type: 'done'; id: string; content: string; sources: Source[] }
  | { type: 'error'; id: string; message: string }
  | { type: 'stopped'; id: string }
  | { type: 'cleared' }
  | { type: 'prefill'; text: string };
