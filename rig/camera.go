package rig

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// validateCameras checks what a rig must hold to be read at all (a drive's rig.yaml
// included); CheckCameras checks what recording needs.
func (r *Rig) validateCameras(v *validator) {
	names := map[string]string{}
	index := map[string]string{}
	for i, c := range r.Cameras {
		p := fmt.Sprintf("cameras[%d]", i)
		if c.Index < 0 || c.Index > 7 {
			v.fail(p+".index", "%d is outside 0..7", c.Index)
		}
		v.unique(index, p+".index", fmt.Sprint(c.Index))
		v.unique(names, p+".name", c.Name)
		switch c.Kind {
		case CameraV4L2:
			v.need(p+".device", c.Device, "the video device")
		case CameraPipe:
			v.need(p+".command", c.Command, "the command")
		case CameraRTSP:
			if !strings.HasPrefix(c.URL, "rtsp://") && !strings.HasPrefix(c.URL, "rtsps://") {
				v.fail(p+".url", "%q is not an rtsp:// URL", c.URL)
			}
		case CameraFile:
			v.need(p+".file", c.File, "the video file")
		case CameraSim:
		default:
			v.fail(p+".kind", "%q is not one of v4l2, pipe, rtsp, file, sim", c.Kind)
		}
		if c.Width < 0 || c.Height < 0 || c.FPS < 0 {
			v.fail(p, "width, height and fps must not be negative")
		}
		if all := allCameraCodecs(); !slices.Contains(all, c.Codec) {
			v.fail(p+".codec", "%q is not one of %s", c.Codec, strings.Join(all[1:], ", "))
		}
		if k := c.Calibration; k != nil {
			cp := p + ".calibration"
			if k.FX <= 0 || k.FY <= 0 {
				v.fail(cp, "focal lengths fx, fy must be positive")
			}
			if c.Width > 0 && (k.CX < 0 || k.CX > float64(c.Width)) {
				v.fail(cp+".cx", "%g lies outside the image width %d", k.CX, c.Width)
			}
			if c.Height > 0 && (k.CY < 0 || k.CY > float64(c.Height)) {
				v.fail(cp+".cy", "%g lies outside the image height %d", k.CY, c.Height)
			}
			if k.HeightM <= 0 || k.HeightM > 10 {
				v.fail(cp+".height_m", "%g m is outside (0, 10]", k.HeightM)
			}
			if k.PitchDeg < -90 || k.PitchDeg > 90 {
				v.fail(cp+".pitch_deg", "%g° is outside [-90, 90]", k.PitchDeg)
			}
			if k.YawDeg < -180 || k.YawDeg > 180 {
				v.fail(cp+".yaw_deg", "%g° is outside [-180, 180]", k.YawDeg)
			}
		}
	}
}

// CameraOptions are a camera's options map (cameras[].options) read into values.
// Each key belongs to the kinds named on its field; CheckCameras rejects the others.
type CameraOptions struct {
	Latency time.Duration // "latency", pipe and rtsp: exposure-to-arrival delay, subtracted from arrival (≥ 0)
	Timeout time.Duration // "timeout", v4l2: longest wait for a frame (0: the source's default)

	// v4l2 with a raw format (yuyv, uyvy, nv12): the encoder stage.
	Encoder string // "encoder": one of CameraEncoders ("": libx264)
	Preset  string // "preset": the encoder's own preset name
	Bitrate int    // "bitrate": bit/s (0: the encoder stage's default)
	GOP     int    // "gop": frames between keyframes (0: one second of frames)

	Fast  bool    // "fast", file: publish as fast as the recorder takes frames
	Loop  bool    // "loop", file: start over at the end
	Speed float64 // "speed", file: playback speed when not fast (0: real time)
}

// CameraEncoders are the encoder kinds a raw v4l2 camera may name: acquire/camera's
// Enc* kinds but its "command" kind, whose argv a rig file has no key for.
func CameraEncoders() []string {
	return []string{"libx264", "h264_nvenc", "hevc_nvenc", "nvv4l2h264enc", "nvv4l2h265enc", "mjpeg"}
}

// cameraOptionKinds lists, per option key, the camera kinds that read it.
var cameraOptionKinds = map[string][]CameraKind{
	"latency": {CameraPipe, CameraRTSP},
	"timeout": {CameraV4L2},
	"encoder": {CameraV4L2},
	"preset":  {CameraV4L2},
	"bitrate": {CameraV4L2},
	"gop":     {CameraV4L2},
	"fast":    {CameraFile},
	"loop":    {CameraFile},
	"speed":   {CameraFile},
}

// encoderOptions are the option keys of the encoder stage of a raw camera.
var encoderOptions = []string{"encoder", "preset", "bitrate", "gop"}

// cameraCodecs lists, per kind, the codec values a camera may have; "" is leaving it
// out. v4l2: the formats acquire/camera's V4L2 source asks the driver for ("" is
// mjpeg), the raw ones encoded by its encoder stage; pipe: what the command writes,
// which must be said; rtsp: the stream's own (recorded in the manifest); file: read
// from the file when left out; sim: the simulated camera's JPEG pictures.
var cameraCodecs = map[CameraKind][]string{
	CameraV4L2: {"", "mjpeg", "h264", "yuyv", "uyvy", "nv12"},
	CameraPipe: {"mjpeg", "h264", "h265"},
	CameraRTSP: {"", "mjpeg", "h264", "h265"},
	CameraFile: {"", "mjpeg", "h264", "h265"},
	CameraSim:  {"", "mjpeg"},
}

// allCameraCodecs is every codec of cameraCodecs, sorted ("" first).
func allCameraCodecs() []string {
	var all []string
	for _, cs := range cameraCodecs {
		all = append(all, cs...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// rawCodec reports whether codec is a raw picture format (the encoder stage encodes it).
func rawCodec(codec string) bool { return codec == "yuyv" || codec == "uyvy" || codec == "nv12" }

// Camera picture and rate bounds: frames.arrow stores sizes as uint16, and no camera
// runs faster than the trigger may (1000 Hz).
const (
	maxCameraSide = 65535
	maxCameraFPS  = 1000
)

// ParseOptions reads c.Options into values. A camera of a rig that passed CheckCameras
// reads without error; otherwise the errors are *Error values joined together, without
// lines (CheckCameras gives those).
func (c *Camera) ParseOptions() (CameraOptions, error) {
	var errs []error
	o := c.parseOptions(func(key, format string, a ...any) {
		errs = append(errs, &Error{Key: "options." + key, Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)})
	})
	return o, errors.Join(errs...)
}

// parseOptions reads c.Options into values and calls fail for each value it cannot use.
func (c *Camera) parseOptions(fail func(key, format string, a ...any)) CameraOptions {
	var o CameraOptions
	dur := func(k string, zero bool) time.Duration {
		v, ok := c.Options[k]
		if !ok {
			return 0
		}
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			fail(k, "%q is not a duration (e.g. 40ms)", v)
		case d < 0 || (d == 0 && !zero):
			fail(k, "%v must be %s", d, map[bool]string{true: "positive or 0", false: "positive"}[zero])
		}
		return d
	}
	positive := func(k string) int {
		v, ok := c.Options[k]
		if !ok {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			fail(k, "%q is not a positive whole number", v)
		}
		return n
	}
	boolean := func(k string) bool {
		v, ok := c.Options[k]
		if !ok {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail(k, "%q is not true or false", v)
		}
		return b
	}
	o.Latency = dur("latency", true)
	o.Timeout = dur("timeout", false)
	if v, ok := c.Options["encoder"]; ok {
		o.Encoder = v
		if !slices.Contains(CameraEncoders(), v) {
			fail("encoder", "%q is not one of %s", v, strings.Join(CameraEncoders(), ", "))
		}
	}
	if v, ok := c.Options["preset"]; ok {
		o.Preset = v
		if strings.TrimSpace(v) == "" {
			fail("preset", "the preset is empty")
		}
	}
	o.Bitrate = positive("bitrate")
	o.GOP = positive("gop")
	o.Fast = boolean("fast")
	o.Loop = boolean("loop")
	if v, ok := c.Options["speed"]; ok {
		sp, err := strconv.ParseFloat(v, 64)
		if err != nil || !(sp > 0) || math.IsInf(sp, 0) {
			fail("speed", "%q is not a positive number (1: real time)", v)
		}
		o.Speed = sp
	}
	return o
}

// CheckCameras checks what the cameras need to record beyond what Validate checks: a
// codec the kind can deliver, options the kind reads with values it can use (encoder
// settings only for raw formats), a device path, a picture size given whole that fits
// the frames table and its format, a sane frame rate. Its errors are *Error values
// joined together, each with its key and line.
//
// Load does not run it, so that the rig.yaml a drive keeps stays readable when a check
// is added here; roadlog rig, record and serve run it before they start.
func (r *Rig) CheckCameras() error {
	v := &validator{r: r}
	for i := range r.Cameras {
		c := &r.Cameras[i]
		p := fmt.Sprintf("cameras[%d]", i)
		codecs, known := cameraCodecs[c.Kind]
		if !known {
			continue // Validate reports the kind
		}
		if !slices.Contains(codecs, c.Codec) {
			given := slices.DeleteFunc(slices.Clone(codecs), func(s string) bool { return s == "" })
			if c.Codec == "" {
				v.fail(p+".codec", "a %s camera needs its codec: one of %s", c.Kind, strings.Join(given, ", "))
			} else {
				v.fail(p+".codec", "%q: a %s camera delivers %s", c.Codec, c.Kind, strings.Join(given, ", "))
			}
		}
		if c.Kind == CameraV4L2 && c.Device != "" && !strings.HasPrefix(c.Device, "/") {
			v.fail(p+".device", "%q is not a device path (e.g. /dev/video0)", c.Device)
		}

		switch {
		case c.Width == 0 && c.Height != 0:
			v.fail(p+".height", "%d without a width: give both, or neither (the source's own size)", c.Height)
		case c.Width != 0 && c.Height == 0:
			v.fail(p+".width", "%d without a height: give both, or neither (the source's own size)", c.Width)
		case c.Width > maxCameraSide:
			v.fail(p+".width", "%d is more than %d pixels", c.Width, maxCameraSide)
		case c.Height > maxCameraSide:
			v.fail(p+".height", "%d is more than %d pixels", c.Height, maxCameraSide)
		case rawCodec(c.Codec) && c.Width%2 != 0:
			v.fail(p+".width", "%d: %s pictures have an even width (two pixels share their chroma)", c.Width, c.Codec)
		case c.Codec == "nv12" && c.Height%2 != 0:
			v.fail(p+".height", "%d: nv12 pictures have an even height (two lines share their chroma)", c.Height)
		}
		if !(c.FPS >= 0 && c.FPS <= maxCameraFPS) {
			v.fail(p+".fps", "%g is outside [0, %d] frames per second", c.FPS, maxCameraFPS)
		}

		bad := map[string]bool{} // keys this camera may not have: their values are not read
		for _, k := range sortedKeys(c.Options) {
			kp := p + ".options." + k
			kinds, ok := cameraOptionKinds[k]
			switch {
			case !ok:
				v.failWith(ErrUnknownKey, kp, "not a camera option (known: %s)", strings.Join(sortedKeys(cameraOptionKinds), ", "))
			case !slices.Contains(kinds, c.Kind):
				v.fail(kp, "%s cameras do not read this option (%s ones do)", c.Kind, kindList(kinds))
			case slices.Contains(encoderOptions, k) && !rawCodec(c.Codec):
				v.fail(kp, "encoder settings apply to the raw formats yuyv, uyvy, nv12; %s is recorded as the camera sends it",
					cmp.Or(c.Codec, "mjpeg"))
			default:
				continue
			}
			bad[k] = true
		}
		o := c.parseOptions(func(key, format string, a ...any) {
			if !bad[key] {
				v.fail(p+".options."+key, format, a...)
			}
		})
		if o.Fast && o.Speed != 0 && !bad["speed"] {
			v.fail(p+".options.speed", "has no effect with fast: true")
		}
	}
	return errors.Join(v.errs...)
}

func kindList(ks []CameraKind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
