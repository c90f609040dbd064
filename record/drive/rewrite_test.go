package drive

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"roadlog/schema"
)

// canRow is row n of the rewrite tests: every column differs from row to row (bytes
// and strings of varying length), so that a row mixed up with another shows.
func canRow(n int, t int64) schema.CAN {
	return schema.CAN{T: t, THost: int64(n), Bus: strings.Repeat("b", 1+n%3), ID: uint32(n), Ext: n%2 == 0,
		DLC: uint8(n % 9), Data: bytes.Repeat([]byte{byte(n), byte(n >> 8)}, n%5)}
}

// rewriteCase is a table file and the rows its rewrite must hold.
type rewriteCase struct {
	name    string
	batches []int // rows per flushed batch
	late    []int // rows whose t is moved 5 rows back (written late)
	extra   int   // rows held by the recorder, added by the rewrite
	open    bool  // no footer (the write failed, or a crash)
	tear    int64 // bytes cut off the end (with open: a torn last batch)
	noFile  bool  // the file holds no schema (created, never written)
	wantBat int   // batches the rewritten file holds
	lost    int   // rows of the torn batch, lost
	codec   Codec // default zstd
}

var rewriteCases = []rewriteCase{
	{name: "in order", batches: rep(50, 37), wantBat: 1},
	{name: "more than a batch", batches: rep(20, 1000), wantBat: 2}, // RewriteBatchRows is 16384
	{name: "one batch already", batches: []int{500}, wantBat: 1},
	{name: "late rows", batches: rep(20, 30), late: []int{31, 40, 41, 300, 599}, wantBat: 1},
	{name: "held rows", batches: rep(20, 30), extra: 25, wantBat: 1},
	{name: "footerless", batches: rep(10, 30), open: true, wantBat: 1},
	{name: "torn last batch", batches: rep(10, 30), open: true, tear: 40, lost: 30, wantBat: 1},
	{name: "lz4", batches: rep(10, 30), codec: CodecLZ4, wantBat: 1},
	{name: "zstd-small", batches: rep(10, 30), codec: CodecZSTDSmall, wantBat: 1},
	{name: "no schema, held rows", noFile: true, extra: 10, wantBat: 1},
}

func rep(n, rows int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = rows
	}
	return out
}

// write writes the case's file at path and returns the rows in file order and the
// extra rows.
func (c rewriteCase) write(t *testing.T, path string) (file, extra []schema.CAN) {
	t.Helper()
	codec := c.codec
	if codec == "" {
		codec = CodecZSTD
	}
	n := 0
	for _, b := range c.batches {
		for i := 0; i < b; i++ {
			file = append(file, canRow(n, 1e9+int64(n)*1e6))
			n++
		}
	}
	for _, i := range c.late {
		file[i].T -= 5e6 + 5e5
	}
	for i := 0; i < c.extra; i++ {
		extra = append(extra, canRow(n+i, 1e9+int64(i*7)*1e6+1))
	}
	f, err := OSFS{}.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.noFile {
		f.Close()
		return nil, extra
	}
	w, err := NewTableWriter(f, schema.CANTable, codec)
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for _, b := range c.batches {
		for i := 0; i < b; i++ {
			w.Append(&file[k], file[k].T)
			k++
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if c.open {
		f.Close()
	} else if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if c.tear > 0 {
		st, _ := os.Stat(path)
		if err := os.Truncate(path, st.Size()-c.tear); err != nil {
			t.Fatal(err)
		}
		file = file[:len(file)-c.lost]
	}
	return file, extra
}

func readCAN(t *testing.T, path string) []schema.CAN {
	t.Helper()
	var out []schema.CAN
	if _, err := ReadTable(path, func(rec arrow.RecordBatch) error {
		out = append(out, schema.CANTable.Rows(rec)...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameRows(t *testing.T, got, want []schema.CAN) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range got {
		if g, w := fmt.Sprintf("%+v", got[i]), fmt.Sprintf("%+v", want[i]); g != w {
			t.Fatalf("row %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

// TestRewriteTableFile: the rewrite keeps every readable row and the held ones, in t
// order (stable), in batches of up to 65,536 rows, with a footer, and leaves no temp
// file.
func TestRewriteTableFile(t *testing.T) {
	for _, c := range rewriteCases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "can.arrow")
			file, extra := c.write(t, path)
			want := append(append([]schema.CAN(nil), file...), extra...)
			sort.SliceStable(want, func(i, j int) bool { return want[i].T < want[j].T })
			codec := c.codec
			if codec == "" {
				codec = CodecZSTD
			}
			st, err := RewriteTableFile(OSFS{}, path, schema.CANTable, codec, extra)
			if err != nil {
				t.Fatal(err)
			}
			sameRows(t, readCAN(t, path), want)
			scan, err := ScanArrow(path)
			if err != nil || !scan.Footer || len(scan.Damage) > 0 {
				t.Fatalf("rewritten file: footer %v, damage %v, err %v", scan.Footer, scan.Damage, err)
			}
			if len(scan.Batches) != c.wantBat || st.Batches != c.wantBat {
				t.Fatalf("%d batches (stats say %d), want %d", len(scan.Batches), st.Batches, c.wantBat)
			}
			if st.Rows != int64(len(want)) || st.Late != 0 || (len(want) > 0 && (st.FirstT != want[0].T || st.LastT != want[len(want)-1].T)) {
				t.Fatalf("stats %+v for %d rows from t=%d to %d", st, len(want), want[0].T, want[len(want)-1].T)
			}
			if _, err := os.Stat(path + ".sort"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("temp file left: %v", err)
			}
		})
	}
}

// TestAppendRecordRefusesLateRows: a batch that would put a row before the rows
// already appended is refused whole, and the writer is left as it was.
func TestAppendRecordRefusesLateRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "can.arrow")
	c := rewriteCase{batches: []int{10, 10}, late: []int{12}}
	c.write(t, path)
	f, _ := OSFS{}.Create(path + ".copy")
	w, err := NewTableWriter(f, schema.CANTable, CodecZSTD)
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	ReadTable(path, func(rec arrow.RecordBatch) error {
		errs = append(errs, w.AppendRecord(rec))
		return nil
	})
	if len(errs) != 2 || errs[0] != nil || !errors.Is(errs[1], errNoCopy) {
		t.Fatalf("append errors %v, want nil then errNoCopy", errs)
	}
	if w.Pending() != 10 || w.LastT != 1e9+9e6 {
		t.Fatalf("after the refused batch: %d rows pending, last t %d", w.Pending(), w.LastT)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readCAN(t, path+".copy"); len(got) != 10 {
		t.Fatalf("%d rows in the copy, want 10", len(got))
	}
}

// crashFS is the real file system whose files stop the goroutine writing them dead
// (runtime.Goexit: no error returned, no cleanup of the caller runs) at one point:
// after writeAt bytes, at the first fdatasync, or at close — as a crash would.
type crashFS struct {
	OSFS
	writeAt int64 // crash once this many bytes were written (0: never)
	atSync  bool
	atClose bool
}

type crashFile struct {
	File
	fs *crashFS
	n  int64
}

func (fs *crashFS) Create(path string) (File, error) {
	f, err := fs.OSFS.Create(path)
	if err != nil {
		return nil, err
	}
	return &crashFile{File: f, fs: fs}, nil
}

func (f *crashFile) Write(p []byte) (int, error) {
	if at := f.fs.writeAt; at > 0 && f.n+int64(len(p)) >= at {
		f.File.Write(p[:at-f.n])
		runtime.Goexit()
	}
	f.n += int64(len(p))
	return f.File.Write(p)
}

func (f *crashFile) Sync() error {
	if f.fs.atSync {
		runtime.Goexit()
	}
	return f.File.Sync()
}

func (f *crashFile) Close() error {
	if f.fs.atClose {
		f.File.Sync()
		runtime.Goexit()
	}
	return f.File.Close()
}

// TestRewriteCrashLeavesOriginal: a crash while the rewrite writes, syncs or closes
// its temp file (before the rename) leaves the original file byte for byte, and a
// temp file that Repair removes; the drive then verifies and reads as before. Both
// ways of rewriting (batches copied; rows sorted, with held rows) are crashed.
func TestRewriteCrashLeavesOriginal(t *testing.T) {
	crashes := []struct {
		name string
		fs   *crashFS
	}{
		{"temp torn", &crashFS{writeAt: 3000}},
		{"temp written, not synced", &crashFS{atSync: true}},
		{"temp synced, not renamed", &crashFS{atClose: true}},
	}
	for _, cr := range crashes {
		for _, held := range []int{0, 5} {
			t.Run(fmt.Sprintf("%s/held=%d", cr.name, held), func(t *testing.T) {
				dir := makeDrive(t)
				path := filepath.Join(dir, SegmentDir(0), "can.arrow")
				before, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				rows := readCAN(t, path)
				extra := make([]schema.CAN, held)
				for i := range extra {
					extra[i] = canRow(i, 1e9+int64(i)*1e6+1)
				}
				done, returned := make(chan struct{}), false
				go func() {
					defer close(done)
					RewriteTableFile(cr.fs, path, schema.CANTable, CodecZSTD, extra)
					returned = true
				}()
				<-done
				if returned {
					t.Fatal("the rewrite finished: the crash point was not reached")
				}
				after, err := os.ReadFile(path)
				if err != nil || !bytes.Equal(after, before) {
					t.Fatalf("the original changed (%d bytes, was %d; %v)", len(after), len(before), err)
				}
				if _, err := os.Stat(path + ".sort"); err != nil {
					t.Fatalf("no temp file after the crash: %v", err)
				}
				rep, err := Repair(dir, Software{Name: "roadlog", Version: "test"})
				if err != nil {
					t.Fatal(err)
				}
				removed := false
				for _, c := range rep.Cuts {
					removed = removed || (c.File == filepath.Join(SegmentDir(0), "can.arrow.sort") && c.Action == "removed")
				}
				if !removed {
					t.Fatalf("repair did not remove the temp file: %+v", rep.Cuts)
				}
				if v, _ := Verify(dir); !v.OK() {
					var b strings.Builder
					v.Print(&b)
					t.Fatalf("drive does not verify after repair:\n%s", b.String())
				}
				sameRows(t, readCAN(t, path), rows)
			})
		}
	}
}
