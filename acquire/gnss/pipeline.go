package gnss

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/devclock"
)

// Defaults of Config.
const (
	DefaultEpochTimeout  = 300 * time.Millisecond
	DefaultStatsInterval = 10 * time.Second
	readSize             = 64 << 10 // a whole UDP datagram fits
	chunkQueue           = 16
)

// Config is what every GNSS source shares.
type Config struct {
	Name     string         // receiver name: the Receiver column and the Source of events
	Raw      bool           // keep each epoch's raw sentences in the row
	MaxLine  int            // longest sentence accepted, bytes (0: DefaultMaxLine)
	Timebase clock.Timebase // maps host time to the drive's reference time (nil: clock.NewSystem())

	// EpochTimeout ends an epoch that has received nothing for this long, so that its
	// row does not wait for the next epoch (0: DefaultEpochTimeout; negative: never).
	EpochTimeout time.Duration
	// StatsInterval is how often the counters are published as an EvSourceStats event
	// when they changed (0: DefaultStatsInterval; negative: only when Run ends).
	StatsInterval time.Duration
	// AcceptNoChecksum decodes sentences that carry no checksum (see Decoder).
	AcceptNoChecksum bool
}

// pipeline is the framer → decoder → merger → sink chain of one Run. One goroutine
// owns it.
type pipeline struct {
	cfg   Config
	tb    clock.Timebase
	clk   *devclock.Stamps // maps each epoch's time onto tb
	sink  schema.Sink
	fr    Framer
	dec   Decoder
	mg    Merger
	st    Stats
	box   *statsBox
	dirty bool
	gpsd  *gpsdLines // set by the GPSD source: lines are split here first
}

func newPipeline(cfg Config, sink schema.Sink, box *statsBox) *pipeline {
	p := &pipeline{cfg: cfg, tb: cfg.Timebase, sink: sink, box: box}
	if p.tb == nil {
		p.tb = clock.NewSystem()
	}
	if box == nil {
		box = &statsBox{}
	}
	p.clk = box.stamps(cfg, p.tb)
	p.fr.MaxLine = cfg.MaxLine
	p.dec.AcceptNoChecksum = cfg.AcceptNoChecksum
	p.mg.Receiver = cfg.Name
	p.mg.Raw = cfg.Raw
	return p
}

// feed frames and processes bytes that arrived at host time thost.
func (p *pipeline) feed(b []byte, thost int64) {
	p.dirty = true
	if p.gpsd != nil {
		p.gpsd.feed(p, b, thost)
		return
	}
	p.fr.Feed(b, func(line []byte, cut Cut) { p.sentence(line, cut, thost) })
}

// sentence processes one complete line given whole (gpsd's NMEA lines, a datagram).
func (p *pipeline) sentence(line []byte, cut Cut, thost int64) {
	s := p.dec.Decode(line, cut)
	p.st.count(&s, thost)
	if row := p.mg.Add(&s, thost); row != nil {
		p.publish(row)
	}
}

// endRecord ends the pending sentence at a datagram's end or at end of input.
func (p *pipeline) endRecord(eor bool, thost int64) {
	p.fr.Flush(func(line []byte, cut Cut) { p.sentence(line, cut, thost) }, eor)
}

// endEpoch publishes the current epoch.
func (p *pipeline) endEpoch() {
	if row := p.mg.Flush(); row != nil {
		p.publish(row)
	}
}

// publish stamps an epoch's row with the reference time of its fix and publishes it.
func (p *pipeline) publish(row *schema.GNSS) {
	row.T = p.clk.UTC(row.TDevice, row.THost)
	p.sink.Publish(row)
	p.clk.Tick(row.THost, p.sink)
}

// sync copies the counters for Stats readers.
func (p *pipeline) sync() {
	p.st.Framer = p.fr.Stats()
	p.st.Merger = p.mg.Stats()
	if p.gpsd != nil {
		p.st.GPSD = p.gpsd.st
	}
	if p.box != nil {
		p.box.store(&p.st)
	}
}

// publishStats writes the counters as an EvSourceStats event.
func (p *pipeline) publishStats() {
	p.sync()
	if !p.dirty {
		return
	}
	p.dirty = false
	ev := schema.NewEvent(p.tb.Ref(clock.HostNow()), schema.EvSourceStats, schema.SevInfo, p.cfg.Name, p.st.Summary())
	ev.Category = "gnss"
	ev.Count = p.st.Problems()
	if b, err := json.Marshal(p.st); err == nil {
		ev.Detail = string(b)
	}
	p.sink.Publish(ev)
}

type chunk struct {
	b     []byte
	thost int64
	eor   bool // the chunk is a whole datagram
}

// reader is a transport the pipeline reads from. Close must unblock a pending Read.
type reader interface {
	Read(p []byte) (int, error)
	Close() error
}

// run reads from r until ctx ends (nil) or r fails (the error, wrapped by the caller).
// The read sits in its own goroutine, unblocked by closing r; this goroutine frames,
// decodes, merges, publishes and ends quiet epochs. datagrams says each Read returns
// one whole datagram.
func (p *pipeline) run(ctx context.Context, r reader, datagrams bool) error {
	chunks := make(chan chunk, chunkQueue)
	done := make(chan struct{})
	var readErr error
	go func() {
		defer close(chunks)
		buf := make([]byte, readSize)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				select {
				case chunks <- chunk{append([]byte(nil), buf[:n]...), clock.HostNow(), datagrams}:
				case <-done:
					return
				}
			}
			if err != nil {
				readErr = err
				return
			}
		}
	}()

	idle := p.cfg.EpochTimeout
	if idle == 0 {
		idle = DefaultEpochTimeout
	}
	idleTimer := time.NewTimer(time.Hour)
	idleTimer.Stop()
	defer idleTimer.Stop()
	var tick <-chan time.Time
	if iv := p.cfg.StatsInterval; iv >= 0 {
		if iv == 0 {
			iv = DefaultStatsInterval
		}
		t := time.NewTicker(iv)
		defer t.Stop()
		tick = t.C
	}
	finish := func() {
		p.endRecord(false, clock.HostNow())
		p.endEpoch()
		p.clk.Flush(clock.HostNow(), p.sink)
		p.publishStats()
	}
	for {
		select {
		case <-ctx.Done():
			close(done)
			_ = r.Close()      // unblocks the read; its error says nothing about the data
			for range chunks { // wait for the reader goroutine
			}
			finish()
			return nil
		case c, ok := <-chunks:
			if !ok {
				r.Close()
				finish()
				if readErr == nil {
					readErr = io.EOF
				}
				return readErr
			}
			p.feed(c.b, c.thost)
			if c.eor {
				p.endRecord(true, c.thost)
			}
			p.sync()
			if idle > 0 {
				idleTimer.Reset(idle)
			}
		case <-idleTimer.C:
			p.endEpoch()
		case <-tick:
			p.publishStats()
		}
	}
}
