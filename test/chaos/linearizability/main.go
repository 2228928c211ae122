// Command linearizability checks a history of key-value operations recorded by the chaos driver
// (test/chaos/) for linearizability with porcupine, against a per-key model of the Redis
// commands the driver issues (GET, SET, DEL, INCR, APPEND).
//
//	linearizability [--timeout 120s] [--visualize always|violation|never] HISTORY.json
//
// Exit status: 0 linearizable; 1 not linearizable (porcupine's visualization is written next to
// the history, HISTORY.html); 2 bad input; 3 the check did not finish within --timeout.
// A one-line JSON summary goes to stdout.
//
// History format (times in microseconds from any common origin, one clock for all clients):
//
//	{"operations": [
//	   {"client": 0, "op": "SET", "key": "r1", "value": "v0-17", "call": 10, "return": 25,
//	    "status": "ok", "result": "OK"},
//	   {"client": 1, "op": "GET", "key": "r1", "call": 12, "return": 30, "status": "ok", "result": null},
//	   {"client": 2, "op": "INCR", "key": "n0", "call": 40, "status": "unknown", "error": "timeout"}],
//	 "annotations": [{"start": 20, "end": 90, "tag": "faults", "description": "SIGKILL leader r0"}]}
//
// status:
//
//	ok       the command ran and answered: "result" is its reply (a string, an integer, or null
//	         for a nil bulk string), or "error" holds an error reply produced by executing the
//	         command (e.g. INCR on a non-integer), which the model checks too;
//	fail     the command was certainly not executed (MOVED, CLUSTERDOWN, "log full"): dropped;
//	unknown  the command may or may not have taken effect (a timeout, a lost connection,
//	         -UNCERTAIN): modelled as possibly applied at any time after its call, i.e. a
//	         return time of +infinity and any reply. An unknown read has no effect: dropped.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// HistoryOp is one client operation as the driver recorded it.
type HistoryOp struct {
	Client int             `json:"client"`
	Op     string          `json:"op"`
	Key    string          `json:"key"`
	Value  string          `json:"value,omitempty"`
	Call   int64           `json:"call"`
	Return *int64          `json:"return,omitempty"`
	Status string          `json:"status"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	Note   string          `json:"note,omitempty"` // shown in the visualization's tooltip
}

// HistoryAnnotation marks a fault (or any interval) in the visualization.
type HistoryAnnotation struct {
	Start       int64  `json:"start"`
	End         int64  `json:"end"`
	Tag         string `json:"tag"`
	Description string `json:"description"`
	Details     string `json:"details,omitempty"`
}

// History is the file the driver writes.
type History struct {
	Operations  []HistoryOp         `json:"operations"`
	Annotations []HistoryAnnotation `json:"annotations,omitempty"`
}

// kvInput is what a client asked.
type kvInput struct {
	Op    string
	Key   string
	Value string
}

// kvOutput is what it got: a definite reply, or unknown (any reply, possibly never applied).
type kvOutput struct {
	Unknown bool
	IsNil   bool   // GET of a missing key
	IsInt   bool   // INCR, APPEND, DEL reply
	Int     int64  //
	Str     string // GET, SET reply
	Err     string // an error reply from executing the command
}

// kvState is one key's value.
type kvState struct {
	Exists bool
	Value  string
}

func (o kvOutput) String() string {
	switch {
	case o.Unknown:
		return "?"
	case o.Err != "":
		return "(error) " + o.Err
	case o.IsNil:
		return "(nil)"
	case o.IsInt:
		return strconv.FormatInt(o.Int, 10)
	default:
		return strconv.Quote(o.Str)
	}
}

// parseRedisInt accepts what Redis's string2ll accepts: an optional minus sign, no leading
// zeros (except "0" itself), no spaces or plus sign, within int64.
func parseRedisInt(s string) (int64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	digits := s
	if s[0] == '-' {
		digits = s[1:]
	}
	if digits == "" || (len(digits) > 1 && digits[0] == '0') || digits == "0" && s[0] == '-' {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// step applies one operation to one key's state. For an unknown outcome any reply is allowed,
// but the effect is the command's (whether it happened at all is porcupine's choice, by placing
// it somewhere in [call, +inf)).
func step(state kvState, in kvInput, out kvOutput) (bool, kvState) {
	switch in.Op {
	case "GET":
		if out.Unknown {
			return true, state
		}
		if out.Err != "" {
			return false, state
		}
		if out.IsNil {
			return !state.Exists, state
		}
		return state.Exists && !out.IsInt && state.Value == out.Str, state
	case "SET":
		next := kvState{Exists: true, Value: in.Value}
		return out.Unknown || (out.Err == "" && out.Str == "OK"), next
	case "DEL":
		var removed int64
		if state.Exists {
			removed = 1
		}
		return out.Unknown || (out.Err == "" && out.IsInt && out.Int == removed), kvState{}
	case "INCR":
		current := int64(0)
		if state.Exists {
			v, ok := parseRedisInt(state.Value)
			if !ok || v == math.MaxInt64 {
				// The command fails on the state machine: no effect, an error reply.
				return out.Unknown || out.Err != "", state
			}
			current = v
		}
		next := kvState{Exists: true, Value: strconv.FormatInt(current+1, 10)}
		return out.Unknown || (out.Err == "" && out.IsInt && out.Int == current+1), next
	case "APPEND":
		next := kvState{Exists: true, Value: state.Value + in.Value}
		return out.Unknown || (out.Err == "" && out.IsInt && out.Int == int64(len(next.Value))), next
	}
	return false, state
}

func kvModel() porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			byKey := map[string][]porcupine.Operation{}
			var keys []string
			for _, op := range history {
				k := op.Input.(kvInput).Key
				if _, seen := byKey[k]; !seen {
					keys = append(keys, k)
				}
				byKey[k] = append(byKey[k], op)
			}
			sort.Strings(keys)
			parts := make([][]porcupine.Operation, 0, len(keys))
			for _, k := range keys {
				parts = append(parts, byKey[k])
			}
			return parts
		},
		Init: func() interface{} { return kvState{} },
		Step: func(state, input, output interface{}) (bool, interface{}) {
			ok, next := step(state.(kvState), input.(kvInput), output.(kvOutput))
			return ok, next
		},
		Equal: func(a, b interface{}) bool { return a.(kvState) == b.(kvState) },
		DescribeOperation: func(input, output interface{}) string {
			in := input.(kvInput)
			args := in.Key
			if in.Op == "SET" || in.Op == "APPEND" {
				args += " " + strconv.Quote(in.Value)
			}
			return fmt.Sprintf("%s %s -> %s", in.Op, args, output.(kvOutput))
		},
		DescribeState: func(state interface{}) string {
			s := state.(kvState)
			if !s.Exists {
				return "(nil)"
			}
			return strconv.Quote(s.Value)
		},
		DescribeOperationMetadata: func(info interface{}) string {
			if info == nil {
				return ""
			}
			return info.(string)
		},
	}
}

// Summary is the one-line result on stdout.
type Summary struct {
	Verdict       string  `json:"verdict"` // ok | illegal | unknown
	Operations    int     `json:"operations"`
	Checked       int     `json:"checked"` // after dropping failed ops and unknown reads
	UnknownWrites int     `json:"unknownWrites"`
	Keys          int     `json:"keys"`
	Visualization string  `json:"visualization,omitempty"`
	Seconds       float64 `json:"seconds"`
}

// toOperations converts a history into porcupine operations, dropping what has no effect.
func toOperations(h *History) ([]porcupine.Operation, Summary, error) {
	var ops []porcupine.Operation
	sum := Summary{Operations: len(h.Operations)}
	keys := map[string]bool{}
	clients := map[int]int{} // driver client id -> dense index for the visualization
	for i, r := range h.Operations {
		where := fmt.Sprintf("operations[%d]", i)
		op := strings.ToUpper(r.Op)
		switch op {
		case "GET", "SET", "DEL", "INCR", "APPEND":
		default:
			return nil, sum, fmt.Errorf("%s: op %q is not one of GET SET DEL INCR APPEND", where, r.Op)
		}
		if r.Key == "" {
			return nil, sum, fmt.Errorf("%s: key is empty", where)
		}
		in := kvInput{Op: op, Key: r.Key, Value: r.Value}
		var out kvOutput
		ret := int64(math.MaxInt64)
		switch r.Status {
		case "fail":
			continue
		case "unknown":
			if op == "GET" {
				continue
			}
			out.Unknown = true
			sum.UnknownWrites++
		case "ok":
			if r.Return == nil {
				return nil, sum, fmt.Errorf("%s: status ok needs a return time", where)
			}
			ret = *r.Return
			if ret < r.Call {
				return nil, sum, fmt.Errorf("%s: returns (%d) before its call (%d)", where, ret, r.Call)
			}
			if r.Error != "" {
				out.Err = r.Error
				break
			}
			if err := decodeResult(r.Result, &out); err != nil {
				return nil, sum, fmt.Errorf("%s: result: %v", where, err)
			}
		default:
			return nil, sum, fmt.Errorf("%s: status %q is not ok, fail or unknown", where, r.Status)
		}
		id, ok := clients[r.Client]
		if !ok {
			id = len(clients)
			clients[r.Client] = id
		}
		keys[r.Key] = true
		note := fmt.Sprintf("client %d", r.Client)
		if r.Note != "" {
			note += ": " + r.Note
		}
		if out.Unknown && r.Error != "" {
			note += " (outcome unknown: " + r.Error + ")"
		}
		ops = append(ops, porcupine.Operation{
			ClientId: id, Input: in, Call: r.Call, Output: out, Return: ret, Metadata: note,
		})
	}
	sum.Checked = len(ops)
	sum.Keys = len(keys)
	return ops, sum, nil
}

func decodeResult(raw json.RawMessage, out *kvOutput) error {
	if len(raw) == 0 || string(raw) == "null" {
		out.IsNil = true
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		out.Str = s
		return nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err == nil {
		out.IsInt = true
		out.Int = n
		return nil
	}
	return fmt.Errorf("%s is neither a string, an integer nor null", string(raw))
}

// Check runs porcupine on a history. The visualization info is returned for writing.
func Check(h *History, timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo, Summary, error) {
	ops, sum, err := toOperations(h)
	if err != nil {
		return porcupine.Unknown, porcupine.LinearizationInfo{}, sum, err
	}
	start := time.Now()
	result, info := porcupine.CheckOperationsVerbose(kvModel(), ops, timeout)
	sum.Seconds = time.Since(start).Seconds()
	switch result {
	case porcupine.Ok:
		sum.Verdict = "ok"
	case porcupine.Illegal:
		sum.Verdict = "illegal"
	default:
		sum.Verdict = "unknown"
	}
	var notes []porcupine.Annotation
	for _, a := range h.Annotations {
		notes = append(notes, porcupine.Annotation{
			Tag: a.Tag, Start: a.Start, End: a.End, Description: a.Description, Details: a.Details,
			BackgroundColor: "#fde2c8",
		})
	}
	info.AddAnnotations(notes)
	return result, info, sum, nil
}

func visualizationPath(historyPath string) string {
	return strings.TrimSuffix(historyPath, ".json") + ".html"
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("linearizability", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 120*time.Second, "give up (exit 3) after this long")
	visualize := fs.String("visualize", "violation", "write HISTORY.html: always, violation or never")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || (*visualize != "always" && *visualize != "violation" && *visualize != "never") {
		fmt.Fprintln(stderr, "usage: linearizability [--timeout 120s] [--visualize always|violation|never] HISTORY.json")
		return 2
	}
	path := fs.Arg(0)
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "linearizability: %v\n", err)
		return 2
	}
	var h History // unknown top-level fields (run metadata) are ignored
	if err := json.Unmarshal(data, &h); err != nil {
		fmt.Fprintf(stderr, "linearizability: %s: %v\n", path, err)
		return 2
	}
	result, info, sum, err := Check(&h, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "linearizability: %s: %v\n", path, err)
		return 2
	}
	if *visualize == "always" || (*visualize == "violation" && result != porcupine.Ok) {
		out := visualizationPath(path)
		if err := porcupine.VisualizePath(kvModel(), info, out); err != nil {
			fmt.Fprintf(stderr, "linearizability: writing the visualization: %v\n", err)
		} else {
			sum.Visualization = out
		}
	}
	line, _ := json.Marshal(sum)
	fmt.Fprintln(stdout, string(line))
	switch result {
	case porcupine.Ok:
		return 0
	case porcupine.Illegal:
		fmt.Fprintf(stderr, "linearizability: NOT linearizable: %s (visualization: %s)\n", path, sum.Visualization)
		return 1
	default:
		fmt.Fprintf(stderr, "linearizability: the check did not finish within %v\n", *timeout)
		return 3
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
