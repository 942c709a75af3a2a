package deflate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
)

// jsonLike returns deterministic JSON-like text of exactly size bytes:
// records with repeated keys and varying values, as a chat or telemetry
// application would send.
func jsonLike(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
		"india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"}
	var b []byte
	b = append(b, '[')
	for len(b) < size {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, rng.Int64N(1_000_000), 10)
		b = append(b, `,"user":"`...)
		b = append(b, words[rng.IntN(len(words))]...)
		b = strconv.AppendInt(b, rng.Int64N(100), 10)
		b = append(b, `","score":`...)
		b = strconv.AppendFloat(b, rng.Float64()*1000, 'f', 3, 64)
		b = append(b, `,"active":`...)
		b = strconv.AppendBool(b, rng.IntN(2) == 0)
		b = append(b, `,"tags":["`...)
		b = append(b, words[rng.IntN(len(words))]...)
		b = append(b, `","`...)
		b = append(b, words[rng.IntN(len(words))]...)
		b = append(b, `"],"text":"`...)
		for range 3 + rng.IntN(8) {
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, ' ')
		}
		b = append(b, `"}`...)
	}
	return b[:size]
}

// randomBytes returns n incompressible bytes.
func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// messageMix returns a deterministic sequence of messages of varied kinds
// and sizes: empty, tiny, text around the 128-byte level-1 threshold,
// JSON of a few KiB, incompressible bytes, runs, a repeat of an earlier
// message, and (when big) one larger than the 32 KiB window.
func messageMix(seed uint64, count int, big bool) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	var msgs [][]byte
	for i := range count {
		var m []byte
		switch k := rng.IntN(9); {
		case k == 0:
			m = nil
		case k == 1:
			m = []byte("Hello")[:rng.IntN(6)]
		case k == 2:
			m = jsonLike(rng.Uint64(), 100+rng.IntN(60))
		case k == 3:
			m = jsonLike(rng.Uint64(), 1000+rng.IntN(4000))
		case k == 4:
			m = randomBytes(rng.Uint64(), rng.IntN(3000))
		case k == 5:
			m = bytes.Repeat([]byte{byte(rng.Uint32())}, rng.IntN(5000))
		case k == 6 && i > 0:
			m = msgs[rng.IntN(len(msgs))]
		case k == 7 && big:
			m = jsonLike(rng.Uint64(), 40000+rng.IntN(30000))
		default:
			m = jsonLike(rng.Uint64(), rng.IntN(600))
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// compress compresses msg as one message, writing it in pieces of the
// given sizes (cycled; nil means one Write).
func compress(e *Encoder, msg []byte, pieces []int) ([]byte, error) {
	var out bytes.Buffer
	e.Reset(&out)
	for i := 0; len(msg) > 0; i++ {
		n := len(msg)
		if len(pieces) > 0 {
			n = min(n, pieces[i%len(pieces)])
		}
		if _, err := e.Write(msg[:n]); err != nil {
			return nil, err
		}
		msg = msg[n:]
	}
	if err := e.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// inflate reads one whole message from src through d, with reads of at
// most bufSize bytes, giving up after limit bytes of output.
func inflate(d *Decoder, src io.Reader, bufSize, limit int) ([]byte, error) {
	d.Reset(src)
	buf := make([]byte, bufSize)
	var out []byte
	for {
		n, err := d.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if len(out) > limit {
			return out, fmt.Errorf("output over %d bytes", limit)
		}
	}
}

// chunkReader returns its data in pieces of the given sizes (cycled), and
// io.EOF together with the last piece when eofWithData is set.
type chunkReader struct {
	data        []byte
	sizes       []int
	i           int
	eofWithData bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), c.sizes[c.i%len(c.sizes)])
	c.i++
	copy(p, c.data[:n])
	c.data = c.data[n:]
	if len(c.data) == 0 && c.eofWithData {
		return n, io.EOF
	}
	return n, nil
}

// errReader returns data, then err.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// withTail returns the compressed messages as one DEFLATE stream, each
// followed by the 00 00 ff ff removed by the Encoder.
func withTail(msgs ...[]byte) []byte {
	var s []byte
	for _, m := range msgs {
		s = append(s, m...)
		s = append(s, syncTail[:]...)
	}
	return s
}

var errTest = errors.New("test: source failed")
