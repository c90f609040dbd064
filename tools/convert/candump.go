package convert

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"roadlog/acquire/can/candump"
	"roadlog/record/drive"
	"roadlog/schema"
)

// candump writes the raw CAN table as a candump -L log, "(sec.usec) bus ID#DATA" per
// frame, timestamped with the reference time t and named by the frame's bus
// (acquire/can/candump's writer: classic, FD, RTR and error frames).
func (c *converter) candump(ctx context.Context) error {
	f, err := createAtomic(filepath.Join(c.opt.Out, c.id+".log"))
	if err != nil {
		return fmt.Errorf("convert to candump: %w", err)
	}
	w := candump.NewWriter(f)
	n := 0
	for _, seg := range c.segs {
		src := c.segPath(seg, drive.TableFile(schema.TableCAN))
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			continue
		}
		_, err := drive.ReadRows(src, schema.CANTable, func(r *schema.CAN) error {
			if n++; n%65536 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			c.sum.Rows++
			return w.WriteRow(r.T, r)
		})
		if err != nil {
			f.Abort()
			return fmt.Errorf("convert %s to candump: %w", src, err)
		}
		c.read(src)
	}
	if err := w.Flush(); err != nil {
		f.Abort()
		return fmt.Errorf("convert to candump: %w", err)
	}
	return f.Commit(c)
}
