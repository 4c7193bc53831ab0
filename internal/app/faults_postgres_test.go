package app_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"
)

// privatePostgres is a PostgreSQL cluster of one test, in a temporary directory, on a
// loopback port of its own, so the test can stop and start it without disturbing the shared
// server. As root (PostgreSQL refuses to run as root) it runs as the postgres OS user.
type privatePostgres struct {
	t       *testing.T
	bin     string // the server binaries' directory
	dir     string // data directory
	port    int
	asUser  []string // the runuser prefix as root, else nil
	running bool
}

// pgCommandTimeout bounds one initdb or pg_ctl run.
const pgCommandTimeout = 60 * time.Second

func newPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL server of its own")
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Skip("no PostgreSQL server binaries under /usr/lib/postgresql")
	}
	sort.Strings(bins)
	p := &privatePostgres{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	// Not t.TempDir: its parent is private to this user, and the server may run as another.
	root, err := os.MkdirTemp("", "portcullis-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	p.dir = filepath.Join(root, "data")
	if os.Geteuid() == 0 {
		pgUser, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres OS user to run the server as")
		}
		uid, _ := strconv.Atoi(pgUser.Uid)
		gid, _ := strconv.Atoi(pgUser.Gid)
		if err := os.Chmod(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(p.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p.dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	p.run("initdb", "-D", p.dir, "-U", "postgres", "-A", "trust", "--no-sync", "--no-instructions")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *privatePostgres) url() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(p.port) + "/postgres?sslmode=disable"
}

// run runs one of the server binaries, as the server's user, bounded in time.
func (p *privatePostgres) run(name string, args ...string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pgCommandTimeout)
	defer cancel()
	argv := append(append(append([]string(nil), p.asUser...), filepath.Join(p.bin, name)), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = os.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// start starts the server and waits until it accepts connections (pg_ctl -w).
func (p *privatePostgres) start() {
	p.t.Helper()
	opts := "-c listen_addresses=127.0.0.1 -c port=" + strconv.Itoa(p.port) +
		" -c unix_socket_directories='' -c fsync=off -c max_connections=50"
	p.run("pg_ctl", "-D", p.dir, "-o", opts, "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "50", "start")
	p.running = true
}

// stop stops the server in fast mode (sessions terminated, 57P01) and waits until it has
// exited; pg_ctl signals the postmaster by the PID in its postmaster.pid.
func (p *privatePostgres) stop() {
	p.t.Helper()
	if !p.running {
		return
	}
	p.running = false
	p.run("pg_ctl", "-D", p.dir, "-m", "fast", "-w", "-t", "50", "stop")
}
