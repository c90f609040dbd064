// Package rig reads the rig file: the YAML description of every input a test vehicle
// carries (CAN buses and how their DBC signals fill the ego table, GNSS receivers and
// their PPS lines, IMUs and their axis mapping, cameras and their calibration, the
// camera trigger) and of the recorder's settings.
//
// Load decodes the file strictly: an unknown key, a key given twice, a value of the
// wrong type and a missing required key are each an *Error that names the file, the
// line and column, and the key's path (e.g. "can[1].bitrate"). Every problem of a file
// is reported at once (errors.Join). Validate checks the meaning of the values (kinds,
// ranges, names that must be unique) with the same kind of error. CheckCameras and
// CheckFiles check what recording needs besides (camera codecs, sizes, rates and
// options; files that exist); Load runs neither, so that a drive's copy of its rig
// file stays readable.
//
// rig imports schema only, so that every acquire package may take its configuration
// from here.
package rig

import "time"

// Rig is one vehicle's rig file.
type Rig struct {
	Vehicle  string   `yaml:"vehicle" rig:"required"` // vehicle name, part of every drive id
	CAN      []CANBus `yaml:"can"`                    // CAN buses, each named
	GNSS     []GNSS   `yaml:"gnss"`                   // GNSS receivers
	IMU      []IMU    `yaml:"imu"`                    // inertial sensors
	Cameras  []Camera `yaml:"cameras"`                // cameras, 4 or 8 on a typical car
	Trigger  *Trigger `yaml:"trigger"`                // hardware camera trigger (nil: free-running cameras)
	Recorder Recorder `yaml:"recorder"`               // recorder settings

	file string         // the file Load read ("" when built in code)
	pos  map[string]Pos // where each key path was written, for Validate's errors
}

// Pos is a place in the rig file, 1-based.
type Pos struct{ Line, Column int }

// File returns the path Load read the rig from ("" when the Rig was built in code).
func (r *Rig) File() string { return r.file }

// Pos returns where the value at key path (e.g. "gnss[0].baud") was written, and false
// when the rig was not loaded from a file or the key was not written.
func (r *Rig) Pos(path string) (Pos, bool) {
	p, ok := r.pos[path]
	return p, ok
}

// CANKind is how a CAN bus is reached.
type CANKind string

// CAN bus kinds.
const (
	CANSocketCAN CANKind = "socketcan" // Linux SocketCAN interface (can0, vcan0)
	CANSLCAN     CANKind = "slcan"     // serial-line CAN adapter (Lawicel ASCII)
	CANCandump   CANKind = "candump"   // candump log file replayed as a bus
	CANUDP       CANKind = "udp"       // CAN-over-UDP gateway (cannelloni)
)

// CANBus is one CAN bus.
type CANBus struct {
	Name        string               `yaml:"name" rig:"required"` // bus name written into can.arrow
	Kind        CANKind              `yaml:"kind" rig:"required"`
	Device      string               `yaml:"device"`       // socketcan: interface name
	Port        string               `yaml:"port"`         // slcan: serial device
	Baud        int                  `yaml:"baud"`         // slcan: serial speed (default 115200)
	File        string               `yaml:"file"`         // candump: log file
	Realtime    bool                 `yaml:"realtime"`     // candump: replay at the log's pace (default: as fast as possible)
	Address     string               `yaml:"address"`      // udp: listen address host:port
	Bitrate     int                  `yaml:"bitrate"`      // nominal bit rate, bit/s
	DataBitrate int                  `yaml:"data_bitrate"` // CAN FD data-phase bit rate, bit/s (0: classic CAN)
	Filters     []CANFilter          `yaml:"filters"`      // receive filters (none: everything)
	DBC         []string             `yaml:"dbc"`          // DBC files, relative to the rig file
	Ego         map[string]EgoSignal `yaml:"ego"`          // ego column → DBC signal
}

// CANFilter is a SocketCAN-style receive filter: a frame passes when
// id&mask == ID&mask (or, with Invert, when it does not).
type CANFilter struct {
	ID       uint32 `yaml:"id" rig:"required"`
	Mask     uint32 `yaml:"mask"` // default: all identifier bits (0x7FF, or 0x1FFFFFFF when extended)
	Extended bool   `yaml:"extended"`
	Invert   bool   `yaml:"invert"`
}

// EgoSignal names the DBC signal that fills one ego column. In the file it is either a
// plain string "MESSAGE.SIGNAL" or a mapping with signal, scale, offset and, for the
// enumerated columns (gear, wipers), values.
type EgoSignal struct {
	Signal string           `yaml:"signal" rig:"required"` // "MESSAGE.SIGNAL"
	Scale  float64          `yaml:"scale"`                 // applied after the DBC's own scaling (default 1)
	Offset float64          `yaml:"offset"`                // added after Scale
	Values map[int64]string `yaml:"values"`                // raw value → enum name (gear, wipers)
}

// GNSSKind is how a GNSS receiver is reached.
type GNSSKind string

// GNSS kinds.
const (
	GNSSSerial GNSSKind = "serial" // NMEA 0183 on a serial port
	GNSSTCP    GNSSKind = "tcp"    // NMEA 0183 from a TCP server (receiver or NTRIP box)
	GNSSUDP    GNSSKind = "udp"    // NMEA 0183 datagrams to a local UDP port
	GNSSGPSD   GNSSKind = "gpsd"   // a gpsd daemon (JSON protocol)
)

// GNSS is one GNSS receiver.
type GNSS struct {
	Name    string   `yaml:"name"` // receiver name (default "gnss<i>")
	Kind    GNSSKind `yaml:"kind" rig:"required"`
	Port    string   `yaml:"port"`     // serial: device, e.g. /dev/ttyACM0
	Baud    int      `yaml:"baud"`     // serial: speed (default 9600)
	URL     string   `yaml:"url"`      // tcp: host:port to dial; udp: [host]:port to listen on; gpsd: host[:port] (default localhost:2947)
	PPS     string   `yaml:"pps"`      // PPS device, e.g. /dev/pps0 ("" = none)
	Raw     bool     `yaml:"raw"`      // keep each epoch's raw sentences in gnss.arrow
	MaxLine int      `yaml:"max_line"` // longest accepted sentence in bytes (0: the package default)
}

// IMUKind is how an IMU is reached.
type IMUKind string

// IMU kinds.
const (
	IMUIIO    IMUKind = "iio"    // Linux IIO buffered device
	IMUSerial IMUKind = "serial" // serial IMU (VectorNav ASCII)
)

// IMU is one inertial sensor.
type IMU struct {
	Name     string  `yaml:"name"` // sensor name (default "imu<i>")
	Kind     IMUKind `yaml:"kind" rig:"required"`
	Device   string  `yaml:"device"`   // iio: "iio:device0", a sysfs path, or the driver's name (e.g. "bmi088_accel")
	Port     string  `yaml:"port"`     // serial: device
	Baud     int     `yaml:"baud"`     // serial: speed (default 115200)
	Protocol string  `yaml:"protocol"` // serial: "vectornav" (the default and only one)
	Rate     float64 `yaml:"rate"`     // sampling frequency to set, Hz (0: leave the device's)
	Buffer   int     `yaml:"buffer"`   // iio: kernel buffer length in samples (0: the package default)
	Axes     Axes    `yaml:"axes"`     // sensor axes → vehicle axes (default identity)
}

// Axes maps the sensor's axes onto the vehicle frame (x forward, y left, z up): each
// vehicle axis names the sensor axis it is, with an optional sign, e.g.
// {x: -y, y: x, z: z}.
type Axes struct {
	X string `yaml:"x"`
	Y string `yaml:"y"`
	Z string `yaml:"z"`
}

// CameraKind is where a camera's frames come from.
type CameraKind string

// Camera kinds.
const (
	CameraV4L2 CameraKind = "v4l2" // /dev/videoN
	CameraPipe CameraKind = "pipe" // an encoder/decoder process writing to a pipe
	CameraRTSP CameraKind = "rtsp" // an RTSP IP camera
	CameraFile CameraKind = "file" // a video file
	CameraSim  CameraKind = "sim"  // the simulated camera
)

// Camera is one camera. Source-specific settings the fields here do not cover go into
// Options (see CameraOptions).
type Camera struct {
	Index       int               `yaml:"index" rig:"required"` // 0–7, the N of camN.mp4
	Name        string            `yaml:"name"`                 // default "cam<index>"
	Kind        CameraKind        `yaml:"kind" rig:"required"`
	Device      string            `yaml:"device"`  // v4l2: /dev/videoN
	URL         string            `yaml:"url"`     // rtsp: rtsp://…
	Command     string            `yaml:"command"` // pipe: the command line to start
	File        string            `yaml:"file"`    // file: the video file
	Width       int               `yaml:"width"`
	Height      int               `yaml:"height"`
	FPS         float64           `yaml:"fps"`
	Codec       string            `yaml:"codec"` // mjpeg, h264, h265 (v4l2 raw: yuyv, nv12)
	Options     map[string]string `yaml:"options"`
	Calibration *Calibration      `yaml:"calibration"`
}

// Calibration is a camera's pinhole intrinsics and its mounting on the vehicle.
type Calibration struct {
	FX       float64 `yaml:"fx" json:"fx" rig:"required"` // focal length, pixels
	FY       float64 `yaml:"fy" json:"fy" rig:"required"`
	CX       float64 `yaml:"cx" json:"cx" rig:"required"` // principal point, pixels
	CY       float64 `yaml:"cy" json:"cy" rig:"required"`
	XM       float64 `yaml:"x_m" json:"x_m"`                          // position ahead of the vehicle origin, m
	YM       float64 `yaml:"y_m" json:"y_m"`                          // position left of the vehicle origin, m
	HeightM  float64 `yaml:"height_m" json:"height_m" rig:"required"` // camera height above the road, m
	YawDeg   float64 `yaml:"yaw_deg" json:"yaw_deg"`                  // left positive
	PitchDeg float64 `yaml:"pitch_deg" json:"pitch_deg"`              // down positive
}

// Trigger is the hardware camera trigger.
type Trigger struct {
	RateHz float64       `yaml:"rate_hz" rig:"required"` // frames per second, e.g. 30
	Phase  time.Duration `yaml:"phase"`                  // delay of the first trigger after the PPS edge
}

// Recorder holds the recorder's settings.
type Recorder struct {
	Segment       time.Duration `yaml:"segment"`        // segment length (default 60s)
	FlushInterval time.Duration `yaml:"flush_interval"` // longest time rows wait before they reach the disk (default 1s): a crash loses at most this much
	Compression   string        `yaml:"compression"`    // zstd (default), zstd-small, lz4 or none
}

// Defaults applied by Load.
const (
	DefaultSegment       = 60 * time.Second
	DefaultFlushInterval = time.Second
	DefaultCompression   = "zstd"
	DefaultGNSSBaud      = 9600
	DefaultSerialBaud    = 115200
	DefaultGPSD          = "localhost:2947"
	DefaultIMUProtocol   = "vectornav"
)
