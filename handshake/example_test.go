package handshake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rfc6455/websocket/handshake"
)

func ExampleServer() {
	r := httptest.NewRequest("GET", "http://example.com/chat", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Origin", "http://example.com")
	r.Header.Set("Sec-WebSocket-Protocol", "chat, superchat")
	r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")

	res, err := handshake.Server(r, &handshake.ServerConfig{
		Subprotocols: []string{"superchat", "chat"},
		Deflate:      &handshake.DeflateOptions{},
	})
	if err != nil {
		var re *handshake.RejectError
		if errors.As(err, &re) {
			fmt.Println("answer", re.Status, re.Reason) // http.Error(w, re.Reason, re.Status)
		}
		return
	}
	// The caller hijacks and writes the 101 response (with any headers the
	// application set, here a cookie).
	resp := res.AppendResponse(nil, http.Header{"Set-Cookie": {"session=1"}})
	fmt.Print(strings.ReplaceAll(string(resp), "\r\n", "\n"))
	fmt.Printf("subprotocol %q, deflate %+v\n", res.Subprotocol, *res.Deflate)
	// Output:
	// HTTP/1.1 101 Switching Protocols
	// Upgrade: websocket
	// Connection: Upgrade
	// Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
	// Sec-WebSocket-Protocol: superchat
	// Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover
	// Set-Cookie: session=1
	//
	// subprotocol "superchat", deflate {ServerNoContextTakeover:true ClientNoContextTakeover:false ServerMaxWindowBits:15 ClientMaxWindowBits:15}
}

func ExampleServer_reject() {
	r := httptest.NewRequest("GET", "http://example.com/chat", nil) // a plain HTTP GET
	_, err := handshake.Server(r, nil)
	var re *handshake.RejectError
	if errors.As(err, &re) {
		fmt.Println(re.Status, re.Reason, errors.Is(err, handshake.ErrNotUpgrade))
		fmt.Println(re.Header.Get("Upgrade"), re.Header.Get("Sec-WebSocket-Version"))
	}
	// Output:
	// 426 WebSocket upgrade required true
	// websocket 13
}

func ExampleNewClientRequest() {
	cfg := &handshake.ClientConfig{
		Subprotocols: []string{"chat"},
		Deflate:      &handshake.DeflateOptions{},
		Header:       http.Header{"Origin": {"https://example.com"}},
	}
	req, key, err := handshake.NewClientRequest(context.Background(), "wss://example.com/chat?room=1", cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Dial req.URL.Host (with TLS when req.URL.Scheme is "https"), then
	// req.Write(conn), http.ReadResponse and VerifyResponse(resp, key, cfg).
	fmt.Println("dial", req.URL.Host, "tls", req.URL.Scheme == "https")
	fmt.Println("GET", req.URL.RequestURI(), "Host:", req.Host)
	fmt.Println("Sec-WebSocket-Protocol:", req.Header.Get("Sec-WebSocket-Protocol"))
	fmt.Println("Sec-WebSocket-Extensions:", req.Header.Get("Sec-WebSocket-Extensions"))
	fmt.Println("key length", len(key), key == req.Header.Get("Sec-WebSocket-Key"))
	// Output:
	// dial example.com:443 tls true
	// GET /chat?room=1 Host: example.com
	// Sec-WebSocket-Protocol: chat
	// Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; client_no_context_takeover
	// key length 24 true
}

func ExampleVerifyResponse() {
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	resp := &http.Response{StatusCode: 101, Header: http.Header{
		"Upgrade":                  {"websocket"},
		"Connection":               {"Upgrade"},
		"Sec-Websocket-Accept":     {handshake.AcceptKey(key)},
		"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits=9"},
	}}
	cfg := &handshake.ClientConfig{Deflate: &handshake.DeflateOptions{MinWindowBits: 10}}
	_, err := handshake.VerifyResponse(resp, key, cfg)
	fmt.Println(errors.Is(err, handshake.ErrBadExtension))
	fmt.Println(err)
	// Output:
	// true
	// handshake: invalid Sec-WebSocket-Extensions in response: permessage-deflate: client_max_window_bits=9 is below the supported minimum 10
}

func ExampleAcceptKey() {
	fmt.Println(handshake.AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="))
	// Output: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
}

func ExampleParseExtensions() {
	h := http.Header{}
	h.Add("Sec-WebSocket-Extensions", `permessage-deflate; client_max_window_bits="10", x-foo`)
	exts, err := handshake.ParseExtensions(h)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range exts {
		fmt.Println(e)
	}
	// Output:
	// permessage-deflate; client_max_window_bits=10
	// x-foo
}
