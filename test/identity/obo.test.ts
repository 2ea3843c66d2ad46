// The Entra-style on-behalf-of grant (JWT bearer + requested_token_use), against
// oidc-provider with that grant registered the way Entra ID documents it.
import { decodeJwt } from 'jose';
import t from 'tap';
import { CLIENTS, startIdp } from '../../scripts/demo/idp.js';
import { createIdentity } from '../../src/identity/index.js';

const RESOURCE = 'http://127.0.0.1/mcp';
const idp = await startIdp();
t.teardown(() => idp.close());

const identity = createIdentity(
  {
    resource: RESOURCE,
    allow_insecure_http: true,
    issuers: [
      {
        issuer: idp.issuer,
        exchange_client: {
          client_id: CLIENTS.gateway.id,
          client_secret: { env: 'GW' },
          grant: 'jwt_bearer_obo',
        },
      },
    ],
    upstreams: {
      github: { mode: 'on_behalf_of', audience: 'api://github-mcp', scopes: ['Repo.Read'] },
      whole: { mode: 'on_behalf_of', audience: 'api://files-mcp/' },
      withActor: { mode: 'on_behalf_of', audience: 'api://x', actor: 'agent' },
    },
  },
  { env: { GW: CLIENTS.gateway.secret } },
);
const token = await idp.userToken({ sub: 'alice', audience: RESOURCE });
const principal = await identity.authenticate({ authorization: `Bearer ${token}` });

t.test('scopes are qualified with the upstream; the token says sub = user, aud = upstream', async (t) => {
  const cred = await identity.credentials.credentialFor('github', principal);
  const claims = decodeJwt(cred.headers.authorization!.slice('Bearer '.length));
  t.equal(claims.sub, 'alice');
  t.equal(claims.aud, 'api://github-mcp');
  t.equal(claims.scope, 'Repo.Read');
  t.equal(claims.act, undefined, 'OBO carries no actor');
  t.match(idp.exchanges.at(-1), {
    subject: 'alice',
    audience: 'api://github-mcp',
    client: CLIENTS.gateway.id,
  });
  const again = await identity.credentials.credentialFor('github', principal);
  t.equal(again.cached, true);
});

t.test('no scopes: <audience>/.default', async (t) => {
  const cred = await identity.credentials.credentialFor('whole', principal);
  t.equal(decodeJwt(cred.headers.authorization!.slice(7)).aud, 'api://files-mcp');
});

t.test('an actor cannot be combined with on-behalf-of', async (t) => {
  await t.rejects(identity.credentials.credentialFor('withActor', principal), {
    name: 'UpstreamCredentialError',
    message: /takes no actor token; set actor: none/,
  });
});
