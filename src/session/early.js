// EARLY_RESTORE_SCRIPT: the page's inline script. It brings the driver's functions
// (the app's wasm calls them), then starts what a reload or a callback can start
// before the app has loaded.
import { request } from '../browser/driver.js';

// A page's first use of its origin's local storage loads it, which holds the page up
// for some milliseconds (5 to 11 ms measured in Chromium): done in a task of its own, while
// the page waits on the network for the wasm and the provider, not as the app starts
// (it reads its markers there first).
setTimeout(function () {
  try { localStorage.length; } catch (e) { /* blocked: the app reads nothing either */ }
});

(function () {
  try {
    var ss = sessionStorage, q = new URLSearchParams(location.search), key = null, cache, meta, i, k;
    // A form POST as the app's driver sends it (timeout, size cap: the app's 1 MiB).
    var post = function (endpoint, form) {
      return request(endpoint, 'POST', 'content-type\napplication/x-www-form-urlencoded\naccept\napplication/json', new TextEncoder().encode(new URLSearchParams(form).toString()), 15000, 1048576);
    };
    // The code exchange, sent now: the app's request for it takes its answer (see
    // `request` in driver.js), with the time it came. `revoke`: for an answer the app
    // does not take, the refresh token it brought is revoked (RFC 7009).
    var exchange = function (endpoint, code, verifier, redirect, client) {
      try {
        var form = { grant_type: 'authorization_code', code: code, redirect_uri: redirect, client_id: client, code_verifier: verifier };
        // The revocation endpoint of this exchange's provider (as it is now:
        // `meta` may be another entry's later).
        var x = { url: endpoint, body: new URLSearchParams(form).toString() }, end = meta.revocation_endpoint;
        x.response = post(endpoint, form).then(function (a) { x.at = performance.now(); return a; });
        x.revoke = function (a) {
          try {
            var r = Array.isArray(a) && a[0] === 200 && JSON.parse(new TextDecoder().decode(a[1])).refresh_token;
            if (r && end) post(end, { token: r, token_type_hint: 'refresh_token', client_id: client });
          } catch (e) { /* nothing to revoke */ }
        };
        return window.__oidcLeptosExchange = x;
      } catch (e) { /* the app sends it itself */ }
    };
    // Metadata the app would use too: cached in this tab under 10 minutes ago (the
    // app's PROVIDER_CACHE_TTL_MS, which a test holds to this number), not dated ahead.
    var recent = function (c) { var now = Date.now(); return c && c.at <= now && now - c.at < 600000; };
    var answers = function (p, iss) {
      var once = function (n) { return p.getAll(n).length < 2; };
      return p.get('code') && !p.has('error') && ['code', 'state', 'iss', 'error_description', 'error_uri'].every(once) &&
        (p.has('iss') ? p.get('iss') === iss : !meta.authorization_response_iss_parameter_supported);
    };
    // A callback's query, as the app reads one (`state`, with `code` or `error`):
    // another query with `state` in it leaves the page to restore as any other.
    if (q.has('state') && (q.has('code') || q.has('error'))) {
      for (i = 0; i < ss.length; i++) {
        k = ss.key(i);
        if (k.indexOf('oidc-leptos:') !== 0 || k.slice(-8) !== ':pending') continue;
        var s = JSON.parse(ss.getItem(k)), p = s.pending, c = JSON.parse(ss.getItem(k.slice(0, -8) + ':provider'));
        if (!recent(c)) continue;
        meta = JSON.parse(c.metadata);
        // A silent sign-in's answer after a logout (in another tab) is refused by the
        // app: its code is not redeemed either.
        if (s.silent && localStorage.getItem(k.slice(0, -8) + ':logged-out')) continue;
        if (p.state === q.get('state') && meta.issuer === s.issuer && location.origin + location.pathname === p.redirect_uri.split(/[?#]/)[0] && answers(q, s.issuer) && Date.now() / 1000 - p.created_at < 3600) {
          // An earlier load of this page (reloaded, or its tab duplicated, before the
          // app took the callback over) sent this code: the provider may already
          // have redeemed it, and a second try would then be refused. The address
          // goes back to where the sign-in started (or loses the callback's
          // parameters, as the app's own cleanup does), the entry goes, and the app
          // starts as on any load: a silent restore where it can, signed out
          // otherwise.
          if (s.sent) {
            var rest = new URLSearchParams(location.search);
            ['code', 'state', 'iss', 'session_state', 'error', 'error_description', 'error_uri'].forEach(function (n) { rest.delete(n); });
            rest = rest.toString();
            history.replaceState(history.state, '', p.return_to || location.pathname + (rest ? '?' + rest : '') + location.hash);
            ss.removeItem(k);
            return;
          }
          if (exchange(meta.token_endpoint, q.get('code'), p.code_verifier, p.redirect_uri, s.client_id)) {
            s.sent = true;
            ss.setItem(k, JSON.stringify(s));
          }
          // The one request this answer is for.
          return;
        }
      }
      return;
    }
    // The app that can restore now: one with a recent silent request and no logout.
    // Entries of other apps of this origin, or of this app configured anew, are
    // passed over; with two candidates the script cannot tell which one this page
    // runs, and starts nothing (the app then starts its own).
    for (i = 0; i < ss.length; i++) {
      k = ss.key(i);
      if (k.indexOf('oidc-leptos:') !== 0 || k.slice(-9) !== ':provider') continue;
      cache = JSON.parse(ss.getItem(k));
      if (!cache.silent || !recent(cache) || localStorage.getItem(k.slice(0, -9) + ':logged-out')) continue;
      if (key) return;
      key = k;
    }
    if (!key) return;
    cache = JSON.parse(ss.getItem(key));
    meta = JSON.parse(cache.metadata);
    // The code exchange follows the frame's answer. A request without credentials
    // goes over a connection of its own (not the frame's): opened now, while the
    // frame goes to the provider and back, it is ready (its TLS handshake done) when
    // the exchange is sent.
    var warm = document.createElement('link');
    warm.rel = 'preconnect';
    warm.href = new URL(meta.token_endpoint).origin;
    warm.crossOrigin = 'anonymous';
    (document.head || document.documentElement).appendChild(warm);
    var b64 = function (b) {
      var s = '';
      for (var j = 0; j < b.length; j++) s += String.fromCharCode(b[j]);
      return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    };
    var fresh = function () { var b = new Uint8Array(32); crypto.getRandomValues(b); return b64(b); };
    // Kept here too: the app takes them out of `early`.
    var state = fresh(), nonce = fresh(), verifier = fresh(), t = new URL(cache.silent).searchParams, client = t.get('client_id');
    var early = { key: key, state: state, nonce: nonce, verifier: verifier, created: Date.now(), result: null, listener: null, frame: null };
    window.__oidcLeptosEarly = early;
    crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)).then(function (d) {
      // The app closed it before it was made.
      if (early.closed) return;
      var f = document.createElement('iframe');
      f.setAttribute('aria-hidden', 'true');
      f.tabIndex = -1;
      f.style.cssText = 'position:absolute;width:0;height:0;border:0;visibility:hidden';
      f.src = cache.silent + '&state=' + state + '&nonce=' + nonce + '&code_challenge=' + b64(new Uint8Array(d)) + '&code_challenge_method=S256';
      var back = t.get('redirect_uri'), at = back.split('?')[0];
      var answer = function (href, via) {
        if (early.result || early.closed) return;
        early.result = href;
        early.via = via;
        var r = new URL(href).searchParams;
        if (r.get('state') === state && answers(r, meta.issuer))
          early.exchange = exchange(meta.token_endpoint, r.get('code'), verifier, back, client);
        f.remove();
        if (early.listener) early.listener(href);
      };
      // Through the frame's document, null on the provider's origin: no exception
      // at each poll (see `frame` in driver.js).
      var poll = function () {
        var d = f.contentDocument, h = d ? d.URL : '';
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
