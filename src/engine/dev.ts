// Dev mode: compile Rego sources into a bundle in memory (what `airlock build` writes), so that
// `airlock serve` runs from `policies/` with no build step. Built bundles are never signed.
import { formatError } from '../rego/ast.js';
import { BundleError, writeBundle } from '../rego/bundle.js';
import { compile, type Source } from '../rego/compile.js';
import type { PolicyBundle } from './bundle.js';

export interface SourceTree {
  sources: Source[];
  data: Record<string, unknown>;
  /** Where each source file goes inside the bundle (defaults to its file name). */
  bundlePaths?: Map<string, string>;
}

export interface BuiltBundle {
  bundle: PolicyBundle;
  /** The same bundle as an OPA tarball (what `airlock build` would write). */
  tarball: Buffer;
}

/**
 * The sources named by their path inside the bundle (`lib/pii.rego`, not the host path they were read
 * from), so that the locations compiled into the Wasm — which evaluation errors quote — carry no host
 * paths; `onDisk` maps a bundle path back for compile errors shown to the developer. Two sources with
 * the same bundle path keep their names as found.
 */
export function bundleNamedSources(tree: SourceTree): { sources: Source[]; onDisk(file: string): string } {
  const named = tree.sources.map((s) => tree.bundlePaths?.get(s.file) ?? s.file);
  const unique = new Set(named).size === named.length;
  const back = new Map<string, string>();
  const sources = tree.sources.map((s, i) => {
    const file = unique ? named[i]! : s.file;
    back.set(file, s.file);
    return { ...s, file };
  });
  return { sources, onDisk: (file) => back.get(file) ?? file };
}

/** Compiles `tree`; throws BundleError listing the compile errors. */
export function buildBundle(
  tree: SourceTree,
  options: { entrypoints?: string[]; revision?: string; optimize?: boolean } = {},
): BuiltBundle {
  if (tree.sources.length === 0) throw new BundleError('no .rego files to build');
  const named = bundleNamedSources(tree);
  const result = compile({
    sources: named.sources,
    entrypoints: options.entrypoints ?? [],
    optimize: options.optimize ?? true,
  });
  if (!result.wasm || result.errors.length > 0)
    throw new BundleError(
      `policies do not compile:\n${result.errors
        .map((e) => formatError({ ...e, location: { ...e.location, file: named.onDisk(e.location.file) } }))
        .join('\n')}`,
    );
  if (result.entrypoints.length === 0)
    throw new BundleError(
      'no entrypoint: name one (e.g. airlock/decision) or annotate a rule with `entrypoint: true`',
    );
  const roots = new Set<string>();
  for (const m of result.modules) {
    const first = m.package.path.terms[1];
    if (first?.type === 'string') roots.add(first.value);
  }
  for (const k of Object.keys(tree.data)) roots.add(k);
  const manifest = {
    revision: options.revision ?? '',
    roots: [...roots].sort(),
    wasm: result.entrypoints.map((entrypoint) => ({ entrypoint, module: '/policy.wasm' })),
    rego_version: 1,
  };
  const tarball = writeBundle({
    manifest,
    wasm: result.wasm,
    data: tree.data,
    sources: new Map(tree.sources.map((s) => [tree.bundlePaths?.get(s.file) ?? s.file, s.text])),
  });
  return {
    bundle: { manifest, wasm: result.wasm, entrypoints: result.entrypoints, data: tree.data, signed: false },
    tarball,
  };
}
