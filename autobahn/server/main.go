// Command server is the echo testee for the Autobahn|Testsuite fuzzingclient
// (wstest -m fuzzingclient): it accepts WebSocket connections and echoes
// every data message back, text as text and binary as binary, until the
// connection ends. Control frames, the close handshake and the failing of
// connections on protocol errors are left to the library, which is what the
// fuzzer tests.
//
// Usage:
//
//	server [-addr 127.0.0.1:9001] [-compress] [-stream] [-v]
//
// -compress accepts permessage-deflate (RFC 7692) with context takeover,
// so that the fuzzer's context-takeover cases (12.x, 13.x) are honoured,
// and compresses every message. -stream echoes through
// NextReader/NextWriter (fragment by fragment) instead of
// ReadMessage/WriteMessage. The read limit is 64 MiB: cases 9.x send
// messages of up to 16 MiB. Any Origin is allowed: the fuzzer sends one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rfc6455/websocket"
	"github.com/rfc6455/websocket/autobahn/internal/echo"
)

// readLimit bounds one message: Autobahn 9.1.6 and 9.2.6 send 16 MiB.
const readLimit = 64 << 20

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "listen address")
	compress := flag.Bool("compress", false, "accept permessage-deflate (with context takeover)")
	stream := flag.Bool("stream", false, "echo with NextReader/NextWriter instead of ReadMessage/WriteMessage")
	verbose := flag.Bool("v", false, "log how each connection ended")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "server: unexpected arguments %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("server: %v", err)
	}
	var logf func(string, ...any)
	if *verbose {
		logf = log.Printf
	}
	log.Printf("server: autobahn testee listening on %s (compress=%v stream=%v)", ln.Addr(), *compress, *stream)
	if err := serve(ctx, ln, newHandler(newConfig(*compress), *stream, logf)); err != nil {
		log.Fatalf("server: %v", err)
	}
}

// newConfig returns the testee's server configuration.
func newConfig(compress bool) *websocket.Config {
	cfg := websocket.DefaultConfig()
	cfg.ReadLimit = readLimit
	cfg.AllowAllOrigins = true
	if compress {
		cfg.Compression = &websocket.CompressionOptions{
			// Keep our compression context when the client allows it:
			// the fuzzer's offers with and without
			// server_no_context_takeover must both be honoured.
			ContextTakeover: true,
			// Compress every message, even empty and tiny ones, so each
			// echo goes through the compressor.
			Threshold: -1,
		}
	}
	return cfg
}

// newHandler upgrades each request with cfg and echoes on the connection
// until it ends. logf, when non-nil, is told how each connection ended.
func newHandler(cfg *websocket.Config, stream bool, logf func(string, ...any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Upgrade(w, r, cfg)
		if err != nil {
			// Upgrade answered the request with an HTTP error.
			if logf != nil {
				logf("upgrade %s %s: %v", r.RemoteAddr, r.URL, err)
			}
			return
		}
		// The library has answered close frames and failed the
		// connection on protocol errors by the time the loop returns;
		// CloseNow only releases what is left (usually nothing).
		defer c.CloseNow()
		err = echo.Loop(c, stream)
		if logf != nil {
			logf("%s (compressed=%v): %v", r.RemoteAddr, c.Compressed(), err)
		}
	})
}

// serve serves h on ln until ctx ends, then closes the listener. Hijacked
// WebSocket connections are not waited for.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(os.Stderr, "server: http: ", log.LstdFlags),
	}
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stop()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
