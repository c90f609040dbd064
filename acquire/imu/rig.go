package imu

import (
	"context"
	"fmt"

	"roadlog/rig"
	"roadlog/schema"
	"roadlog/sync/clock"
)

// Source is what every IMU source here is: IIO and VectorNav.
type Source interface {
	Run(ctx context.Context, sink schema.Sink) error
	Stats() Stats
}

// FromRig returns the source a rig file's IMU entry describes, stamping rows with tb
// (nil: a free-running system timebase).
func FromRig(m rig.IMU, tb clock.Timebase) (Source, error) {
	axes, err := m.Axes.Map()
	if err != nil {
		return nil, fmt.Errorf("make imu source %s: %w", m.Name, err)
	}
	switch m.Kind {
	case rig.IMUIIO:
		return &IIO{Device: m.Device, Name: m.Name, Rate: m.Rate, Buffer: m.Buffer, Axes: axes, Timebase: tb}, nil
	case rig.IMUSerial:
		if m.Protocol != "" && m.Protocol != rig.DefaultIMUProtocol {
			return nil, fmt.Errorf("make imu source %s: %w: protocol %q", m.Name, rig.ErrInvalid, m.Protocol)
		}
		return &VectorNav{Port: m.Port, Baud: m.Baud, Name: m.Name, Rate: m.Rate, Axes: axes, Timebase: tb}, nil
	}
	return nil, fmt.Errorf("make imu source %s: %w: kind %q", m.Name, rig.ErrInvalid, m.Kind)
}
