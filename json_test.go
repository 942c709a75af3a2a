package websocket

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rfc6455/websocket/frame"
)

// plPair returns a client and a server Conn connected over loopback TCP.
func plPair(t *testing.T, cfg *Config, opts *DialOptions) (cli, srv *Conn) {
	t.Helper()
	ch := make(chan *Conn, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, cfg)
		if err != nil {
			return
		}
		ch <- c
	}))
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cli, _, err := Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http"), opts)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case srv = <-ch:
	case <-ctx.Done():
		t.Fatal("no server connection")
	}
	t.Cleanup(func() {
		cli.CloseNow()
		srv.CloseNow()
	})
	return cli, srv
}

type jsonDoc struct {
	Name  string            `json:"name"`
	N     int               `json:"n"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
}

func bigDoc(n int) jsonDoc {
	d := jsonDoc{Name: "big", N: n, Attrs: map[string]string{}}
	for i := 0; i < n; i++ {
		d.Tags = append(d.Tags, strings.Repeat("x", i%50))
	}
	return d
}

func TestJSONRoundTrip(t *testing.T) {
	comp := &CompressionOptions{}
	for _, tc := range []struct {
		name string
		cfg  *Config
		opts *DialOptions
		doc  jsonDoc
	}{
		{"small", nil, nil, jsonDoc{Name: "ada", N: 1, Tags: []string{"a"}, Attrs: map[string]string{"k": "v"}}},
		{"fragmented", nil, nil, bigDoc(5000)},
		{"compressed", &Config{Options: Options{Compression: comp}}, &DialOptions{Options: Options{Compression: comp}}, bigDoc(3000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cli, srv := plPair(t, tc.cfg, tc.opts)
			errc := make(chan error, 1)
			go func() { errc <- srv.WriteJSON(tc.doc) }()
			var got jsonDoc
			if err := cli.ReadJSON(&got); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.doc, got); diff != "" {
				t.Fatalf("server to client (-want +got):\n%s", diff)
			}
			// And back, the client masking.
			go func() { errc <- cli.WriteJSON(tc.doc) }()
			got = jsonDoc{}
			if err := srv.ReadJSON(&got); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.doc, got); diff != "" {
				t.Fatalf("client to server (-want +got):\n%s", diff)
			}
		})
	}
}

// WriteJSON sends exactly the encoding, newline included (the wire
// format gorilla's WriteJSON has).
func TestWriteJSONWireFormat(t *testing.T) {
	cli, srv := plPair(t, nil, nil)
	go srv.WriteJSON(map[string]int{"a": 1})
	mt, p, err := cli.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if mt != TextMessage || string(p) != "{\"a\":1}\n" {
		t.Fatalf("got %v %q", mt, p)
	}
}

// A value that cannot be encoded is an error and sends nothing; the
// connection stays usable.
func TestWriteJSONEncodeErrorSendsNothing(t *testing.T) {
	cli, srv := plPair(t, nil, nil)
	var ute *json.UnsupportedTypeError
	if err := srv.WriteJSON(make(chan int)); !errors.As(err, &ute) {
		t.Fatalf("WriteJSON(chan) = %v, want *json.UnsupportedTypeError", err)
	}
	if err := srv.WriteJSONContext(context.Background(), func() {}); !errors.As(err, &ute) {
		t.Fatalf("WriteJSONContext(func) = %v, want *json.UnsupportedTypeError", err)
	}
	if err := srv.WriteJSON("next"); err != nil {
		t.Fatal(err)
	}
	_, p, err := cli.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if string(p) != "\"next\"\n" {
		t.Fatalf("first message %q, want the one after the failed encodings", p)
	}
}

func TestReadJSONErrors(t *testing.T) {
	cli, srv := plPair(t, nil, nil)
	go func() {
		srv.WriteMessage(TextMessage, []byte("not json"))
		srv.WriteMessage(TextMessage, nil)
		srv.WriteMessage(BinaryMessage, []byte(`{"name":"bin"} trailing`))
		srv.WriteMessage(BinaryMessage, []byte(`{"name":"bin"}`+" \n"))
	}()
	var d jsonDoc
	var se *json.SyntaxError
	if err := cli.ReadJSON(&d); !errors.As(err, &se) {
		t.Fatalf("ReadJSON(not json) = %v, want *json.SyntaxError", err)
	}
	if err := cli.ReadJSON(&d); err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadJSON(empty) = %v, want io.ErrUnexpectedEOF", err)
	}
	if err := cli.ReadJSON(&d); !errors.As(err, &se) {
		t.Fatalf("ReadJSON(value and garbage) = %v, want *json.SyntaxError", err)
	}
	if err := cli.ReadJSON(&d); err != nil || d.Name != "bin" {
		t.Fatalf("ReadJSON(binary) = %v, %+v", err, d)
	}
	// A read error is NextReader's.
	srv.Close(CloseNormalClosure, "done")
	if err := cli.ReadJSON(&d); !IsCloseError(err, CloseNormalClosure) {
		t.Fatalf("ReadJSON after close = %v", err)
	}
}

func TestReadJSONContext(t *testing.T) {
	cli, srv := plPair(t, nil, nil)
	go srv.WriteJSON(jsonDoc{Name: "ctx"})
	var d jsonDoc
	if err := cli.ReadJSONContext(context.Background(), &d); err != nil || d.Name != "ctx" {
		t.Fatalf("ReadJSONContext = %v, %+v", err, d)
	}
	if err := srv.WriteJSONContext(context.Background(), jsonDoc{Name: "w"}); err != nil {
		t.Fatal(err)
	}
	if err := cli.ReadJSON(&d); err != nil || d.Name != "w" {
		t.Fatalf("after WriteJSONContext: %v, %+v", err, d)
	}
	// Nothing comes: the context ends the read and the connection.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := cli.ReadJSONContext(ctx, &d); err != context.DeadlineExceeded {
		t.Fatalf("ReadJSONContext = %v, want context.DeadlineExceeded", err)
	}
	select {
	case <-cli.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed after the context ended")
	}
}

// Concurrent WriteJSON calls send whole messages.
func TestWriteJSONConcurrent(t *testing.T) {
	cli, srv := plPair(t, nil, nil)
	const writers, each = 4, 25
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := srv.WriteJSON(bigDoc(200 + w)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < writers*each; i++ {
		var d jsonDoc
		if err := cli.ReadJSON(&d); err != nil {
			t.Fatal(err)
		}
		if d.N < 200 || d.N >= 200+writers || len(d.Tags) != d.N {
			t.Fatalf("message %d mangled: n=%d tags=%d", i, d.N, len(d.Tags))
		}
	}
	wg.Wait()
}

func TestHubBroadcastJSON(t *testing.T) {
	h, err := NewHubWithConfig(HubConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop()
	cli, srv := plPair(t, nil, nil)
	if err := h.Join("room", srv); err != nil {
		t.Fatal(err)
	}
	res, err := h.BroadcastRoomJSON("room", jsonDoc{Name: "room"})
	if err != nil || res.Enqueued != 1 {
		t.Fatalf("BroadcastRoomJSON = %+v, %v", res, err)
	}
	res, err = h.BroadcastAllJSON(jsonDoc{Name: "all"})
	if err != nil || res.Enqueued != 1 {
		t.Fatalf("BroadcastAllJSON = %+v, %v", res, err)
	}
	for _, want := range []string{"room", "all"} {
		var d jsonDoc
		if err := cli.ReadJSON(&d); err != nil || d.Name != want {
			t.Fatalf("read %+v, %v; want %q", d, err, want)
		}
	}
	if res, err := h.BroadcastRoomJSON("room", make(chan int)); err == nil || res != (BroadcastResult{}) {
		t.Fatalf("BroadcastRoomJSON(chan) = %+v, %v", res, err)
	}
	if _, err := h.BroadcastAllJSON(func() {}); err == nil {
		t.Fatal("BroadcastAllJSON(func) succeeded")
	}
}

func BenchmarkWriteJSON(b *testing.B) {
	benchJSON(b, func(c *Conn, v any) error { return c.WriteJSON(v) })
}

// BenchmarkWriteJSONMarshal is the alternative WriteJSON replaces:
// json.Marshal, then WriteMessage.
func BenchmarkWriteJSONMarshal(b *testing.B) {
	benchJSON(b, func(c *Conn, v any) error {
		p, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return c.WriteMessage(TextMessage, p)
	})
}

func benchJSON(b *testing.B, write func(*Conn, any) error) {
	for _, n := range []int{10, 1000} {
		b.Run(map[int]string{10: "small", 1000: "large"}[n], func(b *testing.B) {
			srv := NewConn(&benchConn{}, RoleServer, nil)
			doc := bigDoc(n)
			p, _ := json.Marshal(doc)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := write(srv, doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadJSON decodes messages replayed from memory;
// BenchmarkReadJSONUnmarshal is ReadMessage then json.Unmarshal.
func BenchmarkReadJSON(b *testing.B) {
	benchReadJSON(b, func(c *Conn, v any) error { return c.ReadJSON(v) })
}

func BenchmarkReadJSONUnmarshal(b *testing.B) {
	benchReadJSON(b, func(c *Conn, v any) error {
		_, p, err := c.ReadMessage()
		if err != nil {
			return err
		}
		return json.Unmarshal(p, v)
	})
}

func benchReadJSON(b *testing.B, read func(*Conn, any) error) {
	for _, n := range []int{10, 1000} {
		b.Run(map[int]string{10: "small", 1000: "large"}[n], func(b *testing.B) {
			p, _ := json.Marshal(bigDoc(n))
			var stream []byte
			for i := 0; i < 16; i++ {
				stream = append(stream, frameBytes(true, frame.OpText, true, p)...)
			}
			c := NewConn(&benchConn{stream: stream}, RoleServer, nil)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var d jsonDoc
				if err := read(c, &d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
