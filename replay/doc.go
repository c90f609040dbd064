// Package replay reads a drive back: every table and camera merged in reference-time
// order, filtered, from any time or frame, paced against the wall clock or as fast as
// possible, into the same schema.Sink the recorder's sources publish to — so the
// detector, the HMI and the Foxglove bridge work offline exactly as they do live.
//
// The merge is a k-way merge over cursors, one per table, each reading its table's
// files segment after segment one record batch at a time: memory stays bounded by a
// few batches per table however long the drive is. Files without a footer (a drive
// still being written, or left by a crash) are read as streams; a damaged batch or a
// missing video file is skipped and reported in the stream itself as an
// schema.EvReplayDamage event, and playback goes on.
//
// Next hands out every row as a Go value (the same samples the recorder takes);
// NextRow walks the same stream without building any: each Row refers into its
// decoded batch, and the consumer reads what it needs (ReadRow into a reused value,
// FrameData for a frame's bytes, Sample, Batch). Batches are decoded once into
// reused arenas, arrow arrays built only when asked for.
//
// Subpackages: rerun (re-run perception over a drive into runs/<run-id>/), diff
// (compare two runs), foxglove (serve a replay over the Foxglove WebSocket protocol).
package replay
