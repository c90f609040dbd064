package main

import (
	"roadlog/rig"
	"roadlog/sync/reference"
)

// addCameras adds the rig's camera sources.
func (s *setup) addCameras(r *rig.Rig, ref *reference.Clock) error {
	if len(r.Cameras) > 0 {
		return usagef("%s: cameras in rig files need the camera sources, which this build lacks", r.File())
	}
	return nil
}
