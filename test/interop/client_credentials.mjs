// client_credentials.mjs: an independent relying party (openid-client) obtains a
// client_credentials access token from Portcullis, authenticating with private_key_jwt over
// mutual TLS. The Go interop test (internal/authz) runs it and checks the token's cnf binding.
//
// Usage:
//   node client_credentials.mjs ISSUER CLIENT_ID CERT_PEM KEY_PEM CA_PEM PRIVATE_JWK [SCOPE]
//
// CERT_PEM / KEY_PEM are the client's TLS certificate chain and key, CA_PEM the trust anchor of
// the server's certificate, PRIVATE_JWK the client's private signing key (a JWK with "kid").
// On success it prints the token endpoint response as one JSON line and exits 0; on failure
// it prints the error to stderr and exits 1.
import { readFileSync } from 'node:fs'
import https from 'node:https'
import { webcrypto } from 'node:crypto'
import * as client from 'openid-client'

const [issuer, clientId, certFile, keyFile, caFile, jwkFile, scope] = process.argv.slice(2)
if (!jwkFile) {
  console.error('usage: node client_credentials.mjs ISSUER CLIENT_ID CERT_PEM KEY_PEM CA_PEM PRIVATE_JWK [SCOPE]')
  process.exit(2)
}

const agent = new https.Agent({
  cert: readFileSync(certFile),
  key: readFileSync(keyFile),
  ca: readFileSync(caFile),
  minVersion: 'TLSv1.2',
})

// mtlsFetch is a Fetch API-compatible function over node:https, so that every request
// (discovery included) presents the client certificate and trusts only the given CA.
function mtlsFetch (url, options) {
  return new Promise((resolve, reject) => {
    let body = options.body
    if (body instanceof URLSearchParams) body = body.toString()
    else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) body = Buffer.from(body)
    const req = https.request(url, { method: options.method, headers: options.headers, agent, signal: options.signal }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const headers = new Headers()
        for (const [k, v] of Object.entries(res.headers)) {
          for (const item of [].concat(v)) headers.append(k, item)
        }
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers }))
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    if (body !== undefined && body !== null) req.write(body)
    req.end()
  })
}

const jwk = JSON.parse(readFileSync(jwkFile, 'utf8'))
const key = await webcrypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])

try {
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    { token_endpoint_auth_method: 'private_key_jwt' },
    client.PrivateKeyJwt({ key, kid: jwk.kid }),
    { [client.customFetch]: mtlsFetch, timeout: 10 },
  )
  config[client.customFetch] = mtlsFetch
  const params = scope ? { scope } : {}
  const tokens = await client.clientCredentialsGrant(config, params)
  process.stdout.write(JSON.stringify({
    access_token: tokens.access_token,
    token_type: tokens.token_type,
    expires_in: tokens.expires_in,
    scope: tokens.scope,
  }) + '\n')
} catch (err) {
  console.error(`${err.name}: ${err.message}${err.code ? ` (${err.code})` : ''}`)
  if (err.cause) console.error('cause:', err.cause)
  process.exit(1)
} finally {
  agent.destroy()
}
