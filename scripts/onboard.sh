#!/usr/bin/env bash
# scripts/onboard.sh — a TPP onboards itself at the dev server, end to end, the way a TPP
# does it in production (README "Onboarding a TPP by dynamic client registration"):
#
#   1. the sandbox directory (DATA/directory, trusted by the dev server) mints a software
#      statement (SSA) for the TPP's software, roles, redirect URI and software JWKS;
#   2. the sandbox CA issues the TPP's QWAC (eIDAS, PSD2 roles AISP and PISP);
#   3. the TPP publishes its software key's JWK Set over https (software_jwks_endpoint);
#   4. it signs a registration request (a JWT carrying the SSA) with its software key and
#      POSTs it to /register over mTLS with the QWAC (curl);
#   5. client_credentials token, bound to the QWAC;
#   6. a gateway call to the sandbox bank (an application-token route);
#   7. an OBIE account-access consent, created with an application token;
#   8. the customer journey starts: a signed request object naming the consent
#      (openbanking_intent_id, essential acr SCA) pushed to /par, then /authorize with the
#      request_uri answers the login page.
#
# KEY_TYPE=rsa uses RSA keys and PS256 everywhere; KEY_TYPE=ec uses P-256 keys and ES256.
# The JWTs are signed by `portcullis directory sign-request` (PS256 with openssl alone is
# easy, ES256 is not: openssl writes DER signatures, JWS wants r||s).
#
# Environment: PORTCULLIS (the binary, default ./portcullis), DATA (the dev server's
# data dir, default data), AS (its mTLS base URL, default https://localhost:8443),
# KEY_TYPE (rsa or ec, default rsa), WORK (output directory, default tpp-$KEY_TYPE), ORG
# (the QWAC's organizationIdentifier), SOFTWARE_ID. Needs bash, curl, openssl, python3.
set -euo pipefail

PORTCULLIS=${PORTCULLIS:-./portcullis}
DATA=${DATA:-data}
AS=${AS:-https://localhost:8443}
KEY_TYPE=${KEY_TYPE:-rsa}
WORK=${WORK:-tpp-$KEY_TYPE}
case "$KEY_TYPE" in
rsa) ALG=PS256 ORG=${ORG:-PSDGB-FCA-654321} GENKEY=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048) ;;
ec) ALG=ES256 ORG=${ORG:-PSDGB-FCA-654322} GENKEY=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256) ;;
*) echo "KEY_TYPE must be rsa or ec" >&2; exit 2 ;;
esac
SOFTWARE_ID=${SOFTWARE_ID:-OnboardTpp${KEY_TYPE^^}}
REDIRECT=https://tpp.example.com/cb
CA=$DATA/pki/ca.crt
mkdir -p "$WORK/www"

json_get() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
tpp_curl() { curl -sS --cacert "$CA" --cert "$WORK/qwac.crt" --key "$WORK/qwac.key" "$@"; }
expect() { # expect STATUS FILE: the last curl's status (its -w output) is STATUS
	if [ "$STATUS" != "$1" ]; then echo "HTTP $STATUS, want $1:" >&2; cat "$2" >&2; echo >&2; exit 1; fi
}

echo "== 1. QWAC ($KEY_TYPE) for $ORG, PSD2 roles AISP and PISP"
"$PORTCULLIS" pki issue qwac --dir "$DATA/pki" --out "$WORK/qwac" --org-id "$ORG" --roles AISP,PISP --key-type "$KEY_TYPE" >/dev/null

echo "== 2. software key ($ALG) and its JWK Set, served over https"
openssl genpkey "${GENKEY[@]}" -out "$WORK/software.key" 2>/dev/null
"$PORTCULLIS" directory software-jwks --key "$WORK/software.key" >"$WORK/www/jwks.json"
"$PORTCULLIS" pki issue server --dir "$DATA/pki" --out "$WORK/jwks-host" --dns localhost >/dev/null
: >"$WORK/jwks.port"
python3 - "$WORK/jwks-host.crt" "$WORK/jwks-host.key" "$WORK/www" >"$WORK/jwks.port" 2>/dev/null <<'PY' &
import functools, http.server, ssl, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[3])
server = http.server.HTTPServer(("127.0.0.1", 0), handler)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = tls.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
JWKS_PID=$!
trap 'kill "$JWKS_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$WORK/jwks.port" ] && break; sleep 0.1; done
JWKS_URI=https://localhost:$(cat "$WORK/jwks.port")/jwks.json
curl -sS --fail --cacert "$CA" "$JWKS_URI" >/dev/null

echo "== 3. software statement from the sandbox directory"
"$PORTCULLIS" directory ssa --dir "$DATA/directory" --software-id "$SOFTWARE_ID" --org-id "$ORG" \
	--org-name "Onboarding TPP Ltd" --roles AISP,PISP --redirect-uri "$REDIRECT" --jwks-uri "$JWKS_URI" \
	--out "$WORK/ssa.jwt" >/dev/null

echo "== 4. registration request signed with the software key, POST /register"
curl -sS --cacert "$CA" "$AS/.well-known/openid-configuration" >"$WORK/discovery.json"
ISSUER=$(json_get issuer <"$WORK/discovery.json")
AUTHORIZE=$(json_get authorization_endpoint <"$WORK/discovery.json")
SUBJECT=$(openssl x509 -in "$WORK/qwac.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
NOW=$(date +%s)
export SOFTWARE_ID ISSUER NOW ALG REDIRECT SUBJECT
SSA=$(cat "$WORK/ssa.jwt") JTI=$(openssl rand -hex 16) python3 -c '
import json, os
e = os.environ
print(json.dumps({
    "iss": e["SOFTWARE_ID"], "aud": e["ISSUER"], "iat": int(e["NOW"]), "exp": int(e["NOW"]) + 300,
    "jti": e["JTI"], "software_statement": e["SSA"],
    "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": e["SUBJECT"],
    "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
    "response_types": ["code id_token"], "redirect_uris": [e["REDIRECT"]],
    "request_object_signing_alg": e["ALG"],
    "application_type": "web", "scope": "openid accounts payments"}))' >"$WORK/registration.json"
"$PORTCULLIS" directory sign-request --key "$WORK/software.key" <"$WORK/registration.json" >"$WORK/registration.jwt"
STATUS=$(tpp_curl -o "$WORK/client.json" -w '%{http_code}' -H 'Content-Type: application/jwt' \
	--data-binary @"$WORK/registration.jwt" "$AS/register")
expect 201 "$WORK/client.json"
CLIENT_ID=$(json_get client_id <"$WORK/client.json")
echo "registered client_id $CLIENT_ID"

echo "== 5. client_credentials token"
STATUS=$(tpp_curl -o "$WORK/token.json" -w '%{http_code}' "$AS/token" \
	-d grant_type=client_credentials -d client_id="$CLIENT_ID" -d scope=payments)
expect 200 "$WORK/token.json"
TOKEN=$(json_get access_token <"$WORK/token.json")

echo "== 6. gateway call to the sandbox bank (it answers 404 for the unknown payment p-1)"
STATUS=$(tpp_curl -o "$WORK/payment.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	"$AS/open-banking/v3.1/pisp/domestic-payments/p-1")
expect 404 "$WORK/payment.json"
grep -q 'No such payment' "$WORK/payment.json"

echo "== 7. account-access consent (OBIE v3.1) with an application token of scope accounts"
STATUS=$(tpp_curl -o "$WORK/token-accounts.json" -w '%{http_code}' "$AS/token" \
	-d grant_type=client_credentials -d client_id="$CLIENT_ID" -d scope=accounts)
expect 200 "$WORK/token-accounts.json"
STATUS=$(tpp_curl -o "$WORK/consent.json" -w '%{http_code}' -H "Authorization: Bearer $(json_get access_token <"$WORK/token-accounts.json")" \
	-H 'Content-Type: application/json' -H "x-fapi-interaction-id: $(python3 -c 'import uuid; print(uuid.uuid4())')" \
	--data '{"Data":{"Permissions":["ReadAccountsBasic","ReadAccountsDetail","ReadBalances"]},"Risk":{}}' \
	"$AS/open-banking/v3.1/aisp/account-access-consents")
expect 201 "$WORK/consent.json"
CONSENT_ID=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["Data"]["ConsentId"])' <"$WORK/consent.json")
echo "consent $CONSENT_ID awaiting authorisation"

echo "== 8. journey start: signed request object naming the consent, pushed to /par, then /authorize"
VERIFIER=$(openssl rand -hex 32)
CHALLENGE=$(printf %s "$VERIFIER" | openssl dgst -sha256 -binary | b64url)
NOW=$(date +%s)
CONSENT_ID=$CONSENT_ID CLIENT_ID=$CLIENT_ID CHALLENGE=$CHALLENGE NOW=$NOW STATE=$(openssl rand -hex 8) NONCE=$(openssl rand -hex 8) python3 -c '
import json, os
e = os.environ
print(json.dumps({
    "iss": e["CLIENT_ID"], "aud": e["ISSUER"], "client_id": e["CLIENT_ID"],
    "nbf": int(e["NOW"]), "exp": int(e["NOW"]) + 300,
    "response_type": "code id_token", "redirect_uri": e["REDIRECT"], "scope": "openid accounts",
    "state": e["STATE"], "nonce": e["NONCE"],
    "code_challenge": e["CHALLENGE"], "code_challenge_method": "S256",
    "claims": {"id_token": {
        "openbanking_intent_id": {"value": e["CONSENT_ID"], "essential": True},
        "acr": {"essential": True, "values": ["urn:openbanking:psd2:sca"]}}}}))' >"$WORK/request.json"
"$PORTCULLIS" directory sign-request --key "$WORK/software.key" --typ oauth-authz-req+jwt \
	<"$WORK/request.json" >"$WORK/request.jwt"
STATUS=$(tpp_curl -o "$WORK/par.json" -w '%{http_code}' "$AS/par" \
	-d client_id="$CLIENT_ID" --data-urlencode "request=$(cat "$WORK/request.jwt")")
expect 201 "$WORK/par.json"
REQUEST_URI=$(json_get request_uri <"$WORK/par.json")
STATUS=$(curl -sS --cacert "$CA" -L -c "$WORK/cookies" -o "$WORK/authorize.html" -w '%{http_code}' -G \
	--data-urlencode client_id="$CLIENT_ID" --data-urlencode request_uri="$REQUEST_URI" "$AUTHORIZE")
expect 200 "$WORK/authorize.html"
grep -qi "<form" "$WORK/authorize.html"
echo "onboarded: $CLIENT_ID ($KEY_TYPE, $ALG); consent $CONSENT_ID waits for the customer at $AUTHORIZE"
