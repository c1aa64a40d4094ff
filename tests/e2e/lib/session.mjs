// Helpers shared by the specs that sign in and work with several tabs.

import assert from 'node:assert/strict';

import { APP_URL, IDP_ISSUER, openPage, withPage } from './browser.mjs';
import { AppPage } from '../pages/app.mjs';
import { IdpPage } from '../pages/idp.mjs';

/** Signs `user` in from a fresh signed-out app at `app`. */
export async function signIn(app, idp, user) {
  await app.open('/');
  await app.expectLoggedOut();
  await app.signIn(idp, user);
}

/**
 * Runs `body(session, a, idpA, second, b)` with two tabs of one browser profile: tab A
 * (with its IdP page object) and tab B. Fails on uncaught errors in tab B.
 */
export async function withTwoTabs(browser, t, body) {
  await withPage(browser, t, async (session) => {
    const a = new AppPage(session.page, APP_URL);
    const idpA = new IdpPage(session.page, IDP_ISSUER);
    const second = await openPage(browser, session.context);
    const b = new AppPage(second.page, APP_URL);
    try {
      await body(session, a, idpA, second, b);
      assert.deepEqual(second.pageErrors, [], 'errors in tab B');
    } finally {
      await second.close();
    }
  });
}
