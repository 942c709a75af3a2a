package websocket

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	authTestSecret = []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	authOtherKey   = []byte("fedcba9876543210fedcba9876543210")
	authTestNow    = time.Unix(1_700_000_000, 0)
)

func authEnc(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// authMakeToken builds header.payload.HMAC(secret) from raw parts.
func authMakeToken(secret []byte, header, payload string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(header + "." + payload))
	return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func authTestAuth(t testing.TB) *SimpleHS256TokenAuth {
	t.Helper()
	a, err := NewSimpleHS256TokenAuth(authTestSecret)
	if err != nil {
		t.Fatal(err)
	}
	a.Now = func() time.Time { return authTestNow }
	return a
}

func TestSimpleHS256TokenAuth(t *testing.T) {
	hs256 := authEnc(map[string]any{"alg": "HS256", "typ": "JWT"})
	now := authTestNow.Unix()
	claims := func(kv ...any) string {
		m := map[string]any{"sub": "u1"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return authEnc(m)
	}
	good := authMakeToken(authTestSecret, hs256, claims())
	h, p, _ := strings.Cut(good, ".")
	p, s, _ := strings.Cut(p, ".")
	tests := []struct {
		name  string
		token string
		want  error // nil: accepted
	}{
		{"valid", good, nil},
		{"valid with exp and nbf", authMakeToken(authTestSecret, hs256, claims("exp", now+60, "nbf", now-60)), nil},
		{"expired", authMakeToken(authTestSecret, hs256, claims("exp", now-3600)), ErrTokenExpired},
		{"expired within leeway", authMakeToken(authTestSecret, hs256, claims("exp", now-10)), nil},
		{"expired just past leeway", authMakeToken(authTestSecret, hs256, claims("exp", now-31)), ErrTokenExpired},
		{"fractional exp", authMakeToken(authTestSecret, hs256, claims("exp", float64(now)+0.5)), nil},
		{"not yet valid", authMakeToken(authTestSecret, hs256, claims("nbf", now+3600)), ErrTokenNotYetValid},
		{"nbf within leeway", authMakeToken(authTestSecret, hs256, claims("nbf", now+10)), nil},
		{"exp not a number", authMakeToken(authTestSecret, hs256, claims("exp", "tomorrow")), ErrInvalidToken},
		{"nbf not a number", authMakeToken(authTestSecret, hs256, claims("nbf", true)), ErrInvalidToken},
		{"huge exp", authMakeToken(authTestSecret, hs256, claims("exp", 1e300)), nil},
		{"huge negative nbf", authMakeToken(authTestSecret, hs256, claims("nbf", -1e300)), nil},
		{"bad signature", authMakeToken(authOtherKey, hs256, claims()), ErrInvalidToken},
		{"tampered payload", h + "." + claims("sub", "admin") + "." + s, ErrInvalidToken},
		{"alg none, no signature", authEnc(map[string]any{"alg": "none"}) + "." + p + ".", ErrInvalidToken},
		{"alg none, HMAC signature", authMakeToken(authTestSecret, authEnc(map[string]any{"alg": "none"}), p), ErrInvalidToken},
		{"alg HS512", authMakeToken(authTestSecret, authEnc(map[string]any{"alg": "HS512"}), p), ErrInvalidToken},
		{"alg RS256", authMakeToken(authTestSecret, authEnc(map[string]any{"alg": "RS256"}), p), ErrInvalidToken},
		{"alg lower case", authMakeToken(authTestSecret, authEnc(map[string]any{"alg": "hs256"}), p), ErrInvalidToken},
		{"alg missing", authMakeToken(authTestSecret, authEnc(map[string]any{"typ": "JWT"}), p), ErrInvalidToken},
		{"alg not a string", authMakeToken(authTestSecret, authEnc(map[string]any{"alg": 256}), p), ErrInvalidToken},
		{"crit header", authMakeToken(authTestSecret, authEnc(map[string]any{"alg": "HS256", "crit": []string{"x"}}), p), ErrInvalidToken},
		{"header not JSON", authMakeToken(authTestSecret, base64.RawURLEncoding.EncodeToString([]byte("nope")), p), ErrInvalidToken},
		{"payload not an object", authMakeToken(authTestSecret, hs256, authEnc([]int{1})), ErrInvalidToken},
		{"payload null", authMakeToken(authTestSecret, hs256, authEnc(nil)), ErrInvalidToken},
		{"two parts", h + "." + p, ErrInvalidToken},
		{"four parts", good + ".x", ErrInvalidToken},
		{"empty", "", ErrInvalidToken},
		{"padded segment", authMakeToken(authTestSecret, hs256+"=", p), ErrInvalidToken},
		{"standard base64 alphabet", strings.ReplaceAll(strings.ReplaceAll(good, "-", "+"), "_", "/") + "+", ErrInvalidToken},
		{"short signature", h + "." + p + "." + s[:20], ErrInvalidToken},
		{"too long", authMakeToken(authTestSecret, hs256, claims("pad", strings.Repeat("x", MaxTokenLength))), ErrInvalidToken},
	}
	a := authTestAuth(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := a.AuthenticateToken(tt.token)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("AuthenticateToken = %v, want accepted", err)
			case tt.want == nil:
				if c["sub"] != "u1" {
					t.Errorf("claims = %v", c)
				}
			case !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalidToken) || c != nil:
				t.Fatalf("AuthenticateToken = %v, %v; want %v (and ErrInvalidToken)", c, err, tt.want)
			}
		})
	}
}

func TestSimpleHS256TokenAuthNonCanonicalBase64(t *testing.T) {
	a := authTestAuth(t)
	good, err := a.Sign(map[string]any{"sub": "u1"})
	if err != nil {
		t.Fatal(err)
	}
	// A 32-byte signature is 43 base64url characters whose last one
	// carries 2 unused bits: flipping them must not give a second valid
	// spelling of the same signature.
	last := good[len(good)-1]
	i := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last)
	alt := good[:len(good)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[i^1])
	if _, err := a.AuthenticateToken(alt); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("non-canonical signature accepted: %v", err)
	}
}

func TestNewSimpleHS256TokenAuthSecretLength(t *testing.T) {
	for _, n := range []int{0, 1, 31} {
		if _, err := NewSimpleHS256TokenAuth(make([]byte, n)); !errors.Is(err, ErrWeakJWTSecret) {
			t.Errorf("secret of %d bytes: %v, want ErrWeakJWTSecret", n, err)
		}
	}
	secret := append([]byte(nil), authTestSecret...)
	a, err := NewSimpleHS256TokenAuth(secret)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := a.Sign(map[string]any{"sub": "x"})
	secret[0] ^= 0xff // the authenticator keeps its own copy
	if _, err := a.AuthenticateToken(tok); err != nil {
		t.Errorf("token refused after the caller's secret changed: %v", err)
	}
}

func TestSignAndExtractUserInfo(t *testing.T) {
	a := authTestAuth(t)
	tok, err := a.Sign(map[string]any{"sub": "42", "name": "Ada", "email": "ada@example.com", "roles": []string{"admin", "dev"}, "exp": authTestNow.Unix() + 60})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := a.VerifyJWT(tok)
	if err != nil {
		t.Fatal(err)
	}
	got := ExtractUserInfo(claims)
	want := &UserInfo{ID: "42", Name: "Ada", Email: "ada@example.com", Roles: []string{"admin", "dev"}, Claims: claims}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UserInfo (-want +got):\n%s", diff)
	}
	if _, err := a.Sign(map[string]any{"bad": func() {}}); err == nil {
		t.Error("Sign of unencodable claims succeeded")
	}
}

func TestAuthFromRequest(t *testing.T) {
	tests := []struct {
		name       string
		header     http.Header
		query      string
		allowQuery bool
		want       authRequest
		err        error
	}{
		{name: "nothing", want: authRequest{}},
		{name: "bearer header", header: http.Header{"Authorization": {"Bearer abc.def.ghi"}}, want: authRequest{token: "abc.def.ghi", source: authHeader}},
		{name: "bearer lower case", header: http.Header{"Authorization": {"bearer  tok "}}, want: authRequest{token: "tok", source: authHeader}},
		{name: "basic is not ours", header: http.Header{"Authorization": {"Basic dXNlcjpwdw=="}}, want: authRequest{}},
		{name: "empty bearer", header: http.Header{"Authorization": {"Bearer"}}, err: ErrInvalidToken},
		{name: "two authorization headers", header: http.Header{"Authorization": {"Bearer a", "Bearer b"}}, err: ErrMultipleTokens},
		{name: "subprotocol prefix", header: http.Header{"Sec-Websocket-Protocol": {"chat.v1, bearer.tok"}},
			want: authRequest{token: "tok", source: authProtocol, protocols: []string{"chat.v1"}}},
		{name: "subprotocol prefix, mixed case", header: http.Header{"Sec-Websocket-Protocol": {"Bearer.tok", "chat.v1"}},
			want: authRequest{token: "tok", source: authProtocol, protocols: []string{"chat.v1"}}},
		{name: "subprotocol marker", header: http.Header{"Sec-Websocket-Protocol": {"access_token, tok, chat.v1"}},
			want: authRequest{token: "tok", source: authProtocol, protocols: []string{"chat.v1"}}},
		{name: "marker without token", header: http.Header{"Sec-Websocket-Protocol": {"chat.v1, access_token"}}, err: ErrInvalidToken},
		{name: "empty prefix token", header: http.Header{"Sec-Websocket-Protocol": {"bearer."}}, err: ErrInvalidToken},
		{name: "header and subprotocol", header: http.Header{"Authorization": {"Bearer a"}, "Sec-Websocket-Protocol": {"bearer.b"}}, err: ErrMultipleTokens},
		{name: "two subprotocol tokens", header: http.Header{"Sec-Websocket-Protocol": {"bearer.a, access_token, b"}}, err: ErrMultipleTokens},
		{name: "query token not allowed", query: "token=tok", err: ErrQueryTokenNotAllowed},
		{name: "query access_token not allowed", query: "access_token=tok", err: ErrQueryTokenNotAllowed},
		{name: "empty query token not allowed", query: "token=", err: ErrQueryTokenNotAllowed},
		{name: "query token allowed", query: "token=tok&room=a", allowQuery: true, want: authRequest{token: "tok", source: authQuery}},
		{name: "query token twice", query: "token=a&token=b", allowQuery: true, err: ErrMultipleTokens},
		{name: "query and header", query: "token=a", allowQuery: true, header: http.Header{"Authorization": {"Bearer b"}}, err: ErrMultipleTokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/ws?"+tt.query, nil)
			for k, vs := range tt.header {
				r.Header[k] = vs
			}
			got, err := authFromRequest(r, tt.allowQuery)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(authRequest{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("authFromRequest (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSimpleRoomAuth(t *testing.T) {
	ra := NewSimpleRoomAuth()
	if err := ra.SetRoomPassword("vip", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if err := ra.SetRoomPassword("x", ""); err == nil {
		t.Error("empty password accepted")
	}
	tests := []struct {
		room, pw string
		want     bool
	}{
		{"vip", "s3cret", true},
		{"vip", "s3cre", false},
		{"vip", "s3cret ", false},
		{"vip", "", false},
		{"open", "", true},
		{"open", "anything", true},
	}
	for _, tt := range tests {
		if got := ra.AuthorizeRoom(tt.room, tt.pw); got != tt.want {
			t.Errorf("AuthorizeRoom(%q, %q) = %v, want %v", tt.room, tt.pw, got, tt.want)
		}
	}
	if !ra.CheckRoomPassword("vip", "s3cret") {
		t.Error("CheckRoomPassword refused the right password")
	}
	// Only a salted hash is kept: two rooms with one password differ.
	if err := ra.SetRoomPassword("vip2", "s3cret"); err != nil {
		t.Fatal(err)
	}
	ra.mu.RLock()
	a, b := ra.rooms["vip"], ra.rooms["vip2"]
	ra.mu.RUnlock()
	if a == b || strings.Contains(string(a.hash[:])+string(a.salt[:]), "s3cret") {
		t.Error("password stored unsalted or in clear")
	}
	ra.RemoveRoomPassword("vip")
	if !ra.AuthorizeRoom("vip", "") {
		t.Error("room still closed after RemoveRoomPassword")
	}
	var f RoomAuthenticator = RoomAuthorizerFunc(func(room, pw string) bool { return room == pw })
	if !f.AuthorizeRoom("a", "a") || f.AuthorizeRoom("a", "b") {
		t.Error("RoomAuthorizerFunc")
	}
}

// TestServerAuthRejections checks that refused requests get 401 (with a
// Bearer challenge) or 403, and never 101.
func TestServerAuthRejections(t *testing.T) {
	a := authTestAuth(t)
	a.Now = nil
	now := time.Now().Unix()
	sign := func(c map[string]any) string {
		s, err := a.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := sign(map[string]any{"sub": "u1", "exp": now + 600})
	hs256 := authEnc(map[string]any{"alg": "HS256"})
	payload := authEnc(map[string]any{"sub": "u1"})
	rooms := NewSimpleRoomAuth()
	if err := rooms.SetRoomPassword("vip", "pw"); err != nil {
		t.Fatal(err)
	}
	newServer := func(mod func(*WebSocketConfig)) string {
		cfg := WebSocketConfig{Secret: authTestSecret, RoomAuth: rooms, Subprotocols: []string{"chat.v1"}}
		if mod != nil {
			mod(&cfg)
		}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
		return "ws" + strings.TrimPrefix(srv.URL, "http")
	}
	base := newServer(nil)
	withQuery := newServer(func(c *WebSocketConfig) { c.AllowQueryToken = true })

	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	tests := []struct {
		name      string
		url       string
		path      string
		header    http.Header
		protos    []string
		status    int    // 101 means accepted
		challenge string // expected in WWW-Authenticate
	}{
		{name: "valid header token", url: base, path: "/ws", header: bearer(valid), status: 101},
		{name: "missing token", url: base, path: "/ws", status: 401, challenge: `Bearer realm="websocket"`},
		{name: "bad signature", url: base, path: "/ws", header: bearer(authMakeToken(authOtherKey, hs256, payload)), status: 401, challenge: `error="invalid_token"`},
		{name: "alg none", url: base, path: "/ws", header: bearer(authEnc(map[string]any{"alg": "none"}) + "." + payload + "."), status: 401, challenge: `error="invalid_token"`},
		{name: "expired", url: base, path: "/ws", header: bearer(sign(map[string]any{"exp": now - 3600})), status: 401, challenge: `error_description="token expired"`},
		{name: "not yet valid", url: base, path: "/ws", header: bearer(sign(map[string]any{"nbf": now + 3600})), status: 401, challenge: `error_description="token not yet valid"`},
		{name: "garbage token", url: base, path: "/ws", header: bearer("garbage"), status: 401, challenge: `error="invalid_token"`},
		{name: "query token not allowed", url: base, path: "/ws?token=" + url.QueryEscape(valid), status: 401, challenge: `error="invalid_request"`},
		{name: "query token allowed", url: withQuery, path: "/ws?token=" + url.QueryEscape(valid), status: 101},
		{name: "query token allowed but bad", url: withQuery, path: "/ws?token=x.y.z", status: 401, challenge: `error="invalid_token"`},
		{name: "token via subprotocol", url: base, path: "/ws", protos: []string{"chat.v1", "bearer." + valid}, status: 101},
		{name: "token via marker subprotocol", url: base, path: "/ws", protos: []string{"access_token", valid, "chat.v1"}, status: 101},
		{name: "bad token via subprotocol", url: base, path: "/ws", protos: []string{"chat.v1", "bearer.x.y.z"}, status: 401, challenge: `error="invalid_token"`},
		{name: "token subprotocol without a real one", url: base, path: "/ws", protos: []string{"bearer." + valid}, status: 400},
		{name: "two tokens", url: base, path: "/ws", header: bearer(valid), protos: []string{"chat.v1", "bearer." + valid}, status: 401, challenge: `error="invalid_request"`},
		{name: "room password right", url: base, path: "/ws?room=vip", header: http.Header{"Authorization": {"Bearer " + valid}, RoomPasswordHeader: {"pw"}}, status: 101},
		{name: "room password wrong", url: base, path: "/ws?room=vip", header: http.Header{"Authorization": {"Bearer " + valid}, RoomPasswordHeader: {"nope"}}, status: 403},
		{name: "room password in query", url: base, path: "/ws?room=vip&room_password=pw", header: bearer(valid), status: 403},
		{name: "foreign origin", url: base, path: "/ws", header: http.Header{"Authorization": {"Bearer " + valid}, "Origin": {"https://evil.example"}}, status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, resp, err := Dial(ctx, tt.url+tt.path, &DialOptions{Header: tt.header, Subprotocols: tt.protos})
			if tt.status == 101 {
				if err != nil {
					t.Fatalf("Dial: %v (resp %v)", err, resp)
				}
				defer c.CloseNow()
				if tt.protos != nil && c.Subprotocol() != "chat.v1" {
					t.Errorf("chosen subprotocol %q, want chat.v1 (never the token)", c.Subprotocol())
				}
				return
			}
			if err == nil {
				c.CloseNow()
				t.Fatalf("Dial succeeded, want %d", tt.status)
			}
			if resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("response %v (%v), want %d", resp, err, tt.status)
			}
			if resp.Header.Get("Upgrade") != "" || resp.Header.Get("Sec-Websocket-Accept") != "" {
				t.Errorf("refusal carries upgrade headers: %v", resp.Header)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, tt.challenge) || (tt.status == 401) != (got != "") {
				t.Errorf("WWW-Authenticate %q, want it to contain %q", got, tt.challenge)
			}
		})
	}
}

// FuzzSimpleHS256TokenAuth checks that no input panics the verifier and
// that whatever it accepts is an HS256 token signed with the secret.
func FuzzSimpleHS256TokenAuth(f *testing.F) {
	a, err := NewSimpleHS256TokenAuth(authTestSecret)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := a.Sign(map[string]any{"sub": "u", "exp": int64(4102444800), "nbf": 0})
	hs256 := authEnc(map[string]any{"alg": "HS256"})
	for _, s := range []string{
		good, "", ".", "..", "a.b.c", good + ".", good[:len(good)-1],
		authEnc(map[string]any{"alg": "none"}) + "." + authEnc(map[string]any{"sub": "x"}) + ".",
		authMakeToken(authTestSecret, hs256, authEnc([]any{})),
		authMakeToken(authTestSecret, hs256, authEnc(map[string]any{"exp": "x"})),
		authMakeToken(authTestSecret, hs256, base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1e400}`))),
		authMakeToken(authTestSecret, authEnc(map[string]any{"alg": "HS256", "crit": []string{"b64"}}), authEnc(map[string]any{})),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := a.AuthenticateToken(token)
		if err != nil {
			if claims != nil || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v with claims %v, or not matching ErrInvalidToken", err, claims)
			}
			return
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted %q with %d parts", token, len(parts))
		}
		if authMakeToken(authTestSecret, parts[0], parts[1]) != token {
			t.Fatalf("accepted %q whose signature is not the HMAC of its parts", token)
		}
		hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
		var h map[string]any
		if json.Unmarshal(hdr, &h) != nil || h["alg"] != "HS256" {
			t.Fatalf("accepted header %q", hdr)
		}
	})
}

// FuzzAuthFromRequest checks that token extraction never panics and never
// leaves a token entry among the protocols offered for selection.
func FuzzAuthFromRequest(f *testing.F) {
	f.Add("Bearer a.b.c", "chat.v1, bearer.x", "token=y", false)
	f.Add("", "access_token, tok, chat", "", true)
	f.Add("bearer", "access_token", "access_token=&token=", true)
	f.Add("Basic x", ",,, ,bearer., ACCESS_TOKEN", "room=a", false)
	f.Fuzz(func(t *testing.T, authz, protos, query string, allowQuery bool) {
		r := httptest.NewRequest(http.MethodGet, "/ws", nil)
		r.URL.RawQuery = query
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if protos != "" {
			r.Header.Set("Sec-WebSocket-Protocol", protos)
		}
		ar, err := authFromRequest(r, allowQuery)
		if err != nil {
			return
		}
		if (ar.source == authNone) != (ar.token == "") {
			t.Fatalf("source %d with token %q", ar.source, ar.token)
		}
		for _, p := range ar.protocols {
			lp := strings.ToLower(p)
			if strings.HasPrefix(lp, TokenSubprotocolPrefix) || lp == TokenSubprotocolMarker {
				t.Fatalf("token entry %q left among protocols %q", p, ar.protocols)
			}
		}
	})
}
