package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

func ret(t int64) *int64 { return &t }

func raw(v interface{}) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func check(t *testing.T, ops []HistoryOp) porcupine.CheckResult {
	t.Helper()
	result, _, _, err := Check(&History{Operations: ops}, 10*time.Second)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return result
}

// Two clients, overlapping writes and reads that see one order of them.
func TestLinearizableHistory(t *testing.T) {
	ops := []HistoryOp{
		{Client: 0, Op: "SET", Key: "r", Value: "a", Call: 0, Return: ret(10), Status: "ok", Result: raw("OK")},
		{Client: 1, Op: "SET", Key: "r", Value: "b", Call: 5, Return: ret(15), Status: "ok", Result: raw("OK")},
		{Client: 0, Op: "GET", Key: "r", Call: 12, Return: ret(20), Status: "ok", Result: raw("a")},
		{Client: 1, Op: "GET", Key: "r", Call: 21, Return: ret(25), Status: "ok", Result: raw("a")},
		{Client: 0, Op: "INCR", Key: "n", Call: 0, Return: ret(3), Status: "ok", Result: raw(1)},
		{Client: 1, Op: "INCR", Key: "n", Call: 1, Return: ret(4), Status: "ok", Result: raw(2)},
		{Client: 0, Op: "APPEND", Key: "a", Value: "x;", Call: 30, Return: ret(31), Status: "ok", Result: raw(2)},
		{Client: 1, Op: "APPEND", Key: "a", Value: "yy;", Call: 30, Return: ret(33), Status: "ok", Result: raw(5)},
		{Client: 0, Op: "GET", Key: "a", Call: 34, Return: ret(35), Status: "ok", Result: raw("x;yy;")},
		{Client: 1, Op: "GET", Key: "missing", Call: 34, Return: ret(35), Status: "ok", Result: nil},
		{Client: 0, Op: "DEL", Key: "r", Call: 40, Return: ret(41), Status: "ok", Result: raw(1)},
		{Client: 1, Op: "GET", Key: "r", Call: 42, Return: ret(43), Status: "ok", Result: nil},
		// Certainly not executed (a redirect): ignored whatever it says.
		{Client: 1, Op: "SET", Key: "r", Value: "zzz", Call: 44, Return: ret(45), Status: "fail", Error: "MOVED 0 x:1"},
		{Client: 0, Op: "GET", Key: "r", Call: 46, Return: ret(47), Status: "ok", Result: nil},
	}
	if got := check(t, ops); got != porcupine.Ok {
		t.Fatalf("got %v, want Ok", got)
	}
}

// A read that misses a write which had completed before the read began (a stale read, as an
// old leader that still answers would give).
func TestStaleReadIsNotLinearizable(t *testing.T) {
	ops := []HistoryOp{
		{Client: 0, Op: "SET", Key: "r", Value: "a", Call: 0, Return: ret(10), Status: "ok", Result: raw("OK")},
		{Client: 0, Op: "SET", Key: "r", Value: "b", Call: 11, Return: ret(20), Status: "ok", Result: raw("OK")},
		{Client: 1, Op: "GET", Key: "r", Call: 21, Return: ret(30), Status: "ok", Result: raw("a")},
	}
	if got := check(t, ops); got != porcupine.Illegal {
		t.Fatalf("got %v, want Illegal", got)
	}
}

// An acknowledged INCR that a later read does not see: a lost write.
func TestLostIncrementIsNotLinearizable(t *testing.T) {
	ops := []HistoryOp{
		{Client: 0, Op: "INCR", Key: "n", Call: 0, Return: ret(10), Status: "ok", Result: raw(1)},
		{Client: 1, Op: "INCR", Key: "n", Call: 20, Return: ret(30), Status: "ok", Result: raw(1)},
	}
	if got := check(t, ops); got != porcupine.Illegal {
		t.Fatalf("got %v, want Illegal", got)
	}
}

// A write with an unknown outcome may take effect (even long after its call) or never.
func TestUnknownOutcomes(t *testing.T) {
	applied := []HistoryOp{
		{Client: 0, Op: "SET", Key: "r", Value: "a", Call: 0, Status: "unknown", Error: "UNCERTAIN leadership changed"},
		{Client: 1, Op: "GET", Key: "r", Call: 50, Return: ret(60), Status: "ok", Result: nil},
		{Client: 1, Op: "GET", Key: "r", Call: 70, Return: ret(80), Status: "ok", Result: raw("a")},
		{Client: 1, Op: "GET", Key: "r", Call: 90, Return: ret(95), Status: "unknown", Error: "timeout"},
	}
	if got := check(t, applied); got != porcupine.Ok {
		t.Fatalf("unknown write seen late: got %v, want Ok", got)
	}
	never := []HistoryOp{
		{Client: 0, Op: "INCR", Key: "n", Call: 0, Status: "unknown", Error: "timeout"},
		{Client: 1, Op: "INCR", Key: "n", Call: 50, Return: ret(60), Status: "ok", Result: raw(1)},
	}
	if got := check(t, never); got != porcupine.Ok {
		t.Fatalf("unknown write never applied: got %v, want Ok", got)
	}
	// An unknown write can happen once, not twice.
	twice := []HistoryOp{
		{Client: 0, Op: "INCR", Key: "n", Call: 0, Status: "unknown", Error: "timeout"},
		{Client: 1, Op: "INCR", Key: "n", Call: 50, Return: ret(60), Status: "ok", Result: raw(3)},
	}
	if got := check(t, twice); got != porcupine.Illegal {
		t.Fatalf("unknown write applied twice: got %v, want Illegal", got)
	}
}

func TestIncrOnNonIntegerIsAnErrorWithoutEffect(t *testing.T) {
	ops := []HistoryOp{
		{Client: 0, Op: "SET", Key: "k", Value: "abc", Call: 0, Return: ret(1), Status: "ok", Result: raw("OK")},
		{Client: 0, Op: "INCR", Key: "k", Call: 2, Return: ret(3), Status: "ok", Error: "ERR value is not an integer or out of range"},
		{Client: 0, Op: "GET", Key: "k", Call: 4, Return: ret(5), Status: "ok", Result: raw("abc")},
	}
	if got := check(t, ops); got != porcupine.Ok {
		t.Fatalf("got %v, want Ok", got)
	}
	for _, s := range []string{"007", "-0", "+1", " 1", "1 ", "", "-", "99999999999999999999"} {
		if _, ok := parseRedisInt(s); ok {
			t.Errorf("parseRedisInt(%q) accepted", s)
		}
	}
	for _, s := range []string{"0", "-1", "42", "9223372036854775807", "-9223372036854775808"} {
		if _, ok := parseRedisInt(s); !ok {
			t.Errorf("parseRedisInt(%q) rejected", s)
		}
	}
}

// The command: exit 1 and a visualization next to the history on a violation; exit 0 and no
// file otherwise; exit 2 on malformed input.
func TestCommandWritesVisualizationOnViolation(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, h History) string {
		path := filepath.Join(dir, name)
		data, _ := json.Marshal(h)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	bad := write("bad.json", History{
		Operations: []HistoryOp{
			{Client: 0, Op: "SET", Key: "r", Value: "a", Call: 0, Return: ret(10), Status: "ok", Result: raw("OK")},
			{Client: 1, Op: "GET", Key: "r", Call: 20, Return: ret(30), Status: "ok", Result: nil},
		},
		Annotations: []HistoryAnnotation{{Start: 5, End: 25, Tag: "faults", Description: "SIGKILL leader"}},
	})
	var out, errOut bytes.Buffer
	if code := run([]string{bad}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut.String())
	}
	html := filepath.Join(dir, "bad.html")
	if st, err := os.Stat(html); err != nil || st.Size() == 0 {
		t.Fatalf("no visualization at %s: %v", html, err)
	}
	if !strings.Contains(out.String(), `"verdict":"illegal"`) {
		t.Fatalf("summary %q", out.String())
	}

	good := write("good.json", History{Operations: []HistoryOp{
		{Client: 0, Op: "SET", Key: "r", Value: "a", Call: 0, Return: ret(10), Status: "ok", Result: raw("OK")},
		{Client: 1, Op: "GET", Key: "r", Call: 20, Return: ret(30), Status: "ok", Result: raw("a")},
	}})
	out.Reset()
	if code := run([]string{good}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, want 0; stderr %s", code, errOut.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "good.html")); err == nil {
		t.Fatalf("a visualization was written for a linearizable history")
	}

	malformed := write("malformed.json", History{Operations: []HistoryOp{
		{Client: 0, Op: "FLUSHALL", Key: "r", Call: 0, Return: ret(1), Status: "ok"},
	}})
	if code := run([]string{malformed}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}
