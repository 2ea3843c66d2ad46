// Rendering events: CSV quoting and formula defusing, table cells, NDJSON.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import t from 'tap';
import {
  type AuditEvent,
  csvHeader,
  csvRow,
  eventToJson,
  formatTable,
  ndjsonRow,
} from '../../src/audit/index.js';

// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const event: AuditEvent = {
  seq: 12,
  time: new Date('2026-01-06T16:00:00Z'),
  kind: 'decision',
  decisionId: 'd-12',
  phase: 'request',
  userSub: '+cmd',
  userClaims: null,
  requestedBy: null,
  agentId: 'agent, "quoted"\nline',
  actor: null,
  model: { name: 'm' },
  virtualServer: null,
  upstreamServer: null,
  targetType: 'tool',
  targetName: 'x'.repeat(40),
  arguments: { a: [1, 'two'] },
  result: null,
  effect: 'allow',
  reasons: ['ok'],
  approvalId: null,
  bundleRevision: null,
  timings: null,
  details: null,
  prevHash: '0'.repeat(64),
  hash: 'f'.repeat(64),
};

t.test('csv follows RFC 4180 and defuses formulas', async (t) => {
  const header = csvHeader().trimEnd().split(',');
  t.equal(header.length, 25);
  t.same(header.slice(0, 3), ['seq', 'time', 'kind']);
  const row = csvRow(event);
  t.ok(row.endsWith('\r\n'));
  t.match(row, /^12,2026-01-06T16:00:00\.000Z,decision,d-12,request,'\+cmd,,,"agent, ""quoted""\nline",/);
  t.match(row, /,"\{""a"":\[1,""two""\]\}",/, 'JSON values are quoted JSON');
  t.match(row, /,"\[""ok""\]",/);
});

t.test('ndjson and json use the snake_case shape', async (t) => {
  const parsed = JSON.parse(ndjsonRow(event)) as Record<string, unknown>;
  t.same(parsed, JSON.parse(JSON.stringify(eventToJson(event))));
  t.equal(parsed.user_sub, '+cmd', 'JSON keeps data unaltered');
  t.equal(parsed.prev_hash, '0'.repeat(64));
});

t.test('the table escapes control characters and cuts long cells', async (t) => {
  const lines = formatTable([event]).trimEnd().split('\n');
  t.equal(lines.length, 2);
  t.match(lines[1], /agent, "quoted"\\u00… /, 'the newline is escaped, then the cell is cut');
  t.match(lines[1], / x{23}… /, 'the tool name is cut at its column width');
  t.notMatch(formatTable([event]), /\n.*\n.*\n/, 'no raw newline from data');
});

t.test('the JSON shape matches schema/audit-event.schema.json', async (t) => {
  const schema = JSON.parse(
    readFileSync(fileURLToPath(new URL('../../schema/audit-event.schema.json', import.meta.url)), 'utf8'),
  );
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  t.ok(validate(eventToJson(event)), JSON.stringify(validate.errors));
  t.notOk(validate({ ...eventToJson(event), kind: 'other' }), 'an unknown kind is not an event');
  t.notOk(validate({ ...eventToJson(event), extra: 1 }), 'nor is an unknown member');
});
