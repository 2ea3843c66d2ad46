// The demo's last word: the console (/console/ on the agents' listener) is checked to answer and to
// send a browser to the demo IdP's login page, then its URL and the approver's sign-in are printed.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ASSETS_DIR } from '../../src/console/assets.js';
import type { Narrator } from './narrator.js';
import { DEMO_ACCOUNTS } from './setup.js';

/** The console's browser files, built once (as `npm install` does) when this checkout lacks them. */
export async function ensureConsoleBuilt(): Promise<void> {
  if (existsSync(join(DEFAULT_ASSETS_DIR, 'index.html'))) return;
  // esbuild is a dev dependency: present wherever `npm run demo` runs (a checkout).
  const { buildConsole } = await import('../build-console.mjs');
  await buildConsole();
}

/** Checks that the console page is served and that signing in starts at the IdP (code + PKCE). */
export async function checkConsole(say: Narrator, consoleUrl: string, issuer: string): Promise<void> {
  const page = await fetch(consoleUrl, { signal: AbortSignal.timeout(10_000) });
  const html = await page.text();
  say.expect(
    page.status === 200 && (page.headers.get('content-type') ?? '').startsWith('text/html'),
    `GET ${new URL(consoleUrl).pathname} answers the console page`,
    `HTTP ${page.status} ${html.slice(0, 200)}`,
  );
  const login = await fetch(new URL('login', consoleUrl), {
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
  });
  await login.body?.cancel();
  const location = new URL(login.headers.get('location') ?? '/', consoleUrl);
  say.expect(
    login.status >= 300 &&
      login.status < 400 &&
      location.origin === issuer &&
      location.searchParams.get('code_challenge_method') === 'S256',
    'GET /console/login sends the browser to the OpenID provider (authorization code + PKCE)',
    `HTTP ${login.status} → ${location.href.split('?')[0]}`,
  );
}

/** How to sign in, and whether it is still running. */
export function printConsoleSignIn(say: Narrator, consoleUrl: string, stay: boolean): void {
  const { alice, bob } = DEMO_ACCOUNTS;
  say.line();
  say.line(say.bold(`Console: ${consoleUrl}`));
  say.line(
    `   Sign in as the approver: account ${say.bold('bob')} (group ${bob.groups.join(', ')}), password: anything, e.g. "demo".`,
  );
  say.line(
    `   Or as the requester: account alice (group ${alice.groups.join(', ')}), who sees only her own calls.`,
  );
  say.line(
    say.dim('   Throwaway demo accounts: the demo OpenID provider runs on loopback, takes any password,'),
  );
  say.line(say.dim('   and is gone when the demo ends.'));
  if (stay) {
    say.line('   A call from alice waits in the inbox. Everything keeps running until you press Ctrl-C.');
  } else {
    say.line(say.yellow('   The demo has ended, so this console is closed now. To keep it running:'));
    say.line(say.yellow('   npm run demo -- --stay (or AIRLOCK_DEMO_STAY=1; the default in a terminal).'));
  }
}
