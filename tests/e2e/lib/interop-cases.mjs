// Access tokens and DPoP proofs made with `jose` for the library's interoperability test
// (src/server/interop_tests.rs), one case per signature algorithm the library accepts.
//
//   node interop-cases.mjs ISSUER AUDIENCE URL
//
// prints one JSON object: `jwks` (the issuer's public keys) and `cases`, each with
// `alg`, a `token` signed with that algorithm and bound (`cnf.jkt`) to a proof key of the
// same algorithm, `jkt`, `proofs` (`{ method, proof }` for URL), and an unbound `bearer`
// token.

import { randomUUID } from 'node:crypto';

import { exportJWK, generateKeyPair, SignJWT } from 'jose';

import { dpopKey, dpopProof } from './dpop.mjs';

const ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];
const METHODS = ['GET', 'POST', 'DELETE'];

const [issuer, audience, url] = process.argv.slice(2);
if (!issuer || !audience || !url) {
  console.error('usage: node interop-cases.mjs ISSUER AUDIENCE URL');
  process.exit(2);
}

function accessToken(signer, claims) {
  return new SignJWT({ client_id: 'interop', ...claims })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject(`jose-${signer.alg}`)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(signer.privateKey);
}

async function issuerKey(alg) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `jose-${alg}`;
  return { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

const cases = await Promise.all(ALGS.map(async (alg) => {
  const [signer, holder] = await Promise.all([issuerKey(alg), dpopKey(alg)]);
  const token = await accessToken(signer, { cnf: { jkt: holder.jkt } });
  const proofs = await Promise.all(METHODS.map(async (method) => ({
    method,
    proof: await dpopProof(holder, method, url, { accessToken: token }),
  })));
  return {
    alg,
    jwk: signer.jwk,
    token,
    jkt: holder.jkt,
    proofs,
    bearer: await accessToken(signer, {}),
  };
}));

console.log(JSON.stringify({
  jwks: { keys: cases.map(({ jwk }) => jwk) },
  cases: cases.map(({ jwk, ...rest }) => rest),
}));
