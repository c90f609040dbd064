package main

import (
	"fmt"
	"math"
	"strings"

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
		opts, err := c.ParseOptions() // rigSetup has run CheckCameras: no error is left
		if err != nil {
			return usagef("%s: camera %s: %v", r.File(), name, err)
		}
		codec := map[string]schema.Codec{"mjpeg": schema.CodecMJPEG, "h264": schema.CodecH264, "h265": schema.CodecH265}[strings.ToLower(c.Codec)]
		var src record.Source
		switch c.Kind {
		case rig.CameraV4L2:
			v := &camera.V4L2{Camera: idx, Name: name, Device: c.Device, Format: strings.ToLower(c.Codec), Width: c.Width, Height: c.Height,
				FPS: c.FPS, Timeout: opts.Timeout, Timebase: ref, Encoder: camera.EncoderConfig{Kind: opts.Encoder, Preset: opts.Preset,
					Bitrate: opts.Bitrate, GOP: opts.GOP, FPS: c.FPS}}
			src = v
			s.rawCams = append(s.rawCams, v)
		case rig.CameraPipe:
			src = &camera.Pipeline{Camera: idx, Name: name, Command: []string{"sh", "-c", c.Command}, Codec: codec, Latency: opts.Latency, Timebase: ref}
		case rig.CameraRTSP:
			src = &camera.RTSP{Camera: idx, Name: name, URL: c.URL, Latency: opts.Latency, Timebase: ref}
		case rig.CameraFile:
			src = &camera.File{Camera: idx, Name: name, Path: r.Resolve(c.File), Codec: codec, FPS: c.FPS, Timebase: ref,
				Fast: opts.Fast, Loop: opts.Loop, Speed: opts.Speed, Congested: congested}
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
