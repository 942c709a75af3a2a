package websocket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rfc6455/websocket/handshake"
)

// Server defaults.
const (
	// DefaultServerReadLimit is the largest message a served connection
	// accepts unless ReadLimit says otherwise.
	DefaultServerReadLimit = 1 << 20
	// DefaultPingInterval is how often a served connection that has been
	// silent is pinged; one that stays silent for another interval is
	// closed and removed from the hub.
	DefaultPingInterval = 30 * time.Second
	// DefaultBroadcastMaxBytes bounds the admin broadcast request body.
	DefaultBroadcastMaxBytes = 1 << 20
	// DefaultRoom is the room a connection joins when its request names
	// none.
	DefaultRoom = "default"
)

// Message is one data message read from a served connection.
type Message struct {
	// Room is the connection's first room (the first ?room= of its
	// request, or the default room).
	Room string
	// Opcode is TextMessage or BinaryMessage.
	Opcode MessageType
	// Data is the payload; it is the handler's to keep.
	Data []byte
	// User is the authenticated user, nil when the connection was allowed
	// without a token.
	User *UserInfo
}

// MessageHandler handles a message read from conn. It runs on the
// connection's reading goroutine: the next message is not read until it
// returns, which is the back-pressure a slow handler puts on its client.
// It may write to conn and use the hub (Hub.Send keeps replies in order
// with broadcasts).
type MessageHandler func(conn *Conn, msg Message)

// HubMessageHandler is a MessageHandler that is also given the hub the
// connection is in (ServerConfig.OnHubMessage), so that a handler defined
// before its Server or Hub exists needs no variable to find it.
type HubMessageHandler func(hub *Hub, conn *Conn, msg Message)

// ConnectHook is called by the server layer (ServerConfig.OnConnect) with
// a connection that has joined its rooms, the authenticated user (nil
// without a token) and the hub. It runs on the connection's reading
// goroutine before the first read, so messages wait for it; it may write
// to c and use the hub.
type ConnectHook func(c *Conn, user *UserInfo, hub *Hub)

// DisconnectHook is called by the server layer (ServerConfig.OnDisconnect)
// once a connection's reading ended (err says why: a *CloseError when the
// peer closed, 1006 when it vanished) and it left the hub; c is closed.
// It runs on the connection's reading goroutine.
type DisconnectHook func(c *Conn, user *UserInfo, hub *Hub, err error)

// ServerConfig configures ServeWSWithConfig. Hub is required, and
// TokenAuth unless AllowUnauthenticated is set; the rest has defaults.
type ServerConfig struct {
	// Hub receives the connections.
	Hub *Hub
	// TokenAuth verifies bearer tokens (for where they are taken from, see
	// TokenSubprotocolPrefix). A request whose token fails is refused with
	// 401 even when AllowUnauthenticated is set.
	TokenAuth TokenAuthenticator
	// RoomAuth, when set, authorizes every room of the request, with the
	// RoomPasswordHeader value; a refusal is a 403.
	RoomAuth RoomAuthorizer
	// OnMessage handles each message read. Nil broadcasts it to the
	// connection's first room (the sender included), or drops it when
	// the connection is in no room (NoDefaultRoom).
	OnMessage MessageHandler
	// OnHubMessage is OnMessage given the hub as well; set one of the two
	// (both is a configuration error).
	OnHubMessage HubMessageHandler
	// OnConnect and OnDisconnect, when set, are called for each
	// connection: after it joined, before its first read; after its
	// reading ended and it left the hub (see ConnectHook, DisconnectHook).
	OnConnect    ConnectHook
	OnDisconnect DisconnectHook

	// AllowUnauthenticated accepts requests without a token. Off by
	// default: they get 401.
	AllowUnauthenticated bool
	// AllowQueryToken accepts a token in the query string (?token= or
	// ?access_token=). Off by default: such a request gets 401, since
	// URLs are logged and kept in browser history.
	AllowQueryToken bool

	// QueueSize, SendTimeout and SendBehavior are the send policy of the
	// connections served with this config. With QueueSize zero the hub's
	// policy applies and the other two are ignored; with QueueSize > 0
	// all three apply (SendTimeout zero meaning DefaultSendTimeout).
	QueueSize    int
	SendTimeout  time.Duration
	SendBehavior SendBehavior

	// ReadLimit is the largest message accepted, in bytes (default
	// DefaultServerReadLimit); a larger one closes the connection with
	// 1009.
	ReadLimit int64
	// PingInterval pings silent connections (default DefaultPingInterval;
	// negative turns keepalive off); PongTimeout is how long a pinged
	// connection may stay silent before it is closed (default:
	// PingInterval). See Options.PingInterval.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// CloseTimeout bounds close handshakes (default DefaultCloseTimeout).
	CloseTimeout time.Duration
	// WriteTimeout bounds each write to a connection, as
	// Options.WriteTimeout (default DefaultWriteTimeout; negative: none).
	WriteTimeout time.Duration
	// Compression enables permessage-deflate when non-nil.
	Compression *CompressionOptions

	// Origin policy, as in Config: same-origin unless AllowedOrigins
	// lists more ("*" in it means AllowAllOrigins, as in Plumego);
	// CheckOrigin replaces the policy.
	AllowedOrigins  []string
	AllowAllOrigins bool
	CheckOrigin     func(r *http.Request) bool
	// AllowedHosts, PublicScheme and TrustForwardedProto: as in Config
	// (Host allowlist against DNS rebinding; the scheme behind a proxy
	// that terminates TLS).
	AllowedHosts        []string
	PublicScheme        string
	TrustForwardedProto bool

	// Subprotocols the server speaks, in preference order. Entries that
	// look like tokens (TokenSubprotocolPrefix, TokenSubprotocolMarker)
	// are refused as configuration errors: a token is never the chosen
	// subprotocol. A browser client sending its token in
	// Sec-WebSocket-Protocol must also offer one of these.
	Subprotocols []string

	// RoomNameValidator, when set, checks the requested room names in
	// addition to the hub's own policy (which Hub.TryJoin applies anyway).
	RoomNameValidator RoomNameValidator
	// DefaultRoom is joined when the request names no room (default
	// DefaultRoom), unless NoDefaultRoom is set: such a connection then
	// joins no room (it is a hub member all the same: BroadcastAll and
	// Send reach it, and Hub.TryJoin can put it in rooms).
	DefaultRoom   string
	NoDefaultRoom bool

	// Logger receives refused requests (Debug) and configuration errors
	// (Error). Nil means no logging.
	Logger *slog.Logger
}

// srvResolved is a validated ServerConfig, ready to serve.
type srvResolved struct {
	cfg      ServerConfig
	upgrade  *Config
	hs       *handshake.Policy
	pol      *hubPolicy // nil: the hub's
	validate func(string) error
}

func srvResolve(cfg ServerConfig) (*srvResolved, error) {
	bad := func(format string, args ...any) (*srvResolved, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if cfg.Hub == nil {
		return nil, configErr(ErrNilHub, "Hub is nil")
	}
	if cfg.TokenAuth == nil && !cfg.AllowUnauthenticated {
		return nil, configErr(ErrNilAuthenticator, "TokenAuth is nil and AllowUnauthenticated is off")
	}
	if cfg.QueueSize < 0 {
		return nil, configErr(ErrNegativeQueueSize, "QueueSize is %d", cfg.QueueSize)
	}
	if err := cfg.Compression.check(); err != nil {
		return bad("%v", err)
	}
	if cfg.ReadLimit < 0 {
		return nil, configErr(ErrNegativeReadLimit, "ReadLimit is %d", cfg.ReadLimit)
	}
	if cfg.CloseTimeout < 0 {
		return bad("CloseTimeout is %v", cfg.CloseTimeout)
	}
	if cfg.PongTimeout < 0 {
		return bad("PongTimeout is %v", cfg.PongTimeout)
	}
	if cfg.OnMessage != nil && cfg.OnHubMessage != nil {
		return bad("both OnMessage and OnHubMessage are set")
	}
	for _, p := range cfg.Subprotocols {
		lp := strings.ToLower(p)
		if strings.HasPrefix(lp, TokenSubprotocolPrefix) || lp == TokenSubprotocolMarker {
			return bad("subprotocol %q is reserved for tokens", p)
		}
	}
	rc := &srvResolved{cfg: cfg}
	if cfg.QueueSize > 0 {
		pol, err := hubPolicyFrom(cfg.QueueSize, cfg.SendTimeout, cfg.SendBehavior)
		if err != nil {
			return nil, err
		}
		rc.pol = pol
	}
	rc.validate = cfg.Hub.validRoom
	if v := cfg.RoomNameValidator; v != nil {
		rc.validate = func(room string) error {
			if err := v(room); err != nil {
				if !errors.Is(err, ErrInvalidRoomName) {
					err = fmt.Errorf("%w: %w", ErrInvalidRoomName, err)
				}
				return err
			}
			return cfg.Hub.validRoom(room)
		}
	}
	if rc.cfg.DefaultRoom == "" {
		rc.cfg.DefaultRoom = DefaultRoom
	}
	if err := rc.validate(rc.cfg.DefaultRoom); err != nil && !cfg.NoDefaultRoom {
		return bad("DefaultRoom: %v", err)
	}
	up := DefaultConfig()
	up.ReadLimit = cfg.ReadLimit
	if up.ReadLimit == 0 {
		up.ReadLimit = DefaultServerReadLimit
	}
	up.PingInterval = cfg.PingInterval
	switch {
	case up.PingInterval == 0:
		up.PingInterval = DefaultPingInterval
	case up.PingInterval < 0:
		up.PingInterval = 0
	}
	if cfg.CloseTimeout > 0 {
		up.CloseTimeout = cfg.CloseTimeout
	}
	up.PongTimeout = cfg.PongTimeout
	up.WriteTimeout = cfg.WriteTimeout
	up.Compression = cfg.Compression
	up.Logger = cfg.Logger
	up.Subprotocols = cfg.Subprotocols
	up.AllowAllOrigins = cfg.AllowAllOrigins
	up.CheckOrigin = cfg.CheckOrigin
	up.AllowedHosts = cfg.AllowedHosts
	up.PublicScheme = cfg.PublicScheme
	up.TrustForwardedProto = cfg.TrustForwardedProto
	for _, o := range cfg.AllowedOrigins {
		if o == "*" {
			up.AllowAllOrigins = true
		} else {
			up.AllowedOrigins = append(up.AllowedOrigins, o)
		}
	}
	rc.upgrade = up
	sc := up.serverConfig()
	hs, err := handshake.NewPolicy(&sc)
	if err != nil {
		var re *handshake.RejectError
		errors.As(err, &re)
		return bad("%s", re.Detail)
	}
	rc.hs = hs
	return rc, nil
}

func (rc *srvResolved) logDebug(r *http.Request, msg string, err error) {
	if l := rc.cfg.Logger; l != nil {
		l.Debug("websocket server: "+msg, "remote", r.RemoteAddr, "err", err)
	}
}

// ServeWSWithConfig serves one WebSocket request: it checks the opening
// handshake and the origin, authenticates the token, validates and
// authorizes the requested rooms (?room=a&room=b; DefaultRoom when none)
// and checks the hub's limits, all before upgrading, then upgrades, joins
// the rooms and hands the connection to a reader goroutine of its own,
// which reads messages until the connection ends, handing each to
// cfg.OnMessage (or broadcasting it to the first room), then removes it
// from the hub. ServeWSWithConfig returns once the connection has joined:
// the reader then costs a small fresh goroutine stack rather than the
// net/http handler's deep one (about 11 KiB less per idle connection), and
// it is the only goroutine kept per connection.
//
// Refusals, each before any 101: the handshake's own (400, 403 for the
// origin, 405, 421 for a Host outside AllowedHosts, 426); 401 with
// WWW-Authenticate for a missing or bad token (or a token in the query
// string when not allowed, or tokens in two places); 400 for invalid or
// too many room names, or a token in Sec-WebSocket-Protocol without a
// subprotocol the server speaks; 403 when RoomAuth refuses a room; 429
// when a room is full; 503 when the hub is full or stopped; 500 when cfg
// is invalid (logged).
func ServeWSWithConfig(w http.ResponseWriter, r *http.Request, cfg ServerConfig) {
	rc, err := srvResolve(cfg)
	if err != nil {
		if cfg.Logger != nil {
			cfg.Logger.Error("websocket server: misconfigured", "err", err)
		}
		http.Error(w, "websocket server misconfigured", http.StatusInternalServerError)
		return
	}
	rc.serve(w, r)
}

func (rc *srvResolved) serve(w http.ResponseWriter, r *http.Request) {
	hub := rc.cfg.Hub
	if hub.stopFlag.Load() {
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	// The handshake and origin checks first: a plain HTTP request gets
	// 426, not 401, and a foreign page learns nothing about tokens.
	res, err := rc.hs.Server(r)
	if err != nil {
		switch {
		case errors.Is(err, handshake.ErrBadKey), errors.Is(err, handshake.ErrMissingKey):
			hub.invalidKeys.Add(1)
		case errors.Is(err, handshake.ErrOriginNotAllowed):
			hub.secRejections.Add(1)
		}
		rc.logDebug(r, "handshake refused", err)
		writeReject(w, err)
		return
	}

	ar, err := authFromRequest(r, rc.cfg.AllowQueryToken)
	var user *UserInfo
	if err == nil {
		switch {
		case ar.source != authNone && rc.cfg.TokenAuth == nil:
			err = authInvalid("no authenticator configured")
		case ar.source != authNone:
			var claims map[string]any
			if claims, err = rc.cfg.TokenAuth.AuthenticateToken(ar.token); err == nil {
				user = ExtractUserInfo(claims)
			}
		case !rc.cfg.AllowUnauthenticated:
			err = ErrMissingToken
		}
	}
	if err != nil {
		hub.secRejections.Add(1)
		rc.logDebug(r, "authentication refused", err)
		authReject(w, err)
		return
	}
	if ar.source == authProtocol && !srvSpeaksOneOf(rc.cfg.Subprotocols, ar.protocols) {
		http.Error(w, "a token in Sec-WebSocket-Protocol must come with a subprotocol this server speaks", http.StatusBadRequest)
		return
	}

	q := r.URL.Query()
	if q.Has("room_password") {
		hub.secRejections.Add(1)
		http.Error(w, "room passwords go in the "+RoomPasswordHeader+" header", http.StatusForbidden)
		return
	}
	var rooms []string
	for _, room := range q["room"] {
		if !srvContains(rooms, room) {
			rooms = append(rooms, room)
		}
	}
	if len(rooms) == 0 && !rc.cfg.NoDefaultRoom {
		rooms = []string{rc.cfg.DefaultRoom}
	}
	if hub.maxRooms > 0 && len(rooms) > hub.maxRooms {
		http.Error(w, "too many rooms", http.StatusBadRequest)
		return
	}
	for _, room := range rooms {
		if err := rc.validate(room); err != nil {
			rc.logDebug(r, "room refused", err)
			http.Error(w, "invalid room name", http.StatusBadRequest)
			return
		}
	}
	if ra := rc.cfg.RoomAuth; ra != nil {
		pw := r.Header.Get(RoomPasswordHeader)
		for _, room := range rooms {
			if !srvAuthorizeRoom(ra, r, room, pw, user, ar.source == authQuery) {
				hub.secRejections.Add(1)
				rc.logDebug(r, "room access refused", nil)
				http.Error(w, "Forbidden", http.StatusForbidden)
				return
			}
		}
	}
	hub.mu.RLock()
	err = hub.checkJoinLocked(nil, rooms)
	hub.mu.RUnlock()
	if err != nil {
		srvRefuseJoin(w, err)
		rc.logDebug(r, "join refused", err)
		return
	}
	if user != nil {
		hub.successfulAuths.Add(1)
	}

	// The handshake was decided above, before authentication.
	c, err := upgradeAccepted(w, r, rc.upgrade, res)
	if err != nil {
		rc.logDebug(r, "upgrade failed", err)
		return
	}
	if err := hub.join(c, rooms, user, rc.pol); err != nil {
		// Filled up, or stopped, between the check and now.
		if errors.Is(err, ErrHubStopped) {
			_ = c.Close(CloseGoingAway, "shutting down")
		} else {
			_ = c.Close(CloseTryAgainLater, "hub or room full")
		}
		c.CloseNow()
		return
	}
	if c.overHTTP2() {
		rc.read(c, rooms, user) // the stream ends when this handler returns
		return
	}
	go rc.read(c, rooms, user)
}

// read is a joined connection's reader: it hands each message on until the
// connection ends, then leaves the hub.
func (rc *srvResolved) read(c *Conn, rooms []string, user *UserInfo) {
	hub := rc.cfg.Hub
	var err error
	defer func() {
		hub.RemoveConn(c)
		c.CloseNow()
		if h := rc.cfg.OnDisconnect; h != nil {
			h(c, user, hub, err)
		}
	}()
	room := ""
	if len(rooms) > 0 {
		room = rooms[0]
	}
	if h := rc.cfg.OnConnect; h != nil {
		h(c, user, hub)
	}
	for {
		var mt MessageType
		var data []byte
		mt, data, err = c.ReadMessage()
		if err != nil {
			return
		}
		hub.recordInbound(len(data))
		switch {
		case rc.cfg.OnHubMessage != nil:
			rc.cfg.OnHubMessage(hub, c, Message{Room: room, Opcode: mt, Data: data, User: user})
		case rc.cfg.OnMessage != nil:
			rc.cfg.OnMessage(c, Message{Room: room, Opcode: mt, Data: data, User: user})
		case room != "":
			hub.BroadcastRoom(room, mt, data)
		}
	}
}

// ServeRoomFanoutWS is ServeWSWithConfig with every message broadcast to
// the sender's first room, under its Plumego name. As in Plumego, a
// config with OnMessage set is a configuration error (500).
func ServeRoomFanoutWS(w http.ResponseWriter, r *http.Request, cfg ServerConfig) {
	if cfg.OnMessage != nil || cfg.OnHubMessage != nil {
		if cfg.Logger != nil {
			cfg.Logger.Error("websocket server: misconfigured", "err", "ServeRoomFanoutWS with OnMessage")
		}
		http.Error(w, "websocket server misconfigured", http.StatusInternalServerError)
		return
	}
	ServeWSWithConfig(w, r, cfg)
}

func srvRefuseJoin(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrRoomFull):
		http.Error(w, "room full", http.StatusTooManyRequests)
	case errors.Is(err, ErrTooManyRooms):
		http.Error(w, "too many rooms", http.StatusBadRequest)
	default: // ErrHubFull, ErrHubStopped
		w.Header().Set("Retry-After", "5")
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
	}
}

func srvContains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func srvSpeaksOneOf(server, offered []string) bool {
	for _, p := range offered {
		if srvContains(server, p) {
			return true
		}
	}
	return false
}

// ---- the ready-made server ----

// BroadcastAuthorizer authorizes an admin broadcast request; it replaces
// the BroadcastSecret check when set.
type BroadcastAuthorizer func(r *http.Request) bool

// WebSocketConfig configures New. Zero fields take the values of
// DefaultWebSocketConfig; invalid values make New fail.
type WebSocketConfig struct {
	// WorkerCount and JobQueueSize are accepted for Plumego
	// compatibility and have no effect (see HubConfig.WorkerCount).
	//
	// Deprecated: no effect.
	WorkerCount  int
	JobQueueSize int

	// The hub's send policy and write timeout (see HubConfig).
	SendQueueSize int
	SendTimeout   time.Duration
	WriteTimeout  time.Duration
	SendBehavior  SendBehavior

	// Secret is the HS256 key for the built-in token authenticator (at
	// least MinSecretLength bytes; copied). Ignored when TokenAuth is set.
	Secret []byte
	// TokenAuth replaces the HS256 authenticator.
	TokenAuth TokenAuthenticator
	// RoomAuth authorizes rooms at join time (nil: every room is open).
	RoomAuth RoomAuthorizer

	// WSRoutePath is where WebSocket requests are served (default "/ws").
	WSRoutePath string
	// BroadcastPath is the admin broadcast endpoint (default
	// "/_admin/broadcast"), served only when BroadcastEnabled. It takes
	// POST requests with "Authorization: Bearer <BroadcastSecret>" and the
	// message as body (at most BroadcastMaxBytes, default
	// DefaultBroadcastMaxBytes; text, so UTF-8, unless ?type=binary), to
	// ?room= or to every member, and answers 200 with the
	// BroadcastResult as JSON.
	BroadcastPath    string
	BroadcastEnabled bool
	// BroadcastSecret authenticates the broadcast endpoint: at least
	// MinSecretLength bytes and different from Secret, compared in
	// constant time. Not needed when BroadcastAuthorizer is set.
	BroadcastSecret     []byte
	BroadcastAuthorizer BroadcastAuthorizer
	BroadcastMaxBytes   int64

	// Origin policy (see ServerConfig).
	AllowedOrigins  []string
	AllowAllOrigins bool
	// Host allowlist and public scheme (see Config).
	AllowedHosts        []string
	PublicScheme        string
	TrustForwardedProto bool

	// AllowUnauthenticated and AllowQueryToken, see ServerConfig. Both
	// off by default.
	AllowUnauthenticated bool
	AllowQueryToken      bool

	// RoomNameValidator replaces ValidateRoomName.
	RoomNameValidator RoomNameValidator
	// Hub limits (see HubConfig; zero means the default, NoLimit none).
	MaxConnections        int
	MaxRoomConnections    int
	MaxRoomsPerConnection int
	MaxRoomRegistrations  int

	// OnMessage, OnHubMessage, OnConnect, OnDisconnect, Subprotocols,
	// DefaultRoom, NoDefaultRoom, ReadLimit, PingInterval, PongTimeout,
	// CloseTimeout and Compression: see ServerConfig. WriteTimeout (above)
	// bounds the connections' writes as well as the hub's.
	OnMessage     MessageHandler
	OnHubMessage  HubMessageHandler
	OnConnect     ConnectHook
	OnDisconnect  DisconnectHook
	Subprotocols  []string
	DefaultRoom   string
	NoDefaultRoom bool
	ReadLimit     int64
	PingInterval  time.Duration
	PongTimeout   time.Duration
	CloseTimeout  time.Duration
	Compression   *CompressionOptions

	// Logger receives hub and server events. Nil means no logging.
	Logger *slog.Logger
}

// DefaultWebSocketConfig returns the defaults: the hub defaults (queue of
// DefaultSendQueueSize, SendBlock with DefaultSendTimeout,
// DefaultWriteTimeout, DefaultMaxConnections members in at most
// DefaultMaxRoomsPerConnection rooms each), routes "/ws" and
// "/_admin/broadcast" (disabled), DefaultBroadcastMaxBytes,
// DefaultServerReadLimit, DefaultPingInterval, DefaultRoom; tokens
// required, not in the query string; same-origin only. Secret is left for
// you to set.
func DefaultWebSocketConfig() WebSocketConfig {
	return WebSocketConfig{
		SendQueueSize:         DefaultSendQueueSize,
		SendTimeout:           DefaultSendTimeout,
		WriteTimeout:          DefaultWriteTimeout,
		SendBehavior:          SendBlock,
		WSRoutePath:           "/ws",
		BroadcastPath:         "/_admin/broadcast",
		BroadcastMaxBytes:     DefaultBroadcastMaxBytes,
		MaxConnections:        DefaultMaxConnections,
		MaxRoomsPerConnection: DefaultMaxRoomsPerConnection,
		DefaultRoom:           DefaultRoom,
		ReadLimit:             DefaultServerReadLimit,
		PingInterval:          DefaultPingInterval,
	}
}

// Server is a ready-made WebSocket server: a Hub, the WebSocket route
// (authentication, rooms, fan-out) and the optional admin broadcast
// route. Mount it with Handler, RegisterRoutes, or as an http.Handler
// itself. Its methods are safe for concurrent use.
type Server struct {
	cfg  WebSocketConfig
	hub  *Hub
	ws   *srvResolved
	mux  *http.ServeMux
	bcOn bool
}

// New validates cfg and returns a Server, or an error matching
// ErrInvalidConfig (or ErrWeakJWTSecret) that says what is wrong:
// no Secret of at least MinSecretLength bytes and no TokenAuth while
// AllowUnauthenticated is off; BroadcastEnabled without a BroadcastSecret
// of at least MinSecretLength bytes different from Secret (or a
// BroadcastAuthorizer); route paths not starting with "/" or equal;
// negative sizes or timeouts; hub limits out of range.
func New(cfg WebSocketConfig) (*Server, error) {
	d := DefaultWebSocketConfig()
	if cfg.SendQueueSize == 0 {
		cfg.SendQueueSize = d.SendQueueSize
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = d.SendTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = d.WriteTimeout
	}
	if strings.TrimSpace(cfg.WSRoutePath) == "" {
		cfg.WSRoutePath = d.WSRoutePath
	}
	if strings.TrimSpace(cfg.BroadcastPath) == "" {
		cfg.BroadcastPath = d.BroadcastPath
	}
	if cfg.BroadcastMaxBytes == 0 {
		cfg.BroadcastMaxBytes = d.BroadcastMaxBytes
	}
	bad := func(format string, args ...any) (*Server, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if cfg.BroadcastMaxBytes < 0 {
		return bad("BroadcastMaxBytes is %d", cfg.BroadcastMaxBytes)
	}
	if !strings.HasPrefix(cfg.WSRoutePath, "/") || !strings.HasPrefix(cfg.BroadcastPath, "/") {
		return bad("route paths must start with /")
	}
	tokenAuth := cfg.TokenAuth
	if tokenAuth == nil && (len(cfg.Secret) > 0 || !cfg.AllowUnauthenticated) {
		a, err := NewSimpleHS256TokenAuth(cfg.Secret)
		if err != nil {
			return nil, fmt.Errorf("%w: Secret: %w (or set TokenAuth, or AllowUnauthenticated)", ErrInvalidConfig, err)
		}
		tokenAuth = a
	}
	if cfg.BroadcastEnabled {
		if cfg.WSRoutePath == cfg.BroadcastPath {
			return bad("WSRoutePath and BroadcastPath are both %q", cfg.WSRoutePath)
		}
		if cfg.BroadcastAuthorizer == nil {
			if len(cfg.BroadcastSecret) < MinSecretLength {
				return bad("BroadcastSecret must be at least %d bytes (or set BroadcastAuthorizer)", MinSecretLength)
			}
			if len(cfg.Secret) > 0 && authSecretEqual(cfg.BroadcastSecret, cfg.Secret) {
				return bad("BroadcastSecret must differ from Secret")
			}
		}
	}
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	cfg.BroadcastSecret = append([]byte(nil), cfg.BroadcastSecret...)

	hub, err := NewHubWithConfig(HubConfig{
		WorkerCount:           cfg.WorkerCount,
		JobQueueSize:          cfg.JobQueueSize,
		SendQueueSize:         cfg.SendQueueSize,
		SendTimeout:           cfg.SendTimeout,
		SendBehavior:          cfg.SendBehavior,
		WriteTimeout:          cfg.WriteTimeout,
		MaxConnections:        cfg.MaxConnections,
		MaxRoomConnections:    cfg.MaxRoomConnections,
		MaxRoomsPerConnection: cfg.MaxRoomsPerConnection,
		MaxRoomRegistrations:  cfg.MaxRoomRegistrations,
		RoomNameValidator:     cfg.RoomNameValidator,
		Logger:                cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	ws, err := srvResolve(ServerConfig{
		Hub:                  hub,
		TokenAuth:            tokenAuth,
		RoomAuth:             cfg.RoomAuth,
		OnMessage:            cfg.OnMessage,
		OnHubMessage:         cfg.OnHubMessage,
		OnConnect:            cfg.OnConnect,
		OnDisconnect:         cfg.OnDisconnect,
		AllowUnauthenticated: cfg.AllowUnauthenticated,
		AllowQueryToken:      cfg.AllowQueryToken,
		ReadLimit:            cfg.ReadLimit,
		PingInterval:         cfg.PingInterval,
		PongTimeout:          cfg.PongTimeout,
		CloseTimeout:         cfg.CloseTimeout,
		WriteTimeout:         cfg.WriteTimeout,
		Compression:          cfg.Compression,
		AllowedOrigins:       cfg.AllowedOrigins,
		AllowAllOrigins:      cfg.AllowAllOrigins,
		AllowedHosts:         cfg.AllowedHosts,
		PublicScheme:         cfg.PublicScheme,
		TrustForwardedProto:  cfg.TrustForwardedProto,
		Subprotocols:         cfg.Subprotocols,
		DefaultRoom:          cfg.DefaultRoom,
		NoDefaultRoom:        cfg.NoDefaultRoom,
		Logger:               cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, hub: hub, ws: ws, bcOn: cfg.BroadcastEnabled}
	s.mux = http.NewServeMux()
	if err := s.RegisterRoutes(s.mux); err != nil {
		return nil, err
	}
	return s, nil
}

// Hub returns the server's hub, for broadcasts and metrics of your own.
func (s *Server) Hub() *Hub { return s.hub }

// RouteRegistrar is what RegisterRoutes mounts routes on; *http.ServeMux
// is one.
type RouteRegistrar interface {
	Handle(pattern string, handler http.Handler)
}

// RegisterRoutes mounts the WebSocket route, and the broadcast route when
// enabled, on r (plain path patterns; the handlers check the method).
func (s *Server) RegisterRoutes(r RouteRegistrar) error {
	if r == nil {
		return fmt.Errorf("%w: nil RouteRegistrar", ErrInvalidConfig)
	}
	r.Handle(s.cfg.WSRoutePath, http.HandlerFunc(s.ws.serve))
	if s.bcOn {
		r.Handle(s.cfg.BroadcastPath, http.HandlerFunc(s.serveBroadcast))
	}
	return nil
}

// Handler returns an http.Handler serving the server's routes (404 for
// other paths).
func (s *Server) Handler() http.Handler { return s.mux }

// ServeHTTP serves the server's routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Shutdown shuts the hub down (see Hub.Shutdown): every connection gets
// 1001 and a close handshake bounded by ctx; later WebSocket requests get
// 503. Shut the http.Server down too (before or after) to stop accepting.
func (s *Server) Shutdown(ctx context.Context) error { return s.hub.Shutdown(ctx) }

func (s *Server) authorizeBroadcast(r *http.Request) bool {
	if s.cfg.BroadcastAuthorizer != nil {
		return s.cfg.BroadcastAuthorizer(r)
	}
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return false
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return authSecretEqual([]byte(strings.TrimSpace(tok)), s.cfg.BroadcastSecret)
}

func (s *Server) serveBroadcast(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.authorizeBroadcast(r) {
		s.hub.secRejections.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer realm="broadcast"`)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.BroadcastMaxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read request body", http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	mt := TextMessage
	switch q.Get("type") {
	case "", "text":
		if !utf8.Valid(body) {
			http.Error(w, "text message must be UTF-8 (or use ?type=binary)", http.StatusBadRequest)
			return
		}
	case "binary":
		mt = BinaryMessage
	default:
		http.Error(w, "type must be text or binary", http.StatusBadRequest)
		return
	}
	var res BroadcastResult
	if room := q.Get("room"); room != "" {
		if err := s.ws.validate(room); err != nil {
			http.Error(w, "invalid room name", http.StatusBadRequest)
			return
		}
		res = s.hub.BroadcastRoom(room, mt, body)
	} else {
		res = s.hub.BroadcastAll(mt, body)
	}
	status := http.StatusOK
	if res.Stopped || res.Rejected() {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}
