package control

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"roadlog/acquire/sim"
	"roadlog/schema"
)

// BenchmarkStatusLatency measures sensor event → page: a source publishes an event,
// and the time until a WebSocket client (what the page is) holds a status that shows
// it. ns/op is that latency. min-push is the least time between two pushes (the
// default 20 ms keeps a burst of events from flooding the tablet): an event 50 ms
// after the last one (gap=50ms) is pushed at once, back-to-back events (gap=0) wait
// for the rest of it; min-push=1ns shows the cost of the push itself.
func BenchmarkStatusLatency(b *testing.B) {
	for _, bc := range []struct{ minPush, gap time.Duration }{
		{20 * time.Millisecond, 50 * time.Millisecond}, {20 * time.Millisecond, 0}, {time.Nanosecond, 0}} {
		b.Run(fmt.Sprintf("min-push=%v/gap=%v", bc.minPush, bc.gap), func(b *testing.B) {
			st := newStation(b, stationConfig{noSim: true, opt: Options{MinPushInterval: bc.minPush}})
			ctx := context.Background()
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(st.hs.URL, "http")+"/api/ws", nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.CloseNow()
			c.SetReadLimit(1 << 22)
			if _, _, err := c.Read(ctx); err != nil {
				b.Fatal(err)
			}
			// the server's event tap starts with Run: wait until an event wakes a push
			waitFor(b, "the event tap", func() bool {
				st.srv.live.mu.Lock()
				defer st.srv.live.mu.Unlock()
				return st.srv.live.taps["events"] != nil
			})
			var worst time.Duration
			i := 0
			for b.Loop() {
				if bc.gap > 0 {
					b.StopTimer()
					time.Sleep(bc.gap)
					b.StartTimer()
				}
				i++
				msg := fmt.Sprintf("bench event %d", i)
				t0 := time.Now()
				st.eng.Publish(schema.NewEvent(st.eng.Now(), schema.EvSourceDown, schema.SevWarn, "bench", msg))
				for {
					_, data, err := c.Read(ctx)
					if err != nil {
						b.Fatal(err)
					}
					var s struct {
						Events []EventLine `json:"events"`
					}
					if err := json.Unmarshal(data, &s); err != nil {
						b.Fatal(err)
					}
					if n := len(s.Events); n > 0 && s.Events[n-1].Message == msg {
						break
					}
				}
				worst = max(worst, time.Since(t0))
			}
			b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
			c.Close(websocket.StatusNormalClosure, "")
		})
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkIdleCPU measures the daemon's CPU use while it is not recording, in CPU
// seconds per wall second (getrusage of the process): each op is one wall second.
// sources=none is the daemon alone; sources=sim adds the simulated rig in real time
// (4 cameras 640x360 at 30 fps, each JPEG encoded once: StaticFrames, so rendering
// is left out); clients=1 adds a page on the WebSocket; control=off is the peer: the
// same engine and rig with no control server at all, so the difference is what the
// driver's station costs.
func BenchmarkIdleCPU(b *testing.B) {
	for _, c := range []struct {
		sources string
		control bool
		clients int
	}{{"none", true, 0}, {"none", true, 1}, {"sim", false, 0}, {"sim", true, 0}, {"sim", true, 1}} {
		name := fmt.Sprintf("sources=%s/control=on/clients=%d", c.sources, c.clients)
		if !c.control {
			name = fmt.Sprintf("sources=%s/control=off", c.sources)
		}
		b.Run(name, func(b *testing.B) {
			st := newStation(b, stationConfig{noSim: true, noRun: !c.control})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.sources == "sim" {
				rig, err := sim.New(sim.Config{Cameras: 4, Speed: 1, StaticFrames: true})
				if err != nil {
					b.Fatal(err)
				}
				done := make(chan struct{})
				go func() { rig.Run(ctx, st.eng); close(done) }()
				defer func() { cancel(); <-done }()
			}
			for range c.clients {
				ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(st.hs.URL, "http")+"/api/ws", nil)
				if err != nil {
					b.Fatal(err)
				}
				ws.SetReadLimit(1 << 22)
				go func() {
					for {
						if _, _, err := ws.Read(ctx); err != nil {
							return
						}
					}
				}()
				defer ws.CloseNow()
			}
			time.Sleep(time.Second) // settle
			var cpu, wall float64
			for b.Loop() {
				c0, w0 := cpuSeconds(), time.Now()
				time.Sleep(time.Second)
				cpu += cpuSeconds() - c0
				wall += time.Since(w0).Seconds()
			}
			b.ReportMetric(cpu/wall, "cpu-s/s")
		})
	}
}
