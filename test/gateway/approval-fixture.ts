// A parked call for the approval tests: delete_customer by alice through devops-agent, needing group security.
import type { ParkRequest } from '../../src/gateway/approvals.js';

export function parkRequest(overrides: Partial<ParkRequest> = {}): ParkRequest {
  const args = overrides.arguments ?? { id: 'c-42' };
  return {
    decisionId: '7d0e4c52-3f4c-4b7e-9a55-0c7f3a2b9e10',
    virtual: 'devops',
    upstream: 'crm',
    tool: 'delete_customer',
    arguments: args,
    call: {
      phase: 'request',
      action: 'tools/call',
      user: { sub: 'alice', groups: ['eng'] },
      agent: { id: 'devops-agent' },
      server: { name: 'crm', virtual: 'devops' },
      tool: { name: 'delete_customer' },
      arguments: args,
    },
    requester: { sub: 'alice', agent: 'devops-agent' },
    approvers: ['group:security'],
    ttlSeconds: 3600,
    reasons: ['destructive tool delete_customer needs approval from group security'],
    ...overrides,
  };
}
