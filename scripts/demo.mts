// `npm run demo`: Airlock's whole mission in one command. Starts the gateway with the reference
// policies, a stdio and an HTTP upstream MCP server and a loopback OpenID provider, then plays a
// scripted agent through an allowed call, a hidden tool, a denied call, a redacted result and a
// call approved by a second person; prints the audit trail and verifies its hash chain; starts
// Airlock again on the same database and ends with the console's URL and how to sign in as the
// approver. With --stay (the default in a terminal) everything keeps running until Ctrl-C.
// Needs no Postgres server (embedded PGlite in a temporary directory, removed at the end) and no
// network beyond loopback. Exit code 0 when every step behaved as expected, 1 otherwise.

import { realpathSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeJwt } from 'jose';
import pino from 'pino';
import { type RunningServer, startServer } from '../src/cli/commands/serve.js';
import { program } from '../src/cli/main.js';
import type { ServeConfig } from '../src/cli/serve-config.js';
import { APPROVAL_META_KEY, DECISION_META_KEY, GatewayErrorCode } from '../src/gateway/index.js';
import { checkConsole, ensureConsoleBuilt, printConsoleSignIn } from './demo/console.js';
import { type GithubUpstream, startGithubUpstream } from './demo/github-upstream.js';
import { CLIENTS, startIdp, type TestIdp } from './demo/idp.js';
import { type AgentSession, approverRequest, type McpExchange, mcp, resultText } from './demo/mcp.js';
import { Narrator, StepFailure, Steps } from './demo/narrator.js';
import {
  CONSOLE_CLIENT,
  consoleRedirectUri,
  DEMO_ACCOUNTS,
  demoConfig,
  freePort,
  SECRET_ENV,
  tempDir,
  UPSTREAM_TOOLS,
  writeDemoBundle,
} from './demo/setup.js';

export interface DemoOptions {
  write?: (text: string) => void;
  color?: boolean;
  /**
   * Keep Airlock (with the console), the IdP and the upstreams running after the scripted steps:
   * called once the console URL is printed, everything is closed when its promise settles. Without
   * it the demo closes everything as soon as it has printed the console URL.
   */
  stay?: (consoleUrl: string) => PromiseLike<unknown>;
}

export interface DemoOutcome {
  /** 0 when every step behaved as expected. */
  exitCode: number;
  /** Names of the steps that did not. */
  failed: string[];
}

const MODEL = 'anthropic/claude-sonnet-4-5';

/** Runs the whole demo; never throws for a misbehaving step (it is reported and counted). */
export async function runDemo(options: DemoOptions = {}): Promise<DemoOutcome> {
  const say = new Narrator({
    write: options.write ?? ((t) => process.stdout.write(t)),
    color: options.color ?? (process.stdout.isTTY === true && !process.env.NO_COLOR),
  });
  const steps = new Steps(say);
  const step = (name: string, body: () => Promise<void>) => steps.run(name, body);
  // Closed last to first at the end; Airlock itself apart (it is stopped before step 7 and started again).
  const cleanups: (() => Promise<unknown>)[] = [];
  let stopAirlock: (() => Promise<unknown>) | undefined;
  const closeAirlock = async () => {
    const stop = stopAirlock;
    stopAirlock = undefined;
    await stop?.().catch(() => undefined);
  };

  say.title('Airlock demo: one agent, two MCP servers, every decision on the record');
  say.line(
    say.dim(
      'Everything runs on loopback: an OpenID provider, two upstream MCP servers, Airlock with an embedded database.',
    ),
  );

  const dir = await tempDir();
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const dataDir = `${dir}/data`;
  let github: GithubUpstream | undefined;
  let server: RunningServer | undefined;
  let idp: TestIdp | undefined;
  let config: ServeConfig | undefined;
  let log: pino.Logger | undefined;
  let base = '';
  let alice: AgentSession | undefined;
  let bobToken = '';

  let exitCode = 1;
  try {
    try {
      // ------------------------------------------------------------------ setup
      await step('setup', async () => {
        say.heading(
          '0',
          'Start everything',
          'The reference policies (policies/) are compiled to WebAssembly; Airlock serves the virtual server "devops" ' +
            'aggregating two upstreams: "github" over Streamable HTTP (it only accepts tokens issued for it) and ' +
            '"ops-db" over stdio. Users and agents sign in at a local OpenID provider.',
        );
        const port = await freePort();
        const started = await startIdp({
          browserClient: { ...CONSOLE_CLIENT, redirectUri: consoleRedirectUri(port) },
          accounts: DEMO_ACCOUNTS,
        });
        idp = started;
        cleanups.push(() => started.close());
        const gh = await startGithubUpstream(started.issuer);
        github = gh;
        cleanups.push(() => gh.close());
        const bundle = await writeDemoBundle(dir);
        await ensureConsoleBuilt();
        // The demo IdP's test clients: Airlock exchanges tokens as airlock-gateway, with devops-agent as
        // actor, and signs people in to the console as airlock-console.
        process.env[SECRET_ENV.gateway] = CLIENTS.gateway.secret;
        process.env[SECRET_ENV.agent] = CLIENTS.agent.secret;
        process.env[SECRET_ENV.console] = CONSOLE_CLIENT.secret;
        const serveConfig = demoConfig({ port, bundle, dataDir, issuer: started.issuer, githubUrl: gh.url });
        config = serveConfig;
        log = pino({ level: process.env.AIRLOCK_DEMO_LOG_LEVEL ?? 'silent' }, pino.destination(2));
        const running = await startServer(serveConfig, log);
        server = running;
        stopAirlock = () => running.close();
        base = running.gatewayUrl ?? running.url; // the agents' listener
        const resource = serveConfig.identity?.resource ?? `${base}/mcp`;
        const aliceToken = await started.userToken({
          sub: 'alice',
          audience: resource,
          clientId: CLIENTS.agent.id,
          extra: { groups: ['eng'], email: 'alice@corp.example' },
        });
        bobToken = await started.userToken({
          sub: 'bob',
          audience: resource,
          clientId: CLIENTS.agent.id,
          extra: { groups: ['security'], email: 'bob@corp.example' },
        });
        alice = { endpoint: `${base}/mcp/devops`, token: aliceToken, model: MODEL };
        say.ok(`OpenID provider   ${started.issuer}`);
        say.ok(`github upstream   ${gh.url}  (MCP over HTTP)`);
        say.ok(`ops-db upstream   node scripts/demo/ops-db-server.mjs  (MCP over stdio)`);
        say.ok(`Airlock           ${base}  → agents connect to ${alice.endpoint}`);
        say.ok(`console           ${base}/console/  (people sign in at the OpenID provider)`);
        say.ok(`audit trail       embedded PGlite in ${dataDir} (deleted at the end)`);
        say.line();
        say.line(
          `   alice (group eng) runs devops-agent, which declares its model (${MODEL}) in header x-airlock-model.`,
        );
        say.line(`   Her access token, as the IdP issued it:  ${describeToken(aliceToken)}`);
        say.line(`   bob (group security) answers approvals:  ${describeToken(bobToken, false)}`);
      });
      if (!alice || !server || !github) throw new StepFailure('setup failed: nothing else can run');
      const agent = alice;
      const gh = github;

      // ------------------------------------------------------------------ 1. tools/list
      await step('1 tools/list', async () => {
        say.heading(
          '1',
          "What alice's agent can see",
          "tools/list is decided like everything else: a tool appears only if BOTH the agent's allowlist " +
            "(data.agents) and one of the user's groups (data.groups) grant it. Tools are named <upstream>__<tool>.",
        );
        const x = await mcp(agent, 'tools/list');
        // Input schemas make the answer long: show each tool's name and annotations only.
        showExchange(say, x, (result) => ({
          tools: ((result.tools ?? []) as { name: string; annotations?: unknown }[]).map((t) => ({
            name: t.name,
            ...(t.annotations ? { annotations: t.annotations } : {}),
          })),
        }));
        if (x.status === 404)
          say.note(
            'POST /mcp/devops answered 404: startServer does not mount the gateway (the `gateway` config section) yet.',
          );
        say.expect(x.result, 'tools/list answered', describeFailure(x));
        const names = ((x.result?.tools ?? []) as { name: string }[]).map((t) => t.name).sort();
        say.block('visible tools', names.join('\n'));
        const hidden = Object.entries(UPSTREAM_TOOLS)
          .flatMap(([u, tools]) => tools.map((t) => `${u}__${t}`))
          .filter((t) => !names.includes(t));
        say.note(
          `Also exist upstream but are hidden from this agent: ${hidden.join(', ')} ` +
            "(devops-agent's allowlist does not name them).",
        );
        say.expect(
          names.includes('github__list_repos') &&
            names.includes('ops-db__query') &&
            names.includes('github__delete_repo'),
          'the tools devops-agent and group eng both allow are listed',
        );
        say.expect(
          !names.includes('github__transfer_repo') && !names.includes('ops-db__drop_table'),
          'github__transfer_repo and ops-db__drop_table are not listed',
        );
      });

      // ------------------------------------------------------------------ 2. allowed call
      await step('2 allowed call', async () => {
        say.heading(
          '2',
          "An allowed call, on alice's behalf",
          "The policy allows github__list_repos and asks for an on-behalf-of credential. Airlock exchanges alice's " +
            'token at the IdP (RFC 8693) for one addressed to the github server, with devops-agent as actor: her own ' +
            'token never leaves Airlock, and no shared key exists.',
        );
        const before = gh.calls.length;
        const x = await mcp(agent, 'tools/call', { name: 'github__list_repos', arguments: { org: 'corp' } });
        showExchange(say, x);
        say.expect(x.result && x.result.isError !== true, 'the call ran', describeFailure(x));
        const call = gh.calls[before];
        say.expect(call?.tool === 'list_repos', 'the github server received the call');
        if (!call) return;
        say.block(
          'the token the github server received',
          `sub=${call.token.sub}  act.sub=${call.token.act ?? '(none)'}  aud=${call.token.aud}  scope=${call.token.scope ?? ''}`,
        );
        say.expect(call.token.sub === 'alice', 'issued for alice (sub)');
        say.expect(call.token.act === 'devops-agent', 'with devops-agent as the actor (act.sub)');
        const decisionId = (x.result?._meta as Record<string, unknown> | undefined)?.[DECISION_META_KEY];
        say.expect(
          typeof decisionId === 'string',
          `the result names its decision (_meta["${DECISION_META_KEY}"] = ${String(decisionId)}), as the audit rows do`,
        );
      });

      // ------------------------------------------------------------------ 3. hidden tool
      await step('3 hidden tool', async () => {
        say.heading(
          '3',
          'A hidden tool, called anyway',
          'github__transfer_repo exists upstream but policy hides it from this agent. Hidden means absent: the answer ' +
            'is exactly the one for a tool that does not exist, so an agent cannot even probe for it.',
        );
        const before = gh.calls.length;
        const x = await mcp(agent, 'tools/call', {
          name: 'github__transfer_repo',
          arguments: { repo: 'corp/payments', new_owner: 'mallory' },
        });
        showExchange(say, x);
        const absent = await mcp(agent, 'tools/call', { name: 'github__no_such_tool', arguments: {} });
        say.block(
          'for comparison, a tool that does not exist at all',
          JSON.stringify(absent.error ?? absent.raw),
        );
        say.expect(
          x.error?.code === GatewayErrorCode.NotFound &&
            x.error.message === 'Tool github__transfer_repo not found',
          `JSON-RPC ${GatewayErrorCode.NotFound} "Tool github__transfer_repo not found"`,
          describeFailure(x),
        );
        say.expect(
          absent.error?.code === x.error?.code &&
            absent.error?.message.replace('no_such_tool', 'transfer_repo') === x.error?.message &&
            JSON.stringify(absent.error?.data) === JSON.stringify(x.error?.data),
          'indistinguishable from the absent tool (same code, message shape, data)',
        );
        say.expect(gh.calls.length === before, 'nothing reached the github server');
      });

      // ------------------------------------------------------------------ 4. denied call
      await step('4 denied call', async () => {
        say.heading(
          '4',
          'A denied call',
          'ops-db__query is allowed for reads only: the SQL policy (policies/lib/sql.rego) refuses writes unless the ' +
            'user is a DBA. The agent gets the reasons and a decision id it can quote; nothing is forwarded.',
        );
        const x = await mcp(agent, 'tools/call', {
          name: 'ops-db__query',
          arguments: { sql: "DELETE FROM customers WHERE plan = 'team'" },
        });
        showExchange(say, x);
        say.expect(
          x.error?.code === GatewayErrorCode.Denied,
          `JSON-RPC ${GatewayErrorCode.Denied} (denied by policy)`,
          describeFailure(x),
        );
        const data = x.error?.data ?? {};
        const reasons = (data.reasons ?? []) as string[];
        say.expect(typeof data.decision_id === 'string', `decision id ${String(data.decision_id)}`);
        say.expect(
          reasons.some((r) => r.includes('read-only SQL')),
          'the reason names the read-only SQL rule',
          JSON.stringify(reasons),
        );
      });

      // ------------------------------------------------------------------ 5. redacted result
      await step('5 redacted result', async () => {
        say.heading(
          '5',
          'A result with personal data, redacted',
          'A read of the customers table is allowed, but its result holds e-mail addresses and card numbers. The ' +
            'response-phase decision masks them (data.pii.detectors) before the model sees them, and the audit trail ' +
            'keeps only the masked form.',
        );
        const x = await mcp(agent, 'tools/call', {
          name: 'ops-db__query',
          arguments: { sql: 'SELECT id, name, email, card, plan FROM customers' },
        });
        showExchange(say, x);
        const text = resultText(x.result);
        say.expect(x.result && x.result.isError !== true, 'the query ran', describeFailure(x));
        say.expect(
          !text.includes('ada@example.com') && !text.includes('4111 1111 1111 1111'),
          'no e-mail address or card number reached the agent',
        );
        say.expect(
          text.includes('[REDACTED]') && text.includes('Ada Lovelace'),
          'masked in place; the rest of the row is intact',
        );
      });

      // ------------------------------------------------------------------ 6. approval
      await step('6 approval', async () => {
        say.heading(
          '6',
          'A destructive call needs a second person',
          'github__delete_repo is destructive (data.tools.github.delete_repo): the call is parked and the agent is ' +
            'told it is pending. Policy airlock/approve decides who may answer: not the requester, and only group ' +
            'security. Once approved, the agent repeats the same call; it runs exactly once.',
        );
        const args = { repo: 'corp/legacy-site' };
        const deletes = () => gh.calls.filter((c) => c.tool === 'delete_repo');
        const first = await mcp(agent, 'tools/call', { name: 'github__delete_repo', arguments: args });
        showExchange(say, first);
        const pending = first.error?.data ?? {};
        say.expect(
          first.error?.code === GatewayErrorCode.ApprovalPending && pending.status === 'pending',
          `JSON-RPC ${GatewayErrorCode.ApprovalPending}: approval pending`,
          describeFailure(first),
        );
        const approvalId = String(pending.approval_id);
        say.expect(
          typeof pending.approval_id === 'string',
          `approval id ${approvalId}, decision id ${String(pending.decision_id)}`,
        );
        say.expect(deletes().length === 0, 'nothing reached the github server yet');

        say.line();
        say.line(
          `   ${say.bold('alice tries to approve her own call')}  POST /v1/approvals/${approvalId}/approve`,
        );
        const own = await approverRequest(
          `${base}/v1/approvals/${approvalId}/approve`,
          agent.token,
          'POST',
          {},
        );
        say.json(`← HTTP ${own.status}`, own.body);
        const ownReasons = ((own.body as { reasons?: unknown } | undefined)?.reasons ?? []) as string[];
        say.expect(own.status === 403, 'refused with 403');
        say.expect(
          ownReasons.some((r) => r.includes('may not approve their own call')),
          "the policy's reason: the requester may not approve their own call",
        );

        say.line();
        say.line(`   ${say.bold('bob (group security) approves')}  POST /v1/approvals/${approvalId}/approve`);
        const bob = await approverRequest(`${base}/v1/approvals/${approvalId}/approve`, bobToken, 'POST', {
          reason: 'legacy site retired in Q3',
        });
        say.json(`← HTTP ${bob.status}`, bob.body);
        say.expect(bob.status === 200, 'approved');

        say.line();
        say.line(`   ${say.bold('the agent repeats the same call')}`);
        const again = await mcp(agent, 'tools/call', { name: 'github__delete_repo', arguments: args });
        showExchange(say, again);
        say.expect(
          again.result && again.result.isError !== true,
          'the approved call ran',
          describeFailure(again),
        );
        say.expect(
          deletes().length === 1,
          'the github server saw exactly one delete',
          `it saw ${deletes().length}`,
        );
        const d = deletes()[0];
        if (d)
          say.block(
            'its token',
            `sub=${d.token.sub}  act.sub=${d.token.act ?? '(none)'}  scope=${d.token.scope ?? ''}`,
          );

        say.line();
        say.line(`   ${say.bold('the agent tries to run it again under the same approval')}`);
        const replay = await mcp(agent, 'tools/call', {
          name: 'github__delete_repo',
          arguments: args,
          _meta: { [APPROVAL_META_KEY]: approvalId },
        });
        showExchange(say, replay);
        say.expect(
          replay.error?.code === GatewayErrorCode.ApprovalRefused && replay.error.data?.reason === 'replayed',
          `JSON-RPC ${GatewayErrorCode.ApprovalRefused}, reason "replayed": approvals are one-shot`,
          describeFailure(replay),
        );
        say.expect(deletes().length === 1, 'still exactly one delete upstream');
      });
    } catch (err) {
      if (!(err instanceof StepFailure)) throw err;
      say.fail(err.message);
    } finally {
      // Airlock must be closed before the CLI opens the same embedded database.
      await closeAirlock();
    }

    // ------------------------------------------------------------------ 7. audit
    if (server) {
      await step('7 audit trail', async () => {
        say.heading(
          '7',
          'The audit trail',
          'Airlock is stopped; the CLI reads the same database. Every decision and every call outcome is a row ' +
            '(arguments and results as the policy allowed them to be kept), chained by SHA-256 hashes.',
        );
        const query = await cli(['audit', 'query', '--data-dir', dataDir, '--format', 'table', '--all']);
        say.block('$ airlock audit query --data-dir <tmp> --format table --all', query.out.trimEnd());
        say.expect(query.code === 0, 'audit query succeeded', query.err.trim());
        say.expect(query.out.includes('alice'), 'rows name alice');
        const stored = await cli(['audit', 'query', '--data-dir', dataDir, '--format', 'json', '--all']);
        const events =
          (parseJson(stored.out) as { events?: Record<string, unknown>[] } | undefined)?.events ?? [];
        const redacted = events.find((e) => e.kind === 'call_result' && e.effect === 'redact');
        say.expect(redacted, 'the redacted query has its call_result row', stored.err.trim() || undefined);
        if (redacted) {
          say.json(`the stored row of step 5 (seq ${String(redacted.seq)}, abridged)`, {
            decision_id: redacted.decision_id,
            user_sub: redacted.user_sub,
            agent_id: redacted.agent_id,
            model: redacted.model,
            arguments: redacted.arguments,
            result: redacted.result,
            effect: redacted.effect,
            reasons: redacted.reasons,
          });
          const kept = JSON.stringify(redacted.result);
          say.expect(
            kept.includes('[REDACTED]') &&
              !kept.includes('ada@example.com') &&
              !kept.includes('4111 1111 1111 1111'),
            'the trail keeps the masked result, not the original',
          );
        }
        say.expect(
          stored.code === 0 &&
            !stored.out.includes('ada@example.com') &&
            !stored.out.includes('4111 1111 1111 1111'),
          'no e-mail address or card number anywhere in the trail',
        );
        const verify = await cli(['audit', 'verify', '--data-dir', dataDir]);
        say.block('$ airlock audit verify --data-dir <tmp>', (verify.out + verify.err).trimEnd());
        say.expect(verify.code === 0, 'the hash chain verifies', `exit code ${verify.code}`);
      });
    }

    // ------------------------------------------------------------------ 8. console
    const consoleUrl = `${base}/console/`;
    let consoleUp = false;
    if (server && idp && config && log && alice) {
      const [serveConfig, logger, issuer, agent] = [config, log, idp.issuer, alice];
      consoleUp = await step('8 console', async () => {
        say.heading(
          '8',
          'The console',
          "Airlock starts again on the same database, serving the console at /console/ on the agents' listener: " +
            'people sign in at the OpenID provider; policy airlock/console decides what each one sees (group ' +
            "security answers approvals and reads the trail). alice's agent parks one more call for the inbox.",
        );
        const running = await startServer(serveConfig, logger);
        stopAirlock = () => running.close();
        const parked = await mcp(agent, 'tools/call', {
          name: 'github__delete_repo',
          arguments: { repo: 'corp/old-wiki' },
        });
        say.expect(
          parked.error?.code === GatewayErrorCode.ApprovalPending,
          `alice's agent asked to delete corp/old-wiki: parked (approval ${String(parked.error?.data?.approval_id)})`,
          describeFailure(parked),
        );
        await checkConsole(say, consoleUrl, issuer);
      });
    }

    exitCode = steps.finish();
    if (consoleUp) {
      printConsoleSignIn(say, consoleUrl, options.stay !== undefined);
      if (options.stay) {
        // A rejection still closes everything (below), then propagates.
        await options.stay(consoleUrl);
        say.line(
          say.dim(
            '   Stopping: Airlock, the upstreams and the OpenID provider; deleting the temporary directory.',
          ),
        );
      }
    }
  } finally {
    await closeAirlock();
    for (const close of cleanups.reverse()) await close().catch(() => undefined);
  }
  return { exitCode, failed: steps.failed };
}

/** Runs the airlock CLI in this process. */
async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const ctx = {
    exitCode: 0,
    out: (t: string) => {
      out += t;
    },
    err: (t: string) => {
      err += t;
    },
  };
  try {
    await program(ctx).parseAsync(argv, { from: 'user' });
  } catch (e) {
    err += `${(e as Error).message}\n`;
    if (ctx.exitCode === 0) ctx.exitCode = 2;
  }
  return { code: ctx.exitCode, out, err };
}

function showExchange(
  say: Narrator,
  x: McpExchange,
  abridge?: (result: Record<string, unknown>) => unknown,
): void {
  say.json('→ MCP request  (POST /mcp/devops)', x.request);
  if (x.error) say.json(`← JSON-RPC error  (HTTP ${x.status})`, x.error);
  else if (x.result && abridge) say.json(`← result, abridged  (HTTP ${x.status})`, abridge(x.result));
  else if (x.result) say.json(`← result  (HTTP ${x.status})`, x.result);
  else say.block(`← HTTP ${x.status}`, x.raw || '(empty body)');
}

function describeFailure(x: McpExchange): string {
  if (x.error) return `got JSON-RPC ${x.error.code} ${x.error.message}`;
  if (x.result) return `got a result: ${resultText(x.result).slice(0, 200)}`;
  return `got HTTP ${x.status} ${(x.raw ?? '').slice(0, 200)}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The claims a newcomer cares about, never the token itself. */
function describeToken(token: string, withClient = true): string {
  const c = decodeJwt(token);
  const client = withClient ? ` client_id=${String(c.client_id)}` : '';
  return `sub=${String(c.sub)}${client} groups=${JSON.stringify(c.groups)} aud=${String(c.aud)}`;
}

const invokedDirectly = (() => {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();

const USAGE = `Usage: npm run demo [-- --stay | --no-stay]

Plays Airlock's whole story on loopback (an OpenID provider, two upstream MCP servers, Airlock with an
embedded database), then prints the console URL and how to sign in as the demo's approver.

  --stay      keep everything running after the scripted steps, until Ctrl-C, to try the console
  --no-stay   close everything at the end (the console URL is printed, but closed)
  -h, --help  this text

Default: stay when stdin and stdout are a terminal. AIRLOCK_DEMO_STAY=1 or 0 sets it too (the flags win).
AIRLOCK_DEMO_LOG_LEVEL=info shows Airlock's log on stderr. Exit code 0 when every step behaved as expected.
`;

/** Whether to stay after the steps: the flags, else AIRLOCK_DEMO_STAY, else whether this is a terminal. */
export function stayWanted(argv: string[], env: NodeJS.ProcessEnv, terminal: boolean): boolean | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      stay: { type: 'boolean' },
      'no-stay': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  if (values.stay && values['no-stay']) throw new Error('--stay and --no-stay exclude each other');
  if (values.stay) return true;
  if (values['no-stay']) return false;
  const fromEnv = env.AIRLOCK_DEMO_STAY;
  if (fromEnv === '1' || fromEnv === 'true') return true;
  if (fromEnv === '0' || fromEnv === 'false') return false;
  if (fromEnv !== undefined && fromEnv !== '')
    throw new Error(`AIRLOCK_DEMO_STAY must be 1 or 0, got ${fromEnv}`);
  return terminal;
}

if (invokedDirectly) {
  let stay: boolean | 'help';
  try {
    stay = stayWanted(
      process.argv.slice(2),
      process.env,
      process.stdin.isTTY === true && process.stdout.isTTY === true,
    );
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (stay === 'help') {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  // Ctrl-C (or SIGTERM) ends the stay and cleans up; a second one exits at once.
  // Staying ends with Ctrl-C (or SIGTERM), which then closes everything; a second one exits at once.
  // The handlers are installed only once the steps are done: before that Ctrl-C interrupts as usual.
  const untilInterrupted = () =>
    new Promise<void>((resolve) => {
      const stop = () => {
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
        process.once('SIGINT', () => process.exit(130));
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  const outcome = await runDemo(stay ? { stay: untilInterrupted } : {});
  // Exit once stdout is flushed: nothing the demo started is left running, but be sure of it.
  process.stdout.write('', () => process.exit(outcome.exitCode));
}
