package websocket

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// WriteMessage accepts gorilla's control types: ping, pong and close go
// out as control frames, and a sent close ends data writes with
// ErrCloseSent and reads with the peer's echo.
func TestGorillaWriteMessageControl(t *testing.T) {
	checkGoroutines(t)
	type seen struct {
		kind string
		data string
	}
	got := make(chan seen, 8)
	url := connServer(t, nil, func(c *Conn, _ *http.Request) {
		c.SetPingHandler(func(p []byte) { got <- seen{"ping", string(p)} })
		c.SetPongHandler(func(p []byte) { got <- seen{"pong", string(p)} })
		_, _, err := c.ReadMessage()
		var ce *CloseError
		if errors.As(err, &ce) {
			got <- seen{"close", ce.Code.String() + " " + ce.Reason}
		} else {
			got <- seen{"error", err.Error()}
		}
	})
	c := connDial(t, url, nil)
	defer c.CloseNow()
	pongs := make(chan string, 1)
	c.SetPongHandler(func(p []byte) { pongs <- string(p) })
	readErr := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage()
		readErr <- err
	}()

	if err := c.WriteMessage(PingMessage, []byte("hello")); err != nil {
		t.Fatalf("WriteMessage(PingMessage) = %v", err)
	}
	if s := <-got; s != (seen{"ping", "hello"}) {
		t.Fatalf("server saw %v, want the ping", s)
	}
	select {
	case p := <-pongs:
		if p != "hello" {
			t.Fatalf("pong %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong for the ping WriteMessage sent")
	}
	if err := c.WriteMessage(PongMessage, []byte("unsolicited")); err != nil {
		t.Fatalf("WriteMessage(PongMessage) = %v", err)
	}
	if s := <-got; s != (seen{"pong", "unsolicited"}) {
		t.Fatalf("server saw %v, want the pong", s)
	}
	if err := c.WriteMessage(PingMessage, make([]byte, 126)); err == nil {
		t.Fatal("WriteMessage(PingMessage, 126 bytes) succeeded")
	}
	if err := c.WriteMessage(MessageType(3), nil); !errors.Is(err, ErrBadMessageType) {
		t.Fatalf("WriteMessage(3) = %v, want ErrBadMessageType", err)
	}
	if err := c.WriteMessage(CloseMessage, FormatCloseMessage(CloseGoingAway, "bye")); err != nil {
		t.Fatalf("WriteMessage(CloseMessage) = %v", err)
	}
	if s := <-got; s != (seen{"close", "CloseGoingAway bye"}) {
		t.Fatalf("server saw %v, want close 1001 bye", s)
	}
	if err := c.WriteMessage(TextMessage, []byte("late")); !errors.Is(err, ErrCloseSent) {
		t.Fatalf("WriteMessage after the close frame = %v, want ErrCloseSent", err)
	}
	if err := <-readErr; !IsCloseError(err, CloseGoingAway) {
		t.Fatalf("read after sending close = %v, want the echoed 1001", err)
	}
}

// An empty close payload (gorilla's write pump sends []byte{}) is a close
// without status: the peer reads 1005.
func TestGorillaWriteMessageEmptyClose(t *testing.T) {
	got := make(chan error, 1)
	url := connServer(t, nil, func(c *Conn, _ *http.Request) {
		_, _, err := c.ReadMessage()
		got <- err
	})
	c := connDial(t, url, nil)
	defer c.CloseNow()
	if err := c.WriteMessage(CloseMessage, []byte{}); err != nil {
		t.Fatal(err)
	}
	if err := <-got; !IsCloseError(err, CloseNoStatusReceived) {
		t.Fatalf("server read %v, want close 1005", err)
	}
	if err := c.WriteMessage(CloseMessage, []byte{1}); err == nil {
		t.Fatal("a 1-byte close payload was accepted")
	}
}

// After a close frame sent with WriteMessage, a peer that never answers
// costs at most CloseTimeout: the connection is closed and the read says
// why.
func TestGorillaCloseMessageBounded(t *testing.T) {
	checkGoroutines(t)
	url := hostileAccept(t, func(nc net.Conn) {
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, nc) // reads everything, answers nothing
	})
	c := connDial(t, url, &DialOptions{Options: Options{CloseTimeout: 200 * time.Millisecond}})
	defer c.CloseNow()
	if err := c.WriteMessage(CloseMessage, FormatCloseMessage(CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err := c.ReadMessage()
	if !errors.Is(err, ErrCloseTimeout) {
		t.Fatalf("read = %v, want ErrCloseTimeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("read returned after %v", d)
	}
}

// A peer that closes TCP without a close frame gives a *CloseError with
// 1006 that still matches io.ErrUnexpectedEOF, between messages and in
// the middle of a frame.
func TestGorillaAbnormalClosure(t *testing.T) {
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"between messages", []byte{0x81, 0x02, 'h', 'i'}},
		{"inside a header", []byte{0x81, 0x02, 'h', 'i', 0x81}},
		{"inside a payload", []byte{0x81, 0x02, 'h', 'i', 0x82, 0x05, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := hostileAccept(t, func(nc net.Conn) { nc.Write(tc.send) })
			c := connDial(t, url, nil)
			defer c.CloseNow()
			if _, p, err := c.ReadMessage(); err != nil || string(p) != "hi" {
				t.Fatalf("first message: %q %v", p, err)
			}
			_, _, err := c.ReadMessage()
			if CloseStatus(err) != int(CloseAbnormalClosure) || !IsCloseError(err, CloseAbnormalClosure) {
				t.Fatalf("read = %v, want close 1006", err)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("read = %v does not match io.ErrUnexpectedEOF", err)
			}
			if !IsUnexpectedCloseError(err, CloseGoingAway) || IsUnexpectedCloseError(err, CloseGoingAway, CloseAbnormalClosure) {
				t.Fatalf("IsUnexpectedCloseError(%v) wrong", err)
			}
			if want := "websocket: close 1006 (abnormal closure): unexpected EOF"; err.Error() != want {
				t.Fatalf("Error() = %q, want %q", err.Error(), want)
			}
			if _, _, err2 := c.ReadMessage(); err2 != err {
				t.Fatalf("second read = %v, want the same error", err2)
			}
		})
	}
}

func TestGorillaIsUnexpectedCloseError(t *testing.T) {
	for _, tc := range []struct {
		err      error
		expected []StatusCode
		want     bool
	}{
		{nil, nil, false},
		{io.EOF, nil, false},
		{&CloseError{Code: CloseNormalClosure}, nil, true},
		{&CloseError{Code: CloseNormalClosure}, []StatusCode{CloseNormalClosure}, false},
		{&CloseError{Code: CloseGoingAway}, []StatusCode{CloseNormalClosure}, true},
		{&failure{kind: ErrMessageTooBig, close: CloseError{Code: CloseMessageTooBig}}, []StatusCode{CloseGoingAway}, true},
	} {
		if got := IsUnexpectedCloseError(tc.err, tc.expected...); got != tc.want {
			t.Errorf("IsUnexpectedCloseError(%v, %v) = %v, want %v", tc.err, tc.expected, got, tc.want)
		}
	}
}

// Close errors print the code's meaning, not a Go constant.
func TestCloseErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  *CloseError
		want string
	}{
		{&CloseError{Code: CloseMessageTooBig, Reason: "too long"}, "websocket: close 1009 (message too big): too long"},
		{&CloseError{Code: CloseNormalClosure}, "websocket: close 1000 (normal)"},
		{&CloseError{Code: CloseGoingAway, Reason: "restart"}, "websocket: close 1001 (going away): restart"},
		{&CloseError{Code: 4000, Reason: "app"}, "websocket: close 4000: app"},
		{&CloseError{Code: CloseInternalServerErr, Err: errors.New("boom")}, "websocket: close 1011 (internal server error): boom"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// SetCloseHandler sees the peer's code and reason; the echo goes out
// anyway (the peer's Close completes), and the handler's error is what
// the read returns.
func TestGorillaSetCloseHandler(t *testing.T) {
	type call struct {
		code int
		text string
	}
	calls := make(chan call, 2)
	closeErr := make(chan error, 1)
	handlerErr := errors.New("from the close handler")
	url := connServer(t, nil, func(c *Conn, r *http.Request) {
		fail := r.URL.Query().Get("fail") != ""
		c.SetCloseHandler(func(code int, text string) error {
			calls <- call{code, text}
			if fail {
				return handlerErr
			}
			return nil
		})
		_, _, err := c.ReadMessage()
		closeErr <- err
	})
	for _, fail := range []bool{false, true} {
		u := url
		if fail {
			u += "?fail=1"
		}
		c := connDial(t, u, nil)
		if err := c.Close(CloseGoingAway, "leaving"); err != nil {
			t.Fatalf("Close = %v, want nil (the echo came)", err)
		}
		if got := <-calls; got != (call{int(CloseGoingAway), "leaving"}) {
			t.Fatalf("handler got %v", got)
		}
		err := <-closeErr
		if fail && err != handlerErr {
			t.Fatalf("read = %v, want the handler's error", err)
		}
		if !fail && !IsCloseError(err, CloseGoingAway) {
			t.Fatalf("read = %v, want close 1001", err)
		}
	}
}

func TestGorillaNames(t *testing.T) {
	if !errors.Is(ErrReadLimit, ErrMessageTooBig) || !errors.Is(&failure{kind: ErrMessageTooBig}, ErrReadLimit) {
		t.Fatal("ErrReadLimit does not match ErrMessageTooBig")
	}
	url := connServer(t, nil, connEcho)
	c := connDial(t, url, nil)
	defer c.CloseNow()
	if c.UnderlyingConn() != c.NetConn() || c.UnderlyingConn() == nil {
		t.Fatal("UnderlyingConn is not NetConn")
	}
	// gorilla's echo idiom compiles: the type read is the type written.
	if err := c.WriteMessage(TextMessage, []byte("x")); err != nil {
		t.Fatal(err)
	}
	messageType, p, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(messageType, p); err != nil {
		t.Fatal(err)
	}
	if TextMessage != 1 || BinaryMessage != 2 || CloseMessage != 8 || PingMessage != 9 || PongMessage != 10 {
		t.Fatal("message type values differ from gorilla's")
	}
}

func TestIsWebSocketUpgrade(t *testing.T) {
	for _, tc := range []struct {
		conn, upgrade string
		want          bool
	}{
		{"Upgrade", "websocket", true},
		{"keep-alive, Upgrade", "WebSocket", true},
		{"keep-alive,upgrade", "h2c, websocket", true},
		{"keep-alive", "websocket", false},
		{"Upgrade", "h2c", false},
		{"", "", false},
		{"upgrades", "websocket", false},
	} {
		r, _ := http.NewRequest("GET", "http://x/", nil)
		if tc.conn != "" {
			r.Header.Set("Connection", tc.conn)
		}
		if tc.upgrade != "" {
			r.Header.Set("Upgrade", tc.upgrade)
		}
		if got := IsWebSocketUpgrade(r); got != tc.want {
			t.Errorf("Connection %q Upgrade %q: %v, want %v", tc.conn, tc.upgrade, got, tc.want)
		}
	}
	r, _ := http.NewRequest("CONNECT", "https://x/", nil)
	r.ProtoMajor = 2
	r.Header.Set(":protocol", "websocket")
	if !IsWebSocketUpgrade(r) {
		t.Error("an RFC 8441 extended CONNECT is not an upgrade")
	}
}

// DefaultDialer.Dial(url, header) dials with gorilla's signature; the
// header reaches the server.
func TestGorillaDefaultDialer(t *testing.T) {
	url := connServer(t, nil, func(c *Conn, r *http.Request) {
		_ = c.WriteMessage(TextMessage, []byte(r.Header.Get("X-Token")))
		_, _, _ = c.ReadMessage()
	})
	c, resp, err := DefaultDialer.Dial(url, http.Header{"X-Token": {"t1"}})
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("Dial: %v %v", resp, err)
	}
	defer c.CloseNow()
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "t1" {
		t.Fatalf("read %q %v", p, err)
	}
	d := &Dialer{DialOptions: DialOptions{Header: http.Header{"X-Token": {"from-options"}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c2, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.CloseNow()
	if _, p, err := c2.ReadMessage(); err != nil || string(p) != "from-options" {
		t.Fatalf("read %q %v", p, err)
	}
	if len(d.Header) != 1 {
		t.Fatal("DialContext changed the Dialer's header")
	}
}

// SetCompressionLevel changes the level from the next message; messages
// still round trip (with and without context takeover); a bad level is
// refused.
func TestGorillaSetCompressionLevel(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		comp := &CompressionOptions{ContextTakeover: takeover, Threshold: -1}
		url := connServer(t, &Config{Options: Options{Compression: comp}}, connEcho)
		c := connDial(t, url, &DialOptions{Options: Options{Compression: comp}})
		if !c.Compressed() {
			t.Fatal("compression not negotiated")
		}
		msg := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog "), 50)
		for _, level := range []int{0, 9, -2, 1, -1, 5} {
			if err := c.SetCompressionLevel(level); err != nil {
				t.Fatalf("SetCompressionLevel(%d) = %v", level, err)
			}
			for i := 0; i < 2; i++ {
				if err := c.WriteMessage(TextMessage, msg); err != nil {
					t.Fatal(err)
				}
				if _, p, err := c.ReadMessage(); err != nil || !bytes.Equal(p, msg) {
					t.Fatalf("level %d takeover %v: echo %d bytes, %v", level, takeover, len(p), err)
				}
			}
			if err := c.acquireSlot(nil); err != nil {
				t.Fatal(err)
			}
			got := c.enc.Level()
			c.releaseSlot()
			if want := normLevel(level); got != want {
				t.Fatalf("encoder level %d after SetCompressionLevel(%d), want %d", got, level, want)
			}
		}
		if err := c.SetCompressionLevel(10); !errors.Is(err, ErrInvalidCompressionLevel) {
			t.Fatalf("SetCompressionLevel(10) = %v", err)
		}
		c.CloseNow()
	}
	if !strings.Contains(ErrInvalidCompressionLevel.Error(), "compression level") {
		t.Fatal(ErrInvalidCompressionLevel)
	}
}

// Handler and Server log refused handshakes at Debug, with the reason.
func TestHandshakeRefusalLogged(t *testing.T) {
	var buf syncBuf
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(Handler(&Config{Options: Options{Logger: logger}}, connEcho))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
	out := buf.String()
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "handshake refused") || !strings.Contains(out, "evil.example") {
		t.Fatalf("log: %q", out)
	}

	s, err := New(WebSocketConfig{AllowUnauthenticated: true, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	resp, err = http.Get(hs.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := strings.Count(buf.String(), "handshake refused"); n != 2 {
		t.Fatalf("Server did not log its refusal at Debug: %q", buf.String())
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
