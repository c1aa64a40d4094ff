// Browser set-up for the end-to-end tests: Debian's Chromium driven by playwright-core,
// kept on loopback, with console output and page errors collected per page so a failing
// test can show what the browser saw.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const trimSlash = (url) => url.replace(/\/+$/, '');

export const APP_URL = trimSlash(process.env.APP_URL || 'http://localhost:3000');
export const IDP_ISSUER = trimSlash(process.env.IDP_ISSUER || 'http://localhost:9000');
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Longest single wait (element, navigation) in milliseconds. */
export const WAIT_MS = 15_000;

export const ARTIFACTS_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'artifacts',
);

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Starts Chromium with a fresh, throw-away profile. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/**
 * Starts Chromium with a throw-away profile whose settings block third-party
 * cookies. Returns `{ context, close }`: a persistent context (one profile, one
 * context) and what ends it.
 */
export async function launchBlockingThirdPartyCookies() {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'e2e-profile-'));
  await mkdir(path.join(profile, 'Default'));
  const preferences = { profile: { block_third_party_cookies: true, cookie_controls_mode: 1 } };
  await writeFile(path.join(profile, 'Default', 'Preferences'), JSON.stringify(preferences));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  await recordAuthStates(context);
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

const isLoopback = (url) => {
  try {
    const { protocol, hostname } = new URL(url);
    if (!protocol.startsWith('http')) return true;
    return ['localhost', '127.0.0.1', '[::1]'].includes(hostname);
  } catch {
    return true;
  }
};

/** The dev IdP's counters: `{ grants: {type: n}, errors: {code: n}, authorizations }`. */
export async function idpStats() {
  const response = await fetch(`${IDP_ISSUER}/__dev/stats`);
  if (!response.ok) throw new Error(`IdP stats answered HTTP ${response.status}`);
  const stats = await response.json();
  return {
    code: stats.grants.authorization_code || 0,
    refresh: stats.grants.refresh_token || 0,
    invalidGrant: stats.errors.invalid_grant || 0,
    authorizations: stats.authorizations,
    lostAnswers: stats.lostAnswers,
    refusedRefreshes: stats.refusedRefreshes,
  };
}

/**
 * Runs `body` and returns the addresses the page's top-level frame navigated to
 * meanwhile (a reload's own navigation included).
 */
export async function topLevelNavigations(page, body) {
  const urls = [];
  const onNavigation = (frame) => {
    if (frame === page.mainFrame()) urls.push(frame.url());
  };
  page.on('framenavigated', onNavigation);
  try {
    await body();
  } finally {
    page.off('framenavigated', onNavigation);
  }
  return urls;
}

/**
 * Records, in every page of `context`, the sequence of sign-in states the app showed
 * (`pending`, `out`, `in`, `error`) in `window.__authStates`.
 */
export async function recordAuthStates(context) {
  await context.addInitScript(() => {
    const states = [];
    window.__authStates = states;
    const read = () => {
      if (document.querySelector('[data-testid="user-name"]')) return 'in';
      if (document.querySelector('[data-testid="auth-error"]')) return 'error';
      if (document.querySelector('[data-testid="login"]')) return 'out';
      return 'pending';
    };
    new MutationObserver(() => {
      const now = read();
      if (states[states.length - 1] !== now) states.push(now);
    }).observe(document, { subtree: true, childList: true });
  });
}

/**
 * Opens a page in its own browser context and records what happens in it.
 * Returns `{ context, page, pageErrors, console, offLoopback, report, close }`.
 */
export async function openPage(browser, context = null) {
  const own = !context;
  if (own) {
    context = await browser.newContext();
    await recordAuthStates(context);
  }
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.setDefaultNavigationTimeout(WAIT_MS);

  const pageErrors = [];
  const consoleLines = [];
  const offLoopback = [];

  page.on('pageerror', (error) => {
    pageErrors.push(error);
    consoleLines.push(`[pageerror] ${error.stack || error.message}`);
  });
  page.on('console', (message) => {
    consoleLines.push(`[${message.type()}] ${message.text()}`);
  });
  page.on('requestfailed', (request) => {
    consoleLines.push(`[requestfailed] ${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  page.on('request', (request) => {
    if (!isLoopback(request.url())) offLoopback.push(request.url());
  });

  /** Text summary for a failure message. */
  function report() {
    const lines = [`page URL: ${page.url()}`];
    lines.push(consoleLines.length ? 'browser console:' : 'browser console: (empty)');
    lines.push(...consoleLines.map((line) => `  ${line}`));
    if (offLoopback.length) lines.push(`requests off loopback: ${offLoopback.join(', ')}`);
    return lines.join('\n');
  }

  return {
    context,
    page,
    pageErrors,
    console: consoleLines,
    offLoopback,
    report,
    close: () => (own ? context.close() : page.close()),
  };
}

const slug = (text) => text.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();

/** Saves a full-page screenshot under artifacts/ and returns its path (or null). */
export async function saveScreenshot(page, name) {
  try {
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    const file = path.join(ARTIFACTS_DIR, `${slug(name)}-${Date.now()}.png`);
    await page.screenshot({ path: file, fullPage: true, timeout: 5_000 });
    return file;
  } catch {
    return null;
  }
}

/**
 * Runs `body(session)` on a fresh page. Fails on uncaught page errors; on any failure
 * it saves a screenshot and prints the browser console before rethrowing.
 */
export async function withPage(browser, t, body, context = null) {
  const session = await openPage(browser, context);
  try {
    await body(session);
    if (session.pageErrors.length) {
      throw new Error(`uncaught error(s) in the page:\n${session.pageErrors.map((e) => e.stack || e.message).join('\n')}`);
    }
  } catch (error) {
    const shot = await saveScreenshot(session.page, t.name);
    console.error(`\n--- ${t.name} failed ---\n${session.report()}`);
    if (shot) console.error(`screenshot: ${shot}`);
    throw error;
  } finally {
    await session.close();
  }
}

/**
 * Runs one named step of a test; a failure names the step, and an uncaught page error
 * during the step fails it.
 */
export async function step(session, t, name, body) {
  t.diagnostic(`step: ${name}`);
  const errorsBefore = session.pageErrors.length;
  try {
    await body();
  } catch (error) {
    throw new Error(`[${name}] ${error.message}`, { cause: error });
  }
  if (session.pageErrors.length > errorsBefore) {
    const fresh = session.pageErrors.slice(errorsBefore);
    throw new Error(`[${name}] uncaught error in the page: ${fresh.map((e) => e.message).join('; ')}`);
  }
}

/**
 * Serves the app's `config.json` to every page of `context` with `overrides` merged in
 * (e.g. a short idle timeout for one test).
 */
export async function overrideAppConfig(context, overrides) {
  await context.route('**/config.json', async (route) => {
    const response = await route.fetch();
    const config = { ...(await response.json()), ...overrides };
    await route.fulfill({ response, json: config });
  });
}

/**
 * Waits up to `ms` for `locator` to become visible: true if it did, false if the time
 * ran out (any other failure is thrown).
 */
export async function becomesVisible(locator, ms) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout: ms });
    return true;
  } catch (error) {
    if (error.name === 'TimeoutError') return false;
    throw error;
  }
}
