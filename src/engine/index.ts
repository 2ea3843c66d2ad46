// The policy engine: bundles in (file, directory, HTTP with ETag polling; signed or not), decisions out.
export { bundleFromFiles, overlapsRoots, type PolicyBundle, underRoots } from './bundle.js';
export { type DataPath, getAt, parseDataPath } from './data-tree.js';
export { type BuiltBundle, buildBundle, bundleNamedSources, type SourceTree } from './dev.js';
export {
  type BundleInfo,
  Engine,
  type EngineLogger,
  type EngineOptions,
  type EngineStatus,
  EvaluationError,
  type LoadFailure,
  type QueryResult,
} from './engine.js';
export {
  type BundleFiles,
  type FileLimits,
  filesFromDirectory,
  filesFromTarball,
  tarballFromFiles,
} from './files.js';
export { jsonDepth } from './json-depth.js';
export { PatchError, type PatchOperation, parsePatch } from './json-patch.js';
export { type DataChange, DataWriteError, LiveData, type LiveDataOptions } from './live-data.js';
export { migrateEngine } from './migrations.js';
export type { Evaluation, MemoryLimits } from './policy.js';
export {
  fileDigest,
  SIGNATURES_FILE,
  type SigningConfig,
  signBundle,
  signBundleFiles,
  type VerificationConfig,
  verifyBundleFiles,
} from './signature.js';
export { type BundleSource, bundleSource, type SourceOptions } from './source.js';
