package compress

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
	"github.com/lxzan/gws"
	ours "github.com/rfc6455/websocket"
	"github.com/rfc6455/websocket/internal/corpus"
)

// setting is a permessage-deflate configuration of the server's
// compressor, as the client offers it.
type setting struct {
	name       string
	takeover   bool
	windowBits int // 15 unless the client asks for less
}

func (s setting) offer() string {
	o := offerNoTakeover
	if s.takeover {
		o = offerTakeover
	}
	if s.windowBits != 15 {
		o += fmt.Sprintf("; server_max_window_bits=%d", s.windowBits)
	}
	return o
}

var (
	noTakeover = setting{"no-takeover", false, 15}
	takeover   = setting{"takeover", true, 15}
	takeover10 = setting{"takeover-window10", true, 10}
)

// peer is a library and a setting it supports. gorilla/websocket has no
// context takeover; coder/websocket and lxzan/gws ignore a smaller
// server_max_window_bits (they would have to decline it, or answer 15),
// so only ours runs the 10-bit row.
type peer struct {
	lib string
	setting
}

var corpusPeers = []peer{
	{"ours", noTakeover}, {"gorilla", noTakeover}, {"coder", noTakeover}, {"gws", noTakeover},
	{"ours", takeover}, {"coder", takeover}, {"gws", takeover},
	{"ours", takeover10},
}

// writer sends one text message on a server connection.
type writer func(p []byte) error

// gwsHandler is a gws event handler that does nothing (the write
// benchmarks never read).
type gwsHandler struct{ gws.BuiltinEventHandler }

// newWriter upgrades an in-memory connection with p's library and
// setting, every library compressing every message (no threshold) at its
// default level (flate.BestSpeed for all four).
func newWriter(tb testing.TB, p peer) (writer, *memConn) {
	tb.Helper()
	nc := &memConn{}
	w := &hijacker{h: make(http.Header), nc: nc}
	r := upgradeRequest(p.offer())
	switch p.lib {
	case "ours":
		cfg := ours.DefaultConfig()
		cfg.Compression = &ours.CompressionOptions{ContextTakeover: p.takeover, Threshold: -1}
		c, err := ours.Upgrade(w, r, cfg)
		if err != nil {
			tb.Fatal(err)
		}
		if !c.Compressed() {
			tb.Fatal("ours: compression not negotiated")
		}
		return func(b []byte) error { return c.WriteMessage(ours.TextMessage, b) }, nc
	case "gorilla":
		up := gorilla.Upgrader{EnableCompression: true}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			tb.Fatal(err)
		}
		c.EnableWriteCompression(true)
		return func(b []byte) error { return c.WriteMessage(gorilla.TextMessage, b) }, nc
	case "coder":
		mode := coder.CompressionNoContextTakeover
		if p.takeover {
			mode = coder.CompressionContextTakeover
		}
		// coder writes its 101 response through the ResponseWriter,
		// which the hijacker discards: the first write is a frame.
		nc.started = true
		c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: mode, CompressionThreshold: 1})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.CloseNow() })
		ctx := context.Background()
		return func(b []byte) error { return c.Write(ctx, coder.MessageText, b) }, nc
	case "gws":
		up := gws.NewUpgrader(&gwsHandler{}, &gws.ServerOption{PermessageDeflate: gws.PermessageDeflate{
			Enabled: true, ServerContextTakeover: p.takeover, ClientContextTakeover: p.takeover, Threshold: 1}})
		c, err := up.Upgrade(w, r)
		if err != nil {
			tb.Fatal(err)
		}
		return func(b []byte) error { return c.WriteMessage(gws.OpcodeText, b) }, nc
	}
	tb.Fatalf("unknown library %q", p.lib)
	return nil, nil
}

// BenchmarkCorpus writes the messages of each corpus (internal/corpus:
// chat 50-300 B, ticks ~150 B, JSON 2-20 KiB, English text 1-8 KiB, random
// 4 KiB), in order and cycling, on one compressed server connection per
// library and setting, all in the same run. MB/s is of uncompressed input;
// "wire/msg" is compressed payload bytes per message (frame headers
// excluded) and "wire/raw" their ratio to the input.
//
//	go test -run='^$' -bench=Corpus -benchmem -count=3 ./compress/
func BenchmarkCorpus(b *testing.B) {
	for _, name := range corpus.Names {
		msgs := corpus.MustLoad(name)
		raw := 0
		for _, m := range msgs {
			raw += len(m)
		}
		for _, p := range corpusPeers {
			b.Run(fmt.Sprintf("%s/%s/%s", name, p.setting.name, p.lib), func(b *testing.B) {
				write, nc := newWriter(b, p)
				var in int64
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					m := msgs[i%len(msgs)]
					i++
					if err := write(m); err != nil {
						b.Fatal(err)
					}
					in += int64(len(m))
				}
				b.SetBytes(in / int64(i))
				b.ReportMetric(float64(nc.payload)/float64(i), "wire/msg")
				b.ReportMetric(float64(nc.payload)/float64(in), "wire/raw")
			})
		}
	}
}
