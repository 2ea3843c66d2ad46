// Shared by the engine and API tests: the fixture policy (test/fixtures/engine/policy) compiled once,
// and bundles of it packed with any revision, data or signature; a test database per file.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { AuditStore } from '../../src/audit/index.js';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import {
  buildBundle,
  type PolicyBundle,
  type SigningConfig,
  signBundle,
  tarballFromFiles,
} from '../../src/engine/index.js';
import { writeBundle } from '../../src/rego/bundle.js';
import { freshPgliteStore } from '../helpers/pglite-dir.js';

export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/engine/policy', import.meta.url));
export const ENTRYPOINTS = [
  'airlock/decision',
  'airlock/admin',
  'airlock/echo',
  'airlock/division',
  'broken/always',
];

let compiled: Promise<{ wasm: Uint8Array; data: Record<string, unknown>; roots: string[] }> | undefined;

export function fixturePolicy() {
  compiled ??= (async () => {
    const tree = await loadPolicyTree([FIXTURE_DIR]);
    const built = buildBundle(tree, { entrypoints: ENTRYPOINTS, optimize: false });
    return { wasm: built.bundle.wasm, data: built.bundle.data, roots: built.bundle.manifest.roots };
  })();
  return compiled;
}

/** A bundle tarball of the fixture policy; `revision` also lands in data.fixture.revision. */
export async function fixtureBundle(
  revision: string,
  options: { signing?: SigningConfig; data?: Record<string, unknown>; wasm?: Uint8Array } = {},
): Promise<Buffer> {
  const p = await fixturePolicy();
  const fixture = (p.data.fixture ?? {}) as Record<string, unknown>;
  const tarball = writeBundle({
    manifest: {
      revision,
      roots: p.roots,
      wasm: ENTRYPOINTS.map((entrypoint) => ({ entrypoint, module: '/policy.wasm' })),
      rego_version: 1,
    },
    wasm: options.wasm ?? p.wasm,
    data: options.data ?? { ...p.data, fixture: { ...fixture, revision } },
    sources: new Map(),
  });
  return options.signing ? signBundle(tarball, options.signing) : tarball;
}

/** Packs files into a bundle tarball as they are (no manifest rewriting). */
export async function repack(files: Map<string, Buffer>): Promise<Buffer> {
  return tarballFromFiles(files);
}

/** The backends to run DB-backed tests on: PGlite always, Postgres when DATABASE_URL is set. */
export function backends(): ('pglite' | 'postgres')[] {
  return process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

/** A fresh, migrated store: in-memory PGlite, or a new Postgres database dropped by `close`. */
export async function openStore(
  backend: 'pglite' | 'postgres',
): Promise<{ store: AuditStore; drop(): Promise<void> }> {
  if (backend === 'pglite') {
    return freshPgliteStore();
  }
  const url = new URL(process.env.DATABASE_URL!);
  const name = `airlock_engine_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  const store = await AuditStore.open({ databaseUrl: dbUrl.toString() });
  return {
    store,
    async drop() {
      await store.close();
      const c = new pg.Client({ connectionString: url.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export const STRESS_DIR = fileURLToPath(new URL('../fixtures/engine/stress', import.meta.url));
export const STRESS_ENTRYPOINTS = [
  'stress/spin',
  'stress/pairs',
  'stress/formatted',
  'stress/revoked',
  'stress/echo',
];

let stress: Promise<PolicyBundle> | undefined;

/** The stress policy (test/fixtures/engine/stress): evaluations as costly as their input asks. */
export function stressBundle(): Promise<PolicyBundle> {
  stress ??= (async () => {
    const tree = await loadPolicyTree([STRESS_DIR]);
    return buildBundle(tree, { entrypoints: STRESS_ENTRYPOINTS, revision: 'stress', optimize: false }).bundle;
  })();
  return stress;
}
