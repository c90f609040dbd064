package testdrive

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"roadlog/schema"
)

// ErrNoFFmpeg reports that H.264 test drives need ffmpeg with libx264.
var ErrNoFFmpeg = errors.New("ffmpeg with libx264 not found")

// GOP is the keyframe interval of H.264 test drives (frames).
const GOP = 12

// toH264 re-encodes one camera's JPEG frames as H.264 (libx264, one thread, no B
// frames, a keyframe every GOP frames) and replaces each frame's data with its access
// unit in AVCC form; the first frame carries the SPS and PPS.
func toH264(frames []*schema.VideoFrame) error {
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		return ErrNoFFmpeg
	}
	var in bytes.Buffer
	for _, f := range frames {
		in.Write(f.Data)
	}
	cmd := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "mjpeg", "-i", "-",
		"-c:v", "libx264", "-threads", "1", "-preset", "ultrafast", "-bf", "0", "-g", fmt.Sprint(GOP),
		"-keyint_min", fmt.Sprint(GOP), "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-x264-params", "aud=1",
		"-f", "h264", "-")
	cmd.Stdin = &in
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("testdrive: ffmpeg: %w: %s", err, stderr.String())
	}
	aus := splitAUs(out.Bytes())
	if len(aus) != len(frames) {
		return fmt.Errorf("testdrive: ffmpeg gave %d access units for %d frames", len(aus), len(frames))
	}
	var sps, pps []byte
	for i, au := range aus {
		var keep [][]byte
		key := false
		for _, n := range au {
			switch h264.NALUType(n[0] & 0x1f) {
			case h264.NALUTypeSPS:
				sps = n
			case h264.NALUTypePPS:
				pps = n
			case h264.NALUTypeAccessUnitDelimiter:
			case h264.NALUTypeIDR:
				key = true
				keep = append(keep, n)
			default:
				keep = append(keep, n)
			}
		}
		data, err := h264.AVCC(keep).Marshal()
		if err != nil {
			return err
		}
		f := frames[i]
		f.Data, f.Keyframe, f.Codec = data, key, schema.CodecH264
		if i == 0 {
			if sps == nil || pps == nil {
				return errors.New("testdrive: no SPS/PPS before the first frame")
			}
			f.Params = [][]byte{sps, pps}
		}
	}
	return nil
}

// splitAUs splits an Annex-B stream into access units at access unit delimiters.
func splitAUs(b []byte) [][][]byte {
	var nalus [][]byte
	start := -1
	for i := 0; i+3 <= len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				nalus = append(nalus, bytes.TrimRight(b[start:i], "\x00"))
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 && start < len(b) {
		nalus = append(nalus, b[start:])
	}
	var aus [][][]byte
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		if h264.NALUType(n[0]&0x1f) == h264.NALUTypeAccessUnitDelimiter || len(aus) == 0 {
			aus = append(aus, nil)
		}
		aus[len(aus)-1] = append(aus[len(aus)-1], n)
	}
	return aus
}
