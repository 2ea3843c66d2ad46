// Hot swap under load: while clients send decisions over real HTTP, ten new bundle revisions (and one
// broken bundle) are published on a bundle server the engine polls. Every request must succeed, and
// each revision must show up in the responses within 1 s of its publication.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { bundleSource } from '../../src/engine/index.js';
import { fixtureBundle } from '../engine/fixture.js';
import { call, harness } from './harness.js';

t.test('ten revisions published under load: zero failures, each effective within 1 s', async (t) => {
  const revisions = Array.from({ length: 10 }, (_, i) => `rev-${i + 1}`);
  const tarballs = new Map<string, Buffer>();
  for (const r of ['rev-0', ...revisions]) tarballs.set(r, await fixtureBundle(r));

  let current = { etag: '"rev-0"', body: tarballs.get('rev-0')! };
  const bundleServer = createServer((req, res) => {
    if (req.headers['if-none-match'] === current.etag) return void res.writeHead(304).end();
    res.writeHead(200, { etag: current.etag }).end(current.body);
  });
  await new Promise<void>((r) => bundleServer.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => bundleServer.close(() => r())));
  const bundleUrl = `http://127.0.0.1:${(bundleServer.address() as AddressInfo).port}/bundle.tar.gz`;

  // The audit trail is left out here: on embedded PGlite each logged decision is a database insert on
  // this same thread, which on a loaded machine makes the test measure PGlite rather than the swap.
  const h = await harness('pglite', { log: undefined });
  t.teardown(h.close);
  const source = bundleSource(bundleUrl, h.engine, { pollIntervalMs: 50 });
  t.teardown(() => source.stop());
  await source.start();
  t.equal(h.engine.bundle?.revision, 'rev-0');
  const address = await h.app.listen({ host: '127.0.0.1', port: 0 });

  const seen: { at: number; revision: string }[] = [];
  const failures: string[] = [];
  let running = true;
  const body = JSON.stringify({ input: call('alice') });
  const worker = async () => {
    while (running) {
      try {
        const res = await fetch(`${address}/v1/data/airlock/decision`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        });
        const json = (await res.json()) as { result?: { effect: string; revision: string } };
        if (res.status !== 200 || json.result?.effect !== 'allow')
          failures.push(`${res.status} ${JSON.stringify(json)}`);
        else seen.push({ at: performance.now(), revision: json.result.revision });
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const workers = Array.from({ length: 4 }, worker);

  const published: { at: number; revision: string }[] = [];
  const activated = new Map<string, number>();
  h.engine.on('activated', (info) => activated.set(info.revision, performance.now()));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(200);
  for (const [i, revision] of revisions.entries()) {
    current = { etag: `"${revision}"`, body: tarballs.get(revision)! };
    published.push({ at: performance.now(), revision });
    await sleep(1000);
    if (i === 4) {
      // A broken bundle in the middle: the engine keeps serving rev-5.
      current = { etag: '"broken"', body: Buffer.from('this is not a bundle') };
      await sleep(500);
      t.equal(h.engine.bundle?.revision, 'rev-5', 'a broken bundle keeps the old one serving');
    }
  }
  await sleep(1000);
  running = false;
  await Promise.all(workers);

  t.same(failures, [], 'zero failed requests');
  t.ok(seen.length > 100, `${seen.length} decisions answered during the swaps`);
  t.ok(h.engine.status().loadFailures >= 1, 'the broken bundle was reported');
  for (const p of published) {
    const first = seen.find((s) => s.revision === p.revision && s.at >= p.at);
    t.ok(first, `${p.revision} was served`);
    if (first)
      t.ok(
        first.at - p.at <= 1000,
        `${p.revision} effective after ${(first.at - p.at).toFixed(0)} ms (activated after ${((activated.get(p.revision) ?? Number.NaN) - p.at).toFixed(0)} ms)`,
      );
  }
  // Responses never go back to an older revision once a newer one was served.
  const order = ['rev-0', ...revisions];
  let highest = 0;
  let regressions = 0;
  for (const s of seen) {
    const i = order.indexOf(s.revision);
    if (i < highest) regressions++;
    highest = Math.max(highest, i);
  }
  t.ok(regressions <= 4, `at most one in-flight answer per worker may predate a swap (${regressions})`);
});
