// Page object for the example TODO app. Everything is found through its `data-testid`
// attributes.

import assert from 'node:assert/strict';

import { APP_URL, WAIT_MS } from '../lib/browser.mjs';

const CALLBACK_PARAMS = ['code', 'state', 'iss', 'error', 'session_state'];

export class AppPage {
  /**
   * @param {import('playwright-core').Page} page
   * @param {string} appUrl
   */
  constructor(page, appUrl = APP_URL) {
    this.page = page;
    this.appUrl = appUrl;
    this.loginButton = page.getByTestId('login');
    this.logoutButton = page.getByTestId('logout');
    this.userName = page.getByTestId('user-name');
    this.authError = page.getByTestId('auth-error');
    this.apiError = page.getByTestId('api-error');
    this.todoInput = page.getByTestId('todo-input');
    this.todoAdd = page.getByTestId('todo-add');
    this.todoItems = page.getByTestId('todo-item');
    this.navTodos = page.getByTestId('nav-todos');
    this.navProfile = page.getByTestId('nav-profile');
    this.homeLogin = page.getByTestId('home-login');
    this.idleLoggedOut = page.getByTestId('idle-logged-out');
    this.countdown = page.getByTestId('auto-logout-countdown');
  }

  /** A value of the session status panel, e.g. `status('token-expires')`. */
  status(name) {
    return this.page.getByTestId(`status-${name}`);
  }

  /** A claim shown on the profile page, e.g. `profileClaim('email')`. */
  profileClaim(name) {
    return this.page.getByTestId(`profile-${name}`);
  }

  /** The seconds the auto-logout warning shows, or null when it is not shown. */
  async countdownSeconds() {
    const text = await this.countdown.innerText({ timeout: 1_000 }).catch(() => null);
    const match = text?.match(/\d+/);
    return match ? Number(match[0]) : null;
  }

  /** True when the page currently shows a URL of the app. */
  isCurrent() {
    return this.page.url().startsWith(`${this.appUrl}/`) || this.page.url() === this.appUrl;
  }

  async open(pathAndQuery = '/') {
    await this.page.goto(new URL(pathAndQuery, `${this.appUrl}/`).href);
  }

  async reload() {
    await this.page.reload();
  }

  /** Something the app shows once it is back from the identity provider. */
  get settled() {
    return this.userName.or(this.authError);
  }

  /**
   * Waits until the app shows a defined authentication state and returns it:
   * `'logged-in'`, `'logged-out'` or `'failed'` (never a blank or loading page).
   */
  async authState() {
    await this.userName.or(this.loginButton).or(this.authError).first()
      .waitFor({ state: 'visible', timeout: WAIT_MS });
    if (await this.authError.isVisible()) return 'failed';
    if (await this.userName.isVisible()) return 'logged-in';
    return 'logged-out';
  }

  /** Waits for the signed-out header: the login button, and neither a user nor an error. */
  async expectLoggedOut() {
    await this.loginButton.first().waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.equal(await this.userName.count(), 0, 'user name still shown after signing out');
    // The failed state shows a login button too.
    if (await this.authError.count()) {
      assert.fail(`app shows an authentication error: ${await this.authError.first().innerText()}`);
    }
  }

  /** Waits for the signed-in header and checks it names `name`. */
  async expectLoggedIn(name) {
    await this.settled.first().waitFor({ state: 'visible', timeout: WAIT_MS });
    if (await this.authError.isVisible()) {
      assert.fail(`app shows an authentication error: ${await this.authError.first().innerText()}`);
    }
    await this.userName.filter({ hasText: name }).waitFor({ state: 'visible', timeout: WAIT_MS });
  }

  /** Waits until the authorization response parameters are gone from the address bar. */
  async expectCleanUrl() {
    const clean = (url) => CALLBACK_PARAMS.every((name) => !url.searchParams.has(name));
    await this.page.waitForURL(clean, { timeout: WAIT_MS });
  }

  /** Everything the page keeps in web storage, as one string. */
  async webStorage() {
    return this.page.evaluate(() => JSON.stringify({
      session: { ...window.sessionStorage },
      local: { ...window.localStorage },
    }));
  }

  /** Starts signing in: clicks the app's login button. */
  async clickLogin() {
    await this.loginButton.first().click();
  }

  async clickLogout() {
    await this.logoutButton.click();
  }

  /**
   * Full sign-in from a signed-out app through whatever the identity provider asks for.
   * Returns the provider pages that were shown (see IdpPage#completeInteraction).
   */
  async signIn(idp, login, password) {
    await this.clickLogin();
    const seen = await idp.completeInteraction({ login, password, backAtApp: this.settled });
    await this.expectLoggedIn(login);
    return seen;
  }

  /** Shows the TODO list page (through the app's menu unless it is already shown). */
  async showTodos() {
    if (!(await this.todoInput.isVisible())) await this.navTodos.click();
    await this.todoInput.waitFor({ state: 'visible', timeout: WAIT_MS });
  }

  /** The TODO item showing exactly `title`. */
  todoItem(title) {
    return this.todoItems.filter({ hasText: title });
  }

  async expectTodo(title) {
    await this.showTodos();
    try {
      await this.todoItem(title).first().waitFor({ state: 'visible', timeout: WAIT_MS });
    } catch (error) {
      const apiError = (await this.apiError.count()) ? await this.apiError.first().innerText() : '';
      const shown = await this.todoItems.allInnerTexts();
      throw new Error(
        `TODO "${title}" not listed; items shown: ${JSON.stringify(shown)}`
          + (apiError ? `; API error: ${apiError}` : ''),
        { cause: error },
      );
    }
  }

  async addTodo(title) {
    await this.showTodos();
    await this.todoInput.fill(title);
    await this.todoAdd.click();
    await this.expectTodo(title);
  }
}
