// The client side of DPoP (RFC 9449) made with `jose`, an implementation independent of
// the library under test: key pairs, proofs, and access tokens from the dev IdP bound
// to a key.

import { createHash, randomUUID } from 'node:crypto';

import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';

/** The dev IdP's confidential test client whose access tokens are always DPoP-bound. */
export const DPOP_TEST_CLIENT = {
  id: 'todo-dpop-test',
  secret: 'todo-dpop-test-secret-not-a-secret',
};

/** The example API's resource indicator at the dev IdP. */
export const API_RESOURCE = 'urn:todo-api';

/** A fresh key pair for `alg`: `{ alg, privateKey, jwk (public), jkt (RFC 7638) }`. */
export async function dpopKey(alg = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

/** base64url SHA-256 of an access token: a proof's `ath`. */
export function tokenHash(accessToken) {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

/**
 * A proof for one request: `method` and `url` as sent, `ath` when `accessToken` is
 * given, a fresh `jti`, `iat` now unless given.
 */
export function dpopProof(key, method, url, { accessToken, nonce, iat } = {}) {
  const claims = { htm: method, htu: url, jti: randomUUID() };
  if (accessToken) claims.ath = tokenHash(accessToken);
  if (nonce) claims.nonce = nonce;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk })
    .setIssuedAt(iat)
    .sign(key.privateKey);
}

/**
 * An access token for the example API bound to `key`, from the `client_credentials`
 * grant of the dev IdP's test client. Returns `{ accessToken, tokenType, claims }`.
 */
export async function dpopBoundToken(issuer, key) {
  const metadata = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const url = metadata.token_endpoint;
  const basic = Buffer.from(`${DPOP_TEST_CLIENT.id}:${DPOP_TEST_CLIENT.secret}`).toString('base64');
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
      dpop: await dpopProof(key, 'POST', url),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: API_RESOURCE }),
  });
  const body = await response.json();
  if (!response.ok) {
    throw new Error(`token endpoint answered HTTP ${response.status}: ${JSON.stringify(body)}`);
  }
  const [, payload] = body.access_token.split('.');
  return {
    accessToken: body.access_token,
    tokenType: body.token_type,
    claims: JSON.parse(Buffer.from(payload, 'base64url').toString()),
  };
}
