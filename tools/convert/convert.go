// Package convert writes a whole drive in the formats other tools read:
//
//   - Parquet, one file per table and segment in a Hive-style layout,
//     <out>/<table>/drive=<drive-id>/seg=<NNNNNN>/part.parquet, so that many drives
//     converted into the same folder are one dataset per table for DuckDB, Spark or
//     Trino (drive and seg become columns), e.g.
//     SELECT drive, count(*) FROM read_parquet('out/can/*/*/*.parquet', hive_partitioning = true) GROUP BY drive;
//   - CSV, one file per table: <out>/<drive-id>/<table>.csv (tools/tableout's CSV);
//   - MCAP (Foxglove), <out>/<drive-id>.mcap: cameras as foxglove.CompressedImage
//     (MJPEG) or foxglove.CompressedVideo (H.264/H.265, Annex B, one frame per
//     message), detections as foxglove.ImageAnnotations per camera frame, GNSS as
//     foxglove.LocationFix, every table (ego, targets, events, objects, imu, raw CAN …)
//     as a JSON channel; JSON-schema encoded, chunked, zstd, indexed, with CRCs; the
//     manifest and DBC files attached;
//   - candump, <out>/<drive-id>.log: the raw CAN table as a candump -L log.
//
// Everything is streamed batch by batch; each output file is written under a
// temporary name and renamed into place when complete.
package convert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"roadlog/record/drive"
	"roadlog/schema"
	"roadlog/tools/internal/syncfs"
)

// Format is an output format.
type Format string

// Formats.
const (
	Parquet Format = "parquet"
	MCAP    Format = "mcap"
	Candump Format = "candump"
	CSV     Format = "csv"
)

// ErrBadFormat reports an unknown output format.
var ErrBadFormat = errors.New("unknown output format")

// ParseFormat reads a format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Parquet, MCAP, Candump, CSV:
		return f, nil
	}
	return "", fmt.Errorf("%w %q (want parquet, mcap, candump or csv)", ErrBadFormat, s)
}

// Options configure a conversion.
type Options struct {
	Out    string
	Format Format
	// Tables limits Parquet and CSV to these tables (nil: every table of the drive).
	Tables []schema.TableName
	// Progress, when set, is called as the conversion goes: bytes of the drive read so
	// far and in all.
	Progress func(done, total int64)
}

// Summary says what a conversion wrote.
type Summary struct {
	Files    []string // paths written
	Rows     int64    // table rows converted
	Messages int64    // MCAP messages
	// SkippedFrames counts frames rows that point outside their video file (damage);
	// their frames are left out of the MCAP file.
	SkippedFrames int64
	InBytes       int64 // bytes of the drive's files read
	OutBytes      int64
}

// Convert converts the drive in dir.
func Convert(ctx context.Context, dir string, opt Options) (*Summary, error) {
	m, err := drive.ReadManifest(dir)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	segs, err := drive.Segments(dir)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("convert %s: %w", dir, drive.ErrNotDrive)
	}
	c := &converter{dir: dir, id: m.DriveID, m: m, segs: segs, opt: opt, sum: &Summary{}}
	if c.id == "" {
		c.id = filepath.Base(dir)
	}
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	c.total = c.inputBytes()
	switch opt.Format {
	case Parquet:
		err = c.parquet(ctx)
	case CSV:
		err = c.csv(ctx)
	case Candump:
		err = c.candump(ctx)
	case MCAP:
		err = c.mcap(ctx)
	default:
		err = fmt.Errorf("convert: %w %q", ErrBadFormat, opt.Format)
	}
	if err == nil {
		err = c.publish()
	}
	if err != nil {
		c.discard()
		return c.sum, err
	}
	return c.sum, nil
}

type converter struct {
	dir     string
	id      string
	m       *drive.Manifest
	segs    []int
	opt     Options
	sum     *Summary
	done    int64
	total   int64
	pending []*atomicFile // finished files not yet renamed into place
}

// tables returns the tables to convert, in schema order.
func (c *converter) tables() []schema.AnyTable {
	var out []schema.AnyTable
	for _, t := range schema.Tables() {
		if c.opt.Tables == nil {
			out = append(out, t)
			continue
		}
		for _, n := range c.opt.Tables {
			if n == t.TableName() {
				out = append(out, t)
			}
		}
	}
	return out
}

func (c *converter) segPath(seg int, name string) string {
	return filepath.Join(c.dir, drive.SegmentDir(seg), name)
}

// reads reports whether the conversion reads a segment's file of that name.
func (c *converter) reads(name string) bool {
	switch c.opt.Format {
	case MCAP:
		_, _, video := drive.ParseVideoFile(name)
		return video || filepath.Ext(name) == ".arrow"
	case Candump:
		return name == drive.TableFile(schema.TableCAN)
	}
	for _, t := range c.tables() {
		if name == drive.TableFile(t.TableName()) {
			return true
		}
	}
	return false
}

// inputBytes sums the files the conversion reads, for progress.
func (c *converter) inputBytes() int64 {
	var n int64
	for _, s := range c.segs {
		ents, _ := os.ReadDir(filepath.Join(c.dir, drive.SegmentDir(s)))
		for _, e := range ents {
			if info, err := e.Info(); err == nil && !e.IsDir() && c.reads(e.Name()) {
				n += info.Size()
			}
		}
	}
	return n
}

// read accounts for a drive file read.
func (c *converter) read(path string) {
	if st, err := os.Stat(path); err == nil {
		c.done += st.Size()
		c.sum.InBytes += st.Size()
	}
	if c.opt.Progress != nil {
		c.opt.Progress(c.done, c.total)
	}
}

// atomicFile is an output file written under a temporary name; the conversion
// renames every one into place at its end (publish).
type atomicFile struct {
	*os.File
	final string
	n     int64
}

func createAtomic(path string) (*atomicFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp"))
	if err != nil {
		return nil, err
	}
	return &atomicFile{File: f, final: path}, nil
}

func (a *atomicFile) Write(p []byte) (int, error) {
	n, err := a.File.Write(p)
	a.n += int64(n)
	return n, err
}

// Commit closes the file and queues it for publish.
func (a *atomicFile) Commit(c *converter) error {
	if err := a.File.Close(); err != nil {
		os.Remove(a.File.Name())
		return fmt.Errorf("write %s: %w", a.final, err)
	}
	c.pending = append(c.pending, a)
	return nil
}

// Abort closes and removes the temporary file.
func (a *atomicFile) Abort() {
	a.File.Close()
	os.Remove(a.File.Name())
}

// publish makes the finished files durable (one syncfs, not an fsync per file),
// renames them into place and syncs their folders. Until then nothing of the
// conversion is visible under its final names.
func (c *converter) publish() error {
	if err := syncfs.Tree(c.opt.Out); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	dirs := map[string]bool{}
	for _, a := range c.pending {
		if err := os.Rename(a.File.Name(), a.final); err != nil {
			return fmt.Errorf("convert: publish %s: %w", a.final, err)
		}
		dirs[filepath.Dir(a.final)] = true
		c.sum.Files = append(c.sum.Files, a.final)
		c.sum.OutBytes += a.n
	}
	c.pending = nil
	for d := range dirs {
		if err := drive.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// discard removes the temporary files of a failed conversion.
func (c *converter) discard() {
	for _, a := range c.pending {
		os.Remove(a.File.Name())
	}
	c.pending = nil
}

var _ io.Writer = (*atomicFile)(nil)
