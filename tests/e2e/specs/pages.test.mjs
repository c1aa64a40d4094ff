// The example's pages as a visitor sees them: the session status panel at work, the
// profile page's claims, and a mock user configured in config.json.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  APP_URL, IDP_ISSUER, becomesVisible, launchBrowser, overrideAppConfig, saveScreenshot, step,
  withPage,
} from '../lib/browser.mjs';
import { AppPage } from '../pages/app.mjs';
import { IdpPage } from '../pages/idp.mjs';

const TEST_TIMEOUT_MS = 120_000;
const user = 'alice';

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** The seconds a status value shows ("3 s"), or NaN. */
const secondsOf = (text) => Number(text.match(/^(\d+) s$/)?.[1]);

test('the status panel shows the session at work; the profile shows the claims', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    const { page } = session;
    const app = new AppPage(page, APP_URL);
    const idp = new IdpPage(page, IDP_ISSUER);

    await step(session, t, 'signed out: no status panel', async () => {
      await app.open('/');
      await app.expectLoggedOut();
      await app.homeLogin.waitFor({ state: 'visible' });
      assert.equal(await app.status('user').count(), 0, 'status panel shown signed out');
    });

    await step(session, t, 'signed in: who, how, and tabs in sync', async () => {
      await app.signIn(idp, user);
      await app.status('user').filter({ hasText: user }).waitFor();
      assert.equal(await app.status('signed-in-via').innerText(), 'sign-in at the provider');
      assert.equal(await app.status('tabs').innerText(), 'BroadcastChannel');
      assert.equal(await app.status('last-renewal').innerText(), 'none yet');
      // The provider's session lifetime, as its tokens tell it, or none.
      assert.match(await app.status('idle-timeout').innerText(), /^(none|\d+ s|\d+ min \d+ s|\d+ h \d+ min)$/);
      await page.getByTestId('home-user').filter({ hasText: user }).waitFor();
    });

    await step(session, t, 'the access token expiry ticks down (4 s tokens here)', async () => {
      const expires = app.status('token-expires');
      const first = secondsOf(await expires.innerText());
      assert.ok(first >= 0 && first <= 4, `expires in ${first} s`);
      await page.waitForFunction(
        (shown) => document.querySelector('[data-testid="status-token-expires"]')?.textContent !== shown,
        await expires.innerText(),
        { timeout: 3_000 },
      );
    });

    await step(session, t, 'an active user gets renewals by refresh token, shown in the panel', async () => {
      const renewed = app.status('last-renewal').filter({ hasText: 'by refresh token' });
      let shown = false;
      for (let i = 0; !shown && i < 15; i += 1) {
        await page.mouse.move(10 + i, 10);
        shown = await becomesVisible(renewed, 1_000);
      }
      assert.ok(shown, `no renewal shown: ${await app.status('last-renewal').innerText()}`);
      assert.match(await app.status('last-renewal').innerText(), /^\d+ s ago by refresh token \(\d+ in all\)$/);
      const shot = await saveScreenshot(page, 'status panel');
      if (shot) t.diagnostic(`screenshot: ${shot}`);
    });

    await step(session, t, 'the profile page shows the ID token claims', async () => {
      await app.navProfile.click();
      await page.waitForURL((url) => url.pathname === '/profile');
      await app.profileClaim('sub').filter({ hasText: user }).waitFor();
      assert.equal(await app.profileClaim('username').innerText(), user);
      assert.equal(await app.profileClaim('email').innerText(), `${user}@example.test`);
      assert.equal(await app.profileClaim('roles').innerText(), '(none)');
      assert.equal(await app.profileClaim('issuer').innerText(), IDP_ISSUER);
    });

    await step(session, t, 'reloading /profile: served by the API, restored silently', async () => {
      await app.reload();
      await app.expectLoggedIn(user);
      await app.profileClaim('sub').filter({ hasText: user }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/profile');
      await app.status('signed-in-via').filter({ hasText: 'silent restore (hidden iframe)' }).waitFor();
    });
  });
});

test('a mock user from config.json: typed claims, login and logout without a provider', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    const { page } = session;
    const app = new AppPage(page, APP_URL);
    const atIdp = [];
    page.on('request', (request) => {
      if (request.url().startsWith(IDP_ISSUER)) atIdp.push(request.url());
    });
    await overrideAppConfig(session.context, {
      mock: {
        sub: 'mock-7',
        name: 'Mia Mock',
        email: 'mia@example.test',
        roles: ['admin', 'editor'],
        audience: 'todo-api',
        signed_in: false,
      },
    });

    await step(session, t, 'starts signed out (signed_in: false); login signs in at once', async () => {
      await app.open('/');
      await app.expectLoggedOut();
      await app.clickLogin();
      await app.expectLoggedIn('Mia Mock');
    });

    await step(session, t, 'the profile shows the mock claims', async () => {
      await app.navProfile.click();
      await app.profileClaim('sub').filter({ hasText: 'mock-7' }).waitFor();
      assert.equal(await app.profileClaim('email').innerText(), 'mia@example.test');
      assert.equal(await app.profileClaim('roles').innerText(), 'admin, editor');
      assert.equal(await app.status('signed-in-via').innerText(), 'mock user, no provider');
    });

    await step(session, t, 'logout signs out; the provider was never contacted', async () => {
      await app.clickLogout();
      await app.expectLoggedOut();
      assert.deepEqual(atIdp, [], 'requests to the provider');
    });
  });
});
