// Command echo is the smallest server built on this library: it echoes
// every message back and serves a page to try it from a browser.
//
//	go run ./examples/echo -addr 127.0.0.1:8080
package main

import (
	_ "embed"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/rfc6455/websocket"
)

//go:embed index.html
var page []byte

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()

	cfg := websocket.DefaultConfig()
	cfg.Compression = &websocket.CompressionOptions{}
	mux := http.NewServeMux()
	mux.Handle("/ws", websocket.Handler(cfg, func(c *websocket.Conn, r *http.Request) {
		for {
			mt, rd, err := c.NextReader()
			if err != nil {
				return
			}
			w, err := c.NextWriter(mt)
			if err != nil {
				return
			}
			if _, err := io.Copy(w, rd); err != nil {
				return
			}
			if err := w.Close(); err != nil {
				return
			}
		}
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	slog.Info("echo server", "url", "http://"+*addr+"/")
	// An http.Server with ReadHeaderTimeout: a bare http.ListenAndServe
	// lets slow clients hold connections forever.
	if err := websocket.NewHTTPServer(*addr, mux).ListenAndServe(); err != nil {
		slog.Error("listen", "err", err)
		os.Exit(1)
	}
}
