package websocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfc6455/websocket/frame"
	"github.com/rfc6455/websocket/handshake"
)

// plRaw returns a Conn of role over loopback TCP and the raw peer.
func plRaw(t *testing.T, role Role) (*Conn, net.Conn) {
	t.Helper()
	return plRawOpts(t, role, &Options{CloseTimeout: 200 * time.Millisecond, ReadLimit: 1000}, true)
}

// frameBytes encodes one frame, masked when mask is set.
func frameBytes(fin bool, op frame.Opcode, mask bool, p []byte) []byte {
	h := frame.Header{Fin: fin, Opcode: op, Length: int64(len(p)), Masked: mask, Key: [4]byte{1, 2, 3, 4}}
	b := frame.AppendHeader(nil, h)
	start := len(b)
	b = append(b, p...)
	if mask {
		frame.Mask(h.Key, 0, b[start:])
	}
	return b
}

// The Plumego names of protocol errors match what a read returns for the
// same violation.
func TestPlumegoProtocolErrorsMatch(t *testing.T) {
	closePayload := func(code uint16) []byte { return []byte{byte(code >> 8), byte(code)} }
	for _, tc := range []struct {
		name  string
		role  Role
		wire  []byte
		wants []error
	}{
		{"unmasked", RoleServer, frameBytes(true, frame.OpText, false, []byte("a")), []error{ErrProtocolError, ErrUnmaskedFrame}},
		{"masked to client", RoleClient, frameBytes(true, frame.OpText, true, []byte("a")), []error{ErrProtocolError, ErrUnexpectedMaskedFrame}},
		{"fragmented ping", RoleServer, frameBytes(false, frame.OpPing, true, nil), []error{ErrProtocolError, ErrFragmentedControl}},
		{"long ping", RoleServer, frameBytes(true, frame.OpPing, true, make([]byte, 126)), []error{ErrProtocolError, ErrControlTooLarge}},
		{"reserved opcode", RoleServer, frameBytes(true, 0x3, true, nil), []error{ErrProtocolError, ErrInvalidOpcode}},
		{"close 1005 on the wire", RoleServer, frameBytes(true, frame.OpClose, true, closePayload(1005)), []error{ErrProtocolError, ErrInvalidCloseCode}},
		{"too big", RoleServer, frameBytes(true, frame.OpBinary, true, make([]byte, 1001)), []error{ErrPayloadTooLarge, ErrMessageTooBig}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, peer := plRaw(t, tc.role)
			if _, err := peer.Write(tc.wire); err != nil {
				t.Fatal(err)
			}
			_, _, err := c.ReadMessage()
			for _, want := range tc.wants {
				if !errors.Is(err, want) {
					t.Errorf("errors.Is(%v, %v) = false", err, want)
				}
			}
		})
	}
}

func TestPlumegoConnClosedMatches(t *testing.T) {
	cli, srv := plPair(t, nil, nil)
	go func() { _, _, _ = cli.ReadMessage() }() // answers the close
	_ = srv.Close(CloseNormalClosure, "")
	err := srv.WriteText("late")
	if !errors.Is(err, ErrConnClosed) || !errors.Is(err, ErrCloseSent) {
		t.Fatalf("write after Close = %v, want ErrConnClosed and ErrCloseSent", err)
	}
	if !srv.IsClosed() {
		t.Fatal("IsClosed false after Close returned")
	}
	cli2, srv2 := plPair(t, nil, nil)
	srv2.CloseNow()
	err = srv2.WriteBinary([]byte("late"))
	if !errors.Is(err, ErrConnClosed) || !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after CloseNow = %v, want ErrConnClosed, ErrClosed, net.ErrClosed", err)
	}
	if cli2.IsClosed() {
		t.Fatal("the peer reads as closed before it has read anything")
	}
	if ErrClosed.Error() != "websocket: connection closed: use of closed network connection" {
		t.Fatalf("ErrClosed reads %q", ErrClosed)
	}
}

// The configuration errors match Plumego's sentinels and ErrInvalidConfig.
func TestPlumegoConfigErrorsMatch(t *testing.T) {
	hub := func(cfg HubConfig) error {
		h, err := NewHubWithConfig(cfg)
		if h != nil {
			h.Stop()
		}
		return err
	}
	srvCfg := func(cfg ServerConfig) error { _, err := srvResolve(cfg); return err }
	okHub := NewHub(0, 0)
	defer okHub.Stop()
	secret := []byte("0123456789abcdef0123456789abcdef")
	newSrv := func(cfg WebSocketConfig) error {
		cfg.Secret = secret
		_, err := New(cfg)
		return err
	}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"WorkerCount", hub(HubConfig{WorkerCount: -1}), ErrNegativeWorkerCount},
		{"JobQueueSize", hub(HubConfig{JobQueueSize: -1}), ErrNegativeJobQueue},
		{"SendQueueSize", hub(HubConfig{SendQueueSize: -1}), ErrNegativeQueueSize},
		{"SendTimeout", hub(HubConfig{SendTimeout: -1}), ErrNegativeSendTimeout},
		{"SendBehavior", hub(HubConfig{SendBehavior: 7}), ErrInvalidSendBehavior},
		{"WriteTimeout", hub(HubConfig{WriteTimeout: -1}), ErrInvalidWriteTimeout},
		{"MaxConnections", hub(HubConfig{MaxConnections: -2}), ErrNegativeLimit},
		{"MaxRoomConnections", hub(HubConfig{MaxRoomConnections: -2}), ErrNegativeLimit},
		{"nil Hub", srvCfg(ServerConfig{AllowUnauthenticated: true}), ErrNilHub},
		{"nil TokenAuth", srvCfg(ServerConfig{Hub: okHub}), ErrNilAuthenticator},
		{"QueueSize", srvCfg(ServerConfig{Hub: okHub, AllowUnauthenticated: true, QueueSize: -1}), ErrNegativeQueueSize},
		{"ReadLimit", srvCfg(ServerConfig{Hub: okHub, AllowUnauthenticated: true, ReadLimit: -1}), ErrNegativeReadLimit},
		{"ReadLimit invalid", srvCfg(ServerConfig{Hub: okHub, AllowUnauthenticated: true, ReadLimit: -1}), ErrInvalidReadLimit},
		{"New WorkerCount", newSrv(WebSocketConfig{WorkerCount: -1}), ErrNegativeWorkerCount},
		{"New SendQueueSize", newSrv(WebSocketConfig{SendQueueSize: -1}), ErrNegativeQueueSize},
		{"New WriteTimeout", newSrv(WebSocketConfig{WriteTimeout: -1}), ErrInvalidWriteTimeout},
		{"New ReadLimit", newSrv(WebSocketConfig{ReadLimit: -1}), ErrNegativeReadLimit},
		{"New MaxConnections", newSrv(WebSocketConfig{MaxConnections: -5}), ErrNegativeLimit},
	} {
		if !errors.Is(tc.err, tc.want) || !errors.Is(tc.err, ErrInvalidConfig) {
			t.Errorf("%s: %v does not match %v and ErrInvalidConfig", tc.name, tc.err, tc.want)
		}
	}
	err := hub(HubConfig{WorkerCount: -1})
	if got, want := err.Error(), "websocket: invalid configuration: WorkerCount is -1"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

func TestPlumegoAliases(t *testing.T) {
	for _, tc := range []struct{ a, b error }{
		{ErrProtocolError, ErrProtocol},
		{ErrPayloadTooLarge, ErrMessageTooBig},
		{ErrQueueFull, ErrSendQueueFull},
		{ErrQueueFullClosed, ErrSlowConsumer},
		{ErrInvalidWebSocketKey, handshake.ErrBadKey},
		{ErrControlTooLarge, frame.ErrControlTooLong},
		{ErrFragmentedControl, frame.ErrControlFragmented},
		{ErrInvalidCloseCode, frame.ErrInvalidCloseCode},
		{ErrCloseReasonTooLong, frame.ErrCloseReasonTooLong},
	} {
		if tc.a != tc.b {
			t.Errorf("%v is not %v", tc.a, tc.b)
		}
	}
	if CloseInvalidPayload != 1007 || CloseServerError != 1011 {
		t.Errorf("close codes %d %d", CloseInvalidPayload, CloseServerError)
	}
}

func TestValidateTextMessage(t *testing.T) {
	def := DefaultMessageValidationConfig()
	if def.MaxLength != 1<<20 || def.AllowEmpty || !def.RejectControlCharacters || !def.RequireValidUTF8 || !def.AllowedNewlines || !def.AllowedTabs {
		t.Fatalf("defaults %+v", def)
	}
	strict := def
	strict.AllowedNewlines, strict.AllowedTabs = false, false
	loose := MessageValidationConfig{AllowEmpty: true}
	for _, tc := range []struct {
		data string
		cfg  MessageValidationConfig
		want error
	}{
		{"hello", def, nil},
		{"line\r\nnext\ttab", def, nil},
		{"", def, ErrEmptyMessage},
		{strings.Repeat("a", 1<<20), def, nil},
		{strings.Repeat("a", 1<<20+1), def, ErrMessageTooLong},
		{"bad \xff", def, ErrInvalidUTF8},
		{"esc \x1b[2J", def, ErrControlCharacters},
		{"nul \x00", def, ErrControlCharacters},
		{"del \x7f", def, ErrControlCharacters},
		{"line\n", strict, ErrControlCharacters},
		{"tab\t", strict, ErrControlCharacters},
		{"héllo wörld", def, nil},
		{"", loose, nil},
		{"\x00\xff", loose, nil},
	} {
		if got := ValidateTextMessage([]byte(tc.data), tc.cfg); got != tc.want {
			t.Errorf("ValidateTextMessage(%.20q) = %v, want %v", tc.data, got, tc.want)
		}
	}
}

func TestSanitizeForLogging(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 0, "hello"},
		{"a\nb\tc\r\x1b[31m", 0, "a b c  [31m"},
		{"abcdef", 3, "abc..."},
		{"héllo", 2, "h..."},                // not cut inside é
		{"bad\xffbyte", 0, "bad\ufffdbyte"}, // invalid UTF-8
		{"c1 \u009b2J", 0, "c1  2J"},        // C1 CSI
		{"x\u202eevil", 0, "x evil"},        // bidi override
		{strings.Repeat("z", 300), 0, strings.Repeat("z", 200) + "..."},
	} {
		if got := SanitizeForLogging([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("SanitizeForLogging(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestValidateWebSocketKey(t *testing.T) {
	if err := ValidateWebSocketKey(handshake.NewKey()); err != nil {
		t.Fatal(err)
	}
	if err := ValidateWebSocketKey("dGhlIHNhbXBsZSBub25jZQ=="); err != nil { // RFC 6455 example
		t.Fatal(err)
	}
	err := ValidateWebSocketKey("")
	if !errors.Is(err, ErrInvalidWebSocketKey) || !errors.Is(err, handshake.ErrMissingKey) {
		t.Fatalf("empty key: %v", err)
	}
	for _, k := range []string{"short", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZSE=", "!!!!!!!!!!!!!!!!!!!!!!==", "dGhlIHNhbXBsZSBub25jZQ=x"} {
		if err := ValidateWebSocketKey(k); !errors.Is(err, ErrInvalidWebSocketKey) {
			t.Errorf("ValidateWebSocketKey(%q) = %v", k, err)
		}
	}
}

func TestGenerateSecureSecret(t *testing.T) {
	a, err := GenerateSecureSecret(32)
	if err != nil || len(a) != 32 {
		t.Fatal(len(a), err)
	}
	b, _ := GenerateSecureSecret(32)
	if bytes.Equal(a, b) {
		t.Fatal("two secrets are equal")
	}
	var ve *ValidationError
	for _, n := range []int{31, 0, -1, 1 << 20} {
		if _, err := GenerateSecureSecret(n); !errors.As(err, &ve) || ve.Field != "secret" {
			t.Errorf("GenerateSecureSecret(%d) = %v", n, err)
		}
	}
}

func TestValidateSecurityConfig(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	if err := ValidateSecurityConfig(SecurityConfig{JWTSecret: secret}); err != nil {
		t.Fatal(err)
	}
	// A lower minimum does not lower the floor.
	if err := ValidateSecurityConfig(SecurityConfig{JWTSecret: secret[:16], MinJWTSecretLength: 8}); !errors.Is(err, ErrWeakJWTSecret) {
		t.Fatalf("16-byte secret with minimum 8: %v", err)
	}
	if err := ValidateSecurityConfig(SecurityConfig{JWTSecret: secret, MinJWTSecretLength: 48}); !errors.Is(err, ErrWeakJWTSecret) {
		t.Fatalf("32-byte secret with minimum 48: %v", err)
	}
	if err := ValidateSecurityConfig(SecurityConfig{JWTSecret: secret, MaxMessageSize: -1}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("negative MaxMessageSize: %v", err)
	}
}

func TestValidateRoomPassword(t *testing.T) {
	def := DefaultPasswordStrengthConfig()
	var ve *ValidationError
	if err := ValidateRoomPassword("", def, false); !errors.As(err, &ve) {
		t.Fatalf("empty: %v", err)
	}
	for _, tc := range []struct {
		pwd     string
		cfg     PasswordStrengthConfig
		enforce bool
		want    error
	}{
		{"Str0ngPass", def, true, nil},
		{"weak", def, true, ErrWeakRoomPassword},
		{"weak", def, false, nil},
		{"nodigitsHere", def, true, ErrWeakRoomPassword},
		{"Str0ngPass", PasswordStrengthConfig{RequireSpecial: true}, true, ErrWeakRoomPassword},
		{"Str0ng!Pass", PasswordStrengthConfig{RequireSpecial: true}, true, nil},
	} {
		if got := ValidateRoomPassword(tc.pwd, tc.cfg, tc.enforce); got != tc.want {
			t.Errorf("ValidateRoomPassword(%q, %+v, %v) = %v, want %v", tc.pwd, tc.cfg, tc.enforce, got, tc.want)
		}
	}
}

func TestSecureRoomAuth(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	if _, err := NewSecureRoomAuth([]byte("short"), SecurityConfig{}); !errors.Is(err, ErrWeakJWTSecret) {
		t.Fatalf("short secret: %v", err)
	}
	if _, err := NewSecureRoomAuth(secret, SecurityConfig{JWTSecret: []byte("another secret of thirty-two bytes")}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("two secrets: %v", err)
	}
	a, err := NewSecureRoomAuth(nil, SecurityConfig{JWTSecret: secret, EnforcePasswordStrength: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.MaxMessageSize() != 16<<20 {
		t.Fatalf("MaxMessageSize %d", a.MaxMessageSize())
	}
	if err := a.SetRoomPassword("vip", "weak"); err != ErrWeakRoomPassword {
		t.Fatalf("weak password: %v", err)
	}
	if err := a.SetRoomPassword("vip", "Str0ngPass"); err != nil {
		t.Fatal(err)
	}
	if !a.AuthorizeRoom("vip", "Str0ngPass") || a.CheckRoomPassword("vip", "wrong") || !a.AuthorizeRoom("open", "") {
		t.Fatal("room decisions wrong")
	}
	signer, _ := NewSimpleHS256TokenAuth(secret)
	tok, _ := signer.Sign(map[string]any{"sub": "ada", "exp": time.Now().Add(time.Minute).Unix()})
	if claims, err := a.AuthenticateToken(tok); err != nil || claims["sub"] != "ada" {
		t.Fatalf("AuthenticateToken = %v, %v", claims, err)
	}
	if _, err := a.VerifyJWT(tok + "x"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("bad token: %v", err)
	}
	want := SecurityMetrics{InvalidJWTSecrets: 1, WeakRoomPasswords: 1, SuccessfulAuthentications: 1}
	if got := a.GetMetrics(); got != want {
		t.Fatalf("metrics %+v, want %+v", got, want)
	}
	a.ResetMetrics()
	if got := a.GetMetrics(); got != (SecurityMetrics{}) {
		t.Fatalf("after reset %+v", got)
	}
	var _ TokenAuthenticator = a
	var _ RoomAuthorizer = a
}

func TestNewCloseError(t *testing.T) {
	ce := NewCloseError(CloseInvalidPayload, "bad input")
	if ce.Code != 1007 || ce.Reason != "bad input" || ce.Err != nil {
		t.Fatalf("%+v", ce)
	}
	cause := errors.New("parse failed")
	ce = NewCloseError(ClosePolicyViolation, "nope", cause)
	if !errors.Is(ce, cause) || CloseStatus(ce) != 1008 {
		t.Fatalf("%v does not wrap its cause", ce)
	}
	if got, want := ce.Error(), "websocket: close 1008 (policy violation): nope: parse failed"; !strings.HasPrefix(got, "websocket: close 1008") || !strings.HasSuffix(got, ": nope: parse failed") {
		t.Fatalf("Error() = %q, want like %q", got, want)
	}
}

func TestConnMetadata(t *testing.T) {
	c := NewConn(&benchConn{}, RoleServer, nil)
	if _, ok := c.GetMetadata("k"); ok {
		t.Fatal("metadata before any was set")
	}
	c.DeleteMetadata("k") // no map yet: no effect
	c.RangeMetadata(func(k, v any) bool { t.Fatal("range over nothing"); return true })
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				key := fmt.Sprintf("k%d", i%10)
				c.SetMetadata(key, g)
				c.GetMetadata(key)
				if i%7 == 0 {
					c.DeleteMetadata(key)
				}
			}
		}()
	}
	wg.Wait()
	c.SetMetadata("session", "abc")
	if v, ok := c.GetMetadata("session"); !ok || v != "abc" {
		t.Fatalf("GetMetadata = %v, %v", v, ok)
	}
	n := 0
	c.RangeMetadata(func(k, v any) bool { n++; return false })
	if n != 1 {
		t.Fatalf("Range did not stop: %d calls", n)
	}
	c.DeleteMetadata("session")
	if _, ok := c.GetMetadata("session"); ok {
		t.Fatal("deleted key still there")
	}
}

func TestReadMessageReaderAndWriters(t *testing.T) {
	cli, srv := plPair(t, nil, nil)
	go func() {
		srv.WriteText("text")
		srv.WriteBinary([]byte{1, 2, 3})
		srv.WriteMessageContext(context.Background(), OpcodeText, []byte("ctx"))
		srv.WriteOutbound(Outbound{Op: OpcodeBinary, Data: []byte("out")})
	}()
	for _, want := range []struct {
		mt MessageType
		p  string
	}{{OpcodeText, "text"}, {OpcodeBinary, "\x01\x02\x03"}, {OpcodeText, "ctx"}, {OpcodeBinary, "out"}} {
		mt, r, err := cli.ReadMessageReader()
		if err != nil {
			t.Fatal(err)
		}
		p, err := io.ReadAll(r)
		if err != nil || mt != want.mt || string(p) != want.p {
			t.Fatalf("got %v %q %v, want %v %q", mt, p, err, want.mt, want.p)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Read(make([]byte, 1)); err != ErrReaderClosed {
			t.Fatalf("Read after Close = %v", err)
		}
	}
	// A reader closed before its end: the rest is discarded by the next read.
	go func() {
		srv.WriteText("first message, not read to the end")
		srv.WriteText("second")
	}()
	_, r, err := cli.ReadMessageReader()
	if err != nil {
		t.Fatal(err)
	}
	r.Read(make([]byte, 5))
	r.Close()
	_, r, err = cli.ReadMessageReader()
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := io.ReadAll(r); string(p) != "second" {
		t.Fatalf("next message %q", p)
	}
	// WriteMessageContext: an ended context is ctx.Err().
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.WriteMessageContext(ctx, TextMessage, []byte("x")); err != context.Canceled {
		t.Fatalf("WriteMessageContext(cancelled) = %v", err)
	}
}

func TestWriteClose(t *testing.T) {
	cli, srv := plPair(t, nil, nil)
	err := srv.WriteClose(CloseNormalClosure, strings.Repeat("r", 124))
	if !errors.Is(err, ErrCloseReasonTooLong) || !errors.Is(err, ErrControlTooLarge) {
		t.Fatalf("long reason: %v", err)
	}
	if err := srv.WriteClose(1004, ""); !errors.Is(err, ErrInvalidCloseCode) {
		t.Fatalf("code 1004: %v", err)
	}
	if srv.IsClosed() {
		t.Fatal("closed by refused WriteClose calls")
	}
	errc := make(chan error, 1)
	go func() { _, _, err := cli.ReadMessage(); errc <- err }()
	if err := srv.WriteClose(CloseGoingAway, "bye"); err != nil {
		t.Fatalf("WriteClose: %v (want the completed handshake)", err)
	}
	if err := <-errc; !IsCloseError(err, CloseGoingAway) {
		t.Fatalf("peer read %v", err)
	}
	if !srv.IsClosed() {
		t.Fatal("not closed")
	}
}

// RoomRequestAuth gets the request and the authenticated user.
func TestRoomRequestAuth(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	auth, _ := NewSimpleHS256TokenAuth(secret)
	hub := NewHub(0, 0)
	defer hub.Stop()
	var mu sync.Mutex
	var seen []RoomAuthorization
	policy := roomPolicy(func(a RoomAuthorization) bool {
		mu.Lock()
		seen = append(seen, a)
		mu.Unlock()
		if a.Room != "admins" {
			return true
		}
		return a.User != nil && len(a.User.Roles) > 0 && a.User.Roles[0] == "admin"
	})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ServeWSWithConfig(w, r, ServerConfig{Hub: hub, TokenAuth: auth, RoomAuth: RoomRequestAuth(policy), AllowQueryToken: true})
	}))
	defer hs.Close()
	dial := func(room string, claims map[string]any, query bool) (int, error) {
		tok, _ := auth.Sign(claims)
		u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/?room=" + room
		opts := &DialOptions{Header: http.Header{"Authorization": {"Bearer " + tok}}}
		if query {
			u += "&token=" + tok
			opts = nil
		}
		c, resp, err := Dial(context.Background(), u, opts)
		if err == nil {
			c.CloseNow()
			return 101, nil
		}
		if resp == nil {
			return 0, err
		}
		return resp.StatusCode, nil
	}
	if code, err := dial("admins", map[string]any{"sub": "bob", "roles": []string{"user"}}, false); code != 403 {
		t.Fatalf("user into admins: %d %v", code, err)
	}
	if code, err := dial("admins", map[string]any{"sub": "ada", "roles": []string{"admin"}}, true); code != 101 {
		t.Fatalf("admin into admins: %d %v", code, err)
	}
	mu.Lock()
	seen = append([]RoomAuthorization(nil), seen...)
	mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("%d decisions", len(seen))
	}
	a := seen[1]
	if a.Request == nil || a.Request.URL.Query().Get("room") != "admins" || a.User.ID != "ada" || a.TokenClaims["sub"] != "ada" || a.Anonymous || !a.QueryTokenOK {
		t.Fatalf("decision input %+v", a)
	}
	if seen[0].QueryTokenOK {
		t.Fatal("QueryTokenOK for a header token")
	}
	// Called directly it sees room and password only.
	if !RoomRequestAuth(policy).AuthorizeRoom("lobby", "") || RoomRequestAuth(policy).AuthorizeRoom("admins", "") {
		t.Fatal("direct decisions wrong")
	}
}

type roomPolicy func(RoomAuthorization) bool

func (p roomPolicy) AuthorizeRoom(a RoomAuthorization) bool { return p(a) }

func TestServerHealth(t *testing.T) {
	s, err := New(WebSocketConfig{AllowUnauthenticated: true, BroadcastEnabled: true, BroadcastSecret: []byte("0123456789abcdef0123456789abcdef!"), MaxConnections: 1})
	if err != nil {
		t.Fatal(err)
	}
	name, st := s.Health()
	if name != "websocket" || st.Status != "healthy" || st.Details["broadcastEnabled"] != true || st.Details["connections"] != 0 {
		t.Fatalf("%s %+v", name, st)
	}
	_, srv := plPair(t, nil, nil)
	if err := s.Hub().Join("r", srv); err != nil {
		t.Fatal(err)
	}
	if _, st = s.Health(); st.Status != "degraded" || st.Details["connections"] != 1 || st.Details["rooms"] != 1 {
		t.Fatalf("full hub: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.Shutdown(ctx)
	if _, st = s.Health(); st.Status != "unhealthy" || st.Message != "hub stopped" {
		t.Fatalf("after Shutdown: %+v", st)
	}
}

func TestPlumegoHubConstructorsAndIsTemporary(t *testing.T) {
	h, err := NewHubE(16, 4096)
	if err != nil {
		t.Fatal(err)
	}
	h.Stop()
	if _, err := NewHubE(-1, 0); !errors.Is(err, ErrNegativeWorkerCount) || !errors.Is(err, ErrInvalidHubConfig) {
		t.Fatalf("NewHubE(-1, 0) = %v", err)
	}
	if _, err := NewHubWithConfigE(HubConfig{JobQueueSize: -1}); !errors.Is(err, ErrNegativeJobQueue) {
		t.Fatalf("NewHubWithConfigE = %v", err)
	}
	if _, err := srvResolve(ServerConfig{Hub: h}); !errors.Is(err, ErrNilTokenAuthorizer) {
		t.Fatalf("nil TokenAuth: %v", err)
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{ErrQueueFull, true},
		{fmt.Errorf("send: %w", ErrSendQueueFull), true},
		{ErrRateLimitExceeded, true},
		{&net.OpError{Op: "write", Err: os.ErrDeadlineExceeded}, false},
		{ErrWriteTimeout, false},
		{ErrKeepaliveTimeout, false},
		{&CloseError{Code: CloseGoingAway}, false},
		{ErrProtocol, false},
		{ErrSlowConsumer, false},
	} {
		if got := IsTemporary(tc.err); got != tc.want {
			t.Errorf("IsTemporary(%v) = %v", tc.err, got)
		}
	}
}

// plRawOpts is plRaw with options; the raw peer's input is not read
// unless drain.
func plRawOpts(t *testing.T, role Role, opts *Options, drain bool) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(nc, role, opts)
	t.Cleanup(func() {
		c.CloseNow()
		peer.Close()
	})
	if drain {
		go io.Copy(io.Discard, peer)
	}
	return c, peer
}

func TestPlumegoKeepaliveSetters(t *testing.T) {
	// Without keepalive: a configuration error, and no last pong.
	off, _ := plRawOpts(t, RoleServer, nil, true)
	if err := off.SetPingPeriod(time.Second); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("SetPingPeriod without keepalive: %v", err)
	}
	if err := off.SetPongWait(time.Second); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("SetPongWait without keepalive: %v", err)
	}
	if !off.GetLastPong().IsZero() {
		t.Fatal("GetLastPong without keepalive")
	}
	// With keepalive (an hour): the setters apply at once.
	c, peer := plRawOpts(t, RoleServer, &Options{PingInterval: time.Hour}, false)
	if err := c.SetPingPeriod(0); !errors.Is(err, ErrInvalidPingPeriod) {
		t.Fatalf("SetPingPeriod(0): %v", err)
	}
	if err := c.SetPongWait(-time.Second); !errors.Is(err, ErrInvalidPongWait) {
		t.Fatalf("SetPongWait(-1s): %v", err)
	}
	start := time.Now()
	if d := time.Since(c.GetLastPong()); d < 0 || d > time.Minute {
		t.Fatalf("GetLastPong is %v ago", d)
	}
	readErr := make(chan error, 1)
	go func() { _, _, err := c.ReadMessage(); readErr <- err }()
	if err := c.SetPongWait(50 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPingPeriod(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// The peer sees the ping, and never answers.
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(peer, hdr[:]); err != nil || frame.Opcode(hdr[0]&0x0f) != frame.OpPing {
		t.Fatalf("peer read %x, %v; want a ping", hdr, err)
	}
	go io.Copy(io.Discard, peer)
	select {
	case err := <-readErr:
		if !errors.Is(err, ErrKeepaliveTimeout) {
			t.Fatalf("read = %v, want ErrKeepaliveTimeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("keepalive did not fail the silent peer")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("failed after %v, want about 80ms", el)
	}
}

func TestPlumegoLastPongMoves(t *testing.T) {
	c, peer := plRawOpts(t, RoleServer, &Options{PingInterval: time.Hour}, true)
	before := c.GetLastPong()
	time.Sleep(20 * time.Millisecond)
	if _, err := peer.Write(frameBytes(true, frame.OpPong, true, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Write(frameBytes(true, frame.OpText, true, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if after := c.GetLastPong(); !after.After(before) || time.Since(after) > time.Minute {
		t.Fatalf("last pong %v, before %v", after, before)
	}
}

func TestPlumegoSetWriteTimeout(t *testing.T) {
	c, _ := plRawOpts(t, RoleServer, &Options{WriteTimeout: -1}, false) // unbounded, peer never reads
	if err := c.SetWriteTimeout(0); !errors.Is(err, ErrInvalidWriteTimeout) {
		t.Fatalf("SetWriteTimeout(0): %v", err)
	}
	if err := c.SetWriteTimeout(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := c.writeTimeout(); got != 100*time.Millisecond {
		t.Fatalf("writeTimeout() = %v", got)
	}
	start := time.Now()
	err := c.WriteBinary(make([]byte, 64<<20))
	if !errors.Is(err, ErrWriteTimeout) {
		t.Fatalf("write to a peer that does not read = %v, want ErrWriteTimeout", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("write failed after %v", el)
	}
}
