//go:build linux && (amd64 || arm64)

package gpu

import (
	"fmt"

	"github.com/ebitengine/purego"
)

// loadLib dlopens path and binds every function of the C ABI.
func loadLib(path string) (*lib, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	l := &lib{path: path}
	syms := []struct {
		name string
		fn   any
	}{
		{"rl_abi_version", &l.abiVersion}, {"rl_layout", &l.layout}, {"rl_probe", &l.probe},
		{"rl_create", &l.create}, {"rl_add_op", &l.addOp}, {"rl_add_output", &l.addOutput},
		{"rl_finalize", &l.finalize}, {"rl_host_input", &l.hostInput}, {"rl_host_output", &l.hostOutput},
		{"rl_staging", &l.staging}, {"rl_preprocess", &l.preprocess}, {"rl_run", &l.run}, {"rl_wait", &l.wait},
		{"rl_fetch", &l.fetch}, {"rl_peaks", &l.peaks}, {"rl_host_peaks", &l.hostPeaks},
		{"rl_peaks_offset", &l.peaksOffset}, {"rl_read", &l.read}, {"rl_luma", &l.luma}, {"rl_luma_rects", &l.lumaRects}, {"rl_profile", &l.profile}, {"rl_info", &l.info}, {"rl_destroy", &l.destroy},
	}
	for _, s := range syms {
		p, err := purego.Dlsym(h, s.name)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w: symbol %s: %w", path, ErrABI, s.name, err)
		}
		purego.RegisterFunc(s.fn, p)
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	return l, nil
}
