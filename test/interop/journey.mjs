// journey.mjs: an independent relying party (openid-client) runs a customer authorization
// journey against Portcullis, checking every response with openid-client's own validation.
// The Go interop test (internal/app, TestInteropJourneyOpenIDClient) runs it and plays the
// customer: this script prints the authorization URL, the Go test logs in, passes SCA and
// approves through the bank's pages, and writes the URL the browser was sent back to on
// this script's stdin.
//
// Usage:
//   node journey.mjs MODE ISSUER MTLS_ORIGIN CLIENT_ID CERT_PEM KEY_PEM CA_PEM PRIVATE_JWK REDIRECT_URI [RESOURCE_URL]
//
// MODE is one of
//   fapi2         FAPI 2.0 Security Profile: PAR + PKCE S256, response_type code, iss in the response;
//   fapi1-hybrid  FAPI 1.0 Advanced: a signed request object by value, response_type code id_token
//                 (the ID token as detached signature: c_hash, s_hash, nonce);
//   fapi1-jarm    FAPI 1.0 Advanced: a signed request object pushed (PAR), response_type code with
//                 response_mode jwt (JARM);
//   fapi2-jarm    FAPI 2.0 Message Signing: a signed request object pushed (PAR) with PKCE,
//                 response_mode jwt (JARM).
// Every mode authenticates with private_key_jwt over mutual TLS (the mTLS endpoint aliases), or
// with tls_client_auth when the environment has JOURNEY_AUTH=tls_client_auth,
// verifies ID token signatures (enableNonRepudiationChecks), exchanges the code, refreshes,
// and calls /userinfo; RESOURCE_URL, when given, is a resource server route called with the
// certificate-bound access token.
//
// MTLS_ORIGIN is where requests for the issuer's origin are sent (a dev server's mTLS
// listener on a port chosen by the kernel, while its issuer stays https://localhost:8443);
// the server certificate is still checked against CA_PEM for the name "localhost".
//
// Protocol: stdout line 1 is {"authorization_url": ...}; stdin line 1 is the URL the customer's
// browser was sent back to; stdout line 2 is the result as one JSON object. Exit 0 on success;
// on failure the error goes to stderr and the exit status is 1.
import { readFileSync } from 'node:fs'
import { webcrypto } from 'node:crypto'
import * as client from 'openid-client'
import { mtlsClient, readLine } from './lib.mjs'

const [mode, issuer, mtlsOrigin, clientId, certFile, keyFile, caFile, jwkFile, redirectUri, resourceURL] = process.argv.slice(2)
const modes = ['fapi2', 'fapi1-hybrid', 'fapi1-jarm', 'fapi2-jarm']
if (!redirectUri || !modes.includes(mode)) {
  console.error('usage: node journey.mjs fapi2|fapi1-hybrid|fapi1-jarm|fapi2-jarm ISSUER MTLS_ORIGIN CLIENT_ID CERT_PEM KEY_PEM CA_PEM PRIVATE_JWK REDIRECT_URI [RESOURCE_URL]')
  process.exit(2)
}

const { agent, mtlsFetch } = mtlsClient({ issuer, mtlsOrigin, certFile, keyFile, caFile })

function claimsOf (jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())
}

const jwk = JSON.parse(readFileSync(jwkFile, 'utf8'))
const key = await webcrypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])

try {
  const execute = [client.enableNonRepudiationChecks]
  if (mode === 'fapi1-hybrid') execute.push(client.useCodeIdTokenResponseType, client.enableDetachedSignatureResponseChecks)
  if (mode.endsWith('-jarm')) execute.push(client.useJwtResponseMode)
  const tlsAuth = process.env.JOURNEY_AUTH === 'tls_client_auth'
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    { token_endpoint_auth_method: tlsAuth ? 'tls_client_auth' : 'private_key_jwt', use_mtls_endpoint_aliases: true },
    tlsAuth ? client.TlsClientAuth() : client.PrivateKeyJwt({ key, kid: jwk.kid }),
    { [client.customFetch]: mtlsFetch, timeout: 10, execute },
  )
  config[client.customFetch] = mtlsFetch
  const meta = config.serverMetadata()
  if (!meta.authorization_response_iss_parameter_supported) throw new Error('discovery: authorization_response_iss_parameter_supported is not true')

  const verifier = client.randomPKCECodeVerifier()
  const params = {
    redirect_uri: redirectUri,
    scope: 'openid accounts',
    state: client.randomState(),
    nonce: client.randomNonce(),
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    // openid-client then requires auth_time in the ID token and checks it against max_age.
    max_age: '600',
  }
  let authURL
  switch (mode) {
    case 'fapi2':
      authURL = await client.buildAuthorizationUrlWithPAR(config, params)
      break
    case 'fapi1-hybrid':
      authURL = await client.buildAuthorizationUrlWithJAR(config, params, { key, kid: jwk.kid })
      break
    case 'fapi1-jarm':
    case 'fapi2-jarm': {
      const { searchParams } = await client.buildAuthorizationUrlWithJAR(config, params, { key, kid: jwk.kid })
      authURL = await client.buildAuthorizationUrlWithPAR(config, searchParams)
      break
    }
  }
  process.stdout.write(JSON.stringify({ authorization_url: authURL.href }) + '\n')

  const callback = new URL(await readLine())
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: params.state,
    expectedNonce: params.nonce,
    maxAge: 600,
    idTokenExpected: true,
  })
  const idClaims = tokens.claims()
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  const userinfo = await client.fetchUserInfo(config, refreshed.access_token, idClaims.sub)
  const result = {
    mode,
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    id_token_claims: idClaims,
    front_channel_id_token_claims: mode === 'fapi1-hybrid' ? claimsOf(new URLSearchParams(callback.hash.slice(1)).get('id_token')) : undefined,
    refresh_token_rotated: refreshed.refresh_token !== undefined && refreshed.refresh_token !== tokens.refresh_token,
    refreshed_access_token: refreshed.access_token,
    userinfo,
  }
  if (resourceURL) {
    const res = await client.fetchProtectedResource(config, refreshed.access_token, new URL(resourceURL), 'GET', undefined,
      new Headers({ 'x-fapi-interaction-id': webcrypto.randomUUID(), accept: 'application/json' }))
    result.resource = { status: res.status, body: await res.text() }
  }
  process.stdout.write(JSON.stringify(result) + '\n')
} catch (err) {
  console.error(`${err.name}: ${err.message}${err.code ? ` (${err.code})` : ''}`)
  if (err.cause) console.error('cause:', err.cause)
  process.exit(1)
} finally {
  agent.destroy()
}
