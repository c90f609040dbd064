package tableout

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"math"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"roadlog/internal/testdrive"
	"roadlog/record/drive"
	"roadlog/schema"
)

// cases is every table of a test drive's first segment; it feeds the round-trip test
// and the benchmark.
func cases(tb testing.TB) (dir string, tables []schema.TableName) {
	tb.Helper()
	info, err := testdrive.Write(tb.TempDir(), testdrive.Options{Duration: 2 * time.Second, Live: true})
	if err != nil {
		tb.Fatal(err)
	}
	for _, t := range schema.Tables() {
		tables = append(tables, t.TableName())
	}
	return filepath.Join(info.Dir, "seg-000000"), tables
}

// readAll concatenates a table file's batches (the reference the outputs must match).
func readAll(tb testing.TB, path string) arrow.Table {
	tb.Helper()
	var recs []arrow.RecordBatch
	var sc *arrow.Schema
	s, err := drive.ReadTable(path, func(r arrow.RecordBatch) error {
		r.Retain()
		recs = append(recs, r)
		sc = r.Schema()
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if sc == nil {
		sc = s.Schema
	}
	return array.NewTableFromRecords(sc, recs)
}

func writeBoth(tb testing.TB, path string) (pq, cs []byte, rows int64) {
	tb.Helper()
	var pbuf, cbuf bytes.Buffer
	var p *Parquet
	var c *CSV
	_, err := drive.ReadTable(path, func(r arrow.RecordBatch) error {
		if p == nil {
			var err error
			if p, err = NewParquet(&pbuf, r.Schema()); err != nil {
				return err
			}
			if c, err = NewCSV(&cbuf, r.Schema()); err != nil {
				return err
			}
		}
		if err := p.Write(r); err != nil {
			return err
		}
		return c.Write(r)
	})
	if err != nil {
		tb.Fatal(err)
	}
	if p == nil {
		return nil, nil, 0
	}
	if err := p.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := c.Close(); err != nil {
		tb.Fatal(err)
	}
	if p.Rows() != c.Rows() {
		tb.Fatalf("parquet %d rows, csv %d", p.Rows(), c.Rows())
	}
	return pbuf.Bytes(), cbuf.Bytes(), p.Rows()
}

func TestParquetAndCSVRoundTrip(t *testing.T) {
	dir, tables := cases(t)
	for _, name := range tables {
		t.Run(string(name), func(t *testing.T) {
			path := filepath.Join(dir, drive.TableFile(name))
			want := readAll(t, path)
			defer want.Release()
			pq, cs, rows := writeBoth(t, path)
			if rows != want.NumRows() {
				t.Fatalf("%d rows written, file has %d", rows, want.NumRows())
			}
			if rows == 0 {
				return
			}
			// Parquet, read back by arrow-go's Parquet reader
			got, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(pq), parquet.NewReaderProperties(memory.DefaultAllocator),
				pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Release()
			if got.NumRows() != want.NumRows() || got.NumCols() != want.NumCols() {
				t.Fatalf("parquet: %dx%d, want %dx%d", got.NumRows(), got.NumCols(), want.NumRows(), want.NumCols())
			}
			for i := 0; i < int(want.NumCols()); i++ {
				if got.Schema().Field(i).Name != want.Schema().Field(i).Name {
					t.Errorf("parquet column %d is %s, want %s", i, got.Schema().Field(i).Name, want.Schema().Field(i).Name)
				}
				if !array.ChunkedEqual(got.Column(i).Data(), want.Column(i).Data()) {
					t.Errorf("parquet column %s differs", want.Schema().Field(i).Name)
				}
			}
			// CSV, parsed back cell by cell
			recs, err := csv.NewReader(bytes.NewReader(cs)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(recs)) != rows+1 {
				t.Fatalf("csv has %d records, want header + %d", len(recs), rows)
			}
			for j := 0; j < int(want.NumCols()); j++ {
				f := want.Schema().Field(j)
				if recs[0][j] != f.Name {
					t.Fatalf("csv header %d is %q, want %q", j, recs[0][j], f.Name)
				}
				var codes map[string]uint64
				if v, ok := f.Metadata.GetValue("codes"); ok {
					codes = map[string]uint64{}
					for k, n := range parseCodes(v) {
						codes[n] = k
					}
				}
				row := 1
				for _, chunk := range want.Column(j).Data().Chunks() {
					for i := 0; i < chunk.Len(); i++ {
						checkCell(t, f.Name, row, recs[row][j], chunk, i, codes)
						row++
					}
				}
			}
		})
	}
}

// checkCell parses one CSV cell by the column's type and compares it with the Arrow value.
func checkCell(t *testing.T, col string, row int, s string, a arrow.Array, i int, codes map[string]uint64) {
	t.Helper()
	bad := func() { t.Fatalf("csv row %d column %s: %q does not read back as %s", row, col, s, a.ValueStr(i)) }
	if a.IsNull(i) {
		if s != "" {
			bad()
		}
		return
	}
	u := func(v uint64) {
		if n, ok := codes[s]; ok {
			if n != v {
				bad()
			}
			return
		}
		if n, err := strconv.ParseUint(s, 10, 64); err != nil || n != v {
			bad()
		}
	}
	switch a := a.(type) {
	case *array.Timestamp:
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || tm.UnixNano() != int64(a.Value(i)) {
			bad()
		}
	case *array.Int64:
		if n, err := strconv.ParseInt(s, 10, 64); err != nil || n != a.Value(i) {
			bad()
		}
	case *array.Int32:
		if n, err := strconv.ParseInt(s, 10, 32); err != nil || int32(n) != a.Value(i) {
			bad()
		}
	case *array.Uint32:
		u(uint64(a.Value(i)))
	case *array.Uint16:
		u(uint64(a.Value(i)))
	case *array.Uint8:
		u(uint64(a.Value(i)))
	case *array.Float32:
		v, err := strconv.ParseFloat(s, 32)
		if err != nil || float32(v) != a.Value(i) {
			bad()
		}
	case *array.Float64:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || (v != a.Value(i) && !(math.IsNaN(v) && math.IsNaN(a.Value(i)))) {
			bad()
		}
	case *array.Boolean:
		if v, err := strconv.ParseBool(s); err != nil || v != a.Value(i) {
			bad()
		}
	case *array.String:
		if s != a.Value(i) {
			bad()
		}
	case *array.Binary:
		if b, err := hex.DecodeString(s); err != nil || !bytes.Equal(b, a.Value(i)) {
			bad()
		}
	default:
		t.Fatalf("column %s: type %s not covered by the test", col, a.DataType())
	}
}

func TestSameRowsSameBytes(t *testing.T) {
	dir, _ := cases(t)
	path := filepath.Join(dir, "can.arrow")
	p1, c1, _ := writeBoth(t, path)
	p2, c2, _ := writeBoth(t, path)
	if !bytes.Equal(p1, p2) || !bytes.Equal(c1, c2) {
		t.Fatal("writing the same rows twice gave different bytes")
	}
}

func BenchmarkWrite(b *testing.B) {
	dir, tables := cases(b)
	for _, name := range tables {
		path := filepath.Join(dir, drive.TableFile(name))
		want := readAll(b, path)
		if want.NumRows() == 0 {
			want.Release()
			continue
		}
		tr := array.NewTableReader(want, 1<<20)
		var recs []arrow.RecordBatch
		for tr.Next() {
			r := tr.RecordBatch()
			r.Retain()
			recs = append(recs, r)
		}
		var raw int64
		for _, r := range recs {
			for _, c := range r.Columns() {
				for _, buf := range c.Data().Buffers() {
					if buf != nil {
						raw += int64(buf.Len())
					}
				}
			}
		}
		for _, format := range []string{"parquet", "csv"} {
			b.Run("table="+string(name)+"/format="+format, func(b *testing.B) {
				b.SetBytes(raw)
				for i := 0; i < b.N; i++ {
					var w Writer
					var err error
					if format == "parquet" {
						w, err = NewParquet(io_discard{}, want.Schema())
					} else {
						w, err = NewCSV(io_discard{}, want.Schema())
					}
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range recs {
						if err := w.Write(r); err != nil {
							b.Fatal(err)
						}
					}
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

type io_discard struct{}

func (io_discard) Write(p []byte) (int, error) { return len(p), nil }
