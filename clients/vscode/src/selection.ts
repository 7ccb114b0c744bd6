// The question "Ask About Selection" puts into the chat input. Free of `vscode`.

export interface Selection {
  path: string;
  languageId: string;
  /** 0-based, inclusive. */
  startLine: number;
  endLine: number;
  text: string;
}

/** A prompt quoting the selection in a fence longer than any backtick run inside it. */
export function selectionPrompt({ path, languageId, startLine, endLine, text }: Selection): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const lines =
    startLine === endLine ? `line ${startLine + 1}` : `lines ${startLine + 1}-${endLine + 1}`;
  const code = text.replace(/\n$/, '');
  return `About this code from ${path} (${lines}):\n\n${fence}${languageId}\n${code}\n${fence}\n\n`;
}
