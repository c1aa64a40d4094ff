// Mock mode: the example runs with no identity provider. The front end signs in as the
// configured user, the API accepts that user's unsigned token (and only because it runs
// with MOCK_AUTH=1, which it says loudly in its log).

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';

import { launchBrowser, step, withPage, WAIT_MS } from '../lib/browser.mjs';

const MOCK_APP_URL = process.env.MOCK_APP_URL;
const MOCK_ISSUER = process.env.MOCK_ISSUER;
const MOCK_API_LOG = process.env.MOCK_API_LOG;

let browser;

before(async () => {
  assert.ok(MOCK_APP_URL && MOCK_ISSUER && MOCK_API_LOG, 'MOCK_APP_URL, MOCK_ISSUER and MOCK_API_LOG are set by the e2e script');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test('mock mode renders the user and the TODOs with no identity provider', { timeout: 120_000 }, async (t) => {
  await withPage(browser, t, async (session) => {
    const { page } = session;
    const toIssuer = [];
    page.on('request', (r) => {
      if (r.url().startsWith(MOCK_ISSUER)) toIssuer.push(r.url());
    });
    const title = `mock todo ${randomUUID().slice(0, 8)}`;

    await step(session, t, 'the protected page opens signed in as the mock user', async () => {
      await page.goto(`${MOCK_APP_URL}/todos`);
      await page.getByTestId('user-name').first().waitFor({ state: 'visible', timeout: WAIT_MS });
      assert.equal((await page.getByTestId('user-name').first().textContent()).trim(), 'Mock User');
    });

    await step(session, t, 'the API accepts the mock token', async () => {
      await page.getByTestId('todo-input').fill(title);
      await page.getByTestId('todo-add').click();
      await page.getByTestId('todo-item').filter({ hasText: title }).waitFor({ timeout: WAIT_MS });
      assert.equal(await page.getByTestId('api-error').count(), 0);
    });

    await step(session, t, 'logout and login switch without leaving the app', async () => {
      await page.getByTestId('logout').first().click();
      await page.getByTestId('login').first().waitFor({ timeout: WAIT_MS });
      await page.getByTestId('login').first().click();
      await page.getByTestId('user-name').first().waitFor({ timeout: WAIT_MS });
      assert.ok(page.url().startsWith(MOCK_APP_URL), page.url());
    });

    assert.deepEqual(toIssuer, [], 'nothing is sent to the issuer in mock mode');
    const log = await readFile(MOCK_API_LOG, 'utf8');
    assert.match(log, /MOCK_AUTH=1: NO REAL AUTHENTICATION/);
  });
});
