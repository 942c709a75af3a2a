//go:build js && wasm

// Command wasm is the browser side of TestBrowserWasm (interop/wasm_test.go):
// built with GOOS=js GOARCH=wasm and run in headless Chromium, it uses
// github.com/rfc6455/websocket's Dial, which goes through the browser's own
// WebSocket object, against our server. It fetches the plan from
// /wasm/config, runs every case in order, POSTs each result as JSON
// ({case, ok, detail}) to /wasm/report and POSTs to /wasm/done at the end.
// Case names start with "wasm/".
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall/js"
	"time"

	"github.com/rfc6455/websocket"
	"github.com/rfc6455/websocket/interop/internal/testpayload"
)

// caseTimeout bounds each case.
const caseTimeout = 30 * time.Second

type endpoint struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Sizes []int  `json:"sizes"`
}

type config struct {
	Echo         []endpoint `json:"echo"`
	Stream       endpoint   `json:"stream"`
	ServerCode   int        `json:"serverCode"`
	ServerReason string     `json:"serverReason"`
	PeerCode     int        `json:"peerCode"`
	PeerReason   string     `json:"peerReason"`
}

var origin = js.Global().Get("location").Get("origin").String()

func post(path string, v any) {
	body, _ := json.Marshal(v)
	resp, err := http.Post(origin+path, "application/json", bytes.NewReader(body))
	if err != nil {
		println("post", path, err.Error())
		return
	}
	resp.Body.Close()
}

// report sends one result: passed when detail is "".
func report(name, detail string) {
	post("/wasm/report", map[string]any{"case": name, "ok": detail == "", "detail": detail})
}

func wsURL(path string) string { return "ws" + strings.TrimPrefix(origin, "http") + path }

func main() {
	resp, err := http.Get(origin + "/wasm/config")
	if err != nil {
		report("wasm/config", err.Error())
		return
	}
	var cfg config
	err = json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if err != nil {
		report("wasm/config", err.Error())
		return
	}
	for _, e := range cfg.Echo {
		echo(e)
	}
	stream(cfg.Stream)
	serverClose(cfg)
	clientClose(cfg)
	subprotocol()
	subprotocolNone()
	refused()
	readContext()
	goingAway()
	readLimit()
	post("/wasm/done", map[string]any{})
}

// echo sends text then binary messages of each size on one connection and
// checks that each comes back unchanged: text with WriteMessage and
// ReadMessage, binary with Write and Read (context).
func echo(e endpoint) {
	echoCase(e, func(ctx context.Context, c *websocket.Conn, mt websocket.MessageType, p []byte) (websocket.MessageType, []byte, error) {
		if mt == websocket.TextMessage {
			if err := c.WriteMessage(mt, p); err != nil {
				return 0, nil, err
			}
			return c.ReadMessage()
		}
		if err := c.Write(ctx, mt, p); err != nil {
			return 0, nil, err
		}
		return c.Read(ctx)
	})
}

// stream sends each message through NextWriter in three pieces and reads
// the echo through NextReader.
func stream(e endpoint) {
	echoCase(e, func(_ context.Context, c *websocket.Conn, mt websocket.MessageType, p []byte) (websocket.MessageType, []byte, error) {
		if err := writePieces(c, mt, p); err != nil {
			return 0, nil, err
		}
		gt, r, err := c.NextReader()
		if err != nil {
			return 0, nil, err
		}
		got, err := io.ReadAll(r)
		return gt, got, err
	})
}

// echoCase dials e (reporting the opening, which must be a 101), sends
// text then binary messages of each of e's sizes through roundTrip, which
// returns the echo, reports each, then reports the close. The case ends
// at caseTimeout, the connection closed.
func echoCase(e endpoint, roundTrip func(ctx context.Context, c *websocket.Conn, mt websocket.MessageType, p []byte) (websocket.MessageType, []byte, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, wsURL(e.Path), nil)
	if err != nil {
		report("wasm/"+e.Name+"/open", "Dial: "+err.Error())
		return
	}
	defer c.CloseNow()
	if resp == nil || resp.StatusCode != http.StatusSwitchingProtocols {
		report("wasm/"+e.Name+"/open", fmt.Sprintf("response %v, want a 101", resp))
	} else {
		report("wasm/"+e.Name+"/open", "")
	}
	stop := context.AfterFunc(ctx, func() { c.CloseNow() })
	defer stop()
	for _, text := range []bool{true, false} {
		mt := websocket.BinaryMessage
		if text {
			mt = websocket.TextMessage
		}
		for _, n := range e.Sizes {
			p := testpayload.Bytes(text, n)
			gt, got, err := roundTrip(ctx, c, mt, p)
			report(fmt.Sprintf("wasm/%s/%s/%d", e.Name, mt, n), compare(err, mt, p, gt, got))
			if err != nil {
				return
			}
		}
	}
	report("wasm/"+e.Name+"/close", closeDone(c))
}

// writePieces writes p through NextWriter in three Write calls, cut at the
// same points as the server's writePieces would (cuts(n, 3)).
func writePieces(c *websocket.Conn, mt websocket.MessageType, p []byte) error {
	w, err := c.NextWriter(mt)
	if err != nil {
		return err
	}
	n := len(p)
	for _, r := range [][2]int{{0, n / 9}, {n / 9, n * 4 / 9}, {n * 4 / 9, n}} {
		if _, err := w.Write(p[r[0]:r[1]]); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

// closeDone closes with 1000 "done", which the echo handler waits for.
func closeDone(c *websocket.Conn) string {
	if err := c.Close(websocket.CloseNormalClosure, "done"); err != nil {
		return "Close(1000, done) = " + err.Error() + ", want nil (handshake completed)"
	}
	return ""
}

func compare(err error, mt websocket.MessageType, p []byte, gt websocket.MessageType, got []byte) string {
	switch {
	case err != nil:
		return err.Error()
	case gt != mt:
		return fmt.Sprintf("echo is a %s message, want %s", gt, mt)
	case !bytes.Equal(got, p):
		return fmt.Sprintf("echo of %d bytes differs from the %d sent", len(got), len(p))
	}
	return ""
}

// serverClose: the server closes with serverCode and serverReason; the
// read must return that *CloseError.
func serverClose(cfg config) {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL("/ws/server-close"), nil)
	if err != nil {
		report("wasm/server-close", "Dial: "+err.Error())
		return
	}
	defer c.CloseNow()
	_, _, err = c.Read(ctx)
	var ce *websocket.CloseError
	switch {
	case !errors.As(err, &ce):
		report("wasm/server-close", fmt.Sprintf("read error %v, want a *CloseError", err))
	case int(ce.Code) != cfg.ServerCode || ce.Reason != cfg.ServerReason:
		report("wasm/server-close", fmt.Sprintf("close %d %q, want %d %q", ce.Code, ce.Reason, cfg.ServerCode, cfg.ServerReason))
	default:
		report("wasm/server-close", "")
	}
}

// clientClose: we close with peerCode and peerReason; the server checks
// what it got, Close must see the handshake complete.
func clientClose(cfg config) {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL("/ws/client-close"), nil)
	if err != nil {
		report("wasm/client-close", "Dial: "+err.Error())
		return
	}
	defer c.CloseNow()
	if err := c.Close(websocket.StatusCode(cfg.PeerCode), cfg.PeerReason); err != nil {
		report("wasm/client-close", fmt.Sprintf("Close(%d) = %v, want nil", cfg.PeerCode, err))
		return
	}
	report("wasm/client-close", "")
}

// subprotocol offers x-unknown and chat.v1; the server picks chat.v1. A
// ping on the open connection must fail with ErrNotSupportedInBrowser and
// leave it usable.
func subprotocol() {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, wsURL("/ws/subprotocol"), &websocket.DialOptions{Subprotocols: []string{"x-unknown", "chat.v1"}})
	if err != nil {
		report("wasm/subprotocol", "Dial: "+err.Error())
		return
	}
	defer c.CloseNow()
	switch {
	case c.Subprotocol() != "chat.v1":
		report("wasm/subprotocol", fmt.Sprintf("Subprotocol() = %q, want chat.v1", c.Subprotocol()))
	case resp.Header.Get("Sec-WebSocket-Protocol") != "chat.v1":
		report("wasm/subprotocol", fmt.Sprintf("response Sec-WebSocket-Protocol %q, want chat.v1", resp.Header.Get("Sec-WebSocket-Protocol")))
	default:
		report("wasm/subprotocol", "")
	}
	var details []string
	if err := c.Ping([]byte("x")); !errors.Is(err, websocket.ErrNotSupportedInBrowser) {
		details = append(details, fmt.Sprintf("Ping = %v, want ErrNotSupportedInBrowser", err))
	}
	if err := c.WriteControl(websocket.PongMessage, nil, time.Time{}); !errors.Is(err, websocket.ErrNotSupportedInBrowser) {
		details = append(details, fmt.Sprintf("WriteControl(Pong) = %v, want ErrNotSupportedInBrowser", err))
	}
	if err := c.Close(websocket.CloseNormalClosure, "done"); err != nil {
		details = append(details, fmt.Sprintf("Close after the refused ping = %v, want nil", err))
	}
	report("wasm/ping-refused", strings.Join(details, "; "))
}

// subprotocolNone: the server picks none of the offers, which the browser
// takes as a failure: Dial must fail.
func subprotocolNone() {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL("/ws/subprotocol-none"), &websocket.DialOptions{Subprotocols: []string{"x-unknown", "chat.v1"}})
	if err == nil {
		c.CloseNow()
		report("wasm/subprotocol-none", "Dial succeeded, want the browser to fail the connection (no subprotocol chosen)")
		return
	}
	report("wasm/subprotocol-none", "")
}

// refused: options the browser cannot honour fail Dial with
// ErrNotSupportedInBrowser, before any connection is made.
func refused() {
	cases := map[string]*websocket.DialOptions{
		"header":       {Header: http.Header{"Authorization": {"Bearer x"}}},
		"compression":  {Options: websocket.Options{Compression: &websocket.CompressionOptions{}}},
		"pinginterval": {Options: websocket.Options{PingInterval: time.Second}},
	}
	for _, name := range []string{"header", "compression", "pinginterval"} {
		ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
		c, _, err := websocket.Dial(ctx, wsURL("/ws/never"), cases[name])
		cancel()
		if err == nil {
			c.CloseNow()
		}
		if !errors.Is(err, websocket.ErrNotSupportedInBrowser) {
			report("wasm/refused/"+name, fmt.Sprintf("Dial = %v, want ErrNotSupportedInBrowser", err))
			continue
		}
		report("wasm/refused/"+name, "")
	}
}

// readContext: Read on a silent connection ends with ctx's error and
// closes the connection (without a code: the server sees 1005).
func readContext() {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL("/ws/wasm-silent"), nil)
	if err != nil {
		report("wasm/read-context", "Dial: "+err.Error())
		return
	}
	defer c.CloseNow()
	rctx, rcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer rcancel()
	start := time.Now()
	_, _, err = c.Read(rctx)
	switch {
	case !errors.Is(err, context.DeadlineExceeded):
		report("wasm/read-context", fmt.Sprintf("Read = %v, want context.DeadlineExceeded", err))
	case time.Since(start) > 5*time.Second:
		report("wasm/read-context", fmt.Sprintf("Read returned after %v, want about 200ms", time.Since(start)))
	default:
		select {
		case <-c.Done():
			report("wasm/read-context", "")
		case <-time.After(5 * time.Second):
			report("wasm/read-context", "connection still open 5s after Read's ctx ended")
		}
	}
}

// goingAway: a page may not close with 1001; Close completes without a
// code (the server sees 1005).
func goingAway() {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL("/ws/wasm-going-away"), nil)
	if err != nil {
		report("wasm/going-away", "Dial: "+err.Error())
		return
	}
	defer c.CloseNow()
	if err := c.Close(websocket.CloseGoingAway, "bye"); err != nil {
		report("wasm/going-away", fmt.Sprintf("Close(1001) = %v, want nil", err))
		return
	}
	report("wasm/going-away", "")
}

// readLimit: a message over ReadLimit fails the read with ErrMessageTooBig.
func readLimit() {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL("/ws/wasm-too-big"), &websocket.DialOptions{Options: websocket.Options{ReadLimit: 1000}})
	if err != nil {
		report("wasm/read-limit", "Dial: "+err.Error())
		return
	}
	defer c.CloseNow()
	_, p, err := c.Read(ctx)
	if !errors.Is(err, websocket.ErrMessageTooBig) {
		report("wasm/read-limit", fmt.Sprintf("Read = %d bytes, %v; want ErrMessageTooBig", len(p), err))
		return
	}
	report("wasm/read-limit", "")
}
