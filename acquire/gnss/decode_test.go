package gnss

import (
	"errors"
	"math"
	"testing"

	nmea "github.com/adrianmo/go-nmea"
)

// withSum appends the NMEA checksum to a sentence written without one.
func withSum(s string) string {
	return s + "*" + nmea.Checksum(s[1:])
}

// sentenceCases is the decoder's case table (real sentences from gpsd's regression
// logs where possible); it also seeds FuzzFramer.
var sentenceCases = []struct {
	name    string
	raw     string
	class   Class
	err     error
	typ     string
	lenient bool
	check   func(t *testing.T, m nmea.Sentence)
}{
	{"gga", "$GNGGA,003956.00,4552.65403,S,17030.00668,E,1,12,0.64,14.2,M,1.8,M,,*56", ClassStandard, nil, "GGA", false,
		func(t *testing.T, m nmea.Sentence) {
			g := m.(nmea.GGA)
			near(t, "lat", g.Latitude, -(45 + 52.65403/60))
			near(t, "lon", g.Longitude, 170+30.00668/60)
		}},
	{"gga quality 8 (garmin simulator)", "$GPGGA,125106,3854.5087,N,07726.4523,W,8,10,2.0,268.8,M,-33.9,M,,*7F", ClassStandard, nil, "GGA", true,
		func(t *testing.T, m nmea.Sentence) {
			g := m.(nmea.GGA)
			if g.FixQuality != "8" || g.NumSatellites != 10 {
				t.Errorf("%+v", g)
			}
			near(t, "alt", g.Altitude, 268.8)
		}},
	{"gga nmea 2.0 short", withSum("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M"), ClassStandard, nil, "GGA", true,
		func(t *testing.T, m nmea.Sentence) {
			g := m.(nmea.GGA)
			near(t, "alt", g.Altitude, 545.4)
			if !math.IsNaN(g.Separation) {
				t.Errorf("separation %v, want NaN", g.Separation)
			}
		}},
	{"rmc", "$GNRMC,003956.00,A,4552.65403,S,17030.00668,E,0.025,,120419,,,A,V*07", ClassStandard, nil, "RMC", false,
		func(t *testing.T, m nmea.Sentence) {
			r := m.(nmea.RMC)
			if r.Date.YY != 19 || r.Date.MM != 4 || r.Date.DD != 12 {
				t.Errorf("date %+v", r.Date)
			}
		}},
	{"rmc invalid with junk position", "$GPRMC,000416.984,V,36000.0000,N,72000.0000,E,0.000000,,260120,,*3B", ClassStandard, nil, "RMC", true,
		func(t *testing.T, m nmea.Sentence) {
			r := m.(nmea.RMC)
			if r.Validity != "V" || !math.IsNaN(r.Latitude) || r.Date.DD != 26 {
				t.Errorf("%+v", r)
			}
		}},
	{"gll status N", "$GPGLL,3728.0549,N,12213.8639,W,014413.076,N,V*50", ClassStandard, nil, "GLL", true, nil},
	{"gsa sirf fourth dop", "$GPGSA,A,3,25,32,12,14,,,,,,,,,2.1,1.1,1.8,1.2*39", ClassStandard, nil, "GSA", true,
		func(t *testing.T, m nmea.Sentence) {
			g := m.(nmea.GSA)
			if len(g.SV) != 4 || g.PDOP != 2.1 || g.VDOP != 1.8 {
				t.Errorf("%+v", g)
			}
		}},
	{"gsa 4.10", "$GNGSA,A,3,82,66,81,,,,,,,,,,1.05,0.64,0.83,2*0C", ClassStandard, nil, "GSA", false, nil},
	{"gst", "$GPGST,112257.00,0.387,317.719,3.872,1.791,317.563,10.659,180.746*61", ClassStandard, nil, "GST", false,
		func(t *testing.T, m nmea.Sentence) {
			g := m.(*GST)
			near(t, "stdlat", g.StdLat, 317.563)
			near(t, "stdalt", g.StdAlt, 180.746)
			if g.Time.Hour != 11 || g.Time.Minute != 22 || g.Time.Second != 57 {
				t.Errorf("time %+v", g.Time)
			}
		}},
	{"gst empty fields", "$GNGST,003956.00,235111,,,,2.3,3.5,4.0*46", ClassStandard, nil, "GST", false,
		func(t *testing.T, m nmea.Sentence) {
			g := m.(*GST)
			if !math.IsNaN(g.SemiMajor) || g.StdLon != 3.5 {
				t.Errorf("%+v", g)
			}
		}},
	{"gst too short", withSum("$GPGST,112257.00,0.387"), ClassMalformed, ErrMalformed, "GST", false, nil},
	{"gsv 4.10 signal", "$GAGSV,3,3,09,33,62,034,08,7*41", ClassStandard, nil, "GSV", false,
		func(t *testing.T, m nmea.Sentence) {
			g := m.(*GSV)
			if len(g.Sats) != 1 || g.Sats[0].PRN != 33 || g.SignalID != 7 || g.InView != 9 {
				t.Errorf("%+v", g)
			}
		}},
	{"gsv hex signal id", withSum("$GBGSV,1,1,01,19,45,120,40,B"), ClassStandard, nil, "GSV", false,
		func(t *testing.T, m nmea.Sentence) {
			if g := m.(*GSV); g.SignalID != 11 || len(g.Sats) != 1 || g.Sats[0].SNR != 40 {
				t.Errorf("%+v", g)
			}
		}},
	{"gsv empty signal id", "$GBGSV,3,3,10,21,41,301,,22,82,135,,*4F", ClassStandard, nil, "GSV", false,
		func(t *testing.T, m nmea.Sentence) {
			if g := m.(*GSV); g.SignalID != -1 || len(g.Sats) != 2 || g.Sats[1].SNR != -1 {
				t.Errorf("%+v", g)
			}
		}},
	{"gsv short last block", withSum("$GPGSV,3,3,09,32,10,200"), ClassStandard, nil, "GSV", false,
		func(t *testing.T, m nmea.Sentence) {
			if g := m.(*GSV); len(g.Sats) != 1 || g.Sats[0].Azimuth != 200 || g.Sats[0].SNR != -1 {
				t.Errorf("%+v", g)
			}
		}},
	{"gsv bad signal id", withSum("$GPGSV,1,1,01,19,45,120,40,XY"), ClassMalformed, ErrMalformed, "GSV", false, nil},
	{"vtg", "$GPVTG,0.0,T,10.5,M,0.0,N,0.0,K*7A", ClassStandard, nil, "VTG", false, nil},
	{"zda", "$GPZDA,030807.00,10,08,2006,00,00*67", ClassStandard, nil, "ZDA", false, nil},
	{"gns", "$GNGNS,170600.000,4111.59880,N,11156.56667,W,AANN,21,0.53,01443.9,-016.5,,*54", ClassStandard, nil, "GNS", false, nil},
	{"txt is other", "$GPTXT,01,01,02,ANTSTATUS=OK*3B", ClassOther, nil, "TXT", false, nil},
	{"ais is other", "!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26", ClassOther, nil, "VDM", false, nil},
	{"checksum", "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48", ClassChecksum, ErrChecksum, "GGA", false, nil},
	{"checksum not hex", "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*4G", ClassChecksum, ErrChecksum, "GGA", false, nil},
	{"checksum digit missing", "$GPGSV,3,1,11,01,78,221,47,03,09,042,00,04,05,242,00,06,04,149,00*7", ClassTruncated, ErrTruncated, "GSV", false, nil},
	{"no checksum", "$STI,IC,error=6", ClassNoChecksum, ErrNoChecksum, "STI", false, nil},
	{"proprietary", "$PGRME,15.0,M,45.0,M,25.0,M*1C", ClassProprietary, ErrProprietary, "GRME", false, nil},
	{"unknown", "$GPGBS,194907.00,3.0,1.9,4.2,,,,*4E", ClassUnknown, ErrUnknown, "GBS", false, nil},
	{"malformed field", withSum("$GPGGA,|19322|1.00,2037.72792,N,08704.08478,W,1,04,1.7,-30.40,M,-13.9,M,,"), ClassMalformed, ErrMalformed, "GGA", false, nil},
	{"rmc valid but bad latitude", withSum("$GPRMC,123519,A,9907.038,N,01131.000,E,022.4,084.4,230394,003.1,W"), ClassMalformed, ErrMalformed, "RMC", false, nil},
	{"empty address", "$*00", ClassMalformed, ErrMalformed, "", false, nil},
	{"lone prefix bad sum", "$*01", ClassChecksum, ErrChecksum, "", false, nil},
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-7 {
		t.Errorf("%s = %.9f, want %.9f", what, got, want)
	}
}

func TestDecode(t *testing.T) {
	var d Decoder
	for _, tc := range sentenceCases {
		t.Run(tc.name, func(t *testing.T) {
			s := d.Decode([]byte(tc.raw), CutNone)
			if s.Class != tc.class {
				t.Fatalf("class %v (%v), want %v", s.Class, s.Err, tc.class)
			}
			if tc.err == nil && s.Err != nil || tc.err != nil && !errors.Is(s.Err, tc.err) {
				t.Fatalf("error %v, want %v", s.Err, tc.err)
			}
			if s.Type != tc.typ {
				t.Errorf("type %q, want %q", s.Type, tc.typ)
			}
			if s.Lenient != tc.lenient {
				t.Errorf("lenient %v, want %v", s.Lenient, tc.lenient)
			}
			if s.Raw != tc.raw {
				t.Errorf("raw %q", s.Raw)
			}
			if tc.check != nil {
				tc.check(t, s.Msg)
			}
		})
	}
}

func TestDecodeCutIsTruncated(t *testing.T) {
	var d Decoder
	for _, c := range []Cut{CutRestart, CutBinary, CutOverlong, CutEOF} {
		s := d.Decode([]byte(gga), c)
		if s.Class != ClassTruncated || !errors.Is(s.Err, ErrTruncated) || s.Type != "GGA" {
			t.Errorf("cut %d: %v %v %q", c, s.Class, s.Err, s.Type)
		}
	}
}

func TestDecodeAcceptNoChecksum(t *testing.T) {
	d := Decoder{AcceptNoChecksum: true}
	s := d.Decode([]byte("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), CutNone)
	if s.Class != ClassStandard {
		t.Fatalf("%v %v", s.Class, s.Err)
	}
	if g := s.Msg.(nmea.GGA); g.NumSatellites != 8 {
		t.Errorf("%+v", g)
	}
}

func TestClassNames(t *testing.T) {
	for c := Class(1); c < numClasses; c++ {
		if c.String() == "" || c.String()[0] == 'c' && c.String() != "checksum" {
			t.Errorf("class %d has no name: %q", c, c.String())
		}
	}
	if Class(99).String() != "class_99" {
		t.Errorf("unknown class named %q", Class(99).String())
	}
}

func TestDecodeGoNMEAPanic(t *testing.T) {
	var d Decoder
	s := d.Decode([]byte("$GPTXT,02,ANTSTATUS=OK*3B"), CutNone)
	if s.Class != ClassMalformed || !errors.Is(s.Err, ErrParserPanic) {
		t.Errorf("%v %v", s.Class, s.Err)
	}
}
