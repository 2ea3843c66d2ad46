// A real `airlock serve` process for the security suite: the configuration is written to a temporary
// YAML file, the CLI runs in a child process as users run it (bin/airlock.js, on dist/, which tap's
// `before` step compiles from src/: test/helpers/build-dist.mjs), and the helper resolves once the
// service logs that it is listening. The parsed log lines are kept so that tests
// can assert on what Airlock logged (and on what it must never log).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as stringifyYaml } from 'yaml';
import { uncoveredChildEnv } from '../helpers/tsx-child.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));
const SOURCES = fileURLToPath(new URL('../../src/', import.meta.url));
const COMPILED = fileURLToPath(new URL('../../dist/', import.meta.url));

/** The first `.ts` file under `sources` whose compiled `.js` under `compiled` is missing or older. */
export function staleOutput(sources: string, compiled: string): string | undefined {
  for (const entry of readdirSync(sources, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const source = join(entry.parentPath, entry.name);
    const output = join(compiled, relative(sources, source)).replace(/\.ts$/, '.js');
    let built = 0;
    try {
      built = statSync(output).mtimeMs;
    } catch {
      // not built
    }
    if (built < statSync(source).mtimeMs) return output;
  }
  return undefined;
}

let checked = false;
/** Refuses a dist/ older than src/: the child would run other code than the test reads. */
function assertCompiledCurrent(): void {
  if (checked) return;
  const stale = staleOutput(SOURCES, COMPILED);
  if (stale)
    throw new Error(
      `${relative(ROOT, stale)} is missing or older than its source: run the tests through tap (its \`before\` step compiles src/) or \`npm run build\``,
    );
  checked = true;
}

export interface AirlockProcess {
  /** The `address` field of the listening line (e.g. `http://127.0.0.1:40123`). */
  url: string;
  /** The whole listening line, for fields such as a second listener's address. */
  listening: Record<string, unknown>;
  proc: ChildProcess;
  /** Every JSON log line so far. */
  logs(): Record<string, unknown>[];
  /** Raw stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartOptions {
  /** The serve configuration (written as YAML). */
  config: Record<string, unknown>;
  /** Extra CLI arguments after `serve -c file`. */
  args?: string[];
  env?: Record<string, string>;
  /** How long to wait for the listening line (default 60 s). */
  timeoutMs?: number;
}

/** Writes `config` to a temporary file and returns its path. */
export function writeConfig(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-security-'));
  const file = join(dir, 'airlock.yaml');
  writeFileSync(file, stringifyYaml(config));
  return file;
}

/** Runs the airlock CLI with `args` to completion: exit code and output. */
export function runAirlock(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    proc.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    proc.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(
        new Error(`airlock ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${stdout}${stderr}`),
      );
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  assertCompiledCurrent();
  return spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: uncoveredChildEnv({ AIRLOCK_LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Starts `airlock serve -c <config>` and resolves once it is listening. */
export function startAirlockProcess(options: StartOptions): Promise<AirlockProcess> {
  const file = writeConfig(options.config);
  const proc = spawnCli(['serve', '-c', file, ...(options.args ?? [])], options.env ?? {});
  const lines: Record<string, unknown>[] = [];
  let raw = '';
  let pending = '';
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      exited = code;
      resolve(code);
    }),
  );
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      proc.kill('SIGKILL');
      reject(new Error(`airlock serve did not listen within ${options.timeoutMs ?? 60_000} ms:\n${raw}`));
    }, options.timeoutMs ?? 60_000);
    const onData = (chunk: Buffer) => {
      raw += chunk.toString();
      pending += chunk.toString();
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
        let parsed: Record<string, unknown> | undefined;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        lines.push(parsed);
        if (!done && typeof parsed.msg === 'string' && / listening$/.test(parsed.msg)) {
          done = true;
          clearTimeout(timer);
          resolve({
            url: String(parsed.address),
            listening: parsed,
            proc,
            logs: () => lines,
            output: () => raw,
            async stop(graceMs = 10_000) {
              if (exited !== undefined) return exited;
              proc.kill('SIGTERM');
              const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
              const code = await exit;
              clearTimeout(t);
              return code;
            },
          });
        }
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    void exit.then((code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`airlock serve exited with ${code} before listening:\n${raw}`));
    });
  });
}
