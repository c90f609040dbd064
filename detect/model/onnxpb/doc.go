// Package onnxpb holds the Go types of the ONNX protobuf schema (onnx.proto, ONNX 1.12,
// ir_version 8), generated with protoc and protoc-gen-go. onnx.proto is copied unchanged
// from Debian's libonnx-dev (/usr/include/onnx/onnx.proto; SPDX-License-Identifier:
// Apache-2.0). Regenerate with `go generate` after installing protobuf-compiler and
// `go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12`.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=roadlog/detect/model/onnxpb onnx.proto
