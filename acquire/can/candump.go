package can

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"roadlog/acquire/can/candump"
	"roadlog/schema"
	"roadlog/sync/clock"
)

// Candump replays a candump log file: in real time (Rate 1), faster (Rate > 1)
// or as fast as possible (Rate 0). t is the time of publication; t_device is the
// log's timestamp. Run returns nil at the end of the file.
type Candump struct{ *bus }

// Run replays the file until its end or until ctx ends.
func (s *Candump) Run(ctx context.Context, sink schema.Sink) error {
	f, err := os.Open(s.cfg.Device)
	if err != nil {
		return fmt.Errorf("open bus %s: %w", s.cfg.Bus, err)
	}
	defer f.Close()
	s.start(sink)
	defer s.report()
	r := candump.NewReader(f)
	r.Path = s.cfg.Device
	var l candump.Line
	var logStart, hostStart int64
	first := true
	var timer *time.Timer
	for {
		if err := ctx.Err(); err != nil {
			return nil
		}
		err := r.Read(&l)
		if err == io.EOF {
			return nil
		}
		var se *candump.SyntaxError
		if errors.As(err, &se) {
			s.bad(err)
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", s.cfg.Device, err)
		}
		if l.Kind != candump.KindFrame {
			continue
		}
		ts := l.T()
		if s.cfg.Rate > 0 && l.HasTime {
			if first {
				logStart, hostStart, first = ts, clock.HostNow(), false
			}
			due := hostStart + int64(float64(ts-logStart)/s.cfg.Rate)
			if wait := due - clock.HostNow(); wait > 0 {
				if timer == nil {
					timer = time.NewTimer(time.Duration(wait))
					defer timer.Stop()
				} else {
					timer.Reset(time.Duration(wait))
				}
				select {
				case <-ctx.Done():
					return nil
				case <-timer.C:
				}
			}
		}
		s.frame(&l.Frame, ts)
	}
}
