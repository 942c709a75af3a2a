package websocket

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// The adapter's CloseWrite sends a close frame and keeps reading: what the
// peer sent before answering arrives, then io.EOF; writes fail.
func TestNetConnCloseWrite(t *testing.T) {
	checkGoroutines(t)
	serverErr := make(chan error, 1)
	url := connServer(t, nil, func(c *Conn, _ *http.Request) {
		nc := NetConn(context.Background(), c, BinaryMessage)
		nc.Write([]byte("first "))
		nc.Write([]byte("second"))
		_, err := io.ReadAll(nc) // until the client's close: io.EOF, so nil
		serverErr <- err
	})
	c := connDial(t, url, nil)
	defer c.CloseNow()
	nc := NetConn(context.Background(), c, BinaryMessage)
	cw, ok := nc.(interface{ CloseWrite() error })
	if !ok {
		t.Fatal("the adapter has no CloseWrite")
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write([]byte("late")); !errors.Is(err, ErrCloseSent) {
		t.Fatalf("Write after CloseWrite = %v, want ErrCloseSent", err)
	}
	got, err := io.ReadAll(nc)
	if err != nil || string(got) != "first second" {
		t.Fatalf("read after CloseWrite: %q %v", got, err)
	}
	if err := <-serverErr; err != nil {
		t.Fatalf("server read: %v", err)
	}
}

// An expired read deadline ends the adapter's reading for good: a later
// deadline does not revive it.
func TestNetConnReadDeadlineIsFinal(t *testing.T) {
	url := connServer(t, nil, func(c *Conn, _ *http.Request) {
		time.Sleep(300 * time.Millisecond)
		c.WriteMessage(BinaryMessage, []byte("too late"))
		c.ReadMessage()
	})
	c := connDial(t, url, nil)
	defer c.CloseNow()
	nc := NetConn(context.Background(), c, BinaryMessage)
	nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 16)
	_, err := nc.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read = %v, want a timeout", err)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err2 := nc.Read(buf); n != 0 || !errors.As(err2, &ne) || !ne.Timeout() {
		t.Fatalf("Read after a new deadline = %d %v, want the timeout again", n, err2)
	}
}
