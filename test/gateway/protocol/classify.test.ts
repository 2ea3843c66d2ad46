// Which revision a POST speaks, and the header checks, on bodies and headers alone.
import t from 'tap';
import { classify, decodeHeaderValue } from '../../../src/gateway/protocol/classify.js';

const REVISION = '2026-07-28';
const envelope = {
  'io.modelcontextprotocol/protocolVersion': REVISION,
  'io.modelcontextprotocol/clientCapabilities': {},
};
const call = (meta?: Record<string, unknown>, name = 'crm__lookup_customer') => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name, arguments: {}, ...(meta ? { _meta: meta } : {}) },
});
const headers = {
  'mcp-protocol-version': REVISION,
  'mcp-method': 'tools/call',
  'mcp-name': 'crm__lookup_customer',
};

t.test('session-revision traffic is left as it is', async (t) => {
  t.same(classify({}, call()), { kind: 'session' });
  t.same(classify({ 'mcp-protocol-version': '2025-06-18' }, call()), { kind: 'session' });
  t.same(classify({}, [call(), call()]), { kind: 'session' }, 'batches of session requests');
  t.same(classify({}, { jsonrpc: '2.0', id: 1, result: {} }), { kind: 'session' }, 'responses');
  t.same(classify({}, 'not json-rpc'), { kind: 'session' }, 'malformed bodies: rpc-check answers them');
  t.same(
    classify({}, call({ 'io.modelcontextprotocol/protocolVersion': '2025-11-25' })),
    { kind: 'session' },
    'a session revision named in _meta',
  );
});

t.test('2026-07-28 requests carry their envelope', async (t) => {
  const r = classify(
    headers,
    call({ ...envelope, 'io.modelcontextprotocol/clientInfo': { name: 'a', version: '1' } }),
  );
  t.equal(r.kind, 'per-request');
  t.same(r.kind === 'per-request' && r.envelope, {
    protocolVersion: REVISION,
    clientCapabilities: {},
    clientInfo: { name: 'a', version: '1' },
  });
  const header = { ...headers, 'mcp-name': ' crm__lookup_customer ' };
  t.equal(classify(header, call(envelope)).kind, 'per-request', 'header whitespace is not part of the value');
  const note = classify(
    { 'mcp-protocol-version': REVISION },
    { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } },
  );
  t.equal(note.kind, 'per-request', 'a notification is placed by its header');
});

t.test('refusals', async (t) => {
  const code = (h: Record<string, string>, body: unknown) => {
    const r = classify(h, body);
    return r.kind === 'refused' ? [r.status, r.body.error.code] : r.kind;
  };
  t.same(code({ ...headers, 'mcp-method': 'tools/list' }, call(envelope)), [400, -32020]);
  t.same(code({ ...headers, 'mcp-name': 'crm__delete_customer' }, call(envelope)), [400, -32020]);
  t.same(
    code({ 'mcp-protocol-version': REVISION, 'mcp-method': 'tools/call' }, call(envelope)),
    [400, -32020],
  );
  t.same(
    code({ 'mcp-method': 'tools/call', 'mcp-name': 'crm__lookup_customer' }, call(envelope)),
    [400, -32020],
  );
  t.same(code({ ...headers, 'mcp-protocol-version': '2025-11-25' }, call(envelope)), [400, -32020]);
  t.same(code(headers, call()), [400, -32602], 'a 2026-07-28 header without an envelope');
  t.same(code(headers, call({ 'io.modelcontextprotocol/protocolVersion': REVISION })), [400, -32602]);
  t.same(code(headers, call({ ...envelope, 'io.modelcontextprotocol/clientInfo': 'x' })), [400, -32602]);
  t.same(code(headers, call({ ...envelope, 'io.modelcontextprotocol/protocolVersion': 7 })), [400, -32602]);
  const later = { ...envelope, 'io.modelcontextprotocol/protocolVersion': '2027-01-01' };
  t.same(code({ ...headers, 'mcp-protocol-version': '2027-01-01' }, call(later)), [400, -32022]);
  t.same(code({}, [call(envelope)]), [400, -32600], 'no batches on 2026-07-28');
  t.same(code({ 'mcp-protocol-version': REVISION }, [call()]), [400, -32600]);
  t.same(
    code(
      { 'mcp-protocol-version': REVISION, 'mcp-method': 'initialize' },
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: REVISION } },
    ),
    [400, -32020],
    'initialize with a 2026-07-28 header',
  );
  t.same(
    code({ 'mcp-method': 'tools/call', 'mcp-name': 'crm__delete_customer' }, call()),
    [400, -32020],
    'session revisions: a header that is sent must be true',
  );
  t.same(code({ 'mcp-method': 'tools/call' }, call()), 'session', 'but none is required');
  t.same(
    code({ 'mcp-method': 'ping' }, { jsonrpc: '2.0', method: 'notifications/initialized' }),
    [400, -32020],
  );
});

t.test('Mcp-Name values: plain ASCII or Base64 UTF-8 in the sentinel', async (t) => {
  t.equal(decodeHeaderValue('crm__x'), 'crm__x');
  t.equal(decodeHeaderValue(`=?base64?${Buffer.from('kb://ü/€').toString('base64')}?=`), 'kb://ü/€');
  t.equal(decodeHeaderValue('=?base64?not base64?='), undefined);
  t.equal(decodeHeaderValue('=?base64?QQ?='), undefined, 'unpadded Base64 is not canonical');
  t.equal(
    decodeHeaderValue(`=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=`),
    undefined,
    'not UTF-8',
  );
  t.equal(decodeHeaderValue('=?base64?'), undefined);
});
