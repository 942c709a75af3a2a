// Package json compares JSON messages across libraries, in one run: a
// server connection writes (or reads) one JSON document per message over
// loopback TCP, against a raw peer that discards (or replays) bytes.
//
//	go test -run XXX -bench . -benchmem ./json/
package json

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	gorilla "github.com/gorilla/websocket"
	"github.com/lxzan/gws"
	ours "github.com/rfc6455/websocket"
	"github.com/rfc6455/websocket/frame"
)

type doc struct {
	Name  string            `json:"name"`
	N     int               `json:"n"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
}

func makeDoc(n int) doc {
	d := doc{Name: "doc", N: n, Attrs: map[string]string{"k": "v"}}
	for i := 0; i < n; i++ {
		d.Tags = append(d.Tags, strings.Repeat("x", i%50))
	}
	return d
}

var sizes = []struct {
	name string
	n    int
}{{"small", 10}, {"large", 1000}}

// pair serves one WebSocket connection with accept (a library's upgrade,
// returning the server connection) and returns it with the raw TCP
// connection of a client that completed the handshake.
func pair[C any](b *testing.B, accept func(w http.ResponseWriter, r *http.Request) (C, error)) (C, net.Conn) {
	b.Helper()
	ch := make(chan C, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := accept(w, r)
		if err != nil {
			b.Error(err)
			return
		}
		ch <- c
	}))
	b.Cleanup(hs.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cli, _, err := ours.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	raw := cli.NetConn()
	b.Cleanup(func() { raw.Close() })
	select {
	case c := <-ch:
		return c, raw
	case <-ctx.Done():
		b.Fatal("no server connection")
	}
	var zero C
	return zero, nil
}

func benchWrite[C any](b *testing.B, accept func(http.ResponseWriter, *http.Request) (C, error), write func(C, any) error) {
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			c, raw := pair(b, accept)
			go io.Copy(io.Discard, raw)
			d := makeDoc(sz.n)
			p, _ := json.Marshal(d)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := write(c, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteJSON(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		benchWrite(b, func(w http.ResponseWriter, r *http.Request) (*ours.Conn, error) {
			return ours.Upgrade(w, r, nil)
		}, func(c *ours.Conn, v any) error { return c.WriteJSON(v) })
	})
	// The same without the helper: json.Marshal, then WriteMessage.
	b.Run("ours-WriteMessage", func(b *testing.B) {
		benchWrite(b, func(w http.ResponseWriter, r *http.Request) (*ours.Conn, error) {
			return ours.Upgrade(w, r, nil)
		}, func(c *ours.Conn, v any) error {
			p, err := json.Marshal(v)
			if err != nil {
				return err
			}
			return c.WriteMessage(ours.TextMessage, p)
		})
	})
	b.Run("gorilla", func(b *testing.B) {
		up := &gorilla.Upgrader{}
		benchWrite(b, func(w http.ResponseWriter, r *http.Request) (*gorilla.Conn, error) {
			return up.Upgrade(w, r, nil)
		}, func(c *gorilla.Conn, v any) error { return c.WriteJSON(v) })
	})
	b.Run("coder", func(b *testing.B) {
		benchWrite(b, func(w http.ResponseWriter, r *http.Request) (*cws.Conn, error) {
			return cws.Accept(w, r, nil)
		}, func(c *cws.Conn, v any) error { return wsjson.Write(context.Background(), c, v) })
	})
	// gws has no JSON helper: json.Marshal, then WriteMessage, as its
	// users write it.
	b.Run("gws", func(b *testing.B) {
		up := gws.NewUpgrader(&gws.BuiltinEventHandler{}, nil)
		benchWrite(b, func(w http.ResponseWriter, r *http.Request) (*gws.Conn, error) {
			return up.Upgrade(w, r)
		}, func(c *gws.Conn, v any) error {
			p, err := json.Marshal(v)
			if err != nil {
				return err
			}
			return c.WriteMessage(gws.OpcodeText, p)
		})
	})
}

// replay writes the masked frames of msg to raw until it fails.
func replay(raw net.Conn, msg []byte) {
	h := frame.Header{Fin: true, Opcode: frame.OpText, Length: int64(len(msg)), Masked: true, Key: [4]byte{1, 2, 3, 4}}
	f := frame.AppendHeader(nil, h)
	start := len(f)
	f = append(f, msg...)
	frame.Mask(h.Key, 0, f[start:])
	var stream []byte
	for len(stream) < 256<<10 {
		stream = append(stream, f...)
	}
	for {
		if _, err := raw.Write(stream); err != nil {
			return
		}
	}
}

func benchRead[C any](b *testing.B, accept func(http.ResponseWriter, *http.Request) (C, error), read func(C, any) error) {
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			c, raw := pair(b, accept)
			p, _ := json.Marshal(makeDoc(sz.n))
			go replay(raw, p)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var d doc
				if err := read(c, &d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadJSON(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		benchRead(b, func(w http.ResponseWriter, r *http.Request) (*ours.Conn, error) {
			return ours.Upgrade(w, r, nil)
		}, func(c *ours.Conn, v any) error { return c.ReadJSON(v) })
	})
	// The same without the helper: ReadMessage, then json.Unmarshal.
	b.Run("ours-ReadMessage", func(b *testing.B) {
		benchRead(b, func(w http.ResponseWriter, r *http.Request) (*ours.Conn, error) {
			return ours.Upgrade(w, r, nil)
		}, func(c *ours.Conn, v any) error {
			_, p, err := c.ReadMessage()
			if err != nil {
				return err
			}
			return json.Unmarshal(p, v)
		})
	})
	b.Run("gorilla", func(b *testing.B) {
		up := &gorilla.Upgrader{}
		benchRead(b, func(w http.ResponseWriter, r *http.Request) (*gorilla.Conn, error) {
			return up.Upgrade(w, r, nil)
		}, func(c *gorilla.Conn, v any) error { return c.ReadJSON(v) })
	})
	b.Run("coder", func(b *testing.B) {
		benchRead(b, func(w http.ResponseWriter, r *http.Request) (*cws.Conn, error) {
			c, err := cws.Accept(w, r, nil)
			if err == nil {
				c.SetReadLimit(1 << 20)
			}
			return c, err
		}, func(c *cws.Conn, v any) error { return wsjson.Read(context.Background(), c, v) })
	})
}
