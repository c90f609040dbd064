package foxglove

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"roadlog/record/drive"
	"roadlog/replay"
	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// specClient is a Foxglove WebSocket client written from the protocol's published
// specification (ws-protocol docs/spec.md): it offers the foxglove.websocket.v1
// subprotocol, expects serverInfo first and advertise next as JSON text messages,
// subscribes with its own ids, and decodes binary Message Data (0x01: uint32 LE
// subscription id, uint64 LE timestamp, payload) and Time (0x02: uint64 LE) frames.
type specClient struct {
	t        *testing.T
	conn     *websocket.Conn
	info     map[string]any
	channels map[string]Channel // by topic
}

type dataFrame struct {
	sub     uint32
	ts      uint64
	payload []byte
}

func dial(t *testing.T, url string) *specClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"foxglove.websocket.v1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "foxglove.websocket.v1" {
		t.Fatalf("server selected subprotocol %q", got)
	}
	conn.SetReadLimit(64 << 20)
	c := &specClient{t: t, conn: conn, channels: map[string]Channel{}}
	// the server must send serverInfo first, then at least one advertise
	typ, b := c.read()
	if typ != websocket.MessageText || json.Unmarshal(b, &c.info) != nil || c.info["op"] != "serverInfo" {
		t.Fatalf("first message %q, want serverInfo", b)
	}
	typ, b = c.read()
	var adv struct {
		Op       string    `json:"op"`
		Channels []Channel `json:"channels"`
	}
	if typ != websocket.MessageText || json.Unmarshal(b, &adv) != nil || adv.Op != "advertise" {
		t.Fatalf("second message %q, want advertise", b)
	}
	for _, ch := range adv.Channels {
		c.channels[ch.Topic] = ch
	}
	return c
}

func (c *specClient) read() (websocket.MessageType, []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, b, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return typ, b
}

func (c *specClient) sendJSON(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	if err := c.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next Message Data frame, skipping Time frames (and checking them)
// and handling advertise/status messages.
func (c *specClient) next() (dataFrame, []map[string]any) {
	c.t.Helper()
	var texts []map[string]any
	for {
		typ, b := c.read()
		if typ == websocket.MessageText {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				c.t.Fatalf("text message is not JSON: %q", b)
			}
			if m["op"] == "advertise" {
				var adv Advertise
				json.Unmarshal(b, &adv)
				for _, ch := range adv.Channels {
					c.channels[ch.Topic] = ch
				}
			}
			texts = append(texts, m)
			continue
		}
		switch b[0] {
		case 0x02:
			if len(b) != 9 {
				c.t.Fatalf("time frame of %d bytes", len(b))
			}
			continue
		case 0x01:
			if len(b) < 13 {
				c.t.Fatalf("message data frame of %d bytes", len(b))
			}
			return dataFrame{sub: binary.LittleEndian.Uint32(b[1:5]), ts: binary.LittleEndian.Uint64(b[5:13]), payload: b[13:]}, texts
		default:
			c.t.Fatalf("unknown binary opcode %#x", b[0])
		}
	}
}

func startServer(t *testing.T, opt Options) (*Server, string, func()) {
	t.Helper()
	srv, err := NewServer(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http"), func() {
		srv.Close()
		hs.Close()
	}
}

func TestHandshakeRequiresSubprotocol(t *testing.T) {
	_, url, stop := startServer(t, Options{})
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, url, nil) // no subprotocol offered
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = conn.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusProtocolError {
		t.Fatalf("read after a handshake without the subprotocol: %v, want close status %d", err, websocket.StatusProtocolError)
	}
	conn.CloseNow()
}

func TestSubscribeAndFraming(t *testing.T) {
	cams := []drive.Camera{{Index: 0, Name: "front", Codec: "mjpeg"}, {Index: 1, Name: "left", Codec: "mjpeg"}}
	srv, url, stop := startServer(t, Options{Cameras: cams, Metadata: map[string]string{"drive": "d1"}})
	defer stop()
	c := dial(t, url)
	defer c.conn.CloseNow()
	if caps, _ := c.info["capabilities"].([]any); len(caps) != 1 || caps[0] != "time" {
		t.Fatalf("capabilities %v", c.info["capabilities"])
	}
	want := map[string]string{
		"/camera/front/image": "foxglove.CompressedImage", "/camera/front/detections": "foxglove.ImageAnnotations",
		"/camera/left/image": "foxglove.CompressedImage", "/gnss/fix": "foxglove.LocationFix",
		"/ego": "roadlog.ego", "/targets": "roadlog.targets", "/events": "roadlog.events",
	}
	for topic, name := range want {
		ch, ok := c.channels[topic]
		if !ok || ch.SchemaName != name || ch.Encoding != "json" || ch.SchemaEncoding != "jsonschema" || !json.Valid([]byte(ch.Schema)) {
			t.Fatalf("channel %s: %+v", topic, ch)
		}
	}
	c.sendJSON(map[string]any{"op": "subscribe", "subscriptions": []map[string]any{
		{"id": 7, "channelId": c.channels["/gnss/fix"].ID},
		{"id": 9, "channelId": c.channels["/camera/front/image"].ID},
		{"id": 11, "channelId": c.channels["/camera/front/detections"].ID},
		{"id": 13, "channelId": c.channels["/ego"].ID},
	}})
	select {
	case <-srv.Connected():
	case <-time.After(10 * time.Second):
		t.Fatal("server never saw the subscription")
	}
	t0 := int64(1_796_000_000_123_456_789)
	jpeg := []byte{0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9}
	g := schema.NewGNSS()
	g.T, g.Receiver, g.Lat, g.Lon, g.Alt, g.StdLat, g.StdLon = t0, "gnss0", 48.1, 11.5, 520, 2, 3
	ego := schema.NewEgo()
	ego.T, ego.Speed = t0+2, 13.5
	srv.Publish(g)
	srv.Publish(&schema.VideoFrame{Frame: schema.Frame{T: t0 + 1, Camera: 0, Codec: schema.CodecMJPEG}, Data: jpeg})
	srv.Publish(&schema.Object{T: t0 + 1, Camera: 0, TrackID: 4, Label: "car", X1: 10, Y1: 20, X2: 50, Y2: 60,
		Distance: 23.5, TTC: schema.NaN32(), Lane: schema.LaneEgo})
	srv.Publish(ego) // a later t: the frame's annotations are complete and go out

	got := map[uint32]dataFrame{}
	for len(got) < 4 {
		f, _ := c.next()
		got[f.sub] = f
	}
	var fix struct {
		Timestamp struct{ Sec, Nsec int64 }
		Latitude  float64
		Longitude float64
		Cov       []float64 `json:"position_covariance"`
		CovType   int       `json:"position_covariance_type"`
	}
	if f := got[7]; f.ts != uint64(t0) || json.Unmarshal(f.payload, &fix) != nil || fix.Latitude != 48.1 ||
		fix.Timestamp.Sec != t0/1e9 || fix.Timestamp.Nsec != t0%1e9 || len(fix.Cov) != 9 || fix.Cov[0] != 9 || fix.CovType != 2 {
		t.Fatalf("location fix frame %+v: %s", f, f.payload)
	}
	var img struct{ Format, Data string }
	if f := got[9]; f.ts != uint64(t0+1) || json.Unmarshal(f.payload, &img) != nil || img.Format != "jpeg" {
		t.Fatalf("image frame %+v", f)
	} else if d, _ := base64.StdEncoding.DecodeString(img.Data); string(d) != string(jpeg) {
		t.Fatalf("image data %x, want %x", d, jpeg)
	}
	var ann struct {
		Points []struct {
			Type   int
			Points []struct{ X, Y float64 }
		}
		Texts []struct{ Text string }
	}
	if f := got[11]; f.ts != uint64(t0+1) || json.Unmarshal(f.payload, &ann) != nil || len(ann.Points) != 1 ||
		ann.Points[0].Type != 2 || len(ann.Points[0].Points) != 4 || ann.Points[0].Points[2].X != 50 || len(ann.Texts) != 1 {
		t.Fatalf("annotations frame %+v: %s", f, f.payload)
	}
	var egoRow map[string]any
	if f := got[13]; json.Unmarshal(f.payload, &egoRow) != nil || egoRow["table"] != "ego" || egoRow["speed"] != 13.5 {
		t.Fatalf("ego frame %s", got[13].payload)
	}

	// unsubscribe from the image, then make a bad request: the server handles a
	// client's messages in order, so its error status says the unsubscribe is done
	c.sendJSON(map[string]any{"op": "unsubscribe", "subscriptionIds": []uint32{9}})
	c.sendJSON(map[string]any{"op": "subscribe", "subscriptions": []map[string]any{{"id": 13, "channelId": 1}}})
	for status := false; !status; {
		typ, b := c.read()
		var m map[string]any
		if typ == websocket.MessageText && json.Unmarshal(b, &m) == nil && m["op"] == "status" {
			if m["level"] != float64(StatusError) {
				t.Fatalf("status %v, want an error", m)
			}
			status = true
		}
	}
	srv.Publish(&schema.VideoFrame{Frame: schema.Frame{T: t0 + 10, Camera: 0, Codec: schema.CodecMJPEG}, Data: jpeg})
	g2 := *g
	g2.T = t0 + 20
	srv.Publish(&g2)
	for {
		f, _ := c.next()
		if f.sub == 9 {
			t.Fatalf("image frame at %d after unsubscribe", f.ts)
		}
		if f.sub == 7 && f.ts == uint64(t0+20) {
			break
		}
	}
}

// A replay played into the server through a Player: every frame of the subscribed
// camera arrives, in order, none dropped, even though the client reads slowly.
func TestReplayIntoServer(t *testing.T) {
	td, err := testdrive.Write(t.TempDir(), testdrive.Spec{Seed: 3, Segments: 1, Cameras: 2})
	if err != nil {
		t.Fatal(err)
	}
	d, err := replay.Open(td.Dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, url, stop := startServer(t, Options{Cameras: d.Cameras(), QueueSize: 16})
	defer stop()
	c := dial(t, url)
	defer c.conn.CloseNow()
	c.sendJSON(map[string]any{"op": "subscribe", "subscriptions": []map[string]any{
		{"id": 1, "channelId": c.channels["/camera/cam1/image"].ID}}})
	<-srv.Connected()
	r, err := d.NewReader(replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := replay.NewPlayer(r, srv, replay.PlayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- p.Run(context.Background()) }()
	var want []int64
	for _, s := range td.Rows[schema.TableFrames] {
		if vf := s.(*schema.VideoFrame); vf.Camera == 1 {
			want = append(want, vf.T)
		}
	}
	for i, w := range want {
		f, _ := c.next()
		if f.sub != 1 || f.ts != uint64(w) {
			t.Fatalf("frame %d: sub %d t %d, want t %d", i, f.sub, f.ts, w)
		}
		time.Sleep(time.Millisecond) // a slow reader
	}
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if srv.Dropped() != 0 {
		t.Fatalf("server dropped %d messages", srv.Dropped())
	}
}
