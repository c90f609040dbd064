package foxglove

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"roadlog/record/drive"
	"roadlog/replay"
	"roadlog/schema"
)

// Options configure a Server.
type Options struct {
	Name     string            // server name in serverInfo (default "roadlog replay")
	Cameras  []drive.Camera    // name the camera topics (/camera/<name>/…); others are camN
	Metadata map[string]string // serverInfo metadata (drive id, …)
	// QueueSize is each client's outgoing queue, in messages (default 512).
	QueueSize int
	// WriteTimeout disconnects a client that takes longer than this to accept one
	// message (default 10 s).
	WriteTimeout time.Duration
	// MaxClientMessage caps a client's JSON message (default 1 MiB).
	MaxClientMessage int64
	Log              *slog.Logger
}

// Server is a Foxglove WebSocket server fed by Publish.
type Server struct {
	opt  Options
	enc  *replay.JSONEncoder
	room chan struct{} // a token each time a client queue shrinks

	mu       sync.Mutex // guards clients, channels, byTopic, closed
	clients  map[*client]struct{}
	channels []Channel
	byTopic  map[string]uint32
	closed   bool

	connected     chan struct{} // closed when a client's first subscribe message is handled
	connectedOnce sync.Once
	wg            sync.WaitGroup // client writer goroutines
	dropped       atomic.Int64   // messages a full client queue refused

	// Publish state, owned by the publishing goroutine
	pubMu    sync.Mutex
	ann      map[uint8]*annotations
	annT     int64
	lastTime int64
	buf      []byte
}

type client struct {
	conn *websocket.Conn
	out  chan []byte // frames to send; text frames are JSON (start with '{')

	mu     sync.Mutex        // guards subs, byChan
	subs   map[uint32]uint32 // subscription id → channel id
	byChan map[uint32]uint32 // channel id → subscription id

	done      chan struct{}
	closeOnce sync.Once
}

// NewServer returns a server; serve it with http (it is an http.Handler).
func NewServer(opt Options) (*Server, error) {
	if opt.Name == "" {
		opt.Name = "roadlog replay"
	}
	if opt.QueueSize <= 0 {
		opt.QueueSize = 512
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 10 * time.Second
	}
	if opt.MaxClientMessage <= 0 {
		opt.MaxClientMessage = 1 << 20
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	enc, err := replay.NewJSONEncoder(replay.JSONOptions{})
	if err != nil {
		return nil, err
	}
	s := &Server{opt: opt, enc: enc, room: make(chan struct{}, 1), clients: map[*client]struct{}{},
		byTopic: map[string]uint32{}, connected: make(chan struct{}), ann: map[uint8]*annotations{}}
	// the channels every drive has; camera channels appear with the cameras
	for _, t := range schema.Tables() {
		s.channel("/"+string(t.TableName()), "roadlog."+string(t.TableName()), string(TableSchema(t, true)))
	}
	s.channel("/gnss/fix", "foxglove.LocationFix", LocationFixSchema)
	for _, c := range opt.Cameras {
		codec := schema.CodecMJPEG
		switch c.Codec {
		case "h264":
			codec = schema.CodecH264
		case "h265":
			codec = schema.CodecH265
		}
		s.cameraChannels(c.Index, codec)
	}
	return s, nil
}

// channel returns the id of a topic's channel, creating and advertising it.
func (s *Server) channel(topic, schemaName, sch string) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byTopic[topic]; ok {
		return id
	}
	ch := Channel{ID: uint32(len(s.channels) + 1), Topic: topic, Encoding: "json", SchemaName: schemaName,
		Schema: sch, SchemaEncoding: "jsonschema"}
	s.channels = append(s.channels, ch)
	s.byTopic[topic] = ch.ID
	if len(s.clients) > 0 {
		msg, _ := json.Marshal(Advertise{Op: "advertise", Channels: []Channel{ch}})
		for c := range s.clients {
			c.send(msg, s)
		}
	}
	return ch.ID
}

func (s *Server) cameraName(cam uint8) string {
	for _, c := range s.opt.Cameras {
		if c.Index == cam && c.Name != "" {
			return c.Name
		}
	}
	return "cam" + strconv.Itoa(int(cam))
}

// cameraChannels returns the image (or video) and annotations channels of a camera.
func (s *Server) cameraChannels(cam uint8, codec schema.Codec) (img, ann uint32) {
	base := "/camera/" + s.cameraName(cam)
	if codec == schema.CodecH264 || codec == schema.CodecH265 {
		img = s.channel(base+"/video", "foxglove.CompressedVideo", CompressedVideoSchema)
	} else {
		img = s.channel(base+"/image", "foxglove.CompressedImage", CompressedImageSchema)
	}
	return img, s.annotationChannel(cam)
}

// annotationChannel returns a camera's detections channel.
func (s *Server) annotationChannel(cam uint8) uint32 {
	return s.channel("/camera/"+s.cameraName(cam)+"/detections", "foxglove.ImageAnnotations", ImageAnnotationsSchema)
}

// Channels returns the channels advertised so far.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Channel(nil), s.channels...)
}

// Connected is closed once the first subscribe message that names a channel
// has been handled in full: every subscription it lists is in place.
func (s *Server) Connected() <-chan struct{} { return s.connected }

// Dropped returns the messages refused by full client queues (a publisher that does
// not wait for Ready).
func (s *Server) Dropped() int64 { return s.dropped.Load() }

// ServeHTTP upgrades the request to a Foxglove WebSocket session.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{Subprotocol},
		InsecureSkipVerify: true}) // Foxglove's web app connects from its own origin
	if err != nil {
		s.opt.Log.Warn("foxglove: websocket handshake failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	if conn.Subprotocol() != Subprotocol {
		conn.Close(websocket.StatusProtocolError, "this server speaks the "+Subprotocol+" subprotocol only")
		return
	}
	conn.SetReadLimit(s.opt.MaxClientMessage)
	c := &client{conn: conn, out: make(chan []byte, s.opt.QueueSize), subs: map[uint32]uint32{},
		byChan: map[uint32]uint32{}, done: make(chan struct{})}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close(websocket.StatusGoingAway, "server closing")
		return
	}
	info, _ := json.Marshal(ServerInfo{Op: "serverInfo", Name: s.opt.Name, Capabilities: []string{"time"},
		Metadata: s.opt.Metadata, SessionID: strconv.FormatInt(time.Now().UnixNano(), 10)})
	adv, _ := json.Marshal(Advertise{Op: "advertise", Channels: append([]Channel(nil), s.channels...)})
	c.out <- info
	c.out <- adv
	s.clients[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()

	go s.write(c)
	s.read(r.Context(), c)
	s.drop(c)
}

// read handles a client's messages until it goes.
func (s *Server) read(ctx context.Context, c *client) {
	for {
		typ, b, err := c.conn.Read(ctx)
		if err != nil {
			return
		}
		if typ == websocket.MessageBinary {
			s.status(c, StatusError, "this server takes no client messages (clientPublish not supported)")
			continue
		}
		var m ClientMessage
		if err := json.Unmarshal(b, &m); err != nil {
			s.status(c, StatusError, fmt.Sprintf("bad message: %v", err))
			continue
		}
		switch m.Op {
		case "subscribe":
			added := false
			for _, sub := range m.Subscriptions {
				if err := s.subscribe(c, sub); err != nil {
					s.status(c, StatusError, err.Error())
					continue
				}
				added = true
			}
			// Connected waits for the whole message: a replay that starts on the
			// first of several channels would miss the others' first samples.
			if added {
				s.connectedOnce.Do(func() { close(s.connected) })
			}
		case "unsubscribe":
			c.mu.Lock()
			for _, id := range m.SubscriptionIDs {
				if ch, ok := c.subs[id]; ok {
					delete(c.subs, id)
					delete(c.byChan, ch)
				}
			}
			c.mu.Unlock()
		default:
			s.status(c, StatusWarning, fmt.Sprintf("operation %q is not supported", m.Op))
		}
	}
}

func (s *Server) subscribe(c *client, sub Subscription) error {
	s.mu.Lock()
	known := sub.ChannelID >= 1 && int(sub.ChannelID) <= len(s.channels)
	s.mu.Unlock()
	if !known {
		return fmt.Errorf("subscription %d: no channel %d", sub.ID, sub.ChannelID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, used := c.subs[sub.ID]; used {
		return fmt.Errorf("subscription id %d is already in use", sub.ID)
	}
	if _, dup := c.byChan[sub.ChannelID]; dup {
		return fmt.Errorf("channel %d is already subscribed", sub.ChannelID)
	}
	c.subs[sub.ID] = sub.ChannelID
	c.byChan[sub.ChannelID] = sub.ID
	return nil
}

func (s *Server) status(c *client, level int, msg string) {
	b, _ := json.Marshal(Status{Op: "status", Level: level, Message: msg})
	c.send(b, s)
}

// send queues a frame for c, dropping it when the queue is full.
func (c *client) send(b []byte, s *Server) {
	select {
	case c.out <- b:
	case <-c.done:
	default:
		s.dropped.Add(1)
	}
}

// write sends a client's queue until the client goes.
func (s *Server) write(c *client) {
	defer s.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case b := <-c.out:
			typ := websocket.MessageBinary
			if len(b) > 0 && b[0] == '{' {
				typ = websocket.MessageText
			}
			ctx, cancel := context.WithTimeout(context.Background(), s.opt.WriteTimeout)
			err := c.conn.Write(ctx, typ, b)
			cancel()
			select {
			case s.room <- struct{}{}:
			default:
			}
			if err != nil {
				s.drop(c)
				return
			}
		}
	}
}

// drop forgets a client and closes its connection.
func (s *Server) drop(c *client) {
	c.closeOnce.Do(func() {
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
		close(c.done)
		c.conn.CloseNow()
		select { // a publisher waiting for this client's room waits no more
		case s.room <- struct{}{}:
		default:
		}
	})
}

// Close disconnects every client and waits for their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	cs := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.conn.Close(websocket.StatusGoingAway, "replay ended")
		s.drop(c)
	}
	s.wg.Wait()
	return nil
}

// headroom is how many frames one sample may produce (image, annotations, rows).
const headroom = 8

// Ready reports whether every client has room (replay.Backpressure).
func (s *Server) Ready() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		if len(c.out) > cap(c.out)-headroom {
			return s.room
		}
	}
	return nil
}

// errStopped is returned by broadcast once the server is closed.
var errStopped = errors.New("foxglove server closed")

// broadcast sends payload on channel ch to every client subscribed to it.
func (s *Server) broadcast(ch uint32, t int64, payload []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStopped
	}
	for c := range s.clients {
		c.mu.Lock()
		sub, ok := c.byChan[ch]
		c.mu.Unlock()
		if !ok {
			continue
		}
		frame := appendMessageData(make([]byte, 0, 13+len(payload)), sub, uint64(t), payload)
		c.send(frame, s)
	}
	return nil
}

// sendTime tells every client the replay's current time.
func (s *Server) sendTime(t int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		c.send(appendTime(make([]byte, 0, 9), uint64(t)), s)
	}
}
