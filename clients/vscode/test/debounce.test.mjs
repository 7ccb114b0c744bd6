import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CancellationSource, Debouncer } from '../dist/test-modules/debounce.mjs';

const DELAY = 40;

test('work runs once the delay has passed', async () => {
  const debouncer = new Debouncer();
  const started = Date.now();
  const result = await debouncer.run(DELAY, new CancellationSource(), async () => 'ghost');
  assert.equal(result, 'ghost');
  assert.ok(Date.now() - started >= DELAY - 5);
});

test('a burst of calls runs only the last one', async () => {
  const debouncer = new Debouncer();
  const ran = [];
  const calls = [1, 2, 3].map((n) =>
    debouncer.run(DELAY, new CancellationSource(), async () => {
      ran.push(n);
      return n;
    }),
  );
  assert.deepEqual(await Promise.all(calls), [undefined, undefined, 3]);
  assert.deepEqual(ran, [3]);
});

test('a newer call cancels the token of a request already in flight', async () => {
  const debouncer = new Debouncer();
  let firstToken;
  let cancelledEvents = 0;
  const first = debouncer.run(0, new CancellationSource(), async (token) => {
    firstToken = token;
    token.onCancellationRequested(() => cancelledEvents++);
    await sleep(DELAY); // the server is generating
    return 'stale';
  });
  await sleep(5);
  assert.equal(firstToken.isCancellationRequested, false);
  const second = debouncer.run(0, new CancellationSource(), async () => 'fresh');
  assert.equal(firstToken.isCancellationRequested, true);
  assert.equal(cancelledEvents, 1);
  assert.equal(await first, undefined);
  assert.equal(await second, 'fresh');
});

test("cancelling the caller's token during the delay skips the work", async () => {
  const debouncer = new Debouncer();
  const outer = new CancellationSource();
  let ran = false;
  const pending = debouncer.run(DELAY, outer, async () => {
    ran = true;
  });
  await sleep(5);
  outer.cancel();
  const started = Date.now();
  assert.equal(await pending, undefined);
  assert.ok(Date.now() - started < DELAY, 'resolved as soon as it was cancelled');
  assert.equal(ran, false);
});

test("cancelling the caller's token reaches the work's token", async () => {
  const debouncer = new Debouncer();
  const outer = new CancellationSource();
  let inner;
  const pending = debouncer.run(0, outer, async (token) => {
    inner = token;
    await sleep(DELAY);
    return 'late';
  });
  await sleep(5);
  outer.cancel();
  assert.equal(inner.isCancellationRequested, true);
  assert.equal(await pending, undefined);
});

test('an already cancelled caller token never runs the work', async () => {
  const outer = new CancellationSource();
  outer.cancel();
  let ran = false;
  assert.equal(await new Debouncer().run(0, outer, () => (ran = true)), undefined);
  assert.equal(ran, false);
});

test('errors of live work propagate; errors after cancellation are swallowed', async () => {
  const debouncer = new Debouncer();
  await assert.rejects(
    debouncer.run(0, new CancellationSource(), async () => {
      throw new Error('server down');
    }),
    /server down/,
  );
  const outer = new CancellationSource();
  const pending = debouncer.run(0, outer, async () => {
    await sleep(DELAY);
    throw new Error('request cancelled');
  });
  await sleep(5);
  outer.cancel();
  assert.equal(await pending, undefined);
});

test('listeners added after cancellation are called at once, and only once', () => {
  const source = new CancellationSource();
  let calls = 0;
  source.onCancellationRequested(() => calls++);
  source.cancel();
  source.cancel();
  source.onCancellationRequested(() => calls++);
  assert.equal(calls, 2);
});
