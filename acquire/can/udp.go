package can

import (
	"context"
	"errors"
	"fmt"
	"net"

	"roadlog/acquire/can/canframe"
	"roadlog/acquire/can/cannelloni"
	"roadlog/schema"
	"roadlog/sync/clock"
)

// UDP listens for a CAN-over-UDP gateway speaking the cannelloni protocol.
type UDP struct {
	*bus
	bound chan net.Addr // tests: receives the bound address
}

// Run receives datagrams until ctx ends.
func (s *UDP) Run(ctx context.Context, sink schema.Sink) error {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", s.cfg.Address)
	if err != nil {
		return fmt.Errorf("open bus %s: %w", s.cfg.Bus, err)
	}
	if s.bound != nil {
		s.bound <- pc.LocalAddr()
	}
	s.start(sink)
	defer s.stop()
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer func() {
		if stop() {
			pc.Close()
		}
	}()
	buf := make([]byte, 64<<10)
	var lastSeq uint8
	haveSeq := false
	deliver := func(f *canframe.Frame) {
		host := clock.HostNow()
		s.frame(f, 0, host, func() int64 { return s.st.Arrival(host) })
	}
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("read bus %s: %w", s.cfg.Bus, err)
			}
			s.bad(fmt.Errorf("read datagram: %w", err))
			continue
		}
		seq, err := cannelloni.Decode(buf[:n], deliver)
		if err != nil {
			s.bad(err)
			var de *cannelloni.DecodeError
			if errors.As(err, &de) && errors.Is(err, cannelloni.ErrHeader) {
				continue // no sequence number to trust
			}
		}
		if haveSeq {
			if gap := seq - lastSeq - 1; gap != 0 && gap < 128 {
				s.count(func(st *Stats) { st.SeqGaps += int64(gap) })
			}
		}
		lastSeq, haveSeq = seq, true
	}
}
