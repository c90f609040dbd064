package gnss

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"roadlog/schema"
)

// gpsd's defaults and the caps this package puts on its reports.
const (
	DefaultGPSDAddress = "localhost:2947"
	// MaxJSONLine caps one gpsd JSON report; longer lines are dropped and counted (a
	// SKY report with 100 satellites is about 10 KiB).
	MaxJSONLine = 64 << 10
)

// GPSD reads a receiver through a gpsd daemon. It asks for both JSON reports and the
// NMEA sentences gpsd relays (?WATCH={"enable":true,"json":true,"nmea":true}); rows are
// built from the NMEA sentences by the same Decoder and Merger as every other source
// (gpsd relays a receiver's own sentences, and writes pseudo-NMEA for receivers that
// speak a binary protocol), so a drive recorded through gpsd has the same rows and raw
// sentences as one recorded from the port. The JSON reports are counted; VERSION and
// DEVICES reports and each newly identified device become EvConfig events, ERROR
// reports and closed devices EvSourceError events.
type GPSD struct {
	Address     string        // host[:port] of gpsd (default localhost:2947)
	Device      string        // watch only this device path ("" = every device gpsd has)
	DialTimeout time.Duration // 0: DefaultDialTimeout
	Config

	stats statsBox
}

// Run connects, sends ?WATCH and reads until ctx ends (nil) or the connection fails
// or gpsd closes it (an error).
func (s *GPSD) Run(ctx context.Context, sink schema.Sink) error {
	addr := s.Address
	if addr == "" {
		addr = DefaultGPSDAddress
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "2947")
	}
	conn, err := dial(ctx, addr, s.DialTimeout)
	if err != nil {
		return fmt.Errorf("connect gpsd %s: %w", addr, err)
	}
	watch := map[string]any{"enable": true, "json": true, "nmea": true}
	if s.Device != "" {
		watch["device"] = s.Device
	}
	cmd, _ := json.Marshal(watch) // a map of plain values always marshals
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "?WATCH=%s\n", cmd); err != nil {
		conn.Close()
		return fmt.Errorf("send gpsd watch to %s: %w", addr, err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	p := newPipeline(s.Config, sink, &s.stats)
	p.gpsd = &gpsdLines{}
	if err := p.run(ctx, conn, false); err != nil {
		return fmt.Errorf("read gpsd %s: %w", addr, err)
	}
	return nil
}

// Stats returns the counters of the current or last Run.
func (s *GPSD) Stats() Stats { return s.stats.load() }

// GPSDStats counts gpsd's JSON reports.
type GPSDStats struct {
	Reports int64  // JSON reports received
	BadJSON int64  // lines that started like JSON but did not parse, or were too long
	Errors  int64  // ERROR reports
	Release string // gpsd's version, from its VERSION report
	LastTPV int64  // host ns of the last TPV report
	Devices string // the devices gpsd reported, "path (driver)" joined by ", "
}

// gpsdLines splits gpsd's stream into lines: JSON reports are handled here, NMEA
// sentences go to the framer with their line end.
type gpsdLines struct {
	line     []byte
	dropping bool              // the rest of an over-long line is being dropped
	active   map[string]string // device path → driver, as last announced
	st       GPSDStats
}

func (g *gpsdLines) feed(p *pipeline, b []byte, thost int64) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		part := b
		if i >= 0 {
			part = b[:i+1]
		}
		b = b[len(part):]
		if g.dropping {
			if i >= 0 {
				g.dropping = false
			}
			continue
		}
		if len(g.line)+len(part) > MaxJSONLine {
			g.st.BadJSON++
			g.line = g.line[:0]
			g.dropping = i < 0
			continue
		}
		g.line = append(g.line, part...)
		if i < 0 {
			return
		}
		line := g.line
		g.line = g.line[:0]
		if t := bytes.TrimLeft(line, " \t\r\n"); len(t) > 0 && t[0] == '{' {
			g.report(p, t, thost)
			continue
		}
		p.fr.Feed(line, func(l []byte, cut Cut) { p.sentence(l, cut, thost) })
	}
}

func (g *gpsdLines) report(p *pipeline, line []byte, thost int64) {
	var r struct {
		Class     string          `json:"class"`
		Release   string          `json:"release"`
		Message   string          `json:"message"`
		Path      string          `json:"path"`
		Driver    string          `json:"driver"`
		Activated json.RawMessage `json:"activated"`
		Devices   []struct {
			Path   string `json:"path"`
			Driver string `json:"driver"`
		} `json:"devices"`
	}
	if err := json.Unmarshal(line, &r); err != nil || r.Class == "" {
		g.st.BadJSON++
		return
	}
	g.st.Reports++
	name := p.cfg.Name
	switch r.Class {
	case "VERSION":
		g.st.Release = r.Release
	case "TPV":
		g.st.LastTPV = thost
	case "DEVICES":
		var ds []string
		if g.active == nil {
			g.active = map[string]string{}
		}
		for _, d := range r.Devices {
			ds = append(ds, fmt.Sprintf("%s (%s)", d.Path, d.Driver))
			g.active[d.Path] = d.Driver
		}
		g.st.Devices = strings.Join(ds, ", ")
		msg := fmt.Sprintf("gpsd %s: devices %s", g.st.Release, g.st.Devices)
		if len(ds) == 0 {
			msg = fmt.Sprintf("gpsd %s: no devices yet", g.st.Release)
		}
		p.sink.Publish(schema.NewEvent(p.tb.Ref(thost), schema.EvConfig, schema.SevInfo, name, msg))
	case "DEVICE":
		if string(r.Activated) == "0" {
			delete(g.active, r.Path)
			p.sink.Publish(schema.NewEvent(p.tb.Ref(thost), schema.EvSourceError, schema.SevWarn, name,
				fmt.Sprintf("gpsd closed device %s", r.Path)))
			break
		}
		if r.Driver == "" || g.active[r.Path] == r.Driver {
			break // nothing new: gpsd repeats DEVICE reports on speed changes
		}
		if g.active == nil {
			g.active = map[string]string{}
		}
		g.active[r.Path] = r.Driver
		p.sink.Publish(schema.NewEvent(p.tb.Ref(thost), schema.EvConfig, schema.SevInfo, name,
			fmt.Sprintf("gpsd %s: device %s (%s) active", g.st.Release, r.Path, r.Driver)))
	case "ERROR":
		g.st.Errors++
		p.sink.Publish(schema.NewEvent(p.tb.Ref(thost), schema.EvSourceError, schema.SevWarn, name,
			"gpsd: "+r.Message))
	}
}
