package gnss

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	nmea "github.com/adrianmo/go-nmea"

	"roadlog/internal/shared"
	"roadlog/schema"
)

// corpusLogs returns the gpsd regression logs of the shared corpus, skipping the test
// when the corpus is absent.
func corpusLogs(tb testing.TB) []string {
	tb.Helper()
	dir := shared.Path(tb, "testdata/nmea/gpsd")
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(files) == 0 {
		tb.Skipf("no gpsd logs in %s", dir)
	}
	return files
}

// gpsdLog reads a gpsd regression log the way gpsfake feeds it to gpsd: '#' comment
// lines are not receiver output, and a "Delay-Cookie: C" header means every C in the
// data only marks a write boundary.
func gpsdLog(tb testing.TB, path string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
	cookie := ""
	for _, line := range bytes.SplitAfter(raw, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("#")) {
			if c, ok := bytes.CutPrefix(line, []byte("# Delay-Cookie:")); ok {
				if f := strings.Fields(string(c)); len(f) > 0 {
					cookie = f[0]
				}
			}
			continue
		}
		if cookie != "" {
			line = bytes.ReplaceAll(line, []byte(cookie), nil)
		}
		out.Write(line)
	}
	return out.Bytes()
}

// collect is a sink that keeps what it is given.
type collect struct {
	rows   []*schema.GNSS
	events []*schema.Event
}

func (c *collect) Publish(s schema.Sample) {
	switch v := s.(type) {
	case *schema.GNSS:
		c.rows = append(c.rows, v)
	case *schema.Event:
		c.events = append(c.events, v)
	}
}

// decodeAll runs data through the whole chain as one stream.
func decodeAll(data []byte, cfg Config) (*collect, Stats) {
	c := &collect{}
	p := newPipeline(cfg, c, nil)
	p.feed(data, 1)
	p.endRecord(false, 1)
	p.endEpoch()
	p.sync()
	return c, p.st
}

type tally struct {
	byClass  [numClasses]int64
	stdTotal map[string]int64 // well-formed standard sentences by type (decoded or malformed)
	stdOK    map[string]int64
	lenient  map[string]int64 // of stdOK, decoded by a lenient fallback
	baseline int64            // candidate sentences go-nmea alone decodes
	cands    int64            // candidate sentences: framed lines that start with '$' or '!'
	lines    int64            // non-empty lines
	noise    int64            // non-empty lines with no sentence start
}

func newTally() *tally {
	return &tally{stdTotal: map[string]int64{}, stdOK: map[string]int64{}, lenient: map[string]int64{}}
}

func (t *tally) add(tb testing.TB, data []byte) {
	tb.Helper()
	var d Decoder
	var f Framer
	f.Feed(data, func(line []byte, cut Cut) {
		s := d.Decode(line, cut)
		t.byClass[s.Class]++
		if isStandard(s.Type) && (s.Class == ClassStandard || s.Class == ClassMalformed) {
			t.stdTotal[s.Type]++
			if s.Class == ClassStandard {
				t.stdOK[s.Type]++
			}
			if s.Lenient {
				t.lenient[s.Type]++
			}
		}
	})
	f.Flush(func(line []byte, cut Cut) { t.byClass[d.Decode(line, cut).Class]++ }, false)
	st := f.Stats()
	if got := st.SentenceBytes + st.Terminators + st.Noise + st.Skipped; got != st.Bytes {
		tb.Errorf("framer accounts for %d of %d bytes", got, st.Bytes)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" {
			continue
		}
		t.lines++
		if !strings.ContainsAny(l, "$!") {
			t.noise++
		}
		if strings.HasPrefix(l, "$") || strings.HasPrefix(l, "!") {
			t.cands++
			if _, err := nmea.Parse(l); err == nil {
				t.baseline++
			}
		}
	}
}

// TestCorpusDecodeRate is the robustness bar on gpsd's regression captures: every
// framed sentence is accounted for by class, and at least 99 % of the well-formed
// standard sentences (checksum right, not cut short) decode.
func TestCorpusDecodeRate(t *testing.T) {
	all := newTally()
	var framed int64
	for _, f := range corpusLogs(t) {
		data := gpsdLog(t, f)
		before := all.byClass
		all.add(t, data)
		var fr Framer
		fr.Feed(data, func([]byte, Cut) {})
		fr.Flush(func([]byte, Cut) {}, false)
		var got int64
		for c := range all.byClass {
			got += all.byClass[c] - before[c]
		}
		if got != fr.Stats().Sentences {
			t.Errorf("%s: %d sentences classified, %d framed", filepath.Base(f), got, fr.Stats().Sentences)
		}
		framed += fr.Stats().Sentences
	}
	var stdTotal, stdOK int64
	var b strings.Builder
	var lenientN int64
	fmt.Fprintf(&b, "\n%-12s %9s %8s %8s %8s\n", "type", "wellformed", "decoded", "lenient", "rate")
	for _, typ := range StandardTypes {
		stdTotal += all.stdTotal[typ]
		stdOK += all.stdOK[typ]
		lenientN += all.lenient[typ]
		fmt.Fprintf(&b, "%-12s %9d %8d %8d %7.2f%%\n", typ, all.stdTotal[typ], all.stdOK[typ], all.lenient[typ],
			pct(all.stdOK[typ], all.stdTotal[typ]))
	}
	fmt.Fprintf(&b, "%-12s %9d %8d %8d %7.2f%%\n\n", "all", stdTotal, stdOK, lenientN, pct(stdOK, stdTotal))
	fmt.Fprintf(&b, "%-12s %8s\n", "class", "sentences")
	for c := Class(1); c < numClasses; c++ {
		fmt.Fprintf(&b, "%-12s %8d\n", c, all.byClass[c])
	}
	fmt.Fprintf(&b, "%-12s %8d\n", "framed", framed)
	fmt.Fprintf(&b, "non-empty lines %d, of them without any sentence %d\n", all.lines, all.noise)
	fmt.Fprintf(&b, "go-nmea alone: %d of %d candidate lines = %.1f%%\n", all.baseline, all.cands, pct(all.baseline, all.cands))
	t.Log(b.String())
	if r := pct(stdOK, stdTotal); r < 99 {
		t.Errorf("decoded %.2f%% of well-formed standard sentences, want ≥ 99%%", r)
	}
	if stdTotal < 10000 {
		t.Errorf("only %d well-formed standard sentences in the corpus: is it complete?", stdTotal)
	}
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// tpv is the part of a gpsd TPV report we compare.
type tpv struct {
	Class  string   `json:"class"`
	Time   string   `json:"time"`
	Mode   int      `json:"mode"`
	Lat    *float64 `json:"lat"`
	Lon    *float64 `json:"lon"`
	AltMSL *float64 `json:"altMSL"`
}

// TestCorpusAgainstGPSD compares our epochs with gpsd's own decoding (the .log.chk
// files): for every TPV report with a time and a position, the row of that UTC time
// of day must exist and carry the same position (gpsd also decodes proprietary
// position sentences such as Trimble's $PERC,GPavp, which we do not: those TPVs may
// differ). Rows are matched by time of day
// because gpsd's dates are not the receiver's where gpsd's GPS-week-rollover guess
// moved them (neo-m8n.log: 2015 in the sentences, 2034 in gpsd's output); date
// disagreements are counted and shown.
func TestCorpusAgainstGPSD(t *testing.T) {
	var compared, matched, missing, dateDiffers int
	var report []string
	for _, f := range corpusLogs(t) {
		chk, err := os.ReadFile(f + ".chk")
		if err != nil {
			continue
		}
		c, _ := decodeAll(gpsdLog(t, f), Config{Name: "corpus"})
		rows := map[int64][]*schema.GNSS{}
		for _, r := range c.rows {
			rows[r.TDevice%dayNs] = append(rows[r.TDevice%dayNs], r)
		}
		fileCompared, fileBad := 0, 0
		for _, line := range bytes.Split(chk, []byte("\n")) {
			if !bytes.HasPrefix(line, []byte(`{"class":"TPV"`)) {
				continue
			}
			var r tpv
			if json.Unmarshal(line, &r) != nil || r.Time == "" || r.Lat == nil || r.Lon == nil || r.Mode < 2 {
				continue
			}
			ts, err := time.Parse(time.RFC3339Nano, r.Time)
			if err != nil {
				continue
			}
			compared++
			fileCompared++
			cands := rows[ts.UnixNano()%dayNs]
			if len(cands) == 0 {
				missing++
				fileBad++
				if len(report) < 20 {
					report = append(report, fmt.Sprintf("%s: no row for %s", filepath.Base(f), r.Time))
				}
				continue
			}
			ok := false
			for _, row := range cands {
				if math.Abs(row.Lat-*r.Lat) < 1e-6 && math.Abs(row.Lon-*r.Lon) < 1e-6 {
					ok = true
					if row.TDevice != ts.UnixNano() {
						dateDiffers++
					}
				}
			}
			if ok {
				matched++
				continue
			}
			fileBad++
			if len(report) < 20 {
				report = append(report, fmt.Sprintf("%s %s: gpsd %.7f,%.7f ours %.7f,%.7f", filepath.Base(f), r.Time,
					*r.Lat, *r.Lon, cands[0].Lat, cands[0].Lon))
			}
		}
		if fileBad > 0 {
			t.Logf("%s: %d of %d TPV fixes differ or are missing", filepath.Base(f), fileBad, fileCompared)
		}
	}
	sort.Strings(report)
	t.Logf("compared %d gpsd TPV fixes: %d match (%d of them on another date than gpsd's), %d without a row of that time, %d differ\n%s",
		compared, matched, dateDiffers, missing, compared-matched-missing, strings.Join(report, "\n"))
	if compared < 1000 {
		t.Fatalf("only %d TPV fixes compared", compared)
	}
	if pct(int64(matched), int64(compared)) < 99 {
		t.Errorf("%.2f%% of gpsd's fixes reproduced, want ≥ 99%%", pct(int64(matched), int64(compared)))
	}
}
