// payment.mjs: an independent TPP (openid-client) runs the Open Banking domestic-payment
// journey against Portcullis. The Go test (internal/app, TestInteropPaymentOpenIDClient)
// runs it and plays the customer through the bank's pages.
//
// Usage:
//   node payment.mjs ISSUER MTLS_ORIGIN CLIENT_ID CERT_PEM KEY_PEM CA_PEM PRIVATE_JWK REDIRECT_URI
//
// The script, with openid-client's own checks in force:
//   1. discovers the issuer and gets a client_credentials token (scope payments) with
//      private_key_jwt over mutual TLS;
//   2. POSTs a domestic-payment consent (OBIE v3.1) with that token over the same mTLS agent;
//   3. pushes (PAR) a signed request object (JAR, ES256) whose claims request
//      id_token.openbanking_intent_id = the consent's id (essential) and acr
//      urn:openbanking:psd2:sca (essential), with PKCE; prints the authorization URL;
//   4. reads the URL the customer's browser was sent back to, exchanges the code and checks
//      that the ID token's openbanking_intent_id is the consent's id;
//   5. submits the payment (POST /pisp/domestic-payments) with the consent's Initiation and
//      the customer's certificate-bound access token, then reads the consent back.
//
// With PAYMENT_JWS=sign in the environment the consent and payment POSTs carry an
// x-jws-signature: a detached JWS (OBIE v3.1.4+ form: base64url payload, no b64 header)
// made with npm "jose" over the exact body bytes — PS256 with the RSA private JWK in the
// file PAYMENT_JWS_JWK, or else ES256 with PRIVATE_JWK; kid from the JWK — typ JOSE, cty
// application/json, crit of the three Open Banking claims:
// http://openbanking.org.uk/iat (now), /iss (PAYMENT_JWS_ISS, default CLIENT_ID) and /tan
// (PAYMENT_JWS_TAN, default openbanking.org.uk).
//
// MTLS_ORIGIN is where requests for the issuer's origin are sent (the dev server's mTLS
// listener on a kernel-chosen port); the server certificate is checked against CA_PEM for
// the name "localhost".
//
// Protocol: stdout line 1 is {"consent_id": ..., "authorization_url": ...}; stdin line 1 is
// the callback URL; stdout line 2 is the result as one JSON object. Exit 0 on success; on
// failure the error goes to stderr and the exit status is 1.
import { readFileSync } from 'node:fs'
import { webcrypto } from 'node:crypto'
import * as client from 'openid-client'
import { CompactSign } from 'jose'
import { mtlsClient, readLine } from './lib.mjs'

const [issuer, mtlsOrigin, clientId, certFile, keyFile, caFile, jwkFile, redirectUri] = process.argv.slice(2)
if (!redirectUri) {
  console.error('usage: node payment.mjs ISSUER MTLS_ORIGIN CLIENT_ID CERT_PEM KEY_PEM CA_PEM PRIVATE_JWK REDIRECT_URI')
  process.exit(2)
}

const { agent, mtlsFetch } = mtlsClient({ issuer, mtlsOrigin, certFile, keyFile, caFile })

const jwk = JSON.parse(readFileSync(jwkFile, 'utf8'))
const key = await webcrypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])

const OB = ['http://openbanking.org.uk/iat', 'http://openbanking.org.uk/iss', 'http://openbanking.org.uk/tan']
const signing = process.env.PAYMENT_JWS === 'sign'

// The message-signing key: PAYMENT_JWS_JWK (an RSA private JWK, PS256) when given, else
// the client's ES256 key.
let sealJWK = jwk
let sealKey = key
let sealAlg = 'ES256'
if (signing && process.env.PAYMENT_JWS_JWK) {
  sealJWK = JSON.parse(readFileSync(process.env.PAYMENT_JWS_JWK, 'utf8'))
  if (sealJWK.kty !== 'RSA') throw new Error('PAYMENT_JWS_JWK: an RSA key is expected')
  sealKey = await webcrypto.subtle.importKey('jwk', sealJWK, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['sign'])
  sealAlg = 'PS256'
}

// detachedJWS is the x-jws-signature of body (OBIE v3.1.4+): header..signature.
async function detachedJWS (body) {
  const header = {
    alg: sealAlg,
    kid: sealJWK.kid,
    typ: 'JOSE',
    cty: 'application/json',
    [OB[0]]: Math.floor(Date.now() / 1000),
    [OB[1]]: process.env.PAYMENT_JWS_ISS || clientId,
    [OB[2]]: process.env.PAYMENT_JWS_TAN || 'openbanking.org.uk',
    crit: OB,
  }
  const jws = await new CompactSign(new TextEncoder().encode(body)).setProtectedHeader(header)
    .sign(sealKey, { crit: Object.fromEntries(OB.map((n) => [n, true])) })
  const [h, , s] = jws.split('.')
  return `${h}..${s}`
}

// post sends an Open Banking POST with the access token over the mTLS agent and returns
// {status, body, jws} (jws: the x-jws-signature sent, if any).
async function post (config, token, path, payload) {
  const body = JSON.stringify(payload)
  const headers = new Headers({
    'content-type': 'application/json',
    accept: 'application/json',
    'x-fapi-interaction-id': webcrypto.randomUUID(),
    'x-idempotency-key': webcrypto.randomUUID().slice(0, 36),
  })
  let jws
  if (signing) {
    jws = await detachedJWS(body)
    headers.set('x-jws-signature', jws)
  }
  const res = await client.fetchProtectedResource(config, token, new URL(path, issuer), 'POST', body, headers)
  return { status: res.status, body: await res.text(), request_body: body, jws_signature: jws }
}

async function get (config, token, path) {
  const res = await client.fetchProtectedResource(config, token, new URL(path, issuer), 'GET', undefined,
    new Headers({ accept: 'application/json', 'x-fapi-interaction-id': webcrypto.randomUUID() }))
  return { status: res.status, body: await res.text() }
}

const consents = '/open-banking/v3.1/pisp/domestic-payment-consents'
const initiation = {
  InstructionIdentification: 'INTEROP-1',
  EndToEndIdentification: 'E2E.INTEROP.1',
  InstructedAmount: { Amount: '42.17', Currency: 'GBP' },
  CreditorAccount: { SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: '40400411223344', Name: 'Corner Bakery' },
  RemittanceInformation: { Reference: 'ORDER-7781' },
}
const risk = { PaymentContextCode: 'EcommerceGoods' }

try {
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    { token_endpoint_auth_method: 'private_key_jwt', use_mtls_endpoint_aliases: true },
    client.PrivateKeyJwt({ key, kid: jwk.kid }),
    { [client.customFetch]: mtlsFetch, timeout: 10, execute: [client.enableNonRepudiationChecks] },
  )
  config[client.customFetch] = mtlsFetch

  const cc = await client.clientCredentialsGrant(config, { scope: 'payments' })
  const created = await post(config, cc.access_token, consents, { Data: { Initiation: initiation }, Risk: risk })
  if (created.status !== 201) throw new Error(`consent POST: ${created.status} ${created.body}`)
  const consentId = JSON.parse(created.body).Data.ConsentId
  if (!consentId) throw new Error(`consent POST: no ConsentId in ${created.body}`)

  const verifier = client.randomPKCECodeVerifier()
  const params = {
    redirect_uri: redirectUri,
    scope: 'openid payments',
    state: client.randomState(),
    nonce: client.randomNonce(),
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    claims: JSON.stringify({
      id_token: {
        openbanking_intent_id: { value: consentId, essential: true },
        acr: { essential: true, values: ['urn:openbanking:psd2:sca'] },
      },
    }),
  }
  const { searchParams } = await client.buildAuthorizationUrlWithJAR(config, params, { key, kid: jwk.kid })
  const authURL = await client.buildAuthorizationUrlWithPAR(config, searchParams)
  process.stdout.write(JSON.stringify({ consent_id: consentId, authorization_url: authURL.href }) + '\n')

  const callback = new URL(await readLine())
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: params.state,
    expectedNonce: params.nonce,
    idTokenExpected: true,
  })
  const idClaims = tokens.claims()
  if (idClaims.openbanking_intent_id !== consentId) {
    throw new Error(`ID token openbanking_intent_id ${idClaims.openbanking_intent_id}, want ${consentId}`)
  }
  if (idClaims.acr !== 'urn:openbanking:psd2:sca') throw new Error(`ID token acr ${idClaims.acr}`)

  const payment = await post(config, tokens.access_token, '/open-banking/v3.1/pisp/domestic-payments',
    { Data: { ConsentId: consentId, Initiation: initiation }, Risk: risk })
  const after = await get(config, cc.access_token, `${consents}/${consentId}`)
  process.stdout.write(JSON.stringify({
    consent_id: consentId,
    consent_created: created,
    access_token: tokens.access_token,
    id_token_claims: idClaims,
    payment,
    consent_after: after,
  }) + '\n')
} catch (err) {
  console.error(`${err.name}: ${err.message}${err.code ? ` (${err.code})` : ''}`)
  if (err.cause) console.error('cause:', err.cause)
  process.exit(1)
} finally {
  agent.destroy()
}
