package app

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering pins the import rules of DESIGN.md and issue 9 point 11, so that
// they cannot regress: configuration holds plain values (it does not know the
// gateway), the gateway does not know the sandbox bank (the bank's routes are
// configuration values it hands to the wiring), the OBIE error body lives in a leaf
// package, and the upstream boundary does not know the gateway.
func TestLayering(t *testing.T) {
	const mod = "github.com/portcullis/portcullis/internal/"
	rules := []struct {
		pkg       string
		forbidden []string // packages (and their subpackages) pkg must not depend on
		leaf      bool     // pkg depends on no package of this module
	}{
		{pkg: "config", forbidden: []string{"gateway", "upstream", "sandbox", "consent", "app", "authz", "token"}},
		{pkg: "gateway", forbidden: []string{"sandbox", "app", "authz"}},
		{pkg: "upstream", forbidden: []string{"gateway", "sandbox", "app"}},
		{pkg: "sandbox/bank", forbidden: []string{"gateway", "app"}},
		{pkg: "obie", leaf: true},
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", mod+r.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", r.pkg, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				rel, ours := strings.CutPrefix(dep, mod)
				if !ours || rel == r.pkg {
					continue
				}
				if r.leaf {
					t.Errorf("%s is a leaf package but depends on %s", r.pkg, rel)
				}
				for _, f := range r.forbidden {
					if rel == f || strings.HasPrefix(rel, f+"/") {
						t.Errorf("%s depends on %s", r.pkg, rel)
					}
				}
			}
		})
	}
}
