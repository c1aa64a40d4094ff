// Page object for the dev identity provider's own pages: the sign-in form, the consent
// page and the sign-out confirmation.

import { IDP_ISSUER, WAIT_MS } from '../lib/browser.mjs';

export class IdpPage {
  /**
   * @param {import('playwright-core').Page} page
   * @param {string} issuer
   */
  constructor(page, issuer = IDP_ISSUER) {
    this.page = page;
    this.issuer = issuer;
    this.loginInput = page.locator('input[name="login"]');
    this.passwordInput = page.locator('input[name="password"]');
    this.loginSubmit = page.locator('form:has(input[name="prompt"][value="login"]) [type="submit"]');
    this.consentSubmit = page.locator('form:has(input[name="prompt"][value="consent"]) [type="submit"]');
    this.logoutForm = page.locator('form[id="op.logoutForm"]');
    this.logoutConfirm = page.locator('button[name="logout"][value="yes"]');
  }

  /** True when the page currently shows a URL of the identity provider. */
  isCurrent() {
    return this.page.url().startsWith(`${this.issuer}/`);
  }

  /** Waits until the browser is on one of the identity provider's pages. */
  async waitUntilCurrent() {
    await this.page.waitForURL((url) => url.href.startsWith(`${this.issuer}/`), { timeout: WAIT_MS });
  }

  /** Clicks `button` and waits for the page to move to another URL. */
  async #submitAndLeave(button) {
    const before = this.page.url();
    await button.click();
    await this.page.waitForURL((url) => url.href !== before, { timeout: WAIT_MS });
  }

  /** Fills and submits the sign-in form (any login and password are accepted). */
  async signIn(login, password = 'any-password') {
    await this.loginInput.fill(login);
    await this.passwordInput.fill(password);
    await this.#submitAndLeave(this.loginSubmit);
  }

  /** Accepts the consent page. */
  async consent() {
    await this.#submitAndLeave(this.consentSubmit);
  }

  /**
   * Walks whatever the provider shows until the browser is back at the app, which is
   * recognised by `backAtApp` (a locator that becomes visible there). The provider may
   * show the sign-in form, the consent page, both, or neither (existing session and
   * grant). Returns the pages seen, e.g. `['login', 'consent']`.
   */
  async completeInteraction({ login, password, backAtApp }) {
    const seen = [];
    for (let round = 0; round < 4; round += 1) {
      await this.loginInput.or(this.consentSubmit).or(backAtApp).first()
        .waitFor({ state: 'visible', timeout: WAIT_MS });
      if (!this.isCurrent() && (await backAtApp.first().isVisible())) {
        return seen;
      }
      if (await this.loginInput.isVisible()) {
        seen.push('login');
        await this.signIn(login, password);
      } else if (await this.consentSubmit.isVisible()) {
        seen.push('consent');
        await this.consent();
      }
    }
    throw new Error(`still at the identity provider after ${seen.join(', ')} (${this.page.url()})`);
  }

  /** On the RP-initiated logout page, confirms signing out. */
  async confirmLogout() {
    await this.waitUntilCurrent();
    await this.logoutForm.waitFor({ state: 'attached', timeout: WAIT_MS });
    await this.#submitAndLeave(this.logoutConfirm);
  }
}
