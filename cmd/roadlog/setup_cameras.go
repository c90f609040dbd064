package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"roadlog/acquire/camera"
	"roadlog/detect/ranging"
	"roadlog/record"
	"roadlog/record/drive"
	"roadlog/rig"
	"roadlog/schema"
	"roadlog/sync/reference"
)

// addCameras adds the rig's camera sources, their manifest entries and calibration;
// congested is the engine's backpressure for file cameras played fast.
func (s *setup) addCameras(r *rig.Rig, ref *reference.Clock, congested func() bool) error {
	for _, c := range r.Cameras {
		idx := uint8(c.Index)
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("cam%d", c.Index)
		}
		opt := func(k string) string { return c.Options[k] }
		dur := func(k string) (time.Duration, error) {
			if v := opt(k); v != "" {
				d, err := time.ParseDuration(v)
				if err != nil {
					return 0, usagef("%s: camera %s option %s=%q: %v", r.File(), name, k, v, err)
				}
				return d, nil
			}
			return 0, nil
		}
		latency, err := dur("latency")
		if err != nil {
			return err
		}
		codec := map[string]schema.Codec{"mjpeg": schema.CodecMJPEG, "h264": schema.CodecH264, "h265": schema.CodecH265}[strings.ToLower(c.Codec)]
		var src record.Source
		switch c.Kind {
		case rig.CameraV4L2:
			v := &camera.V4L2{Camera: idx, Name: name, Device: c.Device, Format: strings.ToLower(c.Codec), Width: c.Width, Height: c.Height,
				FPS: c.FPS, Timebase: ref}
			if t, err := dur("timeout"); err != nil {
				return err
			} else if t > 0 {
				v.Timeout = t
			}
			v.Encoder = camera.EncoderConfig{Kind: opt("encoder"), Preset: opt("preset"), FPS: c.FPS}
			if b := opt("bitrate"); b != "" {
				if v.Encoder.Bitrate, err = strconv.Atoi(b); err != nil {
					return usagef("%s: camera %s option bitrate=%q: %v", r.File(), name, b, err)
				}
			}
			if g := opt("gop"); g != "" {
				if v.Encoder.GOP, err = strconv.Atoi(g); err != nil {
					return usagef("%s: camera %s option gop=%q: %v", r.File(), name, g, err)
				}
			}
			src = v
		case rig.CameraPipe:
			src = &camera.Pipeline{Camera: idx, Name: name, Command: []string{"sh", "-c", c.Command}, Codec: codec, Latency: latency, Timebase: ref}
		case rig.CameraRTSP:
			src = &camera.RTSP{Camera: idx, Name: name, URL: c.URL, Latency: latency, Timebase: ref}
		case rig.CameraFile:
			f := &camera.File{Camera: idx, Name: name, Path: r.Resolve(c.File), Codec: codec, FPS: c.FPS, Timebase: ref,
				Fast: opt("fast") == "true", Loop: opt("loop") == "true",
				Congested: congested}
			if sp := opt("speed"); sp != "" {
				if f.Speed, err = strconv.ParseFloat(sp, 64); err != nil {
					return usagef("%s: camera %s option speed=%q: %v", r.File(), name, sp, err)
				}
			}
			src = f
		default:
			return usagef("%s: camera %s: kind %q is only available with --sim", r.File(), name, c.Kind)
		}
		s.sources = append(s.sources, namedSource{"camera/" + name, src})
		s.cameras = append(s.cameras, drive.Camera{Index: idx, Name: name, Codec: strings.ToLower(c.Codec), Width: c.Width, Height: c.Height, FPS: c.FPS})
		if cal := c.Calibration; cal != nil {
			s.calib[idx] = ranging.Calibration{Width: c.Width, Height: c.Height, Fx: cal.FX, Fy: cal.FY, Cx: cal.CX, Cy: cal.CY,
				MountHeight: cal.HeightM, Pitch: cal.PitchDeg * math.Pi / 180, Yaw: cal.YawDeg * math.Pi / 180, X: cal.XM, Y: cal.YM}
		}
	}
	return nil
}
