package websocket

// permessage-deflate (RFC 7692) conformance, modelled on Autobahn|Testsuite
// sections 12 and 13, with the scripted raw peer of rawpeer_test.go.
//
// The raw peer neither trusts our codec nor compress/flate alone: it
// compresses with compress/flate (window 15) or with the small LZ77 encoder
// of internal/deflatetest, which honours any window (8..15 bits) and can aim
// back-references at exact distances, and it checks everything our end
// sends with that package's independent DEFLATE decoder, which reports the
// largest back-reference distance: so "server_max_window_bits=8" and
// "server_no_context_takeover" are verified on the wire, not assumed.
//
// Every helper here starts with dfl: other test files share the package.
//
//	go test -race -run Deflate .

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/rfc6455/websocket/handshake"
	"github.com/rfc6455/websocket/internal/deflatetest"
)

// ---- the reference codec's history ----

// dflKeep appends out to the history, keeping the last 32 KiB.
func dflKeep(hist, out []byte) []byte {
	hist = append(hist, out...)
	if len(hist) > 1<<15 {
		hist = append(hist[:0:0], hist[len(hist)-1<<15:]...)
	}
	return hist
}

// ---- the peer's side of a negotiated permessage-deflate ----

// dflParams are the agreed parameters, parsed from the header strings by
// the test itself.
type dflParams struct {
	serverNCT, clientNCT   bool
	serverBits, clientBits int // 15 when absent
}

// dflParse parses the first element of a Sec-WebSocket-Extensions value.
func dflParse(s string) (dflParams, bool) {
	par := dflParams{serverBits: 15, clientBits: 15}
	first, _, _ := strings.Cut(s, ",")
	parts := strings.Split(first, ";")
	if strings.TrimSpace(parts[0]) != "permessage-deflate" {
		return par, false
	}
	for _, p := range parts[1:] {
		name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		var bits int
		if val != "" {
			fmt.Sscan(val, &bits)
		}
		switch name {
		case "server_no_context_takeover":
			par.serverNCT = true
		case "client_no_context_takeover":
			par.clientNCT = true
		case "server_max_window_bits":
			par.serverBits = bits
		case "client_max_window_bits":
			if bits != 0 {
				par.clientBits = bits
			}
		}
	}
	return par, true
}

// dflSender compresses the peer's messages: compress/flate at its default
// level for a 15-bit window (unless lz), the reference LZ77 encoder
// otherwise.
type dflSender struct {
	bits     int
	takeover bool
	lz       bool
	fw       *flate.Writer
	buf      bytes.Buffer
	hist     []byte // output of earlier messages, with takeover
}

func newDflSender(bits int, takeover bool) *dflSender {
	return &dflSender{bits: bits, takeover: takeover}
}

func (s *dflSender) compress(msg []byte) []byte {
	if s.bits == 15 && !s.lz {
		if s.takeover {
			s.hist = dflKeep(s.hist, msg)
		}
		return dflFlate(&s.fw, &s.buf, msg, flate.DefaultCompression, !s.takeover)
	}
	var hist []byte
	if s.takeover {
		hist = s.hist
	}
	out := deflatetest.EncodeFixed(deflatetest.LZ77(hist, msg, 1<<s.bits))
	if s.takeover {
		s.hist = dflKeep(s.hist, msg)
	}
	return out
}

// dflFlate compresses msg as one message with *fw (made on first use,
// Reset first when reset), sync tail removed.
func dflFlate(fw **flate.Writer, buf *bytes.Buffer, msg []byte, level int, reset bool) []byte {
	buf.Reset()
	if *fw == nil {
		*fw, _ = flate.NewWriter(buf, level)
	} else if reset {
		(*fw).Reset(buf)
	}
	(*fw).Write(msg)
	(*fw).Flush()
	b := bytes.Clone(buf.Bytes())
	if !bytes.HasSuffix(b, []byte{0, 0, 0xff, 0xff}) {
		panic("dflFlate: flush without sync tail")
	}
	return b[:len(b)-4]
}

// encodeSyms encodes hand-made symbols and returns the payload and the
// message they decode to (against the sender's history).
func (s *dflSender) encodeSyms(t *testing.T, syms []deflatetest.Sym) (payload, msg []byte) {
	t.Helper()
	payload = deflatetest.EncodeFixed(syms)
	var hist []byte
	if s.takeover {
		hist = s.hist
	}
	res, err := deflatetest.InflateMessage(hist, payload, 1<<24)
	if err != nil {
		t.Fatalf("hand-made symbols do not decode: %v", err)
	}
	if s.takeover {
		s.hist = dflKeep(s.hist, res.Out)
	}
	return payload, res.Out
}

// dflReceiver checks and inflates our end's compressed messages: every
// back-reference must lie within 2^bits bytes, and without takeover within
// the message itself.
type dflReceiver struct {
	bits     int
	takeover bool
	hist     []byte
}

func (r *dflReceiver) inflate(payload []byte) ([]byte, deflatetest.Result, error) {
	var hist []byte
	if r.takeover {
		hist = r.hist
	}
	res, err := deflatetest.InflateMessage(hist, payload, 1<<28)
	if err != nil {
		if !r.takeover && errors.Is(err, deflatetest.ErrTooFar) {
			err = fmt.Errorf("%w (context takeover was not allowed)", err)
		}
		return nil, res, err
	}
	if res.Final {
		return nil, res, errors.New("message ends with a final block (BFINAL), which ends the stream")
	}
	if res.MaxDist > 1<<r.bits {
		return nil, res, fmt.Errorf("back-reference distance %d beyond the negotiated %d-bit window", res.MaxDist, r.bits)
	}
	if r.takeover {
		r.hist = dflKeep(r.hist, res.Out)
	}
	return res.Out, res, nil
}

// dflEnv is a raw peer with its compressor and checker set up from the
// negotiation.
type dflEnv struct {
	*rawPeer
	par  dflParams
	tx   *dflSender
	rx   *dflReceiver
	sent int // compressed bytes our end sent in data messages
}

// newDflEnv reads the agreed parameters: in the server role from our
// response, in the client role from the raw server's response plus the
// hint our client's offer gave (client_no_context_takeover binds it).
func newDflEnv(p *rawPeer, response string) *dflEnv {
	e := &dflEnv{rawPeer: p}
	if !p.deflate {
		if p.conn.Compressed() {
			p.t.Fatalf("%v: Compressed() is true but nothing was agreed", p.role)
		}
		e.tx, e.rx = newDflSender(15, false), &dflReceiver{bits: 15}
		return e
	}
	if p.role == rpServer {
		response = p.extSeen
	}
	par, ok := dflParse(response)
	if !ok {
		p.t.Fatalf("%v: cannot parse %q", p.role, response)
	}
	if p.role == rpClient && strings.Contains(p.extSeen, "client_no_context_takeover") {
		par.clientNCT = true
	}
	e.par = par
	want := &handshake.Deflate{ServerNoContextTakeover: par.serverNCT, ClientNoContextTakeover: par.clientNCT,
		ServerMaxWindowBits: par.serverBits, ClientMaxWindowBits: par.clientBits}
	if diff := cmp.Diff(want, p.conn.negotiated); diff != "" {
		p.t.Fatalf("%v: negotiated parameters differ from the headers (-headers +conn):\n%s", p.role, diff)
	}
	if p.role == rpServer {
		e.tx = newDflSender(par.clientBits, !par.clientNCT)
		e.rx = &dflReceiver{bits: par.serverBits, takeover: !par.serverNCT}
	} else {
		e.tx = newDflSender(par.serverBits, !par.serverNCT)
		e.rx = &dflReceiver{bits: par.clientBits, takeover: !par.clientNCT}
	}
	return e
}

// frames compresses msg and cuts the payload into n frames, RSV1 on the
// first.
func (e *dflEnv) frames(op byte, msg []byte, n int) []rpFrame {
	return dflFramesOf(op, e.tx.compress(msg), n)
}

func dflFramesOf(op byte, payload []byte, n int) []rpFrame {
	fs := rpFragments(op, rpSplit(payload, n)...)
	fs[0].Rsv = rpRsv1
	return fs
}

// sendComp sends msg compressed in n frames.
func (e *dflEnv) sendComp(op byte, msg []byte, n int) {
	e.t.Helper()
	e.send(e.frames(op, msg, n)...)
}

// dflMsg is one data message as our end put it on the wire.
type dflMsg struct {
	op         byte
	compressed bool
	payload    []byte // the frames' payloads joined
	frames     int
}

// readMsg reads one data message; pongs before or between its frames are
// collected.
func (e *dflEnv) readMsg(pongs *[][]byte) dflMsg {
	e.t.Helper()
	var m dflMsg
	for {
		f := e.next()
		if f.Op == rpOpPong && pongs != nil {
			*pongs = append(*pongs, f.Payload)
			continue
		}
		switch {
		case m.frames == 0 && (f.Op == rpOpText || f.Op == rpOpBin):
			m.op, m.compressed = f.Op, f.Rsv == rpRsv1
		case m.frames > 0 && f.Op == rpOpCont:
		default:
			e.t.Fatalf("%v: unexpected frame %v (message frames so far: %d)", e.role, f, m.frames)
		}
		m.payload = append(m.payload, f.Payload...)
		m.frames++
		if f.Fin {
			return m
		}
	}
}

// RSV2 and RSV3 as they sit in the first header byte.
const (
	dflRsv2 uint8 = 0x20
	dflRsv3 uint8 = 0x10
)

// Whether a message must come compressed.
const (
	dflEither = iota
	dflYes
	dflNo
)

// expect reads a message, inflates it with the checker if compressed and
// compares it with want. It returns the wire form.
func (e *dflEnv) expect(op byte, want []byte, comp int) dflMsg {
	e.t.Helper()
	return e.expectWithPongs(op, want, comp, nil)
}

func (e *dflEnv) expectWithPongs(op byte, want []byte, comp int, pongs [][]byte) dflMsg {
	e.t.Helper()
	var got [][]byte
	var gp *[][]byte
	if pongs != nil {
		gp = &got
	}
	m := e.readMsg(gp)
	for pongs != nil && len(got) < len(pongs) {
		f := e.next()
		if f.Op != rpOpPong {
			e.t.Fatalf("%v: got %v, want a pong", e.role, f)
		}
		got = append(got, f.Payload)
	}
	if pongs != nil {
		if diff := cmp.Diff(pongs, got); diff != "" {
			e.t.Fatalf("%v: pongs (-want +got):\n%s", e.role, diff)
		}
	}
	if m.op != op {
		e.t.Fatalf("%v: message opcode %#x, want %#x", e.role, m.op, op)
	}
	if (comp == dflYes && !m.compressed) || (comp == dflNo && m.compressed) {
		e.t.Fatalf("%v: message of %d bytes compressed=%v, want %v", e.role, len(want), m.compressed, comp == dflYes)
	}
	data := m.payload
	if m.compressed {
		e.sent += len(m.payload)
		var err error
		if data, _, err = e.rx.inflate(m.payload); err != nil {
			e.t.Fatalf("%v: our end's compressed message (%d bytes, %d frames) fails the check: %v", e.role, len(m.payload), m.frames, err)
		}
	}
	if !bytes.Equal(data, want) {
		i := 0
		for i < len(data) && i < len(want) && data[i] == want[i] {
			i++
		}
		e.t.Fatalf("%v: echo differs: got %d bytes, want %d; first difference at %d", e.role, len(data), len(want), i)
	}
	return m
}

// dflWantFail checks the serve loop's error after our end failed the
// connection with code for a reason matching kind.
func dflWantFail(kind error, code int) func(error) string {
	return func(err error) string {
		if !errors.Is(err, kind) {
			return fmt.Sprintf("got %v, want an error matching %v", err, kind)
		}
		if CloseStatus(err) != code {
			return fmt.Sprintf("CloseStatus(%v) = %d, want %d", err, CloseStatus(err), code)
		}
		return ""
	}
}

// expectCorrupt expects close 1007 for corrupt compressed data, reported
// as ErrProtocol.
func (e *dflEnv) expectCorrupt() {
	e.t.Helper()
	e.expectClose(1007)
	e.wantErr = dflWantFail(ErrProtocol, 1007)
}

// expectCloseAfterEcho is expectClose for a failure that may come after
// our end began streaming its echo of the failing message: data frames
// before the close frame are skipped.
func (e *dflEnv) expectCloseAfterEcho(code uint16) {
	e.t.Helper()
	for {
		f, err := e.readFrame(e.timeout)
		if err != nil {
			e.t.Fatalf("%v: waiting for close %d: %v", e.role, code, err)
		}
		if f.Op == rpOpClose {
			e.checkClosePayload(f.Payload, code)
			e.wantErr = rpWantErr(code)
			e.expectTCPClose()
			return
		}
		if f.Op != rpOpText && f.Op != rpOpBin && f.Op != rpOpCont {
			e.t.Fatalf("%v: got frame %v, want data or close %d", e.role, f, code)
		}
	}
}

// ---- test data ----

var dflWords = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
	"india", "juliett", "kilo", "lima", "café", "naïve", "日本語", "Grüße", "👋"}

// dflJSON returns n bytes of JSON-like UTF-8 text (records of a chat or
// event feed), cut at a code point boundary and padded with spaces.
func dflJSON(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0xd1f))
	w := func() string { return dflWords[r.IntN(len(dflWords))] }
	b := make([]byte, 0, n+256)
	for len(b) < n {
		b = fmt.Appendf(b, `{"id":%d,"user":"user_%03d","type":"%s","ts":%d,"text":"%s %s %s %s","score":%d.%02d,"tags":["%s","%s"]},`,
			r.IntN(1_000_000), r.IntN(500), w(), 1_700_000_000+r.IntN(1_000_000), w(), w(), w(), w(),
			r.IntN(100), r.IntN(100), w(), w())
	}
	b = b[:n]
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	for len(b) < n {
		b = append(b, ' ')
	}
	return b
}

// dflMix returns n bytes of binary data: runs of random bytes and of
// repeated structure, so that it compresses somewhat.
func dflMix(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0xb1))
	b := make([]byte, 0, n+64)
	for len(b) < n {
		if r.IntN(2) == 0 {
			b = append(b, rpBytes(16+r.IntN(48), r.Uint64())...)
		} else {
			k := 8 + r.IntN(40)
			for i := range k {
				b = append(b, byte(i*7), 0, 0, byte(r.IntN(4)))
			}
		}
	}
	return b[:n]
}

// ---- running cases ----

const (
	dflDefaultOffer    = "permessage-deflate; client_max_window_bits"
	dflDefaultResponse = "permessage-deflate"
	dflNone            = "none" // no offer (server role) / no extension in the response (client role)
)

// dflCase is one case. ours configures our end (nil: &CompressionOptions{};
// set off to disable compression on our end); offer is what the raw client
// offers, response what the raw server answers ("" = the defaults).
type dflCase struct {
	name     string
	roles    []rpRole
	ours     *CompressionOptions
	off      bool
	offer    string
	response string
	opts     rpOpts
	run      func(e *dflEnv)
}

// dflRunCases runs every case through rpRunCases: in each of its roles
// (nil: both), as parallel subtests named case/role.
func dflRunCases(t *testing.T, cases []dflCase) {
	t.Helper()
	rc := make([]rpCase, len(cases))
	for i, tc := range cases {
		rc[i] = rpCase{name: tc.name, roles: tc.roles}
		rc[i].opts, rc[i].run = tc.rp()
	}
	rpRunCases(t, rc)
}

// dflRun runs one case in one role.
func dflRun(t *testing.T, role rpRole, tc dflCase) {
	t.Helper()
	o, run := tc.rp()
	rpRun(t, role, o, run)
}

// rp returns the raw peer's options for the case (our compression and the
// extension offer and response, defaults filled in) and its run function.
func (tc dflCase) rp() (rpOpts, func(p *rawPeer)) {
	o := tc.opts
	if !tc.off {
		c := CompressionOptions{}
		if tc.ours != nil {
			c = *tc.ours
		}
		o.compression = &c
	}
	offer, response := tc.offer, tc.response
	if offer == "" {
		offer = dflDefaultOffer
	}
	if response == "" {
		response = dflDefaultResponse
	}
	if offer == dflNone {
		offer = ""
	}
	if response == dflNone {
		response = ""
	}
	o.extOffer, o.extResponse = offer, response
	return o, func(p *rawPeer) {
		tc.run(newDflEnv(p, response))
	}
}

// ---- self-check of the reference codec ----

func TestDeflateRefCodec(t *testing.T) {
	t.Parallel()
	inputs := [][]byte{nil, []byte("a"), []byte("Hello"), dflJSON(1, 3000), dflMix(2, 40000), rpBytes(5000, 3),
		bytes.Repeat([]byte("abc"), 5000)}
	for i, in := range inputs {
		for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
			d := rpDeflater{level: level}
			res, err := deflatetest.InflateMessage(nil, d.compress(in), 1<<24)
			if err != nil || !bytes.Equal(res.Out, in) || res.Final {
				t.Fatalf("input %d level %d: compress/flate -> reference inflater: %v (equal %v)", i, level, err, bytes.Equal(res.Out, in))
			}
			if level == flate.HuffmanOnly && res.MaxDist != 0 {
				t.Fatalf("input %d: Huffman-only output has a back-reference of %d", i, res.MaxDist)
			}
		}
		for _, bits := range []int{8, 9, 12, 15} {
			// Context takeover: the input follows a history of its own.
			hist := dflMix(uint64(i+10), 40000)
			hist = hist[len(hist)-1<<15:]
			p := deflatetest.EncodeFixed(deflatetest.LZ77(hist, in, 1<<bits))
			res, err := deflatetest.InflateMessage(hist, p, 1<<24)
			if err != nil || !bytes.Equal(res.Out, in) || res.MaxDist > 1<<bits {
				t.Fatalf("input %d bits %d: LZ77 -> reference inflater: %v, maxDist %d", i, bits, err, res.MaxDist)
			}
			fr := flate.NewReaderDict(bytes.NewReader(append(p, 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff)), hist)
			got, err := io.ReadAll(fr)
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("input %d bits %d: LZ77 -> compress/flate: %v", i, bits, err)
			}
		}
	}
	// The checker catches what it is there to catch.
	rep := bytes.Repeat(rpBytes(1000, 4), 4)
	d := rpDeflater{level: flate.BestCompression}
	if _, _, err := (&dflReceiver{bits: 9}).inflate(d.compress(rep)); err == nil {
		t.Fatal("a 1000-byte back-reference passed a 9-bit window check")
	}
	if _, _, err := (&dflReceiver{bits: 10}).inflate(d.compress(rep)); err != nil {
		t.Fatalf("a 1000-byte back-reference failed a 10-bit window check: %v", err)
	}
	d.takeover = true
	rx := &dflReceiver{bits: 15}
	d.compress(rep)
	if _, _, err := rx.inflate(d.compress(rep)); !errors.Is(err, deflatetest.ErrTooFar) {
		t.Fatalf("a reference into the previous message passed the no-takeover check: %v", err)
	}
	// The RFC 7692 examples, and rejections.
	for _, tc := range []struct {
		hist, payload []byte
		want          string
		err           error
	}{
		{nil, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, "Hello", nil},
		{[]byte("Hello"), []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, "Hello", nil},
		{nil, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, "", deflatetest.ErrTooFar},
		{nil, []byte{0x07}, "", deflatetest.ErrCorrupt},
		{nil, []byte{0x00, 0x05, 0x00, 0x00, 0x00}, "", deflatetest.ErrCorrupt},
	} {
		res, err := deflatetest.InflateMessage(tc.hist, tc.payload, 1000)
		if !errors.Is(err, tc.err) || (err == nil && string(res.Out) != tc.want) {
			t.Fatalf("%x: got %q, %v; want %q, %v", tc.payload, res.Out, err, tc.want, tc.err)
		}
	}
}

// ---- 13.x: negotiation through a real handshake ----

// dflFlow sends messages the peer compresses in the agreed mode (plus one
// uncompressed) and checks the echoes against the agreed parameters.
func dflFlow(e *dflEnv) {
	docs := []struct {
		op  byte
		msg []byte
	}{
		{rpOpText, dflJSON(1, 300)},
		{rpOpText, dflJSON(1, 300)}, // the same again: context takeover pays
		{rpOpText, dflJSON(2, 5000)},
		{rpOpBin, dflMix(3, 2000)},
		{rpOpText, dflJSON(4, 40000)}, // longer than any window
		{rpOpText, dflJSON(1, 300)},
	}
	for i, d := range docs {
		e.sendComp(d.op, d.msg, 1+i%3)
		e.expect(d.op, d.msg, dflYes)
		if i == 3 {
			e.send(rpText("uncompressed on a compressed connection"))
			e.expect(rpOpText, []byte("uncompressed on a compressed connection"), dflYes)
		}
	}
}

// dflFlowDeclined: nothing was agreed, so data flows uncompressed and RSV1
// fails the connection.
func dflFlowDeclined(e *dflEnv) {
	e.send(rpText("plain"))
	e.expectFrame(rpText("plain"))
	f := rpText("Hello")
	f.Rsv = rpRsv1
	f.Payload = []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	e.send(f)
	e.expectClose(1002)
}

func TestDeflateNegotiation(t *testing.T) {
	def := &CompressionOptions{}
	ctx := &CompressionOptions{ContextTakeover: true}
	ctxReq := &CompressionOptions{ContextTakeover: true, RequestNoContextTakeover: true}
	req := &CompressionOptions{RequestNoContextTakeover: true}
	const pmd = "permessage-deflate"
	// Autobahn's client offers (PerMessageDeflateOffer(acceptNoContextTakeover
	// = True, acceptMaxWindowBits = True, requestNoContextTakeover,
	// requestMaxWindowBits)).
	ab := func(reqNCT bool, bits int) string {
		s := pmd + "; client_no_context_takeover; client_max_window_bits"
		if reqNCT {
			s += "; server_no_context_takeover"
		}
		if bits != 0 {
			s += fmt.Sprintf("; server_max_window_bits=%d", bits)
		}
		return s
	}
	server := []struct {
		name  string
		ours  *CompressionOptions
		off   bool
		offer string
		want  string // "" declined
	}{
		{"13.1", def, false, ab(false, 0), pmd + "; server_no_context_takeover; client_no_context_takeover"},
		{"13.1-takeover", ctx, false, ab(false, 0), pmd + "; client_no_context_takeover"},
		{"13.2", def, false, ab(true, 0), pmd + "; server_no_context_takeover; client_no_context_takeover"},
		{"13.2-takeover", ctx, false, ab(true, 0), pmd + "; server_no_context_takeover; client_no_context_takeover"},
		{"13.3", def, false, ab(false, 8), pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8"},
		{"13.3-takeover", ctx, false, ab(false, 8), pmd + "; client_no_context_takeover; server_max_window_bits=8"},
		{"13.4", def, false, ab(false, 15), pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15"},
		{"13.4-takeover", ctx, false, ab(false, 15), pmd + "; client_no_context_takeover; server_max_window_bits=15"},
		{"13.5", ctx, false, ab(true, 8), pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8"},
		{"13.6", ctx, false, ab(true, 15), pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15"},
		{"13.7", ctx, false, ab(true, 8) + ", " + ab(true, 0) + ", " + ab(false, 0),
			pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8"},
		{"plain", def, false, pmd, pmd + "; server_no_context_takeover"},
		{"plain-takeover", ctx, false, pmd, pmd},
		{"plain-request-peer-reset", ctxReq, false, pmd, pmd + "; client_no_context_takeover"},
		{"plain-request-peer-reset-no-takeover", req, false, pmd, pmd + "; server_no_context_takeover; client_no_context_takeover"},
		{"client-bits-8", ctx, false, pmd + "; client_max_window_bits=8", pmd + "; client_max_window_bits=8"},
		{"client-bits-9", ctx, false, pmd + "; client_max_window_bits=9", pmd + "; client_max_window_bits=9"},
		{"client-bits-15-no-takeover-both", ctx, false,
			pmd + "; client_max_window_bits=15; server_no_context_takeover; client_no_context_takeover",
			pmd + "; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=15"},
		{"both-bits-8-no-takeover-both", ctx, false,
			pmd + "; client_max_window_bits=8; server_max_window_bits=8; client_no_context_takeover; server_no_context_takeover",
			pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8"},
		{"both-bits-9-takeover", ctx, false, pmd + "; server_max_window_bits=9; client_max_window_bits=9",
			pmd + "; server_max_window_bits=9; client_max_window_bits=9"},
		{"server-bits-12", ctx, false, pmd + "; server_max_window_bits=12", pmd + "; server_max_window_bits=12"},
		{"quoted-value", ctx, false, pmd + `; server_max_window_bits="10"`, pmd + "; server_max_window_bits=10"},
		{"fallback-to-second-offer", def, false, pmd + "; server_max_window_bits=7, " + pmd, pmd + "; server_no_context_takeover"},
		{"unknown-extension-first", ctx, false, "x-webkit-deflate-frame, " + pmd, pmd},
		{"declined/server-bits-7", def, false, pmd + "; server_max_window_bits=7", ""},
		{"declined/client-bits-16", def, false, pmd + "; client_max_window_bits=16", ""},
		{"declined/server-bits-no-value", def, false, pmd + "; server_max_window_bits", ""},
		{"declined/unknown-param", def, false, pmd + "; mystery", ""},
		{"declined/duplicate-param", def, false, pmd + "; server_no_context_takeover; server_no_context_takeover", ""},
		{"declined/value-on-flag", def, false, pmd + "; client_no_context_takeover=1", ""},
		{"declined/other-extension", def, false, "x-webkit-deflate-frame", ""},
		{"declined/not-configured", nil, true, ab(false, 0), ""},
	}
	var cases []dflCase
	for _, s := range server {
		run := dflFlow
		if s.want == "" {
			run = dflFlowDeclined
		}
		cases = append(cases, dflCase{name: "server/" + s.name, roles: rpOnlyServer, ours: s.ours, off: s.off, offer: s.offer,
			run: func(e *dflEnv) {
				if e.extSeen != s.want {
					e.t.Fatalf("response Sec-WebSocket-Extensions %q, want %q", e.extSeen, s.want)
				}
				run(e)
			}})
	}
	// Our client against the answers of Autobahn's fuzzing server (accept1
	// to accept7 applied to our offer) and other valid answers.
	const (
		offerDef    = pmd + "; client_max_window_bits; client_no_context_takeover"
		offerCtx    = pmd + "; client_max_window_bits"
		offerCtxReq = pmd + "; client_max_window_bits; server_no_context_takeover"
		offerReq    = pmd + "; client_max_window_bits; client_no_context_takeover; server_no_context_takeover"
	)
	client := []struct {
		name      string
		ours      *CompressionOptions
		wantOffer string
		response  string // dflNone: declined
	}{
		{"13.1", def, offerDef, pmd},
		{"13.1-takeover", ctx, offerCtx, pmd},
		{"13.1-request-reset", ctxReq, offerCtxReq, pmd + "; server_no_context_takeover"},
		{"13.1-request-reset-no-takeover", req, offerReq, pmd + "; server_no_context_takeover"},
		{"13.2", def, offerDef, pmd + "; client_no_context_takeover"},
		{"13.3", def, offerDef, pmd + "; client_max_window_bits=8"},
		{"13.3-takeover", ctx, offerCtx, pmd + "; client_max_window_bits=8"},
		{"13.4", def, offerDef, pmd + "; client_max_window_bits=15"},
		{"13.4-takeover", ctx, offerCtx, pmd + "; client_max_window_bits=15"},
		{"13.5", def, offerDef, pmd + "; client_no_context_takeover; client_max_window_bits=8"},
		{"13.6", def, offerDef, pmd + "; client_no_context_takeover; client_max_window_bits=15"},
		{"server-bits-9", ctx, offerCtx, pmd + "; server_max_window_bits=9"},
		{"server-bits-10-client-bits-12", ctx, offerCtx, pmd + "; server_max_window_bits=10; client_max_window_bits=12"},
		{"all-params", ctx, offerCtx, pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=9"},
		{"declined", ctx, offerCtx, dflNone},
	}
	for _, c := range client {
		run := dflFlow
		if c.response == dflNone {
			run = dflFlowDeclined
		}
		cases = append(cases, dflCase{name: "client/" + c.name, roles: rpOnlyClient, ours: c.ours, response: c.response,
			run: func(e *dflEnv) {
				if e.extSeen != c.wantOffer {
					e.t.Fatalf("offer Sec-WebSocket-Extensions %q, want %q", e.extSeen, c.wantOffer)
				}
				run(e)
			}})
	}
	dflRunCases(t, cases)
}

// TestDeflateClientRejects: our client refuses answers it did not offer or
// cannot honour, and Dial fails with handshake.ErrBadExtension.
func TestDeflateClientRejects(t *testing.T) {
	const pmd = "permessage-deflate"
	cases := []struct {
		name, response string
		ours           *CompressionOptions
	}{
		{"client-bits-without-value", pmd + "; client_max_window_bits", &CompressionOptions{}},
		{"client-bits-7", pmd + "; client_max_window_bits=7", &CompressionOptions{}},
		{"server-bits-16", pmd + "; server_max_window_bits=16", &CompressionOptions{}},
		{"unknown-param", pmd + "; mystery", &CompressionOptions{}},
		{"duplicate-param", pmd + "; server_no_context_takeover; server_no_context_takeover", &CompressionOptions{}},
		{"accepted-twice", pmd + ", " + pmd, &CompressionOptions{}},
		{"not-offered", pmd, nil},
		{"unknown-extension", "x-webkit-deflate-frame", &CompressionOptions{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				defer nc.Close()
				req, err := http.ReadRequest(bufio.NewReader(nc))
				if err != nil {
					return
				}
				fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
					"Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: %s\r\n\r\n", rpAccept(req.Header.Get("Sec-WebSocket-Key")), tc.response)
				_, _ = io.Copy(io.Discard, nc)
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, _, err := Dial(ctx, "ws://"+ln.Addr().String()+"/", &DialOptions{Options: Options{Compression: tc.ours},
				Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }})
			if err == nil {
				c.CloseNow()
				t.Fatalf("Dial accepted %q", tc.response)
			}
			if !errors.Is(err, handshake.ErrBadExtension) {
				t.Fatalf("Dial: %v, want an error matching handshake.ErrBadExtension", err)
			}
		})
	}
}

// ---- RFC 7692 section 7.2.3: the examples, byte for byte ----

func TestDeflateRFC7692Examples(t *testing.T) {
	hello := []byte("Hello")
	comp := func(fin bool, op byte, p ...byte) rpFrame { return rpFrame{Fin: fin, Rsv: rpRsv1, Op: op, Payload: p} }
	cont := func(fin bool, p ...byte) rpFrame { return rpFrame{Fin: fin, Op: rpOpCont, Payload: p} }
	cases := []dflCase{
		{name: "7.2.3.1-one-block", run: func(e *dflEnv) {
			e.send(comp(true, rpOpText, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00))
			e.expect(rpOpText, hello, dflYes)
		}},
		{name: "7.2.3.1-fragmented", run: func(e *dflEnv) {
			e.send(comp(false, rpOpText, 0xf2, 0x48, 0xcd), cont(true, 0xc9, 0xc9, 0x07, 0x00))
			e.expect(rpOpText, hello, dflYes)
		}},
		{name: "7.2.3.2-shared-window", run: func(e *dflEnv) {
			e.send(comp(true, rpOpText, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), comp(true, rpOpText, 0xf2, 0x00, 0x11, 0x00, 0x00))
			e.expect(rpOpText, hello, dflYes)
			e.expect(rpOpText, hello, dflYes)
		}},
		{name: "7.2.3.3-stored-block", run: func(e *dflEnv) {
			e.send(comp(true, rpOpText, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00))
			e.expect(rpOpText, hello, dflYes)
		}},
		{name: "7.2.3.4-bfinal", run: func(e *dflEnv) {
			e.send(comp(true, rpOpText, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00))
			e.expect(rpOpText, hello, dflYes)
		}},
		{name: "7.2.3.5-two-blocks", run: func(e *dflEnv) {
			e.send(comp(true, rpOpText, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00))
			e.expect(rpOpText, hello, dflYes)
		}},
		{name: "7.2.3.6-empty-last-fragment", run: func(e *dflEnv) {
			// The first fragment is sync-flushed with its 00 00 ff ff (only
			// the end of the message drops it); the last is an empty stored
			// block without it.
			e.send(comp(false, rpOpText, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff), cont(true, 0x00))
			e.expect(rpOpText, hello, dflYes)
		}},
		{name: "7.2.3.6-tail-dropped-mid-message", run: func(e *dflEnv) {
			// Dropping the 00 00 ff ff inside the message breaks the stored
			// block the last fragment starts: LEN/NLEN no longer match.
			e.send(comp(false, rpOpText, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), cont(true, 0x00))
			e.expectCorrupt()
		}},
		{name: "empty-payload", run: func(e *dflEnv) {
			e.send(comp(true, rpOpBin))
			e.expect(rpOpBin, nil, dflYes)
			e.send(comp(true, rpOpText, 0x00))
			e.expect(rpOpText, nil, dflYes)
			e.send(comp(true, rpOpText, 0x02, 0x00)) // a fixed block with only end-of-block
			e.expect(rpOpText, nil, dflYes)
		}},
		{name: "our-empty-message-is-0x00", opts: rpOpts{serve: rpEchoWhole}, ours: &CompressionOptions{Threshold: -1}, run: func(e *dflEnv) {
			e.send(comp(true, rpOpBin, 0x00))
			m := e.expect(rpOpBin, nil, dflYes)
			if !bytes.Equal(m.payload, []byte{0x00}) {
				e.t.Fatalf("empty message compressed to %x, want 00 (RFC 7692 7.2.3.6)", m.payload)
			}
		}},
	}
	dflRunCases(t, cases)
}

// ---- context takeover over many messages ----

// dflSeries returns count messages where each is the previous one with a
// few edits: context takeover lets the compressor refer to the previous.
func dflSeries(seed uint64, count int) [][]byte {
	r := rand.New(rand.NewPCG(seed, 5))
	base := dflJSON(seed, 600+r.IntN(1400))
	out := make([][]byte, count)
	for i := range out {
		m := bytes.Clone(base)
		for range 3 {
			j := r.IntN(len(m) - 8)
			copy(m[j:], fmt.Appendf(nil, "%08d", r.IntN(1e8)))
		}
		if !utf8.Valid(m) {
			m = bytes.Clone(base)
		}
		if i%25 == 24 {
			base = dflJSON(seed+uint64(i), 600+r.IntN(1400))
		}
		out[i] = m
	}
	return out
}

func dflManyMessages(e *dflEnv, count, batch int) {
	msgs := dflSeries(uint64(len(e.extSeen)), count)
	fresh := 0
	var fw *flate.Writer
	var buf bytes.Buffer
	for i := 0; i < len(msgs); i += batch {
		var fs []rpFrame
		end := min(i+batch, len(msgs))
		for j := i; j < end; j++ {
			fs = append(fs, e.frames(rpOpText, msgs[j], 1+j%2)...)
		}
		e.send(fs...)
		for j := i; j < end; j++ {
			e.expect(rpOpText, msgs[j], dflYes)
			fresh += len(dflFlate(&fw, &buf, msgs[j], flate.BestSpeed, true))
		}
	}
	if e.rx.takeover {
		// Our end kept its context: consecutive near-identical messages
		// must cost far less than compressing each alone.
		if e.sent*2 > fresh {
			e.t.Errorf("%v: with context takeover our %d messages took %d compressed bytes; alone each: %d in total",
				e.role, count, e.sent, fresh)
		}
	}
}

func TestDeflateContextTakeover(t *testing.T) {
	ctx := &CompressionOptions{ContextTakeover: true}
	many := func(e *dflEnv) { dflManyMessages(e, 100, 20) }
	cases := []dflCase{
		{name: "both-ways", ours: ctx, offer: "permessage-deflate", response: "permessage-deflate", run: func(e *dflEnv) {
			if !e.tx.takeover || !e.rx.takeover {
				e.t.Fatalf("negotiation %q did not agree on takeover both ways", e.extSeen)
			}
			many(e)
		}},
		{name: "peer-only", offer: "permessage-deflate", response: "permessage-deflate", run: func(e *dflEnv) {
			if !e.tx.takeover || e.rx.takeover {
				e.t.Fatalf("negotiation did not agree on peer-only takeover")
			}
			many(e)
		}},
		{name: "ours-only", ours: &CompressionOptions{ContextTakeover: true, RequestNoContextTakeover: true},
			offer: "permessage-deflate", response: "permessage-deflate; server_no_context_takeover", run: func(e *dflEnv) {
				if e.tx.takeover || !e.rx.takeover {
					e.t.Fatalf("negotiation %q did not agree on our takeover only", e.extSeen)
				}
				many(e)
			}},
		{name: "window-9-both-ways", ours: ctx, offer: "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
			response: "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9", run: func(e *dflEnv) {
				if e.par.serverBits != 9 || e.par.clientBits != 9 {
					e.t.Fatalf("negotiation did not agree on 9 bits: %+v", e.par)
				}
				dflManyMessagesNoRatio(e, 100)
			}},
		{name: "peer-window-9-exact-distance", ours: ctx, offer: "permessage-deflate; client_max_window_bits=9",
			response: "permessage-deflate; server_max_window_bits=9", run: func(e *dflEnv) {
				// A reference exactly 512 bytes back, into the previous
				// message: the decoder must keep exactly the window.
				first := rpBytes(700, 1)
				e.sendComp(rpOpBin, first, 1)
				e.expect(rpOpBin, first, dflYes)
				payload, msg := e.tx.encodeSyms(e.t, append([]deflatetest.Sym{{Length: 258, Dist: 512}, {Length: 254, Dist: 512}}, deflatetest.Literals([]byte("tail"))...))
				e.send(dflFramesOf(rpOpBin, payload, 2)...)
				e.expect(rpOpBin, msg, dflYes)
				if !bytes.Equal(msg[:258], first[700-512:700-512+258]) {
					e.t.Fatalf("reference decoded wrong")
				}
			}},
		{name: "peer-window-9-beyond", ours: ctx, offer: "permessage-deflate; client_max_window_bits=9",
			response: "permessage-deflate; server_max_window_bits=9", run: func(e *dflEnv) {
				// 513 back is beyond the agreed window: the receiver keeps
				// only 512 bytes, so the data is corrupt.
				first := rpBytes(700, 1)
				e.sendComp(rpOpBin, first, 1)
				e.expect(rpOpBin, first, dflYes)
				e.send(dflFramesOf(rpOpBin, deflatetest.EncodeFixed([]deflatetest.Sym{{Length: 10, Dist: 513}}), 1)...)
				e.expectCorrupt()
			}},
		{name: "window-15-exact-distance-after-wrap", ours: ctx, run: func(e *dflEnv) {
			// The history wraps around the 32 KiB ring several times, then
			// a message copies from exactly 32768 bytes back.
			e.tx.lz = true
			var all []byte
			for i := range 5 {
				m := rpBytes(15000+i*1000, uint64(i))
				all = append(all, m...)
				e.sendComp(rpOpBin, m, 2)
				e.expect(rpOpBin, m, dflYes)
			}
			syms := []deflatetest.Sym{{Length: 258, Dist: 32768}, {Length: 258, Dist: 32768}, {Length: 100, Dist: 32768}}
			payload, msg := e.tx.encodeSyms(e.t, syms)
			want := all[len(all)-32768 : len(all)-32768+616]
			if !bytes.Equal(msg, want) {
				e.t.Fatalf("reference decoded wrong")
			}
			e.send(dflFramesOf(rpOpBin, payload, 1)...)
			e.expect(rpOpBin, want, dflYes)
			e.send(dflFramesOf(rpOpBin, deflatetest.EncodeFixed([]deflatetest.Sym{{Length: 3, Dist: 32769}}), 1)...)
			e.expectCorrupt()
		}},
		{name: "partly-read-message-still-feeds-the-context", ours: ctx, opts: rpOpts{serve: rpEchoPrefix}, run: func(e *dflEnv) {
			// The application reads 3 bytes of the first message; the rest
			// is discarded by inflating it, so the second message may refer
			// to it.
			first := rpBytes(3000, 9)
			e.sendComp(rpOpBin, first, 2)
			e.expect(rpOpBin, first[:3], dflEither)
			payload, msg := e.tx.encodeSyms(e.t, []deflatetest.Sym{{Length: 258, Dist: 1000}, {Length: 3, Dist: 2999}})
			if !bytes.Equal(msg[:258], first[2000:2258]) {
				e.t.Fatal("reference decoded wrong")
			}
			e.send(dflFramesOf(rpOpBin, payload, 1)...)
			e.expect(rpOpBin, msg[:3], dflEither)
		}},
		{name: "no-takeover-reference-into-previous", ours: &CompressionOptions{RequestNoContextTakeover: true},
			offer: "permessage-deflate; client_no_context_takeover", response: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
			run: func(e *dflEnv) {
				first := []byte("a message the next one must not refer to")
				e.sendComp(rpOpText, first, 1)
				e.expect(rpOpText, first, dflYes)
				syms := deflatetest.LZ77(first, first, 1<<15)
				if len(syms) != 1 {
					e.t.Fatalf("expected one back-reference, got %v", syms)
				}
				e.send(dflFramesOf(rpOpText, deflatetest.EncodeFixed(syms), 1)...)
				e.expectCorrupt()
			}},
	}
	dflRunCases(t, cases)
}

func dflManyMessagesNoRatio(e *dflEnv, count int) {
	msgs := dflSeries(7, count)
	for i := 0; i < len(msgs); i += 10 {
		var fs []rpFrame
		end := min(i+10, len(msgs))
		for j := i; j < end; j++ {
			fs = append(fs, e.frames(rpOpText, msgs[j], 1)...)
		}
		e.send(fs...)
		for j := i; j < end; j++ {
			e.expect(rpOpText, msgs[j], dflYes)
		}
	}
}

// ---- fragmentation ----

func TestDeflateFragmentation(t *testing.T) {
	ctx := &CompressionOptions{ContextTakeover: true}
	doc := dflJSON(11, 3000)
	cases := []dflCase{
		{name: "three-frames", run: func(e *dflEnv) {
			e.sendComp(rpOpText, doc, 3)
			e.expect(rpOpText, doc, dflYes)
		}},
		{name: "one-byte-frames", run: func(e *dflEnv) {
			msg := dflJSON(12, 600)
			p := e.tx.compress(msg)
			e.send(dflFramesOf(rpOpText, p, len(p))...)
			e.expect(rpOpText, msg, dflYes)
		}},
		{name: "one-byte-frames-chopped-writes", run: func(e *dflEnv) {
			msg := dflMix(13, 300)
			p := e.tx.compress(msg)
			e.writeChops(e.wire(dflFramesOf(rpOpBin, p, len(p))...), 3, 0, false)
			e.expect(rpOpBin, msg, dflYes)
		}},
		{name: "empty-frames", run: func(e *dflEnv) {
			p := e.tx.compress(doc)
			fs := []rpFrame{{Rsv: rpRsv1, Op: rpOpText}}
			for _, part := range rpSplit(p, 4) {
				fs = append(fs, rpFrame{Op: rpOpCont, Payload: part}, rpFrame{Op: rpOpCont})
			}
			fs[len(fs)-1].Fin = true
			e.send(fs...)
			e.expect(rpOpText, doc, dflYes)
		}},
		{name: "pings-between-fragments", run: func(e *dflEnv) {
			fs := e.frames(rpOpText, doc, 4)
			var out []rpFrame
			var pongs [][]byte
			for i, f := range fs {
				out = append(out, f)
				if i < len(fs)-1 {
					pl := []byte(fmt.Sprintf("ping %d", i))
					out = append(out, rpPing(pl))
					pongs = append(pongs, pl)
				}
			}
			e.send(out...)
			e.expectWithPongs(rpOpText, doc, dflYes, pongs)
		}},
		{name: "pings-between-one-byte-fragments-chopped", run: func(e *dflEnv) {
			msg := dflJSON(14, 200)
			p := e.tx.compress(msg)
			fs := dflFramesOf(rpOpText, p, len(p))
			var out []rpFrame
			var pongs [][]byte
			for i, f := range fs {
				out = append(out, f)
				if i%10 == 0 && i < len(fs)-1 {
					pl := []byte{byte(i)}
					out = append(out, rpPing(pl))
					pongs = append(pongs, pl)
				}
			}
			e.writeChops(e.wire(out...), 7, 0, false)
			e.expectWithPongs(rpOpText, msg, dflYes, pongs)
		}},
		{name: "fragmented-with-takeover", ours: ctx, offer: "permessage-deflate", run: func(e *dflEnv) {
			for i := range 10 {
				m := dflJSON(20+uint64(i%3), 2000)
				e.sendComp(rpOpText, m, 2+i)
				e.expect(rpOpText, m, dflYes)
			}
		}},
		{name: "big-fragmented-with-takeover", ours: ctx, offer: "permessage-deflate", run: func(e *dflEnv) {
			for i := range 3 {
				m := dflMix(30+uint64(i), 100000)
				wait := e.sendBg(e.wire(e.frames(rpOpBin, m, 9)...), 4096)
				e.expect(rpOpBin, m, dflYes)
				wait()
			}
		}},
		{name: "fragmented-plain-then-compressed", run: func(e *dflEnv) {
			e.send(rpFragments(rpOpText, []byte("plain "), []byte("fragmented"))...)
			e.expect(rpOpText, []byte("plain fragmented"), dflYes)
			e.sendComp(rpOpText, doc, 2)
			e.expect(rpOpText, doc, dflYes)
		}},
		{name: "our-ping-between-our-compressed-fragments", opts: rpOpts{serve: dflPingMidMessage}, run: func(e *dflEnv) {
			// Our end streams a compressed message and pings in the middle:
			// the ping goes out between fragments, without RSV1, and the
			// fragments still form one valid compressed message.
			var payload []byte
			frames, pinged := 0, false
			for {
				f := e.next()
				if f.Op == rpOpPing {
					if frames == 0 || !bytes.Equal(f.Payload, []byte("mid")) {
						e.t.Fatalf("ping %v after %d fragments", f, frames)
					}
					pinged = true
					continue
				}
				if (frames == 0) != (f.Op == rpOpBin) || (frames == 0) != (f.Rsv == rpRsv1) {
					e.t.Fatalf("fragment %d: %v", frames, f)
				}
				frames++
				payload = append(payload, f.Payload...)
				if f.Fin {
					break
				}
			}
			got, _, err := e.rx.inflate(payload)
			if err != nil || !bytes.Equal(got, dflPingMidData) {
				e.t.Fatalf("message with a ping inside: %v (equal %v)", err, bytes.Equal(got, dflPingMidData))
			}
			if !pinged || frames < 3 {
				e.t.Fatalf("pinged %v, %d fragments", pinged, frames)
			}
		}},
		{name: "rsv1-on-continuation", run: func(e *dflEnv) {
			fs := e.frames(rpOpText, doc, 2)
			fs[1].Rsv = rpRsv1
			e.send(fs...)
			e.expectClose(1002)
		}},
		{name: "rsv1-on-last-of-three", run: func(e *dflEnv) {
			fs := e.frames(rpOpBin, doc, 3)
			fs[2].Rsv = rpRsv1
			e.send(fs...)
			e.expectClose(1002)
		}},
		{name: "rsv1-on-continuation-of-plain", run: func(e *dflEnv) {
			fs := rpFragments(rpOpText, []byte("plain "), []byte("then compressed?"))
			fs[1].Rsv = rpRsv1
			e.send(fs...)
			e.expectClose(1002)
		}},
		{name: "new-compressed-message-inside-fragmented", run: func(e *dflEnv) {
			fs := e.frames(rpOpText, doc, 2)
			e.send(fs[0])
			e.send(e.frames(rpOpText, doc, 1)...)
			e.expectClose(1002)
		}},
		{name: "continuation-without-start", run: func(e *dflEnv) {
			e.send(rpFrame{Fin: true, Op: rpOpCont, Rsv: rpRsv1, Payload: []byte{0x00}})
			e.expectClose(1002)
		}},
	}
	dflRunCases(t, cases)
}

var dflPingMidData = rpBytes(200000, 77)

// dflPingMidMessage streams dflPingMidData through NextWriter with a ping
// after 150000 bytes (compress/flate has emitted blocks by then), then
// echoes.
func dflPingMidMessage(c *Conn) error {
	err := func() error {
		w, err := c.NextWriter(BinaryMessage)
		if err != nil {
			return err
		}
		if _, err := w.Write(dflPingMidData[:150000]); err != nil {
			return err
		}
		if err := c.Ping([]byte("mid")); err != nil {
			return err
		}
		if _, err := w.Write(dflPingMidData[150000:]); err != nil {
			return err
		}
		return w.Close()
	}()
	if err != nil {
		c.CloseNow()
		return err
	}
	return rpEcho(c)
}

// ---- reserved bits and control frames ----

func TestDeflateReservedBits(t *testing.T) {
	withRsv := func(f rpFrame, rsv uint8) rpFrame { f.Rsv = rsv; return f }
	hello := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	cases := []dflCase{
		{name: "rsv1-ping", run: func(e *dflEnv) {
			e.send(withRsv(rpPing([]byte{0x00}), rpRsv1))
			e.expectClose(1002)
		}},
		{name: "rsv1-empty-ping", run: func(e *dflEnv) {
			e.send(withRsv(rpPing(nil), rpRsv1))
			e.expectClose(1002)
		}},
		{name: "rsv1-pong", run: func(e *dflEnv) {
			e.send(withRsv(rpPong([]byte("x")), rpRsv1))
			e.expectClose(1002)
		}},
		{name: "rsv1-close", run: func(e *dflEnv) {
			e.send(withRsv(rpClose(1000, ""), rpRsv1))
			e.expectClose(1002)
		}},
		{name: "rsv1-ping-inside-compressed-message", run: func(e *dflEnv) {
			fs := e.frames(rpOpText, dflJSON(1, 500), 2)
			e.send(fs[0], withRsv(rpPing([]byte("p")), rpRsv1), fs[1])
			e.expectClose(1002)
		}},
		{name: "rsv2-compressed-text", run: func(e *dflEnv) {
			e.send(withRsv(rpFrame{Fin: true, Op: rpOpText, Payload: hello}, rpRsv1|dflRsv2))
			e.expectClose(1002)
		}},
		{name: "rsv2-text", run: func(e *dflEnv) {
			e.send(withRsv(rpText("x"), dflRsv2))
			e.expectClose(1002)
		}},
		{name: "rsv3-binary", run: func(e *dflEnv) {
			e.send(withRsv(rpBin([]byte("x")), dflRsv3))
			e.expectClose(1002)
		}},
		{name: "our-control-frames-clear", run: func(e *dflEnv) {
			// Pong and close from our end carry no RSV bit (readFrame
			// rejects any).
			e.send(rpPing([]byte("are control frames compressed?")))
			e.expectPong([]byte("are control frames compressed?"))
			e.send(rpClose(1000, "bye"))
			e.expectClose(1000)
		}},
		{name: "rsv1-not-negotiated/server-not-configured", roles: rpOnlyServer, off: true, run: func(e *dflEnv) {
			if e.deflate {
				e.t.Fatal("compression negotiated")
			}
			dflFlowDeclined(e)
		}},
		{name: "rsv1-not-negotiated/no-offer", roles: rpOnlyServer, offer: dflNone, run: dflFlowDeclined},
		{name: "rsv1-not-negotiated/no-response", roles: rpOnlyClient, response: dflNone, run: dflFlowDeclined},
	}
	dflRunCases(t, cases)
}

// ---- uncompressed messages, Threshold, EnableWriteCompression ----

// dflToggleEcho echoes like rpEchoWhole, alternating WriteMessage and
// NextWriter; "off" and "on" switch EnableWriteCompression (and are echoed
// after the switch).
func dflToggleEcho(c *Conn) error {
	for i := 0; ; i++ {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return err
		}
		switch string(p) {
		case "off":
			c.EnableWriteCompression(false)
		case "on":
			c.EnableWriteCompression(true)
		}
		if i%2 == 0 {
			err = c.WriteMessage(mt, p)
		} else {
			var w io.WriteCloser
			if w, err = c.NextWriter(mt); err == nil {
				_, err = w.Write(p)
				if cerr := w.Close(); err == nil {
					err = cerr
				}
			}
		}
		if err != nil {
			c.CloseNow()
			return err
		}
	}
}

func TestDeflateUncompressed(t *testing.T) {
	ctx := &CompressionOptions{ContextTakeover: true}
	whole := rpOpts{serve: rpEchoWhole}
	sizes := func(e *dflEnv, ns []int, comp func(n int) int) {
		for _, n := range ns {
			m := dflJSON(uint64(n), n)
			e.sendComp(rpOpText, m, 1)
			e.expect(rpOpText, m, comp(n))
		}
	}
	cases := []dflCase{
		{name: "peer-plain-messages", run: func(e *dflEnv) {
			for _, m := range [][]byte{nil, []byte("x"), dflJSON(1, 1000), dflJSON(2, 70000)} {
				e.send(rpFragments(rpOpText, rpSplit(m, 3)...)...)
				e.expect(rpOpText, m, dflYes)
				e.send(rpBin(m))
				e.expect(rpOpBin, m, dflYes)
			}
		}},
		{name: "peer-mixed-with-takeover", ours: ctx, offer: "permessage-deflate", run: func(e *dflEnv) {
			// Uncompressed messages are not part of the LZ77 window: the
			// compressed ones around them still share their context.
			msgs := dflSeries(3, 30)
			for i, m := range msgs {
				if i%3 == 1 {
					e.send(rpText(string(m)))
				} else {
					e.sendComp(rpOpText, m, 1)
				}
				e.expect(rpOpText, m, dflYes)
			}
		}},
		{name: "threshold-default-128", opts: whole, run: func(e *dflEnv) {
			sizes(e, []int{0, 1, 127, 128, 129, 1000}, func(n int) int {
				if n < 128 {
					return dflNo
				}
				return dflYes
			})
		}},
		{name: "threshold-negative-compresses-all", opts: whole, ours: &CompressionOptions{Threshold: -1}, run: func(e *dflEnv) {
			sizes(e, []int{0, 1, 127, 128, 5000}, func(int) int { return dflYes })
		}},
		{name: "threshold-1000", opts: whole, ours: &CompressionOptions{Threshold: 1000}, run: func(e *dflEnv) {
			sizes(e, []int{0, 500, 999, 1000, 1001}, func(n int) int {
				if n < 1000 {
					return dflNo
				}
				return dflYes
			})
		}},
		{name: "threshold-with-takeover", opts: whole, ours: &CompressionOptions{ContextTakeover: true, Threshold: 500}, offer: "permessage-deflate",
			run: func(e *dflEnv) {
				for i, m := range dflSeries(4, 40) {
					m = m[:min(len(m), 100+(i*97)%900)]
					for !utf8.Valid(m) {
						m = m[:len(m)-1]
					}
					e.sendComp(rpOpText, m, 1)
					want := dflYes
					if len(m) < 500 {
						want = dflNo
					}
					e.expect(rpOpText, m, want)
				}
			}},
		{name: "enable-write-compression", opts: rpOpts{serve: dflToggleEcho}, ours: ctx, offer: "permessage-deflate",
			run: func(e *dflEnv) {
				msgs := dflSeries(5, 24)
				for i, m := range msgs {
					switch i {
					case 8:
						e.send(rpText("off"))
						e.expect(rpOpText, []byte("off"), dflNo)
					case 16:
						e.send(rpText("on"))
						e.expect(rpOpText, []byte("on"), dflEither)
					}
					e.sendComp(rpOpText, m, 1)
					want := dflYes
					if i >= 8 && i < 16 {
						want = dflNo
					}
					e.expect(rpOpText, m, want)
				}
			}},
	}
	dflRunCases(t, cases)
}

// ---- corrupt compressed data: 1007, ErrProtocol ----

func TestDeflateCorrupt(t *testing.T) {
	// truncated returns a compressed message cut where the reference
	// decoder proves it invalid.
	truncated := func(e *dflEnv) []byte {
		p := e.tx.compress(dflJSON(40, 4000))
		for cut := len(p) / 2; cut > 0; cut-- {
			if _, err := deflatetest.InflateMessage(nil, p[:cut], 1<<20); err != nil {
				return p[:cut]
			}
		}
		e.t.Fatal("no invalid truncation found")
		return nil
	}
	var finalThenJunk []byte
	{
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestSpeed)
		w.Write([]byte("Hello, Hello, Hello"))
		w.Close()
		finalThenJunk = append(buf.Bytes(), "junk"...)
	}
	garbage := func() []byte {
		for seed := uint64(1); ; seed++ {
			g := rpBytes(64, seed)
			if _, err := deflatetest.InflateMessage(nil, g, 1<<20); err != nil && !errors.Is(err, deflatetest.ErrShort) {
				return g
			}
		}
	}()
	one := func(p []byte) func(e *dflEnv) {
		return func(e *dflEnv) {
			e.send(dflFramesOf(rpOpBin, p, 1)...)
			e.expectCorrupt()
		}
	}
	cases := []dflCase{
		{name: "reserved-block-type", run: one([]byte{0x07})},
		{name: "reserved-block-type-not-final", run: one([]byte{0x06, 0x00})},
		{name: "stored-len-nlen-mismatch", run: one([]byte{0x00, 0x05, 0x00, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'})},
		{name: "distance-too-far", run: one(deflatetest.EncodeFixed([]deflatetest.Sym{{Lit: 'a'}, {Length: 3, Dist: 5}}))},
		{name: "reference-without-any-history", run: one([]byte{0xf2, 0x00, 0x11, 0x00, 0x00})},
		{name: "garbage", run: one(garbage)},
		{name: "data-after-final-block", run: one(finalThenJunk)},
		{name: "truncated-stream", run: func(e *dflEnv) {
			e.send(dflFramesOf(rpOpText, truncated(e), 1)...)
			e.expectCorrupt()
		}},
		{name: "corrupt-in-later-fragment", run: func(e *dflEnv) {
			p := e.tx.compress(dflJSON(41, 3000))
			p = append(p[:len(p)/2:len(p)/2], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
			if _, err := deflatetest.InflateMessage(nil, p, 1<<20); err == nil {
				e.t.Fatal("the corrupted stream decodes")
			}
			e.send(dflFramesOf(rpOpText, p, 3)...)
			e.expectCorrupt()
		}},
		{name: "corrupt-in-the-unread-part", opts: rpOpts{serve: rpEchoPrefix}, run: func(e *dflEnv) {
			// The application reads 3 bytes; discarding the rest inflates
			// it, and finds it corrupt.
			e.send(dflFramesOf(rpOpBin, []byte{0x00, 0x06, 0x00, 0xf9, 0xff, 'a', 'b', 'c', 'd', 'e', 'f', 0x07}, 2)...)
			e.expect(rpOpBin, []byte("abc"), dflNo)
			e.expectCorrupt()
		}},
		{name: "invalid-utf8-in-the-unread-part", opts: rpOpts{serve: rpEchoPrefix}, run: func(e *dflEnv) {
			e.sendComp(rpOpText, append([]byte("abcdef"), 0xff), 1)
			e.expect(rpOpText, []byte("abc"), dflNo)
			e.expectClose(1007)
		}},
		{name: "corrupt-after-valid-messages", run: func(e *dflEnv) {
			for i := range 3 {
				m := dflJSON(uint64(50+i), 1000)
				e.sendComp(rpOpText, m, 1)
				e.expect(rpOpText, m, dflYes)
			}
			e.send(dflFramesOf(rpOpText, []byte{0x07}, 1)...)
			e.expectCorrupt()
		}},
	}
	dflRunCases(t, cases)
}

// ---- limits and decompression bombs ----

func TestDeflateLimits(t *testing.T) {
	small := rpOpts{readLimit: 1000}
	cases := []dflCase{
		{name: "inflates-to-exactly-the-limit", opts: small, run: func(e *dflEnv) {
			m := dflJSON(1, 1000)
			e.sendComp(rpOpText, m, 1)
			e.expect(rpOpText, m, dflYes)
		}},
		{name: "inflates-to-limit-plus-one", opts: small, run: func(e *dflEnv) {
			e.sendComp(rpOpText, dflJSON(1, 1001), 1)
			e.expectClose(1009)
		}},
		{name: "inflates-to-limit-plus-one-fragmented", opts: small, run: func(e *dflEnv) {
			e.sendComp(rpOpBin, bytes.Repeat([]byte{7}, 1001), 5)
			e.expectClose(1009)
		}},
		{name: "limit-is-per-message", opts: small, run: func(e *dflEnv) {
			for i := range 5 {
				m := dflJSON(uint64(i), 900)
				e.sendComp(rpOpText, m, 1)
				e.expect(rpOpText, m, dflYes)
			}
		}},
		{name: "plain-over-limit-on-compressed-connection", opts: small, run: func(e *dflEnv) {
			e.send(rpText(string(dflJSON(1, 1001))))
			e.expectClose(1009)
		}},
		{name: "raw-budget-of-empty-blocks", opts: small, run: func(e *dflEnv) {
			// Empty stored blocks inflate to nothing; their raw size is
			// bounded all the same.
			p := bytes.Repeat([]byte{0x00, 0x00, 0x00, 0xff, 0xff}, 600)
			e.writeLenient(e.wire(dflFramesOf(rpOpBin, p, 6)...))
			e.expectClose(1009)
		}},
		{name: "small-bomb", opts: small, run: func(e *dflEnv) {
			// In 16 frames: the first is within the raw budget, so it is
			// the inflated size that fails the message.
			e.writeLenient(e.wire(dflFramesOf(rpOpBin, dflBomb(16), 16)...))
			e.expectClose(1009)
		}},
	}
	dflRunCases(t, cases)
}

var dflBombChunk = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(make([]byte, 1<<20))
	w.Flush()
	return bytes.Clone(buf.Bytes())
})

// dflBomb returns a compressed message payload of mib MiB of zeros: copies
// of one sync-flushed MiB, about 1 KiB each.
func dflBomb(mib int) []byte {
	b := bytes.Repeat(dflBombChunk(), mib)
	return b[:len(b)-4]
}

// TestDeflateBomb: a few hundred KiB that inflate to 256 MiB fail with 1009
// once the 1 MiB limit is passed, the application never sees more than the
// limit, and nothing proportional to the inflated size is allocated. Not
// parallel: it measures the heap.
func TestDeflateBomb(t *testing.T) {
	const limit = 1 << 20
	const mib = 256
	bomb := dflBomb(mib)
	for _, role := range rpRoles {
		t.Run(role.String(), func(t *testing.T) {
			var delivered int64
			serve := func(c *Conn) error {
				buf := make([]byte, 32<<10)
				for {
					_, r, err := c.NextReader()
					if err != nil {
						return err
					}
					for {
						n, err := r.Read(buf)
						delivered += int64(n)
						if err == io.EOF {
							break
						}
						if err != nil {
							return err
						}
					}
				}
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			dflRun(t, role, dflCase{opts: rpOpts{readLimit: limit, serve: serve}, run: func(e *dflEnv) {
				// Written in the background: our end stops reading early.
				wire := e.wire(dflFramesOf(rpOpBin, bomb, 4)...)
				nc := e.nc
				done := make(chan struct{})
				go func() {
					defer close(done)
					_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
					_, _ = nc.Write(wire)
				}()
				e.expectCloseWithin(1009, 10*time.Second)
				<-done
			}})
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			runtime.GC()
			var settled runtime.MemStats
			runtime.ReadMemStats(&settled)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("%v: bomb of %d KiB inflating to %d MiB: failed after %v, %d bytes delivered, %d KiB allocated in all, heap %+d KiB after",
				role, len(bomb)>>10, mib, elapsed.Round(time.Millisecond), delivered, allocated>>10,
				(int64(settled.HeapAlloc)-int64(before.HeapAlloc))>>10)
			if delivered > limit {
				t.Errorf("the application got %d bytes of a message over the %d limit", delivered, limit)
			}
			// The bomb itself is in memory twice (payload and masked wire
			// form); everything else must be small next to 256 MiB.
			if allocated > 3*uint64(len(bomb))+24<<20 {
				t.Errorf("%d MiB allocated while failing a bomb of %d MiB", allocated>>20, mib)
			}
		})
	}
}

// ---- invalid UTF-8 inside compressed text ----

func TestDeflateUTF8(t *testing.T) {
	pad := dflJSON(60, 2000)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	bad := func(m []byte, n int) func(e *dflEnv) {
		return func(e *dflEnv) {
			e.sendComp(rpOpText, m, n)
			e.expectCloseAfterEcho(1007)
		}
	}
	cases := []dflCase{
		{name: "invalid-byte-in-the-middle", run: bad(cat(pad, []byte{0xff}, pad), 1)},
		{name: "invalid-deep-in-a-large-message", run: bad(cat(dflJSON(61, 100000), []byte("\xc0\xaf"), pad), 4)},
		{name: "truncated-code-point-at-end", run: bad(cat(pad, []byte("\xe2\x82")), 1)},
		{name: "surrogate", run: bad(cat([]byte("abc"), []byte("\xed\xa0\x80"), pad), 3)},
		{name: "over-max-code-point", run: bad([]byte("\xf4\x90\x80\x80"), 1)},
		{name: "invalid-in-later-fragment", run: bad(cat(pad, pad, []byte{0x80}), 5)},
		{name: "invalid-after-valid-with-takeover", ours: &CompressionOptions{ContextTakeover: true}, offer: "permessage-deflate",
			run: func(e *dflEnv) {
				e.sendComp(rpOpText, pad, 1)
				e.expect(rpOpText, pad, dflYes)
				e.sendComp(rpOpText, cat(pad, []byte{0xfe}), 2)
				e.expectClose(1007)
			}},
		{name: "valid-multibyte-across-fragments", run: func(e *dflEnv) {
			m := []byte(strings.Repeat("日本語 Grüße 👋 ", 200))
			p := e.tx.compress(m)
			e.send(dflFramesOf(rpOpText, p, len(p))...)
			e.expect(rpOpText, m, dflYes)
		}},
		{name: "binary-is-not-checked", run: func(e *dflEnv) {
			m := cat(pad, []byte{0xff, 0xfe}, pad)
			e.sendComp(rpOpBin, m, 2)
			e.expect(rpOpBin, m, dflYes)
		}},
	}
	dflRunCases(t, cases)
}

// ---- PreparedMessage across connections with different parameters ----

func TestDeflatePrepared(t *testing.T) {
	big := dflJSON(70, 5000)
	pmBig, err := NewPreparedMessage(TextMessage, big)
	if err != nil {
		t.Fatal(err)
	}
	small := []byte("below the threshold")
	pmSmall, err := NewPreparedMessage(BinaryMessage, small)
	if err != nil {
		t.Fatal(err)
	}
	// A normal message first, so that with context takeover the
	// compressor has history that a prepared message must not bypass.
	warm := dflJSON(72, 3000)
	serve := func(c *Conn) error {
		if err := c.WriteMessage(TextMessage, warm); err != nil {
			c.CloseNow()
			return err
		}
		for _, pm := range []*PreparedMessage{pmBig, pmSmall, pmBig} {
			if err := c.WritePreparedMessage(pm); err != nil {
				c.CloseNow()
				return err
			}
		}
		return rpEcho(c)
	}
	var mu sync.Mutex
	wires := make(map[string][]byte) // case -> wire payload of pmBig
	check := func(name string, wantComp int, wantWindow int) func(e *dflEnv) {
		return func(e *dflEnv) {
			e.expect(rpOpText, warm, wantComp)
			m1 := e.expect(rpOpText, big, wantComp)
			e.expect(rpOpBin, small, dflNo)
			m2 := e.expect(rpOpText, big, wantComp)
			if wantWindow > 0 {
				_, res, err := (&dflReceiver{bits: 15}).inflate(m1.payload)
				if err != nil || res.MaxDist > wantWindow {
					e.t.Fatalf("prepared frame: %v, refers %d bytes back, window %d", err, res.MaxDist, wantWindow)
				}
			}
			// The context (if any) is still in step: a normal message
			// follows.
			m := dflJSON(71, 3000)
			if e.deflate {
				e.sendComp(rpOpText, m, 1)
				e.expect(rpOpText, m, dflYes)
			} else {
				e.send(rpText(string(m)))
				e.expect(rpOpText, m, dflNo)
			}
			if e.role == rpServer && !e.rx.takeover && !bytes.Equal(m1.payload, m2.payload) {
				e.t.Fatalf("the same prepared message went out as different bytes without context takeover")
			}
			mu.Lock()
			wires[name] = m1.payload
			mu.Unlock()
		}
	}
	opts := rpOpts{serve: serve}
	cases := []dflCase{
		{name: "uncompressed", roles: rpOnlyServer, opts: opts, offer: dflNone, run: check("uncompressed", dflNo, 0)},
		{name: "no-takeover", roles: rpOnlyServer, opts: opts, offer: "permessage-deflate", run: check("no-takeover", dflYes, 0)},
		{name: "no-takeover-again", roles: rpOnlyServer, opts: opts, offer: "permessage-deflate", run: check("no-takeover-again", dflYes, 0)},
		{name: "takeover", roles: rpOnlyServer, opts: opts, ours: &CompressionOptions{ContextTakeover: true}, offer: "permessage-deflate",
			run: check("takeover", dflYes, 0)},
		{name: "window-9", roles: rpOnlyServer, opts: opts, offer: "permessage-deflate; server_max_window_bits=9", run: check("window-9", dflYes, 512)},
		{name: "window-9-takeover", roles: rpOnlyServer, opts: opts, ours: &CompressionOptions{ContextTakeover: true},
			offer: "permessage-deflate; server_max_window_bits=9", run: check("window-9-takeover", dflYes, 0)}, // the receiver checks the window
		{name: "level-9", roles: rpOnlyServer, opts: opts, ours: &CompressionOptions{Level: 9}, offer: "permessage-deflate", run: check("level-9", dflYes, 0)},
		{name: "client", roles: rpOnlyClient, opts: opts, run: check("client", dflYes, 0)},
		{name: "client-takeover", roles: rpOnlyClient, opts: opts, ours: &CompressionOptions{ContextTakeover: true}, run: check("client-takeover", dflYes, 0)},
	}
	t.Run("group", func(t *testing.T) { dflRunCases(t, cases) })
	if t.Failed() {
		return
	}
	if !bytes.Equal(wires["no-takeover"], wires["no-takeover-again"]) {
		t.Errorf("two connections with the same parameters got different bytes")
	}
	if bytes.Equal(wires["no-takeover"], wires["window-9"]) {
		t.Errorf("window 9 got the 15-bit encoding")
	}
	// Encodings kept: uncompressed (also used for the small message),
	// level 1 full window, level 1 limited window, level 9.
	pmBig.mu.Lock()
	n := len(pmBig.frames)
	pmBig.mu.Unlock()
	if n != 4 {
		t.Errorf("the prepared message keeps %d encodings, want 4", n)
	}
}

// ---- Autobahn 12.x: our client against our server ----

// dflPair connects our client to our server. offer "" dials with Dial;
// otherwise the client handshake is written by hand with that offer (our
// client never offers window bits) and the client Conn is made from the
// verified response.
func dflPair(t *testing.T, srv *Config, cli *DialOptions, offer string) (client, server *Conn) {
	t.Helper()
	conns := make(chan *Conn, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, srv)
		if err != nil {
			t.Errorf("Upgrade: %v", err)
			close(conns)
			return
		}
		conns <- c
	}))
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if offer == "" {
		c, _, err := Dial(ctx, "ws://"+ts.Listener.Addr().String()+"/", cli)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		client = c
	} else {
		nc, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		key := handshake.NewKey()
		fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: %s\r\n\r\n", ts.Listener.Addr(), key, offer)
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := handshake.VerifyResponse(resp, key, &handshake.ClientConfig{Deflate: &handshake.DeflateOptions{ContextTakeover: true}})
		if err != nil {
			t.Fatalf("response to %q: %v", offer, err)
		}
		var pending []byte
		if n := br.Buffered(); n > 0 {
			pending, _ = br.Peek(n)
		}
		client = newConn(nc, RoleClient, cli.Options.resolve(), "", res.Deflate, bytes.Clone(pending))
	}
	server, ok := <-conns
	if !ok {
		t.FailNow()
	}
	return client, server
}

func TestDeflateEcho12(t *testing.T) {
	type msgCount struct{ size, count, frag int }
	// Autobahn's sizes, with counts cut to keep the suite fast; frag > 0
	// streams the message through NextWriter in fragments of that size.
	sizes := []msgCount{
		{16, 30, 0}, {64, 30, 0}, {256, 30, 0}, {1024, 20, 0}, {4096, 10, 0}, {8192, 6, 0}, {16384, 4, 0},
		{32768, 3, 0}, {65536, 2, 0}, {131072, 1, 0},
		{8192, 4, 256}, {65536, 1, 1024}, {131072, 1, 4096}, {131072, 1, 32768},
	}
	configs := []struct {
		name       string
		srv, cli   CompressionOptions
		offer      string
		want       handshake.Deflate
		ourTakeCli bool
	}{
		{"no-takeover", CompressionOptions{}, CompressionOptions{}, "",
			handshake.Deflate{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, false},
		{"takeover", CompressionOptions{ContextTakeover: true}, CompressionOptions{ContextTakeover: true}, "",
			handshake.Deflate{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, true},
		{"window-9", CompressionOptions{ContextTakeover: true}, CompressionOptions{ContextTakeover: true},
			"permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
			handshake.Deflate{ServerMaxWindowBits: 9, ClientMaxWindowBits: 9}, true},
		{"window-15", CompressionOptions{ContextTakeover: true}, CompressionOptions{ContextTakeover: true},
			"permessage-deflate; server_max_window_bits=15; client_max_window_bits=15",
			handshake.Deflate{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, true},
	}
	corpus := map[MessageType][]byte{TextMessage: dflJSON(80, 300000), BinaryMessage: dflMix(81, 300000)}
	for _, cfg := range configs {
		for _, mt := range []MessageType{TextMessage, BinaryMessage} {
			t.Run(cfg.name+"/"+mt.String(), func(t *testing.T) {
				t.Parallel()
				srv := DefaultConfig()
				srv.Compression = &cfg.srv
				cli := &DialOptions{Options: Options{Compression: &cfg.cli},
					Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }}
				client, server := dflPair(t, srv, cli, cfg.offer)
				for _, c := range []*Conn{client, server} {
					if diff := cmp.Diff(&cfg.want, c.negotiated); diff != "" {
						t.Fatalf("negotiated (-want +got):\n%s", diff)
					}
				}
				serveErr := make(chan error, 1)
				go func() { serveErr <- rpEcho(server) }()

				// Messages are consecutive slices of the corpus, as
				// Autobahn takes them from its test file.
				var msgs [][]byte
				var frags []int
				pos := 0
				data := corpus[mt]
				for _, s := range sizes {
					for range s.count {
						if pos+s.size > len(data) {
							pos = 0
						}
						m := data[pos : pos+s.size]
						if mt == TextMessage {
							for !utf8.Valid(m) {
								m = m[:len(m)-1]
							}
						}
						pos += s.size
						msgs = append(msgs, m)
						frags = append(frags, s.frag)
					}
				}
				writeErr := make(chan error, 1)
				go func() {
					for i, m := range msgs {
						var err error
						if frags[i] == 0 {
							err = client.WriteMessage(mt, m)
						} else {
							var w io.WriteCloser
							if w, err = client.NextWriter(mt); err == nil {
								for p := m; len(p) > 0 && err == nil; {
									n := min(frags[i], len(p))
									_, err = w.Write(p[:n])
									p = p[n:]
								}
								if cerr := w.Close(); err == nil {
									err = cerr
								}
							}
						}
						if err != nil {
							writeErr <- fmt.Errorf("message %d: %w", i, err)
							return
						}
					}
					writeErr <- nil
				}()
				for i, m := range msgs {
					gt, got, err := client.ReadMessage()
					if err != nil {
						t.Fatalf("echo %d (%d bytes): %v", i, len(m), err)
					}
					if gt != mt || !bytes.Equal(got, m) {
						t.Fatalf("echo %d: got %v of %d bytes, want %v of %d", i, gt, len(got), mt, len(m))
					}
				}
				if err := <-writeErr; err != nil {
					t.Fatal(err)
				}
				if err := client.Close(CloseNormalClosure, ""); err != nil {
					t.Fatalf("Close: %v", err)
				}
				if err := <-serveErr; !IsCloseError(err, CloseNormalClosure) {
					t.Fatalf("server loop ended with %v", err)
				}
			})
		}
	}
}

// TestDeflateConcurrentWriters: goroutines writing compressed messages at
// once (WriteMessage, NextWriter, WritePreparedMessage) share one context
// takeover compressor; every message arrives whole.
func TestDeflateConcurrentWriters(t *testing.T) {
	t.Parallel()
	srv := DefaultConfig()
	srv.Compression = &CompressionOptions{ContextTakeover: true}
	cli := &DialOptions{Options: Options{Compression: &CompressionOptions{ContextTakeover: true}},
		Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }}
	client, server := dflPair(t, srv, cli, "")
	serveErr := make(chan error, 1)
	go func() { serveErr <- rpEcho(server) }()
	const writers, each = 4, 30
	want := make(map[string]int)
	var msgs [writers][][]byte
	for g := range writers {
		for i := range each {
			m := dflJSON(uint64(g*1000+i), 200+(g*each+i)*37%3000)
			msgs[g] = append(msgs[g], m)
			want[string(m)]++
		}
	}
	var wg sync.WaitGroup
	// NextWriter closes a writer still open from an earlier NextWriter
	// (as in gorilla/websocket): one goroutine streams at a time, while
	// the others' WriteMessage and WritePreparedMessage wait for its
	// message.
	var streaming sync.Mutex
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, m := range msgs[g] {
				var err error
				switch (g + i) % 3 {
				case 0:
					err = client.WriteMessage(TextMessage, m)
				case 1:
					streaming.Lock()
					var w io.WriteCloser
					if w, err = client.NextWriter(TextMessage); err == nil {
						half := len(m) / 2
						if _, err = w.Write(m[:half]); err == nil {
							_, err = w.Write(m[half:])
						}
						if cerr := w.Close(); err == nil {
							err = cerr
						}
					}
					streaming.Unlock()
				case 2:
					var pm *PreparedMessage
					if pm, err = NewPreparedMessage(TextMessage, m); err == nil {
						err = client.WritePreparedMessage(pm)
					}
				}
				if err != nil {
					t.Errorf("writer %d message %d: %v", g, i, err)
					return
				}
			}
		}()
	}
	for range writers * each {
		_, got, err := client.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if want[string(got)] == 0 {
			t.Fatalf("unexpected echo of %d bytes", len(got))
		}
		want[string(got)]--
	}
	wg.Wait()
	if err := client.Close(CloseNormalClosure, ""); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-serveErr; !IsCloseError(err, CloseNormalClosure) {
		t.Fatalf("server loop ended with %v", err)
	}
}

// ---- fuzzing the round trip through Conn ----

// dflTap records what a net.Conn writes. It passes CloseWrite through, so
// that the close handshake ends as on a bare TCP connection.
type dflTap struct {
	net.Conn
	mu  sync.Mutex
	out []byte
}

func (c *dflTap) CloseWrite() error { return c.Conn.(halfCloser).CloseWrite() }

// dflHalfPipe returns the two ends of an in-memory connection that can
// be half-closed (a server's close handshake sends its FIN first), as a
// loopback TCP connection can but net.Pipe cannot. It has no deadlines:
// the fuzz target's watchdog bounds a hang.
func dflHalfPipe() (net.Conn, net.Conn) {
	ar, bw := io.Pipe()
	br, aw := io.Pipe()
	return &dflPipeEnd{r: ar, w: aw}, &dflPipeEnd{r: br, w: bw}
}

type dflPipeEnd struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func (p *dflPipeEnd) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *dflPipeEnd) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *dflPipeEnd) CloseWrite() error           { return p.w.Close() }
func (p *dflPipeEnd) Close() error {
	p.w.Close()
	return p.r.CloseWithError(net.ErrClosed)
}
func (p *dflPipeEnd) LocalAddr() net.Addr              { return dflPipeAddr{} }
func (p *dflPipeEnd) RemoteAddr() net.Addr             { return dflPipeAddr{} }
func (p *dflPipeEnd) SetDeadline(time.Time) error      { return nil }
func (p *dflPipeEnd) SetReadDeadline(time.Time) error  { return nil }
func (p *dflPipeEnd) SetWriteDeadline(time.Time) error { return nil }

type dflPipeAddr struct{}

func (dflPipeAddr) Network() string { return "pipe" }
func (dflPipeAddr) String() string  { return "pipe" }

func (c *dflTap) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.out = append(c.out, p...)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *dflTap) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out)
}

// dflParseFrames parses a recorded byte stream into data messages (with
// their RSV1) and checks the framing; control frames are skipped, a close
// frame ends the stream.
func dflParseFrames(b []byte) ([]dflMsg, error) {
	var msgs []dflMsg
	var cur *dflMsg
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("short header")
		}
		fin, rsv, op := b[0]&0x80 != 0, b[0]&0x70, b[0]&0x0f
		masked := b[1]&0x80 != 0
		n := uint64(b[1] & 0x7f)
		b = b[2:]
		switch n {
		case 126:
			if len(b) < 2 {
				return nil, errors.New("short length")
			}
			n, b = uint64(binary.BigEndian.Uint16(b)), b[2:]
		case 127:
			if len(b) < 8 {
				return nil, errors.New("short length")
			}
			n, b = binary.BigEndian.Uint64(b), b[8:]
		}
		var key [4]byte
		if masked {
			if len(b) < 4 {
				return nil, errors.New("short key")
			}
			copy(key[:], b)
			b = b[4:]
		}
		if uint64(len(b)) < n {
			return nil, fmt.Errorf("short payload: %d < %d", len(b), n)
		}
		p := bytes.Clone(b[:n])
		b = b[n:]
		if masked {
			rpUnmask(key, p)
		}
		switch {
		case op == rpOpClose:
			return msgs, nil
		case op >= 8:
			if rsv != 0 {
				return nil, fmt.Errorf("RSV %#x on control frame %#x", rsv, op)
			}
			continue
		case op == rpOpCont:
			if cur == nil || rsv != 0 {
				return nil, fmt.Errorf("bad continuation (rsv %#x)", rsv)
			}
		default:
			if cur != nil || rsv&^rpRsv1 != 0 {
				return nil, fmt.Errorf("bad data frame start (rsv %#x)", rsv)
			}
			msgs = append(msgs, dflMsg{op: op, compressed: rsv == rpRsv1})
			cur = &msgs[len(msgs)-1]
		}
		cur.payload = append(cur.payload, p...)
		cur.frames++
		if fin {
			cur = nil
		}
	}
	return msgs, nil
}

// dflFuzzLevels are the compression levels the fuzzer picks from (0 is
// the default, BestSpeed).
var dflFuzzLevels = [8]int{0, 1, 2, 5, 6, 9, flate.DefaultCompression, flate.HuffmanOnly}

// FuzzDeflateRoundTrip sends random message sequences from our client to
// our echo server over loopback TCP, under random negotiated parameters
// (context takeover, window bits, levels, thresholds, write paths): every
// echo must be identical, and both directions' wire bytes must pass the
// reference decoder with the negotiated window and takeover rules.
func FuzzDeflateRoundTrip(f *testing.F) {
	f.Add(uint64(0), []byte("hello"))
	f.Add(uint64(0x3), []byte("\x05hello\x85world, world, world"))
	f.Add(uint64(0xff_ffff), dflJSON(1, 600))
	f.Add(uint64(0x1234_5678), dflMix(2, 900))
	f.Add(uint64(0xabcd_ef01), []byte("\x00\x00\x01x\xffabc"))
	f.Add(uint64(0x2_0004), []byte("\x80\xff\xfe\x10日本語"))
	f.Fuzz(func(t *testing.T, params uint64, data []byte) {
		bit := func(i uint) bool { return params>>i&1 != 0 }
		field := func(i, n uint) int { return int(params >> i & (1<<n - 1)) }
		neg := &handshake.Deflate{
			ServerNoContextTakeover: bit(0), ClientNoContextTakeover: bit(1),
			ServerMaxWindowBits: 8 + field(2, 3), ClientMaxWindowBits: 8 + field(5, 3),
		}
		thresholds := [4]int{0, -1, 1, 64}
		srvComp := &CompressionOptions{Level: dflFuzzLevels[field(8, 3)], Threshold: thresholds[field(14, 2)]}
		cliComp := &CompressionOptions{Level: dflFuzzLevels[field(11, 3)], Threshold: thresholds[field(16, 2)]}
		wbufs := [4]int{0, 64, 300, 1 << 16}
		srvOpts := Options{Compression: srvComp, WriteBufferSize: wbufs[field(18, 2)], CloseTimeout: time.Second, ReadLimit: -1}
		cliOpts := Options{Compression: cliComp, WriteBufferSize: wbufs[field(20, 2)], CloseTimeout: time.Second, ReadLimit: -1}
		echo := rpEcho
		if bit(22) {
			echo = rpEchoWhole
		}
		writeMode := field(23, 2)

		// Messages: a length byte, then that many bytes (or what is
		// left); bit 7 of the length byte repeats the chunk up to 40 KiB
		// so that back-references reach beyond small windows. Messages
		// are taken while they total under 48 KiB: past the largest
		// window (32 KiB), without making each case slow.
		var msgs [][]byte
		total := 0
		for len(data) > 0 && len(msgs) < 64 && total < 48<<10 {
			n := min(int(data[0]&0x7f), len(data)-1)
			m := data[1 : 1+n]
			if data[0]&0x80 != 0 && n > 0 {
				m = bytes.Repeat(m, 1+(40<<10)/(n*(1+int(data[0]&3)*7)))
			}
			data = data[1+n:]
			msgs = append(msgs, m)
			total += len(m)
		}

		a, b := dflHalfPipe() // in memory: no socket per case
		// A hang becomes a failure with every goroutine's stack.
		watchdog := time.AfterFunc(20*time.Second, func() {
			buf := make([]byte, 1<<20)
			panic(fmt.Sprintf("FuzzDeflateRoundTrip: stuck for 20s (params %#x, %d messages):\n%s", params, len(msgs), buf[:runtime.Stack(buf, true)]))
		})
		defer watchdog.Stop()
		srvTap, cliTap := &dflTap{Conn: a}, &dflTap{Conn: b}
		server := newConn(srvTap, RoleServer, srvOpts.resolve(), "", neg, nil)
		client := newConn(cliTap, RoleClient, cliOpts.resolve(), "", neg, nil)
		serveErr := make(chan error, 1)
		go func() { serveErr <- echo(server) }()
		writeErr := make(chan error, 1)
		go func() {
			for i, m := range msgs {
				mt := BinaryMessage
				if utf8.Valid(m) {
					mt = TextMessage
				}
				mode := writeMode
				if mode == 3 {
					mode = i % 3
					client.EnableWriteCompression(i%2 == 0)
				}
				var err error
				if mode == 0 || (mode == 2 && i%2 == 0) {
					err = client.WriteMessage(mt, m)
				} else {
					var w io.WriteCloser
					if w, err = client.NextWriter(mt); err == nil {
						step := 1 + i%97
						for p := m; len(p) > 0 && err == nil; {
							k := min(step, len(p))
							_, err = w.Write(p[:k])
							p = p[k:]
						}
						if cerr := w.Close(); err == nil {
							err = cerr
						}
					}
				}
				if err != nil {
					writeErr <- err
					return
				}
			}
			writeErr <- nil
		}()
		for i, m := range msgs {
			_, got, err := client.ReadMessage()
			if err != nil {
				t.Fatalf("echo %d: %v (write: %v)", i, err, <-writeErr)
			}
			if !bytes.Equal(got, m) {
				t.Fatalf("echo %d differs: %d bytes, want %d", i, len(got), len(m))
			}
		}
		if err := <-writeErr; err != nil {
			t.Fatal(err)
		}
		if err := client.Close(CloseNormalClosure, ""); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := <-serveErr; !IsCloseError(err, CloseNormalClosure) {
			t.Fatalf("echo loop: %v", err)
		}
		// Both directions on the wire, checked by the reference decoder.
		for _, dir := range []struct {
			name string
			tap  *dflTap
			rx   *dflReceiver
		}{
			{"client->server", cliTap, &dflReceiver{bits: neg.ClientMaxWindowBits, takeover: !neg.ClientNoContextTakeover}},
			{"server->client", srvTap, &dflReceiver{bits: neg.ServerMaxWindowBits, takeover: !neg.ServerNoContextTakeover}},
		} {
			wire, err := dflParseFrames(dir.tap.bytes())
			if err != nil {
				t.Fatalf("%s: %v", dir.name, err)
			}
			if len(wire) != len(msgs) {
				t.Fatalf("%s: %d messages on the wire, want %d", dir.name, len(wire), len(msgs))
			}
			for i, w := range wire {
				got := w.payload
				if w.compressed {
					if got, _, err = dir.rx.inflate(w.payload); err != nil {
						t.Fatalf("%s: message %d: %v", dir.name, i, err)
					}
				}
				if !bytes.Equal(got, msgs[i]) {
					t.Fatalf("%s: message %d differs on the wire", dir.name, i)
				}
			}
		}
	})
}
