// Schema of the parked-call table (approvals): migrations in code, with kysely bookkeeping tables of
// their own, applied at start-up and by `airlock migrate`; and the grants the gateway's role needs.
import { checkIdentifier, type MigrationSet, migrationSetSql } from '../audit/migrations/index.js';

export const APPROVALS_TABLE = 'airlock_approvals';
/** The channel an answer is announced on (payload: the approval id), in the answer's transaction. */
export const APPROVALS_CHANNEL = 'airlock_approvals';

export const APPROVAL_MIGRATIONS: MigrationSet = {
  label: 'approvals',
  table: 'airlock_approvals_migration',
  lockTable: 'airlock_approvals_migration_lock',
  migrations: [
    {
      name: '0001_approvals',
      statements: [
        // One row per parked call. `status` is what was decided; whether it has expired is computed
        // from expires_at at read time. claim_token/claim_until mark an answer being recorded in the
        // audit trail (the row stays pending meanwhile, so nothing can consume it).
        `CREATE TABLE ${APPROVALS_TABLE} (
  id              uuid        PRIMARY KEY,
  status          text        NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
  decision_id     text        NOT NULL,
  virtual_server  text        NOT NULL,
  upstream_server text        NOT NULL,
  tool            text        NOT NULL,
  arguments       jsonb       NOT NULL,
  arguments_hash  text        NOT NULL CHECK (arguments_hash ~ '^[0-9a-f]{64}$'),
  call            jsonb       NOT NULL,
  requester_sub   text        NOT NULL,
  requester_agent text        NOT NULL,
  approvers       jsonb       NOT NULL,
  reasons         jsonb       NOT NULL,
  created_at      timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  answered_by     jsonb,
  answered_at     timestamptz,
  answer_reasons  jsonb       NOT NULL DEFAULT '[]',
  consumed_at     timestamptz,
  claim_token     uuid,
  claim_until     timestamptz,
  CHECK (expires_at > created_at),
  CHECK ((status = 'consumed') = (consumed_at IS NOT NULL))
)`,
        // findOpen: the same caller retrying the same call.
        `CREATE INDEX ${APPROVALS_TABLE}_open_idx ON ${APPROVALS_TABLE}
  (requester_sub, requester_agent, virtual_server, upstream_server, tool, arguments_hash)
  WHERE status IN ('pending', 'approved')`,
        `CREATE INDEX ${APPROVALS_TABLE}_created_idx ON ${APPROVALS_TABLE} (created_at, id)`,
        `COMMENT ON TABLE ${APPROVALS_TABLE} IS 'Airlock tool calls parked for approval: one row per call, answered by approvers, run at most once'`,
      ],
    },
  ],
};

/**
 * Grants for the gateway's role: it parks (INSERT), reads, and updates only the answer and consumption
 * columns, never the parked arguments, nor deletes rows.
 */
export function approvalsRoleSql(role = 'airlock_gateway', schema = 'public'): string[] {
  checkIdentifier(role, 'role');
  checkIdentifier(schema, 'schema');
  return [
    `GRANT SELECT, INSERT, UPDATE (status, answered_by, answered_at, answer_reasons, consumed_at, claim_token, claim_until) ON ${schema}.${APPROVALS_TABLE} TO ${role}`,
    `GRANT SELECT ON ${schema}.${APPROVAL_MIGRATIONS.table} TO ${role}`,
  ];
}

/** The approvals part of `airlock migrate --print-sql`. */
export function approvalsMigrationSql(role = 'airlock_gateway'): string {
  return [
    '-- Airlock approvals (parked tool calls), as `airlock migrate` creates them.',
    `-- (migrations are recorded in ${APPROVAL_MIGRATIONS.table}).`,
    '',
    ...migrationSetSql(APPROVAL_MIGRATIONS),
    '-- The gateway role parks calls, answers them and marks them consumed: SELECT, INSERT and UPDATE of',
    '-- the answer columns only (the parked arguments cannot be rewritten), no DELETE.',
    ...approvalsRoleSql(role).map((s) => `${s};`),
    '',
  ].join('\n');
}
