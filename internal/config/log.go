package config

// Log configures the request and application log (JSON on stderr).
type Log struct {
	// Level is the lowest level written: debug, info, warn or error. Default info.
	Level string `koanf:"level"`
}

func defaultLog() Log { return Log{Level: "info"} }

func (l Log) validate() []error {
	switch l.Level {
	case "debug", "info", "warn", "error":
		return nil
	}
	return []error{fieldErr("log.level", "must be debug, info, warn or error, not %q", l.Level)}
}
