// Package websocket implements the WebSocket protocol (RFC 6455) with the
// permessage-deflate extension (RFC 7692), for servers and clients, using
// only the standard library and golang.org/x/net.
//
// # Overview
//
// A server upgrades an HTTP/1.1 request with Upgrade (or Accept, or the
// Handler helper); a client connects with Dial. Both give a *Conn, which
// reads and writes messages:
//
//	c, err := websocket.Upgrade(w, r, nil) // nil: DefaultConfig()
//	if err != nil {
//		return // the request was already answered with its HTTP status
//	}
//	defer c.Close(websocket.CloseNormalClosure, "")
//	for {
//		mt, msg, err := c.ReadMessage()
//		if err != nil {
//			return
//		}
//		c.WriteMessage(mt, msg)
//	}
//
// Serve it from an http.Server with a ReadHeaderTimeout (NewHTTPServer
// makes one): a bare http.ListenAndServe lets clients that send a byte a
// second hold connections forever. A port that mostly serves WebSockets
// can use an UpgradeServer instead: it answers upgrades on the listener
// itself, without the buffers an http.Server leaves behind per hijacked
// connection (half the CPU per handshake when thousands arrive at once),
// and hands other requests to an http.Handler. Its Upgrades field takes
// the handlers you already have (Handler, your own calling Upgrade,
// ServeWSWithConfig, a Server from New) in place of its Handler.
//
// An idle connection holds its Conn (608 bytes), the socket, and the
// goroutine parked in ReadMessage with the runtime's smallest stack, 2
// KiB, as long as the frames above ReadMessage stay small (a few hundred
// bytes; a per-connection function with large local arrays, or one
// function holding every endpoint's locals, costs every idle connection
// a 4 KiB stack instead). No read buffer is held while waiting on Unix.
//
// ReadMessage and WriteMessage handle whole messages. NextReader and
// NextWriter stream one message as an io.Reader / io.WriteCloser, so that a
// large message need not be held in memory. NetConn adapts a Conn to a
// net.Conn byte stream. PreparedMessage encodes a message once for writing
// to many connections. The frame and handshake sub-packages expose the
// codec and the opening handshake for those who build their own transport.
//
// # Reading the code
//
// A contributor finds the package in this order: conn.go (the Conn type,
// its state grouped by owner), read.go and readbuf.go (frames in:
// buffering, fragments, UTF-8, limits, control frames), write.go (the
// message slot, the frame lock, coalescing) and writebound.go (the bound
// on every write), close.go (failing, the close handshake, lingering),
// keepalive.go, transport.go (what Conn needs from the connection beneath
// it), then stream.go and compress.go; websocket.go, upgradeserver.go and dial.go
// open connections; hub*.go, auth.go and server*.go build the ready-made
// server on top. CONTRIBUTING.md has the layers, which goroutine owns
// what, and how to run each kind of test.
//
// # Concurrency
//
// All write methods may be called from any number of goroutines: data
// messages go out whole, one after another (a NextWriter holds the message
// slot until its Close), and control frames (pongs, pings, the close frame)
// may go out between the fragments of a long message. Reading is for one
// goroutine at a time; a read that starts while another is in progress
// returns ErrConcurrentRead and does no harm. Close may be called from any
// goroutine.
//
// Pings are answered, pongs are passed to the pong handler, and a close
// frame is answered and ends the connection, all inside the read path: an
// application that expects control frames must keep a goroutine reading.
//
// # Errors
//
// Once the peer has closed, reads return a *CloseError with the peer's code
// and reason (errors.As, or CloseStatus). When the peer breaks the protocol
// the connection is failed with the right close code and the read returns
// an error that matches ErrProtocol (1002), ErrInvalidUTF8 (1007) or
// ErrMessageTooBig (1009) with errors.Is, wraps the detailed cause (often a
// frame package error such as frame.ErrReservedOpcode), and carries the
// *CloseError that was sent. Read errors are sticky.
//
// # Origin considerations
//
// Browsers send cookies with WebSocket handshakes to any site, so a server
// that relies on cookies must refuse handshakes from other sites' pages.
// By default Upgrade accepts a request with an Origin header only when the
// origin is the same as the request's: the same scheme (an http:// page
// for a request over plain HTTP, https:// over TLS), and the same host and
// port as the Host header (default ports filled in). Requests without
// Origin, from non-browser clients, pass. Config.AllowedOrigins lists other
// origins (patterns like "https://*.example.com"); Config.CheckOrigin
// replaces the policy; Config.AllowAllOrigins turns it off. A refused
// origin gets 403, and the error Upgrade returns names the Origin, the
// Host and the scheme it was compared with (the response body does not).
//
// When TLS is terminated in front of the server (a reverse proxy or load
// balancer forwarding plain HTTP), set Config.PublicScheme to "https", or
// Config.TrustForwardedProto if the proxy sets X-Forwarded-Proto; the
// proxy must pass the original Host through.
//
// The same-origin check trusts Host, and so does not stop DNS rebinding:
// a page on evil.example whose DNS name is then made to resolve to your
// server's address (127.0.0.1, or an intranet address the victim's
// browser can reach) sends Origin http://evil.example:8080 and Host
// evil.example:8080, which are same-origin. A server on a loopback or
// private address, and any server that does not authenticate each
// connection with something other than cookies, should list the names it
// is reached by in Config.AllowedHosts ("localhost:8080",
// "127.0.0.1:8080", "[::1]:8080"); other Hosts are refused with 421
// Misdirected Request before the origin is looked at.
//
// # Limits and memory
//
// Every message is bounded by the read limit (Options.ReadLimit, 32 MiB by
// default), checked against the frame's length field before anything is
// allocated, and against the inflated size while decompressing. Memory
// follows the bytes that arrived, never a length the peer declared:
// ReadMessage grows its buffer as payload comes in. An idle TCP
// connection on Unix holds no read or write buffer: it waits for input
// through syscall.RawConn and takes a pooled buffer only when bytes arrive
// (on Windows and js/wasm it keeps one 4 KiB read buffer).
//
// Every call that can block has a bound. Writes: Options.WriteTimeout
// (default 10 s) bounds each transport write, and control frames, the
// close frame and the wait for a frame in flight are always bounded; a
// bound that passes fails the connection (ErrWriteTimeout), which also
// frees any other call waiting on it. Keepalive (Options.PingInterval)
// fails a peer that sends nothing within PingInterval + PongTimeout of its
// last byte (ErrKeepaliveTimeout), without needing the write side, so a
// writer stuck on that peer returns too. Write and the message slot wait
// end when the connection closes (ErrClosed) or the context ends. Close
// waits at most the close timeout; after a protocol failure the reader
// returns the cause at once while the wait for the peer's close runs in
// the background. Dial bounds the handshake by its context and reads at
// most MaxResponseHeadBytes of response head.
//
// # Write coalescing
//
// While the reader already has more input buffered, small frames written
// in reply wait (at most 500 µs, at most 16 KiB) and go out together in one
// write, at the latest when the reader is about to block. Pipelined
// request/response traffic then costs one write system call per batch
// instead of one per message.
//
// # Compression
//
// Set Options.Compression to negotiate permessage-deflate. Messages at
// least CompressionOptions.Threshold long are compressed, by the library's
// own DEFLATE encoder: its LZ77 window is exactly the negotiated
// *_max_window_bits (8 to 15), so small windows still get back-references,
// and context takeover costs a window allocated once per connection
// instead of a megabyte-sized compress/flate writer. Context takeover
// (CompressionOptions.ContextTakeover) is off by default.
//
// Memory held per connection between messages, by setting (compressor plus
// decompressor; measured by internal/deflate's TestEncoderMemory and
// TestDecoderMemory):
//
//	compression off                                   0
//	on, no context takeover either way                about 200 B (both pooled)
//	on, default (peer keeps its context, we do not)   up to 32 KiB (the peer's window, 15 bits)
//	on, ContextTakeover, 15-bit windows               56 KiB + up to 32 KiB
//	  the same at Level 2 to 9 (hash chains)          120 KiB + up to 32 KiB
//	on, ContextTakeover, 10-bit windows               7.4 KiB + up to 1.1 KiB
//
// Set RequestNoContextTakeover to ask the peer not to keep its context,
// which drops the decompressor's share to nothing.
//
// # WebSockets over HTTP/2
//
// Upgrade, Accept, Handler and New also accept RFC 8441 requests: an
// HTTP/2 extended CONNECT with :protocol websocket, which browsers send
// instead of opening a new connection when the page's HTTP/2 connection
// advertised SETTINGS_ENABLE_CONNECT_PROTOCOL (headless Chromium does;
// see interop/browser_h2_test.go). net/http's HTTP/2 server advertises
// it only when the process starts with GODEBUG=http2xconnect=1 in its
// environment (Go 1.26; golang.org/x/net/http2's server reads the same
// setting). Without it browsers open WebSockets over HTTP/1.1 as
// before, and an extended CONNECT is refused by net/http itself.
//
// The request is checked like an HTTP/1.1 upgrade (Sec-WebSocket-Version,
// Host, origin policy, subprotocols, permessage-deflate; no
// Sec-WebSocket-Key), answered with 200, and the Conn runs over the
// stream: everything it does is the same, closing it ends the stream and
// not the TCP connection, and several WebSockets share one connection.
// The stream lives as long as the HTTP handler that accepted it: Handler
// and New keep theirs running until the Conn is closed; after Upgrade,
// the handler must not return before the Conn is closed (Close, CloseNow
// or Done), since net/http then ends the stream.
//
// Flow control is per stream and per connection: net/http's server
// gives a stream by default the same receive window as the whole
// connection (1 MiB), so one WebSocket whose application stops reading
// can take the connection's window and stall the others. Give the
// connection more than its streams, e.g. http.Server.HTTP2 =
// &http.HTTP2Config{MaxReceiveBufferPerStream: 256 << 10,
// MaxReceiveBufferPerConnection: 64 << 20}.
//
// Dial opens a WebSocket over HTTP/2 when DialOptions.HTTP2 is set, to a
// RoundTripper that sends the :protocol pseudo-header:
// golang.org/x/net/http2's Transport does (net/http's Transport refuses it
// as of Go 1.26); give it AllowHTTP and a plain DialTLSContext for ws://
// (prior-knowledge h2c). WebSockets dialled through one such Transport
// share its connections. When no HTTP/2 connection can be made or the
// server did not advertise extended CONNECT, Dial falls back to HTTP/1.1
// with its other options; a server that answers the CONNECT with an
// error status fails the dial as usual. Over HTTP/2 the client's read and
// write deadlines are enforced by the Conn's transport: one that passes
// during a read or write resets the stream.
//
// # JSON
//
// Conn.ReadJSON and Conn.WriteJSON carry one JSON value per message
// (encoding/json), streaming through NextReader and NextWriter;
// ReadJSONContext and WriteJSONContext bound them with a context, like
// Read and Write. Hub.BroadcastRoomJSON and Hub.BroadcastAllJSON encode a
// value once for every member.
//
// # Rooms across servers
//
// A Hub with a Relay (HubConfig.Relay) shares its rooms with the hubs of
// other processes through a broker: each broadcast is published once, and
// every node delivers what the others published to its own members, in
// each publisher's order, at most once, with every loss counted
// (HubMetrics.Relay). The NATS and Redis adapters are separate modules
// (github.com/rfc6455/websocket/adapters/nats, .../adapters/redis); see
// Relay.
//
// # WebAssembly
//
// Under GOOS=js GOARCH=wasm (Go in a browser), Dial opens the browser's own
// WebSocket object through syscall/js, and the *Conn it returns has the
// same API: ReadMessage, WriteMessage, Read and Write with a context,
// NextReader, NextWriter (the message is sent when its writer is closed:
// the browser sends whole messages), Close with code and reason,
// Subprotocol. The browser does the handshake and decides what is not the
// page's to choose, so these fail with ErrNotSupportedInBrowser rather
// than being ignored: DialOptions.Header, Jar, TLSConfig, NetDialContext,
// Proxy and HTTP2, Options.Compression (the browser offers
// permessage-deflate itself and compresses transparently; Compressed
// reports false, Sec-WebSocket-Extensions in Dial's response says what the
// browser negotiated) and PingInterval, and Ping and WriteControl with a
// ping or pong (the browser answers the server's pings itself and sends
// none of the page's). A page may close only with 1000 or 3000-4999: Close
// with another code closes without one (the server sees 1005). Writes do
// not block on the network: ws.send queues in the browser, and a write
// waits, within its deadline, while more than 1 MiB is queued unsent.
//
// # Plumego compatibility
//
// This package is modelled on the x/websocket package of Plumego
// (github.com/spcent/plumego), a Go web framework; a Plumego service
// moves here by changing its import path and the few calls README.md's
// migration table lists. The names kept for it live in plumego.go and
// plumego_errors.go, apart from the primary API:
//
//   - pure aliases, marked Deprecated and naming the primary name:
//     OpcodeText, OpcodeBinary, RoomAuthenticator, TryBroadcastRoom,
//     TryBroadcastAll, SimpleRoomAuth.CheckRoomPassword,
//     SimpleHS256TokenAuth.VerifyJWT, NewHubWithConfigE, CloseInvalidPayload,
//     CloseServerError, and the error names of Plumego that are the
//     primary errors (ErrProtocolError is ErrProtocol, ErrUnmaskedFrame is
//     frame.ErrUnmaskedFrame, ErrQueueFull is ErrSendQueueFull...);
//   - error sentinels the same failure here also matches with errors.Is:
//     ErrConnClosed (ErrClosed and ErrCloseSent), and the configuration
//     errors (ErrNegativeQueueSize, ErrNilHub...) returned together with
//     ErrInvalidConfig;
//   - Conn helpers built on the primary methods: ReadMessageReader
//     (NextReader), WriteMessageContext (Write), WriteText, WriteBinary,
//     WriteClose (Close), IsClosed (Done), SetPingPeriod, SetPongWait and
//     GetLastPong (keepalive), SetWriteTimeout (Options.WriteTimeout),
//     SetMetadata and its siblings;
//   - Plumego's auth and validation helpers: SecureRoomAuth,
//     SecurityConfig, ValidateSecurityConfig, ValidateRoomPassword,
//     GenerateSecureSecret, ValidateWebSocketKey, RoomRequestAuthorizer
//     (through RoomRequestAuth), ValidateTextMessage, SanitizeForLogging,
//     and Server.Health;
//   - arguments and fields accepted for Plumego and ignored, documented
//     where they are: NewHub's worker-pool sizes, HubConfig and
//     WebSocketConfig's WorkerCount and JobQueueSize.
//
// Hub's Get* accessors (GetRoomCount, GetRooms...) and TryJoin (Join is
// the same call) keep Plumego's names as their primary names. Where Plumego's behaviour is unsafe
// or departs from RFC 6455, the name is kept and the safe thing is done;
// each such doc comment says how it differs.
package websocket
