package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfc6455/websocket"
)

// startServer runs the testee on a free 127.0.0.1 port until the test ends
// and returns its ws:// URL. The cleanup waits for the connection handlers,
// which outlive http.Server once they hijack: the test's connections must
// be closed first (dial's cleanup, registered later, runs earlier).
func startServer(tb testing.TB, compress, stream bool) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var handlers sync.WaitGroup
	logf := tb.Logf
	if _, bench := tb.(*testing.B); bench {
		logf = nil // keep benchmark output to the figures
	}
	h := newHandler(newConfig(compress), stream, logf)
	tracked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		h.ServeHTTP(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, tracked) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
		handlers.Wait()
	})
	return "ws://" + ln.Addr().String()
}

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// dial connects to the testee as the fuzzer would: with an Origin header
// and, when compress is set, a permessage-deflate offer.
func dial(tb testing.TB, u string, compress bool, writeBuf int) *websocket.Conn {
	tb.Helper()
	opts := &websocket.DialOptions{
		Options: websocket.Options{ReadLimit: readLimit, WriteBufferSize: writeBuf},
		Header:  http.Header{"Origin": {"http://fuzzer.example"}},
		Proxy:   noProxy,
	}
	if compress {
		opts.Compression = &websocket.CompressionOptions{ContextTakeover: true, Threshold: -1}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		tb.Fatalf("dial %s: %v", u, err)
	}
	tb.Cleanup(func() { c.CloseNow() })
	// Bound every test read: a broken testee must fail, not hang.
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	return c
}

var modes = []struct {
	name             string
	compress, stream bool
}{
	{"messages", false, false},
	{"stream", false, true},
	{"messages-deflate", true, false},
	{"stream-deflate", true, true},
}

func TestEcho(t *testing.T) {
	msgs := []struct {
		mt websocket.MessageType
		p  []byte
	}{
		{websocket.TextMessage, []byte("Hello, κόσμε")},
		{websocket.BinaryMessage, []byte{0, 1, 2, 0xff, 0xfe}},
		{websocket.TextMessage, nil},
		{websocket.BinaryMessage, bytes.Repeat([]byte("0123456789abcdef"), 20000)},
		{websocket.TextMessage, []byte(strings.Repeat("échos ", 3000))},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := dial(t, startServer(t, m.compress, m.stream), m.compress, 0)
			if c.Compressed() != m.compress {
				t.Fatalf("Compressed() = %v, want %v", c.Compressed(), m.compress)
			}
			for i, msg := range msgs {
				if err := c.WriteMessage(msg.mt, msg.p); err != nil {
					t.Fatalf("message %d: write: %v", i, err)
				}
				mt, p, err := c.ReadMessage()
				if err != nil {
					t.Fatalf("message %d: read: %v", i, err)
				}
				if mt != msg.mt || !bytes.Equal(p, msg.p) {
					t.Fatalf("message %d: echo is %v of %d bytes, want %v of %d bytes", i, mt, len(p), msg.mt, len(msg.p))
				}
			}
			if err := c.Close(websocket.CloseNormalClosure, ""); err != nil {
				t.Fatalf("close handshake: %v", err)
			}
		})
	}
}

// TestEchoFragmented sends a message in many small fragments, as the
// fuzzer's 5.x and 6.x cases do, and expects it back whole.
func TestEchoFragmented(t *testing.T) {
	want := []byte(strings.Repeat("fragmented κόσμε ", 500))
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := dial(t, startServer(t, m.compress, m.stream), m.compress, 7)
			w, err := c.NextWriter(websocket.TextMessage)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(want); i += 5 {
				if _, err := w.Write(want[i:min(i+5, len(want))]); err != nil {
					t.Fatal(err)
				}
				if i%1000 == 0 {
					if err := c.Ping([]byte("in between")); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			mt, p, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if mt != websocket.TextMessage || !bytes.Equal(p, want) {
				t.Fatalf("echo is %v of %d bytes, want text of %d bytes", mt, len(p), len(want))
			}
		})
	}
}

// TestInvalidUTF8 checks that the testee lets the library fail the
// connection with 1007 on invalid text (cases 6.x) instead of echoing it.
func TestInvalidUTF8(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := dial(t, startServer(t, m.compress, m.stream), m.compress, 0)
			// WriteMessage does not check UTF-8: the fuzzer's bytes go out as is.
			if err := c.WriteMessage(websocket.TextMessage, []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited")); err != nil {
				t.Fatal(err)
			}
			_, _, err := c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseInvalidFramePayloadData {
				t.Fatalf("read after invalid text: %v, want close 1007", err)
			}
		})
	}
}

// TestLargeMessage echoes a message over the library's default 32 MiB read
// limit, which the testee raises to 64 MiB.
func TestLargeMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("33 MiB echo skipped in -short mode")
	}
	want := bytes.Repeat([]byte{0xa5}, websocket.DefaultReadLimit+1<<20)
	c := dial(t, startServer(t, false, false), false, 0)
	if err := c.WriteMessage(websocket.BinaryMessage, want); err != nil {
		t.Fatal(err)
	}
	mt, p, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if mt != websocket.BinaryMessage || !bytes.Equal(p, want) {
		t.Fatalf("echo is %v of %d bytes, want binary of %d bytes", mt, len(p), len(want))
	}
}

func BenchmarkEcho(b *testing.B) {
	for _, m := range modes {
		for _, size := range []int{1 << 10, 64 << 10} {
			b.Run(m.name+"/"+byteSize(size), func(b *testing.B) {
				c := dial(b, startServer(b, m.compress, m.stream), m.compress, 0)
				_ = c.SetReadDeadline(time.Time{})
				msg := bytes.Repeat([]byte("benchmark echo payload "), size/23+1)[:size]
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
						b.Fatal(err)
					}
					if _, _, err := c.ReadMessage(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func byteSize(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
