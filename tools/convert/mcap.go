package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/foxglove/mcap/go/mcap"

	"roadlog/acquire/camera"
	"roadlog/record/drive"
	"roadlog/replay/foxglove"
	"roadlog/schema"
	"roadlog/tools/internal/videofile"
)

// MCAPChunkSize is the target size of an MCAP chunk before compression.
const MCAPChunkSize = 4 << 20

// Topics of the MCAP file.
const (
	TopicGNSSFix = "/gnss/fix"
)

// CameraTopic returns a camera's topic for kind "image" (CompressedImage), "video"
// (CompressedVideo) or "detections" (ImageAnnotations).
func CameraTopic(name, kind string) string { return "/camera/" + name + "/" + kind }

// TableTopic returns the JSON channel of a table.
func TableTopic(t schema.TableName) string { return "/" + string(t) }

// mcapWriter holds the MCAP writer and its schemas and channels.
type mcapWriter struct {
	w        *mcap.Writer
	schemas  map[string]uint16
	channels map[string]uint16
	seq      map[uint16]uint32
	buf      []byte
	n        int64
}

func (m *mcapWriter) schema(name string, data []byte) (uint16, error) {
	if id, ok := m.schemas[name]; ok {
		return id, nil
	}
	id := uint16(len(m.schemas) + 1)
	if err := m.w.WriteSchema(&mcap.Schema{ID: id, Name: name, Encoding: "jsonschema", Data: data}); err != nil {
		return 0, err
	}
	m.schemas[name] = id
	return id, nil
}

func (m *mcapWriter) channel(topic, schemaName string, schemaData []byte) (uint16, error) {
	if id, ok := m.channels[topic]; ok {
		return id, nil
	}
	sid, err := m.schema(schemaName, schemaData)
	if err != nil {
		return 0, err
	}
	id := uint16(len(m.channels) + 1)
	if err := m.w.WriteChannel(&mcap.Channel{ID: id, SchemaID: sid, Topic: topic, MessageEncoding: "json", Metadata: map[string]string{}}); err != nil {
		return 0, err
	}
	m.channels[topic] = id
	return id, nil
}

func (m *mcapWriter) message(ch uint16, t int64, data []byte) error {
	m.seq[ch]++
	m.n++
	return m.w.WriteMessage(&mcap.Message{ChannelID: ch, Sequence: m.seq[ch], LogTime: uint64(t), PublishTime: uint64(t), Data: data})
}

// jsonMessage writes v as JSON on a channel, creating it on first use.
func (m *mcapWriter) jsonMessage(topic, schemaName string, schemaData []byte, t int64, v any) error {
	ch, err := m.channel(topic, schemaName, schemaData)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return m.message(ch, t, b)
}

type objKey struct {
	cam uint8
	seq int64
}

// mcap writes the drive into one MCAP file, segment by segment, every table's rows and
// every camera frame merged in time order.
func (c *converter) mcap(ctx context.Context) error {
	f, err := createAtomic(filepath.Join(c.opt.Out, c.id+".mcap"))
	if err != nil {
		return fmt.Errorf("convert to mcap: %w", err)
	}
	w, err := mcap.NewWriter(f, &mcap.WriterOptions{Chunked: true, ChunkSize: MCAPChunkSize, Compression: mcap.CompressionZSTD,
		IncludeCRC: true, OverrideLibrary: true})
	if err != nil {
		f.Abort()
		return fmt.Errorf("convert to mcap: %w", err)
	}
	m := &mcapWriter{w: w, schemas: map[string]uint16{}, channels: map[string]uint16{}, seq: map[uint16]uint32{}}
	err = c.mcapBody(ctx, m)
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		f.Abort()
		return fmt.Errorf("convert to mcap: %w", err)
	}
	c.sum.Messages += m.n
	return f.Commit(c)
}

func (c *converter) mcapBody(ctx context.Context, m *mcapWriter) error {
	if err := m.w.WriteHeader(&mcap.Header{Profile: "", Library: "roadlog"}); err != nil {
		return err
	}
	meta := map[string]string{"drive_id": c.id, "vehicle": c.m.Vehicle, "status": string(c.m.Status),
		"start_t": strconv.FormatInt(c.m.StartT, 10), "end_t": strconv.FormatInt(c.m.EndT, 10), "timebase": c.m.Timebase.Kind,
		"recorded_by": c.m.Software.Name + " " + c.m.Software.Version, "simulated": strconv.FormatBool(c.m.Simulated)}
	if err := m.w.WriteMetadata(&mcap.Metadata{Name: "roadlog.drive", Metadata: meta}); err != nil {
		return err
	}
	// the manifest, rig and DBC files ride along as attachments
	attach := []string{drive.ManifestFile, drive.RigFile}
	attach = append(attach, c.m.DBC...)
	for _, rel := range attach {
		b, err := os.ReadFile(filepath.Join(c.dir, filepath.FromSlash(rel)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		mt := "text/plain"
		if filepath.Ext(rel) == ".json" {
			mt = "application/json"
		}
		if err := m.w.WriteAttachment(&mcap.Attachment{LogTime: uint64(c.m.StartT), CreateTime: uint64(c.m.StartT), Name: rel,
			MediaType: mt, DataSize: uint64(len(b)), Data: bytes.NewReader(b)}); err != nil {
			return err
		}
	}
	camName := map[uint8]string{}
	for _, cam := range c.m.Cameras {
		camName[cam.Index] = cam.Name
	}
	name := func(i uint8) string {
		if n := camName[i]; n != "" {
			return n
		}
		return "cam" + strconv.Itoa(int(i))
	}
	vf := videofile.New()
	defer vf.Close()
	for _, seg := range c.segs {
		if err := c.mcapSegment(ctx, m, seg, vf, name); err != nil {
			return err
		}
		vf.Close()
	}
	return nil
}

// tableStream makes the stream of one table file that writes each row on the table's
// JSON channel (and, through extra, anything else the row makes).
func tableStream[R any](m *mcapWriter, path string, t *schema.Table[R], prio int, extra func(*R) error) *stream {
	enc := rowJSON(t)
	topic := TableTopic(t.Name)
	sch := foxglove.TableSchema(t, false)
	return rowStream(path, t, prio, func(r *R) error {
		ch, err := m.channel(topic, "roadlog."+string(t.Name), sch)
		if err != nil {
			return err
		}
		m.buf = enc(m.buf[:0], r)
		if err := m.message(ch, t.T(r), m.buf); err != nil {
			return err
		}
		if extra != nil {
			return extra(r)
		}
		return nil
	})
}

// plainTable is a table whose rows go to MCAP as they are, on its JSON channel.
type plainTable struct {
	name   schema.TableName
	stream func(m *mcapWriter, path string) *stream
}

func plain[R any](t *schema.Table[R]) plainTable {
	return plainTable{t.Name, func(m *mcapWriter, path string) *stream { return tableStream(m, path, t, 1, nil) }}
}

func (c *converter) mcapSegment(ctx context.Context, m *mcapWriter, seg int, vf *videofile.Files, name func(uint8) string) error {
	path := func(t schema.TableName) string { return c.segPath(seg, drive.TableFile(t)) }
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	objs := map[objKey][]schema.Object{}
	var streams []*stream
	add := func(s *stream) { streams = append(streams, s) }
	if p := path(schema.TableObjects); exists(p) {
		add(tableStream(m, p, schema.ObjectsTable, 0, func(o *schema.Object) error {
			k := objKey{o.Camera, o.FrameSeq}
			objs[k] = append(objs[k], *o)
			return nil
		}))
	}
	if p := path(schema.TableGNSS); exists(p) {
		add(tableStream(m, p, schema.GNSSTable, 1, func(g *schema.GNSS) error {
			fix, ok := locationFix(g)
			if !ok {
				return nil
			}
			return m.jsonMessage(TopicGNSSFix, "foxglove.LocationFix", []byte(foxglove.LocationFixSchema), g.T, fix)
		}))
	}
	for _, t := range []plainTable{plain(schema.CANTable), plain(schema.IMUTable), plain(schema.EgoTable),
		plain(schema.TargetsTable), plain(schema.EventsTable), plain(schema.TruthTable), plain(schema.SyncTable)} {
		if p := path(t.name); exists(p) {
			add(t.stream(m, p))
		}
	}
	if p := path(schema.TableFrames); exists(p) {
		segDir := filepath.Dir(p)
		add(rowStream(p, schema.FramesTable, 2, func(fr *schema.Frame) error {
			if err := c.mcapFrame(m, vf, segDir, fr, name(fr.Camera)); err != nil {
				var ce *drive.CorruptionError
				if !errors.As(err, &ce) {
					return err
				}
				c.sum.SkippedFrames++ // a frames row outside its video file: the frame is left out
			}
			k := objKey{fr.Camera, fr.Seq}
			a := annotations(fr.T, objs[k])
			delete(objs, k)
			for key, o := range objs { // objects whose frame never came: dropped after 2 s
				if len(o) > 0 && o[0].T < fr.T-2e9 {
					delete(objs, key)
				}
			}
			return m.jsonMessage(CameraTopic(name(fr.Camera), "detections"), "foxglove.ImageAnnotations", []byte(foxglove.ImageAnnotationsSchema), fr.T, a)
		}))
	}
	n := 0
	err := merge(streams, func() error {
		if n++; n%4096 == 0 {
			return ctx.Err()
		}
		return nil
	})
	ents, _ := os.ReadDir(filepath.Join(c.dir, drive.SegmentDir(seg)))
	for _, e := range ents {
		if c.reads(e.Name()) {
			c.read(filepath.Join(c.dir, drive.SegmentDir(seg), e.Name()))
		}
	}
	return err
}

// mcapFrame writes one camera frame: MJPEG as CompressedImage, H.264/H.265 as
// CompressedVideo in Annex B with the parameter sets before each keyframe.
func (c *converter) mcapFrame(m *mcapWriter, vf *videofile.Files, segDir string, fr *schema.Frame, cam string) error {
	src := filepath.Join(segDir, fr.File)
	data, err := vf.Read(src, fr.Offset, fr.Size, nil)
	if err != nil {
		return err
	}
	msg := fxCompressed{Timestamp: toTime(fr.T), FrameID: cam}
	topic, schemaName, sch := CameraTopic(cam, "image"), "foxglove.CompressedImage", foxglove.CompressedImageSchema
	switch fr.Codec {
	case schema.CodecMJPEG:
		msg.Data, msg.Format = data, "jpeg"
	case schema.CodecH264, schema.CodecH265:
		in, err := vf.Init(src)
		if err != nil {
			return err
		}
		var params [][]byte
		if fr.Keyframe {
			params = videofile.Params(in)
		}
		if msg.Data, err = camera.AppendAnnexB(nil, params, data); err != nil {
			return &drive.CorruptionError{Path: src, Offset: fr.Offset, Err: err}
		}
		msg.Format = "h264"
		if _, ok := in.Tracks[0].Codec.(*fmp4.CodecH265); ok {
			msg.Format = "h265"
		}
		topic, schemaName, sch = CameraTopic(cam, "video"), "foxglove.CompressedVideo", foxglove.CompressedVideoSchema
	default:
		return nil
	}
	return m.jsonMessage(topic, schemaName, []byte(sch), fr.T, msg)
}
