package gnss

import (
	"context"
	"fmt"
	"net"
	"time"

	"roadlog/schema"
)

// DefaultDialTimeout bounds connecting to a TCP receiver or gpsd when DialTimeout is 0.
const DefaultDialTimeout = 5 * time.Second

// TCP reads NMEA 0183 from a TCP server: a receiver's network port, a serial-to-
// Ethernet box, an RTK rover's NMEA output.
type TCP struct {
	Address     string        // host:port to dial
	DialTimeout time.Duration // 0: DefaultDialTimeout
	Config

	stats statsBox
}

// Run connects and reads until ctx ends (nil) or the connection fails or the server
// closes it (an error; io.EOF for a clean close).
func (s *TCP) Run(ctx context.Context, sink schema.Sink) error {
	conn, err := dial(ctx, s.Address, s.DialTimeout)
	if err != nil {
		return fmt.Errorf("connect gnss %s: %w", s.Address, err)
	}
	if err := newPipeline(s.Config, sink, &s.stats).run(ctx, conn, false); err != nil {
		return fmt.Errorf("read gnss %s: %w", s.Address, err)
	}
	return nil
}

// Stats returns the counters of the current or last Run.
func (s *TCP) Stats() Stats { return s.stats.load() }

func dial(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	if timeout == 0 {
		timeout = DefaultDialTimeout
	}
	d := net.Dialer{Timeout: timeout}
	return d.DialContext(ctx, "tcp", addr)
}

// UDP receives NMEA 0183 datagrams on a local port. A datagram holds one or more whole
// sentences; its end also ends a sentence that lacks its line end.
type UDP struct {
	Address string // [host]:port to listen on, e.g. ":10110"
	Config

	stats statsBox
}

// Run listens until ctx ends (nil) or the socket fails.
func (s *UDP) Run(ctx context.Context, sink schema.Sink) error {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", s.Address)
	if err != nil {
		return fmt.Errorf("listen gnss %s: %w", s.Address, err)
	}
	if err := newPipeline(s.Config, sink, &s.stats).run(ctx, packetReader{pc}, true); err != nil {
		return fmt.Errorf("receive gnss %s: %w", s.Address, err)
	}
	return nil
}

// Stats returns the counters of the current or last Run.
func (s *UDP) Stats() Stats { return s.stats.load() }

// packetReader reads one datagram per Read.
type packetReader struct{ pc net.PacketConn }

func (r packetReader) Read(b []byte) (int, error) {
	n, _, err := r.pc.ReadFrom(b)
	return n, err
}

func (r packetReader) Close() error { return r.pc.Close() }
