package rig

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"roadlog/schema"
)

// SetDefaults fills what was left out (see the field docs and the Default…
// constants). Load calls it; a Rig built in code calls it before Validate.
func (r *Rig) SetDefaults() {
	if r.Recorder.Segment == 0 {
		r.Recorder.Segment = DefaultSegment
	}
	if r.Recorder.FlushInterval == 0 {
		r.Recorder.FlushInterval = DefaultFlushInterval
	}
	if r.Recorder.Compression == "" {
		r.Recorder.Compression = DefaultCompression
	}
	for i := range r.CAN {
		c := &r.CAN[i]
		if c.Kind == CANSLCAN && c.Baud == 0 {
			c.Baud = DefaultSerialBaud
		}
	}
	for i := range r.GNSS {
		g := &r.GNSS[i]
		if g.Name == "" {
			g.Name = fmt.Sprintf("gnss%d", i)
		}
		if g.Kind == GNSSSerial && g.Baud == 0 {
			g.Baud = DefaultGNSSBaud
		}
		if g.Kind == GNSSGPSD && g.URL == "" {
			g.URL = DefaultGPSD
		}
	}
	for i := range r.IMU {
		m := &r.IMU[i]
		if m.Name == "" {
			m.Name = fmt.Sprintf("imu%d", i)
		}
		if m.Kind == IMUSerial {
			if m.Baud == 0 {
				m.Baud = DefaultSerialBaud
			}
			if m.Protocol == "" {
				m.Protocol = DefaultIMUProtocol
			}
		}
		if m.Axes == (Axes{}) {
			m.Axes = Axes{X: "x", Y: "y", Z: "z"}
		}
	}
	for i := range r.Cameras {
		c := &r.Cameras[i]
		if c.Name == "" {
			c.Name = fmt.Sprintf("cam%d", c.Index)
		}
	}
}

// validator collects the problems of a rig with their places.
type validator struct {
	r    *Rig
	errs []error
}

func (v *validator) fail(path string, format string, a ...any) {
	v.failWith(ErrInvalid, path, format, a...)
}

// failWith records a problem of kind sentinel (ErrInvalid, ErrUnknownKey).
func (v *validator) failWith(sentinel error, path string, format string, a ...any) {
	e := &Error{File: v.r.file, Key: path, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, a...)...)}
	if p, ok := v.r.pos[path]; ok {
		e.Line, e.Column = p.Line, p.Column
	} else if i := strings.LastIndexByte(path, '.'); i > 0 {
		if p, ok := v.r.pos[path[:i]]; ok { // a missing key: point at its parent
			e.Line, e.Column = p.Line, p.Column
		}
	}
	v.errs = append(v.errs, e)
}

func (v *validator) need(path, val, what string) {
	if val == "" {
		v.fail(path, "%s is required", what)
	}
}

func (v *validator) unique(seen map[string]string, path, name string) {
	if prev, ok := seen[name]; ok {
		v.fail(path, "name %q is already used by %s", name, prev)
		return
	}
	seen[name] = path
}

// Slcan adapters accept these nominal bit rates only (Lawicel S0–S8).
var slcanBitrates = []int{10000, 20000, 50000, 100000, 125000, 250000, 500000, 800000, 1000000}

// egoColumns lists the ego table's columns a CAN signal may fill.
func egoColumns() []string {
	var cols []string
	for _, c := range schema.EgoTable.Columns {
		if c.Field.Name != "t" && c.Field.Name != "source" {
			cols = append(cols, c.Field.Name)
		}
	}
	return cols
}

// Validate checks the meaning of every value. Its errors are *Error values joined
// together; each names the key and, for a loaded rig, the line.
func (r *Rig) Validate() error {
	v := &validator{r: r}
	if strings.TrimSpace(r.Vehicle) == "" {
		v.fail("vehicle", "the vehicle name is empty")
	} else if strings.ContainsAny(r.Vehicle, "/\\ \t") {
		v.fail("vehicle", "%q: the vehicle name becomes part of the drive folder; use no spaces or slashes", r.Vehicle)
	}
	r.validateCAN(v)
	r.validateGNSS(v)
	r.validateIMU(v)
	r.validateCameras(v)
	if t := r.Trigger; t != nil {
		if t.RateHz <= 0 || t.RateHz > 1000 {
			v.fail("trigger.rate_hz", "%g Hz is outside (0, 1000]", t.RateHz)
		}
		if t.Phase < 0 || (t.RateHz > 0 && t.Phase.Seconds() >= 1/t.RateHz) {
			v.fail("trigger.phase", "%v must be in [0, one trigger period)", t.Phase)
		}
	}
	rc := r.Recorder
	if rc.Segment <= 0 {
		v.fail("recorder.segment", "%v must be positive", rc.Segment)
	}
	if rc.FlushInterval <= 0 {
		v.fail("recorder.flush_interval", "%v must be positive", rc.FlushInterval)
	}
	if !slices.Contains([]string{"zstd", "zstd-small", "lz4", "none"}, rc.Compression) {
		v.fail("recorder.compression", "%q is not one of zstd, zstd-small, lz4, none", rc.Compression)
	}
	return errors.Join(v.errs...)
}

func (r *Rig) validateCAN(v *validator) {
	names := map[string]string{}
	egoUsed := map[string]string{}
	cols := egoColumns()
	for i, c := range r.CAN {
		p := fmt.Sprintf("can[%d]", i)
		v.need(p+".name", c.Name, "a bus name")
		if c.Name != "" {
			v.unique(names, p+".name", c.Name)
		}
		switch c.Kind {
		case CANSocketCAN:
			v.need(p+".device", c.Device, "the interface (e.g. can0)")
		case CANSLCAN:
			v.need(p+".port", c.Port, "the serial port")
			if !slices.Contains(slcanBitrates, c.Bitrate) {
				v.fail(p+".bitrate", "slcan needs one of the bit rates %v, got %d", slcanBitrates, c.Bitrate)
			}
			if c.Baud <= 0 {
				v.fail(p+".baud", "%d must be positive", c.Baud)
			}
		case CANCandump:
			v.need(p+".file", c.File, "the candump log file")
		case CANUDP:
			if _, _, err := net.SplitHostPort(c.Address); err != nil {
				v.fail(p+".address", "%q is not host:port", c.Address)
			}
		default:
			v.fail(p+".kind", "%q is not one of socketcan, slcan, candump, udp", c.Kind)
		}
		if c.Bitrate < 0 || c.Bitrate > 1000000 {
			v.fail(p+".bitrate", "%d bit/s is outside [0, 1000000]", c.Bitrate)
		}
		if c.DataBitrate < 0 || c.DataBitrate > 16000000 {
			v.fail(p+".data_bitrate", "%d bit/s is outside [0, 16000000]", c.DataBitrate)
		}
		for j, f := range c.Filters {
			fp := fmt.Sprintf("%s.filters[%d]", p, j)
			limit := uint32(0x7FF)
			if f.Extended {
				limit = 0x1FFFFFFF
			}
			if f.ID > limit {
				v.fail(fp+".id", "0x%X does not fit an identifier of %d bits", f.ID, map[bool]int{false: 11, true: 29}[f.Extended])
			}
			if f.Mask > limit {
				v.fail(fp+".mask", "0x%X has bits beyond the identifier", f.Mask)
			}
		}
		for j, d := range c.DBC {
			v.need(fmt.Sprintf("%s.dbc[%d]", p, j), d, "a DBC file path")
		}
		if len(c.Ego) > 0 && len(c.DBC) == 0 {
			v.fail(p+".ego", "mapping ego columns needs at least one dbc file")
		}
		for _, col := range sortedKeys(c.Ego) {
			s := c.Ego[col]
			ep := p + ".ego." + col
			if !slices.Contains(cols, col) {
				v.fail(ep, "%q is not an ego column (%s)", col, strings.Join(cols, ", "))
				continue
			}
			if prev, ok := egoUsed[col]; ok {
				v.fail(ep, "ego column %s is already filled by %s", col, prev)
			}
			egoUsed[col] = ep
			msg, sig, ok := strings.Cut(s.Signal, ".")
			if !ok || msg == "" || sig == "" || strings.Contains(sig, ".") {
				v.fail(ep, "%q is not MESSAGE.SIGNAL", s.Signal)
			}
			if s.Scale == 0 {
				v.fail(ep+".scale", "a scale of 0 would erase the signal")
			}
			if len(s.Values) > 0 {
				var names []string
				switch col {
				case "gear":
					names = enumNames(schema.GearNames)
				case "wipers":
					names = enumNames(schema.WipersNames)
				default:
					v.fail(ep+".values", "values apply to the enumerated columns gear and wipers only")
				}
				for raw, name := range s.Values {
					if names != nil && !slices.Contains(names, name) {
						v.fail(fmt.Sprintf("%s.values.%d", ep, raw), "%q is not one of %s", name, strings.Join(names, ", "))
					}
				}
			}
		}
	}
}

func (r *Rig) validateGNSS(v *validator) {
	names := map[string]string{}
	for i, g := range r.GNSS {
		p := fmt.Sprintf("gnss[%d]", i)
		v.unique(names, p+".name", g.Name)
		switch g.Kind {
		case GNSSSerial:
			v.need(p+".port", g.Port, "the serial port")
			if g.Baud <= 0 {
				v.fail(p+".baud", "%d must be positive", g.Baud)
			}
		case GNSSTCP, GNSSUDP, GNSSGPSD:
			addr := g.URL
			if g.Kind == GNSSGPSD && !strings.Contains(addr, ":") {
				addr += ":2947"
			}
			if _, _, err := net.SplitHostPort(addr); err != nil {
				v.fail(p+".url", "%q is not host:port", g.URL)
			}
		default:
			v.fail(p+".kind", "%q is not one of serial, tcp, udp, gpsd", g.Kind)
		}
		if g.MaxLine < 0 || (g.MaxLine > 0 && g.MaxLine < 82) {
			v.fail(p+".max_line", "%d is shorter than an NMEA sentence may be (82)", g.MaxLine)
		}
		if g.PPS != "" && !strings.HasPrefix(g.PPS, "/") {
			v.fail(p+".pps", "%q is not a device path (e.g. /dev/pps0)", g.PPS)
		}
	}
}

func (r *Rig) validateIMU(v *validator) {
	names := map[string]string{}
	for i, m := range r.IMU {
		p := fmt.Sprintf("imu[%d]", i)
		v.unique(names, p+".name", m.Name)
		switch m.Kind {
		case IMUIIO:
			v.need(p+".device", m.Device, "the IIO device")
			if m.Buffer < 0 {
				v.fail(p+".buffer", "%d must not be negative", m.Buffer)
			}
		case IMUSerial:
			v.need(p+".port", m.Port, "the serial port")
			if m.Baud <= 0 {
				v.fail(p+".baud", "%d must be positive", m.Baud)
			}
			if m.Protocol != DefaultIMUProtocol {
				v.fail(p+".protocol", "%q is not a known serial IMU protocol (vectornav)", m.Protocol)
			}
		default:
			v.fail(p+".kind", "%q is not one of iio, serial", m.Kind)
		}
		if m.Rate < 0 || m.Rate > 100000 {
			v.fail(p+".rate", "%g Hz is outside [0, 100000]", m.Rate)
		}
		if _, err := m.Axes.Map(); err != nil {
			v.fail(p+".axes", "%v", err)
		}
	}
}

// Resolve returns path as the rig means it: relative paths are relative to the rig
// file's folder.
func (r *Rig) Resolve(path string) string {
	if path == "" || filepath.IsAbs(path) || r.file == "" {
		return path
	}
	return filepath.Join(filepath.Dir(r.file), path)
}

// CheckFiles reports every file the rig names (DBC files, candump logs, camera video
// files) that cannot be opened, with the key and line that name it.
func (r *Rig) CheckFiles() error {
	v := &validator{r: r}
	check := func(path, name string) {
		if name == "" {
			return
		}
		if _, err := os.Stat(r.Resolve(name)); err != nil {
			v.fail(path, "%v", err)
		}
	}
	for i, c := range r.CAN {
		for j, d := range c.DBC {
			check(fmt.Sprintf("can[%d].dbc[%d]", i, j), d)
		}
		if c.Kind == CANCandump {
			check(fmt.Sprintf("can[%d].file", i), c.File)
		}
	}
	for i, c := range r.Cameras {
		if c.Kind == CameraFile {
			check(fmt.Sprintf("cameras[%d].file", i), c.File)
		}
	}
	return errors.Join(v.errs...)
}

func enumNames[E comparable](m map[E]string) []string {
	var out []string
	for _, n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
