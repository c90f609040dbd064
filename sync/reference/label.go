package reference

import (
	"encoding/json"
	"math"
	"strconv"

	"roadlog/schema"
)

// edgeRec is an accepted PPS edge and, once known, the UTC second it starts.
type edgeRec struct {
	host     int64
	seq      uint64
	sec      int64
	labelled bool
	measured bool
}

// labeller gives PPS edges their UTC second. The first label needs two time sentences
// that agree with the edges' count; afterwards every edge is labelled by counting
// seconds from the previous one (so edges stay labelled through lost sentences), and
// sentences only confirm. Three sentences in a row that disagree by the same whole
// number of seconds (a leap second, a receiver that changed its mind) relabel.
type labeller struct {
	c    *Clock
	ring [4]edgeRec
	n    int // edges ever pushed

	spurious    int     // edges rejected in a row
	pending     UTCTime // SentBefore: the last sentence, waiting for its edge
	havePending bool    //
	cand        edgeRec // a first label waiting for a second sentence to agree
	mismatch    int     // sentences in a row that disagree by shift seconds
	shift       int64   //
	edgesNoTime int     // edges since the last sentence
	timesNoEdge int     // sentences in a row that dated no edge
	warnNoTime  bool    // EvPPSMissing for edges without sentences sent
	warnNoEdge  bool    // EvPPSMissing for sentences without edges sent
}

func (l *labeller) last() *edgeRec { return &l.ring[(l.n-1)%len(l.ring)] }

func (l *labeller) at(i int) *edgeRec { return &l.ring[i%len(l.ring)] }

func (l *labeller) push(r edgeRec) int {
	l.ring[l.n%len(l.ring)] = r
	l.n++
	return l.n - 1
}

func (l *labeller) rate() float64 {
	if l.c.sv.ok {
		return 1 + l.c.sv.f*1e-9
	}
	return 1
}

// seconds returns the whole number of reference seconds between host times a < b.
func (l *labeller) seconds(a, b int64) (k int64, ok bool) {
	dref := float64(b-a) * l.rate()
	kf := math.Round(dref / 1e9)
	tol := 1e6 + 1e-3*float64(b-a) // 1 ms, plus 1000 ppm of the gap for an unknown host rate
	if kf < 1 || math.Abs(dref-kf*1e9) > tol {
		return 0, false
	}
	return int64(kf), true
}

func (l *labeller) edge(h int64, seq uint64) {
	c := l.c
	if h <= 0 {
		c.stats.badEdges++
		return
	}
	rec := edgeRec{host: h, seq: seq}
	if l.n > 0 {
		last := l.last()
		k, ok := int64(0), h > last.host
		if ok {
			k, ok = l.seconds(last.host, h)
		}
		if !ok {
			c.stats.badEdges++
			l.spurious++
			if l.spurious >= 3 {
				// the edge we count from is the odd one (or the host clock jumped): start over
				l.n = 0
				l.spurious = 0
				l.push(rec)
			}
			return
		}
		l.spurious = 0
		maxCoast := int64(100)
		if c.sv.ok {
			maxCoast = 3600
		}
		if last.labelled && k <= maxCoast {
			rec.sec = last.sec + k
			rec.labelled = true
		}
	}
	i := l.push(rec)
	l.edgesNoTime++
	if l.edgesNoTime > 5 && !l.warnNoTime {
		l.warnNoTime = true
		msg := "PPS edges arrive without time sentences: cannot label them; reference stays " + schema.SyncFreeRun.String()
		if rec.labelled {
			msg = "PPS edges arrive without time sentences: labelling them by count"
		}
		c.emit(schema.EvPPSMissing, schema.SevWarn, h, msg, math.NaN(), "no_time")
	}
	if l.timesNoEdge > 0 || l.warnNoEdge {
		l.timesNoEdge = 0
		l.warnNoEdge = false
	}
	if c.cfg.Convention == SentBefore && l.havePending {
		p := l.pending
		l.havePending = false
		if p.Host < h && h-p.Host <= int64(c.cfg.MaxSentenceLag) {
			l.vote(i, p.UTC/1e9)
		}
	}
	l.feed()
}

func (l *labeller) sentence(t UTCTime) {
	c := l.c
	if t.Host <= 0 || t.UTC <= 0 {
		c.stats.badSentences++
		return
	}
	if t.UTC%1e9 != 0 {
		return // a sub-second fix: dates no edge
	}
	l.edgesNoTime = 0
	l.warnNoTime = false
	sec := t.UTC / 1e9
	if c.cfg.Convention == SentBefore {
		if l.havePending {
			l.noEdge(l.pending.Host)
		}
		l.pending, l.havePending = t, true
		return
	}
	// SentAfter: the newest edge before the sentence, not too long before
	for j := l.n - 1; j >= 0 && j >= l.n-len(l.ring); j-- {
		r := l.at(j)
		if r.host <= t.Host {
			if t.Host-r.host <= int64(c.cfg.MaxSentenceLag) {
				l.timesNoEdge = 0
				l.vote(j, sec)
				l.feed()
				return
			}
			break
		}
	}
	l.noEdge(t.Host)
}

// noEdge counts a sentence that dated no edge.
func (l *labeller) noEdge(host int64) {
	l.timesNoEdge++
	if l.timesNoEdge >= 3 && !l.warnNoEdge {
		l.warnNoEdge = true
		l.c.emit(schema.EvPPSMissing, schema.SevWarn, host, "time sentences arrive without PPS edges", math.NaN(), "no_pps")
	}
}

// vote: a sentence says edge j starts second sec.
func (l *labeller) vote(j int, sec int64) {
	c := l.c
	r := l.at(j)
	if r.labelled {
		if r.sec == sec {
			l.mismatch = 0
			return
		}
		d := sec - r.sec
		if d != l.shift {
			l.shift, l.mismatch = d, 0
		}
		l.mismatch++
		if l.mismatch < 3 {
			return
		}
		l.mismatch = 0
		for k := range l.ring {
			if l.ring[k].labelled {
				l.ring[k].sec += d
			}
		}
		if c.sv.ok {
			c.sv.shift(d * 1e9)
			c.emit(schema.EvSyncStep, schema.SevWarn, r.host,
				"time sentences date the PPS edges "+strconv.FormatInt(d, 10)+" s differently: relabelled", float64(d), "relabel")
			c.steer(r.host)
		}
		return
	}
	if l.cand.labelled && r.host > l.cand.host {
		if k, ok := l.seconds(l.cand.host, r.host); ok && sec-l.cand.sec == k {
			r.sec, r.labelled = sec, true
			for k := j + 1; k < l.n; k++ {
				p, q := l.at(k-1), l.at(k)
				if d, ok := l.seconds(p.host, q.host); ok && p.labelled {
					q.sec, q.labelled = p.sec+d, true
				}
			}
			l.cand = edgeRec{}
			return
		}
	}
	l.cand = edgeRec{host: r.host, sec: sec, labelled: true}
}

// feed measures every labelled, unmeasured edge, oldest first.
func (l *labeller) feed() {
	c := l.c
	j := max(l.n-len(l.ring), 0)
	for ; j < l.n; j++ {
		r := l.at(j)
		if !r.labelled || r.measured {
			continue
		}
		r.measured = true
		if c.sv.ok && r.host <= c.sv.h0 {
			continue
		}
		jit := float64(c.cfg.EdgeJitter)
		c.measure(r.host, r.sec*1e9, jit*jit)
	}
}

// counters are the inputs a Clock rejected, reported as EvSourceStats when they grow.
type counters struct {
	badEdges, gated, badSentences, badMeasures int64
	reported                                   [4]int64
}

func (s *counters) flush(c *Clock, now int64) {
	cur := [4]int64{s.badEdges, s.gated, s.badSentences, s.badMeasures}
	if cur == s.reported {
		return
	}
	var n int64
	for i := range cur {
		n += cur[i] - s.reported[i]
	}
	s.reported = cur
	d, _ := json.Marshal(map[string]int64{"spurious_edges": cur[0], "gated_edges": cur[1],
		"bad_sentences": cur[2], "bad_measurements": cur[3]})
	e := schema.NewEvent(c.m.At(now), schema.EvSourceStats, schema.SevWarn, c.cfg.Name,
		"reference clock rejected "+strconv.FormatInt(n, 10)+" inputs")
	e.Count = n
	e.Detail = string(d)
	e.Category = "sync_inputs"
	c.out.Push(e)
}
