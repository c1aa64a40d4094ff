// Development OpenID Provider for the TODO example.
//
// Accepts any user name and password, issues RFC 9068 JWT access tokens for the
// `todo-api` audience, and keeps everything in memory: restarting it signs everyone
// out and rotates the signing keys. Not for production use.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

function envInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number.parseInt(raw, 10);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const PORT = envInt('IDP_PORT', 9000);
const ISSUER = (process.env.IDP_ISSUER || `http://localhost:${PORT}`).replace(/\/+$/, '');
// One or more app origins (comma-separated): the same app reached under another host
// name is another site for the browser, which is how restore without third-party
// cookies is tried out.
const APP_ORIGINS = (process.env.APP_ORIGIN || 'http://localhost:3000')
  .split(',')
  .map((origin) => new URL(origin.trim()).origin);
const ACCESS_TOKEN_TTL = envInt('IDP_ACCESS_TOKEN_TTL', 600);
const ID_TOKEN_TTL = envInt('IDP_ID_TOKEN_TTL', 600);
const REFRESH_TOKEN_TTL = envInt('IDP_REFRESH_TOKEN_TTL', 24 * 60 * 60);
const SESSION_TTL = 24 * 60 * 60;

const CLIENT_ID = 'todo-spa';
// The API's resource indicator (RFC 8707 wants an absolute URI) and the audience its
// access tokens carry.
const API_RESOURCE = 'urn:todo-api';
const API_AUDIENCE = 'todo-api';
const SCOPES = ['openid', 'profile', 'email', 'offline_access'];
// A confidential client for the DPoP end-to-end test: client_credentials only, and its
// access tokens are always DPoP-bound (`cnf.jkt`) to the key of the token request's
// proof. The secret is public: this provider is for development only.
const DPOP_TEST_CLIENT = {
  client_id: 'todo-dpop-test',
  client_secret: 'todo-dpop-test-secret-not-a-secret',
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  dpop_bound_access_tokens: true,
};

// Fresh signing keys on every start; the JWKS endpoint publishes their public halves.
function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg, use: 'sig' };
}

const jwks = {
  keys: [
    signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
    signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
  ],
};

// Any login is accepted: the subject is the login as typed.
async function findAccount(_ctx, id) {
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        name: id,
        preferred_username: id,
        email: `${id}@example.test`,
        email_verified: true,
      };
    },
  };
}

const appRoots = APP_ORIGINS.map((origin) => `${origin}/`);
// The silent sign-in's hidden iframe lands on a small static page of the app.
const silentCallbacks = APP_ORIGINS.map((origin) => `${origin}/silent-callback.html`);

const configuration = {
  clients: [
    {
      client_id: CLIENT_ID,
      client_name: 'TODO example',
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [...appRoots, ...silentCallbacks],
      post_logout_redirect_uris: appRoots,
    },
    DPOP_TEST_CLIENT,
  ],
  responseTypes: ['code'],
  findAccount,
  jwks,
  cookies: {
    keys: ['todo-example-dev-cookie-key-not-a-secret'],
  },
  scopes: SCOPES,
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  // Put the granted profile and email claims in the ID token too, not only at userinfo.
  conformIdTokenClaims: false,
  pkce: {
    required: () => true,
  },
  // The browser app calls the token, revocation and introspection endpoints from its
  // own origin: allow exactly the origins of the calling client's redirect URIs.
  clientBasedCORS(_ctx, origin, client) {
    if (!origin || origin === 'null') return false;
    return [...client.redirectUris, ...(client.postLogoutRedirectUris || [])]
      .some((uri) => URL.parse(uri)?.origin === origin);
  },
  // Public clients get refresh tokens without having to ask for offline_access (which
  // the provider only grants together with prompt=consent).
  issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  rotateRefreshToken: true,
  features: {
    devInteractions: { enabled: true },
    dPoP: { enabled: true },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource(_ctx, _client, oneOf) {
        return oneOf || API_RESOURCE;
      },
      useGrantedResource() {
        return true;
      },
      getResourceServerInfo(_ctx, resourceIndicator) {
        if (resourceIndicator !== API_RESOURCE) {
          throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
        }
        return {
          audience: API_AUDIENCE,
          scope: SCOPES.join(' '),
          accessTokenTTL: ACCESS_TOKEN_TTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    IdToken: ID_TOKEN_TTL,
    AuthorizationCode: 60,
    Interaction: 60 * 60,
    Session: SESSION_TTL,
    Grant: SESSION_TTL,
    RefreshToken(ctx) {
      // A rotated refresh token keeps the remaining lifetime of the one it replaces.
      const rotated = ctx?.oidc?.entities?.RotatedRefreshToken;
      return rotated ? rotated.remainingTTL : REFRESH_TOKEN_TTL;
    },
  },
};

const provider = new Provider(ISSUER, configuration);

// Development outage switch for the tests: `POST /__dev/outage?on=1` makes every other
// request fail as a stopped server would (the connection is dropped before anything is
// processed); `?on=0` ends it. `POST /__dev/lose-token-answers?n=N`: the next N token
// requests that succeed are carried out (a refresh token is rotated, the old one spent)
// and their answers lost (the connection dropped mid-answer), as on a network that
// fails on the way back. `POST /__dev/refuse-refresh?n=N`: the next N refresh-token
// grants are answered `invalid_grant`, as for a grant revoked or idled out (the user's
// session at the IdP lives on).
let outage = false;
let loseTokenAnswers = 0;
let refuseRefresh = 0;
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/__dev/outage') {
    outage = ctx.query.on === '1';
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/__dev/lose-token-answers') {
    loseTokenAnswers = Number(ctx.query.n) || 0;
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/__dev/refuse-refresh') {
    refuseRefresh = Number(ctx.query.n) || 0;
    ctx.status = 204;
    return;
  }
  if (outage) {
    ctx.req.socket.destroy();
    return;
  }
  await next();
  if (refuseRefresh > 0 && ctx.oidc?.route === 'token' && ctx.status === 200
    && ctx.oidc.params?.grant_type === 'refresh_token') {
    refuseRefresh -= 1;
    stats.refusedRefreshes += 1;
    ctx.status = 400;
    ctx.body = { error: 'invalid_grant', error_description: 'grant refused (development switch)' };
    return;
  }
  if (loseTokenAnswers > 0 && ctx.oidc?.route === 'token' && ctx.status === 200) {
    loseTokenAnswers -= 1;
    stats.lostAnswers += 1;
    // The first bytes of an answer, then nothing: a browser resends a request whose
    // connection closed before any byte of the answer came back, not this one.
    ctx.respond = false;
    ctx.req.socket.end('HTTP/1.1 200 OK\r\n');
  }
});

// No icon: answer the browser's automatic request without a 404 in its console.
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/favicon.ico') {
    ctx.status = 204;
    return;
  }
  await next();
});

// The built-in pages import a web font; drop it so a browser never leaves this machine.
provider.use(async (ctx, next) => {
  await next();
  if (typeof ctx.body === 'string' && ctx.response.is('html')) {
    ctx.body = ctx.body.replace(/@import\s+url\([^)]*\)\s*;?/g, '');
  }
});

// Token responses also say how long the refresh token lives (`refresh_expires_in`,
// seconds), for clients that want to know when the session will end.
provider.use(async (ctx, next) => {
  await next();
  const body = ctx.body;
  if (ctx.oidc?.route === 'token' && ctx.status === 200 && body?.refresh_token) {
    const refreshToken = await provider.RefreshToken.find(body.refresh_token);
    if (refreshToken) body.refresh_expires_in = refreshToken.remainingTTL;
  }
});

// One line per rejected request, to make failed sign-ins easy to diagnose.
for (const event of ['authorization.error', 'grant.error', 'end_session.error', 'revocation.error', 'introspection.error', 'userinfo.error']) {
  provider.on(event, (_ctx, err) => {
    const detail = err.error_detail || err.error_description;
    console.warn(`IdP ${event}: ${err.error || err.name}${detail ? ` (${detail})` : ''}`);
  });
}
provider.on('server_error', (_ctx, err) => {
  console.error('IdP server error:', err);
});

// One line per token grant, to follow sign-ins and renewals in the log, and counts
// that tests read from `GET /__dev/stats`.
const stats = { grants: {}, errors: {}, authorizations: 0, lostAnswers: 0, refusedRefreshes: 0 };
const bump = (table, key) => { table[key] = (table[key] || 0) + 1; };
provider.on('grant.success', (ctx) => {
  const type = ctx.oidc.params?.grant_type;
  bump(stats.grants, type);
  console.log(`grant ${type} for ${ctx.oidc.client?.clientId}`);
});
provider.on('grant.error', (_ctx, err) => bump(stats.errors, err.error || err.name));
provider.on('authorization.accepted', () => { stats.authorizations += 1; });
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/__dev/stats') {
    ctx.body = stats;
    return;
  }
  await next();
});

const server = http.createServer(provider.callback());

server.listen(PORT, '127.0.0.1', () => {
  console.log(`IdP listening on ${ISSUER}`);
});

function shutdown(signal) {
  console.log(`IdP received ${signal}, stopping`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}

process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
