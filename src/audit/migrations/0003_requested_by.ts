// Migration 0003: who asked for a decision over the decision API (the authenticated caller: a gateway,
// a proxy, a service), apart from the user the input claims. Events written before it have NULL, and
// the canonical encoding leaves the member out when NULL, so their hashes stay valid.
export const name = '0003_requested_by';

export const statements: string[] = [
  'ALTER TABLE audit_events ADD COLUMN requested_by text',
  'CREATE INDEX audit_events_requested_by_time_idx ON audit_events (requested_by, time, seq) WHERE requested_by IS NOT NULL',
];
