package can

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"go.bug.st/serial"

	"roadlog/acquire/can/canframe"
	"roadlog/acquire/can/slcan"
	"roadlog/schema"
	"roadlog/sync/clock"
)

// slcanMaxLine caps a line from an adapter: the longest frame (an extended CAN FD
// frame of 64 bytes with a timestamp) has 1+8+1+128+4 = 142 bytes.
const slcanMaxLine = 160

// SLCAN reads a serial-line CAN adapter speaking Lawicel ASCII.
type SLCAN struct{ *bus }

// Run opens the port, sets the bitrate, turns timestamps on, opens the channel and
// reads frames until ctx ends; then it closes the channel.
func (s *SLCAN) Run(ctx context.Context, sink schema.Sink) error {
	baud := s.cfg.Baud
	if baud == 0 {
		baud = 115200
	}
	port, err := serial.Open(s.cfg.Device, &serial.Mode{BaudRate: baud})
	if err != nil {
		return fmt.Errorf("open bus %s: %w", s.cfg.Bus, err)
	}
	return s.run(ctx, sink, port)
}

func (s *SLCAN) setup(w io.Writer) error {
	cmds := []string{"C\r"}
	if s.cfg.Bitrate != 0 {
		c, err := slcan.BitrateCommand(s.cfg.Bitrate)
		if err != nil {
			return err
		}
		cmds = append(cmds, c)
	}
	if s.cfg.DataBitrate != 0 {
		c, err := slcan.DataBitrateCommand(s.cfg.DataBitrate)
		if err != nil {
			return err
		}
		cmds = append(cmds, c)
	}
	cmds = append(cmds, "Z1\r", "O\r")
	for _, c := range cmds {
		if _, err := io.WriteString(w, c); err != nil {
			return fmt.Errorf("send %q: %w", c[:len(c)-1], err)
		}
	}
	return nil
}

func (s *SLCAN) run(ctx context.Context, sink schema.Sink, port io.ReadWriteCloser) error {
	if err := s.setup(port); err != nil {
		port.Close()
		return fmt.Errorf("set up bus %s: %w", s.cfg.Bus, err)
	}
	s.start(sink)
	defer s.stop()
	stop := context.AfterFunc(ctx, func() {
		io.WriteString(port, "C\r") // close the channel; the adapter stops sending
		port.Close()
	})
	defer func() {
		if stop() {
			port.Close()
		}
	}()
	br := bufio.NewReaderSize(port, 4096)
	line := make([]byte, 0, slcanMaxLine)
	var f canframe.Frame
	var lastMS uint16
	var wraps int64
	haveTS := false
	tooLong := false
	for {
		c, err := br.ReadByte()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("read bus %s: port closed: %w", s.cfg.Bus, io.ErrUnexpectedEOF)
			}
			return fmt.Errorf("read bus %s: %w", s.cfg.Bus, err)
		}
		switch c {
		case '\r', '\n', '\a':
		default:
			if len(line) == slcanMaxLine {
				tooLong = true
				continue
			}
			line = append(line, c)
			continue
		}
		if tooLong {
			s.bad(fmt.Errorf("slcan: line longer than %d bytes", slcanMaxLine))
			tooLong = false
			line = line[:0]
			continue
		}
		if !slcan.IsFrame(line) {
			// command answers ("" for OK, version and status lines) are not frames
			line = line[:0]
			continue
		}
		ms, hasTS, err := slcan.Parse(line, &f)
		if err != nil {
			s.bad(fmt.Errorf("%w in %q", err, line))
			line = line[:0]
			continue
		}
		line = line[:0]
		host := clock.HostNow()
		if !hasTS {
			s.frame(&f, 0, host, func() int64 { return s.st.Arrival(host) })
			continue
		}
		if haveTS && ms < lastMS {
			wraps++ // the adapter's millisecond counter wraps every 60 s
		}
		lastMS, haveTS = ms, true
		// the clock model unwraps the raw counter itself, by the host time between frames
		s.frame(&f, (wraps*60000+int64(ms))*1e6, host, func() int64 { return s.st.Counter(int64(ms), host) })
	}
}
