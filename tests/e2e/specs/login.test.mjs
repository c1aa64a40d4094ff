// Signing in and out of the example TODO app through the dev identity provider, and the
// app's handling of a forged authorization response.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';

import {
  APP_URL, IDP_ISSUER, idpStats, launchBrowser, step, withPage,
} from '../lib/browser.mjs';
import { AppPage } from '../pages/app.mjs';
import { IdpPage } from '../pages/idp.mjs';

const TEST_TIMEOUT_MS = 180_000;

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test('sign in, add a TODO, renew, reload and sign out', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    const { page } = session;
    const app = new AppPage(page, APP_URL);
    const idp = new IdpPage(page, IDP_ISSUER);
    const user = 'alice';
    const title = `e2e todo ${randomUUID().slice(0, 8)}`;

    await step(session, t, '1. sign in through the identity provider', async () => {
      await app.open('/');
      await app.expectLoggedOut();
      await app.clickLogin();
      await idp.waitUntilCurrent();
      await idp.loginInput.waitFor({ state: 'visible' });
      const seen = await idp.completeInteraction({ login: user, backAtApp: app.settled });
      assert.equal(seen[0], 'login', `expected the sign-in form first, saw: ${seen.join(', ')}`);
      await app.expectLoggedIn(user);
      await app.expectCleanUrl();
      // Tokens live in memory only, and the one-time sign-in request is consumed: web
      // storage holds the time until which this browser counts as signed in and the
      // provider's public metadata and keys.
      const storage = JSON.parse(await app.webStorage());
      assert.deepEqual(
        Object.keys(storage.session).map((k) => k.split(':').pop()),
        ['provider'],
        `session storage after sign-in: ${JSON.stringify(storage)}`,
      );
      assert.deepEqual(Object.keys(JSON.parse(Object.values(storage.session)[0])).sort(), ['at', 'grace', 'keys', 'metadata', 'silent']);
      // The local storage: the time until which this browser counts as signed in, and
      // the last activity (a time and the user's tag).
      const local = Object.fromEntries(Object.entries(storage.local).map(([k, v]) => [k.split(':').pop(), v]));
      assert.deepEqual(Object.keys(local).sort(), ['activity', 'signed-in']);
      assert.match(local['signed-in'], /^\d+$/);
      assert.match(local.activity, /^\d+ \d+$/);
    });

    await step(session, t, '2. add a TODO', async () => {
      await app.addTodo(title);
    });

    await step(session, t, '2b. after the access token expires, the next call renews it', async () => {
      // The e2e IdP issues 4 s access tokens; waiting them out is the behaviour under
      // test. A few refresh grants, not a loop of them.
      const before = await idpStats();
      await page.waitForTimeout(5_000);
      await app.addTodo(`${title} (renewed)`);
      await app.expectLoggedIn(user);
      const refreshes = (await idpStats()).refresh - before.refresh;
      assert.ok(refreshes >= 1 && refreshes <= 10, `${refreshes} refresh grants`);
    });

    await step(session, t, '3. reload restores the session, the TODO is still there', async () => {
      await app.reload();
      await app.expectLoggedIn(user);
      await app.expectTodo(title);
    });

    await step(session, t, '4. sign out through the identity provider', async () => {
      await app.clickLogout();
      await idp.confirmLogout();
      await page.waitForURL((url) => url.href.startsWith(`${APP_URL}/`));
      await app.expectLoggedOut();
    });
  });
});

test('a forged authorization response is rejected', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    const app = new AppPage(session.page, APP_URL);

    await step(session, t, 'open a callback URL with a state the app never issued', async () => {
      await app.open('/?code=x&state=forged');
      try {
        await app.authError.first().waitFor({ state: 'visible' });
      } catch (error) {
        throw new Error(`no authentication error shown (app state: ${await app.authState()})`, { cause: error });
      }
      const message = await app.authError.first().innerText();
      assert.match(message, /state/i, `error message should mention the state: "${message}"`);
      await app.loginButton.first().waitFor({ state: 'visible' });
      await app.expectCleanUrl();
    });
  });
});

test('a response the app refuses is not redeemed by the early script', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    const { page } = session;
    const app = new AppPage(page, APP_URL);
    const idp = new IdpPage(page, IDP_ISSUER);
    let state = null;
    const exchanges = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.href.startsWith(`${IDP_ISSUER}/auth`) && url.searchParams.get('prompt') !== 'none') {
        state = url.searchParams.get('state') ?? state;
      }
      if (request.method() === 'POST' && url.href.startsWith(`${IDP_ISSUER}/token`)) {
        exchanges.push(request.postData());
      }
    });

    await step(session, t, 'a sign-in starts: its request is pending', async () => {
      await app.open('/');
      await app.loginButton.first().click();
      await idp.waitUntilCurrent();
      assert.ok(state, 'the authorization request was seen');
    });

    await step(session, t, 'a response repeating `code`: refused, and no code exchange sent', async () => {
      const query = new URLSearchParams([['code', 'a'], ['code', 'b'], ['state', state], ['iss', IDP_ISSUER]]);
      await app.open(`/?${query}`);
      await app.authError.first().waitFor({ state: 'visible' });
      const message = await app.authError.first().innerText();
      assert.match(message, /repeat/i, `the error names the repeated parameter: "${message}"`);
      assert.deepEqual(exchanges, [], 'a code exchange left for a response the app refuses');
    });
  });
});
