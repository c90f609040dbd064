//go:build integration

package buttons

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"roadlog/record"
)

// TestChipLoopback needs real GPIO: ROADLOG_GPIO_LOOP="CHIP:BUTTON:DRIVER:LED" names
// a chip (gpiochip0), the button's input line, an output line wired to the button
// line (or a gpio-sim line whose pull the test cannot set: wire it), and a free line
// for the LED. The test drives the output as a finger would and checks that the
// button starts, marks and stops a drive through the kernel's GPIO character device.
//
//	go test -tags integration -run TestChipLoopback ./record/buttons/
func TestChipLoopback(t *testing.T) {
	spec := os.Getenv("ROADLOG_GPIO_LOOP")
	if spec == "" {
		t.Skip("ROADLOG_GPIO_LOOP is not set (CHIP:BUTTON:DRIVER:LED with DRIVER wired to BUTTON)")
	}
	var chipName string
	var button, driver, led int
	parts := strings.Split(spec, ":")
	if len(parts) != 4 {
		t.Fatalf("ROADLOG_GPIO_LOOP=%q: want CHIP:BUTTON:DRIVER:LED", spec)
	}
	chipName = parts[0]
	if _, err := fmt.Sscanf(parts[1]+" "+parts[2]+" "+parts[3], "%d %d %d", &button, &driver, &led); err != nil {
		t.Fatalf("ROADLOG_GPIO_LOOP=%q: %v", spec, err)
	}
	chip := Chip{Name: chipName}
	finger, err := chip.Output(driver, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer finger.Close()

	// raw edges first: the kernel reports both, in order, with timestamps
	edges := make(chan Edge, 16)
	w, err := chip.WatchButton(button, 0, func(e Edge) { edges <- e })
	if err != nil {
		t.Fatal(err)
	}
	finger.SetValue(1)
	time.Sleep(50 * time.Millisecond)
	finger.SetValue(0)
	first, second := <-edges, <-edges
	w.Close()
	if !first.Pressed || second.Pressed || second.At <= first.At {
		t.Fatalf("edges %+v %+v", first, second)
	}

	e := newEngine(t)
	g := &GPIO{Lines: chip, Button: button, MarkButton: -1, LED: led, Recorder: e, Log: quiet()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Run(ctx) }()
	time.Sleep(100 * time.Millisecond) // the line request is in place
	pressFor := func(d time.Duration) {
		finger.SetValue(1)
		time.Sleep(d)
		finger.SetValue(0)
		time.Sleep(200 * time.Millisecond)
	}
	pressFor(100 * time.Millisecond)
	waitFor(t, "recording", func() bool { return e.State() == record.Recording })
	d := e.Current()
	pressFor(100 * time.Millisecond)
	pressFor(1300 * time.Millisecond)
	<-d.Done()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := lifecycle(t, e.Options().Root)
	if len(got) != 3 || !strings.HasPrefix(got[0], "record_start/gpio") || !strings.HasPrefix(got[1], "mark/gpio") || !strings.HasPrefix(got[2], "record_stop/gpio") {
		t.Fatalf("events %q", got)
	}
}
