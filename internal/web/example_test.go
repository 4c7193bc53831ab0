package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/portcullis/portcullis/internal/web"
)

// identityAdapter stands for the adapter that maps package identity's errors onto
// web.ErrWrongCredentials, web.ErrCodeUsed and web.ErrTooManyAttempts.
type identityAdapter struct{}

func (identityAdapter) CheckPassword(ctx context.Context, username, password, clientAddr string) (string, error) {
	return "", web.ErrWrongCredentials
}

func (identityAdapter) CheckOTP(ctx context.Context, customerID, code, clientAddr string) error {
	return web.ErrWrongCredentials
}

// pendingRequests stands for the authorization endpoint's store of validated requests.
type pendingRequests struct{}

func (pendingRequests) Journey(ctx context.Context, id string) (web.Journey, error) {
	return nil, web.ErrJourneyGone
}

// The wiring on the browser-facing listener: the pages under /customer/, and the
// authorization endpoint handing a validated request over with Start, or ending an
// untrusted one with Refuse.
func Example() {
	key, err := web.LoadOrCreateKey(filepath.Join("data", "web-session.key"))
	if err != nil {
		panic(err)
	}
	pages, err := web.New(web.Options{
		Authenticator: identityAdapter{},
		Journeys:      pendingRequests{},
		SessionKeys:   [][]byte{key},
		ThemeDir:      "", // config web.theme_dir
		Logger:        slog.Default(),
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle(web.PathPrefix, pages)
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		// … validate the request; an unknown client or redirect_uri:
		//     pages.Refuse(w, r, "invalid_request: redirect_uri is not registered")
		// … else store it as a pending journey and hand the browser over:
		pages.Start(w, r, "journey-id")
	})
	_ = mux
}
