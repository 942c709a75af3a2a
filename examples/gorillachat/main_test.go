package main

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rfc6455/websocket"
)

// syncBuffer collects the example's log output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestGorillaChat runs several clients through the ported example over
// loopback: every message reaches every client, the server's ping ticker
// keeps idle clients alive across several pong waits (their reads answer
// the pings, the pongs move the server's read deadline), a client that
// stops reading is dropped after pongWait without disturbing the others,
// and the example logs only unexpected closes.
// TestMain shortens the example's intervals once, before any pump runs.
func TestMain(m *testing.M) {
	writeWait, pongWait = 2*time.Second, 300*time.Millisecond
	pingPeriod = pongWait * 9 / 10 / 3 // several pings per pong wait
	os.Exit(m.Run())
}

func TestGorillaChat(t *testing.T) {
	logs := &syncBuffer{}
	log.SetOutput(logs)
	defer log.SetOutput(os.Stderr)

	hub := newHub()
	go hub.run()
	srv := httptest.NewServer(newMux(hub))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"

	type client struct {
		conn  *websocket.Conn
		pings atomic.Int32
		lines chan string
		done  chan error
	}
	dial := func() *client {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &client{conn: conn, lines: make(chan string, 1024), done: make(chan error, 1)}
		conn.SetPingHandler(func([]byte) { c.pings.Add(1) })
		return c
	}
	read := func(c *client) {
		for {
			_, p, err := c.conn.ReadMessage()
			if err != nil {
				c.done <- err
				return
			}
			// The write pump joins queued messages with newlines.
			for _, line := range strings.Split(string(p), "\n") {
				c.lines <- line
			}
		}
	}

	const n, perClient = 5, 20
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dial()
		go read(clients[i])
	}
	// A client that never reads: it answers no ping, so the server
	// must drop it once pongWait passes.
	silent := dial()
	defer silent.conn.CloseNow()

	time.Sleep(50 * time.Millisecond) // let the hub register everyone
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perClient; j++ {
				msg := fmt.Sprintf("  client %d says %d\n", i, j) // trimmed by the read pump
				if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, c := range clients {
		got := map[string]bool{}
		timeout := time.After(10 * time.Second)
		for len(got) < n*perClient {
			select {
			case line := <-c.lines:
				got[line] = true
			case err := <-c.done:
				t.Fatalf("client %d: read ended after %d messages: %v", i, len(got), err)
			case <-timeout:
				t.Fatalf("client %d got %d of %d messages", i, len(got), n*perClient)
			}
		}
		if !got["client 3 says 7"] {
			t.Fatalf("client %d: messages not trimmed as the example does: %v", i, got)
		}
	}

	// Idle for several pong waits: only the pings and pongs keep the
	// readers alive.
	time.Sleep(4 * pongWait)
	for i, c := range clients {
		select {
		case err := <-c.done:
			t.Fatalf("client %d dropped while idle: %v", i, err)
		default:
		}
		if p := c.pings.Load(); p < 3 {
			t.Fatalf("client %d saw %d pings, want the ticker's (at least 3)", i, p)
		}
	}
	// The silent client was dropped: reading now yields what was queued
	// (pings, messages) and then the end of the connection.
	go read(silent)
	select {
	case err := <-silent.done:
		if websocket.CloseStatus(err) < 0 {
			t.Fatalf("silent client ended with %v, want a close status", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not drop a client that stopped answering pings")
	}
	if out := logs.String(); strings.Contains(out, "error:") {
		t.Fatalf("the example logged an unexpected close:\n%s", out)
	}

	// The others still chat.
	if err := clients[0].conn.WriteMessage(websocket.TextMessage, []byte("after")); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		if line := <-c.lines; line != "after" {
			t.Fatalf("client %d got %q, want \"after\"", i, line)
		}
	}

	// Leaving: a client closing with the normal code is an "unexpected"
	// close for the example (as with gorilla, which lists only 1001 and
	// 1006), so it is logged; dropping TCP reads as 1006 and is not.
	if err := clients[0].conn.Close(websocket.CloseNormalClosure, ""); err != nil {
		t.Fatalf("Close = %v", err)
	}
	clients[1].conn.CloseNow()
	for _, c := range clients[2:] {
		if err := c.conn.Close(websocket.CloseGoingAway, ""); err != nil {
			t.Fatalf("Close = %v", err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "error: websocket: close 1000 (normal)") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if out := logs.String(); strings.Count(out, "error:") != 1 || !strings.Contains(out, "error: websocket: close 1000 (normal)") {
		t.Fatalf("log: want one line for the 1000 close, got:\n%s", out)
	}
}
