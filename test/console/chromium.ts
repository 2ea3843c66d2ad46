// Debian's chromium driven by playwright-core for the console's browser tests: the launch flags the
// project uses, a fresh profile, signing in through the provider's own login and consent pages, and
// screenshots under test-results/console/.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const SHOTS = join(process.cwd(), 'test-results', 'console');

export async function launchChromium(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  mkdirSync(SHOTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'airlock-chromium-'));
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    // playwright refuses --user-data-dir with launch(); it gives each launch a fresh profile directory
    // of its own under the temporary directory pointed at here.
    env: { ...process.env, TMPDIR: profile },
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SHOTS, name), fullPage: true });

/** Signs `sub` in through the provider's own login and consent pages; returns the console page. */
export async function signIn(
  context: BrowserContext,
  stack: { url: string; idp: { issuer: string } },
  sub: string,
): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${stack.url}/console/`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.origin === stack.idp.issuer);
  await page.fill('input[name=login]', sub);
  await page.fill('input[name=password]', 'any password');
  await page.click('button[type=submit]');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(`${stack.url}/console/`);
  await page.getByText(`Signed in as`).waitFor();
  return page;
}
