// Where bundles come from: a tarball file, a directory in bundle layout, or an HTTP(S) URL polled with
// ETag / If-None-Match (OPA's bundle service protocol: the gateway pulls; 304 means unchanged). Files
// are polled for changes (mtime and size). Failures back off exponentially up to `maxBackoffMs` and
// never unload the active bundle.
import { readFile, stat } from 'node:fs/promises';
import { SpanKind } from '@opentelemetry/api';
import { BundleError } from '../rego/bundle.js';
import { traced, traceHeaders } from '../telemetry/index.js';
import type { BundleInfo, Engine } from './engine.js';
import { type FileLimits, filesFromDirectory, filesFromTarball } from './files.js';

export interface SourceOptions extends FileLimits {
  /** Time between polls when all is well (default 10 000 ms; 0 disables polling of files). */
  pollIntervalMs?: number;
  /** Longest wait after repeated failures (default 60 000 ms). */
  maxBackoffMs?: number;
  /** HTTP request timeout (default 10 000 ms). */
  timeoutMs?: number;
  /** Extra request headers (e.g. Authorization for a bundle server). Never logged. */
  headers?: Record<string, string>;
}

export interface BundleSource {
  readonly location: string;
  /** Loads once (rejects when that first load fails), then keeps polling until stop(). */
  start(): Promise<BundleInfo | undefined>;
  /** Fetches now; resolves with the new bundle, or undefined when unchanged. */
  poll(): Promise<BundleInfo | undefined>;
  stop(): void;
}

abstract class PollingSource implements BundleSource {
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #stopped = false;
  protected readonly interval: number;
  protected readonly maxBackoff: number;

  constructor(
    readonly location: string,
    protected readonly engine: Engine,
    protected readonly options: SourceOptions,
  ) {
    this.interval = options.pollIntervalMs ?? 10_000;
    this.maxBackoff = Math.max(this.interval, options.maxBackoffMs ?? 60_000);
  }

  abstract poll(): Promise<BundleInfo | undefined>;

  /**
   * Compiles and activates `files`; while tracing is on an `airlock.bundle.activate` span, inside
   * the poll's.
   */
  protected activate(files: Awaited<ReturnType<typeof filesFromTarball>>): Promise<BundleInfo | undefined> {
    return traced(
      'airlock.bundle.activate',
      async (span) => {
        const info = await this.engine.loadFiles(files, this.location);
        if (info) span?.setAttribute('airlock.bundle_revision', info.revision);
        return info;
      },
      { attributes: () => ({ 'airlock.bundle.files': files.size }) },
    );
  }

  async start(): Promise<BundleInfo | undefined> {
    this.#stopped = false;
    try {
      const info = await this.poll();
      this.#schedule(this.interval);
      return info;
    } catch (err) {
      this.#failures++;
      this.#schedule(this.#backoff());
      throw err;
    }
  }

  #backoff(): number {
    return Math.min(this.maxBackoff, Math.max(1, this.interval) * 2 ** Math.min(this.#failures, 16));
  }

  #schedule(delay: number): void {
    if (this.#stopped || this.interval <= 0) return;
    this.#timer = setTimeout(async () => {
      try {
        await this.poll();
        this.#failures = 0;
      } catch {
        this.#failures++; // reported by the engine (log, metric, health)
      }
      this.#schedule(this.#failures === 0 ? this.interval : this.#backoff());
    }, delay);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }
}

class FileSource extends PollingSource {
  #seen = '';

  async poll(): Promise<BundleInfo | undefined> {
    let stamp: string;
    let directory: boolean;
    try {
      const s = await stat(this.location);
      stamp = `${s.mtimeMs}:${s.size}:${s.isDirectory()}`;
      directory = s.isDirectory();
    } catch (err) {
      this.engine.reportFailure(this.location, err);
      throw err;
    }
    if (stamp === this.#seen) return undefined; // nothing to read: no span
    // Reading and activating a changed file: an `airlock.bundle.poll` span, a trace of its own.
    return traced(
      'airlock.bundle.poll',
      async () => {
        let files: Awaited<ReturnType<typeof filesFromTarball>>;
        try {
          if (directory) files = await filesFromDirectory(this.location, this.options);
          else files = await filesFromTarball(await readFile(this.location), this.options);
        } catch (err) {
          this.engine.reportFailure(this.location, err);
          throw err;
        }
        this.#seen = stamp; // a broken file is not retried until it changes
        return this.activate(files);
      },
      { parent: 'root', attributes: () => ({ 'airlock.bundle.source': directory ? 'directory' : 'file' }) },
    );
  }
}

class HttpSource extends PollingSource {
  #etag: string | undefined;

  /** One poll: an `airlock.bundle.poll` span (a trace of its own) over the download and activation. */
  poll(): Promise<BundleInfo | undefined> {
    return traced(
      'airlock.bundle.poll',
      async (span) => {
        const body = await this.#download();
        span?.setAttribute('airlock.bundle.changed', body !== undefined);
        if (body === undefined) return undefined;
        const files = await filesFromTarball(body, this.options).catch((err) => {
          this.engine.reportFailure(this.location, err);
          throw err;
        });
        return this.activate(files);
      },
      // Not the URL: it may carry a token.
      { parent: 'root', attributes: () => ({ 'airlock.bundle.source': 'http' }) },
    );
  }

  /** The bundle's bytes, or undefined when unchanged (304): a CLIENT span `GET bundle`. */
  #download(): Promise<Buffer | undefined> {
    return traced(
      'GET bundle',
      async (span) => {
        const headers: Record<string, string> = {
          accept: 'application/gzip, application/octet-stream',
          ...this.options.headers,
          ...traceHeaders(),
        };
        if (this.#etag) headers['if-none-match'] = this.#etag;
        let body: Buffer;
        let etag: string | undefined;
        try {
          const res = await fetch(this.location, {
            headers,
            signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
            redirect: 'follow',
          });
          span?.setAttribute('http.response.status_code', res.status);
          if (res.status === 304) {
            await res.body?.cancel();
            return undefined;
          }
          if (res.status !== 200) {
            await res.body?.cancel();
            throw new BundleError(`bundle server answered ${res.status} ${res.statusText}`);
          }
          etag = res.headers.get('etag') ?? undefined;
          body = await readLimited(res, this.options.maxBytes ?? 256 * 1024 * 1024);
        } catch (err) {
          this.engine.reportFailure(this.location, err);
          throw err;
        }
        this.#etag = etag; // a broken bundle is not downloaded again until its ETag changes
        return body;
      },
      { kind: SpanKind.CLIENT, attributes: () => ({ 'http.request.method': 'GET' }) },
    );
  }
}

async function readLimited(res: Response, max: number): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > max) throw new BundleError(`bundle is ${declared} bytes, over the ${max} byte limit`);
  const chunks: Buffer[] = [];
  let total = 0;
  if (!res.body) return Buffer.alloc(0);
  for await (const chunk of res.body) {
    total += (chunk as Uint8Array).byteLength;
    if (total > max) throw new BundleError(`bundle is over the ${max} byte limit`);
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}

/** A source for a file or directory path, or an http(s) URL. */
export function bundleSource(location: string, engine: Engine, options: SourceOptions = {}): BundleSource {
  if (/^https?:\/\//i.test(location)) return new HttpSource(location, engine, options);
  return new FileSource(location, engine, options);
}
