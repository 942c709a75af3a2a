package websocket_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/rfc6455/websocket"
)

// An echo server and a client talking to it.
func Example() {
	srv := httptest.NewServer(websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(websocket.CloseNormalClosure, "bye")

	if err := c.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		log.Fatal(err)
	}
	mt, msg, err := c.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(mt, string(msg))
	// Output: text hello
}

// Upgrade inside an ordinary handler, with compression and a subprotocol.
func ExampleUpgrade() {
	cfg := websocket.DefaultConfig()
	cfg.Subprotocols = []string{"chat.v1"}
	cfg.Compression = &websocket.CompressionOptions{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Upgrade(w, r, cfg)
		if err != nil {
			return // already answered with 400/403/426...
		}
		defer c.Close(websocket.CloseNormalClosure, "")
		c.WriteMessage(websocket.TextMessage, []byte("protocol "+c.Subprotocol()))
	})
	srv := httptest.NewServer(h)
	defer srv.Close()

	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"),
		&websocket.DialOptions{
			Subprotocols: []string{"chat.v1"},
			Options:      websocket.Options{Compression: &websocket.CompressionOptions{}},
		})
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	_, msg, _ := c.ReadMessage()
	fmt.Println(string(msg), c.Compressed())
	// Output: protocol chat.v1 true
}

// Streaming a message with NextWriter and NextReader.
func ExampleConn_NextWriter() {
	srv := httptest.NewServer(websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
		mt, rd, err := c.NextReader()
		if err != nil {
			return
		}
		w, _ := c.NextWriter(mt)
		io.Copy(w, rd)
		w.Close()
		c.ReadMessage() // wait for the client's close
	}))
	defer srv.Close()

	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(websocket.CloseNormalClosure, "")
	w, _ := c.NextWriter(websocket.TextMessage)
	for i := 0; i < 3; i++ {
		fmt.Fprintf(w, "part %d. ", i)
	}
	w.Close()
	_, rd, _ := c.NextReader()
	b, _ := io.ReadAll(rd)
	fmt.Println(string(b))
	// Output: part 0. part 1. part 2.
}

// A peer's close code and reason reach the reader as a *CloseError.
func ExampleCloseError() {
	srv := httptest.NewServer(websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
		c.Close(4001, "session expired")
	}))
	defer srv.Close()
	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		fmt.Println(int(ce.Code), ce.Reason)
	}
	// Output: 4001 session expired
}

// Dial with a subprotocol offer, a header and a deadline for the handshake.
func ExampleDial() {
	srv := httptest.NewServer(websocket.Handler(&websocket.Config{Subprotocols: []string{"v2", "v1"}},
		func(c *websocket.Conn, r *http.Request) {
			c.WriteMessage(websocket.TextMessage, []byte("hi "+r.Header.Get("X-Client")))
			c.ReadMessage() // until the client closes
		}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{
		Subprotocols: []string{"v1", "v2"},
		Header:       http.Header{"X-Client": {"example"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(websocket.CloseNormalClosure, "")
	_, msg, _ := c.ReadMessage()
	fmt.Println(resp.StatusCode, c.Subprotocol(), string(msg))
	// Output: 101 v2 hi example
}

// NetConn turns a connection into a byte stream for code that wants a
// net.Conn: each Write is one binary message.
func ExampleNetConn() {
	srv := httptest.NewServer(websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
		nc := websocket.NetConn(context.Background(), c, websocket.BinaryMessage)
		io.Copy(nc, nc) // echo the stream until the client closes
	}))
	defer srv.Close()

	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	nc := websocket.NetConn(context.Background(), c, websocket.BinaryMessage)
	defer nc.Close()
	fmt.Fprint(nc, "stream ")
	fmt.Fprint(nc, "of bytes")
	buf := make([]byte, len("stream of bytes"))
	io.ReadFull(nc, buf)
	fmt.Println(string(buf))
	// Output: stream of bytes
}

// A prepared message is encoded once and written to many connections.
func ExampleNewPreparedMessage() {
	const clients = 3
	conns := make(chan *websocket.Conn, clients)
	srv := httptest.NewServer(websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
		conns <- c
		c.ReadMessage() // keep the connection until the client closes
	}))
	defer srv.Close()

	var cs []*websocket.Conn
	for i := 0; i < clients; i++ {
		c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			log.Fatal(err)
		}
		defer c.CloseNow()
		cs = append(cs, c)
	}
	pm, _ := websocket.NewPreparedMessage(websocket.TextMessage, []byte("news"))
	for i := 0; i < clients; i++ {
		(<-conns).WritePreparedMessage(pm)
	}
	for _, c := range cs {
		_, msg, _ := c.ReadMessage()
		fmt.Print(string(msg), " ")
	}
	fmt.Println()
	// Output: news news news
}

// NewHTTPServer serves WebSocket routes with the http.Server settings a
// public server needs (ReadHeaderTimeout above all).
func ExampleNewHTTPServer() {
	mux := http.NewServeMux()
	mux.Handle("/ws", websocket.Handler(websocket.DefaultConfig(), func(c *websocket.Conn, r *http.Request) {
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	}))
	srv := websocket.NewHTTPServer("127.0.0.1:8080", mux)
	go srv.ListenAndServe()
	defer srv.Shutdown(context.Background())
}

// A port that serves WebSockets itself, without an http.Server, with the
// other requests handed to a mux.
func ExampleUpgradeServer() {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	s := &websocket.UpgradeServer{
		Handler: func(c *websocket.Conn, r *http.Request) {
			for {
				mt, p, err := c.ReadMessage()
				if err != nil {
					return
				}
				if err := c.WriteMessage(mt, p); err != nil {
					return
				}
			}
		},
		Fallback: mux,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Shutdown(context.Background())

	c, _, err := websocket.Dial(context.Background(), "ws://"+ln.Addr().String()+"/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	c.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, p, _ := c.ReadMessage()
	fmt.Println(string(p))

	resp, err := http.Get("http://" + ln.Addr().String() + "/health")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	// Output:
	// hello
	// ok
}

// Handlers written for an http.Server (here websocket.Handler behind an
// authentication check) served by an UpgradeServer as its Upgrades: the
// upgrade skips net/http's per-connection buffers, and a refusal is an
// ordinary HTTP response.
func ExampleUpgradeServer_upgrades() {
	echo := websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, p); err != nil {
				return
			}
		}
	})
	mux := http.NewServeMux()
	mux.Handle("/ws", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != "s3cret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		echo.ServeHTTP(w, r)
	}))
	s := &websocket.UpgradeServer{Upgrades: mux, Fallback: mux}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Shutdown(context.Background())

	url := "ws://" + ln.Addr().String() + "/ws"
	if _, resp, err := websocket.Dial(context.Background(), url, nil); err != nil && resp != nil {
		fmt.Println("without a token:", resp.StatusCode)
	}
	c, _, err := websocket.Dial(context.Background(), url+"?token=s3cret", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	c.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, p, _ := c.ReadMessage()
	fmt.Println(string(p))
	// Output:
	// without a token: 401
	// hello
}
