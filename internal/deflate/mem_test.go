package deflate

import (
	"bytes"
	"compress/flate"
	"io"
	"runtime"
	"testing"
)

// liveHeap returns the live heap after two collections, the second of
// which also empties the sync.Pools (their victim caches).
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// bytesHeld returns the live heap per value made by mk, averaged over n
// values kept alive together. Pooled objects are not counted: they belong
// to no connection and are dropped by the collections.
func bytesHeld(n int, mk func() any) float64 {
	keep := make([]any, n)
	before := liveHeap()
	for i := range keep {
		keep[i] = mk()
	}
	after := liveHeap()
	runtime.KeepAlive(keep)
	return (float64(after) - float64(before)) / float64(n)
}

type memCase struct {
	name     string
	min, max float64 // bounds of the bytes held per value
	mk       func() any
}

func encoderMemCases() []memCase {
	msg := jsonLike(21, 1024)
	enc := func(level, wb int, takeover bool) func() any {
		return func() any {
			e := NewEncoder(level, wb, takeover)
			if _, err := e.AppendCompressed(nil, msg); err != nil {
				panic(err)
			}
			return e
		}
	}
	return []memCase{
		// The window (2^wb bytes of history plus 2^wb/2, at least 4 KiB,
		// of pending input) and 2^min(wb,12) two-byte hash entries.
		{"takeover/wb=15", 56 << 10, 56<<10 + 512, enc(1, 15, true)},
		{"takeover/wb=15/level=9(hash chains)", 120 << 10, 120<<10 + 512, enc(9, 15, true)},
		{"takeover/wb=10/level=6(hash chains)", 9 << 10, 9<<10 + 512, enc(6, 10, true)},
		{"takeover/wb=12", 16 << 10, 16<<10 + 512, enc(1, 12, true)},
		{"takeover/wb=10", 7 << 10, 7<<10 + 512, enc(1, 10, true)},
		{"takeover/wb=8", 5 << 10, 6 << 10, enc(1, 8, true)},
		{"takeover/Huffman-only(no context,pooled)", 0, 256, enc(flate.HuffmanOnly, 15, true)},
		{"no-takeover/level=1", 0, 256, enc(1, 15, false)},
		{"no-takeover/level=6", 0, 256, enc(6, 15, false)},
	}
}

func decoderMemCases() []memCase {
	dec := func(wb int, takeover bool, msgSize int) func() any {
		msg := jsonLike(22, msgSize)
		c, err := NewEncoder(1, 15, false).AppendCompressed(nil, msg)
		if err != nil {
			panic(err)
		}
		buf := make([]byte, 4096)
		return func() any {
			d := NewDecoder(wb, takeover)
			d.Reset(bytes.NewReader(c))
			for {
				if _, err := d.Read(buf); err == io.EOF {
					break
				} else if err != nil {
					panic(err)
				}
			}
			return d
		}
	}
	const w15, w10 = 1 << 15, 1 << 10
	return []memCase{
		{"takeover/wb=15/after-64KiB", w15, w15 + 256, dec(15, true, 64<<10)},
		{"takeover/wb=15/after-1KiB", 1024, 2048 + 256, dec(15, true, 1024)},
		{"takeover/wb=10/after-64KiB", w10, w10 + 256, dec(10, true, 64<<10)},
		{"no-takeover/wb=15/after-64KiB", 0, 256, dec(15, false, 64<<10)},
	}
}

// TestEncoderMemory measures the heap an Encoder holds between messages:
// its LZ77 window and hash table with context takeover (56 KiB at 15
// window bits, 7 KiB at 10), nearly nothing without.
func TestEncoderMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap with forced collections")
	}
	for _, c := range encoderMemCases() {
		got := bytesHeld(8, c.mk)
		t.Logf("Encoder %s: %.0f bytes held between messages", c.name, got)
		if got < c.min || got > c.max {
			t.Errorf("Encoder %s: %.0f bytes held, want %.0f..%.0f", c.name, got, c.min, c.max)
		}
	}
}

// TestDecoderMemory measures the heap a Decoder holds between messages: the
// history (at most 2^windowBits bytes) with context takeover, nearly
// nothing without.
func TestDecoderMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap with forced collections")
	}
	for _, c := range decoderMemCases() {
		got := bytesHeld(8, c.mk)
		t.Logf("Decoder %s: %.0f bytes held between messages", c.name, got)
		if got < c.min || got > c.max {
			t.Errorf("Decoder %s: %.0f bytes held, want %.0f..%.0f", c.name, got, c.min, c.max)
		}
	}
}

// BenchmarkMemoryPerConn reports the bytes held between messages per
// Encoder and Decoder (metric B/value), as TestEncoderMemory and
// TestDecoderMemory measure them.
func BenchmarkMemoryPerConn(b *testing.B) {
	run := func(prefix string, cases []memCase) {
		for _, c := range cases {
			b.Run(prefix+"/"+c.name, func(b *testing.B) {
				var total float64
				for b.Loop() {
					total += bytesHeld(4, c.mk)
				}
				b.ReportMetric(total/float64(b.N), "B/value")
			})
		}
	}
	run("Encoder", encoderMemCases())
	run("Decoder", decoderMemCases())
}

// TestBombBounded inflates 10 MB of zeros compressed to about 10 KB with a
// 512-byte buffer: reading the first megabyte, and all of it, allocates a
// small constant amount whatever the output size.
func TestBombBounded(t *testing.T) {
	const size = 10 << 20
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	zeros := make([]byte, 64<<10)
	for range size / len(zeros) {
		fw.Write(zeros)
	}
	fw.Flush()
	bomb := bytes.TrimSuffix(comp.Bytes(), syncTail[:])
	t.Logf("bomb: %d bytes inflate to %d", len(bomb), size)

	for _, takeover := range []bool{false, true} {
		for _, limit := range []int{1 << 20, size} {
			d := NewDecoder(15, takeover)
			buf := make([]byte, 512)
			src := bytes.NewReader(bomb)
			// Warm up: the pool holds an inflater, the history its window.
			d.Reset(bytes.NewReader(bomb[:0]))
			d.Read(buf)
			if takeover {
				d.remember(make([]byte, 1<<15))
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			d.Reset(src)
			total, err := 0, error(nil)
			for err == nil && (limit == size || total < limit) {
				var n int
				n, err = d.Read(buf)
				total += n
			}
			runtime.ReadMemStats(&after)
			if total < limit || (limit == size && (err != io.EOF || total != size)) {
				t.Fatalf("read %d bytes, %v", total, err)
			}
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("takeover %v: read %d bytes with %d bytes allocated in %d allocations",
				takeover, total, allocated, after.Mallocs-before.Mallocs)
			if allocated > 16<<10 && !raceEnabled {
				t.Errorf("takeover %v: reading %d bytes allocated %d bytes, want under 16 KiB", takeover, total, allocated)
			}
			d.Release()
		}
	}
}

// TestSteadyStateAllocs checks that compressing a message with a pooled or
// kept compressor allocates nothing, and that inflating one allocates at
// most what compress/flate's reader rebuilds per block.
func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	msg := jsonLike(31, 1024)
	for _, takeover := range []bool{false, true} {
		for _, level := range []int{flate.HuffmanOnly, 1, 6} {
			e := NewEncoder(level, 15, takeover)
			var out bytes.Buffer
			out.Grow(4096)
			allocs := testing.AllocsPerRun(200, func() {
				out.Reset()
				e.Reset(&out)
				e.Write(msg)
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("Encoder level %d takeover %v: %v allocations per message, want 0", level, takeover, allocs)
			}
			e.Release()

			c, _ := NewEncoder(level, 15, false).AppendCompressed(nil, msg)
			d := NewDecoder(15, takeover)
			src := bytes.NewReader(c)
			buf := make([]byte, 4096)
			var before, after runtime.MemStats
			const runs = 200
			for i := range runs + 1 {
				if i == 1 { // the first run fills the pool and the history
					runtime.ReadMemStats(&before)
				}
				src.Reset(c)
				d.Reset(src)
				for {
					_, err := d.Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			runtime.ReadMemStats(&after)
			allocs = float64(after.Mallocs-before.Mallocs) / runs
			bytesPer := float64(after.TotalAlloc-before.TotalAlloc) / runs
			t.Logf("Decoder level %d takeover %v: %.1f allocations, %.0f bytes per 1 KiB message", level, takeover, allocs, bytesPer)
			// compress/flate's reader rebuilds the overflow tables of a
			// dynamic Huffman code longer than 9 bits (two allocations)
			// for every such block: its Reset does not keep them.
			if allocs > 2.1 || bytesPer > 4096 {
				t.Errorf("Decoder level %d takeover %v: %.1f allocations (%.0f bytes) per message, want at most 2 (4 KiB)",
					level, takeover, allocs, bytesPer)
			}
			d.Release()
		}
	}
}

// TestLargeMessageAllocs checks that a message much larger than the window
// (incompressible, so one token per byte) is compressed without growing
// the pooled block scratch: input is taken one block at a time.
func TestLargeMessageAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	msg := randomBytes(41, 200<<10)
	for _, takeover := range []bool{false, true} {
		e := NewEncoder(1, 15, takeover)
		dst := make([]byte, 0, 300<<10)
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := e.AppendCompressed(dst[:0], msg); err != nil {
				t.Fatal(err)
			}
		})
		e.Release()
		if allocs != 0 {
			t.Errorf("takeover %v: %v allocations per 200 KiB message, want 0", takeover, allocs)
		}
	}
}
