// Debounce and supersede for ghost-text requests. Free of `vscode` so it runs in plain node;
// the token types are structurally compatible with VS Code's and vscode-languageclient's.

export interface Disposable {
  dispose(): void;
}

export interface CancellationToken {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: (event: void) => void): Disposable;
}

/** A token that can be cancelled once; listeners added afterwards are called at once. */
export class CancellationSource implements CancellationToken {
  private cancelled = false;
  private readonly listeners = new Set<(event: void) => void>();

  get isCancellationRequested(): boolean {
    return this.cancelled;
  }

  onCancellationRequested(listener: (event: void) => void): Disposable {
    if (this.cancelled) {
      listener();
      return { dispose: () => undefined };
    }
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const listener of this.listeners) listener();
    this.listeners.clear();
  }
}

/**
 * Runs at most one piece of work at a time, after a pause. Each call cancels the previous one,
 * whether it is still waiting out its delay or already running: only the newest keystroke's
 * suggestion can still be shown, and cancelling the running request's token makes the language
 * client send `$/cancelRequest`, which stops the model's work for it.
 */
export class Debouncer {
  private latest?: CancellationSource;

  /** Wait `delayMs`, then run `work`; undefined when superseded or when `outer` is cancelled. */
  async run<T>(
    delayMs: number,
    outer: CancellationToken,
    work: (token: CancellationToken) => PromiseLike<T> | T,
  ): Promise<T | undefined> {
    this.latest?.cancel();
    const source = new CancellationSource();
    this.latest = source;
    const link = outer.onCancellationRequested(() => source.cancel());
    if (outer.isCancellationRequested) source.cancel();
    try {
      if (!(await pause(delayMs, source))) return undefined;
      const result = await work(source);
      return source.isCancellationRequested ? undefined : result;
    } catch (error) {
      if (source.isCancellationRequested) return undefined;
      throw error;
    } finally {
      link.dispose();
      if (this.latest === source) this.latest = undefined;
    }
  }
}

/** Resolves true after `ms`, or false as soon as `token` is cancelled. */
function pause(ms: number, token: CancellationToken): Promise<boolean> {
  if (token.isCancellationRequested) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      listener.dispose();
      resolve(true);
    }, ms);
    const listener = token.onCancellationRequested(() => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}
