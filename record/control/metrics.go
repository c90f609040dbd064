package control

import (
	"bytes"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"roadlog/record"
)

// promWriter writes the Prometheus text exposition format (version 0.0.4). It is
// written by hand: the official client library brings a registry, collectors and
// a dozen dependencies for what here is one page of gauges computed at scrape time.
type promWriter struct {
	b    bytes.Buffer
	seen map[string]bool
}

func (p *promWriter) family(name, typ, help string) {
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	if p.seen[name] {
		return
	}
	p.seen[name] = true
	p.b.WriteString("# HELP " + name + " " + escapeHelp(help) + "\n")
	p.b.WriteString("# TYPE " + name + " " + typ + "\n")
}

// sample writes one sample; labels are name/value pairs.
func (p *promWriter) sample(name string, labels [][2]string, v float64) {
	p.b.WriteString(name)
	if len(labels) > 0 {
		p.b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				p.b.WriteByte(',')
			}
			p.b.WriteString(l[0] + `="` + escapeLabel(l[1]) + `"`)
		}
		p.b.WriteByte('}')
	}
	p.b.WriteByte(' ')
	p.b.WriteString(formatValue(v))
	p.b.WriteByte('\n')
}

func (p *promWriter) gauge(name, help string, labels [][2]string, v float64) {
	p.family(name, "gauge", help)
	p.sample(name, labels, v)
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

func lbl(kv ...string) [][2]string {
	out := make([][2]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, [2]string{kv[i], kv[i+1]})
	}
	return out
}

// handleMetrics answers GET /metrics: stream rates and ages, queue depths and drops,
// disk, clock offsets, GNSS, detection latency, and the page's own taps.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	var p promWriter
	o := s.opt
	rec := o.Recorder
	now := time.Now()

	p.gauge("roadlog_build_info", "roadlog version", lbl("version", o.Version, "mode", o.Mode), 1)
	p.gauge("roadlog_uptime_seconds", "seconds since the daemon started", nil, now.Sub(s.start).Seconds())
	recording := 0.0
	if rec.State() == record.Recording {
		recording = 1
	}
	p.gauge("roadlog_recording", "1 while a drive is being recorded", nil, recording)

	health := o.Feed.Health()
	p.family("roadlog_stream_rate_hz", "gauge", "samples per second of each stream over the last second")
	for _, h := range health {
		p.sample("roadlog_stream_rate_hz", lbl("table", string(h.Table), "stream", h.Name), h.Rate)
	}
	p.family("roadlog_stream_samples_total", "counter", "samples seen from each stream since the daemon started")
	for _, h := range health {
		p.sample("roadlog_stream_samples_total", lbl("table", string(h.Table), "stream", h.Name), float64(h.Rows))
	}
	p.family("roadlog_stream_age_seconds", "gauge", "seconds since the newest sample of each stream")
	for _, h := range health {
		p.sample("roadlog_stream_age_seconds", lbl("table", string(h.Table), "stream", h.Name), now.Sub(h.LastSeen).Seconds())
	}

	depths := rec.QueueDepths()
	p.family("roadlog_queue_depth", "gauge", "samples waiting in each recorder queue (absent while idle)")
	for _, q := range sortedKeys(depths) {
		p.sample("roadlog_queue_depth", lbl("queue", q), float64(depths[q]))
	}
	drops := rec.Drops()
	p.family("roadlog_drive_dropped_samples", "gauge", "samples dropped from each queue in the current drive")
	for _, q := range sortedKeys(drops) {
		p.sample("roadlog_drive_dropped_samples", lbl("queue", q), float64(drops[q]))
	}
	if d := rec.Current(); d != nil {
		pr := d.Progress()
		p.gauge("roadlog_drive_bytes", "bytes written into the current drive", nil, float64(pr.Bytes))
		p.gauge("roadlog_drive_rows", "rows accepted into the current drive", nil, float64(pr.Rows))
		p.gauge("roadlog_drive_segment", "current segment of the current drive", nil, float64(pr.Segment))
		p.gauge("roadlog_drive_elapsed_seconds", "wall time since the current drive started", nil, pr.Elapsed.Seconds())
	}

	disk := s.disk()
	if disk.Error == "" {
		p.gauge("roadlog_disk_free_bytes", "free bytes on the drives file system", nil, float64(disk.Free))
	}
	p.gauge("roadlog_disk_write_bytes_per_second", "recent write rate of the recorder (the last drive's while idle)", nil, disk.WriteRate)
	if disk.Left >= 0 {
		p.gauge("roadlog_disk_left_seconds", "recording time left at the current write rate", nil, disk.Left)
	}

	l := s.live
	l.mu.Lock()
	clocks := make(map[string]clockState, len(l.clocks))
	for k, v := range l.clocks {
		clocks[k] = v
	}
	gnss := l.gnss
	hist := l.detLat
	hist.counts = append([]uint64(nil), l.detLat.counts...)
	l.mu.Unlock()
	p.family("roadlog_sync_offset_seconds", "gauge", "device (or host) time minus reference time of each clock, from the sync table")
	for _, c := range sortedKeys(clocks) {
		p.sample("roadlog_sync_offset_seconds", lbl("source", c), float64(clocks[c].row.Offset)/1e9)
	}
	p.family("roadlog_sync_uncertainty_seconds", "gauge", "bound on the clock mapping error")
	for _, c := range sortedKeys(clocks) {
		p.sample("roadlog_sync_uncertainty_seconds", lbl("source", c), clocks[c].row.Uncertainty/1e9)
	}
	p.family("roadlog_sync_state", "gauge", "clock estimator state code (3 locked; see schema.SyncStateNames)")
	for _, c := range sortedKeys(clocks) {
		p.sample("roadlog_sync_state", lbl("source", c, "state", clocks[c].row.State.String()), float64(clocks[c].row.State))
	}
	if gnss != nil {
		p.gauge("roadlog_gnss_fix_quality", "GGA fix quality of the newest epoch (0 no fix)", lbl("receiver", gnss.Receiver), float64(gnss.Quality))
		p.gauge("roadlog_gnss_satellites", "satellites used in the newest fix", lbl("receiver", gnss.Receiver), float64(gnss.Sats))
	}

	p.family("roadlog_detection_latency_seconds", "histogram", "exposure (frame t) to the detection reaching the recorder, reference time")
	var cum uint64
	for i, b := range hist.bounds {
		cum += hist.counts[i]
		p.sample("roadlog_detection_latency_seconds_bucket", lbl("le", formatValue(b)), float64(cum))
	}
	cum += hist.counts[len(hist.bounds)]
	p.sample("roadlog_detection_latency_seconds_bucket", lbl("le", "+Inf"), float64(cum))
	p.sample("roadlog_detection_latency_seconds_sum", nil, hist.sum)
	p.sample("roadlog_detection_latency_seconds_count", nil, float64(hist.n))

	td := l.tapDrops()
	p.family("roadlog_status_tap_dropped_total", "counter", "samples the status page's live taps skipped (it shows the newest)")
	for _, name := range sortedKeys(td) {
		p.sample("roadlog_status_tap_dropped_total", lbl("tap", name), float64(td[name]))
	}
	p.gauge("roadlog_status_clients", "WebSocket status clients connected", nil, float64(s.hub.count()))

	if ms, ok := rec.(MetricSource); ok {
		ms.Metrics(func(name, typ, help string, v float64) {
			p.family(name, typ, help)
			p.sample(name, nil, v)
		})
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(p.b.Bytes())
}
