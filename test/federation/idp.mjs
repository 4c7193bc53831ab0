// The bank's identity provider for internal/app's federated-login test (TestFederatedLogin):
// panva oidc-provider with its devInteractions login and consent pages (any login, any
// password), Portcullis registered as a relying party.
//
//   node idp.mjs      env: CERT, KEY (PEM files of the TLS server), HOST (default 127.0.0.1)
//
// It listens on HOST at a free port and prints "PORT <n>". It then reads one line of JSON
// from stdin — {"clients": [{"client_id": …, "redirect_uris": […], "client_secret": … |
// "jwks": {…}}, …]} — the relying parties as the started Portcullis nodes know themselves
// (client_secret_basic with a secret, private_key_jwt with a JWK Set), builds the provider with issuer
// https://HOST:<n>, and prints "READY". Until then every request is answered 503.
//
// The login name steers what the provider asserts, so one provider serves every row:
//   sca-*   acr urn:idp:loa:high, amr ["pwd","otp"]
//   amr-*   acr urn:idp:loa:low,  amr ["pwd","hwk"]
//   aud-*   as the default, but the ID token is issued to another audience ("another-rp"):
//           a provider that confuses its clients (Portcullis must refuse the token)
//   other   acr urn:idp:loa:low,  amr ["pwd"]
// ID tokens are ES256 and carry sub (the login), bank_customer_id ("bank-" + the login),
// acr, amr, auth_time and the nonce of the request. PKCE is required.
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as crypto from 'node:crypto';
import * as readline from 'node:readline';

import Provider from 'oidc-provider';

const HOST = process.env.HOST || '127.0.0.1';
let handler = (req, res) => { res.statusCode = 503; res.end('starting'); };
const server = https.createServer({
  key: fs.readFileSync(process.env.KEY),
  cert: fs.readFileSync(process.env.CERT),
  minVersion: 'TLSv1.2',
}, (req, res) => handler(req, res));

function assertion(accountId) {
  if (accountId.startsWith('sca-')) return { acr: 'urn:idp:loa:high', amr: ['pwd', 'otp'] };
  if (accountId.startsWith('amr-')) return { acr: 'urn:idp:loa:low', amr: ['pwd', 'hwk'] };
  return { acr: 'urn:idp:loa:low', amr: ['pwd'] };
}

function build(issuer, { clients }) {
  const signing = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const client = (rp) => ({
    client_id: rp.client_id,
    redirect_uris: rp.redirect_uris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    id_token_signed_response_alg: 'ES256',
    ...(rp.jwks
      ? { token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: rp.jwks }
      : { token_endpoint_auth_method: 'client_secret_basic', client_secret: rp.client_secret }),
  });
  const provider = new Provider(issuer, {
    clients: clients.map(client),
    jwks: { keys: [{ ...signing, kid: 'idp-es256', use: 'sig', alg: 'ES256' }] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    // acr, amr and auth_time are claims of the openid scope here, so every ID token carries them.
    claims: { openid: ['sub', 'bank_customer_id', 'psu_id', 'acr', 'amr', 'auth_time'] },
    conformIdTokenClaims: false,
    acrValues: ['urn:idp:loa:high', 'urn:idp:loa:low'],
    pkce: { required: () => true },
    enabledJWA: { idTokenSigningAlgValues: ['ES256'], clientAuthSigningAlgValues: ['ES256', 'PS256', 'EdDSA'] },
    features: { devInteractions: { enabled: true } },
    async findAccount(ctx, id) {
      // psu_id: the login without its sca-/amr- prefix (the sandbox bank's customer "demo" logs
      // in as sca-demo in TestProductionEndToEnd).
      return { accountId: id, async claims() { return { sub: id, bank_customer_id: `bank-${id}`, psu_id: id.replace(/^(sca|amr)-/, '') }; } };
    },
  });
  provider.proxy = false;
  provider.on('server_error', (ctx, err) => console.error('server_error', err));

  // devInteractions logs in with the accountId only: add the acr and amr the login name asks for.
  const finished = provider.interactionFinished.bind(provider);
  provider.interactionFinished = async (req, res, result, options) => {
    if (result?.login?.accountId) Object.assign(result.login, assertion(result.login.accountId));
    return finished(req, res, result, options);
  };
  // aud-*: the ID token names another client as its audience.
  const issue = provider.IdToken.prototype.issue;
  provider.IdToken.prototype.issue = async function issueMaybeMisdirected(options) {
    if (options?.use !== 'idtoken' || !String(this.available?.sub || '').startsWith('aud-')) {
      return issue.call(this, options);
    }
    const real = this.client;
    this.client = new Proxy(real, {
      get(target, prop) {
        if (prop === 'clientId') return 'another-rp';
        const v = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    try {
      return await issue.call(this, options);
    } finally {
      this.client = real;
    }
  };
  return provider;
}

server.listen(0, HOST, () => {
  const { port } = server.address();
  console.log(`PORT ${port}`);
  const rl = readline.createInterface({ input: process.stdin });
  rl.once('line', (line) => {
    const provider = build(`https://${HOST}:${port}`, JSON.parse(line));
    handler = provider.callback();
    console.log('READY');
  });
});

const shutdown = () => { server.close(); setTimeout(() => process.exit(0), 200).unref(); };
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
