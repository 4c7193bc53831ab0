package jose

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ManifestName is the file in a key directory that lists its keys, their states
// and retirement times:
//
//	{"keys":[{"kid":"…","alg":"ES256","file":"….pem","state":"active","created_at":"…"},
//	         {"kid":"…","alg":"ES256","file":"….pem","state":"retired","retire_at":"…"}]}
//
// "kid" and "alg" are optional; when given they must match the key (the kid is
// always the RFC 7638 thumbprint). "file" is a name inside the directory holding a
// PKCS#8 PEM ("*.pem", "*.key") or a private JWK ("*.jwk", "*.json").
const ManifestName = "keys.json"

const (
	maxKeyFileSize  = 64 << 10
	maxManifestSize = 1 << 20
)

type manifest struct {
	Keys []manifestKey `json:"keys"`
}

type manifestKey struct {
	KeyID    string    `json:"kid,omitempty"`
	Alg      Alg       `json:"alg,omitempty"`
	File     string    `json:"file"`
	State    KeyState  `json:"state"`
	Created  time.Time `json:"created_at,omitzero"`
	RetireAt time.Time `json:"retire_at,omitzero"`
}

// LoadKeyDir loads the signing keys in dir. With a keys.json manifest
// ([ManifestName]) every listed key is loaded in its state; retired keys past
// their retirement time are skipped. Without one, dir must hold exactly one key
// file, which becomes the active key. Later Publish, Rotate, Remove and Prune
// calls write new key files (PKCS#8 PEM, mode 0600) and the manifest back to dir,
// and delete the files of dropped keys. Files readable by group or others are
// reported on opts.Logger.
func LoadKeyDir(dir string, opts KeyStoreOptions) (*KeyStore, error) {
	s := newKeyStore(opts)
	now := s.clock.Now()
	m, err := readManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		m, err = singleKeyManifest(dir)
	}
	if err != nil && !errors.Is(err, ErrKeyConfig) {
		err = fmt.Errorf("%w: %w", ErrKeyConfig, err)
	}
	if err != nil {
		return nil, err
	}
	var entries []*keyEntry
	var expired []string // files of retired keys past their time, deleted on the next save
	for i, mk := range m.Keys {
		if mk.State == StateRetired && !now.Before(mk.RetireAt) && !mk.RetireAt.IsZero() {
			if mk.File == filepath.Base(mk.File) {
				expired = append(expired, mk.File)
			}
			continue
		}
		e, err := s.loadEntry(dir, mk)
		if err != nil {
			return nil, fmt.Errorf("%w: %s key %d (%s): %w", ErrKeyConfig, ManifestName, i, mk.File, err)
		}
		entries = append(entries, e)
	}
	if err := s.install(entries); err != nil {
		return nil, fmt.Errorf("key directory %s: %w", dir, err)
	}
	s.persist = func(prev, next []*keyEntry) error {
		if err := saveKeyDir(dir, prev, next); err != nil {
			return err
		}
		for _, f := range expired {
			_ = os.Remove(filepath.Join(dir, f)) // best effort; no longer listed
		}
		expired = nil
		return nil
	}
	return s, nil
}

// LoadOrGenerate is for development: it loads dir like [LoadKeyDir] when it holds
// a manifest or a key file, and otherwise creates dir (mode 0700), generates one
// key for alg (normally ES256), and persists it (mode 0600) with a manifest. Two
// processes starting on the same empty dir end up with the same key.
func LoadOrGenerate(dir string, alg Alg, opts KeyStoreOptions) (*KeyStore, error) {
	if _, err := os.Stat(filepath.Join(dir, ManifestName)); err == nil {
		return LoadKeyDir(dir, opts)
	}
	if files, _ := keyFiles(dir); len(files) > 0 {
		return LoadKeyDir(dir, opts)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("jose: creating key directory: %w", err)
	}
	k, err := GenerateSigningKey(alg)
	if err != nil {
		return nil, err
	}
	s := newKeyStore(opts)
	e := &keyEntry{key: k, state: StateActive, created: s.clock.Now(), file: k.KeyID() + ".pem"}
	if err := writeKeyFile(dir, e); err != nil {
		return nil, err
	}
	data, err := manifestJSON([]*keyEntry{e})
	if err != nil {
		return nil, err
	}
	// Create the manifest only if still absent: write a temporary file and hard-link
	// it into place, which fails if another process got there first.
	tmp, err := writeTemp(dir, data)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, filepath.Join(dir, ManifestName)); err != nil {
		os.Remove(filepath.Join(dir, e.file))
		if errors.Is(err, fs.ErrExist) {
			return LoadKeyDir(dir, opts)
		}
		return nil, fmt.Errorf("jose: writing %s: %w", ManifestName, err)
	}
	if opts.Logger != nil {
		opts.Logger.Info("generated signing key", "key", k, "dir", dir)
	}
	return LoadKeyDir(dir, opts)
}

func readManifest(dir string) (*manifest, error) {
	data, err := readLimited(filepath.Join(dir, ManifestName), maxManifestSize)
	if err != nil {
		return nil, err
	}
	var m manifest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKeyConfig, ManifestName, err)
	}
	return &m, nil
}

func singleKeyManifest(dir string) (*manifest, error) {
	files, err := keyFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: key directory: %w", ErrKeyConfig, err)
	}
	switch len(files) {
	case 0:
		return nil, fmt.Errorf("%w: key directory %s: no %s and no key file: %w", ErrKeyConfig, dir, ManifestName, fs.ErrNotExist)
	case 1:
		return &manifest{Keys: []manifestKey{{File: files[0], State: StateActive}}}, nil
	}
	return nil, fmt.Errorf("%w: key directory %s: %d key files and no %s saying which is active", ErrKeyConfig, dir, len(files), ManifestName)
}

func keyFiles(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range des {
		if de.Type().IsRegular() || de.Type()&fs.ModeSymlink != 0 {
			switch strings.ToLower(filepath.Ext(de.Name())) {
			case ".pem", ".key", ".jwk":
				out = append(out, de.Name())
			}
		}
	}
	return out, nil
}

func (s *KeyStore) loadEntry(dir string, mk manifestKey) (*keyEntry, error) {
	if mk.File == "" || mk.File != filepath.Base(mk.File) || mk.File == "." || mk.File == ".." {
		return nil, fmt.Errorf("%w: file must be a plain name inside the key directory", ErrKeyConfig)
	}
	path := filepath.Join(dir, mk.File)
	data, err := readLimited(path, maxKeyFileSize)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		s.log.Warn("signing key file readable by group or others", "file", path, "mode", fi.Mode().Perm().String())
	}
	var k *SigningKey
	switch strings.ToLower(filepath.Ext(mk.File)) {
	case ".jwk", ".json":
		k, err = ParseSigningKeyJWK(data)
	default:
		k, err = ParseSigningKeyPEM(data)
	}
	if err != nil {
		return nil, err
	}
	if mk.KeyID != "" && mk.KeyID != k.KeyID() {
		return nil, fmt.Errorf("%w: kid %q does not match the key's thumbprint %q", ErrKeyConfig, mk.KeyID, k.KeyID())
	}
	if mk.Alg != "" && mk.Alg != k.Alg() {
		return nil, fmt.Errorf("%w: alg %q does not match the %s key", ErrKeyConfig, mk.Alg, k.Alg())
	}
	if mk.State == "" {
		mk.State = StateActive
	}
	return &keyEntry{key: k, state: mk.State, created: mk.Created, retireAt: mk.RetireAt, file: mk.File}, nil
}

// saveKeyDir writes the key files of keys new in next, then the manifest, then
// deletes the files of keys no longer listed.
func saveKeyDir(dir string, prev, next []*keyEntry) error {
	for _, e := range next {
		if e.file == "" {
			e.file = e.key.KeyID() + ".pem"
			if err := writeKeyFile(dir, e); err != nil {
				return err
			}
		}
	}
	data, err := manifestJSON(next)
	if err != nil {
		return err
	}
	tmp, err := writeTemp(dir, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestName)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("jose: writing %s: %w", ManifestName, err)
	}
	kept := make(map[string]bool, len(next))
	for _, e := range next {
		kept[e.file] = true
	}
	for _, e := range prev {
		if e.file != "" && !kept[e.file] {
			_ = os.Remove(filepath.Join(dir, e.file)) // best effort: the manifest no longer lists it
		}
	}
	return nil
}

func writeKeyFile(dir string, e *keyEntry) error {
	data, err := e.key.MarshalPKCS8PEM()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, e.file), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("jose: writing key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("jose: writing key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("jose: writing key file: %w", err)
	}
	return f.Close()
}

func manifestJSON(entries []*keyEntry) ([]byte, error) {
	var m manifest
	for _, e := range entries {
		m.Keys = append(m.Keys, manifestKey{
			KeyID: e.key.KeyID(), Alg: e.key.Alg(), File: e.file, State: e.state,
			Created: e.created.UTC(), RetireAt: e.retireAt.UTC(),
		})
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".keys-*.json")
	if err != nil {
		return "", fmt.Errorf("jose: writing %s: %w", ManifestName, err)
	}
	name := f.Name()
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("jose: writing %s: %w", ManifestName, err)
	}
	return name, nil
}

func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrTooLarge, filepath.Base(path), max)
	}
	return data, nil
}
