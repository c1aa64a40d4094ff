// The minimal example app (examples/minimal): sign in through the dev identity provider,
// restore on reload, sign out; the same page objects as the TODO app, which shares its
// test ids.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  IDP_ISSUER, launchBrowser, step, topLevelNavigations, withPage,
} from '../lib/browser.mjs';
import { AppPage } from '../pages/app.mjs';
import { IdpPage } from '../pages/idp.mjs';

const MINIMAL_APP_URL = (process.env.MINIMAL_APP_URL || 'http://localhost:3300').replace(/\/+$/, '');
const TEST_TIMEOUT_MS = 120_000;

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test('the minimal app signs in, restores on reload and signs out', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    const { page } = session;
    const app = new AppPage(page, MINIMAL_APP_URL);
    const idp = new IdpPage(page, IDP_ISSUER);
    const user = 'minimal-user';

    await step(session, t, '1. sign in through the identity provider', async () => {
      await app.open('/');
      await app.expectLoggedOut();
      await app.signIn(idp, user);
      await app.expectCleanUrl();
    });

    await step(session, t, '2. a reload restores the session without leaving the app', async () => {
      const topLevel = await topLevelNavigations(page, async () => {
        await app.reload();
        await app.expectLoggedIn(user);
      });
      assert.ok(topLevel.every((url) => url.startsWith(MINIMAL_APP_URL)), `left the app: ${topLevel.join(', ')}`);
      const early = await page.evaluate(() => typeof window.__oidcLeptosEarly?.result === 'string');
      assert.ok(early, 'the early restore script did not run or was not answered');
    });

    await step(session, t, '3. sign out, and stay signed out on reload', async () => {
      await app.clickLogout();
      await idp.confirmLogout();
      await page.waitForURL((url) => url.href.startsWith(`${MINIMAL_APP_URL}/`));
      await app.expectLoggedOut();
      await app.reload();
      await app.expectLoggedOut();
    });
  });
});
