// What the status bar shows: indexing progress and the server's `lsp-ai.status` answer.
// Free of `vscode` so it runs in plain node.

/** One model role in `lsp-ai.status`; only `state` is always there. */
export interface ModelStatus {
  state: string;
  error?: string;
  path?: string;
  model?: string;
  base_url?: string;
}

/** The result of `workspace/executeCommand` `lsp-ai.status`. */
export interface ServerStatus {
  indexedFiles: number;
  chunks: number;
  pending: number;
  models: Record<string, ModelStatus>;
}

export type ProgressValue =
  | { kind: 'begin'; title: string; percentage?: number }
  | { kind: 'report'; percentage?: number }
  | { kind: 'end' };

/**
 * Follows the server's `Indexing` work-done progress. Only `begin` carries the title, so the
 * tokens it names are remembered to recognise their `report` and `end`.
 */
export class IndexProgress {
  private readonly tokens = new Map<string | number, number>();

  /** Feed one `$/progress` value; returns true when the displayed state changed. */
  update(token: string | number, value: ProgressValue): boolean {
    if (value.kind === 'begin') {
      if (value.title !== 'Indexing') return false;
      this.tokens.set(token, value.percentage ?? 0);
      return true;
    }
    if (!this.tokens.has(token)) return false;
    if (value.kind === 'end') this.tokens.delete(token);
    else if (value.percentage !== undefined) this.tokens.set(token, value.percentage);
    return true;
  }

  /** Percentage of the running index job, or undefined when none runs. */
  get percentage(): number | undefined {
    const values = [...this.tokens.values()];
    return values.length ? Math.min(...values) : undefined;
  }

  clear(): void {
    this.tokens.clear();
  }
}

/** Status bar text: a spinner with the percentage while indexing, the robot when idle. */
export function statusText(percentage: number | undefined): string {
  return percentage === undefined
    ? '$(hubot) lsp-ai'
    : `$(sync~spin) lsp-ai ${Math.round(percentage)}%`;
}

/** Markdown for the status bar tooltip. */
export function statusTooltip(status: ServerStatus): string {
  const lines = [
    `**lsp-ai**: ${status.indexedFiles} files indexed, ${status.chunks} chunks` +
      (status.pending ? `, ${status.pending} pending` : ''),
    '',
  ];
  for (const [role, model] of Object.entries(status.models)) {
    const name = model.path ? model.path.split(/[\\/]/).pop() : (model.model ?? model.base_url);
    const detail = model.error ?? name;
    // A code span shows file names and errors literally, whatever Markdown they contain.
    lines.push(`- ${role}: ${model.state}${detail ? ` \`${detail.replace(/`/g, "'")}\`` : ''}`);
  }
  return lines.join('\n');
}
