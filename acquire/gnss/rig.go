package gnss

import (
	"context"
	"fmt"

	"roadlog/rig"
	"roadlog/schema"
	"roadlog/sync/clock"
)

// Source is what every GNSS source here is: Serial, TCP, UDP and GPSD.
type Source interface {
	Run(ctx context.Context, sink schema.Sink) error
	Stats() Stats
}

// FromRig returns the source a rig file's GNSS entry describes, stamping rows with tb
// (nil: a free-running system timebase). The entry's PPS line, if any, is a source of
// its own (package pps).
func FromRig(g rig.GNSS, tb clock.Timebase) (Source, error) {
	cfg := Config{Name: g.Name, Raw: g.Raw, MaxLine: g.MaxLine, Timebase: tb}
	switch g.Kind {
	case rig.GNSSSerial:
		return &Serial{Port: g.Port, Baud: g.Baud, Config: cfg}, nil
	case rig.GNSSTCP:
		return &TCP{Address: g.URL, Config: cfg}, nil
	case rig.GNSSUDP:
		return &UDP{Address: g.URL, Config: cfg}, nil
	case rig.GNSSGPSD:
		return &GPSD{Address: g.URL, Config: cfg}, nil
	}
	return nil, fmt.Errorf("make gnss source %s: %w: kind %q", g.Name, rig.ErrInvalid, g.Kind)
}
