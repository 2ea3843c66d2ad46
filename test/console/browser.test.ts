// biome-ignore-all lint/performance/useDomNodeTextContent: these are playwright locators, whose innerText() is the rendered text the tests read, not DOM nodes
// The console in a real browser (Debian's chromium driven by playwright-core), against a real
// OpenID provider and a real MCP agent: sign in as an approver, approve the call an agent parked
// (keyboard only) and see the agent's retry run once; a self-approval refused with the policy's
// reason; live updates when another approver answers or an agent parks a call; the audit explorer;
// a phone-width layout. Screenshots go to test-results/console/.
import type { Browser } from 'playwright-core';
import t from 'tap';
import { APPROVAL_META_KEY, GatewayErrorCode } from '../../src/gateway/index.js';
import { rpcError } from '../gateway/harness.js';
import { launchChromium, shot, signIn as signInAs } from './chromium.js';
import { startConsoleStack } from './fixture.js';

t.setTimeout(300_000);
const stack = await startConsoleStack();
const chromium = await launchChromium();
const browser: Browser = chromium.browser;
t.teardown(async () => {
  await chromium.close();
  await stack.close();
});
const signIn = (context: Parameters<typeof signInAs>[0], sub: string) => signInAs(context, stack, sub);

const alice = await stack.agentFor('alice');
const sasha = await stack.agentFor('sasha');
const parkedId = (err: { data?: unknown }) => (err.data as { approval_id: string }).approval_id;

t.test(
  'an approver signs in, sees the parked call, approves it by keyboard; the retry runs once',
  async (t) => {
    const call = () => alice.callTool({ name: 'github__delete_repo', arguments: { repo: 'corp/web' } });
    const pending = await rpcError(call());
    t.equal(pending.code, GatewayErrorCode.ApprovalPending);
    const id = parkedId(pending);

    const bobContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const bob = await signIn(bobContext, 'bob');
    t.match(await bob.locator('.who').innerText(), /Bob \(security\)/);
    const card = bob.getByRole('article', { name: /delete_repo on github/ }).filter({ hasText: 'alice' });
    await card.waitFor();
    const text = await card.innerText();
    t.match(text, /Requester\s+alice/);
    t.match(text, /Agent\s+devops-agent/);
    t.match(text, /Model\s+anthropic\/claude-sonnet-4/);
    t.match(text, /Approvers\s+group:security/);
    t.match(text, /expires in \d+ (h|min)/, 'a countdown to expiry');
    t.match(await card.locator('pre').innerText(), /"repo": "corp\/web"/, 'arguments, formatted');
    await bob.locator('.live', { hasText: 'Live' }).waitFor();
    await shot(bob, 'inbox-approver.png');

    // Keyboard only: the skip link first, then Tab through to this card's reason and Approve.
    await bob.keyboard.press('Tab');
    t.equal(await bob.evaluate('document.activeElement?.textContent'), 'Skip to content');
    const reasonId = `reason-${id}`;
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await bob.keyboard.press('Tab');
      reached = (await bob.evaluate('document.activeElement?.id')) === reasonId;
    }
    t.ok(reached, 'the reason field is reachable with Tab');
    await bob.keyboard.type('checked with the repo owner');
    await bob.keyboard.press('Tab');
    t.equal(await bob.evaluate('document.activeElement?.textContent'), 'Approve', 'Approve comes next');
    await shot(bob, 'inbox-keyboard-focus.png');
    await bob.keyboard.press('Enter');
    await bob.getByRole('status').filter({ hasText: 'Approved delete_repo for alice.' }).waitFor();
    await card.waitFor({ state: 'detached' });
    await shot(bob, 'inbox-approved.png');

    const ran = await call();
    t.same(ran.content, [{ type: 'text', text: 'deleted corp/web' }], "the agent's retry ran");
    t.equal(stack.deletes(), 1);
    const again = await rpcError(
      alice.callTool({
        name: 'github__delete_repo',
        arguments: { repo: 'corp/web' },
        _meta: { [APPROVAL_META_KEY]: id },
      }),
    );
    t.equal(again.code, GatewayErrorCode.ApprovalRefused, 'the approval is used up');
    t.equal(stack.deletes(), 1, 'ran exactly once');
    const answered = (await (
      await fetch(`${stack.url}/console/api/audit?approval_id=${id}&kind=approval_granted`, {
        headers: { cookie: (await bobContext.cookies()).map((c) => `${c.name}=${c.value}`).join('; ') },
      })
    ).json()) as { events: { reasons: string[]; user_sub: string }[] };
    t.match(
      answered.events[0],
      { user_sub: 'bob', reasons: ['checked with the repo owner'] },
      'in the trail',
    );
    await bobContext.close();
  },
);

t.test('a self-approval is refused with the policy reason; live updates reach every approver', async (t) => {
  const sashaContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const sashaPage = await signIn(sashaContext, 'sasha');
  const bobContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const bob = await signIn(bobContext, 'bob');
  await bob.locator('.live', { hasText: 'Live' }).waitFor();
  await sashaPage.locator('.live', { hasText: 'Live' }).waitFor();

  // Sasha's agent parks a call while both pages are open: it appears without a reload.
  const pending = await rpcError(
    sasha.callTool({ name: 'github__delete_repo', arguments: { repo: 'corp/sasha-tools' } }),
  );
  const id = parkedId(pending);
  const own = sashaPage.getByRole('article').filter({ hasText: 'corp/sasha-tools' });
  // Well inside the page's fallback refresh (60 s): only the event stream can bring it this soon.
  await own.waitFor({ timeout: 10_000 });
  t.match(await own.innerText(), /sasha \(you\)/);
  const onBob = bob.getByRole('article').filter({ hasText: 'corp/sasha-tools' });
  await onBob.waitFor({ timeout: 10_000 });
  t.pass('a newly parked call reached the open inbox by server-sent events');

  await own.getByRole('button', { name: 'Approve' }).click();
  const alert = own.getByRole('alert');
  await alert.waitFor();
  t.match(
    await alert.innerText(),
    /Not allowed to answer this approval: the requester may not approve their own call/,
  );
  await shot(sashaPage, 'self-approval-refused.png');

  // Bob denies it; Sasha's inbox drops the call without a reload.
  await onBob.getByLabel('Reason (optional)').fill('not during the freeze');
  await onBob.getByRole('button', { name: 'Deny' }).click();
  await own.waitFor({ state: 'detached', timeout: 10_000 });
  t.pass("another approver's answer reached the open inbox");
  const status = (await (
    await fetch(`${stack.url}/v1/approvals/${id}`, {
      headers: { cookie: (await bobContext.cookies()).map((c) => `${c.name}=${c.value}`).join('; ') },
    })
  ).json()) as { status: string };
  t.equal(status.status, 'denied');
  await sashaContext.close();
  await bobContext.close();
});

t.test('the audit explorer filters, pages and shows one event', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await signIn(context, 'bob');
  await page.getByRole('link', { name: 'Audit trail' }).click();
  await page.getByLabel('Tool').fill('delete_repo');
  await page.getByLabel('Effect').selectOption('require_approval');
  await page.getByRole('button', { name: 'Search' }).click();
  const rows = page.locator('tbody tr');
  await rows.first().waitFor();
  const cells = await rows.allInnerTexts();
  t.ok(cells.length >= 2, 'the parked calls are there');
  t.ok(
    cells.every((c) => /delete_repo/.test(c) && /require_approval/.test(c)),
    'only what the filter asks',
  );
  await rows.first().getByRole('button').click();
  const detail = page.getByRole('region', { name: /Event \d+/ });
  await detail.waitFor();
  t.match(await detail.locator('pre').innerText(), /"decision_id"/);
  await shot(page, 'audit-explorer.png');
  // The approved call's story: its decision, then bob's answer, under one decision id.
  await page.getByLabel('Tool').fill('');
  await page.getByLabel('Effect').selectOption('');
  await page.getByLabel('User').fill('bob');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('tbody tr', { hasText: 'approval_granted' }).first().getByRole('button').click();
  await page.getByRole('button', { name: 'Every event of this decision' }).click();
  await page.locator('caption', { hasText: /^Decision / }).waitFor();
  const story = await page.locator('tbody tr').allInnerTexts();
  t.match(story[0], /decision\s+alice\s+delete_repo\s+require_approval/, 'the parked decision first');
  t.ok(
    story.some((r) => /approval_granted\s+bob/.test(r)),
    "then bob's answer",
  );
  await shot(page, 'audit-story.png');
  await context.close();
});

t.test('a requester on a phone sees their own parked call, without answer buttons', async (t) => {
  await rpcError(alice.callTool({ name: 'github__delete_repo', arguments: { repo: 'corp/phone' } }));
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await signIn(context, 'alice');
  const card = page.getByRole('article').filter({ hasText: 'corp/phone' });
  await card.waitFor();
  t.equal(
    await card.getByRole('button', { name: 'Approve' }).count(),
    0,
    'no answer buttons for a requester',
  );
  t.match(await card.innerText(), /Waiting for group:security/);
  t.equal(await page.getByRole('link', { name: 'Audit trail' }).count(), 0, 'no audit view for her');
  // Neither sideways scrolling nor a page the phone zoomed out to fit.
  const overflow = await page.evaluate(
    'window.innerWidth !== 390 || document.documentElement.scrollWidth > window.innerWidth',
  );
  t.notOk(overflow, 'nothing wider than the phone');
  await shot(page, 'phone-requester.png');
  await context.close();
});
