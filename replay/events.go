package replay

import (
	"errors"
	"io"
	"slices"

	"roadlog/schema"
)

// NextEvent returns the first event after t with one of the codes (any event when
// none are given), from the live events or a re-run's; nil when there is none. Only
// the events tables are read.
func (d *Drive) NextEvent(after int64, run string, codes ...schema.EventCode) (int64, *schema.Event, error) {
	r, err := d.NewReader(Options{Tables: []schema.TableName{schema.TableEvents}, From: after + 1, Run: run})
	if err != nil {
		return 0, nil, err
	}
	defer r.Close()
	for {
		s, err := r.Next()
		if errors.Is(err, io.EOF) {
			return 0, nil, nil
		}
		if err != nil {
			return 0, nil, err
		}
		ev, ok := s.(*schema.Event)
		if !ok || ev.Code == schema.EvReplayDamage {
			continue
		}
		if len(codes) == 0 || slices.Contains(codes, ev.Code) {
			return ev.T, ev, nil
		}
	}
}
