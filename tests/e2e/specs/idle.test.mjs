// What a visitor sees of the session's idle timeout: the warning's countdown and the
// logout at its end, activity in one tab keeping every tab signed in, and a protected
// page opened signed out.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';

import {
  APP_URL, IDP_ISSUER, WAIT_MS, becomesVisible, idpStats, launchBrowser, openPage,
  overrideAppConfig, step, withPage,
} from '../lib/browser.mjs';
import { signIn as signInAs } from '../lib/session.mjs';
import { AppPage } from '../pages/app.mjs';
import { IdpPage } from '../pages/idp.mjs';

const TEST_TIMEOUT_MS = 120_000;
const user = 'alice';

// A short idle lifetime for these tests: the warning shows after 8 s without activity
// and counts down 4 s. A tab takes note of activity at most every 5 s, and tells the
// other tabs as often: the warning has to start later than that after the last
// activity, or an active user would see it flash.
const IDLE_SECS = 12;
const WARNING_SECS = 4;
const SHORT_IDLE = { idle_timeout_secs: IDLE_SECS, auto_logout_warning_secs: WARNING_SECS };

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

const signIn = (app, idp) => signInAs(app, idp, user);

test('left idle, the app counts down and signs out by itself', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    const { page } = session;
    const app = new AppPage(page, APP_URL);
    const idp = new IdpPage(page, IDP_ISSUER);
    await overrideAppConfig(session.context, SHORT_IDLE);

    await step(session, t, 'sign in; the status panel shows the idle timeout', async () => {
      await signIn(app, idp);
      await app.status('idle-timeout').filter({ hasText: `${IDLE_SECS} s` }).waitFor();
    });

    const before = await idpStats();
    const topLevel = [];
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) topLevel.push(frame.url());
    });

    let first;
    await step(session, t, 'nothing happens: the warning appears and counts down', async () => {
      await app.countdown.waitFor({ state: 'visible', timeout: IDLE_SECS * 1_000 });
      assert.equal(await app.countdown.getAttribute('role'), 'alertdialog');
      first = await app.countdownSeconds();
      assert.ok(first >= 1 && first <= WARNING_SECS, `countdown starts at ${first}`);
      await page.waitForFunction((start) => {
        const dialog = document.querySelector('[data-testid="auto-logout-countdown"]');
        const seconds = Number(dialog?.textContent.match(/\d+/)?.[0]);
        return seconds >= 1 && seconds < start;
      }, first, { timeout: 3_000 });
    });

    await step(session, t, 'at zero: signed out in place, without the IdP', async () => {
      await app.expectLoggedOut();
      assert.equal(await app.countdown.isVisible(), false, 'the warning outlived the session');
      await app.idleLoggedOut.waitFor({ state: 'visible' });
      assert.deepEqual(topLevel, [], 'the page navigated');
      assert.ok(new URL(page.url()).pathname === '/', `left the home page: ${page.url()}`);
      const after = await idpStats();
      assert.equal(after.authorizations, before.authorizations, 'went through the IdP');
    });
  });
});

test('activity in one tab keeps the other signed in; then both sign out', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    await overrideAppConfig(session.context, SHORT_IDLE);
    const a = new AppPage(session.page, APP_URL);
    const idpA = new IdpPage(session.page, IDP_ISSUER);
    const second = await openPage(browser, session.context);
    const b = new AppPage(second.page, APP_URL);
    try {
      await step(session, t, 'sign in in tab A; tab B follows', async () => {
        await b.open('/');
        await signIn(a, idpA);
        await b.expectLoggedIn(user);
      });

      const activeSecs = IDLE_SECS + 6;
      await step(session, t, `${activeSecs} s of pointer moves in tab B only: tab A never warns`, async () => {
        const end = Date.now() + activeSecs * 1_000;
        for (let i = 0; Date.now() < end; i += 1) {
          await second.page.mouse.move(10 + (i % 50), 20);
          // Paces the moves and checks tab A at once: its warning must not appear.
          const warned = await becomesVisible(a.countdown, 1_000);
          assert.equal(warned, false, `tab A warned ${Math.round((end - Date.now()) / 1_000)} s before the end`);
        }
        await a.expectLoggedIn(user);
        await b.expectLoggedIn(user);
        assert.equal(await b.countdown.isVisible(), false, 'tab B warned while in use');
      });

      await step(session, t, 'no more activity: both tabs warn, then both sign out', async () => {
        await a.countdown.waitFor({ state: 'visible', timeout: IDLE_SECS * 1_000 });
        await b.countdown.waitFor({ state: 'visible', timeout: IDLE_SECS * 1_000 });
        await a.expectLoggedOut();
        await b.expectLoggedOut();
      });
      assert.deepEqual(second.pageErrors, [], 'errors in tab B');
    } finally {
      await second.close();
    }
  });
});

test('opening /todos signed out goes through the IdP and comes back to /todos', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage(browser, t, async (session) => {
    const { page } = session;
    const app = new AppPage(page, APP_URL);
    const idp = new IdpPage(page, IDP_ISSUER);

    await step(session, t, 'Back from the IdP goes to the page before /todos, not into a loop', async () => {
      await app.open('/');
      await app.homeLogin.waitFor({ state: 'visible', timeout: WAIT_MS });
      await app.navTodos.click();
      await idp.waitUntilCurrent();
      await idp.loginInput.waitFor({ state: 'visible' });
      await page.goBack();
      assert.equal(page.url(), `${APP_URL}/`, 'Back lands on the page before the guarded one');
      await app.homeLogin.waitFor({ state: 'visible', timeout: WAIT_MS });
      assert.equal(page.url(), `${APP_URL}/`, 'the guard did not send the user off again');
    });

    await step(session, t, 'open /todos: the IdP asks for the user', async () => {
      await app.open('/todos');
      await idp.waitUntilCurrent();
      await idp.loginInput.waitFor({ state: 'visible' });
    });

    await step(session, t, 'after sign-in the TODO list of /todos shows', async () => {
      const seen = await idp.completeInteraction({ login: user, backAtApp: app.todoInput });
      assert.equal(seen[0], 'login', `expected the sign-in form first, saw: ${seen.join(', ')}`);
      await app.expectLoggedIn(user);
      await app.expectCleanUrl();
      assert.equal(new URL(page.url()).pathname, '/todos', `landed on ${page.url()}`);
      await app.addTodo(`from /todos ${randomUUID().slice(0, 8)}`);
    });
  });
});
