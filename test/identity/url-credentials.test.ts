// Credentials in URLs: which query parameters carry them, read from raw URLs as every listener
// reads them (names decoded, compared without case).
import t from 'tap';
import {
  CREDENTIAL_QUERY_PARAMS,
  credentialInQuery,
  queryNames,
} from '../../src/identity/url-credentials.js';

t.test('every credential-carrying parameter is found, whatever its case or encoding', async (t) => {
  for (const name of CREDENTIAL_QUERY_PARAMS) {
    t.equal(credentialInQuery(`/mcp/x?${name}=v`), name, name);
    t.equal(credentialInQuery(`/mcp/x?a=1&${name.toUpperCase()}=v`), name, `${name} upper-cased, not first`);
  }
  t.equal(credentialInQuery('/mcp/x?acc%65ss_token=v'), 'access_token', 'a percent-encoded name is decoded');
  t.equal(credentialInQuery('/mcp/x?api_key'), 'api_key', 'a name without a value');
});

t.test('other parameters and URLs without a query carry none', async (t) => {
  t.equal(credentialInQuery('/mcp/x'), undefined);
  t.equal(credentialInQuery('/v1/data/p?input=%7B%7D&pretty=true'), undefined);
  t.equal(credentialInQuery('/v1/data/p?tokens=1&my_token=2'), undefined, 'only whole names count');
  t.equal(credentialInQuery('/v1/data/p?x=access_token'), undefined, 'a value is not a name');
});

t.test('query names are decoded leniently', async (t) => {
  t.same(queryNames('/p?a=1&&b+c=2&%zz=3&d'), ['a', 'b c', '%zz', 'd']);
  t.same(queryNames('/p'), []);
});
