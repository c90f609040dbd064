package imu

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"go.bug.st/serial"

	"roadlog/internal/box"
	"roadlog/rig"
	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/devclock"
)

// VectorNav reads a VectorNav sensor's ASCII output ($VNIMU or $VNYMR) on a serial
// port. The sensor has no time of its own in these messages: rows are stamped with
// their arrival, less the time a line takes on the wire (a $VNIMU line is about 120
// bytes); a USB-serial adapter delivers bytes in bursts (FTDI's latency timer: 16 ms
// by default), which bounds the error (sync rows under imu/<Name>).
type VectorNav struct {
	Port     string         // e.g. /dev/ttyUSB0
	Baud     int            // 0: 115200
	Name     string         // the Sensor column
	Rate     float64        // output rate to set, Hz ($VNWRG,07); 0: leave the sensor's
	Axes     rig.AxisMap    // sensor → vehicle axes (zero value: identity)
	Timebase clock.Timebase // nil: clock.NewSystem()

	stats box.Box[Stats]
	st    *devclock.Stamps // the clock model, made by the first Run (runs never overlap)
}

// Stats returns the counters of the current or last Run.
func (v *VectorNav) Stats() Stats { return v.stats.Load() }

// Run reads the port until ctx ends (nil) or the port fails or vanishes (an error).
func (v *VectorNav) Run(ctx context.Context, sink schema.Sink) error {
	baud := v.Baud
	if baud == 0 {
		baud = 115200
	}
	port, err := serial.Open(v.Port, &serial.Mode{BaudRate: baud})
	if err != nil {
		return fmt.Errorf("open imu port %s: %w", v.Port, err)
	}
	if v.Rate > 0 {
		cmd := AppendVNCommand(nil, "VNWRG,07,"+strconv.Itoa(int(math.Round(v.Rate))))
		if _, err := port.Write(cmd); err != nil {
			port.Close()
			return fmt.Errorf("set imu rate on %s: %w", v.Port, err)
		}
	}
	tb := v.Timebase
	if tb == nil {
		tb = clock.NewSystem()
	}
	if v.st == nil {
		v.st = devclock.NewStamps(devclock.StampsConfig{Name: "imu/" + v.Name,
			Latency: time.Duration(120 * 10 * int64(time.Second) / int64(baud)), Jitter: 16 * time.Millisecond}, tb)
	}
	defer func() { v.st.Flush(clock.HostNow(), sink) }()
	axes := axesOrIdentity(v.Axes)
	var st Stats
	var lines vnLines
	handle := func(b []byte, thost int64) {
		st.Reads++
		lines.feed(b, func(line []byte) {
			s, err := ParseVN(line)
			var se *SensorError
			switch {
			case errors.As(err, &se):
				st.Errors++
				sink.Publish(schema.NewEvent(tb.Ref(thost), schema.EvSourceError, schema.SevWarn, v.Name, se.Error()))
				return
			case errors.Is(err, ErrVNUnknown):
				st.Unknown++
				return
			case err != nil:
				st.Bad++
				return
			}
			sink.Publish(vnRow(s, v.Name, axes, v.st.Arrival(thost), thost))
			st.Samples++
			st.LastHost = thost
		})
		v.st.Tick(thost, sink)
		v.stats.Store(st)
	}
	err = readLoop(ctx, port, 4096, handle)
	ev := schema.NewEvent(tb.Ref(clock.HostNow()), schema.EvSourceStats, schema.SevInfo, v.Name,
		fmt.Sprintf("%d samples, %d bad lines, %d sensor errors, %d other messages, %d noise bytes",
			st.Samples, st.Bad, st.Errors, st.Unknown, lines.noise))
	ev.Count = st.Bad
	sink.Publish(ev)
	if err != nil {
		return fmt.Errorf("read imu port %s: %w", v.Port, err)
	}
	return nil
}

// vnRow converts a sample to a row: gauss → µT, axes mapped.
func vnRow(s VNSample, name string, axes rig.AxisMap, t, thost int64) *schema.IMU {
	a, g := axes.Apply(s.Accel), axes.Apply(s.Gyro)
	m := axes.Apply([3]float32{s.Mag[0] * 100, s.Mag[1] * 100, s.Mag[2] * 100})
	return &schema.IMU{T: t, THost: thost, Sensor: name,
		AX: a[0], AY: a[1], AZ: a[2], GX: g[0], GY: g[1], GZ: g[2], Temp: s.Temp, MX: m[0], MY: m[1], MZ: m[2]}
}
