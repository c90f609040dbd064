package model

import (
	"errors"
	"fmt"
)

// Sentinel errors; the typed errors below wrap them so that errors.Is works.
var (
	// ErrUnsupported: the model uses an operation, attribute or data type the IR lacks.
	ErrUnsupported = errors.New("unsupported")
	// ErrFormat: a model file is malformed (bad JSON or protobuf, inconsistent manifest).
	ErrFormat = errors.New("malformed model")
	// ErrTruncated: a weight file is shorter than its manifest says.
	ErrTruncated = errors.New("truncated weights")
	// ErrShape: tensor shapes do not fit an operation.
	ErrShape = errors.New("shape mismatch")
	// ErrNotFound: a named input or output is not in the graph.
	ErrNotFound = errors.New("not found")
)

// UnsupportedOpError is returned for an operation the IR cannot express.
type UnsupportedOpError struct {
	Op     string // the source model's op type, e.g. "NonMaxSuppressionV5"
	Node   string // the node's name
	Detail string // what exactly is unsupported when the op itself is known
}

func (e *UnsupportedOpError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("unsupported op %s in node %q: %s", e.Op, e.Node, e.Detail)
	}
	return fmt.Sprintf("unsupported op %s in node %q", e.Op, e.Node)
}

// Unwrap returns ErrUnsupported.
func (e *UnsupportedOpError) Unwrap() error { return ErrUnsupported }

// NodeError locates an error (usually ErrShape or ErrFormat) at a node.
type NodeError struct {
	Op   string
	Node string
	Err  error
}

func (e *NodeError) Error() string { return fmt.Sprintf("node %q (%s): %v", e.Node, e.Op, e.Err) }

// Unwrap returns the underlying error.
func (e *NodeError) Unwrap() error { return e.Err }

// FileError locates an error in a model file: the file name and, where known, the byte
// offset (weights) or the JSON/protobuf path.
type FileError struct {
	File   string
	Offset int64  // -1 when unknown
	Where  string // e.g. `weightsManifest[0].weights[12] "conv/w"`
	Err    error
}

func (e *FileError) Error() string {
	s := e.File
	if e.Offset >= 0 {
		s += fmt.Sprintf(" offset %d", e.Offset)
	}
	if e.Where != "" {
		s += " " + e.Where
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *FileError) Unwrap() error { return e.Err }

func shapeErrf(n *Node, format string, a ...any) error {
	return &NodeError{Op: n.Op.String(), Node: n.Name, Err: fmt.Errorf("%w: "+format, append([]any{ErrShape}, a...)...)}
}
