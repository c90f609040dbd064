package imu

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"roadlog/internal/box"
	"roadlog/rig"
	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/devclock"
)

// Defaults of IIO.
const (
	DefaultSysfsRoot = "/sys/bus/iio/devices"
	DefaultDevDir    = "/dev"
	DefaultIIOBuffer = 256 // samples the kernel buffer holds
)

// IIO reads a Linux IIO device in buffered mode.
type IIO struct {
	Device   string         // "iio:device0", a sysfs path, or the driver's name ("bmi088_accel")
	Name     string         // the Sensor column
	Rate     float64        // sampling frequency to set, Hz (0: leave the device's)
	Buffer   int            // kernel buffer length in samples (0: DefaultIIOBuffer)
	Trigger  string         // trigger to attach, e.g. "bmi088_accel-dev0" ("": leave as is)
	Axes     rig.AxisMap    // sensor → vehicle axes (zero value: identity)
	Timebase clock.Timebase // nil: clock.NewSystem()

	SysfsRoot string // where the devices are (default DefaultSysfsRoot)
	DevDir    string // where their nodes are (default DefaultDevDir)

	stats box.Box[Stats]
	st    *devclock.Stamps // the clock model, made by the first Run (runs never overlap)
}

// Stats counts what a source read.
type Stats struct {
	Samples  int64 // rows published
	Reads    int64 // reads from the device
	Bad      int64 // lines or records that could not be used (checksum, format)
	Errors   int64 // error messages the sensor sent
	Unknown  int64 // messages of a kind this package does not read
	LastHost int64 // host monotonic ns of the last sample
}

// Stats returns the counters of the current or last Run.
func (s *IIO) Stats() Stats { return s.stats.Load() }

// Run configures the device, enables its buffer and reads samples until ctx ends
// (nil) or the device fails (an error). The buffer is disabled again on the way out.
func (s *IIO) Run(ctx context.Context, sink schema.Sink) (err error) {
	root, devDir := s.SysfsRoot, s.DevDir
	if root == "" {
		root = DefaultSysfsRoot
	}
	if devDir == "" {
		devDir = DefaultDevDir
	}
	dir, node, err := resolveIIO(root, devDir, s.Device)
	if err != nil {
		return fmt.Errorf("find imu %s: %w", s.Device, err)
	}
	fs := sysfs{dir}
	buf := "buffer"
	if !fs.exists(buf) && fs.exists("buffer0") {
		buf = "buffer0"
	}
	if err := fs.write(buf+"/enable", "0"); err != nil { // configuration needs it off
		return err
	}
	lay, err := fs.discover()
	if err != nil {
		return fmt.Errorf("discover imu %s: %w", s.Device, err)
	}
	rate := s.Rate
	if rate > 0 {
		if err := setRate(fs, rate); err != nil {
			return err
		}
	}
	if v, ok, _ := fs.float("sampling_frequency", "in_accel_sampling_frequency"); ok {
		rate = v // what the device chose
	}
	monotonic := false
	if fs.exists("current_timestamp_clock") {
		if err := fs.write("current_timestamp_clock", "monotonic"); err != nil {
			return err
		}
		v, _ := fs.read("current_timestamp_clock")
		monotonic = v == "monotonic"
	}
	if s.Trigger != "" {
		if err := fs.write("trigger/current_trigger", s.Trigger); err != nil {
			return err
		}
	}
	length := s.Buffer
	if length <= 0 {
		length = DefaultIIOBuffer
	}
	if err := fs.write(buf+"/length", strconv.Itoa(length)); err != nil {
		return err
	}
	if err := fs.write(buf+"/enable", "1"); err != nil {
		return err
	}
	defer func() {
		if derr := fs.write(buf+"/enable", "0"); derr != nil && err == nil && ctx.Err() == nil {
			err = derr
		}
	}()
	f, err := os.Open(node)
	if err != nil {
		return fmt.Errorf("open imu %s: %w", node, err)
	}
	tb := s.Timebase
	if tb == nil {
		tb = clock.NewSystem()
	}
	if s.st == nil {
		// IIO stamps a sample in the driver's data-ready interrupt: tens of µs late
		s.st = devclock.NewStamps(devclock.StampsConfig{Name: "imu/" + s.Name, Kernel: 50 * time.Microsecond,
			Jitter: 2 * time.Millisecond}, tb)
	}
	r := &iioReader{name: s.Name, lay: lay, axes: axesOrIdentity(s.Axes), tb: tb, st: s.st, sink: sink,
		monotonic: monotonic, box: &s.stats}
	defer func() { s.st.Flush(clock.HostNow(), sink) }()
	if rate > 0 {
		r.period = int64(1e9 / rate)
	}
	sink.Publish(schema.NewEvent(tb.Ref(clock.HostNow()), schema.EvConfig, schema.SevInfo, s.Name, describe(dir, lay, rate, monotonic)))
	if err := readLoop(ctx, f, lay.Size*64, r.chunk); err != nil {
		return fmt.Errorf("read imu %s: %w", node, err)
	}
	return nil
}

func setRate(fs sysfs, rate float64) error {
	v := strconv.FormatFloat(rate, 'f', -1, 64)
	wrote := false
	for _, n := range []string{"sampling_frequency", "in_accel_sampling_frequency", "in_anglvel_sampling_frequency"} {
		if fs.exists(n) {
			if err := fs.write(n, v); err != nil {
				return err
			}
			wrote = true
		}
	}
	if !wrote {
		return fmt.Errorf("set iio sampling frequency: %w: the device has no sampling_frequency attribute", ErrSysfs)
	}
	return nil
}

func describe(dir string, lay Layout, rate float64, monotonic bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "iio %s: %g Hz, %d-byte records:", dir, rate, lay.Size)
	for _, c := range lay.Channels {
		fmt.Fprintf(&b, " %s@%d(%s×%g)", c.Name, c.Offset, c.Format, c.Scale)
	}
	if monotonic {
		b.WriteString("; kernel timestamps on CLOCK_MONOTONIC")
	}
	return b.String()
}

func axesOrIdentity(m rig.AxisMap) rig.AxisMap {
	if m.Sign == [3]float32{} {
		return rig.Identity
	}
	return m
}

// iioReader turns records into rows.
type iioReader struct {
	name      string
	lay       Layout
	axes      rig.AxisMap
	tb        clock.Timebase
	st        *devclock.Stamps
	sink      schema.Sink
	monotonic bool  // the timestamp channel is on the host monotonic clock (else CLOCK_REALTIME)
	period    int64 // ns between samples (0: unknown)
	rest      []byte
	stats     Stats
	box       *box.Box[Stats]
}

func (r *iioReader) chunk(b []byte, thost int64) {
	r.stats.Reads++
	if len(r.rest) > 0 {
		b = append(r.rest, b...)
		r.rest = nil
	}
	n := len(b) / r.lay.Size
	for i := range n {
		rec := b[i*r.lay.Size : (i+1)*r.lay.Size]
		back := int64(0)
		if r.period > 0 {
			back = int64(n-1-i) * r.period // earlier records of one read are older
		}
		r.sink.Publish(r.row(rec, thost, back))
	}
	if tail := b[n*r.lay.Size:]; len(tail) > 0 {
		r.rest = append([]byte(nil), tail...)
	}
	r.stats.LastHost = thost
	r.box.Store(r.stats)
	r.st.Tick(thost, r.sink)
}

func (r *iioReader) row(rec []byte, thost, back int64) *schema.IMU {
	nan := float32(math.NaN())
	acc, gyr, mag := [3]float32{nan, nan, nan}, [3]float32{nan, nan, nan}, [3]float32{nan, nan, nan}
	row := &schema.IMU{Sensor: r.name, THost: thost, Temp: nan}
	for _, c := range r.lay.Channels {
		if c.role == roleOther {
			continue
		}
		raw := c.Format.Value(rec[c.Offset:c.Offset+c.Format.Bytes()], 0)
		if c.role == roleTime {
			row.TDevice = raw
			continue
		}
		v := (float64(raw) + c.RawOffset) * c.Scale
		switch c.role {
		case roleAccel:
			acc[c.axis] = float32(v)
		case roleGyro:
			gyr[c.axis] = float32(v)
		case roleMagn:
			mag[c.axis] = float32(v * 100) // gauss → µT
		case roleTemp:
			row.Temp = float32(v / 1000) // milli °C → °C
		}
	}
	acc, gyr, mag = r.axes.Apply(acc), r.axes.Apply(gyr), r.axes.Apply(mag)
	row.AX, row.AY, row.AZ = acc[0], acc[1], acc[2]
	row.GX, row.GY, row.GZ = gyr[0], gyr[1], gyr[2]
	row.MX, row.MY, row.MZ = mag[0], mag[1], mag[2]
	switch {
	case row.TDevice != 0 && r.monotonic:
		row.T = r.st.Monotonic(row.TDevice)
	case row.TDevice != 0: // IIO's default clock, and the only one of kernels before 4.10
		row.T = r.st.Realtime(row.TDevice)
	default:
		row.T = r.st.Arrival(thost - back)
	}
	r.stats.Samples++
	return row
}

// readLoop reads f in a helper goroutine (unblocked by closing f when ctx ends) and
// hands each read to handle on this goroutine. It returns nil when ctx ends, else the
// read error (io.EOF when the device went away).
func readLoop(ctx context.Context, f reader, size int, handle func(b []byte, thost int64)) error {
	type chunk struct {
		b     []byte
		thost int64
	}
	chunks := make(chan chunk, 16)
	done := make(chan struct{})
	var readErr error
	go func() {
		defer close(chunks)
		buf := make([]byte, max(size, 512))
		for {
			n, err := f.Read(buf)
			if n > 0 {
				select {
				case chunks <- chunk{append([]byte(nil), buf[:n]...), clock.HostNow()}:
				case <-done:
					return
				}
			}
			if err != nil {
				readErr = err
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			close(done)
			_ = f.Close() // unblocks the read
			for range chunks {
			}
			return nil
		case c, ok := <-chunks:
			if !ok {
				f.Close()
				return readErr
			}
			handle(c.b, c.thost)
		}
	}
}

// reader is a device the read loop reads; Close must unblock a pending Read.
type reader interface {
	Read(p []byte) (int, error)
	Close() error
}
