// Two tabs of one profile at work for two minutes with short-lived access tokens and
// rotating refresh tokens: every renewal succeeds, none is repeated, none loops.
//
// Two minutes of waiting: the end-to-end script runs this file beside the other specs,
// against an IdP and an API of its own, so the counters read here are its own.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { idpStats, launchBrowser, step } from '../lib/browser.mjs';
import { signIn, withTwoTabs } from '../lib/session.mjs';

const user = 'alice';

test('two active tabs renew for two minutes with rotating refresh tokens, never invalid_grant', { timeout: 300_000 }, async (t) => {
  const browser = await launchBrowser();
  t.after(() => browser.close());
  await withTwoTabs(browser, t, async (session, a, idpA, second, b) => {
    await step(session, t, 'both tabs signed in', async () => {
      await b.open('/');
      await signIn(a, idpA, user);
      await b.expectLoggedIn(user);
    });

    // The e2e IdP issues 4 s access tokens: two minutes are thirty lifetimes. The user
    // works in both tabs (pointer moves) and each calls the API now and then.
    const before = await idpStats();
    const seconds = 120;
    await step(session, t, `${seconds} s of work in both tabs`, async () => {
      const end = Date.now() + seconds * 1_000;
      for (let i = 0; Date.now() < end; i += 1) {
        await session.page.mouse.move(10 + (i % 50), 10);
        await second.page.mouse.move(10 + (i % 50), 20);
        if (i % 6 === 0) await a.addTodo(`tab A ${i}`);
        if (i % 6 === 3) await b.addTodo(`tab B ${i}`);
        await session.page.waitForTimeout(1_000);
      }
      await a.expectLoggedIn(user);
      await b.expectLoggedIn(user);
    });

    await step(session, t, 'renewals happened, none failed, none looped', async () => {
      const after = await idpStats();
      const refreshes = after.refresh - before.refresh;
      t.diagnostic(`refresh grants in ${seconds} s over two tabs: ${refreshes}`);
      assert.equal(after.invalidGrant - before.invalidGrant, 0, 'invalid_grant seen');
      // Each tab renews ahead of expiry about every 2 s while active; far more would be
      // a renewal loop.
      assert.ok(refreshes >= seconds / 3, `only ${refreshes} refreshes`);
      assert.ok(refreshes <= 4 * seconds, `${refreshes} refreshes: a renewal loop`);
    });
  });
});
