package gnss

import (
	"context"
	"fmt"

	"go.bug.st/serial"

	"roadlog/schema"
)

// Serial reads NMEA 0183 from a serial port (any baud rate the port supports).
type Serial struct {
	Port string // device, e.g. /dev/ttyACM0
	Baud int    // speed (0: 9600)
	Config

	stats statsBox
}

// Run reads the port until ctx ends (nil) or the port fails or vanishes (an error
// wrapping the port's).
func (s *Serial) Run(ctx context.Context, sink schema.Sink) error {
	baud := s.Baud
	if baud == 0 {
		baud = 9600
	}
	port, err := serial.Open(s.Port, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return fmt.Errorf("open gnss port %s: %w", s.Port, err)
	}
	if err := newPipeline(s.Config, sink, &s.stats).run(ctx, port, false); err != nil {
		return fmt.Errorf("read gnss port %s: %w", s.Port, err)
	}
	return nil
}

// Stats returns the counters of the current or last Run.
func (s *Serial) Stats() Stats { return s.stats.load() }
