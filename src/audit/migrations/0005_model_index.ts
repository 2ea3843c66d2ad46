// Migration 0005: the model filter of `airlock audit query --model`, GET /v1/audit?model= and the
// console's explorer (the model's `name` in the `model` column), indexed like the user, agent and
// tool filters so that it stays a range scan on a large trail.
export const name = '0005_model_index';

export const statements: string[] = [
  "CREATE INDEX audit_events_model_time_idx ON audit_events ((model ->> 'name'), time, seq) WHERE model IS NOT NULL",
];
