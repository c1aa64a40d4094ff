// The driver's side of the page: the browser IO the app's wasm calls (see
// `src/browser/mod.rs` for what each function does). It is part of the page's one
// inline script (`EARLY_RESTORE_SCRIPT`, with `src/session/early.js`): nothing is
// fetched before the app can start, and the wasm imports these through the object
// below.
const HEADERS = ['content-type', 'content-length', 'dpop-nonce', 'www-authenticate'];
const members = (body) =>
  JSON.stringify([...new URLSearchParams(body)].sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
export async function request(url, method, headers, body, timeout, cap) {
  const tooLarge = 'the response is larger than ' + cap + ' bytes';
  const early = window.__oidcLeptosExchange;
  if (early && early.url === url && body.length &&
      members(early.body) === members(new TextDecoder().decode(body))) {
    delete window.__oidcLeptosExchange;
    // The app's own timeout, not the script's longer one.
    let timer = 0;
    const late = new Promise((done) => { timer = setTimeout(() => done(null), timeout); });
    const answer = timeout > 0 ? await Promise.race([early.response, late]) : null;
    clearTimeout(timer);
    // The app's own timeout ran out first: the answer, when it comes, is nobody's.
    if (answer === null) early.response.then(early.revoke);
    if (!Array.isArray(answer)) return answer;
    if (answer[1].length > cap) return tooLarge;
    // How long the answer waited for the app (ms): its tokens' times count from when
    // it came, not from now.
    answer[6] = clock(false) - early.at;
    return answer;
  }
  const controller = new AbortController();
  if (timeout <= 0) controller.abort();
  const timer = setTimeout(() => controller.abort(), timeout);
  try {
    const init = { method, headers: {}, mode: 'cors', credentials: 'omit', redirect: 'error', signal: controller.signal };
    const h = headers ? headers.split('\n') : [];
    for (let i = 0; i + 1 < h.length; i += 2) init.headers[h[i]] = h[i + 1];
    if (body.length) init.body = body;
    const response = await fetch(url, init);
    const found = HEADERS.map((name) => response.headers.get(name));
    if (+found[1] > cap) { controller.abort(); return tooLarge; }
    const chunks = [];
    let size = 0;
    for (let reader = response.body && response.body.getReader(), part; reader && !(part = await reader.read()).done;) {
      if ((size += part.value.length) > cap) { controller.abort(); return tooLarge; }
      chunks.push(part.value);
    }
    return [response.status, new Uint8Array(await new Blob(chunks).arrayBuffer()), ...found];
  } catch (e) {
    return controller.signal.aborted ? null : String((e && e.message) || e);
  } finally {
    clearTimeout(timer);
  }
}
function listen(channelName, post) {
  let live = true;
  const off = [() => { live = false; }];
  const on = (target, name, f) => {
    target.addEventListener(name, f);
    off.push(() => target.removeEventListener(name, f));
  };
  let channel = null;
  try {
    channel = new BroadcastChannel(channelName);
    off.push(() => channel.close());
  } catch (e) {}
  for (const name of ['pointerdown', 'pointermove', 'keydown', 'focus', 'wheel', 'touchstart', 'scroll'])
    on(window, name, () => post(0));
  on(window, 'online', () => post(1));
  on(window, 'offline', () => post(2));
  // A page back from the back-forward cache (7) is told so before it is told it is
  // visible (3): browsers fire `visibilitychange` before `pageshow`, and the machine
  // must read what the other tabs stored before the return counts as activity here.
  // `cached`: 1 since the page went into the cache, 2 once its return was told.
  let cached = 0;
  on(window, 'pagehide', (e) => { if (e.persisted) cached = 1; });
  on(document, 'visibilitychange', () => {
    if (!document.hidden && cached === 1) { cached = 2; post(7); }
    post(document.hidden ? 4 : 3);
  });
  on(window, 'pageshow', (e) => {
    if (e.persisted && cached !== 2) post(7);
    cached = 0;
  });
  if (channel) on(channel, 'message', (e) => post(6, e.data));
  let timer = 0;
  off.push(() => clearTimeout(timer));
  const arm = (ms) => {
    clearTimeout(timer);
    timer = ms < 0 ? 0 : setTimeout(() => post(8), ms);
  };
  const reply = (kind, req) => (value) => { if (live) post(kind, [req, value]); };
  const answer = (promise, req) => promise.then(reply(9, req), (e) => reply(10, req)(text(e)));
  return [() => off.forEach((f) => f()), (m) => channel && channel.postMessage(m), arm, reply, answer];
}
function page() {
  const l = location;
  return [l.origin, l.pathname, l.search, l.hash, document.hidden, navigator.onLine];
}
function go(how, url) {
  try {
    if (how === 2) location.reload();
    else if (how === 3) history.replaceState(null, '', url);
    else location[how ? 'replace' : 'assign'](url);
  } catch (e) {}
}
function store(shared, key, write, value) {
  try {
    const s = shared ? localStorage : sessionStorage;
    if (!write) return s.getItem(key) ?? undefined;
    if (value === undefined) s.removeItem(key);
    else s.setItem(key, value);
  } catch (e) {}
}
const clock = (wall) => (wall ? Date.now() : performance.now());
const text = (e) => String((e && e.message) || e);
let warningIds = 0;
const show = (list, dialog, seconds) => {
  const parts = dialog.oidcParts, shown = seconds !== undefined;
  if (!parts.custom) parts.message.textContent = 'You will be signed out in ' + (seconds || 0) + ' seconds.';
  if (shown && dialog.hidden) {
    dialog.hidden = false;
    // One warning of the session takes the focus (several may be in the page), and
    // gives it back.
    const focused = list.focused;
    if (!focused || !focused.isConnected || focused.hidden) {
      list.focused = dialog;
      parts.before = document.activeElement;
      parts.button.focus();
    }
  } else if (!shown && !dialog.hidden) {
    dialog.hidden = true;
    if (list.focused === dialog) {
      list.focused = null;
      const back = parts.before, active = document.activeElement;
      parts.before = null;
      if ((active === document.body || dialog.contains(active)) && back && back.isConnected && back.focus) back.focus();
    }
  }
};
function warning(list, dialog, seconds, cls, title, label, testId, custom, stay) {
  queueMicrotask(() => {
    const message = dialog.firstElementChild;
    if (!message) return;
    const part = (tag, name, text) => {
      const e = document.createElement(tag);
      e.className = cls + '-' + name;
      if (text) e.textContent = text;
      return e;
    };
    const id = 'oidc-auto-logout-' + ++warningIds;
    const head = part('p', 'title', title);
    head.id = id + '-title';
    message.id = id + '-message';
    dialog.setAttribute('aria-labelledby', head.id);
    dialog.setAttribute('aria-describedby', message.id);
    const button = part('button', 'button', label);
    button.type = 'button';
    button.addEventListener('click', () => stay());
    message.className = cls + '-message';
    dialog.className = cls;
    if (testId) dialog.dataset.testid = testId;
    dialog.prepend(head);
    dialog.append(button);
    dialog.oidcParts = { message, button, custom };
    list.push(dialog);
    show(list, dialog, seconds);
  });
}
function warnings(list, seconds) {
  for (let i = list.length; i--;) {
    if (list[i].isConnected) show(list, list[i], seconds);
    else list.splice(i, 1);
  }
}
const search = (href) => {
  try {
    return new URL(href).search;
  } catch (e) {
    return '';
  }
};
function frame(url, answer, grace) {
  const f = document.createElement('iframe');
  f.setAttribute('aria-hidden', 'true');
  f.tabIndex = -1;
  f.style.cssText = 'position:absolute;width:0;height:0;border:0;visibility:hidden';
  f.src = url;
  const heard = (e) => {
    if (e.origin === location.origin && f.contentWindow && e.source === f.contentWindow &&
        typeof e.data === 'string') answer(search(e.data));
  };
  const back = new URL(url).searchParams.get('redirect_uri') || url, at = back.split('?')[0];
  let open = true, loads = 0;
  // The frame's address, read through its document: null while the frame is on
  // another origin (the provider), where reading its location would throw, and an
  // exception at each poll costs the page far more than the check (over 200 times in
  // Chromium).
  const poll = () => {
    const d = f.contentDocument, h = d ? d.URL : '';
    if (!open) return;
    if (h !== back && h.split('?')[0] === at) answer(search(h));
    else if (f.isConnected) setTimeout(poll, 1);
  };
  f.addEventListener('load', () => {
    const n = ++loads;
    setTimeout(() => { if (open && n === loads) answer(null); }, grace);
  });
  addEventListener('message', heard);
  (document.body || document.documentElement).appendChild(f);
  poll();
  return [() => { open = false; removeEventListener('message', heard); setTimeout(() => f.remove()); }, f];
}
function early(key) {
  const e = window.__oidcLeptosEarly;
  if (!e || e.taken || e.key !== key) return undefined;
  e.taken = true;
  const taken = [e.key, e.state, e.nonce, e.verifier, e.created];
  // The secrets now live in the app alone.
  e.state = e.nonce = e.verifier = null;
  return taken;
}
function adoptEarly(answer) {
  const e = window.__oidcLeptosEarly;
  if (!e) return;
  if (e.failed) answer(null);
  else if (e.result) answer(search(e.result));
  else e.listener = (href) => answer(href === null ? null : search(href));
}
function closeEarly() {
  const e = window.__oidcLeptosEarly;
  if (!e) return;
  // Also a frame not made yet: it never will be.
  e.closed = true;
  e.listener = null;
  if (e.frame) e.frame.remove();
  // The code exchange the frame's answer was sent to, if the app does not take it
  // (its request for it comes with this close, in the same task, when it does): its
  // tokens leave the page, and the grant they hold ends at the provider (RFC 7009).
  const exchange = e.exchange;
  if (exchange) setTimeout(() => {
    if (window.__oidcLeptosExchange !== exchange) return;
    delete window.__oidcLeptosExchange;
    exchange.response.then(exchange.revoke);
  });
}
function forgoEarly() {
  const exchange = window.__oidcLeptosExchange;
  if (!exchange) return;
  delete window.__oidcLeptosExchange;
  exchange.response.then(exchange.revoke);
}
async function verify(jwk, importAlg, verifyAlg, signature, input) {
  try {
    const subtle = crypto.subtle;
    const key = await subtle.importKey('jwk', JSON.parse(jwk), JSON.parse(importAlg), false, ['verify']);
    return await subtle.verify(JSON.parse(verifyAlg), key, signature, input);
  } catch (e) {
    throw text(e);
  }
}

// What the app's wasm imports: `__oidcLeptos.request(..)` and so on. `v` is this
// script's own version (scripts/minify-js puts a hash of it in place of
// SCRIPT_VERSION): the app starts only with the script of its own version, not with
// a copy an older version of the library left in its index.html.
window.__oidcLeptos = Object.freeze({ v: SCRIPT_VERSION, request, listen, page, go, store, clock, warning, warnings, frame, early, adoptEarly, closeEarly, forgoEarly, verify });
