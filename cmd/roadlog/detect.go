package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // decoders for the detect command
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"roadlog/detect"
	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/detect/gpu"
)

func newDetectCmd() *cobra.Command {
	var (
		device    string
		asJSON    bool
		classes   string
		minScore  float32
		fit       string
		outDir    string
		threads   int
		gpuLib    string
		precision string
	)
	c := &cobra.Command{
		Use:   "detect IMAGE...",
		Short: "Run the object detector on JPEG/PNG images and print the detections",
		Long: `detect runs the default detector (COCO CenterNet/MobileNetV3, embedded in the binary)
on each image and prints the objects found: class, score and box in image pixels.

--device auto|gpu|cpu picks the engine: gpu is the CUDA engine (libroadlog_gpu.so,
built with make gpu, found beside the executable, in ../lib, by --gpu-lib or
$ROADLOG_GPU_LIB), cpu the pure-Go engine; auto uses the GPU when it can run the model
and otherwise says why on stderr and runs the CPU engine. --precision fp32 runs the GPU
in FP32 instead of FP16. --classes road keeps the road classes (car, truck, bus, motorcycle, bicycle,
person, traffic light, stop sign) with per-class thresholds; all keeps every COCO class
above --min-score. --out DIR writes each image with its boxes drawn as DIR/<name>.det.png.`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			switch device {
			case gpu.DeviceAuto, gpu.DeviceCPU, gpu.DeviceGPU:
			default:
				return usagef("--device %q: want auto, cpu or gpu", device)
			}
			var prec gpu.Precision
			switch precision {
			case "fp16":
			case "fp32":
				prec = gpu.FP32
			default:
				return usagef("--precision %q: want fp16 or fp32", precision)
			}
			cfg := centernet.Config{MinScore: minScore}
			switch fit {
			case "letterbox":
				cfg.Fit = centernet.FitLetterbox
			case "stretch":
				cfg.Fit = centernet.FitStretch
			default:
				return usagef("--fit %q: want letterbox or stretch", fit)
			}
			switch classes {
			case "road":
				cfg.Thresholds = detect.RoadThresholds()
			case "all":
			default:
				return usagef("--classes %q: want road or all", classes)
			}
			d, err := gpu.NewDetector(cfg, gpu.DetectorOptions{Device: device,
				GPU: gpu.Options{Library: gpuLib, Precision: prec}, CPU: cpu.Options{Threads: threads},
				Logf: func(f string, a ...any) { fmt.Fprintf(cmd.ErrOrStderr(), "roadlog "+f+"\n", a...) }})
			if err != nil {
				return err
			}
			defer d.Close()
			if outDir != "" {
				if err := os.MkdirAll(outDir, 0o755); err != nil {
					return err
				}
			}
			var results []detect.ImageResult
			var failed []error
			for _, path := range a {
				r, err := detectFile(cmd, d, path, outDir)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "roadlog detect:", err)
					failed = append(failed, err)
					continue
				}
				if asJSON {
					results = append(results, r)
					continue
				}
				if err := r.WriteText(cmd.OutOrStdout()); err != nil {
					return err
				}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return err
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("%d of %d images failed: %w", len(failed), len(a), errors.Join(failed...))
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&device, "device", "auto", "engine: auto, cpu or gpu")
	f.BoolVar(&asJSON, "json", false, "print the detections as JSON")
	f.StringVar(&classes, "classes", "all", "road (road classes, per-class thresholds) or all (every COCO class)")
	f.Float32Var(&minScore, "min-score", 0.2, "score threshold with --classes all")
	f.StringVar(&fit, "fit", "letterbox", "how images fit the 512x512 input: letterbox (aspect kept; finds more far objects) or stretch (the reference's)")
	f.StringVar(&outDir, "out", "", "write annotated PNGs into this folder")
	f.IntVar(&threads, "threads", 0, "CPU engine threads (0: all cores)")
	f.StringVar(&gpuLib, "gpu-lib", "", "path of "+gpu.LibraryName+" (default: beside the executable, ../lib, $ROADLOG_GPU_LIB, the loader's path)")
	f.StringVar(&precision, "precision", "fp16", "GPU precision: fp16 or fp32")
	return c
}

// detectFile decodes one image, detects, and writes the annotated PNG when asked.
func detectFile(cmd *cobra.Command, d *centernet.Detector, path, outDir string) (detect.ImageResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return detect.ImageResult{}, err
	}
	img, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		return detect.ImageResult{}, fmt.Errorf("decode image %s: %w", path, err)
	}
	start := time.Now()
	dets, err := d.Detect(cmd.Context(), []image.Image{img})
	if err != nil {
		return detect.ImageResult{}, fmt.Errorf("detect %s: %w", path, err)
	}
	r := detect.ImageResult{Image: path, Width: img.Bounds().Dx(), Height: img.Bounds().Dy(), Engine: d.Engine().Name(),
		Millis: float64(time.Since(start).Microseconds()) / 1000, Detections: dets[0]}
	if r.Detections == nil {
		r.Detections = []detect.Detection{}
	}
	if outDir != "" {
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)) + ".det.png"
		out, err := os.Create(filepath.Join(outDir, name))
		if err != nil {
			return r, err
		}
		if err := png.Encode(out, detect.Annotate(img, dets[0], 2)); err != nil {
			out.Close()
			return r, fmt.Errorf("write %s: %w", out.Name(), err)
		}
		if err := out.Close(); err != nil {
			return r, err
		}
	}
	return r, nil
}
