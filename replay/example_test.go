package replay_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"roadlog/replay"
	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

// Read a drive's GNSS fixes and CAN frames of one bus in time order, then play its
// camera frames into a sink as fast as possible.
func Example() {
	root, err := os.MkdirTemp("", "replay-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(root)
	td, err := testdrive.Write(root, testdrive.Spec{Seed: 1, Segments: 2, Cameras: 2, FPS: 10})
	if err != nil {
		panic(err)
	}

	d, err := replay.Open(td.Dir)
	if err != nil {
		panic(err)
	}
	r, err := d.NewReader(replay.Options{Tables: []schema.TableName{schema.TableGNSS, schema.TableCAN}, CANBuses: []string{"pt"}})
	if err != nil {
		panic(err)
	}
	counts := map[schema.TableName]int{}
	for {
		s, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		counts[s.Table()]++
	}
	r.Close()
	fmt.Println(counts[schema.TableGNSS], "GNSS fixes,", counts[schema.TableCAN], "CAN frames on pt")

	r, err = d.NewReader(replay.Options{Tables: []schema.TableName{schema.TableFrames}})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	bytes := 0
	sink := schema.SinkFunc(func(s schema.Sample) { bytes += len(s.(*schema.VideoFrame).Data) })
	p, err := replay.NewPlayer(r, sink, replay.PlayerOptions{Rate: 0})
	if err != nil {
		panic(err)
	}
	if err := p.Run(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(p.Status().Frames, "frames,", bytes > 0)
	// Output:
	// 40 GNSS fixes, 400 CAN frames on pt
	// 80 frames, true
}

// Walk a drive in time order without decoding rows into Go values: count the rows
// of each table, sum the bytes of the camera frames, and decode only the CAN frames
// of one identifier, into one reused value.
func ExampleReader_NextRow() {
	root, err := os.MkdirTemp("", "replay-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(root)
	td, err := testdrive.Write(root, testdrive.Spec{Seed: 1, Segments: 2, Cameras: 2, FPS: 10})
	if err != nil {
		panic(err)
	}
	d, err := replay.Open(td.Dir)
	if err != nil {
		panic(err)
	}
	r, err := d.NewReader(replay.Options{Prefetch: -1})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	rows := map[schema.TableName]int{}
	frameBytes, ids := 0, 0
	var can schema.CAN
	for {
		row, err := r.NextRow()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		rows[row.Table()]++
		switch row.Table() {
		case schema.TableFrames:
			data, err := row.FrameData() // valid until the next call
			if err != nil {
				panic(err)
			}
			frameBytes += len(data)
		case schema.TableCAN:
			if replay.ReadRow(row, schema.CANTable, &can) && can.ID == 0x101 {
				ids++
			}
		}
	}
	fmt.Println(rows[schema.TableCAN], "CAN frames,", ids, "of id 0x101;", rows[schema.TableFrames], "camera frames,", frameBytes > 0)
	// Output:
	// 800 CAN frames, 102 of id 0x101; 80 camera frames, true
}
