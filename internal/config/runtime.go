package config

// MaxMemoryLimit is the largest runtime.memory_limit accepted (1 TiB): a larger value is
// almost certainly a unit mistake.
const MaxMemoryLimit = 1 << 40

// MinMemoryLimit is the smallest runtime.memory_limit accepted (32 MiB): below it the
// garbage collector would run continuously.
const MinMemoryLimit = 32 << 20

// Runtime tunes the Go runtime of "portcullis serve".
type Runtime struct {
	// MemoryLimit is the Go runtime's soft memory limit in bytes (runtime/debug.SetMemoryLimit):
	// the garbage collector works harder as the process nears it, so a flood of requests
	// costs CPU before it costs memory. Zero: 90 % of the container's memory limit (cgroup
	// v2 memory.max or v1 memory.limit_in_bytes) when there is one, else no limit. The
	// GOMEMLIMIT environment variable, when set, takes precedence over both.
	MemoryLimit int64 `koanf:"memory_limit"`
}

func (r Runtime) validate() []error {
	if r.MemoryLimit != 0 && (r.MemoryLimit < MinMemoryLimit || r.MemoryLimit > MaxMemoryLimit) {
		return []error{fieldErr("runtime.memory_limit", "must be 0 (from the container) or between 32 MiB and 1 TiB, in bytes")}
	}
	return nil
}
