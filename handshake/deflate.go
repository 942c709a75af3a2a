package handshake

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
func parseDeflateParams(e Extension, response bool) (deflateParams, string) {
	var d deflateParams
	var seenServerNCT, seenClientNCT, seenServerBits bool
	for _, p := range e.Params {
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

// negotiateDeflate picks the first permessage-deflate offer in exts that is
// valid and that the server can honour, and returns the agreed parameters and
// the response element. Invalid offers are skipped (declined), not errors.
// minBits must be the validated o.MinWindowBits.
func negotiateDeflate(exts []Extension, o *DeflateOptions, minBits int) (*Deflate, Extension, bool) {
	for _, e := range exts {
		if e.Name != ExtensionDeflate {
			continue
		}
		p, bad := parseDeflateParams(e, false)
		if bad != "" {
			continue
		}
		d := &Deflate{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
		resp := Extension{Name: ExtensionDeflate}
		if p.serverMaxWindowBits != 0 {
			if p.serverMaxWindowBits < minBits {
				continue // we cannot compress with so small a window
			}
			d.ServerMaxWindowBits = p.serverMaxWindowBits
		}
		if p.serverNoContextTakeover || !o.ContextTakeover {
			d.ServerNoContextTakeover = true
			resp.Params = append(resp.Params, Param{Name: paramServerNoContextTakeover})
		}
		if p.clientNoContextTakeover || o.RequestPeerNoContextTakeover {
			d.ClientNoContextTakeover = true
			resp.Params = append(resp.Params, Param{Name: paramClientNoContextTakeover})
		}
		if p.serverMaxWindowBits != 0 {
			resp.Params = append(resp.Params, Param{Name: paramServerMaxWindowBits, Value: itoaBits(p.serverMaxWindowBits), HasValue: true})
		}
		if p.clientMaxWindowBits != 0 {
			d.ClientMaxWindowBits = p.clientMaxWindowBits
			resp.Params = append(resp.Params, Param{Name: paramClientMaxWindowBits, Value: itoaBits(p.clientMaxWindowBits), HasValue: true})
		}
		return d, resp, true
	}
	return nil, Extension{}, false
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
	p, bad := parseDeflateParams(e, true)
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
