package config

import (
	"errors"
	"testing"
	"time"
)

func TestWebSection(t *testing.T) {
	got, err := Load(writeFile(t, "dev: true\nweb:\n  theme_dir: /etc/portcullis/theme\n  session_key_file: /run/secrets/web.key\n  session_lifetime: 20m\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Web{ThemeDir: "/etc/portcullis/theme", SessionKeyFile: "/run/secrets/web.key", SessionLifetime: 20 * time.Minute}); got.Web != want {
		t.Errorf("web = %+v", got.Web)
	}
	got, err = Load("", []string{"PORTCULLIS_WEB_THEME_DIR=/srv/theme"})
	if err != nil || got.Web.ThemeDir != "/srv/theme" {
		t.Errorf("env override: %+v, %v", got.Web, err)
	}
	for _, bad := range []string{"30s", "2h", "-1m"} {
		_, err := Load(writeFile(t, "dev: true\nweb:\n  session_lifetime: "+bad+"\n"), nil)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "web.session_lifetime" {
			t.Errorf("session_lifetime %s: %v", bad, err)
		}
	}
}
