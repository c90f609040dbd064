package foxglove

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"roadlog/record"
	"roadlog/schema"
)

// timeStep is how often (reference time) the server sends Time messages.
const timeStep = int64(10e6)

// Publish converts a sample into Foxglove messages for the subscribed clients.
// It is called from one goroutine (a Player's).
func (s *Server) Publish(smp schema.Sample) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	t := record.SampleTime(smp)
	if t > s.annT {
		s.flushAnnotations()
	}
	if t >= s.lastTime+timeStep || t < s.lastTime {
		s.lastTime = t
		s.sendTime(t)
	}
	switch v := smp.(type) {
	case *schema.VideoFrame:
		img, ann := s.cameraChannels(v.Camera, v.Codec)
		s.annotations(v.Camera, ann, v.T)
		s.broadcast(img, v.T, s.frameJSON(v))
		return
	case *schema.Object:
		s.annotations(v.Camera, s.annotationChannel(v.Camera), v.T).add(v)
	case *schema.GNSS:
		if fix := locationFix(v); fix != nil {
			s.broadcast(s.channel("/gnss/fix", "foxglove.LocationFix", LocationFixSchema), v.T, fix)
		}
	}
	table := smp.Table()
	if _, ok := smp.(*schema.VideoFrame); ok {
		return
	}
	b, err := s.enc.Append(s.buf[:0], smp)
	if err != nil {
		return
	}
	s.buf = b
	id := s.channel("/"+string(table), "", "")
	s.broadcast(id, t, append([]byte(nil), b...))
}

func appendStamp(b []byte, t int64) []byte {
	b = append(b, `{"sec":`...)
	b = strconv.AppendInt(b, t/1e9, 10)
	b = append(b, `,"nsec":`...)
	b = strconv.AppendInt(b, t%1e9, 10)
	return append(b, '}')
}

// frameJSON encodes a camera frame as foxglove.CompressedImage (JPEG) or
// foxglove.CompressedVideo (H.264/H.265 as Annex B, parameter sets before keyframes).
func (s *Server) frameJSON(v *schema.VideoFrame) []byte {
	data, format := v.Data, "jpeg"
	switch v.Codec {
	case schema.CodecH264, schema.CodecH265:
		format = "h264"
		if v.Codec == schema.CodecH265 {
			format = "h265"
		}
		var au h264.AVCC
		if err := au.Unmarshal(v.Data); err == nil {
			var nalus h264.AnnexB
			if v.Keyframe {
				nalus = append(nalus, v.Params...)
			}
			nalus = append(nalus, au...)
			if b, err := nalus.Marshal(); err == nil {
				data = b
			}
		}
	}
	b := make([]byte, 0, base64.StdEncoding.EncodedLen(len(data))+128)
	b = append(b, `{"timestamp":`...)
	b = appendStamp(b, v.T)
	b = append(b, `,"frame_id":`...)
	b = strconv.AppendQuote(b, s.cameraName(v.Camera))
	b = append(b, `,"format":"`...)
	b = append(b, format...)
	b = append(b, `","data":"`...)
	b = base64.StdEncoding.AppendEncode(b, data)
	return append(b, `"}`...)
}

// locationFix encodes a GNSS row as foxglove.LocationFix (nil without a position).
func locationFix(g *schema.GNSS) []byte {
	if math.IsNaN(g.Lat) || math.IsNaN(g.Lon) {
		return nil
	}
	alt := g.Alt
	if math.IsNaN(alt) {
		alt = 0
	}
	cov := [9]float64{}
	typ := 0 // unknown
	switch {
	case !math.IsNaN(g.StdLat) && !math.IsNaN(g.StdLon):
		cov[0], cov[4] = g.StdLon*g.StdLon, g.StdLat*g.StdLat
		if !math.IsNaN(g.StdAlt) {
			cov[8] = g.StdAlt * g.StdAlt
		}
		typ = 2 // diagonal known
	case !math.IsNaN(g.HDOP):
		// approximated: a UERE of 5 m scaled by the dilution of precision
		h := g.HDOP * 5
		cov[0], cov[4], cov[8] = h*h, h*h, 4*h*h
		typ = 1
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"timestamp":`...)
	b = appendStamp(b, g.T)
	b = append(b, `,"frame_id":`...)
	b = strconv.AppendQuote(b, g.Receiver)
	b = fmt.Appendf(b, `,"latitude":%s,"longitude":%s,"altitude":%s,"position_covariance":[`,
		num(g.Lat), num(g.Lon), num(alt))
	for i, c := range cov {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, num(c)...)
	}
	b = fmt.Appendf(b, `],"position_covariance_type":%d}`, typ)
	return b
}

func num(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// annotations collects one camera frame's detections.
type annotations struct {
	ch      uint32
	t       int64
	objects []*schema.Object
}

func (a *annotations) add(o *schema.Object) { a.objects = append(a.objects, o) }

// annotations returns the pending group of a camera's frame at t.
func (s *Server) annotations(cam uint8, ch uint32, t int64) *annotations {
	a := s.ann[cam]
	if a == nil || a.t != t {
		if a != nil {
			s.sendAnnotations(a)
		}
		a = &annotations{ch: ch, t: t}
		s.ann[cam] = a
	}
	s.annT = t
	return a
}

// flushAnnotations sends every pending group: rows come in time order, so a later
// sample means a frame's objects are complete.
func (s *Server) flushAnnotations() {
	for cam, a := range s.ann {
		s.sendAnnotations(a)
		delete(s.ann, cam)
	}
}

// sendAnnotations encodes a frame's objects as foxglove.ImageAnnotations: a box
// (closed polyline) per object and a label with class, track, distance and TTC.
func (s *Server) sendAnnotations(a *annotations) {
	b := make([]byte, 0, 256+300*len(a.objects))
	b = append(b, `{"circles":[],"points":[`...)
	for i, o := range a.objects {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"timestamp":`...)
		b = appendStamp(b, a.t)
		b = fmt.Appendf(b, `,"type":2,"points":[{"x":%s,"y":%s},{"x":%s,"y":%s},{"x":%s,"y":%s},{"x":%s,"y":%s}],"outline_color":%s,"thickness":2}`,
			f32(o.X1), f32(o.Y1), f32(o.X2), f32(o.Y1), f32(o.X2), f32(o.Y2), f32(o.X1), f32(o.Y2), color(o))
	}
	b = append(b, `],"texts":[`...)
	for i, o := range a.objects {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"timestamp":`...)
		b = appendStamp(b, a.t)
		b = fmt.Appendf(b, `,"position":{"x":%s,"y":%s},"text":%s,"font_size":12,"text_color":{"r":1,"g":1,"b":1,"a":1},"background_color":{"r":0,"g":0,"b":0,"a":0.6}}`,
			f32(o.X1), f32(o.Y1), strconv.Quote(label(o)))
	}
	b = append(b, `]}`...)
	s.broadcast(a.ch, a.t, b)
}

func f32(x float32) string {
	if x != x {
		return "0"
	}
	return strconv.FormatFloat(float64(x), 'f', 1, 32)
}

// color: the closest in-path lane red, cut-ins orange, other tracked objects green,
// untracked detections grey.
func color(o *schema.Object) string {
	switch {
	case o.Manner == schema.MannerCutIn:
		return `{"r":1,"g":0.55,"b":0,"a":1}`
	case o.Lane == schema.LaneEgo:
		return `{"r":1,"g":0.2,"b":0.2,"a":1}`
	case o.TrackID >= 0:
		return `{"r":0.2,"g":0.9,"b":0.3,"a":1}`
	}
	return `{"r":0.7,"g":0.7,"b":0.7,"a":1}`
}

func label(o *schema.Object) string {
	s := o.Label
	if o.TrackID >= 0 {
		s += " #" + strconv.FormatInt(o.TrackID, 10)
	}
	if o.Distance == o.Distance {
		s += fmt.Sprintf(" %.1fm", o.Distance)
	}
	if o.TTC == o.TTC {
		s += fmt.Sprintf(" TTC %.1fs", o.TTC)
	}
	return s
}
