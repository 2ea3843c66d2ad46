import { readFile, writeFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  csvHeader,
  csvRow,
  eventToJson,
  FORMATS,
  formatTable,
  ndjsonRow,
  type OutputFormat,
} from '../../audit/format.js';
import {
  type AuditQuery,
  AuditStore,
  type Checkpoint,
  type CheckpointSink,
  checkedDate,
  databaseConfigFrom,
  EFFECTS,
  EVENT_KINDS,
  generateSigningKey,
  parseCheckpoints,
  privateKeyFromPem,
  publicKeyFromPem,
  signCheckpoint,
  sinkFromSpec,
  type VerifyReport,
} from '../../audit/index.js';
import type { CliContext } from '../main.js';

interface DbOptions {
  databaseUrl?: string;
  dataDir?: string;
}

/** A usage problem: reported without a stack, exit status 2. */
class UsageError extends Error {}

function withDbOptions(cmd: Command): Command {
  return cmd
    .option(
      '--database-url <url>',
      'Postgres URL (default: $DATABASE_URL; prefer the variable, arguments show in ps)',
    )
    .option(
      '--data-dir <dir>',
      'embedded PGlite data directory when no database URL is set (default: ./.airlock/data)',
    );
}

async function openStore(opts: DbOptions): Promise<AuditStore> {
  return AuditStore.open({ ...databaseConfigFrom(opts), migrate: 'never', poolSize: 2 });
}

/** Runs a command body with an open store; maps failures to exit status 2. */
async function withStore(
  ctx: CliContext,
  name: string,
  opts: DbOptions,
  body: (s: AuditStore) => Promise<void>,
) {
  let store: AuditStore | undefined;
  try {
    store = await openStore(opts);
    await body(store);
  } catch (err) {
    ctx.err(`airlock audit ${name}: ${(err as Error).message}\n`);
    ctx.exitCode = 2;
  } finally {
    await store?.close();
  }
}

const TIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** An ISO 8601 date or date-time; a date alone means midnight UTC, a time without zone means UTC. */
export function parseTime(value: string, flag: string): Date {
  if (!TIME.test(value))
    throw new UsageError(`${flag} wants an ISO 8601 time like 2026-01-06T16:00:00Z, got "${value}"`);
  let text = value.replace(' ', 'T');
  if (/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)) text += 'Z';
  const d = checkedDate(text);
  if (!d) throw new UsageError(`${flag}: "${value}" is not a valid time`);
  return d;
}

function positiveInt(flag: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) > max) {
      throw new InvalidArgumentError(`${flag} wants a whole number up to ${max}, got "${value}"`);
    }
    return Number(value);
  };
}

function describeReport(r: VerifyReport): string {
  if (r.break) return `audit chain BROKEN at seq ${r.break.seq} (${r.break.kind}): ${r.break.message}\n`;
  const head = r.head ? `head seq ${r.head.seq}, hash ${r.head.hash}` : 'the trail is empty';
  const cps = r.checkpoints > 0 ? `; consistent with ${r.checkpoints} signed checkpoint(s)` : '';
  return `audit chain OK: ${r.checked} events verified, ${head}${cps}\n`;
}

interface VerifyFlags extends DbOptions {
  checkpoint?: string[];
  publicKey?: string;
  format: 'text' | 'json';
  quiet?: boolean;
}

interface QueryFlags extends DbOptions {
  user?: string;
  requestedBy?: string;
  agent?: string;
  model?: string;
  tool?: string;
  server?: string;
  decision?: string;
  approval?: string;
  kind?: AuditQuery['kind'];
  effect?: AuditQuery['effect'];
  since?: string;
  until?: string;
  after?: number;
  limit: number;
  order: 'asc' | 'desc';
  all?: boolean;
  format: OutputFormat;
}

export function registerAudit(cli: Command, ctx: CliContext): void {
  const audit = cli
    .command('audit')
    .description('Verify, query and checkpoint the hash-chained audit trail')
    .addHelpText(
      'after',
      '\nDatabase: --database-url (Postgres), else --data-dir (embedded PGlite), else $DATABASE_URL, else PGlite\nin $AIRLOCK_DATA_DIR or ./.airlock/data.\n',
    );

  withDbOptions(
    audit
      .command('verify')
      .description(
        'Walk the hash chain and report the first broken link: a changed, deleted, inserted or reordered row, or (against signed checkpoints) a truncated tail or rewritten history',
      )
      .option(
        '--checkpoint <file...>',
        'signed checkpoint files (NDJSON) to hold the chain against; catches a truncated tail',
      )
      .option(
        '--public-key <file>',
        'Ed25519 public key (PEM) that signed the checkpoints (default: $AIRLOCK_AUDIT_PUBLIC_KEY)',
      )
      .addOption(new Option('--format <format>', 'report format').choices(['text', 'json']).default('text'))
      .option('-q, --quiet', 'no progress output')
      .addHelpText(
        'after',
        '\nExit status: 0 chain intact, 1 chain broken, 2 error (unreadable checkpoint, bad signature, no database).\n',
      ),
  ).action(async (opts: VerifyFlags) => {
    let checkpoints: Checkpoint[] = [];
    let publicKey: ReturnType<typeof publicKeyFromPem> | undefined;
    try {
      for (const file of opts.checkpoint ?? [])
        checkpoints.push(...parseCheckpoints(await readFile(file, 'utf8'), file));
      const keyFile = opts.publicKey ?? (process.env.AIRLOCK_AUDIT_PUBLIC_KEY || undefined);
      if (checkpoints.length > 0 && !keyFile)
        throw new UsageError('--checkpoint needs --public-key (the key that signed them)');
      if (keyFile) publicKey = publicKeyFromPem(await readFile(keyFile, 'utf8'));
    } catch (err) {
      ctx.err(`airlock audit verify: ${(err as Error).message}\n`);
      ctx.exitCode = 2;
      return;
    }
    checkpoints = checkpoints.sort((a, b) => a.seq - b.seq);
    await withStore(ctx, 'verify', opts, async (store) => {
      const report = await store.verify({
        checkpoints,
        ...(publicKey ? { publicKey } : {}),
        onProgress: opts.quiet
          ? undefined
          : (checked, total) => {
              if (total >= 10000)
                ctx.err(
                  `verify: ${checked}/${total} events (${Math.floor((checked / Math.max(total, 1)) * 100)}%)\n`,
                );
            },
      });
      ctx.out(opts.format === 'json' ? `${JSON.stringify(report)}\n` : describeReport(report));
      ctx.exitCode = report.ok ? 0 : 1;
    });
  });

  withDbOptions(
    audit
      .command('query')
      .description('List audit events matching filters, oldest first, paginated by sequence number')
      .option('--user <sub>', "user's subject (sub): the user the decision input claims")
      .option(
        '--requested-by <sub>',
        'the authenticated API caller (gateway, proxy, service) who asked for the decision',
      )
      .option('--agent <id>', 'agent id')
      .option('--model <name>', "the model's name, e.g. claude-sonnet-4")
      .option('--tool <name>', 'tool, resource or prompt name')
      .option('--server <name>', 'virtual or upstream server name')
      .option('--decision <id>', 'decision id')
      .option('--approval <id>', 'approval id')
      .addOption(new Option('--kind <kind>', 'event kind').choices([...EVENT_KINDS]))
      .addOption(new Option('--effect <effect>', 'decision effect').choices([...EFFECTS]))
      .option('--since <time>', 'events at or after this ISO 8601 time (UTC unless a zone is given)')
      .option('--until <time>', 'events before this ISO 8601 time')
      .option(
        '--after <seq>',
        'continue after this sequence number (the cursor a previous page printed)',
        positiveInt('--after'),
      )
      .option('--limit <n>', 'events per page, 1 to 1000', positiveInt('--limit', 1000), 100)
      .addOption(
        new Option('--order <order>', 'oldest or newest first').choices(['asc', 'desc']).default('asc'),
      )
      .option('--all', 'fetch every page, not just the first')
      .addOption(new Option('--format <format>', 'output format').choices([...FORMATS]).default('table'))
      .addHelpText(
        'after',
        `
Example: what did any agent read from the salaries table on Tuesday afternoon?
  airlock audit query --tool query_salaries --since 2026-01-06T16:00:00Z --until 2026-01-06T17:00:00Z --format json

When more events match than one page holds, table and csv output end with a note on stderr
giving the --after value that continues; json output carries it as "next"; --all fetches every page.
`,
      ),
  ).action(async (opts: QueryFlags) => {
    let q: AuditQuery;
    try {
      if (opts.limit < 1) throw new UsageError('--limit must be at least 1');
      q = {
        user: opts.user,
        requestedBy: opts.requestedBy,
        agent: opts.agent,
        model: opts.model,
        tool: opts.tool,
        server: opts.server,
        decisionId: opts.decision,
        approvalId: opts.approval,
        kind: opts.kind,
        effect: opts.effect,
        since: opts.since === undefined ? undefined : parseTime(opts.since, '--since'),
        until: opts.until === undefined ? undefined : parseTime(opts.until, '--until'),
        after: opts.after,
        limit: opts.limit,
        order: opts.order,
      };
    } catch (err) {
      ctx.err(`airlock audit query: ${(err as Error).message}\n`);
      ctx.exitCode = 2;
      return;
    }
    await withStore(ctx, 'query', opts, async (store) => {
      const collected: ReturnType<typeof eventToJson>[] = [];
      const table = [];
      if (opts.format === 'csv') ctx.out(csvHeader());
      let next: number | null = null;
      for (;;) {
        const page = await store.query(q);
        for (const e of page.events) {
          if (opts.format === 'ndjson') ctx.out(ndjsonRow(e));
          else if (opts.format === 'csv') ctx.out(csvRow(e));
          else if (opts.format === 'json') collected.push(eventToJson(e));
          else table.push(e);
        }
        next = page.next;
        if (!opts.all || next === null) break;
        q = { ...q, after: next };
      }
      if (opts.format === 'json') ctx.out(`${JSON.stringify({ events: collected, next }, null, 2)}\n`);
      if (opts.format === 'table') {
        ctx.out(table.length === 0 ? 'no matching events\n' : formatTable(table));
      }
      if (next !== null && (opts.format === 'table' || opts.format === 'csv')) {
        ctx.err(`more events: continue with --after ${next}\n`);
      }
      ctx.exitCode = 0;
    });
  });

  withDbOptions(
    audit
      .command('checkpoint')
      .description(
        'Verify the chain, then sign a checkpoint of its head (seq, hash, time) and write it to a sink',
      )
      .option('--signing-key <file>', 'Ed25519 private key (PEM) (default: $AIRLOCK_AUDIT_SIGNING_KEY)')
      .option(
        '--sink <sink>',
        'stdout, file:PATH (appended, one line per checkpoint) or an http(s) URL to POST to',
        'stdout',
      ),
  ).action(async (opts: DbOptions & { signingKey?: string; sink: string }) => {
    const keyFile = opts.signingKey ?? (process.env.AIRLOCK_AUDIT_SIGNING_KEY || undefined);
    if (!keyFile) {
      ctx.err('airlock audit checkpoint: needs --signing-key or $AIRLOCK_AUDIT_SIGNING_KEY\n');
      ctx.exitCode = 2;
      return;
    }
    await withStore(ctx, 'checkpoint', opts, async (store) => {
      const key = privateKeyFromPem(await readFile(keyFile, 'utf8'));
      const sink: CheckpointSink =
        opts.sink === 'stdout' || opts.sink === '-'
          ? { name: 'stdout', write: async (c) => ctx.out(`${JSON.stringify(c)}\n`) }
          : sinkFromSpec(opts.sink);
      const report = await store.verify();
      if (!report.ok) {
        ctx.err(`airlock audit checkpoint: refusing to sign: ${describeReport(report)}`);
        ctx.exitCode = 1;
        return;
      }
      if (!report.head) {
        ctx.err('airlock audit checkpoint: the trail is empty, nothing to sign\n');
        ctx.exitCode = 0;
        return;
      }
      const cp = signCheckpoint(report.head, key);
      await sink.write(cp);
      if (sink.name !== 'stdout') ctx.err(`checkpoint of seq ${cp.seq} written to ${sink.name}\n`);
      ctx.exitCode = 0;
    });
  });

  audit
    .command('keygen')
    .description('Create an Ed25519 key pair for signing checkpoints (files are never overwritten)')
    .requiredOption(
      '--private-key <file>',
      'where to write the private key (PEM, mode 0600); keep it away from the database host',
    )
    .requiredOption(
      '--public-key <file>',
      'where to write the public key (PEM), needed by `audit verify --checkpoint`',
    )
    .action(async (opts: { privateKey: string; publicKey: string }) => {
      const { privateKeyPem, publicKeyPem } = generateSigningKey();
      try {
        await writeFile(opts.privateKey, privateKeyPem, { mode: 0o600, flag: 'wx' });
        await writeFile(opts.publicKey, publicKeyPem, { mode: 0o644, flag: 'wx' });
      } catch (err) {
        ctx.err(`airlock audit keygen: ${(err as Error).message}\n`);
        ctx.exitCode = 2;
        return;
      }
      ctx.out(`wrote ${opts.privateKey} and ${opts.publicKey}\n`);
      ctx.exitCode = 0;
    });
}
