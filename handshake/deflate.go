package handshake

import "sync/atomic"

// ExtensionDeflate is the registered name of the RFC 7692 extension.
const ExtensionDeflate = "permessage-deflate"

// RFC 7692 section 7 parameter names.
const (
	paramServerNoContextTakeover = "server_no_context_takeover"
	paramClientNoContextTakeover = "client_no_context_takeover"
	paramServerMaxWindowBits     = "server_max_window_bits"
	paramClientMaxWindowBits     = "client_max_window_bits"
)

// Deflate is the result of a successful permessage-deflate negotiation, as
// both ends will apply it. It is a plain value, safe to copy and share.
type Deflate struct {
	ServerNoContextTakeover bool // the server resets its compressor after each message
	ClientNoContextTakeover bool // the client resets its compressor after each message
	ServerMaxWindowBits     int  // 8..15: the window the SERVER compresses with (15 when not limited)
	ClientMaxWindowBits     int  // 8..15: the window the CLIENT compresses with (15 when not limited)
}

// DeflateOptions says what the local endpoint can honour and wants, for
// either role. The zero value is valid: reset our compressor after each
// message, let the peer keep its context, any window size.
type DeflateOptions struct {
	// ContextTakeover: false (the default) means this endpoint resets its own
	// compressor after each message, so a server answers with
	// server_no_context_takeover (a server may include it even when not
	// offered) and a client offers client_no_context_takeover. true means
	// keep the compression context across messages when the peer allows it.
	ContextTakeover bool
	// RequestPeerNoContextTakeover asks the peer to reset its compressor
	// after each message: a server adds client_no_context_takeover to its
	// response (allowed even when not offered), a client offers
	// server_no_context_takeover.
	RequestPeerNoContextTakeover bool
	// MinWindowBits is the smallest LZ77 window (8..15, log2 of its size) the
	// local compressor can honour. Offers or responses that require a smaller
	// window for our compressor are declined (server) or rejected (client).
	// 0 means 8. Other values outside 8..15 are ErrInvalidConfig.
	MinWindowBits int
}

func (o *DeflateOptions) minBits() (int, bool) {
	switch {
	case o.MinWindowBits == 0:
		return 8, true
	case o.MinWindowBits >= 8 && o.MinWindowBits <= 15:
		return o.MinWindowBits, true
	}
	return 0, false
}

// parseWindowBits accepts exactly "8".."15": digits only, no sign, no
// leading zero.
func parseWindowBits(v string) (int, bool) {
	switch len(v) {
	case 1:
		if v[0] == '8' || v[0] == '9' {
			return int(v[0] - '0'), true
		}
	case 2:
		if v[0] == '1' && v[1] >= '0' && v[1] <= '5' {
			return 10 + int(v[1]-'0'), true
		}
	}
	return 0, false
}

// deflateParams are the validated parameters of one permessage-deflate
// offer or response. Window bits are 0 when absent.
type deflateParams struct {
	serverNoContextTakeover bool
	clientNoContextTakeover bool
	serverMaxWindowBits     int
	clientMaxWindowBits     int
	clientMaxWindowBitsSeen bool // present, with or without a value
}

// parseDeflateParams validates the parameters of a permessage-deflate
// element by RFC 7692 section 7. In a response client_max_window_bits needs
// a value; in an offer it may have none. It returns a description of the
// first violation.
func parseDeflateParams(params []Param, response bool) (deflateParams, string) {
	var d deflateParams
	var seenServerNCT, seenClientNCT, seenServerBits bool
	for _, p := range params {
		switch p.Name {
		case paramServerNoContextTakeover, paramClientNoContextTakeover:
			seen := &seenServerNCT
			if p.Name == paramClientNoContextTakeover {
				seen = &seenClientNCT
			}
			if *seen {
				return d, "duplicate " + p.Name
			}
			*seen = true
			if p.HasValue {
				return d, p.Name + " has a value"
			}
		case paramServerMaxWindowBits:
			if seenServerBits {
				return d, "duplicate " + p.Name
			}
			seenServerBits = true
			if !p.HasValue {
				return d, p.Name + " without a value"
			}
			n, ok := parseWindowBits(p.Value)
			if !ok {
				return d, p.Name + " is not 8..15: " + quoteDetail(p.Value)
			}
			d.serverMaxWindowBits = n
		case paramClientMaxWindowBits:
			if d.clientMaxWindowBitsSeen {
				return d, "duplicate " + p.Name
			}
			d.clientMaxWindowBitsSeen = true
			if !p.HasValue {
				if response {
					return d, p.Name + " without a value"
				}
				continue
			}
			n, ok := parseWindowBits(p.Value)
			if !ok {
				return d, p.Name + " is not 8..15: " + quoteDetail(p.Value)
			}
			d.clientMaxWindowBits = n
		default:
			return d, "unknown parameter " + quoteDetail(p.Name)
		}
	}
	d.serverNoContextTakeover = seenServerNCT
	d.clientNoContextTakeover = seenClientNCT
	return d, ""
}

// maxDeflateParams is the most parameters a valid permessage-deflate
// element can have: each of the four at most once.
const maxDeflateParams = 4

// negotiateDeflate scans the Sec-WebSocket-Extensions values (checking the
// grammar of all of them) and picks the first permessage-deflate offer that
// is valid and that the server can honour. Invalid offers are skipped
// (declined), not errors; a grammar error is. With o nil it only checks
// the grammar. minBits must be the validated o.MinWindowBits. It does not
// allocate unless a quoted-string has escapes or the grammar is broken.
func negotiateDeflate(values []string, o *DeflateOptions, minBits int) (d Deflate, resp string, ok bool, err error) {
	for _, v := range values {
		sc := extScanner{s: v}
		for {
			name, more, err := sc.next()
			if err != nil {
				return Deflate{}, "", false, err
			}
			if !more {
				break
			}
			var buf [maxDeflateParams]Param
			params, tooMany := buf[:0], false
			for {
				p, more, err := sc.param()
				if err != nil {
					return Deflate{}, "", false, err
				}
				if !more {
					break
				}
				if len(params) == maxDeflateParams {
					tooMany = true // a duplicate somewhere: invalid
					continue
				}
				params = append(params, p)
			}
			if ok || o == nil || tooMany || name != ExtensionDeflate {
				continue
			}
			d, resp, ok = acceptOffer(params, o, minBits)
		}
	}
	return d, resp, ok, nil
}

// acceptOffer decides on one permessage-deflate offer.
func acceptOffer(params []Param, o *DeflateOptions, minBits int) (Deflate, string, bool) {
	p, bad := parseDeflateParams(params, false)
	if bad != "" {
		return Deflate{}, "", false
	}
	d := Deflate{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	if p.serverMaxWindowBits != 0 {
		if p.serverMaxWindowBits < minBits {
			return Deflate{}, "", false // we cannot compress with so small a window
		}
		d.ServerMaxWindowBits = p.serverMaxWindowBits
	}
	d.ServerNoContextTakeover = p.serverNoContextTakeover || !o.ContextTakeover
	d.ClientNoContextTakeover = p.clientNoContextTakeover || o.RequestPeerNoContextTakeover
	if p.clientMaxWindowBits != 0 {
		d.ClientMaxWindowBits = p.clientMaxWindowBits
	}
	return d, deflateResponse(d.ServerNoContextTakeover, d.ClientNoContextTakeover, p.serverMaxWindowBits, p.clientMaxWindowBits), true
}

// deflateResponses caches the response element for each combination of
// the two no_context_takeover flags and the two echoed window sizes (0
// when not echoed, else 8..15): 2*2*9*9 strings, each made once.
var deflateResponses [2 * 2 * 9 * 9]atomic.Pointer[string]

// deflateResponse returns the permessage-deflate response element with
// exactly the parameters in force: the flags, then the window sizes the
// client offered, echoed.
func deflateResponse(serverNCT, clientNCT bool, serverBits, clientBits int) string {
	idx := 0
	if serverNCT {
		idx += 2 * 9 * 9
	}
	if clientNCT {
		idx += 9 * 9
	}
	if serverBits != 0 {
		idx += 9 * (serverBits - 7)
	}
	if clientBits != 0 {
		idx += clientBits - 7
	}
	if s := deflateResponses[idx].Load(); s != nil {
		return *s
	}
	b := make([]byte, 0, 128)
	b = append(b, ExtensionDeflate...)
	if serverNCT {
		b = append(b, "; "+paramServerNoContextTakeover...)
	}
	if clientNCT {
		b = append(b, "; "+paramClientNoContextTakeover...)
	}
	if serverBits != 0 {
		b = append(b, "; "+paramServerMaxWindowBits+"="...)
		b = append(b, itoaBits(serverBits)...)
	}
	if clientBits != 0 {
		b = append(b, "; "+paramClientMaxWindowBits+"="...)
		b = append(b, itoaBits(clientBits)...)
	}
	s := string(b)
	deflateResponses[idx].Store(&s)
	return s
}

var bitsText = [16]string{8: "8", 9: "9", 10: "10", 11: "11", 12: "12", 13: "13", 14: "14", 15: "15"}

func itoaBits(n int) string { return bitsText[n] }

// deflateOffer is the client's offer for o.
func deflateOffer(o *DeflateOptions) Extension {
	e := Extension{Name: ExtensionDeflate, Params: []Param{{Name: paramClientMaxWindowBits}}}
	if !o.ContextTakeover {
		e.Params = append(e.Params, Param{Name: paramClientNoContextTakeover})
	}
	if o.RequestPeerNoContextTakeover {
		e.Params = append(e.Params, Param{Name: paramServerNoContextTakeover})
	}
	return e
}

// acceptDeflateResponse validates the server's permessage-deflate response
// element against the client's options (whose offer always includes
// client_max_window_bits without a value) and returns the agreed parameters.
func acceptDeflateResponse(e Extension, o *DeflateOptions, minBits int) (*Deflate, error) {
	p, bad := parseDeflateParams(e.Params, true)
	if bad != "" {
		return nil, hsErr(ErrBadExtension, "permessage-deflate: "+bad)
	}
	d := &Deflate{
		ServerNoContextTakeover: p.serverNoContextTakeover,
		// We offered client_no_context_takeover when !ContextTakeover and
		// then reset regardless of the answer (RFC 7692 section 7.1.1.2).
		ClientNoContextTakeover: p.clientNoContextTakeover || !o.ContextTakeover,
		ServerMaxWindowBits:     15,
		ClientMaxWindowBits:     15,
	}
	if p.serverMaxWindowBits != 0 {
		d.ServerMaxWindowBits = p.serverMaxWindowBits
	}
	if p.clientMaxWindowBits != 0 {
		if p.clientMaxWindowBits < minBits {
			return nil, hsErr(ErrBadExtension, "permessage-deflate: client_max_window_bits="+itoaBits(p.clientMaxWindowBits)+" is below the supported minimum "+itoaBits(minBits))
		}
		d.ClientMaxWindowBits = p.clientMaxWindowBits
	}
	return d, nil
}
