package config

import (
	"encoding"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The configuration structs are the single description of the key set: the koanf tag of
// each exported field is its key. decode and encode walk them by reflection, so a new
// section needs no registration, and a key that is not a field is an unknown key.

var durationType = reflect.TypeFor[time.Duration]()

func keyOf(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	return f.Tag.Get("koanf")
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// decode applies raw, koanf's nested map of the file merged with the environment, onto
// cfg, which holds the defaults. It collects one [*FieldError] per bad key. A key
// missing from raw keeps its default; a key present with no value (YAML null) sets the
// field's zero value, except that an empty section keeps the defaults of its keys.
//
// Accepted values: strings for string fields; true/false (or a string strconv.ParseBool
// accepts, as environment values are strings) for booleans; integers or decimal strings
// for integer fields; Go duration strings ("30s") for durations, never bare numbers; YAML
// lists, or comma-separated strings, for lists of strings.
func decode(raw map[string]any, cfg *Config) []error {
	return decodeStruct("", raw, reflect.ValueOf(cfg).Elem())
}

func decodeStruct(prefix string, m map[string]any, v reflect.Value) []error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(m)) {
		path := joinKey(prefix, k)
		i := fieldIndex(v.Type(), k)
		if i < 0 {
			errs = append(errs, fieldErr(path, "unknown key"))
			continue
		}
		errs = append(errs, decodeValue(path, m[k], v.Field(i))...)
	}
	return errs
}

func fieldIndex(t reflect.Type, key string) int {
	for i := range t.NumField() {
		if k := keyOf(t.Field(i)); k != "" && k == key {
			return i
		}
	}
	return -1
}

// decodeValue sets v from raw. Its errors never quote raw, which may be a secret.
func decodeValue(path string, raw any, v reflect.Value) []error {
	one := func(reason string) []error { return []error{fieldErr(path, "%s", reason)} }
	t := v.Type()
	if raw == nil {
		if t.Kind() != reflect.Struct {
			v.SetZero()
		}
		return nil
	}
	switch {
	case t == durationType:
		s, ok := raw.(string)
		if !ok {
			return one(`must be a duration string such as "30s" or "5m"`)
		}
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return one(`invalid duration (want e.g. "30s" or "5m")`)
		}
		v.SetInt(int64(d))
	case t.Kind() == reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return one("must be a mapping")
		}
		return decodeStruct(path, m, v)
	case t.Kind() == reflect.String:
		s, ok := raw.(string)
		if !ok {
			return one("must be a string")
		}
		v.SetString(s)
	case t.Kind() == reflect.Bool:
		b, ok := raw.(bool)
		if s, isStr := raw.(string); isStr {
			var err error
			b, err = strconv.ParseBool(strings.TrimSpace(s))
			ok = err == nil
		}
		if !ok {
			return one("must be true or false")
		}
		v.SetBool(b)
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		n, ok := toInt64(raw)
		if !ok || v.OverflowInt(n) {
			return one("must be an integer")
		}
		v.SetInt(n)
	case t.Kind() == reflect.Slice:
		return decodeSlice(path, raw, v)
	default:
		return one(fmt.Sprintf("unsupported field type %s (a bug in package config)", t))
	}
	return nil
}

func decodeSlice(path string, raw any, v reflect.Value) []error {
	var items []any
	switch r := raw.(type) {
	case []any:
		items = r
	case string:
		if v.Type().Elem().Kind() != reflect.String {
			return []error{fieldErr(path, "must be a list")}
		}
		for p := range strings.SplitSeq(r, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
	default:
		return []error{fieldErr(path, "must be a list")}
	}
	out := reflect.MakeSlice(v.Type(), len(items), len(items))
	var errs []error
	for i, item := range items {
		errs = append(errs, decodeValue(fmt.Sprintf("%s[%d]", path, i), item, out.Index(i))...)
	}
	v.Set(out)
	return errs
}

// toInt64 accepts the integer forms YAML and the environment produce. koanf hands over
// numbers as float64 after its JSON round trip, so integral floats are integers too.
func toInt64(raw any) (int64, bool) {
	switch n := raw.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case uint64:
		return int64(n), n <= math.MaxInt64
	case float64:
		if n != math.Trunc(n) || n < math.MinInt64 || n >= math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		return i, err == nil
	}
	return 0, false
}

// encode renders cfg as the nested map a YAML file would hold. Values implementing
// encoding.TextMarshaler ([Secret], [SecretURL]) are rendered through it, which redacts.
func encode(cfg *Config) (map[string]any, error) {
	out, err := encodeValue(reflect.ValueOf(cfg).Elem())
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

func encodeValue(v reflect.Value) (any, error) {
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, err := m.MarshalText()
		return string(b), err
	}
	t := v.Type()
	switch {
	case t == durationType:
		return time.Duration(v.Int()).String(), nil
	case t.Kind() == reflect.Struct:
		m := make(map[string]any)
		for i := range t.NumField() {
			k := keyOf(t.Field(i))
			if k == "" {
				continue
			}
			x, err := encodeValue(v.Field(i))
			if err != nil {
				return nil, err
			}
			m[k] = x
		}
		return m, nil
	case t.Kind() == reflect.String:
		return v.String(), nil
	case t.Kind() == reflect.Bool:
		return v.Bool(), nil
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		return v.Int(), nil
	case t.Kind() == reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			x, err := encodeValue(v.Index(i))
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	}
	return nil, fmt.Errorf("config: unsupported field type %s", t)
}

// leafKey is a configuration key that holds a value (not a section).
type leafKey struct {
	path string
	// fileOnly marks lists of mappings (trust.anchors), which have no environment form.
	fileOnly bool
}

// leafKeys lists every value key of [Config], in field order.
func leafKeys() []leafKey {
	var out []leafKey
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			k := keyOf(f)
			if k == "" {
				continue
			}
			path := joinKey(prefix, k)
			if f.Type.Kind() == reflect.Struct {
				walk(path, f.Type)
				continue
			}
			fileOnly := f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct
			out = append(out, leafKey{path: path, fileOnly: fileOnly})
		}
	}
	walk("", reflect.TypeFor[Config]())
	return out
}

// envName is the environment variable that overrides key path.
func envName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// envNames maps environment variable names to keys. Keys contain underscores, so
// names are matched against this set instead of being split on "_".
func envNames() map[string]leafKey {
	keys := leafKeys()
	m := make(map[string]leafKey, len(keys))
	for _, k := range keys {
		m[envName(k.path)] = k
	}
	return m
}
