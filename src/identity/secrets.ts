// Secrets (client secrets, static upstream keys) come from an environment
// variable or a file, never from the config file itself. A Secret prints as
// "[redacted]" whichever way it is logged, serialised or inspected.
import { readFileSync, statSync } from 'node:fs';
import { inspect } from 'node:util';
import { SecretUnavailableError } from './errors.js';

export type SecretSource = { env: string } | { file: string };

const MAX_SECRET_BYTES = 64 * 1024;
const REDACTED = '[redacted]';

export class Secret {
  readonly #value: string;
  /** Where it came from (`env:NAME` or `file:/path`): safe to log. */
  readonly origin: string;

  constructor(value: string, origin: string) {
    this.#value = value;
    this.origin = origin;
  }

  /** The secret itself: call only at the point where it is sent. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${this.origin})`;
  }
}

/** Read a secret now; fails with a message that names the source, never the value. */
export function loadSecret(source: SecretSource, env: NodeJS.ProcessEnv = process.env): Secret {
  if ('env' in source) {
    const value = env[source.env];
    if (value === undefined || value === '') {
      throw new SecretUnavailableError(`environment variable ${source.env} is not set or empty`);
    }
    return new Secret(value, `env:${source.env}`);
  }
  let size: number;
  try {
    size = statSync(source.file).size;
  } catch (cause) {
    throw new SecretUnavailableError(`secret file ${source.file} cannot be read`, { cause });
  }
  if (size > MAX_SECRET_BYTES) {
    throw new SecretUnavailableError(`secret file ${source.file} is larger than ${MAX_SECRET_BYTES} bytes`);
  }
  const value = readFileSync(source.file, 'utf8').replace(/\r?\n$/, '');
  if (value === '') throw new SecretUnavailableError(`secret file ${source.file} is empty`);
  return new Secret(value, `file:${source.file}`);
}
