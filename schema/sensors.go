package schema

import "math"

var nan = math.NaN()
var nan32 = float32(math.NaN())

// NaN32 is float32 NaN, the "no value" of float32 columns.
func NaN32() float32 { return nan32 }

// CAN is a row of can.arrow: one raw CAN or CAN FD frame as seen on a bus.
type CAN struct {
	T       int64  // reference time
	TDevice int64  // device/adapter timestamp, ns in its own clock (0: none)
	THost   int64  // host monotonic arrival, ns
	Bus     string // bus name from the rig, e.g. "can0", "pt", "chassis"
	ID      uint32 // 11- or 29-bit identifier, without flag bits
	Ext     bool   // 29-bit identifier
	FD      bool   // CAN FD frame
	RTR     bool   // remote transmission request
	Err     bool   // error frame (ID holds the error class bits, Data the error detail)
	BRS     bool   // FD bit-rate switch
	ESI     bool   // FD error state indicator
	DLC     uint8  // data length code as on the wire (0–15); len(Data) is the payload length
	Data    []byte // payload, 0–8 bytes classic, 0–64 FD
}

// Table returns TableCAN.
func (*CAN) Table() TableName { return TableCAN }

// CANTable describes can.arrow.
var CANTable = newTable(TableCAN, FormatVersion, "one row per raw CAN/CAN FD frame received",
	Time("t", "reference time of reception", func(r *CAN) *int64 { return &r.T }),
	OptTime("t_device", "timestamp in the adapter's or kernel's clock", func(r *CAN) *int64 { return &r.TDevice }),
	Int64("t_host", "ns", "host monotonic clock at arrival", func(r *CAN) *int64 { return &r.THost }),
	String("bus", "", "bus name from the rig", func(r *CAN) *string { return &r.Bus }),
	Uint32("id", "", "arbitration id (11 or 29 bit), flag bits removed", func(r *CAN) *uint32 { return &r.ID }),
	Bool("extended", "29-bit identifier", func(r *CAN) *bool { return &r.Ext }),
	Bool("fd", "CAN FD frame", func(r *CAN) *bool { return &r.FD }),
	Bool("rtr", "remote transmission request", func(r *CAN) *bool { return &r.RTR }),
	Bool("error", "error frame: id holds the error class (CAN_ERR_*), data the detail", func(r *CAN) *bool { return &r.Err }),
	Bool("brs", "CAN FD bit-rate switch", func(r *CAN) *bool { return &r.BRS }),
	Bool("esi", "CAN FD error state indicator", func(r *CAN) *bool { return &r.ESI }),
	Uint8("dlc", "", "data length code as on the wire (0-15)", func(r *CAN) *uint8 { return &r.DLC }),
	Binary("data", "", "payload bytes", func(r *CAN) *[]byte { return &r.Data }),
)

// GNSS is a row of gnss.arrow: one navigation epoch of a receiver, merged from the
// sentences that report it (GGA, RMC, GSA, VTG, GST, ZDA, GNS…). Values a receiver
// did not report in that epoch are NaN (null on disk).
type GNSS struct {
	T        int64      // reference time
	TDevice  int64      // the receiver's UTC time of the fix, ns since the Unix epoch (0: unknown)
	THost    int64      // host monotonic arrival of the epoch's first sentence
	Receiver string     // receiver name from the rig
	Talker   string     // talker of the position sentence: GP, GN, GL, GA, GB, BD, QZ…
	Quality  FixQuality // GGA fix quality
	Mode     FixMode    // GSA/RMC fix mode
	Lat      float64    // degrees, WGS-84, north positive
	Lon      float64    // degrees, WGS-84, east positive
	Alt      float64    // metres above mean sea level
	Speed    float64    // m/s over ground
	Course   float64    // degrees true
	HDOP     float64
	PDOP     float64
	VDOP     float64
	Sats     int32   // satellites used (-1: unknown)
	StdLat   float64 // 1-sigma latitude error, m (GST)
	StdLon   float64 // 1-sigma longitude error, m (GST)
	StdAlt   float64 // 1-sigma altitude error, m (GST)
	Raw      string  // the epoch's raw sentences joined by "\n" when raw capture is on
}

// Table returns TableGNSS.
func (*GNSS) Table() TableName { return TableGNSS }

// GNSSTable describes gnss.arrow.
var GNSSTable = newTable(TableGNSS, FormatVersion, "one row per GNSS navigation epoch, merged from the NMEA sentences of that epoch",
	Time("t", "reference time of the epoch", func(r *GNSS) *int64 { return &r.T }),
	OptTime("t_device", "receiver UTC time of the fix", func(r *GNSS) *int64 { return &r.TDevice }),
	Int64("t_host", "ns", "host monotonic clock at arrival", func(r *GNSS) *int64 { return &r.THost }),
	String("receiver", "", "receiver name from the rig", func(r *GNSS) *string { return &r.Receiver }),
	String("talker", "", "NMEA talker of the position sentence (GP, GN, GL, GA, GB, BD, QZ)", func(r *GNSS) *string { return &r.Talker }),
	Enum("quality", "GGA fix quality", FixQualityNames, func(r *GNSS) *FixQuality { return &r.Quality }),
	Enum("mode", "fix mode (GSA/RMC)", FixModeNames, func(r *GNSS) *FixMode { return &r.Mode }),
	Float64("lat", "deg", "latitude WGS-84, north positive", func(r *GNSS) *float64 { return &r.Lat }),
	Float64("lon", "deg", "longitude WGS-84, east positive", func(r *GNSS) *float64 { return &r.Lon }),
	Float64("alt", "m", "altitude above mean sea level", func(r *GNSS) *float64 { return &r.Alt }),
	Float64("speed", "m/s", "speed over ground", func(r *GNSS) *float64 { return &r.Speed }),
	Float64("course", "deg", "course over ground, true", func(r *GNSS) *float64 { return &r.Course }),
	Float64("hdop", "1", "horizontal dilution of precision", func(r *GNSS) *float64 { return &r.HDOP }),
	Float64("pdop", "1", "position dilution of precision", func(r *GNSS) *float64 { return &r.PDOP }),
	Float64("vdop", "1", "vertical dilution of precision", func(r *GNSS) *float64 { return &r.VDOP }),
	Int32("sats", "1", "satellites used in the fix (-1: unknown)", func(r *GNSS) *int32 { return &r.Sats }),
	Float64("std_lat", "m", "1-sigma latitude error (GST)", func(r *GNSS) *float64 { return &r.StdLat }),
	Float64("std_lon", "m", "1-sigma longitude error (GST)", func(r *GNSS) *float64 { return &r.StdLon }),
	Float64("std_alt", "m", "1-sigma altitude error (GST)", func(r *GNSS) *float64 { return &r.StdAlt }),
	String("raw", "", "raw NMEA sentences of the epoch joined by newlines (empty unless raw capture is on)", func(r *GNSS) *string { return &r.Raw }),
)

// NewGNSS returns a GNSS row with every measurement NaN and Sats -1.
func NewGNSS() *GNSS {
	return &GNSS{Lat: nan, Lon: nan, Alt: nan, Speed: nan, Course: nan, HDOP: nan, PDOP: nan, VDOP: nan,
		Sats: -1, StdLat: nan, StdLon: nan, StdAlt: nan}
}

// IMU is a row of imu.arrow: one inertial sample in SI units, in the vehicle frame
// after the rig's axis mapping (x forward, y left, z up).
type IMU struct {
	T          int64
	TDevice    int64
	THost      int64
	Sensor     string
	AX, AY, AZ float32 // m/s²
	GX, GY, GZ float32 // rad/s
	Temp       float32 // °C (NaN: none)
	MX, MY, MZ float32 // µT (NaN: none)
}

// Table returns TableIMU.
func (*IMU) Table() TableName { return TableIMU }

// IMUTable describes imu.arrow.
var IMUTable = newTable(TableIMU, FormatVersion, "one row per inertial sample, vehicle frame (x forward, y left, z up)",
	Time("t", "reference time of the sample", func(r *IMU) *int64 { return &r.T }),
	OptTime("t_device", "timestamp in the sensor's or kernel's clock", func(r *IMU) *int64 { return &r.TDevice }),
	Int64("t_host", "ns", "host monotonic clock at arrival", func(r *IMU) *int64 { return &r.THost }),
	String("sensor", "", "sensor name from the rig", func(r *IMU) *string { return &r.Sensor }),
	Float32("ax", "m/s^2", "acceleration x (forward)", func(r *IMU) *float32 { return &r.AX }),
	Float32("ay", "m/s^2", "acceleration y (left)", func(r *IMU) *float32 { return &r.AY }),
	Float32("az", "m/s^2", "acceleration z (up)", func(r *IMU) *float32 { return &r.AZ }),
	Float32("gx", "rad/s", "angular rate about x (roll)", func(r *IMU) *float32 { return &r.GX }),
	Float32("gy", "rad/s", "angular rate about y (pitch)", func(r *IMU) *float32 { return &r.GY }),
	Float32("gz", "rad/s", "angular rate about z (yaw, left positive)", func(r *IMU) *float32 { return &r.GZ }),
	Float32("temp", "degC", "sensor temperature", func(r *IMU) *float32 { return &r.Temp }),
	Float32("mx", "uT", "magnetic field x", func(r *IMU) *float32 { return &r.MX }),
	Float32("my", "uT", "magnetic field y", func(r *IMU) *float32 { return &r.MY }),
	Float32("mz", "uT", "magnetic field z", func(r *IMU) *float32 { return &r.MZ }),
)

// Ego is a row of ego.arrow: the ego vehicle's state decoded from CAN. A row is
// written whenever a mapped signal updates and carries the latest value of every
// signal (sample and hold); a signal not yet seen is NaN/unknown.
type Ego struct {
	T             int64
	Source        string  // bus or "sim"
	Speed         float32 // m/s
	Gear          Gear
	EngineRPM     float32 // 1/min
	Wipers        Wipers
	SteeringAngle float32 // deg at the steering wheel, left positive
	TurnLeft      bool
	TurnRight     bool
	Throttle      float32 // % pedal, 0–100
	Brake         float32 // % pedal or pressure, 0–100 (100 when only a switch exists)
	BrakePressed  bool
	YawRate       float32 // deg/s, left positive (NaN: car has none)
}

// Table returns TableEgo.
func (*Ego) Table() TableName { return TableEgo }

// NewEgo returns an Ego row with every value unknown.
func NewEgo() *Ego {
	return &Ego{Speed: nan32, EngineRPM: nan32, SteeringAngle: nan32, Throttle: nan32, Brake: nan32, YawRate: nan32}
}

// EgoTable describes ego.arrow.
var EgoTable = newTable(TableEgo, FormatVersion, "ego-vehicle state decoded from CAN, one row per update, latest value of every signal",
	Time("t", "reference time of the update", func(r *Ego) *int64 { return &r.T }),
	String("source", "", "bus the update came from, or sim", func(r *Ego) *string { return &r.Source }),
	Float32("speed", "m/s", "vehicle speed", func(r *Ego) *float32 { return &r.Speed }),
	Enum("gear", "selected gear", GearNames, func(r *Ego) *Gear { return &r.Gear }),
	Float32("engine_rpm", "1/min", "engine speed", func(r *Ego) *float32 { return &r.EngineRPM }),
	Enum("wipers", "wiper switch", WipersNames, func(r *Ego) *Wipers { return &r.Wipers }),
	Float32("steering_angle", "deg", "steering-wheel angle, left positive", func(r *Ego) *float32 { return &r.SteeringAngle }),
	Bool("turn_left", "left turn signal on", func(r *Ego) *bool { return &r.TurnLeft }),
	Bool("turn_right", "right turn signal on", func(r *Ego) *bool { return &r.TurnRight }),
	Float32("throttle", "%", "accelerator pedal", func(r *Ego) *float32 { return &r.Throttle }),
	Float32("brake", "%", "brake pedal or pressure (100 when only a switch exists)", func(r *Ego) *float32 { return &r.Brake }),
	Bool("brake_pressed", "brake pedal pressed", func(r *Ego) *bool { return &r.BrakePressed }),
	Float32("yaw_rate", "deg/s", "yaw rate, left positive", func(r *Ego) *float32 { return &r.YawRate }),
)

// SyncRow is a row of sync.arrow: the periodic health of one clock estimate.
type SyncRow struct {
	T           int64
	Source      string    // the clock: "reference", or a source name
	State       SyncState // estimator state
	Offset      int64     // ns: device (or host) time minus reference time at T
	DriftPPM    float64   // estimated drift of the device clock against the reference
	Jitter      float64   // ns: residual jitter (RMS) of recent samples
	Uncertainty float64   // ns: bound on the mapping error at T
	Samples     int32     // samples used by the estimate
}

// Table returns TableSync.
func (*SyncRow) Table() TableName { return TableSync }

// SyncTable describes sync.arrow.
var SyncTable = newTable(TableSync, FormatVersion, "periodic health of every clock estimate: offset, drift, jitter, uncertainty, state",
	Time("t", "reference time of the estimate", func(r *SyncRow) *int64 { return &r.T }),
	String("source", "", "clock: reference, or a source name", func(r *SyncRow) *string { return &r.Source }),
	Enum("state", "estimator state", SyncStateNames, func(r *SyncRow) *SyncState { return &r.State }),
	Int64("offset", "ns", "device time minus reference time", func(r *SyncRow) *int64 { return &r.Offset }),
	Float64("drift_ppm", "ppm", "drift of the device clock against the reference", func(r *SyncRow) *float64 { return &r.DriftPPM }),
	Float64("jitter", "ns", "residual jitter (RMS) of recent samples", func(r *SyncRow) *float64 { return &r.Jitter }),
	Float64("uncertainty", "ns", "bound on the mapping error", func(r *SyncRow) *float64 { return &r.Uncertainty }),
	Int32("samples", "1", "samples in the estimate", func(r *SyncRow) *int32 { return &r.Samples }),
)
