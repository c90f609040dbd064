//go:build !(linux && (amd64 || arm64))

package gpu

import (
	"fmt"
	"runtime"
)

// loadLib reports that this platform has no CUDA engine.
func loadLib(path string) (*lib, error) {
	return nil, fmt.Errorf("load %s: no CUDA engine on %s/%s", path, runtime.GOOS, runtime.GOARCH)
}
