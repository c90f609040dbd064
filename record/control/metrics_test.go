package control

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"roadlog/schema"
)

// exposition is a parsed /metrics page: series (name plus labels as written) to value.
type exposition map[string]float64

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$`)
	helpLine   = regexp.MustCompile(`^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$`)
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter|histogram|summary|untyped)$`)
)

// parseExposition checks the text format strictly: every line is a HELP, a TYPE or a
// sample; every family has HELP then TYPE before its samples; no series repeats.
func parseExposition(text string) (exposition, error) {
	out := exposition{}
	typed := map[string]string{}
	helped := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			m := helpLine.FindStringSubmatch(line)
			if m == nil || helped[m[1]] {
				return nil, fmt.Errorf("line %d: bad or repeated HELP: %q", n, line)
			}
			helped[m[1]] = true
		case strings.HasPrefix(line, "# TYPE "):
			m := typeLine.FindStringSubmatch(line)
			if m == nil || typed[m[1]] != "" || !helped[m[1]] {
				return nil, fmt.Errorf("line %d: bad, repeated or unexplained TYPE: %q", n, line)
			}
			typed[m[1]] = m[2]
		default:
			m := sampleLine.FindStringSubmatch(line)
			if m == nil {
				return nil, fmt.Errorf("line %d: not a sample: %q", n, line)
			}
			fam := m[1]
			if typed[fam] == "" {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(fam, "_bucket"), "_sum"), "_count")
				if typed[base] != "histogram" {
					return nil, fmt.Errorf("line %d: sample of %s before its TYPE", n, fam)
				}
			}
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: value %q: %v", n, m[3], err)
			}
			key := m[1] + m[2]
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("line %d: series %s twice", n, key)
			}
			out[key] = v
		}
	}
	return out, nil
}

func TestMetrics(t *testing.T) {
	st := newStation(t, stationConfig{noSim: true})
	now := st.eng.Now()
	for i := range 3 {
		st.eng.Publish(&schema.CAN{T: now + int64(i), Bus: `pt"1`, ID: 0x100, DLC: 1, Data: []byte{1}})
	}
	// a detection 150 ms after its frame's exposure
	det := &schema.Object{T: st.eng.Now() - int64(150*time.Millisecond), Camera: 0, FrameSeq: 7, TrackID: 1, Label: "car",
		Distance: schema.NaN32(), TTC: schema.NaN32()}
	// the server's taps start with Run
	waitFor(t, "the server's taps", func() bool {
		st.srv.live.mu.Lock()
		defer st.srv.live.mu.Unlock()
		return len(st.srv.live.taps) == 5
	})
	st.eng.Publish(&schema.SyncRow{T: now, Source: "gnss0", State: schema.SyncLocked, Offset: 1_500_000, Uncertainty: 200_000, DriftPPM: 0.5, Samples: 10})
	g := schema.NewGNSS()
	g.T, g.Receiver, g.Quality, g.Mode, g.Sats, g.Lat, g.Lon = now, "gnss0", schema.FixRTK, schema.Mode3D, 14, 48.1, 11.5
	st.eng.Publish(g)
	st.eng.Publish(det)
	waitFor(t, "the live feed", func() bool {
		s := st.status()
		return len(s.Clocks) == 1 && s.GNSS != nil && s.Detector != nil
	})
	// the detection is drawn on camera 0's thumbnail
	if s := st.status(); len(s.Cameras) != 1 || len(s.Cameras[0].Objects) != 1 || s.Cameras[0].Objects[0].Label != "car" {
		t.Fatalf("cameras %+v", s.Cameras)
	}
	code, body := st.do("GET", "/metrics", nil, nil)
	if code != 200 {
		t.Fatalf("metrics: %d %s", code, body)
	}
	m, err := parseExposition(string(body))
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	want := map[string]float64{
		`roadlog_recording`:                                        0,
		`roadlog_sync_offset_seconds{source="gnss0"}`:              0.0015,
		`roadlog_sync_uncertainty_seconds{source="gnss0"}`:         0.0002,
		`roadlog_sync_state{source="gnss0",state="locked"}`:        3,
		`roadlog_gnss_fix_quality{receiver="gnss0"}`:               4,
		`roadlog_gnss_satellites{receiver="gnss0"}`:                14,
		`roadlog_stream_samples_total{table="can",stream="pt\"1"}`: 3,
		`roadlog_detection_latency_seconds_count`:                  1,
		`roadlog_detection_latency_seconds_bucket{le="0.1"}`:       0,
		`roadlog_detection_latency_seconds_bucket{le="+Inf"}`:      1,
		`roadlog_status_clients`:                                   0,
		`roadlog_build_info{version="dev",mode="record"}`:          1,
		`roadlog_status_tap_dropped_total{tap="events"}`:           0,
		`roadlog_detection_latency_seconds_bucket{le="5"}`:         1,
		`roadlog_detection_latency_seconds_bucket{le="0.05"}`:      0,
		`roadlog_disk_write_bytes_per_second`:                      0,
		`roadlog_status_tap_dropped_total{tap="detections"}`:       0,
	}
	for k, v := range want {
		got, ok := m[k]
		if !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if m[`roadlog_disk_free_bytes`] <= 0 {
		t.Error("no free disk figure")
	}
	// while recording: queue depths, drops and the drive figures appear
	if code, b := st.do("POST", "/api/start", nil, nil); code != 200 {
		t.Fatalf("start: %d %s", code, b)
	}
	_, body = st.do("GET", "/metrics", nil, nil)
	m, err = parseExposition(string(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`roadlog_recording`, `roadlog_queue_depth{queue="can"}`, `roadlog_drive_dropped_samples{queue="imu"}`, `roadlog_drive_bytes`} {
		if _, ok := m[k]; !ok {
			t.Errorf("recording: %s missing", k)
		}
	}
	if m[`roadlog_recording`] != 1 {
		t.Error("roadlog_recording is not 1 while recording")
	}
}

func TestExpositionEscaping(t *testing.T) {
	var p promWriter
	p.gauge("x_total", "a \\ help\nline", lbl("a", "q\"uote\\back\nnl"), 1.5)
	p.gauge("x_total", "ignored: one HELP per family", lbl("a", "b"), 2)
	want := "# HELP x_total a \\\\ help\\nline\n# TYPE x_total gauge\nx_total{a=\"q\\\"uote\\\\back\\nnl\"} 1.5\nx_total{a=\"b\"} 2\n"
	if p.b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", p.b.String(), want)
	}
	if _, err := parseExposition(p.b.String()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    float64
		want string
	}{{0, "0"}, {1e21, "1e+21"}, {0.25, "0.25"}} {
		if got := formatValue(c.v); got != c.want {
			t.Errorf("formatValue(%v) = %s", c.v, got)
		}
	}
}
