// This file owns the configuration of the ready-made server layer:
// ServerConfig (one WebSocket route: auth, rooms, hub, hooks) and its
// validation. Serving a request is in server_serve.go; New and Server in
// server_app.go. The layer is thin: Upgrade, the Hub and auth do the work.

package websocket

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

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
