package deflate

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// benchMessages returns count distinct JSON-like messages of the given size:
// similar structure, different values, as consecutive messages of one
// connection would be.
func benchMessages(size, count int) [][]byte {
	msgs := make([][]byte, count)
	for i := range msgs {
		msgs[i] = jsonLike(uint64(1000+i), size)
	}
	return msgs
}

var benchSizes = []int{1 << 10, 64 << 10}

// BenchmarkEncode compresses JSON-like messages at the default level (0,
// that is flate.BestSpeed), with and without context takeover. Metric
// "ratio" is compressed bytes / original bytes.
func BenchmarkEncode(b *testing.B) {
	for _, size := range benchSizes {
		for _, takeover := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dKiB/takeover=%v", size>>10, takeover), func(b *testing.B) {
				msgs := benchMessages(size, 32)
				e := NewEncoder(0, 15, takeover)
				defer e.Release()
				var out bytes.Buffer
				out.Grow(2 * size)
				var in, compressed int64
				b.SetBytes(int64(size))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					out.Reset()
					e.Reset(&out)
					m := msgs[i%len(msgs)]
					i++
					e.Write(m)
					if err := e.Close(); err != nil {
						b.Fatal(err)
					}
					in += int64(len(m))
					compressed += int64(out.Len())
				}
				b.ReportMetric(float64(compressed)/float64(in), "ratio")
			})
		}
	}
}

// BenchmarkDecode inflates the messages BenchmarkEncode makes. With
// context takeover the messages are inflated in the order they were
// compressed; cycling back to the first is valid, since it refers to no
// earlier message.
func BenchmarkDecode(b *testing.B) {
	for _, size := range benchSizes {
		for _, takeover := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dKiB/takeover=%v", size>>10, takeover), func(b *testing.B) {
				msgs := benchMessages(size, 32)
				e := NewEncoder(0, 15, takeover)
				var comp [][]byte
				var in, compressed int64
				for _, m := range msgs {
					c, err := e.AppendCompressed(nil, m)
					if err != nil {
						b.Fatal(err)
					}
					comp = append(comp, c)
					in += int64(len(m))
					compressed += int64(len(c))
				}
				e.Release()
				d := NewDecoder(15, takeover)
				defer d.Release()
				src := bytes.NewReader(nil)
				buf := make([]byte, 4096)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					src.Reset(comp[i%len(comp)])
					i++
					d.Reset(src)
					for {
						_, err := d.Read(buf)
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(compressed)/float64(in), "ratio")
			})
		}
	}
}
