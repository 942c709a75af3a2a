// Command check judges Autobahn|Testsuite reports: it reads the index.json
// files that wstest writes next to its HTML reports, prints for each agent
// how many cases ended with each outcome and which cases were not OK, and
// exits 1 when any case was not OK.
//
// Usage:
//
//	check index.json [index.json...]
//
// Exit status: 0 when every case of every report is OK; 1 when some case
// is not; 2 when a report cannot be read, is not a well-formed index.json,
// or ran no case (an empty report proves nothing).
//
// The judgement is strict. A case is OK when both its behavior and its
// behaviorClose are "OK". NON-STRICT (allowed by the RFC but not the
// canonical behaviour), UNIMPLEMENTED (for example compression cases
// without permessage-deflate), WRONG CODE, UNCLEAN, FAILED BY CLIENT and
// FAILED are all not OK. INFORMATIONAL is OK only for the cases that can
// end in nothing else (informationalOnlyCases); anywhere else it is
// unexpected and not OK.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Outcomes as wstest writes them in "behavior" and "behaviorClose"
// (class Case in autobahntestsuite/case/case.py).
const (
	outcomeOK             = "OK"
	outcomeNonStrict      = "NON-STRICT"
	outcomeInformational  = "INFORMATIONAL"
	outcomeUnimplemented  = "UNIMPLEMENTED"
	outcomeWrongCode      = "WRONG CODE"
	outcomeUnclean        = "UNCLEAN"
	outcomeFailedByClient = "FAILED BY CLIENT"
	outcomeFailed         = "FAILED"
	outcomeNoClose        = "NO_CLOSE"
)

// outcomeOrder is the order in which outcome counts are printed; outcomes
// not listed follow in alphabetical order.
var outcomeOrder = []string{
	outcomeOK, outcomeInformational, outcomeNonStrict, outcomeUnimplemented,
	outcomeWrongCode, outcomeUnclean, outcomeFailedByClient, outcomeNoClose, outcomeFailed,
}

// informationalOnlyCases are the cases whose only possible outcome is
// INFORMATIONAL: the behaviour they observe is left open by RFC 6455.
// Source: crossbario/autobahn-testsuite, directory
// autobahntestsuite/autobahntestsuite/case/. In case7_1_6.py (256 KiB
// message, then a message, close and ping back to back), case7_13_1.py
// (close code 5000) and case7_13_2.py (close code 65535), onConnectionLost
// sets both self.behavior and self.behaviorClose to Case.INFORMATIONAL
// unconditionally; no other case file assigns Case.INFORMATIONAL.
var informationalOnlyCases = map[string]bool{
	"7.1.6":  true,
	"7.13.1": true,
	"7.13.2": true,
}

// caseResult is one case's entry in index.json.
type caseResult struct {
	Behavior        string  `json:"behavior"`
	BehaviorClose   string  `json:"behaviorClose"`
	Duration        float64 `json:"duration"` // milliseconds
	RemoteCloseCode *int    `json:"remoteCloseCode"`
	ReportFile      string  `json:"reportfile"`
}

// report is a parsed index.json: agent name -> case id ("1.1.1") -> result.
type report map[string]map[string]caseResult

var (
	// errMalformed reports an index.json that is not a JSON object of
	// agents holding objects of cases with their outcomes.
	errMalformed = errors.New("malformed report")
	// errEmpty reports an index.json with no agent, or an agent with no
	// case: nothing ran, so nothing passed.
	errEmpty = errors.New("report ran no case")
)

// parseReport reads one index.json. Errors wrap errMalformed or errEmpty.
func parseReport(r io.Reader) (report, error) {
	dec := json.NewDecoder(r)
	var rep report
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", errMalformed)
	}
	if rep == nil {
		return nil, fmt.Errorf("%w: not a JSON object", errMalformed)
	}
	if len(rep) == 0 {
		return nil, fmt.Errorf("%w: no agent", errEmpty)
	}
	for agent, cases := range rep {
		if len(cases) == 0 {
			return nil, fmt.Errorf("%w: agent %q has no case", errEmpty, agent)
		}
		for id, c := range cases {
			if !validCaseID(id) {
				return nil, fmt.Errorf("%w: agent %q: case id %q is not of the form 1.2.3", errMalformed, agent, id)
			}
			if c.Behavior == "" || c.BehaviorClose == "" {
				return nil, fmt.Errorf("%w: agent %q: case %s lacks behavior or behaviorClose", errMalformed, agent, id)
			}
		}
	}
	return rep, nil
}

// validCaseID reports whether id is dot-separated decimal numbers.
func validCaseID(id string) bool {
	for part := range strings.SplitSeq(id, ".") {
		if part == "" || len(part) > 4 {
			return false
		}
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return false
			}
		}
	}
	return true
}

// compareCaseIDs orders valid case ids numerically: 1.1.2 < 1.1.10 < 2.1;
// ids equal as numbers ("01.1", "1.1") are ordered as strings.
func compareCaseIDs(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, _ := strconv.Atoi(pa[i])
		nb, _ := strconv.Atoi(pb[i])
		if na != nb {
			return na - nb
		}
	}
	if len(pa) != len(pb) {
		return len(pa) - len(pb)
	}
	return strings.Compare(a, b)
}

// judge returns a case's outcome, the first of behavior and behaviorClose
// that is not OK (or OK), and whether that outcome passes.
func judge(id string, c caseResult) (outcome string, ok bool) {
	outcome = c.Behavior
	if outcome == outcomeOK {
		outcome = c.BehaviorClose
	}
	if informationalOnlyCases[id] {
		okOrInfo := func(s string) bool { return s == outcomeOK || s == outcomeInformational }
		return outcome, okOrInfo(c.Behavior) && okOrInfo(c.BehaviorClose)
	}
	return outcome, outcome == outcomeOK
}

// verdict is a case that is not OK.
type verdict struct {
	ID              string
	Outcome         string
	Behavior        string
	BehaviorClose   string
	RemoteCloseCode *int
	ReportFile      string
}

// summary is the judgement of one agent's cases in one report.
type summary struct {
	Source   string // the report's file name
	Agent    string
	Total    int            // cases run
	Duration float64        // sum of the cases' durations, ms
	Counts   map[string]int // outcome -> number of cases
	NotOK    []verdict      // ordered by case id
}

// summarize judges every case of rep, one summary per agent, ordered by
// agent name.
func summarize(source string, rep report) []summary {
	agents := make([]string, 0, len(rep))
	for a := range rep {
		agents = append(agents, a)
	}
	slices.Sort(agents)
	out := make([]summary, 0, len(agents))
	for _, agent := range agents {
		cases := rep[agent]
		s := summary{Source: source, Agent: agent, Total: len(cases), Counts: map[string]int{}}
		ids := make([]string, 0, len(cases))
		for id := range cases {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, compareCaseIDs)
		for _, id := range ids {
			c := cases[id]
			s.Duration += c.Duration
			outcome, ok := judge(id, c)
			s.Counts[outcome]++
			if !ok {
				s.NotOK = append(s.NotOK, verdict{id, outcome, c.Behavior, c.BehaviorClose, c.RemoteCloseCode, c.ReportFile})
			}
		}
		out = append(out, s)
	}
	return out
}

// formatCounts lists the outcome counts in outcomeOrder.
func formatCounts(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		if i := slices.Index(outcomeOrder, k); i >= 0 {
			return i
		}
		return len(outcomeOrder)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, counts[k])
	}
	return b.String()
}

// printSummary writes s for a reader at a terminal or in CI logs.
func printSummary(w io.Writer, s summary) {
	verdictText := "PASS"
	if len(s.NotOK) > 0 {
		verdictText = fmt.Sprintf("FAIL (%d not OK)", len(s.NotOK))
	}
	fmt.Fprintf(w, "%s: agent %q: %d cases in %.1f s: %s: %s\n",
		s.Source, s.Agent, s.Total, s.Duration/1000, formatCounts(s.Counts), verdictText)
	if s.Counts[outcomeInformational] > 0 {
		fmt.Fprintf(w, "  (INFORMATIONAL allowed only for %s)\n", strings.Join(sortedInformationalOnly(), ", "))
	}
	for _, v := range s.NotOK {
		code := "none"
		if v.RemoteCloseCode != nil {
			code = strconv.Itoa(*v.RemoteCloseCode)
		}
		fmt.Fprintf(w, "  %-8s %-16s behavior=%s behaviorClose=%s remoteCloseCode=%s %s\n",
			v.ID, v.Outcome, v.Behavior, v.BehaviorClose, code, v.ReportFile)
	}
}

func sortedInformationalOnly() []string {
	ids := make([]string, 0, len(informationalOnlyCases))
	for id := range informationalOnlyCases {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareCaseIDs)
	return ids
}

// run checks the reports named by args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: check index.json [index.json...]")
		return 2
	}
	status := 0
	for _, name := range args {
		data, err := os.ReadFile(name)
		if err == nil {
			var rep report
			rep, err = parseReport(bytes.NewReader(data))
			if err == nil {
				for _, s := range summarize(name, rep) {
					printSummary(stdout, s)
					if len(s.NotOK) > 0 && status == 0 {
						status = 1
					}
				}
				continue
			}
		}
		fmt.Fprintf(stderr, "check: %s: %v\n", name, err)
		status = 2
	}
	return status
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
