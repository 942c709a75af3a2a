package websocket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/rfc6455/websocket/handshake"
)

// Config configures the server side of the opening handshake and the
// connections it makes. A nil *Config means DefaultConfig().
type Config struct {
	// Options are the connection settings (limits, timeouts, keepalive,
	// compression).
	Options

	// Subprotocols the server speaks, in its order of preference. The first
	// one the client also offers is chosen; none is chosen when nothing
	// matches, which RFC 6455 allows but browsers and Node's ws treat as a
	// failed handshake when they offered any.
	Subprotocols []string

	// Origin policy (see "Origin considerations" in the package doc). By
	// default a request with an Origin header must be same-origin: the
	// Origin's scheme is the one the request came by (http over plain
	// HTTP, https over TLS, or PublicScheme), and its host and port are
	// Host's; requests without Origin (non-browser clients) pass.
	// AllowedOrigins adds patterns such as "https://app.example.com" or
	// "https://*.example.com" (a malformed pattern answers 500).
	// CheckOrigin, when set, replaces the policy. AllowAllOrigins turns
	// the check off, which lets any web page use the visitor's cookies to
	// talk to you. Refusals answer 403.
	AllowedOrigins  []string
	AllowAllOrigins bool
	CheckOrigin     func(r *http.Request) bool

	// AllowedHosts, when set, lists the Host values served ("localhost:8080",
	// "127.0.0.1:8080", "[::1]:8080", "example.com" for any port,
	// "*.example.com"); any other Host is refused with 421 Misdirected
	// Request, whatever the origin policy says. Set it on a server bound
	// to a loopback or private address: it is what stops DNS rebinding.
	AllowedHosts []string

	// PublicScheme ("http" or "https") is the scheme pages reach this
	// server by, for the same-origin check; set "https" when a proxy in
	// front terminates TLS. TrustForwardedProto instead takes it from
	// X-Forwarded-Proto (only behind a proxy that sets that header). By
	// default it is https when the request came over TLS, else http.
	PublicScheme        string
	TrustForwardedProto bool

	// HandshakeTimeout bounds writing the 101 response. Zero means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// DefaultConfig returns the server defaults: a 32 MiB read limit, a 5 s
// close handshake, a 10 s handshake write, same-origin policy, no
// subprotocols and no compression.
func DefaultConfig() *Config {
	return &Config{
		Options: Options{
			ReadLimit:       DefaultReadLimit,
			CloseTimeout:    DefaultCloseTimeout,
			ReadBufferSize:  DefaultReadBufferSize,
			WriteBufferSize: DefaultWriteBufferSize,
		},
		HandshakeTimeout: DefaultHandshakeTimeout,
	}
}

// serverConfig is the handshake policy of c. It is a value so that Upgrade
// can keep it on its stack.
func (c *Config) serverConfig() handshake.ServerConfig {
	sc := handshake.ServerConfig{
		Subprotocols:    c.Subprotocols,
		AllowAllOrigins: c.AllowAllOrigins,
		AllowedOrigins:  c.AllowedOrigins,
		CheckOrigin:     c.CheckOrigin,

		AllowedHosts:        c.AllowedHosts,
		PublicScheme:        c.PublicScheme,
		TrustForwardedProto: c.TrustForwardedProto,
	}
	if co := c.Compression; co != nil {
		sc.Deflate = &handshake.DeflateOptions{
			ContextTakeover:              co.ContextTakeover,
			RequestPeerNoContextTakeover: co.RequestNoContextTakeover,
		}
	}
	return sc
}

// defaultUpgradeConfig is what Upgrade uses for a nil *Config; only read.
var defaultUpgradeConfig = DefaultConfig()

// Upgrade performs the server side of the opening handshake on an HTTP/1.1
// request and returns the connection. A request the handshake rejects is
// answered with its HTTP status (400, 403, 405, 421, 426...) and a short
// fixed body, nothing is hijacked, and the error is a
// *handshake.RejectError whose text says what was refused (for an origin:
// the Origin, the Host and the scheme compared; request data the body
// never echoes). The
// ResponseWriter may be wrapped by middleware: it is hijacked through
// http.NewResponseController. After Upgrade returns a Conn, w and r.Body
// must not be used. Headers already set on w (cookies, for instance) are
// sent with the 101 response.
//
// An RFC 8441 request (extended CONNECT over HTTP/2, see "WebSockets over
// HTTP/2" in the package documentation) is answered with 200 and the Conn
// runs over its stream: then the handler must not return before the Conn
// is closed (wait for Done after Close), as net/http ends the stream when
// it returns.
func Upgrade(w http.ResponseWriter, r *http.Request, cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = defaultUpgradeConfig
	}
	if err := cfg.Compression.check(); err != nil {
		return nil, misconfigured(w, err)
	}
	sc := cfg.serverConfig()
	res, err := handshake.Server(r, &sc)
	if err != nil {
		writeReject(w, err)
		return nil, err
	}
	return upgradeAccepted(w, r, cfg, res)
}

// writeReject answers a refused opening handshake with its status,
// headers and short reason.
func writeReject(w http.ResponseWriter, err error) {
	status, h, reason := rejection(err)
	for k, vs := range h {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	http.Error(w, reason, status)
}

// rejection is the answer to a refused opening handshake: the
// RejectError's status, headers and reason, or 400.
func rejection(err error) (status int, h http.Header, reason string) {
	var re *handshake.RejectError
	if !errors.As(err, &re) {
		return http.StatusBadRequest, nil, "Bad Request"
	}
	return re.Status, re.Header, re.Reason
}

// handshakeTimeout bounds writing the handshake's answer.
func (c *Config) handshakeTimeout() time.Duration {
	if c.HandshakeTimeout > 0 {
		return c.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

// acceptOn writes the 101 answering res on nc (appended to buf, whose
// spare room it uses when it fits), with extra headers hdr, bounded by
// cfg's handshake timeout, and makes the server Conn; pending are the
// bytes already read past the request head (copied into the Conn's own
// buffer).
func acceptOn(nc net.Conn, cfg *Config, res *handshake.ServerResult, buf []byte, hdr http.Header, pending []byte) (*Conn, error) {
	_ = nc.SetWriteDeadline(time.Now().Add(cfg.handshakeTimeout()))
	if _, err := nc.Write(res.AppendResponse(buf, hdr)); err != nil {
		return nil, responseFailed(nc, err)
	}
	_ = nc.SetWriteDeadline(time.Time{})
	return newConn(nc, RoleServer, cfg.Options.resolve(), res.Subprotocol, res.Deflate, pending), nil
}

// upgradeAccepted completes an opening handshake that handshake.Server
// accepted with res: hijack, write the 101, make the Conn (over HTTP/2:
// answer 200 and run over the stream, h2stream.go).
func upgradeAccepted(w http.ResponseWriter, r *http.Request, cfg *Config, res *handshake.ServerResult) (*Conn, error) {
	if res.ExtendedConnect {
		return upgradeH2(w, r, cfg, res)
	}
	if uw := asUpgradeWriter(w); uw != nil {
		return upgradeTaken(w, uw, cfg, res)
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, hijackFailed(w, err)
	}
	// The server may have set deadlines on the connection; they are ours now.
	_ = nc.SetDeadline(time.Time{})
	var pending []byte
	if brw == nil { // a ResponseWriter wrapper that hijacks without buffers
		brw = unbuffered(nc)
	}
	if n := brw.Reader.Buffered(); n > 0 {
		pending, _ = brw.Reader.Peek(n) // the client's first frames; acceptOn copies them
	}
	// The 101 goes out from the hijacked bufio.Writer's own (empty) buffer
	// when it fits, as it does unless the application set kilobytes of
	// headers on w (Set-Cookie, say: they go out with it, except those
	// the handshake owns): no allocation, no copy.
	var resp []byte
	if brw.Writer.Buffered() == 0 {
		resp = brw.Writer.AvailableBuffer()
	}
	return acceptOn(nc, cfg, res, resp, w.Header(), pending)
}

// upgradeTaken completes an upgrade served by UpgradeServer.Upgrades:
// the connection is taken from uw, without net/http's buffers, and the
// 101 goes out from the head buffer's spare room.
func upgradeTaken(w http.ResponseWriter, uw *upgradeWriter, cfg *Config, res *handshake.ServerResult) (*Conn, error) {
	nc, buf, pending, err := uw.take()
	if err != nil {
		return nil, hijackFailed(w, err)
	}
	var hdr http.Header
	if w != http.ResponseWriter(uw) || uw.hdr != nil {
		hdr = w.Header()
	}
	c, err := acceptOn(nc, cfg, res, buf, hdr, pending)
	uw.release()
	return c, err
}

// The cold paths of upgradeAccepted, kept out of it: its frame sits on
// the HTTP server's goroutine at the deepest point of every handshake
// (inlined, they doubled it, and the goroutine's stack with it).

//go:noinline
func misconfigured(w http.ResponseWriter, err error) error {
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	return err
}

//go:noinline
func hijackFailed(w http.ResponseWriter, err error) error {
	http.Error(w, "websocket: cannot take over the connection", http.StatusInternalServerError)
	return fmt.Errorf("websocket: hijack: %w", err)
}

//go:noinline
func unbuffered(nc net.Conn) *bufio.ReadWriter {
	return bufio.NewReadWriter(bufio.NewReaderSize(nc, 16), bufio.NewWriterSize(nc, 16))
}

//go:noinline
func responseFailed(nc net.Conn, err error) error {
	nc.Close()
	return fmt.Errorf("websocket: write handshake response: %w", err)
}

// Accept is Upgrade, under the name coder/websocket users know.
func Accept(w http.ResponseWriter, r *http.Request, cfg *Config) (*Conn, error) {
	return Upgrade(w, r, cfg)
}

// Handler returns an http.Handler that upgrades each request with cfg and
// hands the connection to serve on a goroutine of its own, closing it when
// serve returns (close code 1000, or 1011 if serve panics; the panic is
// logged to cfg.Logger or slog.Default and does not crash the process).
//
// A refused handshake is logged at Debug level to cfg.Logger, when set,
// with the reason (the origin and host compared, for instance).
//
// The HTTP handler itself returns at once: the connection then costs a
// small fresh goroutine stack instead of net/http's deep one. r's context
// is detached from the HTTP server's cancellation (its values are kept), so
// serve may use it for as long as the connection lives.
func Handler(cfg *Config, serve func(c *Conn, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, cfg)
		if err != nil {
			if cfg != nil && cfg.Logger != nil {
				cfg.Logger.Debug("websocket: handshake refused", "remote", r.RemoteAddr, "err", err)
			}
			return
		}
		r = r.WithContext(context.WithoutCancel(r.Context()))
		if c.overHTTP2() {
			// The stream ends when this handler returns.
			runHandler(cfg, c, r, serve)
			_ = c.CloseNow() // Close returned: nothing may use the stream now
			return
		}
		go runHandler(cfg, c, r, serve)
	})
}

func runHandler(cfg *Config, c *Conn, r *http.Request, serve func(*Conn, *http.Request)) {
	code := CloseInternalServerErr
	defer func() {
		if p := recover(); p != nil {
			logPanic(cfg, "websocket: handler panic", p, c.RemoteAddr().String())
		}
		_ = c.Close(code, "")
	}()
	serve(c, r)
	code = CloseNormalClosure
}

// logPanic logs a recovered handler panic, with its stack, to cfg's
// Logger or slog.Default.
func logPanic(cfg *Config, msg string, p any, remote string) {
	logger := slog.Default()
	if cfg != nil && cfg.Logger != nil {
		logger = cfg.Logger
	}
	logger.Error(msg, "panic", p, "remote", remote, "stack", string(debug.Stack()))
}
