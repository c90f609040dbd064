// Package can turns CAN buses into can.arrow rows, and, through a DBC database,
// into ego.arrow rows, live. A bus is one of four kinds of source:
//
//   - socketcan: a Linux CAN interface (can0, vcan0), classic and FD, with kernel
//     or hardware receive timestamps, error frames and the kernel's drop counter
//   - slcan: a serial-line adapter speaking Lawicel ASCII (CANable, USBtin)
//   - candump: a candump log file, replayed in real time (or faster) or as fast as
//     possible
//   - udp: a CAN-over-UDP gateway speaking the cannelloni protocol
//
// New builds a Source from a Config; Run publishes until its context ends. Bad
// input never stops a source: every unreadable line, datagram or frame is
// counted, the first few are written as events, and the counters are published
// as EvSourceStats events.
package can

import (
	"errors"
	"fmt"
	"os"
	"time"

	"roadlog/acquire/can/socketcan"
	"roadlog/dbc"
	"roadlog/sync/clock"
	"roadlog/sync/devclock"
)

// Kind is the kind of a CAN source.
type Kind string

// Source kinds.
const (
	KindSocketCAN Kind = "socketcan"
	KindSLCAN     Kind = "slcan"
	KindCandump   Kind = "candump"
	KindUDP       Kind = "udp"
)

// Filter passes frames whose id matches ID under Mask (Invert: those that do
// not). SocketCAN applies filters in the kernel, other kinds in software.
type Filter = socketcan.Filter

// Config is one CAN bus of the rig.
type Config struct {
	// Bus names the bus in can.arrow and ego.arrow (e.g. "pt", "can0").
	Bus  string
	Kind Kind
	// Device is the CAN interface (socketcan), the serial port (slcan) or the log
	// file (candump).
	Device string
	// Address is the UDP address a udp source listens on, e.g. ":20000".
	Address string
	// Bitrate is the nominal bitrate in bit/s (slcan sets it with S0–S8; for
	// socketcan it is set with ip link and only recorded). DataBitrate is the CAN
	// FD data-phase bitrate (slcan: Y command).
	Bitrate     int
	DataBitrate int
	// Baud is the serial speed of an slcan adapter (0: 115200; USB adapters ignore it).
	Baud int
	// FD receives CAN FD frames (socketcan).
	FD bool
	// ErrorFrames receives error frames (socketcan).
	ErrorFrames bool
	Filters     []Filter
	// DBC lists the DBC files that decode the bus; Ego maps their signals to
	// ego.arrow columns.
	DBC []string
	Ego []dbc.EgoSignal
	// Rate paces a candump file: 1 replays in real time, 2 twice as fast, 0 as
	// fast as possible.
	Rate float64
	// StatsEvery is the period of EvSourceStats events (0: 10 s).
	StatsEvery time.Duration
}

// Errors of New, matched with errors.Is.
var (
	ErrConfig = errors.New("CAN bus configuration")
)

func (c *Config) validate() error {
	if c.Bus == "" {
		return fmt.Errorf("%w: bus name is empty", ErrConfig)
	}
	switch c.Kind {
	case KindSocketCAN, KindSLCAN, KindCandump:
		if c.Device == "" {
			return fmt.Errorf("%w: bus %s: %s needs a device", ErrConfig, c.Bus, c.Kind)
		}
	case KindUDP:
		if c.Address == "" {
			return fmt.Errorf("%w: bus %s: udp needs an address", ErrConfig, c.Bus)
		}
	default:
		return fmt.Errorf("%w: bus %s: unknown kind %q (socketcan, slcan, candump, udp)", ErrConfig, c.Bus, c.Kind)
	}
	if c.Rate < 0 {
		return fmt.Errorf("%w: bus %s: negative rate %v", ErrConfig, c.Bus, c.Rate)
	}
	if len(c.Ego) > 0 && len(c.DBC) == 0 {
		return fmt.Errorf("%w: bus %s: ego signals need a DBC file", ErrConfig, c.Bus)
	}
	return nil
}

// LoadDBC parses and compiles DBC files. It returns the database of everything
// that could be read, and the problems (an ErrorList per file, with file, line
// and column) joined; a file that cannot be opened is an error too.
func LoadDBC(paths []string) (*dbc.Database, []*dbc.File, error) {
	var files []*dbc.File
	var errs []error
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("read DBC: %w", err))
			continue
		}
		if st.Size() > dbc.DefaultMaxFileSize {
			errs = append(errs, fmt.Errorf("read DBC %s: %d bytes, more than %d", p, st.Size(), dbc.DefaultMaxFileSize))
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("read DBC: %w", err))
			continue
		}
		f, err := dbc.Parse(p, b)
		if err != nil {
			errs = append(errs, err)
		}
		files = append(files, f)
	}
	return dbc.Compile(files...), files, errors.Join(errs...)
}

// New returns the source of a bus. It fails only on configuration that cannot
// work (unknown kind, missing device, ego mapping naming unknown signals);
// problems inside DBC files are reported as events when the source runs. A nil
// timebase means a clock.NewSystem().
func New(cfg Config, tb clock.Timebase) (Source, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if tb == nil {
		tb = clock.NewSystem()
	}
	b := &bus{cfg: cfg, tb: tb, st: devclock.NewStamps(stampsConfig(cfg), tb)}
	if len(cfg.DBC) > 0 {
		db, _, err := LoadDBC(cfg.DBC)
		b.dbcErr = err
		if len(cfg.Ego) > 0 {
			ego, err := dbc.NewEgoMapper(db, cfg.Bus, cfg.Ego)
			if err != nil {
				return nil, fmt.Errorf("%w: bus %s: %w", ErrConfig, cfg.Bus, err)
			}
			b.ego = ego
		}
	}
	switch cfg.Kind {
	case KindSocketCAN:
		return &SocketCAN{bus: b}, nil
	case KindSLCAN:
		return &SLCAN{bus: b}, nil
	case KindCandump:
		return &Candump{bus: b}, nil
	default:
		return &UDP{bus: b}, nil
	}
}

// stampsConfig describes a bus's time stamps to its clock model (sync rows under
// "can/" + Bus):
//
//   - socketcan: the kernel's software receive stamps (CLOCK_REALTIME), or the
//     controller's raw hardware stamps, a device clock in ns mapped through arrivals
//   - slcan: the adapter's millisecond counter, wrapping at 60000; through a real UART
//     (Baud set) the fixed delay is a typical frame line (26 bytes) on the wire,
//     through a USB adapter (which ignores the baud rate) it is left at 0
//   - candump: the log's time stamps, a clock that runs Rate times faster than the host
//     while replayed at a rate; as fast as possible (Rate 0) frames have only their
//     publication time
//   - udp: no time stamp; a cannelloni sender holds frames for up to its buffer
//     timeout (100 ms by default), which bounds their arrival's error
func stampsConfig(cfg Config) devclock.StampsConfig {
	sc := devclock.StampsConfig{Name: "can/" + cfg.Bus}
	switch cfg.Kind {
	case KindSocketCAN:
		sc.Kernel = 100 * time.Microsecond
	case KindSLCAN:
		sc.Counter = devclock.Config{TickNS: 1e6, Wrap: 60000}
		if cfg.Baud > 0 {
			sc.Counter.Latency = time.Duration(26 * 10 * int64(time.Second) / int64(cfg.Baud))
		}
	case KindCandump:
		if cfg.Rate > 0 {
			sc.Counter = devclock.Config{TickNS: 1 / cfg.Rate}
		}
	case KindUDP:
		sc.Jitter = 100 * time.Millisecond
	}
	return sc
}
