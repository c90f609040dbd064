// Package candecode decodes the raw CAN frames of a recorded drive (the can.arrow
// table of every segment) with DBC files into a table of signal values, one row
// per decoded signal of each frame: t, bus, id, message, signal, value, raw, unit,
// label. The table is written as an Arrow IPC file and/or CSV.
//
// It reads the drive's files directly with arrow-go until the recorder's reader
// side exists; a segment whose can.arrow has no footer yet (a drive being
// recorded, or not yet repaired) is an error that names the file.
package candecode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"roadlog/dbc"
	"roadlog/schema"
)

// Options select what is decoded.
type Options struct {
	// Signals selects signals as "MESSAGE.SIGNAL" or "SIGNAL" (in any message);
	// empty decodes every signal.
	Signals []string
	// Bus keeps only frames of that bus ("" keeps all).
	Bus string
}

// Row is one decoded signal value.
type Row struct {
	T       int64
	Bus     string
	ID      uint32
	Message string
	Signal  string
	Value   float64
	Raw     uint64
	Unit    string
	Label   string
}

// Sink receives decoded rows.
type Sink interface {
	Write(r *Row) error
}

// ErrNoSegments reports a drive folder without seg-*/can.arrow files.
var ErrNoSegments = errors.New("no seg-*/can.arrow in the drive")

// Segments returns the can.arrow files of a drive in segment order.
func Segments(drive string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(drive, "seg-*", string(schema.TableCAN)+".arrow"))
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoSegments, drive)
	}
	sort.Strings(files)
	return files, nil
}

type selector struct {
	all   bool
	full  map[string]bool // "MSG.SIG"
	names map[string]bool // "SIG"
	used  map[string]bool
}

func newSelector(sel []string) *selector {
	s := &selector{all: len(sel) == 0, full: map[string]bool{}, names: map[string]bool{}, used: map[string]bool{}}
	for _, x := range sel {
		if strings.Contains(x, ".") {
			s.full[x] = true
		} else {
			s.names[x] = true
		}
	}
	return s
}

func (s *selector) want(m *dbc.Message, sig *dbc.Signal) bool {
	if s.all {
		return true
	}
	if k := m.Name + "." + sig.Name; s.full[k] {
		s.used[k] = true
		return true
	}
	if s.names[sig.Name] {
		s.used[sig.Name] = true
		return true
	}
	return false
}

// Stats counts what Decode saw.
type Stats struct {
	Segments, Frames, Unknown, Rows int64
}

// Decode decodes every frame of the drive's segments with db and writes the rows
// to sink, in file order (time order within each segment).
func Decode(drive string, db *dbc.Database, o Options, sink Sink) (Stats, error) {
	var st Stats
	files, err := Segments(drive)
	if err != nil {
		return st, err
	}
	sel := newSelector(o.Signals)
	for _, p := range files {
		if err := decodeFile(p, db, o, sel, sink, &st); err != nil {
			return st, err
		}
		st.Segments++
	}
	var missing []string
	for k := range sel.full {
		if !sel.used[k] {
			missing = append(missing, k)
		}
	}
	for k := range sel.names {
		if !sel.used[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return st, fmt.Errorf("%w: %s", ErrSignalNotSeen, strings.Join(missing, ", "))
	}
	return st, nil
}

// ErrSignalNotSeen reports selected signals that no frame of the drive carried
// (a typo, or a message not on the bus).
var ErrSignalNotSeen = errors.New("selected signals never decoded")

func decodeFile(path string, db *dbc.Database, o Options, sel *selector, sink Sink, st *Stats) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	rd, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer rd.Close()
	if err := schema.CANTable.Check(rd.Schema()); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var r schema.CAN
	var out Row
	for i := 0; i < rd.NumRecords(); i++ {
		rec, err := rd.Record(i)
		if err != nil {
			return fmt.Errorf("read %s batch %d: %w", path, i, err)
		}
		for j := 0; j < int(rec.NumRows()); j++ {
			schema.CANTable.Read(rec, j, &r)
			if o.Bus != "" && r.Bus != o.Bus || r.Err || r.RTR {
				continue
			}
			st.Frames++
			m := db.Message(r.ID, r.Ext)
			if m == nil {
				st.Unknown++
				continue
			}
			var werr error
			m.Decode(r.Data, func(s *dbc.Signal, raw uint64, v float64) {
				if werr != nil || !sel.want(m, s) {
					return
				}
				label, _ := s.Label(raw)
				out = Row{T: r.T, Bus: r.Bus, ID: r.ID, Message: m.Name, Signal: s.Name, Value: v, Raw: raw, Unit: s.Unit, Label: label}
				werr = sink.Write(&out)
				st.Rows++
			})
			if werr != nil {
				return fmt.Errorf("write decoded rows: %w", werr)
			}
		}
	}
	return nil
}
