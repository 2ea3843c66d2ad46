import t from 'tap';
import { GatewayConfigError, parseGatewayConfig } from '../../src/gateway/index.js';

const ok = {
  upstreams: [
    { name: 'crm', transport: 'http', url: 'http://127.0.0.1:1/mcp', timeout_ms: 1000 },
    { name: 'desk', transport: 'stdio', command: 'node', args: ['x.js'] },
  ],
  virtual_servers: [{ name: 'support', upstreams: ['crm', 'desk'] }],
};

t.test('a valid configuration parses', async (t) => {
  t.same(parseGatewayConfig(ok), ok);
});

t.test('bad configurations are rejected precisely', async (t) => {
  t.throws(
    () => parseGatewayConfig({ ...ok, upstreams: [{ name: 'crm', transport: 'ftp', url: 'x' }] }),
    GatewayConfigError,
  );
  t.throws(
    () => parseGatewayConfig({ ...ok, virtual_servers: [{ name: 'support', upstreams: ['nope'] }] }),
    /virtual server support names unknown upstream nope/,
  );
  t.throws(
    () => parseGatewayConfig({ ...ok, upstreams: [ok.upstreams[0], ok.upstreams[0]] }),
    /upstream crm is defined twice/,
  );
  t.throws(() => parseGatewayConfig({ upstreams: [] }), /invalid gateway configuration/);
});
