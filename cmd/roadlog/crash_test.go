package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"roadlog/record/drive"
	"roadlog/schema"
)

// snapshot holds, per table, the t of every row readable on disk at one moment.
type snapshot map[schema.TableName][]int64

// readAll reads every row of every table of a drive (footerless files as streams):
// the t of every row by table, the frames by camera, and the device time stamps of the
// CAN frames by bus and id and of the IMU samples, each in t order.
func readAll(t *testing.T, dir string) (snapshot, map[string][]schema.Frame, map[string][]int64, []int64) {
	t.Helper()
	snap := snapshot{}
	frames := map[string][]schema.Frame{}
	can := map[string][]int64{}
	var imu []int64
	segs, err := drive.Segments(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		sd := filepath.Join(dir, drive.SegmentDir(s))
		for _, tb := range []schema.TableName{schema.TableCAN, schema.TableIMU, schema.TableGNSS, schema.TableFrames, schema.TableTruth, schema.TableEgo} {
			p := filepath.Join(sd, drive.TableFile(tb))
			if _, err := os.Stat(p); err != nil {
				continue
			}
			var err error
			switch tb {
			case schema.TableCAN:
				_, err = drive.ReadRows(p, schema.CANTable, func(r *schema.CAN) error {
					snap[tb] = append(snap[tb], r.T)
					k := fmt.Sprintf("%s/%x", r.Bus, r.ID)
					can[k] = append(can[k], r.TDevice)
					return nil
				})
			case schema.TableIMU:
				_, err = drive.ReadRows(p, schema.IMUTable, func(r *schema.IMU) error {
					snap[tb] = append(snap[tb], r.T)
					imu = append(imu, r.TDevice)
					return nil
				})
			case schema.TableGNSS:
				_, err = drive.ReadRows(p, schema.GNSSTable, func(r *schema.GNSS) error { snap[tb] = append(snap[tb], r.T); return nil })
			case schema.TableTruth:
				_, err = drive.ReadRows(p, schema.TruthTable, func(r *schema.Truth) error { snap[tb] = append(snap[tb], r.T); return nil })
			case schema.TableEgo:
				_, err = drive.ReadRows(p, schema.EgoTable, func(r *schema.Ego) error { snap[tb] = append(snap[tb], r.T); return nil })
			case schema.TableFrames:
				_, err = drive.ReadRows(p, schema.FramesTable, func(r *schema.Frame) error {
					snap[tb] = append(snap[tb], r.T)
					k := fmt.Sprintf("cam%d", r.Camera)
					frames[k] = append(frames[k], *r)
					return nil
				})
			}
			if err != nil {
				var ce *drive.CorruptionError
				if !strings.Contains(p, "frames") || !errorsAs(err, &ce) {
					t.Logf("read %s: %v", p, err)
				}
			}
		}
	}
	return snap, frames, can, imu
}

func errorsAs(err error, target **drive.CorruptionError) bool {
	ce, ok := err.(*drive.CorruptionError)
	if ok {
		*target = ce
	}
	return ok
}

// TestCrashRecovery kills `roadlog record --sim` with SIGKILL at random moments, then
// repairs and verifies the drive: every table readable, every row that was on disk
// before the kill still there, no gap inside the kept range of any stream.
func TestCrashRecovery(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	rng := rand.New(rand.NewPCG(42, uint64(time.Now().UnixNano())))
	for round := 0; round < rounds; round++ {
		root := t.TempDir()
		cmd := exec.Command(roadlogBin, "record", "--sim", "--cameras", "4", "--camera-size", "160x96",
			"--speed", "3", "--segment", "2s", "--flush", "200ms", "--out", root, "--quiet")
		cmd.Stderr = nil
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wait := time.Duration(150+rng.IntN(2500)) * time.Millisecond
		time.Sleep(wait)
		ents, _ := os.ReadDir(root)
		var dir string
		for _, e := range ents {
			if e.IsDir() {
				dir = filepath.Join(root, e.Name())
			}
		}
		var before snapshot
		if dir != "" {
			before, _, _, _ = readAll(t, dir)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if dir == "" {
			t.Logf("round %d: killed after %v, before the drive folder existed", round, wait)
			continue
		}
		rep, err := drive.Repair(dir, drive.Software{Name: "test"})
		if errors.Is(err, drive.ErrNotDrive) && len(before) == 0 {
			// the folder is made, then rig.yaml and the DBC files are written (each
			// synced), then the manifest: nothing was recorded yet
			t.Logf("round %d: killed after %v, before the drive's manifest existed", round, wait)
			continue
		}
		if err != nil {
			t.Fatalf("round %d: repair: %v", round, err)
		}
		vr, err := drive.Verify(dir)
		if err != nil {
			t.Fatalf("round %d: verify: %v", round, err)
		}
		if !vr.OK() {
			var b strings.Builder
			vr.Print(&b)
			t.Fatalf("round %d (killed after %v): verify failed after repair:\n%s", round, wait, b.String())
		}
		after, frames, can, imu := readAll(t, dir)
		// Everything that was on disk before the kill survived.
		for tb, ts := range before {
			have := map[int64]int{}
			for _, x := range after[tb] {
				have[x]++
			}
			for _, x := range ts {
				if have[x] == 0 {
					t.Fatalf("round %d: %s row at t=%d was on disk before the kill and is gone after repair", round, tb, x)
				}
				have[x]--
			}
		}
		// No gap inside the kept range: an IMU sample every 1 ms, each CAN message at its
		// period, frames seq contiguous per camera. The simulated sources have clocks of
		// their own, so the device time stamps say when each was taken (t is the
		// estimate of it, which moves with the reference's discipline): the steps are the
		// period within the device's drift, quantisation and the bus's queueing, and a
		// lost row would make one at least 1.5 periods long. The IMU's counter wraps.
		checkSteps(t, round, "imu", imu, int64(time.Millisecond), 1<<32*int64(time.Microsecond))
		for k, ts := range can {
			if len(ts) < 3 {
				continue
			}
			d := make([]int64, 0, len(ts)-1)
			for i := 1; i < len(ts); i++ {
				d = append(d, ts[i]-ts[i-1])
			}
			sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
			checkSteps(t, round, "can "+k, ts, (d[len(d)/2]+5e6)/1e7*1e7, 0) // periods are whole 10 ms
		}
		for cam, fs := range frames {
			sort.Slice(fs, func(i, j int) bool { return fs[i].Seq < fs[j].Seq })
			for i := 1; i < len(fs); i++ {
				if fs[i].Seq != fs[i-1].Seq+1 {
					t.Fatalf("round %d: %s seq %d follows %d", round, cam, fs[i].Seq, fs[i-1].Seq)
				}
			}
		}
		cut := 0
		for _, c := range rep.Cuts {
			if c.CutBytes > 0 || c.CutRows > 0 {
				cut++
			}
		}
		t.Logf("round %d: killed after %v: %d imu rows kept, %d files repaired (%d with bytes cut)", round, wait, len(imu), len(rep.Cuts), cut)
	}
}

// checkSteps checks that device time stamps ts, in the order the rows were taken,
// advance by step within half a step (modulo wrap, when the device counter wraps).
func checkSteps(t *testing.T, round int, name string, ts []int64, step, wrap int64) {
	t.Helper()
	for i := 1; i < len(ts); i++ {
		d := ts[i] - ts[i-1]
		if wrap > 0 {
			d = ((d % wrap) + wrap) % wrap
		}
		if d <= step/2 || d >= step+step/2 {
			t.Fatalf("round %d: %s: step of %v after device time %d (period %v)", round, name, time.Duration(d), ts[i-1], time.Duration(step))
		}
	}
}
