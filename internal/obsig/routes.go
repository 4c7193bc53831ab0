package obsig

import (
	"fmt"
	"net/http"
)

// PaymentRoutes are the OBIE v3.1 requests that carry a TPP's x-jws-signature: the POSTs of
// payment consents and payment orders, domestic VRP consents and VRPs (ServeMux patterns).
// The VRP specification names its endpoints relative to the API's base path, which banks
// put under /pisp (as this server does) or /vrp: both are listed.
var PaymentRoutes = []string{
	"POST /open-banking/v3.1/pisp/domestic-payment-consents",
	"POST /open-banking/v3.1/pisp/domestic-payments",
	"POST /open-banking/v3.1/pisp/domestic-scheduled-payment-consents",
	"POST /open-banking/v3.1/pisp/domestic-scheduled-payments",
	"POST /open-banking/v3.1/pisp/domestic-standing-order-consents",
	"POST /open-banking/v3.1/pisp/domestic-standing-orders",
	"POST /open-banking/v3.1/pisp/international-payment-consents",
	"POST /open-banking/v3.1/pisp/international-payments",
	"POST /open-banking/v3.1/pisp/file-payment-consents",
	"POST /open-banking/v3.1/pisp/file-payments",
	"POST /open-banking/v3.1/pisp/domestic-vrp-consents",
	"POST /open-banking/v3.1/pisp/domestic-vrps",
	"POST /open-banking/v3.1/vrp/domestic-vrp-consents",
	"POST /open-banking/v3.1/vrp/domestic-vrps",
}

// OnRoutes returns a handler that applies [Middleware.Require] to the requests matching one
// of patterns (http.ServeMux patterns, e.g. [PaymentRoutes]) and [Middleware.Sign] to those
// matching one of signOnly (the GETs of the same APIs), and passes every other request to
// next untouched. A pattern ServeMux refuses (bad syntax, a conflict) is an error.
func (m *Middleware) OnRoutes(next http.Handler, patterns, signOnly []string) (h http.Handler, err error) {
	defer func() {
		if p := recover(); p != nil {
			h, err = nil, fmt.Errorf("obsig: route patterns: %v", p)
		}
	}()
	mux := http.NewServeMux()
	require, sign := m.Require(next), m.Sign(next)
	for _, p := range patterns {
		mux.Handle(p, require)
	}
	for _, p := range signOnly {
		mux.Handle(p, sign)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	}), nil
}
