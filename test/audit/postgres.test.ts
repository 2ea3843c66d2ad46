// The audit suite against a real Postgres server ($DATABASE_URL), in a database created for this file.
// Skipped, with the reason printed, when no server is reachable.
import t from 'tap';
import { postgresBackend } from './backends.js';
import { auditSuite } from './suite.js';

const backend = await postgresBackend();
if (typeof backend === 'string') {
  t.comment(`NOTICE: Postgres audit suite skipped: ${backend}`);
  t.test(`Postgres audit suite (${backend})`, { skip: backend }, () => {});
} else {
  auditSuite(t, backend);
}
