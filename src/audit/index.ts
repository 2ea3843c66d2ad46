// The audit trail: append-only, hash-chained events in Postgres or embedded PGlite.
export {
  chainHash,
  DEFAULT_LIMITS,
  ENCODING_VERSION,
  type EventLimits,
  encodeEvent,
  GENESIS_HASH,
  InvalidEventError,
  unstorableCodeUnit,
} from './canonical.js';
export {
  type Checkpoint,
  CheckpointError,
  type CheckpointSink,
  fileSink,
  generateSigningKey,
  httpSink,
  keyId,
  parseCheckpoints,
  privateKeyFromPem,
  publicKeyFromPem,
  signCheckpoint,
  sinkFromSpec,
  streamSink,
  verifyCheckpoint,
} from './checkpoint.js';
export {
  type CheckpointConfig,
  CheckpointConfigError,
  DEFAULT_CHECKPOINT_INTERVAL_SECONDS,
  type PreparedCheckpoints,
  prepareCheckpoints,
} from './checkpoint-config.js';
export { Checkpointer, type CheckpointerOptions } from './checkpointer.js';
export {
  type AuditDatabase,
  boundedDialect,
  type DatabaseConfig,
  DatabaseTimeoutError,
  DataDirInUseError,
  DEFAULT_DATA_DIR,
  DEFAULT_DATABASE_TIMEOUT_MS,
  databaseConfigFrom,
  openDatabase,
  redactUrl,
} from './database.js';
export {
  csvHeader,
  csvRow,
  eventToJson,
  FORMATS,
  formatTable,
  ndjsonRow,
  type OutputFormat,
} from './format.js';
export { gatewayRoleSql, migrateToLatest, migrationSql, pendingMigrations } from './migrations/index.js';
export {
  type AuditPage,
  type AuditQuery,
  auditQueryFromParams,
  chainHead,
  checkedDate,
  InvalidQueryError,
  MAX_PAGE,
  queryEvents,
} from './query.js';
export type { AuditSchema } from './schema.js';
export { type AuditProbe, AuditStore, type AuditStoreOptions } from './store.js';
export * from './types.js';
export {
  type BreakKind,
  type ChainBreak,
  type VerifyOptions,
  type VerifyReport,
  verifyChain,
} from './verify.js';
export { AuditWriteError, AuditWriter, type WriterOptions, type WriterStats } from './writer.js';
