// A private Postgres cluster for outage tests: initdb as user postgres in a temporary directory, its own
// port and socket directory, so a test can freeze (SIGSTOP), thaw and stop it without touching the
// shared server. Every process of the cluster is the postmaster or one of its children.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = ['/usr/lib/postgresql/15/bin', '/usr/local/bin'].find((d) => existsSync(join(d, 'initdb')));

export interface PgCluster {
  url: string;
  port: number;
  dataDir: string;
  /** SIGSTOP the postmaster and every backend and auxiliary process. */
  freeze(): number[];
  /** SIGCONT whatever was frozen (and anything of the cluster still running). */
  thaw(): void;
  start(): void;
  stop(): void;
  /** Thaw, stop immediately and delete the directory; safe to call twice. */
  destroy(): void;
}

/** Why the cluster cannot run here, or undefined when it can. */
export function clusterUnavailable(): string | undefined {
  if (!BIN) return 'no initdb in /usr/lib/postgresql/15/bin or /usr/local/bin';
  if (process.getuid?.() !== 0) return 'needs root to run initdb as user postgres';
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    return 'no postgres user';
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function asPostgres(cmd: string, args: string[]): string {
  return execFileSync('runuser', ['-u', 'postgres', '--', join(BIN!, cmd), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
}

export async function startCluster(): Promise<PgCluster> {
  const root = mkdtempSync(join(tmpdir(), 'airlock-pg-'));
  chownSync(root, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()), 0);
  const dataDir = join(root, 'data');
  const port = await freePort();
  asPostgres('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const opts = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = () => {
    asPostgres('pg_ctl', ['-D', dataDir, '-o', opts, '-l', join(root, 'log'), '-w', '-t', '60', 'start']);
  };
  start();
  let frozen: number[] = [];
  const pids = (): number[] => {
    const pidFile = join(dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return [];
    const master = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (!Number.isInteger(master) || master <= 0) return [];
    let children: number[] = [];
    try {
      children = execFileSync('pgrep', ['-P', String(master)], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map(Number);
    } catch {
      // no children
    }
    return [master, ...children];
  };
  const signal = (list: number[], sig: NodeJS.Signals) => {
    for (const pid of list) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone
      }
    }
  };
  let destroyed = false;
  const cluster: PgCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    freeze() {
      frozen = pids();
      signal(frozen, 'SIGSTOP');
      return frozen;
    },
    thaw() {
      signal([...new Set([...frozen, ...pids()])], 'SIGCONT');
      frozen = [];
    },
    start,
    stop() {
      cluster.thaw();
      asPostgres('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      cluster.thaw();
      try {
        asPostgres('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // not running
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  return cluster;
}
