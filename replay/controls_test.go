package replay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"

	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

// keyCases feed TestKeyDecoder, FuzzKeyDecoder and BenchmarkKeyDecoder.
var keyCases = []struct {
	name string
	in   []string // successive reads
	want []Key
}{
	{"plain", []string{" .q"}, []Key{' ', '.', 'q'}},
	{"arrows", []string{"\x1b[C\x1b[D\x1b[A\x1b[B"}, []Key{KeyRight, KeyLeft, KeyUp, KeyDown}},
	{"ss3 arrows", []string{"\x1bOC\x1bOD"}, []Key{KeyRight, KeyLeft}},
	{"paging", []string{"\x1b[5~\x1b[6~\x1b[1~\x1b[H"}, []Key{KeyPgUp, KeyPgDn, KeyHome, KeyHome}},
	{"split sequence", []string{"a\x1b", "[", "Cb"}, []Key{'a', KeyRight, 'b'}},
	{"unknown sequence dropped", []string{"\x1b[15;2~x"}, []Key{'x'}},
	{"alt key", []string{"\x1bq"}, []Key{'q'}},
	{"garbage escape", []string{"\x1b[1111111111111111111111111x"}, []Key{'1', '1', '1', '1', '1', '1', '1', '1', '1', '1', 'x'}},
}

func TestKeyDecoder(t *testing.T) {
	for _, c := range keyCases {
		t.Run(c.name, func(t *testing.T) {
			var d KeyDecoder
			var got []Key
			for _, in := range c.in {
				got = append(got, d.Decode([]byte(in))...)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("keys %v, want %v", got, c.want)
			}
		})
	}
}

func FuzzKeyDecoder(f *testing.F) {
	for _, c := range keyCases {
		for _, in := range c.in {
			f.Add([]byte(in))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d KeyDecoder
		var one []Key
		for i := range b { // byte by byte must give what one read gives
			one = append(one, d.Decode(b[i:i+1])...)
		}
		var d2 KeyDecoder
		all := d2.Decode(b)
		if !slices.Equal(one, all) {
			t.Fatalf("byte by byte %v, at once %v", one, all)
		}
		if len(d.buf) > maxEscape+1 {
			t.Fatalf("decoder holds %d bytes", len(d.buf))
		}
	})
}

func BenchmarkKeyDecoder(b *testing.B) {
	for _, c := range keyCases {
		in := []byte(fmt.Sprint(c.in))
		b.Run("case="+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			var d KeyDecoder
			for b.Loop() {
				d.Decode(in)
			}
		})
	}
}

// openPTY opens a pseudo-terminal pair (master, slave).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	return m, s
}

// The controls read key presses from a real terminal in raw mode: each key arrives
// as it is pressed (no line buffering), arrow keys as escape sequences.
func TestControlsThroughPTY(t *testing.T) {
	master, slave := openPTY(t)
	defer master.Close()
	old, err := term.MakeRaw(int(slave.Fd()))
	if err != nil {
		t.Fatalf("raw mode: %v", err)
	}
	defer term.Restore(int(slave.Fd()), old)

	_, d := openTest(t, testdrive.Spec{Seed: 31, Segments: 4, SegLen: 10 * time.Second, CANRate: 20, IMURate: 10, FPS: 2})
	fcw, ev, err := d.NextEvent(0, "", schema.EvFCW)
	if err != nil || ev == nil {
		t.Fatalf("the test drive needs an FCW event: %v", err)
	}
	r, err := d.NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out collect
	p, err := NewPlayer(r, &out, PlayerOptions{Rate: 1, Clock: newFakeClock(), Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	ctlErr := make(chan error, 1)
	go func() { ctlErr <- Controls(ctx, slave, p) }()

	press := func(keys string) {
		t.Helper()
		if _, err := master.Write([]byte(keys)); err != nil {
			t.Fatal(err)
		}
	}
	press(".") // step: the first frame set
	waitFor(t, "step", func() bool { return p.Status().Frames == 2 })
	t0 := p.Status().T
	press("\x1b[C") // → +10 s
	waitFor(t, "+10 s", func() bool { return p.Status().T == t0+int64(10*time.Second) })
	press("\x1b[D") // ← −10 s
	waitFor(t, "−10 s", func() bool { return p.Status().T == t0 })
	press("\x1b[A") // ↑ +60 s: past the end of the drive, so at its end
	waitFor(t, "+60 s", func() bool { return p.Status().T == d.Manifest.EndT })
	press("g") // back to the start
	waitFor(t, "start", func() bool { return p.Status().T == 0 || p.Status().T == d.StartT() })
	press("f") // next FCW
	waitFor(t, "next FCW", func() bool { return p.Status().T == fcw })
	press("+")
	waitFor(t, "rate ×2", func() bool { return p.Status().Rate == 2 })
	press(" ") // resume: plays to the end (the fake clock runs as fast as it is asked)
	waitFor(t, "end", func() bool { return p.Status().Done })
	press("q")
	if err := <-ctlErr; err != nil {
		t.Fatalf("controls: %v", err)
	}
	if err := <-runErr; err != nil && !errors.Is(err, ErrQuit) {
		t.Fatalf("run: %v", err)
	}
	slave.Close()
}
