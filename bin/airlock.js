#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli to dist/cli by `npm run build` (run by `npm install`).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`airlock: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
