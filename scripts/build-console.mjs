// Builds the console's browser files (console/ → dist/console-ui/): one ES module bundled by
// esbuild with preact, the stylesheet and the page. Run by `npm run build:console` and by `prepare`,
// so `npm install` in a checkout (dev dependencies present) produces what `airlock serve` serves;
// the console tests build into a fresh directory of their own.
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Writes index.html, console.js and console.css into `outDir` (default dist/console-ui). */
export async function buildConsole(outDir = join(root, 'dist', 'console-ui')) {
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [join(root, 'console', 'app.tsx')],
    outfile: join(outDir, 'console.js'),
    bundle: true,
    format: 'esm',
    target: ['es2022'],
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'warning',
  });
  await copyFile(join(root, 'console', 'console.css'), join(outDir, 'console.css'));
  await copyFile(join(root, 'console', 'index.html'), join(outDir, 'index.html'));
  return outDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildConsole(process.argv[2]);
  process.stdout.write(`console built into ${out}\n`);
}
