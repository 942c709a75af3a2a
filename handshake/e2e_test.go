package handshake

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// roundTrip runs a whole handshake through the wire format: NewClientRequest,
// req.Write, http.ReadRequest, Server, a 101 response written with
// resp.Write and read with http.ReadResponse, VerifyResponse.
func roundTrip(t *testing.T, url string, ccfg *ClientConfig, scfg *ServerConfig) (*ServerResult, *ClientResult) {
	t.Helper()
	req, key, err := NewClientRequest(context.Background(), url, ccfg)
	if err != nil {
		t.Fatalf("NewClientRequest: %v", err)
	}
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatalf("req.Write: %v", err)
	}
	sreq, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatalf("ReadRequest: %v\n%s", err, wire.Bytes())
	}
	if req.URL.Scheme == "https" {
		sreq.TLS = &tls.ConnectionState{} // as a TLS server would see it
	}
	sres, err := Server(sreq, scfg)
	if err != nil {
		t.Fatalf("Server: %v", err)
	}
	resp := &http.Response{
		Status: "101 Switching Protocols", StatusCode: 101,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: sres.Header(), Request: sreq,
	}
	wire.Reset()
	if err := resp.Write(&wire); err != nil {
		t.Fatalf("resp.Write: %v", err)
	}
	cresp, err := http.ReadResponse(bufio.NewReader(&wire), req)
	if err != nil {
		t.Fatalf("ReadResponse: %v\n%s", err, wire.Bytes())
	}
	cres, err := VerifyResponse(cresp, key, ccfg)
	if err != nil {
		t.Fatalf("VerifyResponse: %v\n%s", err, wire.Bytes())
	}
	return sres, cres
}

func TestEndToEnd(t *testing.T) {
	opts := []*DeflateOptions{
		nil,
		{},
		{ContextTakeover: true},
		{RequestPeerNoContextTakeover: true},
		{ContextTakeover: true, RequestPeerNoContextTakeover: true, MinWindowBits: 15},
	}
	for ci, co := range opts {
		for si, so := range opts {
			ccfg := &ClientConfig{
				Subprotocols: []string{"v2.chat", "v1.chat"},
				Deflate:      co,
				Header:       http.Header{"Origin": {"http://127.0.0.1:8080"}, "Authorization": {"Bearer x"}},
			}
			scfg := &ServerConfig{Subprotocols: []string{"v1.chat", "v2.chat"}, Deflate: so}
			sres, cres := roundTrip(t, "ws://127.0.0.1:8080/chat?room=1", ccfg, scfg)
			if sres.Subprotocol != "v1.chat" || cres.Subprotocol != "v1.chat" {
				t.Errorf("client %d server %d: subprotocol server %q client %q", ci, si, sres.Subprotocol, cres.Subprotocol)
			}
			if (co != nil && so != nil) != (sres.Deflate != nil) {
				t.Errorf("client %d server %d: deflate negotiated = %v", ci, si, sres.Deflate != nil)
			}
			if diff := cmp.Diff(sres.Deflate, cres.Deflate); diff != "" {
				t.Errorf("client %d server %d: server and client disagree on deflate (-server +client):\n%s", ci, si, diff)
			}
			if d := sres.Deflate; d != nil {
				if !co.ContextTakeover && !d.ClientNoContextTakeover {
					t.Errorf("client %d server %d: client asked to reset but ClientNoContextTakeover false", ci, si)
				}
				if !so.ContextTakeover && !d.ServerNoContextTakeover {
					t.Errorf("client %d server %d: server resets but ServerNoContextTakeover false", ci, si)
				}
				if (co.RequestPeerNoContextTakeover && !d.ServerNoContextTakeover) || (so.RequestPeerNoContextTakeover && !d.ClientNoContextTakeover) {
					t.Errorf("client %d server %d: peer request ignored: %+v", ci, si, d)
				}
			}
		}
	}
}

func TestEndToEndWSS(t *testing.T) {
	// A wss request on the default port carries "Host: example.com", which
	// is same-origin for "https://example.com".
	ccfg := &ClientConfig{Header: http.Header{"Origin": {"https://example.com"}}}
	sres, cres := roundTrip(t, "wss://example.com:443/", ccfg, nil)
	if diff := cmp.Diff(&ClientResult{}, cres); diff != "" {
		t.Errorf("client result (-want +got):\n%s", diff)
	}
	if sres.Subprotocol != "" || sres.Deflate != nil {
		t.Errorf("server result %+v", sres)
	}
}
