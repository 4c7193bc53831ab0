package main

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"
)

// cgroupMemoryFiles are the container memory limits read by [containerMemoryLimit], paths
// relative to the file system root: cgroup v2 first, then v1.
var cgroupMemoryFiles = []string{
	"sys/fs/cgroup/memory.max",
	"sys/fs/cgroup/memory/memory.limit_in_bytes",
}

// noCgroupLimit: cgroup v1 reports "no limit" as a number near 2^63 (rounded down to
// the page size); anything at or above this counts as no limit.
const noCgroupLimit = 1 << 62

// memoryLimitShare is the part of the container's limit given to the Go runtime as its
// soft memory limit; the rest is headroom for what the runtime does not count (thread
// stacks outside the heap, the kernel's socket buffers charged to the cgroup).
const memoryLimitShare = 0.9

// containerMemoryLimit returns the memory limit of the container this process runs in,
// read from root (os.DirFS("/") in production), and whether there is one. A missing
// file, "max", an unparsable value or a value of 2^62 or more mean no limit.
func containerMemoryLimit(root fs.FS) (int64, bool) {
	for _, name := range cgroupMemoryFiles {
		b, err := fs.ReadFile(root, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, false
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n >= noCgroupLimit {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// memoryLimit decides the Go runtime's soft memory limit for serve: configured (bytes,
// zero for none) wins, else [memoryLimitShare] of the container's limit. It returns
// the limit and where it came from ("config", "cgroup"), or 0 and "none".
func memoryLimit(configured int64, root fs.FS) (int64, string) {
	if configured > 0 {
		return configured, "config"
	}
	if n, ok := containerMemoryLimit(root); ok {
		return int64(float64(n) * memoryLimitShare), "cgroup"
	}
	return 0, "none"
}
