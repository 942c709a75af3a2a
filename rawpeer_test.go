package websocket

// A scripted raw peer for protocol conformance tests.
//
// The peer speaks bytes, not the library: it writes the opening handshake
// and every frame by hand (with its own header encoder, so that it can send
// what the frame package refuses to produce) and parses what comes back
// with its own decoder, checking that our endpoint only ever emits legal
// frames. It talks either to our server (an httptest.Server whose handler
// calls Upgrade, the raw peer then being a masking client) or to our client
// (a Dial'ed Conn, the raw peer then being a server on a bare TCP listener
// that answers the handshake itself). In both cases our endpoint runs an
// echo loop like an Autobahn testee unless the case gives its own serve
// function.
//
// Every helper name here starts with rp or rawPeer: other test files share
// the package.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// rpRole names the endpoint of ours under test.
type rpRole int

const (
	// rpServer: our Upgrade'd server; the raw peer is a client and masks.
	rpServer rpRole = iota
	// rpClient: our Dial'ed client; the raw peer is a server and does not
	// mask.
	rpClient
)

func (r rpRole) String() string {
	if r == rpServer {
		return "server"
	}
	return "client"
}

// rpRoles lists both roles, for cases that make sense against either end.
var rpRoles = []rpRole{rpServer, rpClient}

// Opcodes on the wire, spelled out rather than taken from frame/ so that
// the tests do not trust the codec they test.
const (
	rpOpCont  byte = 0x0
	rpOpText  byte = 0x1
	rpOpBin   byte = 0x2
	rpOpClose byte = 0x8
	rpOpPing  byte = 0x9
	rpOpPong  byte = 0xA
)

// RSV bits as they sit in the first header byte (RSV3 = 0x10 is only
// reached through the 3.x loop over all combinations).
const (
	rpRsv1 uint8 = 0x40
	rpRsv2 uint8 = 0x20
)

// rpNoStatus asks expectClose for a close frame without a status code
// (empty payload); a 1000 answer is accepted too, as Autobahn does.
const rpNoStatus uint16 = 1005

// rpFrame is one frame, unmasked. Length, when non-nil, is written in the
// header instead of len(Payload): the peer can lie about lengths.
type rpFrame struct {
	Fin     bool
	Rsv     uint8
	Op      byte
	Payload []byte
	Length  *uint64
}

func (f rpFrame) String() string {
	p := f.Payload
	more := ""
	if len(p) > 32 {
		p, more = p[:32], fmt.Sprintf("...(%d bytes)", len(f.Payload))
	}
	return fmt.Sprintf("{fin=%v rsv=%#x op=%#x payload=%q%s}", f.Fin, f.Rsv, f.Op, p, more)
}

func rpText(s string) rpFrame     { return rpFrame{Fin: true, Op: rpOpText, Payload: []byte(s)} }
func rpBin(b []byte) rpFrame      { return rpFrame{Fin: true, Op: rpOpBin, Payload: b} }
func rpPing(b []byte) rpFrame     { return rpFrame{Fin: true, Op: rpOpPing, Payload: b} }
func rpPong(b []byte) rpFrame     { return rpFrame{Fin: true, Op: rpOpPong, Payload: b} }
func rpCloseRaw(p []byte) rpFrame { return rpFrame{Fin: true, Op: rpOpClose, Payload: p} }

// rpClose returns a close frame with code and reason, whatever their
// validity.
func rpClose(code uint16, reason string) rpFrame {
	p := binary.BigEndian.AppendUint16(nil, code)
	return rpCloseRaw(append(p, reason...))
}

// rpFragments splits a message of type op into frames with the given
// payloads: the first carries op, the others are continuations, the last
// has FIN.
func rpFragments(op byte, parts ...[]byte) []rpFrame {
	fs := make([]rpFrame, len(parts))
	for i, p := range parts {
		fs[i] = rpFrame{Op: rpOpCont, Payload: p, Fin: i == len(parts)-1}
	}
	fs[0].Op = op
	return fs
}

// rpSplit cuts p into n pieces of near-equal size (some may be empty when
// n > len(p)).
func rpSplit(p []byte, n int) [][]byte {
	parts := make([][]byte, n)
	for i := range n {
		parts[i] = p[len(p)*i/n : len(p)*(i+1)/n]
	}
	return parts
}

// rpBytes returns n deterministic pseudo-random bytes (any byte value).
func rpBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n+7)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n:n]
}

// rpASCII returns n bytes of printable text.
func rpASCII(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// rpHeader encodes a frame header byte-exactly with any length, minimal
// encoding.
func rpHeader(b0 byte, masked bool, key [4]byte, length uint64) []byte {
	var m byte
	if masked {
		m = 0x80
	}
	var b []byte
	switch {
	case length <= 125:
		b = append(b, b0, m|byte(length))
	case length <= 0xFFFF:
		b = append(b, b0, m|126, byte(length>>8), byte(length))
	default:
		b = append(b, b0, m|127)
		b = binary.BigEndian.AppendUint64(b, length)
	}
	if masked {
		b = append(b, key[:]...)
	}
	return b
}

// rpEncode returns f on the wire, masked with a fresh random key when mask
// is set.
func rpEncode(f rpFrame, mask bool) []byte {
	b0 := f.Op&0x0F | f.Rsv&0x70
	if f.Fin {
		b0 |= 0x80
	}
	var key [4]byte
	if mask {
		binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	}
	length := uint64(len(f.Payload))
	if f.Length != nil {
		length = *f.Length
	}
	b := rpHeader(b0, mask, key, length)
	start := len(b)
	b = append(b, f.Payload...)
	if mask {
		rpUnmask(key, b[start:])
	}
	return b
}

// rpUnmask XORs p with the key from position 0 (masking and unmasking are
// the same), eight bytes at a time.
func rpUnmask(key [4]byte, p []byte) {
	k := uint64(binary.LittleEndian.Uint32(key[:]))
	k |= k << 32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i&3]
	}
}

// rpOpts configure the endpoint under test.
type rpOpts struct {
	readLimit    int64         // zero: 64 MiB
	closeTimeout time.Duration // zero: 2 s
	// serve runs on our Conn; nil means rpEcho. Its error is checked at
	// teardown against rawPeer.wantErr.
	serve func(c *Conn) error
	// early frames go out in the same write as the peer's handshake
	// request (server role) or response (client role), so that they reach
	// our end together with the handshake bytes.
	early []rpFrame
	// pingInterval and pongTimeout set our end's keepalive.
	pingInterval, pongTimeout time.Duration

	// Compression (RFC 7692). compression configures our end. The raw
	// client offers extOffer (server role); the raw server answers
	// extResponse (client role). peerTakeover says whether the raw peer
	// keeps its compression context between messages, ourTakeover
	// whether our end does (what the negotiation must have agreed).
	// peerLevel is the raw peer's compress/flate level (0: BestSpeed).
	compression               *CompressionOptions
	extOffer, extResponse     string
	peerTakeover, ourTakeover bool
	peerLevel                 int
}

// rpEcho is the Autobahn-style testee: every message is streamed back
// through NextReader -> NextWriter. A read error is returned as is (the
// library must have closed the connection by then); after a write error
// the connection is closed here, as an application would.
func rpEcho(c *Conn) error {
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			return err
		}
		w, err := c.NextWriter(mt)
		if err != nil {
			c.CloseNow()
			return fmt.Errorf("rpEcho: NextWriter: %w", err)
		}
		er := &rpErrReader{r: r}
		_, err = io.Copy(w, er)
		cerr := w.Close()
		if er.err != nil {
			return er.err
		}
		if err == nil {
			err = cerr
		}
		if err != nil {
			c.CloseNow()
			return fmt.Errorf("rpEcho: write: %w", err)
		}
	}
}

// rpEchoWhole echoes message by message with ReadMessage and WriteMessage:
// each echo is one frame, however long (the other write path, and on the
// client the chunked masking of frames over 64 KiB).
func rpEchoWhole(c *Conn) error {
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if err := c.WriteMessage(mt, p); err != nil {
			c.CloseNow()
			return fmt.Errorf("rpEchoWhole: write: %w", err)
		}
	}
}

// rpEchoPrefix echoes only the first 3 bytes of each message, leaving the
// rest for NextReader to discard (still validated).
func rpEchoPrefix(c *Conn) error {
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			return err
		}
		var buf [3]byte
		n, err := io.ReadFull(r, buf[:])
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return err
		}
		if err := c.WriteMessage(mt, buf[:n]); err != nil {
			c.CloseNow()
			return fmt.Errorf("rpEchoPrefix: write: %w", err)
		}
	}
}

// rpErrReader remembers the read error (other than io.EOF) so that the echo
// loop can tell read failures from write failures.
type rpErrReader struct {
	r   io.Reader
	err error
}

func (e *rpErrReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// rawPeer is one scripted connection to an endpoint of ours. Its methods
// are for the test goroutine only, except where noted.
type rawPeer struct {
	t       *testing.T
	role    rpRole
	nc      net.Conn
	br      *bufio.Reader
	mask    bool          // frames we send are masked (we are the client)
	timeout time.Duration // default wait for a frame

	conn      *Conn              // our endpoint's Conn
	serveDone chan struct{}      // closed when serve returned
	serveErr  error              // serve's result, valid after serveDone
	wantErr   func(error) string // judges serveErr at teardown ("" = fine)
	lastKey   [4]byte            // masking key of the last frame read (client role)

	deflate bool       // permessage-deflate is in use
	extSeen string     // the other side's Sec-WebSocket-Extensions header
	defl    rpDeflater // the peer's compressor
	infl    rpInflater // the peer's decompressor for our end's messages
	inMsg   bool       // readFrame is inside a fragmented message
}

// rpCaseID numbers cases; the number labels every goroutine a case starts
// (pprof labels are inherited), which lets the leak check run per case
// while cases run in parallel.
var rpCaseID atomic.Int64

const rpLabel = "rawpeer_case"

// rpRun runs script against a fresh endpoint of ours in the given role,
// then tears everything down and checks that no goroutine of the case is
// left behind.
func rpRun(t *testing.T, role rpRole, o rpOpts, script func(p *rawPeer)) {
	t.Helper()
	id := strconv.FormatInt(rpCaseID.Add(1), 10)
	t.Cleanup(func() { rpCheckLeaks(t, id) })
	pprof.Do(context.Background(), pprof.Labels(rpLabel, id), func(context.Context) {
		p := rpStart(t, role, o)
		defer p.teardown()
		script(p)
	})
}

func rpStart(t *testing.T, role rpRole, o rpOpts) *rawPeer {
	t.Helper()
	if o.readLimit == 0 {
		o.readLimit = 64 << 20
	}
	if o.closeTimeout == 0 {
		o.closeTimeout = 2 * time.Second
	}
	if o.serve == nil {
		o.serve = rpEcho
	}
	p := &rawPeer{t: t, role: role, mask: role == rpServer, timeout: 3 * time.Second,
		serveDone: make(chan struct{})}
	p.defl = rpDeflater{level: o.peerLevel, takeover: o.peerTakeover}
	p.infl = rpInflater{takeover: o.ourTakeover}
	connCh := make(chan *Conn, 1)
	serve := func(c *Conn) {
		connCh <- c
		p.serveErr = o.serve(c)
	}
	switch role {
	case rpServer:
		var once sync.Once
		cfg := DefaultConfig()
		cfg.ReadLimit = o.readLimit
		cfg.CloseTimeout = o.closeTimeout
		cfg.PingInterval, cfg.PongTimeout = o.pingInterval, o.pongTimeout
		cfg.Compression = o.compression
		// Upgrade in an http.Handler: served by an httptest.Server, or
		// by an UpgradeServer as its Upgrades.
		upgrade := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			first := false
			once.Do(func() { first = true })
			if !first {
				http.Error(w, "one connection per case", http.StatusConflict)
				return
			}
			defer close(p.serveDone)
			c, err := Upgrade(w, r, cfg)
			if err != nil {
				t.Errorf("Upgrade: %v", err)
				return
			}
			serve(c)
		})
		// Half the server-role cases (chosen by name, so a failure
		// reproduces) go through an UpgradeServer instead of an
		// http.Server: a quarter with its Handler, a quarter with Upgrade
		// as its Upgrades.
		switch rpServing(t.Name()) {
		case rpUpgradeServer, rpUpgrades:
			s := &UpgradeServer{Config: cfg, Handler: func(c *Conn, r *http.Request) {
				first := false
				once.Do(func() { first = true })
				if !first {
					t.Errorf("a second connection in one case")
					return
				}
				defer close(p.serveDone)
				serve(c)
			}}
			if rpServing(t.Name()) == rpUpgrades {
				s.Handler, s.Upgrades = nil, upgrade
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go s.Serve(ln)
			t.Cleanup(func() { s.Close() })
			p.dialServer(ln.Addr().String(), o.extOffer, o.early)
		default:
			ts := httptest.NewServer(upgrade)
			t.Cleanup(ts.Close)
			p.dialServer(ts.Listener.Addr().String(), o.extOffer, o.early)
		}
	case rpClient:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		opts := &DialOptions{
			Options: Options{ReadLimit: o.readLimit, CloseTimeout: o.closeTimeout,
				PingInterval: o.pingInterval, PongTimeout: o.pongTimeout,
				Compression: o.compression},
			Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
		}
		go func() {
			defer close(p.serveDone)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, _, err := Dial(ctx, "ws://"+ln.Addr().String()+"/chat", opts)
			if err != nil {
				t.Errorf("Dial: %v", err)
				return
			}
			serve(c)
		}()
		p.acceptClient(ln.(*net.TCPListener), o.extResponse, o.early)
	}
	select {
	case p.conn = <-connCh:
	case <-p.serveDone:
		// serve may end at once (a close frame that came with the
		// handshake); the Conn was handed over before it started.
		select {
		case p.conn = <-connCh:
		default:
			t.Fatal("endpoint ended before the connection was made")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no connection after 5s")
	}
	return p
}

// How a server-role case is served: Upgrade in an httptest.Server, an
// UpgradeServer with its Handler, or an UpgradeServer with Upgrade as its
// Upgrades.
const (
	rpHTTPServer = iota
	rpUpgradeServer
	rpUpgrades
)

// rpServing picks how the server-role case named name is served: a hash
// of the name, so the choice is stable from run to run (half the cases
// through an http.Server, a quarter each through the UpgradeServer's
// two ways).
func rpServing(name string) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	switch h.Sum32() % 4 {
	case 1:
		return rpUpgradeServer
	case 3:
		return rpUpgrades
	}
	return rpHTTPServer
}

// rpAccept computes Sec-WebSocket-Accept independently of handshake/.
func rpAccept(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func rpNewKey() string {
	var k [16]byte
	binary.LittleEndian.PutUint64(k[:], rand.Uint64())
	binary.LittleEndian.PutUint64(k[8:], rand.Uint64())
	return base64.StdEncoding.EncodeToString(k[:])
}

// dialServer opens the connection to our server and writes the handshake
// by hand.
func (p *rawPeer) dialServer(addr, offer string, early []rpFrame) {
	t := p.t
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p.nc = nc
	key := rpNewKey()
	req := "GET /echo HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"
	if offer != "" {
		req += "Sec-WebSocket-Extensions: " + offer + "\r\n"
	}
	req += "\r\n"
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(append([]byte(req), p.wire(early...)...)); err != nil {
		t.Fatal(err)
	}
	p.br = bufio.NewReader(nc)
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		t.Fatalf("reading the handshake response: %v", err)
	}
	_ = nc.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d, want 101", resp.StatusCode)
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), rpAccept(key); got != want {
		t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("Upgrade header %q", resp.Header.Get("Upgrade"))
	}
	p.extSeen = resp.Header.Get("Sec-WebSocket-Extensions")
	if p.extSeen != "" && offer == "" {
		t.Fatalf("server accepted extensions %q that were not offered", p.extSeen)
	}
	p.deflate = strings.HasPrefix(p.extSeen, "permessage-deflate")
}

// acceptClient takes our client's connection and answers its handshake by
// hand.
func (p *rawPeer) acceptClient(ln *net.TCPListener, response string, early []rpFrame) {
	t := p.t
	_ = ln.SetDeadline(time.Now().Add(5 * time.Second))
	nc, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	p.nc = nc
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	p.br = bufio.NewReader(nc)
	req, err := http.ReadRequest(p.br)
	if err != nil {
		t.Fatalf("reading the handshake request: %v", err)
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	switch {
	case req.Method != http.MethodGet:
		t.Fatalf("handshake method %q", req.Method)
	case !strings.EqualFold(req.Header.Get("Upgrade"), "websocket"):
		t.Fatalf("Upgrade header %q", req.Header.Get("Upgrade"))
	case req.Header.Get("Sec-WebSocket-Version") != "13":
		t.Fatalf("Sec-WebSocket-Version %q", req.Header.Get("Sec-WebSocket-Version"))
	}
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		t.Fatalf("Sec-WebSocket-Key %q is not 16 bytes of base64", key)
	}
	p.extSeen = req.Header.Get("Sec-WebSocket-Extensions")
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + rpAccept(key) + "\r\n"
	if response != "" {
		resp += "Sec-WebSocket-Extensions: " + response + "\r\n"
		p.deflate = true
	}
	resp += "\r\n"
	if _, err := nc.Write(append([]byte(resp), p.wire(early...)...)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Time{})
}

// teardown closes the peer's side, waits for our endpoint to finish and
// checks that it closed its connection.
func (p *rawPeer) teardown() {
	t := p.t
	p.nc.Close()
	select {
	case <-p.serveDone:
	case <-time.After(5 * time.Second):
		t.Errorf("%v: serve function still running 5s after the peer closed TCP", p.role)
		return
	}
	if p.conn == nil {
		return
	}
	select {
	case <-p.conn.Done():
	case <-time.After(3 * time.Second):
		t.Errorf("%v: Conn not closed after its read loop ended (serve returned %v)", p.role, p.serveErr)
	}
	if p.wantErr != nil && !t.Failed() {
		if msg := p.wantErr(p.serveErr); msg != "" {
			t.Errorf("%v: serve loop error: %s", p.role, msg)
		}
	}
}

// rpCheckLeaks waits until no goroutine labelled with the case id is left.
func rpCheckLeaks(t *testing.T, id string) {
	needle := `"` + rpLabel + `":"` + id + `"`
	deadline := time.Now().Add(3 * time.Second)
	for {
		var buf bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		var leaked []string
		for _, g := range strings.Split(buf.String(), "\n\n") {
			if strings.Contains(g, needle) {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("goroutines left behind by the case:\n%s", strings.Join(leaked, "\n\n"))
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---- writing ----

// wire encodes frames with this peer's masking.
func (p *rawPeer) wire(fs ...rpFrame) []byte {
	var b []byte
	for _, f := range fs {
		b = append(b, rpEncode(f, p.mask)...)
	}
	return b
}

// write writes b at once; the case fails on error.
func (p *rawPeer) write(b []byte) {
	p.t.Helper()
	_ = p.nc.SetWriteDeadline(time.Now().Add(p.timeout))
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// writeLenient writes b, ignoring errors: for bytes sent after our end may
// already have failed the connection.
func (p *rawPeer) writeLenient(b []byte) {
	_ = p.nc.SetWriteDeadline(time.Now().Add(p.timeout))
	_, _ = p.nc.Write(b)
}

// send writes frames in one write.
func (p *rawPeer) send(fs ...rpFrame) {
	p.t.Helper()
	p.write(p.wire(fs...))
}

// writeChops writes b in pieces of size bytes with delay between them.
func (p *rawPeer) writeChops(b []byte, size int, delay time.Duration, lenient bool) {
	p.t.Helper()
	for len(b) > 0 {
		n := min(size, len(b))
		if lenient {
			p.writeLenient(b[:n])
		} else {
			p.write(b[:n])
		}
		b = b[n:]
		if delay > 0 && len(b) > 0 {
			time.Sleep(delay)
		}
	}
}

// sendEach writes each frame on its own, with delay between them.
func (p *rawPeer) sendEach(delay time.Duration, fs ...rpFrame) {
	p.t.Helper()
	for i, f := range fs {
		if i > 0 && delay > 0 {
			time.Sleep(delay)
		}
		p.send(f)
	}
}

// sendBg writes b from another goroutine, for payloads large enough to
// deadlock against an echo that is not being read; wait reports the error.
func (p *rawPeer) sendBg(b []byte, chop int) (wait func()) {
	errc := make(chan error, 1)
	nc := p.nc
	go func() {
		_ = nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
		for len(b) > 0 {
			n := min(chop, len(b))
			if _, err := nc.Write(b[:n]); err != nil {
				errc <- err
				return
			}
			b = b[n:]
		}
		errc <- nil
	}()
	return func() {
		p.t.Helper()
		if err := <-errc; err != nil {
			p.t.Fatalf("background write: %v", err)
		}
	}
}

// ---- reading ----

// readFrame reads one frame within d and checks that our endpoint framed
// it legally (masking by role, no RSV bits, known opcode, control frame
// rules, minimal length encoding).
func (p *rawPeer) readFrame(d time.Duration) (rpFrame, error) {
	_ = p.nc.SetReadDeadline(time.Now().Add(d))
	var h [14]byte
	if _, err := io.ReadFull(p.br, h[:2]); err != nil {
		return rpFrame{}, err
	}
	f := rpFrame{Fin: h[0]&0x80 != 0, Rsv: h[0] & 0x70, Op: h[0] & 0x0F}
	masked := h[1]&0x80 != 0
	length := uint64(h[1] & 0x7F)
	switch length {
	case 126:
		if _, err := io.ReadFull(p.br, h[2:4]); err != nil {
			return f, fmt.Errorf("short header: %w", err)
		}
		length = uint64(binary.BigEndian.Uint16(h[2:4]))
		if length < 126 {
			return f, fmt.Errorf("non-minimal 16-bit length %d", length)
		}
	case 127:
		if _, err := io.ReadFull(p.br, h[2:10]); err != nil {
			return f, fmt.Errorf("short header: %w", err)
		}
		length = binary.BigEndian.Uint64(h[2:10])
		if length < 1<<16 || length > 1<<40 {
			return f, fmt.Errorf("bad 64-bit length %d", length)
		}
	}
	var key [4]byte
	if masked {
		if _, err := io.ReadFull(p.br, key[:]); err != nil {
			return f, fmt.Errorf("short header: %w", err)
		}
		p.lastKey = key
	}
	switch {
	case p.role == rpServer && masked:
		return f, errors.New("our server sent a masked frame")
	case p.role == rpClient && !masked:
		return f, errors.New("our client sent an unmasked frame")
	case f.Rsv != 0 && !(p.deflate && f.Rsv == rpRsv1 && !p.inMsg && (f.Op == rpOpText || f.Op == rpOpBin)):
		return f, fmt.Errorf("RSV bits %#x set on %v (permessage-deflate: %v)", f.Rsv, f, p.deflate)
	case f.Op > rpOpBin && f.Op != rpOpClose && f.Op != rpOpPing && f.Op != rpOpPong:
		return f, fmt.Errorf("reserved opcode %#x sent", f.Op)
	case f.Op >= 0x8 && (!f.Fin || length > 125):
		return f, fmt.Errorf("illegal control frame fin=%v length=%d", f.Fin, length)
	}
	f.Payload = make([]byte, length)
	if _, err := io.ReadFull(p.br, f.Payload); err != nil {
		return f, fmt.Errorf("short payload (%d bytes): %w", length, err)
	}
	if masked {
		rpUnmask(key, f.Payload)
	}
	if f.Op < 0x8 {
		if (f.Op == rpOpCont) != p.inMsg {
			return f, fmt.Errorf("frame %v breaks the fragmentation rules", f)
		}
		p.inMsg = !f.Fin
	}
	return f, nil
}

// next reads one frame within the default timeout.
func (p *rawPeer) next() rpFrame {
	p.t.Helper()
	f, err := p.readFrame(p.timeout)
	if err != nil {
		p.t.Fatalf("%v: reading a frame: %v", p.role, err)
	}
	return f
}

// expectFrame reads one frame and compares it with want.
func (p *rawPeer) expectFrame(want rpFrame) {
	p.t.Helper()
	got := p.next()
	if want.Payload == nil {
		want.Payload = []byte{}
	}
	if len(want.Payload) > 64 || len(got.Payload) > 64 {
		// Keep the report short (a byte-by-byte diff of long payloads
		// drowns the point) and the comparison fast (cmp walks slices
		// element by element).
		if want.Fin != got.Fin || want.Rsv != got.Rsv || want.Op != got.Op || !bytes.Equal(want.Payload, got.Payload) {
			p.t.Fatalf("%v: unexpected frame\n got %v\nwant %v", p.role, got, want)
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		p.t.Fatalf("%v: unexpected frame (-want +got):\n%s", p.role, diff)
	}
}

// expectPong reads one frame, which must be a pong carrying payload.
func (p *rawPeer) expectPong(payload []byte) {
	p.t.Helper()
	p.expectFrame(rpPong(payload))
}

// expectMessage reads one data message (however our end fragmented it)
// and compares its type and payload.
func (p *rawPeer) expectMessage(op byte, payload []byte) {
	p.t.Helper()
	f := p.next()
	if f.Op != op {
		p.t.Fatalf("%v: got frame %v, want the start of a message with opcode %#x", p.role, f, op)
	}
	msg := f.Payload
	frames := 1
	for !f.Fin {
		f = p.next()
		frames++
		if f.Op != rpOpCont {
			p.t.Fatalf("%v: got frame %v inside an echoed message, want a continuation", p.role, f)
		}
		msg = append(msg, f.Payload...)
	}
	if !bytes.Equal(msg, payload) {
		i := 0
		for i < len(msg) && i < len(payload) && msg[i] == payload[i] {
			i++
		}
		p.t.Fatalf("%v: echoed message differs (%d frames): got %d bytes, want %d; first difference at %d",
			p.role, frames, len(msg), len(payload), i)
	}
}

// expectMessageAndPongs reads one data message and, interleaved with its
// fragments in any way, pongs with the given payloads in order: our end
// streams long echoes while it still reads the message, so the pongs for
// pings sent between fragments may overtake the echo or fall inside it.
func (p *rawPeer) expectMessageAndPongs(op byte, payload []byte, pongs [][]byte) {
	p.t.Helper()
	var msg []byte
	started, done := false, false
	for !done || len(pongs) > 0 {
		f := p.next()
		switch {
		case f.Op == rpOpPong:
			if len(pongs) == 0 {
				p.t.Fatalf("%v: unexpected pong %v", p.role, f)
			}
			if !bytes.Equal(f.Payload, pongs[0]) {
				p.t.Fatalf("%v: pong %q, want %q", p.role, f.Payload, pongs[0])
			}
			pongs = pongs[1:]
		case !done && !started && f.Op == op, !done && started && f.Op == rpOpCont:
			started = true
			msg = append(msg, f.Payload...)
			done = f.Fin
		default:
			p.t.Fatalf("%v: unexpected frame %v", p.role, f)
		}
	}
	if !bytes.Equal(msg, payload) {
		p.t.Fatalf("%v: echoed message differs: got %d bytes, want %d", p.role, len(msg), len(payload))
	}
}

// rpWantErr returns the check expectClose installs on the serve loop's
// error for a close code our end sent on failing the connection.
func rpWantErr(code uint16) func(error) string {
	var want error
	switch code {
	case 1002:
		want = ErrProtocol
	case 1007:
		want = ErrInvalidUTF8
	case 1009:
		want = ErrMessageTooBig
	default:
		return nil
	}
	return func(err error) string {
		if !errors.Is(err, want) {
			return fmt.Sprintf("got %v, want an error matching %v", err, want)
		}
		if CloseStatus(err) != int(code) {
			return fmt.Sprintf("CloseStatus(%v) = %d, want %d", err, CloseStatus(err), code)
		}
		return ""
	}
}

// expectClose reads the next frame, which must be a close frame with code
// (rpNoStatus: an empty payload, or 1000), then checks that the TCP
// connection ends as RFC 6455 7.1.1 wants: our server closes it at once;
// our client waits for the (raw) server to close it and then closes too.
// For 1002, 1007 and 1009 it also checks, at teardown, that the serve
// loop's read failed with the matching sentinel.
func (p *rawPeer) expectClose(code uint16) {
	p.t.Helper()
	p.expectCloseWithin(code, p.timeout)
}

func (p *rawPeer) expectCloseWithin(code uint16, d time.Duration) {
	p.t.Helper()
	f, err := p.readFrame(d)
	if err != nil {
		p.t.Fatalf("%v: waiting %v for close %d: %v", p.role, d, code, err)
	}
	if f.Op != rpOpClose {
		p.t.Fatalf("%v: got frame %v, want close %d", p.role, f, code)
	}
	p.checkClosePayload(f.Payload, code)
	p.wantErr = rpWantErr(code)
	p.expectTCPClose()
}

func (p *rawPeer) checkClosePayload(pl []byte, code uint16) {
	p.t.Helper()
	if code == rpNoStatus {
		if len(pl) != 0 && (len(pl) < 2 || binary.BigEndian.Uint16(pl) != 1000) {
			p.t.Fatalf("%v: close payload %q, want empty (or 1000)", p.role, pl)
		}
		return
	}
	if len(pl) < 2 {
		p.t.Fatalf("%v: close payload %q, want code %d", p.role, pl, code)
	}
	if got := binary.BigEndian.Uint16(pl); got != code {
		p.t.Fatalf("%v: close code %d (reason %q), want %d", p.role, got, pl[2:], code)
	}
	if !utf8.Valid(pl[2:]) {
		p.t.Fatalf("%v: close reason %q is not UTF-8", p.role, pl[2:])
	}
}

// expectTCPClose checks the end of the connection after the close frames:
// against our server, EOF must come (nothing more) within the timeout;
// against our client, the raw server closes and our client must notice.
func (p *rawPeer) expectTCPClose() {
	p.t.Helper()
	if p.role == rpServer {
		f, err := p.readFrame(p.timeout)
		if err == nil {
			p.t.Fatalf("server: frame %v after its close frame", f)
		}
		if err != io.EOF {
			p.t.Fatalf("server: after the close frame: %v, want EOF (server closes TCP)", err)
		}
		return
	}
	p.nc.Close()
	select {
	case <-p.conn.Done():
	case <-time.After(p.timeout):
		p.t.Fatalf("client: connection not closed %v after the server closed TCP", p.timeout)
	}
}

// expectNothing checks that no frame arrives within d.
func (p *rawPeer) expectNothing(d time.Duration) {
	p.t.Helper()
	f, err := p.readFrame(d)
	if err == nil {
		p.t.Fatalf("%v: unexpected frame %v", p.role, f)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		p.t.Fatalf("%v: want silence, got %v", p.role, err)
	}
}

// ---- permessage-deflate (RFC 7692) on the peer's side ----

// rpDeflater is the raw peer's compressor, compress/flate with the sync
// tail removed (RFC 7692 7.2.1).
type rpDeflater struct {
	level    int
	takeover bool
	buf      bytes.Buffer
	w        *flate.Writer
}

func (d *rpDeflater) compress(msg []byte) []byte {
	if d.w == nil || !d.takeover {
		level := d.level
		if level == 0 {
			level = flate.BestSpeed
		}
		d.buf.Reset()
		d.w, _ = flate.NewWriter(&d.buf, level)
	}
	d.buf.Reset()
	_, _ = d.w.Write(msg)
	_ = d.w.Flush()
	b := bytes.Clone(d.buf.Bytes())
	if !bytes.HasSuffix(b, []byte{0, 0, 0xff, 0xff}) {
		panic("rpDeflater: flush without sync tail")
	}
	return b[:len(b)-4]
}

// rpInflater inflates our end's compressed messages; with takeover it
// keeps the last 32 KiB as the next message's dictionary.
type rpInflater struct {
	takeover bool
	dict     []byte
}

func (in *rpInflater) inflate(p []byte) ([]byte, error) {
	src := append(bytes.Clone(p), 0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff)
	r := flate.NewReaderDict(bytes.NewReader(src), in.dict)
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if in.takeover {
		in.dict = append(in.dict, out...)
		if len(in.dict) > 1<<15 {
			in.dict = bytes.Clone(in.dict[len(in.dict)-1<<15:])
		}
	}
	return out, nil
}

// deflateFrames compresses msg and cuts the result into n fragments of a
// message of type op, RSV1 on the first.
func (p *rawPeer) deflateFrames(op byte, msg []byte, n int) []rpFrame {
	fs := rpFragments(op, rpSplit(p.defl.compress(msg), n)...)
	fs[0].Rsv = rpRsv1
	return fs
}

// expectDeflateMessage reads one data message, inflating it if it came
// compressed, and compares it with payload. wantCompressed, when not nil,
// says whether it must have come compressed.
func (p *rawPeer) expectDeflateMessage(op byte, payload []byte, wantCompressed *bool) {
	p.t.Helper()
	f := p.next()
	if f.Op != op {
		p.t.Fatalf("%v: got frame %v, want the start of a message with opcode %#x", p.role, f, op)
	}
	compressed := f.Rsv == rpRsv1
	if wantCompressed != nil && compressed != *wantCompressed {
		p.t.Fatalf("%v: message compressed: %v, want %v", p.role, compressed, *wantCompressed)
	}
	msg := f.Payload
	for !f.Fin {
		f = p.next()
		msg = append(msg, f.Payload...)
	}
	if compressed {
		var err error
		if msg, err = p.infl.inflate(msg); err != nil {
			p.t.Fatalf("%v: inflating our end's message: %v", p.role, err)
		}
	}
	if !bytes.Equal(msg, payload) {
		p.t.Fatalf("%v: echoed message differs: got %d bytes, want %d", p.role, len(msg), len(payload))
	}
}
