// The chat view's script (bundled to dist/webview.js): renders the transcript, streams answers
// in as Markdown, and talks to the extension through the messages in protocol.ts.

import MarkdownIt from 'markdown-it';
import type { ExtensionMessage, Source, WebviewMessage } from './protocol';

interface Turn {
  id: string;
  question: string;
  answer: string;
  sources: Source[];
  status: 'streaming' | 'done' | 'stopped' | 'error';
  error?: string;
}

/** What survives the view being hidden or reloaded (through `setState`). */
interface State {
  turns: Turn[];
  draft: string;
}

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): unknown;
  setState(state: State): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();

// Answers quote repository text and model output, neither of which may inject markup: raw HTML
// stays text. Images are off too; they would fetch URLs (the CSP blocks them anyway).
const markdown = new MarkdownIt({ html: false, linkify: true }).disable('image');

const transcript = element('transcript');
const empty = element('empty');
const composer = element('composer') as HTMLFormElement;
const input = element('input') as HTMLTextAreaElement;
const sendButton = element('send') as HTMLButtonElement;
const newChatButton = element('new-chat') as HTMLButtonElement;

const state = restore(vscode.getState());
const views = new Map<string, TurnView>();
const dirty = new Set<string>();
let frame: number | undefined;

interface TurnView {
  root: HTMLElement;
  answer: HTMLElement;
  footer: HTMLElement;
  /** The answer text last rendered, to skip re-rendering unchanged Markdown. */
  rendered?: string;
  renderedStatus?: Turn['status'];
}

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`chat view: #${id} missing`);
  return found;
}

function restore(saved: unknown): State {
  const candidate = saved as Partial<State> | undefined;
  const turns = Array.isArray(candidate?.turns) ? (candidate.turns as Turn[]) : [];
  // A turn still streaming when the page went away may never hear back: show it as stopped
  // (a late `done` still fills it in).
  for (const turn of turns) if (turn.status === 'streaming') turn.status = 'stopped';
  return { turns, draft: typeof candidate?.draft === 'string' ? candidate.draft : '' };
}

function post(message: WebviewMessage): void {
  vscode.postMessage(message);
}

function save(): void {
  vscode.setState(state);
}

function busy(): boolean {
  return state.turns.some((turn) => turn.status === 'streaming');
}

function find(id: string): Turn | undefined {
  return state.turns.find((turn) => turn.id === id);
}

// -- rendering ---------------------------------------------------------------------------------

/** Re-render a turn on the next animation frame; deltas arriving faster are coalesced. */
function schedule(id: string): void {
  dirty.add(id);
  frame ??= requestAnimationFrame(flush);
}

function flush(): void {
  frame = undefined;
  const follow = atBottom();
  for (const id of dirty) {
    const turn = find(id);
    if (turn) renderTurn(turn);
  }
  dirty.clear();
  updateChrome();
  if (follow) transcript.scrollTop = transcript.scrollHeight;
  save();
}

function atBottom(): boolean {
  return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
}

function renderTurn(turn: Turn): void {
  let view = views.get(turn.id);
  if (!view) {
    view = createTurnView(turn);
    views.set(turn.id, view);
    transcript.append(view.root);
  }
  if (view.rendered !== turn.answer) {
    view.answer.innerHTML = markdown.render(turn.answer);
    view.rendered = turn.answer;
  }
  view.answer.classList.toggle('pending', turn.status === 'streaming' && turn.answer === '');
  if (view.renderedStatus !== turn.status) {
    view.footer.replaceChildren(...footer(turn));
    view.renderedStatus = turn.status;
  }
}

function createTurnView(turn: Turn): TurnView {
  const question = create('div', 'message user');
  question.append(create('div', 'role', 'You'), create('div', 'text', turn.question));
  const reply = create('div', 'message assistant');
  const answer = create('div', 'markdown');
  const footer = create('div', 'footer');
  reply.append(create('div', 'role', 'lsp-ai'), answer, footer);
  const root = create('section', 'turn');
  root.append(question, reply);
  return { root, answer, footer };
}

function footer(turn: Turn): HTMLElement[] {
  switch (turn.status) {
    case 'streaming':
      return [];
    case 'stopped':
      return [create('div', 'note', 'stopped')];
    case 'error':
      return [create('div', 'error', turn.error ?? 'The request failed.')];
    case 'done':
      return turn.sources.length ? [sourceList(turn.sources)] : [];
  }
}

function sourceList(sources: Source[]): HTMLElement {
  const box = create('div', 'sources');
  box.append(create('div', 'sources-title', 'Sources'));
  const list = create('ul', '');
  for (const source of sources) {
    const button = create('button', 'source', sourceLabel(source));
    button.title = source.uri;
    button.addEventListener('click', () => post({ type: 'openSource', source }));
    const item = create('li', '');
    item.append(button);
    list.append(item);
  }
  box.append(list);
  return box;
}

/** `path:start-end (symbol)` with the 1-based lines editors show. */
function sourceLabel(source: Source): string {
  const lines = `${source.startLine + 1}-${source.endLine + 1}`;
  return `${source.path}:${lines}${source.symbol ? ` (${source.symbol})` : ''}`;
}

function create<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Everything outside the transcript: the empty-state hint and the Send/Stop button. */
function updateChrome(): void {
  empty.hidden = state.turns.length > 0;
  const running = busy();
  sendButton.textContent = running ? 'Stop' : 'Send';
}

function renderAll(): void {
  views.clear();
  transcript.replaceChildren(empty);
  for (const turn of state.turns) renderTurn(turn);
  updateChrome();
  transcript.scrollTop = transcript.scrollHeight;
}

// -- messages from the extension -----------------------------------------------------------------

function handle(message: ExtensionMessage): void {
  switch (message.type) {
    case 'start':
      state.turns.push({
        id: message.id,
        question: message.question,
        answer: '',
        sources: [],
        status: 'streaming',
      });
      schedule(message.id);
      break;
    case 'delta': {
      const turn = find(message.id);
      if (turn?.status !== 'streaming') return;
      turn.answer += message.text;
      schedule(turn.id);
      break;
    }
    case 'done':
      finish(message.id, (turn) => {
        turn.answer = message.content;
        turn.sources = message.sources;
        turn.status = 'done';
      });
      break;
    case 'error':
      finish(message.id, (turn) => {
        turn.status = 'error';
        turn.error = message.message;
      });
      break;
    case 'stopped':
      finish(message.id, (turn) => {
        turn.status = 'stopped';
      });
      break;
    case 'cleared':
      state.turns = [];
      dirty.clear();
      renderAll();
      save();
      break;
    case 'prefill':
      input.value = message.text;
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
      inputChanged();
      break;
  }
}

function finish(id: string, update: (turn: Turn) => void): void {
  const turn = find(id);
  if (!turn) return; // a turn from a chat that was cleared meanwhile
  update(turn);
  schedule(id);
}

// -- input ---------------------------------------------------------------------------------------

function submit(): void {
  if (busy()) {
    post({ type: 'stop' });
    return;
  }
  const text = input.value.trim();
  if (!text) return;
  post({ type: 'send', text });
  input.value = '';
  inputChanged();
}

function inputChanged(): void {
  // Grow with the text up to the CSS max-height, then scroll.
  input.style.height = 'auto';
  input.style.height = `${input.scrollHeight}px`;
  state.draft = input.value;
  save();
}

composer.addEventListener('submit', (event) => {
  event.preventDefault();
  submit();
});
input.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    if (!busy()) submit();
  }
});
input.addEventListener('input', inputChanged);
newChatButton.addEventListener('click', () => post({ type: 'newSession' }));
window.addEventListener('message', (event: MessageEvent<ExtensionMessage>) => handle(event.data));

input.value = state.draft;
inputChanged();
renderAll();
post({ type: 'ready' });
