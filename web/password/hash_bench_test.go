package password

import (
	"fmt"
	"testing"
)

// BenchmarkHash times one hash with DefaultParams, the figure DefaultParams'
// comment gives, and a few neighbours to choose from when the machine
// changes: go test -run '^$' -bench Hash -benchtime 20x ./web/password
func BenchmarkHash(b *testing.B) {
	candidates := []Params{
		DefaultParams,
		{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, SaltBytes: 16, KeyBytes: 32},
		{MemoryKiB: 32 * 1024, Time: 2, Threads: 1, SaltBytes: 16, KeyBytes: 32},
		{MemoryKiB: 64 * 1024, Time: 1, Threads: 1, SaltBytes: 16, KeyBytes: 32},
		{MemoryKiB: 64 * 1024, Time: 2, Threads: 2, SaltBytes: 16, KeyBytes: 32},
	}
	for i, p := range candidates {
		name := fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Time, p.Threads)
		if i == 0 {
			name = "default/" + name
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := hashWith(p, "correct horse battery staple"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
