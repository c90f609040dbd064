// Package foxglove serves a replay over the Foxglove WebSocket protocol
// (subprotocol foxglove.websocket.v1, github.com/foxglove/ws-protocol docs/spec.md),
// so that analysts watch a drive in Foxglove or Lichtblick: camera frames as
// foxglove.CompressedImage (JPEG) or foxglove.CompressedVideo (H.264/H.265),
// detections as foxglove.ImageAnnotations over each camera, GNSS fixes as
// foxglove.LocationFix, and every table's rows (ego, targets, objects, events, …) as
// JSON. Messages use the JSON encoding with JSON schemas.
//
// The server is a schema.Sink: put it behind a replay.Player. It implements
// replay.Backpressure, so a client that reads slowly slows the replay down rather
// than losing messages; a client that stops reading for WriteTimeout is disconnected.
package foxglove

import (
	"encoding/binary"
)

// Subprotocol is the WebSocket subprotocol the server speaks.
const Subprotocol = "foxglove.websocket.v1"

// Binary opcodes, server to client.
const (
	OpMessageData byte = 0x01
	OpTime        byte = 0x02
)

// Status levels.
const (
	StatusInfo    = 0
	StatusWarning = 1
	StatusError   = 2
)

// ServerInfo is the first message a client gets.
type ServerInfo struct {
	Op                 string            `json:"op"` // "serverInfo"
	Name               string            `json:"name"`
	Capabilities       []string          `json:"capabilities"`
	SupportedEncodings []string          `json:"supportedEncodings,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	SessionID          string            `json:"sessionId,omitempty"`
}

// Channel is one advertised channel.
type Channel struct {
	ID             uint32 `json:"id"`
	Topic          string `json:"topic"`
	Encoding       string `json:"encoding"`
	SchemaName     string `json:"schemaName"`
	Schema         string `json:"schema"`
	SchemaEncoding string `json:"schemaEncoding,omitempty"`
}

// Advertise announces channels.
type Advertise struct {
	Op       string    `json:"op"` // "advertise"
	Channels []Channel `json:"channels"`
}

// Status is a message for the user.
type Status struct {
	Op      string `json:"op"` // "status"
	Level   int    `json:"level"`
	Message string `json:"message"`
}

// Subscription asks for a channel's messages under a client-chosen id.
type Subscription struct {
	ID        uint32 `json:"id"`
	ChannelID uint32 `json:"channelId"`
}

// ClientMessage is any JSON message a client sends; Op says which fields matter.
type ClientMessage struct {
	Op              string         `json:"op"`
	Subscriptions   []Subscription `json:"subscriptions,omitempty"`   // subscribe
	SubscriptionIDs []uint32       `json:"subscriptionIds,omitempty"` // unsubscribe
}

// appendMessageData appends a Message Data frame: opcode, subscription id (uint32
// LE), receive timestamp (uint64 LE, ns), payload.
func appendMessageData(b []byte, sub uint32, t uint64, payload []byte) []byte {
	b = append(b, OpMessageData)
	b = binary.LittleEndian.AppendUint32(b, sub)
	b = binary.LittleEndian.AppendUint64(b, t)
	return append(b, payload...)
}

// appendTime appends a Time frame: opcode, timestamp (uint64 LE, ns).
func appendTime(b []byte, t uint64) []byte {
	b = append(b, OpTime)
	return binary.LittleEndian.AppendUint64(b, t)
}
