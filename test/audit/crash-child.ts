// Child process for durability.test.ts: records events forever, printing each committed seq.
import { AuditStore } from '../../src/audit/index.js';
import { sampleEvent } from './suite.js';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: crash-child.ts DATA_DIR');
const store = await AuditStore.open({ dataDir });
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  const acked = await Promise.all([store.record(sampleEvent(i * 2)), store.record(sampleEvent(i * 2 + 1))]);
  for (const a of acked) process.stdout.write(`${a.seq} ${a.hash}\n`);
}
