package can

import (
	"context"
	"errors"
	"fmt"

	"roadlog/acquire/can/canframe"
	"roadlog/acquire/can/socketcan"
	"roadlog/schema"
	"roadlog/sync/clock"
)

// SocketCAN reads a Linux CAN interface.
type SocketCAN struct{ *bus }

// Run reads frames until ctx ends.
func (s *SocketCAN) Run(ctx context.Context, sink schema.Sink) error {
	conn, err := socketcan.Dial(s.cfg.Device, socketcan.Options{FD: s.cfg.FD, ErrorFrames: s.cfg.ErrorFrames,
		Filters: s.cfg.Filters})
	if err != nil {
		return fmt.Errorf("open bus %s: %w", s.cfg.Bus, err)
	}
	return s.read(ctx, sink, conn)
}

// frameReader is what read needs of a socketcan.Conn.
type frameReader interface {
	Read(*canframe.Frame, *socketcan.Meta) error
	Close() error
}

func (s *SocketCAN) read(ctx context.Context, sink schema.Sink, conn frameReader) error {
	s.start(sink)
	defer s.stop()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		if stop() {
			conn.Close()
		}
	}()
	var f canframe.Frame
	var m socketcan.Meta
	for {
		err := conn.Read(&f, &m)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, socketcan.ErrFrameSize), errors.Is(err, socketcan.ErrControl):
			s.bad(err)
			continue
		default:
			return fmt.Errorf("read bus %s: %w", s.cfg.Bus, err)
		}
		if m.HasDrops {
			s.kernelDrops(m.Drops)
		}
		host := clock.HostNow()
		switch {
		case m.Hardware != 0: // the controller's own clock
			s.frame(&f, m.Hardware, host, func() int64 { return s.st.Counter(m.Hardware, host) })
		case m.Software != 0: // the kernel's receive stamp, CLOCK_REALTIME
			s.frame(&f, m.Software, host, func() int64 { return s.st.Realtime(m.Software) })
		default:
			s.frame(&f, 0, host, func() int64 { return s.st.Arrival(host) })
		}
	}
}
