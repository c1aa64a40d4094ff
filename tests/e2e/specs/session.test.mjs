// The session across reloads and tabs: silent restore (hidden iframe when the IdP is
// same-site, top-level redirect when it is not), logout remembered, tabs following
// each other's login and logout, an IdP outage and a lost refresh answer. (Two tabs
// renewing for two minutes: long/renewal.test.mjs.)

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  APP_URL, IDP_ISSUER, idpStats, launchBlockingThirdPartyCookies, launchBrowser, step,
  topLevelNavigations, withPage,
} from '../lib/browser.mjs';
import { signIn as signInAs, withTwoTabs as withTwoTabsOf } from '../lib/session.mjs';
import { AppPage } from '../pages/app.mjs';
import { IdpPage } from '../pages/idp.mjs';

const TEST_TIMEOUT_MS = 180_000;
const user = 'alice';

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

const authStates = (page) => page.evaluate(() => window.__authStates.slice());

const signIn = (app, idp) => signInAs(app, idp, user);
const withTwoTabs = (t, body) => withTwoTabsOf(browser, t, body);

/** What the app keeps in web storage: no token, only time markers and the last activity
 * (a time and the user's tag, a number). */
async function expectNoTokensStored(app) {
  const storage = JSON.parse(await app.webStorage());
  // Session storage: at most the provider's public metadata and keys.
  for (const [key, value] of Object.entries(storage.session)) {
    assert.match(key, /:provider$/, `unexpected session storage key ${key}`);
    assert.deepEqual(Object.keys(JSON.parse(value)).sort(), ['at', 'grace', 'keys', 'metadata', 'silent']);
  }
  for (const [key, value] of Object.entries(storage.local)) {
    assert.match(key, /:(signed-in|logged-out|activity)$/, `unexpected local storage key ${key}`);
    if (key.endsWith(':activity')) assert.match(value, /^(\d+ \d+|lost)$/, `${key} holds more than a time and a tag: ${value}`);
    else assert.match(value, /^\d+$/, `${key} holds more than a time: ${value}`);
  }
}

test('reload restores the session through the hidden iframe; logout is remembered', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    const { page } = session;
    const app = new AppPage(page, APP_URL);
    const idp = new IdpPage(page, IDP_ISSUER);

    await step(session, t, 'sign in', async () => {
      await signIn(app, idp);
      await expectNoTokensStored(app);
    });

    await step(session, t, 'reload: signed in again without a page of the IdP, never shown signed out', async () => {
      // Whether the early script's frame is still in the page when its code exchange
      // leaves: removing a frame holds up the page, so the exchange goes first.
      await page.addInitScript(() => {
        const fetch = window.fetch;
        window.fetch = function (url, init) {
          if (String(url).endsWith('/token')) window.__frameAtExchange = window.__oidcLeptosEarly?.frame?.isConnected;
          return fetch.call(this, url, init);
        };
      });
      const before = await idpStats();
      const topLevel = await topLevelNavigations(page, async () => {
        await app.reload();
        await app.expectLoggedIn(user);
      });
      const states = await authStates(page);
      assert.ok(!states.includes('out'), `the app showed signed-out during restore: ${states.join(' > ')}`);
      // The page's inline script started the silent sign-in before the app loaded.
      const early = await page.evaluate(() => typeof window.__oidcLeptosEarly?.result === 'string');
      assert.ok(early, 'the early restore script did not run or was not answered');
      // The script took the frame's answer itself (read from the frame, or handed over by
      // the callback page's direct call), not from a message queued behind the app's start.
      const via = await page.evaluate(() => window.__oidcLeptosEarly?.via);
      assert.ok(['poll', 'call'].includes(via), `the early script took the frame's answer itself, not by a message (${via})`);
      const frameAtExchange = await page.evaluate(() => window.__frameAtExchange);
      assert.equal(frameAtExchange, true, 'the code exchange left before the frame was removed');
      assert.ok(topLevel.every((url) => url.startsWith(APP_URL)), `left the app: ${topLevel.join(', ')}`);
      const after = await idpStats();
      assert.equal(after.code - before.code, 1, 'one code exchange per restore');
      assert.equal(after.refresh - before.refresh, 0, 'a restore starts its own token family');
      await expectNoTokensStored(app);
    });

    await step(session, t, 'log out, then a reload stays signed out', async () => {
      await app.clickLogout();
      await idp.confirmLogout();
      await page.waitForURL((url) => url.href.startsWith(`${APP_URL}/`));
      await app.expectLoggedOut();
      const before = await idpStats();
      await app.reload();
      await app.expectLoggedOut();
      const after = await idpStats();
      assert.equal(after.authorizations, before.authorizations, 'no silent sign-in after an explicit logout');
    });

    await step(session, t, 'the next login asks for the user', async () => {
      await app.clickLogin();
      await idp.waitUntilCurrent();
      await idp.loginInput.waitFor({ state: 'visible' });
    });
  });
});

test('a reload restores even where the early script cannot send the code exchange', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    const { page } = session;
    const app = new AppPage(page, APP_URL);
    const idp = new IdpPage(page, IDP_ISSUER);

    await step(session, t, 'sign in', async () => {
      await signIn(app, idp);
    });

    await step(session, t, 'reload where the exchange fails as it is made: no uncaught error, the app sends it', async () => {
      // The early script's exchange throws as it is made (its form body cannot be
      // encoded); the app's own requests are left alone.
      await page.addInitScript(() => {
        const encode = TextEncoder.prototype.encode;
        TextEncoder.prototype.encode = function (text) {
          if (String(text).startsWith('grant_type=authorization_code')) throw new TypeError('cannot encode');
          return encode.call(this, text);
        };
      });
      const before = await idpStats();
      await app.reload();
      await app.expectLoggedIn(user);
      const early = await page.evaluate(() => typeof window.__oidcLeptosEarly?.result === 'string');
      assert.ok(early, 'the early restore script did not run or was not answered');
      const after = await idpStats();
      assert.equal(after.code - before.code, 1, 'one code exchange per restore');
    });
  });
});

test('a cross-site IdP restores through a top-level redirect, third-party cookies blocked', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // The same app under another host name: for the browser the IdP is another site,
  // so the hidden iframe would not see its cookies; and this browser's settings
  // block third-party cookies outright.
  const crossSite = APP_URL.replace('localhost', '127.0.0.1');
  const blocking = await launchBlockingThirdPartyCookies();
  t.after(() => blocking.close());
  await withPage(null, t, async (session) => {
    const { page } = session;
    const app = new AppPage(page, crossSite);
    const idp = new IdpPage(page, IDP_ISSUER);

    await step(session, t, 'the browser blocks third-party cookies', async () => {
      await app.open('/');
      await app.expectLoggedOut();
      // The IdP in a frame of the app: it has no access to its own cookies there.
      const url = `${IDP_ISSUER}/.well-known/openid-configuration`;
      await page.evaluate((src) => new Promise((done) => {
        const frame = document.createElement('iframe');
        frame.id = 'cookie-probe';
        frame.onload = done;
        frame.src = src;
        document.body.append(frame);
      }), url);
      const probe = page.frames().find((f) => f.url() === url);
      assert.ok(probe, 'the probe frame did not load');
      assert.equal(await probe.evaluate(() => document.hasStorageAccess()), false);
      await page.evaluate(() => document.getElementById('cookie-probe').remove());
    });

    await step(session, t, 'sign in', async () => {
      const before = await idpStats();
      await signIn(app, idp);
      // A first visit makes no silent attempt: nothing says this browser was signed in.
      const after = await idpStats();
      assert.equal(after.authorizations - before.authorizations, 1);
    });

    await step(session, t, 'reload goes to the IdP with prompt=none and comes back signed in', async () => {
      // The provider answers with a redirect at once: its address shows in the
      // page's navigation requests, not as a page.
      const visited = [];
      const onRequest = (request) => {
        if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
          visited.push(request.url());
        }
      };
      page.on('request', onRequest);
      await app.reload();
      await app.expectLoggedIn(user);
      await app.expectCleanUrl();
      page.off('request', onRequest);
      const atIdp = visited.filter((url) => url.startsWith(IDP_ISSUER));
      assert.ok(atIdp.some((url) => url.includes('prompt=none')), `no silent redirect: ${visited.join(', ')}`);
    });
  }, blocking.context);
});

test('tabs follow each other: login signs the other tab in, logout signs every tab out', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withTwoTabs(t, async (session, a, idpA, _second, b) => {
    await step(session, t, 'both tabs start signed out', async () => {
      await a.open('/');
      await b.open('/');
      await a.expectLoggedOut();
      await b.expectLoggedOut();
    });

    await step(session, t, 'login in tab A signs tab B in, with its own code exchange', async () => {
      const before = await idpStats();
      await a.signIn(idpA, user);
      await b.expectLoggedIn(user);
      const after = await idpStats();
      assert.equal(after.code - before.code, 2, 'each tab exchanges its own code');
    });

    await step(session, t, 'logout in tab A signs tab B out', async () => {
      await a.clickLogout();
      await b.expectLoggedOut();
      await idpA.confirmLogout();
      await a.expectLoggedOut();
    });
  });
});

/** Switches the dev IdP's outage mode: every request dropped, as by a stopped server. */
async function idpOutage(on) {
  const response = await fetch(`${IDP_ISSUER}/__dev/outage?on=${on ? 1 : 0}`, { method: 'POST' });
  assert.equal(response.status, 204);
}

test('the IdP goes down: the app reports the failed renewal, stays signed in and recovers', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    const app = new AppPage(session.page, APP_URL);
    const idp = new IdpPage(session.page, IDP_ISSUER);

    /** Adds a TODO; resolves to 'added' or to the API error the app shows. */
    const tryAdd = async (title) => {
      await app.todoInput.fill(title);
      await app.todoAdd.click();
      const item = app.todoItem(title).first();
      await item.or(app.apiError.first()).waitFor({ state: 'visible', timeout: 40_000 });
      return (await item.isVisible()) ? 'added' : app.apiError.first().innerText();
    };

    await step(session, t, 'signed in, the API works', async () => {
      await signIn(app, idp);
      await app.addTodo('before the outage');
    });

    try {
      await step(session, t, 'IdP down: once the token expires, the renewal error shows', async () => {
        await idpOutage(true);
        // The calls keep working while the current token is valid (4 s here), then
        // the renewal that cannot reach the IdP fails and the error shows.
        let outcome = 'added';
        const until = Date.now() + 60_000;
        for (let i = 0; outcome === 'added' && Date.now() < until; i += 1) {
          outcome = await tryAdd(`during the outage ${i}`);
          if (outcome === 'added') await session.page.waitForTimeout(1_000);
        }
        assert.notEqual(outcome, 'added', 'every call succeeded for a minute with the IdP down');
        t.diagnostic(`shown: ${outcome}`);
        assert.match(outcome, /timed out|expired|network|token/i);
        // Still signed in: a provider that is down is not a logout.
        await app.expectLoggedIn(user);
      });
    } finally {
      await idpOutage(false);
    }

    await step(session, t, 'IdP back: the next calls succeed, no sign-in needed', async () => {
      // The error of the outage stays on screen until a call succeeds.
      let outcome = '';
      for (let i = 0; i < 5 && outcome !== 'added'; i += 1) {
        await app.todoInput.fill(`after the outage ${i}`);
        await app.todoAdd.click();
        try {
          await app.todoItem(`after the outage ${i}`).first().waitFor({ state: 'visible', timeout: 10_000 });
          outcome = 'added';
        } catch {
          outcome = await app.apiError.first().innerText().catch(() => 'nothing shown');
        }
      }
      assert.equal(outcome, 'added');
      await app.expectLoggedIn(user);
    });
  });
});

/** Makes the dev IdP carry out the next `n` token requests and drop their answers. */
async function loseTokenAnswers(n) {
  const response = await fetch(`${IDP_ISSUER}/__dev/lose-token-answers?n=${n}`, { method: 'POST' });
  assert.equal(response.status, 204);
}

test('a refresh whose answer is lost does not end the session: the spent token is not sent again', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    const app = new AppPage(session.page, APP_URL);
    const idp = new IdpPage(session.page, IDP_ISSUER);

    await step(session, t, 'signed in, the API works', async () => {
      await signIn(app, idp);
      await app.addTodo('before the lost answer');
    });

    const before = await idpStats();
    await step(session, t, 'a refresh is carried out by the IdP and its answer lost', async () => {
      await loseTokenAnswers(1);
      try {
        // The user works: the 4 s access token is renewed ahead of time.
        for (let i = 0; (await idpStats()).lostAnswers === before.lostAnswers; i += 1) {
          assert.ok(i < 60, 'no token request in 30 s');
          await session.page.mouse.move(10 + (i % 50), 10);
          await session.page.waitForTimeout(500);
        }
      } finally {
        await loseTokenAnswers(0);
      }
    });

    await step(session, t, 'the session goes on: no invalid_grant, the API works', async () => {
      // Several access-token lifetimes of work after the lost answer.
      const refreshes = (await idpStats()).refresh;
      for (let i = 0; (await idpStats()).refresh < refreshes + 3; i += 1) {
        assert.ok(i < 60, 'renewals stopped after the lost answer');
        await session.page.mouse.move(10 + (i % 50), 20);
        if (i % 4 === 0) await app.addTodo(`after the lost answer ${i}`);
        await session.page.waitForTimeout(500);
      }
      await app.addTodo('last');
      await app.expectLoggedIn(user);
      const after = await idpStats();
      assert.equal(after.invalidGrant - before.invalidGrant, 0, 'invalid_grant seen: the spent refresh token was sent again');
      t.diagnostic(`after the lost answer: ${after.authorizations - before.authorizations} silent sign-in(s), ${after.refresh - refreshes} refreshes`);
    });
  });
});

/** Makes the dev IdP refuse the next `n` refresh-token grants with `invalid_grant`. */
async function refuseRefresh(n) {
  const response = await fetch(`${IDP_ISSUER}/__dev/refuse-refresh?n=${n}`, { method: 'POST' });
  assert.equal(response.status, 204);
}

/** Keeps the user active on `page` (the pointer moves) until `done()` says so. */
async function activeUntil(page, done, what) {
  const until = Date.now() + 30_000;
  for (let i = 0; Date.now() < until; i += 1) {
    if (await done()) return;
    await page.mouse.move(10 + (i % 50), 10);
    await page.waitForTimeout(250);
  }
  assert.fail(`not ${what} after 30 s of activity`);
}

test('a refused refresh token: replaced through the frame on the same site, else the session ends and says so', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    const { page } = session;
    const app = new AppPage(page, APP_URL);
    const idp = new IdpPage(page, IDP_ISSUER);
    await step(session, t, 'signed in', () => signIn(app, idp));

    await step(session, t, 'the refresh is refused: a silent sign-in brings a new grant', async () => {
      const before = await idpStats();
      await refuseRefresh(1);
      // The user is active: the access token (4 s) is renewed ahead of time.
      await activeUntil(page, async () => (await idpStats()).refusedRefreshes > before.refusedRefreshes, 'refused');
      await activeUntil(page, async () => (await idpStats()).code > before.code, 'signed in again silently');
      await app.expectLoggedIn(user);
      assert.equal(await page.getByTestId('session-lost').count(), 0);
      await app.addTodo('after a refused refresh');
    });
  });

  // The IdP on another site: no frame can ask it, the session ends in every tab.
  const crossSite = APP_URL.replace('localhost', '127.0.0.1');
  await withPage(browser, t, async (session) => {
    const { page } = session;
    const app = new AppPage(page, crossSite);
    const idp = new IdpPage(page, IDP_ISSUER);
    await step(session, t, 'signed in, the IdP on another site', () => signIn(app, idp));

    await step(session, t, 'the refresh is refused: signed out, and told why', async () => {
      await refuseRefresh(1);
      const notice = page.getByTestId('session-lost');
      await activeUntil(page, () => notice.isVisible(), 'told the session ended');
      await app.expectLoggedOut();
    });
  });
});
