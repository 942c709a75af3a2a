package corpus

import (
	"bytes"
	"testing"
)

// TestCheckedIn checks that the files under testdata are what the
// generator makes (run go generate ./internal/corpus after changing it),
// and that every corpus has the sizes its documentation promises.
func TestCheckedIn(t *testing.T) {
	bounds := map[string][2]int{"chat": {50, 300}, "ticks": {50, 300}, "json": {2048, 20 << 10 * 11 / 10}, "text": {1024, 8<<10 + 200}, "binary": {4096, 4096}}
	for _, name := range Names {
		got, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		want := Generate(name)
		if !bytes.Equal(Encode(got), Encode(want)) {
			t.Errorf("%s: testdata/%s.msgs differs from the generator's output: run go generate ./internal/corpus", name, name)
		}
		total := 0
		for i, m := range got {
			total += len(m)
			if b := bounds[name]; len(m) < b[0] || len(m) > b[1] {
				t.Errorf("%s: message %d is %d bytes, want %d..%d", name, i, len(m), b[0], b[1])
			}
		}
		t.Logf("%s: %d messages, %d bytes", name, len(got), total)
	}
}
