// PGlite: events acknowledged by `record` survive the writing process being killed (SIGKILL).
// (On Postgres the server's own durability applies; postgres.test.ts covers outages.)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { AuditStore, DataDirInUseError } from '../../src/audit/index.js';
import { TSX_ARGS, uncoveredChildEnv } from '../helpers/tsx-child.js';

t.test('a killed writer loses nothing it acknowledged, and its stale lock is taken over', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-audit-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(
    process.execPath,
    [...TSX_ARGS, fileURLToPath(new URL('./crash-child.ts', import.meta.url)), dir],
    { stdio: ['ignore', 'pipe', 'inherit'], env: uncoveredChildEnv() },
  );
  const acked = new Map<number, string>();
  let second: Promise<unknown> | undefined;
  let buffer = '';
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited ${code}`)),
    );
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const [seq, hash] = line.split(' ');
        if (seq && hash) acked.set(Number(seq), hash);
      }
      // While the child runs, a second process must not open the same directory.
      second ??=
        acked.size > 0
          ? AuditStore.open({ dataDir: dir }).then(
              async (s) => s.close(),
              (e: unknown) => e,
            )
          : undefined;
      if (acked.size >= 60 && !child.killed) child.kill('SIGKILL');
    });
  });
  t.ok(acked.size >= 60, `${acked.size} events acknowledged before the kill`);
  const refusal = await second;
  t.type(refusal, DataDirInUseError, 'a second process is kept out of a live data directory');
  t.match((refusal as Error).message, new RegExp(`in use by process ${child.pid}`));
  const store = await AuditStore.open({ dataDir: dir });
  t.teardown(() => store.close());
  const report = await store.verify();
  t.ok(report.ok, 'the chain verifies after the crash');
  const missing = [...acked].filter(([seq]) => seq > (report.head?.seq ?? 0));
  t.same(missing, [], 'every acknowledged event is there');
  const rows = await store.query({ limit: 1000 });
  const byseq = new Map(rows.events.map((e) => [e.seq, e.hash]));
  t.ok(
    [...acked].every(([seq, hash]) => byseq.get(seq) === hash),
    'with the acknowledged hashes',
  );
  const next = await store.record({ kind: 'bundle_activated', details: { revision: 'after-crash' } });
  t.equal(next.seq, (report.head?.seq ?? 0) + 1, 'the chain continues after the crash');
});
