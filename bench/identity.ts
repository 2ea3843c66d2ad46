// Identity benchmark: inbound verification cost per request (warm JWKS
// cache) and token-exchange latency, cold (a new user each time, so a real
// round trip to the IdP) vs cached. The IdP is a real oidc-provider on loopback.
//   npm run bench:identity   (or: npx tsx bench/identity.ts [iterations])
import { performance } from 'node:perf_hooks';
import { CLIENTS, startIdp } from '../scripts/demo/idp.js';
import { createIdentity } from '../src/identity/index.js';

const ITERATIONS = Number(process.argv[2] ?? 5000);
const COLD = 100;
const RESOURCE = 'http://127.0.0.1/mcp';

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { n: sorted.length, mean, p50: at(0.5), p99: at(0.99) };
}

function row(name: string, samplesMs: number[]) {
  const s = stats(samplesMs.map((ms) => ms * 1000));
  console.log(
    `${name.padEnd(44)} n=${String(s.n).padStart(5)}  mean ${s.mean.toFixed(1).padStart(8)} µs  p50 ${s.p50
      .toFixed(1)
      .padStart(8)} µs  p99 ${s.p99.toFixed(1).padStart(8)} µs`,
  );
}

const idp = await startIdp();
try {
  const identity = createIdentity(
    {
      resource: RESOURCE,
      allow_insecure_http: true,
      issuers: [
        {
          issuer: idp.issuer,
          exchange_client: { client_id: CLIENTS.gateway.id, client_secret: { env: 'GW' } },
        },
      ],
      agents: { [CLIENTS.agent.id]: { client_secret: { env: 'AG' } } },
      upstreams: {
        github: { mode: 'on_behalf_of', audience: 'https://api.github.example', scopes: ['repo:read'] },
      },
    },
    { env: { GW: CLIENTS.gateway.secret, AG: CLIENTS.agent.secret } },
  );
  await identity.warmUp();
  const token = await idp.userToken({
    sub: 'alice',
    audience: RESOURCE,
    extra: { email: 'alice@corp.example', groups: ['eng'] },
  });
  const authorization = `Bearer ${token}`;

  // Warm-up of the JIT and the key cache.
  for (let i = 0; i < 200; i++) await identity.authenticate({ authorization });
  const verify: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = performance.now();
    await identity.authenticate({ authorization, modelHeader: 'anthropic/claude-sonnet-4' });
    verify.push(performance.now() - t0);
  }

  // Cold exchanges: a distinct user per call, so every call goes to the IdP.
  const principals = [];
  for (let i = 0; i < COLD + 1; i++) {
    const t = await idp.userToken({ sub: `user-${i}`, audience: RESOURCE });
    principals.push(await identity.authenticate({ authorization: `Bearer ${t}` }));
  }
  await identity.credentials.credentialFor('github', principals[COLD]!); // warms the actor token and connections
  const cold: number[] = [];
  for (let i = 0; i < COLD; i++) {
    const t0 = performance.now();
    await identity.credentials.credentialFor('github', principals[i]!);
    cold.push(performance.now() - t0);
  }
  const cached: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = performance.now();
    await identity.credentials.credentialFor('github', principals[i % COLD]!);
    cached.push(performance.now() - t0);
  }

  console.log(`identity bench (Node ${process.version}, oidc-provider on loopback, RS256 2048-bit)`);
  row('verify + principal (warm JWKS cache)', verify);
  row('token exchange, cold (IdP round trip)', cold);
  row('token exchange, cached', cached);
  console.log(`IdP exchanges performed: ${identity.exchanger.exchangeCount} (expected ${COLD + 1})`);
} finally {
  await idp.close();
}
