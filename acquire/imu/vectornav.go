package imu

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// VectorNav ASCII protocol (VN-100/200/300 user manuals, "ASCII asynchronous
// outputs"): a line "$VNxxx,f1,f2,…*CS" where CS is either two hex digits (XOR of the
// bytes between '$' and '*', as NMEA) or four (CRC-16/XMODEM of the same bytes).
//
//	$VNIMU,magX,magY,magZ,accX,accY,accZ,gyrX,gyrY,gyrZ,temp,pres  gauss, m/s², rad/s, °C, kPa
//	$VNYMR,yaw,pitch,roll,magX,magY,magZ,accX,accY,accZ,gyrX,gyrY,gyrZ  degrees, gauss, m/s², rad/s
//	$VNERR,code                                                    the sensor rejected a command
//
// The sensor frame is right-handed with x forward, y right and z down; a sensor
// mounted square in the car maps to the vehicle frame by axes {x: x, y: -y, z: -z}.

// Errors of the VectorNav parser.
var (
	ErrVNChecksum = errors.New("vectornav checksum mismatch")
	ErrVNFormat   = errors.New("bad vectornav line")
	ErrVNUnknown  = errors.New("vectornav message not read here")
)

// SensorError is a $VNERR message: the sensor's error code.
type SensorError struct{ Code int }

func (e *SensorError) Error() string { return fmt.Sprintf("vectornav error %d", e.Code) }

// VNSample is one VectorNav measurement, in the sensor frame and the sensor's units.
type VNSample struct {
	Type     string     // "VNIMU" or "VNYMR"
	Mag      [3]float32 // gauss
	Accel    [3]float32 // m/s²
	Gyro     [3]float32 // rad/s
	Temp     float32    // °C (NaN in VNYMR)
	Pressure float32    // kPa (NaN in VNYMR)
	YPR      [3]float32 // yaw, pitch, roll in degrees (NaN in VNIMU)
}

// MaxVNLine caps one VectorNav line; the longest ASCII output is about 200 bytes.
const MaxVNLine = 256

// ParseVN parses one line (without its line end). Errors name the field and column.
func ParseVN(line []byte) (VNSample, error) {
	var s VNSample
	if len(line) < 2 || line[0] != '$' {
		return s, fmt.Errorf("%w: does not start with '$'", ErrVNFormat)
	}
	star := -1
	for i := len(line) - 1; i > 0; i-- {
		if line[i] == '*' {
			star = i
			break
		}
	}
	if star < 0 {
		return s, fmt.Errorf("%w: no checksum", ErrVNFormat)
	}
	body, sum := line[1:star], string(line[star+1:])
	want, err := strconv.ParseUint(sum, 16, 16)
	switch {
	case err != nil || (len(sum) != 2 && len(sum) != 4):
		return s, fmt.Errorf("%w: checksum field %q at column %d", ErrVNFormat, sum, star+2)
	case len(sum) == 2 && uint8(want) != xor8(body):
		return s, fmt.Errorf("%w: %s, computed %02X", ErrVNChecksum, sum, xor8(body))
	case len(sum) == 4 && uint16(want) != CRC16(body):
		return s, fmt.Errorf("%w: %s, computed %04X", ErrVNChecksum, sum, CRC16(body))
	}
	var fields [13][]byte
	cols := [13]int{}
	n, start := 0, 0
	for i := 0; i <= len(body); i++ {
		if i == len(body) || body[i] == ',' {
			if n == len(fields) {
				return s, fmt.Errorf("%w: more than %d fields", ErrVNFormat, len(fields)-1)
			}
			fields[n], cols[n] = body[start:i], start+2
			n++
			start = i + 1
		}
	}
	nan := float32(math.NaN())
	s.Type = string(fields[0])
	var dst []*float32
	switch s.Type {
	case "VNIMU":
		s.YPR = [3]float32{nan, nan, nan}
		dst = []*float32{&s.Mag[0], &s.Mag[1], &s.Mag[2], &s.Accel[0], &s.Accel[1], &s.Accel[2],
			&s.Gyro[0], &s.Gyro[1], &s.Gyro[2], &s.Temp, &s.Pressure}
	case "VNYMR":
		s.Temp, s.Pressure = nan, nan
		dst = []*float32{&s.YPR[0], &s.YPR[1], &s.YPR[2], &s.Mag[0], &s.Mag[1], &s.Mag[2],
			&s.Accel[0], &s.Accel[1], &s.Accel[2], &s.Gyro[0], &s.Gyro[1], &s.Gyro[2]}
	case "VNERR":
		if n != 2 {
			return s, fmt.Errorf("%w: VNERR with %d fields", ErrVNFormat, n-1)
		}
		code, err := strconv.Atoi(string(fields[1]))
		if err != nil {
			return s, fmt.Errorf("%w: VNERR code %q at column %d", ErrVNFormat, fields[1], cols[1])
		}
		return s, &SensorError{Code: code}
	default:
		return s, fmt.Errorf("%w: %s", ErrVNUnknown, s.Type)
	}
	if n-1 != len(dst) {
		return s, fmt.Errorf("%w: %s with %d fields, want %d", ErrVNFormat, s.Type, n-1, len(dst))
	}
	for i, p := range dst {
		v, err := strconv.ParseFloat(string(fields[i+1]), 32)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return s, fmt.Errorf("%w: %s field %d %q at column %d is not a number", ErrVNFormat, s.Type, i+1, fields[i+1], cols[i+1])
		}
		*p = float32(v)
	}
	return s, nil
}

// AppendVNIMU appends s as a $VNIMU line with an 8-bit checksum and CR LF, in the
// sensor's own number formats.
func AppendVNIMU(dst []byte, s VNSample) []byte {
	start := len(dst)
	dst = append(dst, "$VNIMU"...)
	for _, v := range s.Mag {
		dst = appendSigned(dst, v, 4)
	}
	for _, v := range s.Accel {
		dst = appendSigned(dst, v, 3)
	}
	for _, v := range s.Gyro {
		dst = appendSigned(dst, v, 6)
	}
	dst = appendSigned(dst, s.Temp, 1)
	dst = appendSigned(dst, s.Pressure, 3)
	return appendXOR(dst, start)
}

// AppendVNCommand appends a command line, e.g. "VNWRG,07,200", with its checksum.
func AppendVNCommand(dst []byte, body string) []byte {
	start := len(dst)
	dst = append(append(dst, '$'), body...)
	return appendXOR(dst, start)
}

func appendSigned(dst []byte, v float32, prec int) []byte {
	dst = append(dst, ',')
	if v == 0 {
		v = 0 // not −0, which would be written "+-0.0…" (found by FuzzVectorNav)
	}
	if v >= 0 {
		dst = append(dst, '+')
	}
	return strconv.AppendFloat(dst, float64(v), 'f', prec, 32)
}

func appendXOR(dst []byte, start int) []byte {
	sum := xor8(dst[start+1:])
	return append(dst, '*', hex[sum>>4], hex[sum&15], '\r', '\n')
}

const hex = "0123456789ABCDEF"

func xor8(b []byte) uint8 {
	var c uint8
	for _, x := range b {
		c ^= x
	}
	return c
}

// CRC16 is VectorNav's 16-bit checksum: CRC-16/XMODEM (polynomial 0x1021, initial 0),
// computed as the manual's reference code does.
func CRC16(b []byte) uint16 {
	var crc uint16
	for _, x := range b {
		crc = crc>>8 | crc<<8
		crc ^= uint16(x)
		crc ^= uint16(uint8(crc&0xff) >> 4)
		crc ^= crc << 12
		crc ^= (crc & 0x00ff) << 5
	}
	return crc
}

// vnLines splits a serial byte stream into VectorNav lines: anything before '$' is
// noise, a line ends at CR or LF, and lines longer than MaxVNLine are dropped.
type vnLines struct {
	buf   []byte
	in    bool
	noise int64
	long  int64
}

func (l *vnLines) feed(p []byte, emit func([]byte)) {
	for _, c := range p {
		switch {
		case c == '$':
			if l.in && len(l.buf) > 1 {
				emit(l.buf) // cut by a new start: the parser will reject it
			}
			l.buf, l.in = append(l.buf[:0], c), true
		case !l.in:
			if c != '\r' && c != '\n' {
				l.noise++
			}
		case c == '\r' || c == '\n':
			emit(l.buf)
			l.in = false
		case len(l.buf) >= MaxVNLine:
			l.long++
			l.in = false
		default:
			l.buf = append(l.buf, c)
		}
	}
}
