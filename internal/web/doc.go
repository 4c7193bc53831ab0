// Package web serves the customer's (PSU's) pages of an authorization journey: login,
// second factor (SCA), approval, and the error page that ends a journey which must not be
// redirected. It owns the browser-facing half of the journey and nothing of the protocol:
// the authorization endpoint validates the request, then hands the browser over with
// [Pages.Start]; the pages check the customer through an [Authenticator], show what the
// pending request asks for through a [Journey], and end with a 303 to the URL the
// journey's Approve or Deny returns.
//
// What the pages guarantee (INTERFACE.md "Customer pages"; ISSUE 10 point 9):
//
//   - Server-rendered html/template, no JavaScript; each step is one <form method="post">
//     carrying a hidden CSRF field named "csrf"; a POST without it or with a wrong one is
//     refused with 403. Every user-agent redirect is a 303.
//   - Every response carries the security headers of [SecurityHeaders]: a CSP without
//     'unsafe-inline' (default-src 'self', frame-ancestors 'none', base-uri 'none',
//     form-action 'self' plus, on a journey's pages, the origin of its registered
//     redirect_uri, since browsers apply form-action to the redirect that follows a form
//     post), X-Frame-Options DENY, HSTS, Referrer-Policy no-referrer,
//     X-Content-Type-Options nosniff, Cache-Control no-store. Never a CORS header.
//   - The session lives in one cookie, __Host-portcullis-session (Secure; HttpOnly;
//     SameSite=Lax; Path=/), sealed with AES-256-GCM under a key the node loads from its
//     data directory ([LoadOrCreateKey]). Sealed state rather than a table: any node that
//     holds the same key continues a journey another node began, so a node killed
//     mid-journey loses nothing, and no store round trip is spent per page. The session
//     carries a random id and CSRF token that are replaced at every authentication step
//     (session fixation), and an expiry no later than the journey's own and at most
//     [DefaultSessionLifetime] after the journey started. What a replayed earlier cookie
//     could repeat is bounded elsewhere: password and OTP attempts are rate-limited by the
//     Authenticator, and the approval is single use in the Journey (a second Approve
//     returns [ErrJourneyGone]).
//   - Messages come from one catalog of message ids ([Catalog]); templates use ids only.
//   - Themable without rebuilding: templates, CSS and logo are embedded defaults that a
//     file of the same name under [Options.ThemeDir] replaces (see [Options]).
//
// A federated login ([Options.Federation], the bank's own identity provider) replaces the
// password and one-time-code pages with two steps: the login page answers 303 to the
// provider's URL from [Federation.Begin], keeping Begin's pending value (state, nonce, PKCE
// verifier) in the sealed session, and [FederatedCallbackPath] hands the provider's answer
// with that value to [Federation.Finish], then moves the session to the approval step with
// a fresh id and CSRF token. The pending value is used once, whatever the outcome, and
// lives only in the cookie, so the callback may land on any node. A refused answer is the
// 400 page, a cancel at the provider denies the journey, an unreachable provider is the
// 503 page.
//
// The consent dashboard ([Options.Dashboard], [ConsentsPath]) is the customer's own page,
// not part of a journey: opening it without a signed-in dashboard session starts one (a
// journey's session in the same browser is replaced) that goes through the same login and
// second-factor pages — or the federated login — with the same fresh id and CSRF token at
// each step, and ends at the list of the customer's consents per TPP. Revoking takes two
// POSTs: action=revoke shows the confirmation page, action=confirm revokes through
// [Dashboard.Revoke] and answers 303 back to the list. A journey's session cannot post the
// dashboard's forms, nor a dashboard session the approval form (403).
//
// One browser follows one journey at a time: [Pages.Start] replaces the session, so a
// form still open in another tab of an earlier journey is refused (403) rather than
// applied to the new one.
//
// It refuses to do: render a page for a journey it cannot find (400 error page, never a
// redirect), accept a form from a session whose step is not the form's step, or pass an
// unknown error's detail to the browser.
package web
