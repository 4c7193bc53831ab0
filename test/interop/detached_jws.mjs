// Open Banking x-jws-signature with an independent JOSE implementation (npm "jose"), for
// internal/jose's TestDetachedInteropNodeJose. Reads {"jobs":[…]} on stdin, writes
// {"results":[…]} on stdout, one result per job, in order:
//
//   {"op":"sign","pkcs8":PEM,"alg":"PS256","header":{…},"body":BASE64,"unencoded":bool}
//     → {"sig":"header..signature"}
//   {"op":"verify","jwk":{…},"alg":"PS256","sig":"header..signature","body":BASE64,"unencoded":bool}
//     → {"ok":true,"header":{…}} or {"ok":false,"error":"…"}
//
// "unencoded" selects the RFC 7797 form ("b64":false, OBIE up to v3.1.3); otherwise the
// payload is base64url-encoded (OBIE v3.1.4+). The Open Banking header parameters are
// declared as understood critical parameters, as an OBIE participant's verifier would.
import { FlattenedSign, flattenedVerify, importJWK, importPKCS8, base64url } from 'jose';

const OB = ['http://openbanking.org.uk/iat', 'http://openbanking.org.uk/iss', 'http://openbanking.org.uk/tan'];
const crit = Object.fromEntries(OB.map((n) => [n, true]));

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function sign(job) {
  const key = await importPKCS8(job.pkcs8, job.alg);
  const body = Buffer.from(job.body, 'base64');
  const jws = await new FlattenedSign(body).setProtectedHeader(job.header).sign(key, { crit });
  if (job.unencoded !== (job.header.b64 === false)) throw new Error('form and header disagree');
  return { sig: `${jws.protected}..${jws.signature}` };
}

async function verify(job) {
  const [protectedHeader, payload, signature, extra] = job.sig.split('.');
  if (payload !== '' || extra !== undefined) return { ok: false, error: 'not a detached JWS' };
  const body = Buffer.from(job.body, 'base64');
  const key = await importJWK(job.jwk, job.alg);
  try {
    const res = await flattenedVerify(
      { protected: protectedHeader, payload: job.unencoded ? body : base64url.encode(body), signature },
      key,
      { crit, algorithms: [job.alg] },
    );
    return { ok: true, header: res.protectedHeader };
  } catch (e) {
    return { ok: false, error: `${e.code || e.name}: ${e.message}` };
  }
}

const input = await readStdin();
const results = [];
for (const job of input.jobs) {
  results.push(job.op === 'sign' ? await sign(job) : await verify(job));
}
process.stdout.write(JSON.stringify({ results }));
