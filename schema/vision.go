package schema

import "image"

// Frame is a row of frames.arrow, the camera index: one row per recorded camera frame,
// saying where in which video file its bytes are.
type Frame struct {
	T          int64   // reference time of the exposure (trigger instant)
	TDevice    int64   // camera/driver timestamp (0: none)
	THost      int64   // host monotonic arrival
	Camera     uint8   // camera index in the rig, 0–7
	Seq        int64   // the camera's own frame counter
	TriggerID  int64   // frame set (trigger) id; -1 when not assigned
	ExposureUS float32 // exposure time, µs (NaN: unknown)
	Codec      Codec
	Width      uint16
	Height     uint16
	Keyframe   bool   // sync sample: decoding can start here
	File       string // video file relative to the segment folder, e.g. "cam0.mp4"
	Offset     int64  // byte offset of the frame's data in File
	Size       int32  // bytes of the frame's data
	Sample     int64  // 0-based sample number in File
	PTS        int64  // presentation time in File, ns from the file's first frame
}

// Table returns TableFrames.
func (*Frame) Table() TableName { return TableFrames }

// FramesTable describes frames.arrow.
var FramesTable = newTable(TableFrames, FormatVersion, "camera index: one row per recorded frame and where its bytes are in the segment's video file",
	Time("t", "reference time of the exposure (trigger instant)", func(r *Frame) *int64 { return &r.T }),
	OptTime("t_device", "camera or driver timestamp", func(r *Frame) *int64 { return &r.TDevice }),
	Int64("t_host", "ns", "host monotonic clock at arrival", func(r *Frame) *int64 { return &r.THost }),
	Uint8("camera", "", "camera index in the rig", func(r *Frame) *uint8 { return &r.Camera }),
	Int64("seq", "", "the camera's own frame counter", func(r *Frame) *int64 { return &r.Seq }),
	ID("trigger_id", "frame-set (trigger) id shared by all cameras of one instant", func(r *Frame) *int64 { return &r.TriggerID }),
	Float32("exposure", "us", "exposure time", func(r *Frame) *float32 { return &r.ExposureUS }),
	Enum("codec", "video codec", CodecNames, func(r *Frame) *Codec { return &r.Codec }),
	Uint16("width", "px", "frame width", func(r *Frame) *uint16 { return &r.Width }),
	Uint16("height", "px", "frame height", func(r *Frame) *uint16 { return &r.Height }),
	Bool("keyframe", "decoding can start at this frame", func(r *Frame) *bool { return &r.Keyframe }),
	String("file", "", "video file relative to the segment folder", func(r *Frame) *string { return &r.File }),
	Int64("offset", "byte", "offset of the frame's data in the file", func(r *Frame) *int64 { return &r.Offset }),
	Int32("size", "byte", "length of the frame's data", func(r *Frame) *int32 { return &r.Size }),
	Int64("sample", "", "0-based sample number in the file", func(r *Frame) *int64 { return &r.Sample }),
	Int64("pts", "ns", "presentation time in the file, from its first frame", func(r *Frame) *int64 { return &r.PTS }),
)

// VideoFrame is what a camera source publishes: the frames row it knows (t, camera,
// seq, trigger, codec, size, keyframe) and the encoded bytes. The recorder writes the
// bytes to the camera's video file, fills File/Offset/Size/Sample/PTS and writes the
// frames row. It is not a table of its own.
type VideoFrame struct {
	Frame
	// Data is one access unit: a JPEG image, or H.264/H.265 NAL units in AVCC form
	// (4-byte big-endian length before each NAL unit), parameter sets excluded.
	Data []byte
	// Params are the codec parameter sets, in order VPS (H.265 only), SPS, PPS;
	// required on the first frame of a camera and whenever they change.
	Params [][]byte
	// Picture is the uncompressed picture Data was encoded from, kept for live
	// consumers (the detector) by a raw capture camera whose encoder is asked to
	// (acquire/camera EncoderConfig.KeepPicture); nil otherwise. Never written: the
	// frame-set stage takes it off the frame before the recorder queues it.
	Picture image.Image
}

// Table returns TableFrames.
func (*VideoFrame) Table() TableName { return TableFrames }

// Object is a row of objects.arrow: one detected (and tracked) object in one camera
// frame, with its range and motion relative to the ego vehicle.
type Object struct {
	T           int64 // reference time of the frame
	TriggerID   int64 // frame set (-1: none)
	Camera      uint8
	FrameSeq    int64  // the frame's seq in frames.arrow
	TrackID     int64  // stable track id (-1: untracked)
	Class       uint16 // COCO class index (0 = person, 2 = car, …; see the model's labels)
	Label       string // class name
	Score       float32
	X1, Y1      float32 // box top-left, px in the camera image
	X2, Y2      float32 // box bottom-right, px
	Distance    float32 // m, longitudinal from the ego front bumper (NaN: no ranging)
	Lateral     float32 // m, left positive
	RelSpeed    float32 // m/s, rate of change of distance (negative: closing)
	RelSpeedStd float32 // m/s, 1-sigma of RelSpeed
	TTC         float32 // s, time to collision (NaN: not closing)
	Width       float32 // m, object width
	Lane        Lane
	Manner      Manner
}

// Table returns TableObjects.
func (*Object) Table() TableName { return TableObjects }

// ObjectsTable describes objects.arrow.
var ObjectsTable = newTable(TableObjects, FormatVersion, "one row per detected object per camera frame, with track, range and motion",
	Time("t", "reference time of the frame", func(r *Object) *int64 { return &r.T }),
	ID("trigger_id", "frame set", func(r *Object) *int64 { return &r.TriggerID }),
	Uint8("camera", "", "camera index", func(r *Object) *uint8 { return &r.Camera }),
	Int64("frame_seq", "", "seq of the frame in frames.arrow", func(r *Object) *int64 { return &r.FrameSeq }),
	ID("track_id", "stable track id", func(r *Object) *int64 { return &r.TrackID }),
	Uint16("class", "", "COCO class index of the model's labels (0 person, 2 car, 5 bus, 7 truck, …)", func(r *Object) *uint16 { return &r.Class }),
	String("label", "", "class name", func(r *Object) *string { return &r.Label }),
	Float32("score", "1", "detection confidence", func(r *Object) *float32 { return &r.Score }),
	Float32("x1", "px", "box left", func(r *Object) *float32 { return &r.X1 }),
	Float32("y1", "px", "box top", func(r *Object) *float32 { return &r.Y1 }),
	Float32("x2", "px", "box right", func(r *Object) *float32 { return &r.X2 }),
	Float32("y2", "px", "box bottom", func(r *Object) *float32 { return &r.Y2 }),
	Float32("distance", "m", "x of the object's near edge, ahead of the ego front bumper (negative behind it); from sideways cameras the x of its centre", func(r *Object) *float32 { return &r.Distance }),
	Float32("lateral", "m", "lateral offset, left positive", func(r *Object) *float32 { return &r.Lateral }),
	Float32("rel_speed", "m/s", "rate of change of distance (negative: closing); one figure for all the cameras that track the object at once", func(r *Object) *float32 { return &r.RelSpeed }),
	Float32("rel_speed_std", "m/s", "1-sigma of rel_speed from the track filter, or from the fusion of the object's tracks in several cameras", func(r *Object) *float32 { return &r.RelSpeedStd }),
	Float32("ttc", "s", "time to collision (null when not closing); one figure for all the cameras that track the object at once", func(r *Object) *float32 { return &r.TTC }),
	Float32("width", "m", "object width", func(r *Object) *float32 { return &r.Width }),
	Enum("lane", "lane assignment", LaneNames, func(r *Object) *Lane { return &r.Lane }),
	Enum("manner", "lane-change manner", MannerNames, func(r *Object) *Manner { return &r.Manner }),
)

// Target is a row of targets.arrow: the ADAS view of one frame set.
type Target struct {
	T             int64
	TriggerID     int64
	EgoSpeed      float32 // m/s used for the corridor
	CIPV          int64   // track id of the closest in-path vehicle (-1: none)
	CIPVDistance  float32 // m
	CIPVRelSpeed  float32 // m/s
	CIPVTTC       float32 // s
	CutIn         int64   // track id of the cut-in vehicle (-1: none)
	CutInTTC      float32 // s
	FCW           bool
	AEB           bool
	Ahead         int32   // number of targets ahead in the ego corridor and adjacent lanes
	CutInLeft     bool    // left cut-in zone occupied
	CutInRight    bool    // right cut-in zone occupied
	RequiredDecel float32 // m/s² the ego needs to avoid the CIPV (NaN: none)
}

// Table returns TableTargets.
func (*Target) Table() TableName { return TableTargets }

// TargetsTable describes targets.arrow.
var TargetsTable = newTable(TableTargets, FormatVersion, "one row per frame set: closest in-path vehicle, cut-in, FCW/AEB warnings",
	Time("t", "reference time of the frame set", func(r *Target) *int64 { return &r.T }),
	ID("trigger_id", "frame set", func(r *Target) *int64 { return &r.TriggerID }),
	Float32("ego_speed", "m/s", "ego speed used for the path corridor", func(r *Target) *float32 { return &r.EgoSpeed }),
	ID("cipv_id", "track id of the closest in-path vehicle", func(r *Target) *int64 { return &r.CIPV }),
	Float32("cipv_distance", "m", "distance to the CIPV", func(r *Target) *float32 { return &r.CIPVDistance }),
	Float32("cipv_rel_speed", "m/s", "relative speed of the CIPV (negative: closing)", func(r *Target) *float32 { return &r.CIPVRelSpeed }),
	Float32("cipv_ttc", "s", "time to collision with the CIPV", func(r *Target) *float32 { return &r.CIPVTTC }),
	ID("cut_in_id", "track id of the cut-in vehicle", func(r *Target) *int64 { return &r.CutIn }),
	Float32("cut_in_ttc", "s", "time to collision with the cut-in vehicle", func(r *Target) *float32 { return &r.CutInTTC }),
	Bool("fcw", "forward-collision warning active", func(r *Target) *bool { return &r.FCW }),
	Bool("aeb", "emergency-brake warning active", func(r *Target) *bool { return &r.AEB }),
	Int32("ahead", "1", "number of targets ahead", func(r *Target) *int32 { return &r.Ahead }),
	Bool("cut_in_left", "left cut-in zone occupied", func(r *Target) *bool { return &r.CutInLeft }),
	Bool("cut_in_right", "right cut-in zone occupied", func(r *Target) *bool { return &r.CutInRight }),
	Float32("required_decel", "m/s^2", "deceleration the ego needs to avoid the CIPV", func(r *Target) *float32 { return &r.RequiredDecel }),
)

// Truth is a row of truth.arrow (simulated drives only): the ground truth of one actor
// at one frame set, per camera that sees it (Camera 255: the actor's state with no box).
type Truth struct {
	T         int64
	TriggerID int64
	ActorID   int32
	Kind      ActorKind
	Camera    uint8   // camera index, or 255 for the camera-independent state row
	X1, Y1    float32 // px (NaN in the state row)
	X2, Y2    float32
	Distance  float32 // m, longitudinal from the ego front bumper
	Lateral   float32 // m, left positive, actor centre
	RelSpeed  float32 // m/s, rate of change of distance
	TTC       float32 // s (NaN: not closing)
	Width     float32 // m
	Lane      Lane
	CutIn     bool // the actor is cutting into the ego lane
	InPath    bool // the actor is the closest in-path vehicle
}

// TruthNoCamera is Truth.Camera for the camera-independent state row.
const TruthNoCamera = 255

// Table returns TableTruth.
func (*Truth) Table() TableName { return TableTruth }

// TruthTable describes truth.arrow.
var TruthTable = newTable(TableTruth, FormatVersion, "simulated drives only: every actor's true state per frame set, and its box per camera that sees it",
	Time("t", "reference time of the frame set", func(r *Truth) *int64 { return &r.T }),
	ID("trigger_id", "frame set", func(r *Truth) *int64 { return &r.TriggerID }),
	Int32("actor_id", "", "actor id in the scenario", func(r *Truth) *int32 { return &r.ActorID }),
	Enum("kind", "actor kind", ActorKindNames, func(r *Truth) *ActorKind { return &r.Kind }),
	Uint8("camera", "", "camera index, 255 for the camera-independent state row", func(r *Truth) *uint8 { return &r.Camera }),
	Float32("x1", "px", "box left", func(r *Truth) *float32 { return &r.X1 }),
	Float32("y1", "px", "box top", func(r *Truth) *float32 { return &r.Y1 }),
	Float32("x2", "px", "box right", func(r *Truth) *float32 { return &r.X2 }),
	Float32("y2", "px", "box bottom", func(r *Truth) *float32 { return &r.Y2 }),
	Float32("distance", "m", "gap from the ego front bumper to the actor's rear for actors ahead; behind, minus the gap from the ego rear bumper to the actor's front; 0 alongside", func(r *Truth) *float32 { return &r.Distance }),
	Float32("lateral", "m", "lateral offset of the actor centre, left positive", func(r *Truth) *float32 { return &r.Lateral }),
	Float32("rel_speed", "m/s", "rate of change of distance", func(r *Truth) *float32 { return &r.RelSpeed }),
	Float32("ttc", "s", "time to collision (null when not closing)", func(r *Truth) *float32 { return &r.TTC }),
	Float32("width", "m", "actor width", func(r *Truth) *float32 { return &r.Width }),
	Enum("lane", "lane of the actor", LaneNames, func(r *Truth) *Lane { return &r.Lane }),
	Bool("cut_in", "actor is cutting into the ego lane", func(r *Truth) *bool { return &r.CutIn }),
	Bool("in_path", "actor is the closest in-path vehicle", func(r *Truth) *bool { return &r.InPath }),
)
