package handshake

import (
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseExtensions(t *testing.T) {
	p := func(name string) Param { return Param{Name: name} }
	pv := func(name, v string) Param { return Param{Name: name, Value: v, HasValue: true} }
	tests := []struct {
		name   string
		values []string
		want   []Extension
	}{
		{"none", nil, nil},
		{"empty value", []string{""}, nil},
		{"only commas", []string{" , ,"}, nil},
		{"bare", []string{"permessage-deflate"}, []Extension{{Name: "permessage-deflate"}}},
		{"params", []string{"permessage-deflate; client_max_window_bits; server_max_window_bits=10"},
			[]Extension{{Name: "permessage-deflate", Params: []Param{p("client_max_window_bits"), pv("server_max_window_bits", "10")}}}},
		{"whitespace everywhere", []string{" \tfoo \t;\t a \t= \tb \t, bar ;c "},
			[]Extension{{Name: "foo", Params: []Param{pv("a", "b")}}, {Name: "bar", Params: []Param{p("c")}}}},
		{"no whitespace", []string{"foo;a=1;b,bar"},
			[]Extension{{Name: "foo", Params: []Param{pv("a", "1"), p("b")}}, {Name: "bar"}}},
		{"quoted", []string{`foo; a="10"; b="x\yz"`}, []Extension{{Name: "foo", Params: []Param{pv("a", "10"), pv("b", "xyz")}}}},
		{"empty elements", []string{",foo,, bar,"}, []Extension{{Name: "foo"}, {Name: "bar"}}},
		{"several headers", []string{"a; x", "b, c"}, []Extension{{Name: "a", Params: []Param{p("x")}}, {Name: "b"}, {Name: "c"}}},
		{"token characters", []string{"!#$%&'*+-.^_`|~09AZaz; x=!#$%&'*+-.^_`|~"},
			[]Extension{{Name: "!#$%&'*+-.^_`|~09AZaz", Params: []Param{pv("x", "!#$%&'*+-.^_`|~")}}}},
		{"repeated extension kept", []string{"a, a"}, []Extension{{Name: "a"}, {Name: "a"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseExtensions(http.Header{"Sec-Websocket-Extensions": tc.values})
			if err != nil {
				t.Fatalf("ParseExtensions: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseExtensionsMalformed(t *testing.T) {
	for _, v := range []string{
		";", "foo;", "foo; ", "foo;;a", "foo; =1", "foo; a=", "foo; a= ,", "foo bar", "foo, bar baz",
		`foo; a="`, `foo; a="1`, `foo; a=""`, `foo; a="1 2"`, `foo; a="\"`, `foo; a="1"2`, `"foo"`,
		"foo; a=b=c", "foo; a:1", "foo\x00", "foo; a=\x80", "f\xc3\xa9", "foo=1", "foo; a; b c",
		`foo; a="x,y"`, `foo; a="\` + "\x01" + `"`, "foo; a=\"\x7f\"", "foo\r\n",
	} {
		_, err := ParseExtensions(http.Header{"Sec-Websocket-Extensions": {"ok", v}})
		if !errors.Is(err, ErrMalformedExtensions) {
			t.Errorf("ParseExtensions(%q) error = %v, want ErrMalformedExtensions", v, err)
		}
		var he *HandshakeError
		if err != nil && !errors.As(err, &he) {
			t.Errorf("ParseExtensions(%q) error %T is not *HandshakeError", v, err)
		}
	}
}

func TestExtensionString(t *testing.T) {
	tests := []struct {
		ext  Extension
		want string
	}{
		{Extension{Name: "permessage-deflate"}, "permessage-deflate"},
		{Extension{Name: "permessage-deflate", Params: []Param{{Name: "client_max_window_bits", Value: "10", HasValue: true}}},
			"permessage-deflate; client_max_window_bits=10"},
		{Extension{Name: "x", Params: []Param{{Name: "a"}, {Name: "b", Value: `q"u\o te`, HasValue: true}, {Name: "c", HasValue: true}}},
			`x; a; b="q\"u\\o te"; c=""`},
	}
	for _, tc := range tests {
		if got := tc.ext.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	exts := []Extension{{Name: "a", Params: []Param{{Name: "x"}}}, {Name: "b"}}
	if got, want := FormatExtensions(exts), "a; x, b"; got != want {
		t.Errorf("FormatExtensions = %q, want %q", got, want)
	}
	if got := FormatExtensions(nil); got != "" {
		t.Errorf("FormatExtensions(nil) = %q", got)
	}
}

func TestParseWindowBits(t *testing.T) {
	for v, want := range map[string]int{"8": 8, "9": 9, "10": 10, "15": 15} {
		if got, ok := parseWindowBits(v); !ok || got != want {
			t.Errorf("parseWindowBits(%q) = %d, %v", v, got, ok)
		}
	}
	for _, v := range []string{"", "0", "7", "16", "08", "010", "+9", "-9", "1", "19", "9 ", "a", "1a"} {
		if got, ok := parseWindowBits(v); ok {
			t.Errorf("parseWindowBits(%q) = %d, true; want false", v, got)
		}
	}
}
