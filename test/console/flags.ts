// The raw Set-Cookie of a console sign-in callback (the sign-in helper's jar keeps only values).
import { signInWithoutBrowser } from './fixture.js';

export async function cookieFlags(url: string, sub: string): Promise<string> {
  let seen = '';
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const res = await original(input, init);
    const target = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    if (target.pathname === '/console/callback')
      seen = res.headers.getSetCookie().find((c) => c.startsWith('airlock_console=')) ?? '';
    return res;
  };
  try {
    await signInWithoutBrowser(url, sub);
  } finally {
    globalThis.fetch = original;
  }
  return seen;
}
