package web

import (
	"fmt"
	"maps"
)

// Catalog maps message ids to text. Templates and handlers name messages by id only, so
// a bank translates or rewords the pages by overriding entries ([Options.Messages])
// without touching a template. Texts with verbs take arguments in fmt order.
type Catalog map[string]string

// English is the default catalog.
var English = Catalog{
	"bank.name":     "Portcullis Sandbox Bank",
	"bank.logo_alt": "Portcullis Sandbox Bank",
	"page.secure":   "Secure sign-in",
	"page.footer":   "You are on the bank's own website. Never share your password or one-time codes with anyone, including the app you are connecting.",

	"client.unnamed":               "An app without a registered name",
	"client.from":                  "Request from",
	"login.title":                  "Sign in to your bank",
	"login.intro":                  "%s has asked to connect to your bank account. Sign in to review what it asks for.",
	"login.username":               "Customer ID",
	"login.password":               "Password",
	"login.submit":                 "Continue",
	"login.cancel":                 "Cancel and return to %s",
	"login.wrong":                  "We could not sign you in with these details. Check your customer ID and password and try again.",
	"login.missing":                "Enter your customer ID and password.",
	"otp.title":                    "Confirm it's you",
	"otp.intro":                    "Enter the 6-digit code from your authenticator app.",
	"otp.label":                    "One-time code",
	"otp.hint":                     "6 digits, for example 123456",
	"otp.submit":                   "Confirm",
	"otp.wrong":                    "That code is not right. Enter the current code from your authenticator app.",
	"otp.used":                     "That code has already been used. Wait for the next code and enter it.",
	"otp.format":                   "Enter the 6 digits of the code, without spaces.",
	"attempts.locked":              "Too many attempts. Try again in %d seconds.",
	"attempts.later":               "Too many attempts. Try again later.",
	"approve.title":                "%s wants access",
	"approve.intro":                "%s is asking for the following. Only approve if you started this request in the app.",
	"approve.asks":                 "What it asks for",
	"approve.accounts":             "Choose the accounts to share",
	"approve.no_accounts":          "This request does not need access to any account.",
	"approve.choose":               "Choose at least one account, or deny the request.",
	"approve.debtor":               "Choose the account to pay from",
	"approve.choose_one":           "Choose one account to pay from, or deny the request.",
	"approve.expires":              "Please decide by %s. After that, start again from the app.",
	"approve.approve":              "Approve",
	"approve.deny":                 "Deny",
	"approve.signed_in":            "You are signed in. Approving sends you back to %s.",
	"consent.permissions":          "It will be able to",
	"consent.payment":              "The payment",
	"consent.amount":               "Amount",
	"consent.to":                   "To",
	"consent.reference":            "Reference",
	"consent.from":                 "From your account",
	"consent.limits":               "Limits",
	"consent.window":               "Transaction history",
	"consent.expires":              "This consent lasts until %s. You can withdraw it at any time.",
	"consent.no_expiry":            "This consent has no end date. You can withdraw it at any time.",
	"consent.single_use":           "This consent is for this one payment only. It ends once the payment is made.",
	"dash.title":                   "Connected apps",
	"dash.intro":                   "These are the apps you have allowed to access your accounts. You can withdraw an app's access at any time; it stops straight away.",
	"dash.login_title":             "Sign in to manage connected apps",
	"dash.login_intro":             "Sign in to see which apps can access your accounts and to withdraw their access.",
	"dash.none":                    "You have not connected any apps to your accounts.",
	"dash.accounts":                "Accounts",
	"dash.no_accounts":             "No account",
	"dash.granted":                 "Given on",
	"dash.expires":                 "Ends on",
	"dash.no_expiry":               "No end date",
	"dash.status":                  "Status",
	"dash.revoke":                  "Withdraw access",
	"dash.revoked":                 "Access withdrawn. The app can no longer see or use your accounts under this consent.",
	"dash.inactive":                "This consent has already ended.",
	"dash.logout":                  "Sign out",
	"dash.confirm_title":           "Withdraw access for %s?",
	"dash.confirm_intro":           "%s will immediately lose the access below. To connect it again you will have to give a new consent in the app.",
	"dash.confirm":                 "Yes, withdraw access",
	"dash.keep":                    "No, keep it",
	"status.Authorised":            "Active",
	"status.AwaitingAuthorisation": "Waiting for your approval",
	"status.Rejected":              "Refused",
	"status.Consumed":              "Used",
	"status.Revoked":               "Withdrawn",
	"status.Expired":               "Expired",
	"scope.openid":                 "Confirm who you are to the app",
	"scope.accounts":               "See your account details, balances and transactions",
	"scope.payments":               "Make payments from your account that you approve",
	"scope.fundsconfirmations":     "Check whether your account has enough money for a payment",
	"scope.offline_access":         "Keep this access while you are not using the app, until it expires or you withdraw it",
	"scope.other":                  "Other access: %s",
	"error.title":                  "We can't continue",
	"error.back":                   "Return to the app you came from and start again.",
	"error.expired":                "This sign-in has expired or was already completed.",
	"error.forbidden":              "This form has expired or was not sent from this page. Go back, reload the page and try again.",
	"error.bad_request":            "The request was not valid.",
	"error.too_large":              "The form was too large.",
	"error.unavailable":            "The bank cannot complete this step right now. Please try again in a few minutes.",
	"error.detail":                 "For the app's developer: %s",
	"error.login_refused":          "Your bank could not confirm your sign-in. Return to the app you came from and start again.",
	"error.untrusted":              "The app that sent you here could not be verified, so you have not been sent back to it.",
}

// merge returns c with the entries of over replacing or adding to c's.
func (c Catalog) merge(over Catalog) Catalog {
	m := maps.Clone(c)
	maps.Copy(m, over)
	return m
}

// text returns the message id formatted with args; an unknown id renders as itself in
// brackets so a missing entry is visible rather than blank.
func (c Catalog) text(id string, args ...any) string {
	msg, ok := c[id]
	if !ok {
		return "[" + id + "]"
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
}
