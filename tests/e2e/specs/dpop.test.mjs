// DPoP (RFC 9449) end to end: an access token from the dev IdP bound to a key, and
// proofs made with `jose` (an implementation independent of the library under test),
// sent to the example API. The browser app's Bearer calls are covered by the other specs.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { APP_URL, IDP_ISSUER } from '../lib/browser.mjs';
import { dpopBoundToken, dpopKey, dpopProof } from '../lib/dpop.mjs';

/**
 * The challenges of `WWW-Authenticate` (RFC 9110 section 11.6.1; several header fields
 * arrive joined by commas) as `{ scheme: { param: value } }`.
 */
function challenges(header) {
  const result = {};
  let current = null;
  const item = /\s*([^\s=,]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?\s*,?/gy;
  for (const [, name, value] of (header || '').matchAll(item)) {
    if (value === undefined) {
      current = {};
      result[name] = current;
    } else if (current) {
      current[name] = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
    }
  }
  return result;
}

/** Sends `method url` with `headers` and returns `{ status, challenges, body }`. */
async function call(method, path, headers, body) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  const response = await fetch(`${APP_URL}${path}`, init);
  const text = await response.text();
  return {
    status: response.status,
    challenges: challenges(response.headers.get('www-authenticate')),
    body: text,
  };
}

/** Asserts a 401 whose challenge for `scheme` carries `error` and `description`. */
function assertRefused(reply, scheme, error, description) {
  const detail = `${reply.status} ${JSON.stringify(reply.challenges)} ${reply.body}`;
  assert.equal(reply.status, 401, detail);
  assert.equal(reply.challenges[scheme]?.error, error, detail);
  assert.match(reply.challenges[scheme]?.error_description ?? '', description, detail);
  // The other scheme stays offered, without an error.
  const other = scheme === 'DPoP' ? 'Bearer' : 'DPoP';
  assert.ok(reply.challenges[other], detail);
  assert.equal(reply.challenges[other].error, undefined, detail);
}

for (const alg of ['ES256', 'EdDSA']) {
  describe(`a DPoP-bound token from the dev IdP, proofs with ${alg} by jose`, async () => {
    const key = await dpopKey(alg);
    const { accessToken, tokenType, claims } = await dpopBoundToken(IDP_ISSUER, key);
    const url = (path) => `${APP_URL}${path}`;
    const dpop = async (method, path, options = {}) => ({
      authorization: `DPoP ${accessToken}`,
      dpop: await dpopProof(options.key ?? key, method, options.htu ?? url(path), { accessToken }),
    });

    test('the IdP binds the token to the proof key', () => {
      assert.equal(tokenType, 'DPoP');
      assert.equal(claims.cnf?.jkt, key.jkt);
      assert.equal(claims.aud, 'todo-api');
    });

    test('a fresh proof for the exact method and URL is accepted', async () => {
      const list = await call('GET', '/api/todos', await dpop('GET', '/api/todos'));
      assert.equal(list.status, 200, list.body);
      assert.ok(Array.isArray(JSON.parse(list.body)), list.body);

      const created = await call('POST', '/api/todos', await dpop('POST', '/api/todos'), { title: `dpop ${alg}` });
      assert.equal(created.status, 201, created.body);
      const { id } = JSON.parse(created.body);
      const removed = await call('DELETE', `/api/todos/${id}`, await dpop('DELETE', `/api/todos/${id}`));
      assert.equal(removed.status, 204, removed.body);

      const me = await call('GET', '/api/me', await dpop('GET', '/api/me'));
      assert.equal(me.status, 200, me.body);
      assert.equal(JSON.parse(me.body).cnf.jkt, key.jkt);
    });

    test('without a proof the token is refused', async () => {
      const reply = await call('GET', '/api/todos', { authorization: `DPoP ${accessToken}` });
      assertRefused(reply, 'DPoP', 'invalid_dpop_proof', /exactly one DPoP proof/);
    });

    test('a replayed proof is refused', async () => {
      const headers = await dpop('GET', '/api/todos');
      const first = await call('GET', '/api/todos', headers);
      assert.equal(first.status, 200, first.body);
      const replayed = await call('GET', '/api/todos', headers);
      assertRefused(replayed, 'DPoP', 'invalid_dpop_proof', /already used/);
    });

    test('a proof for another method, URL or key is refused', async () => {
      const post = await call('GET', '/api/todos', await dpop('POST', '/api/todos'));
      assertRefused(post, 'DPoP', 'invalid_dpop_proof', /another method/);
      const other = await call('GET', '/api/todos', await dpop('GET', '/api/me'));
      assertRefused(other, 'DPoP', 'invalid_dpop_proof', /another URL/);
      const port = new URL(APP_URL);
      port.port = String(Number(port.port || 80) + 1);
      const elsewhere = await call('GET', '/api/todos', await dpop('GET', '', { htu: `${port.origin}/api/todos` }));
      assertRefused(elsewhere, 'DPoP', 'invalid_dpop_proof', /another URL/);
      const stranger = await call('GET', '/api/todos', await dpop('GET', '/api/todos', { key: await dpopKey(alg) }));
      assertRefused(stranger, 'DPoP', 'invalid_dpop_proof', /not the token's key/);
    });

    test('sent as a Bearer token it is refused, with or without a proof', async () => {
      const bare = await call('GET', '/api/todos', { authorization: `Bearer ${accessToken}` });
      assertRefused(bare, 'Bearer', 'invalid_token', /DPoP-bound token presented as bearer/);
      const { dpop: proof } = await dpop('GET', '/api/todos');
      const withProof = await call('GET', '/api/todos', { authorization: `Bearer ${accessToken}`, dpop: proof });
      assertRefused(withProof, 'Bearer', 'invalid_token', /DPoP-bound token presented as bearer/);
    });
  });
}
