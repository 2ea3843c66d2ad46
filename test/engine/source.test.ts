// Bundle sources: an HTTP bundle server (real local server, ETag / If-None-Match) and files.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { bundleSource, Engine } from '../../src/engine/index.js';
import { fixtureBundle } from './fixture.js';

/** A bundle server: serves `current`, answers 304 to a matching If-None-Match, records requests. */
async function bundleServer() {
  const state = {
    body: Buffer.alloc(0) as Buffer,
    etag: '"0"',
    status: 200,
    requests: [] as IncomingMessage['headers'][],
  };
  const server = createServer((req, res) => {
    state.requests.push(req.headers);
    if (state.status !== 200) {
      res.writeHead(state.status).end();
      return;
    }
    if (req.headers['if-none-match'] === state.etag) {
      res.writeHead(304, { etag: state.etag }).end();
      return;
    }
    res.writeHead(200, { etag: state.etag, 'content-type': 'application/gzip' }).end(state.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundles/airlock.tar.gz`;
  let n = 0;
  return {
    url,
    state,
    publish(body: Buffer) {
      state.body = body;
      state.etag = `"${++n}"`;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

t.test('HTTP: loads, sends If-None-Match, swaps on a new ETag, keeps serving on failures', async (t) => {
  const srv = await bundleServer();
  t.teardown(srv.close);
  srv.publish(await fixtureBundle('h1'));
  const engine = new Engine();
  const source = bundleSource(srv.url, engine, {
    pollIntervalMs: 0,
    headers: { authorization: 'Bearer bundle-token' },
  });
  t.teardown(() => source.stop());
  const info = await source.start();
  t.equal(info?.revision, 'h1');
  t.equal(srv.state.requests[0]?.authorization, 'Bearer bundle-token');

  t.equal(await source.poll(), undefined, 'unchanged: 304');
  t.equal(srv.state.requests[1]?.['if-none-match'], '"1"');

  srv.publish(await fixtureBundle('h2'));
  t.equal((await source.poll())?.revision, 'h2');
  t.equal(engine.bundle?.revision, 'h2');

  srv.publish(Buffer.from('not a bundle'));
  await t.rejects(source.poll(), /not a gzipped tarball/);
  t.equal(engine.bundle?.revision, 'h2', 'broken bundle: the old one keeps serving');
  t.match(engine.status().lastFailure, { origin: srv.url, message: /not a gzipped tarball/ });
  t.equal(await source.poll(), undefined, 'the broken ETag is not downloaded again');

  srv.state.status = 500;
  await t.rejects(source.poll(), /answered 500/);
  t.equal(engine.bundle?.revision, 'h2');
  t.equal(engine.status().loadFailures, 2);
});

t.test('HTTP polling picks up new revisions by itself and backs off on errors', async (t) => {
  const srv = await bundleServer();
  t.teardown(srv.close);
  srv.publish(await fixtureBundle('p1'));
  const engine = new Engine();
  const source = bundleSource(srv.url, engine, { pollIntervalMs: 20, maxBackoffMs: 200 });
  t.teardown(() => source.stop());
  await source.start();
  srv.publish(await fixtureBundle('p2'));
  await new Promise<void>((resolve) => engine.once('activated', () => resolve()));
  t.equal(engine.bundle?.revision, 'p2');
  srv.state.status = 503;
  const before = srv.state.requests.length;
  await new Promise((r) => setTimeout(r, 500));
  const during = srv.state.requests.length - before;
  // Without backoff 500 ms / 20 ms = 25 polls; with it: 40, 80, 160, 200, … ms.
  t.ok(during <= 8, `backed off: ${during} polls in 500 ms`);
  t.ok(during >= 2, 'still polling');
  t.equal(engine.bundle?.revision, 'p2');
});

t.test('file source: loads, reloads when the file changes, reports a missing file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-source-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'airlock.tar.gz');
  writeFileSync(file, await fixtureBundle('f1'));
  const engine = new Engine();
  const source = bundleSource(file, engine, { pollIntervalMs: 0 });
  t.equal((await source.start())?.revision, 'f1');
  t.equal(await source.poll(), undefined, 'unchanged');
  writeFileSync(file, await fixtureBundle('f2-longer'));
  t.equal((await source.poll())?.revision, 'f2-longer');
  const missing = bundleSource(join(dir, 'nope.tar.gz'), new Engine(), { pollIntervalMs: 0 });
  await t.rejects(missing.start(), /ENOENT/);
});
