package drive

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// timeColumn returns the values of a batch's first column when it is the t column
// (timestamp), without copying: they are valid while rec is.
func timeColumn(rec arrow.RecordBatch) ([]arrow.Timestamp, bool) {
	if rec.NumCols() == 0 || rec.ColumnName(0) != "t" {
		return nil, false
	}
	ts, ok := rec.Column(0).(*array.Timestamp)
	if !ok {
		return nil, false
	}
	return ts.TimestampValues(), true
}

func writeEmptyRecord(w *ipc.FileWriter, s *arrow.Schema) error {
	rec := array.NewRecordBuilder(memory.DefaultAllocator, s).NewRecordBatch()
	defer rec.Release()
	return w.Write(rec)
}
