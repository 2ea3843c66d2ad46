// Shared by the replay tests: real decisions recorded through the MCP gateway (reference policies, a
// real Streamable HTTP upstream and a real stdio upstream) into a given audit store, and candidate
// policy directories on disk — the reference policies with the test data the gateway ran with, with
// or without one change.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { auditDecisionLog, buildApi } from '../../src/api/index.js';
import type { AuditStore } from '../../src/audit/index.js';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import { buildBundle } from '../../src/engine/index.js';
import { APPROVAL_META_KEY } from '../../src/gateway/index.js';
import {
  CARD,
  connectClient,
  crmUpstream,
  referenceEngine,
  rpcError,
  startAirlock,
} from '../gateway/harness.js';

const POLICIES = fileURLToPath(new URL('../../policies', import.meta.url));

export interface Recorded {
  since: Date;
  until: Date;
}

/**
 * Through the gateway, as sam (group support): tools/list, an allowed zendesk__get_ticket, an allowed
 * crm__lookup_customer, and a crm__update_customer denied for the card number in its arguments (the
 * trail keeps that argument masked), a zendesk__close_ticket parked for approval (two
 * require_approval decisions: parked, then asked again) and, once sally approved, allowed, then the
 * used approval presented again (require_approval, then the gateway's refusal); then alice's create_issue on github, allowed, asked over the
 * decision API.
 */
export async function recordDecisions(store: AuditStore): Promise<Recorded> {
  const engine = await referenceEngine({ workers: 1 });
  const crm = await crmUpstream();
  const airlock = await startAirlock(crm.url, { engine, store });
  const client = await connectClient(airlock.base);
  const since = new Date(Date.now() - 1);
  try {
    await client.listTools();
    await client.callTool({ name: 'zendesk__get_ticket', arguments: { id: 'T-1' } });
    await client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-7' } });
    await rpcError(client.callTool({ name: 'crm__update_customer', arguments: { id: 'C-7', note: CARD } }));
    // A destructive tool: parked for approval, approved by sally (security), then run.
    const parked = await rpcError(
      client.callTool({ name: 'zendesk__close_ticket', arguments: { id: 'T-9' } }),
    );
    const approvalId = (parked.data as { approval_id: string }).approval_id;
    await airlock.approvals!.answer(approvalId, {
      status: 'approved',
      by: { sub: 'sally', groups: ['security'] },
    });
    await client.callTool({ name: 'zendesk__close_ticket', arguments: { id: 'T-9' } });
    // The used approval presented again: refused by the gateway (a rule of execution, not the policy).
    await rpcError(
      client.callTool({
        name: 'zendesk__close_ticket',
        arguments: { id: 'T-9' },
        _meta: { [APPROVAL_META_KEY]: approvalId },
      }),
    );
    // And one decision asked over the decision API (OPA's Data API), as a service would.
    const api = await buildApi({
      engine,
      access: { mode: 'unauthenticated', via: 'test' },
      log: auditDecisionLog(store),
    });
    const input = JSON.parse(
      readFileSync(new URL('../fixtures/decision-input.json', import.meta.url), 'utf8'),
    );
    const r = await api.app.inject({ method: 'POST', url: '/v1/data/airlock/decision', payload: { input } });
    await api.app.close();
    if ((r.json() as { result?: { effect?: string } }).result?.effect !== 'allow')
      throw new Error(`the decision API answered ${r.body}`);
  } finally {
    await client.close();
    await airlock.close();
    await crm.close();
    await engine.close();
  }
  return { since, until: new Date(Date.now() + 1) };
}

/** The parts of the reference policies' data.json the candidates change. */
export interface PolicyData {
  servers: Record<string, Record<string, unknown>>;
  groups: Record<string, { tools: Record<string, string[]> }>;
  approval: Record<string, unknown>;
}

/**
 * A directory with the reference policies and the data the gateway tests run with (crm external,
 * zendesk redacting PII arguments); `change` edits that data.
 */
export function candidateDir(change: (data: PolicyData) => void = () => {}): {
  dir: string;
  remove: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-candidate-'));
  cpSync(POLICIES, dir, { recursive: true });
  const file = join(dir, 'data.json');
  const data = JSON.parse(readFileSync(file, 'utf8'));
  data.servers.crm = { ...data.servers.crm, external: true };
  data.servers.zendesk = { ...data.servers.zendesk, pii_arguments: 'redact' };
  change(data);
  writeFileSync(file, JSON.stringify(data, null, 2));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The one change: support may no longer look customers up (crm__lookup_customer: allow → deny). */
export const noLookups = (data: PolicyData) => {
  data.groups.support!.tools.crm = ['update_customer'];
};

/** An approval change: destructive tools no longer need approval (close_ticket: require_approval → allow). */
export const noApprovals = (data: PolicyData) => {
  data.approval.honour_destructive_hint = false;
};

/** A candidate tarball built from `dir` (what `airlock build` writes). */
export async function tarballOf(dir: string, revision: string): Promise<Buffer> {
  const tree = await loadPolicyTree([dir]);
  return buildBundle(tree, { entrypoints: ['airlock/decision', 'airlock/approve'], revision }).tarball;
}
