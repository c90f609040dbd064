package control

import (
	"context"
	"encoding/json"
	"net/http"
	gosync "sync"
	"time"

	"github.com/coder/websocket"
)

// hub fans the status out to WebSocket clients. Each client holds at most one
// undelivered status: a slow client skips statuses instead of holding anything up.
type hub struct {
	mu      gosync.Mutex // guards clients
	clients map[*wsClient]struct{}
	wake    chan struct{}
}

type wsClient struct {
	c chan []byte // capacity 1: the newest status not yet written
}

func newHub() *hub {
	return &hub{clients: map[*wsClient]struct{}{}, wake: make(chan struct{}, 1)}
}

// wakeup asks for a push soon (something the driver should see happened).
func (h *hub) wakeup() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *hub) add() *wsClient {
	c := &wsClient{c: make(chan []byte, 1)}
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	return c
}

func (h *hub) remove(c *wsClient) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

func (h *hub) broadcast(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		offerLatest(c.c, b)
	}
}

// offerLatest puts b into a capacity-1 channel, replacing what it held.
func offerLatest(c chan []byte, b []byte) {
	select {
	case c <- b:
		return
	default:
	}
	select {
	case <-c:
	default:
	}
	select {
	case c <- b:
	default:
	}
}

// push builds the status once and hands it to every client.
func (s *Server) push() time.Time {
	b, err := json.Marshal(s.status())
	if err != nil {
		s.opt.Log.Error("encode status", "err", err)
		return time.Now()
	}
	s.hub.broadcast(b)
	return time.Now()
}

// wsWriteTimeout bounds one status write to a client; a client that cannot take a
// status in this time is dropped.
const wsWriteTimeout = 5 * time.Second

// handleWS streams the status to one client: one at once, then every
// StatusInterval and whenever an event arrives.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil) // same-origin check by default
	if err != nil {
		return // Accept has written the response
	}
	defer conn.CloseNow()
	client := s.hub.add()
	defer s.hub.remove(client)
	ctx := conn.CloseRead(r.Context()) // ends when the client goes away
	first, err := json.Marshal(s.status())
	if err != nil {
		conn.Close(websocket.StatusInternalError, "encode status")
		return
	}
	if !s.wsWrite(ctx, conn, first) {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			conn.Close(websocket.StatusGoingAway, "roadlog serve is stopping")
			return
		case b := <-client.c:
			if !s.wsWrite(ctx, conn, b) {
				return
			}
		}
	}
}

func (s *Server) wsWrite(ctx context.Context, conn *websocket.Conn, b []byte) bool {
	wctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, b) == nil
}
