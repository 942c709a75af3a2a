package websocket

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ---- helpers ----

// hubSmallBufListener shrinks the send buffer of accepted connections so
// that a client that stops reading fills the path quickly.
type hubSmallBufListener struct{ net.Listener }

func (l hubSmallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// hubServe starts a server on 127.0.0.1 whose routes are path -> config
// (Hub set to h, unauthenticated); it returns the ws:// base URL.
func hubServe(t testing.TB, h *Hub, routes map[string]ServerConfig) string {
	t.Helper()
	mux := http.NewServeMux()
	for path, cfg := range routes {
		cfg.Hub = h
		cfg.AllowUnauthenticated = true
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { ServeWSWithConfig(w, r, cfg) })
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = hubSmallBufListener{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func hubDial(t testing.TB, url string, opts *DialOptions) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("Dial %s: %v (resp %v)", url, err, resp)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// hubWaitMembers waits until h has n members.
func hubWaitMembers(t testing.TB, h *Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for h.GetActiveConnectionCount() != n {
		if time.Now().After(deadline) {
			t.Fatalf("hub has %d members, want %d", h.GetActiveConnectionCount(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// hubRawClient is a WebSocket client on a bare TCP connection with a small
// receive buffer, which reads only when told to: the slow consumer.
type hubRawClient struct {
	nc net.Conn
	br *bufio.Reader
}

func hubDialRaw(t testing.TB, wsURL string) *hubRawClient {
	t.Helper()
	u := strings.TrimPrefix(wsURL, "ws://")
	host, path, _ := strings.Cut(u, "/")
	nc, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.(*net.TCPConn).SetReadBuffer(4 << 10)
	req := "GET /" + path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	// Read the response byte by byte: nothing after it may be consumed.
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var resp []byte
	b := make([]byte, 1)
	for !strings.HasSuffix(string(resp), "\r\n\r\n") {
		if _, err := nc.Read(b); err != nil {
			t.Fatalf("reading handshake response: %v (%q)", err, resp)
		}
		resp = append(resp, b[0])
	}
	if !strings.HasPrefix(string(resp), "HTTP/1.1 101") {
		t.Fatalf("handshake response %q", resp)
	}
	_ = nc.SetReadDeadline(time.Time{})
	return &hubRawClient{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}
}

// next reads one frame: opcode and payload. Once reading starts the
// receive buffer grows back: a 4 KiB window makes loopback crawl.
func (rc *hubRawClient) next() (byte, []byte, error) {
	_ = rc.nc.(*net.TCPConn).SetReadBuffer(1 << 20)
	_ = rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(rc.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(rc.br, ext[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(rc.br, ext[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(rc.br, p); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, p, nil
}

// readUntilClose reads data frames until a close frame; it returns the
// first 8 bytes of each data payload (the sequence numbers) and the close
// code and reason. It answers the close.
func (rc *hubRawClient) readUntilClose(t testing.TB) (seqs []uint64, code int, reason string) {
	t.Helper()
	for {
		op, p, err := rc.next()
		if err != nil {
			t.Fatalf("raw client read: %v (after %d messages)", err, len(seqs))
		}
		switch op {
		case 0x1, 0x2:
			seqs = append(seqs, binary.BigEndian.Uint64(p))
		case 0x8:
			if len(p) >= 2 {
				code, reason = int(binary.BigEndian.Uint16(p)), string(p[2:])
			}
			// Masked echo of the close code.
			key := [4]byte{1, 2, 3, 4}
			f := []byte{0x88, 0x80 | byte(min(len(p), 2)), key[0], key[1], key[2], key[3]}
			for i := 0; i < min(len(p), 2); i++ {
				f = append(f, p[i]^key[i%4])
			}
			_, _ = rc.nc.Write(f)
			// The server half-closes and waits for our FIN.
			_ = rc.nc.Close()
			return seqs, code, reason
		}
	}
}

// readN reads n data frames and returns their sequence numbers.
func (rc *hubRawClient) readN(t testing.TB, n int) []uint64 {
	t.Helper()
	var seqs []uint64
	for len(seqs) < n {
		op, p, err := rc.next()
		if err != nil {
			t.Fatalf("raw client read: %v (after %d of %d messages)", err, len(seqs), n)
		}
		if op == 0x1 || op == 0x2 {
			seqs = append(seqs, binary.BigEndian.Uint64(p))
		}
	}
	return seqs
}

// hubPayload is a size-byte message starting with seq.
func hubPayload(seq uint64, size int) []byte {
	p := make([]byte, max(size, 8))
	binary.BigEndian.PutUint64(p, seq)
	return p
}

// hubGoroutines returns the stacks of goroutines running hub code.
func hubGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "websocket.(*hubMember)") || strings.Contains(g, "websocket.(*Hub)") {
			out = append(out, g)
		}
	}
	return out
}

func hubAllStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// hubNoGoroutines fails t unless hub goroutines are all gone (waiting a
// little for ones finishing).
func hubNoGoroutines(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		gs := hubGoroutines()
		if len(gs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d hub goroutines left:\n%s", len(gs), strings.Join(gs, "\n\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hubAccountingOK reports whether the HubMetrics invariant holds, which it
// does when no write is in flight.
func hubAccountingOK(m HubMetrics) bool {
	lost := m.MessagesDropped - m.BroadcastDropped - m.BroadcastClosed
	return m.BroadcastEnqueued == m.MessagesOut+uint64(m.QueuedMessages)+lost &&
		m.BroadcastAttempted == m.BroadcastEnqueued+m.BroadcastDropped+m.BroadcastClosed+m.BroadcastSkipped
}

// hubSettle waits until h's queues are empty and no write is in flight
// (a frame can be read by the peer just before its write is counted),
// checks the accounting invariant, and returns the metrics.
func hubSettle(t testing.TB, h *Hub) HubMetrics {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := h.Metrics()
		if m.QueuedMessages == 0 && hubAccountingOK(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Errorf("accounting does not settle: enqueued %d, out %d, queued %d, dropped %d (at broadcast %d+%d): %+v",
				m.BroadcastEnqueued, m.MessagesOut, m.QueuedMessages, m.MessagesDropped, m.BroadcastDropped, m.BroadcastClosed, m)
			return m
		}
		time.Sleep(time.Millisecond)
	}
}

// hubPipeConns returns n server Conns over in-memory pipes (no goroutines).
func hubPipeConns(t testing.TB, n int) []*Conn {
	t.Helper()
	cs := make([]*Conn, n)
	for i := range cs {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		cs[i] = NewConn(a, RoleServer, nil)
	}
	return cs
}

// ---- configuration and membership ----

func TestNewHubWithConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  HubConfig
	}{
		{"negative WorkerCount", HubConfig{WorkerCount: -1}},
		{"negative JobQueueSize", HubConfig{JobQueueSize: -1}},
		{"negative SendQueueSize", HubConfig{SendQueueSize: -1}},
		{"negative SendTimeout", HubConfig{SendTimeout: -time.Second}},
		{"negative WriteTimeout", HubConfig{WriteTimeout: -time.Second}},
		{"unknown SendBehavior", HubConfig{SendBehavior: 7}},
		{"negative SendBehavior", HubConfig{SendBehavior: -1}},
		{"MaxConnections -2", HubConfig{MaxConnections: -2}},
		{"MaxRoomConnections -5", HubConfig{MaxRoomConnections: -5}},
		{"MaxRoomsPerConnection -2", HubConfig{MaxRoomsPerConnection: -2}},
		{"MaxRoomRegistrations -3", HubConfig{MaxRoomRegistrations: -3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHubWithConfig(tt.cfg)
			if !errors.Is(err, ErrInvalidConfig) || h != nil {
				t.Fatalf("NewHubWithConfig(%+v) = %v, %v; want ErrInvalidConfig", tt.cfg, h, err)
			}
		})
	}
}

func TestHubConfigDefaultsAndLimits(t *testing.T) {
	type limits struct{ Conns, RoomConns, Rooms, Regs int }
	get := func(h *Hub) limits {
		m := h.Metrics()
		return limits{m.MaxConnections, m.MaxRoomConnections, m.MaxRoomsPerConnection, m.MaxRoomRegistrations}
	}
	tests := []struct {
		name string
		cfg  HubConfig
		want limits
	}{
		{"zero means defaults", HubConfig{}, limits{DefaultMaxConnections, 0, DefaultMaxRoomsPerConnection, 0}},
		{"DefaultHubConfig", DefaultHubConfig(), limits{DefaultMaxConnections, 0, DefaultMaxRoomsPerConnection, 0}},
		{"NoLimit", HubConfig{MaxConnections: NoLimit, MaxRoomsPerConnection: NoLimit}, limits{0, 0, 0, 0}},
		{"explicit", HubConfig{MaxConnections: 5, MaxRoomConnections: 3, MaxRoomsPerConnection: 2, MaxRoomRegistrations: 4}, limits{5, 3, 2, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHubWithConfig(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, get(h)); diff != "" {
				t.Errorf("limits (-want +got):\n%s", diff)
			}
		})
	}
	if got := get(NewHub(4, 1024)); got != (limits{DefaultMaxConnections, 0, DefaultMaxRoomsPerConnection, 0}) {
		t.Errorf("NewHub limits = %+v", got)
	}
}

func TestValidateRoomName(t *testing.T) {
	tests := []struct {
		room string
		ok   bool
	}{
		{"lobby", true},
		{"Room-1.a_b:c", true},
		{"0", true},
		{strings.Repeat("a", MaxRoomNameLength), true},
		{strings.Repeat("a", MaxRoomNameLength+1), false},
		{"", false},
		{"with space", false},
		{"slash/room", false},
		{"caf\u00e9", false},
		{"semi;colon", false},
		{"nul\x00", false},
		{"star*", false},
		{"newline\n", false},
	}
	for _, tt := range tests {
		err := ValidateRoomName(tt.room)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateRoomName(%q) = %v, want ok=%v", tt.room, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidRoomName) {
			t.Errorf("ValidateRoomName(%q) = %v, does not match ErrInvalidRoomName", tt.room, err)
		}
	}
}

func TestHubRoomNameValidatorHook(t *testing.T) {
	errNoUpper := errors.New("no upper case")
	h, err := NewHubWithConfig(HubConfig{RoomNameValidator: func(room string) error {
		if strings.ToLower(room) != room {
			return errNoUpper
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := hubPipeConns(t, 1)[0]
	// The custom validator owns the policy: a space is fine, upper case not.
	if err := h.TryJoin("with space", c); err != nil {
		t.Errorf("TryJoin(with space) = %v", err)
	}
	err = h.TryJoin("Upper", c)
	if !errors.Is(err, ErrInvalidRoomName) || !errors.Is(err, errNoUpper) {
		t.Errorf("TryJoin(Upper) = %v, want ErrInvalidRoomName wrapping the validator's error", err)
	}
	if r := h.BroadcastRoom("Upper", TextMessage, nil); !r.Invalid {
		t.Errorf("BroadcastRoom(Upper) = %+v, want Invalid", r)
	}
}

func TestHubMembershipAndLimits(t *testing.T) {
	h, err := NewHubWithConfig(HubConfig{MaxConnections: 3, MaxRoomConnections: 2, MaxRoomsPerConnection: 2, MaxRoomRegistrations: 5})
	if err != nil {
		t.Fatal(err)
	}
	cs := hubPipeConns(t, 4)
	steps := []struct {
		op   string
		room string
		conn int
		want error
	}{
		{"join", "a", 0, nil},
		{"join", "a", 0, nil}, // again: no-op
		{"join", "a", 1, nil},
		{"join", "a", 2, ErrRoomFull},
		{"join", "b", 0, nil},
		{"join", "c", 0, ErrTooManyRooms},
		{"join", "bad room", 0, ErrInvalidRoomName},
		{"join", "b", 2, nil},
		{"join", "c", 3, ErrHubFull}, // 4th member
		{"join", "c", 1, nil},        // 5 registrations now
		{"join", "d", 2, ErrHubFull}, // registrations
		{"leave", "a", 1, nil},
		{"join", "d", 2, nil},
		{"register", "", 3, ErrHubFull},
		{"remove", "", 0, nil},
		{"register", "", 3, nil},
		{"join", "a", -1, ErrNilConn},
	}
	for i, s := range steps {
		var c *Conn
		if s.conn >= 0 {
			c = cs[s.conn]
		}
		var err error
		switch s.op {
		case "join":
			err = h.TryJoin(s.room, c)
		case "leave":
			h.Leave(s.room, c)
		case "register":
			err = h.Register(c)
		case "remove":
			h.RemoveConn(c)
		}
		if !errors.Is(err, s.want) || (s.want == nil && err != nil) {
			t.Fatalf("step %d %s(%q, conn %d) = %v, want %v", i, s.op, s.room, s.conn, err, s.want)
		}
	}
	type state struct {
		Members, Regs int
		Rooms         map[string]int
	}
	got := state{h.GetActiveConnectionCount(), h.GetRoomRegistrationCount(), map[string]int{}}
	for _, r := range h.GetRooms() {
		got.Rooms[r] = h.GetRoomCount(r)
	}
	want := state{3, 3, map[string]int{"b": 1, "c": 1, "d": 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if err := h.CanJoin("b"); !errors.Is(err, ErrHubFull) {
		t.Errorf("CanJoin(b) with 3 of 3 members = %v, want ErrHubFull", err)
	}
	m := h.Metrics()
	if m.AcceptedTotal != 7 || m.RejectedTotal != 7 {
		t.Errorf("accepted/rejected = %d/%d, want 7/7", m.AcceptedTotal, m.RejectedTotal)
	}
	var visited []*Conn
	h.RangeConns("b", func(c *Conn) bool { visited = append(visited, c); return true })
	if len(visited) != 1 || visited[0] != cs[2] {
		t.Errorf("RangeConns(b) visited %v", visited)
	}
	h.Stop()
	if err := h.TryJoin("a", cs[0]); !errors.Is(err, ErrHubStopped) {
		t.Errorf("TryJoin after Stop = %v", err)
	}
	if err := h.CanJoin("a"); !errors.Is(err, ErrHubStopped) {
		t.Errorf("CanJoin after Stop = %v", err)
	}
	if r := h.BroadcastAll(TextMessage, []byte("x")); !r.Stopped || r.Attempted != 0 {
		t.Errorf("BroadcastAll after Stop = %+v", r)
	}
	if h.GetActiveConnectionCount() != 0 {
		t.Errorf("members after Stop: %d", h.GetActiveConnectionCount())
	}
}

func TestHubBadMessageType(t *testing.T) {
	h := NewHub(0, 0)
	if r := h.BroadcastAll(PingMessage, nil); !r.Invalid {
		t.Errorf("BroadcastAll(ping) = %+v", r)
	}
	if r := h.BroadcastRoom("a", CloseMessage, nil); !r.Invalid {
		t.Errorf("BroadcastRoom(close) = %+v", r)
	}
	c := hubPipeConns(t, 1)[0]
	if err := h.Send(c, TextMessage, nil); !errors.Is(err, ErrNotMember) {
		t.Errorf("Send to non-member = %v", err)
	}
	if err := h.Register(c); err != nil {
		t.Fatal(err)
	}
	if err := h.Send(c, PongMessage, nil); !errors.Is(err, ErrBadMessageType) {
		t.Errorf("Send(pong) = %v", err)
	}
}

// ---- delivery over loopback ----

// TestHubThousandConnections joins 1,000 clients to 10 rooms, broadcasts
// to rooms and to all, checks that every client gets exactly its
// messages in order, then shuts the hub down with everyone connected.
func TestHubThousandConnections(t *testing.T) {
	const (
		clients = 1000
		rooms   = 10
		rounds  = 5
	)
	h := NewHub(0, 0)
	url := hubServe(t, h, map[string]ServerConfig{"/ws": {}})

	type client struct {
		room int
		got  []string
		err  error
		done chan struct{}
	}
	cs := make([]*client, clients)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	dialErrs := make(chan error, clients)
	for i := range cs {
		cl := &client{room: i % rooms, done: make(chan struct{})}
		cs[i] = cl
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := Dial(ctx, fmt.Sprintf("%s/ws?room=room-%d", url, cl.room), nil)
			if err != nil {
				dialErrs <- err
				close(cl.done)
				return
			}
			go func() {
				defer close(cl.done)
				for {
					_, p, err := c.ReadMessage()
					if err != nil {
						cl.err = err
						return
					}
					cl.got = append(cl.got, string(p))
				}
			}()
		}()
	}
	wg.Wait()
	close(dialErrs)
	for err := range dialErrs {
		t.Fatalf("Dial: %v", err)
	}
	hubWaitMembers(t, h, clients)
	if n := len(h.GetRooms()); n != rooms {
		t.Fatalf("%d rooms, want %d", n, rooms)
	}

	want := make([][]string, rooms)
	for k := range rounds {
		for r := range rooms {
			msg := fmt.Sprintf("room-%d/%d", r, k)
			res := h.BroadcastRoom(fmt.Sprintf("room-%d", r), TextMessage, []byte(msg))
			if diff := cmp.Diff(BroadcastResult{Attempted: clients / rooms, Enqueued: clients / rooms}, res); diff != "" {
				t.Fatalf("BroadcastRoom (-want +got):\n%s", diff)
			}
			want[r] = append(want[r], msg)
		}
		msg := fmt.Sprintf("all/%d", k)
		res := h.BroadcastAll(TextMessage, []byte(msg))
		if diff := cmp.Diff(BroadcastResult{Attempted: clients, Enqueued: clients}, res); diff != "" {
			t.Fatalf("BroadcastAll (-want +got):\n%s", diff)
		}
		for r := range rooms {
			want[r] = append(want[r], msg)
		}
	}
	// Every message reaches everyone before the shutdown's close frame:
	// wait for the queues to empty.
	deadline := time.Now().Add(30 * time.Second)
	for h.Metrics().MessagesOut != uint64(clients*rounds*2) {
		if time.Now().After(deadline) {
			t.Fatalf("metrics after broadcasts: %+v", h.Metrics())
		}
		time.Sleep(5 * time.Millisecond)
	}
	m := hubSettle(t, h)
	if m.MessagesDropped != 0 || m.BytesOut == 0 {
		t.Errorf("metrics: %+v", m)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i, cl := range cs {
		select {
		case <-cl.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("client %d still reading after Shutdown", i)
		}
		if diff := cmp.Diff(want[cl.room], cl.got); diff != "" {
			t.Fatalf("client %d (room %d) messages (-want +got):\n%s", i, cl.room, diff)
		}
		if !IsCloseError(cl.err, CloseGoingAway) {
			t.Fatalf("client %d ended with %v, want close 1001", i, cl.err)
		}
	}
	hubNoGoroutines(t)
}

// TestHubOrderUnderLoad checks per-member order while the writers run
// concurrently with the broadcasts.
func TestHubOrderUnderLoad(t *testing.T) {
	const (
		clients = 10
		msgs    = 1000
	)
	h, err := NewHubWithConfig(HubConfig{SendQueueSize: 16, SendTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	url := hubServe(t, h, map[string]ServerConfig{"/ws": {}})
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		c := hubDial(t, url+"/ws?room=r", nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for want := uint64(0); want < msgs; want++ {
				_, p, err := c.ReadMessage()
				if err != nil {
					errs <- err
					return
				}
				if got := binary.BigEndian.Uint64(p); got != want {
					errs <- fmt.Errorf("got message %d, want %d", got, want)
					return
				}
			}
			c.Close(CloseNormalClosure, "")
		}()
	}
	hubWaitMembers(t, h, clients)
	for i := range msgs {
		if r := h.BroadcastRoom("r", BinaryMessage, hubPayload(uint64(i), 100)); r.Enqueued != clients {
			t.Fatalf("broadcast %d: %+v", i, r)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	hubWaitMembers(t, h, 0)
	hubSettle(t, h)
}

// TestHubIdleMembersHaveNoGoroutine checks that a member's writer exists
// only while its queue is non-empty.
func TestHubIdleMembersHaveNoGoroutine(t *testing.T) {
	h := NewHub(0, 0)
	url := hubServe(t, h, map[string]ServerConfig{"/ws": {}})
	var cs []*Conn
	for range 50 {
		cs = append(cs, hubDial(t, url+"/ws", nil))
	}
	hubWaitMembers(t, h, 50)
	before := runtime.NumGoroutine()
	h.BroadcastAll(TextMessage, []byte("hello"))
	for _, c := range cs {
		if _, p, err := c.ReadMessage(); err != nil || string(p) != "hello" {
			t.Fatalf("ReadMessage = %q, %v", p, err)
		}
	}
	hubNoGoroutines(t)
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines: %d before the broadcast, %d after delivery", before, after)
	}
	for _, c := range cs {
		c.Close(CloseNormalClosure, "")
	}
	hubWaitMembers(t, h, 0)
}

// TestHubWriterLingerAndRetire checks delivery across the lives of a
// member's writer: messages broadcast after gaps shorter than, around and
// longer than its linger period (a lingering writer is woken, a retired
// one started anew) all arrive, in order; idle writers then exit, and
// Stop ends lingering writers.
func TestHubWriterLingerAndRetire(t *testing.T) {
	h := NewHub(0, 0)
	url := hubServe(t, h, map[string]ServerConfig{"/ws": {}})
	const n = 20
	cs := make([]*Conn, n)
	for i := range cs {
		cs[i] = hubDial(t, url+"/ws?room=r", nil)
		_ = cs[i].SetReadDeadline(time.Now().Add(30 * time.Second)) // a lost wake-up fails, not hangs
	}
	hubWaitMembers(t, h, n)
	gaps := []time.Duration{0, 0, time.Millisecond, 20 * time.Millisecond,
		hubLinger / 2, hubLinger, hubLinger + hubLinger/2, 3 * hubLinger, 0}
	for i, gap := range gaps {
		time.Sleep(gap)
		if r := h.BroadcastRoom("r", BinaryMessage, hubPayload(uint64(i), 64)); r.Enqueued != n {
			t.Fatalf("broadcast %d: %+v", i, r)
		}
		for j, c := range cs {
			_, p, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("member %d, message %d: %v", j, i, err)
			}
			if got := binary.BigEndian.Uint64(p); got != uint64(i) {
				t.Fatalf("member %d got message %d, want %d", j, got, i)
			}
		}
	}
	hubNoGoroutines(t)
	h.liveMu.Lock()
	live := len(h.live)
	h.liveMu.Unlock()
	if w := h.writers.Load(); w != 0 || live != 0 {
		t.Fatalf("after the writers exited: %d writers, %d live members", w, live)
	}
	m := hubSettle(t, h)
	if want := uint64(n * len(gaps)); m.MessagesOut != want {
		t.Fatalf("MessagesOut = %d, want %d", m.MessagesOut, want)
	}

	// Writers lingering after a delivery end with Stop.
	h.BroadcastRoom("r", BinaryMessage, hubPayload(99, 64))
	for _, c := range cs {
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	h.Stop()
	hubNoGoroutines(t)
	if w := h.writers.Load(); w != 0 {
		t.Fatalf("after Stop: %d writers", w)
	}
}

// TestHubWriteTimeoutStuckMember checks that WriteTimeout still bounds
// every write although the writer keeps its deadline across batches: a
// member that stops reading is removed (WriteErrors) about WriteTimeout
// after its writes block, while a reading member keeps receiving.
func TestHubWriteTimeoutStuckMember(t *testing.T) {
	const timeout = 300 * time.Millisecond
	h, err := NewHubWithConfig(HubConfig{WriteTimeout: timeout, SendBehavior: SendDrop})
	if err != nil {
		t.Fatal(err)
	}
	url := hubServe(t, h, map[string]ServerConfig{"/ws": {}})
	fast := hubDial(t, url+"/ws?room=r", nil)
	hubDialRaw(t, url+"/ws?room=r") // a member that never reads
	hubWaitMembers(t, h, 2)
	var received atomic.Int64
	go func() {
		for {
			if _, _, err := fast.ReadMessage(); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	payload := make([]byte, 16<<10)
	start := time.Now()
	for h.GetActiveConnectionCount() == 2 {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the stuck member was not removed in 20 s (WriteTimeout %v): %+v", timeout, h.Metrics())
		}
		h.BroadcastRoom("r", BinaryMessage, payload)
		time.Sleep(time.Millisecond)
	}
	// The member's reader may remove it (its Conn failed on the timeout)
	// just before the hub's writer counts the write error.
	for wait := time.Now().Add(10 * time.Second); h.Metrics().WriteErrors != 1; {
		if time.Now().After(wait) {
			t.Fatalf("WriteErrors = %d, want 1: %+v", h.Metrics().WriteErrors, h.Metrics())
		}
		time.Sleep(time.Millisecond)
	}
	// The reading member is still served.
	before := received.Load()
	if r := h.BroadcastRoom("r", BinaryMessage, payload); r.Enqueued != 1 {
		t.Fatalf("broadcast after the removal: %+v", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for received.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("the reading member got nothing after the removal")
		}
		time.Sleep(time.Millisecond)
	}
}

// hubSlowSetup serves a hub with a fast route (big queue) and a slow one
// (queue of 4 with the given behavior), connects a reading fast client
// and a raw slow client to room "r", and fills the slow member's path
// until a broadcast does not queue for it. It returns the hub, the slow
// client, the sequence numbers queued for the slow member so far, and
// the next sequence number.
func hubSlowSetup(t *testing.T, b SendBehavior, timeout time.Duration) (h *Hub, fast *Conn, slow *hubRawClient, queued []uint64, next uint64, first BroadcastResult) {
	t.Helper()
	h, err := NewHubWithConfig(HubConfig{WriteTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	url := hubServe(t, h, map[string]ServerConfig{
		"/fast": {QueueSize: 1 << 16, SendBehavior: SendBlock, SendTimeout: 10 * time.Second},
		"/slow": {QueueSize: 4, SendBehavior: b, SendTimeout: timeout},
	})
	fast = hubDial(t, url+"/fast?room=r", nil)
	slow = hubDialRaw(t, url+"/slow?room=r")
	hubWaitMembers(t, h, 2)
	for next = 0; ; next++ {
		if next > 100_000 {
			t.Fatal("the slow member never filled up")
		}
		r := h.BroadcastRoom("r", BinaryMessage, hubPayload(next, 4<<10))
		if r.Enqueued == 2 {
			queued = append(queued, next)
			continue
		}
		next++
		return h, fast, slow, queued, next, r
	}
}

// hubReadFast reads n messages from the fast client, checking order.
func hubReadFast(t *testing.T, c *Conn, n uint64) {
	t.Helper()
	for want := uint64(0); want < n; want++ {
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("fast client: %v after %d messages", err, want)
		}
		if got := binary.BigEndian.Uint64(p); got != want {
			t.Fatalf("fast client got %d, want %d", got, want)
		}
	}
}

func TestHubSendDropSlowConsumer(t *testing.T) {
	h, fast, slow, queued, next, first := hubSlowSetup(t, SendDrop, 0)
	defer fast.CloseNow() // also keeps it from the collector (and its fd finalizer)
	if diff := cmp.Diff(BroadcastResult{Attempted: 2, Enqueued: 1, Dropped: 1}, first); diff != "" {
		t.Fatalf("first full broadcast (-want +got):\n%s", diff)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc
	// 1,000 more messages of 16 KiB (16 MB) for a member that reads none.
	// The fast member takes them all; the slow one's are dropped (counted)
	// or, if its path frees up, queued.
	const more = 1000
	var dropped int
	fastDone := make(chan struct{})
	go func() { defer close(fastDone); hubReadFast(t, fast, next+more) }()
	for i := range uint64(more) {
		r := h.BroadcastRoom("r", BinaryMessage, hubPayload(next+i, 16<<10))
		if r.Attempted != 2 || r.Enqueued+r.Dropped != 2 || r.Enqueued < 1 {
			t.Fatalf("broadcast %d: %+v", next+i, r)
		}
		if r.Dropped == 1 {
			dropped++
		} else {
			queued = append(queued, next+i)
		}
	}
	<-fastDone
	runtime.GC()
	runtime.ReadMemStats(&ms)
	grew := int64(ms.HeapAlloc) - int64(heapBefore)
	t.Logf("heap growth over 16 MB sent to a non-reading member: %d bytes", grew)
	if grew > 4<<20 {
		t.Errorf("heap grew by %d bytes while a non-reading member was sent 16 MB", grew)
	}
	if dropped < more*9/10 {
		t.Errorf("only %d of %d dropped for a member that does not read", dropped, more)
	}
	m := h.Metrics()
	if m.BroadcastDropped != uint64(dropped+1) || m.MessagesDropped != uint64(dropped+1) {
		t.Errorf("metrics dropped %d/%d, want %d: %+v", m.BroadcastDropped, m.MessagesDropped, dropped+1, m)
	}
	if m.QueuedMessages > 4 {
		t.Errorf("QueuedMessages = %d, over the queue size", m.QueuedMessages)
	}
	// The slow client reads now: it gets exactly the messages queued for
	// it, in order, and stays connected.
	got := slow.readN(t, len(queued))
	if diff := cmp.Diff(queued, got); diff != "" {
		t.Errorf("slow client messages (-want +got):\n%s", diff)
	}
	if h.GetActiveConnectionCount() != 2 {
		t.Errorf("members = %d, want 2 (SendDrop keeps the member); metrics %+v", h.GetActiveConnectionCount(), h.Metrics())
	}
	hubSettle(t, h)
}

func TestHubSendBlockSlowConsumer(t *testing.T) {
	const timeout = 100 * time.Millisecond
	h, fast, slow, queued, next, first := hubSlowSetup(t, SendBlock, timeout)
	if diff := cmp.Diff(BroadcastResult{Attempted: 2, Enqueued: 1, Dropped: 1}, first); diff != "" {
		t.Fatalf("first full broadcast (-want +got):\n%s", diff)
	}
	// While the slow client does not read, each broadcast waits the send
	// timeout, once, and drops the message for it.
	for i := range uint64(3) {
		start := time.Now()
		r := h.BroadcastRoom("r", BinaryMessage, hubPayload(next, 4<<10))
		took := time.Since(start)
		if diff := cmp.Diff(BroadcastResult{Attempted: 2, Enqueued: 1, Dropped: 1}, r); diff != "" {
			t.Fatalf("broadcast %d (-want +got):\n%s", i, diff)
		}
		if took < timeout || took > 10*timeout {
			t.Errorf("blocked broadcast took %v, want about %v", took, timeout)
		}
		next++
	}
	// A broadcast with a long timeout waits until the client reads.
	h2pol := &hubPolicy{queueCap: 4, timeout: 30 * time.Second, behavior: SendBlock}
	h.mu.RLock()
	for m := range h.rooms["r"] {
		if m.pol.queueCap == 4 {
			m.mu.Lock()
			m.pol = h2pol // test only: the slow member now waits up to 30 s
			m.mu.Unlock()
		}
	}
	h.mu.RUnlock()
	fastDone := make(chan struct{})
	go func() { defer close(fastDone); hubReadFast(t, fast, next+1) }()
	resc := make(chan BroadcastResult)
	start := time.Now()
	go func() { resc <- h.BroadcastRoom("r", BinaryMessage, hubPayload(next, 4<<10)) }()
	time.Sleep(200 * time.Millisecond)
	got := slow.readN(t, len(queued)+1)
	r := <-resc
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("blocked broadcast took %v", took)
	}
	if diff := cmp.Diff(BroadcastResult{Attempted: 2, Enqueued: 2}, r); diff != "" {
		t.Fatalf("broadcast released by the reader (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(append(queued, next), got); diff != "" {
		t.Errorf("slow client messages (-want +got):\n%s", diff)
	}
	<-fastDone
	m := hubSettle(t, h)
	if m.BroadcastDropped != 4 || m.MessagesDropped != 4 {
		t.Errorf("dropped %d/%d, want 4: %+v", m.BroadcastDropped, m.MessagesDropped, m)
	}
}

// TestHubSendBlockSharedDeadline checks that one broadcast waits one send
// timeout in all, not one per slow member.
func TestHubSendBlockSharedDeadline(t *testing.T) {
	const timeout = 150 * time.Millisecond
	h, err := NewHubWithConfig(HubConfig{SendQueueSize: 1, SendTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	url := hubServe(t, h, map[string]ServerConfig{"/ws": {}})
	for range 5 {
		hubDialRaw(t, url+"/ws?room=r")
	}
	hubWaitMembers(t, h, 5)
	var r BroadcastResult
	for i := 0; r.Dropped == 0; i++ {
		if i > 100_000 {
			t.Fatal("never full")
		}
		r = h.BroadcastRoom("r", BinaryMessage, hubPayload(uint64(i), 64<<10))
	}
	// Fill every member, then time one broadcast.
	for range 6 {
		h.BroadcastRoom("r", BinaryMessage, hubPayload(0, 64<<10))
	}
	start := time.Now()
	r = h.BroadcastRoom("r", BinaryMessage, hubPayload(0, 64<<10))
	took := time.Since(start)
	if r.Dropped != 5 {
		t.Fatalf("result %+v, want 5 dropped", r)
	}
	if took < timeout || took > 3*timeout {
		t.Errorf("broadcast to 5 blocked members took %v, want about %v", took, timeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	// The raw clients never answer: Shutdown gives up at ctx's end, and
	// still leaves no goroutine behind.
	if err := h.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	hubNoGoroutines(t)
}

func TestHubSendCloseSlowConsumer(t *testing.T) {
	h, fast, slow, queued, next, first := hubSlowSetup(t, SendClose, 0)
	if diff := cmp.Diff(BroadcastResult{Attempted: 2, Enqueued: 1, Closed: 1}, first); diff != "" {
		t.Fatalf("first full broadcast (-want +got):\n%s", diff)
	}
	if n := h.GetActiveConnectionCount(); n != 1 {
		t.Errorf("members after the close: %d, want 1", n)
	}
	r := h.BroadcastRoom("r", BinaryMessage, hubPayload(next, 4<<10))
	if diff := cmp.Diff(BroadcastResult{Attempted: 1, Enqueued: 1}, r); diff != "" {
		t.Errorf("broadcast after the close (-want +got):\n%s", diff)
	}
	hubReadFast(t, fast, next+1)
	// The slow client reads now: a prefix of what was queued for it (the
	// rest was discarded with the queue), then close 1008.
	got, code, reason := slow.readUntilClose(t)
	if code != int(SlowConsumerCloseCode) || reason != "slow consumer" {
		t.Errorf("close %d %q, want %d \"slow consumer\"", code, reason, SlowConsumerCloseCode)
	}
	if len(got) > len(queued) || (len(got) > 0 && cmp.Diff(queued[:len(got)], got) != "") {
		t.Errorf("slow client got %v, want a prefix of %v", got, queued)
	}
	m := hubSettle(t, h)
	if m.SlowConsumerCloses != 1 || m.BroadcastClosed != 1 {
		t.Errorf("slow consumer closes %d, broadcast closed %d; want 1, 1", m.SlowConsumerCloses, m.BroadcastClosed)
	}
	// Everything queued for the slow member and not received was counted.
	if lost := m.MessagesDropped - 1; lost != uint64(len(queued)-len(got)) {
		t.Errorf("dropped after queueing = %d, want %d (queued %d, received %d)", lost, len(queued)-len(got), len(queued), len(got))
	}
	// The fast client reads on, so that it answers the shutdown's close.
	fastErr := make(chan error, 1)
	go func() {
		for {
			if _, _, err := fast.ReadMessage(); err != nil {
				fastErr <- err
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v\n%s", err, hubAllStacks())
	}
	if err := <-fastErr; !IsCloseError(err, CloseGoingAway) {
		t.Errorf("fast client ended with %v, want 1001", err)
	}
	hubNoGoroutines(t)
}

func TestHubShutdownLiveMembers(t *testing.T) {
	h := NewHub(0, 0)
	url := hubServe(t, h, map[string]ServerConfig{"/ws": {}})
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		c := hubDial(t, url+"/ws?room=r"+strconv.Itoa(i%3), nil)
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	hubWaitMembers(t, h, n)
	h.BroadcastAll(TextMessage, []byte("bye soon"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Shutdown took %v", took)
	}
	for range n {
		if err := <-errs; !IsCloseError(err, CloseGoingAway) {
			t.Errorf("client ended with %v, want 1001", err)
		}
	}
	hubNoGoroutines(t)
	// Refuses new members; the server answers 503.
	if err := h.Register(hubPipeConns(t, 1)[0]); !errors.Is(err, ErrHubStopped) {
		t.Errorf("Register after Shutdown = %v", err)
	}
	_, resp, err := Dial(context.Background(), url+"/ws", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Dial after Shutdown: %v, %v", resp, err)
	}
	if err := h.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestHubSendKeepsOrderWithBroadcasts(t *testing.T) {
	h := NewHub(0, 0)
	url := hubServe(t, h, map[string]ServerConfig{"/ws": {}})
	c := hubDial(t, url+"/ws?room=r", nil)
	hubWaitMembers(t, h, 1)
	var member *Conn
	h.RangeConns("r", func(c *Conn) bool { member = c; return false })
	for i := range uint64(100) {
		if i%2 == 0 {
			h.BroadcastRoom("r", BinaryMessage, hubPayload(i, 8))
		} else if err := h.Send(member, BinaryMessage, hubPayload(i, 8)); err != nil {
			t.Fatal(err)
		}
	}
	for want := range uint64(100) {
		_, p, err := c.ReadMessage()
		if err != nil || binary.BigEndian.Uint64(p) != want {
			t.Fatalf("message %d: %x, %v", want, p, err)
		}
	}
	c.Close(CloseNormalClosure, "")
	hubWaitMembers(t, h, 0)
	if err := h.Send(member, TextMessage, nil); !errors.Is(err, ErrNotMember) {
		t.Errorf("Send to a removed member = %v", err)
	}
}

// hubPrepared prepares binary messages carrying sequence numbers from..to-1.
func hubPrepared(t testing.TB, from, to uint64) []*PreparedMessage {
	t.Helper()
	var pms []*PreparedMessage
	for i := from; i < to; i++ {
		pm, err := NewPreparedMessage(BinaryMessage, hubPayload(i, 16))
		if err != nil {
			t.Fatal(err)
		}
		pms = append(pms, pm)
	}
	return pms
}

// hubReadSeqs reads n messages from c and returns their sequence numbers.
func hubReadSeqs(t testing.TB, c *Conn, n int) []uint64 {
	t.Helper()
	var got []uint64
	for range n {
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read after %v: %v", got, err)
		}
		got = append(got, binary.BigEndian.Uint64(p))
	}
	return got
}

func TestHubBroadcastPreparedMessages(t *testing.T) {
	h := NewHub(0, 0)
	url := hubServe(t, h, map[string]ServerConfig{"/ws": {}})
	var inA, inB []*Conn
	for i := range 5 {
		if i < 3 {
			inA = append(inA, hubDial(t, url+"/ws?room=a", nil))
		} else {
			inB = append(inB, hubDial(t, url+"/ws?room=b", nil))
		}
	}
	hubWaitMembers(t, h, 5)

	r := h.BroadcastPreparedMessages("a", hubPrepared(t, 0, 10)...)
	if diff := cmp.Diff(BroadcastResult{Attempted: 30, Enqueued: 30}, r); diff != "" {
		t.Errorf("room batch (-want +got):\n%s", diff)
	}
	// Single broadcasts and batches keep one order per member.
	h.BroadcastRoom("a", BinaryMessage, hubPayload(10, 16))
	r = h.BroadcastAllPreparedMessages(hubPrepared(t, 11, 15)...)
	if diff := cmp.Diff(BroadcastResult{Attempted: 20, Enqueued: 20}, r); diff != "" {
		t.Errorf("batch to all (-want +got):\n%s", diff)
	}
	for _, c := range inA {
		want := []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
		if diff := cmp.Diff(want, hubReadSeqs(t, c, len(want))); diff != "" {
			t.Errorf("room a member (-want +got):\n%s", diff)
		}
	}
	for _, c := range inB {
		want := []uint64{11, 12, 13, 14}
		if diff := cmp.Diff(want, hubReadSeqs(t, c, len(want))); diff != "" {
			t.Errorf("room b member (-want +got):\n%s", diff)
		}
	}
	m := hubSettle(t, h)
	if m.BroadcastAttempted != 53 || m.MessagesOut != 53 {
		t.Errorf("attempted %d, out %d; want 53, 53", m.BroadcastAttempted, m.MessagesOut)
	}

	// Nothing, or a nil message: nothing attempted.
	if r := h.BroadcastAllPreparedMessages(); r != (BroadcastResult{}) {
		t.Errorf("empty batch: %+v", r)
	}
	pms := hubPrepared(t, 15, 17)
	if r := h.BroadcastPreparedMessages("a", pms[0], nil, pms[1]); r != (BroadcastResult{Invalid: true}) {
		t.Errorf("batch with a nil message: %+v", r)
	}
	if r := h.BroadcastPreparedMessages("nobody", pms...); r != (BroadcastResult{}) {
		t.Errorf("batch to an empty room: %+v", r)
	}
	if m := h.Metrics(); m.BroadcastAttempted != 53 {
		t.Errorf("attempted %d after refused batches, want 53", m.BroadcastAttempted)
	}
	h.Stop()
	if r := h.BroadcastAllPreparedMessages(pms...); !r.Stopped || r.Attempted != 0 {
		t.Errorf("batch after Stop: %+v", r)
	}
}

// hubPipeMember registers a server Conn over net.Pipe whose peer reads
// only when the returned function is called (it then reads n frames and
// returns their sequence numbers): until then the member's writer blocks
// in its first write.
func hubPipeMember(t *testing.T, h *Hub) (read func(n int) []uint64, peer *Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	if err := h.Register(NewConn(a, RoleServer, nil)); err != nil {
		t.Fatal(err)
	}
	peer = NewConn(b, RoleClient, nil)
	return func(n int) []uint64 { return hubReadSeqs(t, peer, n) }, peer
}

// TestHubBatchFullQueue checks the send policies when a batch does not
// fit in a member's queue: the messages that fit are queued, in order,
// and the policy applies to the rest.
func TestHubBatchFullQueue(t *testing.T) {
	for _, b := range []SendBehavior{SendDrop, SendClose, SendBlock} {
		t.Run(b.String(), func(t *testing.T) {
			h, err := NewHubWithConfig(HubConfig{SendQueueSize: 4, SendBehavior: b, SendTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Stop()
			read, peer := hubPipeMember(t, h)
			// The member's writer starts after the batch is queued, so
			// exactly 4 of the 10 messages fit.
			resc := make(chan BroadcastResult, 1)
			go func() { resc <- h.BroadcastAllPreparedMessages(hubPrepared(t, 0, 10)...) }()
			var want BroadcastResult
			var seqs []uint64
			switch b {
			case SendDrop:
				want = BroadcastResult{Attempted: 10, Enqueued: 4, Dropped: 6}
				seqs = []uint64{0, 1, 2, 3}
			case SendClose:
				want = BroadcastResult{Attempted: 10, Enqueued: 4, Closed: 6}
				seqs = nil // the queue was discarded; the writer may have taken it first
			case SendBlock:
				// The broadcast waits for room while the peer reads.
				want = BroadcastResult{Attempted: 10, Enqueued: 10}
				seqs = []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
			}
			if b == SendBlock {
				time.Sleep(20 * time.Millisecond) // the broadcast is waiting
			}
			if seqs != nil {
				if diff := cmp.Diff(seqs, read(len(seqs))); diff != "" {
					t.Errorf("member got (-want +got):\n%s", diff)
				}
			}
			r := <-resc
			if diff := cmp.Diff(want, r); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			m := h.Metrics()
			if b == SendClose {
				if m.SlowConsumerCloses != 1 || m.BroadcastClosed != 6 || h.GetActiveConnectionCount() != 0 {
					t.Errorf("after SendClose: %+v", m)
				}
				// The peer reads what the writer had taken, then the close.
				var err error
				for err == nil {
					_, _, err = peer.ReadMessage()
				}
				peer.CloseNow() // the server waits for the peer to hang up
				if !IsCloseError(err, SlowConsumerCloseCode) {
					t.Errorf("peer ended with %v, want %d", err, SlowConsumerCloseCode)
				}
				return
			}
			m = hubSettle(t, h)
			if m.BroadcastDropped != uint64(want.Dropped) || m.MessagesOut != uint64(want.Enqueued) {
				t.Errorf("metrics: %+v", m)
			}
		})
	}
}

// TestHubBatchSendBlockOneTimeout checks that a batch that finds a member
// full waits one send timeout in all, not one per message.
func TestHubBatchSendBlockOneTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	h, err := NewHubWithConfig(HubConfig{SendQueueSize: 2, SendTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop()
	read, _ := hubPipeMember(t, h)
	start := time.Now()
	r := h.BroadcastAllPreparedMessages(hubPrepared(t, 0, 8)...)
	took := time.Since(start)
	// 2 fit; the writer then takes them and blocks writing the first, so
	// 2 more fit; the last 4 wait one timeout and are dropped.
	if diff := cmp.Diff(BroadcastResult{Attempted: 8, Enqueued: 4, Dropped: 4}, r); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if took < timeout || took > 3*timeout {
		t.Errorf("batch took %v, want about %v", took, timeout)
	}
	if diff := cmp.Diff([]uint64{0, 1, 2, 3}, read(4)); diff != "" {
		t.Errorf("member got (-want +got):\n%s", diff)
	}
	hubSettle(t, h)
}

// TestHubDeferredKicks checks the writers of a fan-out to hubDeferMin
// members or more: they are kicked only once no fan-out is in progress
// (so they find the whole burst queued), never later than hubDeferRounds
// fan-outs, and Stop kicks those still pending (it does not hang on them).
func TestHubDeferredKicks(t *testing.T) {
	n := hubDeferMin + 16
	h, err := NewHubWithConfig(HubConfig{MaxConnections: NoLimit})
	if err != nil {
		t.Fatal(err)
	}
	h.kickAge = int64(time.Hour) // only the count of fan-outs bounds the wait here
	var members []*hubMember
	got := make([]chan uint64, n)
	for i := range n {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		c := NewConn(a, RoleServer, nil)
		if err := h.Register(c); err != nil {
			t.Fatal(err)
		}
		members = append(members, h.members[c])
		got[i] = make(chan uint64, 64)
		peer := NewConn(b, RoleClient, nil)
		go func() {
			for {
				_, p, err := peer.ReadMessage()
				if err != nil {
					return
				}
				got[i] <- binary.BigEndian.Uint64(p)
			}
		}()
	}
	expect := func(from, to uint64) {
		t.Helper()
		for i := range got {
			for want := from; want < to; want++ {
				select {
				case seq := <-got[i]:
					if seq != want {
						t.Fatalf("member %d got %d, want %d", i, seq, want)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("member %d: message %d not received", i, want)
				}
			}
		}
	}

	// A fan-out in progress elsewhere holds the kicks: a burst of 4 is
	// queued whole, no writer started.
	h.beginDeferred()
	for i := range uint64(4) {
		if r := h.BroadcastAll(BinaryMessage, hubPayload(i, 8)); r.Enqueued != n {
			t.Fatalf("broadcast %d: %+v", i, r)
		}
	}
	h.liveMu.Lock()
	started := len(h.live)
	h.liveMu.Unlock()
	if started != 0 {
		t.Errorf("%d writers started during the fan-outs, want 0", started)
	}
	for _, m := range members {
		m.mu.Lock()
		queued := m.n
		m.mu.Unlock()
		if queued != 4 {
			t.Fatalf("a member has %d messages queued, want the 4 of the burst", queued)
		}
	}
	h.endDeferred(nil, nil) // that fan-out ends: the timer kicks them
	expect(0, 4)
	hubSettle(t, h)

	// Fan-outs that never stop overlapping still get their writers kicked
	// (now lingering: woken) after hubDeferRounds of them.
	h.beginDeferred()
	for i := range uint64(hubDeferRounds) {
		h.BroadcastAll(BinaryMessage, hubPayload(4+i, 8))
	}
	expect(4, 4+hubDeferRounds)
	h.endDeferred(nil, nil)
	hubSettle(t, h)

	// Stop with kicks pending.
	h.beginDeferred()
	h.BroadcastAll(BinaryMessage, hubPayload(99, 8))
	stopped := make(chan struct{})
	go func() { h.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatalf("Stop hangs with writer kicks pending:\n%s", hubAllStacks())
	}
	hubNoGoroutines(t)
}

func TestHubLogger(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	h, err := NewHubWithConfig(HubConfig{SendQueueSize: 1, SendBehavior: SendClose, Logger: hubTestLogger(&mu, &buf)})
	if err != nil {
		t.Fatal(err)
	}
	url := hubServe(t, h, map[string]ServerConfig{"/ws": {}})
	hubDialRaw(t, url+"/ws?room=r")
	hubWaitMembers(t, h, 1)
	for i := 0; h.Metrics().SlowConsumerCloses == 0; i++ {
		if i > 100_000 {
			t.Fatal("never closed")
		}
		h.BroadcastRoom("r", BinaryMessage, hubPayload(0, 64<<10))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = h.Shutdown(ctx)
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"slow consumer closed", "shutting down"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
}

// hubTestLogger logs everything as text into buf.
func hubTestLogger(mu *sync.Mutex, buf *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(hubLockedWriter{mu, buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type hubLockedWriter struct {
	mu  *sync.Mutex
	buf *strings.Builder
}

func (w hubLockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// ---- benchmarks ----

// BenchmarkHubBroadcast broadcasts 1 KiB messages to 1,000 connections
// over loopback, each read by a client; deliveries/s counts messages
// written to members per second, until the last is read.
func BenchmarkHubBroadcast(b *testing.B) {
	for _, n := range []int{1000} {
		b.Run(fmt.Sprintf("conns=%d/1KiB", n), func(b *testing.B) {
			h, err := NewHubWithConfig(HubConfig{SendQueueSize: 1024, SendTimeout: 10 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			url := hubServe(b, h, map[string]ServerConfig{"/ws": {}})
			var received atomic.Int64
			var wg sync.WaitGroup
			for range n {
				c := hubDial(b, url+"/ws?room=bench", nil)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						_, r, err := c.NextReader()
						if err != nil {
							return
						}
						_, _ = io.Copy(io.Discard, r)
						received.Add(1)
					}
				}()
			}
			hubWaitMembers(b, h, n)
			pm, _ := NewPreparedMessage(BinaryMessage, make([]byte, 1024))
			b.ReportAllocs()
			b.SetBytes(int64(1024 * n))
			var want int64
			start := time.Now()
			for b.Loop() {
				r := h.BroadcastPrepared("bench", pm)
				want += int64(r.Enqueued)
			}
			for received.Load() < want {
				time.Sleep(100 * time.Microsecond)
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
			b.ReportMetric(float64(h.Metrics().MessagesDropped), "dropped")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = h.Shutdown(ctx)
			wg.Wait()
		})
	}
}

// BenchmarkHubMemberMemory reports the heap a hub member costs (B/member):
// the member's state and its room and registry entries, its connection
// not included. A member that has received messages keeps a queue ring of
// up to 8 slots (64 B) besides.
func BenchmarkHubMemberMemory(b *testing.B) {
	const n = 10_000
	for b.Loop() {
		cs := hubPipeConns(b, n)
		h, err := NewHubWithConfig(HubConfig{MaxConnections: NoLimit})
		if err != nil {
			b.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		for i, c := range cs {
			if err := h.TryJoin("room-"+strconv.Itoa(i%100), c); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc-before)/n, "B/member")
		runtime.KeepAlive(cs)
		runtime.KeepAlive(h)
	}
}
