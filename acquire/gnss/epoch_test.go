package gnss

import (
	"math"
	"strings"
	"testing"
	"time"

	"roadlog/schema"
)

// f9pEpoch is one epoch of a u-blox ZED-F9P (ublox-zed-f9p-nmea.log) with the first
// sentence of the next, which ends it.
const f9pEpoch = `$GNRMC,003956.00,A,4552.65403,S,17030.00668,E,0.025,,120419,,,A,V*07
$GNVTG,,T,,M,0.025,N,0.045,K,A*3B
$GNGGA,003956.00,4552.65403,S,17030.00668,E,1,12,0.64,14.2,M,1.8,M,,*56
$GNGSA,A,3,13,16,21,15,10,29,27,20,,,,,1.05,0.64,0.83,1*03
$GNGSA,A,3,82,66,81,,,,,,,,,,1.05,0.64,0.83,2*0C
$GPGSV,3,1,12,05,06,110,19,10,24,284,34,13,37,124,29,15,63,083,11,1*60
$GAGSV,3,3,09,33,62,034,08,7*41
$PUBX,00,003956.00*00
$GNGLL,4552.65403,S,17030.00668,E,003956.00,A,A*6C
$GNGST,003956.00,235111,,,,2.3,3.5,4.0*46
$GNZDA,003956.00,12,04,2019,00,00*7C
$GNRMC,003957.00,A,4552.65403,S,17030.00673,E,0.061,,120419,,,A,V*0C
`

func rowsOf(t *testing.T, text string, raw bool) []*schema.GNSS {
	t.Helper()
	c, _ := decodeAll([]byte(strings.ReplaceAll(text, "\n", "\r\n")), Config{Name: "rx", Raw: raw})
	return c.rows
}

func TestMergeEpoch(t *testing.T) {
	rows := rowsOf(t, f9pEpoch, true)
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	r := rows[0]
	want := time.Date(2019, 4, 12, 0, 39, 56, 0, time.UTC).UnixNano()
	if r.TDevice != want {
		t.Errorf("TDevice %v, want %v", time.Unix(0, r.TDevice).UTC(), time.Unix(0, want).UTC())
	}
	near(t, "lat", r.Lat, -(45 + 52.65403/60))
	near(t, "lon", r.Lon, 170+30.00668/60)
	near(t, "alt", r.Alt, 14.2)
	near(t, "speed", r.Speed, 0.025*1852/3600)
	near(t, "hdop", r.HDOP, 0.64)
	near(t, "pdop", r.PDOP, 1.05)
	near(t, "vdop", r.VDOP, 0.83)
	near(t, "stdlat", r.StdLat, 2.3)
	near(t, "stdlon", r.StdLon, 3.5)
	near(t, "stdalt", r.StdAlt, 4.0)
	if !math.IsNaN(r.Course) {
		t.Errorf("course %v, want NaN (RMC and VTG leave it empty)", r.Course)
	}
	if r.Sats != 12 || r.Quality != schema.FixGPS || r.Mode != schema.Mode3D || r.Talker != "GN" || r.Receiver != "rx" {
		t.Errorf("sats %d quality %d mode %d talker %q receiver %q", r.Sats, r.Quality, r.Mode, r.Talker, r.Receiver)
	}
	if n := strings.Count(r.Raw, "\n") + 1; n != 11 || !strings.Contains(r.Raw, "$PUBX,00") {
		t.Errorf("raw holds %d sentences, want 11 including the proprietary one:\n%s", n, r.Raw)
	}
	if rows[1].TDevice != want+int64(time.Second) {
		t.Errorf("second epoch at %v", time.Unix(0, rows[1].TDevice).UTC())
	}
	if rows[0].Raw == "" || rowsOf(t, f9pEpoch, false)[0].Raw != "" {
		t.Errorf("raw capture on/off not honoured")
	}
}

func TestMergeMidnight(t *testing.T) {
	rows := rowsOf(t, withSum("$GPRMC,235959.50,A,4807.038,N,01131.000,E,0.0,,311219,,")+"\n"+
		withSum("$GPGGA,235959.50,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")+"\n"+
		withSum("$GPGGA,000000.50,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")+"\n"+
		withSum("$GPGGA,000001.50,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")+"\n", false)
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	for i, want := range []time.Time{
		time.Date(2019, 12, 31, 23, 59, 59, 5e8, time.UTC),
		time.Date(2020, 1, 1, 0, 0, 0, 5e8, time.UTC),
		time.Date(2020, 1, 1, 0, 0, 1, 5e8, time.UTC),
	} {
		if got := time.Unix(0, rows[i].TDevice).UTC(); !got.Equal(want) {
			t.Errorf("row %d at %v, want %v", i, got, want)
		}
	}
}

func TestMergeUndatedUntilRMC(t *testing.T) {
	rows := rowsOf(t, withSum("$GPGGA,120000.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")+"\n"+
		withSum("$GPGGA,120001.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")+"\n"+
		withSum("$GPRMC,120001.00,A,4807.038,N,01131.000,E,10.0,90.0,010203,,")+"\n", false)
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	if rows[0].TDevice != 0 {
		t.Errorf("first row dated %v before any date was seen", time.Unix(0, rows[0].TDevice).UTC())
	}
	if want := time.Date(2003, 2, 1, 12, 0, 1, 0, time.UTC); !time.Unix(0, rows[1].TDevice).UTC().Equal(want) {
		t.Errorf("second row at %v, want %v (date from its own RMC)", time.Unix(0, rows[1].TDevice).UTC(), want)
	}
	near(t, "speed", rows[1].Speed, 10*1852.0/3600)
	near(t, "course", rows[1].Course, 90)
}

func TestMergeNoFix(t *testing.T) {
	// A receiver without a fix: empty times, quality 0, RMC V; every GGA is its own epoch
	// but none has a time or a position, so nothing is published.
	text := strings.Repeat(withSum("$GPGGA,,,,,,0,00,99.99,,,,,,")+"\n"+withSum("$GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99")+"\n", 3)
	c, st := decodeAll([]byte(text), Config{})
	if len(c.rows) != 0 || st.Merger.Skipped != 3 {
		t.Errorf("%d rows, %d skipped epochs; want 0 and 3", len(c.rows), st.Merger.Skipped)
	}
	// With a time the epoch is published as "no fix".
	rows := rowsOf(t, withSum("$GPRMC,000416.984,V,36000.0000,N,72000.0000,E,0.000000,,260120,,")+"\n"+
		withSum("$GPGGA,000416.984,,,,,0,00,,,M,,M,,")+"\n", false)
	if len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	if r.Mode != schema.ModeNoFix || r.Quality != schema.FixInvalid || !math.IsNaN(r.Lat) || !math.IsNaN(r.Speed) || r.Sats != 0 {
		t.Errorf("%+v", r)
	}
	if want := time.Date(2020, 1, 26, 0, 4, 16, 984e6, time.UTC); !time.Unix(0, r.TDevice).UTC().Equal(want) {
		t.Errorf("at %v, want %v", time.Unix(0, r.TDevice).UTC(), want)
	}
}

func TestMergePriorities(t *testing.T) {
	// GLL alone gives the position; GNS beats it; GGA beats both. VTG speed loses to RMC.
	rows := rowsOf(t, withSum("$GPGLL,4807.000,N,01131.000,E,120000.00,A,A")+"\n"+
		withSum("$GNGNS,120000.00,4807.100,N,01131.100,E,AD,10,0.8,500.0,47.0,,")+"\n"+
		withSum("$GPVTG,45.0,T,,M,10.0,N,18.52,K,A")+"\n"+
		withSum("$GPGLL,4807.000,N,01131.000,E,120001.00,A,A")+"\n"+
		withSum("$GPGSA,A,2,01,02,03,,,,,,,,,,2.0,1.5,1.2")+"\n"+
		withSum("$GLGSA,A,2,65,66,,,,,,,,,,,2.0,1.5,1.2")+"\n", false)
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	near(t, "lat", r.Lat, 48+7.1/60)
	near(t, "alt", r.Alt, 500)
	near(t, "speed", r.Speed, 18.52/3.6)
	near(t, "course", r.Course, 45)
	if r.Quality != schema.FixGPS || r.Sats != 10 || r.Talker != "GN" || r.Mode != schema.Mode3D {
		t.Errorf("row 0: quality %d sats %d talker %q mode %d", r.Quality, r.Sats, r.Talker, r.Mode)
	}
	r = rows[1]
	near(t, "lat", r.Lat, 48+7.0/60)
	if r.Sats != 5 || r.Mode != schema.Mode2D || r.Talker != "GP" || !math.IsNaN(r.Alt) {
		t.Errorf("row 1: sats %d (want the GSA lists summed) mode %d talker %q alt %v", r.Sats, r.Mode, r.Talker, r.Alt)
	}
	near(t, "hdop", r.HDOP, 1.5)
}

func TestMergeCapsEpoch(t *testing.T) {
	m := Merger{Raw: true, MaxSentences: 4}
	var d Decoder
	var rows []*schema.GNSS
	for range 10 {
		s := d.Decode([]byte(withSum("$GPGSA,A,3,01,02,03,,,,,,,,,,2.0,1.5,1.2")), CutNone)
		if r := m.Add(&s, 1); r != nil {
			rows = append(rows, r)
		}
	}
	if r := m.Flush(); r != nil {
		rows = append(rows, r)
	}
	st := m.Stats()
	if len(rows) != 0 || st.Skipped != 3 || st.RawDropped != 6 {
		t.Errorf("%d rows, stats %+v; want 0 rows, 3 skipped epochs, 6 raw sentences dropped", len(rows), st)
	}
}
