package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rfc6455/websocket"
)

// fakeFuzzer is a tiny stand-in for wstest -m fuzzingserver: it serves
// the case count, runs each case by sending one message and expecting the
// echo, and records what happened.
type fakeFuzzer struct {
	count    string       // what /getCaseCount sends
	hang     map[int]bool // cases that never end on their own
	compress bool         // accept permessage-deflate

	mu      sync.Mutex
	results []caseRecord
	reports []string // agents whose reports were requested
}

type caseRecord struct {
	Case       int
	Agent      string
	Echoed     bool // the echo matched the message sent
	Compressed bool
}

// message is what the fake sends in case n: text for odd cases, binary for
// even ones.
func message(n int) (websocket.MessageType, []byte) {
	if n%2 == 1 {
		return websocket.TextMessage, []byte(strings.Repeat("case "+strconv.Itoa(n)+" κόσμε ", 40))
	}
	return websocket.BinaryMessage, bytes.Repeat([]byte{byte(n), 0, 0xff}, 300)
}

func (f *fakeFuzzer) handler(t *testing.T) http.Handler {
	cfg := websocket.DefaultConfig()
	if f.compress {
		cfg.Compression = &websocket.CompressionOptions{ContextTakeover: true, Threshold: -1}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/getCaseCount", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Upgrade(w, r, cfg)
		if err != nil {
			t.Errorf("getCaseCount: %v", err)
			return
		}
		defer c.CloseNow()
		_ = c.WriteMessage(websocket.TextMessage, []byte(f.count))
		_ = c.Close(websocket.CloseNoStatusReceived, "")
	})
	mux.HandleFunc("/runCase", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("case"))
		if err != nil {
			http.Error(w, "bad case", http.StatusBadRequest)
			return
		}
		c, err := websocket.Upgrade(w, r, cfg)
		if err != nil {
			t.Errorf("runCase: %v", err)
			return
		}
		defer c.CloseNow()
		rec := caseRecord{Case: n, Agent: r.URL.Query().Get("agent"), Compressed: c.Compressed()}
		mt, p := message(n)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if err := c.WriteMessage(mt, p); err == nil {
			gotType, got, err := c.ReadMessage()
			rec.Echoed = err == nil && gotType == mt && bytes.Equal(got, p)
		}
		f.mu.Lock()
		f.results = append(f.results, rec)
		f.mu.Unlock()
		if f.hang[n] {
			<-c.Done() // until the client gives up
			return
		}
		_ = c.Close(websocket.CloseNormalClosure, "")
	})
	mux.HandleFunc("/updateReports", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Upgrade(w, r, cfg)
		if err != nil {
			t.Errorf("updateReports: %v", err)
			return
		}
		defer c.CloseNow()
		f.mu.Lock()
		f.reports = append(f.reports, r.URL.Query().Get("agent"))
		f.mu.Unlock()
		_ = c.Close(websocket.CloseNoStatusReceived, "")
	})
	return mux
}

// snapshot returns copies of what was recorded so far.
func (f *fakeFuzzer) snapshot() ([]caseRecord, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]caseRecord(nil), f.results...), append([]string(nil), f.reports...)
}

// start serves f on a free 127.0.0.1 port until the test ends.
func (f *fakeFuzzer) start(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f.handler(t)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "ws://" + ln.Addr().String()
}

func TestRun(t *testing.T) {
	for _, tt := range []struct {
		name             string
		compress, stream bool
	}{
		{"messages", false, false},
		{"stream", false, true},
		{"messages-deflate", true, false},
		{"stream-deflate", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeFuzzer{count: "2", compress: true}
			o := options{URL: f.start(t), Agent: "agent one", Compress: tt.compress, Stream: tt.stream,
				CaseTimeout: 20 * time.Second, Logf: t.Logf}
			var progress bytes.Buffer
			if err := run(context.Background(), o, &progress); err != nil {
				t.Fatalf("run: %v\n%s", err, &progress)
			}
			results, reports := f.snapshot()
			want := []caseRecord{
				{Case: 1, Agent: "agent one", Echoed: true, Compressed: tt.compress},
				{Case: 2, Agent: "agent one", Echoed: true, Compressed: tt.compress},
			}
			if diff := cmp.Diff(want, results); diff != "" {
				t.Errorf("cases (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"agent one"}, reports); diff != "" {
				t.Errorf("report requests (-want +got):\n%s", diff)
			}
			if !strings.Contains(progress.String(), "running 2 cases") {
				t.Errorf("progress does not announce the cases:\n%s", &progress)
			}
		})
	}
}

// TestRunCaseTimeout checks that a case that never ends is cut off, counted
// as a failure, and does not stop the other cases or the reports.
func TestRunCaseTimeout(t *testing.T) {
	f := &fakeFuzzer{count: "3", hang: map[int]bool{2: true}}
	o := options{URL: f.start(t), Agent: "a", CaseTimeout: 500 * time.Millisecond}
	var progress bytes.Buffer
	err := run(context.Background(), o, &progress)
	if err == nil || !strings.Contains(err.Error(), "1 of 3 cases") {
		t.Fatalf("run: %v, want a failure of 1 of 3 cases\n%s", err, &progress)
	}
	results, reports := f.snapshot()
	var got []int
	for _, r := range results {
		if !r.Echoed {
			t.Errorf("case %d was not echoed", r.Case)
		}
		got = append(got, r.Case)
	}
	if diff := cmp.Diff([]int{1, 2, 3}, got); diff != "" {
		t.Errorf("cases run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a"}, reports); diff != "" {
		t.Errorf("report requests (-want +got):\n%s", diff)
	}
}

func TestRunErrors(t *testing.T) {
	t.Run("bad case count", func(t *testing.T) {
		f := &fakeFuzzer{count: "many"}
		err := run(context.Background(), options{URL: f.start(t), Agent: "a", CaseTimeout: 5 * time.Second}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "getCaseCount") {
			t.Fatalf("run: %v, want a getCaseCount error", err)
		}
		if results, _ := f.snapshot(); len(results) != 0 {
			t.Errorf("%d cases ran after a bad count", len(results))
		}
	})
	t.Run("no fuzzer", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		err = run(context.Background(), options{URL: "ws://" + addr, Agent: "a", CaseTimeout: 5 * time.Second}, &bytes.Buffer{})
		if err == nil {
			t.Fatal("run succeeded with nothing listening")
		}
	})
	t.Run("zero timeout", func(t *testing.T) {
		if err := run(context.Background(), options{URL: "ws://127.0.0.1:1"}, &bytes.Buffer{}); err == nil {
			t.Fatal("run accepted a zero case timeout")
		}
	})
	t.Run("reports refused", func(t *testing.T) {
		f := &fakeFuzzer{count: "0"}
		mux := http.NewServeMux()
		mux.Handle("/getCaseCount", f.handler(t))
		mux.HandleFunc("/updateReports", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no", http.StatusNotFound)
		})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: mux}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		err = run(context.Background(), options{URL: fmt.Sprintf("ws://%s/", ln.Addr()), Agent: "a", CaseTimeout: 5 * time.Second}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "updateReports") {
			t.Fatalf("run: %v, want an updateReports error", err)
		}
	})
}
