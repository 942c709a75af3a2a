package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rfc6455/websocket"
)

// nodeTimeout bounds each Node test as a whole.
const nodeTimeout = 75 * time.Second

// fragmentSizes are the sizes of the fragmented-message cases.
var fragmentSizes = []int{0, 126, 64 << 10, 1 << 20}

// Ping payloads of the ping cases: the largest a control frame carries
// (125 bytes), with non-ASCII on purpose. midPing goes out between the
// fragments of a message.
var (
	nodePing = fill("node-ping ✓", 125)
	goPing   = fill("go-ping ✓", 125)
)

const midPing = "ping between fragments"

// midSize is the size of the binary message a ping interrupts.
const midSize = 1 << 20

// deflateOpts is ws's perMessageDeflate option object with threshold 0
// (compress every message, the empty one included) plus extra settings.
func deflateOpts(extra map[string]any) map[string]any {
	o := map[string]any{"threshold": 0}
	for k, v := range extra {
		o[k] = v
	}
	return map[string]any{"perMessageDeflate": o}
}

func serverConfig(writeBuf int, co *websocket.CompressionOptions) *websocket.Config {
	return &websocket.Config{Options: websocket.Options{WriteBufferSize: writeBuf, Compression: co}}
}

// nodeClientEndpoints are the echo endpoints ws-client.js runs.
func nodeClientEndpoints() []*echoEndpoint {
	off := map[string]any{"perMessageDeflate": false}
	all := &websocket.CompressionOptions{Threshold: -1}
	takeover := &websocket.CompressionOptions{Threshold: -1, ContextTakeover: true}
	return []*echoEndpoint{
		{Name: "plain", Path: "/ws/plain", Sizes: echoSizes, PeerOptions: off,
			cfg: serverConfig(0, nil)},
		// ws offers permessage-deflate by default; a server without
		// Compression must decline it.
		{Name: "plain-offered", Path: "/ws/plain-offered", Sizes: smallSizes, PeerOptions: map[string]any{},
			cfg: serverConfig(0, nil)},
		{Name: "deflate-not-offered", Path: "/ws/deflate-not-offered", Sizes: smallSizes, PeerOptions: off,
			cfg: serverConfig(0, all)},
		{Name: "deflate", Path: "/ws/deflate", Sizes: echoSizes, Deflate: true, PeerOptions: deflateOpts(nil),
			cfg: serverConfig(0, all)},
		{Name: "deflate-takeover", Path: "/ws/deflate-takeover", Sizes: smallSizes, Deflate: true,
			PeerOptions: deflateOpts(nil), cfg: serverConfig(0, takeover)},
		{Name: "deflate-nct", Path: "/ws/deflate-nct", Sizes: smallSizes, Deflate: true,
			PeerOptions: deflateOpts(map[string]any{"serverNoContextTakeover": true, "clientNoContextTakeover": true}),
			cfg:         serverConfig(0, takeover)},
		// Our compressor with a 1 KiB window (server_max_window_bits=10),
		// ws's with client_max_window_bits=10.
		{Name: "deflate-bits", Path: "/ws/deflate-bits", Sizes: smallSizes, Deflate: true,
			PeerOptions: deflateOpts(map[string]any{"serverMaxWindowBits": 10, "clientMaxWindowBits": 10}),
			cfg:         serverConfig(0, takeover)},
		// ws sends each message as 5 fragments ({fin: false}); we echo it
		// with NextWriter in 4 writes of 1000-byte fragments.
		{Name: "plain-fragments", Path: "/ws/plain-fragments", Sizes: fragmentSizes, Fragments: 5, PeerOptions: off,
			cfg: serverConfig(1000, nil), writePieces: 4},
		{Name: "deflate-fragments", Path: "/ws/deflate-fragments", Sizes: fragmentSizes, Fragments: 5, Deflate: true,
			PeerOptions: deflateOpts(nil), cfg: serverConfig(1000, all), writePieces: 4},
	}
}

// TestNodeClient runs ws-client.js (Node's ws) against our server.
func TestNodeClient(t *testing.T) {
	t.Parallel()
	node := nodePath(t)
	endpoints := nodeClientEndpoints()
	res := newResults()
	closes := &closeEndpoints{
		res:          res,
		serverCode:   4001,
		serverReason: fill("go server bye ✓", 123),
		peerCode:     4002,
		peerReason:   fill("node client bye ✓", 123),
	}
	mux := http.NewServeMux()
	for _, e := range endpoints {
		mux.HandleFunc(e.Path, func(w http.ResponseWriter, r *http.Request) { e.serve(res, w, r) })
	}
	closes.register(mux)
	mux.HandleFunc("/ws/ping", func(w http.ResponseWriter, r *http.Request) { servePing(res, w, r) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var want []string
	for _, e := range endpoints {
		want = append(want, "node/"+e.Name+"/open")
		want = append(want, e.echoCases("node")...)
		want = append(want, "node/"+e.Name+"/close")
		want = append(want, e.serverCases()...)
	}
	want = append(want, "node/ping/client-ping", "node/ping/server-ping", "node/ping/mid-message",
		"server/ping/ping", "server/ping/pong", "server/ping/pong-mid", "server/ping/close")
	want = append(want, "node/subprotocol", "node/subprotocol-none", "node/server-close", "node/client-close")
	want = append(want, closes.serverCases()...)

	plan, err := json.Marshal(map[string]any{
		"base":         "ws://" + srv.Listener.Addr().String(),
		"endpoints":    endpoints,
		"pingPath":     "/ws/ping",
		"nodePing":     nodePing,
		"goPing":       goPing,
		"midPing":      midPing,
		"midSize":      midSize,
		"serverCode":   closes.serverCode,
		"serverReason": closes.serverReason,
		"peerCode":     closes.peerCode,
		"peerReason":   closes.peerReason,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	cmd := exec.Command(node, "ws-client.js", string(plan))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	log := new(tail)
	cmd.Stderr = log
	cmd.WaitDelay = 3 * time.Second
	startGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	defer killGroup(cmd)
	stop := context.AfterFunc(ctx, func() { killGroup(cmd) })
	defer stop()
	jsonLines(stdout, log, func(line []byte) {
		var rep report
		if err := json.Unmarshal(line, &rep); err != nil || rep.Case == "" {
			res.fail("node/bad-report", "bad report %q: %v", line, err)
			return
		}
		res.add(rep)
	})
	if err := cmd.Wait(); err != nil {
		t.Errorf("node ws-client.js: %v (ctx: %v)", err, ctx.Err())
	}
	res.waitFor(want, 5*time.Second, ctx.Done())
	res.assert(t, want)
	if t.Failed() {
		t.Logf("ws-client.js output (tail):\n%s", log)
	}
}

// servePing answers the Node client's ping; when it sends "ping-me" it
// pings it and reports the pong in a text message; when it sends
// "ping-mid" it sends a binary message of midSize in two fragments with a
// ping between them.
func servePing(res *results, w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Upgrade(w, r, nil)
	if err != nil {
		res.fail("server/ping/close", "upgrade: %v", err)
		return
	}
	defer c.CloseNow()
	c.SetPingHandler(func(data []byte) {
		res.check("server/ping/ping", diff("ping payload", string(data), nodePing))
	})
	c.SetPongHandler(func(data []byte) {
		switch string(data) {
		case midPing:
			res.pass("server/ping/pong-mid")
		default:
			res.check("server/ping/pong", diff("pong payload", string(data), goPing))
			_ = c.WriteMessage(websocket.TextMessage, []byte("pong-seen:"+string(data)))
		}
	})
	for {
		_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
		mt, p, err := c.ReadMessage()
		if err != nil {
			res.check("server/ping/close", wantClose(err, websocket.CloseNormalClosure, "done"))
			return
		}
		if mt != websocket.TextMessage {
			continue
		}
		switch string(p) {
		case "ping-me":
			if err := c.Ping([]byte(goPing)); err != nil {
				res.fail("server/ping/pong", "Ping: %v", err)
			}
		case "ping-mid":
			if err := pingMidMessage(c); err != nil {
				res.fail("server/ping/pong-mid", "%v", err)
			}
		}
	}
}

// pingMidMessage sends the binary payload of midSize as a message of two
// fragments (NextWriter sends a large Write as one fragment at once) with
// a ping between them: control frames may interleave with fragments.
func pingMidMessage(c *websocket.Conn) error {
	p := cachedPayload(false, midSize)
	w, err := c.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	if _, err := w.Write(p[:midSize/2]); err != nil {
		w.Close()
		return err
	}
	if err := c.Ping([]byte(midPing)); err != nil {
		w.Close()
		return fmt.Errorf("ping between fragments: %w", err)
	}
	if _, err := w.Write(p[midSize/2:]); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func diff(what, got, want string) string {
	if got == want {
		return ""
	}
	return fmt.Sprintf("%s %q, want %q", what, got, want)
}

// nodeServer is a running ws-server.js and the events it printed.
type nodeServer struct {
	base string // ws://127.0.0.1:PORT
	mu   sync.Mutex
	evs  map[string][]nodeEvent // by connection id
	noti chan struct{}
}

// nodeEvent is a line ws-server.js printed.
type nodeEvent struct {
	Event      string `json:"event"`
	ID         string `json:"id"`
	Port       int    `json:"port"`
	Extensions string `json:"extensions"`
	Protocol   string `json:"protocol"`
	Code       int    `json:"code"`
	Reason     string `json:"reason"`
	Error      string `json:"error"`
}

// startNodeServer starts ws-server.js on a free port and waits for its
// ready line. The test's cleanup kills it.
func startNodeServer(t *testing.T, node string) *nodeServer {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(node, "ws-server.js", strconv.Itoa(port))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	log := new(tail)
	cmd.Stderr = log
	cmd.WaitDelay = 3 * time.Second
	startGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	s := &nodeServer{evs: make(map[string][]nodeEvent), noti: make(chan struct{}, 1)}
	ready := make(chan int, 1)
	go jsonLines(stdout, log, func(line []byte) {
		var ev nodeEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return
		}
		if ev.Event == "ready" {
			ready <- ev.Port
			return
		}
		s.mu.Lock()
		s.evs[ev.ID] = append(s.evs[ev.ID], ev)
		s.mu.Unlock()
		select {
		case s.noti <- struct{}{}:
		default:
		}
	})
	t.Cleanup(func() {
		stdin.Close()
		killGroup(cmd)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("ws-server.js output (tail):\n%s", log)
		}
	})
	select {
	case p := <-ready:
		if p != port {
			t.Fatalf("ws-server.js listens on port %d, asked for %d", p, port)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("ws-server.js printed no ready line within 10s; output:\n%s", log)
	}
	s.base = "ws://127.0.0.1:" + strconv.Itoa(port)
	return s
}

// event waits (up to 10 s) for the node event of type typ on connection id.
func (s *nodeServer) event(id, typ string) (nodeEvent, bool) {
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for _, ev := range s.evs[id] {
			if ev.Event == typ {
				s.mu.Unlock()
				return ev, true
			}
		}
		s.mu.Unlock()
		select {
		case <-s.noti:
		case <-deadline.C:
			return nodeEvent{}, false
		}
	}
}

// dial connects our client to ws-server.js path with query q (id is set
// from the test's name).
func (s *nodeServer) dial(t *testing.T, path string, q url.Values, opts *websocket.DialOptions) (*websocket.Conn, string) {
	t.Helper()
	id := t.Name()
	q.Set("id", id)
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.base+path+"?"+q.Encode(), opts)
	if err != nil {
		t.Fatalf("Dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, id
}

// closeNormally closes c with 1000 "done" and checks both ends saw it.
func (s *nodeServer) closeNormally(t *testing.T, c *websocket.Conn, id string) {
	t.Helper()
	if err := c.Close(websocket.CloseNormalClosure, "done"); err != nil {
		t.Errorf("Close(1000, done) = %v, want nil", err)
	}
	s.checkClose(t, id, int(websocket.CloseNormalClosure), "done")
}

func (s *nodeServer) checkClose(t *testing.T, id string, code int, reason string) {
	t.Helper()
	ev, ok := s.event(id, "close")
	if !ok {
		t.Errorf("ws-server.js reported no close for %s", id)
		return
	}
	if ev.Code != code || ev.Reason != reason {
		t.Errorf("ws-server.js saw close %d %q, want %d %q", ev.Code, ev.Reason, code, reason)
	}
}

// countingConn counts the bytes of one dialled connection.
type countingConn struct {
	net.Conn
	read, written atomic.Int64
}

// dial is a DialOptions.NetDialContext that wraps the connection.
func (cc *countingConn) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cc.Conn = nc
	return cc, nil
}

func (cc *countingConn) Read(p []byte) (int, error) {
	n, err := cc.Conn.Read(p)
	cc.read.Add(int64(n))
	return n, err
}

func (cc *countingConn) Write(p []byte) (int, error) {
	n, err := cc.Conn.Write(p)
	cc.written.Add(int64(n))
	return n, err
}

// dialCase is one connection of TestNodeServer's echo cases.
type dialCase struct {
	name     string
	path     string // ws-server.js path: the server's deflate setting
	comp     *websocket.CompressionOptions
	deflate  bool  // permessage-deflate must be negotiated (else must not)
	sizes    []int // text and binary each
	pieces   int   // > 1: we send with NextWriter in this many writes, ws echoes in 4 fragments
	writeBuf int
}

func nodeServerCases() []dialCase {
	all := &websocket.CompressionOptions{Threshold: -1}
	takeover := &websocket.CompressionOptions{Threshold: -1, ContextTakeover: true}
	return []dialCase{
		{name: "plain", path: "/plain", sizes: echoSizes},
		{name: "plain-offered", path: "/plain", comp: all, sizes: smallSizes},
		{name: "deflate-not-offered", path: "/deflate", sizes: smallSizes},
		{name: "deflate", path: "/deflate", comp: all, deflate: true, sizes: echoSizes},
		{name: "deflate-takeover", path: "/deflate", comp: takeover, deflate: true, sizes: smallSizes},
		{name: "deflate-request-nct", path: "/deflate", deflate: true, sizes: smallSizes,
			comp: &websocket.CompressionOptions{Threshold: -1, ContextTakeover: true, RequestNoContextTakeover: true}},
		{name: "deflate-nct", path: "/deflate-nct", comp: takeover, deflate: true, sizes: smallSizes},
		{name: "deflate-bits", path: "/deflate-bits", comp: takeover, deflate: true, sizes: smallSizes},
		// Default threshold: the small messages go uncompressed.
		{name: "deflate-threshold", path: "/deflate", comp: &websocket.CompressionOptions{}, deflate: true, sizes: smallSizes},
		{name: "plain-fragments", path: "/plain", sizes: fragmentSizes, pieces: 5, writeBuf: 1000},
		{name: "deflate-fragments", path: "/deflate", comp: all, deflate: true, sizes: fragmentSizes, pieces: 5, writeBuf: 1000},
	}
}

// TestNodeServer runs our client against ws-server.js (Node's ws).
func TestNodeServer(t *testing.T) {
	t.Parallel()
	node := nodePath(t)
	s := startNodeServer(t, node)
	deadline := time.Now().Add(nodeTimeout)

	for _, dc := range nodeServerCases() {
		t.Run(dc.name, func(t *testing.T) {
			if time.Now().After(deadline) {
				t.Fatalf("TestNodeServer ran past %v", nodeTimeout)
			}
			q := url.Values{"mode": {"echo"}}
			if dc.pieces > 1 {
				q.Set("mode", "fragment-echo")
				q.Set("pieces", "4")
			}
			var wire countingConn
			c, id := s.dial(t, dc.path, q, &websocket.DialOptions{
				Options:        websocket.Options{Compression: dc.comp, WriteBufferSize: dc.writeBuf},
				NetDialContext: wire.dial,
			})
			if c.Compressed() != dc.deflate {
				t.Errorf("Compressed() = %v, want %v", c.Compressed(), dc.deflate)
			}
			if ev, ok := s.event(id, "connection"); !ok {
				t.Error("ws-server.js reported no connection")
			} else if got := strings.Contains(ev.Extensions, "permessage-deflate"); got != dc.deflate {
				t.Errorf("ws-server.js negotiated extensions %q, want permessage-deflate %v", ev.Extensions, dc.deflate)
			}
			for _, mt := range []websocket.MessageType{websocket.TextMessage, websocket.BinaryMessage} {
				for _, n := range dc.sizes {
					t.Run(fmt.Sprintf("%s/%d", mt, n), func(t *testing.T) {
						sent, recv := wire.written.Load(), wire.read.Load()
						if err := echoRoundTrip(c, mt, n, dc.pieces); err != nil {
							t.Fatal(err)
						}
						// Text of 64 KiB and more must go compressed both
						// ways when compression was negotiated (ws compresses
						// with threshold 0, we with Threshold -1 or 128).
						sent, recv = wire.written.Load()-sent, wire.read.Load()-recv
						if dc.deflate && mt == websocket.TextMessage && n >= 64<<10 {
							if limit := int64(n) * 9 / 10; sent >= limit || recv >= limit {
								t.Errorf("%d bytes of text took %d bytes on the wire out and %d back: not compressed", n, sent, recv)
							}
						}
					})
				}
			}
			s.closeNormally(t, c, id)
		})
	}

	t.Run("ping", func(t *testing.T) {
		c, id := s.dial(t, "/plain", url.Values{"mode": {"ping"}, "ping": {nodePing}, "mid": {midPing}, "size": {strconv.Itoa(midSize)}}, nil)
		var mu sync.Mutex
		var pings, pongs []string
		c.SetPingHandler(func(data []byte) {
			mu.Lock()
			pings = append(pings, string(data))
			mu.Unlock()
		})
		c.SetPongHandler(func(data []byte) {
			mu.Lock()
			pongs = append(pongs, string(data))
			mu.Unlock()
		})
		if err := c.Ping([]byte(goPing)); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte("ping-me")); err != nil {
			t.Fatal(err)
		}
		// ws reports our ping and the pong to its own ping (answered by our
		// read loop), in an order of its own.
		var got []string
		for range 2 {
			_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
			_, p, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("ReadMessage after %q: %v", got, err)
			}
			got = append(got, string(p))
		}
		slices.Sort(got)
		want := []string{"ping-seen:" + goPing, "pong-seen:" + nodePing}
		if !slices.Equal(got, want) {
			t.Errorf("ws-server.js reported %q, want %q", got, want)
		}
		// ws sends a binary message in two fragments with a ping between.
		if err := c.WriteMessage(websocket.TextMessage, []byte("ping-mid")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
		mt, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("ReadMessage of the interrupted message: %v", err)
		}
		if d := checkPayload(mt, p); mt != websocket.BinaryMessage || len(p) != midSize || d != "" {
			t.Errorf("interrupted message: %s of %d bytes, want binary of %d: %s", mt, len(p), midSize, d)
		}
		mu.Lock()
		if !slices.Contains(pings, midPing) {
			t.Errorf("pings received before the interrupted message ended %q, want %q among them", pings, midPing)
		}
		mu.Unlock()
		_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
		if _, p, err := c.ReadMessage(); err != nil || string(p) != "pong-seen:"+midPing {
			t.Errorf("after the interrupted message: %q, %v; want text %q", p, err, "pong-seen:"+midPing)
		}
		// The pong to our ping may come after those messages: Close reads
		// until the close handshake ends.
		s.closeNormally(t, c, id)
		mu.Lock()
		defer mu.Unlock()
		if want := []string{nodePing, midPing}; !slices.Equal(pings, want) {
			t.Errorf("pings received %q, want %q", pings, want)
		}
		if !slices.Equal(pongs, []string{goPing}) {
			t.Errorf("pongs received %q, want [%q]", pongs, goPing)
		}
	})

	t.Run("server-close", func(t *testing.T) {
		reason := fill("node server bye ✓", 123)
		c, id := s.dial(t, "/plain", url.Values{"mode": {"close-server"}, "code": {"4003"}, "reason": {reason}}, nil)
		if err := c.WriteMessage(websocket.TextMessage, []byte("close-me")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
		_, _, err := c.ReadMessage()
		if d := wantClose(err, 4003, reason); d != "" {
			t.Error(d)
		}
		// ws reports the code of our answering close frame, which echoes its.
		ev, ok := s.event(id, "close")
		if !ok || ev.Code != 4003 {
			t.Errorf("ws-server.js close event %+v (reported %v), want code 4003", ev, ok)
		}
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Error("connection still open 10s after the close handshake")
		}
	})

	t.Run("client-close", func(t *testing.T) {
		reason := fill("go client bye ✓", 123)
		c, id := s.dial(t, "/plain", url.Values{}, nil)
		if err := c.Close(4004, reason); err != nil {
			t.Errorf("Close(4004) = %v, want nil", err)
		}
		s.checkClose(t, id, 4004, reason)
	})

	for _, sc := range []struct {
		name   string
		offer  []string
		chosen string
	}{
		{"subprotocol", []string{"x-unknown", "chat.v1"}, "chat.v1"},
		{"subprotocol-none", []string{"x-unknown"}, ""},
	} {
		t.Run(sc.name, func(t *testing.T) {
			c, id := s.dial(t, "/plain", url.Values{}, &websocket.DialOptions{Subprotocols: sc.offer})
			if got := c.Subprotocol(); got != sc.chosen {
				t.Errorf("Subprotocol() = %q, want %q", got, sc.chosen)
			}
			if ev, ok := s.event(id, "connection"); !ok || ev.Protocol != sc.chosen {
				t.Errorf("ws-server.js connection %+v (reported %v), want protocol %q", ev, ok, sc.chosen)
			}
			s.closeNormally(t, c, id)
		})
	}
}

// echoRoundTrip sends the n-byte payload of type mt (whole, or with
// NextWriter in pieces writes) and checks the echo.
func echoRoundTrip(c *websocket.Conn, mt websocket.MessageType, n, pieces int) error {
	p := cachedPayload(mt == websocket.TextMessage, n)
	_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
	var err error
	if pieces > 1 {
		err = writePieces(c, mt, p, pieces)
	} else {
		err = c.WriteMessage(mt, p)
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	got, r, err := c.NextReader()
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if got != mt {
		return fmt.Errorf("echo is a %s message, want %s", got, mt)
	}
	// Read through NextReader in odd-sized chunks, unlike the server tests.
	buf := make([]byte, 0, n)
	chunk := make([]byte, 4093)
	for {
		k, err := r.Read(chunk)
		buf = append(buf, chunk[:k]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read after %d bytes: %w", len(buf), err)
		}
	}
	if d := checkPayload(mt, buf); d != "" {
		return fmt.Errorf("echo differs: %s", d)
	}
	return nil
}

// TestPayloadMatchesJS checks that payload.js and payload compute the same
// bytes, so that a content failure elsewhere is the library's.
func TestPayloadMatchesJS(t *testing.T) {
	node := nodePath(t)
	sizes := []int{0, 1, 2, 3, 4, 125, 126, 1000, 64 << 10}
	script := `const p = require('./payload.js');
const out = [];
for (const n of JSON.parse(process.argv[1])) {
  out.push([Buffer.from(p.bytes(true, n)).toString('base64'), Buffer.from(p.bytes(false, n)).toString('base64'), p.cuts(n, 5)]);
}
process.stdout.write(JSON.stringify(out));`
	js, _ := json.Marshal(sizes)
	out, err := exec.Command(node, "-e", script, string(js)).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got [][3]json.RawMessage
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("parse node output: %v", err)
	}
	for i, n := range sizes {
		var text, bin []byte
		var jsCuts []int
		if err := json.Unmarshal(got[i][0], &text); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got[i][1], &bin); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got[i][2], &jsCuts); err != nil {
			t.Fatal(err)
		}
		if d := checkPayload(websocket.TextMessage, text); d != "" || len(text) != n {
			t.Errorf("text payload of %d bytes: JS gives %d bytes: %s", n, len(text), d)
		}
		if d := checkPayload(websocket.BinaryMessage, bin); d != "" || len(bin) != n {
			t.Errorf("binary payload of %d bytes: JS gives %d bytes: %s", n, len(bin), d)
		}
		if c := cuts(n, 5); !slices.Equal(c, jsCuts) {
			t.Errorf("cuts(%d, 5): Go %v, JS %v", n, c, jsCuts)
		}
	}
}
