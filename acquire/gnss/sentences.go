package gnss

import (
	"math"
	"strconv"

	nmea "github.com/adrianmo/go-nmea"
)

// Sentence types this package parses itself.
const (
	TypeGST = "GST" // go-nmea v1.10.0 has no GST
	TypeGSV = "GSV" // go-nmea v1.10.0 reads the NMEA 4.10 signal ID as a decimal "system ID"
)

// GST is the pseudorange error statistics sentence: the receiver's own estimate of its
// position error. go-nmea v1.10.0 lacks it.
//
//	$--GST,hhmmss.ss,rms,smaj,smin,orient,stdlat,stdlon,stdalt*hh
type GST struct {
	nmea.BaseSentence
	Time        nmea.Time
	RMS         float64 // RMS of the pseudorange residuals, m
	SemiMajor   float64 // 1-sigma semi-major axis of the error ellipse, m
	SemiMinor   float64 // 1-sigma semi-minor axis, m
	Orientation float64 // of the semi-major axis, degrees from true north
	StdLat      float64 // 1-sigma latitude error, m
	StdLon      float64 // 1-sigma longitude error, m
	StdAlt      float64 // 1-sigma altitude error, m
}

func parseGST(s nmea.BaseSentence) (nmea.Sentence, error) {
	p := nmea.NewParser(s)
	m := &GST{BaseSentence: s, Time: p.Time(0, "time")}
	for i, f := range []*float64{&m.RMS, &m.SemiMajor, &m.SemiMinor, &m.Orientation, &m.StdLat, &m.StdLon, &m.StdAlt} {
		*f = nullFloat(p.NullFloat64(i+1, "gst field"))
	}
	return m, p.Err()
}

// GSV is one sentence of the satellites-in-view group.
//
//	$--GSV,total,num,inview{,prn,elev,azim,snr}[,signal]*hh
//
// Since NMEA 4.10 a sentence may end in a signal ID, one hex digit whose meaning
// depends on the talker's constellation (GPS 1 = L1 C/A, Galileo 7 = E1, BeiDou B =
// B2b…). go-nmea v1.10.0 calls it a system ID, reads it as decimal (so "B" fails), and
// drops a satellite block that lacks trailing empty fields; this parser counts the
// blocks from the field count instead.
type GSV struct {
	nmea.BaseSentence
	TotalMessages int64
	MessageNumber int64
	InView        int64
	Sats          []GSVSat
	SignalID      int // NMEA 4.10+ signal ID 0–15; -1 when absent
}

// GSVSat is one satellite of a GSV sentence; missing values are -1.
type GSVSat struct {
	PRN       int64
	Elevation int64 // degrees
	Azimuth   int64 // degrees true
	SNR       int64 // dB-Hz
}

func parseGSV(s nmea.BaseSentence) (nmea.Sentence, error) {
	p := nmea.NewParser(s)
	m := &GSV{
		BaseSentence:  s,
		TotalMessages: p.Int64(0, "total number of messages"),
		MessageNumber: p.Int64(1, "message number"),
		InView:        p.Int64(2, "number of SVs in view"),
		SignalID:      -1,
	}
	rest := len(s.Fields) - 3
	if rest < 0 {
		return m, p.Err()
	}
	blocks := rest / 4
	if r := rest % 4; r == 1 {
		v, err := strconv.ParseUint(s.Fields[len(s.Fields)-1], 16, 8)
		if f := s.Fields[len(s.Fields)-1]; f != "" && (err != nil || len(f) != 1) {
			p.SetErr("signal ID", f)
		} else if f != "" {
			m.SignalID = int(v)
		}
	} else if r > 1 {
		blocks++ // a last block without its trailing empty fields
	}
	for b := range blocks {
		i := 3 + 4*b
		sat := GSVSat{PRN: -1, Elevation: -1, Azimuth: -1, SNR: -1}
		for j, f := range []*int64{&sat.PRN, &sat.Elevation, &sat.Azimuth, &sat.SNR} {
			if i+j < len(s.Fields) && s.Fields[i+j] != "" {
				*f = p.Int64(i+j, "satellite field")
			}
		}
		m.Sats = append(m.Sats, sat)
	}
	return m, p.Err()
}

// Lenient fallbacks for standard sentences that go-nmea refuses although a receiver
// meant something clear by them. Each returns go-nmea's own type with NaN for values
// it could not use. The parser holds only a map nothing writes after init, so
// decoders share it safely.
var lenientParser = &nmea.SentenceParser{
	CustomParsers: map[string]nmea.ParserFunc{
		nmea.TypeGGA: lenientGGA, nmea.TypeRMC: lenientRMC, nmea.TypeGLL: lenientGLL, nmea.TypeGSA: lenientGSA,
	},
	CheckCRC: func(nmea.BaseSentence, string) error { return nil },
}

// lenientGGA accepts every single-digit fix quality (go-nmea stops at 6; 7 is manual
// input and 8 simulation, which Garmin units send), and GGA sentences of old receivers
// that end before the differential fields.
func lenientGGA(s nmea.BaseSentence) (nmea.Sentence, error) {
	p := nmea.NewParser(s)
	q := field(s, 5)
	if len(q) != 1 || q[0] < '0' || q[0] > '9' {
		p.SetErr("fix quality", q)
	}
	lat, lon := position(p, s, 1, q != "0")
	return nmea.GGA{
		BaseSentence:  s,
		Time:          p.Time(0, "time"),
		Latitude:      lat,
		Longitude:     lon,
		FixQuality:    q,
		NumSatellites: optInt(p, s, 6),
		HDOP:          optFloat(p, s, 7),
		Altitude:      optFloat(p, s, 8),
		Separation:    optFloat(p, s, 10),
		DGPSAge:       field(s, 12),
		DGPSId:        field(s, 13),
	}, p.Err()
}

// lenientRMC accepts an RMC whose status is not A (data invalid) whatever its position
// fields hold: receivers without a fix send junk there (36000.0000,N).
func lenientRMC(s nmea.BaseSentence) (nmea.Sentence, error) {
	p := nmea.NewParser(s)
	status := field(s, 1)
	if status == nmea.ValidRMC {
		p.SetErr("validity", "A with fields go-nmea refused")
	}
	m := nmea.RMC{BaseSentence: s, Time: p.Time(0, "time"), Validity: status,
		Latitude: math.NaN(), Longitude: math.NaN(), Speed: math.NaN(), Course: math.NaN(), Variation: math.NaN()}
	if len(s.Fields) > 8 && s.Fields[8] != "" {
		m.Date = p.Date(8, "date")
	}
	return m, p.Err()
}

// lenientGLL accepts a GLL whose status is not A (some units send N) whatever its
// position fields hold.
func lenientGLL(s nmea.BaseSentence) (nmea.Sentence, error) {
	p := nmea.NewParser(s)
	status := field(s, 5)
	if status == nmea.ValidGLL {
		p.SetErr("validity", "A with fields go-nmea refused")
	}
	return nmea.GLL{BaseSentence: s, Time: p.Time(4, "time"), Validity: status,
		Latitude: math.NaN(), Longitude: math.NaN(), FFAMode: field(s, 6)}, p.Err()
}

// lenientGSA ignores a trailing field that is not an NMEA 4.10 system ID (SiRF TriG
// firmware appends a fourth dilution there).
func lenientGSA(s nmea.BaseSentence) (nmea.Sentence, error) {
	p := nmea.NewParser(s)
	m := nmea.GSA{
		BaseSentence: s,
		Mode:         p.EnumString(0, "selection mode", nmea.Auto, nmea.Manual),
		FixType:      p.EnumString(1, "fix type", nmea.FixNone, nmea.Fix2D, nmea.Fix3D),
	}
	for i := 2; i < 14; i++ {
		if v := p.String(i, "satellite in view"); v != "" {
			m.SV = append(m.SV, v)
		}
	}
	m.PDOP = optFloat(p, s, 14)
	m.HDOP = optFloat(p, s, 15)
	m.VDOP = optFloat(p, s, 16)
	return m, p.Err()
}

// position parses the lat/lon pair at fields i..i+3 when valid, NaN otherwise.
func position(p *nmea.Parser, s nmea.BaseSentence, i int, valid bool) (lat, lon float64) {
	if !valid || field(s, i) == "" || field(s, i+2) == "" {
		return math.NaN(), math.NaN()
	}
	return p.LatLong(i, i+1, "latitude"), p.LatLong(i+2, i+3, "longitude")
}

// field returns field i, or "" when the sentence is shorter.
func field(s nmea.BaseSentence, i int) string {
	if i < len(s.Fields) {
		return s.Fields[i]
	}
	return ""
}

func optFloat(p *nmea.Parser, s nmea.BaseSentence, i int) float64 {
	if field(s, i) == "" {
		return math.NaN()
	}
	return p.Float64(i, "number")
}

func optInt(p *nmea.Parser, s nmea.BaseSentence, i int) int64 {
	if field(s, i) == "" {
		return -1
	}
	return p.Int64(i, "integer")
}

func nullFloat(f nmea.Float64) float64 {
	if !f.Valid {
		return math.NaN()
	}
	return f.Value
}
