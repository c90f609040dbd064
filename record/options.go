package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"roadlog/record/drive"
	"roadlog/schema"
	"roadlog/sync/clock"
)

// Compression of the Arrow tables' buffers.
type Compression string

// Compressions.
const (
	ZSTD      Compression = "zstd"
	ZSTDSmall Compression = "zstd-small" // every buffer compressed: smaller, slower to read
	LZ4       Compression = "lz4"
	None      Compression = "none"
)

// Options configure the recorder. The zero value of every field means its default.
//
// Recovery point: a row reaches its table file at most FlushInterval after it was
// published (it waits Holdback for late rows of other sources, then the next flush
// tick writes it), and the file reaches the disk at most SyncInterval after that. A
// process crash (the page cache survives) loses at most the rows of the last
// FlushInterval; a power loss at most FlushInterval + SyncInterval.
type Options struct {
	Root    string // folder that holds drives
	Vehicle string // vehicle name, part of the drive id

	SegmentDuration time.Duration // default 60 s
	SegmentBytes    int64         // rotate when a segment's files exceed this (0: no size limit)
	FlushInterval   time.Duration // longest a row waits before it is written; default 500 ms, at most 1 s
	FlushRows       int           // write a batch when this many rows are pending; default 65536
	Holdback        time.Duration // how long rows wait for late rows of other sources; default FlushInterval/4
	SyncInterval    time.Duration // fdatasync cadence; default 1 s
	CloseLag        time.Duration // a segment closes when the newest t is this far past its end; default 2 s
	Compression     Compression   // default zstd
	FragmentMax     time.Duration // longest fMP4 fragment; default 1 s
	SlowSync        time.Duration // an fsync slower than this writes an event; default 500 ms

	QueueSizes  map[schema.TableName]int // per-table queue length; defaults in DefaultQueueSizes
	CameraQueue int                      // frames queued per camera; default 90 (3 s at 30 fps)

	MinFreeBytes  int64 // stop the drive cleanly below this much free disk; default 256 MiB
	WarnFreeBytes int64 // warn below this; default 4 GiB
	Loop          bool  // when disk runs low, delete the oldest segments that hold no driver mark
	// ReserveBytes is disk space held in a file while recording and released when a
	// write fails for lack of space, so that the drive can still be closed (events,
	// footers, manifest). Default 8 MiB; negative: none.
	ReserveBytes int64
	// FreeSpace reports the free bytes of the file system holding a folder; default
	// FreeBytes (statfs). Tests replace it.
	FreeSpace func(dir string) (int64, error)

	Timebase     clock.Timebase // reference time for events and segment starts; default clock.NewSystem()
	TimebaseKind string         // what Timebase is, for the manifest: host, gnss_pps, ptp; default host

	// What the manifest records about the rig.
	Simulated bool
	Cameras   []drive.Camera
	RigYAML   []byte          // written as rig.yaml
	DBCFiles  []string        // copied into dbc/
	Extra     json.RawMessage // scenario, calibration …

	FS       drive.FS     // default drive.OSFS
	Log      *slog.Logger // default slog.Default()
	Software string       // version written into manifests
}

// DefaultQueueSizes are the per-table queue lengths. CAN, IMU and GNSS get the largest
// queues and are the last to drop; camera frames have their own, small, queues.
var DefaultQueueSizes = map[schema.TableName]int{
	schema.TableCAN:     1 << 16,
	schema.TableIMU:     1 << 15,
	schema.TableGNSS:    1 << 12,
	schema.TableEgo:     1 << 14,
	schema.TableEvents:  1 << 12,
	schema.TableSync:    1 << 12,
	schema.TableObjects: 1 << 14,
	schema.TableTargets: 1 << 12,
	schema.TableTruth:   1 << 14,
	schema.TableFrames:  1 << 12,
}

// ErrBadOptions reports invalid options.
var ErrBadOptions = errors.New("invalid recorder options")

func (o Options) withDefaults() (Options, error) {
	if o.Root == "" {
		return o, fmt.Errorf("%w: no output folder", ErrBadOptions)
	}
	if o.Vehicle == "" {
		o.Vehicle = "vehicle"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.SegmentDuration, 60*time.Second)
	def(&o.FlushInterval, 500*time.Millisecond)
	def(&o.Holdback, o.FlushInterval/4)
	def(&o.SyncInterval, time.Second)
	def(&o.CloseLag, 2*time.Second)
	def(&o.FragmentMax, time.Second)
	def(&o.SlowSync, 500*time.Millisecond)
	if o.FlushInterval > time.Second {
		return o, fmt.Errorf("%w: flush interval %v is above 1s", ErrBadOptions, o.FlushInterval)
	}
	if o.Holdback >= o.FlushInterval {
		return o, fmt.Errorf("%w: holdback %v must be shorter than the flush interval %v", ErrBadOptions, o.Holdback, o.FlushInterval)
	}
	if o.SegmentDuration < time.Second {
		return o, fmt.Errorf("%w: segment duration %v is below 1s", ErrBadOptions, o.SegmentDuration)
	}
	if o.FlushRows <= 0 {
		o.FlushRows = 1 << 16
	}
	switch o.Compression {
	case "":
		o.Compression = ZSTD
	case ZSTD, ZSTDSmall, LZ4, None:
	default:
		return o, fmt.Errorf("%w: compression %q (want zstd, zstd-small, lz4 or none)", ErrBadOptions, o.Compression)
	}
	q := make(map[schema.TableName]int, len(DefaultQueueSizes))
	for k, v := range DefaultQueueSizes {
		q[k] = v
	}
	for k, v := range o.QueueSizes {
		if v <= 0 {
			return o, fmt.Errorf("%w: queue size %d for %s", ErrBadOptions, v, k)
		}
		q[k] = v
	}
	o.QueueSizes = q
	if o.CameraQueue <= 0 {
		o.CameraQueue = 90
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = 256 << 20
	}
	if o.ReserveBytes == 0 {
		o.ReserveBytes = 8 << 20
	}
	if o.FreeSpace == nil {
		o.FreeSpace = FreeBytes
	}
	if o.WarnFreeBytes == 0 {
		o.WarnFreeBytes = 4 << 30
	}
	if o.Timebase == nil {
		o.Timebase = clock.NewSystem()
	}
	if o.TimebaseKind == "" {
		o.TimebaseKind = "host"
	}
	if o.FS == nil {
		o.FS = drive.OSFS{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Software == "" {
		o.Software = "dev"
	}
	return o, nil
}
