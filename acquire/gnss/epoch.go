package gnss

import (
	"math"
	"strings"
	"time"

	nmea "github.com/adrianmo/go-nmea"

	"roadlog/schema"
)

// DefaultMaxEpochSentences caps the sentences one epoch may collect when
// Merger.MaxSentences is 0; a stream without times cannot grow an epoch forever.
const DefaultMaxEpochSentences = 256

const (
	dayNs     = int64(24 * time.Hour)
	knotsToMS = 1852.0 / 3600.0
)

// Merger groups decoded sentences into navigation epochs and fills one schema.GNSS row
// per epoch.
//
// An epoch is the run of sentences that report the same UTC time of day. A position
// sentence (GGA, RMC, GNS, GLL) or a GST with a different time begins a new epoch, and
// so does a second position sentence of the same talker and type (receivers without a
// fix send empty times). Sentences without a time (GSA, VTG, GSV) join the current
// epoch. ZDA only sets the date. The date of an epoch comes from its RMC or ZDA, else
// from the last date seen, rolled over at midnight; until a date is known TDevice is 0.
//
// Where several sentences report one value, the more specific wins: position from GGA,
// then GNS, RMC, GLL (only when they say the fix is valid); speed and course from RMC,
// then VTG; HDOP from GSA, then GGA, GNS; satellites from GGA, then GNS, then the sum of
// the GSA lists; fix quality from GGA, then the GNS or RMC mode indicator; fix mode
// from GSA, else from the quality and whether an altitude was given (as gpsd does).
//
// A Merger is not safe for concurrent use.
type Merger struct {
	Receiver     string // written into every row
	Raw          bool   // keep each epoch's sentences, every class, in the row's Raw
	MaxSentences int    // per epoch, after which it ends (0: DefaultMaxEpochSentences); raw capture keeps at most twice as many

	cur     *epoch
	carry   []string // raw sentences of epochs that had nothing to publish
	dateNs  int64    // UTC midnight of the last known date, ns since the Unix epoch
	dateTOD int64    // time of day (ms) when dateNs was last confirmed; -1: no date yet
	inited  bool
	counts  MergerStats
}

// MergerStats counts what a Merger did.
type MergerStats struct {
	Epochs     int64 // rows returned
	Skipped    int64 // epochs with nothing to publish (only GSV or ZDA, say)
	RawDropped int64 // raw sentences dropped because an epoch was full
	Undated    int64 // rows returned with TDevice 0 (no date or no time known)
}

// Stats returns the counts so far.
func (m *Merger) Stats() MergerStats { return m.counts }

type epoch struct {
	row       *schema.GNSS
	tod       int64 // ms since UTC midnight; -1: unknown
	dateNs    int64 // from this epoch's RMC/ZDA; -1: none
	thost     int64
	raw       []string
	keys      []string // talker+type of the position sentences seen
	n         int
	content   bool
	posRank   int
	hdopRank  int
	spdRank   int
	crsRank   int
	satRank   int
	qualRank  int
	gsaMode   int // GSA fix type 1–3; 0: none
	gsaSats   int
	rmcVoid   bool // an RMC or GLL said the data are invalid
	qualKnown bool
	altKnown  bool
	talker    string
}

func (m *Merger) init() {
	if !m.inited {
		m.dateTOD = -1
		m.inited = true
	}
}

// Add takes one sentence (of any class) that arrived at host time thost and returns
// the row of the epoch it completed, if any.
func (m *Merger) Add(s *Sentence, thost int64) *schema.GNSS {
	m.init()
	var out *schema.GNSS
	if s.Class != ClassStandard {
		m.keep(s.Raw, thost)
		return nil
	}
	tod, timed := sentenceTOD(s.Msg)
	if s.Type == "ZDA" {
		if z, ok := s.Msg.(nmea.ZDA); ok && timed && z.Year > 0 {
			if d, ok := civil(int(z.Year), int(z.Month), int(z.Day)); ok {
				m.dateNs, m.dateTOD = d, tod
				if m.cur != nil && m.cur.tod == tod {
					m.cur.dateNs = d
				}
			}
		}
		m.keep(s.Raw, thost)
		return nil
	}
	key := s.Talker + s.Type
	position := s.Type == "GGA" || s.Type == "RMC" || s.Type == "GNS" || s.Type == "GLL"
	if c := m.cur; c != nil {
		newTime := timed && c.tod >= 0 && tod != c.tod && (position || s.Type == TypeGST)
		repeat := position && contains(c.keys, key)
		if newTime || repeat || c.n >= m.maxSentences() {
			out = m.Flush()
		}
	}
	e := m.epoch(thost)
	if timed && e.tod < 0 && (position || s.Type == TypeGST) {
		e.tod = tod
	}
	if position {
		e.keys = append(e.keys, key)
	}
	e.n++
	if m.Raw {
		if len(e.raw) < 2*m.maxSentences() {
			e.raw = append(e.raw, s.Raw)
		} else {
			m.counts.RawDropped++
		}
	}
	if e.talker == "" && timed {
		e.talker = s.Talker
	}
	m.apply(e, s)
	return out
}

func (m *Merger) maxSentences() int {
	if m.MaxSentences > 0 {
		return m.MaxSentences
	}
	return DefaultMaxEpochSentences
}

func (m *Merger) epoch(thost int64) *epoch {
	if m.cur == nil {
		m.cur = &epoch{row: schema.NewGNSS(), tod: -1, dateNs: -1, thost: thost}
		m.cur.row.Receiver = m.Receiver
		if m.Raw && len(m.carry) > 0 {
			m.cur.raw = append(m.cur.raw, m.carry...)
			m.carry = m.carry[:0]
		}
	}
	return m.cur
}

// keep records a sentence that does not feed the row, for raw capture.
func (m *Merger) keep(raw string, thost int64) {
	if !m.Raw {
		return
	}
	e := m.epoch(thost)
	if len(e.raw) >= 2*m.maxSentences() {
		m.counts.RawDropped++
		return
	}
	e.raw = append(e.raw, raw)
}

// Flush ends the current epoch and returns its row, or nil when there is none or it
// had nothing to publish: neither a time nor a position, or only GSV and ZDA (its raw
// sentences then move on to the next epoch).
func (m *Merger) Flush() *schema.GNSS {
	m.init()
	e := m.cur
	m.cur = nil
	if e == nil {
		return nil
	}
	if !e.content || (e.tod < 0 && e.posRank == 0) {
		m.counts.Skipped++
		if m.Raw {
			if n := len(m.carry) + len(e.raw) - m.maxSentences(); n > 0 {
				m.counts.RawDropped += int64(n)
				if n > len(m.carry) {
					e.raw, n = e.raw[n-len(m.carry):], len(m.carry)
				}
				m.carry = m.carry[n:]
			}
			m.carry = append(m.carry, e.raw...)
		}
		return nil
	}
	r := e.row
	r.THost = e.thost
	r.Talker = e.talker
	if e.tod >= 0 {
		switch {
		case e.dateNs >= 0:
			m.dateNs, m.dateTOD = e.dateNs, e.tod
		case m.dateTOD >= 0 && e.tod < m.dateTOD-dayNs/2/1e6:
			m.dateNs += dayNs // the time of day wrapped: midnight passed
			m.dateTOD = e.tod
		case m.dateTOD >= 0:
			m.dateTOD = e.tod
		}
		if m.dateTOD >= 0 {
			r.TDevice = m.dateNs + e.tod*int64(time.Millisecond)
		}
	}
	switch {
	case e.gsaMode > 0:
		r.Mode = schema.FixMode(e.gsaMode)
	case e.qualKnown && r.Quality == schema.FixInvalid, e.rmcVoid && r.Quality == schema.FixInvalid:
		r.Mode = schema.ModeNoFix
	case e.qualKnown && e.altKnown:
		r.Mode = schema.Mode3D
	case e.qualKnown:
		r.Mode = schema.Mode2D
	}
	if e.satRank == 0 && e.gsaSats > 0 {
		r.Sats = int32(e.gsaSats)
	}
	if m.Raw {
		r.Raw = strings.Join(e.raw, "\n")
	}
	m.counts.Epochs++
	if r.TDevice == 0 {
		m.counts.Undated++
	}
	return r
}

// apply folds one standard sentence into the epoch.
func (m *Merger) apply(e *epoch, s *Sentence) {
	r := e.row
	setPos := func(rank int, lat, lon float64, bs nmea.BaseSentence, i int) {
		if rank > e.posRank && has(bs, i) && has(bs, i+2) && !math.IsNaN(lat) && !math.IsNaN(lon) {
			r.Lat, r.Lon, e.posRank = lat, lon, rank
			e.talker = s.Talker
		}
	}
	setQual := func(rank int, q schema.FixQuality) {
		if rank > e.qualRank {
			r.Quality, e.qualRank, e.qualKnown = q, rank, true
		}
	}
	switch v := s.Msg.(type) {
	case nmea.GGA:
		e.content = true
		q := field(v.BaseSentence, 5)
		if len(q) == 1 && q[0] >= '0' && q[0] <= '9' {
			setQual(3, schema.FixQuality(q[0]-'0'))
		}
		if q != "0" {
			setPos(4, v.Latitude, v.Longitude, v.BaseSentence, 1)
		}
		if has(v.BaseSentence, 8) && !math.IsNaN(v.Altitude) && q != "0" {
			r.Alt, e.altKnown = v.Altitude, true
		}
		if has(v.BaseSentence, 6) && e.satRank < 2 && v.NumSatellites >= 0 {
			r.Sats, e.satRank = int32(v.NumSatellites), 2
		}
		if has(v.BaseSentence, 7) && e.hdopRank < 2 && !math.IsNaN(v.HDOP) {
			r.HDOP, e.hdopRank = v.HDOP, 2
		}
	case nmea.GNS:
		e.content = true
		q, valid := gnsQuality(v.Mode)
		if len(v.Mode) > 0 {
			setQual(2, q)
		}
		if valid {
			setPos(3, v.Latitude, v.Longitude, v.BaseSentence, 1)
			if has(v.BaseSentence, 8) && e.posRank == 3 {
				r.Alt, e.altKnown = v.Altitude, true
			}
		}
		if has(v.BaseSentence, 6) && e.satRank < 1 {
			r.Sats, e.satRank = int32(v.SVs), 1
		}
		if has(v.BaseSentence, 7) && e.hdopRank < 1 {
			r.HDOP, e.hdopRank = v.HDOP, 1
		}
	case nmea.RMC:
		e.content = true
		if v.Validity != nmea.ValidRMC {
			e.rmcVoid = true
			if v.Date.Valid {
				if d, ok := civil(century(v.Date.YY), v.Date.MM, v.Date.DD); ok {
					e.dateNs = d
				}
			}
			break
		}
		if v.Date.Valid {
			if d, ok := civil(century(v.Date.YY), v.Date.MM, v.Date.DD); ok {
				e.dateNs = d
			}
		}
		setPos(2, v.Latitude, v.Longitude, v.BaseSentence, 2)
		if has(v.BaseSentence, 6) && e.spdRank < 2 {
			r.Speed, e.spdRank = v.Speed*knotsToMS, 2
		}
		if has(v.BaseSentence, 7) && e.crsRank < 2 {
			r.Course, e.crsRank = v.Course, 2
		}
		if q, ok := modeQuality(v.FFAMode); ok {
			setQual(1, q)
		} else {
			setQual(1, schema.FixGPS)
		}
	case nmea.GLL:
		e.content = true
		if v.Validity != nmea.ValidGLL {
			e.rmcVoid = true
			break
		}
		setPos(1, v.Latitude, v.Longitude, v.BaseSentence, 0)
	case nmea.VTG:
		e.content = true
		switch {
		case has(v.BaseSentence, 6) && e.spdRank < 1:
			r.Speed, e.spdRank = v.GroundSpeedKPH/3.6, 1
		case has(v.BaseSentence, 4) && e.spdRank < 1:
			r.Speed, e.spdRank = v.GroundSpeedKnots*knotsToMS, 1
		}
		if has(v.BaseSentence, 0) && e.crsRank < 1 {
			r.Course, e.crsRank = v.TrueTrack, 1
		}
	case nmea.GSA:
		e.content = true
		if e.gsaMode == 0 && len(v.FixType) == 1 && v.FixType[0] >= '1' && v.FixType[0] <= '3' {
			e.gsaMode = int(v.FixType[0] - '0')
		}
		e.gsaSats += len(v.SV)
		if has(v.BaseSentence, 14) && math.IsNaN(r.PDOP) && !math.IsNaN(v.PDOP) {
			r.PDOP = v.PDOP
		}
		if has(v.BaseSentence, 15) && e.hdopRank < 3 && !math.IsNaN(v.HDOP) {
			r.HDOP, e.hdopRank = v.HDOP, 3
		}
		if has(v.BaseSentence, 16) && math.IsNaN(r.VDOP) && !math.IsNaN(v.VDOP) {
			r.VDOP = v.VDOP
		}
	case *GST:
		e.content = true
		if !math.IsNaN(v.StdLat) {
			r.StdLat = v.StdLat
		}
		if !math.IsNaN(v.StdLon) {
			r.StdLon = v.StdLon
		}
		if !math.IsNaN(v.StdAlt) {
			r.StdAlt = v.StdAlt
		}
	}
}

// sentenceTOD returns a sentence's UTC time of day in ms, if it has one.
func sentenceTOD(s nmea.Sentence) (int64, bool) {
	var t nmea.Time
	switch v := s.(type) {
	case nmea.GGA:
		t = v.Time
	case nmea.RMC:
		t = v.Time
	case nmea.GLL:
		t = v.Time
	case nmea.GNS:
		t = v.Time
	case nmea.ZDA:
		t = v.Time
	case *GST:
		t = v.Time
	default:
		return 0, false
	}
	if !t.Valid || t.Hour > 23 || t.Minute > 59 || t.Second > 60 {
		return 0, false
	}
	return int64(((t.Hour*60+t.Minute)*60+t.Second)*1000 + t.Millisecond), true
}

// gnsQuality maps the first constellation's GNS mode character to a GGA quality; valid
// reports whether any constellation has a fix.
func gnsQuality(mode []string) (schema.FixQuality, bool) {
	q, valid := schema.FixInvalid, false
	for i, c := range mode {
		mq, ok := modeQuality(c)
		if ok && mq != schema.FixInvalid {
			valid = true
		}
		if i == 0 || q == schema.FixInvalid {
			q = mq
		}
	}
	return q, valid
}

// modeQuality maps an NMEA 2.3+ mode indicator (RMC, GNS, VTG, GLL) to a GGA quality.
func modeQuality(mode string) (schema.FixQuality, bool) {
	switch mode {
	case "N":
		return schema.FixInvalid, true
	case "A":
		return schema.FixGPS, true
	case "D":
		return schema.FixDGPS, true
	case "P":
		return schema.FixPPS, true
	case "R":
		return schema.FixRTK, true
	case "F":
		return schema.FixFloatRTK, true
	case "E":
		return schema.FixEstimated, true
	case "M":
		return schema.FixManual, true
	case "S":
		return schema.FixSimulated, true
	}
	return schema.FixInvalid, false
}

// has reports whether field i is present and not empty.
func has(s nmea.BaseSentence, i int) bool { return i < len(s.Fields) && s.Fields[i] != "" }

// century expands RMC's two-digit year the way receivers mean it (80–99: 1900s).
func century(yy int) int {
	if yy >= 80 {
		return 1900 + yy
	}
	return 2000 + yy
}

// civil returns UTC midnight of a calendar date in ns, rejecting impossible dates.
func civil(y, mo, d int) (int64, bool) {
	if y < 1980 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return 0, false
	}
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return 0, false
	}
	return t.UnixNano(), true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
