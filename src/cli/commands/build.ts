import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { bundleNamedSources, signBundle } from '../../engine/index.js';
import { formatError } from '../../rego/ast.js';
import { writeBundle } from '../../rego/bundle.js';
import { compile } from '../../rego/compile.js';
import { printPolicy } from '../../rego/plan/index.js';
import type { CliContext } from '../main.js';
import { loadPolicyTree } from '../policy-files.js';

interface BuildOptions {
  entrypoint: string[];
  output: string;
  revision?: string;
  dumpPlan?: boolean;
  signingKey?: string;
  signingAlg?: string;
  signingKeyId?: string;
}

export function registerBuild(cli: Command, ctx: CliContext): void {
  cli
    .command('build')
    .description(
      'Compile Rego to WebAssembly and write an OPA bundle (.manifest, policy.wasm, data.json, sources)',
    )
    .argument('[paths...]', 'Rego files, data files (data.json/data.yaml) or directories', ['policies'])
    .option(
      '-e, --entrypoint <name>',
      'entrypoint to compile, e.g. airlock/decision (repeatable; rules annotated `entrypoint: true` are added)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('-o, --output <file>', 'bundle file to write', 'bundles/airlock.tar.gz')
    .option('--revision <rev>', 'revision recorded in the manifest (default: empty)')
    .option('--dump-plan', 'print the plan (IR) instead of writing a bundle')
    .option(
      '--signing-key <file>',
      'sign the bundle (.signatures.json): PEM private key (PKCS#8), or HMAC secret file',
    )
    .option('--signing-alg <alg>', 'signature algorithm (default RS256)')
    .option('--signing-key-id <id>', 'key id recorded in the signature')
    .addHelpText(
      'after',
      '\nData files are placed at the path of their directory relative to the given directory\n' +
        '(policies/roles/data.json → data.roles). *_test.rego files are not compiled into bundles.\n' +
        'The output is deterministic: same sources, same bytes.\n' +
        '\nExample:\n  airlock build policies/ -e airlock/decision -o bundles/airlock.tar.gz --revision "$(git rev-parse HEAD)"\n',
    )
    .action(async (paths: string[], opts: BuildOptions) => {
      const tree = await loadPolicyTree(paths);
      if (tree.sources.length === 0) {
        ctx.err(`airlock build: no .rego files under ${paths.join(', ')}\n`);
        ctx.exitCode = 1;
        return;
      }
      // Compiled under their bundle paths: evaluation errors quote these locations to clients.
      const named = bundleNamedSources(tree);
      const result = compile({ sources: named.sources, entrypoints: opts.entrypoint });
      if (!result.wasm || !result.plan) {
        for (const e of result.errors)
          ctx.out(
            `${formatError({ ...e, location: { ...e.location, file: named.onDisk(e.location.file) } })}\n`,
          );
        ctx.err(`${result.errors.length} error(s)\n`);
        ctx.exitCode = 1;
        return;
      }
      if (result.entrypoints.length === 0) {
        ctx.err(
          'airlock build: no entrypoint: pass -e pkg/rule or annotate a rule with `entrypoint: true`\n',
        );
        ctx.exitCode = 1;
        return;
      }
      if (opts.dumpPlan) {
        ctx.out(printPolicy(result.plan));
        return;
      }
      const roots = new Set<string>();
      for (const m of result.modules) {
        const first = m.package.path.terms[1];
        if (first?.type === 'string') roots.add(first.value);
      }
      for (const k of Object.keys(tree.data)) roots.add(k);
      let bundle = writeBundle({
        manifest: {
          revision: opts.revision ?? '',
          roots: [...roots].sort(),
          wasm: result.entrypoints.map((entrypoint) => ({ entrypoint, module: '/policy.wasm' })),
          rego_version: 1,
        },
        wasm: result.wasm,
        data: tree.data,
        sources: new Map(tree.sources.map((s) => [tree.bundlePaths.get(s.file) ?? s.file, s.text])),
      });
      if (opts.signingKey) {
        bundle = await signBundle(bundle, {
          key: await readFile(opts.signingKey, 'utf8'),
          ...(opts.signingAlg ? { algorithm: opts.signingAlg } : {}),
          ...(opts.signingKeyId ? { keyId: opts.signingKeyId } : {}),
        });
      }
      await mkdir(dirname(opts.output), { recursive: true });
      await writeFile(opts.output, bundle);
      ctx.err(
        `wrote ${opts.output}: ${result.entrypoints.length} entrypoint(s) (${result.entrypoints.join(', ')}), ` +
          `${tree.sources.length} file(s), ${result.wasm.byteLength} bytes of Wasm\n`,
      );
    });
}
