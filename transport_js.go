//go:build js

// This file owns the browser transport (js/wasm): a net.Conn over the
// browser's own WebSocket object, so that a Conn from Dial runs its usual
// read and write paths in a browser.
//
// The browser speaks messages, Conn speaks frames, and this file
// translates: each message the browser delivers (onmessage) becomes one
// unmasked server frame queued for Conn's reads; the browser's close event
// becomes a close frame followed by EOF. Frames Conn writes are parsed
// back, unmasked and reassembled, and each complete message is sent with
// ws.send (a string for text, a Uint8Array for binary); Conn's close frame
// becomes ws.close(code, reason).

package websocket

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall/js"
	"time"

	"github.com/rfc6455/websocket/frame"
)

// The browser WebSocket's readyState values.
const (
	wsConnecting = 0
	wsOpen       = 1
)

// browserHighWater is how much the browser may hold unsent (bufferedAmount)
// before a write waits for it to drain, within the write's deadline.
const browserHighWater = 1 << 20

// browserConn is the transport of a Conn dialled through the browser.
type browserConn struct {
	ws    js.Value
	addr  browserAddr
	funcs []js.Func // the event handlers, released on the close event

	// Read side: frames for Conn, filled by the event handlers.
	mu     sync.Mutex
	queue  [][]byte // frames not yet read (the head partly read)
	eof    bool     // the close event came: EOF after the queue
	closed bool     // Close was called
	rdl    time.Time
	wdl    time.Time
	wake   chan struct{} // cap 1: the queue, eof, closed or rdl changed

	// Write side: Conn's frames, parsed back (under wmu; wdl under mu).
	wmu      sync.Mutex
	wbuf     []byte       // written bytes not yet a whole frame
	msg      []byte       // the fragments of the message so far
	msgOp    frame.Opcode // the message's opcode while msg is open
	inMsg    bool
	closing  bool  // ws.close was called
	closeErr error // why the connection ended before open, for Dial
}

func (b *browserConn) noControlFrames() {}

// browserAddr is the address of either end: the URL dialled.
type browserAddr string

func (a browserAddr) Network() string { return "websocket" }
func (a browserAddr) String() string  { return string(a) }

// newBrowserConn creates the browser's WebSocket for url offering
// protocols, with handlers that queue what arrives; opened is closed on
// the open event, failed on a close event before it.
func newBrowserConn(url string, protocols []string) (b *browserConn, opened, failed chan struct{}, err error) {
	ctor := js.Global().Get("WebSocket")
	if ctor.IsUndefined() {
		return nil, nil, nil, errors.New("no WebSocket in this JavaScript environment (run in a browser)")
	}
	protos := make([]any, len(protocols))
	for i, p := range protocols {
		protos[i] = p
	}
	var ws js.Value
	if err := jsTry(func() { ws = ctor.New(url, protos) }); err != nil {
		return nil, nil, nil, err
	}
	ws.Set("binaryType", "arraybuffer")
	b = &browserConn{ws: ws, addr: browserAddr(url), wake: make(chan struct{}, 1)}
	opened, failed = make(chan struct{}), make(chan struct{})
	isOpen := false
	onOpen := js.FuncOf(func(js.Value, []js.Value) any {
		isOpen = true
		close(opened)
		return nil
	})
	onMessage := js.FuncOf(func(_ js.Value, args []js.Value) any {
		b.push(messageFrame(args[0].Get("data")))
		return nil
	})
	onClose := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ev := args[0]
		code, reason := StatusCode(ev.Get("code").Int()), ev.Get("reason").String()
		if !isOpen {
			b.closeErr = fmt.Errorf("the browser could not open the WebSocket (close code %d %s)", code, code)
			close(failed)
		}
		b.closeEvent(code, reason)
		return nil
	})
	b.funcs = []js.Func{onOpen, onMessage, onClose}
	ws.Set("onopen", onOpen)
	ws.Set("onmessage", onMessage)
	ws.Set("onclose", onClose)
	return b, opened, failed, nil
}

// messageFrame turns a message event's data (a string or an ArrayBuffer)
// into one final unmasked frame.
func messageFrame(data js.Value) []byte {
	if data.Type() == js.TypeString {
		s := data.String()
		h := frame.Header{Fin: true, Opcode: frame.OpText, Length: int64(len(s))}
		return append(frame.AppendHeader(make([]byte, 0, h.Size()+len(s)), h), s...)
	}
	u8 := js.Global().Get("Uint8Array").New(data)
	n := u8.Get("length").Int()
	h := frame.Header{Fin: true, Opcode: frame.OpBinary, Length: int64(n)}
	buf := frame.AppendHeader(make([]byte, 0, h.Size()+n), h)
	buf = buf[:len(buf)+n]
	js.CopyBytesToGo(buf[len(buf)-n:], u8)
	return buf
}

// push queues a frame for Conn's reads.
func (b *browserConn) push(f []byte) {
	b.mu.Lock()
	if !b.closed && !b.eof {
		b.queue = append(b.queue, f)
	}
	b.mu.Unlock()
	b.signal()
}

func (b *browserConn) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// closeEvent handles the close event: a close frame with the browser's code
// and reason (none for 1006 and the other codes no frame may carry), then
// EOF; the handlers are detached and released.
func (b *browserConn) closeEvent(code StatusCode, reason string) {
	var f []byte
	if code == CloseNoStatusReceived {
		f = frame.AppendHeader(nil, frame.Header{Fin: true, Opcode: frame.OpClose})
	} else if p, err := frame.AppendClose(nil, code, reason); err == nil {
		f = append(frame.AppendHeader(nil, frame.Header{Fin: true, Opcode: frame.OpClose, Length: int64(len(p))}), p...)
	}
	b.mu.Lock()
	if f != nil && !b.closed && !b.eof {
		b.queue = append(b.queue, f)
	}
	b.eof = true
	b.mu.Unlock()
	b.signal()
	for _, ev := range []string{"onopen", "onmessage", "onclose"} {
		b.ws.Set(ev, js.Null())
	}
	for _, f := range b.funcs {
		f.Release() // allowed while onclose runs
	}
}

// Read reads the queued frames, waiting for more until the read deadline.
func (b *browserConn) Read(p []byte) (int, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		b.mu.Lock()
		switch {
		case b.closed:
			b.mu.Unlock()
			return 0, net.ErrClosed
		case len(b.queue) > 0:
			n := copy(p, b.queue[0])
			if b.queue[0] = b.queue[0][n:]; len(b.queue[0]) == 0 {
				b.queue[0] = nil
				b.queue = b.queue[1:]
			}
			b.mu.Unlock()
			return n, nil
		case b.eof:
			b.mu.Unlock()
			return 0, io.EOF
		}
		dl := b.rdl
		b.mu.Unlock()
		var expired <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			expired = timer.C
		}
		select {
		case <-b.wake:
		case <-expired:
		}
	}
}

// Write takes Conn's frames; each complete message goes to ws.send. It
// waits, within the write deadline, while the browser holds more than
// browserHighWater bytes unsent.
func (b *browserConn) Write(p []byte) (int, error) {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	if err := b.writable(); err != nil {
		return 0, err
	}
	b.wbuf = append(b.wbuf, p...)
	off := 0
	for {
		h, n, err := frame.ParseHeader(b.wbuf[off:])
		if err == frame.ErrShortHeader {
			break
		}
		if err != nil {
			return 0, err
		}
		if int64(len(b.wbuf)-off-n) < h.Length {
			break
		}
		payload := b.wbuf[off+n : off+n+int(h.Length)]
		off += n + int(h.Length)
		if h.Masked {
			frame.Mask(h.Key, 0, payload)
		}
		if err := b.frame(h, payload); err != nil {
			return 0, err
		}
	}
	switch rest := len(b.wbuf) - off; {
	case rest == 0 && cap(b.wbuf) > 64<<10:
		b.wbuf = nil
	default:
		b.wbuf = b.wbuf[:copy(b.wbuf, b.wbuf[off:])]
	}
	return len(p), b.drain()
}

// frame handles one whole frame Conn wrote.
func (b *browserConn) frame(h frame.Header, payload []byte) error {
	switch h.Opcode {
	case frame.OpText, frame.OpBinary:
		if h.Fin {
			return b.send(h.Opcode, payload)
		}
		b.msg, b.msgOp, b.inMsg = append(b.msg[:0], payload...), h.Opcode, true
	case frame.OpContinuation:
		b.msg = append(b.msg, payload...)
		if h.Fin {
			err := b.send(b.msgOp, b.msg)
			if b.inMsg = false; cap(b.msg) > 64<<10 {
				b.msg = nil
			}
			return err
		}
	case frame.OpClose:
		code, reason, _ := frame.ParseClose(payload)
		return b.closeWS(code, string(reason))
	default:
		return errBrowserControl
	}
	return nil
}

// send sends one message with ws.send.
func (b *browserConn) send(op frame.Opcode, p []byte) error {
	var data any
	if op == frame.OpText {
		data = string(p)
	} else {
		u8 := js.Global().Get("Uint8Array").New(len(p))
		js.CopyBytesToJS(u8, p)
		data = u8
	}
	return jsTry(func() { b.ws.Call("send", data) })
}

// closeWS starts the browser's closing handshake once. The browser lets a
// page close with 1000 or 3000-4999 only: any other code closes without
// one (the server sees 1005), as does an empty close frame. After the
// server's close (the browser echoes it itself) it does nothing.
func (b *browserConn) closeWS(code StatusCode, reason string) error {
	if b.closing {
		return nil
	}
	b.closing = true
	if st := b.ws.Get("readyState").Int(); st != wsOpen && st != wsConnecting {
		return nil
	}
	if code == CloseNormalClosure || code >= 3000 && code <= 4999 {
		return jsTry(func() { b.ws.Call("close", int(code), reason) })
	}
	return jsTry(func() { b.ws.Call("close") })
}

// drain waits while the browser holds more than browserHighWater bytes
// unsent, polling, until the write deadline.
func (b *browserConn) drain() error {
	for b.ws.Get("bufferedAmount").Int() > browserHighWater && b.ws.Get("readyState").Int() == wsOpen {
		if err := b.writable(); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// writable reports net.ErrClosed after Close, os.ErrDeadlineExceeded
// once the write deadline passed.
func (b *browserConn) writable() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return net.ErrClosed
	case !b.wdl.IsZero() && !time.Now().Before(b.wdl):
		return os.ErrDeadlineExceeded
	}
	return nil
}

// Close ends reads and writes at once; a WebSocket still open is closed
// without a code (the server sees 1005).
func (b *browserConn) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return net.ErrClosed
	}
	b.closed, b.queue = true, nil
	b.mu.Unlock()
	b.signal()
	if st := b.ws.Get("readyState").Int(); st == wsOpen || st == wsConnecting {
		_ = jsTry(func() { b.ws.Call("close") })
	}
	return nil
}

func (b *browserConn) LocalAddr() net.Addr  { return b.addr }
func (b *browserConn) RemoteAddr() net.Addr { return b.addr }

func (b *browserConn) SetDeadline(t time.Time) error {
	b.SetReadDeadline(t)
	return b.SetWriteDeadline(t)
}

func (b *browserConn) SetReadDeadline(t time.Time) error {
	b.mu.Lock()
	b.rdl = t
	b.mu.Unlock()
	b.signal()
	return nil
}

// SetWriteDeadline bounds writes: ws.send itself never blocks, so it
// bounds the wait for the browser's buffer to drain.
func (b *browserConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	b.wdl = t
	b.mu.Unlock()
	return nil
}

// jsTry runs f, returning a JavaScript exception it throws as an error.
func jsTry(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			je, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			err = je
		}
	}()
	f()
	return nil
}
