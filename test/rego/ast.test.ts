import t from 'tap';
import { formatError, RegoErrors } from '../../src/rego/ast.js';

t.test('errors print as file:line:col: code: message', async (t) => {
  const e = {
    code: 'rego_parse_error' as const,
    message: 'unexpected token',
    location: { file: 'p.rego', line: 3, col: 7, offset: 20, end: 21 },
  };
  t.equal(formatError(e), 'p.rego:3:7: rego_parse_error: unexpected token');
  const thrown = new RegoErrors([e, { ...e, location: { ...e.location, line: 4 } }]);
  t.equal(thrown.message.split('\n').length, 2);
});
