// Package schema is roadlog's on-disk contract: the Arrow schema and the Go row type of
// every table of a drive, the explicit numeric codes of every enumeration, and the
// small vocabulary types (Sample, Sink) through which sources, the recorder, the
// detector and replay exchange rows. It imports nothing of roadlog's.
//
// Every table's first column is t, timestamp[ns, UTC] in the drive's reference
// timebase. Units and meanings live in each field's metadata ("unit", "doc", and
// "codes" for enumerations); the format version lives in the schema metadata.
// docs/format/drive.md is the human-readable form of this package.
package schema

// FormatVersion is the version of the drive format these schemas describe. A new
// meaning gets a new number; readers accept files whose version is ≤ theirs.
const FormatVersion = 1

// TableName names a table; it is also the file name (<name>.arrow) inside a segment.
type TableName string

// The tables of a drive.
const (
	TableCAN     TableName = "can"
	TableGNSS    TableName = "gnss"
	TableIMU     TableName = "imu"
	TableEgo     TableName = "ego"
	TableFrames  TableName = "frames"
	TableObjects TableName = "objects"
	TableTargets TableName = "targets"
	TableEvents  TableName = "events"
	TableTruth   TableName = "truth"
	TableSync    TableName = "sync"
)

// Sample is anything a source publishes: a row of one of the tables, or a
// *VideoFrame (a camera frame with its payload, which the recorder turns into video
// plus a frames row).
type Sample interface {
	Table() TableName
}

// TimeOf returns a sample's reference time t (0 for a sample type not of this
// package).
func TimeOf(s Sample) int64 {
	switch r := s.(type) {
	case *CAN:
		return r.T
	case *GNSS:
		return r.T
	case *IMU:
		return r.T
	case *Ego:
		return r.T
	case *Frame:
		return r.T
	case *VideoFrame:
		return r.T
	case *Object:
		return r.T
	case *Target:
		return r.T
	case *Event:
		return r.T
	case *Truth:
		return r.T
	case *SyncRow:
		return r.T
	}
	return 0
}

// Sink receives samples. Publish never blocks: a sink that cannot keep up drops by
// its policy and counts the drop. Ownership of the sample (and of any byte slice in
// it) passes to the sink.
type Sink interface {
	Publish(Sample)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Sample)

// Publish calls f(s).
func (f SinkFunc) Publish(s Sample) { f(s) }

// Tables lists every table in the order inspect and verify report them.
func Tables() []AnyTable {
	return []AnyTable{CANTable, GNSSTable, IMUTable, EgoTable, FramesTable,
		ObjectsTable, TargetsTable, EventsTable, TruthTable, SyncTable}
}

// Lookup returns the table of that name.
func Lookup(name TableName) (AnyTable, bool) {
	for _, t := range Tables() {
		if t.TableName() == name {
			return t, true
		}
	}
	return nil, false
}
