// biome-ignore-all lint/performance/useDomNodeTextContent: these are playwright locators, whose innerText() is the rendered text the tests read, not DOM nodes
// The console's policy pages in a real browser (Debian's chromium via playwright-core, a real OpenID
// provider, a real agent): the approver evaluates an input and replays the trail against a candidate
// uploaded from the browser, which shows the changed decision per tool and user; a candidate that is
// not a bundle shows its error and no report; an admin revokes a user on the policy status page and
// the agent's next call is refused; the audit explorer's chain status and export links; keyboard
// reach and a phone-width layout. Screenshots go to test-results/console/.
import t from 'tap';
import { rpcError } from '../gateway/harness.js';
import { launchChromium, shot, signIn } from './chromium.js';
import { candidateTarball, noRepoListingForEng, startConsoleStack } from './fixture.js';

t.setTimeout(240_000);
const stack = await startConsoleStack();
const chromium = await launchChromium();
const { browser } = chromium;
t.teardown(async () => {
  await chromium.close();
  await stack.close();
});
const alice = await stack.agentFor('alice');
await alice.callTool({ name: 'github__list_repos', arguments: {} });
const candidate = await candidateTarball(noRepoListingForEng, 'no-listing');
/** Nothing wider than the phone: the page neither scrolls sideways nor was zoomed out to fit. */
const fitsPhone = (page: import('playwright-core').Page) =>
  page.evaluate('window.innerWidth === 390 && document.documentElement.scrollWidth <= 390');
const cookieHeader = async (context: import('playwright-core').BrowserContext) =>
  (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');

t.test('the approver evaluates an input and replays the trail against an uploaded candidate', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await signIn(context, stack, 'bob');
  await page.getByRole('link', { name: 'What if' }).click();
  await page.getByRole('heading', { name: 'What if' }).waitFor();

  // Keyboard: after following the link, Tab reaches the input editor and then Evaluate.
  let reached = false;
  for (let i = 0; i < 10 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = (await page.evaluate('document.activeElement?.id')) === 'w-input';
  }
  t.ok(reached, 'the decision input is reachable with Tab');
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate('document.activeElement?.textContent'), 'Evaluate');
  await page.keyboard.press('Enter');
  const result = page.getByRole('region', { name: /Result \(revision/ });
  await result.waitFor();
  t.match(await result.locator('pre').innerText(), /"effect": "allow"/, 'the active bundle allows it');

  await page.getByLabel('Decision input (JSON)').fill('{\n  "user": {"sub": "alice"},\n  "tool": \n}');
  await page.getByRole('button', { name: 'Evaluate' }).click();
  const bad = page.getByRole('alert');
  await bad.waitFor();
  t.match(await bad.innerText(), /not valid JSON at line 4, column 1/, 'where the JSON is broken');
  t.equal(await result.count(), 0, 'no stale result beside the error');
  t.equal(await page.getByLabel('Decision input (JSON)').getAttribute('aria-invalid'), 'true');

  await page.getByLabel('Candidate bundle (.tar.gz)').setInputFiles({
    name: 'candidate.tar.gz',
    mimeType: 'application/gzip',
    buffer: candidate,
  });
  await page.getByRole('button', { name: 'Run replay' }).click();
  const report = page.getByRole('region', {
    name: /Candidate no-listing: 1 of \d+ decision\(s\) would change/,
  });
  await report.waitFor();
  const tool = report.locator('table', { has: page.locator('caption', { hasText: 'Per tool' }) });
  t.match(await tool.locator('tbody tr').first().innerText(), /list_repos\s+\d+\s+1\s+allow→deny 1/);
  const user = report.locator('table', { has: page.locator('caption', { hasText: 'Per user' }) });
  t.match(await user.locator('tbody tr').first().innerText(), /alice\s+\d+\s+1\s+allow→deny 1/);
  const changed = report.locator('table', { has: page.locator('caption', { hasText: 'Changed decisions' }) });
  t.match(
    await changed.locator('tbody tr').innerText(),
    /alice\s+devops-agent\s+list_repos\s+allow→deny\s+tool list_repos not found/,
  );
  await shot(page, 'whatif-replay.png');

  // A candidate that is not a bundle: its error, and the previous report gone.
  await page.getByLabel('Candidate bundle (.tar.gz)').setInputFiles({
    name: 'broken.tar.gz',
    mimeType: 'application/gzip',
    buffer: Buffer.from('this is not a bundle'),
  });
  await page.getByRole('button', { name: 'Run replay' }).click();
  const refused = page.getByRole('alert').filter({ hasText: 'Candidate bundle not loadable' });
  await refused.waitFor();
  t.match(await refused.innerText(), /Candidate bundle not loadable: upload: not a bundle tarball/);
  t.equal(await report.count(), 0, 'nothing half-shown');
  await shot(page, 'whatif-candidate-invalid.png');
  await context.close();
});

t.test('policy status: the bundle revision; an admin revokes a user and it takes effect', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await signIn(context, stack, 'ada');
  const status = (await (
    await fetch(`${stack.url}/console/api/policy`, { headers: { cookie: await cookieHeader(context) } })
  ).json()) as { bundle: { revision: string } };
  await page.getByRole('link', { name: 'Policy' }).click();
  await page.getByRole('heading', { name: 'Active bundle' }).waitFor();
  t.equal(await page.locator('dd.revision').innerText(), status.bundle.revision, 'the active revision');
  t.match(await page.locator('main').innerText(), /airlock\/decision/, 'its entrypoints');
  t.match(await page.locator('main').innerText(), /No load errors\./);

  // By keyboard: the name, Tab to the reason, Enter submits.
  await page.getByLabel('Name').focus();
  await page.keyboard.type('alice');
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate('document.activeElement?.id'), 'r-reason', 'Tab moves to the reason');
  await page.keyboard.type('laptop stolen');
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({ hasText: 'Revoked alice.' }).waitFor();
  const row = page.locator('table', { hasText: 'Revoked users' }).locator('tbody tr', { hasText: 'alice' });
  await row.waitFor();
  t.match(await row.innerText(), /alice\s+laptop stolen/);
  const denied = await rpcError(alice.callTool({ name: 'github__list_repos', arguments: {} }));
  t.match(denied.message, /not found/, "alice's agent no longer reaches the tool");
  await shot(page, 'policy-revoked.png');

  await page.getByRole('button', { name: 'Restore alice' }).click();
  await page.getByRole('status').filter({ hasText: 'Restored alice.' }).waitFor();
  await row.waitFor({ state: 'detached' });
  const again = await alice.callTool({ name: 'github__list_repos', arguments: {} });
  t.notOk(again.isError, 'restored');
  await context.close();
});

t.test('security reads the status without edits; chain status and export links', async (t) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await signIn(context, stack, 'bob');
  await page.getByRole('link', { name: 'Policy' }).click();
  await page.getByRole('heading', { name: 'Active bundle' }).waitFor();
  t.equal(await page.getByRole('button', { name: 'Revoke' }).count(), 0, 'no edit form without data.write');
  t.ok(await fitsPhone(page), 'the status page fits a phone');
  await shot(page, 'policy-status-phone.png');

  await page.getByRole('link', { name: 'Audit trail' }).click();
  await page.getByLabel('User').fill('alice');
  await page.getByLabel('Agent').fill('devops-agent');
  await page.getByLabel('Since').fill(new Date(Date.now() - 3_600_000).toISOString());
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('tbody tr').first().waitFor();
  const csv = page.getByRole('link', { name: 'CSV' });
  await csv.waitFor();
  const href = (await csv.getAttribute('href')) ?? '';
  t.match(href, /^\/console\/api\/audit\/export\?format=csv&.*user=alice/, 'the current filter');
  t.match(href, /agent=devops-agent&.*since=\d{4}-/, 'agent and time range too');
  t.match(
    await page.getByRole('link', { name: 'NDJSON' }).getAttribute('href'),
    /format=ndjson&.*user=alice/,
  );
  const exported = await context.request.get(`${stack.url}${href}`);
  t.equal(exported.status(), 200);
  const lines = (await exported.text()).split('\r\n').filter(Boolean);
  t.match(lines[0], /^seq,time,kind/);
  t.ok(lines.length > 1 && lines.slice(1).every((l) => l.includes(',alice,')), "only alice's events");

  await page.getByRole('button', { name: 'Verify chain' }).click();
  const chain = page.getByRole('status').filter({ hasText: 'Chain intact' });
  await chain.waitFor();
  t.match(
    await chain.innerText(),
    /Chain intact: \d+ event\(s\) verified up to seq \d+\. Signed checkpoints are not configured\./,
  );
  t.ok(await fitsPhone(page), 'the explorer fits a phone');
  await shot(page, 'audit-chain-export-phone.png');

  await page.getByRole('link', { name: 'What if' }).click();
  await page.getByRole('heading', { name: 'What if' }).waitFor();
  t.ok(await fitsPhone(page), 'the what-if page fits a phone');
  await context.close();
});
