// An input over the engine's input limits is the caller's fault: 413 on every decision surface,
// with a message naming the limit (OPA shape on the Data API, problem+json elsewhere).
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { buildApi } from '../../src/api/index.js';
import { Engine, filesFromTarball } from '../../src/engine/index.js';
import { fixtureBundle } from '../engine/fixture.js';

const MESSAGE = 'input is larger than 2048 bytes as JSON (engine.input_limits.max_bytes)';
const engine = new Engine({ workers: 1, inputLimits: { maxBytes: 2048 } });
t.teardown(() => engine.close());
await engine.loadFiles(await filesFromTarball(await fixtureBundle('limits')), 'test');
const { app } = await buildApi({ access: { mode: 'unauthenticated', via: 'test' }, engine });
t.teardown(() => app.close());
const input = JSON.parse(
  await readFile(new URL('../fixtures/decision-input.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;
const big = { ...input, arguments: { body: 'x'.repeat(4000) } };

t.test('Data API: 413 invalid_parameter', async (t) => {
  const r = await app.inject({ method: 'POST', url: '/v1/data/airlock/decision', payload: { input: big } });
  t.equal(r.statusCode, 413);
  t.same(r.json(), { code: 'invalid_parameter', message: MESSAGE });
  const ok = await app.inject({ method: 'POST', url: '/v1/data/airlock/decision', payload: { input } });
  t.equal(ok.statusCode, 200, 'within the limits: decided');
});

t.test('/v1/decisions: 413 problem+json', async (t) => {
  const r = await app.inject({ method: 'POST', url: '/v1/decisions', payload: big });
  t.equal(r.statusCode, 413);
  t.match(r.headers['content-type'], /application\/problem\+json/);
  t.match(r.json(), { status: 413, title: 'Input too large', detail: MESSAGE });
});

t.test('AuthZEN: 413 problem+json', async (t) => {
  const r = await app.inject({
    method: 'POST',
    url: '/access/v1/evaluation',
    payload: {
      subject: { type: 'user', id: 'alice' },
      action: { name: 'tools/call' },
      resource: { type: 'tool', id: 'get_file', properties: { arguments: { body: 'x'.repeat(4000) } } },
    },
  });
  t.equal(r.statusCode, 413);
  t.match(r.headers['content-type'], /application\/problem\+json/);
  t.match(r.json(), { status: 413, title: 'Input too large', detail: MESSAGE });
});
