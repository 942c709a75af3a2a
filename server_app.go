// This file owns the ready-made server: WebSocketConfig, New and Server
// (the WebSocket route, the optional admin broadcast route, Shutdown).

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
)

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

	// Relay and RelayOptions connect the hub to the other nodes' hubs
	// (see HubConfig.Relay; nil: this node only). New attaches it; the
	// hub's Stop and Shutdown detach it.
	Relay        Relay
	RelayOptions RelayOptions

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
		Relay:                 cfg.Relay,
		RelayOptions:          cfg.RelayOptions,
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
