// lib.mjs: the mutual-TLS transport and stdin protocol shared by journey.mjs and payment.mjs.
import { readFileSync } from 'node:fs'
import https from 'node:https'
import readline from 'node:readline'

// mtlsClient returns an https.Agent presenting the client certificate (CERT_PEM, KEY_PEM)
// and trusting only CA_PEM, and mtlsFetch: a Fetch API-compatible function over node:https
// with that agent; requests for the issuer's origin go to mtlsOrigin, the server
// certificate still checked for the name "localhost".
export function mtlsClient ({ issuer, mtlsOrigin, certFile, keyFile, caFile }) {
  const agent = new https.Agent({
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    ca: readFileSync(caFile),
    minVersion: 'TLSv1.2',
    servername: 'localhost',
  })
  const issuerOrigin = new URL(issuer).origin

  function mtlsFetch (input, options) {
    let url = new URL(input)
    if (url.origin === issuerOrigin) url = new URL(url.pathname + url.search, mtlsOrigin)
    return new Promise((resolve, reject) => {
      let body = options.body
      if (body instanceof URLSearchParams) body = body.toString()
      else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) body = Buffer.from(body)
      const headers = options.headers instanceof Headers ? Object.fromEntries(options.headers.entries()) : options.headers
      const req = https.request(url, { method: options.method, headers, agent, servername: 'localhost', signal: options.signal }, (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => {
          const h = new Headers()
          for (const [k, v] of Object.entries(res.headers)) {
            for (const item of [].concat(v)) h.append(k, item)
          }
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers: h }))
        })
        res.on('error', reject)
      })
      req.on('error', reject)
      if (body !== undefined && body !== null) req.write(body)
      req.end()
    })
  }

  return { agent, mtlsFetch }
}

// readLine returns the first line of stdin.
export function readLine () {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: process.stdin })
    rl.once('line', (line) => { resolve(line.trim()); rl.close() })
    rl.once('close', () => reject(new Error('stdin closed before the callback URL was written')))
  })
}
