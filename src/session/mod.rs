//! The client session, independent of any framework or browser: configuration, the
//! observable [`AuthState`], and the state machine that drives login, callback, silent
//! restore, renewal, logout and the tabs' agreement. The machine does no IO: a driver
//! (the browser's, in `browser`) carries out its commands.

#[cfg_attr(not(feature = "browser"), allow(dead_code))]
mod client;
mod config;
#[cfg_attr(not(feature = "browser"), allow(dead_code))]
pub(crate) mod machine;
mod state;

#[cfg(all(test, feature = "rust-crypto"))]
mod tests;

#[cfg_attr(not(feature = "browser"), allow(unused_imports))]
pub(crate) use client::{Client, Slot};
pub use config::{LoginOptions, LogoutOptions, MockUser, OidcConfig, RestoreMode};
#[cfg_attr(not(feature = "browser"), allow(unused_imports))]
pub(crate) use state::RawClaims;
pub use state::{AuthError, AuthState, RenewalMethod, SessionInfo, SignInMethod, User};

/// The page a silent sign-in's hidden iframe lands on: serve it at the
/// [`silent_redirect_uri`](OidcConfig::silent_redirect_uri) (by default
/// `/silent-callback.html`) and register that URI at the provider.
///
/// It hands its address (the authorization response) to the app that opened it, on the
/// app's own origin only, and loads nothing else: no second start of the app. The app
/// usually reads the frame's address before this page has run (as soon as the frame
/// is back on the app's origin); the page's own call into the [`EARLY_RESTORE_SCRIPT`]
/// and its `message` are there when that read comes late (timers are slowed in a hidden
/// tab). The address is only ever taken from the app's own frame.
pub const SILENT_CALLBACK_HTML: &str = "<!doctype html><meta charset=\"utf-8\"><title>Signing in</title><script>var p = window.parent; if (p !== window) { try { p.__oidcLeptosEarly.arrived(window); } catch (e) {} p.postMessage(location.href, location.origin); }</script>\n";

/// An inline script for the app's `index.html` (in `<head>`, before the app's own
/// script) that starts the silent sign-in of a reload while the app is still
/// downloading, so a restore costs about the longer of the two rather than their sum.
///
/// It reads the silent request the app left in session storage (no secrets: the
/// provider's metadata and a request template), makes fresh `state`, `nonce` and PKCE
/// values, and loads the request in a hidden iframe; the app takes the frame over when
/// it starts and checks its answer as any other (state, PKCE, ID token and nonce). The
/// answer is read from the frame as soon as the frame is back at the silent redirect
/// URI (the frame is then removed, once the code exchange below has left: a removal
/// holds up the page for a few milliseconds; its page never runs to the end). A
/// frame that stays on a page of its own (the browser's error page when the provider
/// cannot be reached) is given up after the grace the app stored (a fifth of its
/// silent timeout), and the app starts signed out without waiting for that timeout.
/// It does nothing on a first visit or after an explicit logout. Without it the app
/// starts the same sign-in itself, a little later.
///
/// When an authorization response arrives before the app has started (the frame's
/// answer, or the page is a callback), it also starts the code exchange at the
/// provider's token endpoint, once the response's `state` matches the request this
/// tab made, and only for a response the app accepts too (its `iss` as RFC 9207 asks,
/// a code and no error, no repeated parameter as RFC 6749 section 3.1 asks, a pending
/// request not expired): the app uses that answer if, when it gets to
/// the exchange after its own checks, it would send exactly the same request. The
/// code only ever goes to the token endpoint of the stored metadata, with this tab's
/// verifier. Where the script cannot send it (a browser without
/// `AbortSignal.timeout`), the app sends it itself.
///
/// ```html
/// <head><script>/* EARLY_RESTORE_SCRIPT */</script> ...</head>
/// ```
pub const EARLY_RESTORE_SCRIPT: &str = r#"(function () {
  try {
    var ss = sessionStorage, q = new URLSearchParams(location.search), key = null, cache, meta, i, k;
    var exchange = function (endpoint, code, verifier, redirect, client) {
      try {
        var body = new URLSearchParams({ grant_type: 'authorization_code', code: code, redirect_uri: redirect, client_id: client, code_verifier: verifier }).toString();
        window.__oidcLeptosExchange = { url: endpoint, body: body, response: fetch(endpoint, { method: 'POST', mode: 'cors', credentials: 'omit', redirect: 'error', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Accept': 'application/json' }, body: body, signal: AbortSignal.timeout(15000) })
          .then(function (r) { return r.text().then(function (t) { return { status: r.status, type: r.headers.get('content-type'), body: t }; }); }, function (e) { return { error: String(e) }; }) };
      } catch (e) { /* the app sends it itself */ }
    };
    var answers = function (p, iss) {
      var once = function (n) { return p.getAll(n).length < 2; };
      return p.get('code') && !p.has('error') && ['code', 'state', 'iss', 'error_description', 'error_uri'].every(once) &&
        (p.has('iss') ? p.get('iss') === iss : !meta.authorization_response_iss_parameter_supported);
    };
    if (q.get('state')) {
      for (i = 0; i < ss.length; i++) {
        k = ss.key(i);
        if (k.indexOf('oidc-leptos:') !== 0 || k.slice(-8) !== ':pending') continue;
        var s = JSON.parse(ss.getItem(k)), p = s.pending;
        meta = JSON.parse(JSON.parse(ss.getItem(k.slice(0, -8) + ':provider')).metadata);
        if (p.state === q.get('state') && meta.issuer === s.issuer && location.origin + location.pathname === p.redirect_uri.split(/[?#]/)[0] && answers(q, s.issuer) && Date.now() / 1000 - p.created_at < 900)
          exchange(meta.token_endpoint, q.get('code'), p.code_verifier, p.redirect_uri, s.client_id);
      }
      return;
    }
    for (i = 0; i < ss.length; i++) {
      k = ss.key(i);
      if (k.indexOf('oidc-leptos:') === 0 && k.slice(-9) === ':provider') { key = k; break; }
    }
    if (!key) return;
    cache = JSON.parse(ss.getItem(key));
    if (!cache.silent || !(Date.now() - cache.at < 600000) || localStorage.getItem(key.slice(0, -9) + ':logged-out')) return;
    meta = JSON.parse(cache.metadata);
    var b64 = function (b) {
      var s = '';
      for (var j = 0; j < b.length; j++) s += String.fromCharCode(b[j]);
      return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    };
    var fresh = function () { var b = new Uint8Array(32); crypto.getRandomValues(b); return b64(b); };
    var early = { key: key, state: fresh(), nonce: fresh(), verifier: fresh(), created: Date.now(), result: null, listener: null, frame: null };
    window.__oidcLeptosEarly = early;
    crypto.subtle.digest('SHA-256', new TextEncoder().encode(early.verifier)).then(function (d) {
      var f = document.createElement('iframe');
      f.setAttribute('aria-hidden', 'true');
      f.tabIndex = -1;
      f.style.cssText = 'position:absolute;width:0;height:0;border:0;visibility:hidden';
      f.src = cache.silent + '&state=' + early.state + '&nonce=' + early.nonce + '&code_challenge=' + b64(new Uint8Array(d)) + '&code_challenge_method=S256';
      var t = new URL(cache.silent).searchParams, back = t.get('redirect_uri'), at = back.split('?')[0];
      var answer = function (href, via) {
        if (early.result) return;
        early.result = href;
        early.via = via;
        var r = new URL(href).searchParams;
        if (r.get('state') === early.state && answers(r, meta.issuer))
          exchange(meta.token_endpoint, r.get('code'), early.verifier, back, t.get('client_id'));
        f.remove();
        if (early.listener) early.listener(href);
      };
      var poll = function () {
        var h = '';
        try { h = f.contentWindow.location.href; } catch (e) {}
        if (h !== back && h.split('?')[0] === at) answer(h, 'poll');
        else if (!early.result && f.isConnected) setTimeout(poll, 1);
      };
      early.arrived = function (w) { if (w === f.contentWindow) answer(w.location.href, 'call'); };
      var loads = 0;
      f.onload = function () {
        var n = ++loads;
        setTimeout(function () {
          if (early.result || n !== loads || !f.isConnected) return;
          early.failed = true;
          f.remove();
          if (early.listener) early.listener(null);
        }, cache.grace || 2000);
      };
      early.frame = f;
      document.documentElement.appendChild(f);
      poll();
    });
  } catch (e) { /* the app restores on its own */ }
})();
"#;
