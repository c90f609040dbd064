package buttons

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/warthog618/go-gpiocdev"
)

// Chip is a GPIO chip of the kernel's character device (/dev/gpiochipN), used
// through go-gpiocdev (uAPI v2 where the kernel has it: kernel debounce and event
// sequence numbers).
type Chip struct {
	Name      string // gpiochip0, or a path such as /dev/gpiochip0
	ActiveLow bool   // the button pulls the line low when pressed (with a pull-up)
	PullUp    bool   // enable the line's internal pull-up
}

// WatchButton requests offset as an input with both edges; a kernel without
// debounce support (uAPI v1) gets the request without it, and the button logic's
// own debounce still applies.
func (c Chip) WatchButton(offset int, debounce time.Duration, fn func(Edge)) (io.Closer, error) {
	opts := []gpiocdev.LineReqOption{gpiocdev.AsInput, gpiocdev.WithBothEdges, gpiocdev.WithConsumer("roadlog"),
		gpiocdev.WithEventHandler(func(e gpiocdev.LineEvent) { fn(edgeOf(e)) })}
	if c.ActiveLow {
		opts = append(opts, gpiocdev.AsActiveLow)
	}
	if c.PullUp {
		opts = append(opts, gpiocdev.WithPullUp)
	}
	l, err := gpiocdev.RequestLine(c.Name, offset, append(opts, gpiocdev.WithDebounce(debounce))...)
	var ue gpiocdev.ErrUapiIncompatibility
	if errors.As(err, &ue) && debounce > 0 {
		l, err = gpiocdev.RequestLine(c.Name, offset, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("request %s line %d: %w", c.Name, offset, err)
	}
	return l, nil
}

// Output requests offset as an output at initial.
func (c Chip) Output(offset int, initial int) (Output, error) {
	l, err := gpiocdev.RequestLine(c.Name, offset, gpiocdev.AsOutput(initial), gpiocdev.WithConsumer("roadlog"))
	if err != nil {
		return nil, fmt.Errorf("request %s line %d: %w", c.Name, offset, err)
	}
	return l, nil
}

// edgeOf converts a go-gpiocdev event. With active-low lines the kernel reports the
// edge into the active state as rising, so Pressed is the rising edge either way.
func edgeOf(e gpiocdev.LineEvent) Edge {
	return Edge{Offset: e.Offset, Pressed: e.Type == gpiocdev.LineEventRisingEdge, At: e.Timestamp, Seq: e.LineSeqno}
}
