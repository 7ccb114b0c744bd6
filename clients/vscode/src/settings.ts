// Which settings reach the server, and in what shape. Free of `vscode` so it runs in plain node.
//
// The server layers its configuration (defaults < user TOML < project `.lsp-ai.toml` <
// initializationOptions < didChangeConfiguration), so sending a value the user never set would
// silently override their TOML files. Only explicit values are sent.

export const SECTION = 'lsp-ai';
const CLIENT_PREFIX = 'client.';

/** A JSON object as the server's TOML tables look: `{completion: {max_tokens: 32}}`. */
export interface SettingsObject {
  [key: string]: unknown;
}

/** The part of VS Code's `WorkspaceConfiguration.inspect()` result that a user can set. */
export interface InspectedValues {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/** What was (or will be) sent: the dotted keys the user set, and the same values nested. */
export interface Snapshot {
  readonly keys: readonly string[];
  readonly settings: SettingsObject;
}

/**
 * Server keys (relative to `lsp-ai.`) from package.json's `contributes.configuration`, which may
 * be one category object or an array of them. `lsp-ai.client.*` keys stay in the editor.
 */
export function serverKeys(configuration: unknown): string[] {
  const categories = Array.isArray(configuration) ? configuration : [configuration];
  const keys: string[] = [];
  for (const category of categories) {
    const properties = (category as { properties?: object } | undefined)?.properties ?? {};
    for (const name of Object.keys(properties)) {
      const key = name.startsWith(`${SECTION}.`) ? name.slice(SECTION.length + 1) : undefined;
      if (key !== undefined && !key.startsWith(CLIENT_PREFIX)) keys.push(key);
    }
  }
  return keys;
}

/** The value the user set (folder beats workspace beats user settings); undefined if none. */
export function explicitValue(inspected: InspectedValues | undefined): unknown {
  return inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
}

/** Nest `[dottedKey, value]` pairs into an object, leaving out unset (undefined/null) values. */
export function snapshot(entries: Iterable<readonly [string, unknown]>): Snapshot {
  const keys: string[] = [];
  const settings: SettingsObject = {};
  for (const [key, value] of entries) {
    if (value === undefined || value === null) continue;
    const path = key.split('.');
    const leaf = path.pop() as string;
    let table = settings;
    for (const part of path) {
      const next = table[part];
      table = (
        typeof next === 'object' && next !== null ? next : (table[part] = {})
      ) as SettingsObject;
    }
    table[leaf] = value;
    keys.push(key);
  }
  return { keys, settings };
}

/**
 * True when a key sent in initializationOptions is no longer set. A settings notification cannot
 * take it back (the server keeps initializationOptions as a layer below the notification's), so
 * only a restart with fresh initializationOptions returns that key to the TOML/default value.
 */
export function needsRestart(sentAtStart: Snapshot, now: Snapshot): boolean {
  const current = new Set(now.keys);
  return sentAtStart.keys.some((key) => !current.has(key));
}
