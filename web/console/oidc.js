// Signing in with an OpenID Connect provider (a Cognito user pool, or any issuer the
// stack's AgentJwtIssuer names): the authorization code flow with PKCE (RFC 7636, S256),
// tokens kept in memory only and renewed with the refresh token before they expire.
// Only the PKCE verifier, state and nonce of a sign-in under way are kept, in
// sessionStorage, to survive the round trip to the provider; they are removed on return.

const PENDING = 'supportzen.oidc.pending';

function base64url(bytes) {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A random string of `bytes` random bytes, base64url: 32 bytes make 43 characters. */
export function randomString(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/**
 * A PKCE code verifier (RFC 7636 section 4.1: 43 to 128 characters of
 * [A-Za-z0-9-._~]; here 43, from 32 random bytes).
 */
export function codeVerifier() {
  return randomString(32);
}

/** The S256 code challenge of a verifier: BASE64URL(SHA-256(ASCII(verifier))) (section 4.2). */
export async function codeChallenge(verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** The claims of a JWT, unverified (the tokens come straight from the token endpoint over TLS). */
export function jwtClaims(token) {
  const part = token.split('.')[1] ?? '';
  const padded = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** The provider's endpoints, from its discovery document. */
export async function discover(issuer, fetchImpl = fetch) {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const response = await fetchImpl(url);
  if (!response.ok) throw new Error(`cannot read the identity provider's configuration at ${url} (HTTP ${response.status})`);
  const document = await response.json();
  if (document.issuer !== issuer.replace(/\/$/, '') && document.issuer !== issuer) {
    throw new Error(`the provider at ${url} says its issuer is ${document.issuer}, not ${issuer}`);
  }
  return document;
}

/**
 * The URL that starts a sign-in, and what to keep until the provider sends the agent
 * back. `config`: `{issuer, clientId, redirectUri, scope}`.
 */
export async function authorizationRequest(provider, config) {
  const verifier = codeVerifier();
  const state = randomString(16);
  const nonce = randomString(16);
  const url = new URL(provider.authorization_endpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', config.clientId);
  url.searchParams.set('redirect_uri', config.redirectUri);
  url.searchParams.set('scope', config.scope);
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  url.searchParams.set('code_challenge', await codeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  return { url: url.toString(), pending: { verifier, state, nonce } };
}

/** Sends the agent to the provider to sign in. */
export async function startSignIn(config, { storage = sessionStorage, navigate = (u) => location.assign(u) } = {}) {
  const provider = await discover(config.issuer);
  const { url, pending } = await authorizationRequest(provider, config);
  storage.setItem(PENDING, JSON.stringify(pending));
  navigate(url);
}

async function tokenRequest(provider, form) {
  const response = await fetch(provider.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`the identity provider refused: ${body.error ?? response.status} ${body.error_description ?? ''}`.trim());
  return body;
}

/**
 * In-memory tokens: `accessToken()` for the API, renewed with the refresh token a
 * minute before it expires (or, without one, the agent is asked to sign in again).
 */
export class OidcSession {
  constructor(provider, config, tokens, onExpired) {
    Object.assign(this, { provider, config, onExpired });
    this.#take(tokens);
  }

  #take(tokens) {
    this.access = tokens.access_token;
    if (tokens.refresh_token) this.refresh = tokens.refresh_token;
    const claims = jwtClaims(tokens.id_token ?? tokens.access_token);
    const access = jwtClaims(tokens.access_token);
    this.agent = { id: access.sub ?? claims.sub, name: claims.name ?? claims.email ?? access.username ?? null };
    const expiresIn = Number(tokens.expires_in) || Math.max(0, access.exp - Date.now() / 1000);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.renew(), Math.max(5_000, (expiresIn - 60) * 1000));
  }

  /** The current access token. */
  accessToken() {
    return this.access;
  }

  /** Renews the tokens with the refresh token. */
  async renew() {
    if (!this.refresh) {
      this.onExpired?.();
      return;
    }
    try {
      this.#take(await tokenRequest(this.provider, {
        grant_type: 'refresh_token',
        client_id: this.config.clientId,
        refresh_token: this.refresh,
      }));
    } catch {
      this.onExpired?.();
    }
  }
}

/**
 * Completes a sign-in when the page was opened by the provider's redirect (`?code=…&state=…`):
 * checks the state, trades the code and the PKCE verifier for tokens, checks the ID
 * token's issuer, audience and nonce, and removes the code from the address bar.
 * Returns null when the page was not opened by a redirect.
 */
export async function completeSignIn(config, onExpired, { storage = sessionStorage } = {}) {
  const params = new URLSearchParams(location.search);
  if (!params.has('code') && !params.has('error')) return null;
  const pending = JSON.parse(storage.getItem(PENDING) ?? 'null');
  storage.removeItem(PENDING);
  history.replaceState(null, '', location.pathname);
  if (params.has('error')) throw new Error(`sign-in failed: ${params.get('error')} ${params.get('error_description') ?? ''}`.trim());
  if (!pending || params.get('state') !== pending.state) throw new Error('sign-in failed: the answer does not match the sign-in this page started; sign in again');
  const provider = await discover(config.issuer);
  const tokens = await tokenRequest(provider, {
    grant_type: 'authorization_code',
    client_id: config.clientId,
    code: params.get('code'),
    redirect_uri: config.redirectUri,
    code_verifier: pending.verifier,
  });
  if (tokens.id_token) {
    const id = jwtClaims(tokens.id_token);
    const audiences = Array.isArray(id.aud) ? id.aud : [id.aud];
    if (id.iss !== provider.issuer || !audiences.includes(config.clientId) || id.nonce !== pending.nonce) {
      throw new Error('sign-in failed: the ID token is not for this console (issuer, audience or nonce)');
    }
  }
  return new OidcSession(provider, config, tokens, onExpired);
}
