package replay

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

// A closed reader's arenas go to the next reader, but nothing handed out from them
// may change: arrow records from Row.Batch and samples from Row.Sample and Next, kept
// past Close, read the same after other readers (of this drive and of another one,
// with its own sizes) have decoded into the arenas that were given back.
func TestKeptValuesSurviveArenaReuse(t *testing.T) {
	_, da := writeDrive(t, testdrive.Spec{Seed: 31, Segments: 2, BatchRows: 300, Cameras: 2, CANRate: 2000, IMURate: 500})
	_, db := writeDrive(t, testdrive.Spec{Seed: 32, Segments: 3, BatchRows: 500, Cameras: 2, CANRate: 3000, IMURate: 800})
	type kept struct {
		rec  arrow.RecordBatch
		text string // the record as printed when it was handed out
	}
	var recs []kept
	var samples []schema.Sample
	var texts []string
	r, err := da.NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		row, err := r.NextRow()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch i % 97 {
		case 0:
			if rec, _ := row.Batch(); rec != nil {
				rec.Retain()
				recs = append(recs, kept{rec, fmt.Sprint(rec)})
			}
		case 1:
			s, err := row.Sample()
			if err != nil {
				t.Fatal(err)
			}
			samples, texts = append(samples, s), append(texts, key(s))
		}
	}
	r.Close()
	if len(recs) == 0 || len(samples) == 0 {
		t.Fatalf("kept %d records and %d samples", len(recs), len(samples))
	}
	// Next's samples (decoded ahead by the producers) are kept past Close too
	r, err = da.NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		s, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%89 == 0 {
			samples, texts = append(samples, s), append(texts, key(s))
		}
	}
	r.Close()
	for _, d := range []*Drive{db, da, db} {
		for _, opts := range []Options{{}, {Prefetch: -1}} {
			readFrames(t, d, opts, nil)
		}
	}
	for i, k := range recs {
		if got := fmt.Sprint(k.rec); got != k.text {
			t.Fatalf("record %d changed after its reader closed:\nwas %.300s\nnow %.300s", i, k.text, got)
		}
		k.rec.Release()
	}
	for i, s := range samples {
		if got := key(s); got != texts[i] {
			t.Fatalf("sample %d changed after its reader closed:\nwas %.300s\nnow %.300s", i, texts[i], got)
		}
	}
}

// Reopening a drive reuses the arenas of the reader closed before: a pass over a
// drive allocates well under half the bytes its batches decode to (a reader that
// allocated its arenas anew would allocate all of them, every pass).
func TestReopenReusesArenas(t *testing.T) {
	_, d := writeDrive(t, testdrive.Spec{Seed: 33, Segments: 2, BatchRows: 5000, Cameras: 2, CANRate: 8000, IMURate: 2000})
	for _, opts := range []Options{{}, {Prefetch: -1}} {
		var decoded int64
		pass := func() {
			decoded = 0
			seen := map[*loaded]bool{}
			readFrames(t, d, opts, func(row *Row) {
				if row.l != nil && !seen[row.l] {
					seen[row.l] = true
					decoded += int64(len(row.l.raw.arena))
				}
			})
		}
		for range 3 { // the first readers allocate what later ones reuse
			pass()
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		pass()
		runtime.ReadMemStats(&after)
		alloc := int64(after.TotalAlloc - before.TotalAlloc)
		if decoded == 0 || alloc > decoded/2 {
			t.Fatalf("prefetch %d: a pass allocated %d bytes, its batches decode to %d", opts.Prefetch, alloc, decoded)
		}
		t.Logf("prefetch %d: %d bytes allocated a pass, %d decoded", opts.Prefetch, alloc, decoded)
	}
}

// What a consumer keeps of a drive with small batches (Next's samples alias their
// batch's arena: its strings) does not keep the large arenas another drive's reader
// gave back: the memory the kept samples hold stays within a margin of what they hold
// when no spare arena was there to take.
func TestKeptSamplesDoNotPinLargeArenas(t *testing.T) {
	_, db := writeDrive(t, testdrive.Spec{Seed: 34, Segments: 1, SegLen: 8 * time.Second, BatchRows: 60000, Cameras: 1, CANRate: 8000, IMURate: 8000})
	_, ds := writeDrive(t, testdrive.Spec{Seed: 35, Segments: 1, SegLen: 6 * time.Second, BatchRows: 40, Cameras: 1, CANRate: 2000, IMURate: 1000})
	heap := func() uint64 {
		clearSpares() // what the spares hold is not what the samples hold
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// held returns the bytes the samples of the small drive hold, read after fill
	held := func(fill func()) uint64 {
		base := heap()
		fill()
		r, err := ds.NewReader(Options{})
		if err != nil {
			t.Fatal(err)
		}
		kept := readAll(t, r)
		r.Close()
		n := heap() - base
		runtime.KeepAlive(kept)
		return n
	}
	alone := held(func() {})
	after := held(func() { // the large drive's arenas go to the spares
		readFrames(t, db, Options{}, nil)
		readFrames(t, db, Options{}, nil)
	})
	if after > alone*3/2+(1<<20) {
		t.Fatalf("samples kept hold %d bytes after a reader of large batches, %d without", after, alone)
	}
	t.Logf("samples kept hold %d bytes, %d without spares", after, alone)
}

// clearSpares empties the spare lists.
func clearSpares() {
	spareArenas.Range(func(_, v any) bool {
		l := v.(*spareList[[]byte])
		for len(l.items) > 0 {
			l.get()
		}
		return true
	})
	spareSame.Clear()
	for {
		select {
		case <-spareWindows:
			continue
		default:
		}
		break
	}
	for {
		if _, ok := spareDecoders.get(); !ok {
			return
		}
	}
}
