// This file owns what UpgradeServer gives an Upgrades handler: the
// http.ResponseWriter of an upgrade request (upgradeWriter), through
// which Upgrade takes the connection without net/http's buffers, a
// handler that answers gets an HTTP/1.1 response on a connection that is
// then closed, and any other code can hijack it as it would under an
// http.Server.

package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// upgradeWriter is the ResponseWriter of an upgrade request served by
// UpgradeServer.Upgrades. The head buffer it holds (the request head,
// then the client's first frames, then spare room) goes back to the pool
// when the connection is taken or the response is finished, whichever
// comes first, so a handler that keeps running for the connection's life
// does not keep it.
type upgradeWriter struct {
	s    *UpgradeServer
	nc   net.Conn
	bp   *[]byte // the pooled buffer (nil once given back)
	buf  []byte  // *bp or a grown copy: buf[end:n] is the client's first frames
	end  int
	n    int
	hdr  http.Header
	head bool // a response head was written
	hij  bool // the connection was taken
	// Body accounting: the Content-Length the handler declared (-1: none,
	// the body then ends with the connection) and what was written.
	clen    int64
	written int64
	noBody  bool // the status allows no body (1xx, 204, 304)
	headReq bool // a HEAD request: the body written is discarded
	counted bool // in s.inflight: until the connection is taken or the response done
}

// leave ends the request's count in s.inflight: the connection was taken
// (Shutdown then no longer waits for it, as an http.Server does not wait
// for hijacked connections) or the response is done.
func (w *upgradeWriter) leave() {
	if w.counted {
		w.counted = false
		w.s.inflight.Done()
	}
}

// asUpgradeWriter finds the upgradeWriter under w and the wrappers that
// expose it with Unwrap, as http.ResponseController does.
func asUpgradeWriter(w http.ResponseWriter) *upgradeWriter {
	for {
		switch t := w.(type) {
		case *upgradeWriter:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}

func (w *upgradeWriter) Header() http.Header {
	if w.hdr == nil {
		w.hdr = make(http.Header)
	}
	return w.hdr
}

// release gives the head buffer back to the pool.
func (w *upgradeWriter) release() {
	if w.bp != nil {
		putHeadBuf(w.bp)
		w.bp, w.buf = nil, nil
	}
}

// take hands the connection to Upgrade's fast path: the connection, the
// spare room of the head buffer for the 101, and the client's first
// frames (both valid until release).
func (w *upgradeWriter) take() (net.Conn, []byte, []byte, error) {
	if w.hij {
		return nil, nil, nil, http.ErrHijacked
	}
	if w.head {
		return nil, nil, nil, errors.New("websocket: response already written")
	}
	w.hij = true
	w.leave()
	return w.nc, w.buf[w.n:w.n], w.buf[w.end:w.n], nil
}

// Hijack gives the connection to the caller as an http.Server would: the
// bufio.Reader holds what the client sent past the request head.
func (w *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hij {
		return nil, nil, http.ErrHijacked
	}
	w.hij = true
	w.leave()
	pending := append([]byte(nil), w.buf[w.end:w.n]...)
	w.release()
	_ = w.nc.SetDeadline(time.Time{})
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(pending), w.nc), headBufSize)
	if len(pending) > 0 {
		_, _ = br.Peek(len(pending)) // buffered: Buffered() reports it
	}
	return w.nc, bufio.NewReadWriter(br, bufio.NewWriterSize(w.nc, headBufSize)), nil
}

// WriteHeader sends the response head at once (informational statuses
// are not sent). The response always carries Connection: close.
func (w *upgradeWriter) WriteHeader(status int) {
	if w.hij || w.head || status < 200 {
		return
	}
	w.writeHead(status, nil)
}

func (w *upgradeWriter) writeHead(status int, firstBody []byte) {
	w.head = true
	h := w.Header()
	w.noBody = status == http.StatusNoContent || status == http.StatusNotModified
	w.clen = -1
	if cl := h.Get("Content-Length"); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.clen = v
		} else {
			h.Del("Content-Length")
		}
	}
	if firstBody != nil && !w.noBody && h.Get("Content-Type") == "" && h.Get("Content-Encoding") == "" {
		if _, set := h["Content-Type"]; !set { // a nil entry asks for no sniffing, as in net/http
			h.Set("Content-Type", http.DetectContentType(firstBody))
		}
	}
	h.Del("Transfer-Encoding") // the body ends with the connection
	h.Set("Connection", "close")
	if _, set := h["Date"]; !set {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	hb := headerBuf{b: appendStatusLine(make([]byte, 0, 256), status)}
	_ = h.Write(&hb) // sorted, values stripped of CR and LF
	hb.b = append(hb.b, "\r\n"...)
	_ = w.nc.SetWriteDeadline(time.Now().Add(DefaultHandshakeTimeout))
	_, _ = w.nc.Write(hb.b)
}

// appendStatusLine appends an HTTP/1.1 status line for status to b.
func appendStatusLine(b []byte, status int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	return append(b, "\r\n"...)
}

// headerBuf is an io.Writer appending to b (for http.Header.Write).
type headerBuf struct{ b []byte }

func (h *headerBuf) Write(p []byte) (int, error) {
	h.b = append(h.b, p...)
	return len(p), nil
}

// Write sends p as body (after a 200 head if none was sent), bounded by
// the handshake timeout from the head on.
func (w *upgradeWriter) Write(p []byte) (int, error) {
	if w.hij {
		return 0, http.ErrHijacked
	}
	if !w.head {
		w.writeHead(http.StatusOK, p)
	}
	if w.noBody {
		return 0, http.ErrBodyNotAllowed
	}
	if w.clen >= 0 && w.written+int64(len(p)) > w.clen {
		return 0, http.ErrContentLength
	}
	if w.headReq { // as net/http: accepted, not sent
		w.written += int64(len(p))
		return len(p), nil
	}
	n, err := w.nc.Write(p)
	w.written += int64(n)
	return n, err
}

// Flush does nothing: nothing is buffered.
func (w *upgradeWriter) Flush() {}

// SetReadDeadline and SetWriteDeadline serve http.ResponseController.
func (w *upgradeWriter) SetReadDeadline(t time.Time) error  { return w.nc.SetReadDeadline(t) }
func (w *upgradeWriter) SetWriteDeadline(t time.Time) error { return w.nc.SetWriteDeadline(t) }

// finish completes a response the handler did not (200 with an empty
// body if it wrote nothing) and closes the connection as refuse does,
// unless the connection was taken.
func (w *upgradeWriter) finish() {
	w.release()
	if w.hij {
		return
	}
	if !w.head {
		w.Header().Set("Content-Length", "0")
		w.writeHead(http.StatusOK, nil)
	}
	closeAnswered(w.nc)
}

// serveUpgrades runs the Upgrades handler for the upgrade request r read
// from nc (buf[:end] its head, buf[end:n] what followed it), recovering a
// panic as net/http does. It owns the head buffer bp and the request's
// count in s.inflight.
func (s *UpgradeServer) serveUpgrades(nc net.Conn, bp *[]byte, buf []byte, end, n int, r *http.Request) {
	w := &upgradeWriter{s: s, nc: nc, bp: bp, buf: buf, end: end, n: n, headReq: r.Method == http.MethodHead, counted: true}
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			logPanic(s.Config, "websocket: Upgrades handler panic", p, r.RemoteAddr)
		}
		if p != nil && !w.hij { // as net/http: no response, the connection closed
			w.release()
			nc.Close()
		} else {
			w.finish() // (nothing but the buffer to give back once the connection is taken)
		}
		w.leave()
	}()
	s.Upgrades.ServeHTTP(w, r)
}
