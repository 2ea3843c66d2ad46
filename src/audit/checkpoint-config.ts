// The `audit.checkpoints` section of `airlock serve`'s configuration, turned into what the Checkpointer
// needs: the signing key (a secret reference), the sink (a file appended as NDJSON, or an http(s) URL
// POSTed to), the interval, and, for a file sink, where to resume (the newest checkpoint in it that
// this key signed). Everything that can be checked before serving is checked here, so a bad key or an
// unwritable sink stops start-up with the setting named.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
import { loadSecret, type SecretSource } from '../identity/secrets.js';
import {
  type Checkpoint,
  type CheckpointSink,
  fileSink,
  httpSink,
  parseCheckpoints,
  privateKeyFromPem,
  verifyCheckpoint,
} from './checkpoint.js';

export interface CheckpointConfig {
  /** Seconds between checkpoints (default 60). */
  interval_seconds?: number;
  /** Ed25519 private key in PEM (as `airlock audit keygen` writes it), from a file or a variable. */
  signing_key: SecretSource;
  /** A file path (or `file:PATH`), appended one line per checkpoint; or an http(s) URL. */
  sink: string;
}

export const DEFAULT_CHECKPOINT_INTERVAL_SECONDS = 60;
/** How long an HTTP sink may take to accept a checkpoint. */
export const HTTP_SINK_TIMEOUT_MS = 5000;
/** How much of the end of a file sink is read to find where to resume. */
const RESUME_TAIL_BYTES = 64 * 1024;

/** A checkpoint setting that cannot be used; `setting` is its path in the configuration. */
export class CheckpointConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'CheckpointConfigError';
  }
}

export interface PreparedCheckpoints {
  privateKey: KeyObject;
  sink: CheckpointSink;
  intervalMs: number;
  /** The newest checkpoint this key signed in the file sink, if any. */
  resumeFrom?: Checkpoint;
  /** Lines at the end of the file sink that were not valid checkpoints of this key (ignored). */
  ignoredLines: number;
}

const SETTING = 'audit.checkpoints';

/** Loads the key, checks the sink and finds where to resume. Throws CheckpointConfigError. */
export async function prepareCheckpoints(
  config: CheckpointConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<PreparedCheckpoints> {
  let privateKey: KeyObject;
  try {
    privateKey = privateKeyFromPem(loadSecret(config.signing_key, env).reveal());
  } catch (err) {
    throw new CheckpointConfigError(`${SETTING}.signing_key`, (err as Error).message);
  }
  const interval = config.interval_seconds ?? DEFAULT_CHECKPOINT_INTERVAL_SECONDS;
  if (!Number.isInteger(interval) || interval < 1)
    throw new CheckpointConfigError(
      `${SETTING}.interval_seconds`,
      `must be a whole number of seconds, at least 1, got ${interval}`,
    );
  const spec = config.sink;
  if (/^https?:\/\//i.test(spec)) {
    let sink: CheckpointSink;
    try {
      const u = new URL(spec);
      if (u.username || u.password) throw new Error('credentials do not belong in the URL');
      sink = httpSink(spec, { timeoutMs: HTTP_SINK_TIMEOUT_MS });
    } catch (err) {
      throw new CheckpointConfigError(`${SETTING}.sink`, `not a usable URL: ${(err as Error).message}`);
    }
    return { privateKey, sink, intervalMs: interval * 1000, ignoredLines: 0 };
  }
  const path = spec.startsWith('file:') ? spec.slice(5) : spec;
  if (path === '' || path === 'stdout' || path === '-')
    throw new CheckpointConfigError(`${SETTING}.sink`, 'must be a file path or an http(s) URL');
  const { resumeFrom, ignoredLines } = await scanFileSink(path, privateKey);
  return {
    privateKey,
    sink: fileSink(path),
    intervalMs: interval * 1000,
    ...(resumeFrom ? { resumeFrom } : {}),
    ignoredLines,
  };
}

/** Opens the file for appending (creating it), and reads its end for the newest checkpoint of this key. */
async function scanFileSink(
  path: string,
  privateKey: KeyObject,
): Promise<{ resumeFrom?: Checkpoint; ignoredLines: number }> {
  let text: string;
  let fromStart: boolean;
  try {
    const fh = await open(path, 'a+', 0o644);
    try {
      const { size } = await fh.stat();
      const length = Math.min(size, RESUME_TAIL_BYTES);
      const buffer = Buffer.alloc(length);
      await fh.read(buffer, 0, length, size - length);
      text = buffer.toString('utf8');
      fromStart = length === size;
    } finally {
      await fh.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new CheckpointConfigError(`${SETTING}.sink`, `cannot append to ${path} (${code})`);
  }
  const lines = text.split('\n');
  if (!fromStart) lines.shift(); // the first line may be cut
  const publicKey = createPublicKey(privateKey);
  let resumeFrom: Checkpoint | undefined;
  let ignoredLines = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    let cp: Checkpoint | undefined;
    try {
      cp = parseCheckpoints(line)[0];
    } catch {
      cp = undefined;
    }
    if (!cp || !verifyCheckpoint(cp, publicKey)) {
      ignoredLines++;
      continue;
    }
    if (!resumeFrom || cp.seq >= resumeFrom.seq) resumeFrom = cp;
  }
  return { ...(resumeFrom ? { resumeFrom } : {}), ignoredLines };
}
