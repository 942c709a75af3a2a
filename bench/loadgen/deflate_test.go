package loadgen

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDeflateWorkloads runs the compressed workloads with tiny counts for
// every library that has permessage-deflate (ours, gorilla, coder, gws;
// each workload once, ours on all), checks their metrics, and that gobwas,
// which the servers do not set up for compression, fails the handshake
// check rather than passing uncompressed.
func TestDeflateWorkloads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	base := QuickConfig()
	base.Warmup = 50 * time.Millisecond
	base.Duration = 200 * time.Millisecond
	base.IdleConns = 60
	base.IdleSettle = 50 * time.Millisecond
	base.BcastMembers = 20
	base.PipeConns = 4

	pairs := map[string][]string{
		"ours":     DeflateWorkloads,
		"gorilla":  {EchoDeflate},
		"coder":    {BroadcastDeflate},
		"gws":      {EchoDeflate, BroadcastDeflate},
		"gorilla2": {IdleDeflateFull},
		"gobwas":   {IdleDeflate},
	}
	for lib, workloads := range pairs {
		cfg := base
		cfg.Libs = []string{strings.TrimSuffix(lib, "2")}
		cfg.Workloads = workloads
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", lib, err)
		}
		for _, r := range rep.Results {
			if r.Lib == "gobwas" {
				if !errors.Is(r.Err, ErrHandshake) {
					t.Errorf("gobwas %s: error %v, want a handshake error (no compression)", r.Workload, r.Err)
				}
				continue
			}
			if r.Err != nil {
				t.Errorf("%s %s: %v", r.Lib, r.Workload, r.Err)
				continue
			}
			for _, d := range metricDefs[r.Workload] {
				v, ok := r.Metrics[d.key]
				if !ok || v < 0 || (d.key != mCPU && d.key != mCPUPerOp && d.key != mCPUSettled && d.key != mRSSPerConn && v == 0) {
					t.Errorf("%s %s: metric %q = %v (present %v)", r.Lib, r.Workload, d.label, v, ok)
				}
			}
			// The chat messages average 153 bytes: compressed replies
			// must be smaller.
			if v, ok := r.Metrics[mWireMsg]; ok && v >= 153 {
				t.Errorf("%s %s: %.1f bytes on the wire per message: not compressed", r.Lib, r.Workload, v)
			}
		}
		if table := rep.Table(); lib != "gobwas" && strings.Contains(table, "failed") {
			t.Errorf("%s: table reports failures:\n%s", lib, table)
		}
	}
}
