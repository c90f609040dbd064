package sim

import (
	"fmt"
	"math"
	"strings"
	"time"

	nmea "github.com/adrianmo/go-nmea"

	"roadlog/schema"
)

// Origin of the simulated road: Munich, heading east.
const (
	originLat = 48.137154
	originLon = 11.576124
	originAlt = 519.0
	earthR    = 6378137.0
)

// sentence frames body as "$body*hh" with its checksum.
func sentence(body string) string {
	return "$" + body + "*" + nmea.Checksum(body)
}

func nmeaLat(lat float64) (string, string) {
	h := "N"
	if lat < 0 {
		h, lat = "S", -lat
	}
	d := math.Floor(lat)
	return fmt.Sprintf("%02d%08.5f", int(d), (lat-d)*60), h
}

func nmeaLon(lon float64) (string, string) {
	h := "E"
	if lon < 0 {
		h, lon = "W", -lon
	}
	d := math.Floor(lon)
	return fmt.Sprintf("%03d%08.5f", int(d), (lon-d)*60), h
}

// gnssEpoch is one receiver epoch: the measured fix and the sentences reporting it.
type gnssEpoch struct {
	row       *schema.GNSS
	sentences []string
}

// epoch builds the NMEA sentences (GGA, RMC, VTG, ZDA, GST; talker GN) and the gnss
// row for the fix at reference time t (ns since the Unix epoch), ego position x along
// the road (m east of the origin), speed v, with the measurement errors given.
func epoch(t int64, x, v float64, errN, errE, errU float64, outage bool, raw bool) gnssEpoch {
	utc := time.Unix(0, t).UTC()
	hms := fmt.Sprintf("%02d%02d%05.2f", utc.Hour(), utc.Minute(), float64(utc.Second())+float64(utc.Nanosecond())/1e9)
	lat := originLat + (errN)/earthR*180/math.Pi
	lon := originLon + (x+errE)/(earthR*math.Cos(originLat*math.Pi/180))*180/math.Pi
	alt := originAlt + errU
	knots := v * 3600 / 1852
	row := schema.NewGNSS()
	row.T, row.TDevice, row.Receiver, row.Talker = t, t, "sim", "GN"
	var ss []string
	if outage {
		ss = []string{
			sentence(fmt.Sprintf("GNGGA,%s,,,,,0,00,99.99,,,,,,", hms)),
			sentence(fmt.Sprintf("GNRMC,%s,V,,,,,,,%02d%02d%02d,,,N", hms, utc.Day(), int(utc.Month()), utc.Year()%100)),
			sentence("GNVTG,,,,,,,,,N"),
			sentence(fmt.Sprintf("GNZDA,%s,%02d,%02d,%04d,00,00", hms, utc.Day(), int(utc.Month()), utc.Year())),
		}
		row.Quality, row.Mode, row.Sats = schema.FixInvalid, schema.ModeNoFix, 0
	} else {
		la, lah := nmeaLat(lat)
		lo, loh := nmeaLon(lon)
		ss = []string{
			sentence(fmt.Sprintf("GNGGA,%s,%s,%s,%s,%s,1,12,0.80,%.1f,M,47.3,M,,", hms, la, lah, lo, loh, alt)),
			sentence(fmt.Sprintf("GNRMC,%s,A,%s,%s,%s,%s,%.3f,90.00,%02d%02d%02d,,,A", hms, la, lah, lo, loh, knots, utc.Day(), int(utc.Month()), utc.Year()%100)),
			sentence(fmt.Sprintf("GNVTG,90.00,T,,M,%.3f,N,%.3f,K,A", knots, v*3.6)),
			sentence(fmt.Sprintf("GNZDA,%s,%02d,%02d,%04d,00,00", hms, utc.Day(), int(utc.Month()), utc.Year())),
			sentence(fmt.Sprintf("GNGST,%s,1.2,0.9,0.7,0.0,0.60,0.60,1.10", hms)),
		}
		row.Quality, row.Mode, row.Sats = schema.FixGPS, schema.Mode3D, 12
		row.Lat, row.Lon, row.Alt = lat, lon, alt
		row.Speed, row.Course, row.HDOP = v, 90, 0.8
		row.StdLat, row.StdLon, row.StdAlt = 0.6, 0.6, 1.1
	}
	if raw {
		row.Raw = strings.Join(ss, "\n")
	}
	return gnssEpoch{row: row, sentences: ss}
}
