//go:build !linux

package can

import (
	"context"
	"errors"

	"roadlog/schema"
)

// SocketCAN reads a Linux CAN interface; other systems have none.
type SocketCAN struct{ *bus }

// Run fails: SocketCAN exists on Linux only.
func (s *SocketCAN) Run(ctx context.Context, sink schema.Sink) error {
	return errors.New("socketcan: only on Linux")
}
