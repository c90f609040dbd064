// Package models embeds the default detection model so that roadlog runs on a machine
// without the shared corpus: the COCO CenterNet/MobileNetV3 TF.js graph model with FP16
// weights (centernet/, MIT licence, provenance in centernet/SOURCE.md).
package models

import (
	"embed"
	"io/fs"
)

//go:embed centernet/centernet.json centernet/centernet.bin centernet/LICENSE centernet/SOURCE.md
var files embed.FS

// CenterNetModelJSON is the name of the default model's model.json inside CenterNet().
const CenterNetModelJSON = "centernet.json"

// CenterNet returns the default model's folder: centernet.json, its weight shard
// centernet.bin, LICENSE and SOURCE.md.
func CenterNet() fs.FS {
	sub, err := fs.Sub(files, "centernet")
	if err != nil { // fs.Sub fails only for an invalid path, which "centernet" is not
		panic(err)
	}
	return sub
}
