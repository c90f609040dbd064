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
// or as fast as possible (Rate 0). t_device is the log's timestamp; t is that
// timestamp mapped onto the reference through the replay (as a clock running Rate
// times faster than the host's), or the time of publication when the file is played
// as fast as possible. Run returns nil at the end of the file.
type Candump struct{ *bus }

// Run replays the file until its end or until ctx ends.
func (s *Candump) Run(ctx context.Context, sink schema.Sink) error {
	f, err := os.Open(s.cfg.Device)
	if err != nil {
		return fmt.Errorf("open bus %s: %w", s.cfg.Bus, err)
	}
	defer f.Close()
	s.start(sink)
	defer s.stop()
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
		host := clock.HostNow()
		if s.cfg.Rate > 0 && l.HasTime {
			s.frame(&l.Frame, ts, host, func() int64 { return s.st.Counter(ts, host) })
		} else {
			s.frame(&l.Frame, ts, host, func() int64 { return s.st.Arrival(host) })
		}
	}
}
