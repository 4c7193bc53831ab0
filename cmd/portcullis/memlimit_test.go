package main

import (
	"testing"
	"testing/fstest"
)

func TestMemoryLimit(t *testing.T) {
	v2 := func(s string) fstest.MapFS {
		return fstest.MapFS{"sys/fs/cgroup/memory.max": {Data: []byte(s)}}
	}
	v1 := func(s string) fstest.MapFS {
		return fstest.MapFS{"sys/fs/cgroup/memory/memory.limit_in_bytes": {Data: []byte(s)}}
	}
	tests := []struct {
		name       string
		configured int64
		root       fstest.MapFS
		want       int64
		source     string
	}{
		{"cgroup v2", 0, v2("1073741824\n"), 966367641, "cgroup"},
		{"cgroup v2 unlimited", 0, v2("max\n"), 0, "none"},
		{"cgroup v1", 0, v1("536870912\n"), 483183820, "cgroup"},
		{"cgroup v1 unlimited", 0, v1("9223372036854771712\n"), 0, "none"},
		{"unparsable", 0, v2("lots\n"), 0, "none"},
		{"no cgroup files", 0, fstest.MapFS{}, 0, "none"},
		{"config wins", 256 << 20, v2("1073741824\n"), 256 << 20, "config"},
		{"config without cgroup", 256 << 20, fstest.MapFS{}, 256 << 20, "config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, source := memoryLimit(tt.configured, tt.root)
			if got != tt.want || source != tt.source {
				t.Errorf("memoryLimit = %d, %q; want %d, %q", got, source, tt.want, tt.source)
			}
		})
	}
}
