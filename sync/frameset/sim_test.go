package frameset

import (
	"fmt"
	"testing"
	"time"

	"roadlog/schema"
	"roadlog/sync/simclock"
)

const sec0 = int64(1796026500)

type fsCase struct {
	name    string
	cams    simclock.Cameras
	seconds int64
}

func rig(n int, seed uint64) simclock.Cameras {
	return simclock.Cameras{N: n, Rate: 30, Phase: 5e6, Latency: 3e6, Jitter: 1e6,
		Drop: 0.01, Skip: 0.001, Dup: 0.0005, Reorder: 0.001, Seed: seed}
}

var fsCases = func() []fsCase {
	hour := rig(8, 1)
	hour.Restarts = []simclock.CameraRestart{{Camera: 3, At: (sec0 + 1800) * 1e9, Gap: 2e9}}
	dead := rig(4, 2)
	dead.Dead = []int{2}
	late := rig(4, 3)
	late.Latency = 20e6 // end-of-readout stamps: more than half a period after the trigger
	return []fsCase{
		{name: "cams=8/1h/drop=1%/reorder=0.1%/restart", cams: hour, seconds: 3600},
		{name: "cams=4/dead-camera", cams: dead, seconds: 60},
		{name: "cams=4/latency=20ms", cams: late, seconds: 60},
	}
}()

type fsResult struct {
	frames, misassigned, sets, badSets int
	stats                              Stats
	events                             []*schema.Event
}

func runFS(tc fsCase) fsResult {
	var r fsResult
	// truth rides in the frame's PTS (unused here); delivered[(trigger−first)·N + camera]
	id0 := sec0 * int64(tc.cams.Rate)
	delivered := make([]bool, (tc.seconds+1)*int64(tc.cams.Rate)*int64(tc.cams.N))
	key := func(id, c int64) int64 { return (id-id0)*int64(tc.cams.N) + c }
	a := New(Config{Trigger: Trigger{Rate: tc.cams.Rate, Phase: time.Duration(tc.cams.Phase)}, Cameras: tc.cams.N,
		Latency: time.Duration(tc.cams.Latency), Timebase: identity{}}, func(s *Set) {
		r.sets++
		ok := true
		for _, m := range s.Members {
			if m.Frame.PTS != s.TriggerID {
				ok = false
			}
		}
		for _, c := range s.Missing {
			if delivered[key(s.TriggerID, int64(c))] {
				ok = false // a camera said missing though its frame came in time
			}
		}
		if !ok {
			r.badSets++
		}
	})
	sink := schema.SinkFunc(func(s schema.Sample) {
		if e, ok := s.(*schema.Event); ok {
			r.events = append(r.events, e)
		}
	})
	next := int64(0)
	tc.cams.Run(sec0, sec0+tc.seconds, func(f simclock.Frame) {
		vf := &schema.VideoFrame{Frame: schema.Frame{T: f.T, Camera: uint8(f.Camera), Seq: f.Seq, PTS: f.Trigger}}
		id := a.Add(vf)
		r.frames++
		if id != f.Trigger {
			r.misassigned++
		}
		if !f.Dup {
			delivered[key(f.Trigger, int64(f.Camera))] = true
		}
		if f.T > next {
			a.Tick(f.T, sink)
			next = f.T + 1e9
		}
	})
	a.Flush()
	a.Tick(next, sink)
	r.stats = a.Stats()
	return r
}

func count(evs []*schema.Event, code schema.EventCode, cat string) (n int64) {
	for _, e := range evs {
		if e.Code == code && (cat == "" || e.Category == cat) {
			n++
		}
	}
	return n
}

// TestFrameSets assembles simulated cameras and checks every assignment against truth.
func TestFrameSets(t *testing.T) {
	t.Logf("%-40s %9s %7s %7s %8s %8s %6s %5s %8s", "case", "frames", "misasg", "sets", "complete", "missing", "dups", "late", "restarts")
	for _, tc := range fsCases {
		r := runFS(tc)
		s := r.stats
		t.Logf("%-40s %9d %7d %7d %8d %8d %6d %5d %8d", tc.name, r.frames, r.misassigned, r.sets, s.Complete, s.Missing, s.Dups, s.Late, s.Restarts)
		if r.misassigned != 0 {
			t.Errorf("%s: %d frames assigned to the wrong trigger", tc.name, r.misassigned)
		}
		if r.badSets != 0 {
			t.Errorf("%s: %d sets with a wrong member or a wrong missing camera", tc.name, r.badSets)
		}
		if want := int64(len(tc.cams.Restarts)); s.Restarts != want || count(r.events, schema.EvCameraRestart, "") != want {
			t.Errorf("%s: %d restarts counted, want %d", tc.name, s.Restarts, want)
		}
		if tc.cams.Dup > 0 && (s.Dups == 0 || count(r.events, schema.EvFrameDup, "") == 0) {
			t.Errorf("%s: duplicates not reported", tc.name)
		}
		if len(tc.cams.Dead) > 0 && count(r.events, schema.EvFrameMissing, "down") == 0 {
			t.Errorf("%s: the dead camera was not reported down", tc.name)
		}
	}
}

func BenchmarkAssemble(b *testing.B) {
	tc := fsCases[0]
	var frames []simclock.Frame
	tc.cams.Run(sec0, sec0+60, func(f simclock.Frame) { frames = append(frames, f) })
	b.Run(fmt.Sprintf("cams=%d", tc.cams.N), func(b *testing.B) {
		vfs := make([]schema.VideoFrame, len(frames))
		b.ReportAllocs()
		i := 0
		var a *Assembler
		for b.Loop() {
			if i%len(frames) == 0 {
				a = New(Config{Trigger: Trigger{Rate: 30, Phase: 5 * time.Millisecond}, Cameras: tc.cams.N, Latency: 3 * time.Millisecond}, nil)
			}
			f := frames[i%len(frames)]
			vf := &vfs[i%len(frames)]
			vf.T, vf.Camera, vf.Seq = f.T, uint8(f.Camera), f.Seq
			a.Add(vf)
			i++
		}
	})
}

// identity is a timebase whose host time is the reference (the simulation's frames
// are already on it).
type identity struct{}

func (identity) Ref(h int64) int64 { return h }
